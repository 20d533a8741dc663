#include "hash.h"

#include <errno.h>
#include <openssl/evp.h>
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
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	/* EVP_Digest only fails on allocation failure inside OpenSSL. */
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		abort();
	to_hex(md, hex);
}

int
sha256_file_fd(int fd, char hex[SHA256_HEX_LEN + 1], struct werr *err)
{
	unsigned char buf[64 * 1024];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	ssize_t n;

	/* As in sha256_hex, the EVP calls fail only when OpenSSL cannot allocate. */
	if (!(ctx = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		abort();
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			werr_sys(err, "read");
			EVP_MD_CTX_free(ctx);
			return -1;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			abort();
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32)
		abort();
	EVP_MD_CTX_free(ctx);
	to_hex(md, hex);
	return 0;
}
