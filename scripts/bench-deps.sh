#!/usr/bin/env bash
# scripts/bench-deps.sh — install what bench/startup.sh compares warden against.
#
#   * Debian packages: hyperfine (timing), time (/usr/bin/time for peak RSS),
#     bubblewrap (the bare-bwrap row, and srt's own sandbox backend),
#     socat + ripgrep (srt refuses to start on Linux without both: socat
#     bridges its proxy sockets into the sandbox, rg finds files it must
#     write-protect), nodejs + npm (srt is a Node CLI; it needs node >= 20.11).
#     Missing ones are installed with apt-get when we are root; otherwise we say
#     which are missing and what to run.
#   * Anthropic's sandbox runtime (`srt`, npm package
#     @anthropic-ai/sandbox-runtime) into build/bench-node/ with
#     `npm install --prefix` — never globally, so the benchmark cannot disturb
#     (or be disturbed by) whatever else is on the machine.
#
# This is the only bench step that touches the network; bench/startup.sh itself
# runs offline and reports srt as "not installed" if this has not been run.
#
# Package-manager output is captured rather than streamed, and anything that
# looks like a URL or host name is scrubbed before it is shown, so no registry
# or mirror address ends up in logs. For the same reason npm is told not to
# write lock files or debug logs (both can record where packages came from).
#
# Environment:
#   SRT_VERSION   npm version/tag of @anthropic-ai/sandbox-runtime to install
#                 (default: the version the benchmark was validated with).
#   BENCH_NODE    install prefix (default: build/bench-node).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly SRT_PKG="@anthropic-ai/sandbox-runtime"
readonly SRT_VERSION="${SRT_VERSION:-0.0.78}"
readonly BENCH_NODE="${BENCH_NODE:-$ROOT/build/bench-node}"
# srt's package.json declares engines.node >= 20.11.0.
readonly NODE_MIN_MAJOR=20 NODE_MIN_MINOR=11

log()  { printf 'bench-deps: %s\n' "$*" >&2; }
die()  { log "error: $*"; exit 1; }

# Replace URLs and host-name-looking tokens with placeholders, so captured
# apt/npm output can be shown without revealing registry or mirror addresses.
scrub() {
    sed -E \
        -e 's#[A-Za-z][A-Za-z0-9+.-]*://[^[:space:]"'"'"']+#<url>#g' \
        -e 's#([A-Za-z0-9-]+\.)+(org|com|net|io|dev|cloud|co|edu|gov|local|internal|lan|[a-z]{2})([^A-Za-z0-9.-]|$)#<host>\3#g'
}

# Run a command with its output captured; on failure show the scrubbed tail.
quietly() {
    local out rc=0
    out="$(mktemp)"
    "$@" >"$out" 2>&1 || rc=$?
    if (( rc != 0 )); then
        log "command failed (exit $rc): $1 …; last lines of its output:"
        tail -n 20 "$out" | scrub >&2
    fi
    rm -f "$out"
    return "$rc"
}

# Map each needed command to the Debian package that provides it.
declare -A PKG_FOR=(
    [hyperfine]=hyperfine
    [/usr/bin/time]=time
    [bwrap]=bubblewrap
    [socat]=socat
    [rg]=ripgrep
    [node]=nodejs
    [npm]=npm
)

missing_packages() {
    local cmd
    for cmd in "${!PKG_FOR[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || printf '%s\n' "${PKG_FOR[$cmd]}"
    done | sort -u
}

install_debian_packages() {
    local -a pkgs
    mapfile -t pkgs < <(missing_packages)
    if (( ${#pkgs[@]} == 0 )); then
        log "Debian packages: all present"
        return 0
    fi
    if (( EUID != 0 )); then
        log "missing Debian packages: ${pkgs[*]}"
        log "not root, so not installing them; run: sudo apt-get install -y ${pkgs[*]}"
        return 1
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${pkgs[*]}"
    log "installing Debian packages: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Try without refreshing the lists first (fast, and works on images that
    # ship fresh lists); refresh once only if that fails.
    if ! apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1; then
        quietly apt-get update -qq
        quietly apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
    fi
}

check_node_version() {
    command -v node >/dev/null 2>&1 || return 1
    local v major minor
    v="$(node -p 'process.versions.node')"
    IFS=. read -r major minor _ <<<"$v"
    if (( major < NODE_MIN_MAJOR || (major == NODE_MIN_MAJOR && minor < NODE_MIN_MINOR) )); then
        log "node $v is older than srt needs (>= $NODE_MIN_MAJOR.$NODE_MIN_MINOR); srt will be skipped by the benchmark"
        return 1
    fi
}

install_srt() {
    command -v npm >/dev/null 2>&1 || { log "npm missing; cannot install srt"; return 1; }
    check_node_version || return 1
    local bin="$BENCH_NODE/node_modules/.bin/srt"
    if [[ -x "$bin" ]] && [[ "$("$bin" --version 2>/dev/null)" == "$SRT_VERSION" ]]; then
        log "srt $SRT_VERSION already installed in ${BENCH_NODE#"$ROOT"/}"
        return 0
    fi
    mkdir -p "$BENCH_NODE"
    log "installing $SRT_PKG@$SRT_VERSION into ${BENCH_NODE#"$ROOT"/}"
    # --no-package-lock / --omit-lockfile-registry-resolved: lock files record
    #   the download URL of every package; we want no registry address on disk.
    # --logs-max=0: npm's debug log also records URLs.
    # --cache: a throwaway cache, removed afterwards — npm's cache index is
    #   keyed by URL, and five small packages are not worth caching.
    # --ignore-scripts: nothing in srt's tree needs an install script.
    local cache rc=0
    cache="$(mktemp -d)"
    quietly npm install --prefix "$BENCH_NODE" --cache "$cache" \
        --no-package-lock --omit-lockfile-registry-resolved --logs-max=0 \
        --save-exact --no-audit --no-fund --ignore-scripts --loglevel=error \
        "$SRT_PKG@$SRT_VERSION" || rc=$?
    rm -rf "$cache"
    (( rc == 0 )) || return 1
    # npm still writes its "hidden" lock file; drop it for the same reason.
    rm -f "$BENCH_NODE/package-lock.json" "$BENCH_NODE/node_modules/.package-lock.json"
    [[ -x "$bin" ]] || die "npm finished but $bin is missing"
    log "srt $("$bin" --version) installed: ${bin#"$ROOT"/}"
}

main() {
    local rc=0
    install_debian_packages || rc=1
    install_srt || rc=1
    if (( EUID == 0 )); then
        # srt (and bwrap's uid-0 user namespace) need CAP_SETFCAP in the
        # bounding set when run as root; warn early rather than mid-benchmark.
        local bnd
        bnd="$(awk '/^CapBnd:/{print $2}' /proc/self/status)"
        if (( (0x$bnd >> 31 & 1) == 0 )); then
            log "warning: running as root without CAP_SETFCAP in the bounding set; srt will refuse to run"
        fi
    fi
    return "$rc"
}

main "$@"
