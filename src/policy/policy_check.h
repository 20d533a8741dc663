/*
 * Value validators for policy fields.  Each returns NULL when the value is
 * acceptable or a static sentence saying what is wrong with it.  Pure
 * functions: no allocation except where an out-parameter says so.
 */
#ifndef WARDEN_POLICY_CHECK_H
#define WARDEN_POLICY_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Normalises host in place (lower-case, trailing dot removed). */
const char *check_host(char *host, bool *is_ip, bool *wildcard);
/* "10.0.0.0/8", "192.168.1.4", "fd00::/8"; normalised copy in *out. */
const char *check_cidr(const char *s, char **out);
/* Binary path: absolute path or glob, no "..". */
const char *check_binary_glob(const char *s);
/* HTTP path glob: starts with '/' or is "**" / "*". */
const char *check_http_path(const char *s);
const char *check_method(const char *s);
const char *check_env_name(const char *s);
const char *check_user(const char *s);
const char *check_policy_key(const char *s);

#endif
