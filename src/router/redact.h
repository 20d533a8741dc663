/*
 * Redaction for the privacy router: replace the spans a classifier marked
 * with placeholders before a request leaves, and put the originals back
 * into the response the agent reads -- as it streams, including when a
 * placeholder is split across SSE events or read() boundaries.
 */
#ifndef WARDEN_REDACT_H
#define WARDEN_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "../classify/guard_proto.h"
#include "../lib/util.h"

enum redact_format { REDACT_ANTHROPIC, REDACT_OPENAI };

/* placeholder -> original, as JSON string content (escaped, no quotes). */
struct redact_map {
	struct {
		char *placeholder;
		char *original;
	} *v;
	size_t n;
};

/*
 * Build the redacted body: spans (sorted, non-overlapping, within len)
 * replaced by their placeholders.  A span that would cut a JSON escape
 * sequence or a UTF-8 sequence in two is widened to whole units.  Fails
 * (-1, why) on spans that are out of order or out of range.  Equal
 * originals share one placeholder; different originals never do (a
 * numeric suffix is added).
 */
int redact_apply(const void *body, size_t len, const struct guard_redaction *r, size_t n,
    struct sbuf *out, struct redact_map *map, char *why, size_t whylen);
void redact_map_free(struct redact_map *m);

struct restorer;

/*
 * A response restorer for one response body (decoded: no chunked framing,
 * no content coding).  sse: the body is text/event-stream.
 */
struct restorer *restorer_new(const struct redact_map *m, enum redact_format f, bool sse);
/* Feed body bytes; restored bytes ready to go to the client are appended to out. */
int restorer_feed(struct restorer *r, const void *p, size_t n, struct sbuf *out);
/* End of body: flush what was held back. */
int restorer_finish(struct restorer *r, struct sbuf *out);
void restorer_free(struct restorer *r);

#endif
