/*
 * The audit verifier (audit.h has the record format, audit_verify.h the
 * report).
 *
 * A trail is read one line at a time, and every line must be a record
 * exactly as the writer forms it:
 *
 *   {"seq":N,"time":"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", ... ,
 *    "prev":"<64 hex>","hash":"<64 hex>"}\n
 *
 * The fixed beginning and end are checked at their offsets, and the whole
 * line is scanned once as JSON (the scan also picks out the few top-level
 * members the verifier needs: "event" and a checkpoint's "head", "count",
 * "key" and "sig").  Nothing is unescaped, copied or allocated per record,
 * so a record costs little more than its SHA-256.
 *
 * Then, in this order, because the first failed check names the tampering
 * most precisely: the hash recomputed from the stored bytes (an edit; it
 * needs only the fixed end, so it comes before the JSON scan), seq
 * one more than the previous record's (a removal, insertion, duplicate or
 * reordering), prev equal to the previous record's hash (the same, done by
 * someone who renumbered), and for a checkpoint its head, count, key and
 * Ed25519 signature (a chain rebuilt by someone without the key).
 *
 * Verification stops at the first bad record.  When the problem is a gap
 * in the sequence, the rest of the file is still scanned (seq numbers only)
 * to tell a deleted record from one moved elsewhere.
 *
 * Records after the last valid checkpoint are chained but not signed.  That
 * is normal while a sandbox runs and after warden is killed, and it is also
 * what a truncation at a line boundary or an appended forged record looks
 * like; the verdict stays AUDIT_OK and r->why says how many records are
 * unsigned, so the caller can show it.
 */
#include "audit_verify.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hash.h"
#include "../lib/util.h"
#include "audit.h"

/* The writer's RECORD_MAX bounds a record with its newline. */
#define LINE_MAX_LEN (256 * 1024 - 1)
#define CHUNK (1024 * 1024)

#define HEX 64
/* ,"hash":"<64 hex>"} ends every record. */
#define TAIL_LEN (9 + HEX + 2)
/* ,"prev":"<64 hex>" precedes it. */
#define PREV_LEN (9 + HEX + 1)
#define HEAD_PREFIX "{\"seq\":"
#define TIME_PREFIX ",\"time\":\""
#define TIME_LEN 30	/* 2026-01-02T03:04:05.123456789Z */
/* The shortest line with both ends in place, not counting seq's digits. */
#define MIN_LEN (sizeof(HEAD_PREFIX) - 1 + sizeof(TIME_PREFIX) - 1 + TIME_LEN + 1 + \
    PREV_LEN + TAIL_LEN)
#define JSON_DEPTH 64
/* How many lines to look ahead for a missing record before giving up. */
#define LOOKAHEAD_LINES 1000000
/*
 * Lines examined together on two threads, and how many each thread takes
 * at a time from the batch: small enough that neither waits long for the
 * other at the end of a batch, large enough that taking them is not
 * contended.  A 1 MiB chunk of ~630-byte records is about one batch.
 */
#define BATCH 2048
#define BLOCK 16
/* audit_verify: fewer lines than this are not worth waking a second thread. */
#define PAR_MIN_LINES 64

/* Top-level members the verifier reads or must see only once. */
enum {
	K_SEQ, K_TIME, K_EVENT, K_HEAD, K_COUNT, K_KEY, K_SIG, K_PREV, K_HASH, K_N
};
static const struct {
	const char *name;
	size_t len;
} keys[K_N] = {
	[K_SEQ] = { "seq", 3 }, [K_TIME] = { "time", 4 }, [K_EVENT] = { "event", 5 },
	[K_HEAD] = { "head", 4 }, [K_COUNT] = { "count", 5 }, [K_KEY] = { "key", 3 },
	[K_SIG] = { "sig", 3 }, [K_PREV] = { "prev", 4 }, [K_HASH] = { "hash", 4 },
};

/* A top-level member's value as stored: a string's contents without quotes, or a number. */
struct span {
	const char *p;
	size_t len;
	bool is_string;
};

struct jscan {
	const unsigned char *p, *end;
	const char *err;		/* what is wrong, when the scan fails */
	unsigned seen;			/* bit per K_*: members met at the top level */
	struct span v[K_N];
};

struct verifier {
	struct audit_report *r;
	unsigned char want_key[32];
	bool have_want_key;
	EVP_MD *md;
	EVP_MD_CTX *md_ctx;
	EVP_PKEY *pkey;			/* the trail's key, once a checkpoint named it */
	unsigned char key_raw[32];
	uint64_t line;			/* lines read so far */
	uint64_t seq;			/* of the last good record */
	char prev[HEX];			/* its hash, as stored (lowercase hex) */
	char what[64];			/* "record S (line N)", for messages */
	bool stopped;			/* verdict decided */
	/* Why the sequence broke, and whether the missing record turns up later. */
	bool looking;
	uint64_t look_seq, look_found, look_lines;
	/* The unsigned tail: did the last checkpoint close a run, and what came next? */
	bool last_was_stop, cp_after_stop, tail_starts_run;
};

/* ---- small parsers ------------------------------------------------------------ */

static int
unhex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly 2n lowercase hex digits (what the writer produces) into n bytes. */
static bool
unhex(const char *s, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = unhex_digit((unsigned char)s[2 * i]), lo = unhex_digit((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static bool
is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (unhex_digit((unsigned char)s[i]) < 0)
			return false;
	return true;
}

static void
tohex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * A decimal as the writer prints it (%llu): digits, no sign, no leading
 * zero, no overflow.  Returns the digits consumed, 0 when there are none
 * or the number is not canonical.
 */
static size_t
parse_dec(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && p[i] >= '0' && p[i] <= '9') {
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
		i++;
	}
	if (i == 0 || (i > 1 && p[0] == '0'))
		return 0;
	*out = v;
	return i;
}

/* YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ, as rfc3339() in audit.c forms it. */
static bool
time_ok(const char *t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddddddZ";

	for (size_t i = 0; i < TIME_LEN; i++) {
		if (shape[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != shape[i])
			return false;
	}
	return true;
}

/* ---- the JSON scan ------------------------------------------------------------ */

/*
 * Bytes that stand for themselves inside a string: everything but the
 * quote, the backslash and control characters.  Bytes above 0x7f pass
 * unchecked, as the writer passes them (sbuf_add_json does not validate
 * UTF-8).
 */
static const unsigned char plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0xff] = 1,
};

static bool
jfail(struct jscan *s, const char *why)
{
	if (!s->err)
		s->err = why;
	return false;
}

static void
jspace(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/*
 * A string; *out gets its raw contents and whether it has escapes.
 *
 * Eight bytes at a time while none is a quote, a backslash or a control
 * character: the classic word-at-a-time tests (x - 0x01..) & ~x & 0x80..
 * flag exactly the lowest matching byte, so its position is the count of
 * trailing zero bits (on little-endian machines; elsewhere the byte loop
 * takes over).  The pointers are locals so they stay in registers.
 */
static bool
jstring(struct jscan *s, struct span *out, bool *escaped)
{
	const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
	const unsigned char *q = s->p, *end = s->end, *start;

	if (q >= end || *q != '"')
		return jfail(s, "a string was expected");
	start = ++q;
	*escaped = false;
	for (;;) {
		while (end - q >= 8) {
			uint64_t x, a, b, m;
			memcpy(&x, q, 8);
			a = x ^ (ones * '"');
			b = x ^ (ones * '\\');
			m = (((a - ones) & ~a) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x)) & high;
			if (m) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				q += __builtin_ctzll(m) / 8;
#endif
				break;
			}
			q += 8;
		}
		while (q < end && plain[*q])
			q++;
		if (q >= end) {
			s->p = q;
			return jfail(s, "a string is not closed");
		}
		if (*q == '"')
			break;
		if (*q != '\\') {
			s->p = q;
			return jfail(s, "a control character inside a string");
		}
		*escaped = true;
		if (end - q < 2) {
			s->p = q;
			return jfail(s, "a string is not closed");
		}
		switch (q[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			q += 2;
			break;
		case 'u':
			if (end - q < 6) {
				s->p = q;
				return jfail(s, "a \\u escape is cut short");
			}
			for (int i = 2; i < 6; i++) {
				unsigned char c = q[i];
				if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
				    (c >= 'A' && c <= 'F'))) {
					s->p = q;
					return jfail(s, "a \\u escape is not four hex digits");
				}
			}
			q += 6;
			break;
		default:
			s->p = q;
			return jfail(s, "an invalid escape in a string");
		}
	}
	out->p = (const char *)start;
	out->len = (size_t)(q - start);
	out->is_string = true;
	s->p = q + 1;
	return true;
}

static bool
jdigits(struct jscan *s)
{
	const unsigned char *q = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > q;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
jnumber(struct jscan *s, struct span *out)
{
	const unsigned char *start = s->p;

	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!jdigits(s))
		return jfail(s, "a number has no digits");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!jdigits(s))
			return jfail(s, "a number has no digits after its point");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!jdigits(s))
			return jfail(s, "a number has no exponent digits");
	}
	out->p = (const char *)start;
	out->len = (size_t)(s->p - start);
	out->is_string = false;
	return true;
}

static bool
jword(struct jscan *s, const char *w, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return jfail(s, "an unexpected character");
	s->p += n;
	return true;
}

static bool jvalue(struct jscan *s, int depth, struct span *out);

/* An object or array after its opening bracket.  At depth 1, members are recorded. */
static bool
jcontainer(struct jscan *s, int depth, bool object)
{
	const unsigned char close = object ? '}' : ']';

	if (depth > JSON_DEPTH)
		return jfail(s, "nested too deeply");
	jspace(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return true;
	}
	for (;;) {
		struct span k, v;
		bool esc;
		int which = -1;

		jspace(s);
		if (object) {
			if (!jstring(s, &k, &esc))
				return false;
			if (depth == 1) {
				/* The writer never escapes a key; a reader would unescape one. */
				if (esc)
					return jfail(s, "an escaped member name");
				for (int i = 0; i < K_N; i++)
					if (k.len == keys[i].len && memcmp(k.p, keys[i].name, k.len) == 0)
						which = i;
				if (which >= 0 && (s->seen & (1u << which)))
					return jfail(s, "a member appears twice");
			}
			jspace(s);
			if (s->p >= s->end || *s->p != ':')
				return jfail(s, "':' was expected");
			s->p++;
			jspace(s);
		}
		if (!jvalue(s, depth + 1, &v))
			return false;
		if (which >= 0) {
			s->seen |= 1u << which;
			s->v[which] = v;
		}
		jspace(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return true;
		}
		return jfail(s, object ? "',' or '}' was expected" : "',' or ']' was expected");
	}
}

static bool
jvalue(struct jscan *s, int depth, struct span *out)
{
	bool esc;

	out->p = NULL;
	out->len = 0;
	out->is_string = false;
	if (s->p >= s->end)
		return jfail(s, "a value was expected");
	switch (*s->p) {
	case '"':
		return jstring(s, out, &esc);
	case '{':
		s->p++;
		return jcontainer(s, depth, true);
	case '[':
		s->p++;
		return jcontainer(s, depth, false);
	case 't':
		return jword(s, "true", 4);
	case 'f':
		return jword(s, "false", 5);
	case 'n':
		return jword(s, "null", 4);
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return jnumber(s, out);
		return jfail(s, "an unexpected character");
	}
}

/* The line is exactly one JSON object; its top-level members are noted in s. */
static bool
jscan_record(struct jscan *s, const char *line, size_t len)
{
	/* v[] is read only where seen says it was set. */
	s->err = NULL;
	s->seen = 0;
	s->p = (const unsigned char *)line;
	s->end = s->p + len;
	if (s->p >= s->end || *s->p != '{')
		return jfail(s, "not an object");
	s->p++;
	if (!jcontainer(s, 1, true))
		return false;
	if (s->p != s->end)
		return jfail(s, "bytes after the object");
	return true;
}

/* ---- verdicts ------------------------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
bad(struct verifier *v, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	v->r->verdict = AUDIT_BAD;
	v->r->bad_line = v->line;
	v->r->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->r->why, sizeof(v->r->why), fmt, ap);
	va_end(ap);
	v->stopped = true;
}

static void
append_why(struct verifier *v, const char *s)
{
	size_t l = strlen(v->r->why);

	snprintf(v->r->why + l, sizeof(v->r->why) - l, "%s", s);
}

/* "record 17 (line 17)": the record by its seq and where it is. */
static const char *
rec(struct verifier *v, uint64_t seq)
{
	snprintf(v->what, sizeof(v->what), "record %llu (line %llu)", (unsigned long long)seq,
	    (unsigned long long)v->line);
	return v->what;
}

/*
 * A checkpoint: head is this record's prev, count the records before it,
 * key the expected one, and sig the key's signature over the domain, seq
 * and head.  seq_txt is the seq's digits as stored (canonical, checked).
 */
static void
check_checkpoint(struct verifier *v, const struct jscan *s, uint64_t seq, const char *seq_txt,
    size_t seq_len, const char *prev_hex)
{
	const struct span *head = &s->v[K_HEAD], *count = &s->v[K_COUNT];
	const struct span *key = &s->v[K_KEY], *sig = &s->v[K_SIG];
	unsigned char head_raw[32], key_raw[32], sig_raw[64];
	char msg[sizeof(AUDIT_SIG_DOMAIN) + 24 + HEX + 2];
	const char *what = rec(v, seq);
	uint64_t c = 0;
	size_t ml;
	EVP_MD_CTX *m;
	int ok;

	if (!(s->seen & (1u << K_HEAD)) || !head->is_string || head->len != HEX ||
	    !unhex(head->p, 32, head_raw)) {
		bad(v, seq, "checkpoint %s: \"head\" is missing or not 64 hex digits", what);
		return;
	}
	if (!(s->seen & (1u << K_COUNT)) || count->is_string || !count->p ||
	    parse_dec(count->p, count->len, &c) != count->len) {
		bad(v, seq, "checkpoint %s: \"count\" is missing or not a record count", what);
		return;
	}
	if (!(s->seen & (1u << K_KEY)) || !key->is_string || key->len != HEX ||
	    !unhex(key->p, 32, key_raw)) {
		bad(v, seq, "checkpoint %s: \"key\" is missing or not 64 hex digits", what);
		return;
	}
	if (!(s->seen & (1u << K_SIG)) || !sig->is_string || sig->len != 2 * sizeof(sig_raw) ||
	    !unhex(sig->p, sizeof(sig_raw), sig_raw)) {
		bad(v, seq, "checkpoint %s: \"sig\" is missing or not 128 hex digits", what);
		return;
	}
	if (memcmp(head->p, prev_hex, HEX) != 0) {
		bad(v, seq, "checkpoint %s: its head is not the hash of the record before it "
		    "(its prev) -- the checkpoint was edited", what);
		return;
	}
	if (c != seq - 1) {
		bad(v, seq, "checkpoint %s: count %llu, but %llu records precede it -- the "
		    "checkpoint was edited", what, (unsigned long long)c,
		    (unsigned long long)(seq - 1));
		return;
	}
	if (v->have_want_key && memcmp(key_raw, v->want_key, 32) != 0) {
		char want[65];
		tohex(v->want_key, 32, want);
		bad(v, seq, "checkpoint %s: signed with key %.64s, not the expected key %s -- "
		    "the trail was signed (or re-signed) by someone else", what, key->p, want);
		return;
	}
	if (v->pkey && memcmp(key_raw, v->key_raw, 32) != 0) {
		bad(v, seq, "checkpoint %s: signed with key %.64s, but the checkpoints before it "
		    "with key %s -- from here on the trail was signed by another key", what,
		    key->p, v->r->key);
		return;
	}
	if (!v->pkey) {
		v->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key_raw, 32);
		if (!v->pkey) {
			bad(v, seq, "checkpoint %s: \"key\" is not an Ed25519 public key", what);
			return;
		}
		memcpy(v->key_raw, key_raw, 32);
		tohex(key_raw, 32, v->r->key);
	}
	/* The message audit.c's checkpoint() signs: domain, seq, head. */
	ml = 0;
	memcpy(msg, AUDIT_SIG_DOMAIN, sizeof(AUDIT_SIG_DOMAIN) - 1);
	ml += sizeof(AUDIT_SIG_DOMAIN) - 1;
	memcpy(msg + ml, seq_txt, seq_len);
	ml += seq_len;
	msg[ml++] = '\n';
	memcpy(msg + ml, head->p, HEX);
	ml += HEX;
	msg[ml++] = '\n';
	m = EVP_MD_CTX_new();
	if (!m)
		abort();
	ok = EVP_DigestVerifyInit(m, NULL, NULL, NULL, v->pkey) == 1 &&
	    EVP_DigestVerify(m, sig_raw, sizeof(sig_raw), (const unsigned char *)msg, ml) == 1;
	EVP_MD_CTX_free(m);
	if (!ok) {
		bad(v, seq, "checkpoint %s: the signature does not verify -- the checkpoint, or "
		    "the records before it, were rewritten (hashes recomputed) without the key",
		    what);
		return;
	}
	v->r->checkpoints++;
	v->r->last_signed_seq = seq;
	v->cp_after_stop = v->last_was_stop;
	v->tail_starts_run = false;
}

/* After a gap in the sequence: does the missing record turn up later? */
static void
look_ahead(struct verifier *v, const char *p, size_t len)
{
	uint64_t seq;

	if (++v->look_lines > LOOKAHEAD_LINES) {
		v->looking = false;
		return;
	}
	if (len > sizeof(HEAD_PREFIX) - 1 && memcmp(p, HEAD_PREFIX, sizeof(HEAD_PREFIX) - 1) == 0 &&
	    parse_dec(p + 7, len - 7, &seq) && seq == v->look_seq) {
		v->look_found = v->line;
		v->looking = false;
	}
}

/*
 * What a line is on its own, before the chain: everything feed_line checks
 * that does not depend on the records before it.  It reads only the line,
 * so lines can be examined out of order (two threads, examine_batch);
 * feed_line then acts on the results strictly in order.
 */
enum exam_code {
	LN_OK,		/* a well-formed record whose hash matches */
	LN_EMPTY,
	LN_NO_SEQ,	/* does not begin with {"seq":N, N > 0 */
	LN_SHORT,
	LN_ENDS,		/* does not end with "prev" and "hash" */
	LN_HASH,		/* hash mismatch (or "hash"/"prev" not hex) */
	LN_TIME,
	LN_JSON,
};

/* The kinds of record the chain checks tell apart, by "event". */
enum { EV_OTHER, EV_CHECKPOINT, EV_STOP, EV_POLICY_LOAD };

struct exam {
	uint64_t seq;		/* from LN_SHORT on */
	uint32_t nd;		/* its digits */
	unsigned char code, event;
};

static bool
event_is(const struct jscan *s, const char *name, size_t n)
{
	return (s->seen & (1u << K_EVENT)) && s->v[K_EVENT].is_string &&
	    s->v[K_EVENT].len == n && memcmp(s->v[K_EVENT].p, name, n) == 0;
}

/*
 * Checks in the order feed_line reports them; the first failure is the
 * code.  ctx is the calling thread's SHA-256 context.  len is at most
 * LINE_MAX_LEN.
 */
static void
examine(EVP_MD_CTX *ctx, const EVP_MD *md, const char *p, size_t len, struct exam *e)
{
	struct jscan s;
	unsigned char h[32];
	char hx[HEX + 1];
	const char *tail;
	uint64_t seq = 0;
	size_t nd;
	unsigned int hl = 0;

	e->seq = 0;
	e->nd = 0;
	e->event = EV_OTHER;
	if (len == 0) {
		e->code = LN_EMPTY;
		return;
	}
	nd = len > 7 && memcmp(p, HEAD_PREFIX, 7) == 0 ? parse_dec(p + 7, len - 7, &seq) : 0;
	if (!nd || seq == 0) {
		e->code = LN_NO_SEQ;
		return;
	}
	e->seq = seq;
	e->nd = (uint32_t)nd;
	if (len < MIN_LEN + nd) {
		e->code = LN_SHORT;
		return;
	}
	tail = p + len - TAIL_LEN;
	/*
	 * The hex digits themselves are checked by comparison: with the hash
	 * just computed, and with the previous record's hash.
	 */
	if (memcmp(tail, ",\"hash\":\"", 9) != 0 || memcmp(p + len - 2, "\"}", 2) != 0 ||
	    memcmp(tail - PREV_LEN, ",\"prev\":\"", 9) != 0 || tail[-1] != '"') {
		e->code = LN_ENDS;
		return;
	}
	/* hash = SHA-256(line up to ,"hash":" followed by '}'). */
	if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, p, (size_t)(tail - p)) != 1 ||
	    EVP_DigestUpdate(ctx, "}", 1) != 1 ||
	    EVP_DigestFinal_ex(ctx, h, &hl) != 1 || hl != 32)
		abort();	/* OpenSSL fails here only when it cannot allocate */
	tohex(h, 32, hx);
	if (memcmp(hx, tail + 9, HEX) != 0) {
		e->code = LN_HASH;
		return;
	}
	/*
	 * The record is as its writer made it; is it what warden's writer
	 * makes?  (Checked after the hash, so that an edit is named as one.)
	 */
	if (memcmp(p + 7 + nd, TIME_PREFIX, sizeof(TIME_PREFIX) - 1) != 0 ||
	    !time_ok(p + 7 + nd + sizeof(TIME_PREFIX) - 1) ||
	    p[7 + nd + sizeof(TIME_PREFIX) - 1 + TIME_LEN] != '"') {
		e->code = LN_TIME;
		return;
	}
	if (!jscan_record(&s, p, len)) {
		e->code = LN_JSON;
		return;
	}
	e->code = LN_OK;
	if (event_is(&s, "audit.checkpoint", 16))
		e->event = EV_CHECKPOINT;
	else if (event_is(&s, "sandbox.stop", 12))
		e->event = EV_STOP;
	else if (event_is(&s, "policy.load", 11))
		e->event = EV_POLICY_LOAD;
}

/* The verdict on a line examine() rejected, in the words feed_line always used. */
static void
report_exam(struct verifier *v, const char *p, size_t len, const struct exam *e)
{
	const char *tail = p + len - TAIL_LEN, *prev_hex = tail - PREV_LEN + 9;
	uint64_t seq = e->seq;
	struct jscan s;

	switch (e->code) {
	case LN_EMPTY:
		bad(v, 0, "line %llu: empty -- not an audit record", (unsigned long long)v->line);
		break;
	case LN_NO_SEQ:
		bad(v, 0, "line %llu: not an audit record (it does not begin with {\"seq\":N, "
		    "N a positive number)", (unsigned long long)v->line);
		break;
	case LN_SHORT:
		bad(v, seq, "%s: not an audit record (too short)", rec(v, seq));
		break;
	case LN_ENDS:
		bad(v, seq, "%s: not an audit record (it does not end with \"prev\" and \"hash\")",
		    rec(v, seq));
		break;
	case LN_HASH:
		if (!is_hex(tail + 9, HEX) || !is_hex(prev_hex, HEX))
			bad(v, seq, "%s: not an audit record (its \"%s\" is not 64 lowercase hex "
			    "digits)", rec(v, seq), is_hex(prev_hex, HEX) ? "hash" : "prev");
		else
			bad(v, seq, "%s: hash does not match its contents -- the record was edited",
			    rec(v, seq));
		break;
	case LN_TIME:
		bad(v, seq, "%s: not an audit record (\"time\" does not follow \"seq\" as an "
		    "RFC 3339 UTC time with nanoseconds)", rec(v, seq));
		break;
	case LN_JSON:
		/* Scanned again for the place and reason: this happens once. */
		jscan_record(&s, p, len);
		bad(v, seq, "%s: not valid JSON at byte %zu (%s)", rec(v, seq),
		    (size_t)((const char *)s.p - p) + 1, s.err);
		break;
	default:
		abort();
	}
}

/*
 * One complete line (without its newline).  pre: examine()'s results for
 * it when already known, else NULL.
 */
static void
feed_line(struct verifier *v, const char *p, size_t len, const struct exam *pre)
{
	struct audit_report *r = v->r;
	struct exam e;
	const char *tail, *prev_hex, *hx;
	uint64_t seq;

	v->line++;
	/*
	 * Not counted as a record: reading a file, such a line is rejected
	 * before its end (if any) is seen.
	 */
	if (len > LINE_MAX_LEN) {
		if (!v->stopped)
			bad(v, 0, "line %llu: longer than 256 KiB, which no record is -- not an "
			    "audit record", (unsigned long long)v->line);
		else if (v->looking)
			v->look_lines++;
		return;
	}
	r->records++;
	if (v->stopped) {
		if (v->looking)
			look_ahead(v, p, len);
		return;
	}
	if (!pre) {
		examine(v->md_ctx, v->md, p, len, &e);
		pre = &e;
	}
	if (pre->code != LN_OK) {
		report_exam(v, p, len, pre);
		return;
	}
	seq = pre->seq;
	tail = p + len - TAIL_LEN;
	prev_hex = tail - PREV_LEN + 9;
	/* The stored hash, equal to the one computed (examine checked). */
	hx = tail + 9;
	if (seq != v->seq + 1) {
		if (v->seq == 0 && v->line == 1) {
			bad(v, seq, "line 1: the trail begins at seq %llu, not 1 -- its first "
			    "records were removed", (unsigned long long)seq);
		} else if (seq > v->seq + 1) {
			bad(v, seq, "line %llu: seq %llu follows seq %llu -- record %llu is missing",
			    (unsigned long long)v->line, (unsigned long long)seq,
			    (unsigned long long)v->seq, (unsigned long long)(v->seq + 1));
			v->looking = true;
			v->look_seq = v->seq + 1;
		} else if (seq == v->seq && memcmp(hx, v->prev, HEX) == 0) {
			bad(v, seq, "line %llu: a copy of the record on line %llu (seq %llu) -- a "
			    "record was duplicated", (unsigned long long)v->line,
			    (unsigned long long)(v->line - 1), (unsigned long long)seq);
		} else if (seq == v->seq) {
			bad(v, seq, "line %llu: seq %llu again, after line %llu -- a record was "
			    "inserted", (unsigned long long)v->line, (unsigned long long)seq,
			    (unsigned long long)(v->line - 1));
		} else {
			bad(v, seq, "line %llu: seq %llu follows seq %llu -- records were reordered "
			    "or replayed", (unsigned long long)v->line, (unsigned long long)seq,
			    (unsigned long long)v->seq);
		}
		return;
	}
	if (memcmp(prev_hex, v->prev, HEX) != 0) {
		if (!is_hex(prev_hex, HEX))
			bad(v, seq, "%s: not an audit record (its \"prev\" is not 64 lowercase hex "
			    "digits)", rec(v, seq));
		else if (seq == 1)
			bad(v, seq, "%s: prev is not 64 zeros, so it does not begin a trail -- "
			    "records before it were removed", rec(v, seq));
		else
			bad(v, seq, "%s: prev does not match the hash of the record before it -- "
			    "records were removed, inserted or reordered (and renumbered), or the "
			    "record before it was rewritten with its hash recomputed", rec(v, seq));
		return;
	}
	if (pre->event == EV_CHECKPOINT) {
		struct jscan s;
		/*
		 * Its members are found by scanning it again (it passed the
		 * scan): one record in many, cheaper than keeping every line's.
		 */
		if (!jscan_record(&s, p, len))
			abort();
		check_checkpoint(v, &s, seq, p + 7, pre->nd, prev_hex);
		if (v->stopped)
			return;
	} else {
		/* The first record after a checkpoint: does a new run begin with it? */
		if (r->last_signed_seq && seq == r->last_signed_seq + 1)
			v->tail_starts_run = pre->event == EV_POLICY_LOAD;
		v->last_was_stop = pre->event == EV_STOP;
	}
	v->seq = seq;
	memcpy(v->prev, hx, HEX);
	r->verified++;
}

/* End of input: a final line without its newline, then the unsigned tail. */
static void
finish(struct verifier *v, const char *p, size_t len)
{
	struct audit_report *r = v->r;

	if (v->look_seq) {
		char more[160];
		if (v->look_found)
			snprintf(more, sizeof(more), " (it is on line %llu: records were reordered)",
			    (unsigned long long)v->look_found);
		else if (v->look_lines > LOOKAHEAD_LINES)
			snprintf(more, sizeof(more), " (not in the next %d lines)", LOOKAHEAD_LINES);
		else
			snprintf(more, sizeof(more), " (it is nowhere in the file: deleted)");
		append_why(v, more);
		v->looking = false;
	}
	if (v->stopped)
		return;
	if (len > 0) {
		uint64_t seq = 0;
		size_t nd = 0;
		/* Its seq only when all its digits made it (a ',' follows). */
		if (len > 7 && memcmp(p, HEAD_PREFIX, 7) == 0)
			nd = parse_dec(p + 7, len - 7, &seq);
		if (!nd || 7 + nd >= len || p[7 + nd] != ',')
			seq = 0;
		v->line++;
		if (len > LINE_MAX_LEN) {
			bad(v, 0, "line %llu: longer than 256 KiB, which no record is -- not an audit "
			    "record", (unsigned long long)v->line);
			return;
		}
		r->verdict = AUDIT_TORN;
		r->bad_line = v->line;
		r->bad_seq = seq;
		snprintf(r->why, sizeof(r->why), "line %llu is torn (it has no newline: a crash "
		    "while writing, or a truncation); the %llu records before it verify",
		    (unsigned long long)v->line, (unsigned long long)r->verified);
		return;
	}
	if (v->seq > r->last_signed_seq) {
		uint64_t n = v->seq - r->last_signed_seq;
		char head[160];
		const char *why;

		if (!r->checkpoints && n == 1)
			snprintf(head, sizeof(head), "its only record is not signed (there is no "
			    "checkpoint)");
		else if (!r->checkpoints)
			snprintf(head, sizeof(head), "none of the %llu records is signed (there is no "
			    "checkpoint)", (unsigned long long)n);
		else
			snprintf(head, sizeof(head), "%llu record%s after the last signed checkpoint "
			    "(seq %llu) %s not signed", (unsigned long long)n, n == 1 ? "" : "s",
			    (unsigned long long)r->last_signed_seq, n == 1 ? "is" : "are");
		/*
		 * warden ends a run with sandbox.stop and a checkpoint, and begins
		 * the next with policy.load: a tail that breaks this pattern did
		 * not come from a run that is still going or was killed.
		 */
		if (v->last_was_stop)
			why = "the run ended (sandbox.stop) but the checkpoint warden writes after it "
			    "is missing -- removed, or it could not be written";
		else if (r->checkpoints && v->cp_after_stop && !v->tail_starts_run)
			why = "the checkpoint before this tail closed a run, and the tail does not "
			    "begin a new one (policy.load) -- appended afterwards, not by warden";
		else
			why = "the sandbox is still running, warden was killed, or the trail was "
			    "truncated";
		snprintf(r->why, sizeof(r->why), "%s: %s", head, why);
	}
}

static int
verifier_init(struct verifier *v, const char *want_key, struct audit_report *r,
    struct werr *err)
{
	memset(v, 0, sizeof(*v));
	memset(r, 0, sizeof(*r));
	v->r = r;
	r->verdict = AUDIT_OK;
	memcpy(v->prev, AUDIT_ZERO_HASH, HEX);
	if (want_key) {
		char low[HEX];
		if (strlen(want_key) != HEX)
			return werr_set(err, "the expected key must be 64 hex digits");
		for (size_t i = 0; i < HEX; i++)
			low[i] = (char)(want_key[i] >= 'A' && want_key[i] <= 'F' ?
			    want_key[i] - 'A' + 'a' : want_key[i]);
		if (!unhex(low, 32, v->want_key))
			return werr_set(err, "the expected key must be 64 hex digits");
		v->have_want_key = true;
	}
	/* Fetched once: an implicit fetch per record would cost more than the hash. */
	v->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	v->md_ctx = EVP_MD_CTX_new();
	if (!v->md || !v->md_ctx) {
		EVP_MD_free(v->md);
		EVP_MD_CTX_free(v->md_ctx);
		return werr_set(err, "OpenSSL provides no SHA-256");
	}
	return 0;
}

static void
verifier_free(struct verifier *v)
{
	EVP_MD_free(v->md);
	EVP_MD_CTX_free(v->md_ctx);
	EVP_PKEY_free(v->pkey);
}

/*
 * Two threads share the per-line work of a batch (examine(): the SHA-256,
 * the format checks and the JSON scan -- nearly all of the cost), taking
 * BLOCK lines at a time from a shared counter so that neither idles while
 * the other still has lines.  The chain checks then run on the calling
 * thread, over the batch in order, exactly as without the second thread:
 * the report cannot depend on how the lines were shared.
 */
struct pool {
	const EVP_MD *md;
	size_t min_lines;		/* smallest batch given to two threads */
	bool started;			/* the worker runs */
	bool failed;			/* it could not be started: one thread */
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	uint64_t gen;			/* batches handed out */
	bool busy, quit;		/* the worker has a batch / should exit */
	EVP_MD_CTX *wctx;		/* the worker's SHA-256 context */
	atomic_size_t next;		/* the first line not yet taken */
	size_t n;
	const char *lp[BATCH];
	size_t ll[BATCH];
	struct exam ex[BATCH];
};

static void
examine_blocks(struct pool *pl, EVP_MD_CTX *ctx)
{
	for (;;) {
		size_t i = atomic_fetch_add(&pl->next, BLOCK), e;

		if (i >= pl->n)
			return;
		e = i + BLOCK < pl->n ? i + BLOCK : pl->n;
		for (; i < e; i++)
			/* A longer line is rejected by feed_line before it looks. */
			if (pl->ll[i] <= LINE_MAX_LEN)
				examine(ctx, pl->md, pl->lp[i], pl->ll[i], &pl->ex[i]);
	}
}

static void *
worker(void *arg)
{
	struct pool *pl = arg;
	uint64_t seen = 0;

	for (;;) {
		pthread_mutex_lock(&pl->mu);
		while (!pl->quit && pl->gen == seen)
			pthread_cond_wait(&pl->go, &pl->mu);
		if (pl->quit) {
			pthread_mutex_unlock(&pl->mu);
			return NULL;
		}
		seen = pl->gen;
		pthread_mutex_unlock(&pl->mu);
		examine_blocks(pl, pl->wctx);
		pthread_mutex_lock(&pl->mu);
		pl->busy = false;
		pthread_cond_signal(&pl->done);
		pthread_mutex_unlock(&pl->mu);
	}
}

/* Started for the first batch that needs it, so a short trail never starts it. */
static bool
pool_start(struct pool *pl)
{
	sigset_t all, old;
	int e;

	if (pl->started || pl->failed)
		return pl->started;
	pl->failed = true;
	pl->wctx = EVP_MD_CTX_new();
	if (!pl->wctx)
		return false;
	if (pthread_mutex_init(&pl->mu, NULL) != 0)
		goto no_mu;
	if (pthread_cond_init(&pl->go, NULL) != 0)
		goto no_go;
	if (pthread_cond_init(&pl->done, NULL) != 0)
		goto no_done;
	/* Signals stay with the caller's thread, where its handlers expect them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&pl->tid, NULL, worker, pl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e == 0) {
		pl->started = true;
		pl->failed = false;
		return true;
	}
	pthread_cond_destroy(&pl->done);
no_done:
	pthread_cond_destroy(&pl->go);
no_go:
	pthread_mutex_destroy(&pl->mu);
no_mu:
	EVP_MD_CTX_free(pl->wctx);
	pl->wctx = NULL;
	return false;
}

static void
pool_stop(struct pool *pl)
{
	if (!pl->started)
		return;
	pthread_mutex_lock(&pl->mu);
	pl->quit = true;
	pthread_cond_signal(&pl->go);
	pthread_mutex_unlock(&pl->mu);
	pthread_join(pl->tid, NULL);
	pthread_cond_destroy(&pl->done);
	pthread_cond_destroy(&pl->go);
	pthread_mutex_destroy(&pl->mu);
	EVP_MD_CTX_free(pl->wctx);
	pl->started = false;
}

/* Examine pl's n lines on both threads; returns when all are done. */
static void
examine_batch(struct pool *pl, EVP_MD_CTX *ctx)
{
	pthread_mutex_lock(&pl->mu);
	atomic_store(&pl->next, 0);
	pl->busy = true;
	pl->gen++;
	pthread_cond_signal(&pl->go);
	pthread_mutex_unlock(&pl->mu);
	examine_blocks(pl, ctx);
	pthread_mutex_lock(&pl->mu);
	while (pl->busy)
		pthread_cond_wait(&pl->done, &pl->mu);
	pthread_mutex_unlock(&pl->mu);
}

/*
 * Feed the complete lines in [p, end) until the verdict is decided (and
 * no look-ahead continues); returns where the unread part begins.  With a
 * pool, lines are examined a batch at a time first.
 */
static const char *
feed_lines(struct verifier *v, struct pool *pl, const char *p, const char *end)
{
	const char *nl;

	while (p < end) {
		if (pl && !v->stopped) {
			const char *q = p;
			size_t n = 0;
			bool par;

			while (n < BATCH && q < end && (nl = memchr(q, '\n', (size_t)(end - q)))) {
				pl->lp[n] = q;
				pl->ll[n] = (size_t)(nl - q);
				n++;
				q = nl + 1;
			}
			if (n == 0)
				break;
			pl->n = n;
			par = n >= pl->min_lines && pool_start(pl);
			if (par)
				examine_batch(pl, v->md_ctx);
			for (size_t i = 0; i < n; i++) {
				feed_line(v, pl->lp[i], pl->ll[i], par ? &pl->ex[i] : NULL);
				if (v->stopped && !v->looking)
					return pl->lp[i] + pl->ll[i] + 1;
			}
			p = q;
			continue;
		}
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			break;
		feed_line(v, p, (size_t)(nl - p), NULL);
		p = nl + 1;
		if (v->stopped && !v->looking)
			break;
	}
	return p;
}

int
audit_verify_buffer(const char *buf, size_t len, const char *want_key,
    struct audit_report *r, struct werr *err)
{
	struct verifier v;
	const char *p, *end = buf + len;

	if (verifier_init(&v, want_key, r, err) < 0)
		return -1;
	p = feed_lines(&v, NULL, buf, end);
	finish(&v, v.stopped ? NULL : p, v.stopped ? 0 : (size_t)(end - p));
	verifier_free(&v);
	return 0;
}

int
audit_verify(FILE *f, const char *want_key, struct audit_report *r, struct werr *err)
{
	return audit_verify_split(f, want_key, PAR_MIN_LINES, r, err);
}

/*
 * The file is read in chunks; a line is handled where it lies in the
 * buffer, and only the incomplete end of a chunk is moved to the front.
 * A line longer than any record ends verification, so the buffer never
 * grows past one chunk plus one record.
 */
int
audit_verify_split(FILE *f, const char *want_key, size_t min_lines, struct audit_report *r,
    struct werr *err)
{
	struct verifier v;
	struct pool *pl = NULL;
	size_t cap = CHUNK + LINE_MAX_LEN + 1, have = 0;
	char *buf;
	int ret = 0;

	if (verifier_init(&v, want_key, r, err) < 0)
		return -1;
	if (min_lines != SIZE_MAX) {
		pl = xcalloc(1, sizeof(*pl));
		pl->md = v.md;
		pl->min_lines = min_lines;
	}
	buf = xmalloc(cap);
	for (;;) {
		size_t n = fread(buf + have, 1, cap - have, f);
		const char *p, *end;

		if (n == 0 && ferror(f)) {
			werr_sys(err, "read");
			ret = -1;
			break;
		}
		have += n;
		end = buf + have;
		p = feed_lines(&v, pl, buf, end);
		if (v.stopped && !v.looking) {
			finish(&v, NULL, 0);
			break;
		}
		if ((size_t)(end - p) > LINE_MAX_LEN) {
			/* No newline within a record's length: count it as a line and stop. */
			feed_line(&v, p, (size_t)(end - p), NULL);
			if (!v.looking) {
				finish(&v, NULL, 0);
				break;
			}
			/* Looking ahead: skip to the next newline. */
			have = 0;
			for (;;) {
				size_t m = fread(buf, 1, cap, f);
				char *q = m ? memchr(buf, '\n', m) : NULL;
				if (!m) {
					finish(&v, NULL, 0);
					goto out;
				}
				if (q) {
					have = m - (size_t)(q + 1 - buf);
					memmove(buf, q + 1, have);
					break;
				}
			}
			continue;
		}
		have = (size_t)(end - p);
		memmove(buf, p, have);
		if (n == 0) {
			finish(&v, v.stopped ? NULL : buf, v.stopped ? 0 : have);
			break;
		}
	}
out:
	free(buf);
	if (pl) {
		pool_stop(pl);
		free(pl);
	}
	verifier_free(&v);
	if (ret < 0)
		memset(r, 0, sizeof(*r));
	return ret;
}
