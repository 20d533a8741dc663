/*
 * libFuzzer target: a proposal as the agent POSTs it to
 * http://policy.local/v1/proposals (approvals_propose), against a running
 * policy with an entry and a credential.  Whatever the body, the answer
 * is an HTTP status from the documented set with a JSON object, and the
 * store stays consistent (an accepted proposal can be looked up).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/proxy/approvals.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base[] =
    "version: 1\n"
    "network_policies:\n"
    "  github:\n"
    "    endpoints: [{host: api.github.com, port: 443}]\n"
    "    binaries: [{path: /usr/bin/git}]\n"
    "credentials:\n"
    "  gh: {from_env: GH_TOKEN, header: \"Authorization: Bearer {}\", network_policies: [github]}\n";

static struct policy P;
static char H[65];

static const struct policy *
current(void *arg, uint64_t *rev, const char **hash)
{
	*rev = 1;
	*hash = H;
	return &P;
}

static int
apply(void *arg, const char *yaml, size_t len, uint64_t *rev, char hash[65], struct werr *err)
{
	return werr_set(err, "not in the fuzzer");
}

static void
changed(void *arg, const struct appr_item *it, const char *event)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool loaded;
	struct approvals_hooks h = { .current = current, .apply = apply, .changed = changed };
	struct approvals_config c = { .hold_timeout_ms = 60000, .proposals = true,
		.rate_per_minute = 1000000, .max_pending = 64 };
	struct approvals *a;
	struct sbuf out;
	json_t *j;
	int status;

	if (!loaded) {
		struct policy_diags d = { 0 };
		if (policy_load_buffer("base", base, strlen(base), &P, &d) != 0)
			abort();
		policy_diags_free(&d);
		policy_hash(&P, H);
		loaded = true;
	}
	a = approvals_new(&h, &c);
	sbuf_init(&out, 1 << 20);
	status = approvals_propose(a, "/usr/bin/curl", 42, (const char *)data, size, &out);
	if (status != 201 && status != 400 && status != 403 && status != 413 && status != 429)
		abort();
	j = json_loadb(out.p ? out.p : "", out.len, 0, NULL);
	if (!json_is_object(j))
		abort();
	if (status == 201) {
		const char *id = json_string_value(json_object_get(j, "id"));
		if (!id || !approvals_get(a, id))
			abort();
	}
	json_decref(j);
	sbuf_free(&out);
	approvals_free(a);
	return 0;
}
