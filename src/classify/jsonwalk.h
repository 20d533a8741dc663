/*
 * The classifier's JSON walker: turns an untrusted request body into the
 * text the detectors scan, and maps any range of that text back to the
 * bytes of the body it came from.
 *
 * Why its own parser: a detector must see the *unescaped* value ("\u0040"
 * is an '@'; "4111\u00201111..." is a card number), but a finding must
 * name the *raw* bytes of the body so the router can replace exactly them.
 * General-purpose parsers throw the raw offsets away.
 *
 * The scan text.  It is as long as the body, and laid out like it:
 *
 *   - every string (values and object keys) holds its unescaped content,
 *     written where the raw content starts, followed by NUL bytes up to
 *     where the raw content ended (unescaping only ever shortens);
 *   - numbers are copied as they are (a card number sent as a JSON number
 *     is still a card number);
 *   - everything else -- quotes, brackets, commas, colons, whitespace
 *     between tokens, true/false/null -- is NUL.
 *
 * So matches never run from one string into the next, and a string
 * without escapes sits at the same offset in the text as in the body: the
 * common case needs no mapping at all.  Strings with escapes, and strings
 * inside nested JSON, carry a small record to map their bytes back.
 *
 * Nested JSON: a string value whose unescaped content is itself a JSON
 * object or array (OpenAI tool-call "arguments", Responses "input_json",
 * anything an agent chooses to double-encode) is walked as JSON in turn,
 * up to JW_MAX_NEST levels; its strings are laid out inside the outer
 * string's region of the text, and their spans are composed back through
 * every level to the raw body.  Content that only looks like JSON but does
 * not parse is scanned as the plain string it is.
 *
 * Not JSON: a body that is not one valid JSON value (RFC 8259: strict
 * grammar, no raw control bytes in strings, valid escapes; a lone
 * surrogate escape is accepted and read as U+FFFD), or nests containers
 * deeper than JW_MAX_DEPTH, is scanned as it is: the text is the body
 * and spans are raw offsets.  The walker itself never recurses on the
 * body's nesting (an explicit stack), only on JSON-in-strings (bounded).
 *
 * Opaque runs: a run of at least JW_B64_MIN characters from the base64
 * alphabets (standard and URL-safe, with '='), in the text, is reported
 * as a hole that the detectors skip -- an image or a file inline in a
 * request is not text, and scanning megabytes of it costs time and
 * yields false positives.  The run after "data:...;base64," is one.
 *
 * Sizes: bodies up to JW_MAX_BODY bytes.  Memory is the text (one body
 * length), plus a record per escaped string and per nested string, plus
 * copies of nested JSON (capped at twice the body; past the cap, deeper
 * JSON is scanned as plain strings).
 */
#ifndef WARDEN_CLASSIFY_JSONWALK_H
#define WARDEN_CLASSIFY_JSONWALK_H

#include <stdbool.h>
#include <stddef.h>

#define JW_MAX_DEPTH 1024		/* containers nested deeper: scanned as text */
#define JW_MAX_NEST 16			/* JSON in a string in JSON ...: levels walked */
#define JW_B64_MIN 256			/* shortest base64 run that is opaque */
#define JW_MAX_BODY ((size_t)1 << 31)	/* offsets are 32-bit inside */

/* A base64 run in the scan text: [off, off + len). */
struct jw_hole {
	size_t off, len;
};

/* What a walk produced.  Borrows from the walker and the body. */
struct jwalk_view {
	const char *text;		/* the scan text, len bytes (the body itself when !json) */
	size_t len;
	bool json;			/* walked as JSON */
	const struct jw_hole *holes;	/* sorted, disjoint */
	size_t nholes;
};

struct jwalk;

/* A walker holds its buffers between walks (reuse it); not thread-safe. */
struct jwalk *jwalk_new(void);
void jwalk_free(struct jwalk *w);

/*
 * Walk one body (borrowed: it must outlive the view and every jwalk_span
 * call).  Forgets the previous walk.  Returns 0, or -1 when len exceeds
 * JW_MAX_BODY (nothing else fails: content only decides JSON or text).
 */
int jwalk_run(struct jwalk *w, const void *body, size_t len, struct jwalk_view *v);

/*
 * The raw body span [*rs, *re) holding the text range [s, e) (s < e <=
 * len, within one string, number or hole): widened so it covers whole
 * escape sequences ("\n", "\u00e9", a surrogate pair) at both ends.
 */
void jwalk_span(const struct jwalk *w, size_t s, size_t e, size_t *rs, size_t *re);

/*
 * True when text offset s lies in a JSON number (of 9 characters or more,
 * the only ones a detector can match).  Replacing part of a number by a
 * placeholder would break the JSON, so no redaction is offered there.
 */
bool jwalk_in_number(const struct jwalk *w, size_t s);

/* Counters for tests and the benchmark. */
struct jwalk_stats {
	size_t escaped;		/* strings with escapes (mapped) */
	size_t nested;		/* strings walked as nested JSON */
	size_t nested_pieces;	/* strings and numbers inside nested JSON */
};
void jwalk_stats(const struct jwalk *w, struct jwalk_stats *st);

#endif
