/*
 * Attribution, step 2: the processes of the sandbox that hold a socket --
 * the walk from init (and from joined roots), the fd tables, and the
 * per-process cache that lets idle processes be skipped safely.
 * The method and its limits: attrib.c.
 */
#include "attrib_int.h"

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
bool
at_caching(const struct attrib *a)
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
	return at_caching(a) && a->nkept < a->kept_max;
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
int
at_read_runs(int fd, uint64_t *runs)
{
	char buf[96];
	size_t len, field = 0;
	uint64_t v = 0;
	bool in = false;

	if (at_read_fd_into(fd, true, true, buf, sizeof(buf), &len) < 0)
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


/*
 * Is p still the process that was read?  Its leader's schedstat
 * descriptor follows the process, not the number; without one, the start
 * time recorded when it was read is compared.
 */
bool
at_proc_alive(struct attrib *a, struct proc *p)
{
	uint64_t runs;

	if (p->ntasks > 0 && p->tasks[0].tid == p->pid && p->tasks[0].runs_fd >= 0)
		return at_read_runs(p->tasks[0].runs_fd, &runs) == 0 || !at_gone(errno);
	return p->start != 0 && at_start_time(a, p->pid) == p->start;
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
		if (at_read_runs(t->runs_fd, &runs) < 0)
			return k == 0 && at_gone(errno) ? -1 : V_RAN;
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

		r = at_sys_kcmp(a->index[mid].tid, tid);
		if (r < 0 && errno == ESRCH) {
			if (at_sys_kcmp(tid, tid) < 0)
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
		return at_deny(id, "more than %d processes in the sandbox", ATTRIB_MAX_PROCS);
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
int
at_read_pstatus(struct attrib *a, int dirfd, pid_t pid, struct pstatus *st, struct werr *err)
{
	const char *p, *end;
	bool have_ppid = false;
	size_t n;

	memset(st, 0, sizeof(*st));
	if (at_read_small(a, dirfd, "status", &n) < 0) {
		if (at_gone(errno))
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

void
at_read_comm(struct attrib *a, pid_t pid, char *out, size_t len)
{
	char path[64];
	size_t n;
	int dirfd = at_proc_path(a, pid, "comm", path, sizeof(path));

	if (at_read_small(a, dirfd, path, &n) < 0) {
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

	at_task_rel(pid, tid, "stat", path, sizeof(path));
	if (at_read_small(a, dirfd, path, &n) < 0 || !(p = strrchr(a->io, ')')) || p[1] != ' ')
		return '?';
	return p[2];
}

/*
 * Permission denied on a task's fd table.  A zombie has no table left, and
 * the kernel hands the /proc files of a task without memory to root, so
 * that is no reason to fail; anything else is.
 */
int
at_unreadable(struct attrib *a, int dirfd, pid_t pid, pid_t tid, struct identity *id)
{
	char comm[64], st = task_state(a, dirfd, pid, tid);

	if (st == 'Z' || st == 'X')
		return 0;
	at_read_comm(a, pid, comm, sizeof(comm));
	return at_deny(id, "cannot read the open files of pid %d (%s): permission denied "
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

	at_task_rel(pid, tid, "wchan", path, sizeof(path));
	if (at_read_small(a, dirfd, path, &n) < 0)
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
			return at_gone(errno) ? 1 : werr_sys(err, "/proc/%d/task", (int)p->pid);
		while ((n = at_sys_getdents64(tfd, a->dents, sizeof(a->dents))) > 0) {
			for (long off = 0; off < n;) {
				struct dirent64_raw *d = (struct dirent64_raw *)(a->dents + off);
				pid_t tid = at_parse_pid(d->d_name);

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
			return at_gone(errno) ? 1 : werr_sys(err, "/proc/%d/task", (int)p->pid);
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

	p->quiet = at_caching(a);
	for (size_t k = 0; k < p->ntasks && p->quiet; k++) {
		struct ptask *t = &p->tasks[k];
		char path[48];

		if (t->runs_fd < 0 && may_keep(a)) {
			at_task_rel(p->pid, t->tid, "schedstat", path, sizeof(path));
			if ((t->runs_fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) >= 0)
				a->nkept++;
		}
		if (t->runs_fd < 0 || at_read_runs(t->runs_fd, &t->runs) < 0 ||
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
		p->start = at_start_time_at(a, dirfd);
	return A_OK;
}

/* Queue (and record in p->kids) the pids listed in a children file. */
static int
kids_from(struct attrib *a, struct proc *p, int fd, bool at_zero, size_t step, struct identity *id)
{
	size_t len;
	int r;

	if (at_read_fd_into(fd, at_zero, false, a->io, sizeof(a->io), &len) < 0)
		return at_gone(errno) ? 1 : -1;
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
				if (at_gone(errno)) {
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
		if (dirfd >= 0 && !at_proc_alive(a, p)) {
			close(dirfd);
			dirfd = -1;
			errno = ESRCH;
		}
		if (dirfd < 0) {
			if (!at_gone(errno))
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

	at_task_rel(p->pid, tid, "fd", path, sizeof(path));
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (at_gone(errno)) {
			a->changed = true;
			return 0;
		}
		if (at_denied(errno))
			return at_unreadable(a, dirfd, p->pid, tid, id);
		return werr_sys(err, "/proc/%d/%s", (int)p->pid, path);
	}
	a->nfdnums = 0;
	while ((n = at_sys_getdents64(fd, a->dents, sizeof(a->dents))) > 0) {
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
		if (at_gone(errno))
			a->changed = true;
		else if (at_denied(errno))
			r = at_unreadable(a, dirfd, p->pid, tid, id);
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
			if (at_gone(errno))
				continue;	/* closed meanwhile */
			if (at_denied(errno)) {
				int u = at_unreadable(a, dirfd, p->pid, tid, id);
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
	r = at_sys_kcmp(t1, t2);
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
		if (!at_gone(errno))
			return werr_sys(err, "/proc/%s", name);
		a->changed = true;
		return A_OK;
	}
	r = at_proc_alive(a, q) ? read_tables(a, q, dirfd, task_state(a, dirfd, q->pid, q->pid) == 'Z',
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
			if (!at_gone(errno))
				return werr_sys(err, "/proc/%s", name);
			step_gone(a, i);
			return A_OK;
		}
	}
	/* An entry whose process is gone: the number was reused since. */
	if (p && !at_proc_alive(a, p)) {
		cache_del(a, p);
		p = NULL;
	}
	r = at_read_pstatus(a, dirfd, pid, &st, err);
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
	r = at_caching(a) ? index_tables(a, p, id, err) : A_OK;
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
		if (at_start_time_at(a, dirfd) == a->roots[k].start)
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
int
at_walk(struct attrib *a, bool trust, struct identity *id, struct werr *err)
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
		return at_denied(errno) ? 0 : -1;
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
	if (at_read_small(a, a->proc_fd, path, &n) < 0 || !(p = strrchr(a->io, ')')) || p[1] != ' ')
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
int
at_discover(struct attrib *a, struct werr *err)
{
	int fd = openat(a->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return werr_sys(err, "/proc");
	while ((n = at_sys_getdents64(fd, a->dents, sizeof(a->dents))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(a->dents + off);
			pid_t pid = at_parse_pid(d->d_name), cur, up;
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
