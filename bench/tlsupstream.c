/*
 * bench/tlsupstream.c: the TLS upstream server of the L7-inspection
 * benchmark (bench/tls.sh), on the host's loopback.
 *
 *   tlsupstream CERT KEY PORTFILE
 *
 * Listens on a kernel-chosen port of 127.0.0.1 and writes it to PORTFILE
 * as one "tls N" line (written to PORTFILE.tmp, then renamed, so a reader
 * never sees half a file).  CERT is the PEM certificate chain (leaf first),
 * KEY its private key.
 *
 * Every connection gets a TLS handshake (whatever TLS version and group the
 * client and OpenSSL agree on; ALPN "http/1.1" is selected when offered) and
 * then answers each HTTP/1.1 request head with a tiny keep-alive response,
 * "200 OK" with "Content-Length: 2" and "ok", for as long as the client
 * keeps the connection; a request with "Connection: close" gets its answer
 * and the connection is closed.  Request bodies are not expected (the
 * benchmark sends GETs): a head announcing one closes the connection, so a
 * client that sends one fails loudly instead of being misread.
 *
 * One thread per connection with blocking I/O: the benchmark drives one
 * connection at a time, so the simplest server is also the one that adds
 * least between a request and its answer, and whatever it costs is in every
 * row (direct, tunnelled and inspected).  A connection silent for
 * IDLE_TIMEOUT_S is dropped, so a client that vanishes cannot pin a thread.
 * It runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define HEAD_MAX 8192		/* one request head */
#define IDLE_TIMEOUT_S 60

static SSL_CTX *ctx;

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "tlsupstream: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void __attribute__((noreturn))
die_ssl(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	fprintf(stderr, "tlsupstream: %s: %s\n", what, e ? buf : "unknown TLS error");
	exit(1);
}

/* ALPN: speak http/1.1 when the client offers it; otherwise no ALPN. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned inlen, void *arg)
{
	static const unsigned char ours[] = "\x08http/1.1";
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/*
 * Does the head (NUL-terminated, ending in the blank line) hold header NAME
 * with a value containing WANT (case-insensitive)?  With WANT NULL: is the
 * header there at all?
 */
static bool
has_header(const char *head, const char *name, const char *want)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p && p[2] != '\r') {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end)
			return false;
		if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			if (!want)
				return true;
			for (const char *v = line + nl + 1; v + strlen(want) <= end; v++)
				if (strncasecmp(v, want, strlen(want)) == 0)
					return true;
		}
		p = end;
	}
	return false;
}

static bool
ssl_write_all(SSL *ssl, const char *p, size_t n)
{
	size_t w;

	return SSL_write_ex(ssl, p, n, &w) == 1 && w == n;
}

/*
 * One connection: handshake, then requests until the client closes.  The
 * buffer keeps whatever follows a head, so pipelined requests are answered
 * in order.
 */
static void *
serve(void *arg)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 2\r\n\r\nok";
	static const char ok_close[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 2\r\nConnection: close\r\n\r\nok";
	int fd = (int)(intptr_t)arg;
	SSL *ssl = SSL_new(ctx);
	char buf[HEAD_MAX + 1];
	size_t len = 0;

	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1)
		goto out;
	for (;;) {
		char *end;
		size_t got, used;
		bool close_after;

		buf[len] = '\0';
		while (!(end = strstr(buf, "\r\n\r\n"))) {
			if (len == HEAD_MAX || SSL_read_ex(ssl, buf + len, HEAD_MAX - len, &got) != 1)
				goto out;
			len += got;
			buf[len] = '\0';
		}
		end[2] = '\0';	/* the head, up to its last CRLF */
		if (has_header(buf, "Content-Length", NULL) ||
		    has_header(buf, "Transfer-Encoding", NULL))
			goto out;
		close_after = has_header(buf, "Connection", "close");
		if (!ssl_write_all(ssl, close_after ? ok_close : ok,
		    close_after ? sizeof(ok_close) - 1 : sizeof(ok) - 1) || close_after)
			goto out;
		used = (size_t)(end + 4 - buf);
		memmove(buf, buf + used, len - used);
		len -= used;
	}
out:
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	ERR_clear_error();
	return NULL;
}

static int
listen_loopback(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind 127.0.0.1");
	if (listen(fd, 4096) < 0)
		die("listen");
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("getsockname");
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
write_portfile(const char *path, uint16_t port)
{
	char tmp[4096];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		fprintf(stderr, "tlsupstream: path too long\n");
		exit(2);
	}
	if (!(f = fopen(tmp, "w")) || fprintf(f, "tls %u\n", (unsigned)port) < 0 || fclose(f) != 0)
		die(tmp);
	if (rename(tmp, path) < 0)
		die("rename");
}

int
main(int argc, char **argv)
{
	pthread_attr_t attr;
	uint16_t port;
	int lfd;

	if (argc != 4) {
		fprintf(stderr, "usage: tlsupstream CERT KEY PORTFILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		die_ssl("SSL_CTX_new");
	if (SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1)
		die_ssl(argv[1]);
	if (SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die_ssl(argv[2]);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	lfd = listen_loopback(&port);
	write_portfile(argv[3], port);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		struct timeval tv = { .tv_sec = IDLE_TIMEOUT_S };
		int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t th;

		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "tlsupstream: accept: %s\n", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				sleep(1);
			continue;
		}
		/* Small answers must not wait for Nagle's timer. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (pthread_create(&th, &attr, serve, (void *)(intptr_t)fd) != 0) {
			fprintf(stderr, "tlsupstream: pthread_create failed\n");
			close(fd);
		}
	}
}
