/*
 * Path globs as OpenShell writes them, shared by binary rules and (later)
 * REST path rules: '*' and '?' and '[...]' match within one '/'-separated
 * segment; a segment that is exactly '**' matches zero or more whole
 * segments.  Matching is iterative with bounded backtracking, so a hostile
 * path cannot make it exponential.
 *
 * Details a rule writer (and a caller) may need:
 *   - '*' matches any run of bytes, empty included, within a segment; a
 *     leading '.' is not special ("*" matches ".bashrc").
 *   - '?' matches exactly one byte other than '/'.
 *   - '[abc]', '[a-z]', '[!a-z]' or '[^a-z]', and the POSIX classes
 *     '[[:alpha:]]' '[[:digit:]]' '[[:alnum:]]' '[[:upper:]]' '[[:lower:]]'
 *     '[[:space:]]' '[[:xdigit:]]' '[[:punct:]]'; a ']' right after the
 *     opening '[' (or '[!') is a literal.  Bytes are compared as unsigned
 *     values, without locale.  A '[' without its ']' in the same segment is
 *     a literal '['.  A bracket never matches '/'.
 *   - '\' makes the next byte literal ("\*" matches a '*'); a '\' at the
 *     end of a segment is a literal backslash.
 *   - '**' is special only as a whole segment, where it matches zero or
 *     more segments: "/usr/" followed by "**" matches "/usr", "/usr/" and
 *     everything below; "**" alone matches every path; the segments "a",
 *     "**", "b" match "/a/b" and "/a/x/y/b".  Inside a segment ("a**b") it
 *     is just two '*'.
 *   - Empty segments are ordinary segments: "/usr/bin" does not match
 *     "/usr//bin" (callers pass canonical paths).
 *
 * Cost: O(len(pattern) * len(path)) byte comparisons in the worst case;
 * no recursion and no allocation.
 */
#ifndef WARDEN_GLOB_H
#define WARDEN_GLOB_H

#include <stdbool.h>

/* Does the whole of path match pattern?  NULL for either never matches. */
bool glob_match_path(const char *pattern, const char *path);

#endif
