"""Verification: choosing cases, comparing stages, non-finite values, reports."""

import json
import math
import re

import numpy as np
import pytest
from helpers import copy_expected

from refups.cases import CASES
from refups.io import FileError
from refups.realdata import REAL_MODELS
from refups.verification import compare, report_to_json, select_cases, ulp_distance, verify


def candidate_from(suite, tmp_path, dtype=np.float64):
    return copy_expected(suite, tmp_path / "candidate", dtype)


def test_verify_passes_on_the_suite_itself(suite_copy, tmp_path):
    report = verify(candidate_from(suite_copy, tmp_path), golden=suite_copy)
    assert report["passed"] and all(row["status"] == "PASS" for row in report["cases"])
    assert all(row["max_abs"] == 0 and row["max_ulp"] == 0 for row in report["cases"])


def test_verify_catches_a_1e9_relative_perturbation(suite_copy, tmp_path):
    candidate = candidate_from(suite_copy, tmp_path)
    path = candidate / "initial_ups6_pre3" / "transition_1.upsampled.npy"
    array = np.load(path)
    index = np.unravel_index(np.argmax(np.abs(array)), array.shape)
    array[index] *= 1 + 1e-9
    np.save(path, array)
    report = verify(candidate, golden=suite_copy)
    failed = [row for row in report["cases"] if row["status"] == "FAIL"]
    assert [row["id"] for row in failed] == ["initial_ups6_pre3"]
    assert failed[0]["first_stage"] == "transition_1.upsampled"
    assert failed[0]["max_ulp"] > 0 and not report["passed"]


def test_verify_reports_missing_and_misshaped_outputs(suite_copy, tmp_path):
    candidate = candidate_from(suite_copy, tmp_path)
    (candidate / "initial_ups4_pre1" / "output.npy").unlink()
    np.save(candidate / "initial_ups6_pre3" / "output.npy", np.zeros((1, 1, 2, 2)))
    rows = {row["id"]: row for row in verify(candidate, golden=suite_copy)["cases"]}
    assert rows["initial_ups4_pre1"]["status"] == "FAIL"
    assert re.search(r"missing .*initial_ups4_pre1.*output\.npy", rows["initial_ups4_pre1"]["reason"])
    assert rows["initial_ups6_pre3"]["reason"] == ("output: shape (1, 1, 2, 2), expected (1, 3, 12, 10); "
                                                   "no value can be compared")
    assert rows["initial_ups6_pre3"]["cause"] == "output shape differs"


def test_rows_without_comparable_numbers_print_dashes_and_a_common_cause(suite_copy, tmp_path, capsys):
    from refups.cli import main

    candidate = tmp_path / "half"
    for case_dir in sorted(p for p in suite_copy.iterdir() if p.is_dir()):
        (candidate / case_dir.name).mkdir(parents=True)
        output = np.load(case_dir / "output.npy")
        np.save(candidate / case_dir.name / "output.npy", output[:, :, ::2, ::2])  # half resolution
    assert main(["verify", str(candidate), "--golden", str(suite_copy)]) == 1
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.split() and line.split()[0] in
            {p.name for p in suite_copy.iterdir()}]
    failing = [row for row in rows if row.rstrip().endswith("no value can be compared)")]
    assert failing and all(row.split()[2:6] == ["-", "-", "-", "-"] for row in failing)
    assert not any(" 0.00e+00 " in row for row in failing)
    assert (f"common cause: {len(failing)} of {len(failing)} failing cases: output shape differs; the candidate "
            "returns (B, C, H/2, W/2) where (B, C, H, W) is expected") in out


def test_verify_float32_candidate_uses_float32_tolerances(suite_copy, tmp_path):
    report = verify(candidate_from(suite_copy, tmp_path, np.float32), golden=suite_copy, dtype="float32")
    assert report["passed"]
    assert {row["tolerance"]["dtype"] for row in report["cases"]} == {"float32"}
    assert report["cases"][1]["tolerance"]["rtol"] == 1e-5
    report = verify(candidate_from(suite_copy, tmp_path / "x", np.float32), golden=suite_copy, dtype="float64")
    assert report["verdict"] == "FAIL"
    assert all(row["reason"] == "transition_0.upsampled: transition_0.upsampled.npy has dtype float32; "
               "--dtype says float64" for row in report["cases"][1:])


def test_ulp_distance_counts_representable_values():
    one = np.float32(1.0)
    assert ulp_distance(np.array([one]), np.array([1.0])) == 0
    assert ulp_distance(np.array([np.nextafter(one, np.float32(2))]), np.array([1.0])) == 1
    # Across zero: -tiny to +tiny is two steps of the smallest subnormal.
    tiny = np.float32(np.finfo(np.float32).smallest_subnormal)
    assert ulp_distance(np.array([tiny]), np.array([-float(tiny)])) == 2
    assert ulp_distance(np.array([3.0]), np.array([np.nextafter(np.nextafter(3.0, 4), 4)])) == 2
    assert ulp_distance(np.array([np.nan]), np.array([np.nan])) == 0
    big = np.finfo(np.float64).max  # opposite extremes: no overflow
    assert ulp_distance(np.array([big]), np.array([-big])) == 2 * int(np.float64(big).view(np.int64))




# -- choosing cases -----------------------------------------------------------------

COMMITTED_MANIFEST = {"cases": [
    {"id": case.id, "flags": list(case.flags), "clauses": list(case.clauses), "profiles": list(case.profiles),
     "empty_levels": case.empty_levels, "config": dict(zip(("ups_k_size", "ups_preconcat_k_size", "n_ups_kernel", "n_ups_preconcat_kernel"),
                        case.config)),
     "files": [{"path": f"latent_{i}.npy", "role": "input", "shape": list(shape)}
               for i, shape in enumerate(case.shapes)]}
    for case in CASES]}


def test_coolchic_profile_leaves_out_exactly_the_multichannel_prefilter_cases():
    run, not_run = select_cases(COMMITTED_MANIFEST, "coolchic")
    assert dict(not_run) == {
        "batch3_channels": "not in profile coolchic: level 1 is pre-filtered and has 3 channels; Cool-chic's "
                           "pre-concatenation filter takes at most 1; level 0 is pre-filtered and has 2 channels; "
                           "Cool-chic's pre-concatenation filter takes at most 1",
        "exact_dyadic_ups8": "not in profile coolchic: level 0 is pre-filtered and has 2 channels; Cool-chic's "
                             "pre-concatenation filter takes at most 1",
        # and the cases of Cool-chic 4.0's line, where it differs from the current one (S6.8)
        **{case.id: "not in profile coolchic: a level without channels below the coarsest, computed as Cool-chic "
                    "4.0 does (empty_levels='continue'); this profile follows Cool-chic 4.1 (empty_levels='stop')"
           for case in CASES if case.empty_levels == "continue"},
    }
    assert len(run) == len(CASES) - 2 - 4


def test_bitstream_profile_says_why_each_case_is_left_out():
    _, not_run = select_cases(COMMITTED_MANIFEST, "bitstream")
    reasons = dict(not_run)
    assert reasons["random_ups16_pre15"] == ("not in profile bitstream: ups_k_size is 16; a bitstream carries "
                                             "at most 15")
    assert "level 1 is 4x4; a bitstream halves level 0 (5x6) rounding up, to 3x3" in reasons[
        "coarse_larger_than_half"]
    assert "batch 3; a bitstream carries one image (batch 1)" in reasons["batch3_channels"]
    assert "level 0 has 2 channels; a bitstream carries 0 or 1" in reasons["one_level"]


@pytest.mark.parametrize("select, skip, expected", [
    (["odd_7x5"], [], {"odd_7x5"}),
    (["empty_level_stop"], [], {"zero_channel_stop", "empty_middle_level", "zero_channel_first_transition",
                                "real_basketball_b_motion"}),
    (["S6.4"], ["zero_channel_first_transition"], {"zero_channel_stop", "empty_middle_level",
                                                    "real_basketball_b_motion"}),
    (["real_model"], ["S6.4"], {f"real_{name}" for name in REAL_MODELS[:5]}),
    (["S6.3"], [], {"shared_kernels", "modulo_kernels", "more_kernels_than_transitions"}),
    (["S6"], ["S6.1", "S6.2", "S6.3", "S6.4", "S6.5", "S6.6", "S6.7", "S4"],
     {"even_16x8", "zero_channel_coarsest"}),
])
def test_select_and_skip_take_ids_flags_and_clauses(select, skip, expected):
    run, not_run = select_cases(COMMITTED_MANIFEST, "full", select, skip)
    assert {entry["id"] for entry in run} == expected
    assert len(run) + len(not_run) == len(CASES)
    reasons = {case_id: reason for case_id, reason in not_run}
    assert {reasons.pop(case.id) for case in CASES if "full" not in case.profiles} == {
        "not in profile full: a level without channels below the coarsest, computed as Cool-chic 4.0 does "
        "(empty_levels='continue'); this profile follows Cool-chic 4.1 (empty_levels='stop')"}
    assert set(reasons.values()) <= {"not selected by --select", "skipped by --skip"}


def test_selection_mistakes_are_errors():
    with pytest.raises(ValueError, match=r"^--skip must name case ids, flags or clause ids of the suite; "
                                         r"got 'S6\.9'$"):
        select_cases(COMMITTED_MANIFEST, "full", skip=["S6.9"])
    with pytest.raises(ValueError, match=r"^no case of the suite is left to run \(profile bitstream"):
        select_cases(COMMITTED_MANIFEST, "bitstream", select=["multichannel_prefilter"])
    with pytest.raises(ValueError, match=r"^profile must be one of 'full', 'coolchic', 'bitstream', 'coolchic_4_0', "
                                         r"'coolchic_3_4'; got 'all'$"):
        select_cases(COMMITTED_MANIFEST, "all")


# -- non-finite values and JSON reports ----------------------------------------------

def test_compare_counts_nan_and_inf_and_never_reports_them_as_zero():
    expected = np.array([0.0, 1.0, 2.0, np.inf])
    result = compare(np.array([np.nan, np.nan, -np.inf, np.inf]), expected, rtol=0.1, atol=0.1)
    assert (result["ok"], result["nan"], result["inf"]) == (False, 2, 1)
    assert result["max_abs"] == math.inf and result["max_rel"] == math.inf and result["max_ulp"] == math.inf
    # The same infinity on both sides, and NaN against NaN, are right.
    same = compare(np.array([np.inf, np.nan]), np.array([np.inf, np.nan]), rtol=0.0, atol=0.0)
    assert (same["ok"], same["max_abs"], same["nan"], same["inf"], same["max_ulp"]) == (True, 0.0, 0, 0, 0)
    # An error against an expected 0 has an infinite relative error.
    assert compare(np.array([1e-3]), np.array([0.0]), rtol=0.0, atol=0.0)["max_rel"] == math.inf


@pytest.mark.parametrize("kind", ["off_by_1e-3", "nan", "inf"])
def test_failing_candidates_get_a_valid_json_report(suite_copy, tmp_path, kind):
    candidate = candidate_from(suite_copy, tmp_path)
    for path in candidate.glob("*/*.npy"):
        array = np.load(path)
        array = {"off_by_1e-3": array + 1e-3, "nan": np.full_like(array, np.nan),
                 "inf": np.full_like(array, np.inf)}[kind]
        np.save(path, array)
    report = verify(candidate, golden=suite_copy)
    assert report["verdict"] == "FAIL" and not any(row["status"] == "PASS" for row in report["cases"])
    report_to_json(report, tmp_path / "report.json")
    text = (tmp_path / "report.json").read_text()
    loaded = json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in JSON"))
    rows = loaded["cases"]
    if kind == "off_by_1e-3":
        assert all(abs(row["max_abs"] - 1e-3) < 1e-12 for row in rows)
        assert rows[0]["max_rel"] == "Infinity"  # the worked example's level 0 is all zeros
    else:
        assert all(row["max_abs"] == "Infinity" and row[kind] > 0 for row in rows)
        word = {"nan": "NaN", "inf": "infinite"}[kind]
        assert all(re.search(rf": holds \d+ {word} value\(s\) where finite ones are expected$", row["reason"])
                   for row in rows)
    assert loaded["verdict"] == "FAIL"


# -- reading only inside the suite ----------------------------------------------------

@pytest.mark.parametrize("field, value, pattern", [
    ("id", "../outside", r"case 0: 'id' must match \[a-z0-9_\]\+; got '\.\./outside'$"),
    ("id", "/etc", r"case 0: 'id' must match \[a-z0-9_\]\+; got '/etc'$"),
    ("path", "../../outside.npy", r"case 0 \(s4_worked_example\): files\[0\]\.path must be a plain file name"),
    ("path", "/tmp/outside.npy", r"case 0 \(s4_worked_example\): files\[0\]\.path must be a plain file name"),
])
def test_manifest_entries_leading_outside_the_suite_are_refused(suite_copy, tmp_path, field, value, pattern):
    manifest = json.loads((suite_copy / "manifest.json").read_text())
    case = manifest["cases"][0]
    if field == "id":
        case["id"] = value
    else:
        case["files"][0]["path"] = value
    (suite_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(FileError, match=r"manifest\.json: " + pattern):
        verify(candidate_from(suite_copy, tmp_path), golden=suite_copy)


def test_a_case_folder_linking_outside_the_suite_is_refused(suite_copy, tmp_path):
    outside = tmp_path / "elsewhere"
    (suite_copy / "s4_worked_example").rename(outside)
    (suite_copy / "s4_worked_example").symlink_to(outside)
    with pytest.raises(FileError, match=r"s4_worked_example/latent_0\.npy: leads outside "):
        verify(candidate_from(suite_copy, tmp_path), golden=suite_copy)


# -- running a command on each case ---------------------------------------------------

def test_run_drives_any_command_and_records_failures_per_case(suite_copy, tmp_path):
    ids = [case.id for case in CASES[:6]]
    # Copy the expected output for most cases; crash on one, time out on one, write nothing on one.
    command = ('case={case}; case_id=$(basename "$case"); '
               f'if [ "$case_id" = {ids[1]} ]; then echo "segfault near line 3" >&2; kill -SEGV $$; fi; '
               f'if [ "$case_id" = {ids[2]} ]; then sleep 20; fi; '
               f'if [ "$case_id" = {ids[3]} ]; then exit 0; fi; '
               'cp {case}/output.npy {out}/output.npy')
    report = verify(tmp_path / "out", golden=suite_copy, run=command, timeout=1.0)
    rows = {row["id"]: row for row in report["cases"]}
    assert [rows[i]["status"] for i in ids] == ["PASS", "FAIL", "FAIL", "FAIL", "PASS", "PASS"]
    assert rows[ids[1]]["reason"] == "the command was killed by SIGSEGV"
    assert rows[ids[1]]["stderr"] == "segfault near line 3"
    assert rows[ids[2]]["reason"] == "the command timed out after 1 s"
    assert rows[ids[3]]["reason"].startswith("missing ")
    assert rows[ids[2]]["seconds"] < 10  # the sleeping shell was killed, not waited for


def test_run_never_judges_stale_outputs(suite_copy, tmp_path):
    candidate = candidate_from(suite_copy, tmp_path)  # a perfect earlier run
    report = verify(candidate, golden=suite_copy, run="true {case} {out}", select=[CASES[0].id])
    assert report["cases"][0]["status"] == "FAIL"
    assert report["cases"][0]["reason"].startswith("missing ")


def test_flags_summary_counts_failures(suite_copy, tmp_path):
    candidate = candidate_from(suite_copy, tmp_path)
    (candidate / "initial_ups6_pre3" / "output.npy").unlink()
    report = verify(candidate, golden=suite_copy)
    assert report["flags"]["phase_k2mod4"] == {"cases": 2, "failed": 1}  # k = 6 and 10
    assert report["flags"]["initial_kernels"] == {"cases": 6, "failed": 1}


def test_outputs_that_are_not_4_d_get_a_common_cause_and_no_crash(suite_copy, tmp_path):
    candidate = candidate_from(suite_copy, tmp_path)
    for path in candidate.glob("*/output.npy"):
        np.save(path, np.load(path)[0])  # the batch axis squeezed: 3-D
    report = verify(candidate, golden=suite_copy)
    assert report["verdict"] == "FAIL"
    assert report["common_cause"]["cause"] == "output shape differs" and report["common_cause"]["detail"] is None
