"""Symmetric half-kernels: sizes, expansion and initial values (spec S1-S3).

Every filter of the Upsampling module is separable and symmetric, so it is
fully described by the first half of its 1-D kernel. This module turns kernel
sizes into half-kernel lengths, expands half-kernels into full 1-D and 2-D
kernels, and builds the initial half-kernels Cool-chic starts from.

Examples
--------
>>> symmetric_kernel([1.0, 2.0, 3.0], 6)
array([1., 2., 3., 3., 2., 1.])
>>> symmetric_kernel([1.0, 2.0, 3.0], 5)
array([1., 2., 3., 2., 1.])
>>> initial_ups_half_kernel(4)
array([0.25, 0.75])
"""

import operator

import numpy as np

__all__ = [
    "BICUBIC_CORE",
    "BILINEAR_CORE",
    "check_preconcat_kernel_size",
    "check_ups_kernel_size",
    "exact_bicubic_half_kernel",
    "half_kernel_size",
    "initial_preconcat_half_kernel",
    "initial_ups_half_kernel",
    "kernel_2d",
    "symmetric_kernel",
]

#: Right half of the bilinear 2x kernel, used for ``4 <= k < 8`` (S3).
BILINEAR_CORE = (0.25, 0.75)

#: Cool-chic's bicubic core for ``k >= 8``, exactly these decimal literals (S3).
#: It is the Keys (a = -0.75) 2x kernel ``(-9, -27, 67, 225) / 256`` *negated*
#: and cut to 7 decimals (each literal within 5e-8 of it); each polyphase
#: component sums to -1.0000001, so one 1-D pass maps a constant c to -1.0000001 c.
BICUBIC_CORE = (0.0351562, 0.1054687, -0.2617187, -0.8789063)


def _as_size(value, name):
    """Return ``value`` as a Python int, or raise a TypeError naming ``name``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer; got bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer; got {type(value).__name__} {value!r}"
        ) from None


def check_ups_kernel_size(k, name="ups_k_size"):
    """Return the upsampling kernel size ``k`` if it is even and ``>= 4`` (S2).

    Raises
    ------
    TypeError
        If ``k`` is not an integer.
    ValueError
        If ``k`` is odd or smaller than 4.

    Examples
    --------
    >>> check_ups_kernel_size(8)
    8
    >>> check_ups_kernel_size(5)
    Traceback (most recent call last):
    ...
    ValueError: ups_k_size must be even and >= 4; got 5
    """
    k = _as_size(k, name)
    if k < 4 or k % 2:
        raise ValueError(f"{name} must be even and >= 4; got {k}")
    return k


def check_preconcat_kernel_size(k, name="ups_preconcat_k_size"):
    """Return the pre-concatenation kernel size ``k`` if it is odd and ``>= 1`` (S2).

    Examples
    --------
    >>> check_preconcat_kernel_size(7)
    7
    >>> check_preconcat_kernel_size(4)
    Traceback (most recent call last):
    ...
    ValueError: ups_preconcat_k_size must be odd and >= 1; got 4
    """
    k = _as_size(k, name)
    if k < 1 or k % 2 == 0:
        raise ValueError(f"{name} must be odd and >= 1; got {k}")
    return k


def half_kernel_size(k):
    """Length ``n = (k + 1) // 2`` of the half-kernel of a size-``k`` filter (S1).

    Examples
    --------
    >>> half_kernel_size(8), half_kernel_size(7)
    (4, 4)
    """
    k = _as_size(k, "k")
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    return (k + 1) // 2


def symmetric_kernel(half, k):
    """Full symmetric 1-D kernel ``w = concat(h, reverse(h)[k % 2:])`` (S1).

    Parameters
    ----------
    half : array_like, shape (n,)
        The half-kernel ``h``, with ``n = (k + 1) // 2``.
    k : int
        The full kernel size. Even ``k`` repeats the middle sample, odd ``k``
        does not.

    Returns
    -------
    ndarray, shape (k,)
        ``(h0, ..., h_{n-1}, h_{n-1}, ..., h0)`` for even ``k``,
        ``(h0, ..., h_{n-1}, ..., h0)`` for odd ``k``.

    Examples
    --------
    >>> symmetric_kernel([0.25, 0.75], 4)
    array([0.25, 0.75, 0.75, 0.25])
    >>> symmetric_kernel([0.0, 0.0, 1.0], 5)
    array([0., 0., 1., 0., 0.])
    """
    n = half_kernel_size(k)
    half = np.asarray(half)
    if half.shape != (n,):
        raise ValueError(
            f"half must have shape ({n},) for a kernel of size {k}; got shape {half.shape}"
        )
    return np.concatenate([half, half[::-1][k % 2 :]])


def kernel_2d(kernel):
    """Separable 2-D kernel ``w (x) w``, the outer product of ``w`` with itself (S1).

    Examples
    --------
    >>> kernel_2d([1.0, 2.0, 1.0])
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    kernel = np.asarray(kernel)
    return np.multiply.outer(kernel, kernel)


def initial_ups_half_kernel(k):
    """Cool-chic's initial upsampling half-kernel for an even size ``k >= 4`` (S3).

    A core right-aligned in ``k / 2`` zeros: :data:`BILINEAR_CORE` for
    ``k < 8``, :data:`BICUBIC_CORE` (negated, truncated bicubic) for ``k >= 8``.

    Examples
    --------
    >>> initial_ups_half_kernel(6)
    array([0.  , 0.25, 0.75])
    >>> initial_ups_half_kernel(8)
    array([ 0.0351562,  0.1054687, -0.2617187, -0.8789063])
    """
    k = check_ups_kernel_size(k, "k")
    core = BILINEAR_CORE if k < 8 else BICUBIC_CORE
    half = np.zeros(k // 2)
    half[-len(core) :] = core
    return half


def exact_bicubic_half_kernel(k=8):
    """Exact Keys (a = -0.75) bicubic 2x half-kernel, for teaching only (S3).

    This is ``(-9, -27, 67, 225) / 256`` right-aligned in ``k / 2`` zeros. Each
    polyphase component sums to exactly 1, so constants are preserved. It is
    **not** Cool-chic's initial value (see :func:`initial_ups_half_kernel`).

    Examples
    --------
    >>> exact_bicubic_half_kernel(8) * 256
    array([ -9., -27.,  67., 225.])
    """
    k = check_ups_kernel_size(k, "k")
    if k < 8:
        raise ValueError(f"k must be >= 8 for a bicubic kernel; got {k}")
    half = np.zeros(k // 2)
    half[-4:] = np.array([-9.0, -27.0, 67.0, 225.0]) / 256.0
    return half


def initial_preconcat_half_kernel(k):
    """Cool-chic's initial pre-concatenation half-kernel: a Dirac (S3).

    All zeros but the last entry, so the full kernel is ``(0, ..., 0, 1, 0, ..., 0)``.

    Examples
    --------
    >>> initial_preconcat_half_kernel(5)
    array([0., 0., 1.])
    """
    k = check_preconcat_kernel_size(k, "k")
    half = np.zeros(half_kernel_size(k))
    half[-1] = 1.0
    return half
