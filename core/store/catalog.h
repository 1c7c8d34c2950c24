/*
 * catalog.h -- the ad catalog and the user store of a generation, loaded from
 * a world directory (see core/world/world.h for the file formats).
 *
 * Both are immutable once loaded and shared read-only by all workers.
 */
#ifndef AF_CORE_CATALOG_H
#define AF_CORE_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include "adfunnel/af_types.h"

typedef struct af_catalog_store af_catalog_store;
typedef struct af_user_store af_user_store;

/* Load <dir>/ads.tsv.  On failure returns NULL and writes "file:line: reason"
 * into err. */
af_catalog_store *af_catalog_load(const char *dir, char *err, size_t errlen);
void af_catalog_free(af_catalog_store *c);
/* The columnar view handed to plugins (owned by the store). */
const struct af_catalog *af_catalog_view(const af_catalog_store *c);
/* Row of an ad id, or -1. O(1) average. */
int64_t af_catalog_find(const af_catalog_store *c, uint64_t ad_id);

/* Load <dir>/users.tsv.  Same error convention. */
af_user_store *af_users_load(const char *dir, char *err, size_t errlen);
void af_users_free(af_user_store *u);
uint32_t af_users_count(const af_user_store *u);
/* Copy the stored profile of `id` into *out; returns 0, or AF_ENOENT. */
int af_users_get(const af_user_store *u, uint64_t id, struct af_user *out);
/* The i-th stored user (0 <= i < count), for traffic generation. */
int af_users_at(const af_user_store *u, uint32_t i, struct af_user *out);
/* Index (for af_users_at) of user `id`, or -1.  O(1) average. */
int64_t af_users_find(const af_user_store *u, uint64_t id);

#endif
