/*
 * lr_predict.c -- score encoded examples with an "lr" payload
 * (plugins/model_lr/lr_format.h), exactly as the model_lr plugin scores a
 * batch: bias + sum of w[index] * value + dense terms, sigmoid, then the
 * downsampling correction recorded in the payload.
 */
#include "learn/trainer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../plugins/model_lr/lr_format.h"
#include "adfunnel/af_errno.h"

int
af_predict_lr(const void *payload, size_t size, const struct af_examples *x,
              double *p, char *err, size_t errlen)
{
    struct af_lr_payload_header h;
    if (size < sizeof h) {
        snprintf(err, errlen, "lr payload of %zu bytes is shorter than its "
                 "header", size);
        return AF_ECORRUPT;
    }
    memcpy(&h, payload, sizeof h);
    uint64_t body = sizeof h + 4 * ((uint64_t)h.n_buckets + h.n_dense);
    if (h.n_buckets == 0 || size < body) {
        snprintf(err, errlen, "lr payload of %zu bytes is too short for %u "
                 "buckets and %u dense weights", size, h.n_buckets, h.n_dense);
        return AF_ECORRUPT;
    }
    double rate = 1.0;
    if (size > body) {
        struct af_lr_payload_ext ext;
        if (size - body < sizeof ext) {
            snprintf(err, errlen, "lr payload has %zu stray bytes",
                     (size_t)(size - body));
            return AF_ECORRUPT;
        }
        memcpy(&ext, (const char *)payload + body, sizeof ext);
        if (ext.magic != AF_LR_EXT_MAGIC ||
            size != body + sizeof ext + 4 * (uint64_t)ext.n_fields ||
            !(ext.downsample_rate > 0 && ext.downsample_rate <= 1)) {
            snprintf(err, errlen, "lr payload extension is malformed");
            return AF_ECORRUPT;
        }
        rate = ext.downsample_rate;
        if (ext.n_fields && ext.n_fields != x->n_fields) {
            snprintf(err, errlen, "the lr model has %u fields, the data %u",
                     ext.n_fields, x->n_fields);
            return AF_EMISMATCH;
        }
    }
    if (x->n_index != h.n_buckets) {
        snprintf(err, errlen, "the lr model has %u weights, the data's index "
                 "space is %llu (other vocabularies?)", h.n_buckets,
                 (unsigned long long)x->n_index);
        return AF_EMISMATCH;
    }
    const char *wb = (const char *)payload + sizeof h;
    for (uint32_t r = 0; r < x->n; r++) {
        double z = h.bias;
        uint32_t a = x->start[(size_t)r * x->n_fields];
        uint32_t b = x->start[(size_t)(r + 1) * x->n_fields];
        for (uint32_t e = a; e < b; e++) {
            float wi;
            memcpy(&wi, wb + 4 * (size_t)x->gidx[e], 4);
            z += (double)wi * x->val[e];
        }
        uint32_t nd = x->n_dense < h.n_dense ? x->n_dense : h.n_dense;
        for (uint32_t j = 0; j < nd; j++) {
            float wj;
            memcpy(&wj, wb + 4 * ((size_t)h.n_buckets + j), 4);
            z += (double)wj * x->dense[(size_t)r * x->n_dense + j];
        }
        double q = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
        if (rate < 1.0)
            q = q / (q + (1.0 - q) / rate);
        p[r] = q;
    }
    return 0;
}
