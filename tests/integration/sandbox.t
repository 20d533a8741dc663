#!/usr/bin/env bash
#
# The sandbox's walls, attempted from inside a real sandbox.  Every denial is
# checked for the errno that proves *which* wall stopped it; every positive
# check shows the wall is not simply "everything fails".

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

WORKDIR=$(mk_workdir wd)
POLICY=
SYS_RO=$(system_ro)

diag "warden: $WARDEN" "runner uid $(id -u), agent uid $AGENT_UID"

# ---- the positive side ----------------------------------------------------------

expect_ok "write in the workdir" write "$WORKDIR/out.txt"
is "$(cat "$WORKDIR/out.txt" 2>/dev/null)" "x" "the file written inside appears on the host"
echo host-data >"$WORKDIR/in.txt"
is_root && chown "$AGENT_UID:$AGENT_GID" "$WORKDIR/in.txt"
expect_ok "read a host file in the workdir" read "$WORKDIR/in.txt"
expect_ok "mkdir in the workdir" mkdir "$WORKDIR/newdir"
check "the new directory appears on the host" test -d "$WORKDIR/newdir"
expect_ok "read system files (/etc/passwd)" read /etc/passwd
run_probe ids
like "$OUT" "^OK uid=$AGENT_UID euid=$AGENT_UID gid=$AGENT_GID egid=$AGENT_GID groups=" \
	"the agent runs as uid $AGENT_UID"
if is_root; then
	# `sudo warden run`: the agent is the sudo caller, not root.
	if ensure_test_user; then
		tu=$(id -u "$TEST_USER") tg=$(id -g "$TEST_USER")
		wd2=$(mk_workdir sudo)
		chown -R "$tu:$tg" "$wd2"
		OUT=$(SUDO_UID=$tu SUDO_GID=$tg "$WARDEN" run --no-tty --workdir "$wd2" -- "$wd2/probe" ids 2>&1)
		like "$OUT" "^OK uid=$tu euid=$tu gid=$tg egid=$tg" "as root under sudo the agent is \$SUDO_UID"
	else
		not_ok "as root under sudo the agent is \$SUDO_UID"
		diag "cannot create $TEST_USER"
	fi
else
	skip "as root under sudo the agent is \$SUDO_UID" "needs root"
fi

sandbox -- python3 -c 'print(1+1)'
is "$OUT/$RC" "2/0" "python3 runs normally"
# shellcheck disable=SC2016 # expanded by the sandbox's sh
sandbox -- sh -c 'echo "$((6 * 7))"; exit 0'
is "$OUT/$RC" "42/0" "sh runs normally"

expect_status 7 "exit status passes through" exit 7
expect_status 0 "exit status 0 passes through" exit 0
expect_status 137 "killed by SIGKILL: 128+9" kill-self 9
expect_status 143 "killed by SIGTERM: 128+15" kill-self 15
sandbox -- no-such-command-xyz
is "$RC" 127 "a missing command exits 127"
like "$ERR" "not found" "... and says so"
printf 'data\n' >"$WORKDIR/not-exec"
chmod 644 "$WORKDIR/not-exec"
sandbox -- "$WORKDIR/not-exec"
is "$RC" 126 "a non-executable file exits 126"

# /tmp and HOME are private tmpfs.
priv=warden-private-$$-$RANDOM
expect_ok "write to the sandbox's /tmp" write "/tmp/$priv"
check "a file written in the sandbox's /tmp is not in the host's /tmp" test ! -e "/tmp/$priv"
hostfile=$(mktemp /tmp/warden-hostfile.XXXXXX)
expect_err ENOENT "the host's /tmp is not visible" read "$hostfile"
rm -f "$hostfile"
sandbox -- "$WORKDIR/probe" env HOME
home=${OUT#OK }
expect_ok "HOME ($home) is writable" write "$home/.rc"
sandbox -- "$WORKDIR/probe" ls "$home"
is "$OUT" "OK" "HOME starts empty (private tmpfs)"

# ---- policy handling -------------------------------------------------------------

def=$("$WARDEN" policy default 2>&1)
rc=$?
is "$rc" 0 "warden policy default works"
like "$def" "read_only:" "... and prints a policy"
printf '%s\n' "$def" >"$T_TMP/default.yaml"
check "the default policy passes warden policy check" "$WARDEN" policy check "$T_TMP/default.yaml"
printf 'version: 1\nfilesystem_policy:\n  include_workdir: true\n  bogus_key: 1\n' >"$T_TMP/bad.yaml"
OUT=$("$WARDEN" run --no-tty --policy "$T_TMP/bad.yaml" --workdir "$WORKDIR" -- true 2>&1)
is "$?" 125 "a bad policy: warden run exits 125"
like "$OUT" "$T_TMP/bad.yaml:4:3: error: " "... with a FILE:LINE:COL message"
# An error init meets while building the root reaches the user as its own
# sentence, however far the supervisor got meanwhile (five tries: a race).
printf 'version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only:\n    - /usr\n    - /nonexistent-warden-test\n' >"$T_TMP/missing.yaml"
got=0
for i in 1 2 3 4 5; do
	OUT=$("$WARDEN" run --no-tty --policy "$T_TMP/missing.yaml" --workdir "$WORKDIR" -- true 2>&1)
	rc=$?
	[[ $rc -eq 125 && $OUT == *"filesystem_policy.read_only: /nonexistent-warden-test: No such file or directory"* ]] && got=$((got + 1))
done
is "$got" 5 "a missing read_only path: exit 125 and init's message, every time (last: $OUT)"

# ---- filesystem walls -----------------------------------------------------------------

expect_err "EROFS|EACCES" "write outside the allowlist (/usr/x)" write /usr/x
expect_err "EROFS|EACCES" "overwrite a read-only system file (/etc/passwd)" append /etc/passwd
expect_err "EROFS|EACCES" "create a directory at the root" mkdir /newdir
other=$(mktmp other)
echo secret >"$other/secret.txt"
chmod 644 "$other/secret.txt"
expect_err ENOENT "a host directory not in the policy is not there" read "$other/secret.txt"
expect_err ENOENT "... nor can it be created" write "$other/new"
expect_err ENOENT "the source tree (not in the policy) is not there" read "$T_ROOT/tests/lib.sh"
expect_err ENOENT "/root is not there" ls /root
expect_err EACCES "read /etc/shadow (masked by the default policy)" read /etc/shadow
expect_err "EROFS|EACCES" "write /etc/shadow" write /etc/shadow
if [[ -d /etc/ssh ]]; then
	expect_err EACCES "list /etc/ssh (masked directory)" ls /etc/ssh
else
	skip "list /etc/ssh (masked directory)" "no /etc/ssh on this host"
fi

# Deny paths inside the writable workdir.
mkdir -p "$WORKDIR/sub/deep" "$WORKDIR/sdir"
echo secret >"$WORKDIR/sub/deep/secret.txt"
echo secret >"$WORKDIR/top-secret.txt"
echo secret >"$WORKDIR/sdir/key"
is_root && chown -R "$AGENT_UID:$AGENT_GID" "$WORKDIR"
POLICY=$T_TMP/deny.yaml
write_policy "$POLICY" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
  deny:
    - $WORKDIR/top-secret.txt
    - $WORKDIR/sub/deep/secret.txt
    - $WORKDIR/sdir
    - $WORKDIR/not-yet
    - $WORKDIR/nd/a/b
EOF
expect_err EACCES "read a masked file in the workdir" read "$WORKDIR/top-secret.txt"
expect_err EACCES "read a masked file two levels down" read "$WORKDIR/sub/deep/secret.txt"
expect_err "EROFS|EACCES" "overwrite a masked file" write "$WORKDIR/sub/deep/secret.txt"
expect_err "EROFS|EACCES" "append to a masked file" append "$WORKDIR/sub/deep/secret.txt"
expect_err "EBUSY|EPERM|EACCES" "unlink a masked file" unlink "$WORKDIR/sub/deep/secret.txt"
is "$(cat "$WORKDIR/sub/deep/secret.txt")" "secret" "the masked file is unchanged on the host"
expect_err EACCES "list a masked directory" ls "$WORKDIR/sdir"
expect_err EACCES "read inside a masked directory" read "$WORKDIR/sdir/key"
expect_err "EACCES|EROFS" "create inside a masked directory" write "$WORKDIR/sdir/new"
expect_err EBUSY "rename a masked directory away" rename "$WORKDIR/sdir" "$WORKDIR/sdir2"
expect_err EBUSY "rename a masked file's parent away" rename "$WORKDIR/sub/deep" "$WORKDIR/sub/moved"
expect_err EBUSY "rename a masked file's grandparent away" rename "$WORKDIR/sub" "$WORKDIR/moved"
expect_err EACCES "... so the file is still masked afterwards" read "$WORKDIR/sub/deep/secret.txt"
expect_ok "an unmasked sibling in the same directory is writable" write "$WORKDIR/sub/deep/other"
expect_err "EROFS|EACCES" "create a denied path that did not exist" write "$WORKDIR/not-yet"
expect_err EACCES "... nor read it" read "$WORKDIR/not-yet"
expect_err "EBUSY|EEXIST|EROFS|EACCES" "... nor make it a directory" mkdir "$WORKDIR/not-yet"
expect_err EBUSY "... nor rename it away" rename "$WORKDIR/not-yet" "$WORKDIR/other-name"
expect_err "EROFS|EACCES" "create a nested denied path that did not exist" write "$WORKDIR/nd/a/b"
expect_err EBUSY "... nor rename its parent away" rename "$WORKDIR/nd/a" "$WORKDIR/nd/a2"
check "the placeholder for a denied path is gone from the host afterwards" test ! -e "$WORKDIR/not-yet"
check "... and so are the parents made for a nested one" test ! -e "$WORKDIR/nd"
check "the masked file still exists on the host" test -s "$WORKDIR/top-secret.txt"
POLICY=

# Symlinks in the writable workdir do not reach the host.
ln -s "$other/secret.txt" "$WORKDIR/link-out"
ln -s /etc/shadow "$WORKDIR/link-shadow"
ln -s "$T_ROOT/tests/lib.sh" "$WORKDIR/link-src"
check "the symlink target is readable on the host" "$PROBE" read "$WORKDIR/link-out"
expect_err "ENOENT|EACCES" "follow a workdir symlink to a host file outside the allowlist" read "$WORKDIR/link-out"
expect_err "ENOENT|EACCES" "follow a workdir symlink into the source tree" read "$WORKDIR/link-src"
expect_err EACCES "follow a workdir symlink to a masked file" read "$WORKDIR/link-shadow"
sandbox -- sh -c "ln -s '$other/secret.txt' '$WORKDIR/link-in' && '$WORKDIR/probe' read '$WORKDIR/link-in'"
is "$OUT" "ERR ENOENT" "a symlink the agent makes does not reach the host either"
expect_err "ENOENT|EACCES" "the host root is not reachable through /proc/1/root" read "/proc/1/root$other/secret.txt"

# ---- network walls ---------------------------------------------------------------------

expect_out "OK lo" "the only network interface is lo" ifaces
if start_tcp_listener; then
	expect_err "ECONNREFUSED|ENETUNREACH" "connect to a TCP listener on the host's loopback" \
		connect-tcp 127.0.0.1 "$LISTEN_PORT"
	expect_err "ECONNREFUSED|ENETUNREACH" "... nor via IPv6 loopback" connect-tcp ::1 "$LISTEN_PORT"
	sleep 0.2
	is "$(cat "$LISTEN_LOG")" "" "the listener saw no connection from the sandbox"
	check "(sanity) the same connect works from the host" "$PROBE" connect-tcp 127.0.0.1 "$LISTEN_PORT"
	wait_until 2 test -s "$LISTEN_LOG"
	check "(sanity) and the listener saw it" test -s "$LISTEN_LOG"
else
	not_ok "start a loopback TCP listener"
fi
expect_err ENETUNREACH "connect to 10.x" connect-tcp 10.20.30.40 80
expect_err ENETUNREACH "connect to the metadata endpoint 169.254.169.254" connect-tcp 169.254.169.254 80
expect_err ENETUNREACH "connect to a global IPv6 address" connect-tcp 2001:db8::1 443
expect_err EPERM "open a raw IPv4 socket" socket inet raw 1
expect_err EPERM "open a raw IPv6 socket" socket inet6 raw 58
expect_err EPERM "open a SOCK_PACKET inet socket" socket inet packet 0
expect_err "EAFNOSUPPORT|EPERM" "open an AF_PACKET socket" socket packet raw 0
expect_err "EAFNOSUPPORT|EPERM" "open an AF_PACKET dgram socket" socket packet dgram 0
expect_err EAFNOSUPPORT "open netlink protocol 9 (audit)" socket netlink raw 9
expect_err EAFNOSUPPORT "open netlink protocol 16 (generic)" socket netlink raw 16
expect_ok "open netlink protocol 0 (route) works" socket netlink raw 0
expect_err EAFNOSUPPORT "open an AF_ALG socket" socket alg seqpacket 0
expect_err EAFNOSUPPORT "open an AF_VSOCK socket" socket vsock stream 0
expect_err EAFNOSUPPORT "open an AF_KEY socket" socket key raw 2
expect_err EAFNOSUPPORT "open an AF_BLUETOOTH socket" socket bluetooth raw 0
expect_ok "unix sockets work" socket unix stream 0
expect_ok "TCP sockets work" socket inet stream 0
expect_ok "bind inside the sandbox's own netns works" bind-tcp 127.0.0.1 0
if start_abstract_listener; then
	expect_err "ECONNREFUSED|EPERM" "connect to a host abstract unix socket" connect-abstract "$ABSTRACT_NAME"
	is "$(cat "$ABSTRACT_LOG")" "" "the abstract listener saw no connection"
	check "(sanity) the same connect works from the host" "$PROBE" connect-abstract "$ABSTRACT_NAME"
else
	not_ok "start an abstract unix listener"
fi

# ---- terminal injection ---------------------------------------------------------------------

expect_err EPERM "TIOCSTI" tiocsti
expect_err EPERM "TIOCSTI with junk in the upper 32 bits of the request" tiocsti-hi
expect_err EPERM "TIOCLINUX" tioclinux
if command -v script >/dev/null 2>&1; then
	OUT=$(timeout 20 script -qec "'$WARDEN' run --tty --workdir '$WORKDIR' -- '$WORKDIR/probe' tiocsti" /dev/null </dev/null 2>&1)
	like "$OUT" "ERR EPERM" "TIOCSTI on the agent's own pty (--tty under script)"
	OUT=$(timeout 20 script -qec "'$WARDEN' run --no-tty --workdir '$WORKDIR' -- '$WORKDIR/probe' tiocsti" /dev/null </dev/null 2>&1)
	like "$OUT" "ERR EPERM" "TIOCSTI on the host's terminal (--no-tty, stdin a pty)"
	OUT=$(timeout 20 script -qec "'$WARDEN' run --no-tty --workdir '$WORKDIR' -- '$WORKDIR/probe' tiocsti-hi" /dev/null </dev/null 2>&1)
	like "$OUT" "ERR EPERM" "TIOCSTI|1<<32 on the host's terminal"
else
	skip "TIOCSTI on a real terminal" "script(1) from util-linux is not installed"
fi

# ---- namespaces, kernel attack surface --------------------------------------------------------

expect_err EPERM "unshare(CLONE_NEWUSER)" unshare-user
expect_err EPERM "unshare(CLONE_NEWNET)" unshare-net
expect_err EPERM "unshare(CLONE_NEWNS)" unshare-mnt
expect_err EPERM "clone(CLONE_NEWUSER)" clone-newuser
expect_err ENOSYS "clone3 (flags unreadable by seccomp)" clone3
expect_err EPERM "setns" setns /proc/self/ns/uts
expect_err EPERM "io_uring_setup" io-uring
expect_err EPERM "bpf(BPF_PROG_LOAD)" bpf prog
expect_err EPERM "bpf(BPF_MAP_CREATE)" bpf map
expect_err EPERM "perf_event_open" perf
expect_err EPERM "userfaultfd" userfaultfd
expect_err EPERM "add_key/keyctl" keyctl
expect_err EPERM "mount" mount /tmp
expect_err EPERM "umount2" umount /tmp
expect_err EPERM "fsopen" fsopen
expect_err EPERM "open_tree" open-tree /tmp
expect_err EPERM "pivot_root" pivot-root
expect_err EPERM "chroot" chroot /tmp
expect_err EPERM "open_by_handle_at" open-by-handle /
expect_err EPERM "kexec_load" kexec
expect_err EPERM "init_module" init-module
expect_err "EPERM|EINVAL" "setuid(0)" setuid 0

# ---- other processes ----------------------------------------------------------------------------

expect_err EPERM "ptrace a child" ptrace-child
expect_err EPERM "ptrace init" ptrace 1
expect_err EPERM "process_vm_readv on init" process-vm-read 1
expect_out "OK 2 1" "the agent is pid 2 under init" pid
sandbox -- "$WORKDIR/probe" ls /proc
pids=$(tr ' ' '\n' <<<"${OUT#OK }" | grep -E '^[0-9]+$' | tr '\n' ' ')
is "$pids" "1 2 " "/proc lists only the sandbox's own pids"
sandbox -- sh -c "'$WORKDIR/probe' kill 1 9; '$WORKDIR/probe' kill 1 15; echo alive"
like "$OUT" "^ERR [A-Z]+"$'\n'"ERR [A-Z]+"$'\n'"alive$" "signalling init fails (and the agent lives on)"
expect_err ESRCH "kill(-1) reaches nobody outside" kill -1 0
LL_ABI=$(landlock_abi)
if ((LL_ABI >= 6)); then
	# Same uid, so only Landlock's signal scope refuses this (init is outside the domain).
	expect_err EPERM "signal 0 to init is refused (Landlock signal scoping, ABI $LL_ABI)" kill 1 0
else
	skip "signal 0 to init is refused (Landlock signal scoping)" "kernel Landlock ABI $LL_ABI < 6"
fi

# The supervisor's host pid: bash execs warden, so $$ there is the supervisor.
sup_run() {
	OUT=$(bash -c 'exec "$0" run --no-tty --workdir "$1" -- "$1/probe" "$2" "$$" ${3:+"$3"}' \
		"$WARDEN" "$WORKDIR" "$@" 2>&1 </dev/null)
}
sup_run kill 9
is "$OUT" "ERR ESRCH" "kill the supervisor by its host pid"
sup_run kill 0
is "$OUT" "ERR ESRCH" "the supervisor's host pid does not exist inside"
sup_run ptrace
like "$OUT" "^ERR (EPERM|ESRCH)$" "ptrace the supervisor"
sup_run process-vm-read
like "$OUT" "^ERR (EPERM|ESRCH)$" "process_vm_readv on the supervisor"
OUT=$(bash -c 'exec "$0" run --no-tty --workdir "$1" -- "$1/probe" read /proc/$$/environ' \
	"$WARDEN" "$WORKDIR" 2>&1 </dev/null)
is "$OUT" "ERR ENOENT" "the supervisor's /proc/PID/environ is not there"

# ---- identity and privileges --------------------------------------------------------------------

if is_root; then
	suid=$(mktmp suid)
	chmod 755 "$suid"
	cp "$PROBE" "$suid/probe-suid"
	chown 0:0 "$suid/probe-suid"
	chmod 4755 "$suid/probe-suid"
	POLICY=$T_TMP/suid.yaml
	write_policy "$POLICY" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO, $suid]
EOF
	OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$suid/probe-suid" setuid-euid 2>&1)
	is "$OUT" "OK 0" "(sanity) the setuid-root copy gives euid 0 on the host"
	sandbox -- "$suid/probe-suid" setuid-euid
	like "$OUT" "^OK [0-9]+$" "the setuid-root copy runs in the sandbox"
	if [[ $OUT =~ ^OK\ ([0-9]+)$ && ${BASH_REMATCH[1]} != 0 ]]; then
		ok "a setuid-root binary gives no euid 0 in the sandbox ($OUT)"
	else
		not_ok "a setuid-root binary gives no euid 0 in the sandbox"
		diag "got: $OUT (exit $RC) $ERR"
	fi
	POLICY=
else
	skip "a setuid-root binary gives no euid 0 in the sandbox" "needs root to make a setuid-root file"
fi
expect_out "OK CapInh=0000000000000000 CapPrm=0000000000000000 CapEff=0000000000000000 CapBnd=0000000000000000 CapAmb=0000000000000000" \
	"no capabilities at all (inheritable, permitted, effective, bounding, ambient)" caps
expect_out "OK 1" "NoNewPrivs is set" status-field NoNewPrivs
expect_out "OK 2" "a seccomp filter is installed (mode 2)" status-field Seccomp
expect_out "OK 0 0" "core dumps are off (RLIMIT_CORE 0)" rlimit CORE
name=warden-t-$$
sandbox --name "$name" -- "$WORKDIR/probe" hostname
is "$OUT" "OK $name" "the hostname is the --name"
run_probe x32
is "$RC/$OUT" "159/" "an x32 syscall kills the process (SIGSYS, exit 159)"
run_probe int80
is "$RC/$OUT" "159/" "an int 0x80 syscall kills the process (SIGSYS, exit 159)"

# ---- environment --------------------------------------------------------------------------------

export AWS_SECRET_ACCESS_KEY=warden-test-secret SSH_AUTH_SOCK=/tmp/ssh-agent.sock
export GITHUB_TOKEN=ghp_warden_test
expect_err ENOENT "a host secret (AWS_SECRET_ACCESS_KEY) is not passed" env AWS_SECRET_ACCESS_KEY
expect_err ENOENT "SSH_AUTH_SOCK is not passed" env SSH_AUTH_SOCK
expect_err ENOENT "GITHUB_TOKEN is not passed" env GITHUB_TOKEN
unset AWS_SECRET_ACCESS_KEY SSH_AUTH_SOCK GITHUB_TOKEN
sandbox --env FOO=bar -- "$WORKDIR/probe" env FOO
is "$OUT" "OK bar" "--env FOO=bar is visible"
POLICY=$T_TMP/env.yaml
write_policy "$POLICY" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
process:
  env:
    set: {WARDEN_TEST_SET: from-policy}
EOF
expect_out "OK from-policy" "process.env.set is visible" env WARDEN_TEST_SET
POLICY=
expect_ok "PATH is set" env PATH

# process.limits: applied through cgroup v2 when delegated, else rlimits, and
# warden says which on stderr.
POLICY=$T_TMP/limits.yaml
write_policy "$POLICY" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
process:
  limits: {memory: 2G, pids: 64, open_files: 256}
EOF
expect_out "OK 256 256" "limits.open_files becomes RLIMIT_NOFILE" rlimit NOFILE
like "$ERR" "limits: .*(cgroup v2|rlimits)" "warden reports which mechanism enforces the limits"
if [[ $ERR == *"using rlimits"* ]]; then
	expect_out "OK 64 64" "limits.pids falls back to RLIMIT_NPROC" rlimit NPROC
	expect_out "OK 2147483648 2147483648" "limits.memory falls back to RLIMIT_AS" rlimit AS
else
	skip "limits.pids falls back to RLIMIT_NPROC" "cgroup v2 enforces it here"
	skip "limits.memory falls back to RLIMIT_AS" "cgroup v2 enforces it here"
fi
POLICY=

done_testing
