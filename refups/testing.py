"""Hypothesis strategies for property tests of Upsampling implementations.

This is the only module of refups that imports hypothesis (install the
``test`` extra). Every public function returns a strategy; bounds are
keyword-only and checked when the strategy is built, as in
:mod:`hypothesis.extra.numpy`.

Examples
--------
>>> from hypothesis import given
>>> @given(latent_pyramids(max_levels=3, max_side=8))
... def test_levels_halve(latents):
...     for fine, coarse in zip(latents, latents[1:]):
...         assert coarse.shape[2] == -(-fine.shape[2] // 2)
>>> test_levels_halve()
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .kernels import half_kernel_size

__all__ = [
    "channel_stacks",
    "half_kernels",
    "latent_pyramids",
    "preconcat_kernel_sizes",
    "ups_kernel_sizes",
    "upsamplings",
]


def _check_bounds(name, low, high, minimum):
    for label, value in [(f"min_{name}", low), (f"max_{name}", high)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{label} must be an integer; got {value!r}")
    if low < minimum:
        raise ValueError(f"min_{name} must be >= {minimum}; got min_{name}={low}")
    if low > high:
        raise ValueError(
            f"min_{name} must be <= max_{name}; got min_{name}={low} > max_{name}={high}"
        )


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    return dtype


def ups_kernel_sizes(*, min_size=4, max_size=16):
    """Even upsampling kernel sizes ``k`` with ``min_size <= k <= max_size`` (S2)."""
    _check_bounds("size", min_size, max_size, 4)
    low, high = (min_size + 1) // 2, max_size // 2
    if low > high:
        raise ValueError(f"no even size lies in [{min_size}, {max_size}]")
    return st.integers(low, high).map(lambda n: 2 * n)


def preconcat_kernel_sizes(*, min_size=1, max_size=15):
    """Odd pre-concatenation kernel sizes ``k`` with ``min_size <= k <= max_size`` (S2)."""
    _check_bounds("size", min_size, max_size, 1)
    low, high = min_size // 2, (max_size - 1) // 2
    if low > high:
        raise ValueError(f"no odd size lies in [{min_size}, {max_size}]")
    return st.integers(low, high).map(lambda n: 2 * n + 1)


def _elements(dtype, *, integer_valued, dyadic, max_value):
    if integer_valued:
        return st.integers(-int(max_value), int(max_value)).map(float)
    if dyadic:
        # Multiples of 1/8: exact in float32 and float64, products stay exact.
        return st.integers(-8 * int(max_value), 8 * int(max_value)).map(lambda i: i / 8)
    return st.floats(
        -max_value, max_value, width=8 * dtype.itemsize, allow_subnormal=False
    )


def half_kernels(k, *, dyadic=False, max_value=1.0, dtype=np.float64):
    """Half-kernels for a filter of size ``k``: arrays of shape ``((k + 1) // 2,)`` (S1).

    Every tap is drawn (no repeated fill value). ``dyadic=True`` draws
    multiples of 1/8, so that integer inputs give exact outputs.
    """
    dtype = _check_dtype(dtype)
    if max_value <= 0:
        raise ValueError(f"max_value must be > 0; got {max_value}")
    elements = _elements(dtype, integer_valued=False, dyadic=dyadic, max_value=max_value)
    return hnp.arrays(dtype, half_kernel_size(k), elements=elements, fill=st.nothing())


def channel_stacks(*, min_side=1, max_side=12, max_channels=3, integer_valued=False,
                   max_value=100.0, dtype=np.float64):
    """Stacks of independent channels, shape ``(N, H, W)`` with ``1 <= N <= max_channels``."""
    _check_bounds("side", min_side, max_side, 1)
    dtype = _check_dtype(dtype)
    shapes = st.tuples(
        st.integers(1, max_channels),
        st.integers(min_side, max_side),
        st.integers(min_side, max_side),
    )
    elements = _elements(dtype, integer_valued=integer_valued, dyadic=False, max_value=max_value)
    return hnp.arrays(dtype, shapes, elements=elements)


@st.composite
def _pyramids(draw, levels, side, batch, channels, odd_sizes, elements, dtype):
    L = draw(st.integers(*levels))
    if odd_sizes:
        H, W = draw(st.integers(*side)), draw(st.integers(*side))
    else:
        # Sides divisible by 2^(L-1): every level is exactly half the one above.
        step = 2 ** (L - 1)
        low, high = -(-side[0] // step), max(side[1] // step, 1)
        H, W = step * draw(st.integers(low, high)), step * draw(st.integers(low, high))
    B = draw(st.integers(*batch))
    latents = []
    for _ in range(L):
        C = draw(st.integers(*channels))
        latents.append(draw(hnp.arrays(dtype, (B, C, H, W), elements=elements)))
        H, W = -(-H // 2), -(-W // 2)  # the usual ceil(H / 2)
    return latents


def latent_pyramids(*, min_levels=1, max_levels=4, min_side=1, max_side=16,
                    min_batch=1, max_batch=2, min_channels=1, max_channels=2,
                    odd_sizes=True, integer_valued=False, max_value=100.0,
                    dtype=np.float64):
    """Latent pyramids ``[y_0, ..., y_{L-1}]``, ``y_i`` of shape ``(B, C_i, H_i, W_i)`` (S6.7).

    Level 0 is the finest, ``H_{i+1} = ceil(H_i / 2)`` and likewise for ``W``.
    ``odd_sizes=False`` keeps every side even down to the coarsest level;
    ``min_channels=0`` allows levels without channels (S6.4).
    """
    _check_bounds("levels", min_levels, max_levels, 1)
    _check_bounds("side", min_side, max_side, 1)
    _check_bounds("batch", min_batch, max_batch, 0)
    _check_bounds("channels", min_channels, max_channels, 0)
    dtype = _check_dtype(dtype)
    elements = _elements(dtype, integer_valued=integer_valued, dyadic=False, max_value=max_value)
    return _pyramids(
        (min_levels, max_levels), (min_side, max_side), (min_batch, max_batch),
        (min_channels, max_channels), odd_sizes, elements, dtype,
    )


@st.composite
def _upsamplings(draw, ups_sizes, preconcat_sizes, counts, dyadic, max_value):
    from .upsampling import Upsampling  # local: keep this module's imports light

    up = Upsampling(draw(ups_sizes), draw(preconcat_sizes), draw(counts), draw(counts))
    params = up.get_param()
    for name, value in params.items():
        if name.endswith("bias"):
            # Biases are stored but never applied (S8): random values test that.
            params[name] = np.array([draw(st.floats(-max_value, max_value))])
        else:
            k = up.ups_k_size if name.startswith("conv_transpose2ds") else up.ups_preconcat_k_size
            params[name] = draw(half_kernels(k, dyadic=dyadic, max_value=max_value))
    up.set_param(params)
    return up


def upsamplings(*, min_ups_k_size=4, max_ups_k_size=12, min_preconcat_k_size=1,
                max_preconcat_k_size=9, min_kernels=1, max_kernels=4, dyadic=False,
                max_value=1.0):
    """Complete :class:`~refups.Upsampling` modules with drawn parameters (S6, S8).

    Both filter counts lie in ``[min_kernels, max_kernels]``; every half-kernel
    and bias is drawn (``dyadic=True``: multiples of 1/8).
    """
    _check_bounds("kernels", min_kernels, max_kernels, 0)
    return _upsamplings(
        ups_kernel_sizes(min_size=min_ups_k_size, max_size=max_ups_k_size),
        preconcat_kernel_sizes(min_size=min_preconcat_k_size, max_size=max_preconcat_k_size),
        st.integers(min_kernels, max_kernels), dyadic, max_value,
    )
