#!/usr/bin/env bash
# scripts/test-sdk.sh [DIR] — install the official model-provider SDKs
# (tests/sdk/package.json: @anthropic-ai/sdk and openai, versions pinned by
# tests/sdk/package-lock.json) into DIR/node_modules, default
# build-test/sdk, for the privacy router's end-to-end test
# (tests/integration/inference.t), which runs them inside sandboxes.
#
# Idempotent: DIR/.installed records the SHA-256 of the package.json and
# lock file the tree was installed from; when it matches, nothing runs (so
# a user who cannot write DIR, such as the unprivileged test user after a
# root run installed it, still gets "up to date").  Otherwise `npm ci`
# installs exactly what the lock file says.
#
# The lock file carries no download addresses (it was generated with
# --omit-lockfile-registry-resolved); npm takes packages from its
# configured registry.  For the same reason as scripts/bench-deps.sh, npm
# gets a throwaway cache and no debug log, its own "hidden" lock file is
# removed, and its output is shown only on failure, with addresses scrubbed.
#
# The tree is made world-readable: the test also runs as an unprivileged
# user, and the sandbox's agent reads it.
#
# Exit status: 0 installed or up to date; 1 cannot install (no node/npm,
# node too old, registry unreachable, DIR not writable), with the reason on
# stderr; 2 usage.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly SRC="$ROOT/tests/sdk"
readonly NODE_MIN_MAJOR=20

log() { printf 'test-sdk: %s\n' "$*" >&2; }

# Replace URLs and host-name-looking tokens, so npm's output can be shown
# without revealing registry or mirror addresses.
scrub() {
	sed -E \
		-e 's#[A-Za-z][A-Za-z0-9+.-]*://[^[:space:]"'"'"']+#<url>#g' \
		-e 's#([A-Za-z0-9-]+\.)+(org|com|net|io|dev|cloud|co|edu|gov|local|internal|lan|[a-z]{2})([^A-Za-z0-9.-]|$)#<host>\3#g'
}

case $# in
0) DIR="$ROOT/build-test/sdk" ;;
1) [[ $1 == -h || $1 == --help ]] && { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
   DIR=$1 ;;
*) echo "usage: $0 [DIR]" >&2; exit 2 ;;
esac

stamp_of() {
	cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1
}

want=$(stamp_of)
if [[ -f $DIR/.installed && $(cat "$DIR/.installed") == "$want" &&
	-f $DIR/node_modules/openai/package.json && -f $DIR/node_modules/@anthropic-ai/sdk/package.json ]]; then
	exit 0
fi

command -v node >/dev/null 2>&1 || { log "node is not installed (scripts/deps.sh test)"; exit 1; }
command -v npm >/dev/null 2>&1 || { log "npm is not installed (apt-get install npm)"; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
if ((major < NODE_MIN_MAJOR)); then
	log "node $(node --version) is older than the SDKs need (>= $NODE_MIN_MAJOR)"
	exit 1
fi

mkdir -p "$DIR" 2>/dev/null || true
if [[ ! -w $DIR ]]; then
	log "cannot write $DIR (install it once as its owner: $0 $DIR)"
	exit 1
fi
cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
rm -f "$DIR/.installed"

cache=$(mktemp -d)
outf=$(mktemp)
trap 'rm -rf "$cache" "$outf"' EXIT
rc=0
# --ignore-scripts: no package in the tree needs an install script.
# --fetch-retries/--fetch-timeout: an unreachable registry fails in about a
# minute rather than npm's default of several.
(cd "$DIR" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts --cache "$cache" \
	--logs-max=0 --loglevel=error --fetch-retries=1 --fetch-timeout=30000 \
	--fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000) >"$outf" 2>&1 || rc=$?
if ((rc != 0)); then
	log "npm ci failed (exit $rc); last lines of its output:"
	grep -v 'Unknown user config' "$outf" | tail -n 20 | scrub >&2
	exit 1
fi
rm -f "$DIR/node_modules/.package-lock.json"
for p in openai @anthropic-ai/sdk; do
	[[ -f $DIR/node_modules/$p/package.json ]] || { log "npm finished but $p is missing"; exit 1; }
done
chmod -R a+rX "$DIR"
printf '%s\n' "$want" >"$DIR/.installed"
chmod 644 "$DIR/.installed"
log "installed $(cd "$DIR" && node -p '["openai", "@anthropic-ai/sdk"].map(p => p + " " + require("./node_modules/" + p + "/package.json").version).join(", ")') into ${DIR#"$ROOT"/}"
