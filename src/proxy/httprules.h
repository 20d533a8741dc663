/*
 * Request inspection for endpoints with `protocol: rest`: the request
 * target turned into the one path the rules are matched against and the
 * one path the upstream is sent, and the decision of an endpoint's
 * `access` preset, `rules` and `deny_rules` on a request.
 *
 * The point of the normalisation is that no spelling of a target can make
 * the proxy match one path and the upstream serve another.  The upstream
 * never sees what the agent wrote: it gets `wire`, which is re-encoded
 * from exactly the decoded path the rules saw, so "%2e%2e", "//" or "./"
 * cannot be resolved differently on the far side.  Spellings whose
 * meaning depends on the server (an encoded backslash, double encoding,
 * "..;" path parameters, overlong UTF-8) are refused rather than guessed
 * at; the caller answers 400.
 *
 * Pure functions: nothing here reads a socket or keeps state.  The
 * endpoint is borrowed (it lives in the loaded policy, see
 * src/policy/policy.h); a struct http_target owns its strings.
 */
#ifndef WARDEN_HTTPRULES_H
#define WARDEN_HTTPRULES_H

#include <stdbool.h>
#include <stddef.h>

#include "../policy/policy.h"

#define HTTP_TARGET_MAX 8192		/* bytes of request target */
#define HTTP_QUERY_MAX_PARAMS 256
#define HTTP_AUDIT_MAX 1024		/* bytes of http_target.audit */

struct http_query_param {
	char *name, *value;	/* decoded: %XX and '+' -> ' ' */
};

struct http_target {
	char *path;	/* decoded, dot segments removed, empty segments collapsed: what rules match */
	char *wire;	/* what is sent upstream: path re-encoded + ("?" raw query) when there was one */
	char *audit;	/* for the audit trail: wire's path + "?" + each query name followed by "=" with
			 * the value left out, joined by "&" (e.g. "/search?q=&page="), at most 1024 bytes */
	struct http_query_param *query;
	size_t nquery;
};

/*
 * raw/len: an origin-form request target ("/a/b?x=1") or "*".  Returns
 * NULL and fills t (owned; free with http_target_free), or a static reason
 * and leaves t empty; the caller answers 400 with it.
 *
 * Precisely:
 *   - The target starts with '/' or is exactly "*" (path, wire and audit
 *     "*").  At most 8192 bytes; every byte 0x21-0x7e; no '#', no '\'.
 *   - Path: each %XX (either case) is decoded once.  Refused: '%' without
 *     two hex digits, a decoded NUL or control byte, a decoded '\', a
 *     decoded '%' followed by two hex digits (double encoding such as
 *     %252F or %2525), decoded bytes that are not valid UTF-8 (overlong
 *     forms such as %C0%AE are read as '.' by some servers).
 *   - %2F is refused unless allow_encoded_slash; then it stays the three
 *     bytes "%2F" in path and wire: data inside a segment, never a
 *     separator.  A "." or ".." next to it ("/a/..%2Fb") is refused, since
 *     a server that splits on %2F would climb there.
 *   - Dot segments: "." is removed, ".." removes the previous segment, a
 *     ".." above the root is refused.  Decoding comes first, so %2e%2e is
 *     "..".  A segment that is "." or ".." followed by ';' ("..;x") is
 *     refused (servers that strip path parameters resolve it).  Empty
 *     segments collapse; a trailing '/' is kept (also the one a final
 *     "." or ".." leaves: "/a/b/.." is "/a/").
 *   - wire: the path with A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , ; = : @ /
 *     as they are, the literal %2F kept, every other byte %XX upper-case;
 *     then "?" and the raw query when the target had a '?'.  A wire form
 *     longer than 8192 bytes is refused too.
 *   - Query (after the first '?'): %-escapes must be well formed.  Split
 *     on '&' (empty pieces skipped), "name=value" or "name" (value ""),
 *     both decoded (%XX, '+' -> ' ').  A decoded NUL is refused (it would
 *     end the C string the rules compare).  At most 256 parameters.
 *   - audit: wire's path, then, when there was a '?', "?" and each raw
 *     parameter name followed by "=", joined by "&"; values are never in
 *     it.  Longer than 1024 bytes: cut and ended with "...".
 */
const char *http_target_normalize(const char *raw, size_t len, bool allow_encoded_slash,
    struct http_target *t);

/* Free what t owns and zero it; NULL and zeroed targets are fine. */
void http_target_free(struct http_target *t);

enum http_verdict {
	HTTP_ALLOW,
	HTTP_DENY,
	HTTP_AUDIT,	/* would be denied, but enforcement: audit lets it through */
};

struct http_decision {
	enum http_verdict verdict;
	char matched[64];	/* "deny_rules[0]", "rules[2]", "access read-only", or "" */
	char reason[300];	/* words for the agent and the audit trail, always set */
};

/*
 * Does the endpoint's own `path` glob (ep->path; NULL = any) admit this
 * normalised path?  "*" and "**" mean any path; other globs are
 * glob_match_path() (src/lib/glob.h) on t->path.
 */
bool http_endpoint_path_matches(const struct endpoint *ep, const struct http_target *t);

/*
 * Decide one request on an endpoint with protocol: rest.  method as sent
 * (compared case-sensitively); t from http_target_normalize().
 *
 *   1. deny_rules, in order: the first that matches denies ("request
 *      METHOD PATH matches deny_rules[i] of the endpoint"), whatever the
 *      allow side says.
 *   2. access: read-only allows GET, HEAD, OPTIONS; read-write also POST,
 *      PUT, PATCH; full everything (matched "access NAME").
 *   3. rules, in order: the first that matches allows (matched
 *      "rules[i]").
 *   4. Otherwise deny: "no rule allows METHOD PATH".
 * With ep->enforcement == ENFORCE_AUDIT a denial becomes HTTP_AUDIT, its
 * reason prefixed "audit mode, would deny: ".
 *
 * A matcher (struct http_rule) matches when its method is "*" or equal to
 * method, its path glob ("", "*" and "**" mean any) matches t->path, and
 * every query condition holds.  rule->query holds "name=glob" strings;
 * entries with the same name are alternatives.  The condition on NAME
 * holds when the request has at least one parameter NAME and every value
 * it gives for NAME matches one of NAME's globs, so "?state=open&state=x"
 * does not pass "state: open".  Parameters the rule does not name are
 * unconstrained.  Query globs compare decoded values: '*' matches any run
 * of bytes ('/' included), '?' one byte, every other byte itself.
 *
 * Deny rules read ambiguity towards denial, as allow rules do: a query
 * condition of a deny rule holds when at least one of the values given
 * for NAME matches (an upstream may act on any of them, so
 * "?force=false&force=true" is caught by "force: true"), and a deny rule
 * also matches t->path without its trailing slash ("/admin/" is caught by
 * "/admin", since many servers route both alike).
 *
 * PATH in reasons is t->audit (query values never appear), control bytes
 * replaced by '?' and cut to 160 bytes with "...".  A NULL endpoint, method
 * or target, or a target without a path, is denied (never audited through).
 */
void http_rules_check(const struct endpoint *ep, const char *method, const struct http_target *t,
    struct http_decision *out);

#endif
