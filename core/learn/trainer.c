/*
 * trainer.c -- defaults, names and kind dispatch for the trainers
 * (trainer.h).
 */
#include "learn/trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"

static const char *const opt_names[] = {
    [AF_OPT_DEFAULT] = "default", [AF_OPT_FTRL] = "ftrl", [AF_OPT_SGD] = "sgd",
    [AF_OPT_ADAM] = "adam",       [AF_OPT_ADAGRAD] = "adagrad",
    [AF_OPT_NEWTON] = "newton",
};

int
af_optimizer_parse(const char *name)
{
    for (size_t i = 0; i < sizeof opt_names / sizeof opt_names[0]; i++)
        if (strcmp(name, opt_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *
af_optimizer_name(int opt)
{
    if (opt < 0 || (size_t)opt >= sizeof opt_names / sizeof opt_names[0])
        return "unknown";
    return opt_names[opt];
}

void
af_train_opts_defaults(struct af_train_opts *o, const char *kind)
{
    memset(o, 0, sizeof *o);
    o->seed = 0;
    o->threads = 2;
    o->downsample_rate = 1.0;
    o->adam_beta1 = 0.9;
    o->adam_beta2 = 0.999;
    o->adam_eps = 1e-8;
    if (kind != NULL && (strcmp(kind, "fm") == 0 || strcmp(kind, "deepfm") == 0)) {
        /* The anchor's DeepFM (../shared/anchors/README.md). */
        o->optimizer = AF_OPT_ADAM;
        o->learning_rate = 1e-3;
        o->batch_size = 256;
        o->epochs = 20;
        o->patience = 2;
        o->l2 = 1e-6;
        o->embed_dim = 16;
        if (strcmp(kind, "deepfm") == 0) {
            o->n_hidden = 3;
            o->hidden[0] = o->hidden[1] = o->hidden[2] = 400;
        }
        return;
    }
    /* lr: FTRL-Proximal.  alpha, batch and the epoch budget are the
     * setting of the anchor comparison in docs/benchmarks.md; l2 is in the
     * units of liblinear's 1 / C (summed loss), see lr_train.c. */
    o->optimizer = AF_OPT_FTRL;
    o->learning_rate = 0.05;
    o->ftrl_alpha = 0.1;
    o->ftrl_beta = 1.0;
    o->l1 = 0.0;
    o->l2 = 1.0;
    o->batch_size = 64;
    o->epochs = 100;
    o->patience = 5;
}

void
af_model_out_free(struct af_model_out *m)
{
    if (m == NULL)
        return;
    free(m->payload);
    memset(m, 0, sizeof *m);
}

/* The fm and deepfm trainers live in fm*.c and deepfm*.c (helper files of
 * the same library); lr in lr_train.c / lr_predict.c. */

int
af_train(const char *kind, const struct af_examples *train,
         const struct af_examples *valid, const struct af_train_opts *o,
         struct af_model_out *out, char *err, size_t errlen)
{
    int (*fn)(const struct af_examples *, const struct af_examples *,
              const struct af_train_opts *, struct af_model_out *, char *,
              size_t) = NULL;
    if (strcmp(kind, "lr") == 0)
        fn = af_train_lr;
    else if (strcmp(kind, "fm") == 0)
        fn = af_train_fm;
    else if (strcmp(kind, "deepfm") == 0)
        fn = af_train_deepfm;
    if (fn == NULL) {
        snprintf(err, errlen, "model kind \"%s\" has no trainer (known: lr, "
                 "fm, deepfm)", kind);
        return AF_ENOTSUP;
    }
    return fn(train, valid, o, out, err, errlen);
}

int
af_predict(const char *kind, const void *payload, size_t size,
           const struct af_examples *x, double *p, char *err, size_t errlen)
{
    int (*fn)(const void *, size_t, const struct af_examples *, double *,
              char *, size_t) = NULL;
    if (strcmp(kind, "lr") == 0)
        fn = af_predict_lr;
    else if (strcmp(kind, "fm") == 0)
        fn = af_predict_fm;
    else if (strcmp(kind, "deepfm") == 0)
        fn = af_predict_deepfm;
    if (fn == NULL) {
        snprintf(err, errlen, "model kind \"%s\" has no predictor (known: "
                 "lr, fm, deepfm)", kind);
        return AF_ENOTSUP;
    }
    return fn(payload, size, x, p, err, errlen);
}
