/*
 * Identity and privileges of the agent: its own uid/gid (never 0), no
 * supplementary groups, an empty capability bounding set, no ambient or
 * inheritable capabilities, no_new_privs (so setuid binaries and file
 * capabilities grant nothing), core dumps off, and death with its parent.
 */
#include "sb_internal.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/util.h"

static int
capset_all(bool on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (on) {
		if (syscall(SYS_capget, &h, d) < 0)
			return -1;
		d[0].effective = d[0].permitted;
		d[1].effective = d[1].permitted;
	}
	return (int)syscall(SYS_capset, &h, d);
}

/* Become uid/gid while keeping capabilities (setup still needs them). */
int
become_ids_keep_caps(uid_t uid, gid_t gid, bool drop_groups, struct werr *err)
{
	if (drop_groups && setgroups(0, NULL) < 0 && errno != EPERM)
		return werr_sys(err, "setgroups");
	if (prctl(PR_SET_KEEPCAPS, 1) < 0)
		return werr_sys(err, "PR_SET_KEEPCAPS");
	if (setresgid(gid, gid, gid) < 0)
		return werr_sys(err, "setresgid(%u)", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return werr_sys(err, "setresuid(%u)", (unsigned)uid);
	if (capset_all(true) < 0)
		return werr_sys(err, "capset");
	return 0;
}

int
confine_identity(uid_t uid, gid_t gid, struct werr *err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return werr_sys(err, "no_new_privs");
	/* setgroups is refused when /proc/PID/setgroups says deny (rootless). */
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		return werr_sys(err, "setgroups");
	/*
	 * Capabilities are numbered from 0 to the kernel's last without gaps,
	 * and dropping the first number past it fails with EINVAL (the only
	 * EINVAL of PR_CAPBSET_DROP): that ends the loop, so this works on
	 * every kernel without reading /proc/sys/kernel/cap_last_cap, a file
	 * read on the way to every exec.
	 */
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;
			return werr_sys(err, "drop capability %d from the bounding set", cap);
		}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return werr_sys(err, "clear ambient capabilities");
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
	    SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED) < 0)
		return werr_sys(err, "securebits");
	if (setresgid(gid, gid, gid) < 0)
		return werr_sys(err, "setresgid(%u)", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return werr_sys(err, "setresuid(%u)", (unsigned)uid);
	if (capset_all(false) < 0)
		return werr_sys(err, "capset");
	return 0;
}

int
confine_process(struct werr *err)
{
	struct rlimit core = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &core) < 0)
		return werr_sys(err, "RLIMIT_CORE");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return werr_sys(err, "PR_SET_PDEATHSIG");
	return 0;
}

