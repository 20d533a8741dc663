/*
 * A small YAML node tree built from libyaml's event stream.
 *
 * libyaml's own document loader resolves aliases into shared nodes, which
 * lets a few hundred bytes expand into billions of nodes when walked
 * ("billion laughs").  Policies have no use for anchors or aliases, so this
 * loader refuses aliases outright, bounds depth and node count, and keeps
 * the source position of every node for error messages.
 */
#ifndef WARDEN_YNODE_H
#define WARDEN_YNODE_H

#include <stdbool.h>
#include <stddef.h>

enum ynode_kind { YN_SCALAR, YN_SEQ, YN_MAP };

struct ynode {
	enum ynode_kind kind;
	int line, col;		/* 1-based */
	bool plain;		/* scalar was unquoted (so may be a number/bool) */
	char *str;		/* scalar value (NUL-terminated, may hold NULs) */
	size_t len;
	/* SEQ: items; MAP: alternating key, value. */
	struct ynode **kids;
	size_t nkids, cap;
};

#define YNODE_MAX_DEPTH 32
#define YNODE_MAX_NODES 100000

/*
 * Parse one YAML document.  Returns 0 and *root (NULL for an empty file),
 * or -1 with a message and its 1-based position in msg/line/col.
 */
int ynode_parse(const char *data, size_t len, struct ynode **root,
    char *msg, size_t msgsz, int *line, int *col);
void ynode_free(struct ynode *n);
const char *ynode_kind_name(const struct ynode *n);

#endif
