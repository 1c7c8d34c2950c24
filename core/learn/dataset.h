/*
 * dataset.h -- a spec's data set: read (reader.h), tokenized (encode.h),
 * ordered, split into train / valid / test, vocabularies built on train
 * (vocab.h), and encoded into struct af_examples.  This is the anchors'
 * recipe machinery (../shared/anchors/README.md): stable sort by the
 * spec's order column, 80/10/10 cut points floor(8n/10) and floor(9n/10)
 * or explicit row ranges, first-appearance vocabularies with min_count.
 */
#ifndef AF_CORE_DATASET_H
#define AF_CORE_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "learn/examples.h"
#include "learn/featspec.h"
#include "learn/vocab.h"

enum { AF_PART_TRAIN = 0, AF_PART_VALID = 1, AF_PART_TEST = 2, AF_PARTS = 3 };

extern const char *const af_part_names[AF_PARTS];

struct af_dataset_opts {
    const char *root;            /* data root for relative paths (or NULL) */
    const struct af_vocab *vocab; /* use these vocabularies (NULL: build)  */
    uint64_t max_rows;           /* stop after this many rows (0 = all)    */
};

struct af_dataset {
    struct af_vocab vocab;       /* built or copied from opts->vocab       */
    struct af_examples part[AF_PARTS];
    uint64_t rows;               /* rows kept                              */
    uint64_t rejected;           /* malformed lines                        */
    char *report;                /* first rejection reasons, "" if none    */
};

/* Load everything.  0 or a negative AF_E* with err ("file:line: reason"
 * for data problems).  Malformed lines are skipped and counted in
 * d->rejected / d->report; it is the caller's choice to fail on them. */
int af_dataset_load(const struct af_featspec *s,
                    const struct af_dataset_opts *o, struct af_dataset *d,
                    char *err, size_t errlen);
void af_dataset_free(struct af_dataset *d);

/* Copy a vocabulary (for opts->vocab). */
int af_vocab_copy(struct af_vocab *dst, const struct af_vocab *src,
                  const struct af_featspec *s);

/* The token of global index g (NULL for an OOV slot or a hashed field;
 * *field set to the model field). */
const char *af_vocab_token(const struct af_vocab *v, uint32_t g,
                           uint32_t *field, uint32_t *len);

#endif
