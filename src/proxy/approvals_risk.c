/*
 * Risk notes: what a human should look at twice before approving.  They
 * are computed by warden from the loaded entry (never from the agent's
 * words) and are advisory: nothing here allows or refuses anything.
 *
 * The notes are short sentences, pushed in a fixed order so the same
 * entry always reads the same way.
 */
#include "approvals.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/glob.h"

/* Programs that run whatever code they are given: network access for them is access for anything. */
static const char *const interpreters[] = {
	"sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "ash",
	"python", "node", "nodejs", "deno", "bun", "perl", "ruby", "php", "lua", "luajit",
	"env", "busybox", "tclsh", "wish", "pwsh", "irb", "jshell",
};
/* Prefixes that carry versions: python3.11, perl5.36, php8.2, lua5.4. */
static const char *const versioned[] = { "python", "perl", "php", "lua", "ruby", "node" };
static const char *const bindirs[] = { "/usr/bin/", "/bin/", "/usr/local/bin/", "/usr/sbin/" };

static bool
base_is_interpreter(const char *base)
{
	for (size_t i = 0; i < ARRAY_SIZE(interpreters); i++)
		if (strcmp(base, interpreters[i]) == 0)
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(versioned); i++) {
		size_t n = strlen(versioned[i]);
		if (strncmp(base, versioned[i], n) == 0 && strspn(base + n, "0123456789.") == strlen(base + n))
			return true;
	}
	return false;
}

/*
 * A binary path or glob that is, or may match, a shell or an interpreter:
 * by its basename, or (a glob such as "/usr/bin/" followed by a star, or
 * "**") by trying it on the usual places those programs live.
 */
bool
approvals_is_interpreter(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (base_is_interpreter(base))
		return true;
	if (!strpbrk(path, "*?["))
		return false;
	for (size_t d = 0; d < ARRAY_SIZE(bindirs); d++)
		for (size_t i = 0; i < ARRAY_SIZE(interpreters); i++) {
			char buf[64];

			snprintf(buf, sizeof(buf), "%s%s", bindirs[d], interpreters[i]);
			if (glob_match_path(path, buf))
				return true;
		}
	return false;
}

/* The class of an IP literal (no brackets, no prefix), or ADDR_PUBLIC for a name. */
static enum addr_class
literal_class(const char *s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, s, &sin.sin_addr) == 1)
		return addr_classify((struct sockaddr *)&sin);
	if (inet_pton(AF_INET6, s, &sin6.sin6_addr) == 1)
		return addr_classify((struct sockaddr *)&sin6);
	return ADDR_PUBLIC;
}

static bool
is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void
note_address(const char *what, const char *s, struct strv *out)
{
	enum addr_class c = literal_class(s);

	if (c == ADDR_METADATA)
		strv_take(out, xasprintf("%s %s is the cloud metadata service (instance credentials)",
		    what, s));
	else if (c != ADDR_PUBLIC)
		strv_take(out, xasprintf("%s %s is a %s address (inside the host's networks)", what, s,
		    addr_class_name(c)));
}

/* Names that usually mean "a machine on the inside". */
static bool
internal_name(const char *h)
{
	static const char *const suffixes[] = { ".localhost", ".internal", ".local", ".lan", ".home.arpa" };
	size_t n = strlen(h);

	if (strcmp(h, "localhost") == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t k = strlen(suffixes[i]);
		if (n > k && strcmp(h + n - k, suffixes[i]) == 0)
			return true;
	}
	return false;
}

static void
endpoint_risks(const struct endpoint *e, struct strv *out)
{
	if (e->host) {
		if (e->host_wildcard || strstr(e->host, "**"))
			strv_take(out, xasprintf("wildcard host %s: every matching name is allowed", e->host));
		if (e->host_is_ip) {
			strv_take(out, xasprintf("IP literal host %s", e->host));
			note_address("host", e->host, out);
		} else if (internal_name(e->host)) {
			strv_take(out, xasprintf("host %s looks like an internal name", e->host));
		}
	}
	for (size_t i = 0; i < e->allowed_ips.n; i++) {
		char *ip = xstrdup(e->allowed_ips.v[i]);
		char *slash = strchr(ip, '/');
		uint64_t bits = 0;

		if (slash) {
			*slash = '\0';
			if (parse_u64(slash + 1, &bits) == 0 &&
			    bits < (strchr(ip, ':') ? 48u : 16u))
				strv_take(out, xasprintf("allowed_ips %s is a wide range", e->allowed_ips.v[i]));
		}
		note_address("allowed_ips", ip, out);
		free(ip);
	}
	if (e->nports > 8)
		strv_take(out, xasprintf("%zu ports on one endpoint", e->nports));
	if (e->tls_skip)
		strv_take(out, xstrdup("tls: skip: the proxy cannot see or restrict the requests"));
	if (e->access == ACCESS_FULL || e->access == ACCESS_READ_WRITE)
		strv_take(out, xasprintf("broad method rules: access %s", net_access_name(e->access)));
	for (size_t i = 0; i < e->nrules; i++)
		if (strcmp(e->rules[i].method, "*") == 0) {
			strv_take(out, xstrdup("broad method rules: a rule allows every method"));
			break;
		}
}

void
approvals_risks_entry(const struct policy *p, const struct net_policy *np, struct strv *out)
{
	for (size_t i = 0; i < np->nendpoints; i++)
		endpoint_risks(&np->endpoints[i], out);
	for (size_t i = 0; i < np->nbinaries; i++) {
		const struct binary_rule *b = &np->binaries[i];

		if (approvals_is_interpreter(b->path))
			strv_take(out, xasprintf("binary %s is (or matches) a shell or interpreter: "
			    "network access for any code it runs", b->path));
		else if (strpbrk(b->path, "*?["))
			strv_take(out, xasprintf("binary glob %s matches many programs", b->path));
		if (b->children)
			strv_take(out, xasprintf("children: true: every program %s starts is allowed too",
			    b->path));
	}
	for (size_t i = 0; p && i < p->ncreds; i++)
		if (strv_contains(&p->creds[i].network_policies, np->key))
			strv_take(out, xasprintf("credential '%s' is bound to this entry: "
			    "its requests carry the real secret", p->creds[i].name));
	/* The same note from two endpoints says nothing new. */
	for (size_t i = 0; i < out->n; i++)
		for (size_t j = i + 1; j < out->n;) {
			if (strcmp(out->v[i], out->v[j]) == 0) {
				free(out->v[j]);
				memmove(&out->v[j], &out->v[j + 1], (out->n - j) * sizeof(char *));
				out->n--;
			} else {
				j++;
			}
		}
}

void
approvals_risks_hold(const char *binary, const char *host, struct strv *out)
{
	if (is_ip_literal(host)) {
		strv_take(out, xasprintf("IP literal host %s", host));
		note_address("host", host, out);
	} else if (internal_name(host)) {
		strv_take(out, xasprintf("host %s looks like an internal name", host));
	}
	if (binary && approvals_is_interpreter(binary))
		strv_take(out, xasprintf("binary %s is a shell or interpreter: "
		    "network access for any code it runs", binary));
}

void
approvals_risks_request(const char *method, const char *path, struct strv *out)
{
	static const char *const writes[] = { "POST", "PUT", "PATCH", "DELETE", NULL };

	for (const char *const *w = writes; *w; w++)
		if (strcmp(method, *w) == 0)
			strv_take(out, xasprintf("%s changes data on the server", method));
	if (strcmp(method, "*") == 0 || strcmp(method, "CONNECT") == 0 ||
	    strcmp(method, "TRACE") == 0)
		strv_take(out, xasprintf("method %s is unusual for an API", method));
	if (path && strchr(path, '?') == NULL)
		strv_take(out, xasprintf("--always allows %s %s with any query string", method, path));
}
