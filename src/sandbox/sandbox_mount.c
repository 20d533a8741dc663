/*
 * The new root.  Runs in init, inside the new user and mount namespaces,
 * with full capabilities over them and none over the host.
 *
 * Order (as bubblewrap): make every mount a slave so nothing propagates
 * back to the host; mount a tmpfs "base" on /tmp and pivot into it, so the
 * host root stays reachable as /oldroot while the new tree is assembled in
 * /newroot; bind the allowlisted paths (sorted so parents come before
 * children); mask denied paths; add /proc, /dev, private /tmp and HOME;
 * make the skeleton read-only; pivot into /newroot and detach everything
 * else.  Every bind ends nosuid,nodev (only the /dev nodes keep dev).
 */
#include "sb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/util.h"

#define OLD "/oldroot"
#define NEW "/newroot"

enum mkind { M_RO, M_RW, M_TMPFS, M_MASK, M_SYMLINK };

struct mentry {
	char *dest;
	char *link;		/* M_SYMLINK target */
	enum mkind kind;
	int prio;
	mode_t tmode;		/* M_TMPFS mode */
	const char *origin;	/* policy key that asked for it, for errors */
};

struct plan {
	struct mentry *v;
	size_t n;
};

static void
plan_add(struct plan *pl, const char *dest, enum mkind kind, int prio, const char *origin)
{
	pl->v = xrealloc(pl->v, (pl->n + 1) * sizeof(*pl->v));
	pl->v[pl->n] = (struct mentry){ .dest = xstrdup(dest), .kind = kind, .prio = prio,
		.tmode = 0755, .origin = origin };
	pl->n++;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct mentry *x = a, *y = b;
	int c = strcmp(x->dest, y->dest);

	return c ? c : y->prio - x->prio;	/* highest priority first */
}

static void
plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		free(pl->v[i].dest);
		free(pl->v[i].link);
	}
	free(pl->v);
}

static int
sys_mount_setattr(const char *path, unsigned int flags, uint64_t set, uint64_t clr)
{
	struct mount_attr attr = { .attr_set = set, .attr_clr = clr };

	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof(attr));
}

/*
 * mkdir -p for paths under NEW, whose parent usually exists already: one
 * mkdir instead of one per component (every start creates a dozen points).
 */
static int
mkdir_new(const char *path, mode_t mode, struct werr *err)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return werr_sys(err, "mkdir %s", path);
	return mkdir_p(path, mode, err);
}

/*
 * Create the mount point for dest inside NEW: a directory or an empty file,
 * or with link set, a symlink to it.
 */
static int
make_point(const char *dest, bool dir, const char *link, struct werr *err)
{
	char path[PATH_MAX], parent[PATH_MAX];
	char *slash;
	int fd;

	snprintf(path, sizeof(path), NEW "%s", dest);
	if (dir && !link)
		return mkdir_new(path, 0755, err);
	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	*slash = '\0';
	if (mkdir_new(parent, 0755, err) < 0)
		return -1;
	if (link) {
		if (symlink(link, path) < 0 && errno != EEXIST)
			return werr_sys(err, "symlink %s", dest);
		return 0;
	}
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && errno != EEXIST && errno != EISDIR)
		return werr_sys(err, "create mount point %s", dest);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int
bind_one(const struct mentry *m, struct werr *err)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct stat st;
	uint64_t set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

	snprintf(src, sizeof(src), OLD "%s", m->dest);
	snprintf(dst, sizeof(dst), NEW "%s", m->dest);
	if (stat(src, &st) < 0)
		return werr_sys(err, "%s: %s", m->origin, m->dest);
	if (make_point(m->dest, S_ISDIR(st.st_mode), NULL, err) < 0)
		return -1;
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return werr_sys(err, "%s: bind %s", m->origin, m->dest);
	if (m->kind == M_RO)
		set |= MOUNT_ATTR_RDONLY;
	if (sys_mount_setattr(dst, AT_RECURSIVE, set, 0) < 0)
		return werr_sys(err, "%s: restrict mount %s", m->origin, m->dest);
	return 0;
}

static int
tmpfs_at(const char *dest, mode_t mode, unsigned long flags, struct werr *err)
{
	char dst[PATH_MAX], opts[64];

	snprintf(dst, sizeof(dst), NEW "%s", dest);
	if (mkdir_new(dst, 0755, err) < 0)
		return -1;
	snprintf(opts, sizeof(opts), "mode=%04o", (unsigned)mode);
	if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | flags, opts) < 0)
		return werr_sys(err, "tmpfs on %s", dest);
	return 0;
}

/*
 * Mask a denied path.  Directories get an empty read-only tmpfs with mode
 * 0000, files an empty read-only mode-0000 file, so reads fail with EACCES
 * and writes with EROFS; a masked path that did not exist yet still
 * exists as a mount point, so it can be neither created nor removed.
 */
static int
mask_one(const struct mentry *m, struct werr *err)
{
	char dst[PATH_MAX];
	struct stat st;

	snprintf(dst, sizeof(dst), NEW "%s", m->dest);
	if (lstat(dst, &st) < 0)
		return 0;	/* not visible inside: nothing to hide */
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
		    "mode=0000,size=4k") < 0)
			return werr_sys(err, "deny: mask %s", m->dest);
	} else {
		if (mount("/mask", dst, NULL, MS_BIND, NULL) < 0)
			return werr_sys(err, "deny: mask %s", m->dest);
		if (sys_mount_setattr(dst, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
		    MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0) < 0)
			return werr_sys(err, "deny: mask %s", m->dest);
	}
	return 0;
}

/*
 * A masked path's ancestors, up to the mount that contains them, become
 * mount points of their own (bound onto themselves): rename(2) refuses to
 * move a mount point (EBUSY), so a parent can't be renamed away to carry
 * the masked file out from under its mask.
 */
static int
pin_ancestors(const struct plan *pl, const struct mentry *m, struct werr *err)
{
	char dir[PATH_MAX], dst[PATH_MAX];
	const char *root = NULL;
	char *slash;

	for (size_t i = 0; i < pl->n; i++) {
		const struct mentry *o = &pl->v[i];
		if (o == m || o->kind == M_MASK || o->kind == M_SYMLINK)
			continue;
		if (path_has_prefix(m->dest, o->dest) && strcmp(m->dest, o->dest) != 0 &&
		    (!root || strlen(o->dest) > strlen(root)))
			root = o->dest;
	}
	if (!root)
		return 0;
	snprintf(dir, sizeof(dir), "%s", m->dest);
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (strcmp(dir, root) == 0 || !path_has_prefix(dir, root))
			break;
		snprintf(dst, sizeof(dst), NEW "%s", dir);
		/* MS_REC: a plain bind would leave the mask below behind, uncovering the file. */
		if (mount(dst, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
			return werr_sys(err, "deny: pin %s", dir);
	}
	return 0;
}

static int
setup_dev(struct werr *err)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	char src[PATH_MAX], dst[PATH_MAX];

	if (mkdir_new(NEW "/dev", 0755, err) < 0)
		return -1;
	if (mount("tmpfs", NEW "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
		return werr_sys(err, "tmpfs on /dev");
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		int fd;
		snprintf(src, sizeof(src), OLD "/dev/%s", nodes[i]);
		snprintf(dst, sizeof(dst), NEW "/dev/%s", nodes[i]);
		fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
		if (fd < 0)
			return werr_sys(err, "create %s", dst);
		close(fd);
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
			return werr_sys(err, "bind /dev/%s", nodes[i]);
	}
	/* One call for every node: /dev itself is already nosuid,noexec. */
	if (sys_mount_setattr(NEW "/dev", AT_RECURSIVE, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0) < 0)
		return werr_sys(err, "restrict /dev");
	if (mkdir(NEW "/dev/pts", 0755) < 0 || mkdir(NEW "/dev/shm", 01777) < 0)
		return werr_sys(err, "mkdir /dev/pts");
	if (mount("devpts", NEW "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	    "newinstance,ptmxmode=0666,mode=0620") < 0)
		return werr_sys(err, "devpts on /dev/pts");
	if (mount("tmpfs", NEW "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    "mode=1777") < 0)
		return werr_sys(err, "tmpfs on /dev/shm");
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		snprintf(dst, sizeof(dst), NEW "/dev/%s", links[i][1]);
		if (symlink(links[i][0], dst) < 0)
			return werr_sys(err, "symlink %s", dst);
	}
	return 0;
}

static int
setup_proc(struct werr *err)
{
	/* Kernel knobs stay read-only even where file modes would allow more. */
	static const char *const ro[] = { "sys", "sysrq-trigger", "irq", "bus" };
	char p[PATH_MAX];

	if (mkdir_new(NEW "/proc", 0755, err) < 0)
		return -1;
	if (mount("proc", NEW "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return werr_sys(err, "mount /proc");
	for (size_t i = 0; i < ARRAY_SIZE(ro); i++) {
		snprintf(p, sizeof(p), NEW "/proc/%s", ro[i]);
		if (access(p, F_OK) < 0)
			continue;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    sys_mount_setattr(p, AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
		    MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0) < 0)
			return werr_sys(err, "read-only /proc/%s", ro[i]);
	}
	return 0;
}

/* Add policy paths to the plan, following top-level symlinks (/bin → usr/bin). */
static int
plan_paths(struct plan *pl, const struct strv *paths, enum mkind kind, int prio,
    const char *origin, struct werr *err)
{
	for (size_t i = 0; i < paths->n; i++) {
		char src[PATH_MAX], target[PATH_MAX], real[PATH_MAX];
		struct stat st;
		ssize_t n;

		snprintf(src, sizeof(src), OLD "%s", paths->v[i]);
		if (lstat(src, &st) < 0)
			return werr_sys(err, "filesystem_policy.%s: %s", origin, paths->v[i]);
		if (!S_ISLNK(st.st_mode)) {
			plan_add(pl, paths->v[i], kind, prio, origin);
			continue;
		}
		n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return werr_sys(err, "readlink %s", paths->v[i]);
		target[n] = '\0';
		if (!realpath(src, real))
			return werr_sys(err, "filesystem_policy.%s: %s (dangling symlink)", origin,
			    paths->v[i]);
		if (!path_has_prefix(real, OLD))
			return werr_set(err, "filesystem_policy.%s: %s resolves outside the host root",
			    origin, paths->v[i]);
		plan_add(pl, paths->v[i], M_SYMLINK, prio, origin);
		pl->v[pl->n - 1].link = xstrdup(target);
		plan_add(pl, strlen(real) == strlen(OLD) ? "/" : real + strlen(OLD), kind, prio,
		    origin);
	}
	return 0;
}

/*
 * A bind whose nearest enclosing entry is a bind of the same kind adds
 * nothing (read_only /usr already shows /usr/lib, the target of /lib) and
 * would only cost mount time.  Entries below a tmpfs or a mask are kept.
 */
static bool
redundant(const struct plan *pl, size_t i)
{
	const struct mentry *m = &pl->v[i];

	if (m->kind != M_RO && m->kind != M_RW)
		return false;
	for (size_t j = i; j-- > 0;) {
		const struct mentry *o = &pl->v[j];
		if (o->kind == M_SYMLINK || !path_has_prefix(m->dest, o->dest) ||
		    strcmp(o->dest, m->dest) == 0)
			continue;
		return o->kind == m->kind;	/* nearest enclosing entry decides */
	}
	return false;
}

/*
 * A file the supervisor wrote for the sandbox, bound read-only over a
 * system path: the CA bundle (system roots + the sandbox's own CA) over
 * the system store, so that clients which ignore SSL_CERT_FILE and friends
 * trust the proxy's certificates too; an /etc/hosts that names
 * inference.local.  The supervisor's state directory may be closed to the
 * agent's user (warden run as root), so the file arrives open and is
 * copied onto the base tmpfs (as copy, a name at its root), then bound
 * from there.  Without a visible /etc the path is created on the
 * skeleton; a path that cannot be covered (a read-only /etc bound without
 * it) is reported, and the client then fails visibly.
 */
static int
mount_file_over(int fd, const char *copy, const char *dest, struct werr *err)
{
	char dst[PATH_MAX], buf[65536];
	struct stat st;
	struct werr e2 = { 0 };
	off_t off = 0;
	int out = open(copy, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);

	if (out < 0)
		return werr_sys(err, "copy %s", dest);
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n > 0 && write_all(out, buf, (size_t)n) < 0)) {
			close(out);
			return werr_sys(err, "copy %s", dest);
		}
		if (n == 0)
			break;
		off += n;
	}
	close(out);
	close(fd);	/* init's copy; the agent never sees it */
	snprintf(dst, sizeof(dst), NEW "%s", dest);
	if (lstat(dst, &st) < 0 && make_point(dest, false, NULL, &e2) < 0) {
		log_warnx("cannot place the sandbox's %s: %s", dest, e2.msg);
		return 0;
	}
	if (mount(copy, dst, NULL, MS_BIND, NULL) < 0)
		return werr_sys(err, "bind over %s", dest);
	if (sys_mount_setattr(dst, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
	    MOUNT_ATTR_NOEXEC, 0) < 0)
		return werr_sys(err, "make %s read-only", dest);
	return 0;
}

/*
 * /etc/warden: the directory the supervisor keeps the running policy in
 * (sandbox_files.h), mounted read-only so that a reload's rename shows
 * inside at once.  fd is a detached mount (a privileged warden: attached
 * here whatever the state directory's permissions) or an O_PATH fd of a
 * directory the agent's own user owns (bound by its path under the old
 * root).
 *
 * The mount point is made without ever writing to the host: on the
 * skeleton when /etc is not a bind from the host; through a read-only
 * overlay of /etc (the host's /etc below, an empty warden directory on
 * top) when /etc is the host's, bound read-only; and not at all when /etc
 * is bound writable (a warning: a directory created there would be the
 * host's).
 */
static int
mount_dir_over(int fd, const char *dest, struct werr *err)
{
	char dst[PATH_MAX], parent[PATH_MAX], link[64], src[PATH_MAX], *slash;
	struct stat st, pst, rst;
	struct statvfs vfs;
	ssize_t n;

	snprintf(dst, sizeof(dst), NEW "%s", dest);
	snprintf(parent, sizeof(parent), "%s", dst);
	slash = strrchr(parent, '/');
	*slash = '\0';
	if (lstat(dst, &st) == 0) {
		/* There already (the host has one): mounted over. */
	} else if (stat(parent, &pst) < 0 || (stat(NEW, &rst) == 0 && pst.st_dev == rst.st_dev)) {
		if (mkdir_new(dst, 0755, err) < 0) {
			close(fd);
			return -1;
		}
	} else if (statvfs(parent, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
		struct werr e2 = { 0 };

		if (mkdir_new("/etcskel/warden", 0755, &e2) < 0 ||
		    mount("overlay", parent, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
		    "lowerdir=/etcskel:" NEW "/etc") < 0 || lstat(dst, &st) < 0) {
			log_warnx("cannot place the sandbox's %s: %s", dest, e2.msg[0] ? e2.msg :
			    strerror(errno));
			close(fd);
			return 0;
		}
	} else {
		log_warnx("the sandbox's %s is not provided: /etc is the host's, bound writable "
		    "(http://policy.local still shows the policy)", dest);
		close(fd);
		return 0;
	}
	if (syscall(SYS_move_mount, fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		if (errno != EINVAL) {
			close(fd);
			return werr_sys(err, "attach %s", dest);
		}
		snprintf(link, sizeof(link), OLD "/proc/self/fd/%d", fd);
		n = readlink(link, src + strlen(OLD), sizeof(src) - strlen(OLD) - 1);
		if (n <= 0) {
			close(fd);
			return werr_sys(err, "find the directory for %s", dest);
		}
		memcpy(src, OLD, strlen(OLD));
		src[strlen(OLD) + (size_t)n] = '\0';
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
			close(fd);
			return werr_sys(err, "bind %s", dest);
		}
	}
	close(fd);
	if (sys_mount_setattr(dst, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
	    MOUNT_ATTR_NOEXEC, 0) < 0)
		return werr_sys(err, "make %s read-only", dest);
	return 0;
}

int
mount_build_root(const struct sandbox_spec *s, int ctl, struct werr *err)
{
	const struct policy *p = s->policy;
	struct plan pl = { 0 };
	int fd, r = -1, files[ROOT_NFILES];
	bool tmp_listed = strv_contains(&p->read_write, "/tmp") ||
	    strv_contains(&p->read_only, "/tmp");

	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return werr_sys(err, "make / a slave mount");
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return werr_sys(err, "tmpfs base");
	if (mkdir("/tmp/oldroot", 0755) < 0 || mkdir("/tmp/newroot", 0755) < 0)
		return werr_sys(err, "mkdir base");
	if (chdir("/tmp") < 0 || syscall(SYS_pivot_root, ".", "oldroot") < 0 || chdir("/") < 0)
		return werr_sys(err, "pivot_root into base");
	if (mount("tmpfs", NEW, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return werr_sys(err, "tmpfs root");
	fd = open("/mask", O_CREAT | O_WRONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return werr_sys(err, "create mask file");
	close(fd);

	if (plan_paths(&pl, &p->read_only, M_RO, 1, "read_only", err) < 0 ||
	    plan_paths(&pl, &p->read_write, M_RW, 2, "read_write", err) < 0)
		goto out;
	if (p->include_workdir)
		plan_add(&pl, s->workdir, M_RW, 3, "workdir");
	if (!tmp_listed) {
		plan_add(&pl, "/tmp", M_TMPFS, 2, "tmp");
		pl.v[pl.n - 1].tmode = 01777;
	}
	if (s->home && !strv_contains(&p->read_write, s->home)) {
		plan_add(&pl, s->home, M_TMPFS, 2, "home");
		pl.v[pl.n - 1].tmode = 0700;
	}
	for (size_t i = 0; i < p->deny.n; i++)
		plan_add(&pl, p->deny.v[i], M_MASK, 9, "deny");
	qsort(pl.v, pl.n, sizeof(*pl.v), cmp_entry);

	for (size_t i = 0; i < pl.n; i++) {
		const struct mentry *m = &pl.v[i];

		if (i > 0 && strcmp(pl.v[i - 1].dest, m->dest) == 0)
			continue;	/* a higher-priority entry already took this path */
		if (redundant(&pl, i))
			continue;
		if (strcmp(m->dest, "/proc") == 0 || path_has_prefix(m->dest, "/dev") ||
		    path_has_prefix(m->dest, "/proc"))
			continue;	/* always provided fresh below */
		switch (m->kind) {
		case M_RO:
		case M_RW:
			if (bind_one(m, err) < 0)
				goto out;
			break;
		case M_TMPFS:
			if (tmpfs_at(m->dest, m->tmode, 0, err) < 0)
				goto out;
			break;
		case M_SYMLINK:
			if (make_point(m->dest, false, m->link, err) < 0)
				goto out;
			break;
		case M_MASK:
			break;	/* after every bind, so masks sit on top */
		}
	}
	if (setup_proc(err) < 0 || setup_dev(err) < 0)
		goto out;
	/*
	 * The supervisor has been writing these while the root took shape;
	 * they are taken as late as possible.  Each mount_*_over closes its
	 * fd; on an error init exits, which closes the rest.
	 */
	if (ctl_recv_files(ctl, files, err) < 0)
		goto out;
	/* First: an overlay of /etc it may need would hide files bound into /etc. */
	if (files[ROOT_FILE_ETC_WARDEN] >= 0 &&
	    mount_dir_over(files[ROOT_FILE_ETC_WARDEN], "/etc/warden", err) < 0)
		goto out;
	if (files[ROOT_FILE_CA_BUNDLE] >= 0 && mount_file_over(files[ROOT_FILE_CA_BUNDLE],
	    "/ca-bundle", "/etc/ssl/certs/ca-certificates.crt", err) < 0)
		goto out;
	if (files[ROOT_FILE_HOSTS] >= 0 &&
	    mount_file_over(files[ROOT_FILE_HOSTS], "/hosts", "/etc/hosts", err) < 0)
		goto out;
	for (size_t i = 0; i < pl.n; i++)
		if (pl.v[i].kind == M_MASK &&
		    (mask_one(&pl.v[i], err) < 0 || pin_ancestors(&pl, &pl.v[i], err) < 0))
			goto out;

	/* Cut propagation both ways, then freeze the skeleton. */
	if (mount(NULL, NEW, NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		werr_sys(err, "make new root private");
		goto out;
	}
	if (sys_mount_setattr(NEW, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0) < 0) {
		werr_sys(err, "read-only root");
		goto out;
	}
	if (chdir(NEW) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		werr_sys(err, "pivot_root into the new root");
		goto out;
	}
	r = 0;
out:
	plan_free(&pl);
	return r;
}
