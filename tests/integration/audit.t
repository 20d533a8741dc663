#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are called indirectly, through wait_until
#
# The audit trail, end to end: real sandboxes write it while real clients
# go through the real proxy to an upstream on the host's loopback (named
# with --add-host), and `warden audit verify` judges the file -- intact
# after a run; every kind of tampering detected and located; warden killed
# with SIGKILL while its agent makes requests; a trail that cannot be
# written (a full tmpfs, /dev/full); secrets the agent sends; the default
# location and modes.

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

if ! command -v curl >/dev/null; then
	echo "Bail out! curl is needed (scripts/deps.sh test installs it)"
	exit 1
fi
if ! "$PYTHON" -c 'import cryptography.hazmat.primitives.asymmetric.ed25519' 2>/dev/null; then
	echo "Bail out! python3's cryptography module is needed to forge signatures (python3-cryptography)"
	exit 1
fi

WORKDIR=$(mk_workdir wd)
SYS_RO=$(system_ro)
# Rootless, the default trail and key live under $XDG_STATE_HOME/warden.
XDG_STATE_HOME=$(mktmp state)
chmod 700 "$XDG_STATE_HOME"
export XDG_STATE_HOME
if is_root; then
	KEY_FILE=/var/lib/warden/audit.key
else
	KEY_FILE=$XDG_STATE_HOME/warden/audit.key
fi

# Mounts made here are undone at exit, before lib.sh's cleanup.
MOUNTS=()
ROOT_DIRS=()
_audit_cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	for m in "${ROOT_DIRS[@]}"; do
		rm -rf "$m"
	done
}
trap '_audit_cleanup; _t_cleanup' EXIT

# shellcheck disable=SC2119 # no options: a plain HTTP upstream
start_upstream
HTTP_PORT=$UP_PORT HTTP_LOG=$UP_LOG
HOSTS=(--add-host files.example.com:127.0.0.1 --add-host other.example.com:127.0.0.1
	--add-host denied.example.com:127.0.0.1)

POLICY=$(mktmp pol)/policy.yaml
write_policy "$POLICY" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
network_policies:
  tools:
    name: tools
    endpoints:
      - {host: files.example.com, port: $HTTP_PORT}
    binaries:
      - {path: /usr/bin/curl}
      - {path: "/usr/bin/python3*"}
  py_only:
    name: py-only
    endpoints:
      - {host: other.example.com, port: $HTTP_PORT}
    binaries:
      - {path: "/usr/bin/python3*"}
EOF
POLICY_HASH=$("$WARDEN" policy show "$POLICY" | sed -n 's/^# sha256:\([0-9a-f]*\)$/\1/p')

# ---- helpers ------------------------------------------------------------------------------

# trail_query FILE EXPR: a Python expression over recs (the trail's records, parsed).
TQ=$T_TMP/trail_query.py
cat >"$TQ" <<'EOF'
import json, sys
recs = []
with open(sys.argv[1], 'rb') as f:
    for line in f:
        if line.endswith(b'\n'):
            recs.append(json.loads(line))
def ev(name, **kw):
    return [r for r in recs if r.get('event') == name and all(r.get(k) == v for k, v in kw.items())]
v = eval(sys.argv[2])
print(v if not isinstance(v, (list, dict)) else json.dumps(v))
EOF
trail_query() {
	"$PYTHON" "$TQ" "$1" "$2" 2>&1
}

# tamper OP FILE [ARGS...]: change a trail the way an attacker would (see the script).
TAMPER=$T_TMP/tamper.py
cat >"$TAMPER" <<'EOF'
import hashlib, re, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

op, path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
data = open(path, 'rb').read()
L = data.split(b'\n')[:-1]

def seal(line, prev):
    # What the writer does: the hash covers the line up to ,"hash":" plus '}'.
    body = line[:line.index(b',"prev":"')] + b',"prev":"' + prev + b'"'
    return body + b',"hash":"' + hashlib.sha256(body + b'}').hexdigest().encode() + b'"}'

def hash_of(line):
    return re.search(rb'"hash":"([0-9a-f]{64})"}$', line).group(1)

def seq_of(line):
    return int(re.match(rb'{"seq":(\d+)', line).group(1))

def checkpoint(seq, head, key):
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex().encode()
    sig = key.sign(b'warden-audit-checkpoint\n%d\n%s\n' % (seq, head)).hex().encode()
    return seal(b'{"seq":%d,"time":"2026-01-01T00:00:00.000000000Z","sandbox":"x",'
                b'"event":"audit.checkpoint","head":"%s","count":%d,"key":"%s","sig":"%s",'
                b'"prev":"x"}' % (seq, head, seq - 1, pub, sig), head)

if op == 'flip':            # LINE FIELD: change one character of a field's value
    n, field = int(args[0]) - 1, args[1].encode()
    i = L[n].index(b'"' + field + b'":') + len(field) + 3
    if L[n][i:i + 1] == b'"':
        i += 1
    c = L[n][i:i + 1]
    L[n] = L[n][:i] + (b'Y' if c != b'Y' else b'Z') + L[n][i + 1:]
elif op == 'delete':        # LINE
    del L[int(args[0]) - 1]
elif op == 'swap':          # A B
    a, b = int(args[0]) - 1, int(args[1]) - 1
    L[a], L[b] = L[b], L[a]
elif op == 'append-copy':   # LINE: a copy of a record, as it is
    L.append(L[int(args[0]) - 1])
elif op in ('append-forged', 'append-forged-checkpoint'):
    # A connection record numbered and chained to fit, its hash recomputed.
    last = L[-1]
    L.append(seal(b'{"seq":%d,"time":"2026-01-01T00:00:00.000000000Z","sandbox":"x",'
                  b'"event":"net.connect","decision":"allow","rule":"tools",'
                  b'"binary":"/usr/bin/curl","dst":"evil.example","port":443,"prev":"x"}'
                  % (seq_of(last) + 1), hash_of(last)))
    if op == 'append-forged-checkpoint':
        L.append(checkpoint(seq_of(L[-1]) + 1, hash_of(L[-1]), Ed25519PrivateKey.generate()))
elif op == 'resign':        # LINE: edit it, recompute every hash, re-sign with a new key
    key = Ed25519PrivateKey.generate()
    n = int(args[0]) - 1
    L[n] = L[n].replace(b'"dst":"', b'"dst":"X', 1)
    for i in range(n, len(L)):
        prev = hash_of(L[i - 1]) if i else b'0' * 64
        if b'"event":"audit.checkpoint"' in L[i]:
            L[i] = checkpoint(seq_of(L[i]), prev, key)
        L[i] = seal(L[i], prev)
elif op == 'cut':           # BYTES: cut that many bytes off the end
    open(path, 'wb').write(data[:len(data) - int(args[0])])
    sys.exit(0)
else:
    sys.exit('unknown op ' + op)
open(path, 'wb').write(b''.join(l + b'\n' for l in L))
EOF

# tampered OP [ARGS...]: a copy of $TRAIL tampered with; prints its path.
tampered() {
	local f
	f=$(mktemp "$T_TMP/tampered.XXXXXX")
	cp "$TRAIL" "$f"
	"$PYTHON" "$TAMPER" "$1" "$f" "${@:2}" || return 1
	printf '%s\n' "$f"
}

# verify [ARGS...]: `warden audit verify ARGS`; sets VOUT (stdout and stderr) and VRC.
verify() {
	VOUT=$("$WARDEN" audit verify "$@" 2>&1)
	VRC=$?
}

# expect_verify RC REGEX DESC ARGS...
expect_verify() {
	local rc=$1 re=$2 desc=$3
	shift 3
	verify "$@"
	if [[ $VRC -eq $rc && $VOUT =~ $re ]]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "want exit $rc and /$re/" "got exit $VRC:" "$VOUT"
	fi
}

# state_field NAME KEY
state_field() {
	sed -n "s/^$2=//p" "$(state_dir "$1")/state" 2>/dev/null
}

# sandbox_pids INIT_PID: host pids of every process in init's pid namespace.
sandbox_pids() {
	local ns p
	ns=$(readlink "/proc/$1/ns/pid" 2>/dev/null) || return 0
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/ns/pid" 2>/dev/null) == "$ns" ]] && printf '%s ' "${p#/proc/}"
	done
}

all_gone() {
	local p
	for p in "$@"; do
		[[ -e /proc/$p ]] && return 1
	done
	return 0
}

# ---- (a) the trail of a run with an allowed and a denied connection -------------------------

TRAIL=$(mktmp trail)/audit.jsonl
sandbox "${HOSTS[@]}" --audit-log "$TRAIL" -- sh -c "
curl -sS -o /dev/null -w '%{http_code} ' http://files.example.com:$HTTP_PORT/echo
curl -sS -o /dev/null -w '%{http_code}' http://other.example.com:$HTTP_PORT/echo"
is "$OUT" "200 403" "a run with an allowed and a denied connection (curl)"

expect_verify 0 "^$TRAIL: intact, [0-9]+ records, 1 signed checkpoint, key [0-9a-f]{64}$" \
	"its trail verifies (exit 0): intact, one signed checkpoint" "$TRAIL"
KEY=$(sed -n 's/.* key \([0-9a-f]\{64\}\)$/\1/p' <<<"$VOUT")
N=$(wc -l <"$TRAIL")
is "$(stat -c '%a %u' "$TRAIL")" "600 $(id -u)" "the trail is mode 0600, owned by the user running warden"
is "$(trail_query "$TRAIL" '" ".join(r["event"] for r in recs if r["event"] != "process.exec")')" \
	"policy.load sandbox.start net.connect net.connect sandbox.stop audit.checkpoint" \
	"events: policy.load, sandbox.start, two net.connect, sandbox.stop, a final checkpoint"
is "$(trail_query "$TRAIL" '[r["seq"] for r in recs] == list(range(1, len(recs) + 1))')" True \
	"seq runs 1..N"
is "$(trail_query "$TRAIL" 'sorted(set(r.get("policy_hash") for r in recs if r["event"] != "audit.checkpoint"))')" \
	"[\"$POLICY_HASH\"]" "every record names the policy's hash"

start=$(trail_query "$TRAIL" 'ev("sandbox.start")[0]')
is "$(trail_query "$TRAIL" 'ev("sandbox.start")[0]["argv"][:2]')" '["sh", "-c"]' "sandbox.start: argv"
is "$(trail_query "$TRAIL" 'ev("sandbox.start")[0]["uid"]')" "$AGENT_UID" "sandbox.start: the agent's uid"
like "$(trail_query "$TRAIL" 'ev("sandbox.start")[0]["landlock_abi"]')" '^[0-9]+$' "sandbox.start: landlock_abi"
is "$(trail_query "$TRAIL" 'sorted(ev("sandbox.start")[0]["namespaces"])')" \
	'["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"]' "sandbox.start: namespaces"
like "$start" '"seccomp": "filter".*"no_new_privs": true.*"warden_version": "[0-9.]+' \
	"sandbox.start: seccomp, no_new_privs, warden version"

CURL_SHA=$(sha256sum "$(readlink -f /usr/bin/curl)" | cut -d' ' -f1)
is "$(trail_query "$TRAIL" '[(r["binary"], r["dst"], r["port"], r["rule"], r["reason"]) for r in ev("net.connect", decision="allow")]')" \
	"[[\"/usr/bin/curl\", \"files.example.com\", $HTTP_PORT, \"tools\", \"allowed by policy 'tools'\"]]" \
	"net.connect allow: binary, dst, port, rule, reason"
is "$(trail_query "$TRAIL" 'ev("net.connect", decision="allow")[0]["binary_sha256"]')" "$CURL_SHA" \
	"... binary_sha256 is the SHA-256 of the curl that ran"
like "$(trail_query "$TRAIL" 'ev("net.connect", decision="allow")[0]["pid"]')" '^[1-9][0-9]*$' "... and its pid"
is "$(trail_query "$TRAIL" '[(r["binary"], r["dst"], r["port"], r["rule"], r["binary_sha256"]) for r in ev("net.connect", decision="deny")]')" \
	"[[\"/usr/bin/curl\", \"other.example.com\", $HTTP_PORT, \"py-only\", \"$CURL_SHA\"]]" \
	"net.connect deny: binary, dst, port, rule, binary_sha256"
like "$(trail_query "$TRAIL" 'ev("net.connect", decision="deny")[0]["reason"]')" \
	"binary /usr/bin/curl not allowed by policy 'py-only'" "... and the reason"
like "$(trail_query "$TRAIL" 'ev("net.connect", decision="deny")[0]["pid"]')" '^[1-9][0-9]*$' "... and its pid"
is "$(trail_query "$TRAIL" '(ev("sandbox.stop")[0]["exit_status"], ev("sandbox.stop")[0]["connections"]["allowed"], ev("sandbox.stop")[0]["connections"]["denied"])')" \
	"(0, 1, 1)" "sandbox.stop: exit_status and connection counters"
is "$(trail_query "$TRAIL" '(recs[-1]["event"], recs[-1]["count"] == len(recs) - 1, recs[-1]["head"] == recs[-2]["hash"], recs[-1]["key"])')" \
	"('audit.checkpoint', True, True, '$KEY')" "the last record is a checkpoint over all the others, with the key verify printed"
like "$(trail_query "$TRAIL" '[r["binary"] for r in ev("process.exec")]')" '"/usr/bin/curl"' \
	"process.exec records name the curl that ran"

expect_verify 0 "intact" "verify --key with the key as 64 hex digits" "$TRAIL" --key "$KEY"
expect_verify 0 "intact" "verify --key with warden's own key file (PEM)" --key "$KEY_FILE" "$TRAIL"
printf '%s\n' "$KEY" >"$T_TMP/key.hex"
expect_verify 0 "intact" "verify --key with a file holding the hex key" --key "$T_TMP/key.hex" "$TRAIL"
"$PYTHON" -c 'import sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
k = Ed25519PublicKey.from_public_bytes(bytes.fromhex(sys.argv[1]))
sys.stdout.buffer.write(k.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))' "$KEY" >"$T_TMP/key.pem"
expect_verify 0 "intact" "verify --key with a PEM public key" --key "$T_TMP/key.pem" "$TRAIL"
expect_verify 2 "not 64 hex digits" "verify --key with something that is no key: exit 2" --key nonsense "$TRAIL"
expect_verify 2 "No such file" "verify of a missing file: exit 2" "$T_TMP/missing.jsonl"
expect_verify 0 "intact" "verify FILE from standard input (-)" - <"$TRAIL"
out=$("$WARDEN" audit export --format ocsf "$TRAIL" 2>&1)
rc=$?
is "$rc/$(wc -l <<<"$out")" "0/$N" "audit export --format ocsf: one OCSF event per record"

# ---- (b) tampering, through the CLI ----------------------------------------------------------

AL=$(trail_query "$TRAIL" '[r["event"] + r.get("decision", "") for r in recs].index("net.connectallow") + 1')
expect_verify 1 "BAD: record $AL \\(line $AL\\): hash does not match its contents -- the record was edited" \
	"a flipped byte in dst: exit 1, record $AL named" "$(tampered flip "$AL" dst)"
expect_verify 1 "BAD: record 2 \\(line 2\\): hash does not match" \
	"a flipped byte in sandbox.start's argv: exit 1, record 2" "$(tampered flip 2 argv)"
expect_verify 1 "BAD: record $N \\(line $N\\): hash does not match" \
	"a flipped byte in the checkpoint's sig: exit 1, record $N" "$(tampered flip "$N" sig)"
expect_verify 1 "BAD: line $AL: seq $((AL + 1)) follows seq $((AL - 1)) -- record $AL is missing \\(it is nowhere in the file: deleted\\)" \
	"a deleted line: exit 1, the missing record named" "$(tampered delete "$AL")"
expect_verify 1 "BAD: line $AL: seq $((AL + 1)) follows seq $((AL - 1)) -- record $AL is missing \\(it is on line $((AL + 1)): records were reordered\\)" \
	"two lines swapped: exit 1, reordering named" "$(tampered swap "$AL" $((AL + 1)))"
expect_verify 1 "BAD: line $((N + 1)): seq $AL follows seq $N -- records were reordered or replayed" \
	"a copy of a record appended: exit 1" "$(tampered append-copy "$AL")"
expect_verify 1 "^[^ ]+: torn final line $N \\(it has no newline: a crash while writing, or a truncation\\); the $((N - 1)) records before it verify" \
	"truncated mid-line: exit 1, the torn line named, the rest verifies" "$(tampered cut 40)"
cut_cp=$(tampered cut $(($(tail -n 1 "$TRAIL" | wc -c))))
expect_verify 0 "warning: none of the $((N - 1)) records is signed \\(there is no checkpoint\\): the run ended \\(sandbox.stop\\) but the checkpoint warden writes after it is missing" \
	"the final checkpoint cut off: exit 0 with a warning that nothing is signed and the closing checkpoint is missing" "$cut_cp"
expect_verify 1 "no checkpoint is signed with key $KEY" \
	"... and with --key: exit 1, nothing is signed by that key" --key "$KEY" "$cut_cp"
expect_verify 0 "warning: 1 record after the last signed checkpoint \\(seq $N\\) is not signed: the checkpoint before this tail closed a run, and the tail does not begin a new one \\(policy.load\\) -- appended afterwards, not by warden" \
	"a forged record appended with its hash recomputed: exit 0, flagged as unsigned and appended after the run" \
	"$(tampered append-forged)"
expect_verify 1 "BAD: checkpoint record $((N + 2)) \\(line $((N + 2))\\): signed with key [0-9a-f]{64}, but the checkpoints before it with key $KEY" \
	"a forged record and a checkpoint signed by another key: exit 1, that checkpoint named" \
	"$(tampered append-forged-checkpoint)"
resigned=$(tampered resign "$AL")
verify "$resigned"
if [[ $VRC -eq 0 && $VOUT =~ key\ ([0-9a-f]{64})$ && ${BASH_REMATCH[1]} != "$KEY" ]]; then
	ok "the whole trail re-hashed and re-signed by another key: without --key it shows that other key"
else
	not_ok "the whole trail re-hashed and re-signed by another key: without --key it shows that other key"
	diag "$VOUT"
fi
expect_verify 1 "BAD: checkpoint record $N \\(line $N\\): signed with key [0-9a-f]{64}, not the expected key $KEY -- the trail was signed \\(or re-signed\\) by someone else" \
	"... and with --key of the original: exit 1, the first checkpoint named" --key "$KEY" "$resigned"

# ---- (c) SIGKILL of the supervisor while the agent makes requests -----------------------------

cat >"$WORKDIR/traffic.py" <<EOF
import time, urllib.request
while True:
    try:
        urllib.request.urlopen('http://files.example.com:$HTTP_PORT/echo').read()
    except Exception:
        pass
    time.sleep(0.005)
EOF
chmod 644 "$WORKDIR/traffic.py"
name=crash-$$
track_name "$name"
CT=$(mktmp crash)/audit.jsonl
crash_log=$(mktmp crashlog)
"$WARDEN" run --no-tty --name "$name" --policy "$POLICY" --workdir "$WORKDIR" "${HOSTS[@]}" \
	--audit-log "$CT" -- python3 "$WORKDIR/traffic.py" </dev/null >"$crash_log/out" 2>"$crash_log/err" &
crash_pid=$!
track_pid "$crash_pid"
connects() { [[ $(grep -c '"event":"net.connect"' "$CT" 2>/dev/null) -ge $1 ]]; }
if wait_until 30 connects 30; then
	ok "a sandbox generates traffic (30 connections recorded)"
else
	not_ok "a sandbox generates traffic (30 connections recorded)"
	diag "$(cat "$crash_log/err")"
fi
sup=$(state_field "$name" supervisor_pid)
init=$(state_field "$name" init_pid)
pids=$(sandbox_pids "$init")
is "$sup" "$crash_pid" "the state names the supervisor (the warden run process)"
# (bash reports the killed job on stderr; that is expected, not news)
{
	kill -KILL "$sup"
	wait "$crash_pid"
} 2>/dev/null
# shellcheck disable=SC2086
if [[ -n $pids ]] && wait_until 5 all_gone $pids; then
	ok "kill -9 of the supervisor: no process of the agent survives"
else
	not_ok "kill -9 of the supervisor: no process of the agent survives"
	diag "left: $(for p in $pids; do [[ -e /proc/$p ]] && echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline")"; done)"
fi
if pgrep -f "$WORKDIR/traffic.py" >/dev/null; then
	not_ok "... no process runs traffic.py any more"
else
	ok "... no process runs traffic.py any more"
fi
lines=$(wc -l <"$CT")
if [[ $(tail -c 1 "$CT" | xxd -p) == 0a ]]; then
	expect_verify 0 "^$CT: intact, $lines records.*warning: .*(after the last signed checkpoint|none of the $lines records is signed)" \
		"the trail verifies up to its last record, which is complete (exit 0, the unsigned tail reported)" "$CT"
	continued=true
else
	expect_verify 1 "^$CT: torn final line $((lines + 1)) .*the $lines records before it verify" \
		"the trail's last line is torn: the $lines records before it verify (exit 1)" "$CT"
	continued=false
fi
sandbox "${HOSTS[@]}" --audit-log "$CT" -- true
if $continued; then
	is "$RC" 0 "a new run continues the crashed trail"
	expect_verify 0 "^$CT: intact, [0-9]+ records, [0-9]+ signed checkpoints?, key $KEY$" \
		"... and its final checkpoint signs the crashed run's records too" --key "$KEY" "$CT"
else
	like "$ERR" "ended in a torn record \\(a crash\\); it was moved to $CT\\.[0-9]+\\.torn" \
		"a new run moves the torn trail aside, saying where"
	expect_verify 0 "intact" "... and starts a new trail that verifies" --key "$KEY" "$CT"
fi

# ---- (d) a full disk: egress is refused, and the agent is told why ---------------------------

cat >"$WORKDIR/fill.py" <<EOF
import json, urllib.request, urllib.error
for i in range(3000):
    try:
        urllib.request.urlopen('http://files.example.com:$HTTP_PORT/echo?i=%d' % i).read()
    except urllib.error.HTTPError as e:
        print(e.code, json.loads(e.read())['reason'], flush=True)
        break
else:
    print('never refused')
EOF
chmod 644 "$WORKDIR/fill.py"

# mount_tmpfs: a 64 KiB tmpfs, unmounted at exit; prints its path.
mount_tmpfs() {
	local d
	d=$(mktmp full)
	mount -t tmpfs -o size=64k,mode=0755 tmpfs "$d" || return 1
	MOUNTS+=("$d")
	printf '%s\n' "$d"
}

if ! is_root; then
	skip "a full tmpfs as the audit directory: egress refused with the reason" "mounting a tmpfs needs root"
elif ! FULL=$(mount_tmpfs); then
	skip "a full tmpfs as the audit directory: egress refused with the reason" "cannot mount a tmpfs"
else
	sandbox "${HOSTS[@]}" --audit-log "$FULL/audit.jsonl" -- python3 "$WORKDIR/fill.py"
	like "$OUT" "^403 the audit trail cannot be written, so no connection is allowed \\(nothing may go unrecorded\\)$" \
		"a full tmpfs as the audit directory: once the trail cannot be written, connections get 403 naming the audit trail"
	like "$ERR" "warden: the audit trail cannot be written \\(write: No space left on device\\); egress is refused from now on" \
		"... and warden says so on its stderr"
	expect_verify "$([[ $(tail -c 1 "$FULL/audit.jsonl" | xxd -p) == 0a ]] && echo 0 || echo 1)" \
		"(intact|torn final line)" "... and what was written verifies" "$FULL/audit.jsonl"
	umount "$FULL"
fi

# A trail that cannot take a single record: /dev/full (root and rootless).
sandbox "${HOSTS[@]}" --audit-log /dev/full -- python3 "$WORKDIR/fill.py"
like "$OUT" "^403 the audit trail cannot be written" "a trail on /dev/full: the first connection is refused, naming the audit trail"
like "$ERR" "warden: the audit trail cannot be written \\(write: No space left on device\\)" "... and warden says so"

# ---- (f) audit.on_failure: stop ----------------------------------------------------------------

STOP_POLICY=$(mktmp pol)/stop.yaml
sed 's/^network_policies:/audit:\n  on_failure: stop\nnetwork_policies:/' "$POLICY" >"$STOP_POLICY"
chmod 644 "$STOP_POLICY"
POLICY_SAVED=$POLICY
POLICY=$STOP_POLICY
if ! is_root; then
	skip "audit.on_failure: stop on a full tmpfs stops the sandbox" "mounting a tmpfs needs root"
elif ! FULL=$(mount_tmpfs); then
	skip "audit.on_failure: stop on a full tmpfs stops the sandbox" "cannot mount a tmpfs"
else
	sandbox "${HOSTS[@]}" --audit-log "$FULL/audit.jsonl" -- python3 "$WORKDIR/fill.py"
	# The refusal of the request that hit the full disk may still reach it.
	if [[ $RC -eq 137 && ! $OUT =~ "never refused" ]]; then
		ok "audit.on_failure: stop: the sandbox is killed when the trail fills up (exit 137)"
	else
		not_ok "audit.on_failure: stop: the sandbox is killed when the trail fills up (exit 137)"
		diag "exit $RC" "stdout: $OUT" "stderr: $ERR"
	fi
	like "$ERR" "warden: the audit trail cannot be written \\(write: No space left on device\\); stopping the sandbox \\(audit.on_failure: stop\\)" \
		"... and warden says why"
	umount "$FULL"
fi
sandbox "${HOSTS[@]}" --audit-log /dev/full -- python3 "$WORKDIR/fill.py"
is "$RC/$OUT" "137/" "audit.on_failure: stop with a trail on /dev/full: the sandbox is killed"
POLICY=$POLICY_SAVED

# ---- (e) secrets the agent sends never reach the trail ----------------------------------------

MARKER=SECRET-MARKER-12345
QMARK=qv7f3a9c0e51
printf '%s' "$MARKER" >"$WORKDIR/secret.txt"
printf '%s' "$QMARK" >"$WORKDIR/qvalue.txt"
chmod 644 "$WORKDIR/secret.txt" "$WORKDIR/qvalue.txt"
cat >"$WORKDIR/leak.py" <<EOF
import urllib.request, urllib.error
s = open('$WORKDIR/secret.txt').read()
q = open('$WORKDIR/qvalue.txt').read()
for host in ('files.example.com', 'denied.example.com'):
    req = urllib.request.Request('http://%s:$HTTP_PORT/echo?q=%s&token=%s' % (host, q, s),
        data=('password=' + s).encode(), headers={'Authorization': 'Bearer ' + s, 'Cookie': 'k=' + s})
    try:
        print(urllib.request.urlopen(req).status, end=' ')
    except urllib.error.HTTPError as e:
        print(e.code, end=' ')
EOF
chmod 644 "$WORKDIR/leak.py"
: >"$HTTP_LOG"
ST=$(mktmp secret)/audit.jsonl
sandbox "${HOSTS[@]}" --audit-log "$ST" -- python3 "$WORKDIR/leak.py"
is "$OUT" "200 403 " "python sends a secret in a header, a cookie, the body and the query, allowed and denied"
like "$(cat "$HTTP_LOG")" "POST /echo\\?q=$QMARK&token=$MARKER" "... the upstream received it"
is "$(grep -c -e "$MARKER" -e "$QMARK" "$ST")" 0 "... and neither the secret nor the query value is in the trail"
expect_verify 0 "intact" "... which verifies" "$ST"

# The same values on a command line: sandbox.start and process.exec record argv.
ST2=$(mktmp secret)/audit.jsonl
sandbox "${HOSTS[@]}" --audit-log "$ST2" -- curl -sS -o /dev/null -H "Authorization: Bearer $MARKER" \
	-d "password=$MARKER" "http://files.example.com:$HTTP_PORT/echo?q=$MARKER"
is "$RC" 0 "curl with a secret on its command line (header, body, query)"
is "$(grep -c -e "$MARKER" "$ST2")" 0 "... the secret is not in the trail (not in sandbox.start's argv either)"
cat >"$WORKDIR/run-curl.py" <<EOF
import subprocess
q = open('$WORKDIR/qvalue.txt').read()
subprocess.run(['curl', '-sS', '-o', '/dev/null', 'http://files.example.com:$HTTP_PORT/echo?q=' + q])
EOF
chmod 644 "$WORKDIR/run-curl.py"
ST3=$(mktmp secret)/audit.jsonl
sandbox "${HOSTS[@]}" --audit-log "$ST3" -- python3 "$WORKDIR/run-curl.py"
like "$(trail_query "$ST3" '[r["binary"] for r in ev("process.exec")]')" '/usr/bin/curl' \
	"a program the agent runs with a query value in its URL is recorded (process.exec)"
is "$(grep -c -e "$QMARK" "$ST3")" 0 "... without the query value"

# ---- records that must not break the trail ----------------------------------------------------------

# A long command line (~350 KB of arguments) for the agent.
ST5=$(mktmp args)/audit.jsonl
# shellcheck disable=SC2046 # one argument per number
sandbox "${HOSTS[@]}" --audit-log "$ST5" -- sh -c \
	"curl -sS -o /dev/null -w '%{http_code}' http://files.example.com:$HTTP_PORT/echo" sh $(seq 1 60000)
is "$OUT" 200 "an agent started with ~350 KB of arguments may still connect"
expect_verify 0 "^$ST5: intact, [0-9]+ records, 1 signed checkpoint, key $KEY$" \
	"... and its trail records the run, signed" "$ST5"

# 64 arguments of 250 control characters each: escaped, argv is ~96 KiB of JSON.
cat >"$WORKDIR/many-args.sh" <<'EOF'
a=$(printf '\001%.0s' $(seq 1 250))
set --
for i in $(seq 1 64); do set -- "$@" "$a"; done
/bin/true "$@"
EOF
chmod 644 "$WORKDIR/many-args.sh"
ST4=$(mktmp args)/audit.jsonl
sandbox --audit-log "$ST4" -- sh "$WORKDIR/many-args.sh"
expect_verify 0 "intact" "a program run with 64 long arguments of control characters: the trail still verifies" "$ST4"
is "$("$PYTHON" -c 'import json, sys
bad = 0
for l in open(sys.argv[1], "rb"):
    try:
        json.loads(l)
    except ValueError:
        bad += 1
print(bad)' "$ST4")" 0 "... and every record in it is JSON"

# ---- two sandboxes, one trail ---------------------------------------------------------------------

SHARED=$(mktmp shared)/audit.jsonl
sh_out=$(mktmp sh)
sh_pids=()
for i in 1 2; do
	"$WARDEN" run --no-tty --workdir "$WORKDIR" --audit-log "$SHARED" -- \
		sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done' </dev/null >"$sh_out/$i" 2>&1 &
	sh_pids+=($!)
	track_pid $!
done
wait "${sh_pids[@]}"
expect_verify 0 "intact" \
	"two sandboxes started at once with the same --audit-log: the trail still verifies (or one is refused)" "$SHARED"

# ---- (g) the default location and modes -------------------------------------------------------------

name=deflt-$$
if is_root; then
	dtrail=/var/lib/warden/$name/audit.jsonl
	ROOT_DIRS+=("/var/lib/warden/$name")
else
	dtrail=$XDG_STATE_HOME/warden/$name/audit.jsonl
fi
T_DEFAULT_TRAIL=1 sandbox --name "$name" -- true
is "$RC" 0 "a run without --audit-log"
if [[ -f $dtrail ]]; then
	ok "its trail is at $dtrail"
else
	not_ok "its trail is at $dtrail"
	diag "$ERR"
fi
is "$(stat -c '%a' "$dtrail" 2>&1)" 600 "... mode 0600"
is "$(stat -c '%a' "$(dirname "$dtrail")" 2>&1)" 700 "... in a directory of mode 0700"
is "$(stat -c '%a' "$KEY_FILE" 2>&1)" 600 "the signing key $KEY_FILE is mode 0600"
expect_verify 0 "^$dtrail: intact, [0-9]+ records, 1 signed checkpoint, key $KEY$" \
	"the default trail verifies with the same key" "$dtrail"
# (these runs keep their own trail in the scratch directory, not in the default one)
PROBE_POLICY=$(mktmp pol)/probe.yaml
sed "s|^network_policies:|audit:\n  path: $T_TMP/probe-audit.jsonl\nnetwork_policies:|" "$POLICY" >"$PROBE_POLICY"
chmod 644 "$PROBE_POLICY"
POLICY=$PROBE_POLICY
expect_err "ENOENT|EACCES" "the trail is not visible inside a sandbox" read "$dtrail"
expect_err "ENOENT|EACCES" "neither is the signing key" read "$KEY_FILE"

done_testing
