/*
 * Path glob matching without recursion.
 *
 * A glob is matched at two levels.  The path is a sequence of
 * '/'-separated segments and the pattern a sequence of segment patterns,
 * of which a segment that is exactly "**" matches any run of whole
 * segments; inside one segment '*' matches any run of bytes.  Both levels
 * are the same problem -- a pattern of "stars" and "single items" against
 * a sequence -- and both use the classic greedy algorithm: remember the
 * last star seen; on a mismatch let that star absorb one more item and
 * resume just after it.  Forgetting earlier stars is sound because a later
 * star can absorb anything an earlier one could have, so each (pattern
 * item, subject item) pair is compared at most once per star and the whole
 * match costs O(len(pattern) * len(path)).  fnmatch(3) and naive recursive
 * matchers are exponential on "*a*a*a*a*b"; this is not.
 */
#include "glob.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

struct cclass {
	const char *name;
	int (*fn)(int);
};

static const struct cclass cclasses[] = {
	{ "alnum", isalnum }, { "alpha", isalpha }, { "digit", isdigit },
	{ "lower", islower }, { "upper", isupper }, { "space", isspace },
	{ "xdigit", isxdigit }, { "punct", ispunct },
};

/* "[:name:]" at q (q < pe, *q == '['): the class, and *after past "]". */
static const struct cclass *
cclass_at(const char *q, const char *pe, const char **after)
{
	const char *name = q + 2, *e;

	if (pe - q < 4 || q[1] != ':')
		return NULL;
	for (e = name; e + 1 < pe; e++) {
		if (e[0] == ':' && e[1] == ']') {
			for (size_t i = 0; i < sizeof(cclasses) / sizeof(cclasses[0]); i++) {
				if (strlen(cclasses[i].name) == (size_t)(e - name) &&
				    memcmp(cclasses[i].name, name, (size_t)(e - name)) == 0) {
					*after = e + 2;
					return &cclasses[i];
				}
			}
			return NULL;
		}
	}
	return NULL;
}

/*
 * Walk the bracket expression starting at p ('[') within [p, pe).  With
 * c >= 0, report whether byte c is in the set.  Returns a pointer past the
 * closing ']', or NULL when the bracket is not closed in this segment (the
 * '[' is then a literal).
 */
static const char *
bracket(const char *p, const char *pe, int c, bool *hit)
{
	const char *q = p + 1, *after;
	const struct cclass *cc;
	bool neg = false, first = true, in = false;

	if (q < pe && (*q == '!' || *q == '^')) {
		neg = true;
		q++;
	}
	for (;;) {
		unsigned char lo, hi;

		if (q >= pe)
			return NULL;
		if (*q == ']' && !first)
			break;
		first = false;
		if (*q == '[' && (cc = cclass_at(q, pe, &after))) {
			if (c >= 0 && cc->fn(c))
				in = true;
			q = after;
			continue;
		}
		if (*q == '\\' && q + 1 < pe)
			q++;
		lo = (unsigned char)*q++;
		hi = lo;
		if (q + 1 < pe && *q == '-' && q[1] != ']') {
			q++;
			if (*q == '\\' && q + 1 < pe)
				q++;
			hi = (unsigned char)*q++;
		}
		if (c >= lo && c <= hi)
			in = true;
	}
	*hit = in != neg;
	return q + 1;
}

/*
 * Does the single-byte item at p (not '*') match c?  *next is set past
 * the item either way.
 */
static bool
item_match(const char *p, const char *pe, unsigned char c, const char **next)
{
	const char *end;
	bool hit = false;

	switch (*p) {
	case '?':
		*next = p + 1;
		return true;
	case '[':
		if ((end = bracket(p, pe, c, &hit))) {
			*next = end;
			return hit;
		}
		break;
	case '\\':
		if (p + 1 < pe) {
			*next = p + 2;
			return (unsigned char)p[1] == c;
		}
		break;
	}
	*next = p + 1;
	return (unsigned char)*p == c;
}

/* One segment pattern [p, pe) against one path segment [s, se). */
static bool
segment_match(const char *p, const char *pe, const char *s, const char *se)
{
	const char *star = NULL, *star_s = NULL, *next;

	while (s < se) {
		if (p < pe && *p == '*') {
			while (p < pe && *p == '*')
				p++;
			star = p;
			star_s = s;
			continue;
		}
		if (p < pe && item_match(p, pe, (unsigned char)*s, &next)) {
			p = next;
			s++;
			continue;
		}
		if (!star)
			return false;
		p = star;
		s = ++star_s;
	}
	while (p < pe && *p == '*')
		p++;
	return p == pe;
}

static const char *
seg_end(const char *s)
{
	return strchrnul(s, '/');
}

/* Start of the segment after the one at s, or NULL after the last. */
static const char *
seg_next(const char *s)
{
	const char *e = seg_end(s);

	return *e ? e + 1 : NULL;
}

static bool
is_dstar(const char *p)
{
	return p[0] == '*' && p[1] == '*' && (p[2] == '/' || p[2] == '\0');
}

bool
glob_match_path(const char *pattern, const char *path)
{
	const char *p = pattern, *s = path;
	const char *star = NULL, *star_s = NULL;
	bool have_star = false;

	if (!pattern || !path)
		return false;
	/* p and s point at the start of a segment, or are NULL when used up. */
	while (s) {
		if (p && is_dstar(p)) {
			have_star = true;
			star = p = seg_next(p);
			star_s = s;
			continue;
		}
		if (p && segment_match(p, seg_end(p), s, seg_end(s))) {
			p = seg_next(p);
			s = seg_next(s);
			continue;
		}
		if (!have_star)
			return false;
		/* The last '**' takes one more segment; retry what follows it. */
		p = star;
		s = star_s = seg_next(star_s);
	}
	while (p && is_dstar(p))
		p = seg_next(p);
	return p == NULL;
}
