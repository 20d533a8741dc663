/*
 * process.limits.  With a delegated cgroup v2 subtree (the caller may create
 * a child cgroup and the memory/pids/cpu controllers are enabled for it)
 * the sandbox gets its own cgroup, entered atomically at clone time with
 * CLONE_INTO_CGROUP.  Otherwise limits fall back to rlimits, which are
 * weaker, and warden says so:
 *   memory → RLIMIT_AS (address space, not resident memory),
 *   pids   → RLIMIT_NPROC (counted per user namespace since Linux 5.14,
 *            so it bounds this sandbox's uid only),
 *   cpu    → cannot be expressed as an rlimit; reported as not enforced.
 * open_files is always RLIMIT_NOFILE (cgroups have no such knob).
 */
#include "sb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/util.h"

/* Find the cgroup2 mount and our cgroup path within it. */
static int
cgroup2_dir(char *out, size_t outsz, char *why, size_t whysz)
{
	_cleanup_free_ char *cg = NULL, *mi = NULL;
	struct werr e = { 0 };
	char *rel = NULL, *mnt = NULL, *line, *save;

	if (read_file("/proc/self/cgroup", 1 << 16, &cg, NULL, &e) < 0) {
		snprintf(why, whysz, "%s", e.msg);
		return -1;
	}
	for (line = strtok_r(cg, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "0::", 3) == 0)
			rel = line + 3;
	if (!rel) {
		snprintf(why, whysz, "this process is in no cgroup v2 hierarchy");
		return -1;
	}
	if (read_file("/proc/self/mountinfo", 1 << 20, &mi, NULL, &e) < 0) {
		snprintf(why, whysz, "%s", e.msg);
		return -1;
	}
	for (line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* "id parent maj:min root mountpoint opts ... - fstype source superopts" */
		char *dash = strstr(line, " - cgroup2 ");
		char *f[5];
		int i = 0;
		char *tok, *s2;
		if (!dash)
			continue;
		for (tok = strtok_r(line, " ", &s2); tok && i < 5; tok = strtok_r(NULL, " ", &s2))
			f[i++] = tok;
		if (i == 5 && strcmp(f[3], "/") == 0) {
			mnt = f[4];
			break;
		}
	}
	if (!mnt) {
		snprintf(why, whysz, "no cgroup v2 filesystem is mounted");
		return -1;
	}
	snprintf(out, outsz, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel);
	return 0;
}

/* Does the space-separated controller file list every name in need? */
static bool
has_controllers(const char *file, const char *need)
{
	_cleanup_free_ char *s = NULL;
	struct werr e = { 0 };
	char want[64], have[4200], pat[34], *tok, *save;

	if (read_file(file, 4096, &s, NULL, &e) < 0)
		return false;
	/* Pad with spaces so " name " matches whole words only. */
	snprintf(have, sizeof(have), " %s ", s);
	for (char *c = have; *c; c++)
		if (*c == '\n')
			*c = ' ';
	snprintf(want, sizeof(want), "%s", need);
	for (tok = strtok_r(want, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		snprintf(pat, sizeof(pat), " %s ", tok);
		if (!strstr(have, pat))
			return false;
	}
	return true;
}

static int
write_knob(const char *dir, const char *knob, const char *val, struct werr *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, knob);
	return write_file(path, val, err);
}

int
limits_prepare(const struct policy *p, const char *name, struct limits_plan *lp,
    struct werr *err)
{
	const struct limits *l = &p->limits;
	char dir[PATH_MAX - 64], file[PATH_MAX], why[512] = "", val[64];
	char need[64], req[64];

	memset(lp, 0, sizeof(*lp));
	lp->cgroup_fd = -1;
	lp->method = "none";
	if (!l->memory && !l->pids && !l->cpu_millis) {
		if (l->open_files)
			lp->method = "rlimits";
		return 0;
	}
	/* Controllers needed, as listed in cgroup.controllers and as a "+x" request. */
	snprintf(need, sizeof(need), "%s%s%s", l->memory ? "memory " : "", l->pids ? "pids " : "",
	    l->cpu_millis ? "cpu " : "");
	need[strlen(need) - 1] = '\0';
	snprintf(req, sizeof(req), "%s%s%s", l->memory ? "+memory " : "", l->pids ? "+pids " : "",
	    l->cpu_millis ? "+cpu " : "");

	if (cgroup2_dir(dir, sizeof(dir), why, sizeof(why)) == 0) {
		snprintf(file, sizeof(file), "%s/cgroup.subtree_control", dir);
		if (!has_controllers(file, need)) {
			/* Try to enable them; fails when our cgroup holds processes. */
			struct werr e = { 0 };
			if (write_file(file, req, &e) < 0 || !has_controllers(file, need))
				snprintf(why, sizeof(why), "controllers '%s' are not delegated to %s", need, dir);
		}
		if (!why[0]) {
			snprintf(lp->cgroup_path, sizeof(lp->cgroup_path), "%s/warden-%s", dir, name);
			if (mkdir(lp->cgroup_path, 0755) < 0 && errno != EEXIST) {
				snprintf(why, sizeof(why), "cannot create %s: %s", lp->cgroup_path,
				    strerror(errno));
				lp->cgroup_path[0] = '\0';
			}
		}
		if (!why[0]) {
			struct werr e = { 0 };
			int bad = 0;
			if (l->memory) {
				snprintf(val, sizeof(val), "%llu", (unsigned long long)l->memory);
				bad |= write_knob(lp->cgroup_path, "memory.max", val, &e) < 0;
			}
			if (l->pids) {
				snprintf(val, sizeof(val), "%llu", (unsigned long long)l->pids);
				bad |= write_knob(lp->cgroup_path, "pids.max", val, &e) < 0;
			}
			if (l->cpu_millis) {
				snprintf(val, sizeof(val), "%llu 100000",
				    (unsigned long long)(l->cpu_millis * 100));
				bad |= write_knob(lp->cgroup_path, "cpu.max", val, &e) < 0;
			}
			if (!bad)
				lp->cgroup_fd = open(lp->cgroup_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (bad || lp->cgroup_fd < 0) {
				snprintf(why, sizeof(why), "%s", e.msg[0] ? e.msg : "cannot open cgroup");
				rmdir(lp->cgroup_path);
				lp->cgroup_path[0] = '\0';
			}
		}
	}
	if (lp->cgroup_fd >= 0) {
		lp->method = "cgroup v2";
		log_warnx("limits: %s enforced by cgroup v2 (%s)", need, lp->cgroup_path);
		return 0;
	}
	lp->method = "rlimits";
	log_warnx("limits: no delegated cgroup v2 subtree (%s); using rlimits:%s%s%s", why,
	    l->memory ? " memory as RLIMIT_AS" : "", l->pids ? " pids as RLIMIT_NPROC" : "",
	    l->cpu_millis ? "; WARNING: limits.cpu is NOT enforced without cgroup v2" : "");
	(void)err;
	return 0;
}

int
limits_apply_rlimits(const struct policy *p, const struct limits_plan *lp, struct werr *err)
{
	const struct limits *l = &p->limits;
	struct rlimit r;

	if (l->open_files) {
		r.rlim_cur = r.rlim_max = l->open_files;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			return werr_sys(err, "limits.open_files (RLIMIT_NOFILE %llu)",
			    (unsigned long long)l->open_files);
	}
	if (lp->cgroup_fd >= 0)
		return 0;
	if (l->memory) {
		r.rlim_cur = r.rlim_max = l->memory;
		if (setrlimit(RLIMIT_AS, &r) < 0)
			return werr_sys(err, "limits.memory (RLIMIT_AS)");
	}
	if (l->pids) {
		r.rlim_cur = r.rlim_max = l->pids;
		if (setrlimit(RLIMIT_NPROC, &r) < 0)
			return werr_sys(err, "limits.pids (RLIMIT_NPROC)");
	}
	return 0;
}

void
limits_cleanup(struct limits_plan *lp)
{
	if (lp->cgroup_fd >= 0)
		close(lp->cgroup_fd);
	lp->cgroup_fd = -1;
	if (lp->cgroup_path[0])
		rmdir(lp->cgroup_path);
}
