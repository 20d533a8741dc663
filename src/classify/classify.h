/*
 * The built-in classifier (warden-guard): reads an outbound request body
 * and reports what sensitive data it contains, with byte spans into the
 * body, the tier the content requires, and a placeholder per finding for
 * redaction.
 *
 * The body is walked as JSON when it parses as JSON (every string value,
 * after unescaping; strings that are themselves JSON, such as tool
 * arguments, are walked too; base64 blobs are opaque and carry a minimum
 * tier), else scanned as text.  Patterns are matched with Vectorscan in
 * one pass per string; checksums (Luhn, mod-97, GitHub's CRC32) and range
 * rules (US SSN) are checked in C.  Rules are compiled once.
 */
#ifndef WARDEN_CLASSIFY_H
#define WARDEN_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/err.h"
#include "../lib/tier.h"
#include "guard_proto.h"

/* A custom rule: case-insensitive literal terms, or one Vectorscan regex. */
struct classify_custom {
	const char *name;
	const char *const *terms;
	size_t nterms;
	const char *pattern;	/* or NULL */
	enum tier tier;
};

struct classify_config {
	const struct classify_custom *custom;
	size_t ncustom;
	enum tier base64_min_tier;	/* an opaque base64 blob of >= 256 bytes */
};

struct classify_rules;

/* Compile the built-in rules plus the custom ones.  A bad custom pattern fails with its name. */
struct classify_rules *classify_rules_new(const struct classify_config *cfg, struct werr *err);
void classify_rules_free(struct classify_rules *r);

struct classify_result {
	enum tier tier;				/* public when nothing was found */
	struct guard_finding *findings;		/* owned (malloc), sorted by start */
	size_t nfindings;
	struct guard_redaction *redactions;	/* owned, sorted, non-overlapping */
	size_t nredactions;
};

/*
 * Classify one body.  Not thread-safe per rules object (it holds the
 * scratch space).  Returns 0, or -1 with err (only on resource failure:
 * content never makes classification fail).
 */
int classify_body(struct classify_rules *r, const void *body, size_t len,
    struct classify_result *res, struct werr *err);
void classify_result_free(struct classify_result *res);

/*
 * Load a rules file for warden-guard (JSON: {"base64_min_tier": "...",
 * "custom": [{"name","terms":[...]|"pattern","tier"}]}).  The config's
 * strings are owned by *storage; free with classify_config_free.
 */
int classify_config_load(const char *json, size_t len, struct classify_config *cfg,
    void **storage, struct werr *err);
void classify_config_free(struct classify_config *cfg, void *storage);

#endif
