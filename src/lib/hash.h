/* SHA-256 helpers (nettle, linked statically: no library initialisation). */
#ifndef WARDEN_HASH_H
#define WARDEN_HASH_H

#include <stddef.h>

#include "err.h"

#define SHA256_HEX_LEN 64

/* Writes 64 lowercase hex digits and a NUL into hex[65]. */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);

/*
 * Hash everything that read(fd) yields from the current offset to the end
 * of the file, in fixed-size chunks (the file is never held in memory).
 * fd is borrowed; its offset is left at the end.  Returns 0 and writes hex,
 * or -1 with err set on a read error.
 */
int sha256_file_fd(int fd, char hex[SHA256_HEX_LEN + 1], struct werr *err);

#endif
