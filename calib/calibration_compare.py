"""Is this the calibration a policy was trained with? Fingerprints, per-joint differences in counts, range cover.

    fp = calibration_fingerprint(cal)                    # JSON-able; a bundle stores it beside its stats
    diff = compare_calibrations(fp, arm_cal)             # per joint, in counts (fingerprint or ArmCalibration)
    for d in diff.beyond(tolerance_counts=8): warn(d)    # "the bundle was trained with a different calibration"
    problems = check_action_ranges(arm_cal, names, low, high)   # refuse when a joint cannot reach the actions

A joint angle reads the same on two calibrations only if the encoder position that reads zero (the middle of
the range, after the homing offset) is the same, so `zero_shift` is the figure that moves the arm; offsets and
range ends are reported too because a changed range changes the gripper fraction and the clip.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Mapping as TMapping, Sequence

import numpy as np

from .arm_calibration import ArmCalibration
from .errors import CalibrationFileError
from .joints import actual_from_present, circular_diff, servo_model, unit_range

FINGERPRINT_KEYS = ("servo_model", "homing_offset", "range_min", "range_max", "drive_mode")


def calibration_fingerprint(cal: ArmCalibration) -> dict:
    """{"digest": "sha256:<16 hex>", "arm": ..., "joints": {name: {servo_model, homing_offset, range_min,
    range_max, drive_mode}}}: what a bundle records. The digest covers the joints' numbers, not when or how the
    file was made, so a LeRobot round trip keeps it."""
    joints = {j.name: {k: getattr(j, k) for k in FINGERPRINT_KEYS} for j in cal.joints}
    blob = json.dumps([cal.arm, [[n, *v.values()] for n, v in joints.items()]], separators=(",", ":"))
    return {"digest": "sha256:" + hashlib.sha256(blob.encode()).hexdigest()[:16], "arm": cal.arm,
            "joints": joints}


def _joint_numbers(cal) -> dict[str, dict]:
    if isinstance(cal, ArmCalibration):
        return calibration_fingerprint(cal)["joints"]
    if isinstance(cal, dict) and isinstance(cal.get("joints"), dict):
        for name, j in cal["joints"].items():
            if not isinstance(j, dict) or not set(FINGERPRINT_KEYS) <= set(j):
                raise CalibrationFileError(f"fingerprint joint {name!r} is {j!r}; expected keys "
                                           f"{list(FINGERPRINT_KEYS)}")
        return cal["joints"]
    raise CalibrationFileError(f"expected an ArmCalibration or a calibration fingerprint dict, got "
                               f"{type(cal).__name__}")


@dataclass(frozen=True)
class JointDiff:
    name: str
    zero_shift: float  # counts: moved encoder position of the pose that reads 0 rad / mid-range (short way)
    homing_offset: int  # counts, current - reference
    range_min: int
    range_max: int
    drive_mode_changed: bool

    @property
    def counts(self) -> float:
        """The largest difference in counts (a changed drive_mode counts as a full turn)."""
        worst = max(abs(self.zero_shift), abs(self.homing_offset), abs(self.range_min), abs(self.range_max))
        return float("inf") if self.drive_mode_changed else float(worst)

    def __str__(self) -> str:
        flip = ", drive_mode changed" if self.drive_mode_changed else ""
        return (f"{self.name}: zero moved {self.zero_shift:+g} counts (homing offset {self.homing_offset:+d}, "
                f"range min {self.range_min:+d}, max {self.range_max:+d}){flip}")


@dataclass(frozen=True)
class CalibrationDiff:
    joints: tuple[JointDiff, ...]
    missing: tuple[str, ...]  # joints of the reference the current calibration lacks
    extra: tuple[str, ...]  # joints only the current calibration has

    def beyond(self, tolerance_counts: float) -> tuple[JointDiff, ...]:
        return tuple(d for d in self.joints if d.counts > tolerance_counts)

    @property
    def max_counts(self) -> float:
        return max((d.counts for d in self.joints), default=0.0)


def compare_calibrations(reference, current) -> CalibrationDiff:
    """Per-joint differences, current - reference; each argument an ArmCalibration or a fingerprint dict."""
    ref, cur = _joint_numbers(reference), _joint_numbers(current)
    diffs = []
    for name in (n for n in ref if n in cur):
        a, b = ref[name], cur[name]
        model = servo_model(b["servo_model"])
        zero = [actual_from_present((j["range_min"] + j["range_max"]) / 2, j["homing_offset"],
                                    servo_model(j["servo_model"])) for j in (a, b)]
        diffs.append(JointDiff(name, float(circular_diff(zero[1], zero[0], model.resolution)),
                               b["homing_offset"] - a["homing_offset"], b["range_min"] - a["range_min"],
                               b["range_max"] - a["range_max"], a["drive_mode"] != b["drive_mode"]))
    return CalibrationDiff(tuple(diffs), tuple(n for n in ref if n not in cur), tuple(n for n in cur if n not in ref))


@dataclass(frozen=True)
class RangeProblem:
    joint: str
    calibrated: tuple[float, float] | None  # joint units; None: the calibration has no such joint
    needed: tuple[float, float]

    def __str__(self) -> str:
        if self.calibrated is None:
            return f"{self.joint}: the actions drive it, but the calibration has no joint of that name"
        lo, hi = self.calibrated
        return (f"{self.joint}: actions span [{self.needed[0]:.4f}, {self.needed[1]:.4f}] but the calibrated "
                f"range is [{lo:.4f}, {hi:.4f}]; recalibrate the range or retrain on data from this arm")


def range_covers(cal: ArmCalibration, joint: str, low: float, high: float, margin: float = 0.0) -> bool:
    """Whether the joint's calibrated range, widened by margin (joint units), contains [low, high]."""
    lo, hi = unit_range(cal.joint(joint))
    return lo - margin <= low and high <= hi + margin


def check_action_ranges(cal: ArmCalibration, names: Sequence[str], low, high,
                        margin: TMapping[str, float] | float = 0.0) -> list[RangeProblem]:
    """The joints whose calibrated range excludes the action range [low, high] (joint units, one per name)."""
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if low.shape != (len(names),) or high.shape != (len(names),):
        raise ValueError(f"expected low and high with one value per name ({len(names)}), got shapes "
                         f"{low.shape} and {high.shape}")
    problems = []
    for name, lo, hi in zip(names, low.tolist(), high.tolist()):
        m = margin.get(name, 0.0) if isinstance(margin, TMapping) else float(margin)
        if name not in cal.joint_names:
            problems.append(RangeProblem(name, None, (lo, hi)))
        elif not range_covers(cal, name, lo, hi, m):
            problems.append(RangeProblem(name, unit_range(cal.joint(name)), (lo, hi)))
    return problems

