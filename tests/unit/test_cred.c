/*
 * Unit tests for credentials: the policy's `credentials:` section (every
 * diagnostic at its line, the canonical form and the hash), loading
 * secrets from the environment and from files with their permission
 * checks (and that no error ever quotes a secret), and the rewrite of
 * request heads: substitution in the request line and header values,
 * Basic auth re-encoding, header injection, refusal of a placeholder on an
 * entry its credential is not bound to, and look-alikes left alone.
 *
 * Runs from the repository root (fixtures are in tests/policies/).  Output
 * is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a final
 * "N passed, N failed" line; the exit status is non-zero on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/policy/policy.h"
#include "../../src/proxy/cred.h"

#include "check.h"

#define FIXTURES "tests/policies/"
#define HTTP_HEAD_TEST_MAX (16384 + 65536)

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

/* ---- helpers ------------------------------------------------------------ */

static void
dump_diags(const struct policy_diags *d)
{
	policy_diags_print(d, stdout);
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

/* Expect yaml to be rejected with exactly one diagnostic, at line:col, mentioning sub. */
static void
expect_err_at(const char *yaml, int line, int col, const char *sub, int srcline)
{
	struct policy p;
	struct policy_diags d;
	int r = policy_load_buffer("c.yaml", yaml, strlen(yaml), &p, &d), i;

	check(r == -1, __FILE__, srcline, "rejected");
	i = find_diag(&d, line, col, sub);
	if (!check(i >= 0, __FILE__, srcline, "diagnostic at %d:%d mentioning \"%s\"", line, col, sub))
		dump_diags(&d);
	if (i >= 0)
		check(d.v[i].expected && *d.v[i].expected && d.v[i].example && *d.v[i].example,
		    __FILE__, srcline, "diagnostic has an expectation and an example");
	if (!check(d.n == 1, __FILE__, srcline, "exactly one diagnostic (got %zu)", d.n))
		dump_diags(&d);
	if (r == 0)
		policy_free(&p);
	policy_diags_free(&d);
}

#define EXPECT_ERR(yaml, line, col, sub) expect_err_at(yaml, line, col, sub, __LINE__)

static bool
load_ok(const char *yaml, struct policy *p)
{
	struct policy_diags d;
	int r = policy_load_buffer("c.yaml", yaml, strlen(yaml), p, &d);

	if (r != 0)
		dump_diags(&d);
	policy_diags_free(&d);
	return r == 0;
}

static char *
canon_of(const char *yaml, char hex[65])
{
	struct policy p;
	char *c;

	hex[0] = '\0';
	if (!load_ok(yaml, &p))
		return NULL;
	c = policy_canonical(&p);
	policy_hash(&p, hex);
	policy_free(&p);
	return c;
}

/* Heads hold CRLFs: compare, and show both escaped on one line when they differ. */
static void
escaped(const char *s, char *out, size_t n)
{
	size_t o = 0;

	for (; s && *s && o + 5 < n; s++) {
		if (*s == '\r' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\r' ? 'r' : 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

static bool
check_head(const char *got, const char *want, int line)
{
	static char g[4096], w[4096];
	bool ok = got && strcmp(got, want) == 0;

	escaped(want, w, sizeof(w));
	escaped(got, g, sizeof(g));
	if (ok)
		return check(true, __FILE__, line, "head is \"%.120s...\"", w);
	return check(false, __FILE__, line, "head is \"%s\" (got \"%s\")", w, g);
}

#define CHECK_HEAD(got, want) check_head((got), (want), __LINE__)

/* Lines 1-12: two network_policies entries, github_api and other. */
#define NET \
	"version: 1\n" \
	"network_policies:\n" \
	"  github_api:\n" \
	"    endpoints:\n" \
	"      - {host: api.github.com, port: 443}\n" \
	"    binaries:\n" \
	"      - path: /usr/bin/git\n" \
	"  other:\n" \
	"    endpoints:\n" \
	"      - {host: example.com, port: 443}\n" \
	"    binaries:\n" \
	"      - path: /usr/bin/curl\n"

/* Lines 13-18. */
#define GH_CRED \
	"credentials:\n" \
	"  github:\n" \
	"    from_env: GITHUB_TOKEN\n" \
	"    sandbox_env: GITHUB_TOKEN\n" \
	"    header: \"Authorization: Bearer {}\"\n" \
	"    network_policies: [github_api]\n"

/* ---- the policy section --------------------------------------------------- */

static void
test_section_valid(void)
{
	struct policy p, q;
	struct policy_diags d;
	char h0[65], h1[65], h2[65], h3[65];
	char *c0, *c1, *c2, *c3;

	begin("credentials section: valid");
	if (!CHECK(load_ok(NET GH_CRED, &p), "github credential loads"))
		return;
	if (CHECK_INT(p.ncreds, 1)) {
		const struct credential *cr = &p.creds[0];
		CHECK_STR(cr->name, "github");
		CHECK_STR(cr->from_env, "GITHUB_TOKEN");
		CHECK(cr->from_file == NULL, "from_file unset");
		CHECK_STR(cr->sandbox_env, "GITHUB_TOKEN");
		CHECK_STR(cr->header_name, "Authorization");
		CHECK_STR(cr->header_template, "Bearer {}");
		CHECK(cr->network_policies.n == 1 && !strcmp(cr->network_policies.v[0], "github_api"),
		    "bound to github_api");
	}
	c1 = policy_canonical(&p);
	policy_hash(&p, h1);
	CHECK(strstr(c1, "\ncredentials:\n  \"github\":\n    from_env: \"GITHUB_TOKEN\"\n"
	    "    sandbox_env: \"GITHUB_TOKEN\"\n    header: \"Authorization: Bearer {}\"\n"
	    "    network_policies: [\"github_api\"]\n") != NULL,
	    "canonical form has the section under the top-level key credentials");
	if (CHECK(policy_load_buffer("canon", c1, strlen(c1), &q, &d) == 0,
	    "canonical form loads back")) {
		char *again = policy_canonical(&q);
		policy_hash(&q, h2);
		CHECK_STR(h2, h1);
		CHECK(strcmp(again, c1) == 0, "canonical form is a fixed point");
		free(again);
		policy_free(&q);
	} else {
		dump_diags(&d);
	}
	policy_diags_free(&d);
	policy_free(&p);

	/* Without the section: no credentials text, and a different hash. */
	c0 = canon_of(NET, h0);
	CHECK(c0 && !strstr(c0, "credentials"), "no credentials: no section in the canonical form");
	CHECK(*h0 && strcmp(h0, h1) != 0, "adding a credential changes the hash");
	/* Another variable name: another hash, and never anything but the name. */
	setenv("GITHUB_TOKEN", "ghp_not_in_the_canonical_form", 1);
	c2 = canon_of(NET "credentials:\n  github:\n    from_env: GH_PAT\n"
	    "    sandbox_env: GITHUB_TOKEN\n    header: \"Authorization: Bearer {}\"\n"
	    "    network_policies: [github_api]\n", h2);
	CHECK(*h2 && strcmp(h2, h1) != 0, "another from_env variable changes the hash");
	CHECK(c2 && !strstr(c2, "ghp_not_in_the_canonical_form"), "canonical form holds no secret");
	unsetenv("GITHUB_TOKEN");
	/* Written differently, same meaning: same hash (order, flow style, spacing, duplicates). */
	c3 = canon_of(NET "credentials: {github: {network_policies: [github_api, github_api], "
	    "header: \"Authorization:    Bearer {}  \", sandbox_env: GITHUB_TOKEN, "
	    "from_env: GITHUB_TOKEN}}\n", h3);
	CHECK(*h3 && strcmp(h3, h1) == 0, "same meaning written differently: same hash");
	free(c0);
	free(c1);
	free(c2);
	free(c3);

	/* Sorted by name, bound entries sorted, from_file normalised. */
	CHECK(load_ok(NET "credentials:\n"
	    "  zeta:\n    from_file: /run//secrets/z/\n    header: \"X-Key: {}\"\n"
	    "    network_policies: [other, github_api]\n"
	    "  alpha:\n    from_env: A_TOKEN\n    sandbox_env: A_TOKEN\n"
	    "    network_policies: [other]\n", &p), "two credentials load");
	if (CHECK_INT(p.ncreds, 2)) {
		CHECK_STR(p.creds[0].name, "alpha");
		CHECK_STR(p.creds[1].name, "zeta");
		CHECK_STR(p.creds[1].from_file, "/run/secrets/z");
		CHECK(p.creds[1].network_policies.n == 2 &&
		    !strcmp(p.creds[1].network_policies.v[0], "github_api") &&
		    !strcmp(p.creds[1].network_policies.v[1], "other"), "bound entries sorted");
		CHECK(p.creds[1].sandbox_env == NULL, "header only: no sandbox_env");
	}
	policy_free(&p);
	/* An empty or null section is no credentials. */
	CHECK(load_ok("version: 1\ncredentials: {}\n", &p) && p.ncreds == 0, "credentials: {}");
	policy_free(&p);
	CHECK(load_ok("version: 1\ncredentials:\n", &p) && p.ncreds == 0, "credentials: null");
	policy_free(&p);
}

static void
test_section_errors(void)
{
	begin("credentials section: errors");
	/* The credential's own key (line 14) for what is missing. */
	EXPECT_ERR(NET "credentials:\n  github:\n    sandbox_env: GITHUB_TOKEN\n"
	    "    network_policies: [github_api]\n", 14, 3, "needs a source: from_env or from_file");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    from_file: /run/secrets/gh\n    sandbox_env: GITHUB_TOKEN\n"
	    "    network_policies: [github_api]\n", 14, 3, "sets both from_env and from_file");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    network_policies: [github_api]\n", 14, 3, "needs sandbox_env or header");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: GITHUB_TOKEN\n", 14, 3, "needs network_policies");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: GITHUB_TOKEN\n    network_policies: []\n", 17, 23, "non-empty list");
	/* Names. */
	EXPECT_ERR(NET "credentials:\n  bad name:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: GITHUB_TOKEN\n    network_policies: [github_api]\n", 14, 3,
	    "credential 'bad name': policy names hold only");
	EXPECT_ERR(NET "credentials:\n  _provider_x:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: GITHUB_TOKEN\n    network_policies: [github_api]\n", 14, 3, "reserved");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: 1TOKEN\n"
	    "    sandbox_env: GITHUB_TOKEN\n    network_policies: [github_api]\n", 15, 15,
	    "from_env '1TOKEN'");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: MY-VAR\n    network_policies: [github_api]\n", 16, 18,
	    "sandbox_env 'MY-VAR'");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_file: run/secrets/gh\n"
	    "    sandbox_env: GITHUB_TOKEN\n    network_policies: [github_api]\n", 15, 16,
	    "from_file 'run/secrets/gh'");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_file: /run/../etc/gh\n"
	    "    sandbox_env: GITHUB_TOKEN\n    network_policies: [github_api]\n", 15, 16, "'..'");
	/* Header templates. */
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    header: \"Authorization: Bearer\"\n    network_policies: [github_api]\n", 16, 13,
	    "needs '{}'");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    header: \"X-Key: {}{}\"\n    network_policies: [github_api]\n", 16, 13,
	    "exactly once");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    header: \"X-Key: {}\\r\\nX-Evil: 1\"\n    network_policies: [github_api]\n", 16, 13,
	    "control bytes");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    header: \"X-Key: a\\r{}\"\n    network_policies: [github_api]\n", 16, 13,
	    "no CR, LF");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    header: \"Bearer {}\"\n    network_policies: [github_api]\n", 16, 13,
	    "'Name: template'");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    header: \"X Key: {}\"\n    network_policies: [github_api]\n", 16, 13,
	    "no spaces");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    header: \"Host: {}\"\n    network_policies: [github_api]\n", 16, 13,
	    "proxy manages it");
	/* network_policies must exist and be readable. */
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: GITHUB_TOKEN\n    network_policies: [github_api, gitlab]\n", 17, 36,
	    "bound to 'gitlab', which is not a network_policies entry");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  raw:\n    endpoints:\n"
	    "      - {host: db.example.com, port: 5432, protocol: tcp}\n"
	    "    binaries: [{path: /usr/bin/psql}]\n"
	    "credentials:\n  db:\n    from_env: DB_TOKEN\n    sandbox_env: DB_TOKEN\n"
	    "    network_policies: [raw]\n", 11, 24, "protocol: tcp");
	EXPECT_ERR("version: 1\nnetwork_policies:\n  pinned:\n    endpoints:\n"
	    "      - {host: pinned.example.com, port: 443, tls: skip}\n"
	    "    binaries: [{path: /usr/bin/curl}]\n"
	    "credentials:\n  p:\n    from_env: P_TOKEN\n    header: \"X-Key: {}\"\n"
	    "    network_policies: [pinned]\n", 11, 24, "tls: skip");
	/* sandbox_env: unique, not warden's own, not process.env's. */
	EXPECT_ERR(NET "credentials:\n  a:\n    from_env: A_TOKEN\n    sandbox_env: TOKEN\n"
	    "    network_policies: [github_api]\n  b:\n    from_env: B_TOKEN\n"
	    "    sandbox_env: TOKEN\n    network_policies: [other]\n", 20, 18,
	    "sandbox_env TOKEN is used by credentials 'a' and 'b' (first at line 16)");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: HTTPS_PROXY\n    network_policies: [github_api]\n", 16, 18,
	    "set by warden");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: https_proxy\n    network_policies: [github_api]\n", 16, 18,
	    "set by warden");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: SSL_CERT_FILE\n    network_policies: [github_api]\n", 16, 18,
	    "set by warden");
	EXPECT_ERR(NET "process:\n  env:\n    set: {GITHUB_TOKEN: x}\n" GH_CRED, 19, 18,
	    "also set by process.env");
	EXPECT_ERR(NET "process:\n  env:\n    pass: [PAT]\n"
	    "credentials:\n  github:\n    from_env: GH\n    sandbox_env: PAT\n"
	    "    network_policies: [github_api]\n", 19, 18, "also passed by process.env");
	/* The secret's own variable passed into the sandbox: the agent would have it. */
	EXPECT_ERR(NET "process:\n  env:\n    pass: [GITHUB_TOKEN]\n"
	    "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n    sandbox_env: GH_TOKEN\n"
	    "    network_policies: [github_api]\n", 18, 15, "process.env.pass hands to the agent");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: LC_GITHUB\n"
	    "    sandbox_env: GITHUB_TOKEN\n    network_policies: [github_api]\n", 15, 15,
	    "every sandbox inherits");
	/* Two templates for one header on one entry. */
	EXPECT_ERR(NET "credentials:\n  a:\n    from_env: A_TOKEN\n    header: \"X-Key: {}\"\n"
	    "    network_policies: [github_api]\n  b:\n    from_env: B_TOKEN\n"
	    "    header: \"x-key: v2 {}\"\n    network_policies: [other, github_api]\n", 20, 13,
	    "both set header x-key on requests under 'github_api'");
	/* Unknown keys and wrong shapes. */
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: GITHUB_TOKEN\n    token: abc\n    network_policies: [github_api]\n",
	    17, 5, "unknown key 'token' in credential");
	EXPECT_ERR(NET "credentials: [github]\n", 13, 14, "credentials must be a mapping");
	EXPECT_ERR(NET "credentials:\n  github: GITHUB_TOKEN\n", 14, 11,
	    "credential must be a mapping");
	EXPECT_ERR(NET "credentials:\n  github:\n    from_env: GITHUB_TOKEN\n"
	    "    sandbox_env: GITHUB_TOKEN\n    network_policies: github_api\n", 17, 23,
	    "non-empty list");
	EXPECT_ERR(NET GH_CRED "  github:\n    from_env: X\n    sandbox_env: X\n"
	    "    network_policies: [other]\n", 19, 3, "duplicate credential 'github' (first at line 14)");
}

/* At most POLICY_MAX_CREDENTIALS: each may hold 8 KiB of locked memory. */
static void
test_section_limit(void)
{
	struct sbuf y;
	struct policy p;

	begin("credentials section: limit");
	for (int n = POLICY_MAX_CREDENTIALS; n <= POLICY_MAX_CREDENTIALS + 1; n++) {
		sbuf_init(&y, 1 << 20);
		sbuf_adds(&y, NET "credentials:\n");
		for (int i = 0; i < n; i++)
			sbuf_addf(&y, "  c%d: {from_env: T%d, sandbox_env: S%d, network_policies: [other]}\n",
			    i, i, i);
		if (n == POLICY_MAX_CREDENTIALS) {
			CHECK(load_ok(y.p, &p) && p.ncreds == (size_t)n, "%d credentials load", n);
			policy_free(&p);
		} else {
			expect_err_at(y.p, 14, 3, "credentials lists 257 credentials", __LINE__);
		}
		sbuf_free(&y);
	}
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/*
 * Mutations of the valid fixture: each either loads, and its canonical
 * form loads back to the same hash, or is rejected with a diagnostic.
 * (ASan and LeakSanitizer watch the error paths.)
 */
static void
test_section_fuzz(void)
{
	static const char alphabet[] = "credentials:{}[],'\"-_ \n#/\\:";
	FILE *f = fopen(FIXTURES "valid-credentials.yaml", "rb");
	char src[8192], *buf;
	size_t len;
	int bad = 0, loaded = 0;

	begin("credentials section: mutations");
	if (!CHECK(f != NULL, "read valid-credentials.yaml"))
		return;
	len = fread(src, 1, sizeof(src), f);
	fclose(f);
	buf = malloc(len + 8);
	for (int i = 0; i < 3000; i++) {
		size_t n = len, at = rnd() % len;
		struct policy p, q;
		struct policy_diags d, d2;

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
		if (policy_load_buffer("m", buf, n, &p, &d) == 0) {
			char *c = policy_canonical(&p), h1[65], h2[65];

			loaded++;
			policy_hash(&p, h1);
			if (policy_load_buffer("canon", c, strlen(c), &q, &d2) != 0) {
				if (bad++ < 3)
					printf("# canonical form of mutation %d does not load:\n%s", i, c);
			} else {
				policy_hash(&q, h2);
				if (strcmp(h1, h2) != 0 && bad++ < 3)
					printf("# mutation %d: hash changes through the canonical form\n", i);
				policy_free(&q);
			}
			policy_diags_free(&d2);
			free(c);
			policy_free(&p);
		} else if (d.n == 0 && bad++ < 3) {
			printf("# mutation %d rejected without a diagnostic\n", i);
		}
		policy_diags_free(&d);
	}
	CHECK(bad == 0, "3000 mutations: round-trip or a diagnostic (%d bad, %d loaded)", bad, loaded);
	free(buf);
}

/* The fixture files: the invalid one reports every problem, the valid one round-trips. */
static void
test_section_files(void)
{
	struct policy p, q;
	struct policy_diags d;
	static const struct {
		int line, col;
		const char *sub;
	} want[] = {
		{ 13, 3, "'nosource' needs a source" },
		{ 17, 3, "'twosources' sets both from_env and from_file" },
		{ 24, 13, "needs '{}'" }, { 25, 36, "'nowhere', which is not a network_policies entry" },
		{ 28, 18, "set by warden" }, { 31, 5, "unknown key 'secret' in credential" },
		{ 36, 15, "reads NPM_TOKEN, which process.env.pass hands to the agent" },
		{ 37, 18, "sandbox_env NPM_TOKEN of credential 'passed' is also passed" },
	};

	begin("credentials fixtures");
	if (CHECK(policy_load_file(FIXTURES "invalid-credentials.yaml", &p, &d) == -1,
	    "invalid-credentials.yaml is rejected")) {
		if (!CHECK(d.n == sizeof(want) / sizeof(*want), "%zu diagnostics (got %zu)",
		    sizeof(want) / sizeof(*want), d.n))
			dump_diags(&d);
		for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
			if (!CHECK(find_diag(&d, want[i].line, want[i].col, want[i].sub) >= 0,
			    "%d:%d %s", want[i].line, want[i].col, want[i].sub))
				dump_diags(&d);
	} else {
		policy_free(&p);
	}
	policy_diags_free(&d);

	if (CHECK(policy_load_file(FIXTURES "valid-credentials.yaml", &p, &d) == 0,
	    "valid-credentials.yaml loads")) {
		char *c = policy_canonical(&p), h1[65], h2[65];
		struct policy_diags d2;

		CHECK_INT(p.ncreds, 3);
		policy_hash(&p, h1);
		if (CHECK(policy_load_buffer("canon", c, strlen(c), &q, &d2) == 0, "canonical loads")) {
			policy_hash(&q, h2);
			CHECK_STR(h2, h1);
			policy_free(&q);
		}
		policy_diags_free(&d2);
		free(c);
		policy_free(&p);
	} else {
		dump_diags(&d);
	}
	policy_diags_free(&d);
}

/* ---- loading secrets ------------------------------------------------------ */

static char tmpdir[64];

static char *
write_secret(const char *name, const char *content, size_t n, mode_t mode)
{
	char *path;
	int fd;

	if (asprintf(&path, "%s/%s", tmpdir, name) < 0)
		abort();
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, content, n) != (ssize_t)n)
		abort();
	close(fd);
	chmod(path, mode);
	return path;
}

/* Load a store for one credential; NULL (and err) on failure. */
static struct credstore *
store_for(const char *source_line, struct werr *err)
{
	char *yaml;
	struct policy p;
	struct credstore *cs = NULL;

	if (asprintf(&yaml, NET "credentials:\n  c1:\n    %s\n    sandbox_env: C1\n"
	    "    network_policies: [github_api]\n", source_line) < 0)
		abort();
	werr_clear(err);
	if (load_ok(yaml, &p)) {
		cs = credstore_load(&p, err);
		policy_free(&p);
	} else {
		snprintf(err->msg, sizeof(err->msg), "policy did not load");
	}
	free(yaml);
	return cs;
}

/* The secret a store holds, seen the only way there is: through a rewritten head. */
static bool
store_injects(struct credstore *cs, const char *secret)
{
	struct sbuf h;
	struct cred_result res;
	bool ok;

	sbuf_init(&h, 65536);
	sbuf_adds(&h, "GET / HTTP/1.1\r\nX-T: ");
	sbuf_adds(&h, credstore_placeholder(cs, 0));
	sbuf_adds(&h, "\r\n\r\n");
	ok = credstore_apply(cs, "github_api", &h, &res) == 0 && res.has_secret &&
	    strstr(h.p, "X-T: ") && !strncmp(strstr(h.p, "X-T: ") + 5, secret, strlen(secret)) &&
	    !strncmp(strstr(h.p, "X-T: ") + 5 + strlen(secret), "\r\n", 2);
	sbuf_free(&h);
	return ok;
}

static bool
placeholder_ok(const char *ph, const char *name)
{
	size_t pl = strlen(CRED_PLACEHOLDER_PREFIX), nl = strlen(name);

	if (!ph || strlen(ph) != pl + nl + 1 + 32 || strncmp(ph, CRED_PLACEHOLDER_PREFIX, pl) ||
	    strncmp(ph + pl, name, nl) || ph[pl + nl] != '-')
		return false;
	for (const char *c = ph + pl + nl + 1; *c; c++)
		if (!strchr("0123456789abcdef", *c))
			return false;
	return true;
}

static void
test_load_env(void)
{
	struct werr err;
	struct credstore *cs, *cs2;
	struct policy p;
	char *big;

	begin("credstore_load: from_env");
	setenv("WT_SECRET_ENV", "env-s3cret-value", 1);
	cs = store_for("from_env: WT_SECRET_ENV", &err);
	if (CHECK(cs != NULL, "loads (%s)", cs ? "" : err.msg)) {
		CHECK_INT(credstore_count(cs), 1);
		CHECK_STR(credstore_name(cs, 0), "c1");
		CHECK_STR(credstore_env_name(cs, 0), "C1");
		CHECK(placeholder_ok(credstore_placeholder(cs, 0), "c1"),
		    "placeholder is warden-placeholder-c1-<32 hex> (%s)", credstore_placeholder(cs, 0));
		CHECK(credstore_name(cs, 1) == NULL && credstore_placeholder(cs, 1) == NULL,
		    "out of range: NULL");
		CHECK(store_injects(cs, "env-s3cret-value"), "the secret is the variable's value");
		cs2 = store_for("from_env: WT_SECRET_ENV", &err);
		CHECK(cs2 && strcmp(credstore_placeholder(cs, 0), credstore_placeholder(cs2, 0)) != 0,
		    "each load draws a new placeholder");
		credstore_free(cs2);
		credstore_free(cs);
	}
	unsetenv("WT_SECRET_ENV");
	cs = store_for("from_env: WT_SECRET_ENV", &err);
	CHECK(cs == NULL && strstr(err.msg, "WT_SECRET_ENV") && strstr(err.msg, "'c1'") &&
	    strstr(err.msg, "not set"), "missing variable: error names it (%s)", err.msg);
	credstore_free(cs);
	setenv("WT_SECRET_ENV", "", 1);
	cs = store_for("from_env: WT_SECRET_ENV", &err);
	CHECK(cs == NULL && strstr(err.msg, "WT_SECRET_ENV") && strstr(err.msg, "empty"),
	    "empty variable refused (%s)", err.msg);
	credstore_free(cs);
	setenv("WT_SECRET_ENV", "bad\x01secret-xyz", 1);
	cs = store_for("from_env: WT_SECRET_ENV", &err);
	CHECK(cs == NULL && strstr(err.msg, "not printable ASCII") && !strstr(err.msg, "secret-xyz"),
	    "control byte refused, secret not quoted (%s)", err.msg);
	credstore_free(cs);
	setenv("WT_SECRET_ENV", "line1-secret\nline2", 1);
	cs = store_for("from_env: WT_SECRET_ENV", &err);
	CHECK(cs == NULL && !strstr(err.msg, "line1-secret"), "newline refused (%s)", err.msg);
	credstore_free(cs);
	setenv("WT_SECRET_ENV", " padded-secret", 1);
	cs = store_for("from_env: WT_SECRET_ENV", &err);
	CHECK(cs == NULL && strstr(err.msg, "space") && !strstr(err.msg, "padded-secret"),
	    "leading space refused (%s)", err.msg);
	credstore_free(cs);
	setenv("WT_SECRET_ENV", "caf\xc3\xa9-secret", 1);
	cs = store_for("from_env: WT_SECRET_ENV", &err);
	CHECK(cs == NULL && !strstr(err.msg, "-secret"), "non-ASCII refused (%s)", err.msg);
	credstore_free(cs);
	big = malloc(CRED_SECRET_MAX + 2);
	memset(big, 'k', CRED_SECRET_MAX + 1);
	big[CRED_SECRET_MAX] = '\0';
	setenv("WT_SECRET_ENV", big, 1);
	cs = store_for("from_env: WT_SECRET_ENV", &err);
	CHECK(cs != NULL, "8192 bytes: loads");
	if (cs)
		CHECK(store_injects(cs, big), "8192-byte secret goes in whole");
	credstore_free(cs);
	big[CRED_SECRET_MAX] = 'k';
	big[CRED_SECRET_MAX + 1] = '\0';
	setenv("WT_SECRET_ENV", big, 1);
	cs = store_for("from_env: WT_SECRET_ENV", &err);
	CHECK(cs == NULL && strstr(err.msg, "8192"), "8193 bytes refused (%s)", err.msg);
	credstore_free(cs);
	free(big);
	unsetenv("WT_SECRET_ENV");

	/* No credentials: an empty store, not NULL. */
	if (load_ok(NET, &p)) {
		struct sbuf h;
		struct cred_result res;

		cs = credstore_load(&p, &err);
		CHECK(cs != NULL && credstore_count(cs) == 0, "no credentials: empty store");
		CHECK(!credstore_binds(cs, "github_api"), "empty store binds nothing");
		sbuf_init(&h, 4096);
		sbuf_adds(&h, "GET / HTTP/1.1\r\nX: " CRED_PLACEHOLDER_PREFIX "c1-0\r\n\r\n");
		CHECK(credstore_apply(cs, "github_api", &h, &res) == 0 && !res.has_secret &&
		    !*res.used, "empty store: apply changes nothing");
		CHECK(credstore_find_placeholder(cs, h.p, h.len) == -1, "empty store: no placeholder");
		sbuf_free(&h);
		credstore_free(cs);
		policy_free(&p);
	}
	credstore_free(NULL);
	CHECK(credstore_count(NULL) == 0, "NULL store: count 0, free is a no-op");
}

static void
test_load_file(void)
{
	struct werr err;
	struct credstore *cs;
	char *path, line[512], *big;

	begin("credstore_load: from_file");
	path = write_secret("ok", "file-s3cret\n", 12, 0600);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	if (CHECK(cs != NULL, "0600 file loads (%s)", cs ? "" : err.msg))
		CHECK(store_injects(cs, "file-s3cret"), "trailing newline stripped");
	credstore_free(cs);
	free(path);

	path = write_secret("crlf", "crlf-s3cret\r\n", 13, 0400);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	if (CHECK(cs != NULL, "0400 file with CRLF loads (%s)", cs ? "" : err.msg))
		CHECK(store_injects(cs, "crlf-s3cret"), "trailing CRLF stripped");
	credstore_free(cs);
	free(path);

	path = write_secret("nonl", "no-newline-s3cret", 17, 0600);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	CHECK(cs && store_injects(cs, "no-newline-s3cret"), "file without newline loads whole");
	credstore_free(cs);
	free(path);

	path = write_secret("twonl", "two-lines-s3cret\n\n", 18, 0600);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	CHECK(cs == NULL && !strstr(err.msg, "two-lines-s3cret"),
	    "only one newline is stripped (%s)", err.msg);
	credstore_free(cs);
	free(path);

	path = write_secret("open", "world-readable-s3cret\n", 22, 0644);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	CHECK(cs == NULL && strstr(err.msg, "0644") && strstr(err.msg, path) &&
	    !strstr(err.msg, "world-readable-s3cret"), "0644 refused (%s)", err.msg);
	credstore_free(cs);
	free(path);

	path = write_secret("grp", "group-s3cret\n", 13, 0640);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	CHECK(cs == NULL && strstr(err.msg, "0640"), "0640 refused (%s)", err.msg);
	credstore_free(cs);
	free(path);

	path = write_secret("target", "link-target-s3cret\n", 19, 0600);
	{
		char *link;
		if (asprintf(&link, "%s/link", tmpdir) < 0)
			abort();
		unlink(link);
		if (symlink(path, link) != 0)
			abort();
		snprintf(line, sizeof(line), "from_file: %s", link);
		cs = store_for(line, &err);
		CHECK(cs == NULL && strstr(err.msg, "symbolic link") &&
		    !strstr(err.msg, "link-target-s3cret"), "symlink refused (%s)", err.msg);
		credstore_free(cs);
		free(link);
	}
	free(path);

	snprintf(line, sizeof(line), "from_file: %s", tmpdir);
	cs = store_for(line, &err);
	CHECK(cs == NULL && strstr(err.msg, "not a regular file"), "directory refused (%s)", err.msg);
	credstore_free(cs);

	snprintf(line, sizeof(line), "from_file: %s/absent", tmpdir);
	cs = store_for(line, &err);
	CHECK(cs == NULL && strstr(err.msg, "absent") && strstr(err.msg, "No such file"),
	    "missing file refused (%s)", err.msg);
	credstore_free(cs);

	path = write_secret("ctl", "tab\tinside-s3cret\n", 18, 0600);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	CHECK(cs == NULL && strstr(err.msg, "not printable ASCII") && !strstr(err.msg, "inside-s3cret"),
	    "non-printable secret refused, not quoted (%s)", err.msg);
	credstore_free(cs);
	free(path);

	path = write_secret("empty", "\n", 1, 0600);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	CHECK(cs == NULL && strstr(err.msg, "empty"), "empty secret refused (%s)", err.msg);
	credstore_free(cs);
	free(path);

	big = malloc(70000);
	memset(big, 'a', 70000);
	path = write_secret("long", big, CRED_SECRET_MAX + 1, 0600);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	CHECK(cs == NULL && strstr(err.msg, "8192") && !strstr(err.msg, "aaaaaaaa"),
	    "8193-byte secret refused (%s)", err.msg);
	credstore_free(cs);
	free(path);
	path = write_secret("huge", big, 70000, 0600);
	snprintf(line, sizeof(line), "from_file: %s", path);
	cs = store_for(line, &err);
	CHECK(cs == NULL && strstr(err.msg, "64 KiB"), "70000-byte file refused (%s)", err.msg);
	credstore_free(cs);
	free(path);
	free(big);

	if (geteuid() == 0) {
		path = write_secret("owner", "other-owner-s3cret\n", 19, 0600);
		if (chown(path, 12345, 12345) == 0) {
			snprintf(line, sizeof(line), "from_file: %s", path);
			cs = store_for(line, &err);
			CHECK(cs == NULL && strstr(err.msg, "owned by uid 12345") &&
			    !strstr(err.msg, "other-owner-s3cret"), "another user's file refused (%s)",
			    err.msg);
			credstore_free(cs);
		}
		free(path);
	} else {
		printf("# skip: ownership check needs root to create another user's file\n");
	}
}

/* ---- rewriting heads ------------------------------------------------------ */

#define S_GH "ghp_SecretGitHub123"
#define S_GH2 "second-secret-456"
#define S_HDR "hdr-secret-789"
#define S_OTHER "other-secret-000"

static struct credstore *CS;
static const char *PH_GH, *PH_GH2, *PH_HDR, *PH_OTHER;

static void
setup_store(void)
{
	struct policy p;
	struct werr err;

	setenv("WT_GH", S_GH, 1);
	setenv("WT_GH2", S_GH2, 1);
	setenv("WT_HDR", S_HDR, 1);
	setenv("WT_OTHER", S_OTHER, 1);
	if (!load_ok(NET "credentials:\n"
	    "  other:\n    from_env: WT_OTHER\n    sandbox_env: OTHER_TOKEN\n"
	    "    network_policies: [other]\n"
	    "  gh:\n    from_env: WT_GH\n    sandbox_env: GH_TOKEN\n"
	    "    network_policies: [github_api]\n"
	    "  gh2:\n    from_env: WT_GH2\n    sandbox_env: GH2_TOKEN\n"
	    "    network_policies: [github_api]\n"
	    "  hdr:\n    from_env: WT_HDR\n    header: \"X-Api-Key: key={};v=1\"\n"
	    "    network_policies: [github_api]\n", &p))
		abort();
	CS = credstore_load(&p, &err);
	policy_free(&p);
	if (!CS) {
		printf("# %s\n", err.msg);
		abort();
	}
	/* Sorted by name: gh, gh2, hdr, other. */
	PH_GH = credstore_placeholder(CS, 0);
	PH_GH2 = credstore_placeholder(CS, 1);
	PH_HDR = credstore_placeholder(CS, 2);
	PH_OTHER = credstore_placeholder(CS, 3);
}

/* Build a head from a template where %1..%4 stand for gh, gh2, hdr, other's placeholders. */
static void
head_from(struct sbuf *h, const char *tmpl)
{
	const char *ph[] = { PH_GH, PH_GH2, PH_HDR, PH_OTHER };

	sbuf_init(h, HTTP_HEAD_TEST_MAX);
	for (const char *c = tmpl; *c; c++) {
		if (c[0] == '%' && c[1] >= '1' && c[1] <= '4') {
			sbuf_adds(h, ph[c[1] - '1']);
			c++;
		} else {
			sbuf_add(h, c, 1);
		}
	}
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *s = hay; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

#define HDR_LINE "X-Api-Key: key=" S_HDR ";v=1\r\n"

static void
test_apply_substitute(void)
{
	struct sbuf h;
	struct cred_result res;

	begin("credstore_apply: substitution");
	CHECK_STR(credstore_name(CS, 0), "gh");
	CHECK_STR(credstore_name(CS, 3), "other");
	CHECK(credstore_binds(CS, "github_api") && credstore_binds(CS, "other") &&
	    !credstore_binds(CS, "nope") && !credstore_binds(CS, NULL), "credstore_binds");

	head_from(&h, "GET /user HTTP/1.1\r\nHost: api.github.com\r\nAuthorization: token %1\r\n"
	    "Connection: close\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), 0);
	CHECK_HEAD(h.p, "GET /user HTTP/1.1\r\nHost: api.github.com\r\nAuthorization: token " S_GH
	    "\r\nConnection: close\r\n" HDR_LINE "\r\n");
	CHECK_INT(h.len, strlen(h.p));
	CHECK(res.has_secret, "has_secret");
	CHECK_STR(res.used, "gh,hdr");
	CHECK_STR(res.mismatch, "");
	sbuf_free(&h);

	head_from(&h, "GET /repos?access_token=%1&x=%1 HTTP/1.1\r\nHost: api.github.com\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), 0);
	CHECK_HEAD(h.p, "GET /repos?access_token=" S_GH "&x=" S_GH " HTTP/1.1\r\n"
	    "Host: api.github.com\r\n" HDR_LINE "\r\n");
	sbuf_free(&h);

	/* Two credentials' placeholders in one head. */
	head_from(&h, "POST /x HTTP/1.1\r\nA: %1\r\nB: x%2y\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), 0);
	CHECK_HEAD(h.p, "POST /x HTTP/1.1\r\nA: " S_GH "\r\nB: x" S_GH2 "y\r\n" HDR_LINE "\r\n");
	CHECK_STR(res.used, "gh,gh2,hdr");
	sbuf_free(&h);

	/* Under the other entry only "other" is bound, and it has no header. */
	head_from(&h, "GET / HTTP/1.1\r\nAuthorization: Bearer %4\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "other", &h, &res), 0);
	CHECK_HEAD(h.p, "GET / HTTP/1.1\r\nAuthorization: Bearer " S_OTHER "\r\n\r\n");
	CHECK_STR(res.used, "other");
	CHECK(res.has_secret, "has_secret");
	sbuf_free(&h);

	/* Nothing to do: the caller's buffer is kept as it was. */
	head_from(&h, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
	{
		char *before = h.p;
		CHECK_INT(credstore_apply(CS, "other", &h, &res), 0);
		CHECK(h.p == before && !strcmp(h.p, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
		    "unchanged head, same buffer");
		CHECK(!res.has_secret && !*res.used, "no secret, used empty");
	}
	sbuf_free(&h);
	head_from(&h, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "unbound_entry", &h, &res), 0);
	CHECK(!res.has_secret && !*res.used, "entry with no credentials: nothing");
	sbuf_free(&h);
}

static void
test_apply_mismatch(void)
{
	struct sbuf h;
	struct cred_result res;
	char *copy, *before;

	begin("credstore_apply: mismatch");
	head_from(&h, "GET /?t=%1 HTTP/1.1\r\nAuthorization: Bearer %4\r\n\r\n");
	copy = strdup(h.p);
	before = h.p;
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), -1);
	CHECK_STR(res.mismatch, "other");
	CHECK(h.p == before && h.len == strlen(copy) && !strcmp(h.p, copy), "head untouched");
	CHECK(!res.has_secret && !*res.used, "nothing reported as used");
	free(copy);
	sbuf_free(&h);

	head_from(&h, "GET /?t=%1 HTTP/1.1\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "other", &h, &res), -1);
	CHECK_STR(res.mismatch, "gh");
	sbuf_free(&h);

	/* Under an entry with no credentials every placeholder is out of place. */
	head_from(&h, "GET / HTTP/1.1\r\nX: %3\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "nope", &h, &res), -1);
	CHECK_STR(res.mismatch, "hdr");
	sbuf_free(&h);
	head_from(&h, "GET / HTTP/1.1\r\nX: %3\r\n\r\n");
	CHECK_INT(credstore_apply(CS, NULL, &h, &res), -1);
	sbuf_free(&h);

	/* In a line the injection would drop: refused all the same. */
	head_from(&h, "GET / HTTP/1.1\r\nx-api-key: %4\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), -1);
	CHECK_STR(res.mismatch, "other");
	sbuf_free(&h);

	/* Not a head the proxy builds: refused, with no credential named. */
	head_from(&h, "GET / HTTP/1.1\r\nX: %1\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), -1);
	CHECK_STR(res.mismatch, "");
	sbuf_free(&h);
	head_from(&h, "GET / HTTP/1.1\r\nno colon here\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), -1);
	sbuf_free(&h);
	head_from(&h, "GET / HTTP/1.1\r\n\r\nX: %1\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), -1);
	sbuf_free(&h);

	/* The rewritten head would not fit the buffer's maximum. */
	sbuf_init(&h, 24);
	sbuf_adds(&h, "GET / HTTP/1.1\r\nA: b\r\n\r\n");
	CHECK_INT(h.len, 24);
	copy = strdup(h.p);
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), -1);
	CHECK(!strcmp(h.p, copy) && !*res.mismatch, "over the maximum: refused, head untouched");
	free(copy);
	sbuf_free(&h);
}

static void
test_apply_headers(void)
{
	struct sbuf h;
	struct cred_result res;

	begin("credstore_apply: header injection");
	head_from(&h, "GET / HTTP/1.1\r\nHost: api.github.com\r\nX-Api-Key: agent-value\r\n"
	    "Accept: */*\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), 0);
	CHECK_HEAD(h.p, "GET / HTTP/1.1\r\nHost: api.github.com\r\nAccept: */*\r\n" HDR_LINE "\r\n");
	CHECK_STR(res.used, "hdr");
	sbuf_free(&h);

	head_from(&h, "GET / HTTP/1.1\r\nx-api-key: a\r\nAccept: */*\r\nX-API-KEY: %3\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), 0);
	CHECK_HEAD(h.p, "GET / HTTP/1.1\r\nAccept: */*\r\n" HDR_LINE "\r\n");
	CHECK_INT(count(h.p, S_HDR), 1);
	CHECK_STR(res.used, "hdr");
	sbuf_free(&h);

	/* A header with a longer name that starts with the same letters stays. */
	head_from(&h, "GET / HTTP/1.1\r\nX-Api-Key-Id: 7\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), 0);
	CHECK_HEAD(h.p, "GET / HTTP/1.1\r\nX-Api-Key-Id: 7\r\n" HDR_LINE "\r\n");
	sbuf_free(&h);

	/* Not bound to other: an agent's X-Api-Key goes through as sent. */
	head_from(&h, "GET / HTTP/1.1\r\nX-Api-Key: agent-value\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "other", &h, &res), 0);
	CHECK_HEAD(h.p, "GET / HTTP/1.1\r\nX-Api-Key: agent-value\r\n\r\n");
	CHECK(!res.has_secret, "no secret");
	sbuf_free(&h);
}

static char *
b64(const char *s)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), o = 0;
	char *out = malloc(n / 3 * 4 + 8);

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[o++] = al[(v >> 18) & 63];
		out[o++] = al[(v >> 12) & 63];
		out[o++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? al[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* Decode with OpenSSL-independent plain code, for comparing what went out. */
static char *
unb64(const char *s, size_t n)
{
	char *out = calloc(1, n + 1);
	unsigned acc = 0, bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n && s[i] != '='; i++) {
		const char *al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *p = strchr(al, s[i]);
		if (!p || !s[i]) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)(p - al);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return out;
}

static void
test_apply_basic(void)
{
	struct sbuf h;
	struct cred_result res;
	char *cred, *enc, *tmpl, *want;

	begin("credstore_apply: Basic auth");
	/* git sends the token as the password of a Basic credential. */
	if (asprintf(&cred, "x-access-token:%s", PH_GH) < 0)
		abort();
	enc = b64(cred);
	if (asprintf(&tmpl, "GET /r.git/info/refs HTTP/1.1\r\nauthorization: Basic %s\r\n\r\n",
	    enc) < 0)
		abort();
	head_from(&h, tmpl);
	CHECK_INT(credstore_apply(CS, "other_than_any", &h, &res), -1);
	CHECK_STR(res.mismatch, "gh");
	CHECK_HEAD(h.p, tmpl);
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), 0);
	{
		const char *v = strstr(h.p, "authorization: Basic ");
		const char *e = v ? strstr(v, "\r\n") : NULL;
		char *dec = v && e ? unb64(v + 21, (size_t)(e - v - 21)) : NULL;

		CHECK_STR(dec, "x-access-token:" S_GH);
		free(dec);
	}
	CHECK(!strstr(h.p, enc), "the placeholder's encoding is gone");
	CHECK_STR(res.used, "gh,hdr");
	sbuf_free(&h);
	free(cred);
	free(enc);
	free(tmpl);

	/* Both halves, unpadded input, odd spacing: still recognised. */
	if (asprintf(&cred, "%s:%s", PH_GH2, PH_GH) < 0)
		abort();
	enc = b64(cred);
	while (enc[strlen(enc) - 1] == '=')
		enc[strlen(enc) - 1] = '\0';
	if (asprintf(&tmpl, "GET / HTTP/1.1\r\nAuthorization:  BASIC   %s \r\n\r\n", enc) < 0)
		abort();
	head_from(&h, tmpl);
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), 0);
	{
		const char *v = strstr(h.p, "Authorization:  BASIC   ");
		const char *e = v ? strstr(v, " \r\n") : NULL;
		char *dec = v && e ? unb64(v + 24, (size_t)(e - v - 24)) : NULL;

		CHECK_STR(dec, S_GH2 ":" S_GH);
		free(dec);
	}
	sbuf_free(&h);
	free(cred);
	free(enc);
	free(tmpl);

	/* An unbound credential inside Basic is refused too. */
	if (asprintf(&cred, "u:%s", PH_OTHER) < 0)
		abort();
	enc = b64(cred);
	if (asprintf(&tmpl, "GET / HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n", enc) < 0)
		abort();
	head_from(&h, tmpl);
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), -1);
	CHECK_STR(res.mismatch, "other");
	CHECK_HEAD(h.p, tmpl);
	sbuf_free(&h);
	free(cred);
	free(enc);
	free(tmpl);

	/* Basic without a placeholder, and not base64 at all: left as sent. */
	want = b64("user:password");
	if (asprintf(&tmpl, "GET / HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n", want) < 0)
		abort();
	head_from(&h, tmpl);
	CHECK_INT(credstore_apply(CS, "other", &h, &res), 0);
	CHECK_HEAD(h.p, tmpl);
	sbuf_free(&h);
	free(tmpl);
	free(want);
	head_from(&h, "GET / HTTP/1.1\r\nAuthorization: Basic not*base64!\r\n\r\n");
	CHECK_INT(credstore_apply(CS, "other", &h, &res), 0);
	CHECK_HEAD(h.p, "GET / HTTP/1.1\r\nAuthorization: Basic not*base64!\r\n\r\n");
	sbuf_free(&h);
}

static void
test_apply_lookalikes(void)
{
	struct sbuf h;
	struct cred_result res;
	char *tmpl, *fake;

	begin("credstore_apply: look-alikes");
	/* The right name with other random digits, a truncated one, an unknown name. */
	fake = strdup(PH_GH);
	fake[strlen(fake) - 1] = fake[strlen(fake) - 1] == '0' ? '1' : '0';
	if (asprintf(&tmpl, "GET /?a=%s HTTP/1.1\r\nX: %.*s\r\nY: warden-placeholder-nosuch-"
	    "0123456789abcdef0123456789abcdef\r\nZ: warden-placeholder-\r\n\r\n", fake,
	    (int)strlen(PH_GH) - 1, PH_GH) < 0)
		abort();
	head_from(&h, tmpl);
	CHECK_INT(credstore_apply(CS, "other", &h, &res), 0);
	CHECK_HEAD(h.p, tmpl);
	CHECK(!res.has_secret && !*res.used, "nothing used");
	CHECK_INT(credstore_find_placeholder(CS, h.p, h.len), -1);
	sbuf_free(&h);
	/* A look-alike directly followed by a real placeholder: the real one is found. */
	free(tmpl);
	if (asprintf(&tmpl, "GET / HTTP/1.1\r\nX: warden-placeholder-%%1\r\n\r\n") < 0)
		abort();
	head_from(&h, tmpl);
	CHECK_INT(credstore_apply(CS, "github_api", &h, &res), 0);
	CHECK_HEAD(h.p, "GET / HTTP/1.1\r\nX: warden-placeholder-" S_GH "\r\n" HDR_LINE "\r\n");
	sbuf_free(&h);
	free(tmpl);
	free(fake);
}

static void
test_apply_request_target(void)
{
	struct werr err;
	struct credstore *cs;
	struct sbuf h;
	struct cred_result res;

	begin("credstore_apply: secrets in the request line");
	setenv("WT_SPACEY", "a b\"c#d<e>f\\g^h`i{j|k}l%m", 1);
	cs = store_for("from_env: WT_SPACEY", &err);
	if (!CHECK(cs != NULL, "secret with inner spaces loads (%s)", cs ? "" : err.msg))
		return;
	sbuf_init(&h, 65536);
	sbuf_adds(&h, "GET /?k=");
	sbuf_adds(&h, credstore_placeholder(cs, 0));
	sbuf_adds(&h, " HTTP/1.1\r\nX: ");
	sbuf_adds(&h, credstore_placeholder(cs, 0));
	sbuf_adds(&h, "\r\n\r\n");
	CHECK_INT(credstore_apply(cs, "github_api", &h, &res), 0);
	CHECK_HEAD(h.p, "GET /?k=a%20b%22c%23d%3Ce%3Ef%5Cg%5Eh%60i%7Bj%7Ck%7Dl%m HTTP/1.1\r\n"
	    "X: a b\"c#d<e>f\\g^h`i{j|k}l%m\r\n\r\n");
	sbuf_free(&h);
	credstore_free(cs);
	unsetenv("WT_SPACEY");
}

static void
test_find_placeholder(void)
{
	char buf[512];

	begin("credstore_find_placeholder");
	snprintf(buf, sizeof(buf), "POST /x HTTP/1.1\r\n\r\n{\"token\": \"%s\"}", PH_OTHER);
	CHECK_INT(credstore_find_placeholder(CS, buf, strlen(buf)), 3);
	snprintf(buf, sizeof(buf), "%s and %s", PH_GH2, PH_GH);
	CHECK_INT(credstore_find_placeholder(CS, buf, strlen(buf)), 1);
	CHECK_INT(credstore_find_placeholder(CS, PH_HDR, strlen(PH_HDR)), 2);
	CHECK_INT(credstore_find_placeholder(CS, PH_HDR, strlen(PH_HDR) - 1), -1);
	CHECK_INT(credstore_find_placeholder(CS, "plain body", 10), -1);
	CHECK_INT(credstore_find_placeholder(CS, "", 0), -1);
	CHECK_INT(credstore_find_placeholder(CS, CRED_PLACEHOLDER_PREFIX "gh-", 22), -1);
	/* Binary data with NUL bytes before the placeholder. */
	memset(buf, 0, 64);
	memcpy(buf + 64, PH_GH, strlen(PH_GH));
	CHECK_INT(credstore_find_placeholder(CS, buf, 64 + strlen(PH_GH)), 0);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cred.XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
	test_section_valid();
	test_section_errors();
	test_section_limit();
	test_section_fuzz();
	test_section_files();
	test_load_env();
	test_load_file();
	setup_store();
	test_apply_substitute();
	test_apply_mismatch();
	test_apply_headers();
	test_apply_basic();
	test_apply_lookalikes();
	test_apply_request_target();
	test_find_placeholder();
	credstore_free(CS);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	}
	printf("1..%d\n", n_pass + n_fail);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
