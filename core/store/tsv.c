/* tsv.c -- strict tab-separated reader (see tsv.h). */
#include "store/tsv.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adfunnel/af_errno.h"

int
af_tsv_fail(const struct af_tsv *t, char *err, size_t errlen, const char *fmt,
            ...)
{
    int n = snprintf(err, errlen, "%s:%u: ", t->path, t->line);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return AF_EINVAL;
}

static int
read_file(struct af_tsv *t, char *err, size_t errlen)
{
    FILE *f = fopen(t->path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
        return AF_EIO;
    }
    int rc = AF_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: cannot determine size", t->path);
        rc = AF_EIO;
    } else if (!(t->buf = malloc((size_t)size + 1))) {
        snprintf(err, errlen, "%s: out of memory", t->path);
        rc = AF_ENOMEM;
    } else if (fread(t->buf, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "%s: read error", t->path);
        rc = AF_EIO;
    } else {
        t->buf[size] = '\0';
        t->len = (size_t)size;
    }
    fclose(f);
    return rc;
}

/* Cut the next line out of buf (in place) and split it at tabs into out[];
 * returns the field count (max+1 when there are too many), or -1 at EOF. */
static int
split_line(struct af_tsv *t, char **out, uint32_t max)
{
    if (t->pos >= t->len)
        return -1;
    char *s = t->buf + t->pos;
    char *nl = memchr(s, '\n', t->len - t->pos);
    char *end = nl ? nl : t->buf + t->len;
    t->pos = (size_t)(end - t->buf) + (nl ? 1 : 0);
    if (end > s && end[-1] == '\r')
        end--;
    *end = '\0';
    t->line++;
    uint32_t n = 0;
    for (;;) {
        if (n == max)
            return (int)max + 1;
        out[n++] = s;
        char *tab = strchr(s, '\t');
        if (!tab)
            break;
        *tab = '\0';
        s = tab + 1;
    }
    return (int)n;
}

static int
bind_schema(struct af_tsv *t, const char *const *schema, uint32_t n,
            char *err, size_t errlen)
{
    for (uint32_t c = 0; c < t->ncols; c++) {
        for (uint32_t d = 0; d < c; d++)
            if (strcmp(t->col[c], t->col[d]) == 0)
                return af_tsv_fail(t, err, errlen, "duplicate column '%s'",
                                   t->col[c]);
        uint32_t s = 0;
        while (s < n && strcmp(schema[s], t->col[c]) != 0)
            s++;
        if (s == n)
            return af_tsv_fail(t, err, errlen, "unknown column '%s'",
                               t->col[c]);
        t->map[s] = c;
    }
    if (t->ncols != n) {
        for (uint32_t s = 0; s < n; s++) {
            uint32_t c = 0;
            while (c < t->ncols && strcmp(schema[s], t->col[c]) != 0)
                c++;
            if (c == t->ncols)
                return af_tsv_fail(t, err, errlen, "missing column '%s'",
                                   schema[s]);
        }
    }
    t->schema = schema;
    return AF_OK;
}

int
af_tsv_open(struct af_tsv *t, const char *path, const char *const *schema,
            uint32_t n, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->path = path;
    int rc = read_file(t, err, errlen);
    if (rc != AF_OK)
        return rc;
    int k = split_line(t, t->col, AF_TSV_MAX_COLS);
    if (k < 0) {
        t->line = 1;
        rc = af_tsv_fail(t, err, errlen, "empty file (expected a header)");
    } else if (k > AF_TSV_MAX_COLS) {
        rc = af_tsv_fail(t, err, errlen, "more than %d columns",
                         AF_TSV_MAX_COLS);
    } else {
        t->ncols = (uint32_t)k;
        rc = bind_schema(t, schema, n, err, errlen);
    }
    if (rc != AF_OK)
        af_tsv_close(t);
    return rc;
}

void
af_tsv_close(struct af_tsv *t)
{
    free(t->buf);
    t->buf = NULL;
    t->len = t->pos = 0;
}

uint32_t
af_tsv_max_rows(const struct af_tsv *t)
{
    uint64_t n = 1;
    const char *p = t->buf + t->pos, *end = t->buf + t->len;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int
af_tsv_next(struct af_tsv *t, char *err, size_t errlen)
{
    int k = split_line(t, t->field, t->ncols);
    if (k < 0)
        return 0;
    if ((uint32_t)k != t->ncols) {
        /* A final line holding nothing is the newline of the last row. */
        if (k == 1 && t->field[0][0] == '\0' && t->pos >= t->len)
            return 0;
        if (k > (int)t->ncols)
            return af_tsv_fail(t, err, errlen,
                               "too many fields (header has %u columns)",
                               t->ncols);
        return af_tsv_fail(t, err, errlen,
                           "%d fields, header has %u columns", k, t->ncols);
    }
    return 1;
}

const char *
af_tsv_str(const struct af_tsv *t, uint32_t c)
{
    return t->field[t->map[c]];
}

int
af_parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int
af_tsv_u64(const struct af_tsv *t, uint32_t c, uint64_t *out, char *err,
           size_t errlen)
{
    const char *s = af_tsv_str(t, c);
    if (af_parse_u64(s, out) != 0)
        return af_tsv_fail(t, err, errlen,
                           "%s: '%s' is not an unsigned 64-bit integer",
                           t->schema[c], s);
    return AF_OK;
}

int
af_tsv_int(const struct af_tsv *t, uint32_t c, int64_t lo, int64_t hi,
           int64_t *out, char *err, size_t errlen)
{
    const char *s = af_tsv_str(t, c);
    const char *digits = (*s == '-') ? s + 1 : s;
    errno = 0;
    char *end;
    long long v = (*digits >= '0' && *digits <= '9') ? strtoll(s, &end, 10) : 0;
    if (*digits < '0' || *digits > '9' || errno != 0 || *end != '\0')
        return af_tsv_fail(t, err, errlen, "%s: '%s' is not an integer",
                           t->schema[c], s);
    if (v < lo || v > hi)
        return af_tsv_fail(t, err, errlen, "%s: %lld out of range [%lld, %lld]",
                           t->schema[c], v, (long long)lo, (long long)hi);
    *out = v;
    return AF_OK;
}

int
af_tsv_num(const struct af_tsv *t, uint32_t c, double lo, int lo_open,
           double hi, double *out, char *err, size_t errlen)
{
    const char *s = af_tsv_str(t, c);
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *s == ' ' || *s == '\t' || *end != '\0' || errno != 0 ||
        !isfinite(v))
        return af_tsv_fail(t, err, errlen, "%s: '%s' is not a finite number",
                           t->schema[c], s);
    if (v < lo || (lo_open && v == lo) || v > hi)
        return af_tsv_fail(t, err, errlen, "%s: %g out of range %c%g, %g]",
                           t->schema[c], v, lo_open ? '(' : '[', lo, hi);
    *out = v;
    return AF_OK;
}

int
af_tsv_mask(const struct af_tsv *t, uint32_t c, unsigned bits, uint64_t *out,
            char *err, size_t errlen)
{
    const char *s = af_tsv_str(t, c);
    const char *h = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? s + 2 : s;
    uint64_t v = 0;
    size_t n = 0;
    for (; h[n] != '\0'; n++) {
        char ch = h[n];
        int d = (ch >= '0' && ch <= '9')   ? ch - '0'
                : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                                           : -1;
        if (d < 0 || (v >> 60) != 0)
            return af_tsv_fail(t, err, errlen,
                               "%s: '%s' is not a 64-bit hexadecimal mask",
                               t->schema[c], s);
        v = (v << 4) | (uint64_t)d;
    }
    if (n == 0)
        return af_tsv_fail(t, err, errlen, "%s: empty mask (write 0 for any)",
                           t->schema[c]);
    if (bits < 64 && (v >> bits) != 0)
        return af_tsv_fail(t, err, errlen,
                           "%s: mask %s sets a bit at or above %u",
                           t->schema[c], s, bits);
    *out = v;
    return AF_OK;
}
