"""The verification kit itself: strategies produce valid input, the checker
passes correct implementations and catches every mutant (refups.testing)."""

import functools
import os
import pathlib
import re
import subprocess
import sys

import mutants
import numpy as np
import pytest
from helpers import optional
from hypothesis import given, settings
from hypothesis import strategies as st

from refups import Upsampling
from refups._validation import check_latents
from refups.kernels import check_preconcat_kernel_size, check_ups_kernel_size, half_kernel_size
from refups.testing import (
    PLACEHOLDER,
    assert_upsampling_close,
    behaviours_of,
    candidate_import,
    channel_stacks,
    check_implementation,
    coarsest_first,
    error_bounds,
    half_kernels,
    latent_pyramids,
    preconcat_kernel_sizes,
    reference_implementation,
    ups_kernel_sizes,
    upsamplings,
    without_biases,
)

# -- meta tests: strategies give what the reference accepts ------------------------------

@given(ups_kernel_sizes(), preconcat_kernel_sizes())
def test_kernel_size_strategies_are_valid(k_up, k_pre):
    assert check_ups_kernel_size(k_up) == k_up and check_preconcat_kernel_size(k_pre) == k_pre


@given(st.integers(1, 20).flatmap(lambda k: st.tuples(st.just(k), half_kernels(k, dyadic=True))))
def test_dyadic_half_kernels(case):
    k, half = case
    assert half.shape == (half_kernel_size(k),)
    assert np.all(half * 8 == np.round(half * 8)) and np.all(np.abs(half) <= 1)


@given(latent_pyramids(min_channels=0, max_channels=3, max_batch=3))
def test_pyramids_pass_validation(latents):
    levels = check_latents(latents)
    assert len({y.shape[0] for y in levels}) == 1
    for fine, coarse in zip(levels, levels[1:]):
        assert coarse.shape[2] == -(-fine.shape[2] // 2) and coarse.shape[3] == -(-fine.shape[3] // 2)


@given(latent_pyramids(odd_sizes=False, min_levels=2, max_levels=4))
def test_even_pyramids_halve_exactly(latents):
    for fine, coarse in zip(latents, latents[1:]):
        assert fine.shape[2] == 2 * coarse.shape[2] and fine.shape[3] == 2 * coarse.shape[3]


@given(latent_pyramids(image_size=(7, 12), min_levels=3, max_levels=3))
def test_pyramids_for_a_given_image_size(latents):
    assert [y.shape[2:] for y in latents] == [(7, 12), (4, 6), (2, 3)]


@given(latent_pyramids(integer_valued=True, dtype=np.float32))
def test_integer_valued_pyramids(latents):
    for y in latents:
        assert y.dtype == np.float32 and np.array_equal(y, np.round(y))


@given(upsamplings(max_kernels=3))
def test_upsamplings_round_trip_their_parameters(up):
    again = Upsampling(up.ups_k_size, up.ups_preconcat_k_size, up.n_ups_kernel, up.n_ups_preconcat_kernel)
    again.set_param(up.get_param())
    assert 1 <= up.n_ups_kernel <= 3 and 1 <= up.n_ups_preconcat_kernel <= 3


@given(channel_stacks(max_side=5, max_channels=2))
def test_channel_stacks_shapes(x):
    assert x.ndim == 3 and 1 <= x.shape[0] <= 2 and 1 <= min(x.shape[1:]) and max(x.shape[1:]) <= 5


@pytest.mark.parametrize("call, error, message", [
    (lambda: ups_kernel_sizes(min_size=2), ValueError, r"^min_size must be >= 4; got min_size=2$"),
    (lambda: ups_kernel_sizes(min_size=10, max_size=8), ValueError,
     r"^min_size must be <= max_size; got min_size=10 > max_size=8$"),
    (lambda: ups_kernel_sizes(min_size=5, max_size=5), ValueError, r"^no even size lies in \[5, 5\]$"),
    (lambda: preconcat_kernel_sizes(max_size=1.5), TypeError, r"^max_size must be an integer; got 1.5$"),
    (lambda: latent_pyramids(min_levels=0), ValueError, r"^min_levels must be >= 1; got min_levels=0$"),
    (lambda: latent_pyramids(dtype=np.int32), ValueError, r"^dtype must be float32 or float64; got int32$"),
    (lambda: half_kernels(4, max_value=0), ValueError, r"^max_value must be > 0; got 0$"),
    (lambda: latent_pyramids(image_size=(0, 4)), ValueError,
     r"^image_size must be a pair of integers >= 1 \(H, W\); got \(0, 4\)$"),
    (lambda: upsamplings(min_kernels=3, max_kernels=1), ValueError, r"^min_kernels must be <= max_kernels"),
])
def test_strategy_arguments_are_checked_up_front(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_import_refups_never_needs_hypothesis():
    import subprocess
    import sys

    code = ("import sys, refups, refups.cli, refups.suite, refups.verification, refups.explain; "
            "print('hypothesis' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# -- error bounds and the assertion ----------------------------------------------------

@settings(max_examples=50)
@given(latent_pyramids(max_levels=4, max_side=12, max_value=10.0), upsamplings())
def test_error_bounds_hold_for_float32_and_dense_paths(latents, up):
    expected = up(latents)
    for dtype in (np.float32, np.float64):
        bound = error_bounds(up, latents, dtype)
        actual = up.train()([y.astype(dtype) for y in latents])
        up.eval()
        assert np.all(np.abs(actual - expected) <= bound)


def test_error_bounds_scale_with_eps():
    up = Upsampling(8, 7, 2, 2)
    latents = [np.ones((1, 1, 8, 8)), np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2))]
    ratio = error_bounds(up, latents, np.float32) / error_bounds(up, latents, np.float64)
    # gamma_n = n u / (1 - n u) is linear in u up to n u ~ 1e-5 for float32.
    np.testing.assert_allclose(ratio, np.finfo(np.float32).eps / np.finfo(np.float64).eps, rtol=1e-4)


def test_assert_upsampling_close_report():
    expected = np.zeros((2, 3, 4, 5))
    actual = expected.astype(np.float32)
    actual[1, 2, 3, 1] = 1e-3
    actual[1, 2, 3, 4] = 2e-3
    with pytest.raises(AssertionError) as info:
        assert_upsampling_close(actual, expected, atol=1e-6, channels=[1, 1, 1], where="transition 2")
    message = str(info.value)
    assert message.startswith("transition 2: 2 element(s) differ; first at batch 1, channel 2 (level 2), "
                              "pixel (3, 1): actual 0.0010000000474974513, expected 0.0; "
                              "max ULP distance in float32: ")
    assert "Mismatched elements: 2 / 120" in message  # numpy's own report follows
    with pytest.raises(AssertionError, match=r"^output: shape \(1, 1\) differs from the expected \(2, 2\)$"):
        assert_upsampling_close(np.zeros((1, 1)), np.zeros((2, 2)), where="output")
    assert_upsampling_close(actual, expected, atol=3e-3)  # passes


# -- the checker ----------------------------------------------------------------------

def test_reference_and_independent_numpy_implementation_pass():
    check_implementation(reference_implementation, derandomize=True)
    check_implementation(mutants.candidate, derandomize=True)
    check_implementation(mutants.candidate, dtype=np.float32, derandomize=True)


@pytest.mark.parametrize("profile", ["coolchic", "full"])
@pytest.mark.parametrize("bug", mutants.BUGS)
def test_every_mutant_is_caught_within_the_default_budget(bug, profile):
    with pytest.raises(AssertionError) as info:
        # Catching is what is timed here; shrinking is checked once, below.
        check_implementation(functools.partial(mutants.candidate, bug=bug), profile=profile,
                             derandomize=True, shrink=False)
    message = str(info.value)
    assert "Reproducer:" in message and "reference_implementation(latents, params, config)" in message


BUGGY_MODULE = """\
from mutants import candidate as _candidate


def upsample(latents, params, config):
    return _candidate(latents, params, config, bug="no_residual")
"""


def test_the_reproducer_runs_as_pasted_and_fails_the_same_way(tmp_path, monkeypatch):
    (tmp_path / "buggy.py").write_text(BUGGY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import buggy

    with pytest.raises(AssertionError) as info:
        check_implementation(buggy.upsample, derandomize=True)
    report, source = str(info.value).split("Reproducer:\n", 1)
    assert "from buggy import upsample as candidate" in source.splitlines()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(pathlib.Path(__file__).parent)]))
    result = subprocess.run([sys.executable, "-c", source], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    failure = result.stderr.strip().splitlines()
    first = next(line for line in failure if line.startswith("AssertionError: output:"))
    assert first[len("AssertionError: "):] == report.splitlines()[0]  # the same elements, the same first one
    assert re.search(r"first at batch \d+, channel \d+ \(level \d+\), pixel", first)


def test_a_candidate_without_an_importable_name_gets_a_marked_placeholder():
    bug = functools.partial(mutants.candidate, bug="no_residual")
    with pytest.raises(AssertionError) as info:
        check_implementation(bug, derandomize=True)
    source = str(info.value).split("Reproducer:\n", 1)[1]
    assert PLACEHOLDER in source.splitlines() and "EDIT THIS LINE" in PLACEHOLDER
    with pytest.raises(AssertionError, match=r"^output: \d+ element\(s\) differ"):
        exec(source.replace(PLACEHOLDER, "candidate = bug"), {"bug": bug})


def test_torch_example_passes_the_checker():
    torch = optional("torch")
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "torch_upsampling.py"
    spec = importlib.util.spec_from_file_location("torch_upsampling", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def candidate(latents, params, config):
        weights = {name: torch.from_numpy(value) for name, value in params.items()}
        up = module.TorchUpsampling(weights, config["ups_k_size"], config["ups_preconcat_k_size"])
        with torch.no_grad():
            return up([torch.from_numpy(y) for y in latents]).numpy()

    check_implementation(candidate, derandomize=True)


def test_a_failure_first_seen_on_a_fixed_example_is_reported_shrunk():
    # Zero padding shows on the five-level 13x15 fixed example first; a 2-level pyramid of
    # tiny levels shows it too, and that is what the report must carry.
    bug = functools.partial(mutants.candidate, bug="zero_padding")
    with pytest.raises(AssertionError) as info:
        check_implementation(bug, derandomize=True)
    message = str(info.value)
    assert "First seen on the fixed example 'five odd-sized levels" in message
    shapes = [tuple(int(n) for n in m.split(", ")) for m in re.findall(r"# \(([\d, ]+)\)", message)]
    assert shapes and sum(np.prod(shape) for shape in shapes) < 13 * 15
    assert len(message.split("Reproducer:\n", 1)[1]) < 1500  # the fixed case's reproducer is ~4000


def raises_on_several_channels(latents, params, config):
    if any(y.shape[1] > 1 for y in latents[:-1]):
        raise RuntimeError("weight of size [1, 1, 1, 1], expected input to have 1 channels")
    return reference_implementation(latents, params, config)


def test_default_profile_keeps_to_what_a_one_channel_prefilter_accepts():
    check_implementation(raises_on_several_channels, derandomize=True)
    check_implementation(raises_on_several_channels, dtype=np.float32, derandomize=True)


def test_a_raising_candidate_is_told_what_is_special_and_how_to_exclude_it():
    with pytest.raises(AssertionError) as info:
        check_implementation(raises_on_several_channels, profile="full", derandomize=True)
    message = str(info.value)
    assert message.startswith("the candidate raised RuntimeError: weight of size [1, 1, 1, 1], expected input")
    assert re.search(r"- outside profile 'coolchic' \(level \d is pre-filtered and has \d channels; "
                     r"Cool-chic's pre-concatenation filter takes at most 1\); to exclude such inputs, "
                     r"pass profile='coolchic'", message)
    assert "Reproducer:" in message


def test_dtype_reaches_user_strategies():
    seen = set()

    def candidate(latents, params, config):
        seen.update(y.dtype for y in latents)
        return reference_implementation(latents, params, config)

    check_implementation(candidate, dtype=np.float32, max_examples=10, derandomize=True,
                         pyramids=latent_pyramids(max_channels=1, max_levels=3, max_side=6))
    assert seen == {np.dtype(np.float32)}


def test_a_user_strategy_outside_the_profile_is_rejected_with_a_fix():
    with pytest.raises(ValueError, match=r"^the strategies drew an input outside profile 'bitstream' \(.*\): "
                                         r"build them with profile='bitstream', e\.g\. "
                                         r"latent_pyramids\(profile='bitstream'\), or pass a wider profile(\n|$)"):
        check_implementation(reference_implementation, profile="bitstream", max_examples=20,
                             pyramids=latent_pyramids(min_batch=2, max_batch=2, max_side=4))


@pytest.mark.parametrize("arguments, error, message", [
    ({"candidate": 42}, TypeError, r"^candidate must be a callable candidate\(latents, params, config\); got int 42$"),
    ({"profile": "cool-chic"}, ValueError, r"^profile must be one of 'full', 'coolchic', 'bitstream', 'coolchic_4_0', 'coolchic_3_4'; got 'cool-chic'$"),
    ({"max_examples": 0}, ValueError, r"^max_examples must be an integer >= 1; got 0$"),
    ({"seed": "1"}, TypeError, r"^seed must be an integer or None; got '1'$"),
])
def test_check_implementation_argument_errors(arguments, error, message):
    arguments = {"candidate": reference_implementation, **arguments}
    with pytest.raises(error, match=message):
        check_implementation(arguments.pop("candidate"), **arguments)


@settings(max_examples=100)
@given(st.data())
def test_strategies_stay_inside_their_profile(data):
    from refups.profiles import PROFILES, profiles_of

    profile = data.draw(st.sampled_from(list(PROFILES)))
    latents = data.draw(latent_pyramids(max_levels=10, max_side=8, min_channels=0, max_channels=3,
                                        max_batch=3, profile=profile))
    up = data.draw(upsamplings(max_ups_k_size=18, max_preconcat_k_size=17, max_kernels=17, profile=profile))
    config = (up.ups_k_size, up.ups_preconcat_k_size, up.n_ups_kernel, up.n_ups_preconcat_kernel)
    assert profile in profiles_of(config, [y.shape for y in latents], PROFILES[profile].empty_levels)


def test_profile_bounds_that_leave_nothing_are_errors():
    with pytest.raises(ValueError, match=r"^min_batch=2 is outside profile 'bitstream', which allows at most 1; "
                                         r"lower min_batch or choose another profile$"):
        latent_pyramids(min_batch=2, profile="bitstream")
    with pytest.raises(ValueError, match=r"^min_channels=2 is outside profile 'coolchic', which allows at most 1"):
        latent_pyramids(min_channels=2, max_channels=3, profile="coolchic")
    with pytest.raises(ValueError, match=r"^min_kernels=16 is outside profile 'bitstream'"):
        upsamplings(min_kernels=16, max_kernels=20, profile="bitstream")


# -- following the kit's advice, going on past a failure, candidates that raise anything ----------

def _fails_on(behaviour):
    """A correct candidate (tests/mutants.py) that goes wrong only on inputs showing ``behaviour``."""
    def candidate(latents, params, config):
        shapes = [np.shape(y) for y in latents]
        if behaviour in behaviours_of(shapes):
            if behaviour == "empty_level_stop":
                return mutants.candidate(latents, params, config, bug="zero_channel_skipped")
            if behaviour == "odd_crop":
                return mutants.candidate(latents, params, config, bug="odd_crop_bottom_right")
            raise IndexError(f"{behaviour} is not supported")
        return mutants.candidate(latents, params, config)
    return candidate


TOKENS = {"single_level": "S6.5", "empty_level_stop": "S6.4", "empty_coarsest": "empty_coarsest",
          "odd_crop": "S6.7", "batch_mixing": "batch_mixing"}


def _hints(report, token):
    """The exclusions the report suggests for the behaviour ``token``, as check_implementation arguments."""
    hints = []
    for line in report.splitlines():
        if not line.startswith("- ") or f"skip=[{token!r}]" not in line:
            continue  # the hints are the bullets of "What is special about this input"
        strategy = re.search(r"draw (latent_pyramids\([^)]*\))", line)
        skip = re.search(r"pass skip=(\[[^\]]*\])", line)
        if strategy:
            hints.append({"pyramids": strategy.group(1)})
        if skip:
            hints.append({"skip": skip.group(1)})
    return hints


@pytest.mark.parametrize("behaviour", ["single_level", "empty_level_stop", "empty_coarsest", "odd_crop",
                                       "batch_mixing"])
def test_following_every_printed_hint_makes_the_failure_go_away(behaviour):
    candidate = _fails_on(behaviour)
    with pytest.raises(AssertionError) as info:
        check_implementation(candidate, max_examples=30, derandomize=True)
    hints = _hints(str(info.value), TOKENS[behaviour])
    assert [key for hint in hints for key in hint] == ["pyramids", "skip"], str(info.value)
    for hint in hints:
        arguments = {key: eval(value, {"latent_pyramids": latent_pyramids}) for key, value in hint.items()}
        check_implementation(candidate, max_examples=30, derandomize=True, **arguments)
    # The command line's vocabulary names the same behaviours.
    check_implementation(candidate, max_examples=30, derandomize=True, skip=[behaviour])


def test_select_keeps_to_one_behaviour_and_unknown_names_are_refused():
    with pytest.raises(AssertionError, match=r"level \d+ has no channels"):
        check_implementation(_fails_on("empty_level_stop"), select=["S6.4"], max_examples=20, derandomize=True)
    check_implementation(_fails_on("empty_level_stop"), select=["S6.5"], max_examples=20, derandomize=True)
    with pytest.raises(ValueError, match=r"skip must name behaviours .*; got 'S9'"):
        check_implementation(reference_implementation, skip=["S9"])


def test_keep_going_reports_every_distinct_failure_each_shrunk():
    def two_bugs(latents, params, config):
        if len(latents) == 1:
            return np.asarray(latents[0])[:, :, :1]  # wrong shape on a single level
        return mutants.candidate(latents, params, config, bug="zero_channel_skipped")

    with pytest.raises(AssertionError) as info:
        check_implementation(two_bugs, keep_going=True, max_examples=60, derandomize=True)
    report = str(info.value)
    assert report.startswith("2 distinct failures")
    first, second = report.split("Failure 2 of 2")
    assert "Failure 1 of 2 (behaviours: single_level" in first and "output: shape (" in first
    assert "(behaviours: empty_level_stop)" in second
    # Shrunk: the second failure's reproducer holds a small pyramid with one empty level.
    reproducer = second.split("Reproducer:\n")[1]
    shapes = [tuple(map(int, m)) for m in re.findall(r"# \((\d+), (\d+), (\d+), (\d+)\)", reproducer)]
    assert len(shapes) <= 3 and any(s[1] == 0 for s in shapes[:-1]) and max(s[2] * s[3] for s in shapes) <= 4
    assert report.count("Reproducer:") == 2


def test_candidates_that_raise_anything_get_a_verdict_never_a_crash():
    calls = []

    def erratic(latents, params, config):
        calls.append(len(latents))
        if len(latents) == 1:
            raise IndexError("list index out of range")
        if any(np.shape(y)[1] == 0 for y in latents):
            raise ExceptionGroup("two problems", [ValueError("a"), KeyError("b")])
        if len(calls) % 3 == 0:
            raise RuntimeError("flaky")
        return np.zeros((1,), dtype=object)

    for keep_going in (False, True):
        with pytest.raises(AssertionError) as info:
            check_implementation(erratic, keep_going=keep_going, max_examples=30, derandomize=True)
        assert "Reproducer:" in str(info.value)


ERRATIC_MODULE = """\
import numpy as np
from mutants import candidate as _candidate


def upsample(latents, params, config):
    if len(latents) == 1:
        raise IndexError("list index out of range")
    if any(np.shape(y)[1] == 0 for y in latents[:-1]):
        raise ExceptionGroup("two problems", [ValueError("a"), KeyError("b")])
    return _candidate(latents, params, config)
"""


def test_refups_check_skips_keeps_going_and_prints_a_reproducer_that_runs(tmp_path, monkeypatch, capsys):
    from refups.cli import main

    (tmp_path / "buggy.py").write_text(BUGGY_MODULE)
    (tmp_path / "erratic.py").write_text(ERRATIC_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).parent))
    assert main(["check", "buggy:upsample", "--seed", "3", "--max-examples", "20"]) == 1
    out = capsys.readouterr().out
    source = out.split("Reproducer:\n", 1)[1]
    assert "from buggy import upsample as candidate" in source
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(pathlib.Path(__file__).parent)]))
    result = subprocess.run([sys.executable, "-c", source], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1 and "AssertionError: output:" in result.stderr, result.stderr
    # Two exception types on two behaviours: a verdict naming both, never a traceback of refups.
    assert main(["check", "erratic:upsample", "--seed", "3", "--max-examples", "30", "--keep-going"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "" and "Traceback" not in captured.out
    assert "2 distinct failures" in captured.out
    assert "the candidate raised IndexError" in captured.out and "the candidate raised ExceptionGroup" in captured.out
    # Leaving both behaviours out, by flag and by clause, the rest passes.
    assert main(["check", "erratic:upsample", "--seed", "3", "--max-examples", "30",
                 "--skip", "single_level,S6.4"]) == 0
    assert "check erratic:upsample: PASS" in capsys.readouterr().out


# -- wrapping a real module: biases, order, the loader --------------------------------------------

def _module_without_biases(latents, params, config):
    """Built like a port whose layers have no bias: any bias entry is an unexpected key."""
    unexpected = [name for name in params if name.endswith(".bias")]
    if unexpected:
        raise KeyError(f"unexpected key(s) in state_dict: {unexpected[:2]}")
    return mutants.candidate(latents, params, config)


def _module_coarsest_first(latents, params, config):
    """Built like an API that takes the coarsest level first."""
    return mutants.candidate(latents[::-1], params, config)


@pytest.mark.parametrize("module, adapter", [(_module_without_biases, without_biases),
                                             (_module_coarsest_first, coarsest_first)])
def test_adapters_fit_modules_built_that_way(module, adapter):
    with pytest.raises(AssertionError):
        check_implementation(module, max_examples=20, derandomize=True)
    check_implementation(adapter(module), max_examples=40, derandomize=True)
    check_implementation(adapter(module), max_examples=20, derandomize=True, dtype=np.float32)


def test_an_adapted_candidate_is_imported_and_adapted_again_in_the_reproducer():
    assert candidate_import(without_biases(reference_implementation)) == (
        "from refups.testing import reference_implementation as candidate\n"
        "from refups.testing import without_biases\ncandidate = without_biases(candidate)")
    assert candidate_import(coarsest_first(lambda *a: None)) == PLACEHOLDER


def test_a_golden_case_loads_as_the_candidate_arguments():
    import json

    from refups.suite import default_suite_path, load_case

    suite = default_suite_path()
    entries = {e["id"]: e for e in json.loads((suite / "manifest.json").read_text())["cases"]}
    for case_id in ("odd_7x5", "real_basketball_b_motion", "one_level", "biases_ignored"):
        latents, params, config = load_case(suite / case_id)
        assert dict(config, n_levels=len(latents)) == entries[case_id]["config"]
        for i, y in enumerate(latents):
            np.testing.assert_array_equal(y, np.load(suite / case_id / f"latent_{i}.npy"))
        # An independent implementation on the loaded arguments gives the expected output.
        np.testing.assert_allclose(mutants.candidate(latents, params, config),
                                   np.load(suite / case_id / "output.npy"), rtol=0, atol=1e-12)
        has_biases = any(name.endswith(".bias") for name in params)
        assert has_biases == (case_id not in ("real_basketball_b_motion", "one_level"))  # none in a bitstream


def test_messages_about_shrunk_cases_stay_true_on_level_0_and_empty_shapes():
    from refups.testing import _special_features

    up = Upsampling(4, 3, 1, 1)
    level_0 = _special_features(up, [np.zeros((1, 0, 1, 2)), np.zeros((1, 1, 1, 1))], "coolchic")
    assert "level 0 has no channels: the loop stops before it, and the output keeps level 1's resolution" in level_0
    assert "finer" not in level_0  # there is no level finer than 0
    level_2 = _special_features(up, [np.zeros((1, 1, 4, 4))] * 1 + [np.zeros((1, 1, 2, 2)), np.zeros((1, 0, 1, 1)),
                                                                    np.zeros((1, 1, 1, 1))], "coolchic")
    assert "the finer levels 0 to 1 are dropped" in level_2
    with pytest.raises(AssertionError, match=r"shape \(1, 0, 1, 2\) differs from the expected \(1, 0, 1, 1\) "
                                             r"\(both hold no value, but the shapes still differ\)$"):
        assert_upsampling_close(np.zeros((1, 0, 1, 2)), np.zeros((1, 0, 1, 1)))


def test_impossible_selections_are_refused_up_front():
    with pytest.raises(ValueError, match=r"^select and skip both name empty_level_stop"):
        check_implementation(reference_implementation, select=["S6.4"], skip=["empty_level_stop"])
    with pytest.raises(ValueError, match=r"^select names single_level with a behaviour that needs several levels"):
        check_implementation(reference_implementation, select=["S6.4", "S6.5"])
    with pytest.raises(ValueError, match=r"^no drawn input shows what select=\['batch_mixing'\]"):
        check_implementation(reference_implementation, select=["batch_mixing"], profile="bitstream",
                             max_examples=10)
