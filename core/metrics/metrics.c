/*
 * metrics.c -- per-worker metric shards and their Prometheus rendering.
 *
 * Each worker owns one shard and is its only writer, so an update is a
 * relaxed load and store (a plain mov on x86, no lock prefix); /metrics runs
 * on any thread and reads every shard with relaxed loads, which keeps the
 * concurrent access well-defined without slowing the writers.
 *
 * Label values (paths, surfaces, stages, status codes) are interned per
 * shard into small fixed tables, so after the first request of each kind an
 * update does no allocation: a label is a short linear search away.  A table
 * that is full maps new values to "other".  Rendering merges the shards by
 * label string (shards intern in different orders) and may allocate freely.
 */
#include "metrics/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "util/strbuf.h"

#define N_PATHS 8
#define N_SURFACES 16
#define N_STAGES 16
#define N_STATUSES 16
#define LABEL_MAX 64
#define N_BUCKETS (AF_N_LATENCY_BUCKETS + 1) /* the last one is +Inf */

static const double bucket_le[AF_N_LATENCY_BUCKETS] = AF_LATENCY_BUCKETS;

/* One label table type serves every dimension. */
_Static_assert(N_PATHS <= N_SURFACES && N_STAGES <= N_SURFACES,
               "struct labels must hold every dimension");

typedef _Atomic uint64_t counter;

/* Interned label values; slot `cap` of every dimension means "other". */
struct labels {
    _Atomic uint32_t n; /* published with release after the name is written */
    char name[N_SURFACES][LABEL_MAX];
};

struct hist {
    counter bucket[N_BUCKETS]; /* non-cumulative; rendered cumulative */
    _Atomic double sum;
};

struct stage_cell {
    struct hist latency;
    counter cand_sum;
    counter cand_count;
    counter errors;
    counter timeouts;
};

struct af_metrics_shard {
    struct labels paths, surfaces, stages;
    _Atomic int32_t status_code[N_STATUSES];
    _Atomic uint32_t n_status;
    counter requests[N_PATHS + 1][N_SURFACES + 1][N_STATUSES + 1];
    struct hist req_latency[N_PATHS + 1];
    struct stage_cell stage[N_SURFACES + 1][N_STAGES + 1];
    counter degraded[N_SURFACES + 1];
} __attribute__((aligned(64)));

struct af_metrics {
    unsigned n_shards;
    af_metrics_shard **shard;
};

/* --- ## Updates (one writer per shard) ---------------------------------- */

static inline void
add(counter *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

static inline void
observe(struct hist *h, double v)
{
    unsigned b = 0;
    while (b < AF_N_LATENCY_BUCKETS && v > bucket_le[b])
        b++;
    add(&h->bucket[b], 1);
    atomic_store_explicit(
        &h->sum, atomic_load_explicit(&h->sum, memory_order_relaxed) + v,
        memory_order_relaxed);
}

/* Index of `s` in t (interning it on first sight), or cap for "other". */
static unsigned
intern(struct labels *t, unsigned cap, const char *s)
{
    uint32_t n = atomic_load_explicit(&t->n, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(t->name[i], s) == 0)
            return i;
    size_t len = strlen(s);
    if (n >= cap || len >= LABEL_MAX)
        return cap;
    memcpy(t->name[n], s, len + 1);
    atomic_store_explicit(&t->n, n + 1, memory_order_release);
    return n;
}

static unsigned
intern_status(af_metrics_shard *s, int status)
{
    uint32_t n = atomic_load_explicit(&s->n_status, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load_explicit(&s->status_code[i], memory_order_relaxed) ==
            status)
            return i;
    if (n >= N_STATUSES)
        return N_STATUSES;
    atomic_store_explicit(&s->status_code[n], status, memory_order_relaxed);
    atomic_store_explicit(&s->n_status, n + 1, memory_order_release);
    return n;
}

void
af_metrics_request(af_metrics_shard *s, const char *path, const char *surface,
                   int status, double seconds)
{
    unsigned p = intern(&s->paths, N_PATHS, path ? path : "");
    unsigned su = intern(&s->surfaces, N_SURFACES, surface ? surface : "");
    unsigned st = intern_status(s, status);
    add(&s->requests[p][su][st], 1);
    observe(&s->req_latency[p], seconds);
}

void
af_metrics_rank(af_metrics_shard *s, const struct af_rank_resp *r)
{
    unsigned su = intern(&s->surfaces, N_SURFACES, r->surface ? r->surface : "");
    if (r->degraded)
        add(&s->degraded[su], 1);
    for (uint32_t i = 0; i < r->n_stages; i++) {
        const struct af_stage_info *si = &r->stages[i];
        unsigned t = intern(&s->stages, N_STAGES, si->stage ? si->stage : "");
        struct stage_cell *c = &s->stage[su][t];
        observe(&c->latency, si->micros / 1e6);
        add(&c->cand_sum, si->candidates_out);
        add(&c->cand_count, 1);
        if (si->error)
            add(&c->errors, 1);
        if (si->timed_out)
            add(&c->timeouts, 1);
    }
}

/* --- ## Lifetime -------------------------------------------------------- */

af_metrics *
af_metrics_create(unsigned n_shards)
{
    if (n_shards == 0)
        n_shards = 1;
    af_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->shard = calloc(n_shards, sizeof *m->shard);
    if (!m->shard) {
        free(m);
        return NULL;
    }
    m->n_shards = n_shards;
    for (unsigned i = 0; i < n_shards; i++) {
        /* Separately allocated and cache-line aligned: workers never write
         * to the same line. */
        size_t size = (sizeof(af_metrics_shard) + 63) & ~(size_t)63;
        m->shard[i] = aligned_alloc(64, size);
        if (!m->shard[i]) {
            af_metrics_free(m);
            return NULL;
        }
        memset(m->shard[i], 0, size);
    }
    return m;
}

void
af_metrics_free(af_metrics *m)
{
    if (!m)
        return;
    for (unsigned i = 0; i < m->n_shards; i++)
        free(m->shard[i]);
    free(m->shard);
    free(m);
}

af_metrics_shard *
af_metrics_shard_of(af_metrics *m, unsigned i)
{
    return i < m->n_shards ? m->shard[i] : NULL;
}

/* --- ## Rendering ------------------------------------------------------- */

/* The union of one label dimension over all shards. */
struct dim {
    unsigned n, cap;
    char (*name)[LABEL_MAX];
};

static unsigned
dim_add(struct dim *d, const char *s)
{
    for (unsigned i = 0; i < d->n; i++)
        if (strcmp(d->name[i], s) == 0)
            return i;
    if (d->n == d->cap) {
        unsigned cap = d->cap ? d->cap * 2 : 16;
        char(*nn)[LABEL_MAX] = realloc(d->name, cap * sizeof *nn);
        if (!nn)
            return UINT32_MAX;
        d->name = nn;
        d->cap = cap;
    }
    snprintf(d->name[d->n], LABEL_MAX, "%s", s);
    return d->n++;
}

/* Per-shard map from local label index to the merged index. */
struct shard_map {
    unsigned path[N_PATHS + 1];
    unsigned surface[N_SURFACES + 1];
    unsigned stage[N_STAGES + 1];
    unsigned status[N_STATUSES + 1];
};

static void
map_labels(const struct labels *t, unsigned cap, struct dim *d, unsigned *map)
{
    uint32_t n = atomic_load_explicit(&t->n, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        map[i] = dim_add(d, t->name[i]);
    map[cap] = dim_add(d, "other");
}

static void
map_status(const af_metrics_shard *s, struct dim *d, unsigned *map)
{
    uint32_t n = atomic_load_explicit(&s->n_status, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) {
        char code[16];
        snprintf(code, sizeof code, "%d",
                 atomic_load_explicit(&s->status_code[i],
                                      memory_order_relaxed));
        map[i] = dim_add(d, code);
    }
    map[N_STATUSES] = dim_add(d, "other");
}

/* Merged values, indexed by merged label indices. */
struct merged {
    struct dim paths, surfaces, stages, statuses;
    uint64_t *requests;          /* [path][surface][status] */
    double *req_hist;            /* [path][N_BUCKETS + 1] (+1: sum)        */
    double *stage_hist;          /* [surface][stage][N_BUCKETS + 1]        */
    uint64_t *stage_cnt;         /* [surface][stage][4]: cand_sum, cand_count,
                                    errors, timeouts                        */
    uint64_t *degraded;          /* [surface] */
};

static uint64_t
ld(const counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void
merge_hist(double *dst, const struct hist *h)
{
    for (unsigned b = 0; b < N_BUCKETS; b++)
        dst[b] += (double)ld(&h->bucket[b]);
    dst[N_BUCKETS] += atomic_load_explicit(&h->sum, memory_order_relaxed);
}

static void
merge_requests(struct merged *g, const af_metrics_shard *s,
               const struct shard_map *mp)
{
    size_t ns = g->surfaces.cap, nt = g->statuses.cap;
    for (unsigned p = 0; p <= N_PATHS; p++) {
        merge_hist(g->req_hist + mp->path[p] * (N_BUCKETS + 1),
                   &s->req_latency[p]);
        for (unsigned su = 0; su <= N_SURFACES; su++)
            for (unsigned st = 0; st <= N_STATUSES; st++) {
                uint64_t v = ld(&s->requests[p][su][st]);
                if (v)
                    g->requests[(mp->path[p] * ns + mp->surface[su]) * nt +
                                mp->status[st]] += v;
            }
    }
}

static void
merge_stages(struct merged *g, const af_metrics_shard *s,
             const struct shard_map *mp)
{
    size_t nst = g->stages.cap;
    for (unsigned su = 0; su <= N_SURFACES; su++) {
        g->degraded[mp->surface[su]] += ld(&s->degraded[su]);
        for (unsigned t = 0; t <= N_STAGES; t++) {
            const struct stage_cell *c = &s->stage[su][t];
            if (!ld(&c->cand_count))
                continue;
            size_t cell = mp->surface[su] * nst + mp->stage[t];
            merge_hist(g->stage_hist + cell * (N_BUCKETS + 1), &c->latency);
            uint64_t *d = g->stage_cnt + cell * 4;
            d[0] += ld(&c->cand_sum);
            d[1] += ld(&c->cand_count);
            d[2] += ld(&c->errors);
            d[3] += ld(&c->timeouts);
        }
    }
}

static void
merged_free(struct merged *g)
{
    free(g->paths.name);
    free(g->surfaces.name);
    free(g->stages.name);
    free(g->statuses.name);
    free(g->requests);
    free(g->req_hist);
    free(g->stage_hist);
    free(g->stage_cnt);
    free(g->degraded);
}

static int
merge(af_metrics *m, struct merged *g)
{
    memset(g, 0, sizeof *g);
    struct shard_map *maps = calloc(m->n_shards, sizeof *maps);
    if (!maps)
        return AF_ENOMEM;
    for (unsigned i = 0; i < m->n_shards; i++) {
        const af_metrics_shard *s = m->shard[i];
        map_labels(&s->paths, N_PATHS, &g->paths, maps[i].path);
        map_labels(&s->surfaces, N_SURFACES, &g->surfaces, maps[i].surface);
        map_labels(&s->stages, N_STAGES, &g->stages, maps[i].stage);
        map_status(s, &g->statuses, maps[i].status);
    }
    /* Sized by capacity (>= n): a dim_add failure above left n < cap. */
    size_t np = g->paths.cap, ns = g->surfaces.cap, nt = g->statuses.cap,
           nst = g->stages.cap;
    g->requests = calloc(np * ns * nt + 1, sizeof *g->requests);
    g->req_hist = calloc(np * (N_BUCKETS + 1) + 1, sizeof *g->req_hist);
    g->stage_hist = calloc(ns * nst * (N_BUCKETS + 1) + 1,
                           sizeof *g->stage_hist);
    g->stage_cnt = calloc(ns * nst * 4 + 1, sizeof *g->stage_cnt);
    g->degraded = calloc(ns + 1, sizeof *g->degraded);
    int ok = g->requests && g->req_hist && g->stage_hist && g->stage_cnt &&
             g->degraded;
    for (unsigned i = 0; ok && i < m->n_shards; i++) {
        for (unsigned k = 0; k <= N_PATHS; k++)
            ok &= maps[i].path[k] != UINT32_MAX;
        for (unsigned k = 0; k <= N_SURFACES; k++)
            ok &= maps[i].surface[k] != UINT32_MAX;
        for (unsigned k = 0; k <= N_STAGES; k++)
            ok &= maps[i].stage[k] != UINT32_MAX;
        for (unsigned k = 0; k <= N_STATUSES; k++)
            ok &= maps[i].status[k] != UINT32_MAX;
    }
    for (unsigned i = 0; ok && i < m->n_shards; i++) {
        merge_requests(g, m->shard[i], &maps[i]);
        merge_stages(g, m->shard[i], &maps[i]);
    }
    free(maps);
    if (!ok) {
        merged_free(g);
        return AF_ENOMEM;
    }
    return AF_OK;
}

/* A label value in the exposition format: \, " and newline escaped. */
static void
put_label(af_buf *b, const char *key, const char *v, int first)
{
    af_buf_printf(b, "%s%s=\"", first ? "" : ",", key);
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            af_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            af_buf_puts(b, "\\n");
        else
            af_buf_append(b, p, 1);
    }
    af_buf_append(b, "\"", 1);
}

static void
put_header(af_buf *b, const char *name, const char *type, const char *help)
{
    af_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Histogram series with labels `lk[i]=lv[i]`; h holds N_BUCKETS counts and
 * the sum.  _count is the +Inf bucket, so the two always agree even when a
 * writer was mid-update. */
static void
put_hist(af_buf *b, const char *name, const char *const *lk,
         const char *const *lv, unsigned nl, const double *h)
{
    double cum = 0;
    for (unsigned i = 0; i < N_BUCKETS; i++) {
        cum += h[i];
        af_buf_printf(b, "%s_bucket{", name);
        for (unsigned l = 0; l < nl; l++)
            put_label(b, lk[l], lv[l], l == 0);
        const char *sep = nl ? "," : "";
        if (i < AF_N_LATENCY_BUCKETS)
            af_buf_printf(b, "%sle=\"%g\"} %.0f\n", sep, bucket_le[i], cum);
        else
            af_buf_printf(b, "%sle=\"+Inf\"} %.0f\n", sep, cum);
    }
    af_buf_printf(b, "%s_sum{", name);
    for (unsigned l = 0; l < nl; l++)
        put_label(b, lk[l], lv[l], l == 0);
    af_buf_printf(b, "} %.9g\n%s_count{", h[N_BUCKETS], name);
    for (unsigned l = 0; l < nl; l++)
        put_label(b, lk[l], lv[l], l == 0);
    af_buf_printf(b, "} %.0f\n", cum);
}

static void
render_requests(af_buf *b, const struct merged *g)
{
    size_t ns = g->surfaces.cap, nt = g->statuses.cap;
    put_header(b, "adfunnel_requests_total", "counter",
               "HTTP requests by path, surface and status.");
    for (unsigned p = 0; p < g->paths.n; p++)
        for (unsigned su = 0; su < g->surfaces.n; su++)
            for (unsigned st = 0; st < g->statuses.n; st++) {
                uint64_t v = g->requests[(p * ns + su) * nt + st];
                if (!v)
                    continue;
                af_buf_puts(b, "adfunnel_requests_total{");
                put_label(b, "path", g->paths.name[p], 1);
                put_label(b, "surface", g->surfaces.name[su], 0);
                put_label(b, "status", g->statuses.name[st], 0);
                af_buf_printf(b, "} %llu\n", (unsigned long long)v);
            }
    put_header(b, "adfunnel_request_duration_seconds", "histogram",
               "Time from request dispatch to reply, by path.");
    static const char *const lk[] = {"path"};
    for (unsigned p = 0; p < g->paths.n; p++) {
        const double *h = g->req_hist + p * (N_BUCKETS + 1);
        double n = 0;
        for (unsigned i = 0; i < N_BUCKETS; i++)
            n += h[i];
        if (n == 0)
            continue;
        const char *lv[] = {g->paths.name[p]};
        put_hist(b, "adfunnel_request_duration_seconds", lk, lv, 1, h);
    }
}

static void
render_stage_hist(af_buf *b, const struct merged *g)
{
    size_t nst = g->stages.cap;
    static const char *const lk[] = {"surface", "stage"};
    put_header(b, "adfunnel_stage_duration_seconds", "histogram",
               "Time spent in each pipeline stage.");
    for (unsigned su = 0; su < g->surfaces.n; su++)
        for (unsigned t = 0; t < g->stages.n; t++) {
            size_t cell = su * nst + t;
            if (!g->stage_cnt[cell * 4 + 1])
                continue;
            const char *lv[] = {g->surfaces.name[su], g->stages.name[t]};
            put_hist(b, "adfunnel_stage_duration_seconds", lk, lv, 2,
                     g->stage_hist + cell * (N_BUCKETS + 1));
        }
}

/* One counter per (surface, stage) cell: column k of stage_cnt. */
static void
render_stage_counter(af_buf *b, const struct merged *g, const char *name,
                     unsigned k, int skip_zero)
{
    size_t nst = g->stages.cap;
    for (unsigned su = 0; su < g->surfaces.n; su++)
        for (unsigned t = 0; t < g->stages.n; t++) {
            const uint64_t *c = g->stage_cnt + (su * nst + t) * 4;
            if (!c[1] || (skip_zero && !c[k]))
                continue;
            af_buf_printf(b, "%s{", name);
            put_label(b, "surface", g->surfaces.name[su], 1);
            put_label(b, "stage", g->stages.name[t], 0);
            af_buf_printf(b, "} %llu\n", (unsigned long long)c[k]);
        }
}

static void
render_stages(af_buf *b, const struct merged *g)
{
    render_stage_hist(b, g);
    put_header(b, "adfunnel_stage_candidates", "summary",
               "Candidates leaving each pipeline stage.");
    render_stage_counter(b, g, "adfunnel_stage_candidates_sum", 0, 0);
    render_stage_counter(b, g, "adfunnel_stage_candidates_count", 1, 0);
    put_header(b, "adfunnel_stage_errors_total", "counter",
               "Stage runs that failed (the request fell back).");
    render_stage_counter(b, g, "adfunnel_stage_errors_total", 2, 0);
    put_header(b, "adfunnel_stage_timeouts_total", "counter",
               "Stage runs that missed their deadline.");
    render_stage_counter(b, g, "adfunnel_stage_timeouts_total", 3, 0);
    put_header(b, "adfunnel_degraded_total", "counter",
               "Responses served degraded (a stage fell back).");
    size_t nst = g->stages.cap;
    for (unsigned su = 0; su < g->surfaces.n; su++) {
        /* Every surface that ranked at least once, zeros included, so a
         * rate() on it starts from a sample. */
        int ranked = g->degraded[su] != 0;
        for (unsigned t = 0; !ranked && t < g->stages.n; t++)
            ranked = g->stage_cnt[(su * nst + t) * 4 + 1] != 0;
        if (!ranked)
            continue;
        af_buf_puts(b, "adfunnel_degraded_total{");
        put_label(b, "surface", g->surfaces.name[su], 1);
        af_buf_printf(b, "} %llu\n", (unsigned long long)g->degraded[su]);
    }
}

int
af_metrics_render(af_metrics *m, af_buf *buf)
{
    struct merged g;
    if (merge(m, &g) != AF_OK)
        return AF_ENOMEM;
    render_requests(buf, &g);
    render_stages(buf, &g);
    merged_free(&g);
    return buf->oom ? AF_ENOMEM : AF_OK;
}
