/*
 * The classifier side of the guard protocol (guard_serve.h): blocking
 * reads and writes on one connection, one request at a time, in order.
 *
 * A classifier answers every request it can identify, even one it cannot
 * classify: a request that fails to decode, or whose body is larger than
 * the classifier accepts, gets decision "error" with its id, so the proxy
 * denies that one request at once instead of waiting for its deadline.
 * Only a stream that cannot be followed any more (a bad frame length, a
 * header without a readable id) ends the loop -- the proxy then sees the
 * classifier exit and starts it again.
 *
 * Memory is bounded by the largest frame accepted: a body over max_body is
 * read and thrown away in pieces, never held.
 *
 * Between two requests the loop waits with poll(POLLIN), not in a
 * blocking read.  A reader asleep in read(2) on a unix stream socket sits
 * on the same wait queue as a writer waiting for room, and is woken each
 * time the proxy reads one of our replies (the freed buffer space is
 * announced on that queue), only to find nothing and sleep again: a
 * wakeup, often on another CPU, on every request, paid for on the
 * proxy's side in the middle of forwarding.  poll's waiter is woken only
 * for the events it asked for.
 */
#include "guard_serve.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RD_INITIAL (8 + GUARD_MAX_HEADER)
/* After a large body the buffer shrinks back, so one big request does not pin memory. */
#define RD_KEEP (4u << 20)

/* A buffered reader over a blocking fd. */
struct reader {
	int fd;
	unsigned char *buf;
	size_t cap, start, end;
};

static size_t
rd_avail(const struct reader *r)
{
	return r->end - r->start;
}

/*
 * Make n bytes available at buf + start.  Returns 1, 0 at end of stream
 * (rd_avail() tells whether it came between frames), or -1 with err.
 */
static int
rd_need(struct reader *r, size_t n, struct werr *err)
{
	while (rd_avail(r) < n) {
		ssize_t got;

		if (r->cap - r->start < n) {
			memmove(r->buf, r->buf + r->start, rd_avail(r));
			r->end -= r->start;
			r->start = 0;
			if (r->cap < n) {
				r->cap = n > r->cap * 2 ? n : r->cap * 2;
				r->buf = xrealloc(r->buf, r->cap);
			}
		}
		got = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return werr_sys(err, "read");
		}
		if (got == 0)
			return 0;
		r->end += (size_t)got;
	}
	return 1;
}

/*
 * Sleep until fd has something to read (or is closed or broken, which the
 * read that follows reports).  See the top of the file for why.
 */
static int
wait_readable(int fd, struct werr *err)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	while (poll(&pf, 1, -1) < 0) {
		if (errno != EINTR)
			return werr_sys(err, "poll");
	}
	return 0;
}

/* Read and discard n bytes. */
static int
rd_skip(struct reader *r, size_t n, struct werr *err)
{
	while (n > 0) {
		size_t take;
		int rc;

		if (rd_avail(r) == 0) {
			r->start = r->end = 0;
			rc = rd_need(r, 1, err);
			if (rc <= 0)
				return rc;
		}
		take = rd_avail(r) < n ? rd_avail(r) : n;
		r->start += take;
		n -= take;
	}
	return 1;
}

static void
rd_shrink(struct reader *r)
{
	if (r->cap <= RD_KEEP || rd_avail(r) > RD_INITIAL)
		return;
	memmove(r->buf, r->buf + r->start, rd_avail(r));
	r->end -= r->start;
	r->start = 0;
	r->cap = RD_INITIAL;
	r->buf = xrealloc(r->buf, r->cap);
}

/* Write everything; SIGPIPE must not kill a classifier whose proxy went away. */
static int
send_all(int fd, const void *buf, size_t n, struct werr *err)
{
	const char *p = buf;
	bool plain = false;

	while (n > 0) {
		ssize_t w = plain ? write(fd, p, n) : send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOTSOCK && !plain) {
				plain = true;
				continue;
			}
			return werr_sys(err, "write");
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The next frame.  Returns 1 with f filled (pointing into the reader,
 * valid until the next read) and *span the bytes to consume; when the body
 * is larger than max_body only the header is read: f->body is NULL,
 * f->body_len the body's real length, and the caller skips it.  Returns 0
 * on a clean end of stream between frames, -1 with err otherwise.
 */
static int
read_frame(struct reader *r, size_t max_body, struct guard_frame *f, size_t *span,
    struct werr *err)
{
	struct guard_frame tmp;
	const char *why = NULL;
	uint32_t n, h;
	int rc = rd_need(r, 8, err);

	if (rc == 0 && rd_avail(r) == 0)
		return 0;
	if (rc <= 0)
		return rc < 0 ? -1 : werr_set(err, "connection closed in the middle of a frame");
	if (guard_frame_parse(r->buf + r->start, 8, GUARD_MAX_FRAME, &tmp, &why) < 0)
		return werr_set(err, "malformed frame: %s", why);
	n = be32(r->buf + r->start);
	h = be32(r->buf + r->start + 4);
	f->body_len = n - 4 - h;
	*span = 4 + (size_t)n;
	if (f->body_len > max_body)
		*span = 8 + (size_t)h;	/* the body is skipped separately */
	rc = rd_need(r, *span, err);
	if (rc <= 0)
		return rc < 0 ? -1 : werr_set(err, "connection closed in the middle of a frame");
	f->header = (const char *)r->buf + r->start + 8;
	f->header_len = h;
	f->body = f->body_len > max_body ? NULL : r->buf + r->start + 8 + h;
	return 1;
}

static int
write_frame(int fd, const struct sbuf *out, struct werr *err)
{
	return send_all(fd, out->p, out->len, err);
}

/*
 * Encode the reply to fit the 64 KiB header limit: findings are for the
 * audit trail and may be dropped (the decision and tier stand); when even
 * the redactions do not fit, the answer is "error", which the proxy turns
 * into a denial.
 */
static void
encode_reply(struct guard_reply *reply, struct sbuf *out)
{
	out->len = 0;
	out->overflow = false;
	guard_reply_encode(reply, out);
	if (!out->overflow)
		return;
	if (reply->nfindings > 0) {
		char note[sizeof(reply->reason)];

		snprintf(note, sizeof(note), "%s%s%zu findings not listed (too many to report)",
		    reply->reason, reply->reason[0] ? "; " : "", reply->nfindings);
		memcpy(reply->reason, note, sizeof(reply->reason));
		reply->nfindings = 0;
		out->len = 0;
		out->overflow = false;
		guard_reply_encode(reply, out);
		if (!out->overflow)
			return;
	}
	reply->decision = GUARD_ERROR;
	snprintf(reply->reason, sizeof(reply->reason), "too many redactions (%zu) to report",
	    reply->nredactions);
	reply->nredactions = 0;
	out->len = 0;
	out->overflow = false;
	guard_reply_encode(reply, out);
}

/* Answer "error" for a request the classifier will not look at. */
static int
answer_error(int fd, uint64_t id, const char *reason, struct sbuf *out, struct werr *err)
{
	struct guard_reply reply = { .id = id, .decision = GUARD_ERROR,
	    .tier = TIER_RESTRICTED };

	snprintf(reply.reason, sizeof(reply.reason), "%s", reason);
	encode_reply(&reply, out);
	return write_frame(fd, out, err);
}

static int
handshake(struct reader *r, int fd, const struct guard_server_info *info, struct sbuf *out,
    struct werr *err)
{
	struct guard_hello_reply hr = { .version = GUARD_PROTO_VERSION };
	struct guard_frame f;
	char why[200];
	size_t span;
	int rc = read_frame(r, 0, &f, &span, err);

	if (rc <= 0)
		return rc;
	if (!f.body || guard_hello_decode(&f, why, sizeof(why)) < 0) {
		if (!f.body)
			snprintf(why, sizeof(why), "a hello has no body");
		snprintf(hr.error, sizeof(hr.error), "%s", why);
		hr.version = 0;
		guard_hello_reply_encode(&hr, out);
		write_frame(fd, out, err);
		return werr_set(err, "handshake: %s", why);
	}
	r->start += span;
	snprintf(hr.name, sizeof(hr.name), "%s", info->name ? info->name : "classifier");
	snprintf(hr.classifier_version, sizeof(hr.classifier_version), "%s",
	    info->version ? info->version : "");
	guard_hello_reply_encode(&hr, out);
	if (write_frame(fd, out, err) < 0)
		return -1;
	return 1;
}

/* One request: decode, classify, answer.  Returns 1 to go on, -1 with err to stop. */
static int
serve_one(struct reader *r, int fd, const struct guard_server_info *info,
    const struct guard_frame *f, size_t span, guard_classify_fn fn, void *arg,
    struct sbuf *out, struct werr *err)
{
	struct guard_request req;
	struct guard_reply reply;
	char why[200], msg[300];
	uint64_t id;
	int rc;

	if (!f->body) {
		size_t body_len = f->body_len;

		if (guard_reply_peek_id(f, &id) < 0)
			return werr_set(err, "a request of %zu bytes without a readable id",
			    body_len);
		r->start += span;
		if ((rc = rd_skip(r, body_len, err)) <= 0)
			return rc < 0 ? -1 : werr_set(err, "connection closed in a request body");
		snprintf(msg, sizeof(msg), "request body of %zu bytes is larger than this "
		    "classifier accepts (%zu)", body_len, info->max_body);
		return answer_error(fd, id, msg, out, err) < 0 ? -1 : 1;
	}
	if (guard_request_decode(f, &req, why, sizeof(why)) < 0) {
		if (guard_reply_peek_id(f, &id) < 0)
			return werr_set(err, "malformed request: %s", why);
		r->start += span;
		snprintf(msg, sizeof(msg), "malformed request: %s", why);
		return answer_error(fd, id, msg, out, err) < 0 ? -1 : 1;
	}
	memset(&reply, 0, sizeof(reply));
	reply.id = req.id;
	if (fn(arg, &req, &reply) < 0) {
		guard_reply_free(&reply);
		reply.decision = GUARD_ERROR;
		reply.tier = TIER_RESTRICTED;
		if (!reply.reason[0])
			snprintf(reply.reason, sizeof(reply.reason), "the classifier failed");
	}
	reply.id = req.id;
	/* The body borrowed from the reader: consume the frame only after fn ran. */
	guard_request_free(&req);
	r->start += span;
	encode_reply(&reply, out);
	guard_reply_free(&reply);
	return write_frame(fd, out, err) < 0 ? -1 : 1;
}

int
guard_serve(int fd, const struct guard_server_info *info, guard_classify_fn fn, void *arg,
    struct werr *err)
{
	struct reader r = { .fd = fd, .buf = xmalloc(RD_INITIAL), .cap = RD_INITIAL };
	struct sbuf out;
	int rc;

	sbuf_init(&out, 8 + GUARD_MAX_HEADER);
	rc = handshake(&r, fd, info, &out, err);
	while (rc > 0) {
		struct guard_frame f;
		size_t span;

		if (rd_avail(&r) == 0 && wait_readable(fd, err) < 0) {
			rc = -1;
			break;
		}
		rc = read_frame(&r, info->max_body, &f, &span, err);
		if (rc > 0)
			rc = serve_one(&r, fd, info, &f, span, fn, arg, &out, err);
		rd_shrink(&r);
	}
	sbuf_free(&out);
	free(r.buf);
	return rc;
}
