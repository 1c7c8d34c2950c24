/*
 * test_learn_serve.c -- one encoder for training and serving.
 *
 * A small world is generated and its impression log written
 * (`adfunnel world log`); the world_v1 spec is trained on it (vocabularies,
 * LR).  Then every test-split row is served: a request and candidate made
 * from the row, the pipeline's built-in "spec" feature stage fills the
 * batch, and the batch slots, turned into (index, value) entries the way
 * models read them (field_layout.h), must equal the training examples bit
 * for bit.  The pipeline's fingerprint must equal the model's, the lr
 * plugin must score the batch as the trainer's predict does, and the
 * isotonic plugin must apply its file as the offline calibrator does.
 */
#include "test_plugins_harness.h"

#include <sys/stat.h>
#include <unistd.h>

#include "../../plugins/calibrator_isotonic/iso_format.h"
#include "learn/calib.h"
#include "learn/dataset.h"
#include "learn/field_layout.h"
#include "learn/featspec.h"
#include "learn/trainer.h"
#include "learn/worldlog.h"
#include "model/modelfile.h"
#include "pipeline/pipeline.h"
#include "store/catalog.h"
#include "world/world.h"

struct fx {
    char dir[64], spec[1200], model[200];
    struct af_featspec *s;
    struct af_dataset d;
    af_world *world;
    const struct af_catalog *cat;
    af_registry *reg;
    struct af_pipeline *p;
};

static struct fx F;

static void
train_model(void)
{
    char err[1024];
    uint32_t slots[AF_SPEC_MAX_FIELDS];
    for (uint32_t k = 0; k < F.s->n_cat; k++)
        slots[k] = af_featspec_slots(F.s, k);
    struct af_train_opts o;
    af_train_opts_defaults(&o, "lr");
    o.epochs = 3;
    o.threads = 1;
    o.n_req_fields = F.s->n_req_fields;
    o.field_slots = slots;
    struct af_model_out *m = calloc(1, sizeof *m);
    assert_int_equal(af_train_lr(&F.d.part[0], &F.d.part[1], &o, m, err,
                                 sizeof err), 0);
    struct af_modelfile_meta meta = {.kind = m->kind, .version = "test",
                                     .fingerprint = F.d.vocab.fingerprint};
    snprintf(F.model, sizeof F.model, "%s/models/w.afm", F.dir);
    assert_int_equal(af_modelfile_write(F.model, &meta, m->payload,
                                        m->payload_size, err, sizeof err), 0);
    af_model_out_free(m);
    free(m);
}

static int
setup(void **state)
{
    (void)state;
    char err[2048], path[1200];
    snprintf(F.dir, sizeof F.dir, "/tmp/af_serve_XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    struct af_world_gen_params gp = {.seed = 5, .n_ads = 200, .n_users = 300};
    assert_int_equal(af_world_generate(F.dir, &gp, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/impressions.tsv", F.dir);
    struct af_worldlog_opts lo = {.world_dir = F.dir, .out = path,
                                  .impressions = 4000, .seed = 1, .pool = 50,
                                  .start_time = 1795000000};
    if (af_worldlog_write(&lo, err, sizeof err) != 0)
        fail_msg("%s", err);
    const char *src = getenv("AF_SOURCE_DIR");
    snprintf(F.spec, sizeof F.spec, "%s/pipelines/features/world_v1.lua",
             src ? src : ".");
    F.s = af_featspec_load(F.spec, err, sizeof err);
    if (F.s == NULL)
        fail_msg("%s", err);
    struct af_dataset_opts o = {.root = F.dir};
    if (af_dataset_load(F.s, &o, &F.d, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(F.d.rejected, 0);
    snprintf(path, sizeof path, "%s/models", F.dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/models/w.vocab.afm", F.dir);
    assert_int_equal(af_vocab_save(&F.d.vocab, path, err, sizeof err), 0);
    train_model();

    F.world = af_world_load(F.dir, err, sizeof err);
    assert_non_null(F.world);
    F.cat = af_catalog_view(af_world_catalog(F.world));
    snprintf(path, sizeof path, "%s/p.lua", F.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "surface \"t\" {\n  retrieve = { { \"popular\", k = 10 } },\n"
               "  features = { { \"spec\", spec = \"%s\", "
               "vocab = \"models/w.vocab.afm\" } },\n}\n", F.spec);
    fclose(f);
    F.reg = af_registry_create();
    const char *plugins = getenv("AF_PLUGIN_DIR");
    if (plugins == NULL || af_registry_scan(F.reg, plugins) < 0)
        fail_msg("AF_PLUGIN_DIR is not a plugin directory");
    struct af_pipeline_env env = {.registry = F.reg, .catalog = F.cat,
                                  .data_dir = F.dir, .features_only = 1};
    F.p = af_pipeline_load(path, &env, err, sizeof err);
    if (F.p == NULL)
        fail_msg("%s", err);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    af_pipeline_free(F.p);
    af_registry_free(F.reg);
    af_world_free(F.world);
    af_dataset_free(&F.d);
    af_featspec_free(F.s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* --- ## Rows of the log back into requests --- */

struct logrow {
    struct af_user user;
    struct af_context ctx;
    uint32_t ad_row;
};

static int32_t
opt_int(const char *s)
{
    return *s ? (int32_t)atoi(s) : -1;
}

/* The rows of the test split: the last n - floor(9n/10) lines of the log
 * (it is in time order, and the spec's stable sort keeps it). */
static uint32_t
test_rows(struct logrow *out, uint32_t cap)
{
    char path[200], line[4096];
    snprintf(path, sizeof path, "%s/impressions.tsv", F.dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    uint64_t n = F.d.rows, first = n * 9 / 10, i = 0;
    uint32_t k = 0;
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f) && k < cap) {
        if (i++ < first)
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *col[32];
        uint32_t nc = 0;
        for (char *p = line; nc < 32;) {
            col[nc++] = p;
            char *t = strchr(p, '\t');
            if (!t)
                break;
            *t = '\0';
            p = t + 1;
        }
        assert_int_equal(nc, 3 + AF_SRC_N - 1);
        struct logrow *r = &out[k++];
        memset(r, 0, sizeof *r);
        /* columns: time label p_true, then the sources in enum order */
        r->user.id = strtoull(col[3], NULL, 10);
        r->user.geo = opt_int(col[4]);
        r->user.age_band = opt_int(col[5]);
        r->user.device = opt_int(col[6]);
        r->user.gender = opt_int(col[7]);
        for (char *p = col[8]; *p;) {
            r->user.interests |= 1ull << atoi(p);
            p = strchr(p, ',');
            if (!p)
                break;
            p++;
        }
        r->ctx.hour = opt_int(col[9]);
        r->ctx.day_of_week = opt_int(col[10]);
        r->ctx.position = opt_int(col[11]);
        uint64_t ad = strtoull(col[12], NULL, 10);
        r->ad_row = UINT32_MAX;
        for (uint32_t a = 0; a < F.cat->n_ads; a++)
            if (F.cat->ad_id[a] == ad)
                r->ad_row = a;
        assert_true(r->ad_row != UINT32_MAX);
    }
    fclose(f);
    return k;
}

/* Serve one row: request + one candidate through the features stage. */
static void
serve(struct test_request *t, const struct logrow *r, struct af_batch *b)
{
    af_arena_reset(t->arena);
    t->req.user = r->user;
    t->req.context = r->ctx;
    batch_new(t, b, 4);
    batch_add(b, F.cat, r->ad_row);
    assert_int_equal(af_pipeline_run_features(F.p, &t->req, b), 0);
}

static void
test_fingerprint_matches(void **state)
{
    (void)state;
    assert_true(af_pipeline_fingerprint(F.p) == F.d.vocab.fingerprint);
    struct af_model_blob blob;
    char err[512];
    assert_int_equal(af_modelfile_open(F.model, "lr", af_pipeline_fingerprint(F.p),
                                       &blob, err, sizeof err), 0);
    af_modelfile_close(&blob);
}

static void
test_train_serve_identity(void **state)
{
    (void)state;
    const struct af_examples *e = &F.d.part[AF_PART_TEST];
    struct logrow *rows = calloc(e->n, sizeof *rows);
    uint32_t n = test_rows(rows, e->n);
    assert_int_equal(n, e->n);
    struct test_request t;
    treq_init(&t, F.cat);
    uint32_t compared = 0;
    for (uint32_t r = 0; r < n; r++) {
        struct af_batch b;
        serve(&t, &rows[r], &b);
        uint32_t req_pos = 0, col = 0;
        for (uint32_t k = 0; k < F.s->n_cat; k++) {
            uint32_t slots = af_featspec_slots(F.s, k), g[64];
            float v[64];
            uint32_t m;
            if (k < F.s->n_req_fields) {
                m = af_field_entries(b.req_fid + req_pos, slots, 1, g, v);
                req_pos += slots;
            } else {
                m = af_field_entries(af_batch_field(&b, col), slots, b.cap, g, v);
                col += slots;
            }
            const uint32_t *tg;
            const float *tv;
            uint32_t tm = af_examples_entries(e, r, k, &tg, &tv);
            if (m != tm || memcmp(g, tg, m * sizeof *g) != 0 ||
                memcmp(v, tv, m * sizeof *v) != 0)
                fail_msg("test row %u field %s: serving gives %u entries (first "
                         "%u), training %u (first %u)", r,
                         F.s->field[F.s->cat_field[k]].name, m, m ? g[0] : 0, tm,
                         tm ? tg[0] : 0);
            compared++;
        }
        assert_int_equal(req_pos, b.n_req_fields);
        assert_int_equal(col, b.n_fields);
    }
    print_message("%u rows, %u fields each: serving inputs identical to "
                  "training inputs\n", n, F.s->n_cat);
    assert_true(compared == n * F.s->n_cat && n > 100);
    treq_free(&t);
    free(rows);
}

static void
test_lr_plugin_scores_like_predict(void **state)
{
    (void)state;
    af_loaded *pl = load_shipped("model_lr.so");
    af_config *cfg = af_config_new();
    af_config_set_str(cfg, "model", F.model);
    struct af_instance in;
    char err[1024];
    /* another feature fingerprint: refused */
    assert_int_equal(make_instance(pl, cfg, F.cat, 12345, &in, err, sizeof err),
                     AF_EMISMATCH);
    assert_int_equal(make_instance(pl, cfg, F.cat, F.d.vocab.fingerprint, &in,
                                   err, sizeof err), 0);
    const struct af_examples *e = &F.d.part[AF_PART_TEST];
    struct af_model_blob blob;
    assert_int_equal(af_modelfile_open(F.model, "lr", 0, &blob, err, sizeof err), 0);
    double *want = malloc(e->n * sizeof *want);
    assert_int_equal(af_predict_lr(blob.data, blob.size, e, want, err, sizeof err), 0);
    struct logrow *rows = calloc(e->n, sizeof *rows);
    uint32_t n = test_rows(rows, e->n);
    struct test_request t;
    treq_init(&t, F.cat);
    const struct af_model_ops *ops = in.ops;
    for (uint32_t r = 0; r < n; r++) {
        struct af_batch b;
        serve(&t, &rows[r], &b);
        float pctr[4];
        struct af_score_out out = {.pctr = pctr};
        assert_int_equal(ops->score(in.inst, &t.req, &b, &out), 0);
        assert_true(fabs(pctr[0] - want[r]) < 1e-5);
    }
    treq_free(&t);
    free(rows);
    free(want);
    af_modelfile_close(&blob);
    af_instance_destroy(&in);
    af_config_free(cfg);
    af_loader_close(pl);
}

static void
test_isotonic_plugin_applies_file(void **state)
{
    (void)state;
    float x[4] = {0.01f, 0.05f, 0.2f, 0.6f}, y[4] = {0.02f, 0.04f, 0.1f, 0.7f};
    struct af_isotonic c = {4, AF_ISO_LINEAR, x, y};
    char path[200], err[1024];
    snprintf(path, sizeof path, "%s/models/w.isotonic.afm", F.dir);
    assert_int_equal(af_isotonic_save(&c, path, "test", err, sizeof err), 0);
    af_loaded *pl = load_shipped("calibrator_isotonic.so");
    af_config *cfg = af_config_new();
    af_config_set_str(cfg, "file", path);
    struct af_instance in;
    must_instance(pl, cfg, F.cat, &in);
    float p[6] = {0.0f, 0.01f, 0.03f, 0.3f, 0.6f, 0.9f};
    float q[6];
    memcpy(q, p, sizeof p);
    struct test_request t;
    treq_init(&t, F.cat);
    const struct af_calibrator_ops *ops = in.ops;
    assert_int_equal(ops->calibrate(in.inst, &t.req, q, 6), 0);
    for (int i = 0; i < 6; i++)
        assert_true(q[i] == (float)af_isotonic_apply(&c, p[i]));
    treq_free(&t);
    af_instance_destroy(&in);
    /* a missing file: refused at creation */
    af_config_set_str(cfg, "file", "/nonexistent.afm");
    assert_true(make_instance(pl, cfg, F.cat, 0, &in, err, sizeof err) < 0);
    af_config_free(cfg);
    af_loader_close(pl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_matches),
        cmocka_unit_test(test_train_serve_identity),
        cmocka_unit_test(test_lr_plugin_scores_like_predict),
        cmocka_unit_test(test_isotonic_plugin_applies_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
