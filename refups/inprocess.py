"""Calling a Python candidate on every case, without a process per case.

``refups verify --call MODULE:FUNCTION`` calls ``FUNCTION(latents, params,
config)``, the contract of :func:`refups.testing.check_implementation`, on
every selected case. A command per case (:mod:`refups.runner`) pays the
start-up of the interpreter and of the candidate's imports (PyTorch takes
seconds) on every case; here one worker process imports the candidate once
and computes case after case. The worker is a separate process all the same,
so that a candidate that crashes the interpreter or never returns fails only
its case: after a crash or a timeout the worker is stopped and a fresh one
takes the next case.
"""

import importlib
import multiprocessing
import os
import sys
import time

import numpy as np

from ._validation import error_summary
from .runner import CaseRun

__all__ = ["Caller", "import_target"]


def import_target(target):
    """The function named by ``MODULE:FUNCTION``, imported from the current folder or PYTHONPATH.

    Examples
    --------
    >>> import_target("refups.testing:reference_implementation").__name__
    'reference_implementation'
    >>> import_target("refups")
    Traceback (most recent call last):
    ...
    ValueError: MODULE:FUNCTION must name a module and a function, as in mine:upsample; got 'refups'
    """
    module_name, _, function_name = str(target).partition(":")
    if not module_name or not function_name:
        raise ValueError(f"MODULE:FUNCTION must name a module and a function, as in mine:upsample; "
                         f"got {target!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # ImportError, SyntaxError, or whatever the module raises at import
        raise ValueError(f"cannot import module {module_name!r} ({error_summary(error)})") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"module {module_name!r} has no function {function_name!r}")
    return function


def _serve(target, cwd, connection):
    """The worker: import the candidate once, then answer one request per case."""
    os.chdir(cwd)
    try:
        function = import_target(target)
    except Exception as error:  # reported on the first case, and the worker ends
        connection.send(("error", f"cannot import the candidate ({error_summary(error)})"))
        return
    connection.send(("ready", ""))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        latents, params, config = request
        try:
            result = function(latents, params, config)
            if hasattr(result, "detach") and hasattr(result, "cpu"):  # a torch tensor
                result = result.detach().cpu().numpy()
            output = np.asarray(result)
            if output.dtype == object:
                raise TypeError("the candidate returned something that is not an array of numbers")
            connection.send(("ok", output))
        except Exception as error:  # whatever the candidate raises fails its case only
            connection.send(("error", f"the function raised {error_summary(error)}"))


class Caller:
    """One worker process running ``MODULE:FUNCTION`` on case after case; use as a context manager.

    Examples
    --------
    >>> from refups.suite import default_suite_path
    >>> with Caller("refups.testing:reference_implementation") as caller:
    ...     run, output = caller.call(default_suite_path() / "odd_7x5", timeout=60)
    >>> run.ok, output.shape
    (True, (1, 3, 7, 5))
    """

    def __init__(self, target):
        self.target = str(target)
        self._context = multiprocessing.get_context("spawn")  # no fork: the parent may hold threads
        self._process = self._connection = None
        self._broken = ""  # why the candidate cannot be imported, once known

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _start(self):
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(self.target, os.getcwd(), child), daemon=True)
        self._process.start()
        child.close()
        self._connection = parent

    def close(self):
        """Stop the worker (it is started again by the next call)."""
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join()
            self._connection.close()
        self._process = self._connection = None

    def _receive(self, timeout):
        if not self._connection.poll(timeout):
            raise TimeoutError
        return self._connection.recv()

    def call(self, case_dir, *, timeout, dtype=None):
        """``(CaseRun, output or None)`` for one case folder; the worker's start-up time is not counted."""
        from .suite import load_case

        latents, params, config = load_case(case_dir)  # a problem of the suite, not of the candidate
        if dtype is not None:
            latents = [y.astype(dtype) for y in latents]
        start, started = time.monotonic(), self._process is not None
        if self._broken:
            return CaseRun(False, self._broken, 0.0, ""), None
        try:
            if self._process is None:
                self._start()
                kind, message = self._receive(max(timeout, 600.0))  # importing torch may take a while
                if kind != "ready":
                    self.close()
                    self._broken = message
                    return CaseRun(False, message, 0.0, ""), None
                started = True
            start = time.monotonic()
            self._connection.send((latents, params, config))
            kind, value = self._receive(timeout)
        except TimeoutError:
            if not started:  # the import itself never finished: it will not on the next case either
                self._broken = f"importing the candidate took more than {max(timeout, 600.0):g} s"
                self.close()
                return CaseRun(False, self._broken, time.monotonic() - start, ""), None
            self.close()
            return CaseRun(False, f"the function timed out after {timeout:g} s", time.monotonic() - start, ""), None
        except (EOFError, OSError, BrokenPipeError):
            if self._process is not None:
                self._process.join(10)  # its exit code, once it is gone
            code = self._process.exitcode if self._process is not None else None
            self.close()
            how = f"died with exit code {code}" if code is not None and code >= 0 else \
                f"was killed by signal {-code}" if code is not None else "died"
            return CaseRun(False, f"the worker process {how}", time.monotonic() - start, ""), None
        seconds = time.monotonic() - start
        if kind == "ok":
            return CaseRun(True, "", seconds, ""), value
        return CaseRun(False, value, seconds, ""), None
