/*
 * trainer.h -- the contract between `adfunnel train` and every trainer
 * (lr: core/learn/lr_*.c; fm, deepfm: core/learn/fm*.c, deepfm*.c).
 *
 * A trainer reads encoded examples (examples.h: global indices, one index
 * space of n_index entries, fields in feature-spec order with the
 * request-side fields first -- see field_layout.h), fits a model, and
 * returns its file payload (the bytes after the .afm header, in the kind's
 * own format) plus its per-epoch history.  The CLI writes the payload with
 * af_modelfile_write() and the feature-spec fingerprint; the trainer never
 * touches files.
 *
 * Rules every trainer follows:
 *  - train rows are visited in a seeded order (o->seed), so a run is
 *    reproducible for a given seed and thread count;
 *  - e->weight (NULL = all 1) multiplies each row's loss;
 *  - early stopping: after each epoch compute the valid AUC (af_eval_auc,
 *    eval.h); stop after o->patience epochs without improvement and return
 *    the best epoch's weights (valid == NULL: run o->epochs epochs);
 *  - o->downsample_rate w (1 = none) is the rate at which the CLI kept the
 *    train negatives; the trainer stores it in its payload, and the kind's
 *    predict function and serving plugin return p / (p + (1 - p) / w);
 *    valid metrics are computed on corrected probabilities;
 *  - o->progress, when set, is called at most a few times per second and
 *    once at the end of each epoch, from the calling thread.
 *
 * Note to helper-7 from helper-8 (fm/deepfm): two fields were appended to
 * struct af_train_opts -- n_req_dense (dense inputs [0, n_req_dense) are
 * request-side at serving; please order dense fields request-side first,
 * like the categorical ones, and set it from the spec) and
 * blas_threads_mlp (a threading choice, 0 by default).  Zero-initialised
 * options keep the old meaning.
 */
#ifndef AF_CORE_TRAINER_H
#define AF_CORE_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "learn/examples.h"

#define AF_TRAIN_MAX_HIDDEN 8
#define AF_TRAIN_MAX_EPOCHS 256
#define AF_TRAIN_MAX_FIELDS 256

enum af_optimizer {
    AF_OPT_DEFAULT = 0, /* the kind's default (lr: ftrl, fm/deepfm: adam)  */
    AF_OPT_FTRL,        /* FTRL-Proximal (lr)                              */
    AF_OPT_SGD,         /* plain SGD                                       */
    AF_OPT_ADAM,        /* Adam; lazy (sparse rows) when o->sparse is set  */
    AF_OPT_ADAGRAD,     /* Adagrad                                         */
    AF_OPT_NEWTON,      /* lr: exact L2 solution by truncated Newton       */
};

/* Name <-> enum ("ftrl", "sgd", "adam", "adagrad", "newton", "default").  Returns -1
 * for an unknown name. */
int af_optimizer_parse(const char *name);
const char *af_optimizer_name(int opt);

/* Where a trainer is, for the CLI's progress line. */
struct af_train_progress {
    uint32_t epoch;        /* 1-based                                     */
    uint32_t epochs;       /* the maximum                                 */
    uint64_t rows_done;    /* in this epoch                               */
    uint64_t rows_total;   /* rows per epoch                              */
    double running_loss;   /* mean train logloss of recent batches        */
    double seconds;        /* since training began                        */
    int epoch_done;        /* 1 on the end-of-epoch call                  */
};
typedef void (*af_train_progress_fn)(void *ctx,
                                     const struct af_train_progress *p);

struct af_train_opts {
    uint32_t epochs;          /* maximum epochs                           */
    uint32_t batch_size;      /* rows per mini-batch                      */
    double learning_rate;     /* sgd/adam/adagrad step; ftrl: see alpha   */
    int optimizer;            /* enum af_optimizer                        */
    double l2;                /* L2 strength (kind-specific scaling, see
                                 the trainer's header)                    */
    double l1;                /* L1 strength (ftrl)                       */
    double ftrl_alpha;        /* FTRL per-coordinate rate alpha           */
    double ftrl_beta;         /* FTRL beta                                */
    double adam_beta1, adam_beta2, adam_eps;
    int sparse;               /* 1: lazy updates of embedding rows only   */
    uint64_t seed;
    uint32_t threads;         /* worker threads (>= 1)                    */
    uint32_t patience;        /* early-stopping patience in epochs        */
    double downsample_rate;   /* w in (0, 1]; 1 = none                    */
    uint32_t embed_dim;       /* fm / deepfm embedding width              */
    uint32_t n_hidden;        /* deepfm MLP depth                         */
    uint32_t hidden[AF_TRAIN_MAX_HIDDEN]; /* deepfm MLP widths            */
    double dropout;           /* deepfm dropout on hidden layers          */

    /* Serving layout (field_layout.h), stored in the payload so a model
     * plugin can read the batch: fields [0, n_req_fields) are request-side;
     * field f occupies field_slots[f] batch slots (NULL = all 1). */
    uint32_t n_req_fields;
    const uint32_t *field_slots;

    af_train_progress_fn progress; /* may be NULL                         */
    void *progress_ctx;

    /* Added by the fm/deepfm trainer (helper-8; see the note at the top).
     * Dense inputs [0, n_req_dense) are request-side (b->req_dense at
     * serving), the others candidate-side (b->dense), in dense order. */
    uint32_t n_req_dense;
    /* fm/deepfm: 1 = run every sgemm on thread 0 with OpenBLAS using
     * `threads` threads; 0 (default) = split each batch's rows over our own
     * threads, OpenBLAS single-threaded (faster here: docs/benchmarks.md). */
    int blas_threads_mlp;
};

/* Fill o with the defaults of `kind` ("lr", "fm", "deepfm"; others get
 * the lr ones).  The deepfm defaults are the anchor's: adam, lr 1e-3,
 * batch 256, embed 16, MLP 400-400-400, 20 epochs, patience 2. */
void af_train_opts_defaults(struct af_train_opts *o, const char *kind);

/* One epoch of the history. */
struct af_train_epoch {
    uint32_t epoch;       /* 1-based                                      */
    double train_loss;    /* mean weighted train logloss over the epoch   */
    double valid_loss;    /* NaN when there is no valid split             */
    double valid_auc;     /* NaN when there is no valid split             */
    double seconds;       /* wall time of the epoch                       */
};

/* What a trainer returns. */
struct af_model_out {
    char kind[16];        /* "lr", "fm", "deepfm"                         */
    void *payload;        /* malloc'd, owned by this struct               */
    size_t payload_size;
    char summary[136];    /* one line for the model-file header           */
    uint32_t n_epochs;    /* entries of epoch[]                           */
    uint32_t best_epoch;  /* 1-based epoch whose weights were kept        */
    struct af_train_epoch epoch[AF_TRAIN_MAX_EPOCHS];
};

/* Release m->payload and zero m. */
void af_model_out_free(struct af_model_out *m);

/*
 * Train one model.  train is required; valid may be NULL.  On success
 * returns 0 and fills *out (free with af_model_out_free); on failure a
 * negative AF_E* with a message in err.
 */
int af_train_lr(const struct af_examples *train,
                const struct af_examples *valid,
                const struct af_train_opts *o, struct af_model_out *out,
                char *err, size_t errlen);
int af_train_fm(const struct af_examples *train,
                const struct af_examples *valid,
                const struct af_train_opts *o, struct af_model_out *out,
                char *err, size_t errlen);
int af_train_deepfm(const struct af_examples *train,
                    const struct af_examples *valid,
                    const struct af_train_opts *o, struct af_model_out *out,
                    char *err, size_t errlen);

/*
 * Score every row of x with a payload of the kind: p[i] = click
 * probability, downsampling correction applied (x->n entries, caller's
 * buffer).  The payload is validated against x (index size, fields); a
 * mismatch is AF_EMISMATCH, a malformed payload AF_ECORRUPT.
 */
int af_predict_lr(const void *payload, size_t size,
                  const struct af_examples *x, double *p, char *err,
                  size_t errlen);
int af_predict_fm(const void *payload, size_t size,
                  const struct af_examples *x, double *p, char *err,
                  size_t errlen);
int af_predict_deepfm(const void *payload, size_t size,
                      const struct af_examples *x, double *p, char *err,
                      size_t errlen);

/* Dispatch on kind ("lr", "fm", "deepfm"); AF_ENOTSUP for another kind. */
int af_train(const char *kind, const struct af_examples *train,
             const struct af_examples *valid, const struct af_train_opts *o,
             struct af_model_out *out, char *err, size_t errlen);
int af_predict(const char *kind, const void *payload, size_t size,
               const struct af_examples *x, double *p, char *err,
               size_t errlen);

#endif
