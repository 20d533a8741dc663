/*
 * The guard protocol codec (guard_proto.h; the specification is
 * docs/guard-protocol.md).
 *
 * Both sides of the protocol treat the other as untrusted: the proxy does
 * not trust a classifier's reply (a classifier may be third-party code, or
 * crash halfway through a write), and a classifier should not trust bytes
 * it did not expect.  So decoding is strict -- every required member
 * present with the right JSON type, integers whole, non-negative and in
 * range, spans inside the body, duplicate members refused (two parsers
 * could otherwise disagree on which one counts) -- and any doubt is a
 * failure the caller turns into a denial.  Unknown members are ignored, so
 * a later minor revision can add information without breaking version 1
 * peers.
 *
 * Headers are parsed with jansson, which also rejects invalid UTF-8,
 * \u0000 in strings and trailing bytes after the object.  Strings the
 * proxy sends come from the agent (paths, binary names) and may be any
 * bytes, so the encoders replace invalid UTF-8 with U+FFFD rather than
 * produce a header the other side must refuse.
 */
#include "guard_proto.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

static void __attribute__((format(printf, 3, 4)))
set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* jansson returns NULL from a constructor only when memory is exhausted. */
static json_t *
jok(json_t *j)
{
	if (!j) {
		fputs("warden: out of memory (json)\n", stderr);
		abort();
	}
	return j;
}

static void
jset(json_t *obj, const char *key, json_t *val)
{
	if (json_object_set_new(obj, key, jok(val)) < 0)
		jok(NULL);
}

/*
 * A JSON string of s: invalid UTF-8 becomes U+FFFD, and the text is cut
 * (between characters) at max bytes.
 */
static json_t *
jstr(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), i = 0;
	struct sbuf b;
	json_t *j;

	sbuf_init(&b, max + 4);
	while (i < n) {
		size_t k = utf8_seq_len(p + i, n - i);
		const char *add = k ? (const char *)p + i : "\xef\xbf\xbd";
		size_t addlen = k ? k : 3;

		if (b.len + addlen > max)
			break;
		sbuf_add(&b, add, addlen);
		i += k ? k : 1;
	}
	j = jok(json_stringn(b.p, b.len));
	sbuf_free(&b);
	return j;
}

/* Copy a decoded string into a fixed field (the caller checked its length). */
static void
copy_field(char *dst, size_t dstlen, const json_t *s)
{
	size_t n = json_string_length(s);

	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, json_string_value(s), n);
	dst[n] = '\0';
}

/* Parse a header: a JSON object, nothing after it, no duplicate members. */
static json_t *
load_header(const struct guard_frame *f, char *why, size_t whylen)
{
	json_error_t e;
	json_t *j;

	if (f->header_len > GUARD_MAX_HEADER) {
		set_why(why, whylen, "header larger than %u bytes", GUARD_MAX_HEADER);
		return NULL;
	}
	j = json_loadb(f->header, f->header_len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		set_why(why, whylen, "header is not valid JSON: %s (column %d)", e.text, e.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		set_why(why, whylen, "header is not a JSON object");
		json_decref(j);
		return NULL;
	}
	return j;
}

static int
want_type(const json_t *obj, const char *type, char *why, size_t whylen)
{
	const json_t *t = json_object_get(obj, "type");

	if (!json_is_string(t)) {
		set_why(why, whylen, "header has no \"type\" string");
		return -1;
	}
	if (strcmp(json_string_value(t), type) != 0) {
		set_why(why, whylen, "unexpected message type (want \"%s\")", type);
		return -1;
	}
	return 0;
}

/* A whole, non-negative JSON integer no larger than max.  Absent: -1 unless optional. */
static int
get_uint(const json_t *obj, const char *key, uint64_t max, bool optional, uint64_t *out,
    char *why, size_t whylen)
{
	const json_t *v = json_object_get(obj, key);
	json_int_t i;

	if (!v && optional) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v)) {
		set_why(why, whylen, v ? "\"%s\" is not an integer" : "\"%s\" is missing", key);
		return -1;
	}
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > max) {
		set_why(why, whylen, "\"%s\" is out of range (0..%llu)", key,
		    (unsigned long long)max);
		return -1;
	}
	*out = (uint64_t)i;
	return 0;
}

/* A JSON string of at most maxlen bytes.  Absent and optional: *out is NULL. */
static int
get_str(const json_t *obj, const char *key, size_t maxlen, bool optional,
    const json_t **out, char *why, size_t whylen)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v && optional)
		return 0;
	if (!json_is_string(v)) {
		set_why(why, whylen, v ? "\"%s\" is not a string" : "\"%s\" is missing", key);
		return -1;
	}
	if (json_string_length(v) > maxlen) {
		set_why(why, whylen, "\"%s\" is longer than %zu bytes", key, maxlen);
		return -1;
	}
	*out = v;
	return 0;
}

static int
get_tier(const json_t *obj, const char *key, enum tier *t, char *why, size_t whylen)
{
	const json_t *v;

	if (get_str(obj, key, 32, false, &v, why, whylen) < 0)
		return -1;
	if (tier_parse(json_string_value(v), json_string_length(v), t) < 0) {
		set_why(why, whylen, "\"%s\" is not a tier (public, internal, confidential, "
		    "restricted)", key);
		return -1;
	}
	return 0;
}

/* Every byte of s is in the set (a string of allowed bytes). */
static bool
only_chars(const json_t *s, bool (*ok)(unsigned char))
{
	const unsigned char *p = (const unsigned char *)json_string_value(s);
	size_t n = json_string_length(s);

	for (size_t i = 0; i < n; i++)
		if (!ok(p[i]))
			return false;
	return true;
}

static bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Finding types, classes and validators: names, never content. */
static bool
name_char(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
}

static bool
placeholder_char(unsigned char c)
{
	return name_char(c) || c == '[' || c == ']' || c == '<' || c == '>';
}

/* A classifier's self-description may be any printable text. */
static bool
printable_char(unsigned char c)
{
	return c >= 0x20 && c != 0x7f;
}

static bool
body_empty(const struct guard_frame *f, char *why, size_t whylen)
{
	if (f->body_len != 0) {
		set_why(why, whylen, "this message has no body, but %zu bytes follow the header",
		    f->body_len);
		return false;
	}
	return true;
}

/*
 * Open a frame in out: the 8 length bytes (filled in once the header is
 * written) and the header's first members, "type" and "id".  Returns where
 * the frame starts; its header starts 8 bytes later.
 */
static size_t
frame_begin(struct sbuf *out, const char *type, uint64_t id)
{
	static const char lengths[8];
	size_t mark = out->len;

	sbuf_add(out, lengths, sizeof(lengths));
	sbuf_adds(out, "{\"type\":\"");
	sbuf_adds(out, type);
	sbuf_adds(out, "\",\"id\":");
	sbuf_add_uint(out, id & GUARD_MAX_ID);
	return mark;
}

/*
 * ---- the fast reader ----
 *
 * Every request header comes from warden's encoder and, with the built-in
 * classifier, every reply header from warden-guard's: one compact form,
 * members in a fixed order, no whitespace.  Such a header is read here by
 * matching it against that form -- no JSON tree, no allocation per member.
 * Anything else (another order, whitespace, an unknown member, an escape
 * or a byte outside printable ASCII in a string, a number with a leading
 * zero or past its limit, a value the checks refuse) is handed to the full
 * parser (jansson), which decides and says why.  The reader accepts only
 * headers the full parser accepts, with the same values: printable ASCII
 * without escapes is valid UTF-8 and holds no \u0000, the member names are
 * fixed and distinct, and integers are plain digits.  So how strict a
 * decode is never depends on which reader took the header; the unit tests
 * compare the two on every shape and on mutations of them.
 */
static bool fast_reader = true;
static size_t fast_hits;

void
guard_proto_fast_decode(bool on)
{
	fast_reader = on;
}

size_t
guard_proto_fast_hits(void)
{
	return __atomic_load_n(&fast_hits, __ATOMIC_RELAXED);
}

struct rd {
	const char *p, *end;
};

static bool
rd_lit(struct rd *r, const char *s, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, s, n) != 0)
		return false;
	r->p += n;
	return true;
}
#define RD_LIT(r, s) rd_lit((r), (s), sizeof(s) - 1)

/* Digits without a leading zero (a lone 0 is fine), at most max. */
static bool
rd_uint(struct rd *r, uint64_t max, uint64_t *out)
{
	const char *p = r->p;
	uint64_t v = 0;

	if (p == r->end || *p < '0' || *p > '9')
		return false;
	if (*p == '0') {
		p++;
	} else {
		for (; p < r->end && *p >= '0' && *p <= '9'; p++) {
			unsigned d = (unsigned)(*p - '0');

			if (d > max || v > (max - d) / 10)
				return false;
			v = v * 10 + d;
		}
	}
	if (p < r->end && *p >= '0' && *p <= '9')
		return false;
	*out = v;
	r->p = p;
	return true;
}

/* A string of printable ASCII (0x20-0x7e) without a backslash, at most max bytes. */
static bool
rd_str(struct rd *r, size_t max, const char **s, size_t *n)
{
	const char *q;

	if (r->p == r->end || *r->p != '"')
		return false;
	for (q = r->p + 1; q < r->end && *q != '"'; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e || *q == '\\')
			return false;
	if (q == r->end || (size_t)(q - r->p - 1) > max)
		return false;
	*s = r->p + 1;
	*n = (size_t)(q - r->p - 1);
	r->p = q + 1;
	return true;
}

static bool
rd_done(const struct rd *r)
{
	return r->p == r->end;
}

/* The same string, matched against a set of allowed bytes. */
static bool
span_only(const char *s, size_t n, bool (*ok)(unsigned char))
{
	for (size_t i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return false;
	return true;
}

/* A fixed field from a matched string: what copy_field does for a decoded one. */
static void
copy_span(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* ---- frames ---- */

ssize_t
guard_frame_parse(const void *buf, size_t len, size_t max_frame, struct guard_frame *f,
    const char **why)
{
	const unsigned char *p = buf;
	uint32_t n, h;

	if (len < 4)
		return 0;
	n = get_be32(p);
	if (n < 4) {
		if (why)
			*why = "frame length is smaller than its header length field";
		return -1;
	}
	if (n > max_frame) {
		if (why)
			*why = "frame is larger than the limit";
		return -1;
	}
	if (len < 8)
		return 0;
	h = get_be32(p + 4);
	if (h > n - 4) {
		if (why)
			*why = "header length runs past the end of the frame";
		return -1;
	}
	if (h > GUARD_MAX_HEADER) {
		if (why)
			*why = "header is larger than 64 KiB";
		return -1;
	}
	if (len - 4 < n)
		return 0;
	f->header = (const char *)p + 8;
	f->header_len = h;
	f->body = p + 8 + h;
	f->body_len = n - 4 - h;
	return (ssize_t)n + 4;
}

void
guard_frame_encode(struct sbuf *out, const char *header, size_t header_len, const void *body,
    size_t body_len)
{
	unsigned char prefix[8];
	size_t total;

	/*
	 * All or nothing: a partly appended frame would desynchronise the
	 * stream, so a frame that cannot fit marks the buffer overflowed and
	 * appends nothing.
	 */
	if (header_len > UINT32_MAX - 4 || body_len > UINT32_MAX - 4 - header_len) {
		out->overflow = true;
		return;
	}
	total = 8 + header_len + body_len;
	if (out->overflow || total > out->max - out->len) {
		out->overflow = true;
		return;
	}
	put_be32(prefix, (uint32_t)(4 + header_len + body_len));
	put_be32(prefix + 4, (uint32_t)header_len);
	sbuf_add(out, (const char *)prefix, 8);
	sbuf_add(out, header, header_len);
	if (body_len)
		sbuf_add(out, body, body_len);
}

/* Encode a header object as compact JSON and append it as a frame. */
static void
emit(struct sbuf *out, json_t *hdr, const void *body, size_t body_len)
{
	char *s = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (!s)
		jok(NULL);	/* json_dumps fails only when memory is exhausted */
	guard_frame_encode(out, s, strlen(s), body, body_len);
	free(s);
	json_decref(hdr);
}

/* ---- handshake ---- */

void
guard_hello_encode(struct sbuf *out)
{
	json_t *h = jok(json_object());
	json_t *v = jok(json_array());

	if (json_array_append_new(v, jok(json_integer(GUARD_PROTO_VERSION))) < 0)
		jok(NULL);
	jset(h, "type", json_string("hello"));
	jset(h, "protocol", json_string(GUARD_PROTO_NAME));
	jset(h, "versions", v);
	emit(out, h, NULL, 0);
}

int
guard_hello_decode(const struct guard_frame *f, char *why, size_t whylen)
{
	json_t *j = load_header(f, why, whylen);
	const json_t *proto, *versions, *v;
	bool offered = false;
	size_t i;
	int rc = -1;

	if (!j)
		return -1;
	if (want_type(j, "hello", why, whylen) < 0 || !body_empty(f, why, whylen) ||
	    get_str(j, "protocol", 64, false, &proto, why, whylen) < 0)
		goto out;
	if (strcmp(json_string_value(proto), GUARD_PROTO_NAME) != 0) {
		set_why(why, whylen, "not the %s protocol", GUARD_PROTO_NAME);
		goto out;
	}
	versions = json_object_get(j, "versions");
	if (!json_is_array(versions) || json_array_size(versions) == 0 ||
	    json_array_size(versions) > 64) {
		set_why(why, whylen, "\"versions\" is not an array of 1 to 64 integers");
		goto out;
	}
	json_array_foreach(versions, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			set_why(why, whylen, "\"versions\" holds something other than "
			    "non-negative integers");
			goto out;
		}
		if (json_integer_value(v) == GUARD_PROTO_VERSION)
			offered = true;
	}
	if (!offered) {
		set_why(why, whylen, "no common protocol version (this classifier speaks %d)",
		    GUARD_PROTO_VERSION);
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

void
guard_hello_reply_encode(const struct guard_hello_reply *h, struct sbuf *out)
{
	json_t *j = jok(json_object());

	jset(j, "type", json_string("hello"));
	if (h->error[0]) {
		jset(j, "error", jstr(h->error, sizeof(h->error) - 1));
	} else {
		jset(j, "version", json_integer(h->version));
		jset(j, "name", jstr(h->name, sizeof(h->name) - 1));
		jset(j, "classifier_version",
		    jstr(h->classifier_version, sizeof(h->classifier_version) - 1));
	}
	emit(out, j, NULL, 0);
}

int
guard_hello_reply_decode(const struct guard_frame *f, struct guard_hello_reply *h, char *why,
    size_t whylen)
{
	json_t *j = load_header(f, why, whylen);
	const json_t *err, *name, *cver;
	uint64_t version;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (!j)
		return -1;
	if (want_type(j, "hello", why, whylen) < 0 || !body_empty(f, why, whylen))
		goto out;
	/* A refusal is a well-formed answer: the caller reads h->error. */
	if (get_str(j, "error", 4096, true, &err, why, whylen) < 0)
		goto out;
	if (err) {
		size_t n = json_string_length(err);

		if (n == 0) {
			set_why(why, whylen, "\"error\" is empty");
			goto out;
		}
		if (n >= sizeof(h->error)) {
			/* Cut between UTF-8 characters. */
			n = sizeof(h->error) - 1;
			while (n > 0 && ((unsigned char)json_string_value(err)[n] & 0xc0) == 0x80)
				n--;
		}
		memcpy(h->error, json_string_value(err), n);
		h->error[n] = '\0';
		rc = 0;
		goto out;
	}
	if (get_uint(j, "version", 65535, false, &version, why, whylen) < 0 ||
	    get_str(j, "name", sizeof(h->name) - 1, false, &name, why, whylen) < 0 ||
	    get_str(j, "classifier_version", sizeof(h->classifier_version) - 1, true, &cver,
	    why, whylen) < 0)
		goto out;
	if (version == 0) {
		set_why(why, whylen, "\"version\" is 0 without an \"error\"");
		goto out;
	}
	if (json_string_length(name) == 0 || !only_chars(name, printable_char) ||
	    (cver && !only_chars(cver, printable_char))) {
		set_why(why, whylen, "\"name\" or \"classifier_version\" is empty or holds "
		    "control characters");
		goto out;
	}
	h->version = (int)version;
	copy_field(h->name, sizeof(h->name), name);
	if (cver)
		copy_field(h->classifier_version, sizeof(h->classifier_version), cver);
	rc = 0;
out:
	if (rc < 0)
		memset(h, 0, sizeof(*h));
	json_decref(j);
	return rc;
}

/* ---- requests ---- */

/*
 * A string member's value as jstr makes it (valid UTF-8, cut at max
 * bytes), written straight into a header being built.  Plain ASCII that
 * fits needs no copy; printable ASCII without quotes or backslashes (the
 * usual string) needs no escaping either and goes in as it is.
 */
static void
add_str(struct sbuf *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = 0;
	bool plain = true;
	json_t *j;

	for (; p[n] && p[n] < 0x80 && n <= max; n++)
		if (p[n] < 0x20 || p[n] == 0x7f || p[n] == '"' || p[n] == '\\')
			plain = false;
	if (!p[n] && n <= max && plain) {
		sbuf_add(out, "\"", 1);
		sbuf_add(out, (const char *)p, n);
		sbuf_add(out, "\"", 1);
		return;
	}
	if (!p[n] && n <= max) {
		sbuf_add_json(out, (const char *)p);
		return;
	}
	j = jstr((const char *)p, max);
	sbuf_add_json(out, json_string_value(j));
	json_decref(j);
}

/*
 * The frame of every request is written directly into out, not through a
 * JSON tree or a second buffer: it is on the path of every model request,
 * and building and dumping a tree of ten members cost more than the rest
 * of the encoding.  Same members, same order, same limits as the other
 * encoders; the length fields are filled in once the header is written.
 */
void
guard_request_encode(const struct guard_request *r, struct sbuf *out)
{
	size_t mark, hstart, hlen;

	if (out->overflow)
		return;
	mark = frame_begin(out, "classify", r->id);
	hstart = mark + 8;
	sbuf_adds(out, ",\"deadline_ms\":");
	sbuf_add_uint(out, r->deadline_ms);
	sbuf_adds(out, ",\"format\":");
	add_str(out, r->format && *r->format ? r->format : "unknown", 32);
	sbuf_adds(out, ",\"destination\":{\"provider\":");
	add_str(out, r->provider, GUARD_MAX_STRING);
	sbuf_adds(out, ",\"host\":");
	add_str(out, r->host, GUARD_MAX_STRING);
	sbuf_adds(out, ",\"path\":");
	add_str(out, r->path, GUARD_MAX_PATH);
	sbuf_adds(out, ",\"model\":");
	add_str(out, r->model, GUARD_MAX_STRING);
	sbuf_adds(out, "},\"context\":{\"sandbox\":");
	add_str(out, r->sandbox, GUARD_MAX_STRING);
	sbuf_adds(out, ",\"binary\":");
	add_str(out, r->binary, GUARD_MAX_STRING);
	sbuf_adds(out, ",\"pid\":");
	sbuf_add_uint(out, r->pid > 0 ? (uint64_t)r->pid : 0);
	sbuf_adds(out, "}}");
	hlen = out->len - hstart;
	/*
	 * All or nothing, as for any frame: a header no classifier would
	 * accept, or a frame the buffer cannot take, appends nothing.
	 */
	if (out->overflow || hlen > GUARD_MAX_HEADER ||
	    r->body_len > UINT32_MAX - 4 - hlen || r->body_len > out->max - out->len) {
		out->len = mark;
		if (out->p)
			out->p[mark] = '\0';
		out->overflow = true;
		return;
	}
	if (r->body_len)
		sbuf_add(out, r->body, r->body_len);
	put_be32((unsigned char *)out->p + mark, (uint32_t)(4 + hlen + r->body_len));
	put_be32((unsigned char *)out->p + mark + 4, (uint32_t)hlen);
}

/* A format name: v1 knows anthropic, openai and unknown; later ones read as unknown. */
static bool
format_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* The request's strings, in the order of struct guard_request's members. */
enum { RS_FORMAT, RS_PROVIDER, RS_HOST, RS_PATH, RS_MODEL, RS_SANDBOX, RS_BINARY, RS_N };

/*
 * Copy the strings into one block the request owns (its storage), each
 * NUL-terminated, and point the request's members at them.
 */
static void
request_strings(struct guard_request *r, const char *const s[RS_N], const size_t n[RS_N])
{
	const char **dst[RS_N] = { &r->format, &r->provider, &r->host, &r->path, &r->model,
	    &r->sandbox, &r->binary };
	size_t total = 0;
	char *block, *p;

	for (int i = 0; i < RS_N; i++)
		total += n[i] + 1;
	p = block = xmalloc(total);
	for (int i = 0; i < RS_N; i++) {
		memcpy(p, s[i], n[i]);
		p[n[i]] = '\0';
		*dst[i] = p;
		p += n[i] + 1;
	}
	r->storage = block;
}

/* The fast reader's request (see the top of the file); false: the full parser decides. */
static bool
request_fast(const struct guard_frame *f, struct guard_request *r)
{
	struct rd d = { f->header, f->header + f->header_len };
	const char *s[RS_N];
	size_t n[RS_N];
	uint64_t id, deadline, pid;

	if (!fast_reader || f->header_len > GUARD_MAX_HEADER ||
	    !RD_LIT(&d, "{\"type\":\"classify\",\"id\":") || !rd_uint(&d, GUARD_MAX_ID, &id) ||
	    !RD_LIT(&d, ",\"deadline_ms\":") || !rd_uint(&d, UINT32_MAX, &deadline) ||
	    !RD_LIT(&d, ",\"format\":") || !rd_str(&d, 32, &s[RS_FORMAT], &n[RS_FORMAT]) ||
	    n[RS_FORMAT] == 0 || !span_only(s[RS_FORMAT], n[RS_FORMAT], format_char) ||
	    !RD_LIT(&d, ",\"destination\":{\"provider\":") ||
	    !rd_str(&d, GUARD_MAX_STRING, &s[RS_PROVIDER], &n[RS_PROVIDER]) ||
	    !RD_LIT(&d, ",\"host\":") || !rd_str(&d, GUARD_MAX_STRING, &s[RS_HOST], &n[RS_HOST]) ||
	    !RD_LIT(&d, ",\"path\":") || !rd_str(&d, GUARD_MAX_PATH, &s[RS_PATH], &n[RS_PATH]) ||
	    !RD_LIT(&d, ",\"model\":") ||
	    !rd_str(&d, GUARD_MAX_STRING, &s[RS_MODEL], &n[RS_MODEL]) ||
	    !RD_LIT(&d, "},\"context\":{\"sandbox\":") ||
	    !rd_str(&d, GUARD_MAX_STRING, &s[RS_SANDBOX], &n[RS_SANDBOX]) ||
	    !RD_LIT(&d, ",\"binary\":") ||
	    !rd_str(&d, GUARD_MAX_STRING, &s[RS_BINARY], &n[RS_BINARY]) ||
	    !RD_LIT(&d, ",\"pid\":") || !rd_uint(&d, INT32_MAX, &pid) ||
	    !RD_LIT(&d, "}}") || !rd_done(&d))
		return false;
	r->id = id;
	r->deadline_ms = (unsigned)deadline;
	r->pid = (pid_t)pid;
	r->body = f->body;
	r->body_len = f->body_len;
	request_strings(r, s, n);
	__atomic_fetch_add(&fast_hits, 1, __ATOMIC_RELAXED);
	return true;
}

int
guard_request_decode(const struct guard_frame *f, struct guard_request *r, char *why,
    size_t whylen)
{
	json_t *j;
	const json_t *dst, *ctx, *str[RS_N];
	const char *s[RS_N];
	size_t n[RS_N];
	uint64_t id, deadline, pid;

	memset(r, 0, sizeof(*r));
	if (request_fast(f, r))
		return 0;
	if (!(j = load_header(f, why, whylen)))
		return -1;
	if (want_type(j, "classify", why, whylen) < 0 ||
	    get_uint(j, "id", GUARD_MAX_ID, false, &id, why, whylen) < 0 ||
	    get_uint(j, "deadline_ms", UINT32_MAX, false, &deadline, why, whylen) < 0 ||
	    get_str(j, "format", 32, false, &str[RS_FORMAT], why, whylen) < 0)
		goto fail;
	if (json_string_length(str[RS_FORMAT]) == 0 || !only_chars(str[RS_FORMAT], format_char)) {
		set_why(why, whylen, "\"format\" is not a format name");
		goto fail;
	}
	dst = json_object_get(j, "destination");
	ctx = json_object_get(j, "context");
	if (!json_is_object(dst) || !json_is_object(ctx)) {
		set_why(why, whylen, "\"destination\" and \"context\" must be objects");
		goto fail;
	}
	if (get_str(dst, "provider", GUARD_MAX_STRING, false, &str[RS_PROVIDER], why, whylen) < 0 ||
	    get_str(dst, "host", GUARD_MAX_STRING, false, &str[RS_HOST], why, whylen) < 0 ||
	    get_str(dst, "path", GUARD_MAX_PATH, false, &str[RS_PATH], why, whylen) < 0 ||
	    get_str(dst, "model", GUARD_MAX_STRING, false, &str[RS_MODEL], why, whylen) < 0 ||
	    get_str(ctx, "sandbox", GUARD_MAX_STRING, false, &str[RS_SANDBOX], why, whylen) < 0 ||
	    get_str(ctx, "binary", GUARD_MAX_STRING, false, &str[RS_BINARY], why, whylen) < 0 ||
	    get_uint(ctx, "pid", INT32_MAX, false, &pid, why, whylen) < 0)
		goto fail;
	r->id = id;
	r->deadline_ms = (unsigned)deadline;
	r->pid = (pid_t)pid;
	r->body = f->body;
	r->body_len = f->body_len;
	for (int i = 0; i < RS_N; i++) {
		s[i] = json_string_value(str[i]);
		n[i] = json_string_length(str[i]);
	}
	request_strings(r, s, n);
	json_decref(j);
	return 0;
fail:
	json_decref(j);
	return -1;
}

void
guard_request_free(struct guard_request *r)
{
	free(r->storage);
	memset(r, 0, sizeof(*r));
}

/* ---- replies ---- */

const char *
guard_decision_name(enum guard_decision d)
{
	switch (d) {
	case GUARD_ALLOW:
		return "allow";
	case GUARD_DENY:
		return "deny";
	case GUARD_ERROR:
		break;
	}
	return "error";
}

/*
 * Written directly into out like a request (a reply is encoded for every
 * request a classifier answers), with the members in the order of the
 * worked example in the specification -- the form the fast reader takes.
 */
void
guard_reply_encode(const struct guard_reply *r, struct sbuf *out)
{
	size_t mark, hstart, hlen;

	if (out->overflow)
		return;
	mark = frame_begin(out, "result", r->id);
	hstart = mark + 8;
	sbuf_adds(out, ",\"decision\":\"");
	sbuf_adds(out, guard_decision_name(r->decision));
	sbuf_adds(out, "\",\"tier\":\"");
	sbuf_adds(out, tier_name(r->tier));
	sbuf_adds(out, "\",\"reason\":");
	add_str(out, r->reason, sizeof(r->reason) - 1);
	sbuf_adds(out, ",\"findings\":[");
	for (size_t i = 0; i < r->nfindings && !out->overflow; i++) {
		const struct guard_finding *g = &r->findings[i];

		sbuf_adds(out, i ? ",{\"type\":" : "{\"type\":");
		add_str(out, g->type, sizeof(g->type) - 1);
		sbuf_adds(out, ",\"class\":");
		add_str(out, g->cls, sizeof(g->cls) - 1);
		sbuf_adds(out, ",\"tier\":\"");
		sbuf_adds(out, tier_name(g->tier));
		sbuf_adds(out, "\",\"start\":");
		sbuf_add_uint(out, g->start);
		sbuf_adds(out, ",\"end\":");
		sbuf_add_uint(out, g->end);
		sbuf_adds(out, ",\"validator\":");
		add_str(out, g->validator, sizeof(g->validator) - 1);
		sbuf_adds(out, "}");
	}
	sbuf_adds(out, "],\"redactions\":[");
	for (size_t i = 0; i < r->nredactions && !out->overflow; i++) {
		const struct guard_redaction *x = &r->redactions[i];

		sbuf_adds(out, i ? ",{\"start\":" : "{\"start\":");
		sbuf_add_uint(out, x->start);
		sbuf_adds(out, ",\"end\":");
		sbuf_add_uint(out, x->end);
		sbuf_adds(out, ",\"placeholder\":");
		add_str(out, x->placeholder, GUARD_PLACEHOLDER_MAX);
		sbuf_adds(out, "}");
	}
	sbuf_adds(out, "]}");
	hlen = out->len - hstart;
	/* All or nothing, as for any frame. */
	if (out->overflow || hlen > UINT32_MAX - 4) {
		out->len = mark;
		if (out->p)
			out->p[mark] = '\0';
		out->overflow = true;
		return;
	}
	put_be32((unsigned char *)out->p + mark, (uint32_t)(4 + hlen));
	put_be32((unsigned char *)out->p + mark + 4, (uint32_t)hlen);
}

static int
get_decision(const json_t *obj, enum guard_decision *d, char *why, size_t whylen)
{
	const json_t *v;
	const char *s;

	if (get_str(obj, "decision", 16, false, &v, why, whylen) < 0)
		return -1;
	s = json_string_value(v);
	if (strcmp(s, "allow") == 0)
		*d = GUARD_ALLOW;
	else if (strcmp(s, "deny") == 0)
		*d = GUARD_DENY;
	else if (strcmp(s, "error") == 0)
		*d = GUARD_ERROR;
	else {
		set_why(why, whylen, "\"decision\" is not allow, deny or error");
		return -1;
	}
	return 0;
}

/* A span [start, end) with start < end <= body_len. */
static int
get_span(const json_t *o, size_t body_len, size_t *start, size_t *end, const char *what,
    size_t idx, char *why, size_t whylen)
{
	uint64_t s, e;

	if (get_uint(o, "start", GUARD_MAX_ID, false, &s, why, whylen) < 0 ||
	    get_uint(o, "end", GUARD_MAX_ID, false, &e, why, whylen) < 0) {
		/* Keep the member's complaint, say where it was. */
		char inner[160];

		snprintf(inner, sizeof(inner), "%s", why ? why : "");
		set_why(why, whylen, "%s[%zu]: %s", what, idx, inner);
		return -1;
	}
	if (!(s < e && e <= body_len)) {
		set_why(why, whylen, "%s[%zu]: span %llu..%llu is not within the %zu-byte body "
		    "(start < end <= body length)", what, idx, (unsigned long long)s,
		    (unsigned long long)e, body_len);
		return -1;
	}
	*start = (size_t)s;
	*end = (size_t)e;
	return 0;
}

/* A name-like member (type, class, validator): charset and length checked. */
static int
get_name(const json_t *o, const char *key, char *dst, size_t dstlen, bool optional,
    const char *what, size_t idx, char *why, size_t whylen)
{
	const json_t *v;

	if (get_str(o, key, dstlen - 1, optional, &v, why, whylen) < 0) {
		char inner[160];

		snprintf(inner, sizeof(inner), "%s", why ? why : "");
		set_why(why, whylen, "%s[%zu]: %s", what, idx, inner);
		return -1;
	}
	if (!v)
		return 0;
	if ((!optional && json_string_length(v) == 0) || !only_chars(v, name_char)) {
		set_why(why, whylen, "%s[%zu]: \"%s\" must be %s[A-Za-z0-9_.:-]", what, idx, key,
		    optional ? "" : "a non-empty ");
		return -1;
	}
	copy_field(dst, dstlen, v);
	return 0;
}

static int
decode_findings(const json_t *arr, size_t body_len, struct guard_reply *r, char *why,
    size_t whylen)
{
	const json_t *o;
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr)) {
		set_why(why, whylen, "\"findings\" is not an array");
		return -1;
	}
	if (json_array_size(arr) > GUARD_MAX_FINDINGS) {
		set_why(why, whylen, "more than %d findings", GUARD_MAX_FINDINGS);
		return -1;
	}
	if (json_array_size(arr) == 0)
		return 0;
	r->findings = xcalloc(json_array_size(arr), sizeof(*r->findings));
	json_array_foreach(arr, i, o) {
		struct guard_finding *g = &r->findings[i];

		if (!json_is_object(o)) {
			set_why(why, whylen, "findings[%zu] is not an object", i);
			return -1;
		}
		if (get_name(o, "type", g->type, sizeof(g->type), false, "findings", i, why,
		    whylen) < 0 ||
		    get_name(o, "class", g->cls, sizeof(g->cls), false, "findings", i, why,
		    whylen) < 0 ||
		    get_name(o, "validator", g->validator, sizeof(g->validator), true, "findings",
		    i, why, whylen) < 0)
			return -1;
		if (get_tier(o, "tier", &g->tier, why, whylen) < 0) {
			set_why(why, whylen, "findings[%zu]: \"tier\" is missing or not a tier", i);
			return -1;
		}
		if (get_span(o, body_len, &g->start, &g->end, "findings", i, why, whylen) < 0)
			return -1;
		r->nfindings = i + 1;
	}
	return 0;
}

static int
decode_redactions(const json_t *arr, size_t body_len, struct guard_reply *r, char *why,
    size_t whylen)
{
	const json_t *o, *ph;
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr)) {
		set_why(why, whylen, "\"redactions\" is not an array");
		return -1;
	}
	if (json_array_size(arr) > GUARD_MAX_REDACTIONS) {
		set_why(why, whylen, "more than %d redactions", GUARD_MAX_REDACTIONS);
		return -1;
	}
	if (json_array_size(arr) == 0)
		return 0;
	r->redactions = xcalloc(json_array_size(arr), sizeof(*r->redactions));
	json_array_foreach(arr, i, o) {
		struct guard_redaction *x = &r->redactions[i];

		if (!json_is_object(o)) {
			set_why(why, whylen, "redactions[%zu] is not an object", i);
			return -1;
		}
		if (get_span(o, body_len, &x->start, &x->end, "redactions", i, why, whylen) < 0)
			return -1;
		if (i > 0 && x->start < r->redactions[i - 1].end) {
			set_why(why, whylen, "redactions[%zu] overlaps or precedes the one before "
			    "(they must be sorted by start and must not overlap)", i);
			return -1;
		}
		if (get_str(o, "placeholder", GUARD_PLACEHOLDER_MAX, false, &ph, why,
		    whylen) < 0 || json_string_length(ph) == 0 ||
		    !only_chars(ph, placeholder_char)) {
			set_why(why, whylen, "redactions[%zu]: \"placeholder\" must be 1 to %d "
			    "characters of [A-Za-z0-9_:.-[]<>]", i, GUARD_PLACEHOLDER_MAX);
			return -1;
		}
		copy_field(x->placeholder, sizeof(x->placeholder), ph);
		r->nredactions = i + 1;
	}
	return 0;
}

static bool
rd_tier(struct rd *d, enum tier *t)
{
	const char *s;
	size_t n;

	return rd_str(d, 32, &s, &n) && tier_parse(s, n, t) == 0;
}

static bool
rd_span(struct rd *d, size_t body_len, size_t *start, size_t *end)
{
	uint64_t s, e;

	if (!RD_LIT(d, "\"start\":") || !rd_uint(d, GUARD_MAX_ID, &s) ||
	    !RD_LIT(d, ",\"end\":") || !rd_uint(d, GUARD_MAX_ID, &e) || !(s < e && e <= body_len))
		return false;
	*start = (size_t)s;
	*end = (size_t)e;
	return true;
}

/* A name member (type, class, validator) into its fixed field, as get_name checks it. */
static bool
rd_name(struct rd *d, char *dst, size_t dstlen, bool may_be_empty)
{
	const char *s;
	size_t n;

	if (!rd_str(d, dstlen - 1, &s, &n) || (n == 0 && !may_be_empty) ||
	    !span_only(s, n, name_char))
		return false;
	copy_span(dst, dstlen, s, n);
	return true;
}

/* Room for one more element of a calloc'ed array of *cap (zeroed like xcalloc). */
static void *
grow_zeroed(void *arr, size_t n, size_t *cap, size_t size)
{
	size_t old = *cap;

	if (n < old)
		return arr;
	*cap = old ? old * 2 : 8;
	arr = xrealloc(arr, *cap * size);
	memset((char *)arr + old * size, 0, (*cap - old) * size);
	return arr;
}

/* The fast reader's reply (see the top of the file); false: the full parser decides. */
static bool
reply_fast(const struct guard_frame *f, size_t body_len, struct guard_reply *r)
{
	struct rd d = { f->header, f->header + f->header_len };
	const char *s;
	size_t n, cap;
	uint64_t id;

	if (!fast_reader || f->header_len > GUARD_MAX_HEADER || f->body_len != 0 ||
	    !RD_LIT(&d, "{\"type\":\"result\",\"id\":") || !rd_uint(&d, GUARD_MAX_ID, &id) ||
	    !RD_LIT(&d, ",\"decision\":") || !rd_str(&d, 16, &s, &n))
		return false;
	if (n == 5 && memcmp(s, "allow", 5) == 0)
		r->decision = GUARD_ALLOW;
	else if (n == 4 && memcmp(s, "deny", 4) == 0)
		r->decision = GUARD_DENY;
	else if (n == 5 && memcmp(s, "error", 5) == 0)
		r->decision = GUARD_ERROR;
	else
		return false;
	if (!RD_LIT(&d, ",\"tier\":") || !rd_tier(&d, &r->tier) ||
	    !RD_LIT(&d, ",\"reason\":") || !rd_str(&d, 4096, &s, &n))
		return false;
	r->id = id;
	/* Cut like a decoded reason; ASCII has no characters to cut between. */
	copy_span(r->reason, sizeof(r->reason), s, n);
	if (!RD_LIT(&d, ",\"findings\":["))
		return false;
	cap = 0;
	while (!RD_LIT(&d, "]")) {
		struct guard_finding *g;

		if (r->nfindings == GUARD_MAX_FINDINGS ||
		    !(r->nfindings == 0 ? RD_LIT(&d, "{\"type\":") : RD_LIT(&d, ",{\"type\":")))
			goto fail;
		r->findings = grow_zeroed(r->findings, r->nfindings, &cap, sizeof(*r->findings));
		g = &r->findings[r->nfindings];
		if (!rd_name(&d, g->type, sizeof(g->type), false) || !RD_LIT(&d, ",\"class\":") ||
		    !rd_name(&d, g->cls, sizeof(g->cls), false) || !RD_LIT(&d, ",\"tier\":") ||
		    !rd_tier(&d, &g->tier) || !RD_LIT(&d, ",") ||
		    !rd_span(&d, body_len, &g->start, &g->end) ||
		    !RD_LIT(&d, ",\"validator\":") ||
		    !rd_name(&d, g->validator, sizeof(g->validator), true) || !RD_LIT(&d, "}"))
			goto fail;
		r->nfindings++;
	}
	if (!RD_LIT(&d, ",\"redactions\":["))
		goto fail;
	cap = 0;
	while (!RD_LIT(&d, "]")) {
		struct guard_redaction *x;

		if (r->nredactions == GUARD_MAX_REDACTIONS ||
		    !(r->nredactions == 0 ? RD_LIT(&d, "{") : RD_LIT(&d, ",{")))
			goto fail;
		r->redactions = grow_zeroed(r->redactions, r->nredactions, &cap,
		    sizeof(*r->redactions));
		x = &r->redactions[r->nredactions];
		if (!rd_span(&d, body_len, &x->start, &x->end) ||
		    (r->nredactions > 0 && x->start < r->redactions[r->nredactions - 1].end) ||
		    !RD_LIT(&d, ",\"placeholder\":") || !rd_str(&d, GUARD_PLACEHOLDER_MAX, &s, &n) ||
		    n == 0 || !span_only(s, n, placeholder_char) || !RD_LIT(&d, "}"))
			goto fail;
		copy_span(x->placeholder, sizeof(x->placeholder), s, n);
		r->nredactions++;
	}
	if (RD_LIT(&d, "}") && rd_done(&d)) {
		__atomic_fetch_add(&fast_hits, 1, __ATOMIC_RELAXED);
		return true;
	}
fail:
	guard_reply_free(r);
	memset(r, 0, sizeof(*r));
	return false;
}

int
guard_reply_decode(const struct guard_frame *f, size_t body_len, struct guard_reply *r,
    char *why, size_t whylen)
{
	json_t *j;
	const json_t *reason;
	uint64_t id;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (reply_fast(f, body_len, r))
		return 0;
	if (!(j = load_header(f, why, whylen)))
		return -1;
	if (want_type(j, "result", why, whylen) < 0 || !body_empty(f, why, whylen) ||
	    get_uint(j, "id", GUARD_MAX_ID, false, &id, why, whylen) < 0 ||
	    get_decision(j, &r->decision, why, whylen) < 0 ||
	    get_tier(j, "tier", &r->tier, why, whylen) < 0 ||
	    get_str(j, "reason", 4096, true, &reason, why, whylen) < 0)
		goto out;
	r->id = id;
	if (reason) {
		/* A long reason is cut (between characters), not refused: it is prose. */
		size_t n = json_string_length(reason);
		const char *s = json_string_value(reason);

		if (n >= sizeof(r->reason)) {
			n = sizeof(r->reason) - 1;
			while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
				n--;
		}
		memcpy(r->reason, s, n);
		r->reason[n] = '\0';
	}
	if (decode_findings(json_object_get(j, "findings"), body_len, r, why, whylen) < 0 ||
	    decode_redactions(json_object_get(j, "redactions"), body_len, r, why, whylen) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		guard_reply_free(r);
	json_decref(j);
	return rc;
}

int
guard_reply_peek_id(const struct guard_frame *f, uint64_t *id)
{
	json_t *j = load_header(f, NULL, 0);
	int rc;

	if (!j)
		return -1;
	rc = get_uint(j, "id", GUARD_MAX_ID, false, id, NULL, 0);
	json_decref(j);
	return rc;
}

void
guard_reply_free(struct guard_reply *r)
{
	free(r->findings);
	free(r->redactions);
	r->findings = NULL;
	r->redactions = NULL;
	r->nfindings = 0;
	r->nredactions = 0;
}
