"""Kernels: half-kernel expansion, sizes and initial values (spec S1-S3)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from refups.kernels import (
    BICUBIC_CORE,
    check_preconcat_kernel_size,
    check_ups_kernel_size,
    exact_bicubic_half_kernel,
    half_kernel_size,
    initial_preconcat_half_kernel,
    initial_ups_half_kernel,
    kernel_2d,
    symmetric_kernel,
)
from refups.testing import half_kernels

# -- S1 ----------------------------------------------------------------------

def test_s1_even_example():
    a, b, c = 1.0, 2.0, 3.0
    assert_array_equal(symmetric_kernel([a, b, c], 6), [a, b, c, c, b, a])


def test_s1_odd_example():
    a, b, c = 1.0, 2.0, 3.0
    assert_array_equal(symmetric_kernel([a, b, c], 5), [a, b, c, b, a])


@pytest.mark.parametrize("k, n", [(1, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4), (8, 4)])
def test_s1_half_kernel_size(k, n):
    assert half_kernel_size(k) == n


@given(st.integers(1, 24).flatmap(lambda k: st.tuples(st.just(k), half_kernels(k))))
def test_s1_kernel_is_symmetric_and_starts_with_half(case):
    k, half = case
    kernel = symmetric_kernel(half, k)
    assert kernel.shape == (k,)
    assert_array_equal(kernel, kernel[::-1])
    assert_array_equal(kernel[: len(half)], half)


@given(st.integers(1, 16).flatmap(lambda k: half_kernels(k).map(lambda h: symmetric_kernel(h, k))))
def test_s1_kernel_2d_is_the_outer_product(kernel):
    k2 = kernel_2d(kernel)
    for s in range(len(kernel)):
        for t in range(len(kernel)):
            assert k2[s, t] == kernel[s] * kernel[t]
    assert_array_equal(k2, k2.T)  # symmetric kernel: w (x) w is symmetric too


def test_s1_wrong_half_length_is_an_error():
    with pytest.raises(ValueError, match=r"half must have shape \(3,\) for a kernel of size 6; got shape \(2,\)"):
        symmetric_kernel([1.0, 2.0], 6)


# -- S2 ----------------------------------------------------------------------

@pytest.mark.parametrize("k", [4, 6, 8, 16, np.int64(10)])
def test_s2_valid_ups_sizes(k):
    assert check_ups_kernel_size(k) == k


@pytest.mark.parametrize("k", [-2, 0, 1, 2, 3, 5, 7])
def test_s2_invalid_ups_sizes(k):
    with pytest.raises(ValueError, match=rf"^ups_k_size must be even and >= 4; got {k}$"):
        check_ups_kernel_size(k)


@pytest.mark.parametrize("k", [1, 3, 7, 15, np.int32(5)])
def test_s2_valid_preconcat_sizes(k):
    assert check_preconcat_kernel_size(k) == k


@pytest.mark.parametrize("k", [-1, 0, 2, 4, 8])
def test_s2_invalid_preconcat_sizes(k):
    with pytest.raises(ValueError, match=rf"^ups_preconcat_k_size must be odd and >= 1; got {k}$"):
        check_preconcat_kernel_size(k)


@pytest.mark.parametrize("k", [4.0, "4", None, True])
def test_s2_non_integer_sizes(k):
    with pytest.raises(TypeError, match=r"^ups_k_size must be an integer; got "):
        check_ups_kernel_size(k)


# -- S3 ----------------------------------------------------------------------

def test_s3_bilinear_k4():
    assert_array_equal(symmetric_kernel(initial_ups_half_kernel(4), 4), [0.25, 0.75, 0.75, 0.25])


def test_s3_bilinear_k6():
    assert_array_equal(
        symmetric_kernel(initial_ups_half_kernel(6), 6), [0, 0.25, 0.75, 0.75, 0.25, 0]
    )


@pytest.mark.parametrize("k", [8, 10, 12, 16])
def test_s3_bicubic_literals_right_aligned(k):
    half = initial_ups_half_kernel(k)
    # The decimal literals of spec S3, to the last digit.
    assert half[-4:].tolist() == [0.0351562, 0.1054687, -0.2617187, -0.8789063]
    assert_array_equal(half[:-4], np.zeros(k // 2 - 4))


def test_s3_bicubic_is_negated_keys_to_7_decimals():
    keys = np.array([-9, -27, 67, 225]) / 256
    core = np.asarray(BICUBIC_CORE)
    # Each literal is within half a unit of the 7th decimal of -keys (three are
    # truncations, the last, -0.8789063, rounds 0.87890625 up; see spec S3).
    assert np.all(np.abs(core + keys) <= 5e-8 + 1e-16)
    assert_array_equal(np.round(core, 7), core)


def test_s3_bicubic_polyphase_gain():
    kernel = symmetric_kernel(initial_ups_half_kernel(8), 8)
    # Both polyphase components of the 1-D kernel sum to -1.0000001.
    np.testing.assert_allclose(kernel[0::2].sum(), -1.0000001, rtol=0, atol=1e-15)
    np.testing.assert_allclose(kernel[1::2].sum(), -1.0000001, rtol=0, atol=1e-15)


def test_s3_exact_bicubic_preserves_constants():
    kernel = symmetric_kernel(exact_bicubic_half_kernel(8), 8)
    assert kernel[0::2].sum() == 1.0 and kernel[1::2].sum() == 1.0


@pytest.mark.parametrize("k", [1, 3, 5, 7, 9])
def test_s3_dirac(k):
    kernel = symmetric_kernel(initial_preconcat_half_kernel(k), k)
    expected = np.zeros(k)
    expected[k // 2] = 1.0
    assert_array_equal(kernel, expected)
