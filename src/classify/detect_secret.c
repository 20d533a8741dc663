/*
 * Extractors for secrets (detect_int.h): private keys, cloud and LLM
 * provider keys, GitHub, Slack and Stripe tokens, JWTs.  Every one is
 * triggered by a literal prefix and reads the rest itself: the token's
 * alphabet and length, its boundaries (a token glued to more token
 * characters is something else), and where one exists, its checksum or
 * structure (GitHub's CRC32, a JWT header that decodes to JSON with
 * "alg").  Placeholders in documentation ("sk-your-key-here",
 * "ghp_xxxx...") fail those checks.
 */
#include <string.h>

#include "detect_int.h"
#include "validate.h"

static bool
in_charset(unsigned char ch, int cs)
{
	switch (cs) {
	case CS_SLACK: return is_alnum(ch) || ch == '-';
	case CS_ALNUM: return is_alnum(ch);
	default: return is_tok(ch);
	}
}

/*
 * A PEM private key, "-----BEGIN [WORD ]{0,3}PRIVATE KEY[ BLOCK]-----",
 * through its END line, or to the end of its string when the END line
 * is missing (what follows the header is the key either way).
 */
void
det_pem(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, p = end, stop;
	const unsigned char *e;

	if (s < c->done[EX_PEM])
		return;
	for (int w = 0;; w++) {
		size_t q = p;

		if (c->len - p >= 11 && memcmp(t + p, "PRIVATE KEY", 11) == 0)
			break;
		if (w == 3)
			return;
		while (q < c->len && q - p < 24 && is_upnum(t[q]))
			q++;
		if (q == p || q >= c->len || t[q] != ' ')
			return;
		p = q + 1;
	}
	p += 11;
	if (c->len - p >= 6 && memcmp(t + p, " BLOCK", 6) == 0)
		p += 6;
	if (c->len - p < 5 || memcmp(t + p, "-----", 5) != 0)
		return;
	p += 5;
	stop = det_seg_end(c, p, 64 * 1024);
	e = memmem(t + p, stop - p, "-----END ", 9);
	if (e) {
		size_t k = (size_t)(e - t) + 9, lim = stop - k < 96 ? stop : k + 96;
		const unsigned char *f = memmem(t + k, lim - k, "-----", 5);

		if (f)
			stop = (size_t)(f - t) + 5;
	}
	det_hit(c, s, stop, DT_PRIVATE_KEY, "pem");
	c->done[EX_PEM] = stop;
}

static bool
is_awssec(unsigned char ch)
{
	return is_alnum(ch) || ch == '/' || ch == '+';
}

static bool
is_aws_id(unsigned char ch)
{
	return is_upper(ch) || (ch >= '2' && ch <= '7');
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
		    det_mixed(t, i, j)) {
			*ks = i;
			return true;
		}
		i = j;
	}
	return false;
}

/* An access key id (AKIA... and the other prefixes, 16 more of A-Z2-7), and its secret nearby. */
void
det_aws_id(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, e = end + 16, k;

	if ((s > 0 && is_alnum(t[s - 1])) || c->len < e || det_run(c, end, is_aws_id, 16) != e ||
	    (e < c->len && is_alnum(t[e])))
		return;
	det_hit(c, s, e, DT_AWS_ACCESS_KEY, "format");
	if (aws_secret_in(c, e, c->len - e < 200 ? c->len : e + 200, &k) ||
	    aws_secret_in(c, s > 200 ? s - 200 : 0, s, &k))
		det_hit(c, k, k + 40, DT_AWS_SECRET_KEY, "context");
}

/* "aws_secret_access_key" and its spellings: the secret follows. */
void
det_aws_ctx(struct scan *c, size_t end)
{
	size_t k;

	if (aws_secret_in(c, end, c->len - end < 80 ? c->len : end + 80, &k))
		det_hit(c, k, k + 40, DT_AWS_SECRET_KEY, "context");
}

/*
 * Tokens of a fixed length after their prefix, standing alone: Google API
 * keys (AIza + 35), GitHub tokens (ghp_ + 36, the last 6 a CRC32 of the
 * 30 before), GitHub fine-grained tokens (github_pat_ + 22 + '_' + 59).
 */
void
det_fixed(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, q = end;
	const char *v = "format";

	if (s > 0 && is_tok(t[s - 1]))
		return;
	while (q < c->len && q - s < m->minlen && in_charset(t[q], m->charset))
		q++;
	if (q - s != m->minlen || (q < c->len && is_tok(t[q])))
		return;
	if (m->type == DT_GITHUB && m->minlen == 40) {
		if (!val_github_checksum((const char *)t + s, 40))
			return;
		v = "crc32";
	} else if (m->type == DT_GITHUB) {
		for (size_t i = end; i < q; i++) {
			if (i == s + 33 ? t[i] != '_' : !is_alnum(t[i]))
				return;
		}
	}
	det_hit(c, s, q, m->type, v);
}

/* Tokens known by a prefix ("sk-ant-", "xoxb-", "sk_live_"), read to their end. */
void
det_prefix(struct scan *c, const struct pat_meta *m, size_t end)
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
	} else if (!det_mixed(t, end, j)) {
		return;
	}
	det_hit(c, s, j, m->type, "format");
	c->done[EX_PREFIX] = j;
}

static bool is_alnum_p(unsigned char ch) { return is_alnum(ch); }
static bool is_upnum_p(unsigned char ch) { return is_upnum(ch); }
static bool is_b64url(unsigned char ch) { return is_tok(ch); }

/* https://hooks.slack.com/services/T.../B.../secret */
void
det_slack_hook(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, p = end;

	if (p >= c->len || t[p] != 'T' || !(p = det_run(c, p + 1, is_upnum_p, 6)))
		return;
	if (p + 1 >= c->len || t[p] != '/' || t[p + 1] != 'B' || !(p = det_run(c, p + 2, is_upnum_p, 6)))
		return;
	if (p >= c->len || t[p] != '/' || !(p = det_run(c, p + 1, is_alnum_p, 16)))
		return;
	if (s >= 8 && memcmp(t + s - 8, "https://", 8) == 0)
		s -= 8;
	det_hit(c, s, p, DT_SLACK_WEBHOOK, "format");
}

/* header.payload.signature, base64url, the header decoding to JSON with "alg". */
void
det_jwt(struct scan *c, const struct pat_meta *m, size_t end)
{
	const unsigned char *t = c->t;
	size_t s = end - m->width, h, p, g;

	if (s < c->done[EX_JWT] || (s > 0 && (is_tok(t[s - 1]) || t[s - 1] == '.')))
		return;
	h = det_run(c, s, is_b64url, 0);
	c->done[EX_JWT] = h;	/* an "eyJ" later in this run is part of it */
	if (h - s < 8 || h >= c->len || t[h] != '.')
		return;
	p = det_run(c, h + 1, is_b64url, 2);
	if (!p || p >= c->len || t[p] != '.')
		return;
	g = p + 1;
	while (g < c->len && is_b64url(t[g]))
		g++;
	if (g < c->len && t[g] == '.')
		return;
	c->done[EX_JWT] = g;
	if (val_jwt_header((const char *)t + s, h - s))
		det_hit(c, s, g, DT_JWT, "jwt");
}
