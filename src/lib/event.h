/*
 * The one interface every decision and lifecycle step of a sandbox goes
 * through.  Producers (the proxy, the supervisor, reload) fill a struct
 * event and call event_emit(); the supervisor installs the sink.  Today the
 * sink writes one human line to the supervisor's log; the audit trail makes
 * the same events durable without any producer changing.
 *
 * Fields are borrowed for the duration of the call; unset strings are NULL
 * and unset numbers 0.  Never put secret values here: finding types and
 * positions only.
 */
#ifndef WARDEN_EVENT_H
#define WARDEN_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event {
	const char *type;		/* "net.connect", "policy.reload", ... */
	const char *decision;		/* "allow", "deny", or NULL */
	const char *verb;		/* "CONNECT", "GET", "SOCKS", ... */
	const char *rule;		/* deciding network_policies entry */
	const char *reason;
	const char *binary;
	const char *binary_sha256;
	pid_t pid, ppid;		/* as seen inside the sandbox */
	const char *dst;		/* host name or IP as requested */
	uint16_t port;
	const char *addr;		/* the address actually connected to */
	uint64_t revision;		/* policy revision the decision used */
	const char *policy_hash;
	const char *method, *path;	/* HTTP requests (path without query values) */
	/*
	 * Further members for the durable record, already rendered as JSON
	 * ("argv":[…],"uid":1000) without surrounding braces or commas.
	 */
	const char *extra_json;
};

/* A sink returns 0 when the event is recorded, -1 when it could not be. */
typedef int (*event_sink_fn)(const struct event *ev, void *arg);

void event_set_sink(event_sink_fn fn, void *arg);
/*
 * Returns 0 when the event is recorded (or no sink is installed), -1 when
 * the sink could not record it: a decision that cannot be recorded must not
 * be acted on.
 */
int event_emit(const struct event *ev);

/* The one-line human form: `CONNECT deny binary=... pid=... dst=h:p reason="..."`. */
void event_format_line(const struct event *ev, char *out, size_t n);

#endif
