/*
 * Attribution, step 3: what each owner runs -- its executable, pinned by
 * content hash for the sandbox's life -- and its ancestry.
 * The method and its limits: attrib.c.
 */
#include "attrib_int.h"

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
		return at_deny(id, "executable %s is not a regular file", exe);
	if (st.st_size > EXE_SIZE_MAX)
		return at_deny(id, "executable %s is larger than %lld bytes; not hashed", exe,
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
		return at_deny(id, "executable %s changed while it was being hashed", exe);
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
			return at_deny(id, "content of %s changed during the sandbox's life "
			    "(sha256 was %s, now %s)", exe, a->pins[i].sha256, sha256);
		return A_OK;
	}
	if (a->npins >= PINS_MAX)
		return at_deny(id, "more than %d distinct executables seen in this sandbox", PINS_MAX);
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

int
at_resolve_exe(struct attrib *a, pid_t task, struct exe *out, struct identity *id, struct werr *err)
{
	char path[64];
	size_t sl = strlen(DELETED_SUFFIX);
	ssize_t len;
	int fd, dirfd, r;

	out->path[0] = out->sha256[0] = '\0';
	dirfd = at_proc_path(a, task, "exe", path, sizeof(path));
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (at_gone(errno))
			return EXE_GONE;
		if (at_denied(errno))
			return EXE_DENIED;
		return werr_sys(err, "/proc/%d/exe", (int)task);
	}
	snprintf(path, sizeof(path), "self/fd/%d", fd);
	len = readlinkat(a->proc_fd, path, out->path, sizeof(out->path));
	if (len < 0 || (size_t)len >= sizeof(out->path)) {
		r = len < 0 ? werr_sys(err, "readlink /proc/%s", path) :
		    at_deny(id, "executable path of pid %d is too long", (int)task);
		close(fd);
		return r;
	}
	out->path[len] = '\0';
	if ((size_t)len > sl && strcmp(out->path + len - sl, DELETED_SUFFIX) == 0) {
		close(fd);
		return at_deny(id, "binary %.*s was deleted or replaced while running (pid %d)",
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

	if (at_read_small(a, dirfd, path, &n) < 0 || !(p = strrchr(a->io, ')')))
		return 0;
	/* The command name may hold spaces and parentheses; count after the last ')'. */
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	for (; *p >= '0' && *p <= '9' && v < ULLONG_MAX / 10; p++)
		v = v * 10 + (unsigned long long)(*p - '0');
	return v;
}

unsigned long long
at_start_time(struct attrib *a, pid_t pid)
{
	char path[64];
	int dirfd = at_proc_path(a, pid, "stat", path, sizeof(path));

	return stat_start(a, dirfd, path);
}

unsigned long long
at_start_time_at(struct attrib *a, int dirfd)
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
int
at_ancestry(struct attrib *a, size_t step, struct exe *e, struct identity *id, struct werr *err)
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

		if (!at_proc_alive(a, q))
			return at_deny(id, "pid %d exited during attribution", (int)q->pid);
		if ((r = at_resolve_exe(a, q->pid, e, id, err)) < 0)
			return r;
		if (r == A_OK && !at_proc_alive(a, q))
			return at_deny(id, "pid %d exited during attribution", (int)q->pid);
		/* Gone since, or a leader whose threads live on: no executable to name. */
		id->ancestors[id->nancestors++] = xstrdup(r == A_OK ? e->path : "(unknown)");
	}
	return A_OK;
}
