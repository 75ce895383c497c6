#!/usr/bin/env bash
# reproduce.sh (`make reproduce`): build cmd/enclave twice from a commit and
# show that both builds give the same bytes (SHA-256), or fail.
#
#   deploy/reproduce.sh [commit]     (default HEAD)
#
# Each build runs in its own folder, a fresh `git archive` extract of the
# commit (so untracked and uncommitted files cannot get in), at a different
# time (the second tree's files get new mtimes, after a pause), with the
# flags of deploy/Dockerfile: CGO_ENABLED=0 GOOS=linux GOARCH=amd64
# GOTOOLCHAIN=local GOFLAGS=-mod=readonly, go build -trimpath -buildvcs=false
# -ldflags="-s -w -buildid=". The first build uses your Go build cache; the
# second an empty one of its own, so it compiles every package again and a
# cache hit cannot make the two equal. Modules come from the module cache
# only (GOPROXY=off; run `go mod download` once first).
#
# The hash is that of a binary built with *this* Go toolchain; the enclave
# image's binary matches it when the Docker builder has the same Go version.
#
# Environment: REPRODUCE_GOCACHE_B sets the second build's GOCACHE (default:
# a fresh empty folder); REPRODUCE_TAMPER_B=1 adds one untracked file to the
# second tree (a self-test: the hashes must then differ).
set -euo pipefail

die() { echo "reproduce: $*" >&2; exit 1; }

command -v git >/dev/null || die "git is not installed"
command -v go >/dev/null || die "go is not installed"
root=$(git rev-parse --show-toplevel 2>/dev/null) || die "not inside a git checkout: the builds are extracts of a commit (git archive)"
cd "$root"
commit=$(git rev-parse --verify --quiet "${1:-HEAD}^{commit}") || die "no commit ${1:-HEAD}"
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
  echo "reproduce: note: uncommitted changes are not built; this builds commit $commit" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/autowallet-reproduce.XXXXXX")
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# build NAME GOCACHE: extract the commit into $work/NAME and build there;
# prints the binary's SHA-256.
build() {
  local dir=$work/$1 start
  mkdir -p "$dir/src" "$2"
  git archive --format=tar "$commit" | tar -x -C "$dir/src"
  if [ "$1" = b ]; then
    find "$dir/src" -exec touch {} +   # another time on every file
    if [ "${REPRODUCE_TAMPER_B:-}" = 1 ]; then
      printf 'package main\n\nfunc init() { println("tampered") }\n' >"$dir/src/cmd/enclave/zz_tamper.go"
    fi
  fi
  start=$(date +%s)
  (cd "$dir/src" && env CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
      GOPROXY=off GOWORK=off GOCACHE="$2" \
      go build -trimpath -buildvcs=false -ldflags="-s -w -buildid=" -o "$dir/enclave" ./cmd/enclave)
  echo "reproduce: build $1 took $(( $(date +%s) - start ))s (GOCACHE $2)" >&2
  sha256sum "$dir/enclave" | cut -d' ' -f1
}

echo "reproduce: commit $commit, $(go version)" >&2
a=$(build a "$(go env GOCACHE)")
sleep 2
b=$(build b "${REPRODUCE_GOCACHE_B:-$work/gocache-b}")
echo "build a  sha256 $a"
echo "build b  sha256 $b"
if [ "$a" != "$b" ]; then
  echo "reproduce: FAILED: the two builds of cmd/enclave differ" >&2
  exit 1
fi
echo "reproduce: OK: cmd/enclave at $commit builds to sha256 $a"
