/*
 * libFuzzer target for the classifier's JSON walker, and the classifier
 * behind it.  Beyond "no crash, no leak, no hang", it checks the
 * properties the redaction of a request rests on, and abort()s when one
 * fails:
 *
 *  - the scan text is as long as the body; when the body is not JSON it
 *    *is* the body;
 *  - holes (opaque base64 runs) are sorted, disjoint, inside the text and
 *    at least JW_B64_MIN long;
 *  - a body that jansson accepts as JSON (starting with an object, an
 *    array or a string, and short enough that it cannot nest deeper than
 *    JW_MAX_DEPTH) is walked as JSON too: the walker is no stricter than
 *    RFC 8259 (it is laxer in one place, lone surrogates, which jansson
 *    refuses);
 *  - every text byte maps to a raw span inside the body that is either
 *    that very byte or a whole escape sequence (it starts with '\\'), and
 *    spans never run backwards;
 *  - the classifier's findings lie in the body and are sorted; its
 *    redactions are sorted, non-overlapping, non-empty, and their
 *    placeholders use only the characters the protocol allows; the tier
 *    is at least that of every finding.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/classify/classify.h"
#include "../src/classify/jsonwalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
check_walk(struct jwalk *w, const uint8_t *d, size_t n)
{
	struct jwalk_view v;
	size_t prev_end = 0, prev_start = 0;

	if (jwalk_run(w, d, n, &v) < 0)
		abort();
	if (v.len != n || (!v.json && v.text != (const char *)d))
		abort();
	for (size_t i = 0; i < v.nholes; i++) {
		if (v.holes[i].len < JW_B64_MIN || v.holes[i].off + v.holes[i].len > n ||
		    (i > 0 && v.holes[i].off < v.holes[i - 1].off + v.holes[i - 1].len))
			abort();
	}
	/* jansson reads a raw NUL as the end of the text; RFC 8259 does not. */
	if (n < 2 * JW_MAX_DEPTH && !memchr(d, 0, n)) {
		size_t k = 0;

		while (k < n && (d[k] == ' ' || d[k] == '\t' || d[k] == '\n' || d[k] == '\r'))
			k++;
		if (k < n && (d[k] == '{' || d[k] == '[' || d[k] == '"')) {
			json_t *j = json_loadb((const char *)d, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

			if (j && !v.json)
				abort();
			json_decref(j);
		}
	}
	if (!v.json)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t rs, re;

		if (v.text[i] == 0)
			continue;
		jwalk_span(w, i, i + 1, &rs, &re);
		if (rs >= re || re > n)
			abort();
		if (re - rs == 1 ? d[rs] != (uint8_t)v.text[i] : d[rs] != '\\')
			abort();
		/* Text order is body order. */
		if (rs < prev_start || (rs >= prev_end ? false : rs != prev_start))
			abort();
		prev_start = rs;
		prev_end = re;
	}
}

static bool
placeholder_ok(const char *p)
{
	size_t n = strlen(p);

	if (n < 3 || n > GUARD_PLACEHOLDER_MAX || p[0] != '[' || p[n - 1] != ']')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("_:.-[]<>", c)))
			return false;
	}
	return true;
}

static void
check_classify(struct classify_rules *r, const uint8_t *d, size_t n)
{
	struct classify_result res;
	struct werr err;

	if (classify_body(r, d, n, &res, &err) < 0)
		abort();
	for (size_t i = 0; i < res.nfindings; i++) {
		const struct guard_finding *f = &res.findings[i];

		if (f->start >= f->end || f->end > n || f->tier > res.tier ||
		    (i > 0 && f->start < res.findings[i - 1].end))
			abort();
	}
	for (size_t i = 0; i < res.nredactions; i++) {
		const struct guard_redaction *x = &res.redactions[i];

		if (x->start >= x->end || x->end > n || !placeholder_ok(x->placeholder) ||
		    (i > 0 && x->start < res.redactions[i - 1].end))
			abort();
	}
	classify_result_free(&res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct jwalk *w;
	static struct classify_rules *r;

	if (!w) {
		static const char *const terms[] = { "project nightingale" };
		struct classify_custom custom[] = {
			{ "codename", terms, 1, NULL, TIER_CONFIDENTIAL },
			{ "emp", NULL, 0, "EMP-[0-9]{6}", TIER_INTERNAL },
		};
		struct classify_config cfg = { custom, 2, TIER_INTERNAL };
		struct werr err;

		w = jwalk_new();
		r = classify_rules_new(&cfg, &err);
		if (!r)
			abort();
	}
	check_walk(w, d, n);
	check_classify(r, d, n);
	return 0;
}
