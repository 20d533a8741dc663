/*
 * Starting a sandbox: clone3 into new namespaces, map the agent's ids,
 * build the root in init, fork the agent and confine it in the order that
 * matters (bubblewrap's order): new session, rlimits, working directory,
 * identity and capabilities with no_new_privs, Landlock, close every
 * inherited fd on exec, seccomp last, exec.
 */
#include "sb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/util.h"

extern char **environ;

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define SANDBOX_NS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | \
	CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

static void
send_text(int fd, uint32_t type, const char *text)
{
	struct ctl_msg m = { .type = type };

	snprintf(m.msg, sizeof(m.msg), "%s", text);
	ctl_send(fd, &m, -1);
}

/* The agent, pid 2: confine and exec.  Never returns. */
static void __attribute__((noreturn))
agent_main(const struct sandbox_spec *s, int ctl, int pty_slave,
    const struct landlock_result *ll, const struct limits_plan *lp)
{
	struct werr err = { 0 };
	const char *cwd = s->policy->include_workdir ? s->workdir : (s->home ? s->home : "/");
	sigset_t none;

	/*
	 * init installed no handlers; its blocked mask must not leak.  The mask
	 * init inherited is the supervisor's, which blocks every signal it
	 * forwards (TERM, INT, HUP, ...), so the agent starts with none blocked.
	 */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() < 0)
		werr_sys(&err, "setsid"), ctl_die(ctl, &err);
	if (pty_slave >= 0) {
		if (ioctl(pty_slave, TIOCSCTTY, 0) < 0)
			werr_sys(&err, "TIOCSCTTY"), ctl_die(ctl, &err);
		if (dup2(pty_slave, 0) < 0 || dup2(pty_slave, 1) < 0 || dup2(pty_slave, 2) < 0)
			werr_sys(&err, "dup2 pty"), ctl_die(ctl, &err);
		if (pty_slave > 2)
			close(pty_slave);
	}
	if (confine_process(&err) < 0 || limits_apply_rlimits(s->policy, lp, &err) < 0)
		ctl_die(ctl, &err);
	if (chdir(cwd) < 0)
		werr_sys(&err, "chdir %s", cwd), ctl_die(ctl, &err);
	if (confine_identity(s->uid, s->gid, &err) < 0 || landlock_apply(ll, &err) < 0)
		ctl_die(ctl, &err);
	/* Mark every fd past stdio close-on-exec; ctl stays usable until exec. */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		werr_sys(&err, "close_range"), ctl_die(ctl, &err);
	{
		int listener = -1;
		struct ctl_msg m = { .type = CTL_EXECMON };

		if (seccomp_apply(&listener, &err) < 0)
			ctl_die(ctl, &err);
		/*
		 * The monitor must hold the fd before the exec below, which is
		 * the first call it is notified of.
		 */
		if (ctl_send(ctl, &m, listener) < 0)
			werr_sys(&err, "pass the exec monitor"), ctl_die(ctl, &err);
		if (listener >= 0)
			close(listener);
	}
	/* PATH lookup must use the agent's PATH, not the supervisor's. */
	environ = (char **)s->envp;
	execvp(s->argv[0], s->argv);
	err.exit = errno == ENOENT ? WEXIT_NOT_FOUND : WEXIT_CANNOT_EXEC;
	werr_sys(&err, "%s: %s", s->argv[0],
	    errno == ENOENT ? "command not found in the sandbox" : "cannot execute");
	ctl_die(ctl, &err);
}

/*
 * vfork: the agent borrows init's memory until its exec (or its _exit
 * through ctl_die) and init waits meanwhile.  A fork would copy init's
 * page tables (a copy of the supervisor's) only for the exec to throw them
 * away: ~0.2 ms of every start.  Nothing the agent does before exec
 * touches state init uses afterwards: its signal mask, credentials,
 * Landlock domain and seccomp filter are its own, and it never returns
 * from agent_main.  A function of its own, so no local of init_main lives
 * across the vfork.
 */
static pid_t __attribute__((noinline))
start_agent(const struct sandbox_spec *s, int ctl, int pty_slave,
    const struct landlock_result *ll, const struct limits_plan *lp)
{
	pid_t pid = vfork();

	if (pid == 0)
		agent_main(s, ctl, pty_slave, ll, lp);
	return pid;
}

/* pid 1: build the world, start the agent, reap, forward signals. */
static void __attribute__((noreturn))
init_main(const struct sandbox_spec *s, int ctl, const struct limits_plan *lp)
{
	struct werr err = { 0 };
	struct landlock_result ll;
	struct ctl_msg m;
	sigset_t all;
	int passed, master = -1, slave = -1, status = 0;
	pid_t agent;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(WEXIT_FAILURE);
	/* Wait until the supervisor has written our id maps (or died). */
	if (ctl_recv(ctl, &m, &passed) <= 0 || m.type != CTL_GO)
		_exit(WEXIT_FAILURE);
	if (become_ids_keep_caps(s->uid, s->gid, true, &err) < 0)
		ctl_die(ctl, &err);
	/*
	 * A change of uid (root starting an agent as nobody) clears the
	 * parent-death signal: arm it again, then make sure the supervisor did
	 * not die in between (its end of ctl would be closed).
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(WEXIT_FAILURE);
	{
		struct pollfd pf = { .fd = ctl, .events = POLLRDHUP };
		if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLRDHUP)))
			_exit(WEXIT_FAILURE);
	}
	if (sethostname(s->name, strlen(s->name)) < 0)
		werr_sys(&err, "sethostname"), ctl_die(ctl, &err);
	if (net_loopback_up(&err) < 0)
		ctl_die(ctl, &err);
	{
		int nfd[NET_NFDS];

		if (net_proxy_sockets(nfd, &err) < 0)
			ctl_die(ctl, &err);
		for (int i = 0; i < NET_NFDS; i++) {
			m = (struct ctl_msg){ .type = CTL_NETFD, .value = i };
			if (ctl_send(ctl, &m, nfd[i]) < 0)
				werr_sys(&err, "pass proxy socket"), ctl_die(ctl, &err);
			close(nfd[i]);
		}
	}
	if (mount_build_root(s, ctl, &err) < 0)
		ctl_die(ctl, &err);
	if (landlock_prepare(s->policy, s->workdir, s->home, &ll, &err) < 0)
		ctl_die(ctl, &err);
	if (ll.warning[0])
		send_text(ctl, CTL_WARN, ll.warning);
	m = (struct ctl_msg){ .type = CTL_INFO, .value = ll.abi, .flags = ll.scoped };
	ctl_send(ctl, &m, -1);

	if (s->pty) {
		/* The pty lives in the sandbox's own devpts instance. */
		master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || unlockpt(master) < 0)
			werr_sys(&err, "open pty"), ctl_die(ctl, &err);
		slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
		if (slave < 0)
			werr_sys(&err, "open pty peer"), ctl_die(ctl, &err);
		m = (struct ctl_msg){ .type = CTL_PTY };
		if (ctl_send(ctl, &m, master) < 0)
			werr_sys(&err, "pass pty"), ctl_die(ctl, &err);
		close(master);
	}

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	agent = start_agent(s, ctl, slave, &ll, lp);
	if (agent < 0)
		werr_sys(&err, "fork agent"), ctl_die(ctl, &err);
	if (slave >= 0)
		close(slave);
	if (ll.ruleset_fd >= 0)
		close(ll.ruleset_fd);
	m = (struct ctl_msg){ .type = CTL_STARTED, .value = agent };
	ctl_send(ctl, &m, -1);
	close(ctl);
	/* init keeps no privilege while it waits. */
	if (confine_identity(s->uid, s->gid, &err) < 0)
		_exit(WEXIT_FAILURE);

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		pid_t pid;
		int st;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(agent, sig);
			continue;
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (pid != agent)
				continue;
			status = WIFEXITED(st) ? WEXITSTATUS(st) :
			    WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXIT_FAILURE;
			/* Leaving as pid 1 kills everything else in the sandbox. */
			_exit(status);
		}
	}
}

static int
write_maps(pid_t pid, uid_t uid, gid_t gid, struct werr *err)
{
	char path[64], map[64];

	if (getuid() != 0) {
		snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
		if (write_file(path, "deny", err) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (write_file(path, map, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_file(path, map, err);
}

int
sandbox_spawn(const struct sandbox_spec *s, const struct limits_plan *lp,
    pid_t *pid_out, int *pidfd_out, int *ctl_out, struct werr *err)
{
	struct clone_args ca = { 0 };
	struct ctl_msg go = { .type = CTL_GO };
	int sv[2], pidfd = -1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return werr_sys(err, "socketpair");
	ca.flags = SANDBOX_NS | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	if (lp->cgroup_fd >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)lp->cgroup_fd;
	}
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		if (e == EPERM || e == ENOSPC || e == EINVAL)
			return werr_errno(err, e, "cannot create the sandbox namespaces (user "
			    "namespaces may be disabled: check kernel.unprivileged_userns_clone, "
			    "user.max_user_namespaces and AppArmor's "
			    "kernel.apparmor_restrict_unprivileged_userns)");
		return werr_errno(err, e, "clone3");
	}
	if (pid == 0) {
		close(sv[0]);
		init_main(s, sv[1], lp);
	}
	close(sv[1]);
	if (write_maps(pid, s->uid, s->gid, err) < 0 || ctl_send(sv[0], &go, -1) < 0) {
		werr_prefix(err, "map ids into the sandbox");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(sv[0]);
		close(pidfd);
		return -1;
	}
	*pid_out = pid;
	*pidfd_out = pidfd;
	*ctl_out = sv[0];
	return 0;
}
