/*
 * The outside auditor's view of a running sandbox, read only from /proc on
 * the host: every process in the sandbox's pid namespace with its
 * namespaces (compared against the host's), seccomp mode, NoNewPrivs,
 * capability sets and uid map, plus the interfaces of the sandbox's
 * network namespace.  Landlock leaves no trace in /proc, so the ABI shown
 * is what the supervisor recorded when it applied it.
 */
#ifndef WARDEN_SANDBOX_INSPECT_H
#define WARDEN_SANDBOX_INSPECT_H

#include <stdbool.h>
#include <stdio.h>

#include "sandbox_state.h"

int sandbox_inspect(const struct sb_state *st, bool json, FILE *out, struct werr *err);

#endif
