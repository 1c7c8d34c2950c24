/*
 * fm_payload.c -- fm/deepfm model <-> model file payload
 * (plugins/model_fm/fm_format.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "learn/deepfm.h"
#include "../../plugins/model_fm/fm_format.h"

_Static_assert(AF_FM_DIM_MAX == AF_FM_MAX_DIM,
               "fm.h and fm_format.h must agree on the largest dim");

/* Copy n floats read with a stride into dst. */
static float *
put_strided(float *dst, const float *src, size_t stride, uint64_t n,
            uint32_t width)
{
    for (uint64_t i = 0; i < n; i++, dst += width)
        memcpy(dst, src + i * stride, width * sizeof *dst);
    return dst;
}

int
af_fm_payload_build(const struct af_fm_model *m, uint32_t n_req_fields,
                    const uint32_t *field_slots, uint32_t n_req_dense,
                    void **payload, size_t *size)
{
    *payload = NULL;
    *size = 0;
    if (n_req_fields > m->n_fields || n_req_dense > m->n_dense)
        return AF_EINVAL;
    struct af_fm_payload_header h;
    memset(&h, 0, sizeof h);
    h.n_fields = m->n_fields;
    h.n_req_fields = n_req_fields;
    h.n_dense = m->n_dense;
    h.n_req_dense = n_req_dense;
    h.dim = m->dim;
    h.n_layers = m->has_mlp ? m->mlp.n_layers : 0;
    h.n_index = m->n_index;
    h.downsample_rate = m->downsample_rate;
    h.bias = m->bias;
    for (uint32_t l = 0; m->has_mlp && l <= m->mlp.n_layers; l++)
        h.width[l] = m->mlp.width[l];
    char err[256];
    if (af_fm_check_header(&h, m->has_mlp ? AF_DEEPFM_KIND : AF_FM_KIND, err,
                           sizeof err) != 0)
        return AF_EINVAL;
    for (uint32_t f = 0; field_slots != NULL && f < m->n_fields; f++)
        if (field_slots[f] == 0)
            return AF_EINVAL;

    uint64_t bytes = af_fm_payload_bytes(&h);
    char *buf = malloc(bytes);
    if (buf == NULL)
        return AF_ENOMEM;
    memcpy(buf, &h, sizeof h);
    uint32_t *u = (uint32_t *)(buf + sizeof h);
    for (uint32_t f = 0; f < m->n_fields; f++)
        u[f] = field_slots != NULL ? field_slots[f] : 1;
    memcpy(u + m->n_fields, m->field_offset,
           (m->n_fields + 1) * sizeof *u);
    float *p = (float *)(u + 2 * m->n_fields + 1);
    p = put_strided(p, m->w1, m->w1_stride, m->n_index, 1);
    p = put_strided(p, m->emb, m->emb_stride, m->n_index, m->dim);
    if (m->n_dense > 0)
        memcpy(p, m->w_dense, m->n_dense * sizeof *p);
    p += m->n_dense;
    if (m->has_mlp)
        memcpy(p, m->mlp.params, m->mlp.n_params * sizeof *p);
    *payload = buf;
    *size = (size_t)bytes;
    return AF_OK;
}

int
af_fm_model_from_payload(const void *payload, size_t size, const char *kind,
                         struct af_fm_model *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    struct af_fm_view v;
    if (af_fm_payload_parse(payload, size, kind, &v, err, errlen) != 0 ||
        af_fm_check_finite(&v, err, errlen) != 0)
        return AF_ECORRUPT;
    m->n_fields = v.h.n_fields;
    m->n_dense = v.h.n_dense;
    m->dim = v.h.dim;
    m->n_index = v.h.n_index;
    m->field_offset = v.field_offset;
    m->bias = v.h.bias;
    m->downsample_rate = v.h.downsample_rate;
    /* The model struct is shared with the trainer, hence non-const
     * pointers; a view is never written. */
    m->w1 = (float *)v.w1;
    m->w1_stride = 1;
    m->emb = (float *)v.emb;
    m->emb_stride = v.h.dim;
    m->w_dense = (float *)v.w_dense;
    m->has_mlp = v.h.n_layers > 0;
    if (m->has_mlp &&
        af_mlp_view(&m->mlp, v.h.n_layers, v.h.width, (float *)v.mlp) != 0) {
        snprintf(err, errlen, "%s payload: bad MLP shape", kind);
        return AF_ECORRUPT;
    }
    return AF_OK;
}

void
af_fm_model_view_free(struct af_fm_model *m)
{
    af_mlp_free(&m->mlp);
    memset(m, 0, sizeof *m);
}
