"""Big integers as digit arrays (refups.limbs): exact values, exact filters, correct rounding.

Ground truth is Python's integers and :class:`fractions.Fraction`, and the
bit-level rounding of :func:`refups.exact.round_dyadic` (itself checked
against the IEEE rule stated directly in ``test_exact.py``).
"""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from refups.exact import Dyadic, round_dyadic
from refups.limbs import BASE, DIGIT_BITS, LIMIT, MAX_TAPS, Limbs, carry


def limbs_of(numbers, scale=0):
    """A Limbs built from Python integers by Python's own arithmetic (plain digits, then carried)."""
    rows = max([abs(n).bit_length() for n in numbers] + [1]) // DIGIT_BITS + 2
    digits = np.zeros((rows, len(numbers)))
    for k, n in enumerate(numbers):
        for i in range(rows - 1):
            digits[i, k], n = n % (1 << DIGIT_BITS), n >> DIGIT_BITS
        digits[rows - 1, k] = n  # what is left, with the sign
    return Limbs(carry(digits), scale)


# Every digit 2**23 - 1: products of digits as large as they come.
FULL = sum((2**23 - 1) << (DIGIT_BITS * i) for i in range(6))

# Integers with the structure that makes rounding hard: long runs of ones and zeros, ties.
BIG = st.one_of(
    st.integers(-2**300, 2**300),
    st.integers(-2**70, 2**70),
    st.builds(lambda a, b, sign, c: sign * (2**a + c * 2**b), st.integers(0, 400), st.integers(0, 400),
              st.sampled_from([-1, 1]), st.integers(-3, 3)),
    st.integers(-5, 5),
)


@settings(max_examples=settings.default.max_examples * 10)
@given(st.lists(BIG, min_size=1, max_size=6), st.integers(-1300, 1500), st.sampled_from([np.float64, np.float32]))
@example([2**96 + 1, -(2**96 + 1), 2**120 - 1], 60, np.float64)        # nothing under W but a lower digit
@example([(2**53 + 1) * 2**42 + 1, (2**53 + 3) * 2**43 - 1, -((2**53 + 3) * 2**43 - 1)], 0, np.float64)  # the
# lowest bit decides a tie; a borrow from a lower digit turns a tie that goes up into a value that goes down
@example([2**61 + 2**37 + 1, -(2**61 + 2**37 + 1), 2**61 + 2**37], 0, np.float32)  # a float32 tie, and just above
@example([(2**53 + 1) * 2**64, -(2**53 + 1) * 2**64, (2**53 + 3) * 2**64 - 1], 0, np.float64)  # a top digit
# of 22 bits puts W's last bit 32 or more bits into lo: ties and just under them
@example([2**53 + 1, 2**54 + 2**53 + 1, 2**24 + 1], 0, np.float64)      # ties and just above them
@example([2**24 + 1, 3 * 2**24 + 1, 2**25 - 1], 24, np.float32)
@example([1, -1, 3], 1074 + 1, np.float64)                             # under the smallest subnormal
@example([2**1024 - 2**970, 2**1024 - 2**971], 0, np.float64)           # overflow at the half-ulp
def test_rounding_is_round_dyadic_bit_for_bit(numbers, scale, dtype):
    x = limbs_of(numbers, scale)
    assert x.to_int().tolist() == numbers
    assert np.all(np.abs(x.digits) <= BASE / 2)  # balanced
    with np.errstate(over="ignore"):
        expected = np.array([round_dyadic(n, scale, dtype) for n in numbers], dtype=dtype)
    assert x.to_float(dtype).tobytes() == expected.tobytes()


@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                          st.floats(-1e-300, 1e-300), st.integers(-2**52, 2**52).map(float)), min_size=1, max_size=8))
@example([5e-324, 1.7976931348623157e308, -0.0, 1.0])
def test_floats_are_read_exactly(values):
    x = Limbs.from_array(np.array(values))
    assert [Fraction(int(n)) / Fraction(2) ** x.scale for n in x.to_int()] == [Fraction(v) for v in values]
    assert np.array_equal(x.to_float(), np.array(values) + 0.0)  # back unchanged; -0.0 reads as 0


def test_float32_and_integer_arrays_are_read_exactly_and_others_are_refused():
    assert Limbs.from_array(np.float32([1.5, -2**-140])).to_float(np.float32).tolist() == [1.5, -(2**-140)]
    assert Limbs.from_array(np.array([2**52 + 1, -3], dtype=np.int64)).to_int().tolist() == [2**52 + 1, -3]
    with pytest.raises(ValueError, match=r"^big must hold integers below 2\*\*53 for the digit arrays; got 9\.01e\+15$"):
        Limbs.from_array(np.array([2**53], dtype=np.int64), name="big")
    with pytest.raises(TypeError, match=r"^x must be a float64, float32 or integer array for the digit arrays; got object$"):
        Limbs.from_array(np.array([1], dtype=object))
    with pytest.raises(ValueError, match=r"^y must hold finite values for the exact oracle; got 2 NaN/inf$"):
        Limbs.from_array([np.nan, -np.inf, 1.0], name="y")


@given(st.lists(st.integers(-int(LIMIT), int(LIMIT)), min_size=1, max_size=6), st.integers(1, 3))
def test_carry_keeps_the_value_and_balances_the_digits(row, rows):
    digits = np.array([row] * rows, dtype=np.float64)
    carried = carry(digits)
    value = [sum(int(d) << (DIGIT_BITS * i) for i, d in enumerate(column)) for column in digits.T]
    assert Limbs(carried, 0).to_int().tolist() == value
    assert np.all(np.abs(carried) <= BASE / 2) and (len(carried) == 1 or carried[-1].any())


def python_convolve(numbers, taps):
    """The full convolution, with Python integers."""
    out = [0] * (len(numbers) + len(taps) - 1)
    for i, n in enumerate(numbers):
        for j, w in enumerate(taps):
            out[i + j] += n * w
    return out


def full(digits, w):
    return np.stack([np.convolve(row, w) for row in digits.reshape(len(digits), -1)]).reshape(
        digits.shape[:-1] + (digits.shape[-1] + len(w) - 1,))


@given(st.lists(BIG, min_size=1, max_size=5), st.lists(BIG, min_size=1, max_size=MAX_TAPS), st.integers(0, 2))
@example([FULL] * MAX_TAPS, [FULL] * MAX_TAPS, 0)  # every part as large as allowed: carries between them
def test_convolutions_are_exact_whatever_the_digits(numbers, taps, passes):
    x, w = limbs_of(numbers, 3), limbs_of(taps, 5)
    expected = numbers
    for _ in range(passes + 1):  # passes in a row, carried only where the bound says so
        x = x.convolve(w, full)
        expected = python_convolve(expected, taps)
        assert x.bound <= LIMIT + BASE
    assert x.to_int().tolist() == expected and x.balanced().to_int().tolist() == expected
    assert x.scale == 3 + (passes + 1) * 5


def test_small_kernels_leave_room_for_two_passes_between_carries():
    x = Limbs.from_array(np.arange(-8.0, 8.0))
    w = Limbs.from_array(np.array([0.25, 0.75, 0.75, 0.25]))  # numerators 1 and 3
    once = x.convolve(w, full)
    twice = once.convolve(w, full)
    assert once.bound == 2**23 * 8 and twice.bound == 2**23 * 64  # no carry in between
    assert twice.to_int().tolist() == python_convolve(python_convolve(list(range(-8, 8)), [1, 3, 3, 1]), [1, 3, 3, 1])


def test_rounding_takes_float32_and_float64_only():
    with pytest.raises(ValueError, match=r"^dtype must be float32 or float64; got float16$"):
        Limbs.from_array([1.0]).to_float(np.float16)


def test_a_kernel_too_long_for_exact_digits_is_refused():
    w = Limbs(np.full((1, MAX_TAPS + 1), -2.0**23), 0)
    with pytest.raises(ValueError, match=rf"^kernel must have at most {MAX_TAPS} taps for exact digit convolutions; "
                                         rf"got {MAX_TAPS + 1}$"):
        Limbs.from_array([1.0]).convolve(w, full)


@given(st.lists(st.floats(-1e30, 1e30), min_size=1, max_size=5), st.lists(st.floats(-1e30, 1e30), min_size=1, max_size=5))
def test_scales_sums_and_concatenations_are_exact(a, b):
    x, y = Limbs.from_array(a), Limbs.from_array(b)
    value = lambda z: [Fraction(int(n)) / Fraction(2) ** z.scale for n in z.to_int()]  # noqa: E731
    assert value(x.with_scale(x.scale + 77)) == value(x)
    n = min(len(a), len(b))
    assert value(Limbs.add(Limbs.from_array(a[:n]), Limbs.from_array(b[:n]))) == [
        Fraction(p) + Fraction(q) for p, q in zip(a[:n], b[:n])]
    assert value(Limbs.concatenate([x, y], axis=0)) == value(x) + value(y)
    with pytest.raises(ValueError, match="scale must be >= "):
        x.with_scale(x.scale - 1)
    assert Dyadic.from_array(a).to_fractions().tolist() == value(x)
