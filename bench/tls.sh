#!/usr/bin/env bash
# bench/tls.sh — what L7 inspection (TLS termination) costs in warden's
# egress proxy (`make bench`).
#
# One HTTPS client (bench/tlsload.c) talks to one TLS upstream server
# (bench/tlsupstream.c, 127.0.0.1 on the host, a P-256 certificate for
# bench.test made here with the openssl CLI) four ways, in the same run:
#   direct    the client on the host connects to the upstream itself; its
#             TLS goes straight to the server (the floor)
#   tunnel    the client in a warden sandbox goes through warden's proxy
#             (CONNECT to 127.0.0.1:3128 inside); the endpoint has no
#             `protocol`, so the proxy splices bytes and the client's TLS
#             still ends at the upstream (verified against its CA)
#   inspect   the endpoint says `protocol: rest` and `access: full`: the
#             proxy terminates the client's TLS with the sandbox's CA (the
#             client trusts SSL_CERT_FILE, which warden sets), reads and
#             decides every request, records it in the audit trail, and
#             re-encrypts it to the upstream (verified with --upstream-ca)
#   rules     the same with three `rules` (the request matches the last,
#             GET /bench/**) and a `deny_rules` entry, for the cost of
#             rule matching
# What is measured, per row:
#   - keep-alive: N GET requests one after another on one connection,
#     each timed from the request's first byte to the response's last
#   - new connections: M fresh connections one after another, each
#     socket + CONNECT + TLS handshake + one GET, timed to the response;
#     then M more with the client acknowledging every segment at once
#     (TCP_QUICKACK), which separates the work of a new connection from
#     stalls on the delayed-ACK timer
# and writes the "## L7 inspection (TLS termination)" section of
# docs/benchmarks.md. Target (the inspection issue): inspection adds less
# than 1 ms per request on a kept-alive connection, p50 and p99, over the
# plain tunnel; inspect and rules each get PASS or MISS. The handshake cost
# per new connection (inspect vs tunnel) is reported without a target.
#
# Samples are taken in BENCH_TLS_ROUNDS interleaved rounds (the order of
# the rows rotating each round) and merged, as bench/proxy.sh does, so that
# other load on the machine is spread over every row. After the rounds,
# two checks show that the inspected rows really were inspected: a request
# the deny rule covers must get 403, and the audit trails of the inspected
# rows must hold an `http.request` record for every request sent.
#
# The client and server are built here with `cc -O2 -static` against
# OpenSSL 3 (libssl-dev), so the same client binary runs on the host and
# inside the sandbox. Everything stays on 127.0.0.1; runs offline.
#
# As root the agent runs as nobody (like in the tests), so the workdir with
# the client is handed to that uid; otherwise the agent is the caller.
#
# Environment knobs:
#   WARDEN=path                 binary under test (default build/warden)
#   BENCH_TLS_N=N               keep-alive requests per row (default 5000)
#   BENCH_TLS_M=M               new connections per row (default 300)
#   BENCH_TLS_ROUNDS=R          rounds the samples are split over (default 5)
#   BENCH_TLS_WARMUP=W          uncounted requests per keep-alive run (100)
#   BENCH_TLS_CONN_WARMUP=W     uncounted connections per run (default 5)
#   BENCH_STRICT=1              exit 1 on MISS (default: reported, exit 0)
#
# Takes well under a minute on a 2-CPU VM.
#
# Exit status: 0 with verdicts (MISS too, unless BENCH_STRICT=1); 1 when
# warden is missing or broken or a row could not be measured (the section
# is still written, saying what failed).
set -euo pipefail

# Numbers are formatted and parsed by awk/printf; keep the decimal point a dot.
export LC_ALL=C
# The agent's identity must not depend on who invoked sudo (see tests/lib.sh).
unset SUDO_UID SUDO_GID SUDO_USER

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BENCH_DIR="$ROOT/build/bench"
readonly DOC="$ROOT/docs/benchmarks.md"
readonly SECTION="L7 inspection (TLS termination)"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

WARDEN="${WARDEN:-build/warden}"
readonly N="${BENCH_TLS_N:-5000}"
readonly M="${BENCH_TLS_M:-300}"
readonly ROUNDS="${BENCH_TLS_ROUNDS:-5}"
readonly WARMUP="${BENCH_TLS_WARMUP:-100}"
readonly CONN_WARMUP="${BENCH_TLS_CONN_WARMUP:-5}"
readonly TARGET_ADDED=1000
# The name the client asks for; --add-host pins it to the host's loopback.
readonly UPNAME=bench.test
# Every request asks for this; the rules row allows GET /bench/**.
readonly REQ_PATH="/bench/items/42?page=1"
# What the rules row's deny rule covers (the 403 check).
readonly DENY_PATH="/bench/admin/config"
# Longest one sandbox run may take before it counts as hung.
readonly RUN_TIMEOUT=120

readonly ROWS=(direct tunnel inspect rules)
readonly SANDBOX_ROWS=(tunnel inspect rules)
declare -A LABEL=(
    [direct]="direct (no proxy)"
    [tunnel]="warden, plain tunnel"
    [inspect]="warden, inspected (\`access: full\`)"
    [rules]="warden, inspected with rules"
)
# The row each row's added latency is measured against.
declare -A BASE=([tunnel]=direct [inspect]=tunnel [rules]=tunnel)

SCRATCH=""
UP_PID=""
SANDBOXES=()
TL="" TU="" WORK="" CA="" PORT=""
LOAD_BEFORE="" LOAD_AFTER="" NPROC=""
declare -A NOTE=() CMDS=() POLICY=() STAT=() AUDIT_N=() SENT=() CPU=()
SB_ARGV=()
CHECK_DENY="" CHECK_DENY_OK=0

cleanup() {
    stop_sandboxes
    if [[ -n "$UP_PID" ]]; then kill "$UP_PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    if [[ -n "$SCRATCH" ]]; then rm -rf "$SCRATCH"; fi
}

# ---------------------------------------------------------------------------
# Setting up
# ---------------------------------------------------------------------------

# Static, like bench/proxy.sh's tools, against libssl.a (no engine is
# loaded, so libcrypto's dlopen is never used).
build_tools() {
    TL="$SCRATCH/tlsload"
    TU="$SCRATCH/tlsupstream"
    build_static tlsload "are libc6-dev and libssl-dev installed?" -lssl -lcrypto -lpthread
    build_static tlsupstream "are libc6-dev and libssl-dev installed?" -lssl -lcrypto -lpthread
}

# A P-256 CA and a leaf for bench.test signed by it: the upstream serves the
# leaf, the direct and tunnel clients and warden's upstream leg (through
# --upstream-ca) trust the CA. Valid for two days: made afresh every run.
make_certs() {
    local d="$SCRATCH/pki"
    mkdir -p "$d"
    CA="$d/ca.pem"
    {
        openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" &&
            openssl req -x509 -new -key "$d/ca.key" -sha256 -days 2 \
                -subj "/CN=warden tls bench CA" \
                -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$CA" &&
            openssl ecparam -name prime256v1 -genkey -noout -out "$d/server.key" &&
            openssl req -new -key "$d/server.key" -subj "/CN=$UPNAME" -out "$d/server.csr" &&
            printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
                "extendedKeyUsage=serverAuth" "subjectAltName=DNS:$UPNAME" >"$d/leaf.ext" &&
            openssl x509 -req -in "$d/server.csr" -CA "$CA" -CAkey "$d/ca.key" -CAcreateserial \
                -days 2 -sha256 -extfile "$d/leaf.ext" -out "$d/server.pem"
    } >"$SCRATCH/openssl.log" 2>&1 || die "cannot make the test certificates: $(one_line <"$SCRATCH/openssl.log")"
    chmod 644 "$CA"
}

start_upstream() {
    local i
    "$TU" "$SCRATCH/pki/server.pem" "$SCRATCH/pki/server.key" "$SCRATCH/ports" \
        >"$BENCH_DIR/tls-upstream.log" 2>&1 &
    UP_PID=$!
    for ((i = 0; i < 100; i++)); do
        [[ -s "$SCRATCH/ports" ]] && break
        sleep 0.05
    done
    [[ -s "$SCRATCH/ports" ]] || die "the TLS upstream did not start: $(one_line <"$BENCH_DIR/tls-upstream.log")"
    PORT="$(awk '$1 == "tls" {print $2}' "$SCRATCH/ports")"
}

# The endpoint line of each sandboxed row's policy.
endpoint_yaml() {
    case "$1" in
        tunnel) printf '      - {host: %s, port: %s}\n' "$UPNAME" "$PORT" ;;
        inspect) printf '      - {host: %s, port: %s, protocol: rest, access: full}\n' "$UPNAME" "$PORT" ;;
        rules)
            cat <<EOF
      - host: $UPNAME
        port: $PORT
        protocol: rest
        rules:
          - allow: {method: GET, path: /health}
          - allow: {method: POST, path: "/bench/*/upload"}
          - allow: {method: GET, path: "/bench/**"}
        deny_rules:
          - {method: "*", path: "/bench/admin/**"}
EOF
            ;;
    esac
}

# The workdir holds the client and the upstream's CA (the tunnel client's
# trust anchor); each row's policy lets exactly that binary reach bench.test
# on the upstream's port.
prepare_sandbox() {
    local row
    WORK="$SCRATCH/work"
    mkdir -p "$WORK"
    cp "$TL" "$WORK/tlsload"
    cp "$CA" "$WORK/upstream-ca.pem"
    chmod 755 "$WORK" "$WORK/tlsload"
    chmod 644 "$WORK/upstream-ca.pem"
    if (( EUID == 0 )); then
        chown -R 65534:65534 "$WORK"
    fi
    for row in "${SANDBOX_ROWS[@]}"; do
        POLICY[$row]="$SCRATCH/policy-$row.yaml"
        cat >"${POLICY[$row]}" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$(system_ro)]
network_policies:
  bench:
    name: bench
    endpoints:
$(endpoint_yaml "$row")
    binaries:
      - {path: $WORK/tlsload}
EOF
        chmod 644 "${POLICY[$row]}"
        "$WARDEN" policy check "${POLICY[$row]}" >/dev/null 2>"$SCRATCH/policy.err" ||
            die "the $row policy does not check: $(one_line <"$SCRATCH/policy.err")"
    done
}

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

# The client's CA file inside the sandbox: the upstream's own CA through the
# plain tunnel, the bundle warden names in SSL_CERT_FILE when inspected (the
# `:?` makes a missing variable an error that says so).
sandbox_ca() {
    if [[ "$1" == tunnel ]]; then
        printf '%s' ./upstream-ca.pem
    else
        # shellcheck disable=SC2016  # expanded by the sandbox's shell
        printf '%s' '"${SSL_CERT_FILE:?is not set in the sandbox}"'
    fi
}

# sandbox_argv ROW KEY NAME AUDIT SCRIPT: the `warden run` of SCRIPT under
# ROW's policy, its trail written to AUDIT, into SB_ARGV; the command line
# goes to CMDS[KEY] the first time.
sandbox_argv() {
    local row="$1" key="$2" name="$3" audit="$4" script="$5"
    SB_ARGV=("$WARDEN" run --no-tty --name "$name" --policy "${POLICY[$row]}" --workdir "$WORK"
        --add-host "$UPNAME:127.0.0.1" --upstream-ca "$CA" --audit-log "$audit" -- sh -c "$script")
    [[ -n "${CMDS[$key]:-}" ]] || CMDS[$key]="$(show_cmd "${SB_ARGV[@]}")"
    SANDBOXES+=("$name")
}

# in_sandbox ROW KEY NAME AUDIT OUT ERR SCRIPT: run it and wait. Returns
# warden's status.
in_sandbox() {
    local out="$5" err="$6" rc=0
    sandbox_argv "$1" "$2" "$3" "$4" "$7"
    (cd "$WORK" && timeout "$RUN_TIMEOUT" "${SB_ARGV[@]}") </dev/null >"$out" 2>"$err" || rc=$?
    return "$rc"
}

# keepalive_sandboxed ROW ROUND NK OUT ERR AUDIT: the keep-alive run of a
# warden row, with the supervisor's CPU time read just before the first and
# just after the last counted request (the client waits for us through
# files in the workdir: tlsload's SYNCDIR), into CPU[ROW] (µs per request,
# one number per round). Returns warden's status.
keepalive_sandboxed() {
    local row="$1" r="$2" nk="$3" out="$4" err="$5" audit="$6" ca rc=0 wpid pid="" i c0 c1
    local name="tlsbench-$$-$row-r$r-ka"
    ca="$(sandbox_ca "$row")"
    rm -f "$WORK"/ka.*
    sandbox_argv "$row" "$row" "$name" "$audit" \
        "./tlsload keepalive 127.0.0.1:3128 $UPNAME:$PORT $ca '$REQ_PATH' $nk $WARMUP ka.samples $WORK"
    (cd "$WORK" && exec timeout "$RUN_TIMEOUT" "${SB_ARGV[@]}") </dev/null >"$out" 2>"$err" &
    wpid=$!
    # The supervisor is the `warden run` process; `warden ps` names it.
    for ((i = 0; i < 200; i++)); do
        pid="$("$WARDEN" ps 2>/dev/null | awk -v n="$name" '$1 == n {print $2}')"
        [[ -n "$pid" ]] && break
        kill -0 "$wpid" 2>/dev/null || break
        sleep 0.025
    done
    if [[ -n "$pid" ]] && wait_for "$WORK/ka.ready" "$wpid" 60; then
        c0="$(cpu_ns "$pid")"
        touch "$WORK/ka.go"
        if wait_for "$WORK/ka.end" "$wpid" "$RUN_TIMEOUT"; then
            c1="$(cpu_ns "$pid")"
            local v
            v="$(awk -v a="$c0" -v b="$c1" -v n="$nk" 'BEGIN {printf "%.1f", (b - a) / 1e3 / n}')"
            CPU[$row]+="$v "
            printf '%s r%s supervisor_cpu_us_per_request=%s\n' "$row" "$r" "$v" >>"$BENCH_DIR/tls-cpu.out"
        fi
        touch "$WORK/ka.done"
    fi
    wait "$wpid" || rc=$?
    return "$rc"
}

# The http.request records in a trail (0 when there is none).
count_requests() {
    local n=0
    [[ -f "$1" ]] && n="$(grep -c '"event":"http.request"' "$1" || true)"
    printf '%s' "${n:-0}"
}

# run_once ROW ROUND: the keep-alive run and the new-connection run of one
# row in one round; samples go to build/bench/tls-{ka,conn}-ROW-rROUND.samples.
run_once() {
    local row="$1" r="$2" rc=0
    local nk=$(( (N + ROUNDS - 1) / ROUNDS )) nc=$(( (M + ROUNDS - 1) / ROUNDS ))
    local ka="$BENCH_DIR/tls-ka-$row-r$r.samples" conn="$BENCH_DIR/tls-conn-$row-r$r.samples"
    local connqa="$BENCH_DIR/tls-connqa-$row-r$r.samples"
    local out="$BENCH_DIR/tls-$row-r$r.out" err="$BENCH_DIR/tls-$row-r$r.err"
    local audit="$BENCH_DIR/tls-audit-$row-r$r.jsonl"
    [[ -z "${NOTE[$row]:-}" ]] || return 0
    if [[ "$row" == direct ]]; then
        local k=("$TL" keepalive direct "$UPNAME:$PORT" "$CA" "$REQ_PATH" "$nk" "$WARMUP" "$ka")
        local c=("$TL" connect direct "$UPNAME:$PORT" "$CA" "$REQ_PATH" "$nc" "$CONN_WARMUP" "$conn")
        local q=("$TL" connect-quickack direct "$UPNAME:$PORT" "$CA" "$REQ_PATH" "$nc" "$CONN_WARMUP" "$connqa")
        [[ -n "${CMDS[direct]:-}" ]] || CMDS[direct]="$(show_cmd "${k[@]}")"
        [[ -n "${CMDS[direct-conn]:-}" ]] || CMDS[direct-conn]="$(show_cmd "${c[@]}")
$(show_cmd "${q[@]}")"
        { timeout "$RUN_TIMEOUT" "${k[@]}" && timeout "$RUN_TIMEOUT" "${c[@]}" &&
            timeout "$RUN_TIMEOUT" "${q[@]}"; } </dev/null >"$out" 2>"$err" || rc=$?
    else
        local ca auditc="$BENCH_DIR/tls-audit-$row-r$r-conn.jsonl"
        ca="$(sandbox_ca "$row")"
        rm -f "$WORK/ka.samples" "$WORK/conn.samples" "$WORK/connqa.samples" "$audit" "$auditc"
        keepalive_sandboxed "$row" "$r" "$nk" "$out" "$err" "$audit" || rc=$?
        [[ -f "$WORK/ka.samples" ]] && cp "$WORK/ka.samples" "$ka"
        if (( rc == 0 )); then
            in_sandbox "$row" "$row-conn" "tlsbench-$$-$row-r$r-conn" "$auditc" "$out.conn" "$err.conn" \
                "./tlsload connect 127.0.0.1:3128 $UPNAME:$PORT $ca '$REQ_PATH' $nc $CONN_WARMUP conn.samples && ./tlsload connect-quickack 127.0.0.1:3128 $UPNAME:$PORT $ca '$REQ_PATH' $nc $CONN_WARMUP connqa.samples" ||
                rc=$?
            cat "$out.conn" >>"$out"
            cat "$err.conn" >>"$err"
            rm -f "$out.conn" "$err.conn"
            [[ -f "$WORK/conn.samples" ]] && cp "$WORK/conn.samples" "$conn"
            [[ -f "$WORK/connqa.samples" ]] && cp "$WORK/connqa.samples" "$connqa"
        fi
        AUDIT_N[$row]=$(( ${AUDIT_N[$row]:-0} + $(count_requests "$audit") + $(count_requests "$auditc") ))
    fi
    # Requests the client sent (warm-up included): what the trail should hold.
    SENT[$row]=$(( ${SENT[$row]:-0} + nk + WARMUP + 2 * (nc + CONN_WARMUP) ))
    if (( rc != 0 )) || [[ ! -s "$ka" || ! -s "$conn" || ! -s "$connqa" ]]; then
        local cl wl
        cl="$( { grep '^tlsload:' "$err" || true; } | head -n 3 | one_line)"
        wl="$( { grep -v '^tlsload:' "$err" || true; } | head -n 3 | one_line)"
        NOTE[$row]="round $r failed (exit $rc). Client: ${cl:-nothing}. Other stderr (warden, shell): ${wl:-nothing}"
        if [[ "$row" != direct ]]; then
            local a
            a="$( { audit_failures "$audit"; audit_failures "$auditc"; } | one_line)"
            [[ -z "$a" ]] || NOTE[$row]+=" — audit trail: $a"
        fi
        log "$row: ${NOTE[$row]}"
    fi
}

# ROUNDS rounds, the order of the rows rotating each round, so that whatever
# else the machine does is spread over every row instead of landing on one.
measure() {
    local r k i row kind
    for ((r = 1; r <= ROUNDS; r++)); do
        log "round $r of $ROUNDS"
        for ((k = 0; k < ${#ROWS[@]}; k++)); do
            i=$(( (k + r - 1) % ${#ROWS[@]} ))
            run_once "${ROWS[$i]}" "$r"
        done
    done
    for row in "${ROWS[@]}"; do
        cat "$BENCH_DIR/tls-ka-$row"-r*.samples 2>/dev/null >"$BENCH_DIR/tls-ka-$row.samples" || true
        for kind in conn connqa; do
            cat "$BENCH_DIR/tls-$kind-$row"-r*.samples 2>/dev/null >"$BENCH_DIR/tls-$kind-$row.samples" || true
            # The first request of each connection: from the handshake's end to the response.
            awk '{printf "%.1f\n", $3 - $2}' "$BENCH_DIR/tls-$kind-$row.samples" \
                >"$BENCH_DIR/tls-$kind-first-$row.samples"
        done
        stats "$row"
    done
}

# pcts FILE COLUMN KEY ROW: nearest-rank p50/p90/p99/max and the mean of one
# column of a samples file, into STAT[ROW.KEY_pNN].
pcts() {
    local f="$1" col="$2" key="$3" row="$4" v
    [[ -s "$f" ]] || return 0
    STAT[$row.${key}_n]="$(wc -l <"$f")"
    for v in 50 90 99 100; do
        STAT[$row.${key}_p$v]="$(cut -d' ' -f"$col" "$f" | sort -g | awk -v p="$v" '
            {x[NR] = $1}
            END { k = int(p * NR / 100); if (k < p * NR / 100) k++; if (k < 1) k = 1; printf "%.1f", x[k] }')"
    done
    STAT[$row.${key}_mean]="$(cut -d' ' -f"$col" "$f" | awk '{s += $1} END {if (NR) printf "%.1f", s / NR}')"
}

stats() {
    local row="$1"
    pcts "$BENCH_DIR/tls-ka-$row.samples" 1 rtt "$row"
    pcts "$BENCH_DIR/tls-conn-$row.samples" 1 ready "$row"
    pcts "$BENCH_DIR/tls-conn-$row.samples" 2 hs "$row"
    pcts "$BENCH_DIR/tls-conn-$row.samples" 3 total "$row"
    pcts "$BENCH_DIR/tls-conn-first-$row.samples" 1 first "$row"
    pcts "$BENCH_DIR/tls-connqa-$row.samples" 1 qready "$row"
    pcts "$BENCH_DIR/tls-connqa-$row.samples" 2 qhs "$row"
    pcts "$BENCH_DIR/tls-connqa-$row.samples" 3 qtotal "$row"
    pcts "$BENCH_DIR/tls-connqa-first-$row.samples" 1 qfirst "$row"
}

# The deny rule must refuse what it covers: one request to DENY_PATH through
# the rules row gets 403 (and the client says so), or inspection is not
# what was measured.
check_deny() {
    local out="$BENCH_DIR/tls-check-deny.out" err="$BENCH_DIR/tls-check-deny.err" ca
    [[ -z "${NOTE[rules]:-}" ]] || return 0
    ca="$(sandbox_ca rules)"
    in_sandbox rules check "tlsbench-$$-deny" "$BENCH_DIR/tls-audit-check-deny.jsonl" "$out" "$err" \
        "./tlsload connect 127.0.0.1:3128 $UPNAME:$PORT $ca $DENY_PATH 1 0" || true
    CHECK_DENY="$(grep -m1 "^tlsload: GET $DENY_PATH" "$err" | one_line || true)"
    if [[ "$CHECK_DENY" == *"HTTP/1.1 403"* ]]; then
        CHECK_DENY_OK=1
    else
        [[ -n "$CHECK_DENY" ]] || CHECK_DENY="$(one_line <"$err")"
    fi
}

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

machine_info() {
    machine_lines
    load_line "two or three"
    ran_as_line "the agent as nobody"
}

tool_versions() {
    local v
    v="$(warden_version rev)"
    v+="; $(openssl version 2>/dev/null || echo 'openssl ?')"
    v+="; client and upstream: bench/tlsload.c, bench/tlsupstream.c ($(cc --version | head -n1), -O2 -static, libssl.a)"
    printf -- '- Versions: %s\n' "$v"
}

# s ROW KEY: a statistic of the merged rounds, or "n/a".
s() { printf '%s' "${STAT[$1.$2]:-n/a}"; }

# added ROW KEY: ROW's KEY minus its baseline row's, or "—" for direct.
added() {
    [[ -n "${BASE[$1]:-}" ]] || { printf '—'; return; }
    calc "$(s "$1" "$2")" "$(s "${BASE[$1]}" "$2")" -
}

base_label() {
    case "${BASE[$1]:-}" in
        direct) printf 'direct' ;;
        tunnel) printf 'plain tunnel' ;;
        *) printf '—' ;;
    esac
}

# The supervisor's CPU µs per kept-alive request (median of the rounds), or "—".
cpu() {
    # shellcheck disable=SC2086  # one number per round
    if [[ -n "${CPU[$1]:-}" ]]; then median ${CPU[$1]}; else printf '—'; fi
}

keepalive_table() {
    local row
    echo "| path | requests | p50 | p90 | p99 | max | mean | added p50 | added p99 | added vs | proxy CPU µs/request |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    for row in "${ROWS[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$row]}" \
            "$(s "$row" rtt_n)" "$(s "$row" rtt_p50)" "$(s "$row" rtt_p90)" "$(s "$row" rtt_p99)" \
            "$(s "$row" rtt_p100)" "$(s "$row" rtt_mean)" \
            "$(added "$row" rtt_p50)" "$(added "$row" rtt_p99)" "$(base_label "$row")" "$(cpu "$row")"
    done
}

# connect_table [q]: the new-connection table, of the plain runs or (q) of
# the runs whose client acknowledges at once.
connect_table() {
    local row p="${1:-}"
    echo "| path | connections | ready p50 | handshake p50 | handshake p99 | first GET p50 | first GET p99 | total p50 | total p99 | added p50 | added p99 | added vs |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for row in "${ROWS[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$row]}" \
            "$(s "$row" "${p}total_n")" "$(s "$row" "${p}ready_p50")" "$(s "$row" "${p}hs_p50")" \
            "$(s "$row" "${p}hs_p99")" "$(s "$row" "${p}first_p50")" "$(s "$row" "${p}first_p99")" \
            "$(s "$row" "${p}total_p50")" "$(s "$row" "${p}total_p99")" \
            "$(added "$row" "${p}total_p50")" "$(added "$row" "${p}total_p99")" "$(base_label "$row")"
    done
}

# handshake_line [q] TEXT: "TEXT: p50 A → B µs (+D µs), p99 ..." for the
# new-connection totals of the tunnel and inspected rows.
handshake_line() {
    local p="$1" plus='s/^\([0-9]\)/+\1/'
    printf '%s: p50 %s → %s µs (%s µs), p99 %s → %s µs (%s µs)' "$2" \
        "$(s tunnel "${p}total_p50")" "$(s inspect "${p}total_p50")" \
        "$(added inspect "${p}total_p50" | sed "$plus")" \
        "$(s tunnel "${p}total_p99")" "$(s inspect "${p}total_p99")" \
        "$(added inspect "${p}total_p99" | sed "$plus")"
}

# Sets V[ROW] (PASS/MISS/UNKNOWN) and T[ROW] for the inspected rows.
declare -A V=() T=()
compute_verdicts() {
    local row a50 a99
    for row in inspect rules; do
        a50="$(added "$row" rtt_p50)"
        a99="$(added "$row" rtt_p99)"
        if [[ "$a50" == n/a || "$a99" == n/a ]]; then
            V[$row]=UNKNOWN
        elif lt "$a50" "$TARGET_ADDED" && lt "$a99" "$TARGET_ADDED"; then
            V[$row]=PASS
        else
            V[$row]=MISS
        fi
        T[$row]="${LABEL[$row]}: added per keep-alive request p50 ${a50} µs, p99 ${a99} µs over the plain tunnel (target < ${TARGET_ADDED} µs); proxy CPU $(cpu "$row") µs per request (tunnel: $(cpu tunnel))"
    done
    T[handshake]="$(handshake_line "" "new connection (CONNECT + handshake + first request), inspected vs plain tunnel")"
    T[handshake_q]="$(handshake_line q "the same with the client acknowledging at once")"
}

# shellcheck disable=SC2016  # literal backquotes (markdown)
checks() {
    local row
    if (( CHECK_DENY_OK )); then
        printf -- '- Deny rule: `GET %s` through the rules row was refused: `%s`, reason "%s"\n' \
            "$DENY_PATH" "$(grep -o 'HTTP/1.1 403 [A-Za-z ]*[a-z]' <<<"$CHECK_DENY" | head -n1)" \
            "$(sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' <<<"$CHECK_DENY")"
    else
        printf -- '- Deny rule: `GET %s` through the rules row was **not** refused with 403: %s\n' \
            "$DENY_PATH" "${CHECK_DENY:-not run (the rules row failed)}"
    fi
    for row in "${SANDBOX_ROWS[@]}"; do
        printf -- '- Audit trail, %s: %s `http.request` records for the %s requests sent%s\n' \
            "${LABEL[$row]}" "${AUDIT_N[$row]:-0}" "${SENT[$row]:-0}" \
            "$([[ "$row" == tunnel ]] && echo " (none expected: a tunnel is not inspected)")"
    done
}

# When the first request on a new warden connection takes tens of
# milliseconds while direct it takes well under one, say so: that is a
# stall (a timer), not work, and it dominates the new-connection totals.
# The quick-ACK runs say whether the client's delayed ACK is what ends it.
first_request_note() {
    local row d seen="" quick="" slow=0 gone=1
    d="$(s direct first_p50)/$(s direct first_p99)"
    for row in "${SANDBOX_ROWS[@]}"; do
        seen+="${seen:+, }${LABEL[$row]#warden, } $(s "$row" first_p50)/$(s "$row" first_p99)"
        quick+="${quick:+, }${LABEL[$row]#warden, } $(s "$row" qfirst_p50)/$(s "$row" qfirst_p99)"
        if lt 20000 "$(s "$row" first_p99)" && lt "$(s direct first_p99)" 5000; then
            slow=1
        fi
        lt "$(s "$row" qfirst_p99)" 20000 || gone=0
    done
    (( slow )) || return 0
    cat <<EOF

**First request on a new connection:** through warden it often takes about
the 40 ms of Linux's delayed-ACK timer, a stall rather than work: *first
GET* p50/p99 ${seen} µs, against ${d} µs direct. The response follows writes
the client has no reason to acknowledge at once (TLS 1.3 session tickets,
sent after the handshake by the server, or by the proxy when it
terminates).
EOF
    if (( gone )); then
        cat <<EOF
With the client acknowledging at once (next table) it takes ${quick} µs: the
response was held back until the client's ACK, as Nagle's algorithm does on
a socket without \`TCP_NODELAY\` — here the proxy's socket towards the
client (the server and the client set \`TCP_NODELAY\`, and the direct row
does not stall). Kept-alive requests do not pay it; it dominates the *total*
and *added* columns of this table.
EOF
    else
        cat <<EOF
With the client acknowledging at once (next table) it still takes ${quick} µs,
so the client's delayed ACK is not (or not only) what ends it. Kept-alive
requests do not pay it.
EOF
    fi
}

notes() {
    local row first=1
    for row in "${ROWS[@]}"; do
        [[ -n "${NOTE[$row]:-}" ]] || continue
        (( first )) && { printf '\n**Failures:**\n\n'; first=0; }
        printf -- '- %s: %s\n' "${LABEL[$row]}" "${NOTE[$row]//"$SCRATCH"/<tmp>}"
    done
}

render_section() {
    local row
    cat <<EOF
## $SECTION

<!-- Generated by bench/tls.sh; re-run \`make bench\` instead of editing this section. -->

What terminating TLS and reading every request costs. The same HTTPS client
(\`bench/tlsload.c\`) talks to the same TLS server (\`bench/tlsupstream.c\`,
127.0.0.1 on the host, a P-256 certificate for \`${UPNAME}\`, a 2-byte keep-alive
\`200\` for every request) directly, and from inside a warden sandbox through
warden's proxy: as a plain tunnel (the endpoint has no \`protocol\`: the
client's TLS ends at the server), inspected (\`protocol: rest\`,
\`access: full\`: the proxy terminates TLS with the sandbox's CA, decides and
records each request, and opens its own TLS connection to the server), and
inspected with rules (three \`rules\` and a \`deny_rules\` entry). Produced by
\`make bench\` (which runs \`bash bench/tls.sh\`). Raw output:
\`build/bench/tls-*\`.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
$(machine_info)
$(tool_versions)
- Samples: N = ${N} keep-alive requests and M = ${M} new connections per row, in
  ${ROUNDS} rounds (${WARMUP} uncounted requests and ${CONN_WARMUP} uncounted connections at
  the start of each run)

**Verdicts** (target: inspection adds < 1 ms per request on a kept-alive connection):

- **${V[inspect]}** — ${T[inspect]}
- **${V[rules]}** — ${T[rules]}
- (no target) ${T[handshake]}
- (no target) ${T[handshake_q]}

### Keep-alive requests (µs)

One connection per run (CONNECT, TLS handshake), then \`GET ${REQ_PATH}\`
requests one after another on it; each is timed from its first byte written
to the last byte of the response read (CLOCK_MONOTONIC). *Added* is the
row's percentile minus that of the row named in *added vs*: for the
inspected rows, what reading, deciding, recording and re-encrypting one
request costs over relaying it. *Proxy CPU*: the CPU time of the warden
supervisor (all its threads, \`/proc/PID/task/*/schedstat\`) from just
before the first counted request to just after the last, per request;
median of the rounds. It moves less with other load on the machine than
the latencies do.

$(keepalive_table)

### New connections (µs)

Connections one after another, each: \`socket()\`, CONNECT, a full TLS
handshake (no session resumption; certificate and host name verified), one
\`GET\`, close. All times from \`socket()\`: *ready* when the proxy's \`200\`
arrived (direct: \`connect()\` returned), *handshake* when the TLS handshake
was done, *total* when the response was read; *first GET* is total minus
handshake, the first request on the new connection. Inspected, the client's
handshake is with the proxy (a leaf for \`${UPNAME}\` from the sandbox's CA,
issued once and cached), which runs its own TLS handshake with the server
alongside; requests are read once both are done.

$(connect_table)
$(first_request_note)

The same, with the client acknowledging every segment at once
(\`TCP_QUICKACK\` before each read: \`tlsload connect-quickack\`), so that no
write of the proxy or the server can wait for the client's delayed ACK: what
a new connection costs in work, apart from timer stalls.

$(connect_table q)

Checks that the inspected rows were inspected:

$(checks)
$(notes)

Method notes:

- Client and server are C programs built with \`cc -O2 -static\` against
  OpenSSL (TLS 1.3 negotiated by default); the client inside the sandbox is
  the same binary, allowed by exact path in the policies below. Only
  127.0.0.1 is used. Through the tunnel the client verifies the server
  against the upstream's CA (copied into the workdir); inspected, against
  \`\$SSL_CERT_FILE\`, the bundle warden sets up with the sandbox's CA. warden
  verifies the server with \`--upstream-ca\`.
- Every warden row pays attribution and the policy decision once per
  connection (see "Egress proxy" above); the keep-alive numbers exclude it,
  the new-connection numbers include it in every warden row alike.
- Each warden run writes its audit trail to \`build/bench/\`
  (\`--audit-log\`, default \`fsync: batch\`); the inspected rows add one
  \`http.request\` record per request.
- On ${NPROC} CPUs the proxied rows run three busy processes (client, proxy,
  server) where the direct row runs two; the load average above shows what
  else was running.

Commands of round 1 (\`<tmp>\` is a scratch directory, the port is chosen
per run; the other rounds differ only in the sandbox and trail names):

\`\`\`
EOF
    for row in "${ROWS[@]}"; do
        printf '# %s: keep-alive, then new connections\n%s\n%s\n' "${LABEL[$row]}" \
            "${CMDS[$row]:-(not run)}" "${CMDS[$row-conn]:-(not run)}"
    done
    printf '# deny-rule check\n%s\n' "${CMDS[check]:-(not run)}"
    printf '# certificates\n'
    printf '%s\n' "openssl ecparam -name prime256v1 -genkey -noout -out ca.key" \
        "openssl req -x509 -new -key ca.key -sha256 -days 2 -subj '/CN=warden tls bench CA' -addext basicConstraints=critical,CA:TRUE,pathlen:0 -addext keyUsage=critical,keyCertSign,cRLSign -out ca.pem" \
        "openssl ecparam -name prime256v1 -genkey -noout -out server.key" \
        "openssl req -new -key server.key -subj /CN=$UPNAME -out server.csr" \
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -sha256 -extfile leaf.ext -out server.pem   # leaf.ext: CA:FALSE, serverAuth, subjectAltName=DNS:$UPNAME" \
        "<tmp>/tlsupstream server.pem server.key <tmp>/ports"
    printf '```\n'
    for row in "${SANDBOX_ROWS[@]}"; do
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
    need_tool openssl openssl
    NPROC="$(nproc)"
    LOAD_BEFORE="$(loadavg)"
    log "load average before: $LOAD_BEFORE"

    mkdir -p "$BENCH_DIR"
    rm -f "$BENCH_DIR"/tls-*.out "$BENCH_DIR"/tls-*.err "$BENCH_DIR"/tls-*.samples \
        "$BENCH_DIR"/tls-*.jsonl "$BENCH_DIR"/tls-upstream.log
    make_scratch tlsbench

    build_tools
    make_certs
    start_upstream
    prepare_sandbox

    measure
    LOAD_AFTER="$(loadavg)"
    log "load average after the timed runs: $LOAD_AFTER"
    check_deny

    compute_verdicts
    local section
    section="$(mktemp)"
    render_section >"$section"
    cp "$section" "$BENCH_DIR/tls.md"
    update_doc "$section"
    rm -f "$section"

    echo
    echo "Keep-alive requests (µs):"
    keepalive_table
    echo
    echo "New connections (µs):"
    connect_table
    echo
    echo "New connections, client acknowledging at once (µs):"
    connect_table q
    echo
    checks
    notes
    echo
    echo "Verdicts: ${V[inspect]} — ${T[inspect]}"
    echo "          ${V[rules]} — ${T[rules]}"
    echo "          (no target) ${T[handshake]}"
    echo "          (no target) ${T[handshake_q]}"
    echo "Load average: $LOAD_BEFORE at the start, $LOAD_AFTER after the timed runs"
    echo "Written: docs/benchmarks.md (## $SECTION), raw data in build/bench/tls-*"

    if [[ "${V[inspect]}${V[rules]}" == *UNKNOWN* || -n "${NOTE[direct]:-}${NOTE[tunnel]:-}" ]]; then
        return 1
    fi
    if [[ "${V[inspect]}${V[rules]}" == *MISS* ]] && strict; then
        return 1
    fi
    return 0
}

main "$@"
