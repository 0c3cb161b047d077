"""Cases from your own data: a latent pyramid and parameters become a golden case.

:func:`add_case` writes one case in the golden layout (inputs, ``case.txt``,
``params.json``, expected stages; ``data/README.md``) into a suite folder of
your own and adds it to that folder's manifest, creating the suite if
needed. ``refups verify --golden FOLDER`` and ``--run`` then work on it as on
the shipped suite. ``refups add-case`` is the same on the command line.

Expected values are exact (:mod:`refups.exact`, correctly rounded) where
that is affordable, up to :data:`EXACT_LIMIT` samples in the finest level
the loop reaches; beyond,
they come from refups' float64 separable path, and ``verify`` widens each
bound by the float64 path's own bound, so that it covers both the
candidate's and the reference's rounding. The manifest says which
(``expected``: ``"exact"`` or ``"float64"``).

Nothing is half-written: the inputs are checked and every expected value
computed first; the case folder is written beside the suite's cases under a
temporary name and renamed into place, then the manifest is replaced
atomically, and a failure on the way removes what was written.
"""

import pathlib
import shutil
import tempfile
from collections import OrderedDict

import numpy as np

from ._validation import check_latents
from .cases import Case
from .io import FileError, read_json
from .output import check_output, write_json
from .suite import CASE_ID, _manifest, case_arrays, check_manifest, inside, schema, write_case
from .upsampling import Upsampling
from .versions import check_empty_levels, depends_on_release, transition_levels

__all__ = ["EXACT_LIMIT", "add_case"]

#: Samples ``B * H * W`` of the finest level the loop reaches (S6.4) up to which
#: ``expected="auto"`` computes exact expected values: a 3840x2160 image. The exact oracle
#: costs about 8 forward passes there (docs/performance.md), under ten seconds.
EXACT_LIMIT = 3840 * 2160


def _clauses(shapes, empty_levels):
    clauses = ["S4", "S5", "S6"]
    if depends_on_release(shapes):
        clauses.append("S6.4" if empty_levels == "stop" else "S6.8")
    if len(shapes) == 1:
        clauses.append("S6.5")
    if any(2 * b[2] != a[2] or 2 * b[3] != a[3] for a, b in zip(shapes, shapes[1:])):
        clauses.append("S6.7")
    return clauses


def _finest_samples(shapes, empty_levels):
    """Samples in the finest level the loop reaches (S6.4 drops the levels below an empty one)."""
    levels = transition_levels(shapes, empty_levels)
    B, _, H, W = shapes[levels[-1] if levels else len(shapes) - 1]
    return B * H * W


def _read_manifest(suite):
    path = suite / "manifest.json"
    manifest = read_json(path)
    check_manifest(manifest, path)
    for entry in manifest["cases"]:  # written again as the current version (check_manifest fills empty_levels)
        entry.setdefault("source", "not recorded (format_version 2)")
    return manifest


def add_case(suite, case_id, latents, params, *, description=None, source=None, expected="auto",
             force=False, empty_levels="stop"):
    """Write a case of your own data into the suite folder ``suite``; return its manifest entry.

    Parameters
    ----------
    suite : path
        A suite folder: a new or empty folder becomes a suite; an existing
        suite gains the case (its manifest is checked first).
    case_id : str
        ``[a-z0-9_]+``; an existing case of that id is replaced only with ``force=True``.
    latents : list of arrays, shapes (B, C_i, H_i, W_i), level 0 finest
    params : mapping
        Half-kernels (and optionally biases) under Cool-chic's names (S8); the
        configuration is read from them (:func:`refups.io.config_from_params`).
    expected : {"auto", "exact", "float64"}
        ``"auto"``: exact up to :data:`EXACT_LIMIT` samples, else float64.
    empty_levels : {"stop", "continue", "error"}
        The Cool-chic release line the expected values follow on a level
        without channels (S6.8); ``"continue"`` makes a Cool-chic 4.0 case.

    Examples
    --------
    >>> import tempfile
    >>> from refups.realdata import real_model, window
    >>> model = real_model("kodim14")
    >>> suite = pathlib.Path(tempfile.mkdtemp()) / "mine"
    >>> entry = add_case(suite, "kodim14_corner", window(model.latents, 0, 0, 16, 24), model.params)
    >>> entry["expected"], entry["profiles"][:3], sorted(p.name for p in suite.iterdir())
    ('exact', ['full', 'coolchic', 'bitstream'], ['kodim14_corner', 'manifest.json', 'manifest.schema.json'])
    """
    from .io import config_from_params

    suite = pathlib.Path(suite)
    if not isinstance(case_id, str) or not CASE_ID.fullmatch(case_id):
        raise ValueError(f"case_id must match {CASE_ID.pattern}; got {case_id!r}")
    if expected not in ("auto", "exact", "float64"):
        raise ValueError(f"expected must be 'auto', 'exact' or 'float64'; got {expected!r}")
    check_empty_levels(empty_levels)
    if not hasattr(params, "items"):
        raise TypeError(f"params must be a mapping of Cool-chic names to arrays; got {type(params).__name__}")
    # 1. The suite folder: nothing, an empty folder, or a suite whose manifest this refups reads.
    if suite.exists() and not suite.is_dir():
        raise FileError(suite, "is not a folder")
    manifest = _read_manifest(suite) if (suite / "manifest.json").exists() else None
    if manifest is None and suite.is_dir() and any(suite.iterdir()):
        raise FileError(suite, "is neither empty nor a suite (no manifest.json)")
    ids = [entry["id"] for entry in manifest["cases"]] if manifest else []
    if case_id in ids and not force:
        raise FileError(suite / case_id, "is already a case of this suite; use force=True (--force) "
                                         "to replace it")
    if case_id not in ids and (suite / case_id).exists():
        raise FileError(suite / case_id, "exists but is not a case of this suite; remove it or choose "
                                         "another id")
    # 2. The inputs: everything checked, every expected value computed, before anything is written.
    latents = check_latents(latents)  # a list of 4-D real arrays, sizes as S6.7 says (S10)
    config = config_from_params(params)
    up = Upsampling(*config, empty_levels=empty_levels)
    up.set_param(params)
    params = OrderedDict((name, np.asarray(value, dtype=np.float64)) for name, value in params.items())
    shapes = tuple(np.shape(y) for y in latents)
    transition_levels(shapes, empty_levels)  # 3.4's refusal of a level without channels, before any work
    if expected == "auto":
        expected = "exact" if _finest_samples(shapes, empty_levels) <= EXACT_LIMIT else "float64"
    arrays = case_arrays(up, latents, params, expected)  # checks the latents (S10) first
    case = Case(case_id, description or f"your own data: {len(shapes)} levels, level 0 of shape {shapes[0]}",
                tuple(_clauses(shapes, empty_levels)), (), config, shapes, empty_levels=empty_levels)
    # 3. Writing: the case under a temporary name, renamed into place, then the manifest.
    created = not suite.exists()
    suite.mkdir(parents=True, exist_ok=True)
    check_output(suite / "manifest.json")
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{case_id}.", dir=suite))
    target, replaced = inside(suite, case_id), None
    schema_path = suite / "manifest.schema.json"
    old_schema = schema_path.read_bytes() if schema_path.is_file() else None
    try:
        entry = write_case(staging, case, arrays, expected=expected, source=source or "your own data")
        if target.exists():
            replaced = pathlib.Path(tempfile.mkdtemp(prefix=f".{case_id}.old.", dir=suite))
            target.rename(replaced / case_id)
        staging.rename(target)
        entries = [e for e in (manifest["cases"] if manifest else []) if e["id"] != case_id] + [entry]
        write_json(schema_path, schema())  # the schema of the version written next
        write_json(suite / "manifest.json", _manifest(entries))
    except BaseException:
        if target.exists() and not staging.exists():
            shutil.rmtree(target)  # the new case, renamed but not listed
        if replaced is not None and (replaced / case_id).exists():
            (replaced / case_id).rename(target)
        if old_schema is None:
            schema_path.unlink(missing_ok=True)
        elif schema_path.read_bytes() != old_schema:
            schema_path.write_bytes(old_schema)
        if created:
            shutil.rmtree(staging, ignore_errors=True)
            try:
                suite.rmdir()  # only if nothing else is there
            except OSError:
                pass
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)
    return entry
