/*
 * reader.c -- the data readers (reader.h).  One line source (bounded
 * buffer, line numbers, rejections) under per-format row builders.
 */
#include "learn/reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "learn/strmap.h"
#include "util/strbuf.h"

#define MAX_COLUMNS 4096
#define ML_GENRES 19
#define ML_ITEM_COLUMNS 24

enum fmt { F_DELIM, F_LIBSVM, F_LIBFFM, F_MOVIELENS, F_IPINYOU };

/* A file read line by line. */
struct lines {
    FILE *f;
    char path[1024];
    uint64_t line;   /* 1-based number of the line in buf */
    char *buf;       /* AF_READER_MAX_LINE + 2 bytes      */
    size_t len;
};

/* MovieLens side tables: user and item attributes by id. */
struct ml_side {
    struct af_strmap users, items;
    char **user_cols;   /* 4 per user: age, gender, occupation, zip      */
    char **item_cols;   /* 2 per item: release_date, genres              */
    uint32_t cap_users, cap_items;
};

struct af_reader {
    enum fmt fmt;
    char sep;
    struct lines in;
    char **names;
    uint32_t n_cols;
    const char **cols;
    char *rowbuf;        /* built columns (libffm, movielens, ipinyou)  */
    size_t rowbuf_cap;
    uint64_t rows, rejected;
    af_buf report;
    char where[1100];
    struct ml_side ml;
    int16_t *ip_field;   /* ipinyou: field of each feature index, -1 none */
    uint32_t ip_n_index;
    char **items;        /* libffm: the items of the current line        */
};

/* --- ## Lines and rejections --- */

static int
lines_open(struct lines *l, const char *root, const char *file, char *err,
           size_t errlen)
{
    memset(l, 0, sizeof *l);
    if (file[0] == '/' || root == NULL || root[0] == '\0')
        snprintf(l->path, sizeof l->path, "%s", file);
    else
        snprintf(l->path, sizeof l->path, "%s/%s", root, file);
    l->f = fopen(l->path, "rb");
    if (l->f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", l->path, strerror(errno));
        return errno == ENOENT ? AF_ENOENT : AF_EIO;
    }
    l->buf = malloc(AF_READER_MAX_LINE + 2);
    if (l->buf == NULL) {
        fclose(l->f);
        l->f = NULL;
        snprintf(err, errlen, "%s: out of memory", l->path);
        return AF_ENOMEM;
    }
    return 0;
}

static void
lines_close(struct lines *l)
{
    if (l->f)
        fclose(l->f);
    free(l->buf);
    memset(l, 0, sizeof *l);
}

static void
reject_at(struct af_reader *r, const char *path, uint64_t line,
          const char *fmt, va_list ap)
{
    r->rejected++;
    if (r->rejected > AF_READER_KEEP)
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    af_buf_printf(&r->report, "%s:%llu: %s\n", path, (unsigned long long)line,
                  msg);
}

static void
reject(struct af_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reject(struct af_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reject_at(r, r->in.path, r->in.line, fmt, ap);
    va_end(ap);
}

void
af_reader_reject(struct af_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reject_at(r, r->in.path, r->in.line, fmt, ap);
    va_end(ap);
}

/* Next line of l into l->buf without its '\n': 1, 0 at the end, -1 on an
 * I/O error.  An overlong line is consumed and reported through r. */
static int
next_line(struct af_reader *r, struct lines *l)
{
    for (;;) {
        if (fgets(l->buf, AF_READER_MAX_LINE + 2, l->f) == NULL)
            return ferror(l->f) ? -1 : 0;
        l->line++;
        size_t n = strlen(l->buf);
        if (n > 0 && l->buf[n - 1] == '\n') {
            l->buf[--n] = '\0';
            l->len = n;
            return 1;
        }
        if (n <= AF_READER_MAX_LINE) { /* last line, no newline */
            l->len = n;
            return 1;
        }
        int c;
        while ((c = getc(l->f)) != EOF && c != '\n')
            ;
        if (r != NULL) {
            r->rejected++;
            if (r->rejected <= AF_READER_KEEP)
                af_buf_printf(&r->report, "%s:%llu: line longer than %u bytes\n",
                              l->path, (unsigned long long)l->line,
                              AF_READER_MAX_LINE);
        }
    }
}

/* Split s in place on sep; returns the count (more than max: max + 1). */
static uint32_t
split_inplace(char *s, char sep, char **out, uint32_t max)
{
    uint32_t n = 0;
    for (;;) {
        char *q = strchr(s, sep);
        if (n < max)
            out[n] = s;
        n++;
        if (!q || n > max)
            break;
        *q = '\0';
        s = q + 1;
    }
    return n;
}

/* Whitespace-separated items of s, in place. */
static uint32_t
split_ws(char *s, char **out, uint32_t max)
{
    uint32_t n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\f' || *s == '\v')
            s++;
        if (*s == '\0')
            return n;
        if (n == max)
            return max + 1;
        out[n++] = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\f' &&
               *s != '\v')
            s++;
        if (*s)
            *s++ = '\0';
    }
}

static int
set_names(struct af_reader *r, char *const *names, uint32_t n, char *err,
          size_t errlen)
{
    r->names = calloc(n, sizeof *r->names);
    r->cols = calloc(n, sizeof *r->cols);
    if (r->names == NULL || r->cols == NULL) {
        snprintf(err, errlen, "%s: out of memory", r->in.path);
        return AF_ENOMEM;
    }
    r->n_cols = n;
    for (uint32_t i = 0; i < n; i++)
        if ((r->names[i] = strdup(names[i])) == NULL) {
            snprintf(err, errlen, "%s: out of memory", r->in.path);
            return AF_ENOMEM;
        }
    return 0;
}

static int
rowbuf_reserve(struct af_reader *r, size_t n)
{
    if (n <= r->rowbuf_cap)
        return 0;
    size_t cap = r->rowbuf_cap ? r->rowbuf_cap : 4096;
    while (cap < n)
        cap *= 2;
    char *b = realloc(r->rowbuf, cap);
    if (b == NULL)
        return -1;
    r->rowbuf = b;
    r->rowbuf_cap = cap;
    return 0;
}

/* --- ## Delimited (tsv, csv) --- */

static int
open_delim(struct af_reader *r, const struct af_data_cfg *d, char *err,
           size_t errlen)
{
    r->sep = d->sep;
    if (!d->header)
        return set_names(r, d->columns, d->n_columns, err, errlen);
    int rc = next_line(NULL, &r->in);
    if (rc <= 0) {
        snprintf(err, errlen, "%s: %s", r->in.path,
                 rc < 0 ? "read error" : "empty file: no header line");
        return rc < 0 ? AF_EIO : AF_EINVAL;
    }
    char **tmp = malloc(MAX_COLUMNS * sizeof *tmp);
    if (tmp == NULL) {
        snprintf(err, errlen, "%s: out of memory", r->in.path);
        return AF_ENOMEM;
    }
    uint32_t n = split_inplace(r->in.buf, r->sep, tmp, MAX_COLUMNS);
    if (n > MAX_COLUMNS) {
        free(tmp);
        snprintf(err, errlen, "%s:1: more than %d columns", r->in.path,
                 MAX_COLUMNS);
        return AF_EINVAL;
    }
    if (d->columns != NULL && d->n_columns != n) {
        free(tmp);
        snprintf(err, errlen, "%s:1: the header has %u columns, the spec "
                 "lists %u", r->in.path, n, d->n_columns);
        return AF_EINVAL;
    }
    rc = set_names(r, tmp, n, err, errlen);
    free(tmp);
    return rc;
}

static int
next_delim(struct af_reader *r)
{
    uint32_t n = split_inplace(r->in.buf, r->sep, (char **)r->cols, r->n_cols);
    if (n != r->n_cols) {
        reject(r, "expected %u columns, got %s%u", r->n_cols,
               n > r->n_cols ? "more than " : "", n > r->n_cols ? r->n_cols : n);
        return 0;
    }
    return 1;
}

/* --- ## libsvm, libffm --- */

static int
next_libsvm(struct af_reader *r)
{
    char *items[2];
    char *s = r->in.buf;
    uint32_t n = split_ws(s, items, 1);
    if (n == 0) {
        reject(r, "empty line");
        return 0;
    }
    r->cols[0] = items[0];
    /* items[0] was NUL-terminated in place; the rest follows it. */
    char *rest = items[0] + strlen(items[0]);
    if (n > 1)
        rest++;
    /* Collapse whitespace runs into single spaces. */
    char *w = rest, *p = rest;
    int space = 1;
    for (; *p; p++) {
        int ws = *p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v';
        if (ws) {
            if (!space)
                *w++ = ' ';
            space = 1;
        } else {
            *w++ = *p;
            space = 0;
        }
    }
    if (w > rest && w[-1] == ' ')
        w--;
    *w = '\0';
    r->cols[1] = rest;
    return 1;
}

static int
next_libffm(struct af_reader *r)
{
    if (r->items == NULL &&
        (r->items = malloc((MAX_COLUMNS * 4 + 1) * sizeof *r->items)) == NULL) {
        reject(r, "out of memory");
        return 0;
    }
    char **it = r->items;
    uint32_t n = split_ws(r->in.buf, it, MAX_COLUMNS * 4);
    int ok = 1;
    if (n == 0 || n > MAX_COLUMNS * 4) {
        reject(r, n ? "too many items" : "empty line");
        ok = 0;
    }
    size_t need = r->in.len + r->n_cols + 16;
    if (ok && rowbuf_reserve(r, need) != 0) {
        reject(r, "out of memory");
        ok = 0;
    }
    /* Each item "field:feature:value" goes to the column named field. */
    char *w = r->rowbuf;
    for (uint32_t c = 1; ok && c < r->n_cols; c++) {
        r->cols[c] = w;
        int first = 1;
        for (uint32_t i = 1; i < n; i++) {
            char *colon = strchr(it[i], ':');
            if (colon == NULL || strchr(colon + 1, ':') == NULL) {
                reject(r, "item %u \"%.40s\" is not field:feature:value", i,
                       it[i]);
                ok = 0;
                break;
            }
            size_t fl = (size_t)(colon - it[i]);
            if (strlen(r->names[c]) != fl || memcmp(r->names[c], it[i], fl) != 0)
                continue;
            if (!first)
                *w++ = ',';
            size_t rest = strlen(colon + 1);
            memcpy(w, colon + 1, rest);
            w += rest;
            first = 0;
        }
        *w++ = '\0';
    }
    /* Every item must belong to a declared field. */
    for (uint32_t i = 1; ok && i < n; i++) {
        char *colon = strchr(it[i], ':');
        size_t fl = (size_t)(colon - it[i]);
        int found = 0;
        for (uint32_t c = 1; c < r->n_cols && !found; c++)
            found = strlen(r->names[c]) == fl &&
                    memcmp(r->names[c], it[i], fl) == 0;
        if (!found) {
            reject(r, "field \"%.*s\" is not in data.columns", (int)fl, it[i]);
            ok = 0;
        }
    }
    if (ok)
        r->cols[0] = it[0];
    return ok;
}

/* --- ## MovieLens 100K --- */

static const char *const ml_columns[] = {
    "user_id", "item_id", "rating", "timestamp", "age", "gender",
    "occupation", "zip", "release_date", "genres"};

static int
ml_store(char ***cols, uint32_t *cap, uint32_t id, uint32_t width,
         char *const *vals)
{
    if (id >= *cap) {
        uint32_t nc = *cap ? *cap * 2 : 1024;
        while (nc <= id)
            nc *= 2;
        char **n = realloc(*cols, (size_t)nc * width * sizeof *n);
        if (n == NULL)
            return -1;
        memset(n + (size_t)*cap * width, 0,
               (size_t)(nc - *cap) * width * sizeof *n);
        *cols = n;
        *cap = nc;
    }
    for (uint32_t i = 0; i < width; i++)
        if (((*cols)[(size_t)id * width + i] = strdup(vals[i])) == NULL)
            return -1;
    return 0;
}

static int
ml_read_users(struct af_reader *r, const char *dir, char *err, size_t errlen)
{
    struct lines l;
    int rc = lines_open(&l, dir, "u.user", err, errlen);
    if (rc != 0)
        return rc;
    while ((rc = next_line(r, &l)) == 1) {
        char *p[6];
        if (split_inplace(l.buf, '|', p, 5) != 5) {
            r->rejected++;
            if (r->rejected <= AF_READER_KEEP)
                af_buf_printf(&r->report, "%s:%llu: expected 5 |-separated "
                              "columns\n", l.path, (unsigned long long)l.line);
            continue;
        }
        int added;
        uint32_t id = af_strmap_intern(&r->ml.users, p[0], strlen(p[0]), &added);
        if (id == AF_STRMAP_NONE ||
            ml_store(&r->ml.user_cols, &r->ml.cap_users, id, 4, p + 1) != 0) {
            lines_close(&l);
            snprintf(err, errlen, "%s: out of memory", dir);
            return AF_ENOMEM;
        }
    }
    lines_close(&l);
    if (rc < 0) {
        snprintf(err, errlen, "%s/u.user: read error", dir);
        return AF_EIO;
    }
    return 0;
}

static int
ml_read_items(struct af_reader *r, const char *dir, char *err, size_t errlen)
{
    struct lines l;
    int rc = lines_open(&l, dir, "u.item", err, errlen);
    if (rc != 0)
        return rc;
    while ((rc = next_line(r, &l)) == 1) {
        char *p[ML_ITEM_COLUMNS + 1];
        if (split_inplace(l.buf, '|', p, ML_ITEM_COLUMNS) != ML_ITEM_COLUMNS) {
            r->rejected++;
            if (r->rejected <= AF_READER_KEEP)
                af_buf_printf(&r->report, "%s:%llu: expected %d |-separated "
                              "columns\n", l.path, (unsigned long long)l.line,
                              ML_ITEM_COLUMNS);
            continue;
        }
        char genres[ML_GENRES * 4];
        size_t gl = 0;
        for (int g = 0; g < ML_GENRES; g++)
            if (strcmp(p[5 + g], "1") == 0)
                gl += (size_t)snprintf(genres + gl, sizeof genres - gl, "%s%d",
                                       gl ? "," : "", g);
        genres[gl] = '\0';
        char *vals[2] = {p[2], genres};
        int added;
        uint32_t id = af_strmap_intern(&r->ml.items, p[0], strlen(p[0]), &added);
        if (id == AF_STRMAP_NONE ||
            ml_store(&r->ml.item_cols, &r->ml.cap_items, id, 2, vals) != 0) {
            lines_close(&l);
            snprintf(err, errlen, "%s: out of memory", dir);
            return AF_ENOMEM;
        }
    }
    lines_close(&l);
    if (rc < 0) {
        snprintf(err, errlen, "%s/u.item: read error", dir);
        return AF_EIO;
    }
    return 0;
}

static int
open_movielens(struct af_reader *r, const char *dir, char *err, size_t errlen)
{
    af_strmap_init(&r->ml.users);
    af_strmap_init(&r->ml.items);
    int rc = ml_read_users(r, dir, err, errlen);
    if (rc == 0)
        rc = ml_read_items(r, dir, err, errlen);
    if (rc == 0)
        rc = lines_open(&r->in, dir, "u.data", err, errlen);
    if (rc == 0)
        rc = set_names(r, (char *const *)ml_columns, 10, err, errlen);
    return rc;
}

static int
next_movielens(struct af_reader *r)
{
    char *p[5];
    if (split_inplace(r->in.buf, '\t', p, 4) != 4) {
        reject(r, "expected 4 tab-separated columns");
        return 0;
    }
    uint32_t u = af_strmap_find(&r->ml.users, p[0], strlen(p[0]));
    uint32_t it = af_strmap_find(&r->ml.items, p[1], strlen(p[1]));
    if (u == AF_STRMAP_NONE || it == AF_STRMAP_NONE) {
        reject(r, "%s id \"%.20s\" is not in u.%s",
               u == AF_STRMAP_NONE ? "user" : "item",
               u == AF_STRMAP_NONE ? p[0] : p[1],
               u == AF_STRMAP_NONE ? "user" : "item");
        return 0;
    }
    for (int i = 0; i < 4; i++)
        r->cols[i] = p[i];
    for (int i = 0; i < 4; i++)
        r->cols[4 + i] = r->ml.user_cols[(size_t)u * 4 + i];
    r->cols[8] = r->ml.item_cols[(size_t)it * 2];
    r->cols[9] = r->ml.item_cols[(size_t)it * 2 + 1];
    return 1;
}

static void
close_movielens(struct af_reader *r)
{
    for (size_t i = 0; r->ml.user_cols && i < (size_t)r->ml.cap_users * 4; i++)
        free(r->ml.user_cols[i]);
    for (size_t i = 0; r->ml.item_cols && i < (size_t)r->ml.cap_items * 2; i++)
        free(r->ml.item_cols[i]);
    free(r->ml.user_cols);
    free(r->ml.item_cols);
    af_strmap_free(&r->ml.users);
    af_strmap_free(&r->ml.items);
}

/* --- ## iPinYou --- */

struct fi_entry {
    uint32_t index;
    uint32_t name; /* field id in the names map */
};

static int
cmp_fi(const void *a, const void *b)
{
    uint32_t x = ((const struct fi_entry *)a)->index;
    uint32_t y = ((const struct fi_entry *)b)->index;
    return (x > y) - (x < y);
}

/* Fields ordered by their smallest index; ip_field[index] = column - 1. */
static int
ipinyou_fields(struct af_reader *r, struct fi_entry *e, size_t n,
               struct af_strmap *fields, char *err, size_t errlen)
{
    qsort(e, n, sizeof *e, cmp_fi);
    uint32_t max = n ? e[n - 1].index : 0;
    r->ip_field = malloc(((size_t)max + 1) * sizeof *r->ip_field);
    uint32_t *col_of = malloc(((size_t)fields->n + 1) * sizeof *col_of);
    char **names = calloc((size_t)fields->n + 1, sizeof *names);
    if (!r->ip_field || !col_of || !names) {
        free(col_of);
        free(names);
        snprintf(err, errlen, "out of memory");
        return AF_ENOMEM;
    }
    r->ip_n_index = max + 1;
    for (uint32_t i = 0; i <= max; i++)
        r->ip_field[i] = -1;
    for (uint32_t i = 0; i < fields->n; i++)
        col_of[i] = UINT32_MAX;
    uint32_t nc = 1;
    names[0] = "label";
    for (size_t i = 0; i < n; i++) {
        uint32_t fid = e[i].name;
        if (col_of[fid] == UINT32_MAX) {
            col_of[fid] = nc;
            names[nc++] = (char *)af_strmap_key(fields, fid, NULL);
        }
        r->ip_field[e[i].index] = (int16_t)(col_of[fid] - 1);
    }
    int rc = nc > 32767 ? AF_ELIMIT : set_names(r, names, nc, err, errlen);
    if (nc > 32767)
        snprintf(err, errlen, "too many featindex fields");
    free(col_of);
    free(names);
    return rc;
}

static int
open_ipinyou(struct af_reader *r, const char *root, const char *featindex,
             char *err, size_t errlen)
{
    struct lines l;
    int rc = lines_open(&l, root, featindex, err, errlen);
    if (rc != 0)
        return rc;
    struct af_strmap fields;
    af_strmap_init(&fields);
    struct fi_entry *e = NULL;
    size_t n = 0, cap = 0;
    while (rc == 0 && next_line(r, &l) == 1) {
        char *tab = strchr(l.buf, '\t');
        char *end;
        errno = 0;
        unsigned long idx = tab ? strtoul(tab + 1, &end, 10) : 0;
        if (!tab || errno || *end || end == tab + 1 || idx >= (1u << 28)) {
            r->rejected++;
            if (r->rejected <= AF_READER_KEEP)
                af_buf_printf(&r->report, "%s:%llu: expected name<TAB>index\n",
                              l.path, (unsigned long long)l.line);
            continue;
        }
        char *colon = memchr(l.buf, ':', (size_t)(tab - l.buf));
        size_t fl = (size_t)((colon ? colon : tab) - l.buf);
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            struct fi_entry *ne = realloc(e, cap * sizeof *ne);
            if (ne == NULL) {
                rc = AF_ENOMEM;
                break;
            }
            e = ne;
        }
        e[n].index = (uint32_t)idx;
        e[n].name = af_strmap_intern(&fields, l.buf, fl, NULL);
        if (e[n].name == AF_STRMAP_NONE)
            rc = AF_ENOMEM;
        n++;
    }
    if (rc == 0 && n == 0) {
        snprintf(err, errlen, "%s: no feature index entries", l.path);
        rc = AF_EINVAL;
    } else if (rc == AF_ENOMEM) {
        snprintf(err, errlen, "%s: out of memory", l.path);
    }
    lines_close(&l);
    if (rc == 0)
        rc = ipinyou_fields(r, e, n, &fields, err, errlen);
    free(e);
    af_strmap_free(&fields);
    return rc;
}

static int
next_ipinyou(struct af_reader *r)
{
    char *it[1024];
    uint32_t n = split_ws(r->in.buf, it, 1023);
    if (n == 0 || n > 1023) {
        reject(r, n ? "too many items" : "empty line");
        return 0;
    }
    if (rowbuf_reserve(r, (size_t)r->n_cols * 12) != 0) {
        reject(r, "out of memory");
        return 0;
    }
    for (uint32_t c = 1; c < r->n_cols; c++)
        r->cols[c] = "";
    r->cols[0] = it[0];
    char *w = r->rowbuf;
    for (uint32_t i = 1; i < n; i++) {
        char *end;
        errno = 0;
        unsigned long idx = strtoul(it[i], &end, 10);
        if (errno || end == it[i] || *end != ':' || idx >= r->ip_n_index ||
            r->ip_field[idx] < 0) {
            reject(r, "item \"%.40s\" is not index:value with an index of "
                   "the featindex file", it[i]);
            return 0;
        }
        uint32_t c = (uint32_t)r->ip_field[idx] + 1;
        if (r->cols[c][0] != '\0') {
            reject(r, "two indices for field %s", r->names[c]);
            return 0;
        }
        int len = snprintf(w, 12, "%lu", idx);
        r->cols[c] = w;
        w += len + 1;
    }
    return 1;
}

/* --- ## Entry points --- */

struct af_reader *
af_reader_open(const struct af_data_cfg *d, const char *root, char *err,
               size_t errlen)
{
    struct af_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    af_buf_init(&r->report);
    int rc;
    if (strcmp(d->format, "movielens") == 0) {
        r->fmt = F_MOVIELENS;
        char dir[1024];
        if (d->file[0] == '/' || root == NULL || !root[0])
            snprintf(dir, sizeof dir, "%s", d->file);
        else
            snprintf(dir, sizeof dir, "%s/%s", root, d->file);
        rc = open_movielens(r, dir, err, errlen);
    } else {
        rc = lines_open(&r->in, root, d->file, err, errlen);
        if (rc == 0) {
            if (strcmp(d->format, "tsv") == 0 || strcmp(d->format, "csv") == 0) {
                r->fmt = F_DELIM;
                rc = open_delim(r, d, err, errlen);
            } else if (strcmp(d->format, "libsvm") == 0) {
                r->fmt = F_LIBSVM;
                char *names[2] = {"label", "features"};
                rc = set_names(r, names, 2, err, errlen);
            } else if (strcmp(d->format, "libffm") == 0) {
                r->fmt = F_LIBFFM;
                if (d->columns == NULL || d->n_columns < 2 ||
                    strcmp(d->columns[0], "label") != 0) {
                    snprintf(err, errlen, "libffm: data.columns must be "
                             "{ \"label\", field ids... }");
                    rc = AF_EINVAL;
                } else {
                    rc = set_names(r, d->columns, d->n_columns, err, errlen);
                }
            } else if (strcmp(d->format, "ipinyou") == 0) {
                r->fmt = F_IPINYOU;
                rc = open_ipinyou(r, root, d->aux, err, errlen);
            } else {
                snprintf(err, errlen, "unknown data format \"%s\"", d->format);
                rc = AF_EINVAL;
            }
        }
    }
    if (rc != 0) {
        af_reader_close(r);
        return NULL;
    }
    return r;
}

void
af_reader_close(struct af_reader *r)
{
    if (r == NULL)
        return;
    lines_close(&r->in);
    for (uint32_t i = 0; r->names && i < r->n_cols; i++)
        free(r->names[i]);
    free(r->names);
    free(r->cols);
    free(r->rowbuf);
    free(r->ip_field);
    free(r->items);
    if (r->fmt == F_MOVIELENS)
        close_movielens(r);
    af_buf_free(&r->report);
    free(r);
}

uint32_t
af_reader_n_columns(const struct af_reader *r)
{
    return r->n_cols;
}

const char *
af_reader_column(const struct af_reader *r, uint32_t i)
{
    return i < r->n_cols ? r->names[i] : NULL;
}

int
af_reader_column_index(const struct af_reader *r, const char *name)
{
    for (uint32_t i = 0; i < r->n_cols; i++)
        if (strcmp(r->names[i], name) == 0)
            return (int)i;
    return -1;
}

int
af_reader_next(struct af_reader *r, const char *const **cols, char *err,
               size_t errlen)
{
    for (;;) {
        int rc = next_line(r, &r->in);
        if (rc < 0) {
            snprintf(err, errlen, "%s:%llu: read error", r->in.path,
                     (unsigned long long)r->in.line + 1);
            return AF_EIO;
        }
        if (rc == 0)
            return 0;
        int ok;
        switch (r->fmt) {
        case F_DELIM: ok = next_delim(r); break;
        case F_LIBSVM: ok = next_libsvm(r); break;
        case F_LIBFFM: ok = next_libffm(r); break;
        case F_MOVIELENS: ok = next_movielens(r); break;
        default: ok = next_ipinyou(r); break;
        }
        if (ok) {
            r->rows++;
            *cols = r->cols;
            return 1;
        }
    }
}

uint64_t
af_reader_rows(const struct af_reader *r)
{
    return r->rows;
}

uint64_t
af_reader_rejected(const struct af_reader *r)
{
    return r->rejected;
}

const char *
af_reader_report(const struct af_reader *r)
{
    return r->report.data ? r->report.data : "";
}

const char *
af_reader_where(struct af_reader *r)
{
    snprintf(r->where, sizeof r->where, "%s:%llu", r->in.path,
             (unsigned long long)r->in.line);
    return r->where;
}
