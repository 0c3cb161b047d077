/* S1, S4, S5, S6 of the specification (docs/spec.md), one function each; see upsampling.h. */
#include "upsampling.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Tensors --------------------------------------------------------------- */

int tensor_alloc(Tensor *t, int B, int C, int H, int W)
{
    size_t count = (size_t)B * (size_t)C * (size_t)H * (size_t)W;

    t->B = B;
    t->C = C;
    t->H = H;
    t->W = W;
    /* calloc(0, ...) may return NULL: ask for at least one value. */
    t->data = calloc(count ? count : 1, sizeof(double));
    if (t->data == NULL) {
        t->B = t->C = t->H = t->W = 0;
        return -1;
    }
    return 0;
}

void tensor_free(Tensor *t)
{
    free(t->data);
    t->data = NULL;
}

double *tensor_channel(const Tensor *t, int b, int c)
{
    return t->data + ((size_t)b * (size_t)t->C + (size_t)c) * (size_t)t->H * (size_t)t->W;
}

/* ---- S1: full kernel --------------------------------------------------------- */

void full_kernel(const double *h, int k, double *w)
{
    int i;

    /* w = h followed by reverse(h), sharing the middle sample when k is odd:
     * k = 6: (a, b, c, c, b, a); k = 5: (a, b, c, b, a). Tap i and its mirror
     * k - 1 - i are equal: both are h[min(i, k - 1 - i)]. */
    for (i = 0; i < k; i++)
        w[i] = h[i < k - 1 - i ? i : k - 1 - i];
}

/* ---- S4: upsampling ------------------------------------------------------------ */

/* xp[i]: the input replicate-padded by P samples on both sides (length n + 2P),
 * read from x, whose n samples sit step apart. */
static double replicate_padded(const double *x, int n, ptrdiff_t step, int P, int i)
{
    int source = i - P;

    if (source < 0)
        source = 0;
    if (source > n - 1)
        source = n - 1;
    return x[source * step];
}

/* One axis of S4: n samples of x (step x_step apart) to 2n samples of y
 * (step y_step apart):  y[j] = sum_i xp[i] * w[j + C - 2i]. */
static void upsample_1d(const double *x, int n, ptrdiff_t x_step, const double *w, int k, double *y,
                        ptrdiff_t y_step)
{
    const int P = k / 2;         /* replicate padding on each side */
    const int C = 3 * k / 2 - 1; /* crop: where output sample 0 sits in the full transposed convolution */
    int i, j;

    for (j = 0; j < 2 * n; j++) {
        /* Only i with 0 <= j + C - 2i <= k - 1 meet the kernel: i from
         * ceil((j + C - k + 1) / 2) to floor((j + C) / 2). Both ends are >= 0
         * and < n + k, so every xp[i] read is inside the padded input. */
        const int i_first = (j + C - k + 2) / 2;
        const int i_last = (j + C) / 2;
        double sum = 0.0;

        for (i = i_first; i <= i_last; i++)
            sum += replicate_padded(x, n, x_step, P, i) * w[j + C - 2 * i];
        y[j * y_step] = sum;
    }
}

int upsample_channel(const double *x, int H, int W, const double *w, int k, double *y)
{
    /* The 2-D kernel is w (x) w and replicate padding acts on each axis on its
     * own (a corner takes the corner value), so the 2-D sum is a width pass
     * followed by a height pass. */
    double *rows = malloc((size_t)H * 2 * (size_t)W * sizeof(double)); /* (H, 2W) */
    int a, b;

    if (rows == NULL)
        return -1;
    for (a = 0; a < H; a++) /* each row: W -> 2W samples */
        upsample_1d(x + (size_t)a * W, W, 1, w, k, rows + (size_t)a * 2 * W, 1);
    for (b = 0; b < 2 * W; b++) /* each column: H -> 2H samples */
        upsample_1d(rows + b, H, 2 * W, w, k, y + b, 2 * W);
    free(rows);
    return 0;
}

/* ---- S5: pre-concatenation filter ---------------------------------------------- */

void preconcat_channel(const double *X, int H, int W, const double *w, int k, double *Z)
{
    const int p = k / 2; /* the kernel's centre: output (a, b) is aligned with X[a, b] */
    int a, b, s, t;

    /* Z[a, b] = X[a, b] + sum_{s,t} w[s] w[t] X0[a + s - p, b + t - p]:
     * the 2-D sum as written; it costs k * k per sample, little for k <= 15. */
    for (a = 0; a < H; a++) {
        for (b = 0; b < W; b++) {
            double sum = X[a * W + b]; /* the filter is residual: it adds to X */

            for (s = 0; s < k; s++) {
                const int i = a + s - p;
                if (i < 0 || i >= H)
                    continue; /* X0 is zero outside X: zero padding */
                for (t = 0; t < k; t++) {
                    const int j = b + t - p;
                    if (j < 0 || j >= W)
                        continue;
                    sum += w[s] * w[t] * X[i * W + j];
                }
            }
            Z[a * W + b] = sum;
        }
    }
}

/* ---- S6: the module ---------------------------------------------------------------- */

static void fail(char *err, size_t err_size, const char *message, int level, const Tensor *y)
{
    snprintf(err, err_size, "%s (latents[%d] has shape (%d, %d, %d, %d))", message, level, y->B, y->C, y->H,
             y->W);
}

/* The shape rules the module relies on; every violation is reported, never
 * computed around. */
static int check_latents(const Tensor *latents, int n_levels, char *err, size_t err_size)
{
    int i;

    if (n_levels < 1) {
        snprintf(err, err_size, "the latent list is empty");
        return -1;
    }
    for (i = 0; i < n_levels; i++) {
        const Tensor *y = &latents[i];
        if (y->B < 0 || y->C < 0 || y->H < 1 || y->W < 1) {
            fail(err, err_size, "latents need B >= 0, C >= 0, H >= 1 and W >= 1", i, y);
            return -1;
        }
        /* Sample indices within an upsampled channel (2H, 2W) are ints. */
        if (y->H > INT_MAX / 4 / y->W) {
            fail(err, err_size, "a latent level is too large for this implementation", i, y);
            return -1;
        }
        if (y->B != latents[0].B) {
            fail(err, err_size, "every latent level must have the batch size of latents[0]", i, y);
            return -1;
        }
        /* The upsampled coarser level (2H, 2W) is cropped to the finer level's
         * size, so it must be at least that large. */
        if (i > 0 && (2 * y->H < latents[i - 1].H || 2 * y->W < latents[i - 1].W)) {
            fail(err, err_size, "a latent level must be at least half the size of the next finer one", i, y);
            return -1;
        }
    }
    return 0;
}

static int check_filters(const UpsamplingParams *params, char *err, size_t err_size)
{
    int k = params->ups_k_size, k_pre = params->ups_preconcat_k_size;

    if (k < 2 || k % 2 != 0) {
        snprintf(err, err_size, "ups_k_size must be even and >= 2; got %d", k);
        return -1;
    }
    if (k_pre < 1 || k_pre % 2 != 1) {
        snprintf(err, err_size, "ups_preconcat_k_size must be odd and >= 1; got %d", k_pre);
        return -1;
    }
    if (params->n_ups_kernel < 1 || params->n_ups_preconcat_kernel < 1) {
        snprintf(err, err_size, "a transition needs n_ups_kernel >= 1 and n_ups_preconcat_kernel >= 1; "
                                "got %d and %d", params->n_ups_kernel, params->n_ups_preconcat_kernel);
        return -1;
    }
    return 0;
}

/* The full kernels (S1) of n half-kernels, one after the other: n * k values. */
static double *full_kernels(const double *const *halves, int n, int k)
{
    double *w = malloc((size_t)n * (size_t)k * sizeof(double) + 1);
    int i;

    if (w != NULL)
        for (i = 0; i < n; i++)
            full_kernel(halves[i], k, w + (size_t)i * k);
    return w;
}

static int copy_tensor(const Tensor *from, Tensor *to)
{
    if (tensor_alloc(to, from->B, from->C, from->H, from->W) != 0)
        return -1;
    memcpy(to->data, from->data, (size_t)from->B * from->C * from->H * from->W * sizeof(double));
    return 0;
}

/* One transition: x = crop(S4(u)), h = S5(t), next = concat(h, x). */
static int transition(const Tensor *u, const Tensor *t, const double *w_ups, int k, const double *w_pre,
                      int k_pre, Tensor *x, Tensor *h, Tensor *next)
{
    const int B = t->B, H_t = t->H, W_t = t->W;
    double *full = malloc((size_t)2 * u->H * 2 * u->W * sizeof(double)); /* one channel, (2H_u, 2W_u) */
    size_t plane = (size_t)H_t * W_t;
    int b, c, a;

    x->data = h->data = next->data = NULL;
    if (full == NULL || tensor_alloc(x, B, u->C, H_t, W_t) != 0 || tensor_alloc(h, B, t->C, H_t, W_t) != 0 ||
        tensor_alloc(next, B, t->C + u->C, H_t, W_t) != 0)
        goto out_of_memory;

    for (b = 0; b < B; b++) {
        for (c = 0; c < u->C; c++) {
            if (upsample_channel(tensor_channel(u, b, c), u->H, u->W, w_ups, k, full) != 0)
                goto out_of_memory;
            /* Crop to the finer level's size, keeping the top-left corner. */
            for (a = 0; a < H_t; a++)
                memcpy(tensor_channel(x, b, c) + (size_t)a * W_t, full + (size_t)a * 2 * u->W,
                       (size_t)W_t * sizeof(double));
        }
        for (c = 0; c < t->C; c++)
            preconcat_channel(tensor_channel(t, b, c), H_t, W_t, w_pre, k_pre, tensor_channel(h, b, c));

        /* Concatenate along channels, the filtered finer level first. */
        memcpy(tensor_channel(next, b, 0), tensor_channel(h, b, 0), (size_t)t->C * plane * sizeof(double));
        memcpy(tensor_channel(next, b, t->C), tensor_channel(x, b, 0), (size_t)u->C * plane * sizeof(double));
    }
    free(full);
    return 0;

out_of_memory:
    free(full);
    tensor_free(x);
    tensor_free(h);
    tensor_free(next);
    return -1;
}

int upsampling_forward(const UpsamplingParams *params, const Tensor *latents, int n_levels, Tensor *out,
                       Transition *transitions, int *n_transitions, char *err, size_t err_size)
{
    const int k = params->ups_k_size, k_pre = params->ups_preconcat_k_size;
    double *w_ups = NULL, *w_pre = NULL;
    Tensor u, x, h, next;
    int idx, n_run = 0, n_kept = 0, i;

    out->data = NULL;
    if (n_transitions != NULL)
        *n_transitions = 0;
    if (check_latents(latents, n_levels, err, err_size) != 0)
        return -1;

    /* The transitions that run: one per finer level, from the coarsest, until
     * a level has no channel (the module then stops and returns u as it is). */
    while (n_run < n_levels - 1 && latents[n_levels - 2 - n_run].C > 0)
        n_run++;
    if (n_run > 0) {
        if (check_filters(params, err, err_size) != 0)
            return -1;
        w_ups = full_kernels(params->ups_half, params->n_ups_kernel, k);
        w_pre = full_kernels(params->preconcat_half, params->n_ups_preconcat_kernel, k_pre);
        if (w_ups == NULL || w_pre == NULL)
            goto out_of_memory;
    }

    /* Start from the coarsest level, unchanged: a single level is the output. */
    if (copy_tensor(&latents[n_levels - 1], &u) != 0)
        goto out_of_memory;

    for (idx = 0; idx < n_run; idx++) {
        const Tensor *t = &latents[n_levels - 2 - idx]; /* the next finer level */
        /* Filters are used in turn: transition idx takes filter idx mod n. */
        const double *w = w_ups + (size_t)(idx % params->n_ups_kernel) * k;
        const double *w_t = w_pre + (size_t)(idx % params->n_ups_preconcat_kernel) * k_pre;

        if (transition(&u, t, w, k, w_t, k_pre, &x, &h, &next) != 0) {
            tensor_free(&u);
            goto out_of_memory;
        }
        tensor_free(&u);
        u = next;
        if (transitions != NULL) {
            transitions[n_kept].upsampled = x;
            transitions[n_kept].prefiltered = h;
            n_kept++;
        } else {
            tensor_free(&x);
            tensor_free(&h);
        }
    }
    free(w_ups);
    free(w_pre);
    *out = u;
    if (n_transitions != NULL)
        *n_transitions = n_kept;
    return 0;

out_of_memory:
    for (i = 0; i < n_kept; i++) {
        tensor_free(&transitions[i].upsampled);
        tensor_free(&transitions[i].prefiltered);
    }
    free(w_ups);
    free(w_pre);
    snprintf(err, err_size, "out of memory");
    return -1;
}
