/*
 * Path globs as OpenShell writes them, shared by binary rules and (later)
 * REST path rules: '*' and '?' and '[...]' match within one '/'-separated
 * segment; a segment that is exactly '**' matches zero or more whole
 * segments.  Matching is iterative with bounded backtracking, so a hostile
 * path cannot make it exponential.
 */
#ifndef WARDEN_GLOB_H
#define WARDEN_GLOB_H

#include <stdbool.h>

bool glob_match_path(const char *pattern, const char *path);

#endif
