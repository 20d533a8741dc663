/* warden inspect [--json] NAME: the outside auditor's view. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "../sandbox/sandbox_inspect.h"

int
cmd_inspect(int argc, char **argv)
{
	struct sb_state st;
	struct werr err = { 0 };
	char dir[PATH_MAX];
	bool json = false;
	const char *name = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			puts("usage: warden inspect [--json] NAME\n\nShow, from outside, every process "
			    "of the sandbox: namespaces, seccomp mode, NoNewPrivs,\ncapabilities, uid "
			    "map, and the network interfaces and Landlock ABI of the sandbox.");
			return 0;
		} else if (!name)
			name = argv[i];
		else
			name = NULL, i = argc;
	}
	if (!name) {
		fputs("usage: warden inspect [--json] NAME\n", stderr);
		return 2;
	}
	if (state_load(name, &st, dir, sizeof(dir), &err) < 0 ||
	    sandbox_inspect(&st, json, stdout, &err) < 0) {
		fprintf(stderr, "warden: %s\n", err.msg);
		return 1;
	}
	return 0;
}
