/*
 * The audit writer (see audit.h for the record format).
 *
 * Every record is written with one write(2) as soon as it is formed, so a
 * failure (disk full, permission, I/O error) is known before the caller
 * acts on the decision the record describes.  Durability is the fsync
 * policy's business: "always" fsyncs each record before returning;
 * "batch" fsyncs when batch_ms have passed since the oldest unsynced
 * record (checked on every append and every tick), so a crash of the
 * machine loses at most that window, and a crash of warden alone loses
 * nothing that was written.
 *
 * The signing key is the host user's, kept 0600 outside every sandbox; a
 * checkpoint signs the chain head, so a verifier holding the public key can
 * tell a trail warden wrote from one rebuilt by someone who recomputed every
 * hash.
 *
 * Signing happens at least once per run (the final checkpoint), so its
 * set-up is part of every start.  Through OpenSSL it is loading the
 * library (src/lib/ossl_lazy.c) and its initialisation (configuration,
 * providers, the algorithm name tables: ~1 ms of CPU for one key object);
 * nettle's Ed25519 is two plain functions, linked statically (a dlopen()
 * of libhogweed with libnettle and libgmp cost ~0.4 ms).  A key file not
 * in the form warden writes goes through OpenSSL's PEM reader and is used
 * through OpenSSL.  Both produce the same RFC 8032 signatures (Ed25519 is
 * deterministic), which `warden audit verify` checks with OpenSSL.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/base64.h>
#include <nettle/eddsa.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/hash.h"
#include "../lib/util.h"

#define RECORD_MAX (256 * 1024)

struct audit {
	int fd;
	char *path;
	char *sandbox;
	enum audit_fsync fsync;
	uint64_t batch_ns, checkpoint_ns;
	unsigned checkpoint_records;
	uint64_t seq;			/* of the last record written */
	char prev[SHA256_HEX_LEN + 1];	/* hash of the last record */
	uint64_t unsynced_since;	/* ns; 0 = all synced */
	uint64_t last_checkpoint;	/* ns */
	unsigned since_checkpoint;	/* records */
	EVP_PKEY *key;			/* signing through OpenSSL, or */
	unsigned char raw[32], rawpub[32];	/* ... through nettle (key == NULL) */
	char pub[65];
	const char *failed;
	char failbuf[256];
	struct sbuf rec;
	char moved[PATH_MAX + 32];	/* where a torn trail was moved, or "" */
	/*
	 * The background flush (audit_flush_early, batch flushes): started
	 * until joined; done, and its errno.  One at a time.
	 */
	pthread_t early;
	bool early_running;
	bool early_done;		/* set by the thread (atomic) */
	int early_errno;
};

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool
looks_secret(const char *a)
{
	static const char *const words[] = { "authorization", "bearer", "token", "secret",
		"password", "passwd", "api_key", "apikey", "api-key", "private", "credential",
		"cookie", "session", "x-api" };

	for (size_t w = 0; w < ARRAY_SIZE(words); w++)
		if (strcasestr(a, words[w]))
			return true;
	return false;
}

/* Options whose next argument is a credential (curl, wget, mysql, git, ...). */
static bool
secret_option(const char *prev)
{
	static const char *const opts[] = { "-u", "--user", "-p", "--password", "--pass",
		"--proxy-user", "-U", "--oauth2-bearer", "--http-password", "--ftp-password",
		"-H", "--header", "--cookie", "-b" };

	if (!prev)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if (strcmp(prev, opts[i]) == 0)
			return true;
	return false;
}

void
audit_add_arg(struct sbuf *b, const char *arg, const char *prev)
{
	char cut[AUDIT_ARG_MAX + 1];
	const char *scheme;

	if (!arg) {
		sbuf_adds(b, "null");
		return;
	}
	if (looks_secret(arg) || secret_option(prev)) {
		sbuf_add_json(b, "[redacted]");
		return;
	}
	snprintf(cut, sizeof(cut), "%s", arg);
	/* URLs: user information and query values can carry credentials. */
	if ((scheme = strstr(cut, "://"))) {
		char out[AUDIT_ARG_MAX + 32];
		size_t pre = (size_t)(scheme + 3 - cut);
		const char *rest = scheme + 3, *at = strchr(rest, '@'), *end = strpbrk(rest, "/?#");
		char *qm;

		if (at && (!end || at < end))
			snprintf(out, sizeof(out), "%.*s[redacted]@%s", (int)pre, cut, at + 1);
		else
			snprintf(out, sizeof(out), "%s", cut);
		if ((qm = strchr(out + pre, '?')))
			snprintf(qm, sizeof(out) - (size_t)(qm - out), "?[redacted]");
		sbuf_add_json(b, out);
		return;
	}
	sbuf_add_json(b, cut);
}

void
audit_add_argv(struct sbuf *b, char *const *argv)
{
	size_t i;

	sbuf_adds(b, "[");
	for (i = 0; argv && argv[i] && i < AUDIT_ARGS_MAX; i++) {
		if (i)
			sbuf_adds(b, ",");
		audit_add_arg(b, argv[i], i ? argv[i - 1] : NULL);
	}
	if (argv && argv[i])
		sbuf_adds(b, ",\"...\"");
	sbuf_adds(b, "]");
}

int
audit_default_dir(char *out, size_t n, struct werr *err)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (geteuid() == 0)
		snprintf(out, n, "/var/lib/warden");
	else if (x && x[0] == '/')
		snprintf(out, n, "%s/warden", x);
	else if (home && home[0] == '/')
		snprintf(out, n, "%s/.local/state/warden", home);
	else
		return werr_set(err, "cannot place the audit trail: set XDG_STATE_HOME or HOME, "
		    "or pass --audit-log");
	return 0;
}

/*
 * Base64 (no line breaks) into out; the decoded length, or -1 when the
 * text is not base64 or does not fit.  nettle's decoder, so that reading
 * the key needs no OpenSSL (loaded only when something needs it).
 */
static ssize_t
decode64(unsigned char *out, size_t max, const char *text, size_t len)
{
	struct base64_decode_ctx c;
	size_t n = max;

	if (BASE64_DECODE_LENGTH(len) > max)
		return -1;
	base64_decode_init(&c);
	if (!base64_decode_update(&c, &n, out, len, text) || !base64_decode_final(&c))
		return -1;
	return (ssize_t)n;
}

/*
 * The key exactly as this file writes it (PEM_write_PrivateKey of an
 * Ed25519 key): PKCS#8 with no attributes, 48 bytes of DER whose last 32
 * are the private key, in one base64 line.  Read directly into a->raw
 * (OpenSSL's PEM reader would build its decoder chains for every key
 * format first, ~0.5 ms of every start).  false for anything else: the
 * caller then asks the PEM reader, which knows every format.  No copy of
 * the secret is left but a->raw.
 */
static bool
read_own_key(FILE *f, struct audit *a)
{
	static const char begin[] = "-----BEGIN PRIVATE KEY-----\n",
	    end[] = "\n-----END PRIVATE KEY-----\n";
	static const unsigned char prefix[16] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05,
		0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };
	char text[sizeof(begin) - 1 + 64 + sizeof(end)];
	unsigned char der[48 + 3];
	bool ok = false;
	size_t n = fread(text, 1, sizeof(text), f);

	/* 48 bytes are 64 base64 digits without padding: decoding yields exactly 48. */
	if (n == sizeof(text) - 1 && memcmp(text, begin, sizeof(begin) - 1) == 0 &&
	    memcmp(text + sizeof(begin) - 1 + 64, end, sizeof(end) - 1) == 0 &&
	    decode64(der, sizeof(der), text + sizeof(begin) - 1, 64) == 48 &&
	    memcmp(der, prefix, sizeof(prefix)) == 0) {
		memcpy(a->raw, der + 16, 32);
		ok = true;
	}
	explicit_bzero(text, sizeof(text));
	explicit_bzero(der, sizeof(der));
	return ok;
}

/*
 * Before OpenSSL's first use in this file: no exit handler (freeing its
 * tables costs ~0.2 ms at every exit, for memory the exit returns anyway).
 */
static void
openssl_start(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}

/* A key read by read_own_key, ready to sign with nettle (a->key stays NULL). */
static void
use_raw_key(struct audit *a)
{
	ed25519_sha512_public_key(a->rawpub, a->raw);
}

/*
 * Load the signing key into a (a->raw for nettle, or a->key), or create it
 * (0600) on first use.  0, or -1 with err.
 */
static int
load_key(struct audit *a, const char *path, struct werr *err)
{
	EVP_PKEY *k = NULL;
	FILE *f = fopen(path, "re");

	if (f) {
		struct stat st;
		if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
			fclose(f);
			werr_set(err, "audit key %s is readable by others (mode %03o); "
			    "it must be 0600", path, (unsigned)(st.st_mode & 0777));
			return -1;
		}
		if (read_own_key(f, a)) {
			fclose(f);
			use_raw_key(a);
			return 0;
		}
		rewind(f);
		openssl_start();
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (!k || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
			EVP_PKEY_free(k);
			return werr_set(err, "audit key %s is not an Ed25519 private key", path);
		}
		a->key = k;
		return 0;
	}
	if (errno != ENOENT)
		return werr_sys(err, "open audit key %s", path);
	{
		EVP_PKEY_CTX *c;
		int fd;

		openssl_start();
		c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
		if (!c || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_keygen(c, &k) <= 0) {
			EVP_PKEY_CTX_free(c);
			return werr_set(err, "cannot generate the audit key");
		}
		EVP_PKEY_CTX_free(c);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || !(f = fdopen(fd, "w"))) {
			werr_sys(err, "create audit key %s", path);
			if (fd >= 0)
				close(fd);
			EVP_PKEY_free(k);
			return -1;
		}
		if (!PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) || fflush(f) != 0 ||
		    fsync(fileno(f)) < 0) {
			werr_sys(err, "write audit key %s", path);
			fclose(f);
			unlink(path);
			EVP_PKEY_free(k);
			return -1;
		}
		fclose(f);
	}
	a->key = k;
	return 0;
}

/*
 * Continue an existing trail: the last line gives seq and prev.  A trail
 * whose last line is torn (a crash mid-write) is not appended to: it is
 * moved aside whole, as evidence, and *moved_aside says where.
 */
static int
resume(struct audit *a, char *moved_aside, size_t mlen, struct werr *err)
{
	struct stat st;
	off_t end, start;
	char *buf;
	ssize_t n;

	moved_aside[0] = '\0';
	if (fstat(a->fd, &st) < 0)
		return werr_sys(err, "stat %s", a->path);
	snprintf(a->prev, sizeof(a->prev), "%s", AUDIT_ZERO_HASH);
	if (st.st_size == 0)
		return 0;
	end = st.st_size;
	start = end > RECORD_MAX ? end - RECORD_MAX : 0;
	buf = xmalloc(RECORD_MAX + 1);
	n = pread(a->fd, buf, (size_t)(end - start), start);
	if (n <= 0) {
		free(buf);
		return werr_sys(err, "read %s", a->path);
	}
	buf[n] = '\0';
	if (buf[n - 1] != '\n') {
		int fd;
		snprintf(moved_aside, mlen, "%s.%lld.torn", a->path, (long long)time(NULL));
		free(buf);
		if (rename(a->path, moved_aside) < 0)
			return werr_sys(err, "move the torn trail %s aside", a->path);
		fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		if (fd < 0)
			return werr_sys(err, "open audit trail %s", a->path);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			return werr_sys(err, "lock %s", a->path);
		}
		close(a->fd);
		a->fd = fd;
		return 0;
	}
	buf[n - 1] = '\0';
	/* A chain continues under one key only: the verifier requires it. */
	{
		const char *k = NULL;
		for (const char *q = buf; (q = strstr(q, "\"event\":\"audit.checkpoint\"")); q++)
			k = q;
		if (k && (k = strstr(k, ",\"key\":\"")) && strncmp(k + 8, a->pub, 64) != 0) {
			free(buf);
			return werr_set(err, "%s was signed with another key than %s; move it away "
			    "or pass another --audit-log", a->path, "this user's audit.key");
		}
	}
	{
		char *line = strrchr(buf, '\n');
		const char *h, *s;
		line = line ? line + 1 : buf;
		h = strstr(line, ",\"hash\":\"");
		s = strncmp(line, "{\"seq\":", 7) == 0 ? line : NULL;
		if (!h || !s || strlen(h + 9) < SHA256_HEX_LEN + 2) {
			free(buf);
			return werr_set(err, "%s does not end with an audit record; move it away "
			    "or pass another --audit-log", a->path);
		}
		memcpy(a->prev, h + 9, SHA256_HEX_LEN);
		a->prev[SHA256_HEX_LEN] = '\0';
		a->seq = strtoull(s + 7, NULL, 10);
	}
	free(buf);
	return 0;
}

struct audit *
audit_open(const struct audit_config *c, struct werr *err)
{
	struct audit *a = xcalloc(1, sizeof(*a));
	char dir[PATH_MAX];
	unsigned char raw[32];
	size_t rl = sizeof(raw);

	a->fd = -1;
	a->path = xstrdup(c->path);
	a->sandbox = xstrdup(c->sandbox ? c->sandbox : "");
	a->fsync = c->fsync;
	a->batch_ns = (uint64_t)(c->batch_ms ? c->batch_ms : 200) * 1000000u;
	a->checkpoint_ns = (uint64_t)(c->checkpoint_ms ? c->checkpoint_ms : 10000) * 1000000u;
	a->checkpoint_records = c->checkpoint_records ? c->checkpoint_records : 1000;
	sbuf_init(&a->rec, RECORD_MAX);
	snprintf(dir, sizeof(dir), "%s", c->path);
	if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		if (mkdir_p(dir, 0700, err) < 0)
			goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", c->key_path);
	if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		if (mkdir_p(dir, 0700, err) < 0)
			goto fail;
	}
	if (load_key(a, c->key_path, err) < 0)
		goto fail;
	if (!a->key)
		memcpy(raw, a->rawpub, 32);
	else if (EVP_PKEY_get_raw_public_key(a->key, raw, &rl) <= 0 || rl != 32) {
		werr_set(err, "cannot read the audit public key");
		goto fail;
	}
	hex(raw, 32, a->pub);
	a->fd = open(c->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		werr_sys(err, "open audit trail %s", c->path);
		goto fail;
	}
	/* One writer per trail: two chains interleaved in one file could never verify. */
	if (flock(a->fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			werr_set(err, "%s is being written by another running sandbox; "
			    "give this one its own --audit-log", c->path);
		else
			werr_sys(err, "lock %s", c->path);
		goto fail;
	}
	if (resume(a, a->moved, sizeof(a->moved), err) < 0)
		goto fail;
	a->last_checkpoint = now_ns();
	return a;
fail:
	werr_prefix(err, "audit");
	if (a->fd >= 0)
		close(a->fd);
	if (a->key)
		EVP_PKEY_free(a->key);
	explicit_bzero(a->raw, sizeof(a->raw));
	sbuf_free(&a->rec);
	free(a->path);
	free(a->sandbox);
	free(a);
	return NULL;
}

static void
fail(struct audit *a, const char *what, int e)
{
	if (a->failed)
		return;
	snprintf(a->failbuf, sizeof(a->failbuf), "the audit trail cannot be written (%s: %s)",
	    what, strerror(e));
	a->failed = a->failbuf;
}

/* v as exactly w decimal digits (leading zeros), at p. */
static void
digits(char *p, unsigned long v, int w)
{
	while (w-- > 0) {
		p[w] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * The record's time, "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", appended to b.
 * Every record has one, so it is laid out by hand, not by printf.
 */
static void
add_rfc3339(struct sbuf *b)
{
	char t[30] = "0000-00-00T00:00:00.000000000Z";
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	utc_tm(ts.tv_sec, &tm);
	digits(t, (unsigned long)(tm.tm_year + 1900) % 10000, 4);
	digits(t + 5, (unsigned long)tm.tm_mon + 1, 2);
	digits(t + 8, (unsigned long)tm.tm_mday, 2);
	digits(t + 11, (unsigned long)tm.tm_hour, 2);
	digits(t + 14, (unsigned long)tm.tm_min, 2);
	digits(t + 17, (unsigned long)tm.tm_sec, 2);
	digits(t + 20, (unsigned long)ts.tv_nsec, 9);
	sbuf_add(b, t, sizeof(t));
}

/* ,"k": (k is a member name of this file's, never escaped). */
static void
add_key(struct sbuf *b, const char *k)
{
	sbuf_add(b, ",\"", 2);
	sbuf_adds(b, k);
	sbuf_add(b, "\":", 2);
}

static void
str_field(struct sbuf *b, const char *k, const char *v)
{
	if (!v)
		return;
	add_key(b, k);
	sbuf_add_json(b, v);
}

static void
uint_field(struct sbuf *b, const char *k, uint64_t v)
{
	add_key(b, k);
	sbuf_add_uint(b, v);
}

/* pids are printed as signed, as before (a negative one is never recorded). */
static void
int_field(struct sbuf *b, const char *k, long v)
{
	add_key(b, k);
	if (v < 0) {
		sbuf_add(b, "-", 1);
		sbuf_add_uint(b, (uint64_t)-(v + 1) + 1);
	} else {
		sbuf_add_uint(b, (uint64_t)v);
	}
}

static void batch_flush(struct audit *a);

/* Form, hash, write (and maybe fsync) one record; extra is rendered JSON members. */
static int
write_record(struct audit *a, const struct event *ev, const char *extra)
{
	struct sbuf *b = &a->rec;
	char h[SHA256_HEX_LEN + 1];

	if (a->failed)
		return -1;
	b->len = 0;
	b->overflow = false;
	sbuf_adds(b, "{\"seq\":");
	sbuf_add_uint(b, a->seq + 1);
	sbuf_adds(b, ",\"time\":\"");
	add_rfc3339(b);
	sbuf_adds(b, "\"");
	str_field(b, "sandbox", a->sandbox);
	str_field(b, "policy_hash", ev->policy_hash);
	str_field(b, "event", ev->type);
	str_field(b, "decision", ev->decision);
	str_field(b, "rule", ev->rule);
	str_field(b, "reason", ev->reason);
	if (ev->revision)
		uint_field(b, "policy_revision", ev->revision);
	str_field(b, "verb", ev->verb);
	str_field(b, "binary", ev->binary);
	str_field(b, "binary_sha256", ev->binary_sha256);
	if (ev->pid)
		int_field(b, "pid", ev->pid);
	if (ev->ppid)
		int_field(b, "ppid", ev->ppid);
	str_field(b, "dst", ev->dst);
	if (ev->port)
		uint_field(b, "port", ev->port);
	str_field(b, "addr", ev->addr);
	str_field(b, "method", ev->method);
	str_field(b, "path", ev->path);
	if (ev->extra_json && ev->extra_json[0]) {
		sbuf_adds(b, ",");
		sbuf_adds(b, ev->extra_json);
	}
	if (extra) {
		sbuf_adds(b, ",");
		sbuf_adds(b, extra);
	}
	sbuf_adds(b, ",\"prev\":\"");
	sbuf_adds(b, a->prev);
	sbuf_adds(b, "\"");
	if (b->overflow) {
		fail(a, "record too large", EMSGSIZE);
		return -1;
	}
	/* The hash covers the record as if it ended here. */
	sbuf_adds(b, "}");
	sha256_hex(b->p, b->len, h);
	b->len--;
	sbuf_adds(b, ",\"hash\":\"");
	sbuf_adds(b, h);
	sbuf_adds(b, "\"}\n");
	if (b->overflow) {
		fail(a, "record too large", EMSGSIZE);
		return -1;
	}
	{
		ssize_t n = write(a->fd, b->p, b->len);
		if (n != (ssize_t)b->len) {
			int e = n < 0 ? errno : ENOSPC;
			/* A partial record is a torn line: the verifier reports it as such. */
			fail(a, "write", e);
			return -1;
		}
	}
	a->seq++;
	memcpy(a->prev, h, sizeof(h));
	a->since_checkpoint++;
	if (a->fsync == AUDIT_FSYNC_ALWAYS) {
		if (fdatasync(a->fd) < 0) {
			fail(a, "fsync", errno);
			return -1;
		}
	} else {
		uint64_t now = now_ns();
		if (!a->unsynced_since)
			a->unsynced_since = now;
		else if (now - a->unsynced_since >= a->batch_ns)
			batch_flush(a);
	}
	return a->failed ? -1 : 0;
}

static int
checkpoint(struct audit *a)
{
	EVP_MD_CTX *m;
	unsigned char sig[64];
	size_t sl = sizeof(sig);
	char msg[256], sighex[129], extra[512];
	struct event ev = { .type = "audit.checkpoint" };
	int r;

	if (a->failed)
		return -1;
	snprintf(msg, sizeof(msg), "%s%llu\n%s\n", AUDIT_SIG_DOMAIN,
	    (unsigned long long)(a->seq + 1), a->prev);
	if (!a->key) {
		ed25519_sha512_sign(a->rawpub, a->raw, strlen(msg), (const uint8_t *)msg, sig);
	} else {
		m = EVP_MD_CTX_new();
		if (!m || EVP_DigestSignInit(m, NULL, NULL, NULL, a->key) <= 0 ||
		    EVP_DigestSign(m, sig, &sl, (const unsigned char *)msg, strlen(msg)) <= 0) {
			EVP_MD_CTX_free(m);
			fail(a, "sign checkpoint", EINVAL);
			return -1;
		}
		EVP_MD_CTX_free(m);
	}
	hex(sig, sl, sighex);
	snprintf(extra, sizeof(extra), "\"head\":\"%s\",\"count\":%llu,\"key\":\"%s\",\"sig\":\"%s\"",
	    a->prev, (unsigned long long)a->seq, a->pub, sighex);
	r = write_record(a, &ev, extra);
	a->since_checkpoint = 0;
	a->last_checkpoint = now_ns();
	return r;
}

static void *
early_flush(void *arg)
{
	struct audit *a = arg;

	a->early_errno = fdatasync(a->fd) < 0 ? errno : 0;
	__atomic_store_n(&a->early_done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Start the background flush; false when one is running or none could start. */
static bool
flush_start(struct audit *a)
{
	if (a->early_running)
		return false;
	a->early_errno = 0;
	a->early_done = false;
	a->early_running = pthread_create(&a->early, NULL, early_flush, a) == 0;
	return a->early_running;
}

void
audit_flush_early(struct audit *a)
{
	if (a->failed || a->fsync == AUDIT_FSYNC_ALWAYS)
		return;
	flush_start(a);
}

/*
 * Join the background flush, if any (waiting for it with wait, else only
 * once it is done); its failure fails the trail.
 */
static void
early_join(struct audit *a, bool wait)
{
	if (!a->early_running || (!wait && !__atomic_load_n(&a->early_done, __ATOMIC_ACQUIRE)))
		return;
	pthread_join(a->early, NULL);
	a->early_running = false;
	if (a->early_errno)
		fail(a, "fsync", a->early_errno);
}

/*
 * The batch window has passed: flush what is written, on the background
 * flush's thread, so the event loop writing records (the proxy's, on every
 * decision) never waits for the disk -- an fdatasync there took 0.3-1 ms
 * and showed in every request's p99.  Records written meanwhile open the
 * next window.  With a flush still running the next record or tick tries
 * again; a flush that fails fails the trail when it is joined (the next
 * tick at the latest).  Without a thread the flush happens here.
 */
static void
batch_flush(struct audit *a)
{
	early_join(a, false);
	if (a->failed || a->early_running)
		return;
	a->unsynced_since = 0;
	if (!flush_start(a) && fdatasync(a->fd) < 0)
		fail(a, "fsync", errno);
}

int
audit_append(struct audit *a, const struct event *ev)
{
	if (write_record(a, ev, NULL) < 0)
		return -1;
	if (a->since_checkpoint >= a->checkpoint_records)
		return checkpoint(a);
	return 0;
}

const char *
audit_failed(const struct audit *a)
{
	return a->failed;
}

const char *
audit_pubkey(const struct audit *a)
{
	return a->pub;
}

void
audit_tick(struct audit *a)
{
	uint64_t now = now_ns();

	early_join(a, false);
	if (a->failed)
		return;
	if (a->since_checkpoint && now - a->last_checkpoint >= a->checkpoint_ns)
		checkpoint(a);
	if (a->unsynced_since && now - a->unsynced_since >= a->batch_ns)
		batch_flush(a);
}

int
audit_close(struct audit *a, struct werr *err)
{
	int r = 0;

	if (!a)
		return 0;
	early_join(a, true);
	if (a->since_checkpoint && checkpoint(a) < 0)
		r = -1;
	if (!a->failed && fsync(a->fd) < 0)
		fail(a, "fsync", errno);
	if (a->failed) {
		werr_set(err, "%s", a->failed);
		r = -1;
	}
	close(a->fd);
	if (a->key)
		EVP_PKEY_free(a->key);
	explicit_bzero(a->raw, sizeof(a->raw));
	sbuf_free(&a->rec);
	free(a->path);
	free(a->sandbox);
	free(a);
	return r;
}

const char *
audit_moved_aside(const struct audit *a)
{
	return a->moved[0] ? a->moved : NULL;
}
