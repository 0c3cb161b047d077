"""refups explain: the printed walk-throughs match the computation (spec S4, S5, S6),
fit the width they are given, and never ignore an option."""

import pathlib
import re

import numpy as np
import pytest
from helpers import kernel_from
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose

from refups import Upsampling, ops
from refups.cli import main
from refups.explain import _steps_1d, explain_1d, explain_2d, explain_prefilter, explain_pyramid
from refups.kernels import initial_ups_half_kernel, symmetric_kernel
from refups.testing import half_kernels, preconcat_kernel_sizes, ups_kernel_sizes


def explain(capsys, *argv):
    status = main(["explain", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def row(lines, label):
    """The cells of every line labelled ``label`` (all column blocks, in order)."""
    cells = []
    for line in lines:
        name, colon, rest = line.partition(":")
        if colon and name.strip() == label:
            cells += rest.split()
    return cells


def matrix(text, header):
    """The matrix printed under the first line starting with ``header`` (all column blocks)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(header))
    while not lines[start].rstrip().endswith(":"):  # a wrapped header
        start += 1
    blocks, current = [], []
    for line in lines[start + 1:]:
        if line.strip().startswith("(columns"):
            if current:
                blocks.append(current)
            current = []
        elif re.fullmatch(r"\s+[-+0-9.einfa ]+", line):
            current.append([float(v) for v in line.split()])
        else:
            break
    blocks.append(current)
    return np.hstack([np.array(block) for block in blocks])


# -- S4 on one axis ------------------------------------------------------------------

def test_s4_explain_without_arguments_is_the_worked_example(capsys):
    status, out, _ = explain(capsys, "--width", 0)
    assert status == 0
    lines = out.splitlines()
    assert "C = 3k/2 - 1 = 5" in lines[0]
    assert row(lines, "1. xp") == ["1", "1", "1", "2", "4", "4", "4"]
    assert row(lines, "2. s") == "1 0 1 0 1 0 2 0 4 0 4 0 4".split()
    assert row(lines, "4. y") == ["1", "1.25", "1.75", "2.5", "3.5", "4"]
    assert "output y (2n = 6 samples): 1 1.25 1.75 2.5 3.5 4" in lines
    assert lines[-1] == ("polyphase view (k = 0 mod 4, C odd): y[2m] = w[1] x[m] + w[3] x[m-1]; "
                         "y[2m+1] = w[0] x[m+1] + w[2] x[m]")


def test_s4_explain_columns_line_up():
    # y[j] = full[j + C] is printed in the same column as the value it comes from,
    # and every row sits on the grid of positions f.
    lines = explain_1d([1, 2, 4], [0.25, 0.75]).splitlines()
    by_label = {line.split(":")[0].strip(): line for line in lines if ":" in line}
    full, kept, positions = by_label["3. full"], by_label["4. y"], by_label["position f"]
    for match in re.finditer(r"\S+", kept.split(":", 1)[1]):
        end = len(kept.split(":", 1)[0]) + 1 + match.end()
        assert full[:end].endswith(match.group())
        f = int(positions[:end].split()[-1])  # the position printed above it
        assert 5 <= f < 11
    assert len({len(by_label[label]) for label in ("position f", "3. full")}) == 1


@given(hnp.arrays(np.float64, st.integers(1, 9), elements=st.floats(-100, 100)),
       ups_kernel_sizes(max_size=12).flatmap(lambda k: half_kernels(k).map(lambda h: kernel_from(h, k))))
def test_s4_explained_steps_compute_the_filter(x, kernel):
    xp, s, full, y = _steps_1d(x, kernel)
    k = len(kernel)
    assert len(xp) == len(x) + k and len(full) == 2 * len(x) + 3 * k - 2
    assert_allclose(y, ops.upsample_1d(x, kernel), rtol=1e-12, atol=1e-12 * (1 + np.abs(x).max()))


@pytest.mark.parametrize("width", [40, 60, 80])
@pytest.mark.parametrize("k", [4, 8, 12])
def test_s4_wrapped_rows_keep_every_value_in_order(width, k):
    x = [1, -2, 4, 0.5]
    wide = explain_1d(x, k=k).splitlines()
    narrow = explain_1d(x, k=k, width=width).splitlines()
    assert max(map(len, narrow)) <= width
    for label in ("position f", "x", "1. xp", "2. s", "3. full", "4. y"):
        assert row(narrow, label) == row(wide, label), label
    assert any(line.startswith("(positions 0 .. ") for line in narrow)


# -- S4 in 2-D -------------------------------------------------------------------------

def test_s4_explain_2d_matrices_are_column_aligned():
    text = explain_2d([[1, 2], [3, 4]])
    assert "shape (6, 6)" in text and "shape (11, 11)" in text and "shape (14, 14)" in text
    assert text.splitlines()[-4:] == ["     1  1.25  1.75     2",
                                      "   1.5  1.75  2.25   2.5",
                                      "   2.5  2.75  3.25   3.5",
                                      "     3  3.25  3.75     4"]
    # In every matrix, the values of a column end at the same character.
    block = text.split("3. full 2-D convolution")[1].splitlines()[1:15]
    ends = [[m.end() for m in re.finditer(r"\S+", line)] for line in block]
    assert all(e == ends[0] for e in ends)


@pytest.mark.parametrize("k", [4, 8, 12])
def test_s4_explain_2d_wrapped_matrices_hold_the_same_values(k):
    x = [[1, 2, 0], [3, 4, -1]]
    wide, narrow = explain_2d(x, k=k), explain_2d(x, k=k, width=60)
    assert max(map(len, narrow.splitlines())) <= 60
    for header in ("2. zero-stuffed", "3. full 2-D", "4. output"):
        np.testing.assert_array_equal(matrix(narrow, header), matrix(wide, header))
    C = 3 * k // 2 - 1
    full = matrix(wide, "3. full 2-D")
    assert_allclose(matrix(wide, "4. output"), full[C:-C, C:-C])
    kernel = symmetric_kernel(initial_ups_half_kernel(k), k)
    assert_allclose(matrix(wide, "4. output"), ops.upsample_separable(np.array(x, dtype=float), kernel),
                    rtol=1e-7, atol=1e-7)  # the printout has 8 significant digits


# -- S5 -------------------------------------------------------------------------------

def test_s5_explain_prefilter_default_doubles_the_input(capsys):
    status, out, _ = explain(capsys, "--prefilter", "--width", 0)
    assert status == 0
    assert out.startswith("S5 on one channel: 2 x 2, kernel size k = 3, p = (k - 1)/2 = 1")
    np.testing.assert_array_equal(matrix(out, "1. zero-padded X0"), np.pad([[1, 2], [3, 4]], 1))
    np.testing.assert_array_equal(matrix(out, "4. residual"), [[2, 4], [6, 8]])  # Z = 2 X (S3, S5)


def test_s5_explain_prefilter_with_a_half_kernel(capsys):
    status, out, _ = explain(capsys, "--prefilter", "--half", "0.5,1", "--width", 0)
    assert status == 0
    np.testing.assert_array_equal(matrix(out, "3. filtered"), [[4.5, 5.25], [6, 6.75]])
    np.testing.assert_array_equal(matrix(out, "4. residual"), [[5.5, 7.25], [9, 10.75]])
    assert "= 4 + (0.25*1 + 0.5*2 + 0.5*3 + 1*4) = 10.75 (5 of the 9 taps fall outside and meet zeros)" in out


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)),
                  elements=st.integers(-8, 8).map(float)),
       preconcat_kernel_sizes(max_size=7).flatmap(
           lambda k: half_kernels(k, dyadic=True).map(lambda h: kernel_from(h, k))))
def test_s5_explained_residual_is_the_filter(x, kernel):
    half = kernel[: (len(kernel) + 1) // 2]
    text = explain_prefilter(x, half, width=70)
    assert max(map(len, text.splitlines())) <= 70
    np.testing.assert_array_equal(matrix(text, "4. residual"), ops.preconcat_separable(x, kernel))
    np.testing.assert_array_equal(matrix(text, "input X"), x)


# -- S6 --------------------------------------------------------------------------------

def test_s6_explain_pyramid_shapes(capsys):
    status, out, _ = explain(capsys, "--pyramid", "--width", 0)
    assert status == 0
    assert out == explain_pyramid() + "\n"
    assert "transition 0: into level 1 (upsampling filter 0 % 1 = 0, pre-concatenation filter 0 % 2 = 0)" in out
    assert "transition 1: into level 0 (upsampling filter 1 % 1 = 0, pre-concatenation filter 1 % 2 = 1)" in out
    assert "crop top-left to (1, 3, 7, 9)" in out and out.rstrip().endswith("y_0 .. y_2")
    assert "(values: give --input to see every tensor)" in out


def test_s6_explain_pyramid_uses_the_given_levels(capsys):
    levels = "1,2,3,4;5,6,7,8;9,10,11,12|1,2;3,4|5"
    status, out, _ = explain(capsys, "--pyramid", "--k", 4, "--input", levels, "--width", 0)
    assert status == 0
    latents = [np.arange(1.0, 13).reshape(1, 1, 3, 4), np.arange(1.0, 5).reshape(1, 1, 2, 2),
               np.full((1, 1, 1, 1), 5.0)]
    expected = Upsampling(4, 7, 1, 2)(latents)[0]
    assert "Upsampling(ups_k_size=4, ups_preconcat_k_size=7, n_ups_kernel=1, n_ups_preconcat_kernel=2)" in out
    for c, level in enumerate((0, 1, 2)):
        np.testing.assert_array_equal(matrix(out, f"output channel {c} (from y_{level})"), expected[c])
    np.testing.assert_array_equal(matrix(out, "y_1 channel 0"), latents[1][0, 0])
    np.testing.assert_array_equal(matrix(out, "pre-filtered channel 0"), 2 * latents[1][0, 0])
    assert "(values:" not in out


def test_s6_explain_pyramid_uses_the_given_half_kernel(capsys):
    status, out, _ = explain(capsys, "--pyramid", "--half", "0,0.5,0.5", "--input", "1,2;3,4|8", "--width", 0)
    assert status == 0
    assert "upsampling half-kernel: 0 0.5 0.5" in out and "ups_k_size=6" in out
    up = Upsampling(6, 7, 1, 2)
    params = up.get_param()
    params["conv_transpose2ds.0.parametrizations.weight.original"] = [0.0, 0.5, 0.5]
    up.set_param(params)
    expected = up([np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), np.full((1, 1, 1, 1), 8.0)])
    np.testing.assert_array_equal(matrix(out, "output channel 1"), expected[0, 1])


def test_s6_explain_pyramid_narrow():
    latents = [np.arange(70.0).reshape(1, 1, 7, 10), np.ones((1, 1, 4, 5)), np.ones((1, 1, 2, 3))]
    wide, narrow = explain_pyramid(latents=latents), explain_pyramid(latents=latents, width=50)
    assert max(map(len, narrow.splitlines())) <= 50 < max(map(len, wide.splitlines()))
    np.testing.assert_array_equal(matrix(narrow, "output channel 0"), matrix(wide, "output channel 0"))


# -- the terminal's width --------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    [], ["--k", 8], ["--k", 12], ["--k", 12, "--input", "1,2;3,4"], ["--input", "0,0,1,0,0", "--k", 8],
    ["--prefilter", "--k", 7, "--input", "1,2,3;4,5,6"], ["--pyramid"],
    ["--pyramid", "--k", 12, "--input", "1,2,3,4;5,6,7,8|1,2;3,4|5"],
])
def test_explain_fits_the_terminal_width(argv, capsys, monkeypatch):
    for columns in (60, 100):
        monkeypatch.setenv("COLUMNS", str(columns))  # what shutil.get_terminal_size reads first
        status, out, _ = explain(capsys, *argv)
        assert status == 0
        assert max(map(len, out.splitlines())) <= columns
    status, out, _ = explain(capsys, *argv, "--width", 0)  # no limit: the same content, unwrapped
    assert status == 0


def test_explain_without_a_limit_is_wide(capsys):
    status, out, _ = explain(capsys, "--k", 12, "--width", 0)
    assert status == 0 and max(map(len, out.splitlines())) > 300


# -- options are used or refused ---------------------------------------------------------

@pytest.mark.parametrize("argv, pattern", [
    (["--k", "5"], r"--k must be even and >= 4; got 5$"),
    (["--input", "1,x"], r"--input must be comma-separated numbers; got '1,x'$"),
    (["--input", "1,2;3"], r"--input rows must all have the same length; got \[2, 1\]$"),
    (["--half", "0.5,0.5", "--k", "8"], r"--k must be 2 \* len\(--half\) = 4; got 8$"),
    (["--half", "0.5"], r"--half must have at least 2 values, since the kernel size k = 2 \* len\(--half\) "
                        r"must be >= 4 \(S2\); got 1 value \(k = 2\)$"),
    (["--pyramid", "--half", "0.5"], r"--half must have at least 2 values"),
    (["--prefilter", "--k", "4"], r"--k must be odd and >= 1; got 4$"),
    (["--prefilter", "--half", "0.5,1", "--k", "5"],
     r"--k must be 2 \* len\(--half\) - 1 = 3 with --prefilter; got 5$"),
    (["--pyramid", "--prefilter"], r"--pyramid and --prefilter cannot be combined; choose one walk-through$"),
    (["--pyramid", "--input", "1|1,2;3,4"], r"--input levels: .*level 0 is the finest"),
    (["--pyramid", "--input", "1,2|x"], r"--input level 1 must be comma-separated numbers; got 'x'$"),
    (["--width", "-1"], r"--width must be >= 0 \(0: no limit\); got -1$"),
    (["--input", ""], r"--input must be comma-separated numbers; got ''$"),
    (["--prefilter", "--input", ""], r"--input must be comma-separated numbers; got ''$"),
])
def test_explain_errors(argv, pattern, capsys):
    status, _, err = explain(capsys, *argv)
    assert status == 2
    assert err.count("\n") == 1 and re.search(r"^refups explain: error: " + pattern, err), err


def test_the_tutorial_pyramid_command_prints_the_tutorial_values(capsys):
    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "tutorial.md").read_text()
    (levels,) = re.findall(r"refups explain --pyramid --k 4 --input '([^']+)'", text)
    status, out, _ = explain(capsys, "--pyramid", "--k", 4, "--input", levels, "--width", 0)
    assert status == 0
    latents = [np.zeros((1, 1, 3, 4)), np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), np.array([[[[8.0]]]])]
    dense = Upsampling(ups_k_size=4, ups_preconcat_k_size=1, n_ups_kernel=1, n_ups_preconcat_kernel=1)(latents)
    for c in range(3):
        np.testing.assert_array_equal(matrix(out, f"output channel {c}"), dense[0, c])
