/*
 * The built-in classifier (classify.h): the JSON walker produces the scan
 * text, the detectors report hits on it, and this file turns hits into
 * the answer -- overlaps resolved, spans mapped to the raw body,
 * placeholders numbered, the tier taken.
 *
 * Overlaps.  Hits may overlap (a card number inside an IBAN-shaped run, an
 * opaque base64 run inside a PEM key).  The kept hit is the one with the
 * higher tier, then the longer one, then the earlier one; the tier of the
 * body is the highest of *all* hits, so resolution can never lower it.
 *
 * Caps.  A body can hold more findings than a reply may carry
 * (GUARD_MAX_FINDINGS).  Hits past 4x that are not kept, findings past it
 * are not reported, but every hit still counts for the tier: the answer
 * may be incomplete, never too low.  Missing redactions are safe too: the
 * router classifies the redacted body again before sending it.
 */
#include "classify.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"
#include "detect.h"
#include "jsonwalk.h"

#define MAX_HITS (4 * GUARD_MAX_FINDINGS)
#define MAX_CUSTOM 1024
#define MAX_TERMS 10000
#define MAX_RULE_TEXT 1024

struct classify_rules {
	struct detect *det;
	struct jwalk *walk;
};

struct cand {
	size_t s, e;		/* scan text */
	unsigned type;
	const char *validator;
};

struct collect {
	const struct detect *det;
	struct cand *v;
	size_t n, cap;
	enum tier tier;
};

struct classify_rules *
classify_rules_new(const struct classify_config *cfg, struct werr *err)
{
	struct classify_rules *r = xcalloc(1, sizeof(*r));

	r->det = detect_new(cfg, err);
	if (!r->det) {
		free(r);
		return NULL;
	}
	r->walk = jwalk_new();
	return r;
}

void
classify_rules_free(struct classify_rules *r)
{
	if (!r)
		return;
	detect_free(r->det);
	jwalk_free(r->walk);
	free(r);
}

void
classify_result_free(struct classify_result *res)
{
	free(res->findings);
	free(res->redactions);
	memset(res, 0, sizeof(*res));
}

/* ---- hits -------------------------------------------------------------------- */

static void
add_cand(struct collect *c, size_t s, size_t e, unsigned type, const char *validator)
{
	c->tier = tier_max(c->tier, detect_type(c->det, type)->tier);
	if (c->n >= MAX_HITS)
		return;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n].s = s;
	c->v[c->n].e = e;
	c->v[c->n].type = type;
	c->v[c->n].validator = validator;
	c->n++;
}

static int
on_hit(void *arg, const struct det_hit *h)
{
	struct collect *c = arg;

	add_cand(c, h->start, h->end, h->type, h->validator);
	/* Nothing more to learn once the list is full and the tier is the highest. */
	return c->n >= MAX_HITS && c->tier == TIER_RESTRICTED;
}

static int
cand_order(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	if (x->e != y->e)
		return x->e > y->e ? -1 : 1;
	return x->type < y->type ? -1 : x->type > y->type;
}

/* Higher tier, then longer, then earlier (the order above). */
static bool
better(const struct detect *d, const struct cand *x, const struct cand *y)
{
	enum tier tx = detect_type(d, x->type)->tier, ty = detect_type(d, y->type)->tier;

	if (tx != ty)
		return tx > ty;
	if (x->e - x->s != y->e - y->s)
		return x->e - x->s > y->e - y->s;
	return cand_order(x, y) < 0;
}

/* Sort, then keep a non-overlapping subset, sweeping left to right. */
static size_t
resolve(const struct detect *d, struct cand *v, size_t n)
{
	size_t k = 0;

	if (n > 1)
		qsort(v, n, sizeof(*v), cand_order);
	for (size_t i = 0; i < n; i++) {
		if (k == 0 || v[i].s >= v[k - 1].e)
			v[k++] = v[i];
		else if (better(d, &v[i], &v[k - 1]))
			v[k - 1] = v[i];
	}
	return k;
}

/* ---- placeholders ----------------------------------------------------------------- */

static uint64_t
fnv1a(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* "[TYPE_N]": the type upper-cased, anything but letters and digits as '_', cut to fit. */
static void
make_placeholder(char *out, const char *type, unsigned n)
{
	char num[16];
	size_t k = 0, room;

	snprintf(num, sizeof(num), "_%u]", n);
	room = GUARD_PLACEHOLDER_MAX - 1 - strlen(num);
	out[k++] = '[';
	for (const char *p = type; *p && k <= room; p++) {
		char ch = *p;

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		else if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
			ch = '_';
		out[k++] = ch;
	}
	memcpy(out + k, num, strlen(num) + 1);
}

struct ph_seen {
	unsigned type;
	uint64_t hash;
	size_t s, e;		/* scan text, to compare the values */
	size_t red;		/* its redaction */
};

/*
 * One redaction per finding (not for opaque runs, not inside JSON numbers
 * where a placeholder would break the JSON), numbered per type in order of
 * appearance; equal values of one type share their placeholder.
 */
static void
make_redactions(const struct detect *d, const struct jwalk *w, const char *text,
    const struct cand *v, size_t n, struct classify_result *res)
{
	unsigned *count = xcalloc(detect_ntypes(d), sizeof(*count));
	struct ph_seen *seen = xcalloc(n ? n : 1, sizeof(*seen));
	size_t nseen = 0;

	res->redactions = xcalloc(n ? n : 1, sizeof(*res->redactions));
	for (size_t i = 0; i < n; i++) {
		const struct guard_finding *f = &res->findings[i];
		struct guard_redaction *r;
		uint64_t h;
		size_t j;

		if (v[i].type == DT_OPAQUE || jwalk_in_number(w, v[i].s))
			continue;
		r = &res->redactions[res->nredactions++];
		r->start = f->start;
		r->end = f->end;
		h = fnv1a(text + v[i].s, v[i].e - v[i].s);
		for (j = 0; j < nseen; j++) {
			const struct ph_seen *p = &seen[j];

			if (p->type == v[i].type && p->hash == h && p->e - p->s == v[i].e - v[i].s &&
			    memcmp(text + p->s, text + v[i].s, v[i].e - v[i].s) == 0)
				break;
		}
		if (j < nseen) {
			memcpy(r->placeholder, res->redactions[seen[j].red].placeholder,
			    sizeof(r->placeholder));
			continue;
		}
		make_placeholder(r->placeholder, detect_type(d, v[i].type)->type, ++count[v[i].type]);
		seen[nseen++] = (struct ph_seen){ v[i].type, h, v[i].s, v[i].e, res->nredactions - 1 };
	}
	free(seen);
	free(count);
}

/* ---- classifying ------------------------------------------------------------------ */

int
classify_body(struct classify_rules *r, const void *body, size_t len,
    struct classify_result *res, struct werr *err)
{
	struct jwalk_view view;
	struct collect c = { 0 };
	size_t n, k = 0;

	memset(res, 0, sizeof(*res));
	if (jwalk_run(r->walk, body, len, &view) < 0)
		return werr_set(err, "body of %zu bytes is larger than the classifier reads (%zu)",
		    len, (size_t)JW_MAX_BODY);
	c.det = r->det;
	if (detect_scan(r->det, view.text, view.len, view.holes, view.nholes, on_hit, &c, err) < 0) {
		free(c.v);
		return -1;
	}
	for (size_t i = 0; i < view.nholes; i++)
		add_cand(&c, view.holes[i].off, view.holes[i].off + view.holes[i].len, DT_OPAQUE,
		    "base64");
	n = resolve(r->det, c.v, c.n);
	if (n > GUARD_MAX_FINDINGS)
		n = GUARD_MAX_FINDINGS;
	res->findings = xcalloc(n ? n : 1, sizeof(*res->findings));
	for (size_t i = 0; i < n; i++) {
		const struct det_type *t = detect_type(r->det, c.v[i].type);
		struct guard_finding *f = &res->findings[k];
		size_t rs, re;

		jwalk_span(r->walk, c.v[i].s, c.v[i].e, &rs, &re);
		/* Widening to whole escapes can make neighbours touch the same bytes. */
		if (k > 0 && rs < res->findings[k - 1].end) {
			if (!better(r->det, &c.v[i], &c.v[k - 1]))
				continue;
			k--;
			f = &res->findings[k];
		}
		memset(f, 0, sizeof(*f));
		snprintf(f->type, sizeof(f->type), "%s", t->type);
		snprintf(f->cls, sizeof(f->cls), "%s", t->cls);
		snprintf(f->validator, sizeof(f->validator), "%s", c.v[i].validator);
		f->tier = t->tier;
		f->start = rs;
		f->end = re;
		c.v[k] = c.v[i];
		k++;
	}
	res->nfindings = k;
	res->tier = c.tier;
	make_redactions(r->det, r->walk, view.text, c.v, k, res);
	free(c.v);
	return 0;
}

/* ---- rules file ---------------------------------------------------------------------- */

/* Everything a loaded config points into, freed together. */
struct cfg_storage {
	struct classify_custom *custom;
	size_t n;
};

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-'))
			return false;
	}
	return true;
}

static int
get_tier(json_t *v, const char *what, enum tier *out, struct werr *err)
{
	const char *s = json_string_value(v);

	if (!s || tier_parse(s, strlen(s), out) < 0)
		return werr_set(err, "%s: expected one of public, internal, confidential, restricted",
		    what);
	return 0;
}

static int
load_terms(json_t *arr, struct classify_custom *cu, struct werr *err)
{
	size_t n = json_array_size(arr);
	const char **terms;

	if (!json_is_array(arr) || n == 0 || n > MAX_TERMS)
		return werr_set(err, "custom rule %s: \"terms\" must be a list of 1 to %d strings",
		    cu->name, MAX_TERMS);
	terms = xcalloc(n, sizeof(*terms));
	cu->terms = terms;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		if (!s || !*s || strlen(s) > MAX_RULE_TEXT)
			return werr_set(err, "custom rule %s: term %zu must be a non-empty string of at "
			    "most %d bytes", cu->name, i + 1, MAX_RULE_TEXT);
		terms[i] = xstrdup(s);
		cu->nterms = i + 1;
	}
	return 0;
}

static int
load_custom(json_t *o, size_t idx, struct classify_custom *cu, struct werr *err)
{
	const char *key, *name;
	json_t *v, *terms, *pattern;

	if (!json_is_object(o))
		return werr_set(err, "custom rule %zu: expected an object", idx + 1);
	json_object_foreach(o, key, v) {
		if (strcmp(key, "name") && strcmp(key, "terms") && strcmp(key, "pattern") &&
		    strcmp(key, "tier"))
			return werr_set(err, "custom rule %zu: unknown key \"%s\" (expected name, "
			    "terms or pattern, tier)", idx + 1, key);
	}
	name = json_string_value(json_object_get(o, "name"));
	if (!name || !name_ok(name))
		return werr_set(err, "custom rule %zu: \"name\" must be 1-63 letters, digits, '_' "
		    "or '-'", idx + 1);
	cu->name = xstrdup(name);
	if (get_tier(json_object_get(o, "tier"), cu->name, &cu->tier, err) < 0) {
		werr_prefix(err, "custom rule");
		return -1;
	}
	terms = json_object_get(o, "terms");
	pattern = json_object_get(o, "pattern");
	if (!terms == !pattern)
		return werr_set(err, "custom rule %s: give either \"terms\" or \"pattern\"", cu->name);
	if (terms)
		return load_terms(terms, cu, err);
	if (!json_string_value(pattern) || !*json_string_value(pattern) ||
	    strlen(json_string_value(pattern)) > MAX_RULE_TEXT)
		return werr_set(err, "custom rule %s: \"pattern\" must be a non-empty string of at "
		    "most %d bytes", cu->name, MAX_RULE_TEXT);
	cu->pattern = xstrdup(json_string_value(pattern));
	return 0;
}

static int
load_config(json_t *root, struct classify_config *cfg, struct cfg_storage *st, struct werr *err)
{
	const char *key;
	json_t *v, *custom;

	if (!json_is_object(root))
		return werr_set(err, "expected a JSON object");
	json_object_foreach(root, key, v) {
		if (strcmp(key, "base64_min_tier") && strcmp(key, "custom"))
			return werr_set(err, "unknown key \"%s\" (expected base64_min_tier, custom)", key);
	}
	cfg->base64_min_tier = TIER_INTERNAL;
	if ((v = json_object_get(root, "base64_min_tier")) &&
	    get_tier(v, "base64_min_tier", &cfg->base64_min_tier, err) < 0)
		return -1;
	custom = json_object_get(root, "custom");
	if (!custom)
		return 0;
	if (!json_is_array(custom) || json_array_size(custom) > MAX_CUSTOM)
		return werr_set(err, "\"custom\" must be a list of at most %d rules", MAX_CUSTOM);
	st->custom = xcalloc(json_array_size(custom) + 1, sizeof(*st->custom));
	for (size_t i = 0; i < json_array_size(custom); i++) {
		st->n = i + 1;
		if (load_custom(json_array_get(custom, i), i, &st->custom[i], err) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(st->custom[j].name, st->custom[i].name) == 0)
				return werr_set(err, "custom rule %s: the name is used twice",
				    st->custom[i].name);
		}
	}
	cfg->custom = st->custom;
	cfg->ncustom = st->n;
	return 0;
}

int
classify_config_load(const char *text, size_t len, struct classify_config *cfg, void **storage,
    struct werr *err)
{
	struct cfg_storage *st = xcalloc(1, sizeof(*st));
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->base64_min_tier = TIER_INTERNAL;
	*storage = NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		free(st);
		return werr_set(err, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
	}
	rc = load_config(root, cfg, st, err);
	json_decref(root);
	if (rc < 0) {
		classify_config_free(cfg, st);
		return -1;
	}
	*storage = st;
	return 0;
}

void
classify_config_free(struct classify_config *cfg, void *storage)
{
	struct cfg_storage *st = storage;

	if (st) {
		for (size_t i = 0; i < st->n; i++) {
			struct classify_custom *cu = &st->custom[i];

			for (size_t k = 0; k < cu->nterms; k++)
				free((char *)cu->terms[k]);
			free((void *)cu->terms);
			free((char *)cu->name);
			free((char *)cu->pattern);
		}
		free(st->custom);
		free(st);
	}
	if (cfg)
		memset(cfg, 0, sizeof(*cfg));
}
