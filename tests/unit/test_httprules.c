/*
 * Unit tests for REST request inspection: request-target normalisation
 * (every encoded spelling that could make the proxy match one path and
 * the upstream serve another), the wire and audit forms, query parsing,
 * the rule decision on endpoints loaded from YAML with the real loader
 * (access presets, rules with query conditions, deny_rules, audit mode,
 * the endpoint's own path glob), and the HTTP/1.1 response parser's
 * framing, smuggling shapes included.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/policy/policy.h"
#include "../../src/proxy/http_parse.h"
#include "../../src/proxy/httprules.h"

#include "check.h"

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

/* Load a policy from YAML with the real loader; abort the run if it fails. */
static void
load(const char *yaml, struct policy *p)
{
	struct policy_diags d;

	if (policy_load_buffer("t.yaml", yaml, strlen(yaml), p, &d) != 0) {
		printf("# policy did not load:\n");
		policy_diags_print(&d, stdout);
		policy_diags_free(&d);
		printf("Bail out! test policy must load\n");
		exit(1);
	}
	policy_diags_free(&d);
}

/* ---- target normalisation ---------------------------------------------- */

struct tcase {
	const char *raw;
	bool slash_ok;		/* allow_encoded_slash */
	const char *path;	/* expected path, or NULL: refused */
	const char *wire;	/* expected wire (when path is set) */
	const char *why;	/* a word the refusal must contain (when path is NULL) */
};

static const struct tcase tcases[] = {
	/* plain */
	{ "/", false, "/", "/", NULL },
	{ "/a/b", false, "/a/b", "/a/b", NULL },
	{ "/a/b/", false, "/a/b/", "/a/b/", NULL },
	{ "*", false, "*", "*", NULL },
	{ "/a/b?x=1", false, "/a/b", "/a/b?x=1", NULL },
	{ "/a?", false, "/a", "/a?", NULL },
	{ "/?q", false, "/", "/?q", NULL },
	/* empty segments collapse */
	{ "//admin", false, "/admin", "/admin", NULL },
	{ "/a//b///c", false, "/a/b/c", "/a/b/c", NULL },
	{ "//", false, "/", "/", NULL },
	{ "/a//", false, "/a/", "/a/", NULL },
	/* dot segments */
	{ "/./a", false, "/a", "/a", NULL },
	{ "/a/./b", false, "/a/b", "/a/b", NULL },
	{ "/a/.", false, "/a/", "/a/", NULL },
	{ "/a/b/..", false, "/a/", "/a/", NULL },
	{ "/a/b/../c", false, "/a/c", "/a/c", NULL },
	{ "/a/..", false, "/", "/", NULL },
	{ "/.", false, "/", "/", NULL },
	{ "/a/../../x", false, NULL, NULL, "above the root" },
	{ "/..", false, NULL, NULL, "above the root" },
	{ "/../a", false, NULL, NULL, "above the root" },
	{ "/a/...", false, "/a/...", "/a/...", NULL },
	{ "/a/.b/..c", false, "/a/.b/..c", "/a/.b/..c", NULL },
	/* encoded dot segments are dot segments */
	{ "/repos/%2e%2e/admin", false, "/admin", "/admin", NULL },
	{ "/repos/x/%2E%2E/admin", false, "/repos/admin", "/repos/admin", NULL },
	{ "/repos/%2e/a", false, "/repos/a", "/repos/a", NULL },
	{ "/%2e%2e/admin", false, NULL, NULL, "above the root" },
	{ "/a/.%2e/%2e./x", false, NULL, NULL, "above the root" },
	/* path parameters on dot segments */
	{ "/public/..;/admin", false, NULL, NULL, "parameters" },
	{ "/public/.;x/admin", false, NULL, NULL, "parameters" },
	{ "/public/%2e%2e;/admin", false, NULL, NULL, "parameters" },
	{ "/a;b/c", false, "/a;b/c", "/a;b/c", NULL },
	/* double encoding */
	{ "/a/%252e%252e/admin", false, NULL, NULL, "double" },
	{ "/a/%252F", false, NULL, NULL, "double" },
	{ "/a/%2525", false, NULL, NULL, "double" },
	{ "/a/%25%32%46", false, NULL, NULL, "double" },
	{ "/a/%25", false, "/a/%", "/a/%25", NULL },
	{ "/a/%25x", false, "/a/%x", "/a/%25x", NULL },
	{ "/a/%25zz", false, "/a/%zz", "/a/%25zz", NULL },
	/* malformed escapes */
	{ "/a/%", false, NULL, NULL, "malformed" },
	{ "/a/%2", false, NULL, NULL, "malformed" },
	{ "/a/%zz", false, NULL, NULL, "malformed" },
	{ "/a/%g0", false, NULL, NULL, "malformed" },
	/* backslash, raw or encoded */
	{ "/a\\b", false, NULL, NULL, "backslash" },
	{ "/a/%5c..%5cadmin", false, NULL, NULL, "backslash" },
	{ "/a/%5C", false, NULL, NULL, "backslash" },
	/* NUL and control bytes */
	{ "/a%00b", false, NULL, NULL, "NUL" },
	{ "/a%0d%0aX:%20y", false, NULL, NULL, "control" },
	{ "/a%09", false, NULL, NULL, "control" },
	{ "/a%7f", false, NULL, NULL, "control" },
	/* raw bytes the request line may not have */
	{ "/a b", false, NULL, NULL, "control" },
	{ "/a#frag", false, NULL, NULL, "fragment" },
	{ "/a%23", false, "/a#", "/a%23", NULL },
	{ "a/b", false, NULL, NULL, "start with '/'" },
	{ "http://h/a", false, NULL, NULL, "start with '/'" },
	{ "**", false, NULL, NULL, "start with '/'" },
	{ "", false, NULL, NULL, "empty" },
	/* encoded slash */
	{ "/a/%2F..%2Fadmin", false, NULL, NULL, "encoded slash" },
	{ "/a/%2F..%2Fadmin", true, NULL, NULL, "dot segment next to an encoded slash" },
	{ "/a/..%2Fadmin", true, NULL, NULL, "encoded slash" },
	{ "/a/%2e%2e%2fadmin", true, NULL, NULL, "encoded slash" },
	{ "/a/x%2F.", true, NULL, NULL, "encoded slash" },
	{ "/npm/@scope%2Fpkg", false, NULL, NULL, "allow_encoded_slash" },
	{ "/npm/@scope%2Fpkg", true, "/npm/@scope%2Fpkg", "/npm/@scope%2Fpkg", NULL },
	{ "/npm/@scope%2fpkg", true, "/npm/@scope%2Fpkg", "/npm/@scope%2Fpkg", NULL },
	{ "/a/%2F%2F", true, "/a/%2F%2F", "/a/%2F%2F", NULL },
	{ "/a/%25%2F", true, "/a/%%2F", "/a/%25%2F", NULL },
	{ "/a/x%2F../b", true, NULL, NULL, "dot segment next to an encoded slash" },
	{ "/a/..;%2Fb", true, NULL, NULL, "parameters" },
	/* re-encoding */
	{ "/a/%41%62c", false, "/a/Abc", "/a/Abc", NULL },
	{ "/a/%7e%2d%5f", false, "/a/~-_", "/a/~-_", NULL },
	{ "/a/%3F%20b", false, "/a/? b", "/a/%3F%20b", NULL },
	{ "/a/%22%3c%3e", false, "/a/\"<>", "/a/%22%3C%3E", NULL },
	{ "/a/%5b%5d%7b%7d%7c%5e%60", false, "/a/[]{}|^`", "/a/%5B%5D%7B%7D%7C%5E%60", NULL },
	{ "/a/!$&'()*+,;=:@", false, "/a/!$&'()*+,;=:@", "/a/!$&'()*+,;=:@", NULL },
	{ "/a/[x]", false, "/a/[x]", "/a/%5Bx%5D", NULL },
	{ "/caf%C3%A9", false, "/caf\xc3\xa9", "/caf%C3%A9", NULL },
	{ "/a+b", false, "/a+b", "/a+b", NULL },
	/* invalid or overlong UTF-8 */
	{ "/a/%C0%AE%C0%AE/x", false, NULL, NULL, "UTF-8" },
	{ "/a/%C0%AF", false, NULL, NULL, "UTF-8" },
	{ "/a/%E0%80%AE", false, NULL, NULL, "UTF-8" },
	{ "/a/%ED%A0%80", false, NULL, NULL, "UTF-8" },
	{ "/a/%FF", false, NULL, NULL, "UTF-8" },
	{ "/a/%C3", false, NULL, NULL, "UTF-8" },
	{ "/a/%F0%9F%98%80", false, "/a/\xf0\x9f\x98\x80", "/a/%F0%9F%98%80", NULL },
	/* query escapes must be well formed too */
	{ "/a?x=%zz", false, NULL, NULL, "malformed percent-encoding in the query" },
	{ "/a?x=%", false, NULL, NULL, "malformed" },
	{ "/a?x=%00", false, NULL, NULL, "NUL" },
	{ "/a?x=a%2Fb%3F", false, "/a", "/a?x=a%2Fb%3F", NULL },
	{ "/a/%2e%2e?../../x", false, "/", "/?../../x", NULL },
};

static void
test_targets(void)
{
	begin("target normalisation table");
	for (size_t i = 0; i < ARRAY_SIZE(tcases); i++) {
		const struct tcase *c = &tcases[i];
		struct http_target t;
		const char *why = http_target_normalize(c->raw, strlen(c->raw), c->slash_ok, &t);

		if (c->path) {
			if (!CHECK(why == NULL, "'%s'%s accepted (got \"%s\")", c->raw,
			    c->slash_ok ? " (encoded slash allowed)" : "", why ? why : ""))
				continue;
			CHECK(strcmp(t.path, c->path) == 0, "'%s' path is '%s' (got '%s')", c->raw,
			    c->path, t.path);
			CHECK(strcmp(t.wire, c->wire) == 0, "'%s' wire is '%s' (got '%s')", c->raw,
			    c->wire, t.wire);
		} else {
			CHECK(why != NULL && strstr(why, c->why) != NULL,
			    "'%s'%s refused for \"%s\" (got \"%s\")", c->raw,
			    c->slash_ok ? " (encoded slash allowed)" : "", c->why, why ? why : "accepted");
			CHECK(t.path == NULL && t.wire == NULL && t.query == NULL && t.nquery == 0,
			    "'%s': a refusal leaves the target empty", c->raw);
		}
		http_target_free(&t);
	}
}

/*
 * The wire form must be a fixed point: sent upstream and normalised again
 * (by a server that decodes once), it is the same path.
 */
static void
test_wire_fixed_point(void)
{
	begin("wire form normalises to itself");
	for (size_t i = 0; i < ARRAY_SIZE(tcases); i++) {
		const struct tcase *c = &tcases[i];
		struct http_target t, t2;

		if (!c->path || http_target_normalize(c->raw, strlen(c->raw), c->slash_ok, &t))
			continue;
		if (CHECK(http_target_normalize(t.wire, strlen(t.wire), c->slash_ok, &t2) == NULL,
		    "wire of '%s' ('%s') accepted", c->raw, t.wire)) {
			CHECK(strcmp(t.path, t2.path) == 0 && strcmp(t.wire, t2.wire) == 0,
			    "wire of '%s' is a fixed point", c->raw);
			http_target_free(&t2);
		}
		http_target_free(&t);
	}
}

static void
test_target_limits(void)
{
	struct http_target t;
	char *big = xmalloc(HTTP_TARGET_MAX + 2);
	const char *why;

	begin("target limits");
	memset(big, 'a', HTTP_TARGET_MAX + 1);
	big[0] = '/';
	big[HTTP_TARGET_MAX + 1] = '\0';
	why = http_target_normalize(big, HTTP_TARGET_MAX, false, &t);
	CHECK(why == NULL && strlen(t.path) == HTTP_TARGET_MAX, "8192 bytes accepted");
	CHECK(t.audit && strlen(t.audit) <= HTTP_AUDIT_MAX, "audit form capped (%zu bytes)",
	    t.audit ? strlen(t.audit) : 0);
	CHECK(t.audit && strcmp(t.audit + strlen(t.audit) - 3, "...") == 0,
	    "a cut audit form ends in \"...\"");
	http_target_free(&t);
	why = http_target_normalize(big, HTTP_TARGET_MAX + 1, false, &t);
	CHECK(why && strstr(why, "8192"), "8193 bytes refused (%s)", why ? why : "accepted");
	free(big);

	/* ']' is sent as "%5D": 3000 of them are 9000 bytes upstream. */
	big = xmalloc(3002);
	big[0] = '/';
	memset(big + 1, ']', 3000);
	why = http_target_normalize(big, 3001, false, &t);
	CHECK(why && strstr(why, "re-encoded"), "a wire form over 8192 bytes refused (%s)",
	    why ? why : "accepted");
	why = http_target_normalize(big, 2000, false, &t);
	CHECK(why == NULL && strlen(t.wire) == 1 + 3 * 1999, "5997 bytes of wire form accepted");
	http_target_free(&t);
	free(big);

	/* A non-ASCII raw byte, and a NUL inside the length. */
	CHECK(http_target_normalize("/caf\xc3\xa9", 6, false, &t) != NULL, "raw UTF-8 refused");
	CHECK(http_target_normalize("/a\0b", 4, false, &t) != NULL, "raw NUL refused");
	CHECK(http_target_normalize(NULL, 0, false, &t) != NULL, "NULL refused");

	/* 256 parameters are fine, 257 are not. */
	{
		struct sbuf b;

		sbuf_init(&b, 1 << 20);
		sbuf_adds(&b, "/q?");
		for (int i = 0; i < 256; i++)
			sbuf_addf(&b, "p%d=%d&", i, i);
		why = http_target_normalize(b.p, b.len, false, &t);
		CHECK(why == NULL && t.nquery == 256, "256 query parameters accepted");
		CHECK(t.audit && strlen(t.audit) <= HTTP_AUDIT_MAX, "audit of 256 parameters capped");
		http_target_free(&t);
		sbuf_adds(&b, "p256=1");
		why = http_target_normalize(b.p, b.len, false, &t);
		CHECK(why && strstr(why, "256"), "257 query parameters refused");
		sbuf_free(&b);
	}

	/* Freeing twice, or a zeroed target, or NULL, is fine. */
	memset(&t, 0, sizeof(t));
	http_target_free(&t);
	http_target_free(&t);
	http_target_free(NULL);
	CHECK(true, "http_target_free is NULL- and zero-safe");
}

static void
test_audit_and_query(void)
{
	struct http_target t;
	static const struct {
		const char *raw, *audit;
	} ac[] = {
		{ "/search?q=secret&page=2", "/search?q=&page=" },
		{ "/search?q", "/search?q=" },
		{ "/search?&&a=1&&b&", "/search?a=&b=" },
		{ "/search?", "/search?" },
		{ "/search", "/search" },
		{ "/a/%2e%2e/b/%20?tok=abc", "/b/%20?tok=" },
		{ "/x?na%20me=v", "/x?na%20me=" },
		{ "/x?=v", "/x?=" },
		{ "*", "*" },
	};

	begin("audit form");
	for (size_t i = 0; i < ARRAY_SIZE(ac); i++) {
		if (!CHECK(http_target_normalize(ac[i].raw, strlen(ac[i].raw), false, &t) == NULL,
		    "'%s' accepted", ac[i].raw))
			continue;
		CHECK(strcmp(t.audit, ac[i].audit) == 0, "audit of '%s' is '%s' (got '%s')",
		    ac[i].raw, ac[i].audit, t.audit);
		http_target_free(&t);
	}

	begin("query parsing");
	static const char qs[] = "/s?a=1&b&c=x%3Dy&d=a+b%2B&&e=&a=2&f%5B%5D=z=w";

	if (CHECK(http_target_normalize(qs, sizeof(qs) - 1, false, &t) == NULL, "query accepted")) {
		static const char *const want[][2] = {
			{ "a", "1" }, { "b", "" }, { "c", "x=y" }, { "d", "a b+" }, { "e", "" },
			{ "a", "2" }, { "f[]", "z=w" },
		};

		CHECK_INT(t.nquery, ARRAY_SIZE(want));
		for (size_t i = 0; i < ARRAY_SIZE(want) && i < t.nquery; i++) {
			CHECK_STR(t.query[i].name, want[i][0]);
			CHECK_STR(t.query[i].value, want[i][1]);
		}
		CHECK_STR(t.wire, "/s?a=1&b&c=x%3Dy&d=a+b%2B&&e=&a=2&f%5B%5D=z=w");
		CHECK_STR(t.audit, "/s?a=&b=&c=&d=&e=&a=&f%5B%5D=");
		http_target_free(&t);
	}
	if (CHECK(http_target_normalize("/s", 2, false, &t) == NULL, "no query")) {
		CHECK(t.nquery == 0 && t.query == NULL, "no '?' gives no parameters");
		http_target_free(&t);
	}
}

/* ---- rule decisions ------------------------------------------------------- */

static const char rules_yaml[] =
    "version: 1\n"
    "network_policies:\n"
    "  gh:\n"
    "    endpoints:\n"
    /* 0: rules with globs and query conditions, deny_rules */
    "      - host: api.github.com\n"
    "        port: 443\n"
    "        protocol: rest\n"
    "        rules:\n"
    "          - allow:\n"
    "              method: GET\n"
    "              path: /repos/**\n"
    "              query:\n"
    "                per_page: \"*\"\n"
    "                state: {any: [open, closed]}\n"
    "          - allow: {method: GET, path: /repos/**}\n"
    "          - allow: {method: POST, path: /repos/*/*/issues}\n"
    "          - allow: {method: GET, path: /search, query: {q: \"repo:*\"}}\n"
    "          - allow: {method: GET, path: /files/*.txt, query: {v: \"?.?\"}}\n"
    "          - allow: {method: \"*\", path: /any/**}\n"
    "          - allow: {method: PUT, path: /npm/*}\n"
    "        deny_rules:\n"
    "          - method: DELETE\n"
    "          - method: \"*\"\n"
    "            path: /repos/*/*/rulesets\n"
    "          - {method: GET, path: /any/secret/**, query: {force: \"true\"}}\n"
    "        allow_encoded_slash: true\n"
    /* 1: same, in audit mode */
    "      - host: audit.example.com\n"
    "        port: 443\n"
    "        protocol: rest\n"
    "        enforcement: audit\n"
    "        rules:\n"
    "          - allow: {method: GET, path: /ok/**}\n"
    "        deny_rules:\n"
    "          - {method: GET, path: /ok/bad}\n"
    /* 2-4: presets */
    "      - host: ro.example.com\n"
    "        port: 443\n"
    "        protocol: rest\n"
    "        access: read-only\n"
    "        path: /v1/**\n"
    "      - host: rw.example.com\n"
    "        port: 443\n"
    "        protocol: rest\n"
    "        access: read-write\n"
    "        deny_rules:\n"
    "          - {method: POST, path: /admin/**}\n"
    "      - host: full.example.com\n"
    "        port: 443\n"
    "        protocol: rest\n"
    "        access: full\n"
    "        path: \"*\"\n"
    "    binaries:\n"
    "      - path: /usr/bin/curl\n";

struct rcase {
	int ep;
	const char *method, *target;
	enum http_verdict v;
	const char *matched;
	const char *reason;	/* a substring of the reason, or NULL */
};

static const struct rcase rcases[] = {
	/* query conditions: all named parameters present, every value admitted */
	{ 0, "GET", "/repos/o/r/issues?per_page=10&state=open", HTTP_ALLOW, "rules[0]", NULL },
	{ 0, "GET", "/repos/o/r/issues?per_page=10&state=closed&x=1", HTTP_ALLOW, "rules[0]", NULL },
	{ 0, "GET", "/repos/o/r/issues?state=open&state=closed&per_page=", HTTP_ALLOW, "rules[0]",
	  NULL },
	/* state=x sneaks nothing past rules[0]; rules[1] has no query condition */
	{ 0, "GET", "/repos/o/r/issues?per_page=1&state=open&state=x", HTTP_ALLOW, "rules[1]",
	  NULL },
	{ 0, "GET", "/repos/o/r/issues?per_page=1", HTTP_ALLOW, "rules[1]", NULL },
	{ 0, "GET", "/repos/o/r/issues?per_page=1&state=OPEN", HTTP_ALLOW, "rules[1]", NULL },
	/* query globs: '*' crosses '/', '?' is one byte, values are decoded */
	{ 0, "GET", "/search?q=repo:o/r", HTTP_ALLOW, "rules[3]", NULL },
	{ 0, "GET", "/search?q=repo%3Ao%2Fr", HTTP_ALLOW, "rules[3]", NULL },
	{ 0, "GET", "/search?q=repo:", HTTP_ALLOW, "rules[3]", NULL },
	{ 0, "GET", "/search?q=user:o", HTTP_DENY, "", "no rule allows GET /search?q=" },
	{ 0, "GET", "/search?q=repo:a&q=user:b", HTTP_DENY, "", "no rule allows" },
	{ 0, "GET", "/search", HTTP_DENY, "", "no rule allows GET /search" },
	{ 0, "GET", "/search?Q=repo:a", HTTP_DENY, "", NULL },
	{ 0, "GET", "/files/a.txt?v=1.2", HTTP_ALLOW, "rules[4]", NULL },
	{ 0, "GET", "/files/a.txt?v=1.23", HTTP_DENY, "", NULL },
	{ 0, "GET", "/files/a.txt?v=12", HTTP_DENY, "", NULL },
	{ 0, "GET", "/files/d/a.txt?v=1.2", HTTP_DENY, "", NULL },
	/* methods are case-sensitive; "*" in a rule is any method */
	{ 0, "get", "/repos/o/r", HTTP_DENY, "", "no rule allows get /repos/o/r" },
	{ 0, "POST", "/repos/o/r/issues", HTTP_ALLOW, "rules[2]", NULL },
	{ 0, "POST", "/repos/o/r/pulls", HTTP_DENY, "", NULL },
	{ 0, "PATCH", "/any/thing", HTTP_ALLOW, "rules[5]", NULL },
	{ 0, "BREW", "/any/", HTTP_ALLOW, "rules[5]", NULL },
	/* deny wins over allow rules */
	{ 0, "DELETE", "/any/thing", HTTP_DENY, "deny_rules[0]",
	  "request DELETE /any/thing matches deny_rules[0] of the endpoint" },
	{ 0, "GET", "/repos/o/r/rulesets", HTTP_DENY, "deny_rules[1]", NULL },
	/* deny rules also see the path without its trailing slash */
	{ 0, "GET", "/repos/o/r/rulesets/", HTTP_DENY, "deny_rules[1]", NULL },
	{ 0, "GET", "/repos/o/r/rulesets//", HTTP_DENY, "deny_rules[1]", NULL },
	{ 0, "GET", "/repos/o/r/rulesets/x", HTTP_ALLOW, "rules[1]", NULL },
	{ 0, "GET", "/any/secret/x?force=true", HTTP_DENY, "deny_rules[2]", NULL },
	/* deny rules: one matching value is enough (an upstream may read either) */
	{ 0, "GET", "/any/secret/x?force=true&force=false", HTTP_DENY, "deny_rules[2]", NULL },
	{ 0, "GET", "/any/secret/x?force=false&force=true", HTTP_DENY, "deny_rules[2]", NULL },
	{ 0, "GET", "/any/secret/x?force=tru%65", HTTP_DENY, "deny_rules[2]", NULL },
	{ 0, "GET", "/any/secret/x?force=false", HTTP_ALLOW, "rules[5]", NULL },
	/* normalised paths are what rules see */
	{ 0, "GET", "/repos/o/r/%72ulesets", HTTP_DENY, "deny_rules[1]", NULL },
	{ 0, "GET", "/repos//o/r/./rulesets", HTTP_DENY, "deny_rules[1]", NULL },
	{ 0, "GET", "/repos/o/r/x/../rulesets", HTTP_DENY, "deny_rules[1]", NULL },
	{ 0, "GET", "/any/y/%2e%2e/secret/x?force=true", HTTP_DENY, "deny_rules[2]", NULL },
	/* an encoded slash is data within one segment */
	{ 0, "PUT", "/npm/@scope%2Fpkg", HTTP_ALLOW, "rules[6]", NULL },
	{ 0, "PUT", "/npm/a/b", HTTP_DENY, "", NULL },
	/* reasons never show query values */
	{ 0, "GET", "/nowhere?token=hunter2", HTTP_DENY, "", "no rule allows GET /nowhere?token=" },
	/* audit mode */
	{ 1, "GET", "/ok/x", HTTP_ALLOW, "rules[0]", NULL },
	{ 1, "GET", "/ok/bad", HTTP_AUDIT, "deny_rules[0]",
	  "audit mode, would deny: request GET /ok/bad matches deny_rules[0]" },
	{ 1, "POST", "/ok/x", HTTP_AUDIT, "", "audit mode, would deny: no rule allows POST /ok/x" },
	/* read-only */
	{ 2, "GET", "/v1/a", HTTP_ALLOW, "access read-only", NULL },
	{ 2, "HEAD", "/v1/a", HTTP_ALLOW, "access read-only", NULL },
	{ 2, "OPTIONS", "*", HTTP_ALLOW, "access read-only", NULL },
	{ 2, "POST", "/v1/a", HTTP_DENY, "", "no rule allows POST /v1/a (access read-only" },
	{ 2, "PUT", "/v1/a", HTTP_DENY, "", NULL },
	{ 2, "PATCH", "/v1/a", HTTP_DENY, "", NULL },
	{ 2, "DELETE", "/v1/a", HTTP_DENY, "", NULL },
	{ 2, "CONNECT", "/v1/a", HTTP_DENY, "", NULL },
	{ 2, "TRACE", "/v1/a", HTTP_DENY, "", NULL },
	{ 2, "get", "/v1/a", HTTP_DENY, "", NULL },
	/* read-write */
	{ 3, "GET", "/a", HTTP_ALLOW, "access read-write", NULL },
	{ 3, "HEAD", "/a", HTTP_ALLOW, "access read-write", NULL },
	{ 3, "OPTIONS", "/a", HTTP_ALLOW, "access read-write", NULL },
	{ 3, "POST", "/a", HTTP_ALLOW, "access read-write", NULL },
	{ 3, "PUT", "/a", HTTP_ALLOW, "access read-write", NULL },
	{ 3, "PATCH", "/a", HTTP_ALLOW, "access read-write", NULL },
	{ 3, "DELETE", "/a", HTTP_DENY, "", "(access read-write allows GET, HEAD, OPTIONS, POST" },
	{ 3, "TRACE", "/a", HTTP_DENY, "", NULL },
	{ 3, "POST", "/admin/users", HTTP_DENY, "deny_rules[0]", NULL },
	{ 3, "POST", "/x/../admin/users", HTTP_DENY, "deny_rules[0]", NULL },
	{ 3, "GET", "/admin/users", HTTP_ALLOW, "access read-write", NULL },
	/* full */
	{ 4, "DELETE", "/a", HTTP_ALLOW, "access full", NULL },
	{ 4, "BREW", "/a/b/c", HTTP_ALLOW, "access full", NULL },
};

static void
test_rules(const struct policy *p)
{
	const struct endpoint *eps = p->net[0].endpoints;

	begin("rule decisions");
	CHECK_INT(p->net[0].nendpoints, 5);
	for (size_t i = 0; i < ARRAY_SIZE(rcases); i++) {
		const struct rcase *c = &rcases[i];
		const struct endpoint *ep = &eps[c->ep];
		struct http_target t;
		struct http_decision d;
		const char *why = http_target_normalize(c->target, strlen(c->target),
		    ep->allow_encoded_slash, &t);

		if (!CHECK(why == NULL, "'%s' normalises (%s)", c->target, why ? why : ""))
			continue;
		http_rules_check(ep, c->method, &t, &d);
		CHECK(d.verdict == c->v && strcmp(d.matched, c->matched) == 0,
		    "endpoint %d: %s %s -> %s \"%s\" (got %s \"%s\": %s)", c->ep, c->method,
		    c->target, c->v == HTTP_ALLOW ? "allow" : c->v == HTTP_DENY ? "deny" : "audit",
		    c->matched, d.verdict == HTTP_ALLOW ? "allow" : d.verdict == HTTP_DENY ?
		    "deny" : "audit", d.matched, d.reason);
		CHECK(d.reason[0] != '\0', "reason is set");
		if (c->reason)
			CHECK(strstr(d.reason, c->reason) != NULL, "reason has \"%s\" (got \"%s\")",
			    c->reason, d.reason);
		CHECK(strstr(d.reason, "hunter2") == NULL, "reason shows no query value");
		http_target_free(&t);
	}
}

static void
test_rule_edges(const struct policy *p)
{
	const struct endpoint *eps = p->net[0].endpoints;
	struct http_target t;
	struct http_decision d;
	struct sbuf b;
	char method[33];

	begin("endpoint path glob");
	http_target_normalize("/v1/x/y", 7, false, &t);
	CHECK(http_endpoint_path_matches(&eps[2], &t), "/v1/** admits /v1/x/y");
	CHECK(http_endpoint_path_matches(&eps[0], &t), "no path admits anything");
	CHECK(http_endpoint_path_matches(&eps[4], &t), "\"*\" admits any path");
	http_target_free(&t);
	http_target_normalize("/v2/x", 5, false, &t);
	CHECK(!http_endpoint_path_matches(&eps[2], &t), "/v1/** does not admit /v2/x");
	http_target_free(&t);
	http_target_normalize("/v1/../v2/x", 11, false, &t);
	CHECK(!http_endpoint_path_matches(&eps[2], &t), "/v1/** does not admit /v1/../v2/x");
	http_target_free(&t);
	http_target_normalize("/v1", 3, false, &t);
	CHECK(http_endpoint_path_matches(&eps[2], &t), "/v1/** admits /v1");
	http_target_free(&t);
	CHECK(!http_endpoint_path_matches(&eps[2], NULL), "NULL target not admitted");

	begin("rule decision edges");
	memset(&t, 0, sizeof(t));
	http_rules_check(&eps[4], "GET", &t, &d);
	CHECK(d.verdict == HTTP_DENY && d.reason[0], "a target without a path is denied");
	http_rules_check(&eps[4], NULL, &t, &d);
	CHECK(d.verdict == HTTP_DENY, "a NULL method is denied");
	http_rules_check(NULL, "GET", &t, &d);
	CHECK(d.verdict == HTTP_DENY, "a NULL endpoint is denied");

	/* The longest reason still ends whole: audit prefix, 32-byte method, long path. */
	memset(method, 'M', 32);
	method[32] = '\0';
	sbuf_init(&b, 1 << 16);
	sbuf_adds(&b, "/ok/");
	for (int i = 0; i < 500; i++)
		sbuf_adds(&b, "x");
	sbuf_adds(&b, "?secret=1");
	if (CHECK(http_target_normalize(b.p, b.len, false, &t) == NULL, "long target")) {
		http_rules_check(&eps[1], method, &t, &d);
		CHECK(d.verdict == HTTP_AUDIT && strlen(d.reason) < sizeof(d.reason) - 1 &&
		    strstr(d.reason, "...") != NULL, "long path cut in the reason (%zu bytes)",
		    strlen(d.reason));
		http_rules_check(&eps[3], method, &t, &d);
		CHECK(d.reason[strlen(d.reason) - 1] == ')', "preset reason ends whole: %s",
		    d.reason);
		http_target_free(&t);
	}
	sbuf_free(&b);
	sbuf_init(&b, 1 << 16);
	sbuf_adds(&b, "/repos/o/r/rulesets?");
	for (int i = 0; i < 100; i++)
		sbuf_adds(&b, "abcdef=1&");
	if (CHECK(http_target_normalize(b.p, b.len, false, &t) == NULL, "long query")) {
		http_rules_check(&eps[1], method, &t, &d);
		http_rules_check(&eps[0], method, &t, &d);
		CHECK(d.verdict == HTTP_DENY && strstr(d.reason, "of the endpoint") != NULL,
		    "deny reason ends whole: %s", d.reason);
		http_target_free(&t);
	}
	sbuf_free(&b);
}

/* Rules built by hand: query entries as the loader stores them, and odd shapes. */
static void
test_hand_rules(void)
{
	struct http_rule allow = { .method = "GET", .path = "" };
	struct endpoint ep = { .protocol = PROTO_REST, .rules = &allow, .nrules = 1 };
	struct http_target t;
	struct http_decision d;
	static const struct {
		const char *target;
		bool allow;
	} qc[] = {
		{ "/x?a=1", true }, { "/x?a=22", true }, { "/x?a=3", false },
		{ "/x?a=1&a=22", true }, { "/x?a=1&a=3", false }, { "/x?a=3&a=1", false },
		{ "/x?b=1", false }, { "/x", false }, { "/x?a=1&b=anything", true },
		{ "/x?a", false }, { "/x?a=", false }, { "/x?a=21&a=22&a=1", true },
		{ "/x?a=2&a=22&a=1", false },
	};

	begin("query any-of, every value");
	strv_push(&allow.query, "a=1");
	strv_push(&allow.query, "a=2?");
	for (size_t i = 0; i < ARRAY_SIZE(qc); i++) {
		if (http_target_normalize(qc[i].target, strlen(qc[i].target), false, &t))
			continue;
		http_rules_check(&ep, "GET", &t, &d);
		CHECK((d.verdict == HTTP_ALLOW) == qc[i].allow, "%s %s", qc[i].target,
		    qc[i].allow ? "allowed" : "denied");
		http_target_free(&t);
	}

	begin("query globs");
	strv_free(&allow.query);
	strv_push(&allow.query, "a=*b*c*");
	strv_push(&allow.query, "n=");
	{
		static const struct {
			const char *target;
			bool allow;
		} gc[] = {
			{ "/x?a=bc&n=", true }, { "/x?a=xbyyc/z&n", true }, { "/x?a=cb&n=", false },
			{ "/x?a=b%2Fc&n=", true }, { "/x?a=bc&n=1", false },
			{ "/x?a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab&n",
			  false },
		};

		for (size_t i = 0; i < ARRAY_SIZE(gc); i++) {
			if (!CHECK(http_target_normalize(gc[i].target, strlen(gc[i].target), false,
			    &t) == NULL, "%.40s normalises", gc[i].target))
				continue;
			http_rules_check(&ep, "GET", &t, &d);
			CHECK((d.verdict == HTTP_ALLOW) == gc[i].allow, "%.40s %s", gc[i].target,
			    gc[i].allow ? "allowed" : "denied");
			http_target_free(&t);
		}
	}
	strv_free(&allow.query);

	begin("endpoints without allow rules");
	ep.nrules = 0;
	http_target_normalize("/x", 2, false, &t);
	http_rules_check(&ep, "GET", &t, &d);
	CHECK(d.verdict == HTTP_DENY, "no rules and no access: denied");
	ep.enforcement = ENFORCE_AUDIT;
	http_rules_check(&ep, "GET", &t, &d);
	CHECK(d.verdict == HTTP_AUDIT && strncmp(d.reason, "audit mode, would deny: ", 24) == 0,
	    "audit mode: %s", d.reason);
	http_target_free(&t);
}

/* ---- response parser ------------------------------------------------------ */

enum { BAD = -1 };

struct respcase {
	const char *name, *head, *method;
	int body;		/* enum http_body_kind, or BAD: refused */
	uint64_t cl;
	bool close, upgrade;
	const char *why;	/* for BAD: a word of the reason */
};

static const struct respcase respcases[] = {
	{ "content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET",
	  HTTP_BODY_LENGTH, 5, false, false, NULL },
	{ "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
	  HTTP_BODY_CHUNKED, 0, false, false, NULL },
	{ "chunked, any case", "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, ChunKed\r\n\r\n", "GET",
	  HTTP_BODY_CHUNKED, 0, false, false, NULL },
	{ "chunked over two fields", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", "GET", HTTP_BODY_CHUNKED, 0, false, false, NULL },
	{ "chunked not last: close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	  "GET", HTTP_BODY_CLOSE, 0, true, false, NULL },
	{ "chunked then gzip field", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: gzip\r\n\r\n", "GET", HTTP_BODY_CLOSE, 0, true, false, NULL },
	{ "gzip only: close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET",
	  HTTP_BODY_CLOSE, 0, true, false, NULL },
	{ "no framing: close", "HTTP/1.1 200 OK\r\n\r\n", "GET", HTTP_BODY_CLOSE, 0, true, false,
	  NULL },
	{ "TE + CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
	  "GET", BAD, 0, false, false, "both" },
	{ "CL + TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	  "GET", BAD, 0, false, false, "both" },
	{ "CL, CL differing", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "GET", BAD, 0,
	  false, false, "Content-Length" },
	{ "CL fields differing", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	  "GET", BAD, 0, false, false, "differing" },
	{ "CL fields equal", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n",
	  "GET", HTTP_BODY_LENGTH, 5, false, false, NULL },
	{ "CL list equal", "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", "GET",
	  HTTP_BODY_LENGTH, 7, false, false, NULL },
	{ "CL empty element", "HTTP/1.1 200 OK\r\nContent-Length: 7,\r\n\r\n", "GET", BAD, 0, false,
	  false, "Content-Length" },
	{ "CL not a number", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "GET", BAD, 0, false,
	  false, "Content-Length" },
	{ "CL overflow", "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", "GET",
	  BAD, 0, false, false, "Content-Length" },
	{ "CL max", "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n", "GET",
	  HTTP_BODY_LENGTH, UINT64_MAX, false, false, NULL },
	{ "empty TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", "GET", BAD, 0, false, false,
	  "empty" },
	{ "TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", BAD, 0,
	  false, false, "HTTP/1.0" },
	/* no body whatever the fields say */
	{ "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "HEAD", HTTP_BODY_NONE, 0, false,
	  false, NULL },
	{ "HEAD with TE+CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n"
	  "\r\n", "HEAD", HTTP_BODY_NONE, 0, false, false, NULL },
	{ "HEAD no framing", "HTTP/1.1 200 OK\r\n\r\n", "HEAD", HTTP_BODY_NONE, 0, false, false,
	  NULL },
	{ "204", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", "GET", HTTP_BODY_NONE, 0,
	  false, false, NULL },
	{ "304", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
	  HTTP_BODY_NONE, 0, false, false, NULL },
	{ "100", "HTTP/1.1 100 Continue\r\n\r\n", "POST", HTTP_BODY_NONE, 0, false, false, NULL },
	{ "103", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", "GET", HTTP_BODY_NONE, 0, false,
	  false, NULL },
	{ "101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "\r\n", "GET", HTTP_BODY_NONE, 0, false, true, NULL },
	{ "205 has a body", "HTTP/1.1 205 Reset\r\nContent-Length: 0\r\n\r\n", "GET",
	  HTTP_BODY_LENGTH, 0, false, false, NULL },
	/* connection */
	{ "Connection: close", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n"
	  "Content-Length: 0\r\n\r\n", "GET", HTTP_BODY_LENGTH, 0, true, false, NULL },
	{ "HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", HTTP_BODY_LENGTH, 0,
	  true, false, NULL },
	{ "HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n"
	  "\r\n", "GET", HTTP_BODY_LENGTH, 3, false, false, NULL },
	{ "HTTP/1.0 keep-alive, no length", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
	  "GET", HTTP_BODY_CLOSE, 0, true, false, NULL },
	/* status line */
	{ "empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", HTTP_BODY_LENGTH, 0,
	  false, false, NULL },
	{ "no reason, no space", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET",
	  HTTP_BODY_LENGTH, 0, false, false, NULL },
	{ "reason with tab and obs-text", "HTTP/1.1 200 O\tK \xe9\xff\r\nContent-Length: 0\r\n\r\n",
	  "GET", HTTP_BODY_LENGTH, 0, false, false, NULL },
	{ "reason with control", "HTTP/1.1 200 O\x01K\r\n\r\n", "GET", BAD, 0, false, false,
	  "control" },
	{ "status 99", "HTTP/1.1 099 X\r\n\r\n", "GET", BAD, 0, false, false, "range" },
	{ "status 600", "HTTP/1.1 600 X\r\n\r\n", "GET", BAD, 0, false, false, "range" },
	{ "status 4 digits", "HTTP/1.1 2000 X\r\n\r\n", "GET", BAD, 0, false, false, "three" },
	{ "status 2 digits", "HTTP/1.1 20 X\r\n\r\n", "GET", BAD, 0, false, false, "three" },
	{ "HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", "GET", BAD, 0, false, false, "HTTP/1" },
	{ "lower-case http", "http/1.1 200 OK\r\n\r\n", "GET", BAD, 0, false, false, "HTTP/1" },
	{ "no space after version", "HTTP/1.1\t200 OK\r\n\r\n", "GET", BAD, 0, false, false,
	  "space" },
	{ "garbage", "<html>\r\n\r\n", "GET", BAD, 0, false, false, "status line" },
	/* field syntax, as strict as for requests */
	{ "obs-fold", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n 6\r\n\r\n", "GET", BAD, 0, false,
	  false, "folding" },
	{ "obs-fold in TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\n\r\n", "GET",
	  BAD, 0, false, false, "folding" },
	{ "bare LF in status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "GET", BAD, 0,
	  false, false, "bare LF" },
	{ "bare LF after a field", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", "GET", BAD, 0,
	  false, false, "bare LF" },
	{ "bare LF end", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n", "GET", BAD, 0, false, false,
	  "bare LF" },
	{ "space before colon", "HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n", "GET", BAD,
	  0, false, false, "whitespace" },
	{ "bad field name", "HTTP/1.1 200 OK\r\nX(y): 1\r\n\r\n", "GET", BAD, 0, false, false,
	  "field name" },
	{ "NUL in value", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", "GET", BAD, 0, false, false,
	  "control" },
	{ "CR alone", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "GET", BAD, 0, false, false, "CR" },
};

static void
test_responses(void)
{
	begin("response framing");
	for (size_t i = 0; i < ARRAY_SIZE(respcases); i++) {
		const struct respcase *c = &respcases[i];
		struct http_response r;
		const char *why = NULL;
		/* Some heads hold a NUL: measure up to the final CRLFCRLF or LFLF. */
		size_t n = strlen(c->head);
		ssize_t h;

		if (strstr(c->name, "NUL"))
			n = sizeof("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n") - 1;
		h = http_parse_response(c->head, n, c->method, &r, &why);
		if (c->body == BAD) {
			CHECK(h == -1 && why && strstr(why, c->why), "%s: refused for \"%s\" (got %zd %s)",
			    c->name, c->why, h, why ? why : "");
			continue;
		}
		if (!CHECK(h == (ssize_t)n, "%s: parsed (got %zd %s)", c->name, h, why ? why : ""))
			continue;
		CHECK(r.body == (enum http_body_kind)c->body && r.content_length == c->cl &&
		    r.connection_close == c->close && r.upgrade == c->upgrade && r.head_len == n,
		    "%s: body %d cl %llu close %d upgrade %d (got %d %llu %d %d)", c->name, c->body,
		    (unsigned long long)c->cl, c->close, c->upgrade, r.body,
		    (unsigned long long)r.content_length, r.connection_close, r.upgrade);
		/* No prefix of a head is accepted or refused. */
		{
			bool ok = true;

			for (size_t k = 0; k < n; k++) {
				struct http_response r2;

				if (http_parse_response(c->head, k, c->method, &r2, NULL) != 0)
					ok = false;
			}
			CHECK(ok, "%s: every prefix asks for more", c->name);
		}
	}
}

static void
test_response_fields(void)
{
	static const char head[] = "HTTP/1.1 404 Not Found\r\nServer: x\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabcEXTRA";
	struct http_response r;
	const char *why;
	ssize_t h = http_parse_response(head, sizeof(head) - 1, "GET", &r, &why);

	begin("response fields");
	CHECK_INT(h, sizeof(head) - 1 - 8);
	CHECK_INT(r.status, 404);
	CHECK_INT(r.version_minor, 1);
	CHECK_INT(r.nheaders, 3);
	CHECK(r.nheaders == 3 && r.headers[1].name_len == 12 &&
	    memcmp(r.headers[1].value, "text/plain", 10) == 0 && r.headers[1].value_len == 10,
	    "fields point into the buffer");
	CHECK(http_parse_response(head, 10, "GET", &r, &why) == 0, "partial head: more");

	/* The cap: a head that never ends. */
	{
		struct sbuf b;

		sbuf_init(&b, 1 << 20);
		sbuf_adds(&b, "HTTP/1.1 200 OK\r\n");
		while (b.len < HTTP_MAX_HEAD + 100) {
			sbuf_adds(&b, "X-Filler: ");
			for (int i = 0; i < 100; i++)
				sbuf_adds(&b, "0123456789");
			sbuf_adds(&b, "\r\n");
		}
		CHECK(http_parse_response(b.p, HTTP_MAX_HEAD - 1, "GET", &r, &why) == 0,
		    "under the cap: more");
		CHECK(http_parse_response(b.p, b.len, "GET", &r, &why) == -1 && why,
		    "over the cap: refused (%s)", why ? why : "");
		sbuf_free(&b);

		sbuf_init(&b, 1 << 20);
		sbuf_adds(&b, "HTTP/1.1 200 OK\r\n");
		for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
			sbuf_adds(&b, "X: 1\r\n");
		sbuf_adds(&b, "\r\n");
		CHECK(http_parse_response(b.p, b.len, "GET", &r, &why) == -1 && why &&
		    strstr(why, "100"), "101 fields refused (%s)", why ? why : "");
		sbuf_free(&b);
	}
}

static void
test_response_bodies(void)
{
	struct http_response r;
	struct http_body b;
	static const char cl[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
	static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char cls[] = "HTTP/1.0 200 OK\r\n\r\n";
	static const char none[] = "HTTP/1.1 304 Not Modified\r\n\r\n";

	begin("response bodies");
	http_parse_response(cl, sizeof(cl) - 1, "GET", &r, NULL);
	http_body_init_response(&b, &r);
	CHECK(http_body_feed(&b, "abcHTTP/1.1", 11) == 3 && b.done, "length: 3 bytes then done");

	http_parse_response(ch, sizeof(ch) - 1, "GET", &r, NULL);
	http_body_init_response(&b, &r);
	CHECK(http_body_feed(&b, "3\r\nabc\r\n0\r\n\r\nNEXT", 17) == 13 && b.done,
	    "chunked: ends after the last chunk");

	http_parse_response(cls, sizeof(cls) - 1, "GET", &r, NULL);
	CHECK(r.body == HTTP_BODY_CLOSE && r.connection_close, "HTTP/1.0 without length: close");
	http_body_init_response(&b, &r);
	CHECK(!b.done, "close: not done at the start");
	CHECK(http_body_feed(&b, "0\r\n\r\nanything", 13) == 13 && !b.done,
	    "close: takes everything, never done");
	CHECK(http_body_feed(&b, "", 0) == 0 && !b.done, "close: an empty feed");

	http_parse_response(none, sizeof(none) - 1, "GET", &r, NULL);
	http_body_init_response(&b, &r);
	CHECK(b.done && http_body_feed(&b, "x", 1) == 0, "none: done at once");

	/* The request-side initialiser handles the new kind too. */
	{
		struct http_request req;

		memset(&req, 0, sizeof(req));
		req.body = HTTP_BODY_CLOSE;
		http_body_init(&b, &req);
		CHECK(!b.done && http_body_feed(&b, "abc", 3) == 3, "http_body_init with CLOSE");
	}
}

int
main(void)
{
	struct policy p;

	test_targets();
	test_wire_fixed_point();
	test_target_limits();
	test_audit_and_query();

	load(rules_yaml, &p);
	test_rules(&p);
	test_rule_edges(&p);
	policy_free(&p);
	test_hand_rules();

	test_responses();
	test_response_fields();
	test_response_bodies();

	printf("1..%d\n# %d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
