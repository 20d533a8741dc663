#include "glob.h"
#include <fnmatch.h>
bool glob_match_path(const char *pattern, const char *path) { return fnmatch(pattern, path, FNM_PATHNAME) == 0; }
