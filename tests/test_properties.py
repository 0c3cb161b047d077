"""Whole-module properties on drawn pyramids and configurations (spec S6, S7, S9)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from refups import Upsampling
from refups.naive import upsampling_naive
from refups.testing import assert_upsampling_close, error_bounds, latent_pyramids, upsamplings

# Tolerances are refups.testing.error_bounds: per element, from the dtype and
# the kernels (its derivation is in its docstring), so these tests also check
# that the bound holds between every pair of correct computations.


def reference(up, latents):
    return upsampling_naive(latents, [layer.kernel for layer in up.conv_transpose2ds],
                            [layer.kernel for layer in up.conv2ds])


@given(latent_pyramids(max_levels=4, max_side=12, max_channels=2, min_channels=0), upsamplings(),
       st.booleans())
def test_s6_s7_module_equals_loop_transcription(latents, up, training):
    up.train(training)
    out = up(latents)
    assert_upsampling_close(out, reference(up, latents), atol=error_bounds(up, latents, np.float64))


@given(latent_pyramids(max_levels=5, max_side=40, max_channels=2),
       upsamplings(max_ups_k_size=16, max_preconcat_k_size=15))
def test_s7_separable_and_dense_modules_agree(latents, up):
    separable = up.eval()(latents)
    dense = up.train()(latents)
    assert_upsampling_close(separable, dense, atol=error_bounds(up, latents, np.float64))


@given(latent_pyramids(max_levels=4, max_side=16, max_value=10.0), upsamplings())
def test_s9_float32_mode_close_to_float64(latents, up):
    out32 = up([y.astype(np.float32) for y in latents])
    assert out32.dtype == np.float32
    # The float64 run on the same float32-rounded inputs and parameters.
    up.set_param({name: value.astype(np.float32) for name, value in up.get_param().items()})
    out64 = up([y.astype(np.float32).astype(np.float64) for y in latents])
    assert_upsampling_close(out32, out64, atol=error_bounds(up, latents, np.float32))


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
    flipped_latents = [np.flip(y, axis) for y in latents]
    assert_upsampling_close(up(flipped_latents), np.flip(up(latents), axis),
                            atol=error_bounds(up, flipped_latents, np.float64))  # the bound, flipped too


@given(latent_pyramids(min_levels=2, max_levels=4, max_side=12), upsamplings(), st.floats(-3, 3), st.floats(-3, 3))
def test_module_is_linear(latents, up, a, b):
    other = [np.roll(y, 1, axis=-1) for y in latents]
    combined = up([a * y + b * z for y, z in zip(latents, other)])
    scaled = [np.abs(a * y) + np.abs(b * z) for y, z in zip(latents, other)]
    # Three forwards round independently (plus the final scale and add, in float64).
    bound = (error_bounds(up, scaled, np.float64) + abs(a) * error_bounds(up, latents, np.float64)
             + abs(b) * error_bounds(up, other, np.float64))
    assert_upsampling_close(combined, a * up(latents) + b * up(other), atol=bound, rtol=4e-16)


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
