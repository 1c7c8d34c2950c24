/*
 * versions.c -- stable / canary / previous versions (see versions.h).
 *
 * The history is a short array, most recently changed last: an entry moves
 * to the end whenever its label changes, so "the newest previous" is the
 * last previous entry.
 */
#include "admin/versions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "adfunnel/af_plugin.h"
#include "config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"

struct version {
    uint64_t id;
    af_generation *gen; /* held, or NULL once retired */
    enum af_version_label label;
    double since;       /* unix time the label was set */
    double created;
    char action[32];
    char who[64];
};

struct af_versions {
    struct version h[AF_VERSIONS_HISTORY];
    unsigned n;
    unsigned keep;
};

static double
now_unix(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

const char *
af_version_label_name(enum af_version_label l)
{
    switch (l) {
    case AF_VERSION_STABLE: return "stable";
    case AF_VERSION_CANARY: return "canary";
    case AF_VERSION_PREVIOUS: return "previous";
    case AF_VERSION_RETIRED: return "retired";
    }
    return "?";
}

static int
find_label(const af_versions *v, enum af_version_label l)
{
    for (unsigned i = v->n; i-- > 0;)
        if (v->h[i].label == l)
            return (int)i;
    return -1;
}

/* Move entry i to the end (most recently changed). */
static unsigned
touch(af_versions *v, unsigned i)
{
    struct version e = v->h[i];
    memmove(&v->h[i], &v->h[i + 1], (v->n - i - 1) * sizeof e);
    v->h[v->n - 1] = e;
    v->h[v->n - 1].since = now_unix();
    return v->n - 1;
}

static void
retire(af_versions *v, unsigned i)
{
    v->h[i].label = AF_VERSION_RETIRED;
    if (v->h[i].gen)
        af_generation_unref(v->h[i].gen);
    v->h[i].gen = NULL;
    touch(v, i);
}

/* Keep at most `keep` previous versions held. */
static void
trim_previous(af_versions *v)
{
    unsigned seen = 0;
    for (unsigned i = v->n; i-- > 0;) {
        if (v->h[i].label != AF_VERSION_PREVIOUS)
            continue;
        if (++seen > v->keep) {
            v->h[i].label = AF_VERSION_RETIRED;
            af_generation_unref(v->h[i].gen);
            v->h[i].gen = NULL;
        }
    }
}

/* Append an entry, dropping the oldest retired one when full. */
static struct version *
append(af_versions *v, af_generation *g, enum af_version_label l,
       const char *action, const char *who)
{
    if (v->n == AF_VERSIONS_HISTORY) {
        unsigned i = 0;
        while (i < v->n && v->h[i].label != AF_VERSION_RETIRED)
            i++;
        if (i == v->n) /* cannot happen: at most keep + 2 are held */
            i = 0;
        if (v->h[i].gen)
            af_generation_unref(v->h[i].gen);
        memmove(&v->h[i], &v->h[i + 1], (v->n - i - 1) * sizeof v->h[0]);
        v->n--;
    }
    struct version *e = &v->h[v->n++];
    memset(e, 0, sizeof *e);
    af_generation_ref(g);
    e->gen = g;
    e->id = af_generation_id(g);
    e->label = l;
    e->created = e->since = now_unix();
    snprintf(e->action, sizeof e->action, "%s", action ? action : "");
    snprintf(e->who, sizeof e->who, "%s", who ? who : "");
    return e;
}

af_versions *
af_versions_create(af_generation *first, unsigned keep, const char *who)
{
    af_versions *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->keep = keep > AF_VERSIONS_HISTORY / 2 ? AF_VERSIONS_HISTORY / 2 : keep;
    append(v, first, AF_VERSION_STABLE, "startup", who);
    return v;
}

void
af_versions_free(af_versions *v)
{
    if (!v)
        return;
    for (unsigned i = 0; i < v->n; i++)
        if (v->h[i].gen)
            af_generation_unref(v->h[i].gen);
    free(v);
}

af_generation *
af_versions_stable(const af_versions *v)
{
    int i = find_label(v, AF_VERSION_STABLE);
    return i < 0 ? NULL : v->h[i].gen;
}

af_generation *
af_versions_canary(const af_versions *v)
{
    int i = find_label(v, AF_VERSION_CANARY);
    return i < 0 ? NULL : v->h[i].gen;
}

unsigned
af_versions_previous_count(const af_versions *v)
{
    unsigned n = 0;
    for (unsigned i = 0; i < v->n; i++)
        n += v->h[i].label == AF_VERSION_PREVIOUS;
    return n;
}

/* The stable entry becomes previous (or is retired when keep is 0). */
static void
demote_stable(af_versions *v)
{
    int s = find_label(v, AF_VERSION_STABLE);
    if (s < 0)
        return;
    if (v->keep == 0) {
        retire(v, (unsigned)s);
        return;
    }
    v->h[s].label = AF_VERSION_PREVIOUS;
    touch(v, (unsigned)s);
}

void
af_versions_push_stable(af_versions *v, af_generation *g, const char *action,
                        const char *who)
{
    demote_stable(v);
    append(v, g, AF_VERSION_STABLE, action, who);
    trim_previous(v);
}

void
af_versions_set_canary(af_versions *v, af_generation *g, const char *action,
                       const char *who)
{
    int c = find_label(v, AF_VERSION_CANARY);
    if (c >= 0)
        retire(v, (unsigned)c);
    append(v, g, AF_VERSION_CANARY, action, who);
}

af_generation *
af_versions_promote(af_versions *v, const char *who)
{
    int c = find_label(v, AF_VERSION_CANARY);
    if (c < 0)
        return NULL;
    demote_stable(v);
    c = find_label(v, AF_VERSION_CANARY); /* positions moved */
    v->h[c].label = AF_VERSION_STABLE;
    snprintf(v->h[c].who, sizeof v->h[c].who, "%s", who ? who : "");
    unsigned i = touch(v, (unsigned)c);
    trim_previous(v);
    return v->h[i].gen;
}

int
af_versions_drop_canary(af_versions *v)
{
    int c = find_label(v, AF_VERSION_CANARY);
    if (c < 0)
        return -1;
    retire(v, (unsigned)c);
    return 0;
}

af_generation *
af_versions_rollback(af_versions *v, const char *who)
{
    int p = find_label(v, AF_VERSION_PREVIOUS);
    if (p < 0)
        return NULL;
    int s = find_label(v, AF_VERSION_STABLE);
    if (s >= 0)
        retire(v, (unsigned)s);
    p = find_label(v, AF_VERSION_PREVIOUS);
    v->h[p].label = AF_VERSION_STABLE;
    snprintf(v->h[p].who, sizeof v->h[p].who, "%s", who ? who : "");
    unsigned i = touch(v, (unsigned)p);
    return v->h[i].gen;
}

/* --- ## JSON --- */

static json_t *
stage_json(const struct af_arm *arm, const struct af_stage *st)
{
    const struct af_instance *in = &st->p[0].in;
    const char *version = in->plugin->desc->version;
    if (in->plugin->desc->kind == AF_KIND_MODEL) {
        const struct af_model_ops *ops = in->ops;
        const char *mv = ops->model_version ? ops->model_version(in->inst)
                                            : NULL;
        if (mv)
            version = mv;
    }
    const char *file = af_config_str(st->p[0].cfg, "model", NULL);
    return json_pack("{s:s, s:s, s:s, s:s, s:s?}", "arm", arm->name, "stage",
                     st->name, "plugin", in->plugin->desc->name, "version",
                     version, "model", file);
}

static json_t *
surface_json(const struct af_pipeline *p)
{
    json_t *models = json_array();
    for (uint32_t a = 0; a < p->n_arms; a++)
        for (int s = AF_STAGE_PRERANK; s <= AF_STAGE_CALIBRATE; s++) {
            const struct af_stage *st = p->arm[a].stage[s];
            if (!st || (a > 0 && st == p->arm[0].stage[s]))
                continue;
            json_array_append_new(models, stage_json(&p->arm[a], st));
        }
    json_t *arms = json_array();
    for (uint32_t a = 0; a < p->n_arms; a++)
        json_array_append_new(arms, json_string(p->arm[a].name));
    return json_pack("{s:s, s:s, s:s, s:o, s:o}", "surface", p->surface,
                     "pipeline", p->version, "file", p->file, "arms", arms,
                     "models", models);
}

json_t *
af_generation_json(const af_generation *g)
{
    json_t *surfaces = json_array();
    for (uint32_t i = 0; i < af_generation_surface_count(g); i++)
        json_array_append_new(
            surfaces, surface_json(af_generation_surface(
                          g, af_generation_surface_name(g, i))));
    json_t *deployed = json_array();
    for (uint32_t i = 0; i < af_generation_override_count(g); i++) {
        struct af_gen_override_info o;
        if (af_generation_override_at(g, i, &o) == 0)
            json_array_append_new(
                deployed, json_pack("{s:s, s:s, s:s, s:s}", "surface",
                                    o.surface, "arm", o.arm, "stage", o.stage,
                                    "model", o.model));
    }
    json_t *plugins = json_array();
    for (uint32_t i = 0; i < af_generation_plugin_count(g); i++) {
        struct af_gen_plugin_info pi;
        if (af_generation_plugin_at(g, i, &pi) == 0)
            json_array_append_new(
                plugins, json_pack("{s:s, s:s, s:s}", "name", pi.name,
                                   "version", pi.version, "sha256",
                                   pi.sha256));
    }
    return json_pack("{s:I, s:o, s:o, s:o}", "generation",
                     (json_int_t)af_generation_id(g), "surfaces", surfaces,
                     "deployed", deployed, "plugins", plugins);
}

static json_t *
id_or_null(const af_generation *g)
{
    return g ? json_integer((json_int_t)af_generation_id(g)) : json_null();
}

json_t *
af_versions_json(const af_versions *v)
{
    json_t *list = json_array();
    json_t *previous = json_array();
    for (unsigned i = v->n; i-- > 0;) {
        const struct version *e = &v->h[i];
        json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:f, s:f, s:b}", "version",
                              (json_int_t)e->id, "label",
                              af_version_label_name(e->label), "action",
                              e->action, "who", e->who, "created", e->created,
                              "since", e->since, "held", e->gen != NULL);
        if (j && e->gen)
            json_object_set_new(j, "detail", af_generation_json(e->gen));
        json_array_append_new(list, j);
        if (e->label == AF_VERSION_PREVIOUS)
            json_array_append_new(previous, json_integer((json_int_t)e->id));
    }
    return json_pack("{s:o, s:o, s:o, s:i, s:o}", "stable",
                     id_or_null(af_versions_stable(v)), "canary",
                     id_or_null(af_versions_canary(v)), "previous", previous,
                     "keep", (int)v->keep, "versions", list);
}
