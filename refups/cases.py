"""The golden cases: what each one computes and which bugs it targets.

A :class:`Case` is a configuration, the level shapes, how its data are
drawn, the specification clauses it exercises and the flags (bug classes,
:mod:`refups.flags`) it targets. The profiles it belongs to
(:mod:`refups.profiles`) follow from its configuration and shapes.
Generation and files are in :mod:`refups.suite`.

Examples
--------
>>> case = CASES_BY_ID["odd_7x5"]
>>> case.shapes, case.profiles
(((1, 1, 7, 5), (1, 1, 4, 3), (1, 1, 2, 2)), ('full', 'coolchic', 'bitstream', 'coolchic_4_0', 'coolchic_3_4'))
"""

from dataclasses import dataclass, field

from .profiles import PROFILES, profiles_of

__all__ = ["CASES", "CASES_BY_ID", "Case", "OBSERVABLE_CLAUSES", "pyramid"]


@dataclass(frozen=True)
class Case:
    """One golden case: a configuration, how to draw its data, and what it shows.

    ``params``: ``"initial"`` (S3), ``"random"`` (uniform in [-1, 1]),
    ``"near-initial"`` (initial plus small noise, as after training),
    ``"dyadic"`` (multiples of 1/8 in [-1/2, 1/2]) or ``"quantised"`` (the
    initial values plus noise, rounded to a grid ``n * 2**-s``, ``s`` drawn in
    4..12 per tensor, as in a decoded Cool-chic model). ``latents``:
    ``"normal"`` (standard normal), ``"integer"`` (uniform in [-8, 8]),
    ``"laplace"`` (rounded Laplace, scale 1), ``"decoded"`` (integers in
    [-64, 63], about 80% zeros), ``"extreme"`` (signed powers of two from
    2**-60 to 2**60, and zeros), ``"ones"``, or explicit nested lists in
    ``values``. ``biases``: draw non-zero biases. ``real``: ``(name, top,
    left)``, a window of a real Cool-chic model (:mod:`refups.realdata`)
    whose level 0 starts at row ``top``, column ``left`` and has the size of
    ``shapes[0]``; its kernels and latents are the model's, nothing is drawn
    (``params`` and ``latents`` are then ``"real"``). ``empty_levels``: the
    release line the expected values follow (S6.8); it matters only where a
    level below the coarsest has no channels.
    """

    id: str
    description: str
    clauses: tuple
    flags: tuple
    config: tuple  # (ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel)
    shapes: tuple  # one (B, C, H, W) per level, level 0 finest
    params: str = "initial"
    latents: str = "normal"
    biases: bool = False
    exact: bool = False
    values: tuple = field(default=None, compare=False)
    real: tuple = None
    empty_levels: str = "stop"

    @property
    def profiles(self):
        """The profiles this case belongs to, widest first."""
        return profiles_of(self.config, self.shapes, self.empty_levels)


def pyramid(H, W, channels, B=1):
    """Shapes ``(B, C_i, H_i, W_i)`` with ``H_{i+1} = ceil(H_i / 2)`` (S6.7).

    Examples
    --------
    >>> pyramid(5, 8, [1, 2, 1])
    ((1, 1, 5, 8), (1, 2, 3, 4), (1, 1, 2, 2))
    """
    shapes = []
    for C in channels:
        shapes.append((B, C, H, W))
        H, W = -(-H // 2), -(-W // 2)
    return tuple(shapes)


CASES = (
    Case("s4_worked_example", "the specification's S4 worked example: (1, 2, 4) upsampled by "
         "the k=4 bilinear kernel", ("S3", "S4", "S5", "S6.1"),
         ("initial_kernels", "replicate_padding", "channel_order"),
         (4, 1, 1, 1), ((1, 1, 2, 6), (1, 1, 1, 3)),
         exact=True, values=([[[[0.0] * 6] * 2]], [[[[1.0, 2.0, 4.0]]]])),
    *(Case(f"initial_ups{ku}_pre{kp}", f"initial kernels: upsampling k={ku}, pre-concatenation k={kp}",
           ("S1", "S3", "S4", "S5", "S6"),
           ("initial_kernels", "prefilter_residual", "channel_order")
           + (("phase_k2mod4",) if ku % 4 == 2 else ()),
           (ku, kp, 2, 2), pyramid(12, 10, [1, 1, 1]))
      for ku, kp in [(4, 1), (6, 3), (8, 5), (10, 7), (12, 9)]),
    *(Case(f"random_ups{ku}_pre{kp}", f"random kernels: upsampling k={ku}, pre-concatenation k={kp}",
           ("S1", "S4", "S5", "S6"),
           ("middle_taps", "odd_mirror", "replicate_padding", "prefilter_padding", "filter_order"),
           (ku, kp, 3, 3), pyramid(13, 17, [1, 1, 1, 1]), params="random")
      for ku, kp in [(4, 3), (8, 7), (16, 15)]),
    *(Case(f"phase_ups{ku}_pre{kp}", f"k={ku} = 2 mod 4 with random kernels and latents: a "
           "one-sample phase shift or a missing middle tap gives errors of order 1",
           ("S1", "S4", "S5"), ("phase_k2mod4", "middle_taps", "odd_mirror"),
           (ku, kp, 3, 3), pyramid(23, 18, [1, 1, 1, 1]), params="random")
      for ku, kp in [(6, 5), (10, 9), (14, 15)]),
    Case("one_pixel_levels", "every level is 1x1", ("S4", "S5", "S6.7"), ("tiny_levels",),
         (8, 3, 2, 2), pyramid(1, 1, [1, 1, 1]), params="random"),
    Case("odd_7x5", "odd sides: every transition crops a row and a column", ("S6.7",),
         ("odd_crop", "phase_k2mod4"), (6, 3, 2, 2), pyramid(7, 5, [1, 1, 1]), params="random"),
    Case("tall_1x9", "a one-pixel-wide, 9-pixel-tall image", ("S4", "S6.7"),
         ("tiny_levels", "odd_crop"), (8, 5, 2, 2), pyramid(9, 1, [1, 1, 1]), params="random"),
    Case("even_16x8", "even sides: no crop at any transition", ("S6",),
         ("replicate_padding", "prefilter_padding"), (8, 7, 3, 3), pyramid(8, 16, [1, 1, 1, 1]),
         params="random"),
    Case("coarse_larger_than_half", "a coarse level larger than half its finer level is cropped",
         ("S6.7",), ("coarse_crop",), (4, 3, 1, 1), ((1, 1, 5, 6), (1, 1, 4, 4)), params="random"),
    Case("batch3_channels", "batch of 3, several channels on every level", ("S6.1", "S6.6"),
         ("batch_mixing", "multichannel_prefilter", "channel_order"),
         (8, 5, 2, 2), pyramid(10, 9, [2, 3, 1], B=3), params="random"),
    Case("batch2_coarsest_channels", "batch of 2, three channels on the coarsest level only "
         "(inside Cool-chic's domain)", ("S6", "S6.1"), ("batch_mixing", "channel_order"),
         (6, 3, 2, 2), pyramid(10, 9, [1, 1, 3], B=2), params="random"),
    Case("shared_kernels", "one filter of each kind shared by all 4 transitions", ("S6.2", "S6.3"),
         ("modulo_sharing",), (6, 3, 1, 1), pyramid(16, 16, [1, 1, 1, 1, 1]), params="random"),
    Case("modulo_kernels", "2 upsampling and 3 pre-concatenation filters over 5 transitions",
         ("S6.2", "S6.3"), ("modulo_sharing", "filter_order"),
         (4, 3, 2, 3), pyramid(20, 18, [1, 1, 1, 1, 1, 1]), params="random"),
    Case("more_kernels_than_transitions", "6 filters of each kind, 2 transitions", ("S6.3",),
         ("modulo_sharing", "filter_order"), (8, 7, 6, 6), pyramid(12, 12, [1, 1, 1]), params="random"),
    Case("zero_channel_stop", "level 1 has no channel: output stays at level 2's resolution",
         ("S6.4",), ("empty_level_stop",), (6, 3, 3, 3), pyramid(16, 12, [1, 0, 1, 1]),
         params="random"),
    Case("empty_middle_level", "Cool-chic's default kernels, level 2 of 5 has no channel: the "
         "output stays at level 3's resolution", ("S6.4",), ("empty_level_stop",),
         (8, 7, 4, 4), pyramid(20, 24, [1, 1, 0, 1, 1]), params="random"),
    Case("zero_channel_first_transition", "level L-2 has no channel: y_{L-1} comes back unchanged",
         ("S6.4", "S6.5"), ("empty_level_stop",), (8, 7, 2, 2), pyramid(8, 8, [2, 1, 0, 1]),
         params="random"),
    Case("zero_channel_coarsest", "the coarsest level has no channel: it adds none, the loop goes on",
         ("S6",), ("empty_coarsest",), (4, 3, 2, 2), pyramid(8, 6, [1, 1, 0]), params="random"),
    Case("one_level", "a single level with two channels and no filter: output equals input",
         ("S6.5",), ("single_level",), (8, 7, 0, 0), pyramid(5, 4, [2])),
    Case("one_level_with_filters", "a single level with one filter of each kind: output equals "
         "input, no filter is applied", ("S6.5",), ("single_level",),
         (8, 7, 1, 1), pyramid(6, 5, [1]), params="random"),
    Case("biases_ignored", "non-zero biases change nothing", ("S8",), ("biases_applied",),
         (8, 7, 2, 2), pyramid(9, 11, [1, 1, 1]), params="random", biases=True),
    Case("exact_dyadic_ups4", "integer latents, dyadic kernels: exact in float32 and float64",
         ("S9", "S4", "S5"), ("middle_taps", "odd_mirror"), (4, 3, 2, 2), pyramid(9, 8, [1, 1, 1]),
         params="dyadic", latents="integer", exact=True),
    Case("exact_dyadic_ups8", "integer latents, dyadic 8-tap kernels, several channels",
         ("S9", "S6.6"), ("multichannel_prefilter", "batch_mixing"),
         (8, 5, 2, 2), pyramid(6, 7, [2, 1, 1], B=2), params="dyadic", latents="integer", exact=True),
    Case("exact_bilinear_init", "integer latents, bilinear k=4 and Dirac initial kernels",
         ("S3", "S9"), ("initial_kernels", "prefilter_residual"),
         (4, 5, 3, 3), pyramid(11, 13, [1, 1, 1, 1]), latents="integer", exact=True),
    Case("bicubic_constant_gain", "constant latents through the initial bicubic: gain "
         "1.00000020000001", ("S3",), ("initial_kernels",), (8, 1, 1, 1),
         ((1, 1, 4, 4), (1, 1, 2, 2)), latents="ones"),
    Case("extreme_values", "signed powers of two from 2**-60 to 2**60 and zeros: overflows "
         "half precision, underflows fixed point", ("S9",), ("extreme_values",),
         (8, 7, 3, 3), pyramid(12, 10, [1, 1, 1, 1]), params="random", latents="extreme"),
    Case("coolchic_default_200x125", "Cool-chic's default (8, 7, 7 levels) on 200x125, "
         "realistic integer latents and trained-like kernels", ("S4", "S5", "S6", "S6.7"),
         ("accumulated_error", "odd_crop"),
         (8, 7, 6, 6), pyramid(125, 200, [1] * 7), params="near-initial", latents="laplace"),
    *(Case(f"decoded_{H}x{W}", f"a decoded model as a Cool-chic bitstream gives it: {H}x{W} image, "
           "7 levels, kernels 8/7 on a 2**-s grid, integer latents in [-64, 63], mostly zeros",
           ("S4", "S5", "S6", "S6.7"), ("accumulated_error", "odd_crop", "filter_order", "channel_order"),
           (8, 7, 6, 6), pyramid(H, W, [1] * 7), params="quantised", latents="decoded")
      for H, W in [(120, 160), (75, 100)]),
    # Windows of six real models (refups/real_models/README.md). Each window is the one of its
    # size, aligned on the coarsest grid, that holds the most non-zero latents; level 0 is
    # 48x80 (motion: 192x320, whose two finest levels are empty), so the levels are 48x80,
    # 24x40, 12x20, 6x10, 3x5, 2x3, 1x2 and odd sizes are cropped at levels 4 to 6.
    *(Case(f"real_{name}", f"a real Cool-chic model ({what}): a {H}x{W} window of its "
           f"decoded pyramid, with its trained 8/7 kernels and integer latents",
           ("S4", "S5", "S6", "S6.7", "S12") + (("S6.4",) if channels[0] == 0 else ()),
           ("real_model", "accumulated_error", "odd_crop", "filter_order", "channel_order")
           + (("empty_level_stop",) if channels[0] == 0 else ()),
           (8, 7, 6, 6), pyramid(H, W, channels), params="real", latents="real", real=(name, top, left))
      for name, what, H, W, channels, top, left in [
          ("kodim14", "kodim14, 512x768, Cool-chic 4.1", 48, 80, [1] * 7, 384, 448),
          ("cactus_1080p", "Cactus, 1080x1920, Cool-chic 4.1", 48, 80, [1] * 7, 64, 0),
          ("a365_mse", "a365_mse, 1360x2048, Cool-chic 4.2", 48, 80, [1] * 7, 1088, 1280),
          ("basketball_i_frame", "BasketballDrill I-frame residue, 480x832, Cool-chic 4.2",
           48, 80, [1] * 7, 256, 320),
          ("basketball_b_residue", "BasketballDrill B-frame residue, 480x832, Cool-chic 4.2",
           48, 80, [1] * 7, 384, 128),
          ("basketball_b_motion", "BasketballDrill B-frame motion, 480x832, Cool-chic 4.2, levels 0 "
           "and 1 without channels: the output stays at level 2's resolution",
           192, 320, [0, 0, 1, 1, 1, 1, 1], 128, 64),
      ]),
    # Cool-chic 4.0 (S6.8): the same inputs as the S6.4 cases, computed the 4.0 way.
    Case("release_4_0_empty_level", "Cool-chic 4.0: level 1 has no channel; it is skipped and the loop "
         "goes on to level 0", ("S6.8",), ("empty_level_continue",), (6, 3, 3, 3),
         pyramid(16, 12, [1, 0, 1, 1]), params="random", empty_levels="continue"),
    Case("release_4_0_empty_middle_level", "Cool-chic 4.0 with its default kernels: level 2 of 5 has "
         "no channel; the output has level 0's resolution and 4 channels", ("S6.8",),
         ("empty_level_continue",), (8, 7, 4, 4), pyramid(20, 24, [1, 1, 0, 1, 1]), params="random",
         empty_levels="continue"),
    Case("release_4_0_empty_first_transition", "Cool-chic 4.0: level L-2 has no channel; y_{L-1} "
         "upsampled alone goes on to the finer levels", ("S6.8", "S6.2"), ("empty_level_continue", "filter_order"),
         (8, 7, 2, 2), pyramid(8, 8, [1, 1, 0, 1]), params="random", empty_levels="continue"),
    # The real motion instance as 4.0 decodes it: a 96x160 window at the corner of real_basketball_b_motion's
    # (the full-resolution output of a 192x320 one would add 9 MB); levels 96x160 ... 3x5, 2x3.
    Case("real_basketball_b_motion_4_0", "a real Cool-chic model (BasketballDrill B-frame motion, "
         "480x832, Cool-chic 4.2) computed as Cool-chic 4.0 does: levels 0 and 1 have no channels, "
         "they are skipped and the output has level 0's resolution and 5 channels",
         ("S6.8", "S4", "S5", "S6", "S6.7", "S12"),
         ("empty_level_continue", "real_model", "accumulated_error", "odd_crop", "filter_order", "channel_order"),
         (8, 7, 6, 6), pyramid(96, 160, [0, 0, 1, 1, 1, 1, 1]), params="real", latents="real",
         real=("basketball_b_motion", 128, 64), empty_levels="continue"),
)

CASES_BY_ID = {case.id: case for case in CASES}

#: Clauses that can be observed in outputs, with the profiles where they apply.
#: Every one has at least one case in each of those profiles.
OBSERVABLE_CLAUSES = {clause: tuple(PROFILES) for clause in
                      ("S1", "S3", "S4", "S5", "S6", "S6.1", "S6.2", "S6.3", "S6.5", "S6.7", "S8", "S9")}
OBSERVABLE_CLAUSES["S6.4"] = tuple(name for name, p in PROFILES.items() if p.empty_levels == "stop")
OBSERVABLE_CLAUSES["S6.6"] = ("full",)
# Cool-chic 3.4's refusal (S6.8) leaves no output to compare: 4.0's line only.
OBSERVABLE_CLAUSES["S6.8"] = tuple(name for name, p in PROFILES.items() if p.empty_levels == "continue")

