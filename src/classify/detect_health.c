/*
 * Extractors for health data (detect_int.h): ICD-10 codes and the health
 * vocabulary (health_terms.h).
 *
 * The rules (docs/classifier.md): an ICD-10 code counts in its dotted form
 * ("E11.9") anywhere, and without the dot ("E119", "I10") only within 80
 * bytes of "ICD", "diagnosis" or "dx" -- a letter and two digits is far
 * too common otherwise ("route A10", "seat C12"); both are refused after
 * words that say the token is something else ("version V12.1").  A
 * diagnosis or medication term alone is a finding; a lab or biometric
 * measure only with a number near it ("HRV" in a question is not health
 * data, "HRV 42 ms" is).
 */
#include <string.h>
#include <strings.h>

#include "detect_int.h"
#include "validate.h"

/* ---- ICD-10 ------------------------------------------------------------------------- */

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
	    !val_icd10((char)t[s], det_num(t + s + 1, 2)))
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

/* A dotted code whose two digits are the run at ds: "E11.9", "J45.909". */
void
det_icd_at(struct scan *c, size_t ds, size_t de)
{
	const unsigned char *t = c->t;
	size_t s = ds - 1, e;

	if (ds < 1 || de - ds != 2 || !is_upper(t[s]) || de + 1 >= c->len || t[de] != '.' ||
	    !is_digit(t[de + 1]))
		return;
	if (s > 0 && (is_alnum(t[s - 1]) || t[s - 1] == '.' || t[s - 1] == '-' || t[s - 1] == '/'))
		return;
	e = icd_code_end(c, s, true);
	if (e && !icd_decoy(c, s))
		det_hit(c, s, e, DT_ICD10, "chapter");
}

/* Near "ICD-10", "diagnosis", "dx": codes without the dot too ("E119", "I10"). */
void
det_icd_ctx(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, a = end > 80 ? end - 80 : 0;
	size_t b = c->len - end < 80 ? c->len : end + 80;

	/* "diagnos" starts a word ("diagnosis"); "icd" and "dx" are words ("ICD-10"). */
	if ((s > 0 && is_alnum(t[s - 1])) || (m->unit && end < c->len && is_alpha(t[end])))
		return;
	/* Keywords close together share their windows: each byte is looked at once. */
	if (a < c->done[EX_ICD_CTX])
		a = c->done[EX_ICD_CTX];
	c->done[EX_ICD_CTX] = b;

	for (size_t p = a; p < b; p++) {
		size_t e;

		if (!is_upper(t[p]) || (p > 0 && is_alnum(t[p - 1])))
			continue;
		e = icd_code_end(c, p, false);
		if (e && !icd_decoy(c, p))
			det_hit(c, p, e, DT_ICD10, "context");
	}
}

/* ---- vocabulary ------------------------------------------------------------------- */

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

void
det_term(struct scan *c, const struct pat_meta *m, size_t end)
{
	size_t s = end - m->width;

	if (term_alone(c, s, end, false) && !term_decoy(c, s, end))
		det_hit(c, s, end, m->type, "vocabulary");
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
void
det_measure(struct scan *c, const struct pat_meta *m, size_t end)
{
	size_t s = end - m->width;

	if (!term_alone(c, s, end, m->unit))
		return;
	if (digit_near(c, s, s > 32 ? s - 32 : 0) ||
	    digit_near(c, end, c->len - end < 40 ? c->len : end + 40))
		det_hit(c, s, end, DT_BIOMETRIC, "number");
}

