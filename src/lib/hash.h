/* SHA-256 helpers over OpenSSL's EVP interface. */
#ifndef WARDEN_HASH_H
#define WARDEN_HASH_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Writes 64 lowercase hex digits and a NUL into hex[65]. */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);

#endif
