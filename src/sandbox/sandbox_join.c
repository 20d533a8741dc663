/*
 * `warden exec`: enter every namespace of a running sandbox through a
 * pidfd of its init (one atomic setns), rebuild the same Landlock ruleset
 * from the saved policy as seen inside its root, and exec under the same
 * identity, capability drop and seccomp filter as the agent.
 */
#include "sb_internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>

extern char **environ;

int
sandbox_join_exec(pid_t init_pid, const struct policy *p, const char *workdir,
    const char *home, uid_t uid, gid_t gid, char *const *argv, char *const *envp,
    struct werr *err)
{
	struct landlock_result ll;
	struct limits_plan lp = { .cgroup_fd = -1 };
	int pidfd, st;
	pid_t child;
	int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
	    CLONE_NEWUTS | CLONE_NEWCGROUP;

	pidfd = (int)syscall(SYS_pidfd_open, init_pid, 0);
	if (pidfd < 0)
		return werr_sys(err, "pidfd_open(%d)", init_pid);
	if (setns(pidfd, flags) < 0) {
		werr_sys(err, "join the sandbox's namespaces");
		close(pidfd);
		return -1;
	}
	close(pidfd);
	if (become_ids_keep_caps(uid, gid, true, err) < 0)
		return -1;
	if (landlock_prepare(p, workdir, home, &ll, err) < 0)
		return -1;
	child = fork();	/* the child is the one inside the pid namespace */
	if (child < 0)
		return werr_sys(err, "fork");
	if (child == 0) {
		const char *cwd = p->include_workdir ? workdir : (home && *home ? home : "/");
		if (confine_process(err) < 0 || limits_apply_rlimits(p, &lp, err) < 0)
			goto fail;
		if (chdir(cwd) < 0) {
			werr_sys(err, "chdir %s", cwd);
			goto fail;
		}
		if (confine_identity(uid, gid, err) < 0 || landlock_apply(&ll, err) < 0)
			goto fail;
		if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ||
		    seccomp_apply(NULL, err) < 0)
			goto fail;
		environ = (char **)envp;
		execvp(argv[0], argv);
		fprintf(stderr, "warden: %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? WEXIT_NOT_FOUND : WEXIT_CANNOT_EXEC);
fail:
		fprintf(stderr, "warden: %s\n", err->msg);
		_exit(WEXIT_FAILURE);
	}
	if (ll.ruleset_fd >= 0)
		close(ll.ruleset_fd);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return werr_sys(err, "waitpid");
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}
