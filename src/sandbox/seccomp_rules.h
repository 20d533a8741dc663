/* Builds warden's seccomp filter with libseccomp (build time only). */
#ifndef WARDEN_SECCOMP_RULES_H
#define WARDEN_SECCOMP_RULES_H

#include <seccomp.h>

#include "../lib/err.h"
#include "../lib/util.h"

/* Returns an owned filter context (release with seccomp_release). */
int seccomp_rules_build(scmp_filter_ctx *out, struct werr *err);

#endif
