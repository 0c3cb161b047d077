"""Plain-text walk-throughs of SPEC S4, S5 and S6 for ``refups explain``, and run traces.

Every intermediate is computed here step by step with plain NumPy (``np.pad``,
slicing, ``np.convolve``), so the printout is a second, readable derivation
of what :mod:`refups.ops` computes.

Output fits a given width (``width``, in characters; ``None`` for no limit):
prose wraps, and a table too wide for it is cut into blocks of columns,
each headed by the range of columns it shows, so that the columns stay
aligned. ``refups explain`` passes the terminal's width.

:func:`write_trace` writes the intermediates of a forward pass in the
layout of a golden case (``refups run --trace``).

>>> print(explain_1d([1, 2, 4], [0.25, 0.75]).splitlines()[-2])
output y (2n = 6 samples): 1 1.25 1.75 2.5 3.5 4
"""

import re
import textwrap
from collections import OrderedDict

import numpy as np

from .kernels import initial_preconcat_half_kernel, initial_ups_half_kernel, symmetric_kernel
from .upsampling import Upsampling
from .views import crop_size, polyphase_phases

__all__ = ["explain_1d", "explain_2d", "explain_prefilter", "explain_pyramid", "parse_grid", "parse_levels",
           "write_trace"]


def parse_grid(text, name="--input"):
    """Numbers separated by ``,``, rows by ``;``, as a 2-D float64 array (one row for 1-D input).

    Examples
    --------
    >>> parse_grid("1,2;3,4")
    array([[1., 2.],
           [3., 4.]])
    >>> parse_grid("1,2;3")
    Traceback (most recent call last):
    ...
    ValueError: --input rows must all have the same length; got [2, 1]
    """
    rows = []
    for row in text.split(";"):
        try:
            rows.append([float(v) for v in row.split(",")])
        except ValueError:
            raise ValueError(f"{name} must be comma-separated numbers; got {text!r}") from None
    if len({len(row) for row in rows}) != 1:
        raise ValueError(f"{name} rows must all have the same length; got {[len(r) for r in rows]}")
    return np.array(rows)


def parse_levels(text, name="--input"):
    """Pyramid levels separated by ``|``, finest first, each a grid as in :func:`parse_grid`.

    Examples
    --------
    >>> [level.shape for level in parse_levels("1,2,3;4,5,6|7,8")]
    [(2, 3), (1, 2)]
    """
    return [parse_grid(level, f"{name} level {i}") for i, level in enumerate(text.split("|"))]


def _fmt(value):
    return f"{value:.8g}"  # enough for Cool-chic's 7-decimal literals (S3)


def _row(values):
    return " ".join(_fmt(v) for v in np.ravel(values))


def _wrap(text, width, indent="    "):
    """``text`` wrapped at ``width`` (no limit when None); continuation lines indented."""
    if width is None or len(text) <= width:
        return [text]
    return textwrap.wrap(text, max(width, 20), subsequent_indent=indent, break_on_hyphens=False,
                         break_long_words=True)


def _blocks(n_columns, cell, margin, width):
    """Column ranges ``[start, stop)`` such that ``margin + cell * (stop - start)`` fits ``width``."""
    if width is None or margin + cell * n_columns <= width:
        return [(0, n_columns)]
    most = max(1, (width - margin) // cell)
    n_blocks = -(-n_columns // most)
    per_block = -(-n_columns // n_blocks)  # blocks of nearly equal size
    return [(start, min(start + per_block, n_columns)) for start in range(0, n_columns, per_block)]


def _table(labels, rows, width, what="columns"):
    """Labelled rows of cells on one column grid; blocks of columns when too wide.

    ``rows`` are lists of strings of equal length ("" for an empty cell).
    """
    n_columns = len(rows[0])
    cell = max([len(c) for row in rows for c in row] + [len(str(n_columns - 1))]) + 1
    label_width = max(len(label) for label in labels) + 1
    blocks = _blocks(n_columns, cell, label_width, width)
    lines = []
    for start, stop in blocks:
        if len(blocks) > 1:
            lines.append(f"({what} {start} .. {stop - 1} of 0 .. {n_columns - 1})")
        for label, row in zip(labels, rows):
            cells = "".join(f"{c:>{cell}}" for c in row[start:stop])
            lines.append(f"{label:<{label_width - 1}}:{cells}".rstrip())
    return lines


def _matrix(name, m, width):
    """``name, shape (H, W):`` then the matrix, right-aligned on common columns,
    cut into blocks of columns when wider than ``width``."""
    m = np.atleast_2d(np.asarray(m))
    cells = [[_fmt(v) for v in row] for row in m]
    cell = max(len(c) for row in cells for c in row) + 2
    blocks = _blocks(m.shape[1], cell, 0, width)
    lines = _wrap(f"{name}, shape {m.shape}:", width)
    for start, stop in blocks:
        if len(blocks) > 1:
            lines.append(f"  (columns {start} .. {stop - 1} of 0 .. {m.shape[1] - 1})")
        lines += ["".join(f"{c:>{cell}}" for c in row[start:stop]) for row in cells]
    return "\n".join(lines)


def _ups_kernel(half, k):
    """``(half, full kernel, k)``: the initial upsampling half-kernel of size ``k``
    (default 4) when ``half`` is None, else ``half`` with ``k = 2 len(half)``."""
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


def _phases_text(k, P):
    """The polyphase reading of S4 for size ``k``, in terms of ``x`` (refups.views)."""
    parts = []
    for phase in polyphase_phases(k):
        output = "y[2m]" if phase.parity == 0 else "y[2m+1]"
        terms = []
        for u, tap in enumerate(phase.taps):
            shift = phase.offset - u - P
            terms.append(f"w[{tap}] x[m{shift:+d}]" if shift else f"w[{tap}] x[m]")
        parts.append(f"{output} = " + " + ".join(terms))
    return parts


def explain_1d(x, half=None, k=None, width=None):
    """Every intermediate of S4 along one axis, as aligned text.

    ``half`` defaults to the initial half-kernel of size ``k`` (default 4).
    All rows share one column grid, the positions ``f`` of the full
    convolution: ``xp[i]`` stands above ``s[2i]``, ``full[f]`` in column
    ``f``, and ``y[j] = full[j + C]`` right below the value it is cut from.
    The last lines give the same output by the polyphase view
    (:mod:`refups.views`), with the taps each output parity uses.

    Examples
    --------
    >>> print(explain_1d([1, 2, 4], [0.25, 0.75], width=80))
    S4 on one axis: n = 3 samples, kernel size k = 4, P = k/2 = 2, C = 3k/2 - 1 = 5
    half-kernel h = 0.25 0.75; kernel w = h + reverse(h) = 0.25 0.75 0.75 0.25
    rows: x input; xp = x edge-padded by P; s = xp zero-stuffed; full = s * w; y =
        full[C : C + 2n]
    (positions 0 .. 7 of 0 .. 15)
    position f:    0    1    2    3    4    5    6    7
    x         :                        1         2
    1. xp     :    1         1         1         2
    2. s      :    1    0    1    0    1    0    2    0
    3. full   : 0.25 0.75    1    1    1    1 1.25 1.75
    4. y      :                             1 1.25 1.75
    (positions 8 .. 15 of 0 .. 15)
    position f:    8    9   10   11   12   13   14   15
    x         :    4
    1. xp     :    4         4         4
    2. s      :    4    0    4    0    4
    3. full   :  2.5  3.5    4    4    4    4    3    1
    4. y      :  2.5  3.5    4
    output y (2n = 6 samples): 1 1.25 1.75 2.5 3.5 4
    polyphase view (k = 0 mod 4, C odd): y[2m] = w[1] x[m] + w[3] x[m-1]; y[2m+1] =
        w[0] x[m+1] + w[2] x[m]
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    half, kernel, k = _ups_kernel(half, k)
    xp, s, full, y = _steps_1d(x, kernel)
    P, C = k // 2, crop_size(k)
    n = len(x)

    def grid(values, columns):
        row = [""] * len(full)
        for value, column in zip(values, columns):
            row[column] = _fmt(value)
        return row

    table = _table(
        ["position f", "x", "1. xp", "2. s", "3. full", "4. y"],
        [[str(f) for f in range(len(full))],
         grid(x, range(2 * P, 2 * (P + n), 2)),
         grid(xp, range(0, 2 * len(xp), 2)),
         grid(s, range(len(s))),
         grid(full, range(len(full))),
         grid(y, range(C, C + 2 * n))],
        width, what="positions")
    lines = _wrap(f"S4 on one axis: n = {n} samples, kernel size k = {k}, P = k/2 = {P}, "
                  f"C = 3k/2 - 1 = {C}", width)
    lines += _wrap(f"half-kernel h = {_row(half)}; kernel w = h + reverse(h) = {_row(kernel)}", width)
    lines += _wrap("rows: x input; xp = x edge-padded by P; s = xp zero-stuffed; full = s * w; "
                   "y = full[C : C + 2n]", width)
    lines += table
    lines += _wrap(f"output y (2n = {2 * n} samples): {_row(y)}", width)
    lines += _wrap(f"polyphase view (k = {k % 4} mod 4, C {'odd' if C % 2 else 'even'}): "
                   + "; ".join(_phases_text(k, P)), width, indent="    ")
    return "\n".join(lines)


def explain_2d(x, half=None, k=None, width=None):
    """Every intermediate of S4 on a small 2-D input, with the dense kernel ``w (x) w``.

    Examples
    --------
    >>> print(explain_2d([[1, 2], [3, 4]]).split("4. output")[1])
    : crop C = 5 rows and columns from each end, shape (4, 4):
         1  1.25  1.75     2
       1.5  1.75  2.25   2.5
       2.5  2.75  3.25   3.5
         3  3.25  3.75     4
    """
    from scipy import signal

    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    half, kernel, k = _ups_kernel(half, k)
    P, C = k // 2, crop_size(k)
    H, W = x.shape
    xp = np.pad(x, P, mode="edge")
    s = np.zeros((2 * xp.shape[0] - 1, 2 * xp.shape[1] - 1))
    s[::2, ::2] = xp
    full = signal.convolve(s, np.outer(kernel, kernel), method="direct")
    y = full[C : full.shape[0] - C, C : full.shape[1] - C]
    head = _wrap(f"S4 in 2-D: input {H} x {W}, kernel size k = {k}, P = {P}, C = {C}; "
                 "2-D kernel w (x) w", width)
    head += _wrap(f"w = {_row(kernel)}", width)
    return "\n".join(head + [
        _matrix("input x", x, width),
        _matrix(f"1. padded xp (edge, P = {P} on every side, corners take the corner value)", xp, width),
        _matrix("2. zero-stuffed s (s[2i, 2j] = xp[i, j], zeros between)", s, width),
        _matrix("3. full 2-D convolution s * (w (x) w)", full, width),
        _matrix(f"4. output: crop C = {C} rows and columns from each end", y, width),
    ])


def _preconcat_kernel(half, k):
    """``(half, full kernel, k)`` for S5: the initial (impulse) half-kernel of size
    ``k`` (default 3) when ``half`` is None, else ``half`` with ``k = 2 len(half) - 1``."""
    if half is None:
        k = 3 if k is None else k
        half = initial_preconcat_half_kernel(k)
    half = np.asarray(half, dtype=np.float64)
    k = 2 * len(half) - 1 if k is None else k
    return half, symmetric_kernel(half, k), k


def explain_prefilter(x, half=None, k=None, width=None):
    """Every intermediate of S5, the residual pre-concatenation filter, on one channel.

    ``half`` defaults to the initial half-kernel of size ``k`` (default 3), a
    unit impulse, for which ``Z = 2 X``. The walk-through shows the zero
    padding ``X0``, the 2-D kernel ``w (x) w``, the filtered grid, the residual
    sum ``Z = X + filtered``, and the sum for one sample written out term by
    term.

    Examples
    --------
    >>> text = explain_prefilter([[1, 2], [3, 4]], [0.5, 1.0])
    >>> print(text.split("4. ")[1])
    residual Z = X + filtered, shape (2, 2):
        5.5   7.25
          9  10.75
    one sample by hand: Z[1, 1] = X[1, 1] + sum over the taps inside the grid
      = 4 + (0.25*1 + 0.5*2 + 0.5*3 + 1*4) = 10.75 (5 of the 9 taps fall outside and meet zeros)
    """
    from scipy import signal

    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    half, kernel, k = _preconcat_kernel(half, k)
    p = (k - 1) // 2
    H, W = x.shape
    x0 = np.pad(x, p, mode="constant")
    kernel_2d = np.outer(kernel, kernel)
    filtered = signal.correlate(x0, kernel_2d, mode="valid", method="direct")
    z = x + filtered
    a, b = H - 1, W - 1
    terms, outside = [], 0
    for s_ in range(k):
        for t in range(k):
            i, j = a + s_ - p, b + t - p
            if 0 <= i < H and 0 <= j < W:
                if kernel_2d[s_, t] != 0:
                    terms.append(f"{_fmt(kernel_2d[s_, t])}*{_fmt(x[i, j])}")
            else:
                outside += 1
    by_hand = (f"  = {_fmt(x[a, b])} + ({' + '.join(terms) or '0'}) = {_fmt(z[a, b])}"
               + (f" ({outside} of the {k * k} taps fall outside and meet zeros)" if outside else ""))
    head = _wrap(f"S5 on one channel: {H} x {W}, kernel size k = {k}, p = (k - 1)/2 = {p}; "
                 "Z[a, b] = X[a, b] + sum_{s,t} w[s] w[t] X0[a + s - p, b + t - p]", width)
    head += _wrap(f"half-kernel h = {_row(half)}; kernel w = {_row(kernel)}", width)
    return "\n".join(head + [
        _matrix("input X", x, width),
        _matrix(f"1. zero-padded X0 (p = {p} rows and columns of zeros on every side, unlike S4)", x0, width),
        _matrix("2. 2-D kernel w (x) w (symmetric: correlation = convolution)", kernel_2d, width),
        _matrix("3. filtered: sum_{s,t} w[s] w[t] X0[a + s - p, b + t - p]", filtered, width),
        _matrix("4. residual Z = X + filtered", z, width),
        *_wrap(f"one sample by hand: Z[{a}, {b}] = X[{a}, {b}] + sum over the taps inside the grid", width),
        *_wrap(by_hand, width),
    ])


DEFAULT_PYRAMID_SHAPES = ((1, 1, 7, 9), (1, 1, 4, 5), (1, 2, 2, 3))


def explain_pyramid(shapes=DEFAULT_PYRAMID_SHAPES, ups_k_size=8, ups_preconcat_k_size=7, n_ups_kernel=1,
                    n_ups_preconcat_kernel=2, latents=None, ups_half=None, width=None):
    """Each transition of S6 on a small pyramid, with shapes and filters.

    Without ``latents``, a pyramid of ramps of the given ``shapes`` and only
    shapes are shown. With ``latents`` (a list of arrays, level 0 finest;
    ``shapes`` is then ignored), every level, every upsampled and pre-filtered
    tensor and the output are printed as well, channel by channel.
    ``ups_half``, when given, is the half-kernel of every upsampling filter
    (its size then sets ``ups_k_size``); the pre-concatenation filters keep
    their initial impulse (``Z = 2 X``).

    Examples
    --------
    >>> print("\\n".join(explain_pyramid(width=80).splitlines()[:2]))
    S6 on 3 levels, level 0 finest: Upsampling(ups_k_size=8, ups_preconcat_k_size=7,
        n_ups_kernel=1, n_ups_preconcat_kernel=2)
    >>> text = explain_pyramid(latents=[np.ones((1, 1, 2, 2)), np.full((1, 1, 1, 1), 3.0)],
    ...                        ups_k_size=4, n_ups_preconcat_kernel=1)
    >>> print(text.split("output, shape")[1])
     (1, 2, 2, 2), channels in level order y_0 .. y_1:
    output channel 0 (from y_0), shape (2, 2):
      2  2
      2  2
    output channel 1 (from y_1), shape (2, 2):
      3  3
      3  3
    """
    with_values = latents is not None
    if with_values:
        latents = [np.asarray(y, dtype=np.float64) for y in latents]
    else:
        latents = [np.arange(np.prod(shape), dtype=np.float64).reshape(shape) for shape in shapes]
    if ups_half is not None:
        ups_half = np.asarray(ups_half, dtype=np.float64)
        ups_k_size = 2 * len(ups_half)
    up = Upsampling(ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel)
    if ups_half is not None:
        params = up.get_param()
        for i in range(up.n_ups_kernel):
            params[f"conv_transpose2ds.{i}.parametrizations.weight.original"] = ups_half
        up.set_param(params)
    trace = up.trace(latents)
    L = len(latents)
    lines = _wrap(f"S6 on {L} levels, level 0 finest: {up!r}", width)
    lines += _wrap(f"upsampling half-kernel{'s' if up.n_ups_kernel > 1 else ''}: "
                   + "; ".join(_row(layer.weight) for layer in up.conv_transpose2ds)
                   + f"; pre-concatenation: initial impulse of size {ups_preconcat_k_size} (Z = 2 X)", width)

    def channels(name, tensor):
        out = []
        for b in range(tensor.shape[0]):
            for c in range(tensor.shape[1]):
                where = f"batch {b}, channel {c}" if tensor.shape[0] > 1 else f"channel {c}"
                out.append(_matrix(f"{name} {where}", tensor[b, c], width))
        return out

    for i, y in enumerate(latents):
        lines += _wrap(f"  y_{i}: shape {y.shape}", width)
        if with_values:
            lines += channels(f"  y_{i}", y)
    if not with_values:
        lines += _wrap("(values: give --input to see every tensor)", width)
    lines += _wrap(f"start: u = y_{L - 1}, shape {latents[-1].shape}", width)
    u_shape = latents[-1].shape
    for step in trace.transitions:
        t = latents[step.level]
        B, C, H, W = u_shape
        lines += _wrap(f"transition {step.index}: into level {step.level} "
                       f"(upsampling filter {step.index} % {up.n_ups_kernel} = {step.ups_filter}, "
                       f"pre-concatenation filter {step.index} % {up.n_ups_preconcat_kernel} = "
                       f"{step.preconcat_filter})", width)
        lines += _wrap(f"  upsample u {u_shape} -> ({B}, {C}, {2 * H}, {2 * W}), crop top-left to "
                       f"{step.upsampled.shape}", width)
        if with_values:
            lines += channels("  upsampled", step.upsampled)
        lines += _wrap(f"  pre-filter y_{step.level} {t.shape} -> {step.prefiltered.shape} "
                       "(residual: y + filtered y)", width)
        if with_values:
            lines += channels("  pre-filtered", step.prefiltered)
        lines += _wrap(f"  concatenate [pre-filtered y_{step.level}, upsampled u] -> u {step.output.shape}",
                       width)
        u_shape = step.output.shape
    if len(trace.transitions) < L - 1:
        stop = L - 2 - len(trace.transitions)
        lines += _wrap(f"stop: level {stop} has no channels (S6.4); levels {stop} .. 0 are dropped", width)
    lines += _wrap(f"output, shape {trace.output.shape}, channels in level order y_0 .. y_{L - 1}"
                   + (":" if with_values else ""), width)
    if with_values:
        sources = [i for i, y in enumerate(latents) for _ in range(y.shape[1])][-trace.output.shape[1]:]
        for b in range(trace.output.shape[0]):
            for c in range(trace.output.shape[1]):
                where = f"batch {b}, channel {c}" if trace.output.shape[0] > 1 else f"channel {c}"
                lines.append(_matrix(f"output {where} (from y_{sources[c]})", trace.output[b, c], width))
    return "\n".join(lines)


# -- a run's intermediates on disk ------------------------------------------------------

def write_trace(folder, up, latents):
    """Run ``up`` on ``latents`` and write every intermediate to ``folder``, laid out as a golden case.

    Files: ``latent_<i>.npy``, ``params.json``, ``param.<name>.npy``,
    ``transition_<idx>.upsampled.npy``, ``transition_<idx>.prefiltered.npy``
    (``idx = 0`` is the coarsest transition, S6.2), ``output.npy`` and
    ``case.txt`` (:func:`refups.suite.case_text`), with the arrays in the
    computation's dtype. A diff of another implementation's intermediates
    against these, stage by stage, finds the first one that differs.
    ``folder`` must not exist or be empty; it appears complete or not at all.

    Returns
    -------
    UpsamplingTrace
        The forward pass (``.output`` is what ``up(latents)`` returns).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "trace"
    >>> up = Upsampling(4, 1, 1, 1)
    >>> trace = write_trace(folder, up, [np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1))])
    >>> sorted(p.name for p in folder.iterdir())[:4]
    ['case.txt', 'latent_0.npy', 'latent_1.npy', 'output.npy']
    >>> print((folder / "case.txt").read_text().splitlines()[1])
    id trace
    """
    import pathlib

    from .io import FileError, params_to_json
    from .output import folder_writer, save_npy, write_json
    from .profiles import profiles_of
    from .suite import case_text

    folder = pathlib.Path(folder)
    if folder.is_dir() and not folder.is_symlink() and any(folder.iterdir()):
        raise FileError(folder, "is not empty; give a new or empty folder for the trace")
    trace = up.trace(latents)
    levels = [np.asarray(y) for y in latents]
    params = up.get_param()
    arrays = OrderedDict((f"latent_{i}", y) for i, y in enumerate(levels))
    arrays.update((f"param.{name}", value) for name, value in params.items())
    for step in trace.transitions:
        arrays[f"transition_{step.index}.upsampled"] = step.upsampled
        arrays[f"transition_{step.index}.prefiltered"] = step.prefiltered
    arrays["output"] = trace.output
    config = (up.ups_k_size, up.ups_preconcat_k_size, up.n_ups_kernel, up.n_ups_preconcat_kernel)
    shapes = [y.shape for y in levels]

    def role(stem):
        return "input" if stem.startswith("latent_") else "param" if stem.startswith("param.") else "expected"

    entry = {
        "id": re.sub(r"[^a-z0-9_]+", "_", folder.name.lower()).strip("_") or "trace",
        "config": {"ups_k_size": config[0], "ups_preconcat_k_size": config[1], "n_ups_kernel": config[2],
                   "n_ups_preconcat_kernel": config[3], "n_levels": len(levels)},
        "profiles": list(profiles_of(config, shapes)), "flags": [], "clauses": [],
        "files": [{"path": f"{stem}.npy", "role": role(stem), "shape": list(np.shape(a))}
                  for stem, a in arrays.items()],
    }
    with folder_writer(folder) as tmp:
        for stem, array in arrays.items():
            save_npy(tmp / f"{stem}.npy", array)
        write_json(tmp / "params.json", params_to_json(params))
        (tmp / "case.txt").write_text(case_text(entry, params) + "\n")
    return trace
