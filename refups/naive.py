"""Loop transcription of spec S4, S5 and S6: the path to read first.

Every output sample is computed on its own, straight from the closed-form
sums of the specification. Nothing here is fast and nothing here is shared
with the fast paths (:mod:`refups.ops`): the tests use this module as the
"obviously correct" computation the fast paths must agree with.

All functions work on full 1-D kernels (see
:func:`refups.kernels.symmetric_kernel`) and compute in Python floats
(float64), whatever the input dtype.
"""

import numpy as np

from .versions import check_empty_levels

__all__ = ["preconcat_naive", "upsample_naive", "upsampling_naive"]


def upsample_naive(x, kernel):
    """Stride-2 transposed convolution of one channel, one sample at a time (S4).

    With ``k = len(kernel)`` (even), ``P = k / 2`` and ``C = 3k/2 - 1``::

        xp = x replicate-padded by P on every side         # (H + k, W + k)
        y[a, b] = sum_{i, j} xp[i, j] * w[a + C - 2i] * w[b + C - 2j]

    where terms whose kernel index falls outside ``0 .. k-1`` are zero.

    Parameters
    ----------
    x : array_like, shape (H, W)
    kernel : array_like, shape (k,)

    Returns
    -------
    ndarray, shape (2H, 2W), float64

    Examples
    --------
    >>> upsample_naive([[1, 2, 4]], [0.25, 0.75, 0.75, 0.25])
    array([[1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ],
           [1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ]])
    """
    x = np.asarray(x, dtype=np.float64)
    w = [float(v) for v in kernel]
    k = len(w)
    P = k // 2
    C = 3 * k // 2 - 1
    xp = np.pad(x, P, mode="edge")
    H, W = x.shape
    y = np.zeros((2 * H, 2 * W))
    for a in range(2 * H):
        # Rows i with 0 <= a + C - 2i <= k - 1; all lie inside xp.
        rows = range((a + C - k + 2) // 2, (a + C) // 2 + 1)
        for b in range(2 * W):
            cols = range((b + C - k + 2) // 2, (b + C) // 2 + 1)
            total = 0.0
            for i in rows:
                for j in cols:
                    total += xp[i, j] * w[a + C - 2 * i] * w[b + C - 2 * j]
            y[a, b] = total
    return y


def preconcat_naive(x, kernel):
    """Residual pre-concatenation filter of one channel, one sample at a time (S5).

    With ``k = len(kernel)`` (odd) and ``p = k // 2``::

        Z[a, b] = X[a, b] + sum_{s, t} w[s] * w[t] * X0[a + s - p, b + t - p]

    where ``X0`` is ``X`` inside its bounds and 0 outside (zero padding).

    Parameters
    ----------
    x : array_like, shape (H, W)
    kernel : array_like, shape (k,)

    Returns
    -------
    ndarray, shape (H, W), float64

    Examples
    --------
    >>> preconcat_naive([[1, 2], [3, 4]], [0.0, 1.0, 0.0])   # Dirac: Z = 2 X
    array([[2., 4.],
           [6., 8.]])
    """
    x = np.asarray(x, dtype=np.float64)
    w = [float(v) for v in kernel]
    k = len(w)
    p = k // 2
    H, W = x.shape
    z = np.zeros((H, W))
    for a in range(H):
        for b in range(W):
            total = x[a, b]
            for s in range(k):
                for t in range(k):
                    i, j = a + s - p, b + t - p
                    if 0 <= i < H and 0 <= j < W:
                        total += w[s] * w[t] * x[i, j]
            z[a, b] = total
    return z


def upsampling_naive(latents, ups_kernels, preconcat_kernels, empty_levels="stop"):
    """The whole Upsampling module, one channel at a time (S6).

    Parameters
    ----------
    latents : list of array_like, shapes (B, C_i, H_i, W_i)
        Level 0 is the finest. Shapes are assumed valid (no checks here).
    ups_kernels : list of array_like
        Full 1-D upsampling kernels; transition ``idx`` (0 is the coarsest)
        uses ``ups_kernels[idx % len(ups_kernels)]``.
    preconcat_kernels : list of array_like
        Full 1-D pre-concatenation kernels, indexed the same way.
    empty_levels : {"stop", "continue", "error"}
        At a level without channels: stop (S6.4, Cool-chic 4.1 and later),
        go on with the upsampled tensor alone (Cool-chic 4.0) or refuse
        (Cool-chic 3.4); see S6.8.

    Returns
    -------
    ndarray, shape (B, C_out, H_out, W_out), float64

    Examples
    --------
    >>> y0 = np.ones((1, 1, 2, 2)); y1 = np.full((1, 1, 1, 1), 3.0)
    >>> upsampling_naive([y0, y1], [[0.25, 0.75, 0.75, 0.25]], [[1.0]])[0]
    array([[[2., 2.],
            [2., 2.]],
    <BLANKLINE>
           [[3., 3.],
            [3., 3.]]])
    """
    check_empty_levels(empty_levels)
    levels = [np.asarray(y, dtype=np.float64) for y in latents]
    u = levels[-1]  # start from the coarsest level
    for idx, t in enumerate(reversed(levels[:-1])):
        B, C_t, H_t, W_t = t.shape
        if C_t == 0 and empty_levels == "stop":
            break  # S6.4: stop and return u at its current resolution
        if C_t == 0 and empty_levels == "error":
            raise ValueError(f"latents[{len(levels) - 2 - idx}] has no channels; with empty_levels='error' "
                             "(Cool-chic 3.4) a level without channels that is pre-filtered is refused")
        # With "continue" (Cool-chic 4.0) an empty level adds no channel: u is x alone.
        ups = ups_kernels[idx % len(ups_kernels)]
        pre = preconcat_kernels[idx % len(preconcat_kernels)]
        x = np.zeros((B, u.shape[1], H_t, W_t))
        h = np.zeros((B, C_t, H_t, W_t))
        for b in range(B):
            for c in range(u.shape[1]):
                x[b, c] = upsample_naive(u[b, c], ups)[:H_t, :W_t]
            for c in range(C_t):
                h[b, c] = preconcat_naive(t[b, c], pre)
        u = np.concatenate([h, x], axis=1)  # S6.1: finer level first
    return u
