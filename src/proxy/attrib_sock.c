/*
 * Attribution, step 1: the inode of the client socket of an accepted
 * connection, by its 4-tuple, from the sandbox's network namespace
 * (sock_diag, or /proc/INIT/net/tcp{,6}).
 * The method and its limits: attrib.c.
 */
#include "attrib_int.h"

/* ---- addresses ------------------------------------------------------------ */

int
at_endpoint_from(const struct sockaddr *sa, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in s4;
		memcpy(&s4, sa, sizeof(s4));
		ep->v4 = true;
		memcpy(ep->addr, &s4.sin_addr, 4);
		ep->port = ntohs(s4.sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 s6;
		memcpy(&s6, sa, sizeof(s6));
		if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr)) {
			ep->v4 = true;
			memcpy(ep->addr, s6.sin6_addr.s6_addr + 12, 4);
		} else {
			memcpy(ep->addr, s6.sin6_addr.s6_addr, 16);
		}
		ep->port = ntohs(s6.sin6_port);
		return 0;
	}
	return -1;
}

/* An address as a 16-byte IPv6 form (IPv4 as ::ffff:a.b.c.d). */
static void
as_v6(const struct endpoint *ep, uint8_t out[16])
{
	if (ep->v4) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, ep->addr, 4);
	} else {
		memcpy(out, ep->addr, 16);
	}
}

static bool
endpoint_eq(const struct endpoint *x, const struct endpoint *y)
{
	return x->v4 == y->v4 && x->port == y->port &&
	    memcmp(x->addr, y->addr, x->v4 ? 4 : 16) == 0;
}

/* ---- step 1: the socket's inode -------------------------------------------- */

/*
 * An exact sock_diag request.  The kernel looks the socket up as if a
 * packet had arrived from idiag_dst to idiag_src, so src = client finds the
 * client's socket.  Such a lookup falls back to listening sockets when no
 * connection matches, and an AF_INET query also finds dual-stack AF_INET6
 * sockets with mapped addresses; hence the reply is checked against what
 * was asked, and a listener is never taken for the client.
 */
int
at_diag_inode(struct attrib *a, const struct endpoint *c, const struct endpoint *s,
    uint64_t *ino, bool *found, struct werr *err)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	uint32_t seq = ++a->seq;
	ssize_t n;
	int len;

	*found = false;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = seq;
	req.r.sdiag_family = c->v4 ? AF_INET : AF_INET6;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_sport = htons(c->port);
	req.r.id.idiag_dport = htons(s->port);
	memcpy(req.r.id.idiag_src, c->addr, c->v4 ? 4 : 16);
	memcpy(req.r.id.idiag_dst, s->addr, s->v4 ? 4 : 16);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	while (sendto(a->diag_fd, &req, sizeof(req), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		if (errno != EINTR)
			return werr_sys(err, "sock_diag: send");
	/*
	 * The kernel answers inside sendto(), so the reply is queued by now;
	 * never block the event loop waiting for one.  Replies to earlier
	 * requests (other sequence numbers) are skipped, and so is anything
	 * not sent by the kernel: a process with CAP_NET_ADMIN over the
	 * sandbox's network namespace could address this socket directly.
	 */
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);

		n = recvfrom(a->diag_fd, a->io, sizeof(a->io), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return werr_set(err, "sock_diag: no reply");
		if (n < 0)
			return werr_sys(err, "sock_diag: receive");
		if (fromlen < sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
			continue;
		len = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)a->io; NLMSG_OK(h, len);
		    h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return werr_set(err, "sock_diag: short error message");
				if (e->error == -ENOENT)
					return 0;
				return werr_errno(err, -e->error, "sock_diag");
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
				const struct inet_diag_msg *m = NLMSG_DATA(h);
				struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
				struct sockaddr_in s4 = { .sin_family = AF_INET };
				struct endpoint lc, lr;

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
					return werr_set(err, "sock_diag: short reply");
				if (m->idiag_family == AF_INET) {
					memcpy(&s4.sin_addr, m->id.idiag_src, 4);
					s4.sin_port = m->id.idiag_sport;
					at_endpoint_from((struct sockaddr *)&s4, &lc);
					memcpy(&s4.sin_addr, m->id.idiag_dst, 4);
					s4.sin_port = m->id.idiag_dport;
					at_endpoint_from((struct sockaddr *)&s4, &lr);
				} else if (m->idiag_family == AF_INET6) {
					memcpy(&s6.sin6_addr, m->id.idiag_src, 16);
					s6.sin6_port = m->id.idiag_sport;
					at_endpoint_from((struct sockaddr *)&s6, &lc);
					memcpy(&s6.sin6_addr, m->id.idiag_dst, 16);
					s6.sin6_port = m->id.idiag_dport;
					at_endpoint_from((struct sockaddr *)&s6, &lr);
				} else {
					return 0;
				}
				if (m->idiag_state == TCP_STATE_LISTEN || !endpoint_eq(&lc, c) ||
				    !endpoint_eq(&lr, s))
					return 0;
				/* A TIME_WAIT socket has no inode: nobody owns it. */
				*ino = m->idiag_state == TCP_STATE_TIME_WAIT ? 0 : m->idiag_inode;
				*found = true;
				return 0;
			}
		}
	}
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/*
 * "0100007F:0CEA": each 32-bit word is printed as the hex of its in-memory
 * (network order) bytes read as a native integer, so copying the parsed
 * integer back to memory restores the address bytes; the port is plain.
 */
static bool
parse_hexaddr(const char *p, size_t len, size_t alen, uint8_t *addr, uint16_t *port)
{
	uint32_t v = 0;
	size_t i;
	int d;

	if (len != alen * 2 + 5 || p[alen * 2] != ':')
		return false;
	for (i = 0; i < alen * 2; i++) {
		if ((d = hexval(p[i])) < 0)
			return false;
		v = v << 4 | (uint32_t)d;
		if (i % 8 == 7) {
			memcpy(addr + i / 8 * 4, &v, 4);
			v = 0;
		}
	}
	for (i = alen * 2 + 1; i < len; i++) {
		if ((d = hexval(p[i])) < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*port = (uint16_t)v;
	return true;
}

/*
 * Match one line of /proc/net/tcp{,6}: local == want_l, remote == want_r.
 * A matching TIME_WAIT line only sets *tw.
 */
static bool
procnet_line(const char *p, const char *end, size_t alen, const uint8_t *want_l,
    uint16_t lport, const uint8_t *want_r, uint16_t rport, uint64_t *ino, bool *tw)
{
	const char *f[10];
	size_t flen[10], nf = 0;
	uint8_t addr[16];
	uint16_t port;
	uint64_t v = 0;
	int state;

	while (nf < 10) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			return false;
		f[nf] = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		flen[nf] = (size_t)(p - f[nf]);
		nf++;
	}
	/* 0 "sl:", 1 local, 2 remote, 3 state, ... 9 inode */
	if (!parse_hexaddr(f[1], flen[1], alen, addr, &port) || port != lport ||
	    memcmp(addr, want_l, alen) != 0)
		return false;
	if (!parse_hexaddr(f[2], flen[2], alen, addr, &port) || port != rport ||
	    memcmp(addr, want_r, alen) != 0)
		return false;
	/*
	 * A listener is never the client; a TIME_WAIT entry is an earlier
	 * connection with the same ports (ours cannot be there while the proxy
	 * still holds its end).
	 */
	if (flen[3] != 2 || hexval(f[3][0]) < 0 || hexval(f[3][1]) < 0)
		return false;
	state = hexval(f[3][0]) * 16 + hexval(f[3][1]);
	if (state == TCP_STATE_LISTEN)
		return false;
	if (state == TCP_STATE_TIME_WAIT) {
		*tw = true;
		return false;
	}
	for (size_t i = 0; i < flen[9]; i++) {
		if (f[9][i] < '0' || f[9][i] > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(f[9][i] - '0');
	}
	if (flen[9] == 0)
		return false;
	*ino = v;
	return true;
}

static int
procnet_scan(struct attrib *a, const char *name, const struct endpoint *c,
    const struct endpoint *s, uint64_t *ino, bool *found, struct werr *err)
{
	bool six = strcmp(name, "net/tcp6") == 0;
	size_t alen = six ? 16 : 4, have = 0;
	uint8_t wl[16], wr[16];
	bool header = true, tw = false;
	ssize_t n;
	int fd;

	if (six) {
		as_v6(c, wl);
		as_v6(s, wr);
	} else {
		memcpy(wl, c->addr, 4);
		memcpy(wr, s->addr, 4);
	}
	fd = openat(a->init_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (six && errno == ENOENT)	/* no IPv6 in this kernel */
			return 0;
		if (at_gone(errno))
			return werr_sys(err, "sandbox init (pid %d) is gone", (int)a->init_pid);
		return werr_sys(err, "/proc/%d/%s", (int)a->init_pid, name);
	}
	for (;;) {
		char *line, *nl, *end;

		n = read(fd, a->io + have, sizeof(a->io) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			werr_sys(err, "/proc/%d/%s", (int)a->init_pid, name);
			close(fd);
			return A_ERR;
		}
		end = a->io + have + n;
		line = a->io;
		while ((nl = memchr(line, '\n', (size_t)(end - line)))) {
			if (!header && procnet_line(line, nl, alen, wl, c->port, wr, s->port, ino, &tw)) {
				*found = true;
				close(fd);
				return 0;
			}
			header = false;
			line = nl + 1;
		}
		have = (size_t)(end - line);
		if (n == 0)
			break;
		if (have == sizeof(a->io)) {	/* a line of 64 KiB is not /proc/net/tcp */
			close(fd);
			return werr_set(err, "/proc/%d/%s: unexpected format", (int)a->init_pid, name);
		}
		memmove(a->io, line, have);
	}
	close(fd);
	if (tw) {	/* only an earlier connection's remains: nobody owns it */
		*ino = 0;
		*found = true;
	}
	return 0;
}

int
at_procnet_inode(struct attrib *a, const struct endpoint *c, const struct endpoint *s,
    uint64_t *ino, bool *found, struct werr *err)
{
	*found = false;
	/* An IPv4 client is in tcp, or in tcp6 as ::ffff:a.b.c.d if its socket is dual-stack. */
	if (c->v4 && (procnet_scan(a, "net/tcp", c, s, ino, found, err) < 0 || *found))
		return *found ? 0 : A_ERR;
	return procnet_scan(a, "net/tcp6", c, s, ino, found, err);
}
