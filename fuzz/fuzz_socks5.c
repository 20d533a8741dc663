/*
 * libFuzzer target for the SOCKS5 greeting and request parsers: the first
 * bytes are a greeting, the rest a request, as on the wire.  Checks, with
 * abort(): consumed counts lie within the input; every shorter prefix of
 * an accepted message needs more bytes (never a different answer); a
 * refusal carries a reply code the client can be sent; an accepted
 * request names a NUL-free host of at most 255 bytes and a non-zero port.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/proxy/socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
check_request(const uint8_t *d, size_t n)
{
	struct socks5_request r, tmp;
	uint8_t code = 0xee, c2;
	ssize_t k = socks5_parse_request(d, n, &r, &code);
	uint8_t reply[10];

	if (k < 0) {
		if (code != SOCKS5_GENERAL_FAILURE && code != SOCKS5_CMD_UNSUPPORTED &&
		    code != SOCKS5_ATYP_UNSUPPORTED)
			abort();
		if (socks5_reply(reply, code) != 10 || reply[0] != 5 || reply[1] != code)
			abort();
		return;
	}
	if (k == 0)
		return;
	if ((size_t)k > n || code != SOCKS5_OK || r.cmd != 1 || r.port == 0)
		abort();
	if (memchr(r.host, '\0', sizeof(r.host)) == NULL || r.host[0] == '\0')
		abort();
	if (r.atyp != SOCKS5_ATYP_IPV4 && r.atyp != SOCKS5_ATYP_DOMAIN && r.atyp != SOCKS5_ATYP_IPV6)
		abort();
	if (r.atyp == SOCKS5_ATYP_DOMAIN && strlen(r.host) != d[4])
		abort();
	for (size_t i = 0; i < (size_t)k; i++) {
		if (socks5_parse_request(d, i, &tmp, &c2) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	bool no_auth = false, na2;
	ssize_t g = socks5_parse_greeting(d, n, &no_auth);

	if (g > 0) {
		if ((size_t)g > n || (size_t)g != 2 + (size_t)d[1])
			abort();
		for (size_t i = 0; i < (size_t)g; i++) {
			if (socks5_parse_greeting(d, i, &na2) != 0)
				abort();
		}
		check_request(d + g, n - (size_t)g);
	} else {
		/* Not a greeting: still exercise the request parser on the bytes. */
		check_request(d, n);
	}
	return 0;
}
