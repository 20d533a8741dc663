/*
 * The policy's privacy-router sections (warden extensions):
 *
 *   inference    (dynamic) model providers with the highest sensitivity
 *                tier each may receive, routes from model names to
 *                providers in order of preference, and the built-in
 *                classifier's settings and custom rules;
 *   classifiers  (static) external classifier processes chained after
 *                the built-in one.
 *
 * Parsed with the loader's machinery (policy_walk.h): every problem is
 * reported at its node, with what was expected and a valid snippet.
 * Names that point elsewhere are resolved only once the whole file has
 * been walked -- a route may come before the providers it names, and
 * `credentials` may come after `inference` -- so the nodes of those
 * references are kept in struct infer_at while the YAML tree is alive.
 */
#include "policy.h"

#include <hs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/dl.h"
#include "policy_check.h"
#include "policy_walk.h"
#include "ynode.h"

#define MAX_PROVIDERS 64
#define MAX_ROUTES 256
#define MAX_ROUTE_ITEMS 64		/* models, or providers, in one route */
#define MAX_NAME 63
#define MAX_URL 2048
#define MAX_MODEL 200
#define MAX_CUSTOM 256
#define MAX_TERMS 1000
#define MAX_TERM 200
#define MAX_PATTERN 1024
#define MAX_BODY (64ull << 20)
#define DEFAULT_MAX_BODY (8ull << 20)
#define DEFAULT_TIMEOUT_MS 2000
#define MAX_TIMEOUT_MS 60000
#define MAX_CLASSIFIERS 7		/* the pool holds 8 with the built-in one */
#define MAX_ARGS 64
#define MAX_ARG 4096
#define MAX_RO_PATHS 64

/* Examples shown under errors: each a complete, valid fragment. */
#define EX_INFER "inference:\n  providers:\n    anthropic: {format: anthropic, base_url: \"https://api.anthropic.com\", max_tier: confidential, credential: anthropic}\n    local: {format: openai, base_url: \"http://127.0.0.1:11434/v1\", max_tier: restricted}\n  routes:\n    - {models: [\"claude-*\"], providers: [anthropic, local]}\n    - {models: [\"*\"], providers: [local]}\n"
#define EX_PROVIDER "providers:\n  anthropic:\n    format: anthropic                     # or openai\n    base_url: \"https://api.anthropic.com\"\n    max_tier: confidential                # public, internal, confidential or restricted\n    credential: anthropic                 # optional: a name under credentials\n"
#define EX_URL "base_url: \"https://api.openai.com/v1\"     # or http://127.0.0.1:11434/v1\n"
#define EX_ROUTES "routes:\n  - {models: [\"claude-*\"], providers: [anthropic, local]}\n  - {models: [\"*\"], providers: [openai, local]}\n"
#define EX_CUSTOM "custom:\n  - {name: codename, terms: [\"Project Nightingale\"], tier: confidential}\n  - {name: employee-id, pattern: \"EMP-[0-9]{6}\", tier: internal}\n"
#define EX_LIMITS "inference:\n  on_no_provider: deny      # or redact\n  max_body: 8M              # at most 64M\n  timeout_ms: 2000          # 1 to 60000\n  base64_min_tier: internal\n"
#define EX_CRED_REF "credentials:\n  anthropic:\n    from_env: ANTHROPIC_API_KEY\ninference:\n  providers:\n    anthropic: {format: anthropic, base_url: \"https://api.anthropic.com\", max_tier: confidential, credential: anthropic}\n"
#define EX_CLASSIFIERS "classifiers:\n  - name: codenames\n    command: [/usr/bin/python3, /opt/guards/classifier.py]\n    read_only: [/opt/guards]\n    timeout_ms: 500\n"
#define TIER_NAMES "public, internal, confidential or restricted"

/* A growable list of borrowed nodes. */
struct nodes {
	const struct ynode **v;
	size_t n;
};

static void
nodes_push(struct nodes *l, const struct ynode *n)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = n;
}

/* Where references were written, for the checks made after the walk. */
struct infer_at {
	struct strv declared;		/* provider names that are valid names */
	bool providers_walked;		/* providers was a mapping: declared is complete */
	bool has_providers, has_routes;
	struct nodes route_refs;	/* provider names in routes */
	struct nodes cred_refs;		/* credential names in providers */
	const struct ynode *classifiers_key;
};

static struct infer_at *
infer_at(struct pctx *c)
{
	if (!c->infer_at)
		c->infer_at = xcalloc(1, sizeof(*c->infer_at));
	return c->infer_at;
}

/* `[a-z0-9][a-z0-9_-]{0,62}`: provider, custom rule and classifier names. */
static const char *
check_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return "name is empty";
	if (n > MAX_NAME)
		return "name is longer than 63 characters";
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return "name must start with a lower-case letter or a digit";
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			return "name holds only lower-case letters, digits, '_' and '-'";
	return NULL;
}

/* Printable ASCII (space included only when `space`), 1 to max bytes. */
static const char *
check_ascii(const char *s, size_t max, bool space)
{
	size_t n = strlen(s);

	if (n == 0)
		return "it is empty";
	if (n > max)
		return "it is too long";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch > 0x7e || (ch == ' ' && !space))
			return space ? "it must be printable ASCII" :
			    "it must be printable ASCII without spaces";
	}
	return NULL;
}

static int
get_tier(struct pctx *c, struct ynode *v, const char *what, const char *example, enum tier *out)
{
	const char *s = pl_scalar(c, v, what, example);

	if (!s)
		return -1;
	if (tier_parse(s, strlen(s), out) < 0) {
		pl_diag(c, v, TIER_NAMES, example, "unknown %s '%s'", what, s);
		return -1;
	}
	return 0;
}

/* A deadline in milliseconds: a plain integer from 1 to 60000. */
static void
get_ms(struct pctx *c, struct ynode *v, const char *what, const char *example, unsigned *out)
{
	uint64_t n;

	if (v->kind != YN_SCALAR || !v->plain || parse_u64(v->str, &n) < 0 || n == 0 ||
	    n > MAX_TIMEOUT_MS) {
		pl_diag(c, v, "an integer from 1 to 60000", example,
		    "%s must be an integer from 1 to 60000 (milliseconds)", what);
		return;
	}
	*out = (unsigned)n;
}

/* A list node with 1 to max items, or report it; `what` names the key. */
static bool
nonempty_list(struct pctx *c, struct ynode *v, const char *what, size_t max, const char *expected,
    const char *example)
{
	if (v->kind != YN_SEQ || v->nkids == 0) {
		pl_diag(c, v, expected, example, "%s must be a non-empty list", what);
		return false;
	}
	if (v->nkids > max) {
		pl_diag(c, v, expected, example, "%s lists %zu entries; at most %zu are allowed", what,
		    v->nkids, max);
		return false;
	}
	return true;
}

/* ---- base_url ------------------------------------------------------------ */

/*
 * "http://" or "https://", a host (DNS name, IPv4, or IPv6 in brackets),
 * an optional port, an optional path prefix.  No user information (a
 * secret in a URL ends up in logs: secrets belong in credentials), no
 * percent-encoding, query or fragment (the router appends the request's
 * own path to the prefix, and an encoded or partial path would make what
 * is sent differ from what was written).  Fills tls, host, port,
 * base_path and the normalised URL; returns a static reason on failure.
 */
static const char *
parse_base_url(const char *s, struct infer_provider *pv)
{
	const char *rest, *auth_end, *host_end, *after, *prob;
	_cleanup_free_ char *host = NULL, *path = NULL;
	bool tls, is_ip, wildcard, v6 = false;
	uint64_t port;
	size_t n = strlen(s);

	if (n > MAX_URL)
		return "it is longer than 2048 characters";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return "it must be printable ASCII without spaces";
	if (!strncasecmp(s, "https://", 8)) {
		tls = true;
		rest = s + 8;
	} else if (!strncasecmp(s, "http://", 7)) {
		tls = false;
		rest = s + 7;
	} else {
		return "it must start with http:// or https://";
	}
	if (strchr(rest, '%'))
		return "it must not contain '%' (percent-encoding)";
	if (strchr(rest, '?') || strchr(rest, '#'))
		return "it must not contain a query ('?') or a fragment ('#')";
	auth_end = rest + strcspn(rest, "/");
	if (memchr(rest, '@', (size_t)(auth_end - rest)))
		return "it must not contain user information ('user@'): put secrets in credentials";
	if (*rest == '[') {
		host_end = memchr(rest, ']', (size_t)(auth_end - rest));
		if (!host_end)
			return "it has a '[' without its ']'";
		host_end++;
		v6 = true;
	} else {
		host_end = memchr(rest, ':', (size_t)(auth_end - rest));
		if (!host_end)
			host_end = auth_end;
	}
	if (host_end == rest)
		return "it has no host (write IPv6 addresses in brackets: http://[::1]:8080)";
	host = xstrndup(rest, (size_t)(host_end - rest));
	if (strchr(host, '*'))
		return "its host must not be a wildcard";
	if ((prob = check_host(host, &is_ip, &wildcard)))
		return prob;
	if (v6 && !strchr(host, ':'))
		return "it has a host in brackets that is not an IPv6 address";
	port = tls ? 443 : 80;
	after = host_end;
	if (after < auth_end) {
		char num[8];
		size_t nl = (size_t)(auth_end - after - 1);

		if (*after != ':' || nl == 0 || nl >= sizeof(num))
			return "its port must be ':' and a number from 1 to 65535";
		memcpy(num, after + 1, nl);
		num[nl] = '\0';
		if (parse_u64(num, &port) < 0 || port == 0 || port > 65535)
			return "its port must be ':' and a number from 1 to 65535";
	}
	/* The path prefix: canonical, one trailing slash allowed and removed. */
	path = xstrdup(auth_end);
	n = strlen(path);
	if (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	if (strcmp(path, "/") == 0)
		path[0] = '\0';
	if (*path && (prob = path_problem(path)))
		return strstr(prob, "'..'") ? "its path must not contain '..'" :
		    strstr(prob, "'.'") ? "its path must not contain '.' components" :
		    "its path has an empty component ('//')";
	pv->tls = tls;
	pv->port = (uint16_t)port;
	pv->base_path = steal_pointer(&path);
	/* The default port is left out so that writing it changes nothing. */
	if (port == (tls ? 443u : 80u))
		pv->base_url = xasprintf("%s://%s%s%s%s", tls ? "https" : "http", v6 ? "[" : "", host,
		    v6 ? "]" : "", pv->base_path);
	else
		pv->base_url = xasprintf("%s://%s%s%s:%u%s", tls ? "https" : "http", v6 ? "[" : "",
		    host, v6 ? "]" : "", (unsigned)port, pv->base_path);
	pv->host = steal_pointer(&host);
	return NULL;
}

/* ---- providers ------------------------------------------------------------ */

struct prov_state {
	struct infer_provider *pv;
	struct infer_at *at;
	bool has_format, has_url, has_tier;
};

static void
pv_format(struct pctx *c, struct ynode *v, void *o)
{
	struct prov_state *st = o;
	const char *s = pl_scalar(c, v, "format", EX_PROVIDER);

	st->has_format = true;
	if (!s)
		return;
	if (strcmp(s, "anthropic") == 0)
		st->pv->format = INFER_ANTHROPIC;
	else if (strcmp(s, "openai") == 0)
		st->pv->format = INFER_OPENAI;
	else
		pl_diag(c, v, "anthropic (Messages API) or openai (Chat Completions and Responses)",
		    EX_PROVIDER, "unknown format '%s'", s);
}

static void
pv_base_url(struct pctx *c, struct ynode *v, void *o)
{
	struct prov_state *st = o;
	const char *s = pl_scalar(c, v, "base_url", EX_URL), *prob;

	st->has_url = true;
	if (!s)
		return;
	if ((prob = parse_base_url(s, st->pv)))
		pl_diag(c, v, "http:// or https://, a host, an optional port and path", EX_URL,
		    "base_url '%s': %s", s, prob);
}

static void
pv_max_tier(struct pctx *c, struct ynode *v, void *o)
{
	struct prov_state *st = o;

	st->has_tier = true;
	get_tier(c, v, "max_tier", EX_PROVIDER, &st->pv->max_tier);
}

static void
pv_credential(struct pctx *c, struct ynode *v, void *o)
{
	struct prov_state *st = o;
	const char *s = pl_scalar(c, v, "credential", EX_CRED_REF);

	if (!s)
		return;
	/* Resolved against credentials once the whole file is read (pl_infer_check). */
	nodes_push(&st->at->cred_refs, v);
	st->pv->credential = xstrdup(s);
}

static void
pv_model(struct pctx *c, struct ynode *v, void *o)
{
	struct prov_state *st = o;
	const char *s = pl_scalar(c, v, "model", EX_PROVIDER), *prob;

	if (!s)
		return;
	if ((prob = check_ascii(s, MAX_MODEL, true))) {
		pl_diag(c, v, "a model name of 1 to 200 printable ASCII characters",
		    "model: \"llama3.1:8b\"     # every request to this provider uses this model\n",
		    "model '%s': %s", s, prob);
		return;
	}
	st->pv->model = xstrdup(s);
}

static const struct key_spec provider_keys[] = {
	{ "format", pv_format },
	{ "base_url", pv_base_url },
	{ "max_tier", pv_max_tier },
	{ "credential", pv_credential },
	{ "model", pv_model },
	{ NULL, NULL },
};

static void
provider(struct pctx *c, const struct ynode *k, struct ynode *v, struct infer_provider *pv)
{
	struct prov_state st = { .pv = pv, .at = c->infer_at };

	pl_walk_map(c, v, "provider", provider_keys, EX_PROVIDER, &st);
	if (v->kind != YN_MAP)
		return;
	if (!st.has_format)
		pl_diag(c, k, "format: anthropic or format: openai", EX_PROVIDER,
		    "provider '%s' needs format", pv->name);
	if (!st.has_url)
		pl_diag(c, k, "base_url: \"https://...\"", EX_PROVIDER, "provider '%s' needs base_url",
		    pv->name);
	if (!st.has_tier)
		pl_diag(c, k, "max_tier: " TIER_NAMES, EX_PROVIDER,
		    "provider '%s' needs max_tier: the most sensitive tier it may receive", pv->name);
}

static void
inf_providers(struct pctx *c, struct ynode *v, void *o)
{
	struct infer_at *at = o;
	struct inference *inf = &c->p->inference;
	const struct ynode **earlier;

	at->has_providers = true;
	if (pl_is_null(v) || (v->kind == YN_MAP && v->nkids == 0)) {
		pl_diag(c, v->kind == YN_MAP ? v : c->cur_key, "a mapping of name: {format, base_url, "
		    "max_tier}", EX_PROVIDER, "inference.providers is empty: expected at least one provider");
		return;
	}
	if (v->kind != YN_MAP) {
		pl_diag(c, v, "a mapping of name: {format, base_url, max_tier}", EX_PROVIDER,
		    "inference.providers must be a mapping, not %s", ynode_kind_name(v));
		return;
	}
	if (v->nkids / 2 > MAX_PROVIDERS) {
		pl_diag(c, v, "at most 64 providers", EX_PROVIDER, "inference.providers lists %zu "
		    "providers", v->nkids / 2);
		return;
	}
	at->providers_walked = true;
	inf->providers = xcalloc(v->nkids / 2 + 1, sizeof(*inf->providers));
	earlier = pl_earlier_keys(v);
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		struct ynode *k = v->kids[i];
		const char *name = pl_scalar(c, k, "provider name", EX_PROVIDER), *prob;
		struct infer_provider *pv;

		if (!name)
			continue;
		if ((prob = check_name(name))) {
			pl_diag(c, k, "a name like anthropic or local-llm", EX_PROVIDER,
			    "provider '%s': %s", name, prob);
			continue;
		}
		if (earlier[i / 2]) {
			pl_diag(c, k, "each name once", EX_PROVIDER,
			    "duplicate provider '%s' (first at line %d)", name, earlier[i / 2]->line);
			continue;
		}
		strv_push(&at->declared, name);
		pv = &inf->providers[inf->nproviders++];
		pv->name = xstrdup(name);
		provider(c, k, v->kids[i + 1], pv);
	}
	free(earlier);
}

/* ---- routes ---------------------------------------------------------------- */

struct route_state {
	struct infer_route *r;
	struct infer_at *at;
	bool has_models, has_providers;
};

static void
rt_models(struct pctx *c, struct ynode *v, void *o)
{
	struct route_state *st = o;

	st->has_models = true;
	if (!nonempty_list(c, v, "models", MAX_ROUTE_ITEMS, "a non-empty list of model name globs",
	    EX_ROUTES))
		return;
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = pl_scalar(c, v->kids[i], "models entry", EX_ROUTES), *prob;

		if (!s)
			continue;
		if ((prob = check_ascii(s, MAX_MODEL, false)))
			pl_diag(c, v->kids[i], "a model name or glob such as \"claude-*\" (1 to 200 "
			    "printable ASCII characters)", EX_ROUTES, "model glob '%s': %s", s, prob);
		else
			strv_push(&st->r->models, s);
	}
}

static void
rt_providers(struct pctx *c, struct ynode *v, void *o)
{
	struct route_state *st = o;

	st->has_providers = true;
	if (!nonempty_list(c, v, "providers", MAX_ROUTE_ITEMS,
	    "a non-empty list of provider names, in order of preference", EX_ROUTES))
		return;
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = pl_scalar(c, v->kids[i], "providers entry", EX_ROUTES), *prob;

		if (!s)
			continue;
		if ((prob = check_name(s))) {
			pl_diag(c, v->kids[i], "the name of a provider under inference.providers",
			    EX_ROUTES, "provider '%s': %s", s, prob);
			continue;
		}
		if (strv_contains(&st->r->providers, s)) {
			pl_diag(c, v->kids[i], "each provider once per route", EX_ROUTES,
			    "provider '%s' is listed twice in this route", s);
			continue;
		}
		strv_push(&st->r->providers, s);
		nodes_push(&st->at->route_refs, v->kids[i]);
	}
}

static const struct key_spec route_keys[] = {
	{ "models", rt_models },
	{ "providers", rt_providers },
	{ NULL, NULL },
};

static void
inf_routes(struct pctx *c, struct ynode *v, void *o)
{
	struct infer_at *at = o;
	struct inference *inf = &c->p->inference;

	at->has_routes = true;
	if (!nonempty_list(c, v, "inference.routes", MAX_ROUTES,
	    "a non-empty list of {models: [globs], providers: [names]}", EX_ROUTES))
		return;
	inf->routes = xcalloc(v->nkids, sizeof(*inf->routes));
	for (size_t i = 0; i < v->nkids; i++) {
		struct route_state st = { .r = &inf->routes[inf->nroutes++], .at = at };
		struct ynode *item = v->kids[i];

		pl_walk_map(c, item, "route", route_keys, EX_ROUTES, &st);
		if (item->kind != YN_MAP)
			continue;
		if (!st.has_models)
			pl_diag(c, item, "models: [globs]", EX_ROUTES, "route needs models");
		if (!st.has_providers)
			pl_diag(c, item, "providers: [names]", EX_ROUTES, "route needs providers");
	}
}

/* ---- the built-in classifier's settings ------------------------------------ */

static void
inf_on_no_provider(struct pctx *c, struct ynode *v, void *o)
{
	const char *s = pl_scalar(c, v, "on_no_provider", EX_LIMITS);

	(void)o;
	if (!s)
		return;
	if (strcmp(s, "deny") == 0)
		c->p->inference.on_no_provider = INFER_ON_NONE_DENY;
	else if (strcmp(s, "redact") == 0)
		c->p->inference.on_no_provider = INFER_ON_NONE_REDACT;
	else
		pl_diag(c, v, "deny or redact", EX_LIMITS, "unknown on_no_provider '%s'", s);
}

static void
inf_max_body(struct pctx *c, struct ynode *v, void *o)
{
	uint64_t n;

	(void)o;
	if (v->kind != YN_SCALAR || strlen(v->str) != v->len || policy_parse_size(v->str, &n) < 0 ||
	    n == 0 || n > MAX_BODY) {
		pl_diag(c, v, "a size from 1 byte to 64M, e.g. 8M", EX_LIMITS,
		    "inference.max_body is not a size from 1 byte to 64M");
		return;
	}
	c->p->inference.max_body = n;
}

static void
inf_timeout(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	get_ms(c, v, "inference.timeout_ms", EX_LIMITS, &c->p->inference.timeout_ms);
}

static void
inf_base64(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	get_tier(c, v, "base64_min_tier", EX_LIMITS, &c->p->inference.base64_min_tier);
}

/* ---- custom rules ---------------------------------------------------------- */

struct custom_state {
	struct infer_custom *cu;
	const struct ynode *name;
	bool has_terms, has_pattern, has_tier;
};

static void
cu_name(struct pctx *c, struct ynode *v, void *o)
{
	struct custom_state *st = o;
	const char *s = pl_scalar(c, v, "custom rule name", EX_CUSTOM), *prob;

	st->name = v;
	if (!s)
		return;
	if ((prob = check_name(s))) {
		pl_diag(c, v, "a name like codename or employee-id", EX_CUSTOM,
		    "custom rule '%s': %s", s, prob);
		return;
	}
	st->cu->name = xstrdup(s);
}

static void
cu_terms(struct pctx *c, struct ynode *v, void *o)
{
	struct custom_state *st = o;

	st->has_terms = true;
	if (!nonempty_list(c, v, "terms", MAX_TERMS, "a non-empty list of 1 to 1000 strings",
	    EX_CUSTOM))
		return;
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = pl_scalar(c, v->kids[i], "terms entry", EX_CUSTOM);

		if (!s)
			continue;
		if (!*s || strlen(s) > MAX_TERM)
			pl_diag(c, v->kids[i], "a term of 1 to 200 bytes", EX_CUSTOM,
			    "custom term is %s", *s ? "longer than 200 bytes" : "empty");
		else
			strv_push(&st->cu->terms, s);
	}
}

/*
 * The classifier compiles patterns with Vectorscan when the sandbox
 * starts; asking the library here turns a bad regex into a policy error
 * with its message instead of a classifier that cannot start.  Start of
 * match is requested because findings carry byte spans.
 *
 * The library is dlopen()ed, like libpsl, the first time a policy has a
 * pattern: it is C++, and linking it would load the C++ runtime on every
 * start of warden for a check most policies never need.
 */
#ifndef LIBHS_SONAME
#define LIBHS_SONAME "libhs.so.5"
#endif

static struct {
	hs_error_t (*expression_info)(const char *, unsigned, hs_expr_info_t **,
	    hs_compile_error_t **);
	hs_error_t (*free_compile_error)(hs_compile_error_t *);
} hs;
static pthread_once_t hs_once = PTHREAD_ONCE_INIT;

static void
hs_load(void)
{
	static const char *const names[] = { "hs_expression_info", "hs_free_compile_error" };
	void *syms[2];

	if (dl_load(LIBHS_SONAME, names, syms, 2)) {
		*(void **)&hs.expression_info = syms[0];
		*(void **)&hs.free_compile_error = syms[1];
	}
}

static const char *
check_pattern(const char *s, char **msg)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *err = NULL;
	bool empty;

	*msg = NULL;
	if (!*s)
		return "pattern is empty";
	if (strlen(s) > MAX_PATTERN)
		return "pattern is longer than 1024 bytes";
	pthread_once(&hs_once, hs_load);
	if (!hs.expression_info)
		return "patterns are checked with Vectorscan, but " LIBHS_SONAME " could not be "
		    "loaded (Debian package libvectorscan5)";
	if (hs.expression_info(s, HS_FLAG_SOM_LEFTMOST, &info, &err) != HS_SUCCESS) {
		*msg = xstrdup(err && err->message ? err->message : "unknown error");
		hs.free_compile_error(err);
		return "pattern is not a valid Vectorscan expression";
	}
	empty = info->min_width == 0;
	free(info);	/* allocated with the default misc allocator, malloc */
	if (empty)
		return "pattern can match an empty string, so it would match everywhere";
	return NULL;
}

static void
cu_pattern(struct pctx *c, struct ynode *v, void *o)
{
	struct custom_state *st = o;
	const char *s = pl_scalar(c, v, "pattern", EX_CUSTOM), *prob;
	_cleanup_free_ char *msg = NULL;

	st->has_pattern = true;
	if (!s)
		return;
	if ((prob = check_pattern(s, &msg))) {
		pl_diag(c, v, "a Vectorscan (PCRE-like) regex of 1 to 1024 bytes that needs at least "
		    "one character to match", EX_CUSTOM, "custom pattern '%s': %s%s%s", s, prob,
		    msg ? ": " : "", msg ? msg : "");
		return;
	}
	st->cu->pattern = xstrdup(s);
}

static void
cu_tier(struct pctx *c, struct ynode *v, void *o)
{
	struct custom_state *st = o;

	st->has_tier = true;
	get_tier(c, v, "tier", EX_CUSTOM, &st->cu->tier);
}

static const struct key_spec custom_keys[] = {
	{ "name", cu_name },
	{ "terms", cu_terms },
	{ "pattern", cu_pattern },
	{ "tier", cu_tier },
	{ NULL, NULL },
};

static void
inf_custom(struct pctx *c, struct ynode *v, void *o)
{
	struct inference *inf = &c->p->inference;
	const struct ynode **names;

	(void)o;
	if (pl_is_null(v) || (v->kind == YN_SEQ && v->nkids == 0))
		return;
	if (v->kind != YN_SEQ) {
		pl_diag(c, v, "a list of {name, terms or pattern, tier}", EX_CUSTOM,
		    "inference.custom must be a list, not %s", ynode_kind_name(v));
		return;
	}
	if (v->nkids > MAX_CUSTOM) {
		pl_diag(c, v, "at most 256 custom rules", EX_CUSTOM,
		    "inference.custom lists %zu rules", v->nkids);
		return;
	}
	inf->custom = xcalloc(v->nkids, sizeof(*inf->custom));
	names = xcalloc(v->nkids, sizeof(*names));
	for (size_t i = 0; i < v->nkids; i++) {
		struct infer_custom *cu = &inf->custom[inf->ncustom++];
		struct custom_state st = { .cu = cu };
		struct ynode *item = v->kids[i];

		pl_walk_map(c, item, "custom rule", custom_keys, EX_CUSTOM, &st);
		names[i] = cu->name ? st.name : NULL;
		if (item->kind != YN_MAP)
			continue;
		if (!st.name)
			pl_diag(c, item, "name: NAME", EX_CUSTOM, "custom rule needs a name");
		if (st.has_terms == st.has_pattern)
			pl_diag(c, item, "either terms: [...] or pattern: \"...\", not both", EX_CUSTOM,
			    "custom rule %s%s%s%s", cu->name ? "'" : "", cu->name ? cu->name : "",
			    cu->name ? "' " : "", st.has_terms ? "sets both terms and pattern" :
			    "needs terms or pattern");
		if (!st.has_tier)
			pl_diag(c, item, "tier: " TIER_NAMES, EX_CUSTOM, "custom rule %s%s%sneeds a tier",
			    cu->name ? "'" : "", cu->name ? cu->name : "", cu->name ? "' " : "");
		for (size_t j = 0; names[i] && j < i; j++)
			if (names[j] && strcmp(inf->custom[j].name, cu->name) == 0) {
				pl_diag(c, names[i], "each name once", EX_CUSTOM,
				    "duplicate custom rule '%s' (first at line %d)", cu->name,
				    names[j]->line);
				break;
			}
	}
	free(names);
}

static const struct key_spec infer_keys[] = {
	{ "providers", inf_providers },
	{ "routes", inf_routes },
	{ "on_no_provider", inf_on_no_provider },
	{ "max_body", inf_max_body },
	{ "timeout_ms", inf_timeout },
	{ "base64_min_tier", inf_base64 },
	{ "custom", inf_custom },
	{ NULL, NULL },
};

void
pl_top_inference(struct pctx *c, struct ynode *v, void *o)
{
	struct inference *inf = &c->p->inference;
	struct infer_at *at = infer_at(c);
	const struct ynode *key = c->cur_key;

	(void)o;
	inf->present = true;
	inf->on_no_provider = INFER_ON_NONE_DENY;
	inf->max_body = DEFAULT_MAX_BODY;
	inf->timeout_ms = DEFAULT_TIMEOUT_MS;
	inf->base64_min_tier = TIER_INTERNAL;
	if (pl_is_null(v)) {
		pl_diag(c, key, "providers: and routes:", EX_INFER,
		    "inference is empty: expected at least one provider");
		return;
	}
	pl_walk_map(c, v, "inference", infer_keys, EX_INFER, at);
	if (v->kind != YN_MAP)
		return;
	if (!at->has_providers)
		pl_diag(c, key, "providers: {NAME: {format, base_url, max_tier}}", EX_INFER,
		    "inference has no providers: expected at least one provider");
	if (!at->has_routes)
		pl_diag(c, key, "routes: [{models: [globs], providers: [names]}]", EX_INFER,
		    "inference has no routes: expected at least one route saying which providers "
		    "serve which models");
	/* A route may come before the providers it names: resolve now, within the section. */
	for (size_t i = 0; at->providers_walked && i < at->route_refs.n; i++) {
		const struct ynode *ref = at->route_refs.v[i];

		if (!strv_contains(&at->declared, ref->str))
			pl_diag(c, ref, "the name of a provider under inference.providers", EX_ROUTES,
			    "provider '%s' is not defined in inference.providers", ref->str);
	}
}

/* ---- classifiers ------------------------------------------------------------ */

struct cl_state {
	struct classifier *cl;
	const struct ynode *name;
	bool has_command;
};

static void
cl_name(struct pctx *c, struct ynode *v, void *o)
{
	struct cl_state *st = o;
	const char *s = pl_scalar(c, v, "classifier name", EX_CLASSIFIERS), *prob;

	st->name = v;
	if (!s)
		return;
	if ((prob = check_name(s))) {
		pl_diag(c, v, "a name like codenames", EX_CLASSIFIERS, "classifier '%s': %s", s, prob);
		return;
	}
	if (strcmp(s, "builtin") == 0) {
		pl_diag(c, v, "a name other than builtin", EX_CLASSIFIERS,
		    "classifier name 'builtin' is reserved for warden's built-in classifier");
		return;
	}
	st->cl->name = xstrdup(s);
}

static void
cl_command(struct pctx *c, struct ynode *v, void *o)
{
	struct cl_state *st = o;

	st->has_command = true;
	if (!nonempty_list(c, v, "command", MAX_ARGS,
	    "a non-empty list: the program's absolute path, then its arguments", EX_CLASSIFIERS))
		return;
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = pl_scalar(c, v->kids[i], "command entry", EX_CLASSIFIERS), *prob;

		if (!s)
			continue;
		if (i == 0 && ((prob = path_problem(s)) || strcmp(s, "/") == 0)) {
			pl_diag(c, v->kids[i], "the absolute path of the program, e.g. /usr/bin/python3",
			    EX_CLASSIFIERS, "command[0] '%s': %s", s, prob ? prob : "'/' is not a program");
			continue;
		}
		if (strlen(s) > MAX_ARG) {
			pl_diag(c, v->kids[i], "an argument of at most 4096 bytes", EX_CLASSIFIERS,
			    "command argument %zu is longer than 4096 bytes", i);
			continue;
		}
		strv_push(&st->cl->command, s);
	}
}

static void
cl_read_only(struct pctx *c, struct ynode *v, void *o)
{
	struct cl_state *st = o;

	if (pl_is_null(v))
		return;
	if (v->kind != YN_SEQ || v->nkids > MAX_RO_PATHS) {
		pl_diag(c, v, "a list of at most 64 absolute paths", EX_CLASSIFIERS,
		    v->kind != YN_SEQ ? "read_only must be a list" : "read_only lists too many paths");
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = pl_scalar(c, v->kids[i], "read_only entry", EX_CLASSIFIERS), *prob;

		if (!s)
			continue;
		if ((prob = path_problem(s)))
			pl_diag(c, v->kids[i], "an absolute canonical path", EX_CLASSIFIERS,
			    "read_only entry '%s': %s", s, prob);
		else
			strv_push(&st->cl->read_only, s);
	}
}

static void
cl_timeout(struct pctx *c, struct ynode *v, void *o)
{
	struct cl_state *st = o;

	get_ms(c, v, "classifier timeout_ms", EX_CLASSIFIERS, &st->cl->timeout_ms);
}

static const struct key_spec cl_keys[] = {
	{ "name", cl_name },
	{ "command", cl_command },
	{ "read_only", cl_read_only },
	{ "timeout_ms", cl_timeout },
	{ NULL, NULL },
};

void
pl_top_classifiers(struct pctx *c, struct ynode *v, void *o)
{
	struct policy *p = c->p;
	const struct ynode **names;

	(void)o;
	infer_at(c)->classifiers_key = c->cur_key;
	if (pl_is_null(v) || (v->kind == YN_SEQ && v->nkids == 0))
		return;
	if (v->kind != YN_SEQ) {
		pl_diag(c, v, "a list of {name, command, read_only, timeout_ms}", EX_CLASSIFIERS,
		    "classifiers must be a list, not %s", ynode_kind_name(v));
		return;
	}
	if (v->nkids > MAX_CLASSIFIERS) {
		pl_diag(c, v, "at most 7 classifiers (with the built-in one, 8 run per sandbox)",
		    EX_CLASSIFIERS, "classifiers lists %zu classifiers", v->nkids);
		return;
	}
	p->classifiers = xcalloc(v->nkids, sizeof(*p->classifiers));
	names = xcalloc(v->nkids, sizeof(*names));
	for (size_t i = 0; i < v->nkids; i++) {
		struct classifier *cl = &p->classifiers[p->nclassifiers++];
		struct cl_state st = { .cl = cl };
		struct ynode *item = v->kids[i];

		pl_walk_map(c, item, "classifier", cl_keys, EX_CLASSIFIERS, &st);
		names[i] = cl->name ? st.name : NULL;
		if (item->kind != YN_MAP)
			continue;
		if (!st.name)
			pl_diag(c, item, "name: NAME", EX_CLASSIFIERS, "classifier needs a name");
		if (!st.has_command)
			pl_diag(c, item, "command: [/absolute/program, args...]", EX_CLASSIFIERS,
			    "classifier needs a command");
		for (size_t j = 0; names[i] && j < i; j++)
			if (names[j] && strcmp(p->classifiers[j].name, cl->name) == 0) {
				pl_diag(c, names[i], "each name once", EX_CLASSIFIERS,
				    "duplicate classifier '%s' (first at line %d)", cl->name,
				    names[j]->line);
				break;
			}
	}
	free(names);
}

/* ---- across sections -------------------------------------------------------- */

bool
pl_infer_uses_credential(const struct pctx *c, const char *name)
{
	const struct infer_at *at = c->infer_at;

	for (size_t i = 0; at && i < at->cred_refs.n; i++)
		if (strcmp(at->cred_refs.v[i]->str, name) == 0)
			return true;
	return false;
}

void
pl_infer_check(struct pctx *c)
{
	const struct policy *p = c->p;
	const struct infer_at *at = c->infer_at;

	if (!at)
		return;
	for (size_t i = 0; i < at->cred_refs.n; i++) {
		const struct ynode *ref = at->cred_refs.v[i];
		bool found = false;

		for (size_t j = 0; j < p->ncreds && !found; j++)
			found = strcmp(p->creds[j].name, ref->str) == 0;
		if (!found)
			pl_diag(c, ref, "the name of an entry under credentials", EX_CRED_REF,
			    "credential '%s' is not defined in credentials", ref->str);
	}
	if (p->nclassifiers && !p->inference.present)
		pl_diag(c, at->classifiers_key, "an inference section (providers and routes)",
		    EX_INFER, "classifiers need an inference section to classify anything");
}

void
pl_infer_done(struct pctx *c)
{
	struct infer_at *at = c->infer_at;

	if (!at)
		return;
	strv_free(&at->declared);
	free(at->route_refs.v);
	free(at->cred_refs.v);
	free(at);
	c->infer_at = NULL;
}

static int
cmp_provider(const void *a, const void *b)
{
	return strcmp(((const struct infer_provider *)a)->name,
	    ((const struct infer_provider *)b)->name);
}

static int
cmp_custom(const void *a, const void *b)
{
	return strcmp(((const struct infer_custom *)a)->name, ((const struct infer_custom *)b)->name);
}

void
pl_infer_sort(struct policy *p)
{
	struct inference *inf = &p->inference;

	if (inf->nproviders > 1)
		qsort(inf->providers, inf->nproviders, sizeof(*inf->providers), cmp_provider);
	for (size_t i = 0; i < inf->ncustom; i++)
		strv_sort_uniq(&inf->custom[i].terms);
	if (inf->ncustom > 1)
		qsort(inf->custom, inf->ncustom, sizeof(*inf->custom), cmp_custom);
	for (size_t i = 0; i < p->nclassifiers; i++)
		strv_sort_uniq(&p->classifiers[i].read_only);
}

void
pl_infer_free(struct policy *p)
{
	struct inference *inf = &p->inference;

	for (size_t i = 0; i < inf->nproviders; i++) {
		struct infer_provider *pv = &inf->providers[i];
		free(pv->name);
		free(pv->base_url);
		free(pv->host);
		free(pv->base_path);
		free(pv->credential);
		free(pv->model);
	}
	free(inf->providers);
	for (size_t i = 0; i < inf->nroutes; i++) {
		strv_free(&inf->routes[i].models);
		strv_free(&inf->routes[i].providers);
	}
	free(inf->routes);
	for (size_t i = 0; i < inf->ncustom; i++) {
		free(inf->custom[i].name);
		strv_free(&inf->custom[i].terms);
		free(inf->custom[i].pattern);
	}
	free(inf->custom);
	memset(inf, 0, sizeof(*inf));
	for (size_t i = 0; i < p->nclassifiers; i++) {
		free(p->classifiers[i].name);
		strv_free(&p->classifiers[i].command);
		strv_free(&p->classifiers[i].read_only);
	}
	free(p->classifiers);
	p->classifiers = NULL;
	p->nclassifiers = 0;
}

const char *
infer_format_name(enum infer_format f)
{
	switch (f) {
	case INFER_ANTHROPIC: return "anthropic";
	case INFER_OPENAI: return "openai";
	}
	return "anthropic";
}
