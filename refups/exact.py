"""The exact oracle: the Upsampling module computed without any rounding, twice.

What it is
    A third computation of spec S4-S6, next to the fast paths
    (:mod:`refups.ops`) and the loop transcription (:mod:`refups.naive`), that
    makes no rounding error at all. It serves two purposes: generating golden
    values that are the *correctly rounded* exact results (rather than one
    float64 computation among many), and measuring how far each fast path
    is from the truth, in ULPs, instead of from another rounded computation.

Why it can be exact
    Every finite float is a dyadic rational ``m * 2**e`` (integer ``m`` and
    ``e``), and the module is linear: each output sample is a sum of products
    ``latent * w[r] * w[q]`` of one latent value and two kernel taps per
    transition (S4, S5), added up over the transitions (S6). Sums and products
    of dyadic rationals are dyadic rationals, so the exact output on finite
    inputs is one too. Here each tensor is a :class:`Dyadic`: a NumPy object
    array of Python integers (unbounded) and *one* shared exponent ``s``, with
    ``value = numerators * 2**-s``. Floats are read exactly
    (:meth:`float.as_integer_ratio`); a product multiplies numerators and adds
    exponents; a sum first brings its terms to a common exponent by shifting
    numerators left, which is exact. Only the final :meth:`Dyadic.to_float`
    rounds, once per value, correctly (to nearest, ties to even), straight from
    the integers to float64 or float32: never through an intermediate float64
    for a float32 target, which could round twice (:func:`round_dyadic`).

Two oracles
    :func:`upsampling_exact` is the obviously correct one: the filters follow
    the dense 2-D formulas of S4 and S5 (``k**2`` taps per output sample, no
    separable shortcut), on Python integers that grow by about 2 x 53 bits per
    transition with float64 kernels; it costs a few hundred float64 forward
    passes. :func:`upsampling_exact_rounded` computes the same values on
    digit arrays (:mod:`refups.limbs`), with separable passes (the upsampling
    in its polyphase form, :func:`refups.ops.upsample_1d_polyphase`), at
    about 6 to 8 forward passes on real models up to 3840x2160
    (``benchmarks/bench_exact.py``); it writes the golden files. The first is
    the test oracle of the second: they agree bit for bit (``tests/test_exact.py``).

Only finite inputs have an exact value: NaN and infinities raise a
:class:`ValueError` naming the argument. Integer inputs are taken exactly, even
beyond ``2**53`` (where refups itself rounds them to float64).

Examples
--------
>>> import numpy as np, refups
>>> up = refups.Upsampling(4, 1, 1, 1)
>>> trace = upsampling_exact(up, [np.zeros((1, 1, 1, 6)), np.array([[[[1.0, 2.0, 4.0]]]])])
>>> trace.output[0, 1]
Dyadic(numerators=[[16, 20, 28, 40, 56, 64]], scale=4)
>>> trace.output.to_float()[0, 1]
array([[1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ]])
"""

import math
import operator
from dataclasses import dataclass
from functools import partial
from fractions import Fraction

import numpy as np

from scipy import ndimage

from ._validation import as_real_array, check_filter_counts, check_latents
from .kernels import check_preconcat_kernel_size, check_ups_kernel_size, symmetric_kernel
from .limbs import MAX_TAPS, Limbs
from .ops import _THREADS_MIN_BYTES, _run_tasks, resolve_workers, upsample_1d_polyphase
from .upsampling import Transition, UpsamplingTrace
from .versions import transition_levels

__all__ = [
    "Dyadic",
    "ExactTrace",
    "ExactTransition",
    "preconcat_exact",
    "round_dyadic",
    "upsample_exact",
    "upsampling_exact",
    "upsampling_exact_rounded",
]

#: Binary formats: precision p (bits, hidden bit included), e_min, e_max.
_FORMATS = {
    np.dtype(np.float64): (53, -1022, 1023),
    np.dtype(np.float32): (24, -126, 127),
}


def _format(dtype):
    dtype = np.dtype(dtype)
    if dtype not in _FORMATS:
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    return dtype, _FORMATS[dtype]


def round_dyadic(numerator, scale, dtype=np.float64):
    """Round ``numerator * 2**-scale`` to ``dtype``, once and correctly.

    Round to nearest, ties to even, as IEEE 754 does: with ``p`` bits of
    precision (53 or 24) and smallest normal exponent ``e_min`` (-1022 or
    -126), let ``e = floor(log2 |v|)`` and ``q = max(e, e_min) - (p - 1)``,
    the exponent of the last place of the result (fixed at ``e_min - p + 1``
    for subnormals). The result is ``r * 2**q`` where ``r`` is ``|v| / 2**q``
    rounded to the nearest integer, ties to the even one; all of it on Python
    integers. If ``r * 2**q >= 2**(e_max + 1)``, the result is infinite (this
    is IEEE's rule: values from ``max + ulp/2`` up overflow).

    Signs: an exact zero gives ``+0.0``; a nonzero value that rounds to zero
    keeps its sign (``-0.0`` for a tiny negative value), as IEEE rounding does.

    Parameters
    ----------
    numerator, scale : int
    dtype : {float64, float32}

    Returns
    -------
    numpy.float64 or numpy.float32

    Examples
    --------
    >>> float(round_dyadic(3, 2))                       # 3/4
    0.75
    >>> float(round_dyadic(2**24 + 1, 24, np.float32))  # 1 + 2**-24: a tie, to even
    1.0
    >>> float(round_dyadic(2**24 + 3, 24, np.float32)) == 1 + 2**-22   # a tie, to even
    True

    Double rounding, which this avoids: 1 + 2**-24 + 2**-60 lies above the tie,
    so float32 gives 1 + 2**-23; going through float64 first loses 2**-60 and
    leaves a tie, which rounds down to 1:

    >>> n, s = 2**60 + 2**36 + 1, 60
    >>> float(round_dyadic(n, s, np.float32)) == 1 + 2**-23
    True
    >>> float(np.float32(n / 2**s))
    1.0
    >>> float(round_dyadic(2**128, 0, np.float32)), float(round_dyadic(-1, 1100))
    (inf, -0.0)
    """
    dtype, (p, e_min, e_max) = _format(dtype)
    numerator, scale = operator.index(numerator), operator.index(scale)
    if numerator == 0:
        return dtype.type(0.0)
    negative = numerator < 0
    m = -numerator if negative else numerator
    e = m.bit_length() - 1 - scale           # 2**e <= |v| < 2**(e + 1)
    q = max(e, e_min) - (p - 1)              # exponent of the result's last place
    shift = scale + q                        # |v| / 2**q = m / 2**shift
    if shift <= 0:
        r = m << -shift                      # exact: no bits below the last place
    else:
        r = m >> shift
        remainder = m - (r << shift)
        half = 1 << (shift - 1)
        if remainder > half or (remainder == half and r & 1):
            r += 1                           # may carry to 2**p: still exact below
    if r == 0:
        result = 0.0
    elif r.bit_length() - 1 + q >= e_max + 1:
        result = math.inf
    else:
        result = math.ldexp(float(r), q)     # r < 2**(p+1), exact in float64
    return dtype.type(-result if negative else result)


def _int_array(values, shape):
    """An object array of Python ints of ``shape`` from a flat iterable."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array.reshape(shape)


class Dyadic:
    """A tensor of dyadic rationals: integer numerators and one shared exponent.

    ``value = numerators * 2**-scale``, element-wise. ``numerators`` is a NumPy
    object array of Python integers, so no operation on it overflows or rounds.

    Parameters
    ----------
    numerators : array_like of int, any shape
        Python or NumPy integers; floats are refused (use :meth:`from_array`).
    scale : int
        The exponent ``s``; any sign.

    Examples
    --------
    >>> d = Dyadic.from_array([0.75, -2.0, 0.0])
    >>> d
    Dyadic(numerators=[3, -8, 0], scale=2)
    >>> d.to_float()
    array([ 0.75, -2.  ,  0.  ])
    >>> d.to_fractions().tolist()
    [Fraction(3, 4), Fraction(-2, 1), Fraction(0, 1)]
    >>> Dyadic([[1, 2]], -3).to_float(np.float32)   # scale -3: times 8
    array([[ 8., 16.]], dtype=float32)
    """

    __slots__ = ("numerators", "scale")

    def __init__(self, numerators, scale=0):
        array = np.asarray(numerators, dtype=object)
        try:
            values = [operator.index(v) for v in array.flat]
        except TypeError:
            raise TypeError("numerators must hold integers only; use Dyadic.from_array "
                            "for floats") from None
        self.numerators = _int_array(values, array.shape)
        self.scale = operator.index(scale)

    @classmethod
    def _wrap(cls, numerators, scale):
        """Trusted constructor: ``numerators`` is already an object array of ints."""
        self = cls.__new__(cls)
        self.numerators, self.scale = numerators, scale
        return self

    @classmethod
    def from_array(cls, x, name="x"):
        """The exact value of a real array (float, integer or bool), as a Dyadic.

        Each float ``v`` is read as ``n / 2**e`` (:meth:`float.as_integer_ratio`);
        the shared scale is the largest ``e``, and every numerator is
        ``n * 2**(scale - e)``. Integers are taken as they are, scale 0.
        A Dyadic is returned unchanged.

        Raises
        ------
        ValueError
            If ``x`` holds NaN or infinities: "<name> must hold finite values
            for the exact oracle; got <count> NaN/inf".

        Examples
        --------
        >>> Dyadic.from_array(np.float32([1.5, 0.125]))
        Dyadic(numerators=[12, 1], scale=3)
        >>> Dyadic.from_array([[1.0, np.nan, np.inf]], name="latents[1]")
        Traceback (most recent call last):
        ...
        ValueError: latents[1] must hold finite values for the exact oracle; got 2 NaN/inf
        """
        if isinstance(x, cls):
            return x
        array = as_real_array(x, name)
        if array.dtype.kind != "f":
            return cls._wrap(_int_array([int(v) for v in array.flat], array.shape), 0)
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise ValueError(f"{name} must hold finite values for the exact oracle; "
                             f"got {bad} NaN/inf")
        ratios = [float(v).as_integer_ratio() for v in array.flat]  # float32 -> float64: exact
        exponents = [d.bit_length() - 1 for _, d in ratios]         # d == 2**e
        scale = max(exponents, default=0)
        values = [n << (scale - e) for (n, _), e in zip(ratios, exponents)]
        return cls._wrap(_int_array(values, array.shape), scale)

    @classmethod
    def concatenate(cls, parts, axis=0):
        """Concatenate Dyadics along ``axis``, at the largest of their scales (exact).

        Examples
        --------
        >>> Dyadic.concatenate([Dyadic([1], 0), Dyadic([1], 2)])
        Dyadic(numerators=[4, 1], scale=2)
        """
        parts = list(parts)
        scale = max(part.scale for part in parts)
        return cls._wrap(np.concatenate([part.with_scale(scale).numerators for part in parts],
                                        axis=axis), scale)

    @property
    def shape(self):
        """Shape of the tensor."""
        return self.numerators.shape

    def __len__(self):
        return len(self.numerators)

    def __getitem__(self, index):
        """Index the numerators; the scale is kept. A single element is a 0-d Dyadic."""
        selected = self.numerators[index]
        if not isinstance(selected, np.ndarray):
            selected = _int_array([selected], ())
        return Dyadic._wrap(selected, self.scale)

    def __repr__(self):
        if self.numerators.size <= 64:
            return f"Dyadic(numerators={self.numerators.tolist()!r}, scale={self.scale})"
        return f"Dyadic(<numerators of shape {self.shape}>, scale={self.scale})"

    def with_scale(self, scale):
        """The same values at a larger (or equal) scale: numerators times ``2**(scale - self.scale)``.

        Examples
        --------
        >>> Dyadic([3], 1).with_scale(4)
        Dyadic(numerators=[24], scale=4)
        """
        scale = operator.index(scale)
        if scale < self.scale:
            raise ValueError(f"scale must be >= {self.scale} to stay exact; got {scale}")
        if scale == self.scale:
            return self
        return Dyadic._wrap(self.numerators * (1 << (scale - self.scale)), scale)

    def normalized(self):
        """The same values with the smallest scale: common factors of 2 removed.

        Examples
        --------
        >>> Dyadic([4, 12, 0], 3).normalized()
        Dyadic(numerators=[1, 3, 0], scale=1)
        """
        zeros = [(n & -n).bit_length() - 1 for n in self.numerators.flat if n]
        if not zeros:
            return Dyadic._wrap(np.zeros(self.shape, dtype=object), 0)
        t = min(zeros)
        return Dyadic._wrap(_int_array([n >> t for n in self.numerators.flat], self.shape),
                            self.scale - t)

    def to_fractions(self):
        """The exact values as an object array of :class:`fractions.Fraction`."""
        if self.scale >= 0:
            den = 1 << self.scale
            values = [Fraction(n, den) for n in self.numerators.flat]
        else:
            values = [Fraction(n << -self.scale) for n in self.numerators.flat]
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(self.shape)

    def to_float(self, dtype=np.float64):
        """Every value correctly rounded to ``dtype`` (see :func:`round_dyadic`).

        Rounds once, from the integers, for float32 as for float64; values
        too large become infinities, an exact zero becomes ``+0.0``.

        Examples
        --------
        >>> Dyadic([2**24 + 1, -(2**24 + 1)], 24).to_float(np.float32)   # ties to even
        array([ 1., -1.], dtype=float32)
        """
        dtype, _ = _format(dtype)
        values = [round_dyadic(n, self.scale, dtype) for n in self.numerators.flat]
        return np.array(values, dtype=dtype).reshape(self.shape)


def _operand(value, name, ndim):
    """``value`` as an exact Dyadic of ``ndim`` dimensions with a scale >= 0."""
    d = Dyadic.from_array(value, name)
    if d.numerators.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {d.shape}")
    return d.with_scale(max(d.scale, 0))


def upsample_exact(x, kernel):
    """Exact stride-2 transposed convolution of one channel (S4).

    With ``k = len(kernel)`` (even, ``>= 4``), ``P = k / 2``, ``C = 3k/2 - 1``::

        xp = x replicate-padded by P on every side         # (H + k, W + k)
        y[a, b] = sum_{i, j} xp[i, j] * w[a + C - 2i] * w[b + C - 2j]

    terms whose kernel index falls outside ``0 .. k-1`` being zero. Written
    with ``r = a + C - 2i`` and ``q = b + C - 2j``: each pair of kernel
    indices ``(r, q)`` adds ``w[r] w[q] xp[i, j]`` to the output sample
    ``(2i + r - C, 2j + q - C)``; for each ``(r, q)`` these samples form one
    stride-2 sub-grid of the output, fed by an ``(H, W)`` window of ``xp``.
    If ``x`` has scale ``s_x`` and ``w`` scale ``s_w``, every product has scale
    ``s_x + 2 s_w``: the sum needs no alignment.

    Parameters
    ----------
    x : array_like or Dyadic, shape (H, W)
        Finite values.
    kernel : array_like or Dyadic, shape (k,)
        The full 1-D kernel (:func:`refups.kernels.symmetric_kernel`).

    Returns
    -------
    Dyadic, shape (2H, 2W)

    Examples
    --------
    The S4 worked example, ``k = 4`` and half-kernel ``(1/4, 3/4)``:

    >>> y = upsample_exact([[1.0, 2.0, 4.0]], [0.25, 0.75, 0.75, 0.25])
    >>> y
    Dyadic(numerators=[[16, 20, 28, 40, 56, 64], [16, 20, 28, 40, 56, 64]], scale=4)
    >>> y.to_float()
    array([[1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ],
           [1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ]])
    """
    X = _operand(x, "x", 2)
    w = _operand(kernel, "kernel", 1)
    k = check_ups_kernel_size(len(w), "len(kernel)")
    H, W = X.shape
    if H < 1 or W < 1:
        raise ValueError(f"x must have H >= 1 and W >= 1; got shape {X.shape}")
    P, C = k // 2, 3 * k // 2 - 1
    taps = w.numerators
    xp = np.pad(X.numerators, P, mode="edge")
    y = np.zeros((2 * H, 2 * W), dtype=object)
    for r in range(k):
        i0 = (C - r + 1) // 2          # first row i with a = 2i + r - C >= 0
        a0 = 2 * i0 + r - C            # its output row: 0 or 1; then every other row
        for q in range(k):
            j0 = (C - q + 1) // 2
            b0 = 2 * j0 + q - C
            tap = taps[r] * taps[q]    # w[r] * w[q], scale 2 s_w
            if tap:
                y[a0::2, b0::2] += tap * xp[i0:i0 + H, j0:j0 + W]
    return Dyadic._wrap(y, X.scale + 2 * w.scale)


def preconcat_exact(x, kernel):
    """Exact residual pre-concatenation filter of one channel (S5).

    With ``k = len(kernel)`` (odd) and ``p = k // 2``::

        Z[a, b] = X[a, b] + sum_{s, t} w[s] * w[t] * X0[a + s - p, b + t - p]

    where ``X0`` is ``X`` inside its bounds and 0 outside (zero padding). The
    products have scale ``s_x + 2 s_w``; ``X`` is brought to that scale
    (numerators times ``2**(2 s_w)``) before the residual addition.

    Parameters
    ----------
    x : array_like or Dyadic, shape (H, W)
    kernel : array_like or Dyadic, shape (k,)

    Returns
    -------
    Dyadic, shape (H, W)

    Examples
    --------
    >>> z = preconcat_exact([[1.0, 2.0], [3.0, 4.0]], [0.5, 1.0, 0.5])
    >>> z.to_float()
    array([[ 5.5 ,  7.25],
           [ 9.  , 10.75]])
    >>> from refups.naive import preconcat_naive
    >>> preconcat_naive([[1.0, 2.0], [3.0, 4.0]], [0.5, 1.0, 0.5])
    array([[ 5.5 ,  7.25],
           [ 9.  , 10.75]])
    """
    X = _operand(x, "x", 2)
    w = _operand(kernel, "kernel", 1)
    k = check_preconcat_kernel_size(len(w), "len(kernel)")
    H, W = X.shape
    p = k // 2
    taps = w.numerators
    x0 = np.zeros((H + 2 * p, W + 2 * p), dtype=object)   # X0: X inside, Python int 0 outside
    x0[p:p + H, p:p + W] = X.numerators
    z = X.numerators * (1 << (2 * w.scale))                 # X[a, b], at the products' scale
    for s in range(k):
        for t in range(k):
            tap = taps[s] * taps[t]                         # w[s] * w[t]
            if tap:
                z = z + tap * x0[s:s + H, t:t + W]          # X0[a + s - p, b + t - p]
    return Dyadic._wrap(z, X.scale + 2 * w.scale)


@dataclass(frozen=True, eq=False)
class ExactTransition:
    """One step of the S6 loop in exact values (see :class:`refups.Transition`).

    ``upsampled``, ``prefiltered`` and ``output`` are :class:`Dyadic` tensors
    of shapes ``(B, C_u, H, W)``, ``(B, C_level, H, W)``, ``(B, C_level + C_u, H, W)``.
    """

    index: int
    level: int
    ups_filter: int
    preconcat_filter: int
    upsampled: Dyadic
    prefiltered: Dyadic
    output: Dyadic


@dataclass(frozen=True, eq=False)
class ExactTrace:
    """The exact output and the exact intermediates of every transition."""

    output: Dyadic
    transitions: list

    def to_float(self, dtype=np.float64):
        """Everything correctly rounded to ``dtype``, as a :class:`refups.UpsamplingTrace`.

        Examples
        --------
        >>> import refups
        >>> trace = upsampling_exact(refups.Upsampling(4, 3, 1, 1),
        ...                          [np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1))])
        >>> rounded = trace.to_float(np.float32)
        >>> rounded.output.dtype, rounded.transitions[0].prefiltered.shape
        (dtype('float32'), (1, 1, 2, 2))
        """
        return UpsamplingTrace(self.output.to_float(dtype), [
            Transition(s.index, s.level, s.ups_filter, s.preconcat_filter,
                       s.upsampled.to_float(dtype), s.prefiltered.to_float(dtype),
                       s.output.to_float(dtype))
            for s in self.transitions])


def _kernels(up, prefix, count, k):
    params = up.get_param()
    kernels = []
    for i in range(count):
        name = f"{prefix}.{i}.parametrizations.weight.original"
        half = Dyadic.from_array(params[name], name)
        kernels.append(Dyadic._wrap(symmetric_kernel(half.numerators, k), half.scale))
    return kernels


def _per_channel(filter_one, z, kernel, H, W):
    """``filter_one`` on every channel ``z[b, c]``, cropped to ``(H, W)``, as one Dyadic."""
    B, C = z.shape[:2]
    results = [[filter_one(z[b, c], kernel)[:H, :W] for c in range(C)] for b in range(B)]
    scale = max((r.scale for row in results for r in row), default=z.scale)
    out = np.empty((B, C, H, W), dtype=object)
    for b in range(B):
        for c in range(C):
            out[b, c] = results[b][c].with_scale(scale).numerators
    return Dyadic._wrap(out, scale)


def upsampling_exact(up, latents):
    """The whole Upsampling module (S6) in exact arithmetic, with its intermediates.

    With ``y_0 .. y_{L-1}`` the latents (``y_0`` finest) and ``w``, ``v`` the
    full kernels built from ``up``'s half-kernels (S1)::

        u = y_{L-1}
        for idx, t in enumerate([y_{L-2}, ..., y_0]):
            if t has 0 channels: stop                              # S6.4
            x = upsample_exact(u[b, c], w[idx % n_ups])[:H_t, :W_t]   # every b, c
            h = preconcat_exact(t[b, c], v[idx % n_pre])              # every b, c
            u = concatenate([h, x], axis=1)                        # S6.1
        return u

    Biases are never applied (S8). The same stages as
    :meth:`refups.Upsampling.trace` are returned, exactly.

    Parameters
    ----------
    up : refups.Upsampling
        Its half-kernels are read with ``up.get_param()``
        (``conv_transpose2ds.{i}.parametrizations.weight.original``,
        ``conv2ds.{j}.parametrizations.weight.original``).
    latents : list of array_like, shapes (B, C_i, H_i, W_i)
        Finite values, validated as :meth:`refups.Upsampling.forward` does.

    Returns
    -------
    ExactTrace
        ``output`` of shape ``(B, C_0 + ... + C_{L-1}, H_0, W_0)`` (fewer when a
        level has no channels), and one :class:`ExactTransition` per step.

    Raises
    ------
    ValueError
        If a latent or a half-kernel holds NaN or infinities ("latents[1] must
        hold finite values for the exact oracle; got 3 NaN/inf"), or for the
        invalid pyramids and filter counts that the module refuses.

    Examples
    --------
    >>> import refups
    >>> up = refups.Upsampling(4, 3, 1, 1)
    >>> y0, y1 = np.full((1, 1, 2, 2), 0.5), np.full((1, 1, 1, 1), 3.0)
    >>> trace = upsampling_exact(up, [y0, y1])
    >>> trace.output.to_float()[0, :, 0, 0]    # pre-filter is a Dirac: 0.5 + 0.5; then 3
    array([1., 3.])
    >>> upsampling_exact(up, [y0, np.full((1, 1, 1, 1), np.nan)])
    Traceback (most recent call last):
    ...
    ValueError: latents[1] must hold finite values for the exact oracle; got 1 NaN/inf
    """
    check_latents(latents)  # the module's own checks: list, 4-D, batch sizes, level sizes
    levels = [Dyadic.from_array(y, f"latents[{i}]") for i, y in enumerate(latents)]
    # S6.4: stop at the first level without channels; S6.8: or go on, or refuse (up.empty_levels).
    n_transitions = len(transition_levels([y.shape for y in levels], up.empty_levels))
    check_filter_counts(up, n_transitions)
    ups = _kernels(up, "conv_transpose2ds", up.n_ups_kernel, up.ups_k_size)
    pre = _kernels(up, "conv2ds", up.n_ups_preconcat_kernel, up.ups_preconcat_k_size)

    u = levels[-1]
    transitions = []
    for idx in range(n_transitions):
        level = len(levels) - 2 - idx
        t = levels[level]
        _, _, H_t, W_t = t.shape
        ups_filter, preconcat_filter = idx % len(ups), idx % len(pre)
        x = _per_channel(upsample_exact, u, ups[ups_filter], H_t, W_t)
        h = _per_channel(preconcat_exact, t, pre[preconcat_filter], H_t, W_t)
        u = Dyadic.concatenate([h, x], axis=1)  # S6.1: the filtered finer level first
        transitions.append(ExactTransition(idx, level, ups_filter, preconcat_filter, x, h, u))
    return ExactTrace(u, transitions)


def upsampling_exact_rounded(up, latents, dtype=np.float64, *, workers=None):
    """The exact trace correctly rounded to ``dtype``: a :class:`refups.UpsamplingTrace`.

    Equal, bit for bit, to ``upsampling_exact(up, latents).to_float(dtype)``:
    the output and intermediates that an implementation without rounding
    error would return. It computes the same exact values by other means:
    separable passes (:func:`refups.ops.upsample_1d_polyphase`, S4's pass
    without its zero products, and :func:`scipy.ndimage.convolve1d`), run on the numerators written as
    base-``2**24`` digit arrays (:mod:`refups.limbs`), where float64 makes no
    rounding error; then every value is rounded once, from its digits.

    Why it is the same: the exact value of a stage does not depend on how it
    is computed, and every operation here is exact (the argument is in
    :mod:`refups.limbs`); the width-then-height passes give the 2-D sums of
    :func:`upsample_exact` and :func:`preconcat_exact` reordered, which
    exact arithmetic allows. Tests compare the two oracles bit for bit.

    Each transition runs strip by strip (columns of an upsampled channel,
    rows of a pre-filtered level), each strip rounded as soon as it is done;
    channels and levels run on at most ``workers`` threads (as in
    :meth:`refups.Upsampling.forward`; the result does not depend on them).
    The last transition's digits are never kept whole: only its strips'.
    Inputs the digit arrays cannot hold (integers from ``2**53``, kernels
    longer than :data:`refups.limbs.MAX_TAPS`) take :func:`upsampling_exact`.

    Examples
    --------
    >>> import refups
    >>> up = refups.Upsampling(4, 1, 1, 1)
    >>> upsampling_exact_rounded(up, [np.zeros((1, 1, 1, 1)), np.full((1, 1, 1, 1), 0.1)],
    ...                          np.float32).output
    array([[[[0. ]],
    <BLANKLINE>
            [[0.1]]]], dtype=float32)
    """
    dtype, _ = _format(dtype)
    check_latents(latents)  # the module's own checks: list, 4-D, batch sizes, level sizes
    arrays = [as_real_array(y, f"latents[{i}]") for i, y in enumerate(latents)]
    if (max(up.ups_k_size, up.ups_preconcat_k_size) > MAX_TAPS
            or any(y.dtype.kind not in "fiub" or (y.dtype.kind in "iu" and y.size and
                                                  np.max(np.abs(y.astype(np.float64))) >= 2.0**53)
                   for y in arrays)):
        return upsampling_exact(up, latents).to_float(dtype)
    levels = [Limbs.from_array(y, f"latents[{i}]") for i, y in enumerate(arrays)]
    n_transitions = len(transition_levels([y.shape for y in levels], up.empty_levels))
    check_filter_counts(up, n_transitions)
    ups = [_kernel_limbs(up, "conv_transpose2ds", i, up.ups_k_size) for i in range(up.n_ups_kernel)]
    pre = [_kernel_limbs(up, "conv2ds", i, up.ups_preconcat_k_size) for i in range(up.n_ups_preconcat_kernel)]

    # u is kept as one Limbs per channel, each with its own scale: no alignment for the concatenation.
    u, output = _channels(levels[-1]), levels[-1].to_float(dtype)
    workers = resolve_workers(workers)
    transitions = []
    for idx in range(n_transitions):
        level = len(levels) - 2 - idx
        t = levels[level]
        ups_filter, preconcat_filter = idx % len(ups), idx % len(pre)
        last = idx == n_transitions - 1      # its exact values are not needed after rounding
        B, C_t, H, W = t.shape
        # The output holds [prefiltered, upsampled] (S6.1); both are rounded straight into it.
        output = np.empty((B, C_t + len(u), H, W), dtype=dtype)
        h_rounded, x_rounded = output[:, :C_t], output[:, C_t:]
        # Independent tasks, on threads: each channel of u upsampled (S4), and t pre-filtered (S5).
        tasks = [partial(_upsample_channel, channel, ups[ups_filter], (H, W), dtype, x_rounded[:, c], not last)
                 for c, channel in enumerate(u)]
        tasks.append(partial(_prefilter, t, pre[preconcat_filter], h_rounded, not last))
        *x, h = _run_tasks(tasks, workers if t.digits.nbytes * len(u) > _THREADS_MIN_BYTES else 1)
        if not last:
            u = _channels(h) + x
        transitions.append(Transition(idx, level, ups_filter, preconcat_filter, x_rounded, h_rounded, output))
    return UpsamplingTrace(output, transitions)


def _prefilter(t, kernel, out, keep):
    """S5 on every channel of ``t``, ``Z = X + (w (x) w) * X0``, rounded into ``out``; exact if ``keep``.

    Strip by strip of rows, each rounded when done. Output row ``r`` depends
    on the input rows ``r - k//2`` to ``r + k//2``: a strip with ``k//2`` more
    rows on each side gives its outputs exactly, and at the image's edges
    the zeros outside the strip are the zero padding of S5.
    """
    B, C, H, W = t.shape
    p = kernel.shape[0] // 2
    step = max(1, _BLOCK_BYTES // (8 * max(1, B * C * W) * (len(t.digits) + 3)))
    blocks = []
    for first in range(0, H, step):
        last = min(first + step, H)
        lo, hi = max(0, first - p), min(H, last + p)
        strip = Limbs(t.digits[..., lo:hi, :], t.scale, t.bound)
        filtered = _filter_limbs(strip, kernel, _zero_padded_pass)
        rows = np.s_[..., first - lo:last - lo, :]
        z = Limbs.add(Limbs(strip.digits[rows], t.scale, t.bound), Limbs(filtered.digits[rows], filtered.scale,
                                                                          filtered.bound))
        out[:, :, first:last] = z.to_float(out.dtype)
        if keep:
            blocks.append(z)
    return Limbs.concatenate(blocks, axis=2) if keep else None


def _channels(x):
    """The channels of a ``(B, C, H, W)`` Limbs, each a ``(B, H, W)`` Limbs."""
    return [Limbs(x.digits[:, :, c], x.scale, x.bound) for c in range(x.shape[1])]


def _kernel_limbs(up, prefix, i, k):
    name = f"{prefix}.{i}.parametrizations.weight.original"
    return Limbs.from_array(symmetric_kernel(np.asarray(up.get_param()[name], dtype=np.float64), k), name)


def _zero_padded_pass(axis):
    """One pass of S5's filter along ``axis``: an odd kernel, centred, zeros outside."""
    return lambda digits, w: ndimage.convolve1d(digits, w, axis=axis, mode="constant")


def _filter_limbs(x, kernel, one_pass):
    """``kernel (x) kernel`` applied to every channel of ``x``: a width pass, then a height pass."""
    return x.convolve(kernel, one_pass(-1)).convolve(kernel, one_pass(-2))


#: Bytes of digits per block of the height pass (about the blocks of refups.ops).
_BLOCK_BYTES = 4 << 20


def _upsample_channel(channel, kernel, size, dtype, out, keep):
    """S4 on one channel ``(B, H', W')``, cropped to ``size`` (S6), rounded into ``out``; exact if ``keep``.

    Strip by strip of output columns, both passes at once, each strip rounded
    when done: the digits of a full-resolution channel never exist all at
    once, and each strip's stay in cache. Output column ``J`` depends on the
    input columns from ``J/2 - k/4`` to ``J/2 + k/4``, so a strip of input
    columns with ``k/2`` more on each side gives its outputs exactly; at the
    image's edges, the strip's own edge padding is the image's (S4).
    """
    H, W = size
    k, halo = kernel.shape[0], kernel.shape[0] // 2
    n_in = channel.shape[-1]
    # Output columns per strip: about _BLOCK_BYTES of digits in the height pass.
    step = max(1, _BLOCK_BYTES // (8 * max(1, channel.shape[0]) * (len(channel.digits) + 2) * 2 * (H + k)))
    blocks = []
    for first in range(0, W, step):
        last = min(first + step, W)
        lo, hi = max(0, first // 2 - halo), min(n_in, (last + 1) // 2 + halo)
        strip = Limbs(channel.digits[..., lo:hi], channel.scale, channel.bound)
        across = strip.convolve(
            kernel, lambda d, w: upsample_1d_polyphase(d, w, axis=-1)[..., first - 2 * lo:last - 2 * lo])
        block = across.convolve(kernel, lambda d, w: upsample_1d_polyphase(d, w, axis=-2)[..., :H, :])
        out[..., first:last] = block.to_float(dtype)
        if keep:
            blocks.append(block)
    return Limbs.concatenate(blocks, axis=2) if keep else None
