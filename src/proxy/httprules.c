/*
 * Request-target normalisation and the REST rule decision (httprules.h).
 *
 * Servers disagree about paths in many small ways: whether %2F is a
 * separator, whether '\' is one, whether "..;" is "..", whether %252e is
 * decoded twice, whether "//" is one slash.  A proxy that matches rules
 * on the raw target and forwards it unchanged inherits every one of those
 * disagreements as a bypass ("/public/..%2Fadmin" matches a rule for
 * /public here and is /admin there).  So the target is decoded once, into
 * segments, with everything resolved that can be resolved unambiguously
 * ("%2e%2e", ".", "//") and everything else refused; the rules match the
 * result and the upstream receives that same result re-encoded, a
 * spelling that every server reads alike.
 *
 * The decision is ordered so that every failure ends in a denial: deny
 * rules first, then the allow side, and a denial whenever nothing allowed.
 */
#include "httprules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/glob.h"

#define REASON_PATH_MAX 160	/* bytes of path in a reason: the longest reason still fits */
#define REASON_METHOD_MAX 32

/* ---- bytes ---------------------------------------------------------------- */

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Bytes the wire form writes as they are (RFC 3986 pchar minus '%', and '/'). */
static bool
is_wire_plain(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

static void
add_pct(struct sbuf *b, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3] = { '%', hex[c >> 4], hex[c & 15] };

	sbuf_add(b, e, 3);
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF.  Overlong forms matter here: "%C0%AE" is '.' to a lax decoder.
 */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (n - i - 1 < k)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t j = 2; j <= k; j++) {
			if (s[i + j] < 0x80 || s[i + j] > 0xbf)
				return false;
		}
		i += k + 1;
	}
	return true;
}

/* ---- path ----------------------------------------------------------------- */

/*
 * The decoded path: bytes, and for each whether it is an encoded slash
 * kept as data (only with allow_encoded_slash).  An unmarked '/' is a
 * separator.
 */
struct dpath {
	unsigned char *c;
	bool *slash;
	size_t n;
};

/* Decode raw[0..len) (the path, without the query) once. */
static const char *
decode_path(const char *raw, size_t len, bool allow_encoded_slash, struct dpath *d)
{
	size_t i = 0;

	d->c = xmalloc(len + 1);
	d->slash = xcalloc(len + 1, sizeof(*d->slash));
	d->n = 0;
	while (i < len) {
		unsigned char c = (unsigned char)raw[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3 || (hi = hex_value((unsigned char)raw[i + 1])) < 0 ||
			    (lo = hex_value((unsigned char)raw[i + 2])) < 0)
				return "malformed percent-encoding in the path";
			c = (unsigned char)(hi << 4 | lo);
			i += 3;
			if (c == '/') {
				if (!allow_encoded_slash)
					return "encoded slash (%2F) in the path; the endpoint does not set "
					    "allow_encoded_slash";
				d->slash[d->n] = true;
				d->c[d->n++] = '/';
				continue;
			}
		} else
			i++;
		if (c == '\0')
			return "NUL byte (%00) in the path";
		if (c < 0x20 || c == 0x7f)
			return "control byte in the decoded path";
		if (c == '\\')
			return "backslash (%5C) in the path";
		d->c[d->n++] = c;
	}
	/*
	 * Only %25 yields an unmarked '%' (a raw '%' always starts an escape),
	 * so a '%' with two hex digits after it is a second layer of encoding
	 * that some server would decode again.
	 */
	for (size_t k = 0; k + 2 < d->n; k++) {
		if (d->c[k] == '%' && !d->slash[k + 1] && !d->slash[k + 2] &&
		    hex_value(d->c[k + 1]) >= 0 && hex_value(d->c[k + 2]) >= 0)
			return "double percent-encoding in the path";
	}
	if (!utf8_valid(d->c, d->n))
		return "the decoded path is not valid UTF-8";
	return NULL;
}

/* Is c[0..n) "." or "..", alone or followed by ";parameters"? */
static bool
is_dot_piece(const unsigned char *c, size_t n, bool *params)
{
	size_t k = 0;

	while (k < n && c[k] == '.')
		k++;
	if (k == 0 || k > 2)
		return false;
	*params = k < n;
	return k == n || c[k] == ';';
}

/*
 * A segment kept as data holds encoded slashes: a server that splits on
 * them sees the pieces between as segments, so none may be a dot segment.
 * In every segment a dot segment with path parameters ("..;x") is refused:
 * Tomcat and others strip the parameters and then climb.
 */
static const char *
check_segment(const struct dpath *d, size_t s, size_t e)
{
	size_t p = s;
	bool params = false;

	for (size_t k = s; k <= e; k++) {
		if (k < e && !d->slash[k])
			continue;
		if (k - p > 0 && is_dot_piece(d->c + p, k - p, &params)) {
			if (params)
				return "dot segment with parameters (\"..;\") in the path";
			if (p != s || k != e)
				return "dot segment next to an encoded slash in the path";
		}
		p = k + 1;
	}
	return NULL;
}

struct seg {
	size_t off, len;
};

static void
emit_segment(const struct dpath *d, const struct seg *sg, struct sbuf *path, struct sbuf *wire)
{
	for (size_t k = sg->off; k < sg->off + sg->len; k++) {
		unsigned char c = d->c[k];

		if (d->slash[k]) {
			sbuf_add(path, "%2F", 3);
			sbuf_add(wire, "%2F", 3);
			continue;
		}
		sbuf_add(path, (const char *)&c, 1);
		if (is_wire_plain(c))
			sbuf_add(wire, (const char *)&c, 1);
		else
			add_pct(wire, c);
	}
}

/*
 * Resolve dot segments and empty segments (RFC 3986 §5.2.4, except that
 * climbing above the root is an error rather than silently clamped, and
 * "//" collapses) and write the normalised path and its wire form.
 */
static const char *
resolve_path(const struct dpath *d, char **path_out, char **wire_out)
{
	struct seg *st = xcalloc(d->n + 1, sizeof(*st));
	size_t nst = 0, s = 1;
	bool trailing = false;
	struct sbuf path, wire;
	const char *why = NULL;

	/* d->c[0] is the leading '/': the target was checked to start with one. */
	for (size_t k = 1; k <= d->n; k++) {
		size_t len;
		bool params;

		if (k < d->n && (d->c[k] != '/' || d->slash[k]))
			continue;
		len = k - s;
		trailing = k == d->n && (len == 0 || is_dot_piece(d->c + s, len, &params));
		if ((why = check_segment(d, s, k)) != NULL)
			goto out;
		if (len == 0 || (len == 1 && d->c[s] == '.')) {
			/* empty or ".": nothing to keep */
		} else if (len == 2 && d->c[s] == '.' && d->c[s + 1] == '.') {
			if (nst == 0) {
				why = "the path climbs above the root (\"..\")";
				goto out;
			}
			nst--;
		} else {
			st[nst].off = s;
			st[nst].len = len;
			nst++;
		}
		s = k + 1;
	}

	sbuf_init(&path, SIZE_MAX / 2);
	sbuf_init(&wire, SIZE_MAX / 2);
	for (size_t i = 0; i < nst; i++) {
		sbuf_add(&path, "/", 1);
		sbuf_add(&wire, "/", 1);
		emit_segment(d, &st[i], &path, &wire);
	}
	if (nst == 0 || trailing) {
		sbuf_add(&path, "/", 1);
		sbuf_add(&wire, "/", 1);
	}
	*path_out = path.p;
	*wire_out = wire.p;
out:
	free(st);
	return why;
}

/* ---- query ---------------------------------------------------------------- */

/* Decode a query name or value: %XX (already checked well formed), '+' is a space. */
static char *
decode_query_part(const char *s, size_t n, bool *nul)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%' && n - i >= 3) {
			c = (unsigned char)(hex_value((unsigned char)s[i + 1]) << 4 |
			    hex_value((unsigned char)s[i + 2]));
			i += 2;
		} else if (c == '+')
			c = ' ';
		if (c == '\0')
			*nul = true;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

static const char *
parse_query(const char *q, size_t n, struct http_target *t)
{
	size_t i = 0, cap = 0;

	for (size_t k = 0; k < n; k++) {
		if (q[k] == '%' && (n - k < 3 || hex_value((unsigned char)q[k + 1]) < 0 ||
		    hex_value((unsigned char)q[k + 2]) < 0))
			return "malformed percent-encoding in the query";
	}
	while (i < n) {
		const char *p = q + i, *amp = memchr(p, '&', n - i), *eq;
		size_t plen = amp ? (size_t)(amp - p) : n - i;
		struct http_query_param *qp;
		bool nul = false;

		i += plen + 1;
		if (plen == 0)
			continue;
		if (t->nquery == HTTP_QUERY_MAX_PARAMS)
			return "more than 256 query parameters";
		if (t->nquery == cap) {
			cap = cap ? cap * 2 : 8;
			t->query = xrealloc(t->query, cap * sizeof(*t->query));
		}
		eq = memchr(p, '=', plen);
		qp = &t->query[t->nquery++];
		qp->name = decode_query_part(p, eq ? (size_t)(eq - p) : plen, &nul);
		qp->value = eq ? decode_query_part(eq + 1, plen - (size_t)(eq - p) - 1, &nul) :
		    xstrdup("");
		if (nul)
			return "NUL byte (%00) in a query parameter";
	}
	return NULL;
}

/* ---- the three forms ------------------------------------------------------ */

/*
 * The audit form: the raw parameter names (already printable ASCII) stand
 * for the parameters, so the trail shows the request's shape without its
 * values, which may be secrets.
 */
static char *
build_audit(const char *wire_path, const char *q, size_t qn)
{
	struct sbuf b;
	size_t i = 0;
	bool first = true;

	sbuf_init(&b, SIZE_MAX / 2);
	sbuf_adds(&b, wire_path);
	if (q) {
		sbuf_add(&b, "?", 1);
		while (i < qn && b.len <= HTTP_AUDIT_MAX) {
			const char *p = q + i, *amp = memchr(p, '&', qn - i), *eq;
			size_t plen = amp ? (size_t)(amp - p) : qn - i;

			i += plen + 1;
			if (plen == 0)
				continue;
			eq = memchr(p, '=', plen);
			if (!first)
				sbuf_add(&b, "&", 1);
			sbuf_add(&b, p, eq ? (size_t)(eq - p) : plen);
			sbuf_add(&b, "=", 1);
			first = false;
		}
	}
	if (b.len > HTTP_AUDIT_MAX) {
		size_t cut = HTTP_AUDIT_MAX - 3;

		/* Not inside a %XX escape. */
		if (b.p[cut - 1] == '%')
			cut -= 1;
		else if (b.p[cut - 2] == '%')
			cut -= 2;
		b.len = cut;
		sbuf_add(&b, "...", 3);
	}
	return b.p;
}

static const char *
check_raw(const char *raw, size_t len)
{
	if (!raw || len == 0)
		return "empty request target";
	if (len > HTTP_TARGET_MAX)
		return "request target longer than 8192 bytes";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c < 0x21 || c >= 0x7f)
			return "request target has a control, space or non-ASCII byte";
		if (c == '#')
			return "request target must not have a fragment ('#')";
		if (c == '\\')
			return "backslash in the request target";
	}
	if (len == 1 && raw[0] == '*')
		return NULL;
	if (raw[0] != '/')
		return "request target must start with '/'";
	return NULL;
}

const char *
http_target_normalize(const char *raw, size_t len, bool allow_encoded_slash,
    struct http_target *t)
{
	struct dpath d = { 0 };
	const char *why, *q;
	char *wire_path = NULL;
	size_t plen;

	memset(t, 0, sizeof(*t));
	if ((why = check_raw(raw, len)) != NULL)
		return why;
	if (len == 1 && raw[0] == '*') {
		t->path = xstrdup("*");
		t->wire = xstrdup("*");
		t->audit = xstrdup("*");
		return NULL;
	}
	q = memchr(raw, '?', len);
	plen = q ? (size_t)(q - raw) : len;

	if ((why = decode_path(raw, plen, allow_encoded_slash, &d)) != NULL ||
	    (why = resolve_path(&d, &t->path, &wire_path)) != NULL)
		goto fail;
	if (q && (why = parse_query(q + 1, len - plen - 1, t)) != NULL)
		goto fail;
	t->wire = q ? xasprintf("%s%.*s", wire_path, (int)(len - plen), q) : xstrdup(wire_path);
	/* Re-encoding can triple a byte; the upstream gets the same cap the agent did. */
	if (strlen(t->wire) > HTTP_TARGET_MAX) {
		why = "request target longer than 8192 bytes once re-encoded";
		goto fail;
	}
	t->audit = build_audit(wire_path, q ? q + 1 : NULL, q ? len - plen - 1 : 0);
	free(wire_path);
	free(d.c);
	free(d.slash);
	return NULL;
fail:
	free(wire_path);
	free(d.c);
	free(d.slash);
	http_target_free(t);
	return why;
}

void
http_target_free(struct http_target *t)
{
	if (!t)
		return;
	free(t->path);
	free(t->wire);
	free(t->audit);
	for (size_t i = 0; i < t->nquery; i++) {
		free(t->query[i].name);
		free(t->query[i].value);
	}
	free(t->query);
	memset(t, 0, sizeof(*t));
}

/* ---- matching ------------------------------------------------------------- */

/*
 * '*' any run of bytes, '?' one byte, anything else itself.  The greedy
 * one-star backtracking of glob.c: a later star can absorb whatever an
 * earlier one could, so O(len(pattern) * len(s)) and never exponential.
 */
static bool
query_glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat && (*pat == '?' || *pat == *s)) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else
			return false;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* "*" and "**" are how the loader spells "any path"; "" is an absent glob. */
static bool
path_glob_matches(const char *glob, const char *path)
{
	if (!glob || !*glob || strcmp(glob, "*") == 0 || strcmp(glob, "**") == 0)
		return true;
	return glob_match_path(glob, path);
}

bool
http_endpoint_path_matches(const struct endpoint *ep, const struct http_target *t)
{
	if (!ep || !t || !t->path)
		return false;
	return path_glob_matches(ep->path, t->path);
}

/* Length of the name in a "name=glob" entry (all of it when there is no '='). */
static size_t
entry_name_len(const char *e)
{
	const char *eq = strchr(e, '=');

	return eq ? (size_t)(eq - e) : strlen(e);
}

/* Does value match one of the globs rule->query gives for name[0..nl)? */
static bool
value_admitted(const struct http_rule *r, const char *name, size_t nl, const char *value)
{
	for (size_t j = 0; j < r->query.n; j++) {
		const char *e = r->query.v[j];

		if (entry_name_len(e) != nl || memcmp(e, name, nl) != 0)
			continue;
		/* An entry without '=' (never from the loader) asks only for presence. */
		if (e[nl] == '\0' || query_glob_match(e + nl + 1, value))
			return true;
	}
	return false;
}

/*
 * The two sides read repeated parameters differently, each in the
 * direction of denial, because an upstream may act on any one of the
 * values (the first, the last, all of them).  An allow rule needs every
 * value admitted: a rule that allows state=open must not let
 * "?state=open&state=x" through.  A deny rule needs one value to match:
 * "?force=false&force=true" must not slip past a rule denying force=true.
 */
static bool
query_holds(const struct http_rule *r, const struct http_target *t, bool deny_side)
{
	for (size_t i = 0; i < r->query.n; i++) {
		const char *e = r->query.v[i];
		size_t nl = entry_name_len(e);
		bool present = false, some = false;

		for (size_t k = 0; k < t->nquery; k++) {
			const struct http_query_param *qp = &t->query[k];
			bool ok;

			if (strlen(qp->name) != nl || memcmp(qp->name, e, nl) != 0)
				continue;
			present = true;
			ok = value_admitted(r, e, nl, qp->value);
			some = some || ok;
			if (!ok && !deny_side)
				return false;
		}
		if (!present || !some)
			return false;
	}
	return true;
}

/*
 * A deny rule also tries the path without its trailing slash: many
 * servers route "/admin/" and "/admin" alike, and a deny rule written for
 * one must catch the other.  Allow rules match the path as it is.
 */
static bool
rule_path_matches(const struct http_rule *r, const char *path, bool deny_side)
{
	size_t n = strlen(path);
	char *trimmed;
	bool m;

	if (path_glob_matches(r->path, path))
		return true;
	if (!deny_side || n < 2 || path[n - 1] != '/')
		return false;
	trimmed = xstrndup(path, n - 1);
	m = glob_match_path(r->path, trimmed);
	free(trimmed);
	return m;
}

static bool
rule_matches(const struct http_rule *r, const char *method, const struct http_target *t,
    bool deny_side)
{
	if (!r->method || (strcmp(r->method, "*") != 0 && strcmp(r->method, method) != 0))
		return false;
	if (!rule_path_matches(r, t->path, deny_side))
		return false;
	return query_holds(r, t, deny_side);
}

static bool
preset_allows(enum net_access a, const char *m)
{
	static const char *const ro[] = { "GET", "HEAD", "OPTIONS" };
	static const char *const rw[] = { "POST", "PUT", "PATCH" };

	if (a == ACCESS_FULL)
		return true;
	if (a != ACCESS_READ_ONLY && a != ACCESS_READ_WRITE)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(ro); i++) {
		if (strcmp(m, ro[i]) == 0)
			return true;
	}
	if (a == ACCESS_READ_WRITE) {
		for (size_t i = 0; i < ARRAY_SIZE(rw); i++) {
			if (strcmp(m, rw[i]) == 0)
				return true;
		}
	}
	return false;
}

/* ---- reasons -------------------------------------------------------------- */

/* s cut to max bytes with "...", control and non-ASCII bytes as '?'. */
static void
quote_for_reason(const char *s, size_t max, char *out, size_t outsz)
{
	size_t n = strlen(s), o = 0, take = n > max ? max - 3 : n;

	for (size_t i = 0; i < take && o + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	if (take < n) {
		for (size_t i = 0; i < 3 && o + 1 < outsz; i++)
			out[o++] = '.';
	}
	out[o] = '\0';
}

static void
decide(struct http_decision *out, enum http_verdict v, const char *matched)
{
	out->verdict = v;
	snprintf(out->matched, sizeof(out->matched), "%s", matched);
}

/* A denial, turned into an audit-mode pass when the endpoint says so. */
static void
deny(const struct endpoint *ep, struct http_decision *out, const char *matched,
    const char *reason)
{
	bool audit = ep->enforcement == ENFORCE_AUDIT;

	decide(out, audit ? HTTP_AUDIT : HTTP_DENY, matched);
	snprintf(out->reason, sizeof(out->reason), "%s%s", audit ? "audit mode, would deny: " : "",
	    reason);
}

static const char *
preset_methods(enum net_access a)
{
	return a == ACCESS_READ_ONLY ? "GET, HEAD, OPTIONS" : "GET, HEAD, OPTIONS, POST, PUT, PATCH";
}

void
http_rules_check(const struct endpoint *ep, const char *method, const struct http_target *t,
    struct http_decision *out)
{
	char m[REASON_METHOD_MAX + 1], p[REASON_PATH_MAX + 1], r[sizeof(out->reason)];

	memset(out, 0, sizeof(*out));
	if (!ep || !method || !t || !t->path) {
		decide(out, HTTP_DENY, "");
		snprintf(out->reason, sizeof(out->reason), "request could not be inspected");
		return;
	}
	quote_for_reason(method, REASON_METHOD_MAX, m, sizeof(m));
	quote_for_reason(t->audit ? t->audit : t->path, REASON_PATH_MAX, p, sizeof(p));

	for (size_t i = 0; i < ep->ndeny_rules; i++) {
		if (rule_matches(&ep->deny_rules[i], method, t, true)) {
			char matched[sizeof(out->matched)];

			snprintf(matched, sizeof(matched), "deny_rules[%zu]", i);
			snprintf(r, sizeof(r), "request %s %s matches %s of the endpoint", m, p, matched);
			deny(ep, out, matched, r);
			return;
		}
	}

	if (ep->access != ACCESS_NONE) {
		const char *name = net_access_name(ep->access);

		if (preset_allows(ep->access, method)) {
			snprintf(out->matched, sizeof(out->matched), "access %s", name);
			out->verdict = HTTP_ALLOW;
			snprintf(out->reason, sizeof(out->reason), "request %s %s allowed by access %s",
			    m, p, name);
			return;
		}
		snprintf(r, sizeof(r), "no rule allows %s %s (access %s allows %s)", m, p, name,
		    preset_methods(ep->access));
		deny(ep, out, "", r);
		return;
	}

	for (size_t i = 0; i < ep->nrules; i++) {
		if (rule_matches(&ep->rules[i], method, t, false)) {
			snprintf(out->matched, sizeof(out->matched), "rules[%zu]", i);
			out->verdict = HTTP_ALLOW;
			snprintf(out->reason, sizeof(out->reason), "request %s %s allowed by %s", m, p,
			    out->matched);
			return;
		}
	}
	snprintf(r, sizeof(r), "no rule allows %s %s", m, p);
	deny(ep, out, "", r);
}
