/*
 * field_layout.h -- how a model's fields sit in the serving batch.
 *
 * Header-only so that model plugins (which link nothing from the host) and
 * the trainers share one definition.
 *
 * A model trained by `adfunnel train` sees F fields in feature-spec order,
 * with the request-side fields (user, context) first: fields
 * [0, n_req_fields) are request-side, [n_req_fields, F) candidate-side.  At
 * serving the feature stage writes them into the batch as global indices:
 *
 *   request field f      -> slots[f] consecutive entries of b->req_fid,
 *   candidate field f    -> slots[f] consecutive fid columns,
 *
 * in field order.  A single-valued field has one slot.  A multi-valued field
 * has max_len slots (the spec's max_len): its k tokens fill the first k slots
 * and the rest hold AF_FID_NONE.  Models skip AF_FID_NONE and mean-pool the
 * others with weight 1/k, which is exactly the (index, 1/k) entries that
 * struct af_examples holds for the same row in training.
 */
#ifndef AF_CORE_FIELD_LAYOUT_H
#define AF_CORE_FIELD_LAYOUT_H

#include <stdint.h>

/* An empty slot of a multi-valued field. */
#define AF_FID_NONE UINT32_MAX

/* Entries of one field in the batch: count the filled slots of the
 * slots-wide group starting at fid (stride between slots), so the caller
 * can weight each with 1 / k.  Returns k (0 when all are empty). */
static inline uint32_t
af_field_filled(const uint32_t *fid, uint32_t slots, size_t stride)
{
    uint32_t k = 0;
    for (uint32_t s = 0; s < slots; s++)
        k += fid[s * stride] != AF_FID_NONE;
    return k;
}

/*
 * The (index, value) entries of one field from its slots, exactly as the
 * encoder gives them in training (encode.h, af_encode_tokens): each filled
 * slot weighs (float)(1 / k), and slots holding the same index merge into
 * one entry (values added, first-occurrence order).  gidx / val need room
 * for `slots` entries.  Returns the entry count.
 */
static inline uint32_t
af_field_entries(const uint32_t *fid, uint32_t slots, size_t stride,
                 uint32_t *gidx, float *val)
{
    uint32_t k = af_field_filled(fid, slots, stride), n = 0;
    if (k == 0)
        return 0;
    float share = (float)(1.0 / k);
    for (uint32_t s = 0; s < slots; s++) {
        uint32_t g = fid[s * stride], j = 0;
        if (g == AF_FID_NONE)
            continue;
        while (j < n && gidx[j] != g)
            j++;
        if (j < n) {
            val[j] += share;
        } else {
            gidx[n] = g;
            val[n++] = share;
        }
    }
    return n;
}

#endif
