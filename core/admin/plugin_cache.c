/*
 * plugin_cache.c -- content-addressed copies of plugin files (see
 * plugin_cache.h for why).
 *
 * A copy is written to a temporary name in the cache directory and renamed
 * to <sha256>.so, so a concurrent reader (dlopen) never sees a partial file.
 * The bytes hashed are the bytes written: what is reported as the plugin's
 * sha256 is exactly what runs.
 */
#include "admin/plugin_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "util/sha256.h"

struct entry {
    char sha[65];
    uint32_t refs;
};

struct af_plugin_cache {
    pthread_mutex_t lock;
    char dir[PATH_MAX];
    struct entry *e;
    uint32_t n, cap;
    uint64_t tmp_seq;
};

static int
fail(char *err, size_t errlen, int code, const char *fmt, const char *a,
     const char *b)
{
    snprintf(err, errlen, fmt, a, b);
    return code;
}

/* The parent must not let others replace our directory: not writable by
 * group or others, unless sticky (then only owners may rename entries). */
static int
check_parent(const char *parent, char *err, size_t errlen)
{
    struct stat st;
    if (stat(parent, &st) != 0)
        return fail(err, errlen, AF_ENOENT, "plugin cache: %s: %s", parent,
                    strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fail(err, errlen, AF_EINVAL, "plugin cache: %s: %s", parent,
                    "not a directory");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        return fail(err, errlen, AF_EINVAL, "plugin cache: %s: %s", parent,
                    "writable by others and not sticky");
    return AF_OK;
}

af_plugin_cache *
af_plugin_cache_create(const char *parent, char *err, size_t errlen)
{
    if (!parent || !*parent) {
        parent = getenv("TMPDIR");
        if (!parent || !*parent)
            parent = "/tmp";
    }
    if (check_parent(parent, err, errlen) != AF_OK)
        return NULL;
    af_plugin_cache *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int n = snprintf(c->dir, sizeof c->dir, "%s/adfunnel-plugins-XXXXXX",
                     parent);
    if (n < 0 || (size_t)n >= sizeof c->dir || !mkdtemp(c->dir)) {
        snprintf(err, errlen, "plugin cache: cannot create a directory in "
                 "%s: %s", parent, n < 0 || (size_t)n >= sizeof c->dir
                 ? "path too long" : strerror(errno));
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void
copy_path(const af_plugin_cache *c, const char *sha, char *path, size_t n)
{
    snprintf(path, n, "%s/%s.so", c->dir, sha);
}

void
af_plugin_cache_free(af_plugin_cache *c)
{
    if (!c)
        return;
    char path[PATH_MAX + 80];
    for (uint32_t i = 0; i < c->n; i++) {
        copy_path(c, c->e[i].sha, path, sizeof path);
        unlink(path);
    }
    rmdir(c->dir);
    pthread_mutex_destroy(&c->lock);
    free(c->e);
    free(c);
}

const char *
af_plugin_cache_dir(const af_plugin_cache *c)
{
    return c->dir;
}

static struct entry *
find(af_plugin_cache *c, const char *sha)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].sha, sha) == 0)
            return &c->e[i];
    return NULL;
}

/* Read all of src (a regular file, at most the size limit) into *buf. */
static int
read_source(const char *src, unsigned char **buf, size_t *len, char *err,
            size_t errlen)
{
    int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail(err, errlen, errno == ENOENT ? AF_ENOENT : AF_EIO,
                    "%s: %s", src, strerror(errno));
    struct stat st;
    int rc = AF_OK;
    if (fstat(fd, &st) != 0)
        rc = fail(err, errlen, AF_EIO, "%s: %s", src, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = fail(err, errlen, AF_EINVAL, "%s: %s", src, "not a regular file");
    else if ((size_t)st.st_size > AF_PLUGIN_CACHE_MAX_FILE)
        rc = fail(err, errlen, AF_ELIMIT, "%s: %s", src,
                  "larger than the 256 MiB plugin limit");
    if (rc != AF_OK) {
        close(fd);
        return rc;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    unsigned char *b = malloc(cap ? cap : 1);
    if (!b) {
        close(fd);
        return fail(err, errlen, AF_ENOMEM, "%s: %s", src, "out of memory");
    }
    /* The file may change while we read: whatever we read is what we hash
     * and copy, and a short read just gives a shorter (refused) file. */
    while (n < cap) {
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fail(err, errlen, AF_EIO, "%s: %s", src, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc != AF_OK) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return AF_OK;
}

static int
write_all(int fd, const unsigned char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write the copy under a temporary name and rename it into place.  Called
 * with the lock held (the temporary name uses the sequence number). */
static int
write_copy(af_plugin_cache *c, const char *src, const char *sha,
           const unsigned char *b, size_t n, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 80], path[PATH_MAX + 80];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%llu", c->dir,
             (unsigned long long)++c->tmp_seq);
    copy_path(c, sha, path, sizeof path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0500);
    if (fd < 0)
        return fail(err, errlen, AF_EIO, "%s: cannot write the cache copy: %s",
                    src, strerror(errno));
    int ok = write_all(fd, b, n) == 0;
    ok &= close(fd) == 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fail(err, errlen, AF_EIO, "%s: cannot write the cache copy: %s",
                    src, strerror(e));
    }
    return AF_OK;
}

static struct entry *
add_entry(af_plugin_cache *c, const char *sha)
{
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 16;
        struct entry *ne = realloc(c->e, cap * sizeof *ne);
        if (!ne)
            return NULL;
        c->e = ne;
        c->cap = cap;
    }
    struct entry *e = &c->e[c->n++];
    memcpy(e->sha, sha, sizeof e->sha);
    e->refs = 0;
    return e;
}

int
af_plugin_cache_acquire(af_plugin_cache *c, const char *src, char sha[65],
                        char *path, size_t pathlen, char *err, size_t errlen)
{
    unsigned char *b;
    size_t n;
    int rc = read_source(src, &b, &n, err, errlen);
    if (rc != AF_OK)
        return rc;
    af_sha256_buf(b, n, sha);
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, sha);
    if (!e) {
        rc = write_copy(c, src, sha, b, n, err, errlen);
        if (rc == AF_OK && !(e = add_entry(c, sha))) {
            char p[PATH_MAX + 80];
            copy_path(c, sha, p, sizeof p);
            unlink(p);
            rc = fail(err, errlen, AF_ENOMEM, "%s: %s", src, "out of memory");
        }
    }
    if (rc == AF_OK) {
        e->refs++;
        copy_path(c, sha, path, pathlen);
    }
    pthread_mutex_unlock(&c->lock);
    free(b);
    return rc;
}

int
af_plugin_cache_retain(af_plugin_cache *c, const char *sha, char *path,
                       size_t pathlen)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, sha);
    if (e) {
        e->refs++;
        copy_path(c, sha, path, pathlen);
    }
    pthread_mutex_unlock(&c->lock);
    return e ? AF_OK : AF_ENOENT;
}

void
af_plugin_cache_release(af_plugin_cache *c, const char *sha)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, sha);
    if (e && --e->refs == 0) {
        char path[PATH_MAX + 80];
        copy_path(c, sha, path, sizeof path);
        unlink(path);
        *e = c->e[--c->n];
    }
    pthread_mutex_unlock(&c->lock);
}

uint32_t
af_plugin_cache_count(af_plugin_cache *c)
{
    pthread_mutex_lock(&c->lock);
    uint32_t n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}
