# shellcheck shell=bash
# bench/lib.sh — what warden's benchmark scripts share (sourced, not run).
#
# Every bench/*.sh measures something different but reports it the same
# way: one section of docs/benchmarks.md, with the machine it ran on, the
# exact commands, and numbers computed by the same small awk helpers. This
# file holds those pieces once, so that two sections never describe the
# machine or compute a median differently.
#
# The sourcing script sets, before calling anything here:
#   ROOT     the repository (absolute)
#   DOC      docs/benchmarks.md (absolute)          update_doc
#   SECTION  its section's title, without "## "      update_doc
#   WARDEN   the warden binary (absolute)            warden_version, stop_sandboxes
#   SCRATCH  its scratch directory, or ""            show_cmd
#   SANDBOXES the names of the sandboxes it started  stop_sandboxes
#   LOAD_BEFORE, LOAD_AFTER  loadavg at the start and after the timed runs
# Functions print their result on stdout and never exit, except die.

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# A path given relative to the repository root (or a bare command name,
# looked up in PATH first) as an absolute one.
abspath() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        */*) printf '%s\n' "$ROOT/$1" ;;
        *) command -v "$1" || printf '%s\n' "$ROOT/$1" ;;
    esac
}

# Quote an argv as one copy-pastable shell string (also what hyperfine -N,
# which splits with POSIX shell-word rules but runs no shell, turns back
# into the same argv).
quote_words() {
    local w words=()
    for w in "$@"; do
        if [[ "$w" =~ ^[A-Za-z0-9_./=:,@+%-]+$ ]]; then
            words+=("$w")
        else
            words+=("'${w//\'/\'\"\'\"\'}'")
        fi
    done
    printf '%s' "${words[*]}"
}

# The same, with the repository and scratch paths abbreviated, for the report.
show_cmd() {
    local s
    s="$(quote_words "$@")"
    if [[ -n "${SCRATCH:-}" ]]; then
        s="${s//"$SCRATCH"/<tmp>}"
    fi
    printf '%s' "${s//"$ROOT"/<repo>}"
}

# one_line [WIDTH]: stdin as one line of at most WIDTH (400) characters with
# no table-breaking characters, for failure reasons in the report.
# shellcheck disable=SC2120
one_line() {
    tr '\n|' ' /' | sed -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e 's/ $//' | cut -c1-"${1:-400}"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Whether BENCH_STRICT asks for exit status 1 on a MISS.
strict() { [[ -n "${BENCH_STRICT:-}" && "${BENCH_STRICT}" != 0 ]]; }

# need_warden: WARDEN made absolute, or die saying how to get one.
need_warden() {
    WARDEN="$(abspath "$WARDEN")"
    [[ -x "$WARDEN" ]] || die "warden binary not found at ${WARDEN#"$ROOT"/} — build it first (make), or point WARDEN= at one."
}

# need_tool COMMAND PACKAGE: die unless COMMAND is installed, naming the
# Debian package that has it.
need_tool() { command -v "$1" >/dev/null || die "$1 not found (Debian package $2)"; }

# make_scratch NAME: SCRATCH, a new /tmp/warden-NAME.XXXXXX that the agent
# (nobody, when run as root) can read, and the traps that run the script's
# cleanup() however it ends (INT and TERM exit, so that the EXIT trap runs).
make_scratch() {
    SCRATCH="$(mktemp -d "/tmp/warden-$1.XXXXXX")"
    chmod 755 "$SCRATCH"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------

# kv FILE MODE KEY: the value of KEY on the "MODE key=value ..." line of FILE.
kv() {
    [[ -f "$1" ]] || return 0
    awk -v m="$2" -v k="$3" '$1 == m {
        for (i = 2; i <= NF; i++) {
            eq = index($i, "=")
            if (substr($i, 1, eq - 1) == k) { print substr($i, eq + 1); exit }
        }
    }' "$1"
}

# calc A B OP [FMT]: A - B, A / B or 100 * A / B (OP %) on decimal strings,
# printed with FMT (%.1f); "n/a" in (or a division by zero), "n/a" out.
calc() {
    awk -v a="$1" -v b="$2" -v op="$3" -v fmt="${4:-%.1f}" 'BEGIN {
        if (a == "" || b == "" || a == "n/a" || b == "n/a") { print "n/a"; exit }
        if (op == "-") v = a - b
        else if (op == "/") { if (b == 0) { print "n/a"; exit } v = a / b }
        else if (op == "%") { if (b == 0) { print "n/a"; exit } v = 100 * a / b }
        printf fmt "\n", v
    }'
}

# le A B: A <= B; lt A B: A < B (decimal strings; false when either is n/a).
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && b != "n/a" && a + 0 <= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && b != "n/a" && a + 0 < b + 0) }'; }

# Median of the numbers given as arguments (one decimal), or n/a.
median() {
    [[ $# -gt 0 ]] || { echo n/a; return; }
    printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
        if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# median_mid FMT NUMBER...: the middle number as given, or the mean of the two
# middle ones printed with FMT; status 1 when there are none.
median_mid() {
    local fmt="$1"
    shift
    printf '%s\n' "$@" | sort -g | awk -v fmt="$fmt" '{v[NR] = $1} END {
        if (NR == 0) exit 1
        if (NR % 2) print v[(NR + 1) / 2]; else printf fmt "\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# field LINE KEY: the value of KEY in a "key=value key=value" line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# 1234567 -> 1,234,567
thousands() { awk -v n="$1" 'BEGIN {
    s = sprintf("%.0f", n); out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    print s out }'; }

# ---------------------------------------------------------------------------
# Sandboxes
# ---------------------------------------------------------------------------

# The paths a sandbox can mount read-only from the system, as "a, b, c".
system_ro() {
    local d out=
    for d in /usr /bin /sbin /lib /lib64 /etc; do
        [[ -e $d ]] && out+="${out:+, }$d"
    done
    printf '%s' "$out"
}

# Where warden keeps a sandbox's audit trail by default: with --audit-log
# elsewhere it links the trail from there (see `warden run --help`).
default_trail_dir() {
    if (( EUID == 0 )); then
        printf '/var/lib/warden/%s' "$1"
    else
        printf '%s/warden/%s' "${XDG_STATE_HOME:-$HOME/.local/state}" "$1"
    fi
}

# Stops every sandbox in SANDBOXES and removes the link warden left to its
# trail at the default location (only that link, and the directory if that
# was all it held), so that runs leave nothing behind.
stop_sandboxes() {
    local n d
    for n in "${SANDBOXES[@]}"; do
        "$WARDEN" stop -t 1 "$n" >/dev/null 2>&1 || true
        d="$(default_trail_dir "$n")"
        if [[ -L "$d/audit.jsonl" ]]; then
            rm -f "$d/audit.jsonl"
            rmdir "$d" 2>/dev/null || true
        fi
    done
}

# CPU time in ns the process PID has used so far: the sum over its threads
# (/proc/PID/task/*/schedstat, nanosecond resolution).
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'
}

# wait_for FILE PID SECONDS: until FILE exists; false if PID ended or time ran out.
wait_for() {
    local i
    for ((i = 0; i < $3 * 200; i++)); do
        [[ -e "$1" ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.005
    done
    return 1
}

# The reasons of the refusals (deny or error records) in the audit trail
# $1, shortened to at most three distinct ones, for the notes.
audit_failures() {
    [[ -s "$1" ]] || return 0
    { grep -E '"decision":"(deny|error)"' "$1" || true; } | sed -n \
        's/.*"event":"\([^"]*\)".*"decision":"\([^"]*\)".*"reason":"\(\([^"\\]\|\\.\)*\)".*/\1 \2: \3;/p' |
        sort -u | head -n 3
}

# build_static NAME HINT [CC ARGS...]: bench/NAME.c as $SCRATCH/NAME with
# `cc -O2 -static`, so that the same binary runs on the host and inside a
# sandbox whatever the sandbox mounts; or die naming HINT (the packages it
# needs). glibc's warnings about dlopen/getaddrinfo in static libraries are
# expected (only 127.0.0.1 is connected to) and kept out of the message.
# wait_file FILE SECS [written]: until FILE exists (with "written": and is
# not empty, as when a server writes its port), for at most SECS seconds;
# 1 if it never did.
wait_file() {
    local f="$1" secs="$2" i
    for ((i = 0; i < secs * 20; i++)); do
        if [[ "${3:-}" == written ]]; then [[ -s "$f" ]] && return 0; else [[ -e "$f" ]] && return 0; fi
        sleep 0.05
    done
    return 1
}

build_static() {
    local name="$1" hint="$2"
    shift 2
    cc -O2 -static -std=gnu11 -o "$SCRATCH/$name" "$ROOT/bench/$name.c" "$@" \
        >"$SCRATCH/cc-$name.log" 2>&1 ||
        die "cannot build bench/$name.c statically ($hint): $(grep -v 'statically linked applications requires' "$SCRATCH/cc-$name.log" | one_line)"
}

# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

# The commit the source is at, as `git describe` says it.
source_rev() { git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "no commit yet"; }

# warden_version [rev]: which warden was measured; says so loudly when it is
# not build/warden, and with "rev" also which commit the source was at.
warden_version() {
    local rev
    rev="$(source_rev)"
    if [[ "$WARDEN" == "$ROOT/build/warden" ]]; then
        printf 'warden at %s' "$rev"
    else
        printf 'warden: WARDEN=%s, NOT build/warden%s' "${WARDEN//"$ROOT"/<repo>}" \
            "${1:+ (source at $rev)}"
    fi
}

# machine_lines [CPU_EXTRA]: the report's "- Kernel:" and "- CPU:" lines;
# CPU_EXTRA is appended to the CPU line after "; ".
machine_lines() {
    local cpu distro mem virt
    cpu="$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
    [[ -n "$cpu" ]] || cpu="$(lscpu 2>/dev/null | awk -F': *' '/^Model name/ {print $2; exit}')"
    # shellcheck disable=SC1091
    distro="$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || echo unknown)"
    mem="$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    virt="$(systemd-detect-virt 2>/dev/null || true)"
    printf -- '- Kernel: Linux %s (%s), %s\n' "$(uname -r)" "$(uname -m)" "$distro"
    printf -- '- CPU: %s, nproc %s, RAM %s%s%s\n' "${cpu:-unknown}" "$(nproc)" "$mem" \
        "${virt:+, virtualisation: $virt}" "${1:+; $1}"
}

# load_line [BUSY]: the load averages around the timed runs. With BUSY (how
# many processes the benchmark keeps busy, in words) the long form, which
# says so; without it the short one.
load_line() {
    if [[ -n "${1:-}" ]]; then
        printf -- '- Load average (1, 5, 15 min): %s at the start, %s after the timed runs\n' \
            "$LOAD_BEFORE" "$LOAD_AFTER"
        printf -- '  (the benchmark itself keeps %s processes busy)\n' "$1"
    else
        printf -- '- Load average (1, 5, 15 min): %s before, %s after\n' "$LOAD_BEFORE" "$LOAD_AFTER"
    fi
}

# ran_as_line [AS_ROOT]: who ran the benchmark; AS_ROOT says, for root,
# whom the sandboxed processes ran as.
ran_as_line() {
    if ((EUID == 0)); then
        printf -- '- Ran as: root (uid 0%s)\n' "${1:+; $1}"
    else
        printf -- '- Ran as: unprivileged user (uid %s)\n' "$EUID"
    fi
}

# Replace this script's section of docs/benchmarks.md (from "## $SECTION"
# up to the next level-2 heading outside a code fence) with the file $1,
# leaving everything else alone; append the section if there is none, and
# start the file if there is no file.
update_doc() {
    local section="$1" tmp
    mkdir -p "$(dirname "$DOC")"
    if [[ ! -f "$DOC" ]]; then
        printf '# warden benchmarks\n\nMeasurements of warden against other sandboxes. Each section is regenerated\nby the script named in it.\n\n' >"$DOC"
    fi
    tmp="$(mktemp)"
    awk -v secfile="$section" -v title="## $SECTION" '
        function emit(  line) {
            while ((getline line < secfile) > 0) print line
            close(secfile)
            done = 1
        }
        /^```/ { fence = !fence }
        !fence && $0 == title { emit(); print ""; skip = 1; next }
        skip && !fence && /^## / { skip = 0 }
        !skip { print }
        END { if (!done) { print ""; emit() } }
    ' "$DOC" | cat -s >"$tmp"
    # Copy back rather than mv: keeps the file's mode (mktemp's is 0600).
    cat "$tmp" >"$DOC"
    rm -f "$tmp"
}
