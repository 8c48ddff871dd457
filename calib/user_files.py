"""Where a user's arm calibrations live unless told: one file per arm in the user's config directory.

    $XDG_CONFIG_HOME/vla-lite/calibration/<arm>.json      (XDG_CONFIG_HOME unset or empty: ~/.config)

`vla-lite calibrate --port P --arm so101` writes there when --out is not given; `run` and `doctor --arm` read it
when --calibration is not given, and say which file they used.
"""

from __future__ import annotations

import os
from pathlib import Path

from .arm_calibration import ArmCalibration, load_arm_calibration
from .errors import CalibrationFileError, CalibrationMismatch


def config_dir() -> Path:
    """vla-lite's directory in the user's config directory (XDG Base Directory rules)."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".config") / "vla-lite"


def default_calibration_path(arm: str) -> Path:
    """The calibration file of `arm` (a profile name) when none is given."""
    return config_dir() / "calibration" / f"{arm}.json"


def find_calibration(arm: str, given: str | os.PathLike | None, port: str = "PORT") -> tuple[ArmCalibration, Path]:
    """(the calibration, its file): `given`, else the arm's default file. CalibrationFileError in one line with
    the fix when there is none; CalibrationMismatch when the file calibrates another arm."""
    path = Path(given) if given is not None else default_calibration_path(arm)
    if given is None and not path.exists():
        raise CalibrationFileError(
            f"no calibration for the {arm} arm: no --calibration FILE and no default file {str(path)!r}; "
            f"calibrate it with `vla-lite calibrate --port {port} --arm {arm}` (writes that file) or pass "
            "--calibration FILE")
    cal = load_arm_calibration(path)
    if cal.arm != arm:
        raise CalibrationMismatch(f"calibration {str(path)!r} calibrates a {cal.arm!r} arm, but --arm is {arm!r}; "
                                  "give this arm's file with --calibration")
    return cal, path
