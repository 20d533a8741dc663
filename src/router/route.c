/*
 * Routing decisions of the privacy router.  Pure functions of the policy
 * and the request, so every rule here is unit-tested without a network.
 */
#include "route.h"

#include <ctype.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../lib/util.h"

static bool
path_is(const char *path, size_t len, const char *want)
{
	size_t n = strlen(want);

	/* A trailing slash is the same resource to every provider's router. */
	if (len == n + 1 && path[n] == '/')
		len = n;
	return len == n && memcmp(path, want, n) == 0;
}

enum infer_api
infer_api_of(const char *path, size_t len, enum infer_format *fmt)
{
	const char *q = memchr(path, '?', len);

	if (q)
		len = (size_t)(q - path);
	if (path_is(path, len, "/v1/messages")) {
		*fmt = INFER_ANTHROPIC;
		return INFER_API_MESSAGES;
	}
	if (path_is(path, len, "/v1/chat/completions")) {
		*fmt = INFER_OPENAI;
		return INFER_API_CHAT;
	}
	if (path_is(path, len, "/v1/responses")) {
		*fmt = INFER_OPENAI;
		return INFER_API_RESPONSES;
	}
	return INFER_API_NONE;
}

const char *
infer_api_name(enum infer_api a)
{
	switch (a) {
	case INFER_API_MESSAGES:
		return "messages";
	case INFER_API_CHAT:
		return "chat.completions";
	case INFER_API_RESPONSES:
		return "responses";
	case INFER_API_NONE:
		break;
	}
	return "none";
}

int
infer_label_parse(const char *v, size_t n, enum tier *out)
{
	char buf[32];
	size_t k = 0;

	while (n && isspace((unsigned char)*v)) {
		v++;
		n--;
	}
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	for (; k < n; k++)
		buf[k] = (char)tolower((unsigned char)v[k]);
	return tier_parse(buf, n, out);
}

void
infer_inspect_body(const void *body, size_t len, struct infer_info *out)
{
	json_error_t jerr;
	json_t *root, *v, *meta;

	memset(out, 0, sizeof(*out));
	/*
	 * Duplicate keys are refused: a provider reads one "model" and this
	 * code must read the same one, so ambiguity is not guessed at.
	 */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return;
	if (!json_is_object(root)) {
		json_decref(root);
		return;
	}
	out->json = true;
	v = json_object_get(root, "model");
	if (json_is_string(v) && json_string_length(v) <= INFER_MODEL_MAX &&
	    strlen(json_string_value(v)) == json_string_length(v))
		snprintf(out->model, sizeof(out->model), "%s", json_string_value(v));
	out->stream = json_is_true(json_object_get(root, "stream"));
	meta = json_object_get(root, "metadata");
	if (json_is_object(meta)) {
		v = json_object_get(meta, "sensitivity");
		if (json_is_string(v) && infer_label_parse(json_string_value(v),
		    json_string_length(v), &out->label) == 0)
			out->has_label = true;
	}
	json_decref(root);
}

static bool
model_matches(const struct infer_route *r, const char *model)
{
	for (size_t i = 0; i < r->models.n; i++)
		if (fnmatch(r->models.v[i], model, 0) == 0)
			return true;
	return false;
}

static const struct infer_provider *
provider_named(const struct inference *inf, const char *name)
{
	for (size_t i = 0; i < inf->nproviders; i++)
		if (strcmp(inf->providers[i].name, name) == 0)
			return &inf->providers[i];
	return NULL;
}

size_t
infer_candidates(const struct inference *inf, enum infer_format fmt, const char *model,
    const struct infer_provider **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < inf->nroutes; i++) {
		const struct infer_route *r = &inf->routes[i];

		if (!model_matches(r, model))
			continue;
		for (size_t j = 0; j < r->providers.n && n < max; j++) {
			const struct infer_provider *p = provider_named(inf, r->providers.v[j]);
			if (p && p->format == fmt)
				out[n++] = p;
		}
		break;
	}
	return n;
}

const struct infer_provider *
infer_choose(const struct infer_provider *const *cand, size_t n, enum tier tier)
{
	for (size_t i = 0; i < n; i++)
		if (cand[i]->max_tier >= tier)
			return cand[i];
	return NULL;
}

const struct infer_provider *
infer_provider_at(const struct inference *inf, const char *host, uint16_t port)
{
	if (!inf->present)
		return NULL;
	for (size_t i = 0; i < inf->nproviders; i++)
		if (inf->providers[i].port == port && strcmp(inf->providers[i].host, host) == 0)
			return &inf->providers[i];
	return NULL;
}

char *
infer_upstream_path(const struct infer_provider *p, const char *path, size_t len)
{
	const char *base = p->base_path ? p->base_path : "";

	if (p->format == INFER_OPENAI && len >= 3 && memcmp(path, "/v1", 3) == 0 &&
	    (len == 3 || path[3] == '/' || path[3] == '?')) {
		path += 3;
		len -= 3;
	}
	return xasprintf("%s%.*s", base, (int)len, path);
}
