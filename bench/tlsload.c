/*
 * bench/tlsload.c: the HTTPS client of the L7-inspection benchmark
 * (bench/tls.sh).  Built static, so the same binary runs on the host (the
 * direct row) and inside a warden sandbox (tunnelled and inspected rows),
 * where only the system directories and the workdir exist.
 *
 *   tlsload keepalive PROXY TARGET CAFILE PATH N WARMUP [SAMPLES [SYNCDIR]]
 *   tlsload connect   PROXY TARGET CAFILE PATH M WARMUP [SAMPLES]
 *   tlsload connect-quickack PROXY TARGET CAFILE PATH M WARMUP [SAMPLES]
 *
 * PROXY is "direct" or the HTTP proxy's 127.0.0.1:PORT; TARGET is
 * NAME:PORT.  Through a proxy the client sends "CONNECT NAME:PORT" and
 * waits for the 200; direct, it connects to 127.0.0.1:PORT itself.  Either
 * way NAME is the TLS server name (SNI) and the name the certificate must
 * carry, and the requests say "Host: NAME:PORT".  The server certificate is
 * verified against CAFILE (PEM trust anchors) and nothing else; a
 * verification failure is an error, never ignored.  PATH is the request
 * target of every GET ("/bench/item").  Only 127.0.0.1 is ever connected
 * to, so a mistyped argument cannot send traffic off the machine.
 *
 *   keepalive  one connection (CONNECT, TLS handshake), then WARMUP
 *              uncounted and N counted GET requests on it, one after
 *              another; each is timed from the first byte written to the
 *              last byte of the response read (CLOCK_MONOTONIC).  What is
 *              measured is the steady state of a kept-alive connection:
 *              what each request costs once the connection exists.
 *              With SYNCDIR the counted requests are bracketed for an
 *              observer outside (bench/tls.sh reads the proxy's CPU time):
 *              after the warm-up the client creates SYNCDIR/ka.ready and
 *              waits for SYNCDIR/ka.go; after the last counted request it
 *              creates ka.end and waits for ka.done (each wait at most
 *              SYNC_TIMEOUT_S, then the run fails).
 *   connect    WARMUP uncounted and M counted fresh connections, one after
 *              another, each: socket, CONNECT, TLS handshake, one GET, its
 *              response, close.  Three times per connection, all from
 *              socket(): "ready" (the proxy's 200; direct: connect()
 *              returned), "handshake" (TLS handshake complete, certificate
 *              verified) and "total" (the response read).
 *   connect-quickack  the same, but the client sets TCP_QUICKACK before
 *              every read, so it acknowledges each segment at once instead
 *              of after the kernel's delayed-ACK timer (up to 40 ms).  A
 *              peer whose small write waits for the ACK of the one before
 *              (Nagle's algorithm) is then not held up, so this mode shows
 *              the work a new connection costs apart from such timer
 *              stalls, which "connect" shows as a client sees them.
 *
 * Each mode prints one line on stdout, "MODE n=... errors=... KEY_p50=...",
 * times in microseconds; with SAMPLES the raw times are also written there,
 * one request or connection per line (keepalive: "RTT"; connect: "READY
 * HANDSHAKE TOTAL"), so runs can be merged.  Errors go to stderr.  Every
 * count is bounded and every wait has a timeout, so a broken proxy makes a
 * run fail rather than hang; more than MAX_ERRORS failures end the run.
 *
 * Responses must be "HTTP/1.1 200" with a Content-Length body (what
 * bench/tlsupstream.c sends); anything else, such as a proxy's 403 or 421,
 * is printed (status line and body) and counted as an error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#define BENCH_PROG "tlsload"
#include "benchutil.h"

#define IO_TIMEOUT_S 15		/* one blocking step (connect, a reply) */
#define HEAD_MAX 8192		/* a proxy's or the server's reply head */
#define BODY_MAX 65536		/* a response body (a denial's JSON, or "ok") */
#define MAX_N 1000000
#define MAX_ERRORS 10
#define SYNC_TIMEOUT_S 30	/* keepalive with SYNCDIR: the observer's turn */

struct target {
	bool direct;
	struct sockaddr_in addr;	/* where we connect: proxy or upstream */
	char name[256];			/* NAME (SNI, certificate, Host) */
	char hostport[300];		/* NAME:PORT (CONNECT, Host) */
	const char *path;
};

/* One TLS connection, with bytes read past the last response kept. */
struct conn {
	int fd;
	SSL *ssl;
	char buf[HEAD_MAX + BODY_MAX];
	size_t len;
};

static SSL_CTX *ctx;
static bool quickack;		/* connect-quickack */

/* The reason of the last TLS failure (OpenSSL's error queue, emptied). */
static const char *
ssl_reason(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (!e)
		return errno ? strerror(errno) : "connection closed";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static void __attribute__((noreturn))
usage(void)
{
	fputs("usage: tlsload keepalive PROXY TARGET CAFILE PATH N WARMUP [SAMPLES [SYNCDIR]]\n"
	    "       tlsload connect   PROXY TARGET CAFILE PATH M WARMUP [SAMPLES]\n"
	    "       tlsload connect-quickack PROXY TARGET CAFILE PATH M WARMUP [SAMPLES]\n"
	    "PROXY: direct | 127.0.0.1:PORT   TARGET: NAME:PORT   PATH: /...\n",
	    stderr);
	exit(2);
}

static void
parse_target(const char *proxy, const char *target, const char *path, struct target *t)
{
	const char *colon = strrchr(target, ':');
	unsigned long long port;

	memset(t, 0, sizeof(*t));
	if (!colon || colon == target || (size_t)(colon - target) >= sizeof(t->name) ||
	    strspn(target, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:")
	    != strlen(target)) {
		fprintf(stderr, "tlsload: TARGET must be NAME:PORT, not '%s'\n", target);
		exit(2);
	}
	port = number(colon + 1, "target port", 1, 65535);
	snprintf(t->name, sizeof(t->name), "%.*s", (int)(colon - target), target);
	snprintf(t->hostport, sizeof(t->hostport), "%s:%llu", t->name, port);
	if (path[0] != '/' || strlen(path) > 1024 || strpbrk(path, " \r\n")) {
		fprintf(stderr, "tlsload: PATH must start with / and hold no spaces, not '%s'\n", path);
		exit(2);
	}
	t->path = path;
	t->direct = strcmp(proxy, "direct") == 0;
	if (t->direct) {
		char lo[64];

		snprintf(lo, sizeof(lo), "127.0.0.1:%llu", port);
		loopback_addr(lo, &t->addr);
	} else {
		loopback_addr(proxy, &t->addr);
	}
}

/*
 * The client context: TLS 1.2 or later, the certificate verified against
 * CAFILE only (not the system store: the benchmark must know which anchor
 * it trusts), ALPN offering http/1.1 as curl and browsers do.
 */
static void
make_ctx(const char *cafile)
{
	static const unsigned char alpn[] = "\x08http/1.1";

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		fprintf(stderr, "tlsload: SSL_CTX_new: %s\n", ssl_reason());
		exit(1);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
		fprintf(stderr, "tlsload: cannot load CA file '%s': %s\n", cafile, ssl_reason());
		exit(1);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
	/* Every connection is a full handshake: no session is kept to resume. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

/* Blocking socket with send and receive timeouts: a silent peer fails the step. */
static int
open_socket(const struct target *t)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Small writes (a head, a request) must not wait for Nagle's timer. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&t->addr, sizeof(t->addr)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * CONNECT and the proxy's answer.  The answer is read one byte at a time:
 * it is short, and nothing after its blank line may be consumed, because
 * the next bytes are the server's TLS handshake.
 */
static bool
proxy_connect(int fd, const struct target *t)
{
	char head[700], reply[HEAD_MAX];
	size_t len = 0;
	int hl = snprintf(head, sizeof(head), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	    t->hostport, t->hostport);

	if (!send_all(fd, head, (size_t)hl)) {
		fprintf(stderr, "tlsload: CONNECT: %s\n", strerror(errno));
		return false;
	}
	while (len + 1 < sizeof(reply)) {
		ssize_t n = recv(fd, reply + len, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "tlsload: CONNECT %s: %s\n", t->hostport,
			    n == 0 ? "the proxy closed the connection" : strerror(errno));
			return false;
		}
		len++;
		reply[len] = '\0';
		if (len >= 4 && memcmp(reply + len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	if (len < 12 || memcmp(reply, "HTTP/1.", 7) != 0 || memcmp(reply + 8, " 200", 4) != 0) {
		fprintf(stderr, "tlsload: CONNECT %s: %.*s\n", t->hostport,
		    (int)strcspn(reply, "\r\n"), reply);
		return false;
	}
	return true;
}

/* Acknowledge what arrives next at once (the flag does not stick: set per read). */
static void
ack_now(int fd)
{
	int one = 1;

	if (quickack)
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static void
conn_close(struct conn *c)
{
	if (c->ssl) {
		/* close_notify, without waiting for the peer's. */
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	ERR_clear_error();
}

/*
 * Open C: socket, CONNECT (unless direct), TLS handshake with SNI and the
 * host name checked.  *t_ready and *t_hs get the moments the tunnel and the
 * handshake were done.  False (with a message, C closed) on any failure.
 */
static bool
conn_open(struct conn *c, const struct target *t, double *t_ready, double *t_hs)
{
	long vr;

	c->len = 0;
	c->ssl = NULL;
	c->fd = open_socket(t);
	if (c->fd < 0) {
		fprintf(stderr, "tlsload: connect: %s\n", strerror(errno));
		return false;
	}
	if (!t->direct && !proxy_connect(c->fd, t)) {
		conn_close(c);
		return false;
	}
	*t_ready = now_us();
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, t->name) != 1 || SSL_set1_host(c->ssl, t->name) != 1) {
		fprintf(stderr, "tlsload: TLS set-up: %s\n", ssl_reason());
		conn_close(c);
		return false;
	}
	ack_now(c->fd);
	errno = 0;
	if (SSL_connect(c->ssl) != 1) {
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			fprintf(stderr, "tlsload: TLS handshake with %s: certificate verify failed: %s\n",
			    t->hostport, X509_verify_cert_error_string(vr));
		else
			fprintf(stderr, "tlsload: TLS handshake with %s: %s\n", t->hostport, ssl_reason());
		conn_close(c);
		return false;
	}
	*t_hs = now_us();
	return true;
}

/* More bytes into c->buf; false at end of stream, error or a full buffer. */
static bool
conn_fill(struct conn *c)
{
	size_t got;

	if (c->len == sizeof(c->buf))
		return false;
	ack_now(c->fd);
	errno = 0;
	if (SSL_read_ex(c->ssl, c->buf + c->len, sizeof(c->buf) - c->len, &got) != 1)
		return false;
	c->len += got;
	return true;
}

/* The value of Content-Length in HEAD (up to its blank line), or -1. */
static long
content_length(const char *head, size_t len)
{
	static const char name[] = "\r\ncontent-length:";
	const size_t nl = sizeof(name) - 1;

	for (size_t i = 0; i + nl < len; i++) {
		char *end;
		long v;

		if (strncasecmp(head + i, name, nl) != 0)
			continue;
		errno = 0;
		v = strtol(head + i + nl, &end, 10);
		if (errno || end == head + i + nl || v < 0 || v > BODY_MAX)
			return -1;
		return v;
	}
	return -1;
}

/*
 * One request and its response on C.  True for a 200 read to its end; any
 * other answer is shown (status line, and the body: a proxy's denial says
 * why) and is false.  Bytes after the response stay in c->buf.
 */
static bool
conn_request(struct conn *c, const struct target *t, bool close_after)
{
	char req[1500];
	int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: tlsload\r\nAccept: */*\r\n%s\r\n", t->path, t->hostport,
	    close_after ? "Connection: close\r\n" : "");
	size_t w, headlen, total;
	char *end;
	long cl;
	bool ok;

	if (SSL_write_ex(c->ssl, req, (size_t)rl, &w) != 1 || w != (size_t)rl) {
		fprintf(stderr, "tlsload: request: %s\n", ssl_reason());
		return false;
	}
	for (;;) {
		end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (end)
			break;
		if (c->len >= HEAD_MAX || !conn_fill(c)) {
			fprintf(stderr, "tlsload: response head: %s\n",
			    c->len >= HEAD_MAX ? "too long" : ssl_reason());
			return false;
		}
	}
	headlen = (size_t)(end + 4 - c->buf);
	ok = headlen >= 12 && memcmp(c->buf, "HTTP/1.1 200", 12) == 0;
	cl = content_length(c->buf, headlen);
	if (cl < 0 && ok) {
		fprintf(stderr, "tlsload: response without a usable Content-Length: %.*s\n",
		    (int)strcspn(c->buf, "\r\n"), c->buf);
		return false;
	}
	/* A refusal may be framed by the connection's end: read what comes. */
	total = cl < 0 ? sizeof(c->buf) : headlen + (size_t)cl;
	while (c->len < total) {
		if (!conn_fill(c)) {
			if (cl < 0)
				break;
			fprintf(stderr, "tlsload: response body: %s\n", ssl_reason());
			return false;
		}
	}
	if (!ok) {
		size_t body = c->len - headlen;

		fprintf(stderr, "tlsload: GET %s: %.*s %.*s\n", t->path,
		    (int)strcspn(c->buf, "\r\n"), c->buf, (int)(body > 600 ? 600 : body),
		    c->buf + headlen);
		return false;
	}
	memmove(c->buf, c->buf + total, c->len - total);
	c->len -= total;
	return true;
}

static FILE *
open_samples(const char *path)
{
	FILE *f;

	if (!path)
		return NULL;
	if (!(f = fopen(path, "w")))
		die(path);
	return f;
}

static void
close_samples(FILE *f, const char *path)
{
	if (f && fclose(f) != 0)
		die(path);
}

/* ---- synchronisation with an observer (keepalive SYNCDIR) -------------- */

static bool
sync_path(char *buf, size_t len, const char *dir, const char *name)
{
	return (size_t)snprintf(buf, len, "%s/%s", dir, name) < len;
}

/* Create DIR/MINE, then wait for DIR/THEIRS to exist. */
static bool
sync_step(const char *dir, const char *mine, const char *theirs)
{
	char path[4096];
	struct stat st;
	int fd;

	if (!sync_path(path, sizeof(path), dir, mine))
		return false;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || close(fd) < 0) {
		fprintf(stderr, "tlsload: %s: %s\n", path, strerror(errno));
		return false;
	}
	if (!sync_path(path, sizeof(path), dir, theirs))
		return false;
	for (int i = 0; i < SYNC_TIMEOUT_S * 500; i++) {
		if (stat(path, &st) == 0)
			return true;
		usleep(2000);
	}
	fprintf(stderr, "tlsload: %s did not appear in %d s\n", path, SYNC_TIMEOUT_S);
	return false;
}

/* ---- modes ------------------------------------------------------------ */

static int
run_keepalive(const struct target *t, size_t n, size_t warmup, const char *path,
    const char *syncdir)
{
	static struct conn c;
	double *rtt = samples(n), t0, t_ready, t_hs, t_first = 0, t_last = 0;
	size_t got = 0;
	bool synced = true;
	FILE *out;

	t0 = now_us();
	if (!conn_open(&c, t, &t_ready, &t_hs)) {
		printf("keepalive n=0 errors=1\n");
		return 1;
	}
	for (size_t i = 0; i < warmup + n; i++) {
		double a, b;

		if (i == warmup && syncdir && !(synced = sync_step(syncdir, "ka.ready", "ka.go")))
			break;
		a = now_us();
		if (i == warmup)
			t_first = a;
		if (!conn_request(&c, t, false)) {
			fprintf(stderr, "tlsload: keepalive: request %zu failed\n", i);
			break;
		}
		b = now_us();
		t_last = b;
		if (i >= warmup)
			rtt[got++] = b - a;
	}
	if (got == n && syncdir)
		synced = sync_step(syncdir, "ka.end", "ka.done");
	conn_close(&c);
	out = open_samples(path);
	for (size_t i = 0; out && i < got; i++)
		fprintf(out, "%.1f\n", rtt[i]);
	close_samples(out, path);
	printf("keepalive n=%zu errors=%d handshake_us=%.1f counted_s=%.3f", got,
	    got == n && synced ? 0 : 1, t_hs - t0, got ? (t_last - t_first) / 1e6 : 0.0);
	print_dist("rtt", rtt, got);
	printf("\n");
	return got == n && synced ? 0 : 1;
}

static int
run_connect(const struct target *t, size_t m, size_t warmup, const char *path)
{
	static struct conn c;
	double *ready = samples(m), *hs = samples(m), *total = samples(m);
	size_t got = 0, errors = 0;
	FILE *out;

	for (size_t i = 0; i < warmup + m && errors <= MAX_ERRORS; i++) {
		double t0 = now_us(), t_ready, t_hs, t_end;

		if (!conn_open(&c, t, &t_ready, &t_hs)) {
			errors++;
			continue;
		}
		if (!conn_request(&c, t, false)) {
			errors++;
			conn_close(&c);
			continue;
		}
		t_end = now_us();
		conn_close(&c);
		if (i >= warmup) {
			ready[got] = t_ready - t0;
			hs[got] = t_hs - t0;
			total[got] = t_end - t0;
			got++;
		}
	}
	out = open_samples(path);
	for (size_t i = 0; out && i < got; i++)
		fprintf(out, "%.1f %.1f %.1f\n", ready[i], hs[i], total[i]);
	close_samples(out, path);
	printf("%s n=%zu errors=%zu", quickack ? "connect-quickack" : "connect", got, errors);
	print_dist("ready", ready, got);
	print_dist("handshake", hs, got);
	print_dist("total", total, got);
	printf("\n");
	return errors ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct target t;
	size_t n, warmup;

	if (argc < 8 || argc > 10 || (argc == 10 && strcmp(argv[1], "keepalive") != 0))
		usage();
	signal(SIGPIPE, SIG_IGN);
	parse_target(argv[2], argv[3], argv[5], &t);
	make_ctx(argv[4]);
	n = number(argv[6], "N", 1, MAX_N);
	warmup = number(argv[7], "WARMUP", 0, MAX_N);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "keepalive") == 0)
		return run_keepalive(&t, n, warmup, argc >= 9 ? argv[8] : NULL,
		    argc == 10 ? argv[9] : NULL);
	if (strcmp(argv[1], "connect") == 0 || strcmp(argv[1], "connect-quickack") == 0) {
		quickack = argv[1][7] != '\0';
		return run_connect(&t, n, warmup, argc == 9 ? argv[8] : NULL);
	}
	usage();
}
