"""The golden-reference suite: cases, generation, loading and verification.

A suite is a folder with ``manifest.json``, ``manifest.schema.json`` and one
folder per case::

    <case id>/latent_0.npy ... latent_{L-1}.npy      inputs, float64, (B, C_i, H_i, W_i)
    <case id>/params.json                            parameters, Cool-chic names (S8)
    <case id>/param.<name>.npy                       the same parameters as arrays
    <case id>/transition_<idx>.upsampled.npy         expected intermediates, idx 0 coarsest
    <case id>/transition_<idx>.prefiltered.npy
    <case id>/output.npy                             expected dense tensor

Expected values are refups' float64 separable path. Each case's data depend
on :data:`SUITE_SEED` and the case id only: regenerating gives the same bytes.
"""

import hashlib
import importlib.resources
import json
import os
import pathlib
import shutil
import tempfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from .io import FileError, load_npy, params_to_json, save_npy, sha256, write_json
from .kernels import half_kernel_size, initial_preconcat_half_kernel, initial_ups_half_kernel
from .upsampling import Upsampling

__all__ = ["CASES", "Case", "FORMAT_VERSION", "SUITE_SEED", "build_case", "generate_suite",
           "load_suite", "verify", "write_suite"]

#: Version of the suite layout and manifest.
FORMAT_VERSION = 1

#: Seed of every random draw in the suite; changing it changes all the data.
SUITE_SEED = 20261125

#: The modules whose code determines the expected values (hashed into the manifest).
GENERATOR_SOURCES = ("_validation.py", "golden.py", "io.py", "kernels.py", "layers.py",
                     "ops.py", "upsampling.py")

TOLERANCE_RULE = "|actual - expected| <= atol + rtol * |expected|"


@dataclass(frozen=True)
class Case:
    """One golden case: a configuration, how to draw its data, and what it shows.

    ``params``: ``"initial"`` (S3), ``"random"`` (uniform in [-1, 1]),
    ``"near-initial"`` (initial plus small noise, as after training) or
    ``"dyadic"`` (multiples of 1/8 in [-1/2, 1/2]). ``latents``: ``"normal"``
    (standard normal floats), ``"integer"`` (uniform in [-8, 8]) or
    ``"laplace"`` (rounded Laplace, scale 1: realistic quantised latents), or
    explicit nested lists in ``values``. ``biases``: draw non-zero biases.
    """

    id: str
    description: str
    clauses: tuple
    config: tuple  # (ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel)
    shapes: tuple  # one (B, C, H, W) per level, level 0 finest
    params: str = "initial"
    latents: str = "normal"
    biases: bool = False
    exact: bool = False
    values: tuple = field(default=None, compare=False)


def pyramid(H, W, channels, B=1):
    """Shapes ``(B, C_i, H_i, W_i)`` with ``H_{i+1} = ceil(H_i / 2)`` (S6.7).

    Examples
    --------
    >>> pyramid(5, 8, [1, 2, 1])
    ((1, 1, 5, 8), (1, 2, 3, 4), (1, 1, 2, 2))
    """
    shapes = []
    for C in channels:
        shapes.append((B, C, H, W))
        H, W = -(-H // 2), -(-W // 2)
    return tuple(shapes)


CASES = (
    Case("s4_worked_example", "SPEC S4 worked example: (1, 2, 4) upsampled by the k=4 bilinear kernel",
         ("S3", "S4", "S5", "S6.1"), (4, 1, 1, 1), ((1, 1, 2, 6), (1, 1, 1, 3)),
         exact=True, values=([[[[0.0] * 6] * 2]], [[[[1.0, 2.0, 4.0]]]])),
    *(Case(f"initial_ups{ku}_pre{kp}", f"initial kernels: upsampling k={ku}, pre-concatenation k={kp}",
           ("S1", "S3", "S4", "S5", "S6"), (ku, kp, 2, 2), pyramid(12, 10, [1, 1, 1]))
      for ku, kp in [(4, 1), (6, 3), (8, 5), (10, 7), (12, 9)]),
    *(Case(f"random_ups{ku}_pre{kp}", f"random kernels: upsampling k={ku}, pre-concatenation k={kp}",
           ("S1", "S4", "S5", "S6"), (ku, kp, 3, 3), pyramid(13, 17, [1, 1, 1, 1]), params="random")
      for ku, kp in [(4, 3), (8, 7), (16, 15)]),
    Case("one_pixel_levels", "every level is 1x1", ("S4", "S5", "S6.7"), (8, 3, 2, 2),
         pyramid(1, 1, [1, 1, 1]), params="random"),
    Case("odd_7x5", "odd sides: every transition crops a row and a column", ("S6.7",), (6, 3, 2, 2),
         pyramid(7, 5, [1, 1, 1]), params="random"),
    Case("tall_1x9", "a one-pixel-wide, 9-pixel-tall image", ("S4", "S6.7"), (8, 5, 2, 2),
         pyramid(9, 1, [1, 1, 1]), params="random"),
    Case("even_16x8", "even sides: no crop at any transition", ("S6",), (8, 7, 3, 3),
         pyramid(8, 16, [1, 1, 1, 1]), params="random"),
    Case("coarse_larger_than_half", "a coarse level larger than half its finer level is cropped",
         ("S6.7",), (4, 3, 1, 1), ((1, 1, 5, 6), (1, 1, 4, 4)), params="random"),
    Case("batch3_channels", "batch of 3, several channels on every level", ("S6.1", "S6.6"),
         (8, 5, 2, 2), pyramid(10, 9, [2, 3, 1], B=3), params="random"),
    Case("shared_kernels", "one filter of each kind shared by all 4 transitions", ("S6.2", "S6.3"),
         (6, 3, 1, 1), pyramid(16, 16, [1, 1, 1, 1, 1]), params="random"),
    Case("modulo_kernels", "2 upsampling and 3 pre-concatenation filters over 5 transitions",
         ("S6.2", "S6.3"), (4, 3, 2, 3), pyramid(20, 18, [1, 1, 1, 1, 1, 1]), params="random"),
    Case("more_kernels_than_transitions", "6 filters of each kind, 2 transitions", ("S6.3",),
         (8, 7, 6, 6), pyramid(12, 12, [1, 1, 1]), params="random"),
    Case("zero_channel_stop", "level 1 has no channel: output stays at level 2's resolution",
         ("S6.4",), (6, 3, 3, 3), pyramid(16, 12, [1, 0, 1, 1]), params="random"),
    Case("zero_channel_first_transition", "level L-2 has no channel: y_{L-1} comes back unchanged",
         ("S6.4", "S6.5"), (8, 7, 2, 2), pyramid(8, 8, [2, 1, 0, 1]), params="random"),
    Case("zero_channel_coarsest", "the coarsest level has no channel: it adds none, the loop goes on",
         ("S6",),
         (4, 3, 2, 2), pyramid(8, 6, [1, 1, 0]), params="random"),
    Case("one_level", "a single level: output equals input", ("S6.5",), (8, 7, 0, 0),
         pyramid(5, 4, [2])),
    Case("biases_ignored", "non-zero biases change nothing", ("S8",), (8, 7, 2, 2),
         pyramid(9, 11, [1, 1, 1]), params="random", biases=True),
    Case("exact_dyadic_ups4", "integer latents, dyadic kernels: exact in float32 and float64",
         ("S9", "S4", "S5"), (4, 3, 2, 2), pyramid(9, 8, [1, 1, 1]), params="dyadic",
         latents="integer", exact=True),
    Case("exact_dyadic_ups8", "integer latents, dyadic 8-tap kernels, several channels",
         ("S9", "S6.6"), (8, 5, 2, 2), pyramid(6, 7, [2, 1, 1], B=2), params="dyadic",
         latents="integer", exact=True),
    Case("exact_bilinear_init", "integer latents, bilinear k=4 and Dirac initial kernels",
         ("S3", "S9"), (4, 5, 3, 3), pyramid(11, 13, [1, 1, 1, 1]), latents="integer", exact=True),
    Case("bicubic_constant_gain", "constant latents through the initial bicubic: gain 1.00000020000001",
         ("S3",), (8, 1, 1, 1), ((1, 1, 4, 4), (1, 1, 2, 2)), latents="ones"),
    Case("coolchic_default_200x125", "Cool-chic's default (8, 7, 7 levels) on 200x125, "
         "realistic integer latents and trained-like kernels", ("S4", "S5", "S6", "S6.7"),
         (8, 7, 6, 6), pyramid(125, 200, [1] * 7), params="near-initial", latents="laplace"),
)

#: Clauses that can be observed in outputs; every one has at least one case.
OBSERVABLE_CLAUSES = ("S1", "S3", "S4", "S5", "S6", "S6.1", "S6.2", "S6.3", "S6.4", "S6.5",
                      "S6.6", "S6.7", "S8", "S9")


def _rng(case):
    return np.random.default_rng([SUITE_SEED, zlib.crc32(case.id.encode())])


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
            initial = (initial_ups_half_kernel(k) if name.startswith("conv_transpose2ds")
                       else initial_preconcat_half_kernel(k))
            params[name] = initial + rng.normal(0, 0.02, initial.shape)
    return params


def _case_latents(case, rng):
    if case.values is not None:
        return [np.asarray(v, dtype=np.float64).reshape(s) for v, s in zip(case.values, case.shapes)]
    draw = {
        "normal": lambda shape: rng.standard_normal(shape),
        "integer": lambda shape: rng.integers(-8, 9, shape).astype(np.float64),
        "laplace": lambda shape: np.round(rng.laplace(0, 1, shape)),
        "ones": lambda shape: np.ones(shape),
    }[case.latents]
    return [draw(shape) for shape in case.shapes]


def build_case(case):
    """Inputs, parameters and expected arrays of one case, as an ordered ``{stem: array}``.

    Stems: ``latent_<i>``, ``param.<name>``, ``transition_<idx>.upsampled``,
    ``transition_<idx>.prefiltered``, ``output``.

    Examples
    --------
    >>> arrays = build_case(CASES[0])        # the S4 worked example
    >>> list(arrays)[:2], arrays["output"][0, 1, 0]
    (['latent_0', 'latent_1'], array([1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ]))
    """
    rng = _rng(case)
    up = Upsampling(*case.config)
    params = _case_params(case, up, rng)
    up.set_param(params)
    latents = _case_latents(case, rng)
    trace = up.trace(latents)
    if case.exact:
        # The generator checks its own claim: float32 gives the same bits.
        out32 = up([y.astype(np.float32) for y in latents])
        if not np.array_equal(out32, trace.output):
            raise RuntimeError(f"case {case.id} is marked exact but float32 differs")
    arrays = OrderedDict()
    for i, y in enumerate(latents):
        arrays[f"latent_{i}"] = y
    for name, value in params.items():
        arrays[f"param.{name}"] = value
    for step in trace.transitions:
        arrays[f"transition_{step.index}.upsampled"] = step.upsampled
        arrays[f"transition_{step.index}.prefiltered"] = step.prefiltered
    arrays["output"] = trace.output
    return arrays


def _role(stem):
    if stem.startswith("latent_"):
        return "input"
    return "param" if stem.startswith("param.") else "expected"


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


def _manifest_case(case, arrays, case_dir=None):
    files = []
    for stem, array in arrays.items():
        entry = {"path": f"{stem}.npy", "role": _role(stem), "dtype": "<f8",
                 "shape": list(array.shape)}
        if case_dir is not None:
            entry["sha256"] = sha256(case_dir / entry["path"])
        files.append(entry)
    ups, pre, n_ups, n_pre = case.config
    return {
        "id": case.id,
        "description": case.description,
        "clauses": list(case.clauses),
        "config": {"ups_k_size": ups, "ups_preconcat_k_size": pre, "n_ups_kernel": n_ups,
                   "n_ups_preconcat_kernel": n_pre, "n_levels": len(case.shapes)},
        "exact": case.exact,
        "tolerance": _tolerances(case, arrays),
        "stages": [stem for stem in arrays if _role(stem) == "expected"],
        "files": files,
    }


def _generator_hash():
    digest = hashlib.sha256()
    package = pathlib.Path(__file__).parent
    for name in GENERATOR_SOURCES:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes())
    return digest.hexdigest()


def _manifest(cases):
    return {"format_version": FORMAT_VERSION, "refups_version": __version__,
            "generator_sha256": _generator_hash(), "suite_seed": SUITE_SEED,
            "tolerance_rule": TOLERANCE_RULE, "n_cases": len(cases), "cases": cases}


def schema():
    """The JSON Schema of ``manifest.json``.

    Examples
    --------
    >>> schema()["properties"]["format_version"]
    {'const': 1}
    """
    return json.loads(importlib.resources.files("refups").joinpath("manifest.schema.json").read_text())


def write_suite(out, *, force=False, cases=CASES):
    """Write the suite to folder ``out``, atomically.

    Everything is written to a temporary folder beside ``out`` and renamed
    into place at the end, so a crash never leaves a half-written suite. A
    non-empty ``out`` is replaced only with ``force=True``.

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
    if out.exists() and not out.is_dir():
        raise FileError(out, "exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise FileError(out, "is not empty; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        entries = []
        for case in cases:
            arrays = build_case(case)
            case_dir = tmp / case.id
            case_dir.mkdir()
            for stem, array in arrays.items():
                save_npy(case_dir / f"{stem}.npy", array)
            params = OrderedDict((stem[len("param."):], a) for stem, a in arrays.items()
                                 if _role(stem) == "param")
            write_json(case_dir / "params.json", params_to_json(params))
            entries.append(_manifest_case(case, arrays, case_dir))
        write_json(tmp / "manifest.schema.json", schema())
        write_json(tmp / "manifest.json", _manifest(entries))
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out


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


def _check_manifest(manifest, path):
    """Structural checks of a manifest (the JSON Schema says the same, formally)."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("cases"), list):
        raise FileError(path, "is not a refups golden manifest (no 'cases' list)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise FileError(path, f"has format_version {manifest.get('format_version')!r}; "
                              f"this refups reads {FORMAT_VERSION}")
    for entry in manifest["cases"]:
        for key in ("id", "tolerance", "stages", "files", "exact"):
            if not isinstance(entry, dict) or key not in entry:
                raise FileError(path, f"a case lacks the key {key!r}")


def load_suite(folder):
    """Read a suite written by :func:`write_suite`, checking every file's SHA-256.

    Returns ``(manifest, {case id: {stem: array}})``; raises :class:`FileError`
    (example: :func:`write_suite`).
    """
    folder = pathlib.Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise FileError(path, "no such file")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FileError(path, f"is not valid JSON ({error})") from None
    _check_manifest(manifest, path)
    data = OrderedDict()
    for entry in manifest["cases"]:
        arrays = OrderedDict()
        for spec in entry["files"]:
            file = folder / entry["id"] / spec["path"]
            if not file.is_file():
                raise FileError(file, "no such file (listed in the manifest)")
            if sha256(file) != spec.get("sha256"):
                raise FileError(file, "checksum mismatch with manifest.json")
            array = load_npy(file)
            if list(array.shape) != spec["shape"]:
                raise FileError(file, f"has shape {array.shape}; the manifest says {tuple(spec['shape'])}")
            arrays[spec["path"][:-len(".npy")]] = array
        data[entry["id"]] = arrays
    return manifest, data


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


# -- verification ----------------------------------------------------------------

def _ordered_ints(x):
    """Map floats to int64 with the same order, one step per representable value."""
    ints = x.view(np.int32 if x.dtype.itemsize == 4 else np.int64)
    # IEEE-754 is sign-magnitude: a negative float's pattern, read as a signed
    # integer, is MIN + magnitude; MIN - pattern turns it into -magnitude.
    return np.where(ints < 0, np.iinfo(ints.dtype).min - ints, ints).astype(np.int64)


def ulp_distance(actual, expected):
    """Largest distance, in units in the last place of ``actual.dtype``, between
    ``actual`` and ``expected`` rounded to that dtype (two NaNs count as equal).

    Examples
    --------
    >>> ulp_distance(np.float32([1.0, -2.0]), np.array([1.0, -2.0 - 2.0**-22]))
    1
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=actual.dtype)
    a, e = _ordered_ints(actual), _ordered_ints(expected)
    # Same sign: the difference cannot overflow; opposite signs: add magnitudes
    # in uint64, which holds any sum of two int64 magnitudes.
    same_sign = (a >= 0) == (e >= 0)
    with np.errstate(over="ignore"):
        distance = np.where(same_sign, np.abs(a - e).astype(np.uint64),
                            np.abs(a).astype(np.uint64) + np.abs(e).astype(np.uint64))
    distance[np.isnan(actual) & np.isnan(expected)] = 0
    return int(distance.max(initial=0))


def compare(actual, expected, rtol, atol):
    """Errors of ``actual`` against float64 ``expected`` under ``TOLERANCE_RULE``.

    Examples
    --------
    >>> compare(np.array([1.0, 2.0 + 1e-9]), np.array([1.0, 2.0]), rtol=0.0, atol=1e-12)["ok"]
    False
    """
    a = actual.astype(np.float64)
    err = np.abs(a - expected)
    both_nan = np.isnan(a) & np.isnan(expected)
    err = np.where(both_nan, 0.0, err)
    ok = bool(np.all(err <= atol + rtol * np.abs(expected)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(err == 0, 0.0, err / np.abs(expected))
    return {"ok": ok, "max_abs": float(err.max(initial=0.0)), "max_rel": float(rel.max(initial=0.0)),
            "max_ulp": ulp_distance(actual, expected)}


def _verify_case(entry, expected, case_dir, dtype):
    row = {"id": entry["id"], "status": "FAIL", "max_abs": None, "max_rel": None,
           "max_ulp": None, "first_stage": None, "reason": ""}
    if not (case_dir / "output.npy").is_file():
        row["reason"] = f"missing {case_dir / 'output.npy'}"
        return row
    worst = {"max_abs": 0.0, "max_rel": 0.0, "max_ulp": 0}
    reasons = []
    for stage in entry["stages"]:
        file = case_dir / f"{stage}.npy"
        if stage != "output" and not file.is_file():
            continue  # intermediates are optional
        actual = load_npy(file)
        if actual.dtype.kind != "f" or actual.dtype.itemsize not in (4, 8):
            raise FileError(file, f"must hold float32 or float64; got dtype {actual.dtype}")
        if dtype is not None and actual.dtype != dtype:
            raise FileError(file, f"has dtype {actual.dtype}; --dtype says {dtype}")
        if actual.shape != expected[stage].shape:
            reasons.append(f"{stage}: shape {actual.shape}, expected {expected[stage].shape}")
            row["first_stage"] = row["first_stage"] or stage
            continue
        tol = entry["tolerance"]["float32" if actual.dtype == np.float32 else "float64"]
        result = compare(actual, expected[stage], tol["rtol"], tol["atol"])
        for key in worst:
            worst[key] = max(worst[key], result[key])
        if not result["ok"]:
            row["first_stage"] = row["first_stage"] or stage
            reasons.append(f"{stage}: max abs error {result['max_abs']:.3g} > atol {tol['atol']:.3g} + "
                           f"rtol {tol['rtol']:.3g} * |expected|")
    row.update(worst)
    if reasons:
        row["reason"] = reasons[0]
    else:
        row["status"] = "PASS"
    return row


def verify(candidate, golden=None, dtype=None):
    """Compare a candidate's outputs with a suite; return a report dict.

    ``candidate`` holds ``<case id>/output.npy`` (required) and optionally the
    ``transition_<idx>.*.npy`` intermediates, float32 or float64. ``golden``
    is a suite folder; None uses the committed suite, else generates it in
    memory. Unreadable files raise :class:`FileError`; missing or mis-shaped
    outputs are reported as failures.

    Examples
    --------
    >>> import tempfile
    >>> report = verify(pathlib.Path(tempfile.mkdtemp()))   # an empty candidate folder
    >>> report["passed"], report["cases"][0]["reason"].startswith("missing")
    (False, True)
    """
    candidate = pathlib.Path(candidate)
    if not candidate.is_dir():
        raise FileError(candidate, "no such folder")
    dtype = None if dtype is None else np.dtype(dtype)
    if golden is None:
        golden = default_suite_path()
    if golden is None:
        manifest, data = generate_suite()
        source = "generated in memory"
    else:
        manifest, data = load_suite(golden)
        source = str(golden)
    rows = [_verify_case(entry, data[entry["id"]], candidate / entry["id"], dtype)
            for entry in manifest["cases"]]
    return {"golden": source, "candidate": str(candidate),
            "dtype": None if dtype is None else str(dtype), "tolerance_rule": TOLERANCE_RULE,
            "passed": all(row["status"] == "PASS" for row in rows), "cases": rows}
