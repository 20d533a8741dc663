/*
 * The egress proxy's connection handling (see proxy.h).
 *
 * A connection moves through these states:
 *
 *   HEAD / SOCKS_GREET / SOCKS_REQ   reading what the client wants
 *   RESOLVING                        allowed; the name is being resolved
 *   CONNECTING                       allowed; connect() in progress
 *   TUNNEL                           bytes move both ways
 *   REPLY -> LINGER                  a final answer is written, then the
 *                                    client's remaining input is drained
 *                                    briefly so the answer is not lost to
 *                                    a reset
 *
 * The decision is taken in one place (decide()) with everything known
 * before any name is resolved: who connects (attribution) and where to.
 * Every path out of decide() that is not an explicit allow is a deny.
 *
 * Tunnel bytes move with splice(2) through a pipe per direction.  Pipes
 * come from a small pool and go back as soon as they are empty, so ten
 * thousand idle tunnels hold twenty thousand sockets and no pipes.
 * Buffers are bounded: a request head is at most HTTP_MAX_HEAD bytes, a
 * pipe holds at most one 64 KiB chunk, and a direction stops reading while
 * its pipe is not empty.
 */
#include "proxy_int.h"

#include "../router/guard_client.h"
#include "../router/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/event.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "http_parse.h"
#include "netpolicy.h"
#include "resolve.h"
#include "socks5.h"
#include "cred.h"
#include "tlsca.h"

static void start_connect(struct conn *c);
static void connected(struct conn *c);
static void tunnel(struct conn *c);

/* ---- small helpers ------------------------------------------------------- */

uint64_t
px_ms_ns(unsigned ms)
{
	return (uint64_t)ms * 1000000u;
}

const char *
px_verb_of(const struct conn *c)
{
	return c->kind == K_SOCKS ? "SOCKS" : c->verb[0] ? c->verb : "HTTP";
}

static int
pipe_get(struct proxy *px, struct half *h)
{
	if (px->npool > 0) {
		px->npool--;
		h->pipe[0] = px->pool[px->npool][0];
		h->pipe[1] = px->pool[px->npool][1];
		return 0;
	}
	return pipe2(h->pipe, O_CLOEXEC | O_NONBLOCK);
}

static void
pipe_put(struct proxy *px, struct half *h)
{
	if (h->pipe[0] < 0)
		return;
	if (h->inpipe == 0 && px->npool < PIPE_POOL_MAX) {
		px->pool[px->npool][0] = h->pipe[0];
		px->pool[px->npool][1] = h->pipe[1];
		px->npool++;
	} else {
		close(h->pipe[0]);
		close(h->pipe[1]);
	}
	h->pipe[0] = h->pipe[1] = -1;
	h->inpipe = 0;
}

void
px_pending_add(struct pending *p, const void *data, size_t n)
{
	if (!p->b.p)
		sbuf_init(&p->b, HTTP_MAX_HEAD + 65536);
	sbuf_add(&p->b, data, n);
}

bool
px_pending_empty(const struct pending *p)
{
	return p->off >= p->b.len;
}

/* Write what is pending; 0 when all written or would block, -1 on error. */
int
px_pending_flush(struct pending *p, int fd)
{
	while (!px_pending_empty(p)) {
		ssize_t n = send(fd, p->b.p + p->off, p->b.len - p->off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		p->off += (size_t)n;
	}
	sbuf_free(&p->b);
	p->off = 0;
	return 0;
}

/* ---- events and answers -------------------------------------------------- */

int
px_emit(struct conn *c, const char *type, const char *decision, const char *reason)
{
	struct event ev = {
		.type = type, .decision = decision, .verb = px_verb_of(c),
		.rule = c->rule[0] ? c->rule : NULL, .reason = reason,
		.binary = c->exe, .binary_sha256 = c->sha256, .pid = c->pid, .ppid = c->ppid,
		.dst = c->dst.host[0] ? c->dst.host : c->host[0] ? c->host : NULL,
		.port = c->port, .addr = c->addrtxt[0] ? c->addrtxt : NULL,
		.revision = c->px->revision, .policy_hash = c->px->hash,
	};

	if (strcmp(decision, "deny") == 0)
		papi_note_denial(c, type, NULL, NULL, reason);
	return event_emit(&ev);
}

/* Queue a final answer and switch to REPLY: written, then drained, then closed. */
void
px_reply_and_close(struct conn *c, const void *data, size_t n)
{
	free(c->in);
	c->in = NULL;
	if (c->ufd >= 0) {
		evloop_del(c->px->loop, &c->uio);
		close(c->ufd);
		c->ufd = -1;
	}
	if (c->rq) {
		resolver_cancel(c->rq);
		c->rq = NULL;
	}
	px_pending_add(&c->to_client, data, n);
	c->st = C_REPLY;
	c->deadline = now_ns() + px_ms_ns(LINGER_MS);
	/* Usually the whole answer fits in the socket buffer: no need to wait for EPOLLOUT. */
	if (px_pending_flush(&c->to_client, c->cfd) == 0 && px_pending_empty(&c->to_client)) {
		shutdown(c->cfd, SHUT_WR);
		c->st = C_LINGER;
	}
	px_conn_update(c);
}

void
px_format_answer(struct sbuf *b, int status, const char *text, const char *json)
{
	sbuf_addf(b, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n%s",
	    status, text, strlen(json), json);
}

void
px_format_error(struct sbuf *j, const char *error, const char *reason)
{
	sbuf_adds(j, "{\"error\":");
	sbuf_add_json(j, error);
	sbuf_adds(j, ",\"reason\":");
	sbuf_add_json(j, reason);
	sbuf_adds(j, "}\n");
}

void
px_http_reply(struct conn *c, int status, const char *text, const char *json)
{
	struct sbuf b;

	sbuf_init(&b, 8192);
	px_format_answer(&b, status, text, json);
	px_reply_and_close(c, b.p, b.len);
	sbuf_free(&b);
}

void
px_http_error(struct conn *c, int status, const char *text, const char *error,
    const char *reason)
{
	struct sbuf j;

	sbuf_init(&j, 4096);
	px_format_error(&j, error, reason);
	px_http_reply(c, status, text, j.p);
	sbuf_free(&j);
}

static void
socks_reply_close(struct conn *c, uint8_t code)
{
	uint8_t r[10];
	size_t n = socks5_reply(r, code);

	px_reply_and_close(c, r, n);
}

void
px_deny_json(const struct conn *c, struct sbuf *j, const char *error, const char *reason)
{
	sbuf_adds(j, "{\"error\":");
	sbuf_add_json(j, error);
	sbuf_adds(j, ",\"reason\":");
	sbuf_add_json(j, reason);
	sbuf_adds(j, ",\"rule\":");
	if (c->rule[0])
		sbuf_add_json(j, c->rule);
	else
		sbuf_adds(j, "null");
	sbuf_adds(j, ",\"binary\":");
	if (c->exe)
		sbuf_add_json(j, c->exe);
	else
		sbuf_adds(j, "null");
	sbuf_addf(j, ",\"pid\":%d,\"host\":", (int)c->pid);
	sbuf_add_json(j, c->dst.host[0] ? c->dst.host : c->host);
	sbuf_addf(j, ",\"port\":%u,\"policy_revision\":%llu,\"policy_hash\":\"%s\","
	    "\"hint\":", (unsigned)c->port, (unsigned long long)c->px->revision, c->px->hash);
	if (strcmp(error, "inference_denied") == 0)
		sbuf_add_json(j, "Model requests are read by warden's classifiers outside this "
		    "sandbox and sent only to providers trusted with their sensitivity tier (policy "
		    "section inference). Leave the sensitive data out of the request, or ask the "
		    "operator to change the policy. A sensitivity label can raise the tier, never "
		    "lower it.");
	else
		sbuf_add_json(j, "Network access is decided by warden's policy outside this sandbox "
		    "(network_policies: an endpoint and the connecting binary must match one entry; "
		    "protocol: rest endpoints also check each request's method and path). "
		    "To ask for access, POST a proposal to http://policy.local/v1/proposals (see "
		    "\"propose\" and /etc/warden/AGENTS.md); the operator decides, on the host.");
	sbuf_adds(j, ",\"propose\":");
	papi_propose_json(c, j);
}

/* A policy denial: JSON for HTTP clients, 0x02 for SOCKS, and one event. */
static void
deny_as(struct conn *c, const char *error, const char *reason)
{
	struct sbuf j;

	c->px->stats.denied++;
	px_emit(c, "net.connect", "deny", reason);
	if (c->kind == K_SOCKS) {
		socks_reply_close(c, SOCKS5_NOT_ALLOWED);
		return;
	}
	sbuf_init(&j, 8192);
	px_deny_json(c, &j, error, reason);
	sbuf_adds(&j, "}\n");
	px_http_reply(c, 403, "Forbidden", j.p);
	sbuf_free(&j);
}

void
px_deny(struct conn *c, const char *reason)
{
	deny_as(c, "policy_denied", reason);
}

/* Upstream failure after an allow: 502/504, SOCKS 0x04/0x05/0x06. */
void
px_upstream_fail(struct conn *c, int status, uint8_t socks_code, const char *reason)
{
	px_emit(c, "net.connect", "error", reason);
	if (c->kind == K_SOCKS)
		socks_reply_close(c, socks_code);
	else
		px_http_error(c, status, status == 504 ? "Gateway Timeout" : "Bad Gateway",
		    "upstream_unreachable", reason);
}

/* ---- the decision --------------------------------------------------------- */

static void
take_identity(struct conn *c, struct identity *id)
{
	if (id->exe[0])
		c->exe = xstrdup(id->exe);
	if (id->sha256[0])
		c->sha256 = xstrdup(id->sha256);
	c->pid = id->pid;
	c->ppid = id->ppid;
	c->nanc = id->nancestors;
	if (c->nanc) {
		c->anc = xcalloc(c->nanc, sizeof(*c->anc));
		for (size_t i = 0; i < c->nanc; i++)
			c->anc[i] = steal_pointer(&id->ancestors[i]);
	}
	id->nancestors = 0;
}

void
px_decide_on(const struct conn *c, const struct policy *p, struct netdecision *d)
{
	struct binident b = {
		.exe = c->exe, .ancestors = (const char *const *)c->anc, .nancestors = c->nanc,
	};

	netpolicy_decide(p, &c->dst, &b, d);
}

const struct add_host *
px_pinned(const struct proxy *px, const char *name)
{
	for (size_t i = 0; i < px->nhosts; i++)
		if (strcmp(px->hosts[i].name, name) == 0)
			return &px->hosts[i];
	return NULL;
}

/*
 * An address that needs no resolver: an IP literal, or a name pinned with
 * --add-host.  Returned as a one-entry addrinfo marked as ours (ai_flags
 * -1, freed with free()), or NULL when the host's resolver must answer.
 */
struct addrinfo *
px_literal_ai(const struct proxy *px, const char *host)
{
	const struct add_host *h = px_pinned(px, host);
	struct addrinfo *ai;
	struct sockaddr_storage *ss;
	struct in_addr a4;
	struct in6_addr a6;
	bool v4 = false, v6 = false;

	if (!h && !(v4 = inet_pton(AF_INET, host, &a4) == 1) &&
	    !(v6 = inet_pton(AF_INET6, host, &a6) == 1))
		return NULL;
	ai = xcalloc(1, sizeof(*ai) + sizeof(struct sockaddr_storage));
	ss = (struct sockaddr_storage *)(ai + 1);
	if (h) {
		memcpy(ss, &h->addr, h->addrlen);
		ai->ai_addrlen = h->addrlen;
	} else if (v4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_addr = a4;
		ai->ai_addrlen = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a6;
		ai->ai_addrlen = sizeof(*s6);
	}
	ai->ai_family = ss->ss_family;
	ai->ai_addr = (struct sockaddr *)ss;
	ai->ai_flags = -1;
	return ai;
}

void
px_free_ai(struct addrinfo *ai)
{
	if (ai && ai->ai_flags == -1)
		free(ai);
	else if (ai)
		freeaddrinfo(ai);
}

/* The address to connect to: ai's, with port; its text for records. */
void
px_set_addr(struct conn *c, const struct addrinfo *ai, uint16_t port)
{
	memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
	c->addrlen = ai->ai_addrlen;
	if (ai->ai_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&c->addr;
		s4->sin_port = htons(port);
		inet_ntop(AF_INET, &s4->sin_addr, c->addrtxt, sizeof(c->addrtxt));
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->addr;
		s6->sin6_port = htons(port);
		inet_ntop(AF_INET6, &s6->sin6_addr, c->addrtxt, sizeof(c->addrtxt));
	}
}

/*
 * Who is asking: the connection's owner process and binary (attrib.h).
 * Returns 0, or -1 after denying the connection (fail closed).
 */
static int
identify(struct conn *c)
{
	struct identity id;
	struct werr err = { 0 };
	int r;

	free(c->in);
	c->in = NULL;
	memset(&id, 0, sizeof(id));
	r = attrib_lookup(c->px->attrib, (struct sockaddr *)&c->peer,
	    (struct sockaddr *)&c->local, &id, &err);
	take_identity(c, &id);
	if (r < 0) {
		char why[600];
		snprintf(why, sizeof(why), "%s", err.msg[0] ? err.msg : id.why[0] ? id.why :
		    "connecting process could not be identified");
		identity_free(&id);
		px_deny(c, why);
		return -1;
	}
	identity_free(&id);
	return 0;
}

static void on_resolved(struct resolve_req *rq);
static void proceed(struct conn *c, struct netdecision *d);

/* ---- change under control: temporary grants and holds ---------------------- */

/*
 * The decision for a connection that runs on an operator's temporary
 * grant (--once, --for): allowed for this host and port, without request
 * rules.  It counts as naming the host exactly (so a loopback or private
 * address it resolves to passes) only when the human saw this very name:
 * a held connection's, or a proposal's endpoint host -- not a wildcard.
 */
static void
grant_decision(struct conn *c, struct netdecision *d)
{
	memset(d, 0, sizeof(*d));
	memset(&c->grant_ep, 0, sizeof(c->grant_ep));
	c->grant_port = c->dst.port;
	c->grant_ep.host = c->dst.host;
	c->grant_ep.host_is_ip = c->dst.is_ip;
	c->grant_ep.ports = &c->grant_port;
	c->grant_ep.nports = 1;
	d->allow = true;
	d->ep = &c->grant_ep;
	d->named_exactly = c->grant_exact;
	snprintf(d->reason, sizeof(d->reason), "allowed by the operator's approval %s "
	    "(a temporary grant)", c->grant);
}

/* The policy's decision, or the grant this connection was let through on. */
static void
decide_now(struct conn *c, const struct policy *p, struct netdecision *d)
{
	px_decide_on(c, p, d);
	if (!d->allow && c->grant[0])
		grant_decision(c, d);
}

/* Does an approved --once/--for grant let this denied connection through? */
static bool
take_grant(struct conn *c, struct netdecision *d)
{
	const struct appr_item *it;

	if (!c->px->approvals || !c->exe)
		return false;
	{
		struct binident who = { .exe = c->exe, .ancestors = (const char *const *)c->anc,
			.nancestors = c->nanc };
		it = approvals_grant_for(c->px->approvals, &c->dst, &who, true);
	}
	if (!it)
		return false;
	snprintf(c->grant, sizeof(c->grant), "%s", it->id);
	c->grant_exact = it->kind == APPR_HOLD || (it->host && strcmp(it->host, c->dst.host) == 0);
	snprintf(c->rule, sizeof(c->rule), "approval:%s", it->id);
	grant_decision(c, d);
	return true;
}

void
px_unhold(struct conn *c)
{
	if (c->waiter) {
		approvals_unwait(c->waiter);
		c->waiter = NULL;
	}
	if (c->held[0] && c->px->approvals)
		approvals_release(c->px->approvals, c->held);
	c->held[0] = '\0';
	free(c->held_why);
	c->held_why = NULL;
}

/*
 * The human decided on (or time ran out for) the item a held connection
 * waits on.  Approved: decided again, on the policy as it is now (an
 * --always approval changed it) or on the grant (--once, --for), and then
 * it goes on exactly as an allowed connection does.  Anything else: the
 * denial stands, with the operator's reason.
 */
static void
on_hold_decided(void *arg, const struct appr_item *it)
{
	struct conn *c = arg;
	struct netdecision d;
	char why[600];

	c->waiter = NULL;
	if (c->st != C_HELD)
		return;
	if (it->status == APPR_APPROVED) {
		px_decide_on(c, c->px->policy, &d);
		if (d.allow || take_grant(c, &d)) {
			px_unhold(c);
			if (d.rule)
				snprintf(c->rule, sizeof(c->rule), "%s", d.rule->name ? d.rule->name :
				    d.rule->key);
			else if (!c->grant[0])
				c->rule[0] = '\0';
			proceed(c, &d);
			return;
		}
		approvals_refusal(it, NULL, why, sizeof(why));
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "the policy still does not "
		    "allow it: %s", d.reason);
	} else {
		approvals_refusal(it, c->held_why ? c->held_why : "denied by the policy", why,
		    sizeof(why));
	}
	px_unhold(c);
	px_deny(c, why);
}

/*
 * approvals.mode: ask -- keep a denied connection waiting (nothing read,
 * nothing written, its client watched for hang-up) while a human decides.
 * False when holding is off or the store is full: the denial stands.
 */
static bool
hold(struct conn *c, const char *why)
{
	struct proxy *px = c->px;
	const struct appr_item *it;

	if (!px->approvals || !c->exe)
		return false;
	it = approvals_hold(px->approvals, &(struct appr_hold){ .binary = c->exe, .pid = c->pid,
	    .host = c->dst.host, .port = c->dst.port, .why = why });
	if (!it)
		return false;
	snprintf(c->held, sizeof(c->held), "%s", it->id);
	c->held_why = xstrdup(why);
	c->st = C_HELD;
	c->deadline = 0;
	c->waiter = approvals_wait(px->approvals, c->held, on_hold_decided, c);
	if (!c->waiter) {
		px_unhold(c);
		return false;
	}
	px_conn_update(c);
	return true;
}

/*
 * Called once the client has said where it wants to go (c->host, c->port).
 * Attribution first, then the decision on the name; only an allow goes on
 * to resolve and connect.
 */
static void
decide(struct conn *c)
{
	struct proxy *px = c->px;
	struct netdecision d;
	const char *prob;

	if (identify(c) < 0)
		return;
	if ((prob = dest_normalize(c->host, c->port, &c->dst))) {
		char why[400];
		snprintf(why, sizeof(why), "invalid destination '%s': %s", c->host, prob);
		px_deny(c, why);
		return;
	}
	px_decide_on(c, px->policy, &d);
	if (d.rule)
		snprintf(c->rule, sizeof(c->rule), "%s", d.rule->name ? d.rule->name : d.rule->key);
	if (!d.allow && !take_grant(c, &d)) {
		if (hold(c, d.reason))
			return;
		px_deny(c, d.reason);
		return;
	}
	proceed(c, &d);
}

/* An allowed decision: checks that need the requests, the record, then resolve and connect. */
static void
proceed(struct conn *c, struct netdecision *dp)
{
	struct proxy *px = c->px;
	struct netdecision d = *dp;

	/*
	 * Request rules and bound credentials need the requests read; what
	 * cannot be read is refused, never opened without its rules.
	 */
	c->l7_wanted = l7_needed(px, &d) ||
	    infer_provider_at(&px->policy->inference, c->dst.host, c->dst.port) != NULL;
	if (c->l7_wanted && c->kind != K_FORWARD && !px->ca) {
		px_deny(c, "the endpoint's requests must be inspected (protocol: rest or a bound "
		    "credential), but this sandbox has no TLS authority: it started with a policy "
		    "that allowed no egress");
		return;
	}
	/*
	 * A forward request that is not inspected is still looked at once: a
	 * placeholder in it is going somewhere no credential is bound to.
	 */
	if (!c->l7_wanted && c->kind == K_FORWARD && px->creds && c->fwd_raw) {
		ssize_t i = credstore_find_placeholder(px->creds, c->fwd_raw, c->fwd_rawlen);
		if (i >= 0) {
			char why[400];
			snprintf(why, sizeof(why), "the placeholder of credential '%s' was sent to %s, "
			    "which no policy binds it to", credstore_name(px->creds, (size_t)i),
			    c->dst.host);
			deny_as(c, "credential_endpoint_mismatch", why);
			return;
		}
	}
	if (c->l7_wanted && c->kind != K_FORWARD && !px_pending_empty(&c->to_up)) {
		px_http_error(c, 400, "Bad Request", "bad_request", "this endpoint's requests are "
		    "inspected: send the TLS handshake or request only after the proxy's answer");
		return;
	}
	/*
	 * The allow is recorded before anything is done with it: a decision
	 * the audit trail cannot hold is not acted on.
	 */
	if (px_emit(c, "net.connect", "allow", d.reason) < 0) {
		c->rule[0] = '\0';
		px_deny(c, "the audit trail cannot be written, so no connection is allowed "
		    "(nothing may go unrecorded)");
		return;
	}
	/* Where it resolves: an IP literal, a pinned name, or the host's resolver. */
	c->deadline = now_ns() + px->connect_ns;
	{
		struct addrinfo *ai = px_literal_ai(px, c->dst.host);

		if (ai) {
			c->ai = c->ai_next = ai;
			start_connect(c);
			return;
		}
	}
	c->rq = xcalloc(1, sizeof(*c->rq));
	snprintf(c->rq->host, sizeof(c->rq->host), "%s", c->dst.host);
	c->rq->done = on_resolved;
	c->rq->arg = c;
	c->st = C_RESOLVING;
	resolver_submit(px->res, c->rq);
	px_conn_update(c);
}

static void
free_ai(struct conn *c)
{
	px_free_ai(c->ai);
	c->ai = c->ai_next = NULL;
}

static void
on_resolved(struct resolve_req *rq)
{
	struct conn *c = rq->arg;
	char why[400];

	c->rq = NULL;
	if (rq->gai_err || !rq->res) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s", rq->host,
		    gai_strerror(rq->gai_err));
		resolve_req_free(rq);
		px_upstream_fail(c, 502, SOCKS5_HOST_UNREACHABLE, why);
		return;
	}
	c->ai = c->ai_next = rq->res;
	rq->res = NULL;
	resolve_req_free(rq);
	start_connect(c);
}

/* Try the next acceptable address; every address the policy refuses is skipped. */
static void
start_connect(struct conn *c)
{
	struct proxy *px = c->px;
	struct netdecision d;
	const char *refused = NULL;

	decide_now(c, px->policy, &d);
	if (!d.allow) {
		/* The policy changed while this connection was resolving. */
		free_ai(c);
		px_deny(c, d.reason);
		return;
	}
	for (; c->ai_next; c->ai_next = c->ai_next->ai_next) {
		struct addrinfo *ai = c->ai_next;
		const char *prob;
		int fd;

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if ((prob = netpolicy_check_addr(&d, ai->ai_addr))) {
			refused = prob;
			continue;
		}
		px_set_addr(c, ai, c->port);
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&c->addr, c->addrlen) < 0 &&
		    errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		c->ai_next = ai->ai_next;
		c->ufd = fd;
		c->st = C_CONNECTING;
		if (evloop_add(px->loop, &c->uio, fd, EPOLLOUT, c->uio.cb, c) < 0) {
			px_upstream_fail(c, 502, SOCKS5_GENERAL_FAILURE, "cannot watch the upstream socket");
			return;
		}
		/*
		 * A loopback or LAN handshake has often completed by now: go on
		 * without a trip through the event loop.
		 */
		{
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (poll(&pf, 1, 0) == 1) {
				connected(c);
				return;
			}
		}
		px_conn_update(c);
		return;
	}
	free_ai(c);
	if (refused) {
		char why[512];
		snprintf(why, sizeof(why), "%s: %s", c->dst.host, refused);
		px_deny(c, why);
	} else {
		char why[512];
		snprintf(why, sizeof(why), "cannot connect to %s port %u", c->dst.host,
		    (unsigned)c->port);
		px_upstream_fail(c, 502, SOCKS5_CONN_REFUSED, why);
	}
}

static void
connected(struct conn *c)
{
	int e = 0;
	socklen_t l = sizeof(e);

	if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		e = errno;
	if (e) {
		evloop_del(c->px->loop, &c->uio);
		close(c->ufd);
		c->ufd = -1;
		if (c->ai_next) {
			start_connect(c);
			return;
		}
		free_ai(c);
		{
			char why[512];
			snprintf(why, sizeof(why), "connect to %s port %u: %s", c->addrtxt,
			    (unsigned)c->port, strerror(e));
			px_upstream_fail(c, 502, e == ECONNREFUSED ? SOCKS5_CONN_REFUSED :
			    SOCKS5_HOST_UNREACHABLE, why);
		}
		return;
	}
	free_ai(c);
	c->px->stats.allowed++;
	if (c->kind == K_CONNECT) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		px_pending_add(&c->to_client, ok, sizeof(ok) - 1);
	} else if (c->kind == K_SOCKS) {
		uint8_t r[10];
		px_pending_add(&c->to_client, r, socks5_reply(r, SOCKS5_OK));
	}
	{
		int one = 1;
		setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->deadline = 0;
	c->last_active = now_ns();
	if (c->l7_wanted) {
		l7_start(c);
		return;
	}
	c->st = C_TUNNEL;
	/* Answer (and send what is already pending) now rather than on the next event. */
	tunnel(c);
}

/* ---- the privacy router's doorway ---------------------------------------- */

/*
 * A connection to http://inference.local: on the router's own port, or a
 * forward request through the proxy.  No network decision (the router
 * decides per request, and only ever connects to the policy's providers),
 * but the requester is identified like any other: its binary goes with
 * every classification and every record.
 */
static void
infer_begin(struct conn *c)
{
	c->kind = K_INFER;
	snprintf(c->host, sizeof(c->host), "%s", INFER_HOST);
	c->port = 80;
	dest_normalize(c->host, c->port, &c->dst);
	if (identify(c) < 0)
		return;
	c->deadline = 0;
	c->last_active = now_ns();
	l7_start(c);
}

/* ---- reading what the client wants ------------------------------------- */

static void
on_http_head(struct conn *c)
{
	struct http_request req;
	const char *why = NULL;
	int status = 0;
	ssize_t n = http_parse_request(c->in, c->inlen, &req, &status, &why);

	if (n == 0)
		return;
	if (n < 0) {
		px_http_error(c, status ? status : 400, status == 414 ? "URI Too Long" :
		    status == 431 ? "Request Header Fields Too Large" :
		    status == 501 ? "Not Implemented" : status == 505 ?
		    "HTTP Version Not Supported" : "Bad Request", "bad_request",
		    why ? why : "malformed request");
		return;
	}
	snprintf(c->verb, sizeof(c->verb), "%s", req.method);
	snprintf(c->host, sizeof(c->host), "%s", req.host);
	c->port = req.port;
	if (req.form == HTTP_FORM_AUTHORITY) {
		c->kind = K_CONNECT;
		/* Bytes the client sent after the head (an early TLS hello) go upstream. */
		if ((size_t)n < c->inlen)
			px_pending_add(&c->to_up, c->in + n, c->inlen - (size_t)n);
		decide(c);
		return;
	}
	if (req.form == HTTP_FORM_ABSOLUTE && strcmp(req.scheme, "https") == 0) {
		px_http_error(c, 400, "Bad Request", "bad_request",
		    "https:// URIs are not forwarded: use CONNECT host:443 and speak TLS "
		    "through the tunnel");
		return;
	}
	if (req.form != HTTP_FORM_ABSOLUTE) {
		px_http_error(c, 400, "Bad Request", "bad_request",
		    "this is a forward proxy: send absolute-form requests "
		    "(GET http://host/path HTTP/1.1) or CONNECT host:port");
		return;
	}
	c->kind = K_FORWARD;
	c->fwd_raw = xmalloc(c->inlen);
	memcpy(c->fwd_raw, c->in, c->inlen);
	c->fwd_rawlen = c->inlen;
	if ((strcasecmp(req.host, INFER_HOST) == 0 || strcasecmp(req.host, POLICY_HOST) == 0) &&
	    req.port == 80) {
		/*
		 * The router or the policy API, reached through the proxy
		 * variables: the same as on port 80.
		 */
		infer_begin(c);
		return;
	}
	/* The Host header must name the same destination as the request target. */
	if (req.host_header) {
		char hh[HTTP_MAX_HOST + 1];
		uint16_t hp = 0;
		struct dest a, b;
		const char *prob = http_parse_authority(req.host_header->value,
		    req.host_header->value_len, hh, &hp, 80);

		if (prob || dest_normalize(hh, hp, &a) || dest_normalize(req.host, req.port, &b) ||
		    strcmp(a.host, b.host) != 0 || a.port != b.port) {
			char reason[600];
			snprintf(reason, sizeof(reason), "Host header '%.*s' does not match the "
			    "request target %s:%u", (int)(req.host_header->value_len > 255 ? 255 :
			    req.host_header->value_len), req.host_header->value, req.host,
			    (unsigned)req.port);
			snprintf(c->host, sizeof(c->host), "%s", req.host);
			px_deny(c, reason);
			return;
		}
	}
	px_pending_add(&c->to_up, "", 0);
	http_build_upstream_head(&req, &c->to_up.b);
	http_body_init(&c->body, &req);
	c->body_done = c->body.done;
	if ((size_t)n < c->inlen && !c->body_done) {
		ssize_t used = http_body_feed(&c->body, c->in + n, c->inlen - (size_t)n);
		if (used < 0) {
			px_http_error(c, 400, "Bad Request", "bad_request", "malformed chunked body");
			return;
		}
		px_pending_add(&c->to_up, c->in + n, (size_t)used);
		c->body_done = c->body.done;
	}
	/* Anything after the body is a pipelined request: one request per connection. */
	decide(c);
}

static void
on_socks(struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->st == C_SOCKS_GREET) {
			bool no_auth = false;
			static const uint8_t ok[2] = { 5, 0 }, none[2] = { 5, 0xff };

			n = socks5_parse_greeting((uint8_t *)c->in, c->inlen, &no_auth);
			if (n == 0)
				return;
			if (n < 0) {
				px_reply_and_close(c, none, 2);
				return;
			}
			if (!no_auth) {
				px_reply_and_close(c, none, 2);
				return;
			}
			px_pending_add(&c->to_client, ok, 2);
			memmove(c->in, c->in + n, c->inlen - (size_t)n);
			c->inlen -= (size_t)n;
			c->st = C_SOCKS_REQ;
			continue;
		}
		{
			struct socks5_request r;
			uint8_t code = SOCKS5_GENERAL_FAILURE;

			n = socks5_parse_request((uint8_t *)c->in, c->inlen, &r, &code);
			if (n == 0)
				return;
			if (n < 0) {
				socks_reply_close(c, code);
				return;
			}
			snprintf(c->host, sizeof(c->host), "%s", r.host);
			c->port = r.port;
			if ((size_t)n < c->inlen)
				px_pending_add(&c->to_up, c->in + n, c->inlen - (size_t)n);
			decide(c);
			return;
		}
	}
}

static void
read_head(struct conn *c)
{
	ssize_t n;

	if (!c->in)
		c->in = xmalloc(HTTP_MAX_HEAD);
	if (c->inlen >= HTTP_MAX_HEAD) {
		if (c->kind == K_SOCKS)
			socks_reply_close(c, SOCKS5_GENERAL_FAILURE);
		else
			px_http_error(c, 431, "Request Header Fields Too Large", "bad_request",
			    "request head too large");
		return;
	}
	n = recv(c->cfd, c->in + c->inlen, HTTP_MAX_HEAD - c->inlen, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		px_conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->inlen += (size_t)n;
	if (c->kind == K_SOCKS)
		on_socks(c);
	else
		on_http_head(c);
}

/* ---- moving bytes ---------------------------------------------------------- */

/* splice from -> pipe -> to; 0 when done for now, -1 on a connection error. */
static int
pump(struct proxy *px, struct half *h, int from, int to)
{
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		ssize_t n;

		if (h->inpipe) {
			n = splice(h->pipe[0], NULL, to, NULL, h->inpipe,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -1;
			h->inpipe -= (size_t)n;
			h->bytes += (uint64_t)n;
			if (h->inpipe)
				return 0;
		}
		if (h->eof) {
			pipe_put(px, h);
			if (!h->shut) {
				shutdown(to, SHUT_WR);
				h->shut = true;
			}
			return 0;
		}
		if (h->pipe[0] < 0 && pipe_get(px, h) < 0)
			return -1;
		n = splice(from, NULL, h->pipe[1], NULL, PUMP_CHUNK,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0) {
			h->eof = true;
			continue;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				pipe_put(px, h);
				return 0;
			}
			return -1;
		}
		h->inpipe += (size_t)n;
	}
	/*
	 * End of file seen in the last round: pass it on now if nothing is
	 * left to write, or this direction would wait for an event that never
	 * comes (neither side is watched for it any more).
	 */
	if (h->eof && h->inpipe == 0) {
		pipe_put(px, h);
		if (!h->shut) {
			shutdown(to, SHUT_WR);
			h->shut = true;
		}
	}
	return 0;
}

/* Client to upstream for a forward request: only the request's own body. */
static int
pump_body(struct conn *c)
{
	char buf[16384];

	for (int round = 0; round < PUMP_ROUNDS; round++) {
		ssize_t n, used;

		if (px_pending_flush(&c->to_up, c->ufd) < 0)
			return -1;
		if (!px_pending_empty(&c->to_up) || c->body_done || c->c2u.eof)
			return 0;
		n = recv(c->cfd, buf, sizeof(buf), 0);
		if (n == 0) {
			c->c2u.eof = true;
			return 0;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		used = http_body_feed(&c->body, buf, (size_t)n);
		if (used < 0)
			return -1;
		px_pending_add(&c->to_up, buf, (size_t)used);
		c->body_done = c->body.done;
	}
	return 0;
}

static void
tunnel(struct conn *c)
{
	struct proxy *px = c->px;

	c->last_active = now_ns();
	if (px_pending_flush(&c->to_client, c->cfd) < 0)
		goto fail;
	if (c->kind == K_FORWARD) {
		if (pump_body(c) < 0)
			goto fail;
	} else if (px_pending_flush(&c->to_up, c->ufd) < 0) {
		goto fail;
	} else if (px_pending_empty(&c->to_up) && pump(px, &c->c2u, c->cfd, c->ufd) < 0) {
		goto fail;
	}
	if (px_pending_empty(&c->to_client) && pump(px, &c->u2c, c->ufd, c->cfd) < 0)
		goto fail;
	/* Done: both directions finished, or the upstream finished a forward request. */
	if (c->u2c.shut && (c->c2u.shut || c->kind == K_FORWARD ||
	    (c->c2u.eof && px_pending_empty(&c->to_up)))) {
		px_conn_close(c);
		return;
	}
	px_conn_update(c);
	return;
fail:
	px_conn_close(c);
}

/* ---- event plumbing --------------------------------------------------------- */

/*
 * epoll reports a hang-up whatever was asked for, so a side that hung up
 * while we wait on the other one is taken off the loop until there is
 * something to do with it again; otherwise the loop would spin.
 */
void
px_watch(struct proxy *px, struct ev_io *io, int fd, uint32_t events, bool hup)
{
	if (hup && events == 0) {
		evloop_del(px->loop, io);
		return;
	}
	if (!io->added) {
		evloop_add(px->loop, io, fd, events, io->cb, io->arg);
		return;
	}
	evloop_mod(px->loop, io, events);
}

/* Compute what each side is waited for from the state alone. */
void
px_conn_update(struct conn *c)
{
	struct proxy *px = c->px;
	uint32_t ce = 0, ue = 0;

	switch (c->st) {
	case C_HEAD:
	case C_SOCKS_GREET:
	case C_SOCKS_REQ:
		ce = EPOLLIN;
		if (!px_pending_empty(&c->to_client))
			ce |= EPOLLOUT;
		break;
	case C_RESOLVING:
		break;
	case C_CONNECTING:
		ue = EPOLLOUT;
		break;
	case C_L7:
		l7_update(c);
		return;
	case C_TUNNEL: {
		bool fwd = c->kind == K_FORWARD;
		if (!px_pending_empty(&c->to_client) || c->u2c.inpipe)
			ce |= EPOLLOUT;
		else if (!c->u2c.eof)
			ue |= EPOLLIN;
		if (!px_pending_empty(&c->to_up) || c->c2u.inpipe)
			ue |= EPOLLOUT;
		else if (!c->c2u.eof && !(fwd && c->body_done))
			ce |= EPOLLIN;
		break;
	}
	case C_REPLY:
		ce = EPOLLOUT;
		break;
	case C_LINGER:
		ce = EPOLLIN;
		break;
	case C_HELD:
		/* Nothing is read while held: only a hang-up is news. */
		ce = EPOLLRDHUP;
		break;
	case C_DEAD:
		return;
	}
	px_watch(px, &c->cio, c->cfd, ce, c->chup);
	if (c->ufd >= 0)
		px_watch(px, &c->uio, c->ufd, ue, c->uhup);
}

static void
on_client(struct ev_io *io, uint32_t events)
{
	struct conn *c = io->arg;

	if (events & (EPOLLHUP | EPOLLERR)) {
		c->chup = true;
		/* Nobody left to answer: a client gone before its tunnel exists. */
		if (c->st == C_RESOLVING || c->st == C_CONNECTING) {
			px_conn_close(c);
			return;
		}
	}
	switch (c->st) {
	case C_HEAD:
	case C_SOCKS_GREET:
	case C_SOCKS_REQ:
		if ((events & EPOLLOUT) && px_pending_flush(&c->to_client, c->cfd) < 0) {
			px_conn_close(c);
			return;
		}
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			read_head(c);
		if (c->st == C_HEAD || c->st == C_SOCKS_GREET || c->st == C_SOCKS_REQ)
			px_conn_update(c);
		break;
	case C_TUNNEL:
		tunnel(c);
		break;
	case C_L7:
		l7_on_client(c, events);
		break;
	case C_REPLY:
		if (px_pending_flush(&c->to_client, c->cfd) < 0) {
			px_conn_close(c);
			return;
		}
		if (px_pending_empty(&c->to_client)) {
			shutdown(c->cfd, SHUT_WR);
			c->st = C_LINGER;
		}
		px_conn_update(c);
		break;
	case C_LINGER: {
		char buf[4096];
		ssize_t n = recv(c->cfd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			px_conn_close(c);
		break;
	}
	case C_HELD:
		/* The client went away while a human was deciding: nothing reaches the upstream. */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			px_conn_close(c);
		break;
	default:
		break;
	}
}

static void
on_upstream(struct ev_io *io, uint32_t events)
{
	struct conn *c = io->arg;

	if (c->st == C_TUNNEL && (events & (EPOLLHUP | EPOLLERR)))
		c->uhup = true;
	if (c->st == C_CONNECTING)
		connected(c);
	else if (c->st == C_TUNNEL)
		tunnel(c);
	else if (c->st == C_L7)
		l7_on_upstream(c, events);
}

void
px_conn_close(struct conn *c)
{
	struct proxy *px = c->px;

	if (c->st == C_DEAD)
		return;
	c->st = C_DEAD;
	px_unhold(c);
	l7_free(c);
	evloop_del(px->loop, &c->cio);
	close(c->cfd);
	if (c->ufd >= 0) {
		evloop_del(px->loop, &c->uio);
		close(c->ufd);
	}
	if (c->rq)
		resolver_cancel(c->rq);
	pipe_put(px, &c->c2u);
	pipe_put(px, &c->u2c);
	/* Off the live list, onto the dead one: freed after this batch. */
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = px->dead;
	px->dead = c;
	px->nconns--;
}

static void
conn_free(struct conn *c)
{
	free(c->in);
	free(c->fwd_raw);
	sbuf_free(&c->to_client.b);
	sbuf_free(&c->to_up.b);
	free_ai(c);
	free(c->exe);
	free(c->sha256);
	for (size_t i = 0; i < c->nanc; i++)
		free(c->anc[i]);
	free(c->anc);
	free(c);
}

static void
reap(struct proxy *px)
{

	while (px->dead) {
		struct conn *c = px->dead;
		px->dead = c->next;
		conn_free(c);
	}
}

static void
accept_on(struct proxy *px, int lfd, enum ckind kind)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct conn *c;
		socklen_t l;
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("proxy: accept");
			return;
		}
		px->stats.accepted++;
		if (px->nconns >= px->max_conns) {
			/* Refuse plainly: a full proxy must not become a slow one. */
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
			    "Content-Length: 0\r\nConnection: close\r\n\r\n";
			static const uint8_t sbusy[] = { 5, 0xff };
			ssize_t r = kind == K_SOCKS ? send(fd, sbusy, 2, MSG_NOSIGNAL) :
			    send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
			(void)r;
			close(fd);
			continue;
		}
		/*
		 * Small writes (a reply, a response after TLS session tickets)
		 * must not wait for the client's delayed ACK: ~40 ms otherwise.
		 */
		{
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		c = xcalloc(1, sizeof(*c));
		c->px = px;
		c->cfd = fd;
		c->ufd = -1;
		c->kind = kind;
		c->st = kind == K_SOCKS ? C_SOCKS_GREET : C_HEAD;
		c->c2u.pipe[0] = c->c2u.pipe[1] = c->u2c.pipe[0] = c->u2c.pipe[1] = -1;
		c->deadline = now_ns() + px->header_ns;
		l = sizeof(c->peer);
		getpeername(fd, (struct sockaddr *)&c->peer, &l);
		l = sizeof(c->local);
		getsockname(fd, (struct sockaddr *)&c->local, &l);
		c->uio.cb = on_upstream;
		if (evloop_add(px->loop, &c->cio, fd, EPOLLIN, on_client, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = px->conns;
		if (px->conns)
			px->conns->prev = c;
		px->conns = c;
		px->nconns++;
		if (kind == K_INFER)
			infer_begin(c);
	}
}

static void
on_http_listen(struct ev_io *io, uint32_t events)
{
	accept_on(io->arg, io->fd, K_HTTP);
}

static void
on_socks_listen(struct ev_io *io, uint32_t events)
{
	accept_on(io->arg, io->fd, K_SOCKS);
}

static void
on_infer_listen(struct ev_io *io, uint32_t events)
{
	accept_on(io->arg, io->fd, K_INFER);
}

/* Once a second: header, connect and idle timeouts. */
static void
sweep(struct proxy *px)
{
	uint64_t now = now_ns();

	for (struct conn *c = px->conns, *next; c; c = next) {
		next = c->next;
		switch (c->st) {
		case C_HEAD:
		case C_SOCKS_GREET:
		case C_SOCKS_REQ:
			if (now < c->deadline)
				break;
			if (c->kind == K_SOCKS)
				px_conn_close(c);
			else
				px_http_error(c, 408, "Request Timeout", "timeout",
				    "the request head did not arrive in time");
			break;
		case C_RESOLVING:
		case C_CONNECTING:
			if (now >= c->deadline)
				px_upstream_fail(c, 504, SOCKS5_TTL_EXPIRED,
				    "resolving or connecting took too long");
			break;
		case C_TUNNEL:
			if (now - c->last_active >= px->idle_ns)
				px_conn_close(c);
			break;
		case C_L7:
			l7_sweep(c, now);
			break;
		case C_HELD: {
			/*
			 * A reload (another proposal approved) may allow it now.
			 * Checked here, not from proxy_set_policy: that runs inside
			 * the store's own decision, whose waiters answer first.
			 */
			struct netdecision d;

			px_decide_on(c, px->policy, &d);
			if (d.allow) {
				px_unhold(c);
				snprintf(c->rule, sizeof(c->rule), "%s", d.rule->name ? d.rule->name :
				    d.rule->key);
				proceed(c, &d);
			}
			break;
		}
		case C_REPLY:
		case C_LINGER:
			if (now >= c->deadline)
				px_conn_close(c);
			break;
		default:
			break;
		}
	}
}

/* ---- public interface ------------------------------------------------------ */

const char *
add_host_parse(const char *arg, struct add_host *out)
{
	const char *colon = strchr(arg, ':');
	char name[256], ip[INET6_ADDRSTRLEN + 2];
	struct dest d;
	const char *prob;
	size_t iplen;

	memset(out, 0, sizeof(*out));
	if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof(name))
		return "expected NAME:IP";
	snprintf(name, sizeof(name), "%.*s", (int)(colon - arg), arg);
	iplen = strlen(colon + 1);
	if (iplen == 0 || iplen >= sizeof(ip))
		return "expected NAME:IP";
	snprintf(ip, sizeof(ip), "%s", colon + 1);
	if (ip[0] == '[' && ip[iplen - 1] == ']') {
		memmove(ip, ip + 1, iplen - 2);
		ip[iplen - 2] = '\0';
	}
	if ((prob = dest_normalize(name, 1, &d)))
		return prob;
	if (d.is_ip)
		return "NAME must be a host name, not an IP address";
	snprintf(out->name, sizeof(out->name), "%s", d.host);
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->addr;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->addr;
		if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			out->addrlen = sizeof(*s4);
		} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			out->addrlen = sizeof(*s6);
		} else {
			return "IP must be an IPv4 or IPv6 address";
		}
	}
	return NULL;
}

void
proxy_tick(struct proxy *px)
{
	sweep(px);
}

void
proxy_reap(struct proxy *px)
{
	reap(px);
}

struct proxy *
proxy_new(struct evloop *l, const struct proxy_config *cfg, const struct policy *p,
    uint64_t revision, const char hash[65], struct werr *err)
{
	struct proxy *px = xcalloc(1, sizeof(*px));

	px->loop = l;
	px->http_fd = cfg->http_fd;
	px->socks_fd = cfg->socks_fd;
	px->attrib = cfg->attrib;
	px->ca = cfg->ca;
	px->creds = cfg->creds;
	px->approvals = cfg->approvals;
	px->infer_fd = cfg->infer_fd;
	px->guards = cfg->guards;
	px->sandbox = xstrdup(cfg->sandbox ? cfg->sandbox : "");
	px->policy = p;
	px->revision = revision;
	snprintf(px->hash, sizeof(px->hash), "%s", hash);
	px->max_conns = cfg->max_conns ? cfg->max_conns : DEFAULT_MAX_CONNS;
	px->header_ns = px_ms_ns(cfg->header_timeout_ms ? cfg->header_timeout_ms :
	    DEFAULT_HEADER_TIMEOUT_MS);
	px->connect_ns = px_ms_ns(cfg->connect_timeout_ms ? cfg->connect_timeout_ms :
	    DEFAULT_CONNECT_TIMEOUT_MS);
	px->idle_ns = px_ms_ns(cfg->idle_timeout_ms ? cfg->idle_timeout_ms :
	    DEFAULT_IDLE_TIMEOUT_MS);
	if (cfg->nhosts) {
		px->hosts = xcalloc(cfg->nhosts, sizeof(*px->hosts));
		memcpy(px->hosts, cfg->hosts, cfg->nhosts * sizeof(*px->hosts));
		px->nhosts = cfg->nhosts;
	}
	px->res = resolver_new(l, 4, err);
	if (!px->res)
		goto fail;
	if (evloop_add(l, &px->http_io, px->http_fd, EPOLLIN, on_http_listen, px) < 0 ||
	    evloop_add(l, &px->socks_io, px->socks_fd, EPOLLIN, on_socks_listen, px) < 0) {
		werr_sys(err, "proxy: watch listeners");
		goto fail;
	}
	if (px->infer_fd >= 0 &&
	    evloop_add(l, &px->infer_io, px->infer_fd, EPOLLIN, on_infer_listen, px) < 0) {
		werr_sys(err, "proxy: watch the router's listener");
		goto fail;
	}
	return px;
fail:
	proxy_free(px);
	return NULL;
}

void
proxy_set_policy(struct proxy *px, const struct policy *p, uint64_t revision,
    const char hash[65])
{
	px->policy = p;
	px->revision = revision;
	snprintf(px->hash, sizeof(px->hash), "%s", hash);
	for (struct conn *c = px->conns, *next; c; c = next) {
		struct netdecision d;
		const char *prob = NULL;

		next = c->next;
		if (c->st != C_TUNNEL && c->st != C_CONNECTING && c->st != C_L7)
			continue;
		/* The router's connections reach only providers: it decides per request. */
		if (c->kind == K_INFER)
			continue;
		decide_now(c, p, &d);
		if (d.allow && c->addrlen)
			prob = netpolicy_check_addr(&d, (struct sockaddr *)&c->addr);
		if (d.allow && !prob) {
			if (d.rule)
				snprintf(c->rule, sizeof(c->rule), "%s", d.rule->name ? d.rule->name :
				    d.rule->key);
			continue;
		}
		{
			char why[600];
			snprintf(why, sizeof(why), "policy revision %llu no longer allows this "
			    "connection: %s", (unsigned long long)revision, d.allow ? prob : d.reason);
			px->stats.closed_by_reload++;
			px_emit(c, "net.close", "deny", why);
		}
		px_conn_close(c);
	}
	reap(px);
}

void
proxy_get_stats(const struct proxy *px, struct proxy_stats *st)
{
	*st = px->stats;
	st->active = px->nconns;
}

void
proxy_free(struct proxy *px)
{
	if (!px)
		return;
	while (px->conns)
		px_conn_close(px->conns);
	reap(px);
	if (px->http_io.added)
		evloop_del(px->loop, &px->http_io);
	if (px->socks_io.added)
		evloop_del(px->loop, &px->socks_io);
	if (px->http_fd >= 0)
		close(px->http_fd);
	if (px->socks_fd >= 0)
		close(px->socks_fd);
	if (px->infer_io.added)
		evloop_del(px->loop, &px->infer_io);
	if (px->infer_fd >= 0)
		close(px->infer_fd);
	guard_pool_free(px->guards);
	free(px->sandbox);
	resolver_free(px->res);
	attrib_free(px->attrib);
	tlsca_free(px->ca);
	credstore_free(px->creds);
	for (size_t i = 0; i < px->npool; i++) {
		close(px->pool[i][0]);
		close(px->pool[i][1]);
	}
	free(px->hosts);
	papi_free_denials(px);
	free(px);
}
