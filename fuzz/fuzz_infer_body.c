/*
 * libFuzzer target: the router's scanner of what a request body says
 * about itself (infer_inspect_body in src/router/route.c).  Besides not
 * crashing, what it reports must be consistent: nothing unless the body
 * read as an object, a model that is a NUL-terminated string within its
 * bound, and a label only when one was found.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/router/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct infer_info in;

	infer_inspect_body(data, size, &in);
	if (strnlen(in.model, sizeof(in.model)) >= sizeof(in.model))
		abort();
	if (!in.json && (in.model[0] || in.stream || in.has_label))
		abort();
	if (in.has_label && (unsigned)in.label >= TIER_COUNT)
		abort();
	return 0;
}
