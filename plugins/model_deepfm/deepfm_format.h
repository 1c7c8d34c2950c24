/*
 * deepfm_format.h -- payload of a "deepfm" model file.
 *
 * A deepfm payload is an fm payload (../model_fm/fm_format.h, which holds
 * the full layout, the formula and the parser) whose header has
 * n_layers >= 1, followed by the MLP section:
 *
 *   for l = 0 .. n_layers-1:
 *     float W_l[width[l] * width[l+1]]   row-major, input x output
 *     float b_l[width[l+1]]
 *
 * width[0] = n_fields * dim + n_dense (the concatenated field embeddings,
 * then the dense inputs), width[n_layers] = 1; ReLU follows every layer
 * but the last.  Rows [0, n_req_fields * dim) and
 * [n_fields * dim, n_fields * dim + n_req_dense) of W_0 read request-side
 * inputs: the serving plugin multiplies them once per request.
 */
#ifndef AF_PLUGIN_DEEPFM_FORMAT_H
#define AF_PLUGIN_DEEPFM_FORMAT_H

#include "../model_fm/fm_format.h"

#endif
