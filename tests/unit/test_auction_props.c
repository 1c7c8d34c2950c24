/*
 * test_auction_props.c -- properties of gsp, vcg and first_price over many
 * random seeded auctions.
 *
 * Each trial draws a scenario -- up to 24 bidders of mixed bid types (CPC,
 * CPA, CPM), pCTR, pCVR, pNeg, quality, ties on purpose, 1..8 slots, a
 * surface reserve, per-advertiser reserves, a negative-feedback penalty, a
 * squashing exponent and a non-increasing position curve -- and runs four
 * instances on the same batch:
 *
 *   G  gsp          squash 1 (the score vcg uses)
 *   S  gsp          the drawn squash
 *   V  vcg          position_ctr = the drawn curve, one entry per slot
 *   F  first_price  squash 1
 *
 * all with the same reserve, per-advertiser reserves, quality and penalty.
 * Checked on every trial:
 *
 *   1. Scores: b->score equals the formula recomputed here (G and S).
 *   2. gsp (G and S): slots in descending score; no left-out eligible row
 *      outscores a winner; price_j <= bid_j and price_j >= reserve_j, exactly
 *      (as floats); and price_j = min(bid_j, max(reserve_j, (next_j + pen_j)
 *      / e_j)) with next_j the best score among eligible rows below j (0 if
 *      none), found by brute force.
 *   3. vcg: price within [reserve_j, bid_j], exactly; price_j equals the
 *      Myerson (truthful) payment integrated over the winner's own bid by
 *      brute-force re-ranking (myerson_price); and with no reserve at all,
 *      price_j = (E_j + alpha_j pen_j) / (alpha_j e_j) where E_j is the
 *      externality computed by brute force (the others' welfare without j
 *      minus with j).
 *   4. VCG revenue <= GSP revenue.  The condition tested is the one under
 *      which theory gives it at equal bids (Edelman, Ostrovsky & Schwarz
 *      2007, section on VCG vs GSP payments; Aggarwal, Goel & Motwani 2006):
 *      the same bids, the same score (gsp without squashing, same quality,
 *      reserves and penalty), hence the same allocation -- checked -- and the
 *      same slot set (vcg's position_ctr has exactly as many entries as the
 *      surface has slots), with non-increasing position factors.  Then every
 *      slot's VCG price is <= its GSP price, and so is the expected revenue
 *      sum_j alpha_j * events_j * price_j (events_j = pctr, pctr * pcvr or
 *      1/1000 per impression by bid type).  Both are checked.
 *   5. First-price revenue >= GSP revenue at equal bids: the same
 *      allocation, price_j = bid_j >= the gsp price, slot by slot and in
 *      expected revenue.
 *
 * Counters at the end make sure the interesting cases (binding reserves,
 * ties, left-out negative scores, VCG strictly below GSP) actually occurred.
 */
#include <inttypes.h>

#include "test_plugins_harness.h"

#define TRIALS 5000
#define MAX_BIDDERS 24
#define N_ADVERTISERS 6
#define REL 1e-6 /* float prices against double references */

static const af_loaded *gsp_plugin, *vcg_plugin, *fp_plugin;

static int
group_setup(void **state)
{
    gsp_plugin = load_shipped("auction_gsp.so");
    vcg_plugin = load_shipped("auction_vcg.so");
    fp_plugin = load_shipped("auction_first_price.so");
    return 0;
}

static int
group_teardown(void **state)
{
    af_loader_close((af_loaded *)gsp_plugin);
    af_loader_close((af_loaded *)vcg_plugin);
    af_loader_close((af_loaded *)fp_plugin);
    return 0;
}

/* --- ## Random scenarios --- */

/* splitmix64: a tiny seeded generator, independent of the host's. */
static uint64_t
next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
unif(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

static int
chance(uint64_t *s, double p)
{
    return unif(s) < p;
}

struct scenario {
    uint32_t n, slots;
    double reserve, neg_penalty, squash;
    int quality;
    uint32_t n_adv;
    uint32_t adv_id[N_ADVERTISERS];
    double adv_reserve[N_ADVERTISERS];
    double alpha[AF_MAX_SLOTS];
    /* Model outputs by catalog row (the batch order is shuffled). */
    float pctr[MAX_BIDDERS], pcvr[MAX_BIDDERS], pneg[MAX_BIDDERS];
};

/* Draw the parameters, the catalog rows 0..n-1 and their model outputs.
 * About one row in seven copies the previous row entirely: a tie. */
static void
draw(uint64_t *r, struct scenario *sc, struct test_catalog *cat)
{
    memset(sc, 0, sizeof *sc);
    sc->n = (uint32_t)(unif(r) * (MAX_BIDDERS + 1));
    sc->slots = 1 + (uint32_t)(unif(r) * 8);
    sc->reserve = chance(r, 0.4) ? 0 : unif(r) * 0.3;
    sc->neg_penalty = chance(r, 0.5) ? 0 : unif(r) * 2;
    sc->squash = chance(r, 0.2) ? 1 : unif(r) * 2;
    sc->quality = chance(r, 0.8);
    if (chance(r, 0.5)) {
        /* 1..3 distinct advertisers among 100..105 (ids 100 + 2k + 0|1). */
        sc->n_adv = 1 + (uint32_t)(unif(r) * 3);
        for (uint32_t k = 0; k < sc->n_adv; k++) {
            sc->adv_id[k] = 100 + 2 * k + (uint32_t)(unif(r) * 2);
            sc->adv_reserve[k] = unif(r) * 0.5;
        }
    }
    sc->alpha[0] = chance(r, 0.5) ? 1.0 : 0.5 + 0.5 * unif(r);
    for (uint32_t k = 1; k < sc->slots; k++)
        sc->alpha[k] = chance(r, 0.2) ? sc->alpha[k - 1]
                                      : sc->alpha[k - 1] * (0.3 + 0.7 * unif(r));

    for (uint32_t i = 0; i < sc->n; i++) {
        cat->advertiser_id[i] = 100 + (uint32_t)(unif(r) * N_ADVERTISERS);
        if (i > 0 && chance(r, 0.15)) {
            cat->bid_type[i] = cat->bid_type[i - 1];
            cat->bid[i] = cat->bid[i - 1];
            cat->quality[i] = cat->quality[i - 1];
            sc->pctr[i] = sc->pctr[i - 1];
            sc->pcvr[i] = sc->pcvr[i - 1];
            sc->pneg[i] = sc->pneg[i - 1];
            continue;
        }
        double t = unif(r);
        cat->bid_type[i] = t < 0.6 ? AF_BID_CPC : t < 0.8 ? AF_BID_CPA
                                                         : AF_BID_CPM;
        cat->bid[i] = (float)(cat->bid_type[i] == AF_BID_CPC ? 0.02 + 3 * unif(r) * unif(r)
                              : cat->bid_type[i] == AF_BID_CPA ? 1 + 30 * unif(r)
                                                               : 0.5 + 10 * unif(r));
        cat->quality[i] = (float)(0.1 + 0.9 * unif(r));
        sc->pctr[i] = chance(r, 0.05) ? 0.0f : (float)(0.001 + 0.2 * unif(r));
        sc->pcvr[i] = chance(r, 0.05) ? 0.0f : (float)(0.01 + 0.2 * unif(r));
        sc->pneg[i] = (float)(0.3 * unif(r) * unif(r));
    }
}

/* --- ## Instances --- */

enum { G, S, V, F, N_RUNS };

static af_config *
scenario_config(const struct scenario *sc, int which)
{
    af_config *c = af_config_new();
    assert_non_null(c);
    af_config_set_num(c, "reserve", sc->reserve);
    af_config_set_num(c, "neg_penalty", sc->neg_penalty);
    af_config_set_bool(c, "quality", sc->quality);
    for (uint32_t k = 0; k < sc->n_adv; k++) {
        char key[64];
        snprintf(key, sizeof key, "reserve_by_advertiser.%u", sc->adv_id[k]);
        af_config_set_num(c, key, sc->adv_reserve[k]);
    }
    if (which == S)
        af_config_set_num(c, "squash", sc->squash);
    if (which == V)
        for (uint32_t k = 0; k < sc->slots; k++) {
            char key[32];
            snprintf(key, sizeof key, "position_ctr.%u", k + 1);
            af_config_set_num(c, key, sc->alpha[k]);
        }
    return c;
}

/* --- ## Reference formulas --- */

static double
reserve_of(const struct scenario *sc, uint32_t advertiser)
{
    for (uint32_t k = 0; k < sc->n_adv; k++)
        if (sc->adv_id[k] == advertiser)
            return sc->adv_reserve[k];
    return sc->reserve;
}

/* Efficiency e (score per unit of bid) with squash s. */
static double
ref_eff(const struct scenario *sc, const struct test_catalog *cat,
        const struct af_batch *b, uint32_t i, double s)
{
    uint32_t row = b->ad[i];
    double q = sc->quality ? cat->quality[row] : 1.0;
    double pc = s == 1.0 ? b->pctr[i] : pow(b->pctr[i], s);
    switch (cat->bid_type[row]) {
    case AF_BID_CPM: return q / 1000.0;
    case AF_BID_CPA: return pc * b->pcvr[i] * q;
    default: return pc * q;
    }
}

static double
ref_pen(const struct scenario *sc, const struct af_batch *b, uint32_t i)
{
    return sc->neg_penalty * b->pneg[i];
}

static double
ref_score(const struct scenario *sc, const struct test_catalog *cat,
          const struct af_batch *b, uint32_t i, double s)
{
    return (double)b->bid[i] * ref_eff(sc, cat, b, i, s) - ref_pen(sc, b, i);
}

static int
eligible(const struct scenario *sc, const struct test_catalog *cat,
         const struct af_batch *b, uint32_t i, double s)
{
    return b->bid[i] >= reserve_of(sc, cat->advertiser_id[b->ad[i]]) &&
           ref_score(sc, cat, b, i, s) >= 0;
}

/* Billable events per impression at the top position (no quality). */
static double
events(const struct test_catalog *cat, const struct af_batch *b, uint32_t i)
{
    switch (cat->bid_type[b->ad[i]]) {
    case AF_BID_CPM: return 1.0 / 1000.0;
    case AF_BID_CPA: return (double)b->pctr[i] * b->pcvr[i];
    default: return b->pctr[i];
    }
}

static int
near(double got, double want)
{
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    return fabs(got - want) <= REL * scale;
}

/* --- ## Counters of interesting cases --- */

struct seen {
    uint64_t slots, reserve_binds, bid_binds, ties, negative_out,
        vcg_below_gsp, brute_force, myerson, squash_reorders;
};

/* --- ## Checks --- */

static int
in_slots(const struct af_slots *sl, uint32_t upto, uint32_t i)
{
    for (uint32_t j = 0; j < upto; j++)
        if (sl->slot[j].row == i)
            return 1;
    return 0;
}

/* Property 2 for one gsp run with squash s. */
static void
check_gsp(const struct scenario *sc, const struct test_catalog *cat,
          const struct af_batch *b, const struct af_slots *sl, double s,
          struct seen *seen, uint64_t trial)
{
    uint32_t n_eligible = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        n_eligible += eligible(sc, cat, b, i, s);
        if (ref_score(sc, cat, b, i, s) < 0 &&
            b->bid[i] >= reserve_of(sc, cat->advertiser_id[b->ad[i]]))
            seen->negative_out++;
    }
    uint32_t want_n = n_eligible < sc->slots ? n_eligible : sc->slots;
    if (sl->n != want_n)
        fail_msg("trial %" PRIu64 ": %u slots, want %u", trial, sl->n, want_n);
    for (uint32_t j = 0; j < sl->n; j++) {
        uint32_t i = sl->slot[j].row;
        double score = ref_score(sc, cat, b, i, s);
        if (!eligible(sc, cat, b, i, s))
            fail_msg("trial %" PRIu64 ": slot %u row %u not eligible", trial,
                     j, i);
        if (j > 0 && b->score[sl->slot[j - 1].row] < b->score[i])
            fail_msg("trial %" PRIu64 ": slot %u outscores slot %u", trial, j,
                     j - 1);
        /* The best eligible row below j, by brute force. */
        double next = 0;
        for (uint32_t k = 0; k < b->n; k++)
            if (!in_slots(sl, j + 1, k) && eligible(sc, cat, b, k, s)) {
                double sk = ref_score(sc, cat, b, k, s);
                if (sk > score * (1 + 1e-12) + 1e-15)
                    fail_msg("trial %" PRIu64 ": left-out row %u outscores "
                             "slot %u", trial, k, j);
                if (sk > next)
                    next = sk;
                if (sk == score)
                    seen->ties++;
            }
        double bid = b->bid[i];
        double r = reserve_of(sc, cat->advertiser_id[b->ad[i]]);
        double e = ref_eff(sc, cat, b, i, s);
        double want = r;
        if (e > 0 && (next + ref_pen(sc, b, i)) / e > want)
            want = (next + ref_pen(sc, b, i)) / e;
        if (want > bid)
            want = bid;
        float price = sl->slot[j].price;
        if (!(price <= b->bid[i]) || !(price >= (float)r))
            fail_msg("trial %" PRIu64 ": slot %u price %.9g outside [reserve "
                     "%.9g, bid %.9g]", trial, j, price, r, bid);
        if (!near(price, want))
            fail_msg("trial %" PRIu64 ": slot %u price %.9g, want %.9g", trial,
                     j, price, want);
        if (!near(sl->slot[j].score, score))
            fail_msg("trial %" PRIu64 ": slot %u score %.9g, want %.9g", trial,
                     j, sl->slot[j].score, score);
        seen->slots++;
        seen->reserve_binds += want == r && r > 0;
        seen->bid_binds += want == bid;
    }
}

/* Others' welfare sum_k alpha_k * score of the k-th best among `sc_sorted`
 * (descending, n of them) with index `skip` removed (or none: skip = n). */
static double
welfare(const double *sorted, uint32_t n, uint32_t skip, const double *alpha,
        uint32_t m)
{
    double w = 0;
    uint32_t pos = 0;
    for (uint32_t k = 0; k < n && pos < m; k++) {
        if (k == skip)
            continue;
        w += alpha[pos++] * sorted[k];
    }
    return w;
}

/*
 * The truthful price of the vcg winner in slot j computed from Myerson's
 * payment rule, independently of the plugin's closed form: as bidder i's
 * bid x rises from 0 to its bid B it holds slot pos(x) (or none), found here
 * by counting the eligible others that outscore it; it pays, per impression,
 *
 *     alpha_j e B - integral_0^B alpha_pos(x) e dx,
 *
 * and per billable event that over alpha_j e.  pos(x) only changes where
 * x = reserve, x e - pen = 0, or x e - pen = another's score, so the
 * integral is exact over those breakpoints.
 */
static double
myerson_price(const struct scenario *sc, const struct test_catalog *cat,
              const struct af_batch *b, uint32_t i, uint32_t j)
{
    double e = ref_eff(sc, cat, b, i, 1.0), pen = ref_pen(sc, b, i);
    double big = b->bid[i], r = reserve_of(sc, cat->advertiser_id[b->ad[i]]);
    double others[MAX_BIDDERS], cut[MAX_BIDDERS + 4];
    uint32_t n_others = 0, n_cut = 0;
    for (uint32_t k = 0; k < b->n; k++)
        if (k != i && eligible(sc, cat, b, k, 1.0))
            others[n_others++] = ref_score(sc, cat, b, k, 1.0);
    cut[n_cut++] = 0;
    cut[n_cut++] = big;
    cut[n_cut++] = r;
    cut[n_cut++] = pen / e;
    for (uint32_t k = 0; k < n_others; k++)
        cut[n_cut++] = (others[k] + pen) / e;
    /* Sort the breakpoints (insertion sort, n <= 28). */
    for (uint32_t a = 1; a < n_cut; a++)
        for (uint32_t c = a; c > 0 && cut[c - 1] > cut[c]; c--) {
            double t = cut[c];
            cut[c] = cut[c - 1];
            cut[c - 1] = t;
        }
    double integral = 0;
    for (uint32_t a = 0; a + 1 < n_cut; a++) {
        double lo = cut[a], hi = cut[a + 1] < big ? cut[a + 1] : big;
        if (!(hi > lo) || lo >= big)
            continue;
        double x = (lo + hi) / 2, score = x * e - pen;
        if (x < r || score < 0)
            continue;
        uint32_t pos = 0;
        for (uint32_t k = 0; k < n_others; k++)
            pos += others[k] > score;
        if (pos < sc->slots)
            integral += sc->alpha[pos] * e * (hi - lo);
    }
    return (sc->alpha[j] * e * big - integral) / (sc->alpha[j] * e);
}

/* Property 3: vcg prices within bounds and equal to Myerson's payment; the
 * brute-force externality when there is no reserve. */
static void
check_vcg(const struct scenario *sc, const struct test_catalog *cat,
          const struct af_batch *b, const struct af_slots *v,
          struct seen *seen, uint64_t trial)
{
    for (uint32_t j = 0; j < v->n; j++) {
        uint32_t i = v->slot[j].row;
        double r = reserve_of(sc, cat->advertiser_id[b->ad[i]]);
        if (!(v->slot[j].price <= b->bid[i]) ||
            !(v->slot[j].price >= (float)r))
            fail_msg("trial %" PRIu64 ": vcg slot %u price %.9g outside "
                     "[%.9g, %.9g]", trial, j, v->slot[j].price, r,
                     (double)b->bid[i]);
        if (ref_eff(sc, cat, b, i, 1.0) > 0) {
            double want = myerson_price(sc, cat, b, i, j);
            if (!near(v->slot[j].price, want))
                fail_msg("trial %" PRIu64 ": vcg slot %u price %.9g, Myerson "
                         "price %.9g", trial, j, v->slot[j].price, want);
            seen->myerson++;
        }
    }
    if (sc->reserve != 0 || sc->n_adv != 0)
        return;
    /* Eligible scores, descending (insertion sort: n <= 24). */
    double sorted[MAX_BIDDERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        if (!eligible(sc, cat, b, i, 1.0))
            continue;
        double x = ref_score(sc, cat, b, i, 1.0);
        uint32_t k = n++;
        while (k > 0 && sorted[k - 1] < x) {
            sorted[k] = sorted[k - 1];
            k--;
        }
        sorted[k] = x;
    }
    for (uint32_t j = 0; j < v->n; j++) {
        uint32_t i = v->slot[j].row;
        double e = ref_eff(sc, cat, b, i, 1.0);
        if (!(e > 0))
            continue;
        /* With j: the others hold every slot but j. */
        double with_j = welfare(sorted, n, n, sc->alpha, sc->slots) -
                        sc->alpha[j] * sorted[j];
        double without_j = welfare(sorted, n, j, sc->alpha, sc->slots);
        double ext = without_j - with_j;
        double want = (ext + sc->alpha[j] * ref_pen(sc, b, i)) /
                      (sc->alpha[j] * e);
        if (want > b->bid[i])
            want = b->bid[i];
        if (!near(v->slot[j].price, want))
            fail_msg("trial %" PRIu64 ": vcg slot %u price %.9g, externality "
                     "price %.9g", trial, j, v->slot[j].price, want);
        seen->brute_force++;
    }
}

/* Properties 4 and 5: same allocation; VCG <= GSP <= first price. */
static void
check_revenue(const struct scenario *sc, const struct test_catalog *cat,
              const struct af_batch *b, const struct af_slots *g,
              const struct af_slots *v, const struct af_slots *f,
              struct seen *seen, uint64_t trial)
{
    if (v->n != g->n || f->n != g->n)
        fail_msg("trial %" PRIu64 ": slots gsp %u vcg %u first_price %u",
                 trial, g->n, v->n, f->n);
    double rev_g = 0, rev_v = 0, rev_f = 0;
    for (uint32_t j = 0; j < g->n; j++) {
        uint32_t i = g->slot[j].row;
        if (v->slot[j].row != i || f->slot[j].row != i)
            fail_msg("trial %" PRIu64 ": slot %u rows gsp %u vcg %u fp %u",
                     trial, j, i, v->slot[j].row, f->slot[j].row);
        double pg = g->slot[j].price, pv = v->slot[j].price,
               pf = f->slot[j].price;
        if (pv > pg * (1 + REL) + 1e-12)
            fail_msg("trial %" PRIu64 ": slot %u vcg price %.9g > gsp %.9g",
                     trial, j, pv, pg);
        if (pf != b->bid[i] || pf < pg)
            fail_msg("trial %" PRIu64 ": slot %u first price %.9g, bid %.9g, "
                     "gsp %.9g", trial, j, pf, (double)b->bid[i], pg);
        double w = sc->alpha[j] * events(cat, b, i);
        rev_g += w * pg;
        rev_v += w * pv;
        rev_f += w * pf;
        seen->vcg_below_gsp += pv < pg * (1 - 1e-4);
    }
    if (rev_v > rev_g * (1 + REL) + 1e-15 || rev_f < rev_g)
        fail_msg("trial %" PRIu64 ": revenue vcg %.9g gsp %.9g first %.9g",
                 trial, rev_v, rev_g, rev_f);
}

/* --- ## The trials --- */

static void
run_auction(struct af_instance *in, struct test_request *tr,
            struct af_batch *b, struct af_slots *sl)
{
    const struct af_auction_ops *ops = in->ops;
    sl->n = 99;
    assert_int_equal(ops->auction(in->inst, &tr->req, b, sl), AF_OK);
}

static void
test_random_auctions(void **state)
{
    struct seen seen = {0};
    const af_loaded *plugin[N_RUNS] = {gsp_plugin, gsp_plugin, vcg_plugin,
                                        fp_plugin};
    static struct af_slot slot[N_RUNS][AF_MAX_SLOTS];
    for (uint64_t t = 0; t < TRIALS; t++) {
        uint64_t r = 0x5eed0000 + t;
        struct scenario sc;
        struct test_catalog cat;
        struct test_request tr;
        struct af_batch b;
        tc_init(&cat, TC_MAX);
        draw(&r, &sc, &cat);
        treq_init(&tr, &cat.view);
        batch_new(&tr, &b, TC_MAX);
        /* Rows in a shuffled order so batch order differs from catalog
         * order (ties are broken by catalog row). */
        for (uint32_t i = 0; i < sc.n; i++)
            batch_add(&b, &cat.view, i);
        for (uint32_t i = sc.n; i > 1; i--) {
            uint32_t k = (uint32_t)(unif(&r) * i);
            uint32_t tmp = b.ad[i - 1];
            b.ad[i - 1] = b.ad[k];
            b.ad[k] = tmp;
            b.bid[i - 1] = cat.bid[b.ad[i - 1]];
            b.bid[k] = cat.bid[b.ad[k]];
        }
        for (uint32_t i = 0; i < b.n; i++) {
            b.pctr[i] = sc.pctr[b.ad[i]];
            b.pcvr[i] = sc.pcvr[b.ad[i]];
            b.pneg[i] = sc.pneg[b.ad[i]];
        }

        struct af_slots sl[N_RUNS];
        for (int w = 0; w < N_RUNS; w++) {
            struct af_instance in;
            af_config *cfg = scenario_config(&sc, w);
            must_instance(plugin[w], cfg, &cat.view, &in);
            af_config_free(cfg);
            sl[w].max = sc.slots;
            sl[w].slot = slot[w];
            run_auction(&in, &tr, &b, &sl[w]);
            af_instance_destroy(&in);
            if (w == G || w == S) /* b->score is this run's */
                for (uint32_t i = 0; i < b.n; i++)
                    if (!near(b.score[i],
                              ref_score(&sc, &cat, &b, i, w == S ? sc.squash : 1)))
                        fail_msg("trial %" PRIu64 ": row %u score %.9g", t, i,
                                 b.score[i]);
            if (w == G)
                check_gsp(&sc, &cat, &b, &sl[w], 1.0, &seen, t);
            if (w == S)
                check_gsp(&sc, &cat, &b, &sl[w], sc.squash, &seen, t);
        }
        check_vcg(&sc, &cat, &b, &sl[V], &seen, t);
        check_revenue(&sc, &cat, &b, &sl[G], &sl[V], &sl[F], &seen, t);
        for (uint32_t j = 0; j < sl[G].n && j < sl[S].n; j++)
            if (sl[G].slot[j].row != sl[S].slot[j].row) {
                seen.squash_reorders++;
                break;
            }
        treq_free(&tr);
    }
    print_message("%d trials: %" PRIu64 " gsp slots, reserve binds %" PRIu64
                  ", bid binds %" PRIu64 ", ties %" PRIu64
                  ", negative scores left out %" PRIu64
                  ", vcg < gsp %" PRIu64 ", vcg brute-force %" PRIu64
                  ", vcg Myerson %" PRIu64
                  ", squash reorders %" PRIu64 "\n",
                  TRIALS, seen.slots, seen.reserve_binds, seen.bid_binds,
                  seen.ties, seen.negative_out, seen.vcg_below_gsp,
                  seen.brute_force, seen.myerson, seen.squash_reorders);
    assert_true(seen.slots > 10000);
    assert_true(seen.reserve_binds > 100);
    assert_true(seen.bid_binds > 100);
    assert_true(seen.ties > 50);
    assert_true(seen.negative_out > 100);
    assert_true(seen.vcg_below_gsp > 1000);
    assert_true(seen.brute_force > 1000);
    assert_true(seen.myerson > 10000);
    assert_true(seen.squash_reorders > 100);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_auctions),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
