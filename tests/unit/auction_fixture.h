/*
 * auction_fixture.h -- one auction run through a shipped auction plugin, for
 * test_gsp.c, test_vcg.c, test_first_price.c and test_auction_props.c.
 *
 * An auction owns a small catalog (tc_init: advertiser 100 + row, CPC bid 1,
 * quality 1), a request with an arena, a batch and the slot array, and one
 * plugin instance created from a config with af_instance_create, as the
 * server does.  Header-only: each test binary includes it once.
 */
#ifndef AF_TEST_AUCTION_FIXTURE_H
#define AF_TEST_AUCTION_FIXTURE_H

#include "test_plugins_harness.h"

#define AUC_EPS 1e-6 /* relative: prices are floats */

struct auction {
    struct test_catalog cat;
    struct test_request tr;
    struct af_batch b;
    struct af_slot slot[AF_MAX_SLOTS];
    struct af_slots slots;
    struct af_instance in;
};

/* A new auction of plugin p with parameters cfg (freed here: parameters are
 * read in create) and max_slots slots.  Free with auction_free. */
static inline struct auction *
auction_open(const af_loaded *p, af_config *cfg, uint32_t max_slots)
{
    struct auction *a = calloc(1, sizeof *a);
    assert_non_null(a);
    tc_init(&a->cat, TC_MAX);
    treq_init(&a->tr, &a->cat.view);
    batch_new(&a->tr, &a->b, TC_MAX);
    a->slots.max = max_slots;
    a->slots.slot = a->slot;
    must_instance(p, cfg, &a->cat.view, &a->in);
    af_config_free(cfg);
    return a;
}

static inline void
auction_free(struct auction *a)
{
    af_instance_destroy(&a->in);
    treq_free(&a->tr);
    free(a);
}

/* Put catalog row `row` in the batch: bid type, bid, quality in the catalog;
 * pctr, pcvr, pneg in the batch. */
static inline void
bidder_full(struct auction *a, uint32_t row, int type, float bid, float pctr,
            float pcvr, float pneg, float q)
{
    a->cat.bid_type[row] = (uint8_t)type;
    a->cat.bid[row] = bid;
    a->cat.quality[row] = q;
    batch_add(&a->b, &a->cat.view, row);
    uint32_t i = a->b.n - 1;
    a->b.pctr[i] = pctr;
    a->b.pcvr[i] = pcvr;
    a->b.pneg[i] = pneg;
}

/* A CPC bidder without pCVR or pNeg. */
static inline void
bidder(struct auction *a, uint32_t row, float bid, float pctr, float q)
{
    bidder_full(a, row, AF_BID_CPC, bid, pctr, 0.0f, 0.0f, q);
}

static inline void
run(struct auction *a)
{
    const struct af_auction_ops *ops = a->in.ops;
    a->slots.n = 99; /* must be overwritten */
    assert_int_equal(ops->auction(a->in.inst, &a->tr.req, &a->b, &a->slots),
                     AF_OK);
}

static inline int
close_to(double got, double want)
{
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    return fabs(got - want) <= AUC_EPS * scale;
}

/* Slot j shows batch row `row` at `price`, deterministically. */
static inline void
expect_slot(const struct auction *a, uint32_t j, uint32_t row, double price)
{
    if (j >= a->slots.n)
        fail_msg("slot %u: only %u slots filled", j, a->slots.n);
    const struct af_slot *s = &a->slots.slot[j];
    if (s->row != row || !close_to(s->price, price))
        fail_msg("slot %u: got row %u price %.9f, want row %u price %.9f", j,
                 s->row, s->price, row, price);
    assert_float_equal(s->score, a->b.score[row], 1e-9);
    assert_float_equal(s->propensity, 1.0, 0);
    assert_int_equal(s->explored, 0);
}

/* Creating plugin p with cfg (freed here) fails with AF_EINVAL and a
 * message containing `msg`. */
static inline void
expect_create_error(const af_loaded *p, af_config *cfg, const char *msg)
{
    struct test_catalog cat;
    tc_init(&cat, 1);
    struct af_instance in;
    char err[1024] = "";
    int rc = make_instance(p, cfg, &cat.view, 0, &in, err, sizeof err);
    af_config_free(cfg);
    if (rc != AF_EINVAL || !strstr(err, msg))
        fail_msg("got rc %d \"%s\", want AF_EINVAL \"%s\"", rc, err, msg);
}

/* A config from alternating keys and numeric values, NULL-terminated:
 * cfg_nums("reserve", 0.5, "squash", 2.0, NULL). */
static inline af_config *
cfg_nums(const char *key, ...)
{
    af_config *c = af_config_new();
    assert_non_null(c);
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k; k = va_arg(ap, const char *))
        assert_int_equal(af_config_set_num(c, k, va_arg(ap, double)), 0);
    va_end(ap);
    return c;
}

/* A config with one string-valued key. */
static inline af_config *
cfg_str(const char *key, const char *value)
{
    af_config *c = af_config_new();
    assert_non_null(c);
    assert_int_equal(af_config_set_str(c, key, value), 0);
    return c;
}

#endif
