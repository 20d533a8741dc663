#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
vset(struct werr *e, int code, const char *fmt, va_list ap)
{
	int n;

	e->code = code;
	if (e->exit == 0)
		e->exit = WEXIT_FAILURE;
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (code != 0 && n >= 0 && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s",
		    strerror(code));
}

int
werr_set(struct werr *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
werr_sys(struct werr *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vset(e, saved, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

int
werr_errno(struct werr *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

void
werr_prefix(struct werr *e, const char *fmt, ...)
{
	char ctx[WERR_MSG_MAX], old[WERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", ctx, old);
}

void
werr_clear(struct werr *e)
{
	e->code = 0;
	e->exit = 0;
	e->msg[0] = '\0';
}
