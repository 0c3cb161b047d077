"""Plain-text walk-throughs of SPEC S4 and S6, for ``refups explain``.

Every intermediate is computed here step by step with plain NumPy (``np.pad``,
slicing, ``np.convolve``), so the printout is a second, readable derivation
of what :mod:`refups.ops` computes.

>>> print(explain_1d([1, 2, 4], [0.25, 0.75]).splitlines()[-1])
output y (2n = 6 samples)       : 1 1.25 1.75 2.5 3.5 4
"""

import numpy as np

from .kernels import initial_ups_half_kernel, symmetric_kernel
from .upsampling import Upsampling

__all__ = ["explain_1d", "explain_2d", "explain_pyramid"]


def _fmt(value):
    return f"{value:.8g}"  # enough for Cool-chic's 7-decimal literals (S3)


def _row(values, width=0):
    return " ".join(f"{_fmt(v):>{width}}" for v in np.ravel(values)).strip()


def _kernel(half, k):
    """``(half, full kernel, k)``: the initial half-kernel of size ``k`` (default 4)
    when ``half`` is None, else ``half`` with ``k = 2 len(half)`` unless given."""
    if half is None:
        k = 4 if k is None else k
        half = initial_ups_half_kernel(k)
    half = np.asarray(half, dtype=np.float64)
    k = 2 * len(half) if k is None else k
    return half, symmetric_kernel(half, k), k


def _steps_1d(x, kernel):
    """The four S4 steps on one axis: padded, stuffed (no trailing zero), full, cropped."""
    k = len(kernel)
    P, C = k // 2, 3 * k // 2 - 1
    xp = np.pad(x, P, mode="edge")
    s = np.zeros(2 * len(xp) - 1)
    s[::2] = xp
    full = np.convolve(s, kernel)  # length 2(n + k) - 1 + k - 1 = 2n + 3k - 2
    return xp, s, full, full[C : len(full) - C]


def explain_1d(x, half=None, k=None):
    """Every intermediate of S4 along one axis, as aligned text.

    ``half`` defaults to the initial half-kernel of size ``k`` (default 4).
    All rows share one column grid: ``xp[i]`` stands above ``s[2i]``, the
    full convolution ``full[f]`` in column ``f``, and ``y[j] = full[j + C]``
    right below the value it is cut from.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    half, kernel, k = _kernel(half, k)
    xp, s, full, y = _steps_1d(x, kernel)
    P, C = k // 2, 3 * k // 2 - 1
    cells = [_fmt(v) for v in np.concatenate([x, xp, s, full])]
    width = max(len(c) for c in cells) + 1

    def grid(values, columns):
        row = [""] * len(full)
        for value, column in zip(values, columns):
            row[column] = _fmt(value)
        return "".join(f"{c:>{width}}" for c in row).rstrip()

    n = len(x)
    rows = [
        ("input x", grid(x, range(2 * P, 2 * (P + n), 2))),
        (f"1. padded xp (edge, P = {P})", grid(xp, range(0, 2 * len(xp), 2))),
        ("2. zero-stuffed s", grid(s, range(len(s)))),
        (f"3. full convolution s * w ({len(full)})", grid(full, range(len(full)))),
        (f"4. keep [C, C + 2n) = [{C}, {C + 2 * n})", grid(y, range(C, C + 2 * n))),
    ]
    return "\n".join(
        [f"S4 on one axis: n = {n} samples, kernel size k = {k}, P = k/2 = {P}, C = 3k/2 - 1 = {C}",
         f"half-kernel h = {_row(half)};  kernel w = h + reverse(h) = {_row(kernel)}"]
        + [f"{label:<31}:{text}" for label, text in rows]
        + [f"{f'output y (2n = {2 * n} samples)':<31}: {_row(y)}"]
    )


def _matrix(name, m):
    text = np.array2string(np.asarray(m), separator=" ", formatter={"float_kind": _fmt},
                           max_line_width=200)
    return f"{name}, shape {np.shape(m)}:\n" + "\n".join("  " + line for line in text.splitlines())


def explain_2d(x, half=None, k=None):
    """Every intermediate of S4 on a small 2-D input, with the dense kernel ``w (x) w``."""
    from scipy import signal

    x = np.asarray(x, dtype=np.float64)
    half, kernel, k = _kernel(half, k)
    P, C = k // 2, 3 * k // 2 - 1
    H, W = x.shape
    xp = np.pad(x, P, mode="edge")
    s = np.zeros((2 * xp.shape[0] - 1, 2 * xp.shape[1] - 1))
    s[::2, ::2] = xp
    full = signal.convolve(s, np.outer(kernel, kernel), method="direct")
    y = full[C : full.shape[0] - C, C : full.shape[1] - C]
    return "\n".join([
        f"S4 in 2-D: input {H} x {W}, kernel size k = {k}, P = {P}, C = {C}; 2-D kernel w (x) w",
        f"w = {_row(kernel)}",
        _matrix("input x", x),
        _matrix(f"1. padded xp (edge, P = {P} on every side, corners take the corner value)", xp),
        _matrix("2. zero-stuffed s (s[2i, 2j] = xp[i, j], zeros between)", s),
        _matrix("3. full 2-D convolution s * (w (x) w)", full),
        _matrix(f"4. output: crop C = {C} rows and columns from each end", y),
    ])


def explain_pyramid(shapes=((1, 1, 7, 9), (1, 1, 4, 5), (1, 2, 2, 3)), ups_k_size=8,
                    ups_preconcat_k_size=7, n_ups_kernel=1, n_ups_preconcat_kernel=2):
    """Each transition of S6 on a small pyramid of ramps, with shapes and filters.

    >>> print(explain_pyramid().splitlines()[0])
    S6 on 3 levels, level 0 finest: Upsampling(ups_k_size=8, ups_preconcat_k_size=7, ...)
    """
    latents = [np.arange(np.prod(shape), dtype=np.float64).reshape(shape) for shape in shapes]
    up = Upsampling(ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel)
    trace = up.trace(latents)
    L = len(latents)
    lines = [f"S6 on {L} levels, level 0 finest: {up!r}"]
    lines += [f"  y_{i}: shape {y.shape}" for i, y in enumerate(latents)]
    lines.append(f"start: u = y_{L - 1}, shape {latents[-1].shape}")
    u_shape = latents[-1].shape
    for step in trace.transitions:
        t = latents[step.level]
        B, C, H, W = u_shape
        lines += [
            f"transition {step.index}: into level {step.level} "
            f"(upsampling filter {step.index} % {up.n_ups_kernel} = {step.ups_filter}, "
            f"pre-concatenation filter {step.index} % {up.n_ups_preconcat_kernel} = {step.preconcat_filter})",
            f"  upsample u {u_shape} -> ({B}, {C}, {2 * H}, {2 * W}), crop top-left to "
            f"{step.upsampled.shape}",
            f"  pre-filter y_{step.level} {t.shape} -> {step.prefiltered.shape} (residual: y + filtered y)",
            f"  concatenate [pre-filtered y_{step.level}, upsampled u] -> u {step.output.shape}",
        ]
        u_shape = step.output.shape
    lines.append(f"output: shape {trace.output.shape}, channels in level order y_0 .. y_{L - 1}")
    return "\n".join(lines)
