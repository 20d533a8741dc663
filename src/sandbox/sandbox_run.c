/*
 * The supervisor side of `warden run`: prepares what must exist on the host
 * (limits, placeholders for denied paths that do not exist yet, the state
 * record), starts the sandbox, then runs one event loop until init exits:
 * messages from init, forwarded signals, the pty relay when the agent has
 * its own terminal, the egress proxy, and the control socket through which
 * `warden policy set` replaces the running network policy.  The supervisor
 * never runs inside a namespace of the sandbox, so nothing in it can
 * signal, trace or read it.
 */
#include "sb_internal.h"
#include "sandbox_guard.h"
#include "sandbox_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/util.h"
#include "../audit/audit.h"
#include "../lib/event.h"
#include "../lib/evloop.h"
#include "../lib/hash.h"
#include "../proxy/approvals.h"
#include "../proxy/cred.h"
#include "../proxy/tlsca.h"
#include "sandbox_control.h"
#include "sandbox_execmon.h"
#include "sandbox_state.h"

/*
 * A denied path that does not exist yet inside a writable tree would be
 * creatable; a placeholder (empty, mode 0) gives the mask something to sit
 * on.  Created here, on the host, and removed again at exit.
 */
static int
make_placeholders(const struct sandbox_spec *s, struct strv *made, struct werr *err)
{
	const struct policy *p = s->policy;

	for (size_t i = 0; i < p->deny.n; i++) {
		const char *d = p->deny.v[i];
		bool writable = p->include_workdir && path_has_prefix(d, s->workdir);
		char buf[PATH_MAX];
		struct stat st;
		int fd;

		for (size_t j = 0; j < p->read_write.n; j++)
			writable |= path_has_prefix(d, p->read_write.v[j]);
		if (!writable || lstat(d, &st) == 0)
			continue;
		/* Missing parents are created too, and remembered. */
		snprintf(buf, sizeof(buf), "%s", d);
		for (char *c = buf + 1; (c = strchr(c, '/')); c++) {
			*c = '\0';
			if (mkdir(buf, 0700) == 0) {
				strv_push(made, buf);
				/*
				 * The agent's own tree: a root supervisor's directory
				 * would be closed to init and the agent (EACCES).
				 */
				if (chown(buf, s->uid, s->gid) < 0)
					return werr_sys(err, "deny: chown placeholder parent %s", buf);
			} else if (errno != EEXIST)
				return werr_sys(err, "deny: create placeholder parent %s", buf);
			*c = '/';
		}
		fd = open(d, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0);
		if (fd < 0)
			return werr_sys(err, "deny: create placeholder %s", d);
		close(fd);
		strv_push(made, d);
	}
	return 0;
}

static void
remove_placeholders(struct strv *made)
{
	for (size_t i = made->n; i-- > 0;) {
		struct stat st;
		if (lstat(made->v[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rmdir(made->v[i]);
		else if (S_ISREG(st.st_mode) && st.st_size == 0)
			unlink(made->v[i]);
	}
	strv_free(made);
}

struct sup {
	const struct sandbox_spec *spec;
	struct evloop *loop;
	pid_t init_pid;
	int pidfd, ctl, sigfd, master;
	struct ev_io ctl_io, sig_io, pid_io, master_io, stdin_io;
	bool raw;
	struct termios saved;
	int error_exit;		/* exit code of a reported setup error */
	int status;		/* init's exit status once it is gone, else -1 */
	struct sb_state st;
	char state_dir[PATH_MAX];
	/* Egress. */
	int netfd[NET_NFDS];
	struct proxy *proxy;
	struct control *control;
	const struct policy *policy;	/* running; spec->policy or owned */
	struct policy *owned;		/* a reloaded policy, freed when replaced */
	uint64_t revision;
	/* Handed to the proxy when it starts. */
	struct tlsca *ca;
	struct credstore *creds;
	/* Classifier sidecars (an inference section): launched confined, handed to the proxy. */
	struct guard_launch gl;
	char *guard_rules;
	/* Audit. */
	struct execmon *execmon;
	struct audit *audit;
	bool audit_reported;		/* its failure was announced */
	uint64_t started_ns;
	/* Change under control: proposals and held requests waiting for a human. */
	struct approvals *approvals;
};

/* ---- events to the audit trail and the supervisor's log ------------------ */

/*
 * The trail failed: say so once, loudly; from now on every decision that
 * needs a record is refused (the proxy denies egress).  With
 * audit.on_failure: stop the sandbox is stopped instead.
 */
static void
audit_trouble(struct sup *s)
{
	if (s->audit_reported)
		return;
	s->audit_reported = true;
	if (s->policy->audit_on_failure == AUDIT_FAIL_STOP) {
		fprintf(stderr, "warden: %s; stopping the sandbox (audit.on_failure: stop)%s",
		    audit_failed(s->audit), s->raw ? "\r\n" : "\n");
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
	} else {
		fprintf(stderr, "warden: %s; egress is refused from now on%s",
		    audit_failed(s->audit), s->raw ? "\r\n" : "\n");
	}
}

/*
 * Until the audit trail makes them durable, events are one line each on
 * stderr: denials and reloads always, allowed connections with -v.  With
 * the terminal in raw mode a bare newline would not return the carriage.
 */
static int
log_event(const struct event *ev, void *arg)
{
	struct sup *s = arg;
	char line[2048];
	int r = 0;

	/*
	 * A program's exec is recorded before its connections: confirm the
	 * pending execs first (a few stat calls), so the trail reads in order.
	 */
	if (s->execmon && strncmp(ev->type, "net.", 4) == 0)
		execmon_tick(s->execmon);
	if (s->audit && audit_append(s->audit, ev) < 0) {
		r = -1;
		audit_trouble(s);
	}
	/* Denials, failures and policy changes always; the rest with -v. */
	if (log_verbose < 1 && !(ev->decision && strcmp(ev->decision, "allow") != 0) &&
	    strcmp(ev->type, "policy.reload") != 0 && strcmp(ev->type, "net.close") != 0)
		return r;
	event_format_line(ev, line, sizeof(line));
	fprintf(stderr, "warden: %s%s", line, s->raw ? "\r\n" : "\n");
	return r;
}

/* ---- terminal ------------------------------------------------------------------ */

static void
sync_winsize(struct sup *s)
{
	struct winsize ws;

	if (s->master >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(s->master, TIOCSWINSZ, &ws);
}

static void
tty_raw(struct sup *s)
{
	struct termios t;

	if (tcgetattr(0, &s->saved) < 0)
		return;
	t = s->saved;
	cfmakeraw(&t);
	if (tcsetattr(0, TCSANOW, &t) == 0)
		s->raw = true;
}

static void
tty_restore(struct sup *s)
{
	if (s->raw)
		tcsetattr(0, TCSANOW, &s->saved);
	s->raw = false;
}

/* Copy what is available from one fd to another; false on EOF/error. */
static bool
relay(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return n < 0 && (errno == EAGAIN || errno == EINTR);
	return write_all(to, buf, (size_t)n) == 0;
}

static void
on_master(struct ev_io *io, uint32_t events)
{
	struct sup *s = io->arg;

	if (!relay(s->master, 1)) {
		evloop_del(s->loop, &s->master_io);
		evloop_del(s->loop, &s->stdin_io);
	}
}

static void
on_stdin(struct ev_io *io, uint32_t events)
{
	struct sup *s = io->arg;

	if (!relay(0, s->master))
		evloop_del(s->loop, &s->stdin_io);
}

/* ---- the running policy ------------------------------------------------- */

static void
policy_event(struct sup *s, const char *type, const char *decision, const char *reason)
{
	struct event ev = {
		.type = type, .decision = decision, .reason = reason,
		.revision = s->revision, .policy_hash = s->st.policy_hash,
	};
	event_emit(&ev);
}

static void
save_state(struct sup *s)
{
	struct werr err = { 0 };

	if (state_write(s->state_dir, &s->st, &err) < 0)
		log_warnx("state: %s", err.msg);
}

/*
 * The canonical text of one top-level section ("filesystem_policy", ...):
 * canonical YAML starts each section at column 0, so a section runs to the
 * next line that does.
 */
static char *
section(const char *canon, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = canon; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, kl) == 0 && l[kl] == ':') {
			const char *e = l;
			while ((e = strchr(e, '\n')) && e[1] && (e[1] == ' ' || e[1] == '-'))
				e++;
			return xstrndup(l, e ? (size_t)(e - l) : strlen(l));
		}
	}
	return xstrdup("");
}

/* The store's settings from a policy's approvals section (defaults when absent). */
static void
approvals_config_of(const struct policy *p, struct approvals_config *c)
{
	*c = (struct approvals_config){
		.ask = p->approvals.ask, .hold_timeout_ms = p->approvals.timeout_ms,
		.proposals = p->approvals.proposals, .rate_per_minute = p->approvals.rate_per_minute,
		.max_pending = 64,
	};
}

/* Sections fixed at start: a change needs a new sandbox. */
static const char *const static_sections[] = { "version", "filesystem_policy", "landlock",
	"credentials", "classifiers",
	"process", "audit" };

/*
 * inference is dynamic except its custom detection rules: the built-in
 * classifier compiles them once, when it starts.
 */
static bool
same_custom(const struct inference *a, const struct inference *b)
{
	if (a->ncustom != b->ncustom || a->base64_min_tier != b->base64_min_tier)
		return false;
	for (size_t i = 0; i < a->ncustom; i++) {
		const struct infer_custom *x = &a->custom[i], *y = &b->custom[i];

		if (strcmp(x->name, y->name) || x->tier != y->tier || !x->pattern != !y->pattern ||
		    (x->pattern && strcmp(x->pattern, y->pattern)) || x->terms.n != y->terms.n)
			return false;
		for (size_t j = 0; j < x->terms.n; j++)
			if (strcmp(x->terms.v[j], y->terms.v[j]))
				return false;
	}
	return true;
}

/*
 * Replace the running policy with a YAML text: `warden policy set` through
 * the control socket, and an approval (--always) through the approvals
 * store.  0, or -1 with "error\n" and the reasons in out (the running
 * policy unchanged).
 */
static int
policy_set(struct sup *s, const char *file, const char *yaml, size_t len, struct sbuf *out)
{
	struct policy *np = xcalloc(1, sizeof(*np));
	struct policy_diags d = { 0 };
	char *oldc, *newc, hash[65];

	if (policy_load_buffer(file, yaml, len, np, &d) < 0) {
		char *text = NULL;
		size_t tlen = 0;
		FILE *f = open_memstream(&text, &tlen);

		if (f) {
			policy_diags_print(&d, f);
			fclose(f);
		}
		sbuf_adds(out, "error\n");
		sbuf_adds(out, text ? text : "invalid policy\n");
		sbuf_addf(out, "the running policy (revision %llu) is unchanged\n",
		    (unsigned long long)s->revision);
		policy_event(s, "policy.reject", "deny", "candidate policy is invalid");
		free(text);
		policy_diags_free(&d);
		free(np);
		return -1;
	}
	policy_diags_free(&d);
	oldc = policy_canonical(s->policy);
	newc = policy_canonical(np);
	for (size_t i = 0; i < ARRAY_SIZE(static_sections); i++) {
		char *a = section(oldc, static_sections[i]), *b = section(newc, static_sections[i]);
		bool same = strcmp(a, b) == 0;

		free(a);
		free(b);
		if (!same) {
			char why[256];
			snprintf(why, sizeof(why), "'%s' differs from the running policy", 
			    static_sections[i]);
			sbuf_addf(out, "error\n%s: error: %s; it is fixed when the sandbox starts "
			    "(only network_policies, inference and approvals can change while it runs): restart the sandbox "
			    "to change it\nthe running policy (revision %llu) is unchanged\n", file,
			    why, (unsigned long long)s->revision);
			policy_event(s, "policy.reject", "deny", why);
			free(oldc);
			free(newc);
			policy_free(np);
			free(np);
			return -1;
		}
	}
	free(oldc);
	if (!same_custom(&s->policy->inference, &np->inference) ||
	    s->policy->inference.present != np->inference.present) {
		static const char why[] = "inference.custom and inference.base64_min_tier (the "
		    "built-in classifier's rules), and whether there is an inference section at all, "
		    "are fixed when the sandbox starts";
		sbuf_addf(out, "error\n%s: error: %s: restart the sandbox to change them\n"
		    "the running policy (revision %llu) is unchanged\n", file, why,
		    (unsigned long long)s->revision);
		policy_event(s, "policy.reject", "deny", why);
		free(newc);
		policy_free(np);
		free(np);
		return -1;
	}
	policy_hash(np, hash);
	s->revision++;
	snprintf(s->st.policy_hash, sizeof(s->st.policy_hash), "%s", hash);
	s->st.policy_revision = s->revision;
	s->policy = np;
	if (s->proxy)
		proxy_set_policy(s->proxy, np, s->revision, hash);
	if (s->owned) {
		policy_free(s->owned);
		free(s->owned);
	}
	s->owned = np;
	save_state(s);
	policy_event(s, "policy.reload", NULL, NULL);
	{
		/* The agent reads the new revision at /etc/warden/policy.yaml. */
		struct werr werr = { 0 };
		char pub[PATH_MAX];

		snprintf(pub, sizeof(pub), "%s/public", s->state_dir);
		if (sandbox_files_write_policy(pub, s->policy, s->revision, hash, &werr) < 0)
			log_warnx("/etc/warden/policy.yaml not updated: %s", werr.msg);
	}
	sbuf_addf(out, "ok\nrevision=%llu\nhash=%s\n", (unsigned long long)s->revision, hash);
	free(newc);
	if (s->approvals) {
		struct approvals_config ac;
		approvals_config_of(np, &ac);
		approvals_configure(s->approvals, &ac);
	}
	return 0;
}

/* ---- approvals: the store's hooks, notifications, the host's requests ------- */

static const struct policy *
appr_current(void *arg, uint64_t *revision, const char **hash)
{
	struct sup *s = arg;

	*revision = s->revision;
	*hash = s->st.policy_hash;
	return s->policy;
}

/* --always: the same path as `warden policy set`, recorded and checked the same way. */
static int
appr_apply(void *arg, const char *yaml, size_t len, uint64_t *revision, char hash[65],
    struct werr *err)
{
	struct sup *s = arg;
	struct sbuf out;
	int r;

	sbuf_init(&out, 1 << 20);
	r = policy_set(s, "approval", yaml, len, &out);
	if (r == 0) {
		*revision = s->revision;
		snprintf(hash, 65, "%s", s->st.policy_hash);
	} else {
		const char *why = out.p && strncmp(out.p, "error\n", 6) == 0 ? out.p + 6 : out.p;
		werr_set(err, "%.*s", (int)strcspn(why ? why : "invalid policy", "\n"),
		    why ? why : "invalid policy");
	}
	sbuf_free(&out);
	return r;
}

/* Untrusted text for a terminal or a notification: no control bytes, no markup, cut. */
static void
add_shown(struct sbuf *b, const char *t, size_t max)
{
	size_t n = 0;

	for (; t && *t && n < max; t++, n++) {
		unsigned char c = (unsigned char)*t;
		if (c < 0x20 || c == 0x7f)
			sbuf_addf(b, "\\x%02x", c);
		else if (c == '"' || c == '\\')
			sbuf_addf(b, "\\%c", c);
		else if (c == '<' || c == '>' || c == '&')
			sbuf_adds(b, "?");
		else
			sbuf_add(b, t, 1);
	}
	if (t && *t)
		sbuf_adds(b, "...");
}

/*
 * What an item asks for, in one line: "wants HOST:PORT" (a request hold:
 * "wants METHOD PATH on HOST:PORT"; a router hold names the provider) and
 * a proposal's entry name.
 */
static void
add_what(struct sbuf *b, const struct appr_item *it)
{
	sbuf_adds(b, "binary=");
	add_shown(b, it->binary ? it->binary : "?", 200);
	sbuf_adds(b, " wants ");
	if (it->method) {
		add_shown(b, it->method, 32);
		sbuf_adds(b, " ");
		add_shown(b, it->path ? it->path : "?", 200);
		sbuf_adds(b, " on ");
	} else if (it->provider) {
		sbuf_adds(b, "to send a ");
		add_shown(b, it->tier ? it->tier : "?", 32);
		sbuf_adds(b, " model request to provider ");
		add_shown(b, it->provider, 64);
		sbuf_adds(b, " via ");
	}
	add_shown(b, it->host && *it->host ? it->host : "?", 200);
	sbuf_addf(b, ":%u", it->port);
	if (it->kind == APPR_PROPOSAL) {
		sbuf_adds(b, " (proposal '");
		add_shown(b, it->name, 128);
		sbuf_adds(b, "')");
	}
}

/* A desktop pop-up's child is reaped through its pidfd, like every child of the supervisor. */
struct notify_child {
	struct sup *s;
	int pidfd;
	struct ev_io io;
};

static void
on_notify_exit(struct ev_io *io, uint32_t events)
{
	struct notify_child *c = io->arg;
	siginfo_t si = { 0 };

	waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG);
	evloop_del(c->s->loop, &c->io);
	close(c->pidfd);
	free(c);
}

static bool
in_path(const char *prog, char *out, size_t n)
{
	const char *path = getenv("PATH");

	for (const char *d = path; d && *d;) {
		size_t l = strcspn(d, ":");
		if (l && l < n - strlen(prog) - 2) {
			snprintf(out, n, "%.*s/%s", (int)l, d, prog);
			if (access(out, X_OK) == 0)
				return true;
		}
		d += l + (d[l] == ':');
	}
	return false;
}

/*
 * Best effort, never blocking: notify-send when a desktop session is
 * there.  Not as root: a root process has no business on the user's
 * session bus.  No shell: the text is an argument.
 */
static void
notify_desktop(struct sup *s, const struct appr_item *it)
{
	extern char **environ;
	char prog[PATH_MAX];
	struct sbuf body;
	char *argv[] = { prog, "--app-name=warden", "warden: approval needed", NULL, NULL };
	posix_spawn_file_actions_t fa;
	struct notify_child *c;
	pid_t pid;
	int pidfd;

	if (geteuid() == 0 || (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) ||
	    !in_path("notify-send", prog, sizeof(prog)))
		return;
	sbuf_init(&body, 4096);
	sbuf_addf(&body, "%s: %s ", s->spec->name, it->id);
	add_what(&body, it);
	sbuf_adds(&body, "\nwarden approve ");
	sbuf_adds(&body, it->id);
	argv[3] = body.p;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		sbuf_free(&body);
		return;
	}
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, prog, &fa, NULL, argv, environ) == 0) {
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			/* Cannot watch it: wait here; notify-send returns at once. */
			waitpid(pid, NULL, 0);
		} else {
			c = xcalloc(1, sizeof(*c));
			c->s = s;
			c->pidfd = pidfd;
			if (evloop_add(s->loop, &c->io, pidfd, EPOLLIN, on_notify_exit, c) < 0) {
				waitpid(pid, NULL, 0);
				close(pidfd);
				free(c);
			}
		}
	}
	posix_spawn_file_actions_destroy(&fa);
	sbuf_free(&body);
}

/*
 * The line on warden's terminal.  With the agent on a pty the terminal is
 * raw: the line gets its own carriage returns before and after, written in
 * one piece (the supervisor is single-threaded, so it is never cut into
 * the agent's output mid-write).
 */
static void
notify_terminal(struct sup *s, const struct appr_item *it)
{
	struct sbuf b;

	sbuf_init(&b, 8192);
	sbuf_adds(&b, s->raw ? "\r\n" : "");
	sbuf_addf(&b, "warden: approval needed: %s ", it->id);
	add_what(&b, it);
	if (it->intent) {
		sbuf_adds(&b, " (intent, untrusted: \"");
		add_shown(&b, it->intent, 200);
		sbuf_adds(&b, "\")");
	}
	for (size_t i = 0; i < it->risks.n; i++) {
		sbuf_adds(&b, i ? "; " : " risks: ");
		add_shown(&b, it->risks.v[i], 200);
	}
	sbuf_addf(&b, " -- warden approve %s / warden deny %s%s", it->id, it->id,
	    s->raw ? "\r\n" : "\n");
	if (b.p)
		write_all(2, b.p, b.len);
	sbuf_free(&b);
}

/* Record it in the trail, tell the human about a new one. */
static void
appr_changed(void *arg, const struct appr_item *it, const char *event)
{
	struct sup *s = arg;
	struct sbuf x;
	bool grant_end = strcmp(event, "approval.expired") == 0 && it->status == APPR_APPROVED;
	struct event ev = {
		.type = event, .binary = it->binary, .pid = it->pid, .dst = it->host,
		.port = it->port, .rule = it->name ? it->name : it->entry, .reason = it->reason,
		.method = it->method, .path = it->path,
		.revision = it->revision ? it->revision : s->revision,
		.policy_hash = it->hash[0] ? it->hash : s->st.policy_hash,
	};
	uint64_t now = now_ns();

	if (strcmp(event, "approval.granted") == 0)
		ev.decision = "allow";
	else if (strcmp(event, "approval.denied") == 0 || strcmp(event, "approval.expired") == 0)
		ev.decision = "deny";
	sbuf_init(&x, 1 << 16);
	sbuf_adds(&x, "\"id\":");
	sbuf_add_json(&x, it->id);
	sbuf_addf(&x, ",\"kind\":\"%s\"", it->kind == APPR_PROPOSAL ? "proposal" : "hold");
	if (grant_end)
		sbuf_adds(&x, ",\"expired\":\"grant\"");
	if (it->grant != GRANT_NONE)
		sbuf_addf(&x, ",\"grant\":\"%s\"", appr_grant_name(it->grant));
	if (it->expires_ns > now && (it->status == APPR_PENDING || it->grant == GRANT_FOR ||
	    it->grant == GRANT_ONCE))
		sbuf_addf(&x, ",\"expires_in_ms\":%llu",
		    (unsigned long long)((it->expires_ns - now) / 1000000u));
	if (it->coalesced > 1)
		sbuf_addf(&x, ",\"coalesced\":%u", it->coalesced);
	if (it->provider) {
		sbuf_adds(&x, ",\"provider\":");
		sbuf_add_json(&x, it->provider);
		sbuf_adds(&x, ",\"tier\":");
		sbuf_add_json(&x, it->tier ? it->tier : "");
	}
	sbuf_adds(&x, ",\"risks\":[");
	for (size_t i = 0; i < it->risks.n; i++) {
		if (i)
			sbuf_adds(&x, ",");
		sbuf_add_json(&x, it->risks.v[i]);
	}
	sbuf_adds(&x, "]");
	/* The agent's words, kept as data and cut: the trail is no place for an essay. */
	if (it->intent) {
		char *cut = xstrndup(it->intent, 500);
		sbuf_adds(&x, ",\"intent\":");
		sbuf_add_json(&x, cut);
		free(cut);
	}
	if (it->kind == APPR_PROPOSAL && it->entry_yaml && strcmp(event, "approval.requested") == 0) {
		sbuf_adds(&x, ",\"entry\":");
		sbuf_add_json(&x, it->entry_yaml);
	}
	ev.extra_json = x.overflow ? NULL : x.p;
	event_emit(&ev);
	sbuf_free(&x);
	if (strcmp(event, "approval.requested") == 0 && it->coalesced <= 1) {
		notify_terminal(s, it);
		notify_desktop(s, it);
	}
}

static void
start_approvals(struct sup *s)
{
	struct approvals_hooks h = { .arg = s, .current = appr_current, .apply = appr_apply,
		.changed = appr_changed };
	struct approvals_config c;

	approvals_config_of(s->policy, &c);
	s->approvals = approvals_new(&h, &c);
}

/*
 * The host's requests (warden approvals / approve / deny):
 *   "approvals-list"            "ok\n" and one JSON object per pending item
 *   "approve ID once|always|for MS"  "ok\n" and the item's JSON, or "error\nWHY\n"
 *   "deny ID\nREASON"           likewise
 * The socket lives in the state directory on the host: nothing inside the
 * sandbox can reach it, so the agent cannot approve its own requests.
 */
static void
approvals_request(struct sup *s, const char *req, size_t len, size_t l1, struct sbuf *out)
{
	struct werr err = { 0 };
	char *line = xstrndup(req, l1), *w[4] = { NULL }, *p = line;
	const char *id, *how;
	int r = -1;

	(void)len;
	if (!s->approvals) {
		sbuf_adds(out, "error\napprovals are not available in this sandbox\n");
		free(line);
		return;
	}
	if (strcmp(line, "approvals-list") == 0) {
		sbuf_adds(out, "ok\n");
		approvals_list_json(s->approvals, out);
		free(line);
		return;
	}
	/* Words: the verb, the id, once|always|for, milliseconds. */
	for (size_t i = 0; i < ARRAY_SIZE(w) && p && *p; i++) {
		w[i] = p;
		if ((p = strchr(p, ' ')))
			*p++ = '\0';
	}
	id = w[1];
	how = w[2];
	if (strncmp(req, "deny ", 5) == 0) {
		const char *nl = memchr(req, '\n', len);
		char *reason = nl ? xstrndup(nl + 1, 500) : NULL;

		if (reason)
			reason[strcspn(reason, "\n")] = '\0';
		r = approvals_deny(s->approvals, id, reason, &err);
		free(reason);
	} else if (how && strcmp(how, "once") == 0) {
		r = approvals_approve(s->approvals, id, GRANT_ONCE, 0, &err);
	} else if (how && strcmp(how, "always") == 0) {
		r = approvals_approve(s->approvals, id, GRANT_ALWAYS, 0, &err);
	} else if (how && strcmp(how, "for") == 0) {
		const char *ms = w[3];
		uint64_t v;

		if (!ms || parse_u64(ms, &v) < 0)
			werr_set(&err, "approve ID for MILLISECONDS");
		else
			r = approvals_approve(s->approvals, id, GRANT_FOR, v, &err);
	} else {
		werr_set(&err, "approve ID once|always|for MILLISECONDS");
	}
	if (r == 0) {
		sbuf_adds(out, "ok\n");
		approvals_item_json(approvals_get(s->approvals, id), out);
		sbuf_adds(out, "\n");
	} else {
		sbuf_addf(out, "error\n%s\n", err.msg);
	}
	free(line);
}

static void
on_control(const char *req, size_t len, struct sbuf *out, void *arg)
{
	struct sup *s = arg;
	const char *nl = memchr(req, '\n', len);
	size_t l1 = nl ? (size_t)(nl - req) : len;

	if (l1 > 11 && strncmp(req, "policy-set ", 11) == 0 && nl) {
		char *file = xstrndup(req + 11, l1 - 11);
		policy_set(s, file, nl + 1, len - l1 - 1, out);
		free(file);
	} else if (l1 == 11 && strncmp(req, "policy-show", 11) == 0) {
		char *canon = policy_canonical(s->policy);
		sbuf_addf(out, "ok\nrevision=%llu\nhash=%s\n\n%s", (unsigned long long)s->revision,
		    s->st.policy_hash, canon);
		free(canon);
	} else if ((l1 == 14 && strncmp(req, "approvals-list", 14) == 0) ||
	    strncmp(req, "approve ", 8) == 0 || strncmp(req, "deny ", 5) == 0) {
		approvals_request(s, req, len, l1, out);
	} else {
		sbuf_adds(out, "error\nunknown request\n");
	}
}

/* ---- egress ------------------------------------------------------------------ */

static void
on_guard_event(void *arg, const char *classifier, const char *what, const char *detail)
{
	struct sup *s = arg;
	char type[64], extra[300];
	struct event ev = { .revision = s->revision, .policy_hash = s->st.policy_hash };

	snprintf(type, sizeof(type), "classifier.%s", what);
	snprintf(extra, sizeof(extra), "\"classifier\":");
	{
		struct sbuf b;
		sbuf_init(&b, 256);
		sbuf_add_json(&b, classifier);
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "%s", b.p);
		sbuf_free(&b);
	}
	ev.type = type;
	/* Lifecycle (started, ready, restarted) is no decision; a death or a refusal is an error. */
	ev.decision = strcmp(what, "exited") == 0 || strcmp(what, "killed") == 0 ||
	    strcmp(what, "refused") == 0 || strcmp(what, "spawn_failed") == 0 ? "error" : NULL;
	ev.reason = detail;
	ev.extra_json = extra;
	event_emit(&ev);
}

/*
 * The classifier chain: the built-in warden-guard first, then the
 * policy's classifiers in order.  Without it the proxy refuses every
 * inference request (fail closed), so a failure here is loud.
 */
static struct guard_pool *
start_guards(struct sup *s)
{
	const struct policy *p = s->policy;
	struct guard_spec specs[GUARD_POOL_MAX];
	static char exe[PATH_MAX];
	char *builtin_argv[] = { exe, "--rules-fd", "4", NULL };
	static char *const envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8",
		"WARDEN_GUARD_FD=3", NULL };
	struct werr err = { 0 };
	struct guard_pool *pool;
	size_t n = 0;

	if (guard_find_builtin(exe, sizeof(exe), &err) < 0 ||
	    !(s->guard_rules = guard_rules_json(&p->inference))) {
		log_warnx("%s: every inference request will be refused", err.msg[0] ? err.msg :
		    "the classifier rules are too large");
		return NULL;
	}
	s->gl = (struct guard_launch){ .policy = p, .rules = s->guard_rules,
		.rules_len = strlen(s->guard_rules), .envp = envp, .drop_ids = geteuid() == 0,
		.uid = s->spec->uid, .gid = s->spec->gid, .supervisor = getpid() };
	specs[n++] = (struct guard_spec){ .name = "builtin", .argv = builtin_argv };
	for (size_t i = 0; i < p->nclassifiers && n < GUARD_POOL_MAX; i++)
		specs[n++] = (struct guard_spec){ .name = p->classifiers[i].name,
			.argv = p->classifiers[i].command.v,
			.timeout_ms = p->classifiers[i].timeout_ms };
	pool = guard_pool_new(s->loop, specs, n, guard_sidecar_spawn, &s->gl, on_guard_event, s,
	    &err);
	if (!pool)
		log_warnx("classifiers: %s: every inference request will be refused", err.msg);
	return pool;
}

static void
start_proxy(struct sup *s)
{
	struct werr err = { 0 };
	struct proxy_config cfg = s->spec->proxy;
	struct attrib *a;

	a = attrib_new(s->init_pid, s->netfd[NET_FD_DIAG], &err);
	s->netfd[NET_FD_DIAG] = -1;
	if (!a) {
		log_warnx("proxy: %s: all egress is refused", err.msg);
		return;
	}
	cfg.http_fd = steal_fd(&s->netfd[NET_FD_HTTP]);
	cfg.socks_fd = steal_fd(&s->netfd[NET_FD_SOCKS]);
	cfg.attrib = a;
	cfg.hosts = s->spec->hosts;
	cfg.nhosts = s->spec->nhosts;
	cfg.infer_fd = steal_fd(&s->netfd[NET_FD_INFER]);
	cfg.sandbox = s->spec->name;
	cfg.ca = steal_pointer(&s->ca);
	cfg.creds = steal_pointer(&s->creds);
	cfg.approvals = s->approvals;
	if (s->policy->inference.present)
		cfg.guards = start_guards(s);
	s->proxy = proxy_new(s->loop, &cfg, s->policy, s->revision, s->st.policy_hash, &err);
	if (!s->proxy)
		log_warnx("proxy: %s: all egress is refused", err.msg);
}

static void
on_tick(void *arg)
{
	struct sup *s = arg;

	if (s->proxy)
		proxy_tick(s->proxy);
	execmon_tick(s->execmon);
	control_sweep(s->control);
	if (s->approvals)
		approvals_tick(s->approvals, now_ns());
	if (s->audit) {
		audit_tick(s->audit);
		if (audit_failed(s->audit))
			audit_trouble(s);
	}
}

static void
after_batch(void *arg)
{
	struct sup *s = arg;

	if (s->proxy)
		proxy_reap(s->proxy);
}

/* ---- lifecycle records ---------------------------------------------------- */

static void
record_start(struct sup *s)
{
	const struct sandbox_spec *sp = s->spec;
	struct sbuf x;
	struct event ev = { .type = "sandbox.start", .revision = s->revision,
		.policy_hash = s->st.policy_hash, .pid = s->st.agent_pid };

	sbuf_init(&x, 1 << 20);
	sbuf_adds(&x, "\"argv\":");
	audit_add_argv(&x, sp->argv);
	sbuf_addf(&x, ",\"uid\":%u,\"gid\":%u,\"workdir\":", (unsigned)sp->uid,
	    (unsigned)sp->gid);
	sbuf_add_json(&x, sp->workdir);
	sbuf_addf(&x, ",\"namespaces\":[\"user\",\"mnt\",\"pid\",\"net\",\"ipc\",\"uts\","
	    "\"cgroup\"],\"landlock_abi\":%d,\"landlock_scoped\":%s,"
	    "\"seccomp\":\"filter\",\"no_new_privs\":true,\"limits\":",
	    s->st.landlock_abi, s->st.landlock_scoped ? "true" : "false");
	sbuf_add_json(&x, s->st.limits);
	sbuf_adds(&x, ",\"warden_version\":");
	sbuf_add_json(&x, sp->version ? sp->version : "");
	ev.extra_json = x.overflow ? NULL : x.p;
	event_emit(&ev);
	sbuf_free(&x);
}

static void
record_stop(struct sup *s, int status)
{
	struct proxy_stats ps = { 0 };
	char extra[512];
	struct event ev = { .type = "sandbox.stop", .revision = s->revision,
		.policy_hash = s->st.policy_hash };

	if (s->proxy)
		proxy_get_stats(s->proxy, &ps);
	snprintf(extra, sizeof(extra), "\"exit_status\":%d,\"duration_ms\":%llu,"
	    "\"connections\":{\"accepted\":%llu,\"allowed\":%llu,\"denied\":%llu,"
	    "\"closed_by_reload\":%llu}", status,
	    (unsigned long long)((now_ns() - s->started_ns) / 1000000u),
	    (unsigned long long)ps.accepted, (unsigned long long)ps.allowed,
	    (unsigned long long)ps.denied, (unsigned long long)ps.closed_by_reload);
	ev.extra_json = extra;
	event_emit(&ev);
}

/* ---- init and signals -------------------------------------------------------- */

static void
on_ctl(struct ev_io *io, uint32_t events)
{
	struct sup *s = io->arg;
	struct ctl_msg m;
	int fd = -1;
	ssize_t r = ctl_recv(s->ctl, &m, &fd);

	if (r <= 0) {
		evloop_del(s->loop, &s->ctl_io);
		close(s->ctl);
		s->ctl = -1;
		return;
	}
	switch (m.type) {
	case CTL_ERROR:
		tty_restore(s);
		log_warnx("%s", m.msg);
		s->error_exit = m.exit;
		break;
	case CTL_WARN:
		log_warnx("%s", m.msg);
		break;
	case CTL_INFO:
		s->st.landlock_abi = m.value;
		s->st.landlock_scoped = m.flags != 0;
		break;
	case CTL_NETFD:
		if (fd >= 0 && m.value >= 0 && m.value < NET_NFDS && s->netfd[m.value] < 0) {
			s->netfd[m.value] = steal_fd(&fd);
			if (s->netfd[NET_FD_HTTP] >= 0 && s->netfd[NET_FD_SOCKS] >= 0 &&
			    s->netfd[NET_FD_INFER] >= 0 && s->netfd[NET_FD_DIAG] >= 0 && !s->proxy)
				start_proxy(s);
		}
		break;
	case CTL_PTY:
		if (fd >= 0 && s->master < 0) {
			s->master = steal_fd(&fd);
			sync_winsize(s);
			tty_raw(s);
			evloop_add(s->loop, &s->master_io, s->master, EPOLLIN, on_master, s);
			evloop_add(s->loop, &s->stdin_io, 0, EPOLLIN, on_stdin, s);
		}
		break;
	case CTL_EXECMON:
		if (fd >= 0 && !s->execmon) {
			struct werr err = { 0 };
			s->execmon = execmon_start(s->loop, steal_fd(&fd), s->st.policy_hash,
			    &s->revision, &err);
			if (!s->execmon)
				log_warnx("%s: programs the agent runs are not recorded", err.msg);
		} else if (fd < 0) {
			log_warnx("the kernel cannot notify seccomp calls: programs the agent runs "
			    "are not recorded");
		}
		break;
	case CTL_STARTED:
		s->st.agent_pid = m.value;	/* pid inside; refined by inspect */
		save_state(s);
		record_start(s);
		/*
		 * While the agent runs: the first flush of a new trail also
		 * writes its directories (~0.2 ms more than later ones), which
		 * would otherwise fall to the final flush as the sandbox ends.
		 */
		if (s->audit)
			audit_flush_early(s->audit);
		break;
	default:
		break;
	}
	if (fd >= 0)
		close(fd);
}

static void
on_signal(struct ev_io *io, uint32_t events)
{
	struct sup *s = io->arg;
	struct signalfd_siginfo si;

	if (read(s->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH)
		sync_winsize(s);
	else if (si.ssi_signo != SIGCHLD)
		syscall(SYS_pidfd_send_signal, s->pidfd, si.ssi_signo, NULL, 0);
}

static void
on_pidfd(struct ev_io *io, uint32_t events)
{
	struct sup *s = io->arg;
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED) < 0)
		return;
	s->status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	evloop_stop(s->loop);
}

static int
supervise(struct sup *s)
{
	struct werr err = { 0 };

	if (evloop_run(s->loop, &err) < 0) {
		log_warnx("%s", err.msg);
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
		if (s->status < 0) {
			siginfo_t si = { 0 };
			waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED);
			s->status = WEXIT_FAILURE;
		}
	}
	/* Drain what the agent printed last and any final control messages. */
	if (s->master >= 0) {
		int fl = fcntl(s->master, F_GETFL);
		fcntl(s->master, F_SETFL, fl | O_NONBLOCK);
		while (relay(s->master, 1))
			;
	}
	while (s->ctl >= 0) {
		struct pollfd pfd = { .fd = s->ctl, .events = POLLIN };
		if (poll(&pfd, 1, 0) <= 0)
			break;
		on_ctl(&s->ctl_io, POLLIN);
	}
	return s->status;
}

/*
 * Every tunnel holds two sockets: lift the soft fd limit to the hard one
 * so the proxy's connection limit, not the default 1024, is what binds.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The trail is opened after clone3, while init builds the root on the
 * other CPU (loading the signing key is OpenSSL's first, slowest, use).
 * Nothing goes unrecorded meanwhile: the agent's first execve is a
 * notification that only the event loop, which starts after this, answers.
 */
static int
open_audit(struct sup *s, struct werr *err)
{
	const struct sandbox_spec *spec = s->spec;
	struct audit_config ac = {
		.path = spec->audit_path, .key_path = spec->audit_key, .sandbox = spec->name,
		.fsync = spec->policy->audit_fsync == AUDIT_SYNC_ALWAYS ?
		    AUDIT_FSYNC_ALWAYS : AUDIT_FSYNC_BATCH,
		.batch_ms = 100,
	};

	s->audit = audit_open(&ac, err);
	if (!s->audit)
		return -1;
	if (audit_moved_aside(s->audit))
		log_warnx("audit: %s ended in a torn record (a crash); it was moved to %s "
		    "and a new trail begins", spec->audit_path, audit_moved_aside(s->audit));
	log_info("audit trail %s (key %.16s…)", spec->audit_path, audit_pubkey(s->audit));
	return 0;
}

/*
 * `warden exec` gives joined processes the same placeholders as the agent:
 * NAME=VALUE lines in the state directory (placeholders are not secrets).
 */
static int
write_placeholders(const char *dir, const struct credstore *cs, struct werr *err)
{
	char path[PATH_MAX];
	struct sbuf b;
	int r = 0;

	sbuf_init(&b, 1 << 20);
	for (size_t i = 0; i < credstore_count(cs); i++)
		if (credstore_env_name(cs, i))
			sbuf_addf(&b, "%s=%s\n", credstore_env_name(cs, i), credstore_placeholder(cs, i));
	snprintf(path, sizeof(path), "%s/placeholders", dir);
	if (b.len) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || write_all(fd, b.p, b.len) < 0)
			r = werr_sys(err, "write %s", path);
		if (fd >= 0)
			close(fd);
	}
	sbuf_free(&b);
	return r;
}

/*
 * The files init mounts into the new root, written while init builds it
 * (clone3 is not kept waiting for them): the CA bundle (system roots and
 * this sandbox's CA, over the system store), an /etc/hosts naming
 * inference.local, and the /etc/warden view.  Handed over on ctl in
 * ROOT_FILE_* order; init takes them when it reaches those mounts.
 */
static int
send_root_files(struct sup *s, struct werr *err)
{
	int fds[ROOT_NFILES] = { -1, -1, -1 }, r = -1;
	char bundle[PATH_MAX];

	if (s->ca) {
		snprintf(bundle, sizeof(bundle), "%s/ca-bundle.pem", s->state_dir);
		if (tlsca_write_bundle(s->ca, "/etc/ssl/certs/ca-certificates.crt", bundle, err) < 0)
			return -1;
		fds[ROOT_FILE_CA_BUNDLE] = open(bundle, O_RDONLY | O_CLOEXEC);
		if (fds[ROOT_FILE_CA_BUNDLE] < 0)
			return werr_sys(err, "open %s", bundle);
	}
	if ((fds[ROOT_FILE_HOSTS] = sandbox_files_hosts(err)) < 0 ||
	    (fds[ROOT_FILE_ETC_WARDEN] = sandbox_files_public(s->state_dir, s->policy,
	    s->revision, s->st.policy_hash, err)) < 0)
		goto out;
	/*
	 * A send fails when init has already failed (its error is on ctl for
	 * the loop to report) or, in theory, for want of memory: either way
	 * init must not wait for the rest, and EOF tells it so.
	 */
	for (int i = 0; i < ROOT_NFILES; i++) {
		struct ctl_msg m = { .type = CTL_FILE, .value = i };

		if (ctl_send(s->ctl, &m, fds[i]) < 0) {
			shutdown(s->ctl, SHUT_WR);
			break;
		}
	}
	r = 0;
out:
	for (int i = 0; i < ROOT_NFILES; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return r;
}

int
sandbox_run(const struct sandbox_spec *spec_in, struct werr *err)
{
	struct sandbox_spec local = *spec_in;
	const struct sandbox_spec *spec = &local;
	struct sup s = { .spec = spec, .ca = spec_in->ca, .creds = spec_in->creds, .pidfd = -1, .ctl = -1, .sigfd = -1, .master = -1,
		.status = -1, .policy = spec->policy, .revision = 1 };
	struct limits_plan lp;
	struct strv made = { 0 };
	struct rlimit saved_nofile;
	sigset_t mask, oldmask;
	void (*old_pipe)(int);
	int lock_fd = -1, status = -1;

	for (int i = 0; i < NET_NFDS; i++)
		s.netfd[i] = -1;
	if (state_create(spec->name, s.state_dir, sizeof(s.state_dir), &lock_fd, err) < 0) {
		tlsca_free(s.ca);
		credstore_free(s.creds);
		return -1;
	}
	policy_hash(spec->policy, s.st.policy_hash);
	if (s.creds && write_placeholders(s.state_dir, s.creds, err) < 0)
		goto out_state;
	if (limits_prepare(spec->policy, spec->name, &lp, err) < 0)
		goto out_state;
	if (make_placeholders(spec, &made, err) < 0)
		goto out_limits;
	/* Signals arrive through signalfd from now on; the agent sees them via init. */
	sigemptyset(&mask);
	{
		static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
			SIGWINCH, SIGCHLD, SIGCONT };
		for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
			sigaddset(&mask, fwd[i]);
	}
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	/* A peer that goes away mid-write is an error return, not a signal. */
	old_pipe = signal(SIGPIPE, SIG_IGN);
	getrlimit(RLIMIT_NOFILE, &saved_nofile);
	s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s.loop = evloop_new(err);
	if (s.sigfd < 0 || !s.loop) {
		if (s.sigfd < 0)
			werr_sys(err, "signalfd");
		goto out_sig;
	}
	/* The agent inherits warden's limits, so they are raised only after spawning. */
	s.started_ns = now_ns();
	if (sandbox_spawn(spec, &lp, &s.init_pid, &s.pidfd, &s.ctl, err) < 0)
		goto out_sig;
	if (send_root_files(&s, err) < 0 || open_audit(&s, err) < 0) {
		siginfo_t si;

		syscall(SYS_pidfd_send_signal, s.pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)s.pidfd, &si, WEXITED);
		close(s.pidfd);
		close(s.ctl);
		goto out_sig;
	}
	raise_nofile();
	event_set_sink(log_event, &s);

	snprintf(s.st.name, sizeof(s.st.name), "%s", spec->name);
	s.st.supervisor_pid = getpid();
	s.st.init_pid = s.init_pid;
	s.st.init_start = proc_start_time(s.init_pid);
	s.st.started = (int64_t)time(NULL);
	s.st.policy_revision = s.revision;
	snprintf(s.st.workdir, sizeof(s.st.workdir), "%s", spec->workdir);
	snprintf(s.st.home, sizeof(s.st.home), "%s", spec->home ? spec->home : "");
	s.st.uid = spec->uid;
	s.st.gid = spec->gid;
	for (char *const *a = spec->argv; *a; a++) {
		size_t l = strlen(s.st.command);
		snprintf(s.st.command + l, sizeof(s.st.command) - l, "%s%s", l ? " " : "", *a);
	}
	for (char *c = s.st.command; *c; c++)
		if (*c == '\n')
			*c = ' ';
	snprintf(s.st.limits, sizeof(s.st.limits), "%s", lp.method);
	snprintf(s.st.audit_path, sizeof(s.st.audit_path), "%s", spec->audit_path);

	evloop_add(s.loop, &s.ctl_io, s.ctl, EPOLLIN, on_ctl, &s);
	evloop_add(s.loop, &s.sig_io, s.sigfd, EPOLLIN, on_signal, &s);
	evloop_add(s.loop, &s.pid_io, s.pidfd, EPOLLIN, on_pidfd, &s);
	/* 100 ms: the audit's batched fsync bound; the proxy's timeouts are coarser. */
	evloop_set_tick(s.loop, 100, on_tick, &s);
	evloop_set_after(s.loop, after_batch, &s);
	/* Before the proxy starts (it starts once init hands over its sockets). */
	start_approvals(&s);
	s.control = control_listen(s.loop, s.state_dir, on_control, &s, err);
	if (!s.control) {
		log_warnx("%s: `warden policy set` is unavailable for this sandbox", err->msg);
		werr_clear(err);
	}
	policy_event(&s, "policy.load", NULL, NULL);

	status = supervise(&s);
	tty_restore(&s);
	if (s.error_exit && (status == s.error_exit || status == WEXIT_FAILURE)) {
		/* Already printed; report through the error contract's exit code. */
		err->exit = s.error_exit;
		snprintf(err->msg, sizeof(err->msg), "%s", "");
		status = -1;
	}
	control_close(s.control);
	execmon_stop(s.execmon);
	record_stop(&s, status >= 0 ? status : err->exit ? err->exit : WEXIT_FAILURE);
	proxy_free(s.proxy);
	approvals_free(s.approvals);
	event_set_sink(NULL, NULL);
	for (int i = 0; i < NET_NFDS; i++)
		if (s.netfd[i] >= 0)
			close(s.netfd[i]);
	if (s.owned) {
		policy_free(s.owned);
		free(s.owned);
	}
	if (s.master >= 0)
		close(s.master);
	if (s.ctl >= 0)
		close(s.ctl);
	close(s.pidfd);
out_sig:
	if (s.sigfd >= 0)
		close(s.sigfd);
	evloop_free(s.loop);
	setrlimit(RLIMIT_NOFILE, &saved_nofile);
	signal(SIGPIPE, old_pipe);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	{
		struct werr aerr = { 0 };
		if (s.audit && audit_close(s.audit, &aerr) < 0)
			log_warnx("%s", aerr.msg);
	}
	remove_placeholders(&made);
out_limits:
	limits_cleanup(&lp);
out_state:
	/* Whatever the proxy did not take: the key and the secrets end here. */
	tlsca_free(s.ca);
	credstore_free(s.creds);
	free(s.guard_rules);
	state_remove(s.state_dir, lock_fd);
	return status;
}
