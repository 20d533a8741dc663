/*
 * libFuzzer target for the guard protocol codec: the input is a byte
 * stream as either side reads it.  Every frame found is given to each
 * decoder (hello, hello reply, request, reply, peek id).  Checks, with
 * abort():
 *
 *  - a frame lies within the input, its header within the 64 KiB limit,
 *    and every shorter prefix of it asks for more bytes;
 *  - a decoded reply keeps its promises: spans inside the body, start <
 *    end, redactions sorted and disjoint, placeholders of the allowed
 *    characters, counts within the limits, tiers and decisions valid;
 *  - what decodes, re-encodes to something that decodes to the same
 *    values (so the proxy and a classifier never disagree on a message);
 *  - requests and replies decode the same with and without the fast
 *    reader of warden's own compact headers: both refuse, or both accept
 *    with the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/classify/guard_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* Replies are checked against a body of this many bytes. */
#define BODY_LEN 4096

static bool
placeholder_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > GUARD_PLACEHOLDER_MAX)
		return false;
	for (; *s; s++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:.-[]<>",
		    *s))
			return false;
	return true;
}

static void
check_reply(const struct guard_reply *r)
{
	if (r->decision != GUARD_ALLOW && r->decision != GUARD_DENY && r->decision != GUARD_ERROR)
		abort();
	if ((unsigned)r->tier >= TIER_COUNT || r->nfindings > GUARD_MAX_FINDINGS ||
	    r->nredactions > GUARD_MAX_REDACTIONS || r->id > GUARD_MAX_ID)
		abort();
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct guard_finding *g = &r->findings[i];

		if (!(g->start < g->end && g->end <= BODY_LEN) || (unsigned)g->tier >= TIER_COUNT ||
		    !g->type[0] || !g->cls[0])
			abort();
	}
	for (size_t i = 0; i < r->nredactions; i++) {
		const struct guard_redaction *x = &r->redactions[i];

		if (!(x->start < x->end && x->end <= BODY_LEN) || !placeholder_ok(x->placeholder))
			abort();
		if (i > 0 && x->start < r->redactions[i - 1].end)
			abort();
	}
}

static bool
same_reply(const struct guard_reply *a, const struct guard_reply *b)
{
	if (a->id != b->id || a->decision != b->decision || a->tier != b->tier ||
	    strcmp(a->reason, b->reason) != 0 || a->nfindings != b->nfindings ||
	    a->nredactions != b->nredactions ||
	    (a->nfindings && memcmp(a->findings, b->findings,
	    a->nfindings * sizeof(*a->findings)) != 0))
		return false;
	for (size_t i = 0; i < a->nredactions; i++)
		if (a->redactions[i].start != b->redactions[i].start ||
		    a->redactions[i].end != b->redactions[i].end ||
		    strcmp(a->redactions[i].placeholder, b->redactions[i].placeholder) != 0)
			return false;
	return true;
}

static bool
same_request(const struct guard_request *a, const struct guard_request *b)
{
	return a->id == b->id && a->deadline_ms == b->deadline_ms && a->pid == b->pid &&
	    strcmp(a->format, b->format) == 0 && strcmp(a->provider, b->provider) == 0 &&
	    strcmp(a->host, b->host) == 0 && strcmp(a->path, b->path) == 0 &&
	    strcmp(a->model, b->model) == 0 && strcmp(a->sandbox, b->sandbox) == 0 &&
	    strcmp(a->binary, b->binary) == 0 && a->body_len == b->body_len &&
	    (!a->body_len || memcmp(a->body, b->body, a->body_len) == 0);
}

/* The frame's reply decoded without the fast reader must match r (decoded with it), or both fail. */
static void
reply_without_fast(const struct guard_frame *f, int r_ok, const struct guard_reply *r)
{
	struct guard_reply slow;
	int ok;

	guard_proto_fast_decode(false);
	ok = guard_reply_decode(f, BODY_LEN, &slow, NULL, 0) == 0;
	guard_proto_fast_decode(true);
	if (ok != r_ok || (ok && !same_reply(r, &slow)))
		abort();
	if (ok)
		guard_reply_free(&slow);
}

static void
request_without_fast(const struct guard_frame *f, int r_ok, const struct guard_request *r)
{
	struct guard_request slow;
	int ok;

	guard_proto_fast_decode(false);
	ok = guard_request_decode(f, &slow, NULL, 0) == 0;
	guard_proto_fast_decode(true);
	if (ok != r_ok || (ok && !same_request(r, &slow)))
		abort();
	if (ok)
		guard_request_free(&slow);
}

static void
roundtrip_reply(const struct guard_reply *r)
{
	struct sbuf b;
	struct guard_frame f;
	struct guard_reply back;

	sbuf_init(&b, 1u << 24);
	guard_reply_encode(r, &b);
	if (guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL) != (ssize_t)b.len)
		abort();
	if (f.header_len <= GUARD_MAX_HEADER) {
		if (guard_reply_decode(&f, BODY_LEN, &back, NULL, 0) < 0 || !same_reply(&back, r))
			abort();
		reply_without_fast(&f, 1, &back);
		guard_reply_free(&back);
	}
	sbuf_free(&b);
}

static void
roundtrip_request(const struct guard_request *r)
{
	struct sbuf b;
	struct guard_frame f;
	struct guard_request back;

	sbuf_init(&b, GUARD_MAX_FRAME + 8);
	guard_request_encode(r, &b);
	if (guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL) != (ssize_t)b.len ||
	    guard_request_decode(&f, &back, NULL, 0) < 0 || !same_request(&back, r))
		abort();
	request_without_fast(&f, 1, &back);
	guard_request_free(&back);
	sbuf_free(&b);
}

static void
decode_all(const struct guard_frame *f)
{
	struct guard_hello_reply h;
	struct guard_request req;
	struct guard_reply rep;
	uint64_t id;
	char why[256];

	guard_hello_decode(f, why, sizeof(why));
	if (guard_hello_reply_decode(f, &h, why, sizeof(why)) == 0) {
		if (!h.error[0] && (h.version <= 0 || !h.name[0]))
			abort();
	}
	if (guard_request_decode(f, &req, why, sizeof(why)) == 0) {
		if (req.body != f->body || req.body_len != f->body_len || req.id > GUARD_MAX_ID)
			abort();
		request_without_fast(f, 1, &req);
		roundtrip_request(&req);
		guard_request_free(&req);
	} else {
		request_without_fast(f, 0, NULL);
	}
	if (guard_reply_decode(f, BODY_LEN, &rep, why, sizeof(why)) == 0) {
		check_reply(&rep);
		reply_without_fast(f, 1, &rep);
		roundtrip_reply(&rep);
		guard_reply_free(&rep);
	} else if (rep.findings || rep.redactions || rep.nfindings || rep.nredactions) {
		abort();	/* a refused reply leaves nothing allocated */
	} else {
		reply_without_fast(f, 0, NULL);
	}
	if (guard_reply_peek_id(f, &id) == 0 && id > GUARD_MAX_ID)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	size_t off = 0;

	while (off < n) {
		struct guard_frame f, tmp;
		const char *why = NULL;
		ssize_t k = guard_frame_parse(d + off, n - off, GUARD_MAX_FRAME, &f, &why);

		if (k < 0) {
			if (!why || !*why)
				abort();
			return 0;
		}
		if (k == 0)
			return 0;
		if ((size_t)k > n - off || f.header_len > GUARD_MAX_HEADER ||
		    (const uint8_t *)f.header != d + off + 8 ||
		    f.body != d + off + 8 + f.header_len ||
		    8 + f.header_len + f.body_len != (size_t)k)
			abort();
		{
			size_t pre[3] = { 0, (size_t)k / 2, (size_t)k - 1 };

			for (int i = 0; i < 3; i++)
				if (guard_frame_parse(d + off, pre[i], GUARD_MAX_FRAME, &tmp, NULL) != 0)
					abort();
		}
		decode_all(&f);
		off += (size_t)k;
	}
	return 0;
}
