/*
 * The egress proxy.  It lives in the supervisor, outside every namespace
 * of the sandbox, and accepts on listening sockets that were created
 * inside the sandbox's network namespace -- the agent's only way out:
 *
 *   127.0.0.1:3128  HTTP/1.1 forward proxy (absolute-form requests) and CONNECT
 *   127.0.0.1:1080  SOCKS5 CONNECT, host names resolved here, never inside
 *
 * For every connection it names the connecting binary (attrib.h), decides
 * on the requested name before resolving anything (netpolicy.h), resolves
 * on the host, refuses addresses the policy did not name, connects, and
 * then moves bytes with splice(2).  Denials get an answer the agent can
 * reason about (HTTP 403 with JSON, SOCKS reply 0x02) and an event.
 *
 * Everything runs on the supervisor's event loop; one slow or hostile
 * client holds only its own buffers and fds, all of them bounded.
 */
#ifndef WARDEN_PROXY_H
#define WARDEN_PROXY_H

#include <stdint.h>
#include <sys/socket.h>

#include "../lib/err.h"
#include "../lib/evloop.h"
#include "../policy/policy.h"
#include "attrib.h"

struct guard_pool;
struct approvals;

#define PROXY_HTTP_PORT 3128
#define PROXY_SOCKS_PORT 1080
#define PROXY_INFER_PORT 80		/* http://inference.local inside the sandbox */
#define INFER_HOST "inference.local"
#define POLICY_HOST "policy.local"	/* the agent's view of its policy, same listener */

/* A name pinned to an address for one sandbox (--add-host NAME:IP). */
struct add_host {
	char name[256];			/* normalised as dest_normalize does */
	struct sockaddr_storage addr;	/* port 0 */
	socklen_t addrlen;
};

/* Parse "NAME:IP" (IPv6 as NAME:[v6] or NAME:v6); NULL or a static reason. */
const char *add_host_parse(const char *arg, struct add_host *out);

struct proxy_config {
	int http_fd, socks_fd;		/* listening sockets; the proxy takes them */
	int infer_fd;			/* the router's (port 80); taken; -1: none */
	struct guard_pool *guards;	/* taken; NULL: inference is refused (fail closed) */
	const char *sandbox;		/* the sandbox's name, for classifiers */
	struct attrib *attrib;		/* taken */
	struct tlsca *ca;		/* taken; NULL: requests inside TLS cannot be inspected */
	struct credstore *creds;	/* taken; NULL: none */
	struct approvals *approvals;	/* borrowed (the supervisor's); NULL: no proposals, no holds */
	const struct add_host *hosts;	/* copied */
	size_t nhosts;
	unsigned max_conns;		/* 0 = default */
	unsigned header_timeout_ms;	/* request head / SOCKS handshake; 0 = default */
	unsigned connect_timeout_ms;	/* resolve + connect; 0 = default */
	unsigned idle_timeout_ms;	/* tunnel without traffic; 0 = default */
};

struct proxy;

/*
 * Start accepting on l.  p is borrowed and must stay valid until it is
 * replaced by proxy_set_policy() (or the proxy is freed).
 */
struct proxy *proxy_new(struct evloop *l, const struct proxy_config *c,
    const struct policy *p, uint64_t revision, const char hash[65], struct werr *err);

/*
 * Switch to a new policy revision.  Connections it no longer allows are
 * closed (and say so in an event); the others now refer to p, so the
 * caller may free the previous policy when this returns.
 */
void proxy_set_policy(struct proxy *px, const struct policy *p, uint64_t revision,
    const char hash[65]);

/*
 * The owner's event loop hooks: proxy_tick() about once a second (timeouts),
 * proxy_reap() after every batch of events (frees connections closed in it).
 */
void proxy_tick(struct proxy *px);
void proxy_reap(struct proxy *px);

struct proxy_stats {
	uint64_t accepted, allowed, denied, closed_by_reload;
	unsigned active;
};
void proxy_get_stats(const struct proxy *px, struct proxy_stats *st);

void proxy_free(struct proxy *px);

#endif
