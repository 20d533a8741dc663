/*
 * Internals shared by the detector files: detect.c (the pattern table,
 * the Vectorscan database, the scan loop and custom rules) and the
 * extractors, by subject -- detect_secret.c (keys and tokens),
 * detect_ident.c (cards, IBAN, national ids, phone numbers, email),
 * detect_health.c (ICD-10 codes and the health vocabulary).
 *
 * An extractor is called with the end offset of its pattern's match in
 * the scan text and decides on its own whether a finding starts and ends
 * near there; it reports through det_hit().  Patterns are deliberately
 * plain (literals, and one pattern for any two digits): Vectorscan scans
 * literal sets at several GB/s, while classes of separators such as
 * "[ .-]" inside patterns made it pick spaces and dots as the literals to
 * look for, and prose is full of those (docs/classifier.md, performance).
 */
#ifndef WARDEN_CLASSIFY_DETECT_INT_H
#define WARDEN_CLASSIFY_DETECT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "detect.h"

enum ex {
	EX_PEM, EX_AWS_ID, EX_AWS_CTX, EX_FIXED, EX_PREFIX, EX_SLACK_HOOK, EX_JWT,
	EX_DIGITS, EX_CARD, EX_IBAN, EX_PHONE, EX_EMAIL, EX_SSN_CTX,
	EX_ICD_CTX, EX_TERM, EX_MEASURE, EX_CUSTOM_TERM, EX_CUSTOM_RE,
	EX_COUNT
};

/* Characters a token may continue with. */
enum charset { CS_TOKEN, CS_SLACK, CS_ALNUM };

struct pat_meta {
	unsigned char ex;
	unsigned short type;
	unsigned short width;		/* the match is this long: start = end - width */
	unsigned short minlen;		/* EX_PREFIX: shortest token; EX_FIXED: the token's length */
	unsigned char charset;		/* EX_PREFIX, EX_FIXED */
	bool unit;			/* EX_MEASURE: may follow a digit; contexts: check the end too */
	unsigned slot;			/* EX_CUSTOM_RE: its pending-match slot */
};

struct pending;

struct scan {
	const struct detect *d;
	const unsigned char *t;
	size_t len;
	size_t base;			/* offset of the region being scanned */
	det_emit_fn emit;
	void *arg;
	bool stop;
	size_t done[EX_COUNT];		/* per extractor: read up to here */
	struct pending *pend;
};

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline bool is_alpha(unsigned char c) { return is_upper(c) || is_lower(c); }
static inline bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static inline bool is_tok(unsigned char c) { return is_alnum(c) || c == '_' || c == '-'; }
static inline bool is_upnum(unsigned char c) { return is_upper(c) || is_digit(c); }

void det_hit(struct scan *c, size_t s, size_t e, unsigned type, const char *validator);
/* The end of the NUL-free run holding p, at most max bytes on. */
size_t det_seg_end(const struct scan *c, size_t p, size_t max);
/* The end of the run of characters satisfying pred from p, if at least min long; else 0. */
size_t det_run(const struct scan *c, size_t p, bool (*pred)(unsigned char), size_t min);
/* n ASCII digits as a number. */
unsigned det_num(const unsigned char *p, size_t n);
/* Upper case, lower case and digits all present in t[a, b). */
bool det_mixed(const unsigned char *t, size_t a, size_t b);
/* Is the word at [s, e) alone (no letter or digit on either side)? */
bool det_word(const struct scan *c, size_t s, size_t e);

/* detect_secret.c */
void det_pem(struct scan *c, const struct pat_meta *m, size_t end);
void det_aws_id(struct scan *c, const struct pat_meta *m, size_t end);
void det_aws_ctx(struct scan *c, size_t end);
void det_fixed(struct scan *c, const struct pat_meta *m, size_t end);
void det_prefix(struct scan *c, const struct pat_meta *m, size_t end);
void det_slack_hook(struct scan *c, const struct pat_meta *m, size_t end);
void det_jwt(struct scan *c, const struct pat_meta *m, size_t end);

/* detect_ident.c */
void det_digits(struct scan *c, size_t end);
void det_ssn_ctx(struct scan *c, const struct pat_meta *m, size_t end);
void det_email(struct scan *c, size_t end);

/* detect_health.c */
void det_icd_at(struct scan *c, size_t ds, size_t de);
void det_icd_ctx(struct scan *c, const struct pat_meta *m, size_t end);
void det_term(struct scan *c, const struct pat_meta *m, size_t end);
void det_measure(struct scan *c, const struct pat_meta *m, size_t end);

#endif
