"""Servo-arm benchmark: what the runtime adapter (vla_lite.servo_arm.ServoArm) adds to the servo bus's own control
cycle, both measured in the same run over a real pty against the virtual SO-101 bus in its own process.

    python benchmarks/bench_servo_arm.py [--cycles 1000] [--out benchmarks/results/servo_arm.json]

- bus: ServoBus.read_positions + write_goals in counts (the baseline: bench_servo_bus.py's cycle).
- arm: ServoArm.poll + send_command, as the loop's observe and send sections call them: the same two transactions
  plus counts -> rad / gripper fraction, the State, and joint units -> goal counts through the calibration. A tick
  without a fresh state sends the last goal again (the loop's hold).
Each runs on the wire-timed bus (replies no sooner than 1 Mbps allows) and with 1 % of replies missing and 1 %
corrupt; the virtual servos report the largest |goal - present| they were sent (a goal from a corrupt reading would
be off by up to 4095 counts).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_servo_bus import IDS, Server, progress, quantiles_ms, wire_floor_ms  # noqa: E402

from vla_lite.calib.arm_calibration import ArmCalibration  # noqa: E402
from vla_lite.calib.arm_profiles import arm_profile  # noqa: E402
from vla_lite.calib.joints import JointCalibration  # noqa: E402
from vla_lite.firmware_bridge import protocol as p  # noqa: E402
from vla_lite.firmware_bridge.servo import ServoBus, load_arm  # noqa: E402
from vla_lite.servo_arm import ServoArm  # noqa: E402

STEP_RAD = 0.004  # the fake policy's step around the measured position (about 2.6 counts)
WARMUP = 200


def calibration() -> ArmCalibration:
    """The virtual servos as they start: homing offset 0, each joint +-1200 counts around 2048."""
    joints = tuple(JointCalibration(j.name, j.servo_id, j.servo_model, 0, *((0, 4095) if j.full_turn else
                                    (848, 3247)), 0, j.mapping) for j in arm_profile("so101").joints)
    return ArmCalibration("so101", joints, "2026-12-07T00:00:00Z", "benchmark: virtual servos")


def wait_ready(port: str) -> None:
    with ServoBus.open(port, load_arm("so101")) as bus:
        deadline = time.monotonic() + 10
        while bus.ping(IDS[0], budget_s=0.5) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the virtual bus on {port} does not answer")


def bus_cycles(port: str, cycles: int, label: str) -> dict:
    times = []
    with ServoBus.open(port, load_arm("so101")) as bus:
        bus.torque(True, budget_s=0.5)
        for _ in range(WARMUP):
            bus.read_positions()
        for k in progress(cycles, label):
            t0 = time.perf_counter()
            reading = bus.read_positions()
            if reading.fresh.any():
                step = 3 if k % 2 else -3
                bus.write_goals((reading.values[reading.fresh] + step).tolist(),
                                np.asarray(IDS)[reading.fresh].tolist())
            times.append(time.perf_counter() - t0)
    return {"cycle_s": np.asarray(times)}


def arm_cycles(port: str, cycles: int, label: str) -> dict:
    times, held, last = [], 0, None
    with ServoArm.open(port, "so101", calibration()) as arm:
        for _ in range(WARMUP):
            arm.poll()
        for k in progress(cycles, label):
            t0 = time.perf_counter()
            arm.poll()
            st = arm.latest_state
            if st is None:
                held += 1  # the loop's hold: the last goal again
            else:
                last = np.asarray(st.position) + (STEP_RAD if k % 2 else -STEP_RAD)
            if last is not None:
                arm.send_command(p.Mode.JOINT_POSITION, last, 100)
            times.append(time.perf_counter() - t0)
        link = arm.stats.as_dict()
    return {"cycle_s": np.asarray(times), "held_ticks": held,
            **{k: link[k] for k in ("incomplete_reads", "readings_lost", "goals_withheld", "link_faults")}}


def conversion_us(n: int = 5000) -> float:
    """The adapter's arithmetic alone, no I/O: counts -> joint units and back through the calibration, per tick."""
    cal, counts = calibration(), np.full(len(IDS), 2048)
    t0 = time.perf_counter()
    for _ in range(n):
        cal.to_counts(cal.to_units(counts))
    return round((time.perf_counter() - t0) / n * 1e6, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--out", default="benchmarks/results/servo_arm.json")
    args = parser.parse_args()
    out = {"cycles": args.cycles, "wire_floor_ms": round(wire_floor_ms(), 3), "load_before": os.getloadavg(),
           "conversion_us": conversion_us()}
    print(f"counts -> units -> counts through the calibration: {out['conversion_us']} us per tick")
    for name, flags in (("wire", ("--wire",)), ("faults", ("--wire", "--drop", "0.01", "--corrupt", "0.01",
                                                             "--seed", "1"))):
        entry = {"flags": list(flags)}
        for who, run in (("bus", bus_cycles), ("arm", arm_cycles)):
            server = Server(*flags)
            wait_ready(server.port)
            result = run(server.port, args.cycles, f"{name}: {who}")
            report = server.stop()
            entry[who] = {"ms": quantiles_ms(result.pop("cycle_s")), **result,
                          "max_goal_jump_counts": max(s["max_goal_jump_counts"] for s in report["servos"].values())}
        entry["arm_over_bus_p50"] = round(entry["arm"]["ms"]["p50"] / entry["bus"]["ms"]["p50"], 3)
        entry["arm_minus_bus_p50_ms"] = round(entry["arm"]["ms"]["p50"] - entry["bus"]["ms"]["p50"], 4)
        out[name] = entry
        print(f"{name}: bus p50/p99 {entry['bus']['ms']['p50']}/{entry['bus']['ms']['p99']} ms, arm p50/p99 "
              f"{entry['arm']['ms']['p50']}/{entry['arm']['ms']['p99']} ms (x{entry['arm_over_bus_p50']} p50); "
              f"arm held {entry['arm']['held_ticks']} ticks, {entry['arm']['readings_lost']} readings lost; "
              f"max goal jump bus {entry['bus']['max_goal_jump_counts']} / arm "
              f"{entry['arm']['max_goal_jump_counts']} counts")
    out["load_after"] = os.getloadavg()
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
