/*
 * warden policy check FILE | show FILE | show NAME | set NAME FILE | default
 *
 * `set` and `show NAME` talk to a running sandbox's supervisor over its
 * control socket; the file is read here, with the caller's rights, and
 * validated by the supervisor, which answers with the same diagnostics
 * `check` prints.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../sandbox/sandbox_control.h"
#include "../sandbox/sandbox_state.h"

static const char usage[] =
    "usage: warden policy check FILE      validate; exit 0 when valid, 1 when not\n"
    "       warden policy show FILE       print the normalized policy and its SHA-256 hash\n"
    "       warden policy show NAME       print the policy a running sandbox enforces,\n"
    "                                     with its revision and hash\n"
    "       warden policy set NAME FILE   replace a running sandbox's network_policies\n"
    "                                     (a new revision; other sections are fixed)\n"
    "       warden policy default         print the embedded default policy\n";

/* A running sandbox by this name, and no file that the name could mean instead. */
static bool
is_sandbox(const char *arg, char *dir, size_t n)
{
	struct sb_state st;
	struct werr err = { 0 };
	struct stat sb;

	if (strchr(arg, '/') || state_check_name(arg) || stat(arg, &sb) == 0)
		return false;
	return state_load(arg, &st, dir, n, &err) == 0;
}

/* Send a request; print the body of the reply.  Exit 0 on "ok", 1 on "error". */
static int
call(const char *name, const char *req, size_t len, bool print_ok_body)
{
	struct sb_state st;
	struct werr err = { 0 };
	char dir[4096], *reply = NULL, *body;
	size_t rlen;
	bool ok;

	if (state_load(name, &st, dir, sizeof(dir), &err) < 0 ||
	    control_call(dir, req, len, &reply, &rlen, &err) < 0) {
		fprintf(stderr, "warden policy: %s\n", err.msg);
		return 2;
	}
	body = strchr(reply, '\n');
	body = body ? body + 1 : reply + rlen;
	ok = strncmp(reply, "ok\n", 3) == 0;
	if (!ok)
		fputs(body, stderr);
	else if (print_ok_body)
		fputs(body, stdout);
	free(reply);
	return ok ? 0 : 1;
}

static int
policy_set(const char *name, const char *file)
{
	struct werr err = { 0 };
	char *data = NULL, *req;
	size_t len = 0, hl;
	int r;

	if (state_check_name(name)) {
		fprintf(stderr, "warden policy set: '%s' is not a sandbox name\n", name);
		return 2;
	}
	if (read_file(file, POLICY_MAX_BYTES, &data, &len, &err) < 0) {
		fprintf(stderr, "warden policy set: %s\n", err.msg);
		return 1;
	}
	hl = strlen("policy-set ") + strlen(file) + 1;
	req = xmalloc(hl + len + 1);
	snprintf(req, hl + 1, "policy-set %s\n", file);
	memcpy(req + hl, data, len);
	r = call(name, req, hl + len, false);
	if (r == 0) {
		/* Show what is now enforced, in one line. */
		char *reply = NULL, dir[4096];
		size_t rlen;
		struct sb_state st;

		if (state_load(name, &st, dir, sizeof(dir), &err) == 0 &&
		    control_call(dir, "policy-show\n", 12, &reply, &rlen, &err) == 0) {
			const char *rev = strstr(reply, "revision="), *h = strstr(reply, "hash=");
			if (rev && h)
				printf("%s: policy revision %.*s applied (sha256:%.64s)\n", name,
				    (int)strcspn(rev + 9, "\n"), rev + 9, h + 5);
		}
		free(reply);
	}
	free(req);
	free(data);
	return r;
}

int
cmd_policy(int argc, char **argv)
{
	struct policy p;
	char hash[65], dir[4096];

	if (argc < 2 || wants_help(argc, argv)) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "default") == 0 && argc == 2) {
		fputs(policy_default_yaml(), stdout);
		return 0;
	}
	if (strcmp(argv[1], "set") == 0 && argc == 4)
		return policy_set(argv[2], argv[3]);
	if (strcmp(argv[1], "show") == 0 && argc == 3 && is_sandbox(argv[2], dir, sizeof(dir))) {
		char *reply = NULL;
		size_t rlen;
		struct werr err = { 0 };

		if (control_call(dir, "policy-show\n", 12, &reply, &rlen, &err) < 0) {
			fprintf(stderr, "warden policy: %s\n", err.msg);
			return 2;
		}
		if (strncmp(reply, "ok\n", 3) != 0) {
			fputs(reply, stderr);
			free(reply);
			return 1;
		}
		{
			const char *rev = strstr(reply, "revision="), *h = strstr(reply, "hash=");
			const char *yaml = strstr(reply, "\n\n");
			printf("# sandbox %s, revision %.*s\n# sha256:%.64s\n%s", argv[2],
			    rev ? (int)strcspn(rev + 9, "\n") : 1, rev ? rev + 9 : "?",
			    h ? h + 5 : "?", yaml ? yaml + 2 : "");
		}
		free(reply);
		return 0;
	}
	if ((strcmp(argv[1], "check") == 0 || strcmp(argv[1], "show") == 0) && argc == 3) {
		if (load_policy(argv[2], &p) < 0)
			return 1;
		policy_hash(&p, hash);
		if (strcmp(argv[1], "check") == 0) {
			printf("%s: valid (sha256:%s)\n", argv[2], hash);
		} else {
			char *c = policy_canonical(&p);
			printf("# sha256:%s\n%s", hash, c);
			free(c);
		}
		policy_free(&p);
		return 0;
	}
	fputs(usage, stderr);
	return 2;
}
