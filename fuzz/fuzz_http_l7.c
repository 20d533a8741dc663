/*
 * libFuzzer target for REST request inspection: the request-target
 * normaliser, the rule decision, and the HTTP/1.1 response parser with the
 * body framing it selects.  The first input byte chooses what the rest is:
 *
 *   0: a response head (and body) to a GET     1: the same to a HEAD
 *   2: a request target                        3: the same, %2F allowed
 *
 * Beyond "no crash, no leak, no hang", it abort()s when a property the
 * proxy's safety rests on fails:
 *
 *  - targets: a refusal leaves the target empty and gives a reason; an
 *    accepted target's wire form is printable ASCII without "//", "." or
 *    ".." segments, and normalising it again gives the same path and wire
 *    (the upstream, decoding once, sees what the rules saw); the audit
 *    form is printable and capped; without allow_encoded_slash no "%2F"
 *    survives;
 *  - decisions: always a reason that fits; an audit-mode endpoint decides
 *    exactly as its enforcing twin, with AUDIT where the twin denies;
 *  - responses: a refusal has a reason; an accepted head lies within the
 *    input, has a status in range and the framing its status and the
 *    request method require, and no prefix of it is accepted or refused;
 *    the bytes after it feed the body tracker to the same result however
 *    they are split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/policy/policy.h"
#include "../src/proxy/http_parse.h"
#include "../src/proxy/httprules.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* Endpoints 0 and 1 differ only in enforcement. */
static const char policy_yaml[] =
    "version: 1\n"
    "network_policies:\n"
    "  f:\n"
    "    endpoints:\n"
    "      - host: a.example.com\n"
    "        port: 443\n"
    "        protocol: rest\n"
    "        path: /v1/**\n"
    "        rules:\n"
    "          - allow: {method: GET, path: /v1/**, query: {state: {any: [open, \"c*d\"]}, n: \"?\"}}\n"
    "          - allow: {method: POST, path: /v1/*/items}\n"
    "          - allow: {method: \"*\", path: /pub/*.txt}\n"
    "          - allow: {method: PUT, path: \"/npm/@*\"}\n"
    "        deny_rules:\n"
    "          - {method: DELETE}\n"
    "          - {method: \"*\", path: /v1/admin/**}\n"
    "          - {method: GET, path: /v1/**, query: {force: \"t*\"}}\n"
    "      - host: b.example.com\n"
    "        port: 443\n"
    "        protocol: rest\n"
    "        enforcement: audit\n"
    "        path: /v1/**\n"
    "        rules:\n"
    "          - allow: {method: GET, path: /v1/**, query: {state: {any: [open, \"c*d\"]}, n: \"?\"}}\n"
    "          - allow: {method: POST, path: /v1/*/items}\n"
    "          - allow: {method: \"*\", path: /pub/*.txt}\n"
    "          - allow: {method: PUT, path: \"/npm/@*\"}\n"
    "        deny_rules:\n"
    "          - {method: DELETE}\n"
    "          - {method: \"*\", path: /v1/admin/**}\n"
    "          - {method: GET, path: /v1/**, query: {force: \"t*\"}}\n"
    "      - host: c.example.com\n"
    "        port: 443\n"
    "        protocol: rest\n"
    "        access: read-write\n"
    "        deny_rules:\n"
    "          - {method: POST, path: /admin/**}\n"
    "    binaries:\n"
    "      - path: /usr/bin/curl\n";

static const struct endpoint *
endpoints(void)
{
	static struct policy p;
	static bool loaded;
	struct policy_diags diags;

	if (!loaded) {
		if (policy_load_buffer("fuzz.yaml", policy_yaml, sizeof(policy_yaml) - 1, &p,
		    &diags) != 0 || p.nnet != 1 || p.net[0].nendpoints != 3)
			abort();
		policy_diags_free(&diags);
		loaded = true;
	}
	return p.net[0].endpoints;
}

static bool
printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x21 || (unsigned char)*s >= 0x7f)
			return false;
	}
	return true;
}

static void
check_wire(const char *wire)
{
	size_t pl = strcspn(wire, "?");
	char *path = strndup(wire, pl);

	if (!path)
		abort();
	if (!printable(wire) || strchr(wire, '#') || strchr(wire, '\\'))
		abort();
	if (strcmp(path, "*") != 0) {
		size_t n = strlen(path);

		if (path[0] != '/' || strstr(path, "//") || strstr(path, "/./") ||
		    strstr(path, "/../") || (n >= 2 && strcmp(path + n - 2, "/.") == 0) ||
		    (n >= 3 && strcmp(path + n - 3, "/..") == 0))
			abort();
	}
	free(path);
}

static void
check_decisions(const struct http_target *t)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "HEAD", "BREW" };
	const struct endpoint *eps = endpoints();

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct http_decision a, b, c;

		http_rules_check(&eps[0], methods[i], t, &a);
		http_rules_check(&eps[1], methods[i], t, &b);
		http_rules_check(&eps[2], methods[i], t, &c);
		if (!a.reason[0] || !b.reason[0] || !c.reason[0] ||
		    strlen(a.reason) >= sizeof(a.reason) || strlen(a.matched) >= sizeof(a.matched))
			abort();
		if (a.verdict == HTTP_AUDIT || c.verdict == HTTP_AUDIT)
			abort();	/* enforcing endpoints never let a denial through */
		if (b.verdict != (a.verdict == HTTP_DENY ? HTTP_AUDIT : HTTP_ALLOW) ||
		    strcmp(a.matched, b.matched) != 0)
			abort();
		if (b.verdict == HTTP_AUDIT && strncmp(b.reason, "audit mode, would deny: ", 24) != 0)
			abort();
	}
	(void)http_endpoint_path_matches(&eps[0], t);
	(void)http_endpoint_path_matches(&eps[2], t);
}

static void
fuzz_target(const char *raw, size_t n, bool slash_ok)
{
	struct http_target t, t2;
	const char *why = http_target_normalize(raw, n, slash_ok, &t);

	if (why) {
		if (!*why || t.path || t.wire || t.audit || t.query || t.nquery)
			abort();
		return;
	}
	if (!t.path || !t.wire || !t.audit || t.nquery > HTTP_QUERY_MAX_PARAMS)
		abort();
	if (strcmp(t.path, "*") != 0 && t.path[0] != '/')
		abort();
	for (const char *p = t.path; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
			abort();
	}
	if (!slash_ok && strstr(t.path, "%2F"))
		abort();
	check_wire(t.wire);
	if (strlen(t.audit) > HTTP_AUDIT_MAX || !printable(t.audit))
		abort();

	/* The upstream decodes the wire form once: it must mean the same path. */
	if (http_target_normalize(t.wire, strlen(t.wire), slash_ok, &t2) != NULL ||
	    strcmp(t.path, t2.path) != 0 || strcmp(t.wire, t2.wire) != 0 ||
	    t.nquery != t2.nquery)
		abort();
	http_target_free(&t2);

	check_decisions(&t);
	http_target_free(&t);
}

struct feed_result {
	ssize_t total;		/* body bytes, or -1 on a framing error */
	bool done;
};

static struct feed_result
feed_in_pieces(const struct http_response *r, const char *p, size_t n, size_t step)
{
	struct http_body b;
	struct feed_result res = { 0, false };
	size_t off = 0;

	http_body_init_response(&b, r);
	while (off < n && !b.done) {
		size_t piece = n - off < step ? n - off : step;
		ssize_t k = http_body_feed(&b, p + off, piece);

		if (k < 0) {
			res.total = -1;
			return res;
		}
		if ((size_t)k > piece || ((size_t)k < piece && !b.done))
			abort();
		res.total += k;
		off += piece;
	}
	res.done = b.done;
	return res;
}

static void
fuzz_response(const char *buf, size_t n, const char *method)
{
	struct http_response r, tmp;
	const char *why = NULL;
	ssize_t h = http_parse_response(buf, n, method, &r, &why);
	bool nobody;

	if (h < 0) {
		if (h != -1 || !why || !*why)
			abort();
		return;
	}
	if (h == 0) {
		if (n >= HTTP_MAX_HEAD || why)
			abort();
		return;
	}
	if ((size_t)h > n || (size_t)h > HTTP_MAX_HEAD || (size_t)h != r.head_len ||
	    r.nheaders > HTTP_MAX_HEADERS || r.status < 100 || r.status > 599)
		abort();
	nobody = strcmp(method, "HEAD") == 0 || r.status < 200 || r.status == 204 ||
	    r.status == 304;
	if (nobody != (r.body == HTTP_BODY_NONE) || r.upgrade != (r.status == 101))
		abort();
	if ((r.body == HTTP_BODY_CLOSE && !r.connection_close) ||
	    (r.body != HTTP_BODY_LENGTH && r.content_length != 0))
		abort();

	{
		size_t k[4] = { 0, (size_t)h / 2, (size_t)h - 1, (size_t)h * 7 / 8 };

		for (size_t i = 0; i < 4; i++) {
			if (k[i] < (size_t)h && http_parse_response(buf, k[i], method, &tmp, NULL) != 0)
				abort();
		}
	}

	{
		const char *rest = buf + h;
		size_t rn = n - (size_t)h;
		struct feed_result all = feed_in_pieces(&r, rest, rn, rn ? rn : 1);
		static const size_t steps[] = { 1, 2, 7, 64 };

		if (all.total > (ssize_t)rn)
			abort();
		if (r.body == HTTP_BODY_CLOSE && (all.total != (ssize_t)rn || all.done))
			abort();
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			struct feed_result f = feed_in_pieces(&r, rest, rn, steps[i]);

			if (f.total != all.total || (all.total >= 0 && f.done != all.done))
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *buf = (const char *)d + 1;

	if (n == 0)
		return 0;
	switch (d[0] & 3) {
	case 0:
		fuzz_response(buf, n - 1, "GET");
		break;
	case 1:
		fuzz_response(buf, n - 1, "HEAD");
		break;
	default:
		fuzz_target(buf, n - 1, d[0] & 1);
		break;
	}
	return 0;
}
