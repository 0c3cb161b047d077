"""The two filters: fast paths against the loop transcription and other
independent computations (spec S4, S5, S7, S9)."""

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
from helpers import kernel_from, rounding_atol
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from refups import ops
from refups.kernels import initial_preconcat_half_kernel, initial_ups_half_kernel, symmetric_kernel
from refups.layers import UpsamplingSeparableSymmetricConv2d, UpsamplingSeparableSymmetricConvTranspose2d
from refups.naive import preconcat_naive, upsample_naive
from refups.testing import channel_stacks, half_kernels, preconcat_kernel_sizes, ups_kernel_sizes


def kernels(sizes, **kwargs):
    """Full symmetric kernels drawn through their half-kernels."""
    return sizes.flatmap(lambda k: half_kernels(k, **kwargs).map(lambda h: kernel_from(h, k)))


ups_kernels = kernels(ups_kernel_sizes(max_size=16))
preconcat_kernels = kernels(preconcat_kernel_sizes(max_size=15))


# -- S4 known answers ----------------------------------------------------------

def test_s4_worked_example_1d():
    kernel = [0.25, 0.75, 0.75, 0.25]
    assert_array_equal(
        ops.upsample_1d(np.array([1.0, 2.0, 4.0]), kernel), [1, 1.25, 1.75, 2.5, 3.5, 4]
    )


@pytest.mark.parametrize("path", [ops.upsample_separable, ops.upsample_dense, upsample_naive])
def test_s4_worked_example_2d(path):
    x = np.array([[1.0, 2.0, 4.0]])  # (1, 3)
    y = path(x, [0.25, 0.75, 0.75, 0.25])  # (2, 6)
    assert_array_equal(y, [[1, 1.25, 1.75, 2.5, 3.5, 4]] * 2)


def test_s4_hand_computed_corner_2d():
    # k = 4, x = [[0, 0], [0, 4]]: y[3, 3] = sum over the 2x2 taps touching x[1,1]
    # and its replicas, all 4 -> 4 * (3/4 + 1/4)^2 = 4; y[0, 0] = 0.
    # y[1, 1]: rows/cols 1 -> weights (3/4 on x[0], 1/4 on x[1]) -> 4 * 1/16.
    y = ops.upsample_separable(np.array([[0.0, 0.0], [0.0, 4.0]]), [0.25, 0.75, 0.75, 0.25])
    assert y.shape == (4, 4)
    assert y[0, 0] == 0 and y[3, 3] == 4 and y[1, 1] == 0.25


# -- S4, S7: paths agree ------------------------------------------------------

@given(channel_stacks(max_side=12), ups_kernels)
def test_s4_s7_upsample_separable_dense_naive_agree(x, kernel):
    naive = np.stack([upsample_naive(channel, kernel) for channel in x])
    atol = rounding_atol(x, kernel)
    assert naive.shape == (x.shape[0], 2 * x.shape[1], 2 * x.shape[2])
    assert_allclose(ops.upsample_separable(x, kernel), naive, rtol=1e-12, atol=atol)
    assert_allclose(ops.upsample_dense(x, kernel), naive, rtol=1e-12, atol=atol)


@given(channel_stacks(max_side=12), preconcat_kernels)
def test_s5_s7_preconcat_separable_dense_naive_agree(x, kernel):
    naive = np.stack([preconcat_naive(channel, kernel) for channel in x])
    atol = rounding_atol(x, kernel)
    assert_allclose(ops.preconcat_separable(x, kernel), naive, rtol=1e-12, atol=atol)
    assert_allclose(ops.preconcat_dense(x, kernel), naive, rtol=1e-12, atol=atol)


@settings(max_examples=6)
@given(channel_stacks(min_side=20, max_side=40, max_channels=1), kernels(ups_kernel_sizes(max_size=8)),
       kernels(preconcat_kernel_sizes(max_size=7)))
def test_s4_s5_large_sizes_against_the_loop_transcription(x, ups, pre):
    # The loop transcription is slow, so only a few large cases; the fast paths
    # meet it on small sizes in hundreds of cases above.
    assert_allclose(ops.upsample_separable(x, ups), upsample_naive(x[0], ups)[None],
                    rtol=1e-12, atol=rounding_atol(x, ups))
    assert_allclose(ops.preconcat_separable(x, pre), preconcat_naive(x[0], pre)[None],
                    rtol=1e-12, atol=rounding_atol(x, pre))


@given(channel_stacks(max_side=40, max_channels=2), ups_kernels)
def test_s7_upsample_separable_equals_dense_large(x, kernel):
    atol = rounding_atol(x, kernel)
    assert_allclose(ops.upsample_separable(x, kernel), ops.upsample_dense(x, kernel), rtol=1e-12, atol=atol)


@given(channel_stacks(max_side=40, max_channels=2), preconcat_kernels)
def test_s7_preconcat_separable_equals_dense_large(x, kernel):
    atol = rounding_atol(x, kernel)
    assert_allclose(ops.preconcat_separable(x, kernel), ops.preconcat_dense(x, kernel), rtol=1e-12, atol=atol)


def upsample_polyphase(x, kernel):
    """S4 through scipy.signal.upfirdn: its 'edge' mode replaces our padding.

    upfirdn returns the full convolution of the edge-extended, zero-stuffed
    input, starting at the input's first sample; our padded signal starts P
    samples earlier, so full index j + C becomes j + C - 2P = j + k/2 - 1.
    """
    k = len(kernel)
    n_h, n_w = x.shape[-2:]
    y = scipy.signal.upfirdn(kernel, x, up=2, axis=-1, mode="edge")[..., k // 2 - 1 : k // 2 - 1 + 2 * n_w]
    return scipy.signal.upfirdn(kernel, y, up=2, axis=-2, mode="edge")[..., k // 2 - 1 : k // 2 - 1 + 2 * n_h, :]


@given(channel_stacks(max_side=40, max_channels=2), ups_kernels)
def test_s4_upsample_equals_polyphase_upfirdn(x, kernel):
    assert_allclose(
        ops.upsample_separable(x, kernel), upsample_polyphase(x, kernel),
        rtol=1e-12, atol=rounding_atol(x, kernel),
    )


@given(channel_stacks(max_side=40, integer_valued=True))
def test_s3_s4_bilinear_init_equals_zoom(x):
    kernel = symmetric_kernel(initial_ups_half_kernel(4), 4)
    zoomed = scipy.ndimage.zoom(x, (1, 2, 2), order=1, mode="nearest", grid_mode=True)
    assert_array_equal(ops.upsample_separable(x, kernel), zoomed)
    assert_array_equal(ops.upsample_dense(x, kernel), zoomed)


# -- S3, S5 known gains -------------------------------------------------------

@given(st.floats(-1e3, 1e3), st.integers(1, 9), st.integers(1, 9))
def test_s3_bicubic_constant_gain(c, H, W):
    kernel = symmetric_kernel(initial_ups_half_kernel(8), 8)
    x = np.full((H, W), c)
    # One 1-D pass negates a constant (gain -1.0000001) ...
    assert_allclose(ops.upsample_1d(x, kernel), np.full((H, 2 * W), -1.0000001 * c), rtol=1e-15, atol=1e-300)
    # ... and the 2-D filter multiplies it by (-1.0000001)^2.
    expected = np.full((2 * H, 2 * W), 1.00000020000001 * c)
    assert_allclose(ops.upsample_separable(x, kernel), expected, rtol=1e-15, atol=1e-300)
    assert_allclose(ops.upsample_dense(x, kernel), expected, rtol=1e-15, atol=1e-300)


@given(channel_stacks(), preconcat_kernel_sizes())
def test_s3_s5_dirac_prefilter_doubles(x, k):
    kernel = symmetric_kernel(initial_preconcat_half_kernel(k), k)
    assert_array_equal(ops.preconcat_separable(x, kernel), 2 * x)
    assert_array_equal(ops.preconcat_dense(x, kernel), 2 * x)


def test_s5_zero_padding_at_borders():
    # k = 3, kernel (1, 1, 1): Z = X + box sum with zeros outside; on a 1x1 input
    # only the centre tap sees data -> Z = X + X.
    assert_array_equal(ops.preconcat_separable(np.array([[5.0]]), [1.0, 1.0, 1.0]), [[10.0]])
    # On 2x2 ones, every pixel sees all 4 -> 1 + 4.
    assert_array_equal(ops.preconcat_separable(np.ones((2, 2)), [1.0, 1.0, 1.0]), np.full((2, 2), 5.0))


# -- Algebra -------------------------------------------------------------------

@given(
    st.integers(1, 10).flatmap(
        lambda n: st.tuples(channel_stacks(min_side=n, max_side=n), channel_stacks(min_side=n, max_side=n))
    ),
    st.floats(-4, 4), st.floats(-4, 4), ups_kernels, preconcat_kernels,
)
def test_linearity(pair, a, b, ups, pre):
    x, y = pair
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    for f, kernel in [(ops.upsample_separable, ups), (ops.preconcat_separable, pre)]:
        scale = rounding_atol(np.abs(a * x) + np.abs(b * y), kernel)
        assert_allclose(f(a * x + b * y, kernel), a * f(x, kernel) + b * f(y, kernel), rtol=1e-12, atol=scale)


@given(channel_stacks(max_side=20), ups_kernels, preconcat_kernels, st.sampled_from([-1, -2]))
def test_symmetric_kernels_commute_with_flips(x, ups, pre, axis):
    for f, kernel in [(ops.upsample_separable, ups), (ops.preconcat_separable, pre),
                      (ops.upsample_dense, ups), (ops.preconcat_dense, pre)]:
        assert_allclose(
            f(np.flip(x, axis), kernel), np.flip(f(x, kernel), axis),
            rtol=1e-12, atol=rounding_atol(x, kernel),
        )


@given(channel_stacks(max_side=12, integer_valued=True), kernels(ups_kernel_sizes(), dyadic=True),
       kernels(preconcat_kernel_sizes(), dyadic=True))
def test_s9_integers_with_dyadic_kernels_are_exact(x, ups, pre):
    up_naive = np.stack([upsample_naive(c, ups) for c in x])
    pre_naive = np.stack([preconcat_naive(c, pre) for c in x])
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype)
        for f, kernel, expected in [
            (ops.upsample_separable, ups, up_naive), (ops.upsample_dense, ups, up_naive),
            (ops.preconcat_separable, pre, pre_naive), (ops.preconcat_dense, pre, pre_naive),
        ]:
            y = f(xd, kernel)
            assert y.dtype == dtype
            assert_array_equal(y, expected)


@given(channel_stacks(max_side=16, max_value=10.0), ups_kernels, preconcat_kernels)
def test_s9_float32_close_to_float64(x, ups, pre):
    for f, kernel in [(ops.upsample_separable, ups), (ops.preconcat_separable, pre)]:
        y32 = f(x.astype(np.float32), kernel)
        y64 = f(x.astype(np.float32).astype(np.float64), kernel.astype(np.float32).astype(np.float64))
        assert y32.dtype == np.float32
        assert_allclose(y32, y64, rtol=1e-5, atol=rounding_atol(x, kernel, np.float32))


def test_s9_non_finite_values_propagate():
    x = np.zeros((1, 6, 6))
    x[0, 2, 3] = np.nan
    x[0, 4, 1] = np.inf
    for f, kernel in [(ops.upsample_separable, [0.25, 0.75, 0.75, 0.25]),
                      (ops.upsample_dense, [0.25, 0.75, 0.75, 0.25]),
                      (ops.preconcat_separable, [0.5, 1.0, 0.5]),
                      (ops.preconcat_dense, [0.5, 1.0, 0.5])]:
        y = f(x, kernel)
        assert np.isnan(y).any() and not np.isfinite(y).all()
        assert np.isfinite(y[..., :2, :2]).all()  # far from both, still finite


# -- Layers --------------------------------------------------------------------

@given(channel_stacks(max_side=10), ups_kernel_sizes(max_size=10).flatmap(
    lambda k: st.tuples(st.just(k), half_kernels(k))))
def test_s4_s6_6_s7_transposed_layer_per_channel_both_paths(x, case):
    k, half = case
    layer = UpsamplingSeparableSymmetricConvTranspose2d(k)
    layer.weight = half
    x4 = x[None]  # (1, N, H, W): N channels
    expected = np.stack([upsample_naive(c, kernel_from(half, k)) for c in x])[None]
    atol = rounding_atol(x, kernel_from(half, k))
    assert not layer.training
    assert_allclose(layer(x4), expected, rtol=1e-12, atol=atol)
    assert_allclose(layer.train()(x4), expected, rtol=1e-12, atol=atol)


@given(channel_stacks(max_side=10), preconcat_kernel_sizes(max_size=9).flatmap(
    lambda k: st.tuples(st.just(k), half_kernels(k))))
def test_s5_s6_6_s7_conv_layer_per_channel_both_paths(x, case):
    k, half = case
    layer = UpsamplingSeparableSymmetricConv2d(k)
    layer.weight = half
    expected = np.stack([preconcat_naive(c, kernel_from(half, k)) for c in x])[None]
    atol = rounding_atol(x, kernel_from(half, k))
    assert_allclose(layer(x[None]), expected, rtol=1e-12, atol=atol)
    assert_allclose(layer.train()(x[None]), expected, rtol=1e-12, atol=atol)


def test_s3_layers_initial_parameters():
    up = UpsamplingSeparableSymmetricConvTranspose2d(6)
    assert_array_equal(up.weight, [0, 0.25, 0.75])
    assert_array_equal(up.bias, [0.0])
    pre = UpsamplingSeparableSymmetricConv2d(7)
    assert_array_equal(pre.weight, [0, 0, 0, 1])
    assert_array_equal(pre.bias, [0.0])
    pre.weight = [1, 2, 3, 4]
    pre.initialize_parameters()
    assert_array_equal(pre.weight, [0, 0, 0, 1])


@given(channel_stacks(max_side=8), st.floats(-1e3, 1e3))
def test_s8_layer_bias_is_not_applied(x, bias):
    for layer in (UpsamplingSeparableSymmetricConvTranspose2d(4), UpsamplingSeparableSymmetricConv2d(3)):
        before = layer(x[None])
        layer.bias = [bias]
        assert_array_equal(layer(x[None]), before)


def test_layers_keep_float32_and_promote_integers():
    layer = UpsamplingSeparableSymmetricConvTranspose2d(8)
    assert layer(np.ones((1, 1, 2, 2), np.float32)).dtype == np.float32
    assert layer(np.ones((1, 1, 2, 2), np.int16)).dtype == np.float64
    assert layer(np.ones((1, 1, 2, 2), np.float16)).dtype == np.float32


@pytest.mark.parametrize("f, kernel", [(ops.upsample_dense, [0.0, 1e-9, 1e-9, 0.0]),
                                       (ops.preconcat_dense, [1e-9, 1e-9, 1e-9])])
def test_s7_dense_path_keeps_tiny_kernel_products(f, kernel):
    # Products of 1e-9 taps are 1e-18 < DBL_EPSILON: scipy.ndimage's n-D
    # convolve would drop them, the separable path does not.
    x = np.ones((1, 3, 3))
    separable = {ops.upsample_dense: ops.upsample_separable, ops.preconcat_dense: ops.preconcat_separable}[f]
    assert_allclose(f(x, kernel), separable(x, kernel), rtol=1e-14, atol=0)


# -- Threads and blocks (speed only: never a different bit) ---------------------

@given(channel_stacks(max_side=24, max_channels=3), ups_kernels, preconcat_kernels, st.integers(2, 4))
def test_workers_and_blocks_do_not_change_a_bit(x, ups, pre, workers):
    expected = (ops.upsample_separable(x, ups, workers=1), ops.preconcat_separable(x, pre, workers=1))
    original = ops._BLOCK_BYTES, ops._THREADS_MIN_BYTES
    try:
        # One line per block, threads even for tiny passes: the most splitting there can be.
        ops._BLOCK_BYTES, ops._THREADS_MIN_BYTES = 1, 0
        for w in (1, workers):
            assert_array_equal(ops.upsample_separable(x, ups, workers=w), expected[0])
            assert_array_equal(ops.preconcat_separable(x, pre, workers=w), expected[1])
    finally:
        ops._BLOCK_BYTES, ops._THREADS_MIN_BYTES = original


def test_small_passes_stay_on_the_calling_thread_and_large_ones_share_one_pool(monkeypatch):
    import threading

    seen = set()
    real = ops.ndimage.convolve1d

    def spy(*args, **kwargs):
        seen.add(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(ops.ndimage, "convolve1d", spy)
    ops.upsample_separable(np.ones((1, 16, 16)), [0.25, 0.75, 0.75, 0.25], workers=2)
    assert seen == {threading.current_thread().name}
    seen.clear()
    big = np.ones((1, 600, 600))  # passes over 1 MiB
    ops.upsample_separable(big, [0.25, 0.75, 0.75, 0.25], workers=2)
    first_pool = ops._shared_pool()
    ops.upsample_separable(big, [0.25, 0.75, 0.75, 0.25], workers=2)
    assert ops._shared_pool() is first_pool
    assert seen and all(name.startswith("refups") for name in seen)


def test_out_receives_the_top_left_crop():
    x = np.arange(12.0).reshape(1, 3, 4)
    kernel = kernel_from([0.1, -0.2, 0.7], 6)
    out = np.full((1, 5, 7), np.nan)
    assert ops.upsample_separable(x, kernel, out=out) is out
    assert_array_equal(out, ops.upsample_separable(x, kernel)[:, :5, :7])
    dense = np.full((1, 5, 7), np.nan)
    assert_allclose(ops.upsample_dense(x, kernel, out=dense), out, rtol=1e-14)


@pytest.mark.parametrize("workers, error, message", [
    (0, ValueError, r"^workers must be >= 1, or negative down to -\d+ \(counting back from the \d+ cores\); got 0$"),
    (-1000, ValueError, r"^workers must be >= 1, or negative down to -\d+ .*; got -1000$"),
    (1.5, TypeError, r"^workers must be an integer or None; got float 1.5$"),
])
def test_workers_errors(workers, error, message):
    with pytest.raises(error, match=message):
        ops.upsample_separable(np.ones((1, 2, 2)), [0.25, 0.75, 0.75, 0.25], workers=workers)


def test_resolve_workers_counts_back_from_the_cores():
    cores = ops.resolve_workers(None)
    assert ops.resolve_workers(-1) == cores and ops.resolve_workers(3) == 3
    assert ops.resolve_workers(-cores) == 1


def test_out_errors():
    message = r"^out must be a float64 array of shape \(1, h, w\) with h <= 4 and w <= 6; got float64 \(1, 5, 6\)$"
    with pytest.raises(ValueError, match=message):
        ops.upsample_separable(np.ones((1, 2, 3)), [0.25, 0.75, 0.75, 0.25], out=np.empty((1, 5, 6)))
    with pytest.raises(ValueError, match=r"^out must be a float64 array .*; got float32 \(1, 2, 3\)$"):
        ops.preconcat_separable(np.ones((1, 2, 3)), [1.0], out=np.empty((1, 2, 3), np.float32))


@pytest.mark.parametrize("call, error, message", [
    (lambda: ops.upsample_separable([[1.0]], [0.25, 0.75, 0.75, 0.25]), TypeError,
     r"^x must be a float32 or float64 ndarray; got list$"),
    (lambda: ops.preconcat_dense(np.ones((2, 2), int), [1.0]), TypeError,
     r"^x must be a float32 or float64 ndarray; got ndarray of int64$"),
    (lambda: ops.upsample_dense(np.ones(3), [0.25, 0.75, 0.75, 0.25]), ValueError,
     r"^x must have at least 2 dimension\(s\); got shape \(3,\)$"),
    (lambda: ops.upsample_1d(np.ones(3), [0.5, 1.0, 0.5]), ValueError,
     r"^len\(kernel\) must be even and >= 4; got 3$"),
    (lambda: ops.upsample_1d_polyphase(np.ones(3), [0.5, 1.0, 0.5]), ValueError,
     r"^len\(kernel\) must be even and >= 4; got 3$"),
    (lambda: ops.upsample_1d_polyphase(np.ones(3, int), [0.25, 0.75, 0.75, 0.25]), TypeError,
     r"^x must be a float32 or float64 ndarray; got ndarray of int64$"),
    (lambda: ops.preconcat_separable(np.ones((2, 2)), [1.0, 1.0]), ValueError,
     r"^len\(kernel\) must be odd and >= 1; got 2$"),
    (lambda: ops.preconcat_separable(np.ones((2, 2)), [[1.0]]), ValueError,
     r"^kernel must be 1-D; got shape \(1, 1\)$"),
])
def test_s10_ops_argument_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
