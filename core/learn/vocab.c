/*
 * vocab.c -- vocabularies, index layout, fingerprint and the vocab file
 * (vocab.h).
 *
 * Vocab payload (little-endian):
 *   char  magic[8]   "AFVOCAB1"
 *   u32   n_fields
 *   per field: u32 hash_buckets, u32 n_tokens, then n_tokens x
 *              (u32 len, len bytes)
 */
#include "learn/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "model/modelfile.h"
#include "util/fnv.h"
#include "util/strbuf.h"

#define VOCAB_MAGIC "AFVOCAB1"

int
af_vocab_init(struct af_vocab *v, const struct af_featspec *s)
{
    memset(v, 0, sizeof *v);
    uint32_t n = s->n_cat;
    v->n_fields = n;
    v->map = calloc(n ? n : 1, sizeof *v->map);
    v->hash_buckets = calloc(n ? n : 1, sizeof *v->hash_buckets);
    v->size = calloc(n ? n : 1, sizeof *v->size);
    v->offset = calloc(n + 1, sizeof *v->offset);
    if (!v->map || !v->hash_buckets || !v->size || !v->offset) {
        af_vocab_free(v);
        return AF_ENOMEM;
    }
    for (uint32_t k = 0; k < n; k++) {
        af_strmap_init(&v->map[k]);
        v->hash_buckets[k] = s->field[s->cat_field[k]].hash_buckets;
    }
    return 0;
}

void
af_vocab_free(struct af_vocab *v)
{
    if (v == NULL)
        return;
    for (uint32_t k = 0; v->map && k < v->n_fields; k++)
        af_strmap_free(&v->map[k]);
    free(v->map);
    free(v->hash_buckets);
    free(v->size);
    free(v->offset);
    free(v->schema);
    memset(v, 0, sizeof *v);
}

int
af_vocab_add(struct af_vocab *v, uint32_t k, const char *tok, size_t len)
{
    int added = 0;
    uint32_t id = af_strmap_intern(&v->map[k], tok, len, &added);
    if (id == AF_STRMAP_NONE)
        return AF_ENOMEM;
    return added ? 0 : AF_EEXIST;
}

uint64_t
af_schema_fingerprint(const char *schema)
{
    uint64_t h = af_fnv1a(AF_FNV_OFFSET, schema, strlen(schema));
    return af_fnv1a(h, "|", 1);
}

int
af_vocab_finish(struct af_vocab *v, const struct af_featspec *s)
{
    af_buf b;
    af_buf_init(&b);
    af_buf_puts(&b, s->canonical);
    af_buf_puts(&b, "sizes=");
    uint64_t off = 0;
    for (uint32_t k = 0; k < v->n_fields; k++) {
        v->size[k] = v->hash_buckets[k] ? v->hash_buckets[k] + 1
                                        : v->map[k].n + 1;
        v->offset[k] = (uint32_t)off;
        off += v->size[k];
        af_buf_printf(&b, "%s%u", k ? "," : "", v->size[k]);
    }
    if (off >= UINT32_MAX) {
        af_buf_free(&b);
        return AF_ELIMIT;
    }
    v->offset[v->n_fields] = (uint32_t)off;
    v->n_index = off;
    if (b.oom || b.data == NULL) {
        af_buf_free(&b);
        return AF_ENOMEM;
    }
    free(v->schema);
    v->schema = b.data; /* owned by v now */
    v->fingerprint = af_schema_fingerprint(v->schema);
    return 0;
}

uint32_t
af_vocab_local(const struct af_vocab *v, uint32_t k, const char *tok,
               size_t len)
{
    if (v->hash_buckets[k])
        return 1 + (uint32_t)(af_strmap_hash(tok, len) % v->hash_buckets[k]);
    uint32_t id = af_strmap_find(&v->map[k], tok, len);
    return id == AF_STRMAP_NONE ? 0 : id + 1;
}

/* --- ## The file --- */

static void
put32(af_buf *b, uint32_t x)
{
    af_buf_append(b, (const char *)&x, 4);
}

int
af_vocab_save(const struct af_vocab *v, const char *path, char *err,
              size_t errlen)
{
    af_buf b;
    af_buf_init(&b);
    af_buf_append(&b, VOCAB_MAGIC, 8);
    put32(&b, v->n_fields);
    for (uint32_t k = 0; k < v->n_fields; k++) {
        put32(&b, v->hash_buckets[k]);
        put32(&b, v->hash_buckets[k] ? 0 : v->map[k].n);
        for (uint32_t id = 0; !v->hash_buckets[k] && id < v->map[k].n; id++) {
            uint32_t len;
            const char *t = af_strmap_key(&v->map[k], id, &len);
            put32(&b, len);
            af_buf_append(&b, t, len);
        }
    }
    if (b.oom) {
        af_buf_free(&b);
        snprintf(err, errlen, "%s: out of memory", path);
        return AF_ENOMEM;
    }
    char summary[136];
    snprintf(summary, sizeof summary, "fields=%u index=%llu", v->n_fields,
             (unsigned long long)v->n_index);
    struct af_modelfile_meta m = {.kind = AF_VOCAB_KIND, .version = "vocab",
                                  .fingerprint = v->fingerprint,
                                  .summary = summary};
    int rc = af_modelfile_write(path, &m, b.data, b.len, err, errlen);
    af_buf_free(&b);
    return rc;
}

/* Bounds-checked reader over the payload. */
struct cursor {
    const unsigned char *p, *end;
};

static int
get32(struct cursor *c, uint32_t *x)
{
    if (c->end - c->p < 4)
        return -1;
    memcpy(x, c->p, 4);
    c->p += 4;
    return 0;
}

static int
parse_payload(struct af_vocab *v, const struct af_featspec *s,
              struct cursor *c, const char *path, char *err, size_t errlen)
{
    uint32_t n;
    if (c->end - c->p < 8 || memcmp(c->p, VOCAB_MAGIC, 8) != 0) {
        snprintf(err, errlen, "%s: not a vocabulary payload", path);
        return AF_ECORRUPT;
    }
    c->p += 8;
    if (get32(c, &n) != 0) {
        snprintf(err, errlen, "%s: truncated vocabulary", path);
        return AF_ECORRUPT;
    }
    if (n != s->n_cat) {
        snprintf(err, errlen, "%s: %u vocabulary fields, the spec %s has %u",
                 path, n, s->file, s->n_cat);
        return AF_EMISMATCH;
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t hb, nt;
        if (get32(c, &hb) != 0 || get32(c, &nt) != 0) {
            snprintf(err, errlen, "%s: truncated vocabulary", path);
            return AF_ECORRUPT;
        }
        if (hb != v->hash_buckets[k]) {
            snprintf(err, errlen, "%s: field %s hashes to %u buckets, the spec "
                     "says %u", path, s->field[s->cat_field[k]].name, hb,
                     v->hash_buckets[k]);
            return AF_EMISMATCH;
        }
        for (uint32_t i = 0; i < nt; i++) {
            uint32_t len;
            if (get32(c, &len) != 0 || (uint64_t)(c->end - c->p) < len) {
                snprintf(err, errlen, "%s: truncated vocabulary", path);
                return AF_ECORRUPT;
            }
            int rc = af_vocab_add(v, k, (const char *)c->p, len);
            if (rc != 0) {
                snprintf(err, errlen, "%s: %s in field %s", path,
                         rc == AF_EEXIST ? "duplicate token" : "out of memory",
                         s->field[s->cat_field[k]].name);
                return rc == AF_EEXIST ? AF_ECORRUPT : rc;
            }
            c->p += len;
        }
    }
    if (c->p != c->end) {
        snprintf(err, errlen, "%s: %zu trailing bytes after the vocabulary",
                 path, (size_t)(c->end - c->p));
        return AF_ECORRUPT;
    }
    return 0;
}

int
af_vocab_load(struct af_vocab *v, const struct af_featspec *s,
              const char *path, char *err, size_t errlen)
{
    struct af_model_blob blob;
    int rc = af_modelfile_open(path, AF_VOCAB_KIND, 0, &blob, err, errlen);
    if (rc != 0)
        return rc;
    rc = af_vocab_init(v, s);
    if (rc == 0) {
        struct cursor c = {blob.data, (const unsigned char *)blob.data + blob.size};
        rc = parse_payload(v, s, &c, path, err, errlen);
    }
    if (rc == 0 && (rc = af_vocab_finish(v, s)) != 0)
        snprintf(err, errlen, "%s: %s", path, af_strerror(rc));
    if (rc == 0 && v->fingerprint != blob.fingerprint) {
        snprintf(err, errlen, "%s: fingerprint %016llx does not match the spec "
                 "%s with these vocabularies (%016llx): the spec changed since "
                 "the vocabulary was built", path,
                 (unsigned long long)blob.fingerprint, s->file,
                 (unsigned long long)v->fingerprint);
        rc = AF_EMISMATCH;
    }
    af_modelfile_close(&blob);
    if (rc != 0)
        af_vocab_free(v);
    return rc;
}
