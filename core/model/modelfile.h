/*
 * modelfile.h -- adfunnel model files (.afm).
 *
 * Layout (little-endian):
 *   0    char     magic[8]        "AFMODEL\0"
 *   8    uint32   format_version  1
 *   12   uint32   header_size     256
 *   16   char     kind[16]        "lr", "deepfm", ...  (NUL-padded)
 *   32   char     version[64]     label, e.g. "lr-world-20261122"
 *   96   uint64   fingerprint     feature-spec fingerprint (0 = none)
 *   104  uint64   payload_size
 *   112  uint32   payload_crc32   zlib crc32 of the payload
 *   116  char     summary[136]    training summary, NUL-padded
 *   252  uint32   header_crc32    crc32 of bytes 0..251
 *   256  payload
 *
 * Files are written atomically (temporary file, fsync, rename), so a reader
 * never sees a half-written model.
 */
#ifndef AF_CORE_MODELFILE_H
#define AF_CORE_MODELFILE_H

#include <stddef.h>
#include <stdint.h>
#include "adfunnel/af_types.h"

#define AF_MODELFILE_MAGIC "AFMODEL"
#define AF_MODELFILE_VERSION 1
#define AF_MODELFILE_HEADER 256

struct af_modelfile_meta {
    const char *kind;
    const char *version;
    uint64_t fingerprint;
    const char *summary; /* may be NULL */
};

/* Write header + payload to path atomically.  0 or negative AF_E*, with
 * "path: reason" in err. */
int af_modelfile_write(const char *path, const struct af_modelfile_meta *m,
                       const void *payload, size_t size, char *err,
                       size_t errlen);

/* Open and verify (see af_host_api.model_open for the rules); the payload
 * is read into memory owned by the blob. */
int af_modelfile_open(const char *path, const char *kind, uint64_t fingerprint,
                      struct af_model_blob *out, char *err, size_t errlen);
void af_modelfile_close(struct af_model_blob *b);

#endif
