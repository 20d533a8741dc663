/*
 * The audit trail: every event of a sandbox, appended by its supervisor
 * (the only writer) as one JSON line, each line carrying the SHA-256 of
 * the previous one, with Ed25519-signed checkpoints over the chain head.
 *
 * Record layout (keys always in this order, absent fields omitted):
 *
 *   {"seq":N,"time":"RFC 3339, ns, UTC","sandbox":…,"policy_hash":…,
 *    "event":…,"decision":…,"rule":…,"reason":…, <event fields>,
 *    "prev":"<hash of the previous record>","hash":"<hash of this one>"}
 *
 * hash = SHA-256 over the line's bytes up to (not including) ',"hash":"',
 * followed by '}'.  The verifier recomputes it from the bytes as stored, so
 * any edit, insertion, deletion, reordering or truncation breaks the chain
 * at the first record it touches.  The first record's prev is 64 zeros.
 *
 * Checkpoint records (event "audit.checkpoint") carry "head" (the hash of
 * the record before them), "count", "key" (the Ed25519 public key, hex) and
 * "sig": the signature over "warden-audit-checkpoint\n<seq>\n<head>\n".
 *
 * Sensitive values never enter the trail: producers pass types and
 * positions, never bodies, credentials or matched text.
 */
#ifndef WARDEN_AUDIT_H
#define WARDEN_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/err.h"
#include "../lib/event.h"
#include "../lib/util.h"

#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_SIG_DOMAIN "warden-audit-checkpoint\n"

enum audit_fsync { AUDIT_FSYNC_BATCH, AUDIT_FSYNC_ALWAYS };

struct audit_config {
	const char *path;		/* the trail; its directory is created 0700 */
	const char *key_path;		/* Ed25519 private key (PEM), created 0600 if missing */
	const char *sandbox;		/* name recorded in every record */
	enum audit_fsync fsync;
	unsigned batch_ms;		/* batch: fsync at least this often (default 200) */
	unsigned checkpoint_records;	/* sign every N records (default 1000) */
	unsigned checkpoint_ms;		/* ... or T ms (default 10000) */
};

struct audit;

/*
 * Open (create, or continue) the trail.  An existing file is continued
 * from its last record.  A file whose last line is torn (a crash
 * mid-write) is moved aside whole, as evidence (audit_moved_aside() says
 * where), and a new chain starts.
 */
struct audit *audit_open(const struct audit_config *c, struct werr *err);
const char *audit_moved_aside(const struct audit *a);

/*
 * Append one event.  Returns 0 once the record is written (and fsynced in
 * "always" mode), -1 when it could not be: the trail is then failed for
 * good (audit_failed() says why), and callers must not act on decisions
 * they could not record.
 */
int audit_append(struct audit *a, const struct event *ev);

/* Non-NULL (a static-lifetime reason) once the trail has failed. */
const char *audit_failed(const struct audit *a);

/* Periodic work: batched fsync and time-based checkpoints (call ~10/s). */
void audit_tick(struct audit *a);

/*
 * Start flushing what is written so far on a thread of its own, and return
 * at once ("batch" mode; "always" has nothing to flush).  Extra to the
 * batch schedule, never instead of it: the first flush of a new trail also
 * writes the directories that name it, so doing it early leaves the final
 * flush at audit_close only the last records.  A failure fails the trail,
 * as a batch flush's would.
 */
void audit_flush_early(struct audit *a);

/* Final checkpoint and fsync; frees a.  Returns -1 when either failed. */
int audit_close(struct audit *a, struct werr *err);

/* The public key, 64 hex digits (valid while a is open). */
const char *audit_pubkey(const struct audit *a);

/*
 * Append one command-line argument as a JSON string for a record, as the
 * trail may hold it: cut at AUDIT_ARG_MAX bytes, and "[redacted]" for
 * anything that could carry a credential -- a value naming a token,
 * password, key or cookie, the argument after -u/--user/-p/--password and
 * similar options (prev is the argument before, or NULL), URL user
 * information, and URL query values.
 */
#define AUDIT_ARG_MAX 256
#define AUDIT_ARGS_MAX 64
void audit_add_arg(struct sbuf *b, const char *arg, const char *prev);
/* A whole argv as a JSON array, at most AUDIT_ARGS_MAX entries, each as above. */
void audit_add_argv(struct sbuf *b, char *const *argv);

/* Default locations: $XDG_STATE_HOME/warden (or ~/.local/state/warden), /var/lib/warden as root. */
int audit_default_dir(char *out, size_t n, struct werr *err);

#endif
