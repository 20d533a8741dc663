/*
 * A small thread pool for getaddrinfo() (see resolve.h).  Finished
 * requests travel back as pointers written to a pipe: writes of one
 * pointer are atomic (far below PIPE_BUF), so no locking is needed on
 * the way back.
 */
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/util.h"

#define RESOLVE_MAX_THREADS 16

struct resolver {
	struct evloop *loop;
	struct ev_io io;
	int pipe[2];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct resolve_req *head, *tail;
	bool quit;
	unsigned nthreads, want;	/* started, and to start on first use */
	pthread_t threads[RESOLVE_MAX_THREADS];
};

static void *
worker(void *arg)
{
	struct resolver *r = arg;

	for (;;) {
		struct resolve_req *q;
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };

		pthread_mutex_lock(&r->mu);
		while (!r->head && !r->quit)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->quit) {
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		q = r->head;
		r->head = q->next;
		if (!r->head)
			r->tail = NULL;
		pthread_mutex_unlock(&r->mu);

		q->gai_err = getaddrinfo(q->host, NULL, &hints, &q->res);
		if (write_all(r->pipe[1], &q, sizeof(q)) < 0)
			log_warn("resolver: pipe");
	}
}

static void
on_done(struct ev_io *io, uint32_t events)
{
	struct resolver *r = io->arg;
	struct resolve_req *q[64];
	ssize_t n = read(r->pipe[0], q, sizeof(q));

	for (ssize_t i = 0; i < n / (ssize_t)sizeof(q[0]); i++) {
		if (q[i]->cancelled)
			resolve_req_free(q[i]);
		else
			q[i]->done(q[i]);
	}
}

struct resolver *
resolver_new(struct evloop *l, unsigned nthreads, struct werr *err)
{
	struct resolver *r = xcalloc(1, sizeof(*r));

	r->loop = l;
	if (pipe2(r->pipe, O_CLOEXEC) < 0) {
		werr_sys(err, "resolver: pipe");
		free(r);
		return NULL;
	}
	fcntl(r->pipe[0], F_SETFL, O_NONBLOCK);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	/*
	 * Workers start on the first lookup: most sandboxes reach their hosts
	 * through --add-host pins or IP literals, or not at all, and a thread
	 * costs start-up time.
	 */
	r->want = nthreads > RESOLVE_MAX_THREADS ? RESOLVE_MAX_THREADS : nthreads;
	if (evloop_add(l, &r->io, r->pipe[0], EPOLLIN, on_done, r) < 0) {
		werr_sys(err, "resolver: epoll");
		resolver_free(r);
		return NULL;
	}
	return r;
}

void
resolver_free(struct resolver *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->quit = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	/*
	 * A worker inside getaddrinfo() finishes its lookup first (bounded by
	 * the resolver's own timeouts); requests still queued are dropped.
	 */
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	if (r->io.added)
		evloop_del(r->loop, &r->io);
	while (r->head) {
		struct resolve_req *q = r->head;
		r->head = q->next;
		resolve_req_free(q);
	}
	/* Finished results nobody read: their connections are gone. */
	{
		struct resolve_req *q[64];
		ssize_t n;
		while ((n = read(r->pipe[0], q, sizeof(q))) > 0)
			for (ssize_t i = 0; i < n / (ssize_t)sizeof(q[0]); i++)
				if (q[i]->cancelled)
					resolve_req_free(q[i]);
	}
	close(r->pipe[0]);
	close(r->pipe[1]);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

static void
start_workers(struct resolver *r)
{
	while (r->nthreads < r->want) {
		sigset_t all, old;
		int e;

		/* Workers take no signals: the supervisor reads them from a signalfd. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		e = pthread_create(&r->threads[r->nthreads], NULL, worker, r);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (e) {
			log_warnx("resolver: pthread_create: %s", strerror(e));
			break;
		}
		r->nthreads++;
	}
}

void
resolver_submit(struct resolver *r, struct resolve_req *req)
{
	if (r->nthreads < r->want)
		start_workers(r);
	if (r->nthreads == 0) {
		/* No worker could start: answer here rather than never. */
		req->gai_err = EAI_SYSTEM;
		if (write_all(r->pipe[1], &req, sizeof(req)) < 0)
			log_warn("resolver: pipe");
		return;
	}
	req->next = NULL;
	pthread_mutex_lock(&r->mu);
	if (r->tail)
		r->tail->next = req;
	else
		r->head = req;
	r->tail = req;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void
resolver_cancel(struct resolve_req *req)
{
	req->cancelled = true;
}

void
resolve_req_free(struct resolve_req *req)
{
	if (!req)
		return;
	if (req->res)
		freeaddrinfo(req->res);
	free(req);
}
