/*
 * A classifier for the pool's tests (test_guard_client.c), speaking the
 * guard protocol on fd 3 through guard_serve, with misbehaviour on demand.
 * Each option names a word; a request whose body contains it triggers the
 * behaviour:
 *
 *   --tier T            the tier of every answer (default public)
 *   --word W --ph P     report each occurrence of W (finding "test.word",
 *                       class "custom") with a redaction to placeholder P
 *   --deny-on W         answer "deny"
 *   --error-on W        answer "error"
 *   --sleep-on W MS     sleep MS milliseconds before answering
 *   --exit-on W         exit(3) without answering
 *   --malformed-on W    write a reply whose header is not JSON
 *   --wrong-id-on W     write a well-formed reply to an id never sent
 *   --oversize-on W     write a frame announcing a 2 MiB reply
 *   --max-body N        answer "error" for bodies over N bytes
 *   --span-all          one finding spanning the whole body (checks that
 *                       replies are matched to the right request)
 *   --reverse N         do not use guard_serve: read N requests, answer
 *                       them in reverse order (pipelining)
 *   --bad-version       answer the hello with version 2
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../src/classify/guard_serve.h"

#define FD 3

static struct {
	enum tier tier;
	const char *word, *ph, *deny_on, *error_on, *sleep_on, *exit_on, *malformed_on,
	    *wrong_id_on, *oversize_on;
	unsigned sleep_ms;
	size_t max_body;
	bool span_all, bad_version;
	unsigned reverse;
} o = { .max_body = GUARD_MAX_FRAME };

static bool
has(const struct guard_request *req, const char *w)
{
	return w && req->body_len >= strlen(w) &&
	    memmem(req->body, req->body_len, w, strlen(w)) != NULL;
}

static void
raw(const void *p, size_t n)
{
	if (write_all(FD, p, n) < 0)
		_exit(4);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

static int
classify(void *arg, const struct guard_request *req, struct guard_reply *reply)
{
	const unsigned char *b = req->body;
	size_t n = 0;

	if (has(req, o.exit_on))
		_exit(3);
	if (has(req, o.sleep_on))
		sleep_ms(o.sleep_ms);
	if (has(req, o.malformed_on)) {
		static const unsigned char bad[] = { 0, 0, 0, 9, 0, 0, 0, 5, '{', 'n', 'o', 'p', 'e' };

		raw(bad, sizeof(bad));
	}
	if (has(req, o.wrong_id_on)) {
		struct guard_reply r = { .id = req->id + 1000, .decision = GUARD_ALLOW };
		struct sbuf s;

		sbuf_init(&s, 1 << 20);
		guard_reply_encode(&r, &s);
		raw(s.p, s.len);
		sbuf_free(&s);
	}
	if (has(req, o.oversize_on)) {
		static const unsigned char big[] = { 0, 0x20, 0, 0, 0, 0x1f, 0xff, 0xfc };

		raw(big, sizeof(big));
	}
	reply->decision = has(req, o.deny_on) ? GUARD_DENY : GUARD_ALLOW;
	reply->tier = o.tier;
	if (has(req, o.error_on)) {
		snprintf(reply->reason, sizeof(reply->reason), "asked to fail");
		return -1;
	}
	if (o.span_all && req->body_len) {
		reply->findings = xcalloc(1, sizeof(*reply->findings));
		reply->nfindings = 1;
		snprintf(reply->findings[0].type, sizeof(reply->findings[0].type), "test.all");
		snprintf(reply->findings[0].cls, sizeof(reply->findings[0].cls), "custom");
		reply->findings[0].tier = o.tier;
		reply->findings[0].end = req->body_len;
	}
	if (o.word && !o.span_all) {
		size_t wl = strlen(o.word);

		reply->findings = xcalloc(req->body_len + 1, sizeof(*reply->findings));
		reply->redactions = xcalloc(req->body_len + 1, sizeof(*reply->redactions));
		for (size_t i = 0; i + wl <= req->body_len; i++) {
			if (memcmp(b + i, o.word, wl) != 0)
				continue;
			snprintf(reply->findings[n].type, sizeof(reply->findings[n].type), "test.word");
			snprintf(reply->findings[n].cls, sizeof(reply->findings[n].cls), "custom");
			reply->findings[n].tier = o.tier;
			reply->findings[n].start = reply->redactions[n].start = i;
			reply->findings[n].end = reply->redactions[n].end = i + wl;
			snprintf(reply->redactions[n].placeholder,
			    sizeof(reply->redactions[n].placeholder), "%s", o.ph ? o.ph : "[W]");
			n++;
			i += wl - 1;
		}
		reply->nfindings = reply->nredactions = n;
	}
	return 0;
}

/* Read one whole frame into *buf (blocking); 0 at end of stream. */
static int
read_frame(struct sbuf *buf, struct guard_frame *f)
{
	char chunk[65536];

	for (;;) {
		ssize_t k = guard_frame_parse(buf->p, buf->len, GUARD_MAX_FRAME, f, NULL);
		ssize_t r;

		if (k > 0)
			return (int)k;
		if (k < 0)
			_exit(5);
		r = read(FD, chunk, sizeof(chunk));
		if (r <= 0)
			return 0;
		sbuf_add(buf, chunk, (size_t)r);
	}
}

static void
consume(struct sbuf *buf, size_t k)
{
	memmove(buf->p, buf->p + k, buf->len - k);
	buf->len -= k;
}

/* The handshake and loop written out, for the modes guard_serve does not offer. */
static int
serve_by_hand(void)
{
	struct sbuf in, out;
	struct guard_frame f;
	struct guard_hello_reply h = { .version = o.bad_version ? 2 : 1, .name = "by-hand" };
	int k;

	sbuf_init(&in, GUARD_MAX_FRAME + 8);
	sbuf_init(&out, GUARD_MAX_FRAME);
	if ((k = read_frame(&in, &f)) == 0 || guard_hello_decode(&f, NULL, 0) < 0)
		return 1;
	consume(&in, (size_t)k);
	guard_hello_reply_encode(&h, &out);
	raw(out.p, out.len);
	for (;;) {
		struct guard_reply replies[64];
		unsigned got = 0;

		while (got < o.reverse) {
			struct guard_request req;

			if ((k = read_frame(&in, &f)) == 0)
				return 0;
			if (guard_request_decode(&f, &req, NULL, 0) < 0)
				return 1;
			memset(&replies[got], 0, sizeof(replies[got]));
			replies[got].id = req.id;
			classify(NULL, &req, &replies[got]);
			guard_request_free(&req);
			consume(&in, (size_t)k);
			got++;
		}
		while (got > 0) {
			got--;
			out.len = 0;
			guard_reply_encode(&replies[got], &out);
			raw(out.p, out.len);
			guard_reply_free(&replies[got]);
		}
	}
}

int
main(int argc, char **argv)
{
	struct guard_server_info info = { .name = "test-server", .version = "0.1" };
	struct werr err = { 0 };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

#define OPT(name, field) if (strcmp(a, name) == 0 && v) { o.field = v; i++; continue; }
		OPT("--word", word)
		OPT("--ph", ph)
		OPT("--deny-on", deny_on)
		OPT("--error-on", error_on)
		OPT("--exit-on", exit_on)
		OPT("--malformed-on", malformed_on)
		OPT("--wrong-id-on", wrong_id_on)
		OPT("--oversize-on", oversize_on)
#undef OPT
		if (strcmp(a, "--tier") == 0 && v && tier_parse(v, strlen(v), &o.tier) == 0) {
			i++;
			continue;
		}
		if (strcmp(a, "--sleep-on") == 0 && v && i + 2 < argc) {
			uint64_t ms;

			if (parse_u64(argv[i + 2], &ms) < 0)
				return 2;
			o.sleep_on = v;
			o.sleep_ms = (unsigned)ms;
			i += 2;
			continue;
		}
		if ((strcmp(a, "--max-body") == 0 || strcmp(a, "--reverse") == 0) && v) {
			uint64_t n;

			if (parse_u64(v, &n) < 0)
				return 2;
			if (a[2] == 'm')
				o.max_body = (size_t)n;
			else
				o.reverse = n > 64 ? 64 : (unsigned)n;
			i++;
			continue;
		}
		if (strcmp(a, "--span-all") == 0) {
			o.span_all = true;
			continue;
		}
		if (strcmp(a, "--bad-version") == 0) {
			o.bad_version = true;
			o.reverse = 1;
			continue;
		}
		fprintf(stderr, "guard_test_server: unknown argument %s\n", a);
		return 2;
	}
	if (o.reverse)
		return serve_by_hand();
	info.max_body = o.max_body;
	if (guard_serve(FD, &info, classify, NULL, &err) < 0) {
		fprintf(stderr, "guard_test_server: %s\n", err.msg);
		return 1;
	}
	return 0;
}
