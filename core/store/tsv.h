/*
 * tsv.h -- a strict reader of the world's tab-separated files.
 *
 * The file is read into memory whole and split in place.  Line 1 names the
 * columns; a schema lists the columns a loader needs, in any order in the
 * file, and every data line must have exactly as many fields as the header.
 * Every error is written as "<path>:<line>: <reason>" so a user can jump to
 * the offending line.  A '\r' before '\n' is ignored.
 */
#ifndef AF_CORE_TSV_H
#define AF_CORE_TSV_H

#include <stddef.h>
#include <stdint.h>

#define AF_TSV_MAX_COLS 32

struct af_tsv {
    char *buf;        /* the whole file, NUL-terminated; owned              */
    size_t len;
    size_t pos;       /* start of the next line                            */
    const char *path; /* borrowed: must outlive the reader                 */
    uint32_t line;    /* 1-based number of the current line               */
    uint32_t ncols;   /* columns named by the header                       */
    char *col[AF_TSV_MAX_COLS];   /* header names (point into buf)          */
    char *field[AF_TSV_MAX_COLS]; /* fields of the current line            */
    uint32_t map[AF_TSV_MAX_COLS]; /* schema column -> file column         */
    const char *const *schema;     /* borrowed schema names                */
};

/*
 * Read `path`, parse its header and bind `schema` (n names): each name must
 * appear exactly once, and the header may hold nothing else.  0, or a
 * negative AF_E* with the reason in err.
 */
int af_tsv_open(struct af_tsv *t, const char *path, const char *const *schema,
                uint32_t n, char *err, size_t errlen);
void af_tsv_close(struct af_tsv *t);

/* An upper bound of the data lines (for sizing arrays before reading). */
uint32_t af_tsv_max_rows(const struct af_tsv *t);

/* Advance to the next data line: 1 when there is one, 0 at the end, or a
 * negative AF_E* (wrong field count) with the reason in err. */
int af_tsv_next(struct af_tsv *t, char *err, size_t errlen);

/* The raw text of schema column c on the current line. */
const char *af_tsv_str(const struct af_tsv *t, uint32_t c);

/*
 * Typed fields of schema column c of the current line.  Each returns 0, or
 * AF_EINVAL with "<path>:<line>: <column>: <reason>" in err.
 */
int af_tsv_u64(const struct af_tsv *t, uint32_t c, uint64_t *out, char *err,
               size_t errlen);
/* Decimal integer in [lo, hi]. */
int af_tsv_int(const struct af_tsv *t, uint32_t c, int64_t lo, int64_t hi,
               int64_t *out, char *err, size_t errlen);
/* Finite number in [lo, hi]; with lo_open, strictly above lo. */
int af_tsv_num(const struct af_tsv *t, uint32_t c, double lo, int lo_open,
               double hi, double *out, char *err, size_t errlen);
/* Hexadecimal bit mask (optional "0x"), with no bit at or above `bits`. */
int af_tsv_mask(const struct af_tsv *t, uint32_t c, unsigned bits,
                uint64_t *out, char *err, size_t errlen);

/* Write "<path>:<line>: <formatted reason>" into err; returns AF_EINVAL. */
int af_tsv_fail(const struct af_tsv *t, char *err, size_t errlen,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Parse a decimal uint64 that spans all of s (no sign, no spaces).  0 or -1. */
int af_parse_u64(const char *s, uint64_t *out);

#endif
