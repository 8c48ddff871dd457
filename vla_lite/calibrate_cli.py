"""`vla-lite calibrate`: joint calibration files, converted without touching the arm.

    vla-lite calibrate --arm so101 --from-lerobot ~/.cache/huggingface/lerobot/calibration/robots/so101_follower/my_arm.json --out cal.json
    vla-lite calibrate --calibration cal.json --to-lerobot my_arm.json
    vla-lite calibrate --calibration cal.json            # show it: per joint, counts and joint units

All prompting would live here; the steps are library functions (vla_lite.calib.homing) a vendor UI can call.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .calib.arm_calibration import ArmCalibration, load_arm_calibration, save_arm_calibration
from .calib.arm_profiles import PROFILES
from .calib.calibration_compare import calibration_fingerprint
from .calib.errors import CalibrationError
from .calib.joints import unit_range
from .calib.lerobot_calibration import (from_lerobot, lerobot_calibration_dir, read_lerobot_calibration,
                                        write_lerobot_calibration)


def add_arguments(parser) -> None:
    parser.add_argument("--arm", choices=sorted(PROFILES), help="arm profile (needed with --from-lerobot)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-lerobot", metavar="FILE",
                     help=f"a LeRobot calibration file (LeRobot keeps them in {lerobot_calibration_dir()}/robots/"
                          "<type>/<id>.json)")
    src.add_argument("--calibration", metavar="FILE", help="a vla-lite calibration file to show or convert")
    parser.add_argument("--out", metavar="FILE", help="write the vla-lite calibration file here")
    parser.add_argument("--to-lerobot", metavar="OUT", help="also write it as a LeRobot calibration file")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out / --to-lerobot file")
    parser.add_argument("--json", action="store_true", help="print one JSON object (file, fingerprint, joints)")


def describe(cal: ArmCalibration) -> dict:
    joints = [{"name": j.name, "servo_id": j.servo_id, "homing_offset": j.homing_offset,
               "range_counts": [j.range_min, j.range_max], "full_turn": j.full_turn, "unit": unit,
               "range_units": [round(v, 6) for v in unit_range(j)]} for j, unit in zip(cal.joints, cal.units)]
    return {"arm": cal.arm, "created_utc": cal.created_utc, "source": cal.source,
            "fingerprint": calibration_fingerprint(cal)["digest"], "joints": joints}


def format_text(info: dict) -> str:
    lines = [f"arm {info['arm']}, made {info['created_utc']} ({info['source']}), fingerprint {info['fingerprint']}",
             f"{'joint':<14} {'id':>3} {'offset':>7} {'range (counts)':>15}  range (units)"]
    for j in info["joints"]:
        lo, hi = j["range_units"]
        counts = "full turn" if j["full_turn"] else f"{j['range_counts'][0]}..{j['range_counts'][1]}"
        lines.append(f"{j['name']:<14} {j['servo_id']:>3} {j['homing_offset']:>7} {counts:>15}  "
                     f"{lo:+.3f} .. {hi:+.3f} {j['unit']}")
    return "\n".join(lines)


def _check_writable(path: str, force: bool, flag: str) -> None:
    if Path(path).exists() and not force:
        raise CalibrationError(f"{flag} {path!r} exists; pass --force to overwrite it")


def run(args) -> int:
    try:
        if args.from_lerobot:
            if args.arm is None:
                raise CalibrationError(f"--from-lerobot needs --arm (one of {sorted(PROFILES)}): a LeRobot file "
                                       "does not say which arm it belongs to")
            if not (args.out or args.to_lerobot or args.json):
                raise CalibrationError("--from-lerobot needs --out FILE (where to write the vla-lite calibration)")
            cal = from_lerobot(read_lerobot_calibration(args.from_lerobot), args.arm,
                               source=f"lerobot {args.from_lerobot}")
        else:
            cal = load_arm_calibration(args.calibration)
            if args.arm is not None and args.arm != cal.arm:
                raise CalibrationError(f"--arm {args.arm} but {args.calibration!r} calibrates a {cal.arm!r} arm")
        for path, flag in ((args.out, "--out"), (args.to_lerobot, "--to-lerobot")):
            if path:
                _check_writable(path, args.force, flag)
        written = {}
        if args.out:
            written["out"] = str(save_arm_calibration(args.out, cal))
        if args.to_lerobot:
            written["to_lerobot"] = str(write_lerobot_calibration(args.to_lerobot, cal))
    except (CalibrationError, OSError) as exc:
        print(f"vla-lite calibrate: {exc}", file=sys.stderr)
        return 1
    info = {**describe(cal), "written": written}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_text(info))
        for flag, path in written.items():
            print(f"wrote {path} ({'LeRobot format' if flag == 'to_lerobot' else 'vla-lite calibration'})")
    return 0
