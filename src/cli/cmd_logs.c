/*
 * warden logs [-f] [--json | --ocsf] [--since TIME] NAME|FILE
 *
 * NAME is a running sandbox, whose state names its trail, or a finished
 * one, whose trail is still at the default location; FILE is a trail
 * anywhere.  The file is only read: `warden logs` needs no help from the
 * supervisor, so it works the same on a live sandbox, a stopped one and a
 * copy handed to an auditor.
 *
 * -f polls the file every 100 ms rather than using inotify: the trail may
 * live on a network filesystem, and a tenth of a second is well inside what
 * a person watching notices.  Following ends when the sandbox does -- its
 * supervisor exits, or its state directory disappears -- and by then the
 * supervisor has closed the trail (final checkpoint included), so one last
 * read prints everything.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../audit/audit.h"
#include "../audit/audit_ocsf.h"
#include "../sandbox/sandbox_state.h"

#define POLL_MS 100
/* As in audit_ocsf.c: a line longer than this is not a record. */
#define LINE_MAX_BYTES (1024 * 1024)
#define READ_CHUNK (64 * 1024)

static const char usage[] =
    "usage: warden logs [OPTIONS] NAME|FILE\n"
    "\n"
    "Show a sandbox's audit trail: every policy decision and lifecycle step, one\n"
    "record per line.  NAME is a running sandbox, or a finished one whose trail is\n"
    "at the default location ($XDG_STATE_HOME/warden/NAME/audit.jsonl, or\n"
    "/var/lib/warden/NAME/audit.jsonl as root); FILE is a trail anywhere, such as\n"
    "one written with `warden run --audit-log FILE`.\n"
    "\n"
    "  -f, --follow        print new records as they are written, until the\n"
    "                      sandbox stops\n"
    "      --json          the records as stored (JSON Lines)\n"
    "      --ocsf          OCSF 1.8.0 events, one JSON object per line\n"
    "      --since TIME    only records from TIME on: an RFC 3339 time\n"
    "                      (2026-11-23T21:54:36Z, 2026-11-23T22:54:36+01:00,\n"
    "                      2026-11-23; without an offset, UTC) or an age such as\n"
    "                      90s, 10m, 2h, 1d or 1h30m\n"
    "\n"
    "Times in the one-line form are UTC.  Colour is used when standard output is a\n"
    "terminal and NO_COLOR is not set.  Use `warden audit verify` to check that a\n"
    "trail is intact; `warden logs` only reads it.\n";

struct logs {
	enum audit_out_format fmt;
	bool colour, follow;
	bool have_since;
	int64_t since_ns;
	FILE *devnull;			/* for records skipped by --since (see show_line) */
	const char *path;		/* the trail, as named to the user */
	uint64_t lineno;
	unsigned bad;			/* lines that were not records */
};

/* ---- times ------------------------------------------------------------------------ */

static int
num(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * RFC 3339: YYYY-MM-DD, optionally followed by T (or a space) and
 * HH:MM[:SS[.frac]] and an offset (Z or ±HH:MM; none means UTC).  Parses
 * the whole of s (up to len) or fails.
 */
static int
parse_rfc3339(const char *s, size_t len, int64_t *ns)
{
	struct tm tm = { 0 };
	int64_t frac = 0, scale = 1000000000, off = 0;
	size_t i = 10;
	time_t t;

	if (len < 10 || s[4] != '-' || s[7] != '-')
		return -1;
	tm.tm_year = num(s, 4) - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	if (len > 10) {
		if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || len < 16 || s[13] != ':')
			return -1;
		tm.tm_hour = num(s + 11, 2);
		tm.tm_min = num(s + 14, 2);
		i = 16;
		if (i < len && s[i] == ':') {
			if (len < 19)
				return -1;
			tm.tm_sec = num(s + 17, 2);
			i = 19;
			if (i < len && s[i] == '.') {
				for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
					if (scale > 1) {
						scale /= 10;
						frac += (s[i] - '0') * scale;
					}
			}
		}
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			int h, m;
			if (len - i != 6 || s[i + 3] != ':' || (h = num(s + i + 1, 2)) < 0 ||
			    (m = num(s + i + 4, 2)) < 0 || h > 23 || m > 59)
				return -1;
			off = (int64_t)(h * 3600 + m * 60) * (s[i] == '+' ? 1 : -1);
			i += 6;
		}
	}
	if (i != len || tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	/* Past 2262 nanoseconds overflow: later than any record, which is all --since needs. */
	if ((int64_t)t - off >= INT64_MAX / 1000000000)
		*ns = INT64_MAX;
	else
		*ns = ((int64_t)t - off) * 1000000000 + frac;
	return 0;
}

/* An age: one or more NUMBER UNIT (ms, s, m, h, d), e.g. "1h30m". */
static int
parse_age(const char *s, int64_t *ns)
{
	static const struct { const char *unit; int64_t ns; } units[] = {
		{ "ms", 1000000 }, { "s", 1000000000 }, { "m", 60 * (int64_t)1000000000 },
		{ "h", 3600 * (int64_t)1000000000 }, { "d", 86400 * (int64_t)1000000000 },
	};
	int64_t total = 0;

	if (!*s)
		return -1;
	while (*s) {
		int64_t v = 0;
		size_t u;

		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++) {
			v = v * 10 + (*s - '0');
			if (v > 100L * 365 * 86400 * 1000)
				return -1;
		}
		for (u = 0; u < ARRAY_SIZE(units); u++) {
			size_t l = strlen(units[u].unit);
			if (strncmp(s, units[u].unit, l) == 0)
				break;
		}
		if (u == ARRAY_SIZE(units))
			return -1;
		if (v > INT64_MAX / units[u].ns || total > INT64_MAX - v * units[u].ns)
			return -1;
		total += v * units[u].ns;
		s += strlen(units[u].unit);
	}
	*ns = total;
	return 0;
}

static int
parse_since(const char *arg, int64_t *ns)
{
	struct timespec now;
	int64_t age;

	if (parse_age(arg, &age) == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		*ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - age;
		return 0;
	}
	return parse_rfc3339(arg, strlen(arg), ns);
}

/*
 * The record's time, read where the writer always puts it
 * ({"seq":N,"time":"..."), without parsing the whole record; -1 if absent.
 */
static int64_t
line_time(const char *line, size_t len)
{
	const char *t = memmem(line, len < 64 ? len : 64, "\"time\":\"", 8), *end;
	int64_t ns;

	if (!t)
		return -1;
	t += 8;
	end = memchr(t, '"', (size_t)(line + len - t));
	if (!end || parse_rfc3339(t, (size_t)(end - t), &ns) < 0)
		return -1;
	return ns;
}

/* ---- finding the trail ---------------------------------------------------------- */

struct target {
	char path[PATH_MAX];
	char state_dir[PATH_MAX];	/* the running sandbox that writes it, or "" */
	pid_t supervisor;
};

static bool
same_file(const char *a, const struct stat *sb)
{
	struct stat st;

	return stat(a, &st) == 0 && st.st_dev == sb->st_dev && st.st_ino == sb->st_ino;
}

/* The running sandbox whose trail is path, if any. */
static void
find_writer(struct target *t)
{
	struct strv names = { 0 };
	struct werr err = { 0 };
	struct stat sb;

	if (stat(t->path, &sb) < 0 || state_list(&names, &err) < 0)
		return;
	for (size_t i = 0; i < names.n; i++) {
		struct sb_state st;
		char dir[PATH_MAX];
		struct werr e = { 0 };

		if (state_load(names.v[i], &st, dir, sizeof(dir), &e) == 0 && st.audit_path[0] &&
		    same_file(st.audit_path, &sb)) {
			snprintf(t->state_dir, sizeof(t->state_dir), "%s", dir);
			t->supervisor = st.supervisor_pid;
			break;
		}
	}
	strv_free(&names);
}

/*
 * A name with a '/' is a file.  Otherwise: a running sandbox by that name,
 * then a finished one's trail at the default location, then a file in the
 * current directory.
 */
static int
resolve(const char *arg, struct target *t, struct werr *err)
{
	struct sb_state st;
	struct stat sb;
	char dir[PATH_MAX], def[PATH_MAX + 64] = "";
	struct werr e = { 0 };

	memset(t, 0, sizeof(*t));
	if (!strchr(arg, '/') && !state_check_name(arg)) {
		if (state_load(arg, &st, dir, sizeof(dir), &e) == 0) {
			char base[PATH_MAX];
			snprintf(t->state_dir, sizeof(t->state_dir), "%s", dir);
			t->supervisor = st.supervisor_pid;
			if (st.audit_path[0]) {
				snprintf(t->path, sizeof(t->path), "%s", st.audit_path);
				return 0;
			}
			/* A supervisor that does not record its trail uses the default. */
			if (audit_default_dir(base, sizeof(base), err) < 0)
				return -1;
			snprintf(t->path, sizeof(t->path), "%s/%s/audit.jsonl", base, arg);
			return 0;
		}
		if (audit_default_dir(dir, sizeof(dir), &e) == 0) {
			snprintf(def, sizeof(def), "%s/%s/audit.jsonl", dir, arg);
			if (stat(def, &sb) == 0) {
				snprintf(t->path, sizeof(t->path), "%s", def);
				return 0;
			}
		}
	}
	if (stat(arg, &sb) == 0) {
		if (S_ISDIR(sb.st_mode))
			return werr_set(err, "%s is a directory, not an audit trail", arg);
		snprintf(t->path, sizeof(t->path), "%s", arg);
		find_writer(t);
		return 0;
	}
	if (strchr(arg, '/') || state_check_name(arg))
		return werr_sys(err, "%s", arg);
	return werr_set(err, "no sandbox named '%s' is running, and it has no trail at %s",
	    arg, def[0] ? def : "the default location");
}

/* Whether the sandbox writing the trail has ended (or none does). */
static bool
writer_gone(const struct target *t, int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	struct stat sb;

	if (!t->state_dir[0])
		return true;
	if (pidfd >= 0 && poll(&p, 1, 0) == 1)
		return true;
	return stat(t->state_dir, &sb) < 0 && errno == ENOENT;
}

/* ---- printing ------------------------------------------------------------------- */

static void
show_line(struct logs *o, const char *line, size_t len, bool complete)
{
	struct werr err = { 0 };

	o->lineno++;
	if (o->have_since) {
		int64_t ns = line_time(line, len);
		if (ns >= 0 && ns < o->since_ns) {
			/*
			 * Still read as OCSF would: a sandbox.start names the warden
			 * version of the records that follow it.
			 */
			if (o->fmt == AUDIT_OUT_OCSF && o->devnull &&
			    memmem(line, len, "\"event\":\"sandbox.start\"", 23))
				audit_render(line, len, AUDIT_OUT_JSON, false, o->devnull, &err);
			return;
		}
	}
	if (audit_render(line, len, o->fmt, o->colour, stdout, &err) < 0) {
		o->bad++;
		fflush(stdout);
		if (!complete)
			fprintf(stderr, "warden logs: %s: line %llu is cut short (a crash while "
			    "writing?)\n", o->path, (unsigned long long)o->lineno);
		else
			fprintf(stderr, "warden logs: %s: line %llu: %s\n", o->path,
			    (unsigned long long)o->lineno, err.msg);
	}
}

struct reader {
	int fd;
	char *buf;
	size_t len;
	bool skipping;			/* inside a line too long to be a record */
};

/*
 * Print every complete line that can be read now.  at_end: nothing more
 * will be written, so a final line without its newline is shown (or
 * reported) too.  Returns -1 on a read error.
 */
static int
drain(struct logs *o, struct reader *rd, bool at_end)
{
	for (;;) {
		ssize_t n;
		size_t start = 0;
		char *nl;

		if (rd->len == LINE_MAX_BYTES + READ_CHUNK) {
			/* No newline in a whole buffer: skip to the next one. */
			o->lineno++;
			o->bad++;
			fprintf(stderr, "warden logs: %s: line %llu is longer than %d bytes, not a "
			    "record\n", o->path, (unsigned long long)o->lineno, LINE_MAX_BYTES);
			rd->len = 0;
			rd->skipping = true;
		}
		n = read(rd->fd, rd->buf + rd->len, LINE_MAX_BYTES + READ_CHUNK - rd->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		rd->len += (size_t)n;
		while ((nl = memchr(rd->buf + start, '\n', rd->len - start))) {
			size_t l = (size_t)(nl - (rd->buf + start));
			if (rd->skipping)
				rd->skipping = false;
			else
				show_line(o, rd->buf + start, l, true);
			start += l + 1;
		}
		memmove(rd->buf, rd->buf + start, rd->len - start);
		rd->len -= start;
	}
	if (at_end && rd->len && !rd->skipping) {
		show_line(o, rd->buf, rd->len, false);
		rd->len = 0;
	}
	fflush(stdout);
	return 0;
}

static int
show(struct logs *o, const struct target *t)
{
	struct reader rd = { .fd = -1 };
	int pidfd = -1, rc = 0;

	if (o->follow && t->state_dir[0])
		pidfd = (int)syscall(SYS_pidfd_open, t->supervisor, 0);
	for (;;) {
		rd.fd = open(t->path, O_RDONLY | O_CLOEXEC);
		if (rd.fd >= 0)
			break;
		/* A sandbox that has just started may not have created its trail yet. */
		if (errno != ENOENT || !o->follow || writer_gone(t, pidfd)) {
			fprintf(stderr, "warden logs: %s: %s\n", t->path, strerror(errno));
			rc = 1;
			goto out;
		}
		poll(NULL, 0, POLL_MS);
	}
	rd.buf = xmalloc(LINE_MAX_BYTES + READ_CHUNK);
	if (o->follow && !t->state_dir[0])
		fprintf(stderr, "warden logs: %s: no running sandbox writes this trail; "
		    "nothing to follow\n", o->path);
	if (!o->follow || !t->state_dir[0]) {
		if (drain(o, &rd, true) < 0)
			goto read_error;
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		bool gone = writer_gone(t, pidfd);

		/* Checked before reading, so the last read sees everything written. */
		if (drain(o, &rd, gone) < 0)
			goto read_error;
		if (gone)
			break;
		poll(&p, pidfd >= 0 ? 1 : 0, POLL_MS);
	}
	goto out;
read_error:
	fprintf(stderr, "warden logs: read %s: %s\n", t->path, strerror(errno));
	rc = 1;
out:
	if (rd.fd >= 0)
		close(rd.fd);
	if (pidfd >= 0)
		close(pidfd);
	free(rd.buf);
	return rc;
}

int
cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "ocsf", no_argument, NULL, 'o' },
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct logs o = { .fmt = AUDIT_OUT_HUMAN };
	struct target t;
	struct werr err = { 0 };
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
	int c, rc;

	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o.follow = true; break;
		case 'j':
		case 'o':
			if (o.fmt != AUDIT_OUT_HUMAN) {
				fprintf(stderr, "warden logs: --json and --ocsf exclude each other\n");
				return 2;
			}
			o.fmt = c == 'j' ? AUDIT_OUT_JSON : AUDIT_OUT_OCSF;
			break;
		case 's':
			if (parse_since(optarg, &o.since_ns) < 0) {
				fprintf(stderr, "warden logs: --since '%s': expected an RFC 3339 time "
				    "(2026-11-23T21:54:36Z) or an age (10m, 2h)\n", optarg);
				return 2;
			}
			o.have_since = true;
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	if (resolve(argv[optind], &t, &err) < 0) {
		fprintf(stderr, "warden logs: %s\n", err.msg);
		return 1;
	}
	o.path = t.path;
	o.colour = o.fmt == AUDIT_OUT_HUMAN && isatty(STDOUT_FILENO) && !(nc && nc[0]) &&
	    !(term && strcmp(term, "dumb") == 0);
	if (o.have_since && o.fmt == AUDIT_OUT_OCSF)
		o.devnull = fopen("/dev/null", "we");
	rc = show(&o, &t);
	if (o.devnull)
		fclose(o.devnull);
	return rc;
}
