"""Hypothesis profiles: ``quick`` by default, ``thorough`` for CI.

Select one with ``HYPOTHESIS_PROFILE=thorough pytest`` (what ``.ci/run`` does).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "quick", max_examples=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))
