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
 *   [optional extension, written by `adfunnel train`]
 *   struct af_lr_payload_ext      16 bytes, magic AF_LR_EXT_MAGIC
 *   uint32 slots[n_fields]        batch slots of each model field
 *
 * so the payload is 16 + 4 * (n_buckets + n_dense) bytes, plus
 * 16 + 4 * n_fields with the extension.  Without it (files of the world's
 * fit tool), or with n_fields = 0:
 *
 *   logit = bias + sum over request fields f of w[req_fid[f] % n_buckets]
 *                + sum over candidate fields f of w[fid[f][i] % n_buckets]
 *                + sum over j of w_dense[j] * dense[i][j]
 *
 * With n_fields > 0 the ids are global indices of a feature spec
 * (core/learn/field_layout.h): model field f covers slots[f] consecutive
 * batch slots -- request fields [0, n_req_fields) in req_fid, the others in
 * fid columns -- and contributes the mean of w over its filled slots
 * (AF_LR_FID_NONE marks an empty slot of a multi-valued field).  The
 * extension's downsample_rate w (1 = none) makes the model return
 * p / (p + (1 - p) / w) unless the pipeline sets downsample_rate itself.
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

#define AF_LR_EXT_MAGIC 0x3158524cu /* "LRX1" little-endian */
#define AF_LR_FID_NONE 0xffffffffu  /* empty slot (= AF_FID_NONE)       */

struct af_lr_payload_ext {
    uint32_t magic;          /* AF_LR_EXT_MAGIC                            */
    uint32_t n_fields;       /* model fields described by slots[]          */
    uint32_t n_req_fields;   /* the first n_req_fields are request-side    */
    float downsample_rate;   /* (0, 1]; 1 = no correction                  */
};

/* Readers and writers use the in-memory layout as the file layout. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "lr model files are little-endian; this host is not");
_Static_assert(sizeof(struct af_lr_payload_header) == 16,
               "the lr payload header is 16 bytes on disk");
_Static_assert(sizeof(struct af_lr_payload_ext) == 16,
               "the lr payload extension is 16 bytes on disk");

#endif
