/*
 * HTTP/1.1 request and response heads for the egress proxy.  Pure
 * functions over a caller's buffer: nothing here allocates, reads a socket
 * or keeps state beyond the structs passed in.  The input is the agent's and is hostile:
 * every size is capped, every malformed shape is refused with the status
 * code the client should get, and nothing ambiguous (two lengths, obsolete
 * line folding, bare LF, whitespace before a colon) is passed on, so the
 * proxy and the upstream can never disagree about where a request ends.
 */
#ifndef WARDEN_HTTP_PARSE_H
#define WARDEN_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/util.h"

#define HTTP_MAX_HEAD 16384	/* request line + headers, bytes */
#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_HOST 255

enum http_form {
	HTTP_FORM_ORIGIN,	/* GET /path HTTP/1.1 */
	HTTP_FORM_ABSOLUTE,	/* GET http://host:port/path HTTP/1.1 */
	HTTP_FORM_AUTHORITY,	/* CONNECT host:port HTTP/1.1 */
	HTTP_FORM_ASTERISK,	/* OPTIONS * HTTP/1.1 */
};

struct http_header {
	const char *name, *value;	/* point into the parsed buffer */
	size_t name_len, value_len;	/* value has surrounding OWS removed */
};

enum http_body_kind {
	HTTP_BODY_NONE,
	HTTP_BODY_LENGTH,
	HTTP_BODY_CHUNKED,
	HTTP_BODY_CLOSE,	/* a response body that runs until the connection closes */
};

/* Everything points into the buffer given to http_parse_request(). */
struct http_request {
	char method[33];
	enum http_form form;
	const char *target;
	size_t target_len;
	int version_minor;		/* HTTP/1.<minor>: 0 or 1 */
	/* From an absolute-form or authority-form target. */
	char scheme[8];			/* "http", lower-case; "" otherwise */
	char host[HTTP_MAX_HOST + 1];	/* as written, IPv6 brackets removed */
	uint16_t port;			/* explicit, or the scheme's default */
	const char *path;		/* origin-form part ("/" when empty) */
	size_t path_len;
	/* Headers, in order. */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	const struct http_header *host_header;	/* NULL when absent */
	/* Message framing (RFC 9112 §6). */
	enum http_body_kind body;
	uint64_t content_length;
	bool connection_close;		/* "Connection: close" or HTTP/1.0 */
	size_t head_len;		/* bytes up to and including CRLFCRLF */
};

/*
 * Parse one request head from buf[0..len).  Returns the head length (> 0)
 * when complete, 0 when more bytes are needed (and len < HTTP_MAX_HEAD), or
 * -1 when the request must be refused: *status is the HTTP status to answer
 * (400, 414, 431, 501, 505) and *why a static sentence for the client.
 */
ssize_t http_parse_request(const char *buf, size_t len, struct http_request *req,
    int *status, const char **why);

/*
 * Split "host[:port]" or "[v6]:port" (an authority) into host and port;
 * port is default_port when absent (0 = a port is required).  Returns NULL
 * or a static reason.
 */
const char *http_parse_authority(const char *s, size_t n, char host[HTTP_MAX_HOST + 1],
    uint16_t *port, uint16_t default_port);

/* Case-insensitive header lookup; returns the first match or NULL. */
const struct http_header *http_find_header(const struct http_request *r, const char *name);

/*
 * The head to send upstream for a forward-proxied request: origin-form
 * request line, the client's headers minus hop-by-hop ones (Connection and
 * what it names, Proxy-Connection, Proxy-Authorization, Keep-Alive, TE,
 * Trailer, Upgrade) and "Connection: close" -- one request per upstream
 * connection.  Appends to out.
 */
void http_build_upstream_head(const struct http_request *r, struct sbuf *out);

/*
 * A response head, for relaying a response to an inspected request and
 * keeping the connection to the upstream alive when its framing allows.
 * Everything points into the buffer given to http_parse_response().
 */
struct http_response {
	int version_minor;	/* HTTP/1.<minor> */
	int status;		/* 100-599 */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	enum http_body_kind body;	/* NONE, LENGTH, CHUNKED or CLOSE */
	uint64_t content_length;	/* LENGTH only; 0 otherwise */
	bool connection_close;	/* Connection: close, or HTTP/1.0 without keep-alive,
				 * or a body that runs to the close */
	bool upgrade;		/* 101 Switching Protocols */
	size_t head_len;
};

/*
 * Parse a response head for a request with method req_method ("HEAD"
 * means no body).  Returns the head length, 0 for more bytes (len <
 * HTTP_MAX_HEAD), or -1 with *why (static) when the response is malformed:
 * the proxy then answers 502 and closes.
 *
 * The status line is "HTTP/1.x SSS reason" (x a digit, SSS 100-599; the
 * reason may be empty, and "HTTP/1.1 204\r\n" without the space is
 * accepted) and the fields follow the request parser's rules: no obsolete
 * line folding, no bare LF, no whitespace before a colon, token names, at
 * most HTTP_MAX_HEAD bytes and HTTP_MAX_HEADERS fields.  Framing (RFC 9112
 * §6.3), in this order:
 *   - HEAD requests, 1xx, 204 and 304: NONE, any Content-Length or
 *     Transfer-Encoding ignored; 101 also sets upgrade.
 *   - Transfer-Encoding with Content-Length: refused, as is
 *     Transfer-Encoding in an HTTP/1.0 response and an empty one.
 *   - Transfer-Encoding whose last coding (over all its fields) is
 *     chunked: CHUNKED; any other last coding: CLOSE.
 *   - Content-Length (several fields or list members must all agree, else
 *     refused): LENGTH.
 *   - none of these: CLOSE.
 * connection_close is set for a "close" token in Connection, HTTP/1.0
 * without a "keep-alive" token, and a CLOSE body (nothing can follow it).
 */
ssize_t http_parse_response(const char *buf, size_t len, const char *req_method,
    struct http_response *r, const char **why);

/*
 * Tracks where a request or response body ends, without changing it:
 * Content-Length bytes, chunked framing including the trailer section, or
 * (responses) everything until the connection closes.
 */
struct http_body {
	enum http_body_kind kind;
	uint64_t remaining;		/* LENGTH: bytes left; CHUNKED: of this chunk */
	int state;			/* chunked decoder state, private */
	size_t line_len;		/* chunked: length of the line being read */
	bool done;
	struct sbuf *payload;		/* or NULL: the body's bytes without framing go here */
};
void http_body_init(struct http_body *b, const struct http_request *r);
void http_body_init_response(struct http_body *b, const struct http_response *r);
/*
 * Feed n bytes that follow the head.  Returns how many of them belong to
 * the body (<= n; fewer only when the body ended inside p), or -1 when the
 * chunked framing is malformed.  b->done is set once the body is complete;
 * a CLOSE body takes every byte and is never done (its end is the close).
 */
ssize_t http_body_feed(struct http_body *b, const char *p, size_t n);

#endif
