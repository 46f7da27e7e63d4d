/* atomic.h — files: writing one so that a crash never leaves a half-written one in its place,
 * reading one whole, and cutting a resumed run's CSV log. */
#ifndef DC_IO_ATOMIC_H
#define DC_IO_ATOMIC_H

#include "deepc.h"

typedef struct dc_chunk {
    const void *data;
    size_t bytes;
} dc_chunk;

/* Write chunks[0..n) in order to "<path>.tmp.<pid>", flush and fsync it, rename it over path and
 * fsync the directory.  On any failure the temporary is removed, an existing file at path is left
 * untouched, and DC_ERR_IO names the path, the step and the system's reason. */
dc_status dc_file_write_atomic(const char *path, const dc_chunk *chunks, int n);

/* Read a whole file into a NUL-terminated buffer (caller frees); refuses files above max_bytes. */
dc_status dc_read_file(const char *path, size_t max_bytes, char **text, size_t *len);

/* For a resumed run's logs: rewrite the CSV file at path (atomically, as above) keeping its header
 * and the rows whose field `col` (0-based) is a number below `below`, so that rows an interrupted
 * run wrote after its last checkpoint go.  A missing file is left missing. */
dc_status dc_csv_keep_rows_below(const char *path, int col, double below);

/* mkdir -p: create dir and its missing parents (mode 0755).  DC_ERR_IO names the component that
 * could not be created, or says that dir exists but is not a directory. */
dc_status dc_mkdir_p(const char *dir);

#endif
