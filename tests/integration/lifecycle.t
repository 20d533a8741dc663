#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers are called indirectly, through check/wait_until
#
# A sandbox's life from the outside: ps, inspect, exec, stop, duplicate
# names, signal forwarding, reaping, death with the supervisor, and the
# agent's private terminal.

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

WORKDIR=$(mk_workdir wd)

# in_ps NAME: `warden ps` lists NAME.
in_ps() {
	"$WARDEN" ps 2>/dev/null | awk 'NR > 1 { print $1 }' | grep -qxF "$1"
}

not_in_ps() { ! in_ps "$1"; }

# sandbox_pids INIT_PID: host pids of every process in init's pid namespace.
sandbox_pids() {
	local ns p
	ns=$(readlink "/proc/$1/ns/pid" 2>/dev/null) || return 0
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/ns/pid" 2>/dev/null) == "$ns" ]] && printf '%s ' "${p#/proc/}"
	done
}

# state_field NAME KEY
state_field() {
	sed -n "s/^$2=//p" "$(state_dir "$1")/state" 2>/dev/null
}

# start_bg NAME [CMD...]: `warden run --name NAME` in the background; sets BG_PID, BG_LOG.
start_bg() {
	local name=$1
	shift
	BG_LOG=$(mktemp "$T_TMP/bg.XXXXXX")
	"$WARDEN" run --no-tty --name "$name" --workdir "$WORKDIR" -- "$@" </dev/null >"$BG_LOG" 2>&1 &
	BG_PID=$!
	track_pid "$BG_PID"
	track_name "$name"
	# Running once ps lists it and the state names the agent.
	wait_until 10 in_ps "$name" && wait_until 5 test -n "$(state_field "$name" agent_pid)"
}

all_gone() {
	local p
	for p in "$@"; do
		[[ -e /proc/$p ]] && return 1
	done
	return 0
}

# ---- ps / inspect / exec on a running sandbox ----------------------------------------

name=lc-$$
if start_bg "$name" sh -c "echo agent-was-here >/tmp/shared; exec sleep 30"; then
	ok "warden run --name $name in the background starts"
else
	not_ok "warden run --name $name in the background starts"
	diag "$(cat "$BG_LOG")"
fi
wpid=$BG_PID
check "warden ps lists it" in_ps "$name"
init_pid=$(state_field "$name" init_pid)
sup_pid=$(state_field "$name" supervisor_pid)
is "$sup_pid" "$wpid" "the supervisor is the warden run process"

insp=$("$WARDEN" inspect "$name" 2>&1)
is "$?" 0 "warden inspect works"
agent_line=$(awk '$2 == "2" { print; exit }' <<<"$insp")
like "$agent_line" "^[0-9]+ +2 +filter +yes +$AGENT_UID +0000000000000000 +0000000000000000 " \
	"inspect: the agent (pid 2) has a seccomp filter, NoNewPrivs, uid $AGENT_UID, no caps"
like "$insp" $'\n''net interfaces: +lo'$'\n' "inspect: net interfaces are lo only"
like "$insp" "user=new,mnt=new,pid=new,net=new,ipc=new,uts=new,cgroup=new" "inspect: every namespace is new"
if [[ $insp == *HOST* ]]; then
	not_ok "inspect: no process shares a host namespace"
	diag "$insp"
else
	ok "inspect: no process shares a host namespace"
fi
like "$insp" "landlock: +applied" "inspect: Landlock applied"

json=$("$WARDEN" inspect --json "$name" 2>&1)
jcheck=$("$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
agent = [p for p in d["processes"] if p["nspid"] == 2]
problems = []
if d["name"] != sys.argv[2]: problems.append("name")
if d["net_interfaces"] != "lo": problems.append("net_interfaces=%r" % d["net_interfaces"])
if len(agent) != 1: problems.append("no agent process")
for p in agent:
    if p["seccomp"] != "filter": problems.append("seccomp=%s" % p["seccomp"])
    if p["no_new_privs"] is not True: problems.append("no_new_privs")
    if p["cap_eff"] != "0" * 16 or p["cap_bnd"] != "0" * 16: problems.append("caps")
for p in d["processes"]:
    if "HOST" in p["namespaces"]: problems.append("host ns in pid %d" % p["pid"])
print(" ".join(problems) or "fine")
' "$json" "$name" 2>&1)
is "$jcheck" "fine" "inspect --json parses and shows the same confinement"

OUT=$("$WARDEN" exec "$name" -- "$WORKDIR/probe" hostname 2>&1 </dev/null)
is "$OUT" "OK $name" "exec runs inside: same hostname"
OUT=$("$WARDEN" exec "$name" -- sh -c 'cat /tmp/shared' 2>&1 </dev/null)
is "$OUT" "agent-was-here" "exec sees the /tmp file the agent wrote"
OUT=$("$WARDEN" exec "$name" -- "$WORKDIR/probe" unshare-user 2>&1 </dev/null)
is "$OUT" "ERR EPERM" "exec: seccomp still denies unshare(CLONE_NEWUSER)"
OUT=$("$WARDEN" exec "$name" -- "$WORKDIR/probe" caps 2>&1 </dev/null)
like "$OUT" "^OK CapInh=0+ CapPrm=0+ CapEff=0+ CapBnd=0+" "exec: no capabilities"
OUT=$("$WARDEN" exec "$name" -- "$WORKDIR/probe" connect-tcp 10.1.2.3 80 2>&1 </dev/null)
is "$OUT" "ERR ENETUNREACH" "exec: same network namespace (no route out)"
"$WARDEN" exec "$name" -- "$WORKDIR/probe" exit 9 </dev/null >/dev/null 2>&1
is "$?" 9 "exec: the exit status passes through"

OUT=$("$WARDEN" run --no-tty --name "$name" --workdir "$WORKDIR" -- true 2>&1 </dev/null)
rc=$?
is "$rc" 125 "a duplicate --name while running fails with 125"
like "$OUT" "already running" "... and says the name is taken"
check "... and the first sandbox is still running" in_ps "$name"

pids=$(sandbox_pids "$init_pid")
like "$pids" "^[0-9]+ [0-9]+ " "the sandbox has init and agent processes ($pids)"
t0=$(date +%s%N)
OUT=$("$WARDEN" stop -t 5 "$name" 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
is "$rc" 0 "warden stop succeeds"
if ((ms < 5000)); then ok "stop ended it within the grace period (${ms} ms)"; else not_ok "stop ended it within the grace period (${ms} ms)"; fi
wait "$wpid"
is "$?" 143 "warden run exits 128+SIGTERM: the agent got TERM"
# shellcheck disable=SC2086
check "no process of the sandbox is left" all_gone $pids "$wpid"
check "warden ps no longer lists it" not_in_ps "$name"
check "its state directory is gone" test ! -e "$(state_dir "$name")"
OUT=$("$WARDEN" stop "$name" 2>&1)
like "$OUT" "no running sandbox" "stopping it again says it is not running"

# An agent that ignores TERM is killed after the grace period.
name2=lc2-$$
if start_bg "$name2" sh -c 'trap "" TERM; touch /tmp/x; while :; do sleep 0.2; done'; then
	init2=$(state_field "$name2" init_pid)
	pids=$(sandbox_pids "$init2")
	t0=$(date +%s%N)
	OUT=$("$WARDEN" stop -t 1 "$name2" 2>&1)
	ms=$((($(date +%s%N) - t0) / 1000000))
	like "$OUT" "did not stop within 1s; killing it" "stop -t 1: a TERM-ignoring agent is killed"
	if ((ms >= 900 && ms < 4000)); then ok "... after the grace period (${ms} ms)"; else not_ok "... after the grace period (${ms} ms)"; fi
	wait "$BG_PID"
	is "$?" 137 "warden run exits 128+SIGKILL"
	# shellcheck disable=SC2086
	check "no process of that sandbox is left" all_gone $pids
else
	not_ok "start a TERM-ignoring agent"
fi

# ---- signals, reaping, supervisor death ----------------------------------------------------

for sig in TERM HUP USR1; do
	rm -f "$WORKDIR/ready"
	n=sig-$sig-$$
	if start_bg "$n" sh -c "trap 'echo got-$sig; exit 42' $sig; : >'$WORKDIR/ready'; while :; do sleep 0.1; done" &&
		wait_until 5 test -e "$WORKDIR/ready"; then
		kill -"$sig" "$BG_PID"
		wait "$BG_PID"
		rc=$?
		is "$rc/$(cat "$BG_LOG")" "42/got-$sig" "SIG$sig to warden run reaches the agent"
	else
		not_ok "SIG$sig to warden run reaches the agent"
		diag "$(cat "$BG_LOG")"
	fi
done

# shellcheck disable=SC2016 # expanded by the sandbox's sh
OUT=$("$WARDEN" run --no-tty --workdir "$WORKDIR" -- sh -c '
	for i in 1 2 3 4 5 6; do (sleep 0.1 &); done
	sleep 1
	z=0
	for f in /proc/[0-9]*/status; do
		grep -q "^State:.Z" "$f" 2>/dev/null && z=$((z + 1))
	done
	echo "zombies=$z"' 2>&1 </dev/null)
is "$OUT" "zombies=0" "orphans of the agent are reaped by init (no zombies)"
OUT=$("$WARDEN" run --no-tty --workdir "$WORKDIR" -- sh -c '(sleep 5 &); (sleep 5 &); exit 3' 2>&1 </dev/null)
is "$?" 3 "the agent's exit ends the sandbox even with orphans still running"

name3=kill-$$
if start_bg "$name3" sleep 30; then
	init3=$(state_field "$name3" init_pid)
	pids=$(sandbox_pids "$init3")
	kill -KILL "$BG_PID"
	wait "$BG_PID" 2>/dev/null
	# shellcheck disable=SC2086
	if wait_until 3 all_gone $pids; then
		ok "SIGKILL of the supervisor takes the whole sandbox down"
	else
		not_ok "SIGKILL of the supervisor takes the whole sandbox down"
		diag "left: $(for p in $pids; do [[ -e /proc/$p ]] && echo "$p $(tr '\0' ' ' </proc/$p/cmdline)"; done)"
	fi
	check "warden ps does not list a sandbox whose supervisor died" not_in_ps "$name3"
	OUT=$("$WARDEN" run --no-tty --name "$name3" --workdir "$WORKDIR" -- true 2>&1 </dev/null)
	is "$?/$OUT" "0/" "its name can be used again"
else
	not_ok "start a sandbox to SIGKILL the supervisor of"
fi

# ---- the agent's own terminal -------------------------------------------------------------

if command -v script >/dev/null 2>&1; then
	OUT=$(timeout 20 script -qec "'$WARDEN' run --tty --workdir '$WORKDIR' -- sh -c 'test -t 0 && test -t 1 && echo is-a-tty; tty'" /dev/null </dev/null 2>&1)
	like "$OUT" "is-a-tty" "--tty: the agent's stdin and stdout are a terminal"
	like "$OUT" "/dev/pts/[0-9]+" "... a pty of the sandbox's own devpts"
	rm -f "$WORKDIR/ready"
	t0=$(date +%s%N)
	OUT=$({
		wait_until 10 test -e "$WORKDIR/ready"
		printf '\003'
		sleep 1
	} | timeout 20 script -qec "'$WARDEN' run --tty --workdir '$WORKDIR' -- sh -c ': >$WORKDIR/ready; exec sleep 15'" /dev/null 2>&1)
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	is "$rc" 130 "Ctrl-C on the terminal interrupts the agent (exit 130)"
	if ((ms < 8000)); then ok "... promptly (${ms} ms)"; else not_ok "... promptly (${ms} ms)"; fi
else
	skip "--tty: the agent's stdin and stdout are a terminal" "script(1) from util-linux is not installed"
	skip "Ctrl-C on the terminal interrupts the agent" "script(1) from util-linux is not installed"
fi

done_testing
