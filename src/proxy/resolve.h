/*
 * Name resolution off the event loop.  getaddrinfo() blocks, so a few
 * worker threads run it and hand finished requests back through a pipe the
 * loop watches.  Only the loop thread touches a request once it is
 * submitted, except the worker that fills in the result.
 */
#ifndef WARDEN_RESOLVE_H
#define WARDEN_RESOLVE_H

#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "../lib/err.h"
#include "../lib/evloop.h"

struct resolve_req {
	char host[256];
	struct addrinfo *res;		/* result, freed by resolve_req_free */
	int gai_err;			/* getaddrinfo's return */
	bool cancelled;			/* loop thread only: drop the result */
	void (*done)(struct resolve_req *r);	/* called in the loop thread */
	void *arg;
	struct resolve_req *next;	/* queue link, private */
};

struct resolver;

struct resolver *resolver_new(struct evloop *l, unsigned nthreads, struct werr *err);
/* Stops the workers; requests still queued or running are dropped. */
void resolver_free(struct resolver *r);

/* Queue r (owned by the resolver until done() runs or it is dropped as cancelled). */
void resolver_submit(struct resolver *r, struct resolve_req *req);
/* The owner lost interest: the request is freed when its worker finishes. */
void resolver_cancel(struct resolve_req *req);
void resolve_req_free(struct resolve_req *req);

#endif
