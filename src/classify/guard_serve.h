/*
 * The classifier side of the guard protocol: a blocking server loop any C
 * classifier can reuse (warden-guard does).  One connection, requests
 * answered in the order they arrive, each with its id.
 */
#ifndef WARDEN_GUARD_SERVE_H
#define WARDEN_GUARD_SERVE_H

#include "../lib/err.h"
#include "guard_proto.h"

/*
 * Classify one request.  Fill *reply (id is set by the loop; findings and
 * redactions must be malloc'ed, the loop frees them with
 * guard_reply_free).  Return 0, or -1 to answer decision "error" with
 * reply->reason.
 */
typedef int (*guard_classify_fn)(void *arg, const struct guard_request *req,
    struct guard_reply *reply);

struct guard_server_info {
	const char *name;		/* reported in the hello */
	const char *version;
	size_t max_body;		/* larger requests are answered "error" */
};

/*
 * Serve fd until the peer closes it (returns 0) or the stream breaks
 * (returns -1 with err).  Handles the hello first.
 */
int guard_serve(int fd, const struct guard_server_info *info, guard_classify_fn fn,
    void *arg, struct werr *err);

#endif
