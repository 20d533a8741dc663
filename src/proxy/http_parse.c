/*
 * HTTP/1.1 request heads, response heads and body framing for the egress
 * proxy (RFC 9112).
 *
 * The bytes come from the agent, so the rules on which HTTP
 * implementations are known to disagree are enforced by refusal rather
 * than repair.  A proxy that repairs (unfolds lines, picks one of two
 * lengths, trims a space before a colon) forwards something its upstream
 * may read differently, and a disagreement about where one request ends
 * is request smuggling.  So: no obsolete line folding, no bare LF, no
 * whitespace before a colon, one framing (Content-Length or chunked, never
 * both, never twice), and no Connection option that would strip Host or
 * the framing from under the upstream.
 *
 * http_parse_request() is called again on the whole buffer each time more
 * bytes arrive; it keeps no state between calls and costs O(len), with len
 * capped at HTTP_MAX_HEAD.  It scans strictly left to right and judges each
 * line as soon as its CRLF is seen, so a hostile head is refused as early
 * as the bytes allow, not after the proxy has buffered all of it.  Only a
 * missing Host can wait for the end of the head.
 *
 * Parsing never allocates.  The request points into the caller's buffer,
 * except `path`, which may point at a static "/".  For "http://h?q" the
 * path is "?q": the URI's path is empty, and the upstream head supplies the
 * "/" that origin-form needs.
 */
#include "http_parse.h"

#include <arpa/inet.h>
#include <limits.h>
#include <string.h>

#define HTTP_MAX_LINE 8192	/* request line without CRLF; 414 beyond */
#define CHUNK_LINE_MAX 1024	/* chunk size plus extensions */
#define CHUNK_HEX_MAX 16	/* 16 hex digits fill a uint64_t exactly */
#define TRAILER_MAX HTTP_MAX_HEAD
#define METHOD_MAX 32
#define PORT_DIGITS_MAX 5

static const char slash[] = "/";

/* ---- character classes (ASCII only: no locale may change them) -------- */

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 §5.6.2 tchar. */
static bool
is_tchar(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A control byte other than HTAB; these never belong in a field value. */
static bool
is_bad_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int
hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool
ci_eq_n(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++) {
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	}
	return true;
}

/* Case-insensitive equality of s[0..n) and the NUL-terminated lit. */
static bool
ci_eq(const char *s, size_t n, const char *lit)
{
	return ci_eq_n(s, n, lit, strlen(lit));
}

/*
 * Walk a comma-separated list ("a, b ,c"): the next non-empty element with
 * OWS trimmed, or false at the end.  Empty elements are skipped, as RFC
 * 9110 §5.6.1 asks of recipients.
 */
static bool
next_element(const char **pp, const char *end, const char **el, size_t *el_len)
{
	const char *p = *pp;

	while (p < end) {
		const char *s, *e;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		s = p;
		while (p < end && *p != ',')
			p++;
		e = p;
		if (p < end)
			p++;	/* the comma */
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s) {
			*el = s;
			*el_len = (size_t)(e - s);
			*pp = p;
			return true;
		}
	}
	*pp = p;
	return false;
}

/* ---- authority --------------------------------------------------------- */

/*
 * Host names are limited to letters, digits, '-', '.' and '_'.  RFC 3986
 * also allows percent-encoding and sub-delims in a reg-name, but a policy
 * decides on this name: "ex%61mple.com" or "a.com;b" would be one more
 * spelling for the matcher to get wrong, and no real client sends them.
 */
static bool
is_host_char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

const char *
http_parse_authority(const char *s, size_t n, char host[HTTP_MAX_HOST + 1],
    uint16_t *port, uint16_t default_port)
{
	const char *h, *he, *p = NULL, *end = s + n;
	bool has_port = false;
	uint32_t v = 0;

	host[0] = '\0';
	*port = 0;
	if (n == 0)
		return "empty host";
	if (memchr(s, '@', n))
		return "user information (user@host) is not allowed in an authority";
	if (s[0] == '[') {
		char v6[INET6_ADDRSTRLEN];
		struct in6_addr a;
		const char *rb = memchr(s, ']', n);

		if (!rb)
			return "unterminated IPv6 literal (missing ']')";
		h = s + 1;
		he = rb;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return "unexpected bytes after an IPv6 literal";
			has_port = true;
			p = rb + 2;
		}
		if (he == h)
			return "empty host";
		/* Only hex, ':' and '.' (an embedded IPv4): no zone ids, no IPvFuture. */
		if ((size_t)(he - h) >= sizeof(v6))
			return "invalid IPv6 literal";
		for (const char *c = h; c < he; c++) {
			if (hex_value((unsigned char)*c) < 0 && *c != ':' && *c != '.')
				return "invalid IPv6 literal";
		}
		memcpy(v6, h, (size_t)(he - h));
		v6[he - h] = '\0';
		if (inet_pton(AF_INET6, v6, &a) != 1)
			return "invalid IPv6 literal";
	} else {
		const char *colon = memchr(s, ':', n);

		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return "an IPv6 address must be written in brackets ([::1]:443)";
		h = s;
		he = colon ? colon : end;
		if (colon) {
			has_port = true;
			p = colon + 1;
		}
		if (he == h)
			return "empty host";
		for (const char *c = h; c < he; c++) {
			if (!is_host_char((unsigned char)*c))
				return "invalid character in host name";
		}
	}
	if ((size_t)(he - h) > HTTP_MAX_HOST)
		return "host name longer than 255 bytes";
	if (has_port) {
		if (p == end)
			return "empty port";
		if (end - p > PORT_DIGITS_MAX)
			return "port out of range (1-65535)";
		for (; p < end; p++) {
			if (!is_digit((unsigned char)*p))
				return "port must be decimal digits";
			v = v * 10 + (uint32_t)(*p - '0');
		}
		if (v == 0 || v > 65535)
			return "port out of range (1-65535)";
		*port = (uint16_t)v;
	} else {
		if (default_port == 0)
			return "a port is required (host:port)";
		*port = default_port;
	}
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	return NULL;
}

/* ---- request head ------------------------------------------------------ */

/* Scratch state of one parse: what the header lines seen so far said. */
struct parse {
	const char *buf;
	size_t end;		/* min(len, HTTP_MAX_HEAD) */
	int status;
	const char *why;
	bool connect;
	bool cl_seen, te_seen, close_tok, keepalive_tok;
};

enum { P_DONE = 1, P_MORE = 0, P_FAIL = -1 };

static int
fail(struct parse *ps, int status, const char *why)
{
	ps->status = status;
	ps->why = why;
	return P_FAIL;
}

/*
 * Content-Length: 1*DIGIT, or a list of identical ones (RFC 9110 §8.6),
 * which the upstream head then carries as the one number.  An empty
 * element ("5,,5", "5,") is refused like a differing one.
 */
static bool
parse_content_length(const char *v, size_t n, uint64_t *out)
{
	const char *p = v, *end = v + n;
	bool first = true;

	for (;;) {
		const char *s, *e;
		uint64_t x = 0;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		for (s = p; p < end && *p != ','; p++)
			;
		for (e = p; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (e == s)
			return false;
		for (; s < e; s++) {
			unsigned d = (unsigned)(unsigned char)*s - '0';

			if (d > 9 || x > (UINT64_MAX - d) / 10)
				return false;
			x = x * 10 + d;
		}
		if (!first && x != *out)
			return false;
		*out = x;
		first = false;
		if (p == end)
			return true;
		p++;	/* the comma */
	}
}

/*
 * Act on one complete header line.  Everything that can be judged from a
 * single line is judged here, so a bad header is refused while the rest
 * of the head is still arriving.
 */
static int
header_seen(struct parse *ps, struct http_request *req, const struct http_header *h)
{
	if (ci_eq(h->name, h->name_len, "host")) {
		char hb[HTTP_MAX_HOST + 1];
		uint16_t port;

		if (req->host_header)
			return fail(ps, 400, "more than one Host header");
		/* Empty is legal: a URI without an authority (RFC 9110 §7.2). */
		if (h->value_len > 0 &&
		    http_parse_authority(h->value, h->value_len, hb, &port, 80) != NULL)
			return fail(ps, 400, "invalid Host header");
		req->host_header = h;
	} else if (ci_eq(h->name, h->name_len, "content-length")) {
		if (ps->cl_seen)
			return fail(ps, 400, "more than one Content-Length header");
		ps->cl_seen = true;
		if (ps->te_seen)
			return fail(ps, 400, "both Transfer-Encoding and Content-Length");
		if (!parse_content_length(h->value, h->value_len, &req->content_length))
			return fail(ps, 400, "invalid Content-Length");
		req->body = HTTP_BODY_LENGTH;
	} else if (ci_eq(h->name, h->name_len, "transfer-encoding")) {
		if (ps->te_seen)
			return fail(ps, 400, "more than one Transfer-Encoding header");
		ps->te_seen = true;
		if (ps->cl_seen)
			return fail(ps, 400, "both Transfer-Encoding and Content-Length");
		/* RFC 9112 §6.1: in HTTP/1.0 the framing is faulty by definition. */
		if (req->version_minor == 0)
			return fail(ps, 400, "Transfer-Encoding in an HTTP/1.0 request");
		if (h->value_len == 0)
			return fail(ps, 400, "empty Transfer-Encoding");
		if (!ci_eq(h->value, h->value_len, "chunked"))
			return fail(ps, 501, "only \"Transfer-Encoding: chunked\" is supported");
		req->body = HTTP_BODY_CHUNKED;
	} else if (ci_eq(h->name, h->name_len, "connection")) {
		const char *p = h->value, *el;
		size_t el_len;

		while (next_element(&p, h->value + h->value_len, &el, &el_len)) {
			if (ci_eq(el, el_len, "close"))
				ps->close_tok = true;
			else if (ci_eq(el, el_len, "keep-alive"))
				ps->keepalive_tok = true;
			/*
			 * A connection option names a header to drop at the
			 * next hop; dropping the framing or the Host would
			 * hand the upstream a different request.
			 */
			else if (ci_eq(el, el_len, "content-length") ||
			    ci_eq(el, el_len, "transfer-encoding") || ci_eq(el, el_len, "host"))
				return fail(ps, 400, "Connection must not name Host, "
				    "Content-Length or Transfer-Encoding");
		}
	}
	if (ps->connect && (ps->cl_seen || ps->te_seen))
		return fail(ps, 400, "CONNECT must not have a body");
	return P_DONE;
}

/* Classify the target and take host, port and path from it. */
static int
parse_target(struct parse *ps, struct http_request *req)
{
	const char *t = req->target, *why;
	size_t n = req->target_len, k, a, ae;
	bool tls;

	if (ps->connect) {
		req->form = HTTP_FORM_AUTHORITY;
		if (t[0] == '/' || t[0] == '*' || memchr(t, '/', n))
			return fail(ps, 400, "CONNECT needs an authority target (host:port)");
		if ((why = http_parse_authority(t, n, req->host, &req->port, 0)) != NULL)
			return fail(ps, 400, why);
		return P_DONE;
	}
	if (n == 1 && t[0] == '*') {
		if (strcmp(req->method, "OPTIONS") != 0)
			return fail(ps, 400, "the asterisk target is only valid with OPTIONS");
		req->form = HTTP_FORM_ASTERISK;
		return P_DONE;
	}
	if (t[0] == '/') {
		req->form = HTTP_FORM_ORIGIN;
		req->path = t;
		req->path_len = n;
		return P_DONE;
	}
	/* absolute-form: scheme "://" authority [path-abempty] ["?" query] */
	for (k = 0; k < n; k++) {
		unsigned char c = (unsigned char)t[k];

		if (!(is_alpha(c) || (k > 0 && (is_digit(c) || c == '+' || c == '-' || c == '.'))))
			break;
	}
	if (k == 0 || n - k < 3 || memcmp(t + k, "://", 3) != 0)
		return fail(ps, 400, "request target must be an absolute http:// URI "
		    "(host:port is only valid with CONNECT)");
	/*
	 * https:// is parsed (a request inside an inspected TLS connection may
	 * use it); the forward proxy refuses to forward it.
	 */
	tls = ci_eq(t, k, "https");
	if (!tls && !ci_eq(t, k, "http"))
		return fail(ps, 400, "only http:// URIs can be forwarded");
	a = k + 3;
	for (ae = a; ae < n && t[ae] != '/' && t[ae] != '?'; ae++)
		;
	if ((why = http_parse_authority(t + a, ae - a, req->host, &req->port,
	    tls ? 443 : 80)) != NULL)
		return fail(ps, 400, why);
	memcpy(req->scheme, tls ? "https" : "http", tls ? 6 : 5);
	req->form = HTTP_FORM_ABSOLUTE;
	if (ae == n) {
		req->path = slash;
		req->path_len = 1;
	} else {
		/* May start with '?' ("http://h?q"); the upstream head adds the '/'. */
		req->path = t + ae;
		req->path_len = n - ae;
	}
	return P_DONE;
}

/* request-line = method SP request-target SP HTTP-version CRLF */
static int
parse_request_line(struct parse *ps, struct http_request *req, size_t *pos)
{
	const char *b = ps->buf;
	size_t e = ps->end, i = 0, ts;
	static const char proto[] = "HTTP/";

	for (; i < e && b[i] != ' '; i++) {
		if (!is_tchar((unsigned char)b[i]))
			return fail(ps, 400, i == 0 ? "request must start with a method" :
			    "invalid character in method");
		if (i >= METHOD_MAX)
			return fail(ps, 501, "method longer than 32 bytes");
	}
	if (i == e)
		return P_MORE;
	if (i == 0)
		return fail(ps, 400, "request must start with a method");
	memcpy(req->method, b, i);
	req->method[i] = '\0';
	ps->connect = strcmp(req->method, "CONNECT") == 0;

	ts = ++i;
	for (; i < e && b[i] != ' '; i++) {
		unsigned char c = (unsigned char)b[i];

		/*
		 * The line will also hold " HTTP/1.x" after this byte; this
		 * is the only check the line length needs.
		 */
		if (i + 1 + 9 > HTTP_MAX_LINE)
			return fail(ps, 414, "request line longer than 8192 bytes");
		if (c == '\r' || c == '\n')
			return fail(ps, 400, "request line needs a target and an HTTP version");
		if (c <= 0x20 || c >= 0x7f)
			return fail(ps, 400, "request target has a control, space or non-ASCII byte");
		if (c == '#')
			return fail(ps, 400, "request target must not have a fragment ('#')");
	}
	if (i == e)
		return P_MORE;
	if (i == ts)
		return fail(ps, 400, "empty request target");
	req->target = b + ts;
	req->target_len = i - ts;

	i++;
	for (size_t k = 0; k < 8; k++, i++) {
		unsigned char c;

		if (i == e)
			return P_MORE;
		c = (unsigned char)b[i];
		if ((k < 5 && c != (unsigned char)proto[k]) || (k == 6 && c != '.') ||
		    ((k == 5 || k == 7) && !is_digit(c)))
			return fail(ps, 400, "malformed HTTP version");
	}
	if (b[i - 3] != '1' || (b[i - 1] != '0' && b[i - 1] != '1'))
		return fail(ps, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
	req->version_minor = b[i - 1] - '0';
	if (i == e)
		return P_MORE;
	if (b[i] == '\n')
		return fail(ps, 400, "bare LF (lines must end in CRLF)");
	if (b[i] != '\r')
		return fail(ps, 400, "unexpected bytes after the HTTP version");
	if (++i == e)
		return P_MORE;
	if (b[i] != '\n')
		return fail(ps, 400, "CR not followed by LF");
	*pos = i + 1;
	return parse_target(ps, req);
}

/*
 * One field line at *pos, appended to headers[*nheaders], or the empty
 * line that ends the head.  Shared by requests and responses, so both
 * directions refuse the same shapes.
 */
static int
parse_field_line(struct parse *ps, struct http_header *headers, size_t *nheaders, size_t *pos,
    bool *end_of_head)
{
	const char *b = ps->buf;
	size_t e = ps->end, i = *pos, ns, vs, ve;
	struct http_header *h;
	unsigned char c;

	if (i == e)
		return P_MORE;
	c = (unsigned char)b[i];
	if (c == '\r') {
		if (i + 1 == e)
			return P_MORE;
		if (b[i + 1] != '\n')
			return fail(ps, 400, "CR not followed by LF");
		*pos = i + 2;
		*end_of_head = true;
		return P_DONE;
	}
	if (c == '\n')
		return fail(ps, 400, "bare LF (lines must end in CRLF)");
	if (c == ' ' || c == '\t')
		return fail(ps, 400, "obsolete line folding (a line starting with whitespace)");
	if (*nheaders == HTTP_MAX_HEADERS)
		return fail(ps, 431, "more than 100 header fields");

	for (ns = i; i < e && is_tchar((unsigned char)b[i]); i++)
		;
	if (i == e)
		return P_MORE;
	if (b[i] != ':') {
		if (b[i] == ' ' || b[i] == '\t')
			return fail(ps, 400, "whitespace between a field name and its colon");
		if (b[i] == '\r' || b[i] == '\n')
			return fail(ps, 400, "header line without a colon");
		return fail(ps, 400, "invalid character in a field name");
	}
	if (i == ns)
		return fail(ps, 400, "empty field name");
	h = &headers[*nheaders];
	h->name = b + ns;
	h->name_len = i - ns;

	for (i++; i < e && (b[i] == ' ' || b[i] == '\t'); i++)
		;
	for (vs = ve = i; i < e && b[i] != '\r'; i++) {
		c = (unsigned char)b[i];
		if (c == '\n')
			return fail(ps, 400, "bare LF (lines must end in CRLF)");
		if (is_bad_ctl(c))
			return fail(ps, 400, "control character in a field value");
		if (c != ' ' && c != '\t')
			ve = i + 1;
	}
	if (i + 1 >= e)
		return P_MORE;
	if (b[i + 1] != '\n')
		return fail(ps, 400, "CR not followed by LF");
	h->value = b + vs;
	h->value_len = ve - vs;
	(*nheaders)++;
	*pos = i + 2;
	return P_DONE;
}

static int
parse_header_line(struct parse *ps, struct http_request *req, size_t *pos, bool *end_of_head)
{
	int r = parse_field_line(ps, req->headers, &req->nheaders, pos, end_of_head);

	if (r != P_DONE || *end_of_head)
		return r;
	return header_seen(ps, req, &req->headers[req->nheaders - 1]);
}

ssize_t
http_parse_request(const char *buf, size_t len, struct http_request *req,
    int *status, const char **why)
{
	struct parse ps = { .buf = buf, .end = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD };
	size_t pos = 0;
	bool end_of_head = false;
	int r;

	memset(req, 0, sizeof(*req));
	if (status)
		*status = 0;
	if (why)
		*why = NULL;

	r = parse_request_line(&ps, req, &pos);
	while (r == P_DONE && !end_of_head)
		r = parse_header_line(&ps, req, &pos, &end_of_head);
	if (r == P_MORE && len >= HTTP_MAX_HEAD)
		r = fail(&ps, 431, "request head larger than 16384 bytes");
	if (r == P_DONE && req->version_minor == 1 && !req->host_header)
		r = fail(&ps, 400, "HTTP/1.1 request without a Host header");
	if (r != P_DONE) {
		if (r == P_FAIL) {
			if (status)
				*status = ps.status;
			if (why)
				*why = ps.why;
		}
		return r;
	}
	req->connection_close = ps.close_tok || (req->version_minor == 0 && !ps.keepalive_tok);
	req->head_len = pos;
	return (ssize_t)pos;
}

const struct http_header *
http_find_header(const struct http_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		if (ci_eq(r->headers[i].name, r->headers[i].name_len, name))
			return &r->headers[i];
	}
	return NULL;
}

/* ---- response head ----------------------------------------------------- */

/*
 * A response comes from an upstream the policy allowed, but it is relayed
 * on a connection the proxy keeps alive, so where it ends must be read
 * exactly as the client will read it: one response framed differently by
 * the two would shift every later response onto the wrong request.  The
 * same refusals as for requests apply, plus the response-only rules of
 * RFC 9112 §6.3 (status codes without a body, a body that runs to the
 * close).
 */
struct rparse {
	struct parse ps;
	bool nobody;		/* HEAD, 1xx, 204, 304: fields cannot give it a body */
	bool cl_seen, te_seen, te_chunked_last, close_tok, keepalive_tok;
};

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF */
static int
parse_status_line(struct parse *ps, struct http_response *r, size_t *pos)
{
	static const char proto[] = "HTTP/1.";
	const char *b = ps->buf;
	size_t e = ps->end, i;

	for (i = 0; i < sizeof(proto) - 1; i++) {
		if (i == e)
			return P_MORE;
		if (b[i] != proto[i])
			return fail(ps, 502, "not an HTTP/1.x status line");
	}
	if (i == e)
		return P_MORE;
	if (!is_digit((unsigned char)b[i]))
		return fail(ps, 502, "malformed HTTP version in the status line");
	r->version_minor = b[i++] - '0';
	if (i == e)
		return P_MORE;
	if (b[i++] != ' ')
		return fail(ps, 502, "malformed status line (no space after the version)");
	for (size_t k = 0; k < 3; k++, i++) {
		if (i == e)
			return P_MORE;
		if (!is_digit((unsigned char)b[i]))
			return fail(ps, 502, "status code must be three digits");
		r->status = r->status * 10 + (b[i] - '0');
	}
	if (r->status < 100 || r->status > 599)
		return fail(ps, 502, "status code out of range (100-599)");
	if (i == e)
		return P_MORE;
	if (b[i] == ' ') {
		for (i++; i < e && b[i] != '\r'; i++) {
			if (b[i] == '\n')
				return fail(ps, 502, "bare LF (lines must end in CRLF)");
			if (is_bad_ctl((unsigned char)b[i]))
				return fail(ps, 502, "control character in the reason phrase");
		}
		if (i == e)
			return P_MORE;
	} else if (b[i] == '\n')
		return fail(ps, 502, "bare LF (lines must end in CRLF)");
	else if (b[i] != '\r')
		return fail(ps, 502, "status code must be three digits");
	if (++i == e)
		return P_MORE;
	if (b[i] != '\n')
		return fail(ps, 502, "CR not followed by LF");
	*pos = i + 1;
	return P_DONE;
}

/* Act on one response field; framing conflicts are refused as soon as seen. */
static int
response_field(struct rparse *rp, struct http_response *r, const struct http_header *h)
{
	struct parse *ps = &rp->ps;
	const char *p = h->value, *end = h->value + h->value_len, *el, *last = NULL;
	size_t el_len, last_len = 0;

	if (ci_eq(h->name, h->name_len, "connection")) {
		while (next_element(&p, end, &el, &el_len)) {
			if (ci_eq(el, el_len, "close"))
				rp->close_tok = true;
			else if (ci_eq(el, el_len, "keep-alive"))
				rp->keepalive_tok = true;
		}
		return P_DONE;
	}
	if (rp->nobody)
		return P_DONE;	/* RFC 9112 §6.3 items 1 and 2: framing fields mean nothing here */
	if (ci_eq(h->name, h->name_len, "content-length")) {
		uint64_t v = 0;

		if (!parse_content_length(h->value, h->value_len, &v))
			return fail(ps, 502, "invalid Content-Length in the response");
		if (rp->cl_seen && v != r->content_length)
			return fail(ps, 502, "differing Content-Length values in the response");
		rp->cl_seen = true;
		r->content_length = v;
	} else if (ci_eq(h->name, h->name_len, "transfer-encoding")) {
		/* RFC 9112 §6.1: in HTTP/1.0 the framing is faulty by definition. */
		if (r->version_minor == 0)
			return fail(ps, 502, "Transfer-Encoding in an HTTP/1.0 response");
		while (next_element(&p, end, &el, &el_len)) {
			last = el;
			last_len = el_len;
		}
		if (!last)
			return fail(ps, 502, "empty Transfer-Encoding in the response");
		/* Codings accumulate over fields: the last field's last one decides. */
		rp->te_seen = true;
		rp->te_chunked_last = ci_eq(last, last_len, "chunked");
	}
	if (rp->cl_seen && rp->te_seen)
		return fail(ps, 502, "both Transfer-Encoding and Content-Length in the response");
	return P_DONE;
}

ssize_t
http_parse_response(const char *buf, size_t len, const char *req_method,
    struct http_response *r, const char **why)
{
	struct rparse rp = { .ps = { .buf = buf, .end = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD } };
	size_t pos = 0;
	bool end_of_head = false;
	int st;

	memset(r, 0, sizeof(*r));
	if (why)
		*why = NULL;

	st = parse_status_line(&rp.ps, r, &pos);
	rp.nobody = (req_method && strcmp(req_method, "HEAD") == 0) || r->status / 100 == 1 ||
	    r->status == 204 || r->status == 304;
	while (st == P_DONE && !end_of_head) {
		st = parse_field_line(&rp.ps, r->headers, &r->nheaders, &pos, &end_of_head);
		if (st == P_DONE && !end_of_head)
			st = response_field(&rp, r, &r->headers[r->nheaders - 1]);
	}
	if (st == P_MORE && len >= HTTP_MAX_HEAD)
		st = fail(&rp.ps, 502, "response head larger than 16384 bytes");
	if (st != P_DONE) {
		if (st == P_FAIL && why)
			*why = rp.ps.why;
		return st;
	}

	if (rp.nobody)
		r->body = HTTP_BODY_NONE;
	else if (rp.te_seen)
		r->body = rp.te_chunked_last ? HTTP_BODY_CHUNKED : HTTP_BODY_CLOSE;
	else if (rp.cl_seen)
		r->body = HTTP_BODY_LENGTH;
	else
		r->body = HTTP_BODY_CLOSE;
	if (r->body != HTTP_BODY_LENGTH)
		r->content_length = 0;
	r->upgrade = r->status == 101;
	r->connection_close = rp.close_tok || (r->version_minor == 0 && !rp.keepalive_tok) ||
	    r->body == HTTP_BODY_CLOSE;
	r->head_len = pos;
	return (ssize_t)pos;
}

/* ---- the upstream head ------------------------------------------------- */

static bool
is_hop_by_hop(const char *name, size_t n)
{
	static const char *const hop[] = {
		"connection", "proxy-connection", "proxy-authorization", "keep-alive",
		"te", "trailer", "upgrade",
	};

	for (size_t i = 0; i < ARRAY_SIZE(hop); i++) {
		if (ci_eq(name, n, hop[i]))
			return true;
	}
	return false;
}

/* Does any Connection header list this field name as a connection option? */
static bool
named_by_connection(const struct http_request *r, const char *name, size_t n)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct http_header *h = &r->headers[i];
		const char *p = h->value, *el;
		size_t el_len;

		if (!ci_eq(h->name, h->name_len, "connection"))
			continue;
		while (next_element(&p, h->value + h->value_len, &el, &el_len)) {
			if (ci_eq_n(el, el_len, name, n))
				return true;
		}
	}
	return false;
}

static void
add_u64(struct sbuf *out, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sbuf_add(out, d + i, sizeof(d) - i);
}

/*
 * Besides dropping hop-by-hop fields, two things are rewritten so that the
 * upstream, which now reads HTTP/1.1, sees exactly the request the proxy
 * counted: a Host taken from the target is added when an HTTP/1.0 client
 * sent none, and Content-Length is sent as the one number it was parsed
 * to ("5, 5" and "005" become "5").  Everything else keeps its order and
 * spelling.
 */
void
http_build_upstream_head(const struct http_request *r, struct sbuf *out)
{
	sbuf_adds(out, r->method);
	sbuf_add(out, " ", 1);
	if (r->form == HTTP_FORM_ABSOLUTE) {
		if (r->path[0] == '?')
			sbuf_add(out, "/", 1);
		sbuf_add(out, r->path, r->path_len);
	} else
		sbuf_add(out, r->target, r->target_len);
	sbuf_adds(out, " HTTP/1.1\r\n");

	/* HTTP/1.0 may omit Host; the HTTP/1.1 we speak upstream may not. */
	if (!r->host_header && r->form == HTTP_FORM_ABSOLUTE) {
		bool v6 = strchr(r->host, ':') != NULL;

		sbuf_adds(out, v6 ? "Host: [" : "Host: ");
		sbuf_adds(out, r->host);
		if (v6)
			sbuf_add(out, "]", 1);
		if (r->port != 80) {
			sbuf_add(out, ":", 1);
			add_u64(out, r->port);
		}
		sbuf_add(out, "\r\n", 2);
	}

	for (size_t i = 0; i < r->nheaders; i++) {
		const struct http_header *h = &r->headers[i];

		if (is_hop_by_hop(h->name, h->name_len) ||
		    named_by_connection(r, h->name, h->name_len))
			continue;
		sbuf_add(out, h->name, h->name_len);
		sbuf_add(out, ": ", 2);
		if (ci_eq(h->name, h->name_len, "content-length"))
			add_u64(out, r->content_length);
		else
			sbuf_add(out, h->value, h->value_len);
		sbuf_add(out, "\r\n", 2);
	}
	sbuf_adds(out, "Connection: close\r\n\r\n");
}

/* ---- body framing ------------------------------------------------------ */

/*
 * Chunked decoder states (RFC 9112 §7.1).  Only boundaries are tracked:
 * the bytes pass through unchanged, so the framing must be one every
 * parser reads alike.  Hence: at most 16 hex digits (no overflow, not even
 * with leading zeros), no whitespace around the size (the grammar's BWS
 * before ';' is read differently by different servers), at most 1024 bytes
 * of size line, CRLF everywhere, and trailer fields shaped like header
 * fields, at most HTTP_MAX_HEAD bytes of them.  In the trailer section
 * `remaining` counts trailer bytes; `line_len` counts the size line.
 */
enum {
	CH_SIZE,		/* hex digits of the chunk size */
	CH_EXT,			/* ";ext..." up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START,	/* a trailer field or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_ERROR,
};

static void
body_init(struct http_body *b, enum http_body_kind kind, uint64_t content_length)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->state = CH_SIZE;
	switch (kind) {
	case HTTP_BODY_NONE:
		b->done = true;
		break;
	case HTTP_BODY_LENGTH:
		b->remaining = content_length;
		b->done = b->remaining == 0;
		break;
	case HTTP_BODY_CHUNKED:
	case HTTP_BODY_CLOSE:
		break;
	}
}

void
http_body_init(struct http_body *b, const struct http_request *r)
{
	body_init(b, r->body, r->content_length);
}

void
http_body_init_response(struct http_body *b, const struct http_response *r)
{
	body_init(b, r->body, r->content_length);
}

static ssize_t
chunk_error(struct http_body *b)
{
	b->state = CH_ERROR;
	return -1;
}

static ssize_t
feed_chunked(struct http_body *b, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && !b->done) {
		unsigned char c = (unsigned char)p[i];
		int x;

		switch (b->state) {
		case CH_SIZE:
			if ((x = hex_value(c)) >= 0) {
				if (b->line_len == CHUNK_HEX_MAX)
					return chunk_error(b);
				b->remaining = b->remaining << 4 | (uint64_t)x;
				b->line_len++;
			} else if (b->line_len == 0) {
				return chunk_error(b);
			} else if (c == ';') {
				b->line_len++;
				b->state = CH_EXT;
			} else if (c == '\r') {
				b->state = CH_SIZE_LF;
			} else {
				/* Whitespace too: "5 " is read as 5 by some, refused by others. */
				return chunk_error(b);
			}
			i++;
			break;
		case CH_EXT:
			if (c == '\r')
				b->state = CH_SIZE_LF;
			else if (is_bad_ctl(c) || ++b->line_len > CHUNK_LINE_MAX)
				return chunk_error(b);
			i++;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return chunk_error(b);
			b->line_len = 0;
			b->state = b->remaining ? CH_DATA : CH_TRAILER_START;
			i++;
			break;
		case CH_DATA: {
			uint64_t take = n - i < b->remaining ? n - i : b->remaining;

			if (b->payload)
				sbuf_add(b->payload, p + i, (size_t)take);
			i += (size_t)take;
			b->remaining -= take;
			if (b->remaining == 0)
				b->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c != '\r')
				return chunk_error(b);
			b->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return chunk_error(b);
			b->state = CH_SIZE;
			i++;
			break;
		/* In the trailer section `remaining` counts its bytes, to cap it. */
		case CH_TRAILER_START:
			if (c == '\r')
				b->state = CH_FINAL_LF;
			else if (is_tchar(c))
				b->state = CH_TRAILER_NAME;
			else
				return chunk_error(b);	/* folding, bare LF, ':' first */
			goto trailer_byte;
		case CH_TRAILER_NAME:
			if (c == ':')
				b->state = CH_TRAILER_VALUE;
			else if (!is_tchar(c))
				return chunk_error(b);
			goto trailer_byte;
		case CH_TRAILER_VALUE:
			if (c == '\r')
				b->state = CH_TRAILER_LF;
			else if (is_bad_ctl(c))
				return chunk_error(b);
			goto trailer_byte;
		case CH_TRAILER_LF:
			if (c != '\n')
				return chunk_error(b);
			b->state = CH_TRAILER_START;
			goto trailer_byte;
		case CH_FINAL_LF:
			if (c != '\n')
				return chunk_error(b);
			b->state = CH_DONE;
			b->done = true;
			i++;
			break;
		trailer_byte:
			if (++b->remaining > TRAILER_MAX)
				return chunk_error(b);
			i++;
			break;
		default:
			return chunk_error(b);
		}
	}
	return (ssize_t)i;
}

ssize_t
http_body_feed(struct http_body *b, const char *p, size_t n)
{
	uint64_t take;

	if (b->state == CH_ERROR)
		return -1;
	if (b->done)
		return 0;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;	/* the count must fit the return type */
	switch (b->kind) {
	case HTTP_BODY_LENGTH:
		take = n < b->remaining ? n : b->remaining;
		if (b->payload)
			sbuf_add(b->payload, p, (size_t)take);
		b->remaining -= take;
		b->done = b->remaining == 0;
		return (ssize_t)take;
	case HTTP_BODY_CHUNKED:
		return feed_chunked(b, p, n);
	case HTTP_BODY_CLOSE:
		if (b->payload)
			sbuf_add(b->payload, p, n);
		return (ssize_t)n;	/* the body ends when the connection does */
	case HTTP_BODY_NONE:
		break;
	}
	b->done = true;
	return 0;
}
