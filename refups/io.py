"""Reading arrays and parameters from untrusted files in language-neutral formats.

Arrays are ``.npy`` files, format 1.0, little-endian, C order, never pickled,
so that C/C++ (cnpy), Rust (ndarray-npy) and JavaScript (npyjs) read them
without NumPy. Parameters are JSON under Cool-chic's names (spec S8), each
value written both as the shortest decimal that round-trips exactly and as
its IEEE-754 hex pattern.

Every file refups reads (``.npy``, ``.npz``, ``.json``, ``.pt``, the suite's
``manifest.json``) is read here, and nothing in it is trusted: the file must
be a regular file; its structure, types, sizes and counts are checked against
:mod:`refups.limits` before anything is allocated; a ``.npy`` header must
describe exactly the bytes that follow it; JSON nests at most 64 levels and
holds only finite numbers. Problems raise :class:`FileError`, a ValueError
whose one-line message starts with the file's path and names the entry.

Writing is in :mod:`refups.output`.
"""

import ast
import hashlib
import json
import math
import os
import pathlib
import re
import stat
import sys
import tempfile  # noqa: F401 (the doctests use it)
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from . import limits
from ._validation import REAL_KINDS

__all__ = [
    "FileError",
    "check_param_layout",
    "config_from_params",
    "load_latents",
    "load_npy",
    "load_params",
    "params_from_json",
    "params_to_json",
    "read_json",
    "sha256",
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


def _show(text, limit=80):
    """``text`` fit for a one-line message: control characters escaped, long text cut."""
    text = str(text)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[:limit] + "..."


# -- opening files --------------------------------------------------------------------

_KINDS = {stat.S_IFREG: "a regular file", stat.S_IFDIR: "a folder", stat.S_IFLNK: "a symbolic link",
          stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}


def _kind(mode):
    return _KINDS.get(stat.S_IFMT(mode), "a special file")


def _open_regular(path):
    """``(binary file object, size)`` of ``path``, refused unless it is a regular file.

    Opening never blocks: a FIFO or a device is refused from its ``fstat``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise FileError(path, "no such file") from None
    except OSError as error:
        raise FileError(path, f"cannot be read ({error.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise FileError(path, f"is {_kind(info.st_mode)}, not a regular file")
    return os.fdopen(fd, "rb"), info.st_size


def sha256(path):
    """Hex SHA-256 of a file's bytes, read in blocks.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "empty"
    >>> _ = path.write_bytes(b"")
    >>> sha256(path)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    handle, _ = _open_regular(path)
    with handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- .npy and .npz --------------------------------------------------------------------

_NPY_MAGIC = b"\x93NUMPY"

def _npy_header(header, fail):
    """``(shape, fortran_order, dtype)`` from the text of a ``.npy`` header, checked."""
    try:
        fields = ast.literal_eval(header)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        fail("is not a valid .npy file: its header is not a Python literal")
    if not isinstance(fields, dict) or set(fields) != {"descr", "fortran_order", "shape"}:
        fail("is not a valid .npy file: its header must be a dict with the keys "
             "'descr', 'fortran_order' and 'shape'")
    shape, fortran, descr = fields["shape"], fields["fortran_order"], fields["descr"]
    if (not isinstance(shape, tuple) or len(shape) > 64
            or not all(type(n) is int and n >= 0 for n in shape)):
        fail(f"is not a valid .npy file: its shape must be a tuple of at most 64 integers >= 0; "
             f"got {_show(shape)}")
    if not isinstance(fortran, bool):
        fail(f"is not a valid .npy file: fortran_order must be True or False; got {_show(fortran)}")
    if not isinstance(descr, str):
        fail("must hold real numbers; got a structured dtype")
    try:
        dtype = np.dtype(descr)
    except (TypeError, ValueError, SyntaxError):
        fail(f"is not a valid .npy file: unknown dtype {_show(descr)!r}")
    if dtype.hasobject:
        fail("holds pickled objects, which refups never loads")
    if dtype.kind not in REAL_KINDS:
        fail(f"must hold real numbers; got dtype {_show(dtype)}")
    return shape, fortran, dtype


def _read_npy(handle, size, path, member=None):
    """Read one ``.npy`` of ``size`` bytes from ``handle``; allocate only once it adds up."""

    def fail(problem):
        raise FileError(path, problem if member is None else f"{problem} (member {_show(member)!r})")

    prefix = handle.read(8)
    if prefix[:2] == b"PK":
        fail("is an .npz archive; expected a single .npy array")
    if prefix[:6] != _NPY_MAGIC:
        fail("is not a valid .npy file: it does not start with the .npy magic bytes")
    version = prefix[6:]
    if version not in (b"\x01\x00", b"\x02\x00", b"\x03\x00"):
        fail(f"is not a valid .npy file: unknown format version {'.'.join(map(str, version))}")
    width = 2 if version[0] == 1 else 4
    length = int.from_bytes(handle.read(width), "little")
    if length > limits.MAX_NPY_HEADER:
        fail(f"has a .npy header of {length} bytes, over the limit of {limits.MAX_NPY_HEADER} "
             f"(refups.limits.MAX_NPY_HEADER, NumPy's max_header_size)")
    start = 8 + width
    header = handle.read(length)
    if len(header) != length:
        fail("is not a valid .npy file: it ends inside its header")
    try:
        text = header.decode("utf-8" if version[0] == 3 else "latin-1")
    except UnicodeDecodeError:
        fail("is not a valid .npy file: its header is not UTF-8")
    shape, fortran, dtype = _npy_header(text, fail)
    nbytes = math.prod(shape) * dtype.itemsize
    data = size - start - length
    if data != nbytes:
        fail(f"is not a valid .npy file: its header describes shape {shape} of {dtype} "
             f"({format(nbytes, ',')} bytes), but {data} bytes follow it")
    try:
        limits.check_allocation(nbytes, f"shape {shape} of {dtype}")
    except ValueError as error:
        fail(f"holds an array too large to load: {error}")
    buffer = bytearray(nbytes)
    if handle.readinto(buffer) != nbytes:
        fail("is not a valid .npy file: it is shorter than its header says (changed while read?)")
    return np.frombuffer(buffer, dtype).reshape(shape, order="F" if fortran else "C")




def load_npy(path):
    """Read a numeric ``.npy`` file, or raise :class:`FileError` saying what is wrong.

    The header must describe exactly the bytes that follow it, and those must
    fit :func:`refups.limits.max_bytes`, before anything is allocated.

    Examples
    --------
    >>> load_npy("missing.npy")
    Traceback (most recent call last):
    ...
    refups.io.FileError: missing.npy: no such file
    """
    path = pathlib.Path(path)
    handle, size = _open_regular(path)
    with handle:
        try:
            return _read_npy(handle, size, path)
        except OSError as error:
            raise FileError(path, f"cannot be read ({error.strerror or error})") from None


def _load_npz(path):
    handle, size = _open_regular(path)
    with handle:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise FileError(path, f"is not a valid .npz archive ({_reason(error)})") from None
        with archive:
            members = archive.infolist()
            _check_count(len(members), path)
            try:
                limits.check_allocation(sum(m.file_size for m in members), "its members")
            except ValueError as error:
                raise FileError(path, str(error)) from None
            params = OrderedDict()
            for member in members:
                name = member.filename
                if not name.endswith(".npy"):
                    raise FileError(path, f"holds {_show(name)!r}, which is not an .npy member")
                if name[:-4] in params:
                    raise FileError(path, f"holds the member {_show(name)!r} twice")
                try:
                    with archive.open(member) as stream:
                        params[name[:-4]] = _read_npy(stream, member.file_size, path, name)
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError,
                        NotImplementedError) as error:
                    raise FileError(path, f"is not a valid .npz archive ({_reason(error)}) "
                                          f"(member {_show(name)!r})") from None
    return params


# -- JSON -----------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


class _JSONProblem(ValueError):
    pass


def _json_depth(text):
    """Deepest nesting of ``[`` and ``{`` in JSON text, strings left out (no recursion)."""
    codes = np.frombuffer(_JSON_STRING.sub('""', text).encode(), np.uint8)
    opening = np.isin(codes, (91, 123))  # [ {
    closing = np.isin(codes, (93, 125))  # ] }
    steps = opening[opening | closing].astype(np.int8) * 2 - 1
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def _json_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _JSONProblem(f"holds the number {_show(text, 40)}, which is out of the float64 range")
    return value


def _json_int(text):
    if not math.isfinite(float(text)):  # so int() never meets thousands of digits
        raise _JSONProblem(f"holds an integer of {len(text.lstrip('-'))} digits, "
                           f"which is out of the float64 range")
    return int(text)


def _json_constant(name):
    raise _JSONProblem(f"holds {name}; numbers must be finite")


def _json_object(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _JSONProblem(f"holds the key {_show(key)!r} twice in one object")
        result[key] = value
    return result


def read_json(path):
    """Parse a JSON file: at most :data:`~refups.limits.MAX_JSON_BYTES`, nested at most
    :data:`~refups.limits.MAX_JSON_DEPTH` levels, finite numbers, no repeated keys.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> _ = path.write_text('{"a": [1, 2.5]}')
    >>> read_json(path)
    {'a': [1, 2.5]}
    >>> _ = path.write_text('[' * 65 + ']' * 65)
    >>> read_json(path)
    Traceback (most recent call last):
    ...
    refups.io.FileError: .../a.json: nests 65 levels deep, more than 64 (refups.limits.MAX_JSON_DEPTH)
    """
    handle, size = _open_regular(path)
    with handle:
        if size > limits.MAX_JSON_BYTES:
            raise FileError(path, f"is {limits.format_bytes(size)}, over the limit of "
                                  f"{limits.format_bytes(limits.MAX_JSON_BYTES)} for JSON "
                                  f"(refups.limits.MAX_JSON_BYTES)")
        raw = handle.read(limits.MAX_JSON_BYTES + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileError(path, f"is not valid JSON (not UTF-8 at byte {error.start})") from None
    depth = _json_depth(text)
    if depth > limits.MAX_JSON_DEPTH:
        raise FileError(path, f"nests {depth} levels deep, more than {limits.MAX_JSON_DEPTH} "
                              f"(refups.limits.MAX_JSON_DEPTH)")
    try:
        return json.loads(text, parse_float=_json_float, parse_int=_json_int,
                          parse_constant=_json_constant, object_pairs_hook=_json_object)
    except _JSONProblem as problem:
        raise FileError(path, str(problem)) from None
    except json.JSONDecodeError as error:
        raise FileError(path, f"is not valid JSON ({error})") from None




# -- parameters -----------------------------------------------------------------------

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


def _json_type(value):
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _is_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) <= sys.float_info.max  # False for NaN, infinities and huge integers


def _describe(value):
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return "an object" if isinstance(value, dict) else _show(repr(value), 40)


def _numbers(values, name):
    """``values`` (a number or nested lists of them) as float64, or a ValueError naming ``name``."""
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif not _is_number(item):
            raise ValueError(f"{name}: values must be finite numbers; got {_describe(item)}")
    try:
        return np.asarray(values, dtype=np.float64)
    except ValueError:
        raise ValueError(f"{name}: values must form a rectangular array") from None


def _json_param(entry, name):
    if not isinstance(entry, dict):
        return _numbers(entry, name)
    if "hex" in entry:
        patterns = entry["hex"]
        if not isinstance(patterns, list) or not all(isinstance(v, str) for v in patterns):
            raise ValueError(f"{name}: 'hex' must be a list of float.hex() strings")
        try:
            values = [float.fromhex(v) for v in patterns]
        except (ValueError, OverflowError):
            raise ValueError(f"{name}: 'hex' must be a list of float.hex() strings") from None
        array = _numbers(values, name)
        if "values" in entry and not np.array_equal(np.ravel(_numbers(entry["values"], name)), array):
            raise ValueError(f"{name}: decimal values disagree with their hex patterns")
    elif "values" in entry:
        array = _numbers(entry["values"], name)
    else:
        raise ValueError(f"{name}: an entry needs 'values' or 'hex'; got keys {sorted(entry)}")
    shape = entry.get("shape", list(array.shape))
    if (not isinstance(shape, list) or len(shape) > 32
            or not all(type(n) is int and n >= 0 for n in shape)):
        raise ValueError(f"{name}: 'shape' must be a list of integers >= 0; got {_show(shape, 40)}")
    if math.prod(shape) != array.size:
        raise ValueError(f"{name}: 'shape' {shape} needs {math.prod(shape)} values; got {array.size}")
    return array.reshape(shape)


def params_from_json(data, source="params"):
    """Inverse of :func:`params_to_json`; also takes a plain ``{name: [values]}`` mapping.

    When both are given, the hex pattern is authoritative and must match the
    decimal. Values must be finite numbers (not strings, booleans or null).

    Examples
    --------
    >>> dict(params_from_json({"conv2ds.0.bias": [0.5]}))
    {'conv2ds.0.bias': array([0.5])}
    >>> bool(params_from_json(params_to_json({"b": np.array([0.1])}))["b"][0] == 0.1)
    True
    >>> params_from_json({"b": {"shape": [1]}}, "p.json")
    Traceback (most recent call last):
    ...
    refups.io.FileError: p.json: b: an entry needs 'values' or 'hex'; got keys ['shape']
    """
    if not isinstance(data, dict):
        raise FileError(source, f"must hold a JSON object; got {_json_type(data)}")
    entries = data
    if "format" in data:
        if data["format"] != PARAMS_FORMAT:
            raise FileError(source, f"has format {_show(data['format'], 40)!r}; "
                                    f"this refups reads {PARAMS_FORMAT!r}")
        entries = data.get("params")
        if not isinstance(entries, dict):
            raise FileError(source, f"'params' must be an object mapping names to values; "
                                    f"got {_json_type(entries)}")
    _check_count(len(entries), source)
    params = OrderedDict()
    for name, entry in entries.items():
        try:
            params[name] = _json_param(entry, _show(name))
        except ValueError as error:
            raise FileError(source, str(error)) from None
    return params


def _check_count(n, path):
    if n > limits.MAX_PARAMETERS:
        raise FileError(path, f"holds {n} parameters, over the limit of {limits.MAX_PARAMETERS} "
                              f"(refups.limits.MAX_PARAMETERS)")


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def _reason(error):
    """The first sentence of an error from zipfile or torch, without terminal escapes or line breaks."""
    text = _ANSI_ESCAPE.sub("", str(error)).split("WeightsUnpickler error:")[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(error).__name__]
    sentence = re.match(r".*?[.!?](?=\s|$)", lines[0])
    return _show(sentence.group() if sentence else lines[0], 200)


def _load_pt(path):
    handle, size = _open_regular(path)  # a missing file says so, torch or not
    with handle:
        try:
            import torch
        except ImportError:
            raise FileError(path, "reading a PyTorch state dict needs torch installed "
                                  "(python -m pip install torch)") from None
        try:
            limits.check_allocation(size, "its tensors")
        except ValueError as error:
            raise FileError(path, str(error)) from None
        try:
            state = torch.load(handle, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many types for bad files
            raise FileError(path, f"is not a loadable weights-only state dict "
                                  f"({_reason(error)})") from None
    if not isinstance(state, dict):
        raise FileError(path, f"must hold a state dict (names to tensors); got {type(state).__name__}")
    _check_count(len(state), path)
    params = OrderedDict()
    for name, value in state.items():
        if not isinstance(name, str):
            raise FileError(path, f"entry {_show(repr(name))} must have a string name; "
                                  f"got {type(name).__name__}")
        if not isinstance(value, torch.Tensor):
            hint = (" (a whole checkpoint? save its state dict on its own)"
                    if isinstance(value, dict) else "")
            raise FileError(path, f"{_show(name)}: must be a tensor; got {type(value).__name__}{hint}")
        if value.is_complex():
            raise FileError(path, f"{_show(name)}: must hold real numbers; got {value.dtype}")
        try:
            params[name] = value.detach().to(torch.float64).numpy()
        except (RuntimeError, TypeError, ValueError, NotImplementedError) as error:
            raise FileError(path, f"{_show(name)}: cannot be read as an array "
                                  f"({_reason(error)})") from None
    return params


def load_params(path):
    """Read parameters named as in Cool-chic's ``get_param()`` (spec S8).

    ``.json`` (see :func:`params_to_json`, or ``{name: [values]}``), ``.npz``
    (one array per name, no pickles) or, when torch is installed, a PyTorch
    ``.pt``/``.pth`` state dict loaded with ``weights_only=True``; real
    tensors only, at most :data:`~refups.limits.MAX_PARAMETERS` entries.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "p.npz"
    >>> np.savez(path, **{"conv2ds.0.bias": np.zeros(1)})
    >>> dict(load_params(path))
    {'conv2ds.0.bias': array([0.])}
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return params_from_json(read_json(path), path)
    if suffix == ".npz":
        return _load_npz(path)
    if suffix in (".pt", ".pth"):
        return _load_pt(path)
    if not path.exists():
        raise FileError(path, "no such file")
    raise FileError(path, f"must end in .json, .npz or .pt; got '{_show(path.suffix)}'")


_COOL_CHIC_NAME = re.compile(r"(conv_transpose2ds|conv2ds)\.([0-9]+)\.(bias|parametrizations\.weight\.original)")


def check_param_layout(params, source):
    """Check the filter indices and half-kernel lengths of Cool-chic parameter names.

    For each kind (``conv_transpose2ds``, ``conv2ds``) the indices must run
    0, 1, 2, ... without gaps, below :data:`~refups.limits.MAX_FILTERS`; every
    half-kernel must fit a kernel of at most
    :data:`~refups.limits.MAX_KERNEL_SIZE`. Other names are left to
    :meth:`refups.Upsampling.set_param`.

    Examples
    --------
    >>> check_param_layout({"conv2ds.0.bias": [0.0], "conv2ds.2.bias": [0.0]}, "p.json")
    Traceback (most recent call last):
    ...
    refups.io.FileError: p.json: conv2ds.2.bias: conv2ds indices must run 0, 1, 2, ... without gaps; 1 is missing
    """
    found = {"conv_transpose2ds": {}, "conv2ds": {}}
    for name, value in params.items():
        match = _COOL_CHIC_NAME.fullmatch(name)
        if match is None:
            continue
        kind, digits, what = match.groups()
        if len(digits) > len(str(limits.MAX_FILTERS)) or int(digits) >= limits.MAX_FILTERS:
            raise FileError(source, f"{_show(name)}: filter index {_show(digits, 20)} is over the limit "
                                    f"of {limits.MAX_FILTERS} filters (refups.limits.MAX_FILTERS)")
        found[kind].setdefault(int(digits), name)
        n, longest = int(np.size(value)), limits.MAX_KERNEL_SIZE // 2
        if what != "bias" and n > longest:
            raise FileError(source, f"{name}: a half-kernel of {n} values is over the limit of "
                                    f"{longest} (kernel sizes up to {limits.MAX_KERNEL_SIZE}, "
                                    f"refups.limits.MAX_KERNEL_SIZE)")
    for kind, indices in found.items():
        for expected, index in enumerate(sorted(indices)):
            if index != expected:
                raise FileError(source, f"{indices[index]}: {kind} indices must run 0, 1, 2, ... "
                                        f"without gaps; {expected} is missing")


def config_from_params(params, ups_k_size=None, ups_preconcat_k_size=None):
    """``(ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel)``
    read from parameter names and half-kernel lengths (S1, S8); explicit sizes win.

    Biases play no part, so a parameter set without them gives the same
    configuration. Without any weight of a kind, its count is 0 and its size
    Cool-chic's default (8 and 7).

    Examples
    --------
    >>> config_from_params({"conv2ds.0.parametrizations.weight.original": [0.0, 1.0]})
    (8, 3, 0, 1)
    """
    counts, sizes = {}, {}
    for name, value in params.items():
        match = re.fullmatch(r"(conv_transpose2ds|conv2ds)\.(\d+)\.parametrizations\.weight\.original", name)
        if match:
            kind = match.group(1)
            counts[kind] = max(counts.get(kind, 0), int(match.group(2)) + 1)
            n = int(np.size(value))
            sizes.setdefault(kind, 2 * n if kind == "conv_transpose2ds" else 2 * n - 1)
    ups = ups_k_size if ups_k_size is not None else sizes.get("conv_transpose2ds", 8)
    pre = ups_preconcat_k_size if ups_preconcat_k_size is not None else sizes.get("conv2ds", 7)
    return ups, pre, counts.get("conv_transpose2ds", 0), counts.get("conv2ds", 0)


_LEVEL_NAME = re.compile(r"(?:level|latent|arr)_([0-9]+)")


def load_latents(paths):
    """A latent pyramid, level 0 first: one ``.npy`` file per level, or one ``.npz`` archive.

    The members of an ``.npz`` are named ``level_<i>``, ``latent_<i>`` or
    ``arr_<i>`` (what ``np.savez(path, *levels)`` writes), ``i`` running 0,
    1, 2, ... without gaps; ``i = 0`` is the finest level.

    Examples
    --------
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "y.npz"
    >>> np.savez(path, np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2)))
    >>> [y.shape for y in load_latents([path])]
    [(1, 1, 4, 4), (1, 1, 2, 2)]
    """
    paths = [pathlib.Path(path) for path in paths]
    if len(paths) != 1 or paths[0].suffix.lower() != ".npz":
        for path in paths:
            if path.suffix.lower() == ".npz":
                raise FileError(path, "an .npz holds the whole pyramid: give it alone, or one .npy per level")
        return [load_npy(path) for path in paths]
    path = paths[0]
    members = _load_npz(path)
    levels = {}
    for name, array in members.items():
        match = _LEVEL_NAME.fullmatch(name)
        if match is None:
            raise FileError(path, f"holds {_show(name)!r}; levels must be named level_<i>, latent_<i> or "
                                  "arr_<i>, level 0 finest")
        levels[int(match.group(1))] = array
    if not levels:
        raise FileError(path, "holds no level")
    for expected, index in enumerate(sorted(levels)):
        if index != expected:
            raise FileError(path, f"level indices must run 0, 1, 2, ... without gaps; {expected} is missing")
    if len(set(members)) != len(levels) or len(levels) != len(members):
        raise FileError(path, "holds the same level under two names")
    return [levels[i] for i in range(len(levels))]
