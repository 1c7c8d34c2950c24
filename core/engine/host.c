/*
 * host.c -- the host-services table plugins receive, and plugin instances.
 *
 * The table is a single static const object: nothing in it depends on the
 * generation.  What does (instance label, data directory, feature
 * fingerprint, the instance's metrics) hangs off the af_plugin_ctx the
 * plugin passes back.
 */
#include "engine/host.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "mem/arena.h"
#include "model/modelfile.h"
#include "state/state.h"
#include "util/log.h"
#include "util/strbuf.h"

#define MAX_PLUGIN_METRICS 16
#define PLUGIN_HIST_BUCKETS 11
static const double plugin_hist_le[PLUGIN_HIST_BUCKETS] = {
    1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1e3, 1e4, 1e5};

struct af_counter {
    char name[64];
    char help[128];
    _Atomic uint64_t value;
};

struct af_histogram {
    char name[64];
    char help[128];
    _Atomic uint64_t bucket[PLUGIN_HIST_BUCKETS + 1]; /* last: +Inf */
    _Atomic uint64_t count;
    _Atomic double sum; /* updated with compare-exchange */
};

struct af_plugin_ctx {
    _Atomic uint32_t refs; /* generations holding the instance          */
    char label[160];
    char data_dir[PATH_MAX];
    uint64_t feature_fp;
    struct af_state *state;
    const struct af_catalog *catalog;
    const char *plugin_name;
    const char *kind;
    struct af_counter counters[MAX_PLUGIN_METRICS];
    uint32_t n_counters;
    struct af_histogram hists[MAX_PLUGIN_METRICS];
    uint32_t n_hists;
};

/* --- ## Services --- */

static void
host_log(af_plugin_ctx *pc, int level, const char *fmt, ...)
{
    char where[200];
    snprintf(where, sizeof where, "%s:%s", pc ? pc->kind : "plugin",
             pc ? pc->label : "?");
    va_list ap;
    va_start(ap, fmt);
    af_logv(level, where, fmt, ap);
    va_end(ap);
}

uint64_t
af_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
af_rng_seed(af_rng *r, uint64_t seed)
{
    r->s[0] = splitmix64(&seed);
    r->s[1] = splitmix64(&seed);
    if ((r->s[0] | r->s[1]) == 0)
        r->s[0] = 1;
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoroshiro128+ */
static uint64_t
host_rng_u64(af_rng *r)
{
    uint64_t s0 = r->s[0], s1 = r->s[1];
    uint64_t result = s0 + s1;
    s1 ^= s0;
    r->s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
    r->s[1] = rotl(s1, 37);
    return result;
}

static double
host_rng_uniform(af_rng *r)
{
    return (double)(host_rng_u64(r) >> 11) * 0x1.0p-53;
}

static af_counter *
host_counter(af_plugin_ctx *pc, const char *name, const char *help)
{
    for (uint32_t i = 0; i < pc->n_counters; i++)
        if (strcmp(pc->counters[i].name, name) == 0)
            return &pc->counters[i];
    if (pc->n_counters == MAX_PLUGIN_METRICS)
        return NULL;
    struct af_counter *c = &pc->counters[pc->n_counters++];
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->help, sizeof c->help, "%s", help ? help : name);
    atomic_init(&c->value, 0);
    return c;
}

static void
host_counter_add(af_counter *c, uint64_t v)
{
    if (c)
        atomic_fetch_add_explicit(&c->value, v, memory_order_relaxed);
}

static af_histogram *
host_histogram(af_plugin_ctx *pc, const char *name, const char *help)
{
    for (uint32_t i = 0; i < pc->n_hists; i++)
        if (strcmp(pc->hists[i].name, name) == 0)
            return &pc->hists[i];
    if (pc->n_hists == MAX_PLUGIN_METRICS)
        return NULL;
    struct af_histogram *h = &pc->hists[pc->n_hists++];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->help, sizeof h->help, "%s", help ? help : name);
    return h;
}

static void
host_histogram_observe(af_histogram *h, double v)
{
    if (!h || isnan(v))
        return;
    int i = 0;
    while (i < PLUGIN_HIST_BUCKETS && v > plugin_hist_le[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    double old = atomic_load_explicit(&h->sum, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        &h->sum, &old, old + v, memory_order_relaxed, memory_order_relaxed))
        ;
}

static const char *
host_data_path(af_plugin_ctx *pc, const char *path, char *buf, size_t buflen)
{
    int n;
    if (path[0] == '/' || !pc || !pc->data_dir[0])
        n = snprintf(buf, buflen, "%s", path);
    else
        n = snprintf(buf, buflen, "%s/%s", pc->data_dir, path);
    if (n < 0 || (size_t)n >= buflen)
        snprintf(buf, buflen, "%s", ""); /* too long: opening "" fails clearly */
    return buf;
}

static int
host_model_open(af_plugin_ctx *pc, const char *path, const char *kind,
                uint64_t fingerprint, struct af_model_blob *out, char *err,
                size_t errlen)
{
    char full[PATH_MAX];
    host_data_path(pc, path, full, sizeof full);
    return af_modelfile_open(full, kind, fingerprint, out, err, errlen);
}

static uint64_t
host_feature_fingerprint(af_plugin_ctx *pc)
{
    return pc ? pc->feature_fp : 0;
}

static int
host_state_read(af_plugin_ctx *pc, const struct af_request *req, int entity,
                int event, int window, const uint64_t *keys, uint32_t n,
                double *out)
{
    if (entity < 0 || entity >= AF_ENT_N || event < 0 || event >= AF_EV_N ||
        window < 0 || window >= AF_WIN_N || (n && (!keys || !out)))
        return AF_EINVAL;
    if (!pc || !pc->state) {
        for (uint32_t i = 0; i < n; i++)
            out[i] = 0;
        return AF_OK;
    }
    return af_state_read(pc->state, entity, event, window, req->time_s, keys,
                         n, out);
}

static void *
host_arena_alloc(af_arena *a, size_t size)
{
    return af_arena_alloc(a, size);
}

static void *
host_arena_calloc(af_arena *a, size_t n, size_t size)
{
    return af_arena_calloc(a, n, size);
}

static const struct af_host_api host_table = {
    .struct_size = sizeof(struct af_host_api),
    .abi_minor = AF_ABI_MINOR,
    .log = host_log,
    .arena_alloc = host_arena_alloc,
    .arena_calloc = host_arena_calloc,
    .config_has = af_config_has,
    .config_str = af_config_str,
    .config_num = af_config_num,
    .config_int = af_config_int,
    .config_bool = af_config_bool,
    .config_count = af_config_count,
    .config_key = af_config_key,
    .clock_ns = af_clock_ns,
    .rng_u64 = host_rng_u64,
    .rng_uniform = host_rng_uniform,
    .counter = host_counter,
    .counter_add = host_counter_add,
    .histogram = host_histogram,
    .histogram_observe = host_histogram_observe,
    .model_open = host_model_open,
    .model_close = af_modelfile_close,
    .data_path = host_data_path,
    .feature_fingerprint = host_feature_fingerprint,
    .state_read = host_state_read,
};

const struct af_host_api *
af_host_api_table(void)
{
    return &host_table;
}

/* --- ## Instances --- */

int
af_instance_create(const af_loaded *p, const af_config *cfg,
                   const struct af_instance_opts *opts,
                   struct af_instance *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    af_plugin_ctx *pc = calloc(1, sizeof *pc);
    if (!pc) {
        snprintf(err, errlen, "out of memory");
        return AF_ENOMEM;
    }
    snprintf(pc->label, sizeof pc->label, "%s",
             opts && opts->label ? opts->label : p->desc->name);
    snprintf(pc->data_dir, sizeof pc->data_dir, "%s",
             opts && opts->data_dir ? opts->data_dir : "");
    pc->feature_fp = opts ? opts->feature_fingerprint : 0;
    pc->state = opts ? opts->state : NULL;
    pc->catalog = opts ? opts->catalog : NULL;
    atomic_init(&pc->refs, 1);
    pc->plugin_name = p->desc->name;
    pc->kind = af_kind_name(p->desc->kind);

    struct af_create_args args = {
        .struct_size = sizeof args,
        .host = &host_table,
        .pc = pc,
        .config = cfg,
        .catalog = opts ? opts->catalog : NULL,
    };
    void *inst = NULL;
    char perr[512] = "";
    int rc = p->desc->create(&args, &inst, perr, sizeof perr);
    if (rc != AF_OK) {
        snprintf(err, errlen, "plugin \"%s\" (%s) refused to start: %s",
                 p->desc->name, p->path, perr[0] ? perr : af_strerror(rc));
        free(pc);
        return rc < 0 ? rc : AF_EPLUGIN;
    }
    out->plugin = p;
    out->inst = inst;
    out->ops = p->desc->ops;
    out->pc = pc;
    return AF_OK;
}

void
af_instance_destroy(struct af_instance *in)
{
    if (!in || !in->plugin)
        return;
    if (atomic_fetch_sub(&in->pc->refs, 1) == 1) {
        in->plugin->desc->destroy(in->inst);
        free(in->pc);
    }
    memset(in, 0, sizeof *in);
}

int
af_instance_matches(const struct af_instance *in, const af_loaded *p,
                    const struct af_instance_opts *opts)
{
    const af_plugin_ctx *pc = in->pc;
    if (!in->plugin || !pc || in->plugin->desc != p->desc || !opts)
        return 0;
    return strcmp(pc->label, opts->label ? opts->label : p->desc->name) == 0 &&
           strcmp(pc->data_dir, opts->data_dir ? opts->data_dir : "") == 0 &&
           pc->catalog == opts->catalog &&
           pc->feature_fp == opts->feature_fingerprint &&
           pc->state == opts->state;
}

void
af_instance_share(const struct af_instance *from, const af_loaded *p,
                  struct af_instance *out)
{
    atomic_fetch_add(&from->pc->refs, 1);
    out->plugin = p;
    out->inst = from->inst;
    out->ops = from->ops;
    out->pc = from->pc;
}

void
af_instance_metrics(const struct af_instance *in, af_buf *buf)
{
    const af_plugin_ctx *pc = in->pc;
    if (!pc)
        return;
    for (uint32_t i = 0; i < pc->n_counters; i++) {
        const struct af_counter *c = &pc->counters[i];
        af_buf_printf(buf,
                      "adfunnel_plugin_%s_total{plugin=\"%s\",instance=\"%s\"} %llu\n",
                      c->name, pc->plugin_name, pc->label,
                      (unsigned long long)atomic_load(&c->value));
    }
    for (uint32_t i = 0; i < pc->n_hists; i++) {
        const struct af_histogram *h = &pc->hists[i];
        uint64_t cum = 0;
        for (int b = 0; b <= PLUGIN_HIST_BUCKETS; b++) {
            cum += atomic_load(&h->bucket[b]);
            if (b < PLUGIN_HIST_BUCKETS)
                af_buf_printf(buf,
                              "adfunnel_plugin_%s_bucket{plugin=\"%s\",instance=\"%s\",le=\"%g\"} %llu\n",
                              h->name, pc->plugin_name, pc->label,
                              plugin_hist_le[b], (unsigned long long)cum);
            else
                af_buf_printf(buf,
                              "adfunnel_plugin_%s_bucket{plugin=\"%s\",instance=\"%s\",le=\"+Inf\"} %llu\n",
                              h->name, pc->plugin_name, pc->label,
                              (unsigned long long)cum);
        }
        af_buf_printf(buf,
                      "adfunnel_plugin_%s_sum{plugin=\"%s\",instance=\"%s\"} %g\n"
                      "adfunnel_plugin_%s_count{plugin=\"%s\",instance=\"%s\"} %llu\n",
                      h->name, pc->plugin_name, pc->label,
                      atomic_load(&h->sum), h->name, pc->plugin_name,
                      pc->label, (unsigned long long)atomic_load(&h->count));
    }
}
