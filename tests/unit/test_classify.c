/*
 * Unit tests for the built-in classifier: the validators (checksums and
 * ranges), the JSON walker (layout of the scan text, escapes, surrogates,
 * nested JSON, depth, broken JSON, base64 runs, span mapping), every
 * detector with positive and negative cases, span correctness against the
 * raw bytes (escaped ones included), redaction placeholders, custom rules
 * and the rules file, and -- given the generated corpus as argv[1] -- a
 * precision/recall run that fails when a structured type (payment cards,
 * IBAN, SSN, NINO, secrets, email, phone) is below 0.95.  Given the
 * warden-guard binary as argv[2], it also runs it end to end over the
 * guard protocol: handshake, a request, the reply's findings and
 * redactions, and the refusal of bad rules.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N"; the
 * exit status is non-zero on any failure.  The accuracy table is printed
 * as "# " lines (markdown) and, when CLASSIFY_REPORT names a file, written
 * there too.
 *
 * Secret-shaped test values are assembled at run time (prefix + body), so
 * this file holds nothing a secret scanner would flag.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/classify/classify.h"
#include "../../src/classify/guard_proto.h"
#include "../../src/classify/jsonwalk.h"
#include "../../src/classify/validate.h"
#include "../../src/lib/util.h"

#include "check.h"

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

static struct classify_rules *rules;	/* built-ins only, base64 -> internal */

/* ---- helpers ---------------------------------------------------------------- */

static struct classify_result
run(struct classify_rules *r, const char *body)
{
	struct classify_result res;
	struct werr err = { 0 };

	if (classify_body(r, body, strlen(body), &res, &err) < 0) {
		printf("# classify_body failed: %s\n", err.msg);
		memset(&res, 0, sizeof(res));
	}
	return res;
}

static const struct guard_finding *
find_type(const struct classify_result *res, const char *type)
{
	for (size_t i = 0; i < res->nfindings; i++) {
		if (strcmp(res->findings[i].type, type) == 0)
			return &res->findings[i];
	}
	return NULL;
}

/* body has a finding of type whose raw span is exactly the first occurrence of raw. */
static void
expect_span(struct classify_rules *r, const char *body, const char *type, const char *raw)
{
	struct classify_result res = run(r, body);
	const struct guard_finding *f = find_type(&res, type);
	const char *at = strstr(body, raw);
	size_t s = at ? (size_t)(at - body) : 0;

	if (CHECK(f != NULL, "%s found in %.60s", type, body) && at)
		CHECK(f->start == s && f->end == s + strlen(raw),
		    "%s span [%zu,%zu) is \"%.*s\" (want \"%s\")", type, f->start, f->end,
		    (int)(f->end - f->start), body + f->start, raw);
	classify_result_free(&res);
}

static void
expect_none(struct classify_rules *r, const char *body, const char *type)
{
	struct classify_result res = run(r, body);
	const struct guard_finding *f = find_type(&res, type);

	CHECK(f == NULL, "no %s in \"%.70s\"%s%.*s", type, body, f ? " (found: " : "",
	    f ? (int)(f->end - f->start) : 0, f ? body + f->start : "");
	classify_result_free(&res);
}

static char *
github_token(char kind, const char *random30)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint32_t crc = val_crc32(random30, 30);
	char cs[7] = { 0 };

	for (int i = 5; i >= 0; i--) {
		cs[i] = b62[crc % 62];
		crc /= 62;
	}
	return xasprintf("gh%c_%s%s", kind, random30, cs);
}

/* ---- validators -------------------------------------------------------------- */

static void
test_validators(void)
{
	char *tok;

	begin("validators");
	CHECK(val_luhn("79927398713", 11), "luhn: the classic example");
	CHECK(!val_luhn("79927398710", 11), "luhn: wrong check digit");
	CHECK(val_card("4111111111111111", 16), "visa test number");
	CHECK(val_card("378282246310005", 15), "amex test number");
	CHECK(val_card("5555555555554444", 16), "mastercard test number");
	CHECK(!val_card("4111111111111112", 16), "visa with a bad check digit");
	CHECK(!val_card("1234567812345670", 16), "valid luhn but no issuer starts with 1");
	CHECK(!val_card("378282246310005", 14), "wrong length");
	CHECK_INT(val_iban_length("DE"), 22);
	CHECK_INT(val_iban_length("GB"), 22);
	CHECK_INT(val_iban_length("XX"), 0);
	CHECK(val_iban_mod97("DE89370400440532013000", 22), "iban mod 97: DE example");
	CHECK(val_iban_mod97("GB82WEST12345698765432", 22), "iban mod 97: GB example");
	CHECK(!val_iban_mod97("GB82WEST12345698765433", 22), "iban mod 97: one digit off");
	tok = github_token('p', "FbY8NwcUeb4c0wrUGZECjUYrZUPet9");
	CHECK(val_github_checksum(tok, strlen(tok)), "github checksum of a generated token");
	tok[39] = tok[39] == 'A' ? 'B' : 'A';
	CHECK(!val_github_checksum(tok, strlen(tok)), "github checksum: last character changed");
	free(tok);
	CHECK(val_us_ssn(123, 45, 6788), "ssn in range");
	CHECK(!val_us_ssn(0, 45, 6788), "ssn area 000");
	CHECK(!val_us_ssn(666, 45, 6788), "ssn area 666");
	CHECK(!val_us_ssn(912, 45, 6788), "ssn area 9xx");
	CHECK(!val_us_ssn(123, 0, 6788), "ssn group 00");
	CHECK(!val_us_ssn(123, 45, 0), "ssn serial 0000");
	CHECK(!val_us_ssn(78, 5, 1120), "ssn: the Woolworth card");
	CHECK(val_uk_nino("AB123456C", 9), "nino");
	CHECK(!val_uk_nino("GB123456C", 9), "nino: GB prefix");
	CHECK(!val_uk_nino("DA123456C", 9), "nino: D first");
	CHECK(!val_uk_nino("AB123456E", 9), "nino: suffix E");
	CHECK(val_icd10('E', 11), "icd10 E11");
	CHECK(!val_icd10('D', 95), "icd10 D95 is past chapter III");
	CHECK(!val_icd10('U', 99), "icd10 U99");
	CHECK_INT(val_phone_cc("14155552671", 11), 1);
	CHECK_INT(val_phone_cc("442079460958", 12), 2);
	CHECK_INT(val_phone_cc("353861234567", 12), 3);
	CHECK_INT(val_phone_cc("0123", 4), 0);
	CHECK(val_jwt_header("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", 36), "jwt header with alg");
	CHECK(!val_jwt_header("eyJmb28iOiJiYXIifQ", 18), "jwt header without alg");
	CHECK(!val_jwt_header("not*base64", 10), "jwt header that is not base64url");
}

/* ---- walker -------------------------------------------------------------------- */

/* The decoded text must hold want at the offset where raw starts in body, and map back to raw. */
static void
walk_expect(struct jwalk *w, const char *body, const char *raw, const char *want)
{
	struct jwalk_view v;
	const char *at = strstr(body, raw);
	size_t off, rs, re;

	jwalk_run(w, body, strlen(body), &v);
	if (!CHECK(at && v.json, "walked as JSON: %.50s", body))
		return;
	off = (size_t)(at - body);
	CHECK(memcmp(v.text + off, want, strlen(want)) == 0, "decoded \"%s\" at %zu", want, off);
	jwalk_span(w, off, off + strlen(want), &rs, &re);
	CHECK(rs == off && re == off + strlen(raw), "span of \"%s\" is [%zu,%zu) (want [%zu,%zu))",
	    want, rs, re, off, off + strlen(raw));
}

static void
test_walker(void)
{
	struct jwalk *w = jwalk_new();
	struct jwalk_view v;
	struct jwalk_stats st;
	size_t rs, re;
	char *deep, *b64;
	struct sbuf sb;

	begin("walker");
	{
		const char *b = "{\"k\": \"value\", \"n\": [1, 2.5e3, true, null]}";

		jwalk_run(w, b, strlen(b), &v);
		CHECK(v.json && v.len == strlen(b), "plain JSON walked");
		CHECK(memcmp(v.text + 7, "value", 5) == 0 && v.text[6] == 0 && v.text[12] == 0,
		    "a string sits at its raw offset, quotes are NUL");
		CHECK(v.text[2] == 'k' && v.text[0] == 0, "keys are kept, braces are NUL");
		CHECK(memcmp(v.text + 24, "2.5e3", 5) == 0, "numbers are kept");
		CHECK(v.text[33] == 0, "literals are NUL");
	}
	walk_expect(w, "{\"a\":\"x\\ny\"}", "x\\ny", "x\ny");
	walk_expect(w, "{\"a\":\"caf\\u00e9!\"}", "caf\\u00e9!", "caf\xc3\xa9!");
	walk_expect(w, "[\"\\ud83d\\ude00 ok\"]", "\\ud83d\\ude00 ok", "\xf0\x9f\x98\x80 ok");
	walk_expect(w, "[\"a\\/b\"]", "a\\/b", "a/b");
	walk_expect(w, "[\"lone \\udc00 x\"]", "lone \\udc00 x", "lone \xef\xbf\xbd x");
	{
		/* Half of an escape maps to the whole escape. */
		const char *b = "[\"ab\\u00e9cd\"]";

		jwalk_run(w, b, strlen(b), &v);
		jwalk_span(w, 4, 5, &rs, &re);
		CHECK(rs == 4 && re == 10, "second byte of a UTF-8 escape maps to [4,10) (got [%zu,%zu))",
		    rs, re);
		jwalk_span(w, 3, 7, &rs, &re);
		CHECK(rs == 3 && re == 11, "span over an escape keeps neighbours [3,11) (got [%zu,%zu))",
		    rs, re);
	}
	{
		/* Many escapes: checkpoints are used. */
		struct sbuf b;

		sbuf_init(&b, 1 << 20);
		sbuf_adds(&b, "[\"");
		for (int i = 0; i < 200; i++)
			sbuf_adds(&b, "\\t");
		sbuf_adds(&b, "target\"]");
		sbuf_add(&b, "", 1);
		jwalk_run(w, b.p, strlen(b.p), &v);
		CHECK(memcmp(v.text + 2 + 200, "target", 6) == 0, "decoded text after 200 escapes");
		jwalk_span(w, 2 + 200, 2 + 206, &rs, &re);
		CHECK(rs == 402 && re == 408, "span after 200 escapes [402,408) (got [%zu,%zu))", rs, re);
		jwalk_span(w, 2 + 150, 2 + 151, &rs, &re);
		CHECK(rs == 302 && re == 304, "the 151st escape maps to [302,304) (got [%zu,%zu))", rs, re);
		sbuf_free(&b);
	}
	{
		const char *bad[] = { "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"tab\there\"}",
			"{\"a\":1} trailing", "{\"a\":01}", "{\"a\" 1}", "[1,]", "{\"a\":tru}",
			"{\"a\":\"unterminated}", "[\"x\"", "hello {\"a\":1}" };

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			jwalk_run(w, bad[i], strlen(bad[i]), &v);
			CHECK(!v.json && v.text == bad[i], "not JSON, scanned as text: %s", bad[i]);
		}
	}
	{
		const char *b = "{\"tool\":{\"arguments\":\"{\\\"to\\\":\\\"bob\\\\u0040x.io\\\",\\\"n\\\":[1,2]}\"}}";
		const char *raw = strstr(b, "bob");
		size_t off = (size_t)(raw - b), t;
		const char *dec;

		jwalk_run(w, b, strlen(b), &v);
		jwalk_stats(w, &st);
		CHECK(v.json && st.nested == 1, "nested JSON in a string is walked (nested %zu)", st.nested);
		dec = memmem(v.text, v.len, "bob@x.io", 8);
		CHECK(dec != NULL, "nested value decoded twice");
		t = dec ? (size_t)(dec - v.text) : 0;
		jwalk_span(w, t, t + 8, &rs, &re);
		CHECK(rs == off && re == off + strlen("bob\\\\u0040x.io"),
		    "nested span covers the doubly escaped bytes [%zu,%zu) (got [%zu,%zu))", off,
		    off + strlen("bob\\\\u0040x.io"), rs, re);
	}
	{
		const char *b = "{\"a\":\"{not json}\"}";

		jwalk_run(w, b, strlen(b), &v);
		jwalk_stats(w, &st);
		CHECK(v.json && st.nested == 0 && memcmp(v.text + 6, "{not json}", 10) == 0,
		    "JSON-looking content that does not parse is a plain string");
	}
	{
		/* JSON in JSON in JSON ... deeper than JW_MAX_NEST: the rest is a plain string. */
		char *s = xstrdup("{\"v\":\"deep\"}");

		for (int i = 0; i < JW_MAX_NEST + 2; i++) {
			struct sbuf e;

			sbuf_init(&e, 1 << 24);
			sbuf_adds(&e, "[");
			sbuf_add_json(&e, s);
			sbuf_adds(&e, "]");
			sbuf_add(&e, "", 1);
			free(s);
			s = e.p;
		}
		jwalk_run(w, s, strlen(s), &v);
		jwalk_stats(w, &st);
		CHECK(v.json && st.nested == JW_MAX_NEST, "nesting stops at %d levels (got %zu)",
		    JW_MAX_NEST, st.nested);
		free(s);
	}
	sbuf_init(&sb, 1 << 20);
	for (int i = 0; i < 1000; i++)
		sbuf_adds(&sb, "[");
	sbuf_adds(&sb, "\"x\"");
	for (int i = 0; i < 1000; i++)
		sbuf_adds(&sb, "]");
	sbuf_add(&sb, "", 1);
	jwalk_run(w, sb.p, strlen(sb.p), &v);
	CHECK(v.json, "1000 levels of arrays are JSON");
	sbuf_free(&sb);
	deep = xcalloc(2 * (JW_MAX_DEPTH + 1) + 1, 1);
	memset(deep, '[', JW_MAX_DEPTH + 1);
	memset(deep + JW_MAX_DEPTH + 1, ']', JW_MAX_DEPTH + 1);
	jwalk_run(w, deep, strlen(deep), &v);
	CHECK(!v.json, "deeper than JW_MAX_DEPTH: text");
	free(deep);

	b64 = xcalloc(2000, 1);
	memcpy(b64, "{\"img\":\"data:image/png;base64,", 30);
	for (int i = 0; i < 300; i++)
		b64[30 + i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7) % 64];
	memcpy(b64 + 330, "==\",\"t\":\"hi\"}", 14);
	jwalk_run(w, b64, strlen(b64), &v);
	CHECK(v.nholes == 1 && v.holes[0].off == 30 && v.holes[0].len == 302,
	    "data URL: one hole over the payload (got %zu holes, [%zu,+%zu))", v.nholes,
	    v.nholes ? v.holes[0].off : 0, v.nholes ? v.holes[0].len : 0);
	b64[30 + 200] = ' ';
	jwalk_run(w, b64, strlen(b64), &v);
	CHECK(v.nholes == 0, "runs shorter than %d are scanned (got %zu holes)", JW_B64_MIN, v.nholes);
	free(b64);
	{
		const char *b = "{\"card\":4111111111111111,\"n\":12}";

		jwalk_run(w, b, strlen(b), &v);
		CHECK(jwalk_in_number(w, 8) && jwalk_in_number(w, 23) && !jwalk_in_number(w, 2),
		    "long numbers are known as numbers");
	}
	jwalk_free(w);
}

/* ---- detectors -------------------------------------------------------------------- */

static void
test_secrets(void)
{
	char *tok, *s, *bad;

	begin("secrets");
	tok = github_token('p', "aZ3kQ9mW2xL7vB4nR8tY1uI5oP0sD6");
	s = xasprintf("export GITHUB_TOKEN=%s", tok);
	expect_span(rules, s, "secret.github", tok);
	free(s);
	bad = xstrdup(tok);
	bad[39] = bad[39] == 'A' ? 'B' : 'A';
	s = xasprintf("export GITHUB_TOKEN=%s", bad);
	expect_none(rules, s, "secret.github");
	free(s);
	s = xasprintf("x%s", tok);
	expect_none(rules, s, "secret.github");
	free(s);
	free(bad);
	free(tok);
	s = xasprintf("pat %s%s_%s", "github_", "pat_11ABCDEFG0123456789abc",
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456");
	expect_span(rules, s, "secret.github", s + 4);
	free(s);
	expect_span(rules, "id AKIAIOSFODNN7EXAMPLE here", "secret.aws_access_key",
	    "AKIAIOSFODNN7EXAMPLE");
	expect_span(rules, "{\"aws_secret_access_key\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"}",
	    "secret.aws_secret_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	expect_none(rules, "no key here: 0123456789abcdef0123456789abcdef01234567", "secret.aws_secret_key");
	expect_none(rules, "AKIAiosfodnn7example is lower case", "secret.aws_access_key");
	/* Object keys are scanned like values: a key is as good a hiding place. */
	expect_span(rules, "{\"AKIAIOSFODNN7EXAMPLE\": true}", "secret.aws_access_key",
	    "AKIAIOSFODNN7EXAMPLE");
	s = xasprintf("key=%s%s", "sk-", "ant-api03-Abc123def456GHI789jkl012MNO345pqr678STU901vwx234YZA567bcd890EFG123hij456KLMnop789QRS-_AA");
	expect_span(rules, s, "secret.anthropic_key", s + 4);
	expect_none(rules, s, "secret.openai_key");
	free(s);
	s = xasprintf("OPENAI_API_KEY=%s%s", "sk-", "proj-Abc123def456GHI789jkl012MNO345pqr678STU901vwx234YZA");
	expect_span(rules, s, "secret.openai_key", s + 15);
	free(s);
	expect_none(rules, "set OPENAI_API_KEY=sk-your-key-here", "secret.openai_key");
	expect_none(rules, "use sk-learn for that", "secret.openai_key");
	s = xasprintf("%s%s", "xoxb-", "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx");
	expect_span(rules, s, "secret.slack_token", s);
	free(s);
	expect_none(rules, "SLACK_TOKEN=xoxb-your-bot-token-goes-here", "secret.slack_token");
	s = xasprintf("hook https://%s%s", "hooks.slack.com/services/", "T0123ABCD/B0123ABCD/AbCdEfGhIjKlMnOpQrStUvWx");
	expect_span(rules, s, "secret.slack_webhook", s + 5);
	free(s);
	s = xasprintf("stripe %s%s", "sk_" "live_", "4eC39HqLyjWDarjtT1zdp7dc9Zz");
	expect_span(rules, s, "secret.stripe_key", s + 7);
	free(s);
	expect_none(rules, "stripe sk_test_4eC39HqLyjWDarjtT1zdp7dc", "secret.stripe_key");
	expect_span(rules, "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
	    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "secret.jwt",
	    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
	    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
	expect_none(rules, "eyJmb28iOiJiYXIifQ.eyJmb28iOiJiYXIifQ.abc", "secret.jwt");
	expect_span(rules, "k: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY----- done",
	    "secret.private_key", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----");
	expect_none(rules, "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----", "secret.private_key");
	{
		/* In JSON the key's newlines are escapes: the span is the raw escaped text. */
		const char *b = "{\"k\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\"}";

		expect_span(rules, b, "secret.private_key",
		    "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----");
	}
	s = xasprintf("maps %s%s", "AIza", "SyD-abcdefghijklmnopqrstuvwxyz01234");
	expect_span(rules, s, "secret.google_api_key", s + 5);
	free(s);
}

static void
test_financial(void)
{
	begin("financial and government ids");
	expect_span(rules, "card 4111 1111 1111 1111 exp", "payment_card", "4111 1111 1111 1111");
	expect_span(rules, "card 4111-1111-1111-1111.", "payment_card", "4111-1111-1111-1111");
	expect_span(rules, "amex 3782 822463 10005 ok", "payment_card", "3782 822463 10005");
	expect_span(rules, "mc 5555555555554444", "payment_card", "5555555555554444");
	expect_span(rules, "order 2024 4111111111111111 shipped", "payment_card", "4111111111111111");
	expect_none(rules, "card 4111 1111 1111 1112", "payment_card");
	expect_none(rules, "pi is 3.1415926535897932", "payment_card");
	expect_none(rules, "total 1,234,567,890,123,456", "payment_card");
	expect_none(rules, "mixed 4111 1111-1111 1111", "payment_card");
	expect_none(rules, "ref ID4111111111111111", "payment_card");
	expect_span(rules, "{\"card\": 4111111111111111}", "payment_card", "4111111111111111");
	expect_span(rules, "IBAN DE89 3704 0044 0532 0130 00 EUR", "iban", "DE89 3704 0044 0532 0130 00");
	expect_span(rules, "to GB82WEST12345698765432.", "iban", "GB82WEST12345698765432");
	expect_none(rules, "to GB82WEST12345698765433.", "iban");
	expect_none(rules, "to DE89370400440532013000123", "iban");
	expect_span(rules, "SSN 123-45-6788.", "us_ssn", "123-45-6788");
	expect_none(rules, "SSN 000-45-6788.", "us_ssn");
	expect_none(rules, "SSN 666-45-6788.", "us_ssn");
	expect_none(rules, "SSN 912-45-6788.", "us_ssn");
	expect_none(rules, "SSN 123-00-6788.", "us_ssn");
	expect_none(rules, "SSN 123-45-0000.", "us_ssn");
	expect_none(rules, "part 1-123-45-6788-2", "us_ssn");
	expect_span(rules, "social security number: 123456788", "us_ssn", "123456788");
	expect_span(rules, "{\"ssn\": \"123 45 6788\"}", "us_ssn", "123 45 6788");
	expect_none(rules, "order number 123456788", "us_ssn");
	expect_span(rules, "NI AB123456C.", "uk_nino", "AB123456C");
	expect_span(rules, "NI AB 12 34 56 C.", "uk_nino", "AB 12 34 56 C");
	expect_none(rules, "NI GB123456C.", "uk_nino");
}

static void
test_health(void)
{
	begin("health");
	expect_span(rules, "code E11.9 on the claim", "health.icd10", "E11.9");
	expect_span(rules, "ICD-10: E119", "health.icd10", "E119");
	expect_span(rules, "{\"dx\": \"I10\"}", "health.icd10", "I10");
	expect_none(rules, "Take the A10 to the airport", "health.icd10");
	expect_none(rules, "upgrade to version V12.1 now", "health.icd10");
	expect_none(rules, "release 1.2.A12.3.4", "health.icd10");
	expect_span(rules, "I have Type 2 Diabetes.", "health.diagnosis", "Diabetes");
	expect_span(rules, "positive for HIV", "health.diagnosis", "HIV");
	expect_none(rules, "first aids kit", "health.diagnosis");
	expect_none(rules, "hearing AIDS-free", "health.medication");
	expect_span(rules, "on metformin since May", "health.medication", "metformin");
	expect_none(rules, "metformins2 is a variable", "health.medication");
	expect_span(rules, "resting heart rate 52", "health.biometric", "resting heart rate");
	expect_span(rules, "{\"resting_heart_rate\": 48}", "health.biometric", "resting_heart_rate");
	expect_span(rules, "result: 110mg/dL", "health.biometric", "mg/dL");
	expect_none(rules, "What is a normal resting heart rate?", "health.biometric");
	expect_none(rules, "what is HRV?", "health.biometric");
}

static void
test_contact(void)
{
	begin("contact");
	expect_span(rules, "mail bob.smith+x@mail.example.co.uk, thanks", "email",
	    "bob.smith+x@mail.example.co.uk");
	expect_none(rules, "git clone git@github.com:org/repo.git", "email");
	expect_none(rules, "npm i lodash@4.17.21", "email");
	expect_none(rules, "ping @alice please", "email");
	expect_none(rules, "root@localhost", "email");
	expect_span(rules, "call +1 (415) 555-2671 now", "phone", "+1 (415) 555-2671");
	expect_span(rules, "call (415) 555-2671.", "phone", "(415) 555-2671");
	expect_span(rules, "call 415-555-2671", "phone", "415-555-2671");
	expect_span(rules, "ring +44 20 7946 0958", "phone", "+44 20 7946 0958");
	expect_span(rules, "ring +44 (0)20 7946 0958", "phone", "+44 (0)20 7946 0958");
	expect_span(rules, "ring 020 7946 0958", "phone", "020 7946 0958");
	expect_span(rules, "sms +14155552671", "phone", "+14155552671");
	expect_none(rules, "on 2024-01-15 at 10:30", "phone");
	expect_none(rules, "host 192.168.100.200", "phone");
	expect_none(rules, "ISBN 978-3-16-148410-0", "phone");
	expect_none(rules, "call 123-456-7890", "phone");
	expect_none(rules, "version 1.2.3", "phone");
}

/* ---- spans, redactions, tiers ------------------------------------------------------ */

static void
test_redactions(void)
{
	struct classify_result res;
	const char *b;

	begin("spans and redactions");
	/* An email whose '@' is escaped: the span is the raw bytes, escape included. */
	expect_span(rules, "{\"c\":\"write to a\\u0040b.io today\"}", "email", "a\\u0040b.io");
	/* A card in tool-call arguments (nested JSON, escaped twice). */
	expect_span(rules, "{\"arguments\":\"{\\\"card\\\":\\\"4111\\\\u00201111 1111 1111\\\"}\"}",
	    "payment_card", "4111\\\\u00201111 1111 1111");
	b = "{\"a\":\"x@y.io and z@w.io and x@y.io\",\"b\":\"call 415-555-2671\"}";
	res = run(rules, b);
	if (CHECK_INT(res.nredactions, 4)) {
		CHECK_STR(res.redactions[0].placeholder, "[EMAIL_1]");
		CHECK_STR(res.redactions[1].placeholder, "[EMAIL_2]");
		CHECK_STR(res.redactions[2].placeholder, "[EMAIL_1]");
		CHECK_STR(res.redactions[3].placeholder, "[PHONE_1]");
		CHECK(res.redactions[0].end <= res.redactions[1].start &&
		    res.redactions[1].end <= res.redactions[2].start, "redactions sorted, disjoint");
	}
	CHECK_INT(res.tier, TIER_INTERNAL);
	classify_result_free(&res);

	res = run(rules, "{\"card\": 4111111111111111, \"t\": \"x\"}");
	CHECK(res.nfindings == 1 && res.nredactions == 0,
	    "a card sent as a JSON number is found, not redacted (%zu findings, %zu redactions)",
	    res.nfindings, res.nredactions);
	classify_result_free(&res);

	res = run(rules, "hello there, nothing to see");
	CHECK(res.tier == TIER_PUBLIC && res.nfindings == 0, "harmless text is public");
	classify_result_free(&res);

	res = run(rules, "email a@b.io, card 4111111111111111, key AKIAIOSFODNN7EXAMPLE");
	CHECK_INT(res.tier, TIER_RESTRICTED);
	CHECK_INT(res.nfindings, 3);
	classify_result_free(&res);
}

static char *
image_body(size_t n)
{
	struct sbuf b;

	sbuf_init(&b, 1 << 24);
	sbuf_adds(&b, "{\"messages\":[{\"content\":[{\"type\":\"image\",\"data\":\"");
	for (size_t i = 0; i < n; i++)
		sbuf_add(&b, &"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTExMTExMTExMTExMTEx"[i % 56], 1);
	sbuf_adds(&b, "\"},{\"type\":\"text\",\"text\":\"what is this?\"}]}]}");
	sbuf_add(&b, "", 1);
	return b.p;
}

static void
test_opaque(void)
{
	struct classify_config cfg = { NULL, 0, TIER_PUBLIC };
	struct classify_rules *pub;
	struct classify_result res;
	struct werr err;
	char *b = image_body(4000);

	begin("opaque base64");
	res = run(rules, b);
	CHECK(res.nfindings == 1 && strcmp(res.findings[0].type, "opaque.base64") == 0 &&
	    res.findings[0].end - res.findings[0].start == 4000, "one opaque finding over the blob");
	CHECK(res.nredactions == 0, "opaque runs are not redacted");
	CHECK_INT(res.tier, TIER_INTERNAL);
	classify_result_free(&res);
	pub = classify_rules_new(&cfg, &err);
	if (CHECK(pub != NULL, "rules with base64_min_tier public")) {
		res = run(pub, b);
		CHECK(res.nfindings == 1 && res.tier == TIER_PUBLIC, "base64_min_tier public: tier public");
		classify_result_free(&res);
		classify_rules_free(pub);
	}
	free(b);
}

static void
test_custom(void)
{
	static const char *const terms[] = { "project nightingale", "Blue-Heron" };
	struct classify_custom custom[] = {
		{ "codename", terms, 2, NULL, TIER_CONFIDENTIAL },
		{ "emp", NULL, 0, "EMP-[0-9]{6}", TIER_INTERNAL },
	};
	struct classify_config cfg = { custom, 2, TIER_INTERNAL };
	struct classify_custom bad[] = { { "broken", NULL, 0, "([a-z", TIER_INTERNAL } };
	struct classify_config badcfg = { bad, 1, TIER_INTERNAL };
	struct classify_rules *r;
	struct classify_result res;
	struct werr err = { 0 };

	begin("custom rules");
	r = classify_rules_new(&cfg, &err);
	if (!CHECK(r != NULL, "custom rules compile: %s", err.msg))
		return;
	expect_span(r, "status of Project Nightingale?", "custom.codename", "Project Nightingale");
	expect_span(r, "{\"t\":\"the blue-heron plan\"}", "custom.codename", "blue-heron");
	expect_none(r, "the blue-herons flew", "custom.codename");
	expect_span(r, "badge EMP-123456 lost", "custom.emp", "EMP-123456");
	res = run(r, "Project Nightingale, EMP-000001");
	CHECK_INT(res.tier, TIER_CONFIDENTIAL);
	if (CHECK_INT(res.nredactions, 2))
		CHECK_STR(res.redactions[0].placeholder, "[CUSTOM_CODENAME_1]");
	classify_result_free(&res);
	classify_rules_free(r);
	r = classify_rules_new(&badcfg, &err);
	CHECK(r == NULL && strstr(err.msg, "broken"), "a bad pattern names its rule: %s", err.msg);
	classify_rules_free(r);
}

static void
test_config(void)
{
	struct classify_config cfg;
	void *st;
	struct werr err = { 0 };
	const char *good = "{\"base64_min_tier\":\"confidential\",\"custom\":["
	    "{\"name\":\"codename\",\"terms\":[\"project nightingale\"],\"tier\":\"confidential\"},"
	    "{\"name\":\"emp\",\"pattern\":\"EMP-[0-9]{6}\",\"tier\":\"internal\"}]}";
	const char *bad[] = {
		"[]", "{\"custom\":[{\"name\":\"x\",\"tier\":\"internal\"}]}",
		"{\"custom\":[{\"name\":\"x\",\"terms\":[\"a\"],\"pattern\":\"b\",\"tier\":\"internal\"}]}",
		"{\"custom\":[{\"name\":\"x\",\"terms\":[\"a\"],\"tier\":\"secret\"}]}",
		"{\"custom\":[{\"name\":\"x y\",\"terms\":[\"a\"],\"tier\":\"internal\"}]}",
		"{\"extra\":1}", "{\"custom\":[{\"name\":\"x\",\"terms\":[],\"tier\":\"internal\"}]}",
		"{\"custom\":[{\"name\":\"x\",\"terms\":[\"a\"],\"tier\":\"internal\"},"
		"{\"name\":\"x\",\"terms\":[\"b\"],\"tier\":\"internal\"}]}", "{not json",
	};

	begin("rules file");
	if (CHECK(classify_config_load(good, strlen(good), &cfg, &st, &err) == 0, "valid rules: %s",
	    err.msg)) {
		CHECK(cfg.base64_min_tier == TIER_CONFIDENTIAL && cfg.ncustom == 2 &&
		    strcmp(cfg.custom[0].name, "codename") == 0 && cfg.custom[0].nterms == 1 &&
		    cfg.custom[1].pattern && cfg.custom[1].tier == TIER_INTERNAL, "rules read back");
		classify_config_free(&cfg, st);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err.msg[0] = 0;
		CHECK(classify_config_load(bad[i], strlen(bad[i]), &cfg, &st, &err) < 0 && err.msg[0],
		    "refused: %s (%s)", bad[i], err.msg);
	}
}

/* ---- the corpus ---------------------------------------------------------------------- */

#define MAX_TYPES 64

struct tally {
	char type[48];
	size_t tp, fp, fn;
	size_t adv_tp, adv_n;	/* split_blocks: reported, not counted */
};

static struct tally *
tally_for(struct tally *t, size_t *n, const char *type)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(t[i].type, type) == 0)
			return &t[i];
	}
	if (*n >= MAX_TYPES)
		return NULL;
	memset(&t[*n], 0, sizeof(t[*n]));
	snprintf(t[*n].type, sizeof(t[*n].type), "%s", type);
	return &t[(*n)++];
}

static bool
has_label(json_t *labels, const char *type)
{
	size_t i;
	json_t *v;

	json_array_foreach(labels, i, v) {
		if (strcmp(json_string_value(v), type) == 0)
			return true;
	}
	return false;
}

static bool
structured(const char *type)
{
	static const char *const s[] = { "payment_card", "iban", "us_ssn", "uk_nino", "email", "phone" };

	if (strncmp(type, "secret.", 7) == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(s); i++) {
		if (strcmp(type, s[i]) == 0)
			return true;
	}
	return false;
}

static int
tally_order(const void *a, const void *b)
{
	return strcmp(((const struct tally *)a)->type, ((const struct tally *)b)->type);
}

static void
test_corpus(const char *path)
{
	struct tally t[MAX_TYPES];
	size_t nt = 0, samples = 0, bytes = 0;
	char *data = NULL, *line;
	size_t len = 0;
	struct werr err = { 0 };
	uint64_t t0, t1;
	FILE *rep = getenv("CLASSIFY_REPORT") ? fopen(getenv("CLASSIFY_REPORT"), "w") : NULL;

	begin("corpus");
	if (!CHECK(read_file(path, 256u << 20, &data, &len, &err) == 0, "read %s: %s", path, err.msg))
		return;
	t0 = now_ns();
	for (line = data; line && *line;) {
		char *nl = strchr(line, '\n');
		json_error_t je;
		json_t *o, *labels;
		const char *body, *variant;
		size_t blen;
		struct classify_result res;
		size_t i;
		json_t *lv;

		if (nl)
			*nl = 0;
		o = json_loads(line, 0, &je);
		line = nl ? nl + 1 : NULL;
		if (!o)
			continue;
		body = json_string_value(json_object_get(o, "body"));
		blen = json_string_length(json_object_get(o, "body"));
		labels = json_object_get(o, "labels");
		variant = json_string_value(json_object_get(o, "variant"));
		if (!body || !labels || !variant || classify_body(rules, body, blen, &res, &err) < 0) {
			json_decref(o);
			continue;
		}
		samples++;
		bytes += blen;
		if (strcmp(variant, "split_blocks") == 0) {
			json_array_foreach(labels, i, lv) {
				struct tally *x = tally_for(t, &nt, json_string_value(lv));

				if (x) {
					x->adv_n++;
					x->adv_tp += find_type(&res, json_string_value(lv)) != NULL;
				}
			}
		} else {
			json_array_foreach(labels, i, lv) {
				struct tally *x = tally_for(t, &nt, json_string_value(lv));

				if (x && find_type(&res, json_string_value(lv)))
					x->tp++;
				else if (x) {
					x->fn++;
					if (getenv("CLASSIFY_VERBOSE"))
						printf("# FN %s (%s): %.300s\n", x->type, variant, body);
				}
			}
			for (i = 0; i < res.nfindings; i++) {
				struct tally *x;

				/* Count each reported type once per sample. */
				if (find_type(&res, res.findings[i].type) != &res.findings[i] ||
				    has_label(labels, res.findings[i].type))
					continue;
				x = tally_for(t, &nt, res.findings[i].type);
				if (x)
					x->fp++;
				if (getenv("CLASSIFY_VERBOSE"))
					printf("# FP %s (%s): \"%.*s\" in %.300s\n", res.findings[i].type,
					    variant, (int)(res.findings[i].end - res.findings[i].start),
					    body + res.findings[i].start, body);
			}
		}
		classify_result_free(&res);
		json_decref(o);
	}
	t1 = now_ns();
	free(data);
	CHECK(samples > 1000, "%zu samples read", samples);
	qsort(t, nt, sizeof(t[0]), tally_order);
	printf("# %zu samples, %.1f MB, %.1f ms (sanitizer build)\n", samples, bytes / 1e6,
	    (t1 - t0) / 1e6);
	printf("# | type | samples | TP | FP | FN | precision | recall | split_blocks recall |\n");
	if (rep)
		fprintf(rep, "| type | labelled | TP | FP | FN | precision | recall | split across blocks (not counted) |\n"
		    "|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < nt; i++) {
		double p = t[i].tp + t[i].fp ? (double)t[i].tp / (double)(t[i].tp + t[i].fp) : 1.0;
		double r = t[i].tp + t[i].fn ? (double)t[i].tp / (double)(t[i].tp + t[i].fn) : 1.0;
		char adv[32] = "-";

		if (t[i].adv_n)
			snprintf(adv, sizeof(adv), "%zu/%zu", t[i].adv_tp, t[i].adv_n);
		printf("# | %s | %zu | %zu | %zu | %zu | %.3f | %.3f | %s |\n", t[i].type,
		    t[i].tp + t[i].fn, t[i].tp, t[i].fp, t[i].fn, p, r, adv);
		if (rep)
			fprintf(rep, "| %s | %zu | %zu | %zu | %zu | %.3f | %.3f | %s |\n", t[i].type,
			    t[i].tp + t[i].fn, t[i].tp, t[i].fp, t[i].fn, p, r, adv);
		if (structured(t[i].type)) {
			CHECK(p >= 0.95, "%s precision %.3f >= 0.95", t[i].type, p);
			CHECK(r >= 0.95, "%s recall %.3f >= 0.95", t[i].type, r);
		}
	}
	if (rep)
		fclose(rep);
}


/* ---- warden-guard end to end ---------------------------------------------------------- */

/* Read one whole frame from fd into *buf; returns its length, or -1. */
static ssize_t
read_frame(int fd, struct sbuf *buf, struct guard_frame *f)
{
	const char *why = NULL;

	buf->len = 0;
	for (;;) {
		char chunk[65536];
		ssize_t k = guard_frame_parse(buf->p, buf->len, GUARD_MAX_FRAME, f, &why);
		ssize_t n;

		if (k != 0)
			return k;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			return -1;
		sbuf_add(buf, chunk, (size_t)n);
	}
}

static pid_t
spawn_guard(const char *path, const char *rules_path, int *fd, int *errfd)
{
	int sv[2], ep[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(ep, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(sv[1], 3);
		dup2(ep[1], 2);
		setenv("WARDEN_GUARD_FD", "3", 1);
		execl(path, "warden-guard", "--rules", rules_path, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	close(ep[1]);
	*fd = sv[0];
	*errfd = ep[0];
	return pid;
}

static void
test_guard_main(const char *path)
{
	char rpath[] = "/tmp/warden-guard-rules-XXXXXX";
	const char *good = "{\"custom\":[{\"name\":\"codename\",\"terms\":[\"project nightingale\"],"
	    "\"tier\":\"confidential\"}]}";
	const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"mail a\\u0040b.io "
	    "about Project Nightingale\"}]}";
	struct guard_request req = { .id = 7, .deadline_ms = 2000, .format = "anthropic",
		.provider = "p", .host = "h", .path = "/v1/messages", .model = "m", .sandbox = "s",
		.binary = "", .pid = 1, .body = body, .body_len = strlen(body) };
	struct guard_hello_reply hr;
	struct guard_reply reply;
	struct guard_frame f;
	struct sbuf out, in;
	char why[200], errbuf[512] = "";
	int fd, errfd, status, tfd;
	pid_t pid;

	begin("warden-guard");
	tfd = mkstemp(rpath);
	if (!CHECK(tfd >= 0 && write_all(tfd, good, strlen(good)) == 0, "rules file written"))
		return;
	close(tfd);
	pid = spawn_guard(path, rpath, &fd, &errfd);
	if (!CHECK(pid > 0, "warden-guard started"))
		goto out;
	sbuf_init(&out, GUARD_MAX_FRAME);
	sbuf_init(&in, GUARD_MAX_FRAME);
	guard_hello_encode(&out);
	CHECK(write_all(fd, out.p, out.len) == 0, "hello sent");
	if (CHECK(read_frame(fd, &in, &f) > 0, "hello answered") &&
	    CHECK(guard_hello_reply_decode(&f, &hr, why, sizeof(why)) == 0, "hello reply: %s", why))
		CHECK(hr.version == 1 && strcmp(hr.name, "warden-guard") == 0 && !hr.error[0],
		    "hello: version %d, name %s", hr.version, hr.name);
	out.len = 0;
	guard_request_encode(&req, &out);
	CHECK(write_all(fd, out.p, out.len) == 0, "request sent");
	if (CHECK(read_frame(fd, &in, &f) > 0, "request answered") &&
	    CHECK(guard_reply_decode(&f, req.body_len, &reply, why, sizeof(why)) == 0,
	    "reply decodes: %s", why)) {
		CHECK(reply.id == 7 && reply.decision == GUARD_ALLOW, "allow, id 7");
		CHECK_INT(reply.tier, TIER_CONFIDENTIAL);
		CHECK_INT(reply.nfindings, 2);
		if (CHECK_INT(reply.nredactions, 2)) {
			CHECK_STR(reply.redactions[0].placeholder, "[EMAIL_1]");
			CHECK(reply.redactions[0].end - reply.redactions[0].start == strlen("a\\u0040b.io"),
			    "the email's span covers its escape");
			CHECK_STR(reply.redactions[1].placeholder, "[CUSTOM_CODENAME_1]");
		}
		guard_reply_free(&reply);
	}
	close(fd);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "end of stream: exit 0 (status %d)", status);
	close(errfd);
	sbuf_free(&out);
	sbuf_free(&in);

	/* Bad rules: one line on stderr, exit 1, before any request. */
	tfd = open(rpath, O_WRONLY | O_TRUNC);
	if (tfd >= 0) {
		const char *bad = "{\"custom\":[{\"name\":\"broken\",\"pattern\":\"([a-z\",\"tier\":\"internal\"}]}";
		ssize_t n;

		CHECK(write_all(tfd, bad, strlen(bad)) == 0, "bad rules written");
		close(tfd);
		pid = spawn_guard(path, rpath, &fd, &errfd);
		if (pid > 0) {
			n = read(errfd, errbuf, sizeof(errbuf) - 1);
			errbuf[n > 0 ? n : 0] = 0;
			CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			    WEXITSTATUS(status) == 1, "bad rules: exit 1");
			CHECK(strstr(errbuf, "broken") && strchr(errbuf, '\n') == errbuf + strlen(errbuf) - 1,
			    "one line naming the rule: %s", errbuf);
			close(fd);
			close(errfd);
		}
	}
out:
	unlink(rpath);
}

int
main(int argc, char **argv)
{
	struct classify_config cfg = { NULL, 0, TIER_INTERNAL };
	struct werr err = { 0 };

	rules = classify_rules_new(&cfg, &err);
	if (!rules) {
		printf("not ok 1 - rules: %s\n", err.msg);
		return 1;
	}
	test_validators();
	test_walker();
	test_secrets();
	test_financial();
	test_health();
	test_contact();
	test_redactions();
	test_opaque();
	test_custom();
	test_config();
	if (argc > 1)
		test_corpus(argv[1]);
	else
		printf("# no corpus given: accuracy not measured\n");
	if (argc > 2)
		test_guard_main(argv[2]);
	classify_rules_free(rules);
	printf("1..%d\n# %d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
