"""Conformance profiles: which inputs an implementation is expected to handle.

An implementation rarely needs the whole domain that refups computes.
A *profile* is a named set of rules on the configuration and the level
shapes; a golden case belongs to every profile whose rules it satisfies, and
``refups verify --profile NAME`` runs exactly those cases. The rules are the
ones of the specification (``docs/spec.md``, "Conformance profiles"):

``full``
    Everything refups computes, extensions included (S6.6).
``coolchic``
    What Cool-chic's own PyTorch module computes: at most one channel on
    every level that gets pre-filtered; any number on the coarsest level and
    on levels dropped by an S6.4 stop.
``bitstream``
    What a Cool-chic bitstream can carry, for decoder authors: batch 1; 0 or
    1 channel per level; ``H_{i+1} = ceil(H_i / 2)`` and likewise for ``W``;
    kernel sizes and filter counts at most 15; at most 8 levels.
``coolchic_4_0``
    What Cool-chic 4.0's module computes: a level without channels is
    skipped and the loop goes on to level 0 (S6.8, ``empty_levels="continue"``);
    at most one channel on every level the loop pre-filters.
``coolchic_3_4``
    What Cool-chic 3.4's module computes: exactly one channel on every level
    but the coarsest, since 3.4 refuses a level without channels (S6.8).

The first three follow the current release line (S6.4). Each profile has
its ``empty_levels`` (:mod:`refups.versions`): a case whose result depends
on the release line (a level without channels below the coarsest) belongs
only to the profiles whose release line computed it.

Examples
--------
>>> config = (8, 7, 1, 1)            # ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel
>>> shapes = [(1, 2, 4, 4), (1, 1, 2, 2)]
>>> profiles_of(config, shapes)
('full',)
>>> PROFILES["coolchic"].violations(config, shapes)
["level 0 is pre-filtered and has 2 channels; Cool-chic's pre-concatenation filter takes at most 1"]
>>> empty = [(1, 1, 4, 4), (1, 0, 2, 2), (1, 1, 1, 1)]
>>> profiles_of(config, empty), profiles_of(config, empty, empty_levels="continue")
(('full', 'coolchic', 'bitstream'), ('coolchic_4_0',))
"""

from dataclasses import dataclass
from typing import Callable

from .versions import check_empty_levels, depends_on_release, release_name, transition_levels

__all__ = ["PROFILES", "Profile", "RELEASE_PROFILES", "check_profile", "prefiltered_levels", "profiles_of"]

#: Limits of what a Cool-chic bitstream can express (4-bit fields, 8 levels).
BITSTREAM_MAX_K_SIZE = 15
BITSTREAM_MAX_KERNELS = 15
BITSTREAM_MAX_LEVELS = 8


def prefiltered_levels(shapes):
    """Indices of the levels the S6 loop pre-filters, coarsest transition first.

    The loop visits ``y_{L-2}, ..., y_0`` and stops at the first level without
    channels (S6.4); the coarsest level is never pre-filtered (S6.5).

    Examples
    --------
    >>> prefiltered_levels([(1, 1, 8, 8), (1, 0, 4, 4), (1, 1, 2, 2), (1, 1, 1, 1)])
    [2]
    """
    return transition_levels(shapes, "stop")


def _full(config, shapes):
    return []


def _coolchic(config, shapes):
    # Cool-chic's pre-concatenation convolution has one input channel.
    return [f"level {i} is pre-filtered and has {shapes[i][1]} channels; "
            f"Cool-chic's pre-concatenation filter takes at most 1"
            for i in prefiltered_levels(shapes) if shapes[i][1] > 1]


def _coolchic_4_0(config, shapes):
    # 4.0 pre-filters every level below the coarsest that has channels (S6.8).
    return [f"level {i} is pre-filtered and has {shapes[i][1]} channels; "
            f"Cool-chic's pre-concatenation filter takes at most 1"
            for i in transition_levels(shapes, "continue") if shapes[i][1] > 1]


def _coolchic_3_4(config, shapes):
    # 3.4 pre-filters every level below the coarsest and refuses one without channels.
    found = []
    for i in range(len(shapes) - 2, -1, -1):
        if shapes[i][1] == 0:
            found.append(f"level {i} has no channels; Cool-chic 3.4 refuses a pre-filtered level without "
                         "channels")
        elif shapes[i][1] > 1:
            found.append(f"level {i} is pre-filtered and has {shapes[i][1]} channels; "
                         "Cool-chic's pre-concatenation filter takes at most 1")
    return found


def _bitstream(config, shapes):
    ups_k_size, preconcat_k_size, n_ups, n_preconcat = config
    found = []
    if len(shapes) > BITSTREAM_MAX_LEVELS:
        found.append(f"{len(shapes)} levels; a bitstream carries at most {BITSTREAM_MAX_LEVELS}")
    for name, value, limit in [("ups_k_size", ups_k_size, BITSTREAM_MAX_K_SIZE),
                               ("ups_preconcat_k_size", preconcat_k_size, BITSTREAM_MAX_K_SIZE),
                               ("n_ups_kernel", n_ups, BITSTREAM_MAX_KERNELS),
                               ("n_ups_preconcat_kernel", n_preconcat, BITSTREAM_MAX_KERNELS)]:
        if value > limit:
            found.append(f"{name} is {value}; a bitstream carries at most {limit}")
    batches = sorted({shape[0] for shape in shapes})
    if batches != [1]:
        found.append(f"batch {batches[-1]}; a bitstream carries one image (batch 1)")
    for i, (_, C, H, W) in enumerate(shapes):
        if C > 1:
            found.append(f"level {i} has {C} channels; a bitstream carries 0 or 1")
        if i > 0:
            _, _, H_fine, W_fine = shapes[i - 1]
            halved = (-(-H_fine // 2), -(-W_fine // 2))
            if (H, W) != halved:
                found.append(f"level {i} is {H}x{W}; a bitstream halves level {i - 1} "
                             f"({H_fine}x{W_fine}) rounding up, to {halved[0]}x{halved[1]}")
    return found


@dataclass(frozen=True)
class Profile:
    """A named set of rules and a release line; ``violations`` lists the rules broken.

    ``config`` is ``(ups_k_size, ups_preconcat_k_size, n_ups_kernel,
    n_ups_preconcat_kernel)`` and ``shapes`` one ``(B, C_i, H_i, W_i)`` per
    level, level 0 finest. ``empty_levels`` is the release line whose
    results the profile expects (S6.8).
    """

    name: str
    summary: str
    rules: tuple
    broken: Callable
    empty_levels: str = "stop"

    def violations(self, config, shapes, empty_levels=None):
        """The rules ``config`` and ``shapes`` break; empty when the input is in the profile.

        ``empty_levels``, when given, is the release line the expected
        values were computed with: where the release lines differ
        (:func:`refups.versions.depends_on_release`) it must be the profile's.
        """
        found = list(self.broken(config, shapes))
        if (empty_levels is not None and check_empty_levels(empty_levels) != self.empty_levels
                and depends_on_release(shapes)):
            found.append(f"a level without channels below the coarsest, computed as {release_name(empty_levels)} "
                         f"does (empty_levels={empty_levels!r}); this profile follows "
                         f"{release_name(self.empty_levels)} (empty_levels={self.empty_levels!r})")
        return found

    def admits(self, config, shapes, empty_levels=None):
        """True when ``config`` and ``shapes`` break none of the rules."""
        return not self.violations(config, shapes, empty_levels)


#: The profiles, widest first.
PROFILES = {profile.name: profile for profile in (
    Profile("full", "everything refups computes, extensions included",
            ("any input the specification accepts (S2, S6.7, S10)",), _full),
    Profile("coolchic", "what Cool-chic's PyTorch module computes",
            ("at most 1 channel on every pre-filtered level (levels L-2 down to the first "
             "level without channels)",
             "any number of channels on the coarsest level and on levels dropped by S6.4",
             "everything else as in the full profile"), _coolchic),
    Profile("bitstream", "what a Cool-chic bitstream can carry (for decoder authors)",
            ("batch 1",
             "0 or 1 channel on every level",
             "H_{i+1} = ceil(H_i / 2) and W_{i+1} = ceil(W_i / 2) for every level",
             f"ups_k_size and ups_preconcat_k_size at most {BITSTREAM_MAX_K_SIZE}",
             f"n_ups_kernel and n_ups_preconcat_kernel at most {BITSTREAM_MAX_KERNELS}",
             f"at most {BITSTREAM_MAX_LEVELS} levels",
             "parameter and latent values: any finite floats"), _bitstream),
    Profile("coolchic_4_0", "what Cool-chic 4.0's PyTorch module computes",
            ("a level without channels below the coarsest is skipped and the loop goes on to level 0 "
             "(S6.8, empty_levels='continue')",
             "at most 1 channel on every level from L-2 down to 0 that has channels",
             "everything else as in the full profile"), _coolchic_4_0, "continue"),
    Profile("coolchic_3_4", "what Cool-chic 3.4's PyTorch module computes",
            ("exactly 1 channel on every level from L-2 down to 0: 3.4 refuses a level without channels "
             "(S6.8, empty_levels='error')",
             "any number of channels on the coarsest level",
             "everything else as in the full profile"), _coolchic_3_4, "error"),
)}

#: The profiles of each release line (S6.8), the current one first.
RELEASE_PROFILES = {"stop": "coolchic", "continue": "coolchic_4_0", "error": "coolchic_3_4"}


def check_profile(name, argument="profile"):
    """Return the :class:`Profile` called ``name``, or raise a ValueError listing the names.

    Examples
    --------
    >>> check_profile("bitstream").summary
    'what a Cool-chic bitstream can carry (for decoder authors)'
    >>> check_profile("cool-chic")
    Traceback (most recent call last):
    ...
    ValueError: profile must be one of 'full', 'coolchic', 'bitstream', 'coolchic_4_0', 'coolchic_3_4'; got 'cool-chic'
    """
    if not isinstance(name, str) or name not in PROFILES:
        names = ", ".join(repr(n) for n in PROFILES)
        raise ValueError(f"{argument} must be one of {names}; got {name!r}")
    return PROFILES[name]


def profiles_of(config, shapes, empty_levels="stop"):
    """Names of the profiles that admit ``config`` and ``shapes`` computed as ``empty_levels`` says.

    Examples
    --------
    >>> profiles_of((8, 7, 1, 1), [(1, 1, 4, 4), (1, 1, 2, 2)])
    ('full', 'coolchic', 'bitstream', 'coolchic_4_0', 'coolchic_3_4')
    """
    return tuple(name for name, profile in PROFILES.items() if profile.admits(config, shapes, empty_levels))
