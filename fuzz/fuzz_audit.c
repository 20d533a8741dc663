/*
 * libFuzzer target for the audit verifier: any bytes, verified without a
 * key and against the key the seed corpus was signed with, must give a
 * report that is consistent with itself and with the input -- and the
 * same report when read from a FILE in chunks as from one buffer.  Never
 * a crash, a leak or a hang.
 *
 * A mutated record almost never keeps a matching hash, and the verifier
 * looks at nothing else in a record whose hash does not match.  So each
 * input is verified twice: as it is, and with every line's prev and hash
 * recomputed the way a forger would, which lets mutations reach the JSON
 * scan, the sequence checks and the checkpoint parser.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/audit/audit_verify.h"
#include "../src/lib/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The public key of fuzz/corpus/audit (its seeds were written with it). */
#define SEED_KEY "05b13a8c93a65fcd47d26645200c58516058997b84a17f26fd1f0212a21e3b08"

static void
check_report(const struct audit_report *r, const uint8_t *data, size_t size)
{
	uint64_t lines = 0;
	bool torn_end = size > 0 && data[size - 1] != '\n';

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	lines += torn_end;
	if (r->verified > r->records || r->records > lines || r->checkpoints > r->verified ||
	    r->last_signed_seq > r->verified)
		abort();
	if (memchr(r->why, '\0', sizeof(r->why)) == NULL || memchr(r->key, '\0', sizeof(r->key)) == NULL)
		abort();
	if (r->key[0] && strspn(r->key, "0123456789abcdef") != 64)
		abort();
	if (!r->key[0] && r->checkpoints)
		abort();
	switch (r->verdict) {
	case AUDIT_OK:
		if (r->bad_line || r->bad_seq || r->verified != r->records || torn_end)
			abort();
		/* A warning exactly when records follow the last signature. */
		if ((r->why[0] != '\0') != (r->verified > r->last_signed_seq))
			abort();
		break;
	case AUDIT_TORN:
		if (!torn_end || r->bad_line != lines || r->verified != r->records ||
		    r->bad_line != r->records + 1 || !r->why[0])
			abort();
		break;
	case AUDIT_BAD:
		/* Everything before the first bad line verified, and nothing after. */
		if (r->bad_line < 1 || r->bad_line > lines || r->verified != r->bad_line - 1 ||
		    !r->why[0])
			abort();
		break;
	default:
		abort();
	}
}

/*
 * A copy of the input in which each line shaped like a record
 * (...,"prev":"<64>","hash":"<64>"}) is chained to the line before it:
 * prev is that line's hash (zeros for the first), hash is recomputed.
 */
static uint8_t *
rechain(const uint8_t *data, size_t size)
{
	uint8_t *out = malloc(size ? size : 1);
	char prev[SHA256_HEX_LEN + 1] = "0000000000000000000000000000000000000000000000000000000000000000";
	size_t i = 0;

	if (!out)
		abort();
	memcpy(out, data, size);
	while (i < size) {
		uint8_t *line = out + i, *nl = memchr(line, '\n', size - i);
		size_t len = nl ? (size_t)(nl - line) : size - i;

		if (len >= 75 + 74 && memcmp(line + len - 75, ",\"hash\":\"", 9) == 0 &&
		    memcmp(line + len - 2, "\"}", 2) == 0 &&
		    memcmp(line + len - 149, ",\"prev\":\"", 9) == 0) {
			char h[SHA256_HEX_LEN + 1];
			memcpy(line + len - 140, prev, 64);
			/* The writer's hash: the line up to ,"hash":" and a '}'. */
			line[len - 75] = '}';
			sha256_hex(line, len - 74, h);
			line[len - 75] = ',';
			memcpy(line + len - 66, h, 64);
			memcpy(prev, h, sizeof(prev));
		}
		i += len + 1;
	}
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { NULL, SEED_KEY };
	struct audit_report r, r2;
	struct werr err = { 0 };
	uint8_t *chained = rechain(data, size);

	for (size_t k = 0; k < 4; k++) {
		const uint8_t *in = k < 2 ? data : chained;

		if (audit_verify_buffer((const char *)in, size, keys[k % 2], &r, &err) != 0)
			abort();
		check_report(&r, in, size);
		if (keys[k % 2] && r.checkpoints && strcmp(r.key, SEED_KEY) != 0)
			abort();
		/* The same bytes through stdio (fmemopen refuses a size of 0). */
		if (size > 0) {
			FILE *f = fmemopen((void *)in, size, "r");
			if (!f)
				abort();
			if (audit_verify(f, keys[k % 2], &r2, &err) != 0)
				abort();
			fclose(f);
			if (memcmp(&r, &r2, sizeof(r)) != 0)
				abort();
		}
	}
	/* A key that is not 64 hex digits is refused, whatever the input. */
	if (audit_verify_buffer((const char *)data, size, "not-a-key", &r, &err) != -1)
		abort();
	free(chained);
	return 0;
}
