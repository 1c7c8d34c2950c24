/*
 * sim_check.c -- the simulator's own checks of what the pipelines promise:
 * frequency caps and advertiser diversity.
 *
 * Caps are checked from the simulator's log of every impression it made,
 * not from the online state the filter reads, so a bug in the filter or in
 * the state shows up.  For each cap the log is sorted by (user, ad or
 * campaign, time) and swept with a sliding window; the window of an
 * impression at time t is the one the filter counts (exact to the hour,
 * core/state/state.h): 1h = since the start of t's hour, 6h / 24h = since
 * the start of the hour 5 / 23 hours before, day = since 00:00 UTC, all =
 * everything.  An impression is a violation when, counting it, more than
 * `max` impressions fall in its window.
 *
 * Diversity is checked on every response: no advertiser more than
 * max_per_advertiser times, no advertiser in two adjacent slots when
 * no_adjacent_advertiser is set (the auction's parameters).
 */
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "world/sim_int.h"

int
sim_log_impression(struct sim_run *run, uint32_t user, uint32_t row, int64_t t)
{
    if (run->n_imp == run->cap_imp) {
        uint64_t cap = run->cap_imp ? 2 * run->cap_imp : 1 << 16;
        struct sim_imp *p = realloc(run->imp, cap * sizeof *p);
        if (!p)
            return AF_ENOMEM;
        run->imp = p;
        run->cap_imp = cap;
    }
    run->imp[run->n_imp++] = (struct sim_imp){user, row, row, t};
    return AF_OK;
}

static int
imp_cmp(const void *a, const void *b)
{
    const struct sim_imp *x = a, *y = b;
    if (x->user != y->user)
        return (x->user > y->user) - (x->user < y->user);
    if (x->key != y->key)
        return (x->key > y->key) - (x->key < y->key);
    return (x->t > y->t) - (x->t < y->t);
}

/* Start of the window `w` that ends at time t. */
static int64_t
window_start(int w, int64_t t)
{
    int64_t hour = t / 3600 * 3600;
    switch (w) {
    case AF_WIN_1H: return hour;
    case AF_WIN_6H: return hour - 5 * 3600;
    case AF_WIN_24H: return hour - 23 * 3600;
    case AF_WIN_DAY: return t / 86400 * 86400;
    default: return INT64_MIN;
    }
}

static uint64_t
sweep(const struct sim_imp *v, uint64_t n, const struct sim_cap *cap)
{
    uint64_t bad = 0, left = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (i == 0 || v[i].user != v[i - 1].user || v[i].key != v[i - 1].key)
            left = i; /* a new (user, key) group */
        int64_t ws = window_start(cap->window, v[i].t);
        while (v[left].t < ws)
            left++;
        if ((double)(i - left + 1) > cap->max)
            bad++;
    }
    return bad;
}

void
sim_check_caps(struct sim_run *run)
{
    run->cap_violations = 0;
    for (uint32_t k = 0; k < run->info.n_caps; k++) {
        const struct sim_cap *cap = &run->info.caps[k];
        for (uint64_t i = 0; i < run->n_imp; i++) {
            uint32_t row = run->imp[i].row;
            run->imp[i].key =
                cap->per_campaign ? run->sw->camp_of_row[row] : row;
        }
        qsort(run->imp, run->n_imp, sizeof *run->imp, imp_cmp);
        run->cap_violations += sweep(run->imp, run->n_imp, cap);
    }
}

uint64_t
sim_check_diversity(const struct sim_run *run, const uint32_t *rows, uint32_t n)
{
    const struct af_catalog *c = run->sw->cat;
    uint64_t bad = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t adv = c->advertiser_id[rows[j]], same = 0;
        for (uint32_t k = 0; k < j; k++)
            same += c->advertiser_id[rows[k]] == adv;
        if (run->info.max_per_advertiser &&
            same >= run->info.max_per_advertiser)
            bad++;
        else if (run->info.no_adjacent && j > 0 &&
                 c->advertiser_id[rows[j - 1]] == adv)
            bad++;
    }
    return bad;
}
