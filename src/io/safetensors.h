/* safetensors.h — checkpoints in the safetensors format:
 *   8-byte little-endian header length H, H bytes of JSON
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...}
 *   then the raw little-endian tensor bytes.
 * Writing goes to "<path>.tmp.<pid>", fsync, then rename(), so a crash never leaves a half-written
 * checkpoint in place of a good one.  Reading validates everything (header size, JSON, dtype, shapes
 * against offsets, offsets within the file, no overlaps) and names the file and byte offset on error. */
#ifndef DC_IO_SAFETENSORS_H
#define DC_IO_SAFETENSORS_H

#include "deepc.h"

typedef struct dc_named_tensor {
    const char *name;
    dc_shape shape;
    const float *data;
} dc_named_tensor;

/* meta: n_meta key/value string pairs (meta[2*i] = key, meta[2*i+1] = value), may be NULL. */
dc_status dc_safetensors_write(const char *path, const dc_named_tensor *tensors, int n,
                               const char *const *meta, int n_meta);

typedef struct dc_st_file dc_st_file;
dc_status dc_safetensors_read(const char *path, dc_st_file **out);
void dc_st_free(dc_st_file *f);
int dc_st_count(const dc_st_file *f);
/* Tensor by name: returns DC_OK and fills shape/data (data points into f, valid until dc_st_free),
 * DC_ERR_ARG naming the file when absent. */
dc_status dc_st_get(const dc_st_file *f, const char *name, dc_shape *shape, const float **data);
/* The i-th tensor's name (in file order of offsets). */
const char *dc_st_name(const dc_st_file *f, int i);
/* Metadata value or NULL. */
const char *dc_st_meta(const dc_st_file *f, const char *key);

#endif
