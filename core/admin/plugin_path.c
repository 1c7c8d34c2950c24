/*
 * plugin_path.c -- the allow-list of plugin locations (see plugin_path.h).
 */
#include "admin/plugin_path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adfunnel/af_errno.h"

static int
writable_by_others(const struct stat *st)
{
    return (st->st_mode & S_IWOTH) != 0;
}

int
af_plugin_dir_check(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(err, errlen, "%s: plugin directory: %s", dir,
                 strerror(errno));
        return AF_ENOENT;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: plugin directory: not a directory", dir);
        return AF_EINVAL;
    }
    if (writable_by_others(&st)) {
        snprintf(err, errlen, "%s: plugin directory is world-writable; "
                 "plugins are not loaded from it (chmod o-w)", dir);
        return AF_EINVAL;
    }
    return AF_OK;
}

int
af_plugin_file_check(const char *file, char *err, size_t errlen)
{
    struct stat st;
    if (stat(file, &st) != 0) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return AF_ENOENT;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", file);
        return AF_EINVAL;
    }
    if (writable_by_others(&st)) {
        snprintf(err, errlen, "%s: world-writable plugin files are not loaded "
                 "(chmod o-w)", file);
        return AF_EINVAL;
    }
    size_t n = strlen(file);
    if (n < 4 || strcmp(file + n - 3, ".so") != 0) {
        snprintf(err, errlen, "%s: plugin files are named *.so", file);
        return AF_EINVAL;
    }
    return AF_OK;
}

/* realpath(dir) == directory part of the resolved file. */
static int
directly_in(const char *dir, const char *resolved)
{
    char rdir[PATH_MAX];
    if (!realpath(dir, rdir))
        return 0;
    const char *slash = strrchr(resolved, '/');
    if (!slash)
        return 0;
    size_t dn = (size_t)(slash - resolved);
    if (dn == 0) /* a file in "/" */
        return strcmp(rdir, "/") == 0;
    return strlen(rdir) == dn && strncmp(rdir, resolved, dn) == 0;
}

/* A relative path is looked up in each directory in turn; a bare name
 * may omit ".so" ("model_lr"). */
static int
candidate(const char *dir, const char *path, char *out, size_t n)
{
    size_t len = strlen(path);
    const char *ext = strchr(path, '/') ||
                              (len > 3 && strcmp(path + len - 3, ".so") == 0)
                          ? ""
                          : ".so";
    int w = snprintf(out, n, "%s/%s%s", dir, path, ext);
    return w > 0 && (size_t)w < n;
}

static int
find_by_name(const char *const *dirs, const char *name, char *resolved,
             size_t n, char *err, size_t errlen)
{
    for (const char *const *d = dirs; d && *d; d++) {
        char p[PATH_MAX], r[PATH_MAX];
        if (!candidate(*d, name, p, sizeof p) || !realpath(p, r))
            continue;
        if (!directly_in(*d, r)) {
            snprintf(err, errlen, "%s: resolves to %s, outside the plugin "
                     "directory %s", p, r, *d);
            return AF_EINVAL;
        }
        int rc = af_plugin_dir_check(*d, err, errlen);
        if (rc == AF_OK)
            rc = af_plugin_file_check(r, err, errlen);
        if (rc == AF_OK)
            snprintf(resolved, n, "%s", r);
        return rc;
    }
    snprintf(err, errlen, "%s: no such plugin file in the plugin directories",
             name);
    return AF_ENOENT;
}

int
af_plugin_path_check(const char *const *dirs, const char *path,
                     char *resolved, size_t n, char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "no plugin path given");
        return AF_EINVAL;
    }
    if (path[0] != '/')
        return find_by_name(dirs, path, resolved, n, err, errlen);
    char r[PATH_MAX];
    if (!realpath(path, r)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return AF_ENOENT;
    }
    for (const char *const *d = dirs; d && *d; d++) {
        if (!directly_in(*d, r))
            continue;
        int rc = af_plugin_dir_check(*d, err, errlen);
        if (rc == AF_OK)
            rc = af_plugin_file_check(r, err, errlen);
        if (rc == AF_OK)
            snprintf(resolved, n, "%s", r);
        return rc;
    }
    size_t len = 0;
    char list[512] = "";
    for (const char *const *d = dirs; d && *d && len < sizeof list; d++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
                                len ? ", " : "", *d);
    snprintf(err, errlen, "%s: not in a plugin directory (resolved to %s; "
             "plugins load only from: %s)", path, r, list);
    return AF_EINVAL;
}
