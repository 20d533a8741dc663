#!/usr/bin/env bash
# bench/classify.sh — the built-in classifier's speed, for `make bench`.
#
# Measures, with bench/classify_bench.c driving src/classify (the same
# code warden-guard runs, in-process, no socket):
#   1. throughput  MB/s classifying 1 MiB bodies again and again: prose
#                  (English text, nothing to find), provider JSON
#                  (Anthropic Messages requests with escaped multi-line
#                  text, tool calls, a tool schema), dense PII (a finding
#                  every ~100 bytes); wall clock and per CPU-second, and
#                  the JSON walker alone
#   2. latency     per-call time of 4 KB provider-JSON prompts (16
#                  different ones, round robin, warm): p50 p90 p99 p99.9 max
#   3. baseline    `grep -E -c` with a handful of PII regexes (email,
#                  card-like digit groups, SSN, NANP phone, AWS key id) over
#                  64 MiB of the same prose, against the classifier on the
#                  same 64 MiB: a naive scanner that validates nothing
# and writes the "## Built-in classifier" section of docs/benchmarks.md.
# Targets (issue 6): >= 1 GB/s per core on prose, <= 10 µs p50 per 4 KB
# scan; each gets PASS or MISS.
#
# Single core: the driver is single-threaded and, where taskset exists, is
# pinned to one CPU (the last).  Each measurement runs BENCH_ROUNDS times;
# tables give the median round.
#
# Environment knobs:
#   CLASSIFY_BENCH=path          the driver (default build/classify_bench)
#   BENCH_ROUNDS=N               rounds per measurement (default 3)
#   BENCH_CLASSIFY_SECONDS=N     seconds per throughput round (default 2)
#   BENCH_CLASSIFY_CALLS=N       calls per latency round (default 20000)
#   BENCH_STRICT=1               exit 1 on MISS (default: reported, exit 0)
#
# Exit status: 0 with verdicts (MISS too, unless BENCH_STRICT=1); 1 when
# the driver is missing or a measurement failed.
set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BENCH_DIR="$ROOT/build/bench"
readonly DOC="$ROOT/docs/benchmarks.md"
readonly SECTION="Built-in classifier"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

DRIVER="${CLASSIFY_BENCH:-build/classify_bench}"
readonly ROUNDS="${BENCH_ROUNDS:-3}"
readonly SECS="${BENCH_CLASSIFY_SECONDS:-2}"
readonly CALLS="${BENCH_CLASSIFY_CALLS:-20000}"
readonly BASE_MIB=64
readonly TARGET_PROSE=1000 TARGET_P50=10
readonly GREP_RE='[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{1,7}|[0-9]{3}-[0-9]{2}-[0-9]{4}|\(?[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4}|AKIA[0-9A-Z]{16}'

declare -A LABEL=([prose]="prose (nothing to find)" [json]="provider JSON (Anthropic Messages)"
    [pii]="dense PII (a finding every ~100 bytes)")
declare -A MBPS=() CPU=() WALK=() FIND=() BYTES=()
LAT=""          # one "p50 p90 p99 p999 max bytes" line per round
BASE_GREP="" BASE_OURS=""
PIN=()

now_ns() { date +%s%N; }

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

pin_cpu() {
    local last
    if command -v taskset >/dev/null 2>&1 && (($(nproc) > 1)); then
        last=$(($(nproc) - 1))
        PIN=(taskset -c "$last")
    fi
}

throughput_round() {
    local kind=$1 out
    out="$("${PIN[@]}" "$DRIVER" throughput "$kind" 1 "$SECS")" || die "classify_bench throughput $kind failed"
    printf 'throughput %s\n' "$out" >>"$BENCH_DIR/classify-rounds.out"
    MBPS[$kind]+="$(field "$out" mbps) "
    CPU[$kind]+="$(field "$out" cpu_mbps) "
    WALK[$kind]+="$(field "$out" walk_mbps) "
    FIND[$kind]="$(field "$out" findings)"
    BYTES[$kind]="$(field "$out" bytes)"
}

latency_round() {
    local out
    out="$("${PIN[@]}" "$DRIVER" latency 4096 "$CALLS")" || die "classify_bench latency failed"
    printf 'latency %s\n' "$out" >>"$BENCH_DIR/classify-rounds.out"
    LAT+="$(field "$out" p50_us) $(field "$out" p90_us) $(field "$out" p99_us) $(field "$out" p999_us) $(field "$out" max_us) $(field "$out" bytes)"$'\n'
}

# grep -E over the prose file, wall clock; and the classifier on the same bytes.
baseline_round() {
    local file=$1 t0 t1 out
    t0="$(now_ns)"
    "${PIN[@]}" grep -E -c "$GREP_RE" "$file" >/dev/null || true
    t1="$(now_ns)"
    BASE_GREP+="$(awk -v b="$(stat -c %s "$file")" -v ns="$((t1 - t0))" 'BEGIN {printf "%.1f", b * 1e3 / ns}') "
    out="$("${PIN[@]}" "$DRIVER" throughput prose "$BASE_MIB" "$SECS")" || die "classify_bench on $BASE_MIB MiB failed"
    printf 'baseline %s\n' "$out" >>"$BENCH_DIR/classify-rounds.out"
    BASE_OURS+="$(field "$out" mbps) "
}

measure() {
    local r kind file="$BENCH_DIR/classify-prose.txt"
    : >"$BENCH_DIR/classify-rounds.out"
    "$DRIVER" write prose "$file" "$BASE_MIB" || die "cannot write $file"
    for ((r = 1; r <= ROUNDS; r++)); do
        for kind in prose json pii; do
            log "round $r/$ROUNDS: throughput, $kind (${SECS} s)"
            throughput_round "$kind"
        done
        log "round $r/$ROUNDS: latency, 4 KB prompts ($CALLS calls)"
        latency_round
        log "round $r/$ROUNDS: baseline, grep -E over $BASE_MIB MiB of prose"
        baseline_round "$file"
    done
    rm -f "$file"
}

# Median of column $1 of the latency lines.
lat_col() { awk -v c="$1" 'NF {print $c}' <<<"$LAT" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

machine_info() {
    machine_lines "SIMD: $(grep -o -w -E 'avx512bw|avx2|sse4_2' /proc/cpuinfo | sort -u | paste -sd' ' -)"
    load_line
    printf -- '- Pinned: %s\n' "$( ((${#PIN[@]})) && echo "${PIN[*]}" || echo "no (taskset missing or one CPU)")"
    printf -- '- Vectorscan: %s; grep: %s\n' \
        "$(dpkg-query -W -f '${Version}' libvectorscan-dev 2>/dev/null || echo unknown)" \
        "$(grep --version | head -1)"
    printf -- '- Source: %s (%s)\n' "$(source_rev)" \
        "$([[ "$DRIVER" == "$ROOT/build/classify_bench" ]] && echo "build/, meson release build" || echo "CLASSIFY_BENCH=${DRIVER//"$ROOT"/<repo>}, NOT build/")"
}

verdicts() {
    local prose p50
    # shellcheck disable=SC2086
    prose="$(median_mid %.2f ${MBPS[prose]})"
    p50="$(lat_col 1)"
    if awk -v m="$prose" -v t="$TARGET_PROSE" 'BEGIN {exit !(m >= t)}'; then
        printf -- '- **PASS** — prose: %s MB/s per core, wall clock (target >= %s MB/s; %sx)\n' \
            "$(thousands "$prose")" "$(thousands "$TARGET_PROSE")" "$(awk -v m="$prose" -v t="$TARGET_PROSE" 'BEGIN {printf "%.2f", m / t}')"
    else
        printf -- '- **MISS** — prose: %s MB/s per core, wall clock (target >= %s MB/s)\n' \
            "$(thousands "$prose")" "$(thousands "$TARGET_PROSE")"
    fi
    if awk -v m="$p50" -v t="$TARGET_P50" 'BEGIN {exit !(m <= t)}'; then
        printf -- '- **PASS** — 4 KB provider-JSON prompt: p50 %s µs per scan (target <= %s µs)\n' "$p50" "$TARGET_P50"
    else
        printf -- '- **MISS** — 4 KB provider-JSON prompt: p50 %s µs per scan (target <= %s µs)\n' "$p50" "$TARGET_P50"
    fi
}

render_section() {
    local kind d="${DRIVER//"$ROOT"/<repo>}" grep_m ours_m
    # shellcheck disable=SC2086
    grep_m="$(median_mid %.2f $BASE_GREP)"
    # shellcheck disable=SC2086
    ours_m="$(median_mid %.2f $BASE_OURS)"
    cat <<EOF
## ${SECTION}

<!-- Generated by bench/classify.sh; re-run \`make bench\` instead of editing this section. -->

How fast warden-guard's classifier (\`src/classify\`, docs/classifier.md) reads
request bodies: the JSON walk, the Vectorscan scan, the extractors and
validators, overlap resolution, span mapping and placeholders -- everything
\`classify_body()\` does, in-process (the guard protocol's socket is not
included). Produced by \`make bench\` (which runs \`bash bench/classify.sh\`);
${ROUNDS} rounds, the tables give the median round. Per-round output:
\`build/bench/classify-rounds.out\`.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
$(machine_info)

**Verdicts:**

$(verdicts)

### Throughput (1 MiB bodies, single core)

| body | bytes | MB/s (wall) | MB/s per CPU-second | walker alone, MB/s | findings per body |
|---|---:|---:|---:|---:|---:|
$(for kind in prose json pii; do
    # shellcheck disable=SC2086
    printf '| %s | %s | %s | %s | %s | %s |\n' "${LABEL[$kind]}" "$(thousands "${BYTES[$kind]}")" \
        "$(thousands "$(median_mid %.2f ${MBPS[$kind]})")" "$(thousands "$(median_mid %.2f ${CPU[$kind]})")" \
        "$(thousands "$(median_mid %.2f ${WALK[$kind]})")" "${FIND[$kind]}"
done)

The walker costs nothing on prose (a body that does not start like JSON is
not parsed; only the base64-run probe reads it). Dense PII is slower by
design: every finding runs its validator, is placed, mapped and given a
placeholder; findings are capped at 4096 per body (the protocol's limit).

### Latency (4 KB provider-JSON prompts, warm, single core)

| prompt bytes | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs |
|---:|---:|---:|---:|---:|---:|
| $(lat_col 6) | $(lat_col 1) | $(lat_col 2) | $(lat_col 3) | $(lat_col 4) | $(lat_col 5) |

### Against a naive baseline

| scanner, ${BASE_MIB} MiB of prose | MB/s (wall) | ratio |
|---|---:|---:|
| \`grep -E -c\` with 5 PII regexes (email, card-like groups, SSN, NANP phone, AWS key id; validates nothing) | $(thousands "$grep_m") | 1.00 |
| the classifier (all detectors, validators, health vocabulary) | $(thousands "$ours_m") | $(awk -v a="$ours_m" -v b="$grep_m" 'BEGIN {if (b > 0) printf "%.1f", a / b; else print "n/a"}') |

Commands:

\`\`\`
${PIN[*]:+${PIN[*]} }${d} throughput prose|json|pii 1 ${SECS}
${PIN[*]:+${PIN[*]} }${d} latency 4096 ${CALLS}
${d} write prose FILE ${BASE_MIB}
${PIN[*]:+${PIN[*]} }grep -E -c '${GREP_RE}' FILE
${PIN[*]:+${PIN[*]} }${d} throughput prose ${BASE_MIB} ${SECS}
\`\`\`
EOF
}

main() {
    cd "$ROOT"
    DRIVER="$(abspath "$DRIVER")"
    [[ -x "$DRIVER" ]] || die "classify_bench not found at ${DRIVER#"$ROOT"/} — build it first (make), or point CLASSIFY_BENCH= at one."
    [[ -f "$DOC" ]] || die "docs/benchmarks.md is missing"
    mkdir -p "$BENCH_DIR"
    pin_cpu
    LOAD_BEFORE="$(loadavg)"
    measure
    LOAD_AFTER="$(loadavg)"

    local section v
    section="$(mktemp)"
    render_section >"$section"
    cp "$section" "$BENCH_DIR/classify.md"
    update_doc "$section"
    rm -f "$section"
    v="$(verdicts)"
    echo "$v"
    echo "Written: docs/benchmarks.md (## ${SECTION}), per-round output in build/bench/classify-rounds.out"
    if grep -q '^- \*\*MISS' <<<"$v" && strict; then
        return 1
    fi
    return 0
}

main "$@"
