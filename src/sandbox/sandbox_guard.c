/*
 * Classifier sidecars, started inside their own small sandbox.
 *
 * A classifier reads everything the agent sends to a model, so it must not
 * be able to send it anywhere else, and a bug in it must not reach the
 * supervisor.  Each sidecar is a child of the supervisor that, before it
 * executes the classifier:
 *
 *   - keeps only fd 0-2 (/dev/null in), its end of the guard socket as
 *     fd 3 and, for the built-in classifier, its rules as fd 4 (a sealed
 *     memfd: no file of the supervisor's is opened for it);
 *   - dies with the supervisor (PDEATHSIG) and leaves its session;
 *   - drops to the agent's uid/gid when warden runs as root;
 *   - enters a new user and network namespace (no interface at all);
 *   - sets no_new_privs, applies Landlock (read and execute beneath the
 *     system directories, its own directory and the paths the policy
 *     names; no writes anywhere; no TCP bind or connect; abstract sockets
 *     and signals scoped) and the agent's seccomp filter.
 *
 * Everything that allocates happens in the parent before fork(): the
 * supervisor may have resolver threads, and the child only makes system
 * calls until execve().
 */
#include "sb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/log.h"
#include "sandbox_guard.h"

static const char *const system_dirs[] = { "/usr", "/bin", "/lib", "/lib64", "/etc" };

static void
child_fail(const char *name, const char *what)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "warden: classifier %s: %s: %s\n", name, what,
	    strerror(errno));

	if (n > 0)
		(void)!write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(127);
}

static int
rules_memfd(const char *rules, size_t len, struct werr *err)
{
	int fd = memfd_create("warden-guard-rules", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return werr_sys(err, "memfd_create");
	if (write_all(fd, rules, len) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		werr_sys(err, "classifier rules");
		close(fd);
		return -1;
	}
	return fd;
}

int
guard_sidecar_spawn(void *arg, const struct guard_spec *spec, int sockfd, pid_t *pid,
    struct werr *err)
{
	const struct guard_launch *gl = arg;
	const struct classifier *cl = NULL;
	bool builtin = strcmp(spec->name, "builtin") == 0;
	struct strv paths = { 0 };
	struct landlock_result ll;
	char dir[PATH_MAX];
	int rfd = -1, devnull;
	pid_t child;

	for (size_t i = 0; i < gl->policy->nclassifiers; i++)
		if (strcmp(gl->policy->classifiers[i].name, spec->name) == 0)
			cl = &gl->policy->classifiers[i];
	for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++)
		strv_push(&paths, system_dirs[i]);
	/* Its own directory: a build tree or a libexec directory outside /usr. */
	snprintf(dir, sizeof(dir), "%s", spec->argv[0]);
	if (strrchr(dir, '/') && strrchr(dir, '/') != dir)
		*strrchr(dir, '/') = '\0';
	strv_push(&paths, dir);
	if (cl)
		for (size_t i = 0; i < cl->read_only.n; i++)
			strv_push(&paths, cl->read_only.v[i]);
	if (landlock_prepare_readonly(&paths, &ll, err) < 0) {
		strv_free(&paths);
		werr_prefix(err, "classifier %s", spec->name);
		return -1;
	}
	strv_free(&paths);
	if (ll.ruleset_fd < 0 && !gl->warned_landlock)
		log_warnx("warning: the kernel has no Landlock: classifier %s runs with seccomp, "
		    "its own namespaces and the agent's uid only", spec->name);
	if (builtin && (rfd = rules_memfd(gl->rules, gl->rules_len, err)) < 0) {
		if (ll.ruleset_fd >= 0)
			close(ll.ruleset_fd);
		return -1;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	child = fork();
	if (child < 0) {
		werr_sys(err, "classifier %s: fork", spec->name);
		goto out;
	}
	if (child == 0) {
		struct werr e2 = { 0 };

		/*
		 * fd 3 = the socket, fd 4 = the rules, fd 5 = the Landlock
		 * ruleset until it is applied; via high numbers so that no dup2
		 * clobbers another.
		 */
		if (dup2(sockfd, 100) < 0 || (rfd >= 0 && dup2(rfd, 101) < 0) ||
		    (ll.ruleset_fd >= 0 && dup2(ll.ruleset_fd, 102) < 0) ||
		    (devnull >= 0 && dup2(devnull, 0) < 0) || dup2(100, 3) < 0 ||
		    (rfd >= 0 && dup2(101, 4) < 0) || (ll.ruleset_fd >= 0 && dup2(102, 5) < 0))
			child_fail(spec->name, "dup2");
		if (ll.ruleset_fd >= 0)
			ll.ruleset_fd = 5;
		if (syscall(SYS_close_range, 6, ~0U, 0) < 0)
			child_fail(spec->name, "close_range");
		if (rfd < 0)
			close(4);
		setsid();
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			child_fail(spec->name, "PR_SET_PDEATHSIG");
		if (getppid() != gl->supervisor)
			_exit(127);
		if (gl->drop_ids) {
			if (setgroups(0, NULL) < 0 || setresgid(gl->gid, gl->gid, gl->gid) < 0 ||
			    setresuid(gl->uid, gl->uid, gl->uid) < 0)
				child_fail(spec->name, "drop to the agent's uid");
		}
		/* No network at all: a namespace without interfaces (Landlock covers TCP besides). */
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC) < 0 && errno != EPERM &&
		    errno != EINVAL && errno != ENOSPC)
			child_fail(spec->name, "unshare");
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			child_fail(spec->name, "no_new_privs");
		if (ll.ruleset_fd >= 0) {
			if (syscall(SYS_landlock_restrict_self, ll.ruleset_fd, 0) < 0)
				child_fail(spec->name, "landlock_restrict_self");
			close(ll.ruleset_fd);
		}
		if (seccomp_apply(NULL, &e2) < 0)
			child_fail(spec->name, "seccomp");
		execve(spec->argv[0], spec->argv, gl->envp);
		child_fail(spec->name, "execve");
	}
	*pid = child;
out:
	if (devnull >= 0)
		close(devnull);
	if (rfd >= 0)
		close(rfd);
	if (ll.ruleset_fd >= 0)
		close(ll.ruleset_fd);
	return child < 0 ? -1 : 0;
}

char *
guard_rules_json(const struct inference *inf)
{
	struct sbuf b;

	sbuf_init(&b, 8u << 20);
	sbuf_adds(&b, "{\"base64_min_tier\":");
	sbuf_add_json(&b, tier_name(inf->base64_min_tier));
	sbuf_adds(&b, ",\"custom\":[");
	for (size_t i = 0; i < inf->ncustom; i++) {
		const struct infer_custom *c = &inf->custom[i];

		sbuf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
		sbuf_add_json(&b, c->name);
		sbuf_adds(&b, ",\"tier\":");
		sbuf_add_json(&b, tier_name(c->tier));
		if (c->pattern) {
			sbuf_adds(&b, ",\"pattern\":");
			sbuf_add_json(&b, c->pattern);
		} else {
			sbuf_adds(&b, ",\"terms\":[");
			for (size_t j = 0; j < c->terms.n; j++) {
				if (j)
					sbuf_adds(&b, ",");
				sbuf_add_json(&b, c->terms.v[j]);
			}
			sbuf_adds(&b, "]");
		}
		sbuf_adds(&b, "}");
	}
	sbuf_adds(&b, "]}\n");
	if (b.overflow) {
		sbuf_free(&b);
		return NULL;
	}
	return b.p;
}

int
guard_find_builtin(char *out, size_t n, struct werr *err)
{
	char self[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);

	/* Next to warden itself (a build tree), then where make install puts it. */
	if (l > 0) {
		self[l] = '\0';
		if (strrchr(self, '/')) {
			*strrchr(self, '/') = '\0';
			snprintf(out, n, "%s/warden-guard", self);
			if (access(out, X_OK) == 0)
				return 0;
		}
	}
	snprintf(out, n, "%s/warden/warden-guard", WARDEN_LIBEXECDIR);
	if (access(out, X_OK) == 0)
		return 0;
	return werr_set(err, "the built-in classifier warden-guard was found neither next to "
	    "warden nor at %s: the inference section cannot be enforced", out);
}
