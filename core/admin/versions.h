/*
 * versions.h -- the versions the control plane knows, TF Serving style.
 *
 * A version is a published generation (its number is the generation id).
 * Labels:
 *   stable    what every request gets by default (exactly one);
 *   canary    optional: requests labelled "canary" and a share of users
 *             (see http/server.h);
 *   previous  replaced stable versions still held in memory, newest first,
 *             at most `keep` of them: rollback republishes the newest in one
 *             call, without rebuilding anything (so it cannot fail because a
 *             file changed meanwhile);
 *   retired   history only (no longer held).
 *
 * Not thread-safe: the control plane serialises access.
 */
#ifndef AF_CORE_ADMIN_VERSIONS_H
#define AF_CORE_ADMIN_VERSIONS_H

#include <stdint.h>
#include <jansson.h>

#include "engine/generation.h"

#define AF_VERSIONS_HISTORY 64

enum af_version_label {
    AF_VERSION_STABLE,
    AF_VERSION_CANARY,
    AF_VERSION_PREVIOUS,
    AF_VERSION_RETIRED,
};

typedef struct af_versions af_versions;

/* `first` becomes stable (the registry takes a reference of its own). */
af_versions *af_versions_create(af_generation *first, unsigned keep,
                                const char *who);
void af_versions_free(af_versions *v);

/* Borrowed pointers (NULL when none). */
af_generation *af_versions_stable(const af_versions *v);
af_generation *af_versions_canary(const af_versions *v);
/* Number of previous versions held. */
unsigned af_versions_previous_count(const af_versions *v);

/* g becomes stable; the old stable becomes the newest previous (the oldest
 * previous beyond `keep` is released).  Takes its own reference to g. */
void af_versions_push_stable(af_versions *v, af_generation *g,
                             const char *action, const char *who);
/* g becomes the canary (a former canary is retired). */
void af_versions_set_canary(af_versions *v, af_generation *g,
                            const char *action, const char *who);
/* The canary becomes stable (the old stable becomes previous).  Returns the
 * new stable, or NULL when there is no canary. */
af_generation *af_versions_promote(af_versions *v, const char *who);
/* Retire the canary.  Returns 0, or -1 when there is none. */
int af_versions_drop_canary(af_versions *v);
/* The newest previous becomes stable again; the current stable is retired.
 * Returns the new stable, or NULL when no previous version is held. */
af_generation *af_versions_rollback(af_versions *v, const char *who);

const char *af_version_label_name(enum af_version_label l);

/* {"stable": id, "canary": id|null, "previous": [ids], "versions": [...]}
 * with, per held version, its surfaces, pipeline and model versions and
 * plugins (new reference). */
json_t *af_versions_json(const af_versions *v);

/* Describe one generation: surfaces with pipeline and model versions,
 * deployed models, plugins (new reference). */
json_t *af_generation_json(const af_generation *g);

#endif
