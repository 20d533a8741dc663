/*
 * The network policy decision: may this binary reach this host and port?
 * A connection is allowed only when one network_policies entry has an
 * endpoint matching the destination and a binary matching the connecting
 * process; everything else is denied with a reason an agent can act on.
 *
 * The decision is taken on the name the client asked for, before anything
 * is resolved (netpolicy_decide); the addresses the name resolves to are
 * checked afterwards (netpolicy_check_addr), so a public name that points
 * at 127.0.0.1 or the metadata service cannot be used as a way in.
 *
 * Pure functions over a loaded struct policy (borrowed, never modified).
 */
#ifndef WARDEN_NETPOLICY_H
#define WARDEN_NETPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../policy/policy.h"

/* A requested destination, normalised. */
struct dest {
	char host[256];		/* lower-case A-label name, or canonical IP text */
	bool is_ip;
	int family;		/* AF_INET/AF_INET6 when is_ip */
	uint8_t addr[16];	/* network order; IPv4 in the first 4 bytes */
	uint16_t port;
};

/*
 * Normalise what a client asked for: brackets stripped, lower-cased,
 * trailing dot dropped, a UTF-8 internationalised name converted to its
 * punycode A-label (IDNA 2008, as the loader requires policies to be
 * written), IP literals parsed and written canonically (an IPv4-mapped
 * IPv6 literal becomes its IPv4 form, so "[::ffff:127.0.0.1]" is
 * 127.0.0.1).  Legacy IPv4 spellings such as "0x7f.1" or "2130706433" are
 * refused, not guessed at.  Returns NULL, or a static reason.
 *
 * Precisely:
 *   - IPv4 only as a strict dotted quad (inet_pton); any other host whose
 *     last label is a number ("127.1", "0177.0.0.1", "1.2.3.0x4",
 *     "127.0.0.1." with its trailing dot) is refused, never taken as a name.
 *   - IPv6 via inet_pton, with or without brackets; zone ids ("%eth0") are
 *     refused.  The IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible
 *     (::a.b.c.d, except :: and ::1) forms become IPv4 (is_ip, AF_INET);
 *     other forms, NAT64 included, stay IPv6.  host is inet_ntop's text.
 *   - Names: ASCII lower-cased, one trailing dot dropped; labels of 1-63
 *     of [a-z0-9-_], at most 253 in all.  A name with non-ASCII bytes is
 *     converted with IDNA 2008 / UTS #46 non-transitional processing
 *     (libidn2); a conversion that yields a number or an IP address
 *     (full-width digits) is refused.
 *   - raw longer than 1024 bytes and port 0 are refused.
 * On failure *d is zeroed, so it never holds a half-normalised host.
 */
const char *dest_normalize(const char *raw, uint16_t port, struct dest *d);

/* Who is connecting: the executable and, for children: rules, its ancestors. */
struct binident {
	const char *exe;		/* /proc/PID/exe of the connecting process */
	const char *const *ancestors;	/* parent's exe, grandparent's, ...; init excluded */
	size_t nancestors;
};

struct netdecision {
	bool allow;
	const struct net_policy *rule;	/* the deciding entry, or NULL; points into the policy */
	const struct endpoint *ep;	/* the matching endpoint, or NULL; likewise */
	bool named_exactly;		/* ep names the host or IP exactly (no wildcard) */
	char reason[256];		/* why, in words; set for allow and deny */
};

/*
 * Decide on the name.  Entries are tried in key order; an entry matching
 * endpoint and binary allows.  Otherwise the reason says what was missing:
 * "no network policy allows HOST:PORT", or "binary /usr/bin/curl not
 * allowed by policy 'NAME'" when an entry matched the endpoint only.
 * An IP literal matches only endpoints whose host is that IP, or host-less
 * endpoints whose allowed_ips contain it.
 *
 * Semantics a caller must know:
 *   - d must come from dest_normalize(); IPs are compared as bytes, names
 *     as the normalised strings.
 *   - A host name never matches a host-less endpoint (allowed_ips only):
 *     such an endpoint is for IP literals at decision time.  The
 *     addresses an allowed name resolves to are checked against the
 *     matching endpoint's allowed_ips by netpolicy_check_addr().
 *   - Wildcards: "*.example.com" is exactly one label before the domain,
 *     "**.example.com" one or more, "api-*.example.com" one label matching
 *     the glob; none matches "example.com" itself.
 *   - Binaries: glob_match_path() on b->exe; with children: true also on
 *     each ancestor.  An entry without binaries never allows.
 *   - The first entry (in key order) with a matching endpoint and binary
 *     decides.  Within that entry an endpoint naming the host exactly is
 *     preferred to a wildcard or host-less one (it gives named_exactly).
 *   - On "binary ... not allowed", rule and ep name the first entry whose
 *     endpoint matched, so the denial can cite it; allow stays false.
 *   - rule and ep borrow from p: keep p alive (across a reload) while the
 *     decision is used, netpolicy_check_addr() included.
 *   - "IP literal HOST is not listed in any network policy; connect by the
 *     host name ..." when no endpoint matched an IP literal at all (on any
 *     port), to steer the agent to the name.
 *   - reason is always set, NUL-terminated, control bytes of the
 *     executable path replaced by '?', and cut with "..." to fit.
 *   - Checked in this order: network_policies empty, process unidentified
 *     (exe NULL or ""), then the entries.
 */
void netpolicy_decide(const struct policy *p, const struct dest *d,
    const struct binident *b, struct netdecision *out);

/*
 * Does this endpoint cover the destination (host and port, as
 * netpolicy_decide matches them)?  *exact (may be NULL) says whether it
 * names the host exactly rather than by wildcard or allowed_ips.
 */
bool netpolicy_endpoint_matches(const struct endpoint *ep, const struct dest *d, bool *exact);

/*
 * Beyond the comments below: 192.0.0/24, 198.18/15 and the IPv4 TEST-NETs,
 * 2001:db8::/32, 100::/64 and the rest of ::/8 are reserved; fec0::/10
 * (old site-local) is private.  IPv4-mapped, IPv4-compatible, SIIT
 * (::ffff:0:a.b.c.d), NAT64 64:ff9b::/96 and local-use 64:ff9b:1::/48
 * (IPv4 in the last 32 bits) and 6to4 2002::/16 (IPv4 in bytes 2-5) are
 * classified by their IPv4 address.  NULL or an unknown family is
 * ADDR_RESERVED.
 */
enum addr_class {
	ADDR_PUBLIC,
	ADDR_LOOPBACK,		/* 127/8, ::1 */
	ADDR_UNSPECIFIED,	/* 0.0.0.0/8, :: */
	ADDR_LINK_LOCAL,	/* 169.254/16, fe80::/10 */
	ADDR_METADATA,		/* 169.254.169.254, fd00:ec2::254 */
	ADDR_PRIVATE,		/* 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7 */
	ADDR_MULTICAST,		/* 224/4, ff00::/8 */
	ADDR_RESERVED,		/* 240/4, 255.255.255.255, other special-use */
};

/* Classify an address; mapped/translated IPv6 forms are classed by their IPv4. */
enum addr_class addr_classify(const struct sockaddr *sa);
const char *addr_class_name(enum addr_class c);

/*
 * May an allowed decision connect to this resolved address?  With
 * allowed_ips on the endpoint the address must fall in one of them.
 * Otherwise anything but ADDR_PUBLIC is refused unless the endpoint names
 * the host or IP exactly (d->named_exactly); multicast and reserved are
 * always refused.  Returns NULL, or a static reason.
 *
 * In detail:
 *   - d not allowed (or without an endpoint): refused; this never turns a
 *     denial into an allow.
 *   - An endpoint whose host is an IP literal accepts only that address.
 *   - With allowed_ips: the address (an IPv4-mapped IPv6 address counts as
 *     its IPv4 form) must lie in one of them; inside them, loopback,
 *     unspecified, link-local, metadata, multicast and reserved addresses
 *     still need named_exactly; private and public ones do not.
 *   - Without allowed_ips: public is fine; multicast and reserved are
 *     always refused; loopback, unspecified, link-local, metadata and
 *     private need named_exactly.
 */
const char *netpolicy_check_addr(const struct netdecision *d, const struct sockaddr *sa);

#endif
