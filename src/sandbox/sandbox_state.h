/*
 * The record a running sandbox leaves for `warden ps/inspect/exec/stop`:
 * a directory per sandbox under $XDG_RUNTIME_DIR/warden (rootless) or
 * /run/warden (root), mode 0700, holding a small key=value file and the
 * canonical policy; the supervisor holds a lock on the directory itself
 * (flock) for its whole life, so a stale directory from a crashed
 * supervisor is recognised and reused.
 */
#ifndef WARDEN_SANDBOX_STATE_H
#define WARDEN_SANDBOX_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../lib/err.h"
#include "../lib/util.h"

#define NAME_MAX_LEN 63

struct sb_state {
	char name[NAME_MAX_LEN + 1];
	pid_t supervisor_pid;
	pid_t init_pid;			/* host pid of the sandbox's pid 1 */
	uint64_t init_start;		/* its start time (clock ticks), against pid reuse */
	pid_t agent_pid;		/* host pid of the agent */
	int64_t started;		/* unix time */
	char policy_hash[65];
	uint64_t policy_revision;	/* 1 at start, +1 per `warden policy set` */
	char workdir[PATH_MAX];
	char home[PATH_MAX];
	uid_t uid;
	gid_t gid;
	char command[1024];
	int landlock_abi;
	bool landlock_scoped;
	char limits[32];
	char audit_path[PATH_MAX];	/* the sandbox's audit trail */
};

int state_base(char *out, size_t n, struct werr *err);
const char *state_check_name(const char *name);
/* Create the directory for name and take its lock; *lock_fd stays open. */
int state_create(const char *name, char *dir, size_t n, int *lock_fd, struct werr *err);
/*
 * DIR/state, replaced atomically.  The running policy is not copied here:
 * DIR/public/policy.yaml (sandbox_files.h) has it, rewritten on every reload.
 */
int state_write(const char *dir, const struct sb_state *st, struct werr *err);
/* Load a running sandbox's state; fails clearly when it does not exist or is gone. */
int state_load(const char *name, struct sb_state *st, char *dir, size_t n, struct werr *err);
/* Names of running sandboxes (sorted). */
int state_list(struct strv *names, struct werr *err);
void state_remove(const char *dir, int lock_fd);
/* Start time of pid from /proc/PID/stat (field 22), 0 when unavailable. */
uint64_t proc_start_time(pid_t pid);

#endif
