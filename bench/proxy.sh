#!/usr/bin/env bash
# bench/proxy.sh — egress-proxy benchmark for warden (`make bench`).
#
# Measures, in one run, three ways from a client to the same upstream
# servers on the host's loopback:
#   1. direct      the client connects to the upstream itself (the floor)
#   2. tinyproxy   the client on the host goes through tinyproxy (Debian
#                  package tinyproxy-bin), an HTTP proxy with CONNECT
#   3. warden      the client runs inside a warden sandbox, with 200 idle
#                  processes beside it, and goes through warden's proxy
#                  (127.0.0.1:3128 inside): attribution of every connection
#                  to its binary, the policy decision, then the tunnel
# and, for warden, a fourth row without the idle processes, to show what
# they cost; the set-up latency rounds also time a minimal CONNECT relay
# (bench/relay.c: no policy, no attribution, no audit), the floor any proxy
# that terminates TCP stands on here. What is measured:
#   - connection set-up latency (sequential, one connection at a time)
#   - requests per second for short plain-HTTP requests (forward proxy)
#   - bulk throughput through one tunnel, upload and download
#   - peak RSS of the proxy with 10,000 tunnels held open
# and writes the "## Egress proxy" section of docs/benchmarks.md. Targets
# (DESIGN.md §9 and the issue): added latency p50 <= 50 us and p99 <= 200 us,
# tunnel throughput >= 90% of direct; each gets PASS or MISS.
#
# The load client (bench/proxyload.c) and the upstream servers
# (bench/upstream.c) are built here with `cc -O2 -static`, so the same client
# binary runs on the host and inside the sandbox. Everything stays on
# 127.0.0.1. Runs offline: tinyproxy comes from scripts/deps.sh bench; if it
# is missing its rows say so.
#
# As root the agent runs as nobody (like in the tests), so the workdir with
# the client is handed to that uid; otherwise the agent is the caller.
#
# Environment knobs:
#   WARDEN=path                 binary under test (default build/warden)
#   BENCH_PROXY_N=N             latency samples per row (default 3000), taken
#                               in BENCH_PROXY_ROUNDS=3 interleaved rounds, each
#                               after BENCH_PROXY_WARMUP=100 uncounted ones
#   BENCH_PROXY_IDLE=N          idle processes in the sandbox (default 200)
#   BENCH_PROXY_RPS_SECONDS=N   counted seconds per rps row (default 5)
#   BENCH_PROXY_CONCURRENCY=N   requests in flight for rps (default 32)
#   BENCH_PROXY_BYTES=N         bytes per throughput run (default 1 GiB)
#   BENCH_PROXY_REPS=N          throughput runs per direction (default 3; median)
#   BENCH_PROXY_TUNNELS=N       tunnels to hold open (default 10000; capped by
#                               the open-files hard limit, 2 per tunnel)
#   BENCH_PROXY_HOLD_SECONDS=N  time allowed to open them (default 60; fewer
#                               tunnels in that time is reported as such)
#   BENCH_STRICT=1              exit 1 on MISS (default: reported, exit 0)
#
# Takes about 2-3 minutes on a 2-CPU VM.
#
# Exit status: 0 with verdicts (MISS too, unless BENCH_STRICT=1); 1 when
# warden is missing or broken or the measurements could not be taken.
set -euo pipefail

# Numbers are formatted and parsed by awk/printf; keep the decimal point a dot.
export LC_ALL=C
# The agent's identity must not depend on who invoked sudo (see tests/lib.sh).
unset SUDO_UID SUDO_GID SUDO_USER

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BENCH_DIR="$ROOT/build/bench"
readonly DOC="$ROOT/docs/benchmarks.md"
readonly SECTION="Egress proxy"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

WARDEN="${WARDEN:-build/warden}"
readonly N="${BENCH_PROXY_N:-3000}"
readonly ROUNDS="${BENCH_PROXY_ROUNDS:-3}"
readonly WARMUP="${BENCH_PROXY_WARMUP:-100}"
readonly IDLE="${BENCH_PROXY_IDLE:-200}"
readonly RPS_SECONDS="${BENCH_PROXY_RPS_SECONDS:-5}"
readonly CONC="${BENCH_PROXY_CONCURRENCY:-32}"
readonly BYTES="${BENCH_PROXY_BYTES:-1073741824}"
readonly REPS="${BENCH_PROXY_REPS:-3}"
readonly TUNNELS_WANTED="${BENCH_PROXY_TUNNELS:-10000}"
readonly HOLD_SECONDS="${BENCH_PROXY_HOLD_SECONDS:-60}"
readonly TARGET_P50=50 TARGET_P99=200 TARGET_TPUT=90
# The name the sandbox asks for; --add-host pins it to the host's loopback.
readonly UPNAME=bench.example
# Longest a suite may take before it counts as hung.
readonly SUITE_TIMEOUT=600

SCRATCH=""
UP_PID="" TP_PID=""
SANDBOXES=()
PL="" UP="" WORK="" POLICY=""
PORT_ECHO="" PORT_SINK="" PORT_SOURCE="" PORT_HTTP="" TP_PORT=""
PROCS="" SCRIPT=""
TUNNELS=0 TUNNELS_NOTE=""
AGENT_UID="" AGENT_GID=""
LOAD_BEFORE="" LOAD_AFTER=""
declare -A NOTE=() OUTF=() CMDS=()
declare -A HOLD=()

cleanup() {
    stop_sandboxes
    if [[ -n "$TP_PID" ]]; then kill "$TP_PID" 2>/dev/null || true; fi
    if [[ -n "$UP_PID" ]]; then kill "$UP_PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    if [[ -n "$SCRATCH" ]]; then rm -rf "$SCRATCH"; fi
}

# ---------------------------------------------------------------------------
# Setting up
# ---------------------------------------------------------------------------

build_tools() {
    PL="$SCRATCH/proxyload"
    UP="$SCRATCH/upstream"
    build_static proxyload "is libc6-dev installed?"
    build_static upstream "is libc6-dev installed?"
    RELAY="$SCRATCH/relay"
    build_static relay "is libc6-dev installed?"
}

# The floor row: bench/relay.c, a CONNECT relay that does nothing but relay.
start_relay() {
    "$RELAY" "$SCRATCH/relay-port" >"$SCRATCH/relay.log" 2>&1 &
    RELAY_PID=$!
    wait_file "$SCRATCH/relay-port" 5 written || true
    RELAY_PORT="$(cat "$SCRATCH/relay-port" 2>/dev/null || true)"
    [[ -n "$RELAY_PORT" ]] || NOTE[relay]="the relay did not start: $(one_line 300 <"$SCRATCH/relay.log")"
}

# Both proxies need two descriptors per tunnel, the client and the upstream
# one: the soft limit goes up to the hard one (inherited by all of them), and
# the number of tunnels is capped to what fits.
set_fd_limits() {
    local hard fit
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    hard="$(ulimit -Hn)"
    if [[ "$hard" == unlimited ]]; then
        TUNNELS="$TUNNELS_WANTED"
        return
    fi
    fit=$(( (hard - 128) / 2 ))
    TUNNELS="$TUNNELS_WANTED"
    if (( fit < TUNNELS )); then
        TUNNELS="$fit"
        TUNNELS_NOTE="the open-files hard limit here is $hard (2 descriptors per tunnel in the proxy), so $TUNNELS of the $TUNNELS_WANTED tunnels fit"
        log "$TUNNELS_NOTE"
    fi
}

start_upstream() {
    "$UP" "$SCRATCH/ports" >"$SCRATCH/upstream.log" 2>&1 &
    UP_PID=$!
    wait_file "$SCRATCH/ports" 5 written || die "the upstream server did not start: $(one_line 300 <"$SCRATCH/upstream.log")"
    PORT_ECHO="$(awk '$1 == "echo" {print $2}' "$SCRATCH/ports")"
    PORT_SINK="$(awk '$1 == "sink" {print $2}' "$SCRATCH/ports")"
    PORT_SOURCE="$(awk '$1 == "source" {print $2}' "$SCRATCH/ports")"
    PORT_HTTP="$(awk '$1 == "http" {print $2}' "$SCRATCH/ports")"
}

# Ports something listens on (IPv4 and IPv6), from /proc: no ss needed.
# awk does the filtering: after the rps runs these files hold a line for
# each of ~100k TIME_WAIT sockets, far too many for a bash read loop.
listening_ports() {
    local h
    { awk '$4 == "0A" { n = split($2, a, ":"); print a[n] }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null || true; } |
        while read -r h; do echo $((16#$h)); done
}

# A port below the ephemeral range that nothing listens on.
free_port() {
    local lo used p i
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    (( lo > 11000 )) || lo=32768
    used=" $(listening_ports | tr '\n' ' ') "
    for ((i = 0; i < 100; i++)); do
        p=$((10000 + RANDOM % (lo - 10000)))
        [[ "$used" == *" $p "* ]] || { echo "$p"; return 0; }
    done
    return 1
}

# start_tinyproxy NAME: a tinyproxy of our own (own config, port, log; no
# service), in the foreground of a background job. Sets TP_PID, TP_PORT.
# Only CONNECT to the upstream's ports, only from 127.0.0.1; MaxClients
# above the tunnel count; logging errors only (warden logs allowed
# connections only with -v, so neither writes a line per connection).
start_tinyproxy() {
    local conf="$SCRATCH/tinyproxy-$1.conf" try i
    for ((try = 0; try < 3; try++)); do
        TP_PORT="$(free_port)" || return 1
        cat >"$conf" <<EOF
Port $TP_PORT
Listen 127.0.0.1
Timeout 600
MaxClients $((TUNNELS + 256))
Allow 127.0.0.1
ConnectPort $PORT_ECHO
ConnectPort $PORT_SINK
ConnectPort $PORT_SOURCE
DisableViaHeader Yes
LogFile "$SCRATCH/tinyproxy-$1.log"
LogLevel Error
PidFile "$SCRATCH/tinyproxy-$1.pid"
EOF
        tinyproxy -d -c "$conf" >"$SCRATCH/tinyproxy-$1.out" 2>&1 &
        TP_PID=$!
        for ((i = 0; i < 60; i++)); do
            kill -0 "$TP_PID" 2>/dev/null || break
            # Not `listening_ports | grep -q`: with pipefail, grep's early exit
            # can fail the pipeline through SIGPIPE.
            if [[ " $(listening_ports | tr '\n' ' ') " == *" $TP_PORT "* ]]; then
                return 0
            fi
            sleep 0.05
        done
        kill "$TP_PID" 2>/dev/null || true
        wait "$TP_PID" 2>/dev/null || true
        TP_PID=""
    done
    return 1
}

stop_tinyproxy() {
    [[ -n "$TP_PID" ]] || return 0
    kill "$TP_PID" 2>/dev/null || true
    wait "$TP_PID" 2>/dev/null || true
    TP_PID=""
}

# The sandbox: the workdir holds the client; the policy lets exactly that
# binary reach bench.example on the upstream's ports, and gives it enough
# descriptors for the tunnel hold.
prepare_sandbox() {
    WORK="$SCRATCH/work"
    POLICY="$SCRATCH/policy.yaml"
    mkdir -p "$WORK"
    cp "$PL" "$WORK/proxyload"
    chmod 755 "$WORK" "$WORK/proxyload"
    if (( EUID == 0 )); then
        AGENT_UID=65534 AGENT_GID=65534
        chown -R "$AGENT_UID:$AGENT_GID" "$WORK"
    fi
    local files hard
    files=$((TUNNELS + 256))
    hard="$(ulimit -Hn)"
    [[ "$hard" != unlimited ]] && (( files > hard )) && files="$hard"
    cat >"$POLICY" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$(system_ro)]
process:
  limits:
    open_files: $files
network_policies:
  bench:
    name: bench
    endpoints:
      - {host: $UPNAME, ports: [$PORT_ECHO, $PORT_SINK, $PORT_SOURCE, $PORT_HTTP]}
    binaries:
      - {path: $WORK/proxyload}
EOF
    chmod 644 "$POLICY"
    "$WARDEN" policy check "$POLICY" >/dev/null 2>"$SCRATCH/policy.err" ||
        die "the benchmark policy does not check: $(one_line 300 <"$SCRATCH/policy.err")"
}

warden_argv() {
    WARDEN_ARGV=("$WARDEN" run --no-tty --name "$1" --policy "$POLICY" --workdir "$WORK"
        --add-host "$UPNAME:127.0.0.1" --)
}

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

# The client commands of one row after the latency rounds: PROXY is "direct"
# or 127.0.0.1:PORT, HOST the name the proxy is asked for, WHAT "all" or
# "rps" (requests per second only). Sets SUITE (one shell line per command).
suite_cmds() {
    local pl="$1" proxy="$2" host="$3" what="$4"
    SUITE=("$pl rps $proxy $host:$PORT_HTTP $RPS_SECONDS $CONC")
    [[ "$what" == rps ]] && return
    SUITE+=("$pl upload $proxy $host:$PORT_SINK $BYTES $REPS"
        "$pl download $proxy $host:$PORT_SOURCE $BYTES $REPS")
}

# sandbox_script IDLE CMD...: the shell line run in a sandbox: IDLE sleeping
# processes first (siblings of the client, so attribution walks them on every
# connection), the number of processes, then each CMD in turn.
sandbox_script() {
    local idle="$1" c
    shift
    SCRIPT=""
    if (( idle > 0 )); then
        SCRIPT="i=0; while [ \$i -lt $idle ]; do sleep 100000 </dev/null >/dev/null 2>&1 & i=\$((i+1)); done; sleep 1; "
    fi
    SCRIPT+="echo procs n=\$(ls -d /proc/[0-9]* | wc -l)"
    for c in "$@"; do
        SCRIPT+="; $c"
    done
}

# in_sandbox ROW IDLE OUT ERR CMD...: run CMDs in a fresh sandbox; its
# command line goes to CMDS[ROW] the first time. Returns warden's status.
in_sandbox() {
    local row="$1" idle="$2" out="$3" err="$4" name="proxybench-$$-$RANDOM" rc=0
    shift 4
    sandbox_script "$idle" "$@"
    warden_argv "$name"
    [[ -n "${CMDS[$row]:-}" ]] || CMDS[$row]="$(show_cmd "${WARDEN_ARGV[@]}" sh -c "$SCRIPT")"
    SANDBOXES+=("$name")
    (cd "$WORK" && timeout "$SUITE_TIMEOUT" "${WARDEN_ARGV[@]}" sh -c "$SCRIPT") \
        </dev/null >"$out" 2>"$err" || rc=$?
    return "$rc"
}

# Idle processes beside the client, per row.
declare -A IDLE_OF=([warden]="$IDLE" [warden-noidle]=0)

# latency_once ROW ROUND: one round of set-up latency for one path; the
# samples go to build/bench/proxy-lat-ROW-rROUND.samples.
latency_once() {
    local row="$1" r="$2" n="$3" samples="$BENCH_DIR/proxy-lat-$1-r$2.samples"
    local out="$BENCH_DIR/proxy-lat-$1-r$2.out" err="$BENCH_DIR/proxy-lat-$1-r$2.err" rc=0
    [[ -z "${NOTE[$row]:-}" && -z "${NOTE[lat-$row]:-}" ]] || return 0
    case "$row" in
        direct | tinyproxy | relay)
            local proxy=direct
            [[ "$row" == tinyproxy ]] && proxy="127.0.0.1:$TP_PORT"
            [[ "$row" == relay ]] && proxy="127.0.0.1:$RELAY_PORT"
            local cmd=("$PL" latency "$proxy" "127.0.0.1:$PORT_ECHO" "$n" "$WARMUP" "$samples")
            [[ -n "${CMDS[lat-$row]:-}" ]] || CMDS[lat-$row]="$(show_cmd "${cmd[@]}")"
            timeout "$SUITE_TIMEOUT" "${cmd[@]}" </dev/null >"$out" 2>"$err" || rc=$?
            ;;
        *)
            rm -f "$WORK/lat.samples"
            in_sandbox "lat-$row" "${IDLE_OF[$row]}" "$out" "$err" \
                "./proxyload latency 127.0.0.1:3128 $UPNAME:$PORT_ECHO $n $WARMUP lat.samples" || rc=$?
            [[ -f "$WORK/lat.samples" ]] && cp "$WORK/lat.samples" "$samples"
            ;;
    esac
    if (( rc != 0 )) || [[ ! -s "$samples" ]]; then
        NOTE[lat-$row]="latency run failed (exit $rc): $(one_line 300 <"$err")"
        log "$row: ${NOTE[lat-$row]}"
        rm -f "$samples"
    fi
}

# Set-up latency in ROUNDS interleaved rounds of N/ROUNDS connections per
# path, the order rotating each round, so that whatever else the machine
# does during the run is spread over every path instead of landing on one.
latency_rounds() {
    local r i k row per=$(( (N + ROUNDS - 1) / ROUNDS ))
    local order=("${LAT_ROWS[@]}")
    for ((r = 1; r <= ROUNDS; r++)); do
        log "set-up latency, round $r of $ROUNDS"
        for ((k = 0; k < ${#order[@]}; k++)); do
            i=$(( (k + r - 1) % ${#order[@]} ))
            latency_once "${order[$i]}" "$r" "$per"
        done
    done
    for row in "${order[@]}"; do
        cat "$BENCH_DIR/proxy-lat-$row"-r*.samples 2>/dev/null >"$BENCH_DIR/proxy-lat-$row.samples" || true
        lat_stats "$row"
    done
    PROCS="$(kv "$BENCH_DIR/proxy-lat-warden-r1.out" procs n)"
}

# Percentiles (nearest rank) of the merged samples of ROW into LAT[].
declare -A LAT=()
lat_stats() {
    local row="$1" f="$BENCH_DIR/proxy-lat-$1.samples" col key v
    [[ -s "$f" ]] || return 0
    LAT[$row.n]="$(wc -l <"$f")"
    for col in 1 2; do
        if (( col == 1 )); then key="ready"; else key="echo"; fi
        for v in 50 90 99 100; do
            LAT[$row.${key}_p$v]="$(cut -d' ' -f"$col" "$f" | sort -g | awk -v p="$v" '
                {x[NR] = $1}
                END { k = int(p * NR / 100); if (k < p * NR / 100) k++; if (k < 1) k = 1; printf "%.1f", x[k] }')"
        done
    done
}

# run_host ROW PROXY HOST: rps and throughput on the host.
run_host() {
    local row="$1" c out="$BENCH_DIR/proxy-$1.out"
    [[ -z "${NOTE[$row]:-}" ]] || return 0
    suite_cmds "$PL" "$2" "$3" all
    : >"$out"
    log "measuring $row (all)"
    CMDS[$row]="$(printf '%s\n' "${SUITE[@]}")"
    for c in "${SUITE[@]}"; do
        # shellcheck disable=SC2086  # the command lines are word lists
        timeout "$SUITE_TIMEOUT" $c >>"$out" 2>>"$BENCH_DIR/proxy-$row.err" </dev/null ||
            log "$row: '${c##*/}' failed (see build/bench/proxy-$row.err)"
    done
    OUTF[$row]="$out"
}

# run_relay_tput: throughput through the minimal relay (it takes CONNECT only:
# no forward-proxy requests, so no rps row).
run_relay_tput() {
    local c out="$BENCH_DIR/proxy-relay.out"
    [[ -z "${NOTE[relay]:-}" ]] || return 0
    suite_cmds "$PL" "127.0.0.1:$RELAY_PORT" 127.0.0.1 all
    : >"$out"
    log "measuring relay (throughput)"
    CMDS[relay]="$(printf '%s\n' "${SUITE[@]:1}")"
    for c in "${SUITE[@]:1}"; do
        # shellcheck disable=SC2086  # the command lines are word lists
        timeout "$SUITE_TIMEOUT" $c >>"$out" 2>>"$BENCH_DIR/proxy-relay.err" </dev/null ||
            log "relay: '${c##*/}' failed (see build/bench/proxy-relay.err)"
    done
    OUTF[relay]="$out"
}

# run_warden ROW WHAT: rps (and throughput, WHAT=all) in a sandbox.
run_warden() {
    local row="$1" what="$2" rc=0
    local out="$BENCH_DIR/proxy-$row.out" err="$BENCH_DIR/proxy-$row.err"
    [[ -z "${NOTE[$row]:-}" ]] || return 0
    suite_cmds ./proxyload 127.0.0.1:3128 "$UPNAME" "$what"
    log "measuring $row ($what)"
    in_sandbox "$row" "${IDLE_OF[$row]}" "$out" "$err" "${SUITE[@]}" || rc=$?
    OUTF[$row]="$out"
    if ! grep -q '^rps ' "$out"; then
        NOTE[$row]="did not run (exit $rc): $(one_line 300 <"$err")"
        log "$row: ${NOTE[$row]}"
    fi
}

# The kernel's peak and current resident set of a process, in KiB.
vm() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || true; }

# hold_measure ROW PID DIR: drive a running `proxyload hold` (through the
# files in DIR) and read PID's memory before and with the tunnels open.
hold_measure() {
    local row="$1" pid="$2" dir="$3"
    if ! wait_file "$dir/hold.idle" 30; then
        NOTE[hold-$row]="the client did not start"
        return 1
    fi
    HOLD[$row.idle]="$(vm "$pid" VmRSS)"
    touch "$dir/hold.go"
    if ! wait_file "$dir/hold.ready" $((HOLD_SECONDS + 60)); then
        NOTE[hold-$row]="the tunnels were not set up in time"
    fi
    HOLD[$row.hwm]="$(vm "$pid" VmHWM)"
    HOLD[$row.rss]="$(vm "$pid" VmRSS)"
    touch "$dir/hold.done"
}

hold_warden() {
    local name="proxybench-$$-hold" pid="" i rc=0 wpid
    local out="$BENCH_DIR/proxy-hold-warden.out" err="$BENCH_DIR/proxy-hold-warden.err"
    rm -f "$WORK"/hold.*
    warden_argv "$name"
    local cmd=("${WARDEN_ARGV[@]}" ./proxyload hold 127.0.0.1:3128 "$UPNAME:$PORT_ECHO"
        "$TUNNELS" "$HOLD_SECONDS" "$WORK")
    CMDS[hold-warden]="$(show_cmd "${cmd[@]}")"
    SANDBOXES+=("$name")
    log "holding $TUNNELS tunnels through warden (at most ${HOLD_SECONDS}s to open them)"
    (cd "$WORK" && timeout "$SUITE_TIMEOUT" "${cmd[@]}") </dev/null >"$out" 2>"$err" &
    wpid=$!
    # The supervisor is the `warden run` process; `warden ps` names it.
    for ((i = 0; i < 100; i++)); do
        pid="$("$WARDEN" ps 2>/dev/null | awk -v n="$name" '$1 == n {print $2}')"
        [[ -n "$pid" ]] && break
        sleep 0.05
    done
    if [[ -z "$pid" ]]; then
        NOTE[hold-warden]="the sandbox did not start: $(one_line 300 <"$err")"
    else
        hold_measure warden "$pid" "$WORK" || true
    fi
    wait "$wpid" || rc=$?
    HOLD[warden.line]="$(grep '^hold ' "$out" || true)"
    [[ -n "${HOLD[warden.line]}" ]] || NOTE[hold-warden]="${NOTE[hold-warden]:-no result (exit $rc): $(one_line 300 <"$err")}"
}

hold_tinyproxy() {
    local dir="$SCRATCH/hold-tinyproxy" out="$BENCH_DIR/proxy-hold-tinyproxy.out" cpid rc=0
    mkdir -p "$dir"
    # A fresh tinyproxy: its peak RSS must be the hold's, not the earlier runs'.
    if ! start_tinyproxy hold; then
        NOTE[hold-tinyproxy]="tinyproxy did not start"
        return
    fi
    local cmd=("$PL" hold "127.0.0.1:$TP_PORT" "127.0.0.1:$PORT_ECHO" "$TUNNELS" "$HOLD_SECONDS" "$dir")
    CMDS[hold-tinyproxy]="$(show_cmd "${cmd[@]}")"
    log "holding $TUNNELS tunnels through tinyproxy"
    timeout "$SUITE_TIMEOUT" "${cmd[@]}" </dev/null >"$out" 2>"$BENCH_DIR/proxy-hold-tinyproxy.err" &
    cpid=$!
    hold_measure tinyproxy "$TP_PID" "$dir" || true
    wait "$cpid" || rc=$?
    HOLD[tinyproxy.line]="$(grep '^hold ' "$out" || true)"
    [[ -n "${HOLD[tinyproxy.line]}" ]] || NOTE[hold-tinyproxy]="no result (exit $rc)"
    stop_tinyproxy
}

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

readonly ROWS=(direct tinyproxy warden warden-noidle)
# The latency rounds also time the floor: bench/relay.c.
readonly LAT_ROWS=(direct tinyproxy relay warden warden-noidle)
declare -A LABEL=(
    [direct]="direct (no proxy)"
    [tinyproxy]="tinyproxy"
    [relay]="minimal relay (the floor: bench/relay.c)"
    [warden]="warden, $IDLE idle processes"
    [warden-noidle]="warden, no other processes"
)

machine_info() {
    machine_lines
    load_line "two or three"
    ran_as_line "the agent as nobody"
}

tool_versions() {
    local v
    v="$(warden_version)"
    if command -v tinyproxy >/dev/null; then
        v+="; $(tinyproxy -v 2>&1 | head -n1)"
    fi
    v+="; client and upstream: bench/proxyload.c, bench/upstream.c ($(cc --version | head -n1), -O2 -static)"
    printf -- '- Versions: %s\n' "$v"
}

# f ROW MODE KEY: a measured value, or "n/a".
f() {
    local v=""
    [[ -n "${OUTF[$1]:-}" ]] && v="$(kv "${OUTF[$1]}" "$2" "$3")"
    printf '%s' "${v:-n/a}"
}

# l ROW KEY: a latency statistic of the merged rounds, or "n/a".
l() { printf '%s' "${LAT[$1.$2]:-n/a}"; }

latency_table() {
    local row d50 d99
    d50="$(l direct echo_p50)"
    d99="$(l direct echo_p99)"
    echo "| path | samples | ready p50 | ready p99 | first echo p50 | p90 | p99 | max | added p50 | added p99 |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for row in "${LAT_ROWS[@]}"; do
        local a50="—" a99="—"
        if [[ "$row" != direct ]]; then
            a50="$(calc "$(l "$row" echo_p50)" "$d50" -)"
            a99="$(calc "$(l "$row" echo_p99)" "$d99" -)"
        fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$row]}" \
            "$(l "$row" n)" "$(l "$row" ready_p50)" "$(l "$row" ready_p99)" \
            "$(l "$row" echo_p50)" "$(l "$row" echo_p90)" \
            "$(l "$row" echo_p99)" "$(l "$row" echo_p100)" "$a50" "$a99"
    done
}

rps_table() {
    local row d t
    d="$(f direct rps rps)"
    t="$(f tinyproxy rps rps)"
    echo "| path | requests/s | vs direct | vs tinyproxy | request p50 ms | p99 ms | errors / timeouts |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for row in "${ROWS[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$row]}" "$(f "$row" rps rps)" \
            "$(calc "$(f "$row" rps rps)" "$d" / %.2fx)" "$(calc "$(f "$row" rps rps)" "$t" / %.2fx)" \
            "$(calc "$(f "$row" rps req_p50)" 1000 / %.2f)" "$(calc "$(f "$row" rps req_p99)" 1000 / %.2f)" \
            "$(f "$row" rps errors) / $(f "$row" rps timeouts)"
    done
}

tput_table() {
    local row du dd tu td
    du="$(f direct upload mbps_median)"
    dd="$(f direct download mbps_median)"
    tu="$(f tinyproxy upload mbps_median)"
    td="$(f tinyproxy download mbps_median)"
    echo "| path | upload MB/s | % of direct | vs tinyproxy | download MB/s | % of direct | vs tinyproxy | download EOF lost |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for row in direct tinyproxy relay warden; do
        local u d
        u="$(f "$row" upload mbps_median)"
        d="$(f "$row" download mbps_median)"
        printf '| %s | %s | %s%% | %s | %s | %s%% | %s | %s of %s |\n' "${LABEL[$row]}" \
            "$u" "$(calc "$u" "$du" % %.0f)" "$(calc "$u" "$tu" / %.2fx)" \
            "$d" "$(calc "$d" "$dd" % %.0f)" "$(calc "$d" "$td" / %.2fx)" \
            "$(f "$row" download eof_missing)" "$REPS"
    done
}

hold_row() {
    local who="$1" line="${HOLD[$1.line]:-}" held setup per
    held="$(awk '{for (i = 2; i <= NF; i++) if ($i ~ /^held=/) print substr($i, 6)}' <<<"$line")"
    setup="$(awk '{for (i = 2; i <= NF; i++) if ($i ~ /^setup_s=/) print substr($i, 9)}' <<<"$line")"
    per="n/a"
    if [[ -n "$held" && "$held" != 0 && -n "${HOLD[$who.hwm]:-}" && -n "${HOLD[$who.idle]:-}" ]]; then
        per="$(awk -v h="${HOLD[$who.hwm]}" -v i="${HOLD[$who.idle]}" -v n="$held" 'BEGIN {printf "%.2f", (h - i) / n}')"
    fi
    printf '| %s | %s of %s | %s | %s | %s | %s |\n' "$2" "${held:-n/a}" "$TUNNELS" \
        "${setup:-n/a}" "${HOLD[$who.idle]:-n/a}" "${HOLD[$who.hwm]:-n/a}" "$per"
}

hold_table() {
    echo "| proxy process | tunnels held | set-up time s | RSS before KiB | peak RSS (VmHWM) KiB | KiB per tunnel |"
    echo "|---|---:|---:|---:|---:|---:|"
    hold_row warden "warden supervisor"
    hold_row tinyproxy "tinyproxy"
}

# Sets V_P50, V_P99, V_TPUT (PASS/MISS/UNKNOWN) and their texts.
compute_verdicts() {
    local a50 a99 u d
    a50="$(calc "$(l warden echo_p50)" "$(l direct echo_p50)" -)"
    a99="$(calc "$(l warden echo_p99)" "$(l direct echo_p99)" -)"
    verdict() { if [[ "$1" == n/a ]]; then echo UNKNOWN; elif le "$1" "$2"; then echo PASS; else echo MISS; fi; }
    V_P50="$(verdict "$a50" "$TARGET_P50")"
    T_P50="added latency p50 ${a50} µs (target <= ${TARGET_P50} µs; the minimal relay alone adds $(calc "$(l relay echo_p50)" "$(l direct echo_p50)" -) µs)"
    V_P99="$(verdict "$a99" "$TARGET_P99")"
    T_P99="added latency p99 ${a99} µs (target <= ${TARGET_P99} µs; the minimal relay alone adds $(calc "$(l relay echo_p99)" "$(l direct echo_p99)" -) µs)"
    u="$(calc "$(f warden upload mbps_median)" "$(f direct upload mbps_median)" % %.0f)"
    d="$(calc "$(f warden download mbps_median)" "$(f direct download mbps_median)" % %.0f)"
    if [[ "$u" == n/a || "$d" == n/a ]]; then
        V_TPUT=UNKNOWN
    elif le "$TARGET_TPUT" "$u" && le "$TARGET_TPUT" "$d"; then
        V_TPUT=PASS
    else
        V_TPUT=MISS
    fi
    T_TPUT="tunnel throughput ${u}% (upload) and ${d}% (download) of direct (target >= ${TARGET_TPUT}%; the minimal relay: $(calc "$(f relay upload mbps_median)" "$(f direct upload mbps_median)" % %.0f)% and $(calc "$(f relay download mbps_median)" "$(f direct download mbps_median)" % %.0f)%)"
}

# How fast warden's tunnel set-up went as tunnels accumulated (the client
# reports every 1000th), so a rate that falls with the count shows.
hold_progress() {
    local err="$BENCH_DIR/proxy-hold-warden.err" p
    [[ -f "$err" ]] || return 0
    p="$(sed -n 's/^proxyload: hold: \([0-9]*\) tunnels after \([0-9.]*\) s$/\1 after \2 s/p' "$err" |
        paste -sd, - | sed 's/,/, /g')"
    [[ -n "$p" ]] || return 0
    printf '\nwarden tunnels open over time: %s.\n' "$p"
}

# Say so when a proxy did not open every tunnel: its RSS is for fewer.
hold_shortfall() {
    local who held
    for who in warden tinyproxy; do
        held="$(awk '{for (i = 2; i <= NF; i++) if ($i ~ /^held=/) print substr($i, 6)}' <<<"${HOLD[$who.line]:-}")"
        [[ -n "$held" && "$held" != "$TUNNELS" ]] || continue
        printf '\n%s opened %s of the %s tunnels in the %s s allowed; its peak RSS above is\n' \
            "$who" "$held" "$TUNNELS" "$HOLD_SECONDS"
        printf 'with %s open. BENCH_PROXY_HOLD_SECONDS=N allows more time.\n' "$held"
    done
}

notes() {
    local k first=1
    for k in "${ROWS[@]}" relay lat-warden lat-warden-noidle lat-direct lat-tinyproxy lat-relay hold-warden hold-tinyproxy; do
        [[ -n "${NOTE[$k]:-}" ]] || continue
        (( first )) && { echo; first=0; }
        printf -- '- %s: %s\n' "$k" "${NOTE[$k]}"
    done
}

render_section() {
    cat <<EOF
## $SECTION

<!-- Generated by bench/proxy.sh; re-run \`make bench\` instead of editing this section. -->

The same load client (\`bench/proxyload.c\`) talks to the same upstream servers
(\`bench/upstream.c\`, on the host's 127.0.0.1) directly, through tinyproxy, and
from inside a warden sandbox through warden's proxy. The warden client runs
beside ${IDLE} idle \`sleep\` processes (${PROCS:-n/a} processes in the sandbox's
\`/proc\` during the run), because attribution looks at every process of the
sandbox on every connection. Produced by \`make bench\` (which runs
\`bash bench/proxy.sh\`). Raw output: \`build/bench/proxy-*.out\`.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
$(machine_info)
$(tool_versions)

**Verdicts:**

- **${V_P50}** — ${T_P50}
- **${V_P99}** — ${T_P99}
- **${V_TPUT}** — ${T_TPUT}

### Connection set-up (µs)

Connections one after another, in ${ROUNDS} rounds that take turns between the
paths (the order rotating each round; ${WARMUP} uncounted connections at the
start of each run), so that other load on the machine is spread over all of
them; percentiles are over the merged samples. *Ready*:
from \`socket()\` to the proxy's \`200\` (direct: \`connect()\` returned).
*First echo*: until one byte has gone through and come back from the echo
server — the first moment the connection is usable both ways. *Added* is the
path's first-echo percentile minus the direct one; it includes attribution,
the policy decision, the proxy's own connect to the upstream and one extra hop
each way. The minimal relay (\`bench/relay.c\`: one epoll loop, the CONNECT
line, a blocking connect to 127.0.0.1, splice both ways; no policy, no
attribution, no audit, no name) is the floor: what any proxy that terminates
TCP adds on this machine before it does anything of its own.

$(latency_table)

### Short requests (forward proxy)

\`GET http://${UPNAME}:PORT/\` (\`Connection: close\`, 2-byte body; direct: origin
form), ${CONC} in flight, counted for ${RPS_SECONDS} s after 1 s of warm-up; each
request is a new connection through the proxy and, for warden, a new
attribution.

$(rps_table)

### Tunnel throughput

One tunnel per run, $(awk -v b="$BYTES" 'BEGIN {printf "%.0f MiB", b / 1048576}') per run, median of ${REPS} runs; MB/s = 10^6
bytes/s. Upload: from the first byte sent until the sink has counted the
last; download: from the request until the last byte is read. *Download EOF
lost*: runs in which the upstream's end of file did not reach the client
within 2 s after the last byte.

$(tput_table)

### Memory with many tunnels

${TUNNELS} CONNECT tunnels to the echo server, each checked with a one-byte
echo, held open; at most ${HOLD_SECONDS} s to open them (\`BENCH_PROXY_HOLD_SECONDS\`
raises that). RSS is the proxy
process's \`VmRSS\` before the first tunnel and its \`VmHWM\` with all of them
open (\`/proc/PID/status\`; tinyproxy is started afresh for this). Kernel
socket memory is not in RSS.

$(hold_table)
$(hold_progress)
$(hold_shortfall)
$(notes)
${TUNNELS_NOTE:+
Tunnel count: ${TUNNELS_NOTE}.
}
Method notes:

- Client and upstream are single-threaded epoll/blocking C programs built
  with \`cc -O2 -static\`; the client inside the sandbox is the same binary,
  allowed by exact path in the policy below. Only 127.0.0.1 is used.
- The direct and tinyproxy clients run on the host, the warden client in the
  sandbox's network namespace (warden's listener is there); each proxied
  connection is two TCP connections in every case.
- On ${NPROC} CPUs the proxied rows run three busy processes (client, proxy,
  upstream) where the direct row runs two, which weighs on throughput and
  requests per second; the load average above shows what else was running.

Commands (\`<tmp>\` is a scratch directory; ports are chosen per run):

\`\`\`
EOF
    local row
    for row in "${LAT_ROWS[@]}"; do
        printf '# %s: set-up latency (each round)\n%s\n' "${LABEL[$row]}" "${CMDS[lat-$row]:-(not run)}"
    done
    printf '# %s: throughput\n%s\n' "${LABEL[relay]}" "${CMDS[relay]:-(not run)}"
    for row in direct tinyproxy; do
        printf '# %s: requests per second, throughput\n%s\n' "${LABEL[$row]}" \
            "$(printf '%s\n' "${CMDS[$row]:-(not run)}" | sed -e "s|$SCRATCH|<tmp>|g" -e "s|$ROOT|<repo>|g")"
    done
    for row in warden warden-noidle; do
        printf '# %s: requests per second%s\n%s\n' "${LABEL[$row]}" \
            "$([[ "$row" == warden ]] && echo ", throughput")" "${CMDS[$row]:-(not run)}"
    done
    printf '# tunnel hold, warden\n%s\n' "${CMDS[hold-warden]:-(not run)}"
    printf '# tunnel hold, tinyproxy\n%s\n' "${CMDS[hold-tinyproxy]:-(not run)}"
    # shellcheck disable=SC2016  # literal backquotes (markdown)
    printf '```\n\nPolicy (`<tmp>/policy.yaml`):\n\n```yaml\n'
    sed -e "s|$SCRATCH|<tmp>|g" "$POLICY"
    # shellcheck disable=SC2016  # literal backquotes (markdown)
    printf '```\n\ntinyproxy configuration (`<tmp>/tinyproxy-main.conf`):\n\n```\n'
    if [[ -f "$SCRATCH/tinyproxy-main.conf" ]]; then
        sed -e "s|$SCRATCH|<tmp>|g" "$SCRATCH/tinyproxy-main.conf"
    else
        echo "(tinyproxy not run)"
    fi
    printf '```\n'
}

# ---------------------------------------------------------------------------

main() {
    cd "$ROOT"
    need_warden
    need_tool cc gcc
    NPROC="$(nproc)"
    LOAD_BEFORE="$(loadavg)"
    log "load average before: $LOAD_BEFORE"

    mkdir -p "$BENCH_DIR"
    rm -f "$BENCH_DIR"/proxy-*.out "$BENCH_DIR"/proxy-*.err "$BENCH_DIR"/proxy-*.samples
    make_scratch proxybench

    build_tools
    set_fd_limits
    start_upstream
    prepare_sandbox

    # If warden cannot run the client at all, there is nothing to measure.
    local probe_rc=0
    in_sandbox probe 0 "$SCRATCH/probe.out" "$SCRATCH/probe.err" \
        "./proxyload latency 127.0.0.1:3128 $UPNAME:$PORT_ECHO 10 0" || probe_rc=$?
    if (( probe_rc != 0 )) || ! grep -q '^latency ' "$SCRATCH/probe.out"; then
        die "warden could not run the benchmark client (exit $probe_rc): $(one_line 300 <"$SCRATCH/probe.err")"
    fi

    if ! command -v tinyproxy >/dev/null; then
        NOTE[tinyproxy]="not installed (Debian package tinyproxy-bin; scripts/deps.sh bench installs it)"
    elif ! start_tinyproxy main; then
        NOTE[tinyproxy]="tinyproxy did not start: $(one_line 300 <"$SCRATCH/tinyproxy-main.out")"
    fi
    [[ -z "${NOTE[tinyproxy]:-}" ]] || log "tinyproxy: ${NOTE[tinyproxy]}"

    start_relay
    latency_rounds
    run_relay_tput
    [[ -n "${RELAY_PID:-}" ]] && kill "$RELAY_PID" 2>/dev/null
    run_warden warden all
    run_warden warden-noidle rps
    run_host direct direct 127.0.0.1
    run_host tinyproxy "127.0.0.1:$TP_PORT" 127.0.0.1
    stop_tinyproxy
    # Before the tunnel holds: tinyproxy's ten thousand threads alone would
    # send the 1-minute load average far up.
    LOAD_AFTER="$(loadavg)"
    log "load average after the timed runs: $LOAD_AFTER"

    hold_warden
    if command -v tinyproxy >/dev/null; then
        hold_tinyproxy
    else
        NOTE[hold-tinyproxy]="${NOTE[tinyproxy]}"
    fi
    compute_verdicts
    local section
    section="$(mktemp)"
    render_section >"$section"
    cp "$section" "$BENCH_DIR/proxy.md"
    update_doc "$section"
    rm -f "$section"

    echo
    latency_table
    echo
    rps_table
    echo
    tput_table
    echo
    hold_table
    echo
    echo "Verdicts: $V_P50 — $T_P50"
    echo "          $V_P99 — $T_P99"
    echo "          $V_TPUT — $T_TPUT"
    echo "Load average: $LOAD_BEFORE at the start, $LOAD_AFTER after the timed runs"
    echo "Written: docs/benchmarks.md (## $SECTION), raw data in build/bench/"

    if [[ "$V_P50$V_P99$V_TPUT" == *UNKNOWN* ]]; then
        return 1
    fi
    if [[ "$V_P50$V_P99$V_TPUT" == *MISS* ]] && strict; then
        return 1
    fi
    return 0
}

main "$@"
