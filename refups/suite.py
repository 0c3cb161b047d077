"""The golden suite on disk: generation, the manifest, ``case.txt``, and loading.

A suite is a folder with ``manifest.json``, ``manifest.schema.json`` and one
folder per case (the layout is documented in ``data/README.md``)::

    <case id>/case.txt                               configuration and file list, line based
    <case id>/latent_0.npy ... latent_{L-1}.npy      inputs, float64, (B, C_i, H_i, W_i)
    <case id>/params.json                            parameters, Cool-chic names (S8)
    <case id>/param.<name>.npy                       the same parameters as arrays
    <case id>/transition_<idx>.upsampled.npy         expected intermediates, idx 0 coarsest
    <case id>/transition_<idx>.prefiltered.npy
    <case id>/output.npy                             expected dense tensor
    <case id>/<stage>.f32.npy                        every expected stage, float32

Expected values are the exact results (:mod:`refups.exact`), each rounded
once, correctly, to float64 (``<stage>.npy``) and to float32
(``<stage>.f32.npy``): they depend on no summation order. Each case's data
depend on :data:`SUITE_SEED` and the case id only: regenerating gives the
same bytes.
Loading trusts nothing: every case id and file name is checked against the
manifest's rules and must resolve inside the suite folder.
"""

import dataclasses
import hashlib
import importlib.resources
import json
import math
import pathlib
import re
import tempfile  # noqa: F401 (the doctests use it)
import zlib
from collections import OrderedDict

import numpy as np

from . import __version__
from .cases import CASES
from .exact import upsampling_exact_rounded
from .flags import FLAGS
from .io import FileError, _open_regular, _show, load_npy, load_params, params_to_json, read_json, sha256
from .output import folder_writer, save_npy, write_json
from .kernels import half_kernel_size, initial_preconcat_half_kernel, initial_ups_half_kernel
from .profiles import PROFILES
from .realdata import REAL_MODELS, real_model, window
from .upsampling import Upsampling
from .versions import EMPTY_LEVELS

__all__ = ["CASE_TEXT_FORMAT", "FORMAT_VERSION", "SUITE_SEED", "build_case", "case_arrays", "case_text",
           "default_suite_path", "generate_suite", "load_case", "load_suite", "schema", "write_case", "write_suite"]

#: Version of the suite layout and manifest that this refups writes. Version 3 added each
#: case's ``expected`` (``"exact"`` or ``"float64"``) and ``source``; version 4 its
#: ``empty_levels``, the Cool-chic release line its expected values follow (S6.8).
FORMAT_VERSION = 4

#: The versions this refups reads; any other manifest is refused before anything else is read.
#: A version 2 case has exact expected values; a version 2 or 3 case follows the current
#: release line (``empty_levels`` ``"stop"``).
READ_FORMAT_VERSIONS = (2, 3, 4)

#: First line of every ``case.txt``.
CASE_TEXT_FORMAT = "refups-case 1"

#: Seed of every random draw in the suite; changing it changes all the data.
SUITE_SEED = 20261125

#: The modules whose code determines the suite (hashed into the manifest).
GENERATOR_SOURCES = ("_validation.py", "cases.py", "exact.py", "flags.py", "io.py", "kernels.py", "limbs.py",
                     "layers.py", "ops.py", "output.py", "profiles.py", "realdata.py", "suite.py",
                     "upsampling.py", "versions.py",
                     *(f"real_models/{name}/{file}" for name in REAL_MODELS
                       for file in ("latents.npz", "params.json")))

TOLERANCE_RULE = "|actual - expected| <= atol + rtol * |expected|"

EXPECTED_VALUES = ("per case (key 'expected'): 'exact', the exact results correctly rounded, to "
                   "float64 in <stage>.npy and to float32 in <stage>.f32.npy; or 'float64', refups' "
                   "float64 separable path (in <stage>.f32.npy rounded to float32), for cases too "
                   "large for the exact oracle, judged with the reference's own error bound added")

#: What case ids and file names may look like: no separators, so nothing leaves the suite.
CASE_ID = re.compile(r"[a-z0-9_]+")
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*\.npy")


# -- drawing a case's data ----------------------------------------------------------

def _rng(case):
    return np.random.default_rng([SUITE_SEED, zlib.crc32(case.id.encode())])


def _initial(name, k):
    return initial_ups_half_kernel(k) if name.startswith("conv_transpose2ds") else initial_preconcat_half_kernel(k)


def _case_params(case, up, rng):
    params = up.get_param()
    for name in params:
        k = up.ups_k_size if name.startswith("conv_transpose2ds") else up.ups_preconcat_k_size
        if name.endswith(".bias"):
            params[name] = rng.uniform(-1, 1, 1) if case.biases else np.zeros(1)
        elif case.params == "random":
            params[name] = rng.uniform(-1, 1, half_kernel_size(k))
        elif case.params == "dyadic":
            params[name] = rng.integers(-4, 5, half_kernel_size(k)) / 8
        elif case.params == "near-initial":
            initial = _initial(name, k)
            params[name] = initial + rng.normal(0, 0.02, initial.shape)
        elif case.params == "quantised":
            # Cool-chic codes each tensor as integers times a step 2**-s.
            initial = _initial(name, k)
            step = 2.0 ** -int(rng.integers(4, 13))
            params[name] = np.round((initial + rng.normal(0, 0.02, initial.shape)) / step) * step
    return params


def _decoded(rng, shape):
    # Integers in [-64, 63], about 80% zeros, as an entropy decoder returns them.
    values = np.clip(np.round(rng.laplace(0, 8, shape)), -64, 63)
    return np.where(rng.random(shape) < 0.8, 0.0, values)


def _extreme(rng, shape):
    values = rng.choice([-1.0, 1.0], shape) * 2.0 ** rng.integers(-60, 61, shape)
    return np.where(rng.random(shape) < 0.2, 0.0, values)


def _case_latents(case, rng):
    if case.values is not None:
        return [np.asarray(v, dtype=np.float64).reshape(s) for v, s in zip(case.values, case.shapes)]
    draw = {
        "normal": lambda shape: rng.standard_normal(shape),
        "integer": lambda shape: rng.integers(-8, 9, shape).astype(np.float64),
        "laplace": lambda shape: np.round(rng.laplace(0, 1, shape)),
        "decoded": lambda shape: _decoded(rng, shape),
        "extreme": lambda shape: _extreme(rng, shape),
        "ones": lambda shape: np.ones(shape),
    }[case.latents]
    return [draw(shape) for shape in case.shapes]


def build_case(case):
    """Inputs, parameters and expected arrays of one case, as an ordered ``{stem: array}``.

    Stems: ``latent_<i>``, ``param.<name>``, ``transition_<idx>.upsampled``,
    ``transition_<idx>.prefiltered``, ``output``.

    Examples
    --------
    >>> from refups.cases import CASES_BY_ID
    >>> arrays = build_case(CASES_BY_ID["s4_worked_example"])
    >>> list(arrays)[:2], arrays["output"][0, 1, 0]
    (['latent_0', 'latent_1'], array([1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ]))
    """
    rng = _rng(case)
    up = Upsampling(*case.config, empty_levels=case.empty_levels)
    if case.real is not None:
        name, top, left = case.real
        model = real_model(name)
        params = OrderedDict(model.params)  # the weights only: a 4.x bitstream has no biases (S8)
        latents = window(model.latents, top, left, *case.shapes[0][2:])
        if [y.shape for y in latents] != list(case.shapes):
            raise RuntimeError(f"case {case.id}: the window has shapes {[y.shape for y in latents]}")
    else:
        params = _case_params(case, up, rng)
        latents = _case_latents(case, rng)
    up.set_param(params)
    arrays = case_arrays(up, latents, params)
    if case.exact:
        # The generator checks its own claim: refups' float32 path gives the same bits.
        if not np.array_equal(up([y.astype(np.float32) for y in latents]), arrays["output"]):
            raise RuntimeError(f"case {case.id} is marked exact but float32 differs")
    return arrays


def case_arrays(up, latents, params, expected="exact"):
    """Inputs, parameters and expected stages of one case, as an ordered ``{stem: array}``.

    ``expected="exact"``: the exact results (:mod:`refups.exact`), each
    rounded once, correctly, to float64 and to float32 (``.f32`` stems).
    ``expected="float64"``: refups' float64 separable path, and its values
    rounded to float32, for inputs too large for the exact oracle.
    """
    if expected == "exact":
        traces = {"": upsampling_exact_rounded(up, latents, np.float64),
                  ".f32": upsampling_exact_rounded(up, latents, np.float32)}
    elif expected == "float64":
        trace = up.train(False).trace([np.asarray(y, dtype=np.float64) for y in latents])
        traces = {"": trace, ".f32": _rounded_trace(trace)}
    else:
        raise ValueError(f"expected must be 'exact' or 'float64'; got {expected!r}")
    arrays = OrderedDict()
    for i, y in enumerate(latents):
        arrays[f"latent_{i}"] = np.asarray(y, dtype=np.float64)  # the layout holds float64 inputs
    for name, value in params.items():
        arrays[f"param.{name}"] = value
    for suffix, trace in traces.items():
        for step in trace.transitions:
            arrays[f"transition_{step.index}.upsampled{suffix}"] = step.upsampled
            arrays[f"transition_{step.index}.prefiltered{suffix}"] = step.prefiltered
        arrays[f"output{suffix}"] = trace.output
    return arrays


def _rounded_trace(trace):
    steps = [dataclasses.replace(step, **{field: getattr(step, field).astype(np.float32)
                                          for field in ("upsampled", "prefiltered", "output")})
             for step in trace.transitions]
    return dataclasses.replace(trace, output=trace.output.astype(np.float32), transitions=steps)


def _role(stem):
    if stem.startswith("latent_"):
        return "input"
    if stem.startswith("param."):
        return "param"
    return "expected_float32" if stem.endswith(".f32") else "expected"


def _tolerances(case, arrays):
    """Per-dtype tolerances: a relative part plus an absolute part scaled by the
    case's largest expected magnitude M (float32 sums of ~100 terms over 6
    transitions stay well within 1e-5 M; float64 within 1e-12 M)."""
    if case.exact:
        return {"float64": {"rtol": 0.0, "atol": 0.0}, "float32": {"rtol": 0.0, "atol": 0.0}}
    M = max([1.0] + [float(np.max(np.abs(a), initial=0.0))
                     for stem, a in arrays.items() if _role(stem) == "expected"])
    return {"float64": {"rtol": 1e-12, "atol": 1e-12 * M},
            "float32": {"rtol": 1e-5, "atol": 1e-5 * M}}


# -- the manifest and case.txt ------------------------------------------------------

def _source(case):
    """Where a case's data come from, for the manifest."""
    if case.real is None:
        return f"made up by refups: drawn with seed {SUITE_SEED} and the case id (refups.suite)"
    name, top, left = case.real
    meta = real_model(name).meta
    origin, (H, W) = meta["source"], case.shapes[0][2:]
    return (f"real: Cool-chic's sample bitstream {origin['bitstream']} ({origin['coolchic_tag']}), "
            f"frame {origin['frame_coding_index']} ({origin['frame_type']}), decoder instance "
            f"{origin['instance']}, as decoded by {origin['decoder']}; level 0 rows {top} to {top + H - 1}, "
            f"columns {left} to {left + W - 1} of {meta['image'][0]}x{meta['image'][1]} "
            f"(refups/real_models/{name}); {origin['license']}")


def _manifest_case(case, arrays, case_dir=None, *, expected="exact", source=None):
    files = []
    for stem, array in arrays.items():
        entry = {"path": f"{stem}.npy", "role": _role(stem), "dtype": array.dtype.str,
                 "shape": list(array.shape)}
        if case_dir is not None:
            entry["sha256"] = sha256(case_dir / entry["path"])
        files.append(entry)
    ups, pre, n_ups, n_pre = case.config
    return {
        "id": case.id,
        "description": case.description,
        "source": source or _source(case),
        "clauses": list(case.clauses),
        "flags": list(case.flags),
        "profiles": list(case.profiles),
        "config": {"ups_k_size": ups, "ups_preconcat_k_size": pre, "n_ups_kernel": n_ups,
                   "n_ups_preconcat_kernel": n_pre, "n_levels": len(case.shapes)},
        "empty_levels": case.empty_levels,
        "exact": case.exact,
        "expected": expected,
        "tolerance": _tolerances(case, arrays),
        "stages": [stem for stem in arrays if _role(stem) == "expected"],
        "files": files,
    }


def case_text(entry, params):
    """The line-based form of a manifest case, readable without a JSON parser.

    One keyword per line, tokens separated by single spaces, no token holds
    white space; every list carries its length first; parameter values are C99
    hexadecimal floats (``strtod`` and ``float.fromhex`` read them exactly).
    Readers skip keywords they do not know, so the format can grow.

    Examples
    --------
    >>> entry = {"id": "tiny", "config": {"ups_k_size": 4, "ups_preconcat_k_size": 1,
    ...          "n_ups_kernel": 1, "n_ups_preconcat_kernel": 1, "n_levels": 1}, "empty_levels": "stop",
    ...          "profiles": ["full"], "flags": [], "clauses": ["S6.5"],
    ...          "files": [{"path": "latent_0.npy", "role": "input", "shape": [1, 1, 2, 2]},
    ...                    {"path": "output.npy", "role": "expected", "shape": [1, 1, 2, 2]}]}
    >>> print(case_text(entry, {"conv2ds.0.bias": np.array([0.5])}))
    refups-case 1
    id tiny
    ups_k_size 4
    ups_preconcat_k_size 1
    n_ups_kernel 1
    n_ups_preconcat_kernel 1
    n_levels 1
    empty_levels stop
    profiles 1 full
    flags 0
    clauses 1 S6.5
    latent 0 latent_0.npy 4 1 1 2 2
    param conv2ds.0.bias 1 0x1.0000000000000p-1
    stage output output.npy 4 1 1 2 2
    end
    """
    def items(values):
        return " ".join([str(len(values)), *map(str, values)])

    lines = [CASE_TEXT_FORMAT, f"id {entry['id']}"]
    lines += [f"{key} {value}" for key, value in entry["config"].items()]
    lines.append(f"empty_levels {entry.get('empty_levels', 'stop')}")
    lines += [f"{key} {items(entry[key])}" for key in ("profiles", "flags", "clauses")]
    for spec in entry["files"]:
        if spec["role"] == "input":
            level = spec["path"][len("latent_"):-len(".npy")]
            lines.append(f"latent {level} {spec['path']} {items(spec['shape'])}")
    for name, value in params.items():
        lines.append(f"param {name} {items([float(v).hex() for v in np.ravel(value)])}")
    for spec in entry["files"]:
        if spec["role"] == "expected":
            lines.append(f"stage {spec['path'][:-len('.npy')]} {spec['path']} {items(spec['shape'])}")
    return "\n".join(lines + ["end"])


def _generator_hash():
    digest = hashlib.sha256()
    package = pathlib.Path(__file__).parent
    for name in GENERATOR_SOURCES:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes())
    return digest.hexdigest()


def _manifest(cases):
    return {"format_version": FORMAT_VERSION, "refups_version": __version__,
            "generator_sha256": _generator_hash(), "suite_seed": SUITE_SEED,
            "expected_values": EXPECTED_VALUES, "tolerance_rule": TOLERANCE_RULE,
            "profiles": {name: {"summary": p.summary, "rules": list(p.rules)}
                         for name, p in PROFILES.items()},
            "flags": {name: {"bug": f.bug, "clauses": list(f.clauses), "profiles": list(f.profiles)}
                      for name, f in FLAGS.items()},
            "n_cases": len(cases), "cases": cases}


def schema():
    """The JSON Schema of ``manifest.json``.

    Examples
    --------
    >>> schema()["properties"]["format_version"]
    {'const': 4}
    """
    return json.loads(importlib.resources.files("refups").joinpath("manifest.schema.json").read_text())


# -- writing ----------------------------------------------------------------------

def write_suite(out, *, force=False, cases=CASES):
    """Write the suite to folder ``out``, atomically.

    Everything is written to a temporary folder beside ``out`` and renamed
    into place at the end, so a crash never leaves a half-written suite. A
    non-empty ``out`` is replaced only with ``force=True``; a link or a file
    is never replaced (:func:`refups.output.folder_writer`).

    Examples
    --------
    >>> import tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "suite"
    >>> _ = write_suite(folder, cases=CASES[:2])
    >>> manifest, data = load_suite(folder)
    >>> manifest["n_cases"], list(data)
    (2, ['s4_worked_example', 'initial_ups4_pre1'])
    """
    out = pathlib.Path(out)
    with folder_writer(out, force=force) as tmp:
        entries = []
        for case in cases:
            case_dir = tmp / case.id
            case_dir.mkdir()
            entries.append(write_case(case_dir, case, build_case(case)))
        write_json(tmp / "manifest.schema.json", schema())
        write_json(tmp / "manifest.json", _manifest(entries))
    return out


def write_case(case_dir, case, arrays, **entry):
    """Write one case's files into the existing folder ``case_dir``; return its manifest entry.

    ``entry`` may give ``expected`` (``"exact"`` or ``"float64"``) and ``source``.
    """
    for stem, array in arrays.items():
        save_npy(case_dir / f"{stem}.npy", array)
    params = OrderedDict((stem[len("param."):], a) for stem, a in arrays.items() if _role(stem) == "param")
    write_json(case_dir / "params.json", params_to_json(params))
    entry = _manifest_case(case, arrays, case_dir, **entry)
    (case_dir / "case.txt").write_text(case_text(entry, params) + "\n")
    return entry


def generate_suite(cases=CASES):
    """The suite in memory: ``(manifest, {case id: {stem: array}})``, no files.

    Examples
    --------
    >>> manifest, data = generate_suite(CASES[:1])
    >>> manifest["cases"][0]["stages"]
    ['transition_0.upsampled', 'transition_0.prefiltered', 'output']
    """
    data = OrderedDict((case.id, build_case(case)) for case in cases)
    entries = [_manifest_case(case, data[case.id]) for case in cases]
    return _manifest(entries), data


# -- reading ------------------------------------------------------------------------

def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_tolerance(tolerance, where):
    if not isinstance(tolerance, dict):
        raise ValueError(f"{where}: 'tolerance' must be an object; got {type(tolerance).__name__}")
    for dtype in ("float32", "float64"):
        rule = tolerance.get(dtype)
        if not isinstance(rule, dict):
            raise ValueError(f"{where}: 'tolerance' must have a {dtype} entry with rtol and atol")
        for key in ("rtol", "atol"):
            value = rule.get(key)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value) or value < 0):
                raise ValueError(f"{where}: tolerance.{dtype}.{key} must be a finite number >= 0; "
                                 f"got {value!r}")


def _check_files(entry, where):
    files = entry.get("files")
    if not isinstance(files, list):
        raise ValueError(f"{where}: 'files' must be a list")
    for n, spec in enumerate(files):
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: files[{n}] must be an object; got {type(spec).__name__}")
        path = spec.get("path")
        if not isinstance(path, str) or not FILE_NAME.fullmatch(path):
            raise ValueError(f"{where}: files[{n}].path must be a plain file name matching "
                             f"{FILE_NAME.pattern}; got {path!r}")
        shape = spec.get("shape")
        if not isinstance(shape, list) or not all(_is_count(s) for s in shape):
            raise ValueError(f"{where}: files[{n}].shape must be a list of integers >= 0; got {shape!r}")
        if not isinstance(spec.get("sha256"), str):
            raise ValueError(f"{where}: files[{n}].sha256 must be a string")
    stages = entry.get("stages")
    if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
        raise ValueError(f"{where}: 'stages' must be a non-empty list of names")
    listed = {spec["path"] for spec in files}
    for stage in stages:
        if f"{stage}.npy" not in listed:
            raise ValueError(f"{where}: stage {stage!r} has no entry in 'files'")
    if stages[-1] != "output":
        raise ValueError(f"{where}: the last stage must be 'output'; got {stages[-1]!r}")


def check_manifest(manifest, path="manifest.json"):
    """Check everything refups reads from a manifest; raise :class:`FileError` naming the entry.

    Case ids must match ``[a-z0-9_]+`` and file names ``[A-Za-z0-9_][A-Za-z0-9_.]*\\.npy``:
    no separators, so no entry can lead outside the suite folder.

    Examples
    --------
    >>> check_manifest({"format_version": 2, "cases": [{"id": "../etc"}]})
    Traceback (most recent call last):
    ...
    refups.io.FileError: manifest.json: case 0: 'id' must match [a-z0-9_]+; got '../etc'
    """
    if not isinstance(manifest, dict):
        raise FileError(path, "is not a refups golden manifest (no 'cases' list)")
    # The version comes first: a newer layout may differ anywhere, so nothing else is trusted.
    version = manifest.get("format_version")
    if type(version) is not int or version not in READ_FORMAT_VERSIONS:
        readable = ", ".join(map(str, READ_FORMAT_VERSIONS[:-1])) + f" or {READ_FORMAT_VERSIONS[-1]}"
        found = "no format_version" if version is None else f"format_version {_show(repr(version))}"
        raise FileError(path, f"has {found}; this refups (version {__version__}) reads "
                              f"format_version {readable} only")
    if not isinstance(manifest.get("cases"), list):
        raise FileError(path, "is not a refups golden manifest (no 'cases' list)")
    seen = set()
    for n, entry in enumerate(manifest["cases"]):
        where = f"case {n}"
        try:
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: must be an object; got {type(entry).__name__}")
            case_id = entry.get("id")
            if not isinstance(case_id, str) or not CASE_ID.fullmatch(case_id):
                raise ValueError(f"{where}: 'id' must match {CASE_ID.pattern}; got {case_id!r}")
            where = f"case {n} ({case_id})"
            if case_id in seen:
                raise ValueError(f"{where}: the id appears twice")
            seen.add(case_id)
            for key in ("flags", "profiles", "clauses"):
                value = entry.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{where}: '{key}' must be a list of names")
            if not isinstance(entry.get("exact"), bool):
                raise ValueError(f"{where}: 'exact' must be true or false")
            if entry.setdefault("expected", "exact") not in ("exact", "float64"):  # version 2: exact
                raise ValueError(f"{where}: 'expected' must be 'exact' or 'float64'; "
                                 f"got {_show(repr(entry['expected']))}")
            empty_levels = entry.setdefault("empty_levels", "stop")  # versions 2 and 3: the current line
            if not isinstance(empty_levels, str) or empty_levels not in EMPTY_LEVELS:
                raise ValueError(f"{where}: 'empty_levels' must be one of {', '.join(map(repr, EMPTY_LEVELS))}; "
                                 f"got {_show(repr(empty_levels))}")
            _check_tolerance(entry.get("tolerance"), where)
            _check_files(entry, where)
        except ValueError as error:
            raise FileError(path, str(error)) from None


def inside(folder, *parts):
    """``folder / parts``, refused unless it resolves inside ``folder`` (links included).

    Examples
    --------
    >>> inside("/tmp/suite", "..", "passwd")
    Traceback (most recent call last):
    ...
    refups.io.FileError: /tmp/suite/../passwd: leads outside /tmp/suite
    """
    folder = pathlib.Path(folder)
    path = folder.joinpath(*parts)
    if not path.resolve().is_relative_to(folder.resolve()):
        raise FileError(path, f"leads outside {folder}")
    return path


def load_suite(folder):
    """Read a suite written by :func:`write_suite`, checking every file's SHA-256.

    Returns ``(manifest, {case id: {stem: array}})``; raises :class:`FileError`
    (example: :func:`write_suite`).
    """
    folder = pathlib.Path(folder)
    path = folder / "manifest.json"
    manifest = read_json(path)
    check_manifest(manifest, path)
    if not manifest["cases"]:
        raise FileError(path, "'cases' is empty; a suite has at least one case")
    for n, entry in enumerate(manifest["cases"]):  # what verify reads besides check_manifest's keys
        config = entry.get("config", {})
        if not isinstance(config, dict) or not all(_is_count(v) for v in config.values()):
            raise FileError(path, f"case {n} ({entry['id']}): 'config' must be an object of integers >= 0")
    data = OrderedDict()
    for entry in manifest["cases"]:
        arrays = OrderedDict()
        for spec in entry["files"]:
            file = inside(folder, entry["id"], spec["path"])
            if not file.is_file():
                raise FileError(file, "no such file (listed in the manifest)")
            if sha256(file) != spec["sha256"]:
                raise FileError(file, "checksum mismatch with manifest.json")
            array = load_npy(file)
            if list(array.shape) != spec["shape"]:
                raise FileError(file, f"has shape {array.shape}; the manifest says {tuple(spec['shape'])}")
            arrays[spec["path"][:-len(".npy")]] = array
        data[entry["id"]] = arrays
    return manifest, data


_CONFIG_KEYS = ("ups_k_size", "ups_preconcat_k_size", "n_ups_kernel", "n_ups_preconcat_kernel", "n_levels")


def load_case(case_dir):
    """One case folder as ``(latents, params, config)``: the arguments of the candidate contract.

    ``config`` comes from ``case.txt`` (the four numbers of S6, without
    ``n_levels``), ``params`` from ``params.json`` (biases only where the case
    has them), ``latents`` from ``latent_<i>.npy``, level 0 first. Every file
    is read as untrusted (:mod:`refups.io`).

    Examples
    --------
    >>> latents, params, config = load_case(default_suite_path() / "odd_7x5")
    >>> [y.shape for y in latents], config["ups_k_size"]
    ([(1, 1, 7, 5), (1, 1, 4, 3), (1, 1, 2, 2)], 6)
    """
    case_dir = pathlib.Path(case_dir)
    path = case_dir / "case.txt"
    handle, size = _open_regular(path)
    with handle:
        if size > 2**20:
            raise FileError(path, f"holds {size} bytes; a case.txt is far shorter")
        text = handle.read().decode("utf-8", errors="replace")
    lines = text.splitlines()
    if not lines or lines[0] != CASE_TEXT_FORMAT:
        raise FileError(path, f"must start with {CASE_TEXT_FORMAT!r}")
    config = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        if key in _CONFIG_KEYS:
            if not value.isdigit() or len(value) > 9:
                raise FileError(path, f"{key} must be an integer >= 0; got {_show(value, 20)!r}")
            config[key] = int(value)
    missing = [key for key in _CONFIG_KEYS if key not in config]
    if missing:
        raise FileError(path, f"lacks {', '.join(missing)}")
    latents = [load_npy(inside(case_dir, f"latent_{i}.npy")) for i in range(config.pop("n_levels"))]
    params = OrderedDict((name, np.asarray(value, dtype=np.float64))
                         for name, value in load_params(case_dir / "params.json").items())
    return latents, params, config


def default_suite_path():
    """The committed suite (``data/golden`` of a source checkout), or None.

    Examples
    --------
    >>> path = default_suite_path()
    >>> path is None or (path / "manifest.json").is_file()
    True
    """
    path = pathlib.Path(__file__).resolve().parents[1] / "data" / "golden"
    return path if (path / "manifest.json").is_file() else None
