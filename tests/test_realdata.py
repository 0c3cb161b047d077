"""Real Cool-chic models (refups/real_models/): the data, their windows in the suite, and
Cool-chic's own decoder output against refups."""

import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refups import Upsampling
from refups.bounds import stage_bounds
from refups.cases import CASES_BY_ID
from refups.cli import main
from refups.exact import upsampling_exact
from refups.realdata import REAL_MODELS, decoder_output, real_model, window
from refups.verification import judge

COMMITTED = pathlib.Path(__file__).resolve().parents[1] / "data" / "golden"


@pytest.mark.parametrize("name", REAL_MODELS)
def test_real_models_are_what_their_metadata_says(name):
    model = real_model(name)
    meta = model.meta
    assert [list(y.shape[1:]) for y in model.latents] == meta["levels"]
    values = np.concatenate([y.ravel() for y in model.latents])
    assert np.array_equal(values, np.round(values))  # the decoder's integers
    assert [values.min(), values.max()] == meta["latent_range"]
    assert np.count_nonzero(values) / values.size == pytest.approx(meta["latent_nonzero_fraction"])
    # Every weight is n * 2**-s, one s per model (S12), and there are no biases (S8).
    described = real_model(name).params
    from refups.io import read_json
    with_integers = read_json(pathlib.Path(__file__).resolve().parents[1] / "refups" / "real_models" / name
                              / "params.json")["integer_weights"]
    for key, weights in described.items():
        n = np.asarray(with_integers["numerators_n"][key], dtype=np.float64)
        assert np.array_equal(weights, n * 2.0 ** -with_integers["shift_s"])
    assert not [key for key in described if key.endswith(".bias")]
    assert model.config == (8, 7, 6, 6)


@given(st.sampled_from(REAL_MODELS), st.integers(0, 8), st.integers(0, 8), st.integers(1, 130),
       st.integers(1, 130))
def test_windows_keep_the_level_size_rule_and_the_decoded_values(name, row, column, height, width):
    model = real_model(name)
    top, left = 64 * row, 64 * column
    try:
        levels = window(model.latents, top, left, height, width)
    except ValueError as error:
        assert "the window leaves level" in str(error)
        return
    for i, (y, full) in enumerate(zip(levels, model.latents)):
        assert y.shape[2:] == (-(-height // 2**i), -(-width // 2**i))  # S6.7: H_{i+1} = ceil(H_i / 2)
        assert np.array_equal(y, full[:, :, top // 2**i:top // 2**i + y.shape[2],
                                      left // 2**i:left // 2**i + y.shape[3]])


def test_windows_must_be_aligned_on_the_coarsest_grid():
    with pytest.raises(ValueError, match=r"top must be a multiple of 2\*\*\(levels - 1\) = 64; got 32"):
        window(real_model("kodim14").latents, 32, 0, 8, 8)
    with pytest.raises(ValueError, match=r"name must be one of kodim14, .*; got 'lena'"):
        real_model("lena")


def test_the_suite_holds_every_real_model_with_its_provenance():
    import json
    manifest = json.loads((COMMITTED / "manifest.json").read_text())
    real = {entry["id"]: entry for entry in manifest["cases"] if "real_model" in entry["flags"]}
    assert set(real) == {f"real_{name}" for name in REAL_MODELS} | {"real_basketball_b_motion_4_0"}
    for name in REAL_MODELS:
        entry = real[f"real_{name}"]
        # Every profile; the motion instance, whose finest levels are empty, the current release line's.
        older = set() if name == "basketball_b_motion" else {"coolchic_4_0", "coolchic_3_4"}
        assert set(entry["profiles"]) == {"full", "coolchic", "bitstream"} | older
        assert entry["source"].startswith("real: Cool-chic's sample bitstream samples/bitstreams/")
        assert "BSD 3-Clause" in entry["source"] and f"refups/real_models/{name}" in entry["source"]
        # The case's latents are the window of the real model, as the case says.
        case = CASES_BY_ID[f"real_{name}"]
        _, top, left = case.real
        expected = window(real_model(name).latents, top, left, *case.shapes[0][2:])
        for i, y in enumerate(expected):
            assert np.array_equal(np.load(COMMITTED / case.id / f"latent_{i}.npy"), y)
    motion = real["real_basketball_b_motion"]
    assert "S6.4" in motion["clauses"] and "empty_level_stop" in motion["flags"]
    output = next(spec for spec in motion["files"] if spec["path"] == "output.npy")
    assert output["shape"] == [1, 5, 48, 80]  # stops at level 2, as Cool-chic's decoder does
    # The same instance as Cool-chic 4.0 decodes it: the two empty levels skipped, full resolution.
    older = real["real_basketball_b_motion_4_0"]
    assert older["profiles"] == ["coolchic_4_0"] and older["empty_levels"] == "continue"
    assert "S6.8" in older["clauses"] and "empty_level_continue" in older["flags"]
    assert "BSD 3-Clause" in older["source"] and "refups/real_models/basketball_b_motion" in older["source"]
    case = CASES_BY_ID["real_basketball_b_motion_4_0"]
    expected = window(real_model("basketball_b_motion").latents, *case.real[1:], *case.shapes[0][2:])
    for i, y in enumerate(expected):
        assert np.array_equal(np.load(COMMITTED / case.id / f"latent_{i}.npy"), y)
    output = next(spec for spec in older["files"] if spec["path"] == "output.npy")
    assert output["shape"] == [1, 5, 96, 160]


def test_coolchic_decoder_output_is_within_the_float32_bound():
    """Cool-chic 4.2.1's C++ decoder (AVX2 float path) on a real B-frame motion instance."""
    model = real_model("basketball_b_motion")
    up = Upsampling(*model.config)
    up.set_param(model.params)
    decoded = decoder_output("basketball_b_motion")
    exact = upsampling_exact(up, model.latents)
    expected, rounded = exact.to_float(np.float64).output, exact.to_float(np.float32).output
    assert decoded.shape == expected.shape == (1, 5, 120, 208) and decoded.dtype == np.float32
    bound = stage_bounds(up, model.latents, np.float32)["output"]
    result = judge(decoded, expected, rounded, bound, 0.0, 0.0)
    assert result["tier"] == "pass"
    # Measured: 0.0245 of the bound at worst, 2.3e-6 absolute (docs/conformance.md).
    assert 0.02 < result["max_error_over_bound"] < 0.03
    assert 2e-6 < result["max_abs"] < 2.5e-6
    # Level 2 is only pre-filtered, once: there the decoder is bit-exact.
    assert np.array_equal(decoded[:, 0], rounded[:, 0])


def test_a_float32_candidate_on_the_real_motion_case_reads_as_the_pass_it_is(tmp_path, capsys):
    case = "real_basketball_b_motion"
    model = real_model("basketball_b_motion")
    up = Upsampling(*model.config)
    up.set_param(model.params)
    latents = [np.load(COMMITTED / case / f"latent_{i}.npy").astype(np.float32) for i in range(7)]
    (tmp_path / case).mkdir()
    np.save(tmp_path / case / "output.npy", up(latents))
    status = main(["verify", str(tmp_path), "--golden", str(COMMITTED), "--select", case])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(case)).split()
    assert status == 0 and row[-1] == "PASS" and row[1] == "float32" and row[6] == "pass"
    err_bound, max_abs, max_rel, max_ulp = map(float, row[2:6])
    assert err_bound < 0.05 and max_abs < 1e-5
    assert max_rel < 1e-6 and max_ulp < 16  # against each plane's scale: finite and small
    assert "against S, the largest |expected| of its plane" in out
    # Element by element, near-zero expected values make the same errors look large.
    expected = np.load(COMMITTED / case / "output.npy")
    actual = np.load(tmp_path / case / "output.npy").astype(np.float64)
    nonzero = expected != 0
    elementwise = np.max(np.abs(actual - expected)[nonzero] / np.abs(expected[nonzero]))
    assert elementwise > 100 * max_rel
