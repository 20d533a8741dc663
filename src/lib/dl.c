/* Optional libraries, loaded on first use (see dl.h). */
#include "dl.h"

#include <dlfcn.h>

bool
dl_load(const char *soname, const char *const *names, void **syms, size_t n)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	for (i = 0; i < n; i++)
		syms[i] = h ? dlsym(h, names[i]) : NULL;
	for (i = 0; i < n; i++)
		if (!syms[i])
			break;
	if (i == n)
		return true;
	for (i = 0; i < n; i++)
		syms[i] = NULL;
	return false;
}
