"""How tight are the acceptance bounds? Largest observed error / bound, against the exact value.

For refups' separable and dense paths (and the PyTorch example when torch is
installed), in float32 and float64, this measures ``max |computed - exact| /
bound`` over every golden case and over random pyramids and kernels (the
property tests' kind of input: up to 4 levels of up to 16 pixels, kernels up
to 12 and 9, values up to 1000, random filter counts). A ratio of 1 would
mean the bound is reached; the smaller it is, the more room the bound leaves.

    python benchmarks/tightness.py
    python benchmarks/tightness.py --draws 2000 --json tightness.json
"""

import argparse
import importlib.util
import json
import pathlib

import numpy as np

from refups import Upsampling
from refups.bounds import stage_bounds
from refups.exact import Dyadic, upsampling_exact
from refups.suite import default_suite_path, generate_suite, load_suite

ROOT = pathlib.Path(__file__).resolve().parents[1]


def implementations():
    found = {"separable": lambda up, latents: up.eval()(latents),
             "dense": lambda up, latents: up.train()(latents)}
    if importlib.util.find_spec("torch") is not None:
        import torch

        spec = importlib.util.spec_from_file_location("torch_upsampling", ROOT / "examples" / "torch_upsampling.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)

        def torch_example(up, latents):
            dtype = torch.from_numpy(latents[0]).dtype
            weights = {name: torch.from_numpy(value).to(dtype) for name, value in up.get_param().items()}
            model = module.TorchUpsampling(weights, up.ups_k_size, up.ups_preconcat_k_size)
            with torch.no_grad():
                return model([torch.from_numpy(y) for y in latents]).numpy()

        found["torch example"] = torch_example
    return found


def ratio(implementation, up, latents, exact, dtype):
    """Largest |computed - exact| / bound; the error is computed exactly, then rounded once."""
    latents = [y.astype(dtype) for y in latents]
    computed = Dyadic.from_array(np.asarray(implementation(up, latents), dtype=np.float64))
    scale = max(computed.scale, exact.scale)
    error = Dyadic(np.abs(computed.with_scale(scale).numerators - exact.with_scale(scale).numerators), scale)
    bound = stage_bounds(up, latents, dtype)["output"]
    return float(np.max(error.to_float(np.float64) / bound, initial=0.0))


def random_case(rng):
    up = Upsampling(int(rng.choice([4, 6, 8, 10, 12])), int(rng.choice([1, 3, 5, 7, 9])),
                    int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    up.set_param({name: rng.uniform(-2, 2, value.shape) for name, value in up.get_param().items()})
    H, W = (int(v) for v in rng.integers(1, 17, 2))
    latents = []
    for _ in range(int(rng.integers(2, 5))):
        latents.append(rng.uniform(-1e3, 1e3, (1, int(rng.integers(1, 3)), H, W)))
        H, W = -(-H // 2), -(-W // 2)
    return up, latents


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=500, help="random cases (default: 500)")
    parser.add_argument("--json", help="also write the results as JSON")
    args = parser.parse_args(argv)
    path = default_suite_path()
    manifest, data = load_suite(path) if path else generate_suite()
    cases = []
    for entry in manifest["cases"]:
        arrays = data[entry["id"]]
        up = Upsampling(**{k: v for k, v in entry["config"].items() if k != "n_levels"})
        up.set_param({name: arrays[f"param.{name}"] for name in up.get_param()})
        latents = [arrays[f"latent_{i}"] for i in range(entry["config"]["n_levels"])]
        if len(latents) > 1 and latents[-2].shape[1] > 0:  # at least one transition
            cases.append((up, latents, upsampling_exact(up, latents).output))
    rng = np.random.default_rng(20261130)
    draws = []
    for _ in range(args.draws):
        up, latents = random_case(rng)
        draws.append((up, latents, upsampling_exact(up, latents).output))
    results = []
    for name, implementation in implementations().items():
        for dtype in (np.float32, np.float64):
            suite_ratio = max(ratio(implementation, up, y, e, dtype) for up, y, e in cases)
            draw_ratio = max(ratio(implementation, up, y, e, dtype) for up, y, e in draws)
            results.append({"implementation": name, "dtype": np.dtype(dtype).name,
                            "suite": suite_ratio, "draws": draw_ratio})
    print(f"{'implementation':<15} {'dtype':<8} {'suite: max err/bound':>21} {'draws: max err/bound':>21}")
    for row in results:
        print(f"{row['implementation']:<15} {row['dtype']:<8} {row['suite']:21.4f} {row['draws']:21.4f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"draws": args.draws, "results": results}, handle, indent=1)


if __name__ == "__main__":
    main()
