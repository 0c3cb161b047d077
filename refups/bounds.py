"""Acceptance bounds: how far a correct implementation in a dtype may be from the exact value.

The model (Higham, *Accuracy and Stability of Numerical Algorithms*, 2.2 and
3.1). Every floating operation in ``dtype`` is exact up to a relative error
``|delta| <= u = eps(dtype) / 2`` and an underflow error of at most
``tiny(dtype)``; ``gamma_n = n u / (1 - n u)``. A sum of ``m`` products of
``p`` factors, evaluated in any order and association, is then within
``gamma_(m - 1 + p - 1) * sum |terms|`` of its exact value, and relative
errors of stages that feed each other add up: ``(1 + gamma_a)(1 + gamma_b)
<= 1 + gamma_(a + b)``.

Applied to the specification:

* an upsampled sample (S4) is a sum of at most ``(k/2)^2`` non-zero products
  ``w[s] w[t] x`` (zero-stuffed samples add exact zeros): ``n = (k/2)^2 + 1``
  for the dense kernel, ``n = k`` for two separable passes, so
  ``n_ups = max((k/2)^2 + 1, k)``;
* a pre-filtered sample (S5) is ``X`` plus ``k^2`` products ``w[s] w[t] X``:
  ``n_pre = max(k^2 + 1, 2k + 1)``;
* rounding the float64 inputs to ``dtype`` costs 1, and rounding the two taps
  of each product 2, so every filter adds ``n_ups + 2`` or ``n_pre + 2``.

Following the S6 loop, each channel of each stage carries its own count
``N`` (the longest chain of operations behind it), and the sums of absolute
terms are the module itself run on ``|y_i|`` with ``|h|`` for every
half-kernel (``B``, :func:`magnitude_module`). The bound of an element is::

    bound = gamma_N * B + N * tiny

Examples
--------
>>> from refups import Upsampling
>>> up = Upsampling(4, 1, 1, 1)
>>> bounds = stage_bounds(up, [np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1))], np.float32)
>>> sorted(bounds)
['output', 'transition_0.prefiltered', 'transition_0.upsampled']
>>> 1 + operation_counts(4, 1)[0]       # N: the input rounded, then one upsampling filter
8
>>> float(bounds["transition_0.upsampled"].max() / np.finfo(np.float32).eps)   # gamma_8 B / eps, B = 1
4.000001...
"""

from functools import partial

import numpy as np

from .ops import _run_blocks, resolve_workers, upsample_1d_polyphase, upsample_separable
from .upsampling import Upsampling

__all__ = ["gamma", "magnitude_module", "operation_counts", "stage_bounds"]


def operation_counts(ups_k_size, ups_preconcat_k_size):
    """``(n_ups, n_pre)``: rounding steps one upsampling / pre-concatenation filter adds.

    Examples
    --------
    >>> operation_counts(8, 7)      # (16 + 1 + 2, 49 + 1 + 2)
    (19, 52)
    """
    k, q = ups_k_size, ups_preconcat_k_size
    return max((k // 2) ** 2 + 1, k) + 2, max(q * q + 1, 2 * q + 1) + 2


def gamma(n, u):
    """``gamma_n = n u / (1 - n u)``, infinite once ``n u >= 1`` (where the model bounds nothing).

    Examples
    --------
    >>> float(gamma(2, 0.25)), float(gamma(4, 0.25))
    (1.0, inf)
    """
    nu = np.asarray(n, dtype=np.float64) * u
    with np.errstate(divide="ignore"):  # n u == 1
        return np.where(nu < 1, nu / (1 - nu), np.inf)


def _bound(magnitude, counts, dtype, workers):
    """``gamma_N * B + N * tiny`` with one count ``N`` per channel (axis 1), written over ``magnitude``."""
    n = np.asarray(counts, dtype=np.float64).reshape(1, -1, 1, 1)
    # ``magnitude`` is B computed in float64 (at most N roundings), and the bound below adds at
    # most 8 more: a factor 1 + 2 gamma_(N + 8) in u = 2**-53 covers both.
    factor = gamma(n, np.finfo(dtype).eps / 2) * (1 + 2 * gamma(n + 8, 2.0 ** -53))
    floor = n * np.finfo(dtype).tiny

    def rows(block):  # blocks of rows on threads, both operations while a block is in cache
        part = magnitude[..., block, :]
        np.multiply(part, factor, out=part)
        np.add(part, floor, out=part)

    _run_blocks(rows, magnitude.shape[-2], magnitude.nbytes, workers)
    return magnitude


def magnitude_module(up):
    """The module with ``|h|`` for every half-kernel: run on ``|y_i|``, it gives ``B``.

    Its upsampling filters use :func:`refups.ops.upsample_1d_polyphase`: the
    same non-negative terms without the stuffed zeros, added in another
    order, which ``gamma_N`` in float64 covers as it covers any order.

    Examples
    --------
    >>> from refups import Upsampling
    >>> up = Upsampling(4, 3, 1, 1)
    >>> up.conv2ds[0].weight = [-0.5, 1.0]
    >>> magnitude_module(up).conv2ds[0].kernel
    array([0.5, 1. , 0.5])
    """
    magnitude = Upsampling(up.ups_k_size, up.ups_preconcat_k_size, up.n_ups_kernel,
                           up.n_ups_preconcat_kernel, empty_levels=up.empty_levels)
    for mine, theirs in zip([*magnitude.conv_transpose2ds, *magnitude.conv2ds], [*up.conv_transpose2ds, *up.conv2ds]):
        mine.weight = np.abs(theirs.weight)  # (biases are never applied, S8)
    for layer in magnitude.conv_transpose2ds:  # this instance only: half the multiplications of S4's pass
        layer._separable = partial(upsample_separable, one_pass=upsample_1d_polyphase)
    return magnitude


def stage_bounds(up, latents, dtype, *, workers=None):
    """Per-element bounds on ``|computed - exact|`` for every stage of ``up.trace(latents)``.

    Parameters
    ----------
    up : Upsampling
    latents : list of array_like, shapes (B, C_i, H_i, W_i)
    dtype : {float32, float64}
        The precision the implementation computes in.
    workers : int, optional
        Threads for the magnitudes ``B``, as in :meth:`refups.Upsampling.forward`.

    Returns
    -------
    dict
        ``{"transition_<idx>.upsampled": ..., "transition_<idx>.prefiltered": ...,
        "output": ...}``, float64 arrays of the stages' shapes. The stages of a
        transition are views of its output's bound, as in the trace.
    """
    dtype = np.dtype(dtype)
    trace = magnitude_module(up).trace([np.abs(np.asarray(y, dtype=np.float64)) for y in latents], workers=workers)
    workers = resolve_workers(workers)
    n_ups, n_pre = operation_counts(up.ups_k_size, up.ups_preconcat_k_size)
    counts = [1] * np.shape(latents[-1])[1]  # the coarsest level, rounded to dtype
    bounds = {}
    for step in trace.transitions:
        # The step's output holds [prefiltered, upsampled] (S6.1): one pass bounds all three stages.
        counts = [1 + n_pre] * step.prefiltered.shape[1] + [n + n_ups for n in counts]
        _bound(step.output, counts, dtype, workers)
        bounds[f"transition_{step.index}.upsampled"] = step.upsampled
        bounds[f"transition_{step.index}.prefiltered"] = step.prefiltered
    bounds["output"] = trace.output if trace.transitions else _bound(trace.output, counts, dtype, workers)
    return bounds
