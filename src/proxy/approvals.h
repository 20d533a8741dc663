/*
 * Change under control: what the agent asks for and what a human decides.
 *
 * Two kinds of pending item share one store, one id space and one set of
 * decisions:
 *
 *   a proposal  the agent POSTed to http://policy.local/v1/proposals: a new
 *               or changed network_policies entry, validated like any
 *               policy before it is ever shown to a human;
 *   a hold      (approvals.mode: ask) a connection or request the policy
 *               denies, kept waiting while a human decides; identical ones
 *               coalesce into one item.  Three shapes: a connection
 *               (binary, host, port); a request an endpoint's rules refused
 *               (also method, path and the entry whose rules decided); a
 *               model request the privacy router refused (also the
 *               provider it would go to and the tier it was given).
 *
 * A human decides on the host (warden approve / deny, through the control
 * socket): --always turns the item into a new policy revision (applied
 * live, new hash), --once lets one connection through, --for DURATION
 * lets matching connections through until it expires; deny carries a
 * reason back to the agent.  An undecided item expires (holds after
 * approvals.timeout, proposals after a longer bound).
 *
 * The store lives in the supervisor, below the sandbox module: the proxy
 * (policy.local, holds, temporary grants) calls it directly; the
 * supervisor gives it hooks to apply a policy, to record and to notify.
 * It never trusts anything the agent wrote: intent text is kept as data
 * and shown as untrusted; entries are parsed by the policy loader.
 *
 * Ownership: items belong to the store; pointers to them are valid until
 * the next call into the store that can free (approvals_tick,
 * approvals_free), so callers copy what they keep.
 */
#ifndef WARDEN_APPROVALS_H
#define WARDEN_APPROVALS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/err.h"
#include "../lib/util.h"
#include "../policy/policy.h"
#include "netpolicy.h"

#define APPR_ID_MAX 24

enum appr_kind { APPR_PROPOSAL, APPR_HOLD };
enum appr_status { APPR_PENDING, APPR_APPROVED, APPR_DENIED, APPR_EXPIRED };
enum appr_grant { GRANT_NONE, GRANT_ONCE, GRANT_FOR, GRANT_ALWAYS };

struct appr_item {
	char id[APPR_ID_MAX];		/* "p-" or "h-" + random hex; unguessable */
	enum appr_kind kind;
	enum appr_status status;
	/* Who asked. */
	char *binary;			/* or NULL */
	pid_t pid;
	/* What: a proposal's entry name and canonical YAML; a hold's destination. */
	char *name;			/* network_policies key */
	char *entry_yaml;		/* the entry as it would be written into the policy */
	char *diff;			/* human-readable change against the running policy */
	char *host;			/* a hold's (or a proposal's first endpoint's) host */
	uint16_t port;
	/* A request hold: what the rules of entry `entry` refused (path normalised). */
	char *method, *path, *entry;
	/* A router hold: where the request would go, and the tier it was given. */
	char *provider, *tier;
	/* Why, in the agent's words: untrusted text, shown as such. */
	char *intent;
	/* Risk notes warden computed (wildcard host, private address, interpreter or shell, ...). */
	struct strv risks;
	/* The decision. */
	enum appr_grant grant;
	char *reason;			/* a denial's reason, returned to the agent */
	uint64_t created_ns, decided_ns, expires_ns;	/* CLOCK_MONOTONIC (now_ns) */
	uint64_t revision;		/* policy revision it was decided under (or became) */
	char hash[65];
	unsigned coalesced;		/* holds: how many requests wait on it */
};

struct approvals_hooks {
	void *arg;
	/* The running policy, its revision and hash. */
	const struct policy *(*current)(void *arg, uint64_t *revision, const char **hash);
	/*
	 * Apply a whole new policy text (--always): 0 with the new revision
	 * and hash, or -1 with err (the running policy unchanged).
	 */
	int (*apply)(void *arg, const char *yaml, size_t len, uint64_t *revision, char hash[65],
	    struct werr *err);
	/* An item was created or decided or expired: record it, tell the human. */
	void (*changed)(void *arg, const struct appr_item *it, const char *event);
};

struct approvals_config {
	bool ask;			/* approvals.mode: ask */
	unsigned hold_timeout_ms;	/* approvals.timeout, default 60000 */
	bool proposals;			/* approvals.proposals: the agent may propose (default true) */
	unsigned rate_per_minute;	/* proposals per minute per sandbox, default 10 */
	unsigned max_pending;		/* default 64 */
};

struct approvals;

struct approvals *approvals_new(const struct approvals_hooks *h, const struct approvals_config *c);
void approvals_free(struct approvals *a);
/* A reload changed the approvals section. */
void approvals_configure(struct approvals *a, const struct approvals_config *c);

/*
 * policy.local POST /v1/proposals: body is the agent's JSON.  Returns the
 * HTTP status (201 created, 400 invalid with the policy loader's messages,
 * 403 proposals disabled or static section, 429 rate-limited) and the JSON
 * answer in out ({"id","status":"pending"} or {"error","reason",...}).
 */
int approvals_propose(struct approvals *a, const char *binary, pid_t pid, const char *body,
    size_t len, struct sbuf *out);
/* The item, or NULL (unknown ids and expired-and-forgotten ones alike). */
const struct appr_item *approvals_get(const struct approvals *a, const char *id);
/* Its JSON for GET /v1/proposals/ID: {"id","kind","status","reason","revision","hash"}. */
void approvals_item_json(const struct appr_item *it, struct sbuf *out);

/*
 * Hold-and-ask: what the policy denied (why), described by h (borrowed:
 * the store copies what it keeps).  A connection names binary, host and
 * port; a request adds method, path and entry; a router hold adds
 * provider and tier.  Returns the pending item it now waits on (a new
 * one, or an identical one it coalesces with: every field equal but pid
 * and why), or NULL when holding is off or the store is full (then the
 * denial stands).
 */
struct appr_hold {
	const char *binary;
	pid_t pid;
	const char *host;
	uint16_t port;
	const char *method, *path, *entry;	/* a request; NULL for a connection */
	const char *provider, *tier;		/* a model request the router refused */
	const char *why;
};
const struct appr_item *approvals_hold(struct approvals *a, const struct appr_hold *h);
/* A held connection went away (its client closed) or was answered. */
void approvals_release(struct approvals *a, const char *id);

/*
 * Temporary grants (--once, --for): the approved item that lets who reach
 * d now, or NULL.  who is the connecting binary with its ancestors (a
 * proposal's entry may say children: true).  consume: this connection
 * uses a --once grant up.  Request and router holds never grant a
 * connection.
 */
const struct appr_item *approvals_grant_for(struct approvals *a, const struct dest *d,
    const struct binident *who, bool consume);
/*
 * The same for one request or one model request: the approved hold whose
 * every field (binary, host, port, method, path, entry; or provider and
 * tier) equals h's, or NULL.  Only holds grant requests: a proposal is a
 * policy entry, and decides as one once applied (--always).
 */
const struct appr_item *approvals_grant_request(struct approvals *a, const struct appr_hold *h,
    bool consume);

/*
 * Host side (control socket).  grant: ONCE, FOR (for_ms), ALWAYS; deny
 * with reason.  0, or -1 with err (unknown id, already decided, the new
 * policy invalid -- then nothing changed).  --always on a request hold
 * adds an allow rule (that method, that exact path, any query) to the
 * endpoint of the entry whose rules refused it, an `access` preset
 * rewritten as the rules it stands for; on a router hold it is refused
 * (a provider's max_tier is changed by editing the policy, not by
 * approving one request).
 */
int approvals_approve(struct approvals *a, const char *id, enum appr_grant grant,
    uint64_t for_ms, struct werr *err);
int approvals_deny(struct approvals *a, const char *id, const char *reason, struct werr *err);
/* Every pending item, for warden approvals (one JSON object per line). */
void approvals_list_json(const struct approvals *a, struct sbuf *out);

/*
 * Learn of a decision: fn runs once, from the event loop, when the item
 * is decided or expires (long-polls, held connections).  Cancel with
 * approvals_unwait before the waiter goes away.
 *
 * One-shot: once fn has been called the waiter is freed by the store, so
 * it must not be passed to approvals_unwait afterwards (nor from inside
 * fn).  Waiting on an item already decided calls fn at the next
 * approvals_tick, never from inside approvals_wait.  fn runs from
 * approvals_approve / approvals_deny (the control socket's handler) or
 * from approvals_tick.
 */
typedef void (*appr_wait_fn)(void *arg, const struct appr_item *it);
struct appr_waiter;
struct appr_waiter *approvals_wait(struct approvals *a, const char *id, appr_wait_fn fn,
    void *arg);
void approvals_unwait(struct appr_waiter *w);

/* Expire what is due (holds, grants, proposals); call from the loop's tick. */
void approvals_tick(struct approvals *a, uint64_t now);

/*
 * Risk notes (approvals_risk.c), exposed for tests: sentences appended to
 * out for a loaded entry np of policy p (p gives the credentials bound to
 * it; may be NULL), and for a held destination.  Advisory only.
 */
void approvals_risks_entry(const struct policy *p, const struct net_policy *np, struct strv *out);
void approvals_risks_hold(const char *binary, const char *host, struct strv *out);
/* A held request's method and path: what an allow rule for them would open. */
void approvals_risks_request(const char *method, const char *path, struct strv *out);
/* A binary path or glob that is, or may match, a shell or an interpreter. */
bool approvals_is_interpreter(const char *path);

/*
 * Why something held on item it is refused now that it is decided, into
 * buf: "held for approval: denied by the operator: REASON", "held for
 * approval: no decision within N s (WHY)" (why: the original denial, may
 * be NULL), or for an approved item that still does not let it through
 * "held for approval: approved (ID), but " for the caller to finish.
 */
void approvals_refusal(const struct appr_item *it, const char *why, char *buf, size_t n);

const char *appr_status_name(enum appr_status s);
const char *appr_grant_name(enum appr_grant g);

#endif
