/*
 * The built-in detectors: one Vectorscan database compiled at start, one
 * pass over the scan text (jsonwalk.h), and a C extractor per pattern
 * that finds the whole candidate around the match and validates it.
 *
 * Why patterns are only triggers: without start-of-match tracking (which
 * costs Vectorscan speed), a match tells where something *ends*.  So each
 * built-in pattern is a literal -- a token prefix ("ghp_", "sk-ant-"), a
 * keyword ("SSN"), a vocabulary term -- or "two digits", and the C
 * extractor reads the candidate around it: its extent, then what regular
 * expressions cannot check -- checksums, ranges, token boundaries,
 * context.  Custom patterns from the policy are arbitrary, so they are
 * compiled with start-of-match tracking (HS_FLAG_SOM_LEFTMOST).
 *
 * Hits are in scan-text coordinates and may overlap; classify.c resolves
 * overlaps and maps spans to the raw body.  A hit never carries the
 * matched value.
 */
#ifndef WARDEN_CLASSIFY_DETECT_H
#define WARDEN_CLASSIFY_DETECT_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/err.h"
#include "../lib/tier.h"
#include "classify.h"
#include "jsonwalk.h"

/* Built-in finding types; custom rules follow from DT_BUILTIN_COUNT on. */
enum det_builtin {
	DT_PRIVATE_KEY, DT_AWS_ACCESS_KEY, DT_AWS_SECRET_KEY, DT_GOOGLE_API_KEY,
	DT_ANTHROPIC_KEY, DT_OPENAI_KEY, DT_GITHUB, DT_SLACK_TOKEN, DT_SLACK_WEBHOOK,
	DT_STRIPE_KEY, DT_JWT,
	DT_PAYMENT_CARD, DT_IBAN, DT_US_SSN, DT_UK_NINO,
	DT_ICD10, DT_DIAGNOSIS, DT_MEDICATION, DT_BIOMETRIC,
	DT_EMAIL, DT_PHONE,
	DT_OPAQUE,
	DT_BUILTIN_COUNT
};

struct det_type {
	char type[48];		/* "payment_card", "custom.codename" */
	char cls[24];		/* "financial", "custom" */
	enum tier tier;
};

struct det_hit {
	size_t start, end;		/* scan-text range, start < end */
	unsigned type;			/* enum det_builtin, or a custom rule */
	const char *validator;		/* static: "luhn", "mod97", "crc32", ... */
};

/* Called for each hit; return non-zero to stop the scan. */
typedef int (*det_emit_fn)(void *arg, const struct det_hit *h);

struct detect;

/*
 * Compile the built-in patterns and cfg's custom rules (borrowed; only
 * used during the call).  Fails with a message naming the custom rule
 * whose pattern does not compile.
 */
struct detect *detect_new(const struct classify_config *cfg, struct werr *err);
void detect_free(struct detect *d);

/* The type table: DT_BUILTIN_COUNT + one per custom rule. */
const struct det_type *detect_type(const struct detect *d, unsigned type);
unsigned detect_ntypes(const struct detect *d);

/*
 * Scan text[0, len) except the holes (sorted, disjoint), reporting every
 * validated hit.  Not thread-safe per detect object (it owns the scratch
 * space).  Returns 0, or -1 with err when Vectorscan fails.
 */
int detect_scan(struct detect *d, const char *text, size_t len, const struct jw_hole *holes,
    size_t nholes, det_emit_fn emit, void *arg, struct werr *err);

#endif
