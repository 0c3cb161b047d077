"""Exact big integers on whole arrays: digits in base 2**24, carried with NumPy.

The exact oracle (:mod:`refups.exact`) works with tensors of integers of a
few hundred bits, each tensor with one power of two: ``value = n * 2**-scale``.
Python integers hold them exactly but cost a Python call per operation. A
:class:`Limbs` holds the same integers as a stack of digit arrays, so that
every operation is a handful of NumPy or SciPy calls on whole arrays::

    n = d[0] + d[1] * B + d[2] * B**2 + ... + d[m-1] * B**(m-1),    B = 2**24

Digits are float64 arrays holding integers. *Balanced* digits lie in
``[-2**23, 2**23]``; then the sign of ``n`` is the sign of its highest
non-zero digit, since the digits under it add up to less than half of it.
Between two carries, digits may grow up to :data:`LIMIT`; each
:class:`Limbs` knows a bound on its digits and is carried when the next
operation could pass it.

Why filters stay exact
    A convolution is linear in the signal and in the kernel, so with the
    kernel's numerators written in the same digits, ``w = sum_j v[j] B**j``::

        conv(n, w) = sum_i sum_j conv(d[i], v[j]) * B**(i + j)

    Each ``conv(d[i], v[j])`` is a sum of products whose magnitudes add up to
    at most ``max |d| * sum |v[j]|`` (the l1 norm of the kernel's digits). As
    long as that stays below ``2**52``, every partial sum is an integer float64
    represents, so :func:`scipy.ndimage.convolve1d` (the convolution the float
    path uses) computes it without any rounding, and so do the additions of
    the results. With balanced digits, any kernel of up to :data:`MAX_TAPS`
    taps qualifies; a decoded model's kernels (numerators of about 12 bits)
    leave room for two passes between carries.

Rounding
    :meth:`Limbs.to_float` rounds every value once, correctly (to nearest,
    ties to even), from the few digits around the rounding position; it gives
    the bits of :func:`refups.exact.round_dyadic`.

Examples
--------
>>> x = Limbs.from_array([0.75, -2.0, 2.0**30 + 1])
>>> x.scale, x.digits.shape
(2, (2, 3))
>>> [int(n) for n in x.to_int()]
[3, -8, 4294967300]
>>> x.to_float().tolist()
[0.75, -2.0, 1073741825.0]
"""

import numpy as np

__all__ = ["BASE", "DIGIT_BITS", "LIMIT", "Limbs", "MAX_TAPS", "carry"]

#: Bits per digit: a balanced digit has at most 23 bits and a sign.
DIGIT_BITS = 24
BASE = float(1 << DIGIT_BITS)
_HALF = float(1 << (DIGIT_BITS - 1))

#: Largest magnitude a pass may add to a digit between carries. With the balanced digit it
#: lands on (2**23) and a carry (at most 2**29), a digit stays below 2**53, where float64
#: holds every integer; an operation whose inputs could pass LIMIT balances them first.
LIMIT = 2.0**52

#: Longest kernel whose digit convolutions are exact from balanced digits: 64 * 2**23 * 2**23 = LIMIT.
MAX_TAPS = 64

#: Precision (bits, hidden bit included), smallest and largest normal exponents.
_FORMATS = {np.dtype(np.float64): (53, -1022, 1023), np.dtype(np.float32): (24, -126, 127)}


def carry(digits):
    """Balanced digits of the integers ``sum_i digits[i] * B**i`` (float64, ``|digit| <= 2**52``).

    Carries run from the lowest digit up: ``c = round(d / B)``, ``d -= c * B``,
    and ``c`` joins the next digit; every step is exact. Returns a new array
    ``(m, ...)`` without all-zero top rows (one row at least).

    Examples
    --------
    >>> carry(np.array([[2.0**24 + 5], [0.0]]))[:, 0].tolist()   # 2**24 + 5 = 5 + 1 * B
    [5.0, 1.0]
    >>> carry(np.array([[2.0**24 - 1]]))[:, 0].tolist()          # B - 1 = -1 + 1 * B
    [-1.0, 1.0]
    """
    digits = np.asarray(digits, dtype=np.float64)
    m = len(digits)
    # |n| <= 2**52 * B**(m-1) * 2: two more rows hold the last carries (2**29 < B**2 / 2).
    out = np.zeros((m + 2,) + digits.shape[1:])
    out[:m] = digits
    c, cB = np.empty(digits.shape[1:]), np.empty(digits.shape[1:])
    for i in range(m + 1):
        np.rint(np.multiply(out[i], 1.0 / BASE, out=c), out=c)    # exact: B is a power of two
        np.subtract(out[i], np.multiply(c, BASE, out=cB), out=out[i])
        np.add(out[i + 1], c, out=out[i + 1])
    top = len(out)
    while top > 1 and not out[top - 1].any():
        top -= 1
    return out[:top]


def _split(m):
    """Non-negative integers ``m < 2**53`` (float64) as three base-B chunks, lowest first."""
    high = np.floor(m / BASE**2)
    middle = np.floor((m - high * BASE**2) / BASE)
    return [m - high * BASE**2 - middle * BASE, middle, high]


class Limbs:
    """A tensor of integers ``n`` times ``2**-scale``, as base-2**24 digits.

    ``digits`` has shape ``(m, *shape)``: ``digits[i]`` is the ``B**i`` digit
    of every element, and ``bound`` a bound on their magnitudes (``2**23``:
    balanced). Instances are built by :meth:`from_array` and by the
    operations; the constructor trusts its arguments.
    """

    __slots__ = ("digits", "scale", "bound")

    def __init__(self, digits, scale, bound=_HALF):
        self.digits, self.scale, self.bound = digits, int(scale), float(bound)

    @property
    def shape(self):
        """Shape of the tensor (without the digit axis)."""
        return self.digits.shape[1:]

    def __repr__(self):
        return f"Limbs(<{len(self.digits)} digits of shape {self.shape}>, scale={self.scale})"

    # -- building -------------------------------------------------------------------

    @classmethod
    def from_array(cls, x, name="x"):
        """The exact values of a real array (float64, float32, or integers below ``2**53``).

        Each value is read as ``M * 2**E`` with ``M`` an integer below ``2**53``
        (:func:`numpy.frexp`); the tensor's scale is the largest ``-E``, so
        that every numerator ``M * 2**(E + scale)`` is an integer.

        Examples
        --------
        >>> Limbs.from_array(np.float32([1.5, 0.125])).to_int().tolist(), Limbs.from_array([1.5, 0.125]).scale
        ([12, 1], 3)
        >>> Limbs.from_array([1.0, np.inf], name="latents[0]")
        Traceback (most recent call last):
        ...
        ValueError: latents[0] must hold finite values for the exact oracle; got 1 NaN/inf
        """
        x = np.asarray(x)
        if x.dtype.kind in "iub":
            if x.size and np.max(np.abs(x.astype(np.float64))) >= 2.0**53:
                raise ValueError(f"{name} must hold integers below 2**53 for the digit arrays; got "
                                 f"{np.max(np.abs(x.astype(np.float64))):.3g}")
        elif x.dtype.kind != "f" or x.dtype.itemsize > 8:
            raise TypeError(f"{name} must be a float64, float32 or integer array for the digit arrays; "
                            f"got {x.dtype}")
        x = x.astype(np.float64)  # exact: float32, and integers below 2**53
        bad = int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            raise ValueError(f"{name} must hold finite values for the exact oracle; got {bad} NaN/inf")
        largest = np.max(np.abs(x), initial=0.0)
        if largest <= _HALF and np.array_equal(x, np.trunc(x)):
            return cls(x[None], 0)  # small integers (decoded latents) are their own balanced digit
        if largest < 2.0**53 and np.array_equal(x, np.trunc(x)):
            # Integers: scale 0, three digits at most.
            sign = np.where(x < 0, -1.0, 1.0)
            return cls(carry(np.stack([sign * chunk for chunk in _split(np.abs(x))])), 0)
        fraction, exponent = np.frexp(x)              # x = fraction * 2**exponent, 1/2 <= |fraction| < 1
        M = np.abs(fraction) * 2.0**53                # an integer below 2**53
        E = exponent.astype(np.int64) - 53            # |x| = M * 2**E
        nonzero = M != 0
        # Drop M's trailing zero bits: fewer digits, same values.
        low = np.where(nonzero, M, 1.0).astype(np.int64)
        zeros = np.frexp((low & -low).astype(np.float64))[1] - 1
        M, E = np.where(nonzero, low / 2.0**zeros, 0.0), np.where(nonzero, E + zeros, 0)
        scale = int(-E[nonzero].min()) if nonzero.any() else 0
        offset = np.where(nonzero, E + scale, 0)      # bits above the last place, >= 0
        row, shift = offset // DIGIT_BITS, offset % DIGIT_BITS
        digits = np.zeros((int(row.max(initial=0)) + 3,) + x.shape)
        sign = np.where(x < 0, -1.0, 1.0)
        index = np.indices(x.shape)
        for i, chunk in enumerate(_split(M)):         # chunk * 2**shift < 2**47: exact
            digits[(row + i, *index)] += sign * chunk * np.exp2(shift)
        return cls(carry(digits), scale)._trimmed(low=True)

    def _trimmed(self, low=False):
        """The same values without all-zero top digits (and, with ``low``, low digits moved into the scale)."""
        used = np.flatnonzero(np.any(self.digits.reshape(len(self.digits), -1) != 0, axis=1))
        if used.size == 0:
            return Limbs(np.zeros((1,) + self.shape), self.scale if not low else 0)
        first = int(used[0]) if low else 0
        return Limbs(self.digits[first:int(used[-1]) + 1], self.scale - DIGIT_BITS * first, self.bound)

    # -- exact operations --------------------------------------------------------------

    def balanced(self):
        """The same values with balanced digits (carried if they may not be).

        Examples
        --------
        >>> x = Limbs(np.array([[2.0**40]]), 0, bound=2.0**40)
        >>> x.balanced().digits[:, 0].tolist(), x.balanced().to_int().tolist()
        ([0.0, 65536.0], [1099511627776])
        """
        if self.bound <= _HALF:
            return self
        return Limbs(carry(self.digits), self.scale)

    def with_scale(self, scale):
        """The same values at a scale at least ``self.scale``: numerators times ``2**(scale - self.scale)``.

        Examples
        --------
        >>> Limbs.from_array([0.5]).with_scale(30).to_int().tolist()
        [536870912]
        """
        shift = int(scale) - self.scale
        if shift < 0:
            raise ValueError(f"scale must be >= {self.scale} to stay exact; got {scale}")
        if shift == 0:
            return self
        rows, bits = divmod(shift, DIGIT_BITS)
        x = self if self.bound * 2.0**bits <= LIMIT else self.balanced()
        digits = np.concatenate([np.zeros((rows,) + self.shape), x.digits * 2.0**bits])   # exact
        return Limbs(digits, scale, x.bound * 2.0**bits)

    @staticmethod
    def add(a, b):
        """``a + b``, exactly, at the larger scale (shapes broadcast as NumPy's).

        Examples
        --------
        >>> Limbs.add(Limbs.from_array([1.5]), Limbs.from_array([2.0**40])).to_float().tolist()
        [1099511627777.5]
        """
        scale = max(a.scale, b.scale)
        a, b = a.with_scale(scale), b.with_scale(scale)
        if a.bound + b.bound > LIMIT:
            a, b = a.balanced(), b.balanced()
        m = max(len(a.digits), len(b.digits))
        return Limbs(_rows(a.digits, m) + _rows(b.digits, m), scale, a.bound + b.bound)

    @staticmethod
    def concatenate(parts, axis):
        """Concatenate along ``axis`` of the tensors, at the largest scale (exact)."""
        scale = max(part.scale for part in parts)
        parts = [part.with_scale(scale) for part in parts]
        m = max(len(part.digits) for part in parts)
        return Limbs(np.concatenate([_rows(part.digits, m) for part in parts], axis=axis + 1), scale,
                     max(part.bound for part in parts))

    def convolve(self, kernel, one_pass):
        """``one_pass(x, w)`` applied exactly: a bilinear map of signal and 1-D kernel.

        ``one_pass(x, w)`` must be linear in ``x`` and in ``w``, each output a
        sum of products of one sample of ``x`` and one tap of ``w`` (a filter
        pass of :mod:`refups.ops`, say), computed in float64. It is called once
        per digit of ``kernel`` (a 1-D :class:`Limbs`) on all of ``self``'s
        digits at once; the result has scale ``self.scale + kernel.scale`` and
        is carried only when its digits could otherwise pass :data:`LIMIT`.

        Examples
        --------
        The full convolution of ``(2**30 + 1, 3)`` with ``(1/2, 2**25)`` is
        ``(2**29 + 1/2, 2**55 + 2**25 + 3/2, 3 * 2**25)``, whose middle value
        float64 cannot hold:

        >>> x, w = Limbs.from_array([2.0**30 + 1, 3.0]), Limbs.from_array([0.5, 2.0**25])
        >>> y = x.convolve(w, lambda x, w: np.stack([np.convolve(row, w) for row in x]))
        >>> y.to_int().tolist(), y.scale
        ([1073741825, 72057594105036803, 201326592], 1)
        """
        kernel = kernel.balanced()
        norms = np.abs(kernel.digits).sum(axis=1)                  # l1 norm of each kernel digit
        if np.max(norms) * _HALF > LIMIT:
            raise ValueError(f"kernel must have at most {MAX_TAPS} taps for exact digit convolutions; "
                             f"got {kernel.digits.shape[-1]}")
        x = self if self.bound * np.max(norms) <= LIMIT else self.balanced()
        m, n = len(x.digits), len(kernel.digits)
        total, bound = None, 0.0
        for j in range(n):
            part = one_pass(x.digits, kernel.digits[j])            # digit i times v[j]: row i + j
            if total is None:
                total = np.zeros((m + n - 1,) + part.shape[1:])
            elif bound + x.bound * norms[j] > LIMIT:
                total, bound = _rows(carry(total), m + n - 1), _HALF
            total[j:j + m] += part                                  # below LIMIT: exact
            bound += x.bound * norms[j]
        return Limbs(total, self.scale + kernel.scale, bound)

    # -- reading ---------------------------------------------------------------------

    def to_int(self):
        """The numerators as an object array of Python integers (slow; for tests and small tensors)."""
        out = np.zeros(self.shape, dtype=object)
        for i in range(len(self.digits) - 1, -1, -1):
            out = out * (1 << DIGIT_BITS) + self.digits[i].astype(np.int64).astype(object)
        return out

    def to_float(self, dtype=np.float64):
        """Every value rounded once, correctly, to ``dtype`` (to nearest, ties to even).

        The bits of :func:`refups.exact.round_dyadic`, from balanced digits: with
        ``t`` the highest non-zero digit of ``n``, the four digits ``t .. t-3``
        make ``X = hi * B**2 + lo`` (two int64), ``|hi| >= 2**23``. ``W``, the
        61 or 62 leading bits of ``|X|``, has its last bit set when any bit
        under it is (*rounding to odd*). Converting ``W`` to float64 then
        rounds as the exact value would: a value rounded to odd with at least
        two more bits than the target rounds to nearest as the value itself
        (Boldo and Melquiond, IEEE Trans. Computers 57(4), 2008). For float32,
        ``W`` is first rounded to odd at 53 bits, which float64 holds exactly.
        The digits under ``t - 3`` matter only when the bits of ``X`` under
        ``W`` are all zero: a borrow from them could then reach ``W``. Such
        values, and results under the smallest normal number, take the
        bit-by-bit path (:meth:`_to_float_bits`).

        Examples
        --------
        >>> Limbs.from_array([1.0 + 2.0**-24, 1.0 + 3 * 2.0**-24, -1e-300]).to_float(np.float32)
        array([ 1.       ,  1.0000002, -0.       ], dtype=float32)
        """
        dtype = np.dtype(dtype)
        if dtype not in _FORMATS:
            raise ValueError(f"dtype must be float32 or float64; got {dtype}")
        self = self.balanced()
        _, e_min, _ = _FORMATS[dtype]
        m = len(self.digits)
        D = self.digits.reshape(m, -1)
        N = D.shape[1]
        columns = np.arange(N)
        top = m - 1 - np.argmax(D[::-1] != 0, axis=0)                # highest non-zero digit
        # The four digits from the top as X = hi * B**2 + lo (zeros under digit 0).
        flat = np.concatenate([np.zeros((3, N)), D]).ravel()
        d = [np.take(flat, (top + 3 - k) * N + columns) for k in range(4)]
        hi, lo = d[0] * BASE + d[1], d[2] * BASE + d[3]              # exact: below 2**48
        negative = hi < 0
        hi, lo = np.where(negative, -hi, hi).astype(np.int64), np.where(negative, -lo, lo).astype(np.int64)
        zero = hi == 0
        # W = floor(X / 2**s): the 61 or 62 bits from X's leading one down; lo >> s is a floor.
        # int64: frexp's exponents are int32, where 1 << 32 would be 0.
        s = np.frexp(hi.astype(np.float64))[1].astype(np.int64) - 14  # bits of hi, less 14: 10 .. 34
        W = (hi << (2 * DIGIT_BITS - s)) + (lo >> s)
        under = (lo & ((1 << s) - 1)) != 0                           # bits of X under W
        last = DIGIT_BITS * (top - 3) + s - self.scale               # the weight of W's last bit
        e = last + np.frexp(W.astype(np.float64))[1] - 1              # 2**e <= |value| < 2**(e + 1)
        # The digits under the four: needed only where X has nothing under W.
        maybe = ~under & ~zero & (top >= 4)
        lower = np.zeros(N, dtype=bool)
        if maybe.any():
            lower[maybe] = np.argmax(D[:, maybe] != 0, axis=0) < top[maybe] - 3
        slow = ~zero & (lower | (e < e_min))
        odd = W | under.astype(np.int64)                              # rounded to odd
        with np.errstate(over="ignore"):                             # overflow gives inf, as IEEE says
            if dtype == np.float64:
                magnitude = np.ldexp(odd.astype(np.float64), np.clip(last, -4000, 4000).astype(np.intc))
            else:
                odd53 = (odd >> 9) | ((odd & 511) != 0).astype(np.int64)
                magnitude = np.ldexp(odd53.astype(np.float64), np.clip(last + 9, -4000, 4000).astype(np.intc))
                magnitude = magnitude.astype(dtype)
        result = np.where(zero, 0.0, np.where(negative, -magnitude, magnitude)).astype(dtype)
        if slow.any():
            result[slow] = Limbs(D[:, slow], self.scale)._to_float_bits(dtype)
        return result.reshape(self.shape)

    def _to_float_bits(self, dtype):
        """:meth:`to_float` bit by bit, for any value: the way of :func:`refups.exact.round_dyadic`.

        With ``p`` bits of precision, the last place of the result is
        ``q = max(e, e_min) - p + 1`` where ``2**e <= |value| < 2**(e + 1)``;
        ``R = |n| / 2**(q + scale)`` is rounded to an integer from the bits of
        ``n`` at and below that position (the round bit and a sticky bit), and
        the result is ``R * 2**q``: infinite from ``2**(e_max + 1)`` on, ``-0.0``
        for a negative value too small for any subnormal, ``+0.0`` for zero.
        """
        p, e_min, e_max = _FORMATS[dtype]
        D = self.digits
        m = len(D)
        top = _top(D)                                              # highest non-zero digit, -1 for 0
        negative = np.take_along_axis(D, np.maximum(top, 0)[None], 0)[0] < 0
        # |n| in standard digits 0 <= a[i] < B (integers below 2**24: int64 bit operations apply).
        A = np.where(negative, -D, D)
        for i in range(m - 1):
            c = np.floor(A[i] / BASE)
            A[i] -= c * BASE
            A[i + 1] += c
        A = A.astype(np.int64)
        top = _top(A)
        t = np.maximum(top, 0)
        L = np.frexp(np.take_along_axis(A, t[None], 0)[0].astype(np.float64))[1]   # bits of the top digit
        P = DIGIT_BITS * t + L - 1                                  # bit index of |n|'s leading 1
        e = P - self.scale
        q = np.maximum(e, e_min) - (p - 1) + self.scale             # bit index of the result's last place
        # R0 = floor(|n| / 2**q): the digits from q's digit c up (at most four).
        c = np.floor_divide(q, DIGIT_BITS)
        R0 = np.zeros(self.shape, dtype=np.int64)
        for k in range(4):
            digit = _digit(A, c + k)
            s = DIGIT_BITS * (c + k) - q                            # > -24; < 0 only for k = 0
            R0 += np.where(s >= 0, np.left_shift(digit, np.clip(s, 0, 63)),
                           np.right_shift(digit, np.clip(-s, 0, 63)))
        # The round bit (index q - 1) and the sticky bit (any bit below it).
        g = q - 1
        gd, gb = np.floor_divide(g, DIGIT_BITS), np.mod(g, DIGIT_BITS)
        digit = _digit(A, gd)
        round_bit = (g >= 0) & (np.right_shift(digit, gb) & 1 == 1)
        below = np.logical_or.accumulate(A != 0, axis=0)            # below[i]: a non-zero digit at or under i
        lower = (gd >= 1) & np.take_along_axis(below, np.clip(gd - 1, 0, m - 1)[None], 0)[0]
        sticky = (g >= 0) & (((digit & (np.left_shift(1, gb) - 1)) != 0) | lower)
        R = R0 + (round_bit & (sticky | (R0 & 1 == 1)))              # to nearest, ties to even
        with np.errstate(over="ignore"):                             # overflow is inf, as IEEE says
            magnitude = np.ldexp(R.astype(np.float64), np.clip(q - self.scale, -4000, 4000))
        if dtype == np.float32:
            magnitude = np.where(magnitude >= 2.0**(e_max + 1), np.inf, magnitude)
        result = np.where(negative, -magnitude, magnitude)           # -0.0 for a tiny negative value
        return result.astype(dtype)



def _rows(digits, m):
    """``digits`` with zero rows added on top, to ``m`` rows."""
    if len(digits) >= m:
        return digits
    return np.concatenate([digits, np.zeros((m - len(digits),) + digits.shape[1:])])


def _top(D):
    """Index of each element's highest non-zero digit; -1 where all are zero."""
    nonzero = D != 0
    last = len(D) - 1 - np.argmax(nonzero[::-1], axis=0)
    return np.where(nonzero.any(axis=0), last, -1)


def _digit(A, index):
    """``A[index]`` element by element; 0 where ``index`` is outside the digits."""
    inside = (index >= 0) & (index < len(A))
    return np.where(inside, np.take_along_axis(A, np.clip(index, 0, len(A) - 1)[None], 0)[0], 0)
