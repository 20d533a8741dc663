/*
 * Redaction of an outbound request body: each span a classifier reported
 * is replaced by its placeholder, and the map remembers what the
 * placeholder stood for so the response can be restored (restore.c).
 *
 * Spans are byte offsets into the raw body, so the original a placeholder
 * stands for is kept as those raw bytes: for a span inside a JSON string
 * they are the string's escaped content.  Keeping the raw form (rather
 * than a decoded one) lets the restorer choose per insertion context
 * whether it needs the escaped or the decoded text, and it is exactly what
 * the agent sent.
 *
 * A span is expected to cover whole units already; it is widened anyway
 * when it would cut one, because half an escape sequence ("\" left behind
 * before "[EMAIL_1]") or half a UTF-8 sequence would turn a valid JSON
 * body into an invalid one -- and the upstream then sees a request the
 * agent never sent.  The units are found by one pass from the start of the
 * body: outside JSON strings there are no backslashes, and inside them
 * escape sequences follow one another from the opening quote, so reading
 * every backslash as the start of an escape gives the true partition.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned
hex4(const unsigned char *p)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

/* A \uXXXX escape at p (n bytes available): its code unit, or -1. */
static long
u_escape(const unsigned char *p, size_t n)
{
	if (n < 6 || p[0] != '\\' || p[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++)
		if (!is_hex(p[i]))
			return -1;
	return (long)hex4(p + 2);
}

/*
 * The unit starting at body[i]: an escape sequence (a surrogate pair
 * written as two \u escapes is one unit: separating the halves leaves a
 * lone surrogate, which JSON parsers refuse), a UTF-8 sequence, or a byte.
 */
static size_t
unit_len(const unsigned char *b, size_t len, size_t i)
{
	size_t n = len - i, u;
	long c;

	if (b[i] == '\\') {
		if (n < 2)
			return 1;
		if ((c = u_escape(b + i, n)) < 0)
			return 2;
		if (c >= 0xd800 && c <= 0xdbff) {
			long lo = u_escape(b + i + 6, n - 6);
			if (lo >= 0xdc00 && lo <= 0xdfff)
				return 12;
		}
		return 6;
	}
	/* A UTF-8 sequence is one unit: its bytes are never separated. */
	u = utf8_seq_len((const unsigned char *)b + i, n);
	return u ? u : 1;
}

static bool
placeholder_ok(const char *p, size_t n)
{
	if (n == 0 || n > GUARD_PLACEHOLDER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("_:.-[]<>", c)))
			return false;
	}
	return true;
}

static struct redact_entry *
find_original(const struct redact_map *m, const void *orig, size_t n)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].original_len == n && memcmp(m->v[i].original, orig, n) == 0)
			return &m->v[i];
	return NULL;
}

static bool
placeholder_taken(const struct redact_map *m, const char *ph)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].placeholder, ph) == 0)
			return true;
	return false;
}

/*
 * A placeholder derived from ph that no entry uses yet: "_N" goes before a
 * closing ']' or '>' (so "[EMAIL_1]" becomes "[EMAIL_1_2]" and still reads
 * as one token), else at the end.  The stem is shortened when the result
 * would be too long.  There are at most GUARD_MAX_REDACTIONS entries, so a
 * free suffix is always found within that many tries.
 */
static char *
unique_placeholder(const struct redact_map *m, const char *ph)
{
	size_t len = strlen(ph);
	char close = len > 1 && (ph[len - 1] == ']' || ph[len - 1] == '>') ? ph[len - 1] : '\0';
	size_t stem = close ? len - 1 : len;

	for (unsigned k = 2;; k++) {
		char suffix[16], buf[GUARD_PLACEHOLDER_MAX + 1];
		int sl = snprintf(suffix, sizeof(suffix), "_%u%.*s", k, close ? 1 : 0, &close);
		size_t keep = stem;

		if (keep + (size_t)sl > GUARD_PLACEHOLDER_MAX)
			keep = GUARD_PLACEHOLDER_MAX - (size_t)sl;
		memcpy(buf, ph, keep);
		memcpy(buf + keep, suffix, (size_t)sl + 1);
		if (!placeholder_taken(m, buf))
			return xstrdup(buf);
	}
}

void
redact_map_free(struct redact_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].placeholder);
		free(m->v[i].original);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* The span [*s, *e) widened to unit boundaries; *pos is a unit boundary <= *s, advanced to *e. */
static void
widen(const unsigned char *b, size_t len, size_t *pos, size_t *s, size_t *e)
{
	size_t p = *pos;

	while (p + unit_len(b, len, p) <= *s)
		p += unit_len(b, len, p);
	*s = p;
	while (p < *e)
		p += unit_len(b, len, p);
	*e = p;
	*pos = p;
}

/* Check the spans as given and widen them; fills s[], e[].  Returns 0 or -1 with why. */
static int
check_spans(const unsigned char *b, size_t len, const struct guard_redaction *r, size_t n,
    size_t *s, size_t *e, char *why, size_t whylen)
{
	size_t pos = 0, prev_end = 0;

	if (n > GUARD_MAX_REDACTIONS) {
		snprintf(why, whylen, "%zu redactions (at most %u)", n, GUARD_MAX_REDACTIONS);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t phlen = strnlen(r[i].placeholder, sizeof(r[i].placeholder));

		if (phlen > GUARD_PLACEHOLDER_MAX || !placeholder_ok(r[i].placeholder, phlen)) {
			snprintf(why, whylen, "redaction %zu: placeholder is empty, too long or has "
			    "characters outside [A-Za-z0-9_:.-[]<>]", i);
			return -1;
		}
		if (r[i].start >= r[i].end || r[i].end > len) {
			snprintf(why, whylen, "redaction %zu: span [%zu, %zu) is empty or outside the "
			    "body (%zu bytes)", i, r[i].start, r[i].end, len);
			return -1;
		}
		if (r[i].start < prev_end) {
			snprintf(why, whylen, "redaction %zu: span [%zu, %zu) is out of order or overlaps "
			    "the one before", i, r[i].start, r[i].end);
			return -1;
		}
		prev_end = r[i].end;
		/* pos is the widened end of the span before: a start under it shares a unit with it. */
		if (r[i].start < pos) {
			snprintf(why, whylen, "redaction %zu: span [%zu, %zu) shares an escape or UTF-8 "
			    "sequence with the span before", i, r[i].start, r[i].end);
			return -1;
		}
		s[i] = r[i].start;
		e[i] = r[i].end;
		widen(b, len, &pos, &s[i], &e[i]);
	}
	return 0;
}

int
redact_apply(const void *body, size_t len, const struct guard_redaction *r, size_t n,
    struct sbuf *out, struct redact_map *map, char *why, size_t whylen)
{
	const unsigned char *b = body;
	_cleanup_free_ size_t *s = xcalloc(n ? n : 1, sizeof(*s));
	_cleanup_free_ size_t *e = xcalloc(n ? n : 1, sizeof(*e));
	struct redact_map m = { 0 };
	struct sbuf res;
	size_t at = 0;

	if (check_spans(b, len, r, n, s, e, why, whylen) < 0)
		return -1;
	/* Built aside, so a failure leaves the caller's buffer and map as they were. */
	sbuf_init(&res, out->max - out->len);
	for (size_t i = 0; i < n; i++) {
		size_t olen = e[i] - s[i];
		struct redact_entry *ent = find_original(&m, b + s[i], olen);

		if (!ent) {
			char *ph = placeholder_taken(&m, r[i].placeholder) ?
			    unique_placeholder(&m, r[i].placeholder) : xstrdup(r[i].placeholder);

			m.v = xrealloc(m.v, (m.n + 1) * sizeof(*m.v));
			ent = &m.v[m.n++];
			ent->placeholder = ph;
			ent->original = xmalloc(olen + 1);
			memcpy(ent->original, b + s[i], olen);
			ent->original[olen] = '\0';
			ent->original_len = olen;
		}
		sbuf_add(&res, (const char *)b + at, s[i] - at);
		sbuf_adds(&res, ent->placeholder);
		at = e[i];
	}
	sbuf_add(&res, (const char *)b + at, len - at);
	if (res.overflow || out->overflow) {
		snprintf(why, whylen, "the redacted body exceeds %zu bytes", out->max);
		sbuf_free(&res);
		redact_map_free(&m);
		return -1;
	}
	sbuf_add(out, res.p, res.len);
	sbuf_free(&res);
	/* Replaced, not merged: placeholders are unique within one request's map. */
	redact_map_free(map);
	*map = m;
	return 0;
}
