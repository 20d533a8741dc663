/*
 * bench/upstream.c: the upstream servers of the egress-proxy benchmark
 * (bench/proxy.sh), on the host's loopback.
 *
 *   upstream PORTFILE
 *
 * Listens on five kernel-chosen ports of 127.0.0.1 and writes them to
 * PORTFILE (written to PORTFILE.tmp, then renamed, so a reader never sees
 * half a file) as "echo N", "sink N", "source N", "http N" and "llm N"
 * lines:
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
 *   llm     a model provider stand-in for the privacy-router benchmark
 *           (bench/router.sh): every request, whatever its method and
 *           path, read whole (Content-Length framing) and answered with the
 *           same small Anthropic Messages response, the connection kept
 *           alive (closed after the answer when the request says
 *           "Connection: close").  A request it cannot frame (chunked, no
 *           valid Content-Length on a body, too large) gets a 400 and the
 *           connection is closed.
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
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define IOBUF (256 * 1024)
#define LINE_MAX_LEN 32		/* the source request: a decimal byte count */
#define HEAD_MAX 8192		/* an HTTP request head */
#define LLM_BODY_MAX (1 << 20)	/* an llm request body */

enum kind { K_ECHO, K_SINK, K_SOURCE, K_HTTP, K_LLM, K_NKINDS };
static const char *const kind_name[K_NKINDS] = { "echo", "sink", "source", "http", "llm" };

struct conn {
	int fd;
	enum kind kind;
	bool listener;
	bool writing;		/* waiting for EPOLLOUT */
	bool have_count;	/* sink, source: the count line has been read */
	bool close_after;	/* llm: close once the answer is out */
	uint64_t count;		/* sink: bytes still expected; source: bytes left to send */
	uint64_t total;		/* sink: the count asked for */
	char *out;		/* bytes still to send (echo tail, replies) */
	size_t outlen, outoff;
	char *in;		/* source line / HTTP head (llm: requests) being read */
	size_t inlen;
};

static int ep;
static char iobuf[IOBUF];	/* shared: nothing is kept in it between events */
static char zeros[IOBUF];	/* what the source sends */
static char llm_reply[1024];	/* the llm port's whole response, head and body */
static size_t llm_reply_len;

static void llm_answer(struct conn *c);

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
			/*
			 * An echo goes back to reading, and so does a kept-alive llm
			 * connection (answering what it already holds); every other
			 * reply ends it.
			 */
			if (c->kind == K_ECHO || (c->kind == K_LLM && !c->close_after)) {
				c->writing = false;
				watch(c, EPOLL_CTL_MOD, EPOLLIN);
				if (c->kind == K_LLM)
					llm_answer(c);
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

/* ---- llm: the model provider stand-in ---------------------------------- */

/*
 * The value of header NAME (lower case, with its colon) in the request head
 * [head, head + len), or NULL.  Header names are matched without regard to
 * case at the start of a line; *vlen gets the value's length, trimmed.
 */
static const char *
head_value(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);

	for (const char *p = head; p && p < head + len; ) {
		const char *eol = memchr(p, '\n', (size_t)(head + len - p));
		const char *v, *e;

		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0) {
			v = p + nl;
			e = eol;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*vlen = (size_t)(e - v);
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

/* Whether the comma-separated header value [v, v + n) holds TOKEN (any case). */
static bool
has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token);

	for (size_t i = 0; i + tl <= n; i++)
		if (strncasecmp(v + i, token, tl) == 0 && (i == 0 || v[i - 1] == ',' ||
		    v[i - 1] == ' ') && (i + tl == n || v[i + tl] == ',' || v[i + tl] == ' '))
			return true;
	return false;
}

/*
 * The framing of the request whose head is [in, in + headlen): *body gets
 * its body length.  False when it cannot be framed by Content-Length
 * (Transfer-Encoding, a malformed or oversize length).
 */
static bool
llm_framing(const char *in, size_t headlen, size_t *body)
{
	size_t vl;
	const char *v;
	char num[24], *end;
	unsigned long long n;

	*body = 0;
	if (head_value(in, headlen, "transfer-encoding:", &vl))
		return false;
	if (!(v = head_value(in, headlen, "content-length:", &vl)))
		return true;
	if (vl == 0 || vl >= sizeof(num) || strspn(v, "0123456789") < vl)
		return false;
	memcpy(num, v, vl);
	num[vl] = '\0';
	errno = 0;
	n = strtoull(num, &end, 10);
	if (errno || *end != '\0' || n > LLM_BODY_MAX)
		return false;
	*body = (size_t)n;
	return true;
}

/*
 * Send an answer now; what the socket does not take waits for EPOLLOUT.
 * Returns false when c was closed (a send error, or the answer was the
 * last one); c must not be touched then.
 */
static bool
llm_send(struct conn *c, const char *p, size_t n)
{
	ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

	if (w < 0 && errno != EAGAIN && errno != EINTR) {
		conn_close(c);
		return false;
	}
	if (w < 0)
		w = 0;
	if ((size_t)w < n) {
		queue_out(c, p + w, n - (size_t)w);
		return true;
	}
	if (c->close_after) {
		conn_close(c);
		return false;
	}
	return true;
}

/*
 * Answer every complete request held in c->in, in order, until one is
 * incomplete or an answer has to wait for the socket (on_writable calls
 * back here once it is out).  May close c.
 */
static void
llm_answer(struct conn *c)
{
	static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 37\r\nConnection: close\r\n\r\n"
	    "request not framed by Content-Length\n";

	while (!c->writing && c->in) {
		const char *end = strstr(c->in, "\r\n\r\n");
		size_t headlen, body, total, vl;
		const char *conn;

		if (!end)
			return;
		headlen = (size_t)(end - c->in) + 4;
		if (!llm_framing(c->in, headlen, &body)) {
			c->close_after = true;
			llm_send(c, bad, sizeof(bad) - 1);
			return;
		}
		total = headlen + body;
		if (c->inlen < total)
			return;
		conn = head_value(c->in, headlen, "connection:", &vl);
		c->close_after = conn && has_token(conn, vl, "close");
		memmove(c->in, c->in + total, c->inlen - total + 1);
		c->inlen -= total;
		if (!llm_send(c, llm_reply, llm_reply_len) || c->close_after)
			return;		/* closed, or closing once the answer is out */
	}
}

/* The llm port's response: a short Anthropic Messages reply, kept alive. */
static void
llm_reply_init(void)
{
	static const char body[] = "{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"claude-sonnet-4\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"The benchmark provider read your request.\"}],\"stop_reason\":\"end_turn\","
	    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":1024,\"output_tokens\":9}}";
	int n = snprintf(llm_reply, sizeof(llm_reply), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "request-id: req_bench\r\n\r\n%s", sizeof(body) - 1, body);

	if (n < 0 || (size_t)n >= sizeof(llm_reply)) {
		fprintf(stderr, "upstream: the llm reply does not fit\n");
		exit(1);
	}
	llm_reply_len = (size_t)n;
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
	case K_LLM:
		if (n == 0 || !append_in(c, iobuf, (size_t)n, HEAD_MAX + LLM_BODY_MAX)) {
			conn_close(c);
			return;
		}
		llm_answer(c);
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
	llm_reply_init();
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
