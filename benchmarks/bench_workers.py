"""Does the default ``workers`` ever make a call slower than ``workers=1``?

Property tests make thousands of calls on small pyramids, where starting
threads costs more than it saves; large frames gain from them. This times a
5-level pyramid (Cool-chic's 8/7 kernels, one channel per level, random
kernels) at 16x16, 64x64 and 1920x1080 with the default ``workers`` (every
core) and with ``workers=1``, interleaved, and reports the medians and their
ratio (default / single thread; the aim is at most 1.10).

    python benchmarks/bench_workers.py
    python benchmarks/bench_workers.py --json workers.json
"""

import argparse
import json
import os
import statistics
import time

import numpy as np

from refups import Upsampling

SIZES = {"16x16": (16, 16), "64x64": (64, 64), "1080p": (1080, 1920)}


def make_case(H, W, levels=5, seed=0):
    rng = np.random.default_rng(seed)
    up = Upsampling(8, 7, levels - 1, levels - 1)
    up.set_param({name: rng.uniform(-1, 1, value.shape) for name, value in up.get_param().items()})
    latents = []
    for _ in range(levels):
        latents.append(rng.standard_normal((1, 1, H, W)))
        H, W = -(-H // 2), -(-W // 2)
    return up, latents


def median_seconds(call, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rows = []
    for name, (H, W) in SIZES.items():
        up, latents = make_case(H, W)
        calls = 5 if name == "1080p" else 200  # calls per timed run
        runs = {"default": [], "1": []}
        up(latents)  # warm up (and create any pool)
        for _ in range(7):
            for label, workers in (("default", None), ("1", 1)):
                runs[label].append(median_seconds(lambda: up(latents, workers=workers), calls))
        default, single = statistics.median(runs["default"]), statistics.median(runs["1"])
        rows.append({"size": name, "default_ms": 1e3 * default, "workers1_ms": 1e3 * single,
                     "ratio": default / single})
    print(f"cores: {os.cpu_count()}")
    print(f"{'pyramid':<10} {'default ms':>11} {'workers=1 ms':>13} {'ratio':>6}")
    for row in rows:
        print(f"{row['size']:<10} {row['default_ms']:11.3f} {row['workers1_ms']:13.3f} {row['ratio']:6.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"cores": os.cpu_count(), "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
