"""`vla-lite bench BUNDLE [--json] [--threads N] [--iters N]`: inference latency per backend and precision.

Each available (runtime, precision) graph is opened, warmed up (excluded from the figures), then timed over
`--iters` back-to-back `infer` calls on fixed random inputs shaped per the manifest. Reports p50 / p99 / mean /
min / max in milliseconds as a table, or JSON (`--json`, and/or `--out FILE`).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from .bundle import BackendUnavailable, BundleError, load_bundle
from .bundle.manifest import PRECISIONS, RUNTIMES
from .extras import MissingExtra, import_optional
from .failure import say_failure
from .models import resolve
from .pacing import percentiles


def add_arguments(parser) -> None:
    parser.add_argument("bundle", help="a .vla bundle, or a shipped model's name (demo, mt10-student-int8)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per backend (default 1)")
    parser.add_argument("--iters", type=int, default=200, help="timed inferences per backend (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed inferences first (default 10)")
    parser.add_argument("--runtime", choices=RUNTIMES, action="append", help="only this runtime (repeatable)")
    parser.add_argument("--precision", choices=PRECISIONS, action="append", help="only this precision (repeatable)")
    parser.add_argument("--torch", metavar="CHECKPOINT", help="also time the bundle's PyTorch checkpoint in eager "
                        "mode on the same inputs and threads, and report each graph's speed-up (needs torch)")


def run(args) -> int:
    for flag, value, lo in (("--threads", args.threads, 1), ("--iters", args.iters, 1), ("--warmup", args.warmup, 0)):
        if value < lo:
            say_failure("bench", f"{flag} must be >= {lo}, got {value}", as_json=args.json, bundle=args.bundle)
            return 2
    try:
        bundle = load_bundle(resolve(args.bundle))
    except BundleError as exc:
        say_failure("bench", exc, as_json=args.json, bundle=args.bundle)
        return 1
    pairs = [(r, p) for r, p in bundle.available() if (not args.runtime or r in args.runtime)
             and (not args.precision or p in args.precision)]
    if not pairs:
        say_failure("bench", f"no graph matches; the bundle has {[f'{r}-{p}' for r, p in bundle.available()]}",
                    as_json=args.json, bundle=args.bundle)
        return 1
    baseline = None
    if args.torch:
        try:  # the offline package, only when asked for: the robot side never imports it
            baseline = import_optional("vla_lite.export.torch_latency", what="--torch")
        except MissingExtra as exc:
            say_failure("bench", str(exc), as_json=args.json, bundle=args.bundle)
            return 2
    report = {"bundle": str(bundle.path), "name": bundle.manifest.name, "threads": args.threads,
              "iters": args.iters, "warmup": args.warmup, "machine": {}, "results": []}
    for runtime, precision in pairs:
        report["results"].append(measure(bundle, runtime, precision, args.threads, args.iters, args.warmup))
    if args.torch:
        eager = baseline.measure_torch(args.torch, bundle.manifest, args.threads, args.iters, args.warmup)
        report["torch_eager"] = eager
        for r in report["results"]:
            if "p50_ms" in r:
                r["speedup_vs_torch_eager"] = round(eager["p50_ms"] / r["p50_ms"], 2)
    report["machine"] = machine()  # after the runs, so the runtime versions loaded are included
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text if args.json else format_table(report))
    return 0 if any("p50_ms" in r for r in report["results"]) else 1


def measure(bundle, runtime: str, precision: str, threads: int, iters: int, warmup: int) -> dict:
    from .backends import open_backend

    row = {"runtime": runtime, "precision": precision}
    try:
        policy = open_backend(bundle, runtime, precision, threads=threads, warmup=warmup)
    except BackendUnavailable as exc:  # e.g. LiteRT not installed on this machine
        return {**row, "skipped": str(exc)}
    images, state, instruction = random_inputs(bundle.manifest)
    samples_s = np.empty(iters)
    for i in range(iters):
        t0 = time.perf_counter()
        policy.infer(images, state, instruction)
        samples_s[i] = time.perf_counter() - t0
    return {**row, **latency_stats(samples_s)}


def latency_stats(samples_s) -> dict:
    """Seconds -> {p50_ms, p99_ms, mean_ms, min_ms, max_ms, n}."""
    s = percentiles(samples_s, stats=("mean", "min", "max"), scale=1e3, digits=None)
    if s["n"] == 0:
        raise ValueError("no latency samples; expected at least one")
    return {**{f"{k}_ms": v for k, v in s.items() if k != "n"}, "n": s["n"]}


def random_inputs(manifest, seed: int = 0):
    """Inputs shaped per the manifest: images in the camera's pixel_range, z-scored state, unit-norm embedding."""
    rng = np.random.default_rng(seed)
    images = {c.name: rng.uniform(*c.pixel_range, (1, c.height, c.width, 3)).astype(np.float32)
              for c in manifest.cameras}
    state = rng.standard_normal((1, manifest.state.dim)).astype(np.float32)
    instruction = rng.standard_normal((1, manifest.instruction.embedding_dim)).astype(np.float32)
    return images, state, instruction / np.linalg.norm(instruction)


def machine() -> dict:
    out = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    for module in ("onnxruntime", "ai_edge_litert", "tflite_runtime"):
        mod = sys.modules.get(module)
        if mod is not None:
            out[module] = getattr(mod, "__version__", "?")
    return out


def format_table(report: dict) -> str:
    lines = [f"{report['name']}: {report['iters']} timed inferences per graph after {report['warmup']} warm-up, "
             f"{report['threads']} thread(s)",
             f"{'backend':<14}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'min ms':>9}{'max ms':>9}"]
    for r in report["results"]:
        name = f"{r['runtime']}-{r['precision']}"
        if "skipped" in r:
            lines.append(f"{name:<14}skipped: {r['skipped']}")
        else:
            lines.append(f"{name:<14}" + "".join(f"{r[k]:>9.3f}" for k in
                                                 ("p50_ms", "p99_ms", "mean_ms", "min_ms", "max_ms")))
    if "torch_eager" in report:
        e = report["torch_eager"]
        lines.append(f"{'torch-eager':<14}" + "".join(f"{e[k]:>9.3f}" for k in
                                                      ("p50_ms", "p99_ms", "mean_ms", "min_ms", "max_ms")))
        lines.append("speed-up vs PyTorch eager (p50): " + ", ".join(
            f"{r['runtime']}-{r['precision']} {r['speedup_vs_torch_eager']}x" for r in report["results"]
            if "speedup_vs_torch_eager" in r))
    return "\n".join(lines)
