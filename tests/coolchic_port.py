"""A stand-in for Cool-chic's own PyTorch Upsampling module (4.1 and later), for tests.

It is built the way Cool-chic builds its module, with PyTorch layers, and so
it has the same domain: every upsampling filter is one single-channel
transposed convolution applied to each channel of its input (any channel
count works there), while every pre-concatenation filter is a single-channel
convolution whose weight takes exactly one input channel, so a pre-filtered
level with two channels raises inside PyTorch, as Cool-chic's does. A level
without channels stops the loop (S6.4, Cool-chic 4.1 and later).

Run on one golden case: ``python tests/coolchic_port.py CASE_DIR OUT_DIR``.
"""

import json
import pathlib
import sys

import numpy as np
from helpers import optional

torch = optional("torch")  # skips, with what to install, when pytest collects this file without torch
F = torch.nn.functional


def full_kernel(half, k):
    return torch.cat([half, half.flip(0)[k % 2:]])


class ConvTranspose2dLayer(torch.nn.Module):
    """Stride-2 transposed convolution with a separable symmetric kernel, replicate padding.

    Training mode uses the dense ``w (x) w`` kernel, evaluation mode two 1-D passes.
    """

    def __init__(self, half, k):
        super().__init__()
        self.k = k
        self.weight = full_kernel(half, k)

    def forward(self, x):
        B, C, H, W = x.shape
        if C == 0:  # F.pad refuses empty tensors; Cool-chic's module gives an empty result
            return x.new_zeros(B, 0, 2 * H, 2 * W)
        x = x.reshape(B * C, 1, H, W)  # each channel on its own
        P, crop, k = self.k // 2, 3 * self.k // 2 - 1, self.k
        x = F.pad(x, (P, P, P, P), mode="replicate")
        if self.training:
            y = F.conv_transpose2d(x, torch.outer(self.weight, self.weight)[None, None], stride=2)
        else:
            y = F.conv_transpose2d(x, self.weight.reshape(1, 1, 1, k), stride=(1, 2))
            y = F.conv_transpose2d(y, self.weight.reshape(1, 1, k, 1), stride=(2, 1))
        y = y[:, :, crop:-crop, crop:-crop]
        return y.reshape(B, C, *y.shape[2:])


class Conv2dLayer(torch.nn.Module):
    """Residual convolution with a separable symmetric kernel; one input channel only."""

    def __init__(self, half, k):
        super().__init__()
        self.weight = full_kernel(half, k)

    def forward(self, x):
        k, p = len(self.weight), len(self.weight) // 2
        if self.training:
            return x + F.conv2d(x, torch.outer(self.weight, self.weight)[None, None], padding=p)
        y = F.conv2d(x, self.weight.reshape(1, 1, 1, k), padding=(0, p))
        return x + F.conv2d(y, self.weight.reshape(1, 1, k, 1), padding=(p, 0))


class CoolchicLikeUpsampling(torch.nn.Module):
    def __init__(self, params, ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel):
        super().__init__()
        name = "{}.{}.parametrizations.weight.original"
        self.conv_transpose2ds = torch.nn.ModuleList(
            ConvTranspose2dLayer(params[name.format("conv_transpose2ds", i)], ups_k_size)
            for i in range(n_ups_kernel))
        self.conv2ds = torch.nn.ModuleList(
            Conv2dLayer(params[name.format("conv2ds", j)], ups_preconcat_k_size)
            for j in range(n_ups_preconcat_kernel))

    def forward(self, latents):
        u = latents[-1]
        for idx, target in enumerate(reversed(latents[:-1])):
            if target.shape[1] == 0:
                break
            x = self.conv_transpose2ds[idx % len(self.conv_transpose2ds)](u)
            x = x[:, :, :target.shape[-2], :target.shape[-1]]
            u = torch.cat([self.conv2ds[idx % len(self.conv2ds)](target), x], dim=1)
        return u


def candidate(latents, params, config, train=False):
    """The module under ``refups.testing.check_implementation``'s candidate contract.

    Parameters become tensors of the latents' dtype, as Cool-chic's would be.
    """
    dtype = torch.from_numpy(latents[0]).dtype
    weights = {name: torch.as_tensor(value, dtype=dtype) for name, value in params.items()}
    module = CoolchicLikeUpsampling(weights, **config).train(train)
    with torch.no_grad():
        return module([torch.from_numpy(y) for y in latents]).numpy()


def candidate_train(latents, params, config):
    """:func:`candidate` in training mode (dense 2-D kernels)."""
    return candidate(latents, params, config, train=True)


def run_case(case_dir, out_dir, dtype=torch.float64):
    """Read a golden case folder, write ``output.npy`` into ``out_dir``."""
    case_dir, out_dir = pathlib.Path(case_dir), pathlib.Path(out_dir)
    manifest_entry = {}
    for line in (case_dir / "case.txt").read_text().splitlines():
        key, _, rest = line.partition(" ")
        manifest_entry[key] = rest
    config = [int(manifest_entry[key]) for key in
              ("ups_k_size", "ups_preconcat_k_size", "n_ups_kernel", "n_ups_preconcat_kernel", "n_levels")]
    params = {name: torch.tensor([float.fromhex(h) for h in entry["hex"]], dtype=dtype)
              for name, entry in json.loads((case_dir / "params.json").read_text())["params"].items()}
    latents = [torch.from_numpy(np.load(case_dir / f"latent_{i}.npy")).to(dtype) for i in range(config[4])]
    with torch.no_grad():
        output = CoolchicLikeUpsampling(params, *config[:4])(latents)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "output.npy", output.numpy())


if __name__ == "__main__":
    run_case(*sys.argv[1:3])
