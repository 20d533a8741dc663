/*
 * Unit tests for the proxy's two parsers of hostile input: HTTP/1.1
 * request heads with body framing (http_parse.c) and SOCKS5 (socks5.c).
 *
 * Most cases are requests written out in full, with the status the client
 * must get, so the rules read like a table.  Every accepted request is
 * also replayed at every prefix (a parser that answers early on a partial
 * head is as wrong as one that refuses a valid one), every refused one is
 * checked never to be accepted at any prefix, and chunked bodies are fed
 * split at every byte.  The smuggling shapes that have desynchronised real
 * proxies and servers each have a case.  A short deterministic fuzz of
 * mutated requests checks the invariants the libFuzzer harness checks.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/proxy/http_parse.h"
#include "../../src/proxy/socks5.h"

#include "check.h"

#define CHECK_MEM(p, n, lit) ({ const char *_p = (p); size_t _n = (n); \
	check(_p && _n == strlen(lit) && memcmp(_p, (lit), _n) == 0, __FILE__, __LINE__, \
	    "%s == \"%s\" (got \"%.*s\")", #p, (lit), _p ? (int)_n : 6, _p ? _p : "(null)"); })
#define CHECK_NULL(a) check((a) == NULL, __FILE__, __LINE__, "%s is NULL", #a)

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

/* ---- helpers ------------------------------------------------------------ */

/* Prefix replays cost O(len^2); the big heads are checked without them. */
#define PREFIX_REPLAY_MAX 4096

static size_t
head_end(const char *s, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i++) {
		if (memcmp(s + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	}
	return 0;
}

/*
 * s (len bytes, possibly followed by body bytes) must parse as a head
 * ending at the first CRLFCRLF, and every shorter prefix must ask for more.
 */
static bool
ok_req_n(const char *file, int line, const char *s, size_t len, struct http_request *r,
    const char *desc)
{
	size_t want = head_end(s, len);
	int st = -7;
	const char *why = NULL;
	ssize_t n = http_parse_request(s, len, r, &st, &why);
	size_t bad_prefix = 0;
	bool prefix_ok = true;

	if (n == (ssize_t)want && len <= PREFIX_REPLAY_MAX) {
		struct http_request tmp;

		for (size_t k = 0; k < want && prefix_ok; k++) {
			if (http_parse_request(s, k, &tmp, NULL, NULL) != 0) {
				prefix_ok = false;
				bad_prefix = k;
			}
		}
		/* The parse must also not have depended on leftovers. */
		if (prefix_ok)
			n = http_parse_request(s, len, r, &st, &why);
	}
	return check(want > 0 && n == (ssize_t)want && r->head_len == want && prefix_ok,
	    file, line, "%s: accepted (got %zd, want %zu, status %d%s%s%s)", desc, n, want, st,
	    why ? ", " : "", why ? why : "",
	    prefix_ok ? "" : (bad_prefix ? ", a prefix was not 0" : ", prefix 0 was not 0"));
}

#define OK_REQ(s, r, desc) ok_req_n(__FILE__, __LINE__, (s), strlen(s), (r), (desc))

/*
 * s must be refused with status; no prefix may be accepted.  With early,
 * the refusal must already come from the prefix of that many bytes.
 */
static bool
bad_req_n(const char *file, int line, const char *s, size_t len, int status, size_t early,
    const char *desc)
{
	struct http_request r;
	int st = 0;
	const char *why = NULL;
	ssize_t n = http_parse_request(s, len, &r, &st, &why);
	bool prefixes = true, early_ok = true;

	if (len <= PREFIX_REPLAY_MAX) {
		for (size_t k = 0; k < len; k++) {
			if (http_parse_request(s, k, &r, NULL, NULL) > 0)
				prefixes = false;
		}
	}
	if (early) {
		int st2 = 0;
		early_ok = http_parse_request(s, early, &r, &st2, NULL) == -1 && st2 == status;
	}
	return check(n == -1 && st == status && why && *why && prefixes && early_ok, file, line,
	    "%s: refused %d (got %zd, status %d: %s)%s%s", desc, status, n, st,
	    why ? why : "(no reason)", prefixes ? "" : ", but a prefix was accepted",
	    early_ok ? "" : ", not detected early");
}

#define BAD_REQ(s, status, desc) bad_req_n(__FILE__, __LINE__, (s), strlen(s), (status), 0, (desc))
#define BAD_EARLY(s, status, early, desc) \
	bad_req_n(__FILE__, __LINE__, (s), strlen(s), (status), (early), (desc))
/* For literals with a NUL inside. */
#define BAD_LIT(s, status, early, desc) \
	bad_req_n(__FILE__, __LINE__, (s), sizeof(s) - 1, (status), (early), (desc))

static const char *
why_of(const char *s)
{
	struct http_request r;
	int st;
	const char *why = NULL;

	http_parse_request(s, strlen(s), &r, &st, &why);
	return why ? why : "";
}

/* Upstream head of s, owned by the caller. */
static char *
upstream(const char *s)
{
	struct http_request r;
	struct sbuf b;

	if (http_parse_request(s, strlen(s), &r, NULL, NULL) <= 0)
		return strdup("(refused)");
	sbuf_init(&b, 65536);
	http_build_upstream_head(&r, &b);
	return b.p;
}

#define CHECK_UPSTREAM(req, want, desc) ({ char *_u = upstream(req); \
	check(strcmp(_u, (want)) == 0, __FILE__, __LINE__, "%s: upstream head\n#   got:  %s", \
	    (desc), _u); free(_u); })

/* Make a buffer of n copies of c (owned). */
static char *
fill(size_t n, char c)
{
	char *p = malloc(n + 1);

	if (!p)
		abort();
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* ---- request line ------------------------------------------------------- */

static void
test_request_line(void)
{
	struct http_request r;
	char *m;

	begin("request line");
	if (OK_REQ("GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n", &r,
	    "absolute GET")) {
		CHECK_STR(r.method, "GET");
		CHECK_INT(r.form, HTTP_FORM_ABSOLUTE);
		CHECK_INT(r.version_minor, 1);
		CHECK_MEM(r.target, r.target_len, "http://example.com/a/b?c=d");
	}
	if (OK_REQ("GET /index.html HTTP/1.0\r\n\r\n", &r, "origin HTTP/1.0 without Host")) {
		CHECK_INT(r.form, HTTP_FORM_ORIGIN);
		CHECK_INT(r.version_minor, 0);
		CHECK_MEM(r.path, r.path_len, "/index.html");
		CHECK_STR(r.host, "");
		CHECK_STR(r.scheme, "");
		CHECK_INT(r.port, 0);
	}
	if (OK_REQ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &r, "asterisk with OPTIONS"))
		CHECK_INT(r.form, HTTP_FORM_ASTERISK);
	BAD_REQ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "asterisk with GET");
	OK_REQ("M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n", &r, "method with '-'");
	OK_REQ("PURGE! /x HTTP/1.1\r\nHost: a\r\n\r\n", &r, "method with tchar '!'");

	m = fill(32, 'X');
	{
		char req[128];
		snprintf(req, sizeof(req), "%s /x HTTP/1.1\r\nHost: a\r\n\r\n", m);
		if (OK_REQ(req, &r, "32-byte method"))
			CHECK_INT(strlen(r.method), 32);
		snprintf(req, sizeof(req), "%sX /x HTTP/1.1\r\nHost: a\r\n\r\n", m);
		BAD_EARLY(req, 501, 33, "33-byte method refused at its 33rd byte");
	}
	free(m);

	BAD_EARLY("GE(T /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, 3, "non-tchar in method");
	BAD_EARLY(" GET /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, 1, "leading space");
	BAD_EARLY("\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, 1, "leading CRLF");
	BAD_EARLY("GET  /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, 5, "two spaces before target");
	BAD_EARLY("GET /x  HTTP/1.1\r\nHost: a\r\n\r\n", 400, 8, "two spaces after target");
	BAD_EARLY("GET /x\r\nHost: a\r\n\r\n", 400, 7, "HTTP/0.9-style line");
	BAD_EARLY("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, 7, "HTAB in target");
	BAD_EARLY("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, 7, "control byte in target");
	BAD_EARLY("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, 6, "non-ASCII target");
	BAD_EARLY("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400, 7, "fragment in target");
	BAD_EARLY("GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 505, 15, "HTTP/2.0 -> 505");
	BAD_REQ("GET /x HTTP/1.2\r\nHost: a\r\n\r\n", 505, "HTTP/1.2 -> 505");
	BAD_REQ("GET /x HTTP/0.9\r\nHost: a\r\n\r\n", 505, "HTTP/0.9 -> 505");
	BAD_REQ("GET /x HTTP/3.1\r\nHost: a\r\n\r\n", 505, "HTTP/3.1 -> 505");
	BAD_EARLY("GET /x http/1.1\r\nHost: a\r\n\r\n", 400, 8, "lower-case version");
	BAD_REQ("GET /x HTTP/11\r\nHost: a\r\n\r\n", 400, "HTTP/11");
	BAD_REQ("GET /x HTTP/1.10\r\nHost: a\r\n\r\n", 400, "HTTP/1.10");
	BAD_REQ("GET /x HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "space after version");
	BAD_EARLY("GET /x HTTP/1.1\nHost: a\r\n\r\n", 400, 16, "bare LF ends the request line");
	BAD_EARLY("GET /x HTTP/1.1\rHost: a\r\n\r\n", 400, 17, "CR without LF on the request line");
	BAD_REQ("GET /x HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host");
	CHECK(strstr(why_of("GET /x HTTP/1.1\r\n\r\n"), "Host") != NULL,
	    "missing Host: the reason names Host");
}

/* ---- targets and authorities -------------------------------------------- */

static void
test_targets(void)
{
	struct http_request r;

	begin("request targets");
	if (OK_REQ("GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
	    &r, "absolute with port")) {
		CHECK_STR(r.scheme, "http");
		CHECK_STR(r.host, "example.com");
		CHECK_INT(r.port, 8080);
		CHECK_MEM(r.path, r.path_len, "/p?q");
	}
	if (OK_REQ("GET HtTp://Example.COM HTTP/1.1\r\nHost: Example.COM\r\n\r\n", &r,
	    "scheme is case-insensitive, empty path")) {
		CHECK_STR(r.scheme, "http");
		CHECK_STR(r.host, "Example.COM");
		CHECK_INT(r.port, 80);
		CHECK_MEM(r.path, r.path_len, "/");
		CHECK_INT(r.path_len, 1);
	}
	if (OK_REQ("GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", &r, "query without a path")) {
		CHECK_STR(r.host, "h");
		CHECK_MEM(r.path, r.path_len, "?x=1");
	}
	if (OK_REQ("GET http://[2001:db8::1]:8080/x HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n",
	    &r, "IPv6 absolute")) {
		CHECK_STR(r.host, "2001:db8::1");
		CHECK_INT(r.port, 8080);
		CHECK_MEM(r.path, r.path_len, "/x");
	}
	if (OK_REQ("GET http://[::1]/ HTTP/1.1\r\nHost: [::1]\r\n\r\n", &r, "IPv6 default port")) {
		CHECK_STR(r.host, "::1");
		CHECK_INT(r.port, 80);
	}
	{
		/* Parsed (inside inspected TLS it is legal); the forward proxy refuses it. */
		struct http_request hr;
		int st = 0;
		const char *w = NULL;
		static const char q[] = "GET https://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n";

		CHECK(http_parse_request(q, sizeof(q) - 1, &hr, &st, &w) > 0,
		    "https absolute form parses");
		CHECK(strcmp(hr.scheme, "https") == 0 && hr.port == 443 &&
		    strcmp(hr.host, "example.com") == 0, "https: scheme, host and default port 443");
	}
	BAD_REQ("GET ftp://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "ftp scheme");
	BAD_REQ("GET http:/example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "http:/ one slash");
	BAD_REQ("GET http:example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "http: no slashes");
	BAD_REQ("GET example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
	    "authority form without CONNECT");
	BAD_REQ("GET example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "bare host");
	BAD_REQ("GET http://user@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
	    "userinfo");
	BAD_REQ("GET http://user:pw@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
	    "userinfo with password");
	BAD_REQ("GET http://a.com@b.com/ HTTP/1.1\r\nHost: b.com\r\n\r\n", 400, "a.com@b.com");
	BAD_REQ("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty host");
	BAD_REQ("GET http://:80/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty host with port");
	BAD_REQ("GET http://a:0/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "port 0");
	BAD_REQ("GET http://a:65536/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "port 65536");
	BAD_REQ("GET http://a:8a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "port with a letter");
	BAD_REQ("GET http://a:/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty port");
	BAD_REQ("GET http://a:-1/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "negative port");
	BAD_REQ("GET http://::1/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bracketless IPv6");
	BAD_REQ("GET http://[::1/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "unterminated bracket");
	BAD_REQ("GET http://[fe80::1%25eth0]/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "zone id");
	BAD_REQ("GET http://ex%61mple.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "percent-encoded host");
	BAD_REQ("GET http://a\\b.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "backslash in host");

	if (OK_REQ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", &r,
	    "CONNECT")) {
		CHECK_INT(r.form, HTTP_FORM_AUTHORITY);
		CHECK_STR(r.host, "example.com");
		CHECK_INT(r.port, 443);
		CHECK_STR(r.scheme, "");
		CHECK_INT(r.body, HTTP_BODY_NONE);
	}
	if (OK_REQ("CONNECT [2001:db8::5]:443 HTTP/1.1\r\nHost: [2001:db8::5]:443\r\n\r\n", &r,
	    "CONNECT IPv6")) {
		CHECK_STR(r.host, "2001:db8::5");
		CHECK_INT(r.port, 443);
	}
	OK_REQ("CONNECT 10.0.0.1:22 HTTP/1.0\r\n\r\n", &r, "CONNECT IPv4, HTTP/1.0 without Host");
	BAD_REQ("CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
	    "CONNECT without a port");
	BAD_REQ("CONNECT [::1] HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT IPv6 without a port");
	BAD_REQ("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT origin form");
	BAD_REQ("CONNECT http://a:443/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT absolute form");
	BAD_REQ("CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT asterisk");
	BAD_REQ("CONNECT a:443/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT with a path");
	BAD_REQ("CONNECT u@a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT with userinfo");
	BAD_REQ("CONNECT ::1:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT bracketless IPv6");
	BAD_REQ("connect a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
	    "lower-case connect is another method; authority form refused");
}

static void
test_authority(void)
{
	char host[HTTP_MAX_HOST + 1];
	uint16_t port = 1;
	char *big;

#define AUTH(s, dp) http_parse_authority((s), strlen(s), host, &port, (dp))
	begin("http_parse_authority");
	CHECK_NULL(AUTH("example.com", 80));
	CHECK_STR(host, "example.com");
	CHECK_INT(port, 80);
	CHECK_NULL(AUTH("example.com:8443", 80));
	CHECK_INT(port, 8443);
	CHECK_NULL(AUTH("a_b-c.example", 443));
	CHECK_STR(host, "a_b-c.example");
	CHECK_NULL(AUTH("example.com.", 80));
	CHECK_STR(host, "example.com.");
	CHECK_NULL(AUTH("[::1]", 80));
	CHECK_STR(host, "::1");
	CHECK_NULL(AUTH("[::1]:1", 0));
	CHECK_INT(port, 1);
	CHECK_NULL(AUTH("[2001:DB8:0:0:0:0:0:1]:65535", 0));
	CHECK_STR(host, "2001:DB8:0:0:0:0:0:1");
	CHECK_INT(port, 65535);
	CHECK_NULL(AUTH("[::ffff:192.0.2.1]:80", 0));
	CHECK_STR(host, "::ffff:192.0.2.1");
	CHECK_NULL(AUTH("host:00080", 0));
	CHECK_INT(port, 80);
	CHECK(AUTH("host:000080", 0) != NULL, "six port digits refused");
	CHECK(AUTH("example.com", 0) != NULL, "port required when default is 0");
	CHECK(AUTH("[::1]", 0) != NULL, "IPv6 port required when default is 0");
	CHECK(AUTH("", 80) != NULL, "empty authority");
	CHECK(AUTH(":80", 80) != NULL, "empty host before port");
	CHECK(AUTH("[]:80", 80) != NULL, "empty brackets");
	CHECK(AUTH("[::1]x", 80) != NULL, "junk after brackets");
	CHECK(AUTH("[::1]:", 80) != NULL, "empty port after brackets");
	CHECK(AUTH("[::1]:0", 80) != NULL, "IPv6 port 0");
	CHECK(AUTH("[1.2.3.4]", 80) != NULL, "IPv4 in brackets");
	CHECK(AUTH("[v1.fe]", 80) != NULL, "IPvFuture");
	CHECK(AUTH("[fe80::1%eth0]", 80) != NULL, "zone id");
	CHECK(AUTH("[::g]", 80) != NULL, "bad hex in IPv6");
	CHECK(AUTH("2001:db8::1", 80) != NULL, "bracketless IPv6");
	CHECK(strstr(AUTH("::1", 80), "bracket") != NULL, "bracketless IPv6: reason says brackets");
	CHECK(strstr(AUTH("user@host", 80), "user") != NULL, "userinfo: reason says so");
	CHECK(AUTH("host:65536", 80) != NULL, "port 65536");
	CHECK(AUTH("host:99999", 80) != NULL, "port 99999");
	CHECK(AUTH("host:+80", 80) != NULL, "port with '+'");
	CHECK(AUTH("host: 80", 80) != NULL, "port with a space");
	CHECK(AUTH("ho st", 80) != NULL, "space in host");
	CHECK(AUTH("host\n", 80) != NULL, "LF in host");
	CHECK(http_parse_authority("a\0b", 3, host, &port, 80) != NULL, "NUL in host");
	CHECK(AUTH("h\xc3\xa9.com", 80) != NULL, "non-ASCII host");
	CHECK(AUTH("a.com;b.com", 80) != NULL, "sub-delim in host");
	CHECK(AUTH("a.com,b.com", 80) != NULL, "comma in host");
	CHECK_STR(host, "");
	big = fill(255, 'a');
	CHECK_NULL(http_parse_authority(big, 255, host, &port, 80));
	CHECK_INT(strlen(host), 255);
	free(big);
	big = fill(256, 'a');
	CHECK(http_parse_authority(big, 256, host, &port, 80) != NULL, "256-byte host refused");
	free(big);
#undef AUTH
}

/* ---- header lines -------------------------------------------------------- */

static void
test_headers(void)
{
	struct http_request r;

	begin("header lines");
	if (OK_REQ("GET http://a/ HTTP/1.1\r\nHost: a\r\nX-A:  v  w \t\r\nX-Empty:\r\n"
	    "X-Tab:\tx\r\nX-Obs: caf\xc3\xa9\r\n\r\n", &r, "OWS, empty value, HTAB, obs-text")) {
		CHECK_INT(r.nheaders, 5);
		CHECK_MEM(r.headers[1].name, r.headers[1].name_len, "X-A");
		CHECK_MEM(r.headers[1].value, r.headers[1].value_len, "v  w");
		CHECK_MEM(r.headers[2].value, r.headers[2].value_len, "");
		CHECK_MEM(r.headers[3].value, r.headers[3].value_len, "x");
		CHECK_MEM(r.headers[4].value, r.headers[4].value_len, "caf\xc3\xa9");
		CHECK(r.host_header == &r.headers[0], "host_header points at the Host line");
	}
	BAD_EARLY("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, 21, "whitespace before colon");
	BAD_EARLY("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, 21, "HTAB before colon");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n\r\n", 400, 32, "obs-fold");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n", 400, 32, "obs-fold with HTAB");
	BAD_EARLY("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, 17, "whitespace before first header");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", 400, 24, "bare LF ends a header");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\n\n", 400, 26, "bare LF ends the head");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400, 27, "CR CR LF at the end");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", 400, 25, "CR without LF in a header");
	BAD_LIT("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400, 30, "NUL in a value");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400, 30, "DEL in a value");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b\r\n\r\n", 400, 30, "ESC in a value");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", 400, 30, "LF inside a value");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, 26, "empty field name");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, 33, "line without colon");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n", 400, 27, "'(' in a field name");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: 1\r\n\r\n", 400, 27, "non-ASCII name");
	if (OK_REQ("GET / HTTP/1.1\r\nhOsT: a\r\nx-y: 1\r\n\r\n", &r, "find_header")) {
		const struct http_header *h = http_find_header(&r, "HOST");

		CHECK(h == &r.headers[0], "http_find_header is case-insensitive");
		CHECK_NULL(http_find_header(&r, "Hos"));
		CHECK_NULL(http_find_header(&r, "Hostx"));
		CHECK(http_find_header(&r, "X-Y") == &r.headers[1], "second header found");
	}
	if (OK_REQ("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nx: 2\r\n\r\n", &r, "repeated name"))
		CHECK_MEM(http_find_header(&r, "x")->value, 1, "1");
}

static void
test_limits(void)
{
	struct http_request r;
	char *buf, *t;
	size_t n;
	int st = 0;

	begin("size limits");
	/* 100 headers (Host + 99) are fine; 101 are 431. */
	buf = malloc(8192);
	if (!buf)
		abort();
	n = (size_t)snprintf(buf, 8192, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 99; i++)
		n += (size_t)snprintf(buf + n, 8192 - n, "X-%d: v\r\n", i);
	memcpy(buf + n, "\r\n", 3);
	if (ok_req_n(__FILE__, __LINE__, buf, n + 2, &r, "100 header fields"))
		CHECK_INT(r.nheaders, 100);
	memcpy(buf + n, "X-Last: v\r\n\r\n", 14);
	bad_req_n(__FILE__, __LINE__, buf, n + 13, 431, n + 1, "101 header fields -> 431 early");
	free(buf);

	/* Request line: 8192 bytes is the maximum, 8193 is 414. */
	buf = malloc(HTTP_MAX_HEAD + 64);
	if (!buf)
		abort();
	t = fill(8192 - strlen("GET ") - strlen(" HTTP/1.1"), 'a');
	t[0] = '/';
	n = (size_t)snprintf(buf, HTTP_MAX_HEAD + 64, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", t);
	CHECK_INT(http_parse_request(buf, n, &r, &st, NULL), n);
	CHECK_INT(strchr(buf, '\r') - buf, 8192);
	n = (size_t)snprintf(buf, HTTP_MAX_HEAD + 64, "GET %sb HTTP/1.1\r\nHost: a\r\n\r\n", t);
	CHECK(http_parse_request(buf, n, &r, &st, NULL) == -1 && st == 414,
	    "8193-byte request line -> 414");
	CHECK(http_parse_request(buf, 8192 - 8, &r, &st, NULL) == -1 && st == 414,
	    "over-long target refused before the line ends");
	CHECK_INT(http_parse_request(buf, 8192 - 9, &r, &st, NULL), 0);
	free(t);

	/* A long target with no line end at all: 414 long before the head cap. */
	t = fill(9000, 'a');
	memcpy(t, "GET /", 5);
	CHECK(http_parse_request(t, 9000, &r, &st, NULL) == -1 && st == 414,
	    "endless request line -> 414");
	free(t);

	/* Head of exactly HTTP_MAX_HEAD bytes is accepted; one more is 431. */
	n = (size_t)snprintf(buf, HTTP_MAX_HEAD + 64, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(buf + n, 'v', HTTP_MAX_HEAD - n - 4);
	memcpy(buf + HTTP_MAX_HEAD - 4, "\r\n\r\n", 4);
	CHECK_INT(http_parse_request(buf, HTTP_MAX_HEAD, &r, &st, NULL), HTTP_MAX_HEAD);
	CHECK_INT(http_parse_request(buf, HTTP_MAX_HEAD - 1, &r, &st, NULL), 0);
	memset(buf + n, 'v', HTTP_MAX_HEAD - n - 3);
	memcpy(buf + HTTP_MAX_HEAD - 3, "\r\n\r\n", 4);
	CHECK(http_parse_request(buf, HTTP_MAX_HEAD + 1, &r, &st, NULL) == -1 && st == 431,
	    "head of HTTP_MAX_HEAD + 1 bytes -> 431");
	CHECK(http_parse_request(buf, HTTP_MAX_HEAD, &r, &st, NULL) == -1 && st == 431,
	    "incomplete at HTTP_MAX_HEAD bytes -> 431");
	CHECK_INT(http_parse_request(buf, HTTP_MAX_HEAD - 1, &r, &st, NULL), 0);
	/* A complete head followed by more than HTTP_MAX_HEAD of body is fine. */
	n = (size_t)snprintf(buf, HTTP_MAX_HEAD + 64,
	    "POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 99999\r\n\r\n");
	memset(buf + n, 'b', HTTP_MAX_HEAD + 64 - n);
	CHECK_INT(http_parse_request(buf, HTTP_MAX_HEAD + 64, &r, &st, NULL), n);
	free(buf);
}

/* ---- Host, framing, Connection --------------------------------------------- */

static void
test_host(void)
{
	struct http_request r;

	begin("Host header");
	BAD_REQ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "two identical Host headers");
	BAD_EARLY("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\nX: 1\r\n\r\n", 400, 34,
	    "second Host refused before the head ends");
	BAD_REQ("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Host headers in 1.0");
	BAD_REQ("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "Host with userinfo");
	BAD_REQ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "Host with a space");
	BAD_REQ("GET / HTTP/1.1\r\nHost: a:0\r\n\r\n", 400, "Host with port 0");
	BAD_REQ("GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", 400, "Host bracketless IPv6");
	if (OK_REQ("GET / HTTP/1.1\r\nHost:\r\n\r\n", &r, "empty Host is legal"))
		CHECK(r.host_header && r.host_header->value_len == 0, "empty Host recorded");
	if (OK_REQ("GET / HTTP/1.0\r\n\r\n", &r, "HTTP/1.0 may omit Host"))
		CHECK_NULL(r.host_header);
	OK_REQ("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", &r, "Host IPv6 with port");
}

static void
test_framing(void)
{
	struct http_request r;

	begin("message framing");
	if (OK_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", &r,
	    "Content-Length")) {
		CHECK_INT(r.body, HTTP_BODY_LENGTH);
		CHECK_INT(r.content_length, 5);
	}
	if (OK_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &r, "CL 0")) {
		CHECK_INT(r.body, HTTP_BODY_LENGTH);
		CHECK_INT(r.content_length, 0);
	}
	if (OK_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5 ,5\r\n\r\n", &r,
	    "identical CL list"))
		CHECK_INT(r.content_length, 5);
	if (OK_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", &r,
	    "CL with leading zeros"))
		CHECK_INT(r.content_length, 7);
	if (OK_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n",
	    &r, "CL UINT64_MAX"))
		CHECK(r.content_length == UINT64_MAX, "content_length == UINT64_MAX");
	if (OK_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &r,
	    "chunked"))
		CHECK_INT(r.body, HTTP_BODY_CHUNKED);
	if (OK_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  ChUnKeD \r\n\r\n",
	    &r, "chunked, any case, OWS"))
		CHECK_INT(r.body, HTTP_BODY_CHUNKED);
	if (OK_REQ("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", &r, "no framing"))
		CHECK_INT(r.body, HTTP_BODY_NONE);

	/* Smuggling shapes. */
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400, "CL then TE");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n", 400, "TE then CL");
	BAD_EARLY("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\nX: y\r\n\r\n", 400, 84, "CL+TE refused at the TE line");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: identity\r\n\r\n", 400, "TE chunked then a second TE");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400, "TE chunked twice");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400,
	    "\"Transfer-Encoding : chunked\"");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400,
	    "TE value folded onto the next line");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    501, "gzip, chunked -> 501");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
	    501, "chunked, chunked -> 501");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 501,
	    "identity -> 501");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 501,
	    "xchunked -> 501");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 501,
	    "chunked with a parameter -> 501");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400, "empty TE");
	BAD_REQ("POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
	    "TE in HTTP/1.0");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n", 400, "two differing CL headers");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\n", 400, "two identical CL headers");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400,
	    "differing CL list");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5,,5\r\n\r\n", 400,
	    "CL list with an empty element");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400,
	    "CL list with a trailing comma");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: ,5\r\n\r\n", 400,
	    "CL list with a leading comma");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, "empty CL");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "CL -1");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400, "CL +5");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400, "CL hex");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400, "CL 1 2");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5.0\r\n\r\n", 400, "CL 5.0");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
	    400, "CL overflow by one");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	    400, "CL far too large");
	BAD_REQ("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 0\r\n\r\n", 400,
	    "CONNECT with Content-Length");
	BAD_REQ("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
	    "CONNECT with chunked");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Connection: content-length\r\n\r\n", 400, "Connection names Content-Length");
	BAD_REQ("POST http://a/ HTTP/1.1\r\nHost: a\r\nConnection: close, Transfer-Encoding\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400, "Connection names Transfer-Encoding");
	BAD_REQ("GET http://a/ HTTP/1.1\r\nHost: a\r\nConnection: HOST\r\n\r\n", 400,
	    "Connection names Host");
}

static void
test_connection(void)
{
	struct http_request r;

	begin("connection_close");
	if (OK_REQ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r, "1.1 default"))
		CHECK(!r.connection_close, "HTTP/1.1 keeps the connection by default");
	if (OK_REQ("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &r, "close"))
		CHECK(r.connection_close, "Connection: close");
	if (OK_REQ("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", &r, "list"))
		CHECK(r.connection_close, "close in a list, any case");
	if (OK_REQ("GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: ,close,\r\n\r\n", &r,
	    "second Connection header"))
		CHECK(r.connection_close, "close in a second Connection header");
	if (OK_REQ("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", &r, "closed"))
		CHECK(!r.connection_close, "\"closed\" is not \"close\"");
	if (OK_REQ("GET / HTTP/1.0\r\n\r\n", &r, "1.0 default"))
		CHECK(r.connection_close, "HTTP/1.0 closes by default");
	if (OK_REQ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r, "1.0 keep-alive"))
		CHECK(!r.connection_close, "HTTP/1.0 with keep-alive");
	if (OK_REQ("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &r, "1.0 both"))
		CHECK(r.connection_close, "close wins over keep-alive");
}

/* ---- upstream head --------------------------------------------------------- */

static void
test_upstream(void)
{
	begin("upstream head");
	CHECK_UPSTREAM("GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n"
	    "User-Agent: t\r\n\r\n",
	    "GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nConnection: close\r\n\r\n",
	    "plain GET");
	CHECK_UPSTREAM("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", "empty path -> /");
	CHECK_UPSTREAM("GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
	    "GET /?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
	    "query without path -> /?q");
	CHECK_UPSTREAM("POST http://a:8080/x HTTP/1.1\r\nX-First: 1\r\nHost: a:8080\r\n"
	    "Connection: keep-alive, X-Secret\r\nProxy-Connection: keep-alive\r\n"
	    "Proxy-Authorization: Basic Zm9vOmJhcg==\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
	    "Trailer: X-T\r\nUpgrade: websocket\r\nx-secret: hidden\r\nX-Other: kept\r\n"
	    "Content-Length: 3\r\ncOnTeNt-TyPe: text/plain\r\n\r\n",
	    "POST /x HTTP/1.1\r\nX-First: 1\r\nHost: a:8080\r\nX-Other: kept\r\n"
	    "Content-Length: 3\r\ncOnTeNt-TyPe: text/plain\r\nConnection: close\r\n\r\n",
	    "hop-by-hop removed, including the one Connection names; order and case kept");
	CHECK_UPSTREAM("GET http://a/ HTTP/1.1\r\nHost: a\r\nConnection: x-a\r\nConnection: X-B\r\n"
	    "X-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nX-C: 3\r\nConnection: close\r\n\r\n",
	    "options from two Connection headers");
	CHECK_UPSTREAM("GET http://a/ HTTP/1.0\r\nConnection: close\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "HTTP/1.0 without Host: Host added");
	CHECK_UPSTREAM("GET http://[::1]:8080/ HTTP/1.0\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n",
	    "added Host brackets IPv6 and keeps the port");
	CHECK_UPSTREAM("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 4 , 4\r\n\r\n",
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nConnection: close\r\n\r\n",
	    "Content-Length list sent as one number");
	CHECK_UPSTREAM("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
	    "chunked is end-to-end framing: kept");
	CHECK_UPSTREAM("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	    "OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "asterisk form as-is");

	/* The upstream head is itself a valid request with the same framing. */
	{
		const char *req = "POST http://a/p HTTP/1.1\r\nHost: a\r\nConnection: x\r\nX: 1\r\n"
		    "Content-Length: 10\r\n\r\n";
		char *u = upstream(req);
		struct http_request r2;
		ssize_t n = http_parse_request(u, strlen(u), &r2, NULL, NULL);

		CHECK(n == (ssize_t)strlen(u) && r2.body == HTTP_BODY_LENGTH &&
		    r2.content_length == 10 && r2.connection_close && r2.form == HTTP_FORM_ORIGIN,
		    "upstream head re-parses with the same framing");
		free(u);
	}
	/* An overflowing sbuf is flagged, never grown past its max. */
	{
		struct http_request r;
		struct sbuf b;
		const char *req = "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n";

		http_parse_request(req, strlen(req), &r, NULL, NULL);
		sbuf_init(&b, 16);
		http_build_upstream_head(&r, &b);
		CHECK(b.overflow && b.len <= 16, "small sbuf overflows safely");
		sbuf_free(&b);
	}
}

/* ---- partial input ----------------------------------------------------------- */

static void
test_partial(void)
{
	static const char *const reqs[] = {
		"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
		"User-Agent: curl/8\r\nProxy-Connection: Keep-Alive\r\n\r\n",
		"POST http://[2001:db8::1]:8080/upload?x=1 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n"
		"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n",
		"GET http://a/ HTTP/1.0\r\n\r\n",
	};
	struct http_request r;

	begin("partial heads");
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		size_t len = strlen(reqs[i]);
		bool all = true;

		for (size_t k = 0; k < len; k++) {
			if (http_parse_request(reqs[i], k, &r, NULL, NULL) != 0)
				all = false;
		}
		CHECK(all, "request %zu: every one of %zu prefixes needs more", i, len);
		CHECK_INT(http_parse_request(reqs[i], len, &r, NULL, NULL), len);
	}
	/* Status and reason are reset on every call. */
	{
		int st = 99;
		const char *why = "x";

		CHECK(http_parse_request("GET", 3, &r, &st, &why) == 0 && st == 0 && why == NULL,
		    "need-more leaves status 0 and no reason");
	}
	CHECK_INT(http_parse_request("", 0, &r, NULL, NULL), 0);
	CHECK_INT(http_parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r", 26, &r, NULL, NULL), 0);
}

/* ---- body framing -------------------------------------------------------------- */

static void
body_for(struct http_body *b, enum http_body_kind kind, uint64_t cl)
{
	struct http_request r;

	memset(&r, 0, sizeof(r));
	r.body = kind;
	r.content_length = cl;
	http_body_init(b, &r);
}

/*
 * Feed s in pieces of `step` bytes (0: split once at `at`).  Returns the
 * total the feeder reported, or -1 on an error; *done tells whether the
 * body ended.
 */
static ssize_t
feed_split(const char *s, size_t len, size_t step, size_t at, bool *done)
{
	struct http_body b;
	size_t off = 0, round = 0;
	ssize_t total = 0;

	body_for(&b, HTTP_BODY_CHUNKED, 0);
	while (off < len) {
		size_t piece = step ? step : (round++ == 0 ? at : len - off);
		ssize_t n;

		if (piece > len - off)
			piece = len - off;
		n = http_body_feed(&b, s + off, piece);
		if (n < 0)
			return -1;
		if ((size_t)n > piece)
			return -2;
		total += n;
		if ((size_t)n < piece && !b.done)
			return -3;	/* short count without end of body */
		if (b.done)
			break;
		off += piece;
	}
	*done = b.done;
	return total;
}

/* body_len 0: the whole of s is the body. */
static void
chunked_all_splits(const char *desc, const char *s, size_t body_len)
{
	size_t len = strlen(s);

	if (body_len == 0)
		body_len = len;
	bool ok = true, done = false;

	for (size_t at = 0; at <= len; at++) {
		if (feed_split(s, len, 0, at, &done) != (ssize_t)body_len || !done)
			ok = false;
	}
	CHECK(ok, "%s: split once at each of %zu points", desc, len + 1);
	CHECK(feed_split(s, len, 1, 0, &done) == (ssize_t)body_len && done,
	    "%s: byte by byte", desc);
	CHECK(feed_split(s, len, 3, 0, &done) == (ssize_t)body_len && done,
	    "%s: 3 bytes at a time", desc);
}

static bool
chunked_bad(const char *s, size_t len)
{
	bool done;
	ssize_t whole = feed_split(s, len, len ? len : 1, 0, &done);
	ssize_t bytes = feed_split(s, len, 1, 0, &done);

	return whole == -1 && bytes == -1;
}

#define CHUNKED_BAD(s, desc) CHECK(chunked_bad((s), sizeof(s) - 1), "refused: %s", (desc))

static void
test_body(void)
{
	struct http_body b;
	ssize_t n;
	char *big;

	begin("body framing");
	body_for(&b, HTTP_BODY_NONE, 0);
	CHECK(b.done, "no body: done at init");
	CHECK_INT(http_body_feed(&b, "GET", 3), 0);
	body_for(&b, HTTP_BODY_LENGTH, 0);
	CHECK(b.done, "Content-Length 0: done at init");
	CHECK_INT(http_body_feed(&b, "x", 1), 0);

	body_for(&b, HTTP_BODY_LENGTH, 5);
	CHECK(!b.done, "Content-Length 5: not done at init");
	CHECK_INT(http_body_feed(&b, "he", 2), 2);
	CHECK_INT(b.remaining, 3);
	CHECK_INT(http_body_feed(&b, "", 0), 0);
	CHECK_INT(http_body_feed(&b, "lloGET /", 8), 3);
	CHECK(b.done, "Content-Length 5: done after 5 bytes");
	CHECK_INT(http_body_feed(&b, "more", 4), 0);

	body_for(&b, HTTP_BODY_LENGTH, UINT64_MAX);
	CHECK_INT(http_body_feed(&b, "abc", 3), 3);
	CHECK(b.remaining == UINT64_MAX - 3 && !b.done, "huge Content-Length counts down");

	chunked_all_splits("simple", "5\r\nhello\r\n0\r\n\r\n", 0);
	chunked_all_splits("two chunks, upper-case hex", "A\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n", 0);
	chunked_all_splits("chunk extensions", "5;name=val;q=\"a b\"\r\nhello\r\n0;last\r\n\r\n", 0);
	chunked_all_splits("trailers", "3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Two:\tx y\r\n\r\n", 0);
	chunked_all_splits("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 0);
	chunked_all_splits("empty body", "0\r\n\r\n", 0);
	chunked_all_splits("data with CRLF inside", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 0);
	chunked_all_splits("pipelined bytes after the body",
	    "2\r\nhi\r\n0\r\n\r\nGET http://evil/ HTTP/1.1\r\n\r\n", 12);

	body_for(&b, HTTP_BODY_CHUNKED, 0);
	n = http_body_feed(&b, "0\r\n\r\nXYZ", 8);
	CHECK(n == 5 && b.done, "count stops at the end of the body (got %zd)", n);
	CHECK_INT(http_body_feed(&b, "0\r\n\r\n", 0), 0);

	body_for(&b, HTTP_BODY_CHUNKED, 0);
	CHECK_INT(http_body_feed(&b, "ffffffffffffffff", 16), 16);
	CHECK(b.remaining == UINT64_MAX, "16 hex digits fill 64 bits");
	CHECK_INT(http_body_feed(&b, "\r\nab", 4), 4);
	CHECK(b.remaining == UINT64_MAX - 2 && !b.done, "huge chunk counts down");

	CHUNKED_BAD("10000000000000000\r\n", "17 hex digits");
	CHUNKED_BAD("00000000000000005\r\nhello\r\n0\r\n\r\n", "17 digits even with zeros");
	CHUNKED_BAD("5\nhello\r\n0\r\n\r\n", "bare LF after the size");
	CHUNKED_BAD("5\r\nhello\n0\r\n\r\n", "bare LF after the data");
	CHUNKED_BAD("5\r\nhelloX\r\n0\r\n\r\n", "data longer than the size");
	CHUNKED_BAD("5\r\nhell\r\n0\r\n\r\n", "data shorter than the size");
	CHUNKED_BAD("5\r\nhello\r\r\n0\r\n\r\n", "CR CR after the data");
	CHUNKED_BAD("\r\nhello\r\n", "empty size");
	CHUNKED_BAD(";ext\r\n", "extension without size");
	CHUNKED_BAD("5 \r\nhello\r\n0\r\n\r\n", "space after the size");
	CHUNKED_BAD(" 5\r\nhello\r\n0\r\n\r\n", "space before the size");
	CHUNKED_BAD("0x5\r\nhello\r\n0\r\n\r\n", "0x prefix");
	CHUNKED_BAD("-5\r\n", "negative size");
	CHUNKED_BAD("+5\r\n", "plus sign");
	CHUNKED_BAD("g\r\n", "non-hex size");
	CHUNKED_BAD("5;a\nb\r\nhello\r\n0\r\n\r\n", "bare LF in an extension");
	CHUNKED_BAD("5;a\0b\r\nhello\r\n0\r\n\r\n", "NUL in an extension");
	CHUNKED_BAD("5\rhello\r\n", "CR without LF after the size");
	CHUNKED_BAD("0\r\nX: 1\r\n continued\r\n\r\n", "folded trailer");
	CHUNKED_BAD("0\r\nX : 1\r\n\r\n", "space before a trailer colon");
	CHUNKED_BAD("0\r\n: 1\r\n\r\n", "empty trailer name");
	CHUNKED_BAD("0\r\nX: 1\n\r\n", "bare LF in trailers");
	CHUNKED_BAD("0\r\nX: a\x01\r\n\r\n", "control byte in a trailer");
	CHUNKED_BAD("0\r\n\n", "bare LF at the end");
	CHUNKED_BAD("0\r\n\rX", "CR without LF at the end");

	big = fill(1100, 'a');
	memcpy(big, "5;", 2);
	CHECK(chunked_bad(big, 1100), "chunk extension longer than 1024 bytes refused");
	memcpy(big + 1000, "\r\nhello\r\n0\r\n\r\n", 14);
	{
		bool done;

		CHECK(feed_split(big, 1014, 0, 500, &done) == 1014 && done,
		    "chunk extension of 998 bytes accepted");
	}
	free(big);
	big = fill(20000, 'a');
	memcpy(big, "0\r\nX: ", 6);
	CHECK(chunked_bad(big, 20000), "endless trailer section refused");
	free(big);

	body_for(&b, HTTP_BODY_CHUNKED, 0);
	CHECK_INT(http_body_feed(&b, "z", 1), -1);
	CHECK_INT(http_body_feed(&b, "0\r\n\r\n", 0), -1);
	CHECK(!b.done, "an error is sticky and never done");
}

/* ---- SOCKS5 ---------------------------------------------------------------------- */

static void
test_socks_greeting(void)
{
	bool na = true;
	static const uint8_t g1[] = { 5, 1, 0 }, g2[] = { 5, 2, 1, 2 }, g3[] = { 5, 3, 2, 0, 1, 0xaa };

	begin("SOCKS5 greeting");
	CHECK_INT(socks5_parse_greeting(g1, 3, &na), 3);
	CHECK(na, "method 0 offered");
	CHECK_INT(socks5_parse_greeting(g2, 4, &na), 4);
	CHECK(!na, "method 0 not offered");
	CHECK_INT(socks5_parse_greeting(g3, 6, &na), 5);
	CHECK(na, "method 0 among three; trailing byte left alone");
	CHECK_INT(socks5_parse_greeting(g1, 0, &na), 0);
	CHECK_INT(socks5_parse_greeting(g1, 1, &na), 0);
	CHECK_INT(socks5_parse_greeting(g1, 2, &na), 0);
	CHECK_INT(socks5_parse_greeting(g3, 4, &na), 0);
	CHECK_INT(socks5_parse_greeting((const uint8_t *)"\x04\x01\x00", 3, &na), -1);
	CHECK_INT(socks5_parse_greeting((const uint8_t *)"\x04", 1, &na), -1);
	CHECK_INT(socks5_parse_greeting((const uint8_t *)"\x05\x00", 2, &na), -1);
	CHECK_INT(socks5_parse_greeting((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &na), -1);
	{
		uint8_t g[257];

		memset(g, 1, sizeof(g));
		g[0] = 5;
		g[1] = 255;
		g[256] = 0;
		CHECK_INT(socks5_parse_greeting(g, 257, &na), 257);
		CHECK(na, "255 methods, 0 last");
		CHECK_INT(socks5_parse_greeting(g, 256, &na), 0);
	}
}

static ssize_t
sreq(const uint8_t *b, size_t n, struct socks5_request *r, uint8_t *code)
{
	*code = 0xee;
	return socks5_parse_request(b, n, r, code);
}

#define SOCKS_BAD(bytes, want, desc) ({ static const uint8_t _b[] = bytes; \
	struct socks5_request _r; uint8_t _c; ssize_t _n = sreq(_b, sizeof(_b), &_r, &_c); \
	check(_n == -1 && _c == (want), __FILE__, __LINE__, "%s: refused with 0x%02x (got %zd, 0x%02x)", \
	    (desc), (want), _n, _c); })
#define B(...) { __VA_ARGS__ }

static void
socks_prefixes(const uint8_t *b, size_t n, const char *desc)
{
	struct socks5_request r;
	uint8_t code;
	bool all = true;

	for (size_t k = 0; k < n; k++) {
		if (sreq(b, k, &r, &code) != 0)
			all = false;
	}
	CHECK(all, "%s: every shorter prefix needs more", desc);
}

static void
test_socks_request(void)
{
	struct socks5_request r;
	uint8_t code;
	static const uint8_t v4[] = { 5, 1, 0, 1, 192, 0, 2, 1, 0x01, 0xbb, 0xde, 0xad };
	static const uint8_t v6[] = { 5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 1, 0x1f, 0x90 };
	static const uint8_t dn[] = { 5, 1, 0, 3, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c',
	    'o', 'm', 0, 80 };
	static const uint8_t utf[] = { 5, 1, 0, 3, 6, 'x', 0xc3, 0xa9, '.', 'd', 'e', 0, 80 };
	uint8_t big[4 + 1 + 255 + 2];

	begin("SOCKS5 request");
	CHECK_INT(sreq(v4, sizeof(v4), &r, &code), 10);
	CHECK_STR(r.host, "192.0.2.1");
	CHECK_INT(r.port, 443);
	CHECK_INT(r.atyp, SOCKS5_ATYP_IPV4);
	CHECK_INT(r.cmd, 1);
	CHECK_INT(code, SOCKS5_OK);
	socks_prefixes(v4, 10, "IPv4");

	CHECK_INT(sreq(v6, sizeof(v6), &r, &code), 22);
	CHECK_STR(r.host, "2001:db8::1");
	CHECK_INT(r.port, 8080);
	CHECK_INT(r.atyp, SOCKS5_ATYP_IPV6);
	socks_prefixes(v6, sizeof(v6), "IPv6");

	CHECK_INT(sreq(dn, sizeof(dn), &r, &code), 18);
	CHECK_STR(r.host, "example.com");
	CHECK_INT(r.port, 80);
	CHECK_INT(r.atyp, SOCKS5_ATYP_DOMAIN);
	socks_prefixes(dn, sizeof(dn), "domain");

	CHECK_INT(sreq(utf, sizeof(utf), &r, &code), 13);
	CHECK_STR(r.host, "x\xc3\xa9.de");

	memset(big, 'a', sizeof(big));
	memcpy(big, "\x05\x01\x00\x03\xff", 5);
	big[260] = 1;
	big[261] = 0;
	CHECK_INT(sreq(big, sizeof(big), &r, &code), 262);
	CHECK_INT(strlen(r.host), 255);
	CHECK_INT(r.port, 256);
	socks_prefixes(big, sizeof(big), "255-byte domain");
	big[100] = 0;
	CHECK(sreq(big, 101, &r, &code) == -1 && code == SOCKS5_GENERAL_FAILURE,
	    "NUL in a domain refused before the rest arrives");

	SOCKS_BAD(B(4, 1, 0, 1, 1, 2, 3, 4, 0, 80), SOCKS5_GENERAL_FAILURE, "version 4");
	SOCKS_BAD(B(4), SOCKS5_GENERAL_FAILURE, "version 4, one byte");
	SOCKS_BAD(B(5, 2), SOCKS5_CMD_UNSUPPORTED, "BIND");
	SOCKS_BAD(B(5, 3, 0, 1, 1, 2, 3, 4, 0, 80), SOCKS5_CMD_UNSUPPORTED, "UDP ASSOCIATE");
	SOCKS_BAD(B(5, 0), SOCKS5_CMD_UNSUPPORTED, "command 0");
	SOCKS_BAD(B(5, 9, 0), SOCKS5_CMD_UNSUPPORTED, "command 9");
	SOCKS_BAD(B(5, 1, 1), SOCKS5_GENERAL_FAILURE, "RSV 1");
	SOCKS_BAD(B(5, 1, 0xff, 1, 1, 2, 3, 4, 0, 80), SOCKS5_GENERAL_FAILURE, "RSV 0xff");
	SOCKS_BAD(B(5, 1, 0, 2), SOCKS5_ATYP_UNSUPPORTED, "ATYP 2");
	SOCKS_BAD(B(5, 1, 0, 0), SOCKS5_ATYP_UNSUPPORTED, "ATYP 0");
	SOCKS_BAD(B(5, 1, 0, 5, 1, 2, 3, 4, 0, 80), SOCKS5_ATYP_UNSUPPORTED, "ATYP 5");
	SOCKS_BAD(B(5, 1, 0, 3, 0, 0, 80), SOCKS5_GENERAL_FAILURE, "empty domain");
	SOCKS_BAD(B(5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80), SOCKS5_GENERAL_FAILURE, "NUL in domain");
	SOCKS_BAD(B(5, 1, 0, 3, 3, 'a', ' ', 'b', 0, 80), SOCKS5_GENERAL_FAILURE, "space in domain");
	SOCKS_BAD(B(5, 1, 0, 3, 3, 'a', '\n', 'b', 0, 80), SOCKS5_GENERAL_FAILURE, "LF in domain");
	SOCKS_BAD(B(5, 1, 0, 3, 3, 'a', 0x7f, 'b', 0, 80), SOCKS5_GENERAL_FAILURE, "DEL in domain");
	SOCKS_BAD(B(5, 1, 0, 3, 3, 'a', 'b', 'c', 0, 0), SOCKS5_GENERAL_FAILURE, "domain port 0");
	SOCKS_BAD(B(5, 1, 0, 1, 1, 2, 3, 4, 0, 0), SOCKS5_GENERAL_FAILURE, "IPv4 port 0");

	{
		static const uint8_t extra[] = { 5, 1, 0, 1, 10, 0, 0, 1, 0, 22, 0x16, 0x03 };

		CHECK_INT(sreq(extra, sizeof(extra), &r, &code), 10);
		CHECK_STR(r.host, "10.0.0.1");
	}
	CHECK_INT(sreq(v4, 0, &r, &code), 0);
}

static void
test_socks_reply(void)
{
	uint8_t out[10];
	static const uint8_t want[10] = { 5, 2, 0, 1, 0, 0, 0, 0, 0, 0 };

	begin("SOCKS5 reply");
	memset(out, 0xaa, sizeof(out));
	CHECK_INT(socks5_reply(out, SOCKS5_NOT_ALLOWED), 10);
	CHECK(memcmp(out, want, 10) == 0, "05 02 00 01 00000000 0000");
	socks5_reply(out, SOCKS5_OK);
	CHECK(out[1] == 0 && out[0] == 5 && out[3] == 1, "success reply");
}

/* ---- deterministic fuzz ------------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/*
 * Mutate valid requests and check: a refusal has one of the documented
 * statuses and a reason; an acceptance has head_len within the input and
 * the cap, every prefix of it needs more, its upstream head re-parses with
 * the same framing, and its body feeds the same however it is split.
 */
static void
test_fuzz(void)
{
	static const char *const seeds[] = {
		"GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\nConnection: x\r\nX: 1\r\n\r\n",
		"POST http://a:81/ HTTP/1.1\r\nHost: a:81\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5;e\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"POST http://[::1]/ HTTP/1.1\r\nHost: [::1]\r\nContent-Length: 3\r\n\r\nabcGET",
		"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
	};
	static const char alphabet[] = "\r\n :;,0123456789abcdefxX-/[]@?*#\t\x00\x7f\x80"
	    "HTTP/1.chunkedContent-LengthTransfer-Encoding";
	char buf[512];
	int bad = 0, accepted = 0;

	begin("deterministic fuzz");
	for (int iter = 0; iter < 20000; iter++) {
		const char *s = seeds[rnd() % ARRAY_SIZE(seeds)];
		size_t len = strlen(s), muts = 1 + rnd() % 4;
		struct http_request r;
		int st = 0;
		const char *why = NULL;
		ssize_t n;

		memcpy(buf, s, len);
		for (size_t m = 0; m < muts; m++) {
			size_t at = rnd() % (len + 1);
			char c = alphabet[rnd() % (sizeof(alphabet) - 1)];

			switch (rnd() % 3) {
			case 0:
				if (at < len)
					buf[at] = c;
				break;
			case 1:
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = c;
					len++;
				}
				break;
			default:
				if (at < len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
			}
		}
		n = http_parse_request(buf, len, &r, &st, &why);
		if (n < 0) {
			if ((st != 400 && st != 414 && st != 431 && st != 501 && st != 505) || !why)
				bad++;
			continue;
		}
		if (n == 0)
			continue;
		accepted++;
		if ((size_t)n > len || (size_t)n != r.head_len || r.nheaders > HTTP_MAX_HEADERS)
			bad++;
		for (size_t k = 0; k < (size_t)n; k += 1 + rnd() % 7) {
			struct http_request r2;
			if (http_parse_request(buf, k, &r2, NULL, NULL) != 0)
				bad++;
		}
		if (r.form == HTTP_FORM_ABSOLUTE) {
			struct sbuf u;
			struct http_request r2;

			sbuf_init(&u, 65536);
			http_build_upstream_head(&r, &u);
			if (http_parse_request(u.p, u.len, &r2, NULL, NULL) != (ssize_t)u.len ||
			    r2.body != r.body || r2.content_length != r.content_length)
				bad++;
			sbuf_free(&u);
		}
		{
			struct http_body b1, b2;
			ssize_t t1, t2 = 0;

			http_body_init(&b1, &r);
			http_body_init(&b2, &r);
			t1 = http_body_feed(&b1, buf + n, len - (size_t)n);
			for (size_t off = (size_t)n; off < len && !b2.done; off++) {
				ssize_t k = http_body_feed(&b2, buf + off, 1);
				if (k < 0) {
					t2 = -1;
					break;
				}
				t2 += k;
			}
			if (t1 != t2 || (t1 >= 0 && b1.done != b2.done) || t1 > (ssize_t)(len - (size_t)n))
				bad++;
		}
	}
	CHECK(bad == 0 && accepted > 100, "20000 mutated requests: invariants hold (%d bad, %d accepted)",
	    bad, accepted);
}

int
main(void)
{
	test_request_line();
	test_targets();
	test_authority();
	test_headers();
	test_limits();
	test_host();
	test_framing();
	test_connection();
	test_upstream();
	test_partial();
	test_body();
	test_socks_greeting();
	test_socks_request();
	test_socks_reply();
	test_fuzz();

	printf("1..%d\n", n_pass + n_fail);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
