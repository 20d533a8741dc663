/*
 * Reading an audit trail for people and SIEMs: the human one-line form,
 * the raw records, and OCSF 1.x events.
 *
 * OCSF mapping (class_uid): net.connect / net.close -> Network Activity
 * (4001); http.request -> HTTP Activity (4002); process.exec -> Process
 * Activity (1007); finding -> Detection Finding (2004); sandbox.start,
 * sandbox.stop, policy.*, audit.checkpoint -> Application Lifecycle (6002).
 */
#ifndef WARDEN_AUDIT_OCSF_H
#define WARDEN_AUDIT_OCSF_H

#include <stdbool.h>
#include <stdio.h>

#include "../lib/err.h"

enum audit_out_format { AUDIT_OUT_HUMAN, AUDIT_OUT_JSON, AUDIT_OUT_OCSF };

/*
 * Render one record (a line of the trail, without its newline) to out in
 * the given format, followed by a newline.  colour: ANSI colours for the
 * human form.  Returns 0, or -1 with err set when the line is not a record
 * (the caller decides whether to stop).
 */
int audit_render(const char *line, size_t len, enum audit_out_format fmt, bool colour,
    FILE *out, struct werr *err);

/*
 * Convert a whole trail to OCSF, one JSON object per line.  Returns the
 * number of records written, or -1 with err set.
 */
long audit_export_ocsf(FILE *in, FILE *out, struct werr *err);

#endif
