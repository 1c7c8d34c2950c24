/* sampling.c -- see sampling.h. */
#include "learn/sampling.h"

#include <stdlib.h>

#include "adfunnel/af_errno.h"

int
af_examples_downsample(const struct af_examples *src, double w, uint64_t seed,
                       struct af_examples *dst)
{
    int rc = af_examples_init(dst, src->n_fields, src->n_dense,
                              src->field_offset, src->n, src->n_entries);
    if (rc != 0)
        return rc;
    uint64_t s = seed ^ 0x646f776e73616d70ull;
    uint32_t *npf = malloc((src->n_fields ? src->n_fields : 1) * sizeof *npf);
    if (npf == NULL)
        rc = AF_ENOMEM;
    for (uint32_t r = 0; rc == 0 && r < src->n; r++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) * 0x1.0p-53;
        if (src->label[r] < 0.5f && u >= w)
            continue;
        size_t base = (size_t)r * src->n_fields;
        for (uint32_t f = 0; f < src->n_fields; f++)
            npf[f] = src->start[base + f + 1] - src->start[base + f];
        uint32_t a = src->start[base];
        rc = af_examples_push(dst, npf, src->gidx + a, src->val + a,
                              src->dense ? src->dense + (size_t)r * src->n_dense
                                         : NULL,
                              src->label[r], src->weight ? src->weight[r] : 1.0f,
                              src->time ? src->time[r] : 0);
    }
    free(npf);
    if (rc != 0)
        af_examples_free(dst);
    return rc;
}
