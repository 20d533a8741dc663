/*
 * The policy: what a sandbox may touch.  Loaded from YAML (version 1, core
 * keys follow NVIDIA OpenShell's published schema), validated completely,
 * and reduced to a canonical form whose SHA-256 is the policy hash that
 * every later decision is recorded with.
 *
 * Ownership: a struct policy owns every string and array below it;
 * policy_free() releases all of it.
 */
#ifndef WARDEN_POLICY_H
#define WARDEN_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/tier.h"
#include "../lib/util.h"

#define POLICY_MAX_BYTES (4u << 20)	/* as OpenShell: 4 MiB */
#define POLICY_MAX_PATHS 256
#define POLICY_MAX_CREDENTIALS 256	/* each holds up to 8 KiB of locked memory */

enum landlock_compat { LANDLOCK_BEST_EFFORT, LANDLOCK_HARD_REQUIREMENT };
enum net_protocol { PROTO_NONE, PROTO_REST, PROTO_TCP };
enum net_enforcement { ENFORCE_ENFORCE, ENFORCE_AUDIT };
enum net_access { ACCESS_NONE, ACCESS_READ_ONLY, ACCESS_READ_WRITE, ACCESS_FULL };
enum audit_sync { AUDIT_SYNC_BATCH, AUDIT_SYNC_ALWAYS };
enum audit_on_failure { AUDIT_FAIL_DENY, AUDIT_FAIL_STOP };

struct http_rule {
	char *method;		/* "GET", ..., or "*" */
	char *path;		/* glob, "" when absent */
	struct strv query;	/* "name=glob" pairs, sorted */
};

struct endpoint {
	char *host;		/* lower-case, no trailing dot; NULL when only allowed_ips */
	bool host_is_ip;
	bool host_wildcard;
	uint16_t *ports;	/* sorted, unique */
	size_t nports;
	char *path;		/* endpoint path glob or NULL */
	struct strv allowed_ips;	/* CIDRs, normalised */
	enum net_protocol protocol;
	bool tls_skip;
	enum net_enforcement enforcement;
	enum net_access access;
	struct http_rule *rules;
	size_t nrules;
	struct http_rule *deny_rules;
	size_t ndeny_rules;
	bool allow_encoded_slash;
};

struct binary_rule {
	char *path;		/* absolute path or glob */
	bool children;		/* warden: also match descendants */
};

struct net_policy {
	char *key;		/* map key */
	char *name;		/* display name (defaults to key) */
	struct endpoint *endpoints;
	size_t nendpoints;
	struct binary_rule *binaries;
	size_t nbinaries;
};

struct env_set {
	char *name, *value;
};

/*
 * A credential (warden extension): a secret kept on the host, seen by the
 * agent only as a placeholder, put into requests by the proxy only towards
 * the endpoints of the network_policies entries it is bound to.  Holds
 * names, a variable name or a path -- never the secret itself.
 */
struct credential {
	char *name;
	char *from_env, *from_file;	/* exactly one set */
	char *sandbox_env;		/* or NULL */
	char *header_name, *header_template;	/* or NULL; template contains one "{}" */
	struct strv network_policies;	/* sorted */
};

/*
 * The privacy router (warden extension, dynamic): which model providers
 * exist, how sensitive a request each may receive, and which of them serve
 * which models, in order of preference.
 */
enum infer_format { INFER_ANTHROPIC, INFER_OPENAI };
enum infer_on_none { INFER_ON_NONE_DENY, INFER_ON_NONE_REDACT };

struct infer_provider {
	char *name;		/* map key */
	enum infer_format format;
	char *base_url;		/* as written, normalised: no trailing slash */
	bool tls;		/* https */
	char *host;		/* lower-case host or IP literal (no brackets) */
	uint16_t port;		/* explicit or 443/80 */
	char *base_path;	/* "" or "/prefix" without trailing slash */
	enum tier max_tier;
	char *credential;	/* name of a credentials entry, or NULL */
	char *model;		/* rewrite every request's model to this, or NULL */
};

struct infer_route {
	struct strv models;	/* globs, as written (order kept) */
	struct strv providers;	/* provider names, in order of preference */
};

/* A custom detection rule: literal terms (case-insensitive) or one regex. */
struct infer_custom {
	char *name;
	struct strv terms;	/* literal terms, or empty */
	char *pattern;		/* a PCRE-subset regex (Vectorscan syntax), or NULL */
	enum tier tier;
};

struct inference {
	bool present;			/* the section was written */
	struct infer_provider *providers;	/* sorted by name */
	size_t nproviders;
	struct infer_route *routes;	/* in order: the first route whose model glob matches */
	size_t nroutes;
	enum infer_on_none on_no_provider;
	uint64_t max_body;		/* bytes; default 8 MiB */
	unsigned timeout_ms;		/* classifier deadline per request; default 2000 */
	enum tier base64_min_tier;	/* tier of an opaque base64 blob; default internal */
	struct infer_custom *custom;	/* sorted by name */
	size_t ncustom;
};

/* An external classifier (warden extension, static): chained after the built-in one. */
struct classifier {
	char *name;
	struct strv command;	/* argv; command[0] absolute */
	struct strv read_only;	/* paths it may read besides system directories */
	unsigned timeout_ms;	/* 0 = inference.timeout_ms */
};

/*
 * Change under control (warden extension, dynamic): hold what the policy
 * denies while a human decides (mode: ask), and whether the agent may
 * propose network_policies entries at http://policy.local.  Defaults
 * apply when the section is absent (present false).
 */
#define APPROVALS_DEFAULT_TIMEOUT_MS 60000
#define APPROVALS_DEFAULT_RATE 10

struct approvals_policy {
	bool present;			/* the section was written */
	bool ask;			/* mode: ask (default deny) */
	unsigned timeout_ms;		/* how long a held request waits; whole seconds, 1s..1h */
	bool proposals;			/* the agent may propose (default true) */
	unsigned rate_per_minute;	/* proposals per minute, 1..600 (default 10) */
};

struct limits {
	uint64_t memory;	/* bytes, 0 = unlimited */
	uint64_t pids;		/* 0 = unlimited */
	uint64_t cpu_millis;	/* thousandths of a CPU, 0 = unlimited */
	uint64_t open_files;	/* 0 = unchanged */
};

struct policy {
	int version;
	/* filesystem_policy */
	bool include_workdir;
	struct strv read_only, read_write, deny;
	/* landlock */
	enum landlock_compat landlock;
	/* process */
	char *run_as_user, *run_as_group;	/* NULL = not set */
	struct strv env_pass;
	struct env_set *env_set;
	size_t nenv_set;
	struct limits limits;
	/* network_policies, sorted by key */
	struct net_policy *net;
	size_t nnet;
	/* credentials (warden), sorted by name */
	struct credential *creds;
	size_t ncreds;
	/* inference (warden, dynamic) */
	struct inference inference;
	/* approvals (warden, dynamic) */
	struct approvals_policy approvals;
	/* classifiers (warden, static), in the order written */
	struct classifier *classifiers;
	size_t nclassifiers;
	/* audit (warden) */
	char *audit_path;		/* NULL = the default location */
	enum audit_sync audit_fsync;
	enum audit_on_failure audit_on_failure;
};

/* One diagnostic: FILE:LINE:COL: error: msg, then expectation and example. */
struct policy_diag {
	int line, col;
	char *msg;
	char *expected;		/* may be NULL */
	char *example;		/* a short valid YAML snippet, may be NULL */
};

struct policy_diags {
	char *file;
	struct policy_diag *v;
	size_t n;
};

/*
 * Parse and validate.  On success returns 0 and fills *p (owned by the
 * caller).  On failure returns -1 and every problem found is in *d.
 */
int policy_load_buffer(const char *name, const char *data, size_t len,
    struct policy *p, struct policy_diags *d);
int policy_load_file(const char *path, struct policy *p, struct policy_diags *d);
void policy_diags_print(const struct policy_diags *d, FILE *f);
void policy_diags_free(struct policy_diags *d);
void policy_free(struct policy *p);

/* The embedded default policy's YAML text. */
const char *policy_default_yaml(void);

/*
 * Canonical form: deterministic YAML with every default made explicit and
 * every set sorted.  Equal policies written differently give equal text.
 * Returns an owned string.  policy_hash() is SHA-256 over it.
 */
char *policy_canonical(const struct policy *p);
void policy_hash(const struct policy *p, char hex[65]);

/* Parse "512M"-style sizes and "1.5"-style CPU counts (exposed for tests). */
int policy_parse_size(const char *s, uint64_t *out);
int policy_parse_cpu(const char *s, uint64_t *millis);

const char *net_access_name(enum net_access a);
const char *infer_format_name(enum infer_format f);
const char *net_protocol_name(enum net_protocol p);

#endif
