"""The exact oracle (refups.exact): exactness, correct rounding, and the golden suite.

Ground truth here is :class:`fractions.Fraction` arithmetic and the IEEE
rounding rule stated directly (nearest neighbour, ties to the even one), never
the code under test.
"""

import functools
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from hypothesis import example, given, settings
from hypothesis import strategies as st

from refups import Upsampling
from refups.exact import (
    Dyadic,
    preconcat_exact,
    round_dyadic,
    upsample_exact,
    upsampling_exact,
    upsampling_exact_rounded,
)
from refups.kernels import symmetric_kernel
from refups.naive import preconcat_naive, upsample_naive
from refups.suite import default_suite_path, load_suite
from refups.bounds import stage_bounds
from refups.testing import error_bounds, latent_pyramids, upsamplings

FORMATS = {np.float64: (53, -1022, 1023), np.float32: (24, -126, 127)}
UINT = {np.float64: np.uint64, np.float32: np.uint32}


def fractions_of(array):
    return [Fraction(float(v)) for v in np.asarray(array).flat]


# -- the worked example and the one-channel filters ------------------------------------


def test_s4_worked_example_is_exact():
    y = upsample_exact([[1.0, 2.0, 4.0]], symmetric_kernel(np.array([0.25, 0.75]), 4))
    expected = [Fraction(1), Fraction(5, 4), Fraction(7, 4), Fraction(5, 2), Fraction(7, 2),
                Fraction(4)]
    assert y.shape == (2, 6)
    assert y.to_fractions().tolist() == [expected, expected]


def dyadic_channels(max_side=7):
    """(H, W) channels of multiples of 1/4: the naive float64 loops are exact on them."""
    shapes = st.tuples(st.integers(1, max_side), st.integers(1, max_side))
    return shapes.flatmap(lambda shape: st.lists(
        st.integers(-64, 64), min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]
    ).map(lambda v: np.array(v, dtype=np.float64).reshape(shape) / 4))


def dyadic_halves(n):
    return st.lists(st.integers(-8, 8), min_size=n, max_size=n).map(
        lambda v: np.array(v, dtype=np.float64) / 8)


@given(dyadic_channels(), st.integers(2, 6).flatmap(
    lambda n: st.tuples(st.just(2 * n), dyadic_halves(n))))
def test_s4_upsample_exact_equals_loop_transcription_where_floats_are_exact(x, sized_half):
    k, half = sized_half
    kernel = symmetric_kernel(half, k)
    # Values are multiples of 2**-8 below 2**12: every float64 partial sum is exact.
    assert upsample_exact(x, kernel).to_fractions().ravel().tolist() == fractions_of(
        upsample_naive(x, kernel))


@given(dyadic_channels(), st.integers(0, 4).flatmap(
    lambda n: st.tuples(st.just(2 * n + 1), dyadic_halves(n + 1))))
def test_s5_preconcat_exact_equals_loop_transcription_where_floats_are_exact(x, sized_half):
    k, half = sized_half
    kernel = symmetric_kernel(half, k)
    assert preconcat_exact(x, kernel).to_fractions().ravel().tolist() == fractions_of(
        preconcat_naive(x, kernel))


def test_one_channel_filters_check_their_kernel_sizes():
    with pytest.raises(ValueError, match="len\\(kernel\\) must be even"):
        upsample_exact([[1.0]], [0.5, 1.0, 0.5])
    with pytest.raises(ValueError, match="len\\(kernel\\) must be odd"):
        preconcat_exact([[1.0]], [0.5, 0.5])
    with pytest.raises(ValueError, match="x must be 2-D"):
        upsample_exact([1.0, 2.0], [0.25, 0.75, 0.75, 0.25])


# -- Dyadic --------------------------------------------------------------------------


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_dyadic_reads_floats_exactly_and_rounds_them_back_unchanged(values):
    d = Dyadic.from_array(np.array(values))
    assert d.to_fractions().tolist() == [Fraction(v) for v in values]
    back = d.to_float(np.float64)
    # Every finite float64 comes back bit for bit, except -0.0: an exact zero is +0.0.
    assert same_float(back, np.array([v if v != 0 else 0.0 for v in values]))
    assert d.normalized().to_fractions().tolist() == d.to_fractions().tolist()


def test_dyadic_extremes_and_integers():
    tiny, huge = 5e-324, 1.7976931348623157e308
    d = Dyadic.from_array([tiny, huge, -0.0])
    assert d.to_fractions().tolist() == [Fraction(1, 2**1074), Fraction(huge), 0]
    assert same_float(d.to_float(), np.array([tiny, huge, 0.0]))  # exact zero: +0.0
    assert Dyadic.from_array(np.array([2**62 + 1], dtype=np.int64)).to_fractions()[0] == 2**62 + 1
    assert Dyadic([3], 1).with_scale(4).numerators.tolist() == [24]
    with pytest.raises(ValueError, match="scale must be >= 4"):
        Dyadic([3], 4).with_scale(1)
    with pytest.raises(TypeError, match="integers only"):
        Dyadic([0.5])


# -- correct rounding ------------------------------------------------------------------


def value_of(f, dtype):
    """Exact value of a float of ``dtype``; infinity counts as 2**(e_max + 1) (IEEE's rule)."""
    _, _, e_max = FORMATS[dtype]
    if math.isinf(f):
        return (1 if f > 0 else -1) * Fraction(2) ** (e_max + 1)
    return Fraction(float(f))


def is_even(f, dtype):
    """Last significand bit 0 (infinity, as 2**(e_max + 1), is even)."""
    f = dtype(f)
    return bool(np.isinf(f)) or int(np.array(f).view(UINT[dtype])) % 2 == 0


def reference_round(x, dtype):
    """Round the Fraction ``x`` to ``dtype`` by brute force: the nearest of a few
    neighbouring floats, ties to the even one; exact zero -> +0.0."""
    if x == 0:
        return dtype(0.0)
    try:
        approx = float(x)  # correctly rounded to float64; may be off by one float32 ulp
    except OverflowError:
        approx = math.inf if x > 0 else -math.inf
    with np.errstate(over="ignore"):
        c = dtype(approx)  # float32 overflow gives inf; max32 is among its neighbours
        candidates = [c]
        for direction in (-math.inf, math.inf):
            n = c
            for _ in range(2):
                n = np.nextafter(n, dtype(direction))
                candidates.append(n)
    best = min(abs(value_of(f, dtype) - x) for f in candidates)
    nearest = {float(f) for f in candidates if abs(value_of(f, dtype) - x) == best}
    if len(nearest) > 1:
        nearest = {f for f in nearest if is_even(f, dtype)}
    (result,) = nearest
    if result == 0:
        result = 0.0 if x > 0 else -0.0  # a nonzero value rounded to zero keeps its sign
    return dtype(result)


def same_float(a, b):
    """Equal as bit patterns (so -0.0 differs from +0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


def ratio(x):
    """``(n, s)`` with ``x = n * 2**-s`` for a dyadic Fraction ``x``."""
    d = x.denominator
    assert d & (d - 1) == 0
    return x.numerator, d.bit_length() - 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(n=st.integers(-(2**90), 2**90), s=st.integers(-1100, 1200))
@example(n=2**24 + 1, s=24)                  # 1 + 2**-24: tie in float32, to even (1.0)
@example(n=2**53 + 1, s=53)                  # 1 + 2**-53: tie in float64
@example(n=2**60 + 2**36 + 1, s=60)          # above a float32 tie by 2**-60: double rounding trap
@example(n=1, s=150)                         # half the smallest float32 subnormal: tie to 0
@example(n=3, s=150)                         # 1.5 smallest subnormals: tie, to 2
@example(n=-1, s=1075)                       # -half the smallest float64 subnormal: -0.0
@example(n=2**128 - 2**103, s=0)             # float32 max + ulp/2: overflows
@example(n=2**128 - 2**103 - 1, s=0)         # just below: float32 max
@example(n=2**1024 - 2**970, s=0)            # float64 max + ulp/2: overflows
@example(n=2**1024 - 2**970 - 1, s=0)        # just below: float64 max
@example(n=0, s=5)
def test_round_dyadic_is_correct_rounding(dtype, n, s):
    x = Fraction(n) / Fraction(2) ** s
    expected = reference_round(x, dtype)
    assert same_float(round_dyadic(n, s, dtype), expected)
    assert same_float(Dyadic([n], s).to_float(dtype), np.array([expected]))
    if dtype is np.float64:  # Python's int / int is correctly rounded too
        try:
            python = float(x)
        except OverflowError:
            python = math.inf if x > 0 else -math.inf
        assert same_float(round_dyadic(n, s, dtype), np.float64(python))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_round_dyadic_ties_go_to_even(dtype, data):
    """The exact midpoint of two neighbouring floats (subnormal, normal, or max and inf)."""
    width = 32 if dtype is np.float32 else 64
    f = dtype(data.draw(st.floats(0, allow_infinity=False, width=width)))
    with np.errstate(over="ignore"):
        g = np.nextafter(f, dtype(math.inf))
    sign = data.draw(st.sampled_from([1, -1]))
    midpoint = sign * (value_of(f, dtype) + value_of(g, dtype)) / 2
    even = f if is_even(f, dtype) else g
    assert is_even(even, dtype) and not is_even(g if even is f else f, dtype)
    got = round_dyadic(*ratio(midpoint), dtype)
    assert same_float(got, dtype(sign * even) if even != 0 else dtype(math.copysign(0.0, sign)))
    # A hair above (in magnitude) goes to g, a hair below to f.
    hair = Fraction(1, 2**1200)
    assert same_float(round_dyadic(*ratio(midpoint + sign * hair), dtype), dtype(sign * g))
    below = round_dyadic(*ratio(midpoint - sign * hair), dtype)
    assert float(below) == sign * float(f)


def test_round_dyadic_named_cases():
    f32 = np.float32
    assert round_dyadic(2**24 + 1, 24, f32) == f32(1.0)                    # tie, to even
    assert round_dyadic(2**24 + 3, 24, f32) == f32(1 + 2**-22)             # tie, to even
    assert round_dyadic(2**60 + 2**36 + 1, 60, f32) == f32(1 + 2**-23)     # no double rounding
    assert f32((2**60 + 2**36 + 1) / 2**60) == f32(1.0)                    # ... which float64 does
    max32 = int(np.finfo(f32).max)
    assert round_dyadic(2**128 - 2**103 - 1, 0, f32) == max32
    assert np.isposinf(round_dyadic(2**128 - 2**103, 0, f32))
    assert np.isneginf(round_dyadic(-(2**200), 0, f32))
    assert round_dyadic(1, 149, f32) == f32(2**-149)                       # smallest subnormal
    assert round_dyadic(3, 150, f32) == f32(2**-148)                       # tie between 1 and 2 units
    assert round_dyadic(5, 151, f32) == f32(2**-149)                       # 1.25 units
    zero = round_dyadic(0, 0, f32)
    assert zero == 0 and not np.signbit(zero)                              # exact zero: +0.0
    tiny_negative = round_dyadic(-1, 151, f32)
    assert tiny_negative == 0 and np.signbit(tiny_negative)                # rounds to -0.0
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        round_dyadic(1, 0, np.float16)


# -- the whole module ------------------------------------------------------------------


@given(latent_pyramids(max_levels=4, max_side=9, min_channels=0, max_channels=2,
                       integer_valued=True),
       upsamplings(max_ups_k_size=8, max_preconcat_k_size=7, max_kernels=3, dyadic=True),
       st.booleans())
def test_s6_exact_equals_float64_bit_for_bit_on_integer_latents_and_dyadic_kernels(
        latents, up, training):
    # Why float64 is exact here: latents are integers with |y| <= 100, taps are
    # multiples of 1/8 with |tap| <= 1, k <= 8, and there are at most 3
    # transitions. One 1-D pass sums at most k/2 = 4 products (S4) or k = 7
    # (S5), so every partial sum, on either path, has magnitude below
    # 100 * 64**3 < 2**25 and is a multiple of 2**-18 (6 bits per transition):
    # 43 significant bits at most, below float64's 53.
    up.train(training)
    trace = up.trace(latents)
    exact = upsampling_exact(up, latents)
    rounded = exact.to_float(np.float64)
    assert same_float(rounded.output, trace.output)
    assert len(exact.transitions) == len(trace.transitions)
    for mine, theirs in zip(rounded.transitions, trace.transitions):
        assert (mine.index, mine.level, mine.ups_filter, mine.preconcat_filter) == \
            (theirs.index, theirs.level, theirs.ups_filter, theirs.preconcat_filter)
        for stage in ("upsampled", "prefiltered", "output"):
            assert same_float(getattr(mine, stage), getattr(theirs, stage)), stage


@given(latent_pyramids(max_levels=4, max_side=10, max_channels=2, max_value=100.0),
       upsamplings(max_ups_k_size=12, max_preconcat_k_size=9, max_kernels=3))
def test_s6_float64_within_error_bounds_and_correct_rounding_is_closest(latents, up):
    actual = up.eval()(latents)
    exact = upsampling_exact(up, latents).output
    truth = exact.to_fractions().ravel()
    bound = fractions_of(error_bounds(up, latents, np.float64))
    computed = fractions_of(actual)
    rounded = fractions_of(exact.to_float(np.float64))
    assert actual.shape == exact.shape
    for a, r, e, b in zip(computed, rounded, truth, bound):
        assert abs(a - e) <= b
        assert abs(r - e) <= abs(a - e)


def test_s6_stages_match_trace_structure_and_rounded_convenience():
    up = Upsampling(8, 7, 2, 2)
    rng = np.random.default_rng(0)
    latents = [rng.standard_normal((2, c, h, w)) for c, h, w in [(1, 9, 7), (2, 5, 4), (1, 3, 2)]]
    trace = up.trace(latents)
    exact = upsampling_exact(up, latents)
    rounded = upsampling_exact_rounded(up, latents, np.float32)
    assert rounded.output.dtype == np.float32 and rounded.output.shape == trace.output.shape
    assert same_float(rounded.output, exact.output.to_float(np.float32))
    for step, theirs in zip(exact.transitions, trace.transitions):
        for stage in ("upsampled", "prefiltered", "output"):
            assert getattr(step, stage).shape == getattr(theirs, stage).shape
        # The output of a step is [prefiltered, upsampled], exactly.
        C = step.prefiltered.shape[1]
        assert step.output[:, :C].to_fractions().tolist() == step.prefiltered.to_fractions().tolist()
        assert step.output[:, C:].to_fractions().tolist() == step.upsampled.to_fractions().tolist()


def test_s6_one_level_returns_the_input_and_biases_are_ignored():
    up = Upsampling(4, 3, 1, 1)
    params = up.get_param()
    params["conv_transpose2ds.0.bias"] = np.array([5.0])
    params["conv2ds.0.bias"] = np.array([-3.0])
    up.set_param(params)
    y = np.array([[[[0.1, -2.5]]]])
    single = upsampling_exact(up, [y])
    assert single.transitions == [] and single.output.to_fractions().tolist() == [[[
        [Fraction(0.1), Fraction(-2.5)]]]]
    two = upsampling_exact(up, [np.zeros((1, 1, 2, 2)), np.ones((1, 1, 1, 1))])
    # Bilinear init: 1 stays 1; Dirac pre-filter: 0 stays 0; no bias anywhere.
    assert two.output.to_float().tolist() == [[[[0.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]]]]


def test_s6_refuses_non_finite_values():
    up = Upsampling(4, 3, 1, 1)
    bad = np.ones((1, 1, 2, 2))
    bad[0, 0, 0, :] = np.nan
    bad[0, 0, 1, 0] = -np.inf
    with pytest.raises(ValueError, match=r"^latents\[1\] must hold finite values for the exact "
                                         r"oracle; got 3 NaN/inf$"):
        upsampling_exact(up, [np.ones((1, 1, 4, 4)), bad])
    params = up.get_param()
    params["conv2ds.0.parametrizations.weight.original"] = np.array([np.inf, 1.0])
    up.set_param(params)
    with pytest.raises(ValueError, match=r"^conv2ds\.0\.parametrizations\.weight\.original must "
                                         r"hold finite values for the exact oracle; got 1 NaN/inf$"):
        upsampling_exact(up, [np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2))])
    with pytest.raises(ValueError, match=r"^x must hold finite values"):
        upsample_exact([[np.nan]], [0.25, 0.75, 0.75, 0.25])


def test_s6_refuses_what_the_module_refuses():
    with pytest.raises(ValueError, match="n_ups_kernel must be >= 1"):
        upsampling_exact(Upsampling(4, 1, 0, 1), [np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1))])
    with pytest.raises(ValueError, match="at least half the size"):
        upsampling_exact(Upsampling(4, 1, 1, 1), [np.ones((1, 1, 8, 8)), np.ones((1, 1, 1, 1))])


# -- the committed golden suite ----------------------------------------------------------

SUITE = default_suite_path()
needs_suite = pytest.mark.skipif(SUITE is None, reason="no committed golden suite (data/golden)")


@functools.lru_cache(maxsize=None)
def golden():
    return load_suite(SUITE)


def golden_ids():
    """Case ids from the manifest alone (collection stays cheap; loading checks everything)."""
    if SUITE is None:
        return []
    return [entry["id"] for entry in json.loads((SUITE / "manifest.json").read_text())["cases"]]


@functools.lru_cache(maxsize=None)
def golden_case(case_id):
    """(entry, arrays, module, latents, exact trace) of one committed case."""
    manifest, data = golden()
    entry = next(e for e in manifest["cases"] if e["id"] == case_id)
    arrays = data[case_id]
    config = {key: value for key, value in entry["config"].items() if key != "n_levels"}
    up = Upsampling(**config, empty_levels=entry.get("empty_levels", "stop"))
    up.set_param({name: arrays["param." + name] for name in up.get_param() if "param." + name in arrays})
    latents = [arrays[f"latent_{i}"] for i in range(entry["config"]["n_levels"])]
    return entry, arrays, up, latents, upsampling_exact(up, latents)


def stages(case_id):
    """(stored array, exact Dyadic, sub-pyramid that produced it, channel slice) per stage.

    Transition ``idx`` into level ``l`` is the last step of the module run on
    ``y_l .. y_{L-1}``: its output is that run's output, with the pre-filtered
    level in the first ``C_l`` channels and the upsampled tensor after them.
    """
    entry, arrays, up, latents, exact = golden_case(case_id)
    yield arrays["output"], exact.output, latents, np.s_[...]
    for step in exact.transitions:
        C = step.prefiltered.shape[1]
        for stage, part in [("upsampled", np.s_[:, C:]), ("prefiltered", np.s_[:, :C])]:
            yield (arrays[f"transition_{step.index}.{stage}"], getattr(step, stage),
                   latents[step.level:], part)


def exactly_within(actual, exact, bound):
    """``|actual - exact| <= bound`` element-wise, decided in exact integer arithmetic."""
    a, b = Dyadic.from_array(actual), Dyadic.from_array(bound)
    scale = max(a.scale, exact.scale, b.scale)
    diff = a.with_scale(scale).numerators - exact.with_scale(scale).numerators
    return (np.abs(diff) <= b.with_scale(scale).numerators).astype(bool)


@needs_suite
@pytest.mark.parametrize("case_id", golden_ids())
def test_golden_expected_values_are_the_exact_values_correctly_rounded(case_id):
    entry, arrays, up, latents, exact = golden_case(case_id)
    for dtype, suffix in [(np.float64, ""), (np.float32, ".f32")]:
        assert_array_equal(arrays["output" + suffix], exact.output.to_float(dtype), strict=True)
        for step in exact.transitions:
            for stage in ("upsampled", "prefiltered"):
                assert_array_equal(arrays[f"transition_{step.index}.{stage}{suffix}"],
                                   getattr(step, stage).to_float(dtype), strict=True)


@needs_suite
@pytest.mark.parametrize("case_id", golden_ids())
def test_golden_separable_path_within_its_bounds_of_the_exact_values(case_id):
    entry, arrays, up, latents, exact = golden_case(case_id)
    computed = up.trace(latents)
    bounds = stage_bounds(up, latents, np.float64)
    assert exactly_within(computed.output, exact.output, bounds["output"]).all()
    for step, fast in zip(exact.transitions, computed.transitions):
        for stage in ("upsampled", "prefiltered"):
            bound = bounds[f"transition_{step.index}.{stage}"]
            assert exactly_within(getattr(fast, stage), getattr(step, stage), bound).all()


# -- the fast oracle: digit arrays (refups.limbs) against Python integers ---------------


def same_trace(fast, slow):
    """Bit for bit: output and every stage, shapes and bytes (so -0.0, inf and NaN count)."""
    pairs = [(fast.output, slow.output)] + [
        (getattr(f, stage), getattr(s, stage)) for f, s in zip(fast.transitions, slow.transitions)
        for stage in ("upsampled", "prefiltered", "output")]
    assert len(fast.transitions) == len(slow.transitions)
    assert [(a.shape, a.dtype) for a, _ in pairs] == [(b.shape, b.dtype) for _, b in pairs]
    return all(a.tobytes() == b.tobytes() for a, b in pairs)


@needs_suite
@pytest.mark.parametrize("case_id", golden_ids())
def test_the_fast_oracle_gives_the_golden_values(case_id):
    entry, arrays, up, latents, exact = golden_case(case_id)
    for dtype in (np.float64, np.float32):
        assert same_trace(upsampling_exact_rounded(up, latents, dtype), exact.to_float(dtype))


def extreme_floats():
    """Signed floats of any exponent from 2**-70 to 2**70 with full 53-bit significands, and zeros."""
    return st.one_of(st.just(0.0), st.builds(
        lambda m, e, sign: sign * math.ldexp(m, e), st.integers(2**52, 2**53 - 1), st.integers(-122, 18),
        st.sampled_from([-1.0, 1.0])))


@st.composite
def hard_modules(draw):
    """Modules whose half-kernels are arbitrary float64 (large numerators), or as a decoder gives them."""
    up = draw(upsamplings(max_ups_k_size=10, max_preconcat_k_size=7, max_kernels=3))
    module = Upsampling(up.ups_k_size, up.ups_preconcat_k_size, up.n_ups_kernel, up.n_ups_preconcat_kernel,
                        empty_levels=draw(st.sampled_from(["stop", "continue"])))
    params = up.get_param()
    if draw(st.booleans()):
        for name, value in params.items():
            if name.endswith("original"):
                params[name] = np.array([draw(extreme_floats()) for _ in value])
    module.set_param(params)
    return module


@settings(max_examples=settings.default.max_examples * 2)  # thorough: 600
@given(st.one_of(latent_pyramids(min_channels=0, max_levels=4, max_side=9, max_batch=2),
                 latent_pyramids(max_levels=3, max_side=6, max_channels=1).flatmap(
                     lambda pyramid: st.tuples(*[st.lists(extreme_floats(), min_size=y.size, max_size=y.size).map(
                         lambda v, s=y.shape: np.array(v).reshape(s)) for y in pyramid]).map(list))),
       hard_modules(), st.sampled_from([np.float64, np.float32]))
def test_the_fast_oracle_is_the_python_integer_oracle_bit_for_bit(latents, up, dtype):
    with np.errstate(over="ignore"):
        assert same_trace(upsampling_exact_rounded(up, latents, dtype), upsampling_exact(up, latents).to_float(dtype))


def test_inputs_the_digits_cannot_hold_take_the_python_integer_oracle():
    long = Upsampling(66, 3, 1, 1)  # 66 taps: more than refups.limbs.MAX_TAPS
    long.set_param({name: np.full(value.shape, 0.1) for name, value in long.get_param().items()})
    latents = [np.ones((1, 1, 3, 2)), np.full((1, 1, 2, 1), 0.3)]
    assert same_trace(upsampling_exact_rounded(long, latents), upsampling_exact(long, latents).to_float(np.float64))
    up = Upsampling(4, 3, 1, 1)
    big = [np.array([[[[2**62 + 1]]]], dtype=np.int64), np.array([[[[3]]]], dtype=np.int64)]
    assert same_trace(upsampling_exact_rounded(up, big), upsampling_exact(up, big).to_float(np.float64))
    with pytest.raises(ValueError, match=r"^latents\[1\] must hold finite values for the exact oracle; got 1 NaN/inf$"):
        upsampling_exact_rounded(up, [np.ones((1, 1, 2, 2)), np.full((1, 1, 1, 1), np.nan)])


def test_the_fast_oracle_gives_the_same_bits_on_any_number_of_threads():
    from refups.realdata import real_model

    model = real_model("kodim14")
    up = Upsampling(*model.config)
    up.set_param(model.params)
    latents = [y[:, :, :2 ** (7 - i), :2 ** (8 - i)] for i, y in enumerate(model.latents)]  # 128x256
    one, two = (upsampling_exact_rounded(up, latents, workers=n) for n in (1, 2))
    assert same_trace(one, two)


@given(latent_pyramids(min_channels=0, max_levels=4, max_side=11, max_batch=2),
       upsamplings(max_ups_k_size=12, max_preconcat_k_size=9, max_kernels=2))
def test_the_fast_oracle_gives_the_same_bits_strip_by_strip(latents, up):
    # One column (upsampling) or one row (pre-concatenation filter) per strip: every strip edge is
    # inside the image, where the halo, not the padding, must give the outputs.
    import refups.exact

    whole = upsampling_exact(up, latents).to_float(np.float64)
    saved = refups.exact._BLOCK_BYTES
    refups.exact._BLOCK_BYTES = 1
    try:
        assert same_trace(upsampling_exact_rounded(up, latents), whole)
    finally:
        refups.exact._BLOCK_BYTES = saved


def test_the_fast_oracle_rounds_ties_of_large_numerators_to_even():
    # The pre-concatenation filter halves 2**51 + 1 + 2**-16: the exact 2814749767106561.25 is a tie
    # between two float64 neighbours, and goes to the even one.
    up = Upsampling(4, 3, 1, 1)
    params = up.get_param()
    params["conv2ds.0.parametrizations.weight.original"] = np.array([0.0, 0.5])
    up.set_param(params)
    latents = [np.array([[[[2.0**51 + 1, 2.0**-16]]]]), np.zeros((1, 1, 1, 1))]
    fast, slow = upsampling_exact_rounded(up, latents), upsampling_exact(up, latents).to_float(np.float64)
    assert same_trace(fast, slow) and fast.output[0, 0, 0, 0] == 2814749767106561.0


def test_the_fast_oracle_takes_an_empty_batch():
    up = Upsampling(4, 3, 1, 1)
    latents = [np.zeros((0, 1, 4, 4)), np.zeros((0, 1, 2, 2))]
    fast = upsampling_exact_rounded(up, latents)
    assert fast.output.shape == (0, 2, 4, 4) and same_trace(fast, upsampling_exact(up, latents).to_float(np.float64))
