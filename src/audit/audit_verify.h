/*
 * Verifying an audit trail without trusting whoever wrote or kept it:
 * every record's hash recomputed from its bytes, the chain followed from
 * the first record, every checkpoint's Ed25519 signature checked against
 * the key in it -- and, when the caller names one, against that key only.
 */
#ifndef WARDEN_AUDIT_VERIFY_H
#define WARDEN_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/err.h"

enum audit_verdict {
	AUDIT_OK,		/* every record intact */
	AUDIT_TORN,		/* intact, except a final line cut short (a crash) */
	AUDIT_BAD,		/* a record is edited, missing, inserted, reordered, or badly signed */
};

struct audit_report {
	enum audit_verdict verdict;
	uint64_t records;		/* complete records read */
	uint64_t verified;		/* records in the intact prefix */
	uint64_t checkpoints;		/* valid signed checkpoints */
	uint64_t last_signed_seq;	/* seq covered by the last valid checkpoint */
	uint64_t bad_line;		/* 1-based line of the first problem (BAD/TORN) */
	uint64_t bad_seq;		/* its seq when readable, else 0 */
	char key[65];			/* public key of the checkpoints (hex), "" if none */
	char why[512];			/* what is wrong, in words */
};

/*
 * Verify the trail read from f.  want_key: 64 hex digits, or NULL to accept
 * the key found in the first checkpoint (and require all others to match).
 * Returns 0 with *r filled (r->verdict says the outcome), -1 with err set
 * when f cannot be read at all.
 */
int audit_verify(FILE *f, const char *want_key, struct audit_report *r, struct werr *err);

/*
 * audit_verify, with the per-record work (hashes, format and JSON checks)
 * of every batch of at least min_lines lines shared with a second thread;
 * SIZE_MAX: one thread.  The report is the same either way; audit_verify
 * picks the threshold, and the tests use this to compare the two.
 */
int audit_verify_split(FILE *f, const char *want_key, size_t min_lines,
    struct audit_report *r, struct werr *err);

/* The same over a buffer (what the fuzzer drives), on one thread. */
int audit_verify_buffer(const char *buf, size_t len, const char *want_key,
    struct audit_report *r, struct werr *err);

#endif
