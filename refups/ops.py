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
* ``*_dense``: one 2-D pass with the outer-product kernel ``w (x) w``
  (Cool-chic's training mode), with :func:`scipy.ndimage.convolve`. Its n-D
  filters skip every weight whose magnitude is at most DBL_EPSILON
  (2.2e-16); products of small taps can fall below that, so such kernels
  take the exact but slower :func:`scipy.signal.convolve` (``method="direct"``).
  FFT methods are never used: their errors scale with the largest value
  rather than with each output's own terms.

The exact oracle and the acceptance bounds upsample with
:func:`upsample_1d_polyphase`, the same pass without its zero products
(half the multiplications; the same values wherever the sums are exact).

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

Speed and memory (separable path only; results do not depend on either):

* each pass runs on blocks of independent lines (rows for the width pass,
  columns for the height pass) on ``workers`` threads, as ``scipy.fft`` does:
  ``None`` or ``-1`` means every core, ``1`` a single thread. Threads come
  from one pool shared by the process, and passes under 1 MiB run on the
  calling thread, where threads would cost more than they save; SciPy's
  filters release the GIL, and each line is computed the same way whatever
  the blocks, so the output is identical bit for bit for any ``workers``;
* the height pass writes straight into ``out`` (for the Upsampling module, a
  slice of the next level's preallocated tensor), and the stuffed, padded
  signals only ever exist one block at a time.
"""

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
from scipy import ndimage, signal

from .kernels import check_preconcat_kernel_size, check_ups_kernel_size, kernel_2d
from .views import polyphase_phases

__all__ = [
    "preconcat_dense",
    "preconcat_separable",
    "resolve_workers",
    "upsample_1d",
    "upsample_1d_polyphase",
    "upsample_dense",
    "upsample_separable",
    "zero_stuff",
]

# A block of lines holds about this many bytes: small enough to stay cheap in
# memory, large enough that per-call overhead is negligible.
_BLOCK_BYTES = 4 << 20


def resolve_workers(workers):
    """Number of threads for ``workers`` as in ``scipy.fft``: None = all cores, -1 = all, -2 = all but one.

    Examples
    --------
    >>> resolve_workers(1)
    1
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers is None:
        return cores
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)):
        raise TypeError(f"workers must be an integer or None; got {type(workers).__name__} {workers!r}")
    if workers == 0 or workers < -cores:
        raise ValueError(f"workers must be >= 1, or negative down to -{cores} (counting back from "
                         f"the {cores} cores); got {workers}")
    return int(workers) if workers > 0 else cores + 1 + int(workers)


# Below this many bytes per pass a single thread is faster: handing blocks to
# threads costs tens of microseconds (measured in benchmarks/bench_workers.py).
_THREADS_MIN_BYTES = 1 << 20

_pool = None
_pool_lock = threading.Lock()


def _shared_pool():
    """One thread pool for the whole process, created on first use and reused."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=resolve_workers(None), thread_name_prefix="refups")
        return _pool


def _forget_pool():
    # A forked child inherits the pool object but not its threads.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _run_blocks(task, n, nbytes, workers):
    """Call ``task(slice)`` on consecutive blocks covering ``range(n)``, on ``workers`` threads."""
    n_blocks = max(1, math.ceil(nbytes / _BLOCK_BYTES))
    if workers > 1 and nbytes >= _THREADS_MIN_BYTES:
        n_blocks = max(n_blocks, workers)  # every thread gets work
    n_blocks = min(n, n_blocks)
    bounds = [round(i * n / n_blocks) for i in range(n_blocks + 1)]
    tasks = [partial(task, slice(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]
    _run_tasks(tasks, 1 if nbytes < _THREADS_MIN_BYTES else workers)


def _run_tasks(tasks, workers):
    """The results of ``tasks`` (callables), in order, on at most ``workers`` threads of the shared pool.

    Thread ``g`` of ``n`` runs tasks ``g, g + n, ...``; a task's exception is raised here.
    """
    groups = min(workers, len(tasks))
    if groups <= 1:
        return [task() for task in tasks]
    results = [None] * len(tasks)

    def run_group(g):
        for i in range(g, len(tasks), groups):
            results[i] = tasks[i]()

    for future in [_shared_pool().submit(run_group, g) for g in range(groups)]:
        future.result()  # re-raises a task's exception
    return results


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


def _along(axis, ndim, index):
    """An index tuple applying ``index`` along ``axis`` only."""
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def _replicate_stuffed_edges(s, P, n, axis):
    """Edge padding inside a stuffed signal: ``s[2i] = s[2P]`` for ``i < P`` and
    ``s[2i] = s[2(P + n - 1)]`` for ``i >= P + n`` (odd samples stay zero)."""
    first = s[_along(axis, s.ndim, slice(2 * P, 2 * P + 1))]
    last = s[_along(axis, s.ndim, slice(2 * (P + n - 1), 2 * (P + n) - 1))]
    s[_along(axis, s.ndim, slice(0, 2 * P, 2))] = first
    s[_along(axis, s.ndim, slice(2 * (P + n), None, 2))] = last


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
    kernel = _check_arguments(x, kernel, check_ups_kernel_size, min_ndim=1)
    axis = axis % x.ndim
    k = len(kernel)
    P = k // 2
    n = x.shape[axis]
    # xp = edge-padded x, zero-stuffed, built in one buffer: s[2(P + i)] = x[i].
    shape = list(x.shape)
    shape[axis] = 2 * (n + k)
    s = np.zeros(shape, dtype=x.dtype)
    s[_along(axis, x.ndim, slice(2 * P, 2 * (P + n), 2))] = x
    _replicate_stuffed_edges(s, P, n, axis)
    y = ndimage.convolve1d(s, kernel, axis=axis, mode="constant")
    return y[_along(axis, x.ndim, slice(k - 1, k - 1 + 2 * n))]


def upsample_1d_polyphase(x, kernel, axis=-1):
    """The pass of :func:`upsample_1d` without its zero products: half the multiplications.

    The polyphase view (:func:`refups.views.upsample_polyphase`) along
    ``axis``: for each phase ``(r, q, D)`` of
    :func:`refups.views.polyphase_phases`, with ``g = w[q::2]`` and ``L = k/2``
    taps, ``y[2m + r] = sum_u g[u] x[m + D - P - u]``: a correlation of
    ``x`` with ``g`` reversed, its first tap on ``x[m + D - P - L + 1]``.
    Those offsets never exceed ``P``, so S4's edge padding is
    :func:`scipy.ndimage.correlate1d`'s ``mode="nearest"``. The terms are
    those of :func:`upsample_1d` less its exact zero products, so where every
    partial sum is exact (integer samples and taps) the values are the same
    bit for bit; otherwise they may differ in the last bit (the order of the
    additions), and an infinite input may give NaN one sample further (a
    zero tap, below). The exact oracle and the acceptance bounds use it;
    :func:`upsample_1d` stays S4 as written.

    Examples
    --------
    >>> upsample_1d_polyphase(np.array([1.0, 2.0, 4.0]), [0.25, 0.75, 0.75, 0.25])
    array([1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ])
    """
    kernel = _check_arguments(x, kernel, check_ups_kernel_size, min_ndim=1)
    axis = axis % x.ndim
    k = len(kernel)
    P = L = k // 2  # the edge padding, and the taps of each phase
    shape = list(x.shape)
    shape[axis] *= 2
    y = np.empty(shape, dtype=x.dtype)
    x = np.ascontiguousarray(x)  # both phases read x: one copy if it is a strided view
    for phase in polyphase_phases(k):
        first = phase.offset - P - L + 1
        v = kernel[phase.first_tap::2][::-1]
        if L % 2:
            # SciPy takes an odd number of weights for symmetric when mirrored taps differ by at most
            # DBL_EPSILON, absolutely, and then uses one tap of each pair: tiny sub-kernels would be
            # misread. An even number is never tested, so a zero tap is added (it reads x[m + first + L]).
            v = np.append(v, 0)
        # correlate1d: out[m] = sum_t v[t] x[m + t - len(v) // 2 - origin], so origin = -(first + len(v) // 2).
        ndimage.correlate1d(x, v, axis=axis, mode="nearest", origin=-(first + len(v) // 2),
                            output=y[_along(axis, x.ndim, slice(phase.parity, None, 2))])
    return y


def _check_arguments(x, kernel, check_size, min_ndim=2):
    """Validate ``x`` and a full kernel; return the kernel cast to ``x.dtype``."""
    if not isinstance(x, np.ndarray) or x.dtype not in (np.float32, np.float64):
        found = f"ndarray of {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"x must be a float32 or float64 ndarray; got {found}")
    if x.ndim < min_ndim:
        raise ValueError(f"x must have at least {min_ndim} dimension(s); got shape {x.shape}")
    kernel = np.asarray(kernel, dtype=x.dtype)
    if kernel.ndim != 1:
        raise ValueError(f"kernel must be 1-D; got shape {kernel.shape}")
    check_size(len(kernel), "len(kernel)")
    return kernel


def _check_out(out, shape, dtype, limit):
    if out is None:
        return np.empty(shape, dtype=dtype)
    if (not isinstance(out, np.ndarray) or out.dtype != dtype or out.shape[:-2] != shape[:-2]
            or out.ndim != len(shape) or out.shape[-2] > limit[0] or out.shape[-1] > limit[1]):
        expected = "(" + ", ".join([*map(str, shape[:-2]), "h", "w"]) + ")"
        raise ValueError(f"out must be a {dtype} array of shape {expected} with "
                         f"h <= {limit[0]} and w <= {limit[1]}; got "
                         f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}")
    return out


def _convolve2d(s, kernel):
    """Same-size 2-D convolution of every channel of ``s`` with ``w (x) w``, zeros outside.

    Centred on index ``k // 2`` on both axes, like :func:`scipy.ndimage.convolve1d`.
    """
    k = len(kernel)
    weights = kernel_2d(kernel).reshape((1,) * (s.ndim - 2) + (k, k))
    skipped = (weights != 0) & (np.abs(weights) <= np.finfo(np.float64).eps)
    if not skipped.any():
        return ndimage.convolve(s, weights, mode="constant")
    full = signal.convolve(s, weights, mode="full", method="direct")
    return full[..., k // 2 : k // 2 + s.shape[-2], k // 2 : k // 2 + s.shape[-1]]


def upsample_separable(x, kernel, *, out=None, workers=None, one_pass=upsample_1d):
    """2x upsampling of every channel, as two separable 1-D passes (S4).

    ``y = crop_C(s * (w (x) w))`` with ``s`` the zero-stuffed, replicate-padded
    input, computed as a width pass then a height pass.

    Parameters
    ----------
    x : ndarray, shape (..., H, W), float32 or float64
    kernel : array_like, shape (k,), ``k`` even
    out : ndarray, shape (..., h, w), optional
        Receives the top-left ``h x w`` block of the result (``h <= 2H``,
        ``w <= 2W``): the crop of spec S6, without a temporary.
    workers : int, optional
        Threads, as in ``scipy.fft`` (default: all cores).
    one_pass : callable, optional
        The 1-D pass, :func:`upsample_1d` (S4 literally, the default) or
        :func:`upsample_1d_polyphase`.

    Returns
    -------
    ndarray, shape (..., 2H, 2W) (or ``out``), dtype of ``x``

    Examples
    --------
    >>> upsample_separable(np.array([[1.0, 2.0, 4.0]]), [0.25, 0.75, 0.75, 0.25])
    array([[1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ],
           [1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ]])
    """
    kernel = _check_arguments(x, kernel, check_ups_kernel_size)
    workers = resolve_workers(workers)
    k = len(kernel)
    H, W = x.shape[-2:]
    out = _check_out(out, x.shape[:-2] + (2 * H, 2 * W), x.dtype, (2 * H, 2 * W))
    h, w = out.shape[-2:]
    # Width pass, on blocks of rows; only the first w output columns are kept.
    across = np.empty(x.shape[:-2] + (H, w), dtype=x.dtype)

    def width_pass(rows):
        across[..., rows, :] = one_pass(x[..., rows, :], kernel, axis=-1)[..., :w]

    # Height pass, on blocks of columns: narrow blocks keep each column's
    # samples close in memory, and no full-size stuffed array is ever built.
    def height_pass(columns):
        out[..., columns] = one_pass(across[..., columns], kernel, axis=-2)[..., :h, :]

    _run_blocks(width_pass, H, 2 * x.nbytes + 2 * k * x[..., :1].nbytes, workers)
    _run_blocks(height_pass, w, 2 * across.nbytes + 2 * k * across[..., :1, :].nbytes, workers)
    return out


def upsample_dense(x, kernel, *, out=None):
    """2x upsampling of every channel with the dense 2-D kernel ``w (x) w`` (S4, S7).

    Literally S4: replicate-pad by ``P`` (corners too), zero-stuff both axes,
    2-D convolution, keep the ``2H x 2W`` window after ``C = 3k/2 - 1``.
    Same contract as :func:`upsample_separable` (single-threaded).

    Examples
    --------
    >>> upsample_dense(np.array([[1.0, 2.0, 4.0]]), [0.25, 0.75, 0.75, 0.25])[0]
    array([1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ])
    """
    kernel = _check_arguments(x, kernel, check_ups_kernel_size)
    k = len(kernel)
    H, W = x.shape[-2:]
    out = _check_out(out, x.shape[:-2] + (2 * H, 2 * W), x.dtype, (2 * H, 2 * W))
    h, w = out.shape[-2:]
    axes = [x.ndim - 2, x.ndim - 1]
    xp = np.pad(x, _pad_width(x.ndim, axes, k // 2), mode="edge")
    s = zero_stuff(xp, axes)
    # Full-convolution index C = 3k/2 - 1 is same-size index k - 1 (see above).
    out[...] = _convolve2d(s, kernel)[..., k - 1 : k - 1 + h, k - 1 : k - 1 + w]
    return out


def preconcat_separable(x, kernel, *, out=None, workers=None):
    """Residual pre-concatenation filter ``Z = X + (w (x) w) * X0`` in two 1-D passes (S5).

    ``X0`` is ``X`` zero-padded by ``k // 2``; ``k`` is odd, so the kernel is
    centred and convolution equals cross-correlation (``w`` is symmetric).

    Parameters
    ----------
    x : ndarray, shape (..., H, W), float32 or float64
    kernel : array_like, shape (k,), ``k`` odd
    out : ndarray, shape (..., H, W), optional
    workers : int, optional
        Threads, as in ``scipy.fft`` (default: all cores).

    Returns
    -------
    ndarray, shape (..., H, W), dtype of ``x``

    Examples
    --------
    >>> preconcat_separable(np.array([[1.0, 2.0], [3.0, 4.0]]), [0.0, 1.0, 0.0])
    array([[2., 4.],
           [6., 8.]])
    """
    kernel = _check_arguments(x, kernel, check_preconcat_kernel_size)
    workers = resolve_workers(workers)
    H, W = x.shape[-2:]
    out = _check_out(out, x.shape, x.dtype, (H, W))
    if out.shape != x.shape:
        raise ValueError(f"out must have the shape of x, {x.shape}; got {out.shape}")
    rows = x.ndim - 2
    across = np.empty_like(x)  # the width pass

    def width_pass(block):
        ndimage.convolve1d(x[..., block, :], kernel, axis=-1, mode="constant", output=across[..., block, :])

    def height_pass(block):
        y = ndimage.convolve1d(across[..., block], kernel, axis=rows, mode="constant")
        np.add(x[..., block], y, out=out[..., block])  # the residual connection

    _run_blocks(width_pass, H, x.nbytes, workers)
    _run_blocks(height_pass, W, x.nbytes, workers)
    return out


def preconcat_dense(x, kernel, *, out=None):
    """Residual pre-concatenation filter with the dense 2-D kernel (S5, S7).

    A centred same-size convolution, which for an odd ``k`` is zero padding
    by ``k // 2``. Same contract as
    :func:`preconcat_separable` (single-threaded).

    Examples
    --------
    >>> preconcat_dense(np.array([[1.0, 2.0], [3.0, 4.0]]), [0.0, 1.0, 0.0])
    array([[2., 4.],
           [6., 8.]])
    """
    kernel = _check_arguments(x, kernel, check_preconcat_kernel_size)
    out = _check_out(out, x.shape, x.dtype, x.shape[-2:])
    np.add(x, _convolve2d(x, kernel), out=out)
    return out
