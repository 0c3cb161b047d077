"""Reading and writing arrays and parameters in language-neutral formats.

Arrays are ``.npy`` files, format 1.0, little-endian, C order, never pickled,
so that C/C++ (cnpy), Rust (ndarray-npy) and JavaScript (npyjs) read them
without NumPy. Parameters are JSON under Cool-chic's names (SPEC S8), each
value written both as the shortest decimal that round-trips exactly and as
its IEEE-754 hex pattern. Every write is atomic: a temporary file in the same
folder, then :func:`os.replace`.

Problems with a file raise :class:`FileError`, a ValueError whose one-line
message starts with the file's path.
"""

import contextlib
import hashlib
import json
import os
import pathlib
import tempfile
from collections import OrderedDict

import numpy as np

__all__ = [
    "FileError",
    "atomic_path",
    "load_npy",
    "load_params",
    "params_from_json",
    "params_to_json",
    "save_npy",
    "sha256",
    "write_json",
]

PARAMS_FORMAT = "refups-params/1"


class FileError(ValueError):
    """A file that is missing, unreadable or holds the wrong thing: ``"<path>: <problem>"``.

    Examples
    --------
    >>> str(FileError("a.npy", "no such file"))
    'a.npy: no such file'
    """

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    Examples
    --------
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield pathlib.Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_npy(path, array):
    """Write ``array`` as a canonical ``.npy``: format 1.0, little-endian, C order, no pickle.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
    >>> save_npy(path, np.arange(3.0).astype(">f8"))
    >>> list(path.read_bytes()[6:8]), load_npy(path).dtype.str   # version 1.0
    ([1, 0], '<f8')
    """
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"array must have a real dtype; got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.lib.format.write_array(handle, array, version=(1, 0), allow_pickle=False)


def load_npy(path):
    """Read a numeric ``.npy`` file, or raise :class:`FileError` saying what is wrong.

    Examples
    --------
    >>> load_npy("missing.npy")
    Traceback (most recent call last):
    ...
    refups.io.FileError: missing.npy: no such file
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileError(path, "no such file")
    with open(path, "rb") as handle:
        magic = handle.read(6)
        if magic[:2] == b"PK":
            raise FileError(path, "is an .npz archive; expected a single .npy array")
        if magic != b"\x93NUMPY":
            raise FileError(path, "is not a valid .npy file (it does not start with the .npy magic bytes)")
        handle.seek(0)
        try:
            array = np.lib.format.read_array(handle, allow_pickle=False)
        except ValueError as error:
            if "allow_pickle" in str(error):
                raise FileError(path, "holds pickled objects, which refups never loads") from None
            raise FileError(path, f"is not a valid .npy file ({error})") from None
        except (OSError, EOFError) as error:
            raise FileError(path, f"is not a valid .npy file ({error})") from None
    if array.dtype.kind not in "biuf":
        raise FileError(path, f"must hold real numbers; got dtype {array.dtype}")
    return array


def sha256(path):
    """Hex SHA-256 of a file's bytes.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "empty"
    >>> _ = path.write_bytes(b"")
    >>> sha256(path)[:16]
    'e3b0c44298fc1c14'
    """
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def write_json(path, data):
    """Write ``data`` as indented JSON, atomically; NaN and infinities are refused.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> write_json(path, {"a": [1, 2]})
    >>> json.loads(path.read_text())
    {'a': [1, 2]}
    """
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")


def params_to_json(params):
    """Parameters as a JSON-ready dict: shapes, round-tripping decimals, hex bit patterns.

    Examples
    --------
    >>> params_to_json({"conv2ds.0.bias": np.array([0.1])})["params"]["conv2ds.0.bias"]
    {'shape': [1], 'values': [0.1], 'hex': ['0x1.999999999999ap-4']}
    """
    out = OrderedDict()
    for name, value in params.items():
        value = np.asarray(value, dtype=np.float64)
        flat = [float(v) for v in value.ravel()]
        out[name] = {"shape": list(value.shape), "values": flat, "hex": [v.hex() for v in flat]}
    return {"format": PARAMS_FORMAT, "params": out}


def params_from_json(data, source="params"):
    """Inverse of :func:`params_to_json`; also takes a plain ``{name: [values]}`` mapping.

    When both are given, the hex pattern is authoritative and must match the decimal.

    Examples
    --------
    >>> dict(params_from_json({"conv2ds.0.bias": [0.5]}))
    {'conv2ds.0.bias': array([0.5])}
    >>> bool(params_from_json(params_to_json({"b": np.array([0.1])}))["b"][0] == 0.1)
    True
    """
    if not isinstance(data, dict):
        raise FileError(source, f"must hold a JSON object; got {type(data).__name__}")
    entries = data.get("params", data) if data.get("format") == PARAMS_FORMAT else data
    params = OrderedDict()
    for name, entry in entries.items():
        if isinstance(entry, dict):
            if "hex" in entry:
                try:
                    values = [float.fromhex(v) for v in entry["hex"]]
                except (TypeError, ValueError):
                    raise FileError(source, f"{name}: hex values must be float.hex() strings") from None
                if "values" in entry and values != [float(v) for v in entry["values"]]:
                    raise FileError(source, f"{name}: decimal values disagree with their hex patterns")
            else:
                values = entry.get("values")
            shape = entry.get("shape", [len(values)] if isinstance(values, list) else None)
        else:
            values, shape = entry, None
        try:
            array = np.asarray(values, dtype=np.float64)
            if shape is not None:
                array = array.reshape(shape)
        except (TypeError, ValueError) as error:
            raise FileError(source, f"{name}: not an array of numbers ({error})") from None
        params[name] = array
    return params


def load_params(path):
    """Read parameters named as in Cool-chic's ``get_param()`` (SPEC S8).

    ``.json`` (see :func:`params_to_json`, or ``{name: [values]}``), ``.npz``
    (one array per name, no pickles) or, when torch is installed, a PyTorch
    ``.pt``/``.pth`` state dict loaded with ``weights_only=True``.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "p.npz"
    >>> np.savez(path, **{"conv2ds.0.bias": np.zeros(1)})
    >>> dict(load_params(path))
    {'conv2ds.0.bias': array([0.])}
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileError(path, "no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise FileError(path, f"is not valid JSON ({error})") from None
        return params_from_json(data, path)
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return OrderedDict((name, archive[name]) for name in archive.files)
        except ValueError as error:
            if "pickle" in str(error).lower():
                raise FileError(path, "holds pickled objects, which refups never loads") from None
            raise FileError(path, f"is not a valid .npz archive ({error})") from None
        except (OSError, EOFError) as error:
            raise FileError(path, f"is not a valid .npz archive ({error})") from None
    if suffix in (".pt", ".pth"):
        try:
            import torch
        except ImportError:
            raise FileError(path, "reading a PyTorch state dict needs torch installed") from None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many types for bad files
            raise FileError(path, f"is not a loadable weights-only state dict ({error})") from None
        if not isinstance(state, dict):
            raise FileError(path, f"must hold a state dict; got {type(state).__name__}")
        return OrderedDict((name, value.detach().double().numpy()) for name, value in state.items())
    raise FileError(path, f"must end in .json, .npz or .pt; got '{path.suffix}'")
