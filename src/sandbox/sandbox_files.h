/*
 * Files the supervisor writes for the sandbox to read: its /etc/hosts and
 * its /etc/warden (the running policy and a guide for agents).
 *
 * They live in the sandbox's state directory, which may be closed to the
 * agent's user (a root-run warden); the sandbox gets them as an open file
 * (hosts, copied at start) or as a mount of the directory (/etc/warden,
 * read-only, so that a reload's atomic rename shows inside at once).
 */
#ifndef WARDEN_SANDBOX_FILES_H
#define WARDEN_SANDBOX_FILES_H

#include <stdint.h>

#include "../lib/err.h"
#include "../policy/policy.h"

/*
 * The sandbox's /etc/hosts: the host's plus inference.local and
 * policy.local on 127.0.0.1 (every sandbox has policy.local), in an
 * anonymous memory file.  Returns it open for reading and writing (the
 * caller closes it), or -1 with err.
 */
int sandbox_files_hosts(struct werr *err);

/*
 * DIR/policy.yaml (p's canonical form under a header naming revision and
 * hash; hash NULL: computed here) and DIR/AGENTS.md, each replaced
 * atomically; DIR is created (0755) when missing.  Call at start and after
 * every reload.  0, or -1 with err (the previous files stay).
 */
int sandbox_files_write_policy(const char *dir, const struct policy *p, uint64_t rev,
    const char *hash, struct werr *err);

/*
 * STATE_DIR/public, written as above (hash as there), and something the
 * sandbox can mount at /etc/warden: a detached copy of its mount
 * (open_tree; needs a privileged warden), else the directory opened O_PATH
 * (a rootless warden owns it and binds it by its path).  Returns the fd,
 * or -1 with err.
 */
int sandbox_files_public(const char *state_dir, const struct policy *p, uint64_t rev,
    const char *hash, struct werr *err);

#endif
