/*
 * Attribution: from the 4-tuple of an accepted connection to the process,
 * and the binary, that opened it.
 *
 * The kernel keeps no index from a socket to the processes holding it, so
 * the only way from outside is the one lsof and ss -p take: find the
 * socket's inode, then read the fd table of every candidate process.  The
 * candidates are the sandbox's processes: the descendants of its init,
 * found through /proc/PID/task/TID/children (a process forked by a
 * non-main thread is listed under that thread, so every task is read), and
 * the processes that joined its pid namespace from outside (`warden exec`),
 * which descend from no process of the sandbox (see "Joined processes").
 *
 * The inode comes from sock_diag when the sandbox's init gave us a netlink
 * socket created in its network namespace (a netlink socket's namespace is
 * fixed at creation, so it answers about the sandbox from outside), else
 * from /proc/INIT/net/tcp{,6}.  sock_diag is an exact hash lookup in the
 * kernel; the /proc files make the kernel walk the whole TCP hash table,
 * which is shared with the host, so their cost grows with the host's load.
 *
 * Reading every fd table costs about 8 + (open descriptors) system calls
 * per process, milliseconds for a sandbox of a few hundred processes, on
 * the proxy's event loop.  So what was read of each process is kept across
 * lookups (the process cache below) and reused while the process provably
 * has not run since; a lookup then costs one pread() per task of the
 * sandbox plus a full read of the few processes that did run.
 *
 * Process cache.  A process can only change its fd table, its children
 * list or its executable by running (fork, exec, open, close, recvmsg,
 * exit...).  The kernel counts how many times each task was switched onto
 * a CPU: the third field of /proc/PID/task/TID/schedstat (sched_info.pcount,
 * kept whenever CONFIG_SCHED_INFO is set, unconditionally since Linux
 * 5.14).  An entry is made when a process is read, and records each task's
 * count; it is trusted later only if:
 *   - every task was off the CPU when the entry was made.  The count only
 *     moves when a task is switched in, so a task that kept running through
 *     the read could change its table unseen.  /proc/PID/task/TID/wchan is
 *     the test: since 5.16 the kernel names a wait channel only for a task
 *     that is blocked and dequeued (state neither RUNNING nor WAKING and
 *     !on_rq, read under the task's pi_lock), and prints "0" otherwise.
 *     The state letter of /proc/PID/stat is not enough: a task sets itself
 *     to S before calling schedule() and may return to user space from
 *     there without ever leaving the CPU.  Each count is read before that
 *     task's wchan, and the tables after every task's wchan, so any change
 *     after the read needs a switch-in that moves a count.  A zombie task
 *     ("Z"/"X", wchan "0") never runs again and holds no table: it counts
 *     as off the CPU;
 *   - no task's count moved since, and no task is gone.  The counts are
 *     read through descriptors kept open on each task's schedstat: such a
 *     descriptor follows the task (its struct pid), not the number, so a
 *     recycled pid reads ESRCH, never a stranger's count;
 *   - its fd table is shared with no other process (clone(CLONE_FILES)
 *     without CLONE_THREAD): another process could change it while this one
 *     sleeps.  Every process read is placed in a sorted index of fd tables
 *     (kcmp(KCMP_FILES) orders the kernel's pointers), so one that shares a
 *     table with another is found in O(log n) kcmp calls and both are read
 *     afresh at every lookup.  Threads of one process are all counted, and
 *     a new thread or a new sharer can only be created by a task that runs.
 * Nothing else installs a descriptor into a table that is not current's:
 * SCM_RIGHTS, pidfd_getfd() and io_uring install into the receiver's or
 * caller's own table (io_uring's workers and SQPOLL thread are threads of
 * the ring's owner), and SECCOMP_IOCTL_NOTIF_ADDFD, which warden's
 * supervisor does not use today, is carried out by the target itself,
 * woken in its notification wait.
 *
 * The children lists need more care, because a list changes without its
 * owner running when an orphan is reparented to it: to a live thread of
 * the dying parent's own process (that process then lost a task and is
 * read again), to the nearest ancestor that made itself a child subreaper,
 * or to the init of the pid namespace.  Subreapers are not visible in
 * /proc, so whenever a process is read afresh (it ran, it is new) or is
 * found gone, the children of all its ancestors in the walk are read again;
 * a fork with CLONE_PARENT, which adds a child to the caller's parent, is
 * covered by the same rule.  The children of the sandbox's init, and of
 * the init of any pid namespace nested in it, are read at every lookup.
 *
 * When the kernel lacks what this needs (no schedstat counts, no wchan
 * file, a kernel older than 5.16, no kcmp), every lookup reads every
 * process, as does the retry after a lookup that found no owner.
 *
 * Joined processes.  `warden exec` enters the sandbox's namespaces and
 * forks: the child is in the sandbox's pid namespace, but its parent is the
 * `warden exec` process on the host, so it descends from no sandbox
 * process.  When a lookup finds no owner, /proc is listed for processes in
 * the sandbox's pid namespace (same ns/pid inode as init's) that the walk
 * did not reach; each one's topmost ancestor still in that namespace becomes
 * an extra root of the walk, kept for the sandbox's life.  Processes found
 * to be outside are remembered by pid and /proc inode number, so the
 * listing costs one getdents() per entry afterwards.  Ancestors of a
 * process under such a root end at the root: the host-side process above
 * it is never named.
 *
 * Everything is read with openat() relative to /proc or to a /proc/PID
 * directory fd (which, like the schedstat descriptors, follows the process
 * and not the number), directories with raw getdents64(), files with
 * single read()s into buffers that live as long as the struct attrib.
 *
 * The executable is read through /proc/PID/exe opened as a file: that is
 * the file the kernel executed, even if the path now names another one.
 * Its path is taken from the opened descriptor (/proc/self/fd/N), not from
 * a second readlink of /proc/PID/exe, so path and content describe the same
 * file even if the process execs in between.  Content hashes are cached per
 * (device, inode, size, mtime, ctime); ctime is in the key because, unlike
 * mtime, it cannot be set back by the file's owner.  Separately, the first
 * hash seen for each path is kept for the life of the struct attrib (the
 * sandbox's life): a path whose content later differs fails attribution,
 * so a policy written for /usr/bin/x keeps meaning the x that first ran.
 * Executables are resolved at every lookup, never cached per process: a
 * process sharing another's memory (CLONE_VM) could change what /proc
 * shows as its executable without the other running.
 *
 * Every failure to read something that might hold the socket (permission
 * denied on a live process, too many processes) fails the attribution: an
 * owner we cannot see could be running a different binary.  Processes that
 * vanish while we look are skipped; if that leaves the socket without
 * owner, the walk is repeated, because a process that exited may have had
 * children that were reparented behind the walk's back.
 *
 * The walk is a snapshot, and that is its main limit: see attrib.h.
 */
#include "attrib.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/kcmp.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "../lib/hash.h"
#include "../lib/util.h"

#define PINS_MAX 65536		/* distinct executable paths per sandbox */
#define CACHE_MAX 256		/* content hashes kept; the table restarts when full */
#define EXE_SIZE_MAX (1LL << 30)	/* larger binaries are not hashed */
#define WALK_TRIES 3		/* full walks when processes vanish and no owner is found */
#define KEPT_FDS_MAX 8192	/* descriptors the process cache may keep open */
#define ROOTS_MAX 256		/* joined processes remembered as extra walk roots */
#define OUTSIDE_MAX 65536	/* host processes remembered as outside the sandbox */
#define CLIMB_MAX 4096		/* parent links followed from a joined process */
#define TCP_STATE_TIME_WAIT 6
#define TCP_STATE_LISTEN 10
#define DELETED_SUFFIX " (deleted)"

/* Internal results: A_ERR means err is set, A_DENY that id->why is. */
enum { A_OK = 0, A_ERR = -1, A_DENY = -2, A_RETRY = -3 };

/* What the current walk knows of a cached process. */
enum { V_RAN, V_SAME, V_READ };

/* One end of the connection; IPv4 also when it came as ::ffff:a.b.c.d. */
struct endpoint {
	bool v4;
	uint8_t addr[16];	/* the first 4 bytes when v4 */
	uint16_t port;		/* host order */
};

struct content {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
	char sha256[SHA256_HEX_LEN + 1];
};

struct pin {
	char *path;		/* owned; NULL for an empty slot */
	char sha256[SHA256_HEX_LEN + 1];
};

/* A resolved executable: the path and the hash of the file behind it. */
struct exe {
	char path[PATH_MAX];
	char sha256[SHA256_HEX_LEN + 1];
};

struct dirent64_raw {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* A task of a cached process. */
struct ptask {
	pid_t tid;
	int runs_fd;		/* its schedstat, kept open; -1 past the budget */
	int kids_fd;		/* its children file, opened when first read again; -1 */
	uint64_t runs;		/* times switched in, when the process was read */
};

/* A socket in a process's tables, and a task whose table holds it. */
struct hold {
	uint64_t ino;
	pid_t task;
};

/*
 * What was read of one process.  Everything but the verdict and the walk
 * fields describes the process as it was when read; it is reused only
 * under the conditions in the file comment.
 */
struct proc {
	pid_t pid;
	pid_t nspid;		/* in the sandbox's namespace */
	unsigned long long start;	/* start time, kept when the leader has no runs_fd */
	struct ptask *tasks;	/* the leader first */
	size_t ntasks, tasks_cap;
	pid_t *kids;		/* children of every task */
	size_t nkids, kids_cap;
	struct hold *socks;
	size_t nsocks, socks_cap;
	pid_t *tables;		/* one task per distinct fd table */
	size_t ntables, tables_cap;
	bool quiet;		/* every task was off the CPU (or dead) when read */
	bool complete;		/* socks lists every socket (the read did not stop early) */
	bool shared;		/* a table is also another process's */
	bool reaper;		/* init of a pid namespace: orphans land here */
	bool indexed;		/* its tables are in the fd-table index */
	/* The current walk (gen): */
	uint32_t gen;
	uint8_t verdict;
	bool visited;		/* reached by the walk */
	bool reused;		/* served from the cache */
	bool kids_read;		/* children read during this walk */
	size_t step;		/* where the walk reached it */
};

/* An entry of the fd-table index: a task, ordered by its table. */
struct ixent {
	pid_t tid;
	struct proc *p;
};

/* A process of the walk. */
struct step {
	pid_t pid;
	ssize_t up;		/* the step of its parent; -1 for a root */
	struct proc *p;		/* set once visited, unless gone */
	bool root, gone;
};

struct seen {
	pid_t pid;
	uint32_t gen;		/* slot is live when gen == attrib.gen */
	size_t step;
};

/* A process holding the socket, and the task whose fd table showed it. */
struct owner {
	pid_t pid, task;
	size_t step;
};

/* A process that joined the sandbox from outside: an extra walk root. */
struct root {
	pid_t pid;
	unsigned long long start;
};

/* A host process known to be outside the sandbox's pid namespace. */
struct outside {
	pid_t pid;		/* 0: empty slot */
	uint64_t ino;		/* of its /proc/PID directory, against pid reuse */
};

/* What /proc/PID/status tells the walk. */
struct pstatus {
	pid_t ppid;
	pid_t nspid;		/* at the sandbox's level; 0 when not that deep */
	pid_t innermost;	/* in its own namespace: 1 for the init of one */
	long threads;
	char state;
};

struct attrib {
	pid_t init_pid;
	int diag_fd;		/* -1: read /proc/INIT/net instead */
	int proc_fd;		/* /proc */
	int init_fd;		/* /proc/INIT: a dead init is ESRCH, never a reused pid */
	size_t ns_level;	/* index of the sandbox's pid in NSpid lines */
	pid_t init_nspid;	/* init's own number there (1 in a real sandbox) */
	uint32_t seq;

	/* Process cache (see the file comment). */
	bool cache_ok;		/* the kernel gives what it needs */
	bool use_cache;		/* attrib_set_cache() */
	struct proc **tab;	/* open addressing by pid, size a power of two */
	size_t tab_cap, ntab;
	struct ixent *index;	/* sorted by fd table */
	size_t nindex, index_cap;
	size_t nkept, kept_max;	/* descriptors held by the cache */
	struct attrib_stats stats;

	/* The walk: every process found, in breadth-first order. */
	struct step *steps;
	size_t nsteps, steps_cap;
	struct seen *seen;	/* open addressing, size a power of two */
	size_t seen_cap;
	uint32_t gen;
	bool changed;		/* a process vanished during the walk */
	struct owner *owners;
	size_t nowners, owners_cap;
	pid_t *tids;		/* scratch: a process's tasks */
	size_t ntids, tids_cap;
	int *fdnums;		/* scratch: the descriptors of one table */
	size_t nfdnums, fdnums_cap;
	bool no_kcmp;		/* kernel without kcmp(): read every task's table */
	uint64_t target;	/* the socket's inode */

	/* Joined processes. */
	bool can_join;		/* init is the init of a pid namespace of its own */
	dev_t ns_dev;		/* the sandbox's pid namespace (ns/pid of init) */
	ino_t ns_ino;
	struct root roots[ROOTS_MAX];
	size_t nroots;
	struct outside *outside;	/* open addressing, size a power of two */
	size_t outside_cap, noutside;

	struct content cache[CACHE_MAX];
	size_t ncache;
	struct pin *pins;	/* open addressing, size a power of two */
	size_t npins, pins_cap;

	char dents[32768] __attribute__((aligned(8)));
	char io[65536] __attribute__((aligned(8)));
};

static int __attribute__((format(printf, 2, 3)))
deny(struct identity *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(id->why, sizeof(id->why), fmt, ap);
	va_end(ap);
	return A_DENY;
}

static bool
gone(int e)
{
	return e == ENOENT || e == ESRCH;
}

static bool
denied(int e)
{
	return e == EACCES || e == EPERM;
}

/* Directory fd and relative path for /proc/PID/rel; init goes through init_fd. */
static int
proc_path(const struct attrib *a, pid_t pid, const char *rel, char *buf, size_t len)
{
	if (pid == a->init_pid) {
		snprintf(buf, len, "%s", rel);
		return a->init_fd;
	}
	snprintf(buf, len, "%d/%s", (int)pid, rel);
	return a->proc_fd;
}

/* Path of /proc/PID/task/TID/rel relative to the /proc/PID directory. */
static void
task_rel(pid_t pid, pid_t tid, const char *rel, char *buf, size_t len)
{
	if (tid == pid)
		snprintf(buf, len, "%s", rel);
	else
		snprintf(buf, len, "task/%d/%s", (int)tid, rel);
}

/*
 * Read a /proc file into buf (NUL-terminated); 0, or -1 with errno.  The
 * files read here are seq_files, and a seq_file read stops short of the
 * caller's buffer only at the end of the file or when its own buffer (a
 * page at first, grown for a single record that does not fit) is full.
 * So a short read of a one-record file (status, stat, schedstat, wchan) is
 * the whole file, and so is one of a list (children) well below a page:
 * that saves the read that would return 0 — half the system calls of a
 * lookup.  Longer lists are read to the end.
 */
#define SHORT_ENOUGH 3072

static int
read_fd_into(int fd, bool at_zero, bool one_record, char *buf, size_t size, size_t *len)
{
	size_t n = 0;
	ssize_t r;

	while (n < size - 1) {
		r = at_zero ? pread(fd, buf + n, size - 1 - n, (off_t)n) : read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n < size - 1 && (one_record || n < SHORT_ENOUGH))
			break;
	}
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* Read a small /proc file whole into a->io; 0, or -1 with errno. */
static int
read_small(struct attrib *a, int dirfd, const char *path, size_t *len)
{
	int fd, r, saved;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read_fd_into(fd, false, true, a->io, sizeof(a->io), len);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

static long
sys_getdents64(int fd, void *buf, size_t len)
{
	return syscall(SYS_getdents64, fd, buf, len);
}

static long
sys_kcmp(pid_t t1, pid_t t2)
{
	return syscall(SYS_kcmp, t1, t2, KCMP_FILES, 0, 0);
}

/* A decimal pid ending the string; 0 if s is not one. */
static pid_t
parse_pid(const char *s)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v == 0 || v > INT32_MAX)
		return 0;
	return (pid_t)v;
}

/* ---- addresses ------------------------------------------------------------ */

static int
endpoint_from(const struct sockaddr *sa, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in s4;
		memcpy(&s4, sa, sizeof(s4));
		ep->v4 = true;
		memcpy(ep->addr, &s4.sin_addr, 4);
		ep->port = ntohs(s4.sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 s6;
		memcpy(&s6, sa, sizeof(s6));
		if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr)) {
			ep->v4 = true;
			memcpy(ep->addr, s6.sin6_addr.s6_addr + 12, 4);
		} else {
			memcpy(ep->addr, s6.sin6_addr.s6_addr, 16);
		}
		ep->port = ntohs(s6.sin6_port);
		return 0;
	}
	return -1;
}

/* An address as a 16-byte IPv6 form (IPv4 as ::ffff:a.b.c.d). */
static void
as_v6(const struct endpoint *ep, uint8_t out[16])
{
	if (ep->v4) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, ep->addr, 4);
	} else {
		memcpy(out, ep->addr, 16);
	}
}

static bool
endpoint_eq(const struct endpoint *x, const struct endpoint *y)
{
	return x->v4 == y->v4 && x->port == y->port &&
	    memcmp(x->addr, y->addr, x->v4 ? 4 : 16) == 0;
}

/* ---- step 1: the socket's inode -------------------------------------------- */

/*
 * An exact sock_diag request.  The kernel looks the socket up as if a
 * packet had arrived from idiag_dst to idiag_src, so src = client finds the
 * client's socket.  Such a lookup falls back to listening sockets when no
 * connection matches, and an AF_INET query also finds dual-stack AF_INET6
 * sockets with mapped addresses; hence the reply is checked against what
 * was asked, and a listener is never taken for the client.
 */
static int
diag_inode(struct attrib *a, const struct endpoint *c, const struct endpoint *s,
    uint64_t *ino, bool *found, struct werr *err)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	uint32_t seq = ++a->seq;
	ssize_t n;
	int len;

	*found = false;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = seq;
	req.r.sdiag_family = c->v4 ? AF_INET : AF_INET6;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_sport = htons(c->port);
	req.r.id.idiag_dport = htons(s->port);
	memcpy(req.r.id.idiag_src, c->addr, c->v4 ? 4 : 16);
	memcpy(req.r.id.idiag_dst, s->addr, s->v4 ? 4 : 16);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	while (sendto(a->diag_fd, &req, sizeof(req), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		if (errno != EINTR)
			return werr_sys(err, "sock_diag: send");
	/*
	 * The kernel answers inside sendto(), so the reply is queued by now;
	 * never block the event loop waiting for one.  Replies to earlier
	 * requests (other sequence numbers) are skipped, and so is anything
	 * not sent by the kernel: a process with CAP_NET_ADMIN over the
	 * sandbox's network namespace could address this socket directly.
	 */
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);

		n = recvfrom(a->diag_fd, a->io, sizeof(a->io), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return werr_set(err, "sock_diag: no reply");
		if (n < 0)
			return werr_sys(err, "sock_diag: receive");
		if (fromlen < sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
			continue;
		len = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)a->io; NLMSG_OK(h, len);
		    h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return werr_set(err, "sock_diag: short error message");
				if (e->error == -ENOENT)
					return 0;
				return werr_errno(err, -e->error, "sock_diag");
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
				const struct inet_diag_msg *m = NLMSG_DATA(h);
				struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
				struct sockaddr_in s4 = { .sin_family = AF_INET };
				struct endpoint lc, lr;

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
					return werr_set(err, "sock_diag: short reply");
				if (m->idiag_family == AF_INET) {
					memcpy(&s4.sin_addr, m->id.idiag_src, 4);
					s4.sin_port = m->id.idiag_sport;
					endpoint_from((struct sockaddr *)&s4, &lc);
					memcpy(&s4.sin_addr, m->id.idiag_dst, 4);
					s4.sin_port = m->id.idiag_dport;
					endpoint_from((struct sockaddr *)&s4, &lr);
				} else if (m->idiag_family == AF_INET6) {
					memcpy(&s6.sin6_addr, m->id.idiag_src, 16);
					s6.sin6_port = m->id.idiag_sport;
					endpoint_from((struct sockaddr *)&s6, &lc);
					memcpy(&s6.sin6_addr, m->id.idiag_dst, 16);
					s6.sin6_port = m->id.idiag_dport;
					endpoint_from((struct sockaddr *)&s6, &lr);
				} else {
					return 0;
				}
				if (m->idiag_state == TCP_STATE_LISTEN || !endpoint_eq(&lc, c) ||
				    !endpoint_eq(&lr, s))
					return 0;
				/* A TIME_WAIT socket has no inode: nobody owns it. */
				*ino = m->idiag_state == TCP_STATE_TIME_WAIT ? 0 : m->idiag_inode;
				*found = true;
				return 0;
			}
		}
	}
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/*
 * "0100007F:0CEA": each 32-bit word is printed as the hex of its in-memory
 * (network order) bytes read as a native integer, so copying the parsed
 * integer back to memory restores the address bytes; the port is plain.
 */
static bool
parse_hexaddr(const char *p, size_t len, size_t alen, uint8_t *addr, uint16_t *port)
{
	uint32_t v = 0;
	size_t i;
	int d;

	if (len != alen * 2 + 5 || p[alen * 2] != ':')
		return false;
	for (i = 0; i < alen * 2; i++) {
		if ((d = hexval(p[i])) < 0)
			return false;
		v = v << 4 | (uint32_t)d;
		if (i % 8 == 7) {
			memcpy(addr + i / 8 * 4, &v, 4);
			v = 0;
		}
	}
	for (i = alen * 2 + 1; i < len; i++) {
		if ((d = hexval(p[i])) < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*port = (uint16_t)v;
	return true;
}

/*
 * Match one line of /proc/net/tcp{,6}: local == want_l, remote == want_r.
 * A matching TIME_WAIT line only sets *tw.
 */
static bool
procnet_line(const char *p, const char *end, size_t alen, const uint8_t *want_l,
    uint16_t lport, const uint8_t *want_r, uint16_t rport, uint64_t *ino, bool *tw)
{
	const char *f[10];
	size_t flen[10], nf = 0;
	uint8_t addr[16];
	uint16_t port;
	uint64_t v = 0;
	int state;

	while (nf < 10) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			return false;
		f[nf] = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		flen[nf] = (size_t)(p - f[nf]);
		nf++;
	}
	/* 0 "sl:", 1 local, 2 remote, 3 state, ... 9 inode */
	if (!parse_hexaddr(f[1], flen[1], alen, addr, &port) || port != lport ||
	    memcmp(addr, want_l, alen) != 0)
		return false;
	if (!parse_hexaddr(f[2], flen[2], alen, addr, &port) || port != rport ||
	    memcmp(addr, want_r, alen) != 0)
		return false;
	/*
	 * A listener is never the client; a TIME_WAIT entry is an earlier
	 * connection with the same ports (ours cannot be there while the proxy
	 * still holds its end).
	 */
	if (flen[3] != 2 || hexval(f[3][0]) < 0 || hexval(f[3][1]) < 0)
		return false;
	state = hexval(f[3][0]) * 16 + hexval(f[3][1]);
	if (state == TCP_STATE_LISTEN)
		return false;
	if (state == TCP_STATE_TIME_WAIT) {
		*tw = true;
		return false;
	}
	for (size_t i = 0; i < flen[9]; i++) {
		if (f[9][i] < '0' || f[9][i] > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(f[9][i] - '0');
	}
	if (flen[9] == 0)
		return false;
	*ino = v;
	return true;
}

static int
procnet_scan(struct attrib *a, const char *name, const struct endpoint *c,
    const struct endpoint *s, uint64_t *ino, bool *found, struct werr *err)
{
	bool six = strcmp(name, "net/tcp6") == 0;
	size_t alen = six ? 16 : 4, have = 0;
	uint8_t wl[16], wr[16];
	bool header = true, tw = false;
	ssize_t n;
	int fd;

	if (six) {
		as_v6(c, wl);
		as_v6(s, wr);
	} else {
		memcpy(wl, c->addr, 4);
		memcpy(wr, s->addr, 4);
	}
	fd = openat(a->init_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (six && errno == ENOENT)	/* no IPv6 in this kernel */
			return 0;
		if (gone(errno))
			return werr_sys(err, "sandbox init (pid %d) is gone", (int)a->init_pid);
		return werr_sys(err, "/proc/%d/%s", (int)a->init_pid, name);
	}
	for (;;) {
		char *line, *nl, *end;

		n = read(fd, a->io + have, sizeof(a->io) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			werr_sys(err, "/proc/%d/%s", (int)a->init_pid, name);
			close(fd);
			return A_ERR;
		}
		end = a->io + have + n;
		line = a->io;
		while ((nl = memchr(line, '\n', (size_t)(end - line)))) {
			if (!header && procnet_line(line, nl, alen, wl, c->port, wr, s->port, ino, &tw)) {
				*found = true;
				close(fd);
				return 0;
			}
			header = false;
			line = nl + 1;
		}
		have = (size_t)(end - line);
		if (n == 0)
			break;
		if (have == sizeof(a->io)) {	/* a line of 64 KiB is not /proc/net/tcp */
			close(fd);
			return werr_set(err, "/proc/%d/%s: unexpected format", (int)a->init_pid, name);
		}
		memmove(a->io, line, have);
	}
	close(fd);
	if (tw) {	/* only an earlier connection's remains: nobody owns it */
		*ino = 0;
		*found = true;
	}
	return 0;
}

static int
procnet_inode(struct attrib *a, const struct endpoint *c, const struct endpoint *s,
    uint64_t *ino, bool *found, struct werr *err)
{
	*found = false;
	/* An IPv4 client is in tcp, or in tcp6 as ::ffff:a.b.c.d if its socket is dual-stack. */
	if (c->v4 && (procnet_scan(a, "net/tcp", c, s, ino, found, err) < 0 || *found))
		return *found ? 0 : A_ERR;
	return procnet_scan(a, "net/tcp6", c, s, ino, found, err);
}

/* ---- step 2: the sandbox's processes and their fd tables -------------------- */

static size_t
pid_slot(pid_t pid, size_t cap)
{
	return ((uint32_t)pid * 2654435761u) & (cap - 1);
}

/* -- the process cache -- */

static struct proc *
cache_find(const struct attrib *a, pid_t pid)
{
	if (!a->tab_cap)
		return NULL;
	for (size_t i = pid_slot(pid, a->tab_cap); a->tab[i]; i = (i + 1) & (a->tab_cap - 1))
		if (a->tab[i]->pid == pid)
			return a->tab[i];
	return NULL;
}

static void
tab_insert(struct proc **tab, size_t cap, struct proc *p)
{
	size_t i;

	for (i = pid_slot(p->pid, cap); tab[i]; i = (i + 1) & (cap - 1))
		;
	tab[i] = p;
}

static struct proc *
cache_add(struct attrib *a, pid_t pid)
{
	struct proc *p = xcalloc(1, sizeof(*p));

	if ((a->ntab + 1) * 2 > a->tab_cap) {
		size_t cap = a->tab_cap ? a->tab_cap * 2 : 256;
		struct proc **tab = xcalloc(cap, sizeof(*tab));

		for (size_t i = 0; i < a->tab_cap; i++)
			if (a->tab[i])
				tab_insert(tab, cap, a->tab[i]);
		free(a->tab);
		a->tab = tab;
		a->tab_cap = cap;
	}
	p->pid = pid;
	tab_insert(a->tab, a->tab_cap, p);
	a->ntab++;
	return p;
}

static void
close_kept(struct attrib *a, int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		a->nkept--;
		*fd = -1;
	}
}

static void
index_drop(struct attrib *a, struct proc *p)
{
	size_t j = 0;

	if (!p->indexed)
		return;
	for (size_t i = 0; i < a->nindex; i++)
		if (a->index[i].p != p)
			a->index[j++] = a->index[i];
	a->nindex = j;
	p->indexed = false;
}

/* Forget p: out of the table (keeping linear probing intact), fds closed. */
static void
cache_del(struct attrib *a, struct proc *p)
{
	size_t mask = a->tab_cap - 1, i, j;

	for (i = pid_slot(p->pid, a->tab_cap); a->tab[i] != p; i = (i + 1) & mask)
		;
	a->tab[i] = NULL;
	a->ntab--;
	for (j = (i + 1) & mask; a->tab[j]; j = (j + 1) & mask) {
		size_t home = pid_slot(a->tab[j]->pid, a->tab_cap);

		/* Move back an entry whose home is not cyclically in (i, j]. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			a->tab[i] = a->tab[j];
			a->tab[j] = NULL;
			i = j;
		}
	}
	index_drop(a, p);
	for (size_t k = 0; k < p->ntasks; k++) {
		close_kept(a, &p->tasks[k].runs_fd);
		close_kept(a, &p->tasks[k].kids_fd);
	}
	free(p->tasks);
	free(p->kids);
	free(p->socks);
	free(p->tables);
	free(p);
}

/* Is the process cache in use (supported and not turned off)? */
static bool
caching(const struct attrib *a)
{
	return a->cache_ok && a->use_cache;
}

/*
 * May the cache keep one more descriptor?  A quarter of the soft
 * RLIMIT_NOFILE at most, read at each lookup because the supervisor raises
 * it after starting the sandbox: the proxy's connections come first.
 */
static bool
may_keep(const struct attrib *a)
{
	return caching(a) && a->nkept < a->kept_max;
}

static void
set_kept_max(struct attrib *a)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		a->kept_max = 0;
	else if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur / 4 > KEPT_FDS_MAX)
		a->kept_max = KEPT_FDS_MAX;
	else
		a->kept_max = (size_t)(rl.rlim_cur / 4);
}

/* Append to the scratch list of pids. */
static void
tids_push(struct attrib *a, pid_t pid)
{
	if (a->ntids == a->tids_cap) {
		a->tids_cap = a->tids_cap ? a->tids_cap * 2 : 64;
		a->tids = xrealloc(a->tids, a->tids_cap * sizeof(*a->tids));
	}
	a->tids[a->ntids++] = pid;
}

/* The run count: the third field of schedstat.  0, or -1 with errno (ESRCH: the task is gone). */
static int
read_runs(int fd, uint64_t *runs)
{
	char buf[96];
	size_t len, field = 0;
	uint64_t v = 0;
	bool in = false;

	if (read_fd_into(fd, true, true, buf, sizeof(buf), &len) < 0)
		return -1;
	for (size_t i = 0; i < len && field < 3; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			if (field == 2) {
				if (v > (UINT64_MAX - 9) / 10)
					break;
				v = v * 10 + (uint64_t)(buf[i] - '0');
			}
			in = true;
		} else if (in) {
			field++;
			in = false;
		}
	}
	if (field < 3) {
		errno = EIO;	/* not the format of any kernel we know */
		return -1;
	}
	*runs = v;
	return 0;
}

static unsigned long long start_time(struct attrib *a, pid_t pid);
static unsigned long long start_time_at(struct attrib *a, int dirfd);

/*
 * Is p still the process that was read?  Its leader's schedstat
 * descriptor follows the process, not the number; without one, the start
 * time recorded when it was read is compared.
 */
static bool
proc_alive(struct attrib *a, struct proc *p)
{
	uint64_t runs;

	if (p->ntasks > 0 && p->tasks[0].tid == p->pid && p->tasks[0].runs_fd >= 0)
		return read_runs(p->tasks[0].runs_fd, &runs) == 0 || !gone(errno);
	return p->start != 0 && start_time(a, p->pid) == p->start;
}

/* Unchanged since read (V_SAME), ran or unknown (V_RAN), or gone (-1). */
static int
verdict(struct proc *p)
{
	uint64_t runs;

	if (!p->quiet || !p->complete || p->shared || p->ntasks == 0)
		return V_RAN;
	for (size_t k = 0; k < p->ntasks; k++) {
		struct ptask *t = &p->tasks[k];

		if (t->runs_fd < 0)
			return V_RAN;
		if (read_runs(t->runs_fd, &runs) < 0)
			return k == 0 && gone(errno) ? -1 : V_RAN;
		if (runs != t->runs)
			return V_RAN;
	}
	return V_SAME;
}

/* -- the fd-table index -- */

/*
 * Add task tid of p to the index, ordered by kcmp(KCMP_FILES), which
 * compares the kernel's files_struct pointers (obfuscated, but consistently
 * ordered while they live).  *twin is set to a process already there with
 * the same table.  The index holds only processes that are unchanged in
 * this walk or were read in it, so their tables have not moved and the
 * order holds.  Returns 0, 1 when tid is gone, or -1 with errno when kcmp
 * fails otherwise (the index can no longer be trusted).
 */
static int
index_add(struct attrib *a, struct proc *p, pid_t tid, struct proc **twin)
{
	size_t lo, hi;
	long r;

	*twin = NULL;
again:
	lo = 0;
	hi = a->nindex;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		r = sys_kcmp(a->index[mid].tid, tid);
		if (r < 0 && errno == ESRCH) {
			if (sys_kcmp(tid, tid) < 0)
				return errno == ESRCH ? 1 : -1;
			/* That task died since the walk checked it: read it again next time. */
			a->index[mid].p->quiet = false;
			memmove(a->index + mid, a->index + mid + 1,
			    (a->nindex - mid - 1) * sizeof(*a->index));
			a->nindex--;
			goto again;
		}
		if (r < 0)
			return -1;
		if (r == 0) {
			*twin = a->index[mid].p;
			lo = mid;
			break;
		}
		if (r == 1)
			lo = mid + 1;
		else if (r == 2)
			hi = mid;
		else {
			errno = EINVAL;
			return -1;
		}
	}
	if (a->nindex == a->index_cap) {
		a->index_cap = a->index_cap ? a->index_cap * 2 : 256;
		a->index = xrealloc(a->index, a->index_cap * sizeof(*a->index));
	}
	memmove(a->index + lo + 1, a->index + lo, (a->nindex - lo) * sizeof(*a->index));
	a->index[lo].tid = tid;
	a->index[lo].p = p;
	a->nindex++;
	p->indexed = true;
	return 0;
}

/* -- the walk's queue -- */

/* Add pid to the walk unless already there; A_DENY past ATTRIB_MAX_PROCS. */
static int
walk_push(struct attrib *a, pid_t pid, ssize_t up, bool root, struct identity *id)
{
	struct step *s;
	size_t i;

	if (a->nsteps * 2 >= a->seen_cap) {
		struct seen *old = a->seen;
		size_t oldcap = a->seen_cap;

		a->seen_cap = oldcap ? oldcap * 2 : 1024;
		a->seen = xcalloc(a->seen_cap, sizeof(*a->seen));
		for (size_t j = 0; j < oldcap; j++) {
			if (old[j].gen != a->gen)
				continue;
			for (i = pid_slot(old[j].pid, a->seen_cap); a->seen[i].gen == a->gen;
			    i = (i + 1) & (a->seen_cap - 1))
				;
			a->seen[i] = old[j];
		}
		free(old);
	}
	for (i = pid_slot(pid, a->seen_cap); a->seen[i].gen == a->gen; i = (i + 1) & (a->seen_cap - 1)) {
		if (a->seen[i].pid != pid)
			continue;
		/*
		 * Met twice: pid reuse during the walk, never a loop.  Only a
		 * number whose first meeting found nothing is queued again.
		 */
		if (!a->steps[a->seen[i].step].gone)
			return A_OK;
		break;
	}
	if (a->nsteps >= ATTRIB_MAX_PROCS)
		return deny(id, "more than %d processes in the sandbox", ATTRIB_MAX_PROCS);
	a->seen[i].pid = pid;
	a->seen[i].gen = a->gen;
	a->seen[i].step = a->nsteps;
	if (a->nsteps == a->steps_cap) {
		a->steps_cap = a->steps_cap ? a->steps_cap * 2 : 256;
		a->steps = xrealloc(a->steps, a->steps_cap * sizeof(*a->steps));
	}
	s = &a->steps[a->nsteps++];
	s->pid = pid;
	s->up = up;
	s->p = NULL;
	s->root = root;
	s->gone = false;
	return A_OK;
}

/* Has this walk met pid (and found it)? */
static bool
walk_met(const struct attrib *a, pid_t pid)
{
	if (!a->seen_cap)
		return false;
	for (size_t i = pid_slot(pid, a->seen_cap); a->seen[i].gen == a->gen;
	    i = (i + 1) & (a->seen_cap - 1))
		if (a->seen[i].pid == pid)
			return !a->steps[a->seen[i].step].gone;
	return false;
}

static void
add_owner(struct attrib *a, pid_t pid, pid_t task, size_t step)
{
	for (size_t i = 0; i < a->nowners; i++)
		if (a->owners[i].pid == pid)
			return;
	if (a->nowners == a->owners_cap) {
		a->owners_cap = a->owners_cap ? a->owners_cap * 2 : 8;
		a->owners = xrealloc(a->owners, a->owners_cap * sizeof(*a->owners));
	}
	a->owners[a->nowners].pid = pid;
	a->owners[a->nowners].task = task;
	a->owners[a->nowners].step = step;
	a->nowners++;
}

/* -- reading a process -- */

/* State, PPid, Threads and NSpid of /proc/PID/status; 1 when the process is gone. */
static int
read_pstatus(struct attrib *a, int dirfd, pid_t pid, struct pstatus *st, struct werr *err)
{
	const char *p, *end;
	bool have_ppid = false;
	size_t n;

	memset(st, 0, sizeof(*st));
	if (read_small(a, dirfd, "status", &n) < 0) {
		if (gone(errno))
			return 1;
		return werr_sys(err, "/proc/%d/status", (int)pid);
	}
	for (p = a->io, end = a->io + n; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q;
		uint64_t v = 0;

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > 7 && memcmp(p, "State:\t", 7) == 0) {
			st->state = p[7];
		} else if ((size_t)(eol - p) > 5 && (memcmp(p, "PPid:", 5) == 0 ||
		    ((size_t)(eol - p) > 8 && memcmp(p, "Threads:", 8) == 0))) {
			bool pp = p[0] == 'P';
			for (q = p + (pp ? 5 : 8); q < eol && (*q == '\t' || *q == ' '); q++)
				;
			for (; q < eol && *q >= '0' && *q <= '9' && v <= INT32_MAX; q++)
				v = v * 10 + (uint64_t)(*q - '0');
			if (v > INT32_MAX)
				return werr_set(err, "/proc/%d/status: bad %s", (int)pid,
				    pp ? "PPid" : "Threads");
			if (pp) {
				st->ppid = (pid_t)v;
				have_ppid = true;
			} else {
				st->threads = (long)v;
			}
		} else if ((size_t)(eol - p) > 6 && memcmp(p, "NSpid:", 6) == 0) {
			/* One pid per namespace level, outermost first. */
			q = p + 6;
			for (size_t level = 0; q < eol; level++) {
				v = 0;
				while (q < eol && (*q == '\t' || *q == ' '))
					q++;
				if (q == eol)
					break;
				for (; q < eol && *q >= '0' && *q <= '9' && v <= INT32_MAX; q++)
					v = v * 10 + (uint64_t)(*q - '0');
				if (v > INT32_MAX || (q < eol && *q != '\t' && *q != ' '))
					return werr_set(err, "/proc/%d/status: bad NSpid", (int)pid);
				if (level == a->ns_level)
					st->nspid = (pid_t)v;
				st->innermost = (pid_t)v;
			}
		}
		p = eol + 1;
	}
	if (!have_ppid)
		return werr_set(err, "/proc/%d/status: no PPid", (int)pid);
	return A_OK;
}

static void
read_comm(struct attrib *a, pid_t pid, char *out, size_t len)
{
	char path[64];
	size_t n;
	int dirfd = proc_path(a, pid, "comm", path, sizeof(path));

	if (read_small(a, dirfd, path, &n) < 0) {
		snprintf(out, len, "?");
		return;
	}
	while (n > 0 && a->io[n - 1] == '\n')
		a->io[--n] = '\0';
	snprintf(out, len, "%s", a->io);
}

/* The state letter of a task ('?' if unreadable). */
static char
task_state(struct attrib *a, int dirfd, pid_t pid, pid_t tid)
{
	char path[48];
	const char *p;
	size_t n;

	task_rel(pid, tid, "stat", path, sizeof(path));
	if (read_small(a, dirfd, path, &n) < 0 || !(p = strrchr(a->io, ')')) || p[1] != ' ')
		return '?';
	return p[2];
}

/*
 * Permission denied on a task's fd table.  A zombie has no table left, and
 * the kernel hands the /proc files of a task without memory to root, so
 * that is no reason to fail; anything else is.
 */
static int
unreadable(struct attrib *a, int dirfd, pid_t pid, pid_t tid, struct identity *id)
{
	char comm[64], st = task_state(a, dirfd, pid, tid);

	if (st == 'Z' || st == 'X')
		return 0;
	read_comm(a, pid, comm, sizeof(comm));
	return deny(id, "cannot read the open files of pid %d (%s): permission denied "
	    "(the process is not dumpable or runs as another user)", (int)pid, comm);
}

/*
 * Was the task off the CPU, for good, at this instant?  Its wait channel
 * is named only while it is blocked and dequeued; "0" also covers a zombie,
 * which never runs again.
 */
static bool
task_quiet(struct attrib *a, int dirfd, pid_t pid, pid_t tid, char leader_state)
{
	char path[48], st;
	size_t n;

	task_rel(pid, tid, "wchan", path, sizeof(path));
	if (read_small(a, dirfd, path, &n) < 0)
		return false;
	if (n > 0 && !(n == 1 && a->io[0] == '0'))
		return true;
	st = tid == pid ? leader_state : task_state(a, dirfd, pid, tid);
	return st == 'Z' || st == 'X';
}

/*
 * The tasks of p now, their run counts, and whether they were all off the
 * CPU.  Descriptors of tasks still there are kept; each count is read
 * before the same task's wait channel (see the file comment).
 *
 * The task list itself is read before the counts, so a task that was still
 * running when its count was read could have created a thread and blocked
 * before its wait channel was read: its count would not move, and the new
 * thread would go unwatched.  So once every wait channel is read, the
 * number of threads (the link count of /proc/PID/task is 2 + threads) must
 * still be the number listed.  A thread created after that needs a task to
 * be switched in; one created before it and not listed would leave the
 * count equal only if a listed task died, whose descriptor then reads
 * ESRCH at the next lookup.
 */
static int
read_tasks(struct attrib *a, struct proc *p, int dirfd, const struct pstatus *st, struct werr *err)
{
	struct ptask *old = p->tasks;
	size_t nold = p->ntasks;
	long n;
	int tfd;

	a->ntids = 0;
	if (st->threads == 1 && st->state != 'Z') {
		tids_push(a, p->pid);
	} else {
		tfd = openat(dirfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tfd < 0)
			return gone(errno) ? 1 : werr_sys(err, "/proc/%d/task", (int)p->pid);
		while ((n = sys_getdents64(tfd, a->dents, sizeof(a->dents))) > 0) {
			for (long off = 0; off < n;) {
				struct dirent64_raw *d = (struct dirent64_raw *)(a->dents + off);
				pid_t tid = parse_pid(d->d_name);

				off += d->d_reclen;
				if (!tid)
					continue;
				tids_push(a, tid);
				if (tid == p->pid) {	/* the leader first */
					a->tids[a->ntids - 1] = a->tids[0];
					a->tids[0] = tid;
				}
			}
		}
		close(tfd);
		if (n < 0)
			return gone(errno) ? 1 : werr_sys(err, "/proc/%d/task", (int)p->pid);
	}
	p->tasks = xcalloc(a->ntids ? a->ntids : 1, sizeof(*p->tasks));
	p->tasks_cap = a->ntids ? a->ntids : 1;
	p->ntasks = a->ntids;
	for (size_t k = 0; k < a->ntids; k++) {
		struct ptask *t = &p->tasks[k];

		t->tid = a->tids[k];
		t->runs_fd = t->kids_fd = -1;
		for (size_t j = 0; j < nold; j++) {
			if (old[j].tid == t->tid) {
				t->runs_fd = old[j].runs_fd;
				t->kids_fd = old[j].kids_fd;
				old[j].runs_fd = old[j].kids_fd = -1;
				break;
			}
		}
	}
	for (size_t j = 0; j < nold; j++) {
		close_kept(a, &old[j].runs_fd);
		close_kept(a, &old[j].kids_fd);
	}
	free(old);

	p->quiet = caching(a);
	for (size_t k = 0; k < p->ntasks && p->quiet; k++) {
		struct ptask *t = &p->tasks[k];
		char path[48];

		if (t->runs_fd < 0 && may_keep(a)) {
			task_rel(p->pid, t->tid, "schedstat", path, sizeof(path));
			if ((t->runs_fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) >= 0)
				a->nkept++;
		}
		if (t->runs_fd < 0 || read_runs(t->runs_fd, &t->runs) < 0 ||
		    !task_quiet(a, dirfd, p->pid, t->tid, st->state))
			p->quiet = false;
	}
	if (p->quiet) {
		struct stat ts;

		if (fstatat(dirfd, "task", &ts, 0) < 0 || ts.st_nlink != 2 + p->ntasks)
			p->quiet = false;
	}
	p->start = 0;
	if (p->ntasks == 0 || p->tasks[0].tid != p->pid || p->tasks[0].runs_fd < 0)
		p->start = start_time_at(a, dirfd);
	return A_OK;
}

/* Queue (and record in p->kids) the pids listed in a children file. */
static int
kids_from(struct attrib *a, struct proc *p, int fd, bool at_zero, size_t step, struct identity *id)
{
	size_t len;
	int r;

	if (read_fd_into(fd, at_zero, false, a->io, sizeof(a->io), &len) < 0)
		return gone(errno) ? 1 : -1;
	for (const char *q = a->io; *q;) {
		uint64_t v = 0;

		while (*q == ' ' || *q == '\n')
			q++;
		if (!*q)
			break;
		for (; *q >= '0' && *q <= '9' && v <= INT32_MAX; q++)
			v = v * 10 + (uint64_t)(*q - '0');
		if (v == 0 || v > INT32_MAX || (*q && *q != ' ' && *q != '\n')) {
			errno = EINVAL;
			return -1;
		}
		if (p->nkids == p->kids_cap) {
			p->kids_cap = p->kids_cap ? p->kids_cap * 2 : 8;
			p->kids = xrealloc(p->kids, p->kids_cap * sizeof(*p->kids));
		}
		p->kids[p->nkids++] = (pid_t)v;
		if ((r = walk_push(a, (pid_t)v, (ssize_t)step, false, id)) < 0)
			return r;
	}
	return 0;
}

/* The children of every task of p, read now, queued behind step. */
static int
read_kids(struct attrib *a, struct proc *p, int dirfd, size_t step, struct identity *id,
    struct werr *err)
{
	int r;

	p->nkids = 0;
	for (size_t k = 0; k < p->ntasks; k++) {
		struct ptask *t = &p->tasks[k];
		char path[64];
		int fd = t->kids_fd;

		if (fd < 0) {
			snprintf(path, sizeof(path), "task/%d/children", (int)t->tid);
			if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) < 0) {
				if (gone(errno)) {
					a->changed = true;
					continue;
				}
				return werr_sys(err, "/proc/%d/%s", (int)p->pid, path);
			}
		}
		r = kids_from(a, p, fd, fd == t->kids_fd, step, id);
		if (fd != t->kids_fd)
			close(fd);
		if (r == 1) {
			a->changed = true;
			continue;
		}
		if (r < 0)
			return r == -1 ? werr_sys(err, "/proc/%d/task/%d/children", (int)p->pid,
			    (int)t->tid) : r;
	}
	p->kids_read = true;
	return A_OK;
}

/*
 * Read the children of a process served from the cache again, now: an
 * orphan may have been reparented to it.  The descriptors are kept, as
 * this happens at every lookup for init and the ancestors of busy
 * processes.
 */
static int
reread_kids(struct attrib *a, size_t step, struct identity *id, struct werr *err)
{
	struct proc *p = a->steps[step].p;
	char path[32];
	int dirfd = a->init_fd, r;

	if (p->pid != a->init_pid) {
		snprintf(path, sizeof(path), "%d", (int)p->pid);
		dirfd = openat(a->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* Opened by number: make sure the number still names this process. */
		if (dirfd >= 0 && !proc_alive(a, p)) {
			close(dirfd);
			dirfd = -1;
			errno = ESRCH;
		}
		if (dirfd < 0) {
			if (!gone(errno))
				return werr_sys(err, "/proc/%s", path);
			a->changed = true;
			p->kids_read = true;
			return A_OK;
		}
	}
	for (size_t k = 0; k < p->ntasks; k++) {
		struct ptask *t = &p->tasks[k];
		char kpath[48];

		if (t->kids_fd >= 0 || !may_keep(a))
			continue;
		snprintf(kpath, sizeof(kpath), "task/%d/children", (int)t->tid);
		if ((t->kids_fd = openat(dirfd, kpath, O_RDONLY | O_CLOEXEC)) >= 0)
			a->nkept++;
	}
	r = read_kids(a, p, dirfd, step, id, err);
	if (dirfd != a->init_fd)
		close(dirfd);
	return r;
}

/*
 * The sockets in the fd table of task tid of p, added to p->socks.
 * Returns 1 when the target is among them, 0 when not, A_ERR or A_DENY.
 * Newest descriptors are read first (a connection just made is usually the
 * highest), and for a process that was running, which will be read again
 * at the next lookup anyway, reading stops at the target (p->complete goes
 * false if anything was left).  A quiet process's table is read whole, so
 * that it can be served from the cache next time.
 */
static int
read_table(struct attrib *a, struct proc *p, int dirfd, pid_t tid, struct identity *id,
    struct werr *err)
{
	char path[48], link[64];
	int fd, r = 0;
	long n;

	task_rel(p->pid, tid, "fd", path, sizeof(path));
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (gone(errno)) {
			a->changed = true;
			return 0;
		}
		if (denied(errno))
			return unreadable(a, dirfd, p->pid, tid, id);
		return werr_sys(err, "/proc/%d/%s", (int)p->pid, path);
	}
	a->nfdnums = 0;
	while ((n = sys_getdents64(fd, a->dents, sizeof(a->dents))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(a->dents + off);
			uint64_t v;

			off += d->d_reclen;
			if (parse_u64(d->d_name, &v) < 0 || v > INT32_MAX)
				continue;
			if (a->nfdnums == a->fdnums_cap) {
				a->fdnums_cap = a->fdnums_cap ? a->fdnums_cap * 2 : 256;
				a->fdnums = xrealloc(a->fdnums, a->fdnums_cap * sizeof(*a->fdnums));
			}
			a->fdnums[a->nfdnums++] = (int)v;
		}
	}
	if (n < 0) {
		if (gone(errno))
			a->changed = true;
		else if (denied(errno))
			r = unreadable(a, dirfd, p->pid, tid, id);
		else
			r = werr_sys(err, "/proc/%d/%s", (int)p->pid, path);
		a->nfdnums = 0;
	}
	/* Listed in ascending order. */
	for (size_t k = a->nfdnums; k-- > 0 && r >= 0;) {
		char name[16];
		ssize_t len;
		uint64_t ino = 0;

		snprintf(name, sizeof(name), "%d", a->fdnums[k]);
		len = readlinkat(fd, name, link, sizeof(link) - 1);
		if (len < 0) {
			if (gone(errno))
				continue;	/* closed meanwhile */
			if (denied(errno)) {
				int u = unreadable(a, dirfd, p->pid, tid, id);
				r = u < 0 ? u : r;
				break;
			}
			r = werr_sys(err, "/proc/%d/%s/%s", (int)p->pid, path, name);
			break;
		}
		link[len] = '\0';
		if (len < 10 || memcmp(link, "socket:[", 8) != 0 || link[len - 1] != ']')
			continue;
		for (ssize_t i = 8; i < len - 1 && link[i] >= '0' && link[i] <= '9'; i++)
			ino = ino * 10 + (uint64_t)(link[i] - '0');
		if (p->nsocks == p->socks_cap) {
			p->socks_cap = p->socks_cap ? p->socks_cap * 2 : 8;
			p->socks = xrealloc(p->socks, p->socks_cap * sizeof(*p->socks));
		}
		p->socks[p->nsocks].ino = ino;
		p->socks[p->nsocks].task = tid;
		p->nsocks++;
		if (ino == a->target) {
			r = 1;
			if (p->quiet)
				continue;
			if (k > 0)
				p->complete = false;
			break;
		}
	}
	close(fd);
	return r;
}

/* Do two tasks share one fd table?  false when unsure. */
static bool
same_files(struct attrib *a, pid_t t1, pid_t t2)
{
	long r;

	if (a->no_kcmp)
		return false;
	r = sys_kcmp(t1, t2);
	if (r < 0 && errno == ENOSYS)
		a->no_kcmp = true;
	return r == 0;
}

/*
 * The distinct fd tables of p (the leader's first, unless it has exited:
 * its table is gone while its threads' live on) and their sockets.
 * Threads normally share the leader's table, and kcmp() says so without a
 * path walk; a thread created without CLONE_FILES has one of its own,
 * which is read too, so that a second owner cannot hide there.  Returns
 * 1 when the target is held (p is then an owner), 0, A_ERR or A_DENY.
 */
static int
read_tables(struct attrib *a, struct proc *p, int dirfd, bool leader_dead, struct identity *id,
    struct werr *err)
{
	bool held = false;
	int r;

	p->nsocks = 0;
	p->ntables = 0;
	p->complete = true;
	for (size_t k = 0; k < p->ntasks; k++) {
		pid_t tid = p->tasks[k].tid;
		bool dup = false;

		if (tid == p->pid && leader_dead)
			continue;
		for (size_t j = 0; j < p->ntables && !dup; j++)
			dup = same_files(a, p->tables[j], tid);
		if (dup)
			continue;
		if (p->ntables == p->tables_cap) {
			p->tables_cap = p->tables_cap ? p->tables_cap * 2 : 2;
			p->tables = xrealloc(p->tables, p->tables_cap * sizeof(*p->tables));
		}
		p->tables[p->ntables++] = tid;
	}
	for (size_t j = 0; j < p->ntables; j++) {
		if ((r = read_table(a, p, dirfd, p->tables[j], id, err)) < 0)
			return r;
		if (r == 1 && !held) {
			add_owner(a, p->pid, p->tables[j], p->step);
			held = true;
			if (!p->quiet) {
				p->complete = j + 1 == p->ntables && p->complete;
				break;
			}
		}
	}
	return held;
}

static bool
holds_target(const struct attrib *a, const struct proc *p, pid_t *task)
{
	for (size_t k = 0; k < p->nsocks; k++) {
		if (p->socks[k].ino == a->target) {
			*task = p->socks[k].task;
			return true;
		}
	}
	return false;
}

/*
 * q turned out to share a table with a process that ran: its cached
 * sockets may be stale.  If this walk already served it from the cache,
 * read its tables now.
 */
static int
mark_shared(struct attrib *a, struct proc *q, struct identity *id, struct werr *err)
{
	char name[24];
	int dirfd, r;

	q->shared = true;
	if (!q->visited || !q->reused)
		return A_OK;
	q->reused = false;
	snprintf(name, sizeof(name), "%d", (int)q->pid);
	dirfd = q->pid == a->init_pid ? a->init_fd :
	    openat(a->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (!gone(errno))
			return werr_sys(err, "/proc/%s", name);
		a->changed = true;
		return A_OK;
	}
	r = proc_alive(a, q) ? read_tables(a, q, dirfd, task_state(a, dirfd, q->pid, q->pid) == 'Z',
	    id, err) : 0;
	if (dirfd != a->init_fd)
		close(dirfd);
	return r < 0 ? r : A_OK;
}

/* Place p's tables in the index; a twin there means both share a table. */
static int
index_tables(struct attrib *a, struct proc *p, struct identity *id, struct werr *err)
{
	int r;

	p->shared = false;
	for (size_t j = 0; j < p->ntables; j++) {
		struct proc *twin;

		if ((r = index_add(a, p, p->tables[j], &twin)) < 0)
			return A_RETRY;
		if (twin && twin != p) {
			p->shared = true;
			if ((r = mark_shared(a, twin, id, err)) < 0)
				return r;
		}
	}
	return A_OK;
}

static int root_check(struct attrib *a, int dirfd, pid_t pid);

static void
step_gone(struct attrib *a, size_t i)
{
	a->steps[i].gone = true;
	a->steps[i].p = NULL;
	a->changed = true;
}

/*
 * Read the process of step i afresh: status (is it still where the walk
 * says?), tasks and their run counts, children, then fd tables.  p is the
 * cache's entry for that number, if any.
 */
static int
scan(struct attrib *a, size_t i, struct proc *p, struct identity *id, struct werr *err)
{
	struct pstatus st;
	pid_t pid = a->steps[i].pid;
	char name[24];
	int dirfd, r;

	a->stats.read++;
	if (pid == a->init_pid) {
		dirfd = a->init_fd;
	} else {
		snprintf(name, sizeof(name), "%d", (int)pid);
		dirfd = openat(a->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			if (!gone(errno))
				return werr_sys(err, "/proc/%s", name);
			step_gone(a, i);
			return A_OK;
		}
	}
	/* An entry whose process is gone: the number was reused since. */
	if (p && !proc_alive(a, p)) {
		cache_del(a, p);
		p = NULL;
	}
	r = read_pstatus(a, dirfd, pid, &st, err);
	if (r == 0 && a->steps[i].up >= 0 && st.ppid != a->steps[a->steps[i].up].pid)
		r = 1;	/* no longer (or never) that parent's child */
	if (r == 0 && a->steps[i].root && pid != a->init_pid && !root_check(a, dirfd, pid))
		r = 1;
	if (r != 0) {
		if (dirfd != a->init_fd)
			close(dirfd);
		if (r < 0)
			return r;
		step_gone(a, i);
		return A_OK;
	}
	if (!p)
		p = cache_add(a, pid);
	index_drop(a, p);
	p->nspid = st.nspid;
	p->reaper = pid == a->init_pid || st.innermost == 1;
	p->gen = a->gen;
	p->verdict = V_READ;
	p->visited = true;
	p->reused = false;
	p->kids_read = false;
	p->step = i;
	a->steps[i].p = p;
	r = read_tasks(a, p, dirfd, &st, err);
	if (r == 1) {
		step_gone(a, i);
		r = A_OK;
		goto out;
	}
	if (r < 0 || (r = read_kids(a, p, dirfd, i, id, err)) < 0)
		goto out;
	if ((r = read_tables(a, p, dirfd, st.state == 'Z', id, err)) < 0)
		goto out;
	r = caching(a) ? index_tables(a, p, id, err) : A_OK;
out:
	/* Half read: never served from the cache. */
	if (r < 0 || a->steps[i].gone)
		p->quiet = false;
	if (dirfd != a->init_fd)
		close(dirfd);
	return r;
}

/*
 * Something under step i changed: an orphan may have been reparented to
 * any ancestor (a subreaper) without it running, so their children are
 * read again.
 */
static int
ancestors_again(struct attrib *a, size_t i, struct identity *id, struct werr *err)
{
	int r;

	for (ssize_t j = a->steps[i].up; j >= 0; j = a->steps[j].up) {
		struct proc *q = a->steps[j].p;

		if (q && !q->kids_read && (r = reread_kids(a, (size_t)j, id, err)) < 0)
			return r;
	}
	return A_OK;
}

static int
visit(struct attrib *a, size_t i, struct identity *id, struct werr *err)
{
	struct proc *p = cache_find(a, a->steps[i].pid);
	pid_t task;
	int r;

	if (p && p->gen == a->gen && p->verdict == V_SAME && !p->visited && !p->shared) {
		a->stats.reused++;
		p->visited = p->reused = true;
		p->kids_read = false;
		p->step = i;
		a->steps[i].p = p;
		if (p->reaper) {
			if ((r = reread_kids(a, i, id, err)) < 0)
				return r;
		} else {
			for (size_t k = 0; k < p->nkids; k++)
				if ((r = walk_push(a, p->kids[k], (ssize_t)i, false, id)) < 0)
					return r;
		}
		if (holds_target(a, p, &task))
			add_owner(a, p->pid, task, i);
		return A_OK;
	}
	if ((r = scan(a, i, p, id, err)) < 0)
		return r;
	return ancestors_again(a, i, id, err);
}

/*
 * The verdict on every cached process, before the walk: unchanged ones
 * stay in the index, the others leave it (they are re-added when read) and
 * gone ones are forgotten.
 */
static void
check_all(struct attrib *a, bool trust)
{
	if (!trust)
		a->nindex = 0;
	a->ntids = 0;
	for (size_t i = 0; i < a->tab_cap; i++) {
		struct proc *p = a->tab[i];
		int v;

		if (!p)
			continue;
		v = trust ? verdict(p) : V_RAN;
		a->stats.checked += trust;
		p->gen = a->gen;
		p->visited = p->reused = p->kids_read = false;
		if (!trust)
			p->indexed = false;
		if (v < 0) {
			tids_push(a, p->pid);	/* forgotten below, not while the table is walked */
			v = V_RAN;
		}
		p->verdict = (uint8_t)v;
		if (v != V_SAME)
			index_drop(a, p);
	}
	for (size_t k = 0; k < a->ntids; k++)
		cache_del(a, cache_find(a, a->tids[k]));
	a->ntids = 0;
}

/* After a complete walk: forget the processes it did not reach. */
static void
evict_unreached(struct attrib *a)
{
	a->ntids = 0;
	for (size_t i = 0; i < a->tab_cap; i++)
		if (a->tab[i] && !(a->tab[i]->gen == a->gen && a->tab[i]->visited))
			tids_push(a, a->tab[i]->pid);
	for (size_t k = 0; k < a->ntids; k++)
		cache_del(a, cache_find(a, a->tids[k]));
	a->ntids = 0;
}

static void
root_drop(struct attrib *a, pid_t pid)
{
	for (size_t k = 0; k < a->nroots; k++) {
		if (a->roots[k].pid == pid) {
			a->roots[k] = a->roots[--a->nroots];
			return;
		}
	}
}

/* Is this (open /proc/PID) the joined process remembered as a root? */
static int
root_check(struct attrib *a, int dirfd, pid_t pid)
{
	for (size_t k = 0; k < a->nroots; k++) {
		if (a->roots[k].pid != pid)
			continue;
		if (start_time_at(a, dirfd) == a->roots[k].start)
			return 1;
		break;
	}
	root_drop(a, pid);
	return 0;
}

/*
 * Breadth-first from init and the joined roots.  With trust, processes
 * that provably did not run since they were read are served from the
 * cache; without, every process is read.
 */
static int
walk(struct attrib *a, bool trust, struct identity *id, struct werr *err)
{
	int r;

	a->nsteps = 0;
	a->nowners = 0;
	a->changed = false;
	if (++a->gen == 0) {	/* wrapped: stale slots could look live */
		if (a->seen)
			memset(a->seen, 0, a->seen_cap * sizeof(*a->seen));
		for (size_t i = 0; i < a->tab_cap; i++)
			if (a->tab[i])
				a->tab[i]->gen = 0;
		a->gen = 1;
	}
	set_kept_max(a);
	check_all(a, trust);
	if ((r = walk_push(a, a->init_pid, -1, true, id)) < 0)
		return r;
	/*
	 * The roots come right after init, before its tree: a root whose
	 * number now names a process of the tree is found gone (another
	 * start time) and dropped, and that process is queued again.
	 */
	for (size_t k = 0; k < a->nroots; k++)
		if ((r = walk_push(a, a->roots[k].pid, -1, true, id)) < 0)
			return r;
	for (size_t i = 0; i < a->nsteps; i++) {
		if ((r = visit(a, i, id, err)) < 0)
			return r;
		if (a->steps[i].gone && a->steps[i].root && a->steps[i].pid != a->init_pid)
			root_drop(a, a->steps[i].pid);
	}
	a->stats.walked += a->nsteps;
	evict_unreached(a);
	return A_OK;
}

/* -- joined processes -- */

/* Is pid in the sandbox's pid namespace?  1 yes, 0 no, -1 gone or unknown. */
static int
in_sandbox_ns(struct attrib *a, pid_t pid)
{
	char path[48];
	struct stat st;

	snprintf(path, sizeof(path), "%d/ns/pid", (int)pid);
	if (fstatat(a->proc_fd, path, &st, 0) < 0)
		/*
		 * Permission denied: a process we may not inspect.  The
		 * supervisor owns the sandbox's user namespace (or is root),
		 * so that is a process of some other user, outside.
		 */
		return denied(errno) ? 0 : -1;
	return st.st_dev == a->ns_dev && st.st_ino == a->ns_ino;
}

static size_t
outside_slot(const struct attrib *a, pid_t pid)
{
	size_t i;

	for (i = pid_slot(pid, a->outside_cap); a->outside[i].pid && a->outside[i].pid != pid;
	    i = (i + 1) & (a->outside_cap - 1))
		;
	return i;
}

/*
 * Remember that the process with this number and /proc inode is outside.
 * The inode number of /proc/PID belongs to that process's directory: a new
 * process reusing the number gets another.  Only "outside" is remembered,
 * so a stale entry can hide a joined process (its connections are then
 * refused), never make a stranger an owner.
 */
static void
outside_add(struct attrib *a, pid_t pid, uint64_t ino)
{
	size_t i;

	if (ino <= 1)	/* the kernel could not name the inode */
		return;
	if ((a->noutside + 1) * 2 > a->outside_cap) {
		if (a->noutside >= OUTSIDE_MAX) {
			memset(a->outside, 0, a->outside_cap * sizeof(*a->outside));
			a->noutside = 0;
		} else {
			struct outside *old = a->outside;
			size_t oldcap = a->outside_cap;

			a->outside_cap = oldcap ? oldcap * 2 : 1024;
			a->outside = xcalloc(a->outside_cap, sizeof(*a->outside));
			for (size_t j = 0; j < oldcap; j++)
				if (old[j].pid)
					a->outside[outside_slot(a, old[j].pid)] = old[j];
			free(old);
		}
	}
	i = outside_slot(a, pid);
	if (!a->outside[i].pid)
		a->noutside++;
	a->outside[i].pid = pid;
	a->outside[i].ino = ino;
}

static bool
outside_known(const struct attrib *a, pid_t pid, uint64_t ino)
{
	size_t i;

	if (!a->outside_cap)
		return false;
	i = outside_slot(a, pid);
	return a->outside[i].pid == pid && a->outside[i].ino == ino;
}

/* PPid and start time from /proc/PID/stat; -1 when gone. */
static int
parent_of(struct attrib *a, pid_t pid, pid_t *ppid, unsigned long long *start)
{
	char path[32];
	const char *p;
	size_t n, field = 2;
	uint64_t v = 0;

	snprintf(path, sizeof(path), "%d/stat", (int)pid);
	if (read_small(a, a->proc_fd, path, &n) < 0 || !(p = strrchr(a->io, ')')) || p[1] != ' ')
		return -1;
	/* ") S PPID ..." */
	for (p += 2; *p && *p != ' '; p++)
		;
	for (p++; *p >= '0' && *p <= '9' && v <= INT32_MAX; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	*ppid = (pid_t)v;
	for (field = 4, *start = 0; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	for (; *p >= '0' && *p <= '9' && *start < ULLONG_MAX / 10; p++)
		*start = *start * 10 + (unsigned long long)(*p - '0');
	return 0;
}

/*
 * Find processes of the sandbox's pid namespace that the walk did not
 * reach, and make the topmost of each chain (its parent is outside the
 * namespace: the `warden exec` process) a root of later walks.
 */
static int
discover(struct attrib *a, struct werr *err)
{
	int fd = openat(a->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return werr_sys(err, "/proc");
	while ((n = sys_getdents64(fd, a->dents, sizeof(a->dents))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(a->dents + off);
			pid_t pid = parse_pid(d->d_name), cur, up;
			unsigned long long start = 0;
			int in;

			off += d->d_reclen;
			if (!pid || walk_met(a, pid) || outside_known(a, pid, d->d_ino))
				continue;
			if ((in = in_sandbox_ns(a, pid)) == 0)
				outside_add(a, pid, d->d_ino);
			if (in != 1)
				continue;
			/* Climb while the parent is in the namespace too. */
			cur = pid;
			for (size_t depth = 0;; depth++) {
				if (depth == CLIMB_MAX || parent_of(a, cur, &up, &start) < 0 || up <= 0 ||
				    walk_met(a, up)) {
					cur = 0;	/* gone, or new under the tree: the next walk sees it */
					break;
				}
				if ((in = in_sandbox_ns(a, up)) != 1) {
					if (in < 0)
						cur = 0;
					break;	/* up is outside: cur is a root (start is its own) */
				}
				cur = up;
			}
			if (!cur || a->nroots == ROOTS_MAX)
				continue;
			for (size_t k = 0; k < a->nroots && cur; k++)
				if (a->roots[k].pid == cur)
					cur = 0;
			if (cur) {
				a->roots[a->nroots].pid = cur;
				a->roots[a->nroots].start = start;
				a->nroots++;
			}
		}
	}
	close(fd);
	return A_OK;
}

/* ---- step 3: executables, their content, the ancestry ---------------------- */

/* Returns the cached hash for the file behind fd, hashing it on a miss. */
static int
content_hash(struct attrib *a, int fd, const char *exe, char sha256[SHA256_HEX_LEN + 1],
    struct identity *id, struct werr *err)
{
	struct stat st, st2;
	struct content *c;

	if (fstat(fd, &st) < 0)
		return werr_sys(err, "fstat %s", exe);
	for (size_t i = 0; i < a->ncache; i++) {
		c = &a->cache[i];
		if (c->dev == st.st_dev && c->ino == st.st_ino && c->size == st.st_size &&
		    c->mtim.tv_sec == st.st_mtim.tv_sec && c->mtim.tv_nsec == st.st_mtim.tv_nsec &&
		    c->ctim.tv_sec == st.st_ctim.tv_sec && c->ctim.tv_nsec == st.st_ctim.tv_nsec) {
			memcpy(sha256, c->sha256, sizeof(c->sha256));
			return A_OK;
		}
	}
	if (!S_ISREG(st.st_mode))
		return deny(id, "executable %s is not a regular file", exe);
	if (st.st_size > EXE_SIZE_MAX)
		return deny(id, "executable %s is larger than %lld bytes; not hashed", exe,
		    (long long)EXE_SIZE_MAX);
	if (sha256_file_fd(fd, sha256, err) < 0) {
		werr_prefix(err, "hash %s", exe);
		return A_ERR;
	}
	/* Written to while we read it: the hash describes no single version. */
	if (fstat(fd, &st2) < 0)
		return werr_sys(err, "fstat %s", exe);
	if (st2.st_size != st.st_size || st2.st_mtim.tv_sec != st.st_mtim.tv_sec ||
	    st2.st_mtim.tv_nsec != st.st_mtim.tv_nsec || st2.st_ctim.tv_sec != st.st_ctim.tv_sec ||
	    st2.st_ctim.tv_nsec != st.st_ctim.tv_nsec)
		return deny(id, "executable %s changed while it was being hashed", exe);
	if (a->ncache == CACHE_MAX)
		a->ncache = 0;
	c = &a->cache[a->ncache++];
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->size = st.st_size;
	c->mtim = st.st_mtim;
	c->ctim = st.st_ctim;
	memcpy(c->sha256, sha256, sizeof(c->sha256));
	return A_OK;
}

static size_t
str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* The first hash seen for a path stays; a different one later is refused. */
static int
pin_check(struct attrib *a, const char *exe, const char *sha256, struct identity *id)
{
	size_t i;

	if (a->npins * 2 >= a->pins_cap) {
		struct pin *old = a->pins;
		size_t oldcap = a->pins_cap;

		if (a->npins >= PINS_MAX)
			goto lookup_only;
		a->pins_cap = oldcap ? oldcap * 2 : 64;
		a->pins = xcalloc(a->pins_cap, sizeof(*a->pins));
		for (size_t j = 0; j < oldcap; j++) {
			if (!old[j].path)
				continue;
			for (i = str_hash(old[j].path) & (a->pins_cap - 1); a->pins[i].path;
			    i = (i + 1) & (a->pins_cap - 1))
				;
			a->pins[i] = old[j];
		}
		free(old);
	}
lookup_only:
	for (i = str_hash(exe) & (a->pins_cap - 1); a->pins[i].path; i = (i + 1) & (a->pins_cap - 1)) {
		if (strcmp(a->pins[i].path, exe) != 0)
			continue;
		if (strcmp(a->pins[i].sha256, sha256) != 0)
			return deny(id, "content of %s changed during the sandbox's life "
			    "(sha256 was %s, now %s)", exe, a->pins[i].sha256, sha256);
		return A_OK;
	}
	if (a->npins >= PINS_MAX)
		return deny(id, "more than %d distinct executables seen in this sandbox", PINS_MAX);
	a->pins[i].path = xstrdup(exe);
	memcpy(a->pins[i].sha256, sha256, SHA256_HEX_LEN + 1);
	a->npins++;
	return A_OK;
}

/*
 * Resolve the executable of task (a pid or a tid): its path and pinned
 * hash.  Returns A_OK, EXE_GONE when the task (or its memory) is gone,
 * EXE_DENIED when we may not open it (id->why untouched), A_ERR or A_DENY.
 */
enum { EXE_GONE = 1, EXE_DENIED = 2 };

static int
resolve_exe(struct attrib *a, pid_t task, struct exe *out, struct identity *id, struct werr *err)
{
	char path[64];
	size_t sl = strlen(DELETED_SUFFIX);
	ssize_t len;
	int fd, dirfd, r;

	out->path[0] = out->sha256[0] = '\0';
	dirfd = proc_path(a, task, "exe", path, sizeof(path));
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (gone(errno))
			return EXE_GONE;
		if (denied(errno))
			return EXE_DENIED;
		return werr_sys(err, "/proc/%d/exe", (int)task);
	}
	snprintf(path, sizeof(path), "self/fd/%d", fd);
	len = readlinkat(a->proc_fd, path, out->path, sizeof(out->path));
	if (len < 0 || (size_t)len >= sizeof(out->path)) {
		r = len < 0 ? werr_sys(err, "readlink /proc/%s", path) :
		    deny(id, "executable path of pid %d is too long", (int)task);
		close(fd);
		return r;
	}
	out->path[len] = '\0';
	if ((size_t)len > sl && strcmp(out->path + len - sl, DELETED_SUFFIX) == 0) {
		close(fd);
		return deny(id, "binary %.*s was deleted or replaced while running (pid %d)",
		    (int)((size_t)len - sl), out->path, (int)task);
	}
	r = content_hash(a, fd, out->path, out->sha256, id, err);
	close(fd);
	if (r < 0)
		return r;
	return pin_check(a, out->path, out->sha256, id);
}


/* Field 22 of PATH (a /proc/PID/stat), in clock ticks since boot; 0 if unreadable. */
static unsigned long long
stat_start(struct attrib *a, int dirfd, const char *path)
{
	size_t n, field = 2;
	unsigned long long v = 0;
	const char *p;

	if (read_small(a, dirfd, path, &n) < 0 || !(p = strrchr(a->io, ')')))
		return 0;
	/* The command name may hold spaces and parentheses; count after the last ')'. */
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	for (; *p >= '0' && *p <= '9' && v < ULLONG_MAX / 10; p++)
		v = v * 10 + (unsigned long long)(*p - '0');
	return v;
}

static unsigned long long
start_time(struct attrib *a, pid_t pid)
{
	char path[64];
	int dirfd = proc_path(a, pid, "stat", path, sizeof(path));

	return stat_start(a, dirfd, path);
}

static unsigned long long
start_time_at(struct attrib *a, int dirfd)
{
	return stat_start(a, dirfd, "stat");
}

/*
 * ppid and the ancestors' executables (pinned like the owner's: policy
 * rules that allow a binary's children trust them), from the walk: the
 * chain ends at init (excluded) or, for a process under a joined root, at
 * that root (included; its parent is outside the sandbox).  Each ancestor
 * is checked to still be the process the walk read before its executable
 * is resolved, so a process outside the sandbox never gets its binaries
 * pinned.  e is scratch space.
 */
static int
ancestry(struct attrib *a, size_t step, struct exe *e, struct identity *id, struct werr *err)
{
	size_t chain[ATTRIB_MAX_ANCESTORS], n = 0;
	ssize_t j = a->steps[step].up;
	int r;

	id->ppid = 0;
	if (j >= 0)
		id->ppid = a->steps[j].pid == a->init_pid ? a->init_nspid : a->steps[j].p->nspid;
	for (; j >= 0 && a->steps[j].pid != a->init_pid && n < ATTRIB_MAX_ANCESTORS;
	    j = a->steps[j].up)
		chain[n++] = (size_t)j;
	for (size_t i = 0; i < n; i++) {
		struct proc *q = a->steps[chain[i]].p;

		if (!proc_alive(a, q))
			return deny(id, "pid %d exited during attribution", (int)q->pid);
		if ((r = resolve_exe(a, q->pid, e, id, err)) < 0)
			return r;
		if (r == A_OK && !proc_alive(a, q))
			return deny(id, "pid %d exited during attribution", (int)q->pid);
		/* Gone since, or a leader whose threads live on: no executable to name. */
		id->ancestors[id->nancestors++] = xstrdup(r == A_OK ? e->path : "(unknown)");
	}
	return A_OK;
}

/* ---- the lookup ------------------------------------------------------------ */

struct distinct {
	struct exe exe;
	pid_t pid;		/* in the sandbox */
};

static int
describe(struct attrib *a, struct identity *id, struct werr *err)
{
	struct distinct *d = xcalloc(a->nowners, sizeof(*d));
	struct exe *e = xmalloc(sizeof(*e));
	size_t nd = 0, live = 0, best = 0;
	unsigned long long best_start = 0;
	int r = A_OK;

	for (size_t i = 0; i < a->nowners; i++) {
		const struct owner *o = &a->owners[i];
		struct proc *p = a->steps[o->step].p;
		size_t k;

		if (!proc_alive(a, p))
			continue;
		r = resolve_exe(a, o->task, e, id, err);
		if (r == A_OK && !proc_alive(a, p))
			r = EXE_GONE;	/* the number may name another process by now */
		if (r < 0 || r == EXE_DENIED) {
			if (!id->exe[0]) {
				snprintf(id->exe, sizeof(id->exe), "%s", e->path);
				id->pid = p->nspid;
				id->host_pid = o->pid;
			}
			if (r == EXE_DENIED) {
				char comm[64];
				read_comm(a, o->pid, comm, sizeof(comm));
				r = deny(id, "cannot open the executable of pid %d (%s): "
				    "permission denied", (int)o->pid, comm);
			}
			goto out;
		}
		if (r == EXE_GONE)
			continue;
		for (k = 0; k < nd; k++)
			if (strcmp(d[k].exe.path, e->path) == 0)
				break;
		if (k == nd) {
			d[nd].exe = *e;
			d[nd].pid = p->nspid;
			nd++;
		}
		if (live == 0) {
			snprintf(id->exe, sizeof(id->exe), "%s", e->path);
			memcpy(id->sha256, e->sha256, sizeof(id->sha256));
			id->pid = p->nspid;
			id->host_pid = o->pid;
			best = i;
		}
		live++;
		/* Same binary everywhere: name the most recently started owner. */
		if (a->nowners > 1) {
			unsigned long long st = start_time(a, o->pid);
			if (live == 1 || st > best_start ||
			    (st == best_start && o->pid < a->owners[best].pid)) {
				best = i;
				best_start = st;
			}
		}
	}
	r = A_OK;
	id->nowners = live;
	if (live == 0) {
		r = deny(id, "no process in the sandbox owns the connection");
		goto out;
	}
	if (nd > 1) {
		size_t off = (size_t)snprintf(id->why, sizeof(id->why),
		    "socket shared by processes running different binaries: ");
		for (size_t k = 0; k < nd && off < sizeof(id->why); k++)
			off += (size_t)snprintf(id->why + off, sizeof(id->why) - off, "%s%s (pid %d)",
			    k ? ", " : "", d[k].exe.path, (int)d[k].pid);
		r = A_DENY;
		goto out;
	}
	id->host_pid = a->owners[best].pid;
	id->pid = a->steps[a->owners[best].step].p->nspid;
	r = ancestry(a, a->owners[best].step, e, id, err);
out:
	free(e);
	free(d);
	return r;
}

/* A walk; a cache that cannot be kept consistent is given up for good. */
static int
walk_once(struct attrib *a, bool trust, struct identity *id, struct werr *err)
{
	int r = walk(a, trust, id, err);

	if (r == A_RETRY) {
		a->cache_ok = false;
		r = walk(a, false, id, err);
	}
	return r;
}

int
attrib_lookup(struct attrib *a, const struct sockaddr *client, const struct sockaddr *server,
    struct identity *id, struct werr *err)
{
	struct endpoint c, s;
	uint64_t ino = 0;
	bool found = false, trust;
	int r;

	memset(id, 0, sizeof(*id));
	memset(&a->stats, 0, sizeof(a->stats));
	if (endpoint_from(client, &c) < 0 || endpoint_from(server, &s) < 0 || c.v4 != s.v4) {
		deny(id, "connection is not TCP over IPv4 or IPv6");
		return -1;
	}
	r = a->diag_fd >= 0 ? diag_inode(a, &c, &s, &ino, &found, err) :
	    procnet_inode(a, &c, &s, &ino, &found, err);
	if (r < 0)
		goto fail;
	if (!found) {
		deny(id, "connection not found in the sandbox's network namespace");
		return -1;
	}
	if (ino == 0) {	/* closed by every holder; only the kernel keeps it */
		deny(id, "no process in the sandbox owns the connection");
		return -1;
	}
	a->target = ino;
	trust = caching(a);
	if ((r = walk_once(a, trust, id, err)) < 0)
		goto fail;
	/*
	 * No owner: perhaps a process that joined the sandbox from outside
	 * (remembered from now on), perhaps one that vanished under the walk.
	 * Every process is read again before the connection is refused.
	 */
	if (a->nowners == 0 && a->can_join) {
		size_t before = a->nroots;

		if ((r = discover(a, err)) < 0)
			goto fail;
		if (a->nroots > before && (r = walk_once(a, trust, id, err)) < 0)
			goto fail;
	}
	for (int tries = 0; a->nowners == 0 && tries < WALK_TRIES && (trust || a->changed);
	    tries++) {
		trust = false;
		if ((r = walk_once(a, false, id, err)) < 0)
			goto fail;
	}
	if (a->nowners == 0) {
		deny(id, "no process in the sandbox owns the connection");
		return -1;
	}
	if ((r = describe(a, id, err)) < 0)
		goto fail;
	return 0;
fail:
	if (r == A_ERR)
		snprintf(id->why, sizeof(id->why), "attribution failed: %s", err->msg);
	return -1;
}

/* ---- setup ----------------------------------------------------------------- */

/*
 * Does the kernel give what the process cache relies on?  Run counts in
 * schedstat (CONFIG_SCHED_INFO; "0 0 0" when off, and this process has
 * surely run), a wait channel that is named only for a task that is
 * blocked and dequeued (the /proc/PID/wchan file needs CONFIG_KALLSYMS;
 * the semantics need 5.16), and kcmp(KCMP_FILES).
 */
static bool
cache_supported(struct attrib *a)
{
	struct utsname u;
	unsigned long major = 0, minor = 0;
	const char *p;
	uint64_t runs;
	int fd;
	bool ok;

	if (uname(&u) < 0)
		return false;
	for (p = u.release; *p >= '0' && *p <= '9' && major < 1000; p++)
		major = major * 10 + (unsigned long)(*p - '0');
	if (*p++ == '.')
		for (; *p >= '0' && *p <= '9' && minor < 1000; p++)
			minor = minor * 10 + (unsigned long)(*p - '0');
	if (major < 5 || (major == 5 && minor < 16))
		return false;
	if ((fd = openat(a->proc_fd, "thread-self/schedstat", O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	ok = read_runs(fd, &runs) == 0 && runs > 0;
	close(fd);
	if (!ok || faccessat(a->proc_fd, "self/wchan", R_OK, 0) < 0)
		return false;
	return sys_kcmp(getpid(), getpid()) == 0;
}

struct attrib *
attrib_new(pid_t init_pid, int diag_fd, struct werr *err)
{
	struct attrib *a = xcalloc(1, sizeof(*a));
	struct pstatus st;
	struct stat ns;
	size_t n, fields = 0;
	const char *p;
	int r;

	a->init_pid = init_pid;
	a->diag_fd = diag_fd;
	a->proc_fd = a->init_fd = -1;
	a->gen = 1;
	a->use_cache = true;
	if (init_pid <= 0) {
		werr_set(err, "attribution: invalid init pid %d", (int)init_pid);
		goto fail;
	}
	if (diag_fd >= 0 && fcntl(diag_fd, F_SETFD, FD_CLOEXEC) < 0) {
		werr_sys(err, "attribution: diag socket");
		goto fail;
	}
	a->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->proc_fd < 0) {
		werr_sys(err, "attribution: open /proc");
		goto fail;
	}
	{
		char path[32];
		snprintf(path, sizeof(path), "%d", (int)init_pid);
		a->init_fd = openat(a->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (a->init_fd < 0) {
		werr_sys(err, "attribution: /proc/%d", (int)init_pid);
		goto fail;
	}
	/* The sandbox's namespace is the innermost one of its init. */
	if (read_small(a, a->init_fd, "status", &n) < 0) {
		werr_sys(err, "attribution: /proc/%d/status", (int)init_pid);
		goto fail;
	}
	if (!(p = strstr(a->io, "\nNSpid:"))) {
		werr_set(err, "attribution: /proc/%d/status has no NSpid (kernel older than 4.1)",
		    (int)init_pid);
		goto fail;
	}
	for (p += 7; *p && *p != '\n';) {
		while (*p == '\t' || *p == ' ')
			p++;
		if (*p >= '0' && *p <= '9')
			fields++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (fields == 0) {
		werr_set(err, "attribution: /proc/%d/status: bad NSpid", (int)init_pid);
		goto fail;
	}
	a->ns_level = fields - 1;
	if ((r = read_pstatus(a, a->init_fd, init_pid, &st, err)) != A_OK) {
		if (r == 1)
			werr_set(err, "attribution: sandbox init (pid %d) is gone", (int)init_pid);
		else
			werr_prefix(err, "attribution");
		goto fail;
	}
	a->init_nspid = st.nspid;
	/*
	 * Joined processes are looked for only when init is the init of a pid
	 * namespace below the supervisor's: otherwise "the same namespace as
	 * init" would take in processes that are not the sandbox's.
	 */
	if (a->ns_level > 0 && a->init_nspid == 1 && fstatat(a->init_fd, "ns/pid", &ns, 0) == 0) {
		a->can_join = true;
		a->ns_dev = ns.st_dev;
		a->ns_ino = ns.st_ino;
	}
	a->cache_ok = cache_supported(a);
	return a;
fail:
	attrib_free(a);
	return NULL;
}

void
attrib_set_cache(struct attrib *a, bool on)
{
	a->use_cache = on;
}

void
attrib_get_stats(const struct attrib *a, struct attrib_stats *out)
{
	*out = a->stats;
	out->cache = caching(a);
	out->roots = a->nroots;
}

void
attrib_free(struct attrib *a)
{
	if (!a)
		return;
	if (a->diag_fd >= 0)
		close(a->diag_fd);
	if (a->proc_fd >= 0)
		close(a->proc_fd);
	if (a->init_fd >= 0)
		close(a->init_fd);
	for (size_t i = 0; i < a->tab_cap; i++) {
		struct proc *p = a->tab[i];

		if (!p)
			continue;
		for (size_t k = 0; k < p->ntasks; k++) {
			if (p->tasks[k].runs_fd >= 0)
				close(p->tasks[k].runs_fd);
			if (p->tasks[k].kids_fd >= 0)
				close(p->tasks[k].kids_fd);
		}
		free(p->tasks);
		free(p->kids);
		free(p->socks);
		free(p->tables);
		free(p);
	}
	free(a->tab);
	free(a->index);
	for (size_t i = 0; i < a->pins_cap; i++)
		free(a->pins[i].path);
	free(a->pins);
	free(a->steps);
	free(a->seen);
	free(a->owners);
	free(a->tids);
	free(a->fdnums);
	free(a->outside);
	free(a);
}

void
identity_free(struct identity *id)
{
	if (!id)
		return;
	for (size_t i = 0; i < id->nancestors; i++) {
		free(id->ancestors[i]);
		id->ancestors[i] = NULL;
	}
	id->nancestors = 0;
}
