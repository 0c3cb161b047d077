"""Acceptance bounds and verdict tiers: correct implementations in any order stay inside
their bounds (checked against the exact oracle), and precision losses are caught."""

import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refups import Upsampling
from refups.bounds import gamma, magnitude_module, operation_counts, stage_bounds
from refups.exact import Dyadic, upsampling_exact
from refups.suite import load_suite
from refups.testing import latent_pyramids, upsamplings
from refups.verification import verify

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "data" / "golden"


def within(actual, exact, bound):
    """``|actual - exact| <= bound`` element-wise, decided in exact integer arithmetic."""
    a, b = Dyadic.from_array(np.asarray(actual, dtype=np.float64)), Dyadic.from_array(bound)
    scale = max(a.scale, exact.scale, b.scale)
    difference = a.with_scale(scale).numerators - exact.with_scale(scale).numerators
    return (np.abs(difference) <= b.with_scale(scale).numerators).astype(bool)


def dense(up, latents):
    return up.train()(latents)


def separable(up, latents):
    return up.eval()(latents)


@settings(max_examples=settings().max_examples * 5)  # 1500 draws in the thorough profile
@given(st.data())
def test_correct_implementations_never_leave_their_bounds(data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    latents = data.draw(latent_pyramids(max_levels=4, max_side=10, min_channels=0, max_channels=2,
                                        max_value=1e3, dtype=dtype), label="latents")
    up = data.draw(upsamplings(max_ups_k_size=12, max_preconcat_k_size=9, max_kernels=3, max_value=2.0),
                   label="up")
    path = data.draw(st.sampled_from([separable, dense]), label="path")
    exact = upsampling_exact(up, latents).output
    bound = stage_bounds(up, latents, dtype)["output"]
    assert within(path(up, latents), exact, bound).all()


@given(latent_pyramids(max_levels=4, max_side=12, min_channels=0, max_channels=2, max_value=1e3),
       upsamplings(max_ups_k_size=12, max_preconcat_k_size=9, max_kernels=3, max_value=2.0))
def test_float64_magnitudes_are_within_gamma_n_of_the_exact_sums_of_absolute_terms(latents, up):
    # The bound's B: the magnitude module (polyphase upsampling, another order of the
    # additions) in float64 must stay within gamma_N B of the exact B, N the longest
    # chain of operations (every filter counted as the costlier one), plus what
    # underflow loses, which the bound's N * tiny covers.
    magnitude = magnitude_module(up)
    absolute = [np.abs(y) for y in latents]
    computed = magnitude.trace(absolute)
    exact = upsampling_exact(magnitude, absolute)
    assert len(computed.transitions) == len(exact.transitions)
    n = 1 + len(latents) * max(operation_counts(up.ups_k_size, up.ups_preconcat_k_size))
    relative = float(gamma(n, 2.0 ** -53))
    pairs = [(computed.output, exact.output)]
    for step, exact_step in zip(computed.transitions, exact.transitions):
        pairs += [(step.upsampled, exact_step.upsampled), (step.prefiltered, exact_step.prefiltered)]
    for value, exact_value in pairs:
        allowed = relative * np.abs(exact_value.to_float(np.float64)) + n * np.finfo(np.float64).tiny
        assert within(value, exact_value, allowed).all()


def float16_intermediates(up, latents):
    """A float32 implementation that stores every transition's result in float16."""
    u = latents[-1].astype(np.float32)
    for idx, t in enumerate(reversed(latents[:-1])):
        if t.shape[1] == 0:
            break
        x = up.conv_transpose2ds[idx % up.n_ups_kernel](u)[:, :, :t.shape[2], :t.shape[3]]
        h = up.conv2ds[idx % up.n_ups_preconcat_kernel](t.astype(np.float32))
        with np.errstate(over="ignore"):  # large values overflow float16: part of the bug
            u = np.concatenate([h, x], axis=1).astype(np.float16).astype(np.float32)
    return u


@pytest.fixture(scope="module")
def suite():
    return load_suite(GOLDEN)


def write_candidate(suite, out, implementation, dtype):
    manifest, data = suite
    for entry in manifest["cases"]:
        arrays = data[entry["id"]]
        config = {key: value for key, value in entry["config"].items() if key != "n_levels"}
        up = Upsampling(**config)
        up.set_param({name: arrays[f"param.{name}"] for name in up.get_param() if f"param.{name}" in arrays})
        latents = [arrays[f"latent_{i}"].astype(dtype) for i in range(entry["config"]["n_levels"])]
        (out / entry["id"]).mkdir(parents=True)
        np.save(out / entry["id"] / "output.npy", implementation(up, latents))
    return out


@pytest.mark.parametrize("implementation", [separable, dense])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_correct_implementations_pass_every_case(suite, tmp_path, implementation, dtype):
    report = verify(write_candidate(suite, tmp_path / "out", implementation, dtype), golden=GOLDEN)
    assert report["verdict"] == "PASS"
    assert {row["tier"] for row in report["cases"]} <= {"exact", "pass"}
    assert all(row["max_error_over_bound"] <= 1 for row in report["cases"])
    # Cases whose values are exact in the dtype are bit-equal to the correctly rounded value.
    exact_ids = {entry["id"] for entry in suite[0]["cases"] if entry["exact"]}
    assert {row["id"] for row in report["cases"] if row["tier"] == "exact"} >= exact_ids


def test_float16_intermediates_are_caught_on_most_cases(suite, tmp_path):
    report = verify(write_candidate(suite, tmp_path / "out", float16_intermediates, np.float32),
                    golden=GOLDEN)
    tiers = [row["tier"] for row in report["cases"]]
    caught = sum(tier in ("warn", "fail") for tier in tiers)
    transitions = sum(entry["config"]["n_levels"] > 1 for entry in suite[0]["cases"])
    assert caught > transitions / 2, tiers
    assert report["verdict"] == "FAIL"


def test_each_tier_on_one_case(suite, tmp_path):
    manifest, data = suite
    case = "random_ups8_pre7"
    arrays = data[case]
    up = Upsampling(8, 7, 3, 3)
    up.set_param({name: arrays[f"param.{name}"] for name in up.get_param()})
    latents = [arrays[f"latent_{i}"].astype(np.float32) for i in range(4)]
    bound = stage_bounds(up, latents, np.float32)["output"]
    rounded = arrays["output.f32"]
    entry = next(entry for entry in manifest["cases"] if entry["id"] == case)
    loose = entry["tolerance"]["float32"]["atol"] + entry["tolerance"]["float32"]["rtol"] * np.abs(arrays["output"])
    assert (bound < loose / 4).any()
    # Half-way between the bound and the loose tolerance where there is room: outside one, inside the other.
    offset = np.where(bound < loose / 4, (bound + loose) / 2, 0.0)
    candidates = {
        "exact": rounded,
        "pass": dense(up, latents),
        "warn": (arrays["output"] + offset).astype(np.float32),
        "fail": (arrays["output"] + 1e-3 * np.abs(arrays["output"]).max()).astype(np.float32),
    }
    for tier, output in candidates.items():
        folder = tmp_path / tier / case
        folder.mkdir(parents=True)
        np.save(folder / "output.npy", output)
        row = verify(tmp_path / tier, golden=GOLDEN, select=[case])["cases"][0]
        assert row["tier"] == tier, (tier, row)
        for required in ("exact", "pass", "warn"):
            passes = ("exact", "pass", "warn", "fail").index(tier) <= ("exact", "pass", "warn").index(required)
            assert verify(tmp_path / tier, golden=GOLDEN, select=[case], tier=required)["passed"] == passes


def test_bounds_are_infinite_where_the_model_bounds_nothing():
    # float32, a 4095-tap pre-filter then a 256-tap upsampling: N u >= 1 for the level
    # pre-filtered at transition 0 and upsampled at transition 1 (gamma_N has no meaning).
    up = Upsampling(256, 4095, 1, 1)
    latents = [np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1))]
    n_ups, n_pre = operation_counts(256, 4095)
    assert (1 + n_pre + n_ups) * 2.0 ** -24 >= 1 > (1 + n_pre) * 2.0 ** -24
    bounds32 = stage_bounds(up, latents, np.float32)["output"]
    assert np.isinf(bounds32[:, 1]).all() and np.isfinite(bounds32[:, [0, 2]]).all()
    assert np.isfinite(stage_bounds(up, latents, np.float64)["output"]).all()


def test_operation_counts_by_hand():
    # n_ups = max((k/2)^2 + 1, k) + 2 and n_pre = max(q^2 + 1, 2q + 1) + 2 (docs/tolerances.md):
    # the dense count wins for every even k >= 4, the separable one only for q = 1.
    assert [operation_counts(k, 1)[0] for k in (4, 8, 12)] == [4 + 1 + 2, 16 + 1 + 2, 36 + 1 + 2]
    assert [operation_counts(4, q)[1] for q in (1, 3, 7)] == [3 + 2, 9 + 1 + 2, 49 + 1 + 2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bounds_are_the_formula_on_a_case_computed_by_hand(dtype):
    # Bilinear upsampling (k = 4) and a Dirac pre-filter (q = 3, Z = 2 X): B is 2 |y_0| on
    # the pre-filtered channel (N = 1 + 12) and |-2| = 2 on the upsampled one (each phase
    # of the bilinear kernel sums to 1; N = 1 + 7). A zero sample has B = 0: only N tiny.
    up = Upsampling(4, 3, 1, 1)
    y0 = np.array([[[[3.0, 0.0], [-1.5, 2.0]]]])
    u, tiny = float(np.finfo(dtype).eps) / 2, float(np.finfo(dtype).tiny)

    def expected(n, b):  # gamma_N B (1 + 2 gamma_(N+8) in float64) + N tiny, with Python floats
        g, g64 = n * u / (1 - n * u), (n + 8) * 2.0 ** -53 / (1 - (n + 8) * 2.0 ** -53)
        return g * b * (1 + 2 * g64) + n * tiny

    bounds = stage_bounds(up, [y0.astype(dtype), np.full((1, 1, 1, 1), -2.0, dtype)], dtype)
    want = np.concatenate([expected(13, 2 * np.abs(y0)), np.full(y0.shape, expected(8, 2.0))], axis=1)
    np.testing.assert_allclose(bounds["output"], want, rtol=2e-15, atol=0)
    assert bounds["output"][0, 0, 0, 1] == 13 * tiny  # B = 0
    assert bounds["output"].dtype == np.float64
    # No transition: the coarsest level rounded once, N = 1.
    alone = stage_bounds(up, [np.array([[[[-4.0, 0.0]]]], dtype=dtype)], dtype)["output"]
    np.testing.assert_allclose(alone, [[[[expected(1, 4.0), tiny]]]], rtol=2e-15, atol=0)


@given(latent_pyramids(max_levels=3, max_side=8, max_value=1e3, dtype=np.float32),
       upsamplings(max_ups_k_size=8, max_preconcat_k_size=5))
def test_bounds_depend_on_the_values_of_the_latents_not_on_their_dtype(latents, up):
    # B is computed in float64 whatever the latents' dtype (float32 would round it down).
    as32 = stage_bounds(up, latents, np.float32)
    as64 = stage_bounds(up, [y.astype(np.float64) for y in latents], np.float32)
    assert as32.keys() == as64.keys()
    for stage in as32:
        np.testing.assert_array_equal(as32[stage], as64[stage])
