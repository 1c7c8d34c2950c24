/*
 * sim_truth.c -- the ground-truth optimal allocation that regret is
 * measured against.
 *
 * Value.  An ad shown to user u at 0-based position j is worth, per
 * impression, what its advertiser bids for the events it gets there:
 *   CPC  p(u, ad, j) * bid = exam(j) * p0 * bid   (p0: the true CTR at j = 0)
 *   CPM  bid / 1000                                (any position)
 *   CPA  0: the world has no conversions
 * (quality enters only through the true click probability).
 *
 * The optimum of a request is the best assignment of distinct eligible ads
 * to the surface's slots.  With CPC values exam(j) * v and exam falling with
 * j, it puts CPC ads in the top positions in order of v and position-free
 * CPM ads below them, so it is the best over k of (the k best CPM values +
 * the S - k best CPC values at positions 0 .. S-k-1).
 *
 * Eligible (decided per pipeline run by a callback): the ad targets the
 * user, has arrived, its campaign's budget for the day is not spent, and
 * the pipeline's frequency caps allow it.  Pacing throttles, diversity rules
 * and reserves are not applied: the comparator is an upper bound on what
 * any policy with the same hard constraints could get.  The optimum is over
 * the whole catalog, not just what the pipeline retrieved.
 *
 * Cost.  Scoring the catalog for every request is too slow, so each user's
 * 128 best CPC and 16 best CPM ads by value at position 0 (among the ads
 * that target them, new ads included) are computed once, on the user's
 * first request, by whichever run gets there first (a per-user atomic state
 * makes the others wait), and each request walks them in order.  When a
 * list runs out of eligible ads before the slots are filled, every ad is
 * scored for that request (counted in the report).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "store/catalog.h"
#include "world/sim_int.h"

#define M_CPC 128
#define M_CPM 16
#define M_ALL (M_CPC + M_CPM)
#define MAX_SLOTS 64

enum { LIST_NONE, LIST_BUILDING, LIST_READY };

struct sim_truth {
    const struct sim_world *sw;
    _Atomic int *state; /* per user */
    uint32_t *rows;     /* per user: M_CPC CPC rows, then M_CPM CPM rows */
    float *val;         /* their values at position 0 */
    uint16_t *n_cpc, *n_cpm;
};

struct sim_truth *
sim_truth_new(const struct sim_world *sw)
{
    struct sim_truth *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    size_t n = sw->n_users;
    t->sw = sw;
    t->state = calloc(n, sizeof *t->state);
    t->rows = malloc(n * M_ALL * sizeof *t->rows);
    t->val = malloc(n * M_ALL * sizeof *t->val);
    t->n_cpc = calloc(n, sizeof *t->n_cpc);
    t->n_cpm = calloc(n, sizeof *t->n_cpm);
    if (!t->state || !t->rows || !t->val || !t->n_cpc || !t->n_cpm) {
        sim_truth_free(t);
        return NULL;
    }
    return t;
}

void
sim_truth_free(struct sim_truth *t)
{
    if (!t)
        return;
    free((void *)t->state);
    free(t->rows);
    free(t->val);
    free(t->n_cpc);
    free(t->n_cpm);
    free(t);
}

double
sim_value(const struct sim_world *sw, uint32_t u, uint32_t row, uint32_t pos)
{
    const struct af_catalog *c = sw->cat;
    switch (c->bid_type[row]) {
    case AF_BID_CPC:
        return af_world_p_click(sw->w, u, row, pos) * c->bid[row];
    case AF_BID_CPM: return c->bid[row] / 1000.0;
    default: return 0.0;
    }
}

/* --- ## Top lists --- */

/* Is (v, r) better than (w, s)?  Higher value, then lower row. */
static int
better(float v, uint32_t r, float w, uint32_t s)
{
    return v != w ? v > w : r < s;
}

/* A bounded min-heap of the best entries seen (the worst at the root). */
struct heap {
    uint32_t *row;
    float *val;
    uint32_t n, cap;
};

static void
heap_swap(struct heap *h, uint32_t a, uint32_t b)
{
    uint32_t r = h->row[a];
    float v = h->val[a];
    h->row[a] = h->row[b];
    h->val[a] = h->val[b];
    h->row[b] = r;
    h->val[b] = v;
}

static void
heap_push(struct heap *h, uint32_t row, float v)
{
    if (h->n == h->cap) {
        if (!better(v, row, h->val[0], h->row[0]))
            return;
        h->row[0] = row;
        h->val[0] = v;
        for (uint32_t i = 0;;) { /* sift down */
            uint32_t l = 2 * i + 1, r = l + 1, w = i;
            if (l < h->n && better(h->val[w], h->row[w], h->val[l], h->row[l]))
                w = l;
            if (r < h->n && better(h->val[w], h->row[w], h->val[r], h->row[r]))
                w = r;
            if (w == i)
                break;
            heap_swap(h, i, w);
            i = w;
        }
        return;
    }
    uint32_t i = h->n++;
    h->row[i] = row;
    h->val[i] = v;
    while (i > 0) { /* sift up */
        uint32_t p = (i - 1) / 2;
        if (!better(h->val[p], h->row[p], h->val[i], h->row[i]))
            break;
        heap_swap(h, i, p);
        i = p;
    }
}

/* Sort the heap's entries best first (insertion sort: at most 128). */
static void
heap_sort(struct heap *h)
{
    for (uint32_t i = 1; i < h->n; i++)
        for (uint32_t j = i; j > 0 && better(h->val[j], h->row[j],
                                             h->val[j - 1], h->row[j - 1]);
             j--)
            heap_swap(h, j, j - 1);
}

static void
build_lists(struct sim_truth *t, uint32_t u)
{
    const struct sim_world *sw = t->sw;
    const struct af_catalog *c = sw->cat;
    struct af_user user;
    af_users_at(af_world_users(sw->w), u, &user);
    struct heap cpc = {t->rows + (size_t)u * M_ALL, t->val + (size_t)u * M_ALL,
                       0, M_CPC};
    struct heap cpm = {cpc.row + M_CPC, cpc.val + M_CPC, 0, M_CPM};
    for (uint32_t r = 0; r < c->n_ads; r++) {
        if (c->bid_type[r] == AF_BID_CPA || !af_world_targets(c, r, &user))
            continue;
        if (c->bid_type[r] == AF_BID_CPM)
            heap_push(&cpm, r, c->bid[r] / 1000.0f);
        else
            heap_push(&cpc, r, (float)sim_value(sw, u, r, 0));
    }
    heap_sort(&cpc);
    heap_sort(&cpm);
    t->n_cpc[u] = (uint16_t)cpc.n;
    t->n_cpm[u] = (uint16_t)cpm.n;
}

/* The user's lists, built on first use. */
static void
ensure_lists(struct sim_truth *t, uint32_t u)
{
    int s = atomic_load_explicit(&t->state[u], memory_order_acquire);
    if (s == LIST_READY)
        return;
    int expect = LIST_NONE;
    if (atomic_compare_exchange_strong(&t->state[u], &expect, LIST_BUILDING)) {
        build_lists(t, u);
        atomic_store_explicit(&t->state[u], LIST_READY, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&t->state[u], memory_order_acquire) !=
           LIST_READY)
        ; /* another run builds it: a few milliseconds at most */
}

/* --- ## The optimum --- */

/* Best value over the number k of CPM ads: cpc[] and cpm[] best first. */
static double
best_assignment(const struct sim_world *sw, const double *cpc, uint32_t nc,
                const double *cpm, uint32_t nm, uint32_t slots)
{
    double best = 0, dsum = 0;
    for (uint32_t k = 0; k <= slots && k <= nm; k++) {
        if (k > 0)
            dsum += cpm[k - 1];
        double v = dsum;
        for (uint32_t j = 0; j + k < slots && j < nc; j++)
            v += af_world_exam(sw->w, j) * cpc[j];
        if (v > best)
            best = v;
    }
    return best;
}

/* Keep the `slots` best values in desc-sorted v[0..*n). */
static void
keep_top(double *v, uint32_t *n, uint32_t slots, double x)
{
    uint32_t i = *n < slots ? (*n)++ : slots;
    if (i == slots) {
        if (x <= v[slots - 1])
            return;
        i = slots - 1;
    }
    while (i > 0 && v[i - 1] < x) {
        v[i] = v[i - 1];
        i--;
    }
    v[i] = x;
}

static double
full_scan(const struct sim_truth *t, const struct sim_run *run, uint32_t u,
          int64_t time, uint32_t slots, sim_eligible_fn eligible)
{
    const struct sim_world *sw = t->sw;
    const struct af_catalog *c = sw->cat;
    struct af_user user;
    af_users_at(af_world_users(sw->w), u, &user);
    double cpc[MAX_SLOTS], cpm[MAX_SLOTS];
    uint32_t nc = 0, nm = 0;
    for (uint32_t r = 0; r < c->n_ads; r++) {
        if (c->bid_type[r] == AF_BID_CPA || !af_world_targets(c, r, &user) ||
            !eligible(run, u, r, time))
            continue;
        if (c->bid_type[r] == AF_BID_CPM)
            keep_top(cpm, &nm, slots, c->bid[r] / 1000.0);
        else
            keep_top(cpc, &nc, slots, sim_value(sw, u, r, 0));
    }
    return best_assignment(sw, cpc, nc, cpm, nm, slots);
}

double
sim_truth_best(struct sim_truth *t, const struct sim_run *run, uint32_t u,
               int64_t time, uint32_t slots, sim_eligible_fn eligible,
               int *scanned)
{
    if (slots > MAX_SLOTS)
        slots = MAX_SLOTS;
    ensure_lists(t, u);
    const uint32_t *rows = t->rows + (size_t)u * M_ALL;
    double cpc[MAX_SLOTS], cpm[MAX_SLOTS];
    uint32_t nc = 0, nm = 0, i;
    *scanned = 0;
    for (i = 0; i < t->n_cpc[u] && nc < slots; i++)
        if (eligible(run, u, rows[i], time))
            cpc[nc++] = sim_value(t->sw, u, rows[i], 0);
    int cpc_short = nc < slots && t->n_cpc[u] == M_CPC;
    for (i = 0; i < t->n_cpm[u] && nm < slots; i++)
        if (eligible(run, u, rows[M_CPC + i], time))
            cpm[nm++] = sim_value(t->sw, u, rows[M_CPC + i], 0);
    int cpm_short = nm < slots && t->n_cpm[u] == M_CPM;
    if (cpc_short || cpm_short) {
        *scanned = 1;
        return full_scan(t, run, u, time, slots, eligible);
    }
    return best_assignment(t->sw, cpc, nc, cpm, nm, slots);
}
