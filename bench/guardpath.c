/*
 * bench/guardpath.c: the supervisor's side of classifying one request,
 * alone, so that its cost can be counted in instructions (callgrind)
 * rather than timed on a shared machine.
 *
 *   guardpath GUARD BODYFILE N
 *
 * Starts the classifier GUARD (warden-guard, or any guard-protocol
 * server) as the router does -- a socketpair, the child's end as fd 3 --
 * in a classifier pool (src/router/guard_client.h) on an event loop, and
 * classifies the bytes of BODYFILE N times, one request after another,
 * as the router does for requests on one connection: each verdict's
 * callback sends the next request.  Every verdict must be a well-formed
 * allow; anything else ends the run with status 1.  Prints one line,
 * "guardpath n=N tier=T wall_us_per_request=X".
 *
 * To count the supervisor's instructions per request (the pool's
 * callback for the classifier's socket: the verdict read, decoded and
 * merged, the done callback, and the next request encoded and written):
 *
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=on_socket \
 *       build/guardpath build/warden-guard body.json 2000
 *
 * (callgrind follows only this process; the classifier runs at full speed.)
 *
 * valgrind 3.19 (Debian 12) does not know pidfd_open, which the pool uses
 * to learn of a classifier's exit: when the kernel call fails with ENOSYS,
 * this program hands the pool an eventfd instead, which never fires (the
 * classifier does not die during a run).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/lib/evloop.h"
#include "../src/lib/util.h"
#include "../src/router/guard_client.h"

struct run {
	struct evloop *loop;
	struct guard_pool *pool;
	struct guard_request req;
	unsigned long n, done;
	enum tier tier;
	int failed;
};

/*
 * syscall(2) as the pool calls it, with pidfd_open answered by an eventfd
 * where the kernel call is unknown (see the top of the file).
 */
long
syscall(long nr, ...)
{
	static long (*real)(long, ...);
	long a[6], r;
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	r = real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (r < 0 && errno == ENOSYS && nr == SYS_pidfd_open)
		r = eventfd(0, EFD_CLOEXEC);
	return r;
}

static int
spawn(void *arg, const struct guard_spec *spec, int sockfd, pid_t *pid, struct werr *err)
{
	pid_t p = fork();

	(void)arg;
	if (p < 0)
		return werr_sys(err, "fork");
	if (p == 0) {
		if (dup2(sockfd, 3) < 0)
			_exit(127);
		setenv("WARDEN_GUARD_FD", "3", 1);
		close_range(4, ~0u, 0);
		execv(spec->argv[0], spec->argv);
		_exit(127);
	}
	*pid = p;
	return 0;
}

static void on_verdict(void *arg, const struct guard_verdict *v);

static void
next(struct run *r)
{
	if (!guard_classify(r->pool, &r->req, on_verdict, r)) {
		fprintf(stderr, "guardpath: guard_classify failed\n");
		r->failed = 1;
		evloop_stop(r->loop);
	}
}

static void
on_verdict(void *arg, const struct guard_verdict *v)
{
	struct run *r = arg;

	if (v->decision != GUARD_ALLOW) {
		fprintf(stderr, "guardpath: request %lu: %s (%s)\n", r->done + 1,
		    guard_decision_name(v->decision), v->reason);
		r->failed = 1;
		evloop_stop(r->loop);
		return;
	}
	r->tier = v->tier;
	if (++r->done == r->n) {
		evloop_stop(r->loop);
		return;
	}
	next(r);
}

int
main(int argc, char **argv)
{
	struct werr err = { 0 };
	struct run r = { 0 };
	char *body = NULL, *argv_g[2];
	size_t blen = 0;
	uint64_t n, t0;
	struct guard_spec spec;

	if (argc != 4 || parse_u64(argv[3], &n) < 0 || n == 0 || n > 10000000) {
		fprintf(stderr, "usage: guardpath GUARD BODYFILE N\n");
		return 2;
	}
	if (read_file(argv[2], 64u << 20, &body, &blen, &err) < 0) {
		fprintf(stderr, "guardpath: %s\n", err.msg);
		return 1;
	}
	argv_g[0] = argv[1];
	argv_g[1] = NULL;
	spec = (struct guard_spec){ .name = "builtin", .argv = argv_g };
	if (!(r.loop = evloop_new(&err)) ||
	    !(r.pool = guard_pool_new(r.loop, &spec, 1, spawn, NULL, NULL, NULL, &err))) {
		fprintf(stderr, "guardpath: %s\n", err.msg);
		return 1;
	}
	/* What the router sends for a request to inference.local (proxy_infer.c). */
	r.req = (struct guard_request){ .deadline_ms = 30000, .format = "anthropic",
	    .provider = "", .host = "inference.local", .path = "/v1/messages",
	    .model = "claude-sonnet-4", .sandbox = "guardpath", .binary = "/work/routerload",
	    .pid = 2, .body = body, .body_len = blen };
	r.n = (unsigned long)n;
	t0 = now_ns();
	next(&r);
	if (evloop_run(r.loop, &err) < 0) {
		fprintf(stderr, "guardpath: %s\n", err.msg);
		r.failed = 1;
	}
	if (!r.failed)
		printf("guardpath n=%lu tier=%s wall_us_per_request=%.1f\n", r.done,
		    tier_name(r.tier), (double)(now_ns() - t0) / 1e3 / (double)r.done);
	guard_pool_free(r.pool);
	evloop_free(r.loop);
	free(body);
	return r.failed;
}
