/* Builds warden's seccomp filter with libseccomp (build time only). */
#ifndef WARDEN_SECCOMP_RULES_H
#define WARDEN_SECCOMP_RULES_H

#include <seccomp.h>

#include "../lib/err.h"
#include "../lib/util.h"

/*
 * Returns an owned filter context (release with seccomp_release).  With
 * notify_exec, execve, execveat and exit_group also raise a user
 * notification, which the supervisor's exec monitor answers (it records
 * and always lets the call continue).
 */
int seccomp_rules_build(scmp_filter_ctx *out, bool notify_exec, struct werr *err);

#endif
