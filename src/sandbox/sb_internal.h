/* Internals shared by the sandbox module's files; not used outside it. */
#ifndef WARDEN_SB_INTERNAL_H
#define WARDEN_SB_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "sandbox.h"

/* ---- control protocol between the supervisor and init/agent ---------- */
enum ctl_type {
	CTL_GO = 1,		/* supervisor → init: ids are mapped, proceed */
	CTL_ERROR,		/* init/agent → supervisor: fatal setup error */
	CTL_PTY,		/* init → supervisor: pty master fd attached */
	CTL_STARTED,		/* init → supervisor: agent forked (value = its pid) */
	CTL_WARN,		/* init → supervisor: a warning to print */
	CTL_INFO,		/* init → supervisor: what was applied */
	CTL_NETFD,		/* init → supervisor: a proxy socket (value = NET_FD_*) */
	CTL_EXECMON,		/* agent → supervisor: seccomp notification fd (or none) */
	CTL_FILE,		/* supervisor → init: a file for the root (value = ROOT_FILE_*) */
};

struct ctl_msg {
	uint32_t type;
	int32_t exit;		/* CTL_ERROR: exit code */
	int32_t value;		/* CTL_STARTED: pid, CTL_INFO: landlock abi */
	int32_t flags;		/* CTL_INFO: 1 = scoped */
	char msg[1024];
};

int ctl_send(int fd, const struct ctl_msg *m, int pass_fd);
/* Returns bytes read (0 on EOF), -1 on error; *fd_out receives a passed fd or -1. */
ssize_t ctl_recv(int fd, struct ctl_msg *m, int *fd_out);
/* Send an error and exit: for init and the pre-exec agent only. */
__attribute__((noreturn)) void ctl_die(int fd, const struct werr *err);

/*
 * Files the supervisor writes for the new root while init builds it: one
 * CTL_FILE each, in this order, with the fd attached (none: not wanted).
 */
enum { ROOT_FILE_ETC_WARDEN, ROOT_FILE_HOSTS, ROOT_FILE_CA_BUNDLE, ROOT_NFILES };
/* In init: receive them; fds[i] = -1 for a file not sent. */
int ctl_recv_files(int fd, int fds[ROOT_NFILES], struct werr *err);

/* ---- mounts ------------------------------------------------------------ */
/*
 * Build the new root from the policy and pivot into it (runs in init); the
 * supervisor's files (ctl_recv_files) are taken from ctl when needed.
 */
int mount_build_root(const struct sandbox_spec *s, int ctl, struct werr *err);

/* ---- Landlock ------------------------------------------------------------ */
struct landlock_result {
	int ruleset_fd;		/* -1 when Landlock is not applied */
	int abi;
	bool scoped;
	char warning[512];	/* non-empty: best_effort degraded */
};
/* Build the ruleset from the policy as seen inside the new root. */
int landlock_prepare(const struct policy *p, const char *workdir, const char *home,
    struct landlock_result *out, struct werr *err);
int landlock_apply(const struct landlock_result *r, struct werr *err);
/* Read and execute beneath paths, nothing else; no TCP (classifier sidecars). */
int landlock_prepare_readonly(const struct strv *paths, struct landlock_result *out,
    struct werr *err);

/* ---- seccomp ------------------------------------------------------------- */
/*
 * Load the filter into the calling thread; call last before exec.  With
 * listener, the agent's variant whose exec/exit calls notify the
 * supervisor: *listener receives the notification fd (-1 when the kernel
 * cannot notify, and the plain filter was loaded instead).
 */
int seccomp_apply(int *listener, struct werr *err);

/* ---- identity and capabilities ----------------------------------------- */
/* setgroups/setresgid/setresuid, drop every capability, no_new_privs. */
int confine_identity(uid_t uid, gid_t gid, struct werr *err);
/* Process-level hardening: core dumps off, death signal. */
int confine_process(struct werr *err);
/* setresuid/gid keeping capabilities, for init before it builds the root. */
int become_ids_keep_caps(uid_t uid, gid_t gid, bool drop_groups, struct werr *err);

/* ---- limits -------------------------------------------------------------- */
struct limits_plan {
	int cgroup_fd;		/* for CLONE_INTO_CGROUP, -1 when not used */
	char cgroup_path[4096];
	const char *method;
};
int limits_prepare(const struct policy *p, const char *name, struct limits_plan *lp,
    struct werr *err);
int limits_apply_rlimits(const struct policy *p, const struct limits_plan *lp,
    struct werr *err);
void limits_cleanup(struct limits_plan *lp);

/* ---- spawning ---------------------------------------------------------- */
/* clone3 into the namespaces and start init; returns its pid, pidfd and ctl. */
int sandbox_spawn(const struct sandbox_spec *s, const struct limits_plan *lp,
    pid_t *pid, int *pidfd, int *ctl, struct werr *err);

/* ---- network ------------------------------------------------------------ */
int net_loopback_up(struct werr *err);
enum { NET_FD_HTTP, NET_FD_SOCKS, NET_FD_INFER, NET_FD_DIAG, NET_NFDS };
/* In init: the proxy's listening sockets and a sock_diag socket, in the sandbox netns. */
int net_proxy_sockets(int fds[NET_NFDS], struct werr *err);

#endif
