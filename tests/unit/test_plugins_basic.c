/*
 * test_plugins_basic.c -- the first shipped plugins, each loaded and
 * instantiated as the server does: popular (retriever), targeting (filter),
 * basic (features), lr (model), identity and platt (calibrators), greedy
 * (exploration).  The gsp auction has its own file, test_gsp.c.
 */
#include <dirent.h>
#include <unistd.h>

#include "test_plugins_harness.h"
#include "model/modelfile.h"
#include "../../plugins/feature_basic/hash.h"
#include "../../plugins/model_lr/lr_format.h"

/* --- ## Helpers --- */

/* Load `file`, create an instance with cfg (may be NULL), run nothing. */
struct plugin_under_test {
    af_loaded *p;
    struct af_instance in;
};

static void
put_up(struct plugin_under_test *t, const char *file, af_config *cfg,
       const struct af_catalog *cat)
{
    t->p = load_shipped(file);
    af_config *empty = cfg ? NULL : af_config_new();
    must_instance(t->p, cfg ? cfg : empty, cat, &t->in);
    af_config_free(empty);
}

static void
take_down(struct plugin_under_test *t)
{
    af_instance_destroy(&t->in);
    af_loader_close(t->p);
}

/* create() must fail with AF_EINVAL and a message containing want. */
static void
expect_create_error(const char *file, af_config *cfg,
                    const struct af_catalog *cat, uint64_t fingerprint,
                    int code, const char *want)
{
    af_loaded *p = load_shipped(file);
    struct af_instance in;
    char err[1024] = "";
    int rc = make_instance(p, cfg, cat, fingerprint, &in, err, sizeof err);
    if (rc != code || !strstr(err, want))
        fail_msg("%s: got %s \"%s\", want %s with \"%s\"", file,
                 af_err_name(rc), err, af_err_name(code), want);
    af_loader_close(p);
}

/* The user of the retrieval and filter tests. */
static void
set_user(struct af_user *u)
{
    u->geo = 3;
    u->age_band = 2;
    u->device = 1;
    u->interests = (1ull << 5);
}

/* --- ## popular --- */

/* 10 ads, score prior_ctr * bid = (i + 1) / 100 except row 1, which ties
 * with row 0 at 0.01, and row 3 (bid 2), which ties with row 2 at 0.03.
 * Popularity order: 9 8 7 6 5 4 2 3 0 1.  Row 9
 * targets geo 4 and row 7 interest 8 (the user is in neither); row 6
 * targets age band 2 (the user's). */
static void
popular_catalog(struct test_catalog *c)
{
    tc_init(c, 10);
    for (uint32_t i = 0; i < 10; i++)
        c->prior_ctr[i] = (float)(i + 1) / 100.0f;
    c->prior_ctr[1] = 0.01f;
    c->bid[3] = 2.0f;
    c->prior_ctr[3] = 0.015f; /* 2 * 0.015 = 0.03: ties with row 2 */
    c->geo_mask[9] = 1u << 4;
    c->interest_mask[7] = 1ull << 8;
    c->age_mask[6] = 1u << 2;
}

static void
retrieve(struct plugin_under_test *t, struct test_request *tr,
         struct af_batch *b, uint32_t k)
{
    const struct af_retriever_ops *ops = t->in.ops;
    assert_int_equal(ops->retrieve(t->in.inst, &tr->req, b, k), AF_OK);
}

static void
test_popular_order_targeting_k(void **state)
{
    struct test_catalog cat;
    popular_catalog(&cat);
    struct test_request tr;
    treq_init(&tr, &cat.view);
    set_user(&tr.req.user);

    af_config *cfg = af_config_new();
    af_config_set_num(cfg, "k", 3);
    struct plugin_under_test t;
    put_up(&t, "retriever_popular.so", cfg, &cat.view);
    af_config_free(cfg);

    struct af_batch b;
    batch_new(&tr, &b, 64);
    batch_add(&b, &cat.view, 0); /* an earlier retriever's row: kept */
    retrieve(&t, &tr, &b, 50);   /* the plugin's k = 3 is smaller      */
    assert_int_equal(b.n, 4);
    assert_int_equal(b.ad[0], 0);
    uint32_t want[3] = {8, 6, 5}; /* 9 (geo) and 7 (interest) skipped */
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(b.ad[1 + i], want[i]);
        assert_float_equal(b.bid[1 + i], 1.0, 0);
        assert_float_equal(b.retrieval_score[1 + i],
                           cat.prior_ctr[want[i]] * cat.bid[want[i]], 1e-9);
    }

    b.n = 0;
    retrieve(&t, &tr, &b, 2); /* the host's k = 2 is smaller */
    assert_int_equal(b.n, 2);
    assert_int_equal(b.ad[0], 8);
    assert_int_equal(b.ad[1], 6);
    take_down(&t);
    treq_free(&tr);
}

static void
test_popular_full_order_and_scan_bound(void **state)
{
    struct test_catalog cat;
    popular_catalog(&cat);
    struct test_request tr;
    treq_init(&tr, &cat.view);
    set_user(&tr.req.user);

    struct plugin_under_test t;
    put_up(&t, "retriever_popular.so", NULL, &cat.view); /* k = 1000 */
    struct af_batch b;
    batch_new(&tr, &b, 64);
    retrieve(&t, &tr, &b, 64);
    /* Ties at 0.03 (rows 2, 3) and 0.01 (rows 0, 1): lower row first. */
    uint32_t want[] = {8, 6, 5, 4, 2, 3, 0, 1};
    assert_int_equal(b.n, 8);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(b.ad[i], want[i]);
    take_down(&t);

    /* max_scan = 3 looks at rows 9, 8, 7 only: one eligible. */
    af_config *cfg = af_config_new();
    af_config_set_num(cfg, "max_scan", 3);
    put_up(&t, "retriever_popular.so", cfg, &cat.view);
    af_config_free(cfg);
    b.n = 0;
    retrieve(&t, &tr, &b, 64);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.ad[0], 8);
    take_down(&t);
    treq_free(&tr);
}

/* Ads are valued per impression: a CPM bid is per thousand impressions and
 * a CPA bid is discounted by cpa_cvr, so neither outbids CPC ads by unit. */
static void
test_popular_bid_types(void **state)
{
    struct test_catalog cat;
    tc_init(&cat, 3);
    cat.prior_ctr[0] = 0.03f;             /* CPC:   1 * 0.03        = 0.03 */
    cat.bid_type[1] = AF_BID_CPM;
    cat.bid[1] = 20.0f;
    cat.prior_ctr[1] = 0.05f;             /* CPM:  20 / 1000        = 0.02 */
    cat.bid_type[2] = AF_BID_CPA;
    cat.bid[2] = 20.0f;
    cat.prior_ctr[2] = 0.05f;             /* CPA:  20 * 0.05 * 0.05 = 0.05 */
    struct test_request tr;
    treq_init(&tr, &cat.view);

    struct plugin_under_test t;
    put_up(&t, "retriever_popular.so", NULL, &cat.view);
    struct af_batch b;
    batch_new(&tr, &b, 8);
    retrieve(&t, &tr, &b, 8);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.ad[0], 2);
    assert_int_equal(b.ad[1], 0);
    assert_int_equal(b.ad[2], 1);
    assert_float_equal(b.retrieval_score[2], 0.02, 1e-7);
    assert_float_equal(b.bid[2], 20.0, 0); /* the bid stays in its unit */
    take_down(&t);

    af_config *cfg = af_config_new();
    af_config_set_num(cfg, "cpa_cvr", 0.01); /* CPA: 20 * 0.05 * 0.01 = 0.01 */
    put_up(&t, "retriever_popular.so", cfg, &cat.view);
    af_config_free(cfg);
    b.n = 0;
    retrieve(&t, &tr, &b, 8);
    assert_int_equal(b.ad[0], 0);
    assert_int_equal(b.ad[1], 1);
    assert_int_equal(b.ad[2], 2);
    take_down(&t);
    treq_free(&tr);
}

static void
test_popular_bad_parameters(void **state)
{
    struct test_catalog cat;
    tc_init(&cat, 2);
    struct {
        const char *key, *value, *msg;
    } bad[] = {
        {"k", "-3", "k must be an integer in 1..100000, got -3"},
        {"k", "2.5", "k must be an integer in 1..100000, got 2.5"},
        {"k", "many", "k must be an integer in 1..100000, got many"},
        {"max_scan", "0", "max_scan must be an integer in 1..100000000, got 0"},
        {"cpa_cvr", "2", "cpa_cvr must be a number in [0, 1], got 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        af_config *cfg = af_config_new();
        af_config_set_str(cfg, bad[i].key, bad[i].value);
        expect_create_error("retriever_popular.so", cfg, &cat.view, 0,
                            AF_EINVAL, bad[i].msg);
        af_config_free(cfg);
    }
    af_config *cfg = af_config_new();
    expect_create_error("retriever_popular.so", cfg, NULL, 0, AF_EINVAL,
                        "needs the ad catalog");
    af_config_free(cfg);
}

/* --- ## targeting --- */

/* Row r of this catalog targets one dimension; the comment says whether
 * the user (geo 3, age 2, device 1, interest 5) matches. */
static void
targeting_catalog(struct test_catalog *c)
{
    tc_init(c, 9);
    /* row 0: no targeting                       keep */
    c->geo_mask[1] = 1u << 3;                 /* keep */
    c->geo_mask[2] = 1u << 4;                 /* drop: geo */
    c->age_mask[3] = (1u << 2) | (1u << 3);   /* keep */
    c->age_mask[4] = (1u << 0) | (1u << 1);   /* drop: age */
    c->device_mask[5] = 1u << 1;              /* keep */
    c->device_mask[6] = 1u << 0;              /* drop: device */
    c->interest_mask[7] = (1ull << 5) | (1ull << 6); /* keep */
    c->interest_mask[8] = 1ull << 7;          /* drop: interests */
}

static void
run_filter(af_config *cfg, const struct af_user *u, const uint8_t *want)
{
    struct test_catalog cat;
    targeting_catalog(&cat);
    struct test_request tr;
    treq_init(&tr, &cat.view);
    tr.req.user = *u;
    struct plugin_under_test t;
    put_up(&t, "filter_targeting.so", cfg, &cat.view);
    struct af_batch b;
    batch_new(&tr, &b, 16);
    for (uint32_t r = 0; r < 9; r++)
        batch_add(&b, &cat.view, 8 - r); /* reversed: rows are not reordered */
    const struct af_filter_ops *ops = t.in.ops;
    assert_int_equal(ops->filter(t.in.inst, &tr.req, &b), AF_OK);
    assert_int_equal(b.n, 9);
    for (uint32_t i = 0; i < 9; i++) {
        assert_int_equal(b.ad[i], 8 - i);
        if (b.drop[i] != want[8 - i])
            fail_msg("catalog row %u: drop = %u, want %u", 8 - i, b.drop[i],
                     want[8 - i]);
    }
    take_down(&t);
    treq_free(&tr);
}

static void
test_targeting_drops_exactly(void **state)
{
    struct af_user u = {.id = 1};
    set_user(&u);
    const uint8_t want[9] = {0, 0, 1, 0, 1, 0, 1, 0, 1};
    run_filter(NULL, &u, want);
}

static void
test_targeting_unknown_user(void **state)
{
    /* Unknown (-1) geo, age and device match any mask; no known interests
     * match no interest-targeted ad. */
    struct af_user u = {.id = 1, .geo = -1, .age_band = -1, .device = -1,
                        .gender = -1, .interests = 0};
    const uint8_t want[9] = {0, 0, 0, 0, 0, 0, 0, 1, 1};
    run_filter(NULL, &u, want);

    /* A value beyond a mask's width matches no bit (and is no crash). */
    u.geo = 40;
    u.age_band = 9;
    const uint8_t want2[9] = {0, 1, 1, 1, 1, 0, 0, 1, 1};
    run_filter(NULL, &u, want2);
}

static void
test_targeting_checks_can_be_disabled(void **state)
{
    struct af_user u = {.id = 1};
    set_user(&u);
    af_config *cfg = af_config_new();
    af_config_set_bool(cfg, "check_geo", 0);
    af_config_set_str(cfg, "check_interests", "false");
    const uint8_t want[9] = {0, 0, 0, 0, 1, 0, 1, 0, 0};
    run_filter(cfg, &u, want);
    af_config_free(cfg);

    cfg = af_config_new();
    af_config_set_str(cfg, "check_age", "sometimes");
    struct test_catalog cat;
    tc_init(&cat, 1);
    expect_create_error("filter_targeting.so", cfg, &cat.view, 0, AF_EINVAL,
                        "check_age must be true or false, got sometimes");
    af_config_free(cfg);
}

/* --- ## basic features --- */

static void
test_hash_known_values(void **state)
{
    /* Pinned: changing the hash silently invalidates every model file. */
    assert_int_equal(af_hash_field(0, 0), 0u);
    assert_int_equal(af_hash_field(0, 7), 2065162004u);
    assert_int_equal(af_hash_field(8, 1000), 463790500u);
    assert_int_equal(af_hash_field(16, (2ull << 32) | 1), 3742591707u);
    assert_int_equal(af_hash_field(1, 0xffffffffu), 2866715739u);
}

/* Count comma-separated names after "<section>=" up to ';' or the end. */
static uint32_t
schema_count(const char *schema, const char *section)
{
    const char *s = strstr(schema, section);
    assert_non_null(s);
    s += strlen(section);
    uint32_t n = 1;
    for (; *s && *s != ';'; s++)
        n += (*s == ',');
    return n;
}

/* Extract into a batch that already holds 1 request field, 2 candidate
 * fields and 1 dense feature of an earlier extractor. */
static void
extract(struct plugin_under_test *t, struct test_request *tr,
        const struct af_catalog *cat, struct af_batch *b)
{
    batch_new(tr, b, 8);
    batch_add(b, cat, 2);
    batch_add(b, cat, 0);
    batch_add(b, cat, 3);
    b->n_req_fields = 1;
    b->n_fields = 2;
    b->n_dense = 1;
    const struct af_feature_ops *ops = t->in.ops;
    assert_int_equal(ops->extract(t->in.inst, &tr->req, b), AF_OK);
}

static void
test_basic_fields(void **state)
{
    struct test_catalog cat;
    tc_init(&cat, 4); /* category = row % 4 */
    cat.bid[2] = 3.0f;
    cat.quality[2] = 0.75f;
    cat.prior_ctr[2] = 0.02f;
    struct test_request tr;
    treq_init(&tr, &cat.view); /* user id 7 */
    set_user(&tr.req.user);
    tr.req.user.interests |= 1ull << 2; /* interested in category 2 */
    tr.req.user.gender = 1;
    tr.req.context.hour = 13;
    tr.req.context.day_of_week = 4;

    struct plugin_under_test t;
    put_up(&t, "feature_basic.so", NULL, &cat.view);
    const struct af_feature_ops *ops = t.in.ops;
    const char *schema = ops->schema(t.in.inst);
    assert_non_null(strstr(schema, "basic/1:req=user_id,geo,"));
    assert_int_equal(schema_count(schema, "req="), 8);
    assert_int_equal(schema_count(schema, "ad="), 9);
    assert_int_equal(schema_count(schema, "dense="), 3);

    struct af_batch b;
    extract(&t, &tr, &cat.view, &b);
    assert_int_equal(b.n_req_fields, 1 + 8);
    assert_int_equal(b.n_fields, 2 + 9);
    assert_int_equal(b.n_dense, 1 + 3);

    /* request side: field index = position in the list */
    assert_int_equal(b.req_fid[1], af_hash_field(0, 7));     /* user_id */
    assert_int_equal(b.req_fid[2], af_hash_field(1, 3));     /* geo     */
    assert_int_equal(b.req_fid[6], af_hash_field(5, 13));    /* hour    */
    assert_int_equal(b.req_fid[8], af_hash_field(7, 0));     /* position */
    /* candidate side of batch row 0 = catalog row 2 (ad 1002, category 2) */
    assert_int_equal(af_batch_field(&b, 2)[0], af_hash_field(8, 1002));
    assert_int_equal(af_batch_field(&b, 5)[0], af_hash_field(11, 2));
    assert_int_equal(af_batch_field(&b, 6)[0],
                     af_hash_field(12, (2ull << 32) | 2)); /* x age 2 */
    assert_int_equal(af_batch_field(&b, 10)[0], 3742591707u); /* interested */
    /* batch row 1 = catalog row 0: category 0, not interested */
    assert_int_equal(af_batch_field(&b, 10)[1], af_hash_field(16, 0));
    /* dense after the earlier extractor's one */
    const float *d = b.dense + 0 * AF_MAX_DENSE;
    assert_float_equal(d[1], log1p(3.0), 1e-6);
    assert_float_equal(d[2], 0.75, 1e-7);
    assert_float_equal(d[3], 0.02, 1e-7);

    /* Deterministic: the same request gives the same ids. */
    struct af_batch b2;
    extract(&t, &tr, &cat.view, &b2);
    assert_memory_equal(b.req_fid, b2.req_fid, sizeof b.req_fid);
    for (uint32_t f = 2; f < 11; f++)
        assert_memory_equal(af_batch_field(&b, f), af_batch_field(&b2, f),
                            3 * sizeof(uint32_t));
    take_down(&t);
    treq_free(&tr);
}

static void
test_basic_full_batch_and_params(void **state)
{
    struct test_catalog cat;
    tc_init(&cat, 2);
    struct test_request tr;
    treq_init(&tr, &cat.view);
    struct plugin_under_test t;
    put_up(&t, "feature_basic.so", NULL, &cat.view);
    struct af_batch b;
    batch_new(&tr, &b, 4);
    batch_add(&b, &cat.view, 0);
    b.n_fields = AF_MAX_FIELDS - 5; /* no room for 9 more */
    const struct af_feature_ops *ops = t.in.ops;
    assert_int_equal(ops->extract(t.in.inst, &tr.req, &b), AF_ELIMIT);
    assert_int_equal(b.n_fields, AF_MAX_FIELDS - 5);
    assert_int_equal(b.n_req_fields, 0);
    take_down(&t);
    treq_free(&tr);

    af_config *cfg = af_config_new();
    af_config_set_num(cfg, "buckets", 10);
    expect_create_error("feature_basic.so", cfg, &cat.view, 0, AF_EINVAL,
                        "takes no parameters, got \"buckets\"");
    af_config_free(cfg);
}

/* --- ## lr --- */

struct tmpdir {
    char path[256];
};

static void
tmpdir_make(struct tmpdir *d)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(d->path, sizeof d->path, "%s/af_lr_XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(d->path));
}

static void
tmpdir_remove(struct tmpdir *d)
{
    DIR *dir = opendir(d->path);
    struct dirent *de;
    while (dir && (de = readdir(dir)) != NULL) {
        char p[600];
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", d->path, de->d_name);
        unlink(p);
    }
    if (dir)
        closedir(dir);
    rmdir(d->path);
}

#define LR_BUCKETS 16
#define LR_FP 0xfeedull

/* w[i] = i / 16 - 0.5, w_dense = {0.5, -0.25}, bias 0.25. */
static void
write_lr(const char *path, uint64_t fingerprint, size_t chop)
{
    struct {
        struct af_lr_payload_header h;
        float w[LR_BUCKETS + 2];
    } m = {{.n_buckets = LR_BUCKETS, .n_dense = 2, .bias = 0.25f}, {0}};
    for (int i = 0; i < LR_BUCKETS; i++)
        m.w[i] = (float)i / 16.0f - 0.5f;
    m.w[LR_BUCKETS] = 0.5f;
    m.w[LR_BUCKETS + 1] = -0.25f;
    struct af_modelfile_meta meta = {.kind = "lr", .version = "lr-unit-1",
                                     .fingerprint = fingerprint};
    char err[512];
    if (af_modelfile_write(path, &meta, &m, sizeof m - chop, err,
                           sizeof err) != AF_OK)
        fail_msg("%s", err);
}

/* Score a two-row batch with the lr model at `path`. */
static void
lr_score(const char *path, const char *downsample, float *pctr)
{
    struct test_catalog cat;
    tc_init(&cat, 2);
    struct test_request tr;
    treq_init(&tr, &cat.view);
    af_config *cfg = af_config_new();
    af_config_set_str(cfg, "model", path);
    if (downsample)
        af_config_set_str(cfg, "downsample_rate", downsample);
    af_loaded *p = load_shipped("model_lr.so");
    struct af_instance in;
    char err[1024] = "";
    if (make_instance(p, cfg, &cat.view, LR_FP, &in, err, sizeof err))
        fail_msg("%s", err);
    af_config_free(cfg);
    const struct af_model_ops *ops = in.ops;
    assert_string_equal(ops->model_version(in.inst), "lr-unit-1");

    struct af_batch b;
    batch_new(&tr, &b, 4);
    batch_add(&b, &cat.view, 0);
    batch_add(&b, &cat.view, 1);
    b.n_req_fields = 2;
    b.req_fid[0] = 17; /* bucket 1: -0.4375 */
    b.req_fid[1] = 35; /* bucket 3: -0.3125 */
    b.n_fields = 2;
    af_batch_field(&b, 0)[0] = 4;  /* -0.25   */
    af_batch_field(&b, 1)[0] = 21; /* bucket 5: -0.1875 */
    af_batch_field(&b, 0)[1] = 0;  /* -0.5    */
    af_batch_field(&b, 1)[1] = 16; /* bucket 0: -0.5 */
    b.n_dense = 3; /* the model knows 2; the third is ignored */
    float dense0[3] = {1.0f, 2.0f, 9.0f}, dense1[3] = {0, 0, 0};
    memcpy(b.dense, dense0, sizeof dense0);
    memcpy(b.dense + AF_MAX_DENSE, dense1, sizeof dense1);

    struct af_score_out out = {.pctr = pctr};
    assert_int_equal(ops->score(in.inst, &tr.req, &b, &out), AF_OK);
    struct af_score_out none = {0};
    assert_int_equal(ops->score(in.inst, &tr.req, &b, &none), AF_OK);
    af_instance_destroy(&in);
    af_loader_close(p);
    treq_free(&tr);
}

static void
test_lr_hand_computed(void **state)
{
    struct tmpdir d;
    tmpdir_make(&d);
    char path[400];
    snprintf(path, sizeof path, "%s/lr.afm", d.path);
    write_lr(path, LR_FP, 0);

    float p[2];
    lr_score(path, NULL, p);
    /* user part: 0.25 - 0.4375 - 0.3125 = -0.5
     * row 0: -0.5 - 0.25 - 0.1875 + 0.5 * 1 - 0.25 * 2 = -0.9375
     *        p = 1 / (1 + e^0.9375) = 0.281405607429...
     * row 1: -0.5 - 0.5 - 0.5 = -1.5, p = 1 / (1 + e^1.5) = 0.182425523806 */
    assert_float_equal(p[0], 0.28140560742914383, 1e-6);
    assert_float_equal(p[1], 0.18242552380635635, 1e-6);

    /* downsample_rate 0.5: p / (p + (1 - p) / 0.5) = 0.163741723262... */
    lr_score(path, "0.5", p);
    assert_float_equal(p[0], 0.1637417232626876, 1e-6);
    tmpdir_remove(&d);
}

static void
test_lr_refusals(void **state)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct test_catalog cat;
    tc_init(&cat, 1);
    char path[400], want[600];
    snprintf(path, sizeof path, "%s/lr.afm", d.path);
    af_config *cfg = af_config_new();
    af_config_set_str(cfg, "model", path);

    /* Trained for features 0xfeed, served with 0xbeef. */
    write_lr(path, LR_FP, 0);
    snprintf(want, sizeof want, "%s: feature fingerprint mismatch: expected "
             "000000000000beef, found 000000000000feed", path);
    expect_create_error("model_lr.so", cfg, &cat.view, 0xbeef, AF_EMISMATCH,
                        want);

    /* A payload one float short. */
    write_lr(path, LR_FP, 4);
    expect_create_error("model_lr.so", cfg, &cat.view, LR_FP, AF_ECORRUPT,
                        "lr payload is 84 bytes, expected 88");

    af_config_set_str(cfg, "downsample_rate", "0");
    write_lr(path, LR_FP, 0);
    expect_create_error("model_lr.so", cfg, &cat.view, LR_FP, AF_EINVAL,
                        "downsample_rate must be in (0, 1], got 0");
    af_config_free(cfg);

    cfg = af_config_new();
    expect_create_error("model_lr.so", cfg, &cat.view, 0, AF_EINVAL,
                        "model is required");
    af_config_set_str(cfg, "model", "/nonexistent/lr.afm");
    expect_create_error("model_lr.so", cfg, &cat.view, 0, AF_ENOENT,
                        "/nonexistent/lr.afm: cannot open model file");
    af_config_free(cfg);
    tmpdir_remove(&d);
}

/* --- ## calibrators and exploration --- */

static void
calibrate(const char *file, af_config *cfg, float *p, uint32_t n)
{
    struct plugin_under_test t;
    struct test_catalog cat;
    tc_init(&cat, 1);
    struct test_request tr;
    treq_init(&tr, &cat.view);
    put_up(&t, file, cfg, &cat.view);
    const struct af_calibrator_ops *ops = t.in.ops;
    assert_int_equal(ops->calibrate(t.in.inst, &tr.req, p, n), AF_OK);
    take_down(&t);
    treq_free(&tr);
}

static void
test_platt_math(void **state)
{
    af_config *cfg = af_config_new();
    af_config_set_num(cfg, "a", 2.0);
    af_config_set_num(cfg, "b", -1.0);
    float p[4] = {0.2f, 0.0f, 1.0f, NAN};
    calibrate("calibrator_platt.so", cfg, p, 4);
    /* 0.2: logit = ln(0.25); z = 2 ln(0.25) - 1 = -3.7726;
     *      1 / (1 + e^3.7726) = 0.0224756934... */
    assert_float_equal(p[0], 0.022475693475972558, 1e-6);
    /* 0 and NaN clamp to 1e-7: z = 2 ln(1e-7 / (1 - 1e-7)) - 1 = -33.2;
     * 1 clamps to 1 - 1e-7: z = 31.2 */
    assert_true(p[1] > 0 && p[1] < 1e-13);
    assert_true(p[2] > 0.999999f && p[2] <= 1.0f);
    assert_float_equal(p[3], p[1], 0);
    af_config_free(cfg);

    /* Defaults a = 1, b = 0: the identity (up to float rounding). */
    float q[3] = {0.3f, 0.01f, 0.9f};
    calibrate("calibrator_platt.so", NULL, q, 3);
    assert_float_equal(q[0], 0.3, 1e-6);
    assert_float_equal(q[1], 0.01, 1e-6);
    assert_float_equal(q[2], 0.9, 1e-6);

    cfg = af_config_new();
    af_config_set_str(cfg, "a", "steep");
    struct test_catalog cat;
    tc_init(&cat, 1);
    expect_create_error("calibrator_platt.so", cfg, &cat.view, 0, AF_EINVAL,
                        "a must be a number in [-1e+06, 1e+06], got steep");
    af_config_free(cfg);
}

static void
test_identity_and_greedy(void **state)
{
    float p[2] = {0.25f, 0.5f};
    calibrate("calibrator_identity.so", NULL, p, 2);
    assert_float_equal(p[0], 0.25, 0);
    assert_float_equal(p[1], 0.5, 0);

    struct test_catalog cat;
    tc_init(&cat, 2);
    struct test_request tr;
    treq_init(&tr, &cat.view);
    struct plugin_under_test t;
    put_up(&t, "exploration_greedy.so", NULL, &cat.view);
    struct af_slot slot[2] = {{.row = 1, .price = 0.5f, .propensity = 0.2f,
                               .explored = 1},
                              {.row = 0, .price = 0.1f}};
    struct af_slots slots = {.max = 2, .n = 2, .slot = slot};
    struct af_batch b;
    batch_new(&tr, &b, 2);
    const struct af_exploration_ops *ops = t.in.ops;
    assert_int_equal(ops->explore(t.in.inst, &tr.req, &b, &slots), AF_OK);
    assert_int_equal(slots.n, 2);
    assert_int_equal(slot[0].row, 1);
    assert_float_equal(slot[0].price, 0.5, 0);
    for (int j = 0; j < 2; j++) {
        assert_float_equal(slot[j].propensity, 1.0, 0);
        assert_int_equal(slot[j].explored, 0);
    }
    take_down(&t);
    treq_free(&tr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_popular_order_targeting_k),
        cmocka_unit_test(test_popular_full_order_and_scan_bound),
        cmocka_unit_test(test_popular_bid_types),
        cmocka_unit_test(test_popular_bad_parameters),
        cmocka_unit_test(test_targeting_drops_exactly),
        cmocka_unit_test(test_targeting_unknown_user),
        cmocka_unit_test(test_targeting_checks_can_be_disabled),
        cmocka_unit_test(test_hash_known_values),
        cmocka_unit_test(test_basic_fields),
        cmocka_unit_test(test_basic_full_batch_and_params),
        cmocka_unit_test(test_lr_hand_computed),
        cmocka_unit_test(test_lr_refusals),
        cmocka_unit_test(test_platt_math),
        cmocka_unit_test(test_identity_and_greedy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
