/*
 * plugin_cache.h -- private, content-addressed copies of plugin files.
 *
 * Why the server never dlopens a plugin where the operator put it:
 *
 *   - glibc's dlopen returns the already-loaded object when the path (or the
 *     file's device and inode) matches one it has open.  A plugin rebuilt and
 *     renamed over the old path would therefore come back as the old code
 *     while any generation still holds the old handle.
 *   - A plugin overwritten in place (`cp new.so plugins/model_lr.so`) changes
 *     pages the running process has mapped: the old code crashes.
 *
 * So every plugin file is read once, hashed, and written to
 * <cache dir>/<sha256>.so, and that copy is what dlopen sees.  The name is
 * the content: the same name always means the same bytes (dlopen may share
 * the handle, correctly), new bytes always get a new name (a fresh dlopen),
 * and nothing the operator does to the original files touches what runs.
 * Generations hold a reference per plugin; a copy is deleted when its last
 * reference goes, which generations do after dlclose.
 *
 * The cache directory is private to the process: a new directory created
 * with mode 0700 (mkdtemp) under the parent given, or under $TMPDIR (/tmp).
 * It is removed by af_plugin_cache_free.  On systems mounting /tmp noexec,
 * give a parent on an executable file system (serve --plugin-cache DIR).
 *
 * Thread-safe (a mutex; never used on the request path).
 */
#ifndef AF_CORE_ADMIN_PLUGIN_CACHE_H
#define AF_CORE_ADMIN_PLUGIN_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct af_plugin_cache af_plugin_cache;

/* Largest plugin file copied (a larger one is refused). */
#define AF_PLUGIN_CACHE_MAX_FILE ((size_t)256 << 20)

/* Create the cache directory under `parent` (NULL: $TMPDIR or /tmp).  The
 * parent must not be writable by others unless it is sticky (like /tmp).
 * Returns NULL with the reason in err. */
af_plugin_cache *af_plugin_cache_create(const char *parent, char *err,
                                        size_t errlen);

/* Delete every copy and the directory.  Only after every generation that
 * used the cache is gone. */
void af_plugin_cache_free(af_plugin_cache *c);

/* The cache directory (owned by c). */
const char *af_plugin_cache_dir(const af_plugin_cache *c);

/*
 * Copy `src` into the cache (unless a copy with the same content is there)
 * and take a reference to it.  Writes the hex SHA-256 of the content into
 * sha[65] and the copy's path into path[pathlen].  Returns 0, or a negative
 * AF_E* with "src: reason" in err (unreadable, not a regular file, too
 * large, cannot write the copy).
 */
int af_plugin_cache_acquire(af_plugin_cache *c, const char *src,
                            char sha[65], char *path, size_t pathlen,
                            char *err, size_t errlen);

/* Take another reference to the copy of content `sha` (which must be held
 * already).  Returns 0 and the path, or AF_ENOENT when no such copy is held. */
int af_plugin_cache_retain(af_plugin_cache *c, const char *sha, char *path,
                           size_t pathlen);

/* Drop a reference; the copy is deleted with the last one. */
void af_plugin_cache_release(af_plugin_cache *c, const char *sha);

/* Copies currently held (for tests and /metrics). */
uint32_t af_plugin_cache_count(af_plugin_cache *c);

#endif
