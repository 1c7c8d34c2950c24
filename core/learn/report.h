/*
 * report.h -- what `adfunnel eval` writes: metrics JSON, an SVG
 * reliability diagram, SVG training curves and a one-page HTML report that
 * embeds both, plus the training-history file `adfunnel train` leaves next
 * to a model (<model>.history.json) from which the curves are drawn.
 */
#ifndef AF_CORE_REPORT_H
#define AF_CORE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "learn/eval.h"
#include "learn/trainer.h"

/* Metrics of one segment (one token of the segment field). */
struct af_segment {
    char name[64];
    struct af_eval ev;
};

struct af_report {
    const char *spec, *model, *vocab, *calibrator, *split;
    const struct af_eval *raw;        /* model output                      */
    const struct af_eval *cal;        /* after the calibrator, or NULL     */
    const char *segment_field;        /* NULL: no breakdown                */
    const struct af_segment *seg;
    uint32_t n_seg;
    const struct af_train_epoch *hist; /* NULL when no history file        */
    uint32_t n_hist, best_epoch;
};

/* Write dir/eval.json, dir/reliability.svg, dir/curves.svg (when there is
 * a history) and dir/report.html; dir is created when missing.  0 or AF_E*
 * with err. */
int af_report_write(const struct af_report *r, const char *dir, char *err,
                    size_t errlen);

/* The training history: write (JSON) and read back.  Reading allocates
 * *hist (free()). */
int af_history_write(const char *path, const struct af_model_out *m,
                     const char *kind, char *err, size_t errlen);
int af_history_read(const char *path, struct af_train_epoch **hist,
                    uint32_t *n, uint32_t *best, char *err, size_t errlen);

/* Metrics as a JSON object (jansson json_t *; returned as void * so this
 * header does not pull jansson in).  NULL when out of memory. */
void *af_eval_json(const struct af_eval *e);

#endif
