#!/usr/bin/env bash
# bench/startup.sh — start-up + teardown benchmark for warden (`make bench`).
#
# Measures the wall-clock time of running /bin/true under
#   1. warden     `build/warden run -- /bin/true` (embedded default policy)
#   2. bwrap      bare bubblewrap with warden's namespaces, identity and
#                 mount set (see build_commands) — the floor any bwrap-style
#                 sandbox can reach
#   3. srt        Anthropic's sandbox runtime (`srt`, npm package
#                 @anthropic-ai/sandbox-runtime) with a no-network settings file
#   4. /bin/true  no sandbox at all, to show the fork+exec floor
# and writes the "## Start-up" section of docs/benchmarks.md. The target is
# warden's median <= 1.3 x bare bwrap's median (PASS/MISS). warden and bwrap
# are timed in alternating rounds (bwrap first in odd rounds, warden first in
# even ones), so a change in machine load during the run weighs on both; the
# verdict uses all samples, and the per-round ratios show the spread.
#
# Runs offline: it only uses what is already installed. scripts/bench-deps.sh
# installs the prerequisites (hyperfine, time, bubblewrap, socat, ripgrep,
# and srt into build/bench-node/); anything missing is reported, not fetched.
#
# Works as root (what CI does: everything then runs as root) and as an
# unprivileged user (bwrap, warden and srt then rely on unprivileged user
# namespaces). Nothing here switches user.
#
# Environment knobs:
#   WARDEN=path        binary under test (default build/warden; relative
#                      paths are taken from the repository root)
#   SRT=path           srt CLI (default build/bench-node/node_modules/.bin/srt)
#   BENCH_RUNS=N       minimum timed runs per tool (default 30; fast tools get
#                      as many as fit in 3 s, hyperfine's --min-runs semantics)
#   BENCH_WARMUP=N     warm-up runs per tool (default 3)
#   BENCH_RSS_RUNS=N   runs under /usr/bin/time for peak RSS (default 5)
#   BENCH_ROUNDS=N     alternating warden/bwrap rounds (default 3)
#   BENCH_STRICT=1     exit 1 on MISS (default: MISS is reported, exit 0)
#   BENCH_NO_HYPERFINE=1  force the shell fallback timer (for testing it)
#
# Takes ~45 s on a 2-CPU VM (each fast tool is timed for 3 s per round;
# srt ~15 s).
#
# Exit status: 0 with a verdict (PASS, or MISS unless BENCH_STRICT=1);
# 1 if warden is missing/broken or no verdict could be reached.
set -euo pipefail

# Numbers are formatted and parsed by awk/printf; keep the decimal point a dot.
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BENCH_DIR="$ROOT/build/bench"
# A scratch directory that warden/srt treat as the project workdir and that
# bwrap binds read-write. Recreated each run: srt creates (and normally
# removes) mount-point files in it, and a stale one must not skew a later run.
readonly WORKDIR="$BENCH_DIR/work"
readonly DOC="$ROOT/docs/benchmarks.md"
readonly SECTION="Start-up"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
readonly SRT_SETTINGS="$BENCH_DIR/srt-settings.json"

WARDEN="${WARDEN:-build/warden}"
SRT="${SRT:-build/bench-node/node_modules/.bin/srt}"
readonly RUNS="${BENCH_RUNS:-30}"
# Millisecond-scale tools are noisy; rather than a fixed 30 runs, each is
# timed for at least MIN_SECONDS (hyperfine --min-runs keeps going for its
# built-in 3 s; the fallback loop mimics that), so the warden/bwrap ratio
# rests on hundreds of samples. srt (~0.4 s per run) stays near RUNS.
readonly MIN_SECONDS=3
readonly MAX_RUNS=2000
readonly WARMUP="${BENCH_WARMUP:-3}"
readonly RSS_RUNS="${BENCH_RSS_RUNS:-5}"
readonly ROUNDS="${BENCH_ROUNDS:-3}"
readonly TARGET="1.3"
# A probe or benchmark that takes longer than this is hung, not slow.
readonly PROBE_TIMEOUT=60 BENCH_TIMEOUT=120

# Display order of the result rows. Each tool has a command array CMD_<tool>.
readonly TOOLS=(warden bwrap srt true)
SCRATCH_TMP=""
LOAD_BEFORE="" LOAD_AFTER=""
declare -A LABEL=([warden]="warden" [bwrap]="bwrap" [srt]="srt" [true]="/bin/true (no sandbox)")
declare -A MEDIAN=() P90=() RSS=() NOTE=() NRUNS=() ROUND_MEDIANS=()
declare -a CMD_warden=() CMD_bwrap=() CMD_srt=() CMD_true=()

# ---------------------------------------------------------------------------
# Command lines
# ---------------------------------------------------------------------------

# What warden's agent gets by default, so that bwrap can be given the same:
# sets AGENT_UID, AGENT_GID, AGENT_HOME (root: $SUDO_UID or nobody, and a
# HOME that is not the host's; rootless: the caller) and RO_DIRS (the
# default policy's read_only list). Falls back to the caller's identity and
# a fixed list if warden cannot tell (the warden probe then reports why).
agent_profile() {
    local out
    AGENT_UID="$(id -u)" AGENT_GID="$(id -g)" AGENT_HOME="${HOME:-/home/sandbox}"
    # shellcheck disable=SC2016  # expanded by the shell inside the sandbox
    if out="$(cd "$WORKDIR" && timeout "$PROBE_TIMEOUT" "$WARDEN" run -- \
            /bin/sh -c 'echo "$(id -u) $(id -g) $HOME"' </dev/null 2>/dev/null)"; then
        read -r AGENT_UID AGENT_GID AGENT_HOME <<<"$out"
    fi
    mapfile -t RO_DIRS < <("$WARDEN" policy default 2>/dev/null |
        awk '/^  read_only:/ {on = 1; next} on && /^    - \// {print $2; next} on {exit}')
    ((${#RO_DIRS[@]})) || RO_DIRS=(/usr /bin /sbin /lib /lib64 /etc)
}

# The CMD_<tool> arrays are read through namerefs, which shellcheck cannot see.
# shellcheck disable=SC2034
build_commands() {
    CMD_true=(/bin/true)

    # warden with its embedded default policy (user+mount+pid+net+ipc+uts+
    # cgroup namespaces, read-only system dirs, workdir rw, private /tmp and
    # HOME, deny masks, Landlock, seccomp, egress proxy, audit trail, exec
    # monitor). No policy file: the default is what agents get.
    CMD_warden=("$WARDEN" run -- /bin/true)

    # Bare bwrap with the isolation warden's default gives that bwrap has a
    # flag for: the same seven namespaces (what --unshare-all asks for, but
    # without its silent "-try" fallbacks), hostname, the agent's uid/gid and
    # no capabilities (as root, bwrap would otherwise run the command as uid 0
    # with every capability), a new session, death with the parent, and the
    # same mounts: the default policy's read-only dirs (top-level symlinks
    # such as Debian's /bin -> usr/bin recreated as symlinks, as warden
    # does), /proc, /dev, private /tmp and HOME, the workdir read-write.
    # Nothing else: no deny masks, Landlock, seccomp, rlimits or proxy; those
    # are the layers the 1.3x budget pays for.
    local bwrap d
    bwrap="$(command -v bwrap || true)"
    agent_profile
    CMD_bwrap=("${bwrap:-bwrap}"
        --unshare-user --unshare-pid --unshare-net --unshare-ipc
        --unshare-uts --unshare-cgroup --hostname true-bench
        --uid "$AGENT_UID" --gid "$AGENT_GID" --cap-drop ALL
        --new-session --die-with-parent)
    for d in "${RO_DIRS[@]}"; do
        if [[ -L "$d" ]]; then
            CMD_bwrap+=(--symlink "$(readlink "$d")" "$d")
        elif [[ -d "$d" ]]; then
            CMD_bwrap+=(--ro-bind "$d" "$d")
        fi
    done
    CMD_bwrap+=(--proc /proc --dev /dev --tmpfs /tmp --tmpfs "$AGENT_HOME"
        --bind "$WORKDIR" "$WORKDIR" --chdir "$WORKDIR" /bin/true)

    # srt with an explicit settings file (never ~/.srt-settings.json, which
    # would make results depend on the user running the benchmark).
    CMD_srt=("$SRT" --settings "$SRT_SETTINGS" -- /bin/true)
}

# srt settings as close as srt gets to warden's default job: no network
# (an empty allowedDomains list is srt's "deny all"; leaving it out would
# disable srt's network isolation altogether), workdir writable, nothing
# else writable, reads unrestricted (srt has no read-only-system-dirs mode
# distinct from that: it ro-binds / and re-binds the writable paths).
write_srt_settings() {
    cat >"$SRT_SETTINGS" <<EOF
{
  "network": { "allowedDomains": [], "deniedDomains": [] },
  "filesystem": {
    "denyRead": [],
    "allowRead": [],
    "allowWrite": ["$WORKDIR"],
    "denyWrite": []
  }
}
EOF
}

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

# Run a tool once and make sure it works before timing it; hyperfine would
# otherwise abort on the first failing run with a less useful message.
# On failure, prints the reason (exit status + stderr) on stdout.
probe() {
    local -n cmd="CMD_$1"
    local err rc=0
    err="$(mktemp)"
    (cd "$WORKDIR" && timeout "$PROBE_TIMEOUT" "${cmd[@]}") </dev/null >/dev/null 2>"$err" || rc=$?
    if (( rc != 0 )); then
        if (( rc == 124 )); then
            printf 'timed out after %ss' "$PROBE_TIMEOUT"
        else
            printf 'exit %d: %s' "$rc" "$(one_line 300 <"$err")"
        fi
    fi
    rm -f "$err"
    return "$rc"
}

# Current time in nanoseconds. bash >= 5 has $EPOCHREALTIME, which needs no
# fork (a `date` fork per sample would add ~1 ms of noise to every sample);
# otherwise fall back to date(1). Non-digits are stripped because
# EPOCHREALTIME's separator follows the locale.
now_ns() {
    if [[ -n "${EPOCHREALTIME:-}" ]]; then
        local us="${EPOCHREALTIME//[!0-9]/}"
        printf '%s000\n' "$us"
    else
        date +%s%N
    fi
}

# Time a tool; writes one sample per line, in milliseconds, to $2.
# hyperfine -N runs the command without an intermediate shell, so the samples
# are the sandbox's own cost; its raw JSON is kept under build/bench/.
time_tool() {
    local tool="$1" samples_file="$2" json="$3"
    local -n cmd="CMD_$tool"
    if use_hyperfine; then
        (cd "$WORKDIR" && timeout "$BENCH_TIMEOUT" hyperfine -N --style basic \
            --warmup "$WARMUP" --min-runs "$RUNS" --max-runs "$MAX_RUNS" \
            --export-json "$json" -n "$tool" "$(quote_words "${cmd[@]}")") >&2 || return 1
        # The "times" array of hyperfine's (pretty-printed) JSON, in seconds.
        awk '/"times": \[/ {on=1; next} on && /\]/ {exit}
             on {gsub(/[ ,]/, ""); printf "%.6f\n", $0 * 1000}' "$json" >"$samples_file"
    else
        # Fallback: a plain loop. Includes a little bash fork overhead that
        # hyperfine would not, equally for every tool.
        rm -f "$json"
        (
            cd "$WORKDIR"
            local i t0 t1 start
            for ((i = 0; i < WARMUP; i++)); do
                "${cmd[@]}" </dev/null >/dev/null 2>&1
            done
            start="$(now_ns)"
            for ((i = 0; i < MAX_RUNS; i++)); do
                t0="$(now_ns)"
                "${cmd[@]}" </dev/null >/dev/null 2>&1
                t1="$(now_ns)"
                echo "$((t1 - t0))"
                (( i + 1 >= RUNS && t1 - start >= MIN_SECONDS * 1000000000 )) && break
            done
        ) | awk '{printf "%.6f\n", $1 / 1e6}' >"$samples_file" || return 1
    fi
    [[ -s "$samples_file" ]]
}

# Median and nearest-rank p90 of a sample file -> "median p90" (ms).
stats() {
    sort -g "$1" | awk '{v[NR] = $1}
        END {
            if (NR == 0) exit 1
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            k = int(0.9 * NR); if (k < 0.9 * NR) k++
            printf "%.2f %.2f\n", med, v[k]
        }'
}

# Peak RSS (KiB) via GNU time's %M: the kernel's ru_maxrss for the waited-for
# child, i.e. the largest single process in the tree (not the sum). Median
# over a few runs; "n/a" without /usr/bin/time.
peak_rss() {
    local -n cmd="CMD_$1"
    [[ -x /usr/bin/time ]] || { echo "n/a"; return; }
    local f i
    f="$(mktemp)"
    for ((i = 0; i < RSS_RUNS; i++)); do
        (cd "$WORKDIR" && /usr/bin/time -f %M -a -o "$f" "${cmd[@]}") </dev/null >/dev/null 2>&1 || true
    done
    # Keep only numeric lines (time also writes "Command exited ..." lines).
    grep -E '^[0-9]+$' "$f" | sort -n | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : "n/a"}'
    rm -f "$f"
}

# Time one round of a tool: its samples go to startup-<tool>-r<round>.samples
# and are added to startup-<tool>.samples (all rounds), and the round's
# median to ROUND_MEDIANS[tool]. The first round probes the tool first.
measure_round() {
    local tool="$1" round="$2" reason samples
    samples="$BENCH_DIR/startup-$tool-r$round.samples"
    log "measuring ${LABEL[$tool]} (round $round)"
    if (( round == 1 )); then
        rm -f "$BENCH_DIR/startup-$tool.samples" "$BENCH_DIR/startup-$tool"-r*.samples \
            "$BENCH_DIR/startup-$tool"*.json
        if ! reason="$(probe "$tool")"; then
            NOTE[$tool]="did not run: $reason"
            log "${LABEL[$tool]}: ${NOTE[$tool]}"
            return 1
        fi
    fi
    if ! time_tool "$tool" "$samples" "$BENCH_DIR/startup-$tool-r$round.json"; then
        NOTE[$tool]="timing failed (see the log above)"
        return 1
    fi
    cat "$samples" >>"$BENCH_DIR/startup-$tool.samples"
    ROUND_MEDIANS[$tool]+="$(stats "$samples" | cut -d' ' -f1) "
}

# Statistics over every round of a tool, and its peak RSS.
summarise() {
    local tool="$1" samples="$BENCH_DIR/startup-$1.samples"
    [[ -z "${NOTE[$tool]:-}" && -s "$samples" ]] || return 1
    read -r "MEDIAN[$tool]" "P90[$tool]" < <(stats "$samples")
    NRUNS[$tool]="$(wc -l <"$samples")"
    RSS[$tool]="$(peak_rss "$tool")"
}

measure() {
    measure_round "$1" 1 && summarise "$1"
}

# warden and bwrap in ROUNDS alternating rounds (bwrap first in odd rounds).
measure_pair() {
    local r tool order
    for ((r = 1; r <= ROUNDS; r++)); do
        order=(bwrap warden)
        (( r % 2 )) || order=(warden bwrap)
        for tool in "${order[@]}"; do
            [[ -z "${NOTE[$tool]:-}" ]] || continue
            measure_round "$tool" "$r" || true
        done
    done
    summarise bwrap || true
    summarise warden || true
}

# "1.21, 1.18, 1.25": warden's median over bwrap's, round by round.
round_ratios() {
    local -a w b
    local i out=()
    read -r -a w <<<"${ROUND_MEDIANS[warden]:-}"
    read -r -a b <<<"${ROUND_MEDIANS[bwrap]:-}"
    for ((i = 0; i < ${#w[@]} && i < ${#b[@]}; i++)); do
        out+=("$(ratio "${w[i]}" "${b[i]}")")
    done
    local joined
    joined="$(printf '%s, ' "${out[@]}")"
    printf '%s' "${joined%, }"
}

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

machine_info() {
    machine_lines
    ran_as_line
    # warden creates and removes its state directory on every run: on a disk
    # filesystem (as /run is in some containers) that costs more than on tmpfs.
    local state
    if ((EUID == 0)); then
        state=/run
    elif [[ -n "${XDG_RUNTIME_DIR:-}" ]]; then
        state="$XDG_RUNTIME_DIR"
    else
        state=/tmp
    fi
    printf -- '- warden state directory under %s: %s\n' "$state" \
        "$(findmnt -n -o FSTYPE -T "$state" 2>/dev/null || echo unknown)"
}

tool_versions() {
    local v=()
    v+=("$(warden_version)")
    command -v bwrap >/dev/null && v+=("$(bwrap --version)")
    [[ -x "$SRT" ]] && v+=("srt $("$SRT" --version 2>/dev/null || echo '?') on node $(node --version 2>/dev/null || echo '?')")
    use_hyperfine && v+=("$(hyperfine --version)")
    local joined
    joined="$(printf '%s; ' "${v[@]}")"
    printf -- '- Versions: %s\n' "${joined%; }"
}

# Sets VERDICT (PASS/MISS/UNKNOWN) and VERDICT_TEXT.
compute_verdict() {
    if [[ -z "${MEDIAN[warden]:-}" || -z "${MEDIAN[bwrap]:-}" ]]; then
        VERDICT=UNKNOWN
        VERDICT_TEXT="no verdict: warden or bare bwrap could not be measured."
        return
    fi
    local r
    r="$(ratio "${MEDIAN[warden]}" "${MEDIAN[bwrap]}")"
    if awk -v r="$r" -v t="$TARGET" 'BEGIN {exit !(r <= t)}'; then VERDICT=PASS; else VERDICT=MISS; fi
    VERDICT_TEXT="warden's median start-up is ${r}x bare bwrap's (target <= ${TARGET}x;"
    VERDICT_TEXT+=" per round: $(round_ratios))"
    if [[ -n "${MEDIAN[srt]:-}" ]]; then
        VERDICT_TEXT+="; warden/srt = $(ratio "${MEDIAN[warden]}" "${MEDIAN[srt]}")x"
    else
        VERDICT_TEXT+="; warden/srt not available (srt was not measured)"
    fi
    VERDICT_TEXT+="."
}

results_table() {
    local tool
    echo "| tool | median ms | p90 ms | ratio vs bwrap | peak RSS KiB |"
    echo "|---|---:|---:|---:|---:|"
    for tool in "${TOOLS[@]}"; do
        if [[ -n "${MEDIAN[$tool]:-}" ]]; then
            printf '| %s | %s | %s | %s | %s |\n' "${LABEL[$tool]}" "${MEDIAN[$tool]}" "${P90[$tool]}" \
                "$( [[ -n "${MEDIAN[bwrap]:-}" ]] && echo "$(ratio "${MEDIAN[$tool]}" "${MEDIAN[bwrap]}")x" || echo "n/a")" \
                "${RSS[$tool]}"
        else
            printf '| %s | not measured¹ | – | – | – |\n' "${LABEL[$tool]}"
        fi
    done
    local first=1
    for tool in "${TOOLS[@]}"; do
        [[ -n "${NOTE[$tool]:-}" ]] || continue
        (( first )) && { echo; first=0; }
        printf '¹ %s: %s\n\n' "${LABEL[$tool]}" "${NOTE[$tool]}"
    done
}

use_hyperfine() { [[ -z "${BENCH_NO_HYPERFINE:-}" ]] && command -v hyperfine >/dev/null 2>&1; }

timing_method() {
    if use_hyperfine; then
        printf 'timed by hyperfine -N (no intermediate shell)'
    else
        printf 'timed by a bash loop (hyperfine missing; adds ~0.5 ms of fork overhead per run)'
    fi
}

run_counts() {
    local tool parts=()
    for tool in "${TOOLS[@]}"; do
        [[ -n "${NRUNS[$tool]:-}" ]] && parts+=("${LABEL[$tool]%% *} ${NRUNS[$tool]}")
    done
    local joined
    joined="$(printf '%s, ' "${parts[@]}")"
    printf '%s' "${joined%, }"
}

# The generated "## Start-up" section (markdown) on stdout.
render_section() {
    local tool
    cat <<EOF
## Start-up

<!-- Generated by bench/startup.sh; re-run \`make bench\` instead of editing this section. -->

Wall-clock time to create a sandbox, run \`/bin/true\` in it and tear it down.
Produced by \`make bench\` (which runs \`bash bench/startup.sh\`); ${WARMUP} warm-up
runs, then at least ${RUNS} timed runs and ${MIN_SECONDS} s per tool and round, $(timing_method).
warden and bwrap are timed in ${ROUNDS} alternating rounds (bwrap first in odd
rounds, warden first in even ones) and their figures pool every round, so
load that comes and goes during the run weighs on both; /bin/true and srt get
one round (timed runs: $(run_counts)). Raw data: \`build/bench/\`.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
$(machine_info)
- Load average (1, 5, 15 min): ${LOAD_BEFORE} before the timed runs, ${LOAD_AFTER} after warden and bwrap
$(tool_versions)

$(results_table)

**Verdict: ${VERDICT}** — ${VERDICT_TEXT}

Notes:

- Peak RSS is GNU time's \`%M\` (the kernel's \`ru_maxrss\`): the largest single
  process in the tree, median of ${RSS_RUNS} runs — not the sum over the tree.
- bwrap is given every isolation setting of warden's default that it has a
  flag for: the same namespaces (user, mount, pid, net, ipc, uts, cgroup),
  a hostname, the uid/gid warden's agent gets (${AGENT_UID}/${AGENT_GID}) with no
  capabilities (run as root, bwrap would otherwise keep uid 0 and every
  capability in its namespace), a new session, death with its parent, and the
  same mounts: the default policy's read-only dirs (${RO_DIRS[*]}; top-level
  symlinks recreated as symlinks, as warden does), /proc, /dev, private
  \`/tmp\` and HOME (\`${AGENT_HOME}\`), the workdir read-write. It is the floor;
  the 1.3x target is the budget for what warden adds on top: \`deny\` masks,
  Landlock, seccomp, rlimits, a private \`/dev/shm\`, the state directory, and
  the supervisor with its egress proxy (listeners in the sandbox's network
  namespace, attribution, control socket), its audit trail (signing key,
  hash-chained records, a signed checkpoint and an fsync at exit) and its
  exec monitor (the agent's execve and exit_group reported to the
  supervisor).
- Ratio per round (warden median / bwrap median): $(round_ratios).
- srt needs \`allowedDomains: []\` to isolate the network at all. With it, each
  run starts node, an in-process HTTP/SOCKS proxy, a host-side socat bridge,
  then bwrap (\`--ro-bind / /\`, net+pid+user namespaces), bash, two socat
  relays inside, and its \`apply-seccomp\` helper (a nested user+pid+mount
  namespace) before \`bash -c /bin/true\`. Most of its time is node start-up
  and that set-up; its RSS is node's.
  srt 0.0.78 leaves one \`srt-mux-*.sock\` in \`\$TMPDIR\` per run (its CLI
  exits without closing the proxy), so every tool runs with a throwaway TMPDIR.

Commands (run from the scratch workdir \`<repo>/build/bench/work\`):

\`\`\`
EOF
    for tool in "${TOOLS[@]}"; do
        local -n c="CMD_$tool"
        printf '%-7s %s\n' "$tool:" "$(show_cmd "${c[@]}")"
        unset -n c
    done
    # shellcheck disable=SC2016  # literal backquotes (markdown)
    printf '```\n\nsrt settings (`build/bench/srt-settings.json`):\n\n```json\n'
    sed "s|$ROOT|<repo>|g" "$SRT_SETTINGS"
    printf '```\n'
}

# ---------------------------------------------------------------------------

main() {
    cd "$ROOT"
    WARDEN="$(abspath "$WARDEN")"
    SRT="$(abspath "$SRT")"

    # warden is the subject: without it there is nothing to report.
    [[ -e "$WARDEN" ]] || die "warden binary not found at ${WARDEN#"$ROOT"/} — build it first (make), or point WARDEN= at one."
    [[ -x "$WARDEN" ]] || die "${WARDEN#"$ROOT"/} is not executable."
    command -v hyperfine >/dev/null || log "hyperfine not found; using a bash timing loop (install: scripts/bench-deps.sh)"
    [[ -x /usr/bin/time ]] || log "/usr/bin/time not found; peak RSS will be n/a (Debian package: time)"

    mkdir -p "$BENCH_DIR"
    rm -rf "$WORKDIR"
    mkdir -p "$WORKDIR"
    # srt 0.0.78's CLI exits without closing its proxy, leaving one
    # srt-mux-<pid>-0.sock in $TMPDIR per run (~40 per benchmark). Give every
    # tool (equally) a private TMPDIR that is removed on exit. Kept short and
    # under /tmp: srt puts unix sockets there (108-byte path limit).
    SCRATCH_TMP="$(mktemp -d /tmp/warden-bench.XXXXXX)"
    trap 'rm -rf "$SCRATCH_TMP"' EXIT
    export TMPDIR="$SCRATCH_TMP"
    write_srt_settings
    build_commands

    local reason
    if ! reason="$(probe warden)"; then
        die "warden failed to run /bin/true (${reason}); fix that before benchmarking."
    fi

    # Other work on the machine inflates both tools, but not equally: the
    # report says how busy the machine was while warden and bwrap were timed.
    LOAD_BEFORE="$(loadavg)"
    measure true || true
    measure_pair
    LOAD_AFTER="$(loadavg)"
    if [[ ! -x "$SRT" ]]; then
        NOTE[srt]="not installed (${SRT#"$ROOT"/} missing; run scripts/bench-deps.sh)"
        log "srt: ${NOTE[srt]}"
    elif ! command -v node >/dev/null; then
        NOTE[srt]="node not found (Debian package nodejs; srt needs node >= 20.11)"
        log "srt: ${NOTE[srt]}"
    else
        measure srt || true
    fi

    compute_verdict
    local section
    section="$(mktemp)"
    render_section >"$section"
    cp "$section" "$BENCH_DIR/startup.md"
    update_doc "$section"
    rm -f "$section"

    echo
    results_table
    echo "Verdict: ${VERDICT} — ${VERDICT_TEXT}"
    echo "Written: docs/benchmarks.md (## ${SECTION}), raw data in build/bench/"

    case "$VERDICT" in
        PASS) return 0 ;;
        MISS) strict && return 1 || return 0 ;;
        *) return 1 ;;
    esac
}

main "$@"
