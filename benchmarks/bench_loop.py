"""Loop cadence of `vla-lite run --port sim` against the naive `sleep(period - elapsed)` loop, in one run.

    python benchmarks/bench_loop.py [--rates 50] [--duration 60] [--load] [--model BUNDLE] [--port sim|metaworld:T]

For each rate: the absolute-deadline pacer (default scheduler), the same with SCHED_FIFO priority 50 (when the OS
allows it; the report says when it refused), and the naive loop; with --load also each under a CPU-load generator
(one busy process per core). Every run is the real `vla-lite run` subprocess: simulated world and controller
over a real pty, bundle inference, safety, recording off. Prints a table, writes benchmarks/results/loop.json and a
jitter histogram PNG next to it. Ratios are naive / absolute for p99 jitter and overruns.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        x += 1


class CpuLoad:
    """One busy process per core while the context is open (other tenants, a browser, a ROS stack...)."""

    def __init__(self, n: int | None = None):
        self.n = n or os.cpu_count() or 1

    def __enter__(self):
        self.stop = mp.Event()
        self.procs = [mp.Process(target=_spin, args=(self.stop,), daemon=True) for _ in range(self.n)]
        for p in self.procs:
            p.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for p in self.procs:
            p.join(5)


def run_once(rate: float, duration: float, pacing: str, rt: bool, model: str | None, port: str = "sim") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "vla_lite", "run", "--port", port, "--rate", str(rate), "--duration",
               str(duration), "--pacing", pacing, "--report", str(report), "--quiet"]
        if rt:
            cmd += ["--rt-priority", "50"]
        if model:
            cmd += ["--model", model]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"vla-lite run failed: {out.stderr[-2000:]}")
        r = json.loads(report.read_text())
    keep = ("rate_hz", "achieved_hz", "ticks", "overruns", "skipped", "jitter_ms", "jitter_hist", "inference_ms",
            "camera_to_command_ms", "loop_ms", "holds", "faults", "notes", "episodes", "success_rate")
    return {k: r.get(k) for k in keep}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="50", help="comma list of loop rates, Hz (multiples of the bundle's rate)")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--load", action="store_true", help="also run each case under a CPU-load generator")
    ap.add_argument("--model", help="bundle, or a shipped model's name (default: the demo model)")
    ap.add_argument("--port", default="sim", help="sim (the tabletop) or metaworld:TASK with a Meta-World bundle")
    ap.add_argument("--out", default="benchmarks/results/loop.json")
    args = ap.parse_args(argv)
    cases = []
    for rate in [float(r) for r in args.rates.split(",")]:
        for load in ([False, True] if args.load else [False]):
            for name, pacing, rt in (("absolute", "absolute", False), ("absolute+fifo", "absolute", True),
                                     ("naive", "naive", False)):
                print(f"rate {rate:g} Hz, {name}{', cpu load' if load else ''} ...", file=sys.stderr, flush=True)
                if load:
                    with CpuLoad():
                        r = run_once(rate, args.duration, pacing, rt, args.model, args.port)
                else:
                    r = run_once(rate, args.duration, pacing, rt, args.model, args.port)
                cases.append({"rate_hz": rate, "loop": name, "cpu_load": load, "port": args.port, **r})
    rows = []
    for c in cases:
        j, inf, c2c = c["jitter_ms"], c["inference_ms"], c["camera_to_command_ms"]
        rows.append(f"{c['rate_hz']:>5g} Hz {c['loop']:<14} {'load' if c['cpu_load'] else '    '} "
                    f"jitter p50 {j['p50']:>7.3f} p99 {j['p99']:>7.3f} max {j['max']:>8.3f} ms  overruns "
                    f"{c['overruns']:>4}  achieved {c['achieved_hz']:>7.3f} Hz  infer p50 {inf['p50']} p99 "
                    f"{inf['p99']} ms  camera->serial p50 {c2c['p50']} p99 {c2c['p99']} ms")
    print("\n".join(rows))
    ratios = []
    for c in cases:
        if c["loop"] != "naive":
            continue
        base = next(b for b in cases if b["loop"] == "absolute" and b["rate_hz"] == c["rate_hz"]
                    and b["cpu_load"] == c["cpu_load"])
        ratio = {"rate_hz": c["rate_hz"], "cpu_load": c["cpu_load"],
                 "p99_jitter_naive_over_absolute":
                     round(c["jitter_ms"]["p99"] / max(base["jitter_ms"]["p99"], 1e-3), 1),
                 "overruns_naive": c["overruns"], "overruns_absolute": base["overruns"],
                 "achieved_hz_naive": c["achieved_hz"], "achieved_hz_absolute": base["achieved_hz"]}
        ratios.append(ratio)
        print(f"naive / absolute at {c['rate_hz']:g} Hz{' under load' if c['cpu_load'] else ''}: p99 jitter x"
              f"{ratio['p99_jitter_naive_over_absolute']}, achieved {c['achieved_hz']} vs {base['achieved_hz']} Hz")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "loop", "duration_s": args.duration, "cpus": os.cpu_count(),
                               "cases": cases, "ratios": ratios}, indent=1) + "\n")
    plot(cases, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


def plot(cases: list[dict], path: Path) -> None:
    """One panel per rate: the share of ticks per jitter bin, for each loop with and without CPU load."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rates = sorted({c["rate_hz"] for c in cases})
    fig, axes = plt.subplots(1, len(rates), figsize=(5.5 * len(rates), 4.5), squeeze=False)
    edges = cases[0]["jitter_hist"]["edges_ms"]
    labels = [f"<{e:g}" if e is not None else f">={edges[-2]:g}" for e in edges[1:]]
    for ax, rate in zip(axes[0], rates):
        group = [c for c in cases if c["rate_hz"] == rate]
        width = 0.8 / len(group)
        for i, c in enumerate(group):
            counts = np.array(c["jitter_hist"]["counts"], float)
            ax.bar(np.arange(len(counts)) + i * width, 100 * counts / max(1.0, counts.sum()), width,
                   label=f"{c['loop']}{' + cpu load' if c['cpu_load'] else ''} (p99 {c['jitter_ms']['p99']:.2f} ms)")
        ax.set_xticks(np.arange(len(labels)) + 0.4 - width / 2)
        ax.set_xticklabels(labels, rotation=45, fontsize=7)
        ax.set_xlabel("tick start - deadline, ms")
        ax.set_ylabel("ticks, %")
        ax.set_yscale("log")
        ax.set_title(f"{rate:g} Hz")
        ax.legend(fontsize=7)
    fig.suptitle("vla-lite run --port sim: loop jitter, absolute deadlines vs naive sleep(period - elapsed)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
