/*
 * Starting classifier sidecars confined (sandbox_guard.c), for the guard
 * pool of src/router/guard_client.h.
 */
#ifndef WARDEN_SANDBOX_GUARD_H
#define WARDEN_SANDBOX_GUARD_H

#include <stdbool.h>
#include <sys/types.h>

#include "../policy/policy.h"
#include "../router/guard_client.h"

struct guard_launch {
	const struct policy *policy;	/* classifiers' read_only paths */
	const char *rules;		/* the built-in classifier's rules (JSON) */
	size_t rules_len;
	char *const *envp;		/* the sidecars' environment */
	bool drop_ids;			/* warden runs as root: sidecars run as uid/gid */
	uid_t uid;
	gid_t gid;
	pid_t supervisor;
	bool warned_landlock;
};

/* A guard_spawn_fn: arg is a struct guard_launch. */
int guard_sidecar_spawn(void *arg, const struct guard_spec *spec, int sockfd, pid_t *pid,
    struct werr *err);
/* The built-in classifier's rules file for an inference section; owned, NULL if too large. */
char *guard_rules_json(const struct inference *inf);
/* Where warden-guard is: next to warden, or under the install's libexec directory. */
int guard_find_builtin(char *out, size_t n, struct werr *err);

#endif
