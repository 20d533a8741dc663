/*
 * bench/routerload.c: the load client of the privacy-router benchmark
 * (bench/router.sh).  Built static, so the same binary runs on the host
 * (straight to the provider stand-in) and inside a warden sandbox (to
 * http://inference.local, 127.0.0.1:80 in the sandbox's network
 * namespace), where only the system directories and the workdir exist.
 *
 *   routerload latency HOSTPORT PATH BODYFILE N WARMUP [SAMPLES [SYNCDIR]]
 *   routerload rps     HOSTPORT PATH BODYFILE SECONDS CONCURRENCY
 *
 * HOSTPORT is 127.0.0.1:PORT: only 127.0.0.1 is ever connected to, so a
 * mistyped argument cannot send traffic off the machine.  Every request is
 * "POST PATH" with the bytes of BODYFILE as its body (Content-Length
 * framing), "Host: inference.local" and the headers an Anthropic SDK sends
 * (content type, API version, a placeholder key the router takes off).
 * Each response is read completely (Content-Length, chunked, or to the end
 * of the connection) and must be a 200; anything else (a router's 403 or
 * 502) is printed, status line and the start of the body, and counted as
 * an error.  More than MAX_ERRORS errors end a run.
 *
 *   latency  one kept-alive connection; WARMUP uncounted and N counted
 *            requests on it, one after another, each timed from its first
 *            byte written to the last byte of its response read
 *            (CLOCK_MONOTONIC).  A connection the server closes is opened
 *            again (counted as "reconnects"; through the router that
 *            should not happen).  With SAMPLES every counted time is
 *            written there, one per line, so runs can be merged.  With
 *            SYNCDIR the counted requests are bracketed for an observer
 *            outside (bench/router.sh reads CPU times): after the warm-up
 *            the client creates SYNCDIR/lat.ready and waits for
 *            SYNCDIR/lat.go; after the last counted request it creates
 *            lat.end and waits for lat.done (each wait at most
 *            SYNC_TIMEOUT_S, then the run fails).
 *   rps      CONCURRENCY kept-alive connections, one thread each, sending
 *            requests back to back for one uncounted second and then
 *            SECONDS counted ones; completed requests per second, and
 *            their latencies.
 *
 * Each mode prints one line on stdout, "MODE key=value ...", times in
 * microseconds; errors go to stderr.  The line names the router's
 * x-warden-provider and x-warden-tier of the first response ("-" when
 * absent, as straight to the provider) and counts the responses whose
 * headers said otherwise (route_changes), so a run shows where its
 * requests went.  Every count is bounded by the arguments and every blocking step
 * has a timeout (IO_TIMEOUT_S), so a broken router fails a run rather
 * than hanging it.
 */
/* Defined on the command line in the meson build, here for `cc` alone. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "routerload"
#include "benchutil.h"

#define IO_TIMEOUT_S 15		/* one blocking step (connect, a send, a reply) */
#define HEAD_MAX 16384		/* a response head */
#define BUF_SIZE (64 * 1024)	/* bytes read ahead on a connection */
#define BODY_FILE_MAX (8 << 20)	/* the router's default inference.max_body */
#define SNIPPET 300		/* what an error shows of a response body */
#define LABEL_MAX 64		/* x-warden-provider, x-warden-tier */
#define MAX_N 1000000
#define MAX_ERRORS 10
#define MAX_SECONDS 600
#define MAX_CONC 256
#define SYNC_TIMEOUT_S 30	/* latency with SYNCDIR: the observer's turn */
#define HOST "inference.local"

/* What every request sends: the head and the body, in one buffer. */
struct request {
	struct sockaddr_in addr;
	char *bytes;
	size_t len;
	const char *path;
};

/* One kept-alive connection, with bytes read past the last response kept. */
struct conn {
	int fd;
	char buf[BUF_SIZE];
	size_t off, len;	/* unread bytes: buf[off, len) */
};

/* What one response said, beyond its body. */
struct response {
	int status;
	bool close;		/* the connection ends after it */
	char provider[LABEL_MAX], tier[LABEL_MAX];
	char status_line[128];
	char snippet[SNIPPET + 1];	/* the start of a non-200 body */
	size_t snippet_len;
};

static void __attribute__((noreturn))
usage(void)
{
	fputs("usage: routerload latency HOSTPORT PATH BODYFILE N WARMUP [SAMPLES [SYNCDIR]]\n"
	    "       routerload rps     HOSTPORT PATH BODYFILE SECONDS CONCURRENCY\n"
	    "HOSTPORT: 127.0.0.1:PORT   PATH: /v1/messages\n", stderr);
	exit(2);
}

/* The whole body file, bounded by BODY_FILE_MAX. */
static char *
read_body(const char *file, size_t *len)
{
	struct stat st;
	char *p;
	size_t got = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		die(file);
	if (!S_ISREG(st.st_mode) || st.st_size > BODY_FILE_MAX) {
		fprintf(stderr, "routerload: %s: not a regular file of at most %d bytes\n", file,
		    BODY_FILE_MAX);
		exit(2);
	}
	if (!(p = malloc((size_t)st.st_size + 1)))
		die("malloc");
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(file);
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return p;
}

static void
make_request(struct request *r, const char *hostport, const char *path, const char *file)
{
	size_t blen, cap;
	char *body;
	int hl;

	loopback_addr(hostport, &r->addr);
	if (path[0] != '/' || strlen(path) > 1024 || strpbrk(path, " \r\n")) {
		fprintf(stderr, "routerload: PATH must start with / and hold no spaces, not '%s'\n",
		    path);
		exit(2);
	}
	r->path = path;
	body = read_body(file, &blen);
	cap = blen + 2048;
	if (!(r->bytes = malloc(cap)))
		die("malloc");
	/* The headers an Anthropic SDK sends; the key is the placeholder warden sets. */
	hl = snprintf(r->bytes, cap, "POST %s HTTP/1.1\r\nHost: " HOST "\r\n"
	    "User-Agent: routerload\r\nAccept: application/json\r\n"
	    "Content-Type: application/json\r\nanthropic-version: 2023-06-01\r\n"
	    "x-api-key: warden-router\r\nContent-Length: %zu\r\n\r\n", path, blen);
	if (hl < 0 || (size_t)hl + blen > cap) {
		fprintf(stderr, "routerload: request head too long\n");
		exit(2);
	}
	memcpy(r->bytes + hl, body, blen);
	r->len = (size_t)hl + blen;
	free(body);
}

/* ---- one connection ---------------------------------------------------- */

/* Blocking socket with send and receive timeouts: a silent peer fails the step. */
static bool
conn_open(struct conn *c, const struct sockaddr_in *sa)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int one = 1;

	c->off = c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return false;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* The request must not wait for Nagle's timer behind an unacknowledged segment. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int e = errno;
		close(c->fd);
		c->fd = -1;
		errno = e;
		return false;
	}
	return true;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->off = c->len = 0;
}

/*
 * Read more bytes after the unread ones (moved to the front first).
 * False at the end of the stream, on a timeout or error (errno says which;
 * 0 at the end), or when the buffer is full of unread bytes.
 */
static bool
fill(struct conn *c)
{
	ssize_t n;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf)) {
		errno = EMSGSIZE;
		return false;
	}
	do
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		if (n == 0)
			errno = 0;
		return false;
	}
	c->len += (size_t)n;
	return true;
}

/* The unread bytes up to and including the next CRLF, read as needed; NULL if none comes. */
static const char *
line(struct conn *c, size_t *n)
{
	for (;;) {
		char *p = c->buf + c->off, *e = memmem(p, c->len - c->off, "\r\n", 2);
		if (e) {
			*n = (size_t)(e - p) + 2;
			return p;
		}
		if (!fill(c))
			return NULL;
	}
}

/* A copy of header NAME's value (trimmed, at most LABEL_MAX - 1 bytes) if the line is it. */
static bool
header_is(const char *l, size_t n, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (n < nl + 1 || strncasecmp(l, name, nl) != 0 || l[nl] != ':')
		return false;
	v = l + nl + 1;
	vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (vl >= cap)
		vl = cap - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
	return true;
}

enum framing { F_NONE, F_LENGTH, F_CHUNKED, F_CLOSE };

/* Consume n body bytes (reading as needed), keeping the start of an error body. */
static bool
skip_body(struct conn *c, struct response *r, unsigned long long n)
{
	while (n > 0) {
		size_t have = c->len - c->off, k;

		if (have == 0) {
			if (!fill(c))
				return false;
			continue;
		}
		k = have < n ? have : (size_t)n;
		if (r->status != 200 && r->snippet_len < SNIPPET) {
			size_t s = SNIPPET - r->snippet_len < k ? SNIPPET - r->snippet_len : k;
			memcpy(r->snippet + r->snippet_len, c->buf + c->off, s);
			r->snippet_len += s;
			r->snippet[r->snippet_len] = '\0';
		}
		c->off += k;
		n -= k;
	}
	return true;
}

/* A chunked body: size lines, data, CRLFs, then trailers up to the blank line. */
static bool
read_chunked(struct conn *c, struct response *r)
{
	for (;;) {
		size_t n;
		const char *l = line(c, &n);
		char *end;
		unsigned long long size;

		if (!l)
			return false;
		errno = 0;
		size = strtoull(l, &end, 16);
		if (errno || end == l || (*end != '\r' && *end != ';' && *end != ' ') ||
		    size > (1ULL << 40)) {
			errno = EPROTO;
			return false;
		}
		c->off += n;
		if (size == 0)
			break;
		if (!skip_body(c, r, size) || !(l = line(c, &n)) || n != 2) {
			errno = errno ? errno : EPROTO;
			return false;
		}
		c->off += n;
	}
	for (;;) {		/* trailers */
		size_t n;
		const char *l = line(c, &n);

		if (!l)
			return false;
		c->off += n;
		if (n == 2)
			return true;
	}
}

/*
 * Read one response completely.  False with errno when the connection
 * failed (0: it ended before the response did).  r->close says whether the
 * connection can carry another request.
 */
static bool
read_response(struct conn *c, struct response *r)
{
	enum framing f = F_CLOSE;
	unsigned long long clen = 0;
	size_t n, headlen = 0;
	const char *l;
	char v[LABEL_MAX];

	memset(r, 0, sizeof(*r));
	for (;;) {		/* 1xx responses come before the real one */
		if (!(l = line(c, &n)))
			return false;
		snprintf(r->status_line, sizeof(r->status_line), "%.*s", (int)(n - 2), l);
		if (n < 14 || memcmp(l, "HTTP/1.", 7) != 0 || l[8] != ' ') {
			errno = EPROTO;
			return false;
		}
		r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
		r->close = l[7] == '0';
		c->off += n;
		headlen = n;
		for (;;) {
			if (!(l = line(c, &n)))
				return false;
			c->off += n;
			headlen += n;
			if (headlen > HEAD_MAX) {
				errno = EMSGSIZE;
				return false;
			}
			if (n == 2)
				break;
			if (header_is(l, n, "content-length", v, sizeof(v))) {
				clen = strtoull(v, NULL, 10);
				if (f != F_CHUNKED)
					f = F_LENGTH;
			} else if (header_is(l, n, "transfer-encoding", v, sizeof(v))) {
				if (strcasestr(v, "chunked"))
					f = F_CHUNKED;
			} else if (header_is(l, n, "connection", v, sizeof(v))) {
				if (strcasestr(v, "close"))
					r->close = true;
				else if (strcasestr(v, "keep-alive"))
					r->close = false;
			} else {
				header_is(l, n, "x-warden-provider", r->provider, sizeof(r->provider));
				header_is(l, n, "x-warden-tier", r->tier, sizeof(r->tier));
			}
		}
		if (r->status >= 200 || r->status == 101)
			break;
	}
	if (r->status == 204 || r->status == 304)
		f = F_NONE;
	switch (f) {
	case F_NONE:
		return true;
	case F_LENGTH:
		return skip_body(c, r, clen);
	case F_CHUNKED:
		return read_chunked(c, r);
	case F_CLOSE:
		r->close = true;
		while (skip_body(c, r, c->len - c->off) && fill(c))
			;
		return errno == 0;
	}
	return false;
}

/* Open C if it is closed; false with a message when that fails. */
static bool
ensure_open(struct conn *c, const struct sockaddr_in *sa)
{
	if (c->fd >= 0)
		return true;
	if (conn_open(c, sa))
		return true;
	fprintf(stderr, "routerload: connect: %s\n", strerror(errno));
	return false;
}

/*
 * One request on the open connection C and its response.  False on any
 * failure, including a status other than 200, with a message on stderr; C
 * is closed when it cannot carry another request.
 */
static bool
exchange(struct conn *c, const struct request *q, struct response *r)
{
	if (!send_all(c->fd, q->bytes, q->len)) {
		fprintf(stderr, "routerload: send: %s\n", strerror(errno));
		conn_close(c);
		return false;
	}
	if (!read_response(c, r)) {
		fprintf(stderr, "routerload: POST %s: %s\n", q->path, errno == 0 ?
		    "the server closed the connection before the response ended" : strerror(errno));
		conn_close(c);
		return false;
	}
	if (r->close)
		conn_close(c);
	if (r->status != 200) {
		fprintf(stderr, "routerload: POST %s: %s: %s\n", q->path, r->status_line,
		    r->snippet);
		return false;
	}
	return true;
}

/* Whether R was routed (or not) like FIRST: the same router headers. */
static bool
same_route(const struct response *first, const struct response *r)
{
	return strcmp(first->provider, r->provider) == 0 && strcmp(first->tier, r->tier) == 0;
}

/* "provider=NAME tier=TIER" of the first response, "-" for a header it lacked. */
static void
print_route(const struct response *first, size_t changes)
{
	printf(" provider=%s tier=%s route_changes=%zu", first->provider[0] ? first->provider : "-",
	    first->tier[0] ? first->tier : "-", changes);
}

/* ---- synchronisation with an observer (latency SYNCDIR) ---------------- */

/* Create DIR/MINE, then wait for DIR/THEIRS to exist. */
static bool
sync_step(const char *dir, const char *mine, const char *theirs)
{
	char path[4096];
	struct stat st;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, mine) >= sizeof(path))
		return false;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || close(fd) < 0) {
		fprintf(stderr, "routerload: %s: %s\n", path, strerror(errno));
		return false;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, theirs) >= sizeof(path))
		return false;
	for (int i = 0; i < SYNC_TIMEOUT_S * 500; i++) {
		if (stat(path, &st) == 0)
			return true;
		usleep(2000);
	}
	fprintf(stderr, "routerload: %s did not appear in %d s\n", path, SYNC_TIMEOUT_S);
	return false;
}

/* ---- latency ---------------------------------------------------------- */

static int
run_latency(const struct request *q, size_t n, size_t warmup, const char *path,
    const char *syncdir)
{
	static struct conn c = { .fd = -1 };
	struct response r, first = { 0 };
	double *lat = samples(n), t_first = 0, t_last = 0;
	size_t done = 0, got = 0, errors = 0, opened = 0, changes = 0;
	bool synced = true, bracketed = false, have_first = false;
	FILE *out;

	/* done counts completed requests, warm-up included; a failed one is tried again. */
	while (done < warmup + n && errors <= MAX_ERRORS) {
		double a, b;

		if (done == warmup && syncdir && !bracketed) {
			bracketed = true;
			if (!(synced = sync_step(syncdir, "lat.ready", "lat.go")))
				break;
		}
		/* A connection is opened before the clock starts, never inside a sample. */
		if (c.fd < 0) {
			if (!ensure_open(&c, &q->addr)) {
				errors++;
				continue;
			}
			opened++;
		}
		a = now_us();
		if (done == warmup && t_first == 0)
			t_first = a;
		if (!exchange(&c, q, &r)) {
			errors++;
			continue;
		}
		b = now_us();
		t_last = b;
		if (!have_first) {
			first = r;
			have_first = true;
		}
		changes += !same_route(&first, &r);
		if (done++ >= warmup)
			lat[got++] = b - a;
	}
	if (got == n && syncdir)
		synced = sync_step(syncdir, "lat.end", "lat.done");
	conn_close(&c);
	if (path) {
		if (!(out = fopen(path, "w")))
			die(path);
		for (size_t i = 0; i < got; i++)
			fprintf(out, "%.1f\n", lat[i]);
		if (fclose(out) != 0)
			die(path);
	}
	printf("latency n=%zu errors=%zu reconnects=%zu request_bytes=%zu counted_s=%.3f", got,
	    errors, opened ? opened - 1 : 0, q->len, got ? (t_last - t_first) / 1e6 : 0.0);
	print_route(&first, changes);
	print_dist("req", lat, got);
	printf("\n");
	free(lat);
	return got == n && synced && errors == 0 ? 0 : 1;
}

/* ---- requests per second ------------------------------------------------ */

struct worker {
	pthread_t tid;
	const struct request *q;
	double t_count, t_end;		/* the counted window */
	size_t done, errors, nlat, cap, changes;
	double *lat;
	struct response first;
	bool have_first;
};

/*
 * One connection's requests, back to back until the window ends.  A
 * request is counted when it ends inside the window; the one in flight at
 * the end is finished (bounded by IO_TIMEOUT_S), not counted.
 */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct conn *c = calloc(1, sizeof(*c));
	struct response r;

	if (!c)
		die("calloc");
	c->fd = -1;
	while (now_us() < w->t_end && w->errors <= MAX_ERRORS) {
		double a, b;
		bool ok;

		if (!ensure_open(c, &w->q->addr)) {
			w->errors++;
			continue;
		}
		a = now_us();
		ok = exchange(c, w->q, &r);
		b = now_us();
		if (b < w->t_count || b >= w->t_end)
			continue;
		if (!ok) {
			w->errors++;
			continue;
		}
		if (!w->have_first) {
			w->first = r;
			w->have_first = true;
		}
		w->changes += !same_route(&w->first, &r);
		if (w->nlat == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 4096;
			if (!(w->lat = realloc(w->lat, w->cap * sizeof(*w->lat))))
				die("realloc");
		}
		w->lat[w->nlat++] = b - a;
		w->done++;
	}
	conn_close(c);
	free(c);
	return NULL;
}

static int
run_rps(const struct request *q, unsigned seconds, unsigned conc)
{
	struct worker *w = calloc(conc, sizeof(*w));
	size_t done = 0, errors = 0, nlat = 0, k = 0, changes = 0;
	const struct response *first = NULL;
	static const struct response none;
	double t0 = now_us(), *lat;

	if (!w)
		die("calloc");
	for (unsigned i = 0; i < conc; i++) {
		w[i].q = q;
		w[i].t_count = t0 + 1e6;	/* one second of warm-up, not counted */
		w[i].t_end = w[i].t_count + (double)seconds * 1e6;
		errno = pthread_create(&w[i].tid, NULL, worker_run, &w[i]);
		if (errno)
			die("pthread_create");
	}
	for (unsigned i = 0; i < conc; i++) {
		pthread_join(w[i].tid, NULL);
		done += w[i].done;
		errors += w[i].errors;
		nlat += w[i].nlat;
		if (!first && w[i].have_first)
			first = &w[i].first;
		/* Each connection's first response against the first connection's. */
		changes += w[i].changes + (first && w[i].have_first && !same_route(first, &w[i].first));
	}
	lat = samples(nlat);
	for (unsigned i = 0; i < conc; i++) {
		if (w[i].nlat)
			memcpy(lat + k, w[i].lat, w[i].nlat * sizeof(*lat));
		k += w[i].nlat;
	}
	printf("rps requests=%zu errors=%zu seconds=%u concurrency=%u rps=%.0f", done, errors,
	    seconds, conc, (double)done / seconds);
	print_route(first ? first : &none, changes);
	print_dist("req", lat, nlat);
	printf("\n");
	for (unsigned i = 0; i < conc; i++)
		free(w[i].lat);
	free(w);
	free(lat);
	return errors ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct request q;
	int rc;

	if (argc < 7)
		usage();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "latency") == 0 && argc <= 9) {
		size_t n = number(argv[5], "N", 1, MAX_N), warmup = number(argv[6], "WARMUP", 0, MAX_N);

		make_request(&q, argv[2], argv[3], argv[4]);
		rc = run_latency(&q, n, warmup, argc >= 8 ? argv[7] : NULL, argc == 9 ? argv[8] : NULL);
	} else if (strcmp(argv[1], "rps") == 0 && argc == 7) {
		unsigned seconds = (unsigned)number(argv[5], "SECONDS", 1, MAX_SECONDS);
		unsigned conc = (unsigned)number(argv[6], "CONCURRENCY", 1, MAX_CONC);

		make_request(&q, argv[2], argv[3], argv[4]);
		rc = run_rps(&q, seconds, conc);
	} else {
		usage();
	}
	free(q.bytes);
	return rc;
}
