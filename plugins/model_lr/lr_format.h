/*
 * lr_format.h -- payload of an "lr" model file (kind "lr" in the .afm
 * header; see core/model/modelfile.h for the header and checksums).
 *
 * Little-endian, 4-byte floats (IEEE 754), no padding:
 *
 *   struct af_lr_payload_header   16 bytes
 *   float w[n_buckets]            hashed-feature weights: feature id f uses
 *                                 w[f % n_buckets]
 *   float w_dense[n_dense]        weights of the batch's dense features,
 *                                 in the batch's dense order
 *
 * so the payload is exactly 16 + 4 * (n_buckets + n_dense) bytes, and
 *
 *   logit = bias + sum over request fields f of w[req_fid[f] % n_buckets]
 *                + sum over candidate fields f of w[fid[f][i] % n_buckets]
 *                + sum over j of w_dense[j] * dense[i][j]
 *
 * Writers (the world's fit tool, training tools) include this header.
 */
#ifndef AF_PLUGIN_LR_FORMAT_H
#define AF_PLUGIN_LR_FORMAT_H

#include <stdint.h>

#define AF_LR_KIND "lr"

struct af_lr_payload_header {
    uint32_t n_buckets; /* > 0                                      */
    uint32_t n_dense;   /* may differ from the batch's; extra ignored */
    float bias;
    float reserved;     /* 0 */
};

/* Readers and writers use the in-memory layout as the file layout. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "lr model files are little-endian; this host is not");
_Static_assert(sizeof(struct af_lr_payload_header) == 16,
               "the lr payload header is 16 bytes on disk");

#endif
