/*
 * fm_score.h -- serving of "fm" and "deepfm" model files, shared by the
 * model_fm and model_deepfm plugins (each compiles fm_score.c and adds only
 * its descriptor).
 *
 * Scoring a batch (fm_format.h has the formula and the batch layout):
 *
 *   once per request (request-level dedup, parameter dedup = true):
 *     the request fields' pooled embeddings e_r, their first-order sum,
 *     their FM partial sums s_r[k] = sum e_r[k] and q_r = sum |e_r|^2, and
 *     the request part of the first MLP layer u = b_1 + [e_r, x_r] W_1,req
 *     (W_1 restricted to the rows of the request inputs);
 *   per candidate, as one batch:
 *     the candidate fields' embeddings into X_c (n x in_c), their
 *     first-order and FM sums, FM = 1/2 sum_k [(s_r + s_c)^2] - q_r - q_c),
 *     Z_1 = u (broadcast) + X_c W_1,cand by one cblas_sgemm, then one sgemm
 *     per remaining layer.
 *
 *   With dedup = false the request fields are gathered for every
 *   candidate and the first layer is X W_1 over all inputs: the same model
 *   scored the way a model without request-level dedup would (the anchor's
 *   way); scores agree to float rounding (tests/unit/test_deepfm_serve.c).
 *
 * Every buffer comes from the request arena (one allocation per buffer per
 * request, none per candidate); the instance is read-only after create, so
 * concurrent requests need no lock.
 */
#ifndef AF_PLUGIN_FM_SCORE_H
#define AF_PLUGIN_FM_SCORE_H

#include <stddef.h>
#include <adfunnel/adfunnel.h>

/* create() of either kind ("fm" or "deepfm"). */
int af_fm_serve_create(const char *kind, const struct af_create_args *args,
                       void **inst, char *err, size_t errlen);
void af_fm_serve_destroy(void *inst);
int af_fm_serve_score(void *inst, const struct af_request *req,
                      const struct af_batch *b, const struct af_score_out *out);
const char *af_fm_serve_version(void *inst);

#endif
