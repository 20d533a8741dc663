/*
 * The classifier pool (guard_client.h) on the supervisor's event loop.
 *
 * Shape.  Each classifier is a child process at the other end of a
 * socketpair; the pool owns the parent end (non-blocking), a pidfd to
 * learn of the child's exit, an output buffer and an input buffer.  A call
 * gets one id, sent to every classifier with the same body; each
 * classifier's answer fills that call's slot for it.  Per classifier, the
 * ids it owes an answer for are kept in a sorted array (ids only grow, so
 * appending keeps it sorted): an entry either points at its call, or --
 * once the call was cancelled or its deadline passed -- at nothing, so
 * the late answer is recognised and dropped instead of being taken for a
 * reply to a request never made.
 *
 * Failing closed.  Every way a slot can end other than a well-formed reply
 * (timeout, crash, a malformed or oversize frame, an unknown id, a
 * classifier not running, a write that fails, a full queue) ends it with
 * GUARD_ERROR, and one ERROR slot makes the whole verdict ERROR, whose
 * tier is also "restricted" so a caller that only reads the tier still
 * routes as if the worst were in the body.  A classifier that breaks the
 * protocol is killed at once: nothing it says afterwards can be trusted.
 *
 * Peer authentication.  SO_PEERCRED cannot serve here: on a socketpair it
 * reports the process that created the pair -- the supervisor itself --
 * not the child.  Instead the pool sets SO_PASSCRED on its end before the
 * child exists, so the kernel attaches the writer's pid to every chunk
 * read (and never merges chunks from different writers into one read);
 * every read must come from the pid the spawner returned.  A descendant
 * that inherited fd 3 cannot speak for the classifier.
 *
 * Deferred completion.  done never runs inside guard_classify (the caller
 * may hold locks or half-built state): completed calls go on a ready list
 * that is drained at the end of the pool's own loop callbacks, and an
 * eventfd wakes the loop when guard_classify itself completed a call (no
 * classifier running).  Timers (deadlines, handshake timeouts, respawn
 * delays, hung classifiers) share one timerfd armed to the earliest.
 *
 * No busy-polling.  Polling the loop for up to 100 us after handing a
 * request over, instead of sleeping until the verdict wakes us, was tried
 * on a 2-vCPU VM (the router benchmark, docs/benchmarks.md).  With the
 * classifier held on the other vCPU the verdict came ~20 us sooner; left
 * to the scheduler, requests as a whole were not faster (28 alternating
 * runs: median added latency 159 and 136 us spinning, 139 and 132 us
 * not).  On that VM a hand-off between vCPUs costs ~25 us and one on the
 * same vCPU ~4 us, and a supervisor that never sleeps keeps the exchange
 * from running on one vCPU, one process after the other.
 */
#include "guard_client.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/util.h"

#define MS (1000000ull)
/* A classifier must answer the hello within this (a Python start-up takes ~30 ms). */
#define HELLO_TIMEOUT_MS 10000
/* An abandoned request still unanswered this long after its deadline: the classifier hangs. */
#define HUNG_MS 30000
/* Requests one classifier may owe answers for, abandoned ones included. */
#define MAX_INFLIGHT 4096
/* Bytes queued for one classifier (requests are copied in whole). */
#define OUT_MAX (256u << 20)
/* Replies have no body: a frame is at most the length fields and a 64 KiB header. */
#define IN_CAP (8 + GUARD_MAX_HEADER)
#define RESPAWN_FIRST_MS 100
#define RESPAWN_MAX_MS 5000
#define RESPAWN_STABLE_MS 10000

enum cl_state {
	CL_DOWN,	/* no process; respawn_at_ns says when to start one */
	CL_STARTING,	/* spawned, hello sent, no hello reply yet */
	CL_READY,
	CL_DYING,	/* killed or disconnected; waiting to reap it */
};

/* A request a classifier owes an answer for. */
struct pending {
	uint64_t id;
	struct guard_call *call;	/* NULL: abandoned (cancelled or past its deadline) */
	uint64_t deadline_ns;
};

struct classifier {
	struct guard_pool *pool;
	unsigned idx;
	char *name;
	struct strv argv;
	struct guard_spec spec;		/* name and argv point at the copies above */
	enum cl_state state;
	pid_t pid;
	int fd, pidfd;
	struct ev_io io, pidio;
	unsigned char *in;		/* IN_CAP bytes */
	size_t inlen;
	struct sbuf out;		/* bytes to write; out.p + outoff is the next */
	size_t outoff;
	struct sbuf held;		/* requests waiting for the hello reply */
	struct pending *pend;
	size_t npend, pendcap;
	uint64_t started_ns, hello_deadline_ns, respawn_at_ns;
	unsigned quick_deaths;		/* deaths in a row within RESPAWN_STABLE_MS of starting */
	bool reaping;			/* draining the socket of a child that exited */
	const char *kill_note;		/* why the pool killed it, for the reason of its exit */
	char hello_name[64], hello_version[32];
};

struct slot {
	bool done;
	unsigned deadline_ms;
	uint64_t deadline_ns;
	uint64_t latency_us;
	enum guard_decision decision;
	enum tier tier;
	struct guard_reply reply;	/* findings and redactions owned */
	char reason[256];
};

struct guard_call {
	struct guard_pool *pool;
	struct guard_call *prev, *next;	/* every call not yet delivered */
	struct guard_call *ready_next;
	bool ready;
	uint64_t id, start_ns;
	size_t body_len;
	guard_done_fn done;
	void *arg;
	unsigned unresolved;
	/* One per classifier of the pool (pool->n, fixed when the pool is made). */
	struct slot slot[];
};

struct guard_pool {
	struct evloop *loop;
	guard_spawn_fn spawn;
	void *spawn_arg;
	guard_event_fn on_event;
	void *event_arg;
	struct classifier cl[GUARD_POOL_MAX];
	unsigned n;
	uint64_t next_id;
	int timerfd, eventfd;
	struct ev_io timer_io, defer_io;
	uint64_t armed_ns;		/* when the timerfd fires; 0 = disarmed */
	bool defer_signalled;
	struct guard_call *calls;
	struct guard_call *ready_head, *ready_tail;
	unsigned restarts;
};

static void cl_kill(struct classifier *cl, const char *reason, const char *note);
static int cl_start(struct classifier *cl, bool restart, struct werr *err);

/* ---- events, timers, completion ---- */

static void __attribute__((format(printf, 3, 4)))
emit(struct classifier *cl, const char *event, const char *fmt, ...)
{
	struct guard_pool *p = cl->pool;
	char detail[512];
	va_list ap;

	if (!p->on_event)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	p->on_event(p->event_arg, cl->name, event, detail);
}

/* Make the timerfd fire no later than t (CLOCK_MONOTONIC ns). */
static void
timer_want(struct guard_pool *p, uint64_t t)
{
	struct itimerspec its = { 0 };

	if (t == 0)
		t = 1;	/* an absolute 0 would disarm the timer */
	if (p->armed_ns != 0 && p->armed_ns <= t)
		return;
	its.it_value.tv_sec = (time_t)(t / 1000000000ull);
	its.it_value.tv_nsec = (long)(t % 1000000000ull);
	if (timerfd_settime(p->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		p->armed_ns = t;
}

static void
signal_defer(struct guard_pool *p)
{
	uint64_t one = 1;

	if (p->defer_signalled)
		return;
	if (write(p->eventfd, &one, sizeof(one)) == (ssize_t)sizeof(one))
		p->defer_signalled = true;
}

static void
make_ready(struct guard_call *c)
{
	struct guard_pool *p = c->pool;

	c->ready = true;
	c->ready_next = NULL;
	if (p->ready_tail)
		p->ready_tail->ready_next = c;
	else
		p->ready_head = c;
	p->ready_tail = c;
}

static void
slot_finish(struct guard_call *c, unsigned i)
{
	struct slot *s = &c->slot[i];

	s->done = true;
	s->latency_us = (now_ns() - c->start_ns) / 1000;
	if (--c->unresolved == 0)
		make_ready(c);
}

static void __attribute__((format(printf, 3, 4)))
slot_fail(struct guard_call *c, unsigned i, const char *fmt, ...)
{
	struct slot *s = &c->slot[i];
	va_list ap;

	if (s->done)
		return;
	s->decision = GUARD_ERROR;
	s->tier = TIER_RESTRICTED;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	slot_finish(c, i);
}

/* Take a decoded reply (its arrays move into the slot). */
static void
slot_reply(struct guard_call *c, unsigned i, struct guard_reply *r)
{
	struct slot *s = &c->slot[i];

	if (s->done) {
		guard_reply_free(r);
		return;
	}
	s->reply = *r;
	memset(r, 0, sizeof(*r));
	s->decision = s->reply.decision;
	s->tier = s->reply.tier;
	_Static_assert(sizeof(s->reason) == sizeof(s->reply.reason), "reason sizes");
	memcpy(s->reason, s->reply.reason, sizeof(s->reason));
	slot_finish(c, i);
}

static void
call_unlink(struct guard_call *c)
{
	struct guard_pool *p = c->pool;

	if (c->prev)
		c->prev->next = c->next;
	else
		p->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void
call_free(struct guard_call *c)
{
	for (unsigned i = 0; i < c->pool->n; i++)
		guard_reply_free(&c->slot[i].reply);
	free(c);
}

/* ---- merging the chain's answers ---- */

static int
cmp_finding(const void *a, const void *b)
{
	const struct guard_finding *x = a, *y = b;
	int d;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	if ((d = strcmp(x->cls, y->cls)) != 0)
		return d;
	return strcmp(x->type, y->type);
}

/* A redaction tagged with the classifier that asked for it, to keep the first one's placeholder. */
struct tagged_redaction {
	struct guard_redaction r;
	unsigned who;
	size_t seq;
};

static int
cmp_redaction(const void *a, const void *b)
{
	const struct tagged_redaction *x = a, *y = b;

	if (x->r.start != y->r.start)
		return x->r.start < y->r.start ? -1 : 1;
	if (x->who != y->who)
		return x->who < y->who ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
add_reason(char *dst, size_t dstlen, const char *s)
{
	size_t n = strlen(dst);

	if (n + 3 >= dstlen)
		return;
	snprintf(dst + n, dstlen - n, "%s%s", n ? "; " : "", s);
}

/* A bounded copy of a NUL-terminated name (snprintf "%s", without the formatter). */
static void
copy_name(char *dst, size_t dstlen, const char *src)
{
	size_t n = strnlen(src, dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
merge(const struct guard_call *c, struct guard_verdict *v)
{
	const struct guard_pool *p = c->pool;
	bool any_error = false, any_deny = false;
	char errors[sizeof(v->reason)] = "", denials[sizeof(v->reason)] = "";
	size_t nf = 0, nr = 0;
	struct tagged_redaction *tr;

	memset(v, 0, sizeof(*v));
	v->tier = TIER_PUBLIC;
	for (unsigned i = 0; i < p->n; i++) {
		const struct slot *s = &c->slot[i];
		char line[sizeof(s->reason) + 96];

		copy_name(v->per[i].name, sizeof(v->per[i].name), p->cl[i].name);
		v->per[i].decision = s->decision;
		v->per[i].tier = s->tier;
		v->per[i].latency_us = s->latency_us;
		if (s->decision == GUARD_ERROR) {
			any_error = true;
			if (s->reply.id == c->id && s->reason[0])
				snprintf(line, sizeof(line), "classifier %s failed: %s",
				    p->cl[i].name, s->reason);
			else if (s->reply.id == c->id)
				snprintf(line, sizeof(line), "classifier %s failed", p->cl[i].name);
			else
				snprintf(line, sizeof(line), "%s", s->reason);
			add_reason(errors, sizeof(errors), line);
			continue;
		}
		v->tier = tier_max(v->tier, s->tier);
		if (s->decision == GUARD_DENY) {
			any_deny = true;
			snprintf(line, sizeof(line), "classifier %s denied the request%s%s",
			    p->cl[i].name, s->reason[0] ? ": " : "", s->reason);
			add_reason(denials, sizeof(denials), line);
		}
		nf += s->reply.nfindings;
		nr += s->reply.nredactions;
	}
	v->nper = p->n;
	if (p->n == 0) {
		any_error = true;
		snprintf(errors, sizeof(errors), "no classifier is configured");
	}
	if (any_error) {
		v->decision = GUARD_ERROR;
		v->tier = TIER_RESTRICTED;
		snprintf(v->reason, sizeof(v->reason), "%s", errors);
	} else if (any_deny) {
		v->decision = GUARD_DENY;
		snprintf(v->reason, sizeof(v->reason), "%s", denials);
	} else {
		v->decision = GUARD_ALLOW;
	}

	if (nf) {
		v->findings = xcalloc(nf, sizeof(*v->findings));
		for (unsigned i = 0; i < p->n; i++) {
			const struct slot *s = &c->slot[i];

			if (s->decision == GUARD_ERROR || !s->reply.nfindings)
				continue;
			memcpy(v->findings + v->nfindings, s->reply.findings,
			    s->reply.nfindings * sizeof(*v->findings));
			v->nfindings += s->reply.nfindings;
		}
		qsort(v->findings, v->nfindings, sizeof(*v->findings), cmp_finding);
	}
	if (!nr)
		return;
	/* Union of every classifier's spans; overlapping ones become one, the first placeholder kept. */
	tr = xcalloc(nr, sizeof(*tr));
	nr = 0;
	for (unsigned i = 0; i < p->n; i++) {
		const struct slot *s = &c->slot[i];

		if (s->decision == GUARD_ERROR)
			continue;
		for (size_t k = 0; k < s->reply.nredactions; k++) {
			tr[nr].r = s->reply.redactions[k];
			tr[nr].who = i;
			tr[nr].seq = k;
			nr++;
		}
	}
	qsort(tr, nr, sizeof(*tr), cmp_redaction);
	v->redactions = xcalloc(nr, sizeof(*v->redactions));
	for (size_t k = 0; k < nr; k++) {
		struct guard_redaction *last = v->nredactions ? &v->redactions[v->nredactions - 1]
							      : NULL;

		if (last && tr[k].r.start < last->end) {
			if (tr[k].r.end > last->end)
				last->end = tr[k].r.end;
			continue;
		}
		v->redactions[v->nredactions++] = tr[k].r;
	}
	free(tr);
}

/* Run done for every completed call.  Called last in the pool's loop callbacks. */
static void
deliver_ready(struct guard_pool *p)
{
	struct guard_call *c;

	while ((c = p->ready_head)) {
		struct guard_verdict v;

		p->ready_head = c->ready_next;
		if (!p->ready_head)
			p->ready_tail = NULL;
		call_unlink(c);
		merge(c, &v);
		/* done may call guard_classify or guard_cancel: the lists are consistent here. */
		c->done(c->arg, &v);
		free(v.findings);
		free(v.redactions);
		call_free(c);
	}
}

/* ---- what a classifier owes ---- */

static ssize_t
pend_find(const struct classifier *cl, uint64_t id)
{
	size_t lo = 0, hi = cl->npend;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cl->pend[mid].id == id)
			return (ssize_t)mid;
		if (cl->pend[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void
pend_add(struct classifier *cl, uint64_t id, struct guard_call *c, uint64_t deadline_ns)
{
	if (cl->npend == cl->pendcap) {
		cl->pendcap = cl->pendcap ? cl->pendcap * 2 : 16;
		cl->pend = xrealloc(cl->pend, cl->pendcap * sizeof(*cl->pend));
	}
	cl->pend[cl->npend++] = (struct pending){ id, c, deadline_ns };
}

static void
pend_remove(struct classifier *cl, size_t i)
{
	memmove(&cl->pend[i], &cl->pend[i + 1], (cl->npend - i - 1) * sizeof(*cl->pend));
	cl->npend--;
}

/* The call no longer waits for this classifier's answer, which may still come. */
static void
pend_abandon(struct classifier *cl, uint64_t id)
{
	ssize_t i = pend_find(cl, id);

	if (i < 0)
		return;
	cl->pend[i].call = NULL;
	timer_want(cl->pool, cl->pend[i].deadline_ns + HUNG_MS * MS);
}

/* Fail every call waiting for this classifier. */
static void
cl_fail_pending(struct classifier *cl, const char *reason)
{
	for (size_t i = 0; i < cl->npend; i++)
		if (cl->pend[i].call)
			slot_fail(cl->pend[i].call, cl->idx, "%s", reason);
	cl->npend = 0;
}

/* ---- the connection ---- */

static void
buf_reset(struct sbuf *b)
{
	/* A large request leaves a large buffer: give it back. */
	if (b->cap > (1u << 20)) {
		size_t max = b->max;

		sbuf_free(b);
		sbuf_init(b, max);
	}
	b->len = 0;
	b->overflow = false;
}

static void
cl_close_socket(struct classifier *cl)
{
	if (cl->fd >= 0) {
		evloop_del(cl->pool->loop, &cl->io);
		close(cl->fd);
		cl->fd = -1;
	}
	cl->inlen = 0;
	cl->outoff = 0;
	buf_reset(&cl->out);
	buf_reset(&cl->held);
}

/*
 * Kill the child and stop talking to it; the pidfd says when it is gone.
 * With a reason, its calls fail now with that reason; without, they fail
 * when it is reaped, with how it ended (note says why it was killed).
 */
static void
cl_kill(struct classifier *cl, const char *reason, const char *note)
{
	if (cl->state != CL_STARTING && cl->state != CL_READY)
		return;
	if (reason) {
		emit(cl, "killed", "%s", reason);
		cl_fail_pending(cl, reason);
	}
	cl->kill_note = note;
	if (syscall(SYS_pidfd_send_signal, cl->pidfd, SIGKILL, NULL, 0) < 0 && errno == ENOSYS)
		kill(cl->pid, SIGKILL);
	cl_close_socket(cl);
	cl->state = CL_DYING;
}

static void
cl_want_out(struct classifier *cl, bool want)
{
	evloop_mod(cl->pool->loop, &cl->io, EPOLLIN | (want ? EPOLLOUT : 0));
}

/* Write what is queued, as far as the socket takes it. */
static void
cl_flush(struct classifier *cl)
{
	while (cl->outoff < cl->out.len) {
		ssize_t w = send(cl->fd, cl->out.p + cl->outoff, cl->out.len - cl->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				cl_want_out(cl, true);
				return;
			}
			cl_kill(cl, NULL, errno == EPIPE ? "closed its connection"
							 : "could not be written to");
			return;
		}
		cl->outoff += (size_t)w;
	}
	cl->outoff = 0;
	buf_reset(&cl->out);
	cl_want_out(cl, false);
}

static void
cl_handle_hello(struct classifier *cl, const struct guard_frame *f)
{
	struct guard_hello_reply h;
	char why[200], reason[400];

	if (guard_hello_reply_decode(f, &h, why, sizeof(why)) < 0) {
		snprintf(reason, sizeof(reason), "classifier %s answered the handshake with a "
		    "malformed message: %s", cl->name, why);
		cl_kill(cl, reason, NULL);
		return;
	}
	if (h.error[0] || h.version != GUARD_PROTO_VERSION) {
		if (h.error[0])
			snprintf(reason, sizeof(reason), "classifier %s refused the handshake: %s",
			    cl->name, h.error);
		else
			snprintf(reason, sizeof(reason), "classifier %s chose protocol version %d; "
			    "the proxy offered %d", cl->name, h.version, GUARD_PROTO_VERSION);
		emit(cl, "refused", "%s", reason);
		cl_kill(cl, reason, NULL);
		return;
	}
	cl->state = CL_READY;
	snprintf(cl->hello_name, sizeof(cl->hello_name), "%s", h.name);
	snprintf(cl->hello_version, sizeof(cl->hello_version), "%s", h.classifier_version);
	emit(cl, "ready", "%s %s, protocol %d, pid %d", h.name, h.classifier_version, h.version,
	    (int)cl->pid);
	if (cl->held.len) {
		sbuf_add(&cl->out, cl->held.p, cl->held.len);
		buf_reset(&cl->held);
		if (cl->out.overflow) {
			snprintf(reason, sizeof(reason), "classifier %s: too much queued during "
			    "its start", cl->name);
			cl_kill(cl, reason, NULL);
			return;
		}
	}
	cl_flush(cl);
}

static void
cl_handle_reply(struct classifier *cl, const struct guard_frame *f)
{
	struct guard_reply r;
	struct guard_call *c;
	char why[200], reason[400];
	uint64_t id;
	ssize_t i;

	/*
	 * A classifier answers in order nearly always: decode the reply
	 * against the oldest request it owes (its spans are checked against
	 * that body), which parses the header once.  Anything else -- another
	 * id, an abandoned request, a malformed reply -- takes the general
	 * path below, which finds the request by id first.
	 */
	if (cl->npend > 0 && cl->pend[0].call &&
	    guard_reply_decode(f, cl->pend[0].call->body_len, &r, why, sizeof(why)) == 0) {
		if (r.id == cl->pend[0].id) {
			c = cl->pend[0].call;
			pend_remove(cl, 0);
			slot_reply(c, cl->idx, &r);
			return;
		}
		guard_reply_free(&r);
	}
	if (guard_reply_peek_id(f, &id) < 0) {
		char peek[200] = "";

		/* Say what was wrong with it: decode it for its complaint. */
		guard_reply_decode(f, 0, &r, peek, sizeof(peek));
		guard_reply_free(&r);
		snprintf(reason, sizeof(reason), "classifier %s sent a reply without a readable "
		    "id: %s", cl->name, peek);
		cl_kill(cl, reason, NULL);
		return;
	}
	i = pend_find(cl, id);
	if (i < 0) {
		snprintf(reason, sizeof(reason), "classifier %s answered request %llu, which it "
		    "was not asked or already answered", cl->name, (unsigned long long)id);
		cl_kill(cl, reason, NULL);
		return;
	}
	c = cl->pend[i].call;
	pend_remove(cl, (size_t)i);
	if (!c)
		return;		/* the answer to an abandoned request: too late to matter */
	if (guard_reply_decode(f, c->body_len, &r, why, sizeof(why)) < 0) {
		snprintf(reason, sizeof(reason), "classifier %s sent a malformed reply: %s",
		    cl->name, why);
		slot_fail(c, cl->idx, "%s", reason);
		cl_kill(cl, reason, NULL);
		return;
	}
	slot_reply(c, cl->idx, &r);
}

/* The kernel's word on who wrote the bytes just read; -1 when it is not the child. */
static int
check_writer(struct classifier *cl, struct msghdr *m, char *reason, size_t reasonlen)
{
	struct cmsghdr *cm;
	struct ucred uc;

	if (m->msg_flags & MSG_CTRUNC) {
		snprintf(reason, reasonlen, "classifier %s sent ancillary data (file "
		    "descriptors?) on its socket", cl->name);
		return -1;
	}
	for (cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_CREDENTIALS ||
		    cm->cmsg_len != CMSG_LEN(sizeof(uc)))
			continue;
		memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
		if (uc.pid == cl->pid)
			return 0;
		snprintf(reason, reasonlen, "data on classifier %s's socket came from pid %d, "
		    "not from the classifier (pid %d)", cl->name, (int)uc.pid, (int)cl->pid);
		return -1;
	}
	snprintf(reason, reasonlen, "data on classifier %s's socket came without the "
	    "writer's credentials", cl->name);
	return -1;
}

/*
 * Read once and handle every complete frame.  Returns 1 when it read
 * something, 0 when there was nothing to read, -1 when the connection is
 * gone (closed, broken, or the classifier was killed for what it sent).
 */
static int
cl_read(struct classifier *cl)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { cl->in + cl->inlen, IN_CAP - cl->inlen };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
	    .msg_controllen = sizeof(ctl) };
	char reason[400];
	size_t off = 0;
	ssize_t n;

	do
		n = recvmsg(cl->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		/* Its exit is the better explanation: calls fail when it is reaped. */
		if (cl->reaping)
			cl_close_socket(cl);
		else
			cl_kill(cl, NULL, n == 0 ? "closed its connection" : "broke its connection");
		return -1;
	}
	if (check_writer(cl, &m, reason, sizeof(reason)) < 0) {
		cl_kill(cl, reason, NULL);
		return -1;
	}
	cl->inlen += (size_t)n;
	for (;;) {
		struct guard_frame f;
		const char *why = NULL;
		ssize_t k = guard_frame_parse(cl->in + off, cl->inlen - off, 4 + GUARD_MAX_HEADER,
		    &f, &why);

		if (k < 0) {
			snprintf(reason, sizeof(reason), "classifier %s sent a malformed frame: %s "
			    "(replies are a header of at most 64 KiB and no body)", cl->name, why);
			cl_kill(cl, reason, NULL);
			return -1;
		}
		if (k == 0)
			break;
		if (cl->state == CL_STARTING)
			cl_handle_hello(cl, &f);
		else
			cl_handle_reply(cl, &f);
		if (cl->state != CL_READY)
			return -1;
		off += (size_t)k;
	}
	memmove(cl->in, cl->in + off, cl->inlen - off);
	cl->inlen -= off;
	return 1;
}

static void
on_socket(struct ev_io *io, uint32_t events)
{
	struct classifier *cl = io->arg;
	struct guard_pool *p = cl->pool;

	if ((events & EPOLLOUT) && (cl->state == CL_READY || cl->state == CL_STARTING))
		cl_flush(cl);
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    (cl->state == CL_READY || cl->state == CL_STARTING))
		cl_read(cl);
	deliver_ready(p);
}

/* ---- life and death ---- */

static void
describe_exit(const siginfo_t *si, char *out, size_t outlen)
{
	if (si->si_code == CLD_EXITED)
		snprintf(out, outlen, "exited (status %d)", si->si_status);
	else if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED)
		snprintf(out, outlen, "killed by signal %d%s", si->si_status,
		    si->si_code == CLD_DUMPED ? " (core dumped)" : "");
	else
		snprintf(out, outlen, "ended (code %d, status %d)", si->si_code, si->si_status);
}

static void
schedule_respawn(struct classifier *cl)
{
	struct guard_pool *p = cl->pool;
	uint64_t now = now_ns(), delay_ms;
	struct werr err;

	if (now - cl->started_ns >= RESPAWN_STABLE_MS * MS)
		cl->quick_deaths = 0;
	if (cl->quick_deaths == 0)
		delay_ms = 0;
	else if (cl->quick_deaths > 6)
		delay_ms = RESPAWN_MAX_MS;
	else
		delay_ms = RESPAWN_FIRST_MS << (cl->quick_deaths - 1);
	if (delay_ms > RESPAWN_MAX_MS)
		delay_ms = RESPAWN_MAX_MS;
	cl->quick_deaths++;
	cl->state = CL_DOWN;
	if (delay_ms == 0) {
		if (cl_start(cl, true, &err) == 0)
			return;
		emit(cl, "spawn_failed", "%s", err.msg);
		schedule_respawn(cl);	/* quick_deaths > 0 now: a delay, no recursion beyond one */
		return;
	}
	cl->respawn_at_ns = now + delay_ms * MS;
	timer_want(p, cl->respawn_at_ns);
}

static void
on_pidfd(struct ev_io *io, uint32_t events)
{
	struct classifier *cl = io->arg;
	struct guard_pool *p = cl->pool;
	siginfo_t si;
	char how[96], detail[200], reason[400];

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)cl->pidfd, &si, WEXITED | WNOHANG) < 0) {
		if (errno == EINTR)
			return;
		/* Someone else reaped it (the supervisor must not): report what we know. */
		snprintf(how, sizeof(how), "exited (not reaped by the pool: %s)", strerror(errno));
	} else if (si.si_pid == 0) {
		return;		/* not yet: a stale event for a previous child */
	} else {
		describe_exit(&si, how, sizeof(how));
	}
	/* Replies it wrote before it exited still count. */
	if (cl->fd >= 0) {
		cl->reaping = true;
		while (cl->fd >= 0 && cl_read(cl) > 0)
			;
		cl->reaping = false;
	}
	if (cl->kill_note && si.si_code == CLD_KILLED && si.si_status == SIGKILL)
		snprintf(detail, sizeof(detail), "%s (killed)", cl->kill_note);
	else
		snprintf(detail, sizeof(detail), "%s", how);
	snprintf(reason, sizeof(reason), "classifier %s %s", cl->name, detail);
	cl_fail_pending(cl, reason);
	cl_close_socket(cl);
	evloop_del(p->loop, &cl->pidio);
	close(cl->pidfd);
	cl->pidfd = -1;
	cl->pid = 0;
	cl->kill_note = NULL;
	emit(cl, "exited", "%s", detail);
	schedule_respawn(cl);
	deliver_ready(p);
}

/*
 * Start the child: socketpair (our end non-blocking, with SO_PASSCRED set
 * before the child can write), spawn, pidfd, hello.
 */
static int
cl_start(struct classifier *cl, bool restart, struct werr *err)
{
	struct guard_pool *p = cl->pool;
	int sv[2], one = 1, pidfd;
	pid_t pid = 0;

	cl->started_ns = now_ns();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return werr_sys(err, "socketpair");
	/* The spawner dup2()s the child's end to 3; a dup2 onto itself would keep O_CLOEXEC. */
	if (sv[1] == 3) {
		int d = fcntl(sv[1], F_DUPFD_CLOEXEC, 4);

		if (d < 0) {
			werr_sys(err, "fcntl");
			goto err_close;
		}
		close(sv[1]);
		sv[1] = d;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		werr_sys(err, "classifier socket");
		goto err_close;
	}
	if (p->spawn(p->spawn_arg, &cl->spec, sv[1], &pid, err) < 0 || pid <= 0) {
		if (pid <= 0 && !err->msg[0])
			werr_set(err, "the spawner returned no pid");
		goto err_close;
	}
	close(sv[1]);
	sv[1] = -1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		werr_sys(err, "pidfd_open (Linux 5.3 or later is needed)");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto err_close;
	}
	cl->pid = pid;
	cl->pidfd = pidfd;
	cl->fd = sv[0];
	cl->inlen = 0;
	if (evloop_add(p->loop, &cl->io, cl->fd, EPOLLIN, on_socket, cl) < 0 ||
	    evloop_add(p->loop, &cl->pidio, cl->pidfd, EPOLLIN, on_pidfd, cl) < 0) {
		werr_sys(err, "epoll");
		evloop_del(p->loop, &cl->io);
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){ 0 }, WEXITED);
		close(pidfd);
		cl->fd = cl->pidfd = -1;
		cl->pid = 0;
		goto err_close;
	}
	cl->state = CL_STARTING;
	cl->hello_deadline_ns = now_ns() + HELLO_TIMEOUT_MS * MS;
	timer_want(p, cl->hello_deadline_ns);
	if (restart)
		p->restarts++;
	emit(cl, restart ? "restarted" : "started", "pid %d", (int)pid);
	guard_hello_encode(&cl->out);
	cl_flush(cl);
	return 0;
err_close:
	if (sv[0] >= 0 && sv[0] != cl->fd)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return -1;
}

/* ---- timers ---- */

static void
on_timer(struct ev_io *io, uint32_t events)
{
	struct guard_pool *p = io->arg;
	uint64_t ticks, now = now_ns(), next = 0;
	char reason[400];

#define EARLIER(t) do { if (next == 0 || (t) < next) next = (t); } while (0)
	if (read(p->timerfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	p->armed_ns = 0;
	for (struct guard_call *c = p->calls; c; c = c->next) {
		for (unsigned i = 0; i < p->n; i++) {
			struct slot *s = &c->slot[i];

			if (s->done)
				continue;
			if (s->deadline_ns > now) {
				EARLIER(s->deadline_ns);
				continue;
			}
			pend_abandon(&p->cl[i], c->id);
			slot_fail(c, i, "classifier %s did not answer within %u ms", p->cl[i].name,
			    s->deadline_ms);
		}
	}
	for (unsigned i = 0; i < p->n; i++) {
		struct classifier *cl = &p->cl[i];

		if (cl->state == CL_STARTING) {
			if (cl->hello_deadline_ns <= now) {
				snprintf(reason, sizeof(reason), "classifier %s did not answer the "
				    "handshake within %d ms", cl->name, HELLO_TIMEOUT_MS);
				cl_kill(cl, reason, NULL);
			} else {
				EARLIER(cl->hello_deadline_ns);
			}
		} else if (cl->state == CL_DOWN) {
			if (cl->respawn_at_ns <= now) {
				struct werr err;

				if (cl_start(cl, true, &err) < 0) {
					emit(cl, "spawn_failed", "%s", err.msg);
					schedule_respawn(cl);
				}
			} else {
				EARLIER(cl->respawn_at_ns);
			}
		} else if (cl->state == CL_READY) {
			for (size_t k = 0; k < cl->npend; k++) {
				uint64_t hung = cl->pend[k].deadline_ns + HUNG_MS * MS;

				if (cl->pend[k].call)
					continue;
				if (hung > now) {
					EARLIER(hung);
					continue;
				}
				snprintf(reason, sizeof(reason), "classifier %s has not answered "
				    "request %llu for %d s past its deadline", cl->name,
				    (unsigned long long)cl->pend[k].id, HUNG_MS / 1000);
				cl_kill(cl, reason, NULL);
				break;
			}
		}
	}
#undef EARLIER
	if (next)
		timer_want(p, next);
	deliver_ready(p);
}

static void
on_defer(struct ev_io *io, uint32_t events)
{
	struct guard_pool *p = io->arg;
	uint64_t v;

	if (read(p->eventfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	p->defer_signalled = false;
	deliver_ready(p);
}

/* ---- the API ---- */

struct guard_pool *
guard_pool_new(struct evloop *loop, const struct guard_spec *specs, size_t n,
    guard_spawn_fn spawn, void *spawn_arg, guard_event_fn on_event, void *event_arg,
    struct werr *err)
{
	struct guard_pool *p;

	if (n > GUARD_POOL_MAX) {
		werr_set(err, "at most %d classifiers can be chained (%zu given)", GUARD_POOL_MAX, n);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->spawn = spawn;
	p->spawn_arg = spawn_arg;
	p->on_event = on_event;
	p->event_arg = event_arg;
	p->timerfd = p->eventfd = -1;
	for (unsigned i = 0; i < GUARD_POOL_MAX; i++) {
		struct classifier *cl = &p->cl[i];

		cl->pool = p;
		cl->idx = i;
		cl->fd = cl->pidfd = -1;
		cl->in = NULL;
		sbuf_init(&cl->out, OUT_MAX);
		sbuf_init(&cl->held, OUT_MAX);
	}
	p->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	p->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->timerfd < 0 || p->eventfd < 0) {
		werr_sys(err, "classifier pool: timerfd/eventfd");
		goto fail;
	}
	if (evloop_add(loop, &p->timer_io, p->timerfd, EPOLLIN, on_timer, p) < 0 ||
	    evloop_add(loop, &p->defer_io, p->eventfd, EPOLLIN, on_defer, p) < 0) {
		werr_sys(err, "classifier pool: epoll");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct classifier *cl = &p->cl[i];

		if (!specs[i].name || !specs[i].name[0] || !specs[i].argv || !specs[i].argv[0]) {
			werr_set(err, "classifier %zu has no name or no command", i);
			goto fail;
		}
		cl->name = xstrdup(specs[i].name);
		for (char *const *a = specs[i].argv; *a; a++)
			strv_push(&cl->argv, *a);
		cl->spec.name = cl->name;
		cl->spec.argv = cl->argv.v;
		cl->spec.timeout_ms = specs[i].timeout_ms;
		cl->in = xmalloc(IN_CAP);
		p->n = (unsigned)i + 1;
	}
	for (unsigned i = 0; i < p->n; i++) {
		if (cl_start(&p->cl[i], false, err) < 0) {
			werr_prefix(err, "classifier %s", p->cl[i].name);
			goto fail;
		}
	}
	return p;
fail:
	guard_pool_free(p);
	return NULL;
}

void
guard_pool_free(struct guard_pool *p)
{
	struct guard_call *c;

	if (!p)
		return;
	for (unsigned i = 0; i < GUARD_POOL_MAX; i++) {
		struct classifier *cl = &p->cl[i];

		cl_close_socket(cl);
		if (cl->pidfd >= 0) {
			siginfo_t si;

			syscall(SYS_pidfd_send_signal, cl->pidfd, SIGKILL, NULL, 0);
			while (waitid(P_PIDFD, (id_t)cl->pidfd, &si, WEXITED) < 0 && errno == EINTR)
				;
			evloop_del(p->loop, &cl->pidio);
			close(cl->pidfd);
		}
		free(cl->name);
		strv_free(&cl->argv);
		free(cl->in);
		free(cl->pend);
		sbuf_free(&cl->out);
		sbuf_free(&cl->held);
	}
	while ((c = p->calls)) {
		call_unlink(c);
		call_free(c);
	}
	if (p->timerfd >= 0) {
		evloop_del(p->loop, &p->timer_io);
		close(p->timerfd);
	}
	if (p->eventfd >= 0) {
		evloop_del(p->loop, &p->defer_io);
		close(p->eventfd);
	}
	free(p);
}

/* Queue the request for one classifier; a reason when it cannot be sent. */
static const char *
queue_request(struct classifier *cl, struct guard_call *c, const struct guard_request *req,
    unsigned deadline_ms, char *reason, size_t reasonlen)
{
	struct sbuf *target = cl->state == CL_READY ? &cl->out : &cl->held;
	struct guard_request r = *req;
	size_t mark = target->len;

	if (cl->state != CL_READY && cl->state != CL_STARTING) {
		snprintf(reason, reasonlen, "classifier %s is not running (it is being restarted)",
		    cl->name);
		return reason;
	}
	if (cl->npend >= MAX_INFLIGHT) {
		snprintf(reason, reasonlen, "classifier %s has %d requests in flight already",
		    cl->name, MAX_INFLIGHT);
		return reason;
	}
	if (target->len + 8 + GUARD_MAX_HEADER > OUT_MAX ||
	    req->body_len > OUT_MAX - target->len - 8 - GUARD_MAX_HEADER) {
		snprintf(reason, reasonlen, "classifier %s is %zu bytes behind; not queueing more",
		    cl->name, target->len);
		return reason;
	}
	r.id = c->id;
	r.deadline_ms = deadline_ms;
	r.storage = NULL;
	guard_request_encode(&r, target);
	if (target->overflow) {
		target->len = mark;
		target->overflow = false;
		snprintf(reason, reasonlen, "the request could not be encoded for classifier %s",
		    cl->name);
		return reason;
	}
	pend_add(cl, c->id, c, c->slot[cl->idx].deadline_ns);
	return NULL;
}

struct guard_call *
guard_classify(struct guard_pool *p, const struct guard_request *req, guard_done_fn done,
    void *arg)
{
	struct guard_call *c = xcalloc(1, sizeof(*c) + p->n * sizeof(c->slot[0]));
	unsigned base = req->deadline_ms ? req->deadline_ms : GUARD_DEFAULT_DEADLINE_MS;

	c->pool = p;
	c->id = ++p->next_id;
	c->start_ns = now_ns();
	c->body_len = req->body_len;
	c->done = done;
	c->arg = arg;
	c->unresolved = p->n;
	c->next = p->calls;
	if (p->calls)
		p->calls->prev = c;
	p->calls = c;
	if (p->n == 0)
		make_ready(c);
	for (unsigned i = 0; i < p->n; i++) {
		struct classifier *cl = &p->cl[i];
		struct slot *s = &c->slot[i];
		char reason[300];
		const char *fail;

		s->deadline_ms = cl->spec.timeout_ms && cl->spec.timeout_ms < base
		    ? cl->spec.timeout_ms : base;
		s->deadline_ns = c->start_ns + s->deadline_ms * MS;
		if (req->body_len > GUARD_MAX_FRAME - 4 - GUARD_MAX_HEADER) {
			slot_fail(c, i, "request body of %zu bytes is larger than the guard "
			    "protocol carries", req->body_len);
			continue;
		}
		fail = queue_request(cl, c, req, s->deadline_ms, reason, sizeof(reason));
		if (fail) {
			slot_fail(c, i, "%s", fail);
			continue;
		}
		timer_want(p, s->deadline_ns);
		if (cl->state == CL_READY)
			cl_flush(cl);
	}
	if (p->ready_head)
		signal_defer(p);
	return c;
}

void
guard_cancel(struct guard_call *c)
{
	struct guard_pool *p;

	if (!c)
		return;
	p = c->pool;
	if (c->ready) {
		struct guard_call **pp = &p->ready_head, *prev = NULL;

		while (*pp && *pp != c) {
			prev = *pp;
			pp = &(*pp)->ready_next;
		}
		if (*pp)
			*pp = c->ready_next;
		if (p->ready_tail == c)
			p->ready_tail = prev;
	} else {
		for (unsigned i = 0; i < p->n; i++)
			if (!c->slot[i].done)
				pend_abandon(&p->cl[i], c->id);
	}
	call_unlink(c);
	call_free(c);
}

void
guard_pool_stats(const struct guard_pool *p, unsigned *running, unsigned *restarts)
{
	unsigned r = 0;

	for (unsigned i = 0; i < p->n; i++)
		if (p->cl[i].state == CL_READY)
			r++;
	if (running)
		*running = r;
	if (restarts)
		*restarts = p->restarts;
}
