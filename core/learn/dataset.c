/*
 * dataset.c -- read, order, split, build vocabularies, encode
 * (dataset.h).
 *
 * Pass 1 streams the file once: each row's tokens are interned per field
 * (so memory is the rows' token ids plus the distinct tokens, never the
 * text), with its label, order key and time.  Then rows are stably sorted,
 * cut into the three parts, vocabularies are counted over the train part in
 * row order, and every row is encoded with af_encode_tokens -- the function
 * serving runs on a request's tokens.
 */
#include "learn/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "learn/encode.h"
#include "learn/reader.h"
#include "learn/strmap.h"

const char *const af_part_names[AF_PARTS] = {"train", "valid", "test"};

#define SCRATCH 65536

/* Rows after pass 1. */
struct rows {
    uint32_t n_cat, n_dense;
    uint64_t n, cap;
    float *label;
    int64_t *time;
    double *key_num;       /* numeric order key                           */
    uint64_t *key_str;     /* string order key: offset into keys          */
    char *keys;
    size_t keys_len, keys_cap;
    uint64_t *start;       /* n * n_cat + 1 token offsets                 */
    uint32_t *tok;         /* interned token ids                          */
    float *tok_val;        /* their values                                */
    uint64_t n_tok, cap_tok;
    float *dense;
    struct af_strmap *intern; /* per field                                */
};

static void
rows_free(struct rows *r)
{
    free(r->label);
    free(r->time);
    free(r->key_num);
    free(r->key_str);
    free(r->keys);
    free(r->start);
    free(r->tok);
    free(r->tok_val);
    free(r->dense);
    for (uint32_t k = 0; r->intern && k < r->n_cat; k++)
        af_strmap_free(&r->intern[k]);
    free(r->intern);
    memset(r, 0, sizeof *r);
}

static int
grow(void **p, size_t elem, uint64_t n)
{
    void *q = realloc(*p, (size_t)n * elem);
    if (q == NULL)
        return -1;
    *p = q;
    return 0;
}

static int
rows_reserve(struct rows *r)
{
    if (r->n < r->cap)
        return 0;
    uint64_t cap = r->cap ? r->cap * 2 : 4096;
    if (grow((void **)&r->label, sizeof *r->label, cap) ||
        grow((void **)&r->time, sizeof *r->time, cap) ||
        grow((void **)&r->key_num, sizeof *r->key_num, cap) ||
        grow((void **)&r->key_str, sizeof *r->key_str, cap) ||
        grow((void **)&r->start, sizeof *r->start, cap * r->n_cat + 1) ||
        (r->n_dense &&
         grow((void **)&r->dense, sizeof *r->dense, cap * r->n_dense)))
        return -1;
    r->cap = cap;
    return 0;
}

static int
tok_reserve(struct rows *r, uint64_t more)
{
    if (r->n_tok + more <= r->cap_tok)
        return 0;
    uint64_t cap = r->cap_tok ? r->cap_tok * 2 : 65536;
    while (cap < r->n_tok + more)
        cap *= 2;
    if (grow((void **)&r->tok, sizeof *r->tok, cap) ||
        grow((void **)&r->tok_val, sizeof *r->tok_val, cap))
        return -1;
    r->cap_tok = cap;
    return 0;
}

static int
key_append(struct rows *r, const char *k)
{
    size_t len = strlen(k) + 1;
    if (r->keys_len + len > r->keys_cap) {
        size_t cap = r->keys_cap ? r->keys_cap * 2 : 65536;
        while (cap < r->keys_len + len)
            cap *= 2;
        if (grow((void **)&r->keys, 1, cap))
            return -1;
        r->keys_cap = cap;
    }
    memcpy(r->keys + r->keys_len, k, len);
    r->key_str[r->n] = r->keys_len;
    r->keys_len += len;
    return 0;
}

/* --- ## Pass 1 --- */

struct pass1 {
    const struct af_featspec *s;
    struct af_reader *rd;
    int *col_of;            /* source -> reader column                   */
    const char **raw;       /* source -> value of the current row        */
    struct rows *r;
    char *scratch;
    struct af_tok tok[AF_FIELD_MAX_TOKENS];
};

static int
map_sources(struct pass1 *p, char *err, size_t errlen)
{
    const struct af_featspec *s = p->s;
    for (uint32_t i = 0; i < s->n_sources; i++) {
        p->col_of[i] = af_reader_column_index(p->rd, s->source[i].name);
        if (p->col_of[i] >= 0)
            continue;
        char list[512];
        size_t n = 0;
        list[0] = '\0';
        for (uint32_t c = 0; c < af_reader_n_columns(p->rd) && n < sizeof list; c++)
            n += snprintf(list + n, sizeof list - n, "%s%s", c ? ", " : "",
                          af_reader_column(p->rd, c));
        snprintf(err, errlen, "%s: source \"%s\" is not a column of the data "
                 "(columns: %s)", s->file, s->source[i].name, list);
        return AF_EINVAL;
    }
    return 0;
}

/* Label of the current row: 0/1, or value >= label_ge. */
static int
parse_label(struct pass1 *p, float *y)
{
    const struct af_featspec *s = p->s;
    if (s->label_src == UINT32_MAX) {
        *y = 0.0f;
        return 0;
    }
    const char *v = p->raw[s->label_src];
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == '\0' || *end || errno || !isfinite(x)) {
        af_reader_reject(p->rd, "label \"%.40s\" is not a number", v);
        return -1;
    }
    if (!isnan(s->label_ge)) {
        *y = x >= s->label_ge ? 1.0f : 0.0f;
        return 0;
    }
    if (x != 0.0 && x != 1.0) {
        af_reader_reject(p->rd, "label \"%.40s\" is not 0 or 1", v);
        return -1;
    }
    *y = (float)x;
    return 0;
}

static int
parse_key(struct pass1 *p)
{
    const struct af_featspec *s = p->s;
    struct rows *r = p->r;
    r->time[r->n] = 0;
    if (s->time_src != UINT32_MAX) {
        char *end;
        const char *v = p->raw[s->time_src];
        errno = 0;
        long long t = strtoll(v, &end, 10);
        if (*v == '\0' || *end || errno) {
            af_reader_reject(p->rd, "time \"%.40s\" is not an integer", v);
            return -1;
        }
        r->time[r->n] = t;
    }
    r->key_num[r->n] = 0;
    r->key_str[r->n] = 0;
    if (s->order_src == UINT32_MAX)
        return 0;
    const char *v = p->raw[s->order_src];
    if (!s->order_numeric)
        return key_append(r, v) == 0 ? 0 : AF_ENOMEM;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == '\0' || *end || errno || !isfinite(x)) {
        af_reader_reject(p->rd, "order key \"%.40s\" is not a number", v);
        return -1;
    }
    r->key_num[r->n] = x;
    return 0;
}

/* Tokens and dense values of the current row.  -1 rejected, AF_ENOMEM. */
static int
row_tokens(struct pass1 *p)
{
    const struct af_featspec *s = p->s;
    struct rows *r = p->r;
    char err[512];
    uint64_t t0 = r->n_tok;
    for (uint32_t k = 0; k < s->n_cat; k++) {
        r->start[r->n * s->n_cat + k] = r->n_tok;
        int n = af_field_tokens(s, s->cat_field[k], p->raw, p->tok,
                                AF_FIELD_MAX_TOKENS, p->scratch, SCRATCH, err,
                                sizeof err);
        if (n < 0) {
            af_reader_reject(p->rd, "%s", err);
            r->n_tok = t0;
            return -1;
        }
        if (tok_reserve(r, (uint64_t)n) != 0)
            return AF_ENOMEM;
        for (int i = 0; i < n; i++) {
            uint32_t id = af_strmap_intern(&r->intern[k], p->tok[i].s,
                                           p->tok[i].len, NULL);
            if (id == AF_STRMAP_NONE)
                return AF_ENOMEM;
            r->tok[r->n_tok] = id;
            r->tok_val[r->n_tok++] = p->tok[i].v;
        }
    }
    for (uint32_t j = 0; j < s->n_dense; j++) {
        if (af_field_dense(s, s->dense_field[j], p->raw,
                           &r->dense[r->n * s->n_dense + j], err,
                           sizeof err) != 0) {
            af_reader_reject(p->rd, "%s", err);
            r->n_tok = t0;
            return -1;
        }
    }
    r->start[(r->n + 1) * s->n_cat] = r->n_tok;
    return 0;
}

static int
pass1(struct pass1 *p, uint64_t max_rows, char *err, size_t errlen)
{
    struct rows *r = p->r;
    const char *const *cols;
    int rc;
    while ((max_rows == 0 || r->n < max_rows) &&
           (rc = af_reader_next(p->rd, &cols, err, errlen)) == 1) {
        for (uint32_t i = 0; i < p->s->n_sources; i++)
            p->raw[i] = cols[p->col_of[i]];
        if (rows_reserve(r) != 0)
            return AF_ENOMEM;
        float y;
        if (parse_label(p, &y) != 0)
            continue;
        int k = parse_key(p);
        if (k == AF_ENOMEM)
            return k;
        if (k != 0)
            continue;
        k = row_tokens(p);
        if (k == AF_ENOMEM)
            return k;
        if (k != 0)
            continue;
        r->label[r->n] = y;
        r->n++;
    }
    if (max_rows == 0 || r->n < max_rows)
        return rc < 0 ? rc : 0;
    return 0;
}

/* --- ## Order and split --- */

struct sort_ctx {
    const struct rows *r;
    int numeric;
};

static int
cmp_rows(const void *pa, const void *pb, void *ctx)
{
    const struct sort_ctx *c = ctx;
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    int d;
    if (c->numeric)
        d = (c->r->key_num[a] > c->r->key_num[b]) -
            (c->r->key_num[a] < c->r->key_num[b]);
    else
        d = strcmp(c->r->keys + c->r->key_str[a], c->r->keys + c->r->key_str[b]);
    if (d != 0)
        return d;
    return (a > b) - (a < b); /* stable: ties keep file order */
}

static uint64_t *
order(const struct af_featspec *s, const struct rows *r)
{
    uint64_t *perm = malloc((r->n ? r->n : 1) * sizeof *perm);
    if (perm == NULL)
        return NULL;
    for (uint64_t i = 0; i < r->n; i++)
        perm[i] = i;
    if (s->order_src != UINT32_MAX) {
        struct sort_ctx c = {r, s->order_numeric};
        qsort_r(perm, r->n, sizeof *perm, cmp_rows, &c);
    }
    return perm;
}

/* [lo, hi) of each part in sorted order. */
static void
cut(const struct af_featspec *s, uint64_t n, uint64_t lo[3], uint64_t hi[3])
{
    const struct af_split_cfg *sp = &s->split;
    if (sp->kind == AF_SPLIT_ROWS) {
        for (int i = 0; i < 3; i++) {
            lo[i] = sp->rows[i][0] - 1 < n ? sp->rows[i][0] - 1 : n;
            hi[i] = sp->rows[i][1] < n ? sp->rows[i][1] : n;
        }
        return;
    }
    uint32_t t0 = sp->kind == AF_SPLIT_RATIO ? sp->tenths[0] : 8;
    uint32_t t1 = sp->kind == AF_SPLIT_RATIO ? sp->tenths[1] : 1;
    uint64_t a = n * t0 / 10, b = n * (t0 + t1) / 10;
    lo[0] = 0, hi[0] = a;
    lo[1] = a, hi[1] = b;
    lo[2] = b, hi[2] = n;
}

/* --- ## Vocabulary and encoding --- */

static int
build_vocab(const struct af_featspec *s, const struct rows *r,
            const uint64_t *perm, uint64_t lo, uint64_t hi,
            struct af_vocab *v)
{
    int rc = af_vocab_init(v, s);
    for (uint32_t k = 0; rc == 0 && k < s->n_cat; k++) {
        if (v->hash_buckets[k])
            continue;
        uint32_t nt = r->intern[k].n;
        uint32_t *count = calloc(nt ? nt : 1, sizeof *count);
        uint32_t *first = malloc((nt ? nt : 1) * sizeof *first);
        uint32_t n_first = 0;
        if (count == NULL || first == NULL) {
            free(count);
            free(first);
            return AF_ENOMEM;
        }
        for (uint64_t i = lo; i < hi; i++) {
            uint64_t row = perm[i];
            for (uint64_t t = r->start[row * s->n_cat + k];
                 t < r->start[row * s->n_cat + k + 1]; t++) {
                uint32_t id = r->tok[t];
                if (count[id]++ == 0)
                    first[n_first++] = id;
            }
        }
        uint32_t mc = s->field[s->cat_field[k]].min_count;
        for (uint32_t i = 0; rc == 0 && i < n_first; i++) {
            if (count[first[i]] < mc)
                continue;
            uint32_t len;
            const char *t = af_strmap_key(&r->intern[k], first[i], &len);
            rc = af_vocab_add(v, k, t, len);
        }
        free(count);
        free(first);
    }
    return rc == 0 ? af_vocab_finish(v, s) : rc;
}

static int
encode_part(const struct af_featspec *s, const struct af_vocab *v,
            const struct rows *r, const uint64_t *perm, uint64_t lo,
            uint64_t hi, struct af_examples *e)
{
    uint32_t n = (uint32_t)(hi - lo);
    int rc = af_examples_init(e, s->n_cat, s->n_dense, v->offset, n ? n : 1,
                              (uint64_t)(n ? n : 1) * s->n_cat);
    if (rc != 0)
        return rc;
    uint32_t *npf = malloc(s->n_cat * sizeof *npf);
    uint32_t cap = 4096;
    uint32_t *gidx = malloc(cap * sizeof *gidx);
    float *val = malloc(cap * sizeof *val);
    struct af_tok *tok = malloc(AF_FIELD_MAX_TOKENS * sizeof *tok);
    if (!npf || !gidx || !val || !tok)
        rc = AF_ENOMEM;
    for (uint64_t i = lo; rc == 0 && i < hi; i++) {
        uint64_t row = perm[i];
        uint32_t used = 0;
        for (uint32_t k = 0; k < s->n_cat; k++) {
            uint64_t a = r->start[row * s->n_cat + k];
            uint64_t b = r->start[row * s->n_cat + k + 1];
            uint32_t nt = (uint32_t)(b - a);
            for (uint32_t t = 0; t < nt; t++) {
                tok[t].s = af_strmap_key(&r->intern[k], r->tok[a + t],
                                         &tok[t].len);
                tok[t].v = r->tok_val[a + t];
            }
            if (used + nt > cap) {
                rc = AF_ENOMEM; /* AF_FIELD_MAX_TOKENS * n_cat > cap */
                while (used + nt > cap)
                    cap *= 2;
                if (grow((void **)&gidx, sizeof *gidx, cap) ||
                    grow((void **)&val, sizeof *val, cap))
                    break;
                rc = 0;
            }
            npf[k] = af_encode_tokens(s, v, k, tok, nt, gidx + used, val + used);
            used += npf[k];
        }
        if (rc == 0)
            rc = af_examples_push(e, npf, gidx, val,
                                  s->n_dense ? r->dense + row * s->n_dense : NULL,
                                  r->label[row], 1.0f, r->time[row]);
    }
    free(npf);
    free(gidx);
    free(val);
    free(tok);
    return rc;
}

int
af_vocab_copy(struct af_vocab *dst, const struct af_vocab *src,
              const struct af_featspec *s)
{
    int rc = af_vocab_init(dst, s);
    for (uint32_t k = 0; rc == 0 && k < s->n_cat; k++)
        for (uint32_t id = 0; rc == 0 && id < src->map[k].n; id++) {
            uint32_t len;
            const char *t = af_strmap_key(&src->map[k], id, &len);
            rc = af_vocab_add(dst, k, t, len);
        }
    if (rc == 0)
        rc = af_vocab_finish(dst, s);
    if (rc != 0)
        af_vocab_free(dst);
    return rc;
}

const char *
af_vocab_token(const struct af_vocab *v, uint32_t g, uint32_t *field,
               uint32_t *len)
{
    uint32_t lo = 0, hi = v->n_fields;
    while (hi - lo > 1) { /* last field whose offset <= g */
        uint32_t mid = (lo + hi) / 2;
        if (v->offset[mid] <= g)
            lo = mid;
        else
            hi = mid;
    }
    *field = lo;
    uint32_t local = g - v->offset[lo];
    if (local == 0 || v->hash_buckets[lo] || local > v->map[lo].n)
        return NULL;
    return af_strmap_key(&v->map[lo], local - 1, len);
}

/* --- ## Entry points --- */

static int
load(const struct af_featspec *s, const struct af_dataset_opts *o,
     struct af_dataset *d, struct pass1 *p, char *err, size_t errlen)
{
    int rc = map_sources(p, err, errlen);
    if (rc == 0)
        rc = pass1(p, o->max_rows, err, errlen);
    if (rc == AF_ENOMEM)
        snprintf(err, errlen, "%s: out of memory reading the data", s->file);
    d->rejected = af_reader_rejected(p->rd);
    d->report = strdup(af_reader_report(p->rd));
    if (rc != 0)
        return rc;
    struct rows *r = p->r;
    d->rows = r->n;
    uint64_t *perm = order(s, r);
    if (perm == NULL) {
        snprintf(err, errlen, "out of memory");
        return AF_ENOMEM;
    }
    uint64_t lo[3], hi[3];
    cut(s, r->n, lo, hi);
    if (hi[0] <= lo[0] || r->n > UINT32_MAX) {
        free(perm);
        snprintf(err, errlen, "%s: %llu rows: the train split is empty or the "
                 "data has more than 2^32 rows", s->file,
                 (unsigned long long)r->n);
        return AF_EINVAL;
    }
    rc = o->vocab ? af_vocab_copy(&d->vocab, o->vocab, s)
                  : build_vocab(s, r, perm, lo[0], hi[0], &d->vocab);
    for (int i = 0; rc == 0 && i < AF_PARTS; i++)
        rc = encode_part(s, &d->vocab, r, perm, lo[i], hi[i], &d->part[i]);
    free(perm);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s encoding the data", s->file,
                 af_strerror(rc));
    /* The examples borrow the vocabulary's offsets (same lifetime). */
    return rc;
}

int
af_dataset_load(const struct af_featspec *s, const struct af_dataset_opts *o,
                struct af_dataset *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    if (s->data.format[0] == '\0') {
        snprintf(err, errlen, "%s: the spec has no data = { ... } section",
                 s->file);
        return AF_EINVAL;
    }
    struct af_reader *rd = af_reader_open(&s->data, o->root, err, errlen);
    if (rd == NULL)
        return AF_EIO;
    struct rows r = {.n_cat = s->n_cat, .n_dense = s->n_dense};
    struct pass1 p = {.s = s, .rd = rd, .r = &r};
    p.col_of = malloc(s->n_sources * sizeof *p.col_of);
    p.raw = malloc(s->n_sources * sizeof *p.raw);
    p.scratch = malloc(SCRATCH);
    r.intern = calloc(s->n_cat, sizeof *r.intern);
    int rc;
    if (!p.col_of || !p.raw || !p.scratch || !r.intern) {
        snprintf(err, errlen, "out of memory");
        rc = AF_ENOMEM;
    } else {
        for (uint32_t k = 0; k < s->n_cat; k++)
            af_strmap_init(&r.intern[k]);
        rc = load(s, o, d, &p, err, errlen);
    }
    free(p.col_of);
    free(p.raw);
    free(p.scratch);
    rows_free(&r);
    af_reader_close(rd);
    if (rc != 0)
        af_dataset_free(d);
    return rc;
}

void
af_dataset_free(struct af_dataset *d)
{
    if (d == NULL)
        return;
    for (int i = 0; i < AF_PARTS; i++)
        af_examples_free(&d->part[i]);
    af_vocab_free(&d->vocab);
    free(d->report);
    memset(d, 0, sizeof *d);
}
