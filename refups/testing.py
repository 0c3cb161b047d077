"""Property-based verification kit for Upsampling implementations.

* Strategies (each public ``*s`` function returns one): kernel sizes,
  half-kernels, channel stacks, latent pyramids and complete
  :class:`~refups.Upsampling` modules. Bounds are keyword-only and checked
  when the strategy is built, as in :mod:`hypothesis.extra.numpy`.
* :func:`error_bounds` and :func:`assert_upsampling_close`: element-wise
  rounding-error bounds derived from the dtype and the kernels, and an
  assertion that reports where two dense tensors differ.
* :func:`check_implementation`: a ready-made property test that compares a
  candidate implementation with the reference on drawn cases.

This is the only module of refups that imports hypothesis (install the
``test`` extra); ``import refups`` never needs it.

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
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck
from hypothesis.extra import numpy as hnp

from .verification import ulp_distance
from ._validation import error_summary
from .bounds import stage_bounds
from .kernels import half_kernel_size
from .profiles import (
    BITSTREAM_MAX_K_SIZE,
    BITSTREAM_MAX_KERNELS,
    BITSTREAM_MAX_LEVELS,
    PROFILES,
    RELEASE_PROFILES,
    check_profile,
    prefiltered_levels,
)
from .upsampling import Upsampling
from .versions import depends_on_release, release_name, transition_levels

__all__ = [
    "BEHAVIOURS",
    "PLACEHOLDER",
    "assert_upsampling_close",
    "behaviours_of",
    "candidate_import",
    "channel_stacks",
    "check_implementation",
    "coarsest_first",
    "error_bounds",
    "reference_implementation",
    "half_kernels",
    "latent_pyramids",
    "preconcat_kernel_sizes",
    "ups_kernel_sizes",
    "upsamplings",
    "without_biases",
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
    """Even upsampling kernel sizes ``k`` with ``min_size <= k <= max_size`` (S2).

    Examples
    --------
    >>> @given(ups_kernel_sizes(max_size=8))
    ... def test(k):
    ...     assert k in (4, 6, 8)
    >>> test()
    """
    _check_bounds("size", min_size, max_size, 4)
    low, high = (min_size + 1) // 2, max_size // 2
    if low > high:
        raise ValueError(f"no even size lies in [{min_size}, {max_size}]")
    return st.integers(low, high).map(lambda n: 2 * n)


def preconcat_kernel_sizes(*, min_size=1, max_size=15):
    """Odd pre-concatenation kernel sizes ``k`` with ``min_size <= k <= max_size`` (S2).

    Examples
    --------
    >>> @given(preconcat_kernel_sizes(min_size=3, max_size=7))
    ... def test(k):
    ...     assert k in (3, 5, 7)
    >>> test()
    """
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

    Examples
    --------
    >>> @given(half_kernels(7, dyadic=True))
    ... def test(half):
    ...     assert half.shape == (4,) and np.all(half * 8 == np.round(half * 8))
    >>> test()
    """
    dtype = _check_dtype(dtype)
    if max_value <= 0:
        raise ValueError(f"max_value must be > 0; got {max_value}")
    elements = _elements(dtype, integer_valued=False, dyadic=dyadic, max_value=max_value)
    return hnp.arrays(dtype, half_kernel_size(k), elements=elements, fill=st.nothing())


def channel_stacks(*, min_side=1, max_side=12, max_channels=3, integer_valued=False,
                   max_value=100.0, dtype=np.float64):
    """Stacks of independent channels, shape ``(N, H, W)`` with ``1 <= N <= max_channels``.

    Examples
    --------
    >>> @given(channel_stacks(max_side=4, integer_valued=True))
    ... def test(x):
    ...     assert x.ndim == 3 and max(x.shape[1:]) <= 4 and np.all(x == np.round(x))
    >>> test()
    """
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
def _pyramids(draw, levels, side, batch, channels, coarsest_channels, odd_sizes, elements, dtype,
              image_size):
    L = draw(st.integers(*levels))
    if image_size is not None:
        H, W = image_size
    elif odd_sizes:
        H, W = draw(st.integers(*side)), draw(st.integers(*side))
    else:
        # Sides divisible by 2^(L-1): every level is exactly half the one above.
        step = 2 ** (L - 1)
        low, high = -(-side[0] // step), max(side[1] // step, 1)
        H, W = step * draw(st.integers(low, high)), step * draw(st.integers(low, high))
    B = draw(st.integers(*batch))
    latents = []
    for level in range(L):
        C = draw(st.integers(*(coarsest_channels if level == L - 1 else channels)))
        latents.append(draw(hnp.arrays(dtype, (B, C, H, W), elements=elements)))
        H, W = -(-H // 2), -(-W // 2)  # the usual ceil(H / 2)
    return latents


def latent_pyramids(*, min_levels=1, max_levels=4, min_side=1, max_side=16,
                    min_batch=1, max_batch=2, min_channels=1, max_channels=2,
                    odd_sizes=True, integer_valued=False, max_value=100.0,
                    dtype=np.float64, image_size=None, profile="full"):
    """Latent pyramids ``[y_0, ..., y_{L-1}]``, ``y_i`` of shape ``(B, C_i, H_i, W_i)`` (S6.7).

    Level 0 is the finest, ``H_{i+1} = ceil(H_i / 2)`` and likewise for ``W``.
    ``image_size=(H, W)`` fixes level 0's size (the image's); otherwise sides
    are drawn in ``[min_side, max_side]``, and ``odd_sizes=False`` keeps every
    side even down to the coarsest level. ``min_channels=0`` allows levels
    without channels (S6.4).

    Examples
    --------
    >>> @given(latent_pyramids(min_levels=2, max_levels=2, odd_sizes=False, dtype=np.float32))
    ... def test(latents):
    ...     fine, coarse = latents
    ...     assert fine.shape[2:] == (2 * coarse.shape[2], 2 * coarse.shape[3])
    ...     assert fine.dtype == np.float32 and fine.shape[0] == coarse.shape[0]
    >>> test()
    """
    _check_bounds("levels", min_levels, max_levels, 1)
    _check_bounds("side", min_side, max_side, 1)
    _check_bounds("batch", min_batch, max_batch, 0)
    _check_bounds("channels", min_channels, max_channels, 0)
    check_profile(profile)
    # The profile's limits: (levels, batch, channels on pre-filtered levels, on the coarsest).
    limits = {"full": (max_levels, max_batch, max_channels, max_channels),
              "coolchic": (max_levels, max_batch, 1, max_channels),
              "bitstream": (BITSTREAM_MAX_LEVELS, 1, 1, 1),
              "coolchic_4_0": (max_levels, max_batch, 1, max_channels),
              "coolchic_3_4": (max_levels, max_batch, 1, max_channels)}[profile]
    max_levels, max_batch, fine_channels, coarse_channels = (
        min(max_levels, limits[0]), min(max_batch, limits[1]), min(max_channels, limits[2]),
        min(max_channels, limits[3]))
    # Cool-chic 3.4 refuses a level without channels below the coarsest (S6.8).
    fine_min = max(min_channels, 1) if PROFILES[profile].empty_levels == "error" else min_channels
    for name, low, high in [("levels", min_levels, max_levels), ("batch", min_batch, max_batch),
                            ("channels", min_channels, fine_channels)]:
        if low > high:
            raise ValueError(f"min_{name}={low} is outside profile {profile!r}, which allows at most "
                             f"{high}; lower min_{name} or choose another profile")
    dtype = _check_dtype(dtype)
    if image_size is not None:
        if (len(image_size) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                                        for s in image_size)):
            raise ValueError(f"image_size must be a pair of integers >= 1 (H, W); got {image_size!r}")
        image_size = tuple(int(s) for s in image_size)
    elements = _elements(dtype, integer_valued=integer_valued, dyadic=False, max_value=max_value)
    strategy = _pyramids(
        (min_levels, max_levels), (min_side, max_side), (min_batch, max_batch),
        (fine_min, fine_channels), (min_channels, coarse_channels), odd_sizes, elements, dtype,
        image_size,
    )

    def can_draw(shapes):
        """Whether this strategy can draw a pyramid of these shapes (for the fixed examples)."""
        L, (B, _, H, W) = len(shapes), shapes[0]
        halving = all(b[2:] == (-(-a[2] // 2), -(-a[3] // 2)) for a, b in zip(shapes, shapes[1:]))
        even = all(s[2] % 2 == 0 and s[3] % 2 == 0 for s in shapes[:-1])
        return (min_levels <= L <= max_levels and min_batch <= B <= max_batch and halving
                and all(fine_min <= s[1] <= fine_channels for s in shapes[:-1])
                and min_channels <= shapes[-1][1] <= coarse_channels
                and (odd_sizes or even)
                and ((H, W) == image_size if image_size else min_side <= min(H, W) and max(H, W) <= max_side))

    strategy.can_draw = can_draw
    return strategy


@st.composite
def _upsamplings(draw, ups_sizes, preconcat_sizes, counts, dyadic, max_value):
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
                max_value=1.0, profile="full"):
    """Complete :class:`~refups.Upsampling` modules with drawn parameters (S6, S8).

    Both filter counts lie in ``[min_kernels, max_kernels]``; every half-kernel
    and bias is drawn (``dyadic=True``: multiples of 1/8). ``profile="bitstream"``
    caps kernel sizes and counts at 15 (spec S11).

    Examples
    --------
    >>> @given(upsamplings(max_kernels=2), latent_pyramids(max_levels=3, max_side=6))
    ... def test(up, latents):
    ...     assert up(latents).shape[2:] == latents[0].shape[2:]
    >>> test()
    """
    _check_bounds("kernels", min_kernels, max_kernels, 0)
    if check_profile(profile).name == "bitstream":
        max_ups_k_size = min(max_ups_k_size, BITSTREAM_MAX_K_SIZE)
        max_preconcat_k_size = min(max_preconcat_k_size, BITSTREAM_MAX_K_SIZE)
        max_kernels = min(max_kernels, BITSTREAM_MAX_KERNELS)
        if min_kernels > max_kernels:
            raise ValueError(f"min_kernels={min_kernels} is outside profile 'bitstream', which allows "
                             f"at most {max_kernels}")
    return _upsamplings(
        ups_kernel_sizes(min_size=min_ups_k_size, max_size=max_ups_k_size),
        preconcat_kernel_sizes(min_size=min_preconcat_k_size, max_size=max_preconcat_k_size),
        st.integers(min_kernels, max_kernels), dyadic, max_value,
    )


# -- comparing dense tensors -------------------------------------------------------

def error_bounds(up, latents, dtype):
    """Element-wise bound on ``|candidate - reference|`` for correct implementations in ``dtype``.

    :func:`refups.bounds.stage_bounds` bounds the distance of any correct
    implementation in ``dtype`` from the exact output (the model and its
    proof are in :mod:`refups.bounds`). The reference is one such
    implementation, so two of them are at most twice that apart::

        bound = 2 * (gamma_N * B + N * tiny)

    with ``B`` the module run on ``|y_i|`` with ``|h|`` and ``N`` the
    operation count of each output channel.

    Returns
    -------
    ndarray, the output's shape, float64

    Examples
    --------
    >>> up = Upsampling(4, 1, 1, 1)
    >>> bound = error_bounds(up, [np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1))], np.float32)
    >>> bound.shape, bool(np.all(bound < 1e-5))
    ((1, 2, 2, 2), True)
    """
    return 2 * stage_bounds(up, latents, dtype)["output"]


def _location(index, channels):
    """``"batch b, channel c (level l), pixel (h, w)"`` for an output index."""
    b, c, h, w = index
    if channels is None:
        return f"batch {b}, channel {c}, pixel ({h}, {w})"
    level = int(np.searchsorted(np.cumsum(channels), c, side="right"))
    return f"batch {b}, channel {c} (level {level}), pixel ({h}, {w})"


def assert_upsampling_close(actual, expected, *, dtype=None, atol=None, rtol=0.0,
                            channels=None, where=""):
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` for dense tensors.

    On failure, the message says ``where`` (e.g. ``"transition 1, upsampled"``),
    the first failing element as batch, channel (with its level when
    ``channels``, the per-level channel counts ``C_0 .. C_{L-1}``, is given)
    and pixel, the largest distance in ULPs of ``dtype``, and numpy's
    :func:`~numpy.testing.assert_allclose` report.

    Parameters
    ----------
    actual, expected : array_like, shape (B, C, H, W)
    dtype : dtype, optional
        The candidate's precision; default ``actual``'s dtype.
    atol : float or ndarray, optional
        Absolute tolerance, scalar or per element (see :func:`error_bounds`).
        Default: ``64 * eps(dtype) * max|expected|``.
    rtol : float
    channels : sequence of int, optional
    where : str

    Examples
    --------
    >>> y = np.ones((1, 2, 2, 2))
    >>> assert_upsampling_close(y + 1e-17, y)
    >>> z = y.copy(); z[0, 1, 1, 0] = 1.5
    >>> assert_upsampling_close(z, y, channels=[1, 1], where="output")
    Traceback (most recent call last):
    ...
    AssertionError: output: 1 element(s) differ; first at batch 0, channel 1 (level 1), pixel (1, 0): ...
    ...
    """
    __tracebackhide__ = True
    actual, expected = np.asarray(actual), np.asarray(expected, dtype=np.float64)
    dtype = np.dtype(actual.dtype if dtype is None else dtype)
    if actual.shape != expected.shape:
        empty = " (both hold no value, but the shapes still differ)" if actual.size == expected.size == 0 else ""
        raise AssertionError(f"{where + ': ' if where else ''}shape {actual.shape} differs from "
                             f"the expected {expected.shape}{empty}")
    if atol is None:
        atol = 64 * np.finfo(dtype).eps * float(np.max(np.abs(expected), initial=0.0))
    error = np.abs(actual.astype(np.float64) - expected)
    bad = ~(error <= atol + rtol * np.abs(expected))
    bad &= ~(np.isnan(actual) & np.isnan(expected))
    if not bad.any():
        return
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    header = (f"{where + ': ' if where else ''}{int(bad.sum())} element(s) differ; first at "
              f"{_location(first, channels)}: actual {float(actual[first])!r}, expected {float(expected[first])!r}; "
              f"max ULP distance in {dtype}: {ulp_distance(actual.astype(dtype), expected)}")
    try:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=float(np.max(atol)))
        report = "(within the largest atol; the per-element bound is tighter)"
    except AssertionError as error:
        report = str(error).strip()
    raise AssertionError(header + "\n" + report)


# -- checking a candidate implementation ---------------------------------------------

def _odd_prefiltered(shapes):
    return any(shapes[i][2] % 2 or shapes[i][3] % 2 for i in prefiltered_levels(shapes))


#: Behaviours a check can leave out (``skip``) or keep to (``select``), named as ``refups verify``
#: names them: by flag, or by the clause that defines them. Each: its clauses, whether an input
#: shows it (from the level shapes), and how the default strategy leaves it out.
BEHAVIOURS = {
    "single_level": (("S6.5",), lambda shapes: len(shapes) == 1, {"min_levels": 2}),
    "empty_level_stop": (("S6.4", "S6.8"), depends_on_release, {"min_channels": 1}),
    "empty_coarsest": ((), lambda shapes: shapes[-1][1] == 0, {}),  # left out by the filter alone
    "odd_crop": (("S6.7",), _odd_prefiltered, {"odd_sizes": False}),
    "batch_mixing": ((), lambda shapes: shapes[0][0] > 1, {"max_batch": 1}),
}


def behaviours_of(shapes):
    """The :data:`BEHAVIOURS` an input with these level shapes shows.

    Examples
    --------
    >>> behaviours_of([(1, 1, 5, 5), (1, 0, 3, 3), (1, 1, 2, 2)])
    ['empty_level_stop']
    """
    shapes = [tuple(s) for s in shapes]
    return [name for name, (_, shows, _) in BEHAVIOURS.items() if shows(shapes)]


def _behaviour_names(tokens, option):
    """The behaviours named by flags or clause ids; a ValueError for anything else."""
    if isinstance(tokens, str):
        tokens = [tokens]
    names = []
    for token in tokens:
        found = [name for name, (clauses, _, _) in BEHAVIOURS.items() if token == name or token in clauses]
        if not found:
            known = sorted(set(BEHAVIOURS) | {c for clauses, _, _ in BEHAVIOURS.values() for c in clauses})
            raise ValueError(f"{option} must name behaviours a check can leave out or keep to: "
                             f"{', '.join(known)}; got {token!r}")
        names += [name for name in found if name not in names]
    return names


def without_biases(candidate):
    """Adapt a module without bias parameters: ``params`` reach it without the bias entries.

    Biases are never applied (S8), and Cool-chic 4.x bitstreams carry none, so
    a port may have no place for them.

    Examples
    --------
    >>> strict = without_biases(lambda latents, params, config: sorted(params))
    >>> strict([], {"conv2ds.0.bias": [0.0], "conv2ds.0.parametrizations.weight.original": [1.0]}, {})
    ['conv2ds.0.parametrizations.weight.original']
    """
    def adapted(latents, params, config):
        return candidate(latents, type(params)((name, value) for name, value in params.items()
                                               if not name.endswith(".bias")), config)
    adapted.__wrapped__ = candidate
    return adapted


def coarsest_first(candidate):
    """Adapt an implementation that takes the latent list coarsest level first.

    The kit, like Cool-chic, passes level 0 (the finest) first; this reverses
    the list on the way in.

    Examples
    --------
    >>> shapes = coarsest_first(lambda latents, params, config: [y.shape for y in latents])
    >>> shapes([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2))], {}, {})
    [(1, 1, 2, 2), (1, 1, 4, 4)]
    """
    def adapted(latents, params, config):
        return candidate(list(latents)[::-1], params, config)
    adapted.__wrapped__ = candidate
    return adapted


def reference_implementation(latents, params, config, *, empty_levels="stop"):
    """The reference under :func:`check_implementation`'s candidate contract.

    ``empty_levels`` chooses the Cool-chic release line (S6.8).

    Examples
    --------
    >>> config = {"ups_k_size": 4, "ups_preconcat_k_size": 1, "n_ups_kernel": 1,
    ...           "n_ups_preconcat_kernel": 1}
    >>> params = {"conv_transpose2ds.0.bias": [0.0],
    ...           "conv_transpose2ds.0.parametrizations.weight.original": [0.25, 0.75],
    ...           "conv2ds.0.bias": [0.0], "conv2ds.0.parametrizations.weight.original": [0.0]}
    >>> latents = [np.ones((1, 1, 2, 2)), np.full((1, 1, 1, 1), 3.0)]
    >>> reference_implementation(latents, params, config)[0, :, 0, 0]
    array([1., 3.])
    """
    up = Upsampling(**config, empty_levels=empty_levels)
    up.set_param(params)
    return up(latents)


#: The reproducer's line for a candidate that cannot be imported by name (a lambda, a partial,
#: a function defined inside another, or one in ``__main__``).
PLACEHOLDER = ("candidate = None  # EDIT THIS LINE: your implementation, "
               "e.g. from my_module import my_function as candidate")


def candidate_import(candidate):
    """The line that imports ``candidate`` by name in a fresh interpreter, or :data:`PLACEHOLDER`.

    Examples
    --------
    >>> candidate_import(reference_implementation)
    'from refups.testing import reference_implementation as candidate'
    >>> candidate_import(lambda latents, params, config: None) == PLACEHOLDER
    True
    """
    module, name = getattr(candidate, "__module__", None), getattr(candidate, "__qualname__", "")
    adapter, wrapped = name.split(".")[0], getattr(candidate, "__wrapped__", None)
    if module == __name__ and adapter in ("without_biases", "coarsest_first") and wrapped is not None:
        inner = candidate_import(wrapped)  # an adapted candidate: import it, then adapt it again
        return inner if inner == PLACEHOLDER else (f"{inner}\nfrom refups.testing import {adapter}\n"
                                                   f"candidate = {adapter}(candidate)")
    if not module or module == "__main__" or not name.isidentifier():
        return PLACEHOLDER
    return f"from {module} import {name} as candidate"


def _reproducer(config, params, latents, dtype, candidate, empty_levels="stop"):
    def literal(array):
        array = np.asarray(array)
        return f"np.array({array.ravel().tolist()!r}, dtype='{array.dtype}').reshape({array.shape})"

    lines = ["import numpy as np", "from refups import Upsampling",
             "from refups.testing import assert_upsampling_close, error_bounds, reference_implementation",
             candidate_import(candidate), "", f"config = {config!r}", "params = {"]
    lines += [f"    {name!r}: {literal(value)}," for name, value in params.items()]
    lines += ["}", "latents = ["]
    lines += [f"    {literal(y)},  # {np.asarray(y).shape}" for y in latents]
    line = "" if empty_levels == "stop" else f", empty_levels={empty_levels!r}"
    lines += ["]", f"expected = reference_implementation(latents, params, config{line})",
              "actual = np.asarray(candidate([y.copy() for y in latents], dict(params), dict(config)))",
              f"up = Upsampling(**config{line})", "up.set_param(params)",
              f"assert_upsampling_close(actual, expected, dtype=np.{np.dtype(dtype).name}, "
              f"atol=error_bounds(up, latents, np.{np.dtype(dtype).name}),",
              "                        channels=[y.shape[1] for y in latents], where='output')"]
    return "\n".join(lines)


def check_implementation(candidate, *, profile="coolchic", dtype=np.float64, max_examples=100,
                         pyramids=None, modules=None, derandomize=False, shrink=True, seed=None,
                         skip=(), select=(), keep_going=False):
    """Property-test ``candidate`` against the reference on drawn cases (S6 and its edge cases).

    The candidate contract: ``candidate(latents, params, config) -> array``
    where ``latents`` is a list of ``(B, C_i, H_i, W_i)`` NumPy arrays of
    ``dtype`` (level 0 finest), ``params`` an ordered dict of NumPy float64
    arrays under Cool-chic's names (spec S8: ``conv_transpose2ds.{i}.bias``,
    ``conv_transpose2ds.{i}.parametrizations.weight.original``, then the same
    for ``conv2ds``; weights are half-kernels), and ``config`` a dict with
    ``ups_k_size``, ``ups_preconcat_k_size``, ``n_ups_kernel`` and
    ``n_ups_preconcat_kernel``. It returns the dense tensor as anything
    :func:`numpy.asarray` accepts (a CPU torch tensor works), ideally of ``dtype``.

    Each drawn case is compared element-wise with the reference within
    :func:`error_bounds`. Hypothesis shrinks a failure to a minimal case; the
    raised ``AssertionError`` carries the comparison report (or, when the
    candidate raised, what is special about the input and how to exclude it)
    and a ready-to-paste reproducer with every array as a Python literal.

    Three fixed cases run first (those inside ``profile``, not left out by
    ``skip`` or ``select``, and that ``pyramids`` could draw): one level
    (S6.5), an empty level (S6.4), and five levels of odd sizes with 2 and 3
    distinct filters (S6.2, S6.3, S6.7). A failure there is followed by a
    search for a smaller failing case, and the smallest one found is reported.

    Parameters
    ----------
    candidate : callable
    profile : {"coolchic", "bitstream", "full"}
        Draw only inputs inside this conformance profile (spec S11). The
        default, ``"coolchic"``, is what Cool-chic's own module accepts: at
        most one channel on every pre-filtered level. ``"full"`` adds several
        channels there (S6.6).
    dtype : {float64, float32}
        The latents' dtype. It reaches every strategy, user-supplied ones too
        (their latents are cast to it).
    max_examples : int
        Number of drawn cases (hypothesis ``max_examples``).
    pyramids : strategy, optional
        Overrides :func:`latent_pyramids` (default: up to 5 levels, sides up to
        16, batch up to 2, 1 to 2 channels per level in half the draws and 0 to
        2 in the other half, within ``profile``). A drawn input outside
        ``profile`` is a ValueError that says how to fix the strategy. The
        fixed cases run only where the strategy could draw them: a
        :func:`latent_pyramids` strategy says so, any other strategy runs
        without them.
    modules : strategy, optional
        Overrides :func:`upsamplings` (default: kernel sizes up to 12 and 9,
        1 to 3 filters of each kind), checked against ``profile`` the same way.
    derandomize : bool
        Draw the same cases on every run.
    shrink : bool
        Shrink a failure to a minimal case (the default). ``False`` reports the
        first failing case as drawn, which is faster.
    seed : int, optional
        Seed of the drawn cases: the same seed gives the same run.
    skip, select : sequence of str
        Behaviours to leave out, or to keep to, by flag or clause id
        (:data:`BEHAVIOURS`: ``single_level`` or ``S6.5``, ``empty_level_stop``
        or ``S6.4``, ``empty_coarsest``, ``odd_crop`` or ``S6.7``,
        ``batch_mixing``): drawn and fixed cases alike.
    keep_going : bool
        Go on past a failure: the behaviours of the failing case are left out
        and the search starts again, until a search passes or a failing case
        shows no behaviour that can be left out. Every distinct failure is
        then reported, each shrunk, with its behaviours.

    Examples
    --------
    >>> check_implementation(reference_implementation, max_examples=5)
    """
    __tracebackhide__ = True
    if not callable(candidate):
        raise TypeError(f"candidate must be a callable candidate(latents, params, config); "
                        f"got {type(candidate).__name__} {candidate!r}")
    profile = check_profile(profile).name
    dtype = _check_dtype(dtype)
    if isinstance(max_examples, bool) or not isinstance(max_examples, (int, np.integer)) or max_examples < 1:
        raise ValueError(f"max_examples must be an integer >= 1; got {max_examples!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an integer or None; got {seed!r}")
    select = _behaviour_names(select, "select")
    both = sorted(set(select) & set(_behaviour_names(skip, "skip")))
    if both:
        raise ValueError(f"select and skip both name {', '.join(both)}: no input can show and not show it")
    if "single_level" in select and {"empty_level_stop", "odd_crop"} & set(select):
        raise ValueError("select names single_level with a behaviour that needs several levels: no input "
                         "shows both")
    given_pyramids = pyramids
    failures, skipped = [], _behaviour_names(skip, "skip")
    while True:
        try:
            _check_once(candidate, profile, dtype, max_examples, given_pyramids, modules, derandomize, shrink,
                        seed, skipped, select)
            break
        except _Failure as failure:
            failures.append(failure)
            new = [name for name in failure.behaviours if name not in skipped]
            if not keep_going or not new:
                break
            skipped += new
    if not failures:
        return
    if len(failures) == 1 and not keep_going:
        raise AssertionError(failures[0].report) from None
    raise AssertionError(_failures_report(failures, skipped, keep_going)) from None


class _Failure(Exception):
    """A failing case: its report (with reproducer) and the behaviours it shows."""

    def __init__(self, report, behaviours):
        super().__init__(report)
        self.report, self.behaviours = report, behaviours


def _failures_report(failures, skipped, keep_going):
    parts = [f"{len(failures)} distinct failure{'s' if len(failures) > 1 else ''} (keep_going=True: after each, "
             f"the behaviours it shows are left out and the search starts again)."]
    for n, failure in enumerate(failures, 1):
        shows = ", ".join(failure.behaviours) or "no behaviour that can be left out"
        parts.append(f"Failure {n} of {len(failures)} (behaviours: {shows}):\n{failure.report}")
    last = failures[-1]
    if keep_going and not [name for name in last.behaviours]:
        parts.append("The search stopped there: the last failing case shows no behaviour that can be left out.")
    return "\n\n".join(parts)


def _check_once(candidate, profile, dtype, max_examples, pyramids, modules, derandomize, shrink, seed,
                skipped, select):
    """One check; raises :class:`_Failure` on the first (shrunk) failing case."""
    __tracebackhide__ = True
    can_draw = getattr(pyramids, "can_draw", None) if pyramids is not None else None
    if pyramids is None:
        # Half the draws may hold levels without channels (S6.4); the other half
        # never stop early, so that long chains of transitions are common too.
        # Leaving a behaviour out changes the draws (e.g. min_channels=1).
        options = dict(max_levels=5, max_side=16, max_batch=2, max_channels=2, max_value=10.0, dtype=dtype,
                       profile=profile)
        for name in skipped:
            options.update(BEHAVIOURS[name][2])
        low = options.pop("min_channels", 0)
        options.setdefault("min_levels", 1)
        pyramids = st.one_of(*(latent_pyramids(min_channels=c, **options) for c in sorted({1, low})))
        can_draw = lambda shapes: True  # noqa: E731 (the default draws every fixed case)
    # The candidate receives latents of ``dtype`` whatever the strategy drew.
    pyramids = pyramids.map(lambda latents: [np.asarray(y).astype(dtype) for y in latents])
    if modules is None:
        modules = upsamplings(max_ups_k_size=12, max_preconcat_k_size=9, max_kernels=3, profile=profile)

    def wanted(shapes):
        shows = behaviours_of(shapes)
        return not set(shows) & set(skipped) and all(name in shows for name in select)

    def check(latents, up):
        __tracebackhide__ = True
        up = up.on_release_line(PROFILES[profile].empty_levels)  # the profile's release line (S6.8)
        config = {"ups_k_size": up.ups_k_size, "ups_preconcat_k_size": up.ups_preconcat_k_size,
                  "n_ups_kernel": up.n_ups_kernel, "n_ups_preconcat_kernel": up.n_ups_preconcat_kernel}
        outside = PROFILES[profile].violations(_config_tuple(up), [y.shape for y in latents])
        if outside:
            raise ValueError(f"the strategies drew an input outside profile {profile!r} "
                             f"({'; '.join(outside)}): build them with profile={profile!r}, "
                             f"e.g. latent_pyramids(profile={profile!r}), or pass a wider profile")
        params = up.get_param()
        expected = up(latents, workers=1)
        reproducer = f"Reproducer:\n{_reproducer(config, params, latents, dtype, candidate, up.empty_levels)}"
        shows = behaviours_of([y.shape for y in latents])
        try:
            actual = np.asarray(candidate([y.copy() for y in latents], up.get_param(), dict(config)))
        except Exception as error:  # whatever the candidate raises, ExceptionGroups included
            raise _Failure(
                f"the candidate raised {error_summary(error)}\n\n"
                f"{_special_features(up, latents, profile)}{_release_note(up, latents, None, dtype)}"
                f"\n\n{reproducer}", shows) from None
        try:
            assert_upsampling_close(actual, expected, dtype=dtype, atol=error_bounds(up, latents, dtype),
                                    channels=[y.shape[1] for y in latents], where="output")
        except AssertionError as error:
            raise _Failure(f"{error}\n\n{_special_features(up, latents, profile)}"
                           f"{_release_note(up, latents, actual, dtype)}\n\n{reproducer}", shows) from None
        except Exception as error:  # e.g. an object array that numpy cannot compare
            raise _Failure(f"output: cannot be compared ({error_summary(error)})\n\n"
                           f"{reproducer}", shows) from None

    phases = tuple(Phase) if shrink else tuple(p for p in Phase if p != Phase.shrink)

    def search():
        __tracebackhide__ = True

        @settings(max_examples=max_examples, deadline=None, database=None, derandomize=derandomize,
                  phases=phases, report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(latents=pyramids, up=modules)
        def run(latents, up):
            __tracebackhide__ = True
            assume(wanted([y.shape for y in latents]))
            check(latents, up)

        try:
            (run if seed is None else hypothesis_seed(int(seed))(run))()
        except _Failure:
            raise
        except FailedHealthCheck:  # every draw was filtered out
            raise ValueError(f"no drawn input shows what select={select} and skip={skipped} ask for; widen the "
                             "strategies or the profile, or ask for less") from None
        except Exception as error:  # an exception group, had several failures been reported together
            first = next(iter(getattr(error, "exceptions", ())), None)
            if isinstance(first, _Failure):
                raise first from None
            raise

    for label, latents, up in _fixed_examples(dtype):
        shapes = [y.shape for y in latents]
        if (not PROFILES[profile].admits(_config_tuple(up), shapes) or not wanted(shapes)
                or can_draw is None or not can_draw(shapes)):
            continue
        try:
            check(latents, up)
        except _Failure as fixed:
            # Hypothesis does not shrink explicit examples: search for a smaller failing case.
            try:
                search()
            except _Failure as smaller:
                raise _Failure(_with_note(smaller.report, f"First seen on the fixed example '{label}'; this is "
                                          "the smallest failing case the search found."), smaller.behaviours)
            raise _Failure(_with_note(fixed.report, f"Found on the fixed example '{label}'; a search of "
                                      f"{max_examples} drawn cases found no smaller one."), fixed.behaviours)
    search()


def _with_note(error, note):
    """The failure report with ``note`` placed before its reproducer (which stays runnable)."""
    report, marker, reproducer = str(error).partition("\n\nReproducer:\n")
    return f"{report}\n\n{note}{marker}{reproducer}"


def _config_tuple(up):
    return (up.ups_k_size, up.ups_preconcat_k_size, up.n_ups_kernel, up.n_ups_preconcat_kernel)


def _release_note(up, latents, actual, dtype):
    """Which other Cool-chic release line the failure matches, where the lines differ (S6.8).

    ``up`` is the reference, on the profile's line. ``actual`` None means the
    candidate raised: Cool-chic 3.4 refuses a level without channels.
    Otherwise the output is compared with the other lines' outputs.
    """
    if not depends_on_release([np.shape(y) for y in latents]):
        return ""
    if actual is None:
        if up.empty_levels == "error":
            return ""
        return ("\n\nThis input has a level without channels, and the candidate raised: Cool-chic 3.4 refuses "
                f"such a level (S6.8), 4.1 and later stop there (S6.4), 4.0 goes on. If it follows 3.4, check it "
                f"with profile={RELEASE_PROFILES['error']!r} (refups check --profile {RELEASE_PROFILES['error']}), "
                "which leaves such levels out.")
    for empty_levels in ("stop", "continue"):
        if empty_levels == up.empty_levels:
            continue
        other = up.on_release_line(empty_levels)
        try:
            assert_upsampling_close(actual, other(latents, workers=1), dtype=dtype,
                                    atol=error_bounds(other, latents, dtype))
        except (AssertionError, ValueError, TypeError):
            continue
        release, profile = release_name(empty_levels), RELEASE_PROFILES[empty_levels]
        how = ("goes on to full resolution (S6.8), where 4.1 and later stop (S6.4)" if empty_levels == "continue"
               else "stops there (S6.4), where 4.0 goes on to full resolution (S6.8)")
        return (f"\n\nThis implementation behaves like {release} on levels without channels: its output here "
                f"is {release}'s, which {how}. If it follows that release, check it with "
                f"profile={profile!r} (refups check --profile {profile}); skip=['S6.4'] checks the rest "
                "under this profile.")
    return ""


def _special_features(up, latents, profile):
    """What an input exercises beyond the plainest case, with how to leave it out."""
    shapes = [tuple(np.shape(y)) for y in latents]
    notes = []
    for name, rules in PROFILES.items():
        why = rules.violations(_config_tuple(up), shapes)
        if why:
            notes.append(f"outside profile {name!r} ({'; '.join(why)}); to exclude such inputs, "
                         f"pass profile={name!r}")

    def exclude(strategy, token):
        return (f"to exclude, draw latent_pyramids({strategy}, profile={profile!r}) or pass skip=[{token!r}] "
                f"(refups check --skip {token})")

    if len(shapes) == 1:
        notes.append(f"a single level: the output is y_0 unchanged (S6.5); {exclude('min_levels=2', 'S6.5')}")
    empty = [i for i in range(len(shapes) - 1) if shapes[i][1] == 0]
    if empty and up.empty_levels == "continue":
        notes.append(f"level{'s' if len(empty) > 1 else ''} {', '.join(map(str, empty))} "
                     f"{'have' if len(empty) > 1 else 'has'} no channels: Cool-chic 4.0 skips "
                     f"{'them' if len(empty) > 1 else 'it'} and the loop goes on to level 0 (S6.8); "
                     f"{exclude('min_channels=1', 'S6.8')}")
    elif empty:
        stop = max(empty)
        what = ("the loop stops before it, and the output keeps level 1's resolution" if stop == 0 else
                f"the loop stops there, the output keeps level {stop + 1}'s resolution and the finer "
                f"level{'s' if stop > 1 else ''} 0{f' to {stop - 1}' if stop > 1 else ''} "
                f"{'are' if stop > 1 else 'is'} dropped")
        notes.append(f"level {stop} has no channels: {what} (S6.4); {exclude('min_channels=1', 'S6.4')}")
    if shapes[-1][1] == 0:
        notes.append(f"the coarsest level has no channels: it adds none (S6); "
                     f"{exclude('min_channels=1', 'empty_coarsest')}")
    if shapes[0][0] > 1:
        notes.append(f"batch {shapes[0][0]} (S6); {exclude('max_batch=1', 'batch_mixing')}")
    levels = transition_levels(shapes, "continue" if up.empty_levels == "continue" else "stop")
    if _odd_prefiltered(shapes):
        notes.append(f"odd sizes: an upsampled level is cropped to its finer level (S6.7); "
                     f"{exclude('odd_sizes=False', 'S6.7')}")
    if len(levels) > min(up.n_ups_kernel, up.n_ups_preconcat_kernel):
        notes.append("more transitions than filters: filters are shared modulo their count (S6.3)")
    if not notes:
        notes.append("nothing special: a plain pyramid inside every profile")
    return "What is special about this input:\n" + "\n".join(f"- {note}" for note in notes)


def _fixed_examples(dtype):
    """``(label, latents, module)`` cases that always run first."""
    return [
        ("one level (S6.5)", [np.ones((1, 1, 3, 3), dtype)], _fixed_module(1, 1)),
        ("an empty level (S6.4)", _fixed_pyramid([(1, 1, 3, 3), (1, 0, 2, 2), (1, 1, 1, 1)], dtype),
         _fixed_module(1, 1)),
        ("five odd-sized levels, 2 and 3 filters (S6.2, S6.3, S6.7)",
         _fixed_pyramid([(1, 1, 13, 15), (1, 1, 7, 8), (1, 1, 4, 4), (1, 1, 2, 2), (1, 2, 1, 1)], dtype),
         _fixed_module(2, 3)),
    ]


def _fixed_module(n_ups, n_pre):
    """A small module whose filters all differ, so that using the wrong one shows."""
    up = Upsampling(4, 3, n_ups, n_pre)
    params = up.get_param()
    for i in range(n_ups):
        params[f"conv_transpose2ds.{i}.parametrizations.weight.original"] = np.array([-0.25 + 0.125 * i, 0.5])
    for j in range(n_pre):
        params[f"conv2ds.{j}.parametrizations.weight.original"] = np.array([0.5 - 0.125 * j, 0.25])
    up.set_param(params)
    return up


def _fixed_pyramid(shapes, dtype):
    """Deterministic, uneven integer values (multiples 7 mod 11, centred)."""
    return [(np.arange(np.prod(shape)) * 7 % 11 - 5).astype(dtype).reshape(shape) for shape in shapes]
