/*
 * SOCKS5 (RFC 1928) greeting and CONNECT request.
 *
 * Like the HTTP parser, these are called again on the whole buffer each
 * time bytes arrive and keep no state.  Each field is judged as soon as it
 * is in the buffer, so a bad version, command or address type is refused
 * after one byte rather than after a full request, and the lengths the
 * client declares never exceed what a single byte can say (255), so
 * nothing needs capping beyond that.
 *
 * A domain is copied as sent (it may be UTF-8; the policy normalises it),
 * but bytes that can never be part of a host name -- NUL, controls, space,
 * DEL -- are refused here: a NUL would cut the C string the policy sees
 * short of the name the resolver would be asked for.
 *
 * Port 0 is refused with "general failure": nothing can be connected on
 * it, and letting it through would only reach the connect() call with a
 * meaningless destination.
 */
#include "socks5.h"

#include <arpa/inet.h>
#include <string.h>

#define SOCKS5_VERSION 5
#define SOCKS5_CMD_CONNECT 1

ssize_t
socks5_parse_greeting(const uint8_t *b, size_t n, bool *no_auth)
{
	size_t need;

	*no_auth = false;
	if (n < 1)
		return 0;
	if (b[0] != SOCKS5_VERSION)
		return -1;
	if (n < 2)
		return 0;
	if (b[1] == 0)
		return -1;	/* no methods offered: nothing to agree on */
	need = 2 + (size_t)b[1];
	if (n < need)
		return 0;
	for (size_t i = 2; i < need; i++) {
		if (b[i] == 0x00)
			*no_auth = true;
	}
	return (ssize_t)need;
}

static ssize_t
refuse(uint8_t *reply, uint8_t code)
{
	*reply = code;
	return -1;
}

ssize_t
socks5_parse_request(const uint8_t *b, size_t n, struct socks5_request *r, uint8_t *reply)
{
	size_t alen, need;
	const uint8_t *a;

	memset(r, 0, sizeof(*r));
	*reply = SOCKS5_OK;
	if (n < 1)
		return 0;
	if (b[0] != SOCKS5_VERSION)
		return refuse(reply, SOCKS5_GENERAL_FAILURE);
	if (n < 2)
		return 0;
	r->cmd = b[1];
	if (b[1] != SOCKS5_CMD_CONNECT)
		return refuse(reply, SOCKS5_CMD_UNSUPPORTED);	/* BIND, UDP, junk */
	if (n < 3)
		return 0;
	if (b[2] != 0)
		return refuse(reply, SOCKS5_GENERAL_FAILURE);
	if (n < 4)
		return 0;
	r->atyp = b[3];
	switch (b[3]) {
	case SOCKS5_ATYP_IPV4:
		alen = 4;
		a = b + 4;
		break;
	case SOCKS5_ATYP_IPV6:
		alen = 16;
		a = b + 4;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (n < 5)
			return 0;
		alen = b[4];
		a = b + 5;
		if (alen == 0)
			return refuse(reply, SOCKS5_GENERAL_FAILURE);
		/* Judge the name bytes already here, even before all have come. */
		for (size_t i = 0; i < alen && 5 + i < n; i++) {
			if (a[i] < 0x21 || a[i] == 0x7f)
				return refuse(reply, SOCKS5_GENERAL_FAILURE);
		}
		break;
	default:
		return refuse(reply, SOCKS5_ATYP_UNSUPPORTED);
	}
	need = (size_t)(a - b) + alen + 2;
	if (n < need)
		return 0;

	r->port = (uint16_t)(b[need - 2] << 8 | b[need - 1]);
	if (r->port == 0)
		return refuse(reply, SOCKS5_GENERAL_FAILURE);
	if (r->atyp == SOCKS5_ATYP_DOMAIN) {
		memcpy(r->host, a, alen);
		r->host[alen] = '\0';
	} else if (!inet_ntop(r->atyp == SOCKS5_ATYP_IPV4 ? AF_INET : AF_INET6, a, r->host,
	    sizeof(r->host))) {
		return refuse(reply, SOCKS5_GENERAL_FAILURE);
	}
	return (ssize_t)need;
}

size_t
socks5_reply(uint8_t out[10], uint8_t code)
{
	static const uint8_t tmpl[10] = { SOCKS5_VERSION, 0, 0, SOCKS5_ATYP_IPV4, 0, 0, 0, 0, 0, 0 };

	memcpy(out, tmpl, sizeof(tmpl));
	out[1] = code;
	return sizeof(tmpl);
}
