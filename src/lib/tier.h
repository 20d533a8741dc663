/*
 * Sensitivity tiers, shared by the policy (a provider's max_tier), the
 * classifiers (a request's tier) and the router.  Ordered: a larger value
 * is more sensitive, so "admits" is a plain comparison.
 */
#ifndef WARDEN_TIER_H
#define WARDEN_TIER_H

#include <stdbool.h>
#include <string.h>

enum tier { TIER_PUBLIC = 0, TIER_INTERNAL, TIER_CONFIDENTIAL, TIER_RESTRICTED };
#define TIER_COUNT 4

static inline const char *
tier_name(enum tier t)
{
	static const char *const names[] = { "public", "internal", "confidential", "restricted" };
	return (unsigned)t < TIER_COUNT ? names[t] : "restricted";
}

/* Exact, lower-case names only; returns -1 for anything else. */
static inline int
tier_parse(const char *s, size_t n, enum tier *out)
{
	for (int t = 0; t < TIER_COUNT; t++) {
		const char *name = tier_name((enum tier)t);
		if (strlen(name) == n && memcmp(name, s, n) == 0) {
			*out = (enum tier)t;
			return 0;
		}
	}
	return -1;
}

static inline enum tier
tier_max(enum tier a, enum tier b)
{
	return a > b ? a : b;
}

#endif
