/*
 * The exec monitor: a process.exec record for every program the agent (or
 * anything it starts) executes.
 *
 * The agent's seccomp filter turns execve, execveat and exit_group into
 * user notifications on a listener the supervisor holds.  The monitor only
 * records -- it answers every notification with "continue" -- so nothing it
 * reads can be used against a decision.  What it records has two parts:
 *
 *   - what was asked: the path and argv, read from the caller's memory at
 *     the moment of the call (another thread of the caller could change
 *     them before the kernel reads them: they are the request, not proof);
 *   - what the kernel executed: /proc/PID/exe once the exec has happened.
 *
 * The kernel gives no event after a successful exec, so the monitor keeps
 * the call pending and confirms it when it can see the result: at the
 * process's next exec or its exit_group (both stop the process in a
 * notification, so its /proc entry is exact then), or on the supervisor's
 * tick (every 100 ms) for long-running programs.  An exec is confirmed when
 * /proc/PID/exe or the start of the argument area (field 48 of
 * /proc/PID/stat) changed since the call; a call that left both unchanged
 * by the next notification failed (as PATH lookups do) and is dropped.  A
 * process killed before anything confirmed it is recorded with
 * "confirmed":false and the requested path.
 *
 * argv is recorded with values that look like credentials replaced by
 * "[redacted]", each argument capped, and the environment never read.
 */
#include "sb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../audit/audit.h"
#include "../lib/event.h"
#include "../lib/log.h"
#include "../lib/util.h"
#include "sandbox_execmon.h"

#define MAX_PENDING 4096
#define MAX_PATH_READ 4096

struct pending {
	pid_t pid;
	dev_t dev;
	ino_t ino;
	unsigned long long arg_start;
	char *path;		/* requested */
	char *argv_json;	/* "[...]" */
	struct pending *next;
};

/* What /proc shows of a settled call, read while its process is stopped. */
struct seen {
	char exe[4096];		/* "" when not confirmed */
	pid_t inner, ppid;
};

struct execmon {
	struct evloop *loop;
	struct ev_io io;
	int fd;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	size_t req_size, resp_size;
	struct pending *pending;
	size_t npending;
	const char *policy_hash;	/* borrowed, updated by the owner */
	uint64_t *revision;
	/* A call settled by the current notification, recorded once it is answered. */
	struct pending *late;
	struct seen late_seen;
};

/* ---- /proc helpers ----------------------------------------------------------- */

static int
read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	return 0;
}

/* Field 48 (arg_start) of /proc/PID/stat; 0 when unreadable. */
static unsigned long long
arg_start(pid_t pid)
{
	char path[64], buf[2048], *p;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return 0;
	/* After "pid (comm)" come fields 3...; comm may hold spaces, hence strrchr. */
	for (p++; *p && field < 47; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

/* The pid as the sandbox sees it (last NSpid field) and the host pid of its parent. */
static void
status_pids(pid_t pid, pid_t *inner, pid_t *ppid_host)
{
	char path[64], buf[4096];
	const char *ns, *pp;

	*inner = *ppid_host = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return;
	if ((ns = strstr(buf, "\nNSpid:"))) {
		const char *e = strchr(ns + 1, '\n'), *last = ns + 7;
		for (const char *c = ns + 7; c < (e ? e : c + strlen(c)); c++)
			if (*c == '\t' || *c == ' ')
				last = c + 1;
		*inner = (pid_t)strtol(last, NULL, 10);
	}
	if ((pp = strstr(buf, "\nPPid:")))
		*ppid_host = (pid_t)strtol(pp + 6, NULL, 10);
}

/*
 * The pid as the sandbox sees it and its parent's; 0 when gone.  Two
 * status files, not the whole ancestor chain: this runs while the caller
 * is stopped in its notification (at an exec or its exit_group).
 */
static void
inner_pids(pid_t pid, pid_t *inner, pid_t *ppid_inner)
{
	pid_t ppid_host, unused;

	*ppid_inner = 0;
	status_pids(pid, inner, &ppid_host);
	if (ppid_host > 0)
		status_pids(ppid_host, ppid_inner, &unused);
}

/* Read a NUL-terminated string from the process's memory. */
static char *
read_string(int mem, unsigned long long addr, size_t max)
{
	char *buf = xmalloc(max + 1);
	ssize_t n = addr ? pread(mem, buf, max, (off_t)addr) : -1;

	if (n <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;		/* a string longer than max is cut there */
}

static char *
read_argv(int mem, unsigned long long argv_addr)
{
	struct sbuf b;
	uint64_t ptrs[AUDIT_ARGS_MAX + 1];
	char *prev = NULL;
	ssize_t n;

	/* Worst case: every argument escaped at 6 bytes per byte. */
	sbuf_init(&b, (AUDIT_ARGS_MAX + 1) * (AUDIT_ARG_MAX * 6 + 8) + 16);
	sbuf_adds(&b, "[");
	n = argv_addr ? pread(mem, ptrs, sizeof(ptrs), (off_t)argv_addr) : -1;
	for (ssize_t i = 0; n > 0 && i < n / 8; i++) {
		char *a;

		if (!ptrs[i])
			break;
		if (i == AUDIT_ARGS_MAX) {
			sbuf_adds(&b, ",\"...\"");
			break;
		}
		a = read_string(mem, ptrs[i], AUDIT_ARG_MAX);
		if (i)
			sbuf_adds(&b, ",");
		if (a)
			audit_add_arg(&b, a, prev);
		else
			sbuf_add_json(&b, "?");
		free(prev);
		prev = a;
	}
	free(prev);
	sbuf_adds(&b, "]");
	if (b.overflow) {
		sbuf_free(&b);
		return xstrdup("[\"(argv too large to record)\"]");
	}
	return b.p;
}

/* ---- records ------------------------------------------------------------------ */

static void
observe(const struct pending *p, bool confirmed, struct seen *s)
{
	ssize_t n = -1;

	if (confirmed) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
		n = readlink(path, s->exe, sizeof(s->exe) - 1);
	}
	s->exe[n > 0 ? n : 0] = '\0';
	inner_pids(p->pid, &s->inner, &s->ppid);
}

static void
emit(struct execmon *m, const struct pending *p, const struct seen *s)
{
	char extra[256];
	struct sbuf x;
	struct event ev = { .type = "process.exec", .revision = *m->revision,
		.policy_hash = m->policy_hash, .pid = s->inner, .ppid = s->ppid };

	if (s->exe[0])
		ev.binary = s->exe;
	sbuf_init(&x, 256 * 1024);
	sbuf_adds(&x, "\"path\":");
	sbuf_add_json(&x, p->path ? p->path : "?");
	sbuf_addf(&x, ",\"argv\":%s", p->argv_json ? p->argv_json : "[]");
	snprintf(extra, sizeof(extra), ",\"confirmed\":%s", s->exe[0] ? "true" : "false");
	sbuf_adds(&x, extra);
	if (!x.overflow) {
		ev.extra_json = x.p;
		event_emit(&ev);
	}
	sbuf_free(&x);
}

static void
record(struct execmon *m, struct pending *p, bool confirmed)
{
	struct seen s;

	observe(p, confirmed, &s);
	emit(m, p, &s);
}

static void
pending_free(struct pending *p)
{
	free(p->path);
	free(p->argv_json);
	free(p);
}

/* 1: the exec happened; 0: not (yet); -1: the process is gone. */
static int
exec_happened(const struct pending *p)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
	if (stat(path, &st) < 0)
		return -1;
	if (st.st_dev != p->dev || st.st_ino != p->ino)
		return 1;
	return arg_start(p->pid) != p->arg_start ? 1 : 0;
}

/*
 * Settle the pending call of pid (if any): the process is stopped in a new
 * notification, so what /proc shows now is final for the previous call.
 * It is read now, and recorded (m->late) once the notification is
 * answered: the process need not wait for the audit trail's write.
 */
static void
settle(struct execmon *m, pid_t pid)
{
	for (struct pending **pp = &m->pending; *pp; pp = &(*pp)->next) {
		struct pending *p = *pp;
		int r;

		if (p->pid != pid)
			continue;
		*pp = p->next;
		m->npending--;
		r = exec_happened(p);
		/* r == 0 at a new call: the previous exec failed; nothing ran. */
		if (r == 0) {
			pending_free(p);
			return;
		}
		observe(p, r == 1, &m->late_seen);
		m->late = p;
		return;
	}
}

static void
on_exec_call(struct execmon *m, const struct seccomp_notif *req, bool at)
{
	struct pending *p;
	char path[64];
	struct stat st;
	int mem;
	unsigned long long path_addr = at ? req->data.args[1] : req->data.args[0];
	unsigned long long argv_addr = at ? req->data.args[2] : req->data.args[1];

	settle(m, (pid_t)req->pid);
	p = xcalloc(1, sizeof(*p));
	p->pid = (pid_t)req->pid;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
	if (stat(path, &st) == 0) {
		p->dev = st.st_dev;
		p->ino = st.st_ino;
	}
	p->arg_start = arg_start(p->pid);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)p->pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (mem >= 0) {
		p->path = read_string(mem, path_addr, MAX_PATH_READ);
		p->argv_json = read_argv(mem, argv_addr);
		close(mem);
	}
	/* The pid must still be the caller: otherwise what was read is someone else's. */
	if (ioctl(m->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0) {
		pending_free(p);
		return;
	}
	if (m->npending >= MAX_PENDING) {
		/* Bounded: record at once rather than keep more state. */
		record(m, p, false);
		pending_free(p);
		return;
	}
	p->next = m->pending;
	m->pending = p;
	m->npending++;
}

static void
on_notify(struct ev_io *io, uint32_t events)
{
	struct execmon *m = io->arg;

	if (events & (EPOLLHUP | EPOLLERR)) {
		/* No process is left under the filter. */
		evloop_del(m->loop, &m->io);
		return;
	}
	memset(m->req, 0, m->req_size);
	if (ioctl(m->fd, SECCOMP_IOCTL_NOTIF_RECV, m->req) < 0)
		return;	/* ENOENT: the caller died meanwhile */
	if (m->req->data.nr == SYS_execve)
		on_exec_call(m, m->req, false);
	else if (m->req->data.nr == SYS_execveat)
		on_exec_call(m, m->req, true);
	else if (m->req->data.nr == SYS_exit_group)
		settle(m, (pid_t)m->req->pid);
	memset(m->resp, 0, m->resp_size);
	m->resp->id = m->req->id;
	m->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	if (ioctl(m->fd, SECCOMP_IOCTL_NOTIF_SEND, m->resp) < 0 && errno != ENOENT)
		log_warn("exec monitor: answer");
	if (m->late) {
		emit(m, m->late, &m->late_seen);
		pending_free(m->late);
		m->late = NULL;
	}
}

struct execmon *
execmon_start(struct evloop *l, int fd, const char *policy_hash, uint64_t *revision,
    struct werr *err)
{
	struct execmon *m = xcalloc(1, sizeof(*m));
	struct seccomp_notif_sizes sizes;

	m->loop = l;
	m->fd = fd;
	m->policy_hash = policy_hash;
	m->revision = revision;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) {
		werr_sys(err, "exec monitor: notification sizes");
		goto fail;
	}
	/* The kernel's structs may be larger than our headers' (newer kernel). */
	m->req_size = sizes.seccomp_notif > sizeof(*m->req) ? sizes.seccomp_notif : sizeof(*m->req);
	m->resp_size = sizes.seccomp_notif_resp > sizeof(*m->resp) ? sizes.seccomp_notif_resp :
	    sizeof(*m->resp);
	m->req = xcalloc(1, m->req_size);
	m->resp = xcalloc(1, m->resp_size);
	if (evloop_add(l, &m->io, fd, EPOLLIN, on_notify, m) < 0) {
		werr_sys(err, "exec monitor: watch");
		goto fail;
	}
	return m;
fail:
	close(fd);
	free(m->req);
	free(m->resp);
	free(m);
	return NULL;
}

void
execmon_tick(struct execmon *m)
{
	if (!m)
		return;
	for (struct pending **pp = &m->pending; *pp;) {
		struct pending *p = *pp;
		int r = exec_happened(p);

		if (r == 0) {
			pp = &p->next;
			continue;
		}
		record(m, p, r == 1);
		*pp = p->next;
		pending_free(p);
		m->npending--;
	}
}

void
execmon_stop(struct execmon *m)
{
	if (!m)
		return;
	/* Whatever is still pending is recorded as it stands. */
	while (m->pending) {
		struct pending *p = m->pending;
		m->pending = p->next;
		record(m, p, exec_happened(p) == 1);
		pending_free(p);
	}
	if (m->io.added)
		evloop_del(m->loop, &m->io);
	close(m->fd);
	free(m->req);
	free(m->resp);
	free(m);
}
