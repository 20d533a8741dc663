/*
 * Unit tests for the audit trail's readers (src/audit/audit_ocsf.c).
 *
 * A real trail is written with the real writer (audit_open/append/close,
 * a fresh Ed25519 key in a temporary directory), holding every event type
 * warden records today and those later issues add through the same
 * interface (http.request, finding, and an event type the readers do not
 * know).  Each record is then rendered in the three formats: the human
 * line is checked for its content, its colours and its escaping of hostile
 * text; the JSON form must be the stored bytes; and the OCSF event is parsed
 * back with jansson and checked field by field against OCSF 1.8.0 -- the
 * class per event, the attributes each class requires and their types,
 * type_uid = class_uid * 100 + activity_id, metadata, and that every
 * record field not mapped is kept under "unmapped".
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.  WARDEN_TEST_KEEP=1 keeps the temporary trail for inspection.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../src/audit/audit.h"
#include "../../src/audit/audit_ocsf.h"
#include "../../src/lib/event.h"

#include "check.h"

#define CHECK_HAS(hay, needle) ({ const char *_h = (hay), *_n = (needle); \
	check(_h && strstr(_h, _n), __FILE__, __LINE__, "%s contains \"%s\" (got \"%s\")", \
	    #hay, shown(_n), shown(_h)); })
#define CHECK_LACKS(hay, needle) ({ const char *_h = (hay), *_n = (needle); \
	check(_h && !strstr(_h, _n), __FILE__, __LINE__, "%s lacks \"%s\"", #hay, _n); })

/* ---- helpers -------------------------------------------------------------------- */

/* s on one line (newlines as \n, at most 600 bytes), for check messages. */
static const char *
shown(const char *s)
{
	static char bufs[2][640];
	static int which;
	char *buf = bufs[which ^= 1];
	size_t j = 0;

	if (!s)
		return "(null)";
	for (; *s && j < 600; s++) {
		if (*s == '\n') {
			buf[j++] = '\\';
			buf[j++] = 'n';
		} else {
			buf[j++] = *s;
		}
	}
	buf[j] = '\0';
	return buf;
}

/* A member by dotted path ("actor.process.file.hashes.0.value"), or NULL. */
static json_t *
jget(json_t *o, const char *path)
{
	char buf[256], *p = buf, *dot;

	snprintf(buf, sizeof(buf), "%s", path);
	while (o && p) {
		dot = strchr(p, '.');
		if (dot)
			*dot = '\0';
		if (json_is_array(o)) {
			size_t i = 0;
			for (const char *c = p; *c >= '0' && *c <= '9'; c++)
				i = i * 10 + (size_t)(*c - '0');
			o = json_array_get(o, i);
		} else {
			o = json_object_get(o, p);
		}
		p = dot ? dot + 1 : NULL;
	}
	return o;
}

static const char *
jstr(json_t *o, const char *path)
{
	json_t *v = jget(o, path);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* An integer member; INT64_MIN when absent or not an integer. */
static long long
jint(json_t *o, const char *path)
{
	json_t *v = jget(o, path);

	return json_is_integer(v) ? (long long)json_integer_value(v) : INT64_MIN;
}

#define CHECK_JSTR(o, path, want) ({ const char *_g = jstr((o), (path)), *_w = (want); \
	check(_g && strcmp(_g, _w) == 0, __FILE__, __LINE__, "%s == \"%s\" (got \"%s\")", \
	    (path), _w, _g ? _g : "(absent or not a string)"); })
#define CHECK_JINT(o, path, want) ({ long long _g = jint((o), (path)), _w = (want); \
	check(_g == _w, __FILE__, __LINE__, "%s == %lld (got %s%lld)", (path), _w, \
	    _g == INT64_MIN ? "absent or not an integer: " : "", _g); })
#define CHECK_JTYPE(o, path, type) \
	check(jget((o), (path)) && json_typeof(jget((o), (path))) == (type), __FILE__, __LINE__, \
	    "%s is a %s", (path), #type)
#define CHECK_ABSENT(o, path) \
	check(jget((o), (path)) == NULL, __FILE__, __LINE__, "%s is absent", (path))

/* Render one line to a string (owned); NULL with err on failure. */
static char *
render(const char *line, enum audit_out_format fmt, bool colour, struct werr *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r = audit_render(line, strlen(line), fmt, colour, f, err);

	fclose(f);
	if (r < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The OCSF event of a line, parsed back (owned). */
static json_t *
ocsf_of(const char *line)
{
	struct werr err = { 0 };
	char *s = render(line, AUDIT_OUT_OCSF, false, &err);
	json_error_t je;
	json_t *o;

	if (!s) {
		printf("# render: %s\n", err.msg);
		return NULL;
	}
	o = json_loads(s, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		printf("# not JSON (%s): %s\n", je.text, s);
	free(s);
	return o;
}

/* Milliseconds since the epoch of an RFC 3339 UTC time with a fraction. */
static long long
ms_of(const char *t)
{
	struct tm tm = { 0 };
	long long frac = 0, scale = 100;

	tm.tm_year = (int)strtol(t, NULL, 10) - 1900;
	tm.tm_mon = (int)strtol(t + 5, NULL, 10) - 1;
	tm.tm_mday = (int)strtol(t + 8, NULL, 10);
	tm.tm_hour = (int)strtol(t + 11, NULL, 10);
	tm.tm_min = (int)strtol(t + 14, NULL, 10);
	tm.tm_sec = (int)strtol(t + 17, NULL, 10);
	for (const char *c = t + 20; *c >= '0' && *c <= '9' && scale; c++, scale /= 10)
		frac += (*c - '0') * scale;
	return (long long)timegm(&tm) * 1000 + frac;
}

/* ---- the trail -------------------------------------------------------------------- */

#define HASH_A "6dac32d48983a65b6279f80b13358d41a3e389e842fdc3bc48071c3a00b5c550"
#define HASH_B "0b1c0b1c0b1c0b1c0b1c0b1c0b1c0b1c0b1c0b1c0b1c0b1c0b1c0b1c0b1c0b1c"
#define SHA_CURL "58824afa640f512e07e895c0f2d1e1fe2c3fd1456acab689b6e4c1c75cef2593"

/* What each record is expected to become. */
struct expect {
	const char *event;
	int class_uid, category_uid, activity_id, severity_id;
};

static const struct expect expected[] = {
	{ "policy.load", 6002, 6, 6, 1 },
	{ "sandbox.start", 6002, 6, 3, 1 },
	{ "net.connect", 4001, 4, 1, 1 },	/* allow */
	{ "net.connect", 4001, 4, 5, 2 },	/* deny */
	{ "net.connect", 4001, 4, 4, 1 },	/* error */
	{ "net.connect", 4001, 4, 5, 2 },	/* deny, IPv6 literal */
	{ "net.close", 4001, 4, 3, 2 },
	{ "http.request", 4002, 4, 6, 1 },	/* POST, with a status */
	{ "http.request", 4002, 4, 99, 2 },	/* PROPFIND, deny */
	{ "process.exec", 1007, 1, 1, 1 },
	{ "process.exec", 1007, 1, 1, 1 },	/* hostile argv, not confirmed */
	{ "process.exec", 1007, 1, 1, 1 },	/* invalid UTF-8 */
	{ "finding", 2004, 2, 1, 4 },
	{ "finding", 2004, 2, 1, 3 },		/* no tier, no decision */
	{ "policy.reload", 6002, 6, 8, 1 },
	{ "policy.reject", 6002, 6, 8, 2 },
	{ "approval.request", 0, 0, 99, 1 },
	{ "sandbox.stop", 6002, 6, 4, 1 },
	{ "audit.checkpoint", 6002, 6, 99, 1 },	/* written by audit_close */
};

static int
write_trail(const char *dir, char *path, size_t n)
{
	char key[4096];
	struct werr err = { 0 };
	struct audit_config c = { 0 };
	struct audit *a;
	struct event evs[] = {
		{ .type = "policy.load", .policy_hash = HASH_A, .revision = 1 },
		{ .type = "sandbox.start", .policy_hash = HASH_A, .revision = 1, .pid = 2,
		  .extra_json = "\"argv\":[\"python3\",\"agent.py\",\"--task\",\"fix bug\"],"
		  "\"uid\":1000,\"gid\":1000,\"workdir\":\"/home/u/proj\",\"namespaces\":[\"user\","
		  "\"mnt\",\"pid\",\"net\",\"ipc\",\"uts\",\"cgroup\"],\"landlock_abi\":6,"
		  "\"landlock_scoped\":true,\"seccomp\":\"filter\",\"no_new_privs\":true,"
		  "\"limits\":\"cgroup\",\"warden_version\":\"9.8.7\"" },
		{ .type = "net.connect", .decision = "allow", .verb = "GET", .rule = "tools",
		  .reason = "allowed by tools", .binary = "/usr/bin/curl", .binary_sha256 = SHA_CURL,
		  .pid = 3, .ppid = 2, .dst = "files.example.com", .port = 18999,
		  .addr = "127.0.0.1", .revision = 1, .policy_hash = HASH_A },
		{ .type = "net.connect", .decision = "deny", .verb = "CONNECT", .rule = "model-api",
		  .reason = "binary /usr/bin/curl not allowed by policy 'model-api'",
		  .binary = "/usr/bin/curl", .binary_sha256 = SHA_CURL, .pid = 4, .ppid = 2,
		  .dst = "api.example.com", .port = 443, .revision = 1, .policy_hash = HASH_A },
		{ .type = "net.connect", .decision = "error", .verb = "SOCKS", .rule = "tools",
		  .reason = "connect to 192.0.2.7 port 9: Connection refused",
		  .binary = "/usr/bin/curl", .pid = 5, .dst = "192.0.2.7", .port = 9,
		  .addr = "192.0.2.7", .revision = 1, .policy_hash = HASH_A },
		{ .type = "net.connect", .decision = "deny", .verb = "CONNECT",
		  .reason = "IP literals are not allowed", .binary = "/usr/bin/node", .pid = 6,
		  .dst = "2001:db8::1", .port = 443, .revision = 1, .policy_hash = HASH_A },
		{ .type = "net.close", .decision = "deny", .verb = "CONNECT", .rule = "tools",
		  .reason = "policy revision 2 no longer allows this connection",
		  .binary = "/usr/bin/curl", .pid = 3, .dst = "files.example.com", .port = 18999,
		  .addr = "127.0.0.1", .revision = 2, .policy_hash = HASH_B },
		{ .type = "http.request", .decision = "allow", .rule = "model-api",
		  .binary = "/usr/bin/python3.11", .pid = 7, .dst = "api.anthropic.com",
		  .port = 443, .addr = "127.0.0.1", .method = "POST", .path = "/v1/messages",
		  .revision = 2, .policy_hash = HASH_B, .extra_json = "\"status\":200" },
		{ .type = "http.request", .decision = "deny", .reason = "method not allowed",
		  .binary = "/usr/bin/curl", .pid = 8, .dst = "files.example.com", .port = 80,
		  .method = "PROPFIND", .path = "/dav/", .revision = 2, .policy_hash = HASH_B },
		{ .type = "process.exec", .binary = "/usr/bin/curl", .pid = 9, .ppid = 2,
		  .revision = 2, .policy_hash = HASH_B,
		  .extra_json = "\"path\":\"/usr/bin/curl\",\"argv\":[\"curl\",\"-sS\","
		  "\"http://files.example.com/\"],\"confirmed\":true" },
		{ .type = "process.exec", .pid = 10, .ppid = 9, .revision = 2,
		  .policy_hash = HASH_B,
		  .extra_json = "\"path\":\"/bin/sh\",\"argv\":[\"sh\",\"-c\",\"printf '\\u001b[2J'"
		  "\\u007f x\xe2\x80\xaetxt.exe\xc2\x9b\"],\"confirmed\":false" },
		{ .type = "process.exec", .binary = "/usr/bin/echo", .pid = 11, .ppid = 2,
		  .revision = 2, .policy_hash = HASH_B,
		  .extra_json = "\"path\":\"/usr/bin/echo\",\"argv\":[\"echo\",\"caf\xe9\xff\"],"
		  "\"confirmed\":true" },
		{ .type = "finding", .decision = "deny", .rule = "model-api",
		  .reason = "restricted data in a request to api.example.com",
		  .binary = "/usr/bin/python3.11", .pid = 7, .dst = "api.example.com", .port = 443,
		  .method = "POST", .path = "/v1/messages", .revision = 2, .policy_hash = HASH_B,
		  .extra_json = "\"types\":[\"secret.aws_access_key\",\"pii.email\"],"
		  "\"tier\":\"restricted\"" },
		{ .type = "finding", .pid = 7, .revision = 2, .policy_hash = HASH_B,
		  .extra_json = "\"types\":[\"pii.phone\"]" },
		{ .type = "policy.reload", .policy_hash = HASH_B, .revision = 2 },
		{ .type = "policy.reject", .decision = "deny", .reason = "candidate policy is invalid",
		  .policy_hash = HASH_B, .revision = 2 },
		{ .type = "approval.request", .decision = "pending", .policy_hash = HASH_B,
		  .revision = 2, .extra_json = "\"id\":\"a1\",\"host\":\"new.example.com\"" },
		{ .type = "sandbox.stop", .policy_hash = HASH_B, .revision = 2,
		  .extra_json = "\"exit_status\":3,\"duration_ms\":1234,\"connections\":"
		  "{\"accepted\":5,\"allowed\":2,\"denied\":2,\"closed_by_reload\":1}" },
	};

	snprintf(path, n, "%s/trail/audit.jsonl", dir);
	snprintf(key, sizeof(key), "%s/audit.key", dir);
	c.path = path;
	c.key_path = key;
	c.sandbox = "ut-box";
	c.fsync = AUDIT_FSYNC_BATCH;
	a = audit_open(&c, &err);
	if (!a) {
		printf("# audit_open: %s\n", err.msg);
		return -1;
	}
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (audit_append(a, &evs[i]) < 0) {
			printf("# audit_append %s: %s\n", evs[i].type, audit_failed(a));
			return -1;
		}
	if (audit_close(a, &err) < 0) {
		printf("# audit_close: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* The trail's lines (owned, without newlines). */
static size_t
read_lines(const char *path, char ***out)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, **v = NULL;
	size_t cap = 0, n = 0;
	ssize_t l;

	if (!f)
		return 0;
	while ((l = getline(&line, &cap, f)) > 0) {
		if (line[l - 1] == '\n')
			line[l - 1] = '\0';
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	*out = v;
	return n;
}

/* ---- checks ----------------------------------------------------------------------- */

/* What every OCSF event carries, whatever its class. */
static void
check_common(json_t *o, json_t *rec, const struct expect *e, bool version_known)
{
	long long cls = jint(o, "class_uid"), act = jint(o, "activity_id");

	CHECK_JINT(o, "class_uid", e->class_uid);
	CHECK_JINT(o, "category_uid", e->category_uid);
	CHECK_JINT(o, "activity_id", e->activity_id);
	CHECK_JTYPE(o, "type_uid", JSON_INTEGER);
	CHECK(jint(o, "type_uid") == cls * 100 + act, "type_uid %lld = class_uid %lld * 100 + "
	    "activity_id %lld", jint(o, "type_uid"), cls, act);
	CHECK_JTYPE(o, "class_name", JSON_STRING);
	CHECK_JTYPE(o, "category_name", JSON_STRING);
	CHECK_JTYPE(o, "activity_name", JSON_STRING);
	CHECK_JTYPE(o, "type_name", JSON_STRING);
	CHECK_JINT(o, "severity_id", e->severity_id);
	CHECK_JTYPE(o, "severity", JSON_STRING);
	CHECK_JINT(o, "time", ms_of(jstr(rec, "time")));
	CHECK_JINT(o, "timezone_offset", 0);
	CHECK_JTYPE(o, "message", JSON_STRING);
	CHECK_JSTR(o, "metadata.version", "1.8.0");
	CHECK_JSTR(o, "metadata.product.name", "warden");
	CHECK_JTYPE(o, "metadata.product.vendor_name", JSON_STRING);
	if (version_known)
		CHECK_JSTR(o, "metadata.product.version", "9.8.7");
	else
		CHECK_ABSENT(o, "metadata.product.version");
	CHECK_JSTR(o, "metadata.uid", jstr(rec, "hash"));
	CHECK_JSTR(o, "metadata.correlation_uid", "ut-box");
	CHECK_JSTR(o, "metadata.original_time", jstr(rec, "time"));
	CHECK_JINT(o, "metadata.sequence", jint(rec, "seq"));
	CHECK_JSTR(o, "metadata.event_code", e->event);
	CHECK_JTYPE(o, "metadata.profiles", JSON_ARRAY);
	/* The chain link is no OCSF attribute, but an auditor needs it. */
	CHECK_JSTR(o, "unmapped.prev", jstr(rec, "prev"));
	/*
	 * Nothing of the record is lost: the fields below map to attributes
	 * (checked per class); every other one is kept under unmapped.
	 */
	{
		static const char *const header[] = { "seq", "time", "sandbox", "event", "hash" };
		static const char *const mapped[] = {
			"policy_hash", "policy_revision", "decision", "reason", "rule", "binary",
			"binary_sha256", "pid", "ppid", "dst", "port", "addr", "method", "path",
			"status", "types", "tier", "confirmed", "duration_ms", "exit_status",
			"warden_version",
		};
		const char *k;
		json_t *v;

		json_object_foreach(rec, k, v) {
			bool skip = false;
			for (size_t i = 0; i < sizeof(header) / sizeof(header[0]); i++)
				skip |= strcmp(k, header[i]) == 0;
			for (size_t i = 0; e->class_uid && i < sizeof(mapped) / sizeof(mapped[0]); i++)
				skip |= strcmp(k, mapped[i]) == 0;
			if (!skip)
				CHECK(json_equal(jget(o, "unmapped") ? json_object_get(jget(o, "unmapped"),
				    k) : NULL, v), "record field \"%s\" is kept under unmapped", k);
		}
	}
}

static bool
has_profile(json_t *o, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(jget(o, "metadata.profiles"), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

/* actor.process as attribution knows it. */
static void
check_actor(json_t *o, const char *exe, const char *name, long long pid, const char *sha)
{
	CHECK(has_profile(o, "host"), "actor comes with the host profile");
	CHECK_JSTR(o, "actor.process.name", name);
	CHECK_JINT(o, "actor.process.pid", pid);
	CHECK_JSTR(o, "actor.process.file.path", exe);
	CHECK_JSTR(o, "actor.process.file.name", name);
	CHECK_JTYPE(o, "actor.process.file.type_id", JSON_INTEGER);
	CHECK_JSTR(o, "actor.process.sandbox", "ut-box");
	if (sha) {
		CHECK_JINT(o, "actor.process.file.hashes.0.algorithm_id", 3);
		CHECK_JSTR(o, "actor.process.file.hashes.0.value", sha);
	} else {
		CHECK_ABSENT(o, "actor.process.file.hashes");
	}
}

static void
check_security_control(json_t *o, int action_id, int disposition_id)
{
	CHECK(has_profile(o, "security_control"), "the security_control profile is declared");
	CHECK_JINT(o, "action_id", action_id);
	CHECK_JTYPE(o, "action", JSON_STRING);
	CHECK_JINT(o, "disposition_id", disposition_id);
	CHECK_JTYPE(o, "disposition", JSON_STRING);
}

static void
check_network(json_t *o, size_t i)
{
	CHECK_JTYPE(o, "dst_endpoint", JSON_OBJECT);
	CHECK_JSTR(o, "src_endpoint.hostname", "ut-box");
	CHECK_JINT(o, "connection_info.direction_id", 2);
	CHECK_JSTR(o, "connection_info.protocol_name", "tcp");
	CHECK_JTYPE(o, "policy.uid", JSON_STRING);
	CHECK_JTYPE(o, "policy.version", JSON_STRING);
	switch (i) {
	case 2:
		CHECK_JSTR(o, "dst_endpoint.hostname", "files.example.com");
		CHECK_JSTR(o, "dst_endpoint.ip", "127.0.0.1");
		CHECK_JINT(o, "dst_endpoint.port", 18999);
		CHECK_JINT(o, "connection_info.protocol_ver_id", 4);
		check_actor(o, "/usr/bin/curl", "curl", 3, SHA_CURL);
		CHECK_JINT(o, "actor.process.parent_process.pid", 2);
		check_security_control(o, 1, 1);
		CHECK_JINT(o, "status_id", 1);
		CHECK_JSTR(o, "firewall_rule.name", "tools");
		CHECK_JSTR(o, "status_detail", "allowed by tools");
		CHECK_JSTR(o, "policy.uid", HASH_A);
		CHECK_JSTR(o, "policy.version", "1");
		CHECK_JSTR(o, "unmapped.verb", "GET");
		break;
	case 3:
		CHECK_JSTR(o, "dst_endpoint.hostname", "api.example.com");
		CHECK_ABSENT(o, "dst_endpoint.ip");
		check_security_control(o, 2, 2);
		CHECK_JINT(o, "status_id", 2);
		CHECK_JSTR(o, "firewall_rule.name", "model-api");
		CHECK_HAS(jstr(o, "status_detail"), "not allowed by policy 'model-api'");
		break;
	case 4:
		/* An IP literal is an address, not a host name. */
		CHECK_ABSENT(o, "dst_endpoint.hostname");
		CHECK_JSTR(o, "dst_endpoint.ip", "192.0.2.7");
		check_security_control(o, 1, 1);
		CHECK_JINT(o, "status_id", 2);
		check_actor(o, "/usr/bin/curl", "curl", 5, NULL);
		break;
	case 5:
		CHECK_JSTR(o, "dst_endpoint.ip", "2001:db8::1");
		CHECK_JINT(o, "connection_info.protocol_ver_id", 6);
		CHECK_ABSENT(o, "firewall_rule");
		break;
	case 6:
		check_security_control(o, 2, 24);
		CHECK_JSTR(o, "policy.uid", HASH_B);
		CHECK_JSTR(o, "policy.version", "2");
		break;
	}
}

static void
check_http(json_t *o, size_t i)
{
	CHECK_JTYPE(o, "http_request", JSON_OBJECT);
	CHECK_JTYPE(o, "dst_endpoint", JSON_OBJECT);
	if (i == 7) {
		CHECK_JSTR(o, "http_request.http_method", "POST");
		CHECK_JSTR(o, "http_request.url.path", "/v1/messages");
		CHECK_JSTR(o, "http_request.url.hostname", "api.anthropic.com");
		CHECK_JINT(o, "http_request.url.port", 443);
		CHECK_JINT(o, "http_response.code", 200);
		CHECK_JINT(o, "http_status", 200);
		check_security_control(o, 1, 1);
		check_actor(o, "/usr/bin/python3.11", "python3.11", 7, NULL);
	} else {
		/* Not one of OCSF's methods: the record's own spelling stays unmapped. */
		CHECK_ABSENT(o, "http_request.http_method");
		CHECK_JSTR(o, "unmapped.method", "PROPFIND");
		CHECK_JSTR(o, "http_request.url.path", "/dav/");
		CHECK_JSTR(o, "activity_name", "Other");
		CHECK_ABSENT(o, "http_response");
		check_security_control(o, 2, 2);
		CHECK_JSTR(o, "status_detail", "method not allowed");
	}
}

static void
check_process(json_t *o, size_t i)
{
	CHECK_JINT(o, "launch_type_id", 3);
	CHECK_JTYPE(o, "process", JSON_OBJECT);
	CHECK_JTYPE(o, "process.pid", JSON_INTEGER);
	CHECK_JTYPE(o, "process.file.name", JSON_STRING);
	CHECK_JTYPE(o, "process.file.type_id", JSON_INTEGER);
	CHECK_JTYPE(o, "process.cmd_line", JSON_STRING);
	CHECK_JTYPE(o, "actor.process.pid", JSON_INTEGER);
	CHECK_JTYPE(o, "device.type_id", JSON_INTEGER);
	CHECK_JSTR(o, "device.hostname", "ut-box");
	CHECK_JTYPE(o, "unmapped.argv", JSON_ARRAY);
	check_security_control(o, 3, 17);
	if (i == 9) {
		CHECK_JINT(o, "process.pid", 9);
		CHECK_JSTR(o, "process.name", "curl");
		CHECK_JSTR(o, "process.file.path", "/usr/bin/curl");
		CHECK_JSTR(o, "process.cmd_line", "curl -sS http://files.example.com/");
		CHECK_JINT(o, "process.parent_process.pid", 2);
		/* An exec keeps the pid: the actor is the same process, before. */
		CHECK_JINT(o, "actor.process.pid", 9);
		CHECK_JINT(o, "status_id", 1);
		CHECK_JSTR(o, "unmapped.path", "/usr/bin/curl");
	} else if (i == 10) {
		CHECK_JSTR(o, "process.file.path", "/bin/sh");
		CHECK_ABSENT(o, "unmapped.path");
		CHECK_JINT(o, "status_id", 0);
		CHECK_JTYPE(o, "status_detail", JSON_STRING);
	} else {
		CHECK_HAS(jstr(o, "process.cmd_line"), "caf\xef\xbf\xbd\xef\xbf\xbd");
	}
}

static void
check_finding(json_t *o, json_t *rec, size_t i)
{
	CHECK_JSTR(o, "finding_info.uid", jstr(rec, "hash"));
	CHECK_JTYPE(o, "finding_info.title", JSON_STRING);
	CHECK_JTYPE(o, "finding_info.types", JSON_ARRAY);
	CHECK(json_equal(jget(o, "finding_info.types"), jget(rec, "types")),
	    "finding_info.types are the record's types");
	CHECK_JINT(o, "status_id", 1);
	if (i == 12) {
		CHECK_HAS(jstr(o, "finding_info.title"), "secret.aws_access_key, pii.email");
		CHECK_JSTR(o, "finding_info.desc", jstr(rec, "reason"));
		check_security_control(o, 2, 2);
		check_actor(o, "/usr/bin/python3.11", "python3.11", 7, NULL);
		CHECK_JSTR(o, "evidences.0.dst_endpoint.hostname", "api.example.com");
		CHECK_JSTR(o, "evidences.0.http_request.url.path", "/v1/messages");
		CHECK_JSTR(o, "firewall_rule.name", "model-api");
	} else {
		check_security_control(o, 3, 15);
		CHECK_ABSENT(o, "firewall_rule");
	}
}

static void
check_lifecycle(json_t *o, json_t *rec, size_t i, bool version_known)
{
	CHECK_JSTR(o, "app.name", "warden");
	CHECK_JTYPE(o, "app.vendor_name", JSON_STRING);
	if (version_known)
		CHECK_JSTR(o, "app.version", "9.8.7");
	CHECK_JSTR(o, "device.hostname", "ut-box");
	if (strcmp(jstr(rec, "event"), "sandbox.start") == 0) {
		CHECK_JTYPE(o, "unmapped.argv", JSON_ARRAY);
		CHECK_JINT(o, "unmapped.landlock_abi", 6);
		CHECK_JSTR(o, "unmapped.seccomp", "filter");
		CHECK_ABSENT(o, "unmapped.warden_version");
	} else if (strcmp(jstr(rec, "event"), "sandbox.stop") == 0) {
		CHECK_JINT(o, "duration", 1234);
		CHECK_JSTR(o, "status_code", "3");
		CHECK_JINT(o, "unmapped.connections.denied", 2);
	} else if (strcmp(jstr(rec, "event"), "policy.reject") == 0) {
		CHECK_JINT(o, "status_id", 2);
		CHECK_JSTR(o, "status_detail", "candidate policy is invalid");
	} else if (strcmp(jstr(rec, "event"), "audit.checkpoint") == 0) {
		CHECK_JTYPE(o, "unmapped.sig", JSON_STRING);
		CHECK_JTYPE(o, "unmapped.key", JSON_STRING);
		CHECK_JTYPE(o, "unmapped.head", JSON_STRING);
		CHECK_JTYPE(o, "unmapped.count", JSON_INTEGER);
	} else {
		CHECK_JSTR(o, "policy.uid", jstr(rec, "policy_hash"));
	}
	(void)i;
}

static void
test_records(char **lines, size_t n)
{
	bool version_known = false;

	cur_test = "trail";
	CHECK_INT(n, sizeof(expected) / sizeof(expected[0]));
	for (size_t i = 0; i < n && i < sizeof(expected) / sizeof(expected[0]); i++) {
		const struct expect *e = &expected[i];
		json_t *rec = json_loads(lines[i], 0, NULL), *o;
		struct werr err = { 0 };
		char *s;

		cur_test = e->event;
		if (strcmp(e->event, "sandbox.start") == 0)
			version_known = true;

		/* JSON: the stored bytes, unchanged. */
		s = render(lines[i], AUDIT_OUT_JSON, false, &err);
		CHECK(s && strlen(s) == strlen(lines[i]) + 1 && !memcmp(s, lines[i], strlen(lines[i])),
		    "--json prints the record as stored");
		free(s);

		/* OCSF, field by field. */
		o = ocsf_of(lines[i]);
		if (!CHECK(o, "the OCSF event is one JSON object")) {
			json_decref(rec);
			continue;
		}
		if (!rec) {
			/*
			 * Not valid UTF-8 (argv bytes as the agent gave them), so
			 * jansson cannot read the record here; the reader still can.
			 */
			CHECK_INT(i, 11);
			CHECK_JINT(o, "class_uid", 1007);
			CHECK_JTYPE(o, "metadata.uid", JSON_STRING);
			check_process(o, i);
			json_decref(o);
			continue;
		}
		check_common(o, rec, e, version_known);
		switch (e->class_uid) {
		case 4001: check_network(o, i); break;
		case 4002: check_http(o, i); break;
		case 1007: check_process(o, i); break;
		case 2004: check_finding(o, rec, i); break;
		case 6002: check_lifecycle(o, rec, i, version_known); break;
		case 0:
			CHECK_JSTR(o, "unmapped.id", "a1");
			CHECK_JSTR(o, "unmapped.decision", "pending");
			break;
		}
		json_decref(o);
		json_decref(rec);
	}
}

static void
test_human(char **lines)
{
	struct werr err = { 0 };
	char *s;

	cur_test = "human";
	s = render(lines[2], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, " net.connect allow GET /usr/bin/curl pid=3 \xe2\x86\x92 "
	    "files.example.com:18999 (127.0.0.1) rule=tools \"allowed by tools\"\n");
	CHECK(s && strlen(s) > 24 && s[4] == '-' && s[10] == ' ' && s[19] == '.' && s[23] == ' ',
	    "the line starts with the record's time to the millisecond");
	CHECK_LACKS(s, "\033[");
	free(s);

	s = render(lines[2], AUDIT_OUT_HUMAN, true, &err);
	CHECK_HAS(s, "\033[32mallow");
	free(s);
	s = render(lines[3], AUDIT_OUT_HUMAN, true, &err);
	CHECK_HAS(s, "\033[31mdeny");
	free(s);
	s = render(lines[0], AUDIT_OUT_HUMAN, true, &err);
	CHECK(s && strncmp(s, "\033[2m", 4) == 0 && strstr(s, "policy.load"),
	    "lifecycle lines are dim");
	free(s);

	s = render(lines[5], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "\xe2\x86\x92 [2001:db8::1]:443");
	free(s);

	s = render(lines[1], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "sandbox.start ut-box pid=2: python3 agent.py --task \"fix bug\"");
	CHECK_HAS(s, "warden 9.8.7");
	free(s);

	s = render(lines[9], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "process.exec /usr/bin/curl pid=9 ppid=2: curl -sS http://files.example.com/");
	free(s);

	/* Text from the agent cannot drive the terminal or reorder the line. */
	s = render(lines[10], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "process.exec /bin/sh pid=10 ppid=9: sh -c ");
	CHECK_HAS(s, "\\x1b[2J");
	CHECK_HAS(s, "\\x7f");
	CHECK_HAS(s, "\\u202e");
	CHECK_HAS(s, "\\u009b");
	CHECK_HAS(s, "(not confirmed)");
	CHECK(s && !strchr(s, '\033') && !strchr(s, 0x7f),
	    "no raw control byte from the record reaches the terminal");
	CHECK_LACKS(s, "\xe2\x80\xae");
	CHECK_LACKS(s, "\xc2\x9b");
	free(s);

	s = render(lines[11], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "echo caf\xef\xbf\xbd\xef\xbf\xbd");
	free(s);

	s = render(lines[12], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "finding deny types=secret.aws_access_key,pii.email tier=restricted "
	    "/usr/bin/python3.11 pid=7 \xe2\x86\x92 api.example.com:443/v1/messages");
	free(s);

	s = render(lines[7], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "http.request allow POST /usr/bin/python3.11 pid=7 \xe2\x86\x92 "
	    "api.anthropic.com:443/v1/messages (127.0.0.1) rule=model-api");
	free(s);

	s = render(lines[16], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "approval.request pending");
	CHECK_HAS(s, "id=a1");
	CHECK_HAS(s, "host=new.example.com");
	free(s);

	s = render(lines[13], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, " finding types=pii.phone pid=7\n");
	free(s);

	s = render(lines[17], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "sandbox.stop ut-box exit=3 after 1.234s (connections: 2 allowed, 2 denied, "
	    "1 closed by reload)");
	free(s);

	s = render(lines[18], AUDIT_OUT_HUMAN, false, &err);
	CHECK_HAS(s, "audit.checkpoint 18 records signed by key ");
	free(s);
}

static void
test_not_records(const char *line)
{
	static const char *const bad[] = {
		"", "not json", "{}", "[1,2]", "{\"seq\":1}",
		"{\"seq\":\"1\",\"time\":\"2026-11-23T21:54:36.883Z\",\"event\":\"x\",\"hash\":\"h\"}",
		"{\"seq\":1,\"time\":\"yesterday\",\"event\":\"x\",\"hash\":\"h\"}",
		"{\"seq\":1,\"seq\":2,\"time\":\"2026-11-23T21:54:36.883Z\",\"event\":\"x\",\"hash\":\"h\"}",
	};
	char torn[512];

	cur_test = "not a record";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (int f = AUDIT_OUT_HUMAN; f <= AUDIT_OUT_OCSF; f++) {
			struct werr err = { 0 };
			char *s = render(bad[i], (enum audit_out_format)f, false, &err);
			CHECK(!s && err.msg[0], "'%s' in format %d: refused (%s)", bad[i], f, err.msg);
			free(s);
		}
	snprintf(torn, sizeof(torn), "%.*s", (int)(strlen(line) / 2), line);
	{
		struct werr err = { 0 };
		char *s = render(torn, AUDIT_OUT_OCSF, false, &err);
		CHECK(!s && err.msg[0], "half a record is refused (%s)", err.msg);
		free(s);
	}
}

/*
 * product.version comes from a sandbox.start record and is kept in a fixed
 * buffer: a long one made of multibyte characters is cut between
 * characters, so the OCSF output stays valid UTF-8 (jansson checks).
 */
static void
test_version_cut(void)
{
	char start[1024], v[200] = "";
	const char *next = "{\"seq\":2,\"time\":\"2026-11-23T21:54:36.883Z\",\"sandbox\":\"x\","
	    "\"event\":\"policy.load\",\"prev\":\"p\",\"hash\":\"h\"}";
	json_t *o;

	cur_test = "version";
	for (int i = 0; i < 45; i++)
		memcpy(v + 2 * i, "\xc3\xa9", 3);
	snprintf(start, sizeof(start), "{\"seq\":1,\"time\":\"2026-11-23T21:54:36.883Z\","
	    "\"sandbox\":\"x\",\"event\":\"sandbox.start\",\"warden_version\":\"%s\","
	    "\"prev\":\"p\",\"hash\":\"g\"}", v);
	json_decref(ocsf_of(start));
	o = ocsf_of(next);
	CHECK(o && jstr(o, "metadata.product.version") &&
	    strlen(jstr(o, "metadata.product.version")) == 62,
	    "a 90-byte version of 2-byte characters is kept as 31 whole characters");
	json_decref(o);
}

/* audit_export_ocsf(): the whole file, one event per record. */
static void
test_export(const char *path, char **lines, size_t n, const char *dir)
{
	FILE *in = fopen(path, "re"), *out;
	char *buf = NULL, *p, *nl, tmp[4096];
	size_t len = 0, i = 0;
	struct werr err = { 0 };
	long count;

	cur_test = "export";
	out = open_memstream(&buf, &len);
	count = audit_export_ocsf(in, out, &err);
	fclose(out);
	fclose(in);
	CHECK_INT(count, (long)n);
	for (p = buf; p && (nl = strchr(p, '\n')); p = nl + 1, i++) {
		json_t *o;
		*nl = '\0';
		o = json_loads(p, 0, NULL);
		CHECK(json_is_object(o) && i < n && jstr(o, "metadata.uid") &&
		    strstr(lines[i], jstr(o, "metadata.uid")), "export line %zu is record %zu's event",
		    i + 1, i + 1);
		json_decref(o);
	}
	CHECK_INT(i, n);
	free(buf);

	/* A final line cut short by a crash: the records before it are exported. */
	snprintf(tmp, sizeof(tmp), "%s/torn.jsonl", dir);
	out = fopen(tmp, "we");
	for (i = 0; i < 3; i++)
		fprintf(out, "%s\n", lines[i]);
	fprintf(out, "%.*s", (int)(strlen(lines[3]) / 2), lines[3]);
	fclose(out);
	in = fopen(tmp, "re");
	out = fopen("/dev/null", "we");
	count = audit_export_ocsf(in, out, &err);
	fclose(in);
	fclose(out);
	CHECK_INT(count, 3);

	/* Damage in the middle stops the export, naming the line. */
	out = fopen(tmp, "we");
	fprintf(out, "%s\nnot a record\n%s\n", lines[0], lines[1]);
	fclose(out);
	in = fopen(tmp, "re");
	out = fopen("/dev/null", "we");
	count = audit_export_ocsf(in, out, &err);
	fclose(in);
	fclose(out);
	CHECK_INT(count, -1);
	CHECK_HAS(err.msg, "line 2");

	/* An empty trail exports nothing. */
	out = fopen(tmp, "we");
	fclose(out);
	in = fopen(tmp, "re");
	out = fopen("/dev/null", "we");
	count = audit_export_ocsf(in, out, &err);
	fclose(in);
	fclose(out);
	CHECK_INT(count, 0);
	unlink(tmp);
}

int
main(void)
{
	char dir[] = "/tmp/warden-ocsf.XXXXXX", path[4096], cmd[4200], **lines = NULL;
	size_t n;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	cur_test = "writer";
	if (!CHECK(write_trail(dir, path, sizeof(path)) == 0, "a trail of every event type")) {
		printf("1..%d\n", n_pass + n_fail);
		return 1;
	}
	n = read_lines(path, &lines);
	test_records(lines, n);
	if (n == sizeof(expected) / sizeof(expected[0])) {
		test_human(lines);
		test_not_records(lines[2]);
		test_export(path, lines, n, dir);
		test_version_cut();
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	if (getenv("WARDEN_TEST_KEEP")) {
		printf("# trail kept in %s\n", path);
	} else {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	printf("1..%d\n%d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
