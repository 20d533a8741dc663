/*
 * bench/audit_bench.c: how fast the audit writer appends (bench/audit.sh).
 *
 *   audit_bench DIR batch|always COUNT SECONDS
 *
 * Opens a fresh trail DIR/audit.jsonl (with a fresh key, DIR/audit.key)
 * through the real writer, with its default checkpointing (a signed
 * checkpoint every 1000 records) and the given fsync mode, then appends
 * net.connect records like the ones the proxy emits -- same fields, same
 * sizes -- until COUNT records are written or SECONDS have passed, and
 * closes the trail (final checkpoint and fsync included in the time).
 * Prints one line:
 *
 *   records=N seconds=S rate=R bytes=B cpu=C
 *
 * where C is the CPU time (user + system) spent over the same interval, in
 * seconds: on a busy machine the rate moves with the load, the CPU cost
 * much less.
 * The trail is left in place: bench/audit.sh verifies and renders it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../src/audit/audit.h"
#include "../src/lib/event.h"
#include "benchutil.h"

/* CPU time (user + system) this process has used, in seconds. */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
positive(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end || v == 0)
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	char path[4096], key[4096];
	struct audit_config c = { 0 };
	struct werr err = { 0 };
	struct audit *a;
	uint64_t count, seconds, n = 0;
	double t0, t1, c0, c1;
	struct stat st;
	/* A typical allowed connection: attribution, rule, reason, addresses. */
	struct event ev = {
		.type = "net.connect", .decision = "allow", .verb = "CONNECT",
		.rule = "model-api", .reason = "allowed by policy 'model-api'",
		.binary = "/usr/bin/python3.11",
		.binary_sha256 = "58824afa640f512e07e895c0f2d1e1fe2c3fd1456acab689b6e4c1c75cef2593",
		.ppid = 2, .dst = "api.anthropic.com", .port = 443, .addr = "160.79.104.10",
		.revision = 1,
		.policy_hash = "6dac32d48983a65b6279f80b13358d41a3e389e842fdc3bc48071c3a00b5c550",
	};

	if (argc != 5 || (strcmp(argv[2], "batch") != 0 && strcmp(argv[2], "always") != 0) ||
	    positive(argv[3], &count) < 0 || positive(argv[4], &seconds) < 0) {
		fprintf(stderr, "usage: audit_bench DIR batch|always COUNT SECONDS\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/audit.jsonl", argv[1]);
	snprintf(key, sizeof(key), "%s/audit.key", argv[1]);
	unlink(path);
	c.path = path;
	c.key_path = key;
	c.sandbox = "bench";
	c.fsync = strcmp(argv[2], "always") == 0 ? AUDIT_FSYNC_ALWAYS : AUDIT_FSYNC_BATCH;
	a = audit_open(&c, &err);
	if (!a) {
		fprintf(stderr, "audit_bench: %s\n", err.msg);
		return 1;
	}
	t0 = now_s();
	c0 = cpu_s();
	while (n < count) {
		ev.pid = (pid_t)(3 + n % 4000);
		if (audit_append(a, &ev) < 0) {
			fprintf(stderr, "audit_bench: %s\n", audit_failed(a));
			return 1;
		}
		n++;
		/* The clock is read every 256 records in batch mode, every record otherwise. */
		if ((c.fsync == AUDIT_FSYNC_ALWAYS || n % 256 == 0) && now_s() - t0 >= (double)seconds)
			break;
	}
	if (audit_close(a, &err) < 0) {
		fprintf(stderr, "audit_bench: %s\n", err.msg);
		return 1;
	}
	t1 = now_s();
	c1 = cpu_s();
	if (stat(path, &st) < 0) {
		perror(path);
		return 1;
	}
	printf("records=%llu seconds=%.6f rate=%.0f bytes=%lld cpu=%.6f\n", (unsigned long long)n,
	    t1 - t0, (double)n / (t1 - t0), (long long)st.st_size, c1 - c0);
	return 0;
}
