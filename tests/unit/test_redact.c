/*
 * Unit tests for redaction and response restoration (src/router/redact.h).
 *
 * redact_apply: spans replaced, widened when they cut an escape sequence,
 * a surrogate pair or a UTF-8 sequence; equal originals share one
 * placeholder, different ones never do; bad spans are refused and leave
 * the output alone; the result is still JSON.
 *
 * The restorer is driven with streams shaped like the providers' own
 * (Anthropic Messages, OpenAI Chat Completions and Responses), built as
 * fixtures here: a placeholder split at every byte position across two
 * deltas, fed whole and in 1-, 2- and 7-byte reads; several placeholders;
 * tool-call arguments, whose JSON must stay valid when an original holds
 * quotes; held text flushed before content_block_stop, finish_reason,
 * .done and [DONE]; CRLF streams; oversize events; plain JSON bodies; and
 * events without placeholders passed through byte for byte.  The client's
 * view is rebuilt from the restored stream by parsing it as an SDK would.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/router/redact.h"

#include "check.h"

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

/* ---- redact_apply ---------------------------------------------------------- */

/* A redaction over the first occurrence of needle in body (from byte `from`). */
static struct guard_redaction
span_of(const char *body, const char *needle, size_t from, const char *ph)
{
	struct guard_redaction r = { 0 };
	const char *p = strstr(body + from, needle);

	if (!p) {
		printf("Bail out! fixture: '%s' not in body\n", needle);
		exit(1);
	}
	r.start = (size_t)(p - body);
	r.end = r.start + strlen(needle);
	snprintf(r.placeholder, sizeof(r.placeholder), "%s", ph);
	return r;
}

static struct guard_redaction
span_at(size_t start, size_t end, const char *ph)
{
	struct guard_redaction r = { 0 };

	r.start = start;
	r.end = end;
	snprintf(r.placeholder, sizeof(r.placeholder), "%s", ph);
	return r;
}

static bool
is_json(const char *s, size_t n)
{
	json_t *v = json_loadb(s, n, JSON_DECODE_ANY, NULL);
	bool ok = v != NULL;

	json_decref(v);
	return ok;
}

static const char *
map_original(const struct redact_map *m, const char *ph)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].placeholder, ph) == 0)
			return m->v[i].original;
	return NULL;
}

/* Apply; returns the redacted body (owned) or NULL with why printed. */
static char *
apply(const char *body, const struct guard_redaction *r, size_t n, struct redact_map *m, char *why)
{
	struct sbuf out;
	char *res;

	sbuf_init(&out, 1u << 20);
	why[0] = '\0';
	if (redact_apply(body, strlen(body), r, n, &out, m, why, 200) != 0) {
		CHECK_INT(out.len, 0);
		sbuf_free(&out);
		return NULL;
	}
	res = xstrdup(out.p);
	sbuf_free(&out);
	return res;
}

static void
test_apply_basic(void)
{
	const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"mail alice@example.com "
	    "or bob@example.org, call +1 555 0100\"}]}";
	struct guard_redaction r[3];
	struct redact_map m = { 0 };
	char why[200], *out;

	begin("redact_apply: spans replaced, map holds raw originals");
	r[0] = span_of(body, "alice@example.com", 0, "[EMAIL_1]");
	r[1] = span_of(body, "bob@example.org", 0, "[EMAIL_2]");
	r[2] = span_of(body, "+1 555 0100", 0, "[PHONE_1]");
	out = apply(body, r, 3, &m, why);
	CHECK_STR(out, "{\"messages\":[{\"role\":\"user\",\"content\":\"mail [EMAIL_1] or [EMAIL_2], "
	    "call [PHONE_1]\"}]}");
	CHECK(out && is_json(out, strlen(out)), "the result is JSON");
	CHECK_INT(m.n, 3);
	CHECK_STR(map_original(&m, "[EMAIL_1]"), "alice@example.com");
	CHECK_STR(map_original(&m, "[EMAIL_2]"), "bob@example.org");
	CHECK_STR(map_original(&m, "[PHONE_1]"), "+1 555 0100");
	CHECK(m.n == 3 && m.v[2].original_len == 11, "original_len is the span's length");
	free(out);
	redact_map_free(&m);

	begin("redact_apply: no spans copies the body");
	out = apply(body, NULL, 0, &m, why);
	CHECK_STR(out, body);
	CHECK_INT(m.n, 0);
	free(out);

	begin("redact_apply: span at the very start and end");
	out = apply("secret", (struct guard_redaction[]){ span_at(0, 6, "[S]") }, 1, &m, why);
	CHECK_STR(out, "[S]");
	CHECK_STR(map_original(&m, "[S]"), "secret");
	free(out);
	redact_map_free(&m);
}

static void
test_apply_same(void)
{
	const char *body = "{\"content\":\"a@x.io wrote to b@y.io, cc a@x.io, c@z.io\"}";
	struct guard_redaction r[4];
	struct redact_map m = { 0 };
	char why[200], *out;

	begin("redact_apply: equal originals share one placeholder");
	r[0] = span_of(body, "a@x.io", 0, "[EMAIL_1]");
	r[1] = span_of(body, "b@y.io", 0, "[EMAIL_2]");
	r[2] = span_of(body, "a@x.io", r[0].end, "[EMAIL_3]");
	r[3] = span_of(body, "c@z.io", 0, "[EMAIL_4]");
	out = apply(body, r, 4, &m, why);
	CHECK_STR(out, "{\"content\":\"[EMAIL_1] wrote to [EMAIL_2], cc [EMAIL_1], [EMAIL_4]\"}");
	CHECK_INT(m.n, 3);
	CHECK(map_original(&m, "[EMAIL_3]") == NULL, "the unused placeholder is not in the map");
	free(out);
	redact_map_free(&m);

	begin("redact_apply: different originals never share a placeholder");
	r[0] = span_of(body, "a@x.io", 0, "[EMAIL_1]");
	r[1] = span_of(body, "b@y.io", 0, "[EMAIL_1]");
	r[2] = span_of(body, "a@x.io", r[0].end, "[EMAIL_1]");
	r[3] = span_of(body, "c@z.io", 0, "[EMAIL_1_2]");
	out = apply(body, r, 4, &m, why);
	CHECK_STR(out, "{\"content\":\"[EMAIL_1] wrote to [EMAIL_1_2], cc [EMAIL_1], [EMAIL_1_2_2]\"}");
	CHECK_INT(m.n, 3);
	CHECK_STR(map_original(&m, "[EMAIL_1]"), "a@x.io");
	CHECK_STR(map_original(&m, "[EMAIL_1_2]"), "b@y.io");
	CHECK_STR(map_original(&m, "[EMAIL_1_2_2]"), "c@z.io");
	free(out);
	redact_map_free(&m);

	begin("redact_apply: unique suffixes stay within GUARD_PLACEHOLDER_MAX");
	{
		char big[GUARD_PLACEHOLDER_MAX + 1], body2[2000];
		struct guard_redaction rr[12];
		struct sbuf b;
		size_t at = 0;
		bool all_ok = true;

		memset(big, 'A', GUARD_PLACEHOLDER_MAX);
		big[0] = '<';
		big[GUARD_PLACEHOLDER_MAX - 1] = '>';
		big[GUARD_PLACEHOLDER_MAX] = '\0';
		sbuf_init(&b, sizeof(body2));
		for (int i = 0; i < 12; i++)
			sbuf_addf(&b, "v%02d ", i);
		snprintf(body2, sizeof(body2), "%s", b.p);
		sbuf_free(&b);
		for (int i = 0; i < 12; i++, at += 4)
			rr[i] = span_at(at, at + 3, big);
		out = apply(body2, rr, 12, &m, why);
		CHECK(out != NULL, "applied (%s)", why);
		CHECK_INT(m.n, 12);
		for (size_t i = 0; i < m.n; i++) {
			size_t l = strlen(m.v[i].placeholder);
			all_ok &= l <= GUARD_PLACEHOLDER_MAX && m.v[i].placeholder[l - 1] == '>';
			for (size_t j = 0; j < i; j++)
				all_ok &= strcmp(m.v[i].placeholder, m.v[j].placeholder) != 0;
		}
		CHECK(all_ok, "12 distinct placeholders of at most %d bytes, each still closed by '>'",
		    GUARD_PLACEHOLDER_MAX);
		CHECK(m.n > 10 && strstr(m.v[10].placeholder, "_11>") != NULL, "the 11th is '..._11>' (%s)",
		    m.n > 10 ? m.v[10].placeholder : "");
		free(out);
		redact_map_free(&m);
	}
}

static void
test_apply_units(void)
{
	/* The classifier sees decoded text; its spans may land inside escapes. */
	const char *body = "{\"content\":\"line\\nO\\\"Brien \\u00e9t\\u00e9 Zo\xc3\xab \xf0\x9f\x98\x80 "
	    "\\ud83d\\ude00 end\\\\\"}";
	const char *p;
	struct redact_map m = { 0 };
	char why[200], *out;
	size_t s;

	begin("redact_apply: a span cutting \\n is widened");
	p = strstr(body, "\\nO");
	s = (size_t)(p - body);
	/* From between '\' and 'n' to between '\' and '"'. */
	out = apply(body, (struct guard_redaction[]){ span_at(s + 1, s + 4, "[N]") }, 1, &m, why);
	CHECK(out && strstr(out, "line[N]Brien") != NULL, "whole escapes taken (%s)", out ? out : why);
	CHECK_STR(map_original(&m, "[N]"), "\\nO\\\"");
	CHECK(out && is_json(out, strlen(out)), "still JSON");
	free(out);
	redact_map_free(&m);

	begin("redact_apply: a span ending inside \\u00e9 is widened");
	p = strstr(body, "\\u00e9t");
	s = (size_t)(p - body);
	out = apply(body, (struct guard_redaction[]){ span_at(s, s + 3, "[E]") }, 1, &m, why);
	CHECK(out && strstr(out, "Brien [E]t\\u00e9") != NULL, "whole \\uXXXX taken (%s)", out ? out : why);
	CHECK_STR(map_original(&m, "[E]"), "\\u00e9");
	CHECK(out && is_json(out, strlen(out)), "still JSON");
	free(out);
	redact_map_free(&m);

	begin("redact_apply: a span cutting a surrogate pair takes both halves");
	p = strstr(body, "\\ude00");
	s = (size_t)(p - body);
	out = apply(body, (struct guard_redaction[]){ span_at(s, s + 6, "[SMILE]") }, 1, &m, why);
	CHECK_STR(map_original(&m, "[SMILE]"), "\\ud83d\\ude00");
	CHECK(out && is_json(out, strlen(out)), "still JSON (%s)", out ? out : why);
	free(out);
	redact_map_free(&m);

	begin("redact_apply: a span cutting UTF-8 is widened to whole characters");
	p = strstr(body, "Zo\xc3\xab");
	s = (size_t)(p - body);
	/* From inside the e-diaeresis to inside the emoji. */
	out = apply(body, (struct guard_redaction[]){ span_at(s + 3, s + 6, "[Z]") }, 1, &m, why);
	CHECK_STR(map_original(&m, "[Z]"), "\xc3\xab \xf0\x9f\x98\x80");
	CHECK(out && strstr(out, "Zo[Z] \\ud83d") != NULL, "rest intact (%s)", out ? out : why);
	CHECK(out && is_json(out, strlen(out)), "still JSON");
	free(out);
	redact_map_free(&m);

	begin("redact_apply: an escaped backslash is one unit, the quote after it is not");
	p = strstr(body, "end\\\\");
	s = (size_t)(p - body);
	out = apply(body, (struct guard_redaction[]){ span_at(s, s + 4, "[END]") }, 1, &m, why);
	CHECK_STR(map_original(&m, "[END]"), "end\\\\");
	CHECK(out && strstr(out, "[END]\"}") != NULL, "closing quote kept (%s)", out ? out : why);
	CHECK(out && is_json(out, strlen(out)), "still JSON");
	free(out);
	redact_map_free(&m);

	begin("redact_apply: every span of every length keeps the body JSON");
	{
		size_t len = strlen(body), bad = 0, tried = 0;

		for (size_t a = 12; a < len - 2; a++) {
			for (size_t b = a + 1; b <= len - 2; b++) {
				out = apply(body, (struct guard_redaction[]){ span_at(a, b, "[X]") }, 1, &m,
				    why);
				tried++;
				if (!out || !is_json(out, strlen(out))) {
					if (!bad)
						printf("# first failure: [%zu, %zu): %s\n", a, b, out ? out : why);
					bad++;
				}
				free(out);
				redact_map_free(&m);
			}
		}
		CHECK(bad == 0, "%zu of %zu spans inside the string gave invalid JSON", bad, tried);
	}
}

static void
test_apply_bad(void)
{
	const char *body = "{\"content\":\"alice@example.com and bob@example.org\"}";
	struct guard_redaction r[2];
	struct redact_map m = { 0 }, keep = { 0 };
	struct sbuf out;
	char why[200];

	begin("redact_apply: bad spans are refused, output and map untouched");
#define REFUSED(SPANS, CNT, WHAT) do { \
		sbuf_init(&out, 4096); \
		sbuf_adds(&out, "prefix"); \
		why[0] = '\0'; \
		CHECK(redact_apply(body, strlen(body), SPANS, CNT, &out, &m, why, sizeof(why)) == -1 && \
		    why[0] && strcmp(out.p, "prefix") == 0 && m.n == 0, "%s refused (%s)", WHAT, why); \
		sbuf_free(&out); \
	} while (0)
	r[0] = span_at(5, 5, "[E]");
	REFUSED(r, 1, "empty span");
	r[0] = span_at(6, 5, "[E]");
	REFUSED(r, 1, "reversed span");
	r[0] = span_at(40, strlen(body) + 1, "[E]");
	REFUSED(r, 1, "span past the end");
	r[0] = span_of(body, "bob", 0, "[A]");
	r[1] = span_of(body, "alice", 0, "[B]");
	REFUSED(r, 2, "spans out of order");
	r[0] = span_at(12, 20, "[A]");
	r[1] = span_at(19, 25, "[B]");
	REFUSED(r, 2, "overlapping spans");
	r[0] = span_of(body, "alice", 0, "[A\"]");
	REFUSED(r, 1, "placeholder with a quote");
	r[0] = span_of(body, "alice", 0, "[A\\]");
	REFUSED(r, 1, "placeholder with a backslash");
	r[0] = span_of(body, "alice", 0, "");
	REFUSED(r, 1, "empty placeholder");
	r[0] = span_of(body, "alice", 0, "[A]");
	memset(r[0].placeholder, 'x', sizeof(r[0].placeholder));
	REFUSED(r, 1, "unterminated placeholder");
	{
		const char *esc = "{\"c\":\"a\\u00e9b\"}";
		struct guard_redaction rr[2] = { span_at(7, 9, "[A]"), span_at(9, 11, "[B]") };

		sbuf_init(&out, 4096);
		CHECK(redact_apply(esc, strlen(esc), rr, 2, &out, &m, why, sizeof(why)) == -1,
		    "spans sharing one escape refused (%s)", why);
		sbuf_free(&out);
	}
	{
		/* A failure leaves a map the caller already had alone. */
		struct guard_redaction ok = span_of(body, "alice@example.com", 0, "[E]");

		sbuf_init(&out, 4096);
		CHECK(redact_apply(body, strlen(body), &ok, 1, &out, &keep, why, sizeof(why)) == 0,
		    "first apply");
		r[0] = span_at(6, 5, "[E]");
		CHECK(redact_apply(body, strlen(body), r, 1, &out, &keep, why, sizeof(why)) == -1 &&
		    keep.n == 1, "a failed apply keeps the map");
		redact_map_free(&keep);
		sbuf_free(&out);
	}
	{
		struct guard_redaction ok = span_of(body, "alice@example.com", 0, "[E]");

		sbuf_init(&out, 10);
		CHECK(redact_apply(body, strlen(body), &ok, 1, &out, &m, why, sizeof(why)) == -1 &&
		    out.len == 0 && m.n == 0, "an output too small is refused (%s)", why);
		sbuf_free(&out);
	}
#undef REFUSED
}

/* ---- the map the restorer tests use ------------------------------------------ */

/*
 * The request an agent sent: an email, a name with a quote and non-ASCII
 * text, and a word written with \u escapes.  The map is built from it by
 * redact_apply, as the router does.
 */
static const char request_body[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Write to alice@example.com "
    "for O\\\"Brien Zo\xc3\xab about the \\u00e9t\\u00e9 plan\"}]}";

#define EMAIL "alice@example.com"
#define NAME "O\"Brien Zo\xc3\xab"
#define WORD "\xc3\xa9t\xc3\xa9"

static struct redact_map M;

static void
build_map(void)
{
	struct guard_redaction r[3];
	char why[200], *out;

	r[0] = span_of(request_body, EMAIL, 0, "[EMAIL_1]");
	r[1] = span_of(request_body, "O\\\"Brien Zo\xc3\xab", 0, "[NAME_1]");
	r[2] = span_of(request_body, "\\u00e9t\\u00e9", 0, "[WORD_1]");
	out = apply(request_body, r, 3, &M, why);
	if (!out || M.n != 3) {
		printf("Bail out! the restorer's map did not build: %s\n", why);
		exit(1);
	}
	free(out);
}

/* ---- driving a restorer ------------------------------------------------------- */

struct run {
	char *out;
	size_t len;
	bool overflowed;
	int rc;
};

/* Restore in pieces of `piece` bytes (0: all at once). */
static struct run
restore(const struct redact_map *m, enum redact_format f, bool sse, const char *in, size_t len,
    size_t piece)
{
	struct restorer *r = restorer_new(m, f, sse);
	struct sbuf out;
	struct run res = { 0 };

	sbuf_init(&out, 64u << 20);
	if (piece == 0)
		piece = len ? len : 1;
	for (size_t at = 0; at < len; at += piece) {
		size_t n = len - at < piece ? len - at : piece;
		res.rc |= restorer_feed(r, in + at, n, &out);
	}
	res.rc |= restorer_finish(r, &out);
	res.overflowed = restorer_overflowed(r);
	restorer_free(r);
	res.out = xmalloc(out.len + 1);
	memcpy(res.out, out.p, out.len + 1);
	res.len = out.len;
	sbuf_free(&out);
	return res;
}

/* ---- provider stream fixtures ------------------------------------------------- */

static void
add_event(struct sbuf *b, const char *name, json_t *data, const char *eol)
{
	char *js = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (name)
		sbuf_addf(b, "event: %s%s", name, eol);
	sbuf_addf(b, "data: %s%s%s", js, eol, eol);
	free(js);
	json_decref(data);
}

/* Anthropic Messages: a text block (index 0) and, if tool_deltas, a tool_use block (index 1). */
static char *
anthropic_stream(const char *const *text, size_t ntext, const char *const *tool, size_t ntool,
    const char *eol)
{
	struct sbuf b;

	sbuf_init(&b, 1u << 20);
	add_event(&b, "message_start", json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:[],s:n,s:n,s:{s:i,s:i}}}",
	    "type", "message_start", "message", "id", "msg_01XFDUDYJgAACzvnptvVoYEL", "type",
	    "message", "role", "assistant", "model", "claude-sonnet-4-5", "content", "stop_reason",
	    "stop_sequence", "usage", "input_tokens", 472, "output_tokens", 2), eol);
	add_event(&b, "content_block_start", json_pack("{s:s,s:i,s:{s:s,s:s}}", "type",
	    "content_block_start", "index", 0, "content_block", "type", "text", "text", ""), eol);
	sbuf_addf(&b, "event: ping%sdata: {\"type\": \"ping\"}%s%s", eol, eol, eol);
	for (size_t i = 0; i < ntext; i++)
		add_event(&b, "content_block_delta", json_pack("{s:s,s:i,s:{s:s,s:s}}", "type",
		    "content_block_delta", "index", 0, "delta", "type", "text_delta", "text", text[i]),
		    eol);
	add_event(&b, "content_block_stop", json_pack("{s:s,s:i}", "type", "content_block_stop",
	    "index", 0), eol);
	if (ntool) {
		add_event(&b, "content_block_start", json_pack("{s:s,s:i,s:{s:s,s:s,s:s,s:{}}}", "type",
		    "content_block_start", "index", 1, "content_block", "type", "tool_use", "id",
		    "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name", "send_email", "input"), eol);
		for (size_t i = 0; i < ntool; i++)
			add_event(&b, "content_block_delta", json_pack("{s:s,s:i,s:{s:s,s:s}}", "type",
			    "content_block_delta", "index", 1, "delta", "type", "input_json_delta",
			    "partial_json", tool[i]), eol);
		add_event(&b, "content_block_stop", json_pack("{s:s,s:i}", "type",
		    "content_block_stop", "index", 1), eol);
	}
	add_event(&b, "message_delta", json_pack("{s:s,s:{s:s,s:n},s:{s:i}}", "type", "message_delta",
	    "delta", "stop_reason", ntool ? "tool_use" : "end_turn", "stop_sequence", "usage",
	    "output_tokens", 15), eol);
	add_event(&b, "message_stop", json_pack("{s:s}", "type", "message_stop"), eol);
	return b.p;
}

static json_t *
chat_chunk(json_t *choices)
{
	return json_pack("{s:s,s:s,s:i,s:s,s:s,s:o}", "id", "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
	    "object", "chat.completion.chunk", "created", 1741569952, "model", "gpt-4.1-2025-04-14",
	    "system_fingerprint", "fp_44709d6fcb", "choices", choices);
}

/* OpenAI Chat: content deltas, then tool-call argument deltas; finish in its own chunk unless finish_with_last. */
static char *
chat_stream(const char *const *text, size_t ntext, const char *const *args, size_t nargs,
    bool finish_with_last, bool finish)
{
	struct sbuf b;

	sbuf_init(&b, 1u << 20);
	add_event(&b, NULL, chat_chunk(json_pack("[{s:i,s:{s:s,s:s,s:n},s:n,s:n}]", "index", 0,
	    "delta", "role", "assistant", "content", "", "refusal", "logprobs", "finish_reason")), "\n");
	for (size_t i = 0; i < ntext; i++) {
		bool last = finish_with_last && i + 1 == ntext && !nargs;
		add_event(&b, NULL, chat_chunk(json_pack("[{s:i,s:{s:s},s:n,s:o}]", "index", 0, "delta",
		    "content", text[i], "logprobs", "finish_reason",
		    last ? json_string("stop") : json_null())), "\n");
	}
	if (nargs)
		add_event(&b, NULL, chat_chunk(json_pack("[{s:i,s:{s:[{s:i,s:s,s:s,s:{s:s,s:s}}]},s:n,s:n}]",
		    "index", 0, "delta", "tool_calls", "index", 0, "id", "call_DdmO9pD3xa9XTPNJ32zg2hcA",
		    "type", "function", "function", "name", "send_email", "arguments", "", "logprobs",
		    "finish_reason")), "\n");
	for (size_t i = 0; i < nargs; i++) {
		bool last = finish_with_last && i + 1 == nargs;
		add_event(&b, NULL, chat_chunk(json_pack("[{s:i,s:{s:[{s:i,s:{s:s}}]},s:n,s:o}]", "index", 0,
		    "delta", "tool_calls", "index", 0, "function", "arguments", args[i], "logprobs",
		    "finish_reason", last ? json_string("tool_calls") : json_null())), "\n");
	}
	if (finish && !finish_with_last)
		add_event(&b, NULL, chat_chunk(json_pack("[{s:i,s:{},s:n,s:s}]", "index", 0, "delta",
		    "logprobs", "finish_reason", nargs ? "tool_calls" : "stop")), "\n");
	sbuf_adds(&b, "data: [DONE]\n\n");
	return b.p;
}

static void
cat(struct sbuf *b, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sbuf_adds(b, v[i]);
}

/* OpenAI Responses: one message item with text deltas, one function_call item with argument deltas. */
static char *
responses_stream(const char *const *text, size_t ntext, const char *const *args, size_t nargs)
{
	static const char msg[] = "msg_67ccd3acc8d48190a77525dc6de64b4104becd8c6d2f35a0";
	static const char fc[] = "fc_67ccd3adf9708190b49fd88b5bd3d1e504becd8c6d2f35a0";
	struct sbuf b, full, fargs;
	int seq = 0;

	sbuf_init(&b, 1u << 20);
	sbuf_init(&full, 1u << 20);
	sbuf_init(&fargs, 1u << 20);
	cat(&full, text, ntext);
	cat(&fargs, args, nargs);
	add_event(&b, "response.created", json_pack("{s:s,s:i,s:{s:s,s:s,s:s,s:[]}}", "type",
	    "response.created", "sequence_number", seq++, "response", "id",
	    "resp_67ccd3a9da748190baa7f1570fe91ac604becd8c6d2f35a0", "object", "response", "status",
	    "in_progress", "output"), "\n");
	add_event(&b, "response.output_item.added", json_pack("{s:s,s:i,s:i,s:{s:s,s:s,s:s,s:s,s:[]}}",
	    "type", "response.output_item.added", "sequence_number", seq++, "output_index", 0, "item",
	    "id", msg, "type", "message", "status", "in_progress", "role", "assistant", "content"), "\n");
	for (size_t i = 0; i < ntext; i++)
		add_event(&b, "response.output_text.delta", json_pack("{s:s,s:i,s:s,s:i,s:i,s:s,s:[]}",
		    "type", "response.output_text.delta", "sequence_number", seq++, "item_id", msg,
		    "output_index", 0, "content_index", 0, "delta", text[i], "logprobs"), "\n");
	add_event(&b, "response.output_text.done", json_pack("{s:s,s:i,s:s,s:i,s:i,s:s,s:[]}", "type",
	    "response.output_text.done", "sequence_number", seq++, "item_id", msg, "output_index", 0,
	    "content_index", 0, "text", full.p, "logprobs"), "\n");
	add_event(&b, "response.output_item.done", json_pack("{s:s,s:i,s:i,s:{s:s,s:s,s:s,s:[{s:s,s:s}]}}",
	    "type", "response.output_item.done", "sequence_number", seq++, "output_index", 0, "item",
	    "id", msg, "type", "message", "role", "assistant", "content", "type", "output_text", "text",
	    full.p), "\n");
	if (nargs) {
		add_event(&b, "response.output_item.added", json_pack("{s:s,s:i,s:i,s:{s:s,s:s,s:s,s:s,s:s}}",
		    "type", "response.output_item.added", "sequence_number", seq++, "output_index", 1,
		    "item", "type", "function_call", "id", fc, "call_id", "call_12345xyz", "name",
		    "send_email", "arguments", ""), "\n");
		for (size_t i = 0; i < nargs; i++)
			add_event(&b, "response.function_call_arguments.delta", json_pack("{s:s,s:i,s:s,s:i,s:s}",
			    "type", "response.function_call_arguments.delta", "sequence_number", seq++,
			    "item_id", fc, "output_index", 1, "delta", args[i]), "\n");
		add_event(&b, "response.function_call_arguments.done", json_pack("{s:s,s:i,s:s,s:i,s:s}",
		    "type", "response.function_call_arguments.done", "sequence_number", seq++, "item_id",
		    fc, "output_index", 1, "arguments", fargs.p), "\n");
	}
	add_event(&b, "response.completed", json_pack("{s:s,s:i,s:{s:s,s:s,s:[{s:s,s:s,s:[{s:s,s:s}]}]}}",
	    "type", "response.completed", "sequence_number", seq++, "response", "id",
	    "resp_67ccd3a9da748190baa7f1570fe91ac604becd8c6d2f35a0", "status", "completed", "output",
	    "id", msg, "type", "message", "content", "type", "output_text", "text", full.p), "\n");
	sbuf_free(&full);
	sbuf_free(&fargs);
	return b.p;
}

/* ---- the client's view of a restored stream --------------------------------- */

enum stream { S_TEXT, S_ARGS };

struct view {
	struct sbuf text, args;		/* the concatenated deltas */
	struct sbuf done_text, done_args;	/* full texts of .done events / response.completed */
	int events, bad_json, late;	/* late: a delta after its stream ended */
	int flush_before_end;		/* deltas sent right before the end of their stream */
};

static void
view_free(struct view *v)
{
	sbuf_free(&v->text);
	sbuf_free(&v->args);
	sbuf_free(&v->done_text);
	sbuf_free(&v->done_args);
}

/*
 * Read the stream as an SDK would: events split at blank lines, data
 * parsed as JSON, deltas concatenated per stream.  Counts events whose
 * data is not JSON (other than [DONE]) and deltas after their stream's end.
 */
static struct view
read_view(enum redact_format f, const char *s)
{
	struct view v;
	bool text_ended = false, args_ended = false;
	const char *p = s;

	memset(&v, 0, sizeof(v));
	sbuf_init(&v.text, 1u << 20);
	sbuf_init(&v.args, 1u << 20);
	sbuf_init(&v.done_text, 1u << 20);
	sbuf_init(&v.done_args, 1u << 20);
	while (*p) {
		const char *end = strstr(p, "\n\n"), *crlf = strstr(p, "\r\n\r\n");
		struct sbuf data;
		json_t *j, *x;
		const char *type, *l;
		size_t evlen;

		if (crlf && (!end || crlf < end))
			end = crlf + 2;
		evlen = end ? (size_t)(end - p) + 2 : strlen(p);
		sbuf_init(&data, 1u << 20);
		for (l = p; l < p + evlen;) {
			const char *nl = memchr(l, '\n', (size_t)(p + evlen - l));
			size_t n = nl ? (size_t)(nl - l) : (size_t)(p + evlen - l);
			size_t tn = n && l[n - 1] == '\r' ? n - 1 : n;

			if (tn >= 5 && memcmp(l, "data:", 5) == 0) {
				if (data.len)
					sbuf_adds(&data, "\n");
				sbuf_add(&data, l + 5 + (tn > 5 && l[5] == ' '), tn - 5 - (tn > 5 && l[5] == ' '));
			}
			l += n + 1;
		}
		p += evlen;
		if (!data.len) {
			sbuf_free(&data);
			continue;
		}
		v.events++;
		if (strcmp(data.p, "[DONE]") == 0) {
			text_ended = args_ended = true;
			sbuf_free(&data);
			continue;
		}
		j = json_loads(data.p, 0, NULL);
		sbuf_free(&data);
		if (!json_is_object(j)) {
			v.bad_json++;
			json_decref(j);
			continue;
		}
		type = json_string_value(json_object_get(j, "type"));
		if (f == REDACT_ANTHROPIC && type) {
			json_int_t idx = json_integer_value(json_object_get(j, "index"));
			json_t *d = json_object_get(j, "delta");
			if (strcmp(type, "content_block_delta") == 0) {
				bool tool = idx == 1;
				const char *t = json_string_value(json_object_get(d, tool ? "partial_json" : "text"));
				if ((tool && args_ended) || (!tool && text_ended))
					v.late++;
				sbuf_adds(tool ? &v.args : &v.text, t ? t : "");
			} else if (strcmp(type, "content_block_stop") == 0) {
				*(idx == 1 ? &args_ended : &text_ended) = true;
			}
		} else if (json_is_array(x = json_object_get(j, "choices"))) {
			json_t *c = json_array_get(x, 0), *d = json_object_get(c, "delta");
			const char *t = json_string_value(json_object_get(d, "content"));
			json_t *tc = json_array_get(json_object_get(d, "tool_calls"), 0);
			const char *a = json_string_value(json_object_get(json_object_get(tc, "function"),
			    "arguments"));

			if ((t && *t && text_ended) || (a && *a && args_ended))
				v.late++;
			if (t)
				sbuf_adds(&v.text, t);
			if (a)
				sbuf_adds(&v.args, a);
			if (json_is_string(json_object_get(c, "finish_reason")))
				text_ended = args_ended = true;
		} else if (type) {
			const char *t = json_string_value(json_object_get(j, "delta"));
			if (strcmp(type, "response.output_text.delta") == 0) {
				v.late += text_ended;
				sbuf_adds(&v.text, t ? t : "");
			} else if (strcmp(type, "response.function_call_arguments.delta") == 0) {
				v.late += args_ended;
				sbuf_adds(&v.args, t ? t : "");
			} else if (strcmp(type, "response.output_text.done") == 0) {
				text_ended = true;
				sbuf_adds(&v.done_text, json_string_value(json_object_get(j, "text")));
			} else if (strcmp(type, "response.function_call_arguments.done") == 0) {
				args_ended = true;
				sbuf_adds(&v.done_args, json_string_value(json_object_get(j, "arguments")));
			} else if (strcmp(type, "response.completed") == 0) {
				json_t *o = json_array_get(json_object_get(json_object_get(j, "response"), "output"), 0);
				sbuf_adds(&v.done_text, "|");
				sbuf_adds(&v.done_text, json_string_value(json_object_get(
				    json_array_get(json_object_get(o, "content"), 0), "text")));
			}
		}
		json_decref(j);
	}
	return v;
}

/* The restored tool arguments, parsed: the "to" and "name" members must be the originals. */
static bool
args_ok(const char *args, const char *want_to, const char *want_name)
{
	json_t *j = json_loads(args, 0, NULL);
	const char *to = json_string_value(json_object_get(j, "to"));
	const char *name = json_string_value(json_object_get(j, "name"));
	bool ok = to && name && strcmp(to, want_to) == 0 && strcmp(name, want_name) == 0;

	json_decref(j);
	return ok;
}

/* ---- restorer: SSE, a placeholder split at every byte ------------------------ */

static const char model_text[] = "Sent to [EMAIL_1]; [NAME_1] agreed on [WORD_1]!";
static const char want_text[] = "Sent to " EMAIL "; " NAME " agreed on " WORD "!";
static const char model_args[] = "{\"to\":\"[EMAIL_1]\",\"name\":\"[NAME_1]\",\"x\":\"[WORD_1]\"}";

static const size_t pieces[] = { 0, 1, 2, 7 };

typedef char *(*stream_fn)(const char *const *text, size_t ntext, const char *const *args,
    size_t nargs);

static char *
anthropic_lf(const char *const *t, size_t nt, const char *const *a, size_t na)
{
	return anthropic_stream(t, nt, a, na, "\n");
}

static char *
chat_sep(const char *const *t, size_t nt, const char *const *a, size_t na)
{
	return chat_stream(t, nt, a, na, false, true);
}

/*
 * For every split point k of the model's text (and of its tool arguments),
 * two deltas text[0..k) and text[k..]; the stream is restored in each read
 * size and read back.  One check per read size, naming the first failure.
 */
static void
split_everywhere(const char *label, enum redact_format f, stream_fn make, bool with_args)
{
	size_t tl = strlen(model_text), al = strlen(model_args);

	for (size_t pi = 0; pi < ARRAY_SIZE(pieces); pi++) {
		size_t fails = 0, total = 0;
		char first[300] = "";

		for (size_t k = 1; k < (with_args ? al : tl); k++) {
			char a[200], b[200], c[200], d[200];
			size_t kt = k < tl ? k : tl / 2;
			const char *text[2] = { a, b }, *args[2] = { c, d };
			char *in;
			struct run r;
			struct view v;
			bool ok;

			snprintf(a, sizeof(a), "%.*s", (int)kt, model_text);
			snprintf(b, sizeof(b), "%s", model_text + kt);
			snprintf(c, sizeof(c), "%.*s", (int)k, model_args);
			snprintf(d, sizeof(d), "%s", model_args + (k < al ? k : al));
			in = make(text, 2, args, with_args ? 2 : 0);
			r = restore(&M, f, true, in, strlen(in), pieces[pi]);
			v = read_view(f, r.out);
			ok = r.rc == 0 && !r.overflowed && v.bad_json == 0 && v.late == 0 &&
			    strcmp(v.text.p, want_text) == 0 &&
			    (!with_args || args_ok(v.args.p, EMAIL, NAME));
			total++;
			if (!ok && !fails++)
				snprintf(first, sizeof(first), "split %zu: text '%s' args '%s' bad %d late %d",
				    k, v.text.p, v.args.p, v.bad_json, v.late);
			view_free(&v);
			free(r.out);
			free(in);
		}
		CHECK(fails == 0, "%s, reads of %zu: %zu of %zu splits wrong%s%s", label, pieces[pi], fails,
		    total, fails ? ": " : "", first);
	}
}

static void
test_split_anthropic(void)
{
	begin("anthropic: placeholder split at every byte across two text deltas");
	split_everywhere("text", REDACT_ANTHROPIC, anthropic_lf, false);
	begin("anthropic: ... and across two input_json_delta (tool arguments stay valid JSON)");
	split_everywhere("tool", REDACT_ANTHROPIC, anthropic_lf, true);
}

static void
test_split_chat(void)
{
	begin("openai chat: placeholder split at every byte across two content deltas");
	split_everywhere("text", REDACT_OPENAI, chat_sep, false);
	begin("openai chat: ... and across two tool_calls arguments deltas");
	split_everywhere("tool", REDACT_OPENAI, chat_sep, true);
}

static void
test_split_responses(void)
{
	begin("openai responses: placeholder split at every byte across two output_text deltas");
	split_everywhere("text", REDACT_OPENAI, responses_stream, false);
	begin("openai responses: ... and across two function_call_arguments deltas");
	split_everywhere("tool", REDACT_OPENAI, responses_stream, true);
}

/* Three-character deltas (as the mock providers stream): placeholders cut in three. */
static void
test_small_deltas(void)
{
	const char *t[40], *a[40];
	char tb[40][4], ab[40][4];
	size_t nt = 0, na = 0;
	stream_fn makers[] = { anthropic_lf, chat_sep, responses_stream };
	const enum redact_format fmts[] = { REDACT_ANTHROPIC, REDACT_OPENAI, REDACT_OPENAI };
	const char *names[] = { "anthropic", "openai chat", "openai responses" };

	for (size_t i = 0; i < strlen(model_text); i += 3, nt++) {
		snprintf(tb[nt], 4, "%.3s", model_text + i);
		t[nt] = tb[nt];
	}
	for (size_t i = 0; i < strlen(model_args); i += 3, na++) {
		snprintf(ab[na], 4, "%.3s", model_args + i);
		a[na] = ab[na];
	}
	begin("every format: 3-character deltas, several placeholders each cut in pieces");
	for (size_t m = 0; m < ARRAY_SIZE(makers); m++) {
		char *in = makers[m](t, nt, a, na);
		for (size_t pi = 0; pi < ARRAY_SIZE(pieces); pi++) {
			struct run r = restore(&M, fmts[m], true, in, strlen(in), pieces[pi]);
			struct view v = read_view(fmts[m], r.out);

			CHECK(r.rc == 0 && v.bad_json == 0 && v.late == 0 && strcmp(v.text.p, want_text) == 0 &&
			    args_ok(v.args.p, EMAIL, NAME), "%s, reads of %zu: text '%s' args '%s'", names[m],
			    pieces[pi], v.text.p, v.args.p);
			if (m == 2)
				CHECK(strcmp(v.done_text.p, want_text) > 0 &&
				    strncmp(v.done_text.p, want_text, strlen(want_text)) == 0 &&
				    strcmp(v.done_text.p + strlen(want_text), "|") > 0 &&
				    strcmp(v.done_text.p + strlen(want_text) + 1, want_text) == 0,
				    "responses: .done text and response.completed restored (%s)", v.done_text.p);
			view_free(&v);
			free(r.out);
		}
		free(in);
	}
}

/* ---- restorer: held text flushed before the end of its stream ---------------- */

/* Count occurrences of needle in s. */
static int
count(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void
test_flush(void)
{
	begin("anthropic: text held at the end of a block is sent before content_block_stop");
	{
		const char *t[] = { "Hi ", "[EMAIL_1] and [NAM" };
		char *in = anthropic_stream(t, 2, NULL, 0, "\n");
		struct run r = restore(&M, REDACT_ANTHROPIC, true, in, strlen(in), 0);
		struct view v = read_view(REDACT_ANTHROPIC, r.out);
		const char *flush = strstr(r.out, "\"text\":\"[NAM\"}}");
		const char *stop = strstr(r.out, "event: content_block_stop");

		CHECK_STR(v.text.p, "Hi " EMAIL " and [NAM");
		CHECK(flush && stop && flush < stop, "the held '[NAM' goes out before content_block_stop");
		CHECK(strstr(r.out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		    "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"[NAM\"}}\n\n") != NULL,
		    "as an event shaped like the last delta");
		CHECK(strstr(r.out, "\"text\":\"" EMAIL " and \"}") != NULL, "the delta that held it shrank");
		CHECK_INT(v.late, 0);
		view_free(&v);
		free(r.out);
		free(in);
	}

	begin("anthropic: a delta emptied by holding back is still sent, with \"\"");
	{
		const char *t[] = { "[EMAIL", "_1] ok" };
		char *in = anthropic_stream(t, 2, NULL, 0, "\n");
		struct run r = restore(&M, REDACT_ANTHROPIC, true, in, strlen(in), 1);
		struct view v = read_view(REDACT_ANTHROPIC, r.out);

		CHECK(strstr(r.out, "\"text\":\"\"}}") != NULL, "empty delta present");
		CHECK_INT(count(r.out, "event: content_block_delta"), 2);
		CHECK_STR(v.text.p, EMAIL " ok");
		view_free(&v);
		free(r.out);
		free(in);
	}

	begin("openai chat: held text goes out before the finish_reason chunk");
	{
		const char *t[] = { "To [EMAIL_1] [WO" };
		char *in = chat_stream(t, 1, NULL, 0, false, true);
		struct run r = restore(&M, REDACT_OPENAI, true, in, strlen(in), 2);
		struct view v = read_view(REDACT_OPENAI, r.out);
		const char *flush = strstr(r.out, "\"content\":\"[WO\"");
		const char *fin = strstr(r.out, "\"finish_reason\":\"stop\"");

		CHECK_STR(v.text.p, "To " EMAIL " [WO");
		CHECK(flush && fin && flush < fin, "'[WO' before finish_reason");
		CHECK(flush && strstr(r.out, "{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":"
		    "\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4.1-2025-04-14\","
		    "\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":"
		    "{\"content\":\"[WO\"},\"finish_reason\":null}]}") != NULL, "a chunk of the same shape");
		CHECK_INT(v.late, 0);
		view_free(&v);
		free(r.out);
		free(in);
	}

	begin("openai chat: finish_reason in the chunk with the last delta ends it there");
	{
		const char *t[] = { "A [NAME_1]", " [EMAIL_" };
		char *in = chat_stream(t, 2, NULL, 0, true, true);
		struct run r = restore(&M, REDACT_OPENAI, true, in, strlen(in), 7);
		struct view v = read_view(REDACT_OPENAI, r.out);

		CHECK_STR(v.text.p, "A " NAME " [EMAIL_");
		CHECK(strstr(r.out, "\"content\":\" [EMAIL_\"},\"logprobs\":null,\"finish_reason\":\"stop\"") != NULL,
		    "the final chunk keeps its own text, nothing held");
		CHECK_INT(v.late, 0);
		view_free(&v);
		free(r.out);
		free(in);
	}

	begin("openai chat: tool arguments held are flushed before finish_reason");
	{
		const char *a[] = { "{\"to\":\"[EMAIL_1]\"}[NAME" };
		char *in = chat_stream(NULL, 0, a, 1, false, true);
		struct run r = restore(&M, REDACT_OPENAI, true, in, strlen(in), 1);
		struct view v = read_view(REDACT_OPENAI, r.out);
		const char *flush = strstr(r.out, "\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"[NAME\"}}]");
		const char *fin = strstr(r.out, "\"finish_reason\":\"tool_calls\"");

		CHECK_STR(v.args.p, "{\"to\":\"" EMAIL "\"}[NAME");
		CHECK(flush && fin && flush < fin, "flush chunk carries only index and arguments");
		CHECK_INT(count(r.out, "send_email"), 1);
		view_free(&v);
		free(r.out);
		free(in);
	}

	begin("openai chat: held text goes out before [DONE] when no finish_reason came");
	{
		const char *t[] = { "x [EM" };
		char *in = chat_stream(t, 1, NULL, 0, false, false);
		struct run r = restore(&M, REDACT_OPENAI, true, in, strlen(in), 0);
		const char *flush = strstr(r.out, "\"content\":\"[EM\"");
		const char *done = strstr(r.out, "data: [DONE]");

		CHECK(flush && done && flush < done, "'[EM' before [DONE]");
		CHECK(strstr(r.out, "\"content\":\"x \"") != NULL, "the delta that held it shrank");
		free(r.out);
		free(in);
	}

	begin("openai responses: held text goes out before .done events; .done texts restored");
	{
		const char *t[] = { "Dear [NAME_1], [WORD" };
		const char *a[] = { "{\"to\":\"[EMAIL_1]\",\"name\":\"[NAME_1]\"}[EMAIL" };
		char *in = responses_stream(t, 1, a, 1);
		struct run r = restore(&M, REDACT_OPENAI, true, in, strlen(in), 2);
		struct view v = read_view(REDACT_OPENAI, r.out);
		const char *ft = strstr(r.out, "\"delta\":\"[WORD\"");
		const char *dt = strstr(r.out, "event: response.output_text.done");
		const char *fa = strstr(r.out, "\"delta\":\"[EMAIL\"");
		const char *da = strstr(r.out, "event: response.function_call_arguments.done");

		CHECK_STR(v.text.p, "Dear " NAME ", [WORD");
		CHECK(ft && dt && ft < dt, "text carry before output_text.done");
		CHECK(fa && da && fa < da, "arguments carry before function_call_arguments.done");
		CHECK_STR(v.done_text.p, "Dear " NAME ", [WORD|Dear " NAME ", [WORD");
		{
			const char *lit = "{\"to\":\"" EMAIL "\",\"name\":\"O\\\"Brien Zo\xc3\xab\"}[EMAIL";
			CHECK(strcmp(v.done_args.p, lit) == 0,
			    "function_call_arguments.done arguments restored as JSON text (%s)", v.done_args.p);
		}
		CHECK(strstr(r.out, "event: response.output_text.delta\ndata: {\"type\":"
		    "\"response.output_text.delta\"") != NULL, "flush event keeps the event name");
		CHECK_INT(v.late, 0);
		view_free(&v);
		free(r.out);
		free(in);
	}

	begin("stream cut short: held text flushed at finish");
	{
		const char *in = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		    "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"ok [EMAIL_\"}}\n\ndata: {\"ty";
		struct run r = restore(&M, REDACT_ANTHROPIC, true, in, strlen(in), 3);

		CHECK(strstr(r.out, "\"text\":\"ok \"") != NULL, "the delta that held it shrank");
		CHECK(r.len >= 10 && strcmp(r.out + r.len - 10, "data: {\"ty") == 0, "tail passed as it came");
		CHECK(strstr(r.out, "\"text\":\"[EMAIL_\"}}\n\ndata: {\"ty") != NULL,
		    "the carry goes out just before the tail (%s)", r.out);
		free(r.out);
	}
}

/* ---- restorer: pass-through, framing, limits ---------------------------------- */

static void
test_passthrough(void)
{
	begin("streams without placeholders come out byte for byte");
	{
		/* Brackets, but nothing that is or could become a placeholder. */
		const char *t[] = { "Hello, [EMAIL_1x ", "world [1] [x", "EMAIL] \\ \"" };
		const char *a[] = { "{\"q\":", "\"[x]\"}" };
		char *ins[3] = { anthropic_stream(t, 3, a, 2, "\n"), chat_stream(t, 3, a, 2, false, true),
			responses_stream(t, 3, a, 2) };
		const enum redact_format fmts[] = { REDACT_ANTHROPIC, REDACT_OPENAI, REDACT_OPENAI };

		for (size_t i = 0; i < 3; i++) {
			for (size_t pi = 0; pi < ARRAY_SIZE(pieces); pi++) {
				struct run r = restore(&M, fmts[i], true, ins[i], strlen(ins[i]), pieces[pi]);
				CHECK(r.len == strlen(ins[i]) && memcmp(r.out, ins[i], r.len) == 0,
				    "stream %zu, reads of %zu: identical", i, pieces[pi]);
				free(r.out);
			}
			free(ins[i]);
		}
	}

	begin("events without placeholders keep their bytes in a stream that has some");
	{
		const char *t[] = { "a [EMAIL_1] b" };
		char *in = anthropic_stream(t, 1, NULL, 0, "\n");
		struct run r = restore(&M, REDACT_ANTHROPIC, true, in, strlen(in), 1);
		const char *ms = strstr(in, "event: message_start");
		size_t mslen = (size_t)(strstr(ms, "\n\n") - ms) + 2;
		char *msg = xstrndup(ms, mslen);

		CHECK(strstr(r.out, msg) != NULL, "message_start identical");
		CHECK(strstr(r.out, "event: ping\ndata: {\"type\": \"ping\"}\n\n") != NULL,
		    "ping identical (its spacing kept)");
		CHECK(strstr(r.out, "\"text\":\"a " EMAIL " b\"") != NULL, "delta restored");
		free(msg);
		free(r.out);
		free(in);
	}

	begin("CRLF streams: restored, line ends kept");
	{
		const char *t[] = { "to [EMA", "IL_1]." };
		char *in = anthropic_stream(t, 2, NULL, 0, "\r\n");
		struct run r = restore(&M, REDACT_ANTHROPIC, true, in, strlen(in), 1);
		struct view v = read_view(REDACT_ANTHROPIC, r.out);

		CHECK_STR(v.text.p, "to " EMAIL ".");
		CHECK(count(r.out, "\r\n\r\n") == count(in, "\r\n\r\n"), "same number of events");
		CHECK(strstr(r.out, "\n\n") == NULL, "no bare LF blank lines introduced");
		CHECK(strstr(r.out, "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\","
		    "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"to \"}}\r\n\r\n") != NULL,
		    "rewritten event keeps CRLF");
		view_free(&v);
		free(r.out);
		free(in);
	}

	begin("data split over several lines, comments and id kept");
	{
		const char *in = ": keep-alive\nid: 7\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\n"
		    "data: \"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi [NAME_1]\"}}\n\n";
		struct run r = restore(&M, REDACT_ANTHROPIC, true, in, strlen(in), 2);

		CHECK_STR(r.out, ": keep-alive\nid: 7\nevent: content_block_delta\ndata: {\"type\":"
		    "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
		    "\"hi O\\\"Brien Zo\xc3\xab\"}}\n\n");
		free(r.out);
	}

	begin("non-JSON data passes through; other strings get whole placeholders");
	{
		const char *in = "data: [EMAIL_1] is not JSON\n\n"
		    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"x\",\"message\":\"bad [WORD_1]\"}}\n\n";
		struct run r = restore(&M, REDACT_ANTHROPIC, true, in, strlen(in), 0);

		CHECK(strncmp(r.out, "data: [EMAIL_1] is not JSON\n\n", 29) == 0, "non-JSON data untouched");
		CHECK(strstr(r.out, "\"message\":\"bad " WORD "\"") != NULL, "error message restored");
		free(r.out);
	}

	begin("anthropic: signed thinking text is left as the model wrote it");
	{
		const char *in = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		    "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
		    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		    "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"mail [EMAIL_1] and [NA\"}}\n\n"
		    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		    "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3h\"}}\n\n"
		    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
		const char *plain = "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"[EMAIL_1] \\\"x\\\" "
		    "[NAME_1]\",\"signature\":\"EqQB\"},{\"type\":\"text\",\"text\":\"[EMAIL_1]\"}]}";
		struct run r = restore(&M, REDACT_ANTHROPIC, true, in, strlen(in), 1);

		CHECK(r.len == strlen(in) && memcmp(r.out, in, r.len) == 0, "stream identical (%s)", r.out);
		free(r.out);
		r = restore(&M, REDACT_ANTHROPIC, false, plain, strlen(plain), 2);
		CHECK_STR(r.out, "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"[EMAIL_1] \\\"x\\\" "
		    "[NAME_1]\",\"signature\":\"EqQB\"},{\"type\":\"text\",\"text\":\"" EMAIL "\"}]}");
		free(r.out);
		r = restore(&M, REDACT_OPENAI, false, plain, strlen(plain), 2);
		CHECK(strstr(r.out, "\"thinking\":\"" EMAIL) != NULL, "only Anthropic's thinking is exempt");
		free(r.out);
	}

	begin("an event over REDACT_EVENT_MAX passes through and sets the flag");
	{
		struct sbuf in;
		struct run r;
		size_t big = REDACT_EVENT_MAX + 100;
		char *pad = xmalloc(big + 1);

		memset(pad, 'a', big);
		pad[big] = '\0';
		sbuf_init(&in, 3 * big);
		sbuf_adds(&in, "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
		    "\"text_delta\",\"text\":\"x [EMA\"}}\n\n");
		sbuf_adds(&in, "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
		    "\"text_delta\",\"text\":\"");
		sbuf_adds(&in, pad);
		sbuf_adds(&in, "[EMAIL_1]\"}}\r\n\r\n");
		sbuf_adds(&in, "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
		    "\"text_delta\",\"text\":\"after [EMAIL_1]\"}}\n\n");
		for (size_t pi = 0; pi < 2; pi++) {
			size_t piece = pi ? 65536 : 0;
			r = restore(&M, REDACT_ANTHROPIC, true, in.p, in.len, piece);
			CHECK(r.overflowed, "flag set (reads of %zu)", piece);
			CHECK(strstr(r.out, pad) != NULL && strstr(r.out, "[EMAIL_1]\"}}\r\n\r\n") != NULL,
			    "oversize event passed as it came");
			CHECK(strstr(r.out, "\"text\":\"[EMA\"") != NULL &&
			    strstr(r.out, "\"text\":\"[EMA\"") < strstr(r.out, pad), "held text flushed before it");
			CHECK(strstr(r.out, "\"text\":\"after " EMAIL "\"") != NULL, "the next event restored");
			free(r.out);
		}
		free(pad);
		sbuf_free(&in);
	}

	begin("more streams holding text than REDACT_MAX_KEYS: flag set, no text lost");
	{
		size_t nch = REDACT_MAX_KEYS + 44;
		json_t *held = json_array(), *fin = json_array();
		struct sbuf in;
		struct run r;
		struct sbuf *text = xcalloc(nch, sizeof(*text));
		bool all = true;
		char *js;

		for (size_t i = 0; i < nch; i++) {
			json_array_append_new(held, json_pack("{s:I,s:{s:s},s:n}", "index", (json_int_t)i,
			    "delta", "content", "x [EM", "finish_reason"));
			json_array_append_new(fin, json_pack("{s:I,s:{},s:s}", "index", (json_int_t)i,
			    "delta", "finish_reason", "stop"));
		}
		sbuf_init(&in, 1u << 20);
		add_event(&in, NULL, chat_chunk(held), "\n");
		add_event(&in, NULL, chat_chunk(fin), "\n");
		sbuf_adds(&in, "data: [DONE]\n\n");
		r = restore(&M, REDACT_OPENAI, true, in.p, in.len, 0);
		CHECK(r.overflowed, "flag set");
		for (size_t i = 0; i < nch; i++)
			sbuf_init(&text[i], 4096);
		for (const char *p = r.out; (p = strstr(p, "data: {")) != NULL; p++) {
			json_t *j = json_loadb(p + 6, (size_t)(strstr(p, "\n") - p - 6), 0, NULL);
			size_t k;
			json_t *c;

			json_array_foreach(json_object_get(j, "choices"), k, c) {
				json_int_t idx = json_integer_value(json_object_get(c, "index"));
				const char *t = json_string_value(json_object_get(json_object_get(c, "delta"), "content"));
				if (t && idx >= 0 && (size_t)idx < nch)
					sbuf_adds(&text[idx], t);
			}
			json_decref(j);
		}
		for (size_t i = 0; i < nch; i++) {
			all &= strcmp(text[i].p, "x [EM") == 0;
			sbuf_free(&text[i]);
		}
		CHECK(all, "every choice reads 'x [EM'");
		js = strstr(r.out, "data: [DONE]");
		CHECK(js && strcmp(js, "data: [DONE]\n\n") == 0, "[DONE] last");
		free(text);
		free(r.out);
		sbuf_free(&in);
	}

	begin("an empty map and an empty body");
	{
		struct redact_map none = { 0 };
		const char *t[] = { "[EMAIL_1]" };
		char *in = anthropic_stream(t, 1, NULL, 0, "\n");
		struct run r = restore(&none, REDACT_ANTHROPIC, true, in, strlen(in), 3);

		CHECK(r.len == strlen(in) && memcmp(r.out, in, r.len) == 0, "nothing to restore: identical");
		free(r.out);
		r = restore(&M, REDACT_OPENAI, true, "", 0, 0);
		CHECK(r.rc == 0 && r.len == 0, "empty SSE body");
		free(r.out);
		r = restore(&M, REDACT_OPENAI, false, "", 0, 0);
		CHECK(r.rc == 0 && r.len == 0, "empty plain body");
		free(r.out);
		free(in);
	}
}

/* ---- restorer: plain bodies --------------------------------------------------- */

static void
test_plain(void)
{
	begin("non-SSE JSON (chat completion): content and tool arguments restored, still JSON");
	{
		const char *in = "{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
		    "\"message\":{\"role\":\"assistant\",\"content\":\"Mail [EMAIL_1] about [WORD_1], [NAME_1]\","
		    "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"send\","
		    "\"arguments\":\"{\\\"to\\\":\\\"[EMAIL_1]\\\",\\\"name\\\":\\\"[NAME_1]\\\"}\"}}]},"
		    "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":9}}";
		for (size_t pi = 0; pi < ARRAY_SIZE(pieces); pi++) {
			struct run r = restore(&M, REDACT_OPENAI, false, in, strlen(in), pieces[pi]);
			json_t *j = json_loads(r.out, 0, NULL);
			json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
			const char *content = json_string_value(json_object_get(msg, "content"));
			const char *args = json_string_value(json_object_get(json_object_get(
			    json_array_get(json_object_get(msg, "tool_calls"), 0), "function"), "arguments"));

			CHECK(j && content && strcmp(content, "Mail " EMAIL " about " WORD ", " NAME) == 0 &&
			    args && args_ok(args, EMAIL, NAME), "reads of %zu: %s", pieces[pi], r.out);
			json_decref(j);
			free(r.out);
		}
	}

	begin("non-SSE JSON (anthropic message): tool_use input object restored");
	{
		const char *in = "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"ok [NAME_1]\"},"
		    "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"send\",\"input\":{\"to\":\"[EMAIL_1]\","
		    "\"name\":\"[NAME_1]\"}}]}";
		struct run r = restore(&M, REDACT_ANTHROPIC, false, in, strlen(in), 1);
		json_t *j = json_loads(r.out, 0, NULL), *c = json_object_get(j, "content");
		json_t *input = json_object_get(json_array_get(c, 1), "input");

		CHECK_STR(json_string_value(json_object_get(json_array_get(c, 0), "text")), "ok " NAME);
		CHECK_STR(json_string_value(json_object_get(input, "name")), NAME);
		CHECK_STR(json_string_value(json_object_get(input, "to")), EMAIL);
		json_decref(j);
		free(r.out);
	}

	begin("non-SSE: a partial placeholder at the end is flushed by finish");
	{
		struct run r = restore(&M, REDACT_OPENAI, false, "x [EMAIL_1] [EMAIL_", 19, 1);
		CHECK_STR(r.out, "x " EMAIL " [EMAIL_");
		free(r.out);
	}

	begin("a placeholder that is a prefix of another: longest wins, held until settled");
	{
		struct redact_entry e[2] = { { "<P>", "a", 1 }, { "<P>x", "b", 1 } };
		struct redact_map m = { e, 2 };
		for (size_t pi = 0; pi < ARRAY_SIZE(pieces); pi++) {
			struct run r = restore(&m, REDACT_OPENAI, false, "<P>x <P> <P><P>x <P", 19, pieces[pi]);
			CHECK_STR(r.out, "b a ab <P");
			free(r.out);
		}
	}

	begin("an original that is not JSON string content is escaped where JSON needs it");
	{
		const char raw[] = "tab\there \"q\" \xff";
		struct redact_entry e[1] = { { "[R]", (char *)raw, sizeof(raw) - 1 } };
		struct redact_map m = { e, 1 };
		const char *in = "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
		    "\"text_delta\",\"text\":\"<[R]>\"}}\n\n";
		struct run r = restore(&m, REDACT_ANTHROPIC, true, in, strlen(in), 0);

		CHECK(strstr(r.out, "\"text\":\"<tab\\there \\\"q\\\" \xef\xbf\xbd>\"") != NULL,
		    "SSE: as text (invalid UTF-8 replaced), escaped by the writer (%s)", r.out);
		free(r.out);
		r = restore(&m, REDACT_OPENAI, false, "{\"a\":\"[R]\"}", 11, 0);
		CHECK_STR(r.out, "{\"a\":\"tab\\there \\\"q\\\" \xef\xbf\xbd\"}");
		CHECK(is_json(r.out, r.len), "plain: still JSON");
		free(r.out);
	}
}

int
main(void)
{
	test_apply_basic();
	test_apply_same();
	test_apply_units();
	test_apply_bad();
	build_map();
	test_split_anthropic();
	test_split_chat();
	test_split_responses();
	test_small_deltas();
	test_flush();
	test_passthrough();
	test_plain();
	redact_map_free(&M);
	printf("1..%d\n%d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
