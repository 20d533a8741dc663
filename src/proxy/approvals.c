/*
 * The approvals store: proposals and holds, one id space, decisions,
 * temporary grants and the waiters that learn of them (contract in
 * approvals.h).
 *
 * Items are kept in creation order in one array of pointers.  Pending
 * items are bounded by max_pending; decided ones are kept (up to
 * HISTORY_MAX) so that an agent polling GET /v1/proposals/ID still gets
 * its answer after the decision, and so that live temporary grants can
 * be matched.
 *
 * A proposal is never shown to a human before the policy loader has
 * accepted it: the candidate is the running policy's canonical text with
 * the proposed entry spliced into network_policies, loaded like any
 * policy file.  The same splice is redone against the then-running
 * policy when the human approves it --always, so a reload that happened
 * in between is not undone.
 */
#include "approvals.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../policy/policy_check.h"
#include "httprules.h"

#define HISTORY_MAX 256			/* decided items remembered */
#define PROPOSAL_TTL_MS (60u * 60 * 1000)	/* an undecided proposal is dropped after an hour */
#define INTENT_MAX 2000
#define BODY_MAX (64u << 10)
#define RATE_MAX 600			/* the largest rate_per_minute accepted */
#define DIFF_MAX_LINES 1000		/* beyond this the diff is old-all-out, new-all-in */
#define MIN_NS 60000000000ull

struct appr_waiter {
	struct item *it;
	appr_wait_fn fn;
	void *arg;
	struct appr_waiter *prev, *next;
};

/* pub first: a const struct appr_item * handed out is cast back to its item. */
struct item {
	struct appr_item pub;
	char *entry_json;		/* a proposal's entry (or a hold's, once built) as JSON */
	struct policy *grant_policy;	/* a proposal granted --once/--for: its entry alone */
	bool grant_live;		/* a --once grant unused, a --for grant unexpired */
	unsigned uses_left;		/* --once: connections it still lets through */
	struct appr_waiter *waiters;
	size_t nwait;
};

struct approvals {
	struct approvals_hooks h;
	struct approvals_config c;
	struct item **v;
	size_t n, cap;
	uint64_t rate[RATE_MAX];	/* times of recent proposals, a ring */
	size_t rate_head, rate_n;
	bool in_tick;
};

static const struct approvals_config defaults = {
	.ask = false, .hold_timeout_ms = 60000, .proposals = true, .rate_per_minute = 10,
	.max_pending = 64,
};

const char *
appr_status_name(enum appr_status s)
{
	switch (s) {
	case APPR_PENDING: return "pending";
	case APPR_APPROVED: return "approved";
	case APPR_DENIED: return "denied";
	case APPR_EXPIRED: return "expired";
	}
	return "unknown";
}

const char *
appr_grant_name(enum appr_grant g)
{
	switch (g) {
	case GRANT_NONE: return "none";
	case GRANT_ONCE: return "once";
	case GRANT_FOR: return "for";
	case GRANT_ALWAYS: return "always";
	}
	return "unknown";
}

static void
set_config(struct approvals *a, const struct approvals_config *c)
{
	a->c = c ? *c : defaults;
	if (!a->c.hold_timeout_ms)
		a->c.hold_timeout_ms = defaults.hold_timeout_ms;
	if (!a->c.rate_per_minute)
		a->c.rate_per_minute = defaults.rate_per_minute;
	if (a->c.rate_per_minute > RATE_MAX)
		a->c.rate_per_minute = RATE_MAX;
	if (!a->c.max_pending)
		a->c.max_pending = defaults.max_pending;
}

struct approvals *
approvals_new(const struct approvals_hooks *h, const struct approvals_config *c)
{
	struct approvals *a = xcalloc(1, sizeof(*a));

	a->h = *h;
	set_config(a, c);
	return a;
}

void
approvals_configure(struct approvals *a, const struct approvals_config *c)
{
	set_config(a, c);
}

static void
item_free(struct item *it)
{
	struct appr_waiter *w, *next;

	for (w = it->waiters; w; w = next) {
		next = w->next;
		free(w);
	}
	free(it->pub.binary);
	free(it->pub.name);
	free(it->pub.entry_yaml);
	free(it->pub.diff);
	free(it->pub.host);
	free(it->pub.method);
	free(it->pub.path);
	free(it->pub.entry);
	free(it->pub.provider);
	free(it->pub.tier);
	free(it->pub.intent);
	free(it->pub.reason);
	strv_free(&it->pub.risks);
	free(it->entry_json);
	if (it->grant_policy) {
		policy_free(it->grant_policy);
		free(it->grant_policy);
	}
	free(it);
}

void
approvals_free(struct approvals *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		item_free(a->v[i]);
	free(a->v);
	free(a);
}

static struct item *
find(const struct approvals *a, const char *id)
{
	if (!id)
		return NULL;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i]->pub.id, id) == 0)
			return a->v[i];
	return NULL;
}

const struct appr_item *
approvals_get(const struct approvals *a, const char *id)
{
	struct item *it = find(a, id);

	return it ? &it->pub : NULL;
}

static size_t
count_pending(const struct approvals *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->v[i]->pub.status == APPR_PENDING;
	return n;
}

/* An unguessable id: the agent must not be able to name someone else's item. */
static struct item *
item_new(struct approvals *a, enum appr_kind kind)
{
	struct item *it = xcalloc(1, sizeof(*it));

	do {
		unsigned char r[6];
		size_t got = 0;

		while (got < sizeof(r)) {
			ssize_t k = getrandom(r + got, sizeof(r) - got, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				abort();	/* no randomness: ids would be guessable */
			got += (size_t)k;
		}
		snprintf(it->pub.id, sizeof(it->pub.id), "%c-%02x%02x%02x%02x%02x%02x",
		    kind == APPR_PROPOSAL ? 'p' : 'h', r[0], r[1], r[2], r[3], r[4], r[5]);
	} while (find(a, it->pub.id));
	it->pub.kind = kind;
	it->pub.status = APPR_PENDING;
	it->pub.created_ns = now_ns();
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = it;
	return it;
}

static void
current(struct approvals *a, const struct policy **p, uint64_t *rev, const char **hash)
{
	*rev = 0;
	*hash = "";
	*p = a->h.current ? a->h.current(a->h.arg, rev, hash) : NULL;
	if (!*hash)
		*hash = "";
}

static void
changed(struct approvals *a, struct item *it, const char *event)
{
	if (a->h.changed)
		a->h.changed(a->h.arg, &it->pub, event);
}

/* Call the item's waiters, each once; they may wait, unwait others or call the store. */
static void
fire(struct item *it)
{
	size_t budget = it->nwait;	/* waiters added by a callback wait for the next round */

	while (it->waiters && budget--) {
		struct appr_waiter *w = it->waiters;

		it->waiters = w->next;
		if (w->next)
			w->next->prev = NULL;
		it->nwait--;
		w->fn(w->arg, &it->pub);
		free(w);
	}
}

/* ---- the candidate policy --------------------------------------------------- */

/* The line starting at s (without its newline) and where the next one starts. */
static size_t
line_len(const char *s, const char **next)
{
	const char *e = strchrnul(s, '\n');

	*next = *e ? e + 1 : e;
	return (size_t)(e - s);
}

/*
 * In canonical text, the lines of network_policies entry `name`: its
 * `  "name":` line and the deeper lines after it.  Returns the start (or
 * NULL) and its length.  Canonical keys are double-quoted and valid
 * policy keys need no escaping, so the key line is found exactly.
 */
static const char *
entry_block(const char *canon, const char *name, size_t *len)
{
	char *head = xasprintf("  \"%s\":", name);
	size_t hl = strlen(head);
	const char *s = strstr(canon, "\nnetwork_policies:");
	const char *start = NULL, *next;

	*len = 0;
	if (!s) {
		free(head);
		return NULL;
	}
	line_len(s + 1, &s);
	while (*s && *s == ' ') {
		size_t n = line_len(s, &next);

		if (start) {
			if (strncmp(s, "    ", 4) != 0)
				break;
		} else if (n >= hl && strncmp(s, head, hl) == 0 && (n == hl || s[hl] == ' ')) {
			start = s;
		}
		s = next;
	}
	free(head);
	if (start)
		*len = (size_t)(s - start);
	return start;
}

/*
 * The running policy's canonical text with network_policies[name]
 * replaced by (or added as) `  "name": JSON`: JSON is YAML, and the
 * entry is written on one line so the splice cannot leak into the lines
 * around it.  Returns an owned string.
 */
static char *
splice(const char *canon, const char *name, const char *entry_json)
{
	struct sbuf b;
	const char *sec = strstr(canon, "\nnetwork_policies:");
	const char *s, *next, *old;
	size_t oldlen;

	sbuf_init(&b, 2 * POLICY_MAX_BYTES);
	if (!sec) {
		sbuf_adds(&b, canon);
		if (b.len && b.p[b.len - 1] != '\n')
			sbuf_adds(&b, "\n");
		sbuf_addf(&b, "network_policies:\n  \"%s\": %s\n", name, entry_json);
		return b.p;
	}
	sec++;
	sbuf_add(&b, canon, (size_t)(sec - canon));
	sbuf_adds(&b, "network_policies:\n");
	line_len(sec, &s);
	old = entry_block(canon, name, &oldlen);
	/* The section's other entries, as they were. */
	while (*s == ' ') {
		size_t n;

		if (old && s == old) {
			s += oldlen;
			continue;
		}
		n = line_len(s, &next);
		sbuf_add(&b, s, n);
		sbuf_adds(&b, "\n");
		s = next;
	}
	sbuf_addf(&b, "  \"%s\": %s\n", name, entry_json);
	sbuf_adds(&b, s);
	return b.p;
}

/* "version: 1" and network_policies holding one canonical entry block. */
static char *
one_entry_yaml(const char *block)
{
	return xasprintf("version: 1\nnetwork_policies:\n%s", block);
}

/* The loader's messages as the JSON array of "proposal:L:C: error: ..." strings. */
static json_t *
diag_array(const struct policy_diags *d)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct policy_diag *g = &d->v[i];
		char *m;

		if (g->line > 0)
			m = xasprintf("%s:%d:%d: error: %s%s%s", d->file, g->line, g->col, g->msg,
			    g->expected ? " (expected: " : "", g->expected ? g->expected : "");
		else
			m = xasprintf("%s: error: %s%s%s", d->file, g->msg,
			    g->expected ? " (expected: " : "", g->expected ? g->expected : "");
		if (g->expected) {
			char *m2 = xasprintf("%s)", m);
			free(m);
			m = m2;
		}
		json_array_append_new(arr, json_string(m));
		free(m);
	}
	return arr;
}

/*
 * Build and load the candidate for entry `name` against the running
 * policy.  0 with *cand loaded (owned) and *canon_cur the running
 * policy's canonical text (owned); -1 with *errs (owned JSON array) when
 * the loader refused it.
 */
static int
load_candidate(struct approvals *a, const char *name, const char *entry_json,
    struct policy **cand, char **canon_cur, json_t **errs)
{
	const struct policy *cur;
	uint64_t rev;
	const char *hash;
	struct policy_diags d = { 0 };
	char *text;

	current(a, &cur, &rev, &hash);
	*canon_cur = cur ? policy_canonical(cur) : xstrdup("version: 1\n");
	text = splice(*canon_cur, name, entry_json);
	*cand = xcalloc(1, sizeof(**cand));
	if (policy_load_buffer("proposal", text, strlen(text), *cand, &d) != 0) {
		*errs = diag_array(&d);
		policy_diags_free(&d);
		free(*cand);
		*cand = NULL;
		free(text);
		free(*canon_cur);
		*canon_cur = NULL;
		return -1;
	}
	policy_diags_free(&d);
	free(text);
	return 0;
}

static const struct net_policy *
net_find(const struct policy *p, const char *key)
{
	for (size_t i = 0; i < p->nnet; i++)
		if (strcmp(p->net[i].key, key) == 0)
			return &p->net[i];
	return NULL;
}

/* ---- the diff ---------------------------------------------------------------- */

static void
split_lines(const char *s, size_t len, struct strv *out)
{
	const char *end = s + len, *next;

	while (s < end) {
		size_t n = line_len(s, &next);
		if (s + n > end)
			n = (size_t)(end - s);
		strv_take(out, xstrndup(s, n));
		s = next;
	}
}

/*
 * Line diff of an entry's canonical block, old to new: "  " kept, "- "
 * removed, "+ " added, through the longest common subsequence.  Blocks
 * are small; past DIFF_MAX_LINES it degrades to all-out, all-in.
 */
static char *
line_diff(const char *old, size_t oldlen, const char *new, size_t newlen)
{
	struct strv o = { 0 }, n = { 0 };
	struct sbuf b;

	split_lines(old, oldlen, &o);
	split_lines(new, newlen, &n);
	sbuf_init(&b, 1 << 20);
	if (o.n > DIFF_MAX_LINES || n.n > DIFF_MAX_LINES) {
		for (size_t i = 0; i < o.n; i++)
			sbuf_addf(&b, "- %s\n", o.v[i]);
		for (size_t i = 0; i < n.n; i++)
			sbuf_addf(&b, "+ %s\n", n.v[i]);
	} else {
		size_t w = n.n + 1;
		unsigned *l = xcalloc((o.n + 1) * w, sizeof(*l));
		size_t i = 0, j = 0;

		for (size_t x = o.n; x-- > 0;)
			for (size_t y = n.n; y-- > 0;)
				l[x * w + y] = strcmp(o.v[x], n.v[y]) == 0 ? l[(x + 1) * w + y + 1] + 1 :
				    l[(x + 1) * w + y] > l[x * w + y + 1] ? l[(x + 1) * w + y] :
				    l[x * w + y + 1];
		while (i < o.n || j < n.n) {
			if (i < o.n && j < n.n && strcmp(o.v[i], n.v[j]) == 0) {
				sbuf_addf(&b, "  %s\n", o.v[i]);
				i++, j++;
			} else if (j < n.n && (i == o.n || l[i * w + j + 1] >= l[(i + 1) * w + j])) {
				sbuf_addf(&b, "+ %s\n", n.v[j++]);
			} else {
				sbuf_addf(&b, "- %s\n", o.v[i++]);
			}
		}
		free(l);
	}
	strv_free(&o);
	strv_free(&n);
	if (!b.p)
		return xstrdup("");
	return b.p;
}

/* ---- proposals --------------------------------------------------------------- */

/* Top-level sections an agent may never propose: fixed at start, or the human's. */
static const char *const static_sections[] = {
	"version", "filesystem_policy", "landlock", "process", "credentials", "inference",
	"classifiers", "audit", "approvals", "network_policies",
};

static bool
is_section(const char *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(static_sections); i++)
		if (strcmp(k, static_sections[i]) == 0)
			return true;
	return false;
}

static int
answer(struct sbuf *out, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	sbuf_adds(out, s ? s : "{}");
	free(s);
	json_decref(j);
	return status;
}

static int
refuse(struct sbuf *out, int status, const char *error, const char *reason)
{
	return answer(out, status, json_pack("{s:s, s:s}", "error", error, "reason", reason));
}

static int
invalid(struct sbuf *out, const char *msg)
{
	json_t *errs = json_array();

	json_array_append_new(errs, json_string(msg));
	return answer(out, 400, json_pack("{s:s, s:o}", "error", "invalid_proposal", "errors", errs));
}

/* Sliding window: how many proposals in the last minute; 0 or seconds to wait. */
static unsigned
rate_check(struct approvals *a, uint64_t now)
{
	while (a->rate_n) {
		size_t oldest = (a->rate_head + RATE_MAX - a->rate_n) % RATE_MAX;
		if (now - a->rate[oldest] < MIN_NS)
			break;
		a->rate_n--;
	}
	if (a->rate_n >= a->c.rate_per_minute) {
		size_t oldest = (a->rate_head + RATE_MAX - a->rate_n) % RATE_MAX;
		return (unsigned)((a->rate[oldest] + MIN_NS - now) / 1000000000ull) + 1;
	}
	a->rate[a->rate_head] = now;
	a->rate_head = (a->rate_head + 1) % RATE_MAX;
	a->rate_n++;
	return 0;
}

/*
 * The shape of the body, before the loader sees anything: strict members,
 * sections other than network_policies refused by name (403), so that
 * the agent learns it asked for something no human may grant it here.
 * Returns 0, or the HTTP status with out filled.
 */
static int
check_body(json_t *root, struct sbuf *out, const char **intent, const char **name,
    json_t **np)
{
	const char *k;
	json_t *v;

	if (!json_is_object(root))
		return invalid(out, "proposal: the body must be a JSON object "
		    "{\"intent\": \"...\", \"name\": \"...\", \"network_policy\": {...}}");
	json_object_foreach(root, k, v) {
		if (strcmp(k, "intent") == 0 || strcmp(k, "name") == 0 ||
		    strcmp(k, "network_policy") == 0)
			continue;
		if (is_section(k)) {
			char *r = xasprintf("'%s' cannot be changed by a proposal: only network_policies "
			    "entries can (send name and network_policy)", k);
			int st = refuse(out, 403, "static_section", r);
			free(r);
			return st;
		}
		{
			char *m = xasprintf("proposal: unknown member '%s' (expected intent, name, "
			    "network_policy)", k);
			int st = invalid(out, m);
			free(m);
			return st;
		}
	}
	v = json_object_get(root, "intent");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return invalid(out, "proposal: intent must be a non-empty string: why you need this");
	if (json_string_length(v) > INTENT_MAX)
		return invalid(out, "proposal: intent is longer than 2000 bytes");
	if (memchr(json_string_value(v), '\0', json_string_length(v)))
		return invalid(out, "proposal: intent contains a NUL character");
	*intent = json_string_value(v);
	v = json_object_get(root, "name");
	if (!json_is_string(v))
		return invalid(out, "proposal: name must be a string, the network_policies key");
	*name = json_string_value(v);
	if (strlen(*name) != json_string_length(v) || check_policy_key(*name)) {
		char *m = xasprintf("proposal: name: %s", strlen(*name) != json_string_length(v) ?
		    "contains a NUL character" : check_policy_key(*name));
		int st = invalid(out, m);
		free(m);
		return st;
	}
	*np = json_object_get(root, "network_policy");
	if (!json_is_object(*np))
		return invalid(out, "proposal: network_policy must be an object "
		    "{\"endpoints\": [...], \"binaries\": [...]}");
	json_object_foreach(*np, k, v)
		if (is_section(k)) {
			char *r = xasprintf("network_policy holds '%s': a proposal may only change "
			    "one network_policies entry", k);
			int st = refuse(out, 403, "static_section", r);
			free(r);
			return st;
		}
	return 0;
}

/*
 * Fill a loaded item from its candidate: the entry's canonical block,
 * the diff against the running policy's entry, first host and port,
 * risk notes.
 */
static void
describe(struct item *it, const struct policy *cand, const char *canon_cur)
{
	char *canon_new = policy_canonical(cand);
	size_t oldlen, newlen;
	const char *old = entry_block(canon_cur, it->pub.name, &oldlen);
	const char *new = entry_block(canon_new, it->pub.name, &newlen);
	const struct net_policy *np = net_find(cand, it->pub.name);

	it->pub.entry_yaml = new ? xstrndup(new, newlen) : xstrdup("");
	it->pub.diff = line_diff(old ? old : "", old ? oldlen : 0, new ? new : "",
	    new ? newlen : 0);
	if (np && np->nendpoints && !it->pub.method) {
		const struct endpoint *e = &np->endpoints[0];
		free(it->pub.host);
		it->pub.host = xstrdup(e->host ? e->host : e->allowed_ips.n ? e->allowed_ips.v[0] : "");
		it->pub.port = e->nports ? e->ports[0] : 0;
	}
	if (np)
		approvals_risks_entry(cand, np, &it->pub.risks);
	free(canon_new);
}

int
approvals_propose(struct approvals *a, const char *binary, pid_t pid, const char *body,
    size_t len, struct sbuf *out)
{
	json_error_t je;
	json_t *root, *np = NULL, *errs = NULL;
	const char *intent = NULL, *name = NULL;
	struct policy *cand = NULL;
	char *canon_cur = NULL, *entry_json;
	struct item *it;
	uint64_t now = now_ns();
	unsigned wait;
	int st;

	if (!a->c.proposals)
		return refuse(out, 403, "proposals_disabled",
		    "this sandbox's policy does not accept proposals (approvals.proposals: false)");
	if ((wait = rate_check(a, now))) {
		json_t *j = json_pack("{s:s, s:s, s:i}", "error", "rate_limited", "reason",
		    "too many proposals in the last minute", "retry_after", (int)wait);
		return answer(out, 429, j);
	}
	if (count_pending(a) >= a->c.max_pending)
		return answer(out, 429, json_pack("{s:s, s:s, s:i}", "error", "rate_limited", "reason",
		    "too many items are waiting for a decision", "retry_after", 60));
	if (len > BODY_MAX)
		return invalid(out, "proposal: the body is larger than 64 KiB");
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		char *m = xasprintf("proposal: not JSON: %s (line %d, column %d)", je.text, je.line,
		    je.column);
		st = invalid(out, m);
		free(m);
		return st;
	}
	if ((st = check_body(root, out, &intent, &name, &np))) {
		json_decref(root);
		return st;
	}
	entry_json = json_dumps(np, JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
	if (!entry_json) {
		json_decref(root);
		return invalid(out, "proposal: network_policy cannot be encoded");
	}
	if (load_candidate(a, name, entry_json, &cand, &canon_cur, &errs) != 0) {
		free(entry_json);
		json_decref(root);
		return answer(out, 400, json_pack("{s:s, s:o}", "error", "invalid_proposal", "errors",
		    errs));
	}
	it = item_new(a, APPR_PROPOSAL);
	it->pub.binary = binary ? xstrdup(binary) : NULL;
	it->pub.pid = pid;
	it->pub.name = xstrdup(name);
	it->pub.intent = xstrdup(intent);
	it->entry_json = entry_json;
	it->pub.expires_ns = it->pub.created_ns + (uint64_t)PROPOSAL_TTL_MS * 1000000ull;
	{
		const struct policy *cur;
		const char *hash;
		current(a, &cur, &it->pub.revision, &hash);
		snprintf(it->pub.hash, sizeof(it->pub.hash), "%s", hash);
	}
	describe(it, cand, canon_cur);
	policy_free(cand);
	free(cand);
	free(canon_cur);
	json_decref(root);
	changed(a, it, "approval.requested");
	return answer(out, 201, json_pack("{s:s, s:s, s:I}", "id", it->pub.id, "status", "pending",
	    "expires_in_ms", (json_int_t)PROPOSAL_TTL_MS));
}

/* ---- JSON for policy.local and the host ---------------------------------------- */

static json_int_t
ms_left(uint64_t when, uint64_t now)
{
	return when > now ? (json_int_t)((when - now) / 1000000ull) : 0;
}

void
approvals_item_json(const struct appr_item *it, struct sbuf *out)
{
	const struct item *x = (const struct item *)it;
	json_t *j = json_pack("{s:s, s:s, s:s}", "id", it->id,
	    "kind", it->kind == APPR_PROPOSAL ? "proposal" : "hold",
	    "status", appr_status_name(it->status));
	char *s;

	if (it->reason)
		json_object_set_new(j, "reason", json_string(it->reason));
	if (it->grant != GRANT_NONE) {
		json_object_set_new(j, "grant", json_string(appr_grant_name(it->grant)));
		if (it->grant != GRANT_ALWAYS)
			json_object_set_new(j, "grant_active", json_boolean(x->grant_live));
	}
	json_object_set_new(j, "revision", json_integer((json_int_t)it->revision));
	json_object_set_new(j, "hash", json_string(it->hash));
	if (it->status == APPR_PENDING || x->grant_live)
		json_object_set_new(j, "expires_in_ms", json_integer(ms_left(it->expires_ns, now_ns())));
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	sbuf_adds(out, s ? s : "{}");
	free(s);
	json_decref(j);
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void
approvals_list_json(const struct approvals *a, struct sbuf *out)
{
	uint64_t now = now_ns();

	for (size_t i = 0; i < a->n; i++) {
		const struct appr_item *it = &a->v[i]->pub;
		json_t *risks = json_array(), *j;
		char *s;

		if (it->status != APPR_PENDING)
			continue;
		for (size_t r = 0; r < it->risks.n; r++)
			json_array_append_new(risks, json_string(it->risks.v[r]));
		j = json_pack("{s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:o, s:i, s:o, s:o, s:o, s:I, s:I, "
		    "s:i, s:I, s:s}",
		    "id", it->id, "kind", it->kind == APPR_PROPOSAL ? "proposal" : "hold",
		    "status", appr_status_name(it->status),
		    "binary", str_or_null(it->binary), "pid", (json_int_t)it->pid,
		    "name", str_or_null(it->name), "entry_yaml", str_or_null(it->entry_yaml),
		    "host", str_or_null(it->host), "port", (int)it->port,
		    "diff", str_or_null(it->diff), "intent", str_or_null(it->intent),
		    "risks", risks,
		    "age_ms", (json_int_t)((now - it->created_ns) / 1000000ull),
		    "expires_in_ms", ms_left(it->expires_ns, now),
		    "coalesced", (int)it->coalesced, "revision", (json_int_t)it->revision,
		    "hash", it->hash);
		/* Only what the hold's shape has: a request's method, path and entry, a router's provider and tier. */
		if (j && it->method) {
			json_object_set_new(j, "method", json_string(it->method));
			json_object_set_new(j, "path", str_or_null(it->path));
			json_object_set_new(j, "entry", str_or_null(it->entry));
		}
		if (j && it->provider) {
			json_object_set_new(j, "provider", json_string(it->provider));
			json_object_set_new(j, "tier", str_or_null(it->tier));
		}
		s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (s) {
			sbuf_adds(out, s);
			sbuf_adds(out, "\n");
		}
		free(s);
		json_decref(j);
	}
}

/* ---- holds ------------------------------------------------------------------- */

static bool
same_str(const char *x, const char *y)
{
	return x == y || (x && y && strcmp(x, y) == 0);
}

/* Is the pending or approved hold it the one h describes (pid and why aside)? */
static bool
same_hold(const struct item *it, const struct appr_hold *h)
{
	return it->pub.kind == APPR_HOLD && it->pub.port == h->port &&
	    same_str(it->pub.host, h->host) && same_str(it->pub.binary, h->binary) &&
	    same_str(it->pub.method, h->method) && same_str(it->pub.path, h->path) &&
	    same_str(it->pub.entry, h->entry) && same_str(it->pub.provider, h->provider) &&
	    same_str(it->pub.tier, h->tier);
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* The change a hold asks for, in one line for the human. */
static char *
hold_diff(const struct appr_hold *h)
{
	const char *bin = h->binary ? h->binary : "(unknown binary)";
	char *what, *d;

	if (h->provider)
		what = xasprintf("let %s send a model request classified %s to provider '%s' "
		    "(%s:%u)", bin, h->tier ? h->tier : "?", h->provider, h->host, h->port);
	else if (h->method)
		what = xasprintf("let %s send %s %s to %s:%u (rules of policy entry '%s')", bin,
		    h->method, h->path ? h->path : "?", h->host, h->port, h->entry ? h->entry : "?");
	else
		what = xasprintf("allow %s to reach %s:%u", bin, h->host, h->port);
	if (!h->why)
		return what;
	d = xasprintf("%s (denied: %s)", what, h->why);
	free(what);
	return d;
}

const struct appr_item *
approvals_hold(struct approvals *a, const struct appr_hold *h)
{
	struct item *it;

	if (!a->c.ask || !h->host)
		return NULL;
	for (size_t i = 0; i < a->n; i++) {
		it = a->v[i];
		if (it->pub.status == APPR_PENDING && same_hold(it, h)) {
			it->pub.coalesced++;
			return &it->pub;
		}
	}
	if (count_pending(a) >= a->c.max_pending)
		return NULL;
	it = item_new(a, APPR_HOLD);
	it->pub.binary = dup_or_null(h->binary);
	it->pub.pid = h->pid;
	it->pub.host = xstrdup(h->host);
	it->pub.port = h->port;
	it->pub.method = dup_or_null(h->method);
	it->pub.path = dup_or_null(h->path);
	it->pub.entry = dup_or_null(h->entry);
	it->pub.provider = dup_or_null(h->provider);
	it->pub.tier = dup_or_null(h->tier);
	it->pub.coalesced = 1;
	it->pub.diff = hold_diff(h);
	it->pub.expires_ns = it->pub.created_ns + (uint64_t)a->c.hold_timeout_ms * 1000000ull;
	{
		const struct policy *cur;
		const char *hash;
		current(a, &cur, &it->pub.revision, &hash);
		snprintf(it->pub.hash, sizeof(it->pub.hash), "%s", hash);
	}
	approvals_risks_hold(h->binary, h->host, &it->pub.risks);
	if (h->method)
		approvals_risks_request(h->method, h->path, &it->pub.risks);
	if (h->provider)
		strv_take(&it->pub.risks, xasprintf("sends data classified %s to provider '%s', "
		    "whose max_tier is below it", h->tier ? h->tier : "?", h->provider));
	changed(a, it, "approval.requested");
	return &it->pub;
}

static void
expire(struct approvals *a, struct item *it, const char *why)
{
	it->pub.status = APPR_EXPIRED;
	it->pub.decided_ns = now_ns();
	free(it->pub.reason);
	it->pub.reason = xstrdup(why);
	changed(a, it, "approval.expired");
}

void
approvals_release(struct approvals *a, const char *id)
{
	struct item *it = find(a, id);

	if (!it || it->pub.kind != APPR_HOLD || it->pub.coalesced == 0)
		return;
	/* Its waiters hear of it at the next tick: release runs inside the proxy's own handlers. */
	if (--it->pub.coalesced == 0 && it->pub.status == APPR_PENDING)
		expire(a, it, "the held request went away");
}

/* ---- grants ------------------------------------------------------------------ */

const struct appr_item *
approvals_grant_for(struct approvals *a, const struct dest *d, const struct binident *who,
    bool consume)
{
	uint64_t now = now_ns();

	for (size_t i = 0; i < a->n; i++) {
		struct item *it = a->v[i];
		bool ok;

		if (it->pub.status != APPR_APPROVED || !it->grant_live || it->pub.expires_ns <= now)
			continue;
		if (it->pub.kind == APPR_HOLD && (it->pub.method || it->pub.provider)) {
			ok = false;
		} else if (it->pub.kind == APPR_HOLD) {
			ok = it->pub.port == d->port && same_str(it->pub.host, d->host) &&
			    (!it->pub.binary || same_str(it->pub.binary, who->exe));
		} else {
			struct netdecision nd;

			/* The entry decides exactly as it would in the policy, children: true included. */
			netpolicy_decide(it->grant_policy, d, who, &nd);
			ok = nd.allow;
		}
		if (!ok)
			continue;
		if (consume && it->pub.grant == GRANT_ONCE && --it->uses_left == 0)
			it->grant_live = false;
		return &it->pub;
	}
	return NULL;
}

const struct appr_item *
approvals_grant_request(struct approvals *a, const struct appr_hold *h, bool consume)
{
	uint64_t now = now_ns();

	if (!h->method && !h->provider)
		return NULL;
	for (size_t i = 0; i < a->n; i++) {
		struct item *it = a->v[i];

		if (it->pub.status != APPR_APPROVED || !it->grant_live || it->pub.expires_ns <= now ||
		    !same_hold(it, h))
			continue;
		if (consume && it->pub.grant == GRANT_ONCE && --it->uses_left == 0)
			it->grant_live = false;
		return &it->pub;
	}
	return NULL;
}

/* ---- decisions ----------------------------------------------------------------- */

/* The entry a hold approved --always becomes: that binary, that host and port. */
static char *
hold_entry_json(const struct item *it)
{
	json_t *j = json_pack("{s:[{s:s, s:i}], s:[{s:s}]}", "endpoints", "host", it->pub.host,
	    "port", (int)it->pub.port, "binaries", "path", it->pub.binary);
	char *s = j ? json_dumps(j, JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;

	json_decref(j);
	return s;
}

static int
errs_to_werr(json_t *errs, struct werr *err)
{
	json_t *first = json_array_get(errs, 0);
	int r = werr_set(err, "the policy would be invalid: %s (%zu error%s)",
	    first ? json_string_value(first) : "?", json_array_size(errs),
	    json_array_size(errs) == 1 ? "" : "s");

	json_decref(errs);
	return r;
}

/* An exact request path as a rule glob: its glob characters made literal. */
static char *
glob_literal(const char *path)
{
	struct sbuf b;

	sbuf_init(&b, 2 * HTTP_TARGET_MAX + 1);
	for (const char *p = path; *p; p++) {
		if (*p == '*' || *p == '?' || *p == '[' || *p == '\\')
			sbuf_adds(&b, "\\");
		sbuf_add(&b, p, 1);
	}
	return b.p;
}

static void
add_rule(struct endpoint *e, const char *method, const char *path)
{
	struct http_rule *r;

	e->rules = xrealloc(e->rules, (e->nrules + 1) * sizeof(*e->rules));
	r = &e->rules[e->nrules++];
	memset(r, 0, sizeof(*r));
	r->method = xstrdup(method);
	r->path = xstrdup(path);
}

/*
 * --always on a request hold: the running policy with an allow rule for
 * the held method and exact path on every REST endpoint of the entry that
 * covers the held host and port.  An `access` preset (which excludes
 * rules) becomes the rules it stands for first, so nothing it allowed is
 * lost.  Returns the candidate's canonical text (owned), or NULL with err.
 */
static char *
request_rule_policy(struct approvals *a, const struct item *it, struct werr *err)
{
	static const char *const ro[] = { "GET", "HEAD", "OPTIONS", NULL };
	static const char *const rw[] = { "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", NULL };
	const struct policy *cur;
	uint64_t rev;
	const char *hash;
	char *canon, *glob, *text = NULL;
	struct policy p = { 0 };
	struct policy_diags d = { 0 };
	struct net_policy *np = NULL;
	struct dest dst;
	size_t changed_eps = 0;

	current(a, &cur, &rev, &hash);
	if (!cur) {
		werr_set(err, "%s: no running policy", it->pub.id);
		return NULL;
	}
	if (dest_normalize(it->pub.host, it->pub.port, &dst)) {
		werr_set(err, "%s: its host cannot be matched", it->pub.id);
		return NULL;
	}
	canon = policy_canonical(cur);
	if (policy_load_buffer("running", canon, strlen(canon), &p, &d) != 0) {
		werr_set(err, "%s: the running policy does not load back (%s)", it->pub.id,
		    d.n ? d.v[0].msg : "?");
		goto out;
	}
	for (size_t i = 0; i < p.nnet; i++)
		if (strcmp(p.net[i].key, it->pub.entry) == 0)
			np = &p.net[i];
	if (!np) {
		werr_set(err, "%s: policy entry '%s' is gone from the running policy; approve it "
		    "--once or --for instead", it->pub.id, it->pub.entry);
		goto out;
	}
	glob = glob_literal(it->pub.path);
	for (size_t i = 0; i < np->nendpoints; i++) {
		struct endpoint *e = &np->endpoints[i];

		if (e->protocol != PROTO_REST || !netpolicy_endpoint_matches(e, &dst, NULL))
			continue;
		if (e->access == ACCESS_READ_ONLY || e->access == ACCESS_READ_WRITE)
			for (const char *const *m = e->access == ACCESS_READ_ONLY ? ro : rw; *m; m++)
				add_rule(e, *m, "**");
		e->access = ACCESS_NONE;
		add_rule(e, it->pub.method, glob);
		changed_eps++;
	}
	free(glob);
	if (!changed_eps) {
		werr_set(err, "%s: policy entry '%s' no longer inspects requests to %s:%u; approve it "
		    "--once or --for instead", it->pub.id, it->pub.entry, it->pub.host, it->pub.port);
		goto out;
	}
	text = policy_canonical(&p);
out:
	policy_diags_free(&d);
	policy_free(&p);
	free(canon);
	return text;
}

static int approve_request_always(struct approvals *a, struct item *it, struct werr *err);

static int
approve_always(struct approvals *a, struct item *it, struct werr *err)
{
	struct policy *cand;
	char *canon_cur, *text, *canon_new;
	json_t *errs = NULL;
	uint64_t rev = 0;
	char hash[65] = "";
	int r;

	if (it->pub.kind == APPR_HOLD && it->pub.provider)
		return werr_set(err, "%s: a model request held by the privacy router is approved "
		    "--once or --for; a provider's max_tier changes only by editing the policy "
		    "(warden policy set)", it->pub.id);
	if (it->pub.kind == APPR_HOLD && it->pub.method)
		return approve_request_always(a, it, err);
	if (it->pub.kind == APPR_HOLD) {
		if (!it->pub.binary)
			return werr_set(err, "%s: the program that asked is unknown; approve it --once "
			    "or --for instead", it->pub.id);
		free(it->pub.name);
		it->pub.name = xasprintf("approved-%s", it->pub.id);
		free(it->entry_json);
		it->entry_json = hold_entry_json(it);
		if (!it->entry_json)
			return werr_set(err, "%s: cannot build its entry", it->pub.id);
	}
	if (!a->h.apply)
		return werr_set(err, "policies cannot be changed in this sandbox");
	/* Against the policy running now, not the one the item was proposed under. */
	if (load_candidate(a, it->pub.name, it->entry_json, &cand, &canon_cur, &errs) != 0)
		return errs_to_werr(errs, err);
	canon_new = policy_canonical(cand);
	text = canon_new;
	r = a->h.apply(a->h.arg, text, strlen(text), &rev, hash, err);
	if (r == 0 && it->pub.kind == APPR_HOLD) {
		free(it->pub.entry_yaml);
		free(it->pub.diff);
		it->pub.entry_yaml = NULL;
		it->pub.diff = NULL;
		describe(it, cand, canon_cur);
	}
	free(canon_new);
	free(canon_cur);
	policy_free(cand);
	free(cand);
	if (r != 0)
		return -1;
	it->pub.revision = rev;
	snprintf(it->pub.hash, sizeof(it->pub.hash), "%s", hash);
	return 0;
}

/* --always on a request hold: the entry gains a rule, applied live. */
static int
approve_request_always(struct approvals *a, struct item *it, struct werr *err)
{
	const struct policy *cur;
	const char *hash;
	char *canon_cur, *text;
	struct policy cand = { 0 };
	struct policy_diags d = { 0 };
	uint64_t rev = 0;
	char newhash[65] = "";
	int r;

	if (!a->h.apply)
		return werr_set(err, "policies cannot be changed in this sandbox");
	if (!(text = request_rule_policy(a, it, err)))
		return -1;
	current(a, &cur, &rev, &hash);
	canon_cur = policy_canonical(cur);
	if (policy_load_buffer("approval", text, strlen(text), &cand, &d) != 0) {
		r = werr_set(err, "the policy would be invalid: %s", d.n ? d.v[0].msg : "?");
		goto out;
	}
	r = a->h.apply(a->h.arg, text, strlen(text), &rev, newhash, err);
	if (r == 0) {
		free(it->pub.name);
		it->pub.name = xstrdup(it->pub.entry);
		free(it->pub.entry_yaml);
		free(it->pub.diff);
		it->pub.entry_yaml = NULL;
		it->pub.diff = NULL;
		describe(it, &cand, canon_cur);
		it->pub.revision = rev;
		snprintf(it->pub.hash, sizeof(it->pub.hash), "%s", newhash);
	}
out:
	policy_diags_free(&d);
	policy_free(&cand);
	free(canon_cur);
	free(text);
	return r;
}

/* A proposal granted --once or --for: its entry alone, to decide connections against. */
static int
grant_policy(struct item *it, struct werr *err)
{
	struct policy_diags d = { 0 };
	char *yaml;

	if (it->pub.kind != APPR_PROPOSAL || it->grant_policy)
		return 0;
	yaml = one_entry_yaml(it->pub.entry_yaml ? it->pub.entry_yaml : "");
	it->grant_policy = xcalloc(1, sizeof(*it->grant_policy));
	if (policy_load_buffer("grant", yaml, strlen(yaml), it->grant_policy, &d) != 0) {
		werr_set(err, "%s: its entry does not load on its own (%s)", it->pub.id,
		    d.n ? d.v[0].msg : "?");
		policy_diags_free(&d);
		free(it->grant_policy);
		it->grant_policy = NULL;
		free(yaml);
		return -1;
	}
	policy_diags_free(&d);
	free(yaml);
	return 0;
}

static struct item *
pending(struct approvals *a, const char *id, struct werr *err)
{
	struct item *it = find(a, id);

	if (!it) {
		werr_set(err, "no pending item %s", id ? id : "");
		return NULL;
	}
	if (it->pub.status != APPR_PENDING) {
		werr_set(err, "%s is already %s", it->pub.id, appr_status_name(it->pub.status));
		return NULL;
	}
	return it;
}

int
approvals_approve(struct approvals *a, const char *id, enum appr_grant grant, uint64_t for_ms,
    struct werr *err)
{
	struct item *it = pending(a, id, err);
	uint64_t now = now_ns();

	if (!it)
		return -1;
	switch (grant) {
	case GRANT_ALWAYS:
		if (approve_always(a, it, err) != 0)
			return -1;
		it->pub.expires_ns = 0;
		break;
	case GRANT_ONCE:
	case GRANT_FOR:
		if (grant == GRANT_FOR && (for_ms == 0 || for_ms > 30ull * 24 * 3600 * 1000))
			return werr_set(err, "a grant lasts from 1 ms to 30 days");
		if (grant_policy(it, err) != 0)
			return -1;
		it->grant_live = true;
		/*
		 * --once on a hold is for the request held, and for every
		 * identical one coalesced with it: each is woken and decided again.
		 */
		it->uses_left = it->pub.kind == APPR_HOLD && it->pub.coalesced > 1 ?
		    it->pub.coalesced : 1;
		it->pub.expires_ns = now + (grant == GRANT_FOR ? for_ms :
		    (uint64_t)a->c.hold_timeout_ms) * 1000000ull;
		{
			const struct policy *cur;
			const char *hash;
			current(a, &cur, &it->pub.revision, &hash);
			snprintf(it->pub.hash, sizeof(it->pub.hash), "%s", hash);
		}
		break;
	default:
		return werr_set(err, "unknown grant");
	}
	it->pub.grant = grant;
	it->pub.status = APPR_APPROVED;
	it->pub.decided_ns = now;
	changed(a, it, "approval.granted");
	fire(it);
	return 0;
}

int
approvals_deny(struct approvals *a, const char *id, const char *reason, struct werr *err)
{
	struct item *it = pending(a, id, err);

	if (!it)
		return -1;
	it->pub.status = APPR_DENIED;
	it->pub.decided_ns = now_ns();
	free(it->pub.reason);
	/* Returned to the agent: keep it to a sentence. */
	it->pub.reason = xstrndup(reason && *reason ? reason : "denied by the operator", 500);
	changed(a, it, "approval.denied");
	fire(it);
	return 0;
}

void
approvals_refusal(const struct appr_item *it, const char *why, char *buf, size_t n)
{
	if (it->status == APPR_APPROVED) {
		snprintf(buf, n, "held for approval: approved (%s), but ", it->id);
	} else if (it->status == APPR_DENIED) {
		snprintf(buf, n, "held for approval: denied by the operator: %s",
		    it->reason && *it->reason ? it->reason : "no reason given");
	} else {
		unsigned secs = it->expires_ns > it->created_ns ?
		    (unsigned)((it->expires_ns - it->created_ns + 500000000u) / 1000000000u) : 0;
		snprintf(buf, n, "held for approval: no decision within %u s%s%s%s", secs,
		    why ? " (" : "", why ? why : "", why ? ")" : "");
	}
}

/* ---- waiters and time ------------------------------------------------------------ */

struct appr_waiter *
approvals_wait(struct approvals *a, const char *id, appr_wait_fn fn, void *arg)
{
	struct item *it = find(a, id);
	struct appr_waiter *w;

	if (!it)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->it = it;
	w->fn = fn;
	w->arg = arg;
	w->next = it->waiters;
	if (w->next)
		w->next->prev = w;
	it->waiters = w;
	it->nwait++;
	return w;
}

void
approvals_unwait(struct appr_waiter *w)
{
	if (!w)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		w->it->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->it->nwait--;
	free(w);
}

/* Forget the oldest decided items past HISTORY_MAX, keeping live grants and waited-on ones. */
static void
trim(struct approvals *a)
{
	size_t decided = 0, out = 0;

	for (size_t i = 0; i < a->n; i++)
		decided += a->v[i]->pub.status != APPR_PENDING;
	for (size_t i = 0; i < a->n; i++) {
		struct item *it = a->v[i];

		if (decided > HISTORY_MAX && it->pub.status != APPR_PENDING && !it->grant_live &&
		    it->nwait == 0) {
			item_free(it);
			decided--;
			continue;
		}
		a->v[out++] = it;
	}
	a->n = out;
}

void
approvals_tick(struct approvals *a, uint64_t now)
{
	if (a->in_tick)
		return;
	a->in_tick = true;
	/* By index: callbacks may add items (the array moves, the items do not). */
	for (size_t i = 0; i < a->n; i++) {
		struct item *it = a->v[i];

		if (it->pub.status == APPR_PENDING && it->pub.expires_ns <= now)
			expire(a, it, it->pub.kind == APPR_HOLD ? "no decision in time" :
			    "no decision within an hour");
		else if (it->pub.status == APPR_APPROVED && it->grant_live &&
		    it->pub.expires_ns <= now) {
			it->grant_live = false;
			changed(a, it, "approval.expired");
		}
		if (it->pub.status != APPR_PENDING && it->waiters)
			fire(it);
	}
	trim(a);
	a->in_tick = false;
}
