/*
 * Redaction for the privacy router: replace the spans a classifier marked
 * with placeholders before a request leaves, and put the originals back
 * into the response the agent reads -- as it streams, including when a
 * placeholder is split across SSE events or read() boundaries.
 *
 * redact_apply (redact.c) works on the raw request body; the restorer
 * (restore.c) works on the decoded response body.  They share only the
 * map.  Neither keeps a pointer into the caller's buffers.
 *
 * What the restorer inserts for a placeholder depends on where it stands:
 *
 *   - in a JSON string of an SSE event (the event is parsed and written
 *     again): the original as text -- the decoded value of the raw bytes
 *     when they are valid JSON string content, else the raw bytes
 *     themselves -- and the JSON writer escapes it;
 *   - in a string that itself holds JSON text (tool-call arguments:
 *     "partial_json", "arguments", function_call_arguments deltas): the
 *     original as JSON string content, so the nested JSON stays valid;
 *   - in a non-SSE body (replaced byte by byte, never parsed): the
 *     original as JSON string content, escaped once more when the
 *     placeholder stands in the value of an "arguments" or "partial_json"
 *     member.
 *
 * A placeholder that the agent itself wrote into its request (the literal
 * text "[EMAIL_1]") is indistinguishable from one the model produced and is
 * restored too; the agent only ever sees its own data.
 */
#ifndef WARDEN_REDACT_H
#define WARDEN_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "../classify/guard_proto.h"
#include "../lib/util.h"

enum redact_format { REDACT_ANTHROPIC, REDACT_OPENAI };

/* The largest SSE event the restorer parses; larger ones pass through as they are. */
#define REDACT_EVENT_MAX (4u << 20)
/* Streams (content blocks, choices, tool calls, output items) holding text back at once. */
#define REDACT_MAX_KEYS 256

/*
 * placeholder -> original.  original holds the raw request-body bytes of
 * the (widened) span -- for a span inside a JSON string that is the
 * string's escaped content, without quotes -- NUL-terminated for
 * convenience, with its length (the bytes may contain NUL).  Placeholders
 * are unique, NUL-terminated, at most GUARD_PLACEHOLDER_MAX bytes, made
 * of [A-Za-z0-9_:.\-\[\]<>] (never a quote or a backslash).
 */
struct redact_map {
	struct redact_entry {
		char *placeholder;
		char *original;
		size_t original_len;
	} *v;
	size_t n;
};

/*
 * Build the redacted body: spans (sorted by start, non-overlapping,
 * start < end <= len) replaced by their placeholders, appended to out.  A
 * span that would cut a JSON escape sequence (\n, \\, \uXXXX, a \uXXXX
 * surrogate pair) or a UTF-8 sequence in two is widened to whole units.
 *
 * Equal originals share one placeholder (the first one given for them);
 * different originals never do: when a placeholder is already taken by
 * another original, a numeric suffix is added before its closing bracket
 * ("[EMAIL_1]" -> "[EMAIL_1_2]"), shortening the stem when needed to stay
 * within GUARD_PLACEHOLDER_MAX.  The map gets one entry per placeholder
 * used, in order of first use (what it held before is freed: initialise it
 * to {0}).
 *
 * Fails (-1, why; out and map unchanged) on spans out of order, out of
 * range, empty, overlapping (also after widening), on a placeholder with
 * characters outside the allowed set, or when out overflows.
 */
int redact_apply(const void *body, size_t len, const struct guard_redaction *r, size_t n,
    struct sbuf *out, struct redact_map *map, char *why, size_t whylen);
void redact_map_free(struct redact_map *m);

struct restorer;

/*
 * A response restorer for one response body (decoded: no chunked framing,
 * no content coding).  sse: the body is text/event-stream; otherwise it is
 * restored byte by byte (application/json or anything else).  The map is
 * copied (the restorer does not borrow it); entries with an empty
 * placeholder or one longer than GUARD_PLACEHOLDER_MAX are ignored.
 *
 * SSE streams are parsed into events (\n or \r\n line ends, split anywhere
 * by read() boundaries).  An event whose data is JSON has its text deltas
 * restored with a carry per stream (Anthropic content block; OpenAI Chat
 * choice and tool call; OpenAI Responses output item and content part):
 * the end of a delta that could be the start of a placeholder is held back
 * and put in front of the next delta of the same stream, or emitted as a
 * copy of the last delta event just before the event that ends the stream
 * (content_block_stop, a finish_reason, a .done event, [DONE]).  Every
 * other string of an event gets its complete placeholders replaced --
 * except Anthropic "thinking" text (in streams and plain bodies alike):
 * it is signed, and the agent sends it back on its next turn, where a
 * changed text would fail the signature check.  An
 * event with nothing to restore is passed on byte for byte; one that
 * changes is written again (compact JSON, member order kept, one data
 * line).  Data that is not a JSON object passes through.
 */
struct restorer *restorer_new(const struct redact_map *m, enum redact_format f, bool sse);
/*
 * Feed body bytes; restored bytes ready to go to the client are appended
 * to out.  Returns 0, or -1 when out overflowed (the response must then be
 * abandoned: out holds a truncated, unusable tail).
 */
int restorer_feed(struct restorer *r, const void *p, size_t n, struct sbuf *out);
/*
 * End of body: flush what was held back (carries as synthetic delta
 * events, then any unterminated last event as it is).  Same return as
 * restorer_feed.  Feeding after finish is not allowed.
 */
int restorer_finish(struct restorer *r, struct sbuf *out);
/*
 * True once anything passed through without restoration because a limit
 * was hit: an event larger than REDACT_EVENT_MAX, more than
 * REDACT_MAX_KEYS streams holding text back at once.  The response is
 * still well-formed; some placeholders may reach the agent unrestored.
 */
bool restorer_overflowed(const struct restorer *r);
void restorer_free(struct restorer *r);

#endif
