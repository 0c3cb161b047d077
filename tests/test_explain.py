"""refups explain: the printed walk-through matches the computation (spec S4, S6)."""

import numpy as np
import pytest
from helpers import kernel_from
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose

from refups import ops
from refups.cli import main
from refups.explain import _steps_1d, explain_1d, explain_2d, explain_pyramid
from refups.testing import half_kernels, ups_kernel_sizes


def test_s4_explain_without_arguments_is_the_worked_example(capsys):
    assert main(["explain"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "output y (2n = 6 samples)      : 1 1.25 1.75 2.5 3.5 4"
    assert lines[3].split(":")[1].split() == ["1", "1", "1", "2", "4", "4", "4"]  # padded
    assert lines[4].split(":")[1].split() == "1 0 1 0 1 0 2 0 4 0 4 0 4".split()  # stuffed
    assert "C = 3k/2 - 1 = 5" in lines[0]


def test_s4_explain_columns_line_up():
    # y[j] = full[j + C] is printed in the same column as the value it comes from.
    lines = explain_1d([1, 2, 4], [0.25, 0.75]).splitlines()
    full, kept = lines[5].split(":", 1)[1], lines[6].split(":", 1)[1]
    for value in kept.split():
        column = kept.index(value) + len(value)
        assert full[:column].endswith(value)
        kept = kept.replace(value, " " * len(value), 1)


@given(hnp.arrays(np.float64, st.integers(1, 9), elements=st.floats(-100, 100)),
       ups_kernel_sizes(max_size=12).flatmap(lambda k: half_kernels(k).map(lambda h: kernel_from(h, k))))
def test_s4_explained_steps_compute_the_filter(x, kernel):
    xp, s, full, y = _steps_1d(x, kernel)
    k = len(kernel)
    assert len(xp) == len(x) + k and len(full) == 2 * len(x) + 3 * k - 2
    assert_allclose(y, ops.upsample_1d(x, kernel), rtol=1e-12, atol=1e-12 * (1 + np.abs(x).max()))


def test_s4_explain_2d():
    text = explain_2d([[1, 2], [3, 4]])
    assert "shape (6, 6)" in text and "shape (11, 11)" in text and "shape (14, 14)" in text
    assert text.splitlines()[-4:] == ["  [[1 1.25 1.75 2]", "   [1.5 1.75 2.25 2.5]",
                                      "   [2.5 2.75 3.25 3.5]", "   [3 3.25 3.75 4]]"]


def test_s6_explain_pyramid(capsys):
    assert main(["explain", "--pyramid"]) == 0
    out = capsys.readouterr().out
    assert out == explain_pyramid() + "\n"
    assert "transition 0: into level 1 (upsampling filter 0 % 1 = 0, pre-concatenation filter 0 % 2 = 0)" in out
    assert "transition 1: into level 0 (upsampling filter 1 % 1 = 0, pre-concatenation filter 1 % 2 = 1)" in out
    assert "crop top-left to (1, 3, 7, 9)" in out and out.rstrip().endswith("y_0 .. y_2")


@pytest.mark.parametrize("argv, pattern", [
    (["--k", "5"], r"--k must be even and >= 4; got 5$"),
    (["--input", "1,x"], r"--input must be comma-separated numbers; got '1,x'$"),
    (["--input", "1,2;3"], r"--input rows must all have the same length; got \[2, 1\]$"),
    (["--half", "0.5,0.5", "--k", "8"], r"--k must be 2 \* len\(--half\) = 4; got 8$"),
])
def test_explain_errors(argv, pattern, capsys):
    assert main(["explain", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and pytest.importorskip("re").search(r"^refups explain: error: " + pattern, err)
