/*
 * The sandbox: an agent process confined by namespaces, a mount allowlist,
 * Landlock, seccomp, no capabilities and no network but loopback.
 *
 * Process layout:
 *
 *   supervisor (warden run; outside every namespace)
 *     └─ init  (pid 1 of the sandbox: builds the root, then reaps and
 *          │    forwards signals; never confined by seccomp so it can't be
 *          │    starved, but holds no capabilities once the agent starts)
 *          └─ agent (pid 2: Landlock + seccomp + no_new_privs, then exec)
 *
 * Errors in init or the agent before exec travel to the supervisor over a
 * control socket as one precise message with its exit code.
 */
#ifndef WARDEN_SANDBOX_H
#define WARDEN_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "../lib/err.h"
#include "../policy/policy.h"
#include "../proxy/proxy.h"

struct sandbox_spec {
	const struct policy *policy;	/* borrowed */
	const char *name;		/* also the sandbox's hostname */
	const char *workdir;		/* absolute, resolved */
	char *const *argv;
	char *const *envp;		/* the agent's whole environment */
	uid_t uid;			/* agent ids, same number inside and outside */
	gid_t gid;
	const char *home;		/* private HOME path inside */
	bool pty;			/* give the agent its own terminal */
	const char *state_dir;		/* where ps/inspect/exec/stop find it */
	const struct add_host *hosts;	/* --add-host pins for the proxy */
	size_t nhosts;
	struct proxy_config proxy;	/* timeouts and limits (fds filled in here) */
	struct tlsca *ca;		/* taken: the sandbox's TLS authority, or NULL */
	struct credstore *creds;	/* taken: loaded credentials, or NULL */
	const char *audit_path;		/* the audit trail (required) */
	const char *audit_key;		/* Ed25519 signing key, created if missing */
	const char *version;		/* warden's, for sandbox.start */
};

/* What the kernel actually applied, for reports and the state file. */
struct sandbox_report {
	int landlock_abi;		/* 0 = not applied */
	bool landlock_scoped;		/* abstract unix + signal scoping */
	const char *limits_method;	/* "cgroup v2", "rlimits" or "none" */
};

/*
 * Run argv in a new sandbox and supervise it until it exits.  Returns the
 * agent's exit status mapped to a shell exit code (128+signal when killed),
 * or -1 with err set when the sandbox could not be started (err->exit says
 * 125/126/127).
 */
int sandbox_run(const struct sandbox_spec *spec, struct werr *err);

/*
 * Join a running sandbox (namespaces of its init process) and exec argv
 * under the same Landlock rules and seccomp filter.  Only returns on error.
 */
int sandbox_join_exec(pid_t init_pid, const struct policy *p, const char *workdir,
    const char *home, uid_t uid, gid_t gid, char *const *argv, char *const *envp,
    struct werr *err);

/* Landlock ABI of the running kernel: >0 version, 0 unsupported. */
int landlock_abi_version(void);

#endif
