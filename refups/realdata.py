"""Real Cool-chic models: six Upsampling inputs from Cool-chic's own sample bitstreams.

Cool-chic's C++ decoder (tags v4.1.0 and v4.2.1) was instrumented to write
out, for each decoder instance, the latent pyramid it feeds to the
Upsampling module and the kernels it decoded. Six instances are shipped in
``refups/real_models/`` (``README.md`` there gives the provenance and
Cool-chic's BSD 3-Clause attribution): four intra images from 512x768 to
1360x2048, and a B-frame's residue and motion instances, the motion one with
its two finest levels empty (S6.4). Kernels are real trained 8/7 kernels,
``n * 2**-s`` with one ``s`` per model; latents are the real integers (S12).

:func:`real_model` loads one; :func:`window` cuts an aligned window out of a
pyramid, keeping the level-size rule of S6.7, which is how the golden suite
holds real data at a size a repository can carry.

Examples
--------
>>> model = real_model("basketball_b_motion")
>>> [y.shape[1] for y in model.latents], model.config
([0, 0, 1, 1, 1, 1, 1], (8, 7, 6, 6))
>>> [y.shape[2:] for y in window(model.latents, 0, 64, 8, 6)]
[(8, 6), (4, 3), (2, 2), (1, 1), (1, 1), (1, 1), (1, 1)]
"""

import importlib.resources
import math
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from .io import read_json

__all__ = ["REAL_MODELS", "RealModel", "decoder_output", "real_model", "window"]

#: The shipped models, by folder name.
REAL_MODELS = ("kodim14", "cactus_1080p", "a365_mse", "basketball_i_frame", "basketball_b_residue",
               "basketball_b_motion")


class RealModel(NamedTuple):
    """One decoder instance: its latents (float64, level 0 first), weights, configuration and metadata."""

    name: str
    latents: list
    params: OrderedDict  # half-kernels under Cool-chic's names; no biases (none in a 4.x bitstream)
    config: tuple  # (ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel)
    meta: dict  # provenance, level shapes, latent statistics, from meta.json


def _folder(name):
    if name not in REAL_MODELS:
        raise ValueError(f"name must be one of {', '.join(REAL_MODELS)}; got {name!r}")
    return importlib.resources.files("refups").joinpath("real_models", name)


def real_model(name):
    """Load one of :data:`REAL_MODELS`.

    The latents are the decoder's integers as float64 arrays ``(1, C_i,
    H_i, W_i)``; the weights are the exact values ``n * 2**-s`` the decoder
    computes in its float path.
    """
    folder = _folder(name)
    with importlib.resources.as_file(folder) as path:
        with np.load(path / "latents.npz", allow_pickle=False) as npz:
            latents = [npz[f"level_{i}"].astype(np.float64) for i in range(len(npz.files))]
        described = read_json(path / "params.json")
        meta = read_json(path / "meta.json")
    params = OrderedDict((key, np.asarray(value, dtype=np.float64))
                         for key, value in described["half_kernels"].items())
    config = described["config"]
    return RealModel(name, latents, params, (config["ups_k_size"], config["ups_preconcat_k_size"],
                                             config["n_ups_kernel"], config["n_ups_preconcat_kernel"]), meta)


def decoder_output(name):
    """Cool-chic's own float32 output for the model, ``(1, C, H, W)``, or None where none is shipped.

    Only ``basketball_b_motion`` has one (Cool-chic 4.2.1's C++ decoder, AVX2
    float path): 5 planes at level 2's resolution, since the decoder stops
    at the empty level 1 as S6.4 does.
    """
    meta = real_model(name).meta.get("decoder_output")
    if meta is None:
        return None
    with importlib.resources.as_file(_folder(name)) as path:
        return np.load(path / meta["file"], allow_pickle=False)[np.newaxis]


def window(latents, top, left, height, width):
    """The window of a pyramid whose level 0 is ``[top, top + height) x [left, left + width)``.

    Level ``i`` keeps rows ``top / 2**i`` to ``top / 2**i + ceil(height / 2**i)``
    (columns alike), so every sample keeps the coarser samples it was
    decoded with and the window's sizes follow S6.7's ``H_{i+1} = ceil(H_i / 2)``.
    ``top`` and ``left`` must be multiples of ``2**(L-1)``, and the window
    must lie inside every level.

    Examples
    --------
    >>> pyramid = [np.arange(64.0).reshape(1, 1, 8, 8), np.arange(16.0).reshape(1, 1, 4, 4)]
    >>> [y[0, 0].tolist() for y in window(pyramid, 2, 4, 3, 2)]
    [[[20.0, 21.0], [28.0, 29.0], [36.0, 37.0]], [[6.0], [10.0]]]
    """
    step = 2 ** (len(latents) - 1)
    for value, name in ((top, "top"), (left, "left")):
        if value % step:
            raise ValueError(f"{name} must be a multiple of 2**(levels - 1) = {step}; got {value}")
    out = []
    for i, y in enumerate(latents):
        r, c = top >> i, left >> i
        h, w = math.ceil(height / 2**i), math.ceil(width / 2**i)
        if r + h > y.shape[2] or c + w > y.shape[3]:
            raise ValueError(f"the window leaves level {i}: rows {r}..{r + h}, columns {c}..{c + w} "
                             f"of a {y.shape[2]}x{y.shape[3]} grid")
        out.append(y[:, :, r:r + h, c:c + w].copy())
    return out
