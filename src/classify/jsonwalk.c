/*
 * The classifier's JSON walker (jsonwalk.h): a strict, non-recursive
 * RFC 8259 parser that writes the scan text as it goes and keeps just
 * enough to map text offsets back to raw body offsets.
 *
 * Mapping.  Every string that is not at its raw offset in the text gets a
 * node: where its decoded bytes are in the text, where its source (the
 * bytes between the quotes) starts in its parent's coordinates, and, when
 * the source has escapes, checkpoints.  The parent is the raw body, or the
 * decoded content of the string holding nested JSON (itself a node).  To
 * map a decoded offset to the source we start at the last checkpoint
 * before it and walk forward over plain runs (memchr for '\\') and escape
 * sequences; a checkpoint is taken every JW_CK_EVERY escapes, so the walk
 * is short however long the string.  Composed through the parents, that
 * gives the raw span.
 *
 * Failure.  Anything that makes the body invalid JSON (at any point)
 * abandons the walk; the text is then the body itself.  A nested walk that
 * fails is rolled back (its nodes truncated, its region cleared) and the
 * string is written as plain text.
 */
#include "jsonwalk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "../lib/util.h"

#define JW_CK_EVERY 16			/* escapes between checkpoints */
#define JW_NUM_MIN 9			/* numbers remembered for jwalk_in_number */
#define ARENA_CHUNK (64u * 1024)

/* A decoded offset and the source offset of the escape sequence that starts there. */
struct jw_ck {
	uint32_t u, s;
};

struct jw_node {
	uint32_t tstart, tlen;	/* decoded bytes in the text */
	uint32_t pos, slen;	/* source in the parent's coordinates */
	uint32_t ck, nck;	/* checkpoints; nck == 0: no escapes */
	int32_t parent;		/* index into parents, or -1: the raw body */
};

/* A string holding nested JSON: its node, and its decoded content (the children's source). */
struct jw_parent {
	struct jw_node n;
	const unsigned char *content;
};

struct jw_num {
	uint32_t tstart, tlen;
};

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	unsigned char data[];
};

#define VEC(T) struct { T *v; size_t n, cap; }

struct jwalk {
	const unsigned char *body;
	size_t len;
	unsigned char *text;
	size_t text_cap;
	bool json;
	VEC(struct jw_node) pieces;	/* sorted by tstart, disjoint */
	VEC(struct jw_parent) parents;
	VEC(struct jw_ck) cks;
	VEC(struct jw_num) nums;
	VEC(struct jw_hole) holes;
	struct arena_chunk *arena;
	size_t arena_total, arena_budget;
	size_t nested;
};

#define VEC_PUSH(vec, item) do {						\
	if ((vec).n == (vec).cap) {						\
		(vec).cap = (vec).cap ? (vec).cap * 2 : 64;			\
		(vec).v = xrealloc((vec).v, (vec).cap * sizeof(*(vec).v));	\
	}									\
	(vec).v[(vec).n++] = (item);						\
} while (0)

/* One level of walking: a JSON text and where its strings go. */
struct level {
	const unsigned char *s;
	size_t n;
	size_t tbase;		/* text offset of source offset 0 */
	int32_t parent;		/* parent of the nodes made here */
	unsigned nest;		/* 0: the body */
};

static int walk(struct jwalk *w, const struct level *L);

/* ---- small pieces ------------------------------------------------------------ */

static void *
arena_alloc(struct jwalk *w, size_t n)
{
	struct arena_chunk *c = w->arena;

	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = xmalloc(sizeof(*c) + cap);
		c->used = 0;
		c->cap = cap;
		c->next = w->arena;
		w->arena = c;
	}
	c->used += n;
	w->arena_total += n;
	return c->data + c->used - n;
}

static void
arena_release(struct jwalk *w)
{
	while (w->arena) {
		struct arena_chunk *c = w->arena;

		w->arena = c->next;
		free(c);
	}
	w->arena_total = 0;
}

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
hex4(const unsigned char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t
utf8_put(unsigned char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Decode the escape sequence at s[i] (a backslash) of a source of n
 * bytes: writes up to 4 bytes to out, sets *olen, returns the sequence's
 * length, or 0 when it is not a valid escape.  A high surrogate followed
 * by a low one is one sequence (12 bytes, one code point); a lone
 * surrogate reads as U+FFFD.
 */
static size_t
escape_decode(const unsigned char *s, size_t n, size_t i, unsigned char *out, size_t *olen)
{
	int cp, lo;

	if (i + 1 >= n)
		return 0;
	switch (s[i + 1]) {
	case '"': out[0] = '"'; break;
	case '\\': out[0] = '\\'; break;
	case '/': out[0] = '/'; break;
	case 'b': out[0] = '\b'; break;
	case 'f': out[0] = '\f'; break;
	case 'n': out[0] = '\n'; break;
	case 'r': out[0] = '\r'; break;
	case 't': out[0] = '\t'; break;
	case 'u':
		if (i + 6 > n || (cp = hex4(s + i + 2)) < 0)
			return 0;
		if (cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= n && s[i + 6] == '\\' &&
		    s[i + 7] == 'u' && (lo = hex4(s + i + 8)) >= 0xDC00 && lo <= 0xDFFF) {
			*olen = utf8_put(out, 0x10000 + (((unsigned)cp - 0xD800) << 10) +
			    ((unsigned)lo - 0xDC00));
			return 12;
		}
		if (cp >= 0xD800 && cp <= 0xDFFF)
			cp = 0xFFFD;
		*olen = utf8_put(out, (unsigned)cp);
		return 6;
	default:
		return 0;
	}
	*olen = 1;
	return 2;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

/* 32 bytes at a time where the CPU has AVX2 (chosen at run time: the build targets plain x86-64). */
__attribute__((target("avx2"))) static size_t
scan_plain_avx2(const unsigned char *s, size_t i, size_t n)
{
	const __m256i q = _mm256_set1_epi8('"'), bs = _mm256_set1_epi8('\\');
	const __m256i ctl = _mm256_set1_epi8(0x1F);

	while (i + 32 <= n) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(s + i));
		__m256i m = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, q),
		    _mm256_cmpeq_epi8(v, bs)), _mm256_cmpeq_epi8(_mm256_min_epu8(v, ctl), v));
		unsigned mask = (unsigned)_mm256_movemask_epi8(m);

		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 32;
	}
	return i;
}

static bool
cpu_has_avx2(void)
{
	static int have = -1;

	if (have < 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("avx2") ? 1 : 0;
	}
	return have == 1;
}
#endif

/* The first byte at or after i that is '"', '\\' or a control byte (or n). */
static size_t
scan_plain(const unsigned char *s, size_t i, size_t n)
{
#ifdef HAVE_AVX2_PATH
	if (n - i >= 64 && cpu_has_avx2())
		i = scan_plain_avx2(s, i, n);
	if (i < n && (s[i] == '"' || s[i] == '\\' || s[i] < 0x20))
		return i;
#endif
#ifdef __SSE2__
	{
		const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
		const __m128i ctl = _mm_set1_epi8(0x1F);

		while (i + 16 <= n) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q),
			    _mm_cmpeq_epi8(v, bs)), _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
			int mask = _mm_movemask_epi8(m);

			if (mask)
				return i + (size_t)__builtin_ctz((unsigned)mask);
			i += 16;
		}
	}
#endif
	while (i < n && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20)
		i++;
	return i;
}

/*
 * Decode string content src[0, n) into out (room for n bytes).  Returns
 * the decoded length, or -1 on an invalid escape.  Checkpoints go to
 * w->cks: the first at (0, 0), then one every JW_CK_EVERY escapes.
 */
static long
decode(struct jwalk *w, const unsigned char *src, size_t n, unsigned char *out)
{
	size_t i = 0, o = 0, nesc = 0;
	struct jw_ck first = { 0, 0 };

	VEC_PUSH(w->cks, first);
	while (i < n) {
		const unsigned char *p = memchr(src + i, '\\', n - i);
		size_t run = p ? (size_t)(p - (src + i)) : n - i;
		size_t slen, olen = 0;

		memcpy(out + o, src + i, run);
		o += run;
		i += run;
		if (!p)
			break;
		if (nesc && nesc % JW_CK_EVERY == 0) {
			struct jw_ck ck = { (uint32_t)o, (uint32_t)i };

			VEC_PUSH(w->cks, ck);
		}
		nesc++;
		slen = escape_decode(src, n, i, out + o, &olen);
		if (slen == 0)
			return -1;
		i += slen;
		o += olen;
	}
	return (long)o;
}

/* ---- mapping ------------------------------------------------------------------- */

static const unsigned char *
node_source(const struct jwalk *w, const struct jw_node *nd)
{
	return nd->parent < 0 ? w->body + nd->pos : w->parents.v[nd->parent].content + nd->pos;
}

/* The source range [*a, *b) of the unit (byte or escape sequence) that decoded byte t came from. */
static void
unit_of(const struct jwalk *w, const struct jw_node *nd, size_t t, size_t *a, size_t *b)
{
	const unsigned char *src = node_source(w, nd);
	const struct jw_ck *ck = w->cks.v + nd->ck;
	size_t lo = 0, hi = nd->nck, u, s;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (ck[mid].u <= t)
			lo = mid;
		else
			hi = mid;
	}
	u = ck[lo].u;
	s = ck[lo].s;
	for (;;) {
		const unsigned char *p = memchr(src + s, '\\', t - u + 1 < nd->slen - s ? t - u + 1 : nd->slen - s);
		unsigned char tmp[4];
		size_t olen = 0, slen;

		if (!p) {
			*a = s + (t - u);
			*b = *a + 1;
			return;
		}
		u += (size_t)(p - (src + s));
		s += (size_t)(p - (src + s));
		slen = escape_decode(src, nd->slen, s, tmp, &olen);
		if (slen == 0 || t < u + olen) {
			/* slen == 0 cannot happen: the source was decoded before. */
			*a = s;
			*b = s + (slen ? slen : 1);
			return;
		}
		u += olen;
		s += slen;
	}
}

/* Map the decoded range [s, e) of a node up to raw body offsets. */
static void
map_up(const struct jwalk *w, const struct jw_node *nd, size_t s, size_t e, size_t *rs, size_t *re)
{
	for (;;) {
		if (nd->nck) {
			size_t a, b, c, d;

			unit_of(w, nd, s, &a, &b);
			unit_of(w, nd, e - 1, &c, &d);
			s = a;
			e = d;
		}
		s += nd->pos;
		e += nd->pos;
		if (nd->parent < 0)
			break;
		nd = &w->parents.v[nd->parent].n;
	}
	*rs = s;
	*re = e;
}

void
jwalk_span(const struct jwalk *w, size_t s, size_t e, size_t *rs, size_t *re)
{
	size_t lo = 0, hi = w->pieces.n;

	if (e > w->len)
		e = w->len;
	if (s >= e) {
		*rs = *re = s < w->len ? s : w->len;
		return;
	}
	if (w->json) {
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (w->pieces.v[mid].tstart <= s)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo > 0) {
			const struct jw_node *nd = &w->pieces.v[lo - 1];
			size_t end = (size_t)nd->tstart + nd->tlen;

			if (s < end) {
				map_up(w, nd, s - nd->tstart, (e < end ? e : end) - nd->tstart, rs, re);
				return;
			}
		}
	}
	*rs = s;
	*re = e;
}

bool
jwalk_in_number(const struct jwalk *w, size_t s)
{
	size_t lo = 0, hi = w->nums.n;

	if (!w->json)
		return false;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->nums.v[mid].tstart <= s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && s < (size_t)w->nums.v[lo - 1].tstart + w->nums.v[lo - 1].tlen;
}

/* ---- strings and numbers ------------------------------------------------------- */

/* Content that could be a JSON container: '{' or '[' first, '}' or ']' last (whitespace aside). */
static bool
looks_json(const unsigned char *p, size_t n)
{
	size_t a = 0, b = n;

	while (a < n && is_ws(p[a]))
		a++;
	while (b > a && is_ws(p[b - 1]))
		b--;
	if (b - a < 2)
		return false;
	return (p[a] == '{' && p[b - 1] == '}') || (p[a] == '[' && p[b - 1] == ']');
}

struct saved {
	size_t pieces, parents, cks, nums, nested;
};

static void
save(const struct jwalk *w, struct saved *sv)
{
	sv->pieces = w->pieces.n;
	sv->parents = w->parents.n;
	sv->cks = w->cks.n;
	sv->nums = w->nums.n;
	sv->nested = w->nested;
}

static void
restore(struct jwalk *w, const struct saved *sv)
{
	w->pieces.n = sv->pieces;
	w->parents.n = sv->parents;
	w->cks.n = sv->cks;
	w->nums.n = sv->nums;
	w->nested = sv->nested;
}

/*
 * Try the decoded content of a string as nested JSON.  content must stay
 * valid until the walk is over (the body, or an arena copy).  On success
 * the nested strings are in the text and nd became a parent; on failure
 * everything is as before.
 */
static bool
try_nested(struct jwalk *w, const struct level *L, const struct jw_node *nd,
    const unsigned char *content)
{
	struct saved sv;
	struct jw_parent par = { *nd, content };
	struct level inner = { content, nd->tlen, nd->tstart, 0, L->nest + 1 };

	save(w, &sv);
	VEC_PUSH(w->parents, par);
	inner.parent = (int32_t)(w->parents.n - 1);
	w->nested++;
	if (walk(w, &inner) == 0)
		return true;
	restore(w, &sv);
	memset(w->text + nd->tstart, 0, nd->tlen);
	return false;
}

/*
 * A string whose source is L->s[a, b); esc: it has escapes; key: it is
 * an object key (never walked as nested JSON).  Returns -1 on an invalid
 * escape.
 */
static int
put_string(struct jwalk *w, const struct level *L, size_t a, size_t b, bool esc, bool key)
{
	struct jw_node nd = { (uint32_t)(L->tbase + a), 0, (uint32_t)a, (uint32_t)(b - a), 0, 0,
		L->parent };
	unsigned char *out = w->text + nd.tstart;
	bool can_nest = !key && L->nest < JW_MAX_NEST;

	if (!esc) {
		nd.tlen = nd.slen;
		if (can_nest && looks_json(L->s + a, b - a) && try_nested(w, L, &nd, L->s + a))
			return 0;
		memcpy(out, L->s + a, b - a);
	} else {
		long d;

		nd.ck = (uint32_t)w->cks.n;
		d = decode(w, L->s + a, b - a, out);
		if (d < 0)
			return -1;
		nd.tlen = (uint32_t)d;
		nd.nck = (uint32_t)(w->cks.n - nd.ck);
		if (can_nest && looks_json(out, nd.tlen) &&
		    w->arena_total + nd.tlen <= w->arena_budget) {
			unsigned char *copy = arena_alloc(w, nd.tlen);

			memcpy(copy, out, nd.tlen);
			memset(out, 0, nd.tlen);
			if (try_nested(w, L, &nd, copy))
				return 0;
			memcpy(out, copy, nd.tlen);
		}
	}
	/* Strings of the body without escapes are where the text says: no node needed. */
	if (nd.tlen > 0 && (esc || L->nest > 0))
		VEC_PUSH(w->pieces, nd);
	return 0;
}

/* A number at L->s[i]: returns its end, or 0 when it is not one. */
static size_t
number_end(const unsigned char *s, size_t n, size_t i)
{
	size_t k = i;

	if (k < n && s[k] == '-')
		k++;
	if (k >= n)
		return 0;
	if (s[k] == '0') {
		k++;
	} else if (s[k] >= '1' && s[k] <= '9') {
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
	} else {
		return 0;
	}
	if (k < n && s[k] == '.') {
		size_t f = ++k;

		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
		if (k == f)
			return 0;
	}
	if (k < n && (s[k] == 'e' || s[k] == 'E')) {
		size_t f;

		k++;
		if (k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		f = k;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
		if (k == f)
			return 0;
	}
	return k;
}

static void
put_number(struct jwalk *w, const struct level *L, size_t a, size_t b)
{
	struct jw_node nd = { (uint32_t)(L->tbase + a), (uint32_t)(b - a), (uint32_t)a,
		(uint32_t)(b - a), 0, 0, L->parent };

	memcpy(w->text + nd.tstart, L->s + a, b - a);
	if (L->nest > 0)
		VEC_PUSH(w->pieces, nd);
	if (b - a >= JW_NUM_MIN) {
		struct jw_num num = { nd.tstart, nd.tlen };

		VEC_PUSH(w->nums, num);
	}
}

/* ---- the walk ------------------------------------------------------------------- */

enum { IN_ARRAY = 1, IN_OBJECT = 2 };

/*
 * Walk one JSON text (the body, or nested content).  Iterative: the only
 * stack is `stack`, JW_MAX_DEPTH bytes.  Returns 0 when L->s is exactly
 * one JSON value with optional whitespace around it, else -1.
 */
static int
walk(struct jwalk *w, const struct level *L)
{
	const unsigned char *s = L->s;
	size_t n = L->n, i = 0, depth = 0;
	unsigned char stack[JW_MAX_DEPTH];
	bool want_key = false;

	for (;;) {
		/* A value (or, in an object, a key and its colon, then a value). */
		while (i < n && is_ws(s[i]))
			i++;
		if (i >= n)
			return -1;
		if (want_key) {
			size_t a, b;
			bool esc = false;

			if (s[i] != '"')
				return -1;
			a = b = i + 1;
			for (;;) {
				b = scan_plain(s, b, n);
				if (b >= n || s[b] < 0x20)
					return -1;
				if (s[b] == '"')
					break;
				esc = true;
				b += 2;
			}
			if (put_string(w, L, a, b, esc, true) < 0)
				return -1;
			i = b + 1;
			while (i < n && is_ws(s[i]))
				i++;
			if (i >= n || s[i] != ':')
				return -1;
			i++;
			want_key = false;
			continue;
		}
		switch (s[i]) {
		case '{':
		case '[':
			if (depth >= JW_MAX_DEPTH)
				return -1;
			stack[depth++] = s[i] == '{' ? IN_OBJECT : IN_ARRAY;
			i++;
			while (i < n && is_ws(s[i]))
				i++;
			if (i < n && s[i] == (stack[depth - 1] == IN_OBJECT ? '}' : ']')) {
				depth--;
				i++;
				break;	/* an empty container is a complete value */
			}
			want_key = stack[depth - 1] == IN_OBJECT;
			continue;
		case '"': {
			size_t a = i + 1, b = a;
			bool esc = false;

			for (;;) {
				b = scan_plain(s, b, n);
				if (b >= n || s[b] < 0x20)
					return -1;
				if (s[b] == '"')
					break;
				esc = true;
				b += 2;
			}
			if (put_string(w, L, a, b, esc, false) < 0)
				return -1;
			i = b + 1;
			break;
		}
		case 't':
			if (n - i < 4 || memcmp(s + i, "true", 4) != 0)
				return -1;
			i += 4;
			break;
		case 'f':
			if (n - i < 5 || memcmp(s + i, "false", 5) != 0)
				return -1;
			i += 5;
			break;
		case 'n':
			if (n - i < 4 || memcmp(s + i, "null", 4) != 0)
				return -1;
			i += 4;
			break;
		default: {
			size_t e = number_end(s, n, i);

			if (e == 0)
				return -1;
			put_number(w, L, i, e);
			i = e;
			break;
		}
		}
		/* After a complete value: close containers, or go on to the next member. */
		for (;;) {
			while (i < n && is_ws(s[i]))
				i++;
			if (depth == 0)
				return i == n ? 0 : -1;
			if (i >= n)
				return -1;
			if (s[i] == ',') {
				i++;
				want_key = stack[depth - 1] == IN_OBJECT;
				break;
			}
			if (s[i] != (stack[depth - 1] == IN_OBJECT ? '}' : ']'))
				return -1;
			depth--;
			i++;
		}
	}
}

/* ---- base64 runs ---------------------------------------------------------------- */

static const unsigned char *
b64_class(void)
{
	static unsigned char t[256];
	static bool ready;

	if (!ready) {
		for (int c = 0; c < 256; c++)
			t[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' ||
			    c == '-' || c == '_';
		ready = true;
	}
	return t;
}

/*
 * Every run of >= JW_B64_MIN base64 characters.  Any such run contains a
 * position that is a multiple of JW_B64_MIN after the previous run, so
 * only those positions are probed; a probe that hits expands to the whole
 * run.  Prose costs a few byte tests per JW_B64_MIN bytes.
 */
static void
find_b64(struct jwalk *w, const unsigned char *t, size_t n)
{
	const unsigned char *cls = b64_class();
	size_t floor = 0, i = JW_B64_MIN - 1;

	while (i < n) {
		size_t a = i, b = i + 1;

		if (!cls[t[i]]) {
			i += JW_B64_MIN;
			continue;
		}
		while (a > floor && cls[t[a - 1]])
			a--;
		while (b < n && cls[t[b]])
			b++;
		if (b - a >= JW_B64_MIN) {
			struct jw_hole h = { a, b - a };

			VEC_PUSH(w->holes, h);
		}
		floor = b;
		i = b + JW_B64_MIN;
	}
}

/* ---- the interface -------------------------------------------------------------- */

struct jwalk *
jwalk_new(void)
{
	return xcalloc(1, sizeof(struct jwalk));
}

void
jwalk_free(struct jwalk *w)
{
	if (!w)
		return;
	free(w->text);
	free(w->pieces.v);
	free(w->parents.v);
	free(w->cks.v);
	free(w->nums.v);
	free(w->holes.v);
	arena_release(w);
	free(w);
}

#define KEEP_TEXT (16u << 20)	/* a larger text buffer is not kept for the next, smaller body */
#define KEEP_ENTRIES (1u << 16)	/* nor are larger tables */

#define VEC_TRIM(vec) do {					\
	if ((vec).cap > KEEP_ENTRIES) {				\
		free((vec).v);					\
		(vec).v = NULL;					\
		(vec).cap = 0;					\
	}							\
	(vec).n = 0;						\
} while (0)

/* Forget the previous walk; one huge body does not pin its memory for the rest of the run. */
static void
reset(struct jwalk *w, size_t next_len)
{
	VEC_TRIM(w->pieces);
	VEC_TRIM(w->parents);
	VEC_TRIM(w->cks);
	VEC_TRIM(w->nums);
	VEC_TRIM(w->holes);
	w->nested = 0;
	arena_release(w);
	if (w->text_cap > KEEP_TEXT && next_len <= KEEP_TEXT) {
		free(w->text);
		w->text = NULL;
		w->text_cap = 0;
	}
}

/* Only a body that starts like a container or a string is tried as JSON: prose is not parsed at all. */
static bool
worth_parsing(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n && is_ws(s[i]))
		i++;
	return i < n && (s[i] == '{' || s[i] == '[' || s[i] == '"');
}

int
jwalk_run(struct jwalk *w, const void *body, size_t len, struct jwalk_view *v)
{
	struct level top = { body, len, 0, -1, 0 };

	reset(w, len);
	w->body = body;
	w->len = len;
	w->json = false;
	memset(v, 0, sizeof(*v));
	if (len > JW_MAX_BODY)
		return -1;
	if (worth_parsing(body, len)) {
		if (w->text_cap < len) {
			free(w->text);
			w->text = xmalloc(len);
			w->text_cap = len;
		}
		memset(w->text, 0, len);
		w->arena_budget = 2 * len + ARENA_CHUNK;
		w->json = walk(w, &top) == 0;
		if (!w->json)
			reset(w, len);
	}
	v->text = w->json ? (const char *)w->text : (const char *)body;
	v->len = len;
	v->json = w->json;
	find_b64(w, (const unsigned char *)v->text, len);
	v->holes = w->holes.v;
	v->nholes = w->holes.n;
	return 0;
}

void
jwalk_stats(const struct jwalk *w, struct jwalk_stats *st)
{
	size_t esc = 0, nestedp = 0;

	for (size_t i = 0; i < w->pieces.n; i++) {
		if (w->pieces.v[i].nck)
			esc++;
		if (w->pieces.v[i].parent >= 0)
			nestedp++;
	}
	st->escaped = esc;
	st->nested = w->nested;
	st->nested_pieces = nestedp;
}
