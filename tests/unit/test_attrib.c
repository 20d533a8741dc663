/*
 * Unit tests for attribution (src/proxy/attrib.c), on the host, without a
 * sandbox.  A forked child R stands for the sandbox's init: it becomes a
 * child subreaper and plants a scenario (processes that open TCP
 * connections to listeners this test owns on 127.0.0.1 and ::1), then
 * reaps until it is killed with its process group.  Every lookup is made
 * three times, through a sock_diag socket and through /proc/R/net/tcp{,6}
 * (both with the process cache), and through sock_diag with the cache off
 * (every process read afresh), and all answers must agree.
 *
 * Helpers report over a pipe with a fixed-size message (tag, pid, ppid),
 * so the test knows the pids it expects.  A helper that must run as a
 * separate executable (under /bin/sh, or from a copy of this binary) is
 * this binary re-executed with "--helper".
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.  Timings are printed as comments, never asserted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "../../src/lib/hash.h"
#include "../../src/lib/util.h"
#include "../../src/proxy/attrib.h"

#include "check.h"

#define CHECK_HAS(s, sub) ({ const char *_s = (s), *_u = (sub); \
	check(_s && _u && strstr(_s, _u) != NULL, __FILE__, __LINE__, "%s contains \"%s\" (got \"%s\")", \
	    #s, _u ? _u : "(null)", _s ? _s : "(null)"); })

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
	fflush(stdout);
}

static void
skip(const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++n_pass + n_fail, cur_test, why);
	fflush(stdout);
}

/* ---- the world: listeners, this binary, its hash ---------------------------- */

static char self_exe[PATH_MAX];
static char self_sha[SHA256_HEX_LEN + 1];
static int lis4 = -1, lis6 = -1;
static struct sockaddr_in addr4;
static struct sockaddr_in6 addr6;

enum fam { FAM4, FAM6, FAM_MAPPED };

/* Hash a whole file read into memory: independent of sha256_file_fd. */
static bool
hash_file(const char *path, char hex[SHA256_HEX_LEN + 1])
{
	char *buf;
	size_t len;
	struct werr err = { 0 };

	if (read_file(path, 1u << 30, &buf, &len, &err) < 0)
		return false;
	sha256_hex(buf, len, hex);
	free(buf);
	return true;
}

static int
listen_on(int family)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		s->sin6_family = AF_INET6;
		s->sin6_addr = in6addr_loopback;
		len = sizeof(*s);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	if (family == AF_INET)
		memcpy(&addr4, &ss, sizeof(addr4));
	else
		memcpy(&addr6, &ss, sizeof(addr6));
	return fd;
}

/* Connect to one of the listeners; cloexec false keeps the fd across exec. */
static int
dial(enum fam f, uint16_t port4, uint16_t port6, bool cloexec)
{
	int type = SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0);
	int fd;

	if (f == FAM4) {
		struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port4) };
		s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fd = socket(AF_INET, type, 0)) < 0 || connect(fd, (struct sockaddr *)&s, sizeof(s)) < 0)
			return -1;
		return fd;
	}
	struct sockaddr_in6 s = { .sin6_family = AF_INET6 };
	if (f == FAM6) {
		s.sin6_addr = in6addr_loopback;
		s.sin6_port = htons(port6);
	} else {
		s.sin6_addr.s6_addr[10] = s.sin6_addr.s6_addr[11] = 0xff;
		s.sin6_addr.s6_addr[12] = 127;
		s.sin6_addr.s6_addr[15] = 1;
		s.sin6_port = htons(port4);
	}
	if ((fd = socket(AF_INET6, type, 0)) < 0 || connect(fd, (struct sockaddr *)&s, sizeof(s)) < 0)
		return -1;
	return fd;
}

static int
dial_here(enum fam f, bool cloexec)
{
	return dial(f, ntohs(addr4.sin_port), lis6 >= 0 ? ntohs(addr6.sin6_port) : 0, cloexec);
}

/* ---- helpers and the tree's root ---------------------------------------------- */

struct ready {
	char tag;		/* 'r' ready, 'E' failed, 'k' killed */
	int32_t pid, ppid;
};

static void
say(int fd, char tag)
{
	struct ready m = { .tag = tag, .pid = getpid(), .ppid = getppid() };

	if (write(fd, &m, sizeof(m)) != sizeof(m))
		_exit(3);
}

static bool
hear(int fd, struct ready *m)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	memset(m, 0, sizeof(*m));
	if (poll(&p, 1, 10000) != 1)
		return false;
	return read(fd, m, sizeof(*m)) == sizeof(*m);
}

static void __attribute__((noreturn))
hang(void)
{
	for (;;)
		pause();
}

/* Children of R die with it, even when the test itself dies. */
static pid_t
fork_child(void)
{
	pid_t p = fork();

	if (p == 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return p;
}

/* Exec'd helper: "--helper 4|6|m PORT READYFD": connect, report, hang. */
static int
helper_main(int argc, char **argv)
{
	uint64_t port, rfd;
	enum fam f;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (argc != 5 || parse_u64(argv[3], &port) < 0 || parse_u64(argv[4], &rfd) < 0 ||
	    port > 65535 || rfd > 1024)
		return 2;
	f = argv[2][0] == '6' ? FAM6 : argv[2][0] == 'm' ? FAM_MAPPED : FAM4;
	fd = dial(f, (uint16_t)port, (uint16_t)port, true);
	if (fd < 0) {
		say((int)rfd, 'E');
		return 1;
	}
	say((int)rfd, 'r');
	hang();
}

typedef void (*plant_fn)(void *arg, int ready);

struct root {
	pid_t pid;
	int ready;		/* read end */
};

static bool
start_root(struct root *r, plant_fn plant, void *arg)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	r->pid = fork_child();
	if (r->pid < 0)
		return false;
	if (r->pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		close(p[0]);
		signal(SIGPIPE, SIG_IGN);
		plant(arg, p[1]);
		for (;;)
			if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
				pause();
	}
	setpgid(r->pid, r->pid);
	close(p[1]);
	r->ready = p[0];
	return true;
}

static void
stop_root(struct root *r)
{
	kill(-r->pid, SIGKILL);
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	close(r->ready);
}

static bool
wait_gone(pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		usleep(5000);
	}
	return false;
}

/* ---- lookups through both methods ---------------------------------------------- */

struct both {
	struct attrib *ad, *ap, *af;	/* sock_diag, /proc/net, sock_diag without cache */
	int rd, rp, rf;
	struct identity d, p, f;
	struct werr ed, ep, ef;
	struct attrib_stats sd;	/* of ad's last lookup */
};

static bool
open_both(struct both *b, pid_t root)
{
	struct werr err = { 0 };
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	memset(b, 0, sizeof(*b));
	b->ad = attrib_new(root, nl, &err);
	if (!CHECK(b->ad != NULL, "attrib_new with sock_diag (%s)", err.msg))
		return false;
	b->ap = attrib_new(root, -1, &err);
	if (!CHECK(b->ap != NULL, "attrib_new with /proc/net (%s)", err.msg))
		return false;
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	b->af = attrib_new(root, nl, &err);
	if (!CHECK(b->af != NULL, "attrib_new without cache (%s)", err.msg))
		return false;
	attrib_set_cache(b->af, false);
	return true;
}

static void
close_both(struct both *b)
{
	identity_free(&b->d);
	identity_free(&b->p);
	identity_free(&b->f);
	attrib_free(b->ad);
	attrib_free(b->ap);
	attrib_free(b->af);
}

static void
lookup_both(struct both *b, int cfd)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);

	identity_free(&b->d);
	identity_free(&b->p);
	identity_free(&b->f);
	memset(&b->ed, 0, sizeof(b->ed));
	memset(&b->ep, 0, sizeof(b->ep));
	memset(&b->ef, 0, sizeof(b->ef));
	if (getpeername(cfd, (struct sockaddr *)&peer, &pl) < 0 ||
	    getsockname(cfd, (struct sockaddr *)&local, &ll) < 0) {
		CHECK(false, "getpeername/getsockname: %s", strerror(errno));
		return;
	}
	b->rd = attrib_lookup(b->ad, (struct sockaddr *)&peer, (struct sockaddr *)&local, &b->d, &b->ed);
	attrib_get_stats(b->ad, &b->sd);
	b->rp = attrib_lookup(b->ap, (struct sockaddr *)&peer, (struct sockaddr *)&local, &b->p, &b->ep);
	b->rf = attrib_lookup(b->af, (struct sockaddr *)&peer, (struct sockaddr *)&local, &b->f, &b->ef);
}

static bool
same_answer(int r1, const struct identity *x, int r2, const struct identity *y)
{
	bool same = r1 == r2 && x->pid == y->pid && x->host_pid == y->host_pid &&
	    x->ppid == y->ppid && strcmp(x->exe, y->exe) == 0 &&
	    strcmp(x->sha256, y->sha256) == 0 && x->nowners == y->nowners &&
	    x->nancestors == y->nancestors && strcmp(x->why, y->why) == 0;

	for (size_t i = 0; same && i < x->nancestors; i++)
		same = strcmp(x->ancestors[i], y->ancestors[i]) == 0;
	return same;
}

/*
 * The two methods must give the same answer, down to the ancestors, and
 * the process cache must not change it.
 */
static void
check_agree(const struct both *b)
{
	CHECK(same_answer(b->rd, &b->d, b->rp, &b->p),
	    "sock_diag and /proc/net agree (diag: %d %s pid %d/%zu owners \"%s\"; "
	    "proc: %d %s pid %d/%zu owners \"%s\")",
	    b->rd, b->d.exe, (int)b->d.pid, b->d.nowners, b->d.why,
	    b->rp, b->p.exe, (int)b->p.pid, b->p.nowners, b->p.why);
	CHECK(same_answer(b->rd, &b->d, b->rf, &b->f),
	    "the cache changes nothing (cached: %d %s pid %d/%zu owners \"%s\"; "
	    "every process read: %d %s pid %d/%zu owners \"%s\")",
	    b->rd, b->d.exe, (int)b->d.pid, b->d.nowners, b->d.why,
	    b->rf, b->f.exe, (int)b->f.pid, b->f.nowners, b->f.why);
}

/* Drop connections a failed scenario left queued, so they are not taken for the next one's. */
static void
drain(int lis)
{
	int fd;

	while ((fd = accept4(lis, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
		close(fd);
}

/* Accept the one pending connection on a listener. */
static int
take(int lis)
{
	struct pollfd p = { .fd = lis, .events = POLLIN };

	if (poll(&p, 1, 10000) != 1)
		return -1;
	return accept4(lis, NULL, NULL, SOCK_CLOEXEC);
}

/* ---- scenarios (each runs in R) -------------------------------------------------- */

struct plan {
	enum fam fam;
	int ready;
	int cmd;		/* commands from the test, or -1 */
	int tcmd;		/* commands for a second thread, or -1 */
	int unix_fd;		/* where to send the client fd, or -1 */
	const char *path;	/* an executable to run */
	int count;		/* idle processes */
};

/* R -> G: G connects, reports, hangs. */
static void
plant_one(void *arg, int ready)
{
	const struct plan *pl = arg;
	pid_t g = fork_child();

	if (g == 0) {
		if (dial_here(pl->fam, true) < 0) {
			say(ready, 'E');
			_exit(1);
		}
		say(ready, 'r');
		hang();
	}
}

/* R -> sh -> helper (this binary re-executed). */
static void
plant_sh(void *arg, int ready)
{
	pid_t s = fork_child();

	(void)arg;
	if (s == 0) {
		char cmd[128];

		if (dup2(ready, 7) < 0)
			_exit(1);
		snprintf(cmd, sizeof(cmd), "\"$0\" --helper 4 %d 7; exit 0", ntohs(addr4.sin_port));
		execl("/bin/sh", "sh", "-c", cmd, self_exe, (char *)NULL);
		say(ready, 'E');
		_exit(127);
	}
}

/* R -> G -> G2, both holding the socket and running this binary. */
static void
plant_same(void *arg, int ready)
{
	pid_t g = fork_child();

	(void)arg;
	if (g == 0) {
		if (dial_here(FAM4, true) < 0) {
			say(ready, 'E');
			_exit(1);
		}
		/* Start times are in clock ticks: make G2 visibly younger. */
		usleep(50000);
		if (fork_child() == 0) {
			say(ready, 'r');
			hang();
		}
		say(ready, 'r');
		hang();
	}
}

/* R -> G (this binary) -> G2 (/bin/sleep, the socket inherited). */
static void
plant_different(void *arg, int ready)
{
	pid_t g = fork_child();

	(void)arg;
	if (g == 0) {
		int fd = dial_here(FAM4, false), p[2];
		char c;

		if (fd < 0 || pipe2(p, O_CLOEXEC) < 0) {
			say(ready, 'E');
			_exit(1);
		}
		if (fork_child() == 0) {
			execl("/bin/sleep", "sleep", "1000", (char *)NULL);
			_exit(127);
		}
		close(p[1]);
		/* EOF once the exec closed the child's copy of the write end. */
		if (read(p[0], &c, 1) != 0)
			say(ready, 'E');
		say(ready, 'r');
		hang();
	}
}

/* R -> G: connects, reports, exits at once. */
static void
plant_exit(void *arg, int ready)
{
	pid_t g = fork_child();

	(void)arg;
	if (g == 0) {
		if (dial_here(FAM4, true) < 0)
			say(ready, 'E');
		else
			say(ready, 'r');
		_exit(0);
	}
}

/* R -> G: connects and hands a copy of its socket to the test (outside R). */
static void
plant_share_out(void *arg, int ready)
{
	const struct plan *pl = arg;
	pid_t g = fork_child();

	if (g == 0) {
		int fd = dial_here(FAM4, true);
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		char one = 'x';
		struct iovec iov = { .iov_base = &one, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			.msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		if (fd < 0) {
			say(ready, 'E');
			_exit(1);
		}
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(pl->unix_fd, &mh, 0) != 1)
			say(ready, 'E');
		say(ready, 'r');
		hang();
	}
}

/* R -> H; a thread T of H forks G; G connects.  G is listed under T only. */
struct thread_arg {
	int ready;
};

static void *
thread_fork(void *p)
{
	const struct thread_arg *ta = p;
	pid_t g = fork();

	if (g == 0) {
		if (dial_here(FAM4, true) < 0)
			say(ta->ready, 'E');
		else
			say(ta->ready, 'r');
		hang();
	}
	hang();
}

static void
plant_thread_child(void *arg, int ready)
{
	pid_t h = fork_child();

	(void)arg;
	if (h == 0) {
		static struct thread_arg ta;
		pthread_t t;

		ta.ready = ready;
		if (pthread_create(&t, NULL, thread_fork, &ta) != 0)
			say(ready, 'E');
		hang();
	}
}

/* R -> H; H's main thread exits, a second thread holds the connection. */
static void *
thread_dial(void *p)
{
	const struct thread_arg *ta = p;

	if (dial_here(FAM4, true) < 0)
		say(ta->ready, 'E');
	else
		say(ta->ready, 'r');
	hang();
}

static void
plant_leader_exit(void *arg, int ready)
{
	pid_t h = fork_child();

	(void)arg;
	if (h == 0) {
		static struct thread_arg ta;
		pthread_t t;

		ta.ready = ready;
		if (pthread_create(&t, NULL, thread_dial, &ta) != 0)
			say(ready, 'E');
		pthread_exit(NULL);
	}
}

/*
 * R -> G -> G2.  G connects, starts a thread with a fd table of its own
 * (clone without CLONE_FILES: the thread gets a copy, socket included),
 * forks G2 which execs /bin/sleep with the socket, then closes its own
 * copy.  Holders: G's thread (this binary) and G2 (sleep); only G2 is in a
 * main thread's table.
 */
static int
private_thread(void *arg)
{
	(void)arg;
	for (;;)
		syscall(SYS_pause);
	return 0;
}

static void
plant_private_table(void *arg, int ready)
{
	pid_t g = fork_child();

	(void)arg;
	if (g == 0) {
		size_t stack_len = 64 * 1024;
		char *stack = mmap(NULL, stack_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		int fd = dial_here(FAM4, false), p[2];
		char c;

		/* The pipe comes after the clone: a copy of its write end would never close. */
		if (fd < 0 || stack == MAP_FAILED ||
		    clone(private_thread, stack + stack_len,
		    CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_SYSVSEM, NULL) < 0 ||
		    pipe2(p, O_CLOEXEC) < 0) {
			say(ready, 'E');
			_exit(1);
		}
		if (fork_child() == 0) {
			execl("/bin/sleep", "sleep", "1000", (char *)NULL);
			_exit(127);
		}
		close(p[1]);
		if (read(p[0], &c, 1) != 0)
			say(ready, 'E');
		close(fd);
		say(ready, 'r');
		hang();
	}
}

/* R -> G, which keeps an unreaped child (a zombie) and connects. */
static void
plant_zombie(void *arg, int ready)
{
	pid_t g = fork_child();

	(void)arg;
	if (g == 0) {
		siginfo_t si;
		pid_t z = fork();

		if (z == 0)
			_exit(0);
		if (z < 0 || waitid(P_PID, (id_t)z, &si, WEXITED | WNOWAIT) < 0 ||
		    dial_here(FAM4, true) < 0)
			say(ready, 'E');
		else
			say(ready, 'r');
		hang();
	}
}

/* R -> G, which makes itself non-dumpable before connecting. */
static void
plant_undumpable(void *arg, int ready)
{
	pid_t g = fork_child();

	(void)arg;
	if (g == 0) {
		prctl(PR_SET_DUMPABLE, 0);
		if (dial_here(FAM4, true) < 0)
			say(ready, 'E');
		else
			say(ready, 'r');
		hang();
	}
}

/* R runs pl->path in helper mode on 'x', kills it on 'k'. */
static void
plant_runner(void *arg, int ready)
{
	const struct plan *pl = arg;
	pid_t h = -1;
	char c;

	while (read(pl->cmd, &c, 1) == 1) {
		if (c == 'x') {
			h = fork_child();
			if (h == 0) {
				char port[16], rfd[16];

				snprintf(port, sizeof(port), "%d", ntohs(addr4.sin_port));
				snprintf(rfd, sizeof(rfd), "%d", ready);
				fcntl(ready, F_SETFD, 0);
				execl(pl->path, pl->path, "--helper", "4", port, rfd, (char *)NULL);
				say(ready, 'E');
				_exit(127);
			}
		} else if (c == 'k' && h > 0) {
			kill(h, SIGKILL);
			waitpid(h, NULL, 0);
			h = -1;
			say(ready, 'k');
		}
	}
}

/* R -> pl->count idle processes, then G. */
static void
plant_crowd(void *arg, int ready)
{
	const struct plan *pl = arg;

	for (int i = 0; i < pl->count; i++)
		if (fork_child() == 0)
			hang();
	plant_one(arg, ready);
}


/* ---- helpers for the cache scenarios ------------------------------------------- */

static bool
send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char one = 'x';
	struct iovec iov = { .iov_base = &one, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == 1;
}

static int
recv_fd(int sock)
{
	char one, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &one, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf) };
	int fd = -1;

	if (recvmsg(sock, &mh, 0) == 1 && CMSG_FIRSTHDR(&mh))
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	return fd;
}

/*
 * Fork a child that execs /bin/sleep holding fd (and nothing else); return
 * once it has.  No parent-death signal: the child must outlive its parent
 * in the subreaper scenario (it dies with R's process group).
 */
static bool
spawn_sleep_with(int fd)
{
	int p[2];
	pid_t k;
	char c;
	bool ok;

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	k = fork();
	if (k == 0) {
		for (int i = 3; i < 1024; i++)
			if (i != fd && i != p[1])
				close(i);
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* EOF once the exec closed the child's copy of the write end. */
	ok = k > 0 && read(p[0], &c, 1) == 0;
	close(p[0]);
	return ok;
}

/* Hear n messages in any order; each tag of `tags` once. */
static bool
hear_all(int fd, const char *tags, struct ready *out)
{
	size_t n = strlen(tags);

	for (size_t i = 0; i < n; i++) {
		struct ready m;
		const char *at;

		if (!hear(fd, &m) || !(at = strchr(tags, m.tag)))
			return false;
		out[at - tags] = m;
	}
	return true;
}

/* Times task pid was switched onto a CPU, or -1. */
static long long
run_count(pid_t pid)
{
	char path[64], *buf;
	size_t len;
	struct werr err = { 0 };
	long long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if (read_file(path, 4096, &buf, &len, &err) < 0)
		return -1;
	{
		const char *p = buf;
		for (int field = 0; field < 2 && p; field++)
			if ((p = strchr(p, ' ')))
				p++;
		if (p)
			v = strtoll(p, NULL, 10);
	}
	free(buf);
	return v;
}

static void
write_cmd(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		CHECK(false, "command '%c': %s", c, strerror(errno));
}

/* ---- scenarios for the process cache ------------------------------------------- */

struct agent_thread {
	int cmd, ready;
};

/* B's second thread: dials on every command byte. */
static void *
agent_thread(void *p)
{
	const struct agent_thread *t = p;
	char c;

	while (read(t->cmd, &c, 1) == 1)
		say(t->ready, dial_here(FAM4, false) >= 0 ? 'r' : 'E');
	return NULL;
}

/*
 * R -> D, which waits for a descriptor on a socketpair, and R -> B (this
 * binary), which obeys the test's commands and answers each on the ready
 * pipe:
 *   d  dial a new connection (kept; inherited by children)
 *   f  fork a child that execs /bin/sleep holding B's newest connection
 *   s  send B's oldest connection to D, then close it
 * and whose second thread dials on each byte of pl->tcmd.  Between
 * commands every process sleeps, so each lookup after the first serves
 * them from the cache unless they ran.
 */
static void
plant_agent(void *arg, int ready)
{
	const struct plan *pl = arg;
	int sp[2];
	pid_t d, b;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		say(ready, 'E');
		return;
	}
	d = fork_child();
	if (d == 0) {
		int got;

		close(sp[0]);
		say(ready, 'q');
		got = recv_fd(sp[1]);
		say(ready, got >= 0 ? 'g' : 'E');
		hang();
	}
	b = fork_child();
	if (b == 0) {
		static struct agent_thread ta;
		int fds[64];
		size_t n = 0;
		pthread_t t;
		char c;

		close(sp[1]);
		ta.cmd = pl->tcmd;
		ta.ready = ready;
		if (pthread_create(&t, NULL, agent_thread, &ta) != 0)
			say(ready, 'E');
		say(ready, 'r');
		while (read(pl->cmd, &c, 1) == 1) {
			bool ok = false;

			if (c == 'd' && n < ARRAY_SIZE(fds)) {
				int fd = dial_here(FAM4, false);
				if ((ok = fd >= 0))
					fds[n++] = fd;
			} else if (c == 'f') {
				ok = n > 0 && spawn_sleep_with(fds[n - 1]);
			} else if (c == 's' && n > 0 && send_fd(sp[0], fds[0])) {
				close(fds[0]);
				memmove(fds, fds + 1, --n * sizeof(*fds));
				ok = true;
			}
			say(ready, ok ? 'r' : 'E');
		}
		_exit(0);
	}
	close(sp[0]);
	close(sp[1]);
}

/* R -> A -> B, B made by clone(CLONE_FILES) without CLONE_THREAD: two processes, one fd table. */
static int
sharer_main(void *arg)
{
	const struct plan *pl = arg;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	say(pl->ready, 'r');
	while (read(pl->cmd, &c, 1) == 1)
		say(pl->ready, dial_here(FAM4, false) >= 0 ? 'r' : 'E');
	_exit(0);
}

static void
plant_shared_table(void *arg, int ready)
{
	struct plan *pl = arg;
	pid_t a = fork_child();

	if (a == 0) {
		static char stack[64 * 1024] __attribute__((aligned(16)));

		pl->ready = ready;	/* this process's copy of the plan */
		if (clone(sharer_main, stack + sizeof(stack), CLONE_FILES | SIGCHLD, pl) < 0)
			say(ready, 'E');
		say(ready, 'a');
		hang();
	}
}

/*
 * R -> O, which waits for a descriptor; R -> S, a child subreaper that
 * ignores SIGCHLD and sleeps -> P (this binary): P connects, forks Q,
 * which execs /bin/sleep with the socket, sends a copy to O, and exits on
 * 'x'.  Q is then reparented to S, whose children list changes although S
 * never runs.
 */
static void
plant_subreaper(void *arg, int ready)
{
	const struct plan *pl = arg;
	int sp[2];
	pid_t o, sr;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		say(ready, 'E');
		return;
	}
	o = fork_child();
	if (o == 0) {
		int got;

		close(sp[0]);
		say(ready, 'q');
		got = recv_fd(sp[1]);
		say(ready, got >= 0 ? 'g' : 'E');
		hang();
	}
	sr = fork_child();
	if (sr == 0) {
		close(sp[1]);
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		signal(SIGCHLD, SIG_IGN);
		if (fork_child() == 0) {
			int fd = dial_here(FAM4, false);
			char c;

			if (fd < 0 || !spawn_sleep_with(fd) || !send_fd(sp[0], fd))
				say(ready, 'E');
			else
				say(ready, 'r');
			if (read(pl->cmd, &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
		say(ready, 's');
		hang();
	}
	close(sp[0]);
	close(sp[1]);
}

/* A loop that keeps the CPU busy for about ns nanoseconds. */
static void
spin(uint64_t ns)
{
	uint64_t until = now_ns() + ns;

	while (now_ns() < until)
		;
}

static void *
busy_thread(void *p)
{
	(void)p;
	for (;;) {
		spin(300000);
		usleep(200);
	}
	return NULL;
}

/*
 * R -> pl->count idle processes, R -> Z (spins forever) and R -> W, which
 * alternates running and short sleeps, as does a second thread of it, and
 * connects 20 times meanwhile; then, on a command, forks /bin/sleep
 * holding its last connection.  W is sometimes caught asleep, so it is sometimes cached and
 * runs again right after.
 */
#define BUSY_DIALS 20

static void
plant_busy(void *arg, int ready)
{
	const struct plan *pl = arg;
	pid_t w;

	for (int i = 0; i < pl->count; i++)
		if (fork_child() == 0)
			hang();
	if (fork_child() == 0)
		for (;;)
			spin(1000000000);
	w = fork_child();
	if (w == 0) {
		pthread_t t;
		int last = -1;
		char c;

		if (pthread_create(&t, NULL, busy_thread, NULL) != 0)
			say(ready, 'E');
		for (int k = 0; k < BUSY_DIALS; k++) {
			spin(1000000);
			usleep(k % 2 ? 1000 : 100);
			last = dial_here(FAM4, false);
			say(ready, last >= 0 ? 'r' : 'E');
		}
		if (read(pl->cmd, &c, 1) == 1)
			say(ready, spawn_sleep_with(last) ? 'r' : 'E');
		for (;;)
			spin(1000000000);
	}
}

/* R -> pl->count idle processes; then R says so. */
static void
plant_idle(void *arg, int ready)
{
	const struct plan *pl = arg;

	for (int i = 0; i < pl->count; i++)
		if (fork_child() == 0)
			hang();
	say(ready, 'i');
}

/* ---- the tests ------------------------------------------------------------------ */

static void
test_api(void)
{
	struct werr err = { 0 };
	struct attrib *a;
	struct identity id;
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(1) };

	begin("api");
	CHECK(attrib_new(0, -1, &err) == NULL, "init pid 0 is refused (%s)", err.msg);
	CHECK(attrib_new(INT_MAX, -1, &err) == NULL, "a pid that does not exist is refused (%s)",
	    err.msg);
	a = attrib_new(getpid(), -1, &err);
	if (!CHECK(a != NULL, "attrib_new on this process"))
		return;
	CHECK_INT(attrib_lookup(a, (struct sockaddr *)&su, (struct sockaddr *)&s4, &id, &err), -1);
	CHECK_HAS(id.why, "not TCP");
	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT(attrib_lookup(a, (struct sockaddr *)&s4, (struct sockaddr *)&s4, &id, &err), -1);
	CHECK_HAS(id.why, "not found");
	identity_free(&id);
	attrib_free(a);
	attrib_free(NULL);
}

static void
test_hash_file(void)
{
	char hex[SHA256_HEX_LEN + 1], want[SHA256_HEX_LEN + 1];
	struct werr err = { 0 };
	int fd;

	begin("sha256_file_fd");
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK_INT(sha256_file_fd(fd, hex, &err), 0);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	close(fd);
	fd = open(self_exe, O_RDONLY | O_CLOEXEC);
	CHECK_INT(sha256_file_fd(fd, hex, &err), 0);
	hash_file(self_exe, want);
	CHECK_STR(hex, want);
	close(fd);
	fd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(sha256_file_fd(fd, hex, &err), -1);
	CHECK(err.code == EISDIR, "a directory fails with EISDIR (%s)", err.msg);
	close(fd);
}

/* Run a one-connection scenario and look the connection up both ways. */
static bool
run(struct root *r, struct both *b, plant_fn plant, void *arg, int nready, struct ready *msgs,
    int lis, int *cfd)
{
	*cfd = -1;
	memset(b, 0, sizeof(*b));
	drain(lis4);
	if (lis6 >= 0)
		drain(lis6);
	if (!start_root(r, plant, arg))
		return CHECK(false, "start the tree");
	for (int i = 0; i < nready; i++)
		if (!CHECK(hear(r->ready, &msgs[i]) && msgs[i].tag == 'r', "helper %d ready", i))
			return false;
	if (!CHECK((*cfd = take(lis)) >= 0, "accept"))
		return false;
	if (!open_both(b, r->pid))
		return false;
	lookup_both(b, *cfd);
	check_agree(b);
	return true;
}

static void
finish(struct root *r, struct both *b, int cfd)
{
	close_both(b);
	if (cfd >= 0)
		close(cfd);
	stop_root(r);
}

static void
test_single(enum fam fam, const char *name)
{
	struct plan pl = { .fam = fam };
	struct root r;
	struct both b;
	struct ready m;
	int cfd;

	begin(name);
	if (fam == FAM6 && lis6 < 0) {
		skip("no IPv6 loopback");
		return;
	}
	if (run(&r, &b, plant_one, &pl, 1, &m, fam == FAM6 ? lis6 : lis4, &cfd)) {
		CHECK_INT(b.rd, 0);
		CHECK_STR(b.d.why, "");
		CHECK_STR(b.d.exe, self_exe);
		CHECK_STR(b.d.sha256, self_sha);
		CHECK_INT(b.d.host_pid, m.pid);
		CHECK_INT(b.d.pid, m.pid);	/* no pid namespace here */
		CHECK_INT(b.d.ppid, r.pid);
		CHECK_INT(b.d.nowners, 1);
		CHECK_INT(b.d.nancestors, 0);
	}
	finish(&r, &b, cfd);
}

static void
test_ancestors(void)
{
	char sh[PATH_MAX];
	struct root r;
	struct both b;
	struct ready m;
	int cfd;

	begin("ancestors: R -> /bin/sh -> helper");
	if (!realpath("/bin/sh", sh)) {
		skip("no /bin/sh");
		return;
	}
	if (run(&r, &b, plant_sh, NULL, 1, &m, lis4, &cfd)) {
		CHECK_INT(b.rd, 0);
		CHECK_STR(b.d.exe, self_exe);
		CHECK_STR(b.d.sha256, self_sha);
		CHECK_INT(b.d.host_pid, m.pid);
		CHECK_INT(b.d.ppid, m.ppid);
		CHECK(m.ppid != r.pid, "the helper's parent is the shell, not R");
		CHECK_INT(b.d.nancestors, 1);
		if (b.d.nancestors == 1)
			CHECK_STR(b.d.ancestors[0], sh);
	}
	finish(&r, &b, cfd);
}

static void
test_same_binary(void)
{
	struct root r;
	struct both b;
	struct ready m[2];
	int cfd;

	begin("two owners, same binary");
	if (run(&r, &b, plant_same, NULL, 2, m, lis4, &cfd)) {
		pid_t child = m[0].ppid == m[1].pid ? m[0].pid : m[1].pid;
		CHECK_INT(b.rd, 0);
		CHECK_INT(b.d.nowners, 2);
		CHECK_STR(b.d.exe, self_exe);
		CHECK_INT(b.d.host_pid, child);	/* the most recently started */
		CHECK_INT(b.d.nancestors, 1);
		if (b.d.nancestors == 1)
			CHECK_STR(b.d.ancestors[0], self_exe);
	}
	finish(&r, &b, cfd);
}

static void
test_different_binaries(void)
{
	char sleep_path[PATH_MAX];
	struct root r;
	struct both b;
	struct ready m;
	int cfd;

	begin("two owners, different binaries");
	if (!realpath("/bin/sleep", sleep_path)) {
		skip("no /bin/sleep");
		return;
	}
	if (run(&r, &b, plant_different, NULL, 1, &m, lis4, &cfd)) {
		char want[PATH_MAX + 32];

		CHECK_INT(b.rd, -1);
		CHECK_STR(b.ed.msg, "");
		CHECK_HAS(b.d.why, "socket shared by processes running different binaries: ");
		snprintf(want, sizeof(want), "%s (pid %d)", self_exe, (int)m.pid);
		CHECK_HAS(b.d.why, want);
		CHECK_HAS(b.d.why, sleep_path);
		CHECK_STR(b.d.exe, self_exe);	/* the first owner */
		CHECK_INT(b.d.host_pid, m.pid);
		CHECK_INT(b.d.nowners, 2);
	}
	finish(&r, &b, cfd);
}

static void
test_owner_exited(void)
{
	struct root r;
	struct both b = { 0 };
	struct ready m;
	int cfd;

	begin("owner exited");
	if (!start_root(&r, plant_exit, NULL) ||
	    !CHECK(hear(r.ready, &m) && m.tag == 'r', "helper ready") ||
	    !CHECK(wait_gone(m.pid), "helper gone")) {
		stop_root(&r);
		return;
	}
	cfd = take(lis4);
	if (CHECK(cfd >= 0, "accept") && open_both(&b, r.pid)) {
		lookup_both(&b, cfd);
		check_agree(&b);
		CHECK_INT(b.rd, -1);
		CHECK_STR(b.ed.msg, "");
		CHECK_STR(b.d.why, "no process in the sandbox owns the connection");
		CHECK_INT(b.d.nowners, 0);
	}
	finish(&r, &b, cfd);
}

static void
test_outside_holder(void)
{
	struct plan pl = { .unix_fd = -1 };
	struct root r;
	struct both b;
	struct ready m;
	int sp[2], cfd, held = -1;

	begin("a process outside the tree holds a copy");
	if (!CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0, "socketpair"))
		return;
	pl.unix_fd = sp[1];
	if (run(&r, &b, plant_share_out, &pl, 1, &m, lis4, &cfd)) {
		char one, cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = &one, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			.msg_controllen = sizeof(cbuf) };

		if (recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC) == 1 && CMSG_FIRSTHDR(&mh))
			memcpy(&held, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		CHECK(held >= 0, "this process holds a copy of the client socket");
		lookup_both(&b, cfd);
		check_agree(&b);
		CHECK_INT(b.rd, 0);
		CHECK_INT(b.d.nowners, 1);
		CHECK_INT(b.d.host_pid, m.pid);
		kill(m.pid, SIGKILL);
		CHECK(wait_gone(m.pid), "the owner in the tree is gone");
		lookup_both(&b, cfd);
		check_agree(&b);
		CHECK_INT(b.rd, -1);
		CHECK_STR(b.d.why, "no process in the sandbox owns the connection");
	}
	if (held >= 0)
		close(held);
	close(sp[0]);
	close(sp[1]);
	finish(&r, &b, cfd);
}

static bool
children_list(pid_t pid, pid_t tid, pid_t want)
{
	char path[64], *buf;
	size_t len;
	struct werr err = { 0 };
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)tid);
	if (read_file(path, 1 << 20, &buf, &len, &err) < 0)
		return false;
	for (char *p = buf; *p;) {
		uint64_t v = 0;
		while (*p >= '0' && *p <= '9')
			v = v * 10 + (uint64_t)(*p++ - '0');
		if ((pid_t)v == want)
			found = true;
		while (*p == ' ')
			p++;
	}
	free(buf);
	return found;
}

static void
test_thread_child(void)
{
	struct root r;
	struct both b;
	struct ready m;
	int cfd;

	begin("a child forked by a non-main thread");
	if (run(&r, &b, plant_thread_child, NULL, 1, &m, lis4, &cfd)) {
		CHECK(!children_list(m.ppid, m.ppid, m.pid),
		    "the child is not listed under the main thread");
		CHECK_INT(b.rd, 0);
		CHECK_INT(b.d.host_pid, m.pid);
		CHECK_INT(b.d.ppid, m.ppid);
		CHECK_STR(b.d.exe, self_exe);
		CHECK_INT(b.d.nancestors, 1);
	}
	finish(&r, &b, cfd);
}

static void
test_leader_exited(void)
{
	struct root r;
	struct both b;
	struct ready m;
	int cfd;

	begin("main thread exited, another thread holds the socket");
	if (run(&r, &b, plant_leader_exit, NULL, 1, &m, lis4, &cfd)) {
		CHECK_INT(b.rd, 0);
		CHECK_STR(b.d.why, "");
		CHECK_INT(b.d.host_pid, m.pid);	/* getpid() in a thread: the tgid */
		CHECK_STR(b.d.exe, self_exe);
		CHECK_STR(b.d.sha256, self_sha);
	}
	finish(&r, &b, cfd);
}

static void
test_undumpable(void)
{
	struct root r;
	struct both b;
	struct ready m;
	int cfd;

	begin(geteuid() == 0 ? "non-dumpable owner, as root" : "non-dumpable owner, not root");
	if (run(&r, &b, plant_undumpable, NULL, 1, &m, lis4, &cfd)) {
		if (geteuid() == 0) {
			CHECK_INT(b.rd, 0);
			CHECK_INT(b.d.host_pid, m.pid);
		} else {
			CHECK_INT(b.rd, -1);
			CHECK_STR(b.ed.msg, "");
			CHECK_HAS(b.d.why, "permission denied");
		}
	}
	finish(&r, &b, cfd);
}

static void
test_private_table(void)
{
	char sleep_path[PATH_MAX];
	struct root r;
	struct both b;
	struct ready m;
	int cfd;

	begin("a thread with a fd table of its own");
	if (!realpath("/bin/sleep", sleep_path)) {
		skip("no /bin/sleep");
		return;
	}
	if (run(&r, &b, plant_private_table, NULL, 1, &m, lis4, &cfd)) {
		char want[PATH_MAX + 32];

		CHECK_INT(b.rd, -1);
		CHECK_HAS(b.d.why, "socket shared by processes running different binaries: ");
		snprintf(want, sizeof(want), "%s (pid %d)", self_exe, (int)m.pid);
		CHECK_HAS(b.d.why, want);
		CHECK_HAS(b.d.why, sleep_path);
		CHECK_INT(b.d.nowners, 2);
	}
	finish(&r, &b, cfd);
}

static void
test_zombie(void)
{
	struct root r;
	struct both b;
	struct ready m;
	int cfd;

	begin("a zombie in the tree");
	if (run(&r, &b, plant_zombie, NULL, 1, &m, lis4, &cfd)) {
		CHECK_INT(b.rd, 0);
		CHECK_STR(b.d.why, "");
		CHECK_INT(b.d.host_pid, m.pid);
	}
	finish(&r, &b, cfd);
}


/* The cache serves idle processes, and notices every kind of change. */
static void
test_cache_changes(void)
{
	struct plan pl = { .cmd = -1, .tcmd = -1 };
	struct both b = { 0 };
	struct root r;
	struct ready m[2];
	int cmd[2], tcmd[2], c1 = -1, c2 = -1, c3 = -1;
	pid_t bpid, dpid;

	begin("cache: the tables of sleeping processes change between lookups");
	if (!realpath("/bin/sleep", (char[PATH_MAX]){ 0 })) {
		skip("no /bin/sleep");
		return;
	}
	if (!CHECK(pipe2(cmd, O_CLOEXEC) == 0 && pipe2(tcmd, O_CLOEXEC) == 0, "pipes"))
		return;
	pl.cmd = cmd[0];
	pl.tcmd = tcmd[0];
	drain(lis4);
	if (!start_root(&r, plant_agent, &pl)) {
		CHECK(false, "start the tree");
		return;
	}
	close(cmd[0]);
	close(tcmd[0]);
	if (!CHECK(hear_all(r.ready, "rq", m), "B and D ready") || !open_both(&b, r.pid))
		goto out;
	bpid = m[0].pid;
	dpid = m[1].pid;

	write_cmd(cmd[1], 'd');
	if (!CHECK(hear(r.ready, m) && m[0].tag == 'r' && (c1 = take(lis4)) >= 0, "B connects"))
		goto out;
	lookup_both(&b, c1);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_INT(b.d.host_pid, bpid);
	/*
	 * A process caught on the CPU (B right after answering) is read
	 * again at the next lookup; once all sleep, nothing is read.
	 */
	for (int k = 0; k < 5; k++) {
		lookup_both(&b, c1);
		check_agree(&b);
		CHECK_INT(b.d.host_pid, bpid);
		if (!b.sd.cache || b.sd.read == 0)
			break;
		usleep(20000);
	}
	if (b.sd.cache)
		CHECK(b.sd.read == 0 && b.sd.reused == b.sd.walked,
		    "nothing ran: every process served from the cache (%zu of %zu)", b.sd.reused,
		    b.sd.walked);

	/* B runs and connects again. */
	write_cmd(cmd[1], 'd');
	if (!CHECK(hear(r.ready, m) && m[0].tag == 'r' && (c2 = take(lis4)) >= 0, "B connects again"))
		goto out;
	lookup_both(&b, c2);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_INT(b.d.host_pid, bpid);
	if (b.sd.cache)
		CHECK(b.sd.read == 1, "only B, which ran, is read again (%zu read)", b.sd.read);

	/* A child of B execs sleep with the newest connection. */
	write_cmd(cmd[1], 'f');
	if (!CHECK(hear(r.ready, m) && m[0].tag == 'r', "B forked sleep"))
		goto out;
	lookup_both(&b, c2);
	check_agree(&b);
	CHECK_INT(b.rd, -1);
	CHECK_HAS(b.d.why, "different binaries");
	CHECK_INT(b.d.nowners, 2);
	lookup_both(&b, c1);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_INT(b.d.nowners, 1);

	/* B hands its first connection to D (asleep in recvmsg) and closes it. */
	write_cmd(cmd[1], 's');
	if (!CHECK(hear_all(r.ready, "rg", m), "B sent, D received"))
		goto out;
	lookup_both(&b, c1);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_INT(b.d.host_pid, dpid);
	CHECK_INT(b.d.nowners, 1);

	/* B's second thread connects while its main thread sleeps. */
	write_cmd(tcmd[1], 'd');
	if (!CHECK(hear(r.ready, m) && m[0].tag == 'r' && (c3 = take(lis4)) >= 0,
	    "B's thread connects"))
		goto out;
	lookup_both(&b, c3);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_INT(b.d.host_pid, bpid);
out:
	close_both(&b);
	for (int *c = (int[]){ c1, c2, c3 }, k = 0; k < 3; k++)
		if (c[k] >= 0)
			close(c[k]);
	stop_root(&r);
	close(cmd[1]);
	close(tcmd[1]);
}

/* Two processes, one fd table: the one that did not run holds the new socket too. */
static void
test_cache_shared_table(void)
{
	struct plan pl = { .cmd = -1 };
	struct both b = { 0 };
	struct root r;
	struct ready m[2];
	int cmd[2], c1 = -1, c2 = -1;
	long long before;
	pid_t apid, bpid;

	begin("cache: a process sharing its fd table with another (clone CLONE_FILES)");
	if (!CHECK(pipe2(cmd, O_CLOEXEC) == 0, "pipe"))
		return;
	pl.cmd = cmd[0];
	drain(lis4);
	if (!start_root(&r, plant_shared_table, &pl)) {
		CHECK(false, "start the tree");
		return;
	}
	close(cmd[0]);
	if (!CHECK(hear_all(r.ready, "ar", m), "A and B ready") || !open_both(&b, r.pid))
		goto out;
	apid = m[0].pid;
	bpid = m[1].pid;
	write_cmd(cmd[1], 'd');
	if (!CHECK(hear(r.ready, m) && m[0].tag == 'r' && (c1 = take(lis4)) >= 0, "B connects"))
		goto out;
	lookup_both(&b, c1);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_INT(b.d.nowners, 2);
	lookup_both(&b, c1);
	check_agree(&b);
	CHECK_INT(b.d.nowners, 2);
	before = run_count(apid);
	write_cmd(cmd[1], 'd');
	if (!CHECK(hear(r.ready, m) && m[0].tag == 'r' && (c2 = take(lis4)) >= 0, "B connects again"))
		goto out;
	lookup_both(&b, c2);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_INT(b.d.nowners, 2);
	CHECK(b.d.host_pid == apid || b.d.host_pid == bpid, "named A or B (%d)", (int)b.d.host_pid);
	CHECK(run_count(apid) == before, "A did not run meanwhile (the case being tested)");
out:
	close_both(&b);
	if (c1 >= 0)
		close(c1);
	if (c2 >= 0)
		close(c2);
	stop_root(&r);
	close(cmd[1]);
}

/* An orphan reparented to a subreaper that never runs is still found. */
static void
test_cache_subreaper(void)
{
	char sleep_path[PATH_MAX], want[PATH_MAX + 32];
	struct plan pl = { .cmd = -1 };
	struct both b = { 0 };
	struct root r;
	struct ready m[4];
	int cmd[2], c = -1;
	long long before;

	begin("cache: an orphan reparented to a subreaper that does not run");
	if (!realpath("/bin/sleep", sleep_path)) {
		skip("no /bin/sleep");
		return;
	}
	if (!CHECK(pipe2(cmd, O_CLOEXEC) == 0, "pipe"))
		return;
	pl.cmd = cmd[0];
	drain(lis4);
	if (!start_root(&r, plant_subreaper, &pl)) {
		CHECK(false, "start the tree");
		return;
	}
	close(cmd[0]);
	/* q: O ready, s: S ready, r: P connected and shared, g: O received. */
	if (!CHECK(hear_all(r.ready, "qsrg", m), "O, S and P ready") ||
	    !CHECK((c = take(lis4)) >= 0, "accept") || !open_both(&b, r.pid))
		goto out;
	lookup_both(&b, c);
	check_agree(&b);
	CHECK_INT(b.rd, -1);
	CHECK_INT(b.d.nowners, 3);
	lookup_both(&b, c);
	check_agree(&b);
	CHECK_INT(b.d.nowners, 3);
	before = run_count(m[1].pid);
	write_cmd(cmd[1], 'x');
	if (!CHECK(wait_gone(m[2].pid), "P exited"))
		goto out;
	lookup_both(&b, c);
	check_agree(&b);
	CHECK_INT(b.rd, -1);
	CHECK_INT(b.d.nowners, 2);
	CHECK_HAS(b.d.why, sleep_path);
	snprintf(want, sizeof(want), "%s (pid %d)", self_exe, (int)m[0].pid);
	CHECK_HAS(b.d.why, want);
	CHECK(run_count(m[1].pid) == before, "the subreaper did not run (the case being tested)");
out:
	close_both(&b);
	if (c >= 0)
		close(c);
	stop_root(&r);
	close(cmd[1]);
}

/* A process that keeps running while it connects: never served stale. */
static void
test_cache_busy(void)
{
	struct plan pl = { .count = 20, .cmd = -1 };
	struct both b = { 0 };
	struct root r;
	struct ready m;
	int c = -1, good = 0, agree = 0, reused = 0, cmd[2];
	pid_t w = 0;

	begin("cache: a busy process connecting while lookups run");
	if (!realpath("/bin/sleep", (char[PATH_MAX]){ 0 })) {
		skip("no /bin/sleep");
		return;
	}
	if (!CHECK(pipe2(cmd, O_CLOEXEC) == 0, "pipe"))
		return;
	pl.cmd = cmd[0];
	drain(lis4);
	if (!start_root(&r, plant_busy, &pl)) {
		CHECK(false, "start the tree");
		return;
	}
	close(cmd[0]);
	if (!open_both(&b, r.pid))
		goto out;
	for (int k = 0; k < BUSY_DIALS; k++) {
		if (!hear(r.ready, &m) || m.tag != 'r' || (w && m.pid != w)) {
			CHECK(false, "W connected (%d)", k);
			goto out;
		}
		w = m.pid;
		if (c >= 0)
			close(c);
		if ((c = take(lis4)) < 0) {
			CHECK(false, "accept");
			goto out;
		}
		lookup_both(&b, c);
		if (!(b.rd == 0 && b.d.host_pid == w && b.rp == 0 && b.rf == 0))
			printf("# connection %d: diag %d \"%s\" (%s), proc %d \"%s\", full %d \"%s\"\n", k,
			    b.rd, b.d.why, b.ed.msg, b.rp, b.p.why, b.rf, b.f.why);
		good += b.rd == 0 && b.d.host_pid == w && b.rp == 0 && b.rf == 0;
		agree += same_answer(b.rd, &b.d, b.rf, &b.f);
		reused += b.sd.reused > 0;
	}
	CHECK(good == BUSY_DIALS, "each of W's %d connections is W's (%d were)", BUSY_DIALS, good);
	CHECK(agree == BUSY_DIALS, "the cache changed no answer (%d of %d agree)", agree, BUSY_DIALS);
	if (b.sd.cache)
		CHECK(reused == BUSY_DIALS - 1, "after the first lookup, idle processes were served "
		    "from the cache (%d lookups of %d)", reused, BUSY_DIALS - 1);
	write_cmd(cmd[1], 'f');
	if (!CHECK(hear(r.ready, &m) && m.tag == 'r', "W forked sleep"))
		goto out;
	lookup_both(&b, c);
	check_agree(&b);
	CHECK_INT(b.rd, -1);
	CHECK_HAS(b.d.why, "different binaries");
out:
	close_both(&b);
	if (c >= 0)
		close(c);
	stop_root(&r);
	close(cmd[1]);
}

/* ---- warden exec: a process that joined the sandbox's pid namespace ------------ */

/* R as the init of a new pid namespace, in a new user namespace too when not root. */
static bool
start_ns_root(struct root *r, plant_fn plant, void *arg, bool userns, pid_t *holder)
{
	int p[2], q[2];
	pid_t rpid = 0;
	struct pollfd pf;

	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(q, O_CLOEXEC) < 0)
		return false;
	*holder = fork_child();
	if (*holder == 0) {
		pid_t rr;

		close(p[0]);
		close(q[0]);
		if (unshare(CLONE_NEWPID | (userns ? CLONE_NEWUSER : 0)) < 0)
			_exit(2);
		rr = fork();
		if (rr == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			signal(SIGPIPE, SIG_IGN);
			close(q[1]);
			plant(arg, p[1]);
			for (;;)
				if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
					pause();
		}
		if (rr < 0 || write(q[1], &rr, sizeof(rr)) != sizeof(rr))
			_exit(1);
		waitpid(rr, NULL, 0);
		_exit(0);
	}
	close(p[1]);
	close(q[1]);
	pf.fd = q[0];
	pf.events = POLLIN;
	if (*holder < 0 || poll(&pf, 1, 10000) != 1 || read(q[0], &rpid, sizeof(rpid)) != sizeof(rpid)) {
		close(q[0]);
		close(p[0]);
		if (*holder > 0) {
			kill(*holder, SIGKILL);
			waitpid(*holder, NULL, 0);
		}
		return false;
	}
	close(q[0]);
	r->pid = rpid;
	r->ready = p[0];
	return true;
}

/*
 * What `warden exec` does: enter the namespaces of init through a pidfd,
 * fork.  J is in the sandbox's pid namespace, its parent T is not.  J
 * connects, then on 'k' forks K, which connects and on 'f' forks
 * /bin/sleep holding K's connection.
 */
static pid_t
start_joiner(pid_t init, int ready, int cmd, bool userns)
{
	pid_t t = fork_child();

	if (t == 0) {
		int pfd = (int)syscall(SYS_pidfd_open, init, 0);
		struct ready h = { .tag = 'h', .ppid = getpid() };
		pid_t j;

		if (pfd < 0 || setns(pfd, CLONE_NEWPID | (userns ? CLONE_NEWUSER : 0)) < 0) {
			say(ready, 'E');
			_exit(1);
		}
		j = fork_child();
		if (j == 0) {
			int fd = dial_here(FAM4, false), kfd;
			char c;

			say(ready, fd >= 0 ? 'r' : 'E');
			if (read(cmd, &c, 1) != 1)
				_exit(0);
			if (fork_child() != 0)
				hang();
			kfd = dial_here(FAM4, false);
			say(ready, kfd >= 0 ? 'r' : 'E');
			if (read(cmd, &c, 1) == 1)
				say(ready, spawn_sleep_with(kfd) ? 'r' : 'E');
			hang();
		}
		h.pid = j;
		if (write(ready, &h, sizeof(h)) != sizeof(h))
			_exit(1);
		waitpid(j, NULL, 0);
		_exit(0);
	}
	return t;
}

static void
test_joined(void)
{
	bool userns = geteuid() != 0;
	struct plan pl = { .count = 5 };
	struct both b = { 0 };
	struct root r = { .ready = -1 };
	struct ready m[2];
	pid_t holder = -1, t = -1, jhost, jns;
	int jr[2] = { -1, -1 }, cmd[2] = { -1, -1 }, c1 = -1, c2 = -1;

	begin(userns ? "warden exec: a process that joined the pid namespace (user namespace)" :
	    "warden exec: a process that joined the pid namespace");
	if (!realpath("/bin/sleep", (char[PATH_MAX]){ 0 })) {
		skip("no /bin/sleep");
		return;
	}
	if (!CHECK(pipe2(jr, O_CLOEXEC) == 0 && pipe2(cmd, O_CLOEXEC) == 0, "pipes"))
		return;
	drain(lis4);
	if (!start_ns_root(&r, plant_idle, &pl, userns, &holder)) {
		skip(userns ? "cannot create a user and pid namespace" : "cannot create a pid namespace");
		goto out;
	}
	if (!CHECK(hear(r.ready, m) && m[0].tag == 'i', "R planted") || !open_both(&b, r.pid))
		goto out;
	t = start_joiner(r.pid, jr[1], cmd[0], userns);
	if (!CHECK(t > 0 && hear_all(jr[0], "rh", m), "J joined and connected") ||
	    !CHECK((c1 = take(lis4)) >= 0, "accept"))
		goto out;
	jns = m[0].pid;
	jhost = m[1].pid;
	CHECK(jns != jhost && m[0].ppid == 0, "J sees itself as pid %d with no parent (host pid %d)",
	    (int)jns, (int)jhost);
	lookup_both(&b, c1);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_STR(b.d.why, "");
	CHECK_INT(b.d.host_pid, jhost);
	CHECK_INT(b.d.pid, jns);
	CHECK_INT(b.d.ppid, 0);	/* the parent is outside: never named */
	CHECK_INT(b.d.nancestors, 0);
	CHECK_STR(b.d.exe, self_exe);
	CHECK_INT(b.sd.roots, 1);
	lookup_both(&b, c1);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_INT(b.d.host_pid, jhost);
	CHECK(b.sd.walked == (size_t)pl.count + 2,
	    "found again through the remembered root, in one walk (%zu processes met)", b.sd.walked);

	write_cmd(cmd[1], 'k');
	if (!CHECK(hear(jr[0], m) && m[0].tag == 'r' && (c2 = take(lis4)) >= 0, "K connects"))
		goto out;
	lookup_both(&b, c2);
	check_agree(&b);
	CHECK_INT(b.rd, 0);
	CHECK_INT(b.d.pid, m[0].pid);
	CHECK_INT(b.d.ppid, jns);
	CHECK_INT(b.d.nancestors, 1);
	if (b.d.nancestors == 1)
		CHECK_STR(b.d.ancestors[0], self_exe);

	write_cmd(cmd[1], 'f');
	if (!CHECK(hear(jr[0], m) && m[0].tag == 'r', "K forked sleep"))
		goto out;
	lookup_both(&b, c2);
	check_agree(&b);
	CHECK_INT(b.rd, -1);
	CHECK_HAS(b.d.why, "different binaries");
out:
	close_both(&b);
	if (c1 >= 0)
		close(c1);
	if (c2 >= 0)
		close(c2);
	if (t > 0) {
		kill(t, SIGKILL);
		waitpid(t, NULL, 0);
	}
	if (holder > 0) {
		if (r.ready >= 0) {
			kill(r.pid, SIGKILL);
			close(r.ready);
		}
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
	}
	for (int k = 0; k < 2; k++) {
		if (jr[k] >= 0)
			close(jr[k]);
		if (cmd[k] >= 0)
			close(cmd[k]);
	}
}

static bool
copy_file(const char *from, const char *to)
{
	char *buf;
	size_t len;
	struct werr err = { 0 };
	int fd;
	bool ok;

	if (read_file(from, 1u << 30, &buf, &len, &err) < 0)
		return false;
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ok = fd >= 0 && write_all(fd, buf, len) == 0;
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

/* One step of the runner scenario: start the copy, accept, look up. */
static bool
runner_step(struct root *r, int cmd, struct both *b, int *cfd, struct ready *m)
{
	if (write(cmd, "x", 1) != 1 || !hear(r->ready, m))
		return CHECK(false, "runner started the helper");
	if (m->tag == 'E')
		return false;
	if (!CHECK((*cfd = take(lis4)) >= 0, "accept"))
		return false;
	lookup_both(b, *cfd);
	check_agree(b);
	return true;
}

static bool
runner_stop(struct root *r, int cmd, int *cfd)
{
	struct ready m;

	close(*cfd);
	*cfd = -1;
	return CHECK(write(cmd, "k", 1) == 1 && hear(r->ready, &m) && m.tag == 'k',
	    "runner stopped the helper");
}

static void
test_pins(void)
{
	const char *bases[] = { getenv("TMPDIR"), "/tmp", "/var/tmp", "/dev/shm" };
	char dir[PATH_MAX] = "", path[PATH_MAX + 16], other[PATH_MAX + 16], first[SHA256_HEX_LEN + 1];
	struct plan pl = { .cmd = -1 };
	struct root r;
	struct both b;
	struct ready m;
	int cmd[2], cfd = -1, fd;

	begin("content pinned per path");
	for (size_t i = 0; i < ARRAY_SIZE(bases) && !dir[0]; i++) {
		if (!bases[i] || !*bases[i])
			continue;
		snprintf(dir, sizeof(dir), "%s/warden-attrib-XXXXXX", bases[i]);
		if (!mkdtemp(dir))
			dir[0] = '\0';
	}
	if (!dir[0]) {
		skip("no writable temporary directory");
		return;
	}
	snprintf(path, sizeof(path), "%s/helper", dir);
	snprintf(other, sizeof(other), "%s/helper.new", dir);
	if (!CHECK(copy_file(self_exe, path), "copy this binary to %s", path) ||
	    !CHECK(pipe2(cmd, O_CLOEXEC) == 0, "pipe"))
		goto out_dir;
	pl.path = path;
	pl.cmd = cmd[0];
	if (!start_root(&r, plant_runner, &pl))
		goto out_pipe;
	close(cmd[0]);
	cmd[0] = -1;
	if (!open_both(&b, r.pid))
		goto out_root;

	if (!runner_step(&r, cmd[1], &b, &cfd, &m)) {
		skip("cannot execute from the temporary directory");
		goto out_both;
	}
	CHECK_INT(b.rd, 0);
	CHECK_STR(b.d.exe, path);
	CHECK_STR(b.d.sha256, self_sha);
	snprintf(first, sizeof(first), "%s", b.d.sha256);
	if (!runner_stop(&r, cmd[1], &cfd))
		goto out_both;

	/* Same path, same content, new inode (an identical reinstall): fine. */
	if (!CHECK(copy_file(self_exe, other) && rename(other, path) == 0, "replace with a copy") ||
	    !runner_step(&r, cmd[1], &b, &cfd, &m))
		goto out_both;
	CHECK_INT(b.rd, 0);
	CHECK_STR(b.d.sha256, first);
	if (!runner_stop(&r, cmd[1], &cfd))
		goto out_both;

	/* Same path, different content: refused, both hashes named. */
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (!CHECK(fd >= 0 && write(fd, "\n", 1) == 1, "change the copy"))
		goto out_both;
	close(fd);
	if (!runner_step(&r, cmd[1], &b, &cfd, &m))
		goto out_both;
	{
		char want[PATH_MAX + 200], now[SHA256_HEX_LEN + 1];

		hash_file(path, now);
		snprintf(want, sizeof(want), "content of %s changed during the sandbox's life "
		    "(sha256 was %s, now %s)", path, first, now);
		CHECK_INT(b.rd, -1);
		CHECK_STR(b.ed.msg, "");
		CHECK_STR(b.d.why, want);
	}
	if (!runner_stop(&r, cmd[1], &cfd))
		goto out_both;

	/* Removed while running. */
	if (!CHECK(copy_file(self_exe, other) && rename(other, path) == 0, "restore the copy") ||
	    !runner_step(&r, cmd[1], &b, &cfd, &m))
		goto out_both;
	CHECK_INT(b.rd, 0);
	unlink(path);
	lookup_both(&b, cfd);
	check_agree(&b);
	CHECK_INT(b.rd, -1);
	CHECK_HAS(b.d.why, "was deleted or replaced while running");
	CHECK_HAS(b.d.why, path);
out_both:
	close_both(&b);
	if (cfd >= 0)
		close(cfd);
out_root:
	stop_root(&r);
out_pipe:
	if (cmd[0] >= 0)
		close(cmd[0]);
	close(cmd[1]);
out_dir:
	unlink(path);
	unlink(other);
	rmdir(dir);
}

static int
count_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (!(dir = opendir(path)))
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

struct timing {
	double mean, p50, p99, max;	/* microseconds */
	int n;
};

static void
summarize(uint64_t *ns, int n, struct timing *t)
{
	uint64_t sum = 0;

	memset(t, 0, sizeof(*t));
	if (n == 0)
		return;
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	for (int i = 0; i < n; i++)
		sum += ns[i];
	t->n = n;
	t->mean = (double)sum / n / 1000.0;
	t->p50 = (double)ns[n / 2] / 1000.0;
	t->p99 = (double)ns[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0;
	t->max = (double)ns[n - 1] / 1000.0;
}

/* Time `rounds` lookups of one connection (or fewer if they take over ~2 s). */
static void
time_lookups(struct attrib *a, int cfd, int rounds, struct timing *t, int *bad)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	uint64_t *ns = xcalloc((size_t)rounds, sizeof(*ns)), t0 = now_ns();
	struct identity id;
	struct werr err;
	int n = 0;

	if (getpeername(cfd, (struct sockaddr *)&peer, &pl) < 0 ||
	    getsockname(cfd, (struct sockaddr *)&local, &ll) < 0) {
		(*bad)++;
		free(ns);
		return;
	}
	while (n < rounds && now_ns() - t0 < 2000000000u) {
		uint64_t s = now_ns();
		*bad += attrib_lookup(a, (struct sockaddr *)&peer, (struct sockaddr *)&local, &id,
		    &err) != 0;
		ns[n++] = now_ns() - s;
		identity_free(&id);
	}
	summarize(ns, n, t);
	free(ns);
}

/* R -> pl->count idle processes, then G, which dials a new connection on each 'd'. */
static void
plant_crowd_dialer(void *arg, int ready)
{
	const struct plan *pl = arg;
	pid_t g;

	for (int i = 0; i < pl->count; i++)
		if (fork_child() == 0)
			hang();
	g = fork_child();
	if (g == 0) {
		int held = -1;
		char c;

		say(ready, 'r');
		while (read(pl->cmd, &c, 1) == 1) {
			if (held >= 0)
				close(held);
			held = dial_here(FAM4, true);
			say(ready, held >= 0 ? 'r' : 'E');
		}
		_exit(0);
	}
}

/*
 * Lookups of a connection its owner has just made (the proxy's case: the
 * client connected, sent its request and waits): the owner ran since the
 * previous lookup, the other processes did not.
 */
static void
time_fresh(struct attrib *a, struct root *r, int cmd, int rounds, struct timing *t, int *bad)
{
	uint64_t *ns = xcalloc((size_t)rounds, sizeof(*ns)), t0 = now_ns();
	int n = 0;

	while (n < rounds && now_ns() - t0 < 3000000000u) {
		struct sockaddr_storage peer, local;
		socklen_t pl = sizeof(peer), ll = sizeof(local);
		struct identity id;
		struct werr err;
		struct ready m;
		uint64_t s;
		int cfd;

		if (write(cmd, "d", 1) != 1 || !hear(r->ready, &m) || m.tag != 'r' ||
		    (cfd = take(lis4)) < 0) {
			(*bad)++;
			break;
		}
		if (getpeername(cfd, (struct sockaddr *)&peer, &pl) < 0 ||
		    getsockname(cfd, (struct sockaddr *)&local, &ll) < 0) {
			(*bad)++;
			close(cfd);
			break;
		}
		s = now_ns();
		*bad += attrib_lookup(a, (struct sockaddr *)&peer, (struct sockaddr *)&local, &id,
		    &err) != 0;
		ns[n++] = now_ns() - s;
		identity_free(&id);
		close(cfd);
	}
	summarize(ns, n, t);
	free(ns);
}

static void
print_timing(const char *what, const struct timing *t)
{
	printf("#   %-34s n=%4d  mean %8.1f us  p50 %8.1f us  p99 %8.1f us  max %8.1f us\n",
	    what, t->n, t->mean, t->p50, t->p99, t->max);
}

static void
test_timing(int idle)
{
	struct plan pl = { .fam = FAM4, .count = idle };
	char name[64];
	struct root r;
	struct both b;
	struct ready m;
	int cfd;

	snprintf(name, sizeof(name), "lookup time, %d idle processes", idle);
	begin(name);
	if (run(&r, &b, plant_crowd, &pl, 1, &m, lis4, &cfd)) {
		struct timing td, tp;
		int bad = 0;

		CHECK_INT(b.rd, 0);
		CHECK_INT(b.d.host_pid, m.pid);
		time_lookups(b.ad, cfd, 1000, &td, &bad);
		time_lookups(b.ap, cfd, 1000, &tp, &bad);
		CHECK_INT(bad, 0);
		lookup_both(&b, cfd);
		check_agree(&b);
		if (b.sd.cache)
			CHECK(b.sd.reused == (size_t)idle + 2 && b.sd.read == 0,
			    "all %d processes served from the cache (%zu reused, %zu read)", idle + 2,
			    b.sd.reused, b.sd.read);
		printf("# %d processes in the tree (%d descriptors each), one idle owner:\n",
		    idle + 2, count_fds(r.pid));
		print_timing("sock_diag", &td);
		print_timing("/proc/net", &tp);
	}
	finish(&r, &b, cfd);
}

static void
test_timing_fresh(int idle)
{
	struct plan pl = { .fam = FAM4, .count = idle, .cmd = -1 };
	struct both b = { 0 };
	char name[80];
	struct root r;
	struct ready m;
	int cmd[2];

	snprintf(name, sizeof(name), "lookup time, %d idle processes, a new connection each", idle);
	begin(name);
	if (!CHECK(pipe2(cmd, O_CLOEXEC) == 0, "pipe"))
		return;
	pl.cmd = cmd[0];
	drain(lis4);
	if (start_root(&r, plant_crowd_dialer, &pl)) {
		close(cmd[0]);
		if (CHECK(hear(r.ready, &m) && m.tag == 'r', "dialer ready") && open_both(&b, r.pid)) {
			struct timing td, tp;
			int bad = 0;

			time_fresh(b.ad, &r, cmd[1], 1000, &td, &bad);
			time_fresh(b.ap, &r, cmd[1], 100, &tp, &bad);
			CHECK_INT(bad, 0);
			printf("# %d processes in the tree; the owner dialed just before each lookup:\n",
			    idle + 2);
			print_timing("sock_diag", &td);
			print_timing("/proc/net", &tp);
		}
		close_both(&b);
		stop_root(&r);
	} else {
		close(cmd[0]);
	}
	close(cmd[1]);
}

int
main(int argc, char **argv)
{
	ssize_t n;

	if (argc >= 2 && strcmp(argv[1], "--helper") == 0)
		return helper_main(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0 || !hash_file(self_exe, self_sha)) {
		printf("Bail out! cannot read this test's executable\n");
		return 1;
	}
	self_exe[n] = '\0';
	lis4 = listen_on(AF_INET);
	lis6 = listen_on(AF_INET6);
	if (lis4 < 0) {
		printf("Bail out! cannot listen on 127.0.0.1\n");
		return 1;
	}

	test_hash_file();
	test_api();
	test_single(FAM4, "single owner, IPv4");
	test_single(FAM6, "single owner, IPv6 (::1)");
	test_single(FAM_MAPPED, "single owner, dual-stack socket to 127.0.0.1 (v4-mapped)");
	test_ancestors();
	test_same_binary();
	test_different_binaries();
	test_owner_exited();
	test_outside_holder();
	test_thread_child();
	test_leader_exited();
	test_private_table();
	test_zombie();
	test_undumpable();
	test_pins();
	test_cache_changes();
	test_cache_shared_table();
	test_cache_subreaper();
	test_cache_busy();
	test_joined();
	test_timing(0);
	test_timing(200);
	test_timing_fresh(200);

	printf("1..%d\n", n_pass + n_fail);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
