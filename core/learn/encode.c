/*
 * encode.c -- transforms, token -> index encoding and whole rows
 * (encode.h).  No allocation: serving calls this on the request path.
 */
#include "learn/encode.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "learn/field_layout.h"

#define CROSS_SEP '\x1f' /* joins the two sides of a cross token */

static const char missing_tok[] = AF_SPEC_MISSING;

/* --- ## Transforms --- */

/* Strict integer: optional sign, decimal digits, nothing else. */
static int
parse_int(const char *s, size_t len, long long *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    size_t i = (buf[0] == '-' || buf[0] == '+') ? 1 : 0;
    if (buf[i] == '\0')
        return -1;
    for (size_t j = i; buf[j]; j++)
        if (buf[j] < '0' || buf[j] > '9')
            return -1;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno)
        return -1;
    *out = v;
    return 0;
}

static int
parse_num(const char *s, size_t len, double *out)
{
    char buf[64], *end;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || errno || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Python's floor division and modulo for a positive divisor. */
static long long
floor_div(long long v, long long d)
{
    long long q = v / d;
    return (v % d != 0 && v < 0) ? q - 1 : q;
}

static long long
floor_mod(long long v, long long d)
{
    long long r = v % d;
    return r < 0 ? r + d : r;
}

struct cur {
    const char *s;
    size_t len;
};

/* One step on *c; numeric results are printed into buf. */
static int
step(const struct af_step *st, struct cur *c, char *buf, size_t bufsz)
{
    long long iv;
    double dv;
    switch (st->op) {
    case AF_STEP_CRITEO_INT:
        if (parse_int(c->s, c->len, &iv) != 0)
            return -1;
        if (iv > 2)
            iv = (long long)floor(pow(log((double)iv), 2.0));
        break;
    case AF_STEP_INT:
        if (parse_int(c->s, c->len, &iv) != 0)
            return -1;
        break;
    case AF_STEP_MOD:
        if (parse_int(c->s, c->len, &iv) != 0)
            return -1;
        iv = floor_mod(iv, (long long)st->a);
        break;
    case AF_STEP_DIV:
        if (parse_int(c->s, c->len, &iv) != 0)
            return -1;
        iv = floor_div(iv, (long long)st->a);
        break;
    case AF_STEP_SUBSTR: {
        size_t from = (size_t)st->a - 1, n = (size_t)st->b;
        if (from > c->len)
            from = c->len;
        if (n > c->len - from)
            n = c->len - from;
        c->s += from;
        c->len = n;
        return 0;
    }
    case AF_STEP_SUFFIX: {
        size_t n = (size_t)st->a;
        if (n < c->len) {
            c->s += c->len - n;
            c->len = n;
        }
        return 0;
    }
    case AF_STEP_LOG_BUCKET: {
        if (parse_num(c->s, c->len, &dv) != 0)
            return -1;
        double b = floor(log1p(fabs(dv)) / log(st->a));
        c->len = (size_t)snprintf(buf, bufsz, "%s%lld", dv < 0 ? "-" : "",
                                  (long long)b);
        c->s = buf;
        return 0;
    }
    case AF_STEP_BUCKETS: {
        if (parse_num(c->s, c->len, &dv) != 0)
            return -1;
        uint32_t k = 0;
        while (k < st->n_bounds && st->bounds[k] <= dv)
            k++;
        c->len = (size_t)snprintf(buf, bufsz, "%u", k);
        c->s = buf;
        return 0;
    }
    case AF_STEP_LOG1P:
    case AF_STEP_SCALE:
        if (parse_num(c->s, c->len, &dv) != 0)
            return -1;
        dv = st->op == AF_STEP_LOG1P ? log1p(dv > 0 ? dv : 0) : dv * st->a;
        c->len = (size_t)snprintf(buf, bufsz, "%.17g", dv);
        c->s = buf;
        return 0;
    default:
        return -1;
    }
    c->len = (size_t)snprintf(buf, bufsz, "%lld", iv);
    c->s = buf;
    return 0;
}

static const char *const step_names[] = {
    [AF_STEP_CRITEO_INT] = "criteo_int (an integer)",
    [AF_STEP_INT] = "int (an integer)", [AF_STEP_MOD] = "mod (an integer)",
    [AF_STEP_DIV] = "div (an integer)", [AF_STEP_SUBSTR] = "substr",
    [AF_STEP_SUFFIX] = "suffix", [AF_STEP_LOG_BUCKET] = "log_bucket (a number)",
    [AF_STEP_BUCKETS] = "buckets (a number)", [AF_STEP_LOG1P] = "log1p (a number)",
    [AF_STEP_SCALE] = "scale (a number)"};

/* Run every step on one piece; the result is left in *c, pointing into the
 * piece, into tmp, or at "NA" for an empty piece. */
static int
transform(const struct af_field *f, struct cur *c, char tmp[2][64], char *err,
          size_t errlen)
{
    if (c->len == 0) {
        c->s = missing_tok;
        c->len = sizeof missing_tok - 1;
        return 0;
    }
    for (uint32_t i = 0; i < f->n_steps; i++) {
        struct cur before = *c;
        if (step(&f->step[i], c, tmp[i & 1], sizeof tmp[0]) != 0) {
            snprintf(err, errlen, "field %s: \"%.*s\" does not fit transform "
                     "%s", f->name, (int)(before.len > 40 ? 40 : before.len),
                     before.s, step_names[f->step[i].op]);
            return AF_EINVAL;
        }
    }
    if (c->len == 0) { /* a transform may empty it: that is missing too */
        c->s = missing_tok;
        c->len = sizeof missing_tok - 1;
    }
    return 0;
}

/* Copy a token into scratch when it lives in a temporary buffer. */
static int
keep(struct cur *c, const char *raw_lo, const char *raw_hi, char **sc,
     char *sc_end)
{
    if ((c->s >= raw_lo && c->s + c->len <= raw_hi) || c->s == missing_tok)
        return 0;
    if ((size_t)(sc_end - *sc) < c->len)
        return -1;
    memcpy(*sc, c->s, c->len);
    c->s = *sc;
    *sc += c->len;
    return 0;
}

/* Split value into pieces on sep (one piece when sep is 0). */
static uint32_t
pieces(const char *v, char sep, struct cur *out, uint32_t max)
{
    size_t len = v ? strlen(v) : 0;
    if (sep == 0 || len == 0) {
        out[0].s = v ? v : "";
        out[0].len = len;
        return 1;
    }
    uint32_t n = 0;
    const char *p = v, *end = v + len;
    while (n < max) {
        const char *q = memchr(p, sep, (size_t)(end - p));
        out[n].s = p;
        out[n].len = (size_t)((q ? q : end) - p);
        n++;
        if (!q)
            break;
        p = q + 1;
    }
    return n;
}

/* "tok:value" -> tok, value. */
static int
split_value(struct cur *c, float *v)
{
    const char *colon = NULL;
    for (size_t i = c->len; i-- > 0;)
        if (c->s[i] == ':') {
            colon = c->s + i;
            break;
        }
    double dv;
    if (!colon || parse_num(colon + 1, (size_t)(c->s + c->len - colon - 1), &dv))
        return -1;
    c->len = (size_t)(colon - c->s);
    *v = (float)dv;
    return 0;
}

static int
single_tokens(const struct af_field *f, const char *raw, struct af_tok *tok,
              uint32_t max_tok, char **sc, char *sc_end, char *err,
              size_t errlen)
{
    struct cur pc[AF_FIELD_MAX_TOKENS];
    char sep = f->type == AF_FIELD_MULTI ? f->sep : 0;
    uint32_t lim = max_tok < AF_FIELD_MAX_TOKENS ? max_tok : AF_FIELD_MAX_TOKENS;
    uint32_t n = pieces(raw, sep, pc, lim);
    if (f->max_len && n > f->max_len)
        n = f->max_len;
    size_t rl = raw ? strlen(raw) : 0;
    for (uint32_t i = 0; i < n; i++) {
        char tmp[2][64];
        float v = 1.0f;
        if (f->with_values && pc[i].len > 0 && split_value(&pc[i], &v) != 0) {
            snprintf(err, errlen, "field %s: \"%.*s\" is not token:value",
                     f->name, (int)(pc[i].len > 40 ? 40 : pc[i].len), pc[i].s);
            return AF_EINVAL;
        }
        int rc = transform(f, &pc[i], tmp, err, errlen);
        if (rc != 0)
            return rc;
        if (keep(&pc[i], raw, raw + rl, sc, sc_end) != 0) {
            snprintf(err, errlen, "field %s: token scratch space exhausted",
                     f->name);
            return AF_ELIMIT;
        }
        tok[i].s = pc[i].s;
        tok[i].len = (uint32_t)pc[i].len;
        tok[i].v = v;
    }
    return (int)n;
}

/* A cross: every piece of side a joined with every piece of side b. */
static int
cross_tokens(const struct af_field *f, const char *ra, const char *rb,
             struct af_tok *tok, uint32_t max_tok, char **sc, char *sc_end,
             char *err, size_t errlen)
{
    struct cur pa[64], pb[64];
    char sep = f->type == AF_FIELD_MULTI ? f->sep : 0;
    uint32_t na = pieces(ra, sep, pa, 64), nb = pieces(rb, sep, pb, 64);
    uint32_t n = 0, lim = f->max_len ? f->max_len : max_tok;
    if (lim > max_tok)
        lim = max_tok;
    for (uint32_t i = 0; i < na && n < lim; i++)
        for (uint32_t j = 0; j < nb && n < lim; j++) {
            struct cur a = pa[i], b = pb[j];
            if (a.len == 0)
                a = (struct cur){missing_tok, sizeof missing_tok - 1};
            if (b.len == 0)
                b = (struct cur){missing_tok, sizeof missing_tok - 1};
            size_t len = a.len + 1 + b.len;
            if (len > AF_TOKEN_MAX || (size_t)(sc_end - *sc) < len) {
                snprintf(err, errlen, "field %s: cross token longer than %d "
                         "bytes or scratch exhausted", f->name, AF_TOKEN_MAX);
                return AF_ELIMIT;
            }
            memcpy(*sc, a.s, a.len);
            (*sc)[a.len] = CROSS_SEP;
            memcpy(*sc + a.len + 1, b.s, b.len);
            tok[n].s = *sc;
            tok[n].len = (uint32_t)len;
            tok[n].v = 1.0f;
            *sc += len;
            n++;
        }
    return (int)n;
}

int
af_field_tokens(const struct af_featspec *s, uint32_t fi,
                const char *const *raw, struct af_tok *tok, uint32_t max_tok,
                char *scratch, size_t scratch_len, char *err, size_t errlen)
{
    const struct af_field *f = &s->field[fi];
    char *sc = scratch, *end = scratch + scratch_len;
    if (max_tok == 0) {
        snprintf(err, errlen, "field %s: no room for tokens", f->name);
        return AF_ELIMIT;
    }
    if (f->n_src == 2)
        return cross_tokens(f, raw[f->src[0]], raw[f->src[1]], tok, max_tok,
                            &sc, end, err, errlen);
    return single_tokens(f, raw[f->src[0]], tok, max_tok, &sc, end, err,
                         errlen);
}

int
af_field_dense(const struct af_featspec *s, uint32_t fi,
               const char *const *raw, float *out, char *err, size_t errlen)
{
    const struct af_field *f = &s->field[fi];
    const char *r = raw[f->src[0]];
    *out = 0.0f;
    if (r == NULL || *r == '\0')
        return 0;
    struct cur c = {r, strlen(r)};
    char tmp[2][64];
    int rc = transform(f, &c, tmp, err, errlen);
    if (rc != 0)
        return rc;
    double v;
    if (c.s == missing_tok)
        return 0;
    if (parse_num(c.s, c.len, &v) != 0) {
        snprintf(err, errlen, "field %s: \"%.*s\" is not a number", f->name,
                 (int)(c.len > 40 ? 40 : c.len), c.s);
        return AF_EINVAL;
    }
    *out = (float)v;
    return 0;
}

/* --- ## Tokens -> entries --- */

void
af_encode_token_indices(const struct af_featspec *s, const struct af_vocab *v,
                        uint32_t k, const struct af_tok *tok, uint32_t n_tok,
                        uint32_t *gidx)
{
    (void)s;
    for (uint32_t i = 0; i < n_tok; i++)
        gidx[i] = v->offset[k] + af_vocab_local(v, k, tok[i].s, tok[i].len);
}

uint32_t
af_encode_tokens(const struct af_featspec *s, const struct af_vocab *v,
                 uint32_t k, const struct af_tok *tok, uint32_t n_tok,
                 uint32_t *gidx, float *val)
{
    const struct af_field *f = &s->field[s->cat_field[k]];
    if (!f->with_values) {
        /* Token indices into the caller's buffer, then merged in place
         * with the slot rule every model applies at serving. */
        af_encode_token_indices(s, v, k, tok, n_tok, gidx);
        return af_field_entries(gidx, n_tok, 1, gidx, val);
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < n_tok; i++) {
        uint32_t g = v->offset[k] + af_vocab_local(v, k, tok[i].s, tok[i].len);
        uint32_t j = 0;
        while (j < n && gidx[j] != g)
            j++;
        if (j < n) {
            val[j] += tok[i].v; /* two tokens on one index: the values add */
        } else {
            gidx[n] = g;
            val[n++] = tok[i].v;
        }
    }
    return n;
}

int
af_encode_row(const struct af_featspec *s, const struct af_vocab *v,
              const char *const *raw, int only_side, struct af_encoded *out,
              char *scratch, size_t scratch_len, char *err, size_t errlen)
{
    struct af_tok tok[AF_FIELD_MAX_TOKENS];
    uint32_t used = 0;
    for (uint32_t k = 0; k < s->n_cat; k++) {
        uint32_t fi = s->cat_field[k];
        out->n_per_field[k] = 0;
        if (only_side >= 0 && s->field[fi].request_side != only_side)
            continue;
        uint32_t room = out->cap - used;
        int n = af_field_tokens(s, fi, raw, tok,
                                room < AF_FIELD_MAX_TOKENS ? room
                                                           : AF_FIELD_MAX_TOKENS,
                                scratch, scratch_len, err, errlen);
        if (n < 0)
            return n;
        out->n_per_field[k] = af_encode_tokens(s, v, k, tok, (uint32_t)n,
                                               out->gidx + used,
                                               out->val + used);
        used += out->n_per_field[k];
    }
    for (uint32_t j = 0; j < s->n_dense; j++) {
        uint32_t fi = s->dense_field[j];
        out->dense[j] = 0.0f;
        if (only_side >= 0 && s->field[fi].request_side != only_side)
            continue;
        int rc = af_field_dense(s, fi, raw, &out->dense[j], err, errlen);
        if (rc != 0)
            return rc;
    }
    out->n_entries = used;
    return 0;
}
