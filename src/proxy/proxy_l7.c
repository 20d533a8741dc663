/*
 * Request inspection: the part of the proxy that reads HTTP requests.
 *
 * A connection comes here once the network decision allowed it and said
 * that its requests must be read (l7_needed(): a protocol: rest endpoint,
 * or an entry a credential is bound to).  For CONNECT and SOCKS the first
 * byte the client sends after the proxy's answer tells whether it speaks
 * TLS (a handshake record starts with 0x16): then the proxy terminates it
 * with a certificate from the sandbox's own authority (tlsca.h) and opens
 * its own verified TLS connection upstream; otherwise it reads plain HTTP.
 * A forward-proxied request (GET http://...) is read plain, once.
 *
 * Then, for every request on the connection, in order:
 *
 *   head read -> Host checked against the CONNECT target (421 otherwise)
 *   -> target normalised (400 on any spelling that could mean two paths)
 *   -> endpoint chosen and rules checked (httprules.h) -> credentials
 *   swapped in or refused (cred.h) -> the decision recorded -> the head
 *   sent upstream -> the body relayed with its framing tracked -> the
 *   response head and body relayed -> the next request.
 *
 * Requests are handled one at a time: a pipelined request waits in the
 * input buffer until the previous exchange is complete, and is then
 * checked like any other, so nothing reaches the upstream unchecked.  A
 * denial answers 403 and closes the connection.  A WebSocket upgrade is a
 * GET like any other; once the upstream answers 101 the bytes are relayed
 * as they are.
 *
 * Buffers are bounded: each side has an input buffer of IN_CAP bytes and
 * stops reading while it is full; bytes are moved to the other side only
 * while less than OUT_HIGH bytes wait there.
 */
#include "proxy_int.h"
#include "proxy_l7_int.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/event.h"
#include "../lib/log.h"
#include "../router/route.h"
#include "cred.h"
#include "httprules.h"
#include "tlsca.h"

/* ---- byte queues ------------------------------------------------------------ */

void
l7_out_add(struct side *s, const void *p, size_t n)
{
	if (s->outoff && s->outoff == s->outlen) {
		if (s->out_secret) {
			OPENSSL_cleanse(s->out, s->outcap);
			s->out_secret = false;
		}
		s->outoff = s->outlen = 0;
	}
	if (s->outlen + n > s->outcap) {
		size_t cap = s->outcap ? s->outcap : 16384;
		char *np;

		while (cap < s->outlen + n)
			cap *= 2;
		np = xmalloc(cap);
		if (s->outlen)
			memcpy(np, s->out, s->outlen);
		if (s->out) {
			/* The old copy may hold a secret: never leave it in freed memory. */
			if (s->out_secret)
				OPENSSL_cleanse(s->out, s->outcap);
			free(s->out);
		}
		s->out = np;
		s->outcap = cap;
	}
	memcpy(s->out + s->outlen, p, n);
	s->outlen += n;
}

size_t
l7_out_pending(const struct side *s)
{
	return s->outlen - s->outoff;
}

void
l7_in_consume(struct side *s, size_t n)
{
	memmove(s->in, s->in + n, s->inlen - n);
	s->inlen -= n;
}

static void
side_free(struct side *s)
{
	if (s->ssl)
		SSL_free(s->ssl);
	s->ssl = NULL;
	free(s->in);
	if (s->out) {
		if (s->out_secret)
			OPENSSL_cleanse(s->out, s->outcap);
		free(s->out);
	}
	s->in = s->out = NULL;
}

/* ---- reading and writing either kind of stream -------------------------- */

/* Map a TLS call's failure: 0 would block (s->want set), -1 error, 1 end of stream. */
static int
ssl_status(struct side *s, int r)
{
	int e = SSL_get_error(s->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		s->want = EPOLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		s->want = EPOLLOUT;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		return 1;
	case SSL_ERROR_SYSCALL:
		if (errno == EAGAIN || errno == EINTR) {
			s->want = EPOLLIN;
			return 0;
		}
		return ERR_peek_error() == 0 && errno == 0 ? 1 : -1;
	default:
		return -1;
	}
}

/* Read what there is room for: 1 progress, 0 nothing now, -1 error. */
int
l7_side_read(struct side *s)
{
	ssize_t n;

	if (s->eof || s->inlen >= IN_CAP)
		return 0;
	if (!s->in)
		s->in = xmalloc(IN_CAP);
	if (s->ssl) {
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_read(s->ssl, s->in + s->inlen, (int)(IN_CAP - s->inlen));
		if (r > 0) {
			s->want = 0;
			s->inlen += (size_t)r;
			return 1;
		}
		switch (ssl_status(s, r)) {
		case 0:
			return 0;
		case 1:
			s->eof = true;
			return 1;
		default:
			ERR_clear_error();
			return -1;
		}
	}
	if (s->drained)
		return 0;
	n = recv(s->fd, s->in + s->inlen, IN_CAP - s->inlen, 0);
	if (n > 0) {
		s->inlen += (size_t)n;
		return 1;
	}
	if (n == 0) {
		s->eof = true;
		return 1;
	}
	if (errno == EAGAIN)
		s->drained = true;
	return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

/* Write what is queued: 1 progress, 0 nothing now, -1 error. */
int
l7_side_flush(struct side *s)
{
	bool moved = false;

	while (l7_out_pending(s)) {
		if (s->ssl) {
			int r;

			ERR_clear_error();
			errno = 0;
			r = SSL_write(s->ssl, s->out + s->outoff, (int)l7_out_pending(s));
			if (r <= 0) {
				int st = ssl_status(s, r);
				ERR_clear_error();
				return st == 0 ? moved : -1;
			}
			s->want = 0;
			s->outoff += (size_t)r;
		} else {
			ssize_t n = send(s->fd, s->out + s->outoff, l7_out_pending(s), MSG_NOSIGNAL);
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? moved : -1;
			s->outoff += (size_t)n;
		}
		moved = true;
	}
	if (s->outlen) {
		if (s->out_secret) {
			OPENSSL_cleanse(s->out, s->outcap);
			s->out_secret = false;
		}
		s->outoff = s->outlen = 0;
	}
	return moved;
}

/* End of stream towards a side: TLS close_notify, or a TCP half-close. */
void
l7_side_shut(struct side *s)
{
	if (s->shut)
		return;
	s->shut = true;
	if (s->ssl && s->hs_done) {
		ERR_clear_error();
		SSL_shutdown(s->ssl);
		ERR_clear_error();
	}
	shutdown(s->fd, SHUT_WR);
}

/* ---- events and answers -------------------------------------------------- */

int
l7_emit(struct conn *c, const char *type, const char *decision, const char *reason,
    const char *method, const char *path, const char *extra)
{
	struct event ev = {
		.type = type, .decision = decision, .verb = method ? method : px_verb_of(c),
		.rule = c->rule[0] ? c->rule : NULL, .reason = reason,
		.binary = c->exe, .binary_sha256 = c->sha256, .pid = c->pid, .ppid = c->ppid,
		.dst = c->dst.host, .port = c->port, .addr = c->addrtxt[0] ? c->addrtxt : NULL,
		.revision = c->px->revision, .policy_hash = c->px->hash,
		.method = method, .path = path, .extra_json = extra,
	};

	if (strcmp(decision, "deny") == 0)
		papi_note_denial(c, type, method, path, reason);
	return event_emit(&ev);
}

/* Write what is queued for the client, then close; a client that does not read gets 2 s. */
void
l7_closing(struct l7 *x)
{
	x->phase = P_CLOSING;
	x->deadline = now_ns() + px_ms_ns(2000);
}

/* A final answer to the client; the connection closes once it is written. */
void
l7_answer(struct conn *c, int status, const char *text, const char *json)
{
	struct l7 *x = c->l7;
	struct sbuf b;

	sbuf_init(&b, 16384);
	px_format_answer(&b, status, text, json);
	l7_out_add(&x->c, b.p, b.len);
	sbuf_free(&b);
	l7_closing(x);
}

void
l7_answer_error(struct conn *c, int status, const char *text, const char *error, const char *reason)
{
	struct sbuf j;

	sbuf_init(&j, 4096);
	px_format_error(&j, error, reason);
	l7_answer(c, status, text, j.p);
	sbuf_free(&j);
}

/* A request refused by policy: recorded, then 403 (or 421) with the JSON every denial has. */
static void
refuse(struct conn *c, int status, const char *error, const char *reason, const char *method,
    const char *path, const char *extra)
{
	struct sbuf j;

	c->px->stats.denied++;
	l7_emit(c, "http.request", "deny", reason, method, path, extra);
	sbuf_init(&j, 8192);
	px_deny_json(c, &j, error, reason);
	sbuf_adds(&j, ",\"method\":");
	sbuf_add_json(&j, method ? method : "");
	sbuf_adds(&j, ",\"path\":");
	sbuf_add_json(&j, path ? path : "");
	sbuf_adds(&j, "}\n");
	l7_answer(c, status, status == 421 ? "Misdirected Request" : "Forbidden", j.p);
	sbuf_free(&j);
}

/* ---- choosing what to inspect ------------------------------------------- */

bool
l7_needed(const struct proxy *px, const struct netdecision *d)
{
	const struct net_policy *np = d->rule;
	bool bound;

	if (!d->allow || !np || !d->ep || d->ep->tls_skip || d->ep->protocol == PROTO_TCP)
		return false;
	if (d->ep->protocol == PROTO_REST)
		return true;
	bound = px->creds && credstore_binds(px->creds, np->key);
	return bound;
}

/*
 * The endpoint that governs one request: among the deciding entry's
 * endpoints that cover the destination, those whose path glob admits the
 * request; one naming the host exactly is preferred.
 */
static const struct endpoint *
request_endpoint(const struct conn *c, const struct net_policy *np, const struct http_target *t)
{
	const struct endpoint *best = NULL;
	bool best_exact = false;

	for (size_t i = 0; i < np->nendpoints; i++) {
		const struct endpoint *ep = &np->endpoints[i];
		bool exact;

		if (!netpolicy_endpoint_matches(ep, &c->dst, &exact) ||
		    !http_endpoint_path_matches(ep, t))
			continue;
		if (!best || (exact && !best_exact)) {
			best = ep;
			best_exact = exact;
		}
	}
	return best;
}

/* Same destination as the connection's target?  A missing port is the scheme's. */
static bool
same_target(const struct conn *c, const char *host, size_t hlen, bool authority, uint16_t dport)
{
	char h[HTTP_MAX_HOST + 1];
	uint16_t port = 0;
	struct dest d;

	if (authority) {
		if (http_parse_authority(host, hlen, h, &port, dport))
			return false;
	} else {
		if (hlen > HTTP_MAX_HOST)
			return false;
		memcpy(h, host, hlen);
		h[hlen] = '\0';
		port = dport;
	}
	if (dest_normalize(h, port, &d))
		return false;
	return strcmp(d.host, c->dst.host) == 0 && d.port == c->dst.port;
}

bool
l7_token_in_list(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);

	for (size_t i = 0; i < n;) {
		size_t j;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		j = i;
		while (j < n && v[j] != ',')
			j++;
		{
			size_t e = j;
			while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
				e--;
			if (e - i == tl && strncasecmp(v + i, tok, tl) == 0)
				return true;
		}
		i = j;
	}
	return false;
}

bool
l7_hdr_is(const struct http_header *h, const char *name)
{
	return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

/*
 * The head sent upstream: the normalised target, the client's end-to-end
 * headers, and the connection's own hop-by-hop ones (kept alive unless
 * the client said close; Upgrade passed on for a protocol switch).
 */
static void
build_head(const struct http_request *r, const struct http_target *t, bool upgrade,
    struct sbuf *out)
{
	const struct http_header *conn_h = http_find_header(r, "connection");

	sbuf_addf(out, "%s %s HTTP/1.1\r\n", r->method, t->wire);
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct http_header *h = &r->headers[i];

		if (l7_hdr_is(h, "connection") || l7_hdr_is(h, "proxy-connection") ||
		    l7_hdr_is(h, "proxy-authorization") || l7_hdr_is(h, "keep-alive") ||
		    l7_hdr_is(h, "te") || l7_hdr_is(h, "trailer"))
			continue;
		if (l7_hdr_is(h, "upgrade") && !upgrade)
			continue;
		/* Whatever Connection names is hop-by-hop too. */
		if (conn_h && !l7_hdr_is(h, "upgrade")) {
			char name[64];
			if (h->name_len < sizeof(name)) {
				memcpy(name, h->name, h->name_len);
				name[h->name_len] = '\0';
				if (l7_token_in_list(conn_h->value, conn_h->value_len, name))
					continue;
			}
		}
		sbuf_add(out, h->name, h->name_len);
		sbuf_adds(out, ": ");
		sbuf_add(out, h->value, h->value_len);
		sbuf_adds(out, "\r\n");
	}
	if (upgrade)
		sbuf_adds(out, "Connection: Upgrade\r\n");
	else if (r->connection_close)
		sbuf_adds(out, "Connection: close\r\n");
	sbuf_adds(out, "\r\n");
}

static void
wipe_sbuf(struct sbuf *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->cap);
	sbuf_free(b);
}

static void
answer_error_bad(struct conn *c)
{
	l7_answer_error(c, 400, "Bad Request", "bad_request", "inference.local takes origin-form "
	    "requests (POST /v1/messages HTTP/1.1)");
}

/* ---- hold-and-ask for one request ---------------------------------------- */

/*
 * The human decided on (or time ran out for) the item a held request
 * waits on.  Whatever the outcome, the request is decided again from its
 * head, still unread in the client buffer: approved, the policy now has
 * its rule (--always) or a grant lets it through (--once, --for); denied
 * or expired, it is refused with resume_why.  Runs from the store's
 * decision (the control socket's handler) or its tick.
 */
static void
on_request_decided(void *arg, const struct appr_item *it)
{
	struct conn *c = arg;
	struct l7 *x = c->l7;
	char why[600];

	c->waiter = NULL;
	if (c->st != C_L7 || !x || x->rq != RQ_HELD)
		return;
	approvals_refusal(it, NULL, why, sizeof(why));
	if (it->status == APPR_APPROVED)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "the policy still does not "
		    "allow it");
	free(x->resume_why);
	x->resume_why = xstrdup(why);
	px_unhold(c);
	x->rq = RQ_HEAD;
	l7_kick(c);
}

/* Does an endpoint of np that covers the destination keep encoded slashes (%2F) as data? */
static bool
encoded_slash_ok(const struct conn *c, const struct net_policy *np)
{
	for (size_t i = 0; i < np->nendpoints; i++)
		if (netpolicy_endpoint_matches(&np->endpoints[i], &c->dst, NULL) &&
		    np->endpoints[i].allow_encoded_slash)
			return true;
	return false;
}

/*
 * A held request after a reload: would the policy running now let it
 * through (a proposal approved, another hold approved --always, `warden
 * policy set`)?  Decided from its head as on_request decides, with no side
 * effect; on_request then decides it for real.
 */
static bool
held_request_allowed(struct conn *c)
{
	struct l7 *x = c->l7;
	struct http_request req;
	struct http_target t = { 0 };
	struct netdecision d;
	struct http_decision hd = { .verdict = HTTP_DENY };
	const struct endpoint *ep;
	const char *why = NULL;
	int status = 0;

	if (http_parse_request(x->c.in, x->c.inlen, &req, &status, &why) <= 0 ||
	    req.form == HTTP_FORM_ASTERISK || req.form == HTTP_FORM_AUTHORITY)
		return false;
	px_decide_on(c, c->px->policy, &d);
	if (!d.allow || !d.rule)
		return false;
	if (http_target_normalize(req.path, req.path_len, encoded_slash_ok(c, d.rule), &t))
		return false;
	ep = request_endpoint(c, d.rule, &t);
	if (ep && ep->protocol == PROTO_REST)
		http_rules_check(ep, req.method, &t, &hd);
	else if (ep)
		hd.verdict = HTTP_ALLOW;
	http_target_free(&t);
	return hd.verdict != HTTP_DENY;
}

bool
l7_hold(struct conn *c, const struct appr_hold *h, const char *why, appr_wait_fn fn)
{
	struct l7 *x = c->l7;
	struct appr_hold hw;
	const struct appr_item *it;

	if (!c->px->approvals || !h->binary || c->held[0])
		return false;
	hw = *h;
	hw.why = why;
	it = approvals_hold(c->px->approvals, &hw);
	if (!it)
		return false;
	snprintf(c->held, sizeof(c->held), "%s", it->id);
	c->held_why = xstrdup(why);
	c->waiter = approvals_wait(c->px->approvals, c->held, fn ? fn : on_request_decided, c);
	if (!c->waiter) {
		px_unhold(c);
		return false;
	}
	x->rq = RQ_HELD;
	x->held_rev = c->px->revision;
	return true;
}

/*
 * One complete request head is in the client buffer: decide it and, when
 * allowed, queue it upstream.  Returns false when the connection is
 * closing (an answer was queued).
 */
static bool
on_request(struct conn *c)
{
	struct l7 *x = c->l7;
	struct proxy *px = c->px;
	struct http_request req;
	struct http_target t = { 0 };
	struct netdecision d;
	struct http_decision hd = { 0 };
	const struct endpoint *ep;
	struct cred_result cr = { 0 };
	struct sbuf head, extra;
	const char *why = NULL, *prob, *decision;
	int status = 0;
	uint16_t dport = x->tls ? 443 : 80;
	ssize_t n = http_parse_request(x->c.in, x->c.inlen, &req, &status, &why);
	bool upgrade, ok = false;
	char reason[600];
	/* Set when this request was held and a human (or the clock) has decided. */
	_cleanup_free_ char *resume = x->resume_why;

	x->resume_why = NULL;

	if (n == 0) {
		if (x->c.inlen >= HTTP_MAX_HEAD) {
			l7_answer_error(c, 431, "Request Header Fields Too Large", "bad_request",
			    "request head too large");
			return false;
		}
		return true;
	}
	if (n < 0) {
		l7_answer_error(c, status ? status : 400, status == 414 ? "URI Too Long" :
		    status == 431 ? "Request Header Fields Too Large" : status == 501 ?
		    "Not Implemented" : status == 505 ? "HTTP Version Not Supported" :
		    "Bad Request", "bad_request", why ? why : "malformed request");
		return false;
	}
	snprintf(x->method, sizeof(x->method), "%s", req.method);
	x->nreq++;
	if (c->kind == K_INFER) {
		/* inference.local: no network decision; the router decides per request. */
		if (req.form == HTTP_FORM_AUTHORITY || req.form == HTTP_FORM_ASTERISK) {
			answer_error_bad(c);
			return false;
		}
		if ((prob = http_target_normalize(req.path, req.path_len, false, &t))) {
			snprintf(reason, sizeof(reason), "request path refused: %s", prob);
			l7_answer_error(c, 400, "Bad Request", "bad_path", reason);
			http_target_free(&t);
			return false;
		}
		/* One listener, two names: the Host header says which. */
		if (papi_is_for(&req))
			ok = papi_request(c, &req, (size_t)n, &t);
		else
			ok = infer_request(c, &req, (size_t)n, &t, NULL);
		http_target_free(&t);
		return ok;
	}
	/* The request must be for the host the connection was allowed to reach. */
	if (req.form == HTTP_FORM_AUTHORITY) {
		l7_answer_error(c, 400, "Bad Request", "bad_request",
		    "CONNECT inside an inspected connection is not allowed");
		return false;
	}
	if (req.form == HTTP_FORM_ABSOLUTE &&
	    !same_target(c, req.host, strlen(req.host), false, req.port)) {
		snprintf(reason, sizeof(reason), "request target host %s:%u is not the connection's "
		    "destination %s:%u", req.host, (unsigned)req.port, c->dst.host, (unsigned)c->port);
		refuse(c, 421, "misdirected_request", reason, req.method, NULL, NULL);
		return false;
	}
	if (req.host_header && !same_target(c, req.host_header->value,
	    req.host_header->value_len, true, dport)) {
		snprintf(reason, sizeof(reason), "Host header '%.*s' is not the connection's "
		    "destination %s:%u (no domain fronting)", (int)(req.host_header->value_len > 200 ?
		    200 : req.host_header->value_len), req.host_header->value, c->dst.host,
		    (unsigned)c->port);
		refuse(c, 421, "misdirected_request", reason, req.method, NULL, NULL);
		return false;
	}
	/* Re-decided per request: a reload applies from the next request on. */
	px_decide_on(c, px->policy, &d);
	if (d.rule)
		snprintf(c->rule, sizeof(c->rule), "%s", d.rule->name ? d.rule->name : d.rule->key);
	ep = NULL;
	if (req.form == HTTP_FORM_ASTERISK)
		prob = http_target_normalize("*", 1, false, &t);
	else
		prob = NULL;
	if (!d.allow) {
		refuse(c, 403, "policy_denied", d.reason, req.method, NULL, NULL);
		return false;
	}
	/* The endpoint's encoded-slash setting is picked before normalising. */
	if (!prob && req.form != HTTP_FORM_ASTERISK)
		prob = http_target_normalize(req.path, req.path_len, encoded_slash_ok(c, d.rule), &t);
	if (prob) {
		char p[120];
		snprintf(p, sizeof(p), "%.*s", (int)(req.path_len > 100 ? 100 : req.path_len),
		    req.path);
		for (char *q = p; *q; q++)
			if (*q == '?')
				*q = '\0';
		snprintf(reason, sizeof(reason), "request path refused: %s", prob);
		c->px->stats.denied++;
		l7_emit(c, "http.request", "deny", reason, req.method, p, NULL);
		l7_answer_error(c, 400, "Bad Request", "bad_path", reason);
		http_target_free(&t);
		return false;
	}
	ep = request_endpoint(c, d.rule, &t);
	if (!ep) {
		snprintf(reason, sizeof(reason), "no endpoint of policy '%s' covers the path %s",
		    c->rule, t.audit);
		refuse(c, 403, "policy_denied", reason, req.method, t.audit, NULL);
		goto out;
	}
	if (ep->protocol == PROTO_REST) {
		http_rules_check(ep, req.method, &t, &hd);
	} else {
		hd.verdict = HTTP_ALLOW;
		snprintf(hd.reason, sizeof(hd.reason), "allowed by policy '%s' (requests not "
		    "checked: the endpoint has no protocol: rest)", c->rule);
	}
	sbuf_init(&extra, 1024);
	if (hd.matched[0]) {
		sbuf_adds(&extra, "\"matched\":");
		sbuf_add_json(&extra, hd.matched);
	}
	/*
	 * Refused by the rules (not by an explicit deny_rules entry, which is
	 * the policy's own final word): an operator's temporary grant for this
	 * very request lets it through; otherwise, with approvals.mode: ask,
	 * it waits for a human.
	 */
	if (hd.verdict == HTTP_DENY && strncmp(hd.matched, "deny_rules", 10) != 0 && c->exe) {
		struct appr_hold h = { .binary = c->exe, .pid = c->pid, .host = c->dst.host,
		    .port = c->dst.port, .method = req.method, .path = t.path, .entry = d.rule->key };
		const struct appr_item *g = px->approvals ?
		    approvals_grant_request(px->approvals, &h, true) : NULL;

		if (g) {
			hd.verdict = HTTP_ALLOW;
			snprintf(hd.matched, sizeof(hd.matched), "approval:%s", g->id);
			snprintf(hd.reason, sizeof(hd.reason), "request %s %s allowed by the "
			    "operator's approval %s (a temporary grant)", req.method, t.audit, g->id);
			if (extra.len)
				sbuf_adds(&extra, ",");
			sbuf_adds(&extra, "\"approval\":");
			sbuf_add_json(&extra, g->id);
		} else if (!resume && l7_hold(c, &h, hd.reason, NULL)) {
			sbuf_free(&extra);
			ok = true;
			goto out;
		}
	}
	if (hd.verdict == HTTP_DENY) {
		if (resume)
			snprintf(reason, sizeof(reason), "%s: %s", resume, hd.reason);
		refuse(c, 403, "policy_denied", resume ? reason : hd.reason, req.method, t.audit,
		    extra.len ? extra.p : NULL);
		sbuf_free(&extra);
		goto out;
	}
	/*
	 * A provider's own host: whatever carries a body is read by the
	 * classifiers and governed like a request to inference.local, with
	 * this provider as the only candidate.
	 */
	{
		const struct infer_provider *ip = infer_provider_at(&px->policy->inference,
		    c->dst.host, c->dst.port);
		if (ip && req.body != HTTP_BODY_NONE) {
			sbuf_free(&extra);
			ok = infer_request(c, &req, (size_t)n, &t, ip);
			goto out;
		}
	}
	/* Allowed (or audited): build what goes upstream, then let credentials in or not. */
	upgrade = http_find_header(&req, "upgrade") != NULL;
	sbuf_init(&head, HTTP_MAX_HEAD + 65536);
	build_head(&req, &t, upgrade, &head);
	if (head.overflow) {
		wipe_sbuf(&head);
		sbuf_free(&extra);
		l7_answer_error(c, 431, "Request Header Fields Too Large", "bad_request",
		    "request head too large");
		goto out;
	}
	if (px->creds && credstore_apply(px->creds, d.rule->key, &head, &cr) < 0) {
		wipe_sbuf(&head);
		snprintf(reason, sizeof(reason), "the placeholder of credential '%s' was sent to "
		    "%s, which policy '%s' does not bind it to", cr.mismatch, c->dst.host, c->rule);
		if (extra.len)
			sbuf_adds(&extra, ",");
		sbuf_adds(&extra, "\"credential\":");
		sbuf_add_json(&extra, cr.mismatch);
		refuse(c, 403, "credential_endpoint_mismatch", reason, req.method, t.audit, extra.p);
		sbuf_free(&extra);
		goto out;
	}
	if (cr.used[0]) {
		if (extra.len)
			sbuf_adds(&extra, ",");
		sbuf_adds(&extra, "\"credentials\":");
		sbuf_add_json(&extra, cr.used);
	}
	decision = hd.verdict == HTTP_AUDIT ? "audit" : "allow";
	/* Recorded before it is acted on: what the trail cannot hold is not sent. */
	if (l7_emit(c, "http.request", decision, hd.reason, req.method, t.audit,
	    extra.len ? extra.p : NULL) < 0) {
		wipe_sbuf(&head);
		sbuf_free(&extra);
		l7_answer_error(c, 403, "Forbidden", "policy_denied", "the audit trail cannot be "
		    "written, so no request is allowed (nothing may go unrecorded)");
		goto out;
	}
	sbuf_free(&extra);
	px->stats.allowed++;
	l7_out_add(&x->u, head.p, head.len);
	if (cr.has_secret)
		x->u.out_secret = true;
	wipe_sbuf(&head);
	l7_in_consume(&x->c, (size_t)n);
	http_body_init(&x->reqbody, &req);
	x->rq = x->reqbody.done ? RQ_DONE : RQ_BODY;
	x->rs = RS_HEAD;
	x->resp_started = false;
	x->upgrade_req = upgrade;
	if (req.connection_close)
		x->close_after = true;
	ok = true;
out:
	http_target_free(&t);
	return ok;
}

/* The upstream's response head is complete (or broken). */
static bool
on_response(struct conn *c)
{
	struct l7 *x = c->l7;
	struct http_response r;
	const char *why = NULL;
	ssize_t n = http_parse_response(x->u.in, x->u.inlen, x->method, &r, &why);

	if (n == 0) {
		if (x->u.inlen >= HTTP_MAX_HEAD)
			why = "response head too large";
		else if (!x->u.eof)
			return true;
		else
			why = "the upstream closed the connection before answering";
	}
	if (n <= 0) {
		char reason[300];
		snprintf(reason, sizeof(reason), "bad response from %s: %s", c->dst.host,
		    why ? why : "malformed");
		l7_emit(c, "http.response", "error", reason, x->method, NULL, NULL);
		if (x->resp_started) {
			l7_closing(x);
		} else {
			l7_answer_error(c, 502, "Bad Gateway", "bad_upstream_response", reason);
		}
		return false;
	}
	if (infer_active(c))
		return infer_response_head(c, &r, (size_t)n);
	l7_out_add(&x->c, x->u.in, (size_t)n);
	l7_in_consume(&x->u, (size_t)n);
	x->resp_started = true;
	if (r.status >= 100 && r.status < 200 && r.status != 101)
		return true;		/* interim: the final answer follows */
	if (r.status == 101) {
		if (!x->upgrade_req) {
			l7_closing(x);
			return false;
		}
		x->phase = P_UPGRADED;
		return true;
	}
	if (r.connection_close)
		x->close_after = true;
	http_body_init_response(&x->respbody, &r);
	x->rs = x->respbody.done ? RS_DONE : RS_BODY;
	return true;
}

/* ---- the engine ------------------------------------------------------------ */

/* Move body bytes from one side to the other under a framing tracker. */
static int
move_body(struct side *from, struct side *to, struct http_body *b, bool *done)
{
	ssize_t used;

	if (!from->inlen || l7_out_pending(to) >= OUT_HIGH)
		return 0;
	used = http_body_feed(b, from->in, from->inlen);
	if (used < 0)
		return -1;
	l7_out_add(to, from->in, (size_t)used);
	l7_in_consume(from, (size_t)used);
	*done = b->done;
	return used > 0;
}

static int
move_raw(struct side *from, struct side *to)
{
	size_t n = from->inlen;

	if (!n || l7_out_pending(to) >= OUT_HIGH)
		return 0;
	l7_out_add(to, from->in, n);
	l7_in_consume(from, n);
	return 1;
}

static void
handshake_failed(struct conn *c, struct side *s, bool client)
{
	struct l7 *x = c->l7;
	char sni[256], reason[600];

	if (client) {
		if (tlsca_sni_refused(s->ssl, sni, sizeof(sni)))
			snprintf(reason, sizeof(reason), "TLS SNI '%s' is not the CONNECT target %s "
			    "(no domain fronting): handshake refused", sni, c->dst.host);
		else
			snprintf(reason, sizeof(reason), "TLS handshake with the client failed: %s",
			    tlsca_handshake_error(s->ssl));
		l7_emit(c, "tls.handshake", "deny", reason, NULL, NULL, NULL);
		px_conn_close(c);
		return;
	}
	snprintf(x->upfail, sizeof(x->upfail), "TLS to %s port %u failed: %s", c->dst.host,
	    (unsigned)c->port, tlsca_handshake_error(s->ssl));
	l7_emit(c, "tls.handshake", "error", x->upfail, NULL, NULL, NULL);
}

int
l7_handshake(struct conn *c, struct side *s, bool client)
{
	int r;

	if (s->hs_done)
		return 0;
	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		s->hs_done = true;
		s->want = 0;
		return 1;
	}
	if (ssl_status(s, r) == 0)
		return 0;
	handshake_failed(c, s, client);
	return -1;
}

/* Work until nothing moves; returns false when the connection was closed. */
static bool
run(struct conn *c)
{
	struct l7 *x = c->l7;
	struct werr err = { 0 };

	for (int i = 0; i < LOOP_MAX; i++) {
		enum phase was = x->phase;
		int p = 0, r;

		switch (x->phase) {
		case P_SNIFF: {
			unsigned char b;
			ssize_t n;

			if (l7_side_flush(&x->c) < 0)
				goto broken;
			n = recv(c->cfd, &b, 1, MSG_PEEK);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				px_conn_close(c);
				return false;
			}
			if (n < 0)
				return true;
			if (b != 0x16) {
				x->phase = P_EXCHANGE;
				p = 1;
				break;
			}
			x->tls = true;
			x->c.ssl = tlsca_server_ssl(c->px->ca, c->dst.host, &err);
			x->u.ssl = x->c.ssl ? tlsca_client_ssl(c->px->ca, c->dst.host, &err) : NULL;
			if (!x->c.ssl || !x->u.ssl) {
				l7_emit(c, "tls.handshake", "error", err.msg, NULL, NULL, NULL);
				px_conn_close(c);
				return false;
			}
			/*
			 * Many servers end a close-delimited body without close_notify;
			 * framing, not the alert, tells a complete message here.
			 */
			SSL_set_options(x->c.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
			SSL_set_options(x->u.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
			SSL_set_fd(x->c.ssl, c->cfd);
			SSL_set_accept_state(x->c.ssl);
			SSL_set_fd(x->u.ssl, c->ufd);
			SSL_set_connect_state(x->u.ssl);
			x->phase = P_HANDSHAKE;
			x->deadline = now_ns() + c->px->header_ns;
			p = 1;
			break;
		}
		case P_HANDSHAKE:
			if ((r = l7_handshake(c, &x->c, true)) < 0)
				return false;
			p |= r;
			if (!x->upfail[0] && (r = l7_handshake(c, &x->u, false)) < 0) {
				/* Answered over the client's TLS once that is up. */
				p = 1;
			} else {
				p |= r;
			}
			if (x->c.hs_done && x->upfail[0]) {
				x->phase = P_EXCHANGE;
				l7_answer_error(c, 502, "Bad Gateway", "upstream_tls_failed", x->upfail);
				p = 1;
				break;
			}
			if (x->c.hs_done && x->u.hs_done) {
				x->phase = P_EXCHANGE;
				x->deadline = 0;
				p = 1;
			}
			break;
		case P_EXCHANGE:
			if ((r = l7_side_flush(&x->c)) < 0)
				goto broken;
			p |= r;
			/* The router's connections have no upstream until a provider is chosen. */
			if (x->u.fd >= 0 && !(x->g && x->rq == RQ_GCONNECT) &&
			    (r = l7_side_flush(&x->u)) < 0)
				goto broken;
			p |= r;
			if ((x->rq == RQ_HEAD || x->rq == RQ_BODY || x->rq == RQ_GBODY) &&
			    (r = l7_side_read(&x->c)) < 0)
				goto broken;
			p |= r;
			/* Between exchanges too: an upstream closing then ends the connection. */
			if (x->u.fd >= 0 && x->rq != RQ_GCONNECT && x->rs != RS_DONE &&
			    (r = l7_side_read(&x->u)) < 0) {
				if (c->kind != K_INFER || x->rs != RS_IDLE)
					goto broken;
				x->u.eof = true;	/* the provider's connection ended: the next request makes another */
				r = 1;
			}
			p |= r;
			if (x->rq == RQ_GBODY || x->rq == RQ_GWAIT || x->rq == RQ_GCONNECT) {
				bool closed;
				r = x->pa ? papi_run(c, &closed) : infer_run(c, &closed);
				if (closed)
					return false;
				p |= r;
				if (x->phase != P_EXCHANGE)
					break;
			}
			if (x->rs == RS_IDLE && x->u.inlen) {
				/* Bytes nobody asked for: the upstream is out of step. */
				goto broken;
			}
			/* The request side. */
			if (x->rq == RQ_HEAD && x->rs == RS_IDLE) {
				if (x->c.inlen) {
					size_t before = x->c.inlen;
					if (!on_request(c))
						break;
					p |= x->c.inlen != before || x->rq != RQ_HEAD;
				} else if (x->c.eof || (x->u.eof && c->kind != K_INFER)) {
					/* Either side finished between requests: done. */
					px_conn_close(c);
					return false;
				}
				if (x->rq == RQ_HEAD && x->c.eof) {
					px_conn_close(c);
					return false;
				}
			}
			if (x->rq == RQ_BODY) {
				bool done = false;
				if ((r = move_body(&x->c, &x->u, &x->reqbody, &done)) < 0) {
					l7_answer_error(c, 400, "Bad Request", "bad_request",
					    "malformed chunked request body");
					break;
				}
				p |= r;
				if (done)
					x->rq = RQ_DONE;
				else if (x->c.eof && !x->c.inlen)
					goto broken;
			}
			/* The response side. */
			if (x->rs == RS_HEAD && x->u.inlen) {
				size_t before = x->u.inlen;
				if (!on_response(c))
					break;
				p |= x->u.inlen != before;
				if (x->phase == P_UPGRADED) {
					p = 1;
					break;
				}
			} else if (x->rs == RS_HEAD && x->u.eof) {
				if (!on_response(c))
					break;
			}
			if (x->rs == RS_BODY && infer_response_restoring(c)) {
				bool done = false;
				if ((r = infer_response_body(c, &done)) < 0)
					goto broken;
				p |= r;
				if (done)
					x->rs = RS_DONE;
			}
			if (x->rs == RS_BODY) {
				bool done = false;
				if ((r = move_body(&x->u, &x->c, &x->respbody, &done)) < 0)
					goto broken;
				p |= r;
				if (done) {
					x->rs = RS_DONE;
				} else if (x->u.eof && !x->u.inlen) {
					/* A body that runs to the end of the connection ends here. */
					if (x->respbody.kind != HTTP_BODY_CLOSE)
						goto broken;
					x->rs = RS_DONE;
					x->close_after = true;
				}
			}
			if (x->rq == RQ_DONE && x->rs == RS_DONE) {
				infer_request_done(c);
				if (x->close_after || x->one_shot) {
					l7_closing(x);
				} else {
					x->rq = RQ_HEAD;
					x->rs = RS_IDLE;
				}
				p = 1;
			}
			break;
		case P_UPGRADED:
			if ((r = l7_side_flush(&x->c)) < 0 || l7_side_flush(&x->u) < 0)
				goto broken;
			p |= r;
			if ((r = l7_side_read(&x->c)) < 0 || l7_side_read(&x->u) < 0)
				goto broken;
			p |= r;
			p |= move_raw(&x->c, &x->u);
			p |= move_raw(&x->u, &x->c);
			if (x->c.eof && !x->c.inlen && !l7_out_pending(&x->u))
				l7_side_shut(&x->u);
			if (x->u.eof && !x->u.inlen && !l7_out_pending(&x->c))
				l7_side_shut(&x->c);
			if (x->c.shut && x->u.shut) {
				px_conn_close(c);
				return false;
			}
			break;
		case P_CLOSING:
			if ((r = l7_side_flush(&x->c)) < 0)
				goto broken;
			if (!l7_out_pending(&x->c)) {
				l7_side_shut(&x->c);
				if (x->u.ssl && x->u.hs_done)
					l7_side_shut(&x->u);
				px_conn_close(c);
				return false;
			}
			return true;
		}
		if (!p && x->phase == was)
			break;
	}
	return true;
broken:
	px_conn_close(c);
	return false;
}

/* ---- interface to proxy.c ------------------------------------------------ */

void
l7_start(struct conn *c)
{
	struct l7 *x = xcalloc(1, sizeof(*x));

	c->l7 = x;
	c->st = C_L7;
	x->c.fd = c->cfd;
	x->u.fd = c->ufd;
	x->rs = RS_IDLE;
	if (c->fwd_raw) {
		/* The request is replayed through inspection; what was prepared is dropped. */
		sbuf_free(&c->to_up.b);
		c->to_up.off = 0;
		x->one_shot = true;
		x->phase = P_EXCHANGE;
		x->c.in = xmalloc(IN_CAP);
		x->c.inlen = c->fwd_rawlen < IN_CAP ? c->fwd_rawlen : IN_CAP;
		memcpy(x->c.in, c->fwd_raw, x->c.inlen);
		free(c->fwd_raw);
		c->fwd_raw = NULL;
	} else {
		/* The CONNECT/SOCKS answer first, then the client's first byte says TLS or not. */
		if (!px_pending_empty(&c->to_client)) {
			l7_out_add(&x->c, c->to_client.b.p + c->to_client.off,
			    c->to_client.b.len - c->to_client.off);
			sbuf_free(&c->to_client.b);
			c->to_client.off = 0;
		}
		l7_side_flush(&x->c);
		x->phase = c->kind == K_INFER ? P_EXCHANGE : P_SNIFF;
		x->deadline = c->kind == K_INFER ? 0 : now_ns() + c->px->header_ns;
	}
	if (run(c))
		l7_update(c);
}

void
l7_kick(struct conn *c)
{
	if (c->st == C_DEAD)
		return;
	if (run(c))
		l7_update(c);
}

static void
on_event(struct conn *c)
{
	c->last_active = now_ns();
	if (run(c))
		l7_update(c);
}

/* Readiness (or a hang-up, or an error, which a read reports) makes a drained side worth reading. */
#define READ_NEWS (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)

void
l7_on_client(struct conn *c, uint32_t events)
{
	if (events & READ_NEWS)
		c->l7->c.drained = false;
	/* A held request's client went away while a human was deciding: nothing goes upstream. */
	if (c->l7->rq == RQ_HELD) {
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			px_conn_close(c);
		return;
	}
	on_event(c);
}

void
l7_on_upstream(struct conn *c, uint32_t events)
{
	if (events & (EPOLLHUP | EPOLLERR))
		c->uhup = true;
	if (events & READ_NEWS)
		c->l7->u.drained = false;
	on_event(c);
}

static uint32_t
side_events(const struct l7 *x, const struct side *s, bool reading)
{
	uint32_t ev = 0;

	if (l7_out_pending(s))
		ev |= EPOLLOUT;
	if (s->want)
		ev |= s->want;
	if (reading && !s->eof && s->inlen < IN_CAP)
		ev |= EPOLLIN;
	return ev;
}

void
l7_update(struct conn *c)
{
	struct l7 *x = c->l7;
	uint32_t ce = 0, ue = 0;

	switch (x->phase) {
	case P_SNIFF:
		ce = EPOLLIN | (l7_out_pending(&x->c) ? EPOLLOUT : 0);
		break;
	case P_HANDSHAKE:
		ce = side_events(x, &x->c, false) | (x->c.hs_done ? 0 : x->c.want ? 0 : EPOLLIN);
		if (!x->upfail[0])
			ue = side_events(x, &x->u, false) |
			    (x->u.hs_done ? 0 : x->u.want ? 0 : EPOLLIN);
		break;
	case P_EXCHANGE:
		if (x->rq == RQ_HELD) {
			/* Nothing is read while held: only a hang-up is news. */
			ce = EPOLLRDHUP | (l7_out_pending(&x->c) ? EPOLLOUT : 0);
			ue = side_events(x, &x->u, false);
			break;
		}
		ce = side_events(x, &x->c, x->rq != RQ_DONE && (x->rq != RQ_HEAD ||
		    x->rs == RS_IDLE) && l7_out_pending(&x->u) < OUT_HIGH);
		/* Between requests the upstream is watched too: its closing ends the connection. */
		if (x->rq == RQ_GCONNECT)
			ue = infer_upstream_events(c);
		else
			ue = side_events(x, &x->u, x->rs != RS_DONE && !x->u.eof &&
			    l7_out_pending(&x->c) < OUT_HIGH);
		break;
	case P_UPGRADED:
		ce = side_events(x, &x->c, l7_out_pending(&x->u) < OUT_HIGH);
		ue = side_events(x, &x->u, l7_out_pending(&x->c) < OUT_HIGH);
		break;
	case P_CLOSING:
		ce = EPOLLOUT;
		break;
	}
	px_watch(c->px, &c->cio, c->cfd, ce, c->chup);
	if (c->ufd >= 0)
		px_watch(c->px, &c->uio, c->ufd, ue, c->uhup);
}

void
l7_sweep(struct conn *c, uint64_t now)
{
	struct l7 *x = c->l7;

	if (infer_sweep(c, now) || papi_sweep(c, now)) {
		l7_kick(c);
		return;
	}
	/*
	 * A reload may allow a held request now.  Checked here, not when the
	 * policy is set: that runs inside the store's own decision, whose
	 * waiters answer first.
	 */
	if (x->rq == RQ_HELD && c->kind != K_INFER && x->held_rev != c->px->revision) {
		x->held_rev = c->px->revision;
		if (held_request_allowed(c)) {
			px_unhold(c);
			x->rq = RQ_HEAD;
			l7_kick(c);
			return;
		}
	}
	if (x->deadline && now >= x->deadline) {
		if (x->phase == P_SNIFF || x->phase == P_HANDSHAKE)
			l7_emit(c, "tls.handshake", "error", "the TLS handshake did not finish in time",
			    NULL, NULL, NULL);
		px_conn_close(c);
		return;
	}
	/* A held request waits as long as approvals.timeout says, not the idle timeout. */
	if (x->rq != RQ_HELD && now - c->last_active >= c->px->idle_ns)
		px_conn_close(c);
}

void
l7_free(struct conn *c)
{
	struct l7 *x = c->l7;

	if (!x)
		return;
	infer_free(c);
	papi_free(c);
	free(x->resume_why);
	side_free(&x->c);
	side_free(&x->u);
	free(x);
	c->l7 = NULL;
}
