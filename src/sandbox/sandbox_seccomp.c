/*
 * Loading the seccomp filter: the BPF program was generated from
 * seccomp_rules.c by libseccomp at build time (see tools/gen_seccomp.c) and
 * is installed here with seccomp(2), immediately before exec.  The caller
 * has set no_new_privs, which unprivileged filter installation requires.
 */
#include "sb_internal.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp_bpf.h"

int
seccomp_apply(struct werr *err)
{
	struct sock_fprog prog = {
		.len = (unsigned short)ARRAY_SIZE(warden_seccomp_bpf),
		.filter = (struct sock_filter *)warden_seccomp_bpf,
	};

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return werr_sys(err, "seccomp: load filter");
	return 0;
}
