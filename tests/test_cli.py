"""The refups command: golden, verify, run; exit statuses and one-line errors."""

import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import copy_expected, optional
from numpy.testing import assert_array_equal

from refups import Upsampling
from refups.cli import main
from refups.cases import CASES
from refups.suite import write_suite
from refups.io import params_to_json

FEW = CASES[:4]


@pytest.fixture()
def suite(tmp_path):
    return write_suite(tmp_path / "golden", cases=FEW)


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, pattern):
    assert status == 2
    assert err.count("\n") == 1, err
    assert re.search(pattern, err), err


def test_golden_writes_and_refuses_to_overwrite(tmp_path, capsys):
    status, out, _ = run(capsys, "golden", "--out", tmp_path / "g")
    assert status == 0 and out == f"wrote {len(CASES)} cases to {tmp_path / 'g'}\n"
    assert (tmp_path / "g" / "manifest.json").is_file()
    status, _, err = run(capsys, "golden", "--out", tmp_path / "g")
    assert_one_line_error(status, err, r"^refups golden: error: .*g: is not empty; pass --force to replace it$")
    assert run(capsys, "golden", "--out", tmp_path / "g", "--force")[0] == 0


def test_verify_pass_fail_and_json(suite, tmp_path, capsys):
    candidate = copy_expected(suite, tmp_path / "cand")
    status, out, _ = run(capsys, "verify", candidate, "--golden", suite, "--json", tmp_path / "r.json")
    assert status == 0 and out.splitlines()[-3:] == [
        "verify: 4 passed, 0 failed",
        "tiers: 4 exact, 0 pass, 0 warn, 0 fail (lowest passing tier: pass)",
        "verdict for profile full: PASS (4 of 4 cases passed)"]
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is True
    path = candidate / "initial_ups4_pre1" / "output.npy"
    array = np.load(path)
    array.flat[np.argmax(np.abs(array))] *= 1 + 1e-9
    np.save(path, array)
    status, out, _ = run(capsys, "verify", candidate, "--golden", suite, "--json", tmp_path / "r.json")
    assert status == 1
    row = next(line for line in out.splitlines() if line.startswith("initial_ups4_pre1"))
    assert "output" in row and "FAIL" in row
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["id"] for r in report["cases"] if r["status"] == "FAIL"] == ["initial_ups4_pre1"]


def test_verify_missing_output_is_a_failure_not_an_error(suite, tmp_path, capsys):
    candidate = copy_expected(suite, tmp_path / "cand")
    (candidate / FEW[0].id / "output.npy").unlink()
    status, out, _ = run(capsys, "verify", candidate, "--golden", suite)
    assert status == 1 and "missing" in out


@pytest.mark.parametrize("breakage, pattern", [
    ("checksum", r"latent_0\.npy: checksum mismatch with manifest\.json$"),
    ("manifest", r"manifest\.json: is not valid JSON"),
    ("no-candidate", r"nowhere: no such folder$"),
    ("profile", r"profile must be one of 'full', 'coolchic', 'bitstream', 'coolchic_4_0', 'coolchic_3_4'; got 'cool-chic'$"),
    ("select", r"--select must name case ids, flags or clause ids of the suite; got 'nothing'$"),
    ("empty-selection", r"no case of the suite is left to run"),
    ("run-without-out", r"--run must contain \{case\} and \{out\}; got 'true \{case\}'$"),
    ("timeout", r"--timeout must be a number of seconds > 0; got -1\.0$"),
])
def test_verify_unusable_suite_or_arguments_exit_2_with_one_line(suite, tmp_path, capsys, breakage, pattern):
    candidate = copy_expected(suite, tmp_path / "cand")
    extra = []
    if breakage == "checksum":
        latent = suite / FEW[0].id / "latent_0.npy"
        array = np.load(latent)
        array.flat[0] += 1
        np.save(latent, array)
    elif breakage == "manifest":
        (suite / "manifest.json").write_text("{")
    elif breakage == "no-candidate":
        candidate = tmp_path / "nowhere"
    else:
        extra = {"profile": ["--profile", "cool-chic"], "select": ["--select", "nothing"],
                 "empty-selection": ["--select", FEW[0].id, "--skip", FEW[0].id],
                 "run-without-out": ["--run", "true {case}"],
                 "timeout": ["--run", "true {case} {out}", "--timeout", "-1"]}[breakage]
    status, _, err = run(capsys, "verify", candidate, "--golden", suite, *extra)
    assert_one_line_error(status, err, r"^refups verify: error: .*" + pattern)


@pytest.mark.parametrize("breakage, reason", [
    ("corrupt", r"output: output\.npy is not a valid \.npy file"),
    ("pickled", r"output: output\.npy holds pickled objects, which refups never loads\)$"),
    ("complex", r"output: output\.npy must hold real numbers; got dtype complex128\)$"),
    ("integer", r"output: output\.npy must hold float32 or float64; got dtype int64\)$"),
    ("dtype", r"\(transition_0\.upsampled: transition_0\.upsampled\.npy has dtype float64; --dtype says float32\)$"),
])
def test_verify_unreadable_candidate_files_fail_their_case_only(suite, tmp_path, capsys, breakage, reason):
    candidate = copy_expected(suite, tmp_path / "cand")
    output = candidate / FEW[0].id / "output.npy"
    extra = []
    if breakage == "corrupt":
        output.write_bytes(output.read_bytes()[:90])
    elif breakage == "pickled":
        np.save(output, np.array([None], dtype=object), allow_pickle=True)
    elif breakage == "complex":
        np.save(output, np.zeros((1, 1), complex))
    elif breakage == "integer":
        np.save(output, np.zeros((1, 1), np.int64))
    elif breakage == "dtype":
        extra = ["--dtype", "float32"]
    status, out, _ = run(capsys, "verify", candidate, "--golden", suite, *extra)
    assert status == 1
    row = next(line for line in out.splitlines() if line.startswith(FEW[0].id))
    assert "FAIL" in row and re.search(reason, row), row
    if breakage != "dtype":  # the other cases still pass
        assert f"verify: {len(FEW) - 1} passed, 1 failed" in out


def test_verify_without_golden_uses_the_committed_suite(tmp_path, capsys):
    from refups.suite import default_suite_path
    committed = pathlib.Path(__file__).resolve().parents[1] / "data" / "golden"
    if default_suite_path() is None:
        pytest.skip("refups is imported from an installed copy, away from data/golden")
    assert default_suite_path() == committed
    status, out, _ = run(capsys, "verify", tmp_path)
    assert out.splitlines()[0] == f"golden: {committed}"
    assert status == 1 and f"0 passed, {sum('full' in c.profiles for c in CASES)} failed" in out


def test_verify_regenerates_when_no_suite_is_committed(tmp_path, capsys, monkeypatch):
    from refups import verification
    monkeypatch.setattr(verification, "default_suite_path", lambda: None)
    status, out, _ = run(capsys, "verify", tmp_path)
    assert out.splitlines()[0] == "golden: generated in memory" and status == 1


@pytest.fixture()
def user_data(tmp_path):
    up = Upsampling(6, 5, 2, 1)
    rng = np.random.default_rng(7)
    params = up.get_param()
    params = {name: rng.uniform(-1, 1, value.shape) for name, value in params.items()}
    up.set_param(params)
    latents = [rng.normal(size=(1, 1, 9, 7)), rng.normal(size=(1, 2, 5, 4)), rng.normal(size=(1, 1, 3, 2))]
    paths = []
    for i, y in enumerate(latents):
        paths.append(tmp_path / f"y{i}.npy")
        np.save(paths[-1], y)
    (tmp_path / "p.json").write_text(json.dumps(params_to_json(params)))
    np.savez(tmp_path / "p.npz", **params)
    return up, latents, paths, tmp_path


@pytest.mark.parametrize("params_file", ["p.json", "p.npz"])
def test_run_infers_the_configuration(user_data, capsys, params_file):
    up, latents, paths, tmp_path = user_data
    status, out, _ = run(capsys, "run", "--params", tmp_path / params_file, "--latents", *paths,
                         "--out", tmp_path / "o.npy")
    assert status == 0 and "Upsampling(ups_k_size=6, ups_preconcat_k_size=5, n_ups_kernel=2" in out
    assert_array_equal(np.load(tmp_path / "o.npy"), up(latents))


def test_run_float32_and_dense(user_data, capsys):
    up, latents, paths, tmp_path = user_data
    status, _, _ = run(capsys, "run", "--params", tmp_path / "p.json", "--latents", *paths,
                       "--out", tmp_path / "o.npy", "--dtype", "float32", "--dense")
    out = np.load(tmp_path / "o.npy")
    assert status == 0 and out.dtype == np.float32
    assert_array_equal(out, up.train()([y.astype(np.float32) for y in latents]))


def test_run_gives_the_float64_reference_for_float32_latents(user_data, capsys):
    up, latents, paths, tmp_path = user_data
    for path, y in zip(paths, latents):
        np.save(path, y.astype(np.float32))  # what a decoder holds
    status, _, _ = run(capsys, "run", "--params", tmp_path / "p.json", "--latents", *paths,
                       "--out", tmp_path / "o.npy")
    out = np.load(tmp_path / "o.npy")
    assert status == 0 and out.dtype == np.float64
    assert_array_equal(out, up([y.astype(np.float32).astype(np.float64) for y in latents]))
    status, _, _ = run(capsys, "run", "--params", tmp_path / "p.json", "--latents", *paths,
                       "--out", tmp_path / "o32.npy", "--dtype", "float32")
    assert status == 0 and np.load(tmp_path / "o32.npy").dtype == np.float32


@pytest.mark.parametrize("params_file", ["p.json", "p.npz"])
def test_run_takes_parameters_without_biases(user_data, capsys, params_file):
    up, latents, paths, tmp_path = user_data
    weights = {name: v for name, v in up.get_param().items() if not name.endswith(".bias")}
    (tmp_path / "p.json").write_text(json.dumps(params_to_json(weights)))
    np.savez(tmp_path / "p.npz", **weights)
    status, _, err = run(capsys, "run", "--params", tmp_path / params_file, "--latents", *paths,
                         "--out", tmp_path / "o.npy")
    assert status == 0, err
    assert_array_equal(np.load(tmp_path / "o.npy"), up(latents))


def test_run_reads_a_torch_state_dict(user_data, capsys):
    torch = optional("torch")
    up, latents, paths, tmp_path = user_data
    torch.save({name: torch.from_numpy(v) for name, v in up.get_param().items()}, tmp_path / "p.pt")
    status, _, _ = run(capsys, "run", "--params", tmp_path / "p.pt", "--latents", *paths,
                       "--out", tmp_path / "o.npy")
    assert status == 0
    assert_array_equal(np.load(tmp_path / "o.npy"), up(latents))


def test_run_selects_parameters_by_prefix(user_data, capsys):
    up, latents, paths, tmp_path = user_data
    model = {f"upsampling.{name}": value for name, value in up.get_param().items()}
    model["synthesis.layers.0.weight"] = np.ones((3, 3))  # another module of the model
    np.savez(tmp_path / "model.npz", **model)
    status, _, _ = run(capsys, "run", "--params", tmp_path / "model.npz", "--prefix", "upsampling.",
                       "--latents", *paths, "--out", tmp_path / "o.npy")
    assert status == 0
    assert_array_equal(np.load(tmp_path / "o.npy"), up(latents))
    status, _, err = run(capsys, "run", "--params", tmp_path / "model.npz", "--prefix", "decoder.",
                         "--latents", *paths, "--out", tmp_path / "o.npy")
    assert_one_line_error(status, err, r"model\.npz: has no parameter whose name starts with 'decoder\.'$")


@pytest.mark.parametrize("change, pattern", [
    ("missing-latent", r"y9\.npy: no such file$"),
    ("bad-json", r"p\.json: is not valid JSON"),
    ("bad-suffix", r"p\.txt: must end in \.json, \.npz or \.pt; got '\.txt'$"),
    ("wrong-shape", r"latents\[1\] must be at least half the size of latents\[0\]"),
    ("unknown-param", r"params must match this Upsampling.*unexpected \['conv2ds\.0\.scale'\]"),
    ("explicit-size",
     r"conv_transpose2ds\.0\.parametrizations\.weight\.original must have shape \(4,\); got shape \(3,\)"),
    ("pickled-npz", r"p\.npz: holds pickled objects"),
])
def test_run_bad_inputs_exit_2_with_one_line(user_data, capsys, change, pattern):
    up, latents, paths, tmp_path = user_data
    params, extra, out = tmp_path / "p.json", [], tmp_path / "o.npy"
    if change == "missing-latent":
        paths = paths + [tmp_path / "y9.npy"]
    elif change == "bad-json":
        params.write_text("[1,")
    elif change == "bad-suffix":
        params = tmp_path / "p.txt"
        params.write_text("{}")
    elif change == "wrong-shape":
        np.save(paths[1], np.zeros((1, 1, 2, 2)))
    elif change == "unknown-param":
        data = json.loads(params.read_text())
        data["params"]["conv2ds.0.scale"] = {"shape": [1], "values": [1.0]}
        params.write_text(json.dumps(data))
    elif change == "explicit-size":
        extra = ["--ups-k-size", "8"]
    elif change == "pickled-npz":
        params = tmp_path / "p.npz"
        np.savez(params, a=np.array([None], dtype=object))
    status, _, err = run(capsys, "run", "--params", params, "--latents", *paths, "--out", out, *extra)
    assert_one_line_error(status, err, r"^refups run: error: .*" + pattern)
    assert not out.exists()  # nothing written


@pytest.mark.parametrize("command", ["golden", "verify", "run"])
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"refups {command}" in out


def test_python_dash_m_refups():
    result = subprocess.run([sys.executable, "-m", "refups", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("refups ")


CANDIDATES = '''
import numpy as np
from refups.testing import reference_implementation


def good(latents, params, config):
    return reference_implementation(latents, params, config)


def biased(latents, params, config):
    return reference_implementation(latents, params, config) + params["conv2ds.0.bias"][0]
'''


@pytest.fixture()
def candidates_module(tmp_path, monkeypatch):
    (tmp_path / "my_candidates.py").write_text(CANDIDATES)
    monkeypatch.chdir(tmp_path)
    yield "my_candidates"
    sys.modules.pop("my_candidates", None)


def test_check_passes_a_correct_function_from_the_current_folder(candidates_module, capsys):
    status, out, _ = run(capsys, "check", f"{candidates_module}:good", "--max-examples", "20", "--seed", "5")
    assert status == 0
    assert out == f"check {candidates_module}:good: PASS (20 drawn cases, profile coolchic, float64, seed 5)\n"


def test_check_fails_with_a_report_and_a_reproducer_and_a_seed_repeats_it(candidates_module, capsys):
    outputs = []
    for _ in range(2):
        status, out, _ = run(capsys, "check", f"{candidates_module}:biased", "--profile", "bitstream",
                             "--dtype", "float32", "--seed", "11")
        assert status == 1
        outputs.append(out)
    assert outputs[0].startswith(f"check {candidates_module}:biased: FAIL (profile bitstream, float32)")
    assert "element(s) differ" in outputs[0] and "Reproducer:\nimport numpy as np" in outputs[0]
    assert "dtype='float32'" in outputs[0]
    assert outputs[0] == outputs[1]  # the same seed, the same run


@pytest.mark.parametrize("target, extra, pattern", [
    ("my_candidates", [], r"MODULE:FUNCTION must name a module and a function, as in mine:upsample; "
                          r"got 'my_candidates'$"),
    ("nowhere_module:f", [], r"cannot import module 'nowhere_module' \(ModuleNotFoundError: No module named "),
    ("my_candidates:missing", [], r"module 'my_candidates' has no function 'missing'$"),
    ("my_candidates:good", ["--profile", "all"], r"profile must be one of 'full', 'coolchic', 'bitstream', "
                                                 r"'coolchic_4_0', 'coolchic_3_4'; got 'all'$"),
    ("my_candidates:good", ["--max-examples", "0"], r"max_examples must be an integer >= 1; got 0$"),
])
def test_check_usage_errors_exit_2_with_one_line(candidates_module, capsys, target, extra, pattern):
    status, _, err = run(capsys, "check", target, *extra)
    assert_one_line_error(status, err, r"^refups check: error: " + pattern)


@pytest.mark.parametrize("kind", ["off_by_1e-3", "nan", "inf"])
def test_verify_json_report_is_written_and_exit_is_1_for_failing_candidates(suite, tmp_path, capsys, kind):
    candidate = copy_expected(suite, tmp_path / "cand")
    for path in candidate.glob("*/*.npy"):
        array = np.load(path)
        np.save(path, {"off_by_1e-3": array + 1e-3, "nan": np.full_like(array, np.nan),
                       "inf": np.full_like(array, np.inf)}[kind])
    status, out, _ = run(capsys, "verify", candidate, "--golden", suite, "--json", tmp_path / "r.json")
    assert status == 1 and out.splitlines()[-1].startswith("verdict for profile full: FAIL")
    report = json.loads((tmp_path / "r.json").read_text(), parse_constant=lambda name: pytest.fail(name))
    assert report["verdict"] == "FAIL" and all(row["status"] == "FAIL" for row in report["cases"])
