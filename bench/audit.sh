#!/usr/bin/env bash
# bench/audit.sh — audit trail benchmark for warden (`make bench`).
#
# Measures
#   1. append   events per second the audit writer (src/audit/audit.c)
#               appends, each one hashed into the chain, with a signed
#               checkpoint every 1000 records, at each fsync mode:
#               batch (fdatasync at most 200 ms after a record) and always
#               (fdatasync before every append returns). bench/audit_bench.c
#               drives the real writer with net.connect records like the
#               proxy's; the clock runs from the first append to the end of
#               audit_close() (final checkpoint and fsync).
#   2. verify   records per second `warden audit verify` checks, on the
#               trail the batch run wrote (wall clock of the whole command).
#   3. read     records per second `warden logs` renders, in the one-line
#               form and as OCSF (no target; for scale).
# and writes the "## Audit trail" section of docs/benchmarks.md. Targets
# (DESIGN.md §9 and the issue): append >= 100,000 events/s batched, verify
# >= 1,000,000 records/s; each gets PASS or MISS.
#
# Each measurement is bounded by a record count and a time limit, whichever
# comes first, and repeated BENCH_ROUNDS times; the table gives the median
# round and the per-round figures follow it. Trails are written under
# build/bench/audit (its filesystem is reported: fsync cost is the disk's)
# and removed at the end.
#
# Runs offline and needs nothing but the build: `make bench` builds warden
# and audit_bench (meson, release). Works as root and as an unprivileged
# user.
#
# Environment knobs:
#   WARDEN=path                      warden binary (default build/warden)
#   AUDIT_BENCH=path                 append driver (default build/audit_bench)
#   BENCH_AUDIT_DIR=dir              where trails are written (default
#                                    build/bench/audit)
#   BENCH_ROUNDS=N                   rounds per measurement (default 3)
#   BENCH_AUDIT_COUNT=N              batch: records per round (default 1000000)
#   BENCH_AUDIT_SECONDS=N            batch: time limit per round (default 10)
#   BENCH_AUDIT_ALWAYS_COUNT=N       always: records per round (default 20000)
#   BENCH_AUDIT_ALWAYS_SECONDS=N     always: time limit per round (default 5)
#   BENCH_AUDIT_READ_RECORDS=N       records rendered by `warden logs` (default
#                                    100000, the start of the batch trail)
#   BENCH_STRICT=1                   exit 1 on MISS (default: reported, exit 0)
#
# Takes about a minute on a 2-CPU VM, and up to ~700 MB of disk for the
# batch trail while it runs.
#
# Exit status: 0 with verdicts (MISS too, unless BENCH_STRICT=1); 1 when
# warden or audit_bench is missing or the append could not be measured.
set -euo pipefail

# Numbers are formatted and parsed by awk/printf; keep the decimal point a dot.
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BENCH_DIR="$ROOT/build/bench"
readonly DOC="$ROOT/docs/benchmarks.md"
readonly SECTION="Audit trail"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

WARDEN="${WARDEN:-build/warden}"
AUDIT_BENCH="${AUDIT_BENCH:-build/audit_bench}"
TRAIL_DIR="${BENCH_AUDIT_DIR:-$BENCH_DIR/audit}"
readonly ROUNDS="${BENCH_ROUNDS:-3}"
readonly COUNT="${BENCH_AUDIT_COUNT:-1000000}"
readonly SECONDS_MAX="${BENCH_AUDIT_SECONDS:-10}"
readonly ALWAYS_COUNT="${BENCH_AUDIT_ALWAYS_COUNT:-20000}"
readonly ALWAYS_SECONDS="${BENCH_AUDIT_ALWAYS_SECONDS:-5}"
readonly READ_RECORDS="${BENCH_AUDIT_READ_RECORDS:-100000}"
readonly TARGET_APPEND=100000 TARGET_VERIFY=1000000
# A single step taking longer than this is hung, not slow.
readonly STEP_TIMEOUT=300

# Rows, in display order. Per row: samples (records/s, one per round),
# records per run, seconds per run, CPU µs per record, notes.
readonly ROWS=(batch always verify human ocsf)
declare -A LABEL=(
    [batch]="append, fsync batch (200 ms)"
    [always]="append, fsync always"
    [verify]="verify (\`warden audit verify\`)"
    [human]="read: \`warden logs\`"
    [ocsf]="read: \`warden logs --ocsf\`"
)
declare -A TARGET=([batch]=$TARGET_APPEND [verify]=$TARGET_VERIFY)
declare -A RATES=() RECS=() SECS=() CPU_US=() NOTE=() MEDIAN=()
RECORD_BYTES=""

now_ns() { date +%s%N; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

# append ROW MODE COUNT SECONDS: one round through audit_bench; adds to RATES.
append_round() {
    local row=$1 mode=$2 count=$3 secs=$4 out rc=0
    out="$(timeout "$STEP_TIMEOUT" "$AUDIT_BENCH" "$TRAIL_DIR" "$mode" "$count" "$secs" 2>&1)" || rc=$?
    if ((rc != 0)); then
        NOTE[$row]="audit_bench failed (exit $rc): $(one_line 300 <<<"$out")"
        log "${LABEL[$row]}: ${NOTE[$row]}"
        return 1
    fi
    printf '%s %s\n' "$row" "$out" >>"$BENCH_DIR/audit-rounds.out"
    RATES[$row]+="$(field "$out" rate) "
    RECS[$row]+="$(field "$out" records) "
    SECS[$row]+="$(field "$out" seconds) "
    CPU_US[$row]+="$(awk -v c="$(field "$out" cpu)" -v n="$(field "$out" records)" \
        'BEGIN {printf "%.2f", c * 1e6 / n}') "
    if [[ $row == batch ]]; then
        RECORD_BYTES="$(awk -v b="$(field "$out" bytes)" -v n="$(wc -l <"$TRAIL_DIR/audit.jsonl")" \
            'BEGIN {printf "%.0f", b / n}')"
    fi
}

# timed ROW RECORDS CMD...: wall-clock one command (stdout discarded); adds
# RECORDS/elapsed to RATES, and its CPU time per record (GNU time) to
# CPU_US.  Fails with NOTE set when CMD fails.
timed() {
    local row=$1 records=$2 t0 t1 rc=0 err cpu
    shift 2
    err="$(mktemp)" cpu="$(mktemp)"
    t0="$(now_ns)"
    if [[ -x /usr/bin/time ]]; then
        timeout "$STEP_TIMEOUT" /usr/bin/time -f '%U %S' -o "$cpu" "$@" >/dev/null 2>"$err" || rc=$?
    else
        timeout "$STEP_TIMEOUT" "$@" >/dev/null 2>"$err" || rc=$?
    fi
    t1="$(now_ns)"
    if ((rc != 0)); then
        NOTE[$row]="failed (exit $rc): $(one_line 300 <"$err")"
        log "${LABEL[$row]}: ${NOTE[$row]}"
        rm -f "$err" "$cpu"
        return 1
    fi
    RATES[$row]+="$(awk -v n="$records" -v ns="$((t1 - t0))" 'BEGIN {printf "%.0f", n * 1e9 / ns}') "
    RECS[$row]+="$records "
    SECS[$row]+="$(awk -v ns="$((t1 - t0))" 'BEGIN {printf "%.6f", ns / 1e9}') "
    if [[ -s $cpu ]]; then
        CPU_US[$row]+="$(awk -v n="$records" '/^[0-9.]+ [0-9.]+$/ {printf "%.2f", ($1 + $2) * 1e6 / n}' "$cpu") "
    fi
    rm -f "$err" "$cpu"
}

verifier_available() {
    "$WARDEN" audit verify --help >/dev/null 2>&1
}

measure() {
    local r lines sample="$TRAIL_DIR/sample.jsonl"
    : >"$BENCH_DIR/audit-rounds.out"
    if ! verifier_available; then
        NOTE[verify]="verifier not available (\`warden audit verify --help\` fails in this build)"
        log "verify: ${NOTE[verify]}"
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        log "round $r/$ROUNDS: append, fsync batch (up to $COUNT records or ${SECONDS_MAX} s)"
        if [[ -z ${NOTE[batch]:-} ]] && append_round batch batch "$COUNT" "$SECONDS_MAX"; then
            lines="$(wc -l <"$TRAIL_DIR/audit.jsonl")"
            if [[ -z ${NOTE[verify]:-} ]]; then
                log "round $r/$ROUNDS: warden audit verify ($lines records)"
                timed verify "$lines" "$WARDEN" audit verify "$TRAIL_DIR/audit.jsonl" || true
            fi
            head -n "$READ_RECORDS" "$TRAIL_DIR/audit.jsonl" >"$sample"
            lines="$(wc -l <"$sample")"
            log "round $r/$ROUNDS: warden logs, warden logs --ocsf ($lines records)"
            [[ -n ${NOTE[human]:-} ]] || timed human "$lines" "$WARDEN" logs "$sample" || true
            [[ -n ${NOTE[ocsf]:-} ]] || timed ocsf "$lines" "$WARDEN" logs --ocsf "$sample" || true
        fi
        log "round $r/$ROUNDS: append, fsync always (up to $ALWAYS_COUNT records or ${ALWAYS_SECONDS} s)"
        [[ -n ${NOTE[always]:-} ]] || append_round always always "$ALWAYS_COUNT" "$ALWAYS_SECONDS" || true
    done
    rm -f "$TRAIL_DIR/audit.jsonl" "$sample"
    local row
    for row in "${ROWS[@]}"; do
        # shellcheck disable=SC2086 # word splitting intended: one number per round
        [[ -n ${RATES[$row]:-} ]] && MEDIAN[$row]="$(median_mid %.0f ${RATES[$row]})"
    done
}

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

machine_info() {
    machine_lines
    load_line
    ran_as_line
    printf -- '- Trails written to %s: %s on %s\n' "${TRAIL_DIR//"$ROOT"/<repo>}" \
        "$(findmnt -n -o FSTYPE -T "$TRAIL_DIR" 2>/dev/null || echo unknown)" \
        "$(findmnt -n -o SOURCE -T "$TRAIL_DIR" 2>/dev/null || echo unknown)"
}

tool_versions() {
    local rev
    rev="$(source_rev)"
    if [[ "$WARDEN" == "$ROOT/build/warden" && "$AUDIT_BENCH" == "$ROOT/build/audit_bench" ]]; then
        printf -- '- Versions: warden and audit_bench at %s (build/, meson release build)\n' "$rev"
    else
        printf -- '- Versions: source at %s; WARDEN=%s, AUDIT_BENCH=%s, NOT build/\n' "$rev" \
            "${WARDEN//"$ROOT"/<repo>}" "${AUDIT_BENCH//"$ROOT"/<repo>}"
    fi
}

# "123,456 (1.23x)" etc. for one row's verdict line; sets V_TEXT, returns PASS/MISS.
verdict_line() {
    local row=$1 t=${TARGET[$1]} m=${MEDIAN[$1]:-}
    if [[ -z $m ]]; then
        printf -- '- **UNKNOWN** — %s: not measured (%s)\n' "${LABEL[$row]}" "${NOTE[$row]:-no data}"
        return
    fi
    local v=MISS unit=records/s
    [[ $row == batch ]] && unit=events/s
    awk -v m="$m" -v t="$t" 'BEGIN {exit !(m >= t)}' && v=PASS
    local cpu=""
    # shellcheck disable=SC2086 # one number per round
    [[ -n ${CPU_US[$row]:-} ]] &&
        cpu="; $(thousands "$(awk -v u="$(median_mid %.0f ${CPU_US[$row]})" 'BEGIN {printf "%.0f", 1e6 / u}')") per CPU-second"
    printf -- '- **%s** — %s: %s %s (target >= %s; %sx the target%s)\n' "$v" "${LABEL[$row]}" \
        "$(thousands "$m")" "$unit" "$(thousands "$t")" "$(ratio "$m" "$t")" "$cpu"
    [[ $v == PASS ]]
}

results_table() {
    local row
    echo "| measurement | records per round | median s | median records/s | CPU µs/record | target | vs target |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for row in "${ROWS[@]}"; do
        if [[ -z ${MEDIAN[$row]:-} ]]; then
            printf '| %s | not measured¹ | – | – | – | %s | – |\n' "${LABEL[$row]}" \
                "$([[ -n ${TARGET[$row]:-} ]] && echo ">= $(thousands "${TARGET[$row]}")" || echo "—")"
            continue
        fi
        # shellcheck disable=SC2086 # one number per round
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$row]}" \
            "$(thousands "$(median_mid %.0f ${RECS[$row]})")" \
            "$(printf '%.3f' "$(printf '%s\n' ${SECS[$row]} | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')")" \
            "$(thousands "${MEDIAN[$row]}")" \
            "$([[ -n ${CPU_US[$row]:-} ]] && median_mid %.0f ${CPU_US[$row]} | awk '{printf "%.2f", $1}' || echo "—")" \
            "$([[ -n ${TARGET[$row]:-} ]] && echo ">= $(thousands "${TARGET[$row]}")" || echo "—")" \
            "$([[ -n ${TARGET[$row]:-} ]] && echo "$(ratio "${MEDIAN[$row]}" "${TARGET[$row]}")x" || echo "—")"
    done
    local first=1
    for row in "${ROWS[@]}"; do
        [[ -z ${MEDIAN[$row]:-} && -n ${NOTE[$row]:-} ]] || continue
        ((first)) && { echo; first=0; }
        printf '¹ %s: %s\n\n' "${LABEL[$row]}" "${NOTE[$row]}"
    done
}

per_round() {
    local row
    for row in "${ROWS[@]}"; do
        [[ -n ${RATES[$row]:-} ]] || continue
        # shellcheck disable=SC2086
        printf -- '- %s: %s\n' "${LABEL[$row]}" "$(for v in ${RATES[$row]}; do thousands "$v"; done | paste -sd' ' | sed 's/ /, /g')"
    done
}

render_section() {
    local b="${AUDIT_BENCH//"$ROOT"/<repo>}" w="${WARDEN//"$ROOT"/<repo>}" d="${TRAIL_DIR//"$ROOT"/<repo>}"
    cat <<EOF
## ${SECTION}

<!-- Generated by bench/audit.sh; re-run \`make bench\` instead of editing this section. -->

How fast the audit trail is written and read back. Produced by \`make bench\`
(which runs \`bash bench/audit.sh\`); ${ROUNDS} rounds, the table gives the median
round. Per-round output: \`build/bench/audit-rounds.out\`.

- *Append*: \`bench/audit_bench.c\` drives the real writer (\`src/audit/audit.c\`)
  with \`net.connect\` records like the proxy's (${RECORD_BYTES:-?} bytes per line on average),
  each SHA-256-chained to the one before, an Ed25519-signed checkpoint every
  1000 records (the default), until ${COUNT} records or ${SECONDS_MAX} s (batch) and
  ${ALWAYS_COUNT} records or ${ALWAYS_SECONDS} s (always). The clock runs from the first
  append to the end of \`audit_close()\`, final checkpoint and fsync included.
  *batch* is \`audit.fsync: batch\` (the default: fdatasync at most 200 ms after
  a record, in the appending thread); *always* fdatasyncs before each append
  returns.
- CPU µs/record: user + system time per record (the writer's, from
  getrusage; the commands', from GNU time). Unlike the rates, it hardly
  moves with the machine's load.
- *Verify*: \`warden audit verify\` on the trail the batch round wrote
  (checkpoint records included in the count), wall clock of the command.
- *Read*: \`warden logs\` and \`warden logs --ocsf\` on the first ${READ_RECORDS}
  records of that trail, output to /dev/null. No target: for scale.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
$(machine_info)
$(tool_versions)

**Verdicts:**

$(for row in batch verify; do verdict_line "$row" || true; done)

$(results_table)

Per round (records/s):

$(per_round)

Commands (\`DIR\` = \`${d}\`):

\`\`\`
append: ${b} DIR batch ${COUNT} ${SECONDS_MAX}
        ${b} DIR always ${ALWAYS_COUNT} ${ALWAYS_SECONDS}
verify: ${w} audit verify DIR/audit.jsonl
read:   ${w} logs DIR/sample.jsonl
        ${w} logs --ocsf DIR/sample.jsonl
\`\`\`
EOF
}

main() {
    cd "$ROOT"
    WARDEN="$(abspath "$WARDEN")"
    AUDIT_BENCH="$(abspath "$AUDIT_BENCH")"
    TRAIL_DIR="$(abspath "$TRAIL_DIR")"
    [[ -x "$WARDEN" ]] || die "warden not found at ${WARDEN#"$ROOT"/} — build it first (make), or point WARDEN= at one."
    [[ -x "$AUDIT_BENCH" ]] || die "audit_bench not found at ${AUDIT_BENCH#"$ROOT"/} — build it first (make; meson builds it beside warden), or point AUDIT_BENCH= at one."
    mkdir -p "$BENCH_DIR" "$TRAIL_DIR"

    LOAD_BEFORE="$(loadavg)"
    measure
    LOAD_AFTER="$(loadavg)"
    [[ -n ${MEDIAN[batch]:-} ]] || die "the batched append could not be measured: ${NOTE[batch]:-no data}"

    local section verdicts
    section="$(mktemp)"
    render_section >"$section"
    cp "$section" "$BENCH_DIR/audit.md"
    update_doc "$section"
    rm -f "$section"

    echo
    results_table
    verdicts="$(for row in batch verify; do verdict_line "$row" || true; done)"
    echo "$verdicts"
    echo "Written: docs/benchmarks.md (## ${SECTION}), per-round output in build/bench/audit-rounds.out"
    if grep -q '^- \*\*MISS' <<<"$verdicts" && strict; then
        return 1
    fi
    return 0
}

main "$@"
