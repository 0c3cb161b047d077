"""S6.8: Cool-chic's release lines on a level without channels (refups.versions), on every path."""

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


def test_the_4_0_mutant_is_exactly_the_4_0_line():
    up = Upsampling(4, 3, 2, 2, empty_levels="continue")
    latents = [np.ones((1, 1, 8, 8)), np.zeros((1, 0, 4, 4)), np.arange(4.0).reshape(1, 1, 2, 2),
               np.ones((1, 1, 1, 1))]
    config = {"ups_k_size": 4, "ups_preconcat_k_size": 3, "n_ups_kernel": 2, "n_ups_preconcat_kernel": 2}
    np.testing.assert_allclose(mutants.candidate(latents, up.get_param(), config, bug="zero_channel_skipped"),
                               up(latents), rtol=0, atol=1e-12)


def test_the_kit_names_the_release_a_failure_matches():
    from refups.testing import check_implementation

    def release_4_0(latents, params, config):
        return mutants.candidate(latents, params, config, bug="zero_channel_skipped")

    def release_3_4(latents, params, config):
        if any(np.shape(y)[1] == 0 for y in latents[:-1]):
            raise RuntimeError("Given groups=1, weight of size [1, 1, 7, 7], expected input to have 1 channels")
        return mutants.candidate(latents, params, config)

    with pytest.raises(AssertionError, match="This implementation behaves like Cool-chic 4.0 on levels "
                                             "without channels"):
        check_implementation(release_4_0, max_examples=30, derandomize=True)
    with pytest.raises(AssertionError, match="the candidate raised: Cool-chic 3.4 refuses such a level"):
        check_implementation(release_3_4, max_examples=30, derandomize=True)
    for candidate in (release_4_0, release_3_4):  # and the rest of each is right
        check_implementation(candidate, max_examples=30, derandomize=True, skip=["S6.4"])
    with pytest.raises(AssertionError) as info:  # a real bug is not excused
        check_implementation(lambda *a: mutants.candidate(*a, bug="zero_padding"), max_examples=30,
                             derandomize=True)
    assert "behaves like Cool-chic" not in str(info.value)


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
    # A 3.4-like program: no output where a level has no channels.
    for case_id in manifest_ids:
        latents, _, _ = load_case(suite / case_id)
        if any(y.shape[1] == 0 for y in latents[:-1]):
            (tmp_path / "4.1" / case_id / "output.npy").unlink()
    assert main(["verify", str(tmp_path / "4.1"), "--golden", str(suite), "--profile", "coolchic"]) == 1
    assert "release: this implementation may follow Cool-chic 3.4" in capsys.readouterr().out


def test_the_verdict_table_of_the_commentary_is_measured(tmp_path):
    import pathlib
    import re

    import json

    from refups.suite import default_suite_path, load_case
    from refups.verification import release_verdict, verify

    suite = default_suite_path()
    profiles = {e["id"]: e["profiles"] for e in json.loads((suite / "manifest.json").read_text())["cases"]}
    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "semantics.md").read_text()
    table = page.split("## The verdict each release line gets")[1]
    names = {"stop": "Cool-chic 4.1 and later", "continue": "Cool-chic 4.0", "error": "Cool-chic 3.4"}
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
        report = verify(out, golden=suite, profile="full")  # the other profiles are subsets of it
        cells = []
        for profile in ("full", "coolchic", "bitstream"):
            rows = [row for row in report["cases"] if profile in profiles[row["id"]]]
            n, failed = len(rows), sum(row["status"] != "PASS" for row in rows)
            if not failed:
                cells.append(f"PASS, {n} of {n}")
            else:
                named = {"continue": "named as 4.0", "error": "named as possibly 3.4"}[empty_levels]
                assert ("4.0" if empty_levels == "continue" else "3.4") in release_verdict(rows)
                cells.append(f"FAIL, {failed} of {n} fail, {named}")
        row = f"| {name} (`{empty_levels!r}`) | " + " | ".join(cells) + " |"
        row = row.replace("'", '"')
        assert row in table, (row, re.findall(r"^\|.*$", table, re.M))
