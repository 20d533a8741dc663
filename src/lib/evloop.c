/*
 * The event loop behind evloop.h.  epoll is enough for the supervisor's
 * scale (tens of thousands of fds) and keeps warden free of a dependency
 * whose behaviour under a hostile peer we would then have to learn.
 */
#include "evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

#define EV_BATCH 256

struct evloop {
	int ep;
	bool stop;
	unsigned tick_ms;
	uint64_t next_tick;
	ev_hook_fn tick_fn, after_fn;
	void *tick_arg, *after_arg;
};

struct evloop *
evloop_new(struct werr *err)
{
	struct evloop *l = xcalloc(1, sizeof(*l));

	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		werr_sys(err, "epoll_create1");
		free(l);
		return NULL;
	}
	return l;
}

void
evloop_free(struct evloop *l)
{
	if (!l)
		return;
	close(l->ep);
	free(l);
}

int
evloop_add(struct evloop *l, struct ev_io *io, int fd, uint32_t events, ev_io_fn cb,
    void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	io->events = events;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	io->added = true;
	return 0;
}

int
evloop_mod(struct evloop *l, struct ev_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (!io->added)
		return -1;
	if (io->events == events)
		return 0;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -1;
	io->events = events;
	return 0;
}

void
evloop_del(struct evloop *l, struct ev_io *io)
{
	if (!io->added)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, io->fd, NULL);
	io->added = false;
	io->events = 0;
}

void
evloop_set_tick(struct evloop *l, unsigned interval_ms, ev_hook_fn fn, void *arg)
{
	l->tick_ms = interval_ms;
	l->tick_fn = fn;
	l->tick_arg = arg;
	l->next_tick = now_ns() + (uint64_t)interval_ms * 1000000u;
}

void
evloop_set_after(struct evloop *l, ev_hook_fn fn, void *arg)
{
	l->after_fn = fn;
	l->after_arg = arg;
}

void
evloop_stop(struct evloop *l)
{
	l->stop = true;
}

int
evloop_run(struct evloop *l, struct werr *err)
{
	struct epoll_event evs[EV_BATCH];

	l->stop = false;
	while (!l->stop) {
		int timeout = -1, n;

		if (l->tick_fn) {
			uint64_t now = now_ns();
			if (now >= l->next_tick) {
				l->next_tick = now + (uint64_t)l->tick_ms * 1000000u;
				l->tick_fn(l->tick_arg);
				if (l->after_fn)
					l->after_fn(l->after_arg);
				continue;
			}
			timeout = (int)((l->next_tick - now + 999999u) / 1000000u);
		}
		n = epoll_wait(l->ep, evs, EV_BATCH, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return werr_sys(err, "epoll_wait");
		}
		for (int i = 0; i < n && !l->stop; i++) {
			struct ev_io *io = evs[i].data.ptr;
			/* A watcher removed earlier in this batch is skipped. */
			if (io->added)
				io->cb(io, evs[i].events);
		}
		if (l->after_fn)
			l->after_fn(l->after_arg);
	}
	return 0;
}
