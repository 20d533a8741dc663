/*
 * Credentials the agent never sees.  The policy's `credentials:` section
 * names secrets that live on the host (a variable of warden's own
 * environment, or a file); the agent's environment gets a placeholder
 * instead, and the proxy swaps the placeholder for the secret -- or sets a
 * header holding it -- only on requests allowed under a network_policies
 * entry the credential is bound to, after the policy decision.
 *
 * A credstore holds the loaded secrets.  It copies what it needs from the
 * policy (the policy may be replaced on reload; credentials are static) and
 * keeps every secret in one private mapping that is locked in memory when
 * the limit allows, left out of core dumps, and wiped when the store is
 * freed.  No function here writes a secret into a message: errors, names
 * and results carry credential names, variable names and paths only.
 *
 * Ownership: the store is owned by the caller of credstore_load and freed
 * with credstore_free; strings it returns are borrowed from it.
 */
#ifndef WARDEN_CRED_H
#define WARDEN_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../lib/err.h"
#include "../lib/util.h"
#include "../policy/policy.h"

#define CRED_SECRET_MAX 8192		/* bytes of one secret */
#define CRED_FILE_MAX (64u << 10)	/* bytes of a from_file file */
#define CRED_PLACEHOLDER_PREFIX "warden-placeholder-"

struct credstore;

/*
 * Load every credential's secret: from_env via getenv (missing or empty:
 * error naming the variable and the credential); from_file opened
 * O_RDONLY|O_NOFOLLOW|O_CLOEXEC, which must be a regular file owned by the
 * effective uid (or by root) with no group/other permission bits (0600 or
 * stricter), at most 64 KiB, one trailing "\n" (or "\r\n") stripped.  Every
 * secret must be 1-8192 bytes of printable ASCII without spaces at either
 * end (it goes into HTTP headers); anything else is an error that says
 * why, never printing the secret.  Each credential gets a placeholder
 * "warden-placeholder-" NAME "-" 32 random lower-case hex characters.
 * A policy without credentials gives an empty store (not NULL).
 * Returns an owned store, or NULL with *err filled.
 */
struct credstore *credstore_load(const struct policy *p, struct werr *err);
void credstore_free(struct credstore *cs);	/* NULL-safe; wipes */
size_t credstore_count(const struct credstore *cs);

/* For the agent's environment: the i-th credential's sandbox_env (NULL when it has none) and placeholder. */
const char *credstore_env_name(const struct credstore *cs, size_t i);
const char *credstore_placeholder(const struct credstore *cs, size_t i);
const char *credstore_name(const struct credstore *cs, size_t i);

/* Is any credential bound to this network_policies key?  (The proxy must then terminate TLS.) */
bool credstore_binds(const struct credstore *cs, const char *entry_key);

struct cred_result {
	char used[256];		/* comma-separated names of credentials whose secret went in, "" if none */
	char mismatch[128];	/* on -1: the credential whose placeholder was seen */
	bool has_secret;	/* head now holds a secret: the caller wipes it after sending */
};

/*
 * Rewrite an upstream request head in place (head->p[0..len): request line,
 * header lines and the final CRLF CRLF, as the proxy built it) for a
 * request allowed under network_policies entry entry_key:
 *  - every occurrence of a known placeholder in the request line or a
 *    header value is replaced by the secret when the credential is bound to
 *    entry_key (in the request line, bytes of the secret that a
 *    request-target cannot hold are percent-encoded); a placeholder of a
 *    credential NOT bound to entry_key makes it return -1 with
 *    res->mismatch set: the caller denies with credential_endpoint_mismatch
 *    and sends nothing;
 *  - "Authorization: Basic <base64>" is decoded; if the decoded
 *    user:password holds a placeholder, the same rule applies inside and
 *    the result is encoded again (git and many clients send tokens so);
 *  - for each credential bound to entry_key that has a header, every header
 *    line of that name (case-insensitive) is removed and
 *    "Name: template-with-secret\r\n" is added before the final CRLF.
 * Unknown "warden-placeholder-..." look-alikes are left alone.  On -1 the
 * head is untouched; res->mismatch is "" when the head is not one the
 * proxy builds or the result would exceed head->max (denied all the same).
 * The old head bytes are wiped (OPENSSL_cleanse) when the new head is
 * swapped in.  Returns 0 or -1.
 */
int credstore_apply(const struct credstore *cs, const char *entry_key, struct sbuf *head,
    struct cred_result *res);

/*
 * Does data[0..n) contain any credential's placeholder?  Returns its index
 * or -1 (used to refuse a placeholder on a request that is not inspected).
 */
/*
 * Append "Header: <prefix>SECRET\r\n" for credential name (the privacy
 * router's provider credentials), or the credential's own header
 * template when it has one.  -1 when there is no such credential.  The
 * head then holds a secret: the caller wipes it after sending.
 */
int credstore_add_header(const struct credstore *cs, const char *name, const char *header,
    const char *prefix, struct sbuf *head);
ssize_t credstore_find_placeholder(const struct credstore *cs, const char *data, size_t n);

#endif
