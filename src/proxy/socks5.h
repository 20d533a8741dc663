/*
 * SOCKS5 (RFC 1928) parsing for the egress proxy: the greeting and the
 * CONNECT request, and the replies.  Only "no authentication" and CONNECT
 * are supported; host names travel to the proxy unresolved (ATYP 3), so the
 * policy decides on the name, before anything is resolved.  Pure functions
 * over a caller's buffer.
 */
#ifndef WARDEN_SOCKS5_H
#define WARDEN_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	SOCKS5_OK = 0x00,
	SOCKS5_GENERAL_FAILURE = 0x01,
	SOCKS5_NOT_ALLOWED = 0x02,	/* connection not allowed by ruleset */
	SOCKS5_NET_UNREACHABLE = 0x03,
	SOCKS5_HOST_UNREACHABLE = 0x04,
	SOCKS5_CONN_REFUSED = 0x05,
	SOCKS5_TTL_EXPIRED = 0x06,
	SOCKS5_CMD_UNSUPPORTED = 0x07,
	SOCKS5_ATYP_UNSUPPORTED = 0x08,
};

enum { SOCKS5_ATYP_IPV4 = 1, SOCKS5_ATYP_DOMAIN = 3, SOCKS5_ATYP_IPV6 = 4 };

/*
 * Greeting: VER(5) NMETHODS METHODS...  Returns bytes consumed (> 0), 0
 * when more are needed, -1 when malformed.  *no_auth tells whether method
 * 0x00 was offered (if not, answer 0xFF and close).
 */
ssize_t socks5_parse_greeting(const uint8_t *b, size_t n, bool *no_auth);

struct socks5_request {
	uint8_t cmd;			/* 1 = CONNECT */
	uint8_t atyp;
	char host[256];			/* domain as sent, or the IP literal in text */
	uint16_t port;
};

/*
 * Request: VER CMD RSV ATYP DST.ADDR DST.PORT.  Returns bytes consumed
 * (> 0), 0 when more are needed, -1 when it must be refused with the reply
 * code in *reply (malformed, unsupported command or address type, a domain
 * with a NUL or of length 0).
 */
ssize_t socks5_parse_request(const uint8_t *b, size_t n, struct socks5_request *r,
    uint8_t *reply);

/* The 10-byte reply VER REP RSV ATYP(1) 0.0.0.0 0; returns its length. */
size_t socks5_reply(uint8_t out[10], uint8_t code);

#endif
