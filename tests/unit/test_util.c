/*
 * Unit tests for src/lib/util.c helpers that have a reference to compare
 * with: utc_tm against glibc's gmtime_r over every day of 1900-2200 at
 * several times of day, around the epoch, and before it.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/lib/util.h"

#include "check.h"

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

static bool
same(int64_t t, char *why, size_t n)
{
	struct tm a, b;
	time_t tt = (time_t)t;

	utc_tm(t, &a);
	if (!gmtime_r(&tt, &b))
		abort();
	if (a.tm_year == b.tm_year && a.tm_mon == b.tm_mon && a.tm_mday == b.tm_mday &&
	    a.tm_hour == b.tm_hour && a.tm_min == b.tm_min && a.tm_sec == b.tm_sec &&
	    a.tm_wday == b.tm_wday && a.tm_yday == b.tm_yday)
		return true;
	snprintf(why, n, "t=%lld: utc_tm %04d-%02d-%02d %02d:%02d:%02d wday %d yday %d, gmtime_r "
	    "%04d-%02d-%02d %02d:%02d:%02d wday %d yday %d", (long long)t, a.tm_year + 1900,
	    a.tm_mon + 1, a.tm_mday, a.tm_hour, a.tm_min, a.tm_sec, a.tm_wday, a.tm_yday,
	    b.tm_year + 1900, b.tm_mon + 1, b.tm_mday, b.tm_hour, b.tm_min, b.tm_sec,
	    b.tm_wday, b.tm_yday);
	return false;
}

static void
test_utc_tm(void)
{
	static const int64_t secs_of_day[] = { 0, 1, 3599, 43200, 86399 };
	char why[512] = "";
	long bad = 0, n = 0;

	begin("utc_tm agrees with gmtime_r");
	/* 1900-01-01 .. 2200-01-01, every day. */
	for (int64_t day = -25567; day < 84006; day++)
		for (size_t i = 0; i < sizeof(secs_of_day) / sizeof(secs_of_day[0]); i++, n++)
			if (!same(day * 86400 + secs_of_day[i], why, sizeof(why)))
				bad++;
	CHECK(bad == 0, "%ld of %ld instants differ%s%s", bad, n, bad ? ": " : "", why);
	for (int64_t t = -200000; t <= 200000; t += 997)
		if (!same(t, why, sizeof(why)))
			bad++;
	CHECK(bad == 0, "around the epoch%s%s", bad ? ": " : "", why);
	{
		struct tm tm;
		utc_tm(951782400, &tm);	/* 2000-02-29T00:00:00Z */
		CHECK(tm.tm_year == 100 && tm.tm_mon == 1 && tm.tm_mday == 29 && tm.tm_yday == 59,
		    "2000-02-29 (a leap day of a century leap year)");
	}
}

int
main(void)
{
	test_utc_tm();
	printf("1..%d\n%d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail != 0;
}
