/*
 * libFuzzer target for the policy loader: any bytes must either load into a
 * policy whose canonical form loads back to the same hash, or be rejected
 * with at least one diagnostic -- never crash, leak or hang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p, q;
	struct policy_diags d;

	if (policy_load_buffer("fuzz", (const char *)data, size, &p, &d) == 0) {
		char h1[65], h2[65];
		char *canon = policy_canonical(&p);
		struct policy_diags d2;

		/* The canonical form is itself a valid policy with the same hash. */
		if (policy_load_buffer("canon", canon, strlen(canon), &q, &d2) != 0)
			abort();
		policy_hash(&p, h1);
		policy_hash(&q, h2);
		if (strcmp(h1, h2) != 0)
			abort();
		policy_free(&q);
		policy_diags_free(&d2);
		free(canon);
		policy_free(&p);
	} else if (d.n == 0) {
		abort();	/* a rejection must say why */
	}
	policy_diags_free(&d);
	return 0;
}
