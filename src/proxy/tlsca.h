/*
 * The per-sandbox TLS certificate authority and the TLS contexts of the
 * egress proxy's L7 inspection.
 *
 * For an endpoint with method/path rules the proxy must read the agent's
 * HTTP requests, so it terminates the agent's TLS itself with a leaf
 * certificate issued here for the CONNECT target, and opens its own,
 * verified TLS connection upstream.  The sandbox trusts the CA through a
 * bundle the supervisor writes (tlsca_write_bundle) and mounts or points
 * SSL_CERT_FILE and friends at.
 *
 * The CA is generated when the sandbox starts and dies with it.  Its
 * private key lives only in this process's memory: it is never written to
 * a file, never logged, never passed to the sandbox.  Whoever holds it can
 * impersonate any site to the sandbox, so the only copy is the one a
 * process outside the sandbox cannot read; and a new key per sandbox means
 * a key that leaked anyway is worth nothing once that sandbox has ended.
 * Only the certificate (public) leaves, and its SHA-256 fingerprint goes to
 * the audit trail so a trail names the CA its sandbox trusted.
 *
 * Validity: every certificate starts one hour in the past, so a sandbox
 * whose clock lags the host's does not see "not yet valid".  The CA lasts
 * 30 days (a sandbox running longer must be restarted: issuing then fails
 * with a message that says so); leaves last 7 days, never past the CA.
 * All keys are ECDSA P-256: generation and signing cost well under a
 * millisecond, so a leaf can be issued on the event loop when a connection
 * needs one.  Every leaf shares one key (generated once per tlsca), which
 * makes issuing a single signature; the key is as secret as the CA's and
 * only ever authenticates this proxy, so sharing it costs nothing.
 *
 * Leaves are cached by host (lower-cased) with least-recently-used
 * eviction at 1024 entries, so an agent that reaches many names cannot
 * grow the proxy's memory; a cached leaf within an hour of its notAfter is
 * issued again.  The client side keeps at most one resumable session per
 * upstream host under the same bound, and hands each out once (a TLS 1.3
 * ticket is meant for a single use).
 *
 * The agent-facing side refuses a ClientHello whose SNI names another
 * host than the CONNECT target (no domain fronting through an inspected
 * endpoint) and binds server-side session resumption to the target, so a
 * session made for one host does not resume on a connection to another.
 *
 * Threads: none.  The module is called from the proxy's event loop only and
 * takes no locks; a struct tlsca and its SSLs must stay on one thread.
 * Nothing here does network I/O: the caller attaches fds and drives the
 * handshakes non-blocking.  tlsca_new() reads the trust-anchor files.
 *
 * Ownership: SSLs returned are owned by the caller (SSL_free).  They hold
 * their own references and may outlive the tlsca (their sessions are then
 * simply not kept).  OpenSSL forgets the session of a connection freed
 * without SSL_shutdown() having sent close_notify, so only cleanly closed
 * connections leave a session to resume.  Strings are borrowed.
 */
#ifndef WARDEN_TLSCA_H
#define WARDEN_TLSCA_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "../lib/err.h"

struct tlsca;

/*
 * Generate the CA (ECDSA P-256 key, self-signed cert) and one shared
 * ECDSA P-256 leaf key, build the server-side SSL_CTX (agent-facing) and
 * client-side SSL_CTX (upstream-facing).  upstream_ca: NULL, or a PEM
 * file of extra trust anchors for upstream verification (added to the
 * system default roots, not replacing them).  Errors: NULL + err (a
 * missing/unreadable/empty upstream_ca file is an error that names the
 * file).
 */
struct tlsca *tlsca_new(const char *upstream_ca, struct werr *err);
/* NULL-safe; key material freed with the normal OpenSSL free. */
void tlsca_free(struct tlsca *ca);

/*
 * Write the CA certificate (PEM) to path, mode 0644, replacing any file
 * there atomically (write tmp + rename).
 */
int tlsca_write_cert(const struct tlsca *ca, const char *path, struct werr *err);
/*
 * Write system_bundle's contents (e.g. /etc/ssl/certs/ca-certificates.crt;
 * if it does not exist, or is NULL, nothing from it) followed by the CA
 * certificate to path, mode 0644, atomically.
 */
int tlsca_write_bundle(const struct tlsca *ca, const char *system_bundle, const char *path,
    struct werr *err);
/* SHA-256 fingerprint of the CA certificate, lower-case hex (64 chars + NUL). */
const char *tlsca_fingerprint(const struct tlsca *ca);

/*
 * A new server-side SSL for a connection whose CONNECT target is host (a
 * DNS name or an IP literal in canonical text form, e.g. "api.test",
 * "127.0.0.1", "::1"; names of letters, digits, '-', '_' and '.', at most
 * 253 bytes).  The leaf certificate for host is taken from the cache or
 * issued now; the chain sent is leaf + CA.  A ClientHello whose SNI is
 * present and differs (case-insensitively, ignoring one trailing dot) from
 * host is refused during the handshake with a fatal unrecognized_name
 * alert; tlsca_sni_refused() then reports it.  No SNI is accepted.  ALPN:
 * "http/1.1" when the client offers it, otherwise none.
 * The caller attaches the fd (SSL_set_fd) and drives SSL_accept
 * non-blocking.  Returns NULL + err on failure.
 */
SSL *tlsca_server_ssl(struct tlsca *ca, const char *host, struct werr *err);
/*
 * After a failed (or finished) server handshake: true when it was refused
 * for an SNI mismatch, with the SNI the client sent copied into sni
 * (NUL-terminated, truncated to sni_size, control and non-ASCII bytes
 * replaced by '?').
 */
bool tlsca_sni_refused(const SSL *s, char *sni, size_t sni_size);

/*
 * A new client-side SSL for connecting upstream to host (same forms as
 * above): SNI set for names (never for IP literals), peer verification
 * against the system roots + upstream_ca, the host name (or IP address)
 * checked, ALPN offering only "http/1.1".  A session kept from an earlier
 * connection to host is offered for resumption.  The caller attaches the
 * fd and drives SSL_connect non-blocking.  Returns NULL + err on failure.
 */
SSL *tlsca_client_ssl(struct tlsca *ca, const char *host, struct werr *err);
/*
 * Why an upstream handshake failed, in words for an agent: e.g.
 * "certificate verify failed: unable to get local issuer certificate" or
 * the OpenSSL error queue's first reason.  Thread-local storage, valid
 * until the next call.  Clears the OpenSSL error queue.
 */
const char *tlsca_handshake_error(const SSL *s);

/* Number of leaf certificates issued (not cache hits), for tests and stats. */
unsigned long tlsca_issued(const struct tlsca *ca);

#endif
