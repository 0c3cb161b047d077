/* A tiny reader and writer for NumPy's .npy files, enough for refups' suite.
 *
 * Read:  format 1.0, 2.0 (and 3.0, same layout), dtype '<f8' or '<f4',
 *        C order, any rank. Values are returned as double.
 * Write: format 1.0, dtype '<f8', C order, data starting on a multiple of
 *        64 bytes (the layout numpy itself writes).
 *
 * Both functions return 0 on success. On failure they return -1 and leave a
 * one-line message naming the file in err (at most err_size bytes).
 */
#ifndef REFUPS_NPY_H
#define REFUPS_NPY_H

#include <stddef.h>

#define NPY_MAX_DIMS 32 /* numpy's own limit on the rank of an array */

typedef struct {
    int ndim;
    size_t shape[NPY_MAX_DIMS];
    size_t count;  /* product of shape: the number of values in data */
    double *data;  /* count values in C order; free with npy_free */
} NpyArray;

int npy_read(const char *path, NpyArray *out, char *err, size_t err_size);

int npy_write(const char *path, int ndim, const size_t *shape, const double *data,
              char *err, size_t err_size);

void npy_free(NpyArray *array);

#endif
