"""An independent PyTorch implementation of the Upsampling, checked with refups.

The module below is written from the specification (docs/spec.md) alone (it imports nothing from
refups): replicate padding, stride-2 transposed convolution with ``w (x) w``,
crop ``3k/2 - 1``, residual zero-padded pre-filter, concatenation finer level
first, zero-channel stop. The script runs it over a golden suite and hands
its outputs to ``refups verify``::

    refups golden --out golden
    python examples/torch_upsampling.py golden torch-out --dtype float32

Exit status: that of ``refups verify`` (0 when every case passes). With
``--case``, it computes one case folder (reading its ``case.txt``) and writes
``output.npy`` and the intermediates into OUT, which is how ``refups verify
--run`` drives it::

    refups verify torch-out --run 'python examples/torch_upsampling.py --case {case} {out}'

or, much faster, in one process that imports torch once::

    PYTHONPATH=examples refups verify torch-out --call torch_upsampling:candidate
"""

import argparse
import json
import pathlib
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F


def symmetric_kernel(half, k):
    """S1: ``w = concat(h, reverse(h)[k % 2:])``."""
    return torch.cat([half, half.flip(0)[k % 2:]])


def upsample(x, kernel, separable=True):
    """S4 on ``(N, 1, H, W)``: replicate pad P, conv_transpose2d stride 2, crop C.

    ``separable``: a 1 x k pass then a k x 1 pass (Cool-chic's evaluation
    mode); otherwise one pass with the dense k x k kernel (training mode).
    """
    k = kernel.numel()
    P, C = k // 2, 3 * k // 2 - 1
    xp = F.pad(x, (P, P, P, P), mode="replicate")
    if separable:
        y = F.conv_transpose2d(xp, kernel.view(1, 1, 1, k), stride=(1, 2))
        y = F.conv_transpose2d(y, kernel.view(1, 1, k, 1), stride=(2, 1))
    else:
        y = F.conv_transpose2d(xp, torch.outer(kernel, kernel)[None, None], stride=2)
    return y[:, :, C:-C, C:-C]


def preconcat(x, kernel, separable=True):
    """S5 on ``(N, 1, H, W)``: ``x + conv2d(x, w (x) w)`` with zero padding k // 2."""
    k = kernel.numel()
    p = k // 2
    if separable:
        y = F.conv2d(x, kernel.view(1, 1, 1, k), padding=(0, p))
        return x + F.conv2d(y, kernel.view(1, 1, k, 1), padding=(p, 0))
    return x + F.conv2d(x, torch.outer(kernel, kernel)[None, None], padding=p)


def per_channel(f, x, kernel, separable):
    """Apply a single-channel filter to every channel (S6.6)."""
    B, C, H, W = x.shape
    y = f(x.reshape(B * C, 1, H, W), kernel, separable)
    return y.reshape(B, C, *y.shape[2:])


class TorchUpsampling(torch.nn.Module):
    """S6 with half-kernels ``params`` under Cool-chic's names (biases unused, S8).

    Like Cool-chic, ``eval()`` (the default here) uses separable passes and
    ``train()`` dense 2-D kernels (S7).
    """

    def __init__(self, params, ups_k_size, ups_preconcat_k_size):
        super().__init__()
        self.eval()
        weight = "{}.{}.parametrizations.weight.original"  # the biases may be absent, as in a bitstream
        count = {kind: sum(n.startswith(kind + ".") and n.endswith(".weight.original") for n in params)
                 for kind in ("conv_transpose2ds", "conv2ds")}
        self.ups = [symmetric_kernel(params[weight.format("conv_transpose2ds", i)], ups_k_size)
                    for i in range(count["conv_transpose2ds"])]
        self.pre = [symmetric_kernel(params[weight.format("conv2ds", j)], ups_preconcat_k_size)
                    for j in range(count["conv2ds"])]

    def forward(self, latents, stages=None):
        u = latents[-1]
        for idx, t in enumerate(reversed(latents[:-1])):
            if t.shape[1] == 0:
                break  # S6.4
            separable = not self.training
            x = per_channel(upsample, u, self.ups[idx % len(self.ups)], separable)[:, :, : t.shape[2], : t.shape[3]]
            h = per_channel(preconcat, t, self.pre[idx % len(self.pre)], separable)
            if stages is not None:
                stages[f"transition_{idx}.upsampled"] = x
                stages[f"transition_{idx}.prefiltered"] = h
            u = torch.cat([h, x], dim=1)  # S6.1
        return u


def candidate(latents, params, config):
    """The candidate contract of ``refups check`` and ``refups verify --call``: NumPy in, NumPy out.

    The parameters arrive as float64 NumPy arrays; they are cast to the
    latents' dtype, so that a float32 run is a float32 computation.
    """
    dtype = torch.from_numpy(np.asarray(latents[0])).dtype
    weights = {name: torch.from_numpy(np.asarray(value)).to(dtype) for name, value in params.items()}
    module = TorchUpsampling(weights, config["ups_k_size"], config["ups_preconcat_k_size"])
    with torch.no_grad():
        return module([torch.from_numpy(np.asarray(y)) for y in latents]).numpy()


def load_params(path, dtype):
    """params.json of a golden case: the hex patterns are exact."""
    entries = json.loads(path.read_text())["params"]
    return {name: torch.tensor([float.fromhex(v) for v in e["hex"]], dtype=dtype).reshape(e["shape"])
            for name, e in entries.items()}


def read_case_text(path):
    """``{keyword: rest of the line}`` from a case's line-based ``case.txt``."""
    return dict(line.partition(" ")[::2] for line in path.read_text().splitlines())


def run_case(folder, out, dtype, dense):
    """Compute one golden case folder; write every stage as ``.npy`` into ``out``."""
    config = {key: int(value) for key, value in read_case_text(folder / "case.txt").items()
              if key in ("ups_k_size", "ups_preconcat_k_size", "n_levels")}
    module = TorchUpsampling(load_params(folder / "params.json", dtype),
                             config["ups_k_size"], config["ups_preconcat_k_size"]).train(dense)
    latents = [torch.from_numpy(np.load(folder / f"latent_{i}.npy")).to(dtype)
               for i in range(config["n_levels"])]
    stages = {}
    with torch.no_grad():
        stages["output"] = module(latents, stages)
    out.mkdir(parents=True, exist_ok=True)
    for stem, value in stages.items():
        np.save(out / f"{stem}.npy", value.numpy())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("golden", type=pathlib.Path, help="a suite folder (with --case: one case folder)")
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--case", action="store_true", help="compute the one case folder GOLDEN into OUT")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--dense", action="store_true", help="dense 2-D kernels (training mode)")
    args = parser.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    if args.case:
        run_case(args.golden, args.out, dtype, args.dense)
        return 0
    manifest = json.loads((args.golden / "manifest.json").read_text())
    for case in manifest["cases"]:
        run_case(args.golden / case["id"], args.out / case["id"], dtype, args.dense)
    command = [sys.executable, "-m", "refups", "verify", str(args.out), "--golden", str(args.golden),
               "--dtype", args.dtype]
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
