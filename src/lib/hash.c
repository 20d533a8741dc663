/*
 * SHA-256 through OpenSSL's one-shot SHA256_Init/Update/Final rather than
 * EVP: the EVP path initialises the library on first use (reads
 * openssl.cnf, loads the default provider, builds its algorithm store:
 * ~0.8 ms), and the policy hash is computed on the way to creating every
 * sandbox, where that would be paid before the namespaces even exist.  The
 * low-level functions run the same assembly (SHA extensions, AVX2) with no
 * initialisation.  OpenSSL 3 marks them deprecated in favour of EVP, whose
 * gain is the choice of a provider; these hashes (policy names, the audit
 * chain, binary pins) need the standard function, not a particular
 * implementation of it.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "hash.h"

#include <errno.h>
#include <openssl/sha.h>
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
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

	/* These cannot fail: no allocation, no provider. */
	SHA256_Init(&c);
	SHA256_Update(&c, data, len);
	SHA256_Final(md, &c);
	to_hex(md, hex);
}

int
sha256_file_fd(int fd, char hex[SHA256_HEX_LEN + 1], struct werr *err)
{
	unsigned char buf[64 * 1024];
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	ssize_t n;

	SHA256_Init(&c);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return werr_sys(err, "read");
		}
		SHA256_Update(&c, buf, (size_t)n);
	}
	SHA256_Final(md, &c);
	to_hex(md, hex);
	return 0;
}
