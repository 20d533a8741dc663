/*
 * http://policy.local: what the agent may know about its own constraints,
 * and the one way it has to ask for more.
 *
 * The name resolves to 127.0.0.1 inside the sandbox, where the router's
 * listener (port 80) serves both inference.local and policy.local; the
 * Host header (or a forward request's target, through 3128) says which.
 *
 *   GET  /v1/policy               the running policy: revision, hash, canonical YAML
 *   GET  /v1/denials?last=N       this sandbox's last N (<= 100) denials
 *   POST /v1/proposals            ask for a network_policies entry (approvals.h)
 *   GET  /v1/proposals/ID[?wait=S] an item's status; wait long-polls (<= 300 s)
 *
 * There is deliberately nothing here that decides: approving and denying
 * happen on the host, through the control socket, which the sandbox cannot
 * reach.  Every answer closes the connection (Connection: close), so no
 * request of the agent is ever read after an answer it could race with.
 *
 * A proposal's body is read whole, at most PAPI_BODY_MAX bytes; a long
 * poll waits on the approvals store (approvals_wait) and is answered when
 * the item is decided, when its time runs out (checked by the proxy's
 * once-a-second sweep, so up to a second late), and dropped when its
 * client goes away.
 */
#include "proxy_int.h"
#include "proxy_l7_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../lib/util.h"

#define PAPI_BODY_MAX 65536
#define PAPI_WAIT_MAX 300
#define PAPI_DENIALS_DEFAULT 20
#define PAPI_URL "http://" POLICY_HOST

struct papi {
	struct sbuf body;		/* a proposal's body, one byte over the limit shows oversize */
	struct appr_waiter *waiter;	/* a long poll's, or NULL */
	char id[APPR_ID_MAX];
	uint64_t deadline;		/* ns: a long poll answers by then */
};

static const char endpoints_json[] =
    "[\"GET /v1/policy\",\"GET /v1/denials?last=N\",\"POST /v1/proposals\","
    "\"GET /v1/proposals/ID?wait=SECONDS\"]";

/* ---- denials ------------------------------------------------------------------ */

static void
denial_clear(struct px_denial *d)
{
	free(d->binary);
	free(d->host);
	free(d->method);
	free(d->path);
	free(d->reason);
	free(d->rule);
	memset(d, 0, sizeof(*d));
}

static char *
dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

void
papi_note_denial(struct conn *c, const char *event, const char *method, const char *path,
    const char *reason)
{
	struct proxy *px = c->px;
	struct px_denial *d = &px->denials[px->ndenials % PX_DENIALS];
	struct timespec ts;

	denial_clear(d);
	clock_gettime(CLOCK_REALTIME, &ts);
	d->time_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	snprintf(d->event, sizeof(d->event), "%s", event);
	d->binary = dup_or_null(c->exe);
	d->host = dup_or_null(c->dst.host[0] ? c->dst.host : c->host);
	d->port = c->port;
	d->method = dup_or_null(method ? method : c->kind != K_INFER ? px_verb_of(c) : NULL);
	d->path = dup_or_null(path);
	d->reason = dup_or_null(reason);
	d->rule = dup_or_null(c->rule);
	px->ndenials++;
}

void
papi_free_denials(struct proxy *px)
{
	for (size_t i = 0; i < PX_DENIALS; i++)
		denial_clear(&px->denials[i]);
}

static void
json_or_null(struct sbuf *j, const char *s)
{
	if (s)
		sbuf_add_json(j, s);
	else
		sbuf_adds(j, "null");
}

static void
denial_json(const struct px_denial *d, struct sbuf *j)
{
	time_t secs = (time_t)(d->time_ms / 1000u);
	struct tm tm;
	char ts[40];

	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	sbuf_addf(j, "{\"time\":\"%s.%03uZ\",\"event\":", ts, (unsigned)(d->time_ms % 1000u));
	sbuf_add_json(j, d->event);
	sbuf_adds(j, ",\"binary\":");
	json_or_null(j, d->binary);
	sbuf_adds(j, ",\"host\":");
	json_or_null(j, d->host);
	sbuf_addf(j, ",\"port\":%u,\"method\":", (unsigned)d->port);
	json_or_null(j, d->method);
	sbuf_adds(j, ",\"path\":");
	json_or_null(j, d->path);
	sbuf_adds(j, ",\"reason\":");
	json_or_null(j, d->reason);
	sbuf_adds(j, ",\"rule\":");
	json_or_null(j, d->rule);
	sbuf_adds(j, "}");
}

/* ---- the 403's "propose" member ------------------------------------------------ */

void
papi_propose_json(const struct conn *c, struct sbuf *j)
{
	const char *host = c->dst.host[0] ? c->dst.host : c->host;
	char name[80];
	size_t k = 0;

	/* A readable entry name: allow-<host>, [a-z0-9-] only. */
	k = (size_t)snprintf(name, sizeof(name), "allow-");
	for (const char *p = host; *p && k + 1 < sizeof(name); p++)
		name[k++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '-';
	name[k] = '\0';
	sbuf_adds(j, "{\"url\":\"" PAPI_URL "/v1/proposals\",\"method\":\"POST\",\"example\":"
	    "{\"intent\":\"why this access is needed, in a sentence the operator will read\","
	    "\"name\":");
	sbuf_add_json(j, name);
	sbuf_adds(j, ",\"network_policy\":{\"endpoints\":[{\"host\":");
	sbuf_add_json(j, host);
	sbuf_addf(j, ",\"port\":%u}],\"binaries\":[", (unsigned)c->port);
	if (c->exe) {
		sbuf_adds(j, "{\"path\":");
		sbuf_add_json(j, c->exe);
		sbuf_adds(j, "}");
	}
	sbuf_adds(j, "]}},\"status\":\"" PAPI_URL "/v1/proposals/ID?wait=60\",\"guide\":"
	    "\"/etc/warden/AGENTS.md\"}");
}

/* ---- answers ------------------------------------------------------------------- */

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return status < 400 ? "OK" : "Error";
	}
}

/* A final answer; unlike l7_answer's, as large as the JSON (a policy, 100 denials). */
static void
answer(struct conn *c, int status, const char *json)
{
	struct sbuf b;

	sbuf_init(&b, strlen(json) + 1024);
	px_format_answer(&b, status, status_text(status), json);
	l7_out_add(&c->l7->c, b.p, b.len);
	sbuf_free(&b);
	l7_closing(c->l7);
}

static void
answer_error(struct conn *c, int status, const char *error, const char *reason)
{
	struct sbuf j;

	sbuf_init(&j, 8192);
	sbuf_adds(&j, "{\"error\":");
	sbuf_add_json(&j, error);
	sbuf_adds(&j, ",\"reason\":");
	sbuf_add_json(&j, reason);
	sbuf_addf(&j, ",\"endpoints\":%s}\n", endpoints_json);
	answer(c, status, j.p);
	sbuf_free(&j);
}

static void
answer_item(struct conn *c, const struct appr_item *it)
{
	struct sbuf j;

	sbuf_init(&j, 1 << 20);
	approvals_item_json(it, &j);
	sbuf_adds(&j, "\n");
	answer(c, 200, j.p);
	sbuf_free(&j);
}

/* ---- endpoints ----------------------------------------------------------------- */

static void
get_policy(struct conn *c)
{
	struct proxy *px = c->px;
	char *canon = policy_canonical(px->policy);
	struct sbuf j;

	sbuf_init(&j, 16u << 20);
	sbuf_addf(&j, "{\"revision\":%llu,\"hash\":\"%s\",\"policy\":",
	    (unsigned long long)px->revision, px->hash);
	sbuf_add_json(&j, canon ? canon : "");
	sbuf_adds(&j, "}\n");
	free(canon);
	if (j.overflow)
		answer_error(c, 503, "too_large", "the policy is too large to show here: read "
		    "/etc/warden/policy.yaml");
	else
		answer(c, 200, j.p);
	sbuf_free(&j);
}

/* A query parameter's value as a bounded count; def when absent, -1 when malformed. */
static long
query_count(const struct http_target *t, const char *name, long def, long max)
{
	for (size_t i = 0; i < t->nquery; i++) {
		const char *v = t->query[i].value;
		char *end;
		long n;

		if (strcmp(t->query[i].name, name) != 0)
			continue;
		if (!v || !*v || strlen(v) > 9)
			return -1;
		n = strtol(v, &end, 10);
		if (*end || n < 0)
			return -1;
		return n > max ? max : n;
	}
	return def;
}

static void
get_denials(struct conn *c, const struct http_target *t)
{
	struct proxy *px = c->px;
	long last = query_count(t, "last", PAPI_DENIALS_DEFAULT, PX_DENIALS);
	size_t have = px->ndenials < PX_DENIALS ? px->ndenials : PX_DENIALS, n;
	struct sbuf j;

	if (last < 0) {
		answer_error(c, 400, "bad_request", "last must be a number of denials (at most 100)");
		return;
	}
	n = (size_t)last < have ? (size_t)last : have;
	sbuf_init(&j, 1 << 20);
	sbuf_adds(&j, "{\"denials\":[");
	/* Oldest first, the newest last, as a log reads. */
	for (size_t i = 0; i < n; i++) {
		const struct px_denial *d = &px->denials[(px->ndenials - n + i) % PX_DENIALS];
		if (i)
			sbuf_adds(&j, ",");
		denial_json(d, &j);
	}
	sbuf_addf(&j, "],\"total\":%zu}\n", px->ndenials);
	answer(c, 200, j.p);
	sbuf_free(&j);
}

static void on_decided(void *arg, const struct appr_item *it);

static bool
get_proposal(struct conn *c, const char *id, const struct http_target *t)
{
	struct l7 *x = c->l7;
	struct proxy *px = c->px;
	const struct appr_item *it = approvals_get(px->approvals, id);
	long wait = query_count(t, "wait", 0, PAPI_WAIT_MAX);

	if (wait < 0) {
		answer_error(c, 400, "bad_request", "wait must be a number of seconds (at most 300)");
		return false;
	}
	if (!it) {
		answer_error(c, 404, "unknown_proposal", "no such proposal or held request (it may "
		    "have expired and been forgotten)");
		return false;
	}
	if (wait == 0 || it->status != APPR_PENDING) {
		answer_item(c, it);
		return false;
	}
	x->pa = xcalloc(1, sizeof(*x->pa));
	snprintf(x->pa->id, sizeof(x->pa->id), "%s", it->id);
	x->pa->deadline = now_ns() + (uint64_t)wait * 1000000000u;
	x->pa->waiter = approvals_wait(px->approvals, it->id, on_decided, c);
	if (!x->pa->waiter) {
		answer_item(c, it);
		return false;
	}
	x->rq = RQ_GWAIT;
	x->rs = RS_IDLE;
	return true;
}

/* The item a long poll waits on was decided or expired. */
static void
on_decided(void *arg, const struct appr_item *it)
{
	struct conn *c = arg;
	struct l7 *x = c->l7;

	x->pa->waiter = NULL;
	answer_item(c, it);
	l7_kick(c);
}

static void
propose(struct conn *c)
{
	struct l7 *x = c->l7;
	struct papi *pa = x->pa;
	struct sbuf out;
	int status;

	sbuf_init(&out, 1 << 20);
	status = approvals_propose(c->px->approvals, c->exe, c->pid,
	    pa->body.p ? pa->body.p : "", pa->body.len, &out);
	if (!out.len || out.overflow)
		answer_error(c, status >= 400 ? status : 500, "proposal_failed",
		    "the proposal could not be answered");
	else
		answer(c, status, out.p);
	sbuf_free(&out);
}

bool
papi_is_for(const struct http_request *req)
{
	char h[HTTP_MAX_HOST + 1];
	uint16_t port = 0;

	if (req->form == HTTP_FORM_ABSOLUTE)
		return strcasecmp(req->host, POLICY_HOST) == 0;
	if (!req->host_header || http_parse_authority(req->host_header->value,
	    req->host_header->value_len, h, &port, 80))
		return false;
	return strcasecmp(h, POLICY_HOST) == 0;
}

bool
papi_request(struct conn *c, const struct http_request *req, size_t head_len,
    const struct http_target *t)
{
	struct l7 *x = c->l7;
	struct proxy *px = c->px;
	const char *path = t->path;
	bool get = strcmp(req->method, "GET") == 0;

	/* Recorded under its own name, not the router's. */
	snprintf(c->host, sizeof(c->host), "%s", POLICY_HOST);
	dest_normalize(c->host, 80, &c->dst);
	if (strcmp(path, "/v1/policy") == 0 || strcmp(path, "/v1/denials") == 0) {
		if (!get) {
			answer_error(c, 405, "method_not_allowed", "this endpoint is read-only (GET)");
			return false;
		}
		if (path[4] == 'p')
			get_policy(c);
		else
			get_denials(c, t);
		return false;
	}
	if (strcmp(path, "/v1/proposals") != 0 && strncmp(path, "/v1/proposals/", 14) != 0) {
		answer_error(c, 404, "not_found", "policy.local serves these endpoints (approving "
		    "is done by a human on the host, never from inside the sandbox)");
		return false;
	}
	if (!px->approvals) {
		answer_error(c, 503, "approvals_unavailable", "this sandbox takes no proposals");
		return false;
	}
	if (strcmp(path, "/v1/proposals") == 0) {
		if (strcmp(req->method, "POST") != 0) {
			answer_error(c, 405, "method_not_allowed", "POST a proposal to /v1/proposals; "
			    "read one with GET /v1/proposals/ID");
			return false;
		}
		if (req->body == HTTP_BODY_NONE ||
		    (req->body == HTTP_BODY_LENGTH && req->content_length > PAPI_BODY_MAX)) {
			answer_error(c, req->body == HTTP_BODY_NONE ? 400 : 413,
			    req->body == HTTP_BODY_NONE ? "bad_request" : "too_large",
			    req->body == HTTP_BODY_NONE ? "a proposal is a JSON body" :
			    "a proposal is at most 64 KiB");
			return false;
		}
		x->pa = xcalloc(1, sizeof(*x->pa));
		sbuf_init(&x->pa->body, PAPI_BODY_MAX + 1);
		http_body_init(&x->reqbody, req);
		x->reqbody.payload = &x->pa->body;
		l7_in_consume(&x->c, head_len);
		x->rq = RQ_GBODY;
		x->rs = RS_IDLE;
		return true;
	}
	/* /v1/proposals/ID: one segment, read only. */
	{
		const char *id = path + 14;

		if (!get) {
			answer_error(c, 405, "method_not_allowed", "proposals are read here (GET); "
			    "they are decided by a human on the host");
			return false;
		}
		if (!*id || strlen(id) >= APPR_ID_MAX || strchr(id, '/')) {
			answer_error(c, 404, "unknown_proposal", "no such proposal");
			return false;
		}
		return get_proposal(c, id, t);
	}
}

int
papi_run(struct conn *c, bool *closed)
{
	struct l7 *x = c->l7;
	struct papi *pa = x->pa;

	*closed = false;
	if (x->rq == RQ_GBODY) {
		ssize_t used;

		if (!x->c.inlen) {
			if (x->c.eof) {
				px_conn_close(c);
				*closed = true;
			}
			return 0;
		}
		used = http_body_feed(&x->reqbody, x->c.in, x->c.inlen);
		if (used < 0) {
			answer_error(c, 400, "bad_request", "malformed chunked request body");
			return 1;
		}
		l7_in_consume(&x->c, (size_t)used);
		if (pa->body.overflow) {
			answer_error(c, 413, "too_large", "a proposal is at most 64 KiB");
			return 1;
		}
		if (x->reqbody.done) {
			x->reqbody.payload = NULL;
			x->rq = RQ_DONE;
			propose(c);
		}
		return 1;
	}
	if (x->rq == RQ_GWAIT && pa->waiter) {
		/* Nothing more is read from a long poll: input is dropped, its end noticed. */
		int r = l7_side_read(&x->c);

		x->c.inlen = 0;
		if (r < 0 || x->c.eof) {
			approvals_unwait(pa->waiter);
			pa->waiter = NULL;
			px_conn_close(c);
			*closed = true;
			return 0;
		}
		return r;
	}
	return 0;
}

bool
papi_sweep(struct conn *c, uint64_t now)
{
	struct l7 *x = c->l7;
	struct papi *pa = x->pa;
	const struct appr_item *it;

	if (!pa || !pa->waiter || now < pa->deadline)
		return false;
	approvals_unwait(pa->waiter);
	pa->waiter = NULL;
	it = approvals_get(c->px->approvals, pa->id);
	if (it)
		answer_item(c, it);
	else
		answer_error(c, 404, "unknown_proposal", "the item expired and was forgotten");
	return true;
}

void
papi_free(struct conn *c)
{
	struct l7 *x = c->l7;

	if (!x || !x->pa)
		return;
	if (x->pa->waiter)
		approvals_unwait(x->pa->waiter);
	sbuf_free(&x->pa->body);
	free(x->pa);
	x->pa = NULL;
}
