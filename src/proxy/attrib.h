/*
 * Attribution: which process, running which binary, owns a TCP connection
 * the proxy accepted from inside the sandbox.
 *
 * Method (the only one today; the interface lets a more exact one, such as
 * a seccomp user notification on connect(), replace it):
 *   1. the client socket's inode, by its 4-tuple, from the sandbox's network
 *      namespace (sock_diag through a netlink socket created in that
 *      namespace when one is given, else /proc/INIT/net/tcp{,6});
 *   2. every process of the sandbox whose fd table holds that inode: the
 *      descendants of its init (found through /proc/PID/task/TID/children),
 *      and the processes that joined its pid namespace from outside
 *      (`warden exec`), found by listing /proc the first time one of their
 *      connections has no other owner, and walked from then on;
 *   3. each owner's executable (readlink /proc/PID/exe), pinned by the
 *      SHA-256 of its content, and its ancestor chain up to init (or up to
 *      the joined process at the top of its chain).
 * Several owners with different binaries, no owner, or a binary whose
 * content changed since the sandbox first ran it: attribution fails, and
 * the caller denies.
 *
 * Cost: what was read of each process is kept, and reused while the
 * kernel's count of the times each of its tasks was switched onto a CPU
 * has not moved (a process that did not run cannot have changed its fd
 * table or children); a lookup reads one small /proc file per task of the
 * sandbox, plus every file of the processes that ran since the last
 * lookup.  On kernels without those counts (CONFIG_SCHED_INFO), a named
 * wait channel (CONFIG_KALLSYMS, Linux 5.16) or kcmp(), and whenever a
 * lookup finds no owner, every process is read: about 8 + (open
 * descriptors) /proc system calls per process.  The cache keeps up to a
 * quarter of RLIMIT_NOFILE (at most 8192) descriptors open.
 *
 * Limits (see docs/threat-model.md): a socket handed over after accept is
 * not seen; an allowed interpreter runs any script; LD_PRELOAD or ptrace
 * into an allowed binary acts as that binary.  The owners are a snapshot
 * of fd tables: a descriptor in flight in an SCM_RIGHTS message, or held
 * only in an io_uring fixed-file table, is in no table, and a process
 * forked or reparented while the walk runs may be missed, so the
 * several-owners check catches accidental sharing, not processes that
 * cooperate to hide.  A joined process is looked for only when a
 * connection has no owner among the processes already known: until then,
 * a socket it shares with a process of the tree is not seen as shared.
 */
#ifndef WARDEN_ATTRIB_H
#define WARDEN_ATTRIB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../lib/err.h"

#define ATTRIB_MAX_ANCESTORS 16
/* Processes walked per lookup; a larger sandbox fails attribution. */
#define ATTRIB_MAX_PROCS 65536

struct attrib;

/*
 * init_pid: the sandbox's init as seen from the host.  diag_fd: a
 * NETLINK_SOCK_DIAG socket created inside the sandbox's network namespace,
 * or -1 to read /proc/INIT_PID/net/tcp{,6}; ownership passes to attrib,
 * also when attrib_new fails.  The struct lives as long as the sandbox:
 * it keeps, per executable path, the first content hash seen.
 */
struct attrib *attrib_new(pid_t init_pid, int diag_fd, struct werr *err);
void attrib_free(struct attrib *a);

/*
 * pid and ppid are numbers in init's own pid namespace (the one of the
 * last NSpid field of init; a namespace nested inside the sandbox is not
 * followed); init's own ppid is 0, and so is that of a process that joined
 * the sandbox from outside (its parent is not in the sandbox).  exe is the path of the file the kernel
 * executed, as the supervisor's readlink renders it.  When several
 * processes of the same binary hold the socket, pid, host_pid and the
 * ancestors are those of the most recently started one (the lowest pid on
 * a tie).  An ancestor whose executable cannot be opened is named
 * "(unknown)", which no absolute path pattern matches; the others are
 * pinned like the owner.  Under a joined process, the ancestors end with
 * it: the host-side process that started it is never named.
 */
struct identity {
	pid_t pid;			/* owner's pid inside the sandbox */
	pid_t host_pid;			/* and as the host sees it */
	pid_t ppid;			/* parent's pid inside the sandbox */
	char exe[PATH_MAX];		/* what the kernel executed */
	char sha256[65];		/* of the executable's content */
	char *ancestors[ATTRIB_MAX_ANCESTORS];	/* owned: parent's exe first, init excluded */
	size_t nancestors;
	size_t nowners;			/* processes holding the socket */
	char why[512];			/* set when attribution fails */
};

/* What the last lookup did, for tests and diagnostics. */
struct attrib_stats {
	size_t walked;		/* processes met, over all walks of the lookup */
	size_t reused;		/* of which served from the cache */
	size_t read;		/* of which read afresh */
	size_t checked;		/* cached processes whose run counts were compared */
	size_t roots;		/* joined processes walked as extra roots */
	bool cache;		/* the process cache is in use */
};

/*
 * on false: every lookup reads every process afresh, as on a kernel that
 * lacks what the cache needs (for tests, and to rule the cache out).
 */
void attrib_set_cache(struct attrib *a, bool on);
void attrib_get_stats(const struct attrib *a, struct attrib_stats *out);

/*
 * Find the owner of the connection whose client end is `client` and whose
 * server end (the proxy's listener) is `server`, both as seen inside the
 * sandbox (what getpeername/getsockname return on the accepted socket).
 * Returns 0 with *id filled, or -1 with id->why saying why no single
 * binary could be named (id->exe/pid hold the first owner found, if any).
 * err is set only for failures of warden itself (id->why then repeats it).
 * *id is overwritten without being freed: identity_free() it first when
 * reusing one.  Runs synchronously; see "Cost" above.
 */
int attrib_lookup(struct attrib *a, const struct sockaddr *client,
    const struct sockaddr *server, struct identity *id, struct werr *err);
void identity_free(struct identity *id);

#endif
