/* worldlog.c -- simulated impression log (worldlog.h). */
#include "learn/worldlog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "learn/featspec.h"
#include "learn/serving_src.h"
#include "store/catalog.h"
#include "world/world.h"
#include "world/wrand.h"

#define SLOTS 5
#define POOL_SHARE 0.7
#define RANDOM_TRIES 64
#define SECONDS_PER_PAGE 3
#define CPA_CVR 0.05 /* the popular retriever's conversion prior */

static float
popularity(const struct af_catalog *c, uint32_t i)
{
    switch (c->bid_type[i]) {
    case AF_BID_CPM: return (float)(c->bid[i] / 1000.0);
    case AF_BID_CPA: return (float)((double)c->prior_ctr[i] * CPA_CVR * c->bid[i]);
    default: return (float)((double)c->prior_ctr[i] * c->bid[i]);
    }
}

static int
cmp_pop(const void *pa, const void *pb, void *ctx)
{
    const struct af_catalog *c = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    float x = popularity(c, a), y = popularity(c, b);
    if (x != y)
        return x > y ? -1 : 1;
    return (a > b) - (a < b);
}

struct sim {
    const struct af_worldlog_opts *o;
    af_world *w;
    const struct af_catalog *cat;
    uint32_t *order, *pool;
    struct af_wrand r;
    FILE *f;
};

static uint32_t
eligible(const struct sim *s, const struct af_user *u)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->cat->n_ads && n < s->o->pool; i++)
        if (af_world_targets(s->cat, s->order[i], u))
            s->pool[n++] = s->order[i];
    return n;
}

static int64_t
draw(struct sim *s, const struct af_user *u, uint32_t n_pool)
{
    if (n_pool && af_wrand_unit(&s->r) < POOL_SHARE)
        return s->pool[af_wrand_below(&s->r, n_pool)];
    for (int t = 0; t < RANDOM_TRIES; t++) {
        uint32_t row = af_wrand_below(&s->r, s->cat->n_ads);
        if (af_world_targets(s->cat, row, u))
            return row;
    }
    return n_pool ? (int64_t)s->pool[af_wrand_below(&s->r, n_pool)] : -1;
}

static void
write_row(struct sim *s, int64_t t, int y, double p, const struct af_user *u,
          const struct af_context *c, uint32_t row)
{
    char buf[AF_SERVING_VALUE_MAX];
    fprintf(s->f, "%lld\t%d\t%.6g", (long long)t, y, p);
    for (int src = 1; src < AF_SRC_N; src++) {
        const char *v = af_serving_value(src, u, c, s->cat, row, buf, sizeof buf);
        fprintf(s->f, "\t%s", v ? v : "");
    }
    fputc('\n', s->f);
}

static int
simulate(struct sim *s, char *err, size_t errlen)
{
    const af_user_store *users = af_world_users(s->w);
    uint32_t n_users = af_users_count(users);
    uint64_t written = 0;
    fprintf(s->f, "time\tlabel\tp_true");
    for (int src = 1; src < AF_SRC_N; src++)
        fprintf(s->f, "\t%s", af_serving_src_name(src));
    fputc('\n', s->f);
    for (uint64_t page = 0; written < s->o->impressions; page++) {
        struct af_user u;
        uint32_t ui = af_wrand_below(&s->r, n_users);
        af_users_at(users, ui, &u);
        struct af_context c = {-1, -1, 0};
        if (af_wrand_unit(&s->r) < 0.5) {
            c.hour = (int32_t)af_wrand_below(&s->r, 24);
            c.day_of_week = (int32_t)af_wrand_below(&s->r, 7);
        }
        uint32_t n_pool = eligible(s, &u), pos[SLOTS];
        for (uint32_t k = 0; k < SLOTS; k++)
            pos[k] = k;
        for (uint32_t k = SLOTS - 1; k > 0; k--) {
            uint32_t j = af_wrand_below(&s->r, k + 1), t = pos[k];
            pos[k] = pos[j];
            pos[j] = t;
        }
        int64_t shown[SLOTS];
        for (uint32_t k = 0; k < SLOTS && written < s->o->impressions; k++) {
            int64_t row = draw(s, &u, n_pool);
            for (uint32_t d = 0; d < k && row >= 0; d++)
                if (shown[d] == row)
                    row = -1; /* a page shows an ad once */
            shown[k] = row;
            if (row < 0)
                continue;
            double p = af_world_p_click(s->w, ui, (uint32_t)row, pos[k]);
            int y = af_wrand_unit(&s->r) < p;
            c.position = (int32_t)pos[k];
            write_row(s, s->o->start_time + (int64_t)page * SECONDS_PER_PAGE, y,
                      p, &u, &c, (uint32_t)row);
            written++;
        }
        if (page > 1000 && written == 0) {
            snprintf(err, errlen, "no ad targets any of 1000 random users");
            return AF_EINVAL;
        }
    }
    return 0;
}

int
af_worldlog_write(const struct af_worldlog_opts *o, char *err, size_t errlen)
{
    struct sim s = {.o = o};
    s.w = af_world_load(o->world_dir, err, errlen);
    if (s.w == NULL)
        return AF_EINVAL;
    s.cat = af_catalog_view(af_world_catalog(s.w));
    s.order = malloc((s.cat->n_ads + 1) * sizeof *s.order);
    s.pool = malloc(((size_t)o->pool + 1) * sizeof *s.pool);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->out, (long)getpid());
    int rc = 0;
    if (!s.order || !s.pool) {
        snprintf(err, errlen, "out of memory");
        rc = AF_ENOMEM;
    } else if ((s.f = fopen(tmp, "w")) == NULL) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        rc = AF_EIO;
    }
    if (rc == 0) {
        for (uint32_t i = 0; i < s.cat->n_ads; i++)
            s.order[i] = i;
        qsort_r(s.order, s.cat->n_ads, sizeof *s.order, cmp_pop, (void *)s.cat);
        af_wrand_seed(&s.r, o->seed, 0x776f726c646c6f67ull);
        rc = simulate(&s, err, errlen);
        if (fclose(s.f) != 0 && rc == 0) {
            snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
            rc = AF_EIO;
        }
        if (rc == 0 && rename(tmp, o->out) != 0) {
            snprintf(err, errlen, "%s: cannot rename: %s", o->out, strerror(errno));
            rc = AF_EIO;
        }
        if (rc != 0)
            unlink(tmp);
    }
    free(s.order);
    free(s.pool);
    af_world_free(s.w);
    return rc;
}
