/*
 * The supervisor side of `warden run`: prepares what must exist on the host
 * (limits, placeholders for denied paths that do not exist yet, the state
 * record), starts the sandbox, then runs one event loop until init exits:
 * control messages, forwarded signals, and -- when the agent has its own
 * terminal -- the pty relay.  The supervisor never runs inside a namespace
 * of the sandbox, so nothing in it can signal, trace or read it.
 */
#include "sb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/util.h"
#include "sandbox_state.h"

/*
 * A denied path that does not exist yet inside a writable tree would be
 * creatable; a placeholder (empty, mode 0) gives the mask something to sit
 * on.  Created here, on the host, and removed again at exit.
 */
static int
make_placeholders(const struct sandbox_spec *s, struct strv *made, struct werr *err)
{
	const struct policy *p = s->policy;

	for (size_t i = 0; i < p->deny.n; i++) {
		const char *d = p->deny.v[i];
		bool writable = p->include_workdir && path_has_prefix(d, s->workdir);
		char buf[PATH_MAX];
		struct stat st;
		int fd;

		for (size_t j = 0; j < p->read_write.n; j++)
			writable |= path_has_prefix(d, p->read_write.v[j]);
		if (!writable || lstat(d, &st) == 0)
			continue;
		/* Missing parents are created too, and remembered. */
		snprintf(buf, sizeof(buf), "%s", d);
		for (char *c = buf + 1; (c = strchr(c, '/')); c++) {
			*c = '\0';
			if (mkdir(buf, 0700) == 0) {
				strv_push(made, buf);
				/*
				 * The agent's own tree: a root supervisor's directory
				 * would be closed to init and the agent (EACCES).
				 */
				if (chown(buf, s->uid, s->gid) < 0)
					return werr_sys(err, "deny: chown placeholder parent %s", buf);
			} else if (errno != EEXIST)
				return werr_sys(err, "deny: create placeholder parent %s", buf);
			*c = '/';
		}
		fd = open(d, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0);
		if (fd < 0)
			return werr_sys(err, "deny: create placeholder %s", d);
		close(fd);
		strv_push(made, d);
	}
	return 0;
}

static void
remove_placeholders(struct strv *made)
{
	for (size_t i = made->n; i-- > 0;) {
		struct stat st;
		if (lstat(made->v[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rmdir(made->v[i]);
		else if (S_ISREG(st.st_mode) && st.st_size == 0)
			unlink(made->v[i]);
	}
	strv_free(made);
}

struct sup {
	const struct sandbox_spec *spec;
	pid_t init_pid;
	int pidfd, ctl, sigfd, ep, master;
	bool raw;
	struct termios saved;
	int error_exit;		/* exit code of a reported setup error */
	struct sb_state st;
	char state_dir[PATH_MAX];
};

static void
sync_winsize(struct sup *s)
{
	struct winsize ws;

	if (s->master >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(s->master, TIOCSWINSZ, &ws);
}

static void
tty_raw(struct sup *s)
{
	struct termios t;

	if (tcgetattr(0, &s->saved) < 0)
		return;
	t = s->saved;
	cfmakeraw(&t);
	if (tcsetattr(0, TCSANOW, &t) == 0)
		s->raw = true;
}

static void
tty_restore(struct sup *s)
{
	if (s->raw)
		tcsetattr(0, TCSANOW, &s->saved);
	s->raw = false;
}

/* Copy what is available from one fd to another; false on EOF/error. */
static bool
relay(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return n < 0 && (errno == EAGAIN || errno == EINTR);
	return write_all(to, buf, (size_t)n) == 0;
}

static void
on_ctl(struct sup *s)
{
	struct ctl_msg m;
	int fd = -1;
	ssize_t r = ctl_recv(s->ctl, &m, &fd);

	if (r <= 0) {
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->ctl, NULL);
		close(s->ctl);
		s->ctl = -1;
		return;
	}
	switch (m.type) {
	case CTL_ERROR:
		tty_restore(s);
		log_warnx("%s", m.msg);
		s->error_exit = m.exit;
		break;
	case CTL_WARN:
		log_warnx("%s", m.msg);
		break;
	case CTL_INFO:
		s->st.landlock_abi = m.value;
		s->st.landlock_scoped = m.flags != 0;
		break;
	case CTL_PTY:
		if (fd >= 0 && s->master < 0) {
			struct epoll_event ev = { .events = EPOLLIN };
			s->master = fd;
			fd = -1;
			sync_winsize(s);
			tty_raw(s);
			ev.data.fd = s->master;
			epoll_ctl(s->ep, EPOLL_CTL_ADD, s->master, &ev);
			ev.data.fd = 0;
			epoll_ctl(s->ep, EPOLL_CTL_ADD, 0, &ev);
		}
		break;
	case CTL_STARTED: {
		struct werr err = { 0 };
		char *canon = policy_canonical(s->spec->policy);
		s->st.agent_pid = m.value;	/* pid inside; refined by inspect */
		if (state_write(s->state_dir, &s->st, canon, &err) < 0)
			log_warnx("state: %s", err.msg);
		free(canon);
		break;
	}
	default:
		break;
	}
	if (fd >= 0)
		close(fd);
}

static int
supervise(struct sup *s)
{
	int status = -1;

	for (;;) {
		struct epoll_event evs[8];
		int n = epoll_wait(s->ep, evs, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == s->ctl) {
				on_ctl(s);
			} else if (fd == s->sigfd) {
				struct signalfd_siginfo si;
				if (read(s->sigfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGWINCH)
					sync_winsize(s);
				else if (si.ssi_signo != SIGCHLD)
					syscall(SYS_pidfd_send_signal, s->pidfd, si.ssi_signo, NULL, 0);
			} else if (fd == s->master) {
				if (!relay(s->master, 1)) {
					epoll_ctl(s->ep, EPOLL_CTL_DEL, s->master, NULL);
					epoll_ctl(s->ep, EPOLL_CTL_DEL, 0, NULL);
				}
			} else if (fd == 0) {
				if (!relay(0, s->master))
					epoll_ctl(s->ep, EPOLL_CTL_DEL, 0, NULL);
			} else if (fd == s->pidfd) {
				siginfo_t si = { 0 };
				if (waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED) < 0)
					continue;
				status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
			}
		}
		if (status >= 0)
			break;
	}
	/* Drain what the agent printed last and any final control messages. */
	if (s->master >= 0) {
		int fl = fcntl(s->master, F_GETFL);
		fcntl(s->master, F_SETFL, fl | O_NONBLOCK);
		while (relay(s->master, 1))
			;
	}
	while (s->ctl >= 0) {
		struct pollfd pfd = { .fd = s->ctl, .events = POLLIN };
		if (poll(&pfd, 1, 0) <= 0)
			break;
		on_ctl(s);
	}
	return status;
}

int
sandbox_run(const struct sandbox_spec *spec, struct werr *err)
{
	struct sup s = { .spec = spec, .pidfd = -1, .ctl = -1, .sigfd = -1, .ep = -1, .master = -1 };
	struct limits_plan lp;
	struct strv made = { 0 };
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t mask, oldmask;
	int lock_fd = -1, status = -1;

	if (state_create(spec->name, s.state_dir, sizeof(s.state_dir), &lock_fd, err) < 0)
		return -1;
	if (limits_prepare(spec->policy, spec->name, &lp, err) < 0)
		goto out_state;
	if (make_placeholders(spec, &made, err) < 0)
		goto out_limits;

	/* Signals arrive through signalfd from now on; the agent sees them via init. */
	sigemptyset(&mask);
	{
		static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
			SIGWINCH, SIGCHLD, SIGCONT };
		for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
			sigaddset(&mask, fwd[i]);
	}
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	if (s.sigfd < 0 || s.ep < 0) {
		werr_sys(err, "signalfd/epoll");
		goto out_sig;
	}
	if (sandbox_spawn(spec, &lp, &s.init_pid, &s.pidfd, &s.ctl, err) < 0)
		goto out_sig;

	snprintf(s.st.name, sizeof(s.st.name), "%s", spec->name);
	s.st.supervisor_pid = getpid();
	s.st.init_pid = s.init_pid;
	s.st.init_start = proc_start_time(s.init_pid);
	s.st.started = (int64_t)time(NULL);
	/*
	 * Hashing needs OpenSSL's one-time initialisation (~1 ms); done here it
	 * overlaps with init building the root on the other CPU.
	 */
	policy_hash(spec->policy, s.st.policy_hash);
	snprintf(s.st.workdir, sizeof(s.st.workdir), "%s", spec->workdir);
	snprintf(s.st.home, sizeof(s.st.home), "%s", spec->home ? spec->home : "");
	s.st.uid = spec->uid;
	s.st.gid = spec->gid;
	for (char *const *a = spec->argv; *a; a++) {
		size_t l = strlen(s.st.command);
		snprintf(s.st.command + l, sizeof(s.st.command) - l, "%s%s", l ? " " : "", *a);
	}
	for (char *c = s.st.command; *c; c++)
		if (*c == '\n')
			*c = ' ';
	snprintf(s.st.limits, sizeof(s.st.limits), "%s", lp.method);

	ev.data.fd = s.ctl;
	epoll_ctl(s.ep, EPOLL_CTL_ADD, s.ctl, &ev);
	ev.data.fd = s.sigfd;
	epoll_ctl(s.ep, EPOLL_CTL_ADD, s.sigfd, &ev);
	ev.data.fd = s.pidfd;
	epoll_ctl(s.ep, EPOLL_CTL_ADD, s.pidfd, &ev);

	status = supervise(&s);
	tty_restore(&s);
	if (s.error_exit && (status == s.error_exit || status == WEXIT_FAILURE)) {
		/* Already printed; report through the error contract's exit code. */
		err->exit = s.error_exit;
		snprintf(err->msg, sizeof(err->msg), "%s", "");
		status = -1;
	}
	if (s.master >= 0)
		close(s.master);
	if (s.ctl >= 0)
		close(s.ctl);
	close(s.pidfd);
out_sig:
	if (s.sigfd >= 0)
		close(s.sigfd);
	if (s.ep >= 0)
		close(s.ep);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	remove_placeholders(&made);
out_limits:
	limits_cleanup(&lp);
out_state:
	state_remove(s.state_dir, lock_fd);
	return status;
}
