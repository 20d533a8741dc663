/*
 * Reading an audit trail (see audit_ocsf.h): the human one-line form, the
 * records as stored, and OCSF 1.8.0 events for SIEMs.
 *
 * Records are parsed with jansson and never trusted: a trail can be edited
 * by whoever holds the file, and some of its strings (argv, paths, host
 * names) come from the agent.  So every string printed for a person is
 * escaped (control bytes, C1 controls and bidirectional overrides cannot
 * reach the terminal), and a record that is not valid UTF-8 -- the writer
 * copies argv bytes as they are -- is still shown, with U+FFFD in place of
 * the bad bytes, rather than refused: an agent must not be able to hide an
 * exec from `warden logs` by giving it an invalid argument.
 *
 * OCSF version: 1.8.0.  It is the first 1.x whose required attributes can
 * all be filled from what a record knows: 1.3.0 requires an HTTP response
 * in HTTP Activity, which a record written before the request is forwarded
 * does not have, and 1.8.0 has the Exec launch type that describes what the
 * exec monitor sees.  Every field a record holds either maps to an OCSF
 * attribute or is kept under "unmapped" with its own name, so nothing is
 * lost in translation.
 *
 * Mapping (class_uid, activity):
 *   net.connect allow / deny / error  Network Activity 4001, Open / Refuse / Fail
 *   net.close (revoked by a reload)   Network Activity 4001, Reset
 *   tls.handshake deny / error        Network Activity 4001, Refuse / Fail
 *   http.request, http.response       HTTP Activity 4002, by method; decision
 *                                     audit (enforcement: audit) is Allowed,
 *                                     disposition Logged
 *   inference.route                   HTTP Activity 4002, by method (tier,
 *                                     finding types, provider: unmapped)
 *   process.exec                      Process Activity 1007, Launch (Exec)
 *   finding                           Detection Finding 2004, Create
 *   sandbox.start / sandbox.stop      Application Lifecycle 6002, Start / Stop
 *   policy.load / reload / reject     Application Lifecycle 6002, Enable / Update / Update (failed)
 *   audit.checkpoint, other lifecycle Application Lifecycle 6002, Other
 *   anything else                     Base Event 0, Other
 */
#include "audit_ocsf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/log.h"
#include "../lib/util.h"

#define OCSF_VERSION "1.8.0"
#define PRODUCT "warden"
/* A record is at most 256 KiB (audit.c); lines beyond this are not records. */
#define LINE_MAX_BYTES (1024 * 1024)

/*
 * product.version: the warden_version of the last sandbox.start record
 * read in this process.  Every record after a sandbox.start was written by
 * that warden (a trail continued by a later run starts with a new
 * sandbox.start), so reading a trail in order attributes each record to the
 * version that wrote it.
 */
static char product_version[64];

/* Keep s as product_version, cut (if it must be) between characters. */
static void
note_version(const char *s)
{
	size_t n = strlen(s);

	if (n >= sizeof(product_version)) {
		n = sizeof(product_version) - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(product_version, s, n);
	product_version[n] = '\0';
}

/* ---- reading records ------------------------------------------------------------- */

/*
 * NULL when line is valid UTF-8; otherwise an owned copy with every invalid
 * byte replaced by U+FFFD.  JSON's structure is ASCII, so this only ever
 * changes the contents of strings.
 */
static char *
utf8_scrub(const char *line, size_t len, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)line;
	struct sbuf b;
	size_t i = 0, l;

	while (i < len && (l = utf8_seq_len(p + i, len - i)) > 0)
		i += l;
	if (i == len)
		return NULL;
	sbuf_init(&b, 3 * len + 1);
	sbuf_add(&b, line, i);
	while (i < len) {
		l = utf8_seq_len(p + i, len - i);
		if (l) {
			sbuf_add(&b, line + i, l);
			i += l;
		} else {
			sbuf_add(&b, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	*outlen = b.len;
	return b.p;
}

/* Read n decimal digits; -1 unless all n are digits. */
static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * The writer's time: "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (any number of
 * fraction digits, or none).  Nanoseconds since the epoch, or -1.
 */
static int64_t
record_time_ns(const char *s)
{
	struct tm tm = { 0 };
	int64_t frac = 0, scale = 1000000000;
	const char *p;
	time_t t;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	tm.tm_year = digits(s, 4) - 1900;
	tm.tm_mon = digits(s + 5, 2) - 1;
	tm.tm_mday = digits(s + 8, 2);
	tm.tm_hour = digits(s + 11, 2);
	tm.tm_min = digits(s + 14, 2);
	tm.tm_sec = digits(s + 17, 2);
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
	}
	if ((*p != 'Z' && *p != 'z') || p[1])
		return -1;
	t = timegm(&tm);
	/* Nanoseconds in an int64_t end in 2262; no record is written after that. */
	if (t == (time_t)-1 || t >= INT64_MAX / 1000000000)
		return -1;
	return (int64_t)t * 1000000000 + frac;
}

static const char *
get_str(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
get_int(const json_t *o, const char *k, json_int_t *out)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

/* Parse one line as a record: an object with seq, time, event and hash. */
static json_t *
record_parse(const char *line, size_t len, struct werr *err)
{
	_cleanup_free_ char *clean = NULL;
	json_error_t je;
	json_t *r;
	size_t cl;
	json_int_t seq;

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return werr_set(err, "an empty line is not an audit record"), NULL;
	if (len > LINE_MAX_BYTES)
		return werr_set(err, "a line of %zu bytes is not an audit record", len), NULL;
	if ((clean = utf8_scrub(line, len, &cl))) {
		line = clean;
		len = cl;
	}
	r = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!r) {
		werr_set(err, "not an audit record (invalid JSON at column %d: %s)", je.column,
		    je.text);
		return NULL;
	}
	if (!json_is_object(r) || !get_int(r, "seq", &seq) || !get_str(r, "event") ||
	    !get_str(r, "time") || record_time_ns(get_str(r, "time")) < 0 ||
	    !get_str(r, "hash")) {
		json_decref(r);
		werr_set(err, "not an audit record (seq, time, event or hash missing or malformed)");
		return NULL;
	}
	return r;
}

/* ---- text for people ------------------------------------------------------------- */

#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_DIM "\033[2m"
#define C_OFF "\033[0m"

/*
 * Append s for a terminal: control bytes, DEL, C1 controls and the
 * bidirectional formatting characters (which can make a line read other
 * than it is) are written as escapes.  quote: wrap in double quotes,
 * escaping '"' and '\'.
 */
static void
add_text(struct sbuf *b, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), l;

	if (quote)
		sbuf_adds(b, "\"");
	for (size_t i = 0; i < n; i += l) {
		uint32_t cp;

		l = utf8_seq_len(p + i, n - i);
		if (l == 0) {
			sbuf_addf(b, "\\x%02x", p[i]);
			l = 1;
			continue;
		}
		if (l == 1) {
			if (p[i] < 0x20 || p[i] == 0x7f)
				sbuf_addf(b, "\\x%02x", p[i]);
			else if (quote && (p[i] == '"' || p[i] == '\\'))
				sbuf_addf(b, "\\%c", p[i]);
			else
				sbuf_add(b, s + i, 1);
			continue;
		}
		cp = p[i] & (l == 2 ? 0x1f : l == 3 ? 0x0f : 0x07);
		for (size_t k = 1; k < l; k++)
			cp = cp << 6 | (p[i + k] & 0x3f);
		if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
		    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
			sbuf_addf(b, "\\u%04x", (unsigned)cp);
		else
			sbuf_add(b, s + i, l);
	}
	if (quote)
		sbuf_adds(b, "\"");
}

/* An argument as a shell would need it to read as one word (for argv). */
static void
add_word(struct sbuf *b, const char *s)
{
	bool plain = s[0] != '\0';

	for (const char *c = s; *c && plain; c++)
		plain = !strchr(" \t\"'\\$`;&|<>()*?[]{}~#!", *c) && (unsigned char)*c >= 0x20;
	add_text(b, s, !plain);
}

/* " argv: a b c" from a JSON array of strings (other members shown as JSON). */
static void
add_argv(struct sbuf *b, const json_t *argv)
{
	size_t i;
	const json_t *v;

	if (!json_is_array(argv))
		return;
	json_array_foreach(argv, i, v) {
		sbuf_adds(b, i ? " " : "");
		if (json_is_string(v)) {
			add_word(b, json_string_value(v));
		} else {
			char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			add_text(b, j ? j : "?", false);
			free(j);
		}
	}
}

/*
 * " → host:port[path]" ([v6]:port), with the address connected to when it
 * differs from the name.
 */
static void
add_dst(struct sbuf *b, const json_t *r)
{
	const char *path = get_str(r, "path");
	const char *dst = get_str(r, "dst"), *addr = get_str(r, "addr");
	json_int_t port = 0;

	if (!dst && !addr)
		return;
	if (!dst)
		dst = addr;
	get_int(r, "port", &port);
	sbuf_adds(b, " \xe2\x86\x92 ");
	if (strchr(dst, ':'))
		sbuf_adds(b, "[");
	add_text(b, dst, false);
	if (strchr(dst, ':'))
		sbuf_adds(b, "]");
	if (port)
		sbuf_addf(b, ":%lld", (long long)port);
	if (path)
		add_text(b, path, false);
	if (addr && strcmp(addr, dst) != 0) {
		sbuf_adds(b, " (");
		add_text(b, addr, false);
		sbuf_adds(b, ")");
	}
}

/* " BINARY pid=N" -- who acted, as far as attribution found out. */
static void
add_actor(struct sbuf *b, const json_t *r)
{
	const char *bin = get_str(r, "binary");
	json_int_t pid = 0, ppid = 0;

	if (bin) {
		sbuf_adds(b, " ");
		add_text(b, bin, false);
	}
	if (get_int(r, "pid", &pid))
		sbuf_addf(b, " pid=%lld", (long long)pid);
	if (get_int(r, "ppid", &ppid) && strcmp(get_str(r, "event"), "process.exec") == 0)
		sbuf_addf(b, " ppid=%lld", (long long)ppid);
}

static void
add_rule_reason(struct sbuf *b, const json_t *r, bool colour, bool red)
{
	const char *rule = get_str(r, "rule"), *reason = get_str(r, "reason");

	if (rule) {
		sbuf_adds(b, " rule=");
		add_text(b, rule, false);
	}
	if (reason) {
		sbuf_adds(b, " ");
		if (colour && red)
			sbuf_adds(b, C_RED);
		add_text(b, reason, true);
		if (colour && red)
			sbuf_adds(b, C_OFF);
	}
}

static bool
is_lifecycle(const char *ev)
{
	return strncmp(ev, "sandbox.", 8) == 0 || strncmp(ev, "policy.", 7) == 0 ||
	    strncmp(ev, "audit.", 6) == 0;
}

/* Keys every record has, shown (or deliberately not) by the header. */
static bool
common_key(const char *k)
{
	static const char *const keys[] = {
		"seq", "time", "sandbox", "policy_hash", "event", "decision", "prev", "hash",
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

/* " key=value" for every field the specific forms do not show. */
static void
add_rest(struct sbuf *b, const json_t *r)
{
	const char *k;
	const json_t *v;

	json_object_foreach((json_t *)r, k, v) {
		if (common_key(k))
			continue;
		sbuf_adds(b, " ");
		add_text(b, k, false);
		sbuf_adds(b, "=");
		if (json_is_string(v)) {
			add_text(b, json_string_value(v), strpbrk(json_string_value(v), " \"") ||
			    !json_string_value(v)[0]);
		} else {
			char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			add_text(b, j ? j : "?", false);
			free(j);
		}
	}
}

/*
 * The one-line form:
 *   2026-11-23 21:54:36.883 net.connect allow GET /usr/bin/curl pid=3 → h:18999 rule=tools "..."
 * Times are the record's own, UTC, to the millisecond.
 */
static void
human_line(const json_t *r, bool colour, struct sbuf *b)
{
	const char *ev = get_str(r, "event"), *dec = get_str(r, "decision");
	int64_t ns = record_time_ns(get_str(r, "time"));
	time_t secs = (time_t)(ns / 1000000000);
	bool dim = colour && is_lifecycle(ev);
	bool red = dec && (strcmp(dec, "deny") == 0 || strcmp(dec, "error") == 0);
	json_int_t n = 0;
	struct tm tm;
	const char *s;

	gmtime_r(&secs, &tm);
	if (colour)
		sbuf_adds(b, C_DIM);
	sbuf_addf(b, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns / 1000000 % 1000));
	if (colour && !dim)
		sbuf_adds(b, C_OFF);
	sbuf_adds(b, " ");
	add_text(b, ev, false);
	if (dec) {
		sbuf_adds(b, " ");
		if (colour)
			sbuf_adds(b, red ? C_OFF C_RED : strcmp(dec, "allow") == 0 ? C_OFF C_GREEN : "");
		add_text(b, dec, false);
		if (colour)
			sbuf_adds(b, dim ? C_OFF C_DIM : C_OFF);
	}

	if (strcmp(ev, "net.connect") == 0 || strcmp(ev, "net.close") == 0 ||
	    strcmp(ev, "http.request") == 0 || strcmp(ev, "inference.route") == 0) {
		const char *how = get_str(r, strcmp(ev, "net.connect") == 0 ||
		    strcmp(ev, "net.close") == 0 ? "verb" : "method");
		if (how) {
			sbuf_adds(b, " ");
			add_text(b, how, false);
		}
		add_actor(b, r);
		add_dst(b, r);
		add_rule_reason(b, r, colour, red);
	} else if (strcmp(ev, "process.exec") == 0) {
		const json_t *c = json_object_get(r, "confirmed");
		if (!get_str(r, "binary") && (s = get_str(r, "path"))) {
			sbuf_adds(b, " ");
			add_text(b, s, false);
			if (get_int(r, "pid", &n))
				sbuf_addf(b, " pid=%lld", (long long)n);
			if (get_int(r, "ppid", &n))
				sbuf_addf(b, " ppid=%lld", (long long)n);
		} else {
			add_actor(b, r);
		}
		if (json_is_array(json_object_get(r, "argv"))) {
			sbuf_adds(b, ": ");
			add_argv(b, json_object_get(r, "argv"));
		}
		if (json_is_false(c))
			sbuf_adds(b, " (not confirmed)");
	} else if (strcmp(ev, "finding") == 0) {
		const json_t *types = json_object_get(r, "types");
		if (json_is_array(types)) {
			size_t i;
			const json_t *t;
			sbuf_adds(b, " types=");
			json_array_foreach(types, i, t) {
				sbuf_adds(b, i ? "," : "");
				add_text(b, json_is_string(t) ? json_string_value(t) : "?", false);
			}
		}
		if ((s = get_str(r, "tier"))) {
			sbuf_adds(b, " tier=");
			add_text(b, s, false);
		}
		add_actor(b, r);
		add_dst(b, r);
		add_rule_reason(b, r, colour, red);
	} else if (strcmp(ev, "sandbox.start") == 0) {
		sbuf_adds(b, " ");
		add_text(b, (s = get_str(r, "sandbox")) && s[0] ? s : "?", false);
		if (get_int(r, "pid", &n))
			sbuf_addf(b, " pid=%lld", (long long)n);
		if (json_is_array(json_object_get(r, "argv"))) {
			sbuf_adds(b, ": ");
			add_argv(b, json_object_get(r, "argv"));
		}
		sbuf_adds(b, " (");
		if (get_int(r, "uid", &n))
			sbuf_addf(b, "uid %lld, ", (long long)n);
		if (get_int(r, "landlock_abi", &n))
			sbuf_addf(b, "Landlock ABI %lld, ", (long long)n);
		if ((s = get_str(r, "seccomp"))) {
			sbuf_adds(b, "seccomp ");
			add_text(b, s, false);
			sbuf_adds(b, ", ");
		}
		sbuf_adds(b, "warden ");
		add_text(b, (s = get_str(r, "warden_version")) ? s : "?", false);
		sbuf_adds(b, ")");
	} else if (strcmp(ev, "sandbox.stop") == 0) {
		const json_t *c = json_object_get(r, "connections");
		sbuf_adds(b, " ");
		add_text(b, (s = get_str(r, "sandbox")) && s[0] ? s : "?", false);
		if (get_int(r, "exit_status", &n))
			sbuf_addf(b, " exit=%lld", (long long)n);
		if (get_int(r, "duration_ms", &n))
			sbuf_addf(b, " after %lld.%03llds", (long long)(n / 1000),
			    (long long)(n % 1000));
		if (json_is_object(c)) {
			json_int_t a = 0, d = 0, cl = 0;
			get_int(c, "allowed", &a);
			get_int(c, "denied", &d);
			get_int(c, "closed_by_reload", &cl);
			sbuf_addf(b, " (connections: %lld allowed, %lld denied", (long long)a,
			    (long long)d);
			if (cl)
				sbuf_addf(b, ", %lld closed by reload", (long long)cl);
			sbuf_adds(b, ")");
		}
	} else if (strncmp(ev, "policy.", 7) == 0) {
		if (get_int(r, "policy_revision", &n))
			sbuf_addf(b, " revision %lld", (long long)n);
		if ((s = get_str(r, "policy_hash"))) {
			sbuf_adds(b, " sha256:");
			add_text(b, s, false);
		}
		add_rule_reason(b, r, colour, red);
	} else if (strcmp(ev, "audit.checkpoint") == 0) {
		if (get_int(r, "count", &n))
			sbuf_addf(b, " %lld records signed", (long long)n);
		if ((s = get_str(r, "key"))) {
			sbuf_adds(b, " by key ");
			add_text(b, s, false);
		}
	} else {
		add_rest(b, r);
	}
	if (dim)
		sbuf_adds(b, C_OFF);
}

/* ---- OCSF ---------------------------------------------------------------------- */

enum ocsf_class { K_NETWORK, K_HTTP, K_PROCESS, K_FINDING, K_LIFECYCLE, K_BASE };

static const struct {
	int class_uid, category_uid;
	const char *class_name, *category_name;
} classes[] = {
	[K_NETWORK] = { 4001, 4, "Network Activity", "Network Activity" },
	[K_HTTP] = { 4002, 4, "HTTP Activity", "Network Activity" },
	[K_PROCESS] = { 1007, 1, "Process Activity", "System Activity" },
	[K_FINDING] = { 2004, 2, "Detection Finding", "Findings" },
	[K_LIFECYCLE] = { 6002, 6, "Application Lifecycle", "Application Activity" },
	[K_BASE] = { 0, 0, "Base Event", "Uncategorized" },
};

static const char *const severities[] = {
	"Unknown", "Informational", "Low", "Medium", "High", "Critical", "Fatal",
};

/* One conversion: the record, the event being built, and what was used. */
struct ocsf {
	const json_t *rec;
	json_t *body;			/* class-specific attributes, in output order */
	const char *used[64];		/* record keys mapped to an attribute */
	size_t nused;
	enum ocsf_class cls;
	int activity_id;
	const char *activity_name;
	int severity_id;
	bool security_control, host;
};

static void
use(struct ocsf *x, const char *k)
{
	if (x->nused < ARRAY_SIZE(x->used))
		x->used[x->nused++] = k;
}

static bool
used(const struct ocsf *x, const char *k)
{
	for (size_t i = 0; i < x->nused; i++)
		if (strcmp(x->used[i], k) == 0)
			return true;
	return false;
}

static const char *
take_str(struct ocsf *x, const char *k)
{
	const char *s = get_str(x->rec, k);

	if (s)
		use(x, k);
	return s;
}

static bool
take_int(struct ocsf *x, const char *k, json_int_t *v)
{
	if (!get_int(x->rec, k, v))
		return false;
	use(x, k);
	return true;
}

/*
 * Every string given here is valid UTF-8 by construction -- taken from the
 * parsed (scrubbed) record, a constant, a number, or text built only of
 * whole characters and ASCII escapes -- so jansson's check, a third of the
 * cost of an export, is skipped.
 */
static void
set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string_nocheck(v));
}

static void
set_int(json_t *o, const char *k, json_int_t v)
{
	json_object_set_new(o, k, json_integer(v));
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

/*
 * The sandbox as OCSF sees it: a device whose host name is the sandbox's
 * (warden gives each sandbox its name as hostname).  OCSF has no device
 * type for a namespace sandbox, hence Other.
 */
static json_t *
device(const json_t *rec)
{
	const char *sb = get_str(rec, "sandbox");
	json_t *d = json_object();

	if (sb && sb[0])
		set_str(d, "hostname", sb);
	else
		set_str(d, "name", "warden sandbox");
	set_int(d, "type_id", 99);
	set_str(d, "type", "Sandbox");
	return d;
}

/* A process of the agent as attribution saw it; pids are the sandbox's own. */
static json_t *
process_obj(const json_t *rec, const char *exe, json_int_t pid, json_int_t ppid,
    const char *sha256)
{
	json_t *p = json_object();
	const char *sb = get_str(rec, "sandbox");

	if (exe)
		set_str(p, "name", base_name(exe));
	if (pid)
		set_int(p, "pid", pid);
	if (exe) {
		json_t *f = json_object();
		set_str(f, "name", base_name(exe));
		set_str(f, "path", exe);
		set_int(f, "type_id", 8);
		set_str(f, "type", "Executable File");
		if (sha256) {
			json_t *h = json_object();
			set_int(h, "algorithm_id", 3);
			set_str(h, "algorithm", "SHA-256");
			set_str(h, "value", sha256);
			json_object_set_new(f, "hashes", json_pack("[o]", h));
		}
		json_object_set_new(p, "file", f);
	}
	if (ppid) {
		json_t *pp = json_object();
		set_int(pp, "pid", ppid);
		if (sb && sb[0])
			set_str(pp, "sandbox", sb);
		json_object_set_new(p, "parent_process", pp);
	}
	if (sb && sb[0])
		set_str(p, "sandbox", sb);
	return p;
}

/* actor.process from binary, binary_sha256, pid and ppid; NULL when none is known. */
static json_t *
actor_from_record(struct ocsf *x)
{
	const char *bin = take_str(x, "binary"), *sha = take_str(x, "binary_sha256");
	json_int_t pid = 0, ppid = 0;

	take_int(x, "pid", &pid);
	take_int(x, "ppid", &ppid);
	if (!bin && !pid)
		return NULL;
	x->host = true;
	return json_pack("{s:o}", "process", process_obj(x->rec, bin, pid, ppid, sha));
}

/* dst_endpoint from dst, port and addr (the address actually connected to). */
static json_t *
dst_endpoint(struct ocsf *x, int *ipver)
{
	const char *dst = take_str(x, "dst"), *addr = take_str(x, "addr");
	unsigned char buf[16];
	json_int_t port = 0;
	json_t *e;

	*ipver = 0;
	take_int(x, "port", &port);
	if (!dst && !addr)
		return NULL;
	e = json_object();
	if (dst && inet_pton(AF_INET, dst, buf) != 1 && inet_pton(AF_INET6, dst, buf) != 1)
		set_str(e, "hostname", dst);
	else if (dst && !addr)
		addr = dst;
	if (addr) {
		set_str(e, "ip", addr);
		*ipver = strchr(addr, ':') ? 6 : 4;
	}
	if (port > 0 && port <= 65535)
		set_int(e, "port", port);
	return e;
}

/* src_endpoint: the sandbox the connection came from (its host name). */
static json_t *
src_endpoint(const json_t *rec)
{
	const char *sb = get_str(rec, "sandbox");

	return sb && sb[0] ? json_pack("{s:s}", "hostname", sb) : NULL;
}

static void
set_obj(json_t *o, const char *k, json_t *v)
{
	if (v)
		json_object_set_new(o, k, v);
}

/* action_id/disposition_id (security_control profile) from a decision. */
static void
set_action(struct ocsf *x, int action_id, const char *action, int disp_id, const char *disp)
{
	x->security_control = true;
	set_int(x->body, "action_id", action_id);
	set_str(x->body, "action", action);
	set_int(x->body, "disposition_id", disp_id);
	set_str(x->body, "disposition", disp);
}

static void
set_status(struct ocsf *x, int id)
{
	static const char *const names[] = { "Unknown", "Success", "Failure" };

	set_int(x->body, "status_id", id);
	set_str(x->body, "status", names[id]);
}

/* The deciding rule and the policy (hash, revision) the decision used. */
static void
set_policy(struct ocsf *x, bool rule_is_firewall_rule)
{
	const char *hash = take_str(x, "policy_hash"), *rule = NULL;
	json_int_t rev = 0;
	json_t *p;

	if (rule_is_firewall_rule && (rule = take_str(x, "rule")))
		json_object_set_new(x->body, "firewall_rule", json_pack("{s:s,s:s}", "name", rule,
		    "type", "network_policies"));
	take_int(x, "policy_revision", &rev);
	if (!hash && !rev)
		return;
	p = json_object();
	set_str(p, "name", "warden policy");
	if (hash)
		set_str(p, "uid", hash);
	if (rev) {
		char v[32];
		snprintf(v, sizeof(v), "%lld", (long long)rev);
		set_str(p, "version", v);
	}
	json_object_set_new(p, "is_applied", json_true());
	json_object_set_new(x->body, "policy", p);
	x->security_control = true;
}

/* Allow / deny / error, shared by Network and HTTP Activity. */
static void
decision_attrs(struct ocsf *x, const char *dec, bool revoked)
{
	const char *reason = take_str(x, "reason");

	if (revoked) {
		set_action(x, 2, "Denied", 24, "Access Revoked");
		x->severity_id = 2;
	} else if (dec && strcmp(dec, "allow") == 0) {
		set_action(x, 1, "Allowed", 1, "Allowed");
		set_status(x, 1);
	} else if (dec && strcmp(dec, "deny") == 0) {
		set_action(x, 2, "Denied", 2, "Blocked");
		set_status(x, 2);
		x->severity_id = 2;
	} else if (dec && strcmp(dec, "audit") == 0) {
		/* enforcement: audit -- the rules would have blocked it; it went through. */
		set_action(x, 1, "Allowed", 17, "Logged");
		set_status(x, 1);
		x->severity_id = 2;
	} else if (dec && strcmp(dec, "error") == 0) {
		/* The policy allowed it; reaching the upstream failed. */
		set_action(x, 1, "Allowed", 1, "Allowed");
		set_status(x, 2);
	}
	if (dec)
		use(x, "decision");
	set_str(x->body, "status_detail", reason);
}

static void
map_network(struct ocsf *x, const char *ev, const char *dec)
{
	bool close = strcmp(ev, "net.close") == 0;
	int ipver;
	json_t *dst, *ci;

	x->cls = K_NETWORK;
	if (close)
		x->activity_id = 3, x->activity_name = "Reset";
	else if (dec && strcmp(dec, "allow") == 0)
		x->activity_id = 1, x->activity_name = "Open";
	else if (dec && strcmp(dec, "deny") == 0)
		x->activity_id = 5, x->activity_name = "Refuse";
	else if (dec && strcmp(dec, "error") == 0)
		x->activity_id = 4, x->activity_name = "Fail";
	else
		x->activity_id = 99, x->activity_name = "Other";
	set_obj(x->body, "src_endpoint", src_endpoint(x->rec));
	dst = dst_endpoint(x, &ipver);
	set_obj(x->body, "dst_endpoint", dst);
	ci = json_pack("{s:i,s:s,s:s,s:i}", "direction_id", 2, "direction", "Outbound",
	    "protocol_name", "tcp", "protocol_num", 6);
	if (ipver)
		set_int(ci, "protocol_ver_id", ipver);
	json_object_set_new(x->body, "connection_info", ci);
	set_obj(x->body, "actor", actor_from_record(x));
	decision_attrs(x, dec, close);
	set_policy(x, true);
}

static void
map_http(struct ocsf *x, const char *dec)
{
	static const char *const methods[] = {
		NULL, "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "TRACE", "PATCH",
	};
	const char *method = get_str(x->rec, "method"), *path = take_str(x, "path");
	json_t *req = json_object(), *dst;
	json_int_t code;
	int ipver;

	x->cls = K_HTTP;
	x->activity_id = 99;
	x->activity_name = "Other";
	for (size_t i = 1; method && i < ARRAY_SIZE(methods); i++)
		if (strcmp(method, methods[i]) == 0) {
			x->activity_id = (int)i;
			x->activity_name = methods[i];
		}
	/* Captions are capitalised words ("Get"), not the method's spelling. */
	if (x->activity_id != 99) {
		static const char *const captions[] = {
			NULL, "Connect", "Delete", "Get", "Head", "Options", "Post", "Put", "Trace",
			"Patch",
		};
		x->activity_name = captions[x->activity_id];
	}
	set_obj(x->body, "src_endpoint", src_endpoint(x->rec));
	dst = dst_endpoint(x, &ipver);
	/* http_method is an enum: other methods (WebDAV's...) stay unmapped. */
	if (x->activity_id != 99) {
		set_str(req, "http_method", method);
		use(x, "method");
	}
	if (path) {
		json_t *url = json_object();
		set_str(url, "path", path);
		if (dst && json_object_get(dst, "hostname"))
			json_object_set(url, "hostname", json_object_get(dst, "hostname"));
		if (dst && json_object_get(dst, "port"))
			json_object_set(url, "port", json_object_get(dst, "port"));
		json_object_set_new(req, "url", url);
	}
	json_object_set_new(x->body, "http_request", req);
	if (take_int(x, "status", &code)) {
		json_object_set_new(x->body, "http_response", json_pack("{s:I}", "code",
		    (json_int_t)code));
		set_int(x->body, "http_status", code);
	}
	set_obj(x->body, "dst_endpoint", dst);
	json_object_set_new(x->body, "connection_info", json_pack("{s:i,s:s,s:s,s:i}",
	    "direction_id", 2, "direction", "Outbound", "protocol_name", "tcp",
	    "protocol_num", 6));
	if (ipver)
		set_int(json_object_get(x->body, "connection_info"), "protocol_ver_id", ipver);
	set_obj(x->body, "actor", actor_from_record(x));
	decision_attrs(x, dec, false);
	set_policy(x, true);
}

/* " "-joined argv (lossy: the array itself stays under unmapped). */
static char *
cmd_line(const json_t *argv)
{
	struct sbuf b;
	size_t i;
	const json_t *v;

	if (!json_is_array(argv))
		return NULL;
	sbuf_init(&b, LINE_MAX_BYTES);
	sbuf_adds(&b, "");
	json_array_foreach(argv, i, v) {
		sbuf_adds(&b, i ? " " : "");
		sbuf_adds(&b, json_is_string(v) ? json_string_value(v) : "?");
	}
	return b.p;
}

/*
 * An exec replaces the image of a process that keeps its pid: the actor is
 * that process (before), process is the same pid running the new file.
 * "binary" is the file the kernel executed (/proc/PID/exe); "path" the one
 * the caller asked for, kept under unmapped when both are known.
 */
static void
map_process(struct ocsf *x)
{
	const char *bin = take_str(x, "binary"), *path = get_str(x->rec, "path");
	const json_t *confirmed = json_object_get(x->rec, "confirmed");
	json_int_t pid = 0, ppid = 0;
	json_t *p;
	char *cl;

	x->cls = K_PROCESS;
	x->activity_id = 1;
	x->activity_name = "Launch";
	take_int(x, "pid", &pid);
	take_int(x, "ppid", &ppid);
	if (!bin && path) {
		bin = path;
		use(x, "path");
	}
	p = process_obj(x->rec, bin, pid, ppid, take_str(x, "binary_sha256"));
	if ((cl = cmd_line(json_object_get(x->rec, "argv")))) {
		set_str(p, "cmd_line", cl);
		free(cl);
	}
	if (!pid && !json_object_get(p, "pid"))
		set_int(p, "pid", 0);
	set_int(x->body, "launch_type_id", 3);
	set_str(x->body, "launch_type", "Exec");
	json_object_set_new(x->body, "process", p);
	json_object_set_new(x->body, "actor", json_pack("{s:o}", "process",
	    process_obj(x->rec, NULL, pid ? pid : 0, ppid, NULL)));
	if (!pid)
		set_int(json_object_get(json_object_get(x->body, "actor"), "process"), "pid", 0);
	json_object_set_new(x->body, "device", device(x->rec));
	x->host = true;
	/* The exec monitor records; it does not decide. */
	set_action(x, 3, "Observed", 17, "Logged");
	if (json_is_boolean(confirmed)) {
		use(x, "confirmed");
		set_status(x, json_is_true(confirmed) ? 1 : 0);
		if (json_is_false(confirmed))
			set_str(x->body, "status_detail", "not confirmed against /proc/PID/exe");
	}
	set_policy(x, false);
}

/*
 * Severity by the classifier's tier (DESIGN §6): restricted → High,
 * confidential → Medium, internal → Low; a finding without a tier is
 * Medium, since it still reports sensitive data.
 */
static int
tier_severity(const char *tier)
{
	if (!tier)
		return 3;
	if (strcmp(tier, "restricted") == 0)
		return 4;
	if (strcmp(tier, "confidential") == 0)
		return 3;
	if (strcmp(tier, "internal") == 0)
		return 2;
	return 1;
}

static void
map_finding(struct ocsf *x, const char *dec)
{
	const json_t *types = json_object_get(x->rec, "types");
	const char *tier = take_str(x, "tier"), *reason = take_str(x, "reason");
	const char *hash = get_str(x->rec, "hash"), *method, *path;
	json_t *fi = json_object(), *ev = json_object(), *actor, *dst;
	struct sbuf title;
	int ipver;

	x->cls = K_FINDING;
	x->activity_id = 1;
	x->activity_name = "Create";
	x->severity_id = tier_severity(tier);
	sbuf_init(&title, 4096);
	sbuf_adds(&title, "Sensitive data");
	set_str(fi, "uid", hash);
	if (json_is_array(types)) {
		json_t *t = json_array(), *v;
		size_t i;
		json_array_foreach(types, i, v) {
			if (!json_is_string(v))
				continue;
			json_array_append(t, v);
			sbuf_adds(&title, i ? ", " : ": ");
			sbuf_adds(&title, json_string_value(v));
		}
		json_object_set_new(fi, "types", t);
		use(x, "types");
	}
	set_str(fi, "title", title.overflow ? "Sensitive data" : title.p);
	sbuf_free(&title);
	set_str(fi, "desc", reason);
	json_object_set_new(x->body, "finding_info", fi);
	if (dec && strcmp(dec, "deny") == 0)
		set_action(x, 2, "Denied", 2, "Blocked");
	else if (dec && strcmp(dec, "allow") == 0)
		set_action(x, 1, "Allowed", 1, "Allowed");
	else
		set_action(x, 3, "Observed", 15, "Detected");
	if (dec)
		use(x, "decision");
	json_object_set_new(x->body, "is_alert", json_true());
	set_int(x->body, "status_id", 1);
	set_str(x->body, "status", "New");
	/* Where it was seen: the acting process and the destination. */
	if ((actor = actor_from_record(x))) {
		json_object_set(ev, "actor", actor);
		json_object_set_new(x->body, "actor", actor);
	}
	if ((dst = dst_endpoint(x, &ipver)))
		json_object_set_new(ev, "dst_endpoint", dst);
	method = take_str(x, "method");
	path = take_str(x, "path");
	if (method || path) {
		json_t *req = json_object();
		/* http_method is an enum: other methods (WebDAV's...) stay unmapped. */
	if (x->activity_id != 99) {
		set_str(req, "http_method", method);
		use(x, "method");
	}
		if (path)
			json_object_set_new(req, "url", json_pack("{s:s}", "path", path));
		json_object_set_new(ev, "http_request", req);
	}
	if (json_object_size(ev))
		json_object_set_new(x->body, "evidences", json_pack("[o]", ev));
	else
		json_decref(ev);
	set_policy(x, true);
}

static void
map_lifecycle(struct ocsf *x, const char *ev, const char *dec)
{
	const char *feature = "sandbox", *reason = take_str(x, "reason");
	json_t *app = json_object();
	json_int_t n;

	x->cls = K_LIFECYCLE;
	x->activity_id = 99;
	x->activity_name = "Other";
	if (strcmp(ev, "sandbox.start") == 0) {
		x->activity_id = 3, x->activity_name = "Start";
		set_status(x, 1);
	} else if (strcmp(ev, "sandbox.stop") == 0) {
		x->activity_id = 4, x->activity_name = "Stop";
		if (take_int(x, "duration_ms", &n))
			set_int(x->body, "duration", n);
		if (take_int(x, "exit_status", &n)) {
			char code[32];
			snprintf(code, sizeof(code), "%lld", (long long)n);
			set_str(x->body, "status_code", code);
		}
		set_status(x, 1);
	} else if (strcmp(ev, "policy.load") == 0) {
		feature = "policy";
		x->activity_id = 6, x->activity_name = "Enable";
		set_status(x, 1);
	} else if (strcmp(ev, "policy.reload") == 0) {
		feature = "policy";
		x->activity_id = 8, x->activity_name = "Update";
		set_status(x, 1);
	} else if (strcmp(ev, "policy.reject") == 0) {
		/* A candidate policy refused: an update that failed. */
		feature = "policy";
		x->activity_id = 8, x->activity_name = "Update";
		x->severity_id = 2;
		set_status(x, 2);
		if (dec)
			use(x, "decision");
	} else if (strcmp(ev, "audit.checkpoint") == 0) {
		feature = "audit trail";
		x->activity_name = "Checkpoint";
	} else if (strncmp(ev, "policy.", 7) == 0) {
		feature = "policy";
	} else if (strncmp(ev, "audit.", 6) == 0) {
		feature = "audit trail";
	}
	set_str(x->body, "status_detail", reason);
	set_str(app, "name", PRODUCT);
	set_str(app, "vendor_name", PRODUCT);
	if (product_version[0])
		set_str(app, "version", product_version);
	json_object_set_new(app, "feature", json_pack("{s:s}", "name", feature));
	json_object_set_new(x->body, "app", app);
	json_object_set_new(x->body, "device", device(x->rec));
	x->host = true;
	set_policy(x, false);
}

/* The OCSF event for record r (owned by the caller). */
static json_t *
ocsf_event(const json_t *r, const char *message)
{
	struct ocsf x = { .rec = r, .body = json_object(), .severity_id = 1 };
	const char *ev = get_str(r, "event"), *dec = get_str(r, "decision");
	const char *hash = get_str(r, "hash"), *sb = get_str(r, "sandbox"), *k;
	int64_t ns = record_time_ns(get_str(r, "time"));
	json_t *o, *meta, *product, *profiles, *unmapped, *v;
	json_int_t seq = 0;
	char type_name[128];

	use(&x, "event");
	use(&x, "time");
	use(&x, "hash");
	use(&x, "seq");
	use(&x, "sandbox");
	if (strcmp(ev, "sandbox.start") == 0 && get_str(r, "warden_version")) {
		note_version(get_str(r, "warden_version"));
		use(&x, "warden_version");
	}
	if (strcmp(ev, "net.connect") == 0 || strcmp(ev, "net.close") == 0 ||
	    strcmp(ev, "tls.handshake") == 0)
		map_network(&x, ev, dec);
	else if (strcmp(ev, "http.request") == 0 || strcmp(ev, "http.response") == 0 ||
	    strcmp(ev, "inference.route") == 0)
		map_http(&x, dec);
	else if (strcmp(ev, "process.exec") == 0)
		map_process(&x);
	else if (strcmp(ev, "finding") == 0)
		map_finding(&x, dec);
	else if (is_lifecycle(ev))
		map_lifecycle(&x, ev, dec);
	else {
		x.cls = K_BASE;
		x.activity_id = 99;
		x.activity_name = "Other";
	}

	o = json_object();
	set_int(o, "class_uid", classes[x.cls].class_uid);
	set_str(o, "class_name", classes[x.cls].class_name);
	set_int(o, "category_uid", classes[x.cls].category_uid);
	set_str(o, "category_name", classes[x.cls].category_name);
	set_int(o, "activity_id", x.activity_id);
	set_str(o, "activity_name", x.activity_name);
	set_int(o, "type_uid", (json_int_t)classes[x.cls].class_uid * 100 + x.activity_id);
	snprintf(type_name, sizeof(type_name), "%s: %s", classes[x.cls].class_name,
	    x.activity_name);
	set_str(o, "type_name", type_name);
	set_int(o, "severity_id", x.severity_id);
	set_str(o, "severity", severities[x.severity_id]);
	set_int(o, "time", (json_int_t)(ns / 1000000));
	set_int(o, "timezone_offset", 0);
	set_str(o, "message", message);

	meta = json_object();
	set_str(meta, "version", OCSF_VERSION);
	product = json_pack("{s:s,s:s}", "name", PRODUCT, "vendor_name", PRODUCT);
	if (product_version[0])
		set_str(product, "version", product_version);
	json_object_set_new(meta, "product", product);
	set_str(meta, "uid", hash);
	if (sb && sb[0])
		set_str(meta, "correlation_uid", sb);
	set_str(meta, "original_time", get_str(r, "time"));
	set_int(meta, "logged_time", (json_int_t)(ns / 1000000));
	get_int(r, "seq", &seq);
	set_int(meta, "sequence", seq);
	set_str(meta, "event_code", ev);
	set_str(meta, "log_provider", PRODUCT);
	set_str(meta, "log_name", "audit");
	profiles = json_array();
	if (x.security_control)
		json_array_append_new(profiles, json_string("security_control"));
	if (x.host)
		json_array_append_new(profiles, json_string("host"));
	json_object_set_new(meta, "profiles", profiles);
	json_object_set_new(o, "metadata", meta);

	json_object_update(o, x.body);
	json_decref(x.body);

	unmapped = json_object();
	json_object_foreach((json_t *)r, k, v)
		if (!used(&x, k))
			json_object_set(unmapped, k, v);
	if (json_object_size(unmapped))
		json_object_set_new(o, "unmapped", unmapped);
	else
		json_decref(unmapped);
	return o;
}

/* ---- the interface ---------------------------------------------------------------- */

/* Render a parsed record r to out. */
static int
render(const json_t *r, const char *line, size_t len, enum audit_out_format fmt, bool colour,
    FILE *out, struct werr *err)
{
	struct sbuf b;
	int rc = 0;

	sbuf_init(&b, 4 * LINE_MAX_BYTES);
	switch (fmt) {
	case AUDIT_OUT_JSON:
		/* The record exactly as stored: its hash covers these bytes. */
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		sbuf_add(&b, line, len);
		break;
	case AUDIT_OUT_HUMAN:
		human_line(r, colour, &b);
		break;
	case AUDIT_OUT_OCSF: {
		json_t *o;
		char *s;

		human_line(r, false, &b);
		o = ocsf_event(r, b.overflow ? NULL : b.p);
		b.len = 0;
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!s) {
			sbuf_free(&b);
			return werr_set(err, "cannot encode the OCSF event");
		}
		sbuf_adds(&b, s);
		free(s);
		break;
	}
	}
	sbuf_adds(&b, "\n");
	if (b.overflow)
		rc = werr_set(err, "record too large to render");
	else if (fwrite(b.p, 1, b.len, out) != b.len)
		rc = werr_sys(err, "write");
	sbuf_free(&b);
	return rc;
}

int
audit_render(const char *line, size_t len, enum audit_out_format fmt, bool colour, FILE *out,
    struct werr *err)
{
	json_t *r = record_parse(line, len, err);
	int rc;

	if (!r)
		return -1;
	/* A sandbox.start names the warden version of what follows, in every format. */
	if (fmt != AUDIT_OUT_OCSF && strcmp(get_str(r, "event"), "sandbox.start") == 0 &&
	    get_str(r, "warden_version"))
		note_version(get_str(r, "warden_version"));
	rc = render(r, line, len, fmt, colour, out, err);
	json_decref(r);
	return rc;
}

/*
 * Lines are read whole up to LINE_MAX_BYTES: a longer one cannot be a
 * record, and reading it whole would let a damaged file claim any amount of
 * memory.  A final line without its newline is a record cut short by a
 * crash: it is reported and left out, and the records before it are still
 * exported -- the verifier is the judge of the trail's integrity.
 */
long
audit_export_ocsf(FILE *in, FILE *out, struct werr *err)
{
	char *line = xmalloc(LINE_MAX_BYTES + 2);
	long count = 0;
	uint64_t lineno = 0;

	product_version[0] = '\0';
	for (;;) {
		size_t len = 0;
		int c = EOF;
		bool newline = false, too_long = false;
		json_t *r;

		while ((c = getc(in)) != EOF) {
			if (c == '\n') {
				newline = true;
				break;
			}
			if (len < LINE_MAX_BYTES + 1)
				line[len++] = (char)c;
			else
				too_long = true;
		}
		if (c == EOF && ferror(in)) {
			werr_sys(err, "read");
			goto fail;
		}
		if (len == 0 && !newline && !too_long)
			break;
		lineno++;
		if (too_long) {
			werr_set(err, "line %llu: longer than %d bytes, not an audit record",
			    (unsigned long long)lineno, LINE_MAX_BYTES);
			goto fail;
		}
		r = record_parse(line, len, err);
		if (!r && !newline) {
			log_warnx("line %llu: the final line is cut short (a crash while "
			    "writing?); not exported", (unsigned long long)lineno);
			werr_clear(err);
			break;
		}
		if (!r) {
			werr_prefix(err, "line %llu", (unsigned long long)lineno);
			goto fail;
		}
		if (render(r, line, len, AUDIT_OUT_OCSF, false, out, err) < 0) {
			json_decref(r);
			werr_prefix(err, "line %llu", (unsigned long long)lineno);
			goto fail;
		}
		json_decref(r);
		count++;
		if (!newline)
			break;
	}
	if (fflush(out) != 0) {
		werr_sys(err, "write");
		goto fail;
	}
	free(line);
	return count;
fail:
	free(line);
	return -1;
}
