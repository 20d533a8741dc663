/*
 * SHA-256 through nettle's sha256_* functions, linked statically: the
 * policy hash is computed on the way to creating every sandbox and the
 * audit chain hashes every record, so the hash must cost no library
 * initialisation and must not pull OpenSSL (loaded only when a sandbox
 * needs TLS, src/lib/ossl_lazy.c) into the start of a sandbox that does
 * not.  nettle selects its SHA extensions code at run time, as OpenSSL
 * does.
 */
#include "hash.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <unistd.h>

static void
to_hex(const unsigned char md[32], char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned int i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

void
sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_SIZE];
	struct sha256_ctx c;

	/* These cannot fail: no allocation. */
	sha256_init(&c);
	sha256_update(&c, len, data);
	sha256_digest(&c, sizeof(md), md);
	to_hex(md, hex);
}

int
sha256_file_fd(int fd, char hex[SHA256_HEX_LEN + 1], struct werr *err)
{
	unsigned char buf[64 * 1024];
	unsigned char md[SHA256_DIGEST_SIZE];
	struct sha256_ctx c;
	ssize_t n;

	sha256_init(&c);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return werr_sys(err, "read");
		}
		sha256_update(&c, (size_t)n, buf);
	}
	sha256_digest(&c, sizeof(md), md);
	to_hex(md, hex);
	return 0;
}
