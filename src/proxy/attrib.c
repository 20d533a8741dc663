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
#include "attrib_int.h"

int __attribute__((format(printf, 2, 3)))
at_deny(struct identity *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(id->why, sizeof(id->why), fmt, ap);
	va_end(ap);
	return A_DENY;
}

bool
at_gone(int e)
{
	return e == ENOENT || e == ESRCH;
}

bool
at_denied(int e)
{
	return e == EACCES || e == EPERM;
}

/* Directory fd and relative path for /proc/PID/rel; init goes through init_fd. */
int
at_proc_path(const struct attrib *a, pid_t pid, const char *rel, char *buf, size_t len)
{
	if (pid == a->init_pid) {
		snprintf(buf, len, "%s", rel);
		return a->init_fd;
	}
	snprintf(buf, len, "%d/%s", (int)pid, rel);
	return a->proc_fd;
}

/* Path of /proc/PID/task/TID/rel relative to the /proc/PID directory. */
void
at_task_rel(pid_t pid, pid_t tid, const char *rel, char *buf, size_t len)
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

int
at_read_fd_into(int fd, bool at_zero, bool one_record, char *buf, size_t size, size_t *len)
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
int
at_read_small(struct attrib *a, int dirfd, const char *path, size_t *len)
{
	int fd, r, saved;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = at_read_fd_into(fd, false, true, a->io, sizeof(a->io), len);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

long
at_sys_getdents64(int fd, void *buf, size_t len)
{
	return syscall(SYS_getdents64, fd, buf, len);
}

long
at_sys_kcmp(pid_t t1, pid_t t2)
{
	return syscall(SYS_kcmp, t1, t2, KCMP_FILES, 0, 0);
}

/* A decimal pid ending the string; 0 if s is not one. */
pid_t
at_parse_pid(const char *s)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v == 0 || v > INT32_MAX)
		return 0;
	return (pid_t)v;
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

		if (!at_proc_alive(a, p))
			continue;
		r = at_resolve_exe(a, o->task, e, id, err);
		if (r == A_OK && !at_proc_alive(a, p))
			r = EXE_GONE;	/* the number may name another process by now */
		if (r < 0 || r == EXE_DENIED) {
			if (!id->exe[0]) {
				snprintf(id->exe, sizeof(id->exe), "%s", e->path);
				id->pid = p->nspid;
				id->host_pid = o->pid;
			}
			if (r == EXE_DENIED) {
				char comm[64];
				at_read_comm(a, o->pid, comm, sizeof(comm));
				r = at_deny(id, "cannot open the executable of pid %d (%s): "
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
			unsigned long long st = at_start_time(a, o->pid);
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
		r = at_deny(id, "no process in the sandbox owns the connection");
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
	r = at_ancestry(a, a->owners[best].step, e, id, err);
out:
	free(e);
	free(d);
	return r;
}

/* A walk; a cache that cannot be kept consistent is given up for good. */
static int
walk_once(struct attrib *a, bool trust, struct identity *id, struct werr *err)
{
	int r = at_walk(a, trust, id, err);

	if (r == A_RETRY) {
		a->cache_ok = false;
		r = at_walk(a, false, id, err);
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
	if (at_endpoint_from(client, &c) < 0 || at_endpoint_from(server, &s) < 0 || c.v4 != s.v4) {
		at_deny(id, "connection is not TCP over IPv4 or IPv6");
		return -1;
	}
	r = a->diag_fd >= 0 ? at_diag_inode(a, &c, &s, &ino, &found, err) :
	    at_procnet_inode(a, &c, &s, &ino, &found, err);
	if (r < 0)
		goto fail;
	if (!found) {
		at_deny(id, "connection not found in the sandbox's network namespace");
		return -1;
	}
	if (ino == 0) {	/* closed by every holder; only the kernel keeps it */
		at_deny(id, "no process in the sandbox owns the connection");
		return -1;
	}
	a->target = ino;
	trust = at_caching(a);
	if ((r = walk_once(a, trust, id, err)) < 0)
		goto fail;
	/*
	 * No owner: perhaps a process that joined the sandbox from outside
	 * (remembered from now on), perhaps one that vanished under the walk.
	 * Every process is read again before the connection is refused.
	 */
	if (a->nowners == 0 && a->can_join) {
		size_t before = a->nroots;

		if ((r = at_discover(a, err)) < 0)
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
		at_deny(id, "no process in the sandbox owns the connection");
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
	ok = at_read_runs(fd, &runs) == 0 && runs > 0;
	close(fd);
	if (!ok || faccessat(a->proc_fd, "self/wchan", R_OK, 0) < 0)
		return false;
	return at_sys_kcmp(getpid(), getpid()) == 0;
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
	if (at_read_small(a, a->init_fd, "status", &n) < 0) {
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
	if ((r = at_read_pstatus(a, a->init_fd, init_pid, &st, err)) != A_OK) {
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
	out->cache = at_caching(a);
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
