/*
 * encode.h -- the encoder: raw values -> model inputs.  The one code path
 * shared by `adfunnel train` (rows from data files) and serving (the
 * "spec" feature stage: a request and its candidates), so both produce
 * bit-identical inputs for the same raw values.
 *
 * Raw values are strings indexed by the spec's source table (NULL or ""
 * = missing).  A field turns its raw value into tokens (featspec.h
 * transforms; missing -> "NA"), and the tokens into (global index, value)
 * entries through the vocabulary (vocab.h): one entry of value 1 for a
 * categorical field; for a multi field, one per distinct index with value
 * (occurrences / k) -- mean pooling -- or, with `values = true`, the
 * token's own value.  Dense fields give one float.
 *
 * Nothing here allocates: callers pass the buffers, so serving can run it
 * from the request arena.
 */
#ifndef AF_CORE_ENCODE_H
#define AF_CORE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "learn/featspec.h"
#include "learn/vocab.h"

#define AF_TOKEN_MAX 512      /* bytes of one token                        */
#define AF_FIELD_MAX_TOKENS 256

struct af_tok {
    const char *s;   /* points into the caller's scratch or the raw value */
    uint32_t len;
    float v;         /* the token's value (1 unless `values = true`)     */
};

/*
 * Tokens of spec field `fi` (an index into s->field) from raw values.
 * Token text is written to scratch (scratch_len bytes) when a transform
 * produces new text.  Returns the number of tokens (>= 1; a missing value
 * is the token "NA"), or a negative AF_E* with "field F: reason" in err
 * when a value does not fit its transform or the buffers are too small.
 */
int af_field_tokens(const struct af_featspec *s, uint32_t fi,
                    const char *const *raw, struct af_tok *tok,
                    uint32_t max_tok, char *scratch, size_t scratch_len,
                    char *err, size_t errlen);

/* The dense value of dense field `fi` (0 when missing); negative AF_E* when
 * the value is not a number. */
int af_field_dense(const struct af_featspec *s, uint32_t fi,
                   const char *const *raw, float *out, char *err,
                   size_t errlen);

/* Global index of each token of model field k (one per token, in order,
 * duplicates kept): what the serving batch's slots hold. */
void af_encode_token_indices(const struct af_featspec *s,
                             const struct af_vocab *v, uint32_t k,
                             const struct af_tok *tok, uint32_t n_tok,
                             uint32_t *gidx);

/*
 * Entries of model field k (s->cat_field[k]) for its tokens: writes at most
 * n_tok (index, value) pairs into gidx/val, returns how many (distinct
 * indices in first-occurrence order).  Categorical and mean-pooled multi
 * fields merge exactly as af_field_entries (field_layout.h) merges the
 * slots af_encode_token_indices fills, so training and serving agree bit
 * for bit.
 */
uint32_t af_encode_tokens(const struct af_featspec *s,
                          const struct af_vocab *v, uint32_t k,
                          const struct af_tok *tok, uint32_t n_tok,
                          uint32_t *gidx, float *val);

/* One encoded row (caller's buffers). */
struct af_encoded {
    uint32_t *n_per_field; /* s->n_cat                                    */
    uint32_t *gidx;        /* cap entries                                 */
    float *val;
    uint32_t cap;
    float *dense;          /* s->n_dense                                  */
    uint32_t n_entries;    /* filled                                      */
};

/*
 * Encode every field of a raw row: tokens, then entries (the two functions
 * above), then the dense values.  `only_side` limits the work to request-
 * side fields (1), candidate-side fields (0) or none (-1: all); skipped
 * fields get 0 entries.  scratch is for token text.  0 or a negative AF_E*
 * with err.
 */
int af_encode_row(const struct af_featspec *s, const struct af_vocab *v,
                  const char *const *raw, int only_side,
                  struct af_encoded *out, char *scratch, size_t scratch_len,
                  char *err, size_t errlen);

#endif
