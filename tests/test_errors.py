"""Every bad input gets a clear ValueError/TypeError naming the argument, what
was expected and what was found, before any work is done (SPEC S2, S6, S8, S10)."""

import pathlib
import re

import numpy as np
import pytest

from refups import Upsampling, UpsamplingSeparableSymmetricConv2d, UpsamplingSeparableSymmetricConvTranspose2d

GOOD = [np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2))]


# -- Constructor (S2, S6) ------------------------------------------------------

@pytest.mark.parametrize("args, error, message", [
    ((5, 3, 1, 1), ValueError, r"^ups_k_size must be even and >= 4; got 5$"),
    ((2, 3, 1, 1), ValueError, r"^ups_k_size must be even and >= 4; got 2$"),
    ((8, 4, 1, 1), ValueError, r"^ups_preconcat_k_size must be odd and >= 1; got 4$"),
    ((8, -1, 1, 1), ValueError, r"^ups_preconcat_k_size must be odd and >= 1; got -1$"),
    ((8.0, 3, 1, 1), TypeError, r"^ups_k_size must be an integer; got float 8.0$"),
    ((8, 3, -1, 1), ValueError, r"^n_ups_kernel must be an integer >= 0; got -1$"),
    ((8, 3, 1, -2), ValueError, r"^n_ups_preconcat_kernel must be an integer >= 0; got -2$"),
    ((8, 3, 1.5, 1), TypeError, r"^n_ups_kernel must be an integer >= 0; got float 1.5$"),
    ((8, 3, 1, "2"), TypeError, r"^n_ups_preconcat_kernel must be an integer >= 0; got str '2'$"),
    ((8, 3, True, 1), TypeError, r"^n_ups_kernel must be an integer >= 0; got bool True$"),
])
def test_s2_s10_constructor_errors(args, error, message):
    with pytest.raises(error, match=message):
        Upsampling(*args)


@pytest.mark.parametrize("cls, k, message", [
    (UpsamplingSeparableSymmetricConvTranspose2d, 3, r"^kernel_size must be even and >= 4; got 3$"),
    (UpsamplingSeparableSymmetricConv2d, 2, r"^kernel_size must be odd and >= 1; got 2$"),
])
def test_s2_layer_size_errors(cls, k, message):
    with pytest.raises(ValueError, match=message):
        cls(k)


@pytest.mark.parametrize("counts, name, kind", [
    ((0, 1), "n_ups_kernel", "upsampling"), ((1, 0), "n_ups_preconcat_kernel", "pre-concatenation"),
])
def test_s6_count_zero_needed_filter(counts, name, kind):
    up = Upsampling(4, 3, *counts)
    with pytest.raises(ValueError, match=rf"^{name} must be >= 1 for these latents, which need a {kind} "
                                         rf"filter for 1 transition\(s\); got {name} = 0$"):
        up(GOOD)
    assert up([GOOD[0]]).shape == (1, 1, 4, 4)  # one level needs no filter (S6.5)


# -- Latents (S6.7, S10) -------------------------------------------------------

@pytest.mark.parametrize("latents, error, message", [
    ([], ValueError, r"^latents must be a non-empty list of 4-D \(B, C_i, H_i, W_i\) arrays; got an empty list$"),
    (np.zeros((2, 1, 1, 4, 4)), TypeError, r"^latents must be a list of 4-D .*; got ndarray$"),
    ("abc", TypeError, r"^latents must be a list of 4-D .*; got str$"),
    ([np.zeros((1, 4, 4))], ValueError,
     r"^latents\[0\] must be a 4-D array of shape \(B, C, H, W\); got shape \(1, 4, 4\)$"),
    ([GOOD[0], np.zeros((2, 2))], ValueError, r"^latents\[1\] must be a 4-D array .*; got shape \(2, 2\)$"),
    ([GOOD[0], np.zeros((2, 1, 2, 2))], ValueError,
     r"^latents\[1\] must have the batch size B = 1 of latents\[0\]; got shape \(2, 1, 2, 2\)$"),
    ([GOOD[0], np.zeros((1, 1, 1, 2))], ValueError,
     r"^latents\[1\] must be at least half the size of latents\[0\] \(2 \* H_1 >= H_0 and 2 \* W_1 >= W_0\); "
     r"got shapes \(1, 1, 1, 2\) and \(1, 1, 4, 4\)$"),
    ([np.zeros((1, 1, 5, 4)), np.zeros((1, 1, 2, 2))], ValueError, r"latents\[1\] must be at least half the size"),
    ([np.zeros((1, 1, 0, 4))], ValueError, r"^latents\[0\] must have H >= 1 and W >= 1; got shape \(1, 1, 0, 4\)$"),
    ([GOOD[0], np.zeros((1, 1, 2, 2), complex)], TypeError,
     r"^latents\[1\] must have a real dtype \(bool, integer, float32 or float64\); got dtype complex128$"),
    ([np.zeros((1, 1, 2, 2), object)], TypeError, r"^latents\[0\] must have a real dtype .*; got dtype object$"),
    ([np.array([[[["a"]]]])], TypeError, r"^latents\[0\] must have a real dtype .*; got dtype <U1$"),
    ([[[[1.0, 2.0], [3.0]]]], ValueError, r"^latents\[0\] must be a rectangular numeric array; got "),
])
def test_s6_7_s10_latent_errors(latents, error, message):
    with pytest.raises(error, match=message):
        Upsampling(4, 3, 1, 1)(latents)
    with pytest.raises(error, match=message):
        Upsampling(4, 3, 1, 1).trace(latents)


def test_s10_layer_input_errors():
    with pytest.raises(ValueError, match=r"^x must be a 4-D array of shape \(B, C, H, W\); got shape \(4, 4\)$"):
        UpsamplingSeparableSymmetricConvTranspose2d(4)(np.zeros((4, 4)))
    with pytest.raises(TypeError, match=r"^x must have a real dtype .*; got dtype complex64$"):
        UpsamplingSeparableSymmetricConv2d(3)(np.zeros((1, 1, 4, 4), np.complex64))


# -- Parameters (S8, S10) ------------------------------------------------------

def test_s8_set_param_lists_every_problem_and_writes_nothing():
    up = Upsampling(8, 3, 2, 1)
    before = up.get_param()
    params = dict(before)
    del params["conv_transpose2ds.1.parametrizations.weight.original"]
    del params["conv2ds.0.bias"]  # a missing bias is no problem (S8), and must not be written either
    params["conv2ds.1.bias"] = np.zeros(1)
    params["conv_transpose2ds.0.parametrizations.weight.original"] = np.zeros(3)
    params["conv2ds.0.parametrizations.weight.original"] = np.zeros(2, complex)
    params["conv_transpose2ds.0.bias"] = np.ones(1)  # valid, but must not be written
    message = (
        "params must match this Upsampling(ups_k_size=8, ups_preconcat_k_size=3, n_ups_kernel=2, "
        "n_ups_preconcat_kernel=1) exactly; got missing ['conv_transpose2ds.1.parametrizations.weight.original']; "
        "unexpected ['conv2ds.1.bias']; "
        "invalid: conv_transpose2ds.0.parametrizations.weight.original must have shape (4,); got shape (3,); "
        "conv2ds.0.parametrizations.weight.original must have a real dtype (bool, integer, float32 or float64); "
        "got dtype complex128"
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        up.set_param(params)
    for name, value in up.get_param().items():
        np.testing.assert_array_equal(value, before[name])


def test_s8_set_param_needs_a_mapping():
    with pytest.raises(TypeError, match=r"^params must be a mapping of parameter names to arrays; got list$"):
        Upsampling(4, 3, 1, 1).set_param([np.zeros(1)])


def test_s8_weight_setter_checks_shape():
    layer = UpsamplingSeparableSymmetricConvTranspose2d(8)
    with pytest.raises(ValueError, match=r"^weight must have shape \(4,\); got shape \(8,\)$"):
        layer.weight = np.zeros(8)
    with pytest.raises(ValueError, match=r"^bias must have shape \(1,\); got shape \(\)$"):
        layer.bias = 0.0


def test_s10_no_assert_statements_in_the_library():
    # `python -O` strips asserts, so input checks must never be asserts.
    package = pathlib.Path(__file__).resolve().parents[1] / "refups"
    offenders = [str(path) for path in package.rglob("*.py")
                 if path.name != "testing.py" and re.search(r"^\s*assert\b", path.read_text(), re.M)]
    assert offenders == []


@pytest.mark.parametrize("shapes, message", [
    # The width alone breaks the half-size rule (S6.7), at the second transition.
    ([(1, 1, 8, 12), (1, 1, 4, 6), (1, 1, 2, 2)],
     r"^latents\[2\] must be at least half the size of latents\[1\] \(2 \* H_2 >= H_1 and 2 \* W_2 >= W_1\); "
     r"got shapes \(1, 1, 2, 2\) and \(1, 1, 4, 6\)$"),
    ([(1, 1, 4, 7), (1, 1, 2, 3)],
     r"^latents\[1\] must be at least half the size of latents\[0\] .*; got shapes \(1, 1, 2, 3\) and \(1, 1, 4, 7\)$"),
])
def test_s6_7_width_alone_breaks_the_half_size_rule(shapes, message):
    from refups._validation import check_latents

    with pytest.raises(ValueError, match=message):
        check_latents([np.zeros(shape) for shape in shapes])
