/* warden exec [--env K=V]... NAME -- CMD [ARG...] */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sandbox/sandbox.h"
#include "../sandbox/sandbox_state.h"

int
cmd_exec(int argc, char **argv)
{
	struct sb_state st;
	struct werr err = { 0 };
	struct policy p;
	struct policy_diags d;
	struct strv cli_env = { 0 }, env = { 0 };
	struct agent_ident id = { 0 };
	char dir[PATH_MAX], path[PATH_MAX + 16];
	const char *name = NULL;
	int i;

	if (wants_help(argc, argv)) {
		puts("usage: warden exec [-e K=V]... NAME [--] CMD [ARG...]\n\nRun CMD inside a "
		    "running sandbox, under the same identity, Landlock rules\nand seccomp filter "
		    "as its agent.");
		return 0;
	}
	for (i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-e") || !strcmp(argv[i], "--env")) && i + 1 < argc) {
			if (!strchr(argv[i + 1], '=')) {
				fprintf(stderr, "warden exec: --env expects NAME=VALUE\n");
				return WEXIT_FAILURE;
			}
			strv_push(&cli_env, argv[++i]);
		} else if (!name) {
			name = argv[i];
		} else {
			break;
		}
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (!name || i >= argc) {
		fputs("usage: warden exec [-e K=V]... NAME [--] CMD [ARG...]\n", stderr);
		return WEXIT_FAILURE;
	}
	if (state_load(name, &st, dir, sizeof(dir), &err) < 0) {
		fprintf(stderr, "warden: %s\n", err.msg);
		return WEXIT_FAILURE;
	}
	/* The static sections (all exec needs) are those the sandbox started with. */
	snprintf(path, sizeof(path), "%s/public/policy.yaml", dir);
	if (policy_load_file(path, &p, &d) < 0) {
		policy_diags_print(&d, stderr);
		policy_diags_free(&d);
		return WEXIT_FAILURE;
	}
	policy_diags_free(&d);
	id.uid = st.uid;
	id.gid = st.gid;
	snprintf(id.home, sizeof(id.home), "%s", st.home);
	snprintf(id.user, sizeof(id.user), "%s", getenv("USER") && getuid() ? getenv("USER") : "sandbox");
	build_env(&p, &id, &cli_env, &env);
	/* The same egress environment as the agent: CA bundle variables, placeholders. */
	snprintf(path, sizeof(path), "%s/ca-bundle.pem", dir);
	env_add_egress(&env, access(path, F_OK) == 0, NULL);
	snprintf(path, sizeof(path), "%s/placeholders", dir);
	env_add_file(&env, path);
	sandbox_join_exec(st.init_pid, &p, st.workdir, st.home[0] ? st.home : NULL, st.uid, st.gid,
	    argv + i, env.v, &err);
	fprintf(stderr, "warden: %s\n", err.msg);
	return WEXIT_FAILURE;
}
