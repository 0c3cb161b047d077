"""Draw the documentation's figures (PNG) and its animation (GIF) with matplotlib.

    python docs/make_figures.py                 # into docs/_static/figures
    python docs/make_figures.py --out some/dir

Figures: the initial kernels (spec S3) as stem plots; their frequency
responses (both polyphase components and the full 2x-upsampling response);
a synthetic image's latent pyramid and the dense channels the Upsampling
module makes from it with the initial kernels; the three views of one
upsampling pass (refups.views) side by side on a small example, with every
number; and an animation of the scatter view, one input sample at a time
(Pillow, which matplotlib depends on, writes the GIF).
"""

import argparse
import pathlib
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from refups import Upsampling  # noqa: E402
from refups.views import (  # noqa: E402
    crop_size,
    pad_edges,
    polyphase_phases,
    scatter_contributions,
    upsample_scatter,
    zero_stuffed,
)
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


# -- the three views of one pass (refups.views) ------------------------------------

#: The example of the views figure and the animation: S4's worked example times 4,
#: so that every product with the bilinear kernel (1, 3, 3, 1)/4 is an integer.
VIEW_X = np.array([4.0, 8.0, 16.0])
VIEW_W = np.array([0.25, 0.75, 0.75, 0.25])

KEPT = "#dcecc8"      # background of the samples the crop keeps
CROPPED = "#e6e6e6"   # background of the samples it drops
NEW = "#f7d9a8"       # the copy of the kernel being added (animation)


def _number(value):
    """A short label: integers as such, other values as small fractions."""
    fraction = Fraction(float(value)).limit_denominator(64)
    return str(fraction) if fraction.denominator <= 64 and float(fraction) == value else f"{value:.3g}"


def _cell(ax, column, row, text, face=None, weight="normal", colour="black", size=9):
    if face is not None:
        ax.add_patch(plt.Rectangle((column - 0.5, row - 0.5), 1, 1, facecolor=face, edgecolor="white", lw=1))
    if text != "":
        ax.text(column, row, text, ha="center", va="center", fontsize=size, fontweight=weight, color=colour)


def _shift(offset):
    return "m" if offset == 0 else f"m{offset:+d}"


def _tap_product(tap, sample):
    return f"{_number(VIEW_W[tap])}\u00b7{_number(sample)}"


def figure_views(path, x=VIEW_X, w=VIEW_W):
    """The scatter, zero-stuffing and polyphase views side by side, on one grid of output positions.

    Row f is position f of the long output (2n + 3k - 2 positions) in every
    panel, so the crop C is the same band of rows in all three.
    """
    n, k = len(x), len(w)
    C = crop_size(k)
    xp = pad_edges(x, k)
    rows = scatter_contributions(x, w)
    full = rows.sum(axis=0)
    s = zero_stuffed(xp)
    y = upsample_scatter(x, w)
    length = len(full)
    fig, axes = plt.subplots(1, 3, figsize=(15.5, 7.4), sharey=True,
                             gridspec_kw={"width_ratios": [len(xp) + 2.2, 4.2, 6.6]})

    def band(ax, right):
        for f in range(length):
            kept = C <= f < C + 2 * n
            ax.add_patch(plt.Rectangle((-1.5, f - 0.5), right + 1.5, 1, facecolor=KEPT if kept else CROPPED,
                                       edgecolor="none", zorder=0))
            ax.text(-1, f, f"{f}", ha="center", va="center", fontsize=8, color="#333333")

    # (a) scatter: column i holds xp[i] * w at rows 2i .. 2i + k - 1; the sum is the long output.
    ax = axes[0]
    band(ax, len(xp) + 1.7)
    for i, sample in enumerate(xp):
        ax.text(i, -1.3, f"xp[{i}]\n= {_number(sample)}", ha="center", va="center", fontsize=8.5)
        for f in range(2 * i, 2 * i + k):
            _cell(ax, i, f, _number(rows[i, f]), face="white")
    for f in range(length):
        _cell(ax, len(xp) + 0.9, f, _number(full[f]), weight="bold")
    ax.text(len(xp) + 0.9, -1.3, "sum", ha="center", va="center", fontsize=8.5, fontweight="bold")
    ax.set_title("(a) scatter: each padded sample xp[i] adds\nxp[i]\u00b7w at rows 2i .. 2i+k-1; sum the rows",
                 fontsize=10)

    # (b) zero-stuffing: s[f], and full[f] = sum_t s[f - t] w[t].
    ax = axes[1]
    band(ax, 4.0)
    for f in range(length):
        if f < len(s):
            _cell(ax, 0.4, f, _number(s[f]), face="white", colour="black" if f % 2 == 0 else "#555555")
        _cell(ax, 2.6, f, _number(full[f]), weight="bold")
    ax.text(0.4, -1.3, "s[f]", ha="center", va="center", fontsize=8.5)
    ax.text(2.6, -1.3, "full[f]\n= (s * w)[f]", ha="center", va="center", fontsize=8.5, fontweight="bold")
    f = C + 2  # one output in detail: the window of k stuffed samples it weighs
    ax.annotate("", xy=(1.25, f - k + 0.6), xytext=(1.25, f + 0.4),
                arrowprops={"arrowstyle": "-", "lw": 1.5, "color": "#8a3b00"})
    for t in range(k):
        ax.text(1.45, f - t, f"w[{t}]", ha="left", va="center", fontsize=7, color="#8a3b00")
    ax.text(-1.3, length + 0.2, f"full[{f}] = s[{f}]\u00b7w[0] + ... + s[{f - k + 1}]\u00b7w[{k - 1}]",
            ha="left", va="top", fontsize=8, color="#8a3b00")
    ax.set_title("(b) zero-stuffing: s[2i] = xp[i], s[2i+1] = 0,\nfull convolution with w", fontsize=10)

    # (c) polyphase: only the kept rows are computed, each from k/2 taps.
    ax = axes[2]
    band(ax, 6.4)
    phases = polyphase_phases(k)
    for j in range(2 * n):
        m, r = divmod(j, 2)
        phase = phases[r]
        terms = [_tap_product(tap, xp[m + phase.offset - u]) for u, tap in enumerate(phase.taps)]
        taps = ", ".join(f"w{t}" for t in phase.taps)
        ax.text(-0.2, C + j, f"y[{j}] ({'even' if r == 0 else 'odd'}, {taps}): " + " + ".join(terms)
                + f" = {_number(y[j])}", ha="left", va="center", fontsize=8.5)
    for row, text in [(C - 3.2, "nothing is computed outside the kept band:"),
                      (C - 2.4, "every product uses a real sample, none is dropped")]:
        ax.text(-0.2, row, text, ha="left", va="center", fontsize=8.5, color="#333333")
    lines = [f"k = {k} \u2261 {k % 4} (mod 4), so C = {C} is {'odd' if C % 2 else 'even'}:"]
    for phase in phases:
        output = "y[2m]" if phase.parity == 0 else "y[2m+1]"
        lines.append(f"{output} = " + " + ".join(
            f"w{tap}\u00b7xp[m+{phase.offset - u}]" for u, tap in enumerate(phase.taps)))
        lines.append(" " * (len(output) + 1) + "= " + " + ".join(
            f"w{tap}\u00b7x[{_shift(phase.offset - u - k // 2)}]" for u, tap in enumerate(phase.taps)))
    lines.append("(x[i] = xp[i + P], edge samples repeated)")
    ax.text(-0.2, C + 2 * n + 0.9, "\n".join(lines), ha="left", va="top", fontsize=8.5, family="monospace")
    ax.set_title("(c) polyphase: even and odd outputs from\nthe sub-kernels w[0::2] and w[1::2]", fontsize=10)

    for ax in axes:
        ax.set_xlim(-1.6, ax.get_xlim()[1])
        ax.axis("off")
    axes[0].set_xlim(-1.6, len(xp) + 1.6)
    axes[1].set_xlim(-1.6, 4.0)
    axes[2].set_xlim(-1.6, 6.4)
    axes[0].set_ylim(length + 0.9, -2.3)
    fig.suptitle(f"One upsampling pass three ways: x = ({', '.join(_number(v) for v in x)}), "
                 f"w = ({', '.join(_number(v) for v in w)}), k = {k}, P = {k // 2}, C = 3k/2 - 1 = {C}.  "
                 f"Row f is position f of the long output ({length} samples).\nThe crop keeps the green rows "
                 f"f = {C} .. {C + 2 * n - 1}, y = ({', '.join(_number(v) for v in y)}), and drops the grey ones, "
                 f"C = {C} at each end.", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def animation_scatter(path, x=VIEW_X, w=VIEW_W):
    """The scatter view as an animation: one padded sample per frame adds its copy of
    the kernel to the running sum; the last frames crop C samples at each end."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    n, k = len(x), len(w)
    C = crop_size(k)
    xp = pad_edges(x, k)
    rows = scatter_contributions(x, w)
    length = rows.shape[1]
    y = upsample_scatter(x, w)
    fig, ax = plt.subplots(figsize=(9.6, 4.6))
    frames = len(xp) + 3  # nothing yet, one frame per sample, the crop, the result

    def draw(frame):
        ax.clear()
        ax.set_xlim(-3.2, length - 0.4)
        ax.set_ylim(len(xp) + 2.8, -2.4)
        ax.axis("off")
        added = min(frame, len(xp))
        cropping = frame > len(xp)
        for f in range(length):
            ax.text(f, -1.6, f"{f}", ha="center", va="center", fontsize=8, color="#333333")
        ax.text(-1.4, -1.6, "position f", ha="right", va="center", fontsize=8, color="#333333")
        for i in range(len(xp)):
            label = f"xp[{i}] = {_number(xp[i])}"
            colour = "black" if i < added else "#767676"
            ax.text(-1.4, i, label, ha="right", va="center", fontsize=8.5, color=colour)
            if i < added:
                face = NEW if i == added - 1 and not cropping else "white"
                for f in range(2 * i, 2 * i + k):
                    _cell(ax, f, i, _number(rows[i, f]), face=face)
        total = rows[:added].sum(axis=0)
        row = len(xp) + 0.6
        ax.text(-1.4, row, "running sum", ha="right", va="center", fontsize=8.5, fontweight="bold")
        for f in range(length):
            kept = C <= f < C + 2 * n
            face = (KEPT if kept else CROPPED) if cropping else "#f4f4f4"
            colour = "#595959" if cropping and not kept else "black"
            _cell(ax, f, row, _number(total[f]) if added else "", face=face, weight="bold", colour=colour)
        if frame == 0:
            title = f"Scatter view: x = ({', '.join(_number(v) for v in x)}) edge-padded by P = {k // 2}, " \
                    f"w = ({', '.join(_number(v) for v in w)})"
        elif not cropping:
            i = added - 1
            title = (f"xp[{i}] = {_number(xp[i])} adds {_number(xp[i])}\u00b7w "
                     f"at positions {2 * i} .. {2 * i + k - 1}")
        else:
            title = f"crop C = 3k/2 - 1 = {C} samples at each end: y = full[{C} : {C + 2 * n}]"
        ax.set_title(title, fontsize=10)
        if frame == frames - 1:
            ax.text((length - 1) / 2, len(xp) + 2.1, "y = (" + ", ".join(_number(v) for v in y) + ")",
                    ha="center", va="center", fontsize=10, fontweight="bold")
        return []

    # The result stays on screen three times as long as the other frames.
    animation = FuncAnimation(fig, draw, frames=list(range(frames)) + [frames - 1] * 2, blit=False)
    animation.save(path, writer=PillowWriter(fps=0.8), dpi=80)
    plt.close(fig)


FIGURES = [("kernels.png", figure_kernels), ("responses.png", figure_responses),
           ("pyramid.png", figure_pyramid), ("views.png", figure_views),
           ("scatter.gif", animation_scatter)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "_static" / "figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES:
        draw(args.out / name)
        print(args.out / name)


if __name__ == "__main__":
    main()
