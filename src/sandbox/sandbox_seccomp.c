/*
 * Loading the seccomp filter: the BPF programs were generated from
 * seccomp_rules.c by libseccomp at build time (see tools/gen_seccomp.c) and
 * are installed here with seccomp(2), immediately before exec.  The caller
 * has set no_new_privs, which unprivileged filter installation requires.
 */
#include "sb_internal.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp_bpf.h"

int
seccomp_apply(int *listener, struct werr *err)
{
	struct sock_fprog notify = {
		.len = (unsigned short)ARRAY_SIZE(warden_seccomp_bpf),
		.filter = (struct sock_filter *)warden_seccomp_bpf,
	};
	struct sock_fprog plain = {
		.len = (unsigned short)ARRAY_SIZE(warden_seccomp_bpf_plain),
		.filter = (struct sock_filter *)warden_seccomp_bpf_plain,
	};
	long r;

	if (listener) {
		*listener = -1;
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_NEW_LISTENER, &notify);
		if (r >= 0) {
			*listener = (int)r;
			return 0;
		}
		/* A kernel without user notification: the plain filter, and no exec records. */
		if (errno != EINVAL)
			return werr_sys(err, "seccomp: load filter");
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &plain) < 0)
		return werr_sys(err, "seccomp: load filter");
	return 0;
}
