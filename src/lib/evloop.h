/*
 * A small epoll event loop for the supervisor: fd watchers with callbacks,
 * a periodic tick for timeouts, and hooks that run after each batch of
 * events (where objects closed during the batch are freed, so no callback
 * later in the same batch can touch freed memory).  Level-triggered: a
 * watcher that does not consume its input is called again, which keeps
 * the code that moves bytes simple and fair.
 *
 * The loop is single-threaded.  Other threads hand work back through an fd
 * (an eventfd or pipe) watched like any other.
 */
#ifndef WARDEN_EVLOOP_H
#define WARDEN_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "err.h"

struct evloop;
struct ev_io;

typedef void (*ev_io_fn)(struct ev_io *io, uint32_t events);
typedef void (*ev_hook_fn)(void *arg);

/* A watched fd.  Embedded in its owner's struct; the owner keeps it alive while added. */
struct ev_io {
	int fd;
	uint32_t events;	/* currently requested EPOLLIN/EPOLLOUT/... */
	ev_io_fn cb;
	void *arg;
	bool added;
};

struct evloop *evloop_new(struct werr *err);
void evloop_free(struct evloop *l);

/* Watch io->fd for events (0 = registered but quiet); update with _mod. */
int evloop_add(struct evloop *l, struct ev_io *io, int fd, uint32_t events,
    ev_io_fn cb, void *arg);
int evloop_mod(struct evloop *l, struct ev_io *io, uint32_t events);
void evloop_del(struct evloop *l, struct ev_io *io);

/* Call fn(arg) every interval_ms (coarse: timeouts, not timing). */
void evloop_set_tick(struct evloop *l, unsigned interval_ms, ev_hook_fn fn, void *arg);
/* Call fn(arg) after every batch of events. */
void evloop_set_after(struct evloop *l, ev_hook_fn fn, void *arg);

/* Run until evloop_stop(); returns 0, or -1 when epoll itself fails. */
int evloop_run(struct evloop *l, struct werr *err);
void evloop_stop(struct evloop *l);

#endif
