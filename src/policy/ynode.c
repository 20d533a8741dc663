#include "ynode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../lib/util.h"

struct loader {
	yaml_parser_t parser;
	const char *data;
	size_t len;
	size_t nodes;
	char *msg;
	size_t msgsz;
	int line, col;
};

static int
fail(struct loader *l, const yaml_mark_t *m, const char *what)
{
	snprintf(l->msg, l->msgsz, "%s", what);
	l->line = (int)m->line + 1;
	l->col = (int)m->column + 1;
	return -1;
}

static int
parse_error(struct loader *l)
{
	const yaml_parser_t *p = &l->parser;
	const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->mark;

	/* The context mark is where the construct began: an unclosed '[' is
	 * only noticed lines later, so say where it opened. */
	if (p->context && p->context_mark.line != m->line)
		snprintf(l->msg, l->msgsz, "invalid YAML: %s %s that starts at line %d, column %d",
		    p->problem ? p->problem : "syntax error", p->context,
		    (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
	else if (p->context)
		snprintf(l->msg, l->msgsz, "invalid YAML: %s %s", p->problem ? p->problem : "syntax error",
		    p->context);
	else
		snprintf(l->msg, l->msgsz, "invalid YAML: %s", p->problem ? p->problem : "syntax error");
	l->line = (int)m->line + 1;
	l->col = (int)m->column + 1;
	/*
	 * Encoding errors are found by the reader, which decodes ahead of the
	 * scanner: its marks point wherever scanning had got to, often 1:1.
	 * Only the byte offset is right; count lines and characters up to it.
	 */
	if (p->error == YAML_READER_ERROR) {
		size_t off = p->problem_offset < l->len ? p->problem_offset : l->len;

		/* A bad trailing byte is reported at itself: point at the sequence's lead byte. */
		if (p->problem && strstr(p->problem, "trailing")) {
			size_t o = off;
			while (o > 0 && off - o < 3 && ((unsigned char)l->data[o - 1] & 0xc0) == 0x80)
				o--;
			if (o > 0 && ((unsigned char)l->data[o - 1] & 0xc0) == 0xc0)
				off = o - 1;
		}

		if (p->problem && strstr(p->problem, "control characters"))
			snprintf(l->msg, l->msgsz, "policy holds a character YAML does not allow (%s)",
			    p->problem);
		else
			snprintf(l->msg, l->msgsz, "policy is not valid UTF-8 text (%s)",
			    p->problem ? p->problem : "encoding error");
		l->line = l->col = 1;
		for (size_t i = 0; i < off; i++) {
			unsigned char c = (unsigned char)l->data[i];
			if (c == '\n' || (c == '\r' && (i + 1 >= l->len || l->data[i + 1] != '\n'))) {
				l->line++;
				l->col = 1;
			} else if ((c & 0xc0) != 0x80) {
				l->col++;
			}
		}
	}
	return -1;
}

static void
add_kid(struct ynode *parent, struct ynode *kid)
{
	if (parent->nkids == parent->cap) {
		parent->cap = parent->cap ? parent->cap * 2 : 4;
		parent->kids = xrealloc(parent->kids, parent->cap * sizeof(*parent->kids));
	}
	parent->kids[parent->nkids++] = kid;
}

static struct ynode *
new_node(enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

/* Parse the node starting with event ev (already consumed); recursive. */
static int
load_node(struct loader *l, yaml_event_t *ev, int depth, struct ynode **out)
{
	struct ynode *n;
	yaml_event_t kid;
	enum ynode_kind kind;
	yaml_event_type_t end;

	if (++l->nodes > YNODE_MAX_NODES)
		return fail(l, &ev->start_mark, "policy has too many YAML nodes");
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return fail(l, &ev->start_mark,
		    "YAML aliases (*name) are not allowed in a policy; write the value out");
	case YAML_SCALAR_EVENT:
		n = new_node(YN_SCALAR, &ev->start_mark);
		n->str = xmalloc(ev->data.scalar.length + 1);
		memcpy(n->str, ev->data.scalar.value, ev->data.scalar.length);
		n->str[ev->data.scalar.length] = '\0';
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    ev->data.scalar.tag == NULL;
		*out = n;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
		kind = YN_SEQ;
		end = YAML_SEQUENCE_END_EVENT;
		break;
	case YAML_MAPPING_START_EVENT:
		kind = YN_MAP;
		end = YAML_MAPPING_END_EVENT;
		break;
	default:
		return fail(l, &ev->start_mark, "unexpected YAML event");
	}
	if (depth >= YNODE_MAX_DEPTH)
		return fail(l, &ev->start_mark, "policy nests too deeply");
	n = new_node(kind, &ev->start_mark);
	for (;;) {
		struct ynode *k = NULL;
		int r;

		if (!yaml_parser_parse(&l->parser, &kid)) {
			ynode_free(n);
			return parse_error(l);
		}
		if (kid.type == end) {
			yaml_event_delete(&kid);
			break;
		}
		r = load_node(l, &kid, depth + 1, &k);
		yaml_event_delete(&kid);
		if (r < 0) {
			ynode_free(n);
			return -1;
		}
		add_kid(n, k);
	}
	*out = n;
	return 0;
}

static int
next(struct loader *l, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&l->parser, ev))
		return parse_error(l);
	return 0;
}

int
ynode_parse(const char *data, size_t len, struct ynode **root,
    char *msg, size_t msgsz, int *line, int *col)
{
	struct loader l = { .msg = msg, .msgsz = msgsz };
	yaml_event_t ev;
	struct ynode *doc = NULL;
	int r = -1;

	*root = NULL;
	/*
	 * With the encoding set explicitly libyaml skips a leading BOM as if it
	 * were a character, so the first key sits at column 1 and the second,
	 * at column 0, ends the mapping.  Drop the BOM here instead.
	 */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		data += 3;
		len -= 3;
	}
	l.data = data;
	l.len = len;
	if (!yaml_parser_initialize(&l.parser)) {
		snprintf(msg, msgsz, "cannot initialise the YAML parser");
		*line = *col = 0;
		return -1;
	}
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&l.parser, YAML_UTF8_ENCODING);

	if (next(&l, &ev) < 0)
		goto out;
	yaml_event_delete(&ev);		/* STREAM_START */
	if (next(&l, &ev) < 0)
		goto out;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		r = 0;			/* empty stream */
		goto out;
	}
	yaml_event_delete(&ev);		/* DOCUMENT_START */
	if (next(&l, &ev) < 0)
		goto out;
	r = load_node(&l, &ev, 0, &doc);
	yaml_event_delete(&ev);
	if (r < 0)
		goto out;
	r = -1;
	if (next(&l, &ev) < 0)		/* DOCUMENT_END */
		goto out;
	yaml_event_delete(&ev);
	if (next(&l, &ev) < 0)
		goto out;
	if (ev.type != YAML_STREAM_END_EVENT) {
		fail(&l, &ev.start_mark,
		    "a policy file holds exactly one YAML document; remove the second '---'");
		yaml_event_delete(&ev);
		goto out;
	}
	yaml_event_delete(&ev);
	*root = doc;
	doc = NULL;
	r = 0;
out:
	if (r < 0) {
		*line = l.line;
		*col = l.col;
	}
	ynode_free(doc);
	yaml_parser_delete(&l.parser);
	return r;
}

void
ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

const char *
ynode_kind_name(const struct ynode *n)
{
	switch (n->kind) {
	case YN_SCALAR:
		return "a scalar";
	case YN_SEQ:
		return "a list";
	case YN_MAP:
		return "a mapping";
	}
	return "?";
}
