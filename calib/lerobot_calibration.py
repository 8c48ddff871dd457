"""LeRobot calibration files in and out, so an arm calibrated with LeRobot runs with vla-lite unchanged.

LeRobot keeps one JSON per arm at $HF_LEROBOT_CALIBRATION/robots/<type>/<id>.json (default
~/.cache/huggingface/lerobot/calibration/...; teleoperators under teleoperators/): per joint, in the bus order,
`{"id", "drive_mode", "homing_offset", "range_min", "range_max"}` (its MotorCalibration dataclass), written by
draccus as `json.dump(calibration, f, indent=4)`: four-space indent, no newline at the end. `lerobot_json_text`
writes exactly that, so a file read and written back is the same bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .arm_calibration import ArmCalibration
from .arm_profiles import arm_profile
from .errors import CalibrationFileError
from .joints import JointCalibration
from .json_files import read_json, utc_now_iso, write_text_atomic

LEROBOT_KEYS = ("id", "drive_mode", "homing_offset", "range_min", "range_max")  # MotorCalibration field order


def lerobot_calibration_dir() -> Path:
    """Where LeRobot keeps calibration files, by its own environment variables."""
    if os.environ.get("HF_LEROBOT_CALIBRATION"):
        return Path(os.environ["HF_LEROBOT_CALIBRATION"]).expanduser()
    if os.environ.get("HF_LEROBOT_HOME"):
        return Path(os.environ["HF_LEROBOT_HOME"]).expanduser() / "calibration"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    hf_home = os.environ.get("HF_HOME") or Path(cache) / "huggingface"
    return Path(hf_home).expanduser() / "lerobot" / "calibration"


def lerobot_calibration_path(robot_type: str, robot_id: str, teleoperator: bool = False) -> Path:
    """e.g. ("so101_follower", "my_arm") -> ~/.cache/huggingface/lerobot/calibration/robots/so101_follower/my_arm.json"""
    return lerobot_calibration_dir() / ("teleoperators" if teleoperator else "robots") / robot_type / f"{robot_id}.json"


def parse_lerobot_calibration(d) -> dict[str, dict[str, int]]:
    """Check a LeRobot calibration object: {joint: {id, drive_mode, homing_offset, range_min, range_max}}."""
    if not isinstance(d, dict) or not d:
        raise CalibrationFileError(f"expected a JSON object {{joint: {{{', '.join(LEROBOT_KEYS)}}}}}, got {d!r:.80}")
    for name, m in d.items():
        if not isinstance(m, dict) or set(m) != set(LEROBOT_KEYS):
            got = sorted(m) if isinstance(m, dict) else repr(m)
            raise CalibrationFileError(f"joint {name!r} has {got}; expected exactly the keys {list(LEROBOT_KEYS)}")
        for k in LEROBOT_KEYS:
            if isinstance(m[k], bool) or not isinstance(m[k], int):
                raise CalibrationFileError(f"joint {name!r} {k} is {m[k]!r}; expected an integer")
    return d


def read_lerobot_calibration(path: str | os.PathLike) -> dict[str, dict[str, int]]:
    return read_json(path, "LeRobot calibration file", parse_lerobot_calibration,
                     f" (LeRobot keeps them in {lerobot_calibration_dir()}/robots/<type>/<id>.json)")


def from_lerobot(d: dict, arm: str, source: str = "lerobot") -> ArmCalibration:
    """A LeRobot calibration object -> ArmCalibration for the arm profile (joint names must be the profile's)."""
    d = parse_lerobot_calibration(d)
    profile = arm_profile(arm)
    if set(d) != set(profile.joint_names):
        raise CalibrationFileError(f"the LeRobot file has joints {list(d)}; arm {arm!r} has "
                                   f"{list(profile.joint_names)} (is it the calibration of another arm type?)")
    joints = tuple(JointCalibration(p.name, d[p.name]["id"], p.servo_model, d[p.name]["homing_offset"],
                                    d[p.name]["range_min"], d[p.name]["range_max"], d[p.name]["drive_mode"],
                                    p.mapping)
                   for p in profile.joints)
    return ArmCalibration(arm, joints, utc_now_iso(), source)


def to_lerobot(cal: ArmCalibration) -> dict[str, dict[str, int]]:
    """ArmCalibration -> LeRobot's object, joints in the arm's order, keys in MotorCalibration's order."""
    return {j.name: {"id": j.servo_id, "drive_mode": j.drive_mode, "homing_offset": j.homing_offset,
                     "range_min": j.range_min, "range_max": j.range_max} for j in cal.joints}


def lerobot_json_text(cal: ArmCalibration) -> str:
    return json.dumps(to_lerobot(cal), indent=4)  # what draccus.dump(..., indent=4) writes for JSON


def write_lerobot_calibration(path: str | os.PathLike, cal: ArmCalibration) -> Path:
    return write_text_atomic(path, lerobot_json_text(cal))
