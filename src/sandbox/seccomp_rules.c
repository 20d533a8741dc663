/*
 * The seccomp rules, expressed with libseccomp.  They are compiled to BPF at
 * build time by tools/gen_seccomp.c (the filter does not depend on the
 * policy), so starting a sandbox costs no filter generation and the warden
 * binary does not need libseccomp at run time.
 *
 * The filter allows by default and refuses the system calls an agent has no
 * business making -- kernel attack surface (io_uring, bpf, perf,
 * userfaultfd, keyrings), other processes (ptrace, process_vm_*), the
 * sandbox's own walls (mount API, pivot_root, setns, new namespaces),
 * terminal injection (TIOCSTI, TIOCLINUX), and every socket family but unix,
 * IPv4, IPv6 and NETLINK_ROUTE, raw and packet sockets included.  Foreign
 * architectures (i386 via int 0x80, x32) kill the process outright, since
 * their syscall numbers would bypass every rule.
 *
 * clone3 answers ENOSYS rather than EPERM: its flags live in memory that
 * seccomp cannot inspect, and ENOSYS makes glibc fall back to clone(2),
 * whose flags can be checked.
 */
#include "seccomp_rules.h"

#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

#define NS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | \
	CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | 0x00000080 /* CLONE_NEWTIME */)

static const char *const denied[] = {
	"ptrace", "process_vm_readv", "process_vm_writev",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"bpf", "perf_event_open", "userfaultfd",
	"keyctl", "add_key", "request_key",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"mount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
	"open_tree", "mount_setattr", "pivot_root", "chroot", "setns",
	"open_by_handle_at", "name_to_handle_at",
	"iopl", "ioperm", "syslog", "acct", "swapon", "swapoff", "reboot",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"quotactl", "quotactl_fd", "lookup_dcookie", "vhangup", "uselib",
	"fanotify_init", "pidfd_getfd",
};


static int
add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned int n,
    const struct scmp_arg_cmp *cmp, struct werr *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return 0;	/* not a syscall on this architecture */
	rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	if (rc < 0)
		return werr_errno(err, -rc, "seccomp: rule for %s", name);
	return 0;
}

static int
build(scmp_filter_ctx ctx, struct werr *err)
{
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	const uint32_t eafn = SCMP_ACT_ERRNO(EAFNOSUPPORT);
	struct scmp_arg_cmp c[2];

	for (size_t i = 0; i < ARRAY_SIZE(denied); i++)
		if (add(ctx, eperm, denied[i], 0, NULL, err) < 0)
			return -1;
	if (add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err) < 0)
		return -1;

	/* New namespaces of any kind: unshare(2) and clone(2) flags. */
	c[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0);
	for (uint64_t bit = 1; bit; bit <<= 1) {
		if (!(NS_FLAGS & bit))
			continue;
		c[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit);
		if (add(ctx, eperm, "unshare", 1, c, err) < 0 ||
		    add(ctx, eperm, "clone", 1, c, err) < 0)
			return -1;
	}

	/* Terminal injection: compare only the low 32 bits, as the kernel does. */
	c[0] = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI);
	if (add(ctx, eperm, "ioctl", 1, c, err) < 0)
		return -1;
	c[0] = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX);
	if (add(ctx, eperm, "ioctl", 1, c, err) < 0)
		return -1;

	/* Socket families: everything but unix, inet, inet6, netlink. */
	for (int fam = 0; fam < AF_MAX; fam++) {
		if (fam == AF_UNIX || fam == AF_INET || fam == AF_INET6 || fam == AF_NETLINK)
			continue;
		c[0] = SCMP_A0(SCMP_CMP_EQ, (uint64_t)fam);
		if (add(ctx, eafn, "socket", 1, c, err) < 0 ||
		    add(ctx, eafn, "socketpair", 1, c, err) < 0)
			return -1;
	}
	c[0] = SCMP_A0(SCMP_CMP_GE, AF_MAX);
	if (add(ctx, eafn, "socket", 1, c, err) < 0 || add(ctx, eafn, "socketpair", 1, c, err) < 0)
		return -1;
	/* Netlink: only NETLINK_ROUTE (protocol 0), which getaddrinfo and ip need. */
	c[0] = SCMP_A0(SCMP_CMP_EQ, AF_NETLINK);
	c[1] = SCMP_A2(SCMP_CMP_NE, 0);
	if (add(ctx, eafn, "socket", 2, c, err) < 0)
		return -1;
	/* Raw and packet-type sockets in the inet families. */
	for (int fam = 0; fam < 2; fam++) {
		int f = fam ? AF_INET6 : AF_INET;
		int types[] = { SOCK_RAW, SOCK_PACKET };
		for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
			c[0] = SCMP_A0(SCMP_CMP_EQ, (uint64_t)f);
			c[1] = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, (uint64_t)types[t]);
			if (add(ctx, eperm, "socket", 2, c, err) < 0)
				return -1;
		}
	}
	return 0;
}

int
seccomp_rules_build(scmp_filter_ctx *out, bool notify_exec, struct werr *err)
{
	scmp_filter_ctx ctx;
	int rc;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return werr_set(err, "seccomp_init failed");
	/*
	 * Only the native architecture is in the filter; anything else
	 * (including x32 syscall numbers on x86_64) takes the bad-arch action.
	 */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc < 0) {
		seccomp_release(ctx);
		return werr_errno(err, -rc, "seccomp: attributes");
	}
	if (build(ctx, err) < 0) {
		seccomp_release(ctx);
		return -1;
	}
	/*
	 * Record-only notifications: the monitor never denies, so nothing here
	 * depends on the arguments it reads (which another thread could change).
	 */
	if (notify_exec && (add(ctx, SCMP_ACT_NOTIFY, "execve", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_NOTIFY, "execveat", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_NOTIFY, "exit_group", 0, NULL, err) < 0)) {
		seccomp_release(ctx);
		return -1;
	}
	*out = ctx;
	return 0;
}
