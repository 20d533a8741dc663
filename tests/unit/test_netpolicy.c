/*
 * Unit tests for the network policy decision and the path globs under it:
 * glob semantics and their cost on hostile patterns, destination
 * normalisation (case, trailing dot, IDN, IP literal spellings), host,
 * port and binary matching against policies loaded from YAML with the real
 * loader, the reasons given for denials, address classes including the
 * IPv6 forms that embed IPv4, and the post-resolution address check.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.
 */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "../../src/lib/glob.h"
#include "../../src/policy/policy.h"
#include "../../src/proxy/netpolicy.h"

#include "check.h"

#define CHECK_NULL(a) ({ const void *_a = (a); \
	check(_a == NULL, __FILE__, __LINE__, "%s is NULL (got \"%s\")", #a, \
	    _a ? (const char *)_a : ""); })

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* ---- globs --------------------------------------------------------------- */

#define GLOB_YES(pat, path) check(glob_match_path(pat, path), __FILE__, __LINE__, \
	"'%s' matches '%s'", pat, path)
#define GLOB_NO(pat, path) check(!glob_match_path(pat, path), __FILE__, __LINE__, \
	"'%s' does not match '%s'", pat, path)

static void
test_glob_basic(void)
{
	begin("glob literal, '*', '?'");
	GLOB_YES("/usr/bin/curl", "/usr/bin/curl");
	GLOB_NO("/usr/bin/curl", "/usr/bin/curl2");
	GLOB_NO("/usr/bin/curl", "/usr/bin");
	GLOB_NO("/usr/bin/curl", "/usr/bin/curl/");
	GLOB_NO("/usr/bin", "/usr//bin");
	GLOB_YES("/usr/bin/python3*", "/usr/bin/python3");
	GLOB_YES("/usr/bin/python3*", "/usr/bin/python3.11");
	GLOB_NO("/usr/bin/python3*", "/usr/bin/python");
	GLOB_NO("/usr/bin/python3*", "/usr/bin/python3/evil");
	GLOB_YES("/usr/lib/jvm/*/bin/java", "/usr/lib/jvm/java-17/bin/java");
	GLOB_NO("/usr/lib/jvm/*/bin/java", "/usr/lib/jvm/a/b/bin/java");
	GLOB_YES("/usr/bin/*", "/usr/bin/.hidden");
	GLOB_NO("/usr/bin/*", "/usr/bin/sub/x");
	GLOB_YES("/v1/*", "/v1/");
	GLOB_YES("/a*b*c", "/abc");
	GLOB_YES("/a*b*c", "/aXXbYYc");
	GLOB_NO("/a*b*c", "/aXXbYYcd");
	GLOB_YES("/bin/?h", "/bin/sh");
	GLOB_NO("/bin/?h", "/bin/bash");
	GLOB_NO("/a?b", "/a/b");
	GLOB_NO("/a*b", "/a/b");
	GLOB_YES("", "");
	GLOB_NO("", "/");
	CHECK(!glob_match_path(NULL, "/x") && !glob_match_path("/x", NULL), "NULL never matches");

	begin("glob brackets and escapes");
	GLOB_YES("/bin/[bd]ash", "/bin/bash");
	GLOB_YES("/bin/[bd]ash", "/bin/dash");
	GLOB_NO("/bin/[bd]ash", "/bin/fash");
	GLOB_YES("/bin/[!b]ash", "/bin/dash");
	GLOB_NO("/bin/[!b]ash", "/bin/bash");
	GLOB_NO("/bin/[^b]ash", "/bin/bash");
	GLOB_YES("/x/[a-c]1", "/x/b1");
	GLOB_NO("/x/[a-c]1", "/x/d1");
	GLOB_YES("/x/[]]", "/x/]");
	GLOB_YES("/x/[!]]", "/x/a");
	GLOB_NO("/x/[!]]", "/x/]");
	GLOB_YES("/x/[a-]", "/x/-");
	GLOB_YES("/py[[:digit:]]", "/py3");
	GLOB_NO("/py[[:digit:]]", "/pyx");
	GLOB_YES("/x/[[:upper:][:digit:]]z", "/x/Qz");
	GLOB_YES("/x/[abc", "/x/[abc");
	GLOB_NO("/x/[abc", "/x/a");
	GLOB_NO("/a[/]b", "/a/b");
	GLOB_YES("/a/\\*", "/a/*");
	GLOB_NO("/a/\\*", "/a/b");
	GLOB_YES("/a/\\?", "/a/?");
	GLOB_NO("/a/\\?", "/a/b");
}

static void
test_glob_dstar(void)
{
	begin("glob '**' segments");
	GLOB_YES("/usr/**", "/usr");
	GLOB_YES("/usr/**", "/usr/");
	GLOB_YES("/usr/**", "/usr/bin/x");
	GLOB_NO("/usr/**", "/usrx");
	GLOB_NO("/usr/**", "/opt/usr/bin");
	GLOB_YES("**", "/anything/at/all");
	GLOB_YES("**", "");
	GLOB_YES("**", "/");
	GLOB_YES("**/bin/sh", "/bin/sh");
	GLOB_YES("**/bin/sh", "/usr/local/bin/sh");
	GLOB_NO("**/bin/sh", "/usr/local/bin/shx");
	GLOB_YES("/a/**/b", "/a/b");
	GLOB_YES("/a/**/b", "/a/x/y/b");
	GLOB_NO("/a/**/b", "/a/x/y/c");
	GLOB_NO("/a/**/b", "/a/b/c");
	GLOB_YES("/a/**/b/**/c", "/a/b/c");
	GLOB_YES("/a/**/b/**/c", "/a/x/b/y/z/c");
	GLOB_YES("/a/**/b/**/c", "/a/b/b/c");
	GLOB_NO("/a/**/b/**/c", "/a/c/b");
	GLOB_YES("**/x/**", "/x");
	GLOB_YES("**/x/**", "/a/x/b/c");
	GLOB_NO("**/x/**", "/a/xy/b");
	GLOB_YES("/a/**/**/b", "/a/b");
	GLOB_YES("/a/**/*.py", "/a/p/q/m.py");
	GLOB_NO("/a/**/*.py", "/a/p/q/m.pyc");
	GLOB_YES("/x/a**b", "/x/aZZb");
	GLOB_NO("/x/a**b", "/x/a/b");
	GLOB_YES("/opt/**/bin/node", "/opt/node/v20/bin/node");
}

static void
test_glob_cost(void)
{
	static char s[100001];
	char *deep;
	double t0, t;
	bool r1, r2, r3, r4;
	size_t n = 0;

	begin("glob cost on hostile input");
	memset(s, 'a', sizeof(s) - 1);
	s[0] = '/';
	t0 = now_s();
	r1 = glob_match_path("/*a*a*a*a*a*a*a*a*a*a*a*a*b", s);
	s[sizeof(s) - 2] = 'b';
	r2 = glob_match_path("/*a*a*a*a*a*a*a*a*a*a*a*a*b", s);
	t = now_s() - t0;
	CHECK(!r1, "'*a*a*...*b' does not match a run of 'a'");
	CHECK(r2, "'*a*a*...*b' matches a run of 'a' ending in 'b'");
	CHECK(t < 2.0, "both on 100 000 bytes in %.3f s", t);

	/* 5 000 segments "/a" against a pattern of many '**'. */
	deep = malloc(10001 + 3);
	if (!deep)
		abort();
	for (int i = 0; i < 5000; i++) {
		deep[n++] = '/';
		deep[n++] = 'a';
	}
	deep[n] = '\0';
	t0 = now_s();
	r3 = glob_match_path("**/**/**/**/**/**/**/**/b/**/**/c", deep);
	memcpy(deep + n, "/c", 3);
	deep[2 * 2500 + 1] = 'b';	/* one segment in the middle becomes "b" */
	r4 = glob_match_path("**/**/**/**/**/**/**/**/b/**/**/c", deep);
	t = now_s() - t0;
	CHECK(!r3, "many '**' against 5 000 segments: no match");
	CHECK(r4, "many '**' against 5 000 segments with b and c: match");
	CHECK(t < 2.0, "both in %.3f s", t);
	free(deep);
}

/*
 * Differential checks on small random inputs: without '**' the glob must
 * agree with fnmatch(FNM_PATHNAME); with it, with a plain recursive
 * matcher of the documented segment semantics (exponential, but the inputs
 * are tiny).
 */
static uint64_t rnd_state = 88172645463325252ull;

static unsigned
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)rnd_state;
}

static size_t
split_segments(char *s, char **v)
{
	size_t n = 0;

	v[n++] = s;
	for (char *c = s; *c; c++) {
		if (*c == '/') {
			*c = '\0';
			v[n++] = c + 1;
		}
	}
	return n;
}

static bool
ref_match(char **p, size_t np, char **s, size_t ns)
{
	if (np == 0)
		return ns == 0;
	if (strcmp(p[0], "**") == 0) {
		for (size_t k = 0; k <= ns; k++)
			if (ref_match(p + 1, np - 1, s + k, ns - k))
				return true;
		return false;
	}
	return ns > 0 && fnmatch(p[0], s[0], 0) == 0 && ref_match(p + 1, np - 1, s + 1, ns - 1);
}

static void
random_glob(char *p, size_t cap, char *s, bool dstar)
{
	static const char *const tok[] = { "a", "b", "/", "*", "?", "[ab]", "[!a]", "[a-b]",
		"**", "/**/", "**/", "/**" };
	size_t ntok = dstar ? ARRAY_SIZE(tok) : 8, np = rnd() % 8, ns = rnd() % 10, len = 0;

	p[0] = '\0';
	for (size_t i = 0; i < np; i++) {
		const char *t = tok[rnd() % ntok];
		size_t tl = strlen(t);
		if (len + tl + 1 > cap)
			break;
		memcpy(p + len, t, tl + 1);
		len += tl;
	}
	for (size_t i = 0; i < ns; i++)
		s[i] = "ab/c"[rnd() % 4];
	s[ns] = '\0';
}

static void
test_glob_differential(void)
{
	char p[64], s[16], pc[64], sc[16], *pv[64], *sv[16];
	int diff_fn = 0, diff_ref = 0, n_fn = 0;

	begin("glob agrees with reference matchers");
	for (int i = 0; i < 20000; i++) {
		random_glob(p, sizeof(p), s, false);
		if (strstr(p, "**"))
			continue;
		n_fn++;
		if (glob_match_path(p, s) != (fnmatch(p, s, FNM_PATHNAME) == 0) && diff_fn++ < 5)
			printf("# differs from fnmatch: '%s' '%s'\n", p, s);
	}
	CHECK(diff_fn == 0, "%d random patterns without '**' agree with fnmatch (%d differ)", n_fn, diff_fn);
	for (int i = 0; i < 20000; i++) {
		size_t np, ns;

		random_glob(p, sizeof(p), s, true);
		memcpy(pc, p, sizeof(pc));
		memcpy(sc, s, sizeof(sc));
		np = split_segments(pc, pv);
		ns = split_segments(sc, sv);
		if (glob_match_path(p, s) != ref_match(pv, np, sv, ns) && diff_ref++ < 5)
			printf("# differs from the reference: '%s' '%s'\n", p, s);
	}
	CHECK(diff_ref == 0, "20000 random patterns with '**' agree with a recursive reference (%d differ)",
	    diff_ref);
}

/* ---- dest_normalize ------------------------------------------------------ */

static void
norm_ok(const char *raw, const char *want, bool is_ip, int family, int line)
{
	struct dest d;
	const char *why = dest_normalize(raw, 443, &d);

	check(why == NULL && strcmp(d.host, want) == 0 && d.is_ip == is_ip &&
	    (!is_ip || d.family == family) && d.port == 443, __FILE__, line,
	    "'%s' normalises to '%s'%s (got %s%s%s)", raw, want, is_ip ? " (IP)" : "",
	    why ? "error: " : "'", why ? why : d.host, why ? "" : "'");
}

static void
norm_bad(const char *raw, const char *sub, int line)
{
	struct dest d;
	const char *why = dest_normalize(raw, 443, &d);

	check(why != NULL && (!sub || strstr(why, sub)) && d.host[0] == '\0', __FILE__, line,
	    "'%s' refused%s%s (got %s)", raw, sub ? " mentioning " : "", sub ? sub : "",
	    why ? why : "accepted");
}

#define NORM_OK(raw, want) norm_ok(raw, want, false, 0, __LINE__)
#define NORM_IP(raw, want, fam) norm_ok(raw, want, true, fam, __LINE__)
#define NORM_BAD(raw, sub) norm_bad(raw, sub, __LINE__)

static void
test_normalize(void)
{
	struct dest d;
	char label63[64], label64[65], long253[254], long254[255];

	begin("normalise names");
	NORM_OK("API.Example.COM", "api.example.com");
	NORM_OK("example.com.", "example.com");
	NORM_OK("_dmarc.example.com", "_dmarc.example.com");
	NORM_OK("123.example.com", "123.example.com");
	NORM_OK("0x7f.example", "0x7f.example");
	NORM_OK("cafe.be", "cafe.be");
	NORM_OK("localhost", "localhost");
	NORM_BAD("example.com..", "empty label");
	NORM_BAD(".", "empty label");
	NORM_BAD(".example.com", "empty label");
	NORM_BAD("a..example.com", "empty label");
	NORM_BAD("", "empty");
	NORM_BAD(NULL, NULL);
	NORM_BAD("a b.example.com", "letters, digits");
	NORM_BAD("*.example.com", "letters, digits");
	NORM_BAD("exa$mple.com", "letters, digits");
	NORM_BAD("a/b.example.com", "letters, digits");
	NORM_BAD("host.example.com:443", "port");
	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	{
		char ok[80], bad[80];
		snprintf(ok, sizeof(ok), "%s.com", label63);
		snprintf(bad, sizeof(bad), "%s.com", label64);
		NORM_OK(ok, ok);
		NORM_BAD(bad, "63");
	}
	/* 253 = 63 + 1 + 63 + 1 + 63 + 1 + 61 */
	snprintf(long253, sizeof(long253), "%s.%s.%s.%.61s", label63, label63, label63, label63);
	snprintf(long254, sizeof(long254), "%s.%s.%s.%.62s", label63, label63, label63, label63);
	CHECK_INT(strlen(long253), 253);
	NORM_OK(long253, long253);
	NORM_BAD(long254, "253");
	CHECK(dest_normalize("example.com", 0, &d) != NULL, "port 0 refused");
	CHECK(dest_normalize("example.com", 65535, &d) == NULL && d.port == 65535, "port 65535 kept");
	{
		char big[2048];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		NORM_BAD(big, "too long");
	}

	begin("normalise internationalised names");
	NORM_OK("bücher.example", "xn--bcher-kva.example");
	NORM_OK("BÜCHER.example", "xn--bcher-kva.example");
	NORM_OK("Bücher.Example.", "xn--bcher-kva.example");
	NORM_OK("xn--bcher-kva.example", "xn--bcher-kva.example");
	NORM_OK("straße.de", "xn--strae-oqa.de");
	NORM_OK("a\xe3\x80\x82" "example\xe3\x80\x82" "com", "a.example.com");	/* U+3002 dots */
	NORM_BAD("\xe2\x98\x83.com", "internationalised");			/* snowman */
	NORM_BAD("b\xfc" "cher.example", "internationalised");			/* Latin-1, not UTF-8 */
	NORM_BAD("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.\xef\xbc\x90.\xef\xbc\x90.\xef\xbc\x91",
	    "number");								/* full-width 127.0.0.1 */
	NORM_BAD("ü..example", "empty label");

	begin("normalise IP literals");
	NORM_IP("1.2.3.4", "1.2.3.4", AF_INET);
	NORM_IP("[::1]", "::1", AF_INET6);
	NORM_IP("::1", "::1", AF_INET6);
	NORM_IP("::", "::", AF_INET6);
	NORM_IP("[2001:DB8:0:0::1]", "2001:db8::1", AF_INET6);
	NORM_IP("::ffff:127.0.0.1", "127.0.0.1", AF_INET);
	NORM_IP("[::FFFF:7f00:1]", "127.0.0.1", AF_INET);
	NORM_IP("::7f00:1", "127.0.0.1", AF_INET);
	NORM_IP("::169.254.169.254", "169.254.169.254", AF_INET);
	NORM_IP("64:ff9b::1.2.3.4", "64:ff9b::102:304", AF_INET6);
	CHECK(dest_normalize("[::ffff:10.1.2.3]", 80, &d) == NULL && d.addr[0] == 10 &&
	    d.addr[1] == 1 && d.addr[2] == 2 && d.addr[3] == 3 && d.addr[4] == 0 && d.addr[15] == 0,
	    "mapped address bytes are the IPv4 bytes first");
	NORM_BAD("0x7f.0.0.1", "legacy");
	NORM_BAD("2130706433", "legacy");
	NORM_BAD("127.1", "legacy");
	NORM_BAD("0177.0.0.1", "legacy");
	NORM_BAD("127.000.0.1", "legacy");
	NORM_BAD("0x7f000001", "legacy");
	NORM_BAD("1.2.3.0x4", "legacy");
	NORM_BAD("1.2.3.4.5", "legacy");
	NORM_BAD("127.0.0.1.", "legacy");
	NORM_BAD("example.123", "legacy");
	NORM_BAD("fe80::1%eth0", "zone");
	NORM_BAD("[fe80::1%25eth0]", "zone");
	NORM_BAD("[example.com]", "IPv6");
	NORM_BAD("[1.2.3.4]", "IPv6");
	NORM_BAD("[::1", "bracket");
	NORM_BAD("::1]", "bracket");
	NORM_BAD("[]", "bracket");
	NORM_BAD("1:2:3:4:5:6:7:8:9", "IPv6");
}

/* ---- netpolicy_decide ---------------------------------------------------- */

static const char policy_yaml[] =
	"version: 1\n"
	"network_policies:\n"
	"  a_exact:\n"
	"    name: Exact API\n"
	"    endpoints:\n"
	"      - host: API.Example.com.\n"
	"        port: 443\n"
	"      - host: git.corp.example.org\n"
	"        ports: [22, 443]\n"
	"    binaries:\n"
	"      - path: /usr/bin/curl\n"
	"      - path: /usr/lib/jvm/*/bin/java\n"
	"  b_wild:\n"
	"    name: Wildcards\n"
	"    endpoints:\n"
	"      - host: \"*.wild.example.com\"\n"
	"        port: 443\n"
	"      - host: \"**.deep.example.com\"\n"
	"        port: 443\n"
	"      - host: \"api-*.part.example.com\"\n"
	"        port: 443\n"
	"    binaries:\n"
	"      - path: /usr/bin/python3*\n"
	"  c_children:\n"
	"    endpoints:\n"
	"      - host: pypi.example.net\n"
	"        port: 443\n"
	"    binaries:\n"
	"      - path: /usr/bin/pip\n"
	"        children: true\n"
	"  d_ips:\n"
	"    name: Internal IPs\n"
	"    endpoints:\n"
	"      - host: 10.1.2.3\n"
	"        port: 8080\n"
	"      - host: \"2001:DB8:0::10\"\n"
	"        port: 443\n"
	"      - allowed_ips: [10.20.0.0/16]\n"
	"        port: 5432\n"
	"      - host: db.internal.example.com\n"
	"        port: 5432\n"
	"        allowed_ips: [10.30.0.0/16, \"2001:db8:30::/48\"]\n"
	"    binaries:\n"
	"      - path: /usr/bin/psql\n"
	"  e_wget:\n"
	"    endpoints:\n"
	"      - host: api.example.com\n"
	"        port: 443\n"
	"    binaries:\n"
	"      - path: /usr/bin/wget\n"
	"  f_other:\n"
	"    name: Other\n"
	"    endpoints:\n"
	"      - host: other.example.com\n"
	"        port: 443\n"
	"    binaries:\n"
	"      - path: /usr/bin/node\n"
	"  g_prefer:\n"
	"    endpoints:\n"
	"      - host: \"*.corp.example.net\"\n"
	"        port: 443\n"
	"      - host: git.corp.example.net\n"
	"        port: 443\n"
	"    binaries:\n"
	"      - path: /usr/bin/git\n"
	"  h_nobin:\n"
	"    endpoints:\n"
	"      - host: nobin.example.com\n"
	"        port: 443\n"
	"    binaries: []\n"
	"  i_idn:\n"
	"    endpoints:\n"
	"      - host: xn--bcher-kva.example\n"
	"        port: 443\n"
	"    binaries:\n"
	"      - path: /usr/bin/curl\n"
	"  j_reserved:\n"
	"    endpoints:\n"
	"      - allowed_ips: [198.18.0.0/15]\n"
	"        port: 9000\n"
	"      - host: bench.example.com\n"
	"        port: 9000\n"
	"        allowed_ips: [198.18.0.0/15]\n"
	"    binaries:\n"
	"      - path: /usr/bin/bench\n";

static struct policy P;

static void
decide(const char *host, uint16_t port, const char *exe, const char *const *anc, size_t nanc,
    struct netdecision *out)
{
	struct dest d;
	struct binident b = { .exe = exe, .ancestors = anc, .nancestors = nanc };
	const char *why = dest_normalize(host, port, &d);

	memset(out, 0, sizeof(*out));
	if (why) {
		snprintf(out->reason, sizeof(out->reason), "normalise: %s", why);
		return;
	}
	netpolicy_decide(&P, &d, &b, out);
}

static void
expect_allow(const char *host, uint16_t port, const char *exe, const char *const *anc,
    size_t nanc, const char *key, bool exact, int line)
{
	struct netdecision nd;

	decide(host, port, exe, anc, nanc, &nd);
	check(nd.allow && nd.rule && strcmp(nd.rule->key, key) == 0 && nd.ep &&
	    nd.named_exactly == exact && strncmp(nd.reason, "allowed by policy '", 19) == 0,
	    __FILE__, line, "%s:%u from %s allowed by %s%s (got %s, rule %s, exact %d: %s)",
	    host, port, exe ? exe : "(null)", key, exact ? ", named exactly" : "",
	    nd.allow ? "allow" : "deny", nd.rule ? nd.rule->key : "-", nd.named_exactly, nd.reason);
}

static void
expect_deny(const char *host, uint16_t port, const char *exe, const char *const *anc,
    size_t nanc, const char *reason, const char *key, int line)
{
	struct netdecision nd;

	decide(host, port, exe, anc, nanc, &nd);
	check(!nd.allow && strcmp(nd.reason, reason) == 0 &&
	    (key ? nd.rule && strcmp(nd.rule->key, key) == 0 : nd.rule == NULL), __FILE__, line,
	    "%s:%u from %s denied: \"%s\"%s%s (got %s, rule %s: \"%s\")", host, port,
	    exe ? exe : "(null)", reason, key ? ", rule " : "", key ? key : "",
	    nd.allow ? "allow" : "deny", nd.rule ? nd.rule->key : "-", nd.reason);
}

#define ALLOW(host, port, exe, key, exact) expect_allow(host, port, exe, NULL, 0, key, exact, __LINE__)
#define ALLOW_ANC(host, port, exe, anc, key) \
	expect_allow(host, port, exe, anc, ARRAY_SIZE(anc), key, true, __LINE__)
#define DENY(host, port, exe, reason, key) expect_deny(host, port, exe, NULL, 0, reason, key, __LINE__)
#define DENY_ANC(host, port, exe, anc, reason, key) \
	expect_deny(host, port, exe, anc, ARRAY_SIZE(anc), reason, key, __LINE__)

#define NO_POLICY(hp) "no network policy allows " hp

static void
test_decide_hosts(void)
{
	struct netdecision nd;

	begin("decide: exact hosts and ports");
	ALLOW("api.example.com", 443, "/usr/bin/curl", "a_exact", true);
	ALLOW("API.EXAMPLE.COM.", 443, "/usr/bin/curl", "a_exact", true);
	decide("api.example.com", 443, "/usr/bin/curl", NULL, 0, &nd);
	CHECK_STR(nd.reason, "allowed by policy 'Exact API'");
	CHECK(nd.ep && nd.ep->host && strcmp(nd.ep->host, "api.example.com") == 0,
	    "the deciding endpoint is returned");
	DENY("api.example.com", 80, "/usr/bin/curl", NO_POLICY("api.example.com:80"), NULL);
	DENY("www.example.com", 443, "/usr/bin/curl", NO_POLICY("www.example.com:443"), NULL);
	DENY("example.com", 443, "/usr/bin/curl", NO_POLICY("example.com:443"), NULL);
	DENY("api.example.com.evil.test", 443, "/usr/bin/curl",
	    NO_POLICY("api.example.com.evil.test:443"), NULL);
	ALLOW("git.corp.example.org", 22, "/usr/bin/curl", "a_exact", true);
	ALLOW("git.corp.example.org", 443, "/usr/bin/curl", "a_exact", true);
	DENY("git.corp.example.org", 80, "/usr/bin/curl", NO_POLICY("git.corp.example.org:80"), NULL);
	ALLOW("bücher.example", 443, "/usr/bin/curl", "i_idn", true);
	ALLOW("xn--bcher-kva.example", 443, "/usr/bin/curl", "i_idn", true);

	begin("decide: wildcards");
	ALLOW("x.wild.example.com", 443, "/usr/bin/python3.11", "b_wild", false);
	ALLOW("X.Wild.Example.Com", 443, "/usr/bin/python3", "b_wild", false);
	DENY("a.b.wild.example.com", 443, "/usr/bin/python3", NO_POLICY("a.b.wild.example.com:443"), NULL);
	DENY("wild.example.com", 443, "/usr/bin/python3", NO_POLICY("wild.example.com:443"), NULL);
	DENY("xwild.example.com", 443, "/usr/bin/python3", NO_POLICY("xwild.example.com:443"), NULL);
	DENY("x.wild.example.com", 80, "/usr/bin/python3", NO_POLICY("x.wild.example.com:80"), NULL);
	ALLOW("a.deep.example.com", 443, "/usr/bin/python3", "b_wild", false);
	ALLOW("a.b.c.deep.example.com", 443, "/usr/bin/python3", "b_wild", false);
	DENY("deep.example.com", 443, "/usr/bin/python3", NO_POLICY("deep.example.com:443"), NULL);
	DENY("adeep.example.com", 443, "/usr/bin/python3", NO_POLICY("adeep.example.com:443"), NULL);
	ALLOW("api-v1.part.example.com", 443, "/usr/bin/python3", "b_wild", false);
	ALLOW("api-.part.example.com", 443, "/usr/bin/python3", "b_wild", false);
	DENY("web-v1.part.example.com", 443, "/usr/bin/python3",
	    NO_POLICY("web-v1.part.example.com:443"), NULL);
	DENY("api-v1.x.part.example.com", 443, "/usr/bin/python3",
	    NO_POLICY("api-v1.x.part.example.com:443"), NULL);
	DENY("x.api-v1.part.example.com", 443, "/usr/bin/python3",
	    NO_POLICY("x.api-v1.part.example.com:443"), NULL);
	DENY("part.example.com", 443, "/usr/bin/python3", NO_POLICY("part.example.com:443"), NULL);

	begin("decide: exact endpoint preferred within an entry");
	decide("git.corp.example.net", 443, "/usr/bin/git", NULL, 0, &nd);
	CHECK(nd.allow && nd.named_exactly && nd.ep && nd.ep->host &&
	    strcmp(nd.ep->host, "git.corp.example.net") == 0,
	    "git.corp.example.net decided by its exact endpoint, not '*.corp.example.net'");
	ALLOW("ci.corp.example.net", 443, "/usr/bin/git", "g_prefer", false);
}

static void
test_decide_binaries(void)
{
	struct netdecision nd;
	static const char *const pip_parent[] = { "/usr/bin/pip" };
	static const char *const pip_grandparent[] = { "/bin/sh", "/usr/bin/pip", "/usr/bin/tini" };
	static const char *const unrelated[] = { "/bin/sh", "/usr/bin/bash" };
	static const char *const curl_parent[] = { "/usr/bin/curl" };
	static const char *const null_ancestor[] = { NULL, "/usr/bin/pip" };
	char longexe[400];

	begin("decide: binaries");
	ALLOW("api.example.com", 443, "/usr/lib/jvm/java-17-openjdk/bin/java", "a_exact", true);
	DENY("api.example.com", 443, "/usr/lib/jvm/a/b/bin/java",
	    "binary /usr/lib/jvm/a/b/bin/java not allowed by policy 'Exact API'", "a_exact");
	DENY("api.example.com", 443, "/tmp/curl",
	    "binary /tmp/curl not allowed by policy 'Exact API'", "a_exact");
	DENY("api.example.com", 443, "/usr/bin/curl.bak",
	    "binary /usr/bin/curl.bak not allowed by policy 'Exact API'", "a_exact");
	DENY("api.example.com", 443, "/home/u/bin/curl",
	    "binary /home/u/bin/curl not allowed by policy 'Exact API'", "a_exact");
	/* The first entry misses the binary, a later one allows it. */
	ALLOW("api.example.com", 443, "/usr/bin/wget", "e_wget", true);
	DENY("other.example.com", 443, "/usr/bin/curl",
	    "binary /usr/bin/curl not allowed by policy 'Other'", "f_other");
	decide("other.example.com", 443, "/usr/bin/curl", NULL, 0, &nd);
	CHECK(!nd.allow && nd.ep && nd.ep->host && strcmp(nd.ep->host, "other.example.com") == 0,
	    "binary denial names the endpoint that matched");
	DENY("nobin.example.com", 443, "/usr/bin/curl",
	    "binary /usr/bin/curl not allowed by policy 'h_nobin'", "h_nobin");
	DENY("api.example.com", 443, NULL, "connecting process could not be identified", NULL);
	DENY("api.example.com", 443, "", "connecting process could not be identified", NULL);

	begin("decide: children");
	ALLOW("pypi.example.net", 443, "/usr/bin/pip", "c_children", true);
	ALLOW_ANC("pypi.example.net", 443, "/usr/bin/python3.11", pip_parent, "c_children");
	ALLOW_ANC("pypi.example.net", 443, "/usr/bin/git", pip_grandparent, "c_children");
	ALLOW_ANC("pypi.example.net", 443, "/usr/bin/git", null_ancestor, "c_children");
	DENY("pypi.example.net", 443, "/usr/bin/python3.11",
	    "binary /usr/bin/python3.11 not allowed by policy 'c_children'", "c_children");
	DENY_ANC("pypi.example.net", 443, "/usr/bin/python3.11", unrelated,
	    "binary /usr/bin/python3.11 not allowed by policy 'c_children'", "c_children");
	/* Without children: true an allowed parent lends nothing. */
	DENY_ANC("api.example.com", 443, "/bin/sh", curl_parent,
	    "binary /bin/sh not allowed by policy 'Exact API'", "a_exact");

	begin("decide: reasons are bounded and clean");
	longexe[0] = '/';
	memset(longexe + 1, 'x', sizeof(longexe) - 2);
	longexe[sizeof(longexe) - 1] = '\0';
	decide("api.example.com", 443, longexe, NULL, 0, &nd);
	CHECK(!nd.allow && strlen(nd.reason) < sizeof(nd.reason) &&
	    strncmp(nd.reason, "binary /xxx", 11) == 0 &&
	    strcmp(nd.reason + strlen(nd.reason) - 3, "...") == 0,
	    "a long executable path is cut with '...' (%zu bytes)", strlen(nd.reason));
	decide("api.example.com", 443, "/tmp/evil\n\x1b[31mname", NULL, 0, &nd);
	CHECK_STR(nd.reason, "binary /tmp/evil??[31mname not allowed by policy 'Exact API'");
	/* A cut never leaves half of a UTF-8 character. */
	{
		char exe[300];
		size_t n = 0;

		exe[n++] = '/';
		while (n + 2 < sizeof(exe)) {
			exe[n++] = (char)0xc3;
			exe[n++] = (char)0xbc;
		}
		exe[n] = '\0';
		decide("api.example.com", 443, exe, NULL, 0, &nd);
		n = strlen(nd.reason);
		CHECK(n > 3 && strcmp(nd.reason + n - 3, "...") == 0 &&
		    (unsigned char)nd.reason[n - 4] == 0xbc,
		    "cut on a character boundary");
	}
}

static void
test_decide_ips(void)
{
	struct netdecision nd;

	begin("decide: IP literals");
	ALLOW("10.1.2.3", 8080, "/usr/bin/psql", "d_ips", true);
	ALLOW("[::ffff:10.1.2.3]", 8080, "/usr/bin/psql", "d_ips", true);
	ALLOW("::a01:203", 8080, "/usr/bin/psql", "d_ips", true);
	DENY("10.1.2.3", 80, "/usr/bin/psql", NO_POLICY("10.1.2.3:80"), NULL);
	DENY("10.1.2.4", 8080, "/usr/bin/psql",
	    "IP literal 10.1.2.4 is not listed in any network policy; connect by the host name the policy allows",
	    NULL);
	DENY("10.1.2.3", 8080, "/usr/bin/curl",
	    "binary /usr/bin/curl not allowed by policy 'Internal IPs'", "d_ips");
	ALLOW("[2001:0db8:0:0:0:0:0:10]", 443, "/usr/bin/psql", "d_ips", true);
	ALLOW("2001:db8::10", 443, "/usr/bin/psql", "d_ips", true);
	DENY("[2001:db8::10]", 80, "/usr/bin/psql", NO_POLICY("[2001:db8::10]:80"), NULL);
	DENY("2001:db8::11", 443, "/usr/bin/psql",
	    "IP literal 2001:db8::11 is not listed in any network policy; connect by the host name the policy allows",
	    NULL);
	/* Host-less endpoints: IP literals inside allowed_ips. */
	ALLOW("10.20.5.5", 5432, "/usr/bin/psql", "d_ips", false);
	decide("10.20.5.5", 5432, "/usr/bin/psql", NULL, 0, &nd);
	CHECK(nd.allow && nd.ep && nd.ep->host == NULL, "decided by the host-less endpoint");
	DENY("10.20.5.5", 5433, "/usr/bin/psql", NO_POLICY("10.20.5.5:5433"), NULL);
	DENY("10.21.0.1", 5432, "/usr/bin/psql",
	    "IP literal 10.21.0.1 is not listed in any network policy; connect by the host name the policy allows",
	    NULL);
	/* A name never matches a host-less endpoint. */
	DENY("pg.example.com", 5432, "/usr/bin/psql", NO_POLICY("pg.example.com:5432"), NULL);
	/* A name with allowed_ips: the name decides, the addresses come later. */
	ALLOW("db.internal.example.com", 5432, "/usr/bin/psql", "d_ips", true);
	/* An IP literal never matches a named endpoint, even the address it resolves to. */
	DENY("10.30.0.5", 5432, "/usr/bin/psql",
	    "IP literal 10.30.0.5 is not listed in any network policy; connect by the host name the policy allows",
	    NULL);
	DENY("93.184.216.34", 443, "/usr/bin/curl",
	    "IP literal 93.184.216.34 is not listed in any network policy; connect by the host name the policy allows",
	    NULL);
}

static void
test_decide_empty(void)
{
	struct policy e;
	struct dest d;
	struct binident b = { .exe = "/usr/bin/curl" };
	struct netdecision nd;

	begin("decide: empty network_policies");
	load("version: 1\n", &e);
	dest_normalize("api.example.com", 443, &d);
	netpolicy_decide(&e, &d, &b, &nd);
	CHECK(!nd.allow && nd.rule == NULL, "denied");
	CHECK_STR(nd.reason, "network_policies is empty: no egress is allowed");
	policy_free(&e);
	load("version: 1\nnetwork_policies: {}\n", &e);
	netpolicy_decide(&e, &d, &b, &nd);
	CHECK_STR(nd.reason, "network_policies is empty: no egress is allowed");
	b.exe = NULL;
	netpolicy_decide(&e, &d, &b, &nd);
	CHECK(!nd.allow, "empty policy and unknown process: denied");
	policy_free(&e);
	netpolicy_decide(NULL, &d, &b, &nd);
	CHECK(!nd.allow && nd.reason[0], "no policy: denied with a reason");
	b.exe = "/usr/bin/curl";
	netpolicy_decide(&P, NULL, &b, &nd);
	CHECK(!nd.allow && nd.reason[0], "no destination: denied with a reason");
	memset(&d, 0, sizeof(d));
	netpolicy_decide(&P, &d, &b, &nd);
	CHECK(!nd.allow && nd.reason[0], "zeroed destination: denied with a reason");
}

/* ---- address classes ----------------------------------------------------- */

static struct sockaddr_storage
sa_of(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			abort();
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			abort();
	}
	return ss;
}

static void
expect_class(const char *ip, enum addr_class want, int line)
{
	struct sockaddr_storage ss = sa_of(ip);
	enum addr_class got = addr_classify((struct sockaddr *)&ss);

	check(got == want, __FILE__, line, "%s is %s (got %s)", ip, addr_class_name(want),
	    addr_class_name(got));
}

#define CLASS(ip, c) expect_class(ip, c, __LINE__)

static void
test_classify(void)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	begin("address classes: IPv4");
	CLASS("0.0.0.0", ADDR_UNSPECIFIED);
	CLASS("0.1.2.3", ADDR_UNSPECIFIED);
	CLASS("127.0.0.1", ADDR_LOOPBACK);
	CLASS("127.255.255.254", ADDR_LOOPBACK);
	CLASS("169.254.169.254", ADDR_METADATA);
	CLASS("169.254.1.1", ADDR_LINK_LOCAL);
	CLASS("169.254.170.2", ADDR_LINK_LOCAL);
	CLASS("10.0.0.1", ADDR_PRIVATE);
	CLASS("10.255.255.255", ADDR_PRIVATE);
	CLASS("172.16.0.1", ADDR_PRIVATE);
	CLASS("172.31.255.255", ADDR_PRIVATE);
	CLASS("172.15.255.255", ADDR_PUBLIC);
	CLASS("172.32.0.1", ADDR_PUBLIC);
	CLASS("192.168.1.1", ADDR_PRIVATE);
	CLASS("192.169.0.1", ADDR_PUBLIC);
	CLASS("100.64.0.1", ADDR_PRIVATE);
	CLASS("100.127.255.255", ADDR_PRIVATE);
	CLASS("100.63.255.255", ADDR_PUBLIC);
	CLASS("100.128.0.1", ADDR_PUBLIC);
	CLASS("224.0.0.1", ADDR_MULTICAST);
	CLASS("239.255.255.255", ADDR_MULTICAST);
	CLASS("240.0.0.1", ADDR_RESERVED);
	CLASS("255.255.255.255", ADDR_RESERVED);
	CLASS("192.0.0.8", ADDR_RESERVED);
	CLASS("198.18.0.1", ADDR_RESERVED);
	CLASS("198.19.255.255", ADDR_RESERVED);
	CLASS("198.20.0.1", ADDR_PUBLIC);
	CLASS("192.0.2.1", ADDR_RESERVED);
	CLASS("198.51.100.7", ADDR_RESERVED);
	CLASS("203.0.113.9", ADDR_RESERVED);
	CLASS("192.0.3.1", ADDR_PUBLIC);
	CLASS("8.8.8.8", ADDR_PUBLIC);
	CLASS("1.1.1.1", ADDR_PUBLIC);

	begin("address classes: IPv6");
	CLASS("::", ADDR_UNSPECIFIED);
	CLASS("::1", ADDR_LOOPBACK);
	CLASS("fe80::1", ADDR_LINK_LOCAL);
	CLASS("febf::1", ADDR_LINK_LOCAL);
	CLASS("fec0::1", ADDR_PRIVATE);
	CLASS("fd00:ec2::254", ADDR_METADATA);
	CLASS("fd00:ec2::253", ADDR_PRIVATE);
	CLASS("fc00::1", ADDR_PRIVATE);
	CLASS("fdff:ffff::1", ADDR_PRIVATE);
	CLASS("ff02::1", ADDR_MULTICAST);
	CLASS("ff0e::1", ADDR_MULTICAST);
	CLASS("2001:db8::1", ADDR_RESERVED);
	CLASS("100::1", ADDR_RESERVED);
	CLASS("2606:4700::1111", ADDR_PUBLIC);
	CLASS("2a00:1450:4001::200e", ADDR_PUBLIC);

	begin("address classes: IPv6 forms carrying IPv4");
	CLASS("::ffff:127.0.0.1", ADDR_LOOPBACK);
	CLASS("::ffff:169.254.169.254", ADDR_METADATA);
	CLASS("::ffff:10.0.0.1", ADDR_PRIVATE);
	CLASS("::ffff:8.8.8.8", ADDR_PUBLIC);
	CLASS("::ffff:0.0.0.0", ADDR_UNSPECIFIED);
	CLASS("::127.0.0.1", ADDR_LOOPBACK);
	CLASS("::10.0.0.1", ADDR_PRIVATE);
	CLASS("::8.8.8.8", ADDR_PUBLIC);
	CLASS("::2", ADDR_UNSPECIFIED);
	CLASS("::ffff:0:127.0.0.1", ADDR_LOOPBACK);
	CLASS("64:ff9b::169.254.169.254", ADDR_METADATA);
	CLASS("64:ff9b::7f00:1", ADDR_LOOPBACK);
	CLASS("64:ff9b::8.8.8.8", ADDR_PUBLIC);
	CLASS("64:ff9b::192.168.0.1", ADDR_PRIVATE);
	CLASS("64:ff9b:1::a00:1", ADDR_PRIVATE);
	CLASS("2002:7f00:1::", ADDR_LOOPBACK);
	CLASS("2002:a9fe:a9fe::1", ADDR_METADATA);
	CLASS("2002:c0a8:101::1", ADDR_PRIVATE);
	CLASS("2002:808:808::1", ADDR_PUBLIC);
	CLASS("::1:0:0:1", ADDR_RESERVED);

	begin("address classes: odd input and names");
	CHECK(addr_classify(NULL) == ADDR_RESERVED, "NULL is reserved");
	CHECK(addr_classify((struct sockaddr *)&un) == ADDR_RESERVED, "AF_UNIX is reserved");
	CHECK_STR(addr_class_name(ADDR_PUBLIC), "public");
	CHECK_STR(addr_class_name(ADDR_LOOPBACK), "loopback");
	CHECK_STR(addr_class_name(ADDR_UNSPECIFIED), "unspecified");
	CHECK_STR(addr_class_name(ADDR_LINK_LOCAL), "link-local");
	CHECK_STR(addr_class_name(ADDR_METADATA), "metadata");
	CHECK_STR(addr_class_name(ADDR_PRIVATE), "private");
	CHECK_STR(addr_class_name(ADDR_MULTICAST), "multicast");
	CHECK_STR(addr_class_name(ADDR_RESERVED), "reserved");
}

/* ---- netpolicy_check_addr ------------------------------------------------ */

static void
expect_addr(const struct netdecision *nd, const char *ip, const char *sub, int line)
{
	struct sockaddr_storage ss = sa_of(ip);
	const char *why = netpolicy_check_addr(nd, (struct sockaddr *)&ss);

	if (!sub)
		check(why == NULL, __FILE__, line, "connect to %s allowed (got \"%s\")", ip,
		    why ? why : "");
	else
		check(why && strstr(why, sub), __FILE__, line, "connect to %s refused mentioning \"%s\" (got \"%s\")",
		    ip, sub, why ? why : "allowed");
}

#define ADDR_OK(nd, ip) expect_addr(nd, ip, NULL, __LINE__)
#define ADDR_NO(nd, ip, sub) expect_addr(nd, ip, sub, __LINE__)

static void
test_check_addr(void)
{
	struct netdecision exact, wild, named_ips, hostless, literal, deny, resv_hostless, resv_named;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_storage ss = sa_of("8.8.8.8");

	decide("api.example.com", 443, "/usr/bin/curl", NULL, 0, &exact);
	decide("x.wild.example.com", 443, "/usr/bin/python3", NULL, 0, &wild);
	decide("db.internal.example.com", 5432, "/usr/bin/psql", NULL, 0, &named_ips);
	decide("10.20.5.5", 5432, "/usr/bin/psql", NULL, 0, &hostless);
	decide("10.1.2.3", 8080, "/usr/bin/psql", NULL, 0, &literal);
	decide("api.example.com", 443, "/tmp/curl", NULL, 0, &deny);
	decide("198.18.0.5", 9000, "/usr/bin/bench", NULL, 0, &resv_hostless);
	decide("bench.example.com", 9000, "/usr/bin/bench", NULL, 0, &resv_named);
	CHECK(exact.allow && wild.allow && named_ips.allow && hostless.allow && literal.allow &&
	    !deny.allow && resv_hostless.allow && resv_named.allow, "fixture decisions as expected");

	begin("check_addr: name named exactly, no allowed_ips");
	ADDR_OK(&exact, "8.8.8.8");
	ADDR_OK(&exact, "2606:4700::1111");
	ADDR_OK(&exact, "10.0.0.1");
	ADDR_OK(&exact, "fd12::1");
	ADDR_OK(&exact, "127.0.0.1");
	ADDR_OK(&exact, "169.254.169.254");
	ADDR_NO(&exact, "224.0.0.1", "multicast");
	ADDR_NO(&exact, "ff02::1", "multicast");
	ADDR_NO(&exact, "240.0.0.1", "reserved");
	ADDR_NO(&exact, "192.0.2.1", "reserved");
	ADDR_NO(&exact, "2001:db8::1", "reserved");

	begin("check_addr: wildcard, no allowed_ips");
	ADDR_OK(&wild, "8.8.8.8");
	ADDR_OK(&wild, "2606:4700::1111");
	ADDR_OK(&wild, "::ffff:8.8.8.8");
	ADDR_NO(&wild, "10.0.0.1", "private");
	ADDR_NO(&wild, "192.168.0.10", "private");
	ADDR_NO(&wild, "fd12::1", "private");
	ADDR_NO(&wild, "127.0.0.1", "loopback");
	ADDR_NO(&wild, "::1", "loopback");
	ADDR_NO(&wild, "0.0.0.0", "unspecified");
	ADDR_NO(&wild, "169.254.169.254", "metadata");
	ADDR_NO(&wild, "fd00:ec2::254", "metadata");
	ADDR_NO(&wild, "::ffff:169.254.169.254", "metadata");
	ADDR_NO(&wild, "64:ff9b::7f00:1", "loopback");
	ADDR_NO(&wild, "2002:a9fe:a9fe::", "metadata");
	ADDR_NO(&wild, "fe80::1", "link-local");
	ADDR_NO(&wild, "169.254.1.1", "link-local");
	ADDR_NO(&wild, "10.0.0.1", "name the host exactly");

	begin("check_addr: allowed_ips");
	ADDR_OK(&named_ips, "10.30.1.1");
	ADDR_OK(&named_ips, "::ffff:10.30.1.1");
	ADDR_OK(&named_ips, "2001:db8:30::5");
	ADDR_NO(&named_ips, "10.31.0.1", "outside the endpoint's allowed_ips");
	ADDR_NO(&named_ips, "8.8.8.8", "outside the endpoint's allowed_ips");
	ADDR_NO(&named_ips, "2001:db8:31::5", "outside");
	ADDR_NO(&named_ips, "127.0.0.1", "outside");
	ADDR_OK(&hostless, "10.20.5.5");
	ADDR_NO(&hostless, "10.21.0.1", "outside");
	ADDR_OK(&resv_named, "198.18.0.5");
	ADDR_NO(&resv_hostless, "198.18.0.5", "reserved");
	ADDR_NO(&resv_named, "198.20.0.5", "outside");

	begin("check_addr: IP literal endpoint and failures");
	ADDR_OK(&literal, "10.1.2.3");
	ADDR_OK(&literal, "::ffff:10.1.2.3");
	ADDR_NO(&literal, "10.1.2.4", "not the IP address");
	ADDR_NO(&deny, "8.8.8.8", "not allowed");
	CHECK(netpolicy_check_addr(NULL, (struct sockaddr *)&ss) != NULL, "NULL decision refused");
	CHECK(netpolicy_check_addr(&exact, NULL) != NULL, "NULL address refused");
	CHECK(netpolicy_check_addr(&exact, (struct sockaddr *)&un) != NULL, "AF_UNIX refused");
}

int
main(void)
{
	load(policy_yaml, &P);
	test_glob_basic();
	test_glob_dstar();
	test_glob_cost();
	test_glob_differential();
	test_normalize();
	test_decide_hosts();
	test_decide_binaries();
	test_decide_ips();
	test_decide_empty();
	test_classify();
	test_check_addr();
	policy_free(&P);
	printf("1..%d\n%d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
