/*
 * The egress proxy's internals, shared by its connection handling
 * (proxy.c) and request inspection (proxy_l7.c).  Nothing outside
 * src/proxy/proxy*.c includes this.
 */
#ifndef WARDEN_PROXY_INT_H
#define WARDEN_PROXY_INT_H

#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../lib/util.h"
#include "http_parse.h"
#include "approvals.h"
#include "netpolicy.h"
#include "proxy.h"

struct l7;
struct tlsca;
struct credstore;

#define DEFAULT_MAX_CONNS 16384
#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define DEFAULT_CONNECT_TIMEOUT_MS 15000
#define DEFAULT_IDLE_TIMEOUT_MS 3600000
#define LINGER_MS 2000
#define PUMP_CHUNK 65536
#define PUMP_ROUNDS 4
#define PIPE_POOL_MAX 256
#define ACCEPT_BATCH 64

enum cstate {
	C_HEAD, C_SOCKS_GREET, C_SOCKS_REQ, C_RESOLVING, C_CONNECTING, C_TUNNEL,
	C_L7, C_REPLY, C_LINGER, C_DEAD,
	C_HELD,		/* denied, held while a human decides (approvals.mode: ask) */
};
enum ckind { K_HTTP, K_CONNECT, K_FORWARD, K_SOCKS, K_INFER };

/* One direction of a tunnel. */
struct half {
	int pipe[2];
	size_t inpipe;
	bool eof;		/* source reached end of file */
	bool shut;		/* end of file passed on to the sink */
	uint64_t bytes;
};

/* Bytes waiting to be written to one side (small: replies, a request head). */
struct pending {
	struct sbuf b;
	size_t off;
};

struct conn {
	struct proxy *px;
	struct conn *prev, *next;
	struct ev_io cio, uio;
	int cfd, ufd;
	enum cstate st;
	enum ckind kind;
	uint64_t deadline;	/* ns; 0 = none (tunnels use last_active) */
	uint64_t last_active;
	struct sockaddr_storage peer, local;
	char *in;		/* request head / handshake bytes, while reading them */
	size_t inlen;
	struct pending to_client, to_up;
	/* Forward requests: the body is relayed with its framing checked. */
	struct http_body body;
	bool body_done;
	/* What was asked. */
	char verb[33];
	char host[HTTP_MAX_HOST + 1];
	uint16_t port;
	struct dest dst;
	/* Who asked (owned copies: they outlive policy revisions). */
	char *exe, *sha256;
	char **anc;
	size_t nanc;
	pid_t pid, ppid;
	char rule[160];
	/* Where it went. */
	struct resolve_req *rq;
	struct addrinfo *ai, *ai_next;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char addrtxt[INET6_ADDRSTRLEN];
	struct half c2u, u2c;
	bool chup, uhup;	/* the side hung up: stop watching it while idle */
	/* Request inspection (proxy_l7.c): wanted once the decision says so. */
	bool l7_wanted;
	struct l7 *l7;
	char *fwd_raw;		/* a forward request's bytes, replayed through inspection */
	size_t fwd_rawlen;
	/*
	 * Change under control: the pending item a held connection waits on
	 * (C_HELD), and the approval a connection runs on when the policy
	 * itself does not allow it (--once / --for); both "" when unused.
	 */
	char held[APPR_ID_MAX];
	struct appr_waiter *waiter;
	char *held_why;
	char grant[APPR_ID_MAX];
	struct endpoint grant_ep;	/* the approved host:port */
	uint16_t grant_port;
	bool grant_exact;	/* the human saw this very name (a hold, or a proposal naming it) */
};

/* One denial, as http://policy.local/v1/denials shows it (owned strings). */
struct px_denial {
	uint64_t time_ms;	/* wall clock */
	char event[24];
	char *binary, *host, *method, *path, *reason, *rule;
	uint16_t port;
};
#define PX_DENIALS 100

struct proxy {
	struct evloop *loop;
	struct ev_io http_io, socks_io, infer_io;
	int http_fd, socks_fd, infer_fd;
	struct guard_pool *guards;	/* NULL: every inference request is refused */
	char *sandbox;
	struct attrib *attrib;
	struct resolver *res;
	struct add_host *hosts;
	size_t nhosts;
	const struct policy *policy;
	uint64_t revision;
	char hash[65];
	unsigned max_conns;
	uint64_t header_ns, connect_ns, idle_ns;
	struct conn *conns;	/* live */
	struct conn *dead;	/* closed during this batch; freed after it */
	unsigned nconns;
	int pool[PIPE_POOL_MAX][2];
	size_t npool;
	struct proxy_stats stats;
	struct tlsca *ca;		/* NULL: nothing can be inspected inside TLS */
	struct credstore *creds;	/* never NULL once running */
	struct approvals *approvals;	/* borrowed; NULL: no proposals, no holds, no grants */
	/* The last PX_DENIALS denials, oldest overwritten first. */
	struct px_denial denials[PX_DENIALS];
	size_t ndenials;		/* ever recorded; the next slot is ndenials % PX_DENIALS */
};

/* proxy.c */
uint64_t px_ms_ns(unsigned ms);
const char *px_verb_of(const struct conn *c);
void px_pending_add(struct pending *p, const void *data, size_t n);
bool px_pending_empty(const struct pending *p);
int px_pending_flush(struct pending *p, int fd);
int px_emit(struct conn *c, const char *type, const char *decision, const char *reason);
void px_reply_and_close(struct conn *c, const void *data, size_t n);
/* A final JSON answer (Connection: close), and the {"error","reason"} body most answers carry. */
void px_format_answer(struct sbuf *b, int status, const char *text, const char *json);
void px_format_error(struct sbuf *j, const char *error, const char *reason);
void px_http_reply(struct conn *c, int status, const char *text, const char *json);
void px_http_error(struct conn *c, int status, const char *text, const char *error,
    const char *reason);
void px_deny(struct conn *c, const char *reason);
void px_upstream_fail(struct conn *c, int status, uint8_t socks_code, const char *reason);
void px_decide_on(const struct conn *c, const struct policy *p, struct netdecision *d);
void px_conn_update(struct conn *c);
/* Watch fd for events; a side that hung up with nothing to wait for leaves the loop. */
void px_watch(struct proxy *px, struct ev_io *io, int fd, uint32_t events, bool hup);
void px_conn_close(struct conn *c);
/* Stop waiting on a hold's item (c->held) and let the store know this one went. */
void px_unhold(struct conn *c);
/* An --add-host pin for name, or NULL. */
const struct add_host *px_pinned(const struct proxy *px, const char *name);
/* An IP literal or a pinned name as a one-entry addrinfo (free with px_free_ai), or NULL. */
struct addrinfo *px_literal_ai(const struct proxy *px, const char *host);
void px_free_ai(struct addrinfo *ai);	/* ours or getaddrinfo's */
/* c->addr, c->addrlen and c->addrtxt from ai, with port. */
void px_set_addr(struct conn *c, const struct addrinfo *ai, uint16_t port);
/* The JSON members every denial carries (rule, binary, pid, host, port, revision, hash, hint). */
void px_deny_json(const struct conn *c, struct sbuf *j, const char *error, const char *reason);

/* proxy_policyapi.c */
/* Remember a denial for GET /v1/denials (from px_emit and l7_emit). */
void papi_note_denial(struct conn *c, const char *event, const char *method, const char *path,
    const char *reason);
void papi_free_denials(struct proxy *px);
/* The "propose" member of a 403: how to ask for exactly what was denied. */
void papi_propose_json(const struct conn *c, struct sbuf *j);

/* proxy_l7.c */
/* Does an allowed decision need its requests read (rules, or a bound credential)? */
bool l7_needed(const struct proxy *px, const struct netdecision *d);
/* Take over a connected connection: CONNECT/SOCKS after the answer, a forward request at once. */
void l7_start(struct conn *c);
void l7_on_client(struct conn *c, uint32_t events);
void l7_on_upstream(struct conn *c, uint32_t events);
void l7_update(struct conn *c);
/* Once a second: handshake and idle timeouts. */
void l7_sweep(struct conn *c, uint64_t now);
void l7_free(struct conn *c);

#endif
