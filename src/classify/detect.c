/*
 * The built-in detectors (detect.h): the pattern table, the Vectorscan
 * database, and the extractors that turn a match into a validated hit.
 *
 * Every extractor reads the text around the match end it is given and
 * decides on its own; none trusts the pattern beyond "something of this
 * shape ends here".  Extractors that may fire many times inside one
 * candidate (digits of a long number, the payload of a JWT, which starts
 * with "eyJ" too) remember how far they have read (`done`) and return at
 * once for matches inside it; Vectorscan reports matches in order of
 * their end, so that is exact.
 *
 * Context windows (an AWS secret key near its key id, an SSN after "SSN",
 * an undotted ICD-10 code near "diagnosis", a number near "resting heart
 * rate") may cross from one JSON string into the next: {"ssn": "..."}
 * puts the keyword and the value in different strings, and the NUL bytes
 * between them in the scan text are just bytes here.  Token extents never
 * cross a NUL.
 */
#include "detect.h"

#include <hs/hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/util.h"
#include "health_terms.h"
#include "validate.h"

enum ex {
	EX_PEM, EX_AWS_ID, EX_AWS_CTX, EX_FIXED, EX_PREFIX, EX_SLACK_HOOK, EX_JWT,
	EX_CARD, EX_IBAN, EX_SSN, EX_SSN_CTX, EX_NINO, EX_ICD_DOTTED, EX_ICD_CTX,
	EX_TERM, EX_MEASURE, EX_EMAIL, EX_PHONE, EX_CUSTOM_TERM, EX_CUSTOM_RE,
	EX_COUNT
};

/* Characters a prefixed token may continue with. */
enum charset { CS_TOKEN, CS_SLACK, CS_ALNUM };

struct pat_meta {
	unsigned char ex;
	unsigned short type;
	unsigned short width;		/* the match is this long (start = end - width) */
	unsigned short minlen;		/* EX_PREFIX: shortest whole token */
	unsigned char charset;		/* EX_PREFIX */
	bool unit;			/* EX_MEASURE: may follow a digit */
	unsigned slot;			/* EX_CUSTOM_RE: its pending-match slot */
};

struct builtin_pat {
	const char *re;
	unsigned flags;
	struct pat_meta m;
};

#define CI HS_FLAG_CASELESS

static const struct builtin_pat builtin[] = {
	{ "-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----", 0, { EX_PEM, DT_PRIVATE_KEY, 0 } },
	{ "\\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z2-7]{16}\\b", 0,
	  { EX_AWS_ID, DT_AWS_ACCESS_KEY, 20 } },
	{ "(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)", CI,
	  { EX_AWS_CTX, DT_AWS_SECRET_KEY, 0 } },
	{ "AIza[0-9A-Za-z_-]{35}", 0, { EX_FIXED, DT_GOOGLE_API_KEY, 39 } },
	{ "gh[pousr]_[A-Za-z0-9]{36}", 0, { EX_FIXED, DT_GITHUB, 40 } },
	{ "github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}", 0, { EX_FIXED, DT_GITHUB, 93 } },
	{ "\\bsk-ant-", 0, { EX_PREFIX, DT_ANTHROPIC_KEY, 7, 40, CS_TOKEN } },
	{ "\\bsk-", 0, { EX_PREFIX, DT_OPENAI_KEY, 3, 35, CS_TOKEN } },
	{ "\\bxox[abposr]-", 0, { EX_PREFIX, DT_SLACK_TOKEN, 5, 24, CS_SLACK } },
	{ "\\bxapp-[0-9]-", 0, { EX_PREFIX, DT_SLACK_TOKEN, 7, 30, CS_SLACK } },
	{ "\\b[rs]k_live_", 0, { EX_PREFIX, DT_STRIPE_KEY, 8, 28, CS_ALNUM } },
	{ "hooks\\.slack\\.com/services/", 0, { EX_SLACK_HOOK, DT_SLACK_WEBHOOK, 25 } },
	{ "eyJ[A-Za-z0-9_-]{5}", 0, { EX_JWT, DT_JWT, 8 } },
	{ "[0-9]{4}[ -]?[0-9]{4}", 0, { EX_CARD, DT_PAYMENT_CARD, 0 } },
	{ "\\b[A-Z]{2}[0-9]{2}[A-Z0-9]{4}", 0, { EX_IBAN, DT_IBAN, 8 } },
	{ "\\b[A-Z]{2}[0-9]{2} [A-Z0-9]{4}", 0, { EX_IBAN, DT_IBAN, 9 } },
	{ "\\b[0-9]{3}-[0-9]{2}-[0-9]{4}\\b", 0, { EX_SSN, DT_US_SSN, 11 } },
	{ "\\b(?:ssn|social security(?: number| no\\.?| #)?)", CI, { EX_SSN_CTX, DT_US_SSN, 0 } },
	{ "\\b[A-Z]{2}[0-9]{6}[A-D]\\b", 0, { EX_NINO, DT_UK_NINO, 9 } },
	{ "\\b[A-Z]{2} [0-9]{2} [0-9]{2} [0-9]{2} [A-D]\\b", 0, { EX_NINO, DT_UK_NINO, 13 } },
	{ "\\b[A-Z][0-9]{2}\\.[0-9]", 0, { EX_ICD_DOTTED, DT_ICD10, 5 } },
	{ "\\b(?:icd(?:-?10)?(?:-?cm)?|diagnos(?:is|es|ed|tic)|dx)\\b", CI, { EX_ICD_CTX, DT_ICD10, 0 } },
	{ "[A-Za-z0-9_%+-]@[A-Za-z0-9]", 0, { EX_EMAIL, DT_EMAIL, 3 } },
	{ "\\+[1-9][0-9]", 0, { EX_PHONE, DT_PHONE, 0 } },
	{ "[0-9]{3}[ .-][0-9]{3}[ .-][0-9]{4}", 0, { EX_PHONE, DT_PHONE, 0 } },
	{ "\\([0-9]{3}\\) ?[0-9]{3}", 0, { EX_PHONE, DT_PHONE, 0 } },
	{ "\\b0[0-9]{1,4}[ -][0-9]{3}", 0, { EX_PHONE, DT_PHONE, 0 } },
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

struct scan {
	const struct detect *d;
	const unsigned char *t;
	size_t len;
	size_t base;			/* offset of the region being scanned */
	det_emit_fn emit;
	void *arg;
	bool stop;
	size_t done[EX_COUNT];
	struct pending *pend;
};

/* ---- characters -------------------------------------------------------------- */

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline bool is_alpha(unsigned char c) { return is_upper(c) || is_lower(c); }
static inline bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static inline bool is_tok(unsigned char c) { return is_alnum(c) || c == '_' || c == '-'; }

static bool
in_charset(unsigned char c, int cs)
{
	switch (cs) {
	case CS_SLACK: return is_alnum(c) || c == '-';
	case CS_ALNUM: return is_alnum(c);
	default: return is_tok(c);
	}
}

/* Upper case, lower case and digits all present in t[a, b). */
static bool
mixed(const unsigned char *t, size_t a, size_t b)
{
	bool up = false, lo = false, dg = false;

	for (size_t i = a; i < b; i++) {
		up |= is_upper(t[i]);
		lo |= is_lower(t[i]);
		dg |= is_digit(t[i]);
	}
	return up && lo && dg;
}

static void
hit(struct scan *c, size_t s, size_t e, unsigned type, const char *validator)
{
	struct det_hit h = { s, e, type, validator };

	if (!c->stop && s < e && c->emit(c->arg, &h))
		c->stop = true;
}

/* The end of the NUL-free run holding p, at most max bytes on. */
static size_t
seg_end(const struct scan *c, size_t p, size_t max)
{
	size_t lim = c->len - p < max ? c->len : p + max;
	const unsigned char *z = memchr(c->t + p, 0, lim - p);

	return z ? (size_t)(z - c->t) : lim;
}

/* ---- secrets ----------------------------------------------------------------- */

/* A PEM private key: from its BEGIN line through its END line, or to the end of its string. */
static void
ex_pem(struct scan *c, size_t end)
{
	const unsigned char *t = c->t;
	size_t lo = end > 96 ? end - 96 : 0, s = end, stop;
	const unsigned char *e;

	for (size_t k = end >= 27 ? end - 27 : 0;; k--) {
		if (memcmp(t + k, "-----BEGIN ", 11) == 0) {
			s = k;
			break;
		}
		if (k == lo)
			return;
	}
	if (s < c->done[EX_PEM])
		return;
	stop = seg_end(c, end, 64 * 1024);
	e = memmem(t + end, stop - end, "-----END ", 9);
	if (e) {
		size_t k = (size_t)(e - t) + 9, lim = stop - k < 96 ? stop : k + 96;
		const unsigned char *f = memmem(t + k, lim - k, "-----", 5);

		if (f)
			stop = (size_t)(f - t) + 5;
	}
	hit(c, s, stop, DT_PRIVATE_KEY, "pem");
	c->done[EX_PEM] = stop;
}

static bool
is_awssec(unsigned char c)
{
	return is_alnum(c) || c == '/' || c == '+';
}

/*
 * An AWS secret access key in t[a, b): exactly 40 characters of its
 * alphabet, not run into more of them or into '=' padding (that is
 * base64 data), with upper case, lower case and digits.
 */
static bool
aws_secret_in(const struct scan *c, size_t a, size_t b, size_t *ks)
{
	const unsigned char *t = c->t;
	size_t i = a;

	while (i < b) {
		size_t j = i;

		if (!is_awssec(t[i])) {
			i++;
			continue;
		}
		while (j < c->len && is_awssec(t[j]))
			j++;
		if (j - i == 40 && (i == 0 || t[i - 1] != '=') && (j >= c->len || t[j] != '=') &&
		    mixed(t, i, j)) {
			*ks = i;
			return true;
		}
		i = j;
	}
	return false;
}

static void
ex_aws_id(struct scan *c, const struct pat_meta *m, size_t end)
{
	size_t s = end - m->width, k;

	hit(c, s, end, DT_AWS_ACCESS_KEY, "format");
	if (aws_secret_in(c, end, c->len - end < 200 ? c->len : end + 200, &k) ||
	    aws_secret_in(c, s > 200 ? s - 200 : 0, s, &k))
		hit(c, k, k + 40, DT_AWS_SECRET_KEY, "context");
}

static void
ex_aws_ctx(struct scan *c, size_t end)
{
	size_t k;

	if (aws_secret_in(c, end, c->len - end < 80 ? c->len : end + 80, &k))
		hit(c, k, k + 40, DT_AWS_SECRET_KEY, "context");
}

/* Fixed-width tokens (Google API keys, GitHub tokens) that must stand alone. */
static void
ex_fixed(struct scan *c, const struct pat_meta *m, size_t end)
{
	size_t s = end - m->width;
	const char *v = "format";

	if ((s > 0 && is_tok(c->t[s - 1])) || (end < c->len && is_tok(c->t[end])))
		return;
	if (m->type == DT_GITHUB && m->width == 40) {
		if (!val_github_checksum((const char *)c->t + s, 40))
			return;
		v = "crc32";
	}
	hit(c, s, end, m->type, v);
}

/* Tokens known by a prefix ("sk-ant-", "xoxb-", "sk_live_"), read to their end. */
static void
ex_prefix(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, j = end;

	if (s < c->done[EX_PREFIX] || (s > 0 && is_tok(t[s - 1])))
		return;
	if (m->type == DT_OPENAI_KEY && c->len - end >= 4 && memcmp(t + end, "ant-", 4) == 0)
		return;		/* an Anthropic key: its own pattern reads it */
	while (j < c->len && j - s < 512 && in_charset(t[j], m->charset))
		j++;
	if (j - s < m->minlen)
		return;
	if (m->type == DT_SLACK_TOKEN) {
		bool digit = false;

		for (size_t i = end; i < j; i++)
			digit |= is_digit(t[i]);
		if (!digit)
			return;
	} else if (!mixed(t, end, j)) {
		return;
	}
	hit(c, s, j, m->type, "format");
	c->done[EX_PREFIX] = j;
}

/* A run of chars matching pred, at least min long, starting at t[p]: returns its end or 0. */
static size_t
run_of(const struct scan *c, size_t p, bool (*pred)(unsigned char), size_t min)
{
	size_t q = p;

	while (q < c->len && pred(c->t[q]))
		q++;
	return q - p >= min ? q : 0;
}

static bool is_upnum(unsigned char ch) { return is_upper(ch) || is_digit(ch); }
static bool is_alnum_p(unsigned char ch) { return is_alnum(ch); }
static bool is_b64url(unsigned char ch) { return is_tok(ch); }

/* https://hooks.slack.com/services/T.../B.../secret */
static void
ex_slack_hook(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, p = end;

	if (p >= c->len || t[p] != 'T' || !(p = run_of(c, p + 1, is_upnum, 6)))
		return;
	if (p + 1 >= c->len || t[p] != '/' || t[p + 1] != 'B' || !(p = run_of(c, p + 2, is_upnum, 6)))
		return;
	if (p >= c->len || t[p] != '/' || !(p = run_of(c, p + 1, is_alnum_p, 16)))
		return;
	if (s >= 8 && memcmp(t + s - 8, "https://", 8) == 0)
		s -= 8;
	hit(c, s, p, DT_SLACK_WEBHOOK, "format");
}

/* header.payload.signature, base64url, the header decoding to JSON with "alg". */
static void
ex_jwt(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, h, p, g;

	if (s < c->done[EX_JWT] || (s > 0 && (is_tok(t[s - 1]) || t[s - 1] == '.')))
		return;
	h = run_of(c, s, is_b64url, 8);
	if (!h || h >= c->len || t[h] != '.')
		return;
	p = run_of(c, h + 1, is_b64url, 2);
	if (!p || p >= c->len || t[p] != '.')
		return;
	g = p + 1;
	while (g < c->len && is_b64url(t[g]))
		g++;
	if (g < c->len && t[g] == '.')
		return;
	c->done[EX_JWT] = g;
	if (val_jwt_header((const char *)t + s, h - s))
		hit(c, s, g, DT_JWT, "jwt");
}

/* ---- financial and government identifiers -------------------------------------- */

#define MAX_GROUPS 64

struct group {
	size_t s, e;
};

/*
 * Card numbers: the digit run around the match (digits with single spaces
 * or dashes between them) is split into groups, and every window of
 * consecutive groups holding 13-19 digits, grouped consistently (one
 * separator; inner groups of 4-6 digits), is tried against the issuer
 * table and Luhn; the longest valid window wins.
 */
/* Try every window of groups starting in g[0, upto); returns nothing, reports hits. */
static void
card_windows(struct scan *c, const struct group *g, size_t ng, size_t upto)
{
	const unsigned char *t = c->t;

	for (size_t i = 0; i < upto;) {
		char digits[20];
		size_t total = 0, best = SIZE_MAX;

		for (size_t j = i; j < ng; j++) {
			size_t n = g[j].e - g[j].s;

			if (total + n > 19)
				break;
			if (j > i) {
				size_t prev = g[j - 1].e - g[j - 1].s;

				if (prev < 4 || prev > 6 || t[g[j].s - 1] != t[g[i].e])
					break;
			}
			memcpy(digits + total, t + g[j].s, n);
			total += n;
			if (total >= 13 && val_card(digits, total))
				best = j;
		}
		if (best != SIZE_MAX) {
			hit(c, g[i].s, g[best].e, DT_PAYMENT_CARD, "luhn");
			i = best + 1;
		} else {
			i++;
		}
	}
}

static void
ex_card(struct scan *c, size_t end)
{
	const unsigned char *t = c->t;
	struct group g[MAX_GROUPS];
	size_t a = end, b = end, pos;

	if (end <= c->done[EX_CARD])
		return;
	while (a > 0 && (is_digit(t[a - 1]) ||
	    ((t[a - 1] == ' ' || t[a - 1] == '-') && a >= 2 && is_digit(t[a - 2]))))
		a--;
	while (b < c->len && (is_digit(t[b]) ||
	    ((t[b] == ' ' || t[b] == '-') && b + 1 < c->len && is_digit(t[b + 1]))))
		b++;
	c->done[EX_CARD] = b;
	/* Part of a decimal, a thousands-separated amount, or a word. */
	if (a > 0 && (is_alpha(t[a - 1]) || ((t[a - 1] == '.' || t[a - 1] == ',') && a >= 2 &&
	    is_digit(t[a - 2]))))
		return;
	if (b < c->len && (is_alpha(t[b]) || ((t[b] == '.' || t[b] == ',') && b + 1 < c->len &&
	    is_digit(t[b + 1]))))
		return;
	/*
	 * In batches of MAX_GROUPS groups; a card spans at most 5 groups (the
	 * inner ones hold 4 digits or more), so the last 8 of a full batch
	 * start the next one.
	 */
	for (pos = a; pos < b;) {
		size_t ng = 0, upto;

		for (size_t i = pos; i < b && ng < MAX_GROUPS;) {
			size_t j = i;

			while (j < b && is_digit(t[j]))
				j++;
			g[ng].s = i;
			g[ng].e = j;
			ng++;
			i = j + 1;
		}
		upto = ng == MAX_GROUPS && g[ng - 1].e < b ? ng - 8 : ng;
		card_windows(c, g, ng, upto);
		if (upto == ng)
			break;
		pos = g[upto].s;
	}
}

static void
ex_iban(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, p = s, k = 0;
	bool spaced = m->width == 9;
	unsigned want;
	char buf[40];

	if (s < c->done[EX_IBAN])
		return;
	want = val_iban_length((const char *)t + s);
	if (!want)
		return;
	while (k < want && p < c->len) {
		if (is_upnum(t[p])) {
			buf[k++] = (char)t[p++];
		} else if (spaced && t[p] == ' ' && k > 0 && k % 4 == 0 && p + 1 < c->len &&
		    is_upnum(t[p + 1])) {
			p++;
		} else {
			break;
		}
	}
	if (k != want || (p < c->len && is_alnum(t[p])) || !val_iban_mod97(buf, k))
		return;
	hit(c, s, p, DT_IBAN, "mod97");
	c->done[EX_IBAN] = p;
}

static unsigned
num(const unsigned char *p, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(p[i] - '0');
	return v;
}

static void
ex_ssn(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width;

	if ((s > 0 && (t[s - 1] == '-' || is_digit(t[s - 1]))) || (end < c->len && t[end] == '-'))
		return;
	if (val_us_ssn(num(t + s, 3), num(t + s + 4, 2), num(t + s + 7, 4)))
		hit(c, s, end, DT_US_SSN, "range");
}

/* After "SSN" or "social security number": the first number, 9 digits plain or grouped. */
static void
ex_ssn_ctx(struct scan *c, size_t end)
{
	const unsigned char *t = c->t;
	size_t lim = c->len - end < 40 ? c->len : end + 40;

	for (size_t p = end; p < lim; p++) {
		size_t q = p;

		if (!is_digit(t[p]))
			continue;
		while (q < c->len && is_digit(t[q]))
			q++;
		if (q - p == 9 && (q == c->len || !is_alnum(t[q]))) {
			if (val_us_ssn(num(t + p, 3), num(t + p + 3, 2), num(t + p + 5, 4)))
				hit(c, p, q, DT_US_SSN, "range");
		} else if (q - p == 3 && c->len - p >= 11 && (t[q] == ' ' || t[q] == '-') &&
		    is_digit(t[q + 1]) && is_digit(t[q + 2]) && t[q + 3] == t[q] &&
		    is_digit(t[q + 4]) && is_digit(t[q + 5]) && is_digit(t[q + 6]) && is_digit(t[q + 7]) &&
		    (q + 8 == c->len || !is_alnum(t[q + 8])) &&
		    val_us_ssn(num(t + p, 3), num(t + q + 1, 2), num(t + q + 4, 4))) {
			hit(c, p, q + 8, DT_US_SSN, "range");
		}
		return;
	}
}

static void
ex_nino(struct scan *c, const struct pat_meta *m, size_t end)
{
	size_t s = end - m->width, k = 0;
	char buf[16];

	for (size_t i = s; i < end && k < sizeof(buf); i++) {
		if (c->t[i] != ' ')
			buf[k++] = (char)c->t[i];
	}
	if (val_uk_nino(buf, k))
		hit(c, s, end, DT_UK_NINO, "format");
}

/* ---- health ------------------------------------------------------------------ */

/* A word just before s that says the code-like token is something else ("version V12.1"). */
static bool
icd_decoy(const struct scan *c, size_t s)
{
	static const char *const words[] = {
		"version", "release", "firmware", "section", "chapter", "table", "figure", "fig",
		"page", "rev", "model", "route", "flight", "seat", "room", "step", "level", "grade",
		"size", "gate", "platform", "build", "exhibit", "appendix", "item", "part",
	};
	const unsigned char *t = c->t;
	size_t e = s, b;

	while (e > 0 && s - e < 3 && (t[e - 1] == ' ' || t[e - 1] == '.' || t[e - 1] == ':' ||
	    t[e - 1] == '#'))
		e--;
	b = e;
	while (b > 0 && e - b < 12 && is_alpha(t[b - 1]))
		b--;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i]) == e - b && strncasecmp((const char *)t + b, words[i], e - b) == 0)
			return true;
	}
	return false;
}

/* The end of an ICD-10 code starting at s (letter, 2 digits, optional "." and up to 4), or 0. */
static size_t
icd_code_end(const struct scan *c, size_t s, bool need_dot)
{
	const unsigned char *t = c->t;
	size_t p = s + 3, k = 0;

	if (c->len - s < 3 || !is_upper(t[s]) || !is_digit(t[s + 1]) || !is_digit(t[s + 2]) ||
	    !val_icd10((char)t[s], num(t + s + 1, 2)))
		return 0;
	if (p < c->len && t[p] == '.' && p + 1 < c->len && is_digit(t[p + 1])) {
		p++;
		while (p < c->len && k < 4 && is_upnum(t[p])) {
			p++;
			k++;
		}
	} else if (need_dot) {
		return 0;
	} else {
		while (p < c->len && k < 4 && is_upnum(t[p])) {
			p++;
			k++;
		}
	}
	if (p < c->len && is_alnum(t[p]))
		return 0;
	if (p + 1 < c->len && t[p] == '.' && is_digit(t[p + 1]))
		return 0;	/* "A12.3.4": a version, not a code */
	return p;
}

static void
ex_icd_dotted(struct scan *c, const struct pat_meta *m, size_t end)
{
	size_t s = end - m->width, e;

	if (s > 0 && (c->t[s - 1] == '.' || c->t[s - 1] == '-' || c->t[s - 1] == '/'))
		return;
	e = icd_code_end(c, s, true);
	if (e && !icd_decoy(c, s))
		hit(c, s, e, DT_ICD10, "chapter");
}

/* Near "ICD-10", "diagnosis", "dx": codes without the dot too ("E119", "I10"). */
static void
ex_icd_ctx(struct scan *c, size_t end)
{
	const unsigned char *t = c->t;
	size_t a = end > 80 ? end - 80 : 0, b = c->len - end < 80 ? c->len : end + 80;

	for (size_t p = a; p + 3 <= b; p++) {
		size_t e;

		if (!is_upper(t[p]) || (p > 0 && is_alnum(t[p - 1])))
			continue;
		e = icd_code_end(c, p, false);
		if (e && !icd_decoy(c, p))
			hit(c, p, e, DT_ICD10, "context");
	}
}

/* Vocabulary: whole words only (an underscore counts as a separator: "heart_rate"). */
static bool
term_alone(const struct scan *c, size_t s, size_t e, bool unit)
{
	if (s > 0 && (unit ? is_alpha(c->t[s - 1]) : is_alnum(c->t[s - 1])))
		return false;
	return e >= c->len || !is_alnum(c->t[e]);
}

/* "the Great Depression", "a tropical depression": the word in another sense. */
static bool
term_decoy(const struct scan *c, size_t s, size_t e)
{
	static const char *const before[] = { "great ", "tropical ", "economic ", "post-war " };
	const unsigned char *t = c->t;

	if (e - s != 10 || strncasecmp((const char *)t + s, "depression", 10) != 0)
		return false;
	for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++) {
		size_t n = strlen(before[i]);

		if (s >= n && strncasecmp((const char *)t + s - n, before[i], n) == 0)
			return true;
	}
	return false;
}

static void
ex_term(struct scan *c, const struct pat_meta *m, size_t end)
{
	size_t s = end - m->width;

	if (term_alone(c, s, end, false) && !term_decoy(c, s, end))
		hit(c, s, end, m->type, "vocabulary");
}

/*
 * Is there a digit in t[a, b), walking from `from` towards `to` (either
 * direction)?  The walk may cross from a JSON key into its value (a gap
 * of a few NUL bytes: "resting_heart_rate": 52) but stops at a wider gap,
 * which separates unrelated members ("...heart rate?"}], "temperature": 0.2).
 */
static bool
digit_near(const struct scan *c, size_t from, size_t to)
{
	const unsigned char *t = c->t;
	size_t gap = 0;

	while (from != to) {
		unsigned char ch = from < to ? t[from] : t[from - 1];

		if (is_digit(ch))
			return true;
		gap = ch == 0 ? gap + 1 : 0;
		if (gap > 4)
			return false;
		from = from < to ? from + 1 : from - 1;
	}
	return false;
}

/* A measure counts only with a number within a few words of it. */
static void
ex_measure(struct scan *c, const struct pat_meta *m, size_t end)
{
	size_t s = end - m->width;

	if (!term_alone(c, s, end, m->unit))
		return;
	if (digit_near(c, s, s > 32 ? s - 32 : 0) ||
	    digit_near(c, end, c->len - end < 40 ? c->len : end + 40))
		hit(c, s, end, DT_BIOMETRIC, "number");
}

/* ---- contact ---------------------------------------------------------------- */

static bool
is_local(unsigned char ch)
{
	return is_alnum(ch) || ch == '.' || ch == '_' || ch == '%' || ch == '+' || ch == '-';
}

/* Domain labels: 1-63 characters, no '-' at either end, at least two, an alphabetic TLD. */
static bool
domain_ok(const unsigned char *d, size_t n)
{
	size_t labels = 0, i = 0, last = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && d[j] != '.')
			j++;
		if (j == i || j - i > 63 || d[i] == '-' || d[j - 1] == '-')
			return false;
		labels++;
		last = i;
		i = j + 1;
	}
	if (labels < 2 || n - last < 2 || n - last > 24)
		return false;
	if (n - last > 4 && memcmp(d + last, "xn--", 4) == 0)
		return true;
	for (i = last; i < n; i++) {
		if (!is_alpha(d[i]))
			return false;
	}
	return true;
}

static void
ex_email(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t at = end - 2, ls = at, de = at + 1;

	if (at < c->done[EX_EMAIL])
		return;
	while (ls > 0 && at - ls < 64 && is_local(t[ls - 1]))
		ls--;
	while (ls < at && t[ls] == '.')
		ls++;
	if (ls == at || t[at - 1] == '.' || memmem(t + ls, at - ls, "..", 2))
		return;
	while (de < c->len && de - at <= 253 && (is_alnum(t[de]) || t[de] == '.' || t[de] == '-'))
		de++;
	while (de > at + 1 && (t[de - 1] == '.' || t[de - 1] == '-'))
		de--;
	c->done[EX_EMAIL] = de;
	if (!domain_ok(t + at + 1, de - at - 1))
		return;
	/* "git@github.com:owner/repo": an scp-style address, not a mailbox. */
	if (de + 1 < c->len && t[de] == ':' && t[de + 1] != ' ')
		return;
	hit(c, ls, de, DT_EMAIL, "format");
}

/*
 * Phone numbers.  The run of phone characters around the match is split
 * into digit groups, and each group is tried as the start of an
 * international number ("+" or "00", an assigned country code, 8-15
 * digits; +1 must be a valid NANP number), a NANP number ("(415)
 * 555-2671", "415-555-2671", 3-3-4 with one separator, area and exchange
 * not starting with 0 or 1), or a national number with a trunk 0 (10-11
 * digits in 2-5 groups with one separator: "020 7946 0958").
 */
struct pgroup {
	size_t s, e;
};

static bool
is_phonech(unsigned char ch)
{
	return is_digit(ch) || ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')' ||
	    ch == '+';
}

/* Bytes between group k-1 and group k equal sep (a NUL-terminated string). */
static bool
sep_is(const struct scan *c, const struct pgroup *g, size_t k, const char *sep)
{
	size_t n = strlen(sep);

	return g[k].s - g[k - 1].e == n && memcmp(c->t + g[k - 1].e, sep, n) == 0;
}

static bool
single_sep(const struct scan *c, const struct pgroup *g, size_t k, unsigned char *sep)
{
	unsigned char ch;

	if (g[k].s - g[k - 1].e != 1)
		return false;
	ch = c->t[g[k - 1].e];
	if (ch != ' ' && ch != '-' && ch != '.')
		return false;
	if (*sep && *sep != ch)
		return false;
	*sep = ch;
	return true;
}

/*
 * The number does not run on into more digits or letters, nor is it the
 * tail of a longer run of digit groups ("GB19 RQNI 8840 0141 3286 43"
 * holds no phone number, and neither does a card number's last groups).
 */
static bool
phone_end_ok(const struct scan *c, size_t e)
{
	const unsigned char *t = c->t;

	if (e < c->len && is_alnum(t[e]))
		return false;
	return !(e + 1 < c->len && (t[e] == '-' || t[e] == '.' || t[e] == ' ') && is_digit(t[e + 1]));
}

static bool
phone_start_ok(const struct scan *c, size_t s)
{
	const unsigned char *t = c->t;

	if (s > 0 && is_alnum(t[s - 1]))
		return false;
	return !(s >= 2 && (t[s - 1] == '-' || t[s - 1] == '.' || t[s - 1] == ' ') &&
	    is_digit(t[s - 2]));
}

static bool
nanp_ok(const unsigned char *area, const unsigned char *exch)
{
	return area[0] >= '2' && exch[0] >= '2' && !(area[1] == '1' && area[2] == '1');
}

static size_t
phone_intl(const struct scan *c, const struct pgroup *g, size_t ng, size_t k, size_t *start)
{
	const unsigned char *t = c->t;
	char d[24];
	size_t n = 0, last = k, s = g[k].s, off = 0;

	if (s > 0 && t[s - 1] == '+') {
		s--;
	} else if (g[k].e - g[k].s >= 3 && t[s] == '0' && t[s + 1] == '0' && phone_start_ok(c, s)) {
		off = 2;	/* the international prefix 00 */
	} else {
		return 0;
	}
	if (s > 0 && (is_alnum(t[s - 1]) || t[s - 1] == '+'))
		return 0;
	for (size_t j = k; j < ng; j++) {
		size_t len = g[j].e - g[j].s - (j == k ? off : 0);

		if (j > k) {
			bool trunk = g[j].e - g[j].s == 1 && t[g[j].s] == '0' && g[j].s > 0 &&
			    t[g[j].s - 1] == '(' && g[j].e < c->len && t[g[j].e] == ')';

			if (!(sep_is(c, g, j, " ") || sep_is(c, g, j, "-") || sep_is(c, g, j, ".") ||
			    sep_is(c, g, j, " (") || sep_is(c, g, j, ") ") || sep_is(c, g, j, ")") ||
			    sep_is(c, g, j, "(")))
				break;
			if (trunk)
				continue;	/* "+44 (0)20 ...": the (0) is not dialled */
		}
		if (n + len > 15)
			break;
		memcpy(d + n, t + g[j].s + (j == k ? off : 0), len);
		n += len;
		last = j;
	}
	if (!val_phone_cc(d, n))
		return 0;
	if (d[0] == '1') {
		if (n != 11 || !nanp_ok((const unsigned char *)d + 1, (const unsigned char *)d + 4))
			return 0;
	} else if (n < (off ? 10u : 8u)) {
		return 0;	/* "00" is also how many other numbers start: ask for more */
	}
	if (!phone_end_ok(c, g[last].e))
		return 0;
	*start = s;
	return last + 1;
}

static size_t
phone_nanp(const struct scan *c, const struct pgroup *g, size_t ng, size_t k, size_t *start)
{
	const unsigned char *t = c->t;
	size_t k0 = k, s;
	unsigned char sep = 0;
	bool paren;

	/* An optional leading country code 1: "1-415-555-2671", "1 (415) 555-2671". */
	if (g[k].e - g[k].s == 1 && t[g[k].s] == '1' && k + 1 < ng)
		k0 = k + 1;
	if (k0 + 2 >= ng || g[k0].e - g[k0].s != 3 || g[k0 + 1].e - g[k0 + 1].s != 3 ||
	    g[k0 + 2].e - g[k0 + 2].s != 4)
		return 0;
	paren = g[k0].s > 0 && t[g[k0].s - 1] == '(' && g[k0].e < c->len && t[g[k0].e] == ')';
	if (paren) {
		if (!sep_is(c, g, k0 + 1, ") ") && !sep_is(c, g, k0 + 1, ")"))
			return 0;
		if (!single_sep(c, g, k0 + 2, &sep))
			return 0;
		if (k0 > k && !sep_is(c, g, k0, " (") && !sep_is(c, g, k0, "("))
			return 0;
	} else {
		if (!single_sep(c, g, k0 + 1, &sep) || !single_sep(c, g, k0 + 2, &sep))
			return 0;
		if (k0 > k && !single_sep(c, g, k0, &sep))
			return 0;
	}
	if (!nanp_ok(t + g[k0].s, t + g[k0 + 1].s) || !phone_end_ok(c, g[k0 + 2].e))
		return 0;
	s = paren && k0 == k ? g[k0].s - 1 : g[k].s;
	if (!phone_start_ok(c, s))
		return 0;
	*start = s;
	return k0 + 3;
}

static size_t
phone_trunk(const struct scan *c, const struct pgroup *g, size_t ng, size_t k, size_t *start)
{
	const unsigned char *t = c->t;
	size_t n = g[k].e - g[k].s, last = SIZE_MAX, s = g[k].s;
	unsigned char sep = 0;

	if (t[s] != '0' || n < 2 || n > 5 || t[s + 1] == '0')
		return 0;
	if (!phone_start_ok(c, s) || (s > 0 && (t[s - 1] == '+' || t[s - 1] == '(')))
		return 0;
	for (size_t j = k + 1; j < ng && j < k + 5; j++) {
		unsigned char ch = sep;

		if (!single_sep(c, g, j, &ch) || ch == '.')
			break;
		sep = ch;
		n += g[j].e - g[j].s;
		if (n > 11)
			break;
		if (n >= 10)
			last = j;
	}
	if (last == SIZE_MAX || !phone_end_ok(c, g[last].e))
		return 0;
	/*
	 * Groups after the first are all pairs ("06 12 34 56 78") or all
	 * longer ("020 7946 0958"); a 2-digit tail after longer groups is the
	 * end of an account number.  3-3-4 is the NANP shape, which failed the
	 * NANP rules if it got here.
	 */
	{
		bool pairs = g[k + 1].e - g[k + 1].s == 2;

		for (size_t j = k + 1; j <= last; j++) {
			if ((g[j].e - g[j].s == 2) != pairs)
				return 0;
		}
		if (last == k + 2 && g[k].e - g[k].s == 3 && g[k + 1].e - g[k + 1].s == 3 &&
		    g[k + 2].e - g[k + 2].s == 4)
			return 0;
	}
	*start = s;
	return last + 1;
}

static void
ex_phone(struct scan *c, size_t end)
{
	const unsigned char *t = c->t;
	struct pgroup g[16];
	size_t a = end, b = end, ng = 0;

	if (end <= c->done[EX_PHONE])
		return;
	while (a > 0 && end - a < 40 && is_phonech(t[a - 1]))
		a--;
	while (b < c->len && b - end < 40 && is_phonech(t[b]))
		b++;
	c->done[EX_PHONE] = b;
	for (size_t i = a; i < b && ng < 16; i++) {
		size_t j = i;

		if (!is_digit(t[i]))
			continue;
		while (j < b && is_digit(t[j]))
			j++;
		g[ng].s = i;
		g[ng].e = j;
		ng++;
		i = j;
	}
	for (size_t k = 0; k < ng;) {
		size_t s = 0, next;

		if ((next = phone_intl(c, g, ng, k, &s)) || (next = phone_nanp(c, g, ng, k, &s)) ||
		    (next = phone_trunk(c, g, ng, k, &s))) {
			hit(c, s, g[next - 1].e, DT_PHONE, "format");
			k = next;
		} else {
			k++;
		}
	}
}

/* ---- custom rules ---------------------------------------------------------------- */

static void
ex_custom_term(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width;

	if (is_alnum(t[s]) && s > 0 && is_alnum(t[s - 1]))
		return;
	if (is_alnum(t[end - 1]) && end < c->len && is_alnum(t[end]))
		return;
	hit(c, s, end, m->type, "term");
}

static void
flush_pending(struct scan *c, const struct pat_meta *m)
{
	struct pending *p = &c->pend[m->slot];

	if (p->open)
		hit(c, p->from, p->to, m->type, "pattern");
	p->open = false;
}

/* Matches of one regex that overlap are one finding: Vectorscan reports every end. */
static void
ex_custom_re(struct scan *c, const struct pat_meta *m, size_t from, size_t to)
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
	if (m->width && end - c->base < m->width)
		return 0;	/* cannot happen: fixed-width patterns */
	switch (m->ex) {
	case EX_PEM: ex_pem(c, end); break;
	case EX_AWS_ID: ex_aws_id(c, m, end); break;
	case EX_AWS_CTX: ex_aws_ctx(c, end); break;
	case EX_FIXED: ex_fixed(c, m, end); break;
	case EX_PREFIX: ex_prefix(c, m, end); break;
	case EX_SLACK_HOOK: ex_slack_hook(c, m, end); break;
	case EX_JWT: ex_jwt(c, m, end); break;
	case EX_CARD: ex_card(c, end); break;
	case EX_IBAN: ex_iban(c, m, end); break;
	case EX_SSN: ex_ssn(c, m, end); break;
	case EX_SSN_CTX: ex_ssn_ctx(c, end); break;
	case EX_NINO: ex_nino(c, m, end); break;
	case EX_ICD_DOTTED: ex_icd_dotted(c, m, end); break;
	case EX_ICD_CTX: ex_icd_ctx(c, end); break;
	case EX_TERM: ex_term(c, m, end); break;
	case EX_MEASURE: ex_measure(c, m, end); break;
	case EX_EMAIL: ex_email(c, m, end); break;
	case EX_PHONE: ex_phone(c, end); break;
	case EX_CUSTOM_TERM: ex_custom_term(c, m, end); break;
	case EX_CUSTOM_RE: ex_custom_re(c, m, c->base + (size_t)from, end); break;
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
