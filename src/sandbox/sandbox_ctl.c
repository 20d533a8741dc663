/*
 * The control socket between the supervisor and the sandbox's init and
 * agent: fixed-size SOCK_SEQPACKET messages, one optional fd attached with
 * SCM_RIGHTS.  A record boundary per message means a torn write can never
 * be mistaken for a message.
 */
#include "sb_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
ctl_send(int fd, const struct ctl_msg *m, int pass_fd)
{
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (pass_fd >= 0) {
		struct cmsghdr *c;
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	do
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof(*m) ? 0 : -1;
}

ssize_t
ctl_recv(int fd, struct ctl_msg *m, int *fd_out)
{
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t r;

	*fd_out = -1;
	/*
	 * ECONNRESET: the peer closed with messages of ours unread (init
	 * failed before taking the supervisor's files).  It is reported once,
	 * ahead of what the peer sent before closing (its error): read on.
	 */
	do
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && (errno == EINTR || errno == ECONNRESET));
	if (r <= 0)
		return r;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd_out, CMSG_DATA(c), sizeof(int));
	if (r != (ssize_t)sizeof(*m) || (mh.msg_flags & MSG_TRUNC)) {
		if (*fd_out >= 0)
			close(*fd_out);
		*fd_out = -1;
		errno = EPROTO;
		return -1;
	}
	m->msg[sizeof(m->msg) - 1] = '\0';
	return r;
}

int
ctl_recv_files(int fd, int fds[ROOT_NFILES], struct werr *err)
{
	for (int i = 0; i < ROOT_NFILES; i++)
		fds[i] = -1;
	for (int i = 0; i < ROOT_NFILES; i++) {
		struct ctl_msg m;
		int got;
		ssize_t r = ctl_recv(fd, &m, &got);

		if (r <= 0 || m.type != CTL_FILE || m.value != i) {
			if (got >= 0)
				close(got);
			for (int j = 0; j < i; j++)
				if (fds[j] >= 0)
					close(fds[j]);
			return werr_set(err, "the supervisor did not hand over the sandbox's files");
		}
		fds[i] = got;
	}
	return 0;
}

void
ctl_die(int fd, const struct werr *err)
{
	struct ctl_msg m = { .type = CTL_ERROR, .exit = err->exit ? err->exit : WEXIT_FAILURE };

	memcpy(m.msg, err->msg, sizeof(m.msg));
	m.msg[sizeof(m.msg) - 1] = '\0';
	ctl_send(fd, &m, -1);
	_exit(m.exit);
}
