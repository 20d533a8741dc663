/* Event dispatch and the one-line log form (see event.h). */
#include "event.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static event_sink_fn sink;
static void *sink_arg;

void
event_set_sink(event_sink_fn fn, void *arg)
{
	sink = fn;
	sink_arg = arg;
}

int
event_emit(const struct event *ev)
{
	return sink ? sink(ev, sink_arg) : 0;
}

/* Append " key=value", quoting values with spaces or quotes. */
static void
kv(char *out, size_t n, size_t *len, const char *k, const char *v)
{
	bool quote = false;
	size_t l = *len;

	if (!v || l >= n)
		return;
	for (const char *c = v; *c; c++)
		if (*c == ' ' || *c == '"' || *c == '=' || (unsigned char)*c < 0x20)
			quote = true;
	l += (size_t)snprintf(out + l, n - l, " %s=%s", k, quote ? "\"" : "");
	for (const char *c = v; *c && l + 3 < n; c++) {
		unsigned char ch = (unsigned char)*c;
		if (ch == '"' || ch == '\\')
			out[l++] = '\\', out[l++] = (char)ch;
		else if (ch < 0x20)
			out[l++] = '?';
		else
			out[l++] = (char)ch;
	}
	if (quote && l + 1 < n)
		out[l++] = '"';
	out[l < n ? l : n - 1] = '\0';
	*len = l < n ? l : n - 1;
}

void
event_format_line(const struct event *ev, char *out, size_t n)
{
	char num[32], dst[300];
	size_t len;

	if (n == 0)
		return;
	/* Connection decisions read as "CONNECT deny ..."; other events by type. */
	if (ev->verb && strcmp(ev->type, "net.connect") == 0)
		snprintf(out, n, "%s %s", ev->verb, ev->decision ? ev->decision : "");
	else
		snprintf(out, n, "%s %s", ev->type, ev->decision ? ev->decision : "");
	len = strlen(out);
	if (len && out[len - 1] == ' ')
		out[--len] = '\0';
	if (ev->verb && strcmp(ev->type, "net.connect") != 0 && strcmp(ev->verb, ev->type) != 0)
		kv(out, n, &len, "verb", ev->verb);
	kv(out, n, &len, "binary", ev->binary);
	if (ev->pid) {
		snprintf(num, sizeof(num), "%d", (int)ev->pid);
		kv(out, n, &len, "pid", num);
	}
	if (ev->dst) {
		snprintf(dst, sizeof(dst), strchr(ev->dst, ':') ? "[%s]:%u" : "%s:%u", ev->dst,
		    (unsigned)ev->port);
		kv(out, n, &len, "dst", dst);
	}
	kv(out, n, &len, "addr", ev->addr);
	kv(out, n, &len, "rule", ev->rule);
	if (ev->revision) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)ev->revision);
		kv(out, n, &len, "revision", num);
	}
	kv(out, n, &len, "policy", ev->policy_hash);
	kv(out, n, &len, "reason", ev->reason);
}
