/*
 * The checks behind the built-in detectors (detect.c): checksums and
 * range rules that a regular expression cannot express.  A pattern finds
 * something shaped like a card number; only a validator can say that it
 * is one (Luhn), that an IBAN's check digits agree (ISO 7064 mod 97-10),
 * that a GitHub token carries its CRC32, that an SSN is not in a range the
 * Social Security Administration never issues.
 *
 * Every function here is pure: bytes in, a verdict out, no allocation, no
 * state.  Inputs are borrowed and given with their length (never assumed
 * NUL-terminated).
 */
#ifndef WARDEN_CLASSIFY_VALIDATE_H
#define WARDEN_CLASSIFY_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The CRC-32 of zlib and PNG (reflected, polynomial 0xEDB88320). */
uint32_t val_crc32(const void *p, size_t n);

/* Luhn (ISO/IEC 7812-1) over n ASCII digits. */
bool val_luhn(const char *digits, size_t n);
/*
 * A payment card number: n (13..19) ASCII digits whose issuer prefix and
 * length belong to a known scheme (Visa, Mastercard, American Express,
 * Discover, Diners Club, JCB, UnionPay, Maestro, Mir), and whose Luhn
 * check digit is right.
 */
bool val_card(const char *digits, size_t n);

/* The IBAN length registered for a country code ("DE" -> 22), or 0 if none. */
unsigned val_iban_length(const char *cc);
/* ISO 7064 mod 97-10 over a compact IBAN (upper-case letters and digits). */
bool val_iban_mod97(const char *iban, size_t n);

/*
 * GitHub's token checksum: tok is a 40-byte "ghX_" token whose last 6
 * characters are the CRC32 of the 30 before them in base62 (digits,
 * upper case, lower case), left-padded with '0'.
 */
bool val_github_checksum(const char *tok, size_t n);

/*
 * A US Social Security number that could have been issued: area 001-899
 * except 666, group 01-99, serial 0001-9999; the numbers printed on
 * sample cards and in advertising (078-05-1120, 219-09-9999, 123-45-6789)
 * are refused too.
 */
bool val_us_ssn(unsigned area, unsigned group, unsigned serial);

/* A UK National Insurance number, compact: 2 letters, 6 digits, A-D. */
bool val_uk_nino(const char *p, size_t n);

/*
 * An ICD-10 category: a letter and two digits inside the range of the
 * chapter the letter opens (C00-C97, D00-D89, E00-E90, H00-H95, K00-K95,
 * P00-P96, T00-T98, U00-U85; the other letters use all of 00-99).
 */
bool val_icd10(char letter, unsigned two_digits);

/*
 * The length of the E.164 country code at the start of digits (1, 2 or
 * 3), or 0 when no assigned code starts that way.
 */
unsigned val_phone_cc(const char *digits, size_t n);

/*
 * A JWT header segment: base64url that decodes to a JSON object naming
 * "alg".  Segments longer than 1 KiB are refused (no real header is).
 */
bool val_jwt_header(const char *seg, size_t n);

#endif
