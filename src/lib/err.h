/*
 * The one error contract of warden.
 *
 * A function that can fail takes a caller-owned `struct werr *` as its last
 * argument, fills it on failure and returns a negative value.  The buffer is
 * fixed-size so the error path never allocates (it also runs in the pre-exec
 * child, where allocation is best avoided).  Callers add context on the way
 * up with werr_prefix(), so the user finally reads one precise sentence such
 * as "mount /home/u/proj: bind: No such file or directory".
 *
 * `exit` carries the process exit code the failure maps to: 125 for a warden
 * failure, 126 when the command cannot be executed, 127 when it is not found.
 */
#ifndef WARDEN_ERR_H
#define WARDEN_ERR_H

#include <stddef.h>

#define WERR_MSG_MAX 1024

enum {
	WEXIT_FAILURE = 125,	/* warden itself failed */
	WEXIT_CANNOT_EXEC = 126,
	WEXIT_NOT_FOUND = 127,
};

struct werr {
	int code;		/* errno value, or 0 when not an OS error */
	int exit;		/* exit code this error maps to */
	char msg[WERR_MSG_MAX];
};

/* Set a message; returns -1 so callers can `return werr_set(...)`. */
int werr_set(struct werr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like werr_set, appending ": strerror(errno)" and saving errno first. */
int werr_sys(struct werr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like werr_sys with an explicit errno value. */
int werr_errno(struct werr *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepend "context: " to the message already stored. */
void werr_prefix(struct werr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void werr_clear(struct werr *e);

#endif
