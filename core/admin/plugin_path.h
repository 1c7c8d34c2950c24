/*
 * plugin_path.h -- where plugin files may be loaded from.
 *
 * Plugins run with the server's privileges, so which files are accepted is
 * a security boundary: only regular files named *.so directly inside one
 * of the configured plugin directories, after resolving symbolic links
 * (a link or a "../" that leads elsewhere is refused), and neither the file
 * nor its directory may be writable by others.
 */
#ifndef AF_CORE_ADMIN_PLUGIN_PATH_H
#define AF_CORE_ADMIN_PLUGIN_PATH_H

#include <stddef.h>

/* Check a configured plugin directory: it exists, is a directory and is not
 * writable by others.  0 or a negative AF_E* with "dir: reason" in err. */
int af_plugin_dir_check(const char *dir, char *err, size_t errlen);

/*
 * Resolve `path` -- a relative path is looked up in each directory in turn
 * ("model_lr.so", "model_lr"), an absolute one taken as it is -- and check
 * it may be loaded (see above).  `dirs` is NULL-terminated.  On success writes the resolved
 * absolute path into resolved[n] and returns 0; otherwise a negative AF_E*
 * with the reason in err.
 */
int af_plugin_path_check(const char *const *dirs, const char *path,
                         char *resolved, size_t n, char *err, size_t errlen);

/* Check one file found by scanning a plugin directory (the same rules).
 * 0 or a negative AF_E* with "file: reason" in err. */
int af_plugin_file_check(const char *file, char *err, size_t errlen);

#endif
