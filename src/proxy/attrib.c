/*
 * Attribution: from the 4-tuple of an accepted connection to the process,
 * and the binary, that opened it.
 *
 * The kernel keeps no index from a socket to the processes holding it, so
 * the only way from outside is the one lsof and ss -p take: find the
 * socket's inode, then read the fd table of every candidate process.  What
 * makes that usable on the proxy's hot path is the candidate set: the
 * sandbox's processes only, found by walking down from its init through
 * /proc/PID/task/TID/children (a process forked by a non-main thread is
 * listed under that thread, so every task is visited).  Everything is read
 * with openat() relative to one /proc directory fd, directories with raw
 * getdents64(), files with single read()s into buffers that live as long
 * as the struct attrib; nothing per lookup goes through stdio.
 *
 * The inode comes from sock_diag when the sandbox's init gave us a netlink
 * socket created in its network namespace (a netlink socket's namespace is
 * fixed at creation, so it answers about the sandbox from outside), else
 * from /proc/INIT/net/tcp{,6}.  sock_diag is an exact hash lookup in the
 * kernel; the /proc files make the kernel walk the whole TCP hash table,
 * which is shared with the host, so their cost grows with the host's load.
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
 *
 * A process's fd table is read through its main thread; its other threads
 * are compared with kcmp(KCMP_FILES), one cheap call each, and read only
 * when they have a table of their own (clone without CLONE_FILES) or the
 * main thread has exited.  Every failure to read something that might
 * hold the socket (permission denied on a live process, too many
 * processes) fails the attribution: an owner we cannot see could be
 * running a different binary.  Processes that vanish while we look are
 * skipped; if that leaves the socket without owner, the walk is repeated,
 * because a process that exited may have had children that were
 * reparented behind the walk's back.
 *
 * Cost: per process, a stat of its task directory, its children file and
 * its fd directory (about 8 system calls), plus one readlink per open
 * descriptor.  No cache can soundly skip a process: nothing cheap tells
 * whether its fd table changed since the last look.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/kcmp.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "../lib/hash.h"
#include "../lib/util.h"

#define ANCESTRY_MAX 4096	/* parent links followed before giving up */
#define PINS_MAX 65536		/* distinct executable paths per sandbox */
#define CACHE_MAX 256		/* content hashes kept; the table restarts when full */
#define EXE_SIZE_MAX (1LL << 30)	/* larger binaries are not hashed */
#define WALK_TRIES 3		/* walks when processes vanish and no owner is found */
#define TCP_STATE_TIME_WAIT 6
#define TCP_STATE_LISTEN 10
#define DELETED_SUFFIX " (deleted)"

/* Internal results: A_ERR means err is set, A_DENY that id->why is. */
enum { A_OK = 0, A_ERR = -1, A_DENY = -2 };

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

struct seen {
	pid_t pid;
	uint32_t gen;		/* slot is live when gen == attrib.gen */
};

/* A process holding the socket, and the task whose fd table showed it. */
struct owner {
	pid_t pid, task;
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

struct attrib {
	pid_t init_pid;
	int diag_fd;		/* -1: read /proc/INIT/net instead */
	int proc_fd;		/* /proc */
	int init_fd;		/* /proc/INIT: a dead init is ESRCH, never a reused pid */
	size_t ns_level;	/* index of the sandbox's pid in NSpid lines */
	pid_t init_nspid;	/* init's own number there (1 in a real sandbox) */
	uint32_t seq;

	/* The walk: every process found, in breadth-first order. */
	pid_t *procs;
	size_t nprocs, procs_cap;
	struct seen *seen;	/* open addressing, size a power of two */
	size_t seen_cap;
	uint32_t gen;
	bool changed;		/* a process vanished during the walk */
	struct owner *owners;
	size_t nowners, owners_cap;
	pid_t *tids;		/* the current process's tasks but its leader */
	size_t ntids, tids_cap;
	bool no_kcmp;		/* kernel without kcmp(): read every task's table */

	struct content cache[CACHE_MAX];
	size_t ncache;
	struct pin *pins;	/* open addressing, size a power of two */
	size_t npins, pins_cap;

	char target[32];	/* "socket:[INODE]" */
	size_t target_len;
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

/* Read a small /proc file whole into a->io; 0, or -1 with errno. */
static int
read_small(struct attrib *a, int dirfd, const char *path, size_t *len)
{
	size_t n = 0;
	ssize_t r;
	int fd, saved;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (n < sizeof(a->io) - 1) {
		r = read(fd, a->io + n, sizeof(a->io) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	a->io[n] = '\0';
	*len = n;
	return 0;
}

static long
sys_getdents64(int fd, void *buf, size_t len)
{
	return syscall(SYS_getdents64, fd, buf, len);
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

/* Add pid to the walk unless already there; A_DENY past ATTRIB_MAX_PROCS. */
static int
walk_push(struct attrib *a, pid_t pid, struct identity *id)
{
	size_t i;

	if (a->nprocs * 2 >= a->seen_cap) {
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
	for (i = pid_slot(pid, a->seen_cap); a->seen[i].gen == a->gen; i = (i + 1) & (a->seen_cap - 1))
		if (a->seen[i].pid == pid)
			return A_OK;	/* a pid met twice: reuse during the walk, never a loop */
	if (a->nprocs >= ATTRIB_MAX_PROCS)
		return deny(id, "more than %d processes in the sandbox", ATTRIB_MAX_PROCS);
	a->seen[i].pid = pid;
	a->seen[i].gen = a->gen;
	if (a->nprocs == a->procs_cap) {
		a->procs_cap = a->procs_cap ? a->procs_cap * 2 : 256;
		a->procs = xrealloc(a->procs, a->procs_cap * sizeof(*a->procs));
	}
	a->procs[a->nprocs++] = pid;
	return A_OK;
}

/* Queue the pids listed in dirfd/path ("TID/children": "12 34 "). */
static int
read_children(struct attrib *a, int dirfd, const char *path, struct identity *id,
    struct werr *err)
{
	char buf[4096];
	uint64_t v = 0;
	bool in_num = false;
	ssize_t n;
	int fd, r;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (gone(errno)) {
			a->changed = true;
			return A_OK;
		}
		return werr_sys(err, "%s", path);
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (gone(errno)) {
				a->changed = true;
				break;
			}
			werr_sys(err, "%s", path);
			close(fd);
			return A_ERR;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				v = v * 10 + (uint64_t)(buf[i] - '0');
				if (v > INT32_MAX) {
					close(fd);
					return werr_set(err, "%s: bad pid", path);
				}
				in_num = true;
			} else if (in_num) {
				if ((r = walk_push(a, (pid_t)v, id)) < 0) {
					close(fd);
					return r;
				}
				v = 0;
				in_num = false;
			}
		}
	}
	close(fd);
	if (in_num)
		return walk_push(a, (pid_t)v, id);
	return A_OK;
}

/*
 * Queue the children of every task of pid, and leave its other tasks in
 * a->tids.  A single-threaded process is recognised by the link count of
 * its task directory (2 + threads), which saves listing that directory in
 * the common case.
 */
static int
walk_children(struct attrib *a, pid_t pid, struct identity *id, struct werr *err)
{
	char path[64];
	struct stat st;
	int dirfd, tfd, r = A_OK;
	long n;

	a->ntids = 0;
	dirfd = proc_path(a, pid, "task", path, sizeof(path));
	if (fstatat(dirfd, path, &st, 0) < 0) {
		if (gone(errno)) {
			a->changed = true;
			return A_OK;
		}
		return werr_sys(err, "/proc/%s", path);
	}
	if (st.st_nlink == 3) {
		char cpath[80];
		snprintf(cpath, sizeof(cpath), "%s/%d/children", path, (int)pid);
		return read_children(a, dirfd, cpath, id, err);
	}
	tfd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0) {
		if (gone(errno)) {
			a->changed = true;
			return A_OK;
		}
		return werr_sys(err, "/proc/%s", path);
	}
	while (r == A_OK && (n = sys_getdents64(tfd, a->dents, sizeof(a->dents))) > 0) {
		for (long off = 0; off < n && r == A_OK;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(a->dents + off);
			char cpath[300];
			uint64_t tid;

			off += d->d_reclen;
			if (parse_u64(d->d_name, &tid) < 0 || tid > INT32_MAX)
				continue;
			snprintf(cpath, sizeof(cpath), "%s/children", d->d_name);
			r = read_children(a, tfd, cpath, id, err);
			if ((pid_t)tid == pid)
				continue;
			if (a->ntids == a->tids_cap) {
				a->tids_cap = a->tids_cap ? a->tids_cap * 2 : 64;
				a->tids = xrealloc(a->tids, a->tids_cap * sizeof(*a->tids));
			}
			a->tids[a->ntids++] = (pid_t)tid;
		}
	}
	if (r == A_OK && n < 0) {
		if (gone(errno))
			a->changed = true;
		else
			r = werr_sys(err, "/proc/%s", path);
	}
	close(tfd);
	return r;
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

/* Directory fd and relative path for /proc/PID/task/TID/rel (or /proc/PID/rel). */
static int
task_path(const struct attrib *a, pid_t pid, pid_t tid, const char *rel, char *buf, size_t len)
{
	char sub[64];

	if (tid == pid)
		return proc_path(a, pid, rel, buf, len);
	snprintf(sub, sizeof(sub), "task/%d/%s", (int)tid, rel);
	return proc_path(a, pid, sub, buf, len);
}

/*
 * Permission denied on a task's fd table.  A zombie has no table left, and
 * the kernel hands the /proc files of a task without memory to root, so
 * that is no reason to fail; anything else is.
 */
static int
unreadable(struct attrib *a, pid_t pid, pid_t tid, struct identity *id)
{
	char path[96], comm[64];
	const char *p;
	size_t n;
	int dirfd = task_path(a, pid, tid, "stat", path, sizeof(path));

	if (read_small(a, dirfd, path, &n) < 0) {
		if (gone(errno))
			return 0;
	} else if ((p = strrchr(a->io, ')')) && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')) {
		return 0;
	}
	read_comm(a, pid, comm, sizeof(comm));
	return deny(id, "cannot read the open files of pid %d (%s): permission denied "
	    "(the process is not dumpable or runs as another user)", (int)pid, comm);
}

/* Does the fd table of task tid of pid hold a->target?  1 yes, 0 no. */
static int
holds_socket(struct attrib *a, pid_t pid, pid_t tid, struct identity *id, struct werr *err)
{
	char path[96], link[64];
	int dirfd, fd, r = 0;
	long n;

	dirfd = task_path(a, pid, tid, "fd", path, sizeof(path));
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (gone(errno)) {
			a->changed = true;
			return 0;
		}
		if (denied(errno))
			return unreadable(a, pid, tid, id);
		return werr_sys(err, "/proc/%d/%s", (int)pid, path);
	}
	while (r == 0 && (n = sys_getdents64(fd, a->dents, sizeof(a->dents))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(a->dents + off);
			ssize_t len;

			off += d->d_reclen;
			if (d->d_name[0] == '.')
				continue;
			len = readlinkat(fd, d->d_name, link, sizeof(link));
			if (len < 0) {
				if (gone(errno))
					continue;	/* closed meanwhile */
				if (denied(errno)) {
					r = unreadable(a, pid, tid, id);
					break;
				}
				r = werr_sys(err, "/proc/%d/%s/%s", (int)pid, path, d->d_name);
				break;
			}
			if ((size_t)len == a->target_len && memcmp(link, a->target, a->target_len) == 0) {
				r = 1;
				break;
			}
		}
	}
	if (r == 0 && n < 0) {
		if (gone(errno))
			a->changed = true;
		else if (denied(errno))
			r = unreadable(a, pid, tid, id);
		else
			r = werr_sys(err, "/proc/%d/%s", (int)pid, path);
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
	r = syscall(SYS_kcmp, t1, t2, KCMP_FILES, 0, 0);
	if (r < 0 && errno == ENOSYS)
		a->no_kcmp = true;
	return r == 0;
}

static void
add_owner(struct attrib *a, pid_t pid, pid_t task)
{
	if (a->nowners == a->owners_cap) {
		a->owners_cap = a->owners_cap ? a->owners_cap * 2 : 8;
		a->owners = xrealloc(a->owners, a->owners_cap * sizeof(*a->owners));
	}
	a->owners[a->nowners].pid = pid;
	a->owners[a->nowners].task = task;
	a->nowners++;
}

/*
 * The other tasks of pid (a->tids).  Threads normally share the main
 * thread's fd table, and kcmp() says so without a path walk.  A thread
 * created without CLONE_FILES has a table of its own, and when the main
 * thread has exited, its table is gone while the others' live on: those
 * are read too, so that a second owner cannot hide there.
 */
static int
threads_hold(struct attrib *a, pid_t pid, struct identity *id, struct werr *err)
{
	pid_t read_[8];		/* tasks whose (distinct) tables were read */
	size_t nread = 0;
	int r;

	for (size_t k = 0; k < a->ntids; k++) {
		pid_t tid = a->tids[k];
		bool dup = same_files(a, pid, tid);

		for (size_t j = 0; j < nread && !dup; j++)
			dup = same_files(a, read_[j], tid);
		if (dup)
			continue;
		if ((r = holds_socket(a, pid, tid, id, err)) < 0)
			return r;
		if (r == 1) {
			add_owner(a, pid, tid);
			return A_OK;
		}
		if (nread < ARRAY_SIZE(read_))
			read_[nread++] = tid;
	}
	return A_OK;
}

/* Breadth-first from init: queue every process, check each fd table. */
static int
walk(struct attrib *a, struct identity *id, struct werr *err)
{
	int r;

	a->nprocs = 0;
	a->nowners = 0;
	a->changed = false;
	if (++a->gen == 0) {	/* wrapped: stale slots could look live */
		if (a->seen)
			memset(a->seen, 0, a->seen_cap * sizeof(*a->seen));
		a->gen = 1;
	}
	if ((r = walk_push(a, a->init_pid, id)) < 0)
		return r;
	for (size_t i = 0; i < a->nprocs; i++) {
		pid_t pid = a->procs[i];

		if ((r = walk_children(a, pid, id, err)) < 0)
			return r;
		if ((r = holds_socket(a, pid, pid, id, err)) < 0)
			return r;
		if (r == 1)
			add_owner(a, pid, pid);
		else if (a->ntids > 0 && (r = threads_hold(a, pid, id, err)) < 0)
			return r;
	}
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

/* PPid and the pid in the sandbox's namespace; 1 when the process is gone. */
static int
read_status(struct attrib *a, pid_t pid, pid_t *ppid, pid_t *nspid, struct werr *err)
{
	char path[64];
	size_t n;
	const char *p, *end;
	int dirfd = proc_path(a, pid, "status", path, sizeof(path));
	bool have_ppid = false;

	*ppid = 0;
	*nspid = 0;
	if (read_small(a, dirfd, path, &n) < 0) {
		if (gone(errno))
			return 1;
		return werr_sys(err, "/proc/%d/status", (int)pid);
	}
	for (p = a->io, end = a->io + n; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > 5 && memcmp(p, "PPid:", 5) == 0) {
			uint64_t v = 0;
			const char *q = p + 5;
			while (q < eol && (*q == '\t' || *q == ' '))
				q++;
			for (; q < eol && *q >= '0' && *q <= '9' && v <= INT32_MAX; q++)
				v = v * 10 + (uint64_t)(*q - '0');
			if (v > INT32_MAX)
				return werr_set(err, "/proc/%d/status: bad PPid", (int)pid);
			*ppid = (pid_t)v;
			have_ppid = true;
		} else if ((size_t)(eol - p) > 6 && memcmp(p, "NSpid:", 6) == 0) {
			/* One pid per namespace level, outermost first. */
			const char *q = p + 6;
			for (size_t level = 0; q < eol; level++) {
				uint64_t v = 0;
				while (q < eol && (*q == '\t' || *q == ' '))
					q++;
				if (q == eol)
					break;
				for (; q < eol && *q >= '0' && *q <= '9' && v <= INT32_MAX; q++)
					v = v * 10 + (uint64_t)(*q - '0');
				if (v > INT32_MAX || (q < eol && *q != '\t' && *q != ' '))
					return werr_set(err, "/proc/%d/status: bad NSpid", (int)pid);
				if (level == a->ns_level)
					*nspid = (pid_t)v;
			}
		}
		p = eol + 1;
	}
	if (!have_ppid)
		return werr_set(err, "/proc/%d/status: no PPid", (int)pid);
	return A_OK;
}

/* Field 22 of /proc/PID/stat, in clock ticks since boot; 0 if unreadable. */
static unsigned long long
start_time(struct attrib *a, pid_t pid)
{
	char path[64];
	size_t n, field = 2;
	unsigned long long v = 0;
	const char *p;
	int dirfd = proc_path(a, pid, "stat", path, sizeof(path));

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

/*
 * ppid, the ancestors' executables (pinned like the owner's: policy rules
 * that allow a binary's children trust them), and the check that the
 * owner still descends from init: its pid could have been reused since
 * the walk.  The chain is confirmed before any executable is resolved, so
 * a process outside the sandbox never gets its binaries pinned.  ppid is
 * the owner's parent as the host sees it; e is scratch space.
 */
static int
ancestry(struct attrib *a, pid_t host_pid, pid_t ppid, struct exe *e, struct identity *id,
    struct werr *err)
{
	pid_t chain[ATTRIB_MAX_ANCESTORS], pid, nspid;
	size_t n = 0;
	int r;

	id->ppid = 0;
	if (host_pid == a->init_pid)
		return A_OK;	/* its parent is outside the sandbox */
	for (size_t depth = 0;; depth++) {
		pid = ppid;
		if (pid == a->init_pid) {
			if (depth == 0)
				id->ppid = a->init_nspid;
			break;
		}
		if (pid <= 1 || depth == ANCESTRY_MAX)
			return deny(id, "pid %d no longer descends from the sandbox's init",
			    (int)host_pid);
		if ((r = read_status(a, pid, &ppid, &nspid, err)) != A_OK)
			return r == 1 ? deny(id, "pid %d exited during attribution", (int)pid) : r;
		if (depth == 0)
			id->ppid = nspid;
		if (n < ATTRIB_MAX_ANCESTORS)
			chain[n++] = pid;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = resolve_exe(a, chain[i], e, id, err)) < 0)
			return r;
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
	size_t nd = 0, live = 0;
	pid_t best = 0, best_ns = 0, best_ppid = 0, first_ppid = 0;
	unsigned long long best_start = 0;
	int r = A_OK;

	for (size_t i = 0; i < a->nowners; i++) {
		const struct owner *o = &a->owners[i];
		pid_t ppid, nspid;
		size_t k;

		if ((r = read_status(a, o->pid, &ppid, &nspid, err)) < 0)
			goto out;
		if (r == 1)
			continue;
		r = resolve_exe(a, o->task, e, id, err);
		if (r < 0 || r == EXE_DENIED) {
			if (!id->exe[0]) {
				snprintf(id->exe, sizeof(id->exe), "%s", e->path);
				id->pid = nspid;
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
			d[nd].pid = nspid;
			nd++;
		}
		if (live == 0) {
			snprintf(id->exe, sizeof(id->exe), "%s", e->path);
			memcpy(id->sha256, e->sha256, sizeof(id->sha256));
			id->pid = nspid;
			id->host_pid = o->pid;
			first_ppid = ppid;
		}
		live++;
		/* Same binary everywhere: name the most recently started owner. */
		if (a->nowners > 1) {
			unsigned long long st = start_time(a, o->pid);
			if (live == 1 || st > best_start || (st == best_start && o->pid < best)) {
				best = o->pid;
				best_ns = nspid;
				best_ppid = ppid;
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
	if (live > 1) {
		id->host_pid = best;
		id->pid = best_ns;
		first_ppid = best_ppid;
	}
	r = ancestry(a, id->host_pid, first_ppid, e, id, err);
out:
	free(e);
	free(d);
	return r;
}

int
attrib_lookup(struct attrib *a, const struct sockaddr *client, const struct sockaddr *server,
    struct identity *id, struct werr *err)
{
	struct endpoint c, s;
	uint64_t ino = 0;
	bool found = false;
	int r;

	memset(id, 0, sizeof(*id));
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
	a->target_len = (size_t)snprintf(a->target, sizeof(a->target), "socket:[%llu]",
	    (unsigned long long)ino);
	for (int tries = 0; tries < WALK_TRIES; tries++) {
		if ((r = walk(a, id, err)) < 0)
			goto fail;
		if (a->nowners > 0 || !a->changed)
			break;
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

struct attrib *
attrib_new(pid_t init_pid, int diag_fd, struct werr *err)
{
	struct attrib *a = xcalloc(1, sizeof(*a));
	char path[64];
	size_t n, fields = 0;
	const char *p;
	pid_t ppid;
	int r;

	a->init_pid = init_pid;
	a->diag_fd = diag_fd;
	a->proc_fd = a->init_fd = -1;
	a->gen = 1;
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
	snprintf(path, sizeof(path), "%d", (int)init_pid);
	a->init_fd = openat(a->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
	if ((r = read_status(a, init_pid, &ppid, &a->init_nspid, err)) != A_OK) {
		if (r == 1)
			werr_set(err, "attribution: sandbox init (pid %d) is gone", (int)init_pid);
		else
			werr_prefix(err, "attribution");
		goto fail;
	}
	return a;
fail:
	attrib_free(a);
	return NULL;
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
	for (size_t i = 0; i < a->pins_cap; i++)
		free(a->pins[i].path);
	free(a->pins);
	free(a->procs);
	free(a->seen);
	free(a->owners);
	free(a->tids);
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
