/*
 * probe - a one-shot test probe for warden's sandbox tests.
 *
 * The probe runs INSIDE a sandbox, attempts exactly one operation and
 * reports the outcome, so that shell tests can assert not only that an
 * operation was denied but that it was denied for the right reason
 * (EPERM from a seccomp filter vs EROFS from a read-only mount vs ENOENT
 * from a hidden path, ...).
 *
 *   probe OP [ARGS...]
 *
 * Exactly one line goes to stdout:
 *
 *   OK [VALUE]          exit 0  the operation succeeded
 *   ERR <ERRNO_NAME>    exit 1  it failed, e.g. "ERR EPERM"
 *
 * Usage errors print a message on stderr and exit 2.  Ops that end the
 * process on purpose (exit, kill-self, a successful exec, and x32/int80
 * under a filter that kills foreign ABIs) print nothing.  Only ops that
 * are documented to print a value do so; everything else prints a bare
 * "OK".  Values are printed verbatim except that control characters are
 * escaped as \xNN so the report stays one line.
 *
 * Deliberately dependency free (libc + Linux uapi headers).  Every fd is
 * opened O_CLOEXEC.  "probe help" lists the operations.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/bpf.h>
#include <linux/perf_event.h>

/* ---- constants that older headers may lack ----------------------------- */

/* Syscalls >= 424 share one number on every architecture. */
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

#ifndef CLONE_NEWUSER
#define CLONE_NEWUSER 0x10000000
#endif
#ifndef CLONE_NEWNET
#define CLONE_NEWNET 0x40000000
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef KEY_SPEC_SESSION_KEYRING
#define KEY_SPEC_SESSION_KEYRING (-3)
#endif
#ifndef KEYCTL_UNLINK
#define KEYCTL_UNLINK 9
#endif
#ifndef KEXEC_ARCH_MASK
#define KEXEC_ARCH_MASK 0xffff0000UL
#endif
#ifndef PERF_FLAG_FD_CLOEXEC
#define PERF_FLAG_FD_CLOEXEC (1UL << 3)
#endif
#ifndef MAX_HANDLE_SZ
#define MAX_HANDLE_SZ 128
#endif
#ifndef READ_IMPLIES_EXEC
#define READ_IMPLIES_EXEC 0x0400000
#endif
#ifndef AF_KEY
#define AF_KEY 15
#endif
#ifndef AF_PACKET
#define AF_PACKET 17
#endif
#ifndef AF_CAN
#define AF_CAN 29
#endif
#ifndef AF_BLUETOOTH
#define AF_BLUETOOTH 31
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef SOCK_PACKET
#define SOCK_PACKET 10
#endif
#ifndef TIOCSTI
#define TIOCSTI 0x5412
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif
#ifndef PR_GET_DUMPABLE
#define PR_GET_DUMPABLE 3
#endif

/* x86 ABI details for the x32 / int80 ops. */
#define X32_SYSCALL_BIT 0x40000000L
#define X86_64_NR_getpid 39
#define I386_NR_getpid 20

/* struct clone_args, CLONE_ARGS_SIZE_VER0 layout (linux/sched.h, 5.3+). */
struct probe_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid;
	uint64_t exit_signal, stack, stack_size, tls;
};

/* ---- errno names ---------------------------------------------------------- */

#define E(x) { x, #x }
static const struct {
	int num;
	const char *name;
} errno_names[] = {
	/* Preferred spelling first where two names share a value
	 * (EAGAIN/EWOULDBLOCK, EDEADLK/EDEADLOCK, EOPNOTSUPP/ENOTSUP). */
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
	E(EFAULT), E(ENOTBLK), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV),
	E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY),
	E(ETXTBSY), E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK),
	E(EPIPE), E(EDOM), E(ERANGE), E(EDEADLK), E(ENAMETOOLONG), E(ENOLCK),
	E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM), E(ECHRNG),
	E(EL2NSYNC), E(EL3HLT), E(EL3RST), E(ELNRNG), E(EUNATCH), E(ENOCSI),
	E(EL2HLT), E(EBADE), E(EBADR), E(EXFULL), E(ENOANO), E(EBADRQC),
	E(EBADSLT), E(EBFONT), E(ENOSTR), E(ENODATA), E(ETIME), E(ENOSR),
	E(ENONET), E(ENOPKG), E(EREMOTE), E(ENOLINK), E(EADV), E(ESRMNT),
	E(ECOMM), E(EPROTO), E(EMULTIHOP), E(EDOTDOT), E(EBADMSG),
	E(EOVERFLOW), E(ENOTUNIQ), E(EBADFD), E(EREMCHG), E(ELIBACC),
	E(ELIBBAD), E(ELIBSCN), E(ELIBMAX), E(ELIBEXEC), E(EILSEQ),
	E(ERESTART), E(ESTRPIPE), E(EUSERS), E(ENOTSOCK), E(EDESTADDRREQ),
	E(EMSGSIZE), E(EPROTOTYPE), E(ENOPROTOOPT), E(EPROTONOSUPPORT),
	E(ESOCKTNOSUPPORT), E(EOPNOTSUPP), E(EPFNOSUPPORT), E(EAFNOSUPPORT),
	E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN), E(ENETUNREACH),
	E(ENETRESET), E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS), E(EISCONN),
	E(ENOTCONN), E(ESHUTDOWN), E(ETOOMANYREFS), E(ETIMEDOUT),
	E(ECONNREFUSED), E(EHOSTDOWN), E(EHOSTUNREACH), E(EALREADY),
	E(EINPROGRESS), E(ESTALE), E(EUCLEAN), E(ENOTNAM), E(ENAVAIL),
	E(EISNAM), E(EREMOTEIO), E(EDQUOT), E(ENOMEDIUM), E(EMEDIUMTYPE),
	E(ECANCELED), E(ENOKEY), E(EKEYEXPIRED), E(EKEYREVOKED),
	E(EKEYREJECTED), E(EOWNERDEAD), E(ENOTRECOVERABLE),
#ifdef ERFKILL
	E(ERFKILL),
#endif
#ifdef EHWPOISON
	E(EHWPOISON),
#endif
};
#undef E

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *errno_name(int err)
{
	static char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].num == err)
			return errno_names[i].name;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	const char *name = strerrorname_np(err);
	if (name)
		return name;
#endif
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

/* ---- reporting ------------------------------------------------------------ */

/* Print s, escaping control characters so the report stays on one line. */
static void put_escaped(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
}

static int ok(void)
{
	fputs("OK\n", stdout);
	return 0;
}

__attribute__((format(printf, 1, 2)))
static int ok_fmt(const char *fmt, ...)
{
	va_list ap;

	fputs("OK ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return 0;
}

/* "OK <s>", or a bare "OK" when s is empty. */
static int ok_str(const char *s)
{
	fputs("OK", stdout);
	if (*s) {
		putchar(' ');
		put_escaped(s);
	}
	putchar('\n');
	return 0;
}

static int fail(int err)
{
	printf("ERR %s\n", errno_name(err));
	return 1;
}

/* For calls that return -1/errno on failure and anything else on success. */
static int report(long rc)
{
	return rc < 0 ? fail(errno) : ok();
}

/* For calls that return a new fd: close it and report. */
static int report_fd(long fd)
{
	if (fd < 0)
		return fail(errno);
	close((int)fd);
	return ok();
}

/* ---- usage / argument parsing ---------------------------------------------- */

struct op {
	const char *name;
	int min_args;
	int max_args; /* -1: unlimited */
	int (*fn)(int nargs, char **args);
	const char *usage;
};

static const struct op *current_op;

__attribute__((noreturn, format(printf, 1, 2)))
static void usage(const char *fmt, ...)
{
	va_list ap;

	fputs("probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (current_op)
		fprintf(stderr, "usage: probe %s %s\n", current_op->name,
			current_op->usage);
	else
		fputs("usage: probe OP [ARGS...]  (probe help lists ops)\n",
		      stderr);
	exit(2);
}

static long long parse_num(const char *s, long long min, long long max,
			   const char *what)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		usage("invalid %s '%s'", what, s);
	return v;
}

struct name_val {
	const char *name;
	long val;
};

/* Look a (case-insensitive) name up in a table; numbers are accepted too. */
static long lookup(const struct name_val *t, size_t n, const char *s,
		   const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(t[i].name, s))
			return t[i].val;
	return (long)parse_num(s, 0, INT_MAX, what);
}

static void parse_inet(const char *ip, const char *port,
		       struct sockaddr_storage *ss, socklen_t *len)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
	uint16_t p = (uint16_t)parse_num(port, 0, 65535, "port");

	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		*len = sizeof(*sin);
		return;
	}

	/* IPv6, optionally "[addr]" and/or "addr%scope". */
	if (strlen(ip) >= sizeof(buf))
		usage("invalid IP address '%s'", ip);
	strcpy(buf, ip[0] == '[' ? ip + 1 : ip);
	char *close_br = strchr(buf, ']');
	if (ip[0] == '[') {
		if (!close_br || close_br[1])
			usage("invalid IP address '%s'", ip);
		*close_br = '\0';
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char *scope = strchr(buf, '%');
	if (scope) {
		*scope++ = '\0';
		sin6->sin6_scope_id = if_nametoindex(scope);
		if (!sin6->sin6_scope_id)
			sin6->sin6_scope_id =
				(uint32_t)parse_num(scope, 0, UINT32_MAX, "scope");
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
		usage("invalid IP address '%s'", ip);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(p);
	*len = sizeof(*sin6);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Print "OK name1 name2 ..." with the names sorted. */
static int ok_sorted(char **names, size_t n)
{
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	fputs("OK", stdout);
	for (size_t i = 0; i < n; i++) {
		putchar(' ');
		put_escaped(names[i]);
	}
	putchar('\n');
	return 0;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

#define OP(fn) static int fn(int nargs __attribute__((unused)), \
			     char **args __attribute__((unused)))

/* ---- filesystem ------------------------------------------------------------- */

OP(op_read)
{
	char c;
	int fd = open(args[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno);
	ssize_t n = read(fd, &c, 1);
	int err = errno;
	close(fd);
	return n < 0 ? fail(err) : ok();
}

static int write_x(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(errno);
	ssize_t n = write(fd, "x", 1);
	int err = errno;
	if (n != 1) {
		close(fd);
		return fail(n < 0 ? err : EIO);
	}
	return report(close(fd));
}

OP(op_write)
{
	return write_x(args[0], O_WRONLY | O_CREAT | O_TRUNC);
}

/* Appends to an existing file; does not create it. */
OP(op_append)
{
	return write_x(args[0], O_WRONLY | O_APPEND);
}

OP(op_mkdir)
{
	return report(mkdir(args[0], 0755));
}

OP(op_unlink)
{
	return report(unlink(args[0]));
}

OP(op_rename)
{
	return report(rename(args[0], args[1]));
}

OP(op_symlink)
{
	return report(symlink(args[0], args[1]));
}

OP(op_readlink)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlink(args[0], buf, sizeof(buf) - 1);
	if (n < 0)
		return fail(errno);
	buf[n] = '\0';
	return ok_str(buf);
}

OP(op_ls)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	int fd = open(args[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno);
	DIR *d = fdopendir(fd);
	if (!d) {
		err = errno;
		close(fd);
		return fail(err);
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			err = errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **p = realloc(names, cap * sizeof(*names));
			if (!p) {
				err = ENOMEM;
				break;
			}
			names = p;
		}
		if (!(names[n] = strdup(de->d_name))) {
			err = ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);

	int rc = err ? fail(err) : ok_sorted(names, n);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Follows symlinks. */
OP(op_stat)
{
	struct stat st;
	return report(stat(args[0], &st));
}

/* Does not follow symlinks: a dangling symlink exists. */
OP(op_exists)
{
	struct stat st;
	return report(lstat(args[0], &st));
}

/* ---- network ------------------------------------------------------------------ */

/* Wait for a non-blocking connect; returns 0 or an errno. */
static int wait_connected(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	if (r == 0)
		return ETIMEDOUT;

	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

OP(op_connect_tcp)
{
	struct sockaddr_storage ss;
	socklen_t len;

	parse_inet(args[0], args[1], &ss, &len);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	int err = 0;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		err = errno;
		if (err == EINPROGRESS)
			err = wait_connected(fd, 2000);
	}
	close(fd);
	return err ? fail(err) : ok();
}

OP(op_bind_tcp)
{
	struct sockaddr_storage ss;
	socklen_t len;

	parse_inet(args[0], args[1], &ss, &len);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(errno);
	int rc = bind(fd, (struct sockaddr *)&ss, len);
	int err = errno;
	close(fd);
	return rc < 0 ? fail(err) : ok();
}

/*
 * Connect to an AF_UNIX address.  Tries SOCK_STREAM first and falls back to
 * SOCK_SEQPACKET / SOCK_DGRAM only if the kernel says the listener is of
 * another type (EPROTOTYPE), so e.g. /dev/log works too.
 */
static int connect_unix(const struct sockaddr_un *sun, socklen_t len)
{
	static const int types[] = { SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM };
	int err = 0;

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fail(errno);
		int rc = connect(fd, (const struct sockaddr *)sun, len);
		err = errno;
		close(fd);
		if (rc == 0)
			return ok();
		if (err != EPROTOTYPE)
			break;
	}
	return fail(err);
}

OP(op_connect_unix)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(args[0]);

	if (n >= sizeof(sun.sun_path))
		return fail(ENAMETOOLONG);
	memcpy(sun.sun_path, args[0], n);
	return connect_unix(&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1));
}

OP(op_connect_abstract)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(args[0]);

	if (n + 1 > sizeof(sun.sun_path))
		return fail(ENAMETOOLONG);
	memcpy(sun.sun_path + 1, args[0], n); /* sun_path[0] stays '\0' */
	return connect_unix(&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
}

static const struct name_val families[] = {
	{ "unix", AF_UNIX },		{ "inet", AF_INET },
	{ "inet6", AF_INET6 },		{ "netlink", AF_NETLINK },
	{ "packet", AF_PACKET },	{ "bluetooth", AF_BLUETOOTH },
	{ "alg", AF_ALG },		{ "vsock", AF_VSOCK },
	{ "key", AF_KEY },		{ "can", AF_CAN },
};

static const struct name_val sock_types[] = {
	{ "stream", SOCK_STREAM },	{ "dgram", SOCK_DGRAM },
	{ "raw", SOCK_RAW },		{ "packet", SOCK_PACKET },
	{ "seqpacket", SOCK_SEQPACKET },
};

OP(op_socket)
{
	int family = (int)lookup(families, ARRAY_SIZE(families), args[0], "family");
	int type = (int)lookup(sock_types, ARRAY_SIZE(sock_types), args[1], "type");
	int proto = nargs > 2 ? (int)parse_num(args[2], 0, INT_MAX, "protocol") : 0;

	return report_fd(socket(family, type | SOCK_CLOEXEC, proto));
}

OP(op_ifaces)
{
	struct if_nameindex *ifs = if_nameindex();
	if (!ifs)
		return fail(errno);
	size_t n = 0;
	while (ifs[n].if_index != 0 || ifs[n].if_name != NULL)
		n++;
	char **names = malloc((n ? n : 1) * sizeof(*names));
	if (!names) {
		if_freenameindex(ifs);
		return fail(ENOMEM);
	}
	for (size_t i = 0; i < n; i++)
		names[i] = ifs[i].if_name;
	int rc = ok_sorted(names, n);
	free(names);
	if_freenameindex(ifs);
	return rc;
}

/* ---- terminal ------------------------------------------------------------------ */

/*
 * ioctl() on fd 0; if stdin is not a terminal, retry on /dev/tty (when that
 * opens).  Reports the errno of the last ioctl attempted.  With raw set the
 * request goes through syscall() untruncated, so a full 64-bit value reaches
 * seccomp (the kernel itself only looks at the low 32 bits).
 */
static int tty_ioctl(unsigned long cmd, void *arg, int raw)
{
	long rc = raw ? syscall(SYS_ioctl, 0, cmd, arg) : ioctl(0, cmd, arg);
	int err = errno;

	if (rc < 0 && (err == ENOTTY || err == EBADF)) {
		int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			rc = raw ? syscall(SYS_ioctl, fd, cmd, arg) : ioctl(fd, cmd, arg);
			err = errno;
			close(fd);
		}
	}
	return rc < 0 ? fail(err) : ok();
}

OP(op_tiocsti)
{
	char c = 'x';
	return tty_ioctl(TIOCSTI, &c, 0);
}

OP(op_tiocsti_hi)
{
#if ULONG_MAX > 0xffffffffUL
	char c = 'x';
	return tty_ioctl((1UL << 32) | TIOCSTI, &c, 1);
#else
	usage("needs a 64-bit build");
#endif
}

OP(op_tioclinux)
{
	char subcode = 6; /* TIOCL_GETSHIFTSTATE */
	return tty_ioctl(TIOCLINUX, &subcode, 0);
}

/* ---- namespaces / process creation --------------------------------------------- */

OP(op_unshare_user)
{
	return report(unshare(CLONE_NEWUSER));
}

OP(op_unshare_net)
{
	return report(unshare(CLONE_NEWNET));
}

OP(op_unshare_mnt)
{
	return report(unshare(CLONE_NEWNS));
}

OP(op_clone_newuser)
{
	fflush(stdout);
	/* No new stack: the child continues on a copy of ours, like fork(). */
	long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD),
			   0UL, NULL, NULL, 0UL);
	if (pid < 0)
		return fail(errno);
	if (pid == 0)
		_exit(0);
	reap((pid_t)pid);
	return ok();
}

OP(op_clone3)
{
	struct probe_clone_args ca;

	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	fflush(stdout);
	long pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0)
		return fail(errno);
	if (pid == 0)
		_exit(0);
	reap((pid_t)pid);
	return ok();
}

OP(op_setns)
{
	int fd = open(args[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno);
	int rc = setns(fd, 0);
	int err = errno;
	close(fd);
	return rc < 0 ? fail(err) : ok();
}

/* ---- kernel attack surface ------------------------------------------------------ */

OP(op_io_uring)
{
	/* struct io_uring_params is 120 bytes; all-zero is a valid request. */
	uint64_t params[16];

	memset(params, 0, sizeof(params));
	return report_fd(syscall(SYS_io_uring_setup, 8U, params));
}

/* bpf [prog|map]: load "r0 = 0; exit" as a socket filter, or create a map. */
OP(op_bpf)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	if (nargs > 0 && !strcmp(args[0], "map")) {
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 4;
		attr.max_entries = 1;
		return report_fd(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
	}
	if (nargs > 0 && strcmp(args[0], "prog"))
		usage("unknown bpf kind '%s'", args[0]);

	struct bpf_insn insns[2];
	memset(insns, 0, sizeof(insns));
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = 0 */
	insns[1].code = BPF_JMP | BPF_EXIT;
	static const char license[] = "GPL";
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.license = (uint64_t)(uintptr_t)license;
	return report_fd(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)));
}

OP(op_perf)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.disabled = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	return report_fd(syscall(SYS_perf_event_open, &attr, 0, -1, -1,
				 (unsigned long)PERF_FLAG_FD_CLOEXEC));
}

OP(op_userfaultfd)
{
	return report_fd(syscall(SYS_userfaultfd, O_CLOEXEC));
}

/* Adds a "user" key to the session keyring and unlinks it again. */
OP(op_keyctl)
{
	long key = syscall(SYS_add_key, "user", "warden-probe", "x", (size_t)1,
			   (long)KEY_SPEC_SESSION_KEYRING);
	if (key < 0)
		return fail(errno);
	syscall(SYS_keyctl, (long)KEYCTL_UNLINK, key, (long)KEY_SPEC_SESSION_KEYRING);
	return ok();
}

/* mount [TARGET]: tmpfs on TARGET (default /tmp); undone again on success. */
OP(op_mount)
{
	const char *target = nargs > 0 ? args[0] : "/tmp";

	if (mount("tmpfs", target, "tmpfs", 0, NULL) < 0)
		return fail(errno);
	umount2(target, MNT_DETACH);
	return ok();
}

OP(op_umount)
{
	return report(umount2(args[0], 0));
}

OP(op_fsopen)
{
	return report_fd(syscall(SYS_fsopen, "tmpfs", (unsigned long)FSOPEN_CLOEXEC));
}

OP(op_open_tree)
{
	return report_fd(syscall(SYS_open_tree, AT_FDCWD, args[0],
				 (unsigned long)(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
}

/*
 * pivot-root [NEW OLD]: defaults to pivot_root("/", "/"), which the kernel
 * always rejects AFTER its CAP_SYS_ADMIN check (EBUSY/EINVAL), so EPERM
 * means "denied" and the default can never actually pivot anything.
 */
OP(op_pivot_root)
{
	const char *new_root = nargs > 0 ? args[0] : "/";
	const char *put_old = nargs > 1 ? args[1] : "/";

	return report(syscall(SYS_pivot_root, new_root, put_old));
}

OP(op_chroot)
{
	return report(chroot(args[0]));
}

/*
 * kexec_load with nr_segments 0.  Flags 0 would unload a loaded kexec image
 * if permitted, so a bogus architecture is passed: the kernel checks
 * CAP_SYS_BOOT first (EPERM) and only then rejects the arch (EINVAL).
 */
OP(op_kexec)
{
	return report(syscall(SYS_kexec_load, 0UL, 0UL, NULL, KEXEC_ARCH_MASK));
}

OP(op_init_module)
{
	return report(syscall(SYS_init_module, NULL, 0UL, ""));
}

/* ---- other processes ----------------------------------------------------------- */

OP(op_ptrace)
{
	pid_t pid = (pid_t)parse_num(args[0], 1, INT_MAX, "pid");

	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0)
		return fail(errno);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	return ok();
}

/* Fork a child that just sleeps, then try to PTRACE_ATTACH to it. */
OP(op_ptrace_child)
{
	fflush(stdout);
	pid_t child = fork();
	if (child < 0)
		return fail(errno);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	long rc = ptrace(PTRACE_ATTACH, child, NULL, NULL);
	int err = errno;
	if (rc == 0) {
		while (waitpid(child, NULL, __WALL) < 0 && errno == EINTR)
			;
		ptrace(PTRACE_DETACH, child, NULL, NULL);
	}
	kill(child, SIGKILL);
	reap(child);
	return rc < 0 ? fail(err) : ok();
}

/* First readable mapping of pid per /proc/PID/maps, or 0. */
static uintptr_t readable_addr(pid_t pid)
{
	char path[64], line[512];
	uintptr_t addr = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start;
		char perms[5];
		if (sscanf(line, "%lx-%*x %4s", &start, perms) == 2 && perms[0] == 'r') {
			addr = start;
			break;
		}
	}
	fclose(f);
	return addr;
}

/*
 * Reads one byte from PID.  The address comes from /proc/PID/maps when that
 * is readable; otherwise one of our own stack addresses is used, which still
 * exercises the permission check (EPERM/ESRCH before EFAULT).
 */
OP(op_process_vm_read)
{
	pid_t pid = (pid_t)parse_num(args[0], 1, INT_MAX, "pid");
	char byte = 0;
	uintptr_t addr = readable_addr(pid);

	if (!addr)
		addr = (uintptr_t)&byte;
	struct iovec local = { .iov_base = &byte, .iov_len = 1 };
	struct iovec remote = { .iov_base = (void *)addr, .iov_len = 1 };
	return report(process_vm_readv(pid, &local, 1, &remote, 1, 0));
}

OP(op_kill)
{
	pid_t pid = (pid_t)parse_num(args[0], INT_MIN, INT_MAX, "pid");
	int sig = (int)parse_num(args[1], 0, 64, "signal");

	return report(kill(pid, sig));
}

OP(op_setuid)
{
	return report(setuid((uid_t)parse_num(args[0], 0, UINT32_MAX - 1, "uid")));
}

/* open-by-handle [PATH]: name_to_handle_at(PATH, default /) + open_by_handle_at. */
OP(op_open_by_handle)
{
	const char *path = nargs > 0 ? args[0] : "/";
	int mount_id, rc;

	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	if (!fh)
		return fail(ENOMEM);
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0) < 0) {
		rc = fail(errno);
	} else {
		/* Any fd on the same mount will do as mount_fd. */
		int mfd = open(path, O_RDONLY | O_CLOEXEC);
		if (mfd < 0) {
			rc = fail(errno);
		} else {
			rc = report_fd(open_by_handle_at(mfd, fh, O_RDONLY | O_CLOEXEC));
			close(mfd);
		}
	}
	free(fh);
	return rc;
}

OP(op_personality)
{
	return report(personality(READ_IMPLIES_EXEC));
}

/* ---- foreign syscall ABIs (x86-64 only) ----------------------------------------- */

static int report_raw(long ret)
{
	return ret < 0 ? fail((int)-ret) : ok_fmt("%ld", ret);
}

/* getpid via the x32 ABI: syscall number with __X32_SYSCALL_BIT set. */
OP(op_x32)
{
#if defined(__x86_64__)
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(X32_SYSCALL_BIT | X86_64_NR_getpid)
			 : "rcx", "r11", "memory");
	return report_raw(ret);
#else
	usage("x32 needs an x86-64 build");
#endif
}

/* getpid via the i386 ABI (int $0x80). */
OP(op_int80)
{
#if defined(__x86_64__) || defined(__i386__)
	int ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "0"(I386_NR_getpid)
#if defined(__x86_64__)
			 : "r8", "r9", "r10", "r11", "memory", "cc");
#else
			 : "memory", "cc");
#endif
	return report_raw(ret);
#else
	usage("int80 needs an x86 build");
#endif
}

/* ---- information about ourselves ------------------------------------------------ */

OP(op_ids)
{
	int n = getgroups(0, NULL);
	if (n < 0)
		return fail(errno);
	gid_t *groups = malloc(((size_t)n + 1) * sizeof(*groups));
	if (!groups)
		return fail(ENOMEM);
	n = getgroups(n, groups);
	if (n < 0) {
		int err = errno;
		free(groups);
		return fail(err);
	}
	printf("OK uid=%u euid=%u gid=%u egid=%u groups=", (unsigned)getuid(),
	       (unsigned)geteuid(), (unsigned)getgid(), (unsigned)getegid());
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", (unsigned)groups[i]);
	putchar('\n');
	free(groups);
	return 0;
}

/*
 * Value of "NAME:" in /proc/self/status with whitespace runs collapsed to a
 * single space.  Returns 0 and a malloc'ed *value, or an errno (ENOENT when
 * the field does not exist).
 */
static int status_field(const char *name, char **value)
{
	char *line = NULL;
	size_t cap = 0, len = strlen(name);
	int err = ENOENT;

	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return errno;
	while (getline(&line, &cap, f) >= 0) {
		if (strncmp(line, name, len) || line[len] != ':')
			continue;
		char *out = line, *p = line + len + 1;
		while (*p) {
			while (*p == ' ' || *p == '\t' || *p == '\n')
				p++;
			if (out != line && *p)
				*out++ = ' ';
			while (*p && *p != ' ' && *p != '\t' && *p != '\n')
				*out++ = *p++;
		}
		*out = '\0';
		*value = line;
		line = NULL;
		err = 0;
		break;
	}
	if (err == ENOENT && ferror(f))
		err = EIO;
	free(line);
	fclose(f);
	return err;
}

OP(op_caps)
{
	static const char *const fields[] = {
		"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
	};
	char *vals[ARRAY_SIZE(fields)] = { NULL };
	int err = 0;

	for (size_t i = 0; i < ARRAY_SIZE(fields) && !err; i++) {
		err = status_field(fields[i], &vals[i]);
		if (err == ENOENT)
			err = 0; /* e.g. CapAmb before Linux 4.3: leave it out */
	}
	if (!err) {
		fputs("OK", stdout);
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
			if (!vals[i])
				continue;
			printf(" %s=", fields[i]);
			put_escaped(vals[i]);
		}
		putchar('\n');
	}
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		free(vals[i]);
	return err ? fail(err) : 0;
}

OP(op_status_field)
{
	char *v;
	int err = status_field(args[0], &v);
	if (err)
		return fail(err);
	int rc = ok_str(v);
	free(v);
	return rc;
}

OP(op_env)
{
	const char *v = getenv(args[0]);
	return v ? ok_str(v) : fail(ENOENT);
}

OP(op_hostname)
{
	char buf[HOST_NAME_MAX + 2];

	if (gethostname(buf, sizeof(buf)) < 0)
		return fail(errno);
	buf[sizeof(buf) - 1] = '\0';
	return ok_str(buf);
}

OP(op_pid)
{
	return ok_fmt("%d %d", (int)getpid(), (int)getppid());
}

OP(op_exit)
{
	exit((int)parse_num(args[0], 0, 255, "exit status"));
}

/* Restores the default action and unblocks SIG first; prints OK if we survive. */
OP(op_kill_self)
{
	int sig = (int)parse_num(args[0], 1, 64, "signal");
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL); /* fails harmlessly for SIGKILL/SIGSTOP */
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	fflush(stdout);
	return report(kill(getpid(), sig));
}

OP(op_sleep)
{
	char *end;

	errno = 0;
	double secs = strtod(args[0], &end);
	if (errno || end == args[0] || *end || !(secs >= 0) || secs > 1e9)
		usage("invalid seconds '%s'", args[0]);
	struct timespec ts = {
		.tv_sec = (time_t)secs,
		.tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9),
	};
	while (nanosleep(&ts, &ts) < 0) {
		if (errno != EINTR)
			return fail(errno);
	}
	return ok();
}

/* exec PATH [ARGS...]: execv(PATH, {PATH, ARGS..., NULL}); reports failure only. */
OP(op_exec)
{
	fflush(stdout);
	execv(args[0], args);
	return fail(errno);
}

static int read_ppid(long pid, long *ppid)
{
	char path[64], buf[1024];

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	int err = ferror(f) ? EIO : 0;
	fclose(f);
	if (err)
		return err;
	buf[n] = '\0';
	/* "pid (comm) state ppid ..."; comm may contain spaces and ')'. */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %ld", ppid) != 1)
		return EINVAL;
	return 0;
}

/* "OK <pid> <ppid> <grandparent pid> ... " up to the pid whose parent is 0. */
OP(op_ppid_chain)
{
	long chain[256];
	size_t n = 0;
	long pid = getpid();

	while (pid > 0 && n < ARRAY_SIZE(chain)) {
		chain[n++] = pid;
		int err = read_ppid(pid, &pid);
		if (err)
			return fail(err);
	}
	fputs("OK", stdout);
	for (size_t i = 0; i < n; i++)
		printf(" %ld", chain[i]);
	putchar('\n');
	return 0;
}

OP(op_setuid_euid)
{
	return ok_fmt("%u", (unsigned)geteuid());
}

static const struct name_val rlimits[] = {
	{ "NOFILE", RLIMIT_NOFILE }, { "NPROC", RLIMIT_NPROC },
	{ "AS", RLIMIT_AS },	     { "CPU", RLIMIT_CPU },
	{ "CORE", RLIMIT_CORE },     { "FSIZE", RLIMIT_FSIZE },
	{ "DATA", RLIMIT_DATA },     { "STACK", RLIMIT_STACK },
	{ "MEMLOCK", RLIMIT_MEMLOCK },
};

static void print_rlim(rlim_t v)
{
	if (v == RLIM_INFINITY)
		fputs("unlimited", stdout);
	else
		printf("%llu", (unsigned long long)v);
}

/* rlimit NAME: "OK <soft> <hard>", "unlimited" for RLIM_INFINITY. */
OP(op_rlimit)
{
	const char *name = args[0];
	struct rlimit rl;

	if (!strncasecmp(name, "RLIMIT_", 7))
		name += 7;
	int res = (int)lookup(rlimits, ARRAY_SIZE(rlimits), name, "rlimit");
	if (getrlimit(res, &rl) < 0)
		return fail(errno);
	fputs("OK ", stdout);
	print_rlim(rl.rlim_cur);
	putchar(' ');
	print_rlim(rl.rlim_max);
	putchar('\n');
	return 0;
}

OP(op_dumpable)
{
	int v = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	return v < 0 ? fail(errno) : ok_fmt("%d", v);
}

OP(op_help);

/* ---- the table ------------------------------------------------------------------ */

static const struct op ops[] = {
	/* filesystem */
	{ "read", 1, 1, op_read, "PATH" },
	{ "write", 1, 1, op_write, "PATH" },
	{ "append", 1, 1, op_append, "PATH" },
	{ "mkdir", 1, 1, op_mkdir, "PATH" },
	{ "unlink", 1, 1, op_unlink, "PATH" },
	{ "rename", 2, 2, op_rename, "SRC DST" },
	{ "symlink", 2, 2, op_symlink, "TARGET LINK" },
	{ "readlink", 1, 1, op_readlink, "PATH" },
	{ "ls", 1, 1, op_ls, "DIR" },
	{ "stat", 1, 1, op_stat, "PATH" },
	{ "exists", 1, 1, op_exists, "PATH" },
	/* network */
	{ "connect-tcp", 2, 2, op_connect_tcp, "IP PORT" },
	{ "bind-tcp", 2, 2, op_bind_tcp, "IP PORT" },
	{ "connect-unix", 1, 1, op_connect_unix, "PATH" },
	{ "connect-abstract", 1, 1, op_connect_abstract, "NAME" },
	{ "socket", 2, 3, op_socket, "FAMILY TYPE [PROTO]" },
	{ "ifaces", 0, 0, op_ifaces, "" },
	/* terminal */
	{ "tiocsti", 0, 0, op_tiocsti, "" },
	{ "tiocsti-hi", 0, 0, op_tiocsti_hi, "" },
	{ "tioclinux", 0, 0, op_tioclinux, "" },
	/* namespaces / process creation */
	{ "unshare-user", 0, 0, op_unshare_user, "" },
	{ "unshare-net", 0, 0, op_unshare_net, "" },
	{ "unshare-mnt", 0, 0, op_unshare_mnt, "" },
	{ "clone-newuser", 0, 0, op_clone_newuser, "" },
	{ "clone3", 0, 0, op_clone3, "" },
	{ "setns", 1, 1, op_setns, "PATH" },
	/* kernel attack surface */
	{ "io-uring", 0, 0, op_io_uring, "" },
	{ "bpf", 0, 1, op_bpf, "[prog|map]" },
	{ "perf", 0, 0, op_perf, "" },
	{ "userfaultfd", 0, 0, op_userfaultfd, "" },
	{ "keyctl", 0, 0, op_keyctl, "" },
	{ "mount", 0, 1, op_mount, "[TARGET]" },
	{ "umount", 1, 1, op_umount, "PATH" },
	{ "fsopen", 0, 0, op_fsopen, "" },
	{ "open-tree", 1, 1, op_open_tree, "PATH" },
	{ "pivot-root", 0, 2, op_pivot_root, "[NEW_ROOT PUT_OLD]" },
	{ "chroot", 1, 1, op_chroot, "PATH" },
	{ "kexec", 0, 0, op_kexec, "" },
	{ "init-module", 0, 0, op_init_module, "" },
	/* other processes */
	{ "ptrace", 1, 1, op_ptrace, "PID" },
	{ "ptrace-child", 0, 0, op_ptrace_child, "" },
	{ "process-vm-read", 1, 1, op_process_vm_read, "PID" },
	{ "kill", 2, 2, op_kill, "PID SIG" },
	{ "setuid", 1, 1, op_setuid, "UID" },
	{ "open-by-handle", 0, 1, op_open_by_handle, "[PATH]" },
	{ "personality", 0, 0, op_personality, "" },
	/* foreign syscall ABIs */
	{ "x32", 0, 0, op_x32, "" },
	{ "int80", 0, 0, op_int80, "" },
	/* information about ourselves */
	{ "ids", 0, 0, op_ids, "" },
	{ "caps", 0, 0, op_caps, "" },
	{ "status-field", 1, 1, op_status_field, "NAME" },
	{ "env", 1, 1, op_env, "NAME" },
	{ "hostname", 0, 0, op_hostname, "" },
	{ "pid", 0, 0, op_pid, "" },
	{ "ppid-chain", 0, 0, op_ppid_chain, "" },
	{ "setuid-euid", 0, 0, op_setuid_euid, "" },
	{ "rlimit", 1, 1, op_rlimit, "NOFILE|NPROC|AS|CPU|CORE|..." },
	{ "dumpable", 0, 0, op_dumpable, "" },
	/* process control */
	{ "exit", 1, 1, op_exit, "N" },
	{ "kill-self", 1, 1, op_kill_self, "SIG" },
	{ "sleep", 1, 1, op_sleep, "SECONDS" },
	{ "exec", 1, -1, op_exec, "PATH [ARGS...]" },
	{ "help", 0, 0, op_help, "" },
};

OP(op_help)
{
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		printf("probe %s %s\n", ops[i].name, ops[i].usage);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage("missing operation");
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		if (strcmp(ops[i].name, argv[1]))
			continue;
		current_op = &ops[i];
		int nargs = argc - 2;
		if (nargs < ops[i].min_args ||
		    (ops[i].max_args >= 0 && nargs > ops[i].max_args))
			usage("wrong number of arguments for '%s'", ops[i].name);
		int rc = ops[i].fn(nargs, argv + 2);
		if (fflush(stdout) != 0)
			return 2;
		return rc;
	}
	usage("unknown operation '%s'", argv[1]);
}
