/*
 * Unit tests for src/lib/hash.c: SHA-256 known answers (FIPS 180-2), and
 * both helpers against OpenSSL's EVP digest, an independent path through
 * the library, over lengths around the block size and the file reader's
 * 64 KiB chunk.
 *
 * Output is TAP-like: one "ok"/"not ok" line per check, then "1..N" and a
 * final "N passed, N failed" line; the exit status is non-zero on any
 * failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/lib/hash.h"

#include "check.h"

static void
begin(const char *name)
{
	cur_test = name;
	printf("# %s\n", name);
}

static void
evp_hex(const void *p, size_t n, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int l = 0;

	if (!EVP_Digest(p, n, md, &l, EVP_sha256(), NULL) || l != 32)
		abort();
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
test_known_answers(void)
{
	static const struct { const char *in; const char *want; } v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	char hex[SHA256_HEX_LEN + 1];
	char *million = malloc(1000000);

	begin("sha256_hex known answers");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sha256_hex(v[i].in, strlen(v[i].in), hex);
		CHECK_STR(hex, v[i].want);
	}
	memset(million, 'a', 1000000);
	sha256_hex(million, 1000000, hex);
	CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

static void
test_against_evp(void)
{
	static const size_t lens[] = { 1, 55, 56, 63, 64, 65, 119, 1000, 65535, 65536, 65537,
		200000 };
	char tmpl[] = "/tmp/warden-test-hash.XXXXXX";
	char a[SHA256_HEX_LEN + 1], b[SHA256_HEX_LEN + 1], c[SHA256_HEX_LEN + 1];
	unsigned char *buf = malloc(200000);
	struct werr err = { 0 };
	int fd = mkstemp(tmpl);

	begin("sha256_hex and sha256_file_fd agree with EVP");
	CHECK(fd >= 0, "temporary file");
	if (fd < 0)
		return;
	unlink(tmpl);
	for (size_t i = 0; i < 200000; i++)
		buf[i] = (unsigned char)(i * 131 + (i >> 7));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		sha256_hex(buf, lens[i], a);
		evp_hex(buf, lens[i], b);
		CHECK(strcmp(a, b) == 0, "%zu bytes in memory: %s", lens[i], a);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, lens[i], 0) != (ssize_t)lens[i] ||
		    lseek(fd, 0, SEEK_SET) < 0)
			abort();
		CHECK_INT(sha256_file_fd(fd, c, &err), 0);
		CHECK(strcmp(c, b) == 0, "%zu bytes from a file: %s", lens[i], c);
	}
	/* From the current offset, not the start. */
	lseek(fd, 1000, SEEK_SET);
	CHECK_INT(sha256_file_fd(fd, c, &err), 0);
	evp_hex(buf + 1000, 200000 - 1000, b);
	CHECK_STR(c, b);
	close(fd);
	fd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(sha256_file_fd(fd, c, &err), -1);
	CHECK(err.code == EISDIR, "a directory fails with EISDIR (%s)", err.msg);
	close(fd);
	free(buf);
}

int
main(void)
{
	test_known_answers();
	test_against_evp();
	printf("1..%d\n%d passed, %d failed\n", n_pass + n_fail, n_pass, n_fail);
	return n_fail != 0;
}
