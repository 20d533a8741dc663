/*
 * bench/proxyload.c: the load client of the egress-proxy benchmark
 * (bench/proxy.sh).  Built static, so the same binary runs on the host
 * (direct and tinyproxy rows) and inside a warden sandbox (warden rows),
 * where only the system directories and the workdir exist.
 *
 *   proxyload latency  PROXY TARGET N WARMUP [SAMPLES]
 *   proxyload rps      PROXY TARGET SECONDS CONCURRENCY
 *   proxyload upload   PROXY TARGET BYTES REPS
 *   proxyload download PROXY TARGET BYTES REPS
 *   proxyload hold     PROXY TARGET N SECONDS DIR
 *
 * PROXY is "direct" or the HTTP proxy's 127.0.0.1:PORT; TARGET is
 * NAME:PORT, sent to the proxy in the request (CONNECT NAME:PORT, or
 * GET http://NAME:PORT/), or 127.0.0.1:PORT when direct.  Only 127.0.0.1
 * is ever connected to: any other address is refused, so a mistyped
 * argument cannot turn the benchmark into traffic off the machine.
 *
 * Each mode prints one line, "MODE key=value ...", times in microseconds
 * and rates per second, on stdout; errors go to stderr.  Every count and
 * duration is bounded by the arguments (and checked), and every wait has a
 * timeout, so a broken proxy makes a run fail rather than hang.
 *
 * What is timed (CLOCK_MONOTONIC):
 *   latency   per connection, one after another: from socket() to the
 *             tunnel being ready ("ready": the proxy's 200 read, or
 *             connect() returned when direct), and to one byte sent through
 *             it and echoed back by the upstream ("echo": the first moment
 *             the connection has carried data both ways); with SAMPLES,
 *             every pair is also written there ("READY ECHO" per line), so
 *             runs can be merged
 *   rps       CONCURRENCY connections in flight, each one request
 *             (Connection: close) read to the end; completed requests per
 *             second over SECONDS, after one uncounted second of warm-up
 *   upload    one tunnel; BYTES announced to the sink and sent, from the
 *             first byte sent to the sink's answer (so every byte arrived)
 *   download  one tunnel; from asking the source for BYTES to the last of
 *             them read.  Then the source's end of file must follow within
 *             EOF_WAIT_MS; runs where it does not are counted (eof_missing),
 *             because a proxy that loses the end of a stream hangs clients
 *             that read to the end.
 *   hold      N tunnels opened (at most HOLD_WINDOW being set up at once),
 *             each checked with a one-byte echo, then held open while the
 *             caller measures; no new tunnel is started after SECONDS, so a
 *             proxy whose set-up slows down ends with fewer tunnels instead
 *             of an endless run.  Synchronised through files in DIR: we
 *             create hold.idle and wait for hold.go, open the tunnels,
 *             write hold.ready ("HELD FAILED"), wait for hold.done, exit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "proxyload"
#include "benchutil.h"

#define IO_TIMEOUT_MS 15000	/* one blocking step (connect, a reply) */
#define HEAD_MAX 4096		/* a proxy's reply head */
#define CHUNK (128 * 1024)
#define EOF_WAIT_MS 2000	/* download: end of file after the last byte */
#define REQ_TIMEOUT_US 5e6	/* rps: a request taking longer is an error */
#define HOLD_WINDOW 128		/* tunnels being set up at once in hold mode */
#define SYNC_TIMEOUT_S 300	/* hold mode: how long the caller may take */
#define MAX_N 1000000
#define MAX_SECONDS 600
#define MAX_CONC 4096
#define MAX_BYTES (64ULL << 30)
#define MAX_REPS 100

struct target {
	bool direct;
	struct sockaddr_in proxy;	/* where we connect when not direct */
	struct sockaddr_in addr;	/* where we connect when direct */
	char name[256];			/* NAME:PORT as sent to the proxy */
};

static void __attribute__((noreturn))
usage(void)
{
	fputs("usage: proxyload latency  PROXY TARGET N WARMUP [SAMPLES]\n"
	    "       proxyload rps      PROXY TARGET SECONDS CONCURRENCY\n"
	    "       proxyload upload   PROXY TARGET BYTES REPS\n"
	    "       proxyload download PROXY TARGET BYTES REPS\n"
	    "       proxyload hold     PROXY TARGET N SECONDS DIR\n"
	    "PROXY: direct | 127.0.0.1:PORT   TARGET: NAME:PORT (127.0.0.1:PORT when direct)\n",
	    stderr);
	exit(2);
}

static void
parse_target(const char *proxy, const char *target, struct target *t)
{
	const char *colon = strrchr(target, ':');

	memset(t, 0, sizeof(*t));
	if (!colon || colon == target || strlen(target) >= sizeof(t->name) ||
	    strspn(target, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:")
	    != strlen(target)) {
		fprintf(stderr, "proxyload: TARGET must be NAME:PORT, not '%s'\n", target);
		exit(2);
	}
	number(colon + 1, "target port", 1, 65535);
	snprintf(t->name, sizeof(t->name), "%s", target);
	t->direct = strcmp(proxy, "direct") == 0;
	if (t->direct)
		loopback_addr(target, &t->addr);
	else
		loopback_addr(proxy, &t->proxy);
}

static const struct sockaddr_in *
first_hop(const struct target *t)
{
	return t->direct ? &t->addr : &t->proxy;
}

static void
nodelay(int fd)
{
	int one = 1;

	/* Small writes (a head, one byte) must not wait for Nagle's timer. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Blocking sockets with a receive timeout: a silent peer fails the step. */
static int
open_conn(const struct sockaddr_in *sa)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	nodelay(fd);
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* "HTTP/1.x 200 ..." */
static bool
status_200(const char *head, size_t len)
{
	return len >= 12 && memcmp(head, "HTTP/1.", 7) == 0 && memcmp(head + 8, " 200", 4) == 0;
}

static size_t
connect_head(const struct target *t, char *buf, size_t len)
{
	int n = snprintf(buf, len, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", t->name, t->name);

	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/*
 * Read a reply head up to its blank line.  The proxy sends nothing after a
 * 200 to CONNECT until the upstream does, so nothing past the head is lost.
 */
static bool
read_reply_head(int fd, char *buf, size_t cap, size_t *len)
{
	*len = 0;
	while (*len + 1 < cap) {
		ssize_t n = recv(fd, buf + *len, cap - 1 - *len, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return false;
		}
		*len += (size_t)n;
		buf[*len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return true;
	}
	return false;
}

/* A ready tunnel (or direct connection) to the target, or -1 with a message. */
static int
open_tunnel(const struct target *t)
{
	char head[512], reply[HEAD_MAX];
	size_t hl, rl;
	int fd = open_conn(first_hop(t));

	if (fd < 0 || t->direct)
		return fd;
	hl = connect_head(t, head, sizeof(head));
	if (!send_all(fd, head, hl) || !read_reply_head(fd, reply, sizeof(reply), &rl)) {
		close(fd);
		return -1;
	}
	if (!status_200(reply, rl)) {
		fprintf(stderr, "proxyload: CONNECT %s: %.*s\n", t->name,
		    (int)strcspn(reply, "\r\n"), reply);
		close(fd);
		errno = ECONNREFUSED;
		return -1;
	}
	return fd;
}

/* ---- latency ---------------------------------------------------------- */

static int
run_latency(const struct target *t, size_t n, size_t warmup, const char *path)
{
	double *ready = samples(n), *echo = samples(n);
	size_t errors = 0, got = 0;
	FILE *out = NULL;

	for (size_t i = 0; i < warmup + n; i++) {
		double t0 = now_us(), t1, t2;
		char b = 'x';
		int fd = open_tunnel(t);

		if (fd < 0) {
			errors++;
			fprintf(stderr, "proxyload: latency: connection %zu: %s\n", i, strerror(errno));
			if (errors > 10)
				break;
			continue;
		}
		t1 = now_us();
		if (!send_all(fd, &b, 1) || recv(fd, &b, 1, 0) != 1) {
			errors++;
			close(fd);
			continue;
		}
		t2 = now_us();
		close(fd);
		if (i >= warmup) {
			ready[got] = t1 - t0;
			echo[got] = t2 - t0;
			got++;
		}
	}
	/* Written before print_dist() sorts the columns apart. */
	if (path) {
		if (!(out = fopen(path, "w")))
			die(path);
		for (size_t i = 0; i < got; i++)
			fprintf(out, "%.1f %.1f\n", ready[i], echo[i]);
		if (fclose(out) != 0)
			die(path);
	}
	printf("latency n=%zu errors=%zu", got, errors);
	print_dist("ready", ready, got);
	print_dist("echo", echo, got);
	printf("\n");
	return errors ? 1 : 0;
}

/* ---- requests per second ------------------------------------------------ */

enum slot_state { S_IDLE, S_CONNECTING, S_READING };

struct slot {
	int fd;
	enum slot_state st;
	double start;
	char head[16];		/* the status line's start, to check the 200 */
	size_t headlen;
};

struct rps_run {
	const struct target *t;
	int ep;
	char req[600];
	size_t reqlen;
	double t_count, t_end;	/* the counted window */
	size_t done, errors, timeouts, nlat, cap;
	double *lat;
};

static int
slot_start(struct rps_run *r, struct slot *s)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = s };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	nodelay(fd);
	s->start = now_us();
	s->headlen = 0;
	if (connect(fd, (const struct sockaddr *)first_hop(r->t), sizeof(struct sockaddr_in)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	s->fd = fd;
	s->st = S_CONNECTING;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl");
	return 0;
}

/* A request ended (ok, failed or timed out): count it if it ended in the window. */
static void
slot_end(struct rps_run *r, struct slot *s, bool failed, bool timeout)
{
	double end = now_us();

	close(s->fd);
	s->fd = -1;
	s->st = S_IDLE;
	if (end < r->t_count || end >= r->t_end)
		return;
	if (timeout) {
		r->timeouts++;
	} else if (failed) {
		r->errors++;
	} else {
		r->done++;
		if (r->nlat == r->cap) {
			r->cap *= 2;
			r->lat = realloc(r->lat, r->cap * sizeof(*r->lat));
			if (!r->lat)
				die("realloc");
		}
		r->lat[r->nlat++] = end - s->start;
	}
}

/* One readiness event; true when the request is over (slot_end called). */
static bool
slot_event(struct rps_run *r, struct slot *s)
{
	char buf[16384];

	if (s->st == S_CONNECTING) {
		int e = 0;
		socklen_t l = sizeof(e);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &l);
		/* The request is far below a socket buffer: one send. */
		if (e || send(s->fd, r->req, r->reqlen, MSG_NOSIGNAL) != (ssize_t)r->reqlen) {
			slot_end(r, s, true, false);
			return true;
		}
		if (epoll_ctl(r->ep, EPOLL_CTL_MOD, s->fd, &ev) < 0)
			die("epoll_ctl");
		s->st = S_READING;
		return false;
	}
	for (;;) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n < 0) {
			slot_end(r, s, true, false);
			return true;
		}
		if (n == 0) {
			slot_end(r, s, !status_200(s->head, s->headlen), false);
			return true;
		}
		if (s->headlen < sizeof(s->head)) {
			size_t k = sizeof(s->head) - s->headlen;
			if ((size_t)n < k)
				k = (size_t)n;
			memcpy(s->head + s->headlen, buf, k);
			s->headlen += k;
		}
	}
}

/*
 * CONCURRENCY requests in flight: each slot starts its next request as soon
 * as the last one ended.  After the window every request still in flight is
 * waited for (not counted), so the client never leaves the proxy holding
 * requests of a process that is gone.
 */
static int
run_rps(const struct target *t, unsigned seconds, unsigned conc)
{
	struct rps_run r = { .t = t, .cap = 1 << 16 };
	struct slot *slots = calloc(conc, sizeof(*slots));
	double t_begin, last_scan = 0;
	size_t busy = 0;
	int len;

	r.ep = epoll_create1(EPOLL_CLOEXEC);
	r.lat = samples(r.cap);
	if (r.ep < 0 || !slots)
		die("setup");
	if (t->direct)
		len = snprintf(r.req, sizeof(r.req), "GET / HTTP/1.1\r\nHost: %s\r\n"
		    "Connection: close\r\n\r\n", t->name);
	else
		len = snprintf(r.req, sizeof(r.req), "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n"
		    "Connection: close\r\n\r\n", t->name, t->name);
	r.reqlen = (size_t)len;
	t_begin = now_us();
	r.t_count = t_begin + 1e6;	/* one second of warm-up, not counted */
	r.t_end = r.t_count + (double)seconds * 1e6;
	for (unsigned i = 0; i < conc; i++) {
		if (slot_start(&r, &slots[i]) < 0)
			die("connect");
		busy++;
	}
	while (busy > 0) {
		struct epoll_event evs[256];
		bool running = now_us() < r.t_end;
		int n = epoll_wait(r.ep, evs, 256, 100);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		if (!running && now_us() > r.t_end + REQ_TIMEOUT_US)
			break;
		for (int i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;

			if (!slot_event(&r, s))
				continue;
			busy--;
			if (running) {
				if (slot_start(&r, s) < 0)
					die("connect");
				busy++;
			}
		}
		/* A request that never ends must not hold its slot for ever. */
		if (running && now_us() - last_scan > 1e5) {
			last_scan = now_us();
			for (unsigned i = 0; i < conc; i++) {
				if (slots[i].st == S_IDLE || last_scan - slots[i].start < REQ_TIMEOUT_US)
					continue;
				slot_end(&r, &slots[i], true, true);
				if (slot_start(&r, &slots[i]) < 0)
					die("connect");
			}
		}
	}
	printf("rps requests=%zu errors=%zu timeouts=%zu seconds=%u concurrency=%u rps=%.0f",
	    r.done, r.errors, r.timeouts, seconds, conc, (double)r.done / seconds);
	print_dist("req", r.lat, r.nlat);
	printf("\n");
	return r.errors || r.timeouts ? 1 : 0;
}

/* ---- throughput --------------------------------------------------------- */

/* After the last expected byte: does end of file arrive within EOF_WAIT_MS? */
static bool
eof_follows(int fd)
{
	struct timeval tv = { .tv_sec = EOF_WAIT_MS / 1000, .tv_usec = EOF_WAIT_MS % 1000 * 1000 };
	char b;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	do
		n = recv(fd, &b, 1, 0);
	while (n < 0 && errno == EINTR);
	return n == 0;
}

static int
run_bulk(const struct target *t, bool upload, unsigned long long bytes, unsigned reps)
{
	static char buf[CHUNK];
	double *mbps = samples(reps);
	unsigned eof_missing = 0;

	memset(buf, 'x', sizeof(buf));
	for (unsigned r = 0; r < reps; r++) {
		unsigned long long moved = 0;
		double t0, t1;
		int fd = open_tunnel(t);

		if (fd < 0)
			die(upload ? "upload: open" : "download: open");
		t0 = now_us();
		if (upload) {
			char line[32];
			size_t len = (size_t)snprintf(line, sizeof(line), "%llu\n", bytes);
			char *end;

			if (!send_all(fd, line, len))
				die("upload: send");
			while (moved < bytes) {
				size_t k = bytes - moved < CHUNK ? (size_t)(bytes - moved) : CHUNK;
				if (!send_all(fd, buf, k))
					die("upload: send");
				moved += k;
			}
			/* The sink's byte count: the time every byte has arrived. */
			len = 0;
			for (;;) {
				ssize_t n = recv(fd, line + len, sizeof(line) - 1 - len, 0);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;
				len += (size_t)n;
				if (len == sizeof(line) - 1)
					break;
			}
			t1 = now_us();
			line[len] = '\0';
			if (strtoull(line, &end, 10) != bytes || end == line) {
				fprintf(stderr, "proxyload: upload: the sink counted '%.*s', not %llu\n",
				    (int)strcspn(line, "\n"), line, bytes);
				exit(1);
			}
		} else {
			char line[32];
			int len = snprintf(line, sizeof(line), "%llu\n", bytes);

			if (!send_all(fd, line, (size_t)len))
				die("download: send");
			while (moved < bytes) {
				ssize_t n = recv(fd, buf, sizeof(buf), 0);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;
				moved += (unsigned long long)n;
			}
			t1 = now_us();
			if (moved != bytes) {
				fprintf(stderr, "proxyload: download: got %llu bytes, not %llu%s\n", moved,
				    bytes, errno == EAGAIN ? " (timed out)" : "");
				exit(1);
			}
			if (!eof_follows(fd))
				eof_missing++;
		}
		close(fd);
		mbps[r] = (double)bytes / (t1 - t0);	/* bytes per µs = MB/s */
	}
	qsort(mbps, reps, sizeof(*mbps), cmp_double);
	printf("%s bytes=%llu reps=%u mbps_median=%.1f mbps_min=%.1f mbps_max=%.1f",
	    upload ? "upload" : "download", bytes, reps, pct(mbps, reps, 0.5), mbps[0],
	    mbps[reps - 1]);
	if (!upload)
		printf(" eof_missing=%u", eof_missing);
	printf("\n");
	return 0;
}

/* ---- hold ---------------------------------------------------------------- */

enum hold_state { H_CONNECTING, H_HEAD, H_ECHO, H_HELD, H_FAILED };

struct tun {
	int fd;
	enum hold_state st;
	char head[HEAD_MAX];
	size_t headlen;
};

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[4096], tmp[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
		die(tmp);
	if (rename(tmp, path) < 0)
		die(path);
}

static bool
wait_file(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (int i = 0; i < SYNC_TIMEOUT_S * 50; i++) {
		if (stat(path, &st) == 0)
			return true;
		usleep(20000);
	}
	fprintf(stderr, "proxyload: hold: %s did not appear in %d s\n", path, SYNC_TIMEOUT_S);
	return false;
}

/* Advance one tunnel; returns its new state. */
static enum hold_state
tun_step(int ep, struct tun *u, const struct target *t)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = u };
	char b;

	switch (u->st) {
	case H_CONNECTING: {
		int e = 0;
		socklen_t l = sizeof(e);
		char head[512];
		size_t hl = connect_head(t, head, sizeof(head));

		getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e) {
			errno = e;
			return H_FAILED;
		}
		if (t->direct) {
			if (send(u->fd, "x", 1, MSG_NOSIGNAL) != 1)
				return H_FAILED;
			u->st = H_ECHO;
		} else {
			if (send(u->fd, head, hl, MSG_NOSIGNAL) != (ssize_t)hl)
				return H_FAILED;
			u->st = H_HEAD;
		}
		if (epoll_ctl(ep, EPOLL_CTL_MOD, u->fd, &ev) < 0)
			die("epoll_ctl");
		return u->st;
	}
	case H_HEAD: {
		ssize_t n = recv(u->fd, u->head + u->headlen, sizeof(u->head) - 1 - u->headlen, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return u->st;
		if (n <= 0)
			return H_FAILED;
		u->headlen += (size_t)n;
		u->head[u->headlen] = '\0';
		if (!strstr(u->head, "\r\n\r\n"))
			return u->headlen + 1 < sizeof(u->head) ? u->st : H_FAILED;
		if (!status_200(u->head, u->headlen)) {
			fprintf(stderr, "proxyload: hold: %.*s\n", (int)strcspn(u->head, "\r\n"),
			    u->head);
			return H_FAILED;
		}
		if (send(u->fd, "x", 1, MSG_NOSIGNAL) != 1)
			return H_FAILED;
		u->st = H_ECHO;
		return u->st;
	}
	case H_ECHO: {
		ssize_t n = recv(u->fd, &b, 1, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return u->st;
		return n == 1 && b == 'x' ? H_HELD : H_FAILED;
	}
	default:
		return u->st;
	}
}

static int
run_hold(const struct target *t, size_t n, unsigned seconds, const char *dir)
{
	struct tun *tuns = calloc(n, sizeof(*tuns));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	size_t next = 0, busy = 0, held = 0, failed = 0;
	double t0, t1, last = 0, stop;
	char text[64];
	const size_t want = n;

	if (!tuns || ep < 0)
		die("setup");
	write_file(dir, "hold.idle", "idle\n");
	if (!wait_file(dir, "hold.go"))
		return 1;
	t0 = now_us();
	last = t0;
	stop = t0 + (double)seconds * 1e6;
	while (held + failed < next || next < n) {
		struct epoll_event evs[256];
		int k;

		if (next < n && now_us() >= stop) {
			fprintf(stderr, "proxyload: hold: %u s are up: %zu of %zu tunnels started\n",
			    seconds, next, n);
			n = next;
			if (busy == 0)
				break;
		}
		while (busy < HOLD_WINDOW && next < n) {
			struct tun *u = &tuns[next++];
			struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = u };

			u->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (u->fd < 0 || (connect(u->fd, (const struct sockaddr *)first_hop(t),
			    sizeof(struct sockaddr_in)) < 0 && errno != EINPROGRESS)) {
				fprintf(stderr, "proxyload: hold: tunnel %zu: %s\n", next - 1,
				    strerror(errno));
				if (u->fd >= 0)
					close(u->fd);
				u->fd = -1;
				u->st = H_FAILED;
				failed++;
				continue;
			}
			nodelay(u->fd);
			u->st = H_CONNECTING;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, u->fd, &ev) < 0)
				die("epoll_ctl");
			busy++;
		}
		k = epoll_wait(ep, evs, 256, 1000);
		if (k < 0 && errno != EINTR)
			die("epoll_wait");
		if (k > 0)
			last = now_us();
		else if (now_us() - last > IO_TIMEOUT_MS * 1e3) {
			fprintf(stderr, "proxyload: hold: no progress for %d s (%zu held, %zu failed, "
			    "%zu in flight)\n", IO_TIMEOUT_MS / 1000, held, failed, busy);
			break;
		}
		for (int i = 0; i < k; i++) {
			struct tun *u = evs[i].data.ptr;
			enum hold_state s = tun_step(ep, u, t);

			if (s != H_HELD && s != H_FAILED)
				continue;
			/* Held tunnels stay open but leave the epoll set: nothing more to do. */
			epoll_ctl(ep, EPOLL_CTL_DEL, u->fd, NULL);
			busy--;
			if (s == H_HELD) {
				held++;
				/* Progress, so a slow set-up shows how its rate changes. */
				if (held % 1000 == 0)
					fprintf(stderr, "proxyload: hold: %zu tunnels after %.1f s\n", held,
					    (now_us() - t0) / 1e6);
			} else {
				failed++;
				close(u->fd);
				u->fd = -1;
			}
			u->st = s;
		}
	}
	t1 = now_us();
	failed = next - held;
	snprintf(text, sizeof(text), "%zu %zu\n", held, failed);
	write_file(dir, "hold.ready", text);
	printf("hold requested=%zu held=%zu failed=%zu setup_s=%.2f tunnels_per_s=%.0f\n", want,
	    held, failed, (t1 - t0) / 1e6, (double)held / ((t1 - t0) / 1e6));
	fflush(stdout);
	wait_file(dir, "hold.done");
	return held == want ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct target t;
	struct rlimit rl;

	if (argc < 4)
		usage();
	signal(SIGPIPE, SIG_IGN);
	/* hold mode needs one descriptor per tunnel. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	parse_target(argv[2], argv[3], &t);
	if (strcmp(argv[1], "latency") == 0 && (argc == 6 || argc == 7))
		return run_latency(&t, number(argv[4], "N", 1, MAX_N),
		    number(argv[5], "WARMUP", 0, MAX_N), argc == 7 ? argv[6] : NULL);
	if (strcmp(argv[1], "rps") == 0 && argc == 6)
		return run_rps(&t, (unsigned)number(argv[4], "SECONDS", 1, MAX_SECONDS),
		    (unsigned)number(argv[5], "CONCURRENCY", 1, MAX_CONC));
	if ((strcmp(argv[1], "upload") == 0 || strcmp(argv[1], "download") == 0) && argc == 6)
		return run_bulk(&t, argv[1][0] == 'u', number(argv[4], "BYTES", 1, MAX_BYTES),
		    (unsigned)number(argv[5], "REPS", 1, MAX_REPS));
	if (strcmp(argv[1], "hold") == 0 && argc == 7)
		return run_hold(&t, number(argv[4], "N", 1, MAX_N),
		    (unsigned)number(argv[5], "SECONDS", 1, MAX_SECONDS), argv[6]);
	usage();
}
