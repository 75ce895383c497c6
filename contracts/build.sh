#!/usr/bin/env bash
# build.sh compiles the test contracts from the audited sources and generates
# their Go bindings (docs/contracts.md).
#
#   contracts/build.sh          rebuild contracts/build/* and contracts/*.go in place
#   contracts/build.sh OUTDIR   write the same files under OUTDIR (the rerun test)
#   contracts/build.sh tools    only install the pinned tools
#
# Tools, pinned, under $AUTOWALLET_TOOLS (default .tools/):
#   npm/  @openzeppelin/contracts and solc (solc-js), by `npm ci` from
#         contracts/package-lock.json (integrity hashes checked by npm);
#   bin/abigen, the go-ethereum version go.mod requires.
# After the first install everything works offline.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${AUTOWALLET_TOOLS:-$ROOT/.tools}
NPM_DIR=$TOOLS/npm
SRC=$ROOT/contracts

need() {
	command -v "$1" >/dev/null || {
		echo "contracts/build.sh: $1 not found: run \`make tools\` (it installs nodejs and npm)" >&2
		exit 1
	}
}

install_npm() {
	need node
	need npm
	mkdir -p "$NPM_DIR"
	# One installer at a time: several test binaries may start together.
	exec 9>"$TOOLS/npm.lock"
	flock 9
	if [ -f "$NPM_DIR/node_modules/.package-lock.json" ] &&
		cmp -s "$SRC/package-lock.json" "$NPM_DIR/package-lock.json" &&
		cmp -s "$SRC/package.json" "$NPM_DIR/package.json"; then
		exec 9>&-
		return
	fi
	cp "$SRC/package.json" "$SRC/package-lock.json" "$NPM_DIR/"
	# --ignore-scripts: no package runs code at install time.
	(cd "$NPM_DIR" && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
	exec 9>&-
}

install_abigen() {
	need go
	local version
	version=$(cd "$ROOT" && go list -m -f '{{.Version}}' github.com/ethereum/go-ethereum)
	if [ -x "$TOOLS/bin/abigen" ] && "$TOOLS/bin/abigen" --version 2>/dev/null | grep -qF " ${version#v}"; then
		return
	fi
	GOBIN=$TOOLS/bin go install "github.com/ethereum/go-ethereum/cmd/abigen@$version" >&2
}

install_npm
install_abigen
if [ "${1:-}" = tools ]; then
	exit 0
fi

OUT=${1:-$SRC}
mkdir -p "$OUT/build"
rm -f "$OUT"/build/*.abi "$OUT"/build/*.bin "$OUT"/build/*.bin-runtime
node "$SRC/compile.js" "$NPM_DIR/node_modules" "$SRC/src" "$OUT/build" >&2
for abi in "$OUT"/build/*.abi; do
	name=$(basename "$abi" .abi)
	lower=$(echo "$name" | tr '[:upper:]' '[:lower:]')
	"$TOOLS/bin/abigen" --abi "$abi" --bin "$OUT/build/$name.bin" --pkg contracts --type "$name" --out "$OUT/$lower.go"
done
