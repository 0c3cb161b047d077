"""Draw the documentation's figures (PNG) with matplotlib.

    python docs/make_figures.py                 # into docs/_static/figures
    python docs/make_figures.py --out some/dir

Figures: the initial kernels (spec S3) as stem plots; their frequency
responses (both polyphase components and the full 2x-upsampling response);
a synthetic image's latent pyramid and the dense channels the Upsampling
module makes from it with the initial kernels.
"""

import argparse
import pathlib

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from refups import Upsampling  # noqa: E402
from refups.kernels import (  # noqa: E402
    exact_bicubic_half_kernel,
    initial_preconcat_half_kernel,
    initial_ups_half_kernel,
    symmetric_kernel,
)

HERE = pathlib.Path(__file__).resolve().parent


def initial_kernels():
    """(label, full kernel) for the initial kernels shown in the figures."""
    kernels = [(f"upsampling k={k} ({'bilinear' if k < 8 else 'bicubic, negated'})",
                symmetric_kernel(initial_ups_half_kernel(k), k)) for k in (4, 6, 8, 12)]
    kernels.append(("pre-concatenation k=7 (Dirac)", symmetric_kernel(initial_preconcat_half_kernel(7), 7)))
    return kernels


def figure_kernels(path):
    kernels = initial_kernels()
    fig, axes = plt.subplots(1, len(kernels), figsize=(3.2 * len(kernels), 2.8), sharey=True)
    for ax, (label, kernel) in zip(axes, kernels):
        taps = np.arange(len(kernel)) - (len(kernel) - 1) / 2
        ax.stem(taps, kernel, basefmt="k-")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("tap (centred)")
        ax.axhline(0, color="k", lw=0.5)
    axes[0].set_ylabel("weight")
    fig.suptitle("Initial kernels w (spec S3)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_responses(path, n=512):
    omega = np.linspace(0, np.pi, n)
    cases = [("bilinear k=4", symmetric_kernel(initial_ups_half_kernel(4), 4)),
             ("Cool-chic bicubic k=8", symmetric_kernel(initial_ups_half_kernel(8), 8)),
             ("exact Keys bicubic k=8 (not the init)", symmetric_kernel(exact_bicubic_half_kernel(8), 8))]
    fig, axes = plt.subplots(1, len(cases), figsize=(4.2 * len(cases), 3.2), sharey=True)
    for ax, (label, kernel) in zip(axes, cases):
        def response(h):
            return np.abs(np.exp(-1j * np.outer(omega, np.arange(len(h)))) @ h)
        ax.plot(omega / np.pi, response(kernel), label="full kernel (high rate)")
        ax.plot(omega / np.pi, response(kernel[0::2]), "--", label="polyphase w[0::2] (low rate)")
        ax.plot(omega / np.pi, response(kernel[1::2]), ":", label="polyphase w[1::2] (low rate)")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("frequency / pi")
    axes[0].set_ylabel("|response|")
    axes[0].legend(fontsize=7)
    fig.suptitle("Frequency responses: each polyphase component has DC gain 1 (|-1.0000001| for the init)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def synthetic_pyramid(size=64, levels=5):
    """A disk and a ramp, averaged 2x2 into each coarser level (one channel per level)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = ((xx - 0.4) ** 2 + (yy - 0.5) ** 2 < 0.08).astype(float) + 0.5 * xx
    latents = [image[None, None]]
    for _ in range(levels - 1):
        y = latents[-1][0, 0]
        latents.append(y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))[None, None])
    return latents


def figure_pyramid(path):
    latents = synthetic_pyramid()
    up = Upsampling(8, 7, len(latents) - 1, len(latents) - 1)
    dense = up(latents)[0]
    L = len(latents)
    fig, axes = plt.subplots(2, L, figsize=(2.4 * L, 5.0))
    for i in range(L):
        axes[0, i].imshow(latents[i][0, 0], cmap="gray", interpolation="nearest")
        axes[0, i].set_title(f"latent y_{i}: {latents[i].shape[2]}x{latents[i].shape[3]}", fontsize=9)
        axes[1, i].imshow(dense[i], cmap="gray", interpolation="nearest")
        axes[1, i].set_title(f"dense channel {i}", fontsize=9)
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Latent pyramid (top) and the dense tensor the initial Upsampling makes (bottom)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "_static" / "figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, draw in [("kernels.png", figure_kernels), ("responses.png", figure_responses),
                       ("pyramid.png", figure_pyramid)]:
        draw(args.out / name)
        print(args.out / name)


if __name__ == "__main__":
    main()
