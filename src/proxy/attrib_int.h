/*
 * Internals of attribution, shared by its files (not used outside them):
 *
 *   attrib.c       the lookup, setup, and small /proc helpers
 *   attrib_sock.c  step 1: the socket's inode from its 4-tuple
 *   attrib_walk.c  step 2: the sandbox's processes and their fd tables,
 *                  with the per-process cache and joined roots
 *   attrib_exe.c   step 3: executables, their content pins, the ancestry
 *
 * See attrib.c for the method and its reasoning.
 */
#ifndef WARDEN_ATTRIB_INT_H
#define WARDEN_ATTRIB_INT_H

#include "attrib.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/kcmp.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "../lib/hash.h"
#include "../lib/util.h"

#define PINS_MAX 65536		/* distinct executable paths per sandbox */
#define CACHE_MAX 256		/* content hashes kept; the table restarts when full */
#define EXE_SIZE_MAX (1LL << 30)	/* larger binaries are not hashed */
#define WALK_TRIES 3		/* full walks when processes vanish and no owner is found */
#define KEPT_FDS_MAX 8192	/* descriptors the process cache may keep open */
#define ROOTS_MAX 256		/* joined processes remembered as extra walk roots */
#define OUTSIDE_MAX 65536	/* host processes remembered as outside the sandbox */
#define CLIMB_MAX 4096		/* parent links followed from a joined process */
#define TCP_STATE_TIME_WAIT 6
#define TCP_STATE_LISTEN 10
#define DELETED_SUFFIX " (deleted)"

/* Internal results: A_ERR means err is set, A_DENY that id->why is. */
enum { A_OK = 0, A_ERR = -1, A_DENY = -2, A_RETRY = -3 };

/* What the current walk knows of a cached process. */
enum { V_RAN, V_SAME, V_READ };

/* One end of the connection; IPv4 also when it came as ::ffff:a.b.c.d. */
struct endpoint {
	bool v4;
	uint8_t addr[16];	/* the first 4 bytes when v4 */
	uint16_t port;		/* host order */
};

struct content {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
	char sha256[SHA256_HEX_LEN + 1];
};

struct pin {
	char *path;		/* owned; NULL for an empty slot */
	char sha256[SHA256_HEX_LEN + 1];
};

/* A resolved executable: the path and the hash of the file behind it. */
struct exe {
	char path[PATH_MAX];
	char sha256[SHA256_HEX_LEN + 1];
};

struct dirent64_raw {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* A task of a cached process. */
struct ptask {
	pid_t tid;
	int runs_fd;		/* its schedstat, kept open; -1 past the budget */
	int kids_fd;		/* its children file, opened when first read again; -1 */
	uint64_t runs;		/* times switched in, when the process was read */
};

/* A socket in a process's tables, and a task whose table holds it. */
struct hold {
	uint64_t ino;
	pid_t task;
};

/*
 * What was read of one process.  Everything but the verdict and the walk
 * fields describes the process as it was when read; it is reused only
 * under the conditions in the file comment.
 */
struct proc {
	pid_t pid;
	pid_t nspid;		/* in the sandbox's namespace */
	unsigned long long start;	/* start time, kept when the leader has no runs_fd */
	struct ptask *tasks;	/* the leader first */
	size_t ntasks, tasks_cap;
	pid_t *kids;		/* children of every task */
	size_t nkids, kids_cap;
	struct hold *socks;
	size_t nsocks, socks_cap;
	pid_t *tables;		/* one task per distinct fd table */
	size_t ntables, tables_cap;
	bool quiet;		/* every task was off the CPU (or dead) when read */
	bool complete;		/* socks lists every socket (the read did not stop early) */
	bool shared;		/* a table is also another process's */
	bool reaper;		/* init of a pid namespace: orphans land here */
	bool indexed;		/* its tables are in the fd-table index */
	/* The current walk (gen): */
	uint32_t gen;
	uint8_t verdict;
	bool visited;		/* reached by the walk */
	bool reused;		/* served from the cache */
	bool kids_read;		/* children read during this walk */
	size_t step;		/* where the walk reached it */
};

/* An entry of the fd-table index: a task, ordered by its table. */
struct ixent {
	pid_t tid;
	struct proc *p;
};

/* A process of the walk. */
struct step {
	pid_t pid;
	ssize_t up;		/* the step of its parent; -1 for a root */
	struct proc *p;		/* set once visited, unless gone */
	bool root, gone;
};

struct seen {
	pid_t pid;
	uint32_t gen;		/* slot is live when gen == attrib.gen */
	size_t step;
};

/* A process holding the socket, and the task whose fd table showed it. */
struct owner {
	pid_t pid, task;
	size_t step;
};

/* A process that joined the sandbox from outside: an extra walk root. */
struct root {
	pid_t pid;
	unsigned long long start;
};

/* A host process known to be outside the sandbox's pid namespace. */
struct outside {
	pid_t pid;		/* 0: empty slot */
	uint64_t ino;		/* of its /proc/PID directory, against pid reuse */
};

/* What /proc/PID/status tells the walk. */
struct pstatus {
	pid_t ppid;
	pid_t nspid;		/* at the sandbox's level; 0 when not that deep */
	pid_t innermost;	/* in its own namespace: 1 for the init of one */
	long threads;
	char state;
};

struct attrib {
	pid_t init_pid;
	int diag_fd;		/* -1: read /proc/INIT/net instead */
	int proc_fd;		/* /proc */
	int init_fd;		/* /proc/INIT: a dead init is ESRCH, never a reused pid */
	size_t ns_level;	/* index of the sandbox's pid in NSpid lines */
	pid_t init_nspid;	/* init's own number there (1 in a real sandbox) */
	uint32_t seq;

	/* Process cache (see the file comment). */
	bool cache_ok;		/* the kernel gives what it needs */
	bool use_cache;		/* attrib_set_cache() */
	struct proc **tab;	/* open addressing by pid, size a power of two */
	size_t tab_cap, ntab;
	struct ixent *index;	/* sorted by fd table */
	size_t nindex, index_cap;
	size_t nkept, kept_max;	/* descriptors held by the cache */
	struct attrib_stats stats;

	/* The walk: every process found, in breadth-first order. */
	struct step *steps;
	size_t nsteps, steps_cap;
	struct seen *seen;	/* open addressing, size a power of two */
	size_t seen_cap;
	uint32_t gen;
	bool changed;		/* a process vanished during the walk */
	struct owner *owners;
	size_t nowners, owners_cap;
	pid_t *tids;		/* scratch: a process's tasks */
	size_t ntids, tids_cap;
	int *fdnums;		/* scratch: the descriptors of one table */
	size_t nfdnums, fdnums_cap;
	bool no_kcmp;		/* kernel without kcmp(): read every task's table */
	uint64_t target;	/* the socket's inode */

	/* Joined processes. */
	bool can_join;		/* init is the init of a pid namespace of its own */
	dev_t ns_dev;		/* the sandbox's pid namespace (ns/pid of init) */
	ino_t ns_ino;
	struct root roots[ROOTS_MAX];
	size_t nroots;
	struct outside *outside;	/* open addressing, size a power of two */
	size_t outside_cap, noutside;

	struct content cache[CACHE_MAX];
	size_t ncache;
	struct pin *pins;	/* open addressing, size a power of two */
	size_t npins, pins_cap;

	char dents[32768] __attribute__((aligned(8)));
	char io[65536] __attribute__((aligned(8)));
};


/* defined in attrib.c */
int __attribute__((format(printf, 2, 3))) at_deny(struct identity *id, const char *fmt, ...);
bool at_gone(int e);
bool at_denied(int e);
int at_proc_path(const struct attrib *a, pid_t pid, const char *rel, char *buf, size_t len);
void at_task_rel(pid_t pid, pid_t tid, const char *rel, char *buf, size_t len);
int at_read_fd_into(int fd, bool at_zero, bool one_record, char *buf, size_t size, size_t *len);
int at_read_small(struct attrib *a, int dirfd, const char *path, size_t *len);
long at_sys_getdents64(int fd, void *buf, size_t len);
long at_sys_kcmp(pid_t t1, pid_t t2);
pid_t at_parse_pid(const char *s);

/* What at_resolve_exe() returns besides A_OK and errors. */
enum { EXE_GONE = 1, EXE_DENIED = 2 };

/* defined in attrib_exe.c */
int at_resolve_exe(struct attrib *a, pid_t task, struct exe *out, struct identity *id,
    struct werr *err);
unsigned long long at_start_time(struct attrib *a, pid_t pid);
unsigned long long at_start_time_at(struct attrib *a, int dirfd);
int at_ancestry(struct attrib *a, size_t step, struct exe *e, struct identity *id,
    struct werr *err);

/* defined in attrib_sock.c */
int at_endpoint_from(const struct sockaddr *sa, struct endpoint *ep);
int at_diag_inode(struct attrib *a, const struct endpoint *c, const struct endpoint *s,
    uint64_t *ino, bool *found, struct werr *err);
int at_procnet_inode(struct attrib *a, const struct endpoint *c, const struct endpoint *s,
    uint64_t *ino, bool *found, struct werr *err);

/* defined in attrib_walk.c */
bool at_caching(const struct attrib *a);
int at_read_runs(int fd, uint64_t *runs);
bool at_proc_alive(struct attrib *a, struct proc *p);
int at_read_pstatus(struct attrib *a, int dirfd, pid_t pid, struct pstatus *st,
    struct werr *err);
void at_read_comm(struct attrib *a, pid_t pid, char *out, size_t len);
int at_unreadable(struct attrib *a, int dirfd, pid_t pid, pid_t tid, struct identity *id);
int at_walk(struct attrib *a, bool trust, struct identity *id, struct werr *err);
int at_discover(struct attrib *a, struct werr *err);

#endif
