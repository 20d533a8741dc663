/*
 * warden approvals [NAME] [-f] [--json]
 * warden approve [NAME/]ID [--once | --for DURATION | --always]
 * warden deny [NAME/]ID [--reason TEXT]
 *
 * The human side of change under control (docs/approvals.md).  Each
 * running sandbox's supervisor keeps its pending items; these commands
 * ask it over its control socket, which lives on the host and which
 * nothing inside a sandbox can reach.  An id names its sandbox's item
 * alone (ids are random), so `approve ID` asks every running sandbox of
 * the user until one knows it.
 *
 * Everything the agent wrote (intent, binary, host, entry) is shown as
 * untrusted text: control bytes are escaped so that it cannot move the
 * cursor, rewrite the line above or pretend to be warden's own output.
 *
 * Exit status: 0 done, 1 refused (unknown id, already decided, the new
 * policy invalid), 125 warden failed (no control socket answered).
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../sandbox/sandbox_control.h"
#include "../sandbox/sandbox_state.h"

static const char usage_list[] =
    "usage: warden approvals [NAME] [-f] [--json]\n\n"
    "List what waits for a decision in running sandboxes (all of yours, or NAME):\n"
    "proposals the agent made at http://policy.local and requests held by\n"
    "approvals.mode: ask.  -f keeps following and prints new items as they come;\n"
    "--json prints one JSON object per item.\n";
static const char usage_approve[] =
    "usage: warden approve [NAME/]ID [--once | --for DURATION | --always]\n\n"
    "  --once           let one connection through (default for held requests)\n"
    "  --for DURATION   let matching connections through until it expires (30s, 5m, 2h)\n"
    "  --always         make it part of the policy: a new revision and hash, applied live\n"
    "                   (default for proposals)\n";
static const char usage_deny[] =
    "usage: warden deny [NAME/]ID [--reason TEXT]\n\n"
    "Refuse it; the reason is returned to the agent.\n";

/*
 * Untrusted text on the terminal: printable bytes as they are, control
 * bytes escaped; quoted (inside "...") also escapes quotes and backslashes.
 */
static void
put_text(FILE *f, const char *s, bool quoted)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else if (quoted && (c == '"' || c == '\\'))
			fprintf(f, "\\%c", c);
		else
			fputc(c, f);
	}
}

static void
put_shown(FILE *f, const char *s)
{
	put_text(f, s, false);
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void
put_duration(FILE *f, long long ms)
{
	long long s = ms / 1000;

	if (s < 60)
		fprintf(f, "%llds", s);
	else if (s < 3600)
		fprintf(f, "%lldm%02llds", s / 60, s % 60);
	else
		fprintf(f, "%lldh%02lldm", s / 3600, s / 60 % 60);
}

static void
print_item(const char *sandbox, json_t *it)
{
	json_t *risks = json_object_get(it, "risks");
	const char *kind = jstr(it, "kind"), *diff = jstr(it, "diff");
	size_t i;
	json_t *r;

	printf("%s  %s  sandbox %s  age ", jstr(it, "id"), kind, sandbox);
	put_duration(stdout, (long long)json_integer_value(json_object_get(it, "age_ms")));
	printf("  expires in ");
	put_duration(stdout, (long long)json_integer_value(json_object_get(it, "expires_in_ms")));
	printf("\n  binary:  ");
	put_shown(stdout, json_is_string(json_object_get(it, "binary")) ? jstr(it, "binary") :
	    "(unknown)");
	printf(" (pid %lld)\n", (long long)json_integer_value(json_object_get(it, "pid")));
	printf("  wants:   ");
	if (json_is_string(json_object_get(it, "method"))) {
		/* A request an endpoint's rules refused. */
		put_shown(stdout, jstr(it, "method"));
		printf(" ");
		put_shown(stdout, jstr(it, "path"));
		printf(" on ");
	} else if (json_is_string(json_object_get(it, "provider"))) {
		/* A model request the privacy router refused. */
		printf("a ");
		put_shown(stdout, jstr(it, "tier"));
		printf(" model request to provider ");
		put_shown(stdout, jstr(it, "provider"));
		printf(" via ");
	}
	put_shown(stdout, jstr(it, "host"));
	printf(":%lld", (long long)json_integer_value(json_object_get(it, "port")));
	if (strcmp(kind, "proposal") == 0) {
		printf("  (network_policies entry '");
		put_shown(stdout, jstr(it, "name"));
		printf("')\n  change:\n");
		for (const char *l = diff; *l;) {
			size_t n = strcspn(l, "\n");
			char *line = xstrndup(l, n);

			printf("    ");
			put_shown(stdout, line);
			printf("\n");
			free(line);
			l += n + (l[n] == '\n');
		}
	} else {
		long long c = (long long)json_integer_value(json_object_get(it, "coalesced"));
		printf("  (%lld request%s held)\n  ", c, c == 1 ? "" : "s");
		put_shown(stdout, diff);
		printf("\n");
	}
	if (json_is_string(json_object_get(it, "intent"))) {
		printf("  intent (untrusted, from the agent): \"");
		put_text(stdout, jstr(it, "intent"), true);
		printf("\"\n");
	}
	json_array_foreach(risks, i, r) {
		printf("  %s ", i ? "       " : "risks: ");
		put_shown(stdout, json_string_value(r));
		printf("\n");
	}
	printf("  decide:  warden approve %s [--once | --for 10m | --always]   "
	    "warden deny %s [--reason TEXT]\n\n", jstr(it, "id"), jstr(it, "id"));
}

/* One control request to one sandbox; the reply (owned) or NULL with err. */
static char *
ask(const char *name, const char *req, size_t len, struct werr *err)
{
	struct sb_state st;
	char dir[4096], *reply = NULL;
	size_t rlen;

	if (state_load(name, &st, dir, sizeof(dir), err) < 0 ||
	    control_call(dir, req, len, &reply, &rlen, err) < 0)
		return NULL;
	return reply;
}

static int
sandboxes(const char *only, struct strv *names)
{
	struct werr err = { 0 };

	if (only) {
		if (state_check_name(only)) {
			fprintf(stderr, "warden: '%s' is not a sandbox name\n", only);
			return -1;
		}
		strv_push(names, only);
		return 0;
	}
	if (state_list(names, &err) < 0) {
		fprintf(stderr, "warden: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/*
 * One pass over the sandboxes: print the items not in seen (and add
 * them).  Returns how many sandboxes answered, or -1 when one named
 * explicitly did not.
 */
static int
list_once(const char *only, bool as_json, struct strv *seen, size_t *printed)
{
	struct strv names = { 0 };
	int answered = 0;

	if (sandboxes(only, &names) < 0)
		return -1;
	for (size_t i = 0; i < names.n; i++) {
		struct werr err = { 0 };
		char *reply = ask(names.v[i], "approvals-list", 14, &err);
		const char *l;

		if (!reply || strncmp(reply, "ok\n", 3) != 0) {
			if (only) {
				fprintf(stderr, "warden approvals: %s: %s", names.v[i],
				    reply ? reply : err.msg);
				if (!reply)
					fputc('\n', stderr);
				free(reply);
				strv_free(&names);
				return -1;
			}
			free(reply);
			continue;
		}
		answered++;
		for (l = reply + 3; *l;) {
			size_t n = strcspn(l, "\n");
			json_t *it = json_loadb(l, n, 0, NULL);

			l += n + (l[n] == '\n');
			if (!it)
				continue;
			if (!strv_contains(seen, jstr(it, "id"))) {
				strv_push(seen, jstr(it, "id"));
				(*printed)++;
				if (as_json) {
					char *s;
					json_object_set_new(it, "sandbox", json_string(names.v[i]));
					s = json_dumps(it, JSON_COMPACT | JSON_PRESERVE_ORDER);
					if (s)
						puts(s);
					free(s);
				} else {
					print_item(names.v[i], it);
				}
			}
			json_decref(it);
		}
		free(reply);
	}
	fflush(stdout);
	strv_free(&names);
	return answered;
}

int
cmd_approvals(int argc, char **argv)
{
	const char *only = NULL;
	bool follow = false, as_json = false;
	struct strv seen = { 0 };
	size_t printed = 0;
	int r;

	if (wants_help(argc, argv)) {
		fputs(usage_list, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0) {
			follow = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			as_json = true;
		} else if (argv[i][0] != '-' && !only) {
			only = argv[i];
		} else {
			fputs(usage_list, stderr);
			return 2;
		}
	}
	r = list_once(only, as_json, &seen, &printed);
	if (r < 0) {
		strv_free(&seen);
		return WEXIT_FAILURE;
	}
	if (!follow) {
		if (printed == 0 && !as_json)
			printf("nothing waits for a decision%s%s\n", only ? " in " : "", only ? only : "");
		strv_free(&seen);
		return 0;
	}
	/*
	 * The control socket answers one request at a time: following is
	 * asking again every half second and printing what is new.
	 */
	for (;;) {
		struct timespec ts = { 0, 500 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		if (list_once(only, as_json, &seen, &printed) < 0 && only)
			break;
	}
	strv_free(&seen);
	return WEXIT_FAILURE;
}

/* "30s", "5m", "2h", "1d" or plain seconds, in milliseconds; 0 when invalid. */
static uint64_t
parse_duration(const char *s)
{
	char num[24];
	size_t n = strspn(s, "0123456789");
	uint64_t v, mult = 1000;

	if (n == 0 || n >= sizeof(num) || (s[n] && s[n + 1]))
		return 0;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_u64(num, &v) < 0)
		return 0;
	switch (s[n]) {
	case '\0': case 's': mult = 1000; break;
	case 'm': mult = 60000; break;
	case 'h': mult = 3600000; break;
	case 'd': mult = 86400000; break;
	default: return 0;
	}
	if (v == 0 || v > 30ull * 86400000 / mult)
		return 0;
	return v * mult;
}

/*
 * Send "approve ..." or "deny ..." to the sandbox that knows id: the one
 * named, or each running one in turn.
 */
static int
decide(const char *verb, const char *target, const char *req_tail, const char *body)
{
	const char *slash = strchr(target, '/');
	char *only = slash ? xstrndup(target, (size_t)(slash - target)) : NULL;
	const char *id = slash ? slash + 1 : target;
	struct strv names = { 0 };
	char *refusal = NULL;
	int answered = 0, rc = 1;

	if (!*id || strlen(id) >= 24 || strspn(id, "ph-0123456789abcdef") != strlen(id)) {
		fprintf(stderr, "warden %s: '%s' is not an approval id (p-... or h-...)\n", verb, id);
		free(only);
		return 1;
	}
	if (sandboxes(only, &names) < 0) {
		free(only);
		return WEXIT_FAILURE;
	}
	for (size_t i = 0; i < names.n; i++) {
		struct werr err = { 0 };
		char *req = xasprintf("%s %s%s%s%s", verb, id, req_tail, body ? "\n" : "",
		    body ? body : "");
		char *reply = ask(names.v[i], req, strlen(req), &err);

		free(req);
		if (!reply)
			continue;
		answered++;
		if (strncmp(reply, "ok\n", 3) == 0) {
			json_t *it = json_loads(reply + 3, JSON_DISABLE_EOF_CHECK, NULL);

			if (strcmp(verb, "deny") == 0)
				printf("%s: %s denied\n", names.v[i], id);
			else if (it && strcmp(jstr(it, "grant"), "always") == 0)
				printf("%s: %s approved: policy revision %lld (sha256:%s)\n", names.v[i], id,
				    (long long)json_integer_value(json_object_get(it, "revision")),
				    jstr(it, "hash"));
			else
				printf("%s: %s approved (%s)\n", names.v[i], id, it ? jstr(it, "grant") : "");
			json_decref(it);
			free(reply);
			rc = 0;
			break;
		}
		/* "no pending item": another sandbox's, perhaps; anything else is the answer. */
		if (!strstr(reply, "no pending item")) {
			free(refusal);
			refusal = xasprintf("%s: %s", names.v[i], reply + (strncmp(reply, "error\n", 6) ?
			    0 : 6));
		}
		free(reply);
	}
	if (rc != 0) {
		if (refusal)
			fprintf(stderr, "warden %s: %s", verb, refusal);
		else if (answered == 0)
			fprintf(stderr, "warden %s: no running sandbox answered%s%s\n", verb,
			    only ? ": " : "", only ? only : "");
		else
			fprintf(stderr, "warden %s: no pending item %s\n", verb, id);
		if (answered == 0 && !refusal)
			rc = WEXIT_FAILURE;
	}
	free(refusal);
	strv_free(&names);
	free(only);
	return rc;
}

int
cmd_approve(int argc, char **argv)
{
	const char *target = NULL, *how = NULL;
	char tail[64];
	uint64_t ms = 0;

	if (wants_help(argc, argv)) {
		fputs(usage_approve, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0 && !how) {
			how = "once";
		} else if (strcmp(argv[i], "--always") == 0 && !how) {
			how = "always";
		} else if (strcmp(argv[i], "--for") == 0 && !how && i + 1 < argc) {
			how = "for";
			if (!(ms = parse_duration(argv[++i]))) {
				fprintf(stderr, "warden approve: --for %s: a duration such as 30s, 5m or 2h "
				    "(at most 30d)\n", argv[i]);
				return 2;
			}
		} else if (argv[i][0] != '-' && !target) {
			target = argv[i];
		} else {
			fputs(usage_approve, stderr);
			return 2;
		}
	}
	if (!target) {
		fputs(usage_approve, stderr);
		return 2;
	}
	if (!how) {
		/* A proposal asks for a policy change; a held request for one connection. */
		const char *id = strchr(target, '/') ? strchr(target, '/') + 1 : target;
		how = strncmp(id, "p-", 2) == 0 ? "always" : "once";
	}
	if (strcmp(how, "for") == 0)
		snprintf(tail, sizeof(tail), " for %llu", (unsigned long long)ms);
	else
		snprintf(tail, sizeof(tail), " %s", how);
	return decide("approve", target, tail, NULL);
}

int
cmd_deny(int argc, char **argv)
{
	const char *target = NULL, *reason = NULL;

	if (wants_help(argc, argv)) {
		fputs(usage_deny, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc && !reason) {
			reason = argv[++i];
		} else if (argv[i][0] != '-' && !target) {
			target = argv[i];
		} else {
			fputs(usage_deny, stderr);
			return 2;
		}
	}
	if (!target) {
		fputs(usage_deny, stderr);
		return 2;
	}
	if (reason && strchr(reason, '\n')) {
		fprintf(stderr, "warden deny: the reason is one line\n");
		return 2;
	}
	return decide("deny", target, "", reason ? reason : "");
}
