/*
 * Extractors for identifiers (detect_int.h): payment cards, IBANs, US
 * Social Security and UK National Insurance numbers, phone numbers, email
 * addresses.
 *
 * All but email start from one trigger: two digits anywhere.  det_digits
 * finds the run of digits around the match and offers it to each shape
 * that can contain it -- the card and phone extractors read the whole run
 * of digit groups around it, the fixed shapes (AAA-GG-SSSS, two letters
 * before an IBAN's check digits, a NINO's letters) look at the bytes
 * around the run.  Each remembers how far it has read, so the digit pairs
 * inside one number cost a comparison each.
 */
#include <string.h>

#include "detect_int.h"
#include "validate.h"

/* ---- payment cards -------------------------------------------------------------- */

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
			det_hit(c, g[i].s, g[best].e, DT_PAYMENT_CARD, "luhn");
			i = best + 1;
		} else {
			i++;
		}
	}
}

static void
card_at(struct scan *c, size_t end)
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

/* ---- IBAN, SSN, NINO ---------------------------------------------------------------- */

/*
 * An IBAN whose check digits are the run at ds: two capital letters
 * before it (the country), the country's registered length, groups of
 * four optionally separated by single spaces, and ISO 7064 mod 97-10.
 */
static void
iban_at(struct scan *c, size_t ds, size_t de)
{
	const unsigned char *t = c->t;
	size_t s, p, k = 0;
	unsigned want;
	char buf[40];

	if (ds < 2 || de - ds < 2 || !is_upper(t[ds - 2]) || !is_upper(t[ds - 1]))
		return;
	s = ds - 2;
	if (s < c->done[EX_IBAN] || (s > 0 && is_alnum(t[s - 1])))
		return;
	want = val_iban_length((const char *)t + s);
	if (!want)
		return;
	for (p = s; k < want && p < c->len;) {
		if (is_upnum(t[p]))
			buf[k++] = (char)t[p++];
		else if (t[p] == ' ' && k > 0 && k % 4 == 0 && p + 1 < c->len && is_upnum(t[p + 1]))
			p++;
		else
			break;
	}
	if (k != want || (p < c->len && is_alnum(t[p])) || !val_iban_mod97(buf, k))
		return;
	det_hit(c, s, p, DT_IBAN, "mod97");
	c->done[EX_IBAN] = p;
}

static bool
digits_at(const struct scan *c, size_t p, size_t n)
{
	if (c->len - p < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(c->t[p + i]))
			return false;
	}
	return true;
}

/* AAA-GG-SSSS, standing alone, in the ranges ever issued. */
static void
ssn_at(struct scan *c, size_t ds, size_t de)
{
	const unsigned char *t = c->t;
	size_t e = ds + 11;

	if (de - ds != 3 || c->len < e || t[de] != '-' || !digits_at(c, de + 1, 2) ||
	    t[de + 3] != '-' || !digits_at(c, de + 4, 4))
		return;
	if ((ds > 0 && (is_alnum(t[ds - 1]) || t[ds - 1] == '-' || t[ds - 1] == '_')) ||
	    (e < c->len && (is_alnum(t[e]) || t[e] == '-' || t[e] == '_')))
		return;
	if (val_us_ssn(det_num(t + ds, 3), det_num(t + de + 1, 2), det_num(t + de + 4, 4)))
		det_hit(c, ds, e, DT_US_SSN, "range");
}

/* "AB123456C" (the run is the 6 digits) or "AB 12 34 56 C" (the run is "12"). */
static void
nino_at(struct scan *c, size_t ds, size_t de)
{
	const unsigned char *t = c->t;
	size_t s, e;
	char buf[9];

	if (de - ds == 6 && ds >= 2 && is_upper(t[ds - 2]) && is_upper(t[ds - 1]) && de < c->len) {
		s = ds - 2;
		e = de + 1;
		memcpy(buf, t + s, 9);
	} else if (de - ds == 2 && ds >= 3 && t[ds - 1] == ' ' && is_upper(t[ds - 3]) &&
	    is_upper(t[ds - 2]) && c->len - ds >= 10 && t[de] == ' ' && digits_at(c, de + 1, 2) &&
	    t[de + 3] == ' ' && digits_at(c, de + 4, 2) && t[de + 6] == ' ') {
		s = ds - 3;
		e = ds + 10;
		buf[0] = (char)t[s];
		buf[1] = (char)t[s + 1];
		memcpy(buf + 2, t + ds, 2);
		memcpy(buf + 4, t + de + 1, 2);
		memcpy(buf + 6, t + de + 4, 2);
		buf[8] = (char)t[e - 1];
	} else {
		return;
	}
	if ((s > 0 && is_alnum(t[s - 1])) || (e < c->len && is_alnum(t[e])))
		return;
	if (val_uk_nino(buf, 9))
		det_hit(c, s, e, DT_UK_NINO, "format");
}

/* After "SSN" or "social security number": the first number, 9 digits plain or grouped. */
void
det_ssn_ctx(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t lim = c->len - end < 40 ? c->len : end + 40;

	if (!det_word(c, end - m->width, end))
		return;
	for (size_t p = end; p < lim; p++) {
		size_t q = p;

		if (!is_digit(t[p]))
			continue;
		while (q < c->len && is_digit(t[q]))
			q++;
		if (q - p == 9 && (q == c->len || !is_alnum(t[q]))) {
			if (val_us_ssn(det_num(t + p, 3), det_num(t + p + 3, 2), det_num(t + p + 5, 4)))
				det_hit(c, p, q, DT_US_SSN, "range");
		} else if (q - p == 3 && c->len - p >= 11 && (t[q] == ' ' || t[q] == '-') &&
		    is_digit(t[q + 1]) && is_digit(t[q + 2]) && t[q + 3] == t[q] &&
		    is_digit(t[q + 4]) && is_digit(t[q + 5]) && is_digit(t[q + 6]) && is_digit(t[q + 7]) &&
		    (q + 8 == c->len || !is_alnum(t[q + 8])) &&
		    val_us_ssn(det_num(t + p, 3), det_num(t + q + 1, 2), det_num(t + q + 4, 4))) {
			det_hit(c, p, q + 8, DT_US_SSN, "range");
		}
		return;
	}
}

/* ---- email ------------------------------------------------------------------------ */

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

void
det_email(struct scan *c, size_t end)
{
	const unsigned char *t = c->t;
	size_t at = end - 1, ls = at, de = at + 1;

	if (at < c->done[EX_EMAIL] || at == 0 || de >= c->len || !is_alnum(t[de]))
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
	det_hit(c, ls, de, DT_EMAIL, "format");
}

/* ---- phone numbers ------------------------------------------------------------- */

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
phone_at(struct scan *c, size_t end)
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
			det_hit(c, s, g[next - 1].e, DT_PHONE, "format");
			k = next;
		} else {
			k++;
		}
	}
}

/* ---- the digit trigger ----------------------------------------------------------- */

void
det_digits(struct scan *c, size_t end)
{
	const unsigned char *t = c->t;
	size_t ds = end - 2, de = end;

	if (end <= c->done[EX_DIGITS])
		return;
	while (ds > 0 && is_digit(t[ds - 1]))
		ds--;
	while (de < c->len && is_digit(t[de]))
		de++;
	c->done[EX_DIGITS] = de;
	card_at(c, de);
	phone_at(c, de);
	ssn_at(c, ds, de);
	iban_at(c, ds, de);
	nino_at(c, ds, de);
	det_icd_at(c, ds, de);
}
