#!/usr/bin/env bash
# build-eif.sh: build the enclave image and its EIF, print PCR0/1/2.
#
# Run from anywhere inside the repository, on the EC2 parent or on any
# x86-64 Linux machine with Docker (BuildKit/buildx) and nitro-cli
# (aws-nitro-enclaves-cli; `nitro-cli build-enclave` needs no enclave-capable
# hardware). An auditor runs exactly this on the published commit with the
# published enclave config and compares PCR0 (docs/deploy.md).
#
#   deploy/build-eif.sh [-r commit] [-c deploy/enclave-config.json] [-o autowallet-enclave.eif] [-t tag]
#
# The Docker build context is a `git archive` extract of the commit (default
# HEAD), plus the chosen config: untracked or uncommitted files never get in.
# The config is checked with the enclave's own parser (enclave -check-config)
# here when Go is installed, and always in the image build by the very binary
# that is baked. Environment: SOURCE_DATE_EPOCH (default: the commit's time);
# ALLOW_DEV_CONFIG=1 bakes a mode "dev" config.
set -euo pipefail

die() { echo "build-eif: $*" >&2; exit 1; }

root=$(git rev-parse --show-toplevel 2>/dev/null) || die "run inside the autowallet git repository"
cd "$root"
rev=HEAD
config=deploy/enclave-config.json
out=autowallet-enclave.eif
tag=
while getopts "r:c:o:t:h" opt; do
  case $opt in
    r) rev=$OPTARG ;;
    c) config=$OPTARG ;;
    o) out=$OPTARG ;;
    t) tag=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
commit=$(git rev-parse --verify --quiet "$rev^{commit}") || die "no commit $rev"
tag=${tag:-autowallet-enclave:${commit:0:12}}

for tool in docker nitro-cli; do
  command -v "$tool" >/dev/null || die "$tool is not installed (see docs/deploy.md, 'Tools')"
done
git show "$commit:deploy/Dockerfile" | grep -q '@sha256:PIN_ME' &&
  die "deploy/Dockerfile at $commit still has the builder digest placeholder sha256:PIN_ME; pin it first: docker buildx imagetools inspect golang:1.26-bookworm, put the Digest into the FROM line, and commit"
[ -f "$config" ] || die "no enclave config at $config"
[ -z "$(git status --porcelain)" ] ||
  echo "build-eif: note: the work tree has changes or untracked files; they are NOT built (only commit $commit is)" >&2

# The build context: the commit's files, and the config under a fixed name.
ctx=$(mktemp -d "${TMPDIR:-/tmp}/autowallet-eif.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
git archive --format=tar "$commit" | tar -x -C "$ctx"
cp "$config" "$ctx/enclave-config.baked.json"

# The enclave's own parser decides what a valid (production) config is; a
# grep for "mode" would miss another spelling or a production config that
# carries hmac_bot_token.
require=-require-production
[ "${ALLOW_DEV_CONFIG:-}" = 1 ] && require=
if command -v go >/dev/null; then
  (cd "$ctx" && GOFLAGS=-mod=readonly go run ./cmd/enclave -check-config enclave-config.baked.json $require) ||
    die "$config is refused by the enclave's parser (ALLOW_DEV_CONFIG=1 to bake a dev config)"
else
  echo "build-eif: Go is not installed here; the image build checks the config with the baked binary" >&2
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct "$commit")}
export ALLOW_DEV_CONFIG=${ALLOW_DEV_CONFIG:-0}

echo "build-eif: commit $commit, config $config, SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH" >&2
docker buildx build \
  --platform linux/amd64 \
  --file "$ctx/deploy/Dockerfile" \
  --build-arg SOURCE_DATE_EPOCH \
  --build-arg ALLOW_DEV_CONFIG \
  --build-arg ENCLAVE_CONFIG=enclave-config.baked.json \
  --provenance=false --sbom=false \
  --output "type=docker,name=$tag,rewrite-timestamp=true" \
  "$ctx"

nitro-cli build-enclave --docker-uri "$tag" --output-file "$out" >/dev/null
desc=$(nitro-cli describe-eif --eif-path "$out")
echo "$desc" > "$out.json"
echo "build-eif: wrote $out and $out.json" >&2
if command -v jq >/dev/null; then
  echo "$desc" | jq -r '.Measurements | "PCR0 \(.PCR0)\nPCR1 \(.PCR1)\nPCR2 \(.PCR2)"'
else
  echo "$desc" | grep -E '"PCR[012]"'
fi
echo "commit $commit"
echo "config sha256 $(sha256sum "$config" | cut -d' ' -f1)"
