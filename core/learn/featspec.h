/*
 * featspec.h -- the feature spec: one Lua file that says how raw values
 * (data-file columns, or request/ad attributes at serving) become model
 * inputs.  Training (`adfunnel train`) and serving (the "spec" feature
 * stage) load the same file and run the same encoder (encode.h), so they
 * cannot disagree.  docs/learning.md describes the language; in short:
 *
 *   features "criteo" {
 *     data  = { format = "tsv", file = "criteo/x.tsv", columns = {...} },
 *     label = "label",                      -- or { "rating", ge = 4 }
 *     order = { "timestamp", numeric = true },   -- optional stable sort
 *     split = "80/10/10",                   -- or { train = {1, 8000}, ... }
 *     min_count = 5,
 *     fields = {
 *       { "I1", transform = "criteo_int" },
 *       { "genres", type = "multi", sep = "," , max_len = 6 },
 *       { "hour_of_day", source = "hour", transform = { "int", {"mod", 100} } },
 *       { "age_x_cat", cross = { "user.age_band", "ad.category" }, hash = 4096 },
 *       { "bid", source = "ad.bid", type = "dense", transform = "log1p" },
 *     },
 *   }
 *
 * The file runs in the pipeline sandbox (pipeline/sandbox.h); all checking
 * happens in C with file:line errors.  The parsed spec is immutable and may
 * be shared by threads.
 */
#ifndef AF_CORE_FEATSPEC_H
#define AF_CORE_FEATSPEC_H

#include <stddef.h>
#include <stdint.h>

#define AF_SPEC_MAX_FIELDS 256
#define AF_SPEC_MAX_STEPS 8
#define AF_SPEC_NAME_MAX 64
#define AF_SPEC_MISSING "NA"

enum af_field_type {
    AF_FIELD_CATEGORICAL = 0, /* one token                                 */
    AF_FIELD_MULTI = 1,       /* a list of tokens, mean-pooled             */
    AF_FIELD_DENSE = 2,       /* one number                                */
};

/* One transform step on a raw string (applied in order). */
enum af_step_op {
    AF_STEP_CRITEO_INT, /* "" -> missing; v > 2 -> floor(ln(v)^2), else v  */
    AF_STEP_INT,        /* parse an integer, print it in decimal           */
    AF_STEP_MOD,        /* integer mod a (result in [0, a))                */
    AF_STEP_DIV,        /* integer floor division by a                     */
    AF_STEP_SUBSTR,     /* bytes [a, a + b) (a 1-based)                    */
    AF_STEP_SUFFIX,     /* the last a bytes                                */
    AF_STEP_LOG_BUCKET, /* number v -> floor(log_a(1 + v)) ("-" prefix
                           for negatives)                                  */
    AF_STEP_BUCKETS,    /* number v -> count of boundaries <= v            */
    AF_STEP_LOG1P,      /* dense: ln(1 + max(v, 0))                        */
    AF_STEP_SCALE,      /* dense: v * a                                    */
};

struct af_step {
    int op;                 /* enum af_step_op                             */
    double a, b;            /* arguments                                   */
    uint32_t n_bounds;      /* AF_STEP_BUCKETS                             */
    double *bounds;         /* ascending                                   */
};

/* Where a value comes from: a data column or a serving attribute
 * ("user.geo", ...), looked up by name in the source table. */
struct af_field {
    char name[AF_SPEC_NAME_MAX];
    int type;                  /* enum af_field_type                       */
    uint32_t src[2];           /* indices into af_featspec.source          */
    uint32_t n_src;            /* 2 for a cross                            */
    struct af_step step[AF_SPEC_MAX_STEPS];
    uint32_t n_steps;
    uint32_t hash_buckets;     /* > 0: hashed, no vocabulary               */
    uint32_t min_count;        /* vocabulary threshold                     */
    char sep;                  /* multi: separator of tokens in the raw value */
    uint32_t max_len;          /* multi: tokens kept (0 = all; serving
                                  needs it: the batch slots)               */
    int with_values;           /* multi: tokens are "tok:value"            */
    int request_side;          /* all sources are user.* / context.*       */
    int line;                  /* in the spec file                         */
};

/* Serving attributes that can be a field's source. */
enum af_serving_src {
    AF_SRC_NONE = 0,
    AF_SRC_USER_ID, AF_SRC_USER_GEO, AF_SRC_USER_AGE_BAND, AF_SRC_USER_DEVICE,
    AF_SRC_USER_GENDER, AF_SRC_USER_INTERESTS,
    AF_SRC_CTX_HOUR, AF_SRC_CTX_DAY_OF_WEEK, AF_SRC_CTX_POSITION,
    AF_SRC_AD_ID, AF_SRC_AD_ADVERTISER, AF_SRC_AD_CAMPAIGN, AF_SRC_AD_CATEGORY,
    AF_SRC_AD_BID, AF_SRC_AD_QUALITY, AF_SRC_AD_PRIOR_CTR,
    AF_SRC_N
};

/* Name of a serving source ("user.geo"), NULL for AF_SRC_NONE/out of range;
 * and the reverse (AF_SRC_NONE when unknown). */
const char *af_serving_src_name(int src);
int af_serving_src_parse(const char *name);

struct af_source {
    char name[AF_SPEC_NAME_MAX]; /* column name or serving attribute      */
    int serving;                 /* enum af_serving_src, 0 for a column   */
};

/* How the rows are read (reader.h uses it). */
struct af_data_cfg {
    char format[16];     /* tsv, csv, libsvm, libffm, movielens, ipinyou   */
    char file[512];      /* relative to the data root (a dir: movielens)   */
    char aux[512];       /* ipinyou: the featindex file                    */
    char sep;            /* column separator (tsv '\t', csv ',')           */
    int header;          /* first line names the columns                   */
    uint32_t n_columns;  /* expected columns (0 = header's / any)          */
    char **columns;      /* names when there is no header (n_columns)      */
};

enum af_split_kind { AF_SPLIT_NONE = 0, AF_SPLIT_RATIO, AF_SPLIT_ROWS };

struct af_split_cfg {
    int kind;
    uint32_t tenths[3];      /* ratio: train/valid/test tenths (8/1/1)    */
    uint64_t rows[3][2];     /* rows: 1-based inclusive ranges            */
};

struct af_featspec {
    char name[AF_SPEC_NAME_MAX];
    char *file;                  /* the spec's path                        */
    struct af_data_cfg data;
    uint32_t label_src;          /* source index of the label (UINT32_MAX none) */
    double label_ge;             /* label = value >= label_ge (NaN: value
                                    is 0/1 itself)                         */
    uint32_t order_src;          /* UINT32_MAX: file order                 */
    int order_numeric;
    uint32_t time_src;           /* UINT32_MAX: none                       */
    struct af_split_cfg split;
    uint32_t min_count;          /* default for the fields                 */

    struct af_field field[AF_SPEC_MAX_FIELDS];
    uint32_t n_fields;           /* categorical + multi + dense            */
    uint32_t n_cat;              /* categorical + multi (they come first in
                                    index space order, see cat_field)      */
    uint32_t cat_field[AF_SPEC_MAX_FIELDS];   /* model field -> field[]    */
    uint32_t dense_field[AF_SPEC_MAX_FIELDS]; /* dense j -> field[]        */
    uint32_t n_dense;
    uint32_t n_req_fields;       /* request-side categorical fields (first) */

    struct af_source source[AF_SPEC_MAX_FIELDS * 2 + 4];
    uint32_t n_sources;

    char *canonical;             /* canonical text of the spec (fingerprint) */
};

/*
 * Load and check a spec file.  NULL on failure with "file:line: reason" in
 * err.  The result is owned by the caller (af_featspec_free).
 */
struct af_featspec *af_featspec_load(const char *file, char *err,
                                     size_t errlen);
void af_featspec_free(struct af_featspec *s);

/* Index of a source by name, UINT32_MAX when the spec does not use it. */
uint32_t af_featspec_source(const struct af_featspec *s, const char *name);

/* Set every field's min_count to m (>= 1) and refresh the canonical text.
 * 0 or AF_ENOMEM. */
int af_featspec_set_min_count(struct af_featspec *s, uint32_t m);

/* Serving slots of model field k (1, or max_len for a multi field). */
uint32_t af_featspec_slots(const struct af_featspec *s, uint32_t k);

#endif
