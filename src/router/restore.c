/*
 * Restoring a response: the model answered a redacted request, so its
 * output may name placeholders ("[EMAIL_1]"); the agent must read the
 * originals.  The response streams, so this works on whatever read()
 * returned, never on the whole body.
 *
 * Two modes:
 *
 *   - A plain body (JSON or anything else) is restored byte by byte.  A
 *     placeholder can be cut by a read() boundary, so the tail of each
 *     piece that could still become one (at most the longest placeholder
 *     less one byte) is held back until the next piece decides it.  A tiny
 *     JSON lexer follows the bytes only to know whether a placeholder
 *     stands in the value of an "arguments" member (JSON text inside a JSON
 *     string), which needs its original escaped twice.
 *
 *   - An SSE body is cut into events; an event's data is parsed as JSON.
 *     Here a placeholder is also cut by the model itself: "[EMA" in one
 *     text delta, "IL_1]" in the next, each in its own event, each a
 *     string that is complete JSON.  So the unit of matching is a stream
 *     of deltas (a content block, a choice, a tool call, an output item):
 *     each stream has a carry, the decoded tail of its text that could
 *     still become a placeholder.  The next delta of that stream starts
 *     with the carry; the event that ends the stream is preceded by a copy
 *     of the stream's last delta event carrying what was left.  Text is
 *     never lost and never reordered within a stream.
 *
 * Matching is leftmost, and at one position the longest placeholder wins;
 * a position whose rest of text is a proper prefix of some placeholder
 * holds everything from there back (unless the text is final).  The
 * placeholders sit in an array sorted bytewise, searched like a trie by
 * narrowing a range one byte at a time, so a lookup costs at most
 * GUARD_PLACEHOLDER_MAX binary searches and most positions are dismissed
 * by a first-byte table.
 *
 * Events that have nothing to restore and leave nothing held are passed on
 * byte for byte: a stream without placeholders comes out unchanged.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

/* The largest text one restored string may grow to. */
#define TEXT_MAX (64u << 20)
/* Deltas and stream ends tracked in one event; more is a limit hit. */
#define EVENT_DELTAS_MAX 1024

/* How an original is written where a placeholder stood. */
enum form {
	FORM_TEXT,	/* as text: a JSON writer escapes it afterwards */
	FORM_JSON,	/* as JSON string content */
	FORM_JSON2,	/* as JSON string content inside JSON string content */
	FORM_COUNT
};

struct ph {
	char *name;
	size_t len;
	size_t order;			/* position in the map, for duplicates */
	char *ins[FORM_COUNT];
	size_t ins_len[FORM_COUNT];
};

/* A stream holding text back. */
struct carry {
	char *key;
	char text[GUARD_PLACEHOLDER_MAX];
	size_t len;
	enum form form;
	json_t *tmpl;		/* the event flushed with the carry as its delta (owned) */
	json_t *slot;		/* the delta string inside tmpl */
	char *event;		/* the template's "event:" name, or NULL */
	const char *eol;
	const struct delta *src;	/* during one event: the delta that left this carry */
};

/* Just enough of a JSON lexer to know the member a string is the value of. */
struct jlex {
	bool in_str, esc, after_colon;
	bool key_nested, nested;	/* the member holds JSON text */
	bool key_signed, is_signed;	/* the member is Anthropic's signed "thinking" */
	char cur[16], last[16];
	size_t cur_len, last_len;	/* sizeof + 1: longer than any name of interest */
};

struct restorer {
	struct ph *ph;			/* sorted by name */
	size_t nph;
	bool first[256];		/* first bytes of placeholders */
	enum redact_format fmt;
	bool sse, overflowed, finished;

	/* Plain bodies. */
	char hold[GUARD_PLACEHOLDER_MAX];
	size_t hold_len;
	struct jlex lx;

	/* SSE. */
	struct sbuf ev;			/* the event being read */
	size_t line;			/* where its current line starts */
	bool skipping;			/* an oversize event is passing through */
	bool skip_blank;		/* ... and its current line is still blank */
	size_t skip_len;
	struct carry *carry;
	size_t ncarry;
};

/* ---- the map, prepared ---------------------------------------------------- */

/* Length of a valid UTF-8 sequence at p (as JSON parsers require: no overlongs or surrogates), or 0. */
static size_t
utf8_valid(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t want;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		want = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		want = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		want = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (n < want || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < want; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return want;
}

/* s as valid UTF-8: each byte that starts no valid sequence becomes U+FFFD. */
static void
add_utf8(struct sbuf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t u = utf8_valid(p + i, n - i);
		if (u) {
			sbuf_add(b, s + i, u);
			i += u;
		} else {
			sbuf_add(b, "\xef\xbf\xbd", 3);
			i++;
		}
	}
}

/* s (valid UTF-8) as JSON string content. */
static void
add_escaped(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sbuf_add(b, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			sbuf_add(b, esc, 2);
		} else if (c == '\n')
			sbuf_add(b, "\\n", 2);
		else if (c == '\t')
			sbuf_add(b, "\\t", 2);
		else if (c == '\r')
			sbuf_add(b, "\\r", 2);
		else
			sbuf_add(b, esc, 6);
	}
	sbuf_add(b, s + run, n - run);
}

static void
set_form(struct ph *p, enum form f, struct sbuf *b)
{
	p->ins[f] = xmalloc(b->len + 1);
	memcpy(p->ins[f], b->p, b->len + 1);
	p->ins_len[f] = b->len;
	b->len = 0;
	b->p[0] = '\0';
}

/*
 * The three forms of one original.  Raw bytes that are valid JSON string
 * content (what a span inside a JSON string of the request holds) are
 * already the JSON form, and their decoded value is the text.  Anything
 * else is taken as text (made valid UTF-8) and escaped for the JSON form.
 */
static void
prepare(struct ph *p, const char *raw, size_t n)
{
	struct sbuf b, q;
	json_t *v;

	sbuf_init(&b, SIZE_MAX / 4);
	sbuf_init(&q, SIZE_MAX / 4);
	sbuf_add(&q, "\"", 1);
	sbuf_add(&q, raw, n);
	sbuf_add(&q, "\"", 1);
	v = json_loadb(q.p, q.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (json_is_string(v)) {
		sbuf_add(&b, json_string_value(v), json_string_length(v));
		set_form(p, FORM_TEXT, &b);
		sbuf_add(&b, raw, n);
		set_form(p, FORM_JSON, &b);
	} else {
		add_utf8(&b, raw, n);
		set_form(p, FORM_TEXT, &b);
		add_escaped(&b, p->ins[FORM_TEXT], p->ins_len[FORM_TEXT]);
		set_form(p, FORM_JSON, &b);
	}
	json_decref(v);
	add_escaped(&b, p->ins[FORM_JSON], p->ins_len[FORM_JSON]);
	set_form(p, FORM_JSON2, &b);
	sbuf_free(&b);
	sbuf_free(&q);
}

static int
ph_cmp(const void *a, const void *b)
{
	const struct ph *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/*
 * At s (n bytes left in the text): the longest placeholder matching in
 * full (its index, or -1), and in *partial whether s is a proper prefix of
 * a longer placeholder, which only more text can settle.
 */
static long
match_at(const struct restorer *r, const char *s, size_t n, bool *partial)
{
	size_t lo = 0, hi = r->nph;
	long full = -1;

	*partial = false;
	for (size_t d = 0;; d++) {
		unsigned char c;
		size_t a, b;

		/* All of [lo, hi) start with s[0..d); the one that ends there sorts first. */
		if (lo < hi && r->ph[lo].len == d)
			full = (long)lo++;
		if (lo == hi)
			return full;
		if (d == n) {
			*partial = true;
			return full;
		}
		c = (unsigned char)s[d];
		for (a = lo, b = hi; a < b;) {
			size_t mid = a + (b - a) / 2;
			if ((unsigned char)r->ph[mid].name[d] < c)
				a = mid + 1;
			else
				b = mid;
		}
		lo = a;
		for (b = hi; a < b;) {
			size_t mid = a + (b - a) / 2;
			if ((unsigned char)r->ph[mid].name[d] <= c)
				a = mid + 1;
			else
				b = mid;
		}
		hi = a;
	}
}

/*
 * Replace complete placeholders of s[0..n) into out, originals in the
 * given form.  Unless final, stop where the rest of the text could still
 * become a placeholder, and return how many bytes were held back there.
 * *replaced tells whether anything was replaced.
 */
static size_t
restore_text(const struct restorer *r, const char *s, size_t n, bool final, enum form form,
    struct sbuf *out, bool *replaced)
{
	size_t i = 0, run = 0;

	*replaced = false;
	while (i < n) {
		bool partial;
		long k;

		if (!r->first[(unsigned char)s[i]]) {
			i++;
			continue;
		}
		k = match_at(r, s + i, n - i, &partial);
		if (partial && !final)
			break;
		if (k < 0) {
			i++;
			continue;
		}
		sbuf_add(out, s + run, i - run);
		sbuf_add(out, r->ph[k].ins[form], r->ph[k].ins_len[form]);
		*replaced = true;
		i += r->ph[k].len;
		run = i;
	}
	sbuf_add(out, s + run, i - run);
	return n - i;
}

struct restorer *
restorer_new(const struct redact_map *m, enum redact_format f, bool sse)
{
	struct restorer *r = xcalloc(1, sizeof(*r));
	size_t n = 0;

	r->fmt = f;
	r->sse = sse;
	r->ph = xcalloc(m->n ? m->n : 1, sizeof(*r->ph));
	for (size_t i = 0; i < m->n; i++) {
		const char *name = m->v[i].placeholder;
		size_t len = name ? strlen(name) : 0;

		if (len == 0 || len > GUARD_PLACEHOLDER_MAX)
			continue;
		r->ph[n].name = xstrdup(name);
		r->ph[n].len = len;
		r->ph[n].order = i;
		prepare(&r->ph[n], m->v[i].original ? m->v[i].original : "",
		    m->v[i].original ? m->v[i].original_len : 0);
		n++;
	}
	qsort(r->ph, n, sizeof(*r->ph), ph_cmp);
	/* Placeholders must be unique for the matcher: the first of equal names stays. */
	r->nph = 0;
	for (size_t i = 0; i < n; i++) {
		if (r->nph && strcmp(r->ph[r->nph - 1].name, r->ph[i].name) == 0) {
			free(r->ph[i].name);
			for (int fm = 0; fm < FORM_COUNT; fm++)
				free(r->ph[i].ins[fm]);
			continue;
		}
		r->ph[r->nph++] = r->ph[i];
		r->first[(unsigned char)r->ph[i].name[0]] = true;
	}
	sbuf_init(&r->ev, REDACT_EVENT_MAX);
	return r;
}

bool
restorer_overflowed(const struct restorer *r)
{
	return r->overflowed;
}

static void
carry_clear(struct carry *c)
{
	free(c->key);
	free(c->event);
	json_decref(c->tmpl);
}

void
restorer_free(struct restorer *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nph; i++) {
		free(r->ph[i].name);
		for (int f = 0; f < FORM_COUNT; f++)
			free(r->ph[i].ins[f]);
	}
	free(r->ph);
	for (size_t i = 0; i < r->ncarry; i++)
		carry_clear(&r->carry[i]);
	free(r->carry);
	sbuf_free(&r->ev);
	free(r);
}

/* ---- plain bodies ---------------------------------------------------------- */

static bool
nested_name(const char *s, size_t n)
{
	return (n == 9 && memcmp(s, "arguments", 9) == 0) ||
	    (n == 12 && memcmp(s, "partial_json", 12) == 0);
}

/*
 * Anthropic signs thinking blocks, and an agent sends them back on its
 * next turn; a thinking text changed here would fail the signature check
 * there.  So thinking stays as the model wrote it, placeholders included.
 */
static bool
signed_name(const struct restorer *r, const char *s, size_t n)
{
	return r->fmt == REDACT_ANTHROPIC && n == 8 && memcmp(s, "thinking", 8) == 0;
}

static void
lex_feed(const struct restorer *r, struct jlex *l, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (l->in_str) {
			if (l->esc)
				l->esc = false;
			else if (c == '\\') {
				l->esc = true;
				continue;
			} else if (c == '"') {
				l->in_str = false;
				memcpy(l->last, l->cur, sizeof(l->last));
				l->last_len = l->cur_len;
				continue;
			}
			if (l->cur_len < sizeof(l->cur))
				l->cur[l->cur_len] = c;
			if (l->cur_len <= sizeof(l->cur))
				l->cur_len++;
		} else if (c == '"') {
			l->in_str = true;
			l->nested = l->after_colon && l->key_nested;
			l->is_signed = l->after_colon && l->key_signed;
			l->after_colon = false;
			l->cur_len = 0;
		} else if (c == ':') {
			l->after_colon = true;
			l->key_nested = l->last_len <= sizeof(l->last) && nested_name(l->last, l->last_len);
			l->key_signed = l->last_len <= sizeof(l->last) && signed_name(r, l->last, l->last_len);
		} else if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			l->after_colon = false;
	}
}

/* Restore a piece of a plain body: the bytes held back, then p. */
static void
plain_feed(struct restorer *r, const char *p, size_t n, bool final, struct sbuf *out)
{
	struct sbuf t;
	const char *s = p;
	size_t len = n, i = 0, run = 0;

	if (r->hold_len) {
		sbuf_init(&t, SIZE_MAX / 4);
		sbuf_add(&t, r->hold, r->hold_len);
		sbuf_add(&t, p, n);
		s = t.p;
		len = t.len;
	}
	while (i < len) {
		bool partial;
		long k;
		enum form f;

		if (!r->first[(unsigned char)s[i]]) {
			i++;
			continue;
		}
		k = match_at(r, s + i, len - i, &partial);
		if (partial && !final)
			break;
		if (k < 0) {
			i++;
			continue;
		}
		/* The lexer must have seen everything before the placeholder. */
		lex_feed(r, &r->lx, s + run, i - run);
		sbuf_add(out, s + run, i - run);
		run = i;
		if (r->lx.in_str && r->lx.is_signed) {
			i++;
			continue;
		}
		f = r->lx.in_str && r->lx.nested ? FORM_JSON2 : FORM_JSON;
		sbuf_add(out, r->ph[k].ins[f], r->ph[k].ins_len[f]);
		lex_feed(r, &r->lx, r->ph[k].name, r->ph[k].len);
		i += r->ph[k].len;
		run = i;
	}
	lex_feed(r, &r->lx, s + run, i - run);
	sbuf_add(out, s + run, i - run);
	r->hold_len = len - i;
	memcpy(r->hold, s + i, r->hold_len);
	if (s != p)
		sbuf_free(&t);
}

/* ---- SSE: one event's fields ------------------------------------------------ */

struct sse_event {
	const char *raw;
	size_t len;
	struct sbuf data;
	bool has_data;
	char *name;		/* the "event:" field, or NULL */
	const char *eol;	/* of the first data line */
};

/* Split a line (without its end) into field name and value; a comment has no name. */
static void
sse_field(const char *l, size_t n, size_t *name_len, const char **val, size_t *val_len)
{
	const char *colon = memchr(l, ':', n);
	size_t k = colon ? (size_t)(colon - l) : n;

	*name_len = k;
	*val = l + n;
	*val_len = 0;
	if (colon) {
		*val = colon + 1;
		*val_len = n - k - 1;
		if (*val_len && **val == ' ') {
			(*val)++;
			(*val_len)--;
		}
	}
}

/* The next line of raw at *pos: its text (without \r\n) and full length. */
static bool
next_line(const char *raw, size_t len, size_t *pos, const char **line, size_t *text, size_t *full)
{
	const char *nl;

	if (*pos >= len)
		return false;
	*line = raw + *pos;
	nl = memchr(*line, '\n', len - *pos);
	*full = nl ? (size_t)(nl - *line) + 1 : len - *pos;
	*text = *full - (nl != NULL);
	if (*text && (*line)[*text - 1] == '\r')
		(*text)--;
	*pos += *full;
	return true;
}

static bool
is_field(const char *l, size_t name_len, const char *name)
{
	return name_len == strlen(name) && memcmp(l, name, name_len) == 0;
}

static void
sse_parse(struct sse_event *e, const char *raw, size_t len)
{
	size_t pos = 0, text, full;
	const char *l;

	memset(e, 0, sizeof(*e));
	e->raw = raw;
	e->len = len;
	e->eol = "\n";
	sbuf_init(&e->data, REDACT_EVENT_MAX);
	while (next_line(raw, len, &pos, &l, &text, &full)) {
		size_t nl;
		const char *v;
		size_t vl;

		sse_field(l, text, &nl, &v, &vl);
		if (text == 0 || nl == 0)
			continue;
		if (is_field(l, nl, "data")) {
			if (e->has_data)
				sbuf_add(&e->data, "\n", 1);
			else
				e->eol = full > text + 1 ? "\r\n" : "\n";
			sbuf_add(&e->data, v, vl);
			e->has_data = true;
		} else if (is_field(l, nl, "event")) {
			free(e->name);
			e->name = xstrndup(v, vl);
		}
	}
}

static void
sse_event_free(struct sse_event *e)
{
	sbuf_free(&e->data);
	free(e->name);
}

/* The event again, its data lines replaced by one line holding js. */
static void
sse_rewrite(const struct sse_event *e, const char *js, struct sbuf *out)
{
	size_t pos = 0, text, full;
	const char *l;
	bool done = false;

	while (next_line(e->raw, e->len, &pos, &l, &text, &full)) {
		size_t nl, vl;
		const char *v;

		sse_field(l, text, &nl, &v, &vl);
		if (text && is_field(l, nl, "data")) {
			if (!done) {
				sbuf_add(out, "data: ", 6);
				sbuf_adds(out, js);
				sbuf_adds(out, e->eol);
				done = true;
			}
			continue;
		}
		sbuf_add(out, l, full);
	}
}

/* ---- SSE: which strings are deltas, which events end streams ---------------- */

/* How to build the event that flushes a carry. */
enum shape {
	SHAPE_COPY,		/* a copy of the event, the delta at [outer].field */
	SHAPE_CHAT_CONTENT,	/* a chunk for one choice's content */
	SHAPE_CHAT_TOOL,	/* a chunk for one tool call's arguments */
};

struct delta {
	json_t *str;		/* in the event (borrowed) */
	char *key;
	enum form form;
	bool final;		/* the event also ends this stream */
	enum shape shape;
	const char *outer, *field;	/* SHAPE_COPY */
	json_int_t choice, tool;	/* SHAPE_CHAT_* */
};

struct ending {
	char *key;
	bool prefix;		/* ends every key that starts with this */
};

struct plan {
	struct delta *d;
	size_t nd, dcap;
	struct ending *e;
	size_t ne, ecap;
	bool dropped;		/* more than EVENT_DELTAS_MAX */
};

static struct delta *
plan_delta(struct plan *pl, json_t *str, char *key, enum form form, enum shape shape)
{
	struct delta *d;

	if (!json_is_string(str) || pl->nd == EVENT_DELTAS_MAX) {
		pl->dropped |= json_is_string(str);
		free(key);
		return NULL;
	}
	if (pl->nd == pl->dcap) {
		pl->dcap = pl->dcap ? 2 * pl->dcap : 4;
		pl->d = xrealloc(pl->d, pl->dcap * sizeof(*pl->d));
	}
	d = &pl->d[pl->nd++];
	memset(d, 0, sizeof(*d));
	d->str = str;
	d->key = key;
	d->form = form;
	d->shape = shape;
	return d;
}

static void
plan_end(struct plan *pl, char *key, bool prefix)
{
	if (pl->ne == EVENT_DELTAS_MAX) {
		pl->dropped = true;
		free(key);
		return;
	}
	if (pl->ne == pl->ecap) {
		pl->ecap = pl->ecap ? 2 * pl->ecap : 4;
		pl->e = xrealloc(pl->e, pl->ecap * sizeof(*pl->e));
	}
	pl->e[pl->ne].key = key;
	pl->e[pl->ne++].prefix = prefix;
}

static void
plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->nd; i++)
		free(pl->d[i].key);
	for (size_t i = 0; i < pl->ne; i++)
		free(pl->e[i].key);
	free(pl->d);
	free(pl->e);
}

static bool
plan_ends(const struct plan *pl, const char *key)
{
	for (size_t i = 0; i < pl->ne; i++) {
		const char *k = pl->e[i].key;
		if (pl->e[i].prefix ? strncmp(key, k, strlen(k)) == 0 : strcmp(key, k) == 0)
			return true;
	}
	return false;
}

static bool
plan_has_delta(const struct plan *pl, const char *key)
{
	for (size_t i = 0; i < pl->nd; i++)
		if (strcmp(pl->d[i].key, key) == 0)
			return true;
	return false;
}

static bool
plan_is_delta(const struct plan *pl, const json_t *s)
{
	for (size_t i = 0; i < pl->nd; i++)
		if (pl->d[i].str == s)
			return true;
	return false;
}

static json_int_t
int_or(json_t *v, json_int_t dflt)
{
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/*
 * Anthropic Messages: content_block_delta carries text_delta.text or
 * input_json_delta.partial_json (JSON text), keyed by the block index;
 * content_block_stop ends the block; message_stop and error end
 * everything.  thinking_delta is left alone (see signed_name).
 */
static void
classify_anthropic(json_t *root, const char *type, struct plan *pl)
{
	static const struct {
		const char *type, *field;
		enum form form;
	} kinds[] = {
		{ "text_delta", "text", FORM_TEXT },
		{ "input_json_delta", "partial_json", FORM_JSON },
	};
	json_t *idx = json_object_get(root, "index");

	if (strcmp(type, "content_block_delta") == 0 && json_is_integer(idx)) {
		json_t *d = json_object_get(root, "delta");
		const char *dt = json_string_value(json_object_get(d, "type"));

		for (size_t i = 0; dt && i < ARRAY_SIZE(kinds); i++) {
			struct delta *x;
			if (strcmp(dt, kinds[i].type) != 0)
				continue;
			x = plan_delta(pl, json_object_get(d, kinds[i].field),
			    xasprintf("a\037%" JSON_INTEGER_FORMAT, json_integer_value(idx)),
			    kinds[i].form, SHAPE_COPY);
			if (x) {
				x->outer = "delta";
				x->field = kinds[i].field;
			}
		}
	} else if (strcmp(type, "content_block_stop") == 0 && json_is_integer(idx)) {
		plan_end(pl, xasprintf("a\037%" JSON_INTEGER_FORMAT, json_integer_value(idx)), false);
	} else if (strcmp(type, "message_stop") == 0 || strcmp(type, "error") == 0) {
		plan_end(pl, xstrdup(""), true);
	}
}

/*
 * OpenAI Chat Completions: choices[].delta.content keyed by the choice
 * index, choices[].delta.tool_calls[].function.arguments (JSON text) keyed
 * by choice and tool-call index.  A non-null finish_reason ends the
 * choice, including its deltas in the same chunk.
 */
static void
classify_chat(json_t *choices, struct plan *pl)
{
	size_t i;
	json_t *ch;

	json_array_foreach(choices, i, ch) {
		json_int_t ci = int_or(json_object_get(ch, "index"), (json_int_t)i);
		json_t *d = json_object_get(ch, "delta"), *fr = json_object_get(ch, "finish_reason");
		bool ends = fr && !json_is_null(fr);
		struct delta *x;
		size_t j;
		json_t *tc;

		x = plan_delta(pl, json_object_get(d, "content"),
		    xasprintf("c\037%" JSON_INTEGER_FORMAT, ci), FORM_TEXT, SHAPE_CHAT_CONTENT);
		if (x) {
			x->choice = ci;
			x->final = ends;
		}
		json_array_foreach(json_object_get(d, "tool_calls"), j, tc) {
			json_int_t ti = int_or(json_object_get(tc, "index"), (json_int_t)j);

			x = plan_delta(pl, json_object_get(json_object_get(tc, "function"), "arguments"),
			    xasprintf("t\037%" JSON_INTEGER_FORMAT "\037%" JSON_INTEGER_FORMAT, ci, ti),
			    FORM_JSON, SHAPE_CHAT_TOOL);
			if (x) {
				x->choice = ci;
				x->tool = ti;
				x->final = ends;
			}
		}
		if (ends) {
			plan_end(pl, xasprintf("c\037%" JSON_INTEGER_FORMAT, ci), false);
			plan_end(pl, xasprintf("t\037%" JSON_INTEGER_FORMAT "\037", ci), true);
		}
	}
}

/*
 * OpenAI Responses: output_text and refusal deltas keyed by item and
 * content part, function_call_arguments deltas (JSON text) keyed by item;
 * each ends at its .done event (or when its part or item is done);
 * completion, failure and errors end everything.
 */
static void
classify_responses(json_t *root, const char *type, struct plan *pl)
{
	const char *item = json_string_value(json_object_get(root, "item_id"));
	json_int_t ci = int_or(json_object_get(root, "content_index"), 0);
	struct delta *x = NULL;

	if (strcmp(type, "response.completed") == 0 || strcmp(type, "response.incomplete") == 0 ||
	    strcmp(type, "response.failed") == 0 || strcmp(type, "error") == 0) {
		plan_end(pl, xstrdup(""), true);
		return;
	}
	if (strcmp(type, "response.output_item.done") == 0) {
		const char *id = json_string_value(json_object_get(json_object_get(root, "item"), "id"));
		if (id) {
			plan_end(pl, xasprintf("r\037%s\037", id), true);
			plan_end(pl, xasprintf("x\037%s\037", id), true);
			plan_end(pl, xasprintf("f\037%s", id), false);
		}
		return;
	}
	if (!item)
		return;
	if (strcmp(type, "response.output_text.delta") == 0)
		x = plan_delta(pl, json_object_get(root, "delta"),
		    xasprintf("r\037%s\037%" JSON_INTEGER_FORMAT, item, ci), FORM_TEXT, SHAPE_COPY);
	else if (strcmp(type, "response.refusal.delta") == 0)
		x = plan_delta(pl, json_object_get(root, "delta"),
		    xasprintf("x\037%s\037%" JSON_INTEGER_FORMAT, item, ci), FORM_TEXT, SHAPE_COPY);
	else if (strcmp(type, "response.function_call_arguments.delta") == 0)
		x = plan_delta(pl, json_object_get(root, "delta"), xasprintf("f\037%s", item),
		    FORM_JSON, SHAPE_COPY);
	else if (strcmp(type, "response.output_text.done") == 0)
		plan_end(pl, xasprintf("r\037%s\037%" JSON_INTEGER_FORMAT, item, ci), false);
	else if (strcmp(type, "response.refusal.done") == 0)
		plan_end(pl, xasprintf("x\037%s\037%" JSON_INTEGER_FORMAT, item, ci), false);
	else if (strcmp(type, "response.content_part.done") == 0) {
		plan_end(pl, xasprintf("r\037%s\037%" JSON_INTEGER_FORMAT, item, ci), false);
		plan_end(pl, xasprintf("x\037%s\037%" JSON_INTEGER_FORMAT, item, ci), false);
	} else if (strcmp(type, "response.function_call_arguments.done") == 0)
		plan_end(pl, xasprintf("f\037%s", item), false);
	if (x)
		x->field = "delta";
}

static void
classify(const struct restorer *r, json_t *root, struct plan *pl)
{
	const char *type = json_string_value(json_object_get(root, "type"));
	json_t *choices = json_object_get(root, "choices");

	if (r->fmt == REDACT_ANTHROPIC) {
		if (type)
			classify_anthropic(root, type, pl);
	} else if (json_is_array(choices)) {
		classify_chat(choices, pl);
	} else if (type) {
		classify_responses(root, type, pl);
	}
}

/* ---- SSE: carries ------------------------------------------------------------ */

static struct carry *
carry_find(struct restorer *r, const char *key)
{
	for (size_t i = 0; i < r->ncarry; i++)
		if (strcmp(r->carry[i].key, key) == 0)
			return &r->carry[i];
	return NULL;
}

static void
carry_remove(struct restorer *r, struct carry *c)
{
	size_t i = (size_t)(c - r->carry);

	carry_clear(c);
	memmove(&r->carry[i], &r->carry[i + 1], (r->ncarry - i - 1) * sizeof(*c));
	r->ncarry--;
}

/*
 * The event that will carry held text out: for Anthropic and Responses a
 * copy of the delta event (Responses logprobs emptied, they belong to the
 * text already sent); for Chat a chunk with the same top-level members
 * (usage null) and only this choice and this field, so no other choice's
 * text or a tool call's name is sent twice.
 */
static void
carry_template(struct carry *c, json_t *root, const struct delta *d, const struct sse_event *e)
{
	json_t *t, *holder, *choice, *delta;
	const char *k;
	json_t *v;

	json_decref(c->tmpl);
	c->tmpl = NULL;
	c->slot = NULL;
	if (d->shape == SHAPE_COPY) {
		t = json_deep_copy(root);
		holder = d->outer ? json_object_get(t, d->outer) : t;
		if (json_is_array(json_object_get(t, "logprobs")))
			json_object_set_new(t, "logprobs", json_array());
		json_object_set_new(holder, d->field, json_string(""));
		c->slot = json_object_get(holder, d->field);
	} else {
		t = json_object();
		json_object_foreach(root, k, v) {
			if (strcmp(k, "choices") == 0)
				json_object_set_new(t, k, json_array());
			else if (strcmp(k, "usage") == 0)
				json_object_set_new(t, k, json_null());
			else
				json_object_set_new(t, k, json_deep_copy(v));
		}
		choice = json_pack("{s:I}", "index", (json_int_t)d->choice);
		delta = json_object();
		holder = delta;
		if (d->shape == SHAPE_CHAT_TOOL) {
			json_t *fn = json_object();
			json_object_set_new(delta, "tool_calls", json_pack("[{s:I,s:o}]", "index",
			    (json_int_t)d->tool, "function", fn));
			holder = fn;
		}
		json_object_set_new(holder, d->shape == SHAPE_CHAT_TOOL ? "arguments" : "content",
		    json_string(""));
		c->slot = json_object_get(holder, d->shape == SHAPE_CHAT_TOOL ? "arguments" : "content");
		json_object_set_new(choice, "delta", delta);
		json_object_set_new(choice, "finish_reason", json_null());
		json_array_append_new(json_object_get(t, "choices"), choice);
	}
	c->tmpl = t;
	free(c->event);
	c->event = e->name ? xstrdup(e->name) : NULL;
	c->eol = e->eol;
}

static char *
dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* Emit the carry (what it holds, restored as final text) as a delta event of its own; drop it. */
static void
carry_flush(struct restorer *r, struct carry *c, struct sbuf *out)
{
	struct sbuf t;
	bool rep;
	char *js = NULL;

	sbuf_init(&t, TEXT_MAX);
	restore_text(r, c->text, c->len, true, c->form, &t, &rep);
	if (c->slot && json_string_setn(c->slot, t.p, t.len) == 0)
		js = dump(c->tmpl);
	if (js) {
		if (c->event) {
			sbuf_adds(out, "event: ");
			sbuf_adds(out, c->event);
			sbuf_adds(out, c->eol);
		}
		sbuf_adds(out, "data: ");
		sbuf_adds(out, js);
		sbuf_adds(out, c->eol);
		sbuf_adds(out, c->eol);
		free(js);
	} else {
		r->overflowed = true;
	}
	sbuf_free(&t);
	carry_remove(r, c);
}

static void
flush_all(struct restorer *r, struct sbuf *out)
{
	while (r->ncarry)
		carry_flush(r, &r->carry[0], out);
}

/* ---- SSE: restoring one event ------------------------------------------------ */

/* Replace complete placeholders in one string value; true when it changed. */
static bool
restore_string(struct restorer *r, json_t *s, enum form form)
{
	const char *v = json_string_value(s);
	size_t n = json_string_length(s), i;
	struct sbuf t;
	bool rep = false;

	for (i = 0; i < n && !r->first[(unsigned char)v[i]]; i++)
		;
	if (i == n)
		return false;
	sbuf_init(&t, TEXT_MAX);
	restore_text(r, v, n, true, form, &t, &rep);
	if (t.overflow) {
		r->overflowed = true;
		rep = false;
	} else if (rep && json_string_setn(s, t.p, t.len) != 0) {
		rep = false;
	}
	sbuf_free(&t);
	return rep;
}

/* Every string of the event that is not a delta of a stream. */
static bool
restore_others(struct restorer *r, json_t *v, const char *member, const struct plan *pl)
{
	bool changed = false;
	const char *k;
	json_t *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, k, x)
			changed |= restore_others(r, x, k, pl);
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			changed |= restore_others(r, x, member, pl);
		break;
	case JSON_STRING:
		if (member && signed_name(r, member, strlen(member)))
			break;
		if (!plan_is_delta(pl, v))
			changed = restore_string(r, v, member && nested_name(member, strlen(member)) ?
			    FORM_JSON : FORM_TEXT);
		break;
	default:
		break;
	}
	return changed;
}

/* One delta: carry + delta restored, the new tail held back.  True when the string changed. */
static bool
restore_delta(struct restorer *r, const struct delta *d, const struct plan *pl)
{
	struct carry *c = carry_find(r, d->key);
	bool final = d->final || plan_ends(pl, d->key), rep;
	struct sbuf text, t;
	size_t held;
	bool changed;

	if (!c && !final && r->ncarry >= REDACT_MAX_KEYS) {
		final = true;
		r->overflowed = true;
	}
	sbuf_init(&text, TEXT_MAX);
	sbuf_init(&t, TEXT_MAX);
	if (c)
		sbuf_add(&text, c->text, c->len);
	sbuf_add(&text, json_string_value(d->str), json_string_length(d->str));
	held = restore_text(r, text.p, text.len, final, d->form, &t, &rep);
	changed = rep || held || c;
	if (t.overflow || (changed && json_string_setn(d->str, t.p, t.len) != 0)) {
		/* Cannot happen short of a 64 MiB delta: leave it as it came. */
		r->overflowed = true;
		changed = false;
		held = 0;
	}
	if (held) {
		if (!c) {
			r->carry = xrealloc(r->carry, (r->ncarry + 1) * sizeof(*r->carry));
			c = &r->carry[r->ncarry++];
			memset(c, 0, sizeof(*c));
			c->key = xstrdup(d->key);
		}
		memcpy(c->text, text.p + text.len - held, held);
		c->len = held;
		c->form = d->form;
		c->src = d;
	} else if (c) {
		carry_remove(r, c);
	}
	sbuf_free(&text);
	sbuf_free(&t);
	return changed;
}

static void
sse_json_event(struct restorer *r, json_t *root, const struct sse_event *e, struct sbuf *out)
{
	struct plan plan = { 0 }, *pl = &plan;
	bool changed = false;
	char *js;

	classify(r, root, pl);
	if (pl->dropped)
		r->overflowed = true;
	/* Streams ending here whose held text has no delta of theirs in this event to ride on. */
	for (size_t i = 0; i < r->ncarry;) {
		if (plan_ends(pl, r->carry[i].key) && !plan_has_delta(pl, r->carry[i].key))
			carry_flush(r, &r->carry[i], out);
		else
			i++;
	}
	for (size_t i = 0; i < pl->nd; i++)
		changed |= restore_delta(r, &pl->d[i], pl);
	changed |= restore_others(r, root, NULL, pl);
	/* Templates last: they copy the event as it goes out. */
	for (size_t i = 0; i < r->ncarry; i++) {
		if (r->carry[i].src) {
			carry_template(&r->carry[i], root, r->carry[i].src, e);
			r->carry[i].src = NULL;
		}
	}
	if (changed && (js = dump(root)) != NULL) {
		sse_rewrite(e, js, out);
		free(js);
	} else {
		sbuf_add(out, e->raw, e->len);
	}
	plan_free(pl);
}

/* Could this data need restoring?  A placeholder's first byte, or an escape that could hide one. */
static bool
may_restore(const struct restorer *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r->first[(unsigned char)s[i]])
			return true;
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'u')
			return true;
	}
	return false;
}

static void
sse_event(struct restorer *r, struct sbuf *out)
{
	struct sse_event e;
	const char *d;
	size_t n;
	json_t *root;

	sse_parse(&e, r->ev.p, r->ev.len);
	d = e.data.p;
	n = e.data.len;
	while (n && (*d == ' ' || *d == '\t' || *d == '\r' || *d == '\n')) {
		d++;
		n--;
	}
	while (n && (d[n - 1] == ' ' || d[n - 1] == '\t' || d[n - 1] == '\r' || d[n - 1] == '\n'))
		n--;
	if (e.has_data && n == 6 && memcmp(d, "[DONE]", 6) == 0)
		flush_all(r, out);
	if (!e.has_data || (r->ncarry == 0 && !may_restore(r, d, n)) ||
	    !(root = json_loadb(e.data.p, e.data.len, JSON_ALLOW_NUL, NULL))) {
		sbuf_add(out, e.raw, e.len);
	} else {
		if (json_is_object(root))
			sse_json_event(r, root, &e, out);
		else
			sbuf_add(out, e.raw, e.len);
		json_decref(root);
	}
	sse_event_free(&e);
}

/*
 * An event grew past REDACT_EVENT_MAX: what was read of it goes out as it
 * is, and so does the rest up to its blank line.  Held text goes first --
 * it came before this event.
 */
static void
start_skipping(struct restorer *r, struct sbuf *out)
{
	size_t ll = r->ev.len - r->line;

	r->overflowed = true;
	flush_all(r, out);
	sbuf_add(out, r->ev.p, r->ev.len);
	r->skip_len = ll;
	r->skip_blank = ll == 0 || (ll == 1 && r->ev.p[r->line] == '\r');
	r->ev.len = 0;
	r->ev.p[0] = '\0';
	r->line = 0;
	r->skipping = true;
}

static size_t
skip_feed(struct restorer *r, const char *p, size_t n, struct sbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (r->skip_blank) {
				sbuf_add(out, p, i + 1);
				r->skipping = false;
				return i + 1;
			}
			r->skip_blank = true;
			r->skip_len = 0;
			continue;
		}
		if (r->skip_len > 0 || p[i] != '\r')
			r->skip_blank = false;
		r->skip_len++;
	}
	sbuf_add(out, p, n);
	return n;
}

static void
sse_feed(struct restorer *r, const char *p, size_t n, struct sbuf *out)
{
	while (n > 0) {
		const char *nl;
		size_t seg, ll;

		if (r->skipping) {
			size_t k = skip_feed(r, p, n, out);
			p += k;
			n -= k;
			continue;
		}
		nl = memchr(p, '\n', n);
		seg = nl ? (size_t)(nl - p) + 1 : n;
		if (seg > REDACT_EVENT_MAX - r->ev.len) {
			start_skipping(r, out);
			continue;
		}
		sbuf_add(&r->ev, p, seg);
		p += seg;
		n -= seg;
		if (!nl)
			break;
		ll = r->ev.len - r->line;
		if (ll == 1 || (ll == 2 && r->ev.p[r->line] == '\r')) {
			sse_event(r, out);
			r->ev.len = 0;
			r->ev.p[0] = '\0';
			r->line = 0;
		} else {
			r->line = r->ev.len;
		}
	}
}

/* ---- entry points ------------------------------------------------------------ */

int
restorer_feed(struct restorer *r, const void *p, size_t n, struct sbuf *out)
{
	if (r->finished)
		return -1;
	if (r->sse)
		sse_feed(r, p, n, out);
	else
		plain_feed(r, p, n, false, out);
	return out->overflow ? -1 : 0;
}

int
restorer_finish(struct restorer *r, struct sbuf *out)
{
	if (r->finished)
		return -1;
	r->finished = true;
	if (r->sse) {
		/* A stream cut short: held text first, then the unterminated event as it came. */
		flush_all(r, out);
		sbuf_add(out, r->ev.p, r->ev.len);
		r->ev.len = 0;
	} else {
		plain_feed(r, "", 0, true, out);
	}
	return out->overflow ? -1 : 0;
}
