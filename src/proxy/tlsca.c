/*
 * The per-sandbox CA, the leaves it issues and the proxy's two TLS
 * contexts.  The contract, the validity choices and the bounds are in
 * tlsca.h; this file explains the mechanics.
 *
 * Certificates are built with the X509 API directly.  The subjectAltName
 * is assembled as a GENERAL_NAME, never through OpenSSL's configuration
 * string syntax, so a host name can never smuggle in a second name
 * ("a.test,DNS:b.test") -- host names are also restricted to the bytes a
 * DNS name may hold before they get here.
 *
 * The SNI check runs in the ClientHello callback, on the raw extension:
 * it sees every ClientHello (also the second one after a HelloRetryRequest)
 * before OpenSSL decides on resumption, whereas SSL_get_servername() on a
 * resumed TLS 1.2 session reports the session's old name instead of the
 * one just sent.
 */
#include "tlsca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../lib/util.h"

#define HOUR			3600
#define DAY			(24 * HOUR)
#define CA_LIFETIME		(30 * DAY)
#define LEAF_LIFETIME		(7 * DAY)
#define BACKDATE		HOUR	/* tolerated clock lag of the sandbox */
#define LEAF_RENEW		HOUR	/* re-issue a cached leaf this close to its end */
#define CACHE_MAX		1024	/* leaves, and client sessions */
#define CACHE_BUCKETS		2048	/* power of two, twice CACHE_MAX */
#define HOST_MAX		253	/* a DNS name's longest text form */
#define CN_MAX			64	/* ub-common-name (RFC 5280) */
#define SNI_MAX			255	/* longest host_name OpenSSL accepts */
#define SERIAL_LEN		16
#define SERVER_SESSIONS		1024	/* server-side session cache (TLS 1.2 ids) */
#define SESSION_TIMEOUT		HOUR
#define TRUST_FILE_MAX		(64u << 20)

/* ---- a bounded map with least-recently-used eviction ---------------------- */

/*
 * Chained hash buckets plus a recency list.  The hash is FNV-1a with a
 * random per-map seed: names come from the agent, and a fixed hash would
 * let it line every name up in one bucket.  The bound keeps even that
 * case to CACHE_MAX string compares.
 */
struct lru_ent {
	struct lru_ent *hnext;		/* bucket chain */
	struct lru_ent *prev, *next;	/* recency list, most recent first */
	void *val;			/* owned, released with lru.free_val */
	time_t expires;
	uint64_t hash;
	char key[];
};

struct lru {
	struct lru_ent *bucket[CACHE_BUCKETS];
	struct lru_ent *first, *last;
	size_t n;
	uint64_t seed;
	void (*free_val)(void *);
};

static uint64_t
lru_hash(const struct lru *l, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull ^ l->seed;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ull;
	}
	/* Fold the high bits in: only the low ones pick the bucket. */
	return h ^ (h >> 29) ^ (h >> 47);
}

static void
lru_unlink(struct lru *l, struct lru_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->first = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->last = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push_front(struct lru *l, struct lru_ent *e)
{
	e->prev = NULL;
	e->next = l->first;
	if (l->first)
		l->first->prev = e;
	else
		l->last = e;
	l->first = e;
}

static struct lru_ent *
lru_find(const struct lru *l, const char *key)
{
	uint64_t h = lru_hash(l, key);

	for (struct lru_ent *e = l->bucket[h & (CACHE_BUCKETS - 1)]; e; e = e->hnext)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void
lru_touch(struct lru *l, struct lru_ent *e)
{
	lru_unlink(l, e);
	lru_push_front(l, e);
}

/* Detach e from the map; its value is returned to the caller, not freed. */
static void *
lru_detach(struct lru *l, struct lru_ent *e)
{
	struct lru_ent **pp = &l->bucket[e->hash & (CACHE_BUCKETS - 1)];
	void *val = e->val;

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(l, e);
	l->n--;
	free(e);
	return val;
}

static void
lru_remove(struct lru *l, struct lru_ent *e)
{
	l->free_val(lru_detach(l, e));
}

/* Insert key (which must not be present), evicting the least recent entry when full. */
static void
lru_insert(struct lru *l, const char *key, void *val, time_t expires)
{
	size_t klen = strlen(key);
	struct lru_ent *e;

	if (l->n >= CACHE_MAX)
		lru_remove(l, l->last);
	e = xcalloc(1, sizeof(*e) + klen + 1);
	memcpy(e->key, key, klen + 1);
	e->val = val;
	e->expires = expires;
	e->hash = lru_hash(l, key);
	e->hnext = l->bucket[e->hash & (CACHE_BUCKETS - 1)];
	l->bucket[e->hash & (CACHE_BUCKETS - 1)] = e;
	lru_push_front(l, e);
	l->n++;
}

static int
lru_init(struct lru *l, void (*free_val)(void *))
{
	memset(l, 0, sizeof(*l));
	l->free_val = free_val;
	return RAND_bytes((unsigned char *)&l->seed, sizeof(l->seed)) == 1 ? 0 : -1;
}

static void
lru_clear(struct lru *l)
{
	while (l->first)
		lru_remove(l, l->first);
}

static void
free_x509(void *p)
{
	X509_free(p);
}

static void
free_session(void *p)
{
	SSL_SESSION_free(p);
}

/* ---- the module's state --------------------------------------------------- */

struct tlsca {
	EVP_PKEY *ca_key;		/* in memory only: see tlsca.h */
	X509 *ca_cert;
	EVP_PKEY *leaf_key;		/* shared by every leaf */
	STACK_OF(X509) *chain;		/* the CA, sent after each leaf */
	time_t ca_not_after;
	char *ca_pem;
	size_t ca_pem_len;
	char fingerprint[2 * SHA256_DIGEST_LENGTH + 1];
	SSL_CTX *srv;			/* agent-facing */
	SSL_CTX *cli;			/* upstream-facing; app data points back here */
	struct lru leaves;		/* host -> X509 * */
	struct lru sessions;		/* host -> SSL_SESSION * (upstream) */
	unsigned long issued;
};

/* Per-SSL state, in ex_data so the OpenSSL callbacks can reach it. */
struct sslinfo {
	char host[HOST_MAX + 3];	/* canonical target; INET6_ADDRSTRLEN fits too */
	bool refused;			/* the ClientHello named another host */
	char sni[SNI_MAX + 1];		/* what it named, raw (never holds a NUL) */
};

/* Registered once per process; the module is single-threaded (tlsca.h). */
static int info_idx = -1;

static void
info_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	free(ptr);
}

static struct sslinfo *
info_get(const SSL *s)
{
	return info_idx < 0 ? NULL : SSL_get_ex_data(s, info_idx);
}

/* The first reason on the OpenSSL error queue, which is then cleared. */
static const char *
ossl_reason(void)
{
	static __thread char buf[160];
	unsigned long e = ERR_get_error();
	const char *r;

	if (e == 0)
		r = "unknown error";
	else if (ERR_SYSTEM_ERROR(e))
		r = strerror(ERR_GET_REASON(e));
	else if (!(r = ERR_reason_error_string(e)))
		r = "unknown error";
	snprintf(buf, sizeof(buf), "%s", r);
	ERR_clear_error();
	return buf;
}

static int
ossl_err(struct werr *err, const char *what)
{
	return werr_set(err, "TLS: %s: %s", what, ossl_reason());
}

/*
 * host in canonical form for certificates and cache keys: IP literals as
 * inet_ntop writes them, names lower-cased without their trailing dot.
 * Only the bytes of DNS names (and '_', which some services use) pass.
 */
static int
host_canon(const char *host, char out[HOST_MAX + 3], bool *is_ip, struct werr *err)
{
	unsigned char a[16];
	size_t n;

	if (!host || !*host)
		return werr_set(err, "TLS: no host name");
	*is_ip = true;
	if (inet_pton(AF_INET, host, a) == 1)
		return inet_ntop(AF_INET, a, out, HOST_MAX + 3) ? 0 : werr_sys(err, "TLS: %s", host);
	if (inet_pton(AF_INET6, host, a) == 1)
		return inet_ntop(AF_INET6, a, out, HOST_MAX + 3) ? 0 : werr_sys(err, "TLS: %s", host);
	*is_ip = false;
	n = strnlen(host, HOST_MAX + 2);
	if (host[n - 1] == '.')
		n--;
	if (n == 0 || n > HOST_MAX)
		return werr_set(err, "TLS: host name is not 1 to %d bytes long", HOST_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || c == '.'))
			return werr_set(err, "TLS: host name has a byte (0x%02x) a certificate "
			    "name cannot hold", c);
		out[i] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

/* ---- certificates --------------------------------------------------------- */

/* Version 3, a random positive 16-byte serial, the validity window, the key. */
static int
cert_init(X509 *x, EVP_PKEY *key, time_t not_before, time_t not_after)
{
	unsigned char raw[SERIAL_LEN];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	/* Top bit clear keeps it positive; the next bit set keeps all 16 bytes. */
	raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40);
	if (!(bn = BN_bin2bn(raw, sizeof(raw), NULL)))
		return -1;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	if (!ok || !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), not_after) ||
	    !X509_set_pubkey(x, key))
		return -1;
	return 0;
}

/* An extension in OpenSSL's configuration syntax; values are constants here. */
static int
cert_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if (!(ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)))
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int
cert_name(X509_NAME *name, const char *field, const char *value, size_t len)
{
	return X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
	    (const unsigned char *)value, (int)len, -1, 0) ? 0 : -1;
}

static int
make_ca(struct tlsca *ca, time_t now, struct werr *err)
{
	unsigned char rnd[4];
	char cn[32];
	X509_NAME *name;
	X509 *x;

	if (!(ca->ca_key = EVP_EC_gen("P-256")) || !(ca->leaf_key = EVP_EC_gen("P-256")))
		return ossl_err(err, "generate key");
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return ossl_err(err, "random bytes");
	snprintf(cn, sizeof(cn), "warden sandbox CA %02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	ca->ca_not_after = now + CA_LIFETIME;
	if (!(ca->ca_cert = x = X509_new()))
		return ossl_err(err, "new certificate");
	name = X509_get_subject_name(x);
	if (cert_init(x, ca->ca_key, now - BACKDATE, ca->ca_not_after) < 0 ||
	    cert_name(name, "O", "warden", strlen("warden")) < 0 ||
	    cert_name(name, "CN", cn, strlen(cn)) < 0 ||
	    !X509_set_issuer_name(x, name) ||
	    cert_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    cert_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    cert_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    !X509_sign(x, ca->ca_key, EVP_sha256()))
		return ossl_err(err, "build the CA certificate");
	return 0;
}

/* The CA's PEM text (kept for the files) and its fingerprint. */
static int
ca_export(struct tlsca *ca, struct werr *err)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	if (!bio || !PEM_write_bio_X509(bio, ca->ca_cert) || (n = BIO_get_mem_data(bio, &p)) <= 0) {
		BIO_free(bio);
		return ossl_err(err, "encode the CA certificate");
	}
	ca->ca_pem = xstrndup(p, (size_t)n);
	ca->ca_pem_len = (size_t)n;
	BIO_free(bio);
	if (!X509_digest(ca->ca_cert, EVP_sha256(), md, &mdlen) || mdlen != sizeof(md))
		return ossl_err(err, "fingerprint the CA certificate");
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(ca->fingerprint + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int
leaf_san(X509 *x, const char *host, bool is_ip)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_STRING *v = is_ip ? a2i_IPADDRESS(host) : ASN1_IA5STRING_new();
	int ok = 0;

	if (!gens || !gn || !v)
		goto out;
	if (!is_ip && !ASN1_STRING_set(v, host, (int)strlen(host)))
		goto out;
	GENERAL_NAME_set0_value(gn, is_ip ? GEN_IPADD : GEN_DNS, steal_pointer(&v));
	if (!sk_GENERAL_NAME_push(gens, gn))
		goto out;
	gn = NULL;
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
out:
	ASN1_STRING_free(v);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return ok ? 0 : -1;
}

/* A leaf for host (canonical), signed by the CA; NULL + err on failure. */
static X509 *
leaf_issue(struct tlsca *ca, const char *host, bool is_ip, time_t now, time_t *not_after,
    struct werr *err)
{
	time_t end = now + LEAF_LIFETIME < ca->ca_not_after ? now + LEAF_LIFETIME : ca->ca_not_after;
	size_t cnlen = strlen(host);
	X509 *x = X509_new();

	if (cnlen > CN_MAX)
		cnlen = CN_MAX;
	if (!x || cert_init(x, ca->leaf_key, now - BACKDATE, end) < 0 ||
	    cert_name(X509_get_subject_name(x), "CN", host, cnlen) < 0 ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->ca_cert)) ||
	    cert_ext(x, ca->ca_cert, NID_basic_constraints, "CA:FALSE") < 0 ||
	    cert_ext(x, ca->ca_cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    cert_ext(x, ca->ca_cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    cert_ext(x, ca->ca_cert, NID_subject_key_identifier, "hash") < 0 ||
	    cert_ext(x, ca->ca_cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    leaf_san(x, host, is_ip) < 0 ||
	    !X509_sign(x, ca->ca_key, EVP_sha256())) {
		X509_free(x);
		ossl_err(err, "issue a certificate");
		return NULL;
	}
	ca->issued++;
	*not_after = end;
	return x;
}

/*
 * The leaf for host from the cache, or a new one.  A cached leaf is good
 * while it has more than LEAF_RENEW left -- or when it already ends with
 * the CA, since a new one could not last longer.  Borrowed from the cache.
 */
static X509 *
leaf_get(struct tlsca *ca, const char *host, bool is_ip, struct werr *err)
{
	time_t now = time(NULL), end;
	struct lru_ent *e;
	X509 *x;

	if (now >= ca->ca_not_after) {
		werr_set(err, "TLS: the sandbox CA has expired (it lasts %d days); restart the sandbox",
		    CA_LIFETIME / DAY);
		return NULL;
	}
	if ((e = lru_find(&ca->leaves, host))) {
		if (e->expires > now &&
		    (e->expires - now > LEAF_RENEW || e->expires >= ca->ca_not_after)) {
			lru_touch(&ca->leaves, e);
			return e->val;
		}
		lru_remove(&ca->leaves, e);
	}
	if (!(x = leaf_issue(ca, host, is_ip, now, &end, err)))
		return NULL;
	lru_insert(&ca->leaves, host, x, end);
	return x;
}

/* ---- the agent-facing side ------------------------------------------------ */

/*
 * The server_name extension as OpenSSL itself accepts it: a list holding
 * exactly one host_name of 1-255 bytes without NUL.  Anything else is a
 * decode error, so what is checked here is what OpenSSL would use.
 */
static int
sni_parse(const unsigned char *p, size_t len, char out[SNI_MAX + 1])
{
	size_t n;

	if (len < 5 || (size_t)((p[0] << 8) | p[1]) != len - 2 || p[2] != TLSEXT_NAMETYPE_host_name)
		return -1;
	n = (size_t)((p[3] << 8) | p[4]);
	if (n == 0 || n > SNI_MAX || n != len - 5 || memchr(p + 5, '\0', n))
		return -1;
	memcpy(out, p + 5, n);
	out[n] = '\0';
	return 0;
}

static bool
sni_matches(const char *sni, const char *host)
{
	size_t n = strlen(sni);

	if (n > 0 && sni[n - 1] == '.')
		n--;
	return n == strlen(host) && strncasecmp(sni, host, n) == 0;
}

static int
client_hello_cb(SSL *s, int *al, void *arg)
{
	struct sslinfo *info = info_get(s);
	const unsigned char *ext;
	char sni[SNI_MAX + 1];
	size_t len;

	if (!info) {
		/* Not made by tlsca_server_ssl(): no target to hold the client to. */
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &ext, &len))
		return SSL_CLIENT_HELLO_SUCCESS;
	if (sni_parse(ext, len, sni) < 0) {
		*al = SSL_AD_DECODE_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (sni_matches(sni, info->host))
		return SSL_CLIENT_HELLO_SUCCESS;
	info->refused = true;
	memcpy(info->sni, sni, sizeof(info->sni));
	*al = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_CLIENT_HELLO_ERROR;
}

/* The proxy reads HTTP/1.1 only: pick it when offered, else negotiate nothing. */
static int
alpn_select_cb(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned int inlen, void *arg)
{
	unsigned int i = 0;

	while (i < inlen) {
		unsigned int n = in[i];

		if (n > inlen - i - 1)
			break;
		if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static const unsigned long common_options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
static const long common_modes = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;

static int
server_ctx(struct tlsca *ca, struct werr *err)
{
	SSL_CTX *c = ca->srv = SSL_CTX_new(TLS_server_method());

	if (!c || !SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION))
		return ossl_err(err, "server context");
	SSL_CTX_set_options(c, common_options);
	SSL_CTX_set_mode(c, common_modes);
	SSL_CTX_set_client_hello_cb(c, client_hello_cb, NULL);
	SSL_CTX_set_alpn_select_cb(c, alpn_select_cb, NULL);
	/*
	 * Resumption saves the client a full handshake.  Each SSL's session id
	 * context is its target (tlsca_server_ssl), so a session resumes only
	 * on a connection to the host it was made for.
	 */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(c, SERVER_SESSIONS);
	SSL_CTX_set_timeout(c, SESSION_TIMEOUT);
	SSL_CTX_set_num_tickets(c, 1);
	if (!SSL_CTX_set_session_id_context(c, (const unsigned char *)"warden", 6))
		return ossl_err(err, "server context");
	return 0;
}

SSL *
tlsca_server_ssl(struct tlsca *ca, const char *host, struct werr *err)
{
	unsigned char sid[SHA256_DIGEST_LENGTH];
	struct sslinfo *info;
	char key[HOST_MAX + 3];
	bool is_ip;
	X509 *leaf;
	SSL *s;

	if (host_canon(host, key, &is_ip, err) < 0 || !(leaf = leaf_get(ca, key, is_ip, err)))
		return NULL;
	if (!(s = SSL_new(ca->srv))) {
		ossl_err(err, "new server connection");
		return NULL;
	}
	info = xcalloc(1, sizeof(*info));
	memcpy(info->host, key, sizeof(info->host));
	if (!SSL_set_ex_data(s, info_idx, info)) {
		free(info);
		goto fail;
	}
	if (!SSL_use_cert_and_key(s, leaf, ca->leaf_key, ca->chain, 1) ||
	    !EVP_Digest(key, strlen(key), sid, NULL, EVP_sha256(), NULL) ||
	    !SSL_set_session_id_context(s, sid, sizeof(sid)))
		goto fail;
	return s;
fail:
	ossl_err(err, "set up a server connection");
	SSL_free(s);
	return NULL;
}

bool
tlsca_sni_refused(const SSL *s, char *sni, size_t sni_size)
{
	const struct sslinfo *info = s ? info_get(s) : NULL;
	size_t i;

	if (!info || !info->refused)
		return false;
	if (sni && sni_size > 0) {
		for (i = 0; i + 1 < sni_size && info->sni[i]; i++) {
			unsigned char c = (unsigned char)info->sni[i];

			sni[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
		}
		sni[i] = '\0';
	}
	return true;
}

/* ---- the upstream side ---------------------------------------------------- */

/*
 * The extra trust anchors: every certificate in a PEM file.  Read and
 * parsed here rather than by X509_STORE_load_file() so that a file with no
 * certificate in it is an error, not a silent no-op.
 */
static int
load_anchors(X509_STORE *st, const char *path, struct werr *err)
{
	_cleanup_free_ char *buf = NULL;
	STACK_OF(X509_INFO) *infos;
	int added = 0, bad = 0;
	size_t len;
	BIO *bio;

	if (read_file(path, TRUST_FILE_MAX, &buf, &len, err) < 0) {
		werr_prefix(err, "upstream CA file");
		return -1;
	}
	if (!(bio = BIO_new_mem_buf(buf, (int)len)))
		return ossl_err(err, "upstream CA file");
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!infos)
		return werr_set(err, "upstream CA file: %s: %s", path, ossl_reason());
	for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509 *x = sk_X509_INFO_value(infos, i)->x509;

		if (x && X509_STORE_add_cert(st, x))
			added++;
		else if (x)
			bad++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (bad)
		return werr_set(err, "upstream CA file: %s: %s", path, ossl_reason());
	ERR_clear_error();
	if (added == 0)
		return werr_set(err, "upstream CA file: %s: no PEM certificate in it", path);
	return 0;
}

/* The upstream keeps a session for resumption; see tlsca.h for the policy. */
static int
new_session_cb(SSL *s, SSL_SESSION *sess)
{
	struct tlsca *ca = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
	struct sslinfo *info = info_get(s);
	struct lru_ent *e;

	if (!ca || !info || !SSL_SESSION_is_resumable(sess))
		return 0;
	if ((e = lru_find(&ca->sessions, info->host)))
		lru_remove(&ca->sessions, e);
	lru_insert(&ca->sessions, info->host, sess,
	    (time_t)SSL_SESSION_get_time(sess) + (time_t)SSL_SESSION_get_timeout(sess));
	return 1;	/* the reference is ours now */
}

static int
client_ctx(struct tlsca *ca, const char *upstream_ca, struct werr *err)
{
	SSL_CTX *c = ca->cli = SSL_CTX_new(TLS_client_method());

	if (!c || !SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION))
		return ossl_err(err, "client context");
	SSL_CTX_set_app_data(c, ca);
	SSL_CTX_set_options(c, common_options);
	SSL_CTX_set_mode(c, common_modes);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	/*
	 * The system roots through their hashed directory: a root is read
	 * when a chain needs it.  Parsing the whole bundle up front
	 * (SSL_CTX_set_default_verify_paths) costs ~20 ms at every start; a
	 * system without the hashed directory still gets the bundle.
	 */
	{
		const char *dir = getenv(X509_get_default_cert_dir_env());
		struct stat st;

		if (!dir || !*dir)
			dir = X509_get_default_cert_dir();
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (!X509_STORE_load_path(SSL_CTX_get_cert_store(c), dir))
				return ossl_err(err, "system trust store");
		} else if (!SSL_CTX_set_default_verify_paths(c)) {
			return ossl_err(err, "system trust store");
		}
	}
	/*
	 * An organisation's CA file may hold an intermediate rather than a
	 * root; every anchor given here is meant to be trusted as it stands.
	 */
	X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(c), X509_V_FLAG_PARTIAL_CHAIN);
	if (upstream_ca && load_anchors(SSL_CTX_get_cert_store(c), upstream_ca, err) < 0)
		return -1;
	/* Returns 0 on success, unlike its neighbours. */
	if (SSL_CTX_set_alpn_protos(c, (const unsigned char *)"\x08http/1.1", 9) != 0)
		return ossl_err(err, "client context");
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c, new_session_cb);
	return 0;
}

/*
 * A kept session for host, if still valid.  A TLS 1.3 ticket is handed
 * out once (its server sends fresh ones); a TLS 1.2 session stays, since
 * a resumed 1.2 handshake brings no new one.  Returns a reference.
 */
static SSL_SESSION *
session_take(struct tlsca *ca, const char *host)
{
	struct lru_ent *e = lru_find(&ca->sessions, host);
	SSL_SESSION *sess;

	if (!e)
		return NULL;
	/* Not resumable: OpenSSL's verdict on a connection that ended uncleanly. */
	if (e->expires <= time(NULL) || !SSL_SESSION_is_resumable(e->val)) {
		lru_remove(&ca->sessions, e);
		return NULL;
	}
	sess = e->val;
	if (SSL_SESSION_get_protocol_version(sess) >= TLS1_3_VERSION)
		return lru_detach(&ca->sessions, e);
	lru_touch(&ca->sessions, e);
	SSL_SESSION_up_ref(sess);
	return sess;
}

SSL *
tlsca_client_ssl(struct tlsca *ca, const char *host, struct werr *err)
{
	struct sslinfo *info;
	SSL_SESSION *sess;
	char key[HOST_MAX + 3];
	bool is_ip, ok;
	SSL *s;

	if (host_canon(host, key, &is_ip, err) < 0)
		return NULL;
	if (!(s = SSL_new(ca->cli))) {
		ossl_err(err, "new upstream connection");
		return NULL;
	}
	info = xcalloc(1, sizeof(*info));
	memcpy(info->host, key, sizeof(info->host));
	if (!SSL_set_ex_data(s, info_idx, info)) {
		free(info);
		goto fail;
	}
	if (is_ip)
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), key);
	else
		ok = SSL_set_tlsext_host_name(s, key) && SSL_set1_host(s, key);
	if (!ok)
		goto fail;
	SSL_set_hostflags(s, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((sess = session_take(ca, key))) {
		ok = SSL_set_session(s, sess);
		SSL_SESSION_free(sess);
		if (!ok)
			goto fail;
	}
	return s;
fail:
	ossl_err(err, "set up an upstream connection");
	SSL_free(s);
	return NULL;
}

const char *
tlsca_handshake_error(const SSL *s)
{
	static __thread char buf[256];
	long vr = s ? SSL_get_verify_result(s) : X509_V_OK;

	if (vr != X509_V_OK) {
		snprintf(buf, sizeof(buf), "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
	} else if (ERR_peek_error() != 0) {
		snprintf(buf, sizeof(buf), "%s", ossl_reason());
	} else {
		snprintf(buf, sizeof(buf), "the connection closed during the TLS handshake");
	}
	return buf;
}

/* ---- the module ----------------------------------------------------------- */

struct tlsca *
tlsca_new(const char *upstream_ca, struct werr *err)
{
	struct tlsca *ca = xcalloc(1, sizeof(*ca));

	ERR_clear_error();
	if (info_idx < 0 && (info_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, info_free)) < 0) {
		ossl_err(err, "ex_data index");
		goto fail;
	}
	if (lru_init(&ca->leaves, free_x509) < 0 || lru_init(&ca->sessions, free_session) < 0) {
		ossl_err(err, "random bytes");
		goto fail;
	}
	if (make_ca(ca, time(NULL), err) < 0 || ca_export(ca, err) < 0)
		goto fail;
	if (!(ca->chain = sk_X509_new_null()) || !sk_X509_push(ca->chain, ca->ca_cert)) {
		ossl_err(err, "certificate chain");
		goto fail;
	}
	X509_up_ref(ca->ca_cert);
	if (server_ctx(ca, err) < 0 || client_ctx(ca, upstream_ca, err) < 0)
		goto fail;
	return ca;
fail:
	tlsca_free(ca);
	return NULL;
}

void
tlsca_free(struct tlsca *ca)
{
	if (!ca)
		return;
	lru_clear(&ca->leaves);
	lru_clear(&ca->sessions);
	if (ca->cli) {
		/* SSLs still alive keep the context: their callbacks must not find ca. */
		SSL_CTX_set_app_data(ca->cli, NULL);
		SSL_CTX_free(ca->cli);
	}
	SSL_CTX_free(ca->srv);
	sk_X509_pop_free(ca->chain, X509_free);
	X509_free(ca->ca_cert);
	EVP_PKEY_free(ca->leaf_key);
	EVP_PKEY_free(ca->ca_key);
	free(ca->ca_pem);
	free(ca);
}

/* ---- files ---------------------------------------------------------------- */

/* Write a then b to path, mode 0644, through a temporary file and rename(). */
static int
write_atomic(const char *path, const char *a, size_t alen, const char *b, size_t blen,
    struct werr *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.XXXXXX", path);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);

	if (fd < 0)
		return werr_sys(err, "create %s", tmp);
	/* mkostemp makes 0600; the sandbox's programs, any uid, must read it. */
	if (fchmod(fd, 0644) < 0 || write_all(fd, a, alen) < 0 || write_all(fd, b, blen) < 0) {
		werr_sys(err, "write %s", tmp);
		goto fail;
	}
	if (close(steal_fd(&fd)) < 0) {
		werr_sys(err, "close %s", tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		werr_sys(err, "rename %s to %s", tmp, path);
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return -1;
}

int
tlsca_write_cert(const struct tlsca *ca, const char *path, struct werr *err)
{
	return write_atomic(path, ca->ca_pem, ca->ca_pem_len, "", 0, err);
}

int
tlsca_write_bundle(const struct tlsca *ca, const char *system_bundle, const char *path,
    struct werr *err)
{
	_cleanup_free_ char *sys = NULL, *joined = NULL;
	struct werr rerr = { 0 };
	size_t len = 0;

	if (system_bundle && read_file(system_bundle, TRUST_FILE_MAX, &sys, &len, &rerr) < 0) {
		if (rerr.code != ENOENT) {
			*err = rerr;
			werr_prefix(err, "system CA bundle");
			return -1;
		}
		len = 0;
	}
	/* A bundle not ending in a newline would glue its last line to ours. */
	if (len > 0 && sys[len - 1] != '\n') {
		joined = xmalloc(len + 1);
		memcpy(joined, sys, len);
		joined[len] = '\n';
		return write_atomic(path, joined, len + 1, ca->ca_pem, ca->ca_pem_len, err);
	}
	return write_atomic(path, sys ? sys : "", len, ca->ca_pem, ca->ca_pem_len, err);
}

const char *
tlsca_fingerprint(const struct tlsca *ca)
{
	return ca->fingerprint;
}

unsigned long
tlsca_issued(const struct tlsca *ca)
{
	return ca->issued;
}
