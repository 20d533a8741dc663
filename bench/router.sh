#!/usr/bin/env bash
# bench/router.sh — what the privacy router adds to a model request
# (`make bench`).
#
# One load client (bench/routerload.c) sends the same 4 KB Anthropic
# Messages request, made here from fixed English prose (nothing in it is
# sensitive: it must route to the preferred provider), to one provider
# stand-in (the "llm" port of bench/upstream.c on the host's 127.0.0.1: a
# small fixed JSON answer on a kept-alive connection), three ways:
#   direct   the client on the host posts to the provider itself (the floor)
#   warden   the client in a warden sandbox posts to http://inference.local
#            (127.0.0.1:80 inside): the router reads the body whole, has the
#            built-in classifier (warden-guard, next to warden) classify it,
#            records the decision (an inference.route audit event), picks the
#            provider and forwards; the response streams back
#   chain    the same with the example Python classifier
#            (examples/classifier.py, `classifiers:`) chained after the
#            built-in one, to show what a second classifier costs
# What is measured, per row:
#   - latency: N POST requests one after another on one kept-alive
#     connection, each from its first byte written to the last byte of the
#     response read, after WARMUP uncounted ones; in ROUNDS interleaved
#     rounds (the order of the rows rotating each round) whose samples are
#     pooled, so that load that comes and goes weighs on every row
#   - where the time goes (warden rows): the CPU time of the supervisor
#     and of the classifier sidecars over the counted requests, per
#     request; and each classifier's latency as the router measured it
#     (latency_us of the inference.route audit records)
#   - requests per second with CONCURRENCY connections (one round)
#   - a profile of the supervisor (perf record --call-graph dwarf, when
#     perf is installed and allowed) over one more warden run: the share of
#     its CPU time spent in each stage of a routed request
#   - placement (on a machine with more than one CPU): PIN_ROUNDS more
#     rounds of the direct and warden rows with every process of the
#     exchange held on CPU 0 (taskset), because where the scheduler puts
#     the four processes decides much of the result on a small VM: a wakeup
#     that crosses to another vCPU costs far more there than a switch on
#     the same one
# and writes the "## Privacy router" section of docs/benchmarks.md.
# Target (the privacy-router issue): the router adds at most 150 µs p50 per
# request end to end (warden's p50 minus direct's, pooled over the rounds):
# PASS or MISS. p99 and the chained row are reported without a target.
#
# The client and the stand-in are built here with `cc -O2 -static`, so the
# same client binary runs on the host and inside the sandbox. Everything
# stays on 127.0.0.1; runs offline. The built-in classifier must be next to
# warden (meson builds it there); without it the router refuses every
# request and the run stops.
#
# As root the agent (and the classifiers) run as nobody, so the workdir with
# the client is handed to that uid; otherwise the agent is the caller.
#
# Environment knobs:
#   WARDEN=path                   binary under test (default build/warden)
#   BENCH_ROUTER_N=N              counted requests per row and round (2000)
#   BENCH_ROUTER_WARMUP=W         uncounted requests before them (200)
#   BENCH_ROUTER_ROUNDS=R         interleaved rounds (default 7)
#   BENCH_ROUTER_RPS_SECONDS=S    counted seconds per rps row (default 3)
#   BENCH_ROUTER_CONCURRENCY=C    connections of the rps rows (default 8)
#   BENCH_ROUTER_CHAIN=0          leave out the chained-classifier row
#   BENCH_ROUTER_PERF=0           no profile (default: profile when perf works)
#   BENCH_ROUTER_PERF_N=N         requests of the profiled run (default 10000)
#   BENCH_ROUTER_PIN_ROUNDS=R     rounds of the one-CPU placement runs (3; 0: none)
#   BENCH_STRICT=1                exit 1 on MISS (default: reported, exit 0)
#
# Takes about a minute on a 2-CPU VM.
#
# Exit status: 0 with a verdict (MISS too, unless BENCH_STRICT=1); 1 when
# warden or its classifier is missing or broken, or the direct or warden row
# could not be measured (the section is still written, saying what failed).
set -euo pipefail

# Numbers are formatted and parsed by awk/printf; keep the decimal point a dot.
export LC_ALL=C
# The agent's identity must not depend on who invoked sudo (see tests/lib.sh).
unset SUDO_UID SUDO_GID SUDO_USER

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BENCH_DIR="$ROOT/build/bench"
readonly DOC="$ROOT/docs/benchmarks.md"
readonly SECTION="Privacy router"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

WARDEN="${WARDEN:-build/warden}"
readonly N="${BENCH_ROUTER_N:-2000}"
readonly WARMUP="${BENCH_ROUTER_WARMUP:-200}"
readonly ROUNDS="${BENCH_ROUTER_ROUNDS:-7}"
readonly RPS_SECONDS="${BENCH_ROUTER_RPS_SECONDS:-3}"
readonly CONC="${BENCH_ROUTER_CONCURRENCY:-8}"
readonly WANT_CHAIN="${BENCH_ROUTER_CHAIN:-1}"
readonly WANT_PERF="${BENCH_ROUTER_PERF:-1}"
readonly PERF_N="${BENCH_ROUTER_PERF_N:-10000}"
readonly PIN_ROUNDS="${BENCH_ROUTER_PIN_ROUNDS:-3}"
readonly TARGET_P50=150
readonly REQ_PATH=/v1/messages
readonly BODY_BYTES=4096
readonly MODEL=claude-sonnet-4
# Longest one run may take before it counts as hung.
readonly RUN_TIMEOUT=120
readonly PYTHON=/usr/bin/python3

ROWS=(direct warden chain)
readonly SANDBOX_ROWS_ALL=(warden chain)
declare -A LABEL=(
    [direct]="direct (no router)"
    [warden]="warden, built-in classifier"
    [chain]="warden, built-in + Python classifier"
)

SCRATCH=""
UP_PID=""
SANDBOXES=()
RL="" UP="" WORK="" PORT="" BODY="" GUARD="" GUARD_KIND=""
LOAD_BEFORE="" LOAD_AFTER="" NPROC=""
declare -A NOTE=() CMDS=() POLICY=() STAT=() SENT=() AUDIT_N=() AUDIT_BAD=()
declare -A CPU_SUP=() CPU_CLS=() ROUND_P50=() ROUTE=() RPS=()
PROFILE_NOTE="" PROFILE_CPU=""
PIN_NOTE="" PIN_DIRECT="" PIN_WARDEN=""
SB_ARGV=()

cleanup() {
    stop_sandboxes
    if [[ -n "$UP_PID" ]]; then kill "$UP_PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    if [[ -n "$SCRATCH" ]]; then rm -rf "$SCRATCH"; fi
}

# The median of the numbers on stdin (separated by commas or white space), or n/a.
median_stdin() {
    tr -s ', ' '\n' | { grep -E '^-?[0-9]+(\.[0-9]+)?$' || true; } | sort -g | awk '{v[NR] = $1} END {
        if (!NR) print "n/a"
        else if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]
        else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# pct P: the nearest-rank P-th percentile of the numbers on stdin, or n/a.
pct() {
    sort -g | awk -v p="$1" '{x[NR] = $1}
        END { if (!NR) { print "n/a"; exit }
              k = int(p * NR / 100); if (k < p * NR / 100) k++; if (k < 1) k = 1; printf "%.1f\n", x[k] }'
}

# ---------------------------------------------------------------------------
# Setting up
# ---------------------------------------------------------------------------

build_tools() {
    RL="$SCRATCH/routerload"
    UP="$SCRATCH/upstream"
    build_static routerload "is libc6-dev installed?" -pthread
    build_static upstream "is libc6-dev installed?"
}

# The built-in classifier, where warden looks for it first (next to
# itself). A script there is a stand-in (not the real classifier), and the
# report says so.
find_guard() {
    GUARD="$(dirname "$WARDEN")/warden-guard"
    [[ -x "$GUARD" ]] || die "the built-in classifier is not at ${GUARD#"$ROOT"/}: warden would refuse every inference request. Build it with warden (make), or point WARDEN= at a build that has it."
    if [[ "$(head -c 2 "$GUARD")" == "#!" ]]; then
        GUARD_KIND="a script stand-in ($(sed -n '2,5{/^#/p}' "$GUARD" | sed 's/^# *//' | one_line); exec: $(grep -m1 '^exec' "$GUARD" | cut -c1-120)), NOT the real warden-guard"
        log "warning: ${GUARD#"$ROOT"/} is a script, not the built-in classifier: $GUARD_KIND"
    else
        GUARD_KIND="warden-guard ($(stat -c %s "$GUARD") bytes)"
    fi
}

start_upstream() {
    "$UP" "$SCRATCH/ports" >"$BENCH_DIR/router-upstream.log" 2>&1 &
    UP_PID=$!
    wait_file "$SCRATCH/ports" 5 written || die "the provider stand-in did not start: $(one_line <"$BENCH_DIR/router-upstream.log")"
    PORT="$(awk '$1 == "llm" {print $2}' "$SCRATCH/ports")"
    [[ -n "$PORT" ]] || die "bench/upstream.c has no llm port"
}

# The request body: an Anthropic Messages request of exactly BODY_BYTES
# bytes whose one user message is harmless English prose (no names,
# numbers, addresses, health terms or secrets), the paragraph below repeated
# and cut to fit. Always the same bytes.
make_body() {
    local head tail prose text room
    head="{\"model\":\"$MODEL\",\"max_tokens\":512,\"messages\":[{\"role\":\"user\",\"content\":\""
    tail='"}]}'
    prose="Please help me rewrite the following notes about our harbour town for the visitor \
guide. The old lighthouse stands at the end of the stone pier, and on clear evenings its \
lamp can be seen from the hills above the bay. Fishing boats leave before dawn and return \
in the early afternoon, when the market by the water opens and the cafes put their tables \
out along the quay. The walking path follows the cliffs to the north, past a small chapel \
and a meadow full of wild flowers in early summer, and comes back through the woods by the \
river. Visitors often ask where to find the best view of the sunset; the answer is the \
bench beside the lifeboat station, where the light turns the whole harbour gold. The \
museum in the former customs house tells the story of the shipyards, the sailmakers and \
the families who built the town, with models of the schooners that once carried slate and \
timber along the coast. Keep the tone warm and friendly, use short paragraphs, and suggest \
a title for each section. "
    room=$(( BODY_BYTES - ${#head} - ${#tail} ))
    text=""
    while (( ${#text} < room )); do text+="$prose"; done
    text="${text:0:room-1}."
    BODY="$SCRATCH/body.json"
    printf '%s%s%s' "$head" "$text" "$tail" >"$BODY"
    [[ "$(stat -c %s "$BODY")" == "$BODY_BYTES" ]] || die "the request body is not $BODY_BYTES bytes"
    if [[ -x "$PYTHON" ]]; then
        "$PYTHON" -c 'import json, sys; json.load(open(sys.argv[1]))' "$BODY" ||
            die "the request body is not valid JSON"
    fi
    cp "$BODY" "$BENCH_DIR/router-body.json"
}

# The workdir holds the client and the body. One provider, `bench`, may
# receive every tier; one route sends every model to it. The chained row
# adds the example classifier (copied to the scratch directory, which it
# may read).
prepare_sandbox() {
    local row
    WORK="$SCRATCH/work"
    mkdir -p "$WORK"
    cp "$RL" "$WORK/routerload"
    cp "$BODY" "$WORK/body.json"
    chmod 755 "$WORK" "$WORK/routerload"
    chmod 644 "$WORK/body.json"
    if (( EUID == 0 )); then
        chown -R 65534:65534 "$WORK"
    fi
    if [[ "$WANT_CHAIN" == 0 ]]; then
        NOTE[chain]="left out (BENCH_ROUTER_CHAIN=0)"
    elif [[ ! -x "$PYTHON" ]]; then
        NOTE[chain]="not run: $PYTHON is not installed (Debian package python3)"
    elif [[ ! -f "$ROOT/examples/classifier.py" ]]; then
        NOTE[chain]="not run: examples/classifier.py is missing"
    else
        mkdir -p "$SCRATCH/classifier"
        cp "$ROOT/examples/classifier.py" "$SCRATCH/classifier/classifier.py"
        chmod 755 "$SCRATCH/classifier"
        chmod 644 "$SCRATCH/classifier/classifier.py"
    fi
    for row in "${SANDBOX_ROWS_ALL[@]}"; do
        [[ -z "${NOTE[$row]:-}" ]] || continue
        POLICY[$row]="$SCRATCH/policy-$row.yaml"
        {
            cat <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$(system_ro)]
network_policies: {}
inference:
  providers:
    bench: {format: anthropic, base_url: "http://127.0.0.1:$PORT", max_tier: restricted}
  routes:
    - {models: ["*"], providers: [bench]}
EOF
            if [[ "$row" == chain ]]; then
                cat <<EOF
classifiers:
  - name: example
    command: [$PYTHON, $SCRATCH/classifier/classifier.py]
    read_only: [$SCRATCH/classifier]
EOF
            fi
        } >"${POLICY[$row]}"
        chmod 644 "${POLICY[$row]}"
        "$WARDEN" policy check "${POLICY[$row]}" >/dev/null 2>"$SCRATCH/policy.err" ||
            die "the $row policy does not check: $(one_line <"$SCRATCH/policy.err")"
    done
}

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

# sandbox_argv ROW KEY NAME AUDIT CMD...: the `warden run` of CMD under
# ROW's policy, its trail written to AUDIT, into SB_ARGV; the command line
# goes to CMDS[KEY] the first time.
sandbox_argv() {
    local row="$1" key="$2" name="$3" audit="$4"
    shift 4
    SB_ARGV=("$WARDEN" run --no-tty --name "$name" --policy "${POLICY[$row]}" --workdir "$WORK"
        --audit-log "$audit" -- "$@")
    [[ -n "${CMDS[$key]:-}" ]] || CMDS[$key]="$(show_cmd "${SB_ARGV[@]}")"
    SANDBOXES+=("$name")
}

# The children of PID: /proc's list where the kernel keeps one, else ps.
children() {
    if [[ -r /proc/"$1"/task/"$1"/children ]]; then
        cat /proc/"$1"/task/*/children 2>/dev/null || true
    else
        ps -o pid= --ppid "$1" 2>/dev/null || true
    fi
}

# The classifier sidecars of supervisor PID: its children that are not
# warden itself (the other child is the sandbox's init, a warden process).
sidecars() {
    local c exe
    for c in $(children "$1"); do
        exe="$(readlink "/proc/$c/exe" 2>/dev/null || true)"
        [[ -n "$exe" && "$exe" != "$WARDEN" ]] && printf '%s\n' "$c"
    done
}

sidecars_cpu_ns() {
    local p t=0
    for p in $(sidecars "$1"); do
        t=$(( t + $(cpu_ns "$p") ))
    done
    printf '%s' "$t"
}

# latency_sandboxed ROW ROUND OUT ERR AUDIT: the latency run of a warden
# row, with the CPU time of the supervisor and of the classifier sidecars
# read just before the first and just after the last counted request (the
# client waits for us through files in the workdir: routerload's SYNCDIR),
# per request, into CPU_SUP[ROW] and CPU_CLS[ROW] (one number per round).
# Returns warden's status.
latency_sandboxed() {
    local row="$1" r="$2" out="$3" err="$4" audit="$5" rc=0 wpid pid="" i s0 s1 c0 c1
    local name="routerbench-$$-$row-r$r"
    rm -f "$WORK"/lat.* "$WORK/lat-samples"
    sandbox_argv "$row" "$row" "$name" "$audit" \
        ./routerload latency 127.0.0.1:80 "$REQ_PATH" body.json "$N" "$WARMUP" lat-samples "$WORK"
    (cd "$WORK" && exec timeout "$RUN_TIMEOUT" "${SB_ARGV[@]}") </dev/null >"$out" 2>"$err" &
    wpid=$!
    # The supervisor is the `warden run` process; `warden ps` names it.
    for ((i = 0; i < 200; i++)); do
        pid="$("$WARDEN" ps 2>/dev/null | awk -v n="$name" '$1 == n {print $2}')"
        [[ -n "$pid" ]] && break
        kill -0 "$wpid" 2>/dev/null || break
        sleep 0.025
    done
    if [[ -n "$pid" ]] && wait_for "$WORK/lat.ready" "$wpid" 60; then
        s0="$(cpu_ns "$pid")"
        c0="$(sidecars_cpu_ns "$pid")"
        touch "$WORK/lat.go"
        if wait_for "$WORK/lat.end" "$wpid" "$RUN_TIMEOUT"; then
            s1="$(cpu_ns "$pid")"
            c1="$(sidecars_cpu_ns "$pid")"
            local vs vc
            vs="$(awk -v a="$s0" -v b="$s1" -v n="$N" 'BEGIN {printf "%.1f", (b - a) / 1e3 / n}')"
            vc="$(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN {printf "%.1f", (b - a) / 1e3 / n}')"
            CPU_SUP[$row]+="$vs "
            CPU_CLS[$row]+="$vc "
            printf '%s r%s supervisor_cpu_us_per_request=%s classifiers_cpu_us_per_request=%s sidecars=%s\n' \
                "$row" "$r" "$vs" "$vc" "$(sidecars "$pid" | wc -l)" >>"$BENCH_DIR/router-cpu.out"
        fi
        touch "$WORK/lat.done"
    fi
    wait "$wpid" || rc=$?
    return "$rc"
}

# The inference.route records of a trail: "ALLOWED BAD", BAD counting the
# records that are not an allow to provider bench.
count_routes() {
    local all=0 ok=0
    if [[ -f "$1" ]]; then
        all="$(grep -c '"event":"inference.route"' "$1" || true)"
        ok="$(grep '"event":"inference.route"' "$1" | grep '"decision":"allow"' |
            grep -c '"provider":"bench"' || true)"
    fi
    printf '%s %s' "${ok:-0}" "$(( ${all:-0} - ${ok:-0} ))"
}

# run_once ROW ROUND: one latency run; samples go to
# build/bench/router-lat-ROW-rROUND.samples.
run_once() {
    local row="$1" r="$2" rc=0
    local samples="$BENCH_DIR/router-lat-$row-r$r.samples"
    local out="$BENCH_DIR/router-$row-r$r.out" err="$BENCH_DIR/router-$row-r$r.err"
    local audit="$BENCH_DIR/router-audit-$row-r$r.jsonl"
    [[ -z "${NOTE[$row]:-}" ]] || return 0
    if [[ "$row" == direct ]]; then
        local cmd=("$RL" latency "127.0.0.1:$PORT" "$REQ_PATH" "$BODY" "$N" "$WARMUP" "$samples")
        [[ -n "${CMDS[direct]:-}" ]] || CMDS[direct]="$(show_cmd "${cmd[@]}")"
        timeout "$RUN_TIMEOUT" "${cmd[@]}" </dev/null >"$out" 2>"$err" || rc=$?
    else
        rm -f "$audit"
        latency_sandboxed "$row" "$r" "$out" "$err" "$audit" || rc=$?
        [[ -f "$WORK/lat-samples" ]] && cp "$WORK/lat-samples" "$samples"
        local counts
        read -r -a counts <<<"$(count_routes "$audit")"
        AUDIT_N[$row]=$(( ${AUDIT_N[$row]:-0} + counts[0] ))
        AUDIT_BAD[$row]=$(( ${AUDIT_BAD[$row]:-0} + counts[1] ))
        SENT[$row]=$(( ${SENT[$row]:-0} + N + WARMUP ))
    fi
    # Where the responses said they went: the same in every run, or "mixed".
    local route changes
    route="$(kv "$out" latency provider)/$(kv "$out" latency tier)"
    changes="$(kv "$out" latency route_changes)"
    if [[ -n "${ROUTE[$row]:-}" && "${ROUTE[$row]}" != "$route" ]] || [[ "${changes:-0}" != 0 ]]; then
        ROUTE[$row]="mixed (${ROUTE[$row]:-} and $route; $changes changes in round $r)"
    elif [[ -z "${ROUTE[$row]:-}" ]]; then
        ROUTE[$row]="$route"
    fi
    if (( rc != 0 )) || [[ ! -s "$samples" ]]; then
        local cl wl
        cl="$( { grep '^routerload:' "$err" || true; } | head -n 3 | one_line)"
        wl="$( { grep -v '^routerload:' "$err" || true; } | head -n 3 | one_line)"
        NOTE[$row]="round $r failed (exit $rc). Client: ${cl:-nothing}. Other stderr (warden, shell): ${wl:-nothing}"
        if [[ "$row" != direct ]]; then
            local a
            a="$(audit_failures "$audit" | one_line)"
            [[ -z "$a" ]] || NOTE[$row]+=" — audit trail: $a"
        fi
        log "$row: ${NOTE[$row]}"
        return 0
    fi
    ROUND_P50[$row]+="$(kv "$out" latency req_p50) "
}

# rps_once ROW: CONCURRENCY connections for RPS_SECONDS, once per row.
rps_once() {
    local row="$1" rc=0 out="$BENCH_DIR/router-rps-$1.out" err="$BENCH_DIR/router-rps-$1.err"
    [[ -z "${NOTE[$row]:-}" ]] || return 0
    if [[ "$row" == direct ]]; then
        local cmd=("$RL" rps "127.0.0.1:$PORT" "$REQ_PATH" "$BODY" "$RPS_SECONDS" "$CONC")
        CMDS[direct-rps]="$(show_cmd "${cmd[@]}")"
        timeout "$RUN_TIMEOUT" "${cmd[@]}" </dev/null >"$out" 2>"$err" || rc=$?
    else
        sandbox_argv "$row" "$row-rps" "routerbench-$$-$row-rps" "$BENCH_DIR/router-audit-$row-rps.jsonl" \
            ./routerload rps 127.0.0.1:80 "$REQ_PATH" body.json "$RPS_SECONDS" "$CONC"
        (cd "$WORK" && timeout "$RUN_TIMEOUT" "${SB_ARGV[@]}") </dev/null >"$out" 2>"$err" || rc=$?
    fi
    if (( rc != 0 )); then
        RPS[$row]="failed (exit $rc): $( { grep '^routerload:' "$err" || cat "$err"; } | head -n 2 | one_line)"
        log "$row rps: ${RPS[$row]}"
        return 0
    fi
    RPS[$row]="$(kv "$out" rps rps)"
    STAT[$row.rps_p50]="$(kv "$out" rps req_p50)"
    STAT[$row.rps_p99]="$(kv "$out" rps req_p99)"
}

# ROUNDS rounds, the order of the rows rotating each round, so that whatever
# else the machine does is spread over every row instead of landing on one.
measure() {
    local r k i row
    for ((r = 1; r <= ROUNDS; r++)); do
        log "round $r of $ROUNDS"
        for ((k = 0; k < ${#ROWS[@]}; k++)); do
            i=$(( (k + r - 1) % ${#ROWS[@]} ))
            run_once "${ROWS[$i]}" "$r"
        done
    done
    for row in "${ROWS[@]}"; do
        cat "$BENCH_DIR/router-lat-$row"-r*.samples 2>/dev/null >"$BENCH_DIR/router-lat-$row.samples" || true
        stats "$row"
    done
    log "requests per second, $CONC connections"
    for row in "${ROWS[@]}"; do
        rps_once "$row"
    done
}

# Nearest-rank p50/p90/p99/max and the mean of a samples file, into STAT[ROW.KEY].
stats() {
    local row="$1" f="$BENCH_DIR/router-lat-$1.samples" v
    [[ -s "$f" ]] || return 0
    STAT[$row.n]="$(wc -l <"$f")"
    for v in 50 90 99 100; do
        STAT[$row.p$v]="$(pct "$v" <"$f")"
    done
    STAT[$row.mean]="$(awk '{s += $1} END {if (NR) printf "%.1f", s / NR}' "$f")"
}

# classifier_latency ROW NAME P: the P-th percentile of classifier NAME's
# latency_us over ROW's latency trails (warm-up requests included).
classifier_latency() {
    local f
    for f in "$BENCH_DIR/router-audit-$1"-r[0-9]*.jsonl; do
        [[ -f "$f" ]] || continue
        grep -o "\"name\":\"$2\",\"decision\":\"[a-z]*\",\"tier\":\"[a-z]*\",\"latency_us\":[0-9]*" "$f" || true
    done | sed 's/.*"latency_us"://' | pct "$3"
}

# placement: PIN_ROUNDS rounds of the direct and warden latency runs with
# the client, the provider stand-in, the supervisor and the classifier all
# held on CPU 0 (taskset; a sandbox's processes inherit warden's mask),
# into PIN_DIRECT and PIN_WARDEN (the rounds' p50s). The stand-in is
# pinned for these runs only and given its mask back.
placement() {
    local r mask out err rc
    if (( PIN_ROUNDS == 0 )); then PIN_NOTE="not run (BENCH_ROUTER_PIN_ROUNDS=0)"; return 0; fi
    if (( NPROC < 2 )); then PIN_NOTE="not run: one CPU"; return 0; fi
    command -v taskset >/dev/null || { PIN_NOTE="not run: taskset is not installed (Debian package util-linux)"; return 0; }
    [[ -z "${NOTE[direct]:-}${NOTE[warden]:-}" ]] || { PIN_NOTE="not run: a row failed"; return 0; }
    log "placement: $PIN_ROUNDS rounds on CPU 0"
    mask="$(taskset -pc "$UP_PID" | sed 's/.*: //')"
    taskset -pc 0 "$UP_PID" >/dev/null || { PIN_NOTE="not run: taskset failed"; return 0; }
    for ((r = 1; r <= PIN_ROUNDS; r++)); do
        out="$BENCH_DIR/router-pinned-direct-r$r.out"
        taskset -c 0 timeout "$RUN_TIMEOUT" "$RL" latency "127.0.0.1:$PORT" "$REQ_PATH" "$BODY" "$N" "$WARMUP" \
            </dev/null >"$out" 2>"${out%.out}.err" && PIN_DIRECT+="$(kv "$out" latency req_p50) "
        out="$BENCH_DIR/router-pinned-warden-r$r.out"
        err="${out%.out}.err"
        sandbox_argv warden pinned "routerbench-$$-pinned-r$r" "$BENCH_DIR/router-audit-pinned-r$r.jsonl" \
            ./routerload latency 127.0.0.1:80 "$REQ_PATH" body.json "$N" "$WARMUP"
        rc=0
        (cd "$WORK" && exec taskset -c 0 timeout "$RUN_TIMEOUT" "${SB_ARGV[@]}") </dev/null >"$out" 2>"$err" || rc=$?
        (( rc == 0 )) && PIN_WARDEN+="$(kv "$out" latency req_p50) "
    done
    taskset -pc "$mask" "$UP_PID" >/dev/null || true
    [[ -n "$PIN_DIRECT" && -n "$PIN_WARDEN" ]] || PIN_NOTE="failed (see build/bench/router-pinned-*)"
}

# The stages of a routed request in the supervisor, as "FUNCTION|what it
# is": inclusive shares of its CPU time (children counted), so they may
# overlap where one calls another (none of these does).
readonly PROFILE_STAGES=(
    "infer_inspect_body|reading model, stream and metadata from the body (route.c: a scanner of the top-level object)"
    "guard_classify|handing the body to the classifiers (guard protocol frame encoded, written to the sidecar's socket)"
    "cl_read|reading the classifier's verdict (recvmsg with credentials, frame decoded)"
    "l7_emit|the inference.route audit record (JSON built, hashed into the chain, written)"
    "__libc_send|send() to the provider and back to the agent (the kernel's loopback TCP path included)"
    "__libc_recv|recv() from the agent and the provider"
    "epoll_wait|epoll_wait (the event loop)"
    "http_parse_request|parsing the request head"
)

# profile: one more warden run of PERF_N requests; perf samples the
# supervisor (all threads, on-CPU time, DWARF call graphs) from the first
# counted request to the last; the report gives each stage's share.
profile() {
    local name="routerbench-$$-profile" data="$SCRATCH/perf.data" out="$BENCH_DIR/router-profile.out"
    local err="$BENCH_DIR/router-profile.err" report="$BENCH_DIR/router-profile.txt"
    local wpid pid="" ppid i rc=0 c0 c1 st fn what share
    [[ "$WANT_PERF" != 0 ]] || { PROFILE_NOTE="not taken (BENCH_ROUTER_PERF=0)"; return 0; }
    command -v perf >/dev/null || { PROFILE_NOTE="not taken: perf is not installed (Debian package linux-perf)"; return 0; }
    [[ -z "${NOTE[warden]:-}" ]] || { PROFILE_NOTE="not taken: the warden row failed"; return 0; }
    log "profile of the supervisor over $PERF_N requests"
    rm -f "$WORK"/lat.* "$WORK/lat-samples"
    sandbox_argv warden profile "$name" "$BENCH_DIR/router-audit-profile.jsonl" \
        ./routerload latency 127.0.0.1:80 "$REQ_PATH" body.json "$PERF_N" "$WARMUP" lat-samples "$WORK"
    (cd "$WORK" && exec timeout "$RUN_TIMEOUT" "${SB_ARGV[@]}") </dev/null >"$out" 2>"$err" &
    wpid=$!
    for ((i = 0; i < 200; i++)); do
        pid="$("$WARDEN" ps 2>/dev/null | awk -v n="$name" '$1 == n {print $2}')"
        [[ -n "$pid" ]] && break
        kill -0 "$wpid" 2>/dev/null || break
        sleep 0.025
    done
    if [[ -n "$pid" ]] && wait_for "$WORK/lat.ready" "$wpid" 60; then
        perf record -q -F 999 --call-graph dwarf,16384 -p "$pid" -o "$data" \
            >"$BENCH_DIR/router-perf-record.log" 2>&1 &
        ppid=$!
        sleep 0.3    # perf attaches to every thread before the clock starts
        c0="$(cpu_ns "$pid")"
        touch "$WORK/lat.go"
        wait_for "$WORK/lat.end" "$wpid" "$RUN_TIMEOUT" || rc=1
        c1="$(cpu_ns "$pid")"
        kill -INT "$ppid" 2>/dev/null || true
        wait "$ppid" || true
        touch "$WORK/lat.done"
    else
        rc=1
    fi
    wait "$wpid" || rc=$?
    if (( rc != 0 )) || [[ ! -s "$data" ]]; then
        PROFILE_NOTE="not taken: $( { cat "$BENCH_DIR/router-perf-record.log" "$err"; } 2>/dev/null | head -n 3 | one_line)"
        return 0
    fi
    PROFILE_CPU="$(awk -v a="$c0" -v b="$c1" -v n="$PERF_N" 'BEGIN {printf "%.1f", (b - a) / 1e3 / n}')"
    perf report -i "$data" --children --sort symbol --stdio -g none >"$report" 2>/dev/null || true
    for st in "${PROFILE_STAGES[@]}"; do
        fn="${st%%|*}"
        what="${st#*|}"
        share="$(awk -v f="$fn" '$1 ~ /%$/ && $3 == "[.]" && $4 == f { sub("%", "", $1); print $1; exit }' "$report")"
        PROFILE_ROWS+=("$fn|$what|${share:-0}")
    done
    # The functions with the most self time: "NAME SHARE" lines.
    perf report -i "$data" --no-children --sort symbol --stdio -g none 2>/dev/null |
        awk '$1 ~ /%$/ && NF >= 3 { sub("%", "", $1); print $3, $1 }' | head -n 8 >"$report.self" || true
}
PROFILE_ROWS=()

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

machine_info() {
    machine_lines
    load_line "three or four"
    ran_as_line "the agent and the classifiers as nobody"
}

tool_versions() {
    local v
    v="$(warden_version rev)"
    v+="; built-in classifier: $GUARD_KIND"
    if [[ -z "${NOTE[chain]:-}" ]]; then
        v+="; $("$PYTHON" --version 2>&1)"
    fi
    v+="; client and provider stand-in: bench/routerload.c, bench/upstream.c ($(cc --version | head -n1), -O2 -static)"
    printf -- '- Versions: %s\n' "$v"
}

# s ROW KEY: a statistic of the merged rounds, or "n/a".
s() { printf '%s' "${STAT[$1.$2]:-n/a}"; }

# added ROW KEY: ROW's KEY minus direct's, or "—" for direct.
added() {
    [[ "$1" != direct ]] || { printf '—'; return; }
    calc "$(s "$1" "$2")" "$(s direct "$2")" -
}

# The CPU µs per request of ROW (median of the rounds), or "—".
cpu_of() {
    local -n arr="$1"
    # shellcheck disable=SC2086  # one number per round
    if [[ -n "${arr[$2]:-}" ]]; then median ${arr[$2]}; else printf '—'; fi
}

# The added p50 of each round (ROW's p50 minus direct's in the same round).
round_added() {
    local row="$1" i out="" w d
    read -r -a w <<<"${ROUND_P50[$row]:-}"
    read -r -a d <<<"${ROUND_P50[direct]:-}"
    for ((i = 0; i < ${#w[@]} && i < ${#d[@]}; i++)); do
        out+="${out:+, }$(calc "${w[$i]}" "${d[$i]}" -)"
    done
    printf '%s' "${out:-n/a}"
}

latency_table() {
    local row
    echo "| path | requests | p50 | p90 | p99 | max | mean | added p50 | added p99 | supervisor CPU µs/request | classifiers CPU µs/request |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for row in "${ROWS[@]}"; do
        # A row never run is in the notes, not in the table.
        [[ -n "${STAT[$row.n]:-}" || -z "${NOTE[$row]:-}" ]] || continue
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$row]}" \
            "$(s "$row" n)" "$(s "$row" p50)" "$(s "$row" p90)" "$(s "$row" p99)" \
            "$(s "$row" p100)" "$(s "$row" mean)" "$(added "$row" p50)" "$(added "$row" p99)" \
            "$(cpu_of CPU_SUP "$row")" "$(cpu_of CPU_CLS "$row")"
    done
}

rps_table() {
    local row
    echo "| path | requests/s | p50 µs | p99 µs |"
    echo "|---|---:|---:|---:|"
    for row in "${ROWS[@]}"; do
        [[ -z "${NOTE[$row]:-}" ]] || continue
        printf '| %s | %s | %s | %s |\n' "${LABEL[$row]}" "${RPS[$row]:-n/a}" \
            "$(s "$row" rps_p50)" "$(s "$row" rps_p99)"
    done
}

# Sets VERDICT and VTEXT.
VERDICT="" VTEXT=""
compute_verdict() {
    local a50 a99
    a50="$(added warden p50)"
    a99="$(added warden p99)"
    if [[ "$a50" == n/a ]]; then
        VERDICT=UNKNOWN
    elif le "$a50" "$TARGET_P50"; then
        VERDICT=PASS
    else
        VERDICT=MISS
    fi
    VTEXT="the router adds p50 ${a50} µs per 4 KB request over calling the provider directly, pooled over the rounds (target <= ${TARGET_P50} µs; per round: $(round_added warden), median $(round_added warden | median_stdin)); p99 adds ${a99} µs"
}

# Where the time of a routed request goes, from what was measured.
# shellcheck disable=SC2016  # literal backquotes (markdown)
where_time_goes() {
    local b50 b99 e50 e99
    b50="$(classifier_latency warden builtin 50)"
    b99="$(classifier_latency warden builtin 99)"
    printf -- "- CPU per request (median of the rounds): the supervisor (proxy, router, audit writer) %s µs, the built-in classifier %s µs. The supervisor handles a request in one event-loop thread, so nearly all of its CPU time is on the request's path.\n" \
        "$(cpu_of CPU_SUP warden)" "$(cpu_of CPU_CLS warden)"
    printf -- '- The built-in classifier as the router timed it (`latency_us` of the `inference.route` records: request handed over to verdict read): p50 %s µs, p99 %s µs over %s requests. The supervisor waits for it.\n' \
        "$b50" "$b99" "${AUDIT_N[warden]:-0}"
    if [[ -z "${NOTE[chain]:-}" ]]; then
        e50="$(classifier_latency chain example 50)"
        e99="$(classifier_latency chain example 99)"
        printf -- '- Chained after it, the Python classifier (`examples/classifier.py`): p50 %s µs, p99 %s µs as the router timed it; both classify at the same time and the slower one decides. The chain adds p50 %s µs end to end over the built-in classifier alone.\n' \
            "$e50" "$e99" "$(calc "$(s chain p50)" "$(s warden p50)" -)"
    fi
    if [[ -n "$PIN_NOTE" ]]; then
        printf -- '- Placement (every process on one CPU): %s.\n' "$PIN_NOTE"
    else
        local pd pw
        pd="$(median_stdin <<<"$PIN_DIRECT")"
        pw="$(median_stdin <<<"$PIN_WARDEN")"
        printf -- '- Placement: with the client, the provider stand-in, the supervisor and the classifier all held on CPU 0 (`taskset -c 0`, %s more rounds of each row, after the timed ones) the p50 is %s µs direct and %s µs through warden (per round: %s; %s): the router adds %s µs. Left to the scheduler (the verdict above) it adds %s µs: the exchange is a chain of six hand-offs between four processes, and on this VM one that wakes a process on the other vCPU costs tens of microseconds where one on the same vCPU costs a few. Which vCPU each process lands on is the scheduler'"'"'s choice, made when the processes start and kept while they stay busy, so rounds come out either way.\n' \
            "$PIN_ROUNDS" "$pd" "$pw" "$(echo $PIN_DIRECT | sed 's/ /, /g')" "$(echo $PIN_WARDEN | sed 's/ /, /g')" \
            "$(calc "$pw" "$pd" -)" "$(added warden p50)"
    fi
}

# The supervisor's profile: each stage's share of its CPU time and what that
# is per request (the share of the CPU time per request measured without
# perf), then the functions with the most self time.
# shellcheck disable=SC2016  # literal backquotes (markdown)
profile_table() {
    local r fn what share cpu self
    if [[ -n "$PROFILE_NOTE" || ${#PROFILE_ROWS[@]} -eq 0 ]]; then
        printf 'Profile of the supervisor: %s.\n' "${PROFILE_NOTE:-not taken}"
        return 0
    fi
    cpu="$(cpu_of CPU_SUP warden)"
    printf "One more run of the built-in-classifier row (%s requests) with \`perf record -F 999 --call-graph dwarf\` on the supervisor (report: \`build/bench/router-profile.txt\`). Shares are inclusive (callees counted) of the supervisor's on-CPU samples; *µs per request* is that share of the %s µs the supervisor spends per request without perf (with perf attached it spent %s µs).\n\n" \
        "$PERF_N" "$cpu" "$PROFILE_CPU"
    echo "| stage (function) | share of supervisor CPU | ≈ µs per request |"
    echo "|---|---:|---:|"
    for r in "${PROFILE_ROWS[@]}"; do
        fn="${r%%|*}"
        what="${r#*|}"
        what="${what%|*}"
        share="${r##*|}"
        printf '| %s (`%s`) | %s%% | %s |\n' "$what" "$fn" "$share" \
            "$(awk -v s="$share" -v c="$cpu" 'BEGIN { if (c == "—" || c == "n/a") print "n/a"; else printf "%.1f\n", s * c / 100 }')"
    done
    if [[ -s "$BENCH_DIR/router-profile.txt.self" ]]; then
        self="$(awk '{printf "%s`%s` %s%%", (NR > 1 ? ", " : ""), $1, $2}' "$BENCH_DIR/router-profile.txt.self")"
        printf '\nMost self time: %s.\n' "$self"
    fi
}

# shellcheck disable=SC2016  # literal backquotes (markdown)
checks() {
    local row
    printf -- '- Routing (`x-warden-provider/x-warden-tier` of every response, latency runs): direct %s (no router headers); through warden %s' \
        "${ROUTE[direct]:-n/a}" "${ROUTE[warden]:-n/a}"
    [[ -z "${NOTE[chain]:-}" ]] && printf ' (chained: %s)' "${ROUTE[chain]:-n/a}"
    printf '\n'
    for row in "${SANDBOX_ROWS_ALL[@]}"; do
        [[ -z "${NOTE[$row]:-}" ]] || continue
        printf -- '- Audit trail, %s: %s `inference.route` allow records to `bench` for the %s requests sent, %s other\n' \
            "${LABEL[$row]}" "${AUDIT_N[$row]:-0}" "${SENT[$row]:-0}" "${AUDIT_BAD[$row]:-0}"
    done
}

notes() {
    local row first=1
    for row in "${ROWS[@]}"; do
        [[ -n "${NOTE[$row]:-}" ]] || continue
        (( first )) && { printf '\n**Not measured or failed:**\n\n'; first=0; }
        printf -- '- %s: %s\n' "${LABEL[$row]}" "${NOTE[$row]//"$SCRATCH"/<tmp>}"
    done
}

render_section() {
    local row
    cat <<EOF
## $SECTION

<!-- Generated by bench/router.sh; re-run \`make bench\` instead of editing this section. -->

What the privacy router adds to a model request. The same client
(\`bench/routerload.c\`) sends the same ${BODY_BYTES}-byte Anthropic Messages request
(\`POST ${REQ_PATH}\`, one user message of harmless English prose, so it is
\`public\` and goes to the preferred provider; \`build/bench/router-body.json\`)
to the same provider stand-in (the \`llm\` port of \`bench/upstream.c\`,
127.0.0.1 on the host: a 253-byte Messages response on a kept-alive
connection) directly, and from inside a warden sandbox through
\`http://inference.local\`: the router reads the body whole, the built-in
classifier classifies it, the decision is recorded (\`inference.route\`),
and the request goes to the provider \`bench\` on the router's kept-alive
upstream connection; a third row chains the example Python classifier after
the built-in one. Produced by \`make bench\` (which runs
\`bash bench/router.sh\`). Raw output: \`build/bench/router-*\`.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
$(machine_info)
$(tool_versions)
- Samples: N = ${N} requests per row and round on one kept-alive connection,
  in ${ROUNDS} rounds that take turns between the rows (${WARMUP} uncounted requests
  at the start of each run); percentiles are over the pooled samples

**Verdict: ${VERDICT}** — ${VTEXT}.

### Latency per request (µs)

Each request is timed from its first byte written to the last byte of the
response read (CLOCK_MONOTONIC). *Added* is the row's percentile minus the
direct one: reading the request into the router, classifying it, recording
the decision, forwarding it and relaying the response, plus the extra hop
each way. *CPU µs/request*: the CPU time, over the counted requests, of the
warden supervisor (all its threads: proxy, router, audit writer) and of the
classifier sidecars (the supervisor's children other than the sandbox), from
\`/proc/PID/task/*/schedstat\`, per request; median of the rounds.

$(latency_table)

Added p50 per round (µs): $(round_added warden) (built-in classifier)$( [[ -z "${NOTE[chain]:-}" ]] && printf '; %s (chained)' "$(round_added chain)").

### Where the time goes

$(where_time_goes)

$(profile_table)

### Requests per second

${CONC} kept-alive connections sending back to back (one thread each) for
${RPS_SECONDS} s after one uncounted second; one run per row, after the latency
rounds.

$(rps_table)
$( for row in "${ROWS[@]}"; do [[ -n "${NOTE[$row]:-}" || "${RPS[$row]:-}" != failed* ]] || printf -- '\n- %s: %s' "${LABEL[$row]}" "${RPS[$row]}"; done )

Checks that the requests were routed:

$(checks)
$(notes)

Method notes:

- Client and provider stand-in are C programs built with \`cc -O2 -static\`;
  the client inside the sandbox is the same binary. Only 127.0.0.1 is used:
  inside the sandbox \`inference.local\` is 127.0.0.1:80 in the sandbox's
  network namespace, where the supervisor listens; the provider's
  \`base_url\` is the stand-in's port on the host's loopback, plain HTTP.
- The request carries what an Anthropic SDK sends (\`content-type\`,
  \`anthropic-version\`, the placeholder key \`x-api-key: warden-router\`,
  which the router takes off); the provider has no credential to inject.
- Each warden run writes its audit trail to \`build/bench/\`
  (\`--audit-log\`, default \`fsync: batch\`): one \`inference.route\`
  record per request, written before the request is forwarded.
- On ${NPROC} CPUs the warden rows keep four processes busy (client,
  supervisor, classifier, provider) where the direct row keeps two; the load
  average above shows what else was running.

Commands of round 1 (\`<tmp>\` is a scratch directory, the port is chosen
per run; the other rounds differ only in the sandbox and trail names):

\`\`\`
EOF
    for row in "${ROWS[@]}"; do
        printf '# %s\n%s\n' "${LABEL[$row]}" "${CMDS[$row]:-(not run)}"
    done
    for row in "${ROWS[@]}"; do
        printf '# %s, requests per second\n%s\n' "${LABEL[$row]}" "${CMDS[$row-rps]:-(not run)}"
    done
    printf '# the provider stand-in (its "llm" port)\n<tmp>/upstream <tmp>/ports\n'
    printf '```\n'
    for row in "${SANDBOX_ROWS_ALL[@]}"; do
        [[ -n "${POLICY[$row]:-}" ]] || continue
        # shellcheck disable=SC2016  # literal backquotes (markdown)
        printf '\nPolicy of the %s row (`<tmp>/policy-%s.yaml`):\n\n```yaml\n' "${LABEL[$row]}" "$row"
        sed -e "s|$SCRATCH|<tmp>|g" "${POLICY[$row]}"
        printf '```\n'
    done
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
    rm -f "$BENCH_DIR"/router-*.out "$BENCH_DIR"/router-*.err "$BENCH_DIR"/router-*.samples \
        "$BENCH_DIR"/router-*.jsonl "$BENCH_DIR"/router-upstream.log "$BENCH_DIR"/router-profile.txt* \
        "$BENCH_DIR"/router-perf-record.log
    make_scratch routerbench

    find_guard
    build_tools
    start_upstream
    make_body
    prepare_sandbox

    measure
    LOAD_AFTER="$(loadavg)"
    placement
    profile
    log "load average after the timed runs: $LOAD_AFTER"

    compute_verdict
    local section
    section="$(mktemp)"
    render_section >"$section"
    cp "$section" "$BENCH_DIR/router.md"
    update_doc "$section"
    rm -f "$section"

    echo
    echo "Latency per request (µs):"
    latency_table
    echo
    echo "Where the time goes:"
    where_time_goes
    echo
    profile_table
    echo
    echo "Requests per second ($CONC connections):"
    rps_table
    echo
    checks
    notes
    echo
    echo "Verdict: $VERDICT — $VTEXT"
    echo "Load average: $LOAD_BEFORE at the start, $LOAD_AFTER after the timed runs"
    echo "Written: docs/benchmarks.md (## $SECTION), raw data in build/bench/router-*"

    if [[ "$VERDICT" == UNKNOWN || -n "${NOTE[direct]:-}${NOTE[warden]:-}" ]]; then
        return 1
    fi
    if [[ "$VERDICT" == MISS ]] && strict; then
        return 1
    fi
    return 0
}

main "$@"
