/* runlog.h — reading what `deepc train` leaves in a run directory, for plots and reports:
 * numeric CSV tables (metrics.csv per epoch, steps.csv every few steps) and run.txt (the command
 * line and options as "key: value" lines).  Errors name the file, the line and the column.
 * Not here: writing them (src/train/train.c does), CSV quoting (these files have no quoted fields). */
#ifndef DC_VIZ_RUNLOG_H
#define DC_VIZ_RUNLOG_H

#include "deepc.h"

/* A CSV file of numbers: a header line of column names, then rows of the same number of fields.
 * Blank lines are skipped; an empty field reads as NaN. */
typedef struct dc_csv {
    int ncols, nrows;
    char **names;  /* ncols column names                 */
    double *v;     /* nrows x ncols values, row-major    */
    int *line;     /* nrows: the file line of each row   */
} dc_csv;

/* DC_ERR_IO when the file cannot be read; DC_ERR_FORMAT naming "path:line" for an empty file, a
 * row with the wrong number of fields or a field that is not a number (and which column). */
dc_status dc_csv_read(const char *path, dc_csv *out);
void dc_csv_free(dc_csv *t);
/* Index of a column by name, or -1. */
int dc_csv_col(const dc_csv *t, const char *name);
/* The column `name`, or DC_ERR_FORMAT "path: no column 'name' (columns: ...)". */
dc_status dc_csv_need(const dc_csv *t, const char *path, const char *name, int *col);

/* Exponential moving average with bias correction (as Adam's): s_k = b s_{k-1} + (1 - b) x_k,
 * out_k = s_k / (1 - b^k), for a window of about n values (b = 1 - 2/(n + 1)); n <= 1 copies.
 * Non-finite inputs are passed through as NaN and do not enter the average. */
void dc_ema(const float *x, float *out, int count, int n);

/* run.txt: up to max "key: value" pairs (lines starting with '#' are comments).  Keys and values
 * point into *text (malloc'ed, caller frees).  DC_ERR_IO when missing. */
dc_status dc_runinfo_read(const char *path, char **text, const char **keys, const char **values, int max, int *n);

#endif
