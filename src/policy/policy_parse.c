/*
 * Policy loader: walks the YAML node tree section by section, converting
 * and validating every value, and records *every* problem it finds rather
 * than stopping at the first, each with its position, what was expected and
 * a short snippet of the right shape.  Nothing is applied unless the whole
 * file is valid.
 */
#include "policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy_check.h"
#include "policy_walk.h"
#include "ynode.h"

#define MAX_DIAGS 100

static void ep_unsupported(struct pctx *c, struct ynode *v, void *o);
static void top_middlewares(struct pctx *c, struct ynode *v, void *o);

static void __attribute__((format(printf, 5, 0)))
vdiag(struct pctx *c, const struct ynode *at, const char *expected,
    const char *example, const char *fmt, va_list ap)
{
	struct policy_diags *d = c->d;
	struct policy_diag *g;

	if (d->n >= MAX_DIAGS)
		return;
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	g = &d->v[d->n++];
	memset(g, 0, sizeof(*g));
	g->line = at ? at->line : 1;
	g->col = at ? at->col : 1;
	if (vasprintf(&g->msg, fmt, ap) < 0)
		abort();
	g->expected = expected ? xstrdup(expected) : NULL;
	g->example = example ? xstrdup(example) : NULL;
}

static void __attribute__((format(printf, 5, 6)))
diag(struct pctx *c, const struct ynode *at, const char *expected,
    const char *example, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(c, at, expected, example, fmt, ap);
	va_end(ap);
}

void
pl_diag(struct pctx *c, const struct ynode *at, const char *expected,
    const char *example, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(c, at, expected, example, fmt, ap);
	va_end(ap);
}

/* Examples shown under errors: each a complete, valid fragment. */
#define EX_TOP "version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only: [/usr, /etc]\n"
#define EX_FS "filesystem_policy:\n  include_workdir: true\n  read_only: [/usr, /lib, /etc]\n  read_write: [/tmp/build-cache]\n  deny: [/etc/shadow]\n"
#define EX_PATHS "read_only:\n  - /usr\n  - /etc\n"
#define EX_LANDLOCK "landlock:\n  compatibility: hard_requirement   # or best_effort\n"
#define EX_PROCESS "process:\n  run_as_user: sandbox\n  run_as_group: sandbox\n  env:\n    pass: [EDITOR]\n    set: {PAGER: cat}\n  limits: {memory: 2G, pids: 512, cpu: 1.5, open_files: 4096}\n"
#define EX_ENV "env:\n  pass: [EDITOR, GIT_AUTHOR_NAME]\n  set:\n    PAGER: cat\n"
#define EX_LIMITS "limits:\n  memory: 2G        # bytes, K/M/G/T suffixes\n  pids: 512\n  cpu: 1.5          # CPUs\n  open_files: 4096\n"
#define EX_NET "network_policies:\n  github:\n    endpoints:\n      - host: api.github.com\n        port: 443\n    binaries:\n      - path: /usr/bin/git\n"
#define EX_ENDPOINT "endpoints:\n  - host: api.example.com\n    port: 443\n    protocol: rest\n    access: read-only\n"
#define EX_RULES "rules:\n  - allow:\n      method: GET\n      path: /repos/**\n"
#define EX_BINARIES "binaries:\n  - path: /usr/bin/curl\n  - path: /usr/lib/jvm/*/bin/java\n"

static const char *
scalar(struct pctx *c, struct ynode *v, const char *what, const char *example)
{
	if (v->kind != YN_SCALAR) {
		diag(c, v, "a string", example, "%s must be a string, not %s", what,
		    ynode_kind_name(v));
		return NULL;
	}
	if (strlen(v->str) != v->len) {
		diag(c, v, "a string without NUL bytes", example, "%s contains a NUL byte", what);
		return NULL;
	}
	return v->str;
}

static bool
is_null(const struct ynode *v)
{
	return v->kind == YN_SCALAR && v->plain &&
	    (v->len == 0 || strcmp(v->str, "~") == 0 || strcmp(v->str, "null") == 0);
}

static int
get_bool(struct pctx *c, struct ynode *v, const char *what, const char *example, bool *out)
{
	if (v->kind == YN_SCALAR && v->plain) {
		if (strcmp(v->str, "true") == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v->str, "false") == 0) {
			*out = false;
			return 0;
		}
	}
	diag(c, v, "true or false", example, "%s must be true or false%s", what,
	    v->kind == YN_SCALAR && v->plain &&
	    (!strcasecmp(v->str, "yes") || !strcasecmp(v->str, "no") ||
	    !strcasecmp(v->str, "on") || !strcasecmp(v->str, "off")) ?
	    " (yes/no/on/off are not booleans here)" : "");
	return -1;
}

static int
get_uint(struct pctx *c, struct ynode *v, const char *what, const char *example,
    uint64_t max, uint64_t *out)
{
	if (v->kind != YN_SCALAR || !v->plain || parse_u64(v->str, out) < 0 || *out > max) {
		char exp[64];
		snprintf(exp, sizeof(exp), "an integer from 0 to %llu", (unsigned long long)max);
		diag(c, v, exp, example, "%s must be an integer from 0 to %llu", what,
		    (unsigned long long)max);
		return -1;
	}
	return 0;
}

struct keyref {
	const struct ynode *k;
	size_t idx;
};

static int
cmp_keyref(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	size_t n = x->k->len < y->k->len ? x->k->len : y->k->len;
	int r = memcmp(x->k->str, y->k->str, n);

	if (r == 0 && x->k->len != y->k->len)
		r = x->k->len < y->k->len ? -1 : 1;
	if (r == 0)
		r = x->idx < y->idx ? -1 : x->idx > y->idx;
	return r;
}

/*
 * For the i-th key of mapping m, the first earlier key equal to it, or NULL.
 * Sorting keeps this O(n log n): comparing every key with all the earlier
 * ones took a minute on a 500 KB policy of distinct keys.  Caller frees.
 */
static const struct ynode **
earlier_keys(const struct ynode *m)
{
	size_t np = m->nkids / 2, n = 0;
	const struct ynode **first = xcalloc(np + 1, sizeof(*first));
	struct keyref *r = xcalloc(np + 1, sizeof(*r));

	for (size_t i = 0; i < np; i++)
		if (m->kids[2 * i]->kind == YN_SCALAR)
			r[n++] = (struct keyref){ m->kids[2 * i], i };
	qsort(r, n, sizeof(*r), cmp_keyref);
	for (size_t i = 1; i < n; i++)
		if (r[i].k->len == r[i - 1].k->len &&
		    memcmp(r[i].k->str, r[i - 1].k->str, r[i].k->len) == 0)
			first[r[i].idx] = first[r[i - 1].idx] ? first[r[i - 1].idx] : r[i - 1].k;
	free(r);
	return first;
}

/*
 * Walk a mapping: reject non-scalar and duplicate keys, dispatch known keys
 * and report unknown ones with the list of valid keys.
 */
static void
walk_map(struct pctx *c, struct ynode *m, const char *what, const struct key_spec *spec,
    const char *example, void *obj)
{
	char valid[512] = "";
	const struct ynode **earlier;

	if (m->kind != YN_MAP) {
		diag(c, m, "a mapping (key: value pairs)", example, "%s must be a mapping, not %s",
		    what, ynode_kind_name(m));
		return;
	}
	earlier = earlier_keys(m);
	for (const struct key_spec *s = spec; s->key; s++) {
		if (s->fn == ep_unsupported || s->fn == top_middlewares)
			continue;	/* recognised only to say they are unsupported */
		size_t used = strlen(valid);
		snprintf(valid + used, sizeof(valid) - used, "%s%s", used ? ", " : "", s->key);
	}
	for (size_t i = 0; i + 1 < m->nkids; i += 2) {
		struct ynode *k = m->kids[i], *v = m->kids[i + 1];
		const struct key_spec *s;

		if (k->kind != YN_SCALAR) {
			diag(c, k, "a plain key", example, "keys in %s must be strings, not %s", what,
			    ynode_kind_name(k));
			continue;
		}
		if (strlen(k->str) != k->len) {
			diag(c, k, "a plain key", example, "a key in %s contains a NUL byte", what);
			continue;
		}
		if (earlier[i / 2]) {
			diag(c, k, "each key once", example, "duplicate key '%s' in %s (first at line %d)",
			    k->str, what, earlier[i / 2]->line);
			continue;
		}
		for (s = spec; s->key; s++)
			if (strcmp(s->key, k->str) == 0)
				break;
		if (!s->key) {
			char exp[600];
			snprintf(exp, sizeof(exp), "one of: %s", valid);
			diag(c, k, exp, example, "unknown key '%s' in %s", k->str, what);
			continue;
		}
		c->cur_key = k;
		s->fn(c, v, obj);
	}
	free(earlier);
}

/* The same helpers for the other section parsers (policy_walk.h). */

const char *
pl_scalar(struct pctx *c, struct ynode *v, const char *what, const char *example)
{
	return scalar(c, v, what, example);
}

bool
pl_is_null(const struct ynode *v)
{
	return is_null(v);
}

void
pl_walk_map(struct pctx *c, struct ynode *m, const char *what, const struct key_spec *spec,
    const char *example, void *obj)
{
	walk_map(c, m, what, spec, example, obj);
}

const struct ynode **
pl_earlier_keys(const struct ynode *m)
{
	return earlier_keys(m);
}

static void
path_list(struct pctx *c, struct ynode *v, const char *what, struct strv *out, bool no_root)
{
	if (is_null(v))
		return;
	if (v->kind != YN_SEQ) {
		diag(c, v, "a list of absolute paths", EX_PATHS, "%s must be a list, not %s", what,
		    ynode_kind_name(v));
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = scalar(c, v->kids[i], what, EX_PATHS);
		const char *prob;
		_cleanup_free_ char *norm = NULL;

		if (!s)
			continue;
		norm = xstrdup(s);
		path_squash(norm);
		if ((prob = path_problem(norm))) {
			diag(c, v->kids[i], "an absolute path without '..'", EX_PATHS,
			    "%s entry '%s': %s", what, s, prob);
			continue;
		}
		if (no_root && strcmp(norm, "/") == 0) {
			diag(c, v->kids[i], "a directory below '/'", EX_FS,
			    strcmp(what, "deny") == 0 ? "deny must not contain '/'" :
			    "%s must not contain '/': that would let the agent write the whole host",
			    what);
			continue;
		}
		strv_take(out, steal_pointer(&norm));
	}
}

/* ---- filesystem_policy ------------------------------------------------ */

static void
fs_include_workdir(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	get_bool(c, v, "include_workdir", EX_FS, &c->p->include_workdir);
}

static void
fs_read_only(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	path_list(c, v, "read_only", &c->p->read_only, false);
}

static void
fs_read_write(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	path_list(c, v, "read_write", &c->p->read_write, true);
}

static void
fs_deny(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	path_list(c, v, "deny", &c->p->deny, true);
}

static const struct key_spec fs_keys[] = {
	{ "include_workdir", fs_include_workdir },
	{ "read_only", fs_read_only },
	{ "read_write", fs_read_write },
	{ "deny", fs_deny },
	{ NULL, NULL },
};

static void
top_fs(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	c->fs_seen = true;
	/* As in OpenShell: include_workdir defaults to false once the section exists. */
	c->p->include_workdir = false;
	walk_map(c, v, "filesystem_policy", fs_keys, EX_FS, NULL);
}

/* ---- landlock ----------------------------------------------------------- */

static void
ll_compat(struct pctx *c, struct ynode *v, void *o)
{
	const char *s = scalar(c, v, "landlock.compatibility", EX_LANDLOCK);

	(void)o;
	if (!s)
		return;
	if (strcmp(s, "best_effort") == 0)
		c->p->landlock = LANDLOCK_BEST_EFFORT;
	else if (strcmp(s, "hard_requirement") == 0)
		c->p->landlock = LANDLOCK_HARD_REQUIREMENT;
	else
		diag(c, v, "best_effort or hard_requirement", EX_LANDLOCK,
		    "unknown landlock.compatibility '%s'", s);
}

static const struct key_spec ll_keys[] = {
	{ "compatibility", ll_compat },
	{ NULL, NULL },
};

static void
top_landlock(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	walk_map(c, v, "landlock", ll_keys, EX_LANDLOCK, NULL);
}

/* ---- audit (warden) ------------------------------------------------------ */

#define EX_AUDIT "audit:\n  fsync: batch          # or always\n  on_failure: deny      # or stop\n"

static void
au_path(struct pctx *c, struct ynode *v, void *o)
{
	const char *s = scalar(c, v, "audit.path", EX_AUDIT), *prob;

	(void)o;
	if (!s)
		return;
	if ((prob = path_problem(s))) {
		diag(c, v, "an absolute path on the host", "audit:\n  path: /var/log/warden/agent.jsonl\n",
		    "audit.path '%s': %s", s, prob);
		return;
	}
	free(c->p->audit_path);
	c->p->audit_path = xstrdup(s);
}

static void
au_fsync(struct pctx *c, struct ynode *v, void *o)
{
	const char *s = scalar(c, v, "audit.fsync", EX_AUDIT);

	(void)o;
	if (!s)
		return;
	if (strcmp(s, "batch") == 0)
		c->p->audit_fsync = AUDIT_SYNC_BATCH;
	else if (strcmp(s, "always") == 0)
		c->p->audit_fsync = AUDIT_SYNC_ALWAYS;
	else
		diag(c, v, "batch or always", EX_AUDIT, "unknown audit.fsync '%s'", s);
}

static void
au_on_failure(struct pctx *c, struct ynode *v, void *o)
{
	const char *s = scalar(c, v, "audit.on_failure", EX_AUDIT);

	(void)o;
	if (!s)
		return;
	if (strcmp(s, "deny") == 0)
		c->p->audit_on_failure = AUDIT_FAIL_DENY;
	else if (strcmp(s, "stop") == 0)
		c->p->audit_on_failure = AUDIT_FAIL_STOP;
	else
		diag(c, v, "deny (refuse egress) or stop (stop the sandbox)", EX_AUDIT,
		    "unknown audit.on_failure '%s'", s);
}

static const struct key_spec au_keys[] = {
	{ "path", au_path },
	{ "fsync", au_fsync },
	{ "on_failure", au_on_failure },
	{ NULL, NULL },
};

static void
top_audit(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	walk_map(c, v, "audit", au_keys, EX_AUDIT, NULL);
}

/* ---- process ------------------------------------------------------------ */

static void
user_field(struct pctx *c, struct ynode *v, const char *what, char **out)
{
	const char *s = scalar(c, v, what, EX_PROCESS), *prob;

	if (!s)
		return;
	if ((prob = check_user(s))) {
		diag(c, v, "a user/group name or a numeric id other than 0", EX_PROCESS, "%s '%s': %s",
		    what, s, prob);
		return;
	}
	free(*out);
	*out = xstrdup(s);
}

static void
pr_user(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	user_field(c, v, "run_as_user", &c->p->run_as_user);
}

static void
pr_group(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	user_field(c, v, "run_as_group", &c->p->run_as_group);
}

static void
env_pass(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	if (v->kind != YN_SEQ) {
		diag(c, v, "a list of variable names", EX_ENV, "env.pass must be a list, not %s",
		    ynode_kind_name(v));
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = scalar(c, v->kids[i], "env.pass entry", EX_ENV), *prob;
		if (!s)
			continue;
		if ((prob = check_env_name(s)))
			diag(c, v->kids[i], "a variable name like EDITOR", EX_ENV, "env.pass '%s': %s",
			    s, prob);
		else
			strv_push(&c->p->env_pass, s);
	}
}

static void
env_set(struct pctx *c, struct ynode *v, void *o)
{
	struct policy *p = c->p;
	const struct ynode **earlier;

	(void)o;
	if (v->kind != YN_MAP) {
		diag(c, v, "a mapping NAME: value", EX_ENV, "env.set must be a mapping, not %s",
		    ynode_kind_name(v));
		return;
	}
	earlier = earlier_keys(v);
	p->env_set = xcalloc(v->nkids / 2 + 1, sizeof(*p->env_set));
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		struct ynode *k = v->kids[i], *val = v->kids[i + 1];
		const char *name = scalar(c, k, "env.set key", EX_ENV), *value, *prob;

		if (!name)
			continue;
		if ((prob = check_env_name(name))) {
			diag(c, k, "a variable name like PAGER", EX_ENV, "env.set '%s': %s", name, prob);
			continue;
		}
		if (earlier[i / 2]) {
			diag(c, k, "each key once", EX_ENV,
			    "duplicate key '%s' in env.set (first at line %d)", name, earlier[i / 2]->line);
			continue;
		}
		if (!(value = scalar(c, val, "env.set value", EX_ENV)))
			continue;
		p->env_set[p->nenv_set].name = xstrdup(name);
		p->env_set[p->nenv_set].value = xstrdup(value);
		p->nenv_set++;
	}
	free(earlier);
}

static const struct key_spec env_keys[] = {
	{ "pass", env_pass },
	{ "set", env_set },
	{ NULL, NULL },
};

static void
pr_env(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	walk_map(c, v, "process.env", env_keys, EX_ENV, NULL);
}

static void
lim_memory(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	if (v->kind != YN_SCALAR || strlen(v->str) != v->len ||
	    policy_parse_size(v->str, &c->p->limits.memory) < 0 ||
	    c->p->limits.memory < (1u << 20))
		diag(c, v, "a size of at least 1M, e.g. 512M or 2G", EX_LIMITS,
		    "limits.memory is not a valid size");
}

static void
lim_pids(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	if (get_uint(c, v, "limits.pids", EX_LIMITS, 4194304, &c->p->limits.pids) == 0 &&
	    c->p->limits.pids == 0)
		diag(c, v, "at least 1", EX_LIMITS, "limits.pids must be at least 1");
}

static void
lim_cpu(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	if (v->kind != YN_SCALAR || !v->plain ||
	    policy_parse_cpu(v->str, &c->p->limits.cpu_millis) < 0 || c->p->limits.cpu_millis == 0)
		diag(c, v, "a number of CPUs such as 1 or 0.5", EX_LIMITS,
		    "limits.cpu is not a valid CPU count");
}

static void
lim_files(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	if (get_uint(c, v, "limits.open_files", EX_LIMITS, 1048576, &c->p->limits.open_files) == 0 &&
	    c->p->limits.open_files < 16)
		diag(c, v, "at least 16", EX_LIMITS, "limits.open_files must be at least 16");
}

static const struct key_spec lim_keys[] = {
	{ "memory", lim_memory },
	{ "pids", lim_pids },
	{ "cpu", lim_cpu },
	{ "open_files", lim_files },
	{ NULL, NULL },
};

static void
pr_limits(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	walk_map(c, v, "process.limits", lim_keys, EX_LIMITS, NULL);
}

static const struct key_spec pr_keys[] = {
	{ "run_as_user", pr_user },
	{ "run_as_group", pr_group },
	{ "env", pr_env },
	{ "limits", pr_limits },
	{ NULL, NULL },
};

static void
top_process(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	walk_map(c, v, "process", pr_keys, EX_PROCESS, NULL);
}

/* ---- network_policies --------------------------------------------------- */

/* Parse state for one endpoint: which keys were present, for cross-checks. */
struct ep_state {
	struct endpoint *e;
	struct ynode *at;
	bool has_port, has_ports, has_access, has_rules, has_deny, has_enforcement, has_tls;
	bool has_host, has_ips, bad_protocol;
};

static void
ep_host(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;
	const char *s = scalar(c, v, "host", EX_ENDPOINT), *prob;
	char *h;

	st->has_host = true;
	if (!s)
		return;
	h = xstrdup(s);
	if ((prob = check_host(h, &st->e->host_is_ip, &st->e->host_wildcard))) {
		diag(c, v, "a host name, '*.domain' wildcard or IP address", EX_ENDPOINT,
		    "host '%s': %s", s, prob);
		free(h);
		return;
	}
	st->e->host = h;
}

static int
add_port(struct pctx *c, struct ynode *v, struct endpoint *e)
{
	uint64_t port;

	if (v->kind != YN_SCALAR || !v->plain || parse_u64(v->str, &port) < 0 || port > 65535) {
		diag(c, v, "a port from 1 to 65535", EX_ENDPOINT,
		    "port must be an integer from 1 to 65535");
		return -1;
	}
	if (port == 0) {
		diag(c, v, "a port from 1 to 65535", EX_ENDPOINT, "port 0 is not a valid port");
		return -1;
	}
	for (size_t i = 0; i < e->nports; i++)
		if (e->ports[i] == port) {
			diag(c, v, "each port once", EX_ENDPOINT, "port %u is listed twice",
			    (unsigned)port);
			return -1;
		}
	e->ports = xrealloc(e->ports, (e->nports + 1) * sizeof(*e->ports));
	e->ports[e->nports++] = (uint16_t)port;
	return 0;
}

static void
ep_port(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;

	st->has_port = true;
	if (!st->has_ports)	/* both: one diagnostic, from endpoint() */
		add_port(c, v, st->e);
}

static void
ep_ports(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;

	st->has_ports = true;
	if (st->has_port)	/* both: one diagnostic, from endpoint() */
		return;
	if (v->kind != YN_SEQ || v->nkids == 0) {
		diag(c, v, "a non-empty list of ports", "ports: [80, 443]\n",
		    "ports must be a non-empty list of port numbers");
		return;
	}
	for (size_t i = 0; i < v->nkids; i++)
		add_port(c, v->kids[i], st->e);
}

static void
ep_path(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;
	const char *s = scalar(c, v, "path", EX_ENDPOINT), *prob;

	if (!s)
		return;
	if ((prob = check_http_path(s)))
		diag(c, v, "a path glob like /v1/**", EX_ENDPOINT, "path '%s': %s", s, prob);
	else
		st->e->path = xstrdup(s);
}

static void
ep_allowed_ips(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;

	st->has_ips = true;
	if (v->kind != YN_SEQ || v->nkids == 0) {
		diag(c, v, "a non-empty list of IPs or CIDR ranges",
		    "allowed_ips: [10.0.5.0/24]\n", "allowed_ips must be a non-empty list");
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = scalar(c, v->kids[i], "allowed_ips entry", "allowed_ips: [10.0.5.0/24]\n"), *prob;
		char *norm = NULL;
		if (!s)
			continue;
		if ((prob = check_cidr(s, &norm)))
			diag(c, v->kids[i], "an IP address or CIDR range such as 10.0.5.0/24",
			    "allowed_ips: [10.0.5.0/24]\n", "allowed_ips '%s': %s", s, prob);
		else
			strv_take(&st->e->allowed_ips, norm);
	}
}

static void
ep_protocol(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;
	const char *s = scalar(c, v, "protocol", EX_ENDPOINT);

	/* Until it is fixed, checks that depend on the protocol would only add noise. */
	st->bad_protocol = true;
	if (!s)
		return;
	if (strcmp(s, "rest") == 0 || strcmp(s, "tcp") == 0)
		st->bad_protocol = false;
	if (strcmp(s, "rest") == 0)
		st->e->protocol = PROTO_REST;
	else if (strcmp(s, "tcp") == 0)
		st->e->protocol = PROTO_TCP;
	else if (!strcmp(s, "websocket") || !strcmp(s, "graphql") || !strcmp(s, "mcp") ||
	    !strcmp(s, "json-rpc"))
		diag(c, v, "rest or tcp", EX_ENDPOINT,
		    "protocol '%s' is an OpenShell protocol warden does not inspect yet; "
		    "use 'rest' (WebSocket upgrades are GET requests) or 'tcp'", s);
	else
		diag(c, v, "rest or tcp", EX_ENDPOINT, "unknown protocol '%s'", s);
}

static void
ep_tls(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;
	const char *s = scalar(c, v, "tls", EX_ENDPOINT);

	if (!s)
		return;
	st->has_tls = true;
	if (strcmp(s, "skip") == 0)
		st->e->tls_skip = true;
	else if (!strcmp(s, "terminate") || !strcmp(s, "passthrough"))
		diag(c, v, "skip, or no tls key", EX_ENDPOINT,
		    "tls: %s is no longer accepted; leave tls out (automatic) or write tls: skip", s);
	else
		diag(c, v, "skip, or no tls key", EX_ENDPOINT, "unknown tls mode '%s'", s);
}

static void
ep_enforcement(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;
	const char *s = scalar(c, v, "enforcement", EX_ENDPOINT);

	if (!s)
		return;
	st->has_enforcement = true;
	if (strcmp(s, "enforce") == 0)
		st->e->enforcement = ENFORCE_ENFORCE;
	else if (strcmp(s, "audit") == 0)
		st->e->enforcement = ENFORCE_AUDIT;
	else
		diag(c, v, "enforce or audit", EX_ENDPOINT, "unknown enforcement '%s'", s);
}

static void
ep_access(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;
	const char *s = scalar(c, v, "access", EX_ENDPOINT);

	st->has_access = true;
	if (!s)
		return;
	if (strcmp(s, "read-only") == 0)
		st->e->access = ACCESS_READ_ONLY;
	else if (strcmp(s, "read-write") == 0)
		st->e->access = ACCESS_READ_WRITE;
	else if (strcmp(s, "full") == 0)
		st->e->access = ACCESS_FULL;
	else
		diag(c, v, "read-only, read-write or full", EX_ENDPOINT, "unknown access '%s'", s);
}

static void
rule_method(struct pctx *c, struct ynode *v, void *o)
{
	struct http_rule *r = o;
	const char *s = scalar(c, v, "method", EX_RULES), *prob;

	if (!s)
		return;
	if ((prob = check_method(s)))
		diag(c, v, "GET, POST, ... or '*'", EX_RULES, "method '%s': %s", s, prob);
	else {
		free(r->method);
		r->method = xstrdup(s);
	}
}

static void
rule_path(struct pctx *c, struct ynode *v, void *o)
{
	struct http_rule *r = o;
	const char *s = scalar(c, v, "path", EX_RULES), *prob;

	if (!s)
		return;
	if ((prob = check_http_path(s)))
		diag(c, v, "a path glob like /repos/**", EX_RULES, "path '%s': %s", s, prob);
	else {
		free(r->path);
		r->path = xstrdup(s);
	}
}

static void
rule_query(struct pctx *c, struct ynode *v, void *o)
{
	struct http_rule *r = o;
	static const char ex[] = "query:\n  per_page: \"*\"\n  state: {any: [open, closed]}\n";
	const struct ynode **earlier;

	if (v->kind != YN_MAP) {
		diag(c, v, "a mapping of parameter: glob", ex, "query must be a mapping");
		return;
	}
	earlier = earlier_keys(v);
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		const char *name = scalar(c, v->kids[i], "query parameter", ex), *g;
		struct ynode *val = v->kids[i + 1];

		if (!name)
			continue;
		/* Stored as "name=glob": a name holding '=' would be ambiguous. */
		if (!*name || strchr(name, '=')) {
			diag(c, v->kids[i], "a parameter name without '='", ex,
			    "query parameter name '%s' is empty or contains '='", name);
			continue;
		}
		if (earlier[i / 2]) {
			diag(c, v->kids[i], "each parameter once (use {any: [...]} for several globs)",
			    ex, "duplicate query parameter '%s' (first at line %d)", name,
			    earlier[i / 2]->line);
			continue;
		}
		if (val->kind == YN_SCALAR) {
			if ((g = scalar(c, val, "query glob", ex)))
				strv_take(&r->query, xasprintf("%s=%s", name, g));
		} else if (val->kind == YN_MAP && val->nkids == 2 &&
		    val->kids[0]->kind == YN_SCALAR && strcmp(val->kids[0]->str, "any") == 0 &&
		    val->kids[1]->kind == YN_SEQ && val->kids[1]->nkids > 0) {
			/* Several "name=glob" entries for one name mean any of them. */
			for (size_t j = 0; j < val->kids[1]->nkids; j++) {
				g = scalar(c, val->kids[1]->kids[j], "query glob", ex);
				if (g)
					strv_take(&r->query, xasprintf("%s=%s", name, g));
			}
		} else {
			diag(c, val, "a glob string or {any: [globs]}", ex,
			    "query parameter '%s' must be a glob or {any: [...]}", name);
		}
	}
	free(earlier);
	strv_sort_uniq(&r->query);
}

static const struct key_spec rule_keys[] = {
	{ "method", rule_method },
	{ "path", rule_path },
	{ "query", rule_query },
	{ NULL, NULL },
};

static void
finish_rule(struct http_rule *r)
{
	if (!r->method)
		r->method = xstrdup("*");
	if (!r->path)
		r->path = xstrdup("**");
}

static void
rule_allow(struct pctx *c, struct ynode *v, void *o)
{
	walk_map(c, v, "rules[].allow", rule_keys, EX_RULES, o);
}

static const struct key_spec allow_keys[] = {
	{ "allow", rule_allow },
	{ NULL, NULL },
};

static void
rules_list(struct pctx *c, struct ynode *v, const char *what, bool wrapped,
    struct http_rule **out, size_t *n)
{
	if (v->kind != YN_SEQ || v->nkids == 0) {
		diag(c, v, "a non-empty list of rules", EX_RULES,
		    "%s must be a non-empty list (leave the key out instead)", what);
		return;
	}
	*out = xcalloc(v->nkids, sizeof(**out));
	for (size_t i = 0; i < v->nkids; i++) {
		struct http_rule *r = &(*out)[(*n)++];
		struct ynode *item = v->kids[i];

		if (wrapped) {
			bool has_allow = false;
			if (item->kind == YN_MAP)
				for (size_t j = 0; j < item->nkids; j += 2)
					has_allow |= item->kids[j]->kind == YN_SCALAR &&
					    strcmp(item->kids[j]->str, "allow") == 0;
			walk_map(c, item, what, allow_keys, EX_RULES, r);
			if (item->kind == YN_MAP && !has_allow)
				diag(c, item, "an 'allow:' mapping", EX_RULES,
				    "each entry of rules needs an 'allow:' clause");
		} else {
			walk_map(c, item, what, rule_keys, "deny_rules:\n  - method: DELETE\n    path: /**\n", r);
		}
		finish_rule(r);
	}
}

static void
ep_rules(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;

	st->has_rules = true;
	rules_list(c, v, "rules", true, &st->e->rules, &st->e->nrules);
}

static void
ep_deny_rules(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;

	st->has_deny = true;
	rules_list(c, v, "deny_rules", false, &st->e->deny_rules, &st->e->ndeny_rules);
}

static void
ep_encoded_slash(struct pctx *c, struct ynode *v, void *o)
{
	struct ep_state *st = o;

	get_bool(c, v, "allow_encoded_slash", EX_ENDPOINT, &st->e->allow_encoded_slash);
}

/* OpenShell endpoint keys warden recognises but does not implement. */
static void
ep_unsupported(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	(void)v;
	diag(c, c->cur_key, "an endpoint without this key", EX_ENDPOINT,
	    "'%s' is an OpenShell endpoint option warden does not support; remove it",
	    c->cur_key->str);
}

static const struct key_spec ep_keys[] = {
	{ "host", ep_host },
	{ "port", ep_port },
	{ "ports", ep_ports },
	{ "path", ep_path },
	{ "allowed_ips", ep_allowed_ips },
	{ "protocol", ep_protocol },
	{ "tls", ep_tls },
	{ "enforcement", ep_enforcement },
	{ "access", ep_access },
	{ "rules", ep_rules },
	{ "deny_rules", ep_deny_rules },
	{ "allow_encoded_slash", ep_encoded_slash },
	{ "credential_binding", ep_unsupported },
	{ "request_body_credential_rewrite", ep_unsupported },
	{ "websocket_credential_rewrite", ep_unsupported },
	{ "allow_uninspected_credentials", ep_unsupported },
	{ "credential_signing", ep_unsupported },
	{ "signing_service", ep_unsupported },
	{ "signing_region", ep_unsupported },
	{ "persisted_queries", ep_unsupported },
	{ "graphql_persisted_queries", ep_unsupported },
	{ "graphql_max_body_bytes", ep_unsupported },
	{ "mcp", ep_unsupported },
	{ "json_rpc", ep_unsupported },
	{ NULL, NULL },
};

static void
endpoint(struct pctx *c, struct ynode *v, struct endpoint *e)
{
	struct ep_state st = { .e = e, .at = v };
	const char *where = "endpoint";

	e->enforcement = ENFORCE_ENFORCE;
	walk_map(c, v, where, ep_keys, EX_ENDPOINT, &st);
	if (v->kind != YN_MAP)
		return;
	/* A host or allowed_ips that is present but wrong has its own diagnostic. */
	if (!st.has_host && !st.has_ips)
		diag(c, v, "host: (or allowed_ips: for a host-less endpoint)", EX_ENDPOINT,
		    "endpoint needs a host");
	if (st.has_port && st.has_ports)
		diag(c, v, "either port: or ports:, not both", EX_ENDPOINT,
		    "endpoint sets both port and ports");
	else if (!st.has_port && !st.has_ports)
		diag(c, v, "port: N or ports: [N, M]", EX_ENDPOINT, "endpoint needs a port");
	if (st.has_access && st.has_rules)
		diag(c, v, "either access: or rules:, not both", EX_ENDPOINT,
		    "endpoint sets both access and rules");
	if (st.bad_protocol)
		return;
	if (e->protocol == PROTO_REST && !st.has_access && !st.has_rules)
		diag(c, v, "access: read-only|read-write|full, or rules:", EX_ENDPOINT,
		    "protocol: rest needs access or rules");
	if (e->protocol == PROTO_NONE && (st.has_access || st.has_rules || st.has_deny))
		diag(c, v, "protocol: rest", EX_ENDPOINT,
		    "access/rules/deny_rules need 'protocol: rest' (without it they would silently "
		    "have no effect)");
	if (e->protocol == PROTO_NONE && (st.has_enforcement || e->allow_encoded_slash || e->path))
		diag(c, v, "protocol: rest", EX_ENDPOINT,
		    "enforcement/allow_encoded_slash/path need 'protocol: rest' (without it they would "
		    "silently have no effect)");
	if (st.has_deny && !st.has_access && !st.has_rules)
		diag(c, v, "access: or rules: alongside deny_rules", EX_ENDPOINT,
		    "deny_rules need access or rules on the same endpoint");
	if (e->protocol == PROTO_TCP) {
		if (!st.has_host || e->host_is_ip)
			diag(c, v, "a DNS host name", EX_ENDPOINT, "protocol: tcp needs a host name");
		if (e->path || st.has_enforcement || st.has_access || st.has_rules || st.has_deny)
			diag(c, v, "host, port(s), protocol: tcp", EX_ENDPOINT,
			    "protocol: tcp does not take path, enforcement, access, rules or deny_rules");
	}
	if (e->tls_skip && e->protocol == PROTO_REST)
		diag(c, v, "tls: skip only without request rules", EX_ENDPOINT,
		    "tls: skip cannot be combined with protocol: rest: rules need to read the "
		    "requests, which TLS hides");
}

static int
cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void
np_endpoints(struct pctx *c, struct ynode *v, void *o)
{
	struct net_policy *np = o;

	if (is_null(v)) {
		diag(c, v, "a list (write [] for none)", EX_NET, "endpoints must be a list, not null");
		return;
	}
	if (v->kind != YN_SEQ) {
		diag(c, v, "a list of endpoints", EX_ENDPOINT, "endpoints must be a list, not %s",
		    ynode_kind_name(v));
		return;
	}
	np->endpoints = xcalloc(v->nkids, sizeof(*np->endpoints));
	for (size_t i = 0; i < v->nkids; i++) {
		struct endpoint *e = &np->endpoints[np->nendpoints++];
		endpoint(c, v->kids[i], e);
		if (e->nports > 1)
			qsort(e->ports, e->nports, sizeof(*e->ports), cmp_u16);
	}
}

static void
bin_path(struct pctx *c, struct ynode *v, void *o)
{
	struct binary_rule *b = o;
	const char *s = scalar(c, v, "binaries[].path", EX_BINARIES), *prob;

	if (!s)
		return;
	if ((prob = check_binary_glob(s)))
		diag(c, v, "an absolute executable path or glob", EX_BINARIES, "binary path '%s': %s",
		    s, prob);
	else
		b->path = xstrdup(s);
}

static void
bin_children(struct pctx *c, struct ynode *v, void *o)
{
	struct binary_rule *b = o;

	get_bool(c, v, "binaries[].children", EX_BINARIES, &b->children);
}

static const struct key_spec bin_keys[] = {
	{ "path", bin_path },
	{ "children", bin_children },
	{ NULL, NULL },
};

static void
np_binaries(struct pctx *c, struct ynode *v, void *o)
{
	struct net_policy *np = o;

	if (v->kind != YN_SEQ) {
		diag(c, v, "a list of {path: ...}", EX_BINARIES, "binaries must be a list, not %s",
		    ynode_kind_name(v));
		return;
	}
	np->binaries = xcalloc(v->nkids, sizeof(*np->binaries));
	for (size_t i = 0; i < v->nkids; i++) {
		struct binary_rule *b = &np->binaries[np->nbinaries];
		bool has_path = false;

		memset(b, 0, sizeof(*b));
		if (v->kids[i]->kind == YN_MAP)
			for (size_t j = 0; j < v->kids[i]->nkids; j += 2)
				has_path |= v->kids[i]->kids[j]->kind == YN_SCALAR &&
				    strcmp(v->kids[i]->kids[j]->str, "path") == 0;
		walk_map(c, v->kids[i], "binaries entry", bin_keys, EX_BINARIES, b);
		if (v->kids[i]->kind == YN_MAP && !has_path)
			diag(c, v->kids[i], "path: /absolute/executable", EX_BINARIES,
			    "binaries entry needs a path");
		if (b->path)
			np->nbinaries++;
	}
}

static void
np_name(struct pctx *c, struct ynode *v, void *o)
{
	struct net_policy *np = o;
	const char *s = scalar(c, v, "name", EX_NET);

	if (s) {
		free(np->name);
		np->name = xstrdup(s);
	}
}

static const struct key_spec np_keys[] = {
	{ "name", np_name },
	{ "endpoints", np_endpoints },
	{ "binaries", np_binaries },
	{ NULL, NULL },
};

static void
top_network(struct pctx *c, struct ynode *v, void *o)
{
	struct policy *p = c->p;
	const struct ynode **earlier;

	(void)o;
	if (is_null(v))
		return;
	if (v->kind != YN_MAP) {
		diag(c, v, "a mapping of name: {endpoints, binaries}", EX_NET,
		    "network_policies must be a mapping, not %s", ynode_kind_name(v));
		return;
	}
	p->net = xcalloc(v->nkids / 2 + 1, sizeof(*p->net));
	earlier = earlier_keys(v);
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		struct ynode *k = v->kids[i];
		const char *key = scalar(c, k, "network policy name", EX_NET), *prob;
		struct net_policy *np;

		if (!key)
			continue;
		if ((prob = check_policy_key(key))) {
			diag(c, k, "a name like github_api", EX_NET, "network policy '%s': %s", key, prob);
			continue;
		}
		if (earlier[i / 2]) {
			diag(c, k, "each key once", EX_NET, "duplicate network policy '%s' (first at line %d)",
			    key, earlier[i / 2]->line);
			continue;
		}
		np = &p->net[p->nnet++];
		np->key = xstrdup(key);
		walk_map(c, v->kids[i + 1], "network policy", np_keys, EX_NET, np);
		if (!np->name)
			np->name = xstrdup(key);
	}
	free(earlier);
}

/* ---- credentials (warden) ------------------------------------------------- */

#define EX_CRED "credentials:\n  github:\n    from_env: GITHUB_TOKEN            # or from_file: /run/secrets/gh\n    sandbox_env: GITHUB_TOKEN         # the agent sees a placeholder here\n    header: \"Authorization: Bearer {}\"\n    network_policies: [github_api]\n"
#define EX_CRED_HEADER "header: \"Authorization: Bearer {}\"   # {} is where the secret goes\n"

/*
 * Variables warden sets in the agent's environment itself: a placeholder
 * there would be overwritten, or would break the proxy or the CA set-up.
 */
static const char *const cred_reserved_env[] = {
	"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
	"http_proxy", "https_proxy", "all_proxy", "no_proxy",
	"NODE_USE_ENV_PROXY", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
	"NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "HOME", "PATH", "USER", "LOGNAME",
};

/*
 * Variables the agent inherits from warden's environment without being
 * listed in env.pass (src/cli/cli_common.c): a secret read from one of
 * them is in the sandbox already.
 */
static bool
cred_env_inherited(const char *name)
{
	static const char *const safe[] = {
		"PATH", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "TZ", "COLORTERM", "NO_COLOR",
	};

	if (strncmp(name, "LC_", 3) == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(safe); i++)
		if (strcmp(name, safe[i]) == 0)
			return true;
	return false;
}

/*
 * Headers the proxy itself writes or that frame the message: setting them
 * from a template would change where or how the request goes.
 */
static const char *const cred_managed_headers[] = {
	"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
	"te", "trailer", "proxy-connection", "proxy-authorization", "proxy-authenticate",
};

/* Where each credential's fields were written, for the checks made once the whole file is read. */
struct cred_at {
	const struct ynode *key, *from_env, *sandbox_env, *header, *nps;
	bool is_map, has_env, has_file, has_sandbox_env, has_header;
};

struct cred_state {
	struct credential *cr;
	struct cred_at *at;
};

static void
cr_from_env(struct pctx *c, struct ynode *v, void *o)
{
	struct cred_state *st = o;
	const char *s = scalar(c, v, "from_env", EX_CRED), *prob;

	st->at->has_env = true;
	if (!s)
		return;
	if ((prob = check_env_name(s))) {
		diag(c, v, "a variable name like GITHUB_TOKEN", EX_CRED, "from_env '%s': %s", s, prob);
		return;
	}
	st->cr->from_env = xstrdup(s);
	st->at->from_env = v;
}

static void
cr_from_file(struct pctx *c, struct ynode *v, void *o)
{
	struct cred_state *st = o;
	const char *s = scalar(c, v, "from_file", EX_CRED), *prob;
	_cleanup_free_ char *norm = NULL;

	st->at->has_file = true;
	if (!s)
		return;
	norm = xstrdup(s);
	path_squash(norm);
	if ((prob = path_problem(norm)) || strcmp(norm, "/") == 0) {
		diag(c, v, "an absolute path of a file on the host", "from_file: /run/secrets/github\n",
		    "from_file '%s': %s", s, prob ? prob : "'/' is not a file");
		return;
	}
	st->cr->from_file = steal_pointer(&norm);
}

static void
cr_sandbox_env(struct pctx *c, struct ynode *v, void *o)
{
	struct cred_state *st = o;
	const char *s = scalar(c, v, "sandbox_env", EX_CRED), *prob;

	st->at->has_sandbox_env = true;
	if (!s)
		return;
	st->at->sandbox_env = v;
	if ((prob = check_env_name(s))) {
		diag(c, v, "a variable name like GITHUB_TOKEN", EX_CRED, "sandbox_env '%s': %s", s,
		    prob);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cred_reserved_env); i++)
		if (strcmp(s, cred_reserved_env[i]) == 0) {
			diag(c, v, "a variable warden does not set itself", EX_CRED,
			    "sandbox_env '%s' is set by warden in every sandbox; choose another name", s);
			return;
		}
	st->cr->sandbox_env = xstrdup(s);
}

/* RFC 9110 token characters. */
static bool
is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	    (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* "Name: template": a static reason, or NULL with the two halves in *name and *tmpl. */
static const char *
parse_cred_header(const char *s, char **name, char **tmpl)
{
	const char *colon = strchr(s, ':'), *t, *e, *brace;
	size_t nl;

	if (!colon)
		return "header must be 'Name: template', e.g. 'Authorization: Bearer {}'";
	nl = (size_t)(colon - s);
	if (nl == 0 || nl > 64)
		return "header name must be 1 to 64 characters";
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar((unsigned char)s[i]))
			return "header name holds only letters, digits and !#$%&'*+-.^_`|~ (no spaces)";
	for (size_t i = 0; i < ARRAY_SIZE(cred_managed_headers); i++)
		if (strlen(cred_managed_headers[i]) == nl && strncasecmp(s, cred_managed_headers[i], nl) == 0)
			return "this header frames or routes the request; the proxy manages it";
	for (t = colon + 1; *t == ' '; t++)
		;
	for (e = t + strlen(t); e > t && e[-1] == ' '; e--)
		;
	for (const char *q = colon + 1; *q; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
			return "header template must be printable ASCII: no CR, LF, tabs or other control bytes";
	if ((size_t)(e - t) > 1024)
		return "header template is longer than 1024 characters";
	if (!(brace = strstr(t, "{}")) || brace + 2 > e)
		return "header template needs '{}' where the secret goes";
	if (strstr(brace + 2, "{}"))
		return "header template must contain '{}' exactly once";
	*name = xstrndup(s, nl);
	*tmpl = xstrndup(t, (size_t)(e - t));
	return NULL;
}

static void
cr_header(struct pctx *c, struct ynode *v, void *o)
{
	struct cred_state *st = o;
	const char *s = scalar(c, v, "header", EX_CRED_HEADER), *prob;

	st->at->has_header = true;
	if (!s)
		return;
	st->at->header = v;
	if ((prob = parse_cred_header(s, &st->cr->header_name, &st->cr->header_template)))
		diag(c, v, "\"Name: template\" with {} once, e.g. \"Authorization: Bearer {}\"",
		    EX_CRED_HEADER, "header '%s': %s", s, prob);
}

static void
cr_network_policies(struct pctx *c, struct ynode *v, void *o)
{
	struct cred_state *st = o;
	static const char ex[] = "network_policies: [github_api]   # keys of network_policies\n";

	st->at->nps = v;
	if (v->kind != YN_SEQ || v->nkids == 0) {
		diag(c, v, "a non-empty list of network_policies names", ex,
		    "network_policies must be a non-empty list of network_policies names");
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		const char *s = scalar(c, v->kids[i], "network_policies entry", ex), *prob;

		if (!s)
			continue;
		if ((prob = check_policy_key(s)))
			diag(c, v->kids[i], "a name like github_api", ex, "network_policies '%s': %s", s,
			    prob);
		else
			strv_push(&st->cr->network_policies, s);
	}
}

static const struct key_spec cred_keys[] = {
	{ "from_env", cr_from_env },
	{ "from_file", cr_from_file },
	{ "sandbox_env", cr_sandbox_env },
	{ "header", cr_header },
	{ "network_policies", cr_network_policies },
	{ NULL, NULL },
};

static void
credential(struct pctx *c, const struct ynode *k, struct ynode *v, struct credential *cr,
    struct cred_at *at)
{
	struct cred_state st = { .cr = cr, .at = at };

	at->key = k;
	walk_map(c, v, "credential", cred_keys, EX_CRED, &st);
	if (v->kind != YN_MAP)
		return;
	at->is_map = true;
	if (at->has_env && at->has_file)
		diag(c, k, "either from_env: or from_file:, not both", EX_CRED,
		    "credential '%s' sets both from_env and from_file", cr->name);
	else if (!at->has_env && !at->has_file)
		diag(c, k, "from_env: VARIABLE or from_file: /path", EX_CRED,
		    "credential '%s' needs a source: from_env or from_file", cr->name);
	/* How it is used is checked in check_credentials(): inference may come later. */
}

static void
top_credentials(struct pctx *c, struct ynode *v, void *o)
{
	struct policy *p = c->p;
	const struct ynode **earlier;

	(void)o;
	if (is_null(v))
		return;
	if (v->kind != YN_MAP) {
		diag(c, v, "a mapping of name: {from_env or from_file, network_policies, ...}", EX_CRED,
		    "credentials must be a mapping, not %s", ynode_kind_name(v));
		return;
	}
	if (v->nkids / 2 > POLICY_MAX_CREDENTIALS) {
		diag(c, v, "at most 256 credentials", EX_CRED, "credentials lists %zu credentials",
		    v->nkids / 2);
		return;
	}
	p->creds = xcalloc(v->nkids / 2 + 1, sizeof(*p->creds));
	c->cred_at = xcalloc(v->nkids / 2 + 1, sizeof(*c->cred_at));
	earlier = earlier_keys(v);
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		struct ynode *k = v->kids[i];
		const char *name = scalar(c, k, "credential name", EX_CRED), *prob;
		struct credential *cr;

		if (!name)
			continue;
		if ((prob = check_policy_key(name))) {
			diag(c, k, "a name like github", EX_CRED, "credential '%s': %s", name, prob);
			continue;
		}
		if (earlier[i / 2]) {
			diag(c, k, "each name once", EX_CRED, "duplicate credential '%s' (first at line %d)",
			    name, earlier[i / 2]->line);
			continue;
		}
		cr = &p->creds[p->ncreds];
		cr->name = xstrdup(name);
		credential(c, k, v->kids[i + 1], cr, &c->cred_at[p->ncreds]);
		p->ncreds++;
	}
	free(earlier);
}

static const struct net_policy *
find_net(const struct policy *p, const char *key)
{
	for (size_t i = 0; i < p->nnet; i++)
		if (strcmp(p->net[i].key, key) == 0)
			return &p->net[i];
	return NULL;
}

/* Each name in a credential's network_policies must exist and be readable by the proxy. */
static void
check_cred_bindings(struct pctx *c, const struct credential *cr, const struct cred_at *at)
{
	static const char ex[] = "network_policies:\n  github_api:\n    endpoints:\n      - {host: api.github.com, port: 443}\n    binaries:\n      - path: /usr/bin/git\ncredentials:\n  github:\n    from_env: GITHUB_TOKEN\n    header: \"Authorization: Bearer {}\"\n    network_policies: [github_api]\n";

	if (!at->nps || at->nps->kind != YN_SEQ)
		return;
	for (size_t i = 0; i < at->nps->nkids; i++) {
		const struct ynode *item = at->nps->kids[i];
		const struct net_policy *np;

		if (item->kind != YN_SCALAR || strlen(item->str) != item->len ||
		    check_policy_key(item->str))
			continue;	/* reported already */
		if (!(np = find_net(c->p, item->str))) {
			diag(c, item, "the name of an entry under network_policies", ex,
			    "credential '%s' is bound to '%s', which is not a network_policies entry",
			    cr->name, item->str);
			continue;
		}
		for (size_t j = 0; j < np->nendpoints; j++) {
			const struct endpoint *e = &np->endpoints[j];

			if (!e->tls_skip && e->protocol != PROTO_TCP)
				continue;
			diag(c, item, "network_policies whose endpoints the proxy can read "
			    "(no tls: skip, no protocol: tcp)", ex,
			    "credential '%s' is bound to '%s', whose endpoint %s:%u has %s: the proxy "
			    "cannot read those requests, so it could never put the secret in",
			    cr->name, item->str, e->host ? e->host : "(allowed_ips)",
			    e->nports ? e->ports[0] : 0, e->tls_skip ? "tls: skip" : "protocol: tcp");
			break;
		}
	}
}

/*
 * A credential must be usable.  The proxy uses it for the network_policies
 * entries it is bound to, through sandbox_env or header; the privacy
 * router uses it for the inference providers that name it, and needs
 * neither (it writes the provider's own auth header).  So only a credential
 * no provider names must have both a binding and a way in.
 */
static void
check_cred_use(struct pctx *c, const struct credential *cr, const struct cred_at *at)
{
	if (!at->is_map || pl_infer_uses_credential(c, cr->name))
		return;
	if (!at->has_sandbox_env && !at->has_header)
		diag(c, at->key, "sandbox_env:, header:, or both (or an inference provider with "
		    "credential: NAME)", EX_CRED,
		    "credential '%s' needs sandbox_env or header: without either the secret can "
		    "never be used", cr->name);
	if (!at->nps)
		diag(c, at->key, "network_policies: [names], or an inference provider with "
		    "credential: NAME", EX_CRED,
		    "credential '%s' needs network_policies: the entries whose endpoints may "
		    "receive the secret (or an inference provider that uses it)", cr->name);
}

/*
 * Checks across sections and across credentials, made once the whole file
 * has been read (network_policies, process and inference may come after
 * credentials).
 */
static void
check_credentials(struct pctx *c)
{
	const struct policy *p = c->p;

	for (size_t i = 0; i < p->ncreds; i++) {
		const struct credential *cr = &p->creds[i];
		const struct cred_at *at = &c->cred_at[i];

		check_cred_use(c, cr, at);
		check_cred_bindings(c, cr, at);
		if (cr->from_env && strv_contains(&p->env_pass, cr->from_env))
			diag(c, at->from_env, "a variable that process.env.pass does not pass", EX_CRED,
			    "credential '%s' reads %s, which process.env.pass hands to the agent: the "
			    "agent would hold the secret itself; remove it from env.pass",
			    cr->name, cr->from_env);
		else if (cr->from_env && cred_env_inherited(cr->from_env))
			diag(c, at->from_env, "a variable the sandbox does not inherit", EX_CRED,
			    "credential '%s' reads %s, which every sandbox inherits from warden's "
			    "environment: the agent would hold the secret itself", cr->name, cr->from_env);
		if (cr->sandbox_env) {
			bool set = false;
			for (size_t j = 0; j < p->nenv_set; j++)
				set |= strcmp(p->env_set[j].name, cr->sandbox_env) == 0;
			if (set || strv_contains(&p->env_pass, cr->sandbox_env))
				diag(c, at->sandbox_env, "a variable process.env does not set or pass", EX_CRED,
				    "sandbox_env %s of credential '%s' is also %s by process.env; the agent "
				    "gets the placeholder there, so remove it from env.%s",
				    cr->sandbox_env, cr->name, set ? "set" : "passed", set ? "set" : "pass");
			for (size_t j = 0; j < i; j++)
				if (p->creds[j].sandbox_env &&
				    strcmp(p->creds[j].sandbox_env, cr->sandbox_env) == 0) {
					diag(c, at->sandbox_env, "each sandbox_env once", EX_CRED,
					    "sandbox_env %s is used by credentials '%s' and '%s' (first at line %d)",
					    cr->sandbox_env, p->creds[j].name, cr->name,
					    c->cred_at[j].sandbox_env->line);
					break;
				}
		}
		/* Two templates for one header on one entry: which one wins would be an accident. */
		for (size_t j = 0; cr->header_name && j < i; j++) {
			const struct credential *o = &p->creds[j];
			const char *both = NULL;

			if (!o->header_name || strcasecmp(o->header_name, cr->header_name) != 0)
				continue;
			for (size_t k = 0; k < cr->network_policies.n && !both; k++)
				if (strv_contains(&o->network_policies, cr->network_policies.v[k]))
					both = cr->network_policies.v[k];
			if (both) {
				diag(c, at->header, "one credential per header on each network policy",
				    EX_CRED, "credentials '%s' and '%s' both set header %s on requests under "
				    "'%s'", o->name, cr->name, cr->header_name, both);
				break;
			}
		}
	}
}

static void
top_version(struct pctx *c, struct ynode *v, void *o)
{
	uint64_t ver;

	(void)o;
	if (v->kind == YN_SCALAR && !v->plain && parse_u64(v->str, &ver) == 0) {
		diag(c, v, "version: 1", EX_TOP,
		    "version must be the plain number 1, not the string '%s' (remove the quotes or tag)",
		    v->str);
		return;
	}
	if (v->kind != YN_SCALAR || !v->plain || parse_u64(v->str, &ver) < 0 || ver != 1) {
		diag(c, v, "version: 1", EX_TOP, "unsupported policy version '%s'",
		    v->kind == YN_SCALAR ? v->str : ynode_kind_name(v));
		return;
	}
	c->p->version = 1;
}

static void
top_middlewares(struct pctx *c, struct ynode *v, void *o)
{
	(void)o;
	(void)v;
	diag(c, c->cur_key, "no network_middlewares section", EX_NET,
	    "network_middlewares is an OpenShell section warden does not support; remove it");
}

static const struct key_spec top_keys[] = {
	{ "version", top_version },
	{ "filesystem_policy", top_fs },
	{ "landlock", top_landlock },
	{ "process", top_process },
	{ "network_policies", top_network },
	{ "network_middlewares", top_middlewares },
	{ "credentials", top_credentials },
	{ "inference", pl_top_inference },
	{ "classifiers", pl_top_classifiers },
	{ "approvals", pl_top_approvals },
	{ "audit", top_audit },
	{ NULL, NULL },
};

static int
cmp_net(const void *a, const void *b)
{
	return strcmp(((const struct net_policy *)a)->key, ((const struct net_policy *)b)->key);
}

static int
cmp_cred(const void *a, const void *b)
{
	return strcmp(((const struct credential *)a)->name, ((const struct credential *)b)->name);
}

int
policy_load_buffer(const char *name, const char *data, size_t len, struct policy *p,
    struct policy_diags *d)
{
	struct pctx c = { .d = d, .p = p };
	struct ynode *root = NULL;
	char msg[512];
	int line = 0, col = 0;

	memset(p, 0, sizeof(*p));
	memset(d, 0, sizeof(*d));
	d->file = xstrdup(name);
	p->include_workdir = true;
	p->landlock = LANDLOCK_BEST_EFFORT;
	pl_approvals_defaults(&p->approvals);

	if (len > POLICY_MAX_BYTES) {
		diag(&c, NULL, "a policy of at most 4 MiB", EX_TOP, "policy file is too large (%zu bytes)",
		    len);
		return -1;
	}
	if (memchr(data, '\0', len)) {
		const char *z = memchr(data, '\0', len);
		struct ynode at = { .line = 1, .col = 1 };
		for (const char *q = data; q < z; q++) {
			if (*q == '\n') {
				at.line++;
				at.col = 1;
			} else {
				at.col++;
			}
		}
		diag(&c, &at, "a UTF-8 YAML text file", EX_TOP,
		    "policy contains a NUL byte: this is not a text file");
		return -1;
	}
	if (ynode_parse(data, len, &root, msg, sizeof(msg), &line, &col) < 0) {
		struct ynode at = { .line = line ? line : 1, .col = col ? col : 1 };
		diag(&c, &at, "a YAML mapping", EX_TOP, "%s", msg);
		return -1;
	}
	if (!root || is_null(root)) {
		diag(&c, NULL, "a mapping starting with 'version: 1'", EX_TOP, "policy is empty");
		ynode_free(root);
		return -1;
	}
	walk_map(&c, root, "the policy", top_keys, EX_TOP, NULL);
	if (root->kind == YN_MAP && p->version != 1) {
		bool has = false;
		for (size_t i = 0; i < root->nkids; i += 2)
			has |= root->kids[i]->kind == YN_SCALAR && !strcmp(root->kids[i]->str, "version");
		if (!has)
			diag(&c, root, "version: 1 at the top", EX_TOP, "policy has no 'version' key");
	}
	check_credentials(&c);
	pl_infer_check(&c);
	free(c.cred_at);
	pl_infer_done(&c);
	ynode_free(root);
	if (d->n > 0) {
		policy_free(p);
		return -1;
	}
	strv_sort_uniq(&p->read_only);
	strv_sort_uniq(&p->read_write);
	strv_sort_uniq(&p->deny);
	strv_sort_uniq(&p->env_pass);
	if (p->nnet > 1)
		qsort(p->net, p->nnet, sizeof(*p->net), cmp_net);
	for (size_t i = 0; i < p->ncreds; i++)
		strv_sort_uniq(&p->creds[i].network_policies);
	if (p->ncreds > 1)
		qsort(p->creds, p->ncreds, sizeof(*p->creds), cmp_cred);
	pl_infer_sort(p);
	if (p->read_only.n + p->read_write.n + p->deny.n > POLICY_MAX_PATHS) {
		diag(&c, NULL, "at most 256 paths in read_only, read_write and deny together", EX_FS,
		    "policy lists too many paths");
		policy_free(p);
		return -1;
	}
	return 0;
}

int
policy_load_file(const char *path, struct policy *p, struct policy_diags *d)
{
	_cleanup_free_ char *data = NULL;
	struct werr err = { 0 };
	size_t len;

	if (read_file(path, POLICY_MAX_BYTES + 1, &data, &len, &err) < 0) {
		struct pctx c = { .d = d, .p = p };
		memset(p, 0, sizeof(*p));
		memset(d, 0, sizeof(*d));
		d->file = xstrdup(path);
		diag(&c, NULL, NULL, NULL, "cannot read policy: %s", err.msg);
		d->v[0].line = 0;
		return -1;
	}
	return policy_load_buffer(path, data, len, p, d);
}

void
policy_diags_print(const struct policy_diags *d, FILE *f)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct policy_diag *g = &d->v[i];

		if (g->line > 0)
			fprintf(f, "%s:%d:%d: error: %s\n", d->file, g->line, g->col, g->msg);
		else
			fprintf(f, "%s: error: %s\n", d->file, g->msg);
		if (g->expected)
			fprintf(f, "  expected: %s\n", g->expected);
		if (g->example) {
			const char *s = g->example;
			fprintf(f, "  example:\n");
			while (*s) {
				const char *e = strchrnul(s, '\n');
				fprintf(f, "    %.*s\n", (int)(e - s), s);
				s = *e ? e + 1 : e;
			}
		}
	}
	if (d->n >= MAX_DIAGS)
		fprintf(f, "%s: too many errors, stopping\n", d->file);
}

void
policy_diags_free(struct policy_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].msg);
		free(d->v[i].expected);
		free(d->v[i].example);
	}
	free(d->v);
	free(d->file);
	memset(d, 0, sizeof(*d));
}

static void
free_rules(struct http_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].method);
		free(r[i].path);
		strv_free(&r[i].query);
	}
	free(r);
}

void
policy_free(struct policy *p)
{
	free(p->audit_path);
	strv_free(&p->read_only);
	strv_free(&p->read_write);
	strv_free(&p->deny);
	free(p->run_as_user);
	free(p->run_as_group);
	strv_free(&p->env_pass);
	for (size_t i = 0; i < p->nenv_set; i++) {
		free(p->env_set[i].name);
		free(p->env_set[i].value);
	}
	free(p->env_set);
	for (size_t i = 0; i < p->nnet; i++) {
		struct net_policy *np = &p->net[i];
		for (size_t j = 0; j < np->nendpoints; j++) {
			struct endpoint *e = &np->endpoints[j];
			free(e->host);
			free(e->ports);
			free(e->path);
			strv_free(&e->allowed_ips);
			free_rules(e->rules, e->nrules);
			free_rules(e->deny_rules, e->ndeny_rules);
		}
		free(np->endpoints);
		for (size_t j = 0; j < np->nbinaries; j++)
			free(np->binaries[j].path);
		free(np->binaries);
		free(np->key);
		free(np->name);
	}
	free(p->net);
	for (size_t i = 0; i < p->ncreds; i++) {
		struct credential *cr = &p->creds[i];
		free(cr->name);
		free(cr->from_env);
		free(cr->from_file);
		free(cr->sandbox_env);
		free(cr->header_name);
		free(cr->header_template);
		strv_free(&cr->network_policies);
	}
	free(p->creds);
	pl_infer_free(p);
	memset(p, 0, sizeof(*p));
}

int
policy_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	char num[32];
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_u64(num, &v) < 0)
		return -1;
	s += n;
	switch (*s) {
	case 'K': case 'k': mult = 1ull << 10; s++; break;
	case 'M': case 'm': mult = 1ull << 20; s++; break;
	case 'G': case 'g': mult = 1ull << 30; s++; break;
	case 'T': case 't': mult = 1ull << 40; s++; break;
	default: break;
	}
	if (mult > 1 && *s == 'i')
		s++;
	if (*s == 'B')
		s++;
	if (*s || (v && mult > UINT64_MAX / v))
		return -1;
	*out = v * mult;
	return 0;
}

int
policy_parse_cpu(const char *s, uint64_t *millis)
{
	uint64_t whole = 0, frac = 0, scale = 1000;
	char num[16];
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 6)
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_u64(num, &whole) < 0)
		return -1;
	s += n;
	if (*s == '.') {
		s++;
		if (!*s)
			return -1;
		for (; *s && scale > 1; s++) {
			if (*s < '0' || *s > '9')
				return -1;
			scale /= 10;
			frac += (uint64_t)(*s - '0') * scale;
		}
	}
	if (*s)
		return -1;
	*millis = whole * 1000 + frac;
	return 0;
}

const char *
net_access_name(enum net_access a)
{
	switch (a) {
	case ACCESS_READ_ONLY: return "read-only";
	case ACCESS_READ_WRITE: return "read-write";
	case ACCESS_FULL: return "full";
	case ACCESS_NONE: break;
	}
	return "none";
}

const char *
net_protocol_name(enum net_protocol p)
{
	switch (p) {
	case PROTO_REST: return "rest";
	case PROTO_TCP: return "tcp";
	case PROTO_NONE: break;
	}
	return "none";
}
