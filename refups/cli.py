"""The ``refups`` command: ``golden``, ``verify``, ``check``, ``run`` and ``explain``.

Every problem with the user's input is one line on stderr,
``refups <command>: error: <what is wrong>``, and exit status 2.
"""

import argparse
import math
import pathlib
import sys


from . import __version__
from .io import FileError, config_from_params, load_latents, load_params
from .output import Interrupted, interruptible, save_npy
from .limits import check_kernel_size_limit

EXAMPLES = {
    "golden": """\
example:
  refups golden --out golden            # write the suite to ./golden
  refups golden --out golden --force    # replace an existing suite""",
    "verify": """\
CANDIDATE holds one folder per case id with your implementation's output.npy
(and, optionally, transition_<idx>.upsampled.npy / .prefiltered.npy), float32
or float64, computed from the suite's latent_<i>.npy and params.json (or
case.txt). With --run, refups runs COMMAND on every selected case first:
{case} becomes the case folder, {out} the folder CANDIDATE/<case id> where
the command writes output.npy. A crash, a timeout or a missing output fails
that case only. With --call, refups calls the Python function
MODULE:FUNCTION(latents, params, config) on every selected case instead, in
one worker process that imports it once (much faster than a command per
case), and writes what it returns to CANDIDATE/<case id>/output.npy.

--select and --skip take case ids, flags or clause ids (S6 also matches
S6.1 ... S6.8), comma-separated or repeated; --list-profiles and --list-flags
describe them. Profiles coolchic_4_0 and coolchic_3_4 hold the cases of older
Cool-chic releases (spec S6.8); a failure that one of them explains is named.

exit status: 0 every case run passes, 1 some case fails, 2 unusable input.

example:
  refups verify mine --profile coolchic
  refups verify out --profile bitstream --run './decoder {case} {out}' --timeout 30
  refups verify mine --select phase_k2mod4,S6.4 --json report.json
  refups verify out --profile coolchic --call my_upsampling:upsample --dtype float32
  refups verify out --profile coolchic_4_0 --call my_port:upsample  # a Cool-chic 4.0 port""",
    "explain": """\
Without arguments: the worked example of SPEC S4, (1, 2, 4) with the k = 4
bilinear kernel, giving 1 1.25 1.75 2.5 3.5 4. --prefilter walks through the
pre-concatenation filter of S5 instead (default input 1,2;3,4, kernel the
initial impulse of size 3, or --half with k = 2 * len - 1), --pyramid through
the transitions of S6: shapes only, or every tensor when --input gives the
levels, finest first, separated by '|' (one channel each; upsampling kernel
from --k or --half, default the initial k = 8). Output is wrapped to the
terminal's width (--width); wide tables are cut into blocks of columns.

example:
  refups explain
  refups explain --input "1,2;3,4" --k 4      # a 2-D input: rows separated by ';'
  refups explain --input 0,0,1,0,0 --k 8      # impulse response of the bicubic init
  refups explain --half 0.1,-0.2,0.6          # your own half-kernel (k = 6)
  refups explain --prefilter --half 0.5,1     # S5 with the kernel (0.5, 1, 0.5)
  refups explain --pyramid
  refups explain --pyramid --k 4 --input '1,2,3,4;5,6,7,8;9,10,11,12|1,2;3,4|5'""",
    "check": """\
MODULE:FUNCTION names your implementation under the candidate contract
candidate(latents, params, config) -> array (see refups.testing); MODULE is
imported from the current folder or PYTHONPATH. It is compared with the
reference on drawn cases inside the profile; a failure is shrunk to a small
case and printed with a ready-to-paste reproducer. The same --seed gives the
same run.

exit status: 0 pass, 1 a failing case (report and reproducer), 2 usage error.

example:
  refups check my_upsampling:upsample
  refups check my_upsampling:upsample --profile full --dtype float32 --max-examples 500 --seed 1
  refups check my_upsampling:upsample --skip S6.4 --keep-going
  refups check my_port:upsample --profile coolchic_3_4   # a port of Cool-chic 3.4""",
    "add-case": """\
The case is written in the golden layout (latent_<i>.npy, params.json,
case.txt, expected stages) and listed in SUITE/manifest.json, so that
`refups verify --golden SUITE` and `--run` work on it as on the shipped
suite. The configuration is read from the parameter names and shapes. The
manifest says whether the expected values are exact or refups' float64 path
(then the acceptance bounds also cover the reference's own rounding).
Nothing is written unless the whole case is.

example:
  refups add-case mine --id frame0 --params params.json --latents y0.npy y1.npy y2.npy
  refups add-case mine --id frame1 --params model.pt --prefix upsampling. --latents levels.npz
  refups verify out --golden mine --run './decoder {case} {out}'""",
    "run": """\
The configuration is read from the parameter names and shapes (Cool-chic's
get_param() names, SPEC S8); give the kernel sizes explicitly when a kind has
no filter.

example:
  refups run --params params.json --latents y0.npy y1.npy y2.npy --out dense.npy
  refups run --params model.pt --prefix upsampling. --latents y*.npy --out dense.npy""",
}


def _parser():
    parser = argparse.ArgumentParser(
        prog="refups",
        description="Reference implementation of Cool-chic's latent Upsampling module.",
    )
    parser.add_argument("--version", action="version", version=f"refups {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_text):
        return commands.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES[name],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)

    golden = add("golden", "Write the golden-reference suite (inputs, parameters, expected outputs).")
    golden.add_argument("--out", required=True, type=pathlib.Path, help="folder to create")
    golden.add_argument("--force", action="store_true", help="replace a non-empty folder")

    verify = add("verify", "Check a candidate implementation's outputs against the golden suite.")
    verify.add_argument("candidate", type=pathlib.Path, metavar="CANDIDATE", nargs="?")
    verify.add_argument("--golden", type=pathlib.Path, metavar="DIR",
                        help="suite folder (default: the committed suite, else one generated in memory)")
    verify.add_argument("--profile", default="full", metavar="NAME",
                        help="run the cases of this profile: full (default), coolchic, bitstream, "
                             "coolchic_4_0, coolchic_3_4 (see --list-profiles)")
    verify.add_argument("--select", action="append", default=[], metavar="TOKENS",
                        help="run only cases matching a case id, flag or clause id")
    verify.add_argument("--skip", action="append", default=[], metavar="TOKENS",
                        help="do not run cases matching a case id, flag or clause id")
    verify.add_argument("--run", metavar="COMMAND",
                        help="shell command run on every case first, with {case} and {out}")
    verify.add_argument("--call", metavar="MODULE:FUNCTION",
                        help="call a Python function on every case first, in one worker process (the "
                             "contract of `refups check`; with --dtype, the latents are cast to it)")
    verify.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="time limit of one case's --run command or --call (default: 60)")
    verify.add_argument("--dtype", choices=["float32", "float64"],
                        help="require the candidate's files to have this dtype")
    verify.add_argument("--tier", choices=["exact", "pass", "warn"], default="pass",
                        help="the lowest tier that passes (default: pass; see docs/tolerances.md)")
    verify.add_argument("--json", type=pathlib.Path, metavar="REPORT", help="also write the report as JSON")
    verify.add_argument("--list-profiles", action="store_true", help="describe the profiles and exit")
    verify.add_argument("--list-flags", action="store_true", help="describe the flags and exit")

    check = add("check", "Property-test your implementation against the reference on drawn cases.")
    check.add_argument("target", metavar="MODULE:FUNCTION", help="your implementation, e.g. mine:upsample")
    check.add_argument("--profile", default="coolchic", metavar="NAME",
                       help="draw inputs inside this profile: coolchic (default), bitstream, full, "
                            "coolchic_4_0, coolchic_3_4")
    check.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                       help="dtype of the latents given to your function (default: float64)")
    check.add_argument("--max-examples", type=int, default=100, metavar="N",
                       help="number of drawn cases (default: 100)")
    check.add_argument("--seed", type=int, metavar="S", help="seed of the drawn cases (default: random)")
    check.add_argument("--skip", action="append", default=[], metavar="TOKENS",
                       help="leave out inputs showing a behaviour, by flag or clause id (S6.4, S6.5, S6.7, "
                            "empty_coarsest, batch_mixing)")
    check.add_argument("--select", action="append", default=[], metavar="TOKENS",
                       help="keep to inputs showing a behaviour (same names as --skip)")
    check.add_argument("--keep-going", action="store_true",
                       help="go on past a failure, leaving out its behaviours, and report every distinct one")

    explain = add("explain", "Print every intermediate of the upsampling filter (S4), the pre-concatenation "
                             "filter (S5) or a pyramid (S6).")
    explain.add_argument("--input", metavar="VALUES",
                         help="comma-separated samples; ';' separates the rows of a 2-D input, '|' the levels "
                              "of a --pyramid (default: 1,2,4; with --prefilter 1,2;3,4)")
    explain.add_argument("--k", type=int, help="kernel size, with its initial half-kernel (default: 4; "
                                               "with --prefilter 3, with --pyramid 8)")
    explain.add_argument("--half", metavar="VALUES",
                         help="comma-separated half-kernel (k = 2 * its length; with --prefilter 2 * length - 1)")
    explain.add_argument("--prefilter", action="store_true",
                         help="walk through the pre-concatenation filter (S5) instead of the upsampling filter")
    explain.add_argument("--pyramid", action="store_true",
                         help="walk through each transition of a pyramid (S6): shapes, or every tensor with --input")
    explain.add_argument("--width", type=int, metavar="COLUMNS",
                         help="wrap the output at COLUMNS characters (default: the terminal's width; 0: never)")

    run = add("run", "Run the reference Upsampling on your own parameters and latents.")
    run.add_argument("--params", required=True, type=pathlib.Path,
                     help=".json, .npz, or .pt (needs torch) under Cool-chic's names; biases may be left out")
    run.add_argument("--latents", required=True, type=pathlib.Path, nargs="+", metavar="LATENT",
                     help=".npy files, (B, C_i, H_i, W_i), finest level first, or one .npz of all levels")
    run.add_argument("--out", required=True, type=pathlib.Path, help=".npy file to write")
    run.add_argument("--ups-k-size", type=int, help="upsampling kernel size (default: inferred)")
    run.add_argument("--ups-preconcat-k-size", type=int, help="pre-concatenation kernel size (default: inferred)")
    run.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                     help="computation dtype (default: float64, the reference, whatever the latents' dtype; "
                          "float32 emulates a single-precision implementation)")
    run.add_argument("--dense", action="store_true", help="use the dense 2-D path (Cool-chic's training mode)")
    run.add_argument("--empty-levels", choices=["stop", "continue", "error"], default="stop",
                     help="a level without channels: stop (Cool-chic 4.1 and later, default), continue "
                          "(Cool-chic 4.0) or error (Cool-chic 3.4); spec S6.8")
    run.add_argument("--prefix", default="", metavar="PREFIX",
                     help="use only the parameters whose names start with PREFIX, without it "
                          "(e.g. 'upsampling.' in a whole model's state dict)")
    run.add_argument("--trace", type=pathlib.Path, metavar="DIR",
                     help="also write every intermediate to DIR (new or empty), laid out as a golden case")

    case = add("add-case", "Turn your own latents and parameters into a golden case, in a suite folder of your own.")
    case.add_argument("suite", type=pathlib.Path, metavar="SUITE",
                      help="suite folder: created if new or empty, else the case is added to its manifest")
    case.add_argument("--id", required=True, metavar="CASE_ID", help="the case's id, [a-z0-9_]+")
    case.add_argument("--params", required=True, type=pathlib.Path,
                      help=".json, .npz, or .pt (needs torch) under Cool-chic's names; biases may be left out")
    case.add_argument("--latents", required=True, type=pathlib.Path, nargs="+", metavar="LATENT",
                      help=".npy files, (B, C_i, H_i, W_i), finest level first, or one .npz of all levels")
    case.add_argument("--prefix", default="", metavar="PREFIX",
                      help="use only the parameters whose names start with PREFIX, without it")
    case.add_argument("--expected", choices=["auto", "exact", "float64"], default="auto",
                      help="expected values: exact (correctly rounded) or refups' float64 path; auto: exact up "
                           "to 3840x2160 samples in the finest level reached (default)")
    case.add_argument("--description", metavar="TEXT", help="what the case is (default: its sizes)")
    case.add_argument("--empty-levels", choices=["stop", "continue", "error"], default="stop",
                      help="the release line the expected values follow on a level without channels: stop "
                           "(Cool-chic 4.1 and later, default), continue (4.0) or error (3.4); spec S6.8")
    case.add_argument("--force", action="store_true", help="replace a case of the same id")
    return parser


def _cmd_golden(args):
    from .cases import CASES
    from .suite import write_suite

    write_suite(args.out, force=args.force)
    print(f"wrote {len(CASES)} cases to {args.out}")
    return 0


def _format_number(value, spec):
    width = int(spec.split(".")[0].rstrip("dge"))
    if value is None:  # nothing could be compared (e.g. a shape mismatch)
        return "-".rjust(width)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).rjust(width)
    return format(value, spec)


def _tokens(values):
    return [token for value in values for token in value.split(",") if token]


def _list_profiles(cases):
    from .profiles import PROFILES

    for name, profile in PROFILES.items():
        count = sum(name in case.profiles for case in cases)
        print(f"{name}: {profile.summary} ({count} of {len(cases)} cases)")
        for rule in profile.rules:
            print(f"  - {rule}")


def _list_flags(cases):
    from .flags import FLAGS

    width = max(map(len, FLAGS))
    for name, flag in FLAGS.items():
        ids = [case.id for case in cases if name in case.flags]
        print(f"{name:<{width}}  {flag.bug} [{', '.join(flag.clauses)}; "
              f"profiles {', '.join(flag.profiles)}; {len(ids)} cases]")


def _print_report(report):
    rows = report["cases"]
    print(f"golden: {report['golden']}")
    print(f"profile {report['profile']}: running {len(rows)} of {report['n_cases']} cases"
          + (f"; {len(report['not_run'])} not run:" if report["not_run"] else ""))
    for item in report["not_run"]:
        print(f"  {item['id']}: {item['reason']}")
    width = max(len(row["id"]) for row in rows)
    from .verification import PLANE_SCALE

    print(f"columns: err/bound is the largest error over its acceptance bound; {PLANE_SCALE}")
    print(f"{'case':<{width}}  {'dtype':<7}  {'err/bound':>9}  {'max abs':>9}  {'max rel':>9}  "
          f"{'max ulp':>9}  {'tier':<5}  {'first stage':<26}  verdict")
    for row in rows:
        print(f"{row['id']:<{width}}  {row['tolerance']['dtype']:<7}  "
              f"{_format_number(row['max_error_over_bound'], '9.3g')}  {_format_number(row['max_abs'], '9.2e')}  "
              f"{_format_number(row['max_rel'], '9.2e')}  {_format_number(row['max_ulp'], '9d')}  "
              f"{row['tier']:<5}  {row['first_stage'] or '-':<26}  {row['status']}"
              + (f"  ({row['reason']})" if row["reason"] else ""))
        if row["status"] != "PASS" and row.get("stderr"):
            print("    stderr: " + row["stderr"].splitlines()[-1][:200])
    passed = sum(row["status"] == "PASS" for row in rows)
    cause = report.get("common_cause")
    if cause:
        print(f"common cause: {cause['cases']} of {len(rows) - passed} failing cases: {cause['cause']}"
              + (f"; {cause['detail']}" if cause["detail"] else ""))
    if report.get("release"):
        print(f"release: {report['release']}")
    failed_flags = {flag: counts for flag, counts in report["flags"].items() if counts["failed"]}
    if failed_flags:
        print("failed flags: " + ", ".join(
            f"{flag} ({counts['failed']} of {counts['cases']} cases)"
            for flag, counts in sorted(failed_flags.items(), key=lambda item: -item[1]["failed"])))
    print(f"verify: {passed} passed, {len(rows) - passed} failed")
    tiers = ", ".join(f"{sum(row['tier'] == tier for row in rows)} {tier}"
                      for tier in ("exact", "pass", "warn", "fail"))
    print(f"tiers: {tiers} (lowest passing tier: {report['tier']})")
    print(f"verdict for profile {report['profile']}: {report['verdict']} "
          f"({passed} of {len(rows)} cases passed)")


def _cmd_verify(args):
    from .cases import CASES
    from .verification import report_to_json, verify

    if args.list_profiles or args.list_flags:
        (_list_profiles if args.list_profiles else _list_flags)(CASES)
        return 0
    if args.candidate is None:
        raise ValueError("CANDIDATE (the folder of your outputs) is required")
    report = verify(args.candidate, golden=args.golden, dtype=args.dtype, profile=args.profile,
                    select=_tokens(args.select), skip=_tokens(args.skip), run=args.run, call=args.call,
                    timeout=args.timeout, tier=args.tier)
    _print_report(report)
    if args.json is not None:
        report_to_json(report, args.json)
    return 0 if report["passed"] else 1


def _numbers(text, name):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers; got {text!r}") from None


def _cmd_explain(args):
    import shutil

    from . import explain
    from .kernels import check_preconcat_kernel_size, check_ups_kernel_size

    if args.pyramid and args.prefilter:
        raise ValueError("--pyramid and --prefilter cannot be combined; choose one walk-through")
    if args.width is not None and args.width < 0:
        raise ValueError(f"--width must be >= 0 (0: no limit); got {args.width}")
    width = (shutil.get_terminal_size().columns if args.width is None else args.width) or None
    half = None if args.half is None else _numbers(args.half, "--half")
    if args.prefilter:  # S5: odd sizes, k = 2 * len(half) - 1
        k = None if args.k is None else check_preconcat_kernel_size(args.k, "--k")
        if half is not None and k is not None and k != 2 * len(half) - 1:
            raise ValueError(f"--k must be 2 * len(--half) - 1 = {2 * len(half) - 1} with --prefilter; got {k}")
        x = explain.parse_grid("1,2;3,4" if args.input is None else args.input, "--input")
        print(explain.explain_prefilter(x, half, k, width=width))
        return 0
    if half is not None and len(half) < 2:  # S2: k = 2 * len(half) must be even and >= 4
        raise ValueError(f"--half must have at least 2 values, since the kernel size k = 2 * len(--half) "
                         f"must be >= 4 (S2); got {len(half)} value (k = {2 * len(half)})")
    k = None if args.k is None else check_ups_kernel_size(args.k, "--k")
    if half is not None and k is not None and k != 2 * len(half):
        raise ValueError(f"--k must be 2 * len(--half) = {2 * len(half)}; got {k}")
    if args.pyramid:
        latents = None
        if args.input is not None:  # the user's levels, one channel each
            latents = [level[None, None] for level in explain.parse_levels(args.input, "--input")]
        try:
            text = explain.explain_pyramid(latents=latents, ups_k_size=k or 8, ups_half=half, width=width)
        except ValueError as error:
            raise ValueError(f"--input levels: {error}") from None
        print(text)
        return 0
    x = explain.parse_grid("1,2,4" if args.input is None else args.input, "--input")
    if x.shape[0] == 1:
        print(explain.explain_1d(x[0], half, k, width=width))
    else:
        print(explain.explain_2d(x, half, k, width=width))
    return 0


def _params(args):
    """The parameters of ``--params``, cut to ``--prefix``, their layout checked."""
    from .io import check_param_layout

    params = load_params(args.params)
    if args.prefix:
        params = {name[len(args.prefix):]: value for name, value in params.items()
                  if name.startswith(args.prefix)}
        if not params:
            raise FileError(args.params, f"has no parameter whose name starts with {args.prefix!r}")
    check_param_layout(params, args.params)
    return params


def _cmd_add_case(args):
    from .usercases import add_case

    params = _params(args)
    latents = load_latents(args.latents)
    source = (f"your own data: latents {' '.join(p.name for p in args.latents)}, parameters {args.params.name}"
              + (f" (prefix {args.prefix})" if args.prefix else ""))
    entry = add_case(args.suite, args.id, latents, params, description=args.description, source=source,
                     expected=args.expected, force=args.force, empty_levels=args.empty_levels)
    print(f"added case {entry['id']} to {args.suite}: expected values {entry['expected']}, profiles "
          f"{', '.join(entry['profiles'])}, output {tuple(entry['files'][-1]['shape'])}")
    print(f"verify an implementation on it: refups verify OUT --golden {args.suite} --run 'COMMAND {{case}} {{out}}'")
    return 0


def _cmd_run(args):
    from .output import check_output
    from .upsampling import Upsampling

    check_output(args.out)  # before any work: never a folder, link, device or FIFO
    params = _params(args)
    latents = load_latents(args.latents)
    up = Upsampling(*config_from_params(params, args.ups_k_size, args.ups_preconcat_k_size),
                    empty_levels=args.empty_levels)
    up.set_param(params)
    latents = [y.astype(args.dtype) for y in latents]  # float64 unless float32 emulation is asked for
    if args.trace is not None:  # the intermediates too, in a golden case's layout
        from .explain import write_trace

        out = write_trace(args.trace, up.train(args.dense), latents).output
    else:
        out = up.train(args.dense)(latents)
    save_npy(args.out, out)
    print(f"wrote {args.out}: shape {out.shape}, dtype {out.dtype}, {up!r}")
    return 0


def _cmd_check(args):
    from .testing import check_implementation

    from .inprocess import import_target

    candidate = import_target(args.target)
    try:
        check_implementation(candidate, profile=args.profile, dtype=args.dtype,
                             max_examples=args.max_examples, seed=args.seed, skip=_tokens(args.skip),
                             select=_tokens(args.select), keep_going=args.keep_going)
    except AssertionError as failure:
        print(f"check {args.target}: FAIL (profile {args.profile}, {args.dtype})\n\n{failure}")
        return 1
    print(f"check {args.target}: PASS ({args.max_examples} drawn cases, profile {args.profile}, "
          f"{args.dtype}" + (f", seed {args.seed})" if args.seed is not None else ")"))
    return 0


def main(argv=None):
    """Entry point of the ``refups`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    command = {"golden": _cmd_golden, "verify": _cmd_verify, "run": _cmd_run, "check": _cmd_check,
               "explain": _cmd_explain, "add-case": _cmd_add_case}[args.command]
    try:
        with interruptible():  # SIGINT, SIGTERM: clean up, one line, exit 130 / 143
            for flag in ("--k", "--ups-k-size", "--ups-preconcat-k-size"):
                value = getattr(args, flag[2:].replace("-", "_"), None)
                if value is not None:
                    check_kernel_size_limit(value, flag)
            return command(args)
    except Interrupted as interruption:
        print(f"refups {args.command}: {interruption}", file=sys.stderr)
        return interruption.status
    except (FileError, ValueError, TypeError, OSError, MemoryError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"refups {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
