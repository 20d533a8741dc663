/*
 * Logging in the OpenBSD manner: log_warn() appends strerror(errno),
 * log_warnx() does not, fatal()/fatalx() exit with 125.  Messages go to
 * stderr prefixed with "warden: ".  fatal*() are for the CLI and the
 * pre-exec child only, never for the long-lived supervisor's event loop.
 */
#ifndef WARDEN_LOG_H
#define WARDEN_LOG_H

#include <stdbool.h>

extern int log_verbose;

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn, format(printf, 1, 2))) void fatal(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void fatalx(const char *fmt, ...);

#endif
