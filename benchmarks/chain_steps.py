"""Steps shared by the chain benchmarks (tabletop_chain.py, metaworld_chain.py): run a vla-lite command as a
user would, export one bundle per student graph, evaluate every exported graph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

VLA = [sys.executable, "-m", "vla_lite"]
GATE_REFUSED = 3  # `vla-lite export` exit code when a parity gate refuses a graph (nothing is written)
# The CI-size chains train the same weights on any x86-64 machine with AVX2: on one machine training is bit-for-bit
# repeatable at a fixed thread count, but PyTorch and oneDNN pick kernels by instruction set (AVX-512 here, AVX2 or
# AMX elsewhere), whose float rounding differs (0.004 in a weight after 60 steps), and training amplifies that into a
# different student, whose int8 graph then passes or misses its parity gate by chance. Capping both at AVX2 and the
# thread count at 2 makes the chain's checkpoints the same on every such machine.
REPRODUCIBLE_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
REPRODUCIBLE_THREADS = ["--threads", "2"]


def reproducible(enabled: bool) -> list[str]:
    """Set (enabled) the instruction-set caps for every command the chain runs from here on; returns the thread
    flag `train`/`distill` take (empty when not enabled)."""
    if not enabled:
        return []
    os.environ.update(REPRODUCIBLE_ENV)  # inherited by each subprocess `sh` starts
    return list(REPRODUCIBLE_THREADS)


def size_arguments(argv, doc: str, sizes: dict, out: str, reuse_help: str, episodes_help: str):
    """The chains' common flags (--size, --out, --reuse, --eval-episodes). Returns (args, the size's settings with
    --eval-episodes applied)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--size", choices=sorted(sizes), default="ci")
    ap.add_argument("--out", default=out)
    ap.add_argument("--reuse", action="store_true", help=reuse_help)
    ap.add_argument("--eval-episodes", type=int, help=episodes_help)
    args = ap.parse_args(argv)
    return args, sizes[args.size] | ({"eval_episodes": args.eval_episodes} if args.eval_episodes else {})


def sh(cmd: list[str], log: Path, refusals: tuple[int, ...] = ()) -> dict:
    """Run a vla-lite command; returns its JSON output (when it prints one). A failure stops the chain, except an
    exit code in `refusals`, returned as {"refused": last stderr line}."""
    t0 = time.perf_counter()
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(log, "a") as err:
        err.write(out.stderr)
    if out.returncode in refusals:
        return {"refused": out.stderr.strip().splitlines()[-1], "returncode": out.returncode,
                "_command": " ".join(cmd)}
    if out.returncode != 0:
        raise SystemExit(f"step failed ({out.returncode}): {' '.join(cmd)}; see {log}")
    try:
        data = json.loads(out.stdout)
    except json.JSONDecodeError:
        data = {"stdout": out.stdout.strip()[-2000:]}
    data["_seconds"] = round(time.perf_counter() - t0, 1)
    data["_command"] = " ".join(cmd)
    return data


def export_each_graph(checkpoint: Path, calib: Path, out: Path, name: str, formats: str, precisions: str,
                      log: Path, extra: list[str] = ()) -> tuple[dict, dict]:
    """One bundle per (runtime, precision), so that a graph its parity gate refuses is reported as such while
    the others are still evaluated. Returns ({"<name> <runtime> <precision>": bundle path}, {key: export
    summary or {"refused": why}})."""
    bundles, steps = {}, {}
    for runtime in formats.split(","):
        for precision in precisions.split(","):
            key = f"{runtime} {precision}"
            path = out / f"{name}-{runtime}-{precision}.vla"
            steps[key] = sh(VLA + ["export", str(checkpoint), "--calib", str(calib), "--format", runtime,
                                   "--precision", precision, "-o", str(path), "--json", *extra], log,
                            refusals=(GATE_REFUSED,))
            if "refused" not in steps[key]:
                bundles[f"{name} {key}"] = path
    return bundles, steps


def evaluate(bundles: dict, variants: list[tuple], episodes: int, seed: int, log: Path,
             extra: list[str] = (), workers: int = 1) -> dict:
    """variants: (label, bundle key, runtime, precision, extra args). Returns label -> `vla-lite eval` JSON.
    `workers` evaluations run at once (each is one process on one inference thread; results do not depend on it:
    evaluation runs in simulated time)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(variant) -> dict:
        label, which, runtime, precision, more = variant
        r = sh(VLA + ["eval", str(bundles[which]), "--episodes", str(episodes), "--seed", str(seed), "--runtime",
                      runtime, "--precision", precision, *extra, *more, "--json"], log)
        r.pop("results", None)
        return r

    with ThreadPoolExecutor(max(1, workers)) as pool:
        return dict(zip([v[0] for v in variants], pool.map(one, variants)))


def bench(bundles: dict, checkpoint: Path, log: Path, prefix: str = "student") -> dict:
    """Latency per exported graph on 1 and 2 threads, beside the same checkpoint in PyTorch eager."""
    return {f"{label}, {threads} thread(s)": sh(VLA + ["bench", str(path), "--threads", str(threads), "--torch",
                                                       str(checkpoint), "--json"], log)
            for label, path in bundles.items() if label.startswith(prefix) for threads in (1, 2)}
