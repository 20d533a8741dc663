/*
 * libFuzzer target for the HTTP request parser and body framing.  Beyond
 * "no crash, no leak, no hang", it checks the properties the proxy's
 * safety rests on, and abort()s when one fails:
 *
 *  - a refusal carries one of the documented statuses and a reason;
 *  - an accepted head lies within the input and the cap, and no prefix of
 *    it is accepted or refused (answering early on partial input would cut
 *    a request in two);
 *  - the head sent upstream parses again, completely, with the same body
 *    framing -- if the upstream could read a different length than the
 *    proxy counted, that is request smuggling;
 *  - the bytes after the head feed the body tracker to the same result
 *    however they are split, and no feed claims more bytes than it got.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/proxy/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

struct feed_result {
	ssize_t total;		/* body bytes, or -1 on a framing error */
	bool done;
};

static struct feed_result
feed_in_pieces(const struct http_request *r, const char *p, size_t n, size_t step)
{
	struct http_body b;
	struct feed_result res = { 0, false };
	size_t off = 0;

	http_body_init(&b, r);
	while (off < n && !b.done) {
		size_t piece = n - off < step ? n - off : step;
		ssize_t k = http_body_feed(&b, p + off, piece);

		if (k < 0) {
			res.total = -1;
			return res;
		}
		if ((size_t)k > piece || ((size_t)k < piece && !b.done))
			abort();
		res.total += k;
		off += piece;
	}
	res.done = b.done;
	return res;
}

static void
check_upstream(const struct http_request *r)
{
	struct sbuf out;
	struct http_request r2;
	ssize_t n2;

	sbuf_init(&out, 4 * HTTP_MAX_HEAD);
	http_build_upstream_head(r, &out);
	if (out.overflow || out.len < 4 || memcmp(out.p + out.len - 4, "\r\n\r\n", 4) != 0)
		abort();
	/*
	 * Only forwarded (absolute-form) requests are rebuilt in the proxy;
	 * adding "Connection: close" may push a head at the limits over them.
	 */
	if (r->form == HTTP_FORM_ABSOLUTE && out.len < HTTP_MAX_HEAD &&
	    r->nheaders < HTTP_MAX_HEADERS - 1) {
		n2 = http_parse_request(out.p, out.len, &r2, NULL, NULL);
		if (n2 != (ssize_t)out.len || r2.body != r->body ||
		    r2.content_length != r->content_length || !r2.connection_close ||
		    r2.form != HTTP_FORM_ORIGIN)
			abort();
	}
	sbuf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *buf = (const char *)d;
	struct http_request r, tmp;
	int status = 0;
	const char *why = NULL;
	ssize_t h = http_parse_request(buf, n, &r, &status, &why);

	if (h < 0) {
		if (!why || !*why || (status != 400 && status != 414 && status != 431 &&
		    status != 501 && status != 505))
			abort();
		return 0;
	}
	if (h == 0) {
		if (n >= HTTP_MAX_HEAD || status != 0 || why)
			abort();
		return 0;
	}
	if ((size_t)h > n || (size_t)h > HTTP_MAX_HEAD || (size_t)h != r.head_len ||
	    r.nheaders > HTTP_MAX_HEADERS || strlen(r.host) > HTTP_MAX_HOST)
		abort();
	if (r.version_minor == 1 && !r.host_header)
		abort();
	if (r.form == HTTP_FORM_ABSOLUTE && (r.path_len == 0 || r.port == 0 || !r.host[0]))
		abort();
	if (r.form == HTTP_FORM_AUTHORITY && (r.body != HTTP_BODY_NONE || r.port == 0))
		abort();

	/* A few prefixes, not all: that would be quadratic. */
	{
		size_t k[4] = { 0, (size_t)h / 2, (size_t)h - 1, (size_t)h * 7 / 8 };

		for (size_t i = 0; i < 4; i++) {
			if (k[i] < (size_t)h && http_parse_request(buf, k[i], &tmp, NULL, NULL) != 0)
				abort();
		}
	}
	check_upstream(&r);

	{
		const char *rest = buf + h;
		size_t rn = n - (size_t)h;
		struct feed_result all = feed_in_pieces(&r, rest, rn, rn ? rn : 1);
		static const size_t steps[] = { 1, 2, 7, 64 };

		if (all.total > (ssize_t)rn)
			abort();
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			struct feed_result f = feed_in_pieces(&r, rest, rn, steps[i]);

			if (f.total != all.total || (all.total >= 0 && f.done != all.done))
				abort();
		}
	}
	return 0;
}
