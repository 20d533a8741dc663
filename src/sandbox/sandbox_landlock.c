/*
 * Landlock: the kernel's own allowlist, applied on top of the mounts so that
 * a mistake in one layer is caught by the other.  Rules mirror the mount
 * plan: read-only trees get read+execute, writable trees (workdir,
 * read_write, private /tmp and HOME) get every right, /dev and /proc get
 * what ordinary programs need.  The ABI is probed and rights the running
 * kernel lacks are dropped in a fall-through switch, as in the kernel's
 * sandboxer sample; on ABI 6+ abstract unix sockets and signals are scoped
 * to the sandbox.
 *
 * Debian 12's UAPI headers stop at ABI 2, so later constants are defined
 * here from the kernel's stable UAPI.
 */
#include "sb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6 (the kernel accepts shorter sizes). */
struct ll_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_RX (FS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define FS_ALL_ABI1 (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
	LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
	LANDLOCK_ACCESS_FS_MAKE_SYM)
#define FS_FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

int
landlock_abi_version(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? 0 : (int)v;
}

static uint64_t
fs_rights_for_abi(int abi)
{
	uint64_t r = FS_ALL_ABI1 | LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE |
	    LANDLOCK_ACCESS_FS_IOCTL_DEV;

	switch (abi) {
	case 1:
		r &= ~LANDLOCK_ACCESS_FS_REFER;
		/* fall through */
	case 2:
		r &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
		/* fall through */
	case 3:
	case 4:
		r &= ~LANDLOCK_ACCESS_FS_IOCTL_DEV;
		break;
	default:
		break;
	}
	return r;
}

static int
add_rule(int rfd, const char *path, uint64_t access, uint64_t handled, struct werr *err)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;
	int fd;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;	/* not in this root (e.g. masked away) */
		return werr_sys(err, "landlock: open %s", path);
	}
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= FS_FILE_RIGHTS;	/* directory rights on a file are EINVAL */
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	if (pb.allowed_access &&
	    syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
		werr_sys(err, "landlock: rule for %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
add_list(int rfd, const struct strv *paths, uint64_t access, uint64_t handled, struct werr *err)
{
	for (size_t i = 0; i < paths->n; i++)
		if (add_rule(rfd, paths->v[i], access, handled, err) < 0)
			return -1;
	return 0;
}

int
landlock_prepare(const struct policy *p, const char *workdir, const char *home,
    struct landlock_result *out, struct werr *err)
{
	struct ll_attr attr = { 0 };
	size_t attr_size;
	uint64_t all, dev;
	int abi, rfd;

	memset(out, 0, sizeof(*out));
	out->ruleset_fd = -1;
	abi = landlock_abi_version();
	if (abi <= 0) {
		const char *why = errno == EOPNOTSUPP ?
		    "Landlock is supported by the kernel but disabled at boot (add landlock to lsm=)" :
		    "the kernel has no Landlock (Linux 5.13+ with CONFIG_SECURITY_LANDLOCK)";
		if (p->landlock == LANDLOCK_HARD_REQUIREMENT)
			return werr_set(err, "landlock.compatibility is hard_requirement but %s", why);
		snprintf(out->warning, sizeof(out->warning),
		    "WARNING: Landlock not applied: %s; the sandbox relies on its mount allowlist "
		    "and seccomp only (landlock.compatibility: best_effort)", why);
		return 0;
	}
	out->abi = abi;
	all = fs_rights_for_abi(abi);
	attr.handled_access_fs = all;
	attr_size = sizeof(uint64_t);
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
		out->scoped = true;
	} else if (abi >= 4) {
		attr_size = 2 * sizeof(uint64_t);
	}
	if (abi < 6)
		snprintf(out->warning, sizeof(out->warning),
		    "warning: Landlock ABI %d lacks signal and abstract-socket scoping (ABI 6); "
		    "pid and network namespaces still isolate both", abi);
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rfd < 0)
		return werr_sys(err, "landlock_create_ruleset");

	dev = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_IOCTL_DEV | LANDLOCK_ACCESS_FS_TRUNCATE;
	/* Listing the skeleton root reveals only what the mounts already show. */
	if (add_rule(rfd, "/", LANDLOCK_ACCESS_FS_READ_DIR, all, err) < 0 ||
	    add_list(rfd, &p->read_only, FS_RX, all, err) < 0 ||
	    add_list(rfd, &p->read_write, all, all, err) < 0 ||
	    (p->include_workdir && add_rule(rfd, workdir, all, all, err) < 0) ||
	    (!strv_contains(&p->read_only, "/tmp") && add_rule(rfd, "/tmp", all, all, err) < 0) ||
	    (home && add_rule(rfd, home, all, all, err) < 0) ||
	    add_rule(rfd, "/dev", dev, all, err) < 0 ||
	    add_rule(rfd, "/dev/shm", all & ~LANDLOCK_ACCESS_FS_EXECUTE, all, err) < 0 ||
	    add_rule(rfd, "/proc", FS_READ, all, err) < 0 ||
	    /*
	     * The running policy and the agents' guide, and the hosts file
	     * naming policy.local and inference.local (sandbox_files.h): read
	     * even by a policy that lists no /etc.
	     */
	    add_rule(rfd, "/etc/warden", FS_READ, all, err) < 0 ||
	    add_rule(rfd, "/etc/hosts", FS_READ, all, err) < 0) {
		close(rfd);
		return -1;
	}
	out->ruleset_fd = rfd;
	return 0;
}

int
landlock_apply(const struct landlock_result *r, struct werr *err)
{
	if (r->ruleset_fd < 0)
		return 0;
	if (syscall(SYS_landlock_restrict_self, r->ruleset_fd, 0) < 0)
		return werr_sys(err, "landlock_restrict_self");
	close(r->ruleset_fd);
	return 0;
}

/*
 * A read-only world for a classifier sidecar: every filesystem right is
 * handled and only read and execute are granted, beneath the given paths;
 * on ABI 4+ every TCP bind and connect is handled and none granted (the
 * sidecar also sits in an empty network namespace when one can be made);
 * on ABI 6+ abstract unix sockets and signals are scoped.  Returns 0 with
 * out->ruleset_fd -1 when the kernel has no Landlock (the caller warns).
 */
int
landlock_prepare_readonly(const struct strv *paths, struct landlock_result *out,
    struct werr *err)
{
	struct ll_attr attr = { 0 };
	size_t attr_size = sizeof(uint64_t);
	uint64_t all;
	int abi, rfd;

	memset(out, 0, sizeof(*out));
	out->ruleset_fd = -1;
	abi = landlock_abi_version();
	if (abi <= 0)
		return 0;
	out->abi = abi;
	all = fs_rights_for_abi(abi);
	attr.handled_access_fs = all;
	if (abi >= 4) {
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
		attr_size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
		out->scoped = true;
	}
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rfd < 0)
		return werr_sys(err, "landlock_create_ruleset");
	for (size_t i = 0; i < paths->n; i++) {
		/* A system directory this machine lacks (/lib64) is no error. */
		if (access(paths->v[i], F_OK) < 0)
			continue;
		if (add_rule(rfd, paths->v[i], FS_RX, all, err) < 0) {
			close(rfd);
			return -1;
		}
	}
	out->ruleset_fd = rfd;
	return 0;
}
