#!/usr/bin/env bash
# build-eif.sh: build the enclave image and its EIF, print PCR0/1/2.
#
# Run from anywhere inside the repository, on the EC2 parent or on any
# x86-64 Linux machine with Docker (BuildKit/buildx) and nitro-cli
# (aws-nitro-enclaves-cli; `nitro-cli build-enclave` needs no enclave-capable
# hardware). An auditor runs exactly this on the published commit with the
# published enclave config and compares PCR0 (docs/deploy.md).
#
#   deploy/build-eif.sh [-c deploy/enclave-config.json] [-o autowallet-enclave.eif] [-t autowallet-enclave:<commit>]
#
# Environment: SOURCE_DATE_EPOCH (default: the commit time of HEAD);
# ALLOW_DIRTY=1 builds a tree with uncommitted changes (its PCR0 then matches
# no published commit); ALLOW_DEV_CONFIG=1 bakes a mode "dev" config.
set -euo pipefail

die() { echo "build-eif: $*" >&2; exit 1; }

root=$(git rev-parse --show-toplevel 2>/dev/null) || die "run inside the autowallet git repository"
cd "$root"
commit=$(git rev-parse HEAD)
config=deploy/enclave-config.json
out=autowallet-enclave.eif
tag="autowallet-enclave:${commit:0:12}"
while getopts "c:o:t:h" opt; do
  case $opt in
    c) config=$OPTARG ;;
    o) out=$OPTARG ;;
    t) tag=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done

for tool in docker nitro-cli; do
  command -v "$tool" >/dev/null || die "$tool is not installed (see docs/deploy.md, 'Tools')"
done
grep -q '@sha256:PIN_ME' deploy/Dockerfile &&
  die "deploy/Dockerfile still has the builder digest placeholder sha256:PIN_ME; pin it first: docker buildx imagetools inspect golang:1.26-bookworm, and put the Digest into the FROM line"
[ -f "$config" ] || die "no enclave config at $config"
case "$(realpath --relative-to=. "$config")" in
  ../*|/*) die "the enclave config must be inside the repository (it is part of the Docker build context): $config" ;;
esac
if grep -Eq '"mode"[[:space:]]*:[[:space:]]*"dev"' "$config" && [ "${ALLOW_DEV_CONFIG:-}" != 1 ]; then
  die "$config is a dev config (it may trust a bot-token HMAC); production images bake a mode \"production\" config (ALLOW_DEV_CONFIG=1 to build anyway)"
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ] && [ "${ALLOW_DIRTY:-}" != 1 ]; then
  die "the work tree has uncommitted changes, so PCR0 would match no commit (ALLOW_DIRTY=1 to build anyway)"
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}

echo "build-eif: commit $commit, config $config, SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH" >&2
docker buildx build \
  --platform linux/amd64 \
  --file deploy/Dockerfile \
  --build-arg SOURCE_DATE_EPOCH \
  --build-arg ENCLAVE_CONFIG="$(realpath --relative-to=. "$config")" \
  --provenance=false --sbom=false \
  --output "type=docker,name=$tag,rewrite-timestamp=true" \
  .

nitro-cli build-enclave --docker-uri "$tag" --output-file "$out" >/dev/null
desc=$(nitro-cli describe-eif --eif-path "$out")
echo "$desc" > "$out.json"
echo "build-eif: wrote $out and $out.json" >&2
if command -v jq >/dev/null; then
  echo "$desc" | jq -r '.Measurements | "PCR0 \(.PCR0)\nPCR1 \(.PCR1)\nPCR2 \(.PCR2)"'
else
  echo "$desc" | grep -E '"PCR[012]"'
fi
echo "config sha256 $(sha256sum "$config" | cut -d' ' -f1)"
