/*
 * warmup.h -- synthetic requests through a generation before it serves.
 *
 * A new generation ranks a few requests per surface (stored users of the
 * world) through af_engine_rank before it is published: this faults in the
 * model pages and plugin code, so the first real requests do not pay for
 * them, and it refuses a generation whose stages fail on ordinary requests
 * (a plugin that errors on every call is caught here, not by users).
 * Stages skipped or cut by their deadline do not count as failures: a cold
 * machine may be slow once.
 */
#ifndef AF_CORE_ADMIN_WARMUP_H
#define AF_CORE_ADMIN_WARMUP_H

#include <stddef.h>
#include "engine/generation.h"

/* Rank `per_surface` requests on every surface of g.  Returns 0, or a
 * negative AF_E* with "surface: stage plugin: reason" in err. */
int af_warmup_run(const af_generation *g, unsigned per_surface, char *err,
                  size_t errlen);

#endif
