/*
 * The proxy's side of the guard protocol: a pool of classifier sidecars,
 * each a child process connected by a socketpair, driven by the
 * supervisor's event loop.
 *
 * A request is sent to every classifier of the pool at once (they are
 * chained: the highest tier wins, any deny denies).  Any error -- a
 * classifier that is not running, a write that fails, a malformed or
 * oversize reply, a reply that does not arrive before the deadline, a
 * crash -- makes the verdict GUARD_ERROR, which the caller treats as a
 * denial: the pool fails closed.  A classifier that dies is reaped and
 * started again (with a growing delay while it keeps dying); the calls it
 * had in flight fail at once.
 *
 * The pool does not know how to confine a process: the supervisor passes a
 * spawn function that starts one inside its own sandbox.
 */
#ifndef WARDEN_GUARD_CLIENT_H
#define WARDEN_GUARD_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../classify/guard_proto.h"
#include "../lib/err.h"
#include "../lib/evloop.h"

#define GUARD_POOL_MAX 8
/* A request's deadline when the caller gives none (deadline_ms 0). */
#define GUARD_DEFAULT_DEADLINE_MS 5000

struct guard_spec {
	const char *name;		/* copied */
	char *const *argv;		/* copied; argv[0] absolute */
	unsigned timeout_ms;		/* per request; 0 = the call's deadline */
};

/*
 * Start one classifier: the child must find its end of the socketpair as
 * fd 3 (sockfd here, never 3 itself, O_CLOEXEC; the spawner dup2()s it and
 * sets WARDEN_GUARD_FD=3).  Returns 0 and the child's pid, or -1 with err.
 * The pool closes sockfd afterwards and reaps the child (through a pidfd),
 * so the supervisor must not reap it (no waitpid(-1), SIGCHLD not
 * ignored).  The pid must be the process that speaks on the socket: the
 * pool accepts bytes only from it (SCM_CREDENTIALS), so the spawner execs
 * the classifier in the process it forked, with no wrapper forking in
 * between.
 */
typedef int (*guard_spawn_fn)(void *arg, const struct guard_spec *spec, int sockfd,
    pid_t *pid, struct werr *err);

/*
 * Something worth recording happened to a classifier.  event is one of:
 * "started" and "restarted" (detail "pid N"), "ready" (its hello reply:
 * name, version, protocol, pid), "refused" (it declined the handshake or
 * chose another version), "killed" (the pool killed it for what it did:
 * a malformed or unexpected message, a hang), "exited" (how it ended),
 * "spawn_failed" (why; it is tried again after a delay).
 */
typedef void (*guard_event_fn)(void *arg, const char *classifier, const char *event,
    const char *detail);

struct guard_pool;

/*
 * Start every classifier and send each its hello.  The pool is usable at
 * once: calls made before a classifier's hello reply arrives wait for it
 * (within their deadline).  Returns NULL with err when a spawn fails.
 */
struct guard_pool *guard_pool_new(struct evloop *loop, const struct guard_spec *specs,
    size_t n, guard_spawn_fn spawn, void *spawn_arg, guard_event_fn on_event,
    void *event_arg, struct werr *err);
/*
 * Kill (SIGKILL) and reap every classifier, drop pending calls without
 * calling their done.  Not from inside a done callback or another callback
 * of the same loop batch: call it once the loop has stopped (or from the
 * loop's after hook).
 */
void guard_pool_free(struct guard_pool *p);

/* What the chain decided, with what each classifier said (for the audit trail). */
struct guard_verdict {
	enum guard_decision decision;	/* ERROR: fail closed */
	enum tier tier;			/* highest of all replies; restricted on ERROR */
	char reason[300];		/* why ERROR or DENY */
	struct guard_finding *findings;	/* owned by the pool; valid during the callback */
	size_t nfindings;
	struct guard_redaction *redactions;	/* merged, sorted, non-overlapping; valid during the callback */
	size_t nredactions;
	struct {
		char name[64];
		enum guard_decision decision;
		enum tier tier;
		uint64_t latency_us;
	} per[GUARD_POOL_MAX];
	size_t nper;
};

typedef void (*guard_done_fn)(void *arg, const struct guard_verdict *v);

struct guard_call;

/*
 * Classify one request.  req->id is assigned by the pool; req->body must
 * stay valid until done runs or the call is cancelled.  done is called
 * exactly once, always from the event loop (never from inside this
 * function), unless the call is cancelled first.
 */
struct guard_call *guard_classify(struct guard_pool *p, const struct guard_request *req,
    guard_done_fn done, void *arg);
/* The requester went away: done will not be called.  Only before done ran. */
void guard_cancel(struct guard_call *c);

/* Running classifiers and restarts so far (warden ps / tests). */
void guard_pool_stats(const struct guard_pool *p, unsigned *running, unsigned *restarts);

#endif
