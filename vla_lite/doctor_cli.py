"""`vla-lite doctor`: check a port. Without --arm, a vla-lite controller (firmware_bridge/doctor.py: handshake,
round trips); with --arm, a servo bus (firmware_bridge/servo/doctor.py):

    vla-lite doctor --port /dev/ttyACM0 --arm so101 [--calibration cal.json] [--json] [--scan]

lists every expected servo found or missing (and, with --scan, unexpected IDs), model, firmware, voltage,
temperature, present position in counts and, with --calibration, in joint units (rad, gripper fraction), torque,
error conditions, and the timing of sync read + sync write cycles; then a one-line verdict. Exit 0 when healthy, 1 on a missing servo, a
wrong model, a latched error, or a calibration whose homing offsets the servos do not hold, 2 when the port or a
file cannot be used. The bridge knows no calibration: the units conversion is done here, through the servo
doctor's to_joint hook.
"""

from __future__ import annotations

import json
import sys

from .calib.arm_calibration import ArmCalibration
from .calib.arm_profiles import load_arm_profile
from .calib.calibration_compare import calibration_fingerprint
from .calib.errors import CalibrationError
from .calib.guided import offset_mismatches, open_arm
from .calib.joints import units_from_counts
from .calib.user_files import default_calibration_path, find_calibration
from .firmware_bridge import doctor as controller_doctor
from .firmware_bridge.errors import BridgeError
from .firmware_bridge.servo import doctor as servo_doctor


def add_arguments(parser) -> None:
    controller_doctor.add_arguments(parser)
    parser.add_argument("--arm", help="the port is a servo bus of this arm: so100, so101, koch or a profile JSON "
                                      "(--count is then the number of timed sync read + write cycles)")
    parser.add_argument("--calibration", metavar="FILE",
                        help="with --arm: a vla-lite calibration file; positions in joint units, offsets checked "
                             "(default: the arm's file in ~/.config/vla-lite/calibration/ when there is one)")
    parser.add_argument("--scan", action="store_true",
                        help="with --arm: also ping every other ID (0-252) for unexpected servos (takes seconds)")


def run(args) -> int:
    if args.arm is None:
        if args.calibration:
            print("vla-lite doctor: --calibration needs --arm (it calibrates a servo arm)", file=sys.stderr)
            return 2
        return controller_doctor.run(args)
    if args.clear_faults:
        print("vla-lite doctor: --clear-faults clears a vla-lite controller's latched faults; a servo bus (--arm) "
              "reports each servo's error bits instead", file=sys.stderr)
        return 2
    try:
        profile = load_arm_profile(args.arm).bus
        cal = _calibration(args, profile.name)
        to_joint = (lambda name, counts: units_from_counts(cal.joint(name), counts)) if cal else None
        report = servo_doctor.check(args.port, profile, cycles=args.count, scan_all=args.scan, to_joint=to_joint,
                                    baudrate=args.baud)
        if cal is not None:
            _check_offsets(report, cal, args)
    except (BridgeError, CalibrationError, ValueError) as exc:
        if args.json:
            print(json.dumps({"port": args.port, "ok": False, "error": str(exc), "kind": type(exc).__name__}))
        print(f"vla-lite doctor: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    units = dict(zip(cal.joint_names, cal.units)) if cal else None
    for servo in report["servos"]:
        if units and "position" in servo:
            servo["unit"] = units[servo["name"]]
    print(json.dumps(report, indent=1) if args.json else servo_doctor.format_report(report, units))
    return 0 if report["ok"] else 1


def _calibration(args, arm: str) -> ArmCalibration | None:
    """--calibration, else the arm's default file when there is one (said on stderr), else None (counts only)."""
    if args.calibration is None and not default_calibration_path(arm).exists():
        return None
    cal, path = find_calibration(arm, args.calibration, args.port)
    if args.calibration is None:
        print(f"vla-lite doctor: calibration {path} (the {arm} default)", file=sys.stderr)
    args.calibration = str(path)
    return cal


def _check_offsets(report: dict, cal: ArmCalibration, args) -> None:
    """Positions in units are right only if the servos hold the file's homing offsets: a mismatch fails."""
    found = [s["name"] for s in report["servos"] if s["found"]]
    with open_arm(args.port, cal.profile, baudrate=args.baud) as bus:
        mismatch = offset_mismatches(bus, cal, names=found)
    report["calibration"] = {"file": args.calibration, "fingerprint": calibration_fingerprint(cal)["digest"],
                             "offset_mismatches": {n: {"servo": a, "file": b} for n, (a, b) in mismatch.items()}}
    if not mismatch:
        return
    differ = ", ".join(f"{n} servo {a} file {b}" for n, (a, b) in mismatch.items())
    problem = f"homing offsets differ from {args.calibration} ({differ}): recalibrate or use this arm's file"
    if report["ok"]:
        report["verdict"] = f"FAIL: {len(found)}/{len(report['servos'])} servos of {report['arm']}; {problem}"
    else:
        report["verdict"] += f"; {problem}"
    report["ok"] = False
