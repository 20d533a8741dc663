#include "sandbox_state.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int
state_base(char *out, size_t n, struct werr *err)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (geteuid() == 0)
		snprintf(out, n, "/run/warden");
	else if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && st.st_uid == geteuid())
		snprintf(out, n, "%s/warden", xdg);
	else
		snprintf(out, n, "/tmp/warden-%u", (unsigned)geteuid());
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return werr_sys(err, "mkdir %s", out);
	/* A pre-made directory in /tmp must be ours and private. */
	if (lstat(out, &st) < 0)
		return werr_sys(err, "%s", out);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return werr_set(err, "%s: not a private directory owned by uid %u", out,
		    (unsigned)geteuid());
	return 0;
}

const char *
state_check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > NAME_MAX_LEN)
		return "sandbox names are 1 to 63 characters";
	if (!isalnum((unsigned char)name[0]))
		return "sandbox names start with a letter or digit";
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
			return "sandbox names hold only letters, digits, '-', '_' and '.'";
	return NULL;
}

/*
 * The lock is the directory itself (flock works on a directory's fd): a
 * lock file would be one more file created and removed at every start,
 * which is not free where the state directory is on a disk.
 */
static int
open_lock(const char *dir)
{
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

int
state_create(const char *name, char *dir, size_t n, int *lock_fd, struct werr *err)
{
	char base[PATH_MAX - 128];
	int fd;

	if (state_base(base, sizeof(base), err) < 0)
		return -1;
	snprintf(dir, n, "%s/%s", base, name);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return werr_sys(err, "mkdir %s", dir);
	fd = open_lock(dir);
	if (fd < 0)
		return werr_sys(err, "%s", dir);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		if (errno == EWOULDBLOCK)
			return werr_set(err, "a sandbox named '%s' is already running "
			    "(choose another --name, or `warden stop %s`)", name, name);
		return werr_sys(err, "lock %s", dir);
	}
	*lock_fd = fd;
	return 0;
}

static int
write_atomic(const char *dir, const char *file, const char *text, struct werr *err)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, file);
	snprintf(dst, sizeof(dst), "%s/%s", dir, file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return werr_sys(err, "%s", tmp);
	if (write_all(fd, text, strlen(text)) < 0) {
		werr_sys(err, "write %s", tmp);
		close(fd);
		return -1;
	}
	close(fd);
	if (rename(tmp, dst) < 0)
		return werr_sys(err, "rename %s", dst);
	return 0;
}

int
state_write(const char *dir, const struct sb_state *st, struct werr *err)
{
	_cleanup_free_ char *text = NULL;

	text = xasprintf("name=%s\nsupervisor_pid=%d\ninit_pid=%d\ninit_start=%" PRIu64
	    "\nagent_pid=%d\nstarted=%" PRId64 "\npolicy_hash=%s\npolicy_revision=%" PRIu64 "\nworkdir=%s\nhome=%s\n"
	    "uid=%u\ngid=%u\ncommand=%s\nlandlock_abi=%d\nlandlock_scoped=%d\nlimits=%s\naudit_path=%s\n",
	    st->name, st->supervisor_pid, st->init_pid, st->init_start, st->agent_pid,
	    st->started, st->policy_hash, st->policy_revision, st->workdir, st->home, (unsigned)st->uid,
	    (unsigned)st->gid, st->command, st->landlock_abi, st->landlock_scoped, st->limits,
	    st->audit_path);
	return write_atomic(dir, "state", text, err);
}

static void
field(const char *text, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);

	out[0] = '\0';
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, kl) == 0 && l[kl] == '=') {
			const char *v = l + kl + 1, *e = strchrnul(v, '\n');
			snprintf(out, n, "%.*s", (int)(e - v), v);
			return;
		}
	}
}

static int64_t
field_num(const char *text, const char *key)
{
	char v[32];
	uint64_t n = 0;

	field(text, key, v, sizeof(v));
	return parse_u64(v, &n) < 0 ? -1 : (int64_t)n;
}

uint64_t
proc_start_time(pid_t pid)
{
	char path[64], *s = NULL, *p;
	struct werr e = { 0 };
	uint64_t v = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, 4096, &s, NULL, &e) < 0)
		return 0;
	/* comm may hold spaces and ')': fields resume after the last ')'. */
	p = strrchr(s, ')');
	for (int i = 0; p && i < 20; i++)
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	free(s);
	return v;
}

int
state_load(const char *name, struct sb_state *st, char *dir, size_t n, struct werr *err)
{
	char base[PATH_MAX - 128], path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	const char *prob = state_check_name(name);
	int fd;

	if (prob)
		return werr_set(err, "invalid sandbox name '%s': %s", name, prob);
	if (state_base(base, sizeof(base), err) < 0)
		return -1;
	snprintf(dir, n, "%s/%s", base, name);
	fd = open_lock(dir);
	if (fd < 0)
		return werr_set(err, "no running sandbox named '%s' (see `warden ps`)", name);
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return werr_set(err, "sandbox '%s' is not running (its supervisor is gone)", name);
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/state", dir);
	if (read_file(path, 1 << 16, &text, NULL, err) < 0) {
		werr_prefix(err, "sandbox '%s' is still starting or has a broken state file", name);
		return -1;
	}
	memset(st, 0, sizeof(*st));
	field(text, "name", st->name, sizeof(st->name));
	st->supervisor_pid = (pid_t)field_num(text, "supervisor_pid");
	st->init_pid = (pid_t)field_num(text, "init_pid");
	st->init_start = (uint64_t)field_num(text, "init_start");
	st->agent_pid = (pid_t)field_num(text, "agent_pid");
	st->started = field_num(text, "started");
	field(text, "policy_hash", st->policy_hash, sizeof(st->policy_hash));
	st->policy_revision = (uint64_t)field_num(text, "policy_revision");
	field(text, "workdir", st->workdir, sizeof(st->workdir));
	field(text, "home", st->home, sizeof(st->home));
	st->uid = (uid_t)field_num(text, "uid");
	st->gid = (gid_t)field_num(text, "gid");
	field(text, "command", st->command, sizeof(st->command));
	st->landlock_abi = (int)field_num(text, "landlock_abi");
	st->landlock_scoped = field_num(text, "landlock_scoped") == 1;
	field(text, "limits", st->limits, sizeof(st->limits));
	field(text, "audit_path", st->audit_path, sizeof(st->audit_path));
	if (st->init_pid <= 0 || proc_start_time(st->init_pid) != st->init_start)
		return werr_set(err, "sandbox '%s' is not running (its init process is gone)", name);
	return 0;
}

int
state_list(struct strv *names, struct werr *err)
{
	char base[PATH_MAX - 128], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (state_base(base, sizeof(base), err) < 0)
		return -1;
	d = opendir(base);
	if (!d)
		return werr_sys(err, "%s", base);
	while ((de = readdir(d))) {
		int fd;
		if (de->d_name[0] == '.' || state_check_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
		fd = open_lock(path);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_SH | LOCK_NB) < 0)
			strv_push(names, de->d_name);	/* held: running */
		close(fd);
	}
	closedir(d);
	strv_sort_uniq(names);
	return 0;
}

void
state_remove(const char *dir, int lock_fd)
{
	/*
	 * Everything a sandbox writes there: its state, the CA bundle handed
	 * to init (and read by warden exec), the placeholders warden exec reads,
	 * and the /etc/warden view (public/, with the temporary names of an
	 * interrupted rewrite).  The directory, the lock, goes last.
	 */
	static const char *const files[] = {
		"state", "policy.yaml" /* an earlier version's copy */, "ca-bundle.pem", "placeholders",
		"public/policy.yaml", "public/AGENTS.md", "public/.policy.yaml.tmp",
		"public/.AGENTS.md.tmp", "lock" /* an earlier version's lock file */,
	};
	char path[PATH_MAX];

	/* Relative to the directory (the lock's fd): no walk down the base for each. */
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (lock_fd >= 0) {
			unlinkat(lock_fd, files[i], 0);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/public", dir);
	rmdir(path);
	rmdir(dir);
	if (lock_fd >= 0)
		close(lock_fd);
}
