/*
 * platt_format.h -- payload of a "platt" calibrator file (kind "platt" in
 * the .afm header): p' = sigmoid(a * logit(p) + b), fitted by
 * `adfunnel calibrate --method platt`.
 *
 * Little-endian: uint32 magic, uint32 reserved (0), double a, double b
 * (24 bytes).
 */
#ifndef AF_PLUGIN_PLATT_FORMAT_H
#define AF_PLUGIN_PLATT_FORMAT_H

#include <stdint.h>

#define AF_PLATT_KIND "platt"
#define AF_PLATT_MAGIC 0x31544c50u /* "PLT1" */

struct af_platt_payload {
    uint32_t magic;
    uint32_t reserved;
    double a, b;
};

_Static_assert(sizeof(struct af_platt_payload) == 24,
               "the platt payload is 24 bytes on disk");

#endif
