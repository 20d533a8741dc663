/* warden stop [-t SECONDS] NAME: TERM, then KILL after the grace period. */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../sandbox/sandbox_state.h"

/* Wait for a pidfd to become readable (process exited); true if it did. */
static bool
wait_exit(int pidfd, int ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

int
cmd_stop(int argc, char **argv)
{
	struct sb_state st;
	struct werr err = { 0 };
	char dir[PATH_MAX];
	uint64_t grace = 10;
	const char *name = NULL;
	int init_fd, sup_fd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("usage: warden stop [-t SECONDS] NAME\n\nSend SIGTERM to the agent; after "
			    "the grace period (default 10 s) kill\neverything in the sandbox.");
			return 0;
		}
		if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			if (parse_u64(argv[++i], &grace) < 0 || grace > 3600) {
				fprintf(stderr, "warden stop: -t expects seconds (0..3600)\n");
				return 2;
			}
		} else if (!name) {
			name = argv[i];
		} else {
			name = NULL;
			break;
		}
	}
	if (!name) {
		fputs("usage: warden stop [-t SECONDS] NAME\n", stderr);
		return 2;
	}
	if (state_load(name, &st, dir, sizeof(dir), &err) < 0) {
		fprintf(stderr, "warden: %s\n", err.msg);
		return 1;
	}
	/* pidfds pin the processes we checked, so pid reuse can't misdirect a signal. */
	init_fd = (int)syscall(SYS_pidfd_open, st.init_pid, 0);
	sup_fd = (int)syscall(SYS_pidfd_open, st.supervisor_pid, 0);
	if (init_fd < 0 || proc_start_time(st.init_pid) != st.init_start) {
		fprintf(stderr, "warden: sandbox '%s' already stopped\n", name);
		return 0;
	}
	/* init forwards TERM to the agent. */
	syscall(SYS_pidfd_send_signal, init_fd, SIGTERM, NULL, 0);
	if (!wait_exit(init_fd, (int)grace * 1000)) {
		fprintf(stderr, "warden: %s did not stop within %llus; killing it\n", name,
		    (unsigned long long)grace);
		syscall(SYS_pidfd_send_signal, init_fd, SIGKILL, NULL, 0);
		wait_exit(init_fd, 5000);
	}
	/* The supervisor cleans up after init; wait for it so nothing is left behind. */
	if (sup_fd >= 0 && !wait_exit(sup_fd, 5000))
		fprintf(stderr, "warden: supervisor %d still running\n", st.supervisor_pid);
	printf("%s\n", name);
	return 0;
}
