/*
 * Request inspection's internals, shared by the engine (proxy_l7.c) and
 * the privacy router (proxy_infer.c), which drives the same two byte
 * streams.  Nothing else includes this.
 */
#ifndef WARDEN_PROXY_L7_INT_H
#define WARDEN_PROXY_L7_INT_H

#include <openssl/ssl.h>

#include "httprules.h"
#include "proxy_int.h"

struct infer;
struct papi;

#define IN_CAP (HTTP_MAX_HEAD + 16384)
#define OUT_HIGH 65536
#define LOOP_MAX 64

enum phase { P_SNIFF, P_HANDSHAKE, P_EXCHANGE, P_UPGRADED, P_CLOSING };
/*
 * RQ_G*: a request the privacy router holds: its body is being read
 * whole (GBODY), classified (GWAIT), or its provider connected (GCONNECT).
 * RQ_HELD: a request the rules refused, waiting for a human
 * (approvals.mode: ask); its head is still unread in the client buffer.
 */
enum rqst { RQ_HEAD, RQ_BODY, RQ_GBODY, RQ_GWAIT, RQ_GCONNECT, RQ_HELD, RQ_DONE };
enum rsst { RS_IDLE, RS_HEAD, RS_BODY, RS_DONE };

/* One side of the connection, seen as a byte stream (TLS or plain). */
struct side {
	int fd;
	SSL *ssl;
	bool hs_done;
	bool eof;		/* nothing more will be read */
	bool shut;		/* our write side is closed */
	uint32_t want;		/* what the last blocked TLS call waits for */
	char *in;
	size_t inlen;
	char *out;
	size_t outlen, outoff, outcap;
	bool out_secret;	/* out has held a secret: wipe it once written */
	/*
	 * A plain socket's last recv found nothing, and epoll has not said
	 * readable since: the next recv is skipped (the loop is level-
	 * triggered, so data that arrives is reported, and read, next round).
	 */
	bool drained;
};

struct l7 {
	enum phase phase;
	bool tls;
	bool one_shot;		/* a forward request: one exchange, then close */
	struct side c, u;
	enum rqst rq;
	enum rsst rs;
	struct http_body reqbody, respbody;
	char method[33];
	bool upgrade_req;	/* the request asked for a protocol switch */
	bool close_after;	/* either side said Connection: close */
	bool resp_started;	/* bytes of the current response went to the client */
	char upfail[400];	/* the upstream handshake failed: why */
	uint64_t deadline;	/* handshake, or the closing linger */
	unsigned nreq;
	struct infer *g;	/* the request the router holds, or NULL */
	struct papi *pa;	/* a policy.local request being read or waiting, or NULL */
	/*
	 * A held request was decided: it is decided again from its head, and
	 * if it is still refused, this says why (the operator's reason, the
	 * timeout).  Owned; taken by the next decision.
	 */
	char *resume_why;
	uint64_t held_rev;	/* the policy revision a held request was last decided under */
};

void l7_out_add(struct side *s, const void *p, size_t n);
size_t l7_out_pending(const struct side *s);
void l7_in_consume(struct side *s, size_t n);
int l7_side_read(struct side *s);
int l7_side_flush(struct side *s);
void l7_side_shut(struct side *s);
/* 1 done, 0 in progress, -1 failed (recorded; a client side's failure closes c). */
int l7_handshake(struct conn *c, struct side *s, bool client);
int l7_emit(struct conn *c, const char *type, const char *decision, const char *reason,
    const char *method, const char *path, const char *extra);
void l7_closing(struct l7 *x);
void l7_answer(struct conn *c, int status, const char *text, const char *json);
void l7_answer_error(struct conn *c, int status, const char *text, const char *error,
    const char *reason);
bool l7_hdr_is(const struct http_header *h, const char *name);
bool l7_token_in_list(const char *v, size_t n, const char *tok);
/* Run the engine for c now (after an asynchronous answer arrived) and update its watches. */
void l7_kick(struct conn *c);
/*
 * Hold-and-ask for one request: h describes it (binary, destination,
 * method and path, or provider and tier); why is the denial.  True when
 * it now waits on a pending item (x->rq is RQ_HELD, nothing more is read
 * from the client); false when the denial stands (holding off, store
 * full, unknown binary).  When the human decides, fn runs (it must set
 * x->rq and answer or go on); fn NULL: x->rq is RQ_HEAD again,
 * x->resume_why is set, and the engine runs, so the request is decided
 * again from its head.
 */
bool l7_hold(struct conn *c, const struct appr_hold *h, const char *why, appr_wait_fn fn);

/* proxy_infer.c */
/*
 * A request for the router: on inference.local (provider NULL), or to a
 * provider's own host (its requests are governed the same way).  Returns
 * false when the connection is closing (an answer was queued).
 */
bool infer_request(struct conn *c, const struct http_request *req, size_t head_len,
    const struct http_target *t, const struct infer_provider *direct);
/* Progress for a held request (RQ_G*); false when the connection was closed. */
int infer_run(struct conn *c, bool *closed);
/* The provider's response head: forwarded with the router's headers; false = closing. */
bool infer_response_head(struct conn *c, const struct http_response *r, size_t n);
/* Move response body bytes (restoring redacted values); as move_body. */
int infer_response_body(struct conn *c, bool *done);
uint32_t infer_upstream_events(const struct conn *c);
/* Is the response being re-framed (redacted values restored)?  Then infer_response_body moves it. */
bool infer_response_restoring(const struct conn *c);
/* Is the current exchange one the router sent (its response gets the router's headers)? */
bool infer_active(const struct conn *c);
/* The exchange is over: forget the request (the upstream stays for the next). */
void infer_request_done(struct conn *c);
/* Connect deadline passed: answered; true when it did. */
bool infer_sweep(struct conn *c, uint64_t now);
void infer_free(struct conn *c);

/* proxy_policyapi.c */
/* Is this request on the router's listener for http://policy.local (by target or Host)? */
bool papi_is_for(const struct http_request *req);
/*
 * Take a policy.local request (the API: policy, denials, proposals).
 * Returns false when the connection is closing (an answer was queued):
 * every answer closes the connection.
 */
bool papi_request(struct conn *c, const struct http_request *req, size_t head_len,
    const struct http_target *t);
/* Progress for a request reading its body (RQ_GBODY) or long-polling (RQ_GWAIT). */
int papi_run(struct conn *c, bool *closed);
/* A long-poll whose time ran out is answered; true when it was. */
bool papi_sweep(struct conn *c, uint64_t now);
void papi_free(struct conn *c);

#endif
