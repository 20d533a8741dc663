/*
 * Canonical form of a policy.  The text is YAML that warden itself can load
 * back, with a fixed key order, every default written out, every string
 * double-quoted and every set sorted, so that two files meaning the same
 * policy produce the same bytes and therefore the same SHA-256 policy hash.
 * Changing this output changes every policy hash: treat it as a format.
 */
#include "policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hash.h"
#include "policy_walk.h"

/*
 * Double-quoted YAML string.  Anything outside YAML's printable set is
 * escaped, or libyaml would refuse the text (C1 controls, U+FFFE/U+FFFF),
 * or fold it (NEL, LS and PS are line breaks to YAML); escapes decoded on
 * load can produce all of these.  Strings come from libyaml, so the UTF-8
 * is well formed.
 */
static void
q(struct sbuf *b, const char *s)
{
	sbuf_adds(b, "\"");
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		uint32_t cp = c;

		for (size_t i = 1; i < n; i++)
			if (((unsigned char)s[i] & 0xc0) != 0x80)
				n = 1;	/* not UTF-8 after all: copy the byte */
		if (n > 1) {
			cp = c & (0x7fu >> n);
			for (size_t i = 1; i < n; i++)
				cp = (cp << 6) | ((unsigned char)s[i] & 0x3f);
		}
		if (c == '"' || c == '\\')
			sbuf_addf(b, "\\%c", c);
		else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			sbuf_addf(b, "\\x%02x", (unsigned)cp);
		else if (cp == 0x2028 || cp == 0x2029 || cp == 0xfffe || cp == 0xffff)
			sbuf_addf(b, "\\u%04x", (unsigned)cp);
		else
			sbuf_add(b, s, n);
		s += n;
	}
	sbuf_adds(b, "\"");
}

static void
strlist(struct sbuf *b, const char *indent, const char *key, const struct strv *v)
{
	sbuf_addf(b, "%s%s: [", indent, key);
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			sbuf_adds(b, ", ");
		q(b, v->v[i]);
	}
	sbuf_adds(b, "]\n");
}

static void
rule_text(struct sbuf *b, const struct http_rule *r)
{
	sbuf_adds(b, "{method: ");
	q(b, r->method);
	sbuf_adds(b, ", path: ");
	q(b, r->path);
	if (r->query.n) {
		/*
		 * Entries are "name=glob", sorted, names without '='; equal names
		 * mean any-of.  Written back in the loader's own shape: a mapping
		 * of name to glob, or to {any: [globs]} for several.
		 */
		sbuf_adds(b, ", query: {");
		for (size_t i = 0; i < r->query.n;) {
			const char *eq = strchr(r->query.v[i], '=');
			size_t nl = eq ? (size_t)(eq - r->query.v[i]) : strlen(r->query.v[i]);
			size_t j = i + 1;
			char *name = xstrndup(r->query.v[i], nl);

			while (j < r->query.n && strncmp(r->query.v[j], r->query.v[i], nl + 1) == 0)
				j++;
			if (i)
				sbuf_adds(b, ", ");
			q(b, name);
			sbuf_adds(b, ": ");
			if (j - i > 1)
				sbuf_adds(b, "{any: [");
			for (size_t k = i; k < j; k++) {
				if (k > i)
					sbuf_adds(b, ", ");
				q(b, r->query.v[k] + nl + (eq ? 1 : 0));
			}
			if (j - i > 1)
				sbuf_adds(b, "]}");
			free(name);
			i = j;
		}
		sbuf_adds(b, "}");
	}
	sbuf_adds(b, "}");
}

/* Rules are a set: render each, sort the renderings. */
static void
rules(struct sbuf *b, const char *key, const char *prefix, const struct http_rule *r, size_t n)
{
	struct strv items = { 0 };

	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		struct sbuf one;
		sbuf_init(&one, 1 << 20);
		rule_text(&one, &r[i]);
		strv_take(&items, one.p);
	}
	strv_sort_uniq(&items);
	sbuf_addf(b, "          %s:\n", key);
	for (size_t i = 0; i < items.n; i++)
		sbuf_addf(b, "            - %s%s%s\n", prefix, items.v[i], *prefix ? "}" : "");
	strv_free(&items);
}

static char *
endpoint_text(const struct endpoint *e)
{
	struct sbuf b;

	sbuf_init(&b, 16 << 20);
	/* A host-less (allowed_ips only) endpoint has no host line: 'host: null'
	 * would load back as a host named "null". */
	if (e->host) {
		sbuf_adds(&b, "        - host: ");
		q(&b, e->host);
		sbuf_adds(&b, "\n          ports: [");
	} else {
		sbuf_adds(&b, "        - ports: [");
	}
	for (size_t i = 0; i < e->nports; i++)
		sbuf_addf(&b, "%s%u", i ? ", " : "", e->ports[i]);
	sbuf_adds(&b, "]\n");
	if (e->path) {
		sbuf_adds(&b, "          path: ");
		q(&b, e->path);
		sbuf_adds(&b, "\n");
	}
	if (e->allowed_ips.n) {
		struct strv ips = { 0 };
		for (size_t i = 0; i < e->allowed_ips.n; i++)
			strv_push(&ips, e->allowed_ips.v[i]);
		strv_sort_uniq(&ips);
		strlist(&b, "          ", "allowed_ips", &ips);
		strv_free(&ips);
	}
	if (e->protocol != PROTO_NONE)
		sbuf_addf(&b, "          protocol: %s\n", net_protocol_name(e->protocol));
	if (e->tls_skip)
		sbuf_adds(&b, "          tls: skip\n");
	if (e->protocol == PROTO_REST) {
		sbuf_addf(&b, "          enforcement: %s\n",
		    e->enforcement == ENFORCE_AUDIT ? "audit" : "enforce");
		if (e->access != ACCESS_NONE)
			sbuf_addf(&b, "          access: %s\n", net_access_name(e->access));
		rules(&b, "rules", "{allow: ", e->rules, e->nrules);
		rules(&b, "deny_rules", "", e->deny_rules, e->ndeny_rules);
		sbuf_addf(&b, "          allow_encoded_slash: %s\n",
		    e->allow_encoded_slash ? "true" : "false");
	}
	return b.p;
}

/*
 * Credentials name where a secret comes from (a variable name or a path),
 * never the secret.  The section is left out when there are none, so
 * that policies without it keep the hashes they always had; the sandbox
 * compares static sections by their text under the top-level key, and
 * an absent section compares unequal to a present one.
 */
static void
credentials_text(struct sbuf *b, const struct policy *p)
{
	if (p->ncreds == 0)
		return;
	sbuf_adds(b, "credentials:\n");
	for (size_t i = 0; i < p->ncreds; i++) {
		const struct credential *cr = &p->creds[i];

		sbuf_adds(b, "  ");
		q(b, cr->name);
		sbuf_adds(b, ":\n");
		if (cr->from_env) {
			sbuf_adds(b, "    from_env: ");
			q(b, cr->from_env);
			sbuf_adds(b, "\n");
		}
		if (cr->from_file) {
			sbuf_adds(b, "    from_file: ");
			q(b, cr->from_file);
			sbuf_adds(b, "\n");
		}
		if (cr->sandbox_env) {
			sbuf_adds(b, "    sandbox_env: ");
			q(b, cr->sandbox_env);
			sbuf_adds(b, "\n");
		}
		if (cr->header_name) {
			char *h = xasprintf("%s: %s", cr->header_name, cr->header_template);
			sbuf_adds(b, "    header: ");
			q(b, h);
			sbuf_adds(b, "\n");
			free(h);
		}
		/* Empty only for a credential an inference provider uses: leave it out. */
		if (cr->network_policies.n)
			strlist(b, "    ", "network_policies", &cr->network_policies);
	}
}

static void
key_str(struct sbuf *b, const char *indent, const char *key, const char *value)
{
	sbuf_addf(b, "%s%s: ", indent, key);
	q(b, value);
	sbuf_adds(b, "\n");
}

/*
 * The privacy router's section, written only when the policy has one (so
 * that other policies keep their hashes).  Providers by name, routes and
 * their lists in the order written (it is the order of preference),
 * custom rules by name with their terms sorted, every default explicit.
 */
static void
inference_text(struct sbuf *b, const struct inference *inf)
{
	if (!inf->present)
		return;
	sbuf_adds(b, "inference:\n  providers:\n");
	for (size_t i = 0; i < inf->nproviders; i++) {
		const struct infer_provider *pv = &inf->providers[i];

		sbuf_adds(b, "    ");
		q(b, pv->name);
		sbuf_addf(b, ":\n      format: %s\n", infer_format_name(pv->format));
		key_str(b, "      ", "base_url", pv->base_url);
		sbuf_addf(b, "      max_tier: %s\n", tier_name(pv->max_tier));
		if (pv->credential)
			key_str(b, "      ", "credential", pv->credential);
		if (pv->model)
			key_str(b, "      ", "model", pv->model);
	}
	sbuf_adds(b, "  routes:\n");
	for (size_t i = 0; i < inf->nroutes; i++) {
		strlist(b, "    - ", "models", &inf->routes[i].models);
		strlist(b, "      ", "providers", &inf->routes[i].providers);
	}
	sbuf_addf(b, "  on_no_provider: %s\n",
	    inf->on_no_provider == INFER_ON_NONE_REDACT ? "redact" : "deny");
	sbuf_addf(b, "  max_body: %llu\n", (unsigned long long)inf->max_body);
	sbuf_addf(b, "  timeout_ms: %u\n", inf->timeout_ms);
	sbuf_addf(b, "  base64_min_tier: %s\n", tier_name(inf->base64_min_tier));
	sbuf_addf(b, "  custom:%s\n", inf->ncustom ? "" : " []");
	for (size_t i = 0; i < inf->ncustom; i++) {
		const struct infer_custom *cu = &inf->custom[i];

		key_str(b, "    - ", "name", cu->name);
		if (cu->pattern)
			key_str(b, "      ", "pattern", cu->pattern);
		else
			strlist(b, "      ", "terms", &cu->terms);
		sbuf_addf(b, "      tier: %s\n", tier_name(cu->tier));
	}
}

/*
 * External classifiers, in the order written (the order they are asked).
 * An unset timeout_ms is left out rather than filled in from
 * inference.timeout_ms: this section is fixed at start while inference
 * can be reloaded, so its text must not depend on inference.
 */
static void
classifiers_text(struct sbuf *b, const struct policy *p)
{
	if (p->nclassifiers == 0)
		return;
	sbuf_adds(b, "classifiers:\n");
	for (size_t i = 0; i < p->nclassifiers; i++) {
		const struct classifier *cl = &p->classifiers[i];

		key_str(b, "  - ", "name", cl->name);
		strlist(b, "    ", "command", &cl->command);
		strlist(b, "    ", "read_only", &cl->read_only);
		if (cl->timeout_ms)
			sbuf_addf(b, "    timeout_ms: %u\n", cl->timeout_ms);
	}
}

char *
policy_canonical(const struct policy *p)
{
	struct sbuf b;

	sbuf_init(&b, 64 << 20);
	sbuf_adds(&b, "version: 1\nfilesystem_policy:\n");
	sbuf_addf(&b, "  include_workdir: %s\n", p->include_workdir ? "true" : "false");
	strlist(&b, "  ", "read_only", &p->read_only);
	strlist(&b, "  ", "read_write", &p->read_write);
	strlist(&b, "  ", "deny", &p->deny);
	sbuf_addf(&b, "landlock:\n  compatibility: %s\n",
	    p->landlock == LANDLOCK_HARD_REQUIREMENT ? "hard_requirement" : "best_effort");
	sbuf_adds(&b, "process:\n");
	if (p->run_as_user) {
		sbuf_adds(&b, "  run_as_user: ");
		q(&b, p->run_as_user);
		sbuf_adds(&b, "\n");
	}
	if (p->run_as_group) {
		sbuf_adds(&b, "  run_as_group: ");
		q(&b, p->run_as_group);
		sbuf_adds(&b, "\n");
	}
	sbuf_adds(&b, "  env:\n");
	strlist(&b, "    ", "pass", &p->env_pass);
	{
		struct strv set = { 0 };
		for (size_t i = 0; i < p->nenv_set; i++) {
			struct sbuf one;
			sbuf_init(&one, 1 << 20);
			q(&one, p->env_set[i].name);
			sbuf_adds(&one, ": ");
			q(&one, p->env_set[i].value);
			strv_take(&set, one.p);
		}
		strv_sort_uniq(&set);
		sbuf_adds(&b, "    set: {");
		for (size_t i = 0; i < set.n; i++)
			sbuf_addf(&b, "%s%s", i ? ", " : "", set.v[i]);
		sbuf_adds(&b, "}\n");
		strv_free(&set);
	}
	/*
	 * An unset limit is 0 internally but not a value the loader accepts
	 * (pids: 0 is an error), so unset limits are left out: the text must
	 * load back.
	 */
	{
		const char *sep = "";
		sbuf_adds(&b, "  limits: {");
		if (p->limits.memory) {
			sbuf_addf(&b, "%smemory: %llu", sep, (unsigned long long)p->limits.memory);
			sep = ", ";
		}
		if (p->limits.pids) {
			sbuf_addf(&b, "%spids: %llu", sep, (unsigned long long)p->limits.pids);
			sep = ", ";
		}
		if (p->limits.cpu_millis) {
			sbuf_addf(&b, "%scpu: %llu.%03llu", sep,
			    (unsigned long long)(p->limits.cpu_millis / 1000),
			    (unsigned long long)(p->limits.cpu_millis % 1000));
			sep = ", ";
		}
		if (p->limits.open_files)
			sbuf_addf(&b, "%sopen_files: %llu", sep, (unsigned long long)p->limits.open_files);
		sbuf_adds(&b, "}\n");
	}
	sbuf_adds(&b, "audit:\n");
	if (p->audit_path) {
		sbuf_adds(&b, "  path: ");
		q(&b, p->audit_path);
		sbuf_adds(&b, "\n");
	}
	sbuf_addf(&b, "  fsync: %s\n  on_failure: %s\n",
	    p->audit_fsync == AUDIT_SYNC_ALWAYS ? "always" : "batch",
	    p->audit_on_failure == AUDIT_FAIL_STOP ? "stop" : "deny");
	sbuf_adds(&b, "network_policies:");
	if (p->nnet == 0)
		sbuf_adds(&b, " {}");
	sbuf_adds(&b, "\n");
	for (size_t i = 0; i < p->nnet; i++) {
		const struct net_policy *np = &p->net[i];
		struct strv eps = { 0 }, bins = { 0 };

		sbuf_adds(&b, "  ");
		q(&b, np->key);
		sbuf_adds(&b, ":\n    name: ");
		q(&b, np->name);
		sbuf_adds(&b, "\n    endpoints:");
		for (size_t j = 0; j < np->nendpoints; j++)
			strv_take(&eps, endpoint_text(&np->endpoints[j]));
		strv_sort_uniq(&eps);
		sbuf_adds(&b, eps.n ? "\n" : " []\n");
		for (size_t j = 0; j < eps.n; j++)
			sbuf_adds(&b, eps.v[j]);
		for (size_t j = 0; j < np->nbinaries; j++)
			strv_take(&bins, xasprintf("%s%c", np->binaries[j].path,
			    np->binaries[j].children ? '1' : '0'));
		strv_sort_uniq(&bins);
		sbuf_adds(&b, "    binaries:");
		sbuf_adds(&b, bins.n ? "\n" : " []\n");
		for (size_t j = 0; j < bins.n; j++) {
			size_t n = strlen(bins.v[j]);
			char children = bins.v[j][n - 1];
			bins.v[j][n - 1] = '\0';
			sbuf_adds(&b, "      - {path: ");
			q(&b, bins.v[j]);
			sbuf_addf(&b, ", children: %s}\n", children == '1' ? "true" : "false");
		}
		strv_free(&eps);
		strv_free(&bins);
	}
	credentials_text(&b, p);
	inference_text(&b, &p->inference);
	classifiers_text(&b, p);
	pl_approvals_canon(&b, &p->approvals);
	return b.p;
}

void
policy_hash(const struct policy *p, char hex[65])
{
	char *c = policy_canonical(p);

	sha256_hex(c, strlen(c), hex);
	free(c);
}
