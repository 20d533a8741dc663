/*
 * The health vocabulary of the built-in classifier: diagnoses,
 * medications, and lab and biometric measures (docs/classifier.md gives
 * the rules that turn a term into a finding).
 *
 * Terms are plain ASCII words or phrases.  They match case-insensitively
 * and as whole words, a space matching a space or a hyphen; `caseful`
 * terms match only as written, for acronyms that are ordinary words in
 * lower case ("AIDS" vs "aids", "PrEP" vs "prep").
 */
#ifndef WARDEN_CLASSIFY_HEALTH_TERMS_H
#define WARDEN_CLASSIFY_HEALTH_TERMS_H

#include <stdbool.h>
#include <stddef.h>

enum health_kind {
	HT_DIAGNOSIS,	/* alone: confidential */
	HT_MEDICATION,	/* alone: confidential */
	HT_MEASURE,	/* confidential only with a number nearby */
};

struct health_term {
	const char *term;
	enum health_kind kind;
	bool caseful;
	bool unit;	/* a unit ("mg/dL"): may follow a digit directly ("120mg/dL") */
};

extern const struct health_term health_terms[];
extern const size_t health_nterms;

#endif
