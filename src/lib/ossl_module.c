/*
 * warden-openssl.so: OpenSSL (Debian's static libcrypto and libssl) with
 * one table of the functions warden calls, in ossl_syms.h's order, which
 * ossl_lazy.c copies into the stubs of ossl_stubs.S on first use.  Only
 * the table and its length are exported (ossl_module.map): OpenSSL's own
 * symbols stay inside the module.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

extern void (*const warden_ossl_table[])(void);
extern const unsigned int warden_ossl_count;

#define OSSL_SYM(name) (void (*)(void))name,
void (*const warden_ossl_table[])(void) = {
#include "ossl_syms.h"
};
#undef OSSL_SYM

const unsigned int warden_ossl_count = sizeof(warden_ossl_table) / sizeof(warden_ossl_table[0]);
