/*
 * The privacy router: inference requests, read whole, classified outside
 * the agent, and sent only to a provider trusted with what they contain.
 *
 * Two doorways lead here.  http://inference.local (127.0.0.1:80 inside
 * the sandbox, or a forward request through the proxy) accepts Anthropic
 * Messages, OpenAI Chat Completions and Responses and routes each request
 * by the policy's `inference` routes.  A request that goes straight to a
 * provider's own host through an allowed, TLS-terminated connection is
 * governed the same way, with that provider as the only candidate: there
 * is no path to a provider that skips the classifiers.
 *
 * For each request:
 *
 *   head read -> body read whole (bounded by inference.max_body)
 *   -> classifiers (guard_client.h; any failure denies)
 *   -> tier = the classifiers' highest, raised (never lowered) by any label
 *      the agent put on the request
 *   -> the first candidate provider whose max_tier admits the tier; none:
 *      redact and classify again (on_no_provider: redact), or deny
 *   -> the decision recorded -> the agent's own credentials stripped, the
 *      provider's injected -> sent (a new upstream connection when the
 *      provider differs from the last one) -> the response relayed as it
 *      streams, redacted values put back when there were any.
 *
 * The agent's requests are never parsed for routing beyond what the body
 * says about itself (model, stream, metadata.sensitivity), and the body
 * that is sent is byte for byte the one classified (or its redaction).
 */
#include "proxy_l7_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../router/guard_client.h"
#include "../router/redact.h"
#include "../router/route.h"
#include "cred.h"
#include "resolve.h"
#include "tlsca.h"

#define MAX_CANDIDATES 16
#define PROVIDER_NAME_MAX 64

struct infer {
	/* The upstream this client connection talks to (kept across requests). */
	char up_name[PROVIDER_NAME_MAX];

	/* ---- the request held (reset for each) ---- */
	enum infer_api api;
	enum infer_format fmt;
	char direct[PROVIDER_NAME_MAX];	/* a direct request: the provider of its host */
	char method[33];
	char *path;			/* normalised target, as it will be sent */
	char *audit_path;		/* without query values */
	struct sbuf hdrs;		/* the agent's end-to-end headers that go on */
	bool has_hlabel;
	enum tier hlabel;		/* from x-sensitivity / x-warden-sensitivity */
	struct sbuf body;		/* decoded */
	struct infer_info info;
	int pass;			/* 1: the body, 2: its redaction */
	struct guard_call *call;
	uint64_t t0;
	struct sbuf redacted;
	struct redact_map map;
	size_t nredacted;
	struct sbuf findings;		/* {"type":count,...} of the first pass */
	struct sbuf classifiers;	/* [{name,tier,decision,latency_us},...] */
	enum tier tier;
	char chosen[PROVIDER_NAME_MAX];
	/* Refused and held (approvals.mode: ask): the provider it would go to; the grant it went on. */
	char held_for[PROVIDER_NAME_MAX];
	char approval[APPR_ID_MAX];
	struct sbuf send;		/* head + body for the provider */
	bool send_secret;		/* send holds the provider's credential */
	/* Connecting to the provider. */
	struct resolve_req *rq;
	struct addrinfo *ai, *ai_next;
	bool connecting;
	/* The response. */
	struct restorer *restorer;
	bool chunked_out;
	struct sbuf payload;
};

/* ---- small helpers ------------------------------------------------------------ */

/*
 * An sbuf whose first allocation already holds about what it will be
 * given (a request body of known length, the request for the provider),
 * rather than doubling from a small start through a realloc and a copy
 * at each step.
 */
static void
sbuf_init_cap(struct sbuf *b, size_t max, size_t cap)
{
	sbuf_init(b, max);
	if (cap > max)
		cap = max + 1;
	if (cap > b->cap) {
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

static const struct infer_provider *
provider_named(const struct proxy *px, const char *name)
{
	const struct inference *inf = &px->policy->inference;

	for (size_t i = 0; name[0] && i < inf->nproviders; i++)
		if (strcmp(inf->providers[i].name, name) == 0)
			return &inf->providers[i];
	return NULL;
}

static void
free_ai(struct infer *g)
{
	px_free_ai(g->ai);
	g->ai = g->ai_next = NULL;
}

static void
wipe(struct sbuf *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->cap);
	sbuf_free(b);
}

/* Forget the request held; the upstream stays. */
static void
request_reset(struct infer *g)
{
	if (g->call)
		guard_cancel(g->call);
	g->call = NULL;
	if (g->rq)
		resolver_cancel(g->rq);
	g->rq = NULL;
	free_ai(g);
	free(g->path);
	free(g->audit_path);
	g->path = g->audit_path = NULL;
	sbuf_free(&g->hdrs);
	sbuf_free(&g->body);
	sbuf_free(&g->redacted);
	redact_map_free(&g->map);
	sbuf_free(&g->findings);
	sbuf_free(&g->classifiers);
	wipe(&g->send);
	sbuf_free(&g->payload);
	if (g->restorer)
		restorer_free(g->restorer);
	g->restorer = NULL;
	{
		char up[PROVIDER_NAME_MAX];
		memcpy(up, g->up_name, sizeof(up));
		memset(g, 0, sizeof(*g));
		memcpy(g->up_name, up, sizeof(up));
	}
}

/* The upstream connection is dropped (another provider, or it went away). */
static void
drop_upstream(struct conn *c)
{
	struct l7 *x = c->l7;

	if (c->ufd >= 0) {
		if (c->uio.added)
			evloop_del(c->px->loop, &c->uio);
		close(c->ufd);
	}
	c->ufd = -1;
	if (x->u.ssl)
		SSL_free(x->u.ssl);
	free(x->u.in);
	if (x->u.out) {
		if (x->u.out_secret)
			OPENSSL_cleanse(x->u.out, x->u.outcap);
		free(x->u.out);
	}
	memset(&x->u, 0, sizeof(x->u));
	x->u.fd = -1;
	x->g->up_name[0] = '\0';
	c->addrtxt[0] = '\0';
	c->uhup = false;
}

static void
add_audit_fields(struct conn *c, struct sbuf *x, const char *provider)
{
	struct infer *g = c->l7->g;

	sbuf_adds(x, "\"api\":");
	sbuf_add_json(x, infer_api_name(g->api));
	sbuf_adds(x, ",\"format\":");
	sbuf_add_json(x, g->api == INFER_API_NONE ? "unknown" : infer_format_name(g->fmt));
	sbuf_adds(x, ",\"model\":");
	sbuf_add_json(x, g->info.model);
	sbuf_adds(x, ",\"tier\":");
	sbuf_add_json(x, tier_name(g->tier));
	if (g->has_hlabel || g->info.has_label) {
		enum tier l = g->has_hlabel ? g->hlabel : g->info.label;
		if (g->has_hlabel && g->info.has_label)
			l = tier_max(g->hlabel, g->info.label);
		sbuf_adds(x, ",\"label\":");
		sbuf_add_json(x, tier_name(l));
	}
	sbuf_adds(x, ",\"findings\":");
	sbuf_adds(x, g->findings.len ? g->findings.p : "{}");
	sbuf_adds(x, ",\"classifiers\":");
	sbuf_adds(x, g->classifiers.len ? g->classifiers.p : "[]");
	if (provider) {
		sbuf_adds(x, ",\"provider\":");
		sbuf_add_json(x, provider);
	}
	if (g->direct[0]) {
		sbuf_adds(x, ",\"direct\":");
		sbuf_add_json(x, g->direct);
	}
	if (g->nredacted) {
		sbuf_adds(x, ",\"redacted\":");
		sbuf_add_uint(x, g->nredacted);
	}
	if (g->approval[0]) {
		sbuf_adds(x, ",\"approval\":");
		sbuf_add_json(x, g->approval);
	}
	sbuf_adds(x, ",\"bytes\":");
	sbuf_add_uint(x, g->body.len);
}

static void
add_considered(struct sbuf *j, const struct infer_provider *const *cand, size_t n)
{
	sbuf_adds(j, "[");
	for (size_t i = 0; i < n; i++) {
		sbuf_adds(j, i ? ",{\"name\":" : "{\"name\":");
		sbuf_add_json(j, cand[i]->name);
		sbuf_adds(j, ",\"max_tier\":");
		sbuf_add_json(j, tier_name(cand[i]->max_tier));
		sbuf_adds(j, "}");
	}
	sbuf_adds(j, "]");
}

/*
 * Refuse the request held: recorded as inference.route deny, answered with
 * the JSON every denial carries plus what the router saw.
 */
static void
deny(struct conn *c, int status, const char *reason, const struct infer_provider *const *cand,
    size_t ncand, bool classified)
{
	struct infer *g = c->l7->g;
	struct sbuf x, j;

	c->px->stats.denied++;
	sbuf_init(&x, 1 << 20);
	add_audit_fields(c, &x, NULL);
	if (cand) {
		sbuf_adds(&x, ",\"providers_considered\":");
		add_considered(&x, cand, ncand);
	}
	l7_emit(c, "inference.route", "deny", reason, g->method, g->audit_path,
	    x.overflow ? NULL : x.p);
	sbuf_free(&x);
	sbuf_init(&j, 1 << 20);
	px_deny_json(c, &j, "inference_denied", reason);
	if (classified) {
		sbuf_adds(&j, ",\"tier\":");
		sbuf_add_json(&j, tier_name(g->tier));
		sbuf_adds(&j, ",\"findings\":");
		sbuf_adds(&j, g->findings.len ? g->findings.p : "{}");
	}
	if (cand) {
		sbuf_adds(&j, ",\"providers_considered\":");
		add_considered(&j, cand, ncand);
	}
	sbuf_adds(&j, ",\"model\":");
	sbuf_add_json(&j, g->info.model);
	sbuf_adds(&j, "}\n");
	l7_answer(c, status, status == 413 ? "Payload Too Large" : status == 404 ? "Not Found" :
	    status == 405 ? "Method Not Allowed" : status == 502 ? "Bad Gateway" :
	    status == 504 ? "Gateway Timeout" : "Forbidden", j.p);
	sbuf_free(&j);
}

/* ---- taking the request ------------------------------------------------------- */

/* Headers the provider never gets from the agent: hop-by-hop, framing, credentials, labels. */
static bool
dropped_header(const struct http_header *h, const struct http_header *conn_h)
{
	static const char *const names[] = {
		"host", "connection", "proxy-connection", "proxy-authorization", "keep-alive", "te",
		"trailer", "upgrade", "transfer-encoding", "content-length", "authorization",
		"x-api-key", "api-key", "anthropic-api-key", "openai-api-key", "x-goog-api-key",
		"cookie", "accept-encoding", "x-sensitivity",
		"x-warden-sensitivity", "expect",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (l7_hdr_is(h, names[i]))
			return true;
	if (conn_h) {
		char name[64];
		if (h->name_len < sizeof(name)) {
			memcpy(name, h->name, h->name_len);
			name[h->name_len] = '\0';
			if (l7_token_in_list(conn_h->value, conn_h->value_len, name))
				return true;
		}
	}
	return false;
}

bool
infer_request(struct conn *c, const struct http_request *req, size_t head_len,
    const struct http_target *t, const struct infer_provider *direct)
{
	struct l7 *x = c->l7;
	struct proxy *px = c->px;
	const struct inference *inf = &px->policy->inference;
	const struct http_header *conn_h = http_find_header(req, "connection");
	struct infer *g;
	char reason[400];

	if (!x->g) {
		x->g = xcalloc(1, sizeof(*x->g));
	}
	g = x->g;
	request_reset(g);
	snprintf(g->method, sizeof(g->method), "%s", req->method);
	g->path = xstrdup(t->wire);
	g->audit_path = xstrdup(t->audit);
	if (direct)
		snprintf(g->direct, sizeof(g->direct), "%s", direct->name);
	g->api = infer_api_of(t->wire, strlen(t->wire), &g->fmt);
	if (direct && g->api != INFER_API_NONE && g->fmt != direct->format)
		g->api = INFER_API_NONE;	/* another format's path: classified, not parsed */
	if (!inf->present) {
		deny(c, 503, "this sandbox's policy has no inference section: there is no "
		    "provider to route to", NULL, 0, false);
		return false;
	}
	if (!direct && g->api == INFER_API_NONE) {
		snprintf(reason, sizeof(reason), "%s serves POST /v1/messages (Anthropic), "
		    "/v1/chat/completions and /v1/responses (OpenAI); not %s", INFER_HOST,
		    t->audit);
		deny(c, 404, reason, NULL, 0, false);
		return false;
	}
	if (!direct && strcmp(req->method, "POST") != 0) {
		snprintf(reason, sizeof(reason), "%s %s: inference requests are POSTs", req->method,
		    t->audit);
		deny(c, 405, reason, NULL, 0, false);
		return false;
	}
	if (http_find_header(req, "upgrade")) {
		deny(c, 403, "protocol upgrades are not routed: inference requests are plain "
		    "HTTP requests", NULL, 0, false);
		return false;
	}
	if (req->body == HTTP_BODY_LENGTH && req->content_length > inf->max_body) {
		snprintf(reason, sizeof(reason), "request body of %llu bytes is larger than "
		    "inference.max_body (%llu): it cannot be classified, so it is not sent",
		    (unsigned long long)req->content_length, (unsigned long long)inf->max_body);
		deny(c, 413, reason, NULL, 0, false);
		return false;
	}
	sbuf_init(&g->hdrs, HTTP_MAX_HEAD);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		enum tier l;

		if ((l7_hdr_is(h, "x-sensitivity") || l7_hdr_is(h, "x-warden-sensitivity")) &&
		    infer_label_parse(h->value, h->value_len, &l) == 0) {
			g->hlabel = g->has_hlabel ? tier_max(g->hlabel, l) : l;
			g->has_hlabel = true;
		}
		if (dropped_header(h, conn_h))
			continue;
		sbuf_add(&g->hdrs, h->name, h->name_len);
		sbuf_adds(&g->hdrs, ": ");
		sbuf_add(&g->hdrs, h->value, h->value_len);
		sbuf_adds(&g->hdrs, "\r\n");
	}
	if (req->connection_close)
		x->close_after = true;
	/*
	 * A client that asked to be told to send its body (curl does for
	 * bodies over 1 KiB) would otherwise wait a second for an answer no
	 * provider gives: the request has not been sent anywhere yet.
	 */
	{
		const struct http_header *e = http_find_header(req, "expect");
		if (e && e->value_len == 12 && strncasecmp(e->value, "100-continue", 12) == 0 &&
		    req->body != HTTP_BODY_NONE)
			l7_out_add(&x->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
	/* One byte over the limit is how an oversize chunked body shows. */
	sbuf_init_cap(&g->body, (size_t)inf->max_body + 1, req->body == HTTP_BODY_LENGTH ?
	    (size_t)req->content_length + 1 : 0);
	http_body_init(&x->reqbody, req);
	x->reqbody.payload = &g->body;
	l7_in_consume(&x->c, head_len);
	x->rq = RQ_GBODY;
	x->rs = RS_IDLE;
	return true;
}

/* ---- classification -------------------------------------------------------------- */

static void on_verdict(void *arg, const struct guard_verdict *v);

static void
classify(struct conn *c, const void *body, size_t len)
{
	struct l7 *x = c->l7;
	struct infer *g = x->g;
	struct proxy *px = c->px;
	const struct infer_provider *dp = provider_named(px, g->direct);
	struct guard_request r = {
		.deadline_ms = px->policy->inference.timeout_ms,
		.format = g->api == INFER_API_NONE ? "unknown" : infer_format_name(g->fmt),
		.provider = dp ? dp->name : "",
		.host = dp ? dp->host : INFER_HOST,
		.path = g->path,
		.model = g->info.model,
		.sandbox = px->sandbox,
		.binary = c->exe ? c->exe : "",
		.pid = c->pid,
		.body = body,
		.body_len = len,
	};

	if (!px->guards) {
		deny(c, 403, "no classifier is running (the built-in classifier could not start): "
		    "inference requests are refused (fail closed)", NULL, 0, false);
		return;
	}
	x->rq = RQ_GWAIT;
	g->t0 = now_ns();
	g->call = guard_classify(px->guards, &r, on_verdict, c);
}

static void
note_verdict(struct infer *g, const struct guard_verdict *v)
{
	if (!g->classifiers.p) {
		sbuf_init(&g->classifiers, 8192);
		sbuf_adds(&g->classifiers, "[");
	} else {
		g->classifiers.len--;	/* reopen the list */
		sbuf_adds(&g->classifiers, ",");
	}
	for (size_t i = 0; i < v->nper; i++) {
		sbuf_adds(&g->classifiers, i ? ",{\"name\":" : "{\"name\":");
		sbuf_add_json(&g->classifiers, v->per[i].name);
		sbuf_adds(&g->classifiers, ",\"decision\":");
		sbuf_add_json(&g->classifiers, guard_decision_name(v->per[i].decision));
		sbuf_adds(&g->classifiers, ",\"tier\":");
		sbuf_add_json(&g->classifiers, tier_name(v->per[i].tier));
		sbuf_adds(&g->classifiers, ",\"latency_us\":");
		sbuf_add_uint(&g->classifiers, v->per[i].latency_us);
		sbuf_adds(&g->classifiers, ",\"pass\":");
		sbuf_add_uint(&g->classifiers, (uint64_t)g->pass);
		sbuf_adds(&g->classifiers, "}");
	}
	sbuf_adds(&g->classifiers, "]");
	if (g->pass != 1)
		return;
	/* Finding types and counts -- never what was found. */
	sbuf_init(&g->findings, 16384);
	sbuf_adds(&g->findings, "{");
	for (size_t i = 0; i < v->nfindings; i++) {
		size_t n = 0;
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(v->findings[k].type, v->findings[i].type) == 0;
		if (seen)
			continue;
		for (size_t k = i; k < v->nfindings; k++)
			n += strcmp(v->findings[k].type, v->findings[i].type) == 0;
		if (g->findings.len > 1)
			sbuf_adds(&g->findings, ",");
		sbuf_add_json(&g->findings, v->findings[i].type);
		sbuf_adds(&g->findings, ":");
		sbuf_add_uint(&g->findings, n);
	}
	sbuf_adds(&g->findings, "}");
}

static void send_to(struct conn *c, const struct infer_provider *p);
static const struct infer_provider *granted_or_held(struct conn *c,
    const struct infer_provider *first, const char *why);

static void
on_verdict(void *arg, const struct guard_verdict *v)
{
	struct conn *c = arg;
	struct l7 *x = c->l7;
	struct infer *g = x->g;
	struct proxy *px = c->px;
	const struct inference *inf = &px->policy->inference;
	const struct infer_provider *cand[MAX_CANDIDATES], *chosen;
	size_t n;
	char reason[600];

	g->call = NULL;
	if (g->pass == 0)
		g->pass = 1;
	note_verdict(g, v);
	if (v->decision == GUARD_ERROR) {
		snprintf(reason, sizeof(reason), "the request could not be classified: %s "
		    "(failing closed)", v->reason[0] ? v->reason : "classifier error");
		deny(c, 403, reason, NULL, 0, false);
		goto out;
	}
	/* The tier of what would be sent (the redaction, on a second pass)... */
	g->tier = v->tier;
	/* ...which labels the agent wrote can only raise. */
	if (g->has_hlabel)
		g->tier = tier_max(g->tier, g->hlabel);
	if (g->info.has_label)
		g->tier = tier_max(g->tier, g->info.label);
	if (v->decision == GUARD_DENY) {
		snprintf(reason, sizeof(reason), "a classifier refused the request: %s",
		    v->reason[0] ? v->reason : "no reason given");
		deny(c, 403, reason, NULL, 0, true);
		goto out;
	}
	if (g->direct[0]) {
		const struct infer_provider *dp = provider_named(px, g->direct);
		n = 0;
		if (dp)
			cand[n++] = dp;
	} else {
		n = infer_candidates(inf, g->fmt, g->info.model, cand, MAX_CANDIDATES);
	}
	if (n == 0) {
		if (g->direct[0])
			snprintf(reason, sizeof(reason), "provider '%s' is no longer in the policy",
			    g->direct);
		else
			snprintf(reason, sizeof(reason), "no route serves model '%s' with a provider "
			    "speaking the %s format", g->info.model[0] ? g->info.model : "(none)",
			    infer_format_name(g->fmt));
		deny(c, 403, reason, NULL, 0, true);
		goto out;
	}
	chosen = infer_choose(cand, n, g->tier);
	if (!chosen && g->pass == 1 && inf->on_no_provider == INFER_ON_NONE_REDACT &&
	    v->nredactions > 0) {
		char why[200] = "";

		sbuf_init(&g->redacted, (size_t)inf->max_body + 65536);
		if (redact_apply(g->body.p, g->body.len, v->redactions, v->nredactions,
		    &g->redacted, &g->map, why, sizeof(why)) < 0 || g->redacted.overflow) {
			snprintf(reason, sizeof(reason), "the request could not be redacted: %s",
			    why[0] ? why : "too large");
			deny(c, 403, reason, cand, n, true);
			goto out;
		}
		g->nredacted = v->nredactions;
		g->pass = 2;
		/* What is sent must itself be classified: the redaction may not be enough. */
		classify(c, g->redacted.p, g->redacted.len);
		goto out;
	}
	if (!chosen) {
		snprintf(reason, sizeof(reason), "the request is %s%s and no provider for it may "
		    "receive that (%s)", tier_name(g->tier), g->pass == 2 ? " even after redaction" :
		    "", inf->on_no_provider == INFER_ON_NONE_REDACT ? "nothing to redact helps" :
		    "on_no_provider: deny");
		chosen = granted_or_held(c, cand[0], reason);
		if (!chosen) {
			if (x->rq != RQ_HELD)
				deny(c, 403, reason, cand, n, true);
			goto out;
		}
	}
	send_to(c, chosen);
out:
	l7_kick(c);
}

/* ---- hold-and-ask ------------------------------------------------------------------- */

/*
 * A refused model request as a hold: who, through which doorway, to which
 * provider (the most preferred candidate), at which tier.  A grant must
 * match all of it: --once/--for on one tier never covers a higher one.
 */
static struct appr_hold
route_hold(const struct conn *c, const char *provider)
{
	const struct infer *g = c->l7->g;

	return (struct appr_hold){ .binary = c->exe, .pid = c->pid,
	    .host = g->direct[0] ? c->dst.host : "inference.local",
	    .port = g->direct[0] ? c->dst.port : 80, .provider = provider,
	    .tier = tier_name(g->tier) };
}

/*
 * The human decided on the item a held model request waits on: approved,
 * the grant (--once, --for) sends it to the provider the hold named, as
 * it would have been sent (the redaction, if it was redacted); anything
 * else refuses it.  The policy may have changed meanwhile: the provider
 * is looked up again, and the grant must still be there.
 */
static void
on_route_decided(void *arg, const struct appr_item *it)
{
	struct conn *c = arg;
	struct l7 *x = c->l7;
	struct infer *g = x ? x->g : NULL;
	const struct infer_provider *p;
	char reason[700];

	c->waiter = NULL;
	if (c->st != C_L7 || !g || x->rq != RQ_HELD)
		return;
	px_unhold(c);
	x->rq = RQ_GWAIT;
	if (it->status == APPR_APPROVED) {
		struct appr_hold h = route_hold(c, g->held_for);
		const struct appr_item *gr;

		p = provider_named(c->px, g->held_for);
		gr = p ? approvals_grant_request(c->px->approvals, &h, true) : NULL;
		if (gr) {
			snprintf(g->approval, sizeof(g->approval), "%s", gr->id);
			send_to(c, p);
			l7_kick(c);
			return;
		}
		approvals_refusal(it, NULL, reason, sizeof(reason));
		snprintf(reason + strlen(reason), sizeof(reason) - strlen(reason), "provider '%s' %s",
		    g->held_for, p ? "is no longer granted it" : "is no longer in the policy");
	} else {
		approvals_refusal(it, c->held_why, reason, sizeof(reason));
	}
	deny(c, 403, reason, NULL, 0, true);
	l7_kick(c);
}

/*
 * No provider may receive the request.  An operator's grant for exactly
 * this (binary, doorway, provider, tier) sends it to that provider
 * (returned); with approvals.mode: ask it waits for a human (NULL, x->rq
 * RQ_HELD); otherwise NULL and the refusal stands.
 */
static const struct infer_provider *
granted_or_held(struct conn *c, const struct infer_provider *first, const char *why)
{
	struct infer *g = c->l7->g;
	struct appr_hold h = route_hold(c, first->name);
	const struct appr_item *gr;

	if (!c->px->approvals || !c->exe)
		return NULL;
	if ((gr = approvals_grant_request(c->px->approvals, &h, true))) {
		snprintf(g->approval, sizeof(g->approval), "%s", gr->id);
		return first;
	}
	if (l7_hold(c, &h, why, on_route_decided))
		snprintf(g->held_for, sizeof(g->held_for), "%s", first->name);
	return NULL;
}

/* ---- sending to the provider ------------------------------------------------------- */

/* The provider's model, when the policy rewrites it.  Returns an owned body or NULL. */
static char *
rewrite_model(const char *body, size_t len, const char *model, size_t *outlen)
{
	json_error_t e;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	char *out;

	if (!root || !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	json_object_set_new(root, "model", json_string(model));
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (out)
		*outlen = strlen(out);
	return out;
}

static void
build_send(struct conn *c, const struct infer_provider *p)
{
	struct infer *g = c->l7->g;
	const char *body = g->pass == 2 ? g->redacted.p : g->body.p;
	size_t blen = g->pass == 2 ? g->redacted.len : g->body.len;
	char *rewritten = NULL, *path;

	if (p->model && g->api != INFER_API_NONE)
		rewritten = rewrite_model(body ? body : "", blen, p->model, &blen);
	if (rewritten)
		body = rewritten;
	path = g->direct[0] ? xstrdup(g->path) : infer_upstream_path(p, g->path,
	    strlen(g->path));
	sbuf_init_cap(&g->send, blen + HTTP_MAX_HEAD + 65536, blen + g->hdrs.len + 1024);
	sbuf_adds(&g->send, g->method);
	sbuf_adds(&g->send, " ");
	sbuf_adds(&g->send, path);
	sbuf_adds(&g->send, " HTTP/1.1\r\nHost: ");
	free(path);
	if (strchr(p->host, ':')) {
		sbuf_adds(&g->send, "[");
		sbuf_adds(&g->send, p->host);
		sbuf_adds(&g->send, "]");
	} else {
		sbuf_adds(&g->send, p->host);
	}
	if (p->port != (p->tls ? 443 : 80)) {
		sbuf_adds(&g->send, ":");
		sbuf_add_uint(&g->send, p->port);
	}
	sbuf_adds(&g->send, "\r\n");
	sbuf_add(&g->send, g->hdrs.p ? g->hdrs.p : "", g->hdrs.len);
	if (p->credential) {
		g->send_secret = true;
		credstore_add_header(c->px->creds, p->credential, p->format == INFER_ANTHROPIC ?
		    "x-api-key" : "Authorization", p->format == INFER_ANTHROPIC ? "" : "Bearer ",
		    &g->send);
	}
	/* Redacted values come back only from a body that is not compressed. */
	if (g->pass == 2)
		sbuf_adds(&g->send, "Accept-Encoding: identity\r\n");
	sbuf_adds(&g->send, "Content-Length: ");
	sbuf_add_uint(&g->send, blen);
	sbuf_adds(&g->send, "\r\n\r\n");
	sbuf_add(&g->send, body ? body : "", blen);
	free(rewritten);
}

/* The exchange can go: the request is queued on a ready upstream. */
static void
dispatch(struct conn *c)
{
	struct l7 *x = c->l7;
	struct infer *g = x->g;

	l7_out_add(&x->u, g->send.p, g->send.len);
	/*
	 * Only a credential makes the bytes secret: then they are wiped
	 * wherever they were (tens of KiB of buffer capacity on every request
	 * otherwise, for nothing).
	 */
	if (g->send_secret) {
		x->u.out_secret = true;
		wipe(&g->send);
	} else {
		sbuf_free(&g->send);
	}
	x->rq = RQ_DONE;
	x->rs = RS_HEAD;
	x->resp_started = false;
	x->upgrade_req = false;
	x->deadline = 0;
	c->px->stats.allowed++;
}

static void connect_next(struct conn *c);

static void
on_resolved(struct resolve_req *rq)
{
	struct conn *c = rq->arg;
	struct infer *g = c->l7->g;
	char why[400];

	g->rq = NULL;
	if (rq->gai_err || !rq->res) {
		snprintf(why, sizeof(why), "cannot resolve provider host %s: %s", rq->host,
		    gai_strerror(rq->gai_err));
		resolve_req_free(rq);
		deny(c, 502, why, NULL, 0, true);
		l7_kick(c);
		return;
	}
	g->ai = g->ai_next = rq->res;
	rq->res = NULL;
	resolve_req_free(rq);
	connect_next(c);
	l7_kick(c);
}

static void
connect_next(struct conn *c)
{
	struct l7 *x = c->l7;
	struct infer *g = x->g;
	const struct infer_provider *p = provider_named(c->px, g->chosen);

	for (; p && g->ai_next; g->ai_next = g->ai_next->ai_next) {
		struct addrinfo *ai = g->ai_next;
		int fd;

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		px_set_addr(c, ai, p->port);
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&c->addr, c->addrlen) < 0 &&
		    errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		g->ai_next = ai->ai_next;
		c->ufd = fd;
		c->uio.arg = c;
		x->u.fd = fd;
		g->connecting = true;
		return;
	}
	{
		char why[400];
		snprintf(why, sizeof(why), "cannot connect to provider '%s' (%s port %u)",
		    g->chosen, p ? p->host : "?", p ? (unsigned)p->port : 0u);
		free_ai(g);
		deny(c, 502, why, NULL, 0, true);
	}
}

/*
 * The provider was chosen: record the decision, then send on the
 * connection to it (a direct request's own, or the router's).
 */
static void
send_to(struct conn *c, const struct infer_provider *p)
{
	struct l7 *x = c->l7;
	struct infer *g = x->g;
	struct proxy *px = c->px;
	struct sbuf ex;
	char reason[300];
	int r;

	snprintf(g->chosen, sizeof(g->chosen), "%s", p->name);
	snprintf(reason, sizeof(reason), "%s request routed to '%s' (max_tier %s)%s",
	    tier_name(g->tier), p->name, tier_name(p->max_tier), g->pass == 2 ?
	    " after redaction" : "");
	sbuf_init_cap(&ex, 1 << 20, 1024);
	add_audit_fields(c, &ex, p->name);
	r = l7_emit(c, "inference.route", "allow", reason, g->method, g->audit_path,
	    ex.overflow ? NULL : ex.p);
	sbuf_free(&ex);
	if (r < 0) {
		deny(c, 403, "the audit trail cannot be written, so no request is allowed "
		    "(nothing may go unrecorded)", NULL, 0, true);
		return;
	}
	build_send(c, p);
	if (g->pass == 2)
		g->restorer = NULL;	/* made when the response head says what it is */
	if (g->direct[0] || (c->ufd >= 0 && strcmp(g->up_name, p->name) == 0 && !x->u.eof &&
	    !x->u.shut && !c->uhup)) {
		dispatch(c);
		return;
	}
	drop_upstream(c);
	x->rq = RQ_GCONNECT;
	x->deadline = now_ns() + px->connect_ns;
	/* Where the provider is: an IP literal, a pinned name, or the host's resolver. */
	if ((g->ai = g->ai_next = px_literal_ai(px, p->host))) {
		connect_next(c);
		return;
	}
	g->rq = xcalloc(1, sizeof(*g->rq));
	snprintf(g->rq->host, sizeof(g->rq->host), "%s", p->host);
	g->rq->done = on_resolved;
	g->rq->arg = c;
	resolver_submit(px->res, g->rq);
}

/* ---- progress ---------------------------------------------------------------------- */

int
infer_run(struct conn *c, bool *closed)
{
	struct l7 *x = c->l7;
	struct infer *g = x->g;
	struct proxy *px = c->px;

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
			l7_answer_error(c, 400, "Bad Request", "bad_request",
			    "malformed chunked request body");
			return 1;
		}
		l7_in_consume(&x->c, (size_t)used);
		if (g->body.overflow) {
			char reason[300];
			snprintf(reason, sizeof(reason), "request body is larger than "
			    "inference.max_body (%llu bytes): it cannot be classified, so it is not "
			    "sent", (unsigned long long)px->policy->inference.max_body);
			deny(c, 413, reason, NULL, 0, false);
			return 1;
		}
		if (x->reqbody.done) {
			x->reqbody.payload = NULL;
			infer_inspect_body(g->body.p ? g->body.p : "", g->body.len, &g->info);
			classify(c, g->body.p ? g->body.p : "", g->body.len);
		}
		return 1;
	}
	if (x->rq == RQ_GCONNECT && g->connecting) {
		struct pollfd pf = { .fd = c->ufd, .events = POLLOUT };
		const struct infer_provider *p;
		int e = 0;
		socklen_t l = sizeof(e);

		if (x->u.ssl) {
			int r = l7_handshake(c, &x->u, false);
			if (r == 0)
				return 0;
			if (r < 0) {
				deny(c, 502, x->upfail, NULL, 0, true);
				return 1;
			}
			g->connecting = false;
			snprintf(g->up_name, sizeof(g->up_name), "%s", g->chosen);
			dispatch(c);
			return 1;
		}
		if (poll(&pf, 1, 0) != 1)
			return 0;
		if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
			e = errno;
		if (e) {
			if (c->uio.added)
				evloop_del(px->loop, &c->uio);
			close(c->ufd);
			c->ufd = x->u.fd = -1;
			g->connecting = false;
			connect_next(c);
			return 1;
		}
		free_ai(g);
		{
			int one = 1;
			setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		p = provider_named(px, g->chosen);
		if (p && p->tls) {
			struct werr err = { 0 };

			if (!px->ca || !(x->u.ssl = tlsca_client_ssl(px->ca, p->host, &err))) {
				deny(c, 502, err.msg[0] ? err.msg : "no TLS context for providers",
				    NULL, 0, true);
				return 1;
			}
			SSL_set_options(x->u.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
			SSL_set_fd(x->u.ssl, c->ufd);
			SSL_set_connect_state(x->u.ssl);
			return 1;	/* the handshake runs on the next round */
		}
		g->connecting = false;
		snprintf(g->up_name, sizeof(g->up_name), "%s", g->chosen);
		dispatch(c);
		return 1;
	}
	return 0;
}

uint32_t
infer_upstream_events(const struct conn *c)
{
	const struct l7 *x = c->l7;

	if (x->rq != RQ_GCONNECT || !x->g->connecting)
		return 0;
	if (x->u.ssl)
		return x->u.want ? x->u.want : EPOLLIN;
	return EPOLLOUT;
}

bool
infer_sweep(struct conn *c, uint64_t now)
{
	struct l7 *x = c->l7;

	if (!x->g || x->rq != RQ_GCONNECT || !x->deadline || now < x->deadline)
		return false;
	{
		char why[300];
		snprintf(why, sizeof(why), "provider '%s' did not answer the connection in time",
		    x->g->chosen);
		drop_upstream(c);
		deny(c, 504, why, NULL, 0, true);
	}
	return true;
}

/* ---- the response ------------------------------------------------------------------- */

static void
chunk_out(struct side *to, const char *p, size_t n)
{
	char len[24];

	if (!n)
		return;
	snprintf(len, sizeof(len), "%zx\r\n", n);
	l7_out_add(to, len, strlen(len));
	l7_out_add(to, p, n);
	l7_out_add(to, "\r\n", 2);
}

bool
infer_response_head(struct conn *c, const struct http_response *r, size_t n)
{
	struct l7 *x = c->l7;
	struct infer *g = x->g;
	const struct infer_provider *p = provider_named(c->px, g->chosen);
	const char *head = x->u.in;
	size_t line_end;
	struct sbuf h;

	if (r->status >= 100 && r->status < 200) {
		if (r->status == 101) {
			l7_closing(x);
			return false;
		}
		l7_out_add(&x->c, head, n);
		l7_in_consume(&x->u, n);
		x->resp_started = true;
		return true;
	}
	http_body_init_response(&x->respbody, r);
	sbuf_init(&h, n + 1024);
	if (g->pass == 2 && x->respbody.kind != HTTP_BODY_NONE) {
		/* Restored values change the length: re-framed as chunked, headers kept otherwise. */
		const struct http_header *ct = NULL;
		char *nl = memchr(head, '\n', n);

		line_end = nl ? (size_t)(nl - head) + 1 : n;
		sbuf_add(&h, head, line_end);
		for (size_t i = 0; i < r->nheaders; i++) {
			const struct http_header *hh = &r->headers[i];
			if (l7_hdr_is(hh, "content-type"))
				ct = hh;
			if (l7_hdr_is(hh, "content-length") || l7_hdr_is(hh, "transfer-encoding"))
				continue;
			sbuf_add(&h, hh->name, hh->name_len);
			sbuf_adds(&h, ": ");
			sbuf_add(&h, hh->value, hh->value_len);
			sbuf_adds(&h, "\r\n");
		}
		sbuf_adds(&h, "Transfer-Encoding: chunked\r\n");
		g->chunked_out = true;
		g->restorer = restorer_new(&g->map, g->fmt == INFER_ANTHROPIC ? REDACT_ANTHROPIC :
		    REDACT_OPENAI, ct && memmem(ct->value, ct->value_len, "text/event-stream", 17));
		sbuf_init(&g->payload, 1u << 30);
	} else {
		sbuf_add(&h, head, n - 2);	/* all but the blank line */
	}
	sbuf_adds(&h, "x-warden-provider: ");
	sbuf_adds(&h, p ? p->name : g->chosen);
	sbuf_adds(&h, "\r\nx-warden-tier: ");
	sbuf_adds(&h, tier_name(g->tier));
	sbuf_adds(&h, "\r\n\r\n");
	l7_out_add(&x->c, h.p, h.len);
	sbuf_free(&h);
	l7_in_consume(&x->u, n);
	x->resp_started = true;
	if (r->connection_close)
		x->close_after = true;
	x->rs = x->respbody.done ? RS_DONE : RS_BODY;
	if (x->rs == RS_DONE && g->chunked_out)
		l7_out_add(&x->c, "0\r\n\r\n", 5);
	return true;
}

int
infer_response_body(struct conn *c, bool *done)
{
	struct l7 *x = c->l7;
	struct infer *g = x->g;
	ssize_t used;

	*done = false;
	if (x->u.inlen && l7_out_pending(&x->c) < OUT_HIGH) {
		g->payload.len = 0;
		x->respbody.payload = &g->payload;
		used = http_body_feed(&x->respbody, x->u.in, x->u.inlen);
		x->respbody.payload = NULL;
		if (used < 0)
			return -1;
		l7_in_consume(&x->u, (size_t)used);
		if (g->payload.len) {
			struct sbuf out;

			sbuf_init(&out, 1u << 30);
			if (g->restorer)
				restorer_feed(g->restorer, g->payload.p, g->payload.len, &out);
			else
				sbuf_add(&out, g->payload.p, g->payload.len);
			chunk_out(&x->c, out.p, out.len);
			sbuf_free(&out);
		}
		if (!x->respbody.done && !(x->u.eof && !x->u.inlen &&
		    x->respbody.kind == HTTP_BODY_CLOSE))
			return used > 0;
	} else if (!(x->u.eof && !x->u.inlen && x->respbody.kind == HTTP_BODY_CLOSE)) {
		return 0;
	}
	/* The body is complete: what the restorer held back, then the last chunk. */
	{
		struct sbuf out;

		sbuf_init(&out, 1u << 30);
		if (g->restorer)
			restorer_finish(g->restorer, &out);
		chunk_out(&x->c, out.p, out.len);
		sbuf_free(&out);
	}
	l7_out_add(&x->c, "0\r\n\r\n", 5);
	if (x->respbody.kind == HTTP_BODY_CLOSE)
		x->close_after = true;
	*done = true;
	return 1;
}

bool
infer_active(const struct conn *c)
{
	const struct l7 *x = c->l7;

	return x->g && x->g->chosen[0] && x->rq == RQ_DONE;
}

bool
infer_response_restoring(const struct conn *c)
{
	const struct l7 *x = c->l7;

	return x->g && x->g->chunked_out;
}

void
infer_request_done(struct conn *c)
{
	struct l7 *x = c->l7;

	if (x->g)
		request_reset(x->g);
	x->reqbody.payload = NULL;
	x->respbody.payload = NULL;
}

void
infer_free(struct conn *c)
{
	struct l7 *x = c->l7;

	if (!x || !x->g)
		return;
	request_reset(x->g);
	free(x->g);
	x->g = NULL;
}
