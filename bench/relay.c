/*
 * The floor of the egress proxy benchmark: the least a CONNECT proxy can
 * do.  One thread, one epoll loop: accept, read the CONNECT line, connect
 * to 127.0.0.1 on the port asked for (no name resolution, no policy, no
 * attribution, no audit), answer 200, then move bytes both ways with
 * splice(2) through a pipe per direction -- the same kernel path warden's
 * tunnels use, with the same back-pressure (a direction reads only while
 * its pipe is empty).  What it adds to a connection is what any relay that
 * terminates TCP adds on this machine: the proxy's own connect and one more
 * hop each way.  Not a product part: a measuring stick, built and run by
 * bench/proxy.sh.
 *
 *   relay PORTFILE    listen on 127.0.0.1:0, write the port to PORTFILE
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCONN 4096
#define CHUNK 65536

struct half {
	int from, to;
	int pipe[2];
	size_t inpipe;
	int eof;
};

struct conn {
	int dead;
	int cfd, ufd;
	char head[1024];
	size_t headlen;
	int tunnel;
	struct half c2u, u2c;
};

static int ep;
/* Closed during this batch of events: freed after it, since a later event may name them. */
static struct conn *graveyard[2 * 64];
static int ngrave;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
watch(int fd, void *ptr, int add)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = ptr };

	if (epoll_ctl(ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0)
		die("epoll_ctl");
}

static void
conn_close(struct conn *c)
{
	c->dead = 1;
	graveyard[ngrave++] = c;
	close(c->cfd);
	if (c->ufd >= 0)
		close(c->ufd);
	for (int i = 0; i < 2; i++) {
		if (c->c2u.pipe[i] >= 0)
			close(c->c2u.pipe[i]);
		if (c->u2c.pipe[i] >= 0)
			close(c->u2c.pipe[i]);
	}
}

/* splice from -> pipe -> to until it would block; -1 on an error. */
static int
pump(struct half *h)
{
	for (;;) {
		ssize_t n;

		if (h->inpipe) {
			n = splice(h->pipe[0], NULL, h->to, NULL, h->inpipe,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0)
				return errno == EAGAIN ? 0 : -1;
			h->inpipe -= (size_t)n;
			if (h->inpipe)
				return 0;
		}
		if (h->eof)
			return 0;
		n = splice(h->from, NULL, h->pipe[1], NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0) {
			h->eof = 1;
			shutdown(h->to, SHUT_WR);
			return 0;
		}
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		h->inpipe += (size_t)n;
	}
}

/* The CONNECT line is in: connect (blocking: loopback answers at once), answer, tunnel. */
static int
on_head(struct conn *c)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char *colon, *end = memmem(c->head, c->headlen, "\r\n\r\n", 4);
	int one = 1;
	long port;

	if (!end)
		return c->headlen < sizeof(c->head) - 1 ? 0 : -1;
	c->head[c->headlen] = '\0';
	if (strncmp(c->head, "CONNECT ", 8) != 0 || !(colon = strchr(c->head + 8, ':')))
		return -1;
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		return -1;
	a.sin_port = htons((uint16_t)port);
	c->ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->ufd < 0 || connect(c->ufd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->ufd, F_SETFL, O_NONBLOCK);
	if (send(c->cfd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(ok) - 1))
		return -1;
	if (pipe2(c->c2u.pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(c->u2c.pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	c->c2u.from = c->cfd;
	c->c2u.to = c->ufd;
	c->u2c.from = c->ufd;
	c->u2c.to = c->cfd;
	c->tunnel = 1;
	watch(c->ufd, c, 1);
	return 1;
}

/* What each socket waits for: input while its direction's pipe is empty, output while the other's is not. */
static void
rewatch(struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	ev.events = (!c->c2u.eof && !c->c2u.inpipe ? EPOLLIN : 0) | (c->u2c.inpipe ? EPOLLOUT : 0);
	epoll_ctl(ep, EPOLL_CTL_MOD, c->cfd, &ev);
	ev.events = (!c->u2c.eof && !c->u2c.inpipe ? EPOLLIN : 0) | (c->c2u.inpipe ? EPOLLOUT : 0);
	epoll_ctl(ep, EPOLL_CTL_MOD, c->ufd, &ev);
}

static void
on_event(struct conn *c)
{
	if (c->dead)
		return;
	if (!c->tunnel) {
		ssize_t n = recv(c->cfd, c->head + c->headlen, sizeof(c->head) - 1 - c->headlen, 0);
		int r;

		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			conn_close(c);
			return;
		}
		c->headlen += (size_t)n;
		if ((r = on_head(c)) < 0) {
			conn_close(c);
			return;
		}
		if (r == 0)
			return;
	}
	if (pump(&c->c2u) < 0 || pump(&c->u2c) < 0 || (c->c2u.eof && c->u2c.eof &&
	    !c->c2u.inpipe && !c->u2c.inpipe))
		conn_close(c);
	else
		rewatch(c);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct epoll_event evs[64];
	int lfd, one = 1;
	FILE *f;

	if (argc != 2) {
		fputs("usage: relay PORTFILE\n", stderr);
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1024) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
		die("listen");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	watch(lfd, NULL, 1);
	if (!(f = fopen(argv[1], "w")) || fprintf(f, "%u\n", ntohs(a.sin_port)) < 0 || fclose(f))
		die(argv[1]);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (!c)
						die("calloc");
					c->cfd = fd;
					c->ufd = -1;
					c->c2u.pipe[0] = c->c2u.pipe[1] = -1;
					c->u2c.pipe[0] = c->u2c.pipe[1] = -1;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					watch(fd, c, 1);
				}
				continue;
			}
			on_event(c);
		}
		while (ngrave > 0)
			free(graveyard[--ngrave]);
	}
}
