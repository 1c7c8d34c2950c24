/*
 * warmup.c -- synthetic requests through a new generation (see warmup.h).
 */
#include "admin/warmup.h"

#include <stdio.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "engine/engine.h"
#include "http/codec.h"
#include "mem/arena.h"
#include "store/catalog.h"

#define ARENA_BLOCK ((size_t)1 << 20)
#define ARENA_LIMIT ((size_t)64 << 20)

/* The first stage error that is not a deadline, or NULL. */
static const struct af_stage_info *
stage_failure(const struct af_rank_resp *resp)
{
    for (uint32_t i = 0; i < resp->n_stages; i++) {
        const struct af_stage_info *si = &resp->stages[i];
        if (si->error && !si->timed_out &&
            strncmp(si->error, "skipped", 7) != 0)
            return si;
    }
    return NULL;
}

static int
warm_surface(const af_generation *g, const char *surface, unsigned n,
             af_arena *arena, char *err, size_t errlen)
{
    const struct af_user_store *users = af_generation_users(g);
    uint32_t n_users = af_users_count(users);
    for (unsigned i = 0; i < n; i++) {
        struct af_rank_req rq;
        af_rank_req_init(&rq);
        snprintf(rq.surface, sizeof rq.surface, "%s", surface);
        snprintf(rq.request_id, sizeof rq.request_id, "warmup-%u", i);
        struct af_user u;
        /* Spread over the store: different users reach different ads. */
        if (n_users && af_users_at(users, (uint32_t)((uint64_t)i * 7919 %
                                                     n_users), &u) == AF_OK)
            rq.user.id = u.id;
        else
            rq.user.id = i + 1;
        struct af_rank_resp resp;
        memset(&resp, 0, sizeof resp);
        char why[512];
        int rc = af_engine_rank(g, &rq, arena, &resp, why, sizeof why);
        if (rc != AF_OK) {
            snprintf(err, errlen, "warm-up request on surface \"%s\" failed: "
                     "%s", surface, why);
            af_arena_reset(arena);
            return rc;
        }
        const struct af_stage_info *bad = stage_failure(&resp);
        if (bad) {
            snprintf(err, errlen, "warm-up request on surface \"%s\": stage "
                     "%s (%s) failed: %s", surface, bad->stage, bad->plugin,
                     bad->error);
            af_arena_reset(arena);
            return AF_EPLUGIN;
        }
        af_arena_reset(arena);
    }
    return AF_OK;
}

int
af_warmup_run(const af_generation *g, unsigned per_surface, char *err,
              size_t errlen)
{
    if (per_surface == 0)
        return AF_OK;
    af_arena *arena = af_arena_create(ARENA_BLOCK, ARENA_LIMIT);
    if (!arena) {
        snprintf(err, errlen, "warm-up: out of memory");
        return AF_ENOMEM;
    }
    int rc = AF_OK;
    uint32_t n = af_generation_surface_count(g);
    for (uint32_t i = 0; i < n && rc == AF_OK; i++)
        rc = warm_surface(g, af_generation_surface_name(g, i), per_surface,
                          arena, err, errlen);
    af_arena_destroy(arena);
    return rc;
}
