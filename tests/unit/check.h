/*
 * The unit tests' harness: TAP lines ("ok N - test: what" / "not ok N - ...
 * # at file:line"), counted for main() to report.  Each test program
 * includes it once.  cur_test names the group the checks belong to.
 */
#ifndef WARDEN_TEST_CHECK_H
#define WARDEN_TEST_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int n_pass, n_fail;
static const char *cur_test = "";

static bool __attribute__((format(printf, 4, 5), unused))
check(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		n_pass++;
	else
		n_fail++;
	printf("%s %d - %s: ", cond ? "ok" : "not ok", n_pass + n_fail, cur_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!cond)
		printf("   # at %s:%d", file, line);
	printf("\n");
	/* Tests fork: nothing buffered may be printed twice. */
	fflush(stdout);
	return cond;
}

#define CHECK(cond, ...) check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_INT(a, b) ({ long long _a = (long long)(a), _b = (long long)(b); \
	check(_a == _b, __FILE__, __LINE__, "%s == %s (got %lld, want %lld)", #a, #b, _a, _b); })
#define CHECK_STR(a, b) ({ const char *_a = (a), *_b = (b); \
	check(_a && _b && strcmp(_a, _b) == 0, __FILE__, __LINE__, "%s == \"%s\" (got \"%s\")", \
	    #a, _b ? _b : "(null)", _a ? _a : "(null)"); })

#endif
