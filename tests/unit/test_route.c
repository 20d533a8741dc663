/*
 * The privacy router's pure decisions (src/router/route.c): which API a
 * path names, what a body says about itself, which providers a model's
 * route offers in which order, and which of them a tier admits.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/router/route.h"
#include "check.h"

static const char policy_yaml[] =
    "version: 1\n"
    "inference:\n"
    "  providers:\n"
    "    cheap: {format: anthropic, base_url: \"https://api.cheap.test:8443\", max_tier: internal}\n"
    "    zdr:   {format: anthropic, base_url: \"https://api.zdr.test\", max_tier: confidential}\n"
    "    cloud: {format: openai, base_url: \"https://api.cloud.test/v1\", max_tier: internal}\n"
    "    local: {format: openai, base_url: \"http://127.0.0.1:11434/v1\", max_tier: restricted}\n"
    "  routes:\n"
    "    - {models: [\"claude-*\"], providers: [cheap, zdr, local]}\n"
    "    - {models: [\"*\"], providers: [cloud, local]}\n";

static void
test_api(void)
{
	enum infer_format f;

	cur_test = "api";
	CHECK(infer_api_of("/v1/messages", 12, &f) == INFER_API_MESSAGES && f == INFER_ANTHROPIC,
	    "/v1/messages is Anthropic Messages");
	CHECK(infer_api_of("/v1/messages?beta=true", 22, &f) == INFER_API_MESSAGES,
	    "a query does not change the API");
	CHECK(infer_api_of("/v1/chat/completions", 20, &f) == INFER_API_CHAT && f == INFER_OPENAI,
	    "chat completions is OpenAI");
	CHECK(infer_api_of("/v1/responses/", 14, &f) == INFER_API_RESPONSES, "trailing slash");
	CHECK(infer_api_of("/v1/models", 10, &f) == INFER_API_NONE, "/v1/models is not routed");
	CHECK(infer_api_of("/v1/messagesX", 13, &f) == INFER_API_NONE, "no prefix match");
}

static void
test_body(void)
{
	struct infer_info in;
	static const char b1[] = "{\"model\":\"claude-3\",\"stream\":true,"
	    "\"metadata\":{\"sensitivity\":\"Confidential\"}}";
	static const char dup[] = "{\"model\":\"a\",\"model\":\"b\"}";

	cur_test = "body";
	infer_inspect_body(b1, sizeof(b1) - 1, &in);
	CHECK(in.json && strcmp(in.model, "claude-3") == 0 && in.stream, "model and stream");
	CHECK(in.has_label && in.label == TIER_CONFIDENTIAL, "metadata.sensitivity is a label");
	infer_inspect_body(dup, sizeof(dup) - 1, &in);
	CHECK(!in.json && in.model[0] == '\0', "duplicate keys: nothing is believed");
	infer_inspect_body("not json", 8, &in);
	CHECK(!in.json && !in.has_label, "not JSON says nothing");
	infer_inspect_body("{\"metadata\":{\"sensitivity\":\"secret\"}}", 37, &in);
	CHECK(!in.has_label, "an unknown label is ignored");
	{
		static const char nested[] = " {\"messages\":[{\"role\":\"user\",\"content\":"
		    "[{\"type\":\"text\",\"text\":\"a \\\"model\\\": x } ]\"}]}],"
		    "\"max_tokens\":-1.5e+3,\"x\":null,\"y\":false,"
		    "\"m\\u006fdel\":\"cl\\u0061ude-\\/4\"} ";
		infer_inspect_body(nested, sizeof(nested) - 1, &in);
		CHECK(in.json && strcmp(in.model, "claude-/4") == 0,
		    "values skipped whole (strings with braces, escapes, numbers); keys and values "
		    "unescaped (got '%s')", in.model);
	}
	infer_inspect_body("{\"model\":\"a\"} x", 17, &in);
	CHECK(!in.json, "trailing bytes: not believed");
	infer_inspect_body("{\"model\":\"a\",}", 15, &in);
	CHECK(!in.json, "trailing comma: not believed");
	infer_inspect_body("{\"stream\":true,\"stream\":false}", 32, &in);
	CHECK(!in.json && !in.stream, "duplicate stream: nothing is believed");
	{
		char deep[2100];
		size_t n = 0;
		n += (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
		for (int i = 0; i < 1000; i++)
			deep[n++] = '[';
		for (int i = 0; i < 1000; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		infer_inspect_body(deep, n, &in);
		CHECK(!in.json, "nesting deeper than the scanner's limit: not believed");
	}
}

/*
 * Long strings are skipped eight bytes at a time: a quote, backslash or
 * control character must be seen at every offset, and a string cut short
 * at every length must still be refused.
 */
static void
test_body_long_strings(void)
{
	struct infer_info in;
	char body[256], text[128];
	bool all = true;

	cur_test = "body_long_strings";
	for (size_t k = 0; k < 40 && all; k++) {
		int n;

		memset(text, 'a', k);
		text[k] = '\0';
		/* An escaped quote and brace after k plain bytes, then the model. */
		n = snprintf(body, sizeof(body), "{\"messages\":[{\"content\":\"%s\\\"}\\\\%s\"}],"
		    "\"model\":\"m%zu\"}", text, text, k);
		infer_inspect_body(body, (size_t)n, &in);
		all = CHECK(in.json && in.model[0] == 'm' &&
		    (size_t)strtoul(in.model + 1, NULL, 10) == k,
		    "escapes after %zu plain bytes: the model after them is read (got '%s')", k,
		    in.model);
		/* A raw control character after k plain bytes: not JSON. */
		n = snprintf(body, sizeof(body), "{\"content\":\"%s\t%s\",\"model\":\"x\"}", text,
		    text);
		infer_inspect_body(body, (size_t)n, &in);
		all &= CHECK(!in.json && in.model[0] == '\0',
		    "a tab inside a string after %zu plain bytes is refused", k);
		/* The string never ends: cut at every length. */
		n = snprintf(body, sizeof(body), "{\"model\":\"x\",\"content\":\"%s", text);
		infer_inspect_body(body, (size_t)n, &in);
		all &= CHECK(!in.json, "a string cut after %zu bytes is refused", k);
	}
}

static void
test_label(void)
{
	enum tier t;

	cur_test = "label";
	CHECK(infer_label_parse(" public ", 8, &t) == 0 && t == TIER_PUBLIC, "spaces trimmed");
	CHECK(infer_label_parse("RESTRICTED", 10, &t) == 0 && t == TIER_RESTRICTED, "case");
	CHECK(infer_label_parse("", 0, &t) < 0, "empty");
	CHECK(infer_label_parse("top-secret", 10, &t) < 0, "unknown");
}

static void
test_routes(void)
{
	struct policy p = { 0 };
	struct policy_diags d = { 0 };
	const struct infer_provider *c[8], *ch;
	size_t n;
	char *path;

	cur_test = "routes";
	if (!CHECK(policy_load_buffer("r.yaml", policy_yaml, strlen(policy_yaml), &p, &d) == 0,
	    "policy loads")) {
		policy_diags_print(&d, stdout);
		policy_diags_free(&d);
		return;
	}
	n = infer_candidates(&p.inference, INFER_ANTHROPIC, "claude-sonnet-4", c, 8);
	CHECK(n == 2 && strcmp(c[0]->name, "cheap") == 0 && strcmp(c[1]->name, "zdr") == 0,
	    "claude route: anthropic providers in order, openai 'local' skipped (got %zu)", n);
	CHECK((ch = infer_choose(c, n, TIER_PUBLIC)) && strcmp(ch->name, "cheap") == 0,
	    "public -> the preferred provider");
	CHECK((ch = infer_choose(c, n, TIER_CONFIDENTIAL)) && strcmp(ch->name, "zdr") == 0,
	    "confidential -> the zero-retention provider");
	CHECK(infer_choose(c, n, TIER_RESTRICTED) == NULL, "restricted -> nobody");
	n = infer_candidates(&p.inference, INFER_OPENAI, "gpt-4o", c, 8);
	CHECK(n == 2 && strcmp(c[0]->name, "cloud") == 0, "catch-all route for openai");
	CHECK((ch = infer_choose(c, n, TIER_RESTRICTED)) && strcmp(ch->name, "local") == 0,
	    "restricted -> local");
	n = infer_candidates(&p.inference, INFER_ANTHROPIC, "gpt-4o", c, 8);
	CHECK(n == 0, "the first matching route decides: no anthropic provider for gpt-4o");
	n = infer_candidates(&p.inference, INFER_OPENAI, "org/model:tag", c, 8);
	CHECK(n == 2, "'*' matches names with slashes");
	CHECK((ch = infer_provider_at(&p.inference, "api.cheap.test", 8443)) &&
	    strcmp(ch->name, "cheap") == 0, "provider by host and port");
	CHECK(infer_provider_at(&p.inference, "api.cheap.test", 443) == NULL, "port matters");
	ch = infer_provider_at(&p.inference, "api.cloud.test", 443);
	path = ch ? infer_upstream_path(ch, "/v1/chat/completions?x=1", 24) : NULL;
	CHECK(path && strcmp(path, "/v1/chat/completions?x=1") == 0,
	    "openai: the request's /v1 is the base URL's (got %s)", path ? path : "NULL");
	free(path);
	ch = infer_provider_at(&p.inference, "api.zdr.test", 443);
	path = ch ? infer_upstream_path(ch, "/v1/messages", 12) : NULL;
	CHECK(path && strcmp(path, "/v1/messages") == 0, "anthropic: base URL without /v1");
	free(path);
	policy_free(&p);
	policy_diags_free(&d);
}

int
main(void)
{
	test_api();
	test_body();
	test_body_long_strings();
	test_label();
	test_routes();
	printf("1..%d\n", n_pass + n_fail);
	return n_fail ? 1 : 0;
}
