"""Three views of one upsampling pass along one axis (spec S4), computed three ways.

S4 defines the filter on ``n`` samples ``x`` with an even kernel ``w`` of size
``k``, ``P = k/2`` and ``C = 3k/2 - 1``: pad ``x`` by repeating its edge
samples ``P`` times (``xp``, ``n + k`` samples), then

    y[j] = sum_i xp[i] w[j + C - 2i],        j = 0 .. 2n - 1,

taps outside ``0 .. k-1`` counting as zero. The same sum can be computed in
three ways, and each one explains the crop ``C`` differently:

* :func:`upsample_scatter` -- **scatter** (what a transposed convolution
  does): every padded sample ``xp[i]`` adds the copy ``xp[i] * w`` of the
  kernel into a long output, starting at position ``2i``. The long output
  has ``2(n + k - 1) + k = 2n + 3k - 2`` samples; the first ``C`` and the
  last ``C`` are dropped.
* :func:`upsample_zero_stuffed` -- **zero-stuffing then convolution** (S4 as
  written): put a zero between consecutive padded samples (``s[2i] = xp[i]``,
  ``s[2i+1] = 0``, ``2(n + k) - 1`` samples), take the full convolution
  ``s * w`` (the same ``2n + 3k - 2`` samples as the scatter), crop ``C``
  from each end.
* :func:`upsample_polyphase` -- **polyphase**: no zero is multiplied and no
  sample is thrown away. Even outputs ``y[2m]`` and odd outputs
  ``y[2m + 1]`` are two ordinary convolutions of ``xp`` with the two
  sub-kernels ``w[0::2]`` and ``w[1::2]`` (``k/2`` taps each); which
  sub-kernel serves which output, and which window of ``xp`` it reads,
  depend on the parity of ``C``, that is on ``k mod 4``
  (:func:`polyphase_phases`).

All three return the same ``2n`` samples; on integer inputs with dyadic
kernels (every product and partial sum exactly representable) they agree
bit for bit, otherwise within rounding (``tests/test_views.py``).

>>> x, w = [1, 2, 4], [0.25, 0.75, 0.75, 0.25]
>>> upsample_scatter(x, w)
array([1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ])
>>> bool((upsample_scatter(x, w) == upsample_zero_stuffed(x, w)).all()
...      and (upsample_zero_stuffed(x, w) == upsample_polyphase(x, w)).all())
True
"""

from typing import NamedTuple

import numpy as np

from .kernels import check_ups_kernel_size

__all__ = [
    "Phase",
    "crop_size",
    "pad_edges",
    "polyphase_phases",
    "scatter_contributions",
    "upsample_polyphase",
    "upsample_scatter",
    "upsample_zero_stuffed",
    "zero_stuffed",
]


def _signal_and_kernel(x, kernel):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(kernel, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D signal; got shape {x.shape}")
    if w.ndim != 1:
        raise ValueError(f"kernel must be 1-D; got shape {w.shape}")
    check_ups_kernel_size(len(w), "len(kernel)")
    return x, w


def crop_size(k):
    """``C = 3k/2 - 1``: the samples dropped at each end of the long output (S4).

    Examples
    --------
    >>> [crop_size(k) for k in (4, 6, 8, 12)]
    [5, 8, 11, 17]
    """
    k = check_ups_kernel_size(k, "k")
    return 3 * k // 2 - 1


def pad_edges(x, k):
    """``xp``: ``x`` with its first and last samples repeated ``P = k/2`` times, ``n + k`` samples.

    ``xp[i] = x[min(max(i - P, 0), n - 1)]``.

    Examples
    --------
    >>> pad_edges([1.0, 2.0, 4.0], 4)
    array([1., 1., 1., 2., 4., 4., 4.])
    """
    k = check_ups_kernel_size(k, "k")
    return np.pad(np.asarray(x, dtype=np.float64), k // 2, mode="edge")


def zero_stuffed(xp):
    """``s``: a zero between consecutive samples, ``s[2i] = xp[i]``, ``s[2i+1] = 0``.

    ``2 len(xp) - 1`` samples: nothing follows the last sample. (A trailing
    zero would only lengthen the full convolution by one sample, which the
    crop of S4 never keeps.)

    Examples
    --------
    >>> zero_stuffed([1.0, 2.0, 4.0])
    array([1., 0., 2., 0., 4.])
    """
    xp = np.asarray(xp, dtype=np.float64)
    s = np.zeros(2 * len(xp) - 1)
    s[0::2] = xp
    return s


def scatter_contributions(x, kernel):
    """The scatter view's rows: row ``i`` holds ``xp[i] * w`` at positions ``2i .. 2i + k - 1``.

    Parameters
    ----------
    x : array_like, shape (n,)
    kernel : array_like, shape (k,), ``k`` even and ``>= 4``

    Returns
    -------
    ndarray, shape (n + k, 2n + 3k - 2), float64
        Zeros elsewhere. The column sums are the long output (the full
        convolution ``s * w``), and ``y`` is columns ``C .. C + 2n - 1``.

    Examples
    --------
    >>> rows = scatter_contributions([4.0], [0.25, 0.75, 0.75, 0.25])
    >>> rows.shape
    (5, 12)
    >>> rows[1]
    array([0., 0., 1., 3., 3., 1., 0., 0., 0., 0., 0., 0.])
    """
    x, w = _signal_and_kernel(x, kernel)
    n, k = len(x), len(w)
    xp = pad_edges(x, k)
    rows = np.zeros((n + k, 2 * n + 3 * k - 2))
    for i, sample in enumerate(xp):
        rows[i, 2 * i : 2 * i + k] = sample * w
    return rows


def upsample_scatter(x, kernel):
    """Scatter view: each padded sample adds a scaled copy of the kernel, then the crop.

    With ``P = k/2``, ``C = 3k/2 - 1`` and ``xp`` the edge-padded ``x``::

        full[2i + t] += xp[i] * w[t]      for i = 0 .. n+k-1, t = 0 .. k-1
        y = full[C : C + 2n]

    ``full`` has ``2(n + k - 1) + k = 2n + 3k - 2`` samples, so the crop
    drops ``C`` at each end. Why ``C``: the copy of ``w`` added by ``xp[i]``
    is centred at ``2i + (k - 1)/2``. The first real sample ``x[0] = xp[P]``
    is centred at ``2P + (k - 1)/2 = C + 1/2``, and the output lies on the
    half-sample grid around it: ``y[0]`` sits a quarter of an input step
    (half a position of ``full``) before ``x[0]``, at position ``C``.

    Parameters
    ----------
    x : array_like, shape (n,)
    kernel : array_like, shape (k,), ``k`` even and ``>= 4``

    Returns
    -------
    ndarray, shape (2n,), float64

    Examples
    --------
    >>> upsample_scatter([4.0, 8.0, 16.0], [0.25, 0.75, 0.75, 0.25])
    array([ 4.,  5.,  7., 10., 14., 16.])
    """
    x, w = _signal_and_kernel(x, kernel)
    n, k = len(x), len(w)
    xp = pad_edges(x, k)
    full = np.zeros(2 * n + 3 * k - 2)
    for i, sample in enumerate(xp):  # one input sample at a time
        full[2 * i : 2 * i + k] += sample * w
    C = crop_size(k)
    return full[C : C + 2 * n]


def upsample_zero_stuffed(x, kernel):
    """Zero-stuffing view: S4 as written, zeros between samples, full convolution, crop.

    ::

        s[2i] = xp[i],  s[2i+1] = 0                   2(n + k) - 1 samples
        full[f] = sum_t s[f - t] w[t]                 2n + 3k - 2 samples
        y = full[C : C + 2n]

    Why ``C``: ``full[f]`` weighs the ``k`` samples ``s[f - k + 1 .. f]``, so
    it is centred at ``s``-position ``f - (k - 1)/2``. ``x[0]`` sits at
    ``s[2P] = s[k]``, and ``y[j]`` is centred half an ``s``-position before
    ``s[k + j]`` (the half-sample grid). Hence ``f - (k - 1)/2 = k + j - 1/2``,
    that is ``f = j + 3k/2 - 1 = j + C``.

    Parameters
    ----------
    x : array_like, shape (n,)
    kernel : array_like, shape (k,), ``k`` even and ``>= 4``

    Returns
    -------
    ndarray, shape (2n,), float64

    Examples
    --------
    >>> upsample_zero_stuffed([4.0, 8.0, 16.0], [0.25, 0.75, 0.75, 0.25])
    array([ 4.,  5.,  7., 10., 14., 16.])
    """
    x, w = _signal_and_kernel(x, kernel)
    n, k = len(x), len(w)
    full = np.convolve(zero_stuffed(pad_edges(x, k)), w)
    C = crop_size(k)
    return full[C : C + 2 * n]


class Phase(NamedTuple):
    """Which taps and which inputs make the outputs ``y[2m + parity]`` (polyphase view).

    ``y[2m + parity] = sum_u w[taps[u]] * xp[m + offset - u]`` for
    ``u = 0 .. k/2 - 1``, that is, in terms of the unpadded signal (edge
    samples repeated), ``x[m + offset - P - u]``.

    Attributes
    ----------
    parity : int
        0 for the even outputs ``y[0], y[2], ...``, 1 for the odd ones.
    first_tap : int
        ``(parity + C) mod 2``: the sub-kernel is ``w[first_tap::2]``.
    taps : tuple of int
        The indices into ``w`` of that sub-kernel, ``first_tap, first_tap + 2, ...``.
    offset : int
        ``(parity + C - first_tap) / 2``: ``y[2m + parity]`` reads
        ``xp[m + offset - k/2 + 1 .. m + offset]``, its newest sample weighted by
        ``w[first_tap]``.
    """

    parity: int
    first_tap: int
    taps: tuple
    offset: int


def polyphase_phases(k):
    """The two phases of the polyphase view for kernel size ``k`` (even, ``>= 4``).

    Substituting ``j = 2m + r`` and tap ``2u + q`` into
    ``y[j] = sum_i xp[i] w[j + C - 2i]``, a term is non-zero only when
    ``2u + q = 2m + r + C - 2i``, so ``q = (r + C) mod 2`` and
    ``i = m + (r + C - q)/2 - u``:

    * ``k = 0 mod 4`` (4, 8, 12, ...): ``C = 3k/2 - 1`` is **odd**, so even
      outputs take the odd taps ``w[1::2]`` and odd outputs the even taps
      ``w[0::2]``; the two phases read windows of ``xp`` that are one sample
      apart (offsets ``3k/4 - 1`` and ``3k/4``).
    * ``k = 2 mod 4`` (6, 10, 14, ...): ``C`` is **even**, so even outputs take
      ``w[0::2]`` and odd outputs ``w[1::2]``, and both phases read the same
      window of ``xp`` (offset ``(3k - 2)/4`` for both).

    Returns
    -------
    tuple of two :class:`Phase`, even outputs first

    Examples
    --------
    >>> for phase in polyphase_phases(4):
    ...     print(phase)
    Phase(parity=0, first_tap=1, taps=(1, 3), offset=2)
    Phase(parity=1, first_tap=0, taps=(0, 2), offset=3)
    >>> for phase in polyphase_phases(6):
    ...     print(phase)
    Phase(parity=0, first_tap=0, taps=(0, 2, 4), offset=4)
    Phase(parity=1, first_tap=1, taps=(1, 3, 5), offset=4)

    With ``k = 4`` and ``P = 2`` that reads ``y[2m] = w[1] x[m] + w[3] x[m-1]``
    and ``y[2m+1] = w[0] x[m+1] + w[2] x[m]``.
    """
    C = crop_size(k)
    phases = []
    for parity in (0, 1):
        first_tap = (parity + C) % 2
        phases.append(Phase(parity, first_tap, tuple(range(first_tap, k, 2)), (parity + C - first_tap) // 2))
    return tuple(phases)


def upsample_polyphase(x, kernel):
    """Polyphase view: even and odd outputs from the two sub-kernels ``w[0::2]``, ``w[1::2]``.

    For each phase ``(parity r, first tap q, offset D)`` of
    :func:`polyphase_phases`::

        g = w[q::2]                                   k/2 taps
        y[2m + r] = sum_u g[u] xp[m + D - u] = (xp * g)[m + D],   m = 0 .. n-1

    an ordinary full convolution of the padded input with ``g``, read from
    index ``D``: ``C`` has become the choice of sub-kernel (its parity) and
    the offset ``D = (r + C - q)/2`` (its half); nothing is cropped and no
    product with a stuffed zero is computed.

    Parameters
    ----------
    x : array_like, shape (n,)
    kernel : array_like, shape (k,), ``k`` even and ``>= 4``

    Returns
    -------
    ndarray, shape (2n,), float64

    Examples
    --------
    >>> upsample_polyphase([4.0, 8.0, 16.0], [0.25, 0.75, 0.75, 0.25])
    array([ 4.,  5.,  7., 10., 14., 16.])
    """
    x, w = _signal_and_kernel(x, kernel)
    n, k = len(x), len(w)
    xp = pad_edges(x, k)
    y = np.empty(2 * n)
    for phase in polyphase_phases(k):
        g = w[phase.first_tap :: 2]
        y[phase.parity :: 2] = np.convolve(xp, g)[phase.offset : phase.offset + n]
    return y
