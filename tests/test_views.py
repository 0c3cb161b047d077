"""The three views of one upsampling pass compute S4, and agree with the rest of refups."""

import numpy as np
import pytest
from helpers import kernel_from
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refups import ops
from refups.naive import upsample_naive
from refups.views import (
    crop_size,
    pad_edges,
    polyphase_phases,
    scatter_contributions,
    upsample_polyphase,
    upsample_scatter,
    upsample_zero_stuffed,
    zero_stuffed,
)
from refups.testing import half_kernels, ups_kernel_sizes

VIEWS = (upsample_scatter, upsample_zero_stuffed, upsample_polyphase)


def kernels(*, dyadic):
    """Full upsampling kernels of every even size 4..16 (S1, S2)."""
    return ups_kernel_sizes(max_size=16).flatmap(
        lambda k: half_kernels(k, dyadic=dyadic).map(lambda h: kernel_from(h, k)))


# S12: decoded latents are integers in [-64, 63]; weights are dyadic.
integer_signals = hnp.arrays(np.float64, st.integers(1, 12), elements=st.integers(-64, 63).map(float))
float_signals = hnp.arrays(np.float64, st.integers(1, 12),
                           elements=st.floats(-100, 100, allow_subnormal=False))


def phase_gains(kernel):
    """Sum of each phase's taps: the factor a 1-D pass applies to a constant, per output parity."""
    return np.array([sum(kernel[t] for t in phase.taps) for phase in polyphase_phases(len(kernel))])


@given(integer_signals, kernels(dyadic=True))
def test_s4_three_views_agree_bit_for_bit_on_exact_inputs(x, kernel):
    # Integers times multiples of 1/8, at most 8 terms per sum: every product
    # and partial sum is exact in float64, so the order of the sums cannot matter.
    scatter, stuffed, polyphase = (view(x, kernel) for view in VIEWS)
    assert scatter.shape == (2 * len(x),)
    np.testing.assert_array_equal(stuffed, scatter)
    np.testing.assert_array_equal(polyphase, scatter)
    np.testing.assert_array_equal(ops.upsample_1d(x, kernel), scatter)
    np.testing.assert_array_equal(ops.upsample_1d_polyphase(x, kernel), scatter)
    # The loop transcription is 2-D: a single row upsamples into two rows,
    # each the 1-D result times the vertical pass's gain for that row's phase.
    np.testing.assert_array_equal(upsample_naive(x[None, :], kernel), np.outer(phase_gains(kernel), scatter))


@given(float_signals, kernels(dyadic=False))
# SciPy reads 3 weights whose mirrored taps differ by <= DBL_EPSILON as symmetric.
@example(np.array([1.0]), kernel_from([0.0, 2.0 ** -600, 0.0], 6))
def test_s4_three_views_agree_within_rounding(x, kernel):
    # Each output is a sum of at most k/2 products; every view rounds each
    # product and partial sum once, so two views differ by at most
    # 2 * gamma_k * sum|xp| |w|, and that sum is the filter run on |x|, |w|.
    k = len(kernel)
    u = np.finfo(np.float64).eps / 2
    bound = 2 * (k * u / (1 - k * u)) * upsample_scatter(np.abs(x), np.abs(kernel)) + 1e-300
    scatter, stuffed, polyphase = (view(x, kernel) for view in VIEWS)
    for other in (stuffed, polyphase, ops.upsample_1d(x, kernel), ops.upsample_1d_polyphase(x, kernel)):
        assert np.all(np.abs(other - scatter) <= bound)
    # The 2-D loop sums (k/2)^2 products of three factors; the same bound
    # with n = (k/2)^2 + 3 operations, on the magnitudes of both passes.
    n = (k // 2) ** 2 + 3
    magnitudes = np.outer(phase_gains(np.abs(kernel)), upsample_scatter(np.abs(x), np.abs(kernel)))
    naive = upsample_naive(x[None, :], kernel)
    deviation = np.abs(naive - np.outer(phase_gains(kernel), scatter))
    assert np.all(deviation <= 2 * (n * u / (1 - n * u)) * magnitudes + 1e-300)


@given(st.data())
def test_s4_polyphase_pass_is_the_literal_pass_along_any_axis(data):
    # Integer digits (at most 2**12) and integer taps (at most 2**12), as in the exact
    # oracle's digit passes: every sum is exact, so the two passes must agree bit for bit,
    # edges included, for every kernel size the digit arrays take (up to 64 taps).
    k = data.draw(ups_kernel_sizes(max_size=64), label="k")
    half = data.draw(hnp.arrays(np.float64, k // 2, elements=st.integers(-2**12, 2**12).map(float)), label="half")
    x = data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=7),
                             elements=st.integers(-2**12, 2**12).map(float)), label="x")
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    kernel = kernel_from(half, k)
    polyphase = ops.upsample_1d_polyphase(x, kernel, axis=axis)
    np.testing.assert_array_equal(polyphase, ops.upsample_1d(x, kernel, axis=axis))
    assert polyphase.dtype == x.dtype
    # The same through the 2-D separable filter, crop included.
    if x.ndim >= 2:
        h, w = max(1, 2 * x.shape[-2] - 1), 2 * x.shape[-1]
        out = np.empty(x.shape[:-2] + (h, w))
        ops.upsample_separable(x, kernel, out=out, one_pass=ops.upsample_1d_polyphase)
        np.testing.assert_array_equal(out, ops.upsample_separable(x, kernel)[..., :h, :])


def test_s4_polyphase_pass_keeps_float32():
    x = np.array([[1.0, 2.0, 4.0]], dtype=np.float32)
    y = ops.upsample_1d_polyphase(x, [0.25, 0.75, 0.75, 0.25])
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, ops.upsample_1d(x, [0.25, 0.75, 0.75, 0.25]))


@given(st.integers(1, 10), ups_kernel_sizes(max_size=20))
def test_s4_lengths_and_crop(n, k):
    # The long output has 2n + 3k - 2 samples; removing C = 3k/2 - 1 at each end leaves 2n.
    x = np.arange(1.0, n + 1)
    w = np.ones(k)
    C = crop_size(k)
    assert C == 3 * k // 2 - 1
    assert len(pad_edges(x, k)) == n + k
    s = zero_stuffed(pad_edges(x, k))
    assert len(s) == 2 * (n + k) - 1 and np.all(s[1::2] == 0)
    rows = scatter_contributions(x, w)
    assert rows.shape == (n + k, 2 * n + 3 * k - 2) == (n + k, len(np.convolve(s, w)))
    assert rows.shape[1] - 2 * C == 2 * n
    np.testing.assert_array_equal(rows.sum(axis=0), np.convolve(s, w))


@given(integer_signals, kernels(dyadic=True))
def test_s4_scatter_rows_are_scaled_kernels(x, kernel):
    k = len(kernel)
    rows = scatter_contributions(x, kernel)
    for i, sample in enumerate(pad_edges(x, k)):
        np.testing.assert_array_equal(rows[i, 2 * i : 2 * i + k], sample * kernel)
        assert not rows[i, : 2 * i].any() and not rows[i, 2 * i + k :].any()
    C = crop_size(k)
    np.testing.assert_array_equal(rows.sum(axis=0)[C : C + 2 * len(x)], upsample_scatter(x, kernel))


@pytest.mark.parametrize("k", range(4, 34, 2))
def test_s4_polyphase_taps_and_offsets(k):
    even, odd = polyphase_phases(k)
    assert (even.parity, odd.parity) == (0, 1)
    # Every tap serves exactly one phase, k/2 taps each.
    assert sorted(even.taps + odd.taps) == list(range(k))
    assert len(even.taps) == len(odd.taps) == k // 2
    if k % 4 == 0:  # C odd: even outputs use the odd taps; windows one sample apart
        assert (even.first_tap, odd.first_tap) == (1, 0)
        assert (even.offset, odd.offset) == (3 * k // 4 - 1, 3 * k // 4)
    else:  # k = 2 mod 4, C even: even outputs use the even taps; the same window
        assert (even.first_tap, odd.first_tap) == (0, 1)
        assert even.offset == odd.offset == (3 * k - 2) // 4
    # The phase decomposition is the S4 sum: w[j + C - 2i] with j = 2m + r.
    C = crop_size(k)
    for phase in (even, odd):
        for u, tap in enumerate(phase.taps):
            m = 5
            i = m + phase.offset - u
            assert tap == 2 * m + phase.parity + C - 2 * i


def test_s4_polyphase_reads_the_worked_example():
    # k = 4, x = (1, 2, 4): y[2m] = w1 x[m] + w3 x[m-1], y[2m+1] = w0 x[m+1] + w2 x[m].
    x = np.array([1.0, 2.0, 4.0])
    w = np.array([0.25, 0.75, 0.75, 0.25])
    xc = lambda i: x[min(max(i, 0), 2)]  # noqa: E731 (edge samples repeated)
    expected = []
    for m in range(3):
        expected += [w[1] * xc(m) + w[3] * xc(m - 1), w[0] * xc(m + 1) + w[2] * xc(m)]
    np.testing.assert_array_equal(upsample_polyphase(x, w), expected)
    np.testing.assert_array_equal(upsample_polyphase(x, w), [1, 1.25, 1.75, 2.5, 3.5, 4])


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("x, kernel, pattern", [
    ([], [0.25, 0.75, 0.75, 0.25], r"x must be a non-empty 1-D signal; got shape \(0,\)"),
    ([[1.0, 2.0]], [0.25, 0.75, 0.75, 0.25], r"x must be a non-empty 1-D signal; got shape \(1, 2\)"),
    ([1.0], [0.5, 0.5], r"len\(kernel\) must be even and >= 4; got 2"),
    ([1.0], [[0.5, 0.5]], r"kernel must be 1-D; got shape \(1, 2\)"),
])
def test_views_reject_bad_arguments(view, x, kernel, pattern):
    with pytest.raises(ValueError, match=pattern):
        view(x, kernel)
