"""The PyTorch consumer in examples/ passes the golden suite (run when torch is installed)."""

import json
import pathlib
import subprocess
import sys

import pytest
from helpers import optional

optional("torch")

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("path", [[], ["--dense"]], ids=["separable", "dense"])
def test_torch_consumer_passes_the_committed_suite(tmp_path, dtype, path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "torch_upsampling.py"), str(ROOT / "data" / "golden"),
         str(tmp_path / "out"), "--dtype", dtype, *path],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("verdict for profile full: PASS")


def test_refups_verify_runs_the_torch_example_case_by_case(tmp_path):
    command = f"{sys.executable} {ROOT / 'examples' / 'torch_upsampling.py'} --case {{case}} {{out}} --dtype float32"
    result = subprocess.run(
        [sys.executable, "-m", "refups", "verify", str(tmp_path / "out"), "--golden", str(ROOT / "data" / "golden"),
         "--profile", "coolchic", "--select", "S6.4,S6.5,odd_crop", "--run", command, "--json",
         str(tmp_path / "report.json")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    ids = {row["id"] for row in report["cases"]}
    assert {"empty_middle_level", "one_level_with_filters", "decoded_75x100"} <= ids
    assert all(row["status"] == "PASS" and row["tolerance"]["dtype"] == "float32" for row in report["cases"])


def test_torch_consumer_is_caught_when_wrong(tmp_path):
    # The same consumer with zero padding instead of replicate padding must fail.
    source = (ROOT / "examples" / "torch_upsampling.py").read_text()
    broken = source.replace('mode="replicate"', 'mode="constant"')
    assert broken != source
    script = tmp_path / "broken.py"
    script.write_text(broken)
    result = subprocess.run(
        [sys.executable, str(script), str(ROOT / "data" / "golden"), str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 1 and "FAIL" in result.stdout
