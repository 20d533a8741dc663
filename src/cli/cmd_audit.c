/*
 * warden audit verify FILE [--key KEY] | export --format ocsf FILE
 *
 * verify reads a trail with nothing but the file and, optionally, the
 * public key the auditor expects; it trusts neither the machine that wrote
 * the trail nor whoever kept it.  Exit status: 0 intact (warnings, such as
 * records not yet covered by a signed checkpoint, are printed but do not
 * fail), 1 when a record is bad, the last line is torn, or --key was given
 * and no checkpoint is signed with it, 2 for usage errors and unreadable
 * files.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../audit/audit_ocsf.h"
#include "../audit/audit_verify.h"

static const char usage[] =
    "usage: warden audit verify FILE [--key KEY]\n"
    "                             check every record's hash, the chain and the signed\n"
    "                             checkpoints; exit 0 when intact, 1 naming the first\n"
    "                             bad record (or a torn last line)\n"
    "       warden audit export --format ocsf FILE\n"
    "                             print the trail as OCSF 1.x events, one JSON per line\n"
    "\n"
    "KEY: the Ed25519 public key the checkpoints must be signed with, as 64 hex\n"
    "digits, or a file holding them or a PEM key (public, or warden's audit.key).\n"
    "FILE may be - for standard input.\n";

static bool
all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* 64 hex digits of an Ed25519 key from PEM text (public key, or private key to derive it). */
static int
pem_pubkey(const char *pem, size_t len, char out[65])
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
	unsigned char raw[32];
	size_t rl = sizeof(raw);
	int r = -1;

	if (b && !k) {
		BIO_free(b);
		b = BIO_new_mem_buf(pem, (int)len);
		k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	}
	if (k && EVP_PKEY_get_id(k) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(k, raw, &rl) > 0 && rl == 32) {
		for (size_t i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", raw[i]);
		r = 0;
	}
	EVP_PKEY_free(k);
	BIO_free(b);
	return r;
}

/* --key: 64 hex digits, or a file with them, or a PEM Ed25519 key. */
static int
resolve_key(const char *arg, char out[65])
{
	struct werr err = { 0 };
	char *data = NULL;
	size_t len = 0, a, b;

	if (strlen(arg) == 64 && all_hex(arg, 64)) {
		for (size_t i = 0; i < 64; i++)
			out[i] = (char)tolower((unsigned char)arg[i]);
		out[64] = '\0';
		return 0;
	}
	if (read_file(arg, 64 * 1024, &data, &len, &err) < 0) {
		fprintf(stderr, "warden audit verify: --key %s: not 64 hex digits, and %s\n", arg,
		    err.msg);
		return -1;
	}
	for (a = 0; a < len && isspace((unsigned char)data[a]); a++)
		;
	for (b = len; b > a && isspace((unsigned char)data[b - 1]); b--)
		;
	if (b - a == 64 && all_hex(data + a, 64)) {
		for (size_t i = 0; i < 64; i++)
			out[i] = (char)tolower((unsigned char)data[a + i]);
		out[64] = '\0';
	} else if (pem_pubkey(data, len, out) < 0) {
		fprintf(stderr, "warden audit verify: --key %s: the file holds neither 64 hex digits "
		    "nor a PEM Ed25519 key\n", arg);
		free(data);
		return -1;
	}
	free(data);
	return 0;
}

static const char *
plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static int
verify(const char *path, const char *key_arg)
{
	struct audit_report r;
	struct werr err = { 0 };
	char key[65];
	FILE *f;
	int rc;

	if (key_arg && resolve_key(key_arg, key) < 0)
		return 2;
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!f) {
		fprintf(stderr, "warden audit verify: %s: %s\n", path, strerror(errno));
		return 2;
	}
	rc = audit_verify(f, key_arg ? key : NULL, &r, &err);
	if (f != stdin)
		fclose(f);
	if (rc < 0) {
		fprintf(stderr, "warden audit verify: %s: %s\n", path, err.msg);
		return 2;
	}
	switch (r.verdict) {
	case AUDIT_BAD:
		printf("%s: BAD: %s\n", path, r.why);
		printf("%s: the %llu %s before line %llu verify", path, (unsigned long long)r.verified,
		    plural(r.verified, "record", "records"), (unsigned long long)r.bad_line);
		if (r.checkpoints)
			printf(" (%llu signed %s, key %s)", (unsigned long long)r.checkpoints,
			    plural(r.checkpoints, "checkpoint", "checkpoints"), r.key);
		printf("\n");
		return 1;
	case AUDIT_TORN:
		printf("%s: torn final line %llu (it has no newline: a crash while writing, or a "
		    "truncation); the %llu %s before it verify", path,
		    (unsigned long long)r.bad_line, (unsigned long long)r.verified,
		    plural(r.verified, "record", "records"));
		if (r.checkpoints)
			printf(", %llu signed %s, key %s", (unsigned long long)r.checkpoints,
			    plural(r.checkpoints, "checkpoint", "checkpoints"), r.key);
		printf("\n");
		if (r.verified > r.last_signed_seq)
			printf("%s: warning: %llu %s after the last signed checkpoint%s\n", path,
			    (unsigned long long)(r.verified - r.last_signed_seq),
			    plural(r.verified - r.last_signed_seq, "record is", "records are"),
			    r.checkpoints ? "" : " (there is none)");
		return 1;
	case AUDIT_OK:
		break;
	}
	if (r.records == 0) {
		printf("%s: empty: no records\n", path);
	} else {
		printf("%s: intact, %llu %s", path, (unsigned long long)r.records,
		    plural(r.records, "record", "records"));
		if (r.checkpoints)
			printf(", %llu signed %s, key %s\n", (unsigned long long)r.checkpoints,
			    plural(r.checkpoints, "checkpoint", "checkpoints"), r.key);
		else
			printf(", no signed checkpoint\n");
	}
	if (r.why[0])
		printf("%s: warning: %s\n", path, r.why);
	/* Asked whether the key signed this trail: without a checkpoint nothing says so. */
	if (key_arg && !r.checkpoints) {
		printf("%s: no checkpoint is signed with key %s: nothing in the trail is signed\n",
		    path, key);
		return 1;
	}
	return 0;
}

static int
export(const char *format, const char *path)
{
	struct werr err = { 0 };
	FILE *f;
	long n;

	if (strcmp(format, "ocsf") != 0) {
		fprintf(stderr, "warden audit export: unknown format '%s' (supported: ocsf)\n", format);
		return 2;
	}
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!f) {
		fprintf(stderr, "warden audit export: %s: %s\n", path, strerror(errno));
		return 2;
	}
	n = audit_export_ocsf(f, stdout, &err);
	if (f != stdin)
		fclose(f);
	if (fflush(stdout) != 0 && n >= 0) {
		werr_sys(&err, "write");
		n = -1;
	}
	if (n < 0) {
		fprintf(stderr, "warden audit export: %s: %s\n", path, err.msg);
		return 1;
	}
	return 0;
}

int
cmd_audit(int argc, char **argv)
{
	const char *file = NULL, *key = NULL, *format = NULL;
	bool is_verify;

	if (argc < 2 || wants_help(argc, argv)) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "export") != 0) {
		fprintf(stderr, "warden audit: unknown subcommand '%s'\n\n%s", argv[1], usage);
		return 2;
	}
	is_verify = strcmp(argv[1], "verify") == 0;
	for (int i = 2; i < argc; i++) {
		const char *opt = is_verify ? "--key" : "--format", **val = is_verify ? &key : &format;
		size_t ol = strlen(opt);

		if (strcmp(argv[i], opt) == 0 && i + 1 < argc) {
			*val = argv[++i];
		} else if (strncmp(argv[i], opt, ol) == 0 && argv[i][ol] == '=') {
			*val = argv[i] + ol + 1;
		} else if (strcmp(argv[i], "--") == 0 && i + 2 == argc && !file) {
			file = argv[++i];
		} else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && !file) {
			file = argv[i];
		} else {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!file || (!is_verify && !format)) {
		fputs(usage, stderr);
		return 2;
	}
	return is_verify ? verify(file, key) : export(format, file);
}
