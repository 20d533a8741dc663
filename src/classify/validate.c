/*
 * Checksums and range rules for the built-in detectors (validate.h).
 *
 * The tables here are the published registries as of 2024: the SWIFT IBAN
 * registry, the ITU-T E.164 country code list, the WHO ICD-10 chapters.
 * They change rarely; a missing entry costs recall for that one country,
 * never a false positive elsewhere.
 */
#include "validate.h"

#include <string.h>

/* ---- CRC-32 ---------------------------------------------------------------- */

static uint32_t crc_table[256];
static bool crc_ready;

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	crc_ready = true;
}

uint32_t
val_crc32(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t c = 0xFFFFFFFFu;

	/* Idempotent: two threads racing here write the same values. */
	if (!crc_ready)
		crc_init();
	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ s[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* ---- payment cards ----------------------------------------------------------- */

bool
val_luhn(const char *d, size_t n)
{
	unsigned sum = 0;
	bool dbl = false;

	if (n == 0)
		return false;
	for (size_t i = n; i-- > 0;) {
		unsigned v;

		if (d[i] < '0' || d[i] > '9')
			return false;
		v = (unsigned)(d[i] - '0');
		if (dbl) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
		dbl = !dbl;
	}
	return sum % 10 == 0;
}

/* The number formed by the first k digits. */
static unsigned
prefix(const char *d, size_t k)
{
	unsigned v = 0;

	for (size_t i = 0; i < k; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

static bool
in(unsigned v, unsigned lo, unsigned hi)
{
	return v >= lo && v <= hi;
}

/* Issuer identification ranges (ISO/IEC 7812) with each scheme's lengths. */
static bool
card_scheme(const char *d, size_t n)
{
	unsigned p1 = prefix(d, 1), p2 = prefix(d, 2), p3 = prefix(d, 3);
	unsigned p4 = prefix(d, 4), p6 = prefix(d, 6);
	bool long_ok = n >= 16 && n <= 19;

	if (p1 == 4)					/* Visa */
		return n == 13 || n == 16 || n == 19;
	if (in(p2, 51, 55) || in(p4, 2221, 2720))	/* Mastercard */
		return n == 16;
	if (p2 == 34 || p2 == 37)			/* American Express */
		return n == 15;
	if (in(p4, 2200, 2204))				/* Mir */
		return long_ok;
	if (p4 == 6011 || in(p3, 644, 649) || p2 == 65 || in(p6, 622126, 622925))
		return long_ok;				/* Discover */
	if (in(p4, 3528, 3589))				/* JCB */
		return long_ok;
	if (in(p3, 300, 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39)
		return n >= 14 && n <= 19;		/* Diners Club */
	if (p2 == 62)					/* UnionPay */
		return long_ok;
	if (p4 == 5018 || p4 == 5020 || p4 == 5038 || p4 == 5893 || p4 == 6304 ||
	    p4 == 6759 || in(p4, 6761, 6763))		/* Maestro */
		return n >= 13 && n <= 19;
	return false;
}

bool
val_card(const char *d, size_t n)
{
	if (n < 13 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (d[i] < '0' || d[i] > '9')
			return false;
	}
	return card_scheme(d, n) && val_luhn(d, n);
}

/* ---- IBAN ---------------------------------------------------------------------- */

static const struct {
	char cc[3];
	unsigned char len;
} iban_lengths[] = {
	{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
	{"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22},
	{"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20},
	{"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
	{"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
	{"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
	{"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
	{"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
	{"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
	{"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33},
	{"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
	{"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
	{"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

unsigned
val_iban_length(const char *cc)
{
	for (size_t i = 0; i < sizeof(iban_lengths) / sizeof(iban_lengths[0]); i++) {
		if (iban_lengths[i].cc[0] == cc[0] && iban_lengths[i].cc[1] == cc[1])
			return iban_lengths[i].len;
	}
	return 0;
}

/*
 * Move the first four characters to the end, read letters as 10..35, and
 * take the whole number mod 97; it must be 1.  Done digit by digit, so no
 * big numbers are needed.
 */
bool
val_iban_mod97(const char *s, size_t n)
{
	unsigned r = 0;

	if (n < 5)
		return false;
	for (size_t k = 0; k < n; k++) {
		char c = s[(k + 4) % n];

		if (c >= '0' && c <= '9')
			r = (r * 10 + (unsigned)(c - '0')) % 97;
		else if (c >= 'A' && c <= 'Z')
			r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
		else
			return false;
	}
	return r == 1;
}

/* ---- GitHub tokens ------------------------------------------------------------- */

bool
val_github_checksum(const char *tok, size_t n)
{
	static const char b62[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char want[6];
	uint32_t crc;

	if (n != 40 || tok[3] != '_')
		return false;
	crc = val_crc32(tok + 4, 30);
	for (int i = 5; i >= 0; i--) {
		want[i] = b62[crc % 62];
		crc /= 62;
	}
	return memcmp(want, tok + 34, 6) == 0;
}

/* ---- government identifiers ---------------------------------------------------- */

bool
val_us_ssn(unsigned area, unsigned group, unsigned serial)
{
	if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
		return false;
	if ((area == 78 && group == 5 && serial == 1120) ||
	    (area == 219 && group == 9 && serial == 9999) ||
	    (area == 123 && group == 45 && serial == 6789))
		return false;
	return true;
}

bool
val_uk_nino(const char *p, size_t n)
{
	static const char *const bad_prefix[] = { "BG", "GB", "KN", "NK", "NT", "TN", "ZZ" };

	if (n != 9)
		return false;
	if (!(p[0] >= 'A' && p[0] <= 'Z') || strchr("DFIQUV", p[0]))
		return false;
	if (!(p[1] >= 'A' && p[1] <= 'Z') || strchr("DFIOQUV", p[1]))
		return false;
	for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
		if (p[0] == bad_prefix[i][0] && p[1] == bad_prefix[i][1])
			return false;
	}
	for (int i = 2; i < 8; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
	}
	return p[8] >= 'A' && p[8] <= 'D';
}

/* ---- health ------------------------------------------------------------------ */

bool
val_icd10(char letter, unsigned v)
{
	if (v > 99)
		return false;
	switch (letter) {
	case 'C': return v <= 97;
	case 'D': return v <= 89;
	case 'E': return v <= 90;
	case 'H': return v <= 95;
	case 'K': return v <= 95;
	case 'P': return v <= 96;
	case 'T': return v <= 98;
	case 'U': return v <= 85;
	default: return letter >= 'A' && letter <= 'Z';
	}
}

/* ---- phone numbers ------------------------------------------------------------- */

/*
 * E.164 country codes.  One digit: 1 (NANP) and 7.  Two digits: the list
 * below.  Three digits: every code whose first two digits are one of the
 * "zone" prefixes in the second list (e.g. 35x, 97x); a few unassigned
 * three-digit codes pass, which only matters for a number that is
 * otherwise phone-shaped.
 */
unsigned
val_phone_cc(const char *d, size_t n)
{
	static const unsigned char two[] = {
		20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49,
		51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84,
		86, 90, 91, 92, 93, 94, 95, 98,
	};
	static const unsigned char three[] = {
		21, 22, 23, 24, 25, 26, 28, 29, 35, 37, 38, 42, 50, 59, 67, 68, 69, 80,
		85, 87, 88, 96, 97, 99,
	};
	unsigned p2;

	if (n < 1 || d[0] < '1' || d[0] > '9')
		return 0;
	if (d[0] == '1' || d[0] == '7')
		return 1;
	if (n < 3 || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9')
		return 0;
	p2 = prefix(d, 2);
	for (size_t i = 0; i < sizeof(two); i++) {
		if (two[i] == p2)
			return 2;
	}
	for (size_t i = 0; i < sizeof(three); i++) {
		if (three[i] == p2)
			return 3;
	}
	return 0;
}

/* ---- JWT --------------------------------------------------------------------- */

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

bool
val_jwt_header(const char *seg, size_t n)
{
	unsigned char out[768];
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	size_t i = 0;

	if (n < 4 || n > 1024)
		return false;
	for (i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)seg[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	for (i = 0; i < o && (out[i] == ' ' || out[i] == '\t' || out[i] == '\r' || out[i] == '\n'); i++)
		;
	if (i >= o || out[i] != '{')
		return false;
	return memmem(out, o, "\"alg\"", 5) != NULL;
}
