/*
 * embedded.c -- the embedded online-state backend: event counters per entity
 * and time window in this process's memory (core/state/state.h).
 *
 * Layout.  One open-addressing hash table per entity family (ad, campaign,
 * advertiser, user, user x ad, user x campaign) with a fixed capacity, the
 * next power of two >= 4/3 max_keys, so that probing always ends.  A slot
 * holds the key and, per event type, the index of the event's counter block
 * (0: that event was never counted for the key).  Blocks come from one pool
 * per state, handed out by an atomic bump index: a user x ad pair that only
 * ever sees impressions costs one block, not five.
 *
 * A block keeps, for one key and one event:
 *   hour[24]  bucket h % 24 holds the sum of hour h (h = time_s / 3600),
 *             stamped with h;
 *   day       the sum of day d (d = time_s / 86400, UTC), stamped with d;
 *   total     the all-time sum.
 * A stamped bucket is one 64-bit word, stamp << 44 | value, so that a writer
 * rolls it over to a new hour and adds to it with one compare-and-swap: no
 * lock, no torn read.  Values are fixed point in units of 1e-4 (counts are
 * exact integers; spend is rounded to 1e-4 currency units), 44 bits per
 * bucket (1.7e9 value units per hour or day per key; larger sums saturate)
 * and 64 bits for the total.  Stamps keep the low 20 bits of the hour or day
 * number, which is unambiguous for 119 years of hours.
 *
 * Windows, relative to the reader's now_s, are exact to the hour:
 *   1h   the bucket of the current hour (since hh:00),
 *   6h   the current hour and the 5 before it,
 *   24h  the current hour and the 23 before it,
 *   day  since 00:00 UTC of now's day,
 *   all  everything ever recorded.
 * A window sums the events stamped in its hours (or day), so an event stamped
 * later in the current hour already counts.  An event recorded late, after
 * its hour's bucket has moved on to a later hour, counts in day (when its
 * bucket still holds that day) and in all.
 *
 * Concurrency.  Keys are inserted with a compare-and-swap on the empty slot
 * and never removed, blocks are attached to a slot once (get_block), and
 * every counter is an atomic word updated with fetch-add or compare-and-swap,
 * so any number of writers and readers run at once without a lock, and
 * readers never wait.
 *
 * Memory.  Tables and the pool are reserved up front with mmap
 * (MAP_NORESERVE): the request path never allocates, and pages the counters
 * do not use are never touched, so a large max_keys costs address space, not
 * memory.  The pool holds 4 blocks per key of max_keys (plus a small floor):
 * in practice pair keys use one or two blocks and there are far fewer ads
 * than pairs.  A full family, or an
 * exhausted pool, stops counting new keys or events and logs it once.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "adfunnel/af_errno.h"
#include "state/state.h"
#include "util/log.h"

#define HOURS 24
#define VAL_BITS 44
#define VAL_MAX ((UINT64_C(1) << VAL_BITS) - 1)
#define STAMP_MASK ((UINT64_C(1) << 20) - 1)
#define SCALE 10000.0       /* fixed-point units per value unit            */
#define MAX_EVENT_VALUE 1e9 /* one event never weighs more                 */
#define BLOCKS_PER_KEY 4
/* Room for every event of a few keys per family, so that tiny states work. */
#define POOL_FLOOR (AF_ENT_N * AF_EV_N * 64)
#define MAX_KEYS_LIMIT (1u << 28)
#define BLOCK_BUSY UINT32_MAX /* a writer is attaching the block */

/* One event of one key. */
struct block {
    _Atomic uint64_t hour[HOURS];
    _Atomic uint64_t day;
    _Atomic uint64_t total;
};

/* One key.  block[e] is a 1-based pool index, 0 when event e has no block. */
struct slot {
    _Atomic uint64_t key;
    _Atomic uint32_t block[AF_EV_N];
};

struct family {
    struct slot *slots; /* capacity entries; key 0 = empty                 */
    uint64_t mask;      /* capacity - 1                                    */
    size_t map_bytes;
    struct slot zero;   /* the key 0, which cannot live in the table       */
    _Atomic int zero_used;
    _Atomic uint32_t n_keys;   /* keys inserted (see get_slot)          */
    _Atomic int warned_full;
};

struct embedded {
    struct af_state base;
    uint32_t max_keys;
    struct family fam[AF_ENT_N];
    struct block *pool; /* pool[0] is never handed out (index 0 = none)   */
    size_t pool_bytes;
    uint32_t pool_cap;
    _Atomic uint32_t pool_next;
    _Atomic int warned_pool;
};

static const char *const family_names[AF_ENT_N] = {
    "ad", "campaign", "advertiser", "user", "user_ad", "user_campaign",
};

/* --- ## Words --- */

static uint64_t
pack(uint64_t stamp, uint64_t value)
{
    return (stamp & STAMP_MASK) << VAL_BITS | value;
}

static uint64_t
stamp_of(uint64_t w)
{
    return w >> VAL_BITS;
}

static uint64_t
value_of(uint64_t w)
{
    return w & VAL_MAX;
}

/* Is a bucket stamped `have` older than the period `want` (both masked)?
 * Modular comparison: the stamps wrap after 2^20 periods. */
static int
stamp_older(uint64_t have, uint64_t want)
{
    return ((want - have) & STAMP_MASK) < (STAMP_MASK + 1) / 2;
}

/* Add v to the bucket for period `stamp`, rolling it over when it holds an
 * older period; an event older than the bucket's period is not added. */
static void
bucket_add(_Atomic uint64_t *w, uint64_t stamp, uint64_t v)
{
    stamp &= STAMP_MASK;
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
    for (;;) {
        uint64_t have = stamp_of(old), next;
        if (have == stamp) {
            uint64_t sum = value_of(old) + v;
            next = pack(stamp, sum > VAL_MAX ? VAL_MAX : sum);
        } else if (stamp_older(have, stamp)) {
            next = pack(stamp, v > VAL_MAX ? VAL_MAX : v);
        } else {
            return; /* the bucket already moved on to a later period */
        }
        if (atomic_compare_exchange_weak_explicit(w, &old, next,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

/* The bucket's value when it holds period `stamp`, else 0. */
static uint64_t
bucket_get(_Atomic uint64_t *w, uint64_t stamp)
{
    uint64_t x = atomic_load_explicit(w, memory_order_relaxed);
    return stamp_of(x) == (stamp & STAMP_MASK) ? value_of(x) : 0;
}

/* --- ## Keys --- */

static uint64_t
mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The slot of `key`, or NULL when it was never inserted. */
static struct slot *
find_slot(struct family *f, uint64_t key)
{
    if (key == 0)
        return atomic_load_explicit(&f->zero_used, memory_order_acquire)
                   ? &f->zero
                   : NULL;
    for (uint64_t i = mix(key) & f->mask;; i = (i + 1) & f->mask) {
        uint64_t k = atomic_load_explicit(&f->slots[i].key,
                                          memory_order_acquire);
        if (k == key)
            return &f->slots[i];
        if (k == 0)
            return NULL;
    }
}

static void
warn_full(struct family *f, int ent, uint32_t max_keys)
{
    if (!atomic_exchange(&f->warned_full, 1))
        af_log(AF_LOG_LEVEL_WARN, "state",
               "%s counters are full (%u keys): new keys are not counted",
               family_names[ent], max_keys);
}

/* The slot of `key`, inserted when new; NULL when the family is full.
 * The limit is checked before inserting and the count taken after, so
 * writers racing on one new key never see a false "full"; the table may
 * then hold max_keys plus at most one key per concurrent writer, which its
 * spare capacity (a third of max_keys) absorbs. */
static struct slot *
get_slot(struct embedded *e, int ent, uint64_t key)
{
    struct family *f = &e->fam[ent];
    struct slot *s = find_slot(f, key);
    if (s)
        return s;
    if (atomic_load_explicit(&f->n_keys, memory_order_acquire) >=
        e->max_keys) {
        /* The last key may just have been inserted (its count is taken
         * after the insert, so the insert is visible now). */
        s = find_slot(f, key);
        if (!s)
            warn_full(f, ent, e->max_keys);
        return s;
    }
    if (key == 0) {
        if (!atomic_exchange_explicit(&f->zero_used, 1, memory_order_acq_rel))
            atomic_fetch_add(&f->n_keys, 1);
        return &f->zero;
    }
    for (uint64_t i = mix(key) & f->mask;; i = (i + 1) & f->mask) {
        uint64_t k = atomic_load_explicit(&f->slots[i].key,
                                          memory_order_acquire);
        if (k == 0) {
            uint64_t expect = 0;
            if (atomic_compare_exchange_strong_explicit(
                    &f->slots[i].key, &expect, key, memory_order_acq_rel,
                    memory_order_acquire)) {
                atomic_fetch_add(&f->n_keys, 1);
                return &f->slots[i];
            }
            k = expect; /* lost the race: see who won the slot */
        }
        if (k == key)
            return &f->slots[i]; /* inserted by another writer */
    }
}

/* The block of event ev in slot s, attached when new; NULL when the pool is
 * exhausted.  The first writer marks the slot's index BLOCK_BUSY, takes a
 * block and publishes it; a writer arriving in between waits for those two
 * instructions (readers never wait: they read BLOCK_BUSY as "no count yet").
 * So no block is ever wasted, however many writers race on a new key. */
static struct block *
get_block(struct embedded *e, struct slot *s, int ev)
{
    uint32_t idx = atomic_load_explicit(&s->block[ev], memory_order_acquire);
    while (idx == 0 || idx == BLOCK_BUSY) {
        if (idx == BLOCK_BUSY) {
            idx = atomic_load_explicit(&s->block[ev], memory_order_acquire);
            continue;
        }
        if (!atomic_compare_exchange_weak_explicit(&s->block[ev], &idx,
                                                   BLOCK_BUSY,
                                                   memory_order_acquire,
                                                   memory_order_acquire))
            continue; /* idx now holds what another writer put there */
        uint32_t mine = atomic_fetch_add(&e->pool_next, 1);
        if (mine >= e->pool_cap) {
            atomic_fetch_sub(&e->pool_next, 1);
            atomic_store_explicit(&s->block[ev], 0, memory_order_release);
            if (!atomic_exchange(&e->warned_pool, 1))
                af_log(AF_LOG_LEVEL_WARN, "state",
                       "counter pool exhausted (%u blocks): new events are "
                       "not counted", e->pool_cap);
            return NULL;
        }
        atomic_store_explicit(&s->block[ev], mine, memory_order_release);
        return &e->pool[mine];
    }
    return &e->pool[idx];
}

/* --- ## Operations --- */

static void
count(struct embedded *e, int ent, uint64_t key, int ev, uint64_t v,
      int64_t t)
{
    struct slot *s = get_slot(e, ent, key);
    struct block *b = s ? get_block(e, s, ev) : NULL;
    if (!b)
        return;
    uint64_t hour = (uint64_t)(t / 3600), day = (uint64_t)(t / 86400);
    bucket_add(&b->hour[hour % HOURS], hour, v);
    bucket_add(&b->day, day, v);
    atomic_fetch_add_explicit(&b->total, v, memory_order_relaxed);
}

static int
emb_record(af_state *st, const struct af_state_event *ev)
{
    struct embedded *e = (struct embedded *)st;
    if (!ev || ev->type < 0 || ev->type >= AF_EV_N || ev->time_s < 0 ||
        !(ev->value >= 0 && ev->value <= MAX_EVENT_VALUE))
        return AF_EINVAL;
    uint64_t v = (uint64_t)llround(ev->value * SCALE);
    int t = ev->type;
    count(e, AF_ENT_AD, ev->ad_id, t, v, ev->time_s);
    count(e, AF_ENT_CAMPAIGN, ev->campaign_id, t, v, ev->time_s);
    count(e, AF_ENT_ADVERTISER, ev->advertiser_id, t, v, ev->time_s);
    if (t == AF_EV_SPEND)
        return AF_OK; /* spend is the advertiser's, not the user's */
    count(e, AF_ENT_USER, ev->user_id, t, v, ev->time_s);
    count(e, AF_ENT_USER_AD, af_state_key2(ev->user_id, ev->ad_id), t, v,
          ev->time_s);
    count(e, AF_ENT_USER_CAMPAIGN,
          af_state_key2(ev->user_id, ev->campaign_id), t, v, ev->time_s);
    return AF_OK;
}

/* Sum of the hours now-n+1 .. now. */
static uint64_t
hours_sum(struct block *b, int64_t now_s, int n)
{
    uint64_t hour = (uint64_t)(now_s / 3600), sum = 0;
    for (int k = 0; k < n; k++, hour--)
        sum += bucket_get(&b->hour[hour % HOURS], hour);
    return sum;
}

static double
window_value(struct block *b, int window, int64_t now_s)
{
    uint64_t v = 0;
    switch (window) {
    case AF_WIN_1H: v = hours_sum(b, now_s, 1); break;
    case AF_WIN_6H: v = hours_sum(b, now_s, 6); break;
    case AF_WIN_24H: v = hours_sum(b, now_s, 24); break;
    case AF_WIN_DAY: v = bucket_get(&b->day, (uint64_t)(now_s / 86400)); break;
    default:
        v = atomic_load_explicit(&b->total, memory_order_relaxed);
        break;
    }
    return (double)v / SCALE;
}

/* How many keys ahead a read prefetches: enough to cover a cache miss. */
#define PREFETCH_AHEAD 16

/* The memory a window reads in a block (for prefetching). */
static const void *
window_line(const struct block *b, int window)
{
    return window == AF_WIN_DAY || window == AF_WIN_ALL
               ? (const void *)&b->day
               : (const void *)&b->hour[0];
}

/*
 * Batched reads touch two random cache lines per key (the table slot, then
 * the block), so they run in two passes that prefetch a few keys ahead:
 * first the slots, keeping each key's block index in out[i] (exact in a
 * double), then the blocks.
 */
static int
emb_read(af_state *st, int entity, int event, int window, int64_t now_s,
         const uint64_t *keys, uint32_t n, double *out)
{
    struct embedded *e = (struct embedded *)st;
    if (entity < 0 || entity >= AF_ENT_N || event < 0 || event >= AF_EV_N ||
        window < 0 || window >= AF_WIN_N || now_s < 0 || (n && (!keys || !out)))
        return AF_EINVAL;
    struct family *f = &e->fam[entity];
    for (uint32_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n && keys[i + PREFETCH_AHEAD])
            __builtin_prefetch(
                &f->slots[mix(keys[i + PREFETCH_AHEAD]) & f->mask]);
        struct slot *s = find_slot(f, keys[i]);
        uint32_t idx = s ? atomic_load_explicit(&s->block[event],
                                                memory_order_acquire)
                         : 0;
        out[i] = idx && idx != BLOCK_BUSY ? (double)idx : 0.0;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n && out[i + PREFETCH_AHEAD] > 0)
            __builtin_prefetch(window_line(
                &e->pool[(uint32_t)out[i + PREFETCH_AHEAD]], window));
        uint32_t idx = (uint32_t)out[i];
        out[i] = idx ? window_value(&e->pool[idx], window, now_s) : 0.0;
    }
    return AF_OK;
}

/* --- ## Life cycle --- */

static void *
reserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void
emb_free(af_state *st)
{
    struct embedded *e = (struct embedded *)st;
    if (!e)
        return;
    for (int i = 0; i < AF_ENT_N; i++)
        if (e->fam[i].slots)
            munmap(e->fam[i].slots, e->fam[i].map_bytes);
    if (e->pool)
        munmap(e->pool, e->pool_bytes);
    free(e);
}

static const struct af_state_ops embedded_ops = {
    .record = emb_record,
    .read = emb_read,
    .free = emb_free,
};

af_state *
af_state_embedded_new(uint32_t max_keys)
{
    if (max_keys == 0 || max_keys > MAX_KEYS_LIMIT) {
        af_log(AF_LOG_LEVEL_ERROR, "state",
               "max_keys must be in 1..%u, got %u", MAX_KEYS_LIMIT, max_keys);
        return NULL;
    }
    struct embedded *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->base.ops = &embedded_ops;
    e->max_keys = max_keys;
    uint64_t cap = 16;
    while (cap < (uint64_t)max_keys + max_keys / 3 + 1)
        cap <<= 1;
    for (int i = 0; i < AF_ENT_N; i++) {
        struct family *f = &e->fam[i];
        f->map_bytes = cap * sizeof(struct slot);
        f->mask = cap - 1;
        f->slots = reserve(f->map_bytes);
        if (!f->slots) {
            emb_free(&e->base);
            return NULL;
        }
    }
    uint64_t blocks = (uint64_t)max_keys * BLOCKS_PER_KEY + POOL_FLOOR + 1;
    e->pool_cap = (uint32_t)(blocks >= BLOCK_BUSY ? BLOCK_BUSY - 1 : blocks);
    e->pool_bytes = (size_t)e->pool_cap * sizeof(struct block);
    e->pool = reserve(e->pool_bytes);
    if (!e->pool) {
        emb_free(&e->base);
        return NULL;
    }
    atomic_init(&e->pool_next, 1); /* index 0 means "no block" */
    return &e->base;
}
