/*
 * reader.h -- streaming readers for the training data formats.
 *
 * A reader turns a data file into rows of named string columns: tsv/csv
 * (with a header line or the spec's column names), libsvm ("label",
 * "features" = the items joined by single spaces), libffm ("label" plus
 * one column per field id listed in data.columns, each "feat:value,..."),
 * movielens (the u.data x u.user x u.item join of the 100K folder: user_id,
 * item_id, rating, timestamp, age, gender, occupation, zip, release_date,
 * genres = ids of the set genre flags joined by ","), and ipinyou (the
 * one-hot fm.txt with its featindex: "label" plus one column per featindex
 * field, holding the row's index in that field or "").
 *
 * Memory is bounded: one line buffer (lines longer than AF_READER_MAX_LINE
 * are rejected), plus the small side tables of movielens and ipinyou.  A
 * malformed line never stops the reader: it is skipped, counted, and the
 * first AF_READER_KEEP reasons are kept as "file:line: reason".
 */
#ifndef AF_CORE_READER_H
#define AF_CORE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "learn/featspec.h"

#define AF_READER_MAX_LINE (1u << 20)
#define AF_READER_KEEP 10

struct af_reader;

/* Open d's files (relative paths resolve against root; root may be NULL).
 * NULL on failure with "file: reason" in err. */
struct af_reader *af_reader_open(const struct af_data_cfg *d,
                                 const char *root, char *err, size_t errlen);
void af_reader_close(struct af_reader *r);

uint32_t af_reader_n_columns(const struct af_reader *r);
const char *af_reader_column(const struct af_reader *r, uint32_t i);
/* Column index of name, -1 when absent. */
int af_reader_column_index(const struct af_reader *r, const char *name);

/* Next row: 1 with *cols set to n_columns NUL-terminated strings (valid
 * until the next call), 0 at the end, a negative AF_E* on an I/O error
 * (err set).  Malformed lines are skipped and counted. */
int af_reader_next(struct af_reader *r, const char *const **cols, char *err,
                   size_t errlen);

/* Reject the row last returned (the caller found it malformed): counted
 * and reported like the reader's own rejections. */
void af_reader_reject(struct af_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Rows returned so far, malformed lines, and the first reasons ("file:line:
 * reason" lines, "" when none). */
uint64_t af_reader_rows(const struct af_reader *r);
uint64_t af_reader_rejected(const struct af_reader *r);
const char *af_reader_report(const struct af_reader *r);
/* "file:line" of the row last returned. */
const char *af_reader_where(struct af_reader *r);

#endif
