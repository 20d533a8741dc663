/*
 * bench/benchutil.h — what warden's benchmark programs share: the clock,
 * argument and address checks, and the sample statistics every load
 * client reports in the same "KEY_p50=... KEY_p99=..." form the scripts
 * parse.
 *
 * Header only, on purpose: the load clients are compiled both by meson and
 * by the scripts themselves (`cc -O2 -static bench/X.c`, so that one binary
 * runs on the host and inside a sandbox), and a header found next to the
 * source needs nothing added to either build line. Everything is static
 * inline, so a program pays only for what it calls.
 *
 * A load client defines BENCH_PROG (its name, the prefix of its messages)
 * before including this file; that also brings in the helpers that exit
 * with a message (die, number, loopback_addr, samples). Without it only the
 * clock and the statistics are available, which is all an in-process
 * benchmark (classify_bench, audit_bench) needs.
 */
#ifndef WARDEN_BENCHUTIL_H
#define WARDEN_BENCHUTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ---- clock ------------------------------------------------------------ */

/* Monotonic time in microseconds: what one request's latency is read from. */
static inline double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Monotonic time in seconds: for runs timed as a whole. */
static inline double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- statistics ------------------------------------------------------- */

static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Nearest-rank percentile of sorted v[0..n): the same definition as the
 * scripts' pct(), so numbers computed on either side agree.
 */
static inline double
pct(const double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p * (double)n);
	if ((double)k < p * (double)n)
		k++;
	return v[k == 0 ? 0 : k - 1];
}

/*
 * Prints " KEY_p50=... KEY_p90=... KEY_p99=... KEY_max=... KEY_mean=..."
 * (µs, one decimal) on stdout. Sorts v in place: callers write their raw
 * samples out first.
 */
static inline void
print_dist(const char *key, double *v, size_t n)
{
	double sum = 0;

	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	printf(" %s_p50=%.1f %s_p90=%.1f %s_p99=%.1f %s_max=%.1f %s_mean=%.1f", key,
	    pct(v, n, 0.50), key, pct(v, n, 0.90), key, pct(v, n, 0.99), key,
	    n ? v[n - 1] : 0.0, key, n ? sum / (double)n : 0.0);
}

#ifdef BENCH_PROG

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* ---- exits with a message --------------------------------------------- */

static inline void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, BENCH_PROG ": %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A decimal argument in [min, max], or exit 2 naming WHAT. */
static inline unsigned long long
number(const char *s, const char *what, unsigned long long min, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, BENCH_PROG ": %s must be a number from %llu to %llu, not '%s'\n",
		    what, min, max, s);
		exit(2);
	}
	return v;
}

/*
 * "127.0.0.1:PORT" into SA, or exit 2: the benchmarks talk to the loopback
 * only, so nothing else is even parsed.
 */
static inline void
loopback_addr(const char *s, struct sockaddr_in *sa)
{
	static const char prefix[] = "127.0.0.1:";

	if (strncmp(s, prefix, sizeof(prefix) - 1) != 0) {
		fprintf(stderr, BENCH_PROG ": '%s': only 127.0.0.1:PORT is accepted\n", s);
		exit(2);
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa->sin_port = htons((uint16_t)number(s + sizeof(prefix) - 1, "port", 1, 65535));
}

/* Room for N samples (at least one, so that an empty run still has a buffer). */
static inline double *
samples(size_t n)
{
	double *v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		die("calloc");
	return v;
}

/* ---- sockets ---------------------------------------------------------- */

/* Writes all of p[0..n) to a blocking socket; false on error (errno set). */
static inline bool
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		c += (size_t)w;
		n -= (size_t)w;
	}
	return true;
}

#endif /* BENCH_PROG */

#endif /* WARDEN_BENCHUTIL_H */
