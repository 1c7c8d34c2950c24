/*
 * deepfm_bench.c -- DeepFM speed benchmarks (not a test; see
 * bench/deepfm_bench.sh and docs/benchmarks.md):
 *
 *   deepfm_bench train [--threads N] [--variant lazy|dense]
 *                      [--layout split|blas] [--rows N] [--reps N]
 *       one epoch on the anchors' synthetic throughput set (39 fields x
 *       50,000 ids, 200,000 rows, ~20% positives), DeepFM 16-dim, MLP
 *       400-400-400, dropout 0, l2 1e-6, batch 1,024; samples/s of the
 *       epoch (shuffle to last optimizer step, as the anchor times it)
 *   deepfm_bench score [--reps N]
 *       one 500-candidate batch (the first 500 synthetic rows) on one core,
 *       20 warm-up calls then N timed, median and p99: the core batch
 *       scorer (all 39 fields per candidate, as the anchor) and the
 *       model_deepfm plugin (7 request + 32 candidate fields: a batch holds
 *       32 candidate columns) with dedup off and on; against the sgemm
 *       bound (model FLOPs / sgemm GFLOPS of the same shapes, single core,
 *       measured in this run)
 *   deepfm_bench dedup [--reps N] [--hidden a,b,...] [--model FILE.afm]
 *       a DeepFM of the world surface's shape (pipelines/features/
 *       world_v1.lua: 9 request fields, 8 candidate fields; random weights)
 *       or a trained deepfm file, 500 candidates with random indices,
 *       scored with request-level dedup on and off
 *
 * The plugins are loaded from $AF_PLUGIN_DIR (default ./plugins) through
 * the real loader and host, as the server does.
 */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "config/config.h"
#include "engine/batch.h"
#include "engine/host.h"
#include "learn/deepfm.h"
#include "learn/trainer.h"
#include "loader/loader.h"
#include "mem/arena.h"
#include "model/modelfile.h"
#include "world/wrand.h"
#include "../plugins/model_deepfm/deepfm_format.h"

#define TP_FIELDS 39
#define TP_VOCAB 50000
#define TP_ROWS 200000
#define TP_POS 0.2
#define CANDS 500
#define WARMUP 20

static double
now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy.percentile with linear interpolation, on a sorted array. */
static double
percentile(const double *sorted, size_t n, double q)
{
    double pos = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (pos - (double)lo) * (sorted[hi] - sorted[lo]);
}

/* --- ## The synthetic set --- */

static uint32_t tp_offs[TP_FIELDS + 1];

/* rows x 39 uniform ids (global index f * 50,000 + id), labels ~20% 1. */
static void
synthetic(struct af_examples *x, uint32_t rows, uint64_t seed)
{
    for (uint32_t f = 0; f <= TP_FIELDS; f++)
        tp_offs[f] = f * TP_VOCAB;
    if (af_examples_init(x, TP_FIELDS, 0, tp_offs, rows,
                         (uint64_t)rows * TP_FIELDS) != AF_OK) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    struct af_wrand r;
    af_wrand_seed(&r, seed, 0);
    uint32_t cnt[TP_FIELDS], g[TP_FIELDS];
    float v[TP_FIELDS];
    for (uint32_t f = 0; f < TP_FIELDS; f++)
        cnt[f] = 1, v[f] = 1.0f;
    for (uint32_t i = 0; i < rows; i++) {
        for (uint32_t f = 0; f < TP_FIELDS; f++)
            g[f] = tp_offs[f] + af_wrand_below(&r, TP_VOCAB);
        float y = af_wrand_unit(&r) < TP_POS ? 1.0f : 0.0f;
        af_examples_push(x, cnt, g, v, NULL, y, 1.0f, 0);
    }
}

static double time_sgemm(int M, int K, int N, uint32_t reps);

/* --- ## train --- */

/* Wall and process CPU time from the first progress call of an epoch to
 * its end: on a shared machine the CPU time says what the run cost. */
struct clocks {
    double wall0, cpu0, wall1, cpu1;
    uint64_t rows0, rows1;
};

static double
cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void
on_progress(void *ctx, const struct af_train_progress *p)
{
    struct clocks *c = ctx;
    if (c->rows0 == 0 && !p->epoch_done) {
        c->wall0 = now_s();
        c->cpu0 = cpu_s();
        c->rows0 = p->rows_done;
    }
    if (p->epoch_done) {
        c->wall1 = now_s();
        c->cpu1 = cpu_s();
        c->rows1 = p->rows_done;
    }
}

static int
cmd_train(uint32_t threads, int lazy, int blas, uint32_t rows, uint32_t reps)
{
    struct af_examples x;
    synthetic(&x, rows, 0);
    struct af_train_opts o;
    af_train_opts_defaults(&o, "deepfm");
    o.batch_size = 1024;
    o.epochs = 1;
    o.l2 = 1e-6;
    o.dropout = 0.0;
    o.threads = threads;
    o.sparse = lazy;
    o.blas_threads_mlp = blas;
    printf("train: %u rows, 39 fields x 50000, dim 16, MLP 400-400-400, batch "
           "1024, %s Adam, %s, %u threads\n", rows, lazy ? "lazy (sparse rows)"
           : "dense", blas ? "sgemm on OpenBLAS threads" :
           "rows split over our threads", threads);
    for (uint32_t rep = 0; rep < reps; rep++) {
        struct af_model_out out;
        char err[256];
        struct clocks ck = {0};
        o.progress = on_progress;
        o.progress_ctx = &ck;
        double t0 = now_s();
        int rc = af_train_deepfm(&x, NULL, &o, &out, err, sizeof err);
        double total = now_s() - t0;
        if (rc != AF_OK) {
            fprintf(stderr, "train: %s\n", err);
            return 1;
        }
        double s = out.epoch[0].seconds;
        printf("  rep %u: epoch %.2f s -> %.0f samples/s (train loss %.4f; "
               "with init and payload %.1f s)\n", rep + 1, s, rows / s,
               out.epoch[0].train_loss, total);
        if (ck.rows1 > ck.rows0 && ck.wall1 > ck.wall0) {
            double n = (double)(ck.rows1 - ck.rows0);
            double cores = (ck.cpu1 - ck.cpu0) / (ck.wall1 - ck.wall0);
            printf("         rows %llu..%llu: %.0f samples/s wall, %.2f cores "
                   "busy; %.0f samples per CPU-second x %u threads = %.0f\n",
                   (unsigned long long)ck.rows0, (unsigned long long)ck.rows1,
                   n / (ck.wall1 - ck.wall0), cores, n / (ck.cpu1 - ck.cpu0),
                   threads, threads * n / (ck.cpu1 - ck.cpu0));
        }
        fflush(stdout);
        af_model_out_free(&out);
        o.seed++;
    }
    af_examples_free(&x);
    /* The sgemm bound: every dense layer's forward, backward and weight
     * gradient (3 x 2 x 569,600 FLOPs a sample) at the single-core sgemm
     * rate of a half batch, times the threads. */
    openblas_set_num_threads(1);
    double flops = 3.0 * 2.0 * (624.0 * 400 + 2 * 400.0 * 400 + 400);
    double secs = time_sgemm(512, 624, 400, 50) + 2 * time_sgemm(512, 400, 400, 50);
    double gflops = 2.0 * 512 * (624.0 * 400 + 2 * 400.0 * 400) / secs * 1e-9;
    printf("  sgemm bound: %.2f MFLOP a sample; sgemm %.1f GFLOPS on one core "
           "-> %.0f samples/s on %u cores\n", flops * 1e-6, gflops,
           threads * gflops * 1e9 / flops, threads);
    return 0;
}

/* --- ## Models and the plugin --- */

/* A deepfm payload of the given shape with the anchor's initialisation
 * (embeddings N(0, 0.01), Xavier MLP), written to path. */
static void
write_model(const char *path, uint32_t F, uint32_t n_req, const uint32_t *offs,
            const uint32_t *slots, uint32_t n_dense, const uint32_t *hidden,
            uint32_t n_hidden)
{
    struct af_fm_model m;
    memset(&m, 0, sizeof m);
    m.n_fields = F;
    m.n_dense = n_dense;
    m.dim = 16;
    m.n_index = offs[F];
    m.field_offset = offs;
    m.bias = -1.386f;
    m.downsample_rate = 1.0;
    struct af_wrand r;
    af_wrand_seed(&r, 7, 0);
    m.w1 = calloc(m.n_index, sizeof(float));
    m.emb = malloc(m.n_index * 16 * sizeof(float));
    m.w_dense = calloc(n_dense + 1, sizeof(float));
    for (uint64_t i = 0; i < m.n_index * 16; i++)
        m.emb[i] = (float)(0.01 * af_wrand_normal(&r));
    for (uint64_t i = 0; i < m.n_index; i++)
        m.w1[i] = (float)(0.01 * af_wrand_normal(&r));
    m.w1_stride = 1;
    m.emb_stride = 16;
    uint32_t width[AF_MLP_MAX_LAYERS + 1];
    width[0] = F * 16 + n_dense;
    for (uint32_t l = 0; l < n_hidden; l++)
        width[l + 1] = hidden[l];
    width[n_hidden + 1] = 1;
    af_mlp_init(&m.mlp, n_hidden + 1, width);
    af_mlp_xavier(&m.mlp, &r);
    m.has_mlp = 1;
    void *pl;
    size_t size;
    char err[256];
    if (af_fm_payload_build(&m, n_req, slots, 0, &pl, &size) != AF_OK) {
        fprintf(stderr, "payload build failed\n");
        exit(1);
    }
    struct af_modelfile_meta meta = {.kind = "deepfm", .version = "bench",
                                     .fingerprint = 0};
    if (af_modelfile_write(path, &meta, pl, size, err, sizeof err) != AF_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    free(pl);
    free(m.w1);
    free(m.emb);
    free(m.w_dense);
    af_mlp_free(&m.mlp);
}

struct plugin {
    af_loaded *lib;
    struct af_instance in;
    const struct af_model_ops *ops;
};

static void
plugin_open(struct plugin *p, const char *path, int dedup)
{
    const char *dir = getenv("AF_PLUGIN_DIR");
    char so[4096], err[1024];
    snprintf(so, sizeof so, "%s/model_deepfm.so", dir && *dir ? dir : "plugins");
    if (af_loader_open(so, &p->lib, err, sizeof err) != AF_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    af_config *cfg = af_config_new();
    af_config_set_str(cfg, "model", path);
    af_config_set_bool(cfg, "dedup", dedup);
    struct af_instance_opts opts = {.label = "bench", .data_dir = ""};
    if (af_instance_create(p->lib, cfg, &opts, &p->in, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    af_config_free(cfg);
    p->ops = p->in.ops;
}

static void
plugin_close(struct plugin *p)
{
    af_instance_destroy(&p->in);
    af_loader_close(p->lib);
}

/* Median and p99 (ms) of reps timed score() calls after the warm-up. */
static void
time_scoring(struct plugin *p, struct af_request *req, af_arena *arena,
             const struct af_batch *b, uint32_t reps, double *med,
             double *p99)
{
    double *t = malloc(reps * sizeof *t);
    float *pctr = malloc(b->n * sizeof *pctr);
    struct af_score_out out = {.pctr = pctr};
    for (uint32_t i = 0; i < WARMUP + reps; i++) {
        double t0 = now_s();
        if (p->ops->score(p->in.inst, req, b, &out) != AF_OK) {
            fprintf(stderr, "score failed\n");
            exit(1);
        }
        double dt = now_s() - t0;
        if (i >= WARMUP)
            t[i - WARMUP] = dt * 1e3;
        /* What the server does between requests; keeps memory flat. */
        af_arena_reset(arena);
    }
    qsort(t, reps, sizeof *t, cmp_double);
    *med = percentile(t, reps, 50);
    *p99 = percentile(t, reps, 99);
    printf("  (plugin min %.3f ms)\n", t[0]);
    free(t);
    free(pctr);
}

/* Median seconds of one sgemm M x K x N (row-major, beta 1), single core. */
static double
time_sgemm(int M, int K, int N, uint32_t reps)
{
    float *A = malloc(sizeof(float) * (size_t)M * K);
    float *B = malloc(sizeof(float) * (size_t)K * N);
    float *C = calloc((size_t)M * N, sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++)
        A[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++)
        B[i] = (float)(i % 5) * 0.1f;
    double *t = malloc(reps * sizeof *t);
    for (uint32_t i = 0; i < WARMUP + reps; i++) {
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f,
                    A, K, B, N, 1.0f, C, N);
        if (i >= WARMUP)
            t[i - WARMUP] = now_s() - t0;
    }
    qsort(t, reps, sizeof *t, cmp_double);
    double med = percentile(t, reps, 50);
    free(A);
    free(B);
    free(C);
    free(t);
    return med;
}

struct request {
    af_arena *arena;
    af_rng rng;
    struct af_request req;
};

static void
request_init(struct request *r)
{
    memset(r, 0, sizeof *r);
    r->arena = af_arena_create(1 << 20, 0);
    af_rng_seed(&r->rng, 1);
    r->req.struct_size = sizeof r->req;
    r->req.request_id = "bench";
    r->req.surface = "bench";
    r->req.arm = "control";
    r->req.arena = r->arena;
    r->req.rng = &r->rng;
}

/* --- ## score --- */

/* Median and p99 (ms) of the core batch scorer (core/learn/fm.c: the
 * trainer's forward pass, any number of fields per row) on x. */
static void
time_core(const char *path, const struct af_examples *x, uint32_t reps,
          double *med, double *p99)
{
    struct af_model_blob blob;
    char err[512];
    if (af_modelfile_open(path, "deepfm", 0, &blob, err, sizeof err) != AF_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    struct af_fm_model m;
    if (af_fm_model_from_payload(blob.data, blob.size, "deepfm", &m, err,
                                 sizeof err) != AF_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    struct af_fm_work w;
    af_fm_work_init(&w, &m, x->n, 0);
    double *t = malloc(reps * sizeof *t);
    float *p = malloc(x->n * sizeof *p);
    for (uint32_t i = 0; i < WARMUP + reps; i++) {
        double t0 = now_s();
        af_fm_forward(&m, &w, x, NULL, 0, x->n, NULL);
        for (uint32_t r = 0; r < x->n; r++)
            p[r] = (float)(1.0 / (1.0 + exp(-(double)w.logit[r])));
        if (i >= WARMUP)
            t[i - WARMUP] = (now_s() - t0) * 1e3;
    }
    qsort(t, reps, sizeof *t, cmp_double);
    *med = percentile(t, reps, 50);
    *p99 = percentile(t, reps, 99);
    printf("  (core min %.3f ms)\n", t[0]);
    free(t);
    free(p);
    af_fm_work_free(&w);
    af_fm_model_view_free(&m);
    af_modelfile_close(&blob);
}

/* The batch of the first 500 synthetic rows: fields [0, n_req) from row 0
 * as the request side (a batch holds at most AF_MAX_FIELDS = 32 candidate
 * columns, the synthetic rows have 39), the rest as candidate columns. */
static void
synthetic_batch(const struct af_examples *x, uint32_t n_req,
                struct af_batch *b)
{
    b->n = CANDS;
    b->n_req_fields = n_req;
    for (uint32_t f = 0; f < n_req; f++)
        b->req_fid[f] = x->gidx[f];
    b->n_fields = TP_FIELDS - n_req;
    for (uint32_t i = 0; i < CANDS; i++)
        for (uint32_t f = n_req; f < TP_FIELDS; f++)
            af_batch_field(b, f - n_req)[i] = x->gidx[(size_t)i * TP_FIELDS + f];
}

static int
cmd_score(uint32_t reps)
{
    openblas_set_num_threads(1);
    struct af_examples x;
    synthetic(&x, CANDS, 0);
    char path[] = "/tmp/af_deepfm_bench_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    static const uint32_t hidden[] = {400, 400, 400};
    const uint32_t n_req = TP_FIELDS - AF_MAX_FIELDS; /* 7 */
    write_model(path, TP_FIELDS, n_req, tp_offs, NULL, 0, hidden, 3);

    printf("score: 500 candidates x 39 fields, DeepFM 16-dim, MLP "
           "400-400-400, 1 thread, %u timed calls after %d warm-up\n", reps,
           WARMUP);
    double med, p99;
    time_core(path, &x, reps, &med, &p99);
    printf("  core batch scorer (all 39 fields per row, as the anchor): "
           "median %.3f ms, p99 %.3f ms (%.0f candidates/s)\n", med, p99,
           CANDS / (med * 1e-3));
    double core_med = med;

    struct request r;
    request_init(&r);
    af_arena *batch_arena = af_arena_create(1 << 20, 0);
    struct af_batch b;
    af_batch_init(&b, batch_arena, CANDS);
    synthetic_batch(&x, n_req, &b);
    for (int dedup = 0; dedup <= 1; dedup++) {
        struct plugin p;
        plugin_open(&p, path, dedup);
        time_scoring(&p, &r.req, r.arena, &b, reps, &med, &p99);
        printf("  plugin model_deepfm, 7 request + 32 candidate fields, "
               "dedup %-3s: median %.3f ms, p99 %.3f ms\n",
               dedup ? "on" : "off", med, p99);
        plugin_close(&p);
    }

    /* The sgemm bound: the MLP's FLOPs at the speed sgemm reaches on the
     * same shapes, one core, this run. */
    int shapes[4][3] = {{CANDS, 624, 400}, {CANDS, 400, 400},
                        {CANDS, 400, 400}, {CANDS, 400, 1}};
    double flops = 0, secs = 0;
    for (int s = 0; s < 4; s++) {
        flops += 2.0 * shapes[s][0] * shapes[s][1] * shapes[s][2];
        secs += time_sgemm(shapes[s][0], shapes[s][1], shapes[s][2], reps);
    }
    double peak = time_sgemm(1024, 1024, 1024, 50);
    double gflops_peak = 2.0 * 1024 * 1024 * 1024 / peak * 1e-9;
    printf("  model FLOPs %.1f M; sgemm of the same shapes: %.3f ms = %.1f "
           "GFLOPS -> sgemm bound %.3f ms; core scorer / bound = %.2f\n",
           flops * 1e-6, secs * 1e3, flops / secs * 1e-9, secs * 1e3,
           core_med / (secs * 1e3));
    printf("  sgemm 1024^3 on one core: %.1f GFLOPS -> bound at that rate "
           "%.3f ms\n", gflops_peak, flops / (gflops_peak * 1e9) * 1e3);
    af_arena_destroy(r.arena);
    af_arena_destroy(batch_arena);
    af_examples_free(&x);
    unlink(path);
    return 0;
}

/* --- ## dedup --- */

/* The world surface's features (pipelines/features/world_v1.lua): 9
 * request fields (interests: multi-valued, 8 slots) and 8 candidate fields
 * (interest x category: multi-valued, 8 slots), no dense input, with the
 * default world's cardinalities (docs/world.md: 100,000 users and ads,
 * 2,000 advertisers, about 6,000 campaigns, 32 categories, 64 interests). */
#define W_FIELDS 17
#define W_REQ 9
static const uint32_t world_card[W_FIELDS] = {
    100000, 16, 6, 3, 2, 64, 24, 7, 8,          /* request                */
    100000, 2000, 6000, 32, 10, 9, 192, 2048,   /* candidate              */
};
static const uint32_t world_slots[W_FIELDS] = {
    1, 1, 1, 1, 1, 8, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 8,
};

/* Fill the slots of field f (k of them used, the rest empty) at fid with
 * stride `stride`, drawing indices of the field's range. */
static void
fill_field(const uint32_t *offs, uint32_t f, uint32_t slots, uint32_t *fid,
           size_t stride, struct af_wrand *r)
{
    uint32_t used = slots == 1 ? 1 : 3; /* a multi-valued field: 3 tokens */
    for (uint32_t s = 0; s < slots; s++)
        fid[s * stride] = s < used ? offs[f] + af_wrand_below(r, offs[f + 1] -
                                                               offs[f])
                                   : UINT32_MAX; /* AF_FID_NONE */
}

static int
cmd_dedup(uint32_t reps, const uint32_t *hidden, uint32_t n_hidden,
          const char *model)
{
    openblas_set_num_threads(1);
    char path[4096];
    struct af_model_blob blob;
    char err[512];
    struct af_fm_view v;
    uint32_t offs[W_FIELDS + 1];
    if (model == NULL) {
        snprintf(path, sizeof path, "/tmp/af_deepfm_world_XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0)
            return 1;
        close(fd);
        offs[0] = 0;
        for (int f = 0; f < W_FIELDS; f++)
            offs[f + 1] = offs[f] + world_card[f] + 1;
        write_model(path, W_FIELDS, W_REQ, offs, world_slots, 0, hidden,
                    n_hidden);
    } else {
        snprintf(path, sizeof path, "%s", model);
    }
    if (af_modelfile_open(path, "deepfm", 0, &blob, err, sizeof err) != AF_OK ||
        af_fm_payload_parse(blob.data, blob.size, "deepfm", &v, err,
                            sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 1;
    }
    const struct af_fm_payload_header *h = &v.h;
    struct af_wrand rnd;
    af_wrand_seed(&rnd, 3, 0);
    struct request r;
    request_init(&r);
    af_arena *batch_arena = af_arena_create(1 << 20, 0);
    struct af_batch b;
    af_batch_init(&b, batch_arena, CANDS);
    b.n = CANDS;
    uint32_t rs = 0, cs = 0;
    for (uint32_t f = 0; f < h->n_fields; f++) {
        if (f < h->n_req_fields) {
            fill_field(v.field_offset, f, v.field_slots[f], b.req_fid + rs, 1,
                       &rnd);
            rs += v.field_slots[f];
        } else {
            for (uint32_t i = 0; i < CANDS; i++)
                fill_field(v.field_offset, f, v.field_slots[f],
                           b.fid + (size_t)cs * b.cap + i, b.cap, &rnd);
            cs += v.field_slots[f];
        }
    }
    b.n_req_fields = rs;
    b.n_fields = cs;
    b.n_req_dense = h->n_req_dense;
    for (uint32_t j = 0; j < h->n_req_dense; j++)
        b.req_dense[j] = (float)af_wrand_unit(&rnd);
    b.n_dense = h->n_dense - h->n_req_dense;
    for (uint32_t i = 0; i < CANDS; i++)
        for (uint32_t j = 0; j < b.n_dense; j++)
            b.dense[(size_t)i * AF_MAX_DENSE + j] = (float)af_wrand_unit(&rnd);

    char widths[64] = "";
    for (uint32_t l = 1; l < h->n_layers; l++)
        snprintf(widths + strlen(widths), sizeof widths - strlen(widths),
                 "%s%u", l > 1 ? "-" : "", h->width[l]);
    printf("dedup: %s, %u fields (%u request, %u request slots; %u candidate "
           "slots), %u dense, %u-dim, MLP %s, index %llu, 500 candidates, 1 "
           "thread\n", model ? model : "world_v1-shaped DeepFM", h->n_fields,
           h->n_req_fields, rs, cs, h->n_dense, h->dim, widths,
           (unsigned long long)h->n_index);
    af_modelfile_close(&blob);
    double med[2], p99[2];
    float *pa = malloc(CANDS * sizeof *pa), *pb = malloc(CANDS * sizeof *pb);
    for (int dedup = 1; dedup >= 0; dedup--) {
        struct plugin p;
        plugin_open(&p, path, dedup);
        time_scoring(&p, &r.req, r.arena, &b, reps, &med[dedup], &p99[dedup]);
        struct af_score_out out = {.pctr = dedup ? pa : pb};
        p.ops->score(p.in.inst, &r.req, &b, &out);
        af_arena_reset(r.arena);
        printf("  dedup %-3s: median %.3f ms, p99 %.3f ms\n",
               dedup ? "on" : "off", med[dedup], p99[dedup]);
        plugin_close(&p);
    }
    double worst = 0;
    for (uint32_t i = 0; i < CANDS; i++)
        worst = fmax(worst, fabs((double)pa[i] - pb[i]));
    printf("  speedup (off / on) %.2fx; max |p_on - p_off| = %.2g\n",
           med[0] / med[1], worst);
    free(pa);
    free(pb);
    af_arena_destroy(r.arena);
    af_arena_destroy(batch_arena);
    if (model == NULL)
        unlink(path);
    return 0;
}

/* --- ## main --- */

static void
usage(void)
{
    fprintf(stderr,
            "usage: deepfm_bench train [--threads N] [--variant lazy|dense] "
            "[--layout split|blas] [--rows N] [--reps N]\n"
            "       deepfm_bench score [--reps N]\n"
            "       deepfm_bench dedup [--reps N] [--hidden 256,128] "
            "[--model FILE.afm]\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *cmd = argv[1];
    uint32_t threads = 2, rows = TP_ROWS, reps = 0;
    int lazy = 1, blas = 0;
    uint32_t hidden[8] = {400, 400, 400}, n_hidden = 3;
    const char *model = NULL;
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'},
        {"variant", required_argument, NULL, 'v'},
        {"layout", required_argument, NULL, 'l'},
        {"rows", required_argument, NULL, 'r'},
        {"reps", required_argument, NULL, 'n'},
        {"hidden", required_argument, NULL, 'h'},
        {"model", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': threads = (uint32_t)atoi(optarg); break;
        case 'v': lazy = strcmp(optarg, "dense") != 0; break;
        case 'l': blas = strcmp(optarg, "blas") == 0; break;
        case 'r': rows = (uint32_t)atoi(optarg); break;
        case 'm': model = optarg; break;
        case 'n': reps = (uint32_t)atoi(optarg); break;
        case 'h': {
            n_hidden = 0;
            for (char *s = strtok(optarg, ","); s && n_hidden < 8;
                 s = strtok(NULL, ","))
                hidden[n_hidden++] = (uint32_t)atoi(s);
            break;
        }
        default: usage(); return 2;
        }
    }
    if (strcmp(cmd, "train") == 0)
        return cmd_train(threads ? threads : 1, lazy, blas,
                         rows ? rows : TP_ROWS, reps ? reps : 1);
    if (strcmp(cmd, "score") == 0)
        return cmd_score(reps ? reps : 200);
    if (strcmp(cmd, "dedup") == 0)
        return cmd_dedup(reps ? reps : 200, hidden, n_hidden, model);
    usage();
    return 2;
}
