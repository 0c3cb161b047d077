"""Benchmark refups against an equivalent PyTorch implementation (issue: performance).

Cool-chic's default configuration (upsampling kernels of 8, pre-concatenation
kernels of 7, 7 levels, one channel per level, random kernels) at 1920x1080
and 3840x2160. Candidates run interleaved (one run of each, repeated), and
the median of each is reported, with the ratio refups / PyTorch for the same
dtype, PyTorch being the evaluation-mode (separable) implementation of
``examples/torch_upsampling.py`` at its default thread count. Peak memory is
measured with tracemalloc (NumPy reports its allocations to it) in separate
runs, relative to the output's size, and the peak resident size of a fresh
process that runs only refups.

    python benchmarks/bench.py                  # both sizes, table
    python benchmarks/bench.py --sizes 1080p --repeats 3 --json bench.json
"""

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import scipy

import refups
from refups import Upsampling

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIZES = {"1080p": (1080, 1920), "4k": (2160, 3840)}


def make_case(H, W, seed=0):
    """Random kernels and standard-normal latents, one channel per level, 7 levels."""
    rng = np.random.default_rng(seed)
    up = Upsampling(8, 7, 6, 6)
    up.set_param({name: rng.uniform(-1, 1, value.shape) for name, value in up.get_param().items()})
    latents = []
    for _ in range(7):
        latents.append(rng.standard_normal((1, 1, H, W)))
        H, W = -(-H // 2), -(-W // 2)
    return up, latents


def load_torch_example():
    try:
        import torch
    except ImportError:
        return None, None
    spec = importlib.util.spec_from_file_location("torch_upsampling", ROOT / "examples" / "torch_upsampling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return torch, module


def candidates(up, latents, torch, example, dense):
    """name -> (dtype, callable) for every timed path."""
    runs = {}
    for dtype in ("float64", "float32"):
        inputs = [y.astype(dtype) for y in latents]
        runs[f"refups separable {dtype}"] = (dtype, lambda i=inputs: up.eval()(i))
        runs[f"refups separable {dtype}, 1 thread"] = (dtype, lambda i=inputs: up.eval()(i, workers=1))
    if dense:
        runs["refups dense float64"] = ("float64", lambda: up.train()(latents))
    if torch is not None:
        default_threads = torch.get_num_threads()
        for dtype in ("float64", "float32"):
            tdtype = getattr(torch, dtype)
            params = {name: torch.from_numpy(value).to(tdtype) for name, value in up.get_param().items()}
            module = example.TorchUpsampling(params, up.ups_k_size, up.ups_preconcat_k_size).eval()
            inputs = [torch.from_numpy(y).to(tdtype) for y in latents]
            for threads, label in [(default_threads, f"{default_threads} threads (default)"), (1, "1 thread")]:
                def run(m=module, i=inputs, n=threads):
                    torch.set_num_threads(n)
                    try:
                        with torch.no_grad():
                            return m(i)
                    finally:
                        torch.set_num_threads(default_threads)
                runs[f"torch {dtype}, {label}"] = (dtype, run)
    return runs


def time_interleaved(runs, repeats):
    for _, run in runs.values():
        run()  # warm-up: allocator, thread pools, caches
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (_, run) in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def peak_memory(up, latents, dtype):
    """tracemalloc peak during one forward, minus what existed before, and the output size."""
    inputs = [y.astype(dtype) for y in latents]
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    out = up.eval()(inputs)
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak, out.nbytes


def peak_rss():
    """This process's peak resident size in bytes: VmHWM on Linux (reset by exec,
    unlike ru_maxrss, which a child inherits from a large parent), else ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def child_peak_rss(size):
    """Peak resident size (bytes) of a fresh process that runs refups float64 once."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import bench; "
            f"up, lat = bench.make_case(*bench.SIZES[{size!r}]); up(lat); print(bench.peak_rss())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(result.stdout.strip())


def main(argv=None):
    parser = argparse.ArgumentParser(description="Time refups against PyTorch on Cool-chic's default configuration.")
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["1080p", "4k"])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs per candidate (median)")
    parser.add_argument("--no-dense", action="store_true", help="skip the (slower) dense path")
    parser.add_argument("--json", type=pathlib.Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    torch, example = load_torch_example()
    machine = {"python": platform.python_version(), "machine": platform.machine(),
               "processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "numpy": np.__version__, "scipy": scipy.__version__, "refups": refups.__version__,
               "torch": None if torch is None else torch.__version__,
               "torch_threads": None if torch is None else torch.get_num_threads()}
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    results = {"machine": machine, "repeats": args.repeats, "sizes": {}}
    for size in args.sizes:
        H, W = SIZES[size]
        up, latents = make_case(H, W)
        medians = time_interleaved(candidates(up, latents, torch, example, not args.no_dense), args.repeats)
        memory = {dtype: peak_memory(up, latents, dtype) for dtype in ("float64", "float32")}
        rss = child_peak_rss(size)
        entry = {"height": H, "width": W, "median_seconds": medians, "ratios": {},
                 "peak_traced_bytes": {d: m[0] for d, m in memory.items()},
                 "output_bytes": {d: m[1] for d, m in memory.items()},
                 "peak_over_output": {d: m[0] / m[1] for d, m in memory.items()},
                 "child_peak_rss_bytes": rss}
        print(f"\n{W}x{H}, 7 levels, kernels 8 and 7, median of {args.repeats} interleaved runs")
        print(f"  {'path':<40} {'seconds':>8}  {'refups / torch (same dtype, default threads)':>44}")
        for name, seconds in medians.items():
            ratio = ""
            dtype = "float64" if "float64" in name else "float32"
            reference = next((n for n in medians if n.startswith(f"torch {dtype}") and "default" in n), None)
            if name.startswith("refups") and reference:
                entry["ratios"][name] = seconds / medians[reference]
                ratio = f"{entry['ratios'][name]:.2f}"
            print(f"  {name:<40} {seconds:8.3f}  {ratio:>44}")
        for dtype in ("float64", "float32"):
            print(f"  peak traced memory, refups {dtype}: {memory[dtype][0] / 2**20:.0f} MiB = "
                  f"{entry['peak_over_output'][dtype]:.2f} x the output ({memory[dtype][1] / 2**20:.0f} MiB)")
        print(f"  peak resident size of a process running refups float64 only: {rss / 2**20:.0f} MiB")
        results["sizes"][size] = entry
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
