/*
 * warden: a governance runtime for AI agents.  This file only dispatches;
 * each subcommand lives in its own cmd_*.c.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} cmds[] = {
	{ "run", cmd_run, "run a command as a governed agent in a new sandbox" },
	{ "exec", cmd_exec, "run a command inside a running sandbox" },
	{ "ps", cmd_ps, "list running sandboxes" },
	{ "inspect", cmd_inspect, "show a sandbox's confinement as seen from outside" },
	{ "stop", cmd_stop, "stop a sandbox (TERM, then KILL)" },
	{ "policy", cmd_policy, "check, show, set or print the default policy" },
	{ "logs", cmd_logs, "show a sandbox's audit trail" },
	{ "audit", cmd_audit, "verify or export an audit trail" },
	{ "approvals", cmd_approvals, "list what waits for a human decision (-f to follow)" },
	{ "approve", cmd_approve, "approve a proposal or held request: --once, --for D, --always" },
	{ "deny", cmd_deny, "deny a proposal or held request, with a reason for the agent" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: warden COMMAND [ARGS...]\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\nRun `warden COMMAND --help` for a command's options; `man warden` for more.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("warden %s\n", WARDEN_VERSION);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "warden: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
