#include "policy_check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dl.h"
#include "../lib/util.h"

static bool
label_ok(const char *s, size_t n, bool allow_star)
{
	if (n == 0 || n > 63)
		return false;
	if (s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '_')
			continue;
		if (c == '*' && allow_star)
			continue;
		return false;
	}
	return true;
}

/*
 * libpsl is loaded on first use rather than linked: only a wildcard host
 * needs it, most policies (the default one included) have none, and mapping
 * it (with libidn2 and libunistring behind it) at every start is time
 * `warden run` spends before doing anything.  If it cannot be loaded, the
 * wildcard is refused: the check is never skipped.
 */
#ifndef LIBPSL_SONAME
#define LIBPSL_SONAME "libpsl.so.5"
#endif

static struct {
	const psl_ctx_t *(*builtin)(void);
	int (*is_public_suffix2)(const psl_ctx_t *, const char *, int);
} psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void
psl_load(void)
{
	static const char *const names[] = { "psl_builtin", "psl_is_public_suffix2" };
	void *syms[2];

	if (dl_load(LIBPSL_SONAME, names, syms, 2)) {
		*(void **)&psl.builtin = syms[0];
		*(void **)&psl.is_public_suffix2 = syms[1];
	}
}

/* Is suffix a public suffix?  Without libpsl the answer is an error, never "no". */
static const char *
check_not_public_suffix(const char *suffix)
{
	const psl_ctx_t *ctx;

	pthread_once(&psl_once, psl_load);
	if (!psl.builtin)
		return "wildcard hosts are checked against the public suffix list, but "
		    LIBPSL_SONAME " could not be loaded (Debian package libpsl5)";
	if (!(ctx = psl.builtin()))
		return "wildcard hosts are checked against the public suffix list, but "
		    "this libpsl has no built-in list";
	if (psl.is_public_suffix2(ctx, suffix, PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE))
		return "wildcard over a public suffix (like '*.co.uk') is not allowed; name the domain";
	return NULL;
}

const char *
check_host(char *host, bool *is_ip, bool *wildcard)
{
	unsigned char buf[16];
	size_t n = strlen(host);
	const char *dot;

	*is_ip = *wildcard = false;
	if (n == 0)
		return "host is empty";
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)host[i] >= 0x80)
			return "host contains non-ASCII characters; write internationalised names in their punycode form (xn--...)";
		host[i] = (char)tolower((unsigned char)host[i]);
	}
	/* IP literals, with or without IPv6 brackets. */
	if (host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
		n -= 2;
		if (inet_pton(AF_INET6, host, buf) != 1)
			return "host in brackets is not an IPv6 address";
	}
	if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1) {
		*is_ip = true;
		return NULL;
	}
	if (strchr(host, '/'))
		return "host must be a name or an IP address, not a CIDR range (use allowed_ips)";
	if (strchr(host, ':'))
		return "host must not contain a port or ':' (use port: or ports:)";
	if (n > 1 && host[n - 1] == '.')
		host[--n] = '\0';
	if (n > 253)
		return "host name is longer than 253 characters";

	/* Wildcards: '*' or '**' confined to the first label. */
	dot = strchr(host, '.');
	if (strchr(host, '*')) {
		if (!dot)
			return "a bare wildcard matches every host; name a domain, e.g. '*.example.com'";
		if (strchr(dot, '*'))
			return "wildcards are only allowed in the first label, e.g. '*.example.com'";
		if (strcmp(host, "**") != 0 && strstr(host, "**") && (dot - host != 2))
			return "'**' must be the whole first label, e.g. '**.example.com'";
		if (!label_ok(host, (size_t)(dot - host), true))
			return "first label of the wildcard host is not valid";
		*wildcard = true;
	}
	for (const char *c = *wildcard ? dot + 1 : host;;) {
		const char *e = strchrnul(c, '.');
		if (!label_ok(c, (size_t)(e - c), false))
			return "host name has an empty or invalid label (letters, digits, '-' only)";
		if (!*e)
			break;
		c = e + 1;
	}
	if (*wildcard) {
		const char *rest = dot + 1;
		if (!strchr(rest, '.'))
			return "wildcard over a top-level domain is not allowed; name the domain, e.g. '*.example.com'";
		return check_not_public_suffix(rest);
	}
	return NULL;
}

/* Do prefixes a/abits and b/bbits share an address (agree on min(abits, bbits) bits)? */
static bool
prefix_overlap(const unsigned char *a, unsigned abits, const unsigned char *b, unsigned bbits)
{
	unsigned n = abits < bbits ? abits : bbits;

	for (unsigned i = 0; i < n; i++) {
		unsigned char m = (unsigned char)(0x80u >> (i % 8));
		if ((a[i / 8] & m) != (b[i / 8] & m))
			return false;
	}
	return true;
}

const char *
check_cidr(const char *s, char **out)
{
	char addr[64];
	unsigned char buf[16];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	int fam, maxbits;
	uint64_t bits;

	if (alen == 0 || alen >= sizeof(addr))
		return "not an IP address or CIDR range";
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, buf) == 1) {
		fam = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, addr, buf) == 1) {
		fam = AF_INET6;
		maxbits = 128;
	} else {
		return "not an IP address or CIDR range";
	}
	bits = (uint64_t)maxbits;
	if (slash && (parse_u64(slash + 1, &bits) < 0 || bits > (uint64_t)maxbits))
		return "CIDR prefix length out of range";
	if (fam == AF_INET) {
		uint32_t a = ntohl(*(uint32_t *)(void *)buf);
		uint32_t mask = bits ? ~0u << (32 - bits) : 0;
		uint32_t lo = a & mask, hi = lo | ~mask;
		/* Ranges touching loopback, link-local or 0.0.0.0 are never reachable. */
		if (!(hi < 0x7f000000u || lo > 0x7fffffffu))
			return "allowed_ips must not overlap loopback 127.0.0.0/8";
		if (!(hi < 0xa9fe0000u || lo > 0xa9feffffu))
			return "allowed_ips must not overlap link-local 169.254.0.0/16 (cloud metadata)";
		if (lo == 0)
			return "allowed_ips must not include 0.0.0.0";
		a = lo;
		a = htonl(a);
		memcpy(buf, &a, 4);
	} else {
		static const unsigned char loop6[16] = { [15] = 1 };
		static const unsigned char ll6[16] = { 0xfe, 0x80 };
		static const unsigned char mapped6[16] = { [10] = 0xff, [11] = 0xff };
		static const unsigned char any6[16] = { 0 };

		/* Overlap, not equality: '::/127' holds ::1, 'fe00::/7' holds fe80::/10. */
		if (bits == 0)
			return "allowed_ips must not be ::/0";
		if (prefix_overlap(buf, (unsigned)bits, loop6, 128))
			return "allowed_ips must not include ::1";
		if (prefix_overlap(buf, (unsigned)bits, ll6, 10))
			return "allowed_ips must not overlap link-local fe80::/10";
		/* ::ffff:127.0.0.1 is loopback and ::ffff:169.254.169.254 the metadata service. */
		if (prefix_overlap(buf, (unsigned)bits, mapped6, 96))
			return "allowed_ips must not use IPv4-mapped addresses (::ffff:a.b.c.d); write the IPv4 form";
		if (prefix_overlap(buf, (unsigned)bits, any6, 128))
			return "allowed_ips must not include ::";
		for (uint64_t i = bits; i < 128; i++)
			buf[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
	}
	inet_ntop(fam, buf, addr, sizeof(addr));
	*out = xasprintf("%s/%u", addr, (unsigned)bits);
	return NULL;
}

const char *
check_binary_glob(const char *s)
{
	const char *p = path_problem(s);

	if (p)
		return p;
	if (strcmp(s, "/") == 0)
		return "binary path must name an executable, not '/'";
	return NULL;
}

const char *
check_http_path(const char *s)
{
	if (strcmp(s, "**") == 0 || strcmp(s, "*") == 0)
		return NULL;
	if (s[0] != '/')
		return "HTTP path must start with '/' (or be '**' for any path)";
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '#')
			return "HTTP path must not contain spaces, control characters or '#'";
	return NULL;
}

const char *
check_method(const char *s)
{
	if (strcmp(s, "*") == 0)
		return NULL;
	if (!*s || strlen(s) > 32)
		return "HTTP method must be a token such as GET or '*'";
	for (const char *c = s; *c; c++)
		if (!isupper((unsigned char)*c) && *c != '-' && *c != '_')
			return "HTTP method must be upper-case, e.g. GET, POST, or '*'";
	return NULL;
}

const char *
check_env_name(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return "environment variable names start with a letter or '_'";
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return "environment variable names hold only letters, digits and '_'";
	return NULL;
}

const char *
check_user(const char *s)
{
	uint64_t id;

	if (parse_u64(s, &id) == 0) {
		if (id == 0)
			return "the agent never runs as root (uid/gid 0)";
		if (id >= 4294967295u)
			return "id out of range (1..4294967294)";
		return NULL;
	}
	if (strcmp(s, "root") == 0)
		return "the agent never runs as root";
	if (!*s || strlen(s) > 32)
		return "not a valid user or group name";
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
			return "not a valid user or group name";
	return NULL;
}

const char *
check_policy_key(const char *s)
{
	if (!*s || strlen(s) > 128)
		return "policy names are 1 to 128 characters";
	if (strncmp(s, "_provider_", 10) == 0)
		return "names starting with '_provider_' are reserved";
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
			return "policy names hold only letters, digits, '_', '-' and '.'";
	return NULL;
}
