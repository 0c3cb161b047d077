"""Writing files safely: atomic replacement, folder replacement, cleanup on signals.

Every write replaces nothing but a regular file (or nothing): it goes to a
temporary file in the same folder, created with the modes the umask allows,
then :func:`os.replace` moves it into place, so a crash never leaves a
half-written file. A suite folder is written beside its destination and
renamed into place the same way (:func:`folder_writer`), one writer at a
time. :func:`interruptible` turns SIGINT and SIGTERM into an exception, so
that temporary files and folders are removed on the way out.
"""

import contextlib
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import stat
import tempfile  # noqa: F401 (the doctests use it)
import threading

import numpy as np

from ._validation import REAL_KINDS
from .io import FileError, _kind

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, concurrent writers are not detected
    fcntl = None

__all__ = ["Interrupted", "atomic_path", "check_output", "folder_writer", "interruptible", "save_npy",
           "write_json"]


def save_npy(path, array):
    """Write ``array`` as a canonical ``.npy``: format 1.0, little-endian, C order, no pickle.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
    >>> save_npy(path, np.arange(3.0).astype(">f8"))
    >>> list(path.read_bytes()[6:8]), np.load(path).dtype.str   # version 1.0
    ([1, 0], '<f8')
    """
    array = np.asarray(array)
    if array.dtype.kind not in REAL_KINDS:
        raise TypeError(f"array must have a real dtype; got dtype {array.dtype}")
    array = array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)  # keeps 0-d arrays 0-d
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, np.lib.format.header_data_from_array_1_0(array))
        # Plain Python writes, not ndarray.tofile: a signal arriving during tofile can surface
        # as an unrelated TypeError instead of the exception its handler raises.
        handle.write(array.reshape(-1).view(np.uint8))


def write_json(path, data):
    """Write ``data`` as indented JSON, atomically; NaN and infinities are refused.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> write_json(path, {"a": [1, 2]})
    >>> json.loads(path.read_text())
    {'a': [1, 2]}
    """
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def check_output(path):
    """Raise :class:`FileError` unless ``path`` is nothing or a regular file, in a folder.

    refups never replaces a folder, a link, a device, a FIFO or a socket.

    Examples
    --------
    >>> check_output(pathlib.Path(tempfile.mkdtemp()))
    Traceback (most recent call last):
    ...
    refups.io.FileError: ...: is a folder; refups only replaces regular files
    """
    path = pathlib.Path(path)
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = stat.S_IFREG  # nothing there yet
    if not stat.S_ISREG(mode):
        raise FileError(path, f"is {_kind(mode)}; refups only replaces regular files")
    if not path.parent.is_dir():
        raise FileError(path, f"cannot be written: no folder {path.parent}")


def _beside(path, suffix):
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}{suffix}")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    ``path`` must be nothing or a regular file (:func:`check_output`); the
    temporary file gets the modes the umask allows, as ``open`` would give.

    Examples
    --------
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = pathlib.Path(path)
    check_output(path)
    tmp = _beside(path, ".tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        check_output(path)  # again: it may have changed while the file was written
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _check_folder_target(out):
    try:
        mode = os.lstat(out).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(mode):
        raise FileError(out, f"is {_kind(mode)}; refups only replaces folders")
    return True


_STALE = r"\.{name}(\.[0-9a-f]{{16}})?\.(old|tmp)"


@contextlib.contextmanager
def folder_writer(out, *, force=False):
    """Yield a new temporary folder beside ``out``; on success it replaces ``out``.

    ``out`` must be nothing, an empty folder, or (with ``force``) a folder;
    links and other files are refused. One writer at a time per parent
    folder: a second one fails at once. Leftovers of writers that were killed
    are removed first. Folders get the modes the umask allows.

    Examples
    --------
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "suite"
    >>> with folder_writer(out) as tmp:
    ...     _ = (tmp / "a.txt").write_text("a")
    >>> [p.name for p in out.iterdir()]
    ['a.txt']
    """
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _parent_lock(out):
        if _check_folder_target(out) and not force and any(out.iterdir()):
            raise FileError(out, "is not empty; pass --force to replace it")
        stale = re.compile(_STALE.format(name=re.escape(out.name)))
        for leftover in out.parent.iterdir():
            if stale.fullmatch(leftover.name) and leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
        tmp = _beside(out, ".tmp")
        os.mkdir(tmp, 0o777)
        try:
            yield tmp
            if _check_folder_target(out):  # again, under the lock
                old = _beside(out, ".old")
                os.rename(out, old)
                try:
                    os.rename(tmp, out)
                except BaseException:
                    os.rename(old, out)
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _parent_lock(out):
    if fcntl is None:
        yield
        return
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileError(out, f"another refups run is writing in {out.parent}; "
                                 f"try again when it has finished") from None
        yield
    finally:
        os.close(fd)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived inside :func:`interruptible`; ``status`` is 128 + signal number."""

    def __init__(self, signum):
        self.name = signal.Signals(signum).name
        self.status = 128 + signum
        super().__init__(f"interrupted by {self.name}")


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def interruptible():
    """Turn SIGINT and SIGTERM into :class:`Interrupted` while the block runs.

    ``finally`` clauses then remove temporary files and folders; further
    signals are ignored until the block has exited, so that cleanup is never
    cut short. Outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for other in _SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in _SIGNALS}
    try:
        yield
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)
