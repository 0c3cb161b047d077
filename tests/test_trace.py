"""refups run --trace DIR: a run's intermediates, laid out as a golden case."""

import pathlib
import re

import numpy as np
import pytest

from refups import Upsampling
from refups.cli import main
from refups.explain import write_trace
from refups.io import load_params, params_to_json
from refups.output import save_npy, write_json

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "data" / "golden"


def run(capsys, *argv):
    status = main(["run", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def golden_inputs(case_dir):
    latents = sorted(case_dir.glob("latent_*.npy"), key=lambda p: int(p.stem.split("_")[1]))
    return case_dir / "params.json", latents


def case_lines(path):
    return {line.split()[0] + (" " + line.split()[1] if line.split()[0] in ("latent", "param", "stage") else ""):
            line for line in path.read_text().splitlines()}


@pytest.mark.parametrize("case", ["s4_worked_example", "odd_7x5", "zero_channel_stop", "one_level"])
def test_trace_has_the_layout_and_values_of_the_golden_case(case, tmp_path, capsys):
    case_dir = GOLDEN / case
    params, latents = golden_inputs(case_dir)
    trace = tmp_path / "trace"
    status, out, err = run(capsys, "--params", params, "--latents", *latents, "--out", tmp_path / "out.npy",
                           "--trace", trace)
    assert status == 0, err
    # The same files as the golden case, but the float32 expectations (.f32.npy),
    # which a float64 run does not compute.
    golden_names = {p.name for p in case_dir.iterdir() if not p.name.endswith(".f32.npy")}
    assert {p.name for p in trace.iterdir()} == golden_names
    np.testing.assert_array_equal(np.load(trace / "output.npy"), np.load(tmp_path / "out.npy"))
    for path in case_dir.glob("*.npy"):
        if path.name.endswith(".f32.npy"):
            continue
        expected, actual = np.load(path), np.load(trace / path.name)
        assert actual.dtype == np.float64 and actual.shape == expected.shape, path.name
        # Inputs and parameters are copied; stages agree to float64 rounding
        # (the golden stages are the exact values, correctly rounded).
        np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-13 * np.abs(expected).max(initial=1.0),
                                   err_msg=path.name)
    assert dict(load_params(trace / "params.json")).keys() == dict(load_params(params)).keys()
    for name, value in load_params(params).items():
        np.testing.assert_array_equal(load_params(trace / "params.json")[name], value)
    # case.txt: the same lines but the id and what only a golden case knows (flags, clauses).
    mine, theirs = case_lines(trace / "case.txt"), case_lines(case_dir / "case.txt")
    assert mine["id"] == "id trace" and mine["flags"] == "flags 0" and mine["clauses"] == "clauses 0"
    for key in set(theirs) - {"id", "flags", "clauses"}:
        assert mine[key] == theirs[key], key


def test_trace_of_an_exact_case_is_bit_for_bit(tmp_path, capsys):
    case_dir = GOLDEN / "exact_dyadic_ups8"
    params, latents = golden_inputs(case_dir)
    status, _, _ = run(capsys, "--params", params, "--latents", *latents, "--out", tmp_path / "o.npy",
                       "--trace", tmp_path / "t")
    assert status == 0
    for path in case_dir.glob("*.npy"):
        if not path.name.endswith(".f32.npy"):
            np.testing.assert_array_equal(np.load(tmp_path / "t" / path.name), np.load(path), err_msg=path.name)


def test_trace_in_float32_and_dense(tmp_path, capsys):
    params, latents = golden_inputs(GOLDEN / "odd_7x5")
    status, _, _ = run(capsys, "--params", params, "--latents", *latents, "--out", tmp_path / "o.npy",
                       "--dtype", "float32", "--dense", "--trace", tmp_path / "t")
    assert status == 0
    stages = [p for p in (tmp_path / "t").glob("*.npy") if not p.name.startswith("param.")]
    assert stages and all(np.load(p).dtype == np.float32 for p in stages)
    np.testing.assert_array_equal(np.load(tmp_path / "t" / "output.npy"), np.load(tmp_path / "o.npy"))


def test_trace_transitions_match_the_module(tmp_path):
    up = Upsampling(6, 3, 2, 1)
    rng = np.random.default_rng(0)
    latents = [rng.standard_normal(shape) for shape in [(2, 1, 7, 5), (2, 2, 4, 3), (2, 1, 2, 2)]]
    trace = write_trace(tmp_path / "My Trace!", up, latents)
    folder = tmp_path / "My Trace!"
    for step in trace.transitions:
        np.testing.assert_array_equal(np.load(folder / f"transition_{step.index}.upsampled.npy"), step.upsampled)
        np.testing.assert_array_equal(np.load(folder / f"transition_{step.index}.prefiltered.npy"),
                                      step.prefiltered)
    np.testing.assert_array_equal(np.load(folder / "output.npy"), up(latents))
    text = (folder / "case.txt").read_text().splitlines()
    assert text[0] == "refups-case 1" and text[1] == "id my_trace" and text[-1] == "end"
    assert "profiles 1 full" in text  # two channels on a pre-filtered level: only the full profile
    assert [line for line in text if line.startswith("stage")] == [
        "stage transition_0.upsampled transition_0.upsampled.npy 4 2 1 4 3",
        "stage transition_0.prefiltered transition_0.prefiltered.npy 4 2 2 4 3",
        "stage transition_1.upsampled transition_1.upsampled.npy 4 2 3 7 5",
        "stage transition_1.prefiltered transition_1.prefiltered.npy 4 2 1 7 5",
        "stage output output.npy 4 2 4 7 5"]
    hexes = {line.split()[1]: [float.fromhex(v) for v in line.split()[3:]]
             for line in text if line.startswith("param ")}
    for name, value in up.get_param().items():
        assert hexes[name] == list(value)


def test_trace_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    params, latents = golden_inputs(GOLDEN / "s4_worked_example")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "mine.npy").write_bytes(b"")
    status, _, err = run(capsys, "--params", params, "--latents", *latents, "--out", tmp_path / "o.npy",
                         "--trace", tmp_path / "t")
    assert status == 2 and err.count("\n") == 1
    assert re.search(r"^refups run: error: .*t: is not empty; give a new or empty folder for the trace$", err), err
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["mine.npy"]
    assert not (tmp_path / "o.npy").exists()


def test_trace_into_an_empty_folder(tmp_path, capsys):
    params = tmp_path / "p.json"
    write_json(params, params_to_json(Upsampling(4, 1, 1, 1).get_param()))
    save_npy(tmp_path / "y0.npy", np.ones((1, 1, 2, 2)))
    save_npy(tmp_path / "y1.npy", np.ones((1, 1, 1, 1)))
    (tmp_path / "t").mkdir()
    status, _, err = run(capsys, "--params", params, "--latents", tmp_path / "y0.npy", tmp_path / "y1.npy",
                         "--out", tmp_path / "o.npy", "--trace", tmp_path / "t")
    assert status == 0, err
    assert (tmp_path / "t" / "transition_0.upsampled.npy").is_file()
