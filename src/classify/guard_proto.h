/*
 * The guard protocol, version 1: how the proxy asks a classifier what an
 * outbound request contains (docs/guard-protocol.md is the specification;
 * this is its codec, shared by the proxy's client and the classifiers'
 * server loop).
 *
 * Transport: a connected unix stream socket.  Every message is one frame:
 *
 *   u32 total length N (big-endian; the bytes after this field)
 *   u32 header length H (big-endian; H <= N, H <= GUARD_MAX_HEADER)
 *   H bytes: a JSON object (UTF-8), the header
 *   N - 4 - H bytes: the body (raw bytes; binary-safe; may be empty)
 *
 * The codec never trusts a length before checking it against a limit, and
 * decoding fails unless a message is consumed exactly (no trailing bytes
 * in the header, every required member present with the right type).
 *
 * Ownership: encoders append to a caller-owned sbuf; decoders fill
 * caller-owned structs whose pointers either borrow from the frame
 * (documented per field) or are owned and released by the _free function.
 */
#ifndef WARDEN_GUARD_PROTO_H
#define WARDEN_GUARD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/tier.h"
#include "../lib/util.h"

#define GUARD_PROTO_NAME "warden-guard"
#define GUARD_PROTO_VERSION 1
#define GUARD_MAX_HEADER (64u * 1024)
#define GUARD_MAX_FRAME (80u << 20)	/* header + the largest body a proxy may send */
#define GUARD_MAX_FINDINGS 4096
#define GUARD_MAX_REDACTIONS 4096
#define GUARD_PLACEHOLDER_MAX 64
/* Every integer in a header stays exact in an IEEE double (any JSON library reads it). */
#define GUARD_MAX_ID ((1ull << 53) - 1)
/* The proxy cuts destination.path to this many bytes and every other string to 1024. */
#define GUARD_MAX_PATH 8192
#define GUARD_MAX_STRING 1024

/* A frame seen in a buffer: both pointers borrow from it. */
struct guard_frame {
	const char *header;
	size_t header_len;
	const unsigned char *body;
	size_t body_len;
};

/*
 * Find one frame at the start of buf.  Returns the bytes it spans (> 0),
 * 0 when more bytes are needed, or -1 when the stream is malformed (a
 * length over max_frame or GUARD_MAX_HEADER, H > N - 4); *why says which.
 */
ssize_t guard_frame_parse(const void *buf, size_t len, size_t max_frame,
    struct guard_frame *f, const char **why);
/* Append one frame (header text must be a JSON object). */
void guard_frame_encode(struct sbuf *out, const char *header, size_t header_len,
    const void *body, size_t body_len);

/* ---- handshake ---- */

/* Proxy -> classifier: {"type":"hello","protocol":"warden-guard","versions":[1]} */
void guard_hello_encode(struct sbuf *out);
/*
 * Classifier side: accept a hello that offers GUARD_PROTO_VERSION.
 * Returns 0, or -1 with why (the classifier then answers with an error
 * hello and closes).
 */
int guard_hello_decode(const struct guard_frame *f, char *why, size_t whylen);

/* Classifier -> proxy: {"type":"hello","version":1,"name":...,"classifier_version":...} */
struct guard_hello_reply {
	int version;
	char name[64];
	char classifier_version[32];
	char error[200];	/* non-empty: the classifier refused (then version is 0) */
};
void guard_hello_reply_encode(const struct guard_hello_reply *h, struct sbuf *out);
int guard_hello_reply_decode(const struct guard_frame *f, struct guard_hello_reply *h,
    char *why, size_t whylen);

/* ---- requests ---- */

struct guard_request {
	uint64_t id;			/* unique per connection; replies echo it */
	unsigned deadline_ms;		/* the proxy gives up (and denies) after this */
	const char *format;		/* "anthropic" | "openai" | "unknown" */
	const char *provider;		/* destination provider name, or "" */
	const char *host;		/* destination host */
	const char *path;		/* destination path */
	const char *model;		/* or "" */
	const char *sandbox;
	const char *binary;		/* the requesting executable, or "" */
	pid_t pid;
	const void *body;		/* the HTTP request body; decoded: borrows from the frame */
	size_t body_len;
	void *storage;			/* decoded: the block the strings live in; NULL when encoding */
};
void guard_request_encode(const struct guard_request *r, struct sbuf *out);
/* Classifier side.  String fields borrow from storage owned by *r; free with guard_request_free. */
int guard_request_decode(const struct guard_frame *f, struct guard_request *r,
    char *why, size_t whylen);
void guard_request_free(struct guard_request *r);

/* ---- replies ---- */

enum guard_decision { GUARD_ALLOW, GUARD_DENY, GUARD_ERROR };

/* A finding names what was seen and where -- never the value. */
struct guard_finding {
	char type[48];		/* e.g. "payment_card", "health.icd10", "secret.github" */
	char cls[24];		/* "secret", "financial", "government_id", "health", "contact", "custom" */
	enum tier tier;
	size_t start, end;	/* byte span in the request body, end exclusive */
	char validator[32];	/* e.g. "luhn", "mod97", "" */
};

struct guard_redaction {
	size_t start, end;	/* byte span in the request body, end exclusive */
	char placeholder[GUARD_PLACEHOLDER_MAX + 1];	/* [A-Za-z0-9_:.\-\[\]<>] only */
};

struct guard_reply {
	uint64_t id;
	enum guard_decision decision;
	enum tier tier;
	char reason[256];
	struct guard_finding *findings;		/* owned */
	size_t nfindings;
	struct guard_redaction *redactions;	/* owned; sorted by start, non-overlapping */
	size_t nredactions;
};
void guard_reply_encode(const struct guard_reply *r, struct sbuf *out);
/*
 * Proxy side.  body_len is the length of the request this reply answers:
 * every span must lie within it.  Redactions must be sorted and must not
 * overlap; placeholders must use the allowed characters.  Anything else
 * fails the decode (and the proxy then denies).
 */
int guard_reply_decode(const struct guard_frame *f, size_t body_len, struct guard_reply *r,
    char *why, size_t whylen);
/*
 * Just the id of a frame's header, so a malformed reply can still fail the
 * right request (and a classifier can answer a request it cannot decode).
 */
int guard_reply_peek_id(const struct guard_frame *f, uint64_t *id);
void guard_reply_free(struct guard_reply *r);

const char *guard_decision_name(enum guard_decision d);

/*
 * The decoders read a header in the compact form warden's encoders write
 * (members in their order, no whitespace, plain ASCII strings) without a
 * JSON parser, and give anything else to the full parser, which alone
 * refuses and explains.  Both accept the same headers with the same
 * values.  Off (for tests and measurements), every header takes the full
 * parser.  On by default.
 */
void guard_proto_fast_decode(bool on);
/* How many headers the fast reader has taken in this process (tests). */
size_t guard_proto_fast_hits(void);

#endif
