/*
 * wfile.h -- writing a world file atomically: the data goes to a temporary
 * file beside the target, which replaces the target only when complete, so
 * a reader (or a server loading the world) never sees half a file.
 */
#ifndef AF_CORE_WFILE_H
#define AF_CORE_WFILE_H

#include <stddef.h>
#include <stdio.h>

struct af_wfile {
    FILE *f;         /* write the contents here                           */
    char path[4096]; /* the target                                        */
    char tmp[4096];  /* the temporary file                                */
};

/* Create dir/name's temporary file.  0 or a negative AF_E* (err set). */
int af_wfile_open(struct af_wfile *w, const char *dir, const char *name,
                  char *err, size_t errlen);
/* Flush, fsync, close and rename over the target.  On failure the
 * temporary file is removed.  0 or a negative AF_E* (err set). */
int af_wfile_commit(struct af_wfile *w, char *err, size_t errlen);
/* Close and remove the temporary file. */
void af_wfile_abort(struct af_wfile *w);

/* mkdir -p.  0 or AF_EIO with "dir: reason" in err. */
int af_mkdir_p(const char *dir, char *err, size_t errlen);

#endif
