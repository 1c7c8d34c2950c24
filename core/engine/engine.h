/*
 * engine.h -- runs one ranking request through a surface's compiled stage
 * graph.
 */
#ifndef AF_CORE_ENGINE_H
#define AF_CORE_ENGINE_H

#include "engine/generation.h"
#include "engine/rank_types.h"
#include "mem/arena.h"

/*
 * Rank `req` on `gen`.  The request is resolved (user profile from the user
 * store, request id generated when empty), the surface's stages run under
 * their deadlines with fallbacks, and `resp` is filled; all memory comes from
 * `arena`.
 *
 * Returns 0 when a response was produced (possibly degraded), AF_ENOENT when
 * the surface is unknown, AF_EINVAL for an invalid request (err says why),
 * AF_ENOMEM when the arena limit was hit.
 */
int af_engine_rank(const af_generation *gen, const struct af_rank_req *req,
                   af_arena *arena, struct af_rank_resp *resp, char *err,
                   size_t errlen);

#endif
