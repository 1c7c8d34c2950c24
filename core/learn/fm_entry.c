/*
 * fm_entry.c -- the trainer.h entry points of the fm and deepfm kinds that
 * are not training itself: af_train_fm (the deepfm engine without its MLP)
 * and the offline predictors.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "learn/deepfm.h"

int
af_train_fm(const struct af_examples *train, const struct af_examples *valid,
            const struct af_train_opts *o, struct af_model_out *out,
            char *err, size_t errlen)
{
    return af_deepfm_fit(train, valid, o, 0, out, err, errlen);
}

int
af_fm_predict_payload(const char *kind, const void *payload, size_t size,
                      const struct af_examples *x, double *p,
                      uint32_t threads, char *err, size_t errlen)
{
    struct af_fm_model m;
    int rc = af_fm_model_from_payload(payload, size, kind, &m, err, errlen);
    if (rc != AF_OK)
        return rc;
    int same = x->n_fields == m.n_fields && x->n_dense == m.n_dense &&
               x->n_index == m.n_index;
    if (same && x->field_offset != NULL)
        same = memcmp(x->field_offset, m.field_offset,
                      (m.n_fields + 1) * sizeof *m.field_offset) == 0;
    if (!same) {
        snprintf(err, errlen, "%s model has %u fields, %u dense, %llu indices"
                 " (and its field offsets); the examples have %u, %u, %llu "
                 "(or other offsets): built with another feature spec?",
                 kind, m.n_fields, m.n_dense, (unsigned long long)m.n_index,
                 x->n_fields, x->n_dense, (unsigned long long)x->n_index);
        af_fm_model_view_free(&m);
        return AF_EMISMATCH;
    }
    rc = af_fm_predict_rows(&m, x, p, threads);
    af_fm_model_view_free(&m);
    if (rc != AF_OK)
        snprintf(err, errlen, "%s prediction: out of memory", kind);
    return rc;
}

/* Threads of an offline prediction: the cores, at most 8 (rows are
 * independent, so the result does not depend on it). */
static uint32_t
predict_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (uint32_t)n;
}

int
af_predict_fm(const void *payload, size_t size, const struct af_examples *x,
              double *p, char *err, size_t errlen)
{
    return af_fm_predict_payload("fm", payload, size, x, p, predict_threads(),
                                 err, errlen);
}

int
af_predict_deepfm(const void *payload, size_t size,
                  const struct af_examples *x, double *p, char *err,
                  size_t errlen)
{
    return af_fm_predict_payload("deepfm", payload, size, x, p,
                                 predict_threads(), err, errlen);
}
