"""`vla-lite calibrate`: joint calibration on the arm (guided), and files converted without touching the arm.

    vla-lite calibrate --port /dev/ttyACM0 --arm so101 --out cal.json [--write-limits] [--to-lerobot my_arm.json]
    vla-lite calibrate --port /dev/ttyACM0 --arm so101 --out cal.json --verify   # drift of an arm calibrated before
    vla-lite calibrate --arm so101 --from-lerobot ~/.cache/huggingface/lerobot/calibration/robots/so101_follower/my_arm.json --out cal.json
    vla-lite calibrate --calibration cal.json --to-lerobot my_arm.json
    vla-lite calibrate --calibration cal.json            # show it: per joint, counts and joint units
    vla-lite calibrate --port /dev/ttyACM0 --arm my_arm.json --out cal.json   # an arm profile file of one's own

All prompting lives here; the steps are library functions (vla_lite.calib.guided, .homing) a vendor UI can call.
On the arm: torque off; offsets reset; the person holds the middle pose -> homing offsets written (EEPROM); the
person moves every joint through its range while one status line streams the positions; confirm -> the file, and
the ranges to the servos' Min/Max_Position_Limit only with --write-limits. When --out already calibrates this arm
(its offsets are the servos'), it offers to verify instead: the person reaches every joint's ends again and the
drift from the recorded range is reported in counts (exit 1 beyond --tolerance). With --json the conversation goes
to stderr and one JSON object to stdout.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .calib import guided
from .calib.arm_calibration import ArmCalibration, load_arm_calibration, save_arm_calibration
from .calib.arm_profiles import PROFILES, arm_profile, load_arm_profile
from .calib.calibration_compare import calibration_fingerprint
from .calib.errors import CalibrationError
from .calib.homing import drift_check
from .calib.joints import unit_range
from .calib.lerobot_calibration import (from_lerobot, lerobot_calibration_dir, read_lerobot_calibration,
                                        write_lerobot_calibration)
from .calib.user_files import default_calibration_path
from .console import Console, InputClosed
from .firmware_bridge.servo.errors import ServoBusError

SAMPLE_PERIOD_S = 0.01  # between two reads while the person moves the arm


def add_arguments(parser) -> None:
    parser.add_argument("--arm", metavar="PROFILE|FILE",
                        help=f"arm profile, needed with --port and --from-lerobot: {', '.join(sorted(PROFILES))} or "
                             "a profile JSON file (as run and doctor take it)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--port", help="calibrate the arm on this serial port (pyserial URL: /dev/ttyACM0, a pty, ...)")
    src.add_argument("--from-lerobot", metavar="FILE",
                     help=f"a LeRobot calibration file (LeRobot keeps them in {lerobot_calibration_dir()}/robots/"
                          "<type>/<id>.json)")
    src.add_argument("--calibration", metavar="FILE", help="a vla-lite calibration file to show or convert")
    parser.add_argument("--out", metavar="FILE", help="write the vla-lite calibration file here (with --port, "
                                                      "default: ~/.config/vla-lite/calibration/<arm>.json, or under "
                                                      "$XDG_CONFIG_HOME, where run and doctor look)")
    parser.add_argument("--to-lerobot", metavar="OUT", help="also write it as a LeRobot calibration file")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out / --to-lerobot file")
    parser.add_argument("--json", action="store_true", help="print one JSON object (file, fingerprint, joints)")
    parser.add_argument("--write-limits", action="store_true",
                        help="with --port: also write each joint's range to its servo's Min/Max_Position_Limit "
                             "(EEPROM, Lock restored)")
    parser.add_argument("--verify", action="store_true",
                        help="with --port: verify the arm against --out (calibrated before) without asking")
    parser.add_argument("--tolerance", type=int, default=20, metavar="COUNTS",
                        help="with --verify: drift allowed at each end of a joint's range (default 20 counts)")


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
    try:  # the profile file as run and doctor read it; from here on args.arm is the profile's name
        args.arm = None if args.arm is None else load_arm_profile(args.arm).name
    except (CalibrationError, ServoBusError) as exc:
        print(f"vla-lite calibrate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.port:
        return run_on_arm(args)
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


# --- on the arm ----------------------------------------------------------------------------------------------

def run_on_arm(args) -> int:
    console = Console(out=sys.stderr if args.json else sys.stdout)
    try:
        if args.arm is None:
            raise CalibrationError(f"--port needs --arm (one of {sorted(PROFILES)})")
        profile = arm_profile(args.arm)
        if not args.out:  # the file run and doctor find by themselves
            args.out = str(default_calibration_path(args.arm))
            print(f"vla-lite calibrate: --out {args.out} (the {args.arm} default)", file=sys.stderr)
        if args.to_lerobot:
            _check_writable(args.to_lerobot, args.force, "--to-lerobot")
        existing = _existing(args.out, args.arm, args.force)
        if args.verify and existing is None:
            raise CalibrationError(f"--verify: {args.out!r} does not exist, so there is nothing to verify")
        console.start()
        with guided.open_arm(args.port, profile) as bus:
            if existing is not None and _verify_instead(bus, existing, args, console):
                return _verify(bus, existing, args, console)
            return _calibrate(bus, profile, args, console)
    except (CalibrationError, ServoBusError, InputClosed, OSError) as exc:
        print(f"vla-lite calibrate: {exc}", file=sys.stderr)
        return 1


def _existing(out: str, arm: str, force: bool) -> ArmCalibration | None:
    """The calibration already at --out (None when there is none); another arm's file needs --force."""
    if not Path(out).exists():
        return None
    try:
        cal = load_arm_calibration(out)
    except CalibrationError:
        if force:
            return None
        raise
    if cal.arm != arm and not force:
        raise CalibrationError(f"--out {out!r} calibrates a {cal.arm!r} arm, not {arm!r}; pass --force to replace it")
    return cal if cal.arm == arm else None


def _verify_instead(bus, cal: ArmCalibration, args, console: Console) -> bool:
    mismatch = guided.offset_mismatches(bus, cal)
    differ = "; ".join(f"{n}: servo {a}, file {b}" for n, (a, b) in mismatch.items())
    if args.verify:
        if mismatch:
            raise CalibrationError(f"{args.out!r} does not match the arm: homing offsets differ ({differ}); "
                                   "recalibrate (run without --verify)")
        return True
    if mismatch:
        answer = console.ask(f"{args.out} was made for another homing of this arm (offsets differ: {differ}). "
                             "Recalibrate? [Y/n]")
        if answer.lower() in ("n", "no"):
            raise CalibrationError("nothing done")
        return False
    answer = console.ask(f"{args.out} already calibrates this {cal.arm} (the servos hold its homing offsets). "
                         "[v]erify it or [r]ecalibrate? [v]")
    return answer.lower() not in ("r", "recalibrate")


def _stream(bus, recorder, console: Console) -> None:
    """Read and record until the person presses Enter, one status line showing the positions."""
    while not console.pressed():
        positions = guided.sample(bus, recorder)
        if positions is not None:
            console.status(recorder.status_line(positions))
        time.sleep(SAMPLE_PERIOD_S)


def _calibrate(bus, profile, args, console: Console) -> int:
    console.say(f"{profile.name} on {args.port}: torque goes off now, support the arm.")
    guided.release(bus, profile)
    console.say("Torque is off and the homing offsets are reset.")
    console.ask("Move the arm to the middle of its range (every joint halfway between its ends, the gripper half "
                "open), then press Enter.")
    offsets = guided.home(bus, profile)
    console.say("Homed: the middle pose now reads " + ", ".join(
        f"{j.name} {int(p)}" for j, p in zip(profile.joints, guided.read_positions(bus))) + ".")
    full = [j.name for j in profile.joints if j.full_turn]
    turns = f" ({' and '.join(full)} {'turns' if len(full) == 1 else 'turn'} fully: any range)" if full else ""
    console.say(f"Move every joint through its whole range{turns}, then press Enter.")
    recorder = guided.start_recording(bus, profile)
    _stream(bus, recorder, console)
    cal = guided.finish(bus, profile, offsets, recorder)
    console.say(format_text(describe(cal)))
    limits = " and the ranges to the servos' Min/Max_Position_Limit (EEPROM)" if args.write_limits else ""
    if console.ask(f"Save it to {args.out}{limits}? [Y/n]").lower() in ("n", "no"):
        console.say("Not saved; the servos keep the new homing offsets.")
        return 1
    written = {"out": str(save_arm_calibration(args.out, cal))}
    if args.write_limits:
        guided.write_limits(bus, cal)
        written["limits"] = "Min/Max_Position_Limit"
    if args.to_lerobot:
        written["to_lerobot"] = str(write_lerobot_calibration(args.to_lerobot, cal))
    console.say(f"Wrote {', '.join(written.values())}. Torque is off.")
    if args.json:
        print(json.dumps({**describe(cal), "written": written}, indent=2))
    return 0


def _verify(bus, cal: ArmCalibration, args, console: Console) -> int:
    profile = arm_profile(cal.arm)
    bus.torque(False)
    console.say(f"Verifying {args.out}: torque is off. Move every joint to both ends of its range, then press Enter.")
    recorder = guided.start_recording(bus, profile)
    _stream(bus, recorder, console)
    report = drift_check(cal, recorder.observed(), args.tolerance)
    for line in report.lines():
        console.say(line)
    worst = max(report.joints, key=lambda d: d.counts)
    console.say(f"VERIFIED: every joint within {args.tolerance} counts of {args.out}" if report.ok else
                f"DRIFT: {worst.name} is {worst.counts} counts off (> {args.tolerance}): recalibrate")
    if args.json:
        print(json.dumps({"verified": report.ok, "file": args.out, "tolerance_counts": args.tolerance,
                          "joints": [{"name": d.name, "at_min": d.at_min, "at_max": d.at_max}
                                     for d in report.joints]}, indent=2))
    return 0 if report.ok else 1
