/*
 * avail_file.h -- reading an availability file (ad flight dates): a TSV with
 * a header naming its columns, in any order,
 *
 *   ad_id            a catalog ad id (required)
 *   available_from   unix seconds; the ad is not served before (required)
 *   available_until  unix seconds; nor from then on (optional; absent or
 *                    empty: no end)
 *
 * Shared by the `availability` filter and the `fresh` retriever (which
 * includes it from here), so both read the file one way.  Header-only and
 * dependent on the public ABI only; every function is static.
 */
#ifndef AF_PLUGIN_AVAIL_FILE_H
#define AF_PLUGIN_AVAIL_FILE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <adfunnel/adfunnel.h>

#define AVAIL_MAX_LINE 4096
#define AVAIL_MAX_COLS 16

struct avail_id_row {
    uint64_t id;
    uint32_t row;
};

static inline int
avail_id_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct avail_id_row *)a)->id;
    uint64_t y = ((const struct avail_id_row *)b)->id;
    return (x > y) - (x < y);
}

static inline int64_t
avail_find_row(const struct avail_id_row *ids, uint32_t n, uint64_t id)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ids[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo].id == id ? (int64_t)ids[lo].row : -1;
}

static inline int
avail_parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno)
        return -1;
    *out = v;
    return 0;
}

/* Split a line (modified in place) on tabs; returns the field count. */
static inline int
avail_split(char *line, char **f)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line;; n++) {
        if (n == AVAIL_MAX_COLS)
            return -1;
        f[n] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            return n + 1;
        *tab = '\0';
        p = tab + 1;
    }
}

struct avail_columns {
    int id, from, until, n;
};

static inline int
avail_read_header(char *line, struct avail_columns *c, const char *path, char *err,
            size_t errlen)
{
    char *f[AVAIL_MAX_COLS];
    c->n = avail_split(line, f);
    c->id = c->from = c->until = -1;
    for (int i = 0; i < c->n; i++) {
        int *slot = !strcmp(f[i], "ad_id")             ? &c->id
                    : !strcmp(f[i], "available_from")  ? &c->from
                    : !strcmp(f[i], "available_until") ? &c->until
                                                       : NULL;
        if (!slot) {
            snprintf(err, errlen, "%s:1: unknown column \"%s\" (columns: "
                                  "ad_id, available_from, available_until)",
                     path, f[i]);
            return AF_EINVAL;
        }
        *slot = i;
    }
    if (c->id < 0 || c->from < 0) {
        snprintf(err, errlen, "%s:1: the header must name ad_id and "
                              "available_from", path);
        return AF_EINVAL;
    }
    return AF_OK;
}

/*
 * Read `path` into from[row] / until[row] for the catalog rows it lists
 * (other rows are left as they are).  AF_OK, AF_ENOMEM, or AF_EINVAL with
 * "path:line: reason" in err.
 */
static inline int
avail_file_read(const struct af_catalog *cat, const char *path,
                int64_t *from, int64_t *until, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return AF_EINVAL;
    }
    struct avail_id_row *ids = malloc((cat->n_ads + 1) * sizeof *ids);
    if (!ids) {
        fclose(fp);
        return AF_ENOMEM;
    }
    for (uint32_t r = 0; r < cat->n_ads; r++)
        ids[r] = (struct avail_id_row){cat->ad_id[r], r};
    qsort(ids, cat->n_ads, sizeof *ids, avail_id_cmp);

    char line[AVAIL_MAX_LINE];
    struct avail_columns col;
    int rc = AF_OK, lineno = 1;
    if (!fgets(line, sizeof line, fp)) {
        snprintf(err, errlen, "%s: empty file (expected a header line)", path);
        rc = AF_EINVAL;
    } else {
        rc = avail_read_header(line, &col, path, err, errlen);
    }
    while (rc == AF_OK && fgets(line, sizeof line, fp)) {
        lineno++;
        char *f[AVAIL_MAX_COLS];
        if (line[0] == '\n' || line[0] == '\0')
            continue;
        int n = avail_split(line, f);
        int64_t id, t_from, t_until = INT64_MAX;
        if (n != col.n) {
            snprintf(err, errlen, "%s:%d: %d fields, the header has %d", path,
                     lineno, n, col.n);
            rc = AF_EINVAL;
        } else if (avail_parse_i64(f[col.id], &id) || id < 0) {
            snprintf(err, errlen, "%s:%d: ad_id \"%s\" is not an id", path,
                     lineno, f[col.id]);
            rc = AF_EINVAL;
        } else if (avail_parse_i64(f[col.from], &t_from)) {
            snprintf(err, errlen, "%s:%d: available_from \"%s\" is not unix "
                                  "seconds", path, lineno, f[col.from]);
            rc = AF_EINVAL;
        } else if (col.until >= 0 && f[col.until][0] &&
                   avail_parse_i64(f[col.until], &t_until)) {
            snprintf(err, errlen, "%s:%d: available_until \"%s\" is not unix "
                                  "seconds", path, lineno, f[col.until]);
            rc = AF_EINVAL;
        } else {
            int64_t row = avail_find_row(ids, cat->n_ads, (uint64_t)id);
            if (row < 0) {
                snprintf(err, errlen, "%s:%d: ad %lld is not in the catalog",
                         path, lineno, (long long)id);
                rc = AF_EINVAL;
            } else {
                from[row] = t_from;
                until[row] = t_until;
            }
        }
    }
    free(ids);
    fclose(fp);
    return rc;
}

#endif
