"""Hypothesis profiles (``quick`` by default, ``thorough`` for CI) and shared fixtures.

Select a profile with ``HYPOTHESIS_PROFILE=thorough pytest`` (what ``.ci/run`` does).
"""

import os

import pytest
from hypothesis import HealthCheck, settings

from refups.cases import CASES
from refups.suite import write_suite

settings.register_profile(
    "quick", max_examples=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


@pytest.fixture()
def suite_copy(tmp_path):
    """A small suite (the first six cases) written to a temporary folder."""
    return write_suite(tmp_path / "golden", cases=CASES[:6])
