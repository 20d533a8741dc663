/*
 * Attribution: which process, running which binary, owns a TCP connection
 * the proxy accepted from inside the sandbox.
 *
 * Method (the only one today; the interface lets a more exact one, such as
 * a seccomp user notification on connect(), replace it):
 *   1. the client socket's inode, by its 4-tuple, from the sandbox's network
 *      namespace (sock_diag through a netlink socket created in that
 *      namespace when one is given, else /proc/INIT/net/tcp{,6});
 *   2. every process of the sandbox (the descendants of its init, found
 *      through /proc/PID/task/TID/children) whose fd table holds that inode;
 *   3. each owner's executable (readlink /proc/PID/exe), pinned by the
 *      SHA-256 of its content, and its ancestor chain up to init.
 * Several owners with different binaries, no owner, or a binary whose
 * content changed since the sandbox first ran it: attribution fails, and
 * the caller denies.
 *
 * Limits (see docs/threat-model.md): a socket handed over after accept is
 * not seen; an allowed interpreter runs any script; LD_PRELOAD or ptrace
 * into an allowed binary acts as that binary.  The owners are a snapshot
 * of fd tables: a descriptor in flight in an SCM_RIGHTS message is in no
 * table, and a process forked or reparented while the walk runs may be
 * missed, so the several-owners check catches accidental sharing, not
 * processes that cooperate to hide.  Only descendants of init are seen: a
 * process that joined the sandbox's namespaces from outside (setns) is
 * not, and its connections find no owner.  The cost of a lookup is about
 * 8 + (open descriptors) /proc system calls per process in the sandbox.
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
 * followed); init's own ppid is 0.  exe is the path of the file the kernel
 * executed, as the supervisor's readlink renders it.  When several
 * processes of the same binary hold the socket, pid, host_pid and the
 * ancestors are those of the most recently started one (the lowest pid on
 * a tie).  An ancestor whose executable cannot be opened is named
 * "(unknown)", which no absolute path pattern matches; the others are
 * pinned like the owner.
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

/*
 * Find the owner of the connection whose client end is `client` and whose
 * server end (the proxy's listener) is `server`, both as seen inside the
 * sandbox (what getpeername/getsockname return on the accepted socket).
 * Returns 0 with *id filled, or -1 with id->why saying why no single
 * binary could be named (id->exe/pid hold the first owner found, if any).
 * err is set only for failures of warden itself (id->why then repeats it).
 * *id is overwritten without being freed: identity_free() it first when
 * reusing one.  Runs synchronously: the cost grows with the number of
 * processes in the sandbox and their open files.
 */
int attrib_lookup(struct attrib *a, const struct sockaddr *client,
    const struct sockaddr *server, struct identity *id, struct werr *err);
void identity_free(struct identity *id);

#endif
