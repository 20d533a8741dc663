/*
 * Optional libraries, loaded on first use rather than linked: a library
 * that most runs never need (libpsl for wildcard hosts, libidn2 for
 * non-ASCII names, libhs for custom patterns) then
 * costs nothing at start-up.  Callers keep their function pointers in a
 * struct of their own and call dl_load once (under pthread_once).
 */
#ifndef WARDEN_DL_H
#define WARDEN_DL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * dlopen(soname) and resolve names[i] into syms[i] for each of the n
 * names.  All or nothing: true when every symbol resolved; otherwise every
 * slot is NULL and the caller treats the library as absent.  The library
 * stays loaded for the life of the process.
 */
bool dl_load(const char *soname, const char *const *names, void **syms, size_t n);

#endif
