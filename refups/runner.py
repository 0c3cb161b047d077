"""Running a candidate implementation on one golden case, whatever its language.

``refups verify --run COMMAND`` calls :func:`run_case` for every selected
case. ``COMMAND`` is a shell command line in which ``{case}`` becomes the
case folder (it holds ``case.txt``, the latents and the parameters) and
``{out}`` the folder where the candidate writes ``output.npy`` (and, if it
can, the ``transition_<idx>.*.npy`` intermediates). Both paths are absolute
and shell-quoted. A crash, a non-zero exit or a timeout is recorded for that
case, never raised: the run goes on with the next case.

Examples
--------
>>> import tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> result = run_case("echo broken >&2; exit 3  # {case} {out}", folder, folder / "out", timeout=10)
>>> result.ok, result.reason, result.stderr
(False, 'the command exited with status 3', 'broken')
"""

import os
import pathlib
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass

__all__ = ["CaseRun", "check_command", "run_case"]

#: How much of a command's stderr the report keeps (the end, where errors are).
STDERR_CHARS = 2000

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


@dataclass(frozen=True)
class CaseRun:
    """What happened when the command ran on one case."""

    ok: bool
    reason: str
    seconds: float
    stderr: str


def check_command(command):
    """Return ``command`` if it is a usable template, else raise a ValueError.

    Examples
    --------
    >>> check_command("./decoder {case}")
    Traceback (most recent call last):
    ...
    ValueError: --run must contain {case} and {out}; got './decoder {case}'
    """
    if not isinstance(command, str) or "{case}" not in command or "{out}" not in command:
        raise ValueError(f"--run must contain {{case}} and {{out}}; got {command!r}")
    return command


def _clean(stderr):
    text = _ANSI_ESCAPE.sub("", stderr.decode("utf-8", errors="replace")).strip()
    return text if len(text) <= STDERR_CHARS else "..." + text[-STDERR_CHARS:]


def _stop(process):
    # The command runs in its own session: kill the whole group, so that
    # children of a shell pipeline do not outlive the timeout.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def run_case(command, case_dir, out_dir, *, timeout):
    """Run ``command`` for one case with ``{case}`` and ``{out}`` filled in.

    ``out_dir`` is created, and stale ``output.npy`` and ``transition_*.npy``
    files in it are removed first, so that a command that writes nothing can
    never be judged on an earlier run's files.
    """
    case_dir, out_dir = pathlib.Path(case_dir).resolve(), pathlib.Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [out_dir / "output.npy", *out_dir.glob("transition_*.npy")]:
        stale.unlink(missing_ok=True)
    line = (check_command(command).replace("{case}", shlex.quote(str(case_dir)))
            .replace("{out}", shlex.quote(str(out_dir))))
    start = time.monotonic()
    process = subprocess.Popen(line, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        _, stderr = process.communicate()
        return CaseRun(False, f"the command timed out after {timeout:g} s", time.monotonic() - start,
                       _clean(stderr))
    seconds = time.monotonic() - start
    code = process.returncode
    if code == 0:
        return CaseRun(True, "", seconds, _clean(stderr))
    if code < 0:
        reason = f"the command was killed by {_signal_name(-code) or f'signal {-code}'}"
    elif code > 128 and _signal_name(code - 128):
        # A shell reports a child killed by signal N as status 128 + N.
        reason = f"the command exited with status {code} ({_signal_name(code - 128)})"
    else:
        reason = f"the command exited with status {code}"
    return CaseRun(False, reason, seconds, _clean(stderr))


def _signal_name(number):
    """``"SIGSEGV"`` for 11; an empty string for a number that names no signal."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return ""
