"""Fast upsampling and pre-concatenation filters on whole channel stacks (S4, S5, S7).

Inputs are stacks ``x`` of shape ``(..., H, W)``: every leading index is an
independent channel, so a ``(B, C, H, W)`` tensor is filtered in one call
without a Python loop over channels or pixels. Kernels are full 1-D kernels
(:func:`refups.kernels.symmetric_kernel`); they are cast to the dtype of
``x``, which is also the output dtype (SciPy accumulates in float64 and rounds
once per pass, which is how float32 mode emulates a single-precision
implementation, S9).

Two paths compute the same thing (S7):

* ``*_separable``: two 1-D passes with :func:`scipy.ndimage.convolve1d`,
  width then height (Cool-chic's evaluation mode, refups' default);
* ``*_dense``: one 2-D pass with the outer-product kernel ``w (x) w`` and
  :func:`scipy.signal.convolve` (``method="direct"``; Cool-chic's training
  mode). Not :func:`scipy.ndimage.convolve`: its n-D filters skip every
  weight whose magnitude is at most DBL_EPSILON, and products of small taps
  fall below that; nor FFT methods, whose errors scale with the largest value
  rather than with each output's own terms.

How one upsampling pass lines up (``k = 4``, ``P = 2``, ``C = 5``, ``n = 3``)::

    x            :        x0    x1    x2
    xp (edge pad):  x0 x0 x0    x1    x2 x2 x2        length n + k
    s  (stuffed) :  x0 0 x0 0 x0 0 x1 0 x2 0 x2 0 x2 0  length 2(n + k)
    full = s * w :  length 2(n + k) + k - 1, only [C, C + 2n) is kept

``convolve1d`` centres an even kernel of length ``k`` on index ``k // 2``, so
its same-size output at ``t`` is the full convolution at ``t + k/2``; the kept
window ``[C, C + 2n)`` of the full convolution is therefore
``[k - 1, k - 1 + 2n)`` of the same-size output, which never reaches past the
ends of ``s`` (no boundary mode is involved).
"""

import numpy as np
from scipy import ndimage, signal

from .kernels import kernel_2d

__all__ = [
    "preconcat_dense",
    "preconcat_separable",
    "upsample_1d",
    "upsample_dense",
    "upsample_separable",
    "zero_stuff",
]


def zero_stuff(x, axes=(-1,)):
    """Insert a zero after every sample along ``axes``: ``s[2i] = x[i]``, ``s[2i+1] = 0``.

    Examples
    --------
    >>> zero_stuff(np.array([1.0, 2.0, 4.0]))
    array([1., 0., 2., 0., 4., 0.])
    """
    x = np.asarray(x)
    shape = list(x.shape)
    index = [slice(None)] * x.ndim
    for axis in axes:
        shape[axis] *= 2
        index[axis] = slice(None, None, 2)
    s = np.zeros(shape, dtype=x.dtype)
    s[tuple(index)] = x
    return s


def _pad_width(ndim, axes, size):
    """``np.pad`` widths padding ``size`` samples on both sides of ``axes`` only."""
    width = [(0, 0)] * ndim
    for axis in axes:
        width[axis] = (size, size)
    return width


def _crop(y, axes, start, length):
    """Keep ``y[start:start + length]`` along each of ``axes``."""
    index = [slice(None)] * y.ndim
    for axis in axes:
        index[axis] = slice(start, start + length)
    return y[tuple(index)]


def upsample_1d(x, kernel, axis=-1):
    """One 1-D pass of S4 along ``axis``: edge-pad by ``P``, zero-stuff, convolve, crop ``C``.

    ``y[j] = sum_i xp[i] * w[j + C - 2i]`` for ``j = 0 .. 2n-1``, with ``xp``
    the input replicate-padded by ``P = k/2`` and ``C = 3k/2 - 1``.

    Parameters
    ----------
    x : ndarray, float32 or float64, ``n = x.shape[axis]``
    kernel : array_like, shape (k,), ``k`` even
    axis : int

    Returns
    -------
    ndarray, ``x.shape`` with ``2n`` along ``axis``, dtype of ``x``

    Examples
    --------
    >>> upsample_1d(np.array([1.0, 2.0, 4.0]), [0.25, 0.75, 0.75, 0.25])
    array([1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ])
    """
    kernel = np.asarray(kernel, dtype=x.dtype)
    axis = axis % x.ndim
    k = len(kernel)
    n = x.shape[axis]
    xp = np.pad(x, _pad_width(x.ndim, [axis], k // 2), mode="edge")
    s = zero_stuff(xp, [axis])
    y = ndimage.convolve1d(s, kernel, axis=axis, mode="constant")
    return _crop(y, [axis], k - 1, 2 * n)


def upsample_separable(x, kernel):
    """2x upsampling of every channel, as two separable 1-D passes (S4).

    ``y = crop_C(s * (w (x) w))`` with ``s`` the zero-stuffed, replicate-padded
    input, computed as a width pass then a height pass.

    Parameters
    ----------
    x : ndarray, shape (..., H, W), float32 or float64
    kernel : array_like, shape (k,), ``k`` even

    Returns
    -------
    ndarray, shape (..., 2H, 2W), dtype of ``x``

    Examples
    --------
    >>> upsample_separable(np.array([[1.0, 2.0, 4.0]]), [0.25, 0.75, 0.75, 0.25])
    array([[1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ],
           [1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ]])
    """
    y = upsample_1d(x, kernel, axis=-1)  # width pass
    return upsample_1d(y, kernel, axis=-2)  # height pass


def upsample_dense(x, kernel):
    """2x upsampling of every channel with the dense 2-D kernel ``w (x) w`` (S4, S7).

    Literally S4: replicate-pad by ``P`` (corners too), zero-stuff both axes,
    full 2-D convolution, crop ``C = 3k/2 - 1`` from both ends of each axis.
    Same contract as :func:`upsample_separable`.

    Examples
    --------
    >>> upsample_dense(np.array([[1.0, 2.0, 4.0]]), [0.25, 0.75, 0.75, 0.25])[0]
    array([1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ])
    """
    kernel = np.asarray(kernel, dtype=x.dtype)
    k = len(kernel)
    C = 3 * k // 2 - 1
    H, W = x.shape[-2:]
    axes = [x.ndim - 2, x.ndim - 1]
    xp = np.pad(x, _pad_width(x.ndim, axes, k // 2), mode="edge")
    s = zero_stuff(xp, axes)
    weights = kernel_2d(kernel).reshape((1,) * (x.ndim - 2) + (k, k))
    full = signal.convolve(s, weights, mode="full", method="direct")
    return full[..., C : C + 2 * H, C : C + 2 * W]


def preconcat_separable(x, kernel):
    """Residual pre-concatenation filter ``Z = X + (w (x) w) * X0`` in two 1-D passes (S5).

    ``X0`` is ``X`` zero-padded by ``k // 2``; ``k`` is odd, so the kernel is
    centred and convolution equals cross-correlation (``w`` is symmetric).

    Parameters
    ----------
    x : ndarray, shape (..., H, W), float32 or float64
    kernel : array_like, shape (k,), ``k`` odd

    Returns
    -------
    ndarray, shape (..., H, W), dtype of ``x``

    Examples
    --------
    >>> preconcat_separable(np.array([[1.0, 2.0], [3.0, 4.0]]), [0.0, 1.0, 0.0])
    array([[2., 4.],
           [6., 8.]])
    """
    kernel = np.asarray(kernel, dtype=x.dtype)
    y = ndimage.convolve1d(x, kernel, axis=-1, mode="constant")
    y = ndimage.convolve1d(y, kernel, axis=-2, mode="constant")
    return x + y


def preconcat_dense(x, kernel):
    """Residual pre-concatenation filter with the dense 2-D kernel (S5, S7).

    ``mode="same"`` keeps the centre of the full convolution, which for an
    odd ``k`` is zero padding by ``k // 2``. Same contract as
    :func:`preconcat_separable`.

    Examples
    --------
    >>> preconcat_dense(np.array([[1.0, 2.0], [3.0, 4.0]]), [0.0, 1.0, 0.0])
    array([[2., 4.],
           [6., 8.]])
    """
    kernel = np.asarray(kernel, dtype=x.dtype)
    k = len(kernel)
    weights = kernel_2d(kernel).reshape((1,) * (x.ndim - 2) + (k, k))
    return x + signal.convolve(x, weights, mode="same", method="direct")
