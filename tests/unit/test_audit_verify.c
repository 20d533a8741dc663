/*
 * Unit tests for the audit verifier, against trails written by the real
 * writer (audit_open/audit_append/audit_close into a temporary directory,
 * with a temporary key), then tampered with the way an attacker would:
 * a flipped byte in each kind of field, a deleted, swapped, duplicated or
 * inserted line, a truncation mid-line and at a line boundary, forged
 * records with correctly recomputed hashes, forged checkpoints signed by
 * another key, a whole trail re-signed by another key.  Each check names
 * the verdict, the line and the reason the verifier gives.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.  The large-trail test prints the verification speed.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/audit/audit.h"
#include "../../src/audit/audit_verify.h"
#include "../../src/lib/hash.h"
#include "../../src/lib/util.h"

#include "check.h"

#define CHECK_HAS(s, sub) ({ const char *_s = (s), *_sub = (sub); \
	check(_s && strstr(_s, _sub) != NULL, __FILE__, __LINE__, "%s mentions \"%s\" (got \"%s\")", \
	    #s, _sub, _s ? _s : "(null)"); })

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

/* ---- a temporary directory, trails and keys -------------------------------- */

static char tmpdir[64];
static int trail_no;

static void
rm_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static char *
slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	struct werr e = { 0 };

	if (read_file(path, 1u << 30, &buf, len, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		abort();
	}
	return buf;
}

static void
spit(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, buf, len) < 0)
		abort();
	close(fd);
}

struct trail_opts {
	const char *key;		/* key file name in tmpdir (default "key") */
	const char *path;		/* trail path (default: a new one) */
	unsigned checkpoint_every;	/* default 10 */
	unsigned events;		/* default 25 */
	bool end_with_stop;		/* the last event is sandbox.stop */
};

/* An event like the ones the supervisor records, #i of a run. */
static void
emit_event(struct audit *a, unsigned i, unsigned n, const struct trail_opts *o)
{
	static const char ph[] = "8c83a1d2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e";
	static const char sha[] = "5882ab00cd11ef22aa33bb44cc55dd66ee77ff8899aabbccddeeff0011223344";
	struct event ev = { .policy_hash = ph, .revision = 1 };
	char reason[160];

	if (i == 0) {
		ev.type = "policy.load";
	} else if (o->end_with_stop && i == n - 1) {
		ev.type = "sandbox.stop";
		ev.extra_json = "\"exit_status\":0,\"duration_ms\":12,\"connections\":{\"accepted\":3,"
		    "\"allowed\":2,\"denied\":1,\"closed_by_reload\":0}";
	} else {
		ev.type = "net.connect";
		ev.decision = i % 3 ? "allow" : "deny";
		ev.verb = "CONNECT";
		ev.rule = "model-api";
		snprintf(reason, sizeof(reason), i % 3 ? "allowed by policy 'model-api'" :
		    "binary /usr/bin/curl not allowed by policy 'model-api' (#%u)", i);
		ev.reason = reason;
		ev.binary = i % 3 ? "/usr/bin/python3.11" : "/usr/bin/curl";
		ev.binary_sha256 = sha;
		ev.pid = (pid_t)(100 + i % 50);
		ev.ppid = 2;
		ev.dst = "api.anthropic.com";
		ev.port = 443;
		ev.addr = "127.0.0.1";
	}
	if (audit_append(a, &ev) < 0) {
		fprintf(stderr, "audit_append: %s\n", audit_failed(a));
		abort();
	}
}

/* Write a trail with the real writer; returns its path (static buffer per call site). */
static char *
write_trail(const struct trail_opts *o, char *pubkey)
{
	struct audit_config c = { 0 };
	struct werr err = { 0 };
	char key[128], *path;
	unsigned n = o->events ? o->events : 25;
	struct audit *a;

	snprintf(key, sizeof(key), "%s/%s", tmpdir, o->key ? o->key : "key");
	if (o->path)
		path = xstrdup(o->path);
	else
		path = xasprintf("%s/trail-%d.jsonl", tmpdir, ++trail_no);
	c.path = path;
	c.key_path = key;
	c.sandbox = "t1";
	c.fsync = AUDIT_FSYNC_BATCH;
	c.checkpoint_records = o->checkpoint_every ? o->checkpoint_every : 10;
	c.checkpoint_ms = 3600 * 1000;
	a = audit_open(&c, &err);
	if (!a) {
		fprintf(stderr, "audit_open: %s\n", err.msg);
		abort();
	}
	if (pubkey)
		snprintf(pubkey, 65, "%s", audit_pubkey(a));
	for (unsigned i = 0; i < n; i++)
		emit_event(a, i, n, o);
	if (audit_close(a, &err) < 0) {
		fprintf(stderr, "audit_close: %s\n", err.msg);
		abort();
	}
	return path;
}

/* ---- a trail as lines, to tamper with ---------------------------------------- */

struct lines {
	char **v;
	size_t n;
};

static void
split(const char *buf, size_t len, struct lines *L)
{
	const char *p = buf, *end = buf + len, *nl;

	memset(L, 0, sizeof(*L));
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		L->v = xrealloc(L->v, (L->n + 1) * sizeof(char *));
		L->v[L->n++] = xstrndup(p, (size_t)(nl - p));
		p = nl + 1;
	}
}

static void
lines_free(struct lines *L)
{
	for (size_t i = 0; i < L->n; i++)
		free(L->v[i]);
	free(L->v);
	memset(L, 0, sizeof(*L));
}

static char *
join(const struct lines *L, size_t *len)
{
	struct sbuf b;

	sbuf_init(&b, (size_t)1 << 30);
	for (size_t i = 0; i < L->n; i++) {
		sbuf_adds(&b, L->v[i]);
		sbuf_adds(&b, "\n");
	}
	*len = b.len;
	return b.p;
}

static void
lines_insert(struct lines *L, size_t at, const char *s)
{
	L->v = xrealloc(L->v, (L->n + 1) * sizeof(char *));
	memmove(L->v + at + 1, L->v + at, (L->n - at) * sizeof(char *));
	L->v[at] = xstrdup(s);
	L->n++;
}

static void
lines_delete(struct lines *L, size_t at)
{
	free(L->v[at]);
	memmove(L->v + at, L->v + at + 1, (L->n - at - 1) * sizeof(char *));
	L->n--;
}

/* The 64-hex value of "name":"…" in a line (first occurrence). */
static char *
field_hex(const char *line, const char *name)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":\"", name);
	p = strstr(line, pat);
	if (!p)
		abort();
	return (char *)p + strlen(pat);
}

static bool
is_checkpoint(const char *line)
{
	return strstr(line, "\"event\":\"audit.checkpoint\"") != NULL;
}

/* Give a line prev and a hash computed as the writer computes it. */
static void
seal(char **line, const char *prev)
{
	char *p = strstr(*line, ",\"prev\":\""), h[65];
	struct sbuf b;

	if (!p)
		abort();
	sbuf_init(&b, (size_t)1 << 20);
	sbuf_add(&b, *line, (size_t)(p - *line));
	sbuf_addf(&b, ",\"prev\":\"%s\"}", prev);
	sha256_hex(b.p, b.len, h);
	b.len--;
	sbuf_addf(&b, ",\"hash\":\"%s\"}", h);
	free(*line);
	*line = b.p;
}

static void
sign_hex(EVP_PKEY *k, unsigned long long seq, const char *head, char out[129])
{
	char msg[256];
	unsigned char sig[64];
	size_t sl = sizeof(sig);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	static const char d[] = "0123456789abcdef";

	snprintf(msg, sizeof(msg), "%s%llu\n%s\n", AUDIT_SIG_DOMAIN, seq, head);
	if (!m || EVP_DigestSignInit(m, NULL, NULL, NULL, k) <= 0 ||
	    EVP_DigestSign(m, sig, &sl, (const unsigned char *)msg, strlen(msg)) <= 0)
		abort();
	EVP_MD_CTX_free(m);
	for (size_t i = 0; i < 64; i++) {
		out[2 * i] = d[sig[i] >> 4];
		out[2 * i + 1] = d[sig[i] & 15];
	}
	out[128] = '\0';
}

static void
pub_hex(EVP_PKEY *k, char out[65])
{
	unsigned char raw[32];
	size_t rl = sizeof(raw);
	static const char d[] = "0123456789abcdef";

	if (EVP_PKEY_get_raw_public_key(k, raw, &rl) <= 0)
		abort();
	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = d[raw[i] >> 4];
		out[2 * i + 1] = d[raw[i] & 15];
	}
	out[64] = '\0';
}

static EVP_PKEY *
new_key(void)
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);

	if (!c || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_keygen(c, &k) <= 0)
		abort();
	EVP_PKEY_CTX_free(c);
	return k;
}

/*
 * Recompute the chain from line `from` (0-based) on, as someone without the
 * key would: prev and hash of every line, and a checkpoint's head and count.
 * With resign, checkpoints are also re-signed with that key and carry it.
 */
static void
rechain(struct lines *L, size_t from, EVP_PKEY *resign)
{
	for (size_t i = from; i < L->n; i++) {
		char prev[65];
		if (i == 0)
			snprintf(prev, sizeof(prev), "%s", AUDIT_ZERO_HASH);
		else
			snprintf(prev, sizeof(prev), "%.64s", field_hex(L->v[i - 1], "hash"));
		if (is_checkpoint(L->v[i])) {
			unsigned long long seq = strtoull(L->v[i] + 7, NULL, 10);
			memcpy(field_hex(L->v[i], "head"), prev, 64);
			if (resign) {
				char sig[129], pub[65];
				sign_hex(resign, seq, prev, sig);
				pub_hex(resign, pub);
				memcpy(field_hex(L->v[i], "key"), pub, 64);
				memcpy(field_hex(L->v[i], "sig"), sig, 128);
			}
		}
		seal(&L->v[i], prev);
	}
}

/* ---- verifying -------------------------------------------------------------------- */

static struct audit_report R;

static const char *
verdict_name(enum audit_verdict v)
{
	return v == AUDIT_OK ? "OK" : v == AUDIT_TORN ? "TORN" : "BAD";
}

/*
 * Does reading buf from a FILE, on one thread and on two (every batch
 * shared, however short), give the report audit_verify_buffer gave (in R)?
 */
static bool
same_split(const char *buf, size_t len, const char *key)
{
	static const size_t min_lines[] = { SIZE_MAX, 1, 2, 64 };
	bool same = true;

	for (size_t i = 0; i < sizeof(min_lines) / sizeof(min_lines[0]); i++) {
		struct audit_report r2;
		struct werr err = { 0 };
		/* fmemopen refuses a size of 0. */
		FILE *f = len ? fmemopen((void *)buf, len, "r") : fopen("/dev/null", "re");

		if (!f)
			abort();
		audit_verify_split(f, key, min_lines[i], &r2, &err);
		fclose(f);
		if (memcmp(&R, &r2, sizeof(R)) != 0) {
			printf("# buffer: %s line %llu records %llu: %s\n"
			    "# split (min %zu): %s line %llu records %llu: %s\n",
			    verdict_name(R.verdict), (unsigned long long)R.bad_line,
			    (unsigned long long)R.records, R.why, min_lines[i],
			    verdict_name(r2.verdict), (unsigned long long)r2.bad_line,
			    (unsigned long long)r2.records, r2.why);
			same = false;
		}
	}
	return same;
}

static int
verify_lines(const struct lines *L, const char *key)
{
	size_t len;
	char *buf = join(L, &len);
	struct werr err = { 0 };
	int r = audit_verify_buffer(buf, len, key, &R, &err);

	if (r == 0)
		CHECK(same_split(buf, len, key), "one thread and two give the same report");
	free(buf);
	return r;
}

#define CHECK_VERDICT(v) CHECK_STR(verdict_name(R.verdict), verdict_name(v))

/* A clean trail of 25 events, checkpoint every 10: 28 records, 3 checkpoints. */
static char *clean_path, clean_key[65];
static struct lines clean;

static void
load_clean(struct lines *L)
{
	size_t len;
	char *buf = slurp(clean_path, &len);

	split(buf, len, L);
	free(buf);
}

/* ---- tests ------------------------------------------------------------------------- */

static void
test_clean(void)
{
	struct trail_opts o = { .end_with_stop = true };
	struct werr err = { 0 };
	char upper[65];
	FILE *f;

	begin("a clean trail");
	clean_path = write_trail(&o, clean_key);
	load_clean(&clean);
	CHECK_INT(clean.n, 28);
	CHECK_INT(verify_lines(&clean, NULL), 0);
	CHECK_VERDICT(AUDIT_OK);
	CHECK_INT(R.records, 28);
	CHECK_INT(R.verified, 28);
	CHECK_INT(R.checkpoints, 3);
	CHECK_INT(R.last_signed_seq, 28);
	CHECK_INT(R.bad_line, 0);
	CHECK_STR(R.key, clean_key);
	CHECK_STR(R.why, "");
	CHECK(is_checkpoint(clean.v[10]) && is_checkpoint(clean.v[21]) && is_checkpoint(clean.v[27]),
	    "checkpoints at seq 11, 22 and 28");

	f = fopen(clean_path, "re");
	CHECK_INT(audit_verify(f, NULL, &R, &err), 0);
	fclose(f);
	CHECK(R.verdict == AUDIT_OK && R.records == 28 && R.checkpoints == 3,
	    "the same from a FILE");

	CHECK_INT(verify_lines(&clean, clean_key), 0);
	CHECK_VERDICT(AUDIT_OK);
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(clean_key[i] >= 'a' && clean_key[i] <= 'f' ? clean_key[i] - 32 :
		    clean_key[i]);
	CHECK_INT(verify_lines(&clean, upper), 0);
	CHECK_VERDICT(AUDIT_OK);
	CHECK_INT(audit_verify_buffer("", 0, "abc", &R, &err), -1);
	CHECK_HAS(err.msg, "64 hex digits");
	CHECK_INT(audit_verify_buffer("", 0, NULL, &R, &err), 0);
	CHECK(R.verdict == AUDIT_OK && R.records == 0 && R.why[0] == '\0',
	    "an empty trail: OK, no records");
}

/* Flip one byte of line `ln` (1-based) at the first occurrence of `at` + off. */
static void
flip(const char *desc, size_t ln, const char *at, int off, enum audit_verdict want,
    uint64_t want_line, const char *want_why)
{
	struct lines L;
	char *p;

	load_clean(&L);
	p = strstr(L.v[ln - 1], at);
	if (!p)
		abort();
	if (strcmp(desc, "prev (hex to non-hex)") == 0) {
		p[off] = 'g';
	} else if (strcmp(desc, "hash to uppercase") == 0) {
		p += off + strcspn(p + off, "abcdef");
		*p = (char)(*p - 'a' + 'A');
	} else
		/* Digits stay digits (no leading zero), hex digits stay hex. */
		p[off] = (char)(p[off] == '9' ? '8' : p[off] == 'f' ? 'e' :
		    strchr("012345678abcde", p[off]) ? p[off] + 1 : p[off] ^ 1);
	verify_lines(&L, NULL);
	CHECK(R.verdict == want && R.bad_line == want_line && strstr(R.why, want_why),
	    "%s: %s at line %llu (got %s at line %llu: %s)", desc, verdict_name(want),
	    (unsigned long long)want_line, verdict_name(R.verdict),
	    (unsigned long long)R.bad_line, R.why);
	CHECK_INT(R.verified, want_line - 1);
	lines_free(&L);
}

static void
test_flips(void)
{
	begin("a flipped byte");
	flip("seq digit", 5, "{\"seq\":", 7, AUDIT_BAD, 5,
	    "record 6 (line 5): hash does not match its contents -- the record was edited");
	flip("time", 5, "\"time\":\"", 14, AUDIT_BAD, 5, "hash does not match its contents");
	flip("sandbox name", 6, "\"sandbox\":\"", 11, AUDIT_BAD, 6,
	    "record 6 (line 6): hash does not match");
	flip("event type", 7, "\"event\":\"", 9, AUDIT_BAD, 7, "hash does not match");
	flip("decision", 4, "\"decision\":\"", 12, AUDIT_BAD, 4, "hash does not match");
	flip("binary", 8, "\"binary\":\"", 11, AUDIT_BAD, 8, "hash does not match");
	flip("pid", 9, "\"pid\":", 6, AUDIT_BAD, 9, "hash does not match");
	flip("port", 9, "\"port\":", 7, AUDIT_BAD, 9, "hash does not match");
	flip("dst", 17, "\"dst\":\"", 8, AUDIT_BAD, 17,
	    "record 17 (line 17): hash does not match its contents -- the record was edited");
	flip("prev (hex to hex)", 12, "\"prev\":\"", 8, AUDIT_BAD, 12, "hash does not match");
	flip("hash (hex to hex)", 12, "\"hash\":\"", 20, AUDIT_BAD, 12, "hash does not match");
	flip("prev (hex to non-hex)", 3, "\"prev\":\"", 30, AUDIT_BAD, 3,
	    "record 3 (line 3): not an audit record (its \"prev\" is not 64 lowercase hex digits)");
	flip("hash to uppercase", 3, "\"hash\":\"", 9, AUDIT_BAD, 3,
	    "not an audit record (its \"hash\" is not 64 lowercase hex digits)");
	flip("a quote", 3, "\"event\"", 6, AUDIT_BAD, 3,
	    "record 3 (line 3): hash does not match its contents");
	flip("the opening brace", 13, "{", 0, AUDIT_BAD, 13, "line 13: not an audit record");
	flip("checkpoint sig", 11, "\"sig\":\"", 10, AUDIT_BAD, 11, "hash does not match");
	flip("checkpoint key", 22, "\"key\":\"", 10, AUDIT_BAD, 22, "hash does not match");
	flip("checkpoint head", 28, "\"head\":\"", 10, AUDIT_BAD, 28, "hash does not match");
	flip("the final brace", 28, "\"}", 1, AUDIT_BAD, 28, "not an audit record");
}

/* Does reading buf through stdio give the report audit_verify_buffer gave (in R)? */
static bool
same_from_file(char *buf, size_t len)
{
	struct audit_report r2;
	struct werr err = { 0 };
	FILE *f = fmemopen(buf, len, "r");
	bool same;

	if (!f)
		abort();
	audit_verify(f, NULL, &r2, &err);
	fclose(f);
	same = memcmp(&R, &r2, sizeof(R)) == 0 && same_split(buf, len, NULL);
	if (!same)
		printf("# buffer: %s line %llu records %llu: %s\n# FILE:   %s line %llu records %llu: %s\n",
		    verdict_name(R.verdict), (unsigned long long)R.bad_line,
		    (unsigned long long)R.records, R.why, verdict_name(r2.verdict),
		    (unsigned long long)r2.bad_line, (unsigned long long)r2.records, r2.why);
	return same;
}

static void
test_lines(void)
{
	struct lines L;
	struct werr err = { 0 };
	size_t len;
	char *buf;

	begin("deleted, swapped, duplicated, inserted lines");
	load_clean(&L);
	lines_delete(&L, 6);
	verify_lines(&L, NULL);
	CHECK_VERDICT(AUDIT_BAD);
	CHECK_INT(R.bad_line, 7);
	CHECK_INT(R.bad_seq, 8);
	CHECK_INT(R.verified, 6);
	CHECK_STR(R.why, "line 7: seq 8 follows seq 6 -- record 7 is missing "
	    "(it is nowhere in the file: deleted)");
	lines_free(&L);

	load_clean(&L);
	lines_delete(&L, 0);
	verify_lines(&L, NULL);
	CHECK_VERDICT(AUDIT_BAD);
	CHECK_INT(R.bad_line, 1);
	CHECK_HAS(R.why, "line 1: the trail begins at seq 2, not 1 -- its first records were removed");
	lines_free(&L);

	load_clean(&L);
	lines_delete(&L, 10);		/* the first checkpoint */
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 11 && strstr(R.why, "record 11 is missing"),
	    "a deleted checkpoint: %s", R.why);
	lines_free(&L);

	load_clean(&L);
	{
		char *t = L.v[6];
		L.v[6] = L.v[7];
		L.v[7] = t;
	}
	verify_lines(&L, NULL);
	CHECK_VERDICT(AUDIT_BAD);
	CHECK_INT(R.bad_line, 7);
	CHECK_STR(R.why, "line 7: seq 8 follows seq 6 -- record 7 is missing "
	    "(it is on line 8: records were reordered)");
	lines_free(&L);

	load_clean(&L);
	{
		char *t = L.v[2];
		L.v[2] = L.v[20];
		L.v[20] = t;
	}
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 3 && strstr(R.why, "it is on line 21"),
	    "far apart lines swapped: %s", R.why);
	lines_free(&L);

	load_clean(&L);
	lines_insert(&L, 7, L.v[6]);
	verify_lines(&L, NULL);
	CHECK_VERDICT(AUDIT_BAD);
	CHECK_INT(R.bad_line, 8);
	CHECK_STR(R.why, "line 8: a copy of the record on line 7 (seq 7) -- a record was duplicated");
	lines_free(&L);

	/* A copy of an earlier record further on. */
	load_clean(&L);
	lines_insert(&L, 15, L.v[3]);
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 16 &&
	    strstr(R.why, "seq 4 follows seq 15 -- records were reordered or replayed"),
	    "an old record replayed: %s", R.why);
	lines_free(&L);

	/* An inserted record numbered to fit, chained to its predecessor. */
	load_clean(&L);
	{
		char *t = xasprintf("{\"seq\":8%s", strchr(L.v[6], ',')), prev[65];
		strstr(t, "\"dst\":\"")[7] = 'X';
		snprintf(prev, sizeof(prev), "%.64s", field_hex(L.v[6], "hash"));
		seal(&t, prev);
		lines_insert(&L, 7, t);
		free(t);
	}
	verify_lines(&L, NULL);
	CHECK_VERDICT(AUDIT_BAD);
	CHECK_INT(R.bad_line, 9);
	CHECK_STR(R.why, "line 9: seq 8 again, after line 8 -- a record was inserted");
	lines_free(&L);

	/* An empty line, a foreign line, CRLF, an over-long line. */
	load_clean(&L);
	lines_insert(&L, 4, "");
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 5 && strstr(R.why, "line 5: empty"),
	    "an empty line: %s", R.why);
	lines_free(&L);

	load_clean(&L);
	lines_insert(&L, 4, "{\"note\":\"looks like JSON\"}");
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 5 && strstr(R.why, "line 5: not an audit record"),
	    "a JSON line that is no record: %s", R.why);
	lines_free(&L);

	load_clean(&L);
	{
		char *t = xasprintf("%s\r", L.v[3]);
		free(L.v[3]);
		L.v[3] = t;
	}
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 4 && strstr(R.why, "not an audit record"),
	    "a CRLF line ending: %s", R.why);
	lines_free(&L);

	load_clean(&L);
	buf = join(&L, &len);
	{
		size_t big = 300 * 1024;
		char *b2 = xmalloc(len + big + 1);
		memcpy(b2, buf, len);
		memset(b2 + len, 'x', big);
		b2[len + big] = '\n';
		audit_verify_buffer(b2, len + big + 1, NULL, &R, &err);
		CHECK(R.verdict == AUDIT_BAD && R.bad_line == 29 && strstr(R.why, "longer than 256 KiB"),
		    "an over-long line: %s", R.why);
		audit_verify_buffer(b2, len + big, NULL, &R, &err);
		CHECK(R.verdict == AUDIT_BAD && R.bad_line == 29 && strstr(R.why, "longer than 256 KiB"),
		    "an over-long final line without newline: %s", R.why);
		CHECK(same_from_file(b2, len + big + 1) && same_from_file(b2, len + big),
		    "... the same reports from a FILE, which stops reading at 256 KiB");
		free(b2);
	}
	free(buf);
	lines_free(&L);

	/*
	 * A gap in the sequence, then an over-long line, then the missing
	 * record: looking ahead skips the long line, in a buffer and a FILE.
	 */
	load_clean(&L);
	{
		char *moved = L.v[4], *b2, *big = xmalloc(300 * 1024 + 1);
		size_t l2;
		memmove(L.v + 4, L.v + 5, (L.n - 5) * sizeof(char *));
		L.v[L.n - 1] = moved;
		memset(big, 'x', 300 * 1024);
		big[300 * 1024] = '\0';
		lines_insert(&L, 10, big);
		free(big);
		b2 = join(&L, &l2);
		audit_verify_buffer(b2, l2, NULL, &R, &err);
		CHECK(R.verdict == AUDIT_BAD && R.bad_line == 5 &&
		    strstr(R.why, "record 5 is missing (it is on line 29: records were reordered)"),
		    "a record moved past an over-long line is found: %s", R.why);
		CHECK(same_from_file(b2, l2), "... the same from a FILE");
		free(b2);
	}
	lines_free(&L);
}

static void
test_truncation(void)
{
	struct lines L;
	size_t len;
	char *buf;
	struct werr err = { 0 };

	begin("truncation");
	load_clean(&L);
	buf = join(&L, &len);
	/* Mid-line: the last line loses its second half (and its newline). */
	audit_verify_buffer(buf, len - strlen(L.v[27]) / 2, NULL, &R, &err);
	CHECK_VERDICT(AUDIT_TORN);
	CHECK_INT(R.bad_line, 28);
	CHECK_INT(R.bad_seq, 28);
	CHECK_INT(R.verified, 27);
	CHECK_INT(R.records, 27);
	CHECK_INT(R.checkpoints, 2);
	CHECK_STR(R.why, "line 28 is torn (it has no newline: a crash while writing, or a "
	    "truncation); the 27 records before it verify");
	/* Only the final newline is missing. */
	audit_verify_buffer(buf, len - 1, NULL, &R, &err);
	CHECK(R.verdict == AUDIT_TORN && R.bad_line == 28 && R.verified == 27,
	    "a complete last record without its newline is torn");
	/* Torn inside "{\"seq\":": no seq readable. */
	{
		size_t cut = len - strlen(L.v[27]) - 1 + 4;
		audit_verify_buffer(buf, cut, NULL, &R, &err);
		CHECK(R.verdict == AUDIT_TORN && R.bad_line == 28 && R.bad_seq == 0,
		    "torn in its first bytes: seq unknown");
	}
	/* Mid-file: everything after line 15's middle is gone. */
	{
		size_t off = 0;
		for (size_t i = 0; i < 14; i++)
			off += strlen(L.v[i]) + 1;
		audit_verify_buffer(buf, off + 100, NULL, &R, &err);
		CHECK(R.verdict == AUDIT_TORN && R.bad_line == 15 && R.verified == 14 &&
		    R.checkpoints == 1 && R.last_signed_seq == 11, "torn at line 15");
		/* At a line boundary: the final checkpoint is gone; the tail is unsigned. */
		audit_verify_buffer(buf, off, NULL, &R, &err);
		CHECK_VERDICT(AUDIT_OK);
		CHECK_INT(R.records, 14);
		CHECK_STR(R.why, "3 records after the last signed checkpoint (seq 11) are not "
		    "signed: the sandbox is still running, warden was killed, or the trail was "
		    "truncated");
	}
	audit_verify_buffer(buf, len - strlen(L.v[27]) - 1, NULL, &R, &err);
	CHECK_VERDICT(AUDIT_OK);
	CHECK_INT(R.records, 27);
	CHECK_INT(R.last_signed_seq, 22);
	CHECK_STR(R.why, "5 records after the last signed checkpoint (seq 22) are not signed: "
	    "the run ended (sandbox.stop) but the checkpoint warden writes after it is missing -- "
	    "removed, or it could not be written");
	audit_verify_buffer(buf, strlen(L.v[0]) + 1 + strlen(L.v[1]) + 1, NULL, &R, &err);
	CHECK_STR(R.why, "none of the 2 records is signed (there is no checkpoint): the sandbox "
	    "is still running, warden was killed, or the trail was truncated");
	free(buf);
	lines_free(&L);
}

/* A record as warden writes a connection, appended after the last line with a valid hash. */
static void
append_forged(struct lines *L, const char *event)
{
	char prev[65], *rec;
	unsigned long long seq = strtoull(L->v[L->n - 1] + 7, NULL, 10) + 1;

	snprintf(prev, sizeof(prev), "%.64s", field_hex(L->v[L->n - 1], "hash"));
	rec = xasprintf("{\"seq\":%llu,\"time\":\"2026-01-01T00:00:00.000000000Z\","
	    "\"sandbox\":\"t1\",\"event\":\"%s\",\"decision\":\"allow\",\"dst\":\"evil.example\","
	    "\"prev\":\"x\"}", seq, event);
	lines_insert(L, L->n, rec);
	free(rec);
	seal(&L->v[L->n - 1], prev);
}

/* A checkpoint signed with k, appended after the last line. */
static void
append_checkpoint(struct lines *L, EVP_PKEY *k)
{
	char prev[65], sig[129], pub[65], *rec;
	unsigned long long seq = strtoull(L->v[L->n - 1] + 7, NULL, 10) + 1;

	snprintf(prev, sizeof(prev), "%.64s", field_hex(L->v[L->n - 1], "hash"));
	sign_hex(k, seq, prev, sig);
	pub_hex(k, pub);
	rec = xasprintf("{\"seq\":%llu,\"time\":\"2026-01-01T00:00:00.000000000Z\","
	    "\"sandbox\":\"t1\",\"event\":\"audit.checkpoint\",\"head\":\"%s\",\"count\":%llu,"
	    "\"key\":\"%s\",\"sig\":\"%s\",\"prev\":\"x\"}", seq, prev, seq - 1, pub, sig);
	lines_insert(L, L->n, rec);
	free(rec);
	seal(&L->v[L->n - 1], prev);
}

static void
test_forgery(void)
{
	struct lines L;
	EVP_PKEY *other = new_key();
	char other_pub[65];

	pub_hex(other, other_pub);
	begin("forged records and checkpoints");

	/* A record appended naively: copied and edited, hash not recomputed. */
	load_clean(&L);
	{
		char *t = xstrdup(L.v[26]);
		t[7] = '9';
		lines_insert(&L, L.n, t);
		free(t);
	}
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 29 && strstr(R.why, "hash does not match"),
	    "an appended copy, edited: %s", R.why);
	lines_free(&L);

	/* Appended with a correct hash but a wrong prev. */
	load_clean(&L);
	append_forged(&L, "net.connect");
	{
		char prev[65];
		snprintf(prev, sizeof(prev), "%.64s", field_hex(L.v[5], "hash"));
		seal(&L.v[28], prev);
	}
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 29 &&
	    strstr(R.why, "record 29 (line 29): prev does not match the hash of the record before it"),
	    "an appended record with a recomputed hash but a wrong prev: %s", R.why);
	lines_free(&L);

	/* Correctly chained: all an attacker without the key can do; it stays unsigned. */
	load_clean(&L);
	append_forged(&L, "net.connect");
	verify_lines(&L, NULL);
	CHECK_VERDICT(AUDIT_OK);
	CHECK_INT(R.records, 29);
	CHECK_INT(R.last_signed_seq, 28);
	CHECK_STR(R.why, "1 record after the last signed checkpoint (seq 28) is not signed: the "
	    "checkpoint before this tail closed a run, and the tail does not begin a new one "
	    "(policy.load) -- appended afterwards, not by warden");
	append_forged(&L, "net.connect");
	verify_lines(&L, NULL);
	CHECK_HAS(R.why, "2 records after the last signed checkpoint (seq 28) are not signed: the "
	    "checkpoint before this tail closed a run");
	lines_free(&L);
	load_clean(&L);
	append_forged(&L, "policy.load");
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_OK && strstr(R.why, "1 record after the last signed checkpoint "
	    "(seq 28) is not signed"), "a forged run start is only unsigned: %s", R.why);
	lines_free(&L);

	/* ... and a checkpoint signed by another key over it. */
	load_clean(&L);
	append_forged(&L, "net.connect");
	append_checkpoint(&L, other);
	verify_lines(&L, NULL);
	CHECK_VERDICT(AUDIT_BAD);
	CHECK_INT(R.bad_line, 30);
	CHECK_INT(R.bad_seq, 30);
	CHECK_INT(R.verified, 29);
	CHECK_HAS(R.why, "checkpoint record 30 (line 30): signed with key ");
	CHECK_HAS(R.why, "but the checkpoints before it with key ");
	verify_lines(&L, clean_key);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 30 && strstr(R.why, "not the expected key"),
	    "... with --key: %s", R.why);
	lines_free(&L);

	/* A forged checkpoint whose signature is by another key than it names. */
	load_clean(&L);
	append_forged(&L, "net.connect");
	append_checkpoint(&L, other);
	memcpy(field_hex(L.v[29], "key"), clean_key, 64);
	rechain(&L, 29, NULL);
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 30 &&
	    strstr(R.why, "checkpoint record 30 (line 30): the signature does not verify"),
	    "a checkpoint naming the trail's key, signed by another: %s", R.why);
	lines_free(&L);

	/* An edit with every later hash recomputed: the next checkpoint's signature fails. */
	load_clean(&L);
	{
		char *d = strstr(L.v[4], "\"dst\":\"") + 7;
		d[0] = 'X';
	}
	rechain(&L, 4, NULL);
	verify_lines(&L, NULL);
	CHECK_VERDICT(AUDIT_BAD);
	CHECK_INT(R.bad_line, 11);
	CHECK_INT(R.verified, 10);
	CHECK_STR(R.why, "checkpoint record 11 (line 11): the signature does not verify -- the "
	    "checkpoint, or the records before it, were rewritten (hashes recomputed) without the key");
	lines_free(&L);

	/* An edit with only its own hash recomputed: the next record's prev breaks. */
	load_clean(&L);
	{
		char *d = strstr(L.v[4], "\"dst\":\"") + 7, prev[65];
		d[0] = 'X';
		snprintf(prev, sizeof(prev), "%.64s", field_hex(L.v[3], "hash"));
		seal(&L.v[4], prev);
	}
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 6 && strstr(R.why,
	    "record 6 (line 6): prev does not match the hash of the record before it"),
	    "a record rewritten with its own hash: %s", R.why);
	lines_free(&L);

	/* A line deleted and the rest renumbered and rechained. */
	load_clean(&L);
	lines_delete(&L, 4);
	for (size_t i = 4; i < L.n; i++) {
		char *t = xasprintf("{\"seq\":%zu%s", i + 1, strchr(L.v[i], ','));
		free(L.v[i]);
		L.v[i] = t;
		if (is_checkpoint(L.v[i])) {
			char *c = strstr(L.v[i], "\"count\":"), *t2;
			t2 = xasprintf("%.*s\"count\":%zu%s", (int)(c - L.v[i]), L.v[i], i,
			    c + 8 + strspn(c + 8, "0123456789"));
			free(L.v[i]);
			L.v[i] = t2;
		}
	}
	rechain(&L, 4, NULL);
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 10 &&
	    strstr(R.why, "checkpoint record 10 (line 10): the signature does not verify"),
	    "a deletion hidden by renumbering and rehashing: %s", R.why);
	lines_free(&L);

	/* Checkpoint fields that do not add up. */
	load_clean(&L);
	{
		char *c = strstr(L.v[10], "\"count\":") + 8;
		c[0] = c[0] == '1' ? '2' : '1';
	}
	rechain(&L, 10, NULL);
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 11 && strstr(R.why, "count "),
	    "a checkpoint with the wrong count: %s", R.why);
	lines_free(&L);

	load_clean(&L);
	memcpy(field_hex(L.v[10], "head"), AUDIT_ZERO_HASH, 64);
	{
		char prev[65];
		snprintf(prev, sizeof(prev), "%.64s", field_hex(L.v[9], "hash"));
		seal(&L.v[10], prev);
	}
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 11 &&
	    strstr(R.why, "its head is not the hash of the record before it"),
	    "a checkpoint whose head is not its prev: %s", R.why);
	lines_free(&L);

	load_clean(&L);
	{
		char *s = strstr(L.v[10], ",\"sig\":\"");
		char *t = xasprintf("%.*s,\"prev\":\"x\"}", (int)(s - L.v[10]), L.v[10]);
		char prev[65];
		snprintf(prev, sizeof(prev), "%.64s", field_hex(L.v[9], "hash"));
		free(L.v[10]);
		L.v[10] = t;
		seal(&L.v[10], prev);
	}
	rechain(&L, 11, NULL);
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 11 && strstr(R.why, "\"sig\" is missing"),
	    "a checkpoint without sig: %s", R.why);
	lines_free(&L);

	/* A checkpoint renamed away: the chain holds, the signed part shrinks. */
	load_clean(&L);
	{
		char *e = strstr(L.v[27], "audit.checkpoint");
		memcpy(e, "audit.checkpoinx", 16);
	}
	rechain(&L, 27, NULL);
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_OK && R.checkpoints == 2 && R.last_signed_seq == 22 &&
	    strstr(R.why, "6 records after the last signed checkpoint (seq 22)"),
	    "the final checkpoint renamed: its records are unsigned: %s", R.why);
	lines_free(&L);

	/* Duplicate members, escaped member names. */
	load_clean(&L);
	{
		char *e = strstr(L.v[5], ",\"decision\"");
		char *t = xasprintf("%.*s,\"event\":\"policy.load\"%s", (int)(e - L.v[5]), L.v[5], e);
		free(L.v[5]);
		L.v[5] = t;
	}
	rechain(&L, 5, NULL);
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 6 && strstr(R.why, "a member appears twice"),
	    "a second \"event\": %s", R.why);
	lines_free(&L);
	load_clean(&L);
	{
		char *e = strstr(L.v[5], "\"event\"");
		char *t = xasprintf("%.*s\"ev\\u0065nt\"%s", (int)(e - L.v[5]), L.v[5], e + 7);
		free(L.v[5]);
		L.v[5] = t;
	}
	rechain(&L, 5, NULL);
	verify_lines(&L, NULL);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 6 && strstr(R.why, "an escaped member name"),
	    "an escaped member name: %s", R.why);
	lines_free(&L);

	EVP_PKEY_free(other);
}

static void
test_replaced_key(void)
{
	struct lines L;
	EVP_PKEY *other = new_key();
	char other_pub[65];

	begin("the whole trail re-signed by another key");
	pub_hex(other, other_pub);
	load_clean(&L);
	{
		char *d = strstr(L.v[4], "\"dst\":\"") + 7;
		d[0] = 'X';
	}
	rechain(&L, 0, other);
	verify_lines(&L, NULL);
	CHECK_VERDICT(AUDIT_OK);
	CHECK_STR(R.key, other_pub);
	CHECK_INT(R.checkpoints, 3);
	verify_lines(&L, clean_key);
	CHECK_VERDICT(AUDIT_BAD);
	CHECK_INT(R.bad_line, 11);
	CHECK_INT(R.bad_seq, 11);
	CHECK_HAS(R.why, "checkpoint record 11 (line 11): signed with key ");
	CHECK_HAS(R.why, "not the expected key ");
	CHECK_HAS(R.why, clean_key);
	CHECK_HAS(R.why, "the trail was signed (or re-signed) by someone else");
	verify_lines(&clean, other_pub);
	CHECK(R.verdict == AUDIT_BAD && R.bad_line == 11, "the original trail is not signed by the other key");
	lines_free(&L);
	EVP_PKEY_free(other);
}

static void
test_writer_lifecycle(void)
{
	struct trail_opts o = { .events = 5, .checkpoint_every = 100 };
	char k1[65], *path, *moved, *torn;
	struct werr err = { 0 };
	struct audit_config c = { 0 };
	struct audit *a;
	FILE *f;
	size_t len;

	begin("the writer's lifecycle: continued, torn and moved aside, re-keyed");
	path = write_trail(&o, k1);
	o.path = path;
	free(write_trail(&o, NULL));
	f = fopen(path, "re");
	audit_verify(f, k1, &R, &err);
	fclose(f);
	CHECK(R.verdict == AUDIT_OK && R.records == 12 && R.checkpoints == 2 && R.why[0] == '\0',
	    "a continued trail: 2 runs, 12 records, 2 checkpoints (%s)", R.why);

	/* warden killed mid-write: the writer moves the torn trail aside. */
	torn = slurp(path, &len);
	spit(path, torn, len - 40);
	c.path = path;
	{
		char key[128];
		snprintf(key, sizeof(key), "%s/key", tmpdir);
		c.key_path = key;
		c.sandbox = "t1";
		a = audit_open(&c, &err);
	}
	CHECK(a && audit_moved_aside(a), "audit_open moves a torn trail aside");
	moved = a && audit_moved_aside(a) ? xstrdup(audit_moved_aside(a)) : NULL;
	if (a) {
		struct event ev = { .type = "policy.load" };
		audit_append(a, &ev);
		audit_close(a, &err);
	}
	if (moved) {
		f = fopen(moved, "re");
		audit_verify(f, k1, &R, &err);
		fclose(f);
		CHECK(R.verdict == AUDIT_TORN && R.bad_line == 12 && R.verified == 11,
		    "the moved-aside trail is torn at line 12, 11 records verify");
		free(moved);
	}
	f = fopen(path, "re");
	audit_verify(f, k1, &R, &err);
	fclose(f);
	CHECK(R.verdict == AUDIT_OK && R.records == 2 && R.checkpoints == 1,
	    "the new trail begins at seq 1 and verifies");
	free(torn);

	/*
	 * The key changed between runs (audit.key deleted, or root and a user
	 * sharing one --audit-log): the writer refuses to continue the chain,
	 * which the verifier could not tell from a forger's checkpoint.
	 */
	{
		struct audit_config c2 = { .path = path, .sandbox = "t1" };
		char key2[128];
		struct audit *a2;

		snprintf(key2, sizeof(key2), "%s/key2", tmpdir);
		c2.key_path = key2;
		werr_clear(&err);
		a2 = audit_open(&c2, &err);
		CHECK(a2 == NULL && strstr(err.msg, "signed with another key"),
		    "the writer refuses to continue a trail under another key (%s)", err.msg);
		if (a2)
			audit_close(a2, &err);
	}
	f = fopen(path, "re");
	audit_verify(f, k1, &R, &err);
	fclose(f);
	CHECK(R.verdict == AUDIT_OK && R.records == 2, "... and the trail is left as it was");
	free(path);
}

/*
 * Write a one-record trail (and its signed checkpoint) under the key file
 * KEYNAME (in tmpdir) and verify it with OpenSSL: the public key in pub,
 * or false with err.
 */
static bool
open_with_key(const char *keyname, char pub[65], struct werr *err)
{
	char key[128], path[128];
	struct audit_config c = { .sandbox = "k" };
	struct event ev = { .type = "policy.load" };
	struct audit *a;
	FILE *f;

	snprintf(key, sizeof(key), "%s/%s", tmpdir, keyname);
	snprintf(path, sizeof(path), "%s/keys-%d.jsonl", tmpdir, trail_no++);
	c.key_path = key;
	c.path = path;
	werr_clear(err);
	if (!(a = audit_open(&c, err)))
		return false;
	snprintf(pub, 65, "%s", audit_pubkey(a));
	audit_append(a, &ev);
	audit_close(a, err);
	f = fopen(path, "re");
	audit_verify(f, pub, &R, err);
	fclose(f);
	CHECK(R.verdict == AUDIT_OK && R.records == 2 && R.checkpoints == 1,
	    "the checkpoint signed with key %s verifies (%s)", keyname, R.why);
	return true;
}

/*
 * The signing key as written (read directly, not by the PEM reader, and
 * used through nettle) and in any other PEM form (read
 * and used by OpenSSL): the same public key, checkpoints that verify.  A
 * key of another type that looks the same (X25519: 48 bytes of PKCS#8
 * too) is refused, as is garbage.
 */
static void
test_key_forms(void)
{
	char first[65], again[65], path[128], *pem, *nl;
	struct werr err = { 0 };
	size_t len;
	EVP_PKEY_CTX *c;
	EVP_PKEY *x = NULL;
	FILE *f;

	begin("the signing key's forms");
	CHECK(open_with_key("kf", first, &err), "a new key is created (%s)", err.msg);
	CHECK(open_with_key("kf", again, &err), "and read back (%s)", err.msg);
	CHECK_STR(again, first);
	snprintf(path, sizeof(path), "%s/kf", tmpdir);
	pem = slurp(path, &len);
	CHECK(len == 119 && strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0,
	    "written as one 64-digit base64 line (%zu bytes)", len);

	/* The same key with its base64 split over two lines: only the PEM reader takes it. */
	if (len == 119) {
		char two[128];
		snprintf(two, sizeof(two), "%.28s%.32s\n%s", pem, pem + 28, pem + 60);
		spit(path, two, strlen(two));
		CHECK(open_with_key("kf", again, &err), "another PEM layout is read (%s)", err.msg);
		CHECK_STR(again, first);
	}
	/* A trailing byte: not the exact form either, still a valid PEM file. */
	nl = xmalloc(len + 2);
	memcpy(nl, pem, len);
	nl[len] = '\n';
	spit(path, nl, len + 1);
	CHECK(open_with_key("kf", again, &err), "a trailing newline is read (%s)", err.msg);
	CHECK_STR(again, first);
	free(nl);
	free(pem);

	/* X25519: same length and layout, another algorithm. */
	c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	if (!c || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_keygen(c, &x) <= 0)
		abort();
	EVP_PKEY_CTX_free(c);
	snprintf(path, sizeof(path), "%s/kx", tmpdir);
	f = fopen(path, "we");
	if (!f || !PEM_write_PrivateKey(f, x, NULL, NULL, 0, NULL, NULL))
		abort();
	fclose(f);
	chmod(path, 0600);
	EVP_PKEY_free(x);
	pem = slurp(path, &len);
	CHECK(len == 119, "an X25519 key has the same layout (%zu bytes)", len);
	free(pem);
	CHECK(!open_with_key("kx", again, &err) && strstr(err.msg, "not an Ed25519 private key"),
	    "an X25519 key is refused (%s)", err.msg);

	snprintf(path, sizeof(path), "%s/kg", tmpdir);
	spit(path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 59);
	CHECK(!open_with_key("kg", again, &err) && strstr(err.msg, "not an Ed25519 private key"),
	    "garbage is refused (%s)", err.msg);
	chmod(path, 0644);
	CHECK(!open_with_key("kg", again, &err) && strstr(err.msg, "readable by others"),
	    "a key others can read is refused (%s)", err.msg);
}

/* An early flush on its own thread, records written meanwhile, ticks, the close. */
static void
test_flush_early(void)
{
	char key[128], path[128], pub[65];
	struct audit_config c = { .sandbox = "fe", .key_path = key, .path = path };
	struct werr err = { 0 };
	struct audit *a;
	FILE *f;

	begin("an early flush");
	snprintf(key, sizeof(key), "%s/key", tmpdir);
	snprintf(path, sizeof(path), "%s/early-%d.jsonl", tmpdir, trail_no++);
	a = audit_open(&c, &err);
	CHECK(a != NULL, "open (%s)", err.msg);
	if (!a)
		return;
	snprintf(pub, sizeof(pub), "%s", audit_pubkey(a));
	emit_event(a, 0, 30, &(struct trail_opts){ 0 });
	audit_flush_early(a);
	audit_flush_early(a);	/* one at a time: a second call while one runs is a no-op */
	for (unsigned i = 1; i < 20; i++)
		emit_event(a, i, 30, &(struct trail_opts){ 0 });
	audit_tick(a);
	audit_flush_early(a);
	for (unsigned i = 20; i < 30; i++)
		emit_event(a, i, 30, &(struct trail_opts){ 0 });
	CHECK(audit_failed(a) == NULL, "the trail has not failed");
	CHECK_INT(audit_close(a, &err), 0);
	f = fopen(path, "re");
	audit_verify(f, pub, &R, &err);
	fclose(f);
	CHECK(R.verdict == AUDIT_OK && R.records == 31 && R.checkpoints == 1,
	    "30 records and the final checkpoint verify (%s)", R.why);
}

static void
test_odd_bytes(void)
{
	struct audit_config c = { 0 };
	struct werr err = { 0 };
	char key[128], *path, *buf;
	struct audit *a;
	size_t len;
	struct event ev = { .type = "process.exec", .binary = "/bin/\xff\xfe-latin1-\xe9",
		.extra_json = "\"argv\":[\"a\\u0001b\",\"\\\"q\\\"\"]" };

	begin("bytes the writer passes through");
	snprintf(key, sizeof(key), "%s/key", tmpdir);
	path = xasprintf("%s/odd.jsonl", tmpdir);
	c.path = path;
	c.key_path = key;
	c.sandbox = "n\"a\\me\n";
	a = audit_open(&c, &err);
	audit_append(a, &ev);
	audit_close(a, &err);
	buf = slurp(path, &len);
	audit_verify_buffer(buf, len, NULL, &R, &err);
	CHECK(R.verdict == AUDIT_OK && R.records == 2,
	    "escapes and bytes that are not UTF-8 verify as written (%s)", R.why);
	free(buf);
	free(path);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Where line i (0-based) of buf begins. */
static size_t
line_at(const char *buf, size_t len, size_t i)
{
	const char *p = buf;

	while (i-- > 0)
		p = (const char *)memchr(p, '\n', len - (size_t)(p - buf)) + 1;
	return (size_t)(p - buf);
}

/* Verify the concatenation of n (pointer, length) pieces; R gets the report. */
static bool
verify_pieces(const char *k, int n, ...)
{
	va_list ap;
	size_t len = 0;
	char *b = NULL;
	struct werr err = { 0 };
	bool same;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *p = va_arg(ap, const char *);
		size_t l = va_arg(ap, size_t);
		b = xrealloc(b, len + l + 1);
		memcpy(b + len, p, l);
		len += l;
	}
	va_end(ap);
	audit_verify_buffer(b, len, k, &R, &err);
	same = same_split(b, len, k);
	free(b);
	return same;
}

/*
 * Tampering deep in a large trail, where the records lie across many
 * chunks and batches: one thread and two must agree on every report.
 * (Spliced as bytes: a line array of 100k records is slow under ASan.)
 */
static void
test_large_tampered(const char *buf, size_t len, const char *k)
{
	size_t n = 0, a, a1, a2, b, l2;
	struct werr err = { 0 };
	char *b2;
	bool same;

	for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))); p++)
		n++;

	/* A record deleted: the rest of the file is searched for it. */
	a = line_at(buf, len, n / 3);
	a1 = line_at(buf, len, n / 3 + 1);
	same = verify_pieces(k, 2, buf, a, buf + a1, len - a1);
	CHECK(same && R.verdict == AUDIT_BAD && R.bad_line == n / 3 + 1,
	    "a deleted record: line %llu, one thread and two agree", (unsigned long long)R.bad_line);
	/* ... and put back further on: found there, in a later batch. */
	b = line_at(buf, len, n - 10);
	same = verify_pieces(k, 4, buf, a, buf + a1, b - a1, buf + a, a1 - a, buf + b, len - b);
	CHECK(same && strstr(R.why, "records were reordered"),
	    "a record moved: %s, one thread and two agree", R.why);

	/* Two records swapped. */
	a = line_at(buf, len, n / 2);
	a1 = line_at(buf, len, n / 2 + 1);
	a2 = line_at(buf, len, n / 2 + 2);
	same = verify_pieces(k, 4, buf, a, buf + a1, a2 - a1, buf + a, a1 - a, buf + a2, len - a2);
	CHECK(same && R.verdict == AUDIT_BAD && R.bad_line == n / 2 + 1,
	    "swapped records: line %llu, one thread and two agree", (unsigned long long)R.bad_line);

	/* A record duplicated, and an empty line, near the end of a batch. */
	a = line_at(buf, len, 2046);
	a1 = line_at(buf, len, 2047);
	same = verify_pieces(k, 3, buf, a1, buf + a, a1 - a, buf + a1, len - a1);
	CHECK(same && strstr(R.why, "a record was duplicated"),
	    "a duplicate: %s, one thread and two agree", R.why);
	a = line_at(buf, len, 4095);
	same = verify_pieces(k, 3, buf, a, "\n", (size_t)1, buf + a, len - a);
	CHECK(same && R.verdict == AUDIT_BAD && R.bad_line == 4096,
	    "an empty line: line %llu, one thread and two agree", (unsigned long long)R.bad_line);

	/* Edits of each kind late in the trail; a torn end. */
	b2 = xmalloc(len);
	for (size_t i = 0; i < 6; i++) {
		static const size_t at[] = { 1, 7, 30, 120, 500, 600 };
		const char *p = memchr(buf + len - len / 7, '\n', len / 7);
		size_t off = (size_t)(p + 1 - buf) + at[i];

		memcpy(b2, buf, len);
		b2[off] ^= i == 0 ? 0x7 : 1;
		audit_verify_buffer(b2, len, k, &R, &err);
		CHECK(R.verdict == AUDIT_BAD && same_split(b2, len, k),
		    "a byte flipped at offset %zu of a record: %s, one thread and two agree",
		    at[i], R.why);
	}
	l2 = len - 200;
	memcpy(b2, buf, l2);
	audit_verify_buffer(b2, l2, k, &R, &err);
	CHECK(R.verdict == AUDIT_TORN && same_split(b2, l2, k),
	    "a torn end: one thread and two agree");
	free(b2);
}

static void
test_large(void)
{
	struct trail_opts o = { .events = 100000, .checkpoint_every = 1000,
		.end_with_stop = true };
	struct werr err = { 0 };
	char k[65], *path, *buf;
	size_t len;
	double t0, t1, best = 1e9;
	struct audit_report r2;
	FILE *f;

	begin("100k records");
	path = write_trail(&o, k);
	buf = slurp(path, &len);
	for (int i = 0; i < 3; i++) {
		t0 = now_s();
		audit_verify_buffer(buf, len, k, &R, &err);
		t1 = now_s();
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	CHECK(R.verdict == AUDIT_OK && R.records == 100100 && R.checkpoints == 100 &&
	    R.why[0] == '\0', "100,100 records (100 checkpoints) verify");
	printf("# verified %llu records (%zu bytes, %zu bytes/record) in %.3f s: %.0f records/s, "
	    "%.0f MB/s\n", (unsigned long long)R.records, len, len / (size_t)R.records, best,
	    (double)R.records / best, (double)len / best / 1e6);
	f = fopen(path, "re");
	t0 = now_s();
	audit_verify(f, k, &r2, &err);
	t1 = now_s();
	fclose(f);
	printf("# from the file: %.3f s, %.0f records/s\n", t1 - t0, (double)r2.records / (t1 - t0));
	CHECK(memcmp(&R, &r2, sizeof(R)) == 0, "reading the file in chunks gives the same report");

	/* A flipped byte deep in the file, found across chunk boundaries. */
	buf[len / 2 + 100] ^= 1;
	f = fmemopen(buf, len, "r");
	audit_verify(f, k, &r2, &err);
	fclose(f);
	audit_verify_buffer(buf, len, k, &R, &err);
	CHECK(R.verdict == AUDIT_BAD && memcmp(&R, &r2, sizeof(R)) == 0 && R.bad_line > 40000,
	    "an edit in the middle: line %llu, the same from a FILE", (unsigned long long)R.bad_line);
	CHECK(same_split(buf, len, k), "... and on one thread and two");
	buf[len / 2 + 100] ^= 1;
	test_large_tampered(buf, len, k);
	free(buf);
	free(path);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-audit-verify.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(rm_tmpdir);
	test_clean();
	test_flips();
	test_lines();
	test_truncation();
	test_forgery();
	test_replaced_key();
	test_writer_lifecycle();
	test_key_forms();
	test_flush_early();
	test_odd_bytes();
	test_large();
	lines_free(&clean);
	free(clean_path);

	printf("1..%d\n", n_pass + n_fail);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
