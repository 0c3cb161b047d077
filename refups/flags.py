"""Flags: the classes of bugs that golden cases are built to catch.

Every golden case lists the flags it targets, so that a failing case names
the likely mistake, not only the numbers. Each flag states the bug, the
specification clauses involved and the profiles where it can occur (a bug
that needs several channels on a pre-filtered level cannot occur in the
``bitstream`` profile).

Examples
--------
>>> FLAGS["phase_k2mod4"].clauses
('S1', 'S4')
>>> FLAGS["multichannel_prefilter"].profiles
('full',)
"""

from dataclasses import dataclass

__all__ = ["FLAGS", "Flag"]

_ALL = ("full", "coolchic", "bitstream", "coolchic_4_0", "coolchic_3_4")
_STOP = ("full", "coolchic", "bitstream")  # the profiles of the current release line (S6.4)
_ONE_CHANNEL_BATCHES = ("full", "coolchic", "coolchic_4_0", "coolchic_3_4")


@dataclass(frozen=True)
class Flag:
    """A bug class: its name, what goes wrong, the clauses, the profiles where it applies."""

    name: str
    bug: str
    clauses: tuple
    profiles: tuple = _ALL


FLAGS = {flag.name: flag for flag in (
    Flag("phase_k2mod4", "one-sample phase error in the polyphase split of an upsampling kernel "
         "with k = 2 mod 4 (6, 10, 14)", ("S1", "S4")),
    Flag("middle_taps", "middle taps of an even kernel missing or wrong (the half-kernel mirrored "
         "without repeating its last tap, or a tap never written)", ("S1", "S4")),
    Flag("odd_mirror", "an odd pre-concatenation kernel mirrored with its centre tap repeated",
         ("S1", "S5")),
    Flag("replicate_padding", "zero or mirror padding before the upsampling, where the "
         "specification replicates the edge", ("S4",)),
    Flag("prefilter_padding", "replicate or mirror padding in the pre-concatenation filter, "
         "where the specification pads with zeros", ("S5",)),
    Flag("prefilter_residual", "the residual (+ X) of the pre-concatenation filter missing or "
         "doubled", ("S5",)),
    Flag("initial_kernels", "wrong initial values: bilinear, Cool-chic's negated bicubic "
         "literals, the Dirac", ("S3",)),
    Flag("odd_crop", "odd sizes cropped on the wrong side (the top-left part is kept) or "
         "rounded the wrong way", ("S6.7",)),
    Flag("coarse_crop", "a coarse level larger than half its finer level not cropped",
         ("S6.7",), _ONE_CHANNEL_BATCHES),
    Flag("tiny_levels", "1x1 and one-pixel-wide levels, where the padding is wider than "
         "the level", ("S4", "S5", "S6.7")),
    Flag("filter_order", "filters indexed from the finest transition instead of the coarsest",
         ("S6.2",)),
    Flag("modulo_sharing", "filters not shared modulo their count, or unused filters read",
         ("S6.3",)),
    Flag("channel_order", "levels concatenated coarse first instead of finest first", ("S6.1",)),
    Flag("empty_level_stop", "a level without channels skipped, going on to full resolution, "
         "where the specification stops and drops the finer levels", ("S6.4",), _STOP),
    Flag("empty_level_continue", "a level without channels taken as a stop, where Cool-chic 4.0 "
         "skips it and goes on to level 0", ("S6.8",), ("coolchic_4_0",)),
    Flag("empty_coarsest", "a coarsest level without channels taken as a stop or an error",
         ("S6",)),
    Flag("single_level", "a single level filtered instead of returned unchanged", ("S6.5",)),
    Flag("biases_applied", "biases added to the filter outputs (they are stored, never applied)",
         ("S8",)),
    Flag("batch_mixing", "batch items mixed up or only the first one computed", ("S6",),
         _ONE_CHANNEL_BATCHES),
    Flag("multichannel_prefilter", "several channels on a pre-filtered level not filtered "
         "each on its own", ("S6.6",), ("full",)),
    Flag("extreme_values", "overflow, underflow or lost precision with very large or very small "
         "values (half-precision or fixed-point intermediates)", ("S9",)),
    Flag("accumulated_error", "error growing over many levels and long kernels (a realistic "
         "decoded model)", ("S4", "S5", "S6")),
    Flag("real_model", "a bug only real decoded data shows: trained kernels with large numerators "
         "on a 2**-s grid, sparse integer latents with real structure, motion instances with "
         "empty finest levels (data from Cool-chic's own sample bitstreams)", ("S6", "S12")),
)}
