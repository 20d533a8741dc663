/*
 * The control socket: how `warden policy set/show NAME` reach a running
 * supervisor.  A unix stream socket in the sandbox's state directory
 * (mode 0700 directory, 0600 socket), one request and one reply per
 * connection, each framed as a 4-byte big-endian length and a payload.
 *
 * Who may talk to it: a peer with the supervisor's uid or root
 * (SO_PEERCRED), and never a process of the sandbox -- the agent runs with
 * the user's uid, so the uid alone would not tell them apart: the peer must
 * also live in the supervisor's own user namespace, which no sandboxed
 * process does.
 *
 * The server side runs on the supervisor's event loop; a request is read
 * without blocking, and the peer, already authenticated, gets its reply
 * with a bounded blocking write.
 */
#include "sandbox_control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/util.h"

#define CONTROL_TIMEOUT_MS 5000

struct control_client {
	struct control *ctl;
	struct ev_io io;
	char *buf;
	size_t len, want;	/* want: 4 until the length is known */
	uint64_t started;
	struct control_client *next;
};

struct control {
	struct evloop *loop;
	struct ev_io io;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	control_fn handler;
	void *arg;
	struct control_client *clients;
};

static int
fill_addr(struct sockaddr_un *sun, const char *dir, struct werr *err)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((size_t)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", dir,
	    CONTROL_SOCKET_NAME) >= sizeof(sun->sun_path))
		return werr_set(err, "control socket path too long: %s/%s", dir,
		    CONTROL_SOCKET_NAME);
	return 0;
}

static void
client_free(struct control_client *cl)
{
	struct control *c = cl->ctl;

	for (struct control_client **p = &c->clients; *p; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	evloop_del(c->loop, &cl->io);
	close(cl->io.fd);
	free(cl->buf);
	free(cl);
}

static void
send_frame(int fd, const char *data, size_t n)
{
	unsigned char hdr[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
		(unsigned char)(n >> 8), (unsigned char)n };
	struct timeval tv = { .tv_sec = CONTROL_TIMEOUT_MS / 1000 };
	int fl = fcntl(fd, F_GETFL);

	/* The peer is authenticated; a bounded blocking write keeps this simple. */
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (write_all(fd, hdr, 4) < 0 || write_all(fd, data, n) < 0)
		log_warn("control: reply");
}

static void
on_client(struct ev_io *io, uint32_t events)
{
	struct control_client *cl = io->arg;
	ssize_t n;

	if (!cl->buf)
		cl->buf = xmalloc(4);
	n = recv(io->fd, cl->buf + cl->len, cl->want - cl->len, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_free(cl);
		return;
	}
	if (n < 0)
		return;
	cl->len += (size_t)n;
	if (cl->len < cl->want)
		return;
	if (cl->want == 4) {
		const unsigned char *h = (const unsigned char *)cl->buf;
		size_t len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];

		if (len == 0 || len > CONTROL_MAX_MSG) {
			static const char msg[] = "error\nrequest too large";
			send_frame(io->fd, msg, sizeof(msg) - 1);
			client_free(cl);
			return;
		}
		free(cl->buf);
		cl->buf = xmalloc(len + 1);
		cl->len = 0;
		cl->want = len;
		return;
	}
	cl->buf[cl->len] = '\0';
	{
		struct sbuf reply;
		sbuf_init(&reply, CONTROL_MAX_MSG);
		cl->ctl->handler(cl->buf, cl->len, &reply, cl->ctl->arg);
		send_frame(io->fd, reply.p ? reply.p : "", reply.len);
		sbuf_free(&reply);
	}
	client_free(cl);
}

/* Same uid (or root), and the same user namespace: never a sandboxed process. */
static bool
peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);
	char path[64], mine[64], theirs[64];
	ssize_t a, b;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0)
		return false;
	if (cr.uid != geteuid() && cr.uid != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)cr.pid);
	a = readlink("/proc/self/ns/user", mine, sizeof(mine) - 1);
	b = readlink(path, theirs, sizeof(theirs) - 1);
	return a > 0 && a == b && memcmp(mine, theirs, (size_t)a) == 0;
}

static void
on_listen(struct ev_io *io, uint32_t events)
{
	struct control *c = io->arg;

	for (;;) {
		struct control_client *cl;
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (!peer_allowed(fd)) {
			static const char msg[] = "error\npermission denied";
			send_frame(fd, msg, sizeof(msg) - 1);
			close(fd);
			continue;
		}
		cl = xcalloc(1, sizeof(*cl));
		cl->ctl = c;
		cl->want = 4;
		cl->started = now_ns();
		if (evloop_add(c->loop, &cl->io, fd, EPOLLIN, on_client, cl) < 0) {
			close(fd);
			free(cl);
			continue;
		}
		cl->next = c->clients;
		c->clients = cl;
	}
}

struct control *
control_listen(struct evloop *l, const char *dir, control_fn fn, void *arg, struct werr *err)
{
	struct control *c = xcalloc(1, sizeof(*c));
	struct sockaddr_un sun;
	mode_t old;

	c->loop = l;
	c->handler = fn;
	c->arg = arg;
	c->fd = -1;
	if (fill_addr(&sun, dir, err) < 0)
		goto fail;
	snprintf(c->path, sizeof(c->path), "%s", sun.sun_path);
	unlink(c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		werr_sys(err, "control socket");
		goto fail;
	}
	/* Created 0600 from the start: no window in which others could connect. */
	old = umask(0177);
	if (bind(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		werr_sys(err, "bind %s", c->path);
		goto fail;
	}
	umask(old);
	if (listen(c->fd, 16) < 0 ||
	    evloop_add(l, &c->io, c->fd, EPOLLIN, on_listen, c) < 0) {
		werr_sys(err, "listen %s", c->path);
		goto fail;
	}
	return c;
fail:
	control_close(c);
	return NULL;
}

/* Drop clients that stalled mid-request (called from the supervisor's tick). */
void
control_sweep(struct control *c)
{
	uint64_t now = now_ns();

	for (struct control_client *cl = c ? c->clients : NULL, *next; cl; cl = next) {
		next = cl->next;
		if (now - cl->started > (uint64_t)CONTROL_TIMEOUT_MS * 1000000u)
			client_free(cl);
	}
}

void
control_close(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	if (c->io.added)
		evloop_del(c->loop, &c->io);
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->path);
	}
	free(c);
}

int
control_call(const char *dir, const char *req, size_t len, char **reply, size_t *rlen,
    struct werr *err)
{
	struct sockaddr_un sun;
	unsigned char hdr[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
		(unsigned char)(len >> 8), (unsigned char)len };
	size_t n, got = 0;
	char *buf;
	_cleanup_close_ int fd = -1;

	if (fill_addr(&sun, dir, err) < 0)
		return -1;
	if (len > CONTROL_MAX_MSG)
		return werr_set(err, "request too large");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return werr_sys(err, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return werr_sys(err, "connect to the sandbox's control socket %s", sun.sun_path);
	if (write_all(fd, hdr, 4) < 0 || write_all(fd, req, len) < 0)
		return werr_sys(err, "send request");
	while (got < 4) {
		ssize_t r = read(fd, hdr + got, 4 - got);
		if (r <= 0)
			return werr_set(err, "the supervisor closed the control connection");
		got += (size_t)r;
	}
	n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (n > CONTROL_MAX_MSG)
		return werr_set(err, "reply too large");
	buf = xmalloc(n + 1);
	for (got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0) {
			free(buf);
			return werr_set(err, "truncated reply from the supervisor");
		}
		got += (size_t)r;
	}
	buf[n] = '\0';
	*reply = buf;
	*rlen = n;
	return 0;
}
