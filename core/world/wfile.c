/* wfile.c -- atomic world files (see wfile.h). */
#include "world/wfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "adfunnel/af_errno.h"

int
af_wfile_open(struct af_wfile *w, const char *dir, const char *name,
              char *err, size_t errlen)
{
    w->f = NULL;
    if ((size_t)snprintf(w->path, sizeof w->path, "%s/%s", dir, name) >=
            sizeof w->path ||
        (size_t)snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", w->path,
                         (long)getpid()) >= sizeof w->tmp) {
        snprintf(err, errlen, "%s: path too long", dir);
        return AF_EINVAL;
    }
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        snprintf(err, errlen, "%s: %s", w->tmp, strerror(errno));
        return AF_EIO;
    }
    /* Many small fprintf calls: a large buffer keeps them cheap. */
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    return AF_OK;
}

int
af_wfile_commit(struct af_wfile *w, char *err, size_t errlen)
{
    int bad = fflush(w->f) != 0 || ferror(w->f) || fsync(fileno(w->f)) != 0;
    int saved = errno;
    if (fclose(w->f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    w->f = NULL;
    if (!bad && rename(w->tmp, w->path) != 0) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        snprintf(err, errlen, "%s: %s", w->path, strerror(saved));
        unlink(w->tmp);
        return AF_EIO;
    }
    return AF_OK;
}

void
af_wfile_abort(struct af_wfile *w)
{
    if (w->f)
        fclose(w->f);
    w->f = NULL;
    unlink(w->tmp);
}

int
af_mkdir_p(const char *dir, char *err, size_t errlen)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) {
        snprintf(err, errlen, "'%s': bad directory name", dir);
        return AF_EINVAL;
    }
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char keep = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", buf, strerror(errno));
            return AF_EIO;
        }
        buf[i] = keep;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", dir);
        return AF_EIO;
    }
    return AF_OK;
}
