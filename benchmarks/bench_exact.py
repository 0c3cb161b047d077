"""The exact oracle at real image sizes: its cost as a multiple of the float64 forward pass.

For every real model of ``refups/real_models`` (Cool-chic's own decoded
pyramids, 480x832 to 1360x2048, kernels 8 and 7, 7 levels) and a synthetic
3840x2160 pyramid made like them (kernels on a ``2**-s`` grid, integer
latents in [-64, 63], mostly zeros), in one process:

* the float64 separable forward pass, ``up(latents)`` (all cores, the default);
* the exact oracle, ``upsampling_exact_rounded(up, latents)`` (float64);
* the acceptance bounds, ``stage_bounds(up, latents, float64)``;

each timed with the forward pass in its own loop, in the order forward,
X, X, forward (repeated; medians): on this kind of machine a call's time
depends on the call before it (after the exact oracle, the bounds ran up to
15% slower), and in that order each of the two follows itself and the
other equally often. Peak memory of each is measured with
tracemalloc in separate runs. The figures are the ratios to the forward
pass on the same input, not the absolute times.

    python benchmarks/bench_exact.py                       # every model and 4K, table
    python benchmarks/bench_exact.py --models kodim14 --repeats 3 --json exact.json
    python benchmarks/bench_exact.py --slow kodim14        # also the Python-integer oracle, once
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np
import scipy

import refups
from refups import Upsampling
from refups.bounds import stage_bounds
from refups.exact import upsampling_exact, upsampling_exact_rounded
from refups.realdata import REAL_MODELS, real_model

SYNTHETIC = {"synthetic_4k": (2160, 3840)}


def synthetic(H, W, seed=0):
    """A decoded-like model: 8/7 kernels near the initial ones on a 2**-s grid, sparse integer latents."""
    rng = np.random.default_rng(seed)
    up = Upsampling(8, 7, 6, 6)
    params = {}
    for name, value in up.get_param().items():
        step = 2.0 ** -int(rng.integers(8, 13))
        params[name] = np.round((value + rng.normal(0, 0.02, value.shape)) / step) * step
    up.set_param(params)
    latents = []
    for _ in range(7):
        values = np.clip(np.round(rng.laplace(0, 8, (1, 1, H, W))), -64, 63)
        latents.append(np.where(rng.random((1, 1, H, W)) < 0.8, 0.0, values))
        H, W = -(-H // 2), -(-W // 2)
    return up, latents


def model(name):
    if name in SYNTHETIC:
        return synthetic(*SYNTHETIC[name])
    data = real_model(name)
    up = Upsampling(*data.config)
    up.set_param(data.params)
    return up, data.latents


def runs(up, latents):
    return {"forward": lambda: up(latents),
            "exact": lambda: upsampling_exact_rounded(up, latents),
            "bounds": lambda: stage_bounds(up, latents, np.float64)}


def time_in_blocks(forward, other, repeats):
    """Medians of ``forward()`` and ``other()`` called in the order forward, other, other, forward, repeated."""
    times = {"forward": [], "other": []}
    for _ in range(repeats):
        for name, call in (("forward", forward), ("other", other), ("other", other), ("forward", forward)):
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["forward"]), statistics.median(times["other"])


def peak_memory(call):
    """tracemalloc peak during ``call()``, beyond what existed before."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    call()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak


def main(argv=None):
    parser = argparse.ArgumentParser(description="Time the exact oracle and the bounds against the float64 path.")
    parser.add_argument("--models", nargs="+", choices=[*REAL_MODELS, *SYNTHETIC],
                        default=[*REAL_MODELS, *SYNTHETIC])
    parser.add_argument("--repeats", type=int, default=3, help="blocks forward, X, X, forward for each X (median of 2 x repeats runs)")
    parser.add_argument("--slow", nargs="*", default=[], choices=[*REAL_MODELS],
                        help="also time the Python-integer oracle (upsampling_exact) once on these")
    parser.add_argument("--json", type=pathlib.Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cores": os.cpu_count(),
               "numpy": np.__version__, "scipy": scipy.__version__, "refups": refups.__version__}
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    print(f"median of {2 * args.repeats} runs of each, in blocks forward, X, X, forward with the float64 forward "
          f"pass on the same input; ratios to that forward pass")
    print(f"{'model':<22} {'level 0':>10} {'forward s':>9} {'exact s':>8} {'exact/fwd':>9} {'bounds/fwd':>10} "
          f"{'mem exact/fwd':>13} {'mem bounds/fwd':>14}")
    results = {"machine": machine, "repeats": args.repeats, "models": {}}
    for name in args.models:
        up, latents = model(name)
        calls = runs(up, latents)
        for call in calls.values():
            call()  # warm-up: thread pool, allocator
        medians = {}
        medians["forward"], medians["exact"] = time_in_blocks(calls["forward"], calls["exact"], args.repeats)
        medians["forward_with_bounds"], medians["bounds"] = time_in_blocks(calls["forward"], calls["bounds"],
                                                                             args.repeats)
        ratios = {"exact": medians["exact"] / medians["forward"],
                  "bounds": medians["bounds"] / medians["forward_with_bounds"]}
        memory = {key: peak_memory(call) for key, call in calls.items()}
        entry = {"level0": list(np.shape(latents[0])), "median_seconds": medians, "peak_traced_bytes": memory,
                 "ratio_exact": ratios["exact"], "ratio_bounds": ratios["bounds"],
                 "memory_ratio_exact": memory["exact"] / memory["forward"],
                 "memory_ratio_bounds": memory["bounds"] / memory["forward"]}
        if name in args.slow:
            start = time.perf_counter()
            upsampling_exact(up, latents).to_float(np.float64)
            entry["slow_exact_seconds"] = time.perf_counter() - start
        H, W = np.shape(latents[0])[2:]
        print(f"{name:<22} {f'{H}x{W}':>10} {medians['forward']:9.3f} {medians['exact']:8.3f} "
              f"{entry['ratio_exact']:9.1f} {entry['ratio_bounds']:10.2f} {entry['memory_ratio_exact']:13.2f} "
              f"{entry['memory_ratio_bounds']:14.2f}", flush=True)
        if "slow_exact_seconds" in entry:
            print(f"{'':<22} the Python-integer oracle: {entry['slow_exact_seconds']:.1f} s "
                  f"({entry['slow_exact_seconds'] / medians['forward']:.0f} x the forward pass)")
        results["models"][name] = entry
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
