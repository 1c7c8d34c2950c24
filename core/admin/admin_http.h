/*
 * admin_http.h -- the admin API: its own listener and thread, JSON over
 * HTTP, bearer tokens.
 *
 * Separate from the serving listener so that it can stay on loopback while
 * the public one does not, so that a flood of ranking traffic cannot starve
 * it, and so that its (slow) builds never run on a serving worker.  It binds
 * 127.0.0.1 by default; an address that is not loopback is refused (no
 * listener at all) unless allow_remote is set.  Every request needs
 * "Authorization: Bearer <token>" with a token from the token file
 * (admin/token.h); without one the answer is 401.
 *
 * Routes (JSON bodies and answers; see docs/operations.md):
 *   GET  /admin/plugins            plugins of the stable version
 *   POST /admin/plugins/load       {"path": F}
 *   POST /admin/plugins/reload     {"name": N}
 *   POST /admin/plugins/unload     {"name": N}
 *   POST /admin/pipelines/reload   {"surface": S} or {} for all
 *   POST /admin/models/deploy      {"surface": S, "stage": "rank",
 *                                   "arm": "control", "model": F | null}
 *   GET  /admin/versions           stable, canary, previous, history
 *   POST /admin/rollback           previous version back to stable
 *   POST /admin/canary/promote     canary becomes stable
 *   POST /admin/canary/drop        canary removed
 *   POST /admin/canary/share       {"share": 0.05}
 *   GET  /admin/audit?limit=N      the last changes
 * The building changes take "label": "canary" (and "share") to publish the
 * result as the canary instead of the stable version.
 */
#ifndef AF_CORE_ADMIN_HTTP_H
#define AF_CORE_ADMIN_HTTP_H

#include <stddef.h>

#include "admin/control.h"

struct af_admin_opts {
    const char *host;       /* NULL: "127.0.0.1"                          */
    int port;               /* 0: ephemeral                               */
    int allow_remote;       /* permit a non-loopback address              */
    const char *token_file; /* required                                   */
    const char *port_file;  /* if set, the bound port is written there    */
    size_t max_body;        /* request body limit; 0: 64 KiB              */
    int nice;               /* nice value of the admin thread, 0..19: its
                               builds then yield the cores to serving    */
};

typedef struct af_admin_server af_admin_server;

/*
 * Check the options, load the tokens, bind, and start the admin thread.
 * `c` is borrowed until af_admin_server_stop.  NULL with the reason in err
 * (e.g. a non-loopback address without allow_remote: nothing is bound).
 */
af_admin_server *af_admin_server_start(const struct af_admin_opts *o,
                                       af_control *c, char *err,
                                       size_t errlen);

/* The port bound. */
int af_admin_server_port(const af_admin_server *a);

/* Stop the thread (a change in progress finishes first), close the
 * listener, free. */
void af_admin_server_stop(af_admin_server *a);

/* 1 when every address `host` resolves to is a loopback address, 0 when
 * one is not, -1 when it does not resolve (reason in err). */
int af_admin_host_is_loopback(const char *host, char *err, size_t errlen);

#endif
