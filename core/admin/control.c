/*
 * control.c -- the control plane (see control.h): build, warm up, publish,
 * audit.
 */
#include "admin/control.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "adfunnel/af_errno.h"
#include "admin/audit.h"
#include "admin/versions.h"
#include "admin/warmup.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"
#include "util/log.h"
#include "util/strbuf.h"

static const char *const action_names[AF_ADMIN_N_ACTIONS] = {
#define AF__ADMIN_NAME(id, name) name,
    AF_ADMIN_ACTIONS(AF__ADMIN_NAME)
#undef AF__ADMIN_NAME
};

struct af_control {
    pthread_mutex_t lock;          /* serialises changes                  */
    af_server *server;
    af_versions *versions;
    af_audit *audit;
    unsigned warmup;
    uint32_t canary_ppm;

    /* Read by /metrics on worker threads. */
    _Atomic uint64_t changes[AF_ADMIN_N_ACTIONS][2]; /* [ok, error]     */
    _Atomic uint64_t auth_failures;
    _Atomic uint64_t last_build_us, last_warmup_us;
    _Atomic uint32_t previous_held;
};

const char *
af_admin_action_name(enum af_admin_action a)
{
    return (unsigned)a < AF_ADMIN_N_ACTIONS ? action_names[a] : "?";
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double
now_unix(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

af_control *
af_control_create(const struct af_control_opts *o, char *err, size_t errlen)
{
    af_control *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->server = o->server;
    c->warmup = o->warmup_requests;
    c->audit = af_audit_open(o->audit_file, err, errlen);
    if (!c->audit) {
        free(c);
        return NULL;
    }
    af_generation *g = af_server_current(o->server);
    c->versions = af_versions_create(g, o->keep_previous, "startup");
    af_generation_unref(g);
    if (!c->versions) {
        af_audit_close(c->audit);
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void
af_control_free(af_control *c)
{
    if (!c)
        return;
    af_versions_free(c->versions);
    af_audit_close(c->audit);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* --- ## Results --- */

static int
status_of(int code)
{
    switch (code) {
    case AF_OK: return 200;
    case AF_EINVAL: return 400;
    case AF_ENOENT: return 404;
    case AF_EBUSY:
    case AF_EEXIST:
    case AF_EMISMATCH: return 409;
    case AF_ENOMEM: return 500;
    default: return 422;
    }
}

static void
describe_target(const struct af_admin_request *rq, char *out, size_t n)
{
    const struct af_gen_change *ch = &rq->change;
    switch (rq->action) {
    case AF_ADMIN_PLUGIN_LOAD:
        snprintf(out, n, "%s", ch->path ? ch->path : "");
        break;
    case AF_ADMIN_PLUGIN_RELOAD:
    case AF_ADMIN_PLUGIN_UNLOAD:
        snprintf(out, n, "%s", ch->name ? ch->name : "");
        break;
    case AF_ADMIN_PIPELINE_RELOAD:
        snprintf(out, n, "%s", ch->surface ? ch->surface : "*");
        break;
    case AF_ADMIN_MODEL_DEPLOY:
        snprintf(out, n, "%s/%s/%s=%s", ch->surface ? ch->surface : "",
                 ch->arm ? ch->arm : "control", ch->stage ? ch->stage : "rank",
                 ch->path ? ch->path : "(pipeline's own)");
        break;
    case AF_ADMIN_CANARY_SHARE:
        snprintf(out, n, "%g", rq->share);
        break;
    default:
        snprintf(out, n, "-");
    }
}

static void
finish(af_control *c, const struct af_admin_request *rq,
       struct af_admin_result *res)
{
    int ok = res->status == 200;
    unsigned a = (unsigned)rq->action < AF_ADMIN_N_ACTIONS ? rq->action : 0;
    atomic_fetch_add(&c->changes[a][ok ? 0 : 1], 1);
    atomic_store(&c->previous_held,
                 af_versions_previous_count(c->versions));
    char target[1024];
    describe_target(rq, target, sizeof target);
    struct af_audit_entry e = {
        .time = now_unix(),
        .who = rq->who,
        .peer = rq->peer,
        .action = af_admin_action_name(rq->action),
        .target = target,
        .result = ok ? "ok" : "error",
        .status = res->status,
        .generation = res->generation,
        .message = res->message,
    };
    af_audit_record(c->audit, &e);
}

/* --- ## Publishing --- */

static void
set_share(af_control *c, double share)
{
    if (share >= 0)
        c->canary_ppm = (uint32_t)(share > 1 ? 1e6 : share * 1e6 + 0.5);
}

/* Publish g (our reference is kept by the caller) as stable or canary. */
static void
publish(af_control *c, af_generation *g, int canary, const char *action,
        const char *who)
{
    af_generation_ref(g); /* the server's */
    if (canary) {
        af_versions_set_canary(c->versions, g, action, who);
        af_server_publish_canary(c->server, g, c->canary_ppm);
    } else {
        af_versions_push_stable(c->versions, g, action, who);
        af_server_publish(c->server, g);
    }
}

/* Build, warm up and publish a generation with rq->change applied. */
static void
apply_change(af_control *c, const struct af_admin_request *rq,
             struct af_admin_result *res)
{
    af_generation *stable = af_versions_stable(c->versions);
    af_generation *canary = af_versions_canary(c->versions);
    /* A canary change builds on the canary when there is one: iterating on
     * a canary must not lose what it already had. */
    af_generation *base = rq->canary && canary ? canary : stable;
    res->previous = af_generation_id(rq->canary && canary ? canary : stable);
    double t0 = now_ms();
    int code;
    af_generation *g = af_generation_derive(base, &rq->change, &code,
                                            res->message,
                                            sizeof res->message);
    double t1 = now_ms();
    res->build_ms = t1 - t0;
    if (!g) {
        res->status = status_of(code);
        res->generation = af_generation_id(stable);
        return;
    }
    char why[1536];
    int rc = af_warmup_run(g, c->warmup, why, sizeof why);
    res->warmup_ms = now_ms() - t1;
    atomic_store(&c->last_build_us, (uint64_t)(res->build_ms * 1e3));
    atomic_store(&c->last_warmup_us, (uint64_t)(res->warmup_ms * 1e3));
    if (rc != AF_OK) {
        snprintf(res->message, sizeof res->message,
                 "generation %llu refused: %s",
                 (unsigned long long)af_generation_id(g), why);
        af_generation_unref(g);
        res->status = 422;
        res->generation = af_generation_id(stable);
        return;
    }
    af_generation_instances(g, base, &res->shared, &res->instances);
    set_share(c, rq->share);
    publish(c, g, rq->canary, af_admin_action_name(rq->action), rq->who);
    res->status = 200;
    res->generation = af_generation_id(g);
    res->label = rq->canary ? "canary" : "stable";
    snprintf(res->message, sizeof res->message,
             "generation %llu is %s (was %llu); built in %.1f ms (%u of %u "
             "plugin instances kept), warmed up in %.1f ms",
             (unsigned long long)res->generation, res->label,
             (unsigned long long)res->previous, res->build_ms, res->shared,
             res->instances, res->warmup_ms);
    af_generation_unref(g);
}

static void
rollback(af_control *c, const struct af_admin_request *rq,
         struct af_admin_result *res)
{
    af_generation *old = af_versions_stable(c->versions);
    res->previous = af_generation_id(old);
    af_generation *g = af_versions_rollback(c->versions, rq->who);
    if (!g) {
        res->status = 409;
        res->generation = res->previous;
        snprintf(res->message, sizeof res->message,
                 "no previous version is held to roll back to");
        return;
    }
    af_generation_ref(g);
    af_server_publish(c->server, g);
    res->status = 200;
    res->generation = af_generation_id(g);
    res->label = "stable";
    snprintf(res->message, sizeof res->message,
             "rolled back: generation %llu is stable again (was %llu)",
             (unsigned long long)res->generation,
             (unsigned long long)res->previous);
}

static void
canary_op(af_control *c, const struct af_admin_request *rq,
          struct af_admin_result *res)
{
    af_generation *stable = af_versions_stable(c->versions);
    af_generation *canary = af_versions_canary(c->versions);
    res->previous = af_generation_id(stable);
    res->generation = res->previous;
    if (!canary) {
        res->status = 409;
        snprintf(res->message, sizeof res->message, "there is no canary");
        return;
    }
    res->status = 200;
    if (rq->action == AF_ADMIN_PROMOTE) {
        af_generation *g = af_versions_promote(c->versions, rq->who);
        af_generation_ref(g);
        af_server_publish(c->server, g);
        af_server_publish_canary(c->server, NULL, 0);
        res->generation = af_generation_id(g);
        res->label = "stable";
        snprintf(res->message, sizeof res->message,
                 "canary generation %llu promoted to stable (was %llu)",
                 (unsigned long long)res->generation,
                 (unsigned long long)res->previous);
    } else if (rq->action == AF_ADMIN_CANARY_DROP) {
        uint64_t id = af_generation_id(canary);
        af_versions_drop_canary(c->versions);
        af_server_publish_canary(c->server, NULL, 0);
        snprintf(res->message, sizeof res->message,
                 "canary generation %llu dropped", (unsigned long long)id);
    } else {
        if (!(rq->share >= 0 && rq->share <= 1)) {
            res->status = 400;
            snprintf(res->message, sizeof res->message,
                     "share must be in [0, 1]");
            return;
        }
        set_share(c, rq->share);
        af_generation_ref(canary);
        af_server_publish_canary(c->server, canary, c->canary_ppm);
        res->generation = af_generation_id(canary);
        res->label = "canary";
        snprintf(res->message, sizeof res->message,
                 "canary generation %llu serves %.4g%% of users",
                 (unsigned long long)res->generation, c->canary_ppm / 1e4);
    }
}

void
af_control_apply(af_control *c, const struct af_admin_request *rq,
                 struct af_admin_result *res)
{
    memset(res, 0, sizeof *res);
    res->label = "stable";
    pthread_mutex_lock(&c->lock);
    switch (rq->action) {
    case AF_ADMIN_PLUGIN_LOAD:
    case AF_ADMIN_PLUGIN_RELOAD:
    case AF_ADMIN_PLUGIN_UNLOAD:
    case AF_ADMIN_PIPELINE_RELOAD:
    case AF_ADMIN_MODEL_DEPLOY:
        apply_change(c, rq, res);
        break;
    case AF_ADMIN_ROLLBACK:
        rollback(c, rq, res);
        break;
    case AF_ADMIN_PROMOTE:
    case AF_ADMIN_CANARY_DROP:
    case AF_ADMIN_CANARY_SHARE:
        canary_op(c, rq, res);
        break;
    default:
        res->status = 400;
        snprintf(res->message, sizeof res->message, "unknown action");
    }
    finish(c, rq, res);
    pthread_mutex_unlock(&c->lock);
}

void
af_control_sighup(void *arg)
{
    struct af_admin_request rq = {
        .action = AF_ADMIN_PIPELINE_RELOAD,
        .change = {.kind = AF_GEN_RELOAD_PIPELINES},
        .share = -1,
        .who = "SIGHUP",
        .peer = "-",
    };
    struct af_admin_result res;
    af_control_apply(arg, &rq, &res);
}

void
af_control_auth_failure(af_control *c)
{
    atomic_fetch_add(&c->auth_failures, 1);
}

/* --- ## Metrics --- */

static void
model_info(af_buf *b, const char *label, const af_generation *g)
{
    for (uint32_t i = 0; i < af_generation_surface_count(g); i++) {
        const struct af_pipeline *p =
            af_generation_surface(g, af_generation_surface_name(g, i));
        for (uint32_t a = 0; a < p->n_arms; a++)
            for (int s = AF_STAGE_PRERANK; s <= AF_STAGE_RANK; s++) {
                const struct af_stage *st = p->arm[a].stage[s];
                if (!st || (a > 0 && st == p->arm[0].stage[s]))
                    continue;
                const struct af_model_ops *ops = st->p[0].in.ops;
                const char *v = ops->model_version
                                    ? ops->model_version(st->p[0].in.inst)
                                    : NULL;
                af_buf_printf(b,
                              "adfunnel_version_model_info{label=\"%s\","
                              "generation=\"%llu\",surface=\"%s\",arm=\"%s\","
                              "stage=\"%s\",plugin=\"%s\",version=\"%s\"} 1\n",
                              label, (unsigned long long)af_generation_id(g),
                              p->surface, p->arm[a].name, st->name,
                              st->p[0].in.plugin->desc->name,
                              v ? v : st->p[0].in.plugin->desc->version);
            }
    }
}

void
af_control_metrics(void *arg, const af_generation *stable,
                   const af_generation *canary, af_buf *b)
{
    af_control *c = arg;
    af_buf_puts(b, "# HELP adfunnel_admin_changes_total Admin changes by "
                   "action and result.\n"
                   "# TYPE adfunnel_admin_changes_total counter\n");
    for (unsigned a = 0; a < AF_ADMIN_N_ACTIONS; a++)
        for (int r = 0; r < 2; r++)
            af_buf_printf(b,
                          "adfunnel_admin_changes_total{action=\"%s\","
                          "result=\"%s\"} %llu\n",
                          action_names[a], r ? "error" : "ok",
                          (unsigned long long)atomic_load(&c->changes[a][r]));
    af_buf_printf(
        b,
        "# HELP adfunnel_admin_auth_failures_total Admin requests refused "
        "for a missing or wrong token.\n"
        "# TYPE adfunnel_admin_auth_failures_total counter\n"
        "adfunnel_admin_auth_failures_total %llu\n"
        "# HELP adfunnel_admin_last_build_seconds Time to build the last new "
        "generation.\n"
        "# TYPE adfunnel_admin_last_build_seconds gauge\n"
        "adfunnel_admin_last_build_seconds %.6f\n"
        "# HELP adfunnel_admin_last_warmup_seconds Time to warm up the last "
        "new generation.\n"
        "# TYPE adfunnel_admin_last_warmup_seconds gauge\n"
        "adfunnel_admin_last_warmup_seconds %.6f\n"
        "# HELP adfunnel_versions_previous_held Previous versions held for "
        "rollback.\n"
        "# TYPE adfunnel_versions_previous_held gauge\n"
        "adfunnel_versions_previous_held %u\n",
        (unsigned long long)atomic_load(&c->auth_failures),
        (double)atomic_load(&c->last_build_us) / 1e6,
        (double)atomic_load(&c->last_warmup_us) / 1e6,
        atomic_load(&c->previous_held));
    af_buf_puts(b, "# HELP adfunnel_version_info Generation serving each "
                   "version label.\n"
                   "# TYPE adfunnel_version_info gauge\n");
    af_buf_printf(b, "adfunnel_version_info{label=\"stable\",generation=\""
                     "%llu\"} 1\n",
                  (unsigned long long)af_generation_id(stable));
    if (canary)
        af_buf_printf(b, "adfunnel_version_info{label=\"canary\",generation="
                         "\"%llu\"} 1\n",
                      (unsigned long long)af_generation_id(canary));
    af_buf_puts(b, "# HELP adfunnel_version_model_info Models of each version "
                   "label, per surface.\n"
                   "# TYPE adfunnel_version_model_info gauge\n");
    model_info(b, "stable", stable);
    if (canary)
        model_info(b, "canary", canary);
}

/* --- ## Views --- */

json_t *
af_control_plugins_json(af_control *c)
{
    pthread_mutex_lock(&c->lock);
    af_generation *g = af_versions_stable(c->versions);
    json_t *list = json_array();
    for (uint32_t i = 0; i < af_generation_plugin_count(g); i++) {
        struct af_gen_plugin_info pi;
        if (af_generation_plugin_at(g, i, &pi) != AF_OK)
            continue;
        char users[1024], abi[32];
        af_generation_plugin_users(g, pi.name, users, sizeof users);
        snprintf(abi, sizeof abi, "%u.%u", pi.abi_major, pi.abi_minor);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                            "name", pi.name, "kind", pi.kind, "version",
                            pi.version, "description", pi.description,
                            "file", pi.source, "sha256", pi.sha256, "abi",
                            abi, "used_by", users));
    }
    json_t *refused = json_array();
    for (uint32_t i = 0; i < af_generation_refused_count(g); i++)
        json_array_append_new(refused,
                              json_string(af_generation_refused_at(g, i)));
    json_t *dirs = json_array();
    for (const char *const *d = af_generation_plugin_dirs(g); d && *d; d++)
        json_array_append_new(dirs, json_string(*d));
    json_t *out = json_pack("{s:I, s:o, s:o, s:o}", "generation",
                            (json_int_t)af_generation_id(g), "plugins", list,
                            "refused", refused, "plugin_dirs", dirs);
    pthread_mutex_unlock(&c->lock);
    return out;
}

json_t *
af_control_versions_json(af_control *c)
{
    pthread_mutex_lock(&c->lock);
    json_t *j = af_versions_json(c->versions);
    if (j)
        json_object_set_new(j, "canary_share", json_real(c->canary_ppm / 1e6));
    pthread_mutex_unlock(&c->lock);
    return j;
}

json_t *
af_control_audit_json(af_control *c, unsigned limit)
{
    return af_audit_json(c->audit, limit);
}
