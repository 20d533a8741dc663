# shellcheck shell=bash
#
# Helpers for warden's integration tests (tests/integration/*.t).
#
# A .t file is a bash script that sources this file, calls the check helpers
# and ends with `done_testing`.  Output is TAP without an up-front plan:
#
#   ok 1 - description
#   not ok 2 - description
#   ok 3 - description # SKIP reason
#   1..3
#
# Every check runs real things: the real warden binary, a real sandbox, and
# the probe (tests/probe/probe.c) inside it, which prints "OK [value]" or
# "ERR <ERRNO_NAME>" for exactly one attempted operation.  So a check proves
# not only that something was refused but that it was refused for the right
# reason (EROFS from a read-only mount, EPERM from seccomp, ENOENT because a
# path was never mounted, ...).
#
# Environment (tests/run.sh sets all of it; a .t also runs on its own):
#   WARDEN   the warden binary (default: build-test/warden, else build/warden)
#   PROBE    a *static* probe binary (default: built here with cc -static),
#            copied into each workdir because nothing else of the host, the
#            build directory included, is visible inside the default policy
#   PYTHON   a python3 for host-side helpers (default: /usr/bin/python3)

set -u

T_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---- TAP -------------------------------------------------------------------

_t_n=0
_t_failed=0
_t_skipped=0

# diag LINE...: TAP comments; each argument (and each line in it) on its own line.
diag() {
	local a line
	for a in "$@"; do
		while IFS= read -r line; do
			printf '# %s\n' "$line"
		done <<<"$a"
	done
}

ok() {
	_t_n=$((_t_n + 1))
	printf 'ok %d - %s\n' "$_t_n" "$*"
}

not_ok() {
	_t_n=$((_t_n + 1))
	_t_failed=$((_t_failed + 1))
	printf 'not ok %d - %s\n' "$_t_n" "$*"
}

# skip DESC REASON
skip() {
	_t_n=$((_t_n + 1))
	_t_skipped=$((_t_skipped + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_t_n" "$1" "$2"
}

# check DESC CMD [ARG...]: ok when CMD succeeds (its output is shown only on failure).
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc"
		diag "command failed: $*" "$out"
	fi
}

# is GOT WANT DESC
is() {
	if [[ $1 == "$2" ]]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:  '$1'" "want: '$2'"
	fi
}

# like GOT REGEX DESC (extended regex, anchored by the caller if wanted)
like() {
	if [[ $1 =~ $2 ]]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:  '$1'"
		diag "want: /$2/"
	fi
}

done_testing() {
	printf '1..%d\n' "$_t_n"
	[[ $_t_failed -eq 0 ]]
	exit $?
}

# ---- environment -------------------------------------------------------------

is_root() { [[ $(id -u) -eq 0 ]]; }

# Sandbox state must not depend on who invoked sudo.
unset SUDO_UID SUDO_GID SUDO_USER

if [[ -z ${WARDEN:-} ]]; then
	if [[ -x $T_ROOT/build-test/warden ]]; then
		WARDEN=$T_ROOT/build-test/warden
	else
		WARDEN=$T_ROOT/build/warden
	fi
fi
PYTHON=${PYTHON:-}
if [[ -z $PYTHON ]]; then
	if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=$(command -v python3 || true); fi
fi

# The identity the agent runs as: the caller when rootless; as root without
# process.run_as_user (and without SUDO_UID) it is nobody.
if is_root; then
	AGENT_UID=65534
	AGENT_GID=65534
else
	AGENT_UID=$(id -u)
	AGENT_GID=$(id -g)
fi

# Where warden keeps the state of a running sandbox (sandbox_state.c).
state_dir() {
	local base
	if is_root; then
		base=/run/warden
	elif [[ -n ${XDG_RUNTIME_DIR:-} && ${XDG_RUNTIME_DIR:0:1} == / && -O ${XDG_RUNTIME_DIR} ]]; then
		base=$XDG_RUNTIME_DIR/warden
	else
		base=/tmp/warden-$(id -u)
	fi
	printf '%s/%s\n' "$base" "$1"
}

# ---- cleanup -------------------------------------------------------------------

# T_TMP: this run's scratch directory (removed at exit).
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/warden-t.XXXXXX")
_t_tmp=$T_TMP
chmod 755 "$_t_tmp"
_t_pids=()
_t_names=()

# track_pid PID: killed (by pid) at exit.
track_pid() { _t_pids+=("$1"); }
# track_name NAME: `warden stop`ped at exit if still running.
track_name() { _t_names+=("$1"); }

_t_cleanup() {
	local p n
	for n in "${_t_names[@]}"; do
		"$WARDEN" stop -t 1 "$n" >/dev/null 2>&1 || true
	done
	for p in "${_t_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${_t_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$_t_tmp"
}
trap _t_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# mktmp [NAME]: a fresh directory owned by the runner.
mktmp() {
	mktemp -d "$_t_tmp/${1:-d}.XXXXXX"
}

# ---- the probe --------------------------------------------------------------------

if [[ -z ${PROBE:-} ]]; then
	PROBE=$_t_tmp/probe-bin
	if ! cc -O2 -static -o "$PROBE" "$T_ROOT/tests/probe/probe.c" 2>"$_t_tmp/cc.log"; then
		echo "Bail out! cannot build a static probe: $(cat "$_t_tmp/cc.log")"
		exit 1
	fi
fi

# mk_workdir: a workdir the agent can write, holding ./probe.  Owned by the
# runner; as root handed to the agent's uid (nobody), since the agent does not
# run as root.
mk_workdir() {
	local d
	d=$(mktmp "${1:-wd}")
	chmod 755 "$d"
	cp "$PROBE" "$d/probe"
	chmod 755 "$d/probe"
	if is_root; then
		chown -R "$AGENT_UID:$AGENT_GID" "$d"
	fi
	printf '%s\n' "$d"
}

# ---- running things in a sandbox -----------------------------------------------------

WORKDIR=
POLICY=
OUT=
ERR=
RC=

# sandbox [WARDEN-RUN-OPTIONS...] -- CMD [ARG...]
# Runs `warden run --no-tty [--policy $POLICY] --workdir $WORKDIR
# --audit-log <scratch> OPTIONS -- CMD`
# with stdin from /dev/null; sets OUT (stdout), ERR (stderr) and RC.
sandbox() {
	local args=(run --no-tty --workdir "$WORKDIR")
	[[ -n $POLICY ]] && args+=(--policy "$POLICY")
	# Trails go to the scratch directory (a later --audit-log in the
	# arguments wins), unless a test is about the default location.
	if [[ -z ${T_DEFAULT_TRAIL:-} ]]; then
		mkdir -p "$_t_tmp/trails"
		args+=(--audit-log "$_t_tmp/trails/$RANDOM$RANDOM.jsonl")
	fi
	OUT=$(timeout 60 "$WARDEN" "${args[@]}" "$@" </dev/null 2>"$_t_tmp/stderr")
	RC=$?
	ERR=$(cat "$_t_tmp/stderr")
}

# run_probe OP [ARG...]: the probe from $WORKDIR inside a sandbox.
run_probe() {
	sandbox -- "$WORKDIR/probe" "$@"
}

_t_show() {
	diag "probe $*"
	diag "stdout: $OUT" "stderr: $ERR" "exit:   $RC"
}

# expect_err ERRNAMES DESC OP [ARG...]: the probe fails with one of ERRNAMES
# ("EPERM" or "EROFS|EACCES").
expect_err() {
	local want=$1 desc=$2
	shift 2
	run_probe "$@"
	if [[ $RC -eq 1 && $OUT =~ ^ERR\ ($want)$ ]]; then
		ok "$desc ($OUT)"
	else
		not_ok "$desc"
		diag "want: ERR $want"
		_t_show "$@"
	fi
}

# expect_ok DESC OP [ARG...]: the probe succeeds.
expect_ok() {
	local desc=$1
	shift
	run_probe "$@"
	if [[ $RC -eq 0 && $OUT =~ ^OK ]]; then
		ok "$desc"
	else
		not_ok "$desc"
		_t_show "$@"
	fi
}

# expect_out WANT DESC OP [ARG...]: the probe prints exactly WANT.
expect_out() {
	local want=$1 desc=$2
	shift 2
	run_probe "$@"
	if [[ $OUT == "$want" ]]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "want: $want"
		_t_show "$@"
	fi
}

# expect_status N DESC OP [ARG...]: the sandbox exits with status N.
expect_status() {
	local want=$1 desc=$2
	shift 2
	run_probe "$@"
	if [[ $RC -eq $want ]]; then
		ok "$desc (exit $RC)"
	else
		not_ok "$desc"
		diag "want exit $want"
		_t_show "$@"
	fi
}

# write_policy FILE: the policy read from stdin, checked with `warden policy check`.
write_policy() {
	cat >"$1"
	chmod 644 "$1"
	if ! "$WARDEN" policy check "$1" >/dev/null 2>"$_t_tmp/pol.err"; then
		echo "Bail out! test policy $1 does not check: $(cat "$_t_tmp/pol.err")"
		exit 1
	fi
}

# ---- test user ----------------------------------------------------------------------------

TEST_USER=warden-test

# ensure_test_user: create the unprivileged test user if missing (root only).
ensure_test_user() {
	is_root || return 1
	id -u "$TEST_USER" >/dev/null 2>&1 && return 0
	useradd -M -s /usr/sbin/nologin "$TEST_USER" >/dev/null 2>&1 ||
		useradd -M -s /sbin/nologin "$TEST_USER" >/dev/null 2>&1
}

# ---- host-side listeners --------------------------------------------------------------------

# A loopback TCP listener (host network namespace).  Sets LISTEN_PORT and
# LISTEN_LOG; every accepted connection appends one line to LISTEN_LOG.
start_tcp_listener() {
	local dir
	dir=$(mktmp tcp)
	LISTEN_LOG=$dir/log
	: >"$LISTEN_LOG"
	"$PYTHON" -c '
import os, socket, sys
port_file, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
while True:
    c, a = s.accept()
    with open(log, "a") as f:
        f.write("connection from %s:%d\n" % a)
    c.close()
' "$dir/port" "$LISTEN_LOG" &
	track_pid $!
	_t_wait_file "$dir/port" || return 1
	# shellcheck disable=SC2034 # for the .t files
	LISTEN_PORT=$(cat "$dir/port")
}

# An abstract AF_UNIX stream listener in the host's network namespace.
# Sets ABSTRACT_NAME (without the leading NUL) and ABSTRACT_LOG.
start_abstract_listener() {
	local dir
	dir=$(mktmp abs)
	ABSTRACT_LOG=$dir/log
	ABSTRACT_NAME=warden-test-$$-$RANDOM
	: >"$ABSTRACT_LOG"
	"$PYTHON" -c '
import os, socket, sys
name, ready, log = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0" + name)
s.listen(16)
open(ready, "w").close()
while True:
    c, _ = s.accept()
    with open(log, "a") as f:
        f.write("connection\n")
    c.close()
' "$ABSTRACT_NAME" "$dir/ready" "$ABSTRACT_LOG" &
	track_pid $!
	_t_wait_file "$dir/ready"
}

_t_wait_file() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.05
	done
	return 1
}

# wait_until SECONDS CMD [ARG...]: poll CMD every 50 ms until it succeeds.
wait_until() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# landlock_abi: the kernel's Landlock ABI version (0 when unsupported).
landlock_abi() {
	"$PYTHON" -c '
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
v = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
print(v if v > 0 else 0)' 2>/dev/null || echo 0
}

# system_ro: the default policy's read-only system directories that exist
# here, as a YAML flow list, for test policies that extend the default.
system_ro() {
	local d out=
	for d in /usr /bin /sbin /lib /lib64 /etc; do
		[[ -e $d ]] && out+="${out:+, }$d"
	done
	printf '%s' "$out"
}

# ---- upstream servers for the proxy tests ------------------------------------------------

# start_upstream [--tls CERT KEY] [--root DIR]: an HTTP(S) server on the
# host's loopback (tests/upstream/server.py).  Sets UP_PORT and UP_LOG (one
# line per request: "METHOD PATH host=HOST").
start_upstream() {
	local dir
	dir=$(mktmp up)
	UP_LOG=$dir/log
	: >"$UP_LOG"
	"$PYTHON" "$T_ROOT/tests/upstream/server.py" "$dir/port" "$UP_LOG" "$@" \
		>"$dir/out" 2>&1 &
	track_pid $!
	_t_wait_file "$dir/port" || return 1
	UP_PORT=$(cat "$dir/port")
}

# make_cert DIR NAME...: a self-signed P-256 certificate for the names, as
# DIR/cert.pem and DIR/key.pem (the certificate is its own trust anchor).
make_cert() {
	local dir=$1 san="" n
	shift
	for n in "$@"; do san+="${san:+,}DNS:$n"; done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$1" -addext "subjectAltName=$san" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1
}

# ---- HTTPS upstreams for the L7 tests ------------------------------------------------------

# start_https_upstream CERT_DIR [ARG...]: server.py over TLS with
# CERT_DIR/cert.pem and CERT_DIR/key.pem (see make_cert), recording every
# request head as a JSON line (--headers).  Sets UP_PORT, UP_LOG ("METHOD
# PATH host=HOST" lines) and UP_HEADERS (JSON lines: method, path, host,
# headers with lower-case names, body_len, body_sha256, sni, conn, seq).
start_https_upstream() {
	local certs=$1 dir
	shift
	dir=$(mktmp up)
	UP_LOG=$dir/log
	UP_HEADERS=$dir/headers.jsonl
	: >"$UP_LOG"
	: >"$UP_HEADERS"
	"$PYTHON" "$T_ROOT/tests/upstream/server.py" "$dir/port" "$UP_LOG" \
		--tls "$certs/cert.pem" "$certs/key.pem" --headers "$UP_HEADERS" "$@" >"$dir/out" 2>&1 &
	track_pid $!
	_t_wait_file "$dir/port" || return 1
	# shellcheck disable=SC2034 # for the .t files
	UP_PORT=$(cat "$dir/port")
}

# make_git_repo ROOT NAME: a bare repository ROOT/NAME (e.g. repo.git) with
# one commit on main (README: "hello from upstream") that accepts pushes
# over smart HTTP (http.receivepack=true).
make_git_repo() {
	local root=$1 name=$2 src
	(
		set -e
		git init -q --bare "$root/$name"
		git -C "$root/$name" config http.receivepack true
		src=$(mktemp -d "$root/src.XXXXXX")
		git -C "$src" init -q
		echo "hello from upstream" >"$src/README"
		git -C "$src" add README
		git -C "$src" -c user.name=t -c user.email=t@t commit -qm init
		git -C "$src" push -q "$root/$name" HEAD:refs/heads/main
		git -C "$root/$name" symbolic-ref HEAD refs/heads/main
		rm -rf "$src"
	) >/dev/null 2>&1
}

# start_git_server CERT_DIR ROOT: a git smart-HTTP server over TLS
# (tests/upstream/gitserver.py, `git http-backend` as a CGI) for the
# repositories under ROOT.  Sets GIT_SRV_PORT and GIT_SRV_LOG ("METHOD
# PATH" lines, the query included).
start_git_server() {
	local certs=$1 root=$2 dir
	dir=$(mktmp git)
	GIT_SRV_LOG=$dir/log
	: >"$GIT_SRV_LOG"
	"$PYTHON" "$T_ROOT/tests/upstream/gitserver.py" "$dir/port" "$GIT_SRV_LOG" \
		--tls "$certs/cert.pem" "$certs/key.pem" --root "$root" >"$dir/out" 2>&1 &
	track_pid $!
	_t_wait_file "$dir/port" || return 1
	# shellcheck disable=SC2034 # for the .t files
	GIT_SRV_PORT=$(cat "$dir/port")
}

# pending_item SANDBOX KIND: the JSON line (from warden approvals --json) of
# SANDBOX's first pending item of KIND (proposal|hold), waiting up to 30 s.
pending_item() {
	local i line
	for ((i = 0; i < 150; i++)); do
		line=$("$WARDEN" approvals "$1" --json 2>/dev/null | "$PYTHON" -c 'import json, sys
for line in sys.stdin:
    line = line.strip()
    if line and json.loads(line).get("kind") == sys.argv[1]:
        print(line)
        break' "$2")
		if [[ -n $line ]]; then
			printf '%s\n' "$line"
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# json_get JSON KEY: one top-level field of a JSON object ("" when absent,
# "<not json>" when JSON is not an object).
json_get() {
	"$PYTHON" -c 'import json, sys
try:
    v = json.loads(sys.argv[1]).get(sys.argv[2])
except Exception:
    v = "<not json>"
print("" if v is None else v if not isinstance(v, (list, dict)) else json.dumps(v))' "$1" "$2"
}

# jsonl_query FILE EXPR: a Python expression over recs, the JSON lines of
# FILE (an audit trail, an UP_HEADERS log), printed (lists and dicts as
# JSON).  ev(EVENT, key=value...) selects trail records; req(key=value...)
# selects records by any fields; hdr(REC, NAME) is a header of an
# UP_HEADERS record (lower-case NAME, "" when absent).
jsonl_query() {
	"$PYTHON" -c 'import json, sys
recs = []
with open(sys.argv[1], "rb") as f:
    for line in f:
        if line.endswith(b"\n"):
            recs.append(json.loads(line))
def req(**kw):
    return [r for r in recs if all(r.get(k) == v for k, v in kw.items())]
def ev(name, **kw):
    return req(event=name, **kw)
def hdr(r, name):
    return r.get("headers", {}).get(name, "")
v = eval(sys.argv[2])
print(v if not isinstance(v, (list, dict)) else json.dumps(v))' "$1" "$2" 2>&1
}

# ---- mock model providers for the privacy router tests ---------------------------------------

# start_mockllm NAME LOGFILE [CERT_DIR] [ARG...]: a mock model provider
# (tests/upstream/mockllm.py) on the host's loopback answering as NAME --
# Anthropic Messages, OpenAI Chat Completions and Responses, streaming or
# not, echoing the last user message -- over TLS with CERT_DIR/cert.pem and
# CERT_DIR/key.pem (see make_cert) when CERT_DIR is given and not "".  Every
# request is one JSON line in LOGFILE (provider, method, path, headers with
# lower-case names, body, status).  Further ARGs go to mockllm.py (e.g.
# --event-delay-ms 5).  Sets MOCK_PORT.
start_mockllm() {
	local name=$1 log=$2 certs=${3:-} dir
	shift 2
	[[ $# -gt 0 ]] && shift
	dir=$(mktmp mock)
	: >"$log"
	local tlsargs=()
	[[ -n $certs ]] && tlsargs=(--tls "$certs/cert.pem" "$certs/key.pem")
	"$PYTHON" "$T_ROOT/tests/upstream/mockllm.py" --port 0 --port-file "$dir/port" \
		--name "$name" --log "$log" "${tlsargs[@]}" "$@" >"$dir/out" 2>&1 &
	track_pid $!
	_t_wait_file "$dir/port" || return 1
	# shellcheck disable=SC2034 # for the .t files
	MOCK_PORT=$(cat "$dir/port")
}
