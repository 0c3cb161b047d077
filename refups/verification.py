"""Verifying a candidate implementation against the golden suite.

:func:`verify` chooses the cases (a profile, then ``select``/``skip`` by
case id, flag or clause), optionally runs a command on each one
(:mod:`refups.runner`), and compares every stage the candidate wrote with the
expected values under the case's tolerance. Problems with the candidate's
files are failures of that case, with their reason; problems with the suite
raise :class:`~refups.io.FileError`.

Numbers that are not finite (an infinite relative error, a NaN in the
candidate) are kept as floats in the report; :func:`report_to_json` writes
them as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

import math
import pathlib

import numpy as np

from .bounds import stage_bounds
from .inprocess import Caller, import_target
from .io import FileError, load_npy
from .output import save_npy, write_json
from .profiles import PROFILES, RELEASE_PROFILES, check_profile
from .runner import CaseRun, check_command, run_case
from .suite import TOLERANCE_RULE, default_suite_path, generate_suite, inside, load_suite
from .upsampling import Upsampling
from .versions import depends_on_release, release_name

__all__ = ["PLANE_SCALE", "TIERS", "compare", "judge", "plane_errors", "report_to_json", "select_cases", "ulp_distance", "common_cause", "release_verdict",
           "verify"]


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

    Where one side is not finite, the element is right only if both hold the
    same value (two NaNs, or the same infinity); otherwise its error is
    infinite, and the counts ``nan`` and ``inf`` say what the candidate holds.

    Examples
    --------
    >>> compare(np.array([1.0, 2.0 + 1e-9]), np.array([1.0, 2.0]), rtol=0.0, atol=1e-12)["ok"]
    False
    >>> r = compare(np.array([np.nan, np.inf]), np.array([1.0, 0.0]), rtol=0.0, atol=1.0)
    >>> r["ok"], r["max_abs"], r["nan"], r["inf"]
    (False, inf, 1, 1)
    """
    a = actual.astype(np.float64)
    same = (a == expected) | (np.isnan(a) & np.isnan(expected))
    finite = np.isfinite(a) & np.isfinite(expected)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        err = np.where(finite, np.abs(a - expected), np.where(same, 0.0, np.inf))
        ok = bool(np.all(same | (err <= atol + rtol * np.abs(expected))))
        rel = np.where(err == 0, 0.0, err / np.abs(expected))
    mismatched = ~same
    n_nan = int(np.count_nonzero(np.isnan(a) & mismatched))
    n_inf = int(np.count_nonzero(np.isinf(a) & mismatched))
    both_finite = finite | same
    max_ulp = ulp_distance(actual[both_finite], expected[both_finite]) if both_finite.all() else math.inf
    return {"ok": ok, "max_abs": float(err.max(initial=0.0)), "max_rel": float(rel.max(initial=0.0)),
            "max_ulp": max_ulp, "nan": n_nan, "inf": n_inf}


#: How the report's relative and ULP columns are measured (:func:`plane_errors`).
PLANE_SCALE = ("max rel and max ulp measure each error against S, the largest |expected| of its plane: "
               "error / S and error / ulp(S) in the candidate's dtype")

#: Verdict tiers, best first. A case's tier is that of its worst element.
TIERS = ("exact", "pass", "warn", "fail")


def plane_errors(actual, expected):
    """Largest error relative to each plane's scale, as a fraction and in ULPs.

    A plane is one ``(b, c)`` slice of a ``(B, C, H, W)`` stage; its scale
    ``S`` is its largest ``|expected|``. An element's relative error is
    ``|actual - expected| / S`` and its ULP error ``|actual - expected| /
    ulp(S)``, the ULP of ``S`` in ``actual``'s dtype. Against the plane's
    scale rather than each element's own value, an expected 0 with a
    candidate's ``1e-13`` reads as the rounding error it is, not as an
    infinite relative error. Returns ``(max_rel, max_ulp)``; a value that is
    not finite where a finite one is expected gives ``inf`` for both, an
    error on an all-zero plane an infinite relative error and a very large
    ULP count (the ULP of 0 is the smallest subnormal).

    Examples
    --------
    >>> e = np.array([[[[0.0, 1.0, 2.0]]]])
    >>> plane_errors(np.array([[[[1e-15, 1.0, 2.0]]]]), e)
    (5e-16, 3)
    """
    a = actual.astype(np.float64)
    same = (a == expected) | (np.isnan(a) & np.isnan(expected))
    axes = tuple(range(max(expected.ndim - 2, 0), expected.ndim))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        error = np.where(same, 0.0, np.abs(a - expected))
        error = np.where(np.isnan(error), np.inf, error)
        finite = np.where(np.isfinite(expected), np.abs(expected), 0.0)
        scale = np.broadcast_to(np.max(finite, axis=axes, keepdims=True, initial=0.0), error.shape)
        ulp = np.spacing(scale.astype(actual.dtype)).astype(np.float64)
        rel = np.where(error == 0, 0.0, error / scale)
        ulps = np.where(error == 0, 0.0, error / ulp)
    max_rel, max_ulps = float(np.max(rel, initial=0.0)), float(np.max(ulps, initial=0.0))
    return max_rel, (math.ceil(max_ulps) if math.isfinite(max_ulps) else math.inf)


def judge(actual, expected, rounded, bound, rtol, atol):
    """Tier and errors of one stage, element by element.

    ``expected`` is the exact value rounded to float64, ``rounded`` the exact
    value correctly rounded to ``actual``'s dtype, ``bound`` the acceptance
    bound of that dtype (:func:`refups.bounds.stage_bounds`). An element is
    ``exact`` when it equals ``rounded`` bit for bit, ``pass`` when
    ``|actual - expected| <= bound + u64 |expected|`` (the last term covers
    ``expected``'s own rounding), ``warn`` when it is only inside the loose
    tolerance ``atol + rtol |expected|``, and ``fail`` otherwise; with
    ``rounded=None`` (no correctly rounded value known) no element is
    ``exact``. The
    relative and ULP errors are measured against each plane's scale
    (:func:`plane_errors`).

    Examples
    --------
    >>> e = np.array([1.0, 2.0])
    >>> judge(np.array([1.0, 2.0 + 1e-15]), e, e, np.full(2, 1e-14), 0.0, 0.0)["tier"]
    'pass'
    >>> judge(np.array([1.0, 2.0 + 1e-9]), e, e, np.full(2, 1e-14), 1e-6, 0.0)["tier"]
    'warn'
    """
    result = compare(actual, expected, rtol, atol)
    a = actual.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        error = np.abs(a - expected)
        allowed = bound + np.finfo(np.float64).eps / 2 * np.abs(expected)
        inside = error <= allowed  # False for NaN
        ratio = np.where(inside & (error == 0), 0.0, np.where(np.isfinite(error), error / allowed, np.inf))
    if rounded is not None and np.array_equal(actual, rounded.astype(actual.dtype)):
        tier = "exact"
    elif inside.all():
        tier = "pass"
    elif result["ok"]:
        tier = "warn"
    else:
        tier = "fail"
    result["max_rel"], result["max_ulp"] = plane_errors(actual, expected)
    result.update(tier=tier, max_error_over_bound=float(np.max(ratio, initial=0.0)),
                  outside_bound=int(np.count_nonzero(~inside)))
    return result


def _matches(token, entry):
    clauses = entry.get("clauses", [])
    return (token == entry["id"] or token in entry.get("flags", [])
            or any(c == token or c.startswith(token + ".") for c in clauses))


def _shapes(entry):
    inputs = sorted((int(spec["path"][len("latent_"):-len(".npy")]), tuple(spec["shape"]))
                    for spec in entry["files"] if spec.get("role") == "input")
    return [shape for _, shape in inputs]


def _config(entry):
    config = entry.get("config", {})
    return tuple(config.get(key, 0) for key in
                 ("ups_k_size", "ups_preconcat_k_size", "n_ups_kernel", "n_ups_preconcat_kernel"))


def select_cases(manifest, profile="full", select=(), skip=()):
    """Split the manifest's cases into those to run and those not run, with reasons.

    A case runs when it belongs to ``profile``, matches one of ``select``
    (if any) and none of ``skip``. Each token is a case id, a flag, or a
    clause id (``S6`` also matches ``S6.1`` ... ``S6.7``).

    Returns ``(entries, not_run)``, ``not_run`` a list of ``(case id, reason)``.

    Examples
    --------
    >>> manifest = {"cases": [{"id": "a", "profiles": ["full"], "flags": ["x"], "clauses": ["S6.4"]},
    ...                       {"id": "b", "profiles": ["full", "coolchic"], "flags": [], "clauses": []}]}
    >>> run, not_run = select_cases(manifest, select=["S6"])
    >>> [e["id"] for e in run], not_run
    (['a'], [('b', 'not selected by --select')])
    """
    check_profile(profile)
    entries = manifest["cases"]
    for name, tokens in (("select", select), ("skip", skip)):
        for token in tokens:
            if not any(_matches(token, entry) for entry in entries):
                raise ValueError(f"--{name} must name case ids, flags or clause ids of the suite; "
                                 f"got {token!r}")
    run, not_run = [], []
    for entry in entries:
        if profile not in entry.get("profiles", []):
            why = PROFILES[profile].violations(_config(entry), _shapes(entry), entry.get("empty_levels", "stop"))
            not_run.append((entry["id"], f"not in profile {profile}: " + ("; ".join(why) or "not listed")))
        elif select and not any(_matches(token, entry) for token in select):
            not_run.append((entry["id"], "not selected by --select"))
        elif any(_matches(token, entry) for token in skip):
            not_run.append((entry["id"], "skipped by --skip"))
        else:
            run.append(entry)
    if not run:
        raise ValueError(f"no case of the suite is left to run (profile {profile}, "
                         f"select {list(select)}, skip {list(skip)})")
    return run, not_run


def _read_candidate(file, dtype):
    """The candidate's array, or the reason it cannot be judged."""
    try:
        actual = load_npy(file)
    except FileError as error:
        return None, error.problem
    if actual.dtype.kind != "f" or actual.dtype.itemsize not in (4, 8):
        return None, f"must hold float32 or float64; got dtype {actual.dtype}"
    if dtype is not None and actual.dtype != dtype:
        return None, f"has dtype {actual.dtype}; --dtype says {dtype}"
    return actual, ""


def _case_module(entry, arrays):
    """The case's module and latents, rebuilt from the suite's files."""
    config = {key: value for key, value in entry["config"].items() if key != "n_levels"}
    up = Upsampling(**config, empty_levels=entry.get("empty_levels", "stop"))
    up.set_param({name: arrays[f"param.{name}"] for name in up.get_param() if f"param.{name}" in arrays})
    latents = [arrays[f"latent_{i}"] for i in range(entry["config"]["n_levels"])]
    return up, latents


def _bounds(entry, arrays, dtype):
    """Acceptance bounds of every stage for a candidate in ``dtype``.

    Where the expected values come from refups' float64 path rather than the
    exact oracle, they carry rounding errors of their own: the float64 bound
    is added, so that the bound covers both the candidate's and the
    reference's rounding.
    """
    up, latents = _case_module(entry, arrays)
    bounds = stage_bounds(up, latents, dtype)
    if entry["expected"] == "float64":
        reference = stage_bounds(up, latents, np.float64)
        bounds = {stage: bound + reference[stage] for stage, bound in bounds.items()}
    return bounds


def _stage_reason(stage, result, tol, tier):
    held = [f"{result[key]} {label}" for key, label in (("nan", "NaN"), ("inf", "infinite")) if result[key]]
    if held:
        return f"{stage}: holds {' and '.join(held)} value(s) where finite ones are expected"
    if tier == "warn":
        return (f"{stage}: {result['outside_bound']} element(s) outside the acceptance bound (up to "
                f"{result['max_error_over_bound']:.3g} times it), inside the loose tolerance: "
                f"a loss of precision")
    if tier == "pass":
        return f"{stage}: within the acceptance bound, not bit-equal to the correctly rounded value"
    return (f"{stage}: max abs error {result['max_abs']:.3g}, up to {result['max_error_over_bound']:.3g} "
            f"times the acceptance bound, beyond the loose tolerance atol {tol['atol']:.3g} + "
            f"rtol {tol['rtol']:.3g} * |expected|")


def _verify_case(entry, expected, case_dir, dtype, tier):
    tolerance_dtype = "float64" if dtype is None else str(dtype)
    row = {"id": entry["id"], "status": "FAIL", "tier": "fail", "flags": list(entry.get("flags", [])),
           "tolerance": dict(entry["tolerance"][tolerance_dtype], dtype=tolerance_dtype),
           "max_abs": None, "max_rel": None, "max_ulp": None, "max_error_over_bound": None,
           "nan": 0, "inf": 0, "first_stage": None, "reason": "", "cause": None}
    if not (case_dir / "output.npy").is_file():
        row.update(reason=f"missing {case_dir / 'output.npy'}", cause="no output.npy written")
        return row
    worst = {"max_abs": 0.0, "max_rel": 0.0, "max_ulp": 0, "max_error_over_bound": 0.0, "nan": 0, "inf": 0}
    reasons, causes, tiers, bounds, compared = [], [], [], {}, False
    for stage in entry["stages"]:
        file = case_dir / f"{stage}.npy"
        if stage != "output" and not file.is_file():
            continue  # intermediates are optional
        actual, problem = _read_candidate(file, dtype)
        if actual is None:
            reasons.append(f"{stage}: {file.name} {problem}")
            causes.append(f"{stage}.npy cannot be judged")
            tiers.append("fail")
            row["first_stage"] = row["first_stage"] or stage
            continue
        if actual.shape != expected[stage].shape:
            reasons.append(f"{stage}: shape {actual.shape}, expected {expected[stage].shape}; "
                           "no value can be compared")
            causes.append(f"{stage} shape differs")
            row.setdefault("shapes", {})[stage] = [list(actual.shape), list(expected[stage].shape)]
            tiers.append("fail")
            row["first_stage"] = row["first_stage"] or stage
            continue
        compared = True
        name = str(actual.dtype)
        row["tolerance"] = tol = dict(entry["tolerance"][name], dtype=name)
        if name not in bounds:
            bounds[name] = _bounds(entry, expected, actual.dtype)
        rounded = expected[stage + (".f32" if name == "float32" else "")]
        if entry["expected"] != "exact":
            rounded = None  # no correctly rounded value to be bit-equal to
        result = judge(actual, expected[stage], rounded, bounds[name][stage], tol["rtol"], tol["atol"])
        for key in ("max_abs", "max_rel", "max_ulp", "max_error_over_bound"):
            worst[key] = max(worst[key], result[key])
        if stage == "output":
            worst["nan"], worst["inf"] = result["nan"], result["inf"]
        tiers.append(result["tier"])
        if TIERS.index(result["tier"]) > TIERS.index(tier):
            row["first_stage"] = row["first_stage"] or stage
            reasons.append(_stage_reason(stage, result, tol, result["tier"]))
            causes.append(f"{stage} values outside the bound" if result["tier"] == "fail" else
                          f"{stage} values only inside the loose tolerance")
    if compared:  # without any comparable stage, the numbers stay None: printed as '-'
        row.update(worst)
    row["tier"] = max(tiers, key=TIERS.index)
    if reasons:
        row["reason"], row["cause"] = reasons[0], causes[0]
    else:
        row["status"] = "PASS"
    return row


def _shape_relation(pairs):
    """How the candidate's shapes relate to the expected ones, if one rule fits every pair."""
    if any(len(actual) != 4 or len(expected) != 4 for actual, expected in pairs):
        return None  # not (B, C, H, W) on both sides: no rule to state
    axes = []
    for axis, name in enumerate("BCHW"):
        values = {(actual[axis], expected[axis]) for actual, expected in pairs}
        if all(a == e for a, e in values):
            axes.append(name)
        elif all(a == -(-e // 2) for a, e in values):
            axes.append(f"{name}/2" if all(e % 2 == 0 for _, e in values) else f"ceil({name}/2)")
        elif all(a == 2 * e for a, e in values):
            axes.append(f"2{name}")
        elif len({a - e for a, e in values}) == 1:
            (difference,) = {a - e for a, e in values}
            axes.append(f"{name}{difference:+d}")
        else:
            return None
    return f"the candidate returns ({', '.join(axes)}) where (B, C, H, W) is expected"


def common_cause(rows):
    """``(cause, count, detail)`` shared by most failing rows, or None.

    A cause explains a report when it accounts for at least half of the
    failing cases, and at least two of them.

    Examples
    --------
    >>> rows = [{"status": "FAIL", "cause": "output shape differs",
    ...          "shapes": {"output": [[1, 2, 4, 4], [1, 2, 8, 8]]}}] * 3
    >>> common_cause(rows)
    ('output shape differs', 3, 'the candidate returns (B, C, H/2, W/2) where (B, C, H, W) is expected')
    """
    failing = [row for row in rows if row["status"] != "PASS" and row.get("cause")]
    if len(failing) < 2:
        return None
    counts = {}
    for row in failing:
        counts[row["cause"]] = counts.get(row["cause"], 0) + 1
    cause, count = max(counts.items(), key=lambda item: item[1])
    if 2 * count < len([row for row in rows if row["status"] != "PASS"]) or count < 2:
        return None
    stage = cause.split()[0]
    pairs = [row["shapes"][stage] for row in failing if row["cause"] == cause and stage in row.get("shapes", {})]
    detail = _shape_relation(pairs) if pairs and cause.endswith("shape differs") else None
    return cause, count, detail


def _command_cause(reason):
    """The kind of a failed command, without the case-specific details."""
    return reason.split(":")[0].split(" (")[0].split(" after ")[0]


def _called(caller, case, case_dir, dtype, timeout):
    """Call the Python candidate on one case and write its output where ``verify`` reads it."""
    case_dir.mkdir(parents=True, exist_ok=True)
    for stale in [case_dir / "output.npy", *case_dir.glob("transition_*.npy")]:
        stale.unlink(missing_ok=True)
    command, output = caller.call(case, timeout=timeout, dtype=dtype)
    if output is not None:
        try:
            save_npy(case_dir / "output.npy", output)
        except (ValueError, TypeError, OSError) as error:
            command = CaseRun(False, f"the function's output cannot be saved ({error})", command.seconds, "")
    return command


def _run_and_verify(entry, expected, candidate, golden, dtype, tier, run, caller, timeout):
    case_dir = inside(candidate, entry["id"])
    command = None
    if run is not None:
        command = run_case(run, inside(golden, entry["id"]), case_dir, timeout=timeout)
    elif caller is not None:
        command = _called(caller, inside(golden, entry["id"]), case_dir, dtype, timeout)
    row = _verify_case(entry, expected, case_dir, dtype, tier)
    if command is not None:
        row["seconds"], row["stderr"] = round(command.seconds, 3), command.stderr
        if not command.ok:
            row.update(status="FAIL", reason=command.reason, cause=_command_cause(command.reason))
    return row


def _flag_summary(rows):
    summary = {}
    for row in rows:
        for flag in row["flags"]:
            counts = summary.setdefault(flag, {"cases": 0, "failed": 0})
            counts["cases"] += 1
            counts["failed"] += row["status"] != "PASS"
    return summary


def verify(candidate, golden=None, dtype=None, *, profile="full", select=(), skip=(),
           run=None, call=None, timeout=60.0, tier="pass"):
    """Compare a candidate's outputs with a suite; return a report dict.

    ``candidate`` holds ``<case id>/output.npy`` (required) and optionally the
    ``transition_<idx>.*.npy`` intermediates, float32 or float64. ``golden``
    is a suite folder; None uses the committed suite, else generates it in
    memory. ``profile``, ``select`` and ``skip`` choose the cases
    (:func:`select_cases`). ``run``, a command line with ``{case}`` and
    ``{out}``, is first run on every chosen case to produce the candidate's
    files (:func:`refups.runner.run_case`; needs a suite folder), each run
    limited to ``timeout`` seconds. ``call``, a ``"MODULE:FUNCTION"`` under
    the contract of :func:`refups.testing.check_implementation`, is instead
    called on every chosen case in one worker process
    (:class:`refups.inprocess.Caller`, latents cast to ``dtype`` when given),
    and its output written to ``candidate/<case id>/output.npy``.

    Every element is judged against the exact value (:func:`judge`): tiers
    ``exact``, ``pass``, ``warn``, ``fail``; a case's tier is its worst
    element's, and the case passes when its tier is at least ``tier``.

    The report has ``verdict`` (``"PASS"`` or ``"FAIL"``), ``passed``, one row
    per case run (``cases``), the cases not run with their reasons
    (``not_run``) and, per flag, how many of its cases ran and failed (``flags``).

    Examples
    --------
    >>> import tempfile
    >>> report = verify(pathlib.Path(tempfile.mkdtemp()), profile="bitstream", select=["S6.4"])
    >>> report["verdict"], report["cases"][0]["reason"].startswith("missing")
    ('FAIL', True)
    """
    candidate = pathlib.Path(candidate)
    dtype = None if dtype is None else np.dtype(dtype)
    if tier not in TIERS[:-1]:
        raise ValueError(f"--tier must be one of {', '.join(TIERS[:-1])}; got {tier!r}")
    if run is not None and call is not None:
        raise ValueError("--run and --call exclude each other: give a command or a Python function")
    if run is not None or call is not None:
        if run is not None:
            check_command(run)
        else:
            import_target(call)  # a usage error up front, not a failure of every case
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
            raise ValueError(f"--timeout must be a number of seconds > 0; got {timeout!r}")
    elif not candidate.is_dir():
        raise FileError(candidate, "no such folder")
    if golden is None:
        golden = default_suite_path()
    if golden is None:
        if run is not None or call is not None:
            raise ValueError(f"--{'run' if run else 'call'} needs the suite on disk: write one with "
                             "`refups golden --out DIR` and pass --golden DIR")
        manifest, data = generate_suite()
        source = "generated in memory"
    else:
        manifest, data = load_suite(golden)
        source = str(golden)
    entries, not_run = select_cases(manifest, profile, select, skip)
    rows = []
    caller = Caller(call) if call is not None else None
    try:
        for entry in entries:
            rows.append(_run_and_verify(entry, data[entry["id"]], candidate, golden, dtype, tier, run, caller,
                                        timeout))
    finally:
        if caller is not None:
            caller.close()
    passed = all(row["status"] == "PASS" for row in rows)
    for entry in entries:
        row = next(r for r in rows if r["id"] == entry["id"])
        if row["status"] != "PASS":
            row["behaves_like"] = _release_match(entry, data[entry["id"]], inside(candidate, entry["id"]))
    return {"golden": source, "candidate": str(candidate), "profile": profile, "tier": tier,
            "select": list(select), "skip": list(skip), "run": run, "call": call,
            "dtype": None if dtype is None else str(dtype), "tolerance_rule": TOLERANCE_RULE,
            "relative_errors": PLANE_SCALE,
            "verdict": "PASS" if passed else "FAIL", "passed": passed,
            "n_cases": len(manifest["cases"]), "cases": rows,
            "not_run": [{"id": case_id, "reason": reason} for case_id, reason in not_run],
            "flags": _flag_summary(rows), "common_cause": _cause_dict(common_cause(rows)),
            "release": release_verdict(rows)}


def _release_match(entry, arrays, case_dir):
    """The other Cool-chic release line whose result the candidate's output is (S6.8).

    Only on a case where the lines differ (a level below the coarsest without
    channels): ``"Cool-chic 4.0"`` or ``"Cool-chic 4.1"``, ``"no output"``
    when the candidate wrote none (3.4 refuses such a level), else None.
    """
    if not depends_on_release(_shapes(entry)):
        return None
    if not (case_dir / "output.npy").is_file():
        return "no output"
    actual, _ = _read_candidate(case_dir / "output.npy", None)
    if actual is None:
        return None
    up, latents = _case_module(entry, arrays)
    for empty_levels in ("stop", "continue"):
        if empty_levels == up.empty_levels:
            continue
        other = up.on_release_line(empty_levels)
        try:
            expected = other(latents)
        except ValueError:  # e.g. no upsampling filter for the transitions 4.0 would also run
            continue
        if actual.shape != expected.shape:
            continue
        bound = (stage_bounds(other, latents, actual.dtype)["output"]
                 + stage_bounds(other, latents, np.float64)["output"])
        with np.errstate(invalid="ignore", over="ignore"):
            close = np.abs(actual.astype(np.float64) - expected) <= bound + np.finfo(np.float64).eps * np.abs(expected)
        if bool(np.all(close)):
            return release_name(empty_levels)
    return None


def release_verdict(rows):
    """A sentence naming the other Cool-chic release line the failures match, or None (S6.8).

    Every failing case must be one where the release lines differ, and all
    must match the same line: its output (``behaves_like``), or no output
    at all from a program that failed on it (3.4 refuses such a level). The
    sentence names the profile that holds that line's cases.

    Examples
    --------
    >>> print(release_verdict([{"status": "FAIL", "behaves_like": "Cool-chic 4.0"}, {"status": "PASS"}]))
    this implementation behaves like Cool-chic 4.0 on levels without channels: its 1 failing case is 4.0's result, which goes on to full resolution (S6.8) where 4.1 and later stop (S6.4); profile coolchic_4_0 holds that release's cases
    """
    failing = [row for row in rows if row["status"] != "PASS"]
    found = {row.get("behaves_like") for row in failing}
    if not failing or None in found or len(found) > 1:
        return None
    cases = f"{len(failing)} failing case{'s' if len(failing) > 1 else ''}"
    are = "are" if len(failing) > 1 else "is"
    if found == {"Cool-chic 4.0"}:
        return (f"this implementation behaves like Cool-chic 4.0 on levels without channels: its {cases} {are} "
                "4.0's result, which goes on to full resolution (S6.8) where 4.1 and later stop (S6.4); "
                f"profile {RELEASE_PROFILES['continue']} holds that release's cases")
    if found == {"Cool-chic 4.1"}:
        return (f"this implementation behaves like Cool-chic 4.1 and later on levels without channels: its {cases} "
                f"{are} their result, which stops there (S6.4) where 4.0 goes on to full resolution (S6.8); "
                f"profile {RELEASE_PROFILES['stop']} holds that release's cases")
    return (f"this implementation may follow Cool-chic 3.4 on levels without channels: its {cases} "
            f"{'all have' if len(failing) > 1 else 'has'} a level without channels and no output; 3.4 "
            f"refuses such a level (S6.8); profile {RELEASE_PROFILES['error']} leaves such levels out")


def _cause_dict(found):
    return None if found is None else dict(zip(("cause", "cases", "detail"), found))


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def report_to_json(report, path):
    """Write a :func:`verify` report as strict JSON (non-finite numbers as strings).

    Examples
    --------
    >>> import json, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "report.json"
    >>> report_to_json({"max_rel": float("inf"), "max_abs": float("nan")}, path)
    >>> json.loads(path.read_text())
    {'max_rel': 'Infinity', 'max_abs': 'NaN'}
    """
    write_json(path, _json_safe(report))
