/* Cool-chic's latent Upsampling module in C99, float64, after the specification (docs/spec.md).
 *
 *   S1  a filter of size k is stored as its half h; w = h + mirror(h)
 *   S4  upsampling: stride-2 transposed convolution, replicate padding
 *   S5  pre-concatenation filter: X + (w (x) w) * X, zero padding
 *   S6  the module: from the coarsest latent level to the finest,
 *       u <- concat(S5(finer level), crop(S4(u)))
 *
 * Arrays are (B, C, H, W) in C order; level 0 of a latent list is the finest.
 */
#ifndef REFUPS_UPSAMPLING_H
#define REFUPS_UPSAMPLING_H

#include <stddef.h>

typedef struct {
    int B, C, H, W;
    double *data; /* B*C*H*W values; channel (b, c) starts at data + (b*C + c)*H*W */
} Tensor;

/* 0 on success, -1 when out of memory (t is then left empty). C may be 0. */
int tensor_alloc(Tensor *t, int B, int C, int H, int W);
void tensor_free(Tensor *t);
/* The H*W samples of channel c of batch item b, row by row. */
double *tensor_channel(const Tensor *t, int b, int c);

/* S1: the full kernel w (k values) of the half-kernel h ((k + 1) / 2 values). */
void full_kernel(const double *h, int k, double *w);

/* S4: one channel x (H, W) upsampled into y (2H, 2W) with the full kernel w of
 * even size k. Returns 0, or -1 when out of memory. */
int upsample_channel(const double *x, int H, int W, const double *w, int k, double *y);

/* S5: one channel X (H, W) filtered into Z (H, W) with the full kernel w of
 * odd size k. Z must not overlap X. */
void preconcat_channel(const double *X, int H, int W, const double *w, int k, double *Z);

/* S6: the module's configuration and parameters (biases are never applied,
 * so they do not appear here). */
typedef struct {
    int ups_k_size;             /* k of every upsampling filter: even, >= 2 */
    int ups_preconcat_k_size;   /* k of every pre-concatenation filter: odd, >= 1 */
    int n_ups_kernel;           /* transition idx uses filter idx % n_ups_kernel */
    int n_ups_preconcat_kernel; /* ... and idx % n_ups_preconcat_kernel */
    const double *const *ups_half;       /* n_ups_kernel halves of ups_k_size / 2 values */
    const double *const *preconcat_half; /* n_ups_preconcat_kernel halves of (k + 1) / 2 values */
} UpsamplingParams;

/* What transition idx computed (idx 0 is the coarsest). */
typedef struct {
    Tensor upsampled;   /* x: u upsampled (S4) and cropped to the finer level's H, W */
    Tensor prefiltered; /* h: the finer level filtered by S5 */
} Transition;

/* S6 on latents[0 .. n_levels-1] (latents[0] the finest).
 *
 * On success returns 0 and *out holds a new tensor. When transitions is not
 * NULL (room for n_levels - 1 entries), the first *n_transitions of them hold
 * the intermediates of every transition computed, as new tensors too.
 * On failure returns -1, allocates nothing, and writes one line to err. */
int upsampling_forward(const UpsamplingParams *params, const Tensor *latents, int n_levels, Tensor *out,
                       Transition *transitions, int *n_transitions, char *err, size_t err_size);

#endif
