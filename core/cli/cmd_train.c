/*
 * cmd_train.c -- `adfunnel train | eval | calibrate`: fit a model on a
 * feature spec's data set, evaluate it, fit its calibrator
 * (docs/learning.md).
 *
 * The data side is core/learn/dataset.h (the spec's reader, split and
 * vocabularies); trainers are core/learn/trainer.h.  A trained model is
 * three files: MODEL.afm (kind lr/fm/deepfm, the spec+vocabulary
 * fingerprint in its header), MODEL.vocab.afm (the vocabularies, the same
 * fingerprint) and MODEL.history.json (per-epoch losses for the report).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "cli/commands.h"
#include "learn/calib.h"
#include "learn/dataset.h"
#include "learn/eval.h"
#include "learn/report.h"
#include "learn/sampling.h"
#include "learn/trainer.h"
#include "model/modelfile.h"
#include "../../plugins/calibrator_isotonic/iso_format.h"

#define DEFAULT_DATA_ROOT "../shared/data"
#define MAX_SEGMENTS 20

/* --- ## Shared helpers --- */

static int
parse_u64(const char *cmd, const char *opt, const char *s, uint64_t lo,
          uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = (*s >= '0' && *s <= '9') ? strtoull(s, &end, 10) : 0;
    if (*s < '0' || *s > '9' || errno || *end || v < lo || v > hi) {
        fprintf(stderr, "adfunnel %s: %s: '%s' is not an integer in "
                "%llu..%llu\n", cmd, opt, s, (unsigned long long)lo,
                (unsigned long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_u32(const char *cmd, const char *opt, const char *s, uint32_t lo,
          uint32_t hi, uint32_t *out)
{
    uint64_t v;
    if (parse_u64(cmd, opt, s, lo, hi, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int
parse_num(const char *cmd, const char *opt, const char *s, double lo,
          double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || errno || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "adfunnel %s: %s: '%s' is not a number in %g..%g\n",
                cmd, opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* path with its ".afm" suffix (if any) replaced by suffix. */
static void
sibling(char *out, size_t n, const char *path, const char *suffix)
{
    size_t len = strlen(path);
    if (len > 4 && strcmp(path + len - 4, ".afm") == 0)
        len -= 4;
    snprintf(out, n, "%.*s%s", (int)len, path, suffix);
}

static const char *
data_root(const char *opt)
{
    if (opt)
        return opt;
    const char *env = getenv("AF_DATA_ROOT");
    return env && *env ? env : DEFAULT_DATA_ROOT;
}

/* A spec, its data set and (optionally) given vocabularies. */
struct loaded {
    struct af_featspec *spec;
    struct af_dataset ds;
    struct af_vocab vocab;
    int have_vocab;
};

static void
loaded_free(struct loaded *l)
{
    af_dataset_free(&l->ds);
    if (l->have_vocab)
        af_vocab_free(&l->vocab);
    af_featspec_free(l->spec);
    memset(l, 0, sizeof *l);
}

static int
load_data(const char *cmd, const char *spec_path, const char *root,
          uint32_t min_count, const char *vocab_path, uint64_t max_rows,
          struct loaded *l)
{
    char err[2048];
    memset(l, 0, sizeof *l);
    l->spec = af_featspec_load(spec_path, err, sizeof err);
    if (l->spec == NULL) {
        fprintf(stderr, "adfunnel %s: %s\n", cmd, err);
        return -1;
    }
    if (min_count && af_featspec_set_min_count(l->spec, min_count) != 0) {
        fprintf(stderr, "adfunnel %s: out of memory\n", cmd);
        return -1;
    }
    if (vocab_path) {
        if (af_vocab_load(&l->vocab, l->spec, vocab_path, err, sizeof err) != 0) {
            fprintf(stderr, "adfunnel %s: %s\n", cmd, err);
            return -1;
        }
        l->have_vocab = 1;
    }
    struct af_dataset_opts o = {.root = root,
                                .vocab = l->have_vocab ? &l->vocab : NULL,
                                .max_rows = max_rows};
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    if (af_dataset_load(l->spec, &o, &l->ds, err, sizeof err) != 0) {
        fprintf(stderr, "adfunnel %s: %s\n", cmd, err);
        return -1;
    }
    if (l->ds.rejected) {
        fprintf(stderr, "adfunnel %s: %llu malformed line(s) skipped; the "
                "first:\n%s", cmd, (unsigned long long)l->ds.rejected,
                l->ds.report);
    }
    fprintf(stderr, "adfunnel %s: %s: %llu rows (train %u, valid %u, test %u), "
            "%u fields, index size %llu, fingerprint %016llx (%.1fs)\n", cmd,
            l->spec->name, (unsigned long long)l->ds.rows, l->ds.part[0].n,
            l->ds.part[1].n, l->ds.part[2].n, l->spec->n_cat,
            (unsigned long long)l->ds.vocab.n_index,
            (unsigned long long)l->ds.vocab.fingerprint,
            (double)clock() / CLOCKS_PER_SEC - t0);
    return 0;
}

/* The recipes.py --dump format: header, then label and one column per
 * field (global indices, or tokens), multi-valued entries joined by ','. */
static int
dump_split(const struct loaded *l, int part, int tokens)
{
    const struct af_featspec *s = l->spec;
    const struct af_examples *e = &l->ds.part[part];
    printf("label");
    for (uint32_t k = 0; k < s->n_cat; k++)
        printf("\t%s", s->field[s->cat_field[k]].name);
    printf("\n");
    for (uint32_t r = 0; r < e->n; r++) {
        printf("%d", (int)e->label[r]);
        for (uint32_t k = 0; k < s->n_cat; k++) {
            const uint32_t *g;
            const float *v;
            uint32_t n = af_examples_entries(e, r, k, &g, &v);
            putchar('\t');
            for (uint32_t i = 0; i < n; i++) {
                if (i)
                    putchar(',');
                uint32_t f, len;
                const char *t = tokens ? af_vocab_token(&l->ds.vocab, g[i], &f, &len)
                                       : NULL;
                if (tokens)
                    printf("%.*s", t ? (int)len : 3, t ? t : "OOV");
                else
                    printf("%u", g[i]);
            }
        }
        putchar('\n');
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

/* --- ## Progress --- */

struct progress {
    int tty;
    double t_epoch;      /* seconds (trainer clock) when the epoch began */
    uint32_t epoch;      /* the last epoch reported                      */
};

static void
fmt_eta(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "--:--");
    else
        snprintf(buf, n, "%d:%02d", (int)(s / 60), (int)s % 60);
}

static void
on_progress(void *ctx, const struct af_train_progress *p)
{
    struct progress *pg = ctx;
    /* The epoch began when the previous one ended (t_epoch, set below). */
    pg->epoch = p->epoch;
    double el = p->seconds - pg->t_epoch;
    double rate = el > 0 ? (double)p->rows_done / el : 0;
    double left = rate > 0 ? (double)(p->rows_total - p->rows_done) / rate : NAN;
    char eta[32];
    fmt_eta(eta, sizeof eta, left);
    if (pg->tty && !p->epoch_done) {
        fprintf(stderr, "\r\033[Kepoch %u/%u %5.1f%%  %.0f rows/s  ETA %s  "
                "loss %.5f", p->epoch, p->epochs,
                100.0 * (double)p->rows_done / (double)(p->rows_total ? p->rows_total : 1),
                rate, eta, p->running_loss);
        return;
    }
    if (p->epoch_done) {
        fprintf(stderr, "%sepoch %u/%u done: train loss %.5f, %.1fs total\n",
                pg->tty ? "\r\033[K" : "", p->epoch, p->epochs,
                p->running_loss, p->seconds);
        pg->t_epoch = p->seconds;
    }
}

/* --- ## train --- */

static void
train_usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel train --spec FILE [options]\n"
            "\n"
            "Reads the spec's data set, splits it, builds the vocabularies on\n"
            "the train split, trains, and writes MODEL.afm, MODEL.vocab.afm and\n"
            "MODEL.history.json.  Early stopping uses the valid split.\n"
            "\n"
            "  --spec FILE        feature spec (pipelines/features/...)\n"
            "  --data DIR         data root for the spec's paths (default:\n"
            "                     $AF_DATA_ROOT or " DEFAULT_DATA_ROOT ")\n"
            "  --model KIND       lr (default), fm or deepfm\n"
            "  --out FILE         model file (default: models/<spec>-<kind>.afm)\n"
            "  --min-count N      vocabulary threshold for every field\n"
            "  --epochs N --batch N --patience N --seed S --threads N\n"
            "  --optimizer NAME   ftrl, sgd (lr); adam, adagrad, sgd (fm, deepfm)\n"
            "  --lr X             learning rate (sgd, adam, adagrad)\n"
            "  --alpha X --beta X FTRL rate parameters\n"
            "  --l1 X --l2 X      regularization\n"
            "  --downsample W     keep negatives with probability W (0, 1];\n"
            "                     the model corrects p / (p + (1 - p) / W)\n"
            "  --embed N --hidden A,B,C --dropout X --sparse   fm / deepfm\n"
            "  --label TEXT       version label in the model header\n"
            "  --result FILE      write valid/test metrics as JSON\n"
            "  --dump SPLIT       print the encoded split (train, valid, test)\n"
            "                     like recipes.py --dump, and exit\n"
            "  --tokens           with --dump: tokens instead of indices\n"
            "  --max-rows N       read at most N rows\n");
}

enum {
    O_SPEC = 256, O_DATA, O_MODEL, O_OUT, O_MINC, O_EPOCHS, O_BATCH, O_PAT,
    O_SEED, O_THREADS, O_OPT, O_LR, O_ALPHA, O_BETA, O_L1, O_L2, O_DOWN,
    O_EMBED, O_HIDDEN, O_DROPOUT, O_SPARSE, O_LABEL, O_RESULT, O_DUMP,
    O_TOKENS, O_MAXROWS, O_VOCAB, O_SPLIT, O_CAL, O_BINS, O_SEGMENT, O_METHOD,
    O_STEP, O_HELP
};

struct train_args {
    const char *spec, *data, *kind, *out, *label, *result, *dump;
    int tokens;
    uint32_t min_count;
    uint64_t max_rows;
    struct af_train_opts o;
};

static int
parse_hidden(const char *s, struct af_train_opts *o)
{
    o->n_hidden = 0;
    if (strcmp(s, "none") == 0 || *s == '\0')
        return 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || errno || v == 0 || v > 65536 ||
            o->n_hidden == AF_TRAIN_MAX_HIDDEN || (*end && *end != ','))
            return -1;
        o->hidden[o->n_hidden++] = (uint32_t)v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

static int
train_option(int c, const char *arg, struct train_args *a)
{
    struct af_train_opts *o = &a->o;
    const char *cmd = "train";
    switch (c) {
    case O_SPEC: a->spec = arg; return 0;
    case O_DATA: a->data = arg; return 0;
    case O_OUT: a->out = arg; return 0;
    case O_LABEL: a->label = arg; return 0;
    case O_RESULT: a->result = arg; return 0;
    case O_DUMP: a->dump = arg; return 0;
    case O_TOKENS: a->tokens = 1; return 0;
    case O_SPARSE: o->sparse = 1; return 0;
    case O_MINC: return parse_u32(cmd, "--min-count", arg, 1, 1u << 30, &a->min_count);
    case O_MAXROWS: return parse_u64(cmd, "--max-rows", arg, 1, UINT32_MAX, &a->max_rows);
    case O_EPOCHS: return parse_u32(cmd, "--epochs", arg, 1, AF_TRAIN_MAX_EPOCHS, &o->epochs);
    case O_BATCH: return parse_u32(cmd, "--batch", arg, 1, 1u << 20, &o->batch_size);
    case O_PAT: return parse_u32(cmd, "--patience", arg, 0, 1000, &o->patience);
    case O_SEED: return parse_u64(cmd, "--seed", arg, 0, UINT64_MAX, &o->seed);
    case O_THREADS: return parse_u32(cmd, "--threads", arg, 1, 64, &o->threads);
    case O_LR: return parse_num(cmd, "--lr", arg, 1e-12, 1e6, &o->learning_rate);
    case O_ALPHA: return parse_num(cmd, "--alpha", arg, 1e-12, 1e6, &o->ftrl_alpha);
    case O_BETA: return parse_num(cmd, "--beta", arg, 0, 1e6, &o->ftrl_beta);
    case O_L1: return parse_num(cmd, "--l1", arg, 0, 1e9, &o->l1);
    case O_L2: return parse_num(cmd, "--l2", arg, 0, 1e9, &o->l2);
    case O_DOWN: return parse_num(cmd, "--downsample", arg, 1e-6, 1, &o->downsample_rate);
    case O_EMBED: return parse_u32(cmd, "--embed", arg, 1, 1024, &o->embed_dim);
    case O_DROPOUT: return parse_num(cmd, "--dropout", arg, 0, 0.95, &o->dropout);
    case O_OPT:
        if ((o->optimizer = af_optimizer_parse(arg)) < 0) {
            fprintf(stderr, "adfunnel train: --optimizer: '%s' is not one of "
                    "ftrl, sgd, adam, adagrad, default\n", arg);
            return -1;
        }
        return 0;
    case O_HIDDEN:
        if (parse_hidden(arg, o) != 0) {
            fprintf(stderr, "adfunnel train: --hidden: '%s' is not a list of "
                    "up to %d positive widths like 400,400,400 (or none)\n",
                    arg, AF_TRAIN_MAX_HIDDEN);
            return -1;
        }
        return 0;
    default: return -1;
    }
}

/* Metrics of a payload on one split (for the summary and --result). */
static int
score_split(const char *kind, const struct af_model_out *m,
            const struct af_examples *e, struct af_eval *ev)
{
    char err[512];
    double *p = malloc((e->n ? e->n : 1) * sizeof *p);
    if (p == NULL)
        return AF_ENOMEM;
    int rc = af_predict(kind, m->payload, m->payload_size, e, p, err, sizeof err);
    if (rc == 0)
        rc = af_eval_compute(e->label, p, e->n, 10, ev);
    else
        fprintf(stderr, "adfunnel train: scoring: %s\n", err);
    free(p);
    return rc;
}

static int
write_result(const char *path, const struct train_args *a,
             const struct loaded *l, const struct af_model_out *m,
             const struct af_eval *valid, const struct af_eval *test)
{
    json_t *j = json_pack("{s:s,s:s,s:i,s:I,s:i,s:s,s:o,s:o}", "spec", a->spec,
                          "kind", a->kind, "min_count", (int)l->spec->min_count,
                          "index_size", (json_int_t)l->ds.vocab.n_index,
                          "best_epoch", (int)m->best_epoch, "summary", m->summary,
                          "valid", af_eval_json(valid), "test", af_eval_json(test));
    int rc = j ? json_dump_file(j, path, JSON_INDENT(1)) : -1;
    json_decref(j);
    if (rc != 0)
        fprintf(stderr, "adfunnel train: %s: cannot write\n", path);
    return rc == 0 ? 0 : -1;
}

static int
save_model(const struct train_args *a, const struct loaded *l,
           const struct af_model_out *m)
{
    char err[1024], vpath[1200], hpath[1200], label[160];
    snprintf(label, sizeof label, "%s", a->label ? a->label : "");
    if (!a->label)
        snprintf(label, sizeof label, "%s-%s-seed%llu", a->kind, l->spec->name,
                 (unsigned long long)a->o.seed);
    label[63] = '\0'; /* the header's version field holds 63 bytes */
    struct af_modelfile_meta meta = {.kind = m->kind, .version = label,
                                     .fingerprint = l->ds.vocab.fingerprint,
                                     .summary = m->summary};
    sibling(vpath, sizeof vpath, a->out, ".vocab.afm");
    sibling(hpath, sizeof hpath, a->out, ".history.json");
    if (af_modelfile_write(a->out, &meta, m->payload, m->payload_size, err,
                           sizeof err) != 0 ||
        af_vocab_save(&l->ds.vocab, vpath, err, sizeof err) != 0 ||
        af_history_write(hpath, m, a->kind, err, sizeof err) != 0) {
        fprintf(stderr, "adfunnel train: %s\n", err);
        return -1;
    }
    fprintf(stderr, "adfunnel train: wrote %s, %s, %s\n", a->out, vpath, hpath);
    return 0;
}

static int
run_training(struct train_args *a, struct loaded *l)
{
    struct af_train_opts *o = &a->o;
    uint32_t slots[AF_SPEC_MAX_FIELDS];
    for (uint32_t k = 0; k < l->spec->n_cat; k++)
        slots[k] = af_featspec_slots(l->spec, k);
    o->n_req_fields = l->spec->n_req_fields;
    o->field_slots = slots;
    struct progress pg = {.tty = isatty(2)};
    o->progress = on_progress;
    o->progress_ctx = &pg;
    struct af_examples sampled, *train = &l->ds.part[AF_PART_TRAIN];
    int own = 0;
    if (o->downsample_rate < 1.0) {
        if (af_examples_downsample(train, o->downsample_rate, o->seed, &sampled) != 0) {
            fprintf(stderr, "adfunnel train: out of memory\n");
            return 1;
        }
        fprintf(stderr, "adfunnel train: negatives kept at rate %g: %u of %u "
                "train rows\n", o->downsample_rate, sampled.n, train->n);
        train = &sampled;
        own = 1;
    }
    struct af_model_out *m = calloc(1, sizeof *m);
    char err[1024];
    int rc = m ? af_train(a->kind, train,
                          l->ds.part[AF_PART_VALID].n ? &l->ds.part[AF_PART_VALID]
                                                      : NULL,
                          o, m, err, sizeof err)
               : AF_ENOMEM;
    if (own)
        af_examples_free(&sampled);
    if (rc != 0) {
        fprintf(stderr, "adfunnel train: %s\n", m ? err : "out of memory");
        free(m);
        return 1;
    }
    for (uint32_t i = 0; i < m->n_epochs; i++)
        fprintf(stderr, "  epoch %3u  train_loss %.5f  valid_loss %.5f  "
                "valid_auc %.5f  %.2fs%s\n", m->epoch[i].epoch,
                m->epoch[i].train_loss, m->epoch[i].valid_loss,
                m->epoch[i].valid_auc, m->epoch[i].seconds,
                m->epoch[i].epoch == m->best_epoch ? "  <- kept" : "");
    struct af_eval *ev = calloc(2, sizeof *ev);
    rc = ev ? 0 : AF_ENOMEM;
    if (rc == 0)
        rc = score_split(a->kind, m, &l->ds.part[AF_PART_VALID], &ev[0]);
    if (rc == 0)
        rc = score_split(a->kind, m, &l->ds.part[AF_PART_TEST], &ev[1]);
    if (rc == 0) {
        printf("%s %s: valid auc %.5f logloss %.5f | test auc %.5f logloss "
               "%.5f ece %.4f pred/obs %.3f (best epoch %u)\n", l->spec->name,
               a->kind, ev[0].auc, ev[0].logloss, ev[1].auc, ev[1].logloss,
               ev[1].ece, ev[1].ratio, m->best_epoch);
        rc = save_model(a, l, m);
    }
    if (rc == 0 && a->result)
        rc = write_result(a->result, a, l, m, &ev[0], &ev[1]);
    free(ev);
    af_model_out_free(m);
    free(m);
    return rc == 0 ? 0 : 1;
}

static const struct option train_opts[] = {
    {"spec", required_argument, NULL, O_SPEC},
    {"data", required_argument, NULL, O_DATA},
    {"model", required_argument, NULL, O_MODEL},
    {"out", required_argument, NULL, O_OUT},
    {"min-count", required_argument, NULL, O_MINC},
    {"epochs", required_argument, NULL, O_EPOCHS},
    {"batch", required_argument, NULL, O_BATCH},
    {"patience", required_argument, NULL, O_PAT},
    {"seed", required_argument, NULL, O_SEED},
    {"threads", required_argument, NULL, O_THREADS},
    {"optimizer", required_argument, NULL, O_OPT},
    {"lr", required_argument, NULL, O_LR},
    {"alpha", required_argument, NULL, O_ALPHA},
    {"beta", required_argument, NULL, O_BETA},
    {"l1", required_argument, NULL, O_L1},
    {"l2", required_argument, NULL, O_L2},
    {"downsample", required_argument, NULL, O_DOWN},
    {"embed", required_argument, NULL, O_EMBED},
    {"hidden", required_argument, NULL, O_HIDDEN},
    {"dropout", required_argument, NULL, O_DROPOUT},
    {"sparse", no_argument, NULL, O_SPARSE},
    {"label", required_argument, NULL, O_LABEL},
    {"result", required_argument, NULL, O_RESULT},
    {"dump", required_argument, NULL, O_DUMP},
    {"tokens", no_argument, NULL, O_TOKENS},
    {"max-rows", required_argument, NULL, O_MAXROWS},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};

/* Options are applied after the kind's defaults, so scan for --model
 * first. */
static const char *
find_kind(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--model=", 8) == 0)
            return argv[i] + 8;
    }
    return "lr";
}

static int
part_of(const char *cmd, const char *name)
{
    for (int i = 0; i < AF_PARTS; i++)
        if (strcmp(name, af_part_names[i]) == 0)
            return i;
    fprintf(stderr, "adfunnel %s: split '%s' is not train, valid or test\n",
            cmd, name);
    return -1;
}

int
af_cmd_train(int argc, char **argv)
{
    struct train_args a = {.kind = find_kind(argc, argv)};
    if (strcmp(a.kind, "lr") && strcmp(a.kind, "fm") && strcmp(a.kind, "deepfm")) {
        fprintf(stderr, "adfunnel train: --model: '%s' is not lr, fm or "
                "deepfm\n", a.kind);
        return 2;
    }
    af_train_opts_defaults(&a.o, a.kind);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", train_opts, NULL)) != -1) {
        if (c == O_HELP) {
            train_usage(stdout);
            return 0;
        }
        if (c == O_MODEL)
            continue;
        if (c == '?' || train_option(c, optarg, &a) != 0) {
            if (c == '?')
                train_usage(stderr);
            return 2;
        }
    }
    if (!a.spec || optind < argc) {
        fprintf(stderr, "adfunnel train: %s\n", a.spec ? "unexpected argument"
                                                       : "--spec FILE is required");
        train_usage(stderr);
        return 2;
    }
    int dump_part = a.dump ? part_of("train", a.dump) : 0;
    if (dump_part < 0)
        return 2;
    struct loaded l;
    if (load_data("train", a.spec, data_root(a.data), a.min_count, NULL,
                  a.max_rows, &l) != 0) {
        loaded_free(&l);
        return 1;
    }
    char out[1024];
    if (!a.out) {
        snprintf(out, sizeof out, "models/%s-%s.afm", l.spec->name, a.kind);
        a.out = out;
    }
    int rc = a.dump ? dump_split(&l, dump_part, a.tokens) : run_training(&a, &l);
    loaded_free(&l);
    return rc;
}

/* --- ## eval and calibrate: score a split with a saved model --- */

struct scored {
    struct loaded l;
    struct af_model_blob blob;
    int have_blob;
    double *p;
    const struct af_examples *e;
};

static void
scored_free(struct scored *s)
{
    if (s->have_blob)
        af_modelfile_close(&s->blob);
    free(s->p);
    loaded_free(&s->l);
}

/* Load spec + vocab (next to the model unless given), the data, the model
 * (checking its fingerprint against the vocabulary), and score `part`. */
static int
score_saved(const char *cmd, const char *spec, const char *root,
            const char *model, const char *vocab, int part, struct scored *s)
{
    char vpath[1200], err[2048];
    memset(s, 0, sizeof *s);
    if (!vocab) {
        sibling(vpath, sizeof vpath, model, ".vocab.afm");
        vocab = vpath;
    }
    if (load_data(cmd, spec, root, 0, vocab, 0, &s->l) != 0)
        return -1;
    if (af_modelfile_open(model, NULL, s->l.ds.vocab.fingerprint, &s->blob, err,
                          sizeof err) != 0) {
        fprintf(stderr, "adfunnel %s: %s\n", cmd, err);
        return -1;
    }
    s->have_blob = 1;
    s->e = &s->l.ds.part[part];
    s->p = malloc((s->e->n ? s->e->n : 1) * sizeof *s->p);
    if (s->p == NULL) {
        fprintf(stderr, "adfunnel %s: out of memory\n", cmd);
        return -1;
    }
    if (af_predict(s->blob.kind, s->blob.data, s->blob.size, s->e, s->p, err,
                   sizeof err) != 0) {
        fprintf(stderr, "adfunnel %s: %s: %s\n", cmd, model, err);
        return -1;
    }
    return 0;
}

/* Per-segment metrics over the model field named `field`: rows grouped by
 * the token of their first entry in that field (OOV when unknown). */
static int
segments(const struct scored *s, const double *p, const char *field,
         struct af_segment **out, uint32_t *n_out)
{
    const struct af_featspec *sp = s->l.spec;
    uint32_t k = UINT32_MAX;
    for (uint32_t i = 0; i < sp->n_cat; i++)
        if (strcmp(sp->field[sp->cat_field[i]].name, field) == 0)
            k = i;
    if (k == UINT32_MAX) {
        fprintf(stderr, "adfunnel eval: --segment: no categorical field "
                "\"%s\" in %s\n", field, sp->file);
        return -1;
    }
    const struct af_examples *e = s->e;
    uint32_t size = s->l.ds.vocab.size[k], off = s->l.ds.vocab.offset[k];
    uint32_t *count = calloc(size, sizeof *count);
    uint32_t *order = malloc(size * sizeof *order);
    float *lab = malloc((e->n ? e->n : 1) * sizeof *lab);
    double *pp = malloc((e->n ? e->n : 1) * sizeof *pp);
    struct af_segment *seg = calloc(MAX_SEGMENTS, sizeof *seg);
    int rc = (!count || !order || !lab || !pp || !seg) ? -1 : 0;
    uint32_t n_seg = 0;
    for (uint32_t r = 0; rc == 0 && r < e->n; r++) {
        const uint32_t *g;
        const float *v;
        if (af_examples_entries(e, r, k, &g, &v) > 0)
            count[g[0] - off]++;
    }
    /* The MAX_SEGMENTS largest segments. */
    for (uint32_t i = 0; rc == 0 && i < size; i++)
        order[i] = i;
    for (uint32_t t = 0; rc == 0 && t < MAX_SEGMENTS && t < size; t++) {
        uint32_t best = t;
        for (uint32_t i = t + 1; i < size; i++)
            if (count[order[i]] > count[order[best]])
                best = i;
        uint32_t tmp = order[t];
        order[t] = order[best];
        order[best] = tmp;
        if (count[order[t]] == 0)
            break;
        uint32_t loc = order[t], m = 0, f, len;
        for (uint32_t r = 0; r < e->n; r++) {
            const uint32_t *g;
            const float *v;
            if (af_examples_entries(e, r, k, &g, &v) > 0 && g[0] - off == loc) {
                lab[m] = e->label[r];
                pp[m++] = p[r];
            }
        }
        const char *tok = af_vocab_token(&s->l.ds.vocab, off + loc, &f, &len);
        if (tok)
            snprintf(seg[n_seg].name, sizeof seg[n_seg].name, "%.*s", (int)len, tok);
        else
            snprintf(seg[n_seg].name, sizeof seg[n_seg].name, "OOV/%u", loc);
        if (af_eval_compute(lab, pp, m, 10, &seg[n_seg].ev) != 0)
            rc = -1;
        n_seg++;
    }
    free(count);
    free(order);
    free(lab);
    free(pp);
    if (rc != 0) {
        free(seg);
        fprintf(stderr, "adfunnel eval: out of memory\n");
        return -1;
    }
    *out = seg;
    *n_out = n_seg;
    return 0;
}

static void
eval_usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel eval --spec FILE --model FILE [options]\n"
            "\n"
            "Scores a split with a trained model (and a calibrator) and writes\n"
            "DIR/eval.json, DIR/reliability.svg, DIR/curves.svg (from\n"
            "MODEL.history.json) and DIR/report.html.\n"
            "\n"
            "  --spec FILE --data DIR   as for train\n"
            "  --model FILE       the model (.afm)\n"
            "  --vocab FILE       its vocabularies (default: MODEL.vocab.afm)\n"
            "  --calibrator FILE  a platt or isotonic file (adfunnel calibrate)\n"
            "  --split NAME       train, valid or test (default: test)\n"
            "  --bins N           ECE bins (default 10)\n"
            "  --segment FIELD    per-segment metrics over a field's tokens\n"
            "  --out DIR          output directory (default: eval-<spec>)\n");
}

static const struct option eval_opts[] = {
    {"spec", required_argument, NULL, O_SPEC},
    {"data", required_argument, NULL, O_DATA},
    {"model", required_argument, NULL, O_MODEL},
    {"vocab", required_argument, NULL, O_VOCAB},
    {"calibrator", required_argument, NULL, O_CAL},
    {"split", required_argument, NULL, O_SPLIT},
    {"bins", required_argument, NULL, O_BINS},
    {"segment", required_argument, NULL, O_SEGMENT},
    {"out", required_argument, NULL, O_OUT},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};

struct eval_args {
    const char *spec, *data, *model, *vocab, *cal, *split, *segment, *out;
    uint32_t bins;
};

static int
eval_parse(int argc, char **argv, struct eval_args *a)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", eval_opts, NULL)) != -1) {
        switch (c) {
        case O_SPEC: a->spec = optarg; break;
        case O_DATA: a->data = optarg; break;
        case O_MODEL: a->model = optarg; break;
        case O_VOCAB: a->vocab = optarg; break;
        case O_CAL: a->cal = optarg; break;
        case O_SPLIT: a->split = optarg; break;
        case O_SEGMENT: a->segment = optarg; break;
        case O_OUT: a->out = optarg; break;
        case O_BINS:
            if (parse_u32("eval", "--bins", optarg, 1, AF_EVAL_MAX_BINS, &a->bins))
                return 2;
            break;
        case O_HELP: eval_usage(stdout); return 0;
        default: eval_usage(stderr); return 2;
        }
    }
    if (!a->spec || !a->model || optind < argc) {
        fprintf(stderr, "adfunnel eval: --spec and --model are required\n");
        eval_usage(stderr);
        return 2;
    }
    return -1;
}

static int
run_eval(const struct eval_args *a, struct scored *s, int part)
{
    const struct af_examples *e = s->e;
    struct af_calibrator cal;
    char err[2048];
    int have_cal = 0, rc = 0;
    if (a->cal) {
        if (af_calibrator_load(a->cal, &cal, err, sizeof err) != 0) {
            fprintf(stderr, "adfunnel eval: %s\n", err);
            return 1;
        }
        have_cal = 1;
    }
    struct af_eval *ev = calloc(2, sizeof *ev);
    double *pc = malloc((e->n ? e->n : 1) * sizeof *pc);
    struct af_segment *seg = NULL;
    uint32_t n_seg = 0;
    if (!ev || !pc)
        rc = AF_ENOMEM;
    if (rc == 0)
        rc = af_eval_compute(e->label, s->p, e->n, a->bins, &ev[0]);
    for (uint32_t i = 0; rc == 0 && have_cal && i < e->n; i++)
        pc[i] = af_calibrator_apply(&cal, s->p[i]);
    if (rc == 0 && have_cal)
        rc = af_eval_compute(e->label, pc, e->n, a->bins, &ev[1]);
    if (rc == 0 && a->segment &&
        segments(s, have_cal ? pc : s->p, a->segment, &seg, &n_seg) != 0)
        rc = -1;
    char hpath[1200], dir[1024];
    sibling(hpath, sizeof hpath, a->model, ".history.json");
    struct af_train_epoch *hist = NULL;
    uint32_t n_hist = 0, best = 0;
    if (rc == 0 && access(hpath, R_OK) == 0 &&
        af_history_read(hpath, &hist, &n_hist, &best, err, sizeof err) != 0)
        fprintf(stderr, "adfunnel eval: %s (no training curves)\n", err);
    snprintf(dir, sizeof dir, "%s", a->out ? a->out : "");
    if (!a->out)
        snprintf(dir, sizeof dir, "eval-%s", s->l.spec->name);
    struct af_report r = {.spec = a->spec, .model = a->model,
                          .vocab = a->vocab, .calibrator = a->cal,
                          .split = af_part_names[part],
                          .raw = ev ? &ev[0] : NULL,
                          .cal = have_cal && ev ? &ev[1] : NULL,
                          .segment_field = a->segment, .seg = seg,
                          .n_seg = n_seg, .hist = hist, .n_hist = n_hist,
                          .best_epoch = best};
    if (rc == 0 && af_report_write(&r, dir, err, sizeof err) != 0) {
        fprintf(stderr, "adfunnel eval: %s\n", err);
        rc = -1;
    }
    if (rc == 0) {
        for (int i = 0; i < 1 + have_cal; i++)
            printf("%s %s %s: rows %llu positives %.0f auc %.5f pr_auc %.5f "
                   "logloss %.5f ne %.4f ece %.4f pred/obs %.4f\n",
                   s->l.spec->name, af_part_names[part],
                   i ? "calibrated" : "model", (unsigned long long)ev[i].n,
                   ev[i].positives, ev[i].auc, ev[i].pr_auc, ev[i].logloss,
                   ev[i].ne, ev[i].ece, ev[i].ratio);
        fprintf(stderr, "adfunnel eval: wrote %s/eval.json, reliability.svg, "
                "%sreport.html\n", dir, n_hist ? "curves.svg, " : "");
    } else if (rc > 0 || rc == AF_ENOMEM) {
        fprintf(stderr, "adfunnel eval: out of memory\n");
    }
    free(hist);
    free(seg);
    free(ev);
    free(pc);
    if (have_cal)
        af_calibrator_free(&cal);
    return rc == 0 ? 0 : 1;
}

int
af_cmd_eval(int argc, char **argv)
{
    struct eval_args a = {.split = "test", .bins = 10};
    int rc = eval_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    int part = part_of("eval", a.split);
    if (part < 0)
        return 2;
    struct scored s;
    rc = score_saved("eval", a.spec, data_root(a.data), a.model, a.vocab, part, &s)
             == 0 ? run_eval(&a, &s, part) : 1;
    scored_free(&s);
    return rc;
}

/* --- ## calibrate --- */

static void
calibrate_usage(FILE *out)
{
    fprintf(out,
            "usage: adfunnel calibrate --spec FILE --model FILE [options]\n"
            "\n"
            "Fits a calibrator on the valid split's predictions and writes it\n"
            "as a model file of kind \"platt\" or \"isotonic\" (loaded by the\n"
            "calibrator plugins of the same names).\n"
            "\n"
            "  --spec FILE --data DIR --vocab FILE   as for eval\n"
            "  --model FILE        the model (.afm)\n"
            "  --method NAME       isotonic (default) or platt\n"
            "  --bins N            isotonic: at most N bins before PAV (default 1000)\n"
            "  --step              isotonic: step instead of linear interpolation\n"
            "  --out FILE          default: MODEL.<method>.afm\n");
}

static const struct option cal_opts[] = {
    {"spec", required_argument, NULL, O_SPEC},
    {"data", required_argument, NULL, O_DATA},
    {"model", required_argument, NULL, O_MODEL},
    {"vocab", required_argument, NULL, O_VOCAB},
    {"method", required_argument, NULL, O_METHOD},
    {"bins", required_argument, NULL, O_BINS},
    {"step", no_argument, NULL, O_STEP},
    {"out", required_argument, NULL, O_OUT},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};

/* ECE before and after calibration on the valid and test splits. */
static void
report_calibration(struct scored *s, const struct af_calibrator *c)
{
    for (int part = AF_PART_VALID; part <= AF_PART_TEST; part++) {
        const struct af_examples *e = &s->l.ds.part[part];
        char err[512];
        double *p = malloc((e->n ? e->n : 1) * sizeof *p);
        double *q = malloc((e->n ? e->n : 1) * sizeof *q);
        struct af_eval *ev = calloc(2, sizeof *ev);
        if (p && q && ev &&
            af_predict(s->blob.kind, s->blob.data, s->blob.size, e, p, err,
                       sizeof err) == 0) {
            for (uint32_t i = 0; i < e->n; i++)
                q[i] = af_calibrator_apply(c, p[i]);
            af_eval_compute(e->label, p, e->n, 10, &ev[0]);
            af_eval_compute(e->label, q, e->n, 10, &ev[1]);
            printf("%s %s: ece %.4f -> %.4f, pred/obs %.4f -> %.4f, logloss "
                   "%.5f -> %.5f, auc %.5f -> %.5f\n", c->kind,
                   af_part_names[part], ev[0].ece, ev[1].ece, ev[0].ratio,
                   ev[1].ratio, ev[0].logloss, ev[1].logloss, ev[0].auc,
                   ev[1].auc);
        }
        free(p);
        free(q);
        free(ev);
    }
}

static int
fit_and_save(struct scored *s, const char *method, uint32_t bins, int step,
             const char *out)
{
    char err[1024], summary[136];
    struct af_calibrator c;
    memset(&c, 0, sizeof c);
    snprintf(c.kind, sizeof c.kind, "%s", method);
    int rc;
    if (strcmp(method, "platt") == 0) {
        rc = af_platt_fit(s->e->label, s->p, s->e->n, &c.platt);
        snprintf(summary, sizeof summary, "platt a=%.6g b=%.6g fitted on %u "
                 "valid rows", c.platt.a, c.platt.b, s->e->n);
        if (rc == 0)
            rc = af_platt_save(&c.platt, out, summary, err, sizeof err);
    } else {
        rc = af_isotonic_fit(s->e->label, s->p, s->e->n, bins,
                             step ? AF_ISO_STEP : AF_ISO_LINEAR, &c.iso);
        snprintf(summary, sizeof summary, "isotonic %u knots (%s) from %u bins, "
                 "%u valid rows", c.iso.n, step ? "step" : "linear", bins,
                 s->e->n);
        if (rc == 0)
            rc = af_isotonic_save(&c.iso, out, summary, err, sizeof err);
    }
    if (rc != 0) {
        if (rc == AF_EINVAL || rc == AF_ENOMEM)
            snprintf(err, sizeof err, "cannot fit %s on %u valid rows: %s",
                     method, s->e->n, af_strerror(rc));
        fprintf(stderr, "adfunnel calibrate: %s\n", err);
    } else {
        fprintf(stderr, "adfunnel calibrate: wrote %s (%s)\n", out, summary);
        report_calibration(s, &c);
    }
    af_calibrator_free(&c);
    return rc == 0 ? 0 : 1;
}

int
af_cmd_calibrate(int argc, char **argv)
{
    const char *spec = NULL, *data = NULL, *model = NULL, *vocab = NULL,
               *method = "isotonic", *out = NULL;
    uint32_t bins = 1000;
    int step = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", cal_opts, NULL)) != -1) {
        switch (c) {
        case O_SPEC: spec = optarg; break;
        case O_DATA: data = optarg; break;
        case O_MODEL: model = optarg; break;
        case O_VOCAB: vocab = optarg; break;
        case O_METHOD: method = optarg; break;
        case O_OUT: out = optarg; break;
        case O_STEP: step = 1; break;
        case O_BINS:
            if (parse_u32("calibrate", "--bins", optarg, 2, 1u << 20, &bins))
                return 2;
            break;
        case O_HELP: calibrate_usage(stdout); return 0;
        default: calibrate_usage(stderr); return 2;
        }
    }
    if (!spec || !model || optind < argc ||
        (strcmp(method, "platt") && strcmp(method, "isotonic"))) {
        fprintf(stderr, "adfunnel calibrate: --spec and --model are required; "
                "--method is platt or isotonic\n");
        calibrate_usage(stderr);
        return 2;
    }
    char outbuf[1200];
    if (!out) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, ".%s.afm", method);
        sibling(outbuf, sizeof outbuf, model, suffix);
        out = outbuf;
    }
    struct scored s;
    int rc = score_saved("calibrate", spec, data_root(data), model, vocab,
                         AF_PART_VALID, &s) == 0
                 ? fit_and_save(&s, method, bins, step, out)
                 : 1;
    scored_free(&s);
    return rc;
}
