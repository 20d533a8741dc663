/* warden ps: the running sandboxes of the calling user. */
#include "cli.h"

#include <stdio.h>
#include <time.h>

#include "../sandbox/sandbox_state.h"

int
cmd_ps(int argc, char **argv)
{
	struct strv names = { 0 };
	struct werr err = { 0 };
	char dir[PATH_MAX];

	if (wants_help(argc, argv) || argc > 1) {
		fputs("usage: warden ps\n\nList running sandboxes: name, supervisor pid, uptime, "
		    "policy hash, command.\n", argc > 1 && !wants_help(argc, argv) ? stderr : stdout);
		return argc > 1 && !wants_help(argc, argv) ? 2 : 0;
	}
	if (state_list(&names, &err) < 0) {
		fprintf(stderr, "warden: %s\n", err.msg);
		return 1;
	}
	printf("%-24s %-8s %-9s %-14s %s\n", "NAME", "PID", "UPTIME", "POLICY", "COMMAND");
	for (size_t i = 0; i < names.n; i++) {
		struct sb_state st;
		struct werr e = { 0 };
		long up;
		char upbuf[32];

		if (state_load(names.v[i], &st, dir, sizeof(dir), &e) < 0)
			continue;
		up = (long)(time(NULL) - st.started);
		if (up < 60)
			snprintf(upbuf, sizeof(upbuf), "%lds", up);
		else if (up < 3600)
			snprintf(upbuf, sizeof(upbuf), "%ldm%02lds", up / 60, up % 60);
		else
			snprintf(upbuf, sizeof(upbuf), "%ldh%02ldm", up / 3600, up / 60 % 60);
		printf("%-24s %-8d %-9s %.12s   %s\n", st.name, st.supervisor_pid, upbuf,
		    st.policy_hash, st.command);
	}
	strv_free(&names);
	return 0;
}
