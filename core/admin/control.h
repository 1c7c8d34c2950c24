/*
 * control.h -- the control plane: every change to what the server runs
 * goes through here, from the admin API, SIGHUP or tests.
 *
 * A change that needs a new generation (load / reload / unload a plugin,
 * reload pipelines, deploy a model) is built completely from the current
 * one (af_generation_derive), warmed up with synthetic requests
 * (admin/warmup.h), and only then published, atomically, to the server as
 * the stable or the canary version.  A failed build or warm-up changes
 * nothing: the current generation keeps serving and the result says why.
 * Rollback, promotion and dropping the canary republish generations already
 * held (admin/versions.h) and cannot fail that way.
 *
 * Changes are serialised by a mutex (two operators cannot interleave
 * builds).  Every change, successful or not, is audited (admin/audit.h) and
 * counted in /metrics (af_control_metrics).
 */
#ifndef AF_CORE_ADMIN_CONTROL_H
#define AF_CORE_ADMIN_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/generation.h"
#include "http/server.h"

#define AF_ADMIN_ACTIONS(XX)                                                   \
    XX(PLUGIN_LOAD, "plugin.load")                                             \
    XX(PLUGIN_RELOAD, "plugin.reload")                                         \
    XX(PLUGIN_UNLOAD, "plugin.unload")                                         \
    XX(PIPELINE_RELOAD, "pipeline.reload")                                     \
    XX(MODEL_DEPLOY, "model.deploy")                                           \
    XX(ROLLBACK, "version.rollback")                                           \
    XX(PROMOTE, "canary.promote")                                              \
    XX(CANARY_DROP, "canary.drop")                                             \
    XX(CANARY_SHARE, "canary.share")

enum af_admin_action {
#define AF__ADMIN_ENUM(id, name) AF_ADMIN_##id,
    AF_ADMIN_ACTIONS(AF__ADMIN_ENUM)
#undef AF__ADMIN_ENUM
    AF_ADMIN_N_ACTIONS
};

const char *af_admin_action_name(enum af_admin_action a);

struct af_admin_request {
    enum af_admin_action action;
    struct af_gen_change change; /* for the actions that build a generation */
    int canary;                  /* publish the result as the canary       */
    double share;                /* canary share of users in [0, 1]; < 0:
                                    leave as it is                         */
    const char *who;             /* token id, "SIGHUP", ...                */
    const char *peer;            /* client address, or NULL                */
};

struct af_admin_result {
    int status;           /* HTTP status: 200, 400, 404, 409, 422, 500     */
    uint64_t generation;  /* the version the change produced / now stable  */
    uint64_t previous;    /* stable before the change                      */
    const char *label;    /* "stable" or "canary"                          */
    double build_ms;
    double warmup_ms;
    uint32_t instances;   /* plugin instances of the new generation ...    */
    uint32_t shared;      /* ... of which shared with the one it replaced  */
    char message[2048];   /* the reason of a failure, or a summary         */
};

struct af_control_opts {
    af_server *server;        /* borrowed; outlives the control plane      */
    unsigned keep_previous;   /* previous versions held for rollback       */
    unsigned warmup_requests; /* per surface, before publishing            */
    const char *audit_file;   /* JSON lines appended; NULL: none           */
};

typedef struct af_control af_control;

af_control *af_control_create(const struct af_control_opts *o, char *err,
                              size_t errlen);
void af_control_free(af_control *c);

/* Carry out one request; always fills res. */
void af_control_apply(af_control *c, const struct af_admin_request *rq,
                      struct af_admin_result *res);

/* For struct af_server_opts.on_sighup (arg: the control plane): reload all
 * pipelines from disk, audited as who = "SIGHUP". */
void af_control_sighup(void *arg);

/* For struct af_server_opts.metrics_hook (arg: the control plane).  Reads
 * only atomics and the generations passed in (pinned by the caller). */
void af_control_metrics(void *arg, const af_generation *stable,
                        const af_generation *canary, struct af_buf *out);

/* Count a request refused for want of a valid token (metrics). */
void af_control_auth_failure(af_control *c);

/* Views for the admin API (new references). */
json_t *af_control_plugins_json(af_control *c);
json_t *af_control_versions_json(af_control *c);
json_t *af_control_audit_json(af_control *c, unsigned limit);

#endif
