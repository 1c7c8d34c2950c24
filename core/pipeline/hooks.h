/*
 * hooks.h -- Lua functions a pipeline runs at request time.
 *
 *   hooks = {
 *     filter = function(ad, user, ctx) return ad.category ~= 13 end,
 *     adjust = function(ad, user, ctx) return ad.quality > 0.8 and 1.1 or 1 end,
 *   }
 *
 * `filter` runs after the filter stage (false drops the ad); `adjust` runs
 * after calibration and multiplies the ad's pCTR before the auction.  They
 * are the only Lua on the request path, and only for pipelines that declare
 * them.  Each worker gets its own Lua state (states are not thread-safe),
 * built from the exact texts read when the pipeline was loaded, with the
 * load-time sandbox and a per-request instruction budget.
 */
#ifndef AF_CORE_HOOKS_H
#define AF_CORE_HOOKS_H

#include <stdint.h>
#include "adfunnel/af_types.h"

enum af_hook_id { AF_HOOK_FILTER, AF_HOOK_ADJUST, AF_N_HOOKS };

extern const char *const af_hook_names[AF_N_HOOKS];

struct af_hooks;
struct af_source_set;

/* Hooks of the pipeline `file` whose texts are `sources` (taken over);
 * mask: bit h set when hook h is declared.  NULL when out of memory. */
struct af_hooks *af_hooks_new(struct af_source_set *sources, const char *file,
                              uint32_t mask);
/* Only when no request runs the pipeline any more. */
void af_hooks_free(struct af_hooks *h);
int af_hooks_has(const struct af_hooks *h, int hook);

/* Run hook over rows 0..b->n-1: filter sets b->drop[i]; adjust multiplies
 * b->pctr[i].  0, or a negative AF_E* with a message (owned by request) in
 * *errmsg.  Thread-safe. */
int af_hooks_run(struct af_hooks *h, int hook, const struct af_request *req,
                 struct af_batch *b, const char **errmsg);

#endif
