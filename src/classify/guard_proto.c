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
 * fits needs no copy.
 */
static void
add_str(struct sbuf *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = 0;
	json_t *j;

	while (p[n] && p[n] < 0x80 && n <= max)
		n++;
	if (!p[n] && n <= max) {
		sbuf_add_json(out, (const char *)p);
		return;
	}
	j = jstr((const char *)p, max);
	sbuf_add_json(out, json_string_value(j));
	json_decref(j);
}

/*
 * The header of every request is written directly, not through a JSON
 * tree: it is on the path of every model request, and building and
 * dumping a tree of ten members cost more than the rest of the encoding.
 * Same members, same order, same limits as the other encoders.
 */
void
guard_request_encode(const struct guard_request *r, struct sbuf *out)
{
	struct sbuf h;

	sbuf_init(&h, GUARD_MAX_HEADER);
	sbuf_addf(&h, "{\"type\":\"classify\",\"id\":%llu,\"deadline_ms\":%llu,\"format\":",
	    (unsigned long long)(r->id & GUARD_MAX_ID), (unsigned long long)r->deadline_ms);
	add_str(&h, r->format && *r->format ? r->format : "unknown", 32);
	sbuf_adds(&h, ",\"destination\":{\"provider\":");
	add_str(&h, r->provider, GUARD_MAX_STRING);
	sbuf_adds(&h, ",\"host\":");
	add_str(&h, r->host, GUARD_MAX_STRING);
	sbuf_adds(&h, ",\"path\":");
	add_str(&h, r->path, GUARD_MAX_PATH);
	sbuf_adds(&h, ",\"model\":");
	add_str(&h, r->model, GUARD_MAX_STRING);
	sbuf_adds(&h, "},\"context\":{\"sandbox\":");
	add_str(&h, r->sandbox, GUARD_MAX_STRING);
	sbuf_adds(&h, ",\"binary\":");
	add_str(&h, r->binary, GUARD_MAX_STRING);
	sbuf_addf(&h, ",\"pid\":%lld}}", r->pid > 0 ? (long long)r->pid : 0LL);
	/* A header no classifier would accept is not sent: all or nothing, as for any frame. */
	if (h.overflow)
		out->overflow = true;
	else
		guard_frame_encode(out, h.p, h.len, r->body, r->body_len);
	sbuf_free(&h);
}

/* A format name: v1 knows anthropic, openai and unknown; later ones read as unknown. */
static bool
format_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int
guard_request_decode(const struct guard_frame *f, struct guard_request *r, char *why,
    size_t whylen)
{
	json_t *j = load_header(f, why, whylen);
	const json_t *dst, *ctx, *format, *provider, *host, *path, *model, *sandbox, *binary;
	uint64_t id, deadline, pid;

	memset(r, 0, sizeof(*r));
	if (!j)
		return -1;
	if (want_type(j, "classify", why, whylen) < 0 ||
	    get_uint(j, "id", GUARD_MAX_ID, false, &id, why, whylen) < 0 ||
	    get_uint(j, "deadline_ms", UINT32_MAX, false, &deadline, why, whylen) < 0 ||
	    get_str(j, "format", 32, false, &format, why, whylen) < 0)
		goto fail;
	if (json_string_length(format) == 0 || !only_chars(format, format_char)) {
		set_why(why, whylen, "\"format\" is not a format name");
		goto fail;
	}
	dst = json_object_get(j, "destination");
	ctx = json_object_get(j, "context");
	if (!json_is_object(dst) || !json_is_object(ctx)) {
		set_why(why, whylen, "\"destination\" and \"context\" must be objects");
		goto fail;
	}
	if (get_str(dst, "provider", GUARD_MAX_STRING, false, &provider, why, whylen) < 0 ||
	    get_str(dst, "host", GUARD_MAX_STRING, false, &host, why, whylen) < 0 ||
	    get_str(dst, "path", GUARD_MAX_PATH, false, &path, why, whylen) < 0 ||
	    get_str(dst, "model", GUARD_MAX_STRING, false, &model, why, whylen) < 0 ||
	    get_str(ctx, "sandbox", GUARD_MAX_STRING, false, &sandbox, why, whylen) < 0 ||
	    get_str(ctx, "binary", GUARD_MAX_STRING, false, &binary, why, whylen) < 0 ||
	    get_uint(ctx, "pid", INT32_MAX, false, &pid, why, whylen) < 0)
		goto fail;
	r->id = id;
	r->deadline_ms = (unsigned)deadline;
	r->format = json_string_value(format);
	r->provider = json_string_value(provider);
	r->host = json_string_value(host);
	r->path = json_string_value(path);
	r->model = json_string_value(model);
	r->sandbox = json_string_value(sandbox);
	r->binary = json_string_value(binary);
	r->pid = (pid_t)pid;
	r->body = f->body;
	r->body_len = f->body_len;
	r->storage = j;		/* the strings above live as long as j */
	return 0;
fail:
	json_decref(j);
	return -1;
}

void
guard_request_free(struct guard_request *r)
{
	json_decref(r->storage);
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

void
guard_reply_encode(const struct guard_reply *r, struct sbuf *out)
{
	json_t *h = jok(json_object()), *fa = jok(json_array()), *ra = jok(json_array());

	jset(h, "type", json_string("result"));
	jset(h, "id", json_integer((json_int_t)(r->id & GUARD_MAX_ID)));
	jset(h, "decision", json_string(guard_decision_name(r->decision)));
	jset(h, "tier", json_string(tier_name(r->tier)));
	jset(h, "reason", jstr(r->reason, sizeof(r->reason) - 1));
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct guard_finding *g = &r->findings[i];
		json_t *o = jok(json_object());

		jset(o, "type", jstr(g->type, sizeof(g->type) - 1));
		jset(o, "class", jstr(g->cls, sizeof(g->cls) - 1));
		jset(o, "tier", json_string(tier_name(g->tier)));
		jset(o, "start", json_integer((json_int_t)g->start));
		jset(o, "end", json_integer((json_int_t)g->end));
		jset(o, "validator", jstr(g->validator, sizeof(g->validator) - 1));
		if (json_array_append_new(fa, o) < 0)
			jok(NULL);
	}
	for (size_t i = 0; i < r->nredactions; i++) {
		const struct guard_redaction *x = &r->redactions[i];
		json_t *o = jok(json_object());

		jset(o, "start", json_integer((json_int_t)x->start));
		jset(o, "end", json_integer((json_int_t)x->end));
		jset(o, "placeholder", jstr(x->placeholder, GUARD_PLACEHOLDER_MAX));
		if (json_array_append_new(ra, o) < 0)
			jok(NULL);
	}
	jset(h, "findings", fa);
	jset(h, "redactions", ra);
	emit(out, h, NULL, 0);
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

int
guard_reply_decode(const struct guard_frame *f, size_t body_len, struct guard_reply *r,
    char *why, size_t whylen)
{
	json_t *j = load_header(f, why, whylen);
	const json_t *reason;
	uint64_t id;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (!j)
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
