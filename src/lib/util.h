/*
 * Small helpers shared by every module: ownership-transfer cleanups,
 * allocation that aborts on exhaustion, string vectors, a bounded string
 * buffer and path checks.  This is a leaf: it includes nothing of warden's
 * but err.h.
 */
#ifndef WARDEN_UTIL_H
#define WARDEN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void cleanup_freep(void *p);
void cleanup_closep(int *fd);
#define _cleanup_free_ __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_ __attribute__((cleanup(cleanup_closep)))

/* Hand ownership of *pp to the caller and leave NULL behind. */
#define steal_pointer(pp) ({ __typeof__(*(pp)) _p = *(pp); *(pp) = NULL; _p; })
#define steal_fd(fdp) ({ int _fd = *(fdp); *(fdp) = -1; _fd; })

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A NULL-terminated, owned vector of owned strings. */
struct strv {
	char **v;
	size_t n, cap;
};
void strv_push(struct strv *s, const char *str);	/* copies str */
void strv_take(struct strv *s, char *str);		/* takes str */
bool strv_contains(const struct strv *s, const char *str);
void strv_sort_uniq(struct strv *s);
void strv_free(struct strv *s);

/*
 * Growable buffer with a hard maximum: appends past `max` set `overflow`
 * and are dropped, so untrusted input can never grow it without bound.
 */
struct sbuf {
	char *p;
	size_t len, cap, max;
	bool overflow;
};
void sbuf_init(struct sbuf *b, size_t max);
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append v in decimal (no printf: records and requests are built on hot paths). */
void sbuf_add_uint(struct sbuf *b, uint64_t v);
void sbuf_free(struct sbuf *b);
/* Append s as a JSON string literal (quotes included, control bytes escaped). */
void sbuf_add_json(struct sbuf *b, const char *s);
/*
 * Length (1-4) of the well-formed UTF-8 sequence at p, of which n bytes
 * may be read, or 0 when there is none: overlong forms, surrogates, values
 * past U+10FFFF and cut sequences are not well formed.  Continuation bytes
 * are read in order, so a NUL-terminated string may pass n = 4.
 */
size_t utf8_seq_len(const unsigned char *p, size_t n);

/*
 * Canonical absolute path check: starts with '/', no empty, "." or ".."
 * components, no trailing slash (except "/" itself).  Returns a static
 * description of the first problem, or NULL when the path is canonical.
 */
const char *path_problem(const char *path);
/* Normalise repeated and trailing slashes in place (not "." or ".."). */
void path_squash(char *path);
bool path_has_prefix(const char *path, const char *prefix);
/* mkdir -p with mode; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode, struct werr *err);

/* Read a whole file of at most max bytes; returns owned buffer (NUL-terminated). */
int read_file(const char *path, size_t max, char **out, size_t *len, struct werr *err);
int write_all(int fd, const void *buf, size_t n);
/* Write a string to a file (used for /proc files such as uid_map). */
int write_file(const char *path, const char *s, struct werr *err);

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);
/*
 * secs since the epoch as a UTC date and time (tm_year, tm_mon, tm_mday,
 * tm_hour, tm_min, tm_sec, tm_wday, tm_yday; the rest zero), as gmtime_r
 * gives them but without glibc's time zone set-up, which reads
 * /etc/localtime on first use even for UTC.
 */
void utc_tm(int64_t secs, struct tm *out);
/* Parse a non-negative decimal integer fully; -1 on any junk or overflow. */
int parse_u64(const char *s, uint64_t *out);

#endif
