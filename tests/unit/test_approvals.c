/*
 * Unit tests for the approvals store: proposals (valid, invalid with the
 * loader's messages, static sections refused, rate limits, the diff and
 * the risk notes), decisions (--always through an apply hook that loads
 * the new policy and checks the entry is in it, --once consumed, --for
 * expiring at a tick, deny with its reason), holds (coalescing, expiry,
 * a client going away) and waiters called exactly once.
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
#include <jansson.h>

#include "../../src/policy/policy.h"
#include "../../src/proxy/approvals.h"
#include "../../src/proxy/httprules.h"
#include "../../src/proxy/netpolicy.h"

#include "check.h"

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

static const char base_yaml[] =
	"version: 1\n"
	"network_policies:\n"
	"  github:\n"
	"    endpoints:\n"
	"      - host: api.github.com\n"
	"        port: 443\n"
	"    binaries:\n"
	"      - path: /usr/bin/git\n"
	"credentials:\n"
	"  gh:\n"
	"    from_env: GH_TOKEN\n"
	"    header: \"Authorization: Bearer {}\"\n"
	"    network_policies: [github]\n";

/* The fake supervisor: one running policy, revisions counted, events recorded. */
struct fake {
	struct policy p;
	uint64_t rev;
	char hash[65];
	struct strv events;
	int applies;
	bool apply_saw_entry;
	const char *expect_entry;
};

static const struct policy *
f_current(void *arg, uint64_t *rev, const char **hash)
{
	struct fake *f = arg;

	*rev = f->rev;
	*hash = f->hash;
	return &f->p;
}

static int
f_apply(void *arg, const char *yaml, size_t len, uint64_t *rev, char hash[65], struct werr *err)
{
	struct fake *f = arg;
	struct policy np = { 0 };
	struct policy_diags d = { 0 };

	f->applies++;
	if (policy_load_buffer("apply", yaml, len, &np, &d) != 0) {
		policy_diags_free(&d);
		return werr_set(err, "candidate did not load");
	}
	policy_diags_free(&d);
	f->apply_saw_entry = false;
	for (size_t i = 0; i < np.nnet; i++)
		if (f->expect_entry && strcmp(np.net[i].key, f->expect_entry) == 0)
			f->apply_saw_entry = true;
	policy_free(&f->p);
	f->p = np;
	f->rev++;
	policy_hash(&f->p, f->hash);
	*rev = f->rev;
	memcpy(hash, f->hash, 65);
	return 0;
}

static void
f_changed(void *arg, const struct appr_item *it, const char *event)
{
	struct fake *f = arg;

	strv_take(&f->events, xasprintf("%s %s", event, it->id));
}

static void
fake_init(struct fake *f, const char *yaml)
{
	struct policy_diags d = { 0 };

	memset(f, 0, sizeof(*f));
	if (policy_load_buffer("t.yaml", yaml, strlen(yaml), &f->p, &d) != 0) {
		policy_diags_print(&d, stdout);
		printf("Bail out! test policy must load\n");
		exit(1);
	}
	policy_diags_free(&d);
	f->rev = 1;
	policy_hash(&f->p, f->hash);
}

static void
fake_free(struct fake *f)
{
	policy_free(&f->p);
	strv_free(&f->events);
}

static struct approvals *
store(struct fake *f, bool ask, unsigned rate)
{
	struct approvals_hooks h = { .arg = f, .current = f_current, .apply = f_apply,
		.changed = f_changed };
	struct approvals_config c = { .ask = ask, .hold_timeout_ms = 60000, .proposals = true,
		.rate_per_minute = rate, .max_pending = 64 };

	return approvals_new(&h, &c);
}

/* A grant for a binary with no ancestors. */
static const struct appr_item *
grant(struct approvals *a, const struct dest *d, const char *exe, bool consume)
{
	struct binident who = { .exe = exe };

	return approvals_grant_for(a, d, &who, consume);
}

/* A held connection. */
static const struct appr_item *
hold_conn(struct approvals *a, const char *exe, pid_t pid, const char *host, uint16_t port,
    const char *why)
{
	return approvals_hold(a, &(struct appr_hold){ .binary = exe, .pid = pid, .host = host,
	    .port = port, .why = why });
}

static bool
has_event(const struct fake *f, const char *event, const char *id)
{
	char *s = xasprintf("%s %s", event, id);
	bool r = strv_contains(&f->events, s);

	free(s);
	return r;
}

static bool
has_risk(const struct appr_item *it, const char *sub)
{
	for (size_t i = 0; i < it->risks.n; i++)
		if (strstr(it->risks.v[i], sub))
			return true;
	return false;
}

/* POST a proposal; returns the status, *id the new id when 201. */
static int
propose(struct approvals *a, const char *body, char id[APPR_ID_MAX], struct sbuf *out)
{
	json_t *j;
	int st;

	sbuf_init(out, 1 << 20);
	st = approvals_propose(a, "/usr/bin/curl", 42, body, strlen(body), out);
	if (id)
		id[0] = '\0';
	if (st == 201 && id && (j = json_loads(out->p, 0, NULL))) {
		snprintf(id, APPR_ID_MAX, "%s", json_string_value(json_object_get(j, "id")));
		json_decref(j);
	}
	return st;
}

static const char pypi[] =
	"{\"intent\": \"install deps\", \"name\": \"pypi\", \"network_policy\": "
	"{\"endpoints\": [{\"host\": \"docs.example.com\", \"port\": 443}], "
	"\"binaries\": [{\"path\": \"/usr/bin/curl\"}]}}";

static struct dest
dest(const char *host, uint16_t port)
{
	struct dest d;
	const char *why = dest_normalize(host, port, &d);

	if (why)
		printf("# dest_normalize(%s): %s\n", host, why);
	return d;
}

/* ---- proposals --------------------------------------------------------------- */

static void
test_propose_valid(void)
{
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	char id[APPR_ID_MAX];
	const struct appr_item *it;

	begin("propose valid");
	fake_init(&f, base_yaml);
	a = store(&f, false, 10);
	CHECK_INT(propose(a, pypi, id, &out), 201);
	CHECK(strstr(out.p, "\"status\":\"pending\""), "answer says pending: %s", out.p);
	CHECK(strncmp(id, "p-", 2) == 0 && strlen(id) == 14, "id is p- and 12 hex: %s", id);
	it = approvals_get(a, id);
	CHECK(it != NULL, "item found by id");
	if (it) {
		CHECK_INT(it->kind, APPR_PROPOSAL);
		CHECK_INT(it->status, APPR_PENDING);
		CHECK_STR(it->name, "pypi");
		CHECK_STR(it->intent, "install deps");
		CHECK_STR(it->binary, "/usr/bin/curl");
		CHECK_STR(it->host, "docs.example.com");
		CHECK_INT(it->port, 443);
		CHECK(it->entry_yaml && strstr(it->entry_yaml, "  \"pypi\":\n"),
		    "entry_yaml is the canonical block: %s", it->entry_yaml);
		CHECK(it->diff && strstr(it->diff, "+         - host: \"docs.example.com\""),
		    "diff adds the host line: %s", it->diff);
		CHECK(it->diff && !strstr(it->diff, "\n- "), "a new entry removes nothing");
		CHECK(!has_risk(it, "credential"), "no credential is bound to pypi");
		CHECK_INT(it->revision, 1);
		CHECK_STR(it->hash, f.hash);
	}
	CHECK(has_event(&f, "approval.requested", id), "approval.requested recorded");
	sbuf_free(&out);
	sbuf_init(&out, 1 << 20);
	approvals_list_json(a, &out);
	CHECK(out.p && strstr(out.p, id) && strstr(out.p, "\"intent\":\"install deps\""),
	    "listed with its intent");
	sbuf_free(&out);
	approvals_free(a);
	fake_free(&f);
}

static void
test_propose_change_diff(void)
{
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	char id[APPR_ID_MAX];
	const struct appr_item *it;
	const char body[] = "{\"intent\": \"i\", \"name\": \"github\", \"network_policy\": "
		"{\"endpoints\": [{\"host\": \"api.github.com\", \"port\": 443}, "
		"{\"host\": \"*.githubusercontent.com\", \"port\": 443}], "
		"\"binaries\": [{\"path\": \"/usr/bin/git\"}, {\"path\": \"/usr/bin/python3\"}]}}";

	begin("propose a change: diff against the running entry");
	fake_init(&f, base_yaml);
	a = store(&f, false, 10);
	CHECK_INT(propose(a, body, id, &out), 201);
	it = approvals_get(a, id);
	if (CHECK(it != NULL, "created")) {
		CHECK(strstr(it->diff, "+         - host: \"*.githubusercontent.com\""),
		    "added endpoint shown with +: %s", it->diff);
		CHECK(strstr(it->diff, "        - host: \"api.github.com\""),
		    "kept endpoint shown unprefixed");
		CHECK(strstr(it->diff, "+       - {path: \"/usr/bin/python3\""), "added binary");
		CHECK(has_risk(it, "wildcard host"), "wildcard risk");
		CHECK(has_risk(it, "shell or interpreter"), "interpreter risk");
	}
	sbuf_free(&out);
	approvals_free(a);
	fake_free(&f);
}

static void
test_propose_invalid(void)
{
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	static const char *const bad[] = {
		"not json",
		"[1]",
		"{\"intent\": \"x\", \"name\": \"a b\", \"network_policy\": {}}",
		"{\"intent\": \"x\", \"name\": \"n\"}",
		"{\"name\": \"n\", \"network_policy\": {}}",
		"{\"intent\": \"x\", \"name\": \"n\", \"network_policy\": {}, \"extra\": 1}",
		"{\"intent\": \"x\", \"intent\": \"y\", \"name\": \"n\", \"network_policy\": {}}",
	};

	begin("propose invalid");
	fake_init(&f, base_yaml);
	a = store(&f, false, 600);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_INT(propose(a, bad[i], NULL, &out), 400);
		CHECK(strstr(out.p, "\"invalid_proposal\""), "%s -> %s", bad[i], out.p);
		sbuf_free(&out);
	}
	/* The loader's own messages, FILE:LINE:COL. */
	CHECK_INT(propose(a, "{\"intent\": \"x\", \"name\": \"n\", \"network_policy\": "
	    "{\"endpoints\": [{\"host\": \"docs.example.com\", \"port\": 99999}], "
	    "\"binaries\": [{\"path\": \"/usr/bin/curl\"}]}}", NULL, &out), 400);
	CHECK(strstr(out.p, "\"proposal:") && strstr(out.p, ": error: "),
	    "loader messages: %s", out.p);
	sbuf_free(&out);
	CHECK_INT(propose(a, "{\"intent\": \"x\", \"name\": \"n\", \"network_policy\": "
	    "{\"endpoints\": [{\"host\": \"docs.example.com\", \"port\": 443}], \"bogus\": 1}}", NULL, &out), 400);
	CHECK(strstr(out.p, "bogus"), "unknown entry key named: %s", out.p);
	sbuf_free(&out);
	{
		char big[2200 + 200];
		char intent[2002];
		memset(intent, 'a', 2001);
		intent[2001] = '\0';
		snprintf(big, sizeof(big), "{\"intent\": \"%s\", \"name\": \"n\", \"network_policy\": {}}",
		    intent);
		CHECK_INT(propose(a, big, NULL, &out), 400);
		CHECK(strstr(out.p, "2000"), "intent too long: %.80s", out.p);
		sbuf_free(&out);
	}
	CHECK_INT(f.events.n, 0);
	approvals_free(a);
	fake_free(&f);
}

static void
test_propose_static(void)
{
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	static const char *const bad[] = {
		"{\"intent\": \"x\", \"filesystem_policy\": {\"read_write\": [\"/\"]}}",
		"{\"intent\": \"x\", \"name\": \"n\", \"network_policy\": {}, \"process\": {}}",
		"{\"intent\": \"x\", \"landlock\": {}}",
		"{\"intent\": \"x\", \"credentials\": {}}",
		"{\"intent\": \"x\", \"inference\": {}}",
		"{\"intent\": \"x\", \"approvals\": {\"mode\": \"deny\"}}",
		"{\"intent\": \"x\", \"name\": \"n\", \"network_policy\": {\"endpoints\": [], "
		"\"filesystem_policy\": {}}}",
	};

	begin("propose static sections: 403");
	fake_init(&f, base_yaml);
	a = store(&f, false, 600);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_INT(propose(a, bad[i], NULL, &out), 403);
		CHECK(strstr(out.p, "\"error\":\"static_section\"") && strstr(out.p, "\"reason\""),
		    "%s -> %s", bad[i], out.p);
		sbuf_free(&out);
	}
	approvals_free(a);
	fake_free(&f);
}

static void
test_propose_limits(void)
{
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	struct approvals_config off = { .proposals = false };

	begin("propose rate limit and disabled");
	fake_init(&f, base_yaml);
	a = store(&f, false, 3);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(propose(a, pypi, NULL, &out), 201);
		sbuf_free(&out);
	}
	CHECK_INT(propose(a, pypi, NULL, &out), 429);
	CHECK(strstr(out.p, "\"rate_limited\"") && strstr(out.p, "\"retry_after\":"),
	    "rate limited: %s", out.p);
	sbuf_free(&out);
	/* Invalid ones count too: a flood of junk is a flood. */
	CHECK_INT(propose(a, "junk", NULL, &out), 429);
	sbuf_free(&out);
	approvals_configure(a, &off);
	CHECK_INT(propose(a, pypi, NULL, &out), 403);
	CHECK(strstr(out.p, "proposals_disabled"), "disabled: %s", out.p);
	sbuf_free(&out);
	approvals_free(a);
	fake_free(&f);
}

/* ---- decisions --------------------------------------------------------------- */

static int fired;
static const struct appr_item *fired_item;
static enum appr_status fired_status;

static void
on_decided(void *arg, const struct appr_item *it)
{
	(void)arg;
	fired++;
	fired_item = it;
	fired_status = it->status;
}

static void
test_approve_always(void)
{
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	char id[APPR_ID_MAX], old_hash[65];
	const struct appr_item *it;
	struct werr err;
	struct dest d = dest("docs.example.com", 443);
	struct binident bi = { .exe = "/usr/bin/curl" };
	struct netdecision nd;

	begin("approve --always");
	fake_init(&f, base_yaml);
	a = store(&f, false, 10);
	CHECK_INT(propose(a, pypi, id, &out), 201);
	sbuf_free(&out);
	memcpy(old_hash, f.hash, 65);
	fired = 0;
	CHECK(approvals_wait(a, id, on_decided, NULL) != NULL, "waiting");
	f.expect_entry = "pypi";
	CHECK_INT(approvals_approve(a, id, GRANT_ALWAYS, 0, &err), 0);
	CHECK_INT(f.applies, 1);
	CHECK(f.apply_saw_entry, "the applied policy holds the entry");
	netpolicy_decide(&f.p, &d, &bi, &nd);
	CHECK(nd.allow, "the new policy allows curl to docs.example.com");
	d = dest("api.github.com", 443);
	bi.exe = "/usr/bin/git";
	netpolicy_decide(&f.p, &d, &bi, &nd);
	CHECK(nd.allow, "the old entry is still there");
	CHECK_INT(f.p.ncreds, 1);
	it = approvals_get(a, id);
	CHECK_INT(it->status, APPR_APPROVED);
	CHECK_INT(it->grant, GRANT_ALWAYS);
	CHECK_INT(it->revision, 2);
	CHECK_STR(it->hash, f.hash);
	CHECK(strcmp(old_hash, f.hash) != 0, "new hash");
	CHECK_INT(fired, 1);
	CHECK(fired_item == it && fired_status == APPR_APPROVED, "waiter saw the approval");
	CHECK(has_event(&f, "approval.granted", id), "approval.granted recorded");
	sbuf_init(&out, 4096);
	approvals_item_json(it, &out);
	CHECK(strstr(out.p, "\"status\":\"approved\"") && strstr(out.p, f.hash), "json: %s", out.p);
	sbuf_free(&out);
	CHECK_INT(approvals_approve(a, id, GRANT_ALWAYS, 0, &err), -1);
	CHECK(strstr(err.msg, "already approved"), "second decision refused: %s", err.msg);
	approvals_tick(a, now_ns());
	CHECK_INT(fired, 1);
	CHECK_INT(approvals_approve(a, "p-000000000000", GRANT_ONCE, 0, &err), -1);
	CHECK(strstr(err.msg, "no pending item"), "unknown id: %s", err.msg);
	approvals_free(a);
	fake_free(&f);
}

static void
test_approve_always_rebased(void)
{
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	char id[APPR_ID_MAX];
	struct werr err;
	char *y;

	begin("approve --always applies against the policy running at approval");
	fake_init(&f, base_yaml);
	a = store(&f, false, 10);
	CHECK_INT(propose(a, pypi, id, &out), 201);
	sbuf_free(&out);
	/* A reload in between adds an entry; approving must not lose it. */
	y = xasprintf("%s", "version: 1\nnetwork_policies:\n  npm:\n    endpoints:\n"
	    "      - {host: registry.example.org, port: 443}\n    binaries: [{path: /usr/bin/npm}]\n");
	f.expect_entry = "npm";
	{
		uint64_t r;
		char h[65];
		CHECK_INT(f_apply(&f, y, strlen(y), &r, h, &err), 0);
	}
	free(y);
	f.expect_entry = "npm";
	CHECK_INT(approvals_approve(a, id, GRANT_ALWAYS, 0, &err), 0);
	CHECK(f.apply_saw_entry, "the reloaded entry survives");
	CHECK_INT(f.p.nnet, 2);
	approvals_free(a);
	fake_free(&f);
}

static void
test_approve_once_for(void)
{
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	char id[APPR_ID_MAX], id2[APPR_ID_MAX];
	struct werr err;
	struct dest d = dest("docs.example.com", 443), other = dest("evil.example", 443);
	const struct appr_item *it;

	begin("approve --once and --for");
	fake_init(&f, base_yaml);
	a = store(&f, false, 10);
	CHECK_INT(propose(a, pypi, id, &out), 201);
	sbuf_free(&out);
	CHECK(grant(a, &d, "/usr/bin/curl", false) == NULL, "no grant while pending");
	CHECK_INT(approvals_approve(a, id, GRANT_ONCE, 0, &err), 0);
	CHECK_INT(f.applies, 0);
	CHECK(grant(a, &other, "/usr/bin/curl", true) == NULL, "other host not granted");
	CHECK(grant(a, &d, "/usr/bin/wget", true) == NULL, "other binary not granted");
	it = grant(a, &d, "/usr/bin/curl", false);
	CHECK(it && strcmp(it->id, id) == 0, "granted without consuming");
	CHECK(grant(a, &d, "/usr/bin/curl", true) != NULL, "granted and consumed");
	CHECK(grant(a, &d, "/usr/bin/curl", true) == NULL, "once is once");

	CHECK_INT(propose(a, pypi, id2, &out), 201);
	sbuf_free(&out);
	CHECK_INT(approvals_approve(a, id2, GRANT_FOR, 0, &err), -1);
	CHECK_INT(approvals_approve(a, id2, GRANT_FOR, 5000, &err), 0);
	CHECK(grant(a, &d, "/usr/bin/curl", true) != NULL, "--for grants");
	CHECK(grant(a, &d, "/usr/bin/curl", true) != NULL, "--for grants again");
	approvals_tick(a, now_ns());
	CHECK(grant(a, &d, "/usr/bin/curl", true) != NULL, "still live before expiry");
	approvals_tick(a, now_ns() + 6000000000ull);
	CHECK(grant(a, &d, "/usr/bin/curl", true) == NULL, "expired at the tick");
	CHECK(has_event(&f, "approval.expired", id2), "grant expiry recorded");
	sbuf_init(&out, 4096);
	approvals_item_json(approvals_get(a, id2), &out);
	CHECK(strstr(out.p, "\"grant\":\"for\"") && strstr(out.p, "\"grant_active\":false"),
	    "json: %s", out.p);
	sbuf_free(&out);
	approvals_free(a);
	fake_free(&f);
}

static void
test_deny(void)
{
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	char id[APPR_ID_MAX];
	struct werr err;
	const struct appr_item *it;

	begin("deny with a reason");
	fake_init(&f, base_yaml);
	a = store(&f, false, 10);
	CHECK_INT(propose(a, pypi, id, &out), 201);
	sbuf_free(&out);
	fired = 0;
	approvals_wait(a, id, on_decided, NULL);
	approvals_wait(a, id, on_decided, NULL);
	CHECK_INT(approvals_deny(a, id, "use the mirror", &err), 0);
	CHECK_INT(fired, 2);
	it = approvals_get(a, id);
	CHECK_INT(it->status, APPR_DENIED);
	CHECK_STR(it->reason, "use the mirror");
	sbuf_init(&out, 4096);
	approvals_item_json(it, &out);
	CHECK(strstr(out.p, "\"reason\":\"use the mirror\"") && strstr(out.p, "\"denied\""),
	    "json: %s", out.p);
	sbuf_free(&out);
	CHECK(has_event(&f, "approval.denied", id), "approval.denied recorded");
	CHECK_INT(approvals_deny(a, id, "again", &err), -1);
	/* A waiter on a decided item hears at the next tick, not inside wait. */
	fired = 0;
	approvals_wait(a, id, on_decided, NULL);
	CHECK_INT(fired, 0);
	approvals_tick(a, now_ns());
	CHECK_INT(fired, 1);
	approvals_tick(a, now_ns());
	CHECK_INT(fired, 1);
	/* An unwaited waiter never fires. */
	CHECK_INT(propose(a, pypi, id, &out), 201);
	sbuf_free(&out);
	fired = 0;
	approvals_unwait(approvals_wait(a, id, on_decided, NULL));
	CHECK_INT(approvals_deny(a, id, NULL, &err), 0);
	CHECK_INT(fired, 0);
	CHECK(approvals_get(a, id)->reason && *approvals_get(a, id)->reason, "a default reason");
	approvals_free(a);
	fake_free(&f);
}

/* ---- holds ------------------------------------------------------------------- */

static void
test_holds(void)
{
	struct fake f;
	struct approvals *a;
	const struct appr_item *h1, *h2, *h3;
	char id[APPR_ID_MAX], id3[APPR_ID_MAX];
	struct werr err;
	struct dest d = dest("example.com", 443);
	struct binident bi = { .exe = "/usr/bin/curl" };
	struct netdecision nd;

	begin("holds: coalescing, expiry, client gone, --always");
	fake_init(&f, base_yaml);
	a = store(&f, false, 10);
	CHECK(hold_conn(a, "/usr/bin/curl", 7, "example.com", 443, "no policy") == NULL,
	    "no hold in deny mode");
	approvals_free(a);
	a = store(&f, true, 10);
	h1 = hold_conn(a, "/usr/bin/curl", 7, "example.com", 443, "no policy");
	CHECK(h1 && strncmp(h1->id, "h-", 2) == 0, "hold created");
	snprintf(id, sizeof(id), "%s", h1->id);
	h2 = hold_conn(a, "/usr/bin/curl", 8, "example.com", 443, "no policy");
	CHECK(h2 == h1, "identical request coalesces");
	CHECK_INT(h1->coalesced, 2);
	h3 = hold_conn(a, "/usr/bin/wget", 9, "example.com", 443, "no policy");
	CHECK(h3 && h3 != h1, "another binary is another item");
	snprintf(id3, sizeof(id3), "%s", h3->id);
	CHECK(has_event(&f, "approval.requested", id), "approval.requested for the hold");
	CHECK(h1->diff && strstr(h1->diff, "example.com:443"), "what: %s", h1->diff);

	/* Client gone: the last one away drops it. */
	approvals_release(a, id3);
	CHECK_INT(approvals_get(a, id3)->status, APPR_EXPIRED);
	approvals_release(a, id);
	CHECK_INT(approvals_get(a, id)->status, APPR_PENDING);

	fired = 0;
	approvals_wait(a, id, on_decided, NULL);
	f.expect_entry = NULL;
	CHECK_INT(approvals_approve(a, id, GRANT_ALWAYS, 0, &err), 0);
	CHECK_INT(fired, 1);
	netpolicy_decide(&f.p, &d, &bi, &nd);
	CHECK(nd.allow, "--always on a hold: the policy now allows it (%s)", nd.reason);
	CHECK(nd.rule && strncmp(nd.rule->key, "approved-h-", 11) == 0, "entry approved-<id>");
	approvals_free(a);

	/* Expiry at the hold timeout. */
	a = store(&f, true, 10);
	h1 = hold_conn(a, "/usr/bin/curl", 7, "10.1.2.3", 8080, NULL);
	CHECK(h1 && has_risk(h1, "private"), "private address risk");
	snprintf(id, sizeof(id), "%s", h1->id);
	fired = 0;
	approvals_wait(a, id, on_decided, NULL);
	approvals_tick(a, now_ns() + 1000000000ull);
	CHECK_INT(fired, 0);
	approvals_tick(a, now_ns() + 61000000000ull);
	CHECK_INT(fired, 1);
	CHECK_INT(fired_status, APPR_EXPIRED);
	CHECK(has_event(&f, "approval.expired", id), "approval.expired recorded");
	approvals_tick(a, now_ns() + 62000000000ull);
	CHECK_INT(fired, 1);

	/* --once on a hold: that binary to that host:port, once. */
	h1 = hold_conn(a, "/usr/bin/bash", 7, "example.com", 443, NULL);
	CHECK(h1 && has_risk(h1, "interpreter"), "shell risk");
	snprintf(id, sizeof(id), "%s", h1->id);
	CHECK_INT(approvals_approve(a, id, GRANT_ONCE, 0, &err), 0);
	CHECK(grant(a, &d, "/usr/bin/curl", true) == NULL, "other binary");
	CHECK(grant(a, &d, "/usr/bin/bash", true) != NULL, "granted");
	CHECK(grant(a, &d, "/usr/bin/bash", true) == NULL, "used up");

	/* --once on a hold three requests coalesced into: each of the three, no fourth. */
	for (int k = 0; k < 3; k++)
		h1 = hold_conn(a, "/usr/bin/wget", 7, "example.com", 443, NULL);
	CHECK(h1 && h1->coalesced == 3, "three coalesced");
	snprintf(id, sizeof(id), "%s", h1->id);
	CHECK_INT(approvals_approve(a, id, GRANT_ONCE, 0, &err), 0);
	for (int k = 0; k < 3; k++)
		CHECK(grant(a, &d, "/usr/bin/wget", true) != NULL, "held request %d", k);
	CHECK(grant(a, &d, "/usr/bin/wget", true) == NULL, "no fourth");
	approvals_free(a);
	fake_free(&f);
}

static void
test_max_pending(void)
{
	struct fake f;
	struct approvals *a;
	struct approvals_hooks h = { .arg = &f, .current = f_current, .changed = f_changed };
	struct approvals_config c = { .ask = true, .hold_timeout_ms = 1000, .proposals = true,
		.rate_per_minute = 600, .max_pending = 2 };
	struct sbuf out;

	begin("max_pending");
	fake_init(&f, base_yaml);
	a = approvals_new(&h, &c);
	CHECK(hold_conn(a, "/usr/bin/curl", 1, "a.example", 443, NULL) != NULL, "1st");
	CHECK(hold_conn(a, "/usr/bin/curl", 1, "b.example", 443, NULL) != NULL, "2nd");
	CHECK(hold_conn(a, "/usr/bin/curl", 1, "c.example", 443, NULL) == NULL, "full");
	CHECK(hold_conn(a, "/usr/bin/curl", 1, "a.example", 443, NULL) != NULL,
	    "coalescing still works when full");
	CHECK_INT(propose(a, pypi, NULL, &out), 429);
	sbuf_free(&out);
	approvals_tick(a, now_ns() + 2000000000ull);
	CHECK(hold_conn(a, "/usr/bin/curl", 1, "c.example", 443, NULL) != NULL,
	    "room again after expiry");
	approvals_free(a);
	fake_free(&f);
}

static void
test_risks(void)
{
	static const struct { const char *path; bool interp; } bins[] = {
		{ "/usr/bin/python3", true }, { "/usr/bin/python3.11", true }, { "/bin/sh", true },
		{ "/usr/bin/env", true }, { "/usr/bin/*", true }, { "**", true },
		{ "/usr/bin/curl", false }, { "/usr/bin/git", false }, { "/opt/tool/*", false },
		{ "/usr/local/bin/node", true }, { "/usr/bin/pythonic", false },
	};
	struct policy p = { 0 };
	struct policy_diags d = { 0 };
	const char y[] = "version: 1\nnetwork_policies:\n  x:\n    endpoints:\n"
		"      - {host: 169.254.169.254, port: 80}\n"
		"      - {host: api.example.com, port: 443, protocol: rest, access: full}\n"
		"      - {host: db.example.com, ports: [1,2,3,4,5,6,7,8,9,10], tls: skip}\n"
		"    binaries: [{path: /usr/bin/curl, children: true}]\n";
	struct strv r = { 0 };
	bool meta = false, full = false, ports = false, tls = false, kids = false;

	begin("risk notes");
	for (size_t i = 0; i < ARRAY_SIZE(bins); i++)
		CHECK(approvals_is_interpreter(bins[i].path) == bins[i].interp, "%s %s", bins[i].path,
		    bins[i].interp ? "is an interpreter" : "is not");
	if (policy_load_buffer("r.yaml", y, strlen(y), &p, &d) != 0) {
		policy_diags_print(&d, stdout);
		CHECK(false, "risk policy loads");
		policy_diags_free(&d);
		return;
	}
	policy_diags_free(&d);
	approvals_risks_entry(&p, &p.net[0], &r);
	for (size_t i = 0; i < r.n; i++) {
		printf("#   %s\n", r.v[i]);
		meta |= strstr(r.v[i], "metadata") != NULL;
		full |= strstr(r.v[i], "access full") != NULL;
		ports |= strstr(r.v[i], "10 ports") != NULL;
		tls |= strstr(r.v[i], "tls: skip") != NULL;
		kids |= strstr(r.v[i], "children: true") != NULL;
	}
	CHECK(meta, "metadata address");
	CHECK(full, "broad method rules");
	CHECK(ports, "many ports");
	CHECK(tls, "tls skip");
	CHECK(kids, "children");
	strv_free(&r);
	approvals_risks_hold("/usr/bin/curl", "127.0.0.1", &r);
	CHECK(r.n == 2 && strstr(r.v[1], "loopback"), "loopback hold: %s", r.n > 1 ? r.v[1] : "");
	strv_free(&r);
	policy_free(&p);
}

/* A temporary grant decides as the entry would: children: true covers the binary's descendants. */
static void
test_grant_children(void)
{
	static const char body[] =
	    "{\"intent\": \"build\", \"name\": \"build\", \"network_policy\": "
	    "{\"endpoints\": [{\"host\": \"docs.example.com\", \"port\": 443}], "
	    "\"binaries\": [{\"path\": \"/usr/bin/make\", \"children\": true}]}}";
	static const char *const make_anc[] = { "/usr/bin/make" };
	static const char *const other_anc[] = { "/usr/bin/bash" };
	struct binident child = { .exe = "/usr/bin/sh", .ancestors = make_anc, .nancestors = 1 };
	struct binident stranger = { .exe = "/usr/bin/sh", .ancestors = other_anc,
		.nancestors = 1 };
	struct dest d = dest("docs.example.com", 443);
	struct fake f;
	struct approvals *a;
	struct sbuf out;
	struct werr err;
	char id[APPR_ID_MAX];

	begin("temporary grants and children: true");
	fake_init(&f, base_yaml);
	a = store(&f, false, 10);
	CHECK_INT(propose(a, body, id, &out), 201);
	sbuf_free(&out);
	CHECK_INT(approvals_approve(a, id, GRANT_FOR, 5000, &err), 0);
	CHECK(approvals_grant_for(a, &d, &child, true) != NULL,
	    "a child of the entry's binary is granted (children: true)");
	CHECK(approvals_grant_for(a, &d, &stranger, true) == NULL,
	    "the same program under another parent is not");
	CHECK(grant(a, &d, "/usr/bin/make", true) != NULL, "the binary itself is");
	approvals_free(a);
	fake_free(&f);
}

static const char rest_yaml[] =
	"version: 1\n"
	"network_policies:\n"
	"  gh:\n"
	"    endpoints:\n"
	"      - host: api.github.com\n"
	"        port: 443\n"
	"        protocol: rest\n"
	"        access: read-only\n"
	"      - host: other.example\n"
	"        port: 443\n"
	"        protocol: rest\n"
	"        rules:\n"
	"          - allow: {method: GET, path: /x}\n"
	"    binaries:\n"
	"      - path: /usr/bin/curl\n";

/* What the rules of the running policy's entry `key` decide for method path on host. */
static enum http_verdict
rules_say(const struct fake *f, const char *key, const char *host, const char *method,
    const char *path)
{
	struct http_target t = { 0 };
	struct http_decision hd = { .verdict = HTTP_DENY };
	struct dest d;

	if (dest_normalize(host, 443, &d) || http_target_normalize(path, strlen(path), false, &t))
		return HTTP_DENY;
	for (size_t i = 0; i < f->p.nnet; i++) {
		const struct net_policy *np = &f->p.net[i];
		if (strcmp(np->key, key) != 0)
			continue;
		for (size_t k = 0; k < np->nendpoints; k++)
			if (netpolicy_endpoint_matches(&np->endpoints[k], &d, NULL))
				http_rules_check(&np->endpoints[k], method, &t, &hd);
	}
	http_target_free(&t);
	return hd.verdict;
}

static void
test_request_holds(void)
{
	struct fake f;
	struct approvals *a;
	struct werr err = { 0 };
	struct dest d;
	struct appr_hold post = { .binary = "/usr/bin/curl", .pid = 7, .host = "api.github.com",
		.port = 443, .method = "POST", .path = "/repos/o/r/issues", .entry = "gh",
		.why = "no rule allows POST" };
	struct appr_hold other = post, router = { .binary = "/usr/bin/curl", .pid = 7,
		.host = "inference.local", .port = 80, .provider = "openai", .tier = "confidential" };
	const struct appr_item *h1, *h2;
	char id[APPR_ID_MAX], hash0[65];
	struct sbuf out;

	begin("request holds");
	fake_init(&f, rest_yaml);
	a = store(&f, true, 10);
	dest_normalize("api.github.com", 443, &d);

	/* Identical requests coalesce; another path or method is another item. */
	h1 = approvals_hold(a, &post);
	h2 = approvals_hold(a, &post);
	CHECK(h1 && h1 == h2 && h1->coalesced == 2, "identical requests coalesce");
	CHECK(h1 && h1->method && strcmp(h1->method, "POST") == 0 && h1->entry &&
	    strcmp(h1->entry, "gh") == 0, "method and entry kept");
	CHECK(h1 && strstr(h1->diff, "POST /repos/o/r/issues") != NULL, "diff names the request: %s",
	    h1 ? h1->diff : "");
	CHECK(h1 && has_risk(h1, "changes data"), "write method risk");
	CHECK(h1 && has_risk(h1, "any query"), "query risk");
	snprintf(id, sizeof(id), "%s", h1->id);
	other.path = "/repos/o/r/pulls";
	h2 = approvals_hold(a, &other);
	CHECK(h2 && h2 != approvals_get(a, id), "another path: another item");
	other.path = post.path;
	other.method = "PUT";
	CHECK(approvals_hold(a, &other) != approvals_get(a, id), "another method: another item");
	CHECK(approvals_hold(a, &(struct appr_hold){ .binary = "/usr/bin/curl", .pid = 7,
	    .host = "api.github.com", .port = 443 }) != approvals_get(a, id),
	    "a connection hold is another item");

	/* The listing shows what the request is. */
	sbuf_init(&out, 1 << 20);
	approvals_list_json(a, &out);
	CHECK(strstr(out.p, "\"method\":\"POST\"") && strstr(out.p, "\"path\":\"/repos/o/r/issues\"") &&
	    strstr(out.p, "\"entry\":\"gh\""), "listed with method, path, entry");
	sbuf_free(&out);

	/* --once: exactly that request (twice: two were coalesced), never a connection. */
	CHECK_INT(approvals_approve(a, id, GRANT_ONCE, 0, &err), 0);
	CHECK(grant(a, &d, "/usr/bin/curl", true) == NULL, "a request grant is no connection grant");
	other.method = "POST";
	other.path = "/repos/o/r/pulls";
	CHECK(approvals_grant_request(a, &other, true) == NULL, "another path is not granted");
	other.path = post.path;
	other.binary = "/usr/bin/wget";
	CHECK(approvals_grant_request(a, &other, true) == NULL, "another binary is not granted");
	CHECK(approvals_grant_request(a, &post, true) != NULL, "granted (1)");
	CHECK(approvals_grant_request(a, &post, true) != NULL, "granted (2)");
	CHECK(approvals_grant_request(a, &post, true) == NULL, "used up");

	/* --always: the entry's endpoint gains the rule; its access preset becomes rules. */
	CHECK(rules_say(&f, "gh", "api.github.com", "POST", "/repos/o/r/issues") == HTTP_DENY,
	    "denied before");
	h1 = approvals_hold(a, &post);
	snprintf(id, sizeof(id), "%s", h1->id);
	memcpy(hash0, f.hash, 65);
	CHECK_INT(approvals_approve(a, id, GRANT_ALWAYS, 0, &err), 0);
	CHECK(strcmp(hash0, f.hash) != 0, "a new policy hash");
	CHECK(rules_say(&f, "gh", "api.github.com", "POST", "/repos/o/r/issues") == HTTP_ALLOW,
	    "allowed after --always");
	CHECK(rules_say(&f, "gh", "api.github.com", "POST", "/repos/o/r/pulls") == HTTP_DENY,
	    "only that path");
	CHECK(rules_say(&f, "gh", "api.github.com", "DELETE", "/repos/o/r/issues") == HTTP_DENY,
	    "only that method");
	CHECK(rules_say(&f, "gh", "api.github.com", "GET", "/anything/else") == HTTP_ALLOW &&
	    rules_say(&f, "gh", "api.github.com", "OPTIONS", "/") == HTTP_ALLOW,
	    "what access: read-only allowed still is");
	CHECK(rules_say(&f, "gh", "other.example", "GET", "/y") == HTTP_DENY,
	    "the entry's other endpoint unchanged");
	h1 = approvals_get(a, id);
	CHECK(h1 && h1->diff && strstr(h1->diff, "+") && strstr(h1->diff, "/repos/o/r/issues"),
	    "the diff shows the new rule: %s", h1 && h1->diff ? h1->diff : "");
	CHECK(h1 && strcmp(h1->host, "api.github.com") == 0, "the host stays the request's");

	/* A path with glob characters is written literally. */
	post.path = "/a*/[b]?";
	h1 = approvals_hold(a, &post);
	snprintf(id, sizeof(id), "%s", h1->id);
	CHECK_INT(approvals_approve(a, id, GRANT_ALWAYS, 0, &err), 0);
	CHECK(rules_say(&f, "gh", "api.github.com", "POST", "/a*/[b]%3F") == HTTP_ALLOW,
	    "the literal path allowed");
	CHECK(rules_say(&f, "gh", "api.github.com", "POST", "/ab/b%3F") == HTTP_DENY &&
	    rules_say(&f, "gh", "api.github.com", "POST", "/a*/b%3F") == HTTP_DENY,
	    "not as a glob");

	/* An entry that has gone: --always refused with a reason, --once still possible. */
	post.entry = "gone";
	post.path = "/z";
	h1 = approvals_hold(a, &post);
	snprintf(id, sizeof(id), "%s", h1->id);
	CHECK_INT(approvals_approve(a, id, GRANT_ALWAYS, 0, &err), -1);
	CHECK(strstr(err.msg, "is gone") != NULL, "entry gone: %s", err.msg);
	CHECK_INT(approvals_approve(a, id, GRANT_ONCE, 0, &err), 0);

	/* A router hold: --always is refused (max_tier is the policy's to change), --for works. */
	h1 = approvals_hold(a, &router);
	CHECK(h1 && h1->provider && strcmp(h1->tier, "confidential") == 0, "router hold kept");
	CHECK(h1 && strstr(h1->diff, "provider 'openai'") != NULL, "router diff: %s",
	    h1 ? h1->diff : "");
	snprintf(id, sizeof(id), "%s", h1->id);
	CHECK_INT(approvals_approve(a, id, GRANT_ALWAYS, 0, &err), -1);
	CHECK(strstr(err.msg, "max_tier") != NULL, "why: %s", err.msg);
	CHECK_INT(approvals_approve(a, id, GRANT_FOR, 5000, &err), 0);
	CHECK(approvals_grant_request(a, &router, true) != NULL &&
	    approvals_grant_request(a, &router, true) != NULL, "--for: every match while it lasts");
	router.tier = "restricted";
	CHECK(approvals_grant_request(a, &router, true) == NULL, "a higher tier is not granted");
	approvals_free(a);
	fake_free(&f);
}

int
main(void)
{
	test_propose_valid();
	test_propose_change_diff();
	test_propose_invalid();
	test_propose_static();
	test_propose_limits();
	test_approve_always();
	test_approve_always_rebased();
	test_approve_once_for();
	test_deny();
	test_holds();
	test_max_pending();
	test_risks();
	test_grant_children();
	test_request_holds();
	printf("1..%d\n%d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
