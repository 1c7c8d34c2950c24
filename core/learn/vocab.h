/*
 * vocab.h -- per-field vocabularies and the global index layout.
 *
 * Model field k (the spec's k-th categorical or multi field) owns global
 * indices [offset[k], offset[k] + size[k]).  Local index 0 is the field's
 * OOV / missing slot; a vocabulary field's kept tokens get 1..K in order of
 * first appearance in the train split (count >= min_count); a hashed field
 * maps a token to 1 + hash(token) % buckets.  So offset[k+1] = offset[k] +
 * K_k + 1, as the anchors' README lays it out.
 *
 * The schema text (the spec's canonical text plus every field's size) is
 * what the feature stage reports to the pipeline, and its fingerprint is
 * the one every model file trained with this spec and vocabulary carries.
 */
#ifndef AF_CORE_VOCAB_H
#define AF_CORE_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "learn/featspec.h"
#include "learn/strmap.h"

#define AF_VOCAB_KIND "vocab"

struct af_vocab {
    uint32_t n_fields;       /* the spec's n_cat                           */
    struct af_strmap *map;   /* kept tokens per field (id + 1 = local)     */
    uint32_t *hash_buckets;  /* per field, 0 = vocabulary                  */
    uint32_t *size;          /* K + 1 per field                            */
    uint32_t *offset;        /* n_fields + 1                               */
    uint64_t n_index;        /* offset[n_fields]                           */
    char *schema;            /* canonical spec + sizes (af_vocab_finish)   */
    uint64_t fingerprint;    /* of schema, as the pipeline computes it     */
};

/* Empty vocabularies for s's fields (hashed fields need no tokens). */
int af_vocab_init(struct af_vocab *v, const struct af_featspec *s);
void af_vocab_free(struct af_vocab *v);
/* Append a kept token to field k (local index = count so far + 1). */
int af_vocab_add(struct af_vocab *v, uint32_t k, const char *tok,
                 size_t len);
/* Compute sizes, offsets, schema and fingerprint.  0 or AF_ENOMEM. */
int af_vocab_finish(struct af_vocab *v, const struct af_featspec *s);

/* Local index of a token in field k (0 = OOV).  No allocation. */
uint32_t af_vocab_local(const struct af_vocab *v, uint32_t k,
                        const char *tok, size_t len);

/* The feature-stage fingerprint of a schema text: FNV-1a of the text and
 * then of "|", which is what the pipeline compiler computes for a features
 * stage made of one extractor with that schema. */
uint64_t af_schema_fingerprint(const char *schema);

/* Save as a model file of kind "vocab" (atomic).  0 or AF_E* with err. */
int af_vocab_save(const struct af_vocab *v, const char *path, char *err,
                  size_t errlen);
/* Load a vocab file for spec s; refuses a file whose fields or
 * fingerprint do not match s (AF_EMISMATCH) or that is malformed. */
int af_vocab_load(struct af_vocab *v, const struct af_featspec *s,
                  const char *path, char *err, size_t errlen);

#endif
