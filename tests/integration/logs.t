#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are called indirectly, through wait_until
#
# Reading the audit trail, end to end: real sandboxes whose agents connect
# through the proxy to an upstream on the host's loopback, then
# `warden logs` on the trail in each of its forms -- by file, by the name of
# a finished sandbox (its trail at the default location) and of a running
# one (-f follows it until it stops) -- and `warden audit export`.

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

WORKDIR=$(mk_workdir wd)
SYS_RO=$(system_ro)

if ! command -v curl >/dev/null; then
	echo "Bail out! curl is needed (scripts/deps.sh test installs it)"
	exit 1
fi

# The default trail location: never the runner's own state directory.
if is_root; then
	STATE_BASE=/var/lib/warden
else
	XDG_STATE_HOME=$(mktmp state)
	export XDG_STATE_HOME
	STATE_BASE=$XDG_STATE_HOME/warden
fi

start_upstream
HTTP_PORT=$UP_PORT

HOSTS=(--add-host files.example.com:127.0.0.1 --add-host api.example.com:127.0.0.1)
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
  model_api:
    name: model-api
    endpoints:
      - {host: api.example.com, port: $HTTP_PORT}
    binaries:
      - {path: "/usr/bin/python3*"}
EOF

# py PROGRAM ARGS...: a small python3 check over files (prints its result).
py() {
	"$PYTHON" -c "$@"
}

# ---- a finished sandbox, trail written with --audit-log ------------------------------------

AUD=$(mktmp audit)
TRAIL=$AUD/trail.jsonl
NAME_A=logs-a-$$
sandbox --name "$NAME_A" "${HOSTS[@]}" --audit-log "$TRAIL" -- sh -c "
curl -sS -o /dev/null http://files.example.com:$HTTP_PORT/echo
curl -sS -o /dev/null http://api.example.com:$HTTP_PORT/echo
exit 3"
is "$RC" 3 "a sandbox with --audit-log ran (the agent's exit status 3)"
check "... and its trail exists" test -s "$TRAIL"

out=$("$WARDEN" logs "$TRAIL" 2>&1)
rc=$?
is "$rc" 0 "warden logs FILE exits 0"
# A line's start: the record's time to the millisecond (bash regexes see one string).
ts="(^|"$'\n'")[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} "
like "$(head -n1 <<<"$out")" "${ts}policy\.load revision 1 sha256:[0-9a-f]{64}$" \
	"the first line: the policy loaded, its revision and hash"
like "$out" "${ts}sandbox\.start $NAME_A pid=[0-9]+: sh -c " "... the sandbox's start with the agent's command"
like "$out" "${ts}net\.connect allow GET /usr/bin/curl pid=[0-9]+ → files\.example\.com:$HTTP_PORT( \(127\.0\.0\.1\))? rule=tools" \
	"... the allowed connection: verb, binary, pid, destination and rule"
like "$out" "${ts}net\.connect deny GET /usr/bin/curl pid=[0-9]+ → api\.example\.com:$HTTP_PORT rule=model-api \"binary /usr/bin/curl not allowed by policy 'model-api'\"" \
	"... the denied one with its reason"
like "$out" "${ts}process\.exec /usr/bin/curl pid=[0-9]+ ppid=[0-9]+: curl -sS -o /dev/null http://files\.example\.com:$HTTP_PORT/echo" \
	"... the agent's execs with their arguments"
like "$out" "${ts}sandbox\.stop $NAME_A exit=3 after [0-9]+\.[0-9]{3}s \(connections: 1 allowed, 1 denied\)" \
	"... the stop with exit status, duration and counters"
like "$(tail -n1 <<<"$out")" "${ts}audit\.checkpoint [0-9]+ records signed by key [0-9a-f]{64}$" \
	"... and the final signed checkpoint"
is "$(wc -l <<<"$out")" "$(wc -l <"$TRAIL")" "one line per record"
if [[ $out == *$'\033'* ]]; then
	not_ok "no colour when standard output is not a terminal"
else
	ok "no colour when standard output is not a terminal"
fi

if command -v script >/dev/null; then
	tty_out=$(env -u NO_COLOR TERM=xterm script -qec "$WARDEN logs $TRAIL" /dev/null 2>&1)
	like "$tty_out" $'\033\\[32mallow' "on a terminal: allow in green"
	like "$tty_out" $'\033\\[31mdeny' "... deny in red"
	like "$tty_out" $'\033\\[2m[0-9-]+ [0-9:.]+ policy\\.load' "... lifecycle dim"
	tty_out=$(NO_COLOR=1 TERM=xterm script -qec "$WARDEN logs $TRAIL" /dev/null 2>&1)
	if [[ $tty_out == *$'\033'* ]]; then
		not_ok "NO_COLOR turns colour off on a terminal"
	else
		ok "NO_COLOR turns colour off on a terminal"
	fi
else
	for d in "on a terminal: allow in green" "... deny in red" "... lifecycle dim" \
		"NO_COLOR turns colour off on a terminal"; do
		skip "$d" "script(1) is not installed"
	done
fi

# --json: the bytes as stored, which the hashes cover.
"$WARDEN" logs --json "$TRAIL" >"$AUD/json.out" 2>&1
check "warden logs --json prints the trail byte for byte" cmp "$AUD/json.out" "$TRAIL"

# --ocsf: one OCSF event per record, checked against what the record says.
"$WARDEN" logs --ocsf "$TRAIL" >"$AUD/ocsf.out" 2>"$AUD/ocsf.err"
is "$?" 0 "warden logs --ocsf exits 0"
res=$(py '
import json, sys
trail = [json.loads(l) for l in open(sys.argv[1])]
ocsf = [json.loads(l) for l in open(sys.argv[2])]
want = {"net.connect": 4001, "process.exec": 1007, "sandbox.start": 6002, "sandbox.stop": 6002,
        "policy.load": 6002, "audit.checkpoint": 6002}
bad = []
if len(trail) != len(ocsf):
    bad.append("%d records, %d events" % (len(trail), len(ocsf)))
for r, o in zip(trail, ocsf):
    ev = r["event"]
    def need(cond, what):
        if not cond:
            bad.append("%s (seq %d): %s" % (ev, r["seq"], what))
    need(o.get("class_uid") == want.get(ev), "class_uid %r" % o.get("class_uid"))
    need(o["type_uid"] == o["class_uid"] * 100 + o["activity_id"], "type_uid")
    for k in ("category_uid", "activity_id", "severity_id", "time"):
        need(type(o.get(k)) is int, k + " is an integer")
    m = o.get("metadata", {})
    need(m.get("version", "").startswith("1."), "metadata.version")
    need(m.get("product", {}).get("name") == "warden", "metadata.product.name")
    need(m.get("uid") == r["hash"], "metadata.uid is the record hash")
    need(m.get("correlation_uid") == r["sandbox"], "metadata.correlation_uid is the sandbox")
    need(m.get("original_time") == r["time"], "metadata.original_time")
    need(o.get("unmapped", {}).get("prev") == r["prev"], "unmapped.prev")
    if ev == "net.connect":
        need(o["dst_endpoint"].get("hostname") == r["dst"], "dst_endpoint.hostname")
        need(o["dst_endpoint"].get("port") == r["port"], "dst_endpoint.port")
        need(o["actor"]["process"]["file"]["path"] == r["binary"], "actor.process.file.path")
        need(o["actor"]["process"]["pid"] == r["pid"], "actor.process.pid")
        need(o["actor"]["process"]["file"]["hashes"][0]["value"] == r["binary_sha256"], "sha256")
        need(o["action_id"] == {"allow": 1, "deny": 2}[r["decision"]], "action_id")
        need(o["activity_id"] == {"allow": 1, "deny": 5}[r["decision"]], "activity_id")
    if ev == "process.exec":
        need(o["activity_id"] == 1 and o["process"]["pid"] == r["pid"], "process.pid")
        need(o["process"]["file"]["path"] == r["binary"], "process.file.path")
    if ev == "sandbox.start":
        need(o["activity_id"] == 3 and o["app"]["name"] == "warden", "app, Start")
    if ev == "sandbox.stop":
        need(o["activity_id"] == 4, "Stop")
print("; ".join(bad[:5]) if bad else "ok")
' "$TRAIL" "$AUD/ocsf.out" 2>&1)
is "$res" ok "every OCSF event has its class, type_uid, metadata and the record's fields"

# --since: RFC 3339 times and ages.
deny_time=$(py 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("decision") == "deny":
        print(r["time"]); break' "$TRAIL")
want=$(py 'import json, sys
t = sys.argv[2]
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["time"] >= t))' "$TRAIL" "$deny_time")
out=$("$WARDEN" logs --since "$deny_time" "$TRAIL" 2>&1)
is "$(wc -l <<<"$out")" "$want" "--since RFC3339 (a record's own time): that record and those after"
like "$(head -n1 <<<"$out")" "net\.connect deny" "... starting with that record"
out=$("$WARDEN" logs --since "${deny_time:0:19}+00:00" --json "$TRAIL" 2>&1)
like "$(head -n1 <<<"$out")" '^\{"seq":' "--since with a numeric offset, with --json"
out=$("$WARDEN" logs --since 1h "$TRAIL" 2>&1)
is "$(wc -l <<<"$out")" "$(wc -l <"$TRAIL")" "--since 1h: every record of a run a moment ago"
out=$("$WARDEN" logs --since 2999-01-01T00:00:00Z "$TRAIL" 2>&1)
is "$out" "" "--since a future time: nothing"
out=$("$WARDEN" logs --since yesterday "$TRAIL" 2>&1)
rc=$?
is "$rc" 2 "--since with neither a time nor an age: usage error (exit 2)"
like "$out" "RFC 3339" "... saying what it expects"

# A finished sandbox whose trail was kept elsewhere is still found by name:
# the default location links to it.
out=$("$WARDEN" logs "$NAME_A" 2>&1)
rc=$?
is "$rc" 0 "a finished sandbox with its trail elsewhere is found by name (exit 0)"
check "... through a link at the default location" test -L "$STATE_BASE/$NAME_A/audit.jsonl"
out=$("$WARDEN" logs "no-such-sandbox-$$" 2>&1)
rc=$?
is "$rc" 1 "an unknown name is not found (exit 1)"
like "$out" "no sandbox named 'no-such-sandbox-$$' is running, and it has no trail at $STATE_BASE/no-such-sandbox-$$/audit\.jsonl" \
	"... and the message says where it looked"

out=$("$WARDEN" logs --json --ocsf "$TRAIL" 2>&1)
is "$?" 2 "--json and --ocsf together: usage error"
check "warden logs --help" "$WARDEN" logs --help

# ---- a finished sandbox, trail at the default location ---------------------------------------

NAME_B=logs-b-$$
T_DEFAULT_TRAIL=1 sandbox --name "$NAME_B" "${HOSTS[@]}" -- curl -sS -o /dev/null "http://files.example.com:$HTTP_PORT/echo"
is "$RC" 0 "a sandbox without --audit-log ran"
check "... its trail is at $STATE_BASE/$NAME_B/audit.jsonl" test -s "$STATE_BASE/$NAME_B/audit.jsonl"
out=$("$WARDEN" logs "$NAME_B" 2>&1)
is "$?" 0 "warden logs NAME on a finished sandbox exits 0"
like "$out" "net\.connect allow GET /usr/bin/curl pid=[0-9]+ → files\.example\.com:$HTTP_PORT" \
	"... and shows its records"
like "$out" "sandbox\.stop $NAME_B exit=0" "... to the end"

# ---- following a running sandbox -----------------------------------------------------------

# The agent waits for ./go, connects once, then waits for ./stop and exits.
cat >"$WORKDIR/agent.py" <<EOF
import os, time, urllib.request
def wait(f):
    while not os.path.exists(f):
        time.sleep(0.05)
wait("$WORKDIR/go")
urllib.request.urlopen("http://files.example.com:$HTTP_PORT/echo?follow=1").read()
open("$WORKDIR/connected", "w").close()
wait("$WORKDIR/stop")
EOF
chmod 644 "$WORKDIR/agent.py"
rm -f "$WORKDIR/go" "$WORKDIR/stop" "$WORKDIR/connected"

NAME_C=logs-c-$$
TRAIL_C=$AUD/follow.jsonl
"$WARDEN" run --no-tty --name "$NAME_C" --workdir "$WORKDIR" --policy "$POLICY" "${HOSTS[@]}" \
	--audit-log "$TRAIL_C" -- python3 "$WORKDIR/agent.py" </dev/null >"$AUD/c.out" 2>&1 &
c_pid=$!
track_pid "$c_pid"
track_name "$NAME_C"

has_start() { grep -q '"event":"sandbox.start"' "$TRAIL_C" 2>/dev/null; }
if wait_until 20 has_start && [[ -e $(state_dir "$NAME_C") ]]; then
	ok "a sandbox is running in the background, writing $TRAIL_C"
else
	not_ok "a sandbox is running in the background, writing $TRAIL_C"
	diag "$(cat "$AUD/c.out")"
fi

# Two followers: by name (the state names the trail) and by file.
"$WARDEN" logs -f "$NAME_C" >"$AUD/f1.out" 2>"$AUD/f1.err" &
f1=$!
track_pid "$f1"
"$WARDEN" logs -f --ocsf "$TRAIL_C" >"$AUD/f2.out" 2>"$AUD/f2.err" &
f2=$!
track_pid "$f2"

printed() { grep -q "$2" "$1" 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }
if wait_until 10 printed "$AUD/f1.out" "sandbox\.start $NAME_C"; then
	ok "warden logs -f NAME prints the trail so far"
else
	not_ok "warden logs -f NAME prints the trail so far"
	diag "$(cat "$AUD/f1.out" "$AUD/f1.err")"
fi
sleep 0.3
check "... and keeps running while the sandbox does" alive "$f1"
check "warden logs -f FILE (the running sandbox's trail) keeps running too" alive "$f2"

: >"$WORKDIR/go"
if wait_until 15 printed "$AUD/f1.out" "net\.connect allow GET /usr/bin/python3[.0-9]* pid=[0-9]* → files\.example\.com:$HTTP_PORT"; then
	ok "a connection made after following began is printed"
else
	not_ok "a connection made after following began is printed"
	diag "$(cat "$AUD/f1.out" "$AUD/f1.err")"
fi
if wait_until 10 printed "$AUD/f2.out" '"class_uid":4001'; then
	ok "... and followed by file, as an OCSF Network Activity event"
else
	not_ok "... and followed by file, as an OCSF Network Activity event"
	diag "$(cat "$AUD/f2.out" "$AUD/f2.err")"
fi
check "... the followers still run" alive "$f1"

: >"$WORKDIR/stop"
if wait_until 20 eval "! alive $f1 && ! alive $f2"; then
	ok "the followers end when the sandbox stops"
else
	not_ok "the followers end when the sandbox stops"
	kill "$f1" "$f2" 2>/dev/null
fi
wait "$f1"
is "$?" 0 "... warden logs -f exits 0"
wait "$c_pid"
like "$(tail -n2 "$AUD/f1.out")" "sandbox\.stop $NAME_C exit=0.*"$'\n'".*audit\.checkpoint" \
	"... after printing the rest: the stop and the final checkpoint"
is "$(wc -l <"$AUD/f1.out")" "$(wc -l <"$TRAIL_C")" "... every record, once"
is "$(wc -l <"$AUD/f2.out")" "$(wc -l <"$TRAIL_C")" "... in OCSF too"
is "$(cat "$AUD/f1.err")" "" "... with nothing on stderr"

# -f on a sandbox that has finished prints the trail and returns.
out=$(timeout 10 "$WARDEN" logs -f "$NAME_B" 2>&1)
is "$?" 0 "warden logs -f on a finished sandbox prints its trail and exits"

# ---- warden audit export -----------------------------------------------------------------------

if "$WARDEN" audit export --help >/dev/null 2>&1; then
	"$WARDEN" audit export --format ocsf "$TRAIL" >"$AUD/export.out" 2>"$AUD/export.err"
	is "$?" 0 "warden audit export --format ocsf FILE exits 0"
	check "... and gives the same events as warden logs --ocsf" cmp "$AUD/export.out" "$AUD/ocsf.out"
else
	skip "warden audit export --format ocsf FILE exits 0" "warden audit export is not available"
	skip "... and gives the same events as warden logs --ocsf" "warden audit export is not available"
fi

# ---- errors ----------------------------------------------------------------------------------------

out=$("$WARDEN" logs no-such-sandbox-$$ 2>&1)
is "$?" 1 "an unknown name: exit 1"
like "$out" "no sandbox named 'no-such-sandbox-$$' is running" "... saying so"
out=$("$WARDEN" logs "$AUD/missing.jsonl" 2>&1)
is "$?" 1 "a missing file: exit 1"

# A damaged line is reported with its number; the rest is still shown.
{ head -n2 "$TRAIL"; echo "not a record"; tail -n +3 "$TRAIL"; } >"$AUD/damaged.jsonl"
out=$("$WARDEN" logs "$AUD/damaged.jsonl" 2>"$AUD/damaged.err")
like "$(cat "$AUD/damaged.err")" "line 3: not an audit record" "a line that is not a record is reported by number"
is "$(wc -l <<<"$out")" "$(wc -l <"$TRAIL")" "... and every record around it is shown"

if is_root; then
	rm -rf "${STATE_BASE:?}/$NAME_B"
fi
done_testing
