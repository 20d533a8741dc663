/*
 * warden-guard: the built-in classifier as a guard-protocol server
 * (docs/guard-protocol.md, docs/classifier.md).
 *
 *   warden-guard [--rules FILE | --rules-fd N] [--version]
 *
 * The supervisor starts it sandboxed, with the connection to the proxy on
 * the fd named by WARDEN_GUARD_FD (default 3), and the rules (the
 * policy's custom detection rules, as JSON) in a file or on an fd.  The
 * rules are compiled once, before the first request; bad rules are a
 * one-line message on stderr and exit status 1, so the supervisor can
 * report them instead of starting a classifier that would deny everything.
 * End of stream on the connection is a normal exit (0); a broken stream is
 * exit status 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/util.h"
#include "classify.h"
#include "guard_serve.h"

#ifndef WARDEN_GUARD_VERSION
#define WARDEN_GUARD_VERSION "0.1.0"
#endif

#define RULES_MAX (4u << 20)

static void
usage(FILE *f)
{
	fprintf(f, "usage: warden-guard [--rules FILE | --rules-fd N] [--version]\n");
}

/* Read all of fd (at most RULES_MAX bytes) into an owned, NUL-terminated buffer. */
static int
read_fd(int fd, char **out, size_t *len, struct werr *err)
{
	struct sbuf b;

	sbuf_init(&b, RULES_MAX);
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sbuf_free(&b);
			return werr_sys(err, "read rules from fd %d", fd);
		}
		if (n == 0)
			break;
		sbuf_add(&b, chunk, (size_t)n);
		if (b.overflow) {
			sbuf_free(&b);
			return werr_set(err, "rules on fd %d are larger than %u bytes", fd, RULES_MAX);
		}
	}
	sbuf_add(&b, "", 1);
	*len = b.len - 1;
	*out = b.p;
	return 0;
}

static int
parse_fd(const char *s, int *fd)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > 1u << 20)
		return -1;
	*fd = (int)v;
	return 0;
}

/* classify_result -> reply: the result's arrays move into the reply (the loop frees them). */
static int
on_request(void *arg, const struct guard_request *req, struct guard_reply *reply)
{
	struct classify_rules *rules = arg;
	struct classify_result res;
	struct werr err = { 0 };

	if (classify_body(rules, req->body, req->body_len, &res, &err) < 0) {
		snprintf(reply->reason, sizeof(reply->reason), "%s", err.msg);
		return -1;
	}
	reply->decision = GUARD_ALLOW;
	reply->tier = res.tier;
	reply->findings = steal_pointer(&res.findings);
	reply->nfindings = res.nfindings;
	reply->redactions = steal_pointer(&res.redactions);
	reply->nredactions = res.nredactions;
	classify_result_free(&res);
	return 0;
}

int
main(int argc, char **argv)
{
	struct classify_config cfg = { .base64_min_tier = TIER_INTERNAL };
	struct guard_server_info info = { "warden-guard", WARDEN_GUARD_VERSION,
		GUARD_MAX_FRAME - GUARD_MAX_HEADER - 4 };
	struct classify_rules *rules;
	struct werr err = { 0 };
	const char *rules_path = NULL, *env;
	char *text = NULL;
	size_t len = 0;
	void *storage = NULL;
	int rules_fd = -1, fd = 3, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("warden-guard %s\n", WARDEN_GUARD_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc && rules_fd < 0 &&
		    !rules_path) {
			rules_path = argv[++i];
		} else if (strcmp(argv[i], "--rules-fd") == 0 && i + 1 < argc && rules_fd < 0 &&
		    !rules_path && parse_fd(argv[i + 1], &rules_fd) == 0) {
			i++;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if ((env = getenv("WARDEN_GUARD_FD")) && parse_fd(env, &fd) < 0) {
		fprintf(stderr, "warden-guard: WARDEN_GUARD_FD=%s is not a file descriptor\n", env);
		return 1;
	}
	if (rules_path || rules_fd >= 0) {
		rc = rules_path ? read_file(rules_path, RULES_MAX, &text, &len, &err) :
		    read_fd(rules_fd, &text, &len, &err);
		if (rc == 0) {
			rc = classify_config_load(text, len, &cfg, &storage, &err);
			if (rc < 0)
				werr_prefix(&err, "rules %s", rules_path ? rules_path : "(fd)");
		}
		free(text);
		if (rules_fd >= 0)
			close(rules_fd);
		if (rc < 0) {
			fprintf(stderr, "warden-guard: %s\n", err.msg);
			return 1;
		}
	}
	rules = classify_rules_new(&cfg, &err);
	classify_config_free(&cfg, storage);
	if (!rules) {
		fprintf(stderr, "warden-guard: rules: %s\n", err.msg);
		return 1;
	}
	rc = guard_serve(fd, &info, on_request, rules, &err);
	classify_rules_free(rules);
	if (rc < 0) {
		fprintf(stderr, "warden-guard: %s\n", err.msg);
		return 1;
	}
	return 0;
}
