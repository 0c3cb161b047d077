"""S6.8: Cool-chic's release lines on a level without channels (refups.versions), on every path."""

import json

import mutants
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refups import Upsampling
from refups.exact import upsampling_exact
from refups.kernels import symmetric_kernel
from refups.naive import upsampling_naive
from refups.testing import assert_upsampling_close, error_bounds, latent_pyramids, upsamplings
from refups.versions import EMPTY_LEVELS, RELEASES, transition_levels

PYRAMIDS = latent_pyramids(min_channels=0, max_levels=5, max_side=12, max_batch=2, max_value=10.0)


def as_version(up, empty_levels):
    module = Upsampling(up.ups_k_size, up.ups_preconcat_k_size, up.n_ups_kernel, up.n_ups_preconcat_kernel,
                        empty_levels=empty_levels)
    module.set_param(up.get_param())
    return module


def naive(up, latents):
    params = up.get_param()
    ups = [symmetric_kernel(params[f"conv_transpose2ds.{i}.parametrizations.weight.original"], up.ups_k_size)
           for i in range(up.n_ups_kernel)]
    pre = [symmetric_kernel(params[f"conv2ds.{j}.parametrizations.weight.original"], up.ups_preconcat_k_size)
           for j in range(up.n_ups_preconcat_kernel)]
    return upsampling_naive(latents, ups, pre, up.empty_levels)


@given(PYRAMIDS, upsamplings(max_ups_k_size=8, max_preconcat_k_size=5, max_kernels=3),
       st.sampled_from(["stop", "continue"]))
def test_every_path_follows_the_release_line(latents, up, empty_levels):
    up = as_version(up, empty_levels)
    exact = upsampling_exact(up, latents).to_float(np.float64)
    bound = error_bounds(up, latents, np.float64)
    for name, output in [("separable", up.train(False)(latents)), ("dense", up.train(True)(latents)),
                         ("naive", naive(up, latents))]:
        assert_upsampling_close(output, exact.output, atol=bound, where=name)
    levels = transition_levels([y.shape for y in latents], empty_levels)
    assert len(exact.transitions) == len(levels)
    if empty_levels == "continue":  # Cool-chic 4.0: always full resolution, every channel
        assert exact.output.shape == (latents[0].shape[0], sum(y.shape[1] for y in latents), *latents[0].shape[2:])


@given(PYRAMIDS, upsamplings(max_ups_k_size=8, max_preconcat_k_size=5, max_kernels=3, profile="full"))
def test_the_4_0_result_is_the_4_1_result_with_the_empty_levels_filled_and_removed(latents, up):
    """An independent computation of "continue": give every empty level one channel of zeros,
    which stops nothing, then remove those channels (channels never mix, S6.6)."""
    filled = [np.zeros(y.shape[:1] + (1,) + y.shape[2:]) if y.shape[1] == 0 else y for y in latents]
    full = as_version(up, "stop")(filled)
    channel, keep = 0, []
    for y, f in zip(latents, filled):
        keep += list(range(channel, channel + y.shape[1]))
        channel += f.shape[1]
    expected = full[:, keep]
    assert_upsampling_close(as_version(up, "continue")(latents), expected,
                            atol=2 * error_bounds(as_version(up, "continue"), latents, np.float64))


@given(PYRAMIDS, upsamplings(max_ups_k_size=8, max_preconcat_k_size=5, max_kernels=3))
def test_3_4_refuses_exactly_the_empty_levels_it_would_pre_filter(latents, up):
    up = as_version(up, "error")
    shapes = [y.shape for y in latents]
    refused = any(s[1] == 0 for s in shapes[:-1])
    paths = [lambda: up.train(False)(latents), lambda: up.train(True)(latents),
             lambda: upsampling_exact(up, latents), lambda: naive(up, latents)]
    for path in paths:
        if refused:
            with pytest.raises(ValueError, match=r"^latents\[\d+\] has no channels; with empty_levels='error' "
                                                 r"\(Cool-chic 3\.4\)"):
                path()
        else:
            path()
    if not refused:  # then nothing differs from 4.1
        np.testing.assert_array_equal(up.train(False)(latents), as_version(up, "stop")(latents))


def test_the_real_motion_instance_under_each_release():
    from refups.realdata import real_model

    model = real_model("basketball_b_motion")
    shapes = {}
    for release, empty_levels in RELEASES.items():
        up = Upsampling(*model.config, empty_levels=empty_levels)
        up.set_param(model.params)
        if empty_levels == "error":
            with pytest.raises(ValueError, match=r"latents\[1\] has no channels"):
                up(model.latents)
            continue
        shapes[release] = up(model.latents).shape
    # 4.1 stops at level 2 (what Cool-chic 4.2's decoder outputs); 4.0 goes on to 480x832.
    assert shapes == {"4.0": (1, 5, 480, 832), "4.1": (1, 5, 120, 208)}


def test_the_option_is_checked_and_shown():
    with pytest.raises(ValueError, match=r"^empty_levels must be 'stop' .*, 'continue' .* or 'error' .*; got 'skip'$"):
        Upsampling(4, 3, 1, 1, empty_levels="skip")
    assert repr(Upsampling(4, 3, 1, 1)) == ("Upsampling(ups_k_size=4, ups_preconcat_k_size=3, n_ups_kernel=1, "
                                            "n_ups_preconcat_kernel=1)")
    assert repr(Upsampling(4, 3, 1, 1, empty_levels="continue")).endswith(", empty_levels='continue')")
    assert set(RELEASES.values()) == set(EMPTY_LEVELS)


@given(upsamplings(max_ups_k_size=8, max_preconcat_k_size=5, max_kernels=3), st.sampled_from(list(EMPTY_LEVELS)),
       st.booleans())
def test_a_module_on_another_release_line_keeps_its_parameters_and_mode(up, empty_levels, training):
    up.train(training)
    params = up.get_param()
    other = up.on_release_line(empty_levels)
    config = lambda m: (m.ups_k_size, m.ups_preconcat_k_size, m.n_ups_kernel, m.n_ups_preconcat_kernel)  # noqa: E731
    assert (config(other), other.empty_levels, other.training) == (config(up), empty_levels, training)
    assert other.get_param().keys() == params.keys()
    assert all(np.array_equal(other.get_param()[name], value) for name, value in params.items())
    assert (other is up) == (empty_levels == "stop") and up.empty_levels == "stop"  # up itself is unchanged
    with pytest.raises(ValueError, match=r"^empty_levels must be .*; got 'skip'$"):
        up.on_release_line("skip")


def test_the_4_0_mutant_is_exactly_the_4_0_line():
    up = Upsampling(4, 3, 2, 2, empty_levels="continue")
    latents = [np.ones((1, 1, 8, 8)), np.zeros((1, 0, 4, 4)), np.arange(4.0).reshape(1, 1, 2, 2),
               np.ones((1, 1, 1, 1))]
    config = {"ups_k_size": 4, "ups_preconcat_k_size": 3, "n_ups_kernel": 2, "n_ups_preconcat_kernel": 2}
    np.testing.assert_allclose(mutants.candidate(latents, up.get_param(), config, bug="zero_channel_skipped"),
                               up(latents), rtol=0, atol=1e-12)


def _release_candidate(empty_levels):
    """A Cool-chic-like candidate of one release line, written without refups' own loop."""
    def candidate(latents, params, config):
        if empty_levels == "error" and any(np.shape(y)[1] == 0 for y in latents[:-1]):
            raise RuntimeError("Given groups=1, weight of size [1, 1, 7, 7], expected input to have 1 channels")
        return mutants.candidate(latents, params, config,
                                 bug="zero_channel_skipped" if empty_levels == "continue" else None)
    return candidate


@pytest.mark.parametrize("empty_levels", ["stop", "continue", "error"])
def test_each_release_line_passes_its_own_profile_and_is_named_by_the_others(empty_levels):
    from refups.profiles import RELEASE_PROFILES
    from refups.testing import check_implementation

    candidate = _release_candidate(empty_levels)
    named = {"stop": "This implementation behaves like Cool-chic 4.1 on levels without channels",
             "continue": "This implementation behaves like Cool-chic 4.0 on levels without channels",
             "error": "the candidate raised: Cool-chic 3.4 refuses such a level"}[empty_levels]
    for line, profile in RELEASE_PROFILES.items():
        # 3.4's profile holds the inputs where every line agrees: every line passes it.
        if line == empty_levels or line == "error":
            check_implementation(candidate, profile=profile, max_examples=30, derandomize=True)
            continue
        with pytest.raises(AssertionError) as info:
            check_implementation(candidate, profile=profile, max_examples=30, derandomize=True)
        report = str(info.value)
        assert named in report, report
        own = RELEASE_PROFILES[empty_levels]
        assert f"profile={own!r} (refups check --profile {own})" in report
        # and the rest of it is right under that profile
        check_implementation(candidate, profile=profile, max_examples=30, derandomize=True, skip=["S6.4"])


def test_a_real_bug_is_not_excused_by_a_release_line():
    from refups.testing import check_implementation

    def wrong_on_empty_levels(latents, params, config):  # neither line's result where they differ
        output = _release_candidate("continue")(latents, params, config)
        if any(np.shape(y)[1] == 0 for y in latents[:-1]):  # one channel too many (even if there is none)
            return np.concatenate([output, np.ones(output.shape[:1] + (1,) + output.shape[2:])], axis=1)
        return output

    with pytest.raises(AssertionError) as info:
        check_implementation(lambda *a: mutants.candidate(*a, bug="zero_padding"), max_examples=30,
                             derandomize=True)
    assert "behaves like Cool-chic" not in str(info.value)
    for profile in ("coolchic", "coolchic_4_0"):
        with pytest.raises(AssertionError) as info:
            check_implementation(wrong_on_empty_levels, max_examples=30, derandomize=True, profile=profile)
        assert "level without channels" in str(info.value) or "no channels" in str(info.value)
        assert "behaves like Cool-chic" not in str(info.value)


def test_the_reproducer_of_a_4_0_profile_uses_its_release_line():
    from refups.testing import check_implementation

    with pytest.raises(AssertionError) as info:
        check_implementation(_release_candidate("stop"), profile="coolchic_4_0", max_examples=30,
                             derandomize=True)
    reproducer = str(info.value).split("Reproducer:\n")[1]
    assert "expected = reference_implementation(latents, params, config, empty_levels='continue')" in reproducer
    # Run as printed, with the candidate put in: the 4.1 line fails it, the 4.0 line passes it.
    from refups.testing import PLACEHOLDER

    code = reproducer.replace(PLACEHOLDER, "candidate = CANDIDATE")
    with pytest.raises(AssertionError):
        exec(code, {"CANDIDATE": _release_candidate("stop")})
    exec(code, {"CANDIDATE": _release_candidate("continue")})


def test_verify_names_the_release_a_failing_candidate_follows(tmp_path, capsys):
    from refups.cli import main
    from refups.suite import default_suite_path, load_case

    suite = default_suite_path()
    manifest_ids = [p.name for p in suite.iterdir() if p.is_dir()]
    for release, empty_levels in [("4.0", "continue"), ("4.1", "stop")]:
        out = tmp_path / release
        for case_id in manifest_ids:
            latents, params, config = load_case(suite / case_id)
            up = Upsampling(**config, empty_levels=empty_levels)
            up.set_param(params)
            (out / case_id).mkdir(parents=True)
            np.save(out / case_id / "output.npy", up(latents))
        status = main(["verify", str(out), "--golden", str(suite), "--profile", "coolchic"])
        text = capsys.readouterr().out
        if release == "4.1":
            assert status == 0 and "release:" not in text
        else:
            assert status == 1
            assert ("release: this implementation behaves like Cool-chic 4.0 on levels without channels: its 4 "
                    "failing cases are 4.0's result") in text
    # Under 4.0's profile: 4.0 passes, 4.1 is named.
    assert main(["verify", str(tmp_path / "4.0"), "--golden", str(suite), "--profile", "coolchic_4_0"]) == 0
    assert "release:" not in capsys.readouterr().out
    status = main(["verify", str(tmp_path / "4.1"), "--golden", str(suite), "--profile", "coolchic_4_0",
                   "--select", "S6.8"])
    text = capsys.readouterr().out
    assert status == 1
    assert ("release: this implementation behaves like Cool-chic 4.1 and later on levels without channels: its "
            "4 failing cases are their result") in text
    # A 3.4-like program: no output where a level has no channels.
    for case_id in manifest_ids:
        latents, _, _ = load_case(suite / case_id)
        if any(y.shape[1] == 0 for y in latents[:-1]):
            (tmp_path / "4.1" / case_id / "output.npy").unlink()
    assert main(["verify", str(tmp_path / "4.1"), "--golden", str(suite), "--profile", "coolchic"]) == 1
    assert "release: this implementation may follow Cool-chic 3.4" in capsys.readouterr().out


def test_the_verdict_table_of_the_commentary_is_measured(tmp_path):
    import json
    import pathlib
    import re

    from refups.profiles import PROFILES
    from refups.suite import default_suite_path, load_case
    from refups.verification import release_verdict, verify

    suite = default_suite_path()
    profiles = {e["id"]: e["profiles"] for e in json.loads((suite / "manifest.json").read_text())["cases"]}
    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "semantics.md").read_text()
    table = page.split("## The verdict each release line gets")[1]
    names = {"stop": "Cool-chic 4.1 and later", "continue": "Cool-chic 4.0", "error": "Cool-chic 3.4"}
    named = {"stop": "named as 4.1", "continue": "named as 4.0", "error": "named as possibly 3.4"}
    for empty_levels, name in names.items():
        out = tmp_path / empty_levels
        for case_dir in sorted(p for p in suite.iterdir() if p.is_dir()):
            latents, params, config = load_case(case_dir)
            up = Upsampling(**config, empty_levels=empty_levels)
            up.set_param(params)
            (out / case_dir.name).mkdir(parents=True)
            try:
                np.save(out / case_dir.name / "output.npy", up(latents))
            except ValueError:
                pass  # 3.4 refuses the level: no output
        # Two runs see every case once: full (the current line) and coolchic_4_0 (4.0's cases).
        rows = {row["id"]: row for profile in ("full", "coolchic_4_0")
                for row in verify(out, golden=suite, profile=profile)["cases"]}
        assert set(rows) == set(profiles)
        cells = []
        for profile in PROFILES:
            ran = [row for case_id, row in rows.items() if profile in profiles[case_id]]
            n, failed = len(ran), sum(row["status"] != "PASS" for row in ran)
            if not failed:
                cells.append(f"PASS, {n} of {n}")
            else:
                verdict = release_verdict(ran)
                assert verdict and named[empty_levels].split()[-1] in verdict
                cells.append(f"FAIL, {failed} of {n} fail, {named[empty_levels]}")
        row = f"| {name} (`{empty_levels!r}`) | " + " | ".join(cells) + " |"
        row = row.replace("'", '"')
        assert row in table, (row, re.findall(r"^\|.*$", table, re.M))

def test_a_case_of_your_own_for_cool_chic_4_0(tmp_path, capsys):
    """add-case --empty-levels continue: 4.0's expected values, its profile, a 4.0 port passes it."""
    from refups.cli import main
    from refups.io import params_to_json
    from refups.realdata import real_model, window

    model = real_model("basketball_b_motion")
    latents = window(model.latents, 0, 0, 64, 64)  # levels 0 and 1 without channels
    files = []
    for i, y in enumerate(latents):
        files.append(tmp_path / f"latent_{i}.npy")
        np.save(files[-1], y)
    (tmp_path / "params.json").write_text(json.dumps(params_to_json(model.params)))
    suite = tmp_path / "mine"
    assert main(["add-case", str(suite), "--id", "motion_4_0", "--params", str(tmp_path / "params.json"),
                 "--latents", *map(str, files), "--empty-levels", "continue"]) == 0
    assert "profiles coolchic_4_0, output (1, 5, 64, 64)" in capsys.readouterr().out
    entry = json.loads((suite / "manifest.json").read_text())["cases"][0]
    assert entry["empty_levels"] == "continue" and "S6.8" in entry["clauses"] and "S6.4" not in entry["clauses"]
    up = as_version(Upsampling(*model.config), "continue")
    up.set_param(model.params)
    assert_upsampling_close(np.load(suite / "motion_4_0" / "output.npy"), up(latents), dtype=np.float64,
                            atol=error_bounds(up, latents, np.float64))
    # refups run computes the same with --empty-levels continue; a 4.0 port passes, a 4.1 one is named.
    assert main(["run", "--params", str(tmp_path / "params.json"), "--latents", *map(str, files),
                 "--out", str(tmp_path / "out.npy"), "--empty-levels", "continue"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), up(latents))
    for line, status in [("continue", 0), ("stop", 1)]:
        out = tmp_path / line
        (out / "motion_4_0").mkdir(parents=True)
        np.save(out / "motion_4_0" / "output.npy", as_version(up, line)(latents))
        capsys.readouterr()
        assert main(["verify", str(out), "--golden", str(suite), "--profile", "coolchic_4_0"]) == status
        assert ("behaves like Cool-chic 4.1 and later" in capsys.readouterr().out) == (line == "stop")
    # 3.4 refuses such a pyramid: a one-line error, nothing written.
    before = sorted(p.name for p in suite.iterdir())
    assert main(["add-case", str(suite), "--id", "motion_3_4", "--params", str(tmp_path / "params.json"),
                 "--latents", *map(str, files), "--empty-levels", "error"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("refups add-case: error: latents[1] has no channels; with empty_levels='error' (Cool-chic 3.4)")
    assert sorted(p.name for p in suite.iterdir()) == before


def test_the_default_release_line_is_the_current_one():
    shapes = [(1, 1, 8, 8), (1, 0, 4, 4), (1, 1, 2, 2), (1, 1, 1, 1)]
    assert transition_levels(shapes) == transition_levels(shapes, "stop") == [2]  # stops at level 1 (S6.4)
    assert transition_levels(shapes, "continue") == [2, 1, 0]
    assert Upsampling(4, 3, 1, 1).empty_levels == "stop"
