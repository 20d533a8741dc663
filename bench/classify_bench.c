/*
 * classify_bench: how fast the built-in classifier reads request bodies
 * (bench/classify.sh runs it and writes docs/benchmarks.md).
 *
 *   classify_bench throughput KIND [MiB] [SECONDS]
 *       KIND: prose (English text, nothing to find), json (Anthropic
 *       Messages requests: escaped multi-line text, tool calls with
 *       nested JSON arguments, a tool schema), pii (text dense with
 *       emails, phone numbers, cards, IBANs, SSNs, health terms).
 *       Classifies one body of MiB (default 1) again and again for
 *       SECONDS (default 2) after a warm-up; prints one line of
 *       key=value: kind bytes calls seconds mbps (wall clock) cpu_mbps
 *       (this thread's CPU time) findings tier, and the walker alone
 *       (walk_mbps).
 *   classify_bench latency [BYTES] [CALLS]
 *       Classifies 16 different provider-JSON prompts of BYTES (default
 *       4096) round robin, CALLS times (default 20000) after a warm-up,
 *       timing each call; prints p50 p90 p99 p999 max in microseconds.
 *   classify_bench write KIND FILE [MiB]
 *       Writes a body of KIND to FILE (the input of the grep baseline).
 *
 * Single-threaded: the numbers are per core.  Bodies are generated from
 * a fixed seed, so every run reads the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/classify/classify.h"
#include "../src/classify/jsonwalk.h"
#include "../src/lib/util.h"
#include "benchutil.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be",
	"by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but",
	"have", "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her",
	"has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no",
	"project", "release", "review", "team", "design", "update", "customer", "summary",
	"meeting", "schedule", "budget", "quarter", "report", "feature", "request", "service",
	"deploy", "branch", "module", "function", "value", "result", "document", "draft",
	"question", "answer", "context", "example", "problem", "solution", "approach", "system",
	"network", "storage", "latency", "throughput", "interface", "contract", "support",
	"morning", "evening", "weekend", "travel", "kitchen", "garden", "library", "history",
	"analysis", "strategy", "market", "product", "pricing", "partner", "vendor", "invoice",
	"careful", "simple", "quick", "large", "small", "different", "important", "several",
	"because", "although", "however", "therefore", "meanwhile", "instead", "perhaps",
};

/* A sentence of prose: no digits, no names, nothing any detector reads. */
static void
sentence(struct sbuf *b)
{
	unsigned n = 6 + rnd(14);

	for (unsigned i = 0; i < n; i++) {
		const char *w = words[rnd(ARRAY_SIZE(words))];

		if (i == 0) {
			char first = (char)(w[0] - 'a' + 'A');

			sbuf_add(b, &first, 1);
			sbuf_adds(b, w + 1);
		} else {
			sbuf_adds(b, w);
		}
		sbuf_adds(b, i + 1 == n ? (rnd(4) ? ". " : "? ") : rnd(9) ? " " : ", ");
	}
}

static void
gen_prose(struct sbuf *b, size_t n)
{
	while (b->len < n) {
		sentence(b);
		if (rnd(6) == 0)
			sbuf_adds(b, "\n\n");
	}
}

static const char *const pii_items[] = {
	"alice.smith@example.org", "+1 (415) 555-2671", "4111 1111 1111 1111",
	"DE89 3704 0044 0532 0130 00", "123-45-6788", "bob@mail.example.co.uk",
	"020 7946 0958", "5555555555554444", "type 2 diabetes", "metformin",
	"resting heart rate 52", "E11.9",
};

static void
gen_pii(struct sbuf *b, size_t n)
{
	while (b->len < n) {
		sentence(b);
		sbuf_adds(b, pii_items[rnd(ARRAY_SIZE(pii_items))]);
		sbuf_adds(b, ". ");
	}
}

/* A paragraph of prose as JSON string content: newlines and quotes escaped. */
static void
json_text(struct sbuf *b, size_t n)
{
	size_t end = b->len + n;

	while (b->len < end) {
		sentence(b);
		if (rnd(4) == 0)
			sbuf_adds(b, "\\n\\n");
		if (rnd(10) == 0)
			sbuf_adds(b, "\\\"quoted\\\" ");
	}
}

/* An Anthropic Messages request of about n bytes. */
static void
gen_json(struct sbuf *b, size_t n)
{
	size_t turn = 0;

	sbuf_adds(b, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"stream\":true,"
	    "\"system\":\"");
	json_text(b, 300);
	sbuf_adds(b, "\",\"tools\":[{\"name\":\"search_docs\",\"description\":\"Search the "
	    "documentation\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"query\":"
	    "{\"type\":\"string\"},\"limit\":{\"type\":\"integer\"}},\"required\":[\"query\"]}}],"
	    "\"messages\":[");
	while (b->len + 200 < n) {
		if (turn++)
			sbuf_adds(b, ",");
		if (turn % 3 == 0) {
			sbuf_adds(b, "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
			    "\"toolu_01\",\"name\":\"search_docs\",\"input\":{\"query\":\"");
			json_text(b, 40);
			sbuf_adds(b, "\",\"limit\":5}}]},{\"role\":\"user\",\"content\":[{\"type\":"
			    "\"tool_result\",\"tool_use_id\":\"toolu_01\",\"content\":\"");
			json_text(b, n / 8 < 600 ? n / 8 : 600);
			sbuf_adds(b, "\"}]}");
		} else {
			sbuf_addf(b, "{\"role\":\"%s\",\"content\":\"", turn % 2 ? "user" : "assistant");
			json_text(b, n / 6 < 900 ? n / 6 : 900);
			sbuf_adds(b, "\"}");
		}
	}
	sbuf_adds(b, "]}");
}

static void
gen(const char *kind, struct sbuf *b, size_t n)
{
	if (strcmp(kind, "prose") == 0)
		gen_prose(b, n);
	else if (strcmp(kind, "pii") == 0)
		gen_pii(b, n);
	else
		gen_json(b, n);
}

static struct classify_rules *
rules_new(void)
{
	struct classify_config cfg = { NULL, 0, TIER_INTERNAL };
	struct werr err;
	struct classify_rules *r = classify_rules_new(&cfg, &err);

	if (!r) {
		fprintf(stderr, "classify_bench: %s\n", err.msg);
		exit(1);
	}
	return r;
}

/* CPU time of this thread: what the work cost, whatever else the machine was doing. */
static double
cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
throughput(const char *kind, size_t mib, double secs)
{
	struct classify_rules *r = rules_new();
	struct classify_result res;
	struct werr err;
	struct sbuf b;
	struct jwalk *w = jwalk_new();
	struct jwalk_view v;
	size_t calls = 0, wcalls = 0, nfind;
	enum tier tier;
	double t0, t1, c0, c1;

	sbuf_init(&b, (mib + 1) << 20);
	gen(kind, &b, mib << 20);
	if (classify_body(r, b.p, b.len, &res, &err) < 0) {
		fprintf(stderr, "classify_bench: %s\n", err.msg);
		return 1;
	}
	nfind = res.nfindings;
	tier = res.tier;
	classify_result_free(&res);
	t0 = now_s();
	c0 = cpu_seconds();
	do {
		classify_body(r, b.p, b.len, &res, &err);
		classify_result_free(&res);
		calls++;
		t1 = now_s();
	} while (t1 - t0 < secs);
	c1 = cpu_seconds();
	{
		double w0 = now_s(), w1;

		do {
			jwalk_run(w, b.p, b.len, &v);
			wcalls++;
			w1 = now_s();
		} while (w1 - w0 < secs / 4);
		printf("kind=%s bytes=%zu calls=%zu seconds=%.3f mbps=%.1f cpu_mbps=%.1f findings=%zu "
		    "tier=%s walk_mbps=%.1f json=%d\n", kind, b.len, calls, t1 - t0,
		    (double)b.len * (double)calls / (t1 - t0) / 1e6,
		    (double)b.len * (double)calls / (c1 - c0) / 1e6, nfind, tier_name(tier),
		    (double)b.len * (double)wcalls / (w1 - w0) / 1e6, v.json);
	}
	jwalk_free(w);
	sbuf_free(&b);
	classify_rules_free(r);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
latency(size_t bytes, size_t calls)
{
	struct classify_rules *r = rules_new();
	struct classify_result res;
	struct werr err;
	struct sbuf b[16];
	uint64_t *ns = xcalloc(calls, sizeof(*ns));
	size_t total = 0;

	for (int i = 0; i < 16; i++) {
		sbuf_init(&b[i], 4 * bytes + 4096);
		gen_json(&b[i], bytes);
		total += b[i].len;
	}
	for (size_t i = 0; i < 2000; i++) {
		classify_body(r, b[i % 16].p, b[i % 16].len, &res, &err);
		classify_result_free(&res);
	}
	for (size_t i = 0; i < calls; i++) {
		uint64_t t0 = now_ns();

		classify_body(r, b[i % 16].p, b[i % 16].len, &res, &err);
		ns[i] = now_ns() - t0;
		classify_result_free(&res);
	}
	qsort(ns, calls, sizeof(*ns), cmp_u64);
	printf("bytes=%zu calls=%zu p50_us=%.2f p90_us=%.2f p99_us=%.2f p999_us=%.2f max_us=%.2f\n",
	    total / 16, calls, ns[calls / 2] / 1e3, ns[calls * 9 / 10] / 1e3, ns[calls * 99 / 100] / 1e3,
	    ns[calls * 999 / 1000] / 1e3, ns[calls - 1] / 1e3);
	for (int i = 0; i < 16; i++)
		sbuf_free(&b[i]);
	free(ns);
	classify_rules_free(r);
	return 0;
}

static int
write_body(const char *kind, const char *path, size_t mib)
{
	struct sbuf b;
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		return 1;
	}
	sbuf_init(&b, (mib + 1) << 20);
	gen(kind, &b, mib << 20);
	fwrite(b.p, 1, b.len, f);
	sbuf_free(&b);
	return fclose(f) == 0 ? 0 : 1;
}

static size_t
arg_size(int argc, char **argv, int i, size_t def)
{
	uint64_t v;

	return i < argc && parse_u64(argv[i], &v) == 0 && v > 0 ? (size_t)v : def;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "throughput") == 0)
		return throughput(argv[2], arg_size(argc, argv, 3, 1),
		    (double)arg_size(argc, argv, 4, 2));
	if (argc >= 2 && strcmp(argv[1], "latency") == 0)
		return latency(arg_size(argc, argv, 2, 4096), arg_size(argc, argv, 3, 20000));
	if (argc >= 4 && strcmp(argv[1], "write") == 0)
		return write_body(argv[2], argv[3], arg_size(argc, argv, 4, 16));
	fprintf(stderr, "usage: classify_bench throughput prose|json|pii [MiB] [SECONDS]\n"
	    "       classify_bench latency [BYTES] [CALLS]\n"
	    "       classify_bench write prose|json|pii FILE [MiB]\n");
	return 2;
}
