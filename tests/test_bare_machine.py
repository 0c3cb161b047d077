"""The tests on a machine with nothing but ``.[test]``: every module imports or skips cleanly.

``python -m pytest`` imports every module under ``refups/``, ``tests/`` and
``docs/`` (``--doctest-modules``), so one module-level ``import torch`` in a
test helper is enough to break the README's test command for everyone
without torch. Here a fresh interpreter hides every optional dependency
(PyTorch and the ``docs`` extra of ``setup.cfg``), collects the whole tree as
the README's command does, and requires no collection error and a skip
reason that says what to install for every module that skips.
"""

import configparser
import pathlib
import re
import subprocess
import sys
import textwrap

from helpers import INSTALL

ROOT = pathlib.Path(__file__).resolve().parents[1]


def optional_modules():
    """PyTorch and every requirement of the ``docs`` extra, as importable module names."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    docs = config["options.extras_require"]["docs"].split()
    return ["torch"] + [re.split(r"[<>=!~\[; ]", req)[0].replace("-", "_").lower() for req in docs]


def collect_without(modules):
    code = textwrap.dedent(f"""
        import sys

        class Hide:  # as if not installed: importing it, or anything inside it, raises
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {modules!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, Hide())
        import pytest
        sys.exit(pytest.main(["--collect-only", "-q", "-rs", "-p", "no:cacheprovider"]))
    """)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_every_optional_dependency_has_an_install_hint():
    assert set(optional_modules()) <= set(INSTALL)


def test_nothing_fails_to_import_without_the_optional_dependencies():
    result = collect_without(optional_modules())
    out = result.stdout + result.stderr
    summary = out.strip().splitlines()[-1]
    assert result.returncode == 0 and re.fullmatch(r"\d+ tests collected in .*", summary), out[-3000:]
    skips = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert skips, "no module skipped, so the optional dependencies were not hidden:\n" + out[-3000:]
    unexplained = [line for line in skips if "pip install" not in line]
    assert not unexplained, "\n".join(unexplained)
    # The modules that need torch or matplotlib at import time skip; the rest are collected.
    collected = {line.split("::")[0] for line in out.splitlines() if "::" in line}
    assert {"tests/test_upsampling.py", "tests/test_cli.py", "refups/io.py"} <= collected
    assert not collected & {"tests/coolchic_port.py", "tests/test_coolchic_port.py",
                            "tests/test_torch_example.py", "tests/test_figures.py"}
