/*
 * audit.h -- the record of every change made through the admin API (and
 * SIGHUP): who, from where, what, when, and how it ended.
 *
 * Each entry goes to three places: the server log (one line), an
 * in-memory ring of the last AF_AUDIT_KEEP entries (GET /admin/audit), and,
 * when configured, a file of JSON lines opened for append (O_APPEND, mode
 * 0600), flushed per entry.  Thread-safe.
 */
#ifndef AF_CORE_ADMIN_AUDIT_H
#define AF_CORE_ADMIN_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AF_AUDIT_KEEP 256

struct af_audit_entry {
    double time;          /* unix seconds                                  */
    const char *who;      /* token id, "SIGHUP", "startup"                 */
    const char *peer;     /* client address, or "-"                        */
    const char *action;   /* "plugin.reload", "model.deploy", ...          */
    const char *target;   /* what it acted on ("lr", "home_feed/control/rank") */
    const char *result;   /* "ok" or "error"                               */
    int status;           /* HTTP status of the answer                     */
    uint64_t generation;  /* the generation serving afterwards             */
    const char *message;  /* the error, or a summary                       */
};

typedef struct af_audit af_audit;

/* file may be NULL (no file).  NULL with the reason in err. */
af_audit *af_audit_open(const char *file, char *err, size_t errlen);
void af_audit_close(af_audit *a);

void af_audit_record(af_audit *a, const struct af_audit_entry *e);

/* The last `limit` entries, oldest first, as a JSON array (new reference). */
json_t *af_audit_json(af_audit *a, unsigned limit);

#endif
