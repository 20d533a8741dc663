#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void
cleanup_freep(void *p)
{
	free(*(void **)p);
}

void
cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static void
oom(void)
{
	static const char msg[] = "warden: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}

void
strv_take(struct strv *s, char *str)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(char *));
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void
strv_push(struct strv *s, const char *str)
{
	strv_take(s, xstrdup(str));
}

bool
strv_contains(const struct strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], str) == 0)
			return true;
	return false;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
strv_sort_uniq(struct strv *s)
{
	size_t i, j;

	if (s->n < 2)
		return;
	qsort(s->v, s->n, sizeof(char *), cmp_str);
	for (i = 1, j = 1; i < s->n; i++) {
		if (strcmp(s->v[i], s->v[j - 1]) == 0)
			free(s->v[i]);
		else
			s->v[j++] = s->v[i];
	}
	s->n = j;
	s->v[j] = NULL;
}

void
strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void
sbuf_init(struct sbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->cap = 256;
	b->p = xmalloc(b->cap);
	b->p[0] = '\0';
}

void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->overflow || n > b->max - b->len) {
		b->overflow = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void
sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	char small[256], *p;
	va_list ap;
	int n;

	/* Most appends are short: formatted on the stack, no allocation. */
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	if ((size_t)n < sizeof(small)) {
		sbuf_add(b, small, (size_t)n);
		return;
	}
	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	sbuf_add(b, p, (size_t)n);
	free(p);
}

void
sbuf_add_uint(struct sbuf *b, uint64_t v)
{
	char t[20];
	size_t i = sizeof(t);

	do
		t[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	sbuf_add(b, t + i, sizeof(t) - i);
}

size_t
utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (i >= n || (p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Runs of plain bytes are copied at once; quotes, backslashes and control
 * bytes are escaped; bytes that are not valid UTF-8 (an agent's argv may
 * hold anything) become U+FFFD, so every consumer reads valid JSON.
 */
void
sbuf_add_json(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *c = (const unsigned char *)(s ? s : ""), *run = c;

	sbuf_add(b, "\"", 1);
	for (;;) {
		size_t n;

		if (*c >= 0x20 && *c != '"' && *c != '\\' && *c != 0x7f && *c < 0x80) {
			c++;
			continue;
		}
		if (c > run)
			sbuf_add(b, (const char *)run, (size_t)(c - run));
		if (!*c)
			break;
		if (*c == '"' || *c == '\\') {
			char esc[2] = { '\\', (char)*c };
			sbuf_add(b, esc, 2);
			c++;
		} else if (*c < 0x20 || *c == 0x7f) {
			char esc[6] = { '\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15] };
			sbuf_add(b, esc, 6);
			c++;
		} else if ((n = utf8_seq_len(c, 4)) > 0) {
			sbuf_add(b, (const char *)c, n);
			c += n;
		} else {
			sbuf_add(b, "\\ufffd", 6);
			c++;
		}
		run = c;
	}
	sbuf_add(b, "\"", 1);
}

void
sbuf_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

const char *
path_problem(const char *path)
{
	const char *c, *end;

	if (path[0] != '/')
		return "path must be absolute (start with '/')";
	if (strlen(path) >= PATH_MAX)
		return "path is too long";
	if (strcmp(path, "/") == 0)
		return NULL;
	for (c = path + 1;; c = end + 1) {
		end = strchrnul(c, '/');
		if (end == c)
			return *end ? "path contains an empty component ('//')"
				    : "path must not end with '/'";
		if (end - c == 2 && c[0] == '.' && c[1] == '.')
			return "path must not contain '..'";
		if (end - c == 1 && c[0] == '.')
			return "path must not contain '.' components";
		if (!*end)
			return NULL;
	}
}

void
path_squash(char *path)
{
	char *r = path, *w = path;

	for (; *r; r++) {
		if (*r == '/' && w > path && w[-1] == '/')
			continue;
		*w++ = *r;
	}
	if (w > path + 1 && w[-1] == '/')
		w--;
	*w = '\0';
}

bool
path_has_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strcmp(prefix, "/") == 0)
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int
mkdir_p(const char *path, mode_t mode, struct werr *err)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return werr_set(err, "%s: path too long", path);
	/* Usually at most the last component is missing: one call, not one per component. */
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return werr_sys(err, "mkdir %s", buf);
			if (c == '\0')
				break;
			*p = c;
		}
	}
	return 0;
}

int
read_file(const char *path, size_t max, char **out, size_t *len, struct werr *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t n = 0, cap = 4096;
	ssize_t r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return werr_sys(err, "%s", path);
	buf = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap >= max)
				return werr_set(err, "%s: file is larger than %zu bytes", path, max);
			cap = cap * 2 > max ? max : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return werr_sys(err, "read %s", path);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = steal_pointer(&buf);
	if (len)
		*len = n;
	return 0;
}

int
write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
write_file(const char *path, const char *s, struct werr *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return werr_sys(err, "open %s", path);
	if (write_all(fd, s, strlen(s)) < 0)
		return werr_sys(err, "write %s", path);
	return 0;
}

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
utc_tm(int64_t secs, struct tm *out)
{
	/* Days to a civil date: Howard Hinnant's algorithm (eras of 400 years from 0000-03-01). */
	int64_t days = secs / 86400, rem = secs % 86400;
	int64_t era, y;
	unsigned doe, yoe, doy, mp, m, d;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	memset(out, 0, sizeof(*out));
	out->tm_hour = (int)(rem / 3600);
	out->tm_min = (int)(rem / 60 % 60);
	out->tm_sec = (int)(rem % 60);
	out->tm_wday = (int)((days % 7 + 11) % 7);	/* 1970-01-01 was a Thursday */
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = (unsigned)(days - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = (int64_t)yoe + era * 400 + (m <= 2);
	out->tm_year = (int)(y - 1900);
	out->tm_mon = (int)m - 1;
	out->tm_mday = (int)d;
	/* doy counts from March 1st; January and February end the March-based year. */
	{
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		out->tm_yday = (int)(m > 2 ? doy + 59 + leap : doy - 306);
	}
}

int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}
