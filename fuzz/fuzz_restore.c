/*
 * libFuzzer target for response restoration (src/router/restore.c) and,
 * on the side, redact_apply.
 *
 * Input: one mode byte, then a response body.  Mode bit 0: the body is
 * SSE; bit 1: OpenAI (else Anthropic) shapes; bit 2: also redact the body
 * as if it were a request; the other bits seed the read sizes.
 *
 * The map is fixed, built once by redact_apply from a request holding an
 * email, a name with a quote and non-ASCII letters, a word written with
 * \u escapes, and two placeholders of which one is a prefix of the other.
 *
 * Properties: never a crash, a leak or a hang; restoring the body in one
 * read and in reads of random sizes (1-64 bytes) gives the same bytes; a
 * body in which no placeholder can start (no '[', '<' or \u escape) comes
 * out unchanged.  redact_apply with spans drawn from the input either
 * refuses them or yields a map whose originals are in the input and whose
 * placeholders are in the output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/router/redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char request[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"to alice@example.com, O\\\"Brien Zo\xc3\xab, "
    "\\u00e9t\\u00e9, p1 p2\"}]}";

static struct redact_map map;

static void
build_map(void)
{
	static const struct {
		const char *needle, *ph;
	} spans[] = {
		{ "alice@example.com", "[EMAIL_1]" },
		{ "O\\\"Brien Zo\xc3\xab", "[NAME_1]" },
		{ "\\u00e9t\\u00e9", "[WORD_1]" },
		{ "p1", "<P>" },
		{ "p2", "<P>x" },
	};
	struct guard_redaction r[5];
	struct sbuf out;
	char why[200];

	memset(r, 0, sizeof(r));
	for (size_t i = 0; i < 5; i++) {
		const char *p = strstr(request, spans[i].needle);
		if (!p)
			abort();
		r[i].start = (size_t)(p - request);
		r[i].end = r[i].start + strlen(spans[i].needle);
		snprintf(r[i].placeholder, sizeof(r[i].placeholder), "%s", spans[i].ph);
	}
	sbuf_init(&out, 4096);
	if (redact_apply(request, strlen(request), r, 5, &out, &map, why, sizeof(why)) != 0 ||
	    map.n != 5)
		abort();
	sbuf_free(&out);
}

static uint32_t
next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Restore body in reads of random sizes (seed 0: one read); returns the output. */
static struct sbuf
run(enum redact_format f, bool sse, const uint8_t *body, size_t n, uint32_t seed)
{
	struct restorer *r = restorer_new(&map, f, sse);
	struct sbuf out;
	size_t at = 0;

	sbuf_init(&out, 256u << 20);
	while (at < n) {
		size_t k = seed ? 1 + next(&seed) % 64 : n;
		if (k > n - at)
			k = n - at;
		if (restorer_feed(r, body + at, k, &out) != 0)
			abort();
		at += k;
	}
	if (restorer_finish(r, &out) != 0)
		abort();
	restorer_free(r);
	return out;
}

static bool
may_hold_placeholder(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '[' || p[i] == '<' || (p[i] == '\\' && i + 1 < n && p[i + 1] == 'u'))
			return true;
	return false;
}

/* Up to 8 sorted spans drawn from the input, redacted; the result must be consistent. */
static void
redact(const uint8_t *body, size_t n, uint32_t seed)
{
	static const char *const phs[] = { "[A]", "[A]", "[B_1]", "<x>", "[A_2]" };
	struct guard_redaction r[8];
	struct redact_map m = { 0 };
	struct sbuf out;
	char why[200];
	size_t k = 0, at = 0;

	memset(r, 0, sizeof(r));
	while (k < 8 && at < n) {
		size_t s = at + next(&seed) % (n - at), e = s + 1 + next(&seed) % 12;
		if (e > n)
			e = n;
		r[k].start = s;
		r[k].end = e;
		snprintf(r[k].placeholder, sizeof(r[k].placeholder), "%s", phs[next(&seed) % 5]);
		k++;
		at = e + next(&seed) % 4;
	}
	sbuf_init(&out, 1u << 20);
	if (redact_apply(body, n, r, k, &out, &m, why, sizeof(why)) == 0) {
		for (size_t i = 0; i < m.n; i++) {
			if (!memmem(body, n, m.v[i].original, m.v[i].original_len))
				abort();
			if (!memmem(out.p, out.len, m.v[i].placeholder, strlen(m.v[i].placeholder)))
				abort();
			for (size_t j = 0; j < i; j++)
				if (strcmp(m.v[i].placeholder, m.v[j].placeholder) == 0)
					abort();
		}
	} else if (!why[0]) {
		abort();
	}
	redact_map_free(&m);
	sbuf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *body = data + 1;
	size_t n;
	uint8_t mode;
	enum redact_format f;
	bool sse;
	struct sbuf one, many;

	if (size < 1)
		return 0;
	if (!map.n)
		build_map();
	mode = data[0];
	n = size - 1;
	sse = mode & 1;
	f = mode & 2 ? REDACT_OPENAI : REDACT_ANTHROPIC;
	one = run(f, sse, body, n, 0);
	many = run(f, sse, body, n, 0x9e3779b9u ^ (uint32_t)(mode >> 3) ^ (uint32_t)n);
	if (one.len != many.len || memcmp(one.p, many.p, one.len) != 0)
		abort();
	if (!may_hold_placeholder(body, n) && (one.len != n || memcmp(one.p, body, n) != 0))
		abort();
	sbuf_free(&one);
	sbuf_free(&many);
	if (mode & 4)
		redact(body, n, 0x85ebca6bu ^ (uint32_t)n);
	return 0;
}
