"""verify --call: a Python candidate called on every case in one worker process (refups.inprocess)."""

import json

import pytest

from refups.cli import main
from refups.suite import default_suite_path

SUITE = default_suite_path()

ERRATIC = """\
import os, signal, time
from refups.testing import reference_implementation


def upsample(latents, params, config):
    levels = len(latents)
    if levels == 1:
        raise IndexError("list index out of range")
    if levels == 5:
        time.sleep(600)  # never returns
    if levels == 6:
        os.kill(os.getpid(), signal.SIGSEGV)  # the interpreter crashes
    return reference_implementation(latents, params, config)
"""


@pytest.fixture()
def erratic(tmp_path, monkeypatch):
    (tmp_path / "erratic_worker.py").write_text(ERRATIC)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_whole_suite_is_called_in_one_worker(tmp_path, capsys):
    status = main(["verify", str(tmp_path / "out"), "--golden", str(SUITE), "--call",
                   "refups.testing:reference_implementation", "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert status == 0 and "PASS (43 of 43 cases passed)" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["call"] == "refups.testing:reference_implementation"
    assert all((tmp_path / "out" / row["id"] / "output.npy").is_file() for row in report["cases"])


def test_a_raise_a_hang_and_a_crash_fail_their_cases_only(erratic, capsys):
    manifest = json.loads((SUITE / "manifest.json").read_text())
    levels = {entry["id"]: entry["config"]["n_levels"] for entry in manifest["cases"]}
    status = main(["verify", "out", "--golden", str(SUITE), "--call", "erratic_worker:upsample", "--timeout", "5",
                   "--json", "r.json"])
    assert status == 1
    rows = {row["id"]: row for row in json.loads((erratic / "r.json").read_text())["cases"]}
    expected = {"the function raised IndexError: list index out of range": 1,
                "the function timed out after 5 s": 5, "the worker process was killed by signal 11": 6}
    for case_id, row in rows.items():
        reason = next((text for text, n in expected.items() if levels[case_id] == n), None)
        if reason is None:
            assert row["status"] == "PASS", row
        else:
            assert row["status"] == "FAIL" and row["reason"] == reason, row
    assert {levels[c] for c, row in rows.items() if row["status"] == "FAIL"} == {1, 5, 6}
    capsys.readouterr()


def test_call_refuses_bad_targets_and_run_together(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "explodes_on_import.py").write_text("raise RuntimeError('no GPU here')\n")
    for argv, pattern in [
        (["--call", "no_such_module_here:f"], "cannot import module 'no_such_module_here'"),
        (["--call", "explodes_on_import:f"], "cannot import module 'explodes_on_import' (RuntimeError: no GPU here)"),
        (["--call", "refups"], "MODULE:FUNCTION must name a module and a function"),
        (["--call", "refups.testing:nothing"], "module 'refups.testing' has no function 'nothing'"),
        (["--call", "refups.testing:reference_implementation", "--run", "true {case} {out}"],
         "--run and --call exclude each other"),
    ]:
        status = main(["verify", str(tmp_path / "out"), "--golden", str(SUITE), *argv])
        err = capsys.readouterr().err
        assert status == 2 and err.startswith("refups verify: error: ") and pattern in err, err
    assert not (tmp_path / "out").exists()
