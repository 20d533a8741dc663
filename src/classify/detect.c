/*
 * The built-in detectors (detect.h): the pattern table, the Vectorscan
 * database, the scan loop, and custom rules.  The extractors live in
 * detect_secret.c, detect_ident.c and detect_health.c (detect_int.h).
 *
 * Patterns are triggers.  Every built-in pattern is a literal (a token
 * prefix, a keyword, a vocabulary term), or "two digits"; an extractor
 * reads the candidate around the match and decides, so a pattern never
 * has to be exact, and none trusts its pattern beyond "this ends here".
 * Keeping the database to literals is what keeps Vectorscan at GB/s on
 * prose: patterns with separator classes ("[0-9]{3}[ .-][0-9]{3}") made
 * it search for spaces and dots, which prose is made of.
 *
 * Extractors that fire many times inside one candidate (every digit pair
 * of a long number, the payload of a JWT, which starts with "eyJ" too)
 * remember how far they have read (`done`) and return at once for matches
 * inside it; Vectorscan reports matches in order of their end, so that is
 * exact.
 *
 * Context windows (an AWS secret key near its key id, an SSN after "SSN",
 * an undotted ICD-10 code near "diagnosis", a number near "resting heart
 * rate") may cross from one JSON string into the next: {"ssn": "..."}
 * puts the keyword and the value in different strings, and the NUL bytes
 * between them in the scan text are just bytes here.  Token extents never
 * cross a NUL.
 */
#include <hs/hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"
#include "detect_int.h"
#include "health_terms.h"

struct builtin_pat {
	const char *re;
	unsigned flags;
	struct pat_meta m;
};

#define CI HS_FLAG_CASELESS
/* ex, type, width (the match's length), minlen, charset, unit */
#define P(re, flags, ...) { re, flags, { __VA_ARGS__ } }

static const struct builtin_pat builtin[] = {
	P("-----BEGIN ", 0, EX_PEM, DT_PRIVATE_KEY, 11),
	P("AKIA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4), P("ASIA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4),
	P("ABIA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4), P("ACCA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4),
	P("AGPA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4), P("AIDA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4),
	P("AIPA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4), P("ANPA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4),
	P("ANVA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4), P("AROA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4),
	P("APKA", 0, EX_AWS_ID, DT_AWS_ACCESS_KEY, 4),
	P("aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key", CI, EX_AWS_CTX,
	    DT_AWS_SECRET_KEY, 0),
	P("AIza", 0, EX_FIXED, DT_GOOGLE_API_KEY, 4, 39, CS_TOKEN),
	P("gh[pousr]_", 0, EX_FIXED, DT_GITHUB, 4, 40, CS_ALNUM),
	P("github_pat_", 0, EX_FIXED, DT_GITHUB, 11, 93, CS_TOKEN),
	P("sk-ant-", 0, EX_PREFIX, DT_ANTHROPIC_KEY, 7, 40, CS_TOKEN),
	P("sk-", 0, EX_PREFIX, DT_OPENAI_KEY, 3, 35, CS_TOKEN),
	P("xox[abposr]-", 0, EX_PREFIX, DT_SLACK_TOKEN, 5, 24, CS_SLACK),
	P("xapp-", 0, EX_PREFIX, DT_SLACK_TOKEN, 5, 30, CS_SLACK),
	P("[rs]k_live_", 0, EX_PREFIX, DT_STRIPE_KEY, 8, 28, CS_ALNUM),
	P("hooks\\.slack\\.com/services/", 0, EX_SLACK_HOOK, DT_SLACK_WEBHOOK, 25),
	P("eyJ", 0, EX_JWT, DT_JWT, 3),
	P("[0-9][0-9]", 0, EX_DIGITS, DT_PAYMENT_CARD, 2),
	P("@", 0, EX_EMAIL, DT_EMAIL, 1),
	P("ssn", CI, EX_SSN_CTX, DT_US_SSN, 3),
	P("social security", CI, EX_SSN_CTX, DT_US_SSN, 15),
	P("icd", CI, EX_ICD_CTX, DT_ICD10, 3, 0, 0, true),
	P("diagnos", CI, EX_ICD_CTX, DT_ICD10, 7),
	P("dx", CI, EX_ICD_CTX, DT_ICD10, 2, 0, 0, true),
};

static const struct det_type builtin_types[DT_BUILTIN_COUNT] = {
	[DT_PRIVATE_KEY] = { "secret.private_key", "secret", TIER_RESTRICTED },
	[DT_AWS_ACCESS_KEY] = { "secret.aws_access_key", "secret", TIER_RESTRICTED },
	[DT_AWS_SECRET_KEY] = { "secret.aws_secret_key", "secret", TIER_RESTRICTED },
	[DT_GOOGLE_API_KEY] = { "secret.google_api_key", "secret", TIER_RESTRICTED },
	[DT_ANTHROPIC_KEY] = { "secret.anthropic_key", "secret", TIER_RESTRICTED },
	[DT_OPENAI_KEY] = { "secret.openai_key", "secret", TIER_RESTRICTED },
	[DT_GITHUB] = { "secret.github", "secret", TIER_RESTRICTED },
	[DT_SLACK_TOKEN] = { "secret.slack_token", "secret", TIER_RESTRICTED },
	[DT_SLACK_WEBHOOK] = { "secret.slack_webhook", "secret", TIER_RESTRICTED },
	[DT_STRIPE_KEY] = { "secret.stripe_key", "secret", TIER_RESTRICTED },
	[DT_JWT] = { "secret.jwt", "secret", TIER_RESTRICTED },
	[DT_PAYMENT_CARD] = { "payment_card", "financial", TIER_CONFIDENTIAL },
	[DT_IBAN] = { "iban", "financial", TIER_CONFIDENTIAL },
	[DT_US_SSN] = { "us_ssn", "government_id", TIER_CONFIDENTIAL },
	[DT_UK_NINO] = { "uk_nino", "government_id", TIER_CONFIDENTIAL },
	[DT_ICD10] = { "health.icd10", "health", TIER_CONFIDENTIAL },
	[DT_DIAGNOSIS] = { "health.diagnosis", "health", TIER_CONFIDENTIAL },
	[DT_MEDICATION] = { "health.medication", "health", TIER_CONFIDENTIAL },
	[DT_BIOMETRIC] = { "health.biometric", "health", TIER_CONFIDENTIAL },
	[DT_EMAIL] = { "email", "contact", TIER_INTERNAL },
	[DT_PHONE] = { "phone", "contact", TIER_INTERNAL },
	[DT_OPAQUE] = { "opaque.base64", "opaque", TIER_INTERNAL },
};

struct detect {
	hs_database_t *db;
	hs_scratch_t *scratch;
	struct pat_meta *meta;
	size_t nmeta;
	struct det_type *types;
	unsigned ntypes;
	unsigned nslots;		/* custom regexes */
};

/* A pending custom-regex match, grown while its matches overlap. */
struct pending {
	size_t from, to;
	bool open;
};

/* ---- helpers for the extractors (detect_int.h) ------------------------------------ */

void
det_hit(struct scan *c, size_t s, size_t e, unsigned type, const char *validator)
{
	struct det_hit h = { s, e, type, validator };

	if (!c->stop && s < e && c->emit(c->arg, &h))
		c->stop = true;
}

size_t
det_seg_end(const struct scan *c, size_t p, size_t max)
{
	size_t lim = c->len - p < max ? c->len : p + max;
	const unsigned char *z = memchr(c->t + p, 0, lim - p);

	return z ? (size_t)(z - c->t) : lim;
}

size_t
det_run(const struct scan *c, size_t p, bool (*pred)(unsigned char), size_t min)
{
	size_t q = p;

	while (q < c->len && pred(c->t[q]))
		q++;
	return q - p >= min ? q : 0;
}

unsigned
det_num(const unsigned char *p, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(p[i] - '0');
	return v;
}

bool
det_mixed(const unsigned char *t, size_t a, size_t b)
{
	bool up = false, lo = false, dg = false;

	for (size_t i = a; i < b; i++) {
		up |= is_upper(t[i]);
		lo |= is_lower(t[i]);
		dg |= is_digit(t[i]);
	}
	return up && lo && dg;
}

bool
det_word(const struct scan *c, size_t s, size_t e)
{
	return (s == 0 || !is_alnum(c->t[s - 1])) && (e >= c->len || !is_alnum(c->t[e]));
}

/* ---- custom rules ---------------------------------------------------------------- */

static void
custom_term(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width;

	if (is_alnum(t[s]) && s > 0 && is_alnum(t[s - 1]))
		return;
	if (is_alnum(t[end - 1]) && end < c->len && is_alnum(t[end]))
		return;
	det_hit(c, s, end, m->type, "term");
}

static void
flush_pending(struct scan *c, const struct pat_meta *m)
{
	struct pending *p = &c->pend[m->slot];

	if (p->open)
		det_hit(c, p->from, p->to, m->type, "pattern");
	p->open = false;
}

/* Matches of one regex that overlap are one finding: Vectorscan reports every end. */
static void
custom_re(struct scan *c, const struct pat_meta *m, size_t from, size_t to)
{
	struct pending *p = &c->pend[m->slot];

	if (p->open && from <= p->to) {
		if (from < p->from)
			p->from = from;
		if (to > p->to)
			p->to = to;
		return;
	}
	flush_pending(c, m);
	p->from = from;
	p->to = to;
	p->open = true;
}

/* ---- scanning -------------------------------------------------------------------- */

static int
on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *arg)
{
	struct scan *c = arg;
	const struct pat_meta *m = &c->d->meta[id];
	size_t end = c->base + (size_t)to;

	(void)flags;
	if (end - c->base < m->width)
		return 0;	/* cannot happen: every width is the match's length */
	switch (m->ex) {
	case EX_PEM: det_pem(c, m, end); break;
	case EX_AWS_ID: det_aws_id(c, m, end); break;
	case EX_AWS_CTX: det_aws_ctx(c, end); break;
	case EX_FIXED: det_fixed(c, m, end); break;
	case EX_PREFIX: det_prefix(c, m, end); break;
	case EX_SLACK_HOOK: det_slack_hook(c, m, end); break;
	case EX_JWT: det_jwt(c, m, end); break;
	case EX_DIGITS: det_digits(c, end); break;
	case EX_EMAIL: det_email(c, end); break;
	case EX_SSN_CTX: det_ssn_ctx(c, m, end); break;
	case EX_ICD_CTX: det_icd_ctx(c, m, end); break;
	case EX_TERM: det_term(c, m, end); break;
	case EX_MEASURE: det_measure(c, m, end); break;
	case EX_CUSTOM_TERM: custom_term(c, m, end); break;
	case EX_CUSTOM_RE: custom_re(c, m, c->base + (size_t)from, end); break;
	default: break;
	}
	return c->stop ? 1 : 0;
}

int
detect_scan(struct detect *d, const char *text, size_t len, const struct jw_hole *holes,
    size_t nholes, det_emit_fn emit, void *arg, struct werr *err)
{
	struct scan c = { 0 };
	size_t lo = 0;
	int rc = 0;

	c.d = d;
	c.t = (const unsigned char *)text;
	c.len = len;
	c.emit = emit;
	c.arg = arg;
	c.pend = d->nslots ? xcalloc(d->nslots, sizeof(*c.pend)) : NULL;
	for (size_t h = 0; h <= nholes && !c.stop; h++) {
		size_t hi = h < nholes ? holes[h].off : len;

		if (hi > lo) {
			hs_error_t e;

			c.base = lo;
			e = hs_scan(d->db, text + lo, (unsigned)(hi - lo), 0, d->scratch, on_match, &c);
			if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED) {
				rc = werr_set(err, "vectorscan: scan failed (error %d)", (int)e);
				break;
			}
		}
		if (h < nholes)
			lo = holes[h].off + holes[h].len;
	}
	for (size_t i = 0; i < d->nmeta && rc == 0; i++) {
		if (d->meta[i].ex == EX_CUSTOM_RE)
			flush_pending(&c, &d->meta[i]);
	}
	free(c.pend);
	return rc;
}

/* ---- compiling --------------------------------------------------------------------- */

struct build {
	struct strv exprs;
	unsigned *flags;
	struct pat_meta *meta;
	size_t n, cap;
};

static void
add_pattern(struct build *b, char *expr, unsigned flags, const struct pat_meta *m)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 128;
		b->flags = xrealloc(b->flags, b->cap * sizeof(*b->flags));
		b->meta = xrealloc(b->meta, b->cap * sizeof(*b->meta));
	}
	strv_take(&b->exprs, expr);
	b->flags[b->n] = flags;
	b->meta[b->n] = *m;
	b->n++;
}

/* A literal as a Vectorscan expression: bytes escaped, spaces matching ' ', '_' or '-'. */
static char *
literal_expr(const char *s, bool spaces_loose)
{
	struct sbuf b;

	sbuf_init(&b, 16 * 1024);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == ' ' && spaces_loose)
			sbuf_adds(&b, "[ _\\-]");
		else if (is_alnum(ch))
			sbuf_add(&b, (const char *)&ch, 1);
		else
			sbuf_addf(&b, "\\x%02x", ch);
	}
	sbuf_add(&b, "", 1);
	return b.p;
}

static void
build_builtin(struct build *b)
{
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		add_pattern(b, xstrdup(builtin[i].re), builtin[i].flags, &builtin[i].m);
	for (size_t i = 0; i < health_nterms; i++) {
		const struct health_term *h = &health_terms[i];
		struct pat_meta m = { 0 };

		m.ex = h->kind == HT_MEASURE ? EX_MEASURE : EX_TERM;
		m.type = h->kind == HT_MEASURE ? DT_BIOMETRIC :
		    h->kind == HT_MEDICATION ? DT_MEDICATION : DT_DIAGNOSIS;
		m.width = (unsigned short)strlen(h->term);
		m.unit = h->unit;
		add_pattern(b, literal_expr(h->term, true), h->caseful ? 0 : CI, &m);
	}
}

static void
custom_type(struct det_type *t, const struct classify_custom *cu)
{
	snprintf(t->type, sizeof(t->type), "custom.%s", cu->name);
	snprintf(t->cls, sizeof(t->cls), "custom");
	t->tier = cu->tier;
}

struct detect *
detect_new(const struct classify_config *cfg, struct werr *err)
{
	struct detect *d = xcalloc(1, sizeof(*d));
	struct build b = { 0 };
	hs_compile_error_t *cerr = NULL;
	unsigned *ids;
	size_t ncustom = cfg ? cfg->ncustom : 0;

	d->ntypes = DT_BUILTIN_COUNT + (unsigned)ncustom;
	d->types = xcalloc(d->ntypes, sizeof(*d->types));
	memcpy(d->types, builtin_types, sizeof(builtin_types));
	if (cfg)
		d->types[DT_OPAQUE].tier = cfg->base64_min_tier;
	build_builtin(&b);
	for (size_t i = 0; i < ncustom; i++) {
		const struct classify_custom *cu = &cfg->custom[i];
		struct pat_meta m = { 0 };

		custom_type(&d->types[DT_BUILTIN_COUNT + i], cu);
		m.type = (unsigned short)(DT_BUILTIN_COUNT + i);
		if (cu->pattern) {
			m.ex = EX_CUSTOM_RE;
			m.slot = d->nslots++;
			add_pattern(&b, xstrdup(cu->pattern), HS_FLAG_SOM_LEFTMOST, &m);
		}
		for (size_t k = 0; k < cu->nterms; k++) {
			if (!cu->terms[k][0] || strlen(cu->terms[k]) > 1024)
				continue;
			m.ex = EX_CUSTOM_TERM;
			m.width = (unsigned short)strlen(cu->terms[k]);
			add_pattern(&b, literal_expr(cu->terms[k], false), CI, &m);
		}
	}
	ids = xcalloc(b.n, sizeof(*ids));
	for (size_t i = 0; i < b.n; i++)
		ids[i] = (unsigned)i;
	if (hs_compile_multi((const char *const *)b.exprs.v, b.flags, ids, (unsigned)b.n,
	    HS_MODE_BLOCK, NULL, &d->db, &cerr) != HS_SUCCESS) {
		int at = cerr ? cerr->expression : -1;

		if (at >= 0 && (size_t)at < b.n && b.meta[at].type >= DT_BUILTIN_COUNT)
			werr_set(err, "custom rule %s: pattern: %s",
			    cfg->custom[b.meta[at].type - DT_BUILTIN_COUNT].name,
			    cerr && cerr->message ? cerr->message : "does not compile");
		else
			werr_set(err, "built-in pattern %d: %s", at,
			    cerr && cerr->message ? cerr->message : "does not compile");
		hs_free_compile_error(cerr);
		goto fail;
	}
	if (hs_alloc_scratch(d->db, &d->scratch) != HS_SUCCESS) {
		werr_set(err, "vectorscan: cannot allocate scratch space");
		goto fail;
	}
	d->meta = steal_pointer(&b.meta);
	d->nmeta = b.n;
	strv_free(&b.exprs);
	free(b.flags);
	free(ids);
	return d;
fail:
	strv_free(&b.exprs);
	free(b.flags);
	free(b.meta);
	free(ids);
	detect_free(d);
	return NULL;
}

void
detect_free(struct detect *d)
{
	if (!d)
		return;
	hs_free_scratch(d->scratch);
	hs_free_database(d->db);
	free(d->meta);
	free(d->types);
	free(d);
}

const struct det_type *
detect_type(const struct detect *d, unsigned type)
{
	return type < d->ntypes ? &d->types[type] : &d->types[DT_OPAQUE];
}

unsigned
detect_ntypes(const struct detect *d)
{
	return d->ntypes;
}
