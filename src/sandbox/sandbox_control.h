/*
 * The supervisor's control socket (see sandbox_control.c).  Requests and
 * replies are text: the first line names the command or the outcome, the
 * rest is the body.
 *
 *   request "policy-set FILE\n<yaml>"  reply "ok\nrevision=N\nhash=H\n" or "error\n<diagnostics>"
 *   request "policy-show\n"            reply "ok\nrevision=N\nhash=H\n\n<canonical yaml>"
 */
#ifndef WARDEN_SANDBOX_CONTROL_H
#define WARDEN_SANDBOX_CONTROL_H

#include <stddef.h>

#include "../lib/err.h"
#include "../lib/evloop.h"
#include "../lib/util.h"

#define CONTROL_SOCKET_NAME "control.sock"
#define CONTROL_MAX_MSG ((4u << 20) + 65536)

struct control;

/* Handle one request (req is NUL-terminated at len); append the reply to out. */
typedef void (*control_fn)(const char *req, size_t len, struct sbuf *out, void *arg);

struct control *control_listen(struct evloop *l, const char *dir, control_fn fn, void *arg,
    struct werr *err);
void control_sweep(struct control *c);
void control_close(struct control *c);

/* Client: one request, one reply (owned by the caller). */
int control_call(const char *dir, const char *req, size_t len, char **reply, size_t *rlen,
    struct werr *err);

#endif
