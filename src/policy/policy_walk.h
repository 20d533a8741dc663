/*
 * The loader's walking machinery, shared by the files that each parse a
 * part of the policy: policy_parse.c owns it and the core sections,
 * policy_inference.c parses `inference` and `classifiers`,
 * policy_approvals.c `approvals`.  Internal to
 * src/policy/: nothing outside this directory includes it.
 *
 * Contract of a section parser: convert and validate every value it is
 * given, report each problem with pl_diag() at the node it concerns (with
 * what was expected and a valid snippet), never stop at the first one, and
 * leave whatever it did convert in the struct policy (policy_free()
 * releases partial results when the file is rejected).
 */
#ifndef WARDEN_POLICY_WALK_H
#define WARDEN_POLICY_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "ynode.h"

struct cred_at;
struct infer_at;

/* State of one load: where diagnostics go, what is being filled. */
struct pctx {
	struct policy_diags *d;
	struct policy *p;
	bool fs_seen;
	const struct ynode *cur_key;	/* key whose value is being walked */
	struct cred_at *cred_at;	/* per credential, while the YAML tree is alive */
	struct infer_at *infer_at;	/* inference/classifiers positions, likewise */
};

/* One key a mapping accepts, and the function that takes its value. */
struct key_spec {
	const char *key;
	void (*fn)(struct pctx *c, struct ynode *v, void *obj);
};

/* Record a diagnostic at node `at` (NULL: line 1, column 1). */
void pl_diag(struct pctx *c, const struct ynode *at, const char *expected,
    const char *example, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A scalar's text, or NULL after reporting a non-scalar or a NUL byte. */
const char *pl_scalar(struct pctx *c, struct ynode *v, const char *what, const char *example);
/* A plain empty, "~" or "null" scalar. */
bool pl_is_null(const struct ynode *v);
/*
 * Walk a mapping: reject non-scalar, NUL-holding and duplicate keys,
 * report unknown keys with the valid ones, dispatch known keys with obj.
 */
void pl_walk_map(struct pctx *c, struct ynode *m, const char *what,
    const struct key_spec *spec, const char *example, void *obj);
/* For each key of m (by pair index), the first earlier equal key or NULL.  Caller frees. */
const struct ynode **pl_earlier_keys(const struct ynode *m);

/* ---- policy_inference.c ---- */

void pl_top_inference(struct pctx *c, struct ynode *v, void *o);
void pl_top_classifiers(struct pctx *c, struct ynode *v, void *o);
/* Does a provider under inference name this credential (valid or not)? */
bool pl_infer_uses_credential(const struct pctx *c, const char *name);
/* Checks across sections, once the whole file has been walked. */
void pl_infer_check(struct pctx *c);
/* Release the positions kept while the tree was alive. */
void pl_infer_done(struct pctx *c);
/* Put a loaded policy's inference sets in their canonical order. */
void pl_infer_sort(struct policy *p);
/* Free what the two sections hold (part of policy_free). */
void pl_infer_free(struct policy *p);

/* ---- policy_approvals.c ---- */

void pl_top_approvals(struct pctx *c, struct ynode *v, void *o);
/* The values an absent section means. */
void pl_approvals_defaults(struct approvals_policy *ap);
/* Its canonical text; nothing when the section was not written. */
void pl_approvals_canon(struct sbuf *b, const struct approvals_policy *ap);

#endif
