"""Profiles and flags: every profile has cases for every flag and clause that applies
to it, and the profile rules are nested and explain every refusal."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refups.cases import CASES, OBSERVABLE_CLAUSES
from refups.flags import FLAGS
from refups.profiles import PROFILES, prefiltered_levels, profiles_of
from refups.testing import latent_pyramids

@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_flag_has_a_case_in_every_profile_where_it_applies(profile):
    missing = [name for name, flag in FLAGS.items()
               if profile in flag.profiles and not any(name in case.flags and profile in case.profiles
                                                       for case in CASES)]
    assert missing == []


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_observable_clause_has_a_case_in_every_profile_where_it_applies(profile):
    missing = [clause for clause, profiles in OBSERVABLE_CLAUSES.items()
               if profile in profiles and not any(clause in case.clauses and profile in case.profiles
                                                  for case in CASES)]
    assert missing == []


def test_cases_name_known_flags_only_where_they_can_occur():
    for case in CASES:
        assert case.flags, case.id
        for name in case.flags:
            assert name in FLAGS, (case.id, name)
            # A flag that cannot occur in a profile is never exercised by a case of that profile.
            assert set(case.profiles) <= set(FLAGS[name].profiles), (case.id, name)


def test_decoder_behaviours_reported_for_cool_chics_cpp_decoder_fail_by_name():
    # Skipping a middle level without channels, and pre-filtering a single level, must each fail a
    # bitstream case flagged for it; a phase error for k = 2 mod 4 must fail the k = 6, 10, 14 cases.
    bitstream = [case for case in CASES if "bitstream" in case.profiles]
    middle_empty = [c for c in bitstream if "empty_level_stop" in c.flags and 0 < c.shapes.index(
        next(s for s in c.shapes if s[1] == 0)) < len(c.shapes) - 1]
    assert middle_empty
    single = [c for c in bitstream if "single_level" in c.flags and c.config[3] >= 1]
    assert single  # there is a pre-concatenation filter that a wrong decoder could apply
    assert {c.config[0] for c in bitstream if "phase_k2mod4" in c.flags} == {6, 10, 14}


@settings(max_examples=200)
@given(st.tuples(st.sampled_from([4, 6, 8, 16]), st.sampled_from([1, 7, 17]), st.integers(0, 16), st.integers(0, 16)),
       latent_pyramids(max_levels=9, max_side=12, min_channels=0, max_channels=2, max_batch=2))
def test_profiles_are_nested_and_explain_every_refusal(config, latents):
    shapes = [y.shape for y in latents]
    names = profiles_of(config, shapes)
    older = profiles_of(config, shapes, "continue")  # expected values computed as Cool-chic 4.0 does
    assert names[0] == "full"
    if "bitstream" in names:
        assert "coolchic" in names
    if "coolchic_3_4" in names:  # 3.4's domain is where every release line agrees
        assert names == older and {"coolchic", "coolchic_4_0"} <= set(names)
    for name, profile in PROFILES.items():
        assert (name in names) == (profile.violations(config, shapes, "stop") == [])
        assert (name in older) == (profile.violations(config, shapes, "continue") == [])
    # The rules in their own words: no pre-filtered level has two channels or more; 4.0 pre-filters
    # every level below the coarsest that has channels; 3.4 needs exactly one channel on each.
    below = [shape[1] for shape in shapes[:-1]]
    assert ("coolchic" in names) == all(shapes[i][1] <= 1 for i in prefiltered_levels(shapes))
    assert ("coolchic_4_0" in older) == all(C <= 1 for C in below)
    assert ("coolchic_4_0" in names) == all(C == 1 for C in below)
    assert ("coolchic_3_4" in names) == all(C == 1 for C in below)
    # Where the lines differ, a case computed one way belongs to that line's profiles only.
    assert ("full" in older) == (0 not in below)
