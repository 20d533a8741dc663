/*
 * Unit tests for the guard protocol codec: frames (every prefix of a valid
 * stream asks for more, every bad length is refused), round trips of each
 * message through encode and decode, binary bodies, and the strictness of
 * the decoders -- each malformed shape a classifier or a proxy could send
 * must be refused, with a reason.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/classify/guard_proto.h"

#include "check.h"

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

/* A frame around header text and body, parsed back; the sbuf holds the bytes. */
static void
frame_of(const char *hdr, const void *body, size_t blen, struct sbuf *buf,
    struct guard_frame *f)
{
	sbuf_init(buf, GUARD_MAX_FRAME + 8);
	guard_frame_encode(buf, hdr, strlen(hdr), body, blen);
	if (guard_frame_parse(buf->p, buf->len, GUARD_MAX_FRAME, f, NULL) != (ssize_t)buf->len) {
		printf("# frame_of: the frame did not parse back\n");
		exit(1);
	}
}

/* Why the last reply_rc/request_rc refused, for the test's own line. */
static char last_why[256];

/* Decode a reply header against a body of body_len bytes: 0, -1, or -2 for a refusal without a reason. */
static int
reply_rc(const char *hdr, size_t body_len)
{
	struct sbuf b;
	struct guard_frame f;
	struct guard_reply r;
	char *why = last_why;
	const size_t whylen = sizeof(last_why);
	int rc;

	why[0] = '\0';
	frame_of(hdr, NULL, 0, &b, &f);
	rc = guard_reply_decode(&f, body_len, &r, why, whylen);
	if (rc < 0 && !why[0])
		rc = -2;	/* a refusal must say why */
	guard_reply_free(&r);
	sbuf_free(&b);
	return rc;
}

static int
request_rc(const char *hdr)
{
	struct sbuf b;
	struct guard_frame f;
	struct guard_request r;
	char *why = last_why;
	int rc;

	why[0] = '\0';
	frame_of(hdr, "x", 1, &b, &f);
	rc = guard_request_decode(&f, &r, why, sizeof(last_why));
	if (rc < 0 && !why[0])
		rc = -2;
	if (rc == 0)
		guard_request_free(&r);
	sbuf_free(&b);
	return rc;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
test_frames(void)
{
	struct sbuf b;
	struct guard_frame f;
	const char body[] = "a\0b\0\xff";
	unsigned char raw[16];
	const char *why;
	ssize_t n;

	begin("frames");
	sbuf_init(&b, 1 << 20);
	guard_frame_encode(&b, "{\"type\":\"x\"}", 12, body, sizeof(body));
	CHECK_INT(b.len, 8 + 12 + sizeof(body));
	n = guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, &why);
	CHECK_INT(n, b.len);
	CHECK(f.header_len == 12 && memcmp(f.header, "{\"type\":\"x\"}", 12) == 0,
	    "header comes back");
	CHECK(f.body_len == sizeof(body) && memcmp(f.body, body, sizeof(body)) == 0,
	    "binary body (NUL and 0xff bytes) comes back exactly");
	{
		bool all_zero = true;

		for (size_t k = 0; k < b.len; k++)
			if (guard_frame_parse(b.p, k, GUARD_MAX_FRAME, &f, &why) != 0)
				all_zero = false;
		CHECK(all_zero, "every strict prefix of a frame asks for more bytes");
	}
	/* Two frames back to back: the first is found alone. */
	guard_frame_encode(&b, "{}", 2, NULL, 0);
	n = guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, &why);
	CHECK_INT(n, 8 + 12 + sizeof(body));
	n = guard_frame_parse(b.p + n, b.len - (size_t)n, GUARD_MAX_FRAME, &f, &why);
	CHECK(n == 10 && f.header_len == 2 && f.body_len == 0, "second frame, empty body");
	sbuf_free(&b);

	/* Bad lengths. */
	why = NULL;
	put32(raw, 3);
	put32(raw + 4, 0);
	CHECK(guard_frame_parse(raw, 8, GUARD_MAX_FRAME, &f, &why) == -1 && why,
	    "total length below 4 refused (%s)", why ? why : "");
	why = NULL;
	put32(raw, 1000);
	CHECK(guard_frame_parse(raw, 4, 999, &f, &why) == -1 && why,
	    "total over max_frame refused from the length field alone");
	why = NULL;
	put32(raw, 10);
	put32(raw + 4, 7);
	CHECK(guard_frame_parse(raw, 8, GUARD_MAX_FRAME, &f, &why) == -1 && why,
	    "header length > N - 4 refused");
	put32(raw, 10);
	put32(raw + 4, 6);
	CHECK(guard_frame_parse(raw, 8, GUARD_MAX_FRAME, &f, &why) == 0,
	    "header length == N - 4 is fine (waits for bytes)");
	why = NULL;
	put32(raw, GUARD_MAX_HEADER + 100);
	put32(raw + 4, GUARD_MAX_HEADER + 1);
	CHECK(guard_frame_parse(raw, 8, GUARD_MAX_FRAME, &f, &why) == -1 && why,
	    "header over 64 KiB refused");
	why = NULL;
	put32(raw, 0xffffffffu);
	put32(raw + 4, 0);
	CHECK(guard_frame_parse(raw, 8, GUARD_MAX_FRAME, &f, &why) == -1 && why,
	    "4 GiB frame refused");
	put32(raw, 4);
	put32(raw + 4, 0);
	CHECK_INT(guard_frame_parse(raw, 8, GUARD_MAX_FRAME, &f, &why), 8);

	/* An encode that cannot fit appends nothing. */
	sbuf_init(&b, 16);
	guard_frame_encode(&b, "{\"type\":\"hello\"}", 16, NULL, 0);
	CHECK(b.overflow && b.len == 0, "a frame too large for the buffer is not half-written");
	sbuf_free(&b);
}

static void
test_hello(void)
{
	struct sbuf b;
	struct guard_frame f;
	struct guard_hello_reply h = { .version = 1, .name = "terms", .classifier_version = "2.1" };
	struct guard_hello_reply back;
	char why[256];

	begin("hello");
	sbuf_init(&b, 4096);
	guard_hello_encode(&b);
	CHECK(guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL) == (ssize_t)b.len,
	    "hello frame");
	CHECK_INT(guard_hello_decode(&f, why, sizeof(why)), 0);
	CHECK(f.header_len == strlen("{\"type\":\"hello\",\"protocol\":\"warden-guard\","
	    "\"versions\":[1]}"), "hello is the documented compact JSON");
	sbuf_free(&b);

	{
		static const char *const bad[] = {
			"{\"type\":\"hello\",\"protocol\":\"warden-guard\",\"versions\":[2,3]}",
			"{\"type\":\"hello\",\"protocol\":\"other\",\"versions\":[1]}",
			"{\"type\":\"hello\",\"protocol\":\"warden-guard\",\"versions\":1}",
			"{\"type\":\"hello\",\"protocol\":\"warden-guard\",\"versions\":[\"1\"]}",
			"{\"type\":\"hello\",\"protocol\":\"warden-guard\",\"versions\":[]}",
			"{\"type\":\"hello\",\"protocol\":\"warden-guard\",\"versions\":[-1,1]}",
			"{\"type\":\"helo\",\"protocol\":\"warden-guard\",\"versions\":[1]}",
			"{\"protocol\":\"warden-guard\",\"versions\":[1]}",
			"[\"hello\"]",
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			why[0] = '\0';
			frame_of(bad[i], NULL, 0, &b, &f);
			CHECK(guard_hello_decode(&f, why, sizeof(why)) < 0 && why[0],
			    "hello refused: %s -> %s", bad[i], why);
			sbuf_free(&b);
		}
		frame_of("{\"type\":\"hello\",\"protocol\":\"warden-guard\",\"versions\":[1]}",
		    "x", 1, &b, &f);
		CHECK(guard_hello_decode(&f, why, sizeof(why)) < 0, "hello with a body refused");
		sbuf_free(&b);
		frame_of("{\"type\":\"hello\",\"protocol\":\"warden-guard\",\"versions\":[3,1],"
		    "\"later\":{\"x\":1}}", NULL, 0, &b, &f);
		CHECK_INT(guard_hello_decode(&f, why, sizeof(why)), 0);
		sbuf_free(&b);
	}

	sbuf_init(&b, 4096);
	guard_hello_reply_encode(&h, &b);
	guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL);
	CHECK_INT(guard_hello_reply_decode(&f, &back, why, sizeof(why)), 0);
	CHECK(back.version == 1 && strcmp(back.name, "terms") == 0 &&
	    strcmp(back.classifier_version, "2.1") == 0 && !back.error[0], "hello reply round trip");
	sbuf_free(&b);

	memset(&h, 0, sizeof(h));
	snprintf(h.error, sizeof(h.error), "no common version");
	sbuf_init(&b, 4096);
	guard_hello_reply_encode(&h, &b);
	guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL);
	CHECK_INT(guard_hello_reply_decode(&f, &back, why, sizeof(why)), 0);
	CHECK(back.version == 0 && strcmp(back.error, "no common version") == 0,
	    "a refusal decodes as one (error set, version 0)");
	sbuf_free(&b);

	{
		static const char *const bad[] = {
			"{\"type\":\"hello\",\"version\":0,\"name\":\"x\"}",
			"{\"type\":\"hello\",\"version\":1}",
			"{\"type\":\"hello\",\"version\":1,\"name\":\"\"}",
			"{\"type\":\"hello\",\"version\":1,\"name\":\"a\\nb\"}",
			"{\"type\":\"hello\",\"version\":1,\"name\":"
			    "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
			"{\"type\":\"hello\",\"version\":\"1\",\"name\":\"x\"}",
			"{\"type\":\"hello\",\"version\":1.0,\"name\":\"x\"}",
			"{\"type\":\"hello\",\"error\":\"\"}",
			"{\"type\":\"hello\",\"error\":7}",
			"{\"type\":\"result\",\"version\":1,\"name\":\"x\"}",
			"{\"type\":\"hello\",\"version\":1,\"name\":\"x\",\"classifier_version\":5}",
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			why[0] = '\0';
			frame_of(bad[i], NULL, 0, &b, &f);
			CHECK(guard_hello_reply_decode(&f, &back, why, sizeof(why)) < 0 && why[0],
			    "hello reply refused: %s -> %s", bad[i], why);
			sbuf_free(&b);
		}
	}
}

static void
test_request(void)
{
	static const unsigned char body[] = { '{', 0, 1, 2, 0xff, 0xfe, '}', 0 };
	char longpath[GUARD_MAX_PATH + 100];
	struct guard_request r = {
		.id = 42, .deadline_ms = 750, .format = "anthropic", .provider = "anthropic",
		.host = "api.example.com", .path = "/v1/messages?x=\xff", .model = "m-1",
		.sandbox = "sb", .binary = "/usr/bin/python3", .pid = 1234,
		.body = body, .body_len = sizeof(body),
	};
	struct guard_request back;
	struct guard_frame f;
	struct sbuf b;
	char why[256];

	begin("request");
	sbuf_init(&b, 1 << 20);
	guard_request_encode(&r, &b);
	CHECK(guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL) == (ssize_t)b.len,
	    "request frame");
	CHECK_INT(guard_request_decode(&f, &back, why, sizeof(why)), 0);
	CHECK_INT(back.id, 42);
	CHECK_INT(back.deadline_ms, 750);
	CHECK_STR(back.format, "anthropic");
	CHECK_STR(back.provider, "anthropic");
	CHECK_STR(back.host, "api.example.com");
	CHECK_STR(back.path, "/v1/messages?x=\xef\xbf\xbd");
	CHECK_STR(back.model, "m-1");
	CHECK_STR(back.sandbox, "sb");
	CHECK_STR(back.binary, "/usr/bin/python3");
	CHECK_INT(back.pid, 1234);
	CHECK(back.body_len == sizeof(body) && memcmp(back.body, body, sizeof(body)) == 0,
	    "body with NUL and non-UTF-8 bytes is carried exactly");
	guard_request_free(&back);
	sbuf_free(&b);

	/* NULL strings encode as "", a long path is cut, the header stays small. */
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	memset(&r, 0, sizeof(r));
	r.id = GUARD_MAX_ID;
	r.path = longpath;
	sbuf_init(&b, 1 << 20);
	guard_request_encode(&r, &b);
	guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL);
	CHECK_INT(guard_request_decode(&f, &back, why, sizeof(why)), 0);
	CHECK_INT(strlen(back.path), GUARD_MAX_PATH);
	CHECK_STR(back.format, "unknown");
	CHECK_STR(back.host, "");
	CHECK(back.id == GUARD_MAX_ID && back.body_len == 0, "largest id, empty body");
	guard_request_free(&back);
	sbuf_free(&b);

	/* Quotes, backslashes, control bytes and UTF-8 survive the trip; the header is valid JSON. */
	memset(&r, 0, sizeof(r));
	r.path = "/a\"b\\c\x01d\x7f";
	r.model = "mod\xc3\xa9le \xe2\x82\xac";
	r.binary = "/bin/\xc3";
	sbuf_init(&b, 1 << 20);
	guard_request_encode(&r, &b);
	guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL);
	CHECK_INT(guard_request_decode(&f, &back, why, sizeof(why)), 0);
	CHECK_STR(back.path, "/a\"b\\c\x01d\x7f");
	CHECK_STR(back.model, "mod\xc3\xa9le \xe2\x82\xac");
	CHECK_STR(back.binary, "/bin/\xef\xbf\xbd");
	guard_request_free(&back);
	sbuf_free(&b);

	/* A header past GUARD_MAX_HEADER (every byte of every string escaped) is not encoded at all. */
	{
		static char ctl[GUARD_MAX_PATH + 1], s1k[GUARD_MAX_STRING + 1];

		memset(ctl, 1, GUARD_MAX_PATH);
		memset(s1k, 2, GUARD_MAX_STRING);
		memset(&r, 0, sizeof(r));
		r.path = ctl;
		r.provider = r.host = r.model = r.sandbox = r.binary = s1k;
		sbuf_init(&b, 1 << 20);
		guard_request_encode(&r, &b);
		CHECK(b.overflow && b.len == 0, "an oversize header marks the buffer, appends nothing");
		sbuf_free(&b);
	}

#define DST "\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"}"
#define CTX "\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":1}"
	CHECK_INT(request_rc("{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,"
	    "\"format\":\"openai\"," DST "," CTX "}"), 0);
	CHECK_INT(request_rc("{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,"
	    "\"format\":\"gemini-2\",\"extra\":[1,2,{}]," DST "," CTX ",\"z\":null}"), 0);
	{
		static const char *const bad[] = {
			"{\"type\":\"classify\",\"deadline_ms\":10,\"format\":\"openai\"," DST ","
			    CTX "}",
			"{\"type\":\"classify\",\"id\":-1,\"deadline_ms\":10,\"format\":\"openai\","
			    DST "," CTX "}",
			"{\"type\":\"classify\",\"id\":9007199254740992,\"deadline_ms\":10,"
			    "\"format\":\"openai\"," DST "," CTX "}",
			"{\"type\":\"classify\",\"id\":99999999999999999999999,\"deadline_ms\":10,"
			    "\"format\":\"openai\"," DST "," CTX "}",
			"{\"type\":\"classify\",\"id\":1.5,\"deadline_ms\":10,\"format\":\"openai\","
			    DST "," CTX "}",
			"{\"type\":\"classify\",\"id\":\"1\",\"deadline_ms\":10,\"format\":\"openai\","
			    DST "," CTX "}",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":4294967296,"
			    "\"format\":\"openai\"," DST "," CTX "}",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"Open AI\","
			    DST "," CTX "}",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"\","
			    DST "," CTX "}",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"openai\","
			    "\"destination\":[]," CTX "}",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"openai\","
			    "\"destination\":{\"provider\":\"\",\"path\":\"/\",\"model\":\"\"},"
			    CTX "}",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"openai\","
			    DST ",\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":-5}}",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"openai\","
			    DST ",\"context\":{\"sandbox\":\"s\",\"binary\":null,\"pid\":1}}",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"openai\","
			    DST "}",
			"{\"type\":\"result\",\"id\":1,\"deadline_ms\":10,\"format\":\"openai\","
			    DST "," CTX "}",
			"{\"type\":\"classify\",\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,"
			    "\"format\":\"openai\"," DST "," CTX "}",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"openai\","
			    DST "," CTX "} x",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"openai\","
			    DST "," CTX "}{}",
			"{\"type\":\"classify\",\"id\":1,",
			"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,\"format\":\"op\\u0000\","
			    DST "," CTX "}",
			"\"classify\"",
			"",
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
			CHECK(request_rc(bad[i]) == -1, "request refused: %.90s -> %s", bad[i],
			    last_why);
	}
	/* Invalid UTF-8 in a header is refused by the decoder. */
	CHECK(request_rc("{\"type\":\"classify\",\"id\":1,\"deadline_ms\":10,"
	    "\"format\":\"openai\",\"destination\":{\"provider\":\"\",\"host\":\"\xff\","
	    "\"path\":\"/\",\"model\":\"\"}," CTX "}") == -1, "invalid UTF-8 in the header refused");
#undef DST
#undef CTX
}

static void
test_reply(void)
{
	struct guard_finding fs[2] = {
		{ .type = "payment_card", .cls = "financial", .tier = TIER_CONFIDENTIAL,
		  .start = 3, .end = 19, .validator = "luhn" },
		{ .type = "secret.github", .cls = "secret", .tier = TIER_RESTRICTED,
		  .start = 30, .end = 70, .validator = "" },
	};
	struct guard_redaction rs[2] = {
		{ .start = 3, .end = 19, .placeholder = "[CARD_1]" },
		{ .start = 30, .end = 70, .placeholder = "<SECRET:2>" },
	};
	struct guard_reply r = { .id = 77, .decision = GUARD_DENY, .tier = TIER_RESTRICTED,
	    .reason = "a secret", .findings = fs, .nfindings = 2, .redactions = rs,
	    .nredactions = 2 };
	struct guard_reply back;
	struct guard_frame f;
	struct sbuf b;
	char why[256];
	uint64_t id = 0;

	begin("reply");
	sbuf_init(&b, 1 << 20);
	guard_reply_encode(&r, &b);
	guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL);
	CHECK_INT(guard_reply_decode(&f, 100, &back, why, sizeof(why)), 0);
	CHECK(back.id == 77 && back.decision == GUARD_DENY && back.tier == TIER_RESTRICTED &&
	    strcmp(back.reason, "a secret") == 0, "id, decision, tier, reason");
	CHECK(back.nfindings == 2 && strcmp(back.findings[0].type, "payment_card") == 0 &&
	    strcmp(back.findings[0].cls, "financial") == 0 &&
	    back.findings[0].tier == TIER_CONFIDENTIAL && back.findings[0].start == 3 &&
	    back.findings[0].end == 19 && strcmp(back.findings[0].validator, "luhn") == 0 &&
	    back.findings[1].tier == TIER_RESTRICTED && back.findings[1].end == 70,
	    "findings come back");
	CHECK(back.nredactions == 2 && back.redactions[1].start == 30 &&
	    strcmp(back.redactions[1].placeholder, "<SECRET:2>") == 0, "redactions come back");
	guard_reply_free(&back);
	CHECK(guard_reply_decode(&f, 69, &back, why, sizeof(why)) < 0,
	    "the same reply against a shorter body is refused (%s)", why);
	CHECK(guard_reply_peek_id(&f, &id) == 0 && id == 77, "peek id");
	sbuf_free(&b);

	/* Minimal reply: optional members absent. */
	CHECK_INT(reply_rc("{\"type\":\"result\",\"id\":1,\"decision\":\"allow\","
	    "\"tier\":\"restricted\"}", 0), 0);
	CHECK_INT(reply_rc("{\"type\":\"result\",\"id\":1,\"decision\":\"error\","
	    "\"tier\":\"public\",\"reason\":\"x\",\"findings\":[],\"redactions\":[],"
	    "\"future\":{\"a\":[1]}}", 0), 0);
	CHECK_INT(reply_rc("{\"type\":\"result\",\"id\":1,\"decision\":\"allow\","
	    "\"tier\":\"public\",\"redactions\":[{\"start\":0,\"end\":5,\"placeholder\":\"a\"},"
	    "{\"start\":5,\"end\":10,\"placeholder\":\"[X_Y:z.1-2<>]\"}]}", 10), 0);

#define R "{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"internal\""
#define F(x) R ",\"findings\":[" x "]}"
#define X(x) R ",\"redactions\":[" x "]}"
	{
		static const char *const bad[] = {
			"{\"type\":\"result\",\"decision\":\"allow\",\"tier\":\"public\"}",
			"{\"type\":\"result\",\"id\":1,\"tier\":\"public\"}",
			"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\"}",
			"{\"type\":\"result\",\"id\":1,\"decision\":\"maybe\",\"tier\":\"public\"}",
			"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"secret\"}",
			"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"Public\"}",
			"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":2}",
			"{\"type\":\"result\",\"id\":-1,\"decision\":\"allow\",\"tier\":\"public\"}",
			"{\"type\":\"result\",\"id\":1e3,\"decision\":\"allow\",\"tier\":\"public\"}",
			"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\","
			    "\"reason\":5}",
			"{\"type\":\"results\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\"}",
			"{\"type\":\"result\",\"id\":1,\"id\":2,\"decision\":\"allow\","
			    "\"tier\":\"public\"}",
			"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\"}"
			    "garbage",
			"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\"",
			R ",\"findings\":{}}",
			F("1"),
			F("{\"class\":\"c\",\"tier\":\"public\",\"start\":0,\"end\":1}"),
			F("{\"type\":\"t\",\"tier\":\"public\",\"start\":0,\"end\":1}"),
			F("{\"type\":\"t\",\"class\":\"c\",\"start\":0,\"end\":1}"),
			F("{\"type\":\"t\",\"class\":\"c\",\"tier\":\"top\",\"start\":0,\"end\":1}"),
			F("{\"type\":\"a b\",\"class\":\"c\",\"tier\":\"public\",\"start\":0,\"end\":1}"),
			F("{\"type\":\"t\",\"class\":\"c\\\"\",\"tier\":\"public\",\"start\":0,"
			    "\"end\":1}"),
			F("{\"type\":\"t\",\"class\":\"c\",\"tier\":\"public\",\"start\":0,\"end\":1,"
			    "\"validator\":\"x y\"}"),
			F("{\"type\":\"t\",\"class\":\"c\",\"tier\":\"public\",\"start\":0,"
			    "\"end\":11}"),
			F("{\"type\":\"t\",\"class\":\"c\",\"tier\":\"public\",\"start\":4,\"end\":4}"),
			F("{\"type\":\"t\",\"class\":\"c\",\"tier\":\"public\",\"start\":5,\"end\":4}"),
			F("{\"type\":\"t\",\"class\":\"c\",\"tier\":\"public\",\"start\":-1,\"end\":4}"),
			F("{\"type\":\"t\",\"class\":\"c\",\"tier\":\"public\",\"start\":0,"
			    "\"end\":18446744073709551617}"),
			F("{\"type\":\"t\",\"class\":\"c\",\"tier\":\"public\",\"start\":\"0\","
			    "\"end\":4}"),
			F("{\"type\":\"0123456789012345678901234567890123456789012345678\","
			    "\"class\":\"c\",\"tier\":\"public\",\"start\":0,\"end\":4}"),
			R ",\"redactions\":\"none\"}",
			X("{\"start\":0,\"end\":4}"),
			X("{\"start\":0,\"end\":4,\"placeholder\":\"\"}"),
			X("{\"start\":0,\"end\":4,\"placeholder\":\"[A B]\"}"),
			X("{\"start\":0,\"end\":4,\"placeholder\":\"\\\"x\\\"\"}"),
			X("{\"start\":0,\"end\":4,\"placeholder\":\"x/y\"}"),
			X("{\"start\":0,\"end\":4,\"placeholder\":"
			    "\"01234567890123456789012345678901234567890123456789012345678901234\"}"),
			X("{\"start\":0,\"end\":11,\"placeholder\":\"x\"}"),
			X("{\"start\":3,\"end\":3,\"placeholder\":\"x\"}"),
			X("{\"start\":5,\"end\":8,\"placeholder\":\"x\"},"
			    "{\"start\":0,\"end\":2,\"placeholder\":\"y\"}"),
			X("{\"start\":0,\"end\":5,\"placeholder\":\"x\"},"
			    "{\"start\":4,\"end\":8,\"placeholder\":\"y\"}"),
			X("{\"start\":0,\"end\":5,\"placeholder\":\"x\"},"
			    "{\"start\":0,\"end\":5,\"placeholder\":\"y\"}"),
			X("[]"),
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
			CHECK(reply_rc(bad[i], 10) == -1, "reply refused: %.100s -> %s", bad[i],
			    last_why);
	}
#undef F
#undef X
#undef R

	/* A reply carries no body. */
	{
		const char *h = "{\"type\":\"result\",\"id\":1,\"decision\":\"allow\","
		    "\"tier\":\"public\"}";
		frame_of(h, "x", 1, &b, &f);
		CHECK(guard_reply_decode(&f, 10, &back, why, sizeof(why)) < 0,
		    "reply with a body refused");
		sbuf_free(&b);
	}

	/*
	 * Too many findings.  4097 of them cannot fit in a 64 KiB header, so
	 * the frame layer refuses them first; the decoder refuses them too.
	 */
	{
		struct sbuf h;
		size_t n = GUARD_MAX_FINDINGS + 1;

		sbuf_init(&h, 1 << 20);
		sbuf_adds(&h, "{\"type\":\"result\",\"id\":1,\"decision\":\"allow\","
		    "\"tier\":\"public\",\"findings\":[");
		for (size_t i = 0; i < n; i++)
			sbuf_addf(&h, "%s{\"type\":\"t\",\"class\":\"c\",\"tier\":\"public\","
			    "\"start\":0,\"end\":1}", i ? "," : "");
		sbuf_adds(&h, "]}");
		f = (struct guard_frame){ .header = h.p, .header_len = h.len };
		CHECK(guard_reply_decode(&f, 10, &back, why, sizeof(why)) < 0,
		    "more than GUARD_MAX_FINDINGS findings refused (%s)", why);
		sbuf_init(&b, 1 << 20);
		guard_frame_encode(&b, h.p, h.len, NULL, 0);
		CHECK(guard_frame_parse(b.p, b.len, GUARD_MAX_FRAME, &f, NULL) < 0,
		    "and their frame is refused for its header size");
		sbuf_free(&b);
		sbuf_free(&h);
	}

	/* A long reason is cut between characters, not refused. */
	{
		struct sbuf h;

		sbuf_init(&h, 1 << 20);
		sbuf_adds(&h, "{\"type\":\"result\",\"id\":1,\"decision\":\"deny\","
		    "\"tier\":\"public\",\"reason\":\"");
		for (int i = 0; i < 200; i++)
			sbuf_adds(&h, "\xc3\xa9");	/* é, two bytes */
		sbuf_adds(&h, "\"}");
		frame_of(h.p, NULL, 0, &b, &f);
		CHECK_INT(guard_reply_decode(&f, 10, &back, why, sizeof(why)), 0);
		CHECK(strlen(back.reason) == 254, "reason cut at 254 bytes (whole characters)");
		guard_reply_free(&back);
		sbuf_free(&b);
		sbuf_free(&h);
	}

	/* peek_id on broken headers. */
	frame_of("{\"id\":5}", NULL, 0, &b, &f);
	CHECK(guard_reply_peek_id(&f, &id) == 0 && id == 5, "peek id of a header with only an id");
	sbuf_free(&b);
	frame_of("{\"id\":-5}", NULL, 0, &b, &f);
	CHECK(guard_reply_peek_id(&f, &id) < 0, "peek refuses a negative id");
	sbuf_free(&b);
	frame_of("{\"id\":5", NULL, 0, &b, &f);
	CHECK(guard_reply_peek_id(&f, &id) < 0, "peek refuses broken JSON");
	sbuf_free(&b);

	CHECK_STR(guard_decision_name(GUARD_ALLOW), "allow");
	CHECK_STR(guard_decision_name(GUARD_DENY), "deny");
	CHECK_STR(guard_decision_name(GUARD_ERROR), "error");
}

int
main(void)
{
	test_frames();
	test_hello();
	test_request();
	test_reply();
	printf("1..%d\n%d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
