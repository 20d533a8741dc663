/*
 * The privacy router's decisions that need no I/O: which inference API a
 * request speaks, what it says about itself (model, streaming, a
 * sensitivity label), and which providers could serve it, in order of
 * preference.  The proxy (src/proxy/proxy_infer.c) does the rest.
 */
#ifndef WARDEN_ROUTE_H
#define WARDEN_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/tier.h"
#include "../policy/policy.h"

enum infer_api { INFER_API_NONE, INFER_API_MESSAGES, INFER_API_CHAT, INFER_API_RESPONSES };

/*
 * The API a path (query excluded) names, and its format: /v1/messages
 * (Anthropic Messages), /v1/chat/completions and /v1/responses (OpenAI).
 */
enum infer_api infer_api_of(const char *path, size_t len, enum infer_format *fmt);
const char *infer_api_name(enum infer_api a);

#define INFER_MODEL_MAX 200

/* What a request body says about itself.  Never fails: a body that is not JSON says nothing. */
struct infer_info {
	bool json;			/* the body is a JSON object */
	char model[INFER_MODEL_MAX + 1];	/* "" when absent or not a string */
	bool stream;
	bool has_label;			/* metadata.sensitivity named a tier */
	enum tier label;
};
void infer_inspect_body(const void *body, size_t len, struct infer_info *out);

/*
 * A sensitivity label from a header value ("public", " Confidential "):
 * returns 0 and the tier, or -1 when it names none.  Labels only ever
 * raise a tier, so an unknown label is simply ignored.
 */
int infer_label_parse(const char *v, size_t n, enum tier *out);

/*
 * The providers that could serve a request of format fmt for model: the
 * first route whose model globs match, its providers in order, those not
 * speaking fmt skipped.  Returns how many were written to out (<= max).
 */
size_t infer_candidates(const struct inference *inf, enum infer_format fmt, const char *model,
    const struct infer_provider **out, size_t max);

/* The first candidate whose max_tier admits tier, or NULL. */
const struct infer_provider *infer_choose(const struct infer_provider *const *cand, size_t n,
    enum tier tier);

/* The provider whose base_url names host:port (a direct request to a provider), or NULL. */
const struct infer_provider *infer_provider_at(const struct inference *inf, const char *host,
    uint16_t port);

/*
 * The upstream path for a request path: base_path + path, where an OpenAI
 * request's leading "/v1" is dropped (OpenAI base URLs include it,
 * Anthropic's do not).  Returns an owned string.
 */
char *infer_upstream_path(const struct infer_provider *p, const char *path, size_t len);

#endif
