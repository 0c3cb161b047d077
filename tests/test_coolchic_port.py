"""Cool-chic's own module, through a stand-in built the same way (tests/coolchic_port.py):
the coolchic profile is exactly what it accepts, its outputs pass that profile, and
they fail the full profile only on the cases outside it."""

import pathlib
import sys

import numpy as np
import pytest
from helpers import optional
from hypothesis import given, settings

from refups.cases import CASES
from refups.profiles import profiles_of
from refups.testing import latent_pyramids
from refups.verification import verify

torch = optional("torch")  # the Cool-chic stand-in is a PyTorch module
import coolchic_port  # noqa: E402  (needs torch)

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "data" / "golden"


@settings(max_examples=60)
@given(latent_pyramids(max_levels=4, max_side=8, min_channels=0, max_channels=2))
def test_coolchic_profile_is_what_a_coolchic_like_module_accepts(latents):
    params = {}
    for kind, k in (("conv_transpose2ds", 4), ("conv2ds", 3)):
        params[f"{kind}.0.parametrizations.weight.original"] = torch.tensor([0.25, 0.75][: (k + 1) // 2], dtype=torch.float64)
    module = coolchic_port.CoolchicLikeUpsampling(params, 4, 3, 1, 1)
    inside = "coolchic" in profiles_of((4, 3, 1, 1), [y.shape for y in latents])
    try:
        module([torch.from_numpy(y) for y in latents])
        accepted = True
    except RuntimeError:
        accepted = False
    assert accepted == inside


@pytest.fixture(scope="module")
def coolchic_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("coolchic")
    ran = []
    for case in CASES:
        try:
            coolchic_port.run_case(GOLDEN / case.id, out / case.id)
            ran.append(case.id)
        except RuntimeError:
            pass
    return out, ran


def test_coolchic_like_outputs_pass_the_coolchic_profile(coolchic_outputs):
    out, _ = coolchic_outputs
    report = verify(out, golden=GOLDEN, profile="coolchic")
    assert report["verdict"] == "PASS"
    assert {row["id"] for row in report["cases"]} == {c.id for c in CASES if "coolchic" in c.profiles}


def test_coolchic_like_outputs_fail_full_only_outside_coolchic(coolchic_outputs):
    out, ran = coolchic_outputs
    outside = {c.id for c in CASES if "full" in c.profiles and "coolchic" not in c.profiles}
    assert set(ran) == {c.id for c in CASES} - outside  # it raises exactly outside its domain
    report = verify(out, golden=GOLDEN, profile="full")
    failed = {row["id"] for row in report["cases"] if row["status"] == "FAIL"}
    assert failed == outside == {"batch3_channels", "exact_dyadic_ups8"}


def test_run_records_a_raising_module_as_a_failure_with_its_error(tmp_path):
    command = f"{sys.executable} {ROOT / 'tests' / 'coolchic_port.py'} {{case}} {{out}}"
    report = verify(tmp_path / "out", golden=GOLDEN, run=command, select=["batch3_channels", "odd_7x5"])
    rows = {row["id"]: row for row in report["cases"]}
    assert rows["odd_7x5"]["status"] == "PASS"
    assert rows["batch3_channels"]["reason"] == "the command exited with status 1"
    assert "to have 1 channels" in rows["batch3_channels"]["stderr"]
    assert report["flags"]["multichannel_prefilter"] == {"cases": 1, "failed": 1}
    assert np.load(tmp_path / "out" / "odd_7x5" / "output.npy").shape == (1, 3, 7, 5)


@pytest.mark.parametrize("mode", ["candidate", "candidate_train"])  # eval: separable, train: dense
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_coolchic_like_module_passes_check_implementation_with_default_arguments(mode, dtype):
    from refups.testing import check_implementation

    check_implementation(getattr(coolchic_port, mode), dtype=dtype, derandomize=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_coolchic_like_module_passes_refups_check(dtype):
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "refups", "check", "coolchic_port:candidate", "--dtype", dtype, "--seed", "3"],
        capture_output=True, text=True, cwd=ROOT / "tests",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"check coolchic_port:candidate: PASS (100 drawn cases, profile coolchic, {dtype}, seed 3)\n"
