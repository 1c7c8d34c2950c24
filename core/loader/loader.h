/*
 * loader.h -- opening plugin shared objects and the registry of loaded ones.
 *
 * A plugin is refused, with a message "<file>: <reason>", when it is not a
 * loadable shared object, lacks the entry symbol, returns a NULL or malformed
 * descriptor, was built for another ABI major or a newer minor, has another
 * build signature, declares an unknown kind or missing kind operations, or
 * (in a registry) reuses a name already taken.  create() failures are
 * reported where instances are made (engine/instance.h).
 */
#ifndef AF_CORE_LOADER_H
#define AF_CORE_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include "adfunnel/af_plugin.h"

typedef struct af_loaded {
    char *path;                    /* absolute path of the .so               */
    char sha256[65];               /* hex digest of the file at load time    */
    void *handle;                  /* dlopen handle                          */
    const struct af_plugin *desc;  /* owned by the .so; never written        */
} af_loaded;

/* dlopen(RTLD_NOW|RTLD_LOCAL) and validate.  0 or a negative AF_E*. */
int af_loader_open(const char *path, af_loaded **out, char *err,
                   size_t errlen);
/* dlclose; only after every instance of the plugin is destroyed. */
void af_loader_close(af_loaded *p);

typedef struct af_registry af_registry;

af_registry *af_registry_create(void);
/* Close every plugin.  Instances must be gone. */
void af_registry_free(af_registry *r);
/* Open every *.so in dir (sorted by name).  Refused files are logged and
 * remembered (af_registry_refused_*); returns the number loaded, or a
 * negative AF_E* when dir cannot be read. */
int af_registry_scan(af_registry *r, const char *dir);
/* Open one file and add it.  Refused when its name is already taken.  A
 * refusal is remembered (af_registry_refused_*) but not logged, nor is a
 * success: the caller logs, under the name the operator knows the file by
 * (af_registry_log_loaded for a success). */
int af_registry_load(af_registry *r, const char *path, char *err,
                     size_t errlen);
/* Log "loaded <kind> plugin <name> <version> from <path>", naming
 * shown_path when given (the operator's file) instead of the opened one. */
void af_registry_log_loaded(const af_loaded *p, const char *shown_path);
const af_loaded *af_registry_find(const af_registry *r, const char *name);
uint32_t af_registry_count(const af_registry *r);
const af_loaded *af_registry_at(const af_registry *r, uint32_t i);
uint32_t af_registry_refused_count(const af_registry *r);
/* "<file>: <reason>" of the i-th refused file. */
const char *af_registry_refused_at(const af_registry *r, uint32_t i);

#endif
