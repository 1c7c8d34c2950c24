/*
 * feature_stage.c -- the built-in "spec" feature extractor
 * (feature_stage.h).
 *
 * create() loads the spec and its vocabularies and checks that the spec
 * can serve: every source is a serving attribute, multi-valued fields have
 * max_len (their batch slots), no field carries its own values, and the
 * slots fit the batch.  extract() runs the encoder once for the request
 * side and once per candidate, all buffers from the request arena.
 */
#include "learn/feature_stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "adfunnel/af_plugin.h"
#include "learn/encode.h"
#include "learn/featspec.h"
#include "learn/field_layout.h"
#include "learn/serving_src.h"
#include "learn/vocab.h"

#define SCRATCH 8192

struct stage {
    const struct af_host_api *host;
    struct af_featspec *spec;
    struct af_vocab vocab;
    uint32_t slots[AF_SPEC_MAX_FIELDS];
    uint32_t req_slots, cand_slots, req_dense, cand_dense;
    uint32_t max_slots;
};

/* --- ## create --- */

static int
resolve_spec(const struct af_create_args *a, const char *spec, char *out,
             size_t n)
{
    const char *pf = a->host->config_str(a->config, AF_SPEC_STAGE_PIPELINE_KEY,
                                         NULL);
    if (spec[0] == '/' || pf == NULL) {
        snprintf(out, n, "%s", spec);
        return 0;
    }
    const char *slash = strrchr(pf, '/');
    int dl = slash ? (int)(slash - pf) : 0;
    if ((size_t)snprintf(out, n, "%.*s%s%s", dl, pf, dl ? "/" : "", spec) >= n)
        return -1;
    return 0;
}

static int
check_servable(struct stage *st, char *err, size_t errlen)
{
    const struct af_featspec *s = st->spec;
    for (uint32_t i = 0; i < s->n_sources; i++)
        if (s->source[i].serving == AF_SRC_NONE &&
            (i != s->label_src && i != s->order_src && i != s->time_src)) {
            snprintf(err, errlen, "%s: source \"%s\" is not a serving attribute "
                     "(user.*, context.*, ad.*): this spec cannot serve",
                     s->file, s->source[i].name);
            return AF_EINVAL;
        }
    for (uint32_t k = 0; k < s->n_cat; k++) {
        const struct af_field *f = &s->field[s->cat_field[k]];
        if (f->with_values || (f->type == AF_FIELD_MULTI && f->max_len == 0)) {
            snprintf(err, errlen, "%s:%d: field \"%s\": serving needs max_len on "
                     "a multi-valued field and no `values`", s->file, f->line,
                     f->name);
            return AF_EINVAL;
        }
        st->slots[k] = af_featspec_slots(s, k);
        if (f->request_side)
            st->req_slots += st->slots[k];
        else
            st->cand_slots += st->slots[k];
        if (st->slots[k] > st->max_slots)
            st->max_slots = st->slots[k];
    }
    for (uint32_t j = 0; j < s->n_dense; j++) {
        if (s->field[s->dense_field[j]].request_side)
            st->req_dense++;
        else
            st->cand_dense++;
    }
    if (st->req_slots > AF_MAX_FIELDS || st->cand_slots > AF_MAX_FIELDS ||
        st->req_dense > AF_MAX_DENSE || st->cand_dense > AF_MAX_DENSE) {
        snprintf(err, errlen, "%s: %u request and %u candidate slots, %u and %u "
                 "dense values: the batch holds %d and %d per side", s->file,
                 st->req_slots, st->cand_slots, st->req_dense, st->cand_dense,
                 AF_MAX_FIELDS, AF_MAX_DENSE);
        return AF_ELIMIT;
    }
    return 0;
}

static void stage_destroy(void *inst);

static int
stage_create(const struct af_create_args *a, void **inst, char *err,
             size_t errlen)
{
    const struct af_host_api *h = a->host;
    const char *spec = h->config_str(a->config, "spec", NULL);
    const char *vocab = h->config_str(a->config, "vocab", NULL);
    if (!spec || !*spec || !vocab || !*vocab) {
        snprintf(err, errlen, "spec and vocab are required: { \"spec\", spec = "
                 "\"features/x.lua\", vocab = \"models/x.vocab.afm\" }");
        return AF_EINVAL;
    }
    struct stage *st = calloc(1, sizeof *st);
    if (st == NULL)
        return AF_ENOMEM;
    st->host = h;
    char path[2048], vpath[2048];
    int rc = resolve_spec(a, spec, path, sizeof path);
    if (rc != 0) {
        snprintf(err, errlen, "spec path too long");
        free(st);
        return AF_EINVAL;
    }
    st->spec = af_featspec_load(path, err, errlen);
    if (st->spec == NULL) {
        free(st);
        return AF_EINVAL;
    }
    rc = check_servable(st, err, errlen);
    if (rc == 0) {
        h->data_path(a->pc, vocab, vpath, sizeof vpath);
        rc = af_vocab_load(&st->vocab, st->spec, vpath, err, errlen);
        if (rc != 0)
            st->vocab.map = NULL;
    }
    if (rc != 0) {
        af_featspec_free(st->spec);
        free(st);
        return rc;
    }
    h->log(a->pc, AF_LOG_INFO, "spec %s: %u fields (%u request / %u candidate "
           "slots), index size %llu, fingerprint %016llx", path, st->spec->n_cat,
           st->req_slots, st->cand_slots, (unsigned long long)st->vocab.n_index,
           (unsigned long long)st->vocab.fingerprint);
    *inst = st;
    return 0;
}

static void
stage_destroy(void *inst)
{
    struct stage *st = inst;
    af_vocab_free(&st->vocab);
    af_featspec_free(st->spec);
    free(st);
}

/* --- ## extract --- */

struct work {
    const char **raw;
    char *rawbuf;            /* n_sources * AF_SERVING_VALUE_MAX          */
    char *scratch;
    struct af_tok *tok;
    uint32_t *idx;
};

static void
fill_sources(const struct stage *st, struct work *w, const struct af_request *r,
             uint32_t row, int ad_side)
{
    const struct af_featspec *s = st->spec;
    for (uint32_t i = 0; i < s->n_sources; i++) {
        int src = s->source[i].serving;
        int is_ad = src >= AF_SRC_AD_ID;
        if (src == AF_SRC_NONE || is_ad != ad_side)
            continue;
        w->raw[i] = af_serving_value(src, &r->user, &r->context, r->catalog, row,
                                     w->rawbuf + (size_t)i * AF_SERVING_VALUE_MAX,
                                     AF_SERVING_VALUE_MAX);
    }
}

/* Tokens -> slot indices of field k into out[0 .. slots), padded. */
static int
field_slots(const struct stage *st, struct work *w, uint32_t k, uint32_t *out,
            size_t stride)
{
    char err[256];
    const struct af_featspec *s = st->spec;
    int n = af_field_tokens(s, s->cat_field[k], w->raw, w->tok, st->slots[k],
                            w->scratch, SCRATCH, err, sizeof err);
    if (n < 0)
        return n;
    af_encode_token_indices(s, &st->vocab, k, w->tok, (uint32_t)n, w->idx);
    for (uint32_t j = 0; j < st->slots[k]; j++)
        out[j * stride] = j < (uint32_t)n ? w->idx[j] : AF_FID_NONE;
    return 0;
}

static int
dense_values(const struct stage *st, struct work *w, int side, float *out)
{
    char err[256];
    const struct af_featspec *s = st->spec;
    uint32_t n = 0;
    for (uint32_t j = 0; j < s->n_dense; j++) {
        uint32_t fi = s->dense_field[j];
        if (s->field[fi].request_side != side)
            continue;
        int rc = af_field_dense(s, fi, w->raw, &out[n++], err, sizeof err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
stage_extract(void *inst, const struct af_request *req, struct af_batch *b)
{
    const struct stage *st = inst;
    const struct af_featspec *s = st->spec;
    const struct af_host_api *h = st->host;
    struct work w;
    w.raw = h->arena_alloc(req->arena, s->n_sources * sizeof *w.raw);
    w.rawbuf = h->arena_alloc(req->arena, (size_t)s->n_sources * AF_SERVING_VALUE_MAX);
    w.scratch = h->arena_alloc(req->arena, SCRATCH);
    w.tok = h->arena_alloc(req->arena, (st->max_slots + 1) * sizeof *w.tok);
    w.idx = h->arena_alloc(req->arena, (st->max_slots + 1) * sizeof *w.idx);
    if (!w.raw || !w.rawbuf || !w.scratch || !w.tok || !w.idx)
        return AF_ENOMEM;
    if (b->n_req_fields + st->req_slots > AF_MAX_FIELDS ||
        b->n_fields + st->cand_slots > AF_MAX_FIELDS ||
        b->n_req_dense + st->req_dense > AF_MAX_DENSE ||
        b->n_dense + st->cand_dense > AF_MAX_DENSE)
        return AF_ELIMIT;
    for (uint32_t i = 0; i < s->n_sources; i++)
        w.raw[i] = NULL;
    fill_sources(st, &w, req, 0, 0);

    /* The request side once. */
    uint32_t pos = b->n_req_fields;
    for (uint32_t k = 0; k < s->n_req_fields; k++) {
        int rc = field_slots(st, &w, k, b->req_fid + pos, 1);
        if (rc != 0)
            return rc;
        pos += st->slots[k];
    }
    int rc = dense_values(st, &w, 1, b->req_dense + b->n_req_dense);
    if (rc != 0)
        return rc;

    /* Every candidate, column by column of the batch. */
    for (uint32_t i = 0; i < b->n; i++) {
        fill_sources(st, &w, req, b->ad[i], 1);
        uint32_t col = b->n_fields;
        for (uint32_t k = s->n_req_fields; k < s->n_cat; k++) {
            rc = field_slots(st, &w, k, af_batch_field(b, col) + i, b->cap);
            if (rc != 0)
                return rc;
            col += st->slots[k];
        }
        rc = dense_values(st, &w, 0, b->dense + (size_t)i * AF_MAX_DENSE + b->n_dense);
        if (rc != 0)
            return rc;
    }
    b->n_req_fields += st->req_slots;
    b->n_fields += st->cand_slots;
    b->n_req_dense += st->req_dense;
    b->n_dense += st->cand_dense;
    return 0;
}

static const char *
stage_schema(void *inst)
{
    const struct stage *st = inst;
    return st->vocab.schema;
}

/* --- ## The descriptor --- */

static const struct af_feature_ops stage_ops = {
    .struct_size = sizeof stage_ops,
    .extract = stage_extract,
    .schema = stage_schema,
};

static const struct af_plugin stage_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_FEATURE,
    .name = AF_SPEC_STAGE_NAME,
    .version = "1.0.0",
    .description = "feature spec encoder (built in): the training encoder "
                   "over a request and its candidates",
    .create = stage_create,
    .destroy = stage_destroy,
    .ops = &stage_ops,
};

static const af_loaded builtin_spec = {
    .path = "(built in)",
    .sha256 = "",
    .handle = NULL,
    .desc = &stage_plugin,
};

const af_loaded *
af_builtin_plugin(const char *name, int kind)
{
    if (kind == AF_KIND_FEATURE && strcmp(name, AF_SPEC_STAGE_NAME) == 0)
        return &builtin_spec;
    return NULL;
}
