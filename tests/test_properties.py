"""Whole-module properties on drawn pyramids and configurations (SPEC S6, S7, S9)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from refups import Upsampling
from refups.naive import upsampling_naive
from refups.testing import latent_pyramids, upsamplings


def reference(up, latents):
    return upsampling_naive(latents, [layer.kernel for layer in up.conv_transpose2ds],
                            [layer.kernel for layer in up.conv2ds])


def atol_for(values, up, dtype=np.float64):
    """64 ulps of a bound on every intermediate: max|y| times the largest kernel gain
    per transition, compounded over the transitions."""
    gain = max([float(np.sum(np.abs(layer.kernel))) ** 2 + 1
                for layer in up.conv_transpose2ds + up.conv2ds] + [1.0])
    bound = max([float(np.max(np.abs(y), initial=1.0)) for y in values])
    return 64 * np.finfo(dtype).eps * bound * gain ** len(values)


@given(latent_pyramids(max_levels=4, max_side=12, max_channels=2, min_channels=0), upsamplings(),
       st.booleans())
def test_s6_s7_module_equals_loop_transcription(latents, up, training):
    up.train(training)
    out = up(latents)
    assert_allclose(out, reference(up, latents), rtol=1e-12, atol=atol_for(latents, up))


@given(latent_pyramids(max_levels=5, max_side=40, max_channels=2),
       upsamplings(max_ups_k_size=16, max_preconcat_k_size=15))
def test_s7_separable_and_dense_modules_agree(latents, up):
    separable = up.eval()(latents)
    dense = up.train()(latents)
    assert_allclose(separable, dense, rtol=1e-12, atol=atol_for(latents, up))


@given(latent_pyramids(max_levels=4, max_side=16, max_value=10.0), upsamplings())
def test_s9_float32_mode_close_to_float64(latents, up):
    out32 = up([y.astype(np.float32) for y in latents])
    assert out32.dtype == np.float32
    # The float64 run on the same float32-rounded inputs and parameters.
    up.set_param({name: value.astype(np.float32) for name, value in up.get_param().items()})
    out64 = up([y.astype(np.float32).astype(np.float64) for y in latents])
    assert_allclose(out32, out64, rtol=1e-5, atol=atol_for(latents, up, np.float32))


@given(latent_pyramids(max_levels=3, max_side=10, integer_valued=True, max_value=50.0),
       upsamplings(dyadic=True, max_value=0.5, max_ups_k_size=8, max_preconcat_k_size=5))
def test_s9_integer_latents_and_dyadic_kernels_are_exact(latents, up):
    expected = reference(up, latents)
    assert_array_equal(up(latents), expected)
    assert_array_equal(up([y.astype(np.float32) for y in latents]), expected)
    assert_array_equal(up.train()(latents), expected)


@given(latent_pyramids(max_levels=4, max_side=16, odd_sizes=False), upsamplings(),
       st.sampled_from([2, 3]))
def test_module_commutes_with_flips_on_even_sizes(latents, up, axis):
    # With every side even, no crop happens, and symmetric kernels commute with
    # flipping an axis of every level.
    flipped = up([np.flip(y, axis) for y in latents])
    assert_allclose(flipped, np.flip(up(latents), axis), rtol=1e-12, atol=atol_for(latents, up))


@given(latent_pyramids(min_levels=2, max_levels=4, max_side=12), upsamplings(), st.floats(-3, 3), st.floats(-3, 3))
def test_module_is_linear(latents, up, a, b):
    other = [np.roll(y, 1, axis=-1) for y in latents]
    combined = up([a * y + b * z for y, z in zip(latents, other)])
    scaled = [np.abs(a * y) + np.abs(b * z) for y, z in zip(latents, other)]
    assert_allclose(combined, a * up(latents) + b * up(other), rtol=1e-12, atol=atol_for(scaled, up))


@given(latent_pyramids(max_levels=4, max_side=10), upsamplings())
def test_s10_inputs_are_never_modified(latents, up):
    copies = [y.copy() for y in latents]
    up(latents)
    up.train()(latents)
    for y, copy in zip(latents, copies):
        assert_array_equal(y, copy)


def test_s9_non_finite_latents_propagate_without_error():
    latents = [np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 4, 4))]
    latents[1][0, 0, 1, 1] = np.nan
    latents[0][0, 0, 7, 7] = -np.inf
    out = Upsampling(8, 7, 1, 1)(latents)
    assert np.isnan(out[0, 1]).any() and np.isneginf(out[0, 0, 7, 7])
    assert np.isfinite(out[0, 0, :4, :4]).all()
