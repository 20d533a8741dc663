/*
 * The network policy decision, and the address check that follows it.
 *
 * Everything here is a pure function over a loaded policy, so it can be
 * tested exhaustively and called from the event loop without blocking.
 * Three things make it subtle:
 *
 *   - The same destination can be spelled many ways ("API.example.com.",
 *     "[::ffff:127.0.0.1]", "bücher.example" vs "xn--bcher-kva.example").
 *     dest_normalize() reduces every spelling to one form, the same form
 *     the loader (policy_check.c) gives policy hosts: lower case, no
 *     trailing dot, punycode A-labels, IP literals compared as bytes.
 *     Spellings that resolvers interpret in surprising ways (inet_aton's
 *     "0x7f.1", "2130706433", "127.1") are refused rather than guessed at:
 *     if warden read them as names and the host's resolver read them as
 *     addresses, the decision would be taken about one thing and the
 *     connection made to another.
 *
 *   - A name says nothing about where it points.  The decision is taken on
 *     the name (before resolving), and netpolicy_check_addr() then refuses
 *     resolved addresses that reach inside (loopback, private, metadata)
 *     unless the policy named that host exactly.  IPv6 forms that embed an
 *     IPv4 address (mapped, compatible, NAT64, 6to4) are classified by the
 *     address they embed, so "::ffff:169.254.169.254" is the metadata
 *     service, not a public address.
 *
 *   - Every error path ends in deny: an unparsable policy string, a NULL
 *     argument or an unknown address family never allows anything.
 */
#include "netpolicy.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../lib/dl.h"
#include "../lib/glob.h"

/*
 * libidn2 is loaded the first time a destination is not ASCII, as libpsl
 * is for wildcards (policy_check.c): linked, it and libunistring behind it
 * are mapped and relocated at every start (~0.15 ms of `warden run`).  If
 * it cannot be loaded, such a destination is refused.
 */
#ifndef LIBIDN2_SONAME
#define LIBIDN2_SONAME "libidn2.so.0"
#endif

static struct {
	int (*to_ascii_8z)(const char *input, char **output, int flags);
	void (*free)(void *ptr);
} idn2;
static pthread_once_t idn_once = PTHREAD_ONCE_INIT;

static void
idn_load(void)
{
	static const char *const names[] = { "idn2_to_ascii_8z", "idn2_free" };
	void *syms[2];

	if (dl_load(LIBIDN2_SONAME, names, syms, 2)) {
		*(void **)&idn2.to_ascii_8z = syms[0];
		*(void **)&idn2.free = syms[1];
	}
}

#define DEST_RAW_MAX 1024	/* a UTF-8 name may be longer than its A-label */

/* ---- reasons ------------------------------------------------------------- */

/*
 * A bounded reason builder.  Untrusted text (the executable path) has its
 * control bytes replaced, and a reason that does not fit is cut on a UTF-8
 * character boundary and marked with "...".
 */
struct rbuf {
	char *p;
	size_t cap, len;
	bool cut;
};

static void
rb_add(struct rbuf *b, const char *s)
{
	for (; *s && !b->cut; s++) {
		unsigned char c = (unsigned char)*s;

		if (b->len + 1 >= b->cap) {
			b->cut = true;
			break;
		}
		b->p[b->len++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	b->p[b->len] = '\0';
}

static void
rb_port(struct rbuf *b, uint16_t port)
{
	char num[8];

	snprintf(num, sizeof(num), "%u", (unsigned)port);
	rb_add(b, num);
}

static void
rb_finish(struct rbuf *b)
{
	if (!b->cut)
		return;
	if (b->len > b->cap - 4)
		b->len = b->cap - 4;
	/* Do not keep the first bytes of a multi-byte character. */
	while (b->len > 0 && ((unsigned char)b->p[b->len] & 0xc0) == 0x80)
		b->len--;
	memcpy(b->p + b->len, "...", 4);
	b->len += 3;
}

static void
set_reason(struct netdecision *out, const char *a, const char *b, const char *c,
    const char *d, const char *e)
{
	struct rbuf rb = { .p = out->reason, .cap = sizeof(out->reason) };
	const char *parts[] = { a, b, c, d, e };

	out->reason[0] = '\0';
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i])
			rb_add(&rb, parts[i]);
	rb_finish(&rb);
}

/* "host:port", with IPv6 literals in brackets. */
static void
set_reason_hostport(struct netdecision *out, const char *prefix, const struct dest *d)
{
	struct rbuf rb = { .p = out->reason, .cap = sizeof(out->reason) };
	bool v6 = d->is_ip && d->family == AF_INET6;

	out->reason[0] = '\0';
	rb_add(&rb, prefix);
	rb_add(&rb, v6 ? "[" : "");
	rb_add(&rb, d->host);
	rb_add(&rb, v6 ? "]:" : ":");
	rb_port(&rb, d->port);
	rb_finish(&rb);
}

/* ---- addresses ----------------------------------------------------------- */

static const uint8_t v4mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };

/*
 * Reduce an IPv6 address that is really an IPv4 one (mapped ::ffff:a.b.c.d,
 * or the deprecated compatible ::a.b.c.d other than :: and ::1) to the
 * IPv4 form, in place.  Returns the resulting family.
 */
static int
unmap_v6(uint8_t a[16])
{
	static const uint8_t zero12[12];
	bool compat = memcmp(a, zero12, 12) == 0 && ((a[12] | a[13] | a[14]) != 0 || a[15] > 1);

	if (memcmp(a, v4mapped_prefix, 12) == 0 || compat) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		return AF_INET;
	}
	return AF_INET6;
}

/* Parse an IP literal the way destinations are normalised. */
static bool
ip_parse(const char *s, int *family, uint8_t a[16])
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		*family = unmap_v6(a);
		return true;
	}
	return false;
}

/* The address in sa as (family, bytes), IPv4-mapped IPv6 as IPv4. */
static bool
sa_bytes(const struct sockaddr *sa, int *family, uint8_t a[16])
{
	memset(a, 0, 16);
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		memcpy(a, &in->sin_addr, 4);
		*family = AF_INET;
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(a, &in6->sin6_addr, 16);
		*family = AF_INET6;
		if (memcmp(a, v4mapped_prefix, 12) == 0) {
			memmove(a, a + 12, 4);
			memset(a + 4, 0, 12);
			*family = AF_INET;
		}
		return true;
	}
	return false;
}

/* Is (family, a) inside the normalised CIDR text "addr/bits"? */
static bool
cidr_contains(const char *cidr, int family, const uint8_t a[16])
{
	char text[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(cidr, '/');
	uint8_t net[16] = { 0 };
	uint64_t bits;
	int fam, maxbits;
	size_t n;

	if (!slash || (n = (size_t)(slash - cidr)) == 0 || n >= sizeof(text))
		return false;
	memcpy(text, cidr, n);
	text[n] = '\0';
	if (inet_pton(AF_INET, text, net) == 1) {
		fam = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, text, net) == 1) {
		fam = AF_INET6;
		maxbits = 128;
	} else {
		return false;
	}
	if (fam != family || parse_u64(slash + 1, &bits) < 0 || bits > (uint64_t)maxbits)
		return false;
	for (unsigned i = 0; i < bits; i++) {
		uint8_t m = (uint8_t)(0x80u >> (i % 8));
		if ((a[i / 8] & m) != (net[i / 8] & m))
			return false;
	}
	return true;
}

static bool
allowed_ips_contain(const struct strv *ips, int family, const uint8_t a[16])
{
	for (size_t i = 0; i < ips->n; i++)
		if (cidr_contains(ips->v[i], family, a))
			return true;
	return false;
}

/* ---- dest_normalize ------------------------------------------------------ */

static void
set_ip(struct dest *d, int family, const uint8_t a[16])
{
	d->is_ip = true;
	d->family = family;
	memcpy(d->addr, a, 16);
	inet_ntop(family, a, d->host, sizeof(d->host));
}

/*
 * Does the last label read as a number to inet_aton(3) -- decimal digits,
 * or "0x" and hex digits?  Such a host is an address in a legacy spelling
 * ("127.1", "0x7f.0.0.1", "2130706433", "0177.0.0.1"), never a name: no
 * top-level domain is numeric.  This is the WHATWG URL rule.
 */
static bool
ends_in_number(const char *h)
{
	const char *l = strrchr(h, '.');
	const char *c;

	l = l ? l + 1 : h;
	if (l[0] == '0' && l[1] == 'x') {
		for (c = l + 2; *c; c++)
			if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
				return false;
		return true;
	}
	if (!*l)
		return false;
	for (c = l; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	return true;
}

static const char *
check_name(const char *h)
{
	size_t n = strlen(h);

	if (n > 253)
		return "destination host name is longer than 253 characters";
	for (const char *c = h;;) {
		const char *e = strchrnul(c, '.');

		if (e == c)
			return "destination host name has an empty label";
		if (e - c > 63)
			return "destination host name has a label longer than 63 characters";
		for (const char *q = c; q < e; q++)
			if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '_'))
				return "destination host name may hold only letters, digits, '-', '_' and '.'";
		if (!*e)
			break;
		c = e + 1;
	}
	return NULL;
}

const char *
dest_normalize(const char *raw, uint16_t port, struct dest *d)
{
	char buf[DEST_RAW_MAX + 1];
	uint8_t a[16];
	bool non_ascii = false, idn = false;
	size_t n;

	if (!d)
		return "no destination";
	memset(d, 0, sizeof(*d));
	if (!raw)
		return "destination host is missing";
	n = strnlen(raw, DEST_RAW_MAX + 1);
	if (n == 0)
		return "destination host is empty";
	if (n > DEST_RAW_MAX)
		return "destination host is too long";
	if (port == 0)
		return "destination port 0 is not valid";
	memcpy(buf, raw, n);
	buf[n] = '\0';

	if (buf[0] == '[' || buf[n - 1] == ']') {
		if (n < 3 || buf[0] != '[' || buf[n - 1] != ']')
			return "destination host has unbalanced brackets";
		memmove(buf, buf + 1, n - 2);
		n -= 2;
		buf[n] = '\0';
		if (!strchr(buf, ':'))
			return "brackets in a destination host may only enclose an IPv6 address";
	}
	if (strchr(buf, ':')) {
		if (strchr(buf, '%'))
			return "IPv6 zone ids ('%...') are not allowed in a destination";
		if (inet_pton(AF_INET6, buf, a) != 1)
			return "destination host contains ':' but is not an IPv6 address (give the port separately)";
		set_ip(d, unmap_v6(a), a);
		d->port = port;
		return NULL;
	}

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c >= 0x80)
			non_ascii = true;
		else if (c >= 'A' && c <= 'Z')
			buf[i] = (char)(c - 'A' + 'a');
	}
	if (non_ascii) {
		char *out = NULL;
		int rc;
		size_t m;

		pthread_once(&idn_once, idn_load);
		if (!idn2.to_ascii_8z)
			return "destination host is not ASCII, and libidn2 (" LIBIDN2_SONAME
			    ") cannot be loaded to convert it";
		rc = idn2.to_ascii_8z(buf, &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
		if (rc != IDN2_OK || !out) {
			idn2.free(out);
			return "destination host is not a valid internationalised domain name";
		}
		m = strlen(out);
		if (m > DEST_RAW_MAX) {
			idn2.free(out);
			return "destination host name is longer than 253 characters";
		}
		memcpy(buf, out, m + 1);
		idn2.free(out);
		n = m;
		for (size_t i = 0; i < n; i++)
			if (buf[i] >= 'A' && buf[i] <= 'Z')
				buf[i] = (char)(buf[i] - 'A' + 'a');
		idn = true;
	}

	/* A strict dotted quad; from a Unicode spelling it is refused below. */
	if (!idn && inet_pton(AF_INET, buf, a) == 1) {
		memset(a + 4, 0, 12);
		set_ip(d, AF_INET, a);
		d->port = port;
		return NULL;
	}
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (n == 0 || buf[n - 1] == '.')
		return "destination host has an empty label";
	if (ends_in_number(buf))
		return idn ? "internationalised destination host spells a number or an IP address" :
		    "destination host is an IPv4 address in a legacy form (octal, hex, shortened or one number); "
		    "write a dotted quad such as 192.0.2.1, or use the host name";
	{
		const char *prob = check_name(buf);
		if (prob)
			return prob;
	}
	memcpy(d->host, buf, n + 1);
	d->port = port;
	return NULL;
}

/* ---- netpolicy_decide ---------------------------------------------------- */

/*
 * "*.example.com": exactly one label before ".example.com"; "**.": one or
 * more; "api-*.example.com": one label matching the first-label glob.
 * Never the bare domain.  Both strings are normalised lower case.
 */
static bool
wildcard_match(const char *pat, const char *name)
{
	const char *dot = strchr(pat, '.');
	size_t slen, nlen = strlen(name), plen, llen;
	char label[256], prefix[256];

	if (!dot)
		return false;
	slen = strlen(dot);
	if (nlen <= slen || memcmp(name + nlen - slen, dot, slen) != 0)
		return false;
	plen = nlen - slen;
	llen = (size_t)(dot - pat);
	if (llen == 2 && pat[0] == '*' && pat[1] == '*')
		return true;
	if (memchr(name, '.', plen) || plen >= sizeof(prefix) || llen >= sizeof(label))
		return false;
	memcpy(label, pat, llen);
	label[llen] = '\0';
	memcpy(prefix, name, plen);
	prefix[plen] = '\0';
	return glob_match_path(label, prefix);
}

static bool
host_match(const struct endpoint *ep, const struct dest *d)
{
	if (d->is_ip) {
		uint8_t a[16];
		int fam;

		if (!ep->host)
			return allowed_ips_contain(&ep->allowed_ips, d->family, d->addr);
		return ep->host_is_ip && ip_parse(ep->host, &fam, a) && fam == d->family &&
		    memcmp(a, d->addr, 16) == 0;
	}
	if (!ep->host || ep->host_is_ip)
		return false;
	if (ep->host_wildcard)
		return wildcard_match(ep->host, d->host);
	return strcmp(ep->host, d->host) == 0;
}

static bool
port_match(const struct endpoint *ep, uint16_t port)
{
	for (size_t i = 0; i < ep->nports; i++)
		if (ep->ports[i] == port)
			return true;
	return false;
}

static bool
names_exactly(const struct endpoint *ep)
{
	return ep->host && !ep->host_wildcard;
}

static bool
binary_match(const struct net_policy *np, const struct binident *b)
{
	for (size_t i = 0; i < np->nbinaries; i++) {
		const struct binary_rule *r = &np->binaries[i];

		if (glob_match_path(r->path, b->exe))
			return true;
		if (!r->children || !b->ancestors)
			continue;
		for (size_t j = 0; j < b->nancestors; j++)
			if (b->ancestors[j] && glob_match_path(r->path, b->ancestors[j]))
				return true;
	}
	return false;
}

bool
netpolicy_endpoint_matches(const struct endpoint *ep, const struct dest *d, bool *exact)
{
	if (exact)
		*exact = names_exactly(ep);
	return host_match(ep, d) && port_match(ep, d->port);
}

void
netpolicy_decide(const struct policy *p, const struct dest *d,
    const struct binident *b, struct netdecision *out)
{
	const struct net_policy *miss = NULL;
	const struct endpoint *miss_ep = NULL;
	bool host_seen = false;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!p || !d || !b) {
		set_reason(out, "network policy decision without a policy, destination or binary",
		    NULL, NULL, NULL, NULL);
		return;
	}
	if (p->nnet == 0) {
		set_reason(out, "network_policies is empty: no egress is allowed", NULL, NULL, NULL, NULL);
		return;
	}
	if (!b->exe || !*b->exe) {
		set_reason(out, "connecting process could not be identified", NULL, NULL, NULL, NULL);
		return;
	}
	if (!d->host[0] || d->port == 0 || memchr(d->host, '\0', sizeof(d->host)) == NULL) {
		set_reason(out, "destination is not valid", NULL, NULL, NULL, NULL);
		return;
	}

	for (size_t i = 0; i < p->nnet; i++) {
		const struct net_policy *np = &p->net[i];
		const struct endpoint *hit = NULL;

		/* Within an entry an endpoint naming the host exactly wins. */
		for (size_t j = 0; j < np->nendpoints; j++) {
			const struct endpoint *ep = &np->endpoints[j];

			if (!host_match(ep, d))
				continue;
			host_seen = true;
			if (!port_match(ep, d->port))
				continue;
			if (!hit || (!names_exactly(hit) && names_exactly(ep)))
				hit = ep;
		}
		if (!hit)
			continue;
		if (np->nbinaries && binary_match(np, b)) {
			out->allow = true;
			out->rule = np;
			out->ep = hit;
			out->named_exactly = names_exactly(hit);
			set_reason(out, "allowed by policy '", np->name ? np->name : np->key, "'", NULL, NULL);
			return;
		}
		if (!miss) {
			miss = np;
			miss_ep = hit;
		}
	}

	if (miss) {
		out->rule = miss;
		out->ep = miss_ep;
		set_reason(out, "binary ", b->exe, " not allowed by policy '",
		    miss->name ? miss->name : miss->key, "'");
	} else if (d->is_ip && !host_seen) {
		set_reason(out, "IP literal ", d->host,
		    " is not listed in any network policy; connect by the host name the policy allows",
		    NULL, NULL);
	} else {
		set_reason_hostport(out, "no network policy allows ", d);
	}
}

/* ---- address classes ----------------------------------------------------- */

static bool
in4(uint32_t a, uint32_t net, unsigned bits)
{
	uint32_t mask = bits ? ~0u << (32 - bits) : 0;

	return (a & mask) == net;
}

static enum addr_class
classify4(const uint8_t b[4])
{
	uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];

	if (in4(a, 0x00000000u, 8))
		return ADDR_UNSPECIFIED;
	if (in4(a, 0x7f000000u, 8))
		return ADDR_LOOPBACK;
	if (a == 0xa9fea9feu)				/* 169.254.169.254 */
		return ADDR_METADATA;
	if (in4(a, 0xa9fe0000u, 16))
		return ADDR_LINK_LOCAL;
	if (in4(a, 0x0a000000u, 8) || in4(a, 0xac100000u, 12) || in4(a, 0xc0a80000u, 16) ||
	    in4(a, 0x64400000u, 10))			/* 10/8 172.16/12 192.168/16 100.64/10 */
		return ADDR_PRIVATE;
	if (in4(a, 0xe0000000u, 4))
		return ADDR_MULTICAST;
	if (in4(a, 0xf0000000u, 4))			/* 240/4, 255.255.255.255 too */
		return ADDR_RESERVED;
	if (in4(a, 0xc0000000u, 24) || in4(a, 0xc6120000u, 15) || in4(a, 0xc0000200u, 24) ||
	    in4(a, 0xc6336400u, 24) || in4(a, 0xcb007100u, 24))
		return ADDR_RESERVED;			/* 192.0.0/24 198.18/15 TEST-NETs */
	return ADDR_PUBLIC;
}

static bool
in6(const uint8_t *a, const uint8_t *net, unsigned bits)
{
	for (unsigned i = 0; i < bits; i++) {
		uint8_t m = (uint8_t)(0x80u >> (i % 8));
		if ((a[i / 8] & m) != (net[i / 8] & m))
			return false;
	}
	return true;
}

static enum addr_class
classify6(const uint8_t a[16])
{
	static const uint8_t zero[16];
	static const uint8_t loop[16] = { [15] = 1 };
	static const uint8_t siit[16] = { [8] = 0xff, [9] = 0xff };
	static const uint8_t nat64[16] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t nat64_local[16] = { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 };
	static const uint8_t sixto4[16] = { 0x20, 0x02 };
	static const uint8_t metadata[16] = { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 };
	static const uint8_t ll[16] = { 0xfe, 0x80 };
	static const uint8_t sitelocal[16] = { 0xfe, 0xc0 };
	static const uint8_t ula[16] = { 0xfc };
	static const uint8_t mcast[16] = { 0xff };
	static const uint8_t doc[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t discard[16] = { 0x01, 0x00 };

	if (memcmp(a, zero, 16) == 0)
		return ADDR_UNSPECIFIED;
	if (memcmp(a, loop, 16) == 0)
		return ADDR_LOOPBACK;
	/* Forms that carry an IPv4 address are what that address is. */
	if (in6(a, v4mapped_prefix, 96) || in6(a, zero, 96) || in6(a, siit, 96) ||
	    in6(a, nat64, 96) || in6(a, nat64_local, 48))
		return classify4(a + 12);
	if (in6(a, sixto4, 16))
		return classify4(a + 2);
	if (a[0] == 0)					/* the rest of ::/8 */
		return ADDR_RESERVED;
	if (memcmp(a, metadata, 16) == 0)
		return ADDR_METADATA;
	if (in6(a, ll, 10))
		return ADDR_LINK_LOCAL;
	if (in6(a, sitelocal, 10) || in6(a, ula, 7))
		return ADDR_PRIVATE;
	if (in6(a, mcast, 8))
		return ADDR_MULTICAST;
	if (in6(a, doc, 32) || in6(a, discard, 64))
		return ADDR_RESERVED;
	return ADDR_PUBLIC;
}

enum addr_class
addr_classify(const struct sockaddr *sa)
{
	uint8_t a[16];

	if (!sa)
		return ADDR_RESERVED;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		memcpy(a, &in->sin_addr, 4);
		return classify4(a);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(a, &in6->sin6_addr, 16);
		return classify6(a);
	}
	return ADDR_RESERVED;	/* unknown families are never a destination */
}

const char *
addr_class_name(enum addr_class c)
{
	switch (c) {
	case ADDR_PUBLIC: return "public";
	case ADDR_LOOPBACK: return "loopback";
	case ADDR_UNSPECIFIED: return "unspecified";
	case ADDR_LINK_LOCAL: return "link-local";
	case ADDR_METADATA: return "metadata";
	case ADDR_PRIVATE: return "private";
	case ADDR_MULTICAST: return "multicast";
	case ADDR_RESERVED: return "reserved";
	}
	return "reserved";
}

/* ---- netpolicy_check_addr ------------------------------------------------ */

/* Why an address of this class needs the host named exactly. */
static const char *const need_exact[] = {
	[ADDR_LOOPBACK] = "destination resolves to a loopback address; name the host exactly in the policy to allow it",
	[ADDR_UNSPECIFIED] = "destination resolves to an unspecified address (0.0.0.0 or ::); name the host exactly in the policy to allow it",
	[ADDR_LINK_LOCAL] = "destination resolves to a link-local address; name the host exactly in the policy to allow it",
	[ADDR_METADATA] = "destination resolves to the cloud metadata service; name the host exactly in the policy to allow it",
	[ADDR_PRIVATE] = "destination resolves to a private address; name the host exactly in the policy, or list the range in allowed_ips, to allow it",
	[ADDR_MULTICAST] = "destination resolves to a multicast address; name the host exactly in the policy to allow it",
	[ADDR_RESERVED] = "destination resolves to a reserved (special-use) address; name the host exactly in the policy to allow it",
};

/* Without allowed_ips these classes are never a destination. */
static const char *const never[] = {
	[ADDR_MULTICAST] = "destination resolves to a multicast address, which is never allowed",
	[ADDR_RESERVED] = "destination resolves to a reserved (special-use) address, which is never allowed",
};

const char *
netpolicy_check_addr(const struct netdecision *d, const struct sockaddr *sa)
{
	enum addr_class c;
	uint8_t a[16];
	int fam;

	if (!d || !d->allow || !d->ep)
		return "the connection was not allowed by the network policy";
	if (!sa_bytes(sa, &fam, a))
		return "destination address is not IPv4 or IPv6";
	c = addr_classify(sa);
	if ((unsigned)c >= ARRAY_SIZE(need_exact))
		return "destination address could not be classified";

	if (d->ep->host && d->ep->host_is_ip) {
		uint8_t want[16];
		int wfam;

		if (!ip_parse(d->ep->host, &wfam, want) || wfam != fam || memcmp(want, a, 16) != 0)
			return "destination address is not the IP address the policy names";
	}
	if (d->ep->allowed_ips.n) {
		if (!allowed_ips_contain(&d->ep->allowed_ips, fam, a))
			return "resolved address is outside the endpoint's allowed_ips";
		switch (c) {
		case ADDR_LOOPBACK: case ADDR_UNSPECIFIED: case ADDR_MULTICAST:
		case ADDR_RESERVED: case ADDR_METADATA: case ADDR_LINK_LOCAL:
			return d->named_exactly ? NULL : need_exact[c];
		default:
			return NULL;
		}
	}
	switch (c) {
	case ADDR_PUBLIC:
		return NULL;
	case ADDR_MULTICAST: case ADDR_RESERVED:
		return never[c];
	default:
		return d->named_exactly ? NULL : need_exact[c];
	}
}
