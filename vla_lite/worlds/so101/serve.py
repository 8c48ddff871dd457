"""Serve the simulated SO-101 on a pty for any host: `python -m vla_lite.worlds.so101.serve --task red-bowl` prints
the pty path (first stdout line) and answers as an SO-101's six STS3215 would, the arm moving in MuJoCo as the
host's goals ask (vla_lite.worlds.so101.rig), until SIGINT/SIGTERM; then its last stderr line is `report {json}`:
the faults injected, the goals each servo got, and how the episode stands.

The servos start calibrated (homing offsets and limits set); `--calibration-out cal.json` writes the matching
calibration file, as `vla-lite calibrate` would, for `vla-lite run --port PTY --arm so101 --calibration cal.json`.
The world steps at 30 Hz of real time in a thread of its own; the bus answers from its latest state.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from ...firmware_bridge.servo.virtual_bus import Faults
from ...pacing import percentiles_ms
from .rig import TASKS, SO101Rig, task_named


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vla_lite.worlds.so101.serve",
                                description="serve the simulated SO-101 behind virtual STS3215 servos on a new pty")
    p.add_argument("--task", default="red-bowl", help=f"the episode's task, one of {', '.join(TASKS)}")
    p.add_argument("--seed", type=int, default=0, help="layout seed")
    p.add_argument("--split", choices=("train", "paraphrase", "heldout"), default="train", help="instruction phrasing")
    p.add_argument("--wire", action="store_true", help="deliver replies no sooner than 1 Mbps allows")
    p.add_argument("--drop", type=float, default=0.0, metavar="P", help="probability a reply is not sent")
    p.add_argument("--corrupt", type=float, default=0.0, metavar="P", help="probability a reply's checksum is bad")
    p.add_argument("--stray", type=float, default=0.0, metavar="P", help="probability of garbage before a reply")
    p.add_argument("--fault-seed", type=int, default=None, help="fault generator seed (repeatable faults)")
    p.add_argument("--calibration-out", metavar="PATH", help="write the servos' calibration JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        task_named(args.task)
        faults = Faults(args.drop, args.corrupt, args.stray, args.fault_seed)
        rig = SO101Rig(tasks=(args.task,), seed=args.seed, camera_names=(), split=args.split, faults=faults,
                       wire=args.wire, realtime=True)
    except (ValueError, ImportError) as exc:
        print(f"so101 serve: {exc}", file=sys.stderr)
        return 2
    try:
        if args.calibration_out:
            rig.save_calibration(args.calibration_out)
        print(rig.port, flush=True)
        print(f"simulated SO-101 (six STS3215, IDs 1-6, 1 Mbps): task {rig.episode.task}, instruction "
              f"{rig.episode.instruction!r}" + (f", calibration {args.calibration_out}" if args.calibration_out
                                                else ""), file=sys.stderr, flush=True)
        stop = threading.Event()
        previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not stop.wait(0.2):
                pass
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        with rig.lock:
            report = {**rig.bus.report(), "episode": {"task": rig.episode.task, "outcome": rig.world.outcome.value,
                                                      "steps": rig.world.steps,
                                                      "skipped_steps": rig.plant.skipped_steps},
                      "world_step_ms": percentiles_ms(list(rig.plant.step_times_s))}
    finally:
        rig.close()
    print("report " + json.dumps(report), file=sys.stderr, flush=True)  # last stderr line
    return 0


if __name__ == "__main__":
    sys.exit(main())
