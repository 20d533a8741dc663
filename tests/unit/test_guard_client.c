/*
 * Tests for the classifier pool: a real pool on a real event loop with real
 * child processes -- the Python example classifier (examples/classifier.py)
 * and guard_test_server (a C classifier on guard_serve that misbehaves on
 * demand).  They check the verdicts (tier, chaining, merged redactions),
 * that every failure -- timeout, crash, malformed, oversize or unexpected
 * reply, a writer that is not the spawned child, a refused handshake --
 * ends in GUARD_ERROR and a restart where one is due, that cancelled calls
 * never complete, that pipelined replies in any order reach the right
 * call, and that done never runs inside guard_classify.  The server loop
 * itself is driven by hand too (malformed and oversize requests).
 *
 * Usage: test_guard_client PATH-TO-guard_test_server (run from the source
 * root, where examples/classifier.py is).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/classify/guard_serve.h"
#include "../../src/lib/evloop.h"
#include "../../src/router/guard_client.h"

#include "check.h"

static char server_path[PATH_MAX], python_script[PATH_MAX], terms_file[PATH_MAX];
static struct evloop *loop;

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

/* ---- spawning ---- */

/* How the test spawner starts a child. */
struct spawner {
	bool grandchild;	/* fork once more and report the middle process's pid */
	unsigned spawned;
};

static int
spawn(void *arg, const struct guard_spec *spec, int sockfd, pid_t *pid, struct werr *err)
{
	struct spawner *s = arg;
	pid_t p = fork();

	if (p < 0)
		return werr_sys(err, "fork");
	if (p == 0) {
		if (s && s->grandchild) {
			pid_t g = fork();

			if (g > 0) {
				close(sockfd);
				waitpid(g, NULL, 0);
				_exit(0);
			}
		}
		if (dup2(sockfd, 3) < 0)
			_exit(127);
		setenv("WARDEN_GUARD_FD", "3", 1);
		close_range(4, ~0u, 0);
		execv(spec->argv[0], spec->argv);
		_exit(127);
	}
	if (s)
		s->spawned++;
	*pid = p;
	return 0;
}

/* ---- events ---- */

static struct {
	char log[8192];
	unsigned started, restarted, ready, exited, killed, refused;
} ev;

static void
on_event(void *arg, const char *classifier, const char *event, const char *detail)
{
	size_t n = strlen(ev.log);

	snprintf(ev.log + n, sizeof(ev.log) - n, "[%s %s: %s]", classifier, event, detail);
	if (strcmp(event, "started") == 0)
		ev.started++;
	else if (strcmp(event, "restarted") == 0)
		ev.restarted++;
	else if (strcmp(event, "ready") == 0)
		ev.ready++;
	else if (strcmp(event, "exited") == 0)
		ev.exited++;
	else if (strcmp(event, "killed") == 0)
		ev.killed++;
	else if (strcmp(event, "refused") == 0)
		ev.refused++;
}

static void
events_reset(void)
{
	memset(&ev, 0, sizeof(ev));
}

/* ---- running the loop ---- */

static bool (*run_cond)(void *);
static void *run_arg;
static uint64_t run_deadline;
static bool run_timed_out;

static void
run_check(void *arg)
{
	if (run_cond && run_cond(run_arg)) {
		evloop_stop(loop);
		return;
	}
	if (now_ns() >= run_deadline) {
		run_timed_out = true;
		evloop_stop(loop);
	}
}

/* Run the loop until cond(arg) holds (true) or timeout_ms passes (false). */
static bool
run_until(bool (*cond)(void *), void *arg, unsigned timeout_ms)
{
	struct werr err;

	run_cond = cond;
	run_arg = arg;
	run_deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	run_timed_out = false;
	if (cond && cond(arg))
		return true;
	evloop_set_tick(loop, 5, run_check, NULL);
	evloop_set_after(loop, run_check, NULL);
	if (evloop_run(loop, &err) < 0)
		printf("# evloop_run: %s\n", err.msg);
	evloop_set_tick(loop, 0, NULL, NULL);
	evloop_set_after(loop, NULL, NULL);
	run_cond = NULL;
	return !run_timed_out || (cond && cond(arg));
}

/* ---- calls and what came back ---- */

static bool in_classify;

struct result {
	bool done;
	unsigned ncalls;
	bool inside;		/* done ran inside guard_classify */
	uint64_t at_ns;
	enum guard_decision decision;
	enum tier tier;
	char reason[300];
	struct guard_finding findings[16];
	size_t nfindings;
	struct guard_redaction redactions[16];
	size_t nredactions;
	size_t nper;
	char per_name[GUARD_POOL_MAX][64];
	enum tier per_tier[GUARD_POOL_MAX];
	uint64_t per_latency[GUARD_POOL_MAX];
};

static void
on_done(void *arg, const struct guard_verdict *v)
{
	struct result *r = arg;

	r->ncalls++;
	r->done = true;
	r->inside = in_classify;
	r->at_ns = now_ns();
	r->decision = v->decision;
	r->tier = v->tier;
	snprintf(r->reason, sizeof(r->reason), "%s", v->reason);
	r->nfindings = v->nfindings < 16 ? v->nfindings : 16;
	if (r->nfindings)
		memcpy(r->findings, v->findings, r->nfindings * sizeof(*r->findings));
	r->nredactions = v->nredactions < 16 ? v->nredactions : 16;
	if (r->nredactions)
		memcpy(r->redactions, v->redactions, r->nredactions * sizeof(*r->redactions));
	r->nper = v->nper;
	for (size_t i = 0; i < v->nper; i++) {
		snprintf(r->per_name[i], sizeof(r->per_name[i]), "%s", v->per[i].name);
		r->per_tier[i] = v->per[i].tier;
		r->per_latency[i] = v->per[i].latency_us;
	}
}

static bool
is_done(void *arg)
{
	return ((struct result *)arg)->done;
}

struct many {
	struct result *r;
	size_t n;
};

static bool
all_done(void *arg)
{
	struct many *m = arg;

	for (size_t i = 0; i < m->n; i++)
		if (!m->r[i].done)
			return false;
	return true;
}

static struct guard_call *
call(struct guard_pool *p, const char *body, unsigned deadline_ms, struct result *r)
{
	struct guard_request req = {
		.deadline_ms = deadline_ms, .format = "anthropic", .provider = "anthropic",
		.host = "api.anthropic.com", .path = "/v1/messages", .model = "m",
		.sandbox = "test", .binary = "/usr/bin/python3", .pid = 42,
		.body = body, .body_len = strlen(body),
	};
	struct guard_call *c;

	memset(r, 0, sizeof(*r));
	in_classify = true;
	c = guard_classify(p, &req, on_done, r);
	in_classify = false;
	return c;
}

/* One call, run to completion. */
static void
classify_now(struct guard_pool *p, const char *body, unsigned deadline_ms, struct result *r)
{
	call(p, body, deadline_ms, r);
	if (!run_until(is_done, r, deadline_ms + 5000))
		printf("# call did not complete\n");
}

static struct guard_pool *
pool(const struct guard_spec *specs, size_t n, struct spawner *s)
{
	struct werr err = { 0 };
	struct guard_pool *p;

	events_reset();
	p = guard_pool_new(loop, specs, n, spawn, s, on_event, NULL, &err);
	if (!p)
		printf("# guard_pool_new: %s\n", err.msg);
	return p;
}

static unsigned
restarts(const struct guard_pool *p)
{
	unsigned r = 0;

	guard_pool_stats(p, NULL, &r);
	return r;
}

static bool
pool_ready(void *arg)
{
	struct guard_pool *p = arg;
	unsigned running = 0;

	guard_pool_stats(p, &running, NULL);
	return running > 0;
}

#define SERVER(...) (char *[]){ server_path, __VA_ARGS__, NULL }

/* ---- the tests ---- */

static void
test_python_allow(void)
{
	char *argv[] = { "/usr/bin/python3", python_script, NULL };
	struct guard_spec spec = { .name = "terms", .argv = argv };
	const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Notes on Project "
	    "Nightingale: PROJECT NIGHTINGALE ships in May\"}]}";
	struct guard_pool *p;
	struct result r;
	const char *at;

	begin("python classifier: allow with a tier");
	p = pool(&spec, 1, NULL);
	if (!CHECK(p != NULL, "pool started"))
		return;
	CHECK(ev.started == 1, "started event (%s)", ev.log);
	call(p, body, 5000, &r);
	CHECK(!r.done, "done does not run inside guard_classify");
	run_until(is_done, &r, 10000);
	CHECK(r.done && !r.inside, "done ran from the loop");
	CHECK_INT(r.decision, GUARD_ALLOW);
	CHECK_INT(r.tier, TIER_CONFIDENTIAL);
	CHECK_INT(r.nfindings, 2);
	at = strstr(body, "Project");
	CHECK(r.nfindings == 2 && r.findings[0].start == (size_t)(at - body) &&
	    r.findings[0].end == r.findings[0].start + strlen("project nightingale") &&
	    strcmp(r.findings[0].type, "custom.term") == 0 &&
	    strcmp(r.findings[0].cls, "custom") == 0 &&
	    r.findings[0].tier == TIER_CONFIDENTIAL, "finding: byte span of the term, type, class");
	CHECK(r.nredactions == 2 && strcmp(r.redactions[0].placeholder, "[TERM_1]") == 0 &&
	    strcmp(r.redactions[1].placeholder, "[TERM_1]") == 0 &&
	    r.redactions[1].start == (size_t)(strstr(body, "PROJECT") - body),
	    "redactions: both occurrences, one placeholder");
	CHECK(r.nper == 1 && strcmp(r.per_name[0], "terms") == 0 && r.per_latency[0] > 0,
	    "per-classifier line: name and latency (%llu us)",
	    (unsigned long long)r.per_latency[0]);
	CHECK(ev.ready == 1 && strstr(ev.log, "example-terms"), "ready event names the "
	    "classifier's own name (%s)", ev.log);

	classify_now(p, "{\"content\":\"nothing to see\"}", 5000, &r);
	CHECK(r.decision == GUARD_ALLOW && r.tier == TIER_PUBLIC && r.nfindings == 0 &&
	    r.nredactions == 0, "a clean body is public, no findings");
	classify_now(p, "", 5000, &r);
	CHECK(r.decision == GUARD_ALLOW && r.tier == TIER_PUBLIC, "an empty body");
	{
		/* Binary bytes and a UTF-8 prefix: the span is still in bytes. */
		const char bin[] = "\xff\xfe\xc3\xa9 project nightingale";

		classify_now(p, bin, 5000, &r);
		CHECK(r.nfindings == 1 && r.findings[0].start == 5, "span in bytes after binary "
		    "and multi-byte prefix (start %zu)", r.nfindings ? r.findings[0].start : 0);
	}
	CHECK_INT(restarts(p), 0);
	guard_pool_free(p);
}

static void
test_chain(void)
{
	char *py[] = { "/usr/bin/python3", python_script, "--terms", terms_file, NULL };
	struct guard_spec specs[2] = {
		{ .name = "terms", .argv = py },
		{ .name = "c", .argv = SERVER("--tier", "internal", "--word", "heron", "--ph",
		    "[BIRD]", "--deny-on", "forbidden") },
	};
	const char *body = "{\"content\":\"the Blue Heron plan, a heron, the acme merger\"}";
	struct guard_pool *p;
	struct result r;
	size_t bh = (size_t)(strstr(body, "Blue Heron") - body);

	begin("chain: highest tier wins, redactions merged, any deny denies");
	p = pool(specs, 2, NULL);
	if (!CHECK(p != NULL, "pool of two started"))
		return;
	classify_now(p, body, 5000, &r);
	CHECK_INT(r.decision, GUARD_ALLOW);
	CHECK_INT(r.tier, TIER_RESTRICTED);
	CHECK(r.nper == 2 && r.per_tier[0] == TIER_RESTRICTED && r.per_tier[1] == TIER_INTERNAL,
	    "per-classifier tiers: restricted, internal");
	/* Python: "Blue Heron", "acme merger"; C (case-sensitive): the lower-case "heron". */
	CHECK_INT(r.nfindings, 3);
	CHECK(r.nfindings == 3 && r.findings[0].start < r.findings[1].start &&
	    r.findings[1].start < r.findings[2].start, "findings from both, sorted by start");
	CHECK_INT(r.nredactions, 3);
	CHECK(r.nredactions == 3 && r.redactions[0].start == bh && r.redactions[0].end == bh + 10 &&
	    strcmp(r.redactions[1].placeholder, "[BIRD]") == 0, "redactions from both");

	/* Overlapping spans from the two classifiers merge, the first placeholder kept. */
	body = "{\"content\":\"about blue heron\"}";
	classify_now(p, body, 5000, &r);
	bh = (size_t)(strstr(body, "blue heron") - body);
	CHECK(r.nredactions == 1 && r.redactions[0].start == bh &&
	    r.redactions[0].end == bh + 10 && strcmp(r.redactions[0].placeholder, "[TERM_1]") == 0,
	    "overlapping redactions merged into one span, first placeholder ([%zu,%zu) %s)",
	    r.nredactions ? r.redactions[0].start : 0, r.nredactions ? r.redactions[0].end : 0,
	    r.nredactions ? r.redactions[0].placeholder : "");
	CHECK_INT(r.nfindings, 2);

	body = "{\"content\":\"heronheron, then blue heron\"}";
	classify_now(p, body, 5000, &r);
	CHECK(r.nredactions == 3, "adjacent spans stay apart (%zu)", r.nredactions);

	classify_now(p, "{\"content\":\"forbidden words, q3 roadmap\"}", 5000, &r);
	CHECK_INT(r.decision, GUARD_DENY);
	CHECK(strstr(r.reason, "classifier c denied") != NULL, "deny reason names the "
	    "classifier (%s)", r.reason);
	CHECK_INT(r.tier, TIER_INTERNAL);
	guard_pool_free(p);
}

static void
test_timeout(void)
{
	struct guard_spec spec = { .name = "slow", .argv = SERVER("--sleep-on", "slow", "1000") };
	struct guard_pool *p;
	struct result r;
	uint64_t t0;

	begin("timeout: error within the deadline, late reply ignored");
	p = pool(&spec, 1, NULL);
	if (!CHECK(p != NULL, "pool started"))
		return;
	run_until(pool_ready, p, 5000);
	t0 = now_ns();
	classify_now(p, "slow request", 200, &r);
	CHECK_INT(r.decision, GUARD_ERROR);
	CHECK_INT(r.tier, TIER_RESTRICTED);
	CHECK(r.at_ns - t0 >= 190000000ull && r.at_ns - t0 < 700000000ull,
	    "failed at the deadline (%llu ms)", (unsigned long long)((r.at_ns - t0) / 1000000));
	CHECK(strstr(r.reason, "did not answer within 200 ms") != NULL, "reason: %s", r.reason);
	/* The classifier answers late; that answer is dropped, and the next call works. */
	classify_now(p, "fast", 3000, &r);
	CHECK(r.decision == GUARD_ALLOW, "next call answered after the late reply (%s)", r.reason);
	CHECK_INT(restarts(p), 0);
	CHECK_INT(ev.killed, 0);
	guard_pool_free(p);

	/* The classifier's own timeout is shorter than the call's deadline. */
	spec.timeout_ms = 150;
	p = pool(&spec, 1, NULL);
	run_until(pool_ready, p, 5000);
	t0 = now_ns();
	classify_now(p, "slow", 5000, &r);
	CHECK(r.decision == GUARD_ERROR && r.at_ns - t0 < 600000000ull &&
	    strstr(r.reason, "within 150 ms"), "spec timeout_ms applies (%s)", r.reason);
	guard_pool_free(p);
}

static void
test_crash(void)
{
	struct guard_spec spec = { .name = "crashy", .argv = SERVER("--exit-on", "boom") };
	struct guard_pool *p;
	struct result r, r2;
	uint64_t t0;

	begin("crash mid-request: error at once, restart, next call answered");
	p = pool(&spec, 1, NULL);
	if (!CHECK(p != NULL, "pool started"))
		return;
	run_until(pool_ready, p, 5000);
	t0 = now_ns();
	classify_now(p, "boom", 5000, &r);
	CHECK_INT(r.decision, GUARD_ERROR);
	CHECK(r.at_ns - t0 < 1000000000ull, "failed at once (%llu ms), not at the deadline",
	    (unsigned long long)((r.at_ns - t0) / 1000000));
	CHECK(strstr(r.reason, "crashy exited (status 3)") != NULL, "reason: %s", r.reason);
	CHECK(ev.exited == 1 && ev.restarted == 1, "exited and restarted events (%s)", ev.log);
	/* Sent at once: waits in the queue of the starting classifier. */
	classify_now(p, "hello again", 5000, &r);
	CHECK(r.decision == GUARD_ALLOW, "the restarted classifier answers (%s)", r.reason);
	CHECK_INT(restarts(p), 1);

	/* A second death within 10 s: restarted after a delay; calls meanwhile fail at once. */
	classify_now(p, "boom", 5000, &r);
	CHECK(r.decision == GUARD_ERROR, "second crash");
	call(p, "while down", 5000, &r2);
	run_until(is_done, &r2, 2000);
	CHECK(r2.decision == GUARD_ERROR && strstr(r2.reason, "not running"),
	    "a call while it waits to restart fails at once (%s)", r2.reason);
	CHECK(!r2.inside, "and still completes from the loop");
	run_until(pool_ready, p, 3000);
	classify_now(p, "back", 5000, &r);
	CHECK(r.decision == GUARD_ALLOW && restarts(p) == 2, "restarted after the delay");
	guard_pool_free(p);
}

static void
test_bad_replies(void)
{
	struct guard_spec spec = { .name = "liar", .argv = SERVER("--malformed-on", "garble",
	    "--wrong-id-on", "stranger", "--oversize-on", "huge") };
	static const struct {
		const char *body, *reason;
	} cases[] = {
		{ "garble", "readable id" },
		{ "stranger", "was not asked" },
		{ "huge", "malformed frame" },
	};
	struct guard_pool *p;
	struct result r;

	begin("malformed, unexpected and oversize replies: error, kill, restart");
	p = pool(&spec, 1, NULL);
	if (!CHECK(p != NULL, "pool started"))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned before = restarts(p);

		run_until(pool_ready, p, 5000);
		classify_now(p, cases[i].body, 5000, &r);
		CHECK(r.decision == GUARD_ERROR && strstr(r.reason, cases[i].reason),
		    "%s -> error (%s)", cases[i].body, r.reason);
		run_until(pool_ready, p, 5000);
		CHECK(restarts(p) == before + 1, "%s -> classifier restarted", cases[i].body);
		classify_now(p, "fine", 5000, &r);
		CHECK(r.decision == GUARD_ALLOW, "then answers again (%s)", r.reason);
	}
	CHECK(ev.killed == 3, "three kill events (%s)", ev.log);
	guard_pool_free(p);
}

static void
test_error_and_max_body(void)
{
	struct guard_spec spec = { .name = "picky", .argv = SERVER("--error-on", "fail",
	    "--max-body", "64") };
	char big[200];
	struct guard_pool *p;
	struct result r;

	begin("error replies and bodies over the classifier's limit");
	p = pool(&spec, 1, NULL);
	if (!CHECK(p != NULL, "pool started"))
		return;
	classify_now(p, "please fail", 5000, &r);
	CHECK(r.decision == GUARD_ERROR && strstr(r.reason, "picky failed: asked to fail"),
	    "decision error carries the classifier's reason (%s)", r.reason);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	classify_now(p, big, 5000, &r);
	CHECK(r.decision == GUARD_ERROR && strstr(r.reason, "larger than this classifier accepts"),
	    "oversize body answered error without classifying (%s)", r.reason);
	classify_now(p, "ok", 5000, &r);
	CHECK(r.decision == GUARD_ALLOW && restarts(p) == 0, "no restart for error replies");
	guard_pool_free(p);
}

static void
test_cancel(void)
{
	struct guard_spec spec = { .name = "slow", .argv = SERVER("--sleep-on", "slow", "300") };
	struct guard_pool *p;
	struct result r, r2;
	struct guard_call *c;

	begin("cancel: done never runs");
	p = pool(&spec, 1, NULL);
	if (!CHECK(p != NULL, "pool started"))
		return;
	c = call(p, "slow", 5000, &r);
	guard_cancel(c);
	call(p, "slow too", 5000, &r2);
	run_until(is_done, &r2, 5000);
	CHECK(!r.done, "cancelled call: done not called");
	CHECK(r2.done && r2.decision == GUARD_ALLOW, "the call after it completes");
	CHECK_INT(restarts(p), 0);
	guard_pool_free(p);

	/* A call decided at once (no classifier) and cancelled before the loop runs. */
	p = pool(NULL, 0, NULL);
	c = call(p, "x", 1000, &r);
	guard_cancel(c);
	call(p, "y", 1000, &r2);
	run_until(NULL, NULL, 100);
	CHECK(!r.done, "cancelled before delivery: done not called");
	CHECK(r2.done && r2.decision == GUARD_ERROR && !r2.inside &&
	    strstr(r2.reason, "no classifier"), "an empty pool fails closed (%s)", r2.reason);
	guard_pool_free(p);
}

static void
test_pipelining(void)
{
	char *py[] = { "/usr/bin/python3", python_script, NULL };
	struct guard_spec rev = { .name = "reverse", .argv = SERVER("--reverse", "10",
	    "--span-all", "--tier", "internal") };
	struct guard_spec terms = { .name = "terms", .argv = py };
	struct result r[10];
	char bodies[10][64];
	struct many m = { r, 10 };
	struct guard_pool *p;
	bool right = true, newest_first = true;

	begin("pipelining: 10 in flight, answered in reverse order");
	p = pool(&rev, 1, NULL);
	if (!CHECK(p != NULL, "pool started"))
		return;
	/* Bodies of different lengths: a reply matched to the wrong call fails its span check. */
	for (int i = 0; i < 10; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "request %d%.*s", i, i, "xxxxxxxxxx");
		call(p, bodies[i], 5000, &r[i]);
	}
	CHECK(run_until(all_done, &m, 10000), "all ten completed");
	for (int i = 0; i < 10; i++) {
		if (r[i].decision != GUARD_ALLOW || r[i].nfindings != 1 ||
		    r[i].findings[0].end != strlen(bodies[i]) || r[i].tier != TIER_INTERNAL) {
			right = false;
			printf("# call %d: %s, %zu findings, %s\n", i,
			    guard_decision_name(r[i].decision), r[i].nfindings, r[i].reason);
		}
		if (i > 0 && r[i].at_ns > r[i - 1].at_ns)
			newest_first = false;
	}
	CHECK(right, "each call got the answer to its own body");
	CHECK(newest_first, "completions came newest first (the reverse server's order)");
	guard_pool_free(p);

	/* The Python classifier reads pipelined requests too. */
	p = pool(&terms, 1, NULL);
	for (int i = 0; i < 10; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "%.*srequest %d%s", i, "xxxxxxxxxx", i,
		    i % 3 == 0 ? " project nightingale" : "");
		call(p, bodies[i], 5000, &r[i]);
	}
	CHECK(run_until(all_done, &m, 10000), "all ten completed (python)");
	right = true;
	for (int i = 0; i < 10; i++) {
		bool has_term = i % 3 == 0;
		size_t start = has_term ? (size_t)(strstr(bodies[i], "project") - bodies[i]) : 0;

		if (r[i].decision != GUARD_ALLOW ||
		    r[i].tier != (has_term ? TIER_CONFIDENTIAL : TIER_PUBLIC) ||
		    r[i].nfindings != (has_term ? 1u : 0u) ||
		    (has_term && r[i].findings[0].start != start))
			right = false;
	}
	CHECK(right, "each call got the answer to its own body (python)");
	guard_pool_free(p);
}

static void
test_peer(void)
{
	struct guard_spec spec = { .name = "proxy-child", .argv = SERVER("--tier", "public") };
	struct spawner s = { .grandchild = true };
	struct guard_pool *p;
	struct result r;

	begin("peer authentication: bytes from another process are refused");
	p = pool(&spec, 1, &s);
	if (!CHECK(p != NULL, "pool started"))
		return;
	classify_now(p, "anything", 3000, &r);
	CHECK(r.decision == GUARD_ERROR, "error, not an answer (%s)", r.reason);
	CHECK(strstr(ev.log, "not from the classifier") != NULL, "killed for the writer's pid "
	    "(%.300s)", ev.log);
	CHECK_INT(ev.ready, 0);
	guard_pool_free(p);
}

static void
test_refused(void)
{
	struct guard_spec spec = { .name = "future", .argv = SERVER("--bad-version") };
	struct guard_pool *p;
	struct result r;

	begin("handshake: a classifier choosing another version is refused");
	p = pool(&spec, 1, NULL);
	if (!CHECK(p != NULL, "pool started"))
		return;
	classify_now(p, "x", 3000, &r);
	CHECK(r.decision == GUARD_ERROR && strstr(r.reason, "version 2"), "error (%s)", r.reason);
	CHECK(ev.refused >= 1, "refused event (%s)", ev.log);
	guard_pool_free(p);
}

static void
test_spawn_failure(void)
{
	char *argv[] = { "/nonexistent/classifier", NULL };
	struct guard_spec specs[2] = {
		{ .name = "ok", .argv = SERVER("--tier", "public") },
		{ .name = "", .argv = argv },
	};
	struct werr err = { 0 };
	struct guard_pool *p;

	begin("pool_new refuses bad specs");
	p = guard_pool_new(loop, specs, 2, spawn, NULL, NULL, NULL, &err);
	CHECK(p == NULL && err.msg[0], "a classifier without a name (%s)", err.msg);
	p = guard_pool_new(loop, specs, GUARD_POOL_MAX + 1, spawn, NULL, NULL, NULL, &err);
	CHECK(p == NULL && strstr(err.msg, "at most"), "too many classifiers (%s)", err.msg);
}

/* ---- the server loop, driven by hand ---- */

static int
echo_tier(void *arg, const struct guard_request *req, struct guard_reply *reply)
{
	reply->decision = GUARD_ALLOW;
	reply->tier = req->body_len > 3 ? TIER_INTERNAL : TIER_PUBLIC;
	return 0;
}

/* Read the next frame from fd (blocking) into buf; the frame before it is dropped. */
static size_t last_frame;

static bool
read_reply(int fd, struct sbuf *buf, struct guard_frame *f)
{
	char chunk[4096];

	memmove(buf->p, buf->p + last_frame, buf->len - last_frame);
	buf->len -= last_frame;
	last_frame = 0;
	for (;;) {
		ssize_t k = guard_frame_parse(buf->p, buf->len, GUARD_MAX_FRAME, f, NULL), n;

		if (k > 0) {
			last_frame = (size_t)k;
			return true;
		}
		if (k < 0)
			return false;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			return false;
		sbuf_add(buf, chunk, (size_t)n);
	}
}

static void
test_serve(void)
{
	int sv[2];
	pid_t pid;
	struct sbuf out, in;
	struct guard_frame f;
	struct guard_hello_reply h;
	struct guard_reply rep;
	int st;
	const char *hdr;

	begin("guard_serve: handshake, bad requests answered by id, oversize bodies skipped");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct guard_server_info info = { .name = "echo", .version = "1", .max_body = 16 };
		struct werr err;

		close(sv[0]);
		_exit(guard_serve(sv[1], &info, echo_tier, NULL, &err) == 0 ? 0 : 1);
	}
	close(sv[1]);
	sbuf_init(&out, 1 << 20);
	sbuf_init(&in, 1 << 20);
	guard_hello_encode(&out);
	/* A request with a malformed header but a readable id. */
	hdr = "{\"type\":\"classify\",\"id\":7}";
	guard_frame_encode(&out, hdr, strlen(hdr), "abc", 3);
	/* A body over max_body (16): skipped, answered error. */
	hdr = "{\"type\":\"classify\",\"id\":8,\"deadline_ms\":5,\"format\":\"unknown\","
	    "\"destination\":{\"provider\":\"\",\"host\":\"\",\"path\":\"\",\"model\":\"\"},"
	    "\"context\":{\"sandbox\":\"\",\"binary\":\"\",\"pid\":0}}";
	guard_frame_encode(&out, hdr, strlen(hdr), "0123456789abcdefXYZ", 19);
	/* A good one after it: the stream is still in step. */
	guard_frame_encode(&out, hdr, strlen(hdr), "abcd", 4);
	write_all(sv[0], out.p, out.len);

	CHECK(read_reply(sv[0], &in, &f) && guard_hello_reply_decode(&f, &h, NULL, 0) == 0 &&
	    h.version == 1 && strcmp(h.name, "echo") == 0, "hello reply");
	CHECK(read_reply(sv[0], &in, &f) && guard_reply_decode(&f, 3, &rep, NULL, 0) == 0 &&
	    rep.id == 7 && rep.decision == GUARD_ERROR && strstr(rep.reason, "malformed request"),
	    "malformed request answered error with its id (%s)", rep.reason);
	CHECK(read_reply(sv[0], &in, &f) && guard_reply_decode(&f, 19, &rep, NULL, 0) == 0 &&
	    rep.id == 8 && rep.decision == GUARD_ERROR && strstr(rep.reason, "larger than"),
	    "oversize body answered error (%s)", rep.reason);
	CHECK(read_reply(sv[0], &in, &f) && guard_reply_decode(&f, 4, &rep, NULL, 0) == 0 &&
	    rep.id == 8 && rep.decision == GUARD_ALLOW && rep.tier == TIER_INTERNAL,
	    "the next request is classified");
	/* A request without a readable id ends the loop. */
	out.len = 0;
	hdr = "{\"type\":\"classify\"";
	guard_frame_encode(&out, hdr, strlen(hdr), NULL, 0);
	write_all(sv[0], out.p, out.len);
	CHECK(!read_reply(sv[0], &in, &f), "no id: the server closes");
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "and returns -1");
	close(sv[0]);
	in.len = 0;
	last_frame = 0;

	/* Clean end: EOF between frames returns 0. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct guard_server_info info = { .name = "echo", .version = "1", .max_body = 16 };
		struct werr err;

		close(sv[0]);
		_exit(guard_serve(sv[1], &info, echo_tier, NULL, &err) == 0 ? 0 : 1);
	}
	close(sv[1]);
	out.len = 0;
	guard_hello_encode(&out);
	write_all(sv[0], out.p, out.len);
	read_reply(sv[0], &in, &f);
	shutdown(sv[0], SHUT_WR);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "EOF between frames: guard_serve returns 0");
	close(sv[0]);
	in.len = 0;
	last_frame = 0;

	/* A proxy offering only other versions gets an error hello. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct guard_server_info info = { .name = "echo", .version = "1", .max_body = 16 };
		struct werr err;

		close(sv[0]);
		_exit(guard_serve(sv[1], &info, echo_tier, NULL, &err) == 0 ? 0 : 1);
	}
	close(sv[1]);
	out.len = 0;
	hdr = "{\"type\":\"hello\",\"protocol\":\"warden-guard\",\"versions\":[2]}";
	guard_frame_encode(&out, hdr, strlen(hdr), NULL, 0);
	write_all(sv[0], out.p, out.len);
	CHECK(read_reply(sv[0], &in, &f) && guard_hello_reply_decode(&f, &h, NULL, 0) == 0 &&
	    h.version == 0 && strstr(h.error, "no common protocol version"),
	    "version mismatch: error hello (%s)", h.error);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "and the server stops");
	close(sv[0]);
	sbuf_free(&out);
	sbuf_free(&in);
}

int
main(int argc, char **argv)
{
	struct werr err;

	if (argc != 2 || !realpath(argv[1], server_path) ||
	    !realpath("examples/classifier.py", python_script) ||
	    !realpath("examples/classifier-terms.txt", terms_file)) {
		fprintf(stderr, "usage: test_guard_client PATH-TO-guard_test_server "
		    "(from the source root)\n");
		return 2;
	}
	if (access("/usr/bin/python3", X_OK) != 0) {
		printf("1..0 # SKIP no /usr/bin/python3\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	loop = evloop_new(&err);
	if (!loop)
		return 1;
	test_python_allow();
	test_chain();
	test_timeout();
	test_crash();
	test_bad_replies();
	test_error_and_max_body();
	test_cancel();
	test_pipelining();
	test_peer();
	test_refused();
	test_spawn_failure();
	test_serve();
	evloop_free(loop);
	printf("1..%d\n%d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
