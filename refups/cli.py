"""The ``refups`` command: ``golden``, ``verify``, ``run`` and ``explain``.

Every problem with the user's input is one line on stderr,
``refups <command>: error: <what is wrong>``, and exit status 2.
"""

import argparse
import pathlib
import re
import sys

import numpy as np

from . import __version__
from .io import FileError, load_npy, load_params, save_npy, write_json

EXAMPLES = {
    "golden": """\
example:
  refups golden --out golden            # write the suite to ./golden
  refups golden --out golden --force    # replace an existing suite""",
    "verify": """\
CANDIDATE holds one folder per case id with your implementation's output.npy
(and, optionally, transition_<idx>.upsampled.npy / .prefiltered.npy), float32
or float64, computed from the suite's latent_<i>.npy and params.json.

exit status: 0 all cases pass, 1 some case fails, 2 unreadable input.

example:
  refups golden --out golden
  my-implementation golden mine          # writes mine/<case id>/output.npy
  refups verify mine --golden golden --json report.json""",
    "explain": """\
Without arguments: the worked example of SPEC S4, (1, 2, 4) with the k = 4
bilinear kernel, giving 1 1.25 1.75 2.5 3.5 4.

example:
  refups explain
  refups explain --input "1,2;3,4" --k 4      # a 2-D input: rows separated by ';'
  refups explain --input 0,0,1,0,0 --k 8      # impulse response of the bicubic init
  refups explain --half 0.1,-0.2,0.6          # your own half-kernel (k = 6)
  refups explain --pyramid""",
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
    verify.add_argument("candidate", type=pathlib.Path, metavar="CANDIDATE")
    verify.add_argument("--golden", type=pathlib.Path, metavar="DIR",
                        help="suite folder (default: the committed suite, else one generated in memory)")
    verify.add_argument("--dtype", choices=["float32", "float64"],
                        help="require the candidate's files to have this dtype")
    verify.add_argument("--json", type=pathlib.Path, metavar="REPORT", help="also write the report as JSON")

    explain = add("explain", "Print every intermediate of the upsampling filter (S4), or of a small pyramid (S6).")
    explain.add_argument("--input", default="1,2,4", metavar="VALUES",
                         help="comma-separated samples; ';' separates the rows of a 2-D input (default: 1,2,4)")
    explain.add_argument("--k", type=int, help="kernel size, with its initial half-kernel (default: 4)")
    explain.add_argument("--half", metavar="VALUES", help="comma-separated half-kernel (k = 2 * its length)")
    explain.add_argument("--pyramid", action="store_true", help="walk through each transition of a small pyramid")

    run = add("run", "Run the reference Upsampling on your own parameters and latents.")
    run.add_argument("--params", required=True, type=pathlib.Path,
                     help=".json, .npz, or .pt (needs torch) under Cool-chic's names")
    run.add_argument("--latents", required=True, type=pathlib.Path, nargs="+", metavar="LATENT",
                     help=".npy files, (B, C_i, H_i, W_i), finest level first")
    run.add_argument("--out", required=True, type=pathlib.Path, help=".npy file to write")
    run.add_argument("--ups-k-size", type=int, help="upsampling kernel size (default: inferred)")
    run.add_argument("--ups-preconcat-k-size", type=int, help="pre-concatenation kernel size (default: inferred)")
    run.add_argument("--dtype", choices=["float32", "float64"], help="computation dtype (default: the latents')")
    run.add_argument("--dense", action="store_true", help="use the dense 2-D path (Cool-chic's training mode)")
    run.add_argument("--prefix", default="", metavar="PREFIX",
                     help="use only the parameters whose names start with PREFIX, without it "
                          "(e.g. 'upsampling.' in a whole model's state dict)")
    return parser


def _cmd_golden(args):
    from .golden import CASES, write_suite

    write_suite(args.out, force=args.force)
    print(f"wrote {len(CASES)} cases to {args.out}")
    return 0


def _format_number(value, spec):
    return "-" if value is None else format(value, spec)


def _cmd_verify(args):
    from .golden import verify

    report = verify(args.candidate, golden=args.golden, dtype=args.dtype)
    width = max(len(row["id"]) for row in report["cases"])
    print(f"golden: {report['golden']}")
    print(f"{'case':<{width}}  {'max abs':>9}  {'max rel':>9}  {'max ulp':>9}  {'first stage':<26}  result")
    for row in report["cases"]:
        print(f"{row['id']:<{width}}  {_format_number(row['max_abs'], '9.2e')}  "
              f"{_format_number(row['max_rel'], '9.2e')}  {_format_number(row['max_ulp'], '9d')}  "
              f"{row['first_stage'] or '-':<26}  {row['status']}"
              + (f"  ({row['reason']})" if row["reason"] else ""))
    passed = sum(row["status"] == "PASS" for row in report["cases"])
    print(f"verify: {passed} passed, {len(report['cases']) - passed} failed")
    if args.json is not None:
        write_json(args.json, report)
    return 0 if report["passed"] else 1


def _numbers(text, name):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers; got {text!r}") from None


def _cmd_explain(args):
    from .explain import explain_1d, explain_2d, explain_pyramid
    from .kernels import check_ups_kernel_size

    if args.pyramid:
        print(explain_pyramid())
        return 0
    half = None if args.half is None else _numbers(args.half, "--half")
    k = check_ups_kernel_size(args.k, "--k") if args.k is not None else (None if half else 4)
    if half is not None and k is not None and k != 2 * len(half):
        raise ValueError(f"--k must be 2 * len(--half) = {2 * len(half)}; got {k}")
    rows = [_numbers(row, "--input") for row in args.input.split(";")]
    if len(rows) == 1:
        print(explain_1d(rows[0], half, k))
    elif len({len(row) for row in rows}) != 1:
        raise ValueError(f"--input rows must all have the same length; got {[len(r) for r in rows]}")
    else:
        print(explain_2d(rows, half, k))
    return 0


def config_from_params(params, ups_k_size=None, ups_preconcat_k_size=None):
    """``(ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel)``
    read from parameter names and half-kernel lengths (S1, S8); explicit sizes win."""
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


def _cmd_run(args):
    from .upsampling import Upsampling

    params = load_params(args.params)
    if args.prefix:
        params = {name[len(args.prefix):]: value for name, value in params.items()
                  if name.startswith(args.prefix)}
        if not params:
            raise FileError(args.params, f"has no parameter whose name starts with {args.prefix!r}")
    latents = [load_npy(path) for path in args.latents]
    up = Upsampling(*config_from_params(params, args.ups_k_size, args.ups_preconcat_k_size))
    up.set_param(params)
    if args.dtype:
        latents = [y.astype(args.dtype) for y in latents]
    out = up.train(args.dense)(latents)
    save_npy(args.out, out)
    print(f"wrote {args.out}: shape {out.shape}, dtype {out.dtype}, {up!r}")
    return 0


def main(argv=None):
    """Entry point of the ``refups`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    command = {"golden": _cmd_golden, "verify": _cmd_verify, "run": _cmd_run,
               "explain": _cmd_explain}[args.command]
    try:
        return command(args)
    except (FileError, ValueError, TypeError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"refups {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
