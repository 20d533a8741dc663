/*
 * Unit tests for the policy loader: valid policies and the structs they
 * produce, every class of error with its position, expectation and example,
 * canonical form and hash stability, the size/CPU parsers, and a short
 * deterministic fuzz of random and mutated inputs.
 *
 * Runs from the repository root (fixtures are in tests/policies/).  Output
 * is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a final
 * "N passed, N failed" line; the exit status is non-zero on any failure.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/policy/policy.h"

#define FIXTURES "tests/policies/"

#include "check.h"

#define STARTS_WITH(s, lit) (strncmp((s), (lit), strlen(lit)) == 0)
#define CHECK_NULL(a) check((a) == NULL, __FILE__, __LINE__, "%s is NULL", #a)

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

/* ---- helpers ------------------------------------------------------------ */

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t r;
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static char *
render(const struct policy_diags *d)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		abort();
	policy_diags_print(d, f);
	fclose(f);
	return s;
}

static void
dump_diags(const struct policy_diags *d)
{
	char *s = render(d);
	for (char *l = strtok(s, "\n"); l; l = strtok(NULL, "\n"))
		printf("#   | %s\n", l);
	free(s);
}

static int
load_n(const char *yaml, size_t len, struct policy *p, struct policy_diags *d)
{
	return policy_load_buffer("t.yaml", yaml, len, p, d);
}

static int
load(const char *yaml, struct policy *p, struct policy_diags *d)
{
	return load_n(yaml, strlen(yaml), p, d);
}

/* Index of the diagnostic at line:col (0 = any) whose message holds sub, or -1. */
static int
find_diag(const struct policy_diags *d, int line, int col, const char *sub)
{
	for (size_t i = 0; i < d->n; i++) {
		if (line && d->v[i].line != line)
			continue;
		if (col && d->v[i].col != col)
			continue;
		if (sub && !strstr(d->v[i].msg, sub))
			continue;
		return (int)i;
	}
	return -1;
}

/*
 * The rendering of diagnostic i follows the documented shape:
 * FILE:LINE:COL: error: msg, "  expected: ...", "  example:" and the snippet.
 */
static bool
diag_shape_ok(const struct policy_diags *d, size_t i)
{
	struct policy_diags one = { .file = d->file, .v = d->v + i, .n = 1 };
	char prefix[512];
	char *s = render(&one);
	bool ok;

	snprintf(prefix, sizeof(prefix), "%s:%d:%d: error: %s\n", d->file, d->v[i].line,
	    d->v[i].col, d->v[i].msg);
	ok = strncmp(s, prefix, strlen(prefix)) == 0 && d->v[i].line >= 1 && d->v[i].col >= 1 &&
	    d->v[i].expected && *d->v[i].expected && strstr(s, "\n  expected: ") &&
	    d->v[i].example && *d->v[i].example && strstr(s, "\n  example:\n    ");
	free(s);
	return ok;
}

/*
 * Load yaml, expect failure with a diagnostic at line:col whose message
 * contains sub, well formed, and (when ndiags > 0) exactly ndiags diagnostics.
 */
static void
expect_err_n(const char *yaml, size_t len, int line, int col, const char *sub, size_t ndiags,
    int srcline)
{
	struct policy p;
	struct policy_diags d;
	int r = load_n(yaml, len, &p, &d), i;

	check(r == -1, __FILE__, srcline, "rejected");
	i = find_diag(&d, line, col, sub);
	if (!check(i >= 0, __FILE__, srcline, "diagnostic at %d:%d mentioning \"%s\"", line, col, sub))
		dump_diags(&d);
	if (i >= 0 && !check(diag_shape_ok(&d, (size_t)i), __FILE__, srcline,
	    "diagnostic has FILE:LINE:COL: error:, expected: and example:"))
		dump_diags(&d);
	if (ndiags && !check(d.n == ndiags, __FILE__, srcline, "exactly %zu diagnostic(s) (got %zu)",
	    ndiags, d.n))
		dump_diags(&d);
	if (r == 0)
		policy_free(&p);
	policy_diags_free(&d);
}

#define EXPECT_ERR(yaml, line, col, sub) expect_err_n(yaml, strlen(yaml), line, col, sub, 1, __LINE__)
#define EXPECT_ERRS(yaml, line, col, sub) expect_err_n(yaml, strlen(yaml), line, col, sub, 0, __LINE__)

static bool
expect_ok_at(const char *yaml, struct policy *p, int srcline)
{
	struct policy_diags d;
	int r = load(yaml, p, &d);

	if (!check(r == 0 && d.n == 0, __FILE__, srcline, "loads without diagnostics"))
		dump_diags(&d);
	policy_diags_free(&d);
	return r == 0;
}

#define EXPECT_OK(yaml, p) expect_ok_at(yaml, p, __LINE__)

/* Hash of a policy text, or "" when it does not load. */
static void
hash_of(const char *yaml, size_t len, char hex[65])
{
	struct policy p;
	struct policy_diags d;

	hex[0] = '\0';
	if (load_n(yaml, len, &p, &d) == 0) {
		policy_hash(&p, hex);
		policy_free(&p);
	} else {
		dump_diags(&d);
	}
	policy_diags_free(&d);
}

static void
hash_of_file(const char *path, char hex[65])
{
	size_t len = 0;
	char *s = slurp(path, &len);

	hex[0] = '\0';
	if (!s) {
		printf("# cannot read %s\n", path);
		return;
	}
	hash_of(s, len, hex);
	free(s);
}

static bool
is_hex64(const char *h)
{
	if (strlen(h) != 64)
		return false;
	for (; *h; h++)
		if (!strchr("0123456789abcdef", *h))
			return false;
	return true;
}

/* The canonical text loads back to the same canonical text and hash. */
static void
check_round_trip(const struct policy *p, const char *what)
{
	char *c1 = policy_canonical(p), *c2 = NULL;
	char h1[65], h2[65] = "";
	struct policy q;
	struct policy_diags d;

	policy_hash(p, h1);
	CHECK(is_hex64(h1), "%s: hash is 64 hex digits", what);
	if (CHECK(load(c1, &q, &d) == 0, "%s: canonical text loads", what)) {
		c2 = policy_canonical(&q);
		policy_hash(&q, h2);
		CHECK_STR(h2, h1);
		CHECK(strcmp(c1, c2) == 0, "%s: canonical text is a fixed point", what);
		policy_free(&q);
	} else {
		dump_diags(&d);
		printf("# canonical:\n%s", c1);
	}
	policy_diags_free(&d);
	free(c1);
	free(c2);
}

static bool
strv_is(const struct strv *v, size_t n, ...)
{
	va_list ap;
	bool ok = v->n == n;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *s = va_arg(ap, const char *);
		if (ok && strcmp(v->v[i], s) != 0)
			ok = false;
	}
	va_end(ap);
	return ok;
}

/* A string with every occurrence of from replaced by to (owned). */
static char *
replace(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	char *out, *w;

	for (const char *c = strstr(s, from); c; c = strstr(c + fl, from))
		n++;
	out = malloc(strlen(s) + n * tl + 1);
	if (!out)
		abort();
	w = out;
	for (const char *c = s;;) {
		const char *m = strstr(c, from);
		if (!m) {
			strcpy(w, c);
			break;
		}
		memcpy(w, c, (size_t)(m - c));
		w += m - c;
		memcpy(w, to, tl);
		w += tl;
		c = m + fl;
	}
	return out;
}

/* ---- valid policies ----------------------------------------------------- */

static void
test_default(void)
{
	struct policy p;

	begin("default policy");
	if (!EXPECT_OK(policy_default_yaml(), &p))
		return;
	CHECK_INT(p.version, 1);
	CHECK(p.include_workdir, "include_workdir is true");
	CHECK(strv_is(&p.read_only, 6, "/bin", "/etc", "/lib", "/lib64", "/sbin", "/usr"),
	    "read_only is the sorted system directories");
	CHECK_INT(p.read_write.n, 0);
	CHECK(strv_is(&p.deny, 5, "/etc/gshadow", "/etc/shadow", "/etc/ssh", "/etc/sudoers",
	    "/etc/sudoers.d"), "deny holds the secrets");
	CHECK_INT(p.landlock, LANDLOCK_BEST_EFFORT);
	CHECK_NULL(p.run_as_user);
	CHECK_NULL(p.run_as_group);
	CHECK_INT(p.env_pass.n, 0);
	CHECK_INT(p.nenv_set, 0);
	CHECK_INT(p.limits.open_files, 4096);
	CHECK_INT(p.limits.memory, 0);
	CHECK_INT(p.limits.pids, 0);
	CHECK_INT(p.limits.cpu_millis, 0);
	CHECK_INT(p.nnet, 0);
	check_round_trip(&p, "default");
	policy_free(&p);
}

static void
test_minimal(void)
{
	struct policy p;
	struct policy_diags d;

	begin("minimal policy");
	if (!CHECK(policy_load_file(FIXTURES "valid-minimal.yaml", &p, &d) == 0, "version: 1 alone loads"))
		return;
	/* Without a filesystem_policy section the working directory is included. */
	CHECK(p.include_workdir, "include_workdir defaults to true without the section");
	CHECK_INT(p.landlock, LANDLOCK_BEST_EFFORT);
	CHECK_INT(p.read_only.n + p.read_write.n + p.deny.n, 0);
	CHECK_INT(p.nnet, 0);
	check_round_trip(&p, "minimal");
	policy_free(&p);
	policy_diags_free(&d);

	/* With the section, include_workdir defaults to false (as OpenShell). */
	if (EXPECT_OK("version: 1\nfilesystem_policy:\n  read_only: [/usr]\n", &p)) {
		CHECK(!p.include_workdir, "include_workdir defaults to false inside the section");
		policy_free(&p);
	}
	/* A null list is an empty list. */
	if (EXPECT_OK("version: 1\nfilesystem_policy:\n  read_only:\n  deny: ~\nnetwork_policies:\n", &p)) {
		CHECK_INT(p.read_only.n + p.deny.n + p.nnet, 0);
		policy_free(&p);
	}
}

static void
test_full(void)
{
	struct policy p;
	struct policy_diags d;
	struct net_policy *gh, *py;
	struct endpoint *e;

	begin("full policy");
	if (policy_load_file(FIXTURES "valid-full.yaml", &p, &d) != 0) {
		CHECK(false, "valid-full.yaml loads");
		dump_diags(&d);
		policy_diags_free(&d);
		return;
	}
	CHECK_INT(d.n, 0);
	policy_diags_free(&d);

	CHECK_INT(p.version, 1);
	CHECK(!p.include_workdir, "include_workdir: false");
	CHECK(strv_is(&p.read_only, 3, "/etc", "/opt/tools", "/usr"),
	    "read_only sorted, trailing slash dropped");
	CHECK(strv_is(&p.read_write, 2, "/tmp/scratch", "/var/cache/build"),
	    "read_write sorted, '//' squashed");
	CHECK(strv_is(&p.deny, 2, "/etc/shadow", "/usr/local/secrets"), "deny");
	CHECK_INT(p.landlock, LANDLOCK_HARD_REQUIREMENT);
	CHECK_STR(p.run_as_user, "sandbox");
	CHECK_STR(p.run_as_group, "1000");
	CHECK(strv_is(&p.env_pass, 3, "EDITOR", "GIT_AUTHOR_NAME", "LANG"), "env.pass sorted");
	if (CHECK_INT(p.nenv_set, 2)) {
		CHECK_STR(p.env_set[0].name, "PAGER");
		CHECK_STR(p.env_set[0].value, "cat");
		CHECK_STR(p.env_set[1].name, "CI");
		CHECK_STR(p.env_set[1].value, "true");
	}
	CHECK_INT(p.limits.memory, 2ull << 30);
	CHECK_INT(p.limits.pids, 512);
	CHECK_INT(p.limits.cpu_millis, 1500);
	CHECK_INT(p.limits.open_files, 4096);

	if (!CHECK_INT(p.nnet, 2))
		goto out;
	gh = &p.net[0];
	py = &p.net[1];
	CHECK_STR(gh->key, "github");
	CHECK_STR(gh->name, "GitHub API");
	CHECK_STR(py->key, "pypi");
	CHECK_STR(py->name, "pypi");

	if (CHECK_INT(gh->nendpoints, 2)) {
		e = &gh->endpoints[0];
		CHECK_STR(e->host, "api.github.com");
		CHECK(!e->host_is_ip && !e->host_wildcard, "plain host name");
		CHECK(e->nports == 1 && e->ports[0] == 443, "port: 443");
		CHECK_INT(e->protocol, PROTO_REST);
		CHECK_INT(e->enforcement, ENFORCE_AUDIT);
		CHECK_INT(e->access, ACCESS_NONE);
		CHECK(!e->tls_skip, "no tls: skip");
		CHECK(e->allow_encoded_slash, "allow_encoded_slash: true");
		CHECK_NULL(e->path);
		if (CHECK_INT(e->nrules, 2)) {
			CHECK_STR(e->rules[0].method, "GET");
			CHECK_STR(e->rules[0].path, "/repos/**");
			CHECK(strv_is(&e->rules[0].query, 3, "per_page=*", "state=closed", "state=open"),
			    "query with {any: [...]} flattened and sorted");
			CHECK_STR(e->rules[1].method, "POST");
			CHECK_STR(e->rules[1].path, "/repos/*/issues");
			CHECK_INT(e->rules[1].query.n, 0);
		}
		if (CHECK_INT(e->ndeny_rules, 1)) {
			CHECK_STR(e->deny_rules[0].method, "DELETE");
			CHECK_STR(e->deny_rules[0].path, "/**");
		}
		e = &gh->endpoints[1];
		CHECK_STR(e->host, "*.githubusercontent.com");
		CHECK(e->host_wildcard, "wildcard host");
		CHECK(e->nports == 2 && e->ports[0] == 80 && e->ports[1] == 443, "ports sorted");
		CHECK_INT(e->protocol, PROTO_REST);
		CHECK_INT(e->access, ACCESS_READ_ONLY);
		CHECK_INT(e->enforcement, ENFORCE_ENFORCE);
		CHECK_STR(e->path, "/raw/**");
		CHECK(!e->allow_encoded_slash, "allow_encoded_slash defaults to false");
	}
	if (CHECK_INT(gh->nbinaries, 2)) {
		CHECK_STR(gh->binaries[0].path, "/usr/bin/git");
		CHECK(gh->binaries[0].children, "children: true");
		CHECK_STR(gh->binaries[1].path, "/usr/lib/git-core/*");
		CHECK(!gh->binaries[1].children, "children defaults to false");
	}

	if (CHECK_INT(py->nendpoints, 3)) {
		e = &py->endpoints[0];
		CHECK_STR(e->host, "**.files.example.org");
		CHECK(e->host_wildcard, "'**' wildcard host");
		CHECK(e->tls_skip, "tls: skip");
		CHECK_INT(e->protocol, PROTO_NONE);
		e = &py->endpoints[1];
		CHECK_STR(e->host, "files.example.net");
		CHECK_INT(e->protocol, PROTO_TCP);
		CHECK(e->nports == 1 && e->ports[0] == 8443, "port 8443");
		e = &py->endpoints[2];
		CHECK_NULL(e->host);
		CHECK(strv_is(&e->allowed_ips, 2, "10.0.5.0/24", "fd00::/8"), "allowed_ips normalised");
		CHECK(e->nports == 1 && e->ports[0] == 5432, "port 5432");
	}
	if (CHECK_INT(py->nbinaries, 1))
		CHECK_STR(py->binaries[0].path, "/usr/bin/pip");
	check_round_trip(&p, "full");
out:
	policy_free(&p);
}

static void
test_valid_details(void)
{
	struct policy p;

	begin("valid details");
	/* Host normalisation: lower case, trailing dot removed. */
	if (EXPECT_OK("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"
	    "      - {host: API.Example.COM., port: 443}\n"
	    "      - {host: \"[2001:DB8::1]\", port: 443}\n"
	    "      - {host: 192.0.2.10, port: 443}\n"
	    "      - {host: xn--bcher-kva.example, port: 443}\n", &p)) {
		CHECK_STR(p.net[0].endpoints[0].host, "api.example.com");
		CHECK_STR(p.net[0].endpoints[1].host, "2001:db8::1");
		CHECK(p.net[0].endpoints[1].host_is_ip, "bracketed IPv6 is an IP");
		CHECK(p.net[0].endpoints[2].host_is_ip, "IPv4 host is an IP");
		CHECK_STR(p.net[0].endpoints[3].host, "xn--bcher-kva.example");
		policy_free(&p);
	}
	/* Wildcards that name a registrable domain are fine. */
	if (EXPECT_OK("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"
	    "      - {host: \"*.example.com\", port: 443}\n"
	    "      - {host: \"**.example.com\", port: 443}\n"
	    "      - {host: \"*.example.co.uk\", port: 443}\n", &p)) {
		CHECK(p.net[0].endpoints[0].host_wildcard, "*.example.com is a wildcard");
		CHECK(p.net[0].endpoints[1].host_wildcard, "**.example.com is a wildcard");
		CHECK(p.net[0].endpoints[2].host_wildcard, "*.example.co.uk is a wildcard");
		policy_free(&p);
	}
	/* allowed_ips normalisation. */
	if (EXPECT_OK("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"
	    "      - port: 443\n        allowed_ips: [10.1.2.3/8, 192.168.1.4, \"2001:db8::1/32\", "
	    "\"2001:db8::5\"]\n", &p)) {
		CHECK(strv_is(&p.net[0].endpoints[0].allowed_ips, 4, "10.0.0.0/8", "192.168.1.4/32",
		    "2001:db8::/32", "2001:db8::5/128"), "CIDRs masked, prefix written out");
		policy_free(&p);
	}
	/* Rule defaults: method '*', path '**'. */
	if (EXPECT_OK("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"
	    "      - {host: a.example.com, port: 443, protocol: rest, rules: [{allow: {path: /x}}, "
	    "{allow: {method: PUT}}]}\n", &p)) {
		CHECK_STR(p.net[0].endpoints[0].rules[0].method, "*");
		CHECK_STR(p.net[0].endpoints[0].rules[1].path, "**");
		policy_free(&p);
	}
	/* Numeric ids and plain values are strings where strings are expected. */
	if (EXPECT_OK("version: 1\nprocess:\n  run_as_user: 1000\n  run_as_group: 1000\n"
	    "  env: {set: {N: 5, EMPTY: \"\", T: true}}\n", &p)) {
		CHECK_STR(p.run_as_user, "1000");
		CHECK_STR(p.env_set[0].value, "5");
		CHECK_STR(p.env_set[1].value, "");
		CHECK_STR(p.env_set[2].value, "true");
		check_round_trip(&p, "env values");
		policy_free(&p);
	}
	/* Strings that need escaping survive the canonical round trip. */
	if (EXPECT_OK("version: 1\nprocess:\n  env:\n    set:\n"
	    "      A: \"quote \\\" backslash \\\\ tab \\t esc \\e del \\x7f\"\n"
	    "      B: \"nel \\N ls \\L ps \\P bom \\uFEFF caf\\u00e9 \\U0001F600\"\n"
	    "      C: 'single ''quoted'' # not a comment'\n"
	    "      D: |\n        two\n        lines\n", &p)) {
		CHECK_STR(p.env_set[0].value, "quote \" backslash \\ tab \t esc \x1b del \x7f");
		CHECK_STR(p.env_set[1].value,
		    "nel \xc2\x85 ls \xe2\x80\xa8 ps \xe2\x80\xa9 bom \xef\xbb\xbf caf\xc3\xa9 \xf0\x9f\x98\x80");
		CHECK_STR(p.env_set[2].value, "single 'quoted' # not a comment");
		CHECK_STR(p.env_set[3].value, "two\nlines\n");
		check_round_trip(&p, "escapes");
		policy_free(&p);
	}
	/* Escapes that decode to characters YAML refuses raw (C1 controls, U+FFFE). */
	if (EXPECT_OK("version: 1\nprocess:\n  env:\n    set:\n"
	    "      A: \"c1 \\x80 \\x8f \\x9f nbsp \\xa0 nonchar \\uFFFE \\uFFFF\"\n", &p)) {
		CHECK_STR(p.env_set[0].value,
		    "c1 \xc2\x80 \xc2\x8f \xc2\x9f nbsp \xc2\xa0 nonchar \xef\xbf\xbe \xef\xbf\xbf");
		check_round_trip(&p, "C1 controls");
		policy_free(&p);
	}
	/* A BOM at the start and CRLF line ends are fine. */
	if (EXPECT_OK("\xef\xbb\xbfversion: 1\r\nfilesystem_policy:\r\n  read_only: [/usr]\r\n", &p)) {
		CHECK(strv_is(&p.read_only, 1, "/usr"), "CRLF file parsed");
		policy_free(&p);
	}
	/* An anchor without an alias is harmless and ignored (docs/policy.md). */
	if (EXPECT_OK("version: &v 1\nfilesystem_policy: &fs\n  read_only: &ro [/usr]\n", &p)) {
		char h1[65], h2[65];
		const char *plain = "version: 1\nfilesystem_policy:\n  read_only: [/usr]\n";
		policy_hash(&p, h1);
		hash_of(plain, strlen(plain), h2);
		CHECK_STR(h1, h2);
		policy_free(&p);
	}
	/* Explicit document markers around the one document. */
	if (EXPECT_OK("%YAML 1.1\n---\nversion: 1\n...\n", &p))
		policy_free(&p);
	/* Query: a single-glob {any} equals the plain glob. */
	{
		char h1[65], h2[65];
		const char *a = "version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"
		    "      - {host: a.example.com, port: 443, protocol: rest, rules: [{allow: {query: "
		    "{q: {any: [x]}}}}]}\n";
		const char *b = "version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"
		    "      - {host: a.example.com, port: 443, protocol: rest, rules: [{allow: {query: "
		    "{q: x}}}]}\n";
		hash_of(a, strlen(a), h1);
		hash_of(b, strlen(b), h2);
		CHECK(*h1 && strcmp(h1, h2) == 0, "{any: [x]} hashes like x");
	}
}

/* ---- errors ------------------------------------------------------------- */

static void
test_error_format(void)
{
	struct policy p;
	struct policy_diags d;
	char *s;

	begin("error format");
	load("version: 1\nfilesystem_policy:\n  include_workdir: yes\n", &p, &d);
	s = render(&d);
	CHECK(STARTS_WITH(s, "t.yaml:3:20: error: include_workdir must be true or false"),
	    "first line is FILE:LINE:COL: error: message");
	CHECK(strstr(s, "\n  expected: true or false\n") != NULL, "expected line");
	CHECK(strstr(s, "\n  example:\n    filesystem_policy:\n      include_workdir: true\n") != NULL,
	    "example snippet, indented");
	CHECK(strstr(s, "yes/no/on/off are not booleans") != NULL, "says yes is not a boolean");
	free(s);
	policy_diags_free(&d);

	/* Every example is itself valid YAML of the right shape: spot-check two. */
	load("version: 1\nprocess: [x]\n", &p, &d);
	if (CHECK_INT(d.n, 1)) {
		struct policy q;
		struct policy_diags d2;
		char *y = malloc(strlen(d.v[0].example) + 16);
		strcpy(y, "version: 1\n");
		strcat(y, d.v[0].example);
		CHECK(load(y, &q, &d2) == 0, "process example loads as a policy");
		if (d2.n == 0)
			policy_free(&q);
		policy_diags_free(&d2);
		free(y);
	}
	policy_diags_free(&d);
	load("version: 1\nnetwork_policies: [x]\n", &p, &d);
	if (CHECK_INT(d.n, 1)) {
		struct policy q;
		struct policy_diags d2;
		char *y = malloc(strlen(d.v[0].example) + 16);
		strcpy(y, "version: 1\n");
		strcat(y, d.v[0].example);
		CHECK(load(y, &q, &d2) == 0, "network example loads as a policy");
		if (d2.n == 0)
			policy_free(&q);
		policy_diags_free(&d2);
		free(y);
	}
	policy_diags_free(&d);
}

static void
test_yaml_errors(void)
{
	char deep[256];
	static const char nul[] = "version: 1\nprocess:\n  run_as_user: a\0b\n";

	begin("YAML syntax and structure");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: [/usr, /etc\n  read_write: [/tmp]\n",
	    4, 13, "did not find expected ',' or ']'");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: [/usr, /etc\n",
	    4, 1, "starts at line 3, column 14");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: [/usr]\n    read_write: [/tmp]\n",
	    4, 5, "block mapping that starts at line 3, column 3");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: [/usr]\n read_write: [/tmp]\n",
	    4, 2, "invalid YAML");
	EXPECT_ERR("version: 1\nprocess:\n\trun_as_user: x\n", 3, 1, "invalid YAML");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: \"sandbox\n", 4, 1, "quoted scalar");
	EXPECT_ERR("version: 1\nprocess: {run_as_user: x\n", 3, 1, "invalid YAML");

	EXPECT_ERR("", 1, 1, "policy is empty");
	EXPECT_ERR("   \n\n  \n", 1, 1, "policy is empty");
	EXPECT_ERR("# just a comment\n\n# another\n", 1, 1, "policy is empty");
	EXPECT_ERR("~\n", 1, 1, "policy is empty");
	EXPECT_ERR("---\n...\n", 1, 1, "policy is empty");
	EXPECT_ERR("- version: 1\n", 1, 1, "the policy must be a mapping, not a list");
	EXPECT_ERR("version 1\n", 1, 1, "the policy must be a mapping, not a scalar");

	EXPECT_ERR("version: 2\n", 1, 10, "unsupported policy version '2'");
	EXPECT_ERR("version: 1.0\n", 1, 10, "unsupported policy version '1.0'");
	EXPECT_ERR("version: [1]\n", 1, 10, "unsupported policy version 'a list'");
	EXPECT_ERR("version: \"1\"\n", 1, 10, "not the string '1' (remove the quotes");
	EXPECT_ERR("version: '1'\n", 1, 10, "not the string '1'");
	EXPECT_ERR("version: !!int 1\n", 1, 10, "remove the quotes or tag");
	EXPECT_ERR("landlock:\n  compatibility: best_effort\n", 1, 1, "no 'version' key");

	/* Aliases are refused (billion laughs); an anchor nobody aliases is ignored. */
	EXPECT_ERR("version: &v 1\nlandlock: *v\n", 2, 11, "aliases (*name) are not allowed");
	EXPECT_ERR("version: 1\nlandlock: *v\n", 2, 11, "aliases (*name) are not allowed");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: &sys [/usr]\n  deny: *sys\n",
	    4, 9, "aliases");
	EXPECT_ERR("version: 1\nfilesystem_policy: &fs {read_only: [/usr]}\nx:\n  <<: *fs\n",
	    4, 7, "aliases");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    set: {A: x, B: *x}\n", 4, 20, "aliases");
	EXPECT_ERR("version: 1\n---\nversion: 1\n", 2, 1, "exactly one YAML document");
	EXPECT_ERR("version: 1\n...\n---\nversion: 1\n", 3, 1, "exactly one YAML document");

	/* 40 nested flow lists: refused at depth 32 (column 14 + 30). */
	snprintf(deep, sizeof(deep), "version: 1\nfilesystem_policy:\n  read_only: %.*s%.*s\n",
	    40, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 40, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	EXPECT_ERR(deep, 3, 44, "nests too deeply");

	expect_err_n(nul, sizeof(nul) - 1, 3, 17, "NUL byte", 1, __LINE__);
	expect_err_n("\0\0\0\0", 4, 1, 1, "NUL byte", 1, __LINE__);
	EXPECT_ERR("version: 1\n# r\xe9sum\xe9\n", 2, 4, "not valid UTF-8");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: caf\xc3\x28\n", 3, 19, "not valid UTF-8");
	expect_err_n("\xff\xfe\x00v", 4, 1, 3, "NUL byte", 1, __LINE__);	/* UTF-16 */
	EXPECT_ERR("\xff\xfev: 1\n", 1, 1, "not valid UTF-8");
	EXPECT_ERR("version: 1\nx: \xed\xa0\x80\n", 2, 4, "not valid UTF-8");	/* surrogate */
	EXPECT_ERR("version: 1\nx: \xc0\xaf\n", 2, 4, "not valid UTF-8");		/* overlong */
	EXPECT_ERR("version: 1\nx: ab\xe2\x82", 2, 6, "not valid UTF-8");		/* truncated */
	EXPECT_ERR("version: 1\nx: a\x01b\n", 2, 5, "character YAML does not allow");
	EXPECT_ERR("version: 1\rx: \xc2\x80\r", 2, 4, "character YAML does not allow");	/* C1, CR lines */
	/* An escaped NUL inside a quoted string passes the byte check. */
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: \"a\\0b\"\n", 3, 16, "NUL byte");
	EXPECT_ERR("version: 1\n\"version\\0x\": 1\n", 2, 1, "a key in the policy contains a NUL byte");
}

static void
test_type_errors(void)
{
	begin("wrong types");
	EXPECT_ERR("version: 1\nfilesystem_policy: [/usr]\n", 2, 20,
	    "filesystem_policy must be a mapping, not a list");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: {name: x}\n", 3, 16,
	    "run_as_user must be a string, not a mapping");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: [x]\n", 3, 16,
	    "run_as_user must be a string, not a list");
	EXPECT_ERR("version: 1\nlandlock:\n  compatibility: {a: b}\n", 3, 18,
	    "landlock.compatibility must be a string");
	EXPECT_ERR("version: 1\nlandlock:\n  compatibility: strict\n", 3, 18,
	    "unknown landlock.compatibility 'strict'");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  include_workdir: yes\n", 3, 20,
	    "yes/no/on/off are not booleans");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  include_workdir: off\n", 3, 20,
	    "yes/no/on/off are not booleans");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  include_workdir: \"true\"\n", 3, 20,
	    "must be true or false");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  include_workdir: 1\n", 3, 20,
	    "must be true or false");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: /usr\n", 3, 14,
	    "read_only must be a list, not a scalar");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: [[/usr]]\n", 3, 15,
	    "read_only must be a string, not a list");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    pass: EDITOR\n", 4, 11,
	    "env.pass must be a list");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    set: [A]\n", 4, 10,
	    "env.set must be a mapping");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    set: {A: [x]}\n", 4, 14,
	    "env.set value must be a string");
	EXPECT_ERR("version: 1\nnetwork_policies: [a]\n", 2, 19,
	    "network_policies must be a mapping, not a list");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n", 4, 15,
	    "endpoints must be a list, not null");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a:\n    endpoints: {host: x}\n", 4, 16,
	    "endpoints must be a list, not a mapping");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a:\n    binaries: /usr/bin/git\n", 4, 15,
	    "binaries must be a list");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a:\n    endpoints: [x]\n", 4, 17,
	    "endpoint must be a mapping, not a scalar");
	EXPECT_ERR("version: 1\n[a]: 1\n", 2, 1, "keys in the policy must be strings, not a list");
	EXPECT_ERR("version: 1\n? {a: b}\n: 1\n", 2, 3, "keys in the policy must be strings, not a mapping");
}

static void
test_path_errors(void)
{
	begin("filesystem paths");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: [usr]\n", 3, 15,
	    "path must be absolute");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: [\"\"]\n", 3, 15,
	    "path must be absolute");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: [./usr]\n", 3, 15,
	    "path must be absolute");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_write: [/a/../b]\n", 3, 16, "'..'");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  deny: [/a/..]\n", 3, 10, "'..'");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_only: [/a/./b]\n", 3, 15, "'.' components");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_write: [/]\n", 3, 16,
	    "read_write must not contain '/'");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  read_write: [\"//\"]\n", 3, 16,
	    "read_write must not contain '/'");
	EXPECT_ERR("version: 1\nfilesystem_policy:\n  deny: [/usr, /]\n", 3, 16,
	    "deny must not contain '/'");
	/* read_only: [/] is allowed (a read-only view of the host). */
	{
		struct policy p;
		if (EXPECT_OK("version: 1\nfilesystem_policy:\n  read_only: [/]\n", &p))
			policy_free(&p);
	}
}

static void
test_key_errors(void)
{
	struct policy p;
	struct policy_diags d;
	int i;

	begin("duplicate and unknown keys");
	EXPECT_ERR("version: 1\nlandlock: {}\nlandlock: {}\n", 3, 1,
	    "duplicate key 'landlock' in the policy (first at line 2)");
	/* A third copy also names the first, not the second. */
	load("version: 1\nlandlock: {}\nlandlock: {}\nlandlock: {}\n", &p, &d);
	CHECK(d.n == 2 && find_diag(&d, 3, 1, "(first at line 2)") >= 0 &&
	    find_diag(&d, 4, 1, "(first at line 2)") >= 0, "two duplicates, both name line 2");
	policy_diags_free(&d);
	/* Keys differing only after the common prefix are distinct. */
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    set: {AB: x, A: y, ABC: z, A: w}\n", 4, 32,
	    "duplicate key 'A' in env.set (first at line 4)");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    pids: 5\n    pids: 6\n", 5, 5,
	    "duplicate key 'pids' in process.limits (first at line 4)");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    set: {A: x, A: y}\n", 4, 17,
	    "duplicate key 'A' in env.set");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a: {}\n  a: {}\n", 4, 3,
	    "duplicate network policy 'a'");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"
	    "      - host: a.example.com\n        port: 1\n        host: b.example.com\n", 7, 9,
	    "duplicate key 'host' in endpoint (first at line 5)");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"
	    "      - {host: a.example.com, port: 443, protocol: rest, rules: [{allow: {query: "
	    "{q: x, q: y}}}]}\n", 5, 89, "duplicate query parameter 'q'");

	load("version: 1\nnetwork: {}\n", &p, &d);
	i = find_diag(&d, 2, 1, "unknown key 'network' in the policy");
	if (CHECK(i >= 0 && d.n == 1, "unknown top-level key reported")) {
		CHECK(strstr(d.v[i].expected, "version, filesystem_policy, landlock, process, "
		    "network_policies") != NULL, "expected lists the valid keys");
		CHECK(!strstr(d.v[i].expected, "network_middlewares"),
		    "expected does not offer unsupported keys");
		CHECK(diag_shape_ok(&d, (size_t)i), "well formed");
	}
	policy_diags_free(&d);

	load("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n      - {hots: a.example.com, port: 1}\n",
	    &p, &d);
	i = find_diag(&d, 5, 10, "unknown key 'hots' in endpoint");
	if (CHECK(i >= 0, "unknown endpoint key reported")) {
		CHECK(strstr(d.v[i].expected, "host, port, ports, path, allowed_ips, protocol") != NULL,
		    "expected lists endpoint keys");
		CHECK(!strstr(d.v[i].expected, "credential_binding"),
		    "expected does not offer unsupported keys");
	}
	policy_diags_free(&d);

	EXPECT_ERR("version: 1\nfilesystem_policy:\n  reed_only: [/usr]\n", 3, 3,
	    "unknown key 'reed_only' in filesystem_policy");
	EXPECT_ERR("version: 1\nprocess:\n  limits: {memroy: 1G}\n", 3, 12,
	    "unknown key 'memroy' in process.limits");
	EXPECT_ERR("version: 1\nprocess:\n  env: {passs: []}\n", 3, 9, "unknown key 'passs'");
	EXPECT_ERR("version: 1\nlandlock: {compat: best_effort}\n", 2, 12, "unknown key 'compat'");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a: {endpoint: []}\n", 3, 7,
	    "unknown key 'endpoint' in network policy");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a: {binaries: [{path: /x, kids: true}]}\n", 3, 29,
	    "unknown key 'kids' in binaries entry");
}

#define NET "version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"

static void
test_endpoint_errors(void)
{
	begin("endpoints");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 0}\n", 5, 37, "port 0 is not a valid port");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 65536}\n", 5, 37, "from 1 to 65535");
	EXPECT_ERR(NET "      - {host: a.example.com, port: -1}\n", 5, 37, "from 1 to 65535");
	EXPECT_ERR(NET "      - {host: a.example.com, port: \"443\"}\n", 5, 37, "from 1 to 65535");
	EXPECT_ERR(NET "      - {host: a.example.com, ports: [443, 0]}\n", 5, 44, "port 0");
	EXPECT_ERR(NET "      - {host: a.example.com, ports: [443, 443]}\n", 5, 44,
	    "port 443 is listed twice");
	EXPECT_ERR(NET "      - {host: a.example.com, ports: []}\n", 5, 38, "non-empty list");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, ports: [443]}\n", 5, 9,
	    "both port and ports");
	EXPECT_ERR(NET "      - {ports: [80], host: a.example.com, port: 443}\n", 5, 9,
	    "both port and ports");
	EXPECT_ERR(NET "      - {host: a.example.com}\n", 5, 9, "endpoint needs a port");
	EXPECT_ERR(NET "      - {port: 443}\n", 5, 9, "endpoint needs a host");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: rest, access: full, "
	    "rules: [{allow: {method: GET}}]}\n", 5, 9, "both access and rules");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: rest}\n", 5, 9,
	    "protocol: rest needs access or rules");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, access: full}\n", 5, 9,
	    "need 'protocol: rest'");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, rules: [{allow: {method: GET}}]}\n",
	    5, 9, "need 'protocol: rest'");
	EXPECT_ERRS(NET "      - {host: a.example.com, port: 443, protocol: rest, "
	    "deny_rules: [{method: GET}]}\n", 5, 9, "deny_rules need access or rules");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: tcp, "
	    "rules: [{allow: {method: GET}}]}\n", 5, 9, "protocol: tcp does not take");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: tcp, path: /x}\n", 5, 9,
	    "protocol: tcp does not take");
	EXPECT_ERR(NET "      - {host: 203.0.113.7, port: 443, protocol: tcp}\n", 5, 9,
	    "protocol: tcp needs a host name");
	EXPECT_ERR(NET "      - {allowed_ips: [203.0.113.0/24], port: 443, protocol: tcp}\n", 5, 9,
	    "protocol: tcp needs a host name");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, tls: terminate}\n", 5, 47,
	    "tls: terminate is no longer accepted");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, tls: passthrough}\n", 5, 47,
	    "tls: passthrough is no longer accepted");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, tls: off}\n", 5, 47,
	    "unknown tls mode 'off'");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, tls: skip, protocol: rest, "
	    "access: full}\n", 5, 9, "tls: skip cannot be combined with protocol: rest");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: http}\n", 5, 52,
	    "unknown protocol 'http'");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: rest, access: admin}\n", 5, 66,
	    "unknown access 'admin'");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: rest, access: full, "
	    "enforcement: block}\n", 5, 85, "unknown enforcement 'block'");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: rest, access: full, "
	    "path: v1/**}\n", 5, 78, "HTTP path must start with '/'");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: rest, access: full, "
	    "allow_encoded_slash: yes}\n", 5, 93, "not booleans");
}

static void
test_host_errors(void)
{
	begin("hosts");
	EXPECT_ERR(NET "      - {host: \"*.com\", port: 443}\n", 5, 16,
	    "wildcard over a top-level domain");
	EXPECT_ERR(NET "      - {host: \"**.org\", port: 443}\n", 5, 16,
	    "wildcard over a top-level domain");
	EXPECT_ERR(NET "      - {host: \"*.co.uk\", port: 443}\n", 5, 16,
	    "wildcard over a public suffix");
	EXPECT_ERR(NET "      - {host: \"*.com.au\", port: 443}\n", 5, 16,
	    "wildcard over a public suffix");
	EXPECT_ERR(NET "      - {host: \"*\", port: 443}\n", 5, 16, "bare wildcard");
	EXPECT_ERR(NET "      - {host: \"**\", port: 443}\n", 5, 16, "bare wildcard");
	EXPECT_ERR(NET "      - {host: \"api.*.example.com\", port: 443}\n", 5, 16,
	    "only allowed in the first label");
	EXPECT_ERR(NET "      - {host: \"api.example.*\", port: 443}\n", 5, 16,
	    "only allowed in the first label");
	EXPECT_ERR(NET "      - {host: \"a**.example.com\", port: 443}\n", 5, 16,
	    "'**' must be the whole first label");
	EXPECT_ERR(NET "      - {host: bücher.example, port: 443}\n", 5, 16, "punycode");
	EXPECT_ERR(NET "      - {host: \"api.example.com:443\", port: 443}\n", 5, 16,
	    "must not contain a port");
	EXPECT_ERR(NET "      - {host: 10.0.0.0/8, port: 443}\n", 5, 16, "use allowed_ips");
	EXPECT_ERR(NET "      - {host: \"\", port: 443}\n", 5, 16, "host is empty");
	EXPECT_ERR(NET "      - {host: a..example.com, port: 443}\n", 5, 16, "empty or invalid label");
	EXPECT_ERR(NET "      - {host: -a.example.com, port: 443}\n", 5, 16, "empty or invalid label");
	EXPECT_ERR(NET "      - {host: \"a b.example.com\", port: 443}\n", 5, 16, "invalid label");
	EXPECT_ERR(NET "      - {host: \"[10.0.0.1]\", port: 443}\n", 5, 16, "not an IPv6 address");
}

static void
test_ip_errors(void)
{
	static const char *bad[] = {
		"127.0.0.1", "127.5.0.0/16", "126.0.0.0/7", "0.0.0.0/0", "0.0.0.0", "0.0.0.0/8",
		"169.254.169.254", "169.254.0.0/16", "169.0.0.0/8",
		"\"::1\"", "\"::/127\"", "\"::/0\"", "\"::\"", "\"fe80::1\"", "\"fe00::/7\"",
		"\"8000::/1\"", "\"::ffff:127.0.0.1\"", "\"::ffff:169.254.169.254\"",
		"\"::ffff:0:0/96\"", "10.0.0.1/33", "10.0.0.1/", "abc", "\"2001:db8::/129\"",
		"\" 10.0.0.1\"",
	};
	char y[256];
	struct policy p;

	begin("allowed_ips");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(y, sizeof(y), NET "      - port: 5432\n        allowed_ips: [%s]\n", bad[i]);
		EXPECT_ERR(y, 6, 23, "allowed_ips '");
	}
	EXPECT_ERR(NET "      - {port: 5432, allowed_ips: []}\n", 5, 35, "non-empty list");
	EXPECT_ERR(NET "      - {port: 5432, allowed_ips: [{a: b}]}\n", 5, 36,
	    "allowed_ips entry must be a string");
	snprintf(y, sizeof(y), NET "      - port: 5432\n        allowed_ips: [10.0.0.0/8, 128.0.0.0/3, "
	    "\"2001:db8::/32\", \"fc00::/7\"]\n");
	if (EXPECT_OK(y, &p))
		policy_free(&p);
}

static void
test_process_errors(void)
{
	begin("process");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: root\n", 3, 16, "never runs as root");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: 0\n", 3, 16, "never runs as root");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: \"000\"\n", 3, 16, "never runs as root");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_group: 0\n", 3, 17, "never runs as root");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_group: 4294967295\n", 3, 17, "out of range");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: \"a b\"\n", 3, 16, "not a valid user");
	EXPECT_ERR("version: 1\nprocess:\n  run_as_user: \"\"\n", 3, 16, "not a valid user");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    pass: [1ABC]\n", 4, 12, "start with a letter");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    pass: [MY-VAR]\n", 4, 12, "only letters, digits");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    pass: [\"\"]\n", 4, 12, "start with a letter");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    set: {\"A=B\": x}\n", 4, 11, "env.set 'A=B'");
	EXPECT_ERR("version: 1\nprocess:\n  env:\n    set: {\"A B\": x}\n", 4, 11, "env.set 'A B'");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    memory: lots\n", 4, 13,
	    "limits.memory is not a valid size");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    memory: 1023K\n", 4, 13,
	    "limits.memory is not a valid size");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    memory: 1.5G\n", 4, 13,
	    "limits.memory is not a valid size");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    memory: 0\n", 4, 13,
	    "limits.memory is not a valid size");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    cpu: 0\n", 4, 10, "not a valid CPU count");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    cpu: 0.0001\n", 4, 10, "not a valid CPU count");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    cpu: -1\n", 4, 10, "not a valid CPU count");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    cpu: lots\n", 4, 10, "not a valid CPU count");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    pids: 0\n", 4, 11, "limits.pids must be at least 1");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    pids: 4194305\n", 4, 11, "limits.pids must be an integer");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    pids: many\n", 4, 11, "limits.pids must be an integer");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    open_files: 15\n", 4, 17, "at least 16");
	EXPECT_ERR("version: 1\nprocess:\n  limits:\n    open_files: 2000000\n", 4, 17,
	    "open_files must be an integer");
}

static void
test_rule_errors(void)
{
	begin("rules and binaries");
#define REST NET "      - host: a.example.com\n        port: 443\n        protocol: rest\n"
	EXPECT_ERR(REST "        rules: [{allow: {method: get}}]\n", 8, 34, "must be upper-case");
	EXPECT_ERR(REST "        rules: [{allow: {path: repos}}]\n", 8, 32, "must start with '/'");
	EXPECT_ERR(REST "        rules: [{allow: {path: \"/a b\"}}]\n", 8, 32, "spaces");
	EXPECT_ERRS(REST "        rules: [{deny: {method: GET}}]\n", 8, 18, "unknown key 'deny' in rules");
	EXPECT_ERRS(REST "        rules: [{deny: {method: GET}}]\n", 8, 17, "needs an 'allow:' clause");
	EXPECT_ERR(REST "        rules: []\n", 8, 16, "non-empty list");
	EXPECT_ERR(REST "        rules: [{allow: {query: [a]}}]\n", 8, 33, "query must be a mapping");
	EXPECT_ERR(REST "        rules: [{allow: {query: {a: {all: [x]}}}}]\n", 8, 37,
	    "must be a glob or {any: [...]}");
	EXPECT_ERR(REST "        rules: [{allow: {query: {a: {any: []}}}}]\n", 8, 37,
	    "must be a glob or {any: [...]}");
	EXPECT_ERR(REST "        rules: [{allow: {query: {\"a=b\": x}}}]\n", 8, 34, "contains '='");
	EXPECT_ERR(REST "        access: full\n        deny_rules: [{method: DELETE, bogus: 1}]\n", 9, 39,
	    "unknown key 'bogus' in deny_rules");
#undef REST
#define BIN "version: 1\nnetwork_policies:\n  a:\n    binaries:\n"
	EXPECT_ERR(BIN "      - path: bin/curl\n", 5, 15, "must be absolute");
	EXPECT_ERR(BIN "      - path: /usr/../bin/sh\n", 5, 15, "'..'");
	EXPECT_ERR(BIN "      - path: /\n", 5, 15, "not '/'");
	EXPECT_ERR(BIN "      - children: true\n", 5, 9, "binaries entry needs a path");
	EXPECT_ERRS(BIN "      - {children: yes}\n", 5, 9, "binaries entry needs a path");
	EXPECT_ERR(BIN "      - /usr/bin/git\n", 5, 9, "binaries entry must be a mapping");
	EXPECT_ERR(BIN "      - {path: /usr/bin/git, children: 1}\n", 5, 40, "true or false");
#undef BIN
	EXPECT_ERR("version: 1\nnetwork_policies:\n  _provider_x: {}\n", 3, 3, "reserved");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  \"a b\": {}\n", 3, 3, "policy names hold only");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  a: {name: [x]}\n", 3, 13, "name must be a string");
}

static void
test_unsupported(void)
{
	begin("unsupported OpenShell keys");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, credential_binding: {env: T}}\n", 5, 42,
	    "'credential_binding' is an OpenShell endpoint option warden does not support");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, mcp: {}}\n", 5, 42,
	    "'mcp' is an OpenShell endpoint option");
	EXPECT_ERR("version: 1\nnetwork_middlewares:\n  auth: {}\n", 2, 1,
	    "network_middlewares is an OpenShell section warden does not support");
	/* One diagnostic: the unsupported protocol, not also 'access needs protocol: rest'. */
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: websocket, access: full}\n",
	    5, 52, "protocol 'websocket' is an OpenShell protocol warden does not inspect yet");
	EXPECT_ERR(NET "      - {host: a.example.com, port: 443, protocol: graphql}\n", 5, 52,
	    "OpenShell protocol");
}

/* Several errors in one file: every one is reported, at its own line. */
static void
test_error_files(void)
{
	struct policy p;
	struct policy_diags d;
	struct want {
		int line, col;
		const char *sub;
	};
	static const struct {
		const char *file;
		size_t n;
		struct want w[12];
	} files[] = {
		{ "invalid-three-errors.yaml", 3, {
			{ 4, 20, "yes/no/on/off" }, { 5, 21, "'etc': path must be absolute" },
			{ 8, 11, "pids must be at least 1" } } },
		{ "invalid-unclosed-bracket.yaml", 1, { { 4, 13, "flow sequence that starts at line 3, column 14" } } },
		{ "invalid-bad-indentation.yaml", 1, { { 4, 5, "invalid YAML" } } },
		{ "invalid-duplicate-keys.yaml", 2, {
			{ 4, 3, "duplicate key 'read_only' in filesystem_policy (first at line 3)" },
			{ 7, 1, "duplicate key 'version' in the policy (first at line 1)" } } },
		{ "invalid-unknown-keys.yaml", 2, {
			{ 2, 1, "unknown key 'filesytem_policy'" }, { 5, 3, "unknown key 'run_as' in process" } } },
		{ "invalid-wrong-types.yaml", 3, {
			{ 3, 3, "filesystem_policy must be a mapping, not a list" },
			{ 5, 18, "compatibility must be a string, not a mapping" },
			{ 8, 11, "env.pass must be a list, not a scalar" } } },
		{ "invalid-paths.yaml", 6, {
			{ 4, 7, "must be absolute" }, { 5, 7, "'..'" }, { 6, 7, "'.' components" },
			{ 8, 7, "read_write must not contain '/'" }, { 9, 7, "read_write must not contain '/'" },
			{ 11, 7, "deny must not contain '/'" } } },
		{ "invalid-version-2.yaml", 1, { { 1, 10, "unsupported policy version '2'" } } },
		{ "invalid-version-quoted.yaml", 1, { { 1, 10, "not the string '1'" } } },
		{ "invalid-version-missing.yaml", 1, { { 2, 1, "no 'version' key" } } },
		{ "invalid-empty.yaml", 1, { { 1, 1, "policy is empty" } } },
		{ "invalid-comments-only.yaml", 1, { { 1, 1, "policy is empty" } } },
		{ "invalid-alias.yaml", 1, { { 4, 9, "aliases (*name) are not allowed" } } },
		{ "invalid-billion-laughs.yaml", 1, { { 3, 8, "aliases" } } },
		{ "invalid-two-documents.yaml", 1, { { 2, 1, "exactly one YAML document" } } },
		{ "invalid-deep-nesting.yaml", 1, { { 3, 44, "nests too deeply" } } },
		{ "invalid-nul-byte.yaml", 1, { { 3, 19, "NUL byte" } } },
		{ "invalid-utf8.yaml", 1, { { 5, 21, "not valid UTF-8" } } },
		{ "invalid-utf8-latin1.yaml", 1, { { 1, 4, "not valid UTF-8" } } },
		{ "invalid-network.yaml", 10, {
			{ 6, 15, "port 0" }, { 8, 15, "from 1 to 65535" }, { 9, 9, "both port and ports" },
			{ 12, 9, "needs a port" }, { 13, 9, "both access and rules" },
			{ 18, 9, "rest needs access or rules" }, { 21, 9, "need 'protocol: rest'" },
			{ 24, 9, "tcp does not take" }, { 28, 9, "tcp needs a host name" },
			{ 33, 14, "tls: terminate" } } },
		{ "invalid-hosts.yaml", 6, {
			{ 5, 16, "top-level domain" }, { 6, 16, "public suffix" }, { 7, 16, "bare wildcard" },
			{ 8, 16, "first label" }, { 9, 16, "punycode" }, { 10, 16, "port" } } },
		{ "invalid-openshell-unsupported.yaml", 3, {
			{ 7, 9, "'credential_binding' is an OpenShell endpoint option" },
			{ 10, 19, "protocol 'websocket'" }, { 11, 1, "network_middlewares" } } },
		{ "invalid-process.yaml", 9, {
			{ 3, 16, "never runs as root" }, { 4, 17, "never runs as root" },
			{ 6, 12, "'1PASSWORD'" }, { 6, 23, "'MY-VAR'" }, { 7, 11, "'BAD NAME'" },
			{ 9, 13, "memory" }, { 10, 11, "pids" }, { 11, 10, "cpu" }, { 12, 17, "open_files" } } },
		{ "invalid-allowed-ips.yaml", 6, {
			{ 7, 13, "loopback" }, { 8, 13, "loopback" }, { 9, 13, "link-local" },
			{ 10, 13, "::1" }, { 11, 13, "IPv4-mapped" }, { 12, 13, "link-local fe80::/10" } } },
		{ "invalid-binaries.yaml", 4, {
			{ 6, 15, "must be absolute" }, { 7, 15, "'..'" }, { 8, 9, "needs a path" },
			{ 9, 9, "must be a mapping" } } },
		{ "invalid-inference.yaml", 11, {
			{ 3, 3, "credential 'spare' needs sandbox_env or header" },
			{ 3, 3, "credential 'spare' needs network_policies" },
			{ 6, 21, "unknown format 'gemini'" }, { 7, 40, "user information" },
			{ 7, 82, "unknown max_tier 'secret'" },
			{ 8, 101, "credential 'anthropic' is not defined in credentials" },
			{ 10, 42, "provider 'ghost' is not defined in inference.providers" },
			{ 11, 19, "unknown on_no_provider 'allow'" },
			{ 13, 34, "Missing close parenthesis" },
			{ 15, 12, "'builtin' is reserved" }, { 15, 31, "command[0] 'python3'" } } },
	};

	begin("invalid fixture files");
	for (size_t f = 0; f < sizeof(files) / sizeof(*files); f++) {
		char path[256];
		bool all = true;

		snprintf(path, sizeof(path), FIXTURES "%s", files[f].file);
		if (!CHECK(policy_load_file(path, &p, &d) == -1, "%s is rejected", files[f].file)) {
			policy_free(&p);
			policy_diags_free(&d);
			continue;
		}
		CHECK_STR(d.file, path);
		if (!CHECK(d.n == files[f].n, "%s: %zu diagnostics (got %zu)", files[f].file,
		    files[f].n, d.n))
			all = false;
		for (size_t i = 0; i < files[f].n; i++) {
			const struct want *w = &files[f].w[i];
			int k = find_diag(&d, w->line, w->col, w->sub);
			if (!CHECK(k >= 0, "%s: %d:%d %s", files[f].file, w->line, w->col, w->sub))
				all = false;
			else if (!CHECK(diag_shape_ok(&d, (size_t)k), "%s: %d:%d well formed",
			    files[f].file, w->line, w->col))
				all = false;
		}
		if (!all)
			dump_diags(&d);
		policy_diags_free(&d);
	}

	/* Random bytes: a clear error, never a crash, never an empty rejection. */
	{
		static const char *garbage[] = { "invalid-garbage-random.yaml", "invalid-garbage-no-nul.yaml" };
		for (size_t i = 0; i < 2; i++) {
			char path[256];
			snprintf(path, sizeof(path), FIXTURES "%s", garbage[i]);
			CHECK(policy_load_file(path, &p, &d) == -1 && d.n >= 1 && d.v[0].line >= 1,
			    "%s rejected with a positioned diagnostic", garbage[i]);
			if (d.n)
				CHECK(strstr(d.v[0].msg, "UTF-8") || strstr(d.v[0].msg, "NUL"),
				    "%s: says it is not text (%s)", garbage[i], d.v[0].msg);
			policy_diags_free(&d);
		}
	}
}

static void
test_limits_of_loader(void)
{
	struct policy p;
	struct policy_diags d;
	char *big;
	size_t n;

	begin("loader limits");
	/* More than 4 MiB. */
	n = POLICY_MAX_BYTES + 1;
	big = malloc(n);
	memset(big, '#', n);
	CHECK(load_n(big, n, &p, &d) == -1 && find_diag(&d, 0, 0, "too large") >= 0,
	    "a file over 4 MiB is refused");
	CHECK(d.n == 1 && diag_shape_ok(&d, 0), "too-large diagnostic well formed");
	policy_diags_free(&d);
	free(big);

	/* More than POLICY_MAX_PATHS paths. */
	{
		size_t cap = 64 + (POLICY_MAX_PATHS + 1) * 16;
		char *y = malloc(cap), *w = y;
		w += sprintf(w, "version: 1\nfilesystem_policy:\n  read_only:\n");
		for (int i = 0; i <= POLICY_MAX_PATHS; i++)
			w += sprintf(w, "    - /p%d\n", i);
		CHECK(load(y, &p, &d) == -1 && find_diag(&d, 0, 0, "too many paths") >= 0,
		    "more than %d paths are refused", POLICY_MAX_PATHS);
		CHECK(d.n == 1 && diag_shape_ok(&d, 0), "too-many-paths diagnostic well formed");
		policy_diags_free(&d);
		free(y);
	}

	/* 150 errors: the first 100 are kept and the printout says it stopped. */
	{
		char *y = malloc(64 + 150 * 16), *w = y, *s;
		w += sprintf(w, "version: 1\nfilesystem_policy:\n  read_only:\n");
		for (int i = 0; i < 150; i++)
			w += sprintf(w, "    - rel%d\n", i);
		CHECK(load(y, &p, &d) == -1, "150 bad paths rejected");
		CHECK_INT(d.n, 100);
		CHECK(d.n && d.v[0].line == 4 && d.v[d.n - 1].line == 103, "first 100 in order");
		s = render(&d);
		CHECK(strstr(s, "t.yaml: too many errors, stopping\n") != NULL, "says it stopped");
		free(s);
		policy_diags_free(&d);
		free(y);
	}

	/* Big mappings of distinct keys load in n log n, not n^2. */
	{
		char *y = malloc(64 + 20000 * 24), *w = y;
		w += sprintf(w, "version: 1\nprocess:\n  env:\n    set:\n");
		for (int i = 0; i < 20000; i++)
			w += sprintf(w, "      V%d: x\n", i);
		if (CHECK(load(y, &p, &d) == 0, "20000 env.set entries load")) {
			CHECK_INT(p.nenv_set, 20000);
			policy_free(&p);
		}
		policy_diags_free(&d);
		w = y + sprintf(y, "version: 1\nnetwork_policies:\n");
		for (int i = 0; i < 10000; i++)
			w += sprintf(w, "  p%d: {}\n", i);
		sprintf(w, "  p17: {}\n");
		CHECK(load(y, &p, &d) == -1 && d.n == 1 &&
		    find_diag(&d, 10003, 3, "duplicate network policy 'p17' (first at line 20)") >= 0,
		    "10001 network policies: the one duplicate found");
		policy_diags_free(&d);
		free(y);
	}

	/* A billion-laughs-sized mapping without aliases is just a big file. */
	{
		char *y = malloc(32 + 20000 * 12), *w = y;
		w += sprintf(w, "version: 1\nx: [");
		for (int i = 0; i < 20000; i++)
			w += sprintf(w, "%s1", i ? "," : "");
		sprintf(w, "]\n");
		CHECK(load(y, &p, &d) == -1 && d.n == 1 && strstr(d.v[0].msg, "unknown key 'x'"),
		    "20000-element list under an unknown key: one diagnostic");
		policy_diags_free(&d);
		w = y + sprintf(y, "version: 1\nx: [");
		for (int i = 0; i < 100001; i++)
			w += sprintf(w, "%s1", i ? "," : "");
		sprintf(w, "]\n");
		CHECK(load(y, &p, &d) == -1 && find_diag(&d, 2, 0, "too many YAML nodes") >= 0,
		    "more than 100000 nodes refused");
		policy_diags_free(&d);
		free(y);
	}
}

static void
test_load_file(void)
{
	struct policy p;
	struct policy_diags d;
	char *s;

	begin("policy_load_file");
	CHECK(policy_load_file(FIXTURES "does-not-exist.yaml", &p, &d) != 0, "missing file fails");
	CHECK_INT(d.n, 1);
	CHECK_STR(d.file, FIXTURES "does-not-exist.yaml");
	s = render(&d);
	CHECK(STARTS_WITH(s, FIXTURES "does-not-exist.yaml: error: cannot read policy"),
	    "diagnostic names the file (%s)", strtok(s, "\n"));
	free(s);
	policy_diags_free(&d);

	CHECK(policy_load_file(FIXTURES, &p, &d) != 0 && d.n == 1, "a directory fails");
	policy_diags_free(&d);

	/* Errors from a file carry the file's name. */
	CHECK(policy_load_file(FIXTURES "invalid-version-2.yaml", &p, &d) != 0, "invalid file fails");
	s = render(&d);
	CHECK(STARTS_WITH(s, FIXTURES "invalid-version-2.yaml:1:10: error: "),
	    "FILE:LINE:COL prefix uses the path");
	free(s);
	policy_diags_free(&d);
}

/* ---- canonical form and hash ------------------------------------------- */

static void
test_hash_files(void)
{
	char a[65], b[65], c[65], dflt[65];
	const char *dy = policy_default_yaml();

	begin("hash: fixture files");
	hash_of_file(FIXTURES "valid-full.yaml", a);
	hash_of_file(FIXTURES "valid-full-rewritten.yaml", b);
	CHECK(*a && strcmp(a, b) == 0, "valid-full and valid-full-rewritten hash alike");

	hash_of(dy, strlen(dy), dflt);
	hash_of_file(FIXTURES "valid-default-explicit.yaml", b);
	hash_of_file(FIXTURES "valid-default-terse.yaml", c);
	CHECK(*dflt && strcmp(dflt, b) == 0, "default == default with defaults written out");
	CHECK(*dflt && strcmp(dflt, c) == 0, "default == default with defaults left out");
	CHECK(strcmp(a, dflt) != 0, "full != default");

	hash_of_file(FIXTURES "valid-minimal.yaml", b);
	CHECK(*b && strcmp(b, dflt) != 0, "minimal != default");
	hash_of_file(FIXTURES "valid-openshell-style.yaml", c);
	CHECK(*c && strcmp(c, b) != 0, "openshell-style loads and differs");

	/* policy_hash is SHA-256 of policy_canonical. */
	{
		struct policy p;
		struct policy_diags d;
		if (CHECK(policy_load_file(FIXTURES "valid-full.yaml", &p, &d) == 0, "reload full")) {
			char *t1 = policy_canonical(&p), *t2 = policy_canonical(&p);
			char h[65];
			CHECK(strcmp(t1, t2) == 0, "canonical text is deterministic");
			CHECK(STARTS_WITH(t1, "version: 1\nfilesystem_policy:\n  include_workdir: false\n"),
			    "canonical text starts with version and filesystem_policy");
			CHECK(strstr(t1, "  limits: {memory: 2147483648, pids: 512, cpu: 1.500, "
			    "open_files: 4096}\n") != NULL, "limits written in base units");
			policy_hash(&p, h);
			CHECK_STR(h, a);
			free(t1);
			free(t2);
			policy_free(&p);
		}
		policy_diags_free(&d);
	}
}

#define BASE \
	"version: 1\n" \
	"filesystem_policy:\n" \
	"  include_workdir: true\n" \
	"  read_only: [/usr, /etc]\n" \
	"  read_write: [/var/cache/app]\n" \
	"network_policies:\n" \
	"  api:\n" \
	"    endpoints:\n" \
	"      - host: api.example.com\n" \
	"        port: 443\n" \
	"        protocol: rest\n" \
	"        access: read-only\n" \
	"    binaries:\n" \
	"      - path: /usr/bin/curl\n"

static void
test_hash_same(void)
{
	static const char *same[] = {
		/* comments and blank lines */
		"# a comment\n" BASE "\n# trailing comment\n",
		/* key order, top level and nested */
		"network_policies:\n  api:\n    binaries:\n      - path: /usr/bin/curl\n"
		"    endpoints:\n      - access: read-only\n        protocol: rest\n        port: 443\n"
		"        host: api.example.com\n"
		"filesystem_policy:\n  read_write: [/var/cache/app]\n  read_only: [/usr, /etc]\n"
		"  include_workdir: true\nversion: 1\n",
		/* flow style */
		"{version: 1, filesystem_policy: {include_workdir: true, read_only: [/usr, /etc], "
		"read_write: [/var/cache/app]}, network_policies: {api: {endpoints: [{host: api.example.com, "
		"port: 443, protocol: rest, access: read-only}], binaries: [{path: /usr/bin/curl}]}}}\n",
		/* block style lists */
		"version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only:\n    - /usr\n    - /etc\n"
		"  read_write:\n    - /var/cache/app\nnetwork_policies:\n  api:\n    endpoints:\n"
		"      - {host: api.example.com, port: 443, protocol: rest, access: read-only}\n"
		"    binaries: [{path: /usr/bin/curl}]\n",
		/* quoting */
		"'version': 1\n\"filesystem_policy\":\n  include_workdir: true\n  read_only: [\"/usr\", '/etc']\n"
		"  read_write: [\"/var/cache/app\"]\nnetwork_policies:\n  \"api\":\n    endpoints:\n"
		"      - host: \"api.example.com\"\n        port: 443\n        protocol: 'rest'\n"
		"        access: \"read-only\"\n    binaries:\n      - path: '/usr/bin/curl'\n",
		/* defaults written out */
		BASE "    name: api\n" "landlock:\n  compatibility: best_effort\nprocess:\n  env:\n"
		"    pass: []\n    set: {}\n  limits: {}\n",
		/* duplicate paths, list order, '//' and trailing slashes */
		"version: 1\nfilesystem_policy:\n  include_workdir: true\n"
		"  read_only: [/etc/, /usr, //usr, /etc, /usr//]\n  read_write: [/var//cache/app/]\n"
		"network_policies:\n  api:\n    endpoints:\n      - host: api.example.com\n        port: 443\n"
		"        protocol: rest\n        access: read-only\n    binaries:\n      - path: /usr/bin/curl\n",
		/* ports: [443] for port: 443 */
		"version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only: [/usr, /etc]\n"
		"  read_write: [/var/cache/app]\nnetwork_policies:\n  api:\n    endpoints:\n"
		"      - host: api.example.com\n        ports: [443]\n        protocol: rest\n"
		"        access: read-only\n    binaries:\n      - path: /usr/bin/curl\n",
		/* host case and trailing dot */
		"version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only: [/usr, /etc]\n"
		"  read_write: [/var/cache/app]\nnetwork_policies:\n  api:\n    endpoints:\n"
		"      - host: API.Example.COM.\n        port: 443\n        protocol: rest\n"
		"        access: read-only\n    binaries:\n      - path: /usr/bin/curl\n",
		/* endpoint-level defaults written out, binaries default */
		"version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only: [/usr, /etc]\n"
		"  read_write: [/var/cache/app]\nnetwork_policies:\n  api:\n    endpoints:\n"
		"      - host: api.example.com\n        port: 443\n        protocol: rest\n"
		"        access: read-only\n        enforcement: enforce\n        allow_encoded_slash: false\n"
		"    binaries:\n      - path: /usr/bin/curl\n        children: false\n",
		/* document markers, CRLF line ends */
		"---\r\nversion: 1\r\nfilesystem_policy:\r\n  include_workdir: true\r\n"
		"  read_only: [/usr, /etc]\r\n  read_write: [/var/cache/app]\r\nnetwork_policies:\r\n"
		"  api:\r\n    endpoints:\r\n      - {host: api.example.com, port: 443, protocol: rest, "
		"access: read-only}\r\n    binaries: [{path: /usr/bin/curl}]\r\n...\r\n",
	};
	char base[65], h[65];

	begin("hash: same policy written differently");
	hash_of(BASE, strlen(BASE), base);
	if (!CHECK(*base, "base policy loads"))
		return;
	for (size_t i = 0; i < sizeof(same) / sizeof(*same); i++) {
		hash_of(same[i], strlen(same[i]), h);
		CHECK(strcmp(h, base) == 0, "variant %zu hashes like the base", i);
	}
}

static void
test_hash_different(void)
{
	static const struct {
		const char *from, *to, *what;
	} diff[] = {
		{ "[/usr, /etc]", "[/usr, /etc, /opt]", "one path added" },
		{ "[/usr, /etc]", "[/usr]", "one path removed" },
		{ "read_only: [/usr, /etc]\n  read_write: [/var/cache/app]",
		  "read_only: [/usr, /etc, /var/cache/app]\n  read_write: []", "path moved to read_only" },
		{ "port: 443", "port: 8443", "a port changed" },
		{ "port: 443", "ports: [443, 80]", "a port added" },
		{ "access: read-only\n", "access: read-only\n        enforcement: audit\n", "enforcement audit" },
		{ "access: read-only", "access: read-write", "access changed" },
		{ "access: read-only", "rules: [{allow: {method: GET, path: /**}}]", "rules for access" },
		{ "access: read-only\n", "access: read-only\n        allow_encoded_slash: true\n",
		  "allow_encoded_slash" },
		{ "access: read-only\n", "access: read-only\n        path: /v1/**\n", "endpoint path" },
		{ "include_workdir: true", "include_workdir: false", "include_workdir" },
		{ "host: api.example.com", "host: \"*.example.com\"", "host widened" },
		{ "path: /usr/bin/curl\n", "path: /usr/bin/curl\n        children: true\n", "children" },
		{ "path: /usr/bin/curl", "path: /usr/bin/wget", "binary changed" },
		{ "  api:\n", "  api2:\n", "policy key renamed" },
		{ "    endpoints:\n", "    name: API\n    endpoints:\n", "display name" },
		{ "version: 1\n", "version: 1\nlandlock: {compatibility: hard_requirement}\n", "landlock" },
		{ "version: 1\n", "version: 1\nprocess: {run_as_user: sandbox}\n", "run_as_user" },
		{ "version: 1\n", "version: 1\nprocess: {env: {pass: [EDITOR]}}\n", "env.pass" },
		{ "version: 1\n", "version: 1\nprocess: {env: {set: {A: x}}}\n", "env.set" },
		{ "version: 1\n", "version: 1\nprocess: {limits: {pids: 100}}\n", "limits.pids" },
		{ "version: 1\n", "version: 1\nprocess: {limits: {open_files: 1024}}\n", "limits.open_files" },
	};
	char base[65], h[65];

	begin("hash: different policies");
	hash_of(BASE, strlen(BASE), base);
	for (size_t i = 0; i < sizeof(diff) / sizeof(*diff); i++) {
		char *y = replace(BASE, diff[i].from, diff[i].to);
		if (!CHECK(strcmp(y, BASE) != 0, "%s: edit applies", diff[i].what)) {
			free(y);
			continue;
		}
		hash_of(y, strlen(y), h);
		CHECK(*h && strcmp(h, base) != 0, "%s changes the hash", diff[i].what);
		free(y);
	}
	/* Limits that differ only in a unit are the same; that differ in value are not. */
	{
		char h1[65], h2[65], h3[65];
		const char *a = "version: 1\nprocess: {limits: {memory: 1G, cpu: 2}}\n";
		const char *b = "version: 1\nprocess: {limits: {memory: 1024Mi, cpu: 2.000}}\n";
		const char *c = "version: 1\nprocess: {limits: {memory: 1G, cpu: 2.001}}\n";
		hash_of(a, strlen(a), h1);
		hash_of(b, strlen(b), h2);
		hash_of(c, strlen(c), h3);
		CHECK(*h1 && strcmp(h1, h2) == 0, "1G/2 == 1024Mi/2.000");
		CHECK(*h3 && strcmp(h1, h3) != 0, "cpu 2 != 2.001");
	}
	/* A host-less endpoint is not the same as one for a host named "null". */
	{
		char h1[65], h2[65];
		const char *a = NET "      - {port: 5432, allowed_ips: [10.0.0.0/8]}\n";
		const char *b = NET "      - {host: \"null\", port: 5432, allowed_ips: [10.0.0.0/8]}\n";
		hash_of(a, strlen(a), h1);
		hash_of(b, strlen(b), h2);
		CHECK(*h1 && *h2 && strcmp(h1, h2) != 0, "host-less != host 'null'");
	}
}

static void
test_round_trips(void)
{
	static const char *files[] = {
		"valid-full.yaml", "valid-full-rewritten.yaml", "valid-default-explicit.yaml",
		"valid-default-terse.yaml", "valid-minimal.yaml", "valid-openshell-style.yaml",
		"valid-inference.yaml",
	};

	begin("canonical round trip");
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		char path[256];
		struct policy p;
		struct policy_diags d;

		snprintf(path, sizeof(path), FIXTURES "%s", files[i]);
		if (CHECK(policy_load_file(path, &p, &d) == 0, "%s loads", files[i])) {
			check_round_trip(&p, files[i]);
			policy_free(&p);
		} else {
			dump_diags(&d);
		}
		policy_diags_free(&d);
	}
	/* Every combination of set and unset limits. */
	for (int m = 0; m < 16; m++) {
		char y[256];
		struct policy p;
		snprintf(y, sizeof(y), "version: 1\nprocess:\n  limits: {%s%s%s%s}\n",
		    m & 1 ? "memory: 64M, " : "", m & 2 ? "pids: 10, " : "", m & 4 ? "cpu: 0.25, " : "",
		    m & 8 ? "open_files: 64, " : "");
		if (EXPECT_OK(y, &p)) {
			check_round_trip(&p, "limits");
			policy_free(&p);
		}
	}
}

/* ---- size and CPU parsers ------------------------------------------------ */

static void
test_parse_size(void)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 }, { "1", 0, 1 }, { "1024", 0, 1024 },
		{ "1K", 0, 1024 }, { "1k", 0, 1024 }, { "1KB", 0, 1024 }, { "1KiB", 0, 1024 },
		{ "1Ki", 0, 1024 }, { "512M", 0, 512ull << 20 }, { "512m", 0, 512ull << 20 },
		{ "2G", 0, 2ull << 30 }, { "2GiB", 0, 2ull << 30 }, { "1T", 0, 1ull << 40 },
		{ "1B", 0, 1 }, { "0G", 0, 0 }, { "007", 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "17179869183G", 0, 17179869183ull << 30 },
		{ "", -1, 0 }, { "K", -1, 0 }, { "G1", -1, 0 }, { "1.5G", -1, 0 }, { "-1", -1, 0 },
		{ "+1", -1, 0 }, { " 1", -1, 0 }, { "1 ", -1, 0 }, { "1 G", -1, 0 }, { "1GG", -1, 0 },
		{ "1Gb", -1, 0 }, { "1iB", -1, 0 }, { "1P", -1, 0 }, { "1E", -1, 0 }, { "0x10", -1, 0 },
		{ "1GiBx", -1, 0 }, { "lots", -1, 0 },
		{ "18446744073709551616", -1, 0 },	/* 2^64 */
		{ "17179869184G", -1, 0 },		/* 2^34 GiB = 2^64 */
		{ "16777216T", -1, 0 },			/* 2^24 TiB = 2^64 */
		{ "99999999999999999999999999999999999", -1, 0 },
	};

	begin("policy_parse_size");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		uint64_t v = 12345;
		int rc = policy_parse_size(cases[i].s, &v);
		if (cases[i].rc == 0)
			CHECK(rc == 0 && v == cases[i].v, "\"%s\" -> %llu (got rc %d, %llu)", cases[i].s,
			    (unsigned long long)cases[i].v, rc, (unsigned long long)v);
		else
			CHECK(rc == -1 && v == 12345, "\"%s\" rejected, output untouched (rc %d)",
			    cases[i].s, rc);
	}
}

static void
test_parse_cpu(void)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "1", 0, 1000 }, { "0", 0, 0 }, { "2", 0, 2000 }, { "1.5", 0, 1500 },
		{ "0.5", 0, 500 }, { "0.25", 0, 250 }, { "0.001", 0, 1 }, { "1.000", 0, 1000 },
		{ "01.5", 0, 1500 }, { "999999", 0, 999999000 }, { "999999.999", 0, 999999999 },
		{ "", -1, 0 }, { ".5", -1, 0 }, { "1.", -1, 0 }, { "-1", -1, 0 }, { "+1", -1, 0 },
		{ "1e3", -1, 0 }, { "1,5", -1, 0 }, { " 1", -1, 0 }, { "1 ", -1, 0 }, { "1.5.0", -1, 0 },
		{ "1.x", -1, 0 }, { "1000000", -1, 0 }, { "0.0001", -1, 0 }, { "lots", -1, 0 },
		{ "1.2345", -1, 0 }, { "NaN", -1, 0 }, { "inf", -1, 0 },
	};

	begin("policy_parse_cpu");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		uint64_t v = 12345;
		int rc = policy_parse_cpu(cases[i].s, &v);
		if (cases[i].rc == 0)
			CHECK(rc == 0 && v == cases[i].v, "\"%s\" -> %llu millis (got rc %d, %llu)",
			    cases[i].s, (unsigned long long)cases[i].v, rc, (unsigned long long)v);
		else
			CHECK(rc == -1 && v == 12345, "\"%s\" rejected, output untouched (rc %d)",
			    cases[i].s, rc);
	}
}

static void
test_names(void)
{
	begin("enum names");
	CHECK_STR(net_access_name(ACCESS_READ_ONLY), "read-only");
	CHECK_STR(net_access_name(ACCESS_READ_WRITE), "read-write");
	CHECK_STR(net_access_name(ACCESS_FULL), "full");
	CHECK_STR(net_access_name(ACCESS_NONE), "none");
	CHECK_STR(net_protocol_name(PROTO_REST), "rest");
	CHECK_STR(net_protocol_name(PROTO_TCP), "tcp");
	CHECK_STR(net_protocol_name(PROTO_NONE), "none");
	CHECK_STR(infer_format_name(INFER_ANTHROPIC), "anthropic");
	CHECK_STR(infer_format_name(INFER_OPENAI), "openai");
}

/* ---- deterministic fuzz ------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* Same contract as fuzz/fuzz_policy.c: load and round-trip, or say why not. */
static bool
fuzz_one(const char *buf, size_t len)
{
	struct policy p, q;
	struct policy_diags d, d2;
	bool ok = true;

	if (policy_load_buffer("fuzz", buf, len, &p, &d) == 0) {
		char h1[65], h2[65];
		char *canon = policy_canonical(&p);
		if (policy_load_buffer("canon", canon, strlen(canon), &q, &d2) != 0) {
			ok = false;
			dump_diags(&d2);
		} else {
			policy_hash(&p, h1);
			policy_hash(&q, h2);
			ok = strcmp(h1, h2) == 0;
			policy_free(&q);
		}
		policy_diags_free(&d2);
		free(canon);
		policy_free(&p);
	} else {
		ok = d.n > 0;
		for (size_t i = 0; i < d.n; i++)
			ok = ok && d.v[i].msg && *d.v[i].msg && d.v[i].line >= 1 && d.v[i].col >= 1;
	}
	policy_diags_free(&d);
	return ok;
}

static void
test_fuzz(void)
{
	static const char alphabet[] = "version: 1\n-[]{}:,'\"&*!|>#%@`\t /.\\~?";
	size_t len;
	char *full = slurp(FIXTURES "valid-full.yaml", &len);
	char *buf;
	int bad = 0;

	begin("deterministic fuzz");
	if (!CHECK(full != NULL, "read valid-full.yaml"))
		return;
	buf = malloc(len + 64);
	/* Random bytes and random YAML punctuation. */
	for (int i = 0; i < 1500; i++) {
		size_t n = rnd() % 200;
		for (size_t k = 0; k < n; k++)
			buf[k] = i % 2 ? alphabet[rnd() % (sizeof(alphabet) - 1)] : (char)rnd();
		if (!fuzz_one(buf, n) && bad++ < 5)
			printf("# fuzz: random input %d failed\n", i);
	}
	/* Mutations of the full policy: flip, delete, insert, truncate. */
	for (int i = 0; i < 1500; i++) {
		size_t n = len, at = rnd() % len;
		memcpy(buf, full, len);
		switch (rnd() % 4) {
		case 0:
			buf[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
			break;
		case 1:
			memmove(buf + at, buf + at + 1, len - at - 1);
			n--;
			break;
		case 2:
			memmove(buf + at + 1, buf + at, len - at);
			buf[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
			n++;
			break;
		default:
			n = at;
			break;
		}
		if (!fuzz_one(buf, n) && bad++ < 5)
			printf("# fuzz: mutation %d failed:\n%.*s\n", i, (int)n, buf);
	}
	CHECK(bad == 0, "3000 random and mutated inputs: load and round-trip, or rejected with "
	    "diagnostics (%d bad)", bad);
	free(buf);
	free(full);
}

/* The audit section: defaults, values, errors, canonical form. */
static void
test_audit_section(void)
{
	struct policy p;
	char *c;

	printf("# audit section\n");
	if (EXPECT_OK("version: 1\n", &p)) {
		CHECK_INT(p.audit_fsync, AUDIT_SYNC_BATCH);
		CHECK_INT(p.audit_on_failure, AUDIT_FAIL_DENY);
		CHECK_NULL(p.audit_path);
		c = policy_canonical(&p);
		CHECK(strstr(c, "audit:\n  fsync: batch\n  on_failure: deny\n"),
		    "canonical form writes the audit defaults");
		free(c);
		policy_free(&p);
	}
	if (EXPECT_OK("version: 1\naudit:\n  path: /var/log/w/a.jsonl\n  fsync: always\n"
	    "  on_failure: stop\n", &p)) {
		CHECK_INT(p.audit_fsync, AUDIT_SYNC_ALWAYS);
		CHECK_INT(p.audit_on_failure, AUDIT_FAIL_STOP);
		CHECK_STR(p.audit_path, "/var/log/w/a.jsonl");
		check_round_trip(&p, "audit section");
		policy_free(&p);
	}
	EXPECT_ERR("version: 1\naudit:\n  fsync: sometimes\n", 3, 10, "unknown audit.fsync 'sometimes'");
	EXPECT_ERR("version: 1\naudit:\n  on_failure: ignore\n", 3, 15,
	    "unknown audit.on_failure 'ignore'");
	EXPECT_ERR("version: 1\naudit:\n  path: logs/a.jsonl\n", 3, 9, "audit.path 'logs/a.jsonl'");
	EXPECT_ERR("version: 1\naudit:\n  rotate: daily\n", 3, 3, "unknown key 'rotate' in audit");
	EXPECT_ERR("version: 1\naudit: [batch]\n", 2, 8, "audit");
}

/* ---- inference and classifiers -------------------------------------------- */

/* 1-based column of the first `needle` on 1-based line `line` of yaml, or -1. */
static int
col_of(const char *yaml, int line, const char *needle)
{
	const char *l = yaml, *e, *m;

	for (int i = 1; i < line && l; i++)
		l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL;
	if (!l)
		return -1;
	e = strchrnul(l, '\n');
	m = strstr(l, needle);
	return m && m < e ? (int)(m - l) + 1 : -1;
}

/* The one diagnostic is at `line`, at the column where `needle` starts. */
#define EXPECT_AT(yaml, line, needle, sub) \
	expect_err_n(yaml, strlen(yaml), line, col_of(yaml, line, needle), sub, 1, __LINE__)
#define EXPECT_AT_N(yaml, n, line, needle, sub) \
	expect_err_n(yaml, strlen(yaml), line, col_of(yaml, line, needle), sub, n, __LINE__)

#define INF_TOP "version: 1\ninference:\n  providers:\n"
#define INF_A "    a: {format: openai, base_url: \"http://127.0.0.1:8080/v1\", max_tier: internal}\n"
#define INF_ROUTES "  routes:\n    - {models: [\"*\"], providers: [a]}\n"
/* A valid inference section: provider a on line 4, its route on line 6; more from line 7. */
#define INF INF_TOP INF_A INF_ROUTES
/* The same with provider line 4 replaced. */
#define INF_P(line) INF_TOP line INF_ROUTES
/* The same with route line 6 replaced. */
#define INF_R(line) INF_TOP INF_A "  routes:\n" line

static void
test_inference_valid(void)
{
	struct policy p;
	struct policy_diags d;
	const struct inference *inf = &p.inference;

	begin("inference: the full example");
	if (!CHECK(policy_load_file(FIXTURES "valid-inference.yaml", &p, &d) == 0,
	    "valid-inference.yaml loads")) {
		dump_diags(&d);
		policy_diags_free(&d);
		return;
	}
	policy_diags_free(&d);
	CHECK(inf->present, "inference is present");
	if (CHECK_INT(inf->nproviders, 3)) {
		const struct infer_provider *an = &inf->providers[0], *lo = &inf->providers[1],
		    *oa = &inf->providers[2];

		CHECK_STR(an->name, "anthropic");
		CHECK_STR(lo->name, "local");
		CHECK_STR(oa->name, "openai");
		CHECK_INT(an->format, INFER_ANTHROPIC);
		CHECK_INT(oa->format, INFER_OPENAI);
		CHECK_INT(lo->format, INFER_OPENAI);
		CHECK_STR(an->base_url, "https://api.anthropic.com");
		CHECK(an->tls, "anthropic: tls");
		CHECK_STR(an->host, "api.anthropic.com");
		CHECK_INT(an->port, 443);
		CHECK_STR(an->base_path, "");
		CHECK_STR(oa->base_url, "https://api.openai.com/v1");
		CHECK_STR(oa->base_path, "/v1");
		CHECK_STR(lo->base_url, "http://127.0.0.1:11434/v1");
		CHECK(!lo->tls, "local: plain http");
		CHECK_STR(lo->host, "127.0.0.1");
		CHECK_INT(lo->port, 11434);
		CHECK_STR(lo->base_path, "/v1");
		CHECK_INT(an->max_tier, TIER_CONFIDENTIAL);
		CHECK_INT(oa->max_tier, TIER_INTERNAL);
		CHECK_INT(lo->max_tier, TIER_RESTRICTED);
		CHECK_STR(an->credential, "anthropic");
		CHECK_STR(oa->credential, "openai");
		CHECK_NULL(lo->credential);
		CHECK_STR(lo->model, "llama3.1:8b");
		CHECK_NULL(an->model);
	}
	if (CHECK_INT(inf->nroutes, 2)) {
		CHECK(strv_is(&inf->routes[0].models, 1, "claude-*"), "route 1 models");
		CHECK(strv_is(&inf->routes[0].providers, 2, "anthropic", "local"),
		    "route 1 providers in the order written");
		CHECK(strv_is(&inf->routes[1].models, 1, "*"), "route 2 models");
		CHECK(strv_is(&inf->routes[1].providers, 2, "openai", "local"),
		    "route 2 providers in the order written");
	}
	CHECK_INT(inf->on_no_provider, INFER_ON_NONE_REDACT);
	CHECK_INT(inf->max_body, 16ull << 20);
	CHECK_INT(inf->timeout_ms, 1500);
	CHECK_INT(inf->base64_min_tier, TIER_CONFIDENTIAL);
	if (CHECK_INT(inf->ncustom, 2)) {
		CHECK_STR(inf->custom[0].name, "codename");
		CHECK(strv_is(&inf->custom[0].terms, 2, "Blue Heron", "Project Nightingale"),
		    "terms sorted");
		CHECK_NULL(inf->custom[0].pattern);
		CHECK_INT(inf->custom[0].tier, TIER_CONFIDENTIAL);
		CHECK_STR(inf->custom[1].name, "employee-id");
		CHECK_STR(inf->custom[1].pattern, "EMP-[0-9]{6}");
		CHECK_INT(inf->custom[1].terms.n, 0);
		CHECK_INT(inf->custom[1].tier, TIER_INTERNAL);
	}
	if (CHECK_INT(p.nclassifiers, 2)) {
		CHECK_STR(p.classifiers[0].name, "codenames");
		CHECK(strv_is(&p.classifiers[0].command, 4, "/usr/bin/python3",
		    "/opt/guards/classifier.py", "--terms", "/opt/guards/terms.txt"), "command");
		CHECK(strv_is(&p.classifiers[0].read_only, 1, "/opt/guards"), "read_only");
		CHECK_INT(p.classifiers[0].timeout_ms, 500);
		CHECK_STR(p.classifiers[1].name, "second");
		CHECK_INT(p.classifiers[1].timeout_ms, 0);
		CHECK_INT(p.classifiers[1].read_only.n, 0);
	}
	/* Credentials a provider uses need no binding to network_policies. */
	if (CHECK_INT(p.ncreds, 2)) {
		CHECK_INT(p.creds[0].network_policies.n, 0);
		CHECK_NULL(p.creds[0].sandbox_env);
		CHECK_NULL(p.creds[0].header_name);
	}
	{
		char *c = policy_canonical(&p);
		CHECK(strstr(c, "\ninference:\n  providers:\n    \"anthropic\":\n      format: anthropic\n"
		    "      base_url: \"https://api.anthropic.com\"\n      max_tier: confidential\n"
		    "      credential: \"anthropic\"\n"), "canonical providers, block style");
		CHECK(strstr(c, "  routes:\n    - models: [\"claude-*\"]\n      providers: [\"anthropic\", "
		    "\"local\"]\n"), "canonical routes");
		CHECK(strstr(c, "  on_no_provider: redact\n  max_body: 16777216\n  timeout_ms: 1500\n"
		    "  base64_min_tier: confidential\n  custom:\n    - name: \"codename\"\n"),
		    "canonical settings and custom rules");
		CHECK(strstr(c, "\nclassifiers:\n  - name: \"codenames\"\n"), "canonical classifiers");
		CHECK(strstr(c, "  - name: \"second\"\n    command: [\"/opt/guards/second\"]\n"
		    "    read_only: []\n") != NULL, "an unset classifier timeout is left out");
		CHECK(!strstr(c, "network_policies: []"),
		    "no empty network_policies for provider credentials");
		free(c);
	}
	check_round_trip(&p, "valid-inference");
	policy_free(&p);

	/* The example shipped in examples/ (and shown in docs/policy.md) is valid. */
	if (CHECK(policy_load_file("examples/inference.yaml", &p, &d) == 0,
	    "examples/inference.yaml loads")) {
		CHECK_INT(p.inference.nproviders, 3);
		CHECK_INT(p.inference.ncustom, 2);
		check_round_trip(&p, "examples/inference.yaml");
		policy_free(&p);
	} else {
		dump_diags(&d);
	}
	policy_diags_free(&d);

	begin("inference: defaults");
	if (EXPECT_OK(INF, &p)) {
		char *c = policy_canonical(&p);
		CHECK_INT(inf->on_no_provider, INFER_ON_NONE_DENY);
		CHECK_INT(inf->max_body, 8ull << 20);
		CHECK_INT(inf->timeout_ms, 2000);
		CHECK_INT(inf->base64_min_tier, TIER_INTERNAL);
		CHECK_INT(inf->ncustom, 0);
		CHECK_INT(p.nclassifiers, 0);
		CHECK(strstr(c, "  on_no_provider: deny\n  max_body: 8388608\n  timeout_ms: 2000\n"
		    "  base64_min_tier: internal\n  custom: []\n"), "defaults written out");
		CHECK(!strstr(c, "classifiers:"), "no classifiers section when there are none");
		check_round_trip(&p, "inference defaults");
		free(c);
		policy_free(&p);
	}
	if (EXPECT_OK("version: 1\n", &p)) {
		char *c = policy_canonical(&p);
		CHECK(!inf->present, "no inference section: not present");
		CHECK(!strstr(c, "inference") && !strstr(c, "classifiers"),
		    "a policy without the sections has neither in its canonical form");
		free(c);
		policy_free(&p);
	}
	/* The extremes of each setting. */
	if (EXPECT_OK(INF "  max_body: 64M\n  timeout_ms: 60000\n  base64_min_tier: public\n", &p)) {
		CHECK_INT(inf->max_body, 64ull << 20);
		CHECK_INT(inf->timeout_ms, 60000);
		CHECK_INT(inf->base64_min_tier, TIER_PUBLIC);
		policy_free(&p);
	}
	if (EXPECT_OK(INF "  max_body: 1\n  timeout_ms: 1\n  custom: null\nclassifiers: []\n", &p)) {
		CHECK_INT(inf->max_body, 1);
		CHECK_INT(inf->timeout_ms, 1);
		policy_free(&p);
	}
	/* A route may come before the providers it names. */
	if (EXPECT_OK("version: 1\ninference:\n  routes:\n    - {models: [\"*\"], providers: [a]}\n"
	    "  providers:\n" INF_A, &p))
		policy_free(&p);
	/* Seven classifiers are allowed, with inference written after them. */
	if (EXPECT_OK("version: 1\nclassifiers:\n"
	    "  - {name: c1, command: [/bin/c]}\n  - {name: c2, command: [/bin/c]}\n"
	    "  - {name: c3, command: [/bin/c]}\n  - {name: c4, command: [/bin/c]}\n"
	    "  - {name: c5, command: [/bin/c]}\n  - {name: c6, command: [/bin/c]}\n"
	    "  - {name: c7, command: [/bin/c], read_only: [/opt/b, /opt/a, /opt/b]}\n"
	    "inference:\n  providers:\n" INF_A INF_ROUTES, &p)) {
		CHECK_INT(p.nclassifiers, 7);
		CHECK_STR(p.classifiers[6].name, "c7");
		CHECK(strv_is(&p.classifiers[6].read_only, 2, "/opt/a", "/opt/b"),
		    "read_only sorted and de-duplicated");
		check_round_trip(&p, "seven classifiers");
		policy_free(&p);
	}
}

static void
test_inference_base_url(void)
{
	static const struct {
		const char *in, *url, *host, *path;
		bool tls;
		unsigned port;
	} ok[] = {
		{ "HTTPS://API.Example.COM:443/", "https://api.example.com", "api.example.com", "", true, 443 },
		{ "https://api.example.com.", "https://api.example.com", "api.example.com", "", true, 443 },
		{ "http://[::1]:8080/v1/", "http://[::1]:8080/v1", "::1", "/v1", false, 8080 },
		{ "http://[2001:DB8::1]", "http://[2001:db8::1]", "2001:db8::1", "", false, 80 },
		{ "http://10.0.0.1", "http://10.0.0.1", "10.0.0.1", "", false, 80 },
		{ "http://h.example:80/", "http://h.example", "h.example", "", false, 80 },
		{ "https://h.example:8443/a/b", "https://h.example:8443/a/b", "h.example", "/a/b", true, 8443 },
		{ "http://localhost:11434", "http://localhost:11434", "localhost", "", false, 11434 },
		{ "https://h.example/openai/v1/", "https://h.example/openai/v1", "h.example", "/openai/v1", true, 443 },
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "ftp://h.example", "must start with http:// or https://" },
		{ "h.example", "must start with http:// or https://" },
		{ "https://user:pw@h.example", "user information" },
		{ "https://h.example@evil.example", "user information" },
		{ "https://h.example/a/../b", "must not contain '..'" },
		{ "https://h.example/a/./b", "'.' components" },
		{ "https://h.example//v1", "empty component" },
		{ "https://h.example/v1%2F", "'%'" },
		{ "https://h.example/v1?x=1", "query" },
		{ "https://h.example/#top", "fragment" },
		{ "https://h.example:0", "port" },
		{ "https://h.example:65536", "port" },
		{ "https://h.example:", "port" },
		{ "https://h.example:8x/v1", "port" },
		{ "https://*.example.com", "wildcard" },
		{ "https://", "no host" },
		{ "https:///v1", "no host" },
		{ "http://::1/v1", "no host" },
		{ "http://[1.2.3.4]/", "not an IPv6 address" },
		{ "http://[::1/v1", "without its ']'" },
		{ "https://h.example/v 1", "printable ASCII without spaces" },
		{ "https://b\xc3\xbc" "cher.example", "printable ASCII" },
		{ "https://h!x.example", "invalid label" },
	};

	begin("inference: base_url");
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		struct policy p;
		char *y = xasprintf(INF_TOP "    a: {format: openai, base_url: \"%s\", max_tier: internal}\n"
		    INF_ROUTES, ok[i].in);

		if (EXPECT_OK(y, &p)) {
			const struct infer_provider *pv = &p.inference.providers[0];
			CHECK(strcmp(pv->base_url, ok[i].url) == 0 && strcmp(pv->host, ok[i].host) == 0 &&
			    strcmp(pv->base_path, ok[i].path) == 0 && pv->tls == ok[i].tls &&
			    pv->port == ok[i].port, "%s -> %s (got %s, host %s, path %s, port %u)",
			    ok[i].in, ok[i].url, pv->base_url, pv->host, pv->base_path, pv->port);
			check_round_trip(&p, ok[i].in);
			policy_free(&p);
		}
		free(y);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *y = xasprintf(INF_TOP "    a: {format: openai, base_url: \"%s\", max_tier: internal}\n"
		    INF_ROUTES, bad[i].in);
		EXPECT_AT(y, 4, "\"", bad[i].why);
		free(y);
	}
	{
		char *long_url = xasprintf("https://h.example/%02050d", 7);
		char *y = xasprintf(INF_P("    a: {format: openai, base_url: \"%s\", max_tier: internal}\n"),
		    long_url);
		EXPECT_AT(y, 4, "\"", "longer than 2048 characters");
		free(y);
		free(long_url);
	}
	EXPECT_AT(INF_P("    a: {format: openai, base_url: [http://h], max_tier: internal}\n"), 4, "[",
	    "base_url must be a string");
}

static void
test_inference_errors(void)
{
	begin("inference: section and providers");
	EXPECT_AT("version: 1\ninference:\n", 2, "inference", "expected at least one provider");
	EXPECT_AT("version: 1\ninference:\n  providers: {}\n" INF_ROUTES, 3, "{}",
	    "expected at least one provider");
	EXPECT_AT("version: 1\ninference:\n  providers:\n" INF_ROUTES, 3, "providers",
	    "expected at least one provider");
	EXPECT_AT("version: 1\ninference:\n" INF_ROUTES, 2, "inference",
	    "inference has no providers: expected at least one provider");
	EXPECT_AT_N("version: 1\ninference: {}\n", 2, 2, "inference", "expected at least one provider");
	EXPECT_AT("version: 1\ninference: [a]\n", 2, "[", "inference must be a mapping");
	EXPECT_AT("version: 1\ninference:\n  providers: [a]\n" INF_ROUTES, 3, "[",
	    "inference.providers must be a mapping, not a list");
	EXPECT_AT(INF "  colour: red\n", 7, "colour", "unknown key 'colour' in inference");
	EXPECT_AT(INF_TOP INF_A "    Big: {format: openai, base_url: \"http://h\", max_tier: public}\n"
	    INF_ROUTES, 5, "Big", "provider 'Big': name must start with a lower-case letter or a digit");
	EXPECT_AT(INF_TOP INF_A "    a.b: {format: openai, base_url: \"http://h\", max_tier: public}\n"
	    INF_ROUTES, 5, "a.b", "provider 'a.b': name holds only lower-case letters");
	EXPECT_AT(INF_TOP INF_A "    a234567890123456789012345678901234567890123456789012345678901234: "
	    "{format: openai, base_url: \"http://h\", max_tier: public}\n" INF_ROUTES, 5, "a2",
	    "longer than 63 characters");
	EXPECT_AT(INF_TOP INF_A INF_A INF_ROUTES, 5, "a:", "duplicate provider 'a' (first at line 4)");
	EXPECT_AT(INF_P("    a: {format: gemini, base_url: \"http://h\", max_tier: internal}\n"), 4,
	    "gemini", "unknown format 'gemini'");
	EXPECT_AT(INF_P("    a: {format: OpenAI, base_url: \"http://h\", max_tier: internal}\n"), 4,
	    "OpenAI", "unknown format 'OpenAI'");
	EXPECT_AT(INF_P("    a: {base_url: \"http://h\", max_tier: internal}\n"), 4, "a:",
	    "provider 'a' needs format");
	EXPECT_AT(INF_P("    a: {format: openai, max_tier: internal}\n"), 4, "a:",
	    "provider 'a' needs base_url");
	EXPECT_AT(INF_P("    a: {format: openai, base_url: \"http://h\"}\n"), 4, "a:",
	    "provider 'a' needs max_tier");
	EXPECT_AT(INF_P("    a: {format: openai, base_url: \"http://h\", max_tier: secret}\n"), 4,
	    "secret", "unknown max_tier 'secret'");
	EXPECT_AT(INF_P("    a: {format: openai, base_url: \"http://h\", max_tier: Internal}\n"), 4,
	    "Internal", "unknown max_tier 'Internal'");
	EXPECT_AT(INF_P("    a: {format: openai, base_url: \"http://h\", max_tier: public, colour: red}\n"),
	    4, "colour", "unknown key 'colour' in provider");
	EXPECT_AT(INF_P("    a: [openai]\n"), 4, "[", "provider must be a mapping");
	EXPECT_AT(INF_P("    a: {format: openai, base_url: \"http://h\", max_tier: public, credential: nope}\n"),
	    4, "nope", "credential 'nope' is not defined in credentials");
	EXPECT_AT(INF_P("    a: {format: openai, base_url: \"http://h\", max_tier: public, model: \"\"}\n"),
	    4, "\"\"", "model '': it is empty");
	EXPECT_AT(INF_P("    a: {format: openai, base_url: \"http://h\", max_tier: public, model: \"a\\tb\"}\n"),
	    4, "\"a", "printable ASCII");
	{
		char m[202];
		memset(m, 'm', 201);
		m[201] = '\0';
		char *y = xasprintf(INF_P("    a: {format: openai, base_url: \"http://h\", max_tier: public, "
		    "model: %s}\n"), m);
		EXPECT_AT(y, 4, "mmm", "too long");
		free(y);
	}

	begin("inference: routes");
	EXPECT_AT(INF_TOP INF_A, 2, "inference", "inference has no routes");
	EXPECT_AT(INF_TOP INF_A "  routes: []\n", 5, "[]", "inference.routes must be a non-empty list");
	EXPECT_AT(INF_TOP INF_A "  routes: {models: [x]}\n", 5, "{",
	    "inference.routes must be a non-empty list");
	EXPECT_AT(INF_R("    - {models: [], providers: [a]}\n"), 6, "[]", "models must be a non-empty list");
	EXPECT_AT(INF_R("    - {models: [\"*\"], providers: []}\n"), 6, "[]",
	    "providers must be a non-empty list");
	EXPECT_AT(INF_R("    - {models: [\"*\"], providers: [a, ghost]}\n"), 6, "ghost",
	    "provider 'ghost' is not defined in inference.providers");
	EXPECT_AT(INF_R("    - {models: [\"*\"], providers: [a, a]}\n"), 6, "a]",
	    "provider 'a' is listed twice in this route");
	EXPECT_AT(INF_R("    - {models: [\"*\"], providers: [a, Bad]}\n"), 6, "Bad",
	    "provider 'Bad': name must start");
	EXPECT_AT(INF_R("    - {providers: [a]}\n"), 6, "{", "route needs models");
	EXPECT_AT(INF_R("    - {models: [\"*\"]}\n"), 6, "{", "route needs providers");
	EXPECT_AT(INF_R("    - {models: [\"*\"], providers: [a], weight: 2}\n"), 6, "weight",
	    "unknown key 'weight' in route");
	EXPECT_AT(INF_R("    - {models: [\"claude 3\"], providers: [a]}\n"), 6, "\"claude",
	    "model glob 'claude 3': it must be printable ASCII without spaces");
	EXPECT_AT(INF_R("    - {models: [\"\"], providers: [a]}\n"), 6, "\"\"", "it is empty");
	EXPECT_AT(INF_R("    - [\"*\"]\n"), 6, "[", "route must be a mapping");
	EXPECT_AT(INF_R("    - {models: \"*\", providers: [a]}\n"), 6, "\"*\"",
	    "models must be a non-empty list");

	begin("inference: settings");
	EXPECT_AT(INF "  on_no_provider: allow\n", 7, "allow", "unknown on_no_provider 'allow'");
	EXPECT_AT(INF "  max_body: 65M\n", 7, "65M", "inference.max_body is not a size from 1 byte to 64M");
	EXPECT_AT(INF "  max_body: 67108865\n", 7, "671", "not a size from 1 byte to 64M");
	EXPECT_AT(INF "  max_body: 0\n", 7, "0", "not a size");
	EXPECT_AT(INF "  max_body: 1.5M\n", 7, "1.5M", "not a size");
	EXPECT_AT(INF "  max_body: [8M]\n", 7, "[", "not a size");
	EXPECT_AT(INF "  timeout_ms: 0\n", 7, "0", "inference.timeout_ms must be an integer from 1 to 60000");
	EXPECT_AT(INF "  timeout_ms: 60001\n", 7, "60001", "from 1 to 60000");
	EXPECT_AT(INF "  timeout_ms: \"2000\"\n", 7, "\"2000", "from 1 to 60000");
	EXPECT_AT(INF "  timeout_ms: 2s\n", 7, "2s", "from 1 to 60000");
	EXPECT_AT(INF "  base64_min_tier: secret\n", 7, "secret", "unknown base64_min_tier 'secret'");

	begin("inference: custom rules");
	EXPECT_AT(INF "  custom: {a: b}\n", 7, "{", "inference.custom must be a list");
	EXPECT_AT(INF "  custom:\n    - {name: Bad, terms: [x], tier: public}\n", 8, "Bad",
	    "custom rule 'Bad': name must start");
	EXPECT_AT(INF "  custom:\n    - {name: dup, terms: [x], tier: public}\n"
	    "    - {name: dup, pattern: \"y+\", tier: public}\n", 9, "dup",
	    "duplicate custom rule 'dup' (first at line 8)");
	EXPECT_AT(INF "  custom:\n    - {name: r, terms: [x], pattern: \"y+\", tier: public}\n", 8, "{",
	    "custom rule 'r' sets both terms and pattern");
	EXPECT_AT(INF "  custom:\n    - {name: r, tier: public}\n", 8, "{",
	    "custom rule 'r' needs terms or pattern");
	EXPECT_AT(INF "  custom:\n    - {name: r, terms: [x]}\n", 8, "{", "custom rule 'r' needs a tier");
	EXPECT_AT(INF "  custom:\n    - {terms: [x], tier: public}\n", 8, "{", "custom rule needs a name");
	EXPECT_AT(INF "  custom:\n    - {name: r, terms: [x], tier: top}\n", 8, "top", "unknown tier 'top'");
	EXPECT_AT(INF "  custom:\n    - {name: r, words: [x], terms: [x], tier: public}\n", 8, "words",
	    "unknown key 'words' in custom rule");
	EXPECT_AT(INF "  custom:\n    - {name: r, terms: [], tier: public}\n", 8, "[]",
	    "terms must be a non-empty list");
	EXPECT_AT(INF "  custom:\n    - {name: r, terms: [x, \"\"], tier: public}\n", 8, "\"\"",
	    "custom term is empty");
	EXPECT_AT(INF "  custom:\n    - {name: r, pattern: \"(\", tier: public}\n", 8, "\"(",
	    "custom pattern '(': pattern is not a valid Vectorscan expression: Missing close parenthesis");
	EXPECT_AT(INF "  custom:\n    - {name: r, pattern: \"(?<=a)b\", tier: public}\n", 8, "\"(",
	    "is not a valid Vectorscan expression: ");
	EXPECT_AT(INF "  custom:\n    - {name: r, pattern: \"a*\", tier: public}\n", 8, "\"a*",
	    "can match an empty string");
	EXPECT_AT(INF "  custom:\n    - {name: r, pattern: \"\", tier: public}\n", 8, "\"\"",
	    "pattern is empty");
	{
		struct sbuf b;
		char big[1026], term[202];

		memset(big, 'x', 1025);
		big[1025] = '\0';
		memset(term, 't', 201);
		term[201] = '\0';
		char *y = xasprintf(INF "  custom:\n    - {name: r, pattern: \"%s\", tier: public}\n", big);
		EXPECT_AT(y, 8, "\"x", "longer than 1024 bytes");
		free(y);
		y = xasprintf(INF "  custom:\n    - {name: r, terms: [%s], tier: public}\n", term);
		EXPECT_AT(y, 8, "ttt", "longer than 200 bytes");
		free(y);
		/* 1000 terms are allowed, 1001 are not. */
		for (int n = 1000; n <= 1001; n++) {
			struct policy p;
			sbuf_init(&b, 1 << 20);
			sbuf_adds(&b, INF "  custom:\n    - name: r\n      tier: public\n      terms: [");
			for (int i = 0; i < n; i++)
				sbuf_addf(&b, "%st%d", i ? ", " : "", i);
			sbuf_adds(&b, "]\n");
			if (n == 1000) {
				if (EXPECT_OK(b.p, &p)) {
					CHECK_INT(p.inference.custom[0].terms.n, 1000);
					policy_free(&p);
				}
			} else {
				EXPECT_AT(b.p, 10, "[", "terms lists 1001 entries; at most 1000");
			}
			sbuf_free(&b);
		}
	}

	begin("classifiers");
	EXPECT_AT("version: 1\nclassifiers:\n  - {name: g, command: [/bin/true]}\n", 2, "classifiers",
	    "classifiers need an inference section to classify anything");
	EXPECT_AT(INF "classifiers: {g: x}\n", 7, "{", "classifiers must be a list, not a mapping");
	EXPECT_AT(INF "classifiers:\n  - {name: builtin, command: [/bin/true]}\n", 8, "builtin",
	    "classifier name 'builtin' is reserved");
	EXPECT_AT(INF "classifiers:\n  - {name: Guard, command: [/bin/true]}\n", 8, "Guard",
	    "classifier 'Guard': name must start");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [/bin/true]}\n"
	    "  - {name: g, command: [/bin/false]}\n", 9, "g,", "duplicate classifier 'g' (first at line 8)");
	EXPECT_AT(INF "classifiers:\n  - {name: g}\n", 8, "{", "classifier needs a command");
	EXPECT_AT(INF "classifiers:\n  - {command: [/bin/true]}\n", 8, "{", "classifier needs a name");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: []}\n", 8, "[]", "command must be a non-empty list");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: /bin/true}\n", 8, "/bin",
	    "command must be a non-empty list");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [python3, x.py]}\n", 8, "python3",
	    "command[0] 'python3': path must be absolute");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [/usr/bin/../bin/python3]}\n", 8, "/usr",
	    "command[0] '/usr/bin/../bin/python3': path must not contain '..'");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [/usr//bin/x]}\n", 8, "/usr",
	    "empty component");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [/bin/g], read_only: [opt]}\n", 8, "opt",
	    "read_only entry 'opt': path must be absolute");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [/bin/g], read_only: [/opt/]}\n", 8, "/opt/",
	    "read_only entry '/opt/': path must not end with '/'");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [/bin/g], read_only: /opt}\n", 8, "/opt",
	    "read_only must be a list");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [/bin/g], timeout_ms: 0}\n", 8, "0}",
	    "classifier timeout_ms must be an integer from 1 to 60000");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [/bin/g], timeout_ms: 60001}\n", 8, "60001",
	    "from 1 to 60000");
	EXPECT_AT(INF "classifiers:\n  - {name: g, command: [/bin/g], env: {A: b}}\n", 8, "env",
	    "unknown key 'env' in classifier");
	EXPECT_AT(INF "classifiers:\n"
	    "  - {name: c1, command: [/bin/c]}\n  - {name: c2, command: [/bin/c]}\n"
	    "  - {name: c3, command: [/bin/c]}\n  - {name: c4, command: [/bin/c]}\n"
	    "  - {name: c5, command: [/bin/c]}\n  - {name: c6, command: [/bin/c]}\n"
	    "  - {name: c7, command: [/bin/c]}\n  - {name: c8, command: [/bin/c]}\n", 8, "-",
	    "classifiers lists 8 classifiers");
}

/* Credentials that inference providers use, and those nothing uses. */
static void
test_inference_credentials(void)
{
	struct policy p;

	begin("inference: credentials");
	/* Used by a provider: no binding, no sandbox_env, no header needed; order does not matter. */
	if (EXPECT_OK(INF_P("    a: {format: anthropic, base_url: \"https://api.anthropic.com\", "
	    "max_tier: confidential, credential: key}\n") "credentials:\n  key: {from_env: K}\n", &p)) {
		CHECK_STR(p.inference.providers[0].credential, "key");
		CHECK_INT(p.creds[0].network_policies.n, 0);
		check_round_trip(&p, "provider credential");
		policy_free(&p);
	}
	if (EXPECT_OK("version: 1\ncredentials:\n  key: {from_env: K, header: \"api-key: {}\"}\n"
	    "inference:\n  providers:\n"
	    "    a: {format: openai, base_url: \"https://h\", max_tier: public, credential: key}\n"
	    INF_ROUTES, &p)) {
		CHECK_STR(p.creds[0].header_name, "api-key");
		check_round_trip(&p, "provider credential with a header");
		policy_free(&p);
	}
	/* Also bound to network_policies: both uses at once. */
	if (EXPECT_OK("version: 1\nnetwork_policies:\n  direct:\n    endpoints:\n"
	    "      - {host: api.anthropic.com, port: 443}\n    binaries:\n      - path: /usr/bin/python3\n"
	    "credentials:\n  key: {from_env: K, header: \"x-api-key: {}\", network_policies: [direct]}\n"
	    "inference:\n  providers:\n    a: {format: anthropic, base_url: \"https://api.anthropic.com\", "
	    "max_tier: confidential, credential: key}\n" INF_ROUTES, &p)) {
		CHECK(strv_is(&p.creds[0].network_policies, 1, "direct"), "binding kept");
		check_round_trip(&p, "credential used twice");
		policy_free(&p);
	}
	/* Not used by any provider: the credentials rules hold as before. */
	EXPECT_AT_N(INF "credentials:\n  spare: {from_env: K}\n", 2, 8, "spare",
	    "credential 'spare' needs sandbox_env or header");
	EXPECT_AT_N(INF "credentials:\n  spare: {from_env: K}\n", 2, 8, "spare",
	    "credential 'spare' needs network_policies");
	EXPECT_AT(INF "credentials:\n  spare: {from_env: K, sandbox_env: SPARE}\n", 8, "spare",
	    "credential 'spare' needs network_policies");
	/* A provider naming another credential does not excuse this one. */
	EXPECT_AT_N(INF_P("    a: {format: openai, base_url: \"http://h\", max_tier: public, credential: kee}\n")
	    "credentials:\n  key: {from_env: K}\n", 3, 4, "kee", "credential 'kee' is not defined in credentials");
	/* inference is not present: a credential still needs its binding. */
	EXPECT_AT_N("version: 1\ncredentials:\n  key: {from_env: K}\n", 2, 3, "key", "needs network_policies");
}

/* Mutations of the inference fixture: each loads and round-trips, or is rejected with reasons. */
static void
test_inference_fuzz(void)
{
	static const char alphabet[] = "inference:{}[],'\"-_ *?/.\\\n#ab0";
	size_t len;
	char *src = slurp(FIXTURES "valid-inference.yaml", &len), *buf;
	int bad = 0;

	begin("inference: mutations");
	if (!CHECK(src != NULL, "read valid-inference.yaml"))
		return;
	buf = malloc(len + 8);
	for (int i = 0; i < 2000; i++) {
		size_t n = len, at = rnd() % len;

		memcpy(buf, src, len);
		switch (rnd() % 4) {
		case 0:
			buf[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
			break;
		case 1:
			memmove(buf + at, buf + at + 1, len - at - 1);
			n--;
			break;
		case 2:
			memmove(buf + at + 1, buf + at, len - at);
			buf[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
			n++;
			break;
		default:
			n = at;
			break;
		}
		if (!fuzz_one(buf, n) && bad++ < 5)
			printf("# mutation %d failed:\n%.*s\n", i, (int)n, buf);
	}
	CHECK(bad == 0, "2000 mutations: load and round-trip, or rejected with diagnostics (%d bad)",
	    bad);
	free(buf);
	free(src);
}

static void
test_inference_hash(void)
{
	static const char *const same[] = {
		/* providers in another order, flow vs block style */
		"version: 1\ninference:\n  providers:\n"
		"    b:\n      format: anthropic\n      base_url: https://api.anthropic.com/\n"
		"      max_tier: confidential\n"
		"    a: {format: openai, base_url: \"http://127.0.0.1:8080/v1\", max_tier: internal}\n"
		"  routes:\n    - {models: [\"claude-*\"], providers: [b, a]}\n"
		"    - {models: [\"*\"], providers: [a]}\n"
		"  custom:\n    - {name: z, pattern: \"EMP-[0-9]+\", tier: internal}\n"
		"    - {name: y, terms: [beta, alpha, beta], tier: restricted}\n",
		/* defaults written out, sections and keys in another order, default port written */
		"inference:\n  custom:\n    - {tier: restricted, terms: [alpha, beta], name: y}\n"
		"    - {name: z, pattern: \"EMP-[0-9]+\", tier: internal}\n"
		"  base64_min_tier: internal\n  timeout_ms: 2000\n  max_body: 8MiB\n"
		"  on_no_provider: deny\n"
		"  routes:\n    - {providers: [b, a], models: [\"claude-*\"]}\n"
		"    - {models: [\"*\"], providers: [a]}\n"
		"  providers:\n"
		"    a: {max_tier: internal, format: openai, base_url: \"http://127.0.0.1:8080/v1/\"}\n"
		"    b: {format: anthropic, base_url: \"HTTPS://API.ANTHROPIC.COM:443\", max_tier: confidential}\n"
		"version: 1\n",
	};
	static const struct {
		const char *from, *to, *what;
	} diff[] = {
		{ "max_tier: confidential", "max_tier: restricted", "a max_tier" },
		{ "max_tier: internal", "max_tier: public", "another max_tier" },
		{ "providers: [b, a]", "providers: [a, b]", "route preference order" },
		{ "    - {models: [\"claude-*\"], providers: [b, a]}\n    - {models: [\"*\"], providers: [a]}\n",
		  "    - {models: [\"*\"], providers: [a]}\n    - {models: [\"claude-*\"], providers: [b, a]}\n",
		  "route order" },
		{ "format: openai", "format: anthropic", "format" },
		{ "8080/v1", "8080/v2", "base_url path" },
		{ "max_tier: internal}", "max_tier: internal, model: m}", "model rewrite" },
		{ "[0-9]+\", tier: internal}", "[0-9]+\", tier: confidential}", "custom rule tier" },
		{ "[beta, alpha, beta]", "[beta, alpha, gamma]", "custom terms" },
		{ "EMP-[0-9]+", "EMP-[0-9]{6}", "custom pattern" },
		{ "\"claude-*\"", "\"claude-3*\"", "model glob" },
	};
	char base[65], h[65];

	begin("inference: canonical form and hash");
	hash_of(same[0], strlen(same[0]), base);
	if (!CHECK(*base, "base policy loads"))
		return;
	for (size_t i = 1; i < sizeof(same) / sizeof(*same); i++) {
		hash_of(same[i], strlen(same[i]), h);
		CHECK(strcmp(h, base) == 0, "variant %zu hashes like the base", i);
	}
	for (size_t i = 0; i < sizeof(diff) / sizeof(*diff); i++) {
		char *y = replace(same[0], diff[i].from, diff[i].to);
		if (!CHECK(strcmp(y, same[0]) != 0, "%s: edit applies", diff[i].what)) {
			free(y);
			continue;
		}
		hash_of(y, strlen(y), h);
		CHECK(*h && strcmp(h, base) != 0, "%s changes the hash", diff[i].what);
		free(y);
	}
	{
		static const char *const extra[] = {
			"  on_no_provider: redact\n", "  max_body: 4M\n", "  timeout_ms: 2001\n",
			"  base64_min_tier: public\n",
			"classifiers:\n  - {name: g, command: [/bin/g]}\n",
		};
		for (size_t i = 0; i < sizeof(extra) / sizeof(*extra); i++) {
			char *y = xasprintf("%s%s", same[0], extra[i]);
			hash_of(y, strlen(y), h);
			CHECK(*h && strcmp(h, base) != 0, "adding %.*s changes the hash",
			    (int)strcspn(extra[i], "\n"), extra[i]);
			free(y);
		}
	}
	/* Classifiers: the order is kept (it is the order they are asked), the timeout counts. */
	{
		const char *a = INF "classifiers:\n  - {name: g, command: [/bin/g]}\n"
		    "  - {name: h, command: [/bin/h]}\n";
		const char *b = INF "classifiers:\n  - {name: h, command: [/bin/h]}\n"
		    "  - {name: g, command: [/bin/g]}\n";
		const char *c = INF "classifiers:\n  - {name: g, command: [/bin/g], timeout_ms: 100}\n"
		    "  - {name: h, command: [/bin/h]}\n";
		char ha[65], hb[65], hc[65];
		hash_of(a, strlen(a), ha);
		hash_of(b, strlen(b), hb);
		hash_of(c, strlen(c), hc);
		CHECK(*ha && *hb && strcmp(ha, hb) != 0, "classifier order changes the hash");
		CHECK(*hc && strcmp(ha, hc) != 0, "a classifier timeout changes the hash");
	}
}

/* ---- approvals -------------------------------------------------------------- */

static void
test_approvals_section(void)
{
	struct policy p;
	char *c;
	char h1[65], h2[65];

	begin("approvals section");
	if (EXPECT_OK("version: 1\n", &p)) {
		CHECK(!p.approvals.present, "absent");
		CHECK(!p.approvals.ask, "default mode deny");
		CHECK_INT(p.approvals.timeout_ms, 60000);
		CHECK(p.approvals.proposals, "proposals by default");
		CHECK_INT(p.approvals.rate_per_minute, 10);
		c = policy_canonical(&p);
		CHECK(!strstr(c, "approvals"), "absent section leaves the canonical text alone");
		free(c);
		policy_hash(&p, h1);
		policy_free(&p);
	}
	if (EXPECT_OK("version: 1\napprovals:\n  mode: ask\n  timeout: 2m\n  proposals: false\n"
	    "  rate_per_minute: 3\n", &p)) {
		CHECK(p.approvals.present && p.approvals.ask, "ask");
		CHECK_INT(p.approvals.timeout_ms, 120000);
		CHECK(!p.approvals.proposals, "proposals off");
		CHECK_INT(p.approvals.rate_per_minute, 3);
		c = policy_canonical(&p);
		CHECK(strstr(c, "approvals:\n  mode: ask\n  timeout: 120s\n  proposals: false\n"
		    "  rate_per_minute: 3\n"), "canonical approvals: %s", strstr(c, "approvals:"));
		free(c);
		check_round_trip(&p, "approvals section");
		policy_hash(&p, h2);
		CHECK(strcmp(h1, h2) != 0, "the section changes the hash");
		policy_free(&p);
	}
	if (EXPECT_OK("version: 1\napprovals:\n  timeout: 90\n", &p)) {
		CHECK_INT(p.approvals.timeout_ms, 90000);
		CHECK(!p.approvals.ask, "mode defaults to deny");
		policy_free(&p);
	}
	if (EXPECT_OK("version: 1\napprovals: {timeout: 1h, mode: deny}\n", &p)) {
		CHECK_INT(p.approvals.timeout_ms, 3600000);
		policy_free(&p);
	}
	EXPECT_ERR("version: 1\napprovals:\n  mode: maybe\n", 3, 9, "unknown approvals.mode 'maybe'");
	EXPECT_ERR("version: 1\napprovals:\n  timeout: 0s\n", 3, 12, "approvals.timeout '0s'");
	EXPECT_ERR("version: 1\napprovals:\n  timeout: 2h\n", 3, 12, "not a duration from 1s to 1h");
	EXPECT_ERR("version: 1\napprovals:\n  timeout: 5ms\n", 3, 12, "approvals.timeout");
	EXPECT_ERR("version: 1\napprovals:\n  timeout: -1\n", 3, 12, "approvals.timeout");
	EXPECT_ERR("version: 1\napprovals:\n  proposals: yes\n", 3, 14, "true or false");
	EXPECT_ERR("version: 1\napprovals:\n  rate_per_minute: 601\n", 3, 20, "1 to 600");
	EXPECT_ERR("version: 1\napprovals:\n  rate_per_minute: 0\n", 3, 20, "1 to 600");
	EXPECT_ERR("version: 1\napprovals:\n  notify: true\n", 3, 3, "unknown key 'notify' in approvals");
	EXPECT_ERR("version: 1\napprovals: [ask]\n", 2, 12, "approvals");
}

int
main(void)
{
	test_default();
	test_minimal();
	test_full();
	test_valid_details();
	test_error_format();
	test_yaml_errors();
	test_type_errors();
	test_path_errors();
	test_key_errors();
	test_endpoint_errors();
	test_host_errors();
	test_ip_errors();
	test_process_errors();
	test_rule_errors();
	test_unsupported();
	test_error_files();
	test_limits_of_loader();
	test_load_file();
	test_hash_files();
	test_hash_same();
	test_hash_different();
	test_round_trips();
	test_parse_size();
	test_parse_cpu();
	test_names();
	test_fuzz();
	test_audit_section();
	test_inference_valid();
	test_inference_base_url();
	test_inference_errors();
	test_inference_credentials();
	test_inference_hash();
	test_inference_fuzz();
	test_approvals_section();

	printf("1..%d\n", n_pass + n_fail);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
