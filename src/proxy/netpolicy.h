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
	const struct net_policy *rule;	/* the deciding entry, or NULL */
	const struct endpoint *ep;	/* the matching endpoint, or NULL */
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
 */
void netpolicy_decide(const struct policy *p, const struct dest *d,
    const struct binident *b, struct netdecision *out);

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
 */
const char *netpolicy_check_addr(const struct netdecision *d, const struct sockaddr *sa);

#endif
