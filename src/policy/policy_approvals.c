/*
 * The policy's `approvals` section (warden extension, dynamic): what
 * happens to a connection the policy denies, and whether the agent may
 * propose changes at http://policy.local.
 *
 *   approvals:
 *     mode: ask            # deny (default) | ask: hold it while a human decides
 *     timeout: 60s         # how long a held request waits: 1s to 1h
 *     proposals: true      # the agent may propose network_policies entries
 *     rate_per_minute: 10  # proposals per minute, 1 to 600
 *
 * Parsed with the loader's machinery (policy_walk.h).  The canonical text
 * is written only when the section was, so that every policy without it
 * keeps the hash it always had.
 */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

#include "policy_walk.h"
#include "ynode.h"

#define EX_APPROVALS "approvals:\n  mode: ask            # or deny (the default)\n  timeout: 60s         # 1s to 1h: 90s, 2m, or seconds\n  proposals: true      # the agent may propose network_policies entries\n  rate_per_minute: 10  # 1 to 600\n"
#define MAX_TIMEOUT_S 3600
#define MAX_RATE 600

static void
ap_mode(struct pctx *c, struct ynode *v, void *o)
{
	struct approvals_policy *ap = o;
	const char *s = pl_scalar(c, v, "approvals.mode", EX_APPROVALS);

	if (!s)
		return;
	if (strcmp(s, "ask") == 0)
		ap->ask = true;
	else if (strcmp(s, "deny") == 0)
		ap->ask = false;
	else
		pl_diag(c, v, "deny or ask", EX_APPROVALS, "unknown approvals.mode '%s'", s);
}

/*
 * "90s", "2m", "1h" or a plain number of seconds.  Seconds are the unit:
 * a hold is a human's reaction time, so finer steps mean nothing.
 */
static void
ap_timeout(struct pctx *c, struct ynode *v, void *o)
{
	struct approvals_policy *ap = o;
	const char *s = pl_scalar(c, v, "approvals.timeout", EX_APPROVALS);
	char num[24];
	size_t n;
	uint64_t val, mult = 1;

	if (!s)
		return;
	n = strspn(s, "0123456789");
	if (n == 0 || n >= sizeof(num) || (s[n] && s[n + 1]) ||
	    (s[n] && s[n] != 's' && s[n] != 'm' && s[n] != 'h'))
		goto bad;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_u64(num, &val) < 0)
		goto bad;
	mult = s[n] == 'm' ? 60 : s[n] == 'h' ? 3600 : 1;
	if (val == 0 || val > MAX_TIMEOUT_S / mult)
		goto bad;
	ap->timeout_ms = (unsigned)(val * mult * 1000);
	return;
bad:
	pl_diag(c, v, "a duration from 1s to 1h, such as 60s, 2m or 90", EX_APPROVALS,
	    "approvals.timeout '%s' is not a duration from 1s to 1h", s);
}

static void
ap_proposals(struct pctx *c, struct ynode *v, void *o)
{
	struct approvals_policy *ap = o;

	if (v->kind == YN_SCALAR && v->plain && strcmp(v->str, "true") == 0)
		ap->proposals = true;
	else if (v->kind == YN_SCALAR && v->plain && strcmp(v->str, "false") == 0)
		ap->proposals = false;
	else
		pl_diag(c, v, "true or false", EX_APPROVALS, "approvals.proposals must be true or false");
}

static void
ap_rate(struct pctx *c, struct ynode *v, void *o)
{
	struct approvals_policy *ap = o;
	uint64_t n;

	if (v->kind != YN_SCALAR || !v->plain || parse_u64(v->str, &n) < 0 || n == 0 ||
	    n > MAX_RATE) {
		pl_diag(c, v, "an integer from 1 to 600", EX_APPROVALS,
		    "approvals.rate_per_minute must be an integer from 1 to 600");
		return;
	}
	ap->rate_per_minute = (unsigned)n;
}

static const struct key_spec approvals_keys[] = {
	{ "mode", ap_mode },
	{ "timeout", ap_timeout },
	{ "proposals", ap_proposals },
	{ "rate_per_minute", ap_rate },
	{ NULL, NULL },
};

void
pl_approvals_defaults(struct approvals_policy *ap)
{
	ap->present = false;
	ap->ask = false;
	ap->timeout_ms = APPROVALS_DEFAULT_TIMEOUT_MS;
	ap->proposals = true;
	ap->rate_per_minute = APPROVALS_DEFAULT_RATE;
}

void
pl_top_approvals(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	c->p->approvals.present = true;
	pl_walk_map(c, v, "approvals", approvals_keys, EX_APPROVALS, &c->p->approvals);
}

void
pl_approvals_canon(struct sbuf *b, const struct approvals_policy *ap)
{
	if (!ap->present)
		return;
	sbuf_addf(b, "approvals:\n  mode: %s\n  timeout: %us\n  proposals: %s\n"
	    "  rate_per_minute: %u\n", ap->ask ? "ask" : "deny", ap->timeout_ms / 1000,
	    ap->proposals ? "true" : "false", ap->rate_per_minute);
}
