"""Small helpers shared by the tests (no hypothesis strategies here: see refups.testing)."""

import numpy as np
import pytest

from refups.kernels import symmetric_kernel

#: How to install each optional dependency some tests use (none is needed by refups itself).
INSTALL = {
    "torch": "python -m pip install torch==2.13.0",
    "matplotlib": 'python -m pip install ".[docs]"',
    "sphinx": 'python -m pip install ".[docs]"',
    "myst_parser": 'python -m pip install ".[docs]"',
    "sphinx_mathjax_offline": 'python -m pip install ".[docs]"',
}


def optional(module):
    """Import an optional dependency, or skip with a one-line reason that says what to install.

    Use it at module level (the whole module skips) or inside a test.
    """
    return pytest.importorskip(module, reason=f"needs {module}: {INSTALL[module]}")


def kernel_from(half, k):
    return symmetric_kernel(np.asarray(half, dtype=np.float64), k)


def rounding_atol(x, kernel, dtype=np.float64, passes=2):
    """Absolute tolerance for rounding in ``dtype``: 64 ulps of the largest possible sum.

    ``max|x| * (sum|w|)^passes`` bounds every partial sum of a filter pass, so
    rounding errors stay below a small multiple of ``eps`` times it.
    """
    bound = float(np.max(np.abs(x), initial=1.0)) * float(np.sum(np.abs(kernel))) ** passes
    return 64 * np.finfo(dtype).eps * max(bound, 1.0)


def copy_expected(suite, out, dtype=np.float64):
    """A perfect candidate for ``refups verify``: the suite's expected files, as ``dtype``."""
    for case_dir in sorted(p for p in suite.iterdir() if p.is_dir()):
        (out / case_dir.name).mkdir(parents=True)
        for path in case_dir.glob("*.npy"):
            if path.name.startswith(("transition_", "output")):
                np.save(out / case_dir.name / path.name, np.load(path).astype(dtype))
    return out
