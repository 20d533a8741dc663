/* warden policy check FILE | show FILE | default */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: warden policy check FILE   validate; exit 0 when valid, 1 when not\n"
    "       warden policy show FILE    print the normalized policy and its SHA-256 hash\n"
    "       warden policy default      print the embedded default policy\n";

int
cmd_policy(int argc, char **argv)
{
	struct policy p;
	char hash[65];

	if (argc < 2 || wants_help(argc, argv)) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "default") == 0 && argc == 2) {
		fputs(policy_default_yaml(), stdout);
		return 0;
	}
	if ((strcmp(argv[1], "check") == 0 || strcmp(argv[1], "show") == 0) && argc == 3) {
		if (load_policy(argv[2], &p) < 0)
			return 1;
		policy_hash(&p, hash);
		if (strcmp(argv[1], "check") == 0) {
			printf("%s: valid (sha256:%s)\n", argv[2], hash);
		} else {
			char *c = policy_canonical(&p);
			printf("# sha256:%s\n%s", hash, c);
			free(c);
		}
		policy_free(&p);
		return 0;
	}
	fputs(usage, stderr);
	return 2;
}
