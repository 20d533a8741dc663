/*
 * Unit tests for the guard protocol's fast reader (guard_proto.c): the
 * decoders read headers in warden's own compact form without a JSON
 * parser and hand everything else to the full parser.  The promise is
 * that this changes nothing but speed: every header decodes to the same
 * result -- accepted with the same values, or refused with the same
 * reason -- whichever reader takes it.
 *
 * Checked here: the headers warden's encoders write are taken by the fast
 * reader (it is really used); headers in other forms (whitespace, member
 * order, escapes, UTF-8, unknown members) still decode, through the full
 * parser; and for each of those headers and thousands of mutations of
 * them (bytes deleted, replaced, inserted; numbers, strings and members
 * changed), decoding with the fast reader on and off gives the same
 * answer.
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

/* A decode's whole outcome, to compare two of them. */
struct outcome {
	int rc;
	char why[256];
	struct guard_request req;
	struct guard_reply rep;
};

static void
frame_of(const char *hdr, size_t hlen, const void *body, size_t blen, struct sbuf *buf,
    struct guard_frame *f)
{
	sbuf_init(buf, GUARD_MAX_FRAME + 8);
	guard_frame_encode(buf, hdr, hlen, body, blen);
	if (guard_frame_parse(buf->p, buf->len, GUARD_MAX_FRAME, f, NULL) != (ssize_t)buf->len) {
		printf("# frame_of: the frame did not parse back\n");
		exit(1);
	}
}

static bool
same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool
same_request(const struct outcome *a, const struct outcome *b)
{
	const struct guard_request *x = &a->req, *y = &b->req;

	if (a->rc != b->rc || strcmp(a->why, b->why) != 0)
		return false;
	if (a->rc < 0)
		return true;
	return x->id == y->id && x->deadline_ms == y->deadline_ms && x->pid == y->pid &&
	    same_str(x->format, y->format) && same_str(x->provider, y->provider) &&
	    same_str(x->host, y->host) && same_str(x->path, y->path) &&
	    same_str(x->model, y->model) && same_str(x->sandbox, y->sandbox) &&
	    same_str(x->binary, y->binary) && x->body == y->body && x->body_len == y->body_len;
}

static bool
same_reply(const struct outcome *a, const struct outcome *b)
{
	const struct guard_reply *x = &a->rep, *y = &b->rep;

	if (a->rc != b->rc || strcmp(a->why, b->why) != 0)
		return false;
	if (a->rc < 0)
		return true;
	if (x->id != y->id || x->decision != y->decision || x->tier != y->tier ||
	    memcmp(x->reason, y->reason, sizeof(x->reason)) != 0 ||
	    x->nfindings != y->nfindings || x->nredactions != y->nredactions)
		return false;
	/* Whole structs, padding and the bytes after each NUL included: both zero them. */
	return (!x->nfindings || memcmp(x->findings, y->findings,
	    x->nfindings * sizeof(*x->findings)) == 0) &&
	    (!x->nredactions || memcmp(x->redactions, y->redactions,
	    x->nredactions * sizeof(*x->redactions)) == 0);
}

static void
decode_request(const struct guard_frame *f, bool fast, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	guard_proto_fast_decode(fast);
	o->rc = guard_request_decode(f, &o->req, o->why, sizeof(o->why));
	guard_proto_fast_decode(true);
}

static void
decode_reply(const struct guard_frame *f, size_t body_len, bool fast, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	guard_proto_fast_decode(fast);
	o->rc = guard_reply_decode(f, body_len, &o->rep, o->why, sizeof(o->why));
	guard_proto_fast_decode(true);
}

/* Mutations that differ: counted per kind for the summary line, the first few shown. */
static unsigned mismatches;

/* Decode one header both ways as a request and as a reply; true when the answers agree. */
static bool
agree(const char *hdr, size_t hlen, const void *body, size_t blen, size_t reply_body_len)
{
	struct sbuf b;
	struct guard_frame f;
	struct outcome fa, sl, rfa, rsl;
	bool ok;

	frame_of(hdr, hlen, body, blen, &b, &f);
	decode_request(&f, true, &fa);
	decode_request(&f, false, &sl);
	decode_reply(&f, reply_body_len, true, &rfa);
	decode_reply(&f, reply_body_len, false, &rsl);
	ok = same_request(&fa, &sl) && same_reply(&rfa, &rsl);
	if (!ok && mismatches++ < 5)
		printf("# readers disagree on %.*s (request %d/%d \"%s\"/\"%s\", reply %d/%d "
		    "\"%s\"/\"%s\")\n", (int)(hlen > 300 ? 300 : hlen), hdr, fa.rc, sl.rc, fa.why,
		    sl.why, rfa.rc, rsl.rc, rfa.why, rsl.why);
	if (fa.rc == 0)
		guard_request_free(&fa.req);
	if (sl.rc == 0)
		guard_request_free(&sl.req);
	guard_reply_free(&rfa.rep);
	guard_reply_free(&rsl.rep);
	sbuf_free(&b);
	return ok;
}

/* The header of an encoded frame, as a string. */
static char *
header_of(const struct sbuf *frame)
{
	struct guard_frame f;
	char *h;

	if (guard_frame_parse(frame->p, frame->len, GUARD_MAX_FRAME, &f, NULL) <= 0) {
		printf("# header_of: not a frame\n");
		exit(1);
	}
	h = xmalloc(f.header_len + 1);
	memcpy(h, f.header, f.header_len);
	h[f.header_len] = '\0';
	return h;
}

static char *
request_header(const struct guard_request *r)
{
	struct sbuf b;
	char *h;

	sbuf_init(&b, GUARD_MAX_FRAME + 8);
	guard_request_encode(r, &b);
	h = header_of(&b);
	sbuf_free(&b);
	return h;
}

static char *
reply_header(const struct guard_reply *r)
{
	struct sbuf b;
	char *h;

	sbuf_init(&b, 1u << 24);
	guard_reply_encode(r, &b);
	h = header_of(&b);
	sbuf_free(&b);
	return h;
}

static const struct guard_request base_request = {
	.id = 7, .deadline_ms = 2000, .format = "anthropic", .provider = "anthropic",
	.host = "api.anthropic.com", .path = "/v1/messages", .model = "claude-sonnet-4",
	.sandbox = "demo", .binary = "/usr/bin/python3", .pid = 4242,
	.body = "{\"messages\":[]}", .body_len = 15,
};

static struct guard_finding base_findings[] = {
	{ "health.icd10", "health", TIER_CONFIDENTIAL, 3, 9, "" },
	{ "payment_card", "financial", TIER_CONFIDENTIAL, 20, 36, "luhn" },
	{ "secret.github_token", "secret", TIER_RESTRICTED, 40, 80, "" },
};

static struct guard_redaction base_redactions[] = {
	{ 3, 9, "[HEALTH_1]" },
	{ 20, 36, "[CARD_1]" },
	{ 40, 80, "<SECRET:1>" },
};

static const struct guard_reply base_reply = {
	.id = 7, .decision = GUARD_ALLOW, .tier = TIER_RESTRICTED, .reason = "3 findings",
	.findings = base_findings, .nfindings = 3,
	.redactions = base_redactions, .nredactions = 3,
};

/* Headers in the encoders' own form: the fast reader takes them, with the encoded values. */
static void
test_own_form(void)
{
	struct guard_request r = base_request;
	struct guard_reply p = base_reply;
	struct sbuf b;
	struct guard_frame f;
	struct outcome o;
	size_t hits;
	char *h;

	begin("own form");
	h = request_header(&r);
	hits = guard_proto_fast_hits();
	frame_of(h, strlen(h), r.body, r.body_len, &b, &f);
	decode_request(&f, true, &o);
	CHECK(o.rc == 0, "a request as warden writes it decodes (%s)", o.why);
	CHECK(guard_proto_fast_hits() == hits + 1, "...through the fast reader");
	CHECK(o.rc == 0 && o.req.id == 7 && o.req.deadline_ms == 2000 && o.req.pid == 4242 &&
	    strcmp(o.req.format, "anthropic") == 0 && strcmp(o.req.host, "api.anthropic.com") == 0 &&
	    strcmp(o.req.path, "/v1/messages") == 0 && strcmp(o.req.model, "claude-sonnet-4") == 0 &&
	    strcmp(o.req.sandbox, "demo") == 0 && strcmp(o.req.binary, "/usr/bin/python3") == 0 &&
	    o.req.body_len == 15 && memcmp(o.req.body, "{\"messages\":[]}", 15) == 0,
	    "...with every value");
	if (o.rc == 0)
		guard_request_free(&o.req);
	hits = guard_proto_fast_hits();
	decode_request(&f, false, &o);
	CHECK(o.rc == 0 && guard_proto_fast_hits() == hits, "switched off, the full parser takes it");
	if (o.rc == 0)
		guard_request_free(&o.req);
	sbuf_free(&b);
	CHECK(agree(h, strlen(h), r.body, r.body_len, 100), "both readers agree on it");
	free(h);

	h = reply_header(&p);
	CHECK(strncmp(h, "{\"type\":\"result\",\"id\":7,\"decision\":\"allow\",\"tier\":"
	    "\"restricted\",\"reason\":\"3 findings\",\"findings\":[{\"type\":\"health.icd10\","
	    "\"class\":\"health\",\"tier\":\"confidential\",\"start\":3,\"end\":9,\"validator\":"
	    "\"\"},", 170) == 0, "a reply is written compactly, in the specification's order: %s",
	    h);
	hits = guard_proto_fast_hits();
	frame_of(h, strlen(h), NULL, 0, &b, &f);
	decode_reply(&f, 100, true, &o);
	CHECK(o.rc == 0 && guard_proto_fast_hits() == hits + 1,
	    "a reply as warden-guard writes it decodes through the fast reader (%s)", o.why);
	CHECK(o.rc == 0 && o.rep.nfindings == 3 && o.rep.nredactions == 3 &&
	    o.rep.tier == TIER_RESTRICTED && strcmp(o.rep.reason, "3 findings") == 0 &&
	    strcmp(o.rep.findings[1].validator, "luhn") == 0 && o.rep.findings[2].end == 80 &&
	    strcmp(o.rep.redactions[2].placeholder, "<SECRET:1>") == 0,
	    "...with every value");
	guard_reply_free(&o.rep);
	sbuf_free(&b);
	CHECK(agree(h, strlen(h), NULL, 0, 100), "both readers agree on it");
	free(h);

	p.nfindings = p.nredactions = 0;
	p.decision = GUARD_ERROR;
	p.reason[0] = '\0';
	h = reply_header(&p);
	CHECK(strcmp(h, "{\"type\":\"result\",\"id\":7,\"decision\":\"error\",\"tier\":\"restricted\","
	    "\"reason\":\"\",\"findings\":[],\"redactions\":[]}") == 0, "an empty reply: %s", h);
	hits = guard_proto_fast_hits();
	CHECK(agree(h, strlen(h), NULL, 0, 100) && guard_proto_fast_hits() > hits,
	    "...decodes through the fast reader, as the full parser reads it");
	free(h);
}

/* Other forms of the same messages: valid JSON the fast reader leaves to the full parser. */
static const char *const other_forms[] = {
	"{ \"type\":\"classify\",\"id\":7,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"id\":7,\"type\":\"classify\",\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":7,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/a\\\"b\\\\c\\u00e9\","
	"\"model\":\"m\\u00e9\"},\"context\":{\"sandbox\":\"s\",\"binary\":\"/b\\/in\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":7,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\xc3\xa9\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0},\"later\":[1,{\"x\":null}]}",
	"{\"type\":\"classify\",\"id\":7,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}\n ",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"deny\",\"tier\":\"internal\"}",
	"{\"type\": \"result\", \"id\": 1, \"decision\": \"allow\", \"tier\": \"public\", "
	"\"reason\": \"\", \"findings\": [], \"redactions\": []}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\","
	"\"reason\":\"caf\xc3\xa9 \\u00e9\",\"findings\":[{\"class\":\"custom\",\"type\":\"custom.term\","
	"\"tier\":\"internal\",\"start\":0,\"end\":4}],\"redactions\":[{\"end\":4,\"start\":0,"
	"\"placeholder\":\"[T_1]\"}],\"extra\":{}}",
};

static void
test_other_forms(void)
{
	begin("other forms");
	for (size_t i = 0; i < sizeof(other_forms) / sizeof(other_forms[0]); i++) {
		const char *h = other_forms[i];
		bool is_request = strstr(h, "classify") != NULL;
		struct sbuf b;
		struct guard_frame f;
		struct outcome o;
		size_t hits = guard_proto_fast_hits();

		frame_of(h, strlen(h), is_request ? "x" : NULL, is_request ? 1 : 0, &b, &f);
		if (is_request)
			decode_request(&f, true, &o);
		else
			decode_reply(&f, 100, true, &o);
		CHECK(o.rc == 0 && guard_proto_fast_hits() == hits,
		    "form %zu decodes, through the full parser (%s)", i, o.why);
		if (is_request && o.rc == 0)
			guard_request_free(&o.req);
		guard_reply_free(&o.rep);
		sbuf_free(&b);
		CHECK(agree(h, strlen(h), is_request ? "x" : NULL, is_request ? 1 : 0, 100),
		    "form %zu: both readers agree", i);
	}
}

/* Headers refused, the fast reader on: the reasons are the full parser's. */
static const char *const refused[] = {
	"{\"type\":\"classify\",\"id\":01,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":1.0,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":1e3,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":9007199254740992,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":4294967296,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"Anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":2147483648}}",
	"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}x",
	"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0},\"id\":2}",
	"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\tx\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\\u0000\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"anthropic\","
	"\"destination\":{\"provider\":\"\",\"host\":\"h\xff\",\"path\":\"/\",\"model\":\"\"},"
	"\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"maybe\",\"tier\":\"public\",\"reason\":\"\","
	"\"findings\":[],\"redactions\":[]}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"secret\",\"reason\":\"\","
	"\"findings\":[],\"redactions\":[]}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\",\"reason\":\"\","
	"\"findings\":[{\"type\":\"a b\",\"class\":\"c\",\"tier\":\"public\",\"start\":0,\"end\":1,"
	"\"validator\":\"\"}],\"redactions\":[]}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\",\"reason\":\"\","
	"\"findings\":[{\"type\":\"a\",\"class\":\"\",\"tier\":\"public\",\"start\":0,\"end\":1,"
	"\"validator\":\"\"}],\"redactions\":[]}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\",\"reason\":\"\","
	"\"findings\":[{\"type\":\"a\",\"class\":\"c\",\"tier\":\"public\",\"start\":5,\"end\":5,"
	"\"validator\":\"\"}],\"redactions\":[]}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\",\"reason\":\"\","
	"\"findings\":[{\"type\":\"a\",\"class\":\"c\",\"tier\":\"public\",\"start\":0,\"end\":101,"
	"\"validator\":\"\"}],\"redactions\":[]}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\",\"reason\":\"\","
	"\"findings\":[],\"redactions\":[{\"start\":5,\"end\":9,\"placeholder\":\"[A]\"},"
	"{\"start\":8,\"end\":12,\"placeholder\":\"[B]\"}]}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\",\"reason\":\"\","
	"\"findings\":[],\"redactions\":[{\"start\":5,\"end\":9,\"placeholder\":\"[A B]\"}]}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\",\"reason\":\"\","
	"\"findings\":[],\"redactions\":[{\"start\":5,\"end\":9,\"placeholder\":\"\"}]}",
	"{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\",\"reason\":\"\","
	"\"findings\":[],\"redactions\":[],}",
};

static void
test_refused(void)
{
	begin("refused");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const char *h = refused[i];
		bool is_request = strstr(h, "classify") != NULL;
		struct sbuf b;
		struct guard_frame f;
		struct outcome o;

		frame_of(h, strlen(h), is_request ? "x" : NULL, is_request ? 1 : 0, &b, &f);
		if (is_request)
			decode_request(&f, true, &o);
		else
			decode_reply(&f, 100, true, &o);
		CHECK(o.rc < 0 && o.why[0], "header %zu is refused: %s", i, o.why);
		if (is_request && o.rc == 0)
			guard_request_free(&o.req);
		guard_reply_free(&o.rep);
		sbuf_free(&b);
		CHECK(agree(h, strlen(h), is_request ? "x" : NULL, is_request ? 1 : 0, 100),
		    "header %zu: both readers agree", i);
	}
	/* A reply must have no body; the fast reader must not skip that check. */
	{
		char *h = reply_header(&base_reply);

		CHECK(agree(h, strlen(h), "x", 1, 100), "a reply with a body: both readers agree");
		free(h);
	}
	/* Strings one byte past their limits (and at them). */
	{
		static const struct {
			const char *fmt;
			int len;
		} longs[] = {
			{ "{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"%s\","
			  "\"destination\":{\"provider\":\"\",\"host\":\"h\",\"path\":\"/\",\"model\":\"\"},"
			  "\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}", 32 },
			{ "{\"type\":\"classify\",\"id\":1,\"deadline_ms\":2000,\"format\":\"a\","
			  "\"destination\":{\"provider\":\"\",\"host\":\"%s\",\"path\":\"/\",\"model\":\"\"},"
			  "\"context\":{\"sandbox\":\"s\",\"binary\":\"\",\"pid\":0}}", GUARD_MAX_STRING },
			{ "{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\","
			  "\"reason\":\"\",\"findings\":[{\"type\":\"%s\",\"class\":\"c\",\"tier\":\"public\","
			  "\"start\":0,\"end\":1,\"validator\":\"\"}],\"redactions\":[]}", 47 },
			{ "{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\","
			  "\"reason\":\"\",\"findings\":[{\"type\":\"t\",\"class\":\"%s\",\"tier\":\"public\","
			  "\"start\":0,\"end\":1,\"validator\":\"\"}],\"redactions\":[]}", 23 },
			{ "{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\","
			  "\"reason\":\"\",\"findings\":[{\"type\":\"t\",\"class\":\"c\",\"tier\":\"public\","
			  "\"start\":0,\"end\":1,\"validator\":\"%s\"}],\"redactions\":[]}", 31 },
			{ "{\"type\":\"result\",\"id\":1,\"decision\":\"allow\",\"tier\":\"public\","
			  "\"reason\":\"\",\"findings\":[],\"redactions\":[{\"start\":0,\"end\":1,"
			  "\"placeholder\":\"%s\"}]}", GUARD_PLACEHOLDER_MAX },
		};
		char val[GUARD_MAX_STRING + 2], h[GUARD_MAX_STRING + 400];

		for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
			for (int extra = 0; extra <= 1; extra++) {
				bool is_request = strstr(longs[i].fmt, "classify") != NULL;

				memset(val, 'a', (size_t)longs[i].len + (size_t)extra);
				val[longs[i].len + extra] = '\0';
				snprintf(h, sizeof(h), longs[i].fmt, val);
				CHECK(agree(h, strlen(h), is_request ? "x" : NULL, is_request ? 1 : 0, 100),
				    "a string of %d bytes where %d fit (%zu): both readers agree",
				    longs[i].len + extra, longs[i].len, i);
			}
		}
	}
	/* A reason longer than the field is cut, the same way. */
	{
		struct guard_reply p = base_reply;
		char h[1200];

		p.nfindings = p.nredactions = 0;
		snprintf(h, sizeof(h), "{\"type\":\"result\",\"id\":1,\"decision\":\"deny\","
		    "\"tier\":\"public\",\"reason\":\"%0300d\",\"findings\":[],\"redactions\":[]}", 5);
		CHECK(agree(h, strlen(h), NULL, 0, 100), "a 300-byte reason: both readers agree");
	}
}

/* A small deterministic generator (xorshift), so a failure can be replayed. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Bytes worth putting in a header: JSON's own, digits, letters, escapes, UTF-8, controls. */
static const char interesting[] = "{}[]\":,\\ 0123456789-.eE+tfnulrx_<>\t\n\x7f\x80\xc3\xa9\xff";

static const char *const tokens[] = {
	"0", "01", "1.0", "1e3", "-1", "9007199254740991", "9007199254740992", "4294967295",
	"4294967296", "2147483647", "2147483648", "\"\"", "\"x\"", "\"\\u0000\"", "\"\\n\"",
	"\"a\\\"b\"", "null", "true", "[]", "{}", "\"public\"", "\"secret\"", "\"allow\"",
	"\"error\"", "\"\xc3\xa9\"", ",\"id\":1", ",\"x\":1", " ",
};

/* One random change to a header: delete, replace or insert a byte, or splice a token in. */
static size_t
mutate(const char *src, size_t n, char *dst, size_t cap)
{
	size_t at = n ? rnd((unsigned)n) : 0, len;
	const char *tok;

	switch (rnd(5)) {
	case 0:	/* delete a byte */
		if (!n)
			return 0;
		memcpy(dst, src, at);
		memcpy(dst + at, src + at + 1, n - at - 1);
		return n - 1;
	case 1:	/* replace a byte */
		memcpy(dst, src, n);
		if (n)
			dst[at] = interesting[rnd(sizeof(interesting) - 1)];
		return n;
	case 2:	/* insert a byte */
		if (n + 1 > cap)
			return 0;
		memcpy(dst, src, at);
		dst[at] = interesting[rnd(sizeof(interesting) - 1)];
		memcpy(dst + at + 1, src + at, n - at);
		return n + 1;
	default:	/* replace a run of bytes with a token */
		tok = tokens[rnd(sizeof(tokens) / sizeof(tokens[0]))];
		len = rnd(4);
		if (at + len > n)
			len = n - at;
		if (n - len + strlen(tok) > cap)
			return 0;
		memcpy(dst, src, at);
		memcpy(dst + at, tok, strlen(tok));
		memcpy(dst + at + strlen(tok), src + at + len, n - at - len);
		return n - len + strlen(tok);
	}
}

static void
test_mutations(void)
{
	struct guard_request r = base_request;
	struct guard_reply p = base_reply;
	char *seeds[4];
	char a[4096], b[4096];
	unsigned runs = 0, ok = 0;

	begin("mutations");
	seeds[0] = request_header(&r);
	seeds[1] = reply_header(&p);
	p.nredactions = 1;
	p.nfindings = 0;
	seeds[2] = reply_header(&p);
	r.provider = "";
	r.model = "";
	r.pid = 0;
	seeds[3] = request_header(&r);
	for (int s = 0; s < 4; s++) {
		for (int k = 0; k < 4000; k++) {
			size_t n = strlen(seeds[s]);

			memcpy(a, seeds[s], n);
			/* One to three changes in a row. */
			for (int m = rnd(3) + 1; m > 0; m--) {
				size_t got = mutate(a, n, b, sizeof(b));

				if (!got)
					break;
				memcpy(a, b, got);
				n = got;
			}
			runs++;
			ok += agree(a, n, "0123456789", 10, 100);
		}
	}
	CHECK(ok == runs, "%u mutated headers, each decoded as a request and as a reply with "
	    "the fast reader on and off: %u agree", runs, ok);
	for (int s = 0; s < 4; s++)
		free(seeds[s]);
}

int
main(void)
{
	test_own_form();
	test_other_forms();
	test_refused();
	test_mutations();
	printf("1..%d\n# %d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
