/*
 * Unit tests for the per-sandbox CA (src/proxy/tlsca.c), with real
 * certificates and real handshakes, no mocks: the CA certificate's fields
 * and fingerprint; leaves for names, IPv4 and IPv6 verified against a
 * store holding only the CA (and failing against an empty one); the leaf
 * cache and its bound; the files written for the sandbox; in-process
 * handshakes over socketpairs (both ends non-blocking, driven with poll)
 * for the agent-facing side -- trust through the written bundle, ALPN,
 * data both ways, the SNI check, session resumption bound to the target
 * -- and for the upstream side against an independent self-signed server:
 * verification, host and IP checks, extra trust anchors, the error words
 * and client-side resumption.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../src/proxy/tlsca.h"

#include "check.h"

#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static char tmpdir[64];

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

static void
bail(const char *why)
{
	printf("Bail out! %s\n", why);
	exit(1);
}

static char *
tmp_path(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static struct tlsca *
new_ca(const char *upstream_ca)
{
	struct werr err = { 0 };
	struct tlsca *ca = tlsca_new(upstream_ca, &err);

	if (!ca) {
		printf("# tlsca_new: %s\n", err.msg);
		bail("tlsca_new failed");
	}
	return ca;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

/* The CA certificate as the sandbox would see it: through tlsca_write_cert. */
static X509 *
ca_cert_of(struct tlsca *ca)
{
	struct werr err = { 0 };
	const char *path = tmp_path("ca-of.pem");
	X509 *x;

	if (tlsca_write_cert(ca, path, &err) < 0 || !(x = read_cert(path)))
		bail("cannot read the CA certificate back");
	unlink(path);
	return x;
}

static long
file_mode(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : (long)(st.st_mode & 07777);
}

static time_t
asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

static bool
near(time_t a, time_t b)
{
	return a - b < 120 && b - a < 120;
}

static int
serial_bytes(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	int n = bn && !BN_is_negative(bn) ? BN_num_bytes(bn) : -1;

	BN_free(bn);
	return n;
}

static bool
ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static const char *
name_entry(X509_NAME *name, int nid, char *buf, size_t size)
{
	if (X509_NAME_get_text_by_NID(name, nid, buf, (int)size) < 0)
		return NULL;
	return buf;
}

/* ---- the CA certificate --------------------------------------------------- */

static void
test_ca_cert(void)
{
	struct tlsca *ca = new_ca(NULL), *ca2 = new_ca(NULL);
	X509 *x = ca_cert_of(ca), *x2 = ca_cert_of(ca2);
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	char buf[256], hex[65];
	unsigned int mdlen = 0;
	time_t now = time(NULL);
	EVP_PKEY *pk;
	int derlen;

	begin("CA subject, issuer, key, signature");
	name_entry(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
	CHECK(strncmp(buf, "warden sandbox CA ", 18) == 0 && strlen(buf) == 26 &&
	    strspn(buf + 18, "0123456789abcdef") == 8, "CN is 'warden sandbox CA ' + 8 hex (%s)", buf);
	CHECK_STR(name_entry(X509_get_subject_name(x), NID_organizationName, buf, sizeof(buf)),
	    "warden");
	CHECK(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0,
	    "self-issued");
	CHECK(X509_NAME_cmp(X509_get_subject_name(x), X509_get_subject_name(x2)) != 0,
	    "two CAs have different names");
	pk = X509_get0_pubkey(x);
	CHECK(pk && EVP_PKEY_is_a(pk, "EC") && EVP_PKEY_get_group_name(pk, buf, sizeof(buf), NULL) &&
	    strcmp(buf, "prime256v1") == 0, "ECDSA P-256 key");
	CHECK(X509_verify(x, pk) == 1, "self-signed signature verifies");
	CHECK_INT(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	CHECK_INT(X509_get_version(x), X509_VERSION_3);
	CHECK_INT(serial_bytes(x), 16);
	CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(x2)) != 0,
	    "serials differ");

	begin("CA extensions");
	CHECK(X509_get_extension_flags(x) & EXFLAG_CA, "basicConstraints CA:TRUE");
	CHECK_INT(X509_get_pathlen(x), 0);
	CHECK(ext_critical(x, NID_basic_constraints), "basicConstraints is critical");
	CHECK_INT(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	CHECK(ext_critical(x, NID_key_usage), "keyUsage is critical");
	CHECK(X509_get0_subject_key_id(x) != NULL, "subjectKeyIdentifier present");
	CHECK(X509_check_ca(x) == 1, "X509_check_ca says CA");

	begin("CA validity");
	CHECK(near(asn1_time(X509_get0_notBefore(x)), now - 3600), "notBefore is an hour ago");
	CHECK(near(asn1_time(X509_get0_notAfter(x)), now + 30 * 86400), "notAfter is in 30 days");

	begin("CA fingerprint");
	derlen = i2d_X509(x, &der);
	CHECK(derlen > 0 && EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL) &&
	    mdlen == 32, "hash the DER");
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	CHECK_STR(tlsca_fingerprint(ca), hex);
	CHECK_INT(strlen(tlsca_fingerprint(ca)), 64);
	CHECK(strcmp(tlsca_fingerprint(ca), tlsca_fingerprint(ca2)) != 0, "differs between CAs");
	OPENSSL_free(der);

	X509_free(x);
	X509_free(x2);
	tlsca_free(ca);
	tlsca_free(ca2);
	tlsca_free(NULL);
}

/* ---- leaves --------------------------------------------------------------- */

/* The leaf tlsca_server_ssl() installs for host (a new reference). */
static X509 *
leaf_for(struct tlsca *ca, const char *host)
{
	struct werr err = { 0 };
	SSL *s = tlsca_server_ssl(ca, host, &err);
	X509 *x;

	if (!s) {
		printf("# tlsca_server_ssl(%s): %s\n", host, err.msg);
		return NULL;
	}
	if ((x = SSL_get_certificate(s)))
		X509_up_ref(x);
	SSL_free(s);
	return x;
}

/* X509_verify_cert of leaf against a store holding only anchor (or nothing). */
static int
verify_leaf(X509 *leaf, X509 *anchor, const char *name, const char *ip)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int rc;

	if (anchor)
		X509_STORE_add_cert(st, anchor);
	X509_STORE_CTX_init(ctx, st, leaf, NULL);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	param = X509_STORE_CTX_get0_param(ctx);
	if (name)
		X509_VERIFY_PARAM_set1_host(param, name, 0);
	if (ip)
		X509_VERIFY_PARAM_set1_ip_asc(param, ip);
	rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	if (rc == X509_V_OK)
		rc = 0;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return rc;
}

static void
check_leaf(struct tlsca *ca, X509 *cacert, const char *host, bool is_ip, const char *other)
{
	X509 *leaf = leaf_for(ca, host);
	GENERAL_NAMES *san;
	const GENERAL_NAME *gn;
	time_t now = time(NULL);
	char buf[256];

	if (!CHECK(leaf != NULL, "leaf for %s", host))
		return;
	CHECK_INT(verify_leaf(leaf, cacert, is_ip ? NULL : host, is_ip ? host : NULL), 0);
	CHECK_INT(verify_leaf(leaf, NULL, is_ip ? NULL : host, is_ip ? host : NULL),
	    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	CHECK_INT(verify_leaf(leaf, cacert, is_ip ? NULL : other, is_ip ? other : NULL),
	    is_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
	CHECK_STR(name_entry(X509_get_subject_name(leaf), NID_commonName, buf, sizeof(buf)), host);
	san = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	CHECK(san && sk_GENERAL_NAME_num(san) == 1, "one subjectAltName");
	gn = san ? sk_GENERAL_NAME_value(san, 0) : NULL;
	CHECK(gn && gn->type == (is_ip ? GEN_IPADD : GEN_DNS), "subjectAltName is %s",
	    is_ip ? "IP" : "DNS");
	GENERAL_NAMES_free(san);
	CHECK(!(X509_get_extension_flags(leaf) & EXFLAG_CA) &&
	    X509_get_ext_by_NID(leaf, NID_basic_constraints, -1) >= 0, "basicConstraints CA:FALSE");
	CHECK_INT(X509_get_key_usage(leaf), KU_DIGITAL_SIGNATURE);
	CHECK(ext_critical(leaf, NID_key_usage), "keyUsage critical");
	CHECK_INT(X509_get_extended_key_usage(leaf), XKU_SSL_SERVER);
	CHECK(X509_get0_authority_key_id(leaf) && X509_get0_subject_key_id(cacert) &&
	    ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf),
	    X509_get0_subject_key_id(cacert)) == 0, "authorityKeyIdentifier is the CA's key id");
	CHECK(X509_get0_subject_key_id(leaf) != NULL, "subjectKeyIdentifier present");
	CHECK_INT(serial_bytes(leaf), 16);
	CHECK_INT(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);
	CHECK(near(asn1_time(X509_get0_notBefore(leaf)), now - 3600), "notBefore an hour ago");
	CHECK(near(asn1_time(X509_get0_notAfter(leaf)), now + 7 * 86400), "notAfter in 7 days");
	X509_free(leaf);
}

static void
test_leaves(void)
{
	struct tlsca *ca = new_ca(NULL), *ca2 = new_ca(NULL);
	X509 *cacert = ca_cert_of(ca), *ca2cert = ca_cert_of(ca2), *a, *b, *c;
	char longname[128], buf[128];
	struct werr err = { 0 };

	begin("leaf for a name");
	check_leaf(ca, cacert, "api.test", false, "other.test");
	begin("leaf for IPv4");
	check_leaf(ca, cacert, "127.0.0.1", true, "127.0.0.2");
	begin("leaf for IPv6");
	check_leaf(ca, cacert, "::1", true, "::2");

	begin("leaves share one key, have distinct serials, need their own CA");
	a = leaf_for(ca, "a.test");
	b = leaf_for(ca, "b.test");
	c = leaf_for(ca2, "a.test");
	CHECK(a && b && EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1, "same key");
	CHECK(a && c && EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(c)) != 1,
	    "another tlsca has another leaf key");
	CHECK(a && b && ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)) != 0,
	    "serials differ");
	CHECK(c && verify_leaf(c, cacert, "a.test", NULL) != 0, "another CA's leaf fails");
	CHECK(c && verify_leaf(c, ca2cert, "a.test", NULL) == 0, "and passes with its own CA");
	X509_free(a);
	X509_free(b);
	X509_free(c);

	begin("long names: CN truncated to 64 bytes, SAN whole");
	snprintf(longname, sizeof(longname), "%.60s.%.60s.test",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	a = leaf_for(ca, longname);
	CHECK(a != NULL, "issued for %zu bytes", strlen(longname));
	if (a) {
		name_entry(X509_get_subject_name(a), NID_commonName, buf, sizeof(buf));
		CHECK(strlen(buf) == 64 && strncmp(buf, longname, 64) == 0, "CN is the first 64 bytes");
		CHECK_INT(verify_leaf(a, cacert, longname, NULL), 0);
		X509_free(a);
	}

	begin("hosts a certificate cannot name are refused");
	CHECK(!tlsca_server_ssl(ca, "", &err) && err.msg[0], "empty: %s", err.msg);
	err.msg[0] = '\0';
	CHECK(!tlsca_server_ssl(ca, "a.test,DNS:b.test", &err) && err.msg[0], "comma: %s", err.msg);
	err.msg[0] = '\0';
	CHECK(!tlsca_server_ssl(ca, "a b.test", &err) && err.msg[0], "space: %s", err.msg);
	err.msg[0] = '\0';
	CHECK(!tlsca_server_ssl(ca, "*.test", &err) && err.msg[0], "wildcard: %s", err.msg);
	err.msg[0] = '\0';
	CHECK(!tlsca_client_ssl(ca, "a\nb", &err) && err.msg[0], "client side too: %s", err.msg);
	err.msg[0] = '\0';
	{
		char huge[300];

		memset(huge, 'a', sizeof(huge) - 1);
		huge[sizeof(huge) - 1] = '\0';
		CHECK(!tlsca_server_ssl(ca, huge, &err) && err.msg[0], "299 bytes: %s", err.msg);
	}

	X509_free(cacert);
	X509_free(ca2cert);
	tlsca_free(ca);
	tlsca_free(ca2);
}

static void
test_cache(void)
{
	struct tlsca *ca = new_ca(NULL);
	unsigned long before;
	char host[64];
	X509 *a, *b;

	begin("leaf cache");
	CHECK_INT(tlsca_issued(ca), 0);
	a = leaf_for(ca, "api.test");
	CHECK_INT(tlsca_issued(ca), 1);
	b = leaf_for(ca, "api.test");
	CHECK_INT(tlsca_issued(ca), 1);
	CHECK(a && a == b, "the same certificate object again");
	X509_free(b);
	b = leaf_for(ca, "API.Test.");
	CHECK_INT(tlsca_issued(ca), 1);
	CHECK(a && a == b, "case and a trailing dot do not make a new leaf");
	X509_free(a);
	X509_free(b);
	a = leaf_for(ca, "0:0:0:0:0:0:0:1");
	b = leaf_for(ca, "::1");
	CHECK_INT(tlsca_issued(ca), 2);
	CHECK(a && a == b, "IPv6 spellings share one leaf");
	X509_free(a);
	X509_free(b);

	begin("leaf cache is bounded (LRU)");
	before = tlsca_issued(ca);
	for (int i = 0; i < 1100; i++) {
		snprintf(host, sizeof(host), "h%d.test", i);
		if (!(a = leaf_for(ca, host)))
			break;
		X509_free(a);
	}
	CHECK_INT(tlsca_issued(ca) - before, 1100);
	before = tlsca_issued(ca);
	X509_free(leaf_for(ca, "h1099.test"));
	X509_free(leaf_for(ca, "h100.test"));
	CHECK_INT(tlsca_issued(ca) - before, 0);
	X509_free(leaf_for(ca, "h0.test"));
	CHECK_INT(tlsca_issued(ca) - before, 1);
	X509_free(leaf_for(ca, "api.test"));
	CHECK_INT(tlsca_issued(ca) - before, 2);
	tlsca_free(ca);
}

/* ---- files ---------------------------------------------------------------- */

static int
count_certs(const char *s)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, "-----BEGIN CERTIFICATE-----")); p++)
		n++;
	return n;
}

static int
count_dir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static void
test_files(struct tlsca *ca)
{
	const char *cert = tmp_path("ca.pem"), *bundle = tmp_path("bundle.pem");
	char *pem, *b, *sys;
	size_t pemlen, blen, syslen;
	struct werr err = { 0 };
	int before;
	FILE *f;

	begin("CA certificate file");
	umask(077);
	CHECK_INT(tlsca_write_cert(ca, cert, &err), 0);
	CHECK_INT(file_mode(cert), 0644);
	pem = slurp(cert, &pemlen);
	CHECK(pem && count_certs(pem) == 1 && !strstr(pem, "PRIVATE"), "one certificate, no key");
	f = fopen(cert, "w");
	fputs("old", f);
	fclose(f);
	chmod(cert, 0600);
	before = count_dir();
	CHECK_INT(tlsca_write_cert(ca, cert, &err), 0);
	CHECK_INT(file_mode(cert), 0644);
	b = slurp(cert, NULL);
	CHECK(b && pem && strcmp(b, pem) == 0, "an old file is replaced");
	CHECK_INT(count_dir(), before);
	free(b);
	CHECK(tlsca_write_cert(ca, "/nonexistent-dir/ca.pem", &err) < 0 &&
	    strstr(err.msg, "/nonexistent-dir/ca.pem"), "unwritable: %s", err.msg);

	begin("bundle with the system roots");
	CHECK_INT(tlsca_write_bundle(ca, SYSTEM_BUNDLE, bundle, &err), 0);
	CHECK_INT(file_mode(bundle), 0644);
	b = slurp(bundle, &blen);
	sys = slurp(SYSTEM_BUNDLE, &syslen);
	CHECK(b && count_certs(b) > 1, "more than one certificate (%d)", b ? count_certs(b) : 0);
	CHECK(b && sys && blen >= syslen + pemlen && memcmp(b, sys, syslen) == 0,
	    "starts with the system bundle");
	CHECK(b && pem && blen >= pemlen && strcmp(b + blen - pemlen, pem) == 0, "ends with the CA");
	free(b);
	free(sys);

	begin("bundle without a system bundle");
	CHECK_INT(tlsca_write_bundle(ca, tmp_path("no-such-bundle"), bundle, &err), 0);
	b = slurp(bundle, NULL);
	CHECK(b && pem && strcmp(b, pem) == 0, "holds just the CA");
	free(b);
	CHECK_INT(tlsca_write_bundle(ca, NULL, bundle, &err), 0);
	b = slurp(bundle, NULL);
	CHECK(b && pem && strcmp(b, pem) == 0, "NULL system bundle: just the CA");
	free(b);
	CHECK_INT(file_mode(bundle), 0644);

	begin("bundle after a system bundle without a final newline");
	f = fopen(tmp_path("sys-nonl.pem"), "w");
	fputs("# no newline", f);
	fclose(f);
	CHECK_INT(tlsca_write_bundle(ca, tmp_path("sys-nonl.pem"), bundle, &err), 0);
	b = slurp(bundle, NULL);
	CHECK(b && pem && strncmp(b, "# no newline\n", 13) == 0 && strcmp(b + 13, pem) == 0,
	    "a newline is put between");
	free(b);
	unlink(tmp_path("sys-nonl.pem"));
	CHECK(tlsca_write_bundle(ca, tmpdir, bundle, &err) < 0 && strstr(err.msg, tmpdir),
	    "an unreadable system bundle is an error: %s", err.msg);
	free(pem);
	umask(022);
}

/* ---- handshakes ----------------------------------------------------------- */

struct side {
	SSL *ssl;
	const char *name;
	int rc;			/* 0 going, 1 done, -1 failed */
	char why[256];		/* first error, or tlsca_handshake_error's words */
	bool tlsca_words;	/* ask tlsca_handshake_error() on failure */
};

static void
step(struct side *sd)
{
	int r, e;

	if (sd->rc)
		return;
	ERR_clear_error();
	r = SSL_do_handshake(sd->ssl);
	if (r == 1) {
		sd->rc = 1;
		return;
	}
	e = SSL_get_error(sd->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	sd->rc = -1;
	if (sd->tlsca_words) {
		snprintf(sd->why, sizeof(sd->why), "%s", tlsca_handshake_error(sd->ssl));
	} else {
		unsigned long err = ERR_get_error();
		const char *rs = err ? ERR_reason_error_string(err) : NULL;

		snprintf(sd->why, sizeof(sd->why), "%s", rs ? rs : "no reason");
	}
	ERR_clear_error();
	/* The peer sees the alert, then end of stream: it never waits forever. */
	shutdown(SSL_get_fd(sd->ssl), SHUT_WR);
}

/* Drive both ends until each has finished or failed. */
static void
handshake(struct side *c, struct side *s)
{
	for (int i = 0; i < 1000 && (!c->rc || !s->rc); i++) {
		struct pollfd p[2] = {
			{ .fd = SSL_get_fd(c->ssl), .events = POLLIN },
			{ .fd = SSL_get_fd(s->ssl), .events = POLLIN },
		};

		step(c);
		step(s);
		if (c->rc && s->rc)
			break;
		if (poll(p, 2, 3000) == 0) {
			if (!c->rc)
				snprintf(c->why, sizeof(c->why), "timeout");
			if (!s->rc)
				snprintf(s->why, sizeof(s->why), "timeout");
			c->rc = c->rc ? c->rc : -1;
			s->rc = s->rc ? s->rc : -1;
		}
	}
}

static int
wait_fd(SSL *s, int e)
{
	struct pollfd p = { .fd = SSL_get_fd(s), .events = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN };

	return poll(&p, 1, 3000) == 1 ? 0 : -1;
}

static bool
send_all(SSL *s, const char *buf, size_t n)
{
	while (n > 0) {
		int r = SSL_write(s, buf, (int)n);
		int e = SSL_get_error(s, r);

		if (r > 0) {
			buf += r;
			n -= (size_t)r;
		} else if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || wait_fd(s, e) < 0) {
			return false;
		}
	}
	return true;
}

static bool
recv_all(SSL *s, char *buf, size_t n)
{
	while (n > 0) {
		int r = SSL_read(s, buf, (int)n);
		int e = SSL_get_error(s, r);

		if (r > 0) {
			buf += r;
			n -= (size_t)r;
		} else if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || wait_fd(s, e) < 0) {
			return false;
		}
	}
	return true;
}

/* Send n bytes a -> b and back, checking every byte. */
static bool
round_trip(SSL *a, SSL *b, size_t n)
{
	char *out = malloc(n), *in = malloc(n);
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		out[i] = (char)(i * 7 + 3);
	ok = ok && send_all(a, out, n) && recv_all(b, in, n) && memcmp(out, in, n) == 0;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(i * 13 + 1);
	ok = ok && send_all(b, out, n) && recv_all(a, in, n) && memcmp(out, in, n) == 0;
	free(out);
	free(in);
	return ok;
}

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		bail("socketpair");
}

/* A plain client as a program in the sandbox would be: trusts the bundle file. */
static SSL_CTX *
agent_ctx(const char *bundle)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	if (!c || SSL_CTX_load_verify_locations(c, bundle, NULL) != 1)
		bail("agent context");
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	return c;
}

struct agent_opts {
	const char *sni;	/* NULL: none */
	const char *verify;	/* host name checked, NULL: none */
	const char *alpn;	/* wire format, NULL: none */
	size_t alpn_len;
	int max_version;	/* 0: default */
	SSL_SESSION *resume;
};

/* One agent -> proxy handshake; fills c and s, which the caller frees. */
static void
agent_connect(struct tlsca *ca, SSL_CTX *actx, const char *target, const struct agent_opts *o,
    struct side *c, struct side *s)
{
	struct werr err = { 0 };
	int sv[2];

	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	pair(sv);
	c->name = "agent";
	s->name = "proxy";
	if (!(s->ssl = tlsca_server_ssl(ca, target, &err))) {
		printf("# tlsca_server_ssl: %s\n", err.msg);
		bail("server SSL");
	}
	c->ssl = SSL_new(actx);
	SSL_set_fd(c->ssl, sv[0]);
	SSL_set_fd(s->ssl, sv[1]);
	SSL_set_connect_state(c->ssl);
	SSL_set_accept_state(s->ssl);
	if (o->sni)
		SSL_set_tlsext_host_name(c->ssl, o->sni);
	if (o->verify)
		SSL_set1_host(c->ssl, o->verify);
	if (o->alpn)
		SSL_set_alpn_protos(c->ssl, (const unsigned char *)o->alpn, (unsigned)o->alpn_len);
	if (o->max_version)
		SSL_set_max_proto_version(c->ssl, o->max_version);
	if (o->resume)
		SSL_set_session(c->ssl, o->resume);
	handshake(c, s);
}

static void
close_side(struct side *sd)
{
	if (!sd->ssl)
		return;
	/*
	 * A clean close (close_notify sent): OpenSSL forgets the session of a
	 * connection that ends without one, so no resumption could follow.
	 */
	if (sd->rc == 1)
		SSL_shutdown(sd->ssl);
	close(SSL_get_fd(sd->ssl));
	SSL_free(sd->ssl);
	sd->ssl = NULL;
}

static bool
alpn_is(SSL *s, const char *want)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	SSL_get0_alpn_selected(s, &p, &n);
	if (!want)
		return n == 0;
	return n == strlen(want) && memcmp(p, want, n) == 0;
}

static void
test_agent_handshake(struct tlsca *ca, SSL_CTX *actx)
{
	struct agent_opts o = { .sni = "api.test", .verify = "api.test",
		.alpn = "\x02h2\x08http/1.1", .alpn_len = 12 };
	struct side c, s;
	STACK_OF(X509) *chain;

	begin("agent handshake through the written bundle");
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds (agent: %s, proxy: %s)", c.why, s.why);
	CHECK_INT(SSL_get_verify_result(c.ssl), X509_V_OK);
	CHECK(alpn_is(c.ssl, "http/1.1") && alpn_is(s.ssl, "http/1.1"),
	    "ALPN http/1.1 chosen over h2");
	chain = SSL_get_peer_cert_chain(c.ssl);
	CHECK(chain && sk_X509_num(chain) == 2, "chain sent is leaf + CA (%d)",
	    chain ? sk_X509_num(chain) : -1);
	CHECK(SSL_version(c.ssl) >= TLS1_2_VERSION, "TLS 1.2 or later");
	CHECK(round_trip(c.ssl, s.ssl, 5), "small data both ways");
	CHECK(round_trip(c.ssl, s.ssl, 48 * 1024), "48 KiB both ways");
	CHECK(SSL_get_mode(s.ssl) & SSL_MODE_ENABLE_PARTIAL_WRITE &&
	    SSL_get_mode(s.ssl) & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, "server modes");
	CHECK(SSL_get_options(s.ssl) & SSL_OP_NO_RENEGOTIATION, "no renegotiation");
	CHECK(!tlsca_sni_refused(s.ssl, NULL, 0), "not refused");
	close_side(&c);
	close_side(&s);

	begin("agent offering only h2 gets no ALPN");
	o.alpn = "\x02h2";
	o.alpn_len = 3;
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds");
	CHECK(alpn_is(c.ssl, NULL) && alpn_is(s.ssl, NULL), "no protocol negotiated");
	close_side(&c);
	close_side(&s);

	begin("agent with no ALPN, TLS 1.2");
	o.alpn = NULL;
	o.max_version = TLS1_2_VERSION;
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds");
	CHECK_INT(SSL_version(c.ssl), TLS1_2_VERSION);
	CHECK(round_trip(c.ssl, s.ssl, 100), "data both ways");
	close_side(&c);
	close_side(&s);

	begin("agent on TLS 1.1 is refused");
	o.max_version = TLS1_1_VERSION;
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == -1 && s.rc == -1, "handshake fails (proxy: %s)", s.why);
	close_side(&c);
	close_side(&s);

	begin("agent to an IP literal");
	o = (struct agent_opts){ .alpn = "\x08http/1.1", .alpn_len = 9 };
	agent_connect(ca, actx, "127.0.0.1", &o, &c, &s);
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), "127.0.0.1");
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds (agent: %s)", c.why);
	close_side(&c);
	close_side(&s);
}

static void
test_agent_ip_verified(struct tlsca *ca, SSL_CTX *actx)
{
	struct side c = { 0 }, s = { 0 };
	struct werr err = { 0 };
	int sv[2];

	begin("agent to ::1 checks the IP address");
	pair(sv);
	s.ssl = tlsca_server_ssl(ca, "::1", &err);
	c.ssl = SSL_new(actx);
	SSL_set_fd(c.ssl, sv[0]);
	SSL_set_fd(s.ssl, sv[1]);
	SSL_set_connect_state(c.ssl);
	SSL_set_accept_state(s.ssl);
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), "::1");
	handshake(&c, &s);
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds (agent: %s)", c.why);
	close_side(&c);
	close_side(&s);
}

static void
test_sni(struct tlsca *ca, SSL_CTX *actx)
{
	struct agent_opts o = { .sni = "evil.test" };
	struct side c, s;
	char sni[300];

	begin("SNI naming another host is refused");
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == -1 && s.rc == -1, "handshake fails on both sides");
	CHECK(strstr(c.why, "unrecognized name") != NULL, "agent sees unrecognized_name (%s)", c.why);
	CHECK(tlsca_sni_refused(s.ssl, sni, sizeof(sni)), "tlsca_sni_refused");
	CHECK_STR(sni, "evil.test");
	CHECK(tlsca_sni_refused(s.ssl, sni, 5) && strcmp(sni, "evil") == 0, "truncated copy: %s",
	    sni);
	close_side(&c);
	close_side(&s);

	begin("SNI mismatch refused on TLS 1.2 too");
	o.max_version = TLS1_2_VERSION;
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == -1 && s.rc == -1 && tlsca_sni_refused(s.ssl, sni, sizeof(sni)) &&
	    strcmp(sni, "evil.test") == 0, "refused");
	close_side(&c);
	close_side(&s);

	begin("SNI suffix or prefix of the target is refused");
	o = (struct agent_opts){ .sni = "api.test.evil" };
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == -1 && tlsca_sni_refused(s.ssl, sni, sizeof(sni)), "api.test.evil refused");
	close_side(&c);
	close_side(&s);
	o.sni = "pi.test";
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == -1 && tlsca_sni_refused(s.ssl, sni, sizeof(sni)), "pi.test refused");
	close_side(&c);
	close_side(&s);

	begin("control bytes in a refused SNI are replaced");
	o.sni = "ev\x01l\x7f.test";
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(tlsca_sni_refused(s.ssl, sni, sizeof(sni)), "refused");
	CHECK_STR(sni, "ev?l?.test");
	close_side(&c);
	close_side(&s);

	begin("SNI equal up to case and one trailing dot is accepted");
	o.sni = "API.Test.";
	o.verify = "api.test";
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds (agent: %s, proxy: %s)", c.why, s.why);
	CHECK(!tlsca_sni_refused(s.ssl, sni, sizeof(sni)), "not refused");
	close_side(&c);
	close_side(&s);
	o.sni = "api.test..";
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == -1 && tlsca_sni_refused(s.ssl, sni, sizeof(sni)), "two dots refused");
	close_side(&c);
	close_side(&s);

	begin("no SNI is accepted");
	o = (struct agent_opts){ .verify = "api.test" };
	agent_connect(ca, actx, "api.test", &o, &c, &s);
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds (agent: %s, proxy: %s)", c.why, s.why);
	CHECK(!tlsca_sni_refused(s.ssl, sni, sizeof(sni)), "not refused");
	CHECK(round_trip(c.ssl, s.ssl, 10), "data both ways");
	close_side(&c);
	close_side(&s);

	begin("SNI to an IP target");
	o = (struct agent_opts){ .sni = "api.test" };
	agent_connect(ca, actx, "127.0.0.1", &o, &c, &s);
	CHECK(c.rc == -1 && tlsca_sni_refused(s.ssl, sni, sizeof(sni)) &&
	    strcmp(sni, "api.test") == 0, "a name is refused");
	close_side(&c);
	close_side(&s);
}

/* A handshake, data both ways (which delivers TLS 1.3 tickets), then the session. */
static SSL_SESSION *
session_from(struct tlsca *ca, SSL_CTX *actx, const char *target, struct agent_opts *o,
    bool *reused)
{
	SSL_SESSION *sess = NULL;
	struct side c, s;

	agent_connect(ca, actx, target, o, &c, &s);
	if (c.rc == 1 && s.rc == 1 && round_trip(c.ssl, s.ssl, 10)) {
		sess = SSL_get1_session(c.ssl);
		*reused = SSL_session_reused(c.ssl);
	}
	close_side(&c);
	close_side(&s);
	return sess;
}

static void
test_resumption(struct tlsca *ca, SSL_CTX *actx)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };

	for (size_t i = 0; i < 2; i++) {
		struct agent_opts o = { .sni = "api.test", .verify = "api.test",
			.max_version = versions[i] };
		SSL_SESSION *first, *again;
		bool reused = true;

		begin(versions[i] == TLS1_2_VERSION ? "TLS 1.2 resumption" : "TLS 1.3 resumption");
		first = session_from(ca, actx, "api.test", &o, &reused);
		CHECK(first && !reused, "first handshake is full");
		o.resume = first;
		again = session_from(ca, actx, "api.test", &o, &reused);
		CHECK(again && reused, "second resumes");
		SSL_SESSION_free(again);
		{
			/* A resumed TLS 1.2 session keeps its old name in OpenSSL's eyes. */
			struct agent_opts evil = o;
			struct side c, s;
			char sni[64];

			evil.sni = "evil.test";
			agent_connect(ca, actx, "api.test", &evil, &c, &s);
			CHECK(c.rc == -1 && tlsca_sni_refused(s.ssl, sni, sizeof(sni)) &&
			    strcmp(sni, "evil.test") == 0, "resuming with another SNI is refused");
			close_side(&c);
			close_side(&s);
		}
		o.sni = "other.test";
		o.verify = NULL;
		again = session_from(ca, actx, "other.test", &o, &reused);
		CHECK(again && !reused, "a session for api.test does not resume to other.test");
		SSL_SESSION_free(again);
		SSL_SESSION_free(first);
	}
}

/* ---- upstream ------------------------------------------------------------- */

/* An independent self-signed server certificate for upstream.test and 127.0.0.1. */
static X509 *
make_upstream_cert(EVP_PKEY **keyp)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_set_version(x, X509_VERSION_3);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"upstream.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "DNS:upstream.test,IP:127.0.0.1");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!X509_sign(x, key, EVP_sha256()))
		bail("sign the upstream certificate");
	*keyp = key;
	return x;
}

static int
upstream_alpn(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned int inlen, void *arg)
{
	unsigned char *o;

	if (SSL_select_next_proto(&o, outlen, (const unsigned char *)"\x02h2\x08http/1.1", 12, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

static char seen_sni[256];

static int
upstream_servername(SSL *s, int *al, void *arg)
{
	const char *n = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

	snprintf(seen_sni, sizeof(seen_sni), "%s", n ? n : "");
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
upstream_ctx(X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	if (!c || SSL_CTX_use_certificate(c, cert) != 1 || SSL_CTX_use_PrivateKey(c, key) != 1)
		bail("upstream context");
	SSL_CTX_set_alpn_select_cb(c, upstream_alpn, NULL);
	SSL_CTX_set_tlsext_servername_callback(c, upstream_servername);
	SSL_CTX_set_session_id_context(c, (const unsigned char *)"up", 2);
	return c;
}

/* tlsca_client_ssl(host) against the upstream server; c and s for the caller to free. */
static void
upstream_connect(struct tlsca *ca, SSL_CTX *uctx, const char *host, struct side *c,
    struct side *s)
{
	struct werr err = { 0 };
	int sv[2];

	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	seen_sni[0] = '\0';
	pair(sv);
	c->name = "proxy";
	c->tlsca_words = true;
	s->name = "upstream";
	if (!(c->ssl = tlsca_client_ssl(ca, host, &err))) {
		printf("# tlsca_client_ssl: %s\n", err.msg);
		bail("client SSL");
	}
	s->ssl = SSL_new(uctx);
	SSL_set_fd(c->ssl, sv[0]);
	SSL_set_fd(s->ssl, sv[1]);
	SSL_set_connect_state(c->ssl);
	SSL_set_accept_state(s->ssl);
	handshake(c, s);
}

static void
test_upstream(void)
{
	const char *anchors = tmp_path("upstream-ca.pem");
	struct tlsca *plain = new_ca(NULL), *trusting;
	EVP_PKEY *key;
	X509 *cert = make_upstream_cert(&key);
	SSL_CTX *uctx = upstream_ctx(cert, key);
	struct side c, s;
	FILE *f;

	begin("upstream not in the trust store");
	upstream_connect(plain, uctx, "upstream.test", &c, &s);
	CHECK(c.rc == -1 && s.rc == -1, "handshake fails");
	CHECK(strncmp(c.why, "certificate verify failed: ", 27) == 0, "words: %s", c.why);
	CHECK(ERR_peek_error() == 0, "error queue cleared");
	close_side(&c);
	close_side(&s);

	f = fopen(anchors, "w");
	PEM_write_X509(f, cert);
	fclose(f);
	trusting = new_ca(anchors);

	begin("upstream trusted through upstream_ca");
	upstream_connect(trusting, uctx, "upstream.test", &c, &s);
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds (proxy: %s, upstream: %s)", c.why, s.why);
	CHECK_INT(SSL_get_verify_result(c.ssl), X509_V_OK);
	CHECK_STR(seen_sni, "upstream.test");
	CHECK(alpn_is(c.ssl, "http/1.1"), "ALPN offers only http/1.1 (server preferred h2)");
	CHECK(!SSL_session_reused(c.ssl), "full handshake");
	CHECK(round_trip(c.ssl, s.ssl, 1000), "data both ways");
	close_side(&c);
	close_side(&s);

	begin("upstream session resumed by host");
	upstream_connect(trusting, uctx, "upstream.test", &c, &s);
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds (proxy: %s)", c.why);
	CHECK(SSL_session_reused(c.ssl), "resumed");
	CHECK(round_trip(c.ssl, s.ssl, 10), "data both ways");
	close_side(&c);
	close_side(&s);

	begin("upstream by IP address");
	upstream_connect(trusting, uctx, "127.0.0.1", &c, &s);
	CHECK(c.rc == 1 && s.rc == 1, "handshake succeeds (proxy: %s)", c.why);
	CHECK_STR(seen_sni, "");
	close_side(&c);
	close_side(&s);

	begin("upstream under the wrong name");
	upstream_connect(trusting, uctx, "wrong.test", &c, &s);
	CHECK(c.rc == -1, "handshake fails");
	CHECK(strstr(c.why, "certificate verify failed") && strstr(c.why, "hostname mismatch"),
	    "words: %s", c.why);
	close_side(&c);
	close_side(&s);
	upstream_connect(trusting, uctx, "127.0.0.2", &c, &s);
	CHECK(c.rc == -1 && strstr(c.why, "IP address mismatch"), "wrong IP: %s", c.why);
	close_side(&c);
	close_side(&s);

	begin("system roots stay trusted beside upstream_ca");
	{
		/*
		 * The system roots are looked up lazily (hashed directory), so
		 * ask the store for one by subject, as chain building does.
		 */
		SSL *cs = tlsca_client_ssl(trusting, "upstream.test", &(struct werr){ 0 });
		X509_STORE *st = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(cs));
		X509_STORE_CTX *sc = X509_STORE_CTX_new();
		FILE *rf = fopen("/etc/ssl/certs/ca-certificates.crt", "r");
		X509 *root = rf ? PEM_read_X509(rf, NULL, NULL, NULL) : NULL;
		X509_OBJECT *obj = NULL;

		if (rf)
			fclose(rf);
		CHECK(root != NULL, "a system root to look for");
		if (root && sc && X509_STORE_CTX_init(sc, st, NULL, NULL) == 1)
			obj = X509_STORE_CTX_get_obj_by_subject(sc, X509_LU_X509,
			    X509_get_subject_name(root));
		CHECK(obj != NULL, "the store finds the system root by its subject");
		X509_OBJECT_free(obj);
		X509_STORE_CTX_free(sc);
		X509_free(root);
		SSL_free(cs);
	}

	begin("upstream peer that closes mid-handshake");
	{
		struct werr err = { 0 };
		int sv[2];

		pair(sv);
		memset(&c, 0, sizeof(c));
		c.ssl = tlsca_client_ssl(trusting, "upstream.test", &err);
		c.tlsca_words = true;
		SSL_set_fd(c.ssl, sv[0]);
		SSL_set_connect_state(c.ssl);
		close(sv[1]);
		step(&c);
		CHECK(c.rc == -1 && c.why[0], "words: %s", c.why);
		close_side(&c);
	}

	tlsca_free(trusting);
	tlsca_free(plain);
	SSL_CTX_free(uctx);
	X509_free(cert);
	EVP_PKEY_free(key);
	unlink(anchors);
}

static void
test_upstream_ca_errors(void)
{
	struct werr err = { 0 };
	const char *path;
	FILE *f;

	begin("upstream_ca that is missing, empty or not PEM");
	path = tmp_path("missing.pem");
	CHECK(!tlsca_new(path, &err) && strstr(err.msg, path), "missing: %s", err.msg);
	path = tmp_path("empty.pem");
	fclose(fopen(path, "w"));
	err.msg[0] = '\0';
	CHECK(!tlsca_new(path, &err) && strstr(err.msg, path), "empty: %s", err.msg);
	f = fopen(path, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	err.msg[0] = '\0';
	CHECK(!tlsca_new(path, &err) && strstr(err.msg, path), "garbage: %s", err.msg);
	unlink(path);
	err.msg[0] = '\0';
	CHECK(!tlsca_new(tmpdir, &err) && strstr(err.msg, tmpdir), "a directory: %s", err.msg);
}

int
main(void)
{
	struct tlsca *ca;
	SSL_CTX *actx;
	struct werr err = { 0 };

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tlsca.XXXXXX");
	if (!mkdtemp(tmpdir))
		bail("mkdtemp");
	signal(SIGPIPE, SIG_IGN);

	test_ca_cert();
	test_leaves();
	test_cache();

	ca = new_ca(NULL);
	test_files(ca);
	if (tlsca_write_bundle(ca, SYSTEM_BUNDLE, tmp_path("bundle.pem"), &err) < 0)
		bail("bundle");
	actx = agent_ctx(tmp_path("bundle.pem"));
	test_agent_handshake(ca, actx);
	test_agent_ip_verified(ca, actx);
	test_sni(ca, actx);
	test_resumption(ca, actx);
	SSL_CTX_free(actx);
	tlsca_free(ca);

	test_upstream();
	test_upstream_ca_errors();

	unlink(tmp_path("bundle.pem"));
	unlink(tmp_path("ca.pem"));
	rmdir(tmpdir);
	printf("1..%d\n%d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail ? 1 : 0;
}
