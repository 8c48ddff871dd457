"""The simulated SO-101 behind its virtual Feetech bus: a 30 Hz control loop's servo cycle (sync read of 6 positions
+ sync write of 6 goals, vla-lite's ServoBus over a real pty) with the MuJoCo world stepping at 30 Hz behind the
servos, beside the same loop against the plain virtual bus (no physics) in the same run.

    python benchmarks/so101_bus.py [--seconds 10] [--out benchmarks/results/so101_bus.json]

Runs, each against a fresh server process (`python -m vla_lite.worlds.so101.serve` for the world,
`python -m vla_lite.firmware_bridge.servo.serve --arm so101` for the baseline), the loop paced to absolute 30 Hz
deadlines, goals a slow sinusoid around the home pose converted through the world's calibration file:
- world: the world steps (16 physics steps) inside the first transaction after each period boundary, so one cycle
  per tick carries a world step; the cycle time and the world's own step time (from the server's report) are given;
- baseline: the plain virtual bus, no physics: what the bus alone costs;
- world+faults: 1 % of replies corrupt, 1 % missing: stale readings counted, zero aborts.
Figures: cycle p50/p99/max (ms), stale readings, aborts (exceptions out of the bus), world step p50/p99 (ms),
whether the arm tracked the goals (mean |present - goal| over the last second, rad).
Then (--expert-episodes N, default 24: 2 per task) the scripted expert in lockstep, every command sent as counts
over the pty through the calibration: its success over the 12 tasks, beside the same expert stepping the world
directly (the baseline) on the same seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from vla_lite.calib.arm_calibration import load_arm_calibration
from vla_lite.firmware_bridge.servo import BusConfig, ServoBus, load_arm
from vla_lite.pacing import percentiles_ms

RATE_HZ = 30.0
HOME = np.array([0.0, -1.4, 1.2, 1.0, 0.0, 0.4])
AMPLITUDE = np.array([0.3, 0.2, 0.2, 0.2, 0.4, 0.3])  # rad x5, gripper fraction
PERIOD_S = 4.0  # of the goal sinusoid


class Server:
    def __init__(self, module: str, *flags: str):
        self.proc = subprocess.Popen([sys.executable, "-m", module, *flags], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.port = self.proc.stdout.readline().strip()
        if not self.port:
            raise RuntimeError(f"{module} did not start: {self.proc.stderr.read()}")

    def stop(self) -> dict:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=20)
        lines = [line for line in err.splitlines() if line.startswith("report ")]
        return json.loads(lines[-1][len("report "):]) if lines else {}


def loop(port: str, cal, seconds: float, label: str) -> dict:
    """30 Hz ticks of read + write against absolute deadlines; goals from a sinusoid through the calibration."""
    from tqdm import tqdm

    cycles, stale, aborts, errors = [], 0, 0, []
    ticks = int(seconds * RATE_HZ)
    with ServoBus.open(port, load_arm("so101"), BusConfig(latency_s=0.002, budget_s=0.010)) as bus:
        t0 = time.monotonic()
        for k in tqdm(range(ticks), desc=label, unit="tick", mininterval=1.0, leave=False):
            due = t0 + k / RATE_HZ
            time.sleep(max(0.0, due - time.monotonic()))
            goal = HOME + AMPLITUDE * np.sin(2 * np.pi * k / RATE_HZ / PERIOD_S)
            start = time.perf_counter()
            try:
                reading = bus.read_positions()
                bus.write_goals(cal.to_counts(goal))
            except Exception:  # the figure to report: a loop using the bus would have aborted here
                aborts += 1
                continue
            cycles.append(time.perf_counter() - start)
            stale += int((~np.asarray(reading.fresh)).sum())
            if k >= ticks - RATE_HZ and reading.all_fresh:
                errors.append(np.abs(cal.to_units(reading.values) - goal))
        host = bus.stats()
    return {"cycle_s": np.array(cycles), "cycle_ms": percentiles_ms(cycles), "ticks": ticks,
            "stale_readings": stale, "aborts": aborts,
            "tracking_error_last_s": np.mean(errors, axis=0).round(4).tolist() if errors else None,
            "host_link": host.get("link"), "host_decoder": host.get("decoder")}


def expert_runs(episodes: int) -> dict:
    """Expert success driving the lockstep rig over the bus vs the world directly, same tasks and seeds."""
    from contextlib import closing

    from vla_lite.evaluate import SimClock
    from vla_lite.worlds.so101.expert import ScriptedExpert
    from vla_lite.worlds.so101.rig import TASKS, SO101Rig
    from vla_lite.worlds.so101.world import SO101World

    names = list(TASKS)
    plan = [(names[k % len(names)], 5000 + k) for k in range(episodes)]
    clock = SimClock()
    bus_ok, direct_ok = 0, 0
    with closing(SO101Rig(tasks=names, size_px=32, camera_names=(), clock=clock)) as rig, \
            ServoBus.open(rig.port, load_arm("so101"), BusConfig(latency_s=0.02, budget_s=0.2)) as bus:
        expert, cal = ScriptedExpert(rig.world), rig.calibration
        for task, seed in plan:
            rig.new_episode(seed, task=task)
            while not rig.done():
                bus.read_positions()
                bus.write_goals(cal.to_counts(expert.action(rig.world)))
                clock.advance(rig.world.period_s)
                rig.step_now()
            bus_ok += rig.outcome() == "success"
    world = SO101World()
    direct = ScriptedExpert(world)
    for task, seed in plan:
        world.reset(seed, TASKS[task])
        while not world.done:
            world.step(direct.action(world))
        direct_ok += world.success
    return {"episodes": episodes, "over_the_bus_successes": int(bus_ok), "direct_successes": int(direct_ok)}


def plot(cycles: dict, path: pathlib.Path) -> None:
    """Cycle-time distributions of the runs, one curve each (ms, log count)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    hi = float(np.percentile(np.concatenate(list(cycles.values())), 99.5)) * 1e3
    for name, c in cycles.items():
        ax.hist(c * 1e3, np.linspace(0, hi, 60), histtype="step", lw=1.5, label=name)
    ax.set(title=f"SO-101 servo cycle at {RATE_HZ:g} Hz: sync read 6 + sync write 6 over a pty",
           xlabel="cycle (ms)", ylabel="ticks", yscale="log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="per run, at 30 Hz")
    ap.add_argument("--out", default="benchmarks/results/so101_bus.json")
    ap.add_argument("--expert-episodes", type=int, default=24, help="lockstep expert episodes (0: none)")
    args = ap.parse_args()
    results = {"machine": platform.platform(), "python": platform.python_version(), "rate_hz": RATE_HZ,
               "seconds_per_run": args.seconds, "load_before": os.getloadavg(), "runs": {}}
    cycles = {}
    with tempfile.TemporaryDirectory() as tmp:
        cal_path = pathlib.Path(tmp) / "cal.json"
        runs = {"world": ("vla_lite.worlds.so101.serve", "--calibration-out", str(cal_path)),
                "baseline": ("vla_lite.firmware_bridge.servo.serve", "--arm", "so101"),
                "world+faults": ("vla_lite.worlds.so101.serve", "--corrupt", "0.01", "--drop", "0.01",
                                 "--fault-seed", "1")}
        cal = None
        for name, (module, *flags) in runs.items():
            server = Server(module, *flags)
            try:
                cal = cal or load_arm_calibration(cal_path)
                row = loop(server.port, cal, args.seconds, name)
            finally:
                report = server.stop()
            cycles[name] = row.pop("cycle_s")
            row["world_step_ms"] = report.get("world_step_ms")
            row["server_bus"] = report.get("bus")
            results["runs"][name] = row
            c, w = row["cycle_ms"], row["world_step_ms"] or {}
            print(f"{name:13s} cycle p50 {c['p50']:.3f} ms p99 {c['p99']:.3f} ms max {c['max']:.3f} ms | "
                  f"stale {row['stale_readings']} aborts {row['aborts']} | world step p50 {w.get('p50')} "
                  f"p99 {w.get('p99')} ms | tracking {row['tracking_error_last_s']}")
    if args.expert_episodes > 0:
        results["expert"] = e = expert_runs(args.expert_episodes)
        print(f"expert over the bus {e['over_the_bus_successes']}/{e['episodes']}, "
              f"directly {e['direct_successes']}/{e['episodes']}")
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    plot(cycles, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
