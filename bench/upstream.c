/*
 * bench/upstream.c: the upstream servers of the egress-proxy benchmark
 * (bench/proxy.sh), on the host's loopback.
 *
 *   upstream PORTFILE
 *
 * Listens on four kernel-chosen ports of 127.0.0.1 and writes them to
 * PORTFILE (written to PORTFILE.tmp, then renamed, so a reader never sees
 * half a file) as "echo N", "sink N", "source N" and "http N" lines:
 *
 *   echo    sends back every byte it receives (set-up latency, held tunnels)
 *   sink    reads one decimal line N, then discards N bytes and answers
 *           "N" as one decimal line and closes (upload throughput: the
 *           client's clock stops when every byte has arrived).  The count
 *           comes first because a proxy need not pass on a half-close
 *           (tinyproxy closes both ways on the client's FIN).
 *   source  reads one decimal line N, sends N bytes, closes (download)
 *   http    answers every request head with a 2-byte 200 response and
 *           closes (requests per second through a forward proxy)
 *
 * One thread, one epoll set, level-triggered, non-blocking sockets: the
 * same server serves the direct runs and both proxies, so whatever it
 * costs is in every row.  It holds as many connections as RLIMIT_NOFILE
 * allows (the soft limit is raised to the hard one) and keeps no buffer per
 * connection except the unsent tail of an echo, so ten thousand idle
 * connections cost it little.  It runs until killed.
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
#include <unistd.h>

#define IOBUF (256 * 1024)
#define LINE_MAX_LEN 32		/* the source request: a decimal byte count */
#define HEAD_MAX 8192		/* an HTTP request head */

enum kind { K_ECHO, K_SINK, K_SOURCE, K_HTTP, K_NKINDS };
static const char *const kind_name[K_NKINDS] = { "echo", "sink", "source", "http" };

struct conn {
	int fd;
	enum kind kind;
	bool listener;
	bool writing;		/* waiting for EPOLLOUT */
	bool have_count;	/* sink, source: the count line has been read */
	uint64_t count;		/* sink: bytes still expected; source: bytes left to send */
	uint64_t total;		/* sink: the count asked for */
	char *out;		/* bytes still to send (echo tail, replies) */
	size_t outlen, outoff;
	char *in;		/* source line / HTTP head being read */
	size_t inlen;
};

static int ep;
static char iobuf[IOBUF];	/* shared: nothing is kept in it between events */
static char zeros[IOBUF];	/* what the source sends */

static void
die(const char *what)
{
	fprintf(stderr, "upstream: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
watch(struct conn *c, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(ep, op, c->fd, &ev) < 0)
		die("epoll_ctl");
}

static void
conn_close(struct conn *c)
{
	/* close() also removes the fd from the epoll set (no dup of it exists). */
	close(c->fd);
	free(c->out);
	free(c->in);
	free(c);
}

/* Queue bytes to send and switch the connection to waiting for EPOLLOUT. */
static void
queue_out(struct conn *c, const char *p, size_t n)
{
	c->out = malloc(n);
	if (!c->out)
		die("malloc");
	memcpy(c->out, p, n);
	c->outlen = n;
	c->outoff = 0;
	c->writing = true;
	watch(c, EPOLL_CTL_MOD, EPOLLOUT);
}

/*
 * Send what is queued (or, for the source, more zeros).  Returns true when
 * the connection is finished and has been closed.
 */
static bool
on_writable(struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->out) {
			n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
			if (n < 0)
				goto error;
			c->outoff += (size_t)n;
			if (c->outoff < c->outlen)
				return false;
			free(c->out);
			c->out = NULL;
			/* An echo goes back to reading; every other reply ends it. */
			if (c->kind == K_ECHO) {
				c->writing = false;
				watch(c, EPOLL_CTL_MOD, EPOLLIN);
				return false;
			}
			if (c->kind != K_SOURCE || c->count == 0) {
				conn_close(c);
				return true;
			}
		}
		if (c->kind != K_SOURCE)
			return false;
		if (c->count == 0) {
			conn_close(c);
			return true;
		}
		n = send(c->fd, zeros, c->count < IOBUF ? c->count : IOBUF, MSG_NOSIGNAL);
		if (n < 0)
			goto error;
		c->count -= (uint64_t)n;
	}
error:
	if (errno == EAGAIN || errno == EINTR)
		return false;
	conn_close(c);
	return true;
}

/* Append received bytes to c->in (bounded); false when over the bound. */
static bool
append_in(struct conn *c, const char *p, size_t n, size_t max)
{
	char *q;

	if (c->inlen + n > max)
		return false;
	q = realloc(c->in, c->inlen + n + 1);
	if (!q)
		die("realloc");
	c->in = q;
	memcpy(c->in + c->inlen, p, n);
	c->inlen += n;
	c->in[c->inlen] = '\0';
	return true;
}

/*
 * The first line of a sink or source connection: a decimal byte count.
 * The n new bytes are in iobuf; on success c->count is set and *used says
 * how many of them the line took.  False while the line is incomplete, and
 * when it is malformed (then c is closed).
 */
static bool
read_count(struct conn *c, size_t n, size_t *used)
{
	const char *nl = memchr(iobuf, '\n', n);
	char *end;
	unsigned long long v;

	/* Only the line is kept: the data after it may be a whole buffer. */
	*used = nl ? (size_t)(nl - iobuf) + 1 : n;
	if (!append_in(c, iobuf, *used, LINE_MAX_LEN)) {
		conn_close(c);
		return false;
	}
	if (!nl)
		return false;
	c->in[c->inlen - 1] = '\0';
	errno = 0;
	v = strtoull(c->in, &end, 10);
	if (errno || end == c->in || *end != '\0' || c->in[0] == '-') {
		conn_close(c);
		return false;
	}
	/* Move the remaining bytes of iobuf to its start for the caller. */
	memmove(iobuf, iobuf + *used, n - *used);
	c->count = v;
	c->have_count = true;
	return true;
}

static void
on_readable(struct conn *c)
{
	static const char http_ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 2\r\nConnection: close\r\n\r\nok";
	ssize_t n = recv(c->fd, iobuf, sizeof(iobuf), 0);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_close(c);
		return;
	}
	switch (c->kind) {
	case K_ECHO:
		if (n == 0) {
			conn_close(c);
			return;
		}
		{
			ssize_t w = send(c->fd, iobuf, (size_t)n, MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				conn_close(c);
				return;
			}
			if (w < 0)
				w = 0;
			/* Stop reading until the tail is out: bounded memory per peer. */
			if (w < n)
				queue_out(c, iobuf + w, (size_t)(n - w));
		}
		return;
	case K_SINK:
		if (n == 0) {
			conn_close(c);
			return;
		}
		if (!c->have_count) {
			size_t used;

			if (!read_count(c, (size_t)n, &used))
				return;
			c->total = c->count;
			n -= (ssize_t)used;
		}
		/* Whatever follows the count is data; a client sends nothing after it. */
		c->count -= (uint64_t)n < c->count ? (uint64_t)n : c->count;
		if (c->count == 0) {
			char line[32];
			int len = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)c->total);
			queue_out(c, line, (size_t)len);
		}
		return;
	case K_SOURCE: {
		size_t used;

		if (n == 0 || c->have_count) {
			conn_close(c);
			return;
		}
		if (!read_count(c, (size_t)n, &used))
			return;
		c->writing = true;
		watch(c, EPOLL_CTL_MOD, EPOLLOUT);
		return;
	}
	case K_HTTP:
		if (n == 0 || !append_in(c, iobuf, (size_t)n, HEAD_MAX)) {
			conn_close(c);
			return;
		}
		if (strstr(c->in, "\r\n\r\n"))
			queue_out(c, http_ok, sizeof(http_ok) - 1);
		return;
	default:
		return;
	}
}

static void
on_accept(struct conn *l)
{
	for (;;) {
		struct conn *c;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;

		if (fd < 0) {
			/* Out of descriptors is reported, not fatal: the run shows the failures. */
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "upstream: accept: %s\n", strerror(errno));
			return;
		}
		/* Small echoes and replies must not wait for Nagle's timer. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c)
			die("calloc");
		c->fd = fd;
		c->kind = l->kind;
		watch(c, EPOLL_CTL_ADD, EPOLLIN);
	}
}

static struct conn *
listen_on(enum kind kind, uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct conn *l = calloc(1, sizeof(*l));
	int one = 1;

	if (!l)
		die("calloc");
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		die("socket");
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind 127.0.0.1");
	/* The kernel caps the backlog at somaxconn; ask for the most. */
	if (listen(l->fd, 65535) < 0)
		die("listen");
	if (getsockname(l->fd, (struct sockaddr *)&sa, &len) < 0)
		die("getsockname");
	*port = ntohs(sa.sin_port);
	l->kind = kind;
	l->listener = true;
	watch(l, EPOLL_CTL_ADD, EPOLLIN);
	return l;
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	char tmp[4096], text[256];
	size_t off = 0;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: upstream PORTFILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	for (int k = 0; k < K_NKINDS; k++) {
		uint16_t port;

		listen_on((enum kind)k, &port);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s %u\n",
		    kind_name[k], (unsigned)port);
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= sizeof(tmp)) {
		fprintf(stderr, "upstream: path too long\n");
		return 2;
	}
	if (!(f = fopen(tmp, "w")) || fputs(text, f) < 0 || fclose(f) != 0)
		die(tmp);
	if (rename(tmp, argv[1]) < 0)
		die("rename");

	for (;;) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->listener)
				on_accept(c);
			else if (c->writing)
				on_writable(c);
			else
				on_readable(c);
		}
	}
}
