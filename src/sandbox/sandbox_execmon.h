/* The exec monitor: process.exec records from seccomp notifications (see sandbox_execmon.c). */
#ifndef WARDEN_SANDBOX_EXECMON_H
#define WARDEN_SANDBOX_EXECMON_H

#include <stdint.h>

#include "../lib/err.h"
#include "../lib/evloop.h"

struct execmon;

/*
 * Answer and record the notifications arriving on fd (taken).  policy_hash
 * and revision are borrowed and read at each record, so a reload shows.
 */
struct execmon *execmon_start(struct evloop *l, int fd, const char *policy_hash,
    uint64_t *revision, struct werr *err);
/* Confirm execs of long-running programs (call ~10/s). */
void execmon_tick(struct execmon *m);
void execmon_stop(struct execmon *m);

#endif
