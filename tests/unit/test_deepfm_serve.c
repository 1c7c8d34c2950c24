/*
 * test_deepfm_serve.c -- the model_deepfm and model_fm plugins: a model
 * trained here, written to an .afm file and loaded through the real loader
 * and host, scores a candidate batch exactly as the offline predictor
 * scores the same rows (request fields first, a multi-valued request field
 * over three slots with empty ones, request and candidate dense inputs);
 * request-level dedup off gives the same scores; out-of-range indices read
 * the OOV row; malformed files, parameters and batches are refused.
 */
#include <dirent.h>
#include <math.h>
#include <unistd.h>

#include "test_plugins_harness.h"

#include "model/modelfile.h"
#include "learn/deepfm.h"
#include "learn/field_layout.h"
#include "learn/trainer.h"
#include "test_fm_fixture.h"
#include "../../plugins/model_deepfm/deepfm_format.h"

/* Fields: 0 request (single), 1 request (multi, 3 slots), 2 and 3
 * candidate; dense: 0 request, 1 candidate. */
static const uint32_t card[] = {6, 9, 5, 7};
static const uint32_t slots[] = {1, 3, 1, 1};
#define N_CAND 40
#define FP 0xabcdull

struct fixture {
    char dir[256];
    char path[400];
    struct fx_data tr, va;
    struct af_model_out out;
};

static void
fixture_make(struct fixture *f, const char *kind)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/af_dfm_XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/%s.afm", f->dir, kind);
    fx_make(&f->tr, 3000, 4, card, 1, 2, 41, 42);
    fx_make(&f->va, 200, 4, card, 1, 2, 41, 43);
    struct af_train_opts o;
    af_train_opts_defaults(&o, kind);
    o.embed_dim = 4;
    o.n_hidden = strcmp(kind, "deepfm") == 0 ? 2 : 0;
    o.hidden[0] = 24;
    o.hidden[1] = 12;
    o.batch_size = 64;
    o.learning_rate = 0.01;
    o.epochs = 3;
    o.n_req_fields = 2;
    o.field_slots = slots;
    o.n_req_dense = 1;
    o.downsample_rate = 0.5; /* the plugin must apply the correction */
    char err[256] = "";
    int rc = strcmp(kind, "deepfm") == 0
                 ? af_train_deepfm(&f->tr.x, &f->va.x, &o, &f->out, err,
                                   sizeof err)
                 : af_train_fm(&f->tr.x, &f->va.x, &o, &f->out, err,
                               sizeof err);
    if (rc != AF_OK)
        fail_msg("train %s: %s", kind, err);
    struct af_modelfile_meta meta = {.kind = kind, .version = "unit-1",
                                     .fingerprint = FP};
    if (af_modelfile_write(f->path, &meta, f->out.payload,
                           f->out.payload_size, err, sizeof err) != AF_OK)
        fail_msg("%s", err);
}

static void
fixture_free(struct fixture *f)
{
    af_model_out_free(&f->out);
    fx_free(&f->tr);
    fx_free(&f->va);
    unlink(f->path);
    rmdir(f->dir);
}

/* The batch of one request: request fields and dense from valid row `req`,
 * candidate i from valid row req + 1 + i.  Also the same rows as examples
 * (request fields repeated) for the offline predictor. */
static void
build(const struct fixture *f, uint32_t req, struct af_batch *b,
      struct af_examples *ex)
{
    const struct af_examples *x = &f->va.x;
    assert_int_equal(af_examples_init(ex, 4, 2, f->va.offs, N_CAND, 64), 0);
    const uint32_t *g;
    const float *v;
    b->n_req_fields = 4;
    uint32_t n0 = af_examples_entries(x, req, 0, &g, &v);
    assert_int_equal(n0, 1);
    b->req_fid[0] = g[0];
    uint32_t n1 = af_examples_entries(x, req, 1, &g, &v);
    for (uint32_t s = 0; s < 3; s++)
        b->req_fid[1 + s] = s < n1 ? g[s] : AF_FID_NONE;
    b->n_req_dense = 1;
    b->req_dense[0] = x->dense[req * 2];
    b->n_fields = 2;
    b->n_dense = 1;
    for (uint32_t i = 0; i < N_CAND; i++) {
        uint32_t r = req + 1 + i;
        b->ad[b->n] = 0;
        b->n++;
        uint32_t cnt[4], gi[8];
        float vi[8], dense[2];
        uint32_t e = 0;
        for (uint32_t fld = 0; fld < 4; fld++) {
            uint32_t src = fld < 2 ? req : r;
            cnt[fld] = af_examples_entries(x, src, fld, &g, &v);
            for (uint32_t j = 0; j < cnt[fld]; j++, e++) {
                gi[e] = g[j];
                vi[e] = v[j];
            }
            if (fld >= 2)
                af_batch_field(b, fld - 2)[i] = g[0];
        }
        dense[0] = x->dense[req * 2];
        dense[1] = x->dense[r * 2 + 1];
        b->dense[(size_t)i * AF_MAX_DENSE] = dense[1];
        assert_int_equal(af_examples_push(ex, cnt, gi, vi, dense, 0, 1, 0), 0);
    }
}

/* Scores of the plugin `file` on batch b with dedup on or off. */
static int
plugin_score(const struct fixture *f, const char *file, int dedup,
             struct test_request *tr, const struct af_batch *b, float *p)
{
    af_config *cfg = af_config_new();
    af_config_set_str(cfg, "model", f->path);
    af_config_set_str(cfg, "dedup", dedup ? "true" : "false");
    af_loaded *pl = load_shipped(file);
    struct af_instance in;
    char err[1024] = "";
    if (make_instance(pl, cfg, tr->req.catalog, FP, &in, err, sizeof err))
        fail_msg("%s", err);
    af_config_free(cfg);
    const struct af_model_ops *ops = in.ops;
    assert_string_equal(ops->model_version(in.inst), "unit-1");
    struct af_score_out out = {.pctr = p};
    int rc = ops->score(in.inst, &tr->req, b, &out);
    af_instance_destroy(&in);
    af_loader_close(pl);
    return rc;
}

static void
check_kind(const char *kind, const char *file)
{
    struct fixture f;
    fixture_make(&f, kind);
    struct test_catalog cat;
    tc_init(&cat, 1);
    double worst_dedup = 0, worst_pred = 0;
    for (uint32_t req = 0; req < 3; req++) {
        struct test_request tr;
        treq_init(&tr, &cat.view);
        struct af_batch b;
        batch_new(&tr, &b, 64);
        struct af_examples ex;
        build(&f, req * 50, &b, &ex);
        float on[N_CAND], off[N_CAND];
        double want[N_CAND];
        assert_int_equal(plugin_score(&f, file, 1, &tr, &b, on), AF_OK);
        assert_int_equal(plugin_score(&f, file, 0, &tr, &b, off), AF_OK);
        char err[256];
        assert_int_equal(af_predict(kind, f.out.payload, f.out.payload_size,
                                    &ex, want, err, sizeof err), AF_OK);
        for (uint32_t i = 0; i < N_CAND; i++) {
            worst_dedup = fmax(worst_dedup, fabs((double)on[i] - off[i]));
            worst_pred = fmax(worst_pred, fabs((double)on[i] - want[i]));
        }
        af_examples_free(&ex);
        treq_free(&tr);
    }
    print_message("%s: max |dedup - full| = %.3g, max |plugin - offline| = "
                  "%.3g\n", kind, worst_dedup, worst_pred);
    assert_true(worst_dedup < 1e-6);
    assert_true(worst_pred < 1e-6);
    fixture_free(&f);
}

static void
test_deepfm_plugin_matches_offline(void **state)
{
    check_kind("deepfm", "model_deepfm.so");
}

static void
test_fm_plugin_matches_offline(void **state)
{
    check_kind("fm", "model_fm.so");
}

/* An index outside its field scores as the field's OOV row; a batch with
 * fewer slots than the model reads is refused. */
static void
test_deepfm_plugin_bad_batches(void **state)
{
    struct fixture f;
    fixture_make(&f, "deepfm");
    struct test_catalog cat;
    tc_init(&cat, 1);
    struct test_request tr;
    treq_init(&tr, &cat.view);
    struct af_batch b;
    batch_new(&tr, &b, 64);
    struct af_examples ex;
    build(&f, 0, &b, &ex);
    af_batch_field(&b, 0)[3] = 123456;     /* outside field 2 */
    af_batch_field(&b, 1)[4] = f.va.offs[1]; /* field 1's range, not 3's */
    b.req_fid[3] = AF_FID_NONE - 1;         /* multi slot out of range */
    float p[N_CAND], q[N_CAND];
    assert_int_equal(plugin_score(&f, "model_deepfm.so", 1, &tr, &b, p), AF_OK);
    af_batch_field(&b, 0)[3] = f.va.offs[2];
    af_batch_field(&b, 1)[4] = f.va.offs[3];
    b.req_fid[3] = f.va.offs[1];
    assert_int_equal(plugin_score(&f, "model_deepfm.so", 1, &tr, &b, q), AF_OK);
    for (uint32_t i = 0; i < N_CAND; i++)
        assert_float_equal(p[i], q[i], 0.0);

    b.n_fields = 1;
    assert_int_equal(plugin_score(&f, "model_deepfm.so", 1, &tr, &b, p),
                     AF_EINVAL);
    b.n_fields = 2;
    b.n_req_fields = 3;
    assert_int_equal(plugin_score(&f, "model_deepfm.so", 1, &tr, &b, p),
                     AF_EINVAL);
    af_examples_free(&ex);
    treq_free(&tr);
    fixture_free(&f);
}

static void
expect_error(const char *file, af_config *cfg, uint64_t fp, int code,
             const char *want)
{
    struct test_catalog cat;
    tc_init(&cat, 1);
    af_loaded *p = load_shipped(file);
    struct af_instance in;
    char err[1024] = "";
    int rc = make_instance(p, cfg, &cat.view, fp, &in, err, sizeof err);
    if (rc != code || !strstr(err, want))
        fail_msg("%s: got %s \"%s\", want %s with \"%s\"", file,
                 af_err_name(rc), err, af_err_name(code), want);
    af_loader_close(p);
}

static void
test_deepfm_plugin_refusals(void **state)
{
    struct fixture f;
    fixture_make(&f, "deepfm");
    af_config *cfg = af_config_new();
    expect_error("model_deepfm.so", cfg, 0, AF_EINVAL, "model is required");
    af_config_set_str(cfg, "model", f.path);
    expect_error("model_fm.so", cfg, 0, AF_EMISMATCH, "kind mismatch");
    expect_error("model_deepfm.so", cfg, 0xbeef, AF_EMISMATCH,
                 "fingerprint mismatch");
    af_config_set_str(cfg, "dedup", "maybe");
    expect_error("model_deepfm.so", cfg, FP, AF_EINVAL,
                 "dedup must be true or false");
    af_config_free(cfg);
    cfg = af_config_new();
    af_config_set_str(cfg, "model", f.path);
    af_config_set_num(cfg, "depth", 3);
    expect_error("model_deepfm.so", cfg, FP, AF_EINVAL,
                 "unknown parameter \"depth\"");
    af_config_free(cfg);

    /* A payload whose header promises more than it holds: the checksum is
     * fine (written so), the plugin's own check refuses it. */
    char err[256];
    struct af_modelfile_meta meta = {.kind = "deepfm", .version = "cut",
                                     .fingerprint = FP};
    assert_int_equal(af_modelfile_write(f.path, &meta, f.out.payload,
                                        f.out.payload_size - 8, err,
                                        sizeof err), AF_OK);
    cfg = af_config_new();
    af_config_set_str(cfg, "model", f.path);
    expect_error("model_deepfm.so", cfg, FP, AF_ECORRUPT, "expected");
    /* A request side wider than a batch's AF_MAX_FIELDS slots. */
    struct af_fm_payload_header h;
    memcpy(&h, f.out.payload, sizeof h);
    uint32_t *u = (uint32_t *)((char *)f.out.payload + sizeof h);
    u[1] = AF_MAX_FIELDS; /* field 1: 32 slots, after field 0's one */
    meta.version = "wide";
    assert_int_equal(af_modelfile_write(f.path, &meta, f.out.payload,
                                        f.out.payload_size, err, sizeof err),
                     AF_OK);
    expect_error("model_deepfm.so", cfg, FP, AF_EINVAL,
                 "more than 32 request slots");
    af_config_free(cfg);
    fixture_free(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepfm_plugin_matches_offline),
        cmocka_unit_test(test_fm_plugin_matches_offline),
        cmocka_unit_test(test_deepfm_plugin_bad_batches),
        cmocka_unit_test(test_deepfm_plugin_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
