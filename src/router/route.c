/*
 * Routing decisions of the privacy router.  Pure functions of the policy
 * and the request, so every rule here is unit-tested without a network.
 */
#include "route.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../lib/util.h"

static bool
path_is(const char *path, size_t len, const char *want)
{
	size_t n = strlen(want);

	/* A trailing slash is the same resource to every provider's router. */
	if (len == n + 1 && path[n] == '/')
		len = n;
	return len == n && memcmp(path, want, n) == 0;
}

enum infer_api
infer_api_of(const char *path, size_t len, enum infer_format *fmt)
{
	const char *q = memchr(path, '?', len);

	if (q)
		len = (size_t)(q - path);
	if (path_is(path, len, "/v1/messages")) {
		*fmt = INFER_ANTHROPIC;
		return INFER_API_MESSAGES;
	}
	if (path_is(path, len, "/v1/chat/completions")) {
		*fmt = INFER_OPENAI;
		return INFER_API_CHAT;
	}
	if (path_is(path, len, "/v1/responses")) {
		*fmt = INFER_OPENAI;
		return INFER_API_RESPONSES;
	}
	return INFER_API_NONE;
}

const char *
infer_api_name(enum infer_api a)
{
	switch (a) {
	case INFER_API_MESSAGES:
		return "messages";
	case INFER_API_CHAT:
		return "chat.completions";
	case INFER_API_RESPONSES:
		return "responses";
	case INFER_API_NONE:
		break;
	}
	return "none";
}

int
infer_label_parse(const char *v, size_t n, enum tier *out)
{
	char buf[32];
	size_t k = 0;

	while (n && isspace((unsigned char)*v)) {
		v++;
		n--;
	}
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	for (; k < n; k++)
		buf[k] = (char)tolower((unsigned char)v[k]);
	return tier_parse(buf, n, out);
}

/*
 * What a body says about itself is read with a scanner of the top-level
 * object rather than a JSON library: only three members matter, and
 * building a tree of a multi-megabyte prompt on every request was a third
 * of the router's own CPU.  The scanner skips every other value without
 * decoding it, refuses nesting deeper than SCAN_DEPTH, and believes
 * nothing of a body with a repeated "model", "stream" or "metadata" (a
 * provider reads one of them, and which one is not guessed at).  A body
 * it cannot read says nothing; the classifiers read the whole body anyway.
 */
#define SCAN_DEPTH 256

struct scan {
	const unsigned char *p, *end;
};

static void
ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Skip the bytes of a string that need no attention -- anything but a
 * quote, a backslash or a control character -- eight at a time: the
 * prompt is nearly all of a body and nearly all plain text, and a byte
 * at a time this was most of the scanner's cost.  Stops at (not past)
 * the first byte that needs a look, or where fewer than eight remain.
 */
static void
plain_run(struct scan *s)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

	while (s->end - s->p >= 8) {
		uint64_t w, q, b;

		memcpy(&w, s->p, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		/* A byte is flagged when it is zero in q or b, or below 0x20 in w. */
		if ((((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs)
			return;
		s->p += 8;
	}
}

/*
 * A string at s->p (the opening quote).  Decoded into out (cap bytes,
 * NUL-terminated) when out is set; *fits says whether it all fitted.
 */
static bool
str(struct scan *s, char *out, size_t cap, bool *fits)
{
	size_t n = 0;

	if (fits)
		*fits = true;
	if (s->p >= s->end || *s->p != '"')
		return false;
	s->p++;
	while (s->p < s->end) {
		unsigned char c;

		if (!out)
			plain_run(s);
		if (s->p >= s->end)
			break;
		c = *s->p++;
		unsigned v = c;

		if (c == '"') {
			if (out)
				out[n] = '\0';
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (s->p >= s->end)
				return false;
			c = *s->p++;
			switch (c) {
			case '"': case '\\': case '/': v = c; break;
			case 'b': v = '\b'; break;
			case 'f': v = '\f'; break;
			case 'n': v = '\n'; break;
			case 'r': v = '\r'; break;
			case 't': v = '\t'; break;
			case 'u':
				if (s->end - s->p < 4)
					return false;
				v = 0;
				for (int i = 0; i < 4; i++) {
					int h = hexval(*s->p++);
					if (h < 0)
						return false;
					v = v << 4 | (unsigned)h;
				}
				/* Only ASCII is ever compared; anything else is kept as '?'. */
				if (v >= 0x80 || v == 0)
					v = '?';
				break;
			default:
				return false;
			}
		}
		if (out) {
			if (n + 1 < cap)
				out[n++] = (char)v;
			else if (fits)
				*fits = false;
		}
	}
	return false;
}

/* Skip one value of any kind. */
static bool
skip(struct scan *s)
{
	int depth = 0;

	ws(s);
	do {
		if (s->p >= s->end)
			return false;
		switch (*s->p) {
		case '"':
			if (!str(s, NULL, 0, NULL))
				return false;
			break;
		case '{': case '[':
			if (++depth > SCAN_DEPTH)
				return false;
			s->p++;
			break;
		case '}': case ']':
			if (--depth < 0)
				return false;
			s->p++;
			break;
		case ',': case ':':
			if (depth == 0)
				return false;
			s->p++;
			break;
		default:
			if (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r') {
				s->p++;
				break;
			}
			/* A number or literal: its characters up to a delimiter. */
			if (!strchr("-0123456789tfnrueals.E+", *s->p))
				return false;
			while (s->p < s->end && strchr("-0123456789tfnrueals.E+", *s->p))
				s->p++;
			break;
		}
	} while (depth > 0);
	return true;
}

static bool
literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* The members of metadata: only "sensitivity" is looked at. */
static bool
metadata(struct scan *s, struct infer_info *out)
{
	char key[32], val[32];
	bool fits, seen = false;

	if (s->p >= s->end || *s->p != '{')
		return skip(s);
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return true;
	}
	for (;;) {
		ws(s);
		if (!str(s, key, sizeof(key), &fits))
			return false;
		ws(s);
		if (s->p >= s->end || *s->p++ != ':')
			return false;
		ws(s);
		if (fits && strcmp(key, "sensitivity") == 0) {
			if (seen)
				return false;
			seen = true;
			if (s->p < s->end && *s->p == '"') {
				if (!str(s, val, sizeof(val), &fits))
					return false;
				if (fits && infer_label_parse(val, strlen(val), &out->label) == 0)
					out->has_label = true;
			} else if (!skip(s)) {
				return false;
			}
		} else if (!skip(s)) {
			return false;
		}
		ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == '}') {
			s->p++;
			return true;
		}
		if (*s->p++ != ',')
			return false;
	}
}

void
infer_inspect_body(const void *body, size_t len, struct infer_info *out)
{
	struct scan s = { body, (const unsigned char *)body + len };
	bool seen_model = false, seen_stream = false, seen_meta = false, fits;
	char key[32];

	memset(out, 0, sizeof(*out));
	ws(&s);
	if (s.p >= s.end || *s.p++ != '{')
		goto bad;
	ws(&s);
	if (s.p < s.end && *s.p == '}') {
		s.p++;
		goto end;
	}
	for (;;) {
		ws(&s);
		if (!str(&s, key, sizeof(key), &fits))
			goto bad;
		ws(&s);
		if (s.p >= s.end || *s.p++ != ':')
			goto bad;
		ws(&s);
		if (fits && strcmp(key, "model") == 0) {
			if (seen_model)
				goto bad;
			seen_model = true;
			if (s.p < s.end && *s.p == '"') {
				if (!str(&s, out->model, sizeof(out->model), &fits))
					goto bad;
				if (!fits)
					out->model[0] = '\0';	/* longer than any model name */
			} else if (!skip(&s)) {
				goto bad;
			}
		} else if (fits && strcmp(key, "stream") == 0) {
			if (seen_stream)
				goto bad;
			seen_stream = true;
			if (literal(&s, "true"))
				out->stream = true;
			else if (!skip(&s))
				goto bad;
		} else if (fits && strcmp(key, "metadata") == 0) {
			if (seen_meta)
				goto bad;
			seen_meta = true;
			if (!metadata(&s, out))
				goto bad;
		} else if (!skip(&s)) {
			goto bad;
		}
		ws(&s);
		if (s.p >= s.end)
			goto bad;
		if (*s.p == '}') {
			s.p++;
			break;
		}
		if (*s.p++ != ',')
			goto bad;
	}
end:
	ws(&s);
	if (s.p != s.end)
		goto bad;
	out->json = true;
	return;
bad:
	memset(out, 0, sizeof(*out));
}

static bool
model_matches(const struct infer_route *r, const char *model)
{
	for (size_t i = 0; i < r->models.n; i++)
		if (fnmatch(r->models.v[i], model, 0) == 0)
			return true;
	return false;
}

static const struct infer_provider *
provider_named(const struct inference *inf, const char *name)
{
	for (size_t i = 0; i < inf->nproviders; i++)
		if (strcmp(inf->providers[i].name, name) == 0)
			return &inf->providers[i];
	return NULL;
}

size_t
infer_candidates(const struct inference *inf, enum infer_format fmt, const char *model,
    const struct infer_provider **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < inf->nroutes; i++) {
		const struct infer_route *r = &inf->routes[i];

		if (!model_matches(r, model))
			continue;
		for (size_t j = 0; j < r->providers.n && n < max; j++) {
			const struct infer_provider *p = provider_named(inf, r->providers.v[j]);
			if (p && p->format == fmt)
				out[n++] = p;
		}
		break;
	}
	return n;
}

const struct infer_provider *
infer_choose(const struct infer_provider *const *cand, size_t n, enum tier tier)
{
	for (size_t i = 0; i < n; i++)
		if (cand[i]->max_tier >= tier)
			return cand[i];
	return NULL;
}

const struct infer_provider *
infer_provider_at(const struct inference *inf, const char *host, uint16_t port)
{
	if (!inf->present)
		return NULL;
	for (size_t i = 0; i < inf->nproviders; i++)
		if (inf->providers[i].port == port && strcmp(inf->providers[i].host, host) == 0)
			return &inf->providers[i];
	return NULL;
}

char *
infer_upstream_path(const struct infer_provider *p, const char *path, size_t len)
{
	const char *base = p->base_path ? p->base_path : "";

	if (p->format == INFER_OPENAI && len >= 3 && memcmp(path, "/v1", 3) == 0 &&
	    (len == 3 || path[3] == '/' || path[3] == '?')) {
		path += 3;
		len -= 3;
	}
	return xasprintf("%s%.*s", base, (int)len, path);
}
