"""The C99 implementation in examples/c/ builds cleanly and passes the golden suite through
``refups verify --run``; a one-sample phase error in it is caught and named (needs a C compiler)."""

import os
import pathlib
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from refups.cases import CASES

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ROOT / "examples" / "c"
GOLDEN = ROOT / "data" / "golden"
FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror"]

# The line of upsampling.c that sets the crop constant, and a version of it one
# sample off in phase when k % 4 == 2 (k = 6, 10, 14) and right otherwise.
CROP_LINE = "const int C = 3 * k / 2 - 1;"
CROP_LINE_OFF_BY_ONE = "const int C = 3 * k / 2 - 1 + (k % 4 == 2);"


def find_compiler():
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


COMPILER = find_compiler()
pytestmark = pytest.mark.skipif(COMPILER is None, reason="no C compiler found ($CC, cc, gcc)")


def compile_c(source_dir, binary):
    result = subprocess.run(
        [COMPILER, *FLAGS, *sorted(str(p) for p in source_dir.glob("*.c")), "-lm", "-o", str(binary)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return binary


def verify(binary, out, profile):
    return subprocess.run(
        [sys.executable, "-m", "refups", "verify", str(out), "--golden", str(GOLDEN), "--profile", profile,
         "--run", f"{shlex.quote(str(binary))} {{case}} {{out}}"],
        capture_output=True, text=True, cwd=ROOT,
    )


@pytest.fixture(scope="module")
def refups_c(tmp_path_factory):
    return compile_c(SOURCES, tmp_path_factory.mktemp("c") / "refups_c")


def test_c_example_computes_the_s4_worked_example_exactly(refups_c, tmp_path):
    case = GOLDEN / "s4_worked_example"
    result = subprocess.run([str(refups_c), str(case), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    output = np.load(tmp_path / "output.npy")
    assert output.dtype == np.float64
    np.testing.assert_array_equal(output, np.load(case / "output.npy"))
    # The upsampled channel is S4's (1, 2, 4) -> (1, 1.25, 1.75, 2.5, 3.5, 4), in both rows.
    np.testing.assert_array_equal(output[0, 1], [[1, 1.25, 1.75, 2.5, 3.5, 4]] * 2)


@pytest.mark.parametrize("profile", ["bitstream", "full"])
def test_c_example_passes_the_committed_suite(refups_c, tmp_path, profile):
    result = verify(refups_c, tmp_path / "out", profile)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout.rstrip().splitlines()[-1], result.stdout


def test_c_example_with_a_phase_error_fails_by_flag_name(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(SOURCES, broken, ignore=shutil.ignore_patterns("refups_c", "*.o"))
    source = (broken / "upsampling.c").read_text()
    assert source.count(CROP_LINE) == 1
    (broken / "upsampling.c").write_text(source.replace(CROP_LINE, CROP_LINE_OFF_BY_ONE))
    binary = compile_c(broken, tmp_path / "refups_c_broken")
    result = verify(binary, tmp_path / "out", "bitstream")
    assert result.returncode == 1, result.stdout + result.stderr
    # Every case built for this bug fails, and the summary names the flag first.
    targeted = [case.id for case in CASES if "phase_k2mod4" in case.flags and "bitstream" in case.profiles]
    failed_flags = next(line for line in result.stdout.splitlines() if line.startswith("failed flags: "))
    assert failed_flags.startswith(f"failed flags: phase_k2mod4 ({len(targeted)} of {len(targeted)} cases)")
    rows = [line for line in result.stdout.splitlines() if line.endswith(" FAIL") or " FAIL  (" in line]
    assert {line.split()[0] for line in rows} >= set(targeted)
