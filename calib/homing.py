"""The guided calibration's steps as pure functions over plain arrays (counts), for the CLI or a vendor UI.

    offsets = homing_offsets(profile, present_at_middle)      # read with Homing_Offset = 0, torque off
    rec = RangeRecorder(profile, first_positions)             # then, while the person sweeps every joint:
    rec.update(positions); print(rec.status_line(positions), end="\\r")
    cal = calibration_from_recording(profile, offsets, rec.ranges())
    report = drift_check(cal, rec2.observed())                 # a calibrated arm: sweep again, compare ends

The bus I/O around them (torque off, reset and write Homing_Offset, read Present_Position, write the limits to
EEPROM with Lock restored) is calib/guided.py's, over the servo driver; nothing here touches a port or prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .arm_calibration import ArmCalibration
from .arm_profiles import ArmProfile
from .errors import HomingError, RangeRecordingError
from .joints import JointCalibration, ServoFamily, servo_model
from .json_files import utc_now_iso

WRAP_JUMP_FRACTION = 0.5  # a step of more than half a turn between two samples is the encoder wrapping, not motion


def _counts(values, n: int, what: str) -> np.ndarray:
    a = np.asarray(values)
    numeric = np.issubdtype(a.dtype, np.integer) or (np.issubdtype(a.dtype, np.floating) and
                                                     bool(np.all(a == np.round(a))))
    if a.shape != (n,) or not numeric:
        raise ValueError(f"{what}: expected {n} integer counts (one per joint), got {values!r}")
    return a.astype(np.int64)


def homing_offsets(profile: ArmProfile, present_at_middle: Sequence[int]) -> tuple[int, ...]:
    """Homing offsets that make the middle pose read mid-range (2047 on a 4096-count servo), as LeRobot's
    set_half_turn_homings does: Feetech (Present = Actual - Offset) offset = present - 2047, Dynamixel
    (Present = Actual + Offset) offset = 2047 - present. `present_at_middle` is read with every offset at 0.
    Raises HomingError naming every joint whose offset would not fit its register, with the value and the fix."""
    pos = _counts(present_at_middle, len(profile.joints), "present_at_middle")
    offsets, bad = [], []
    for j, p in zip(profile.joints, pos.tolist()):
        model = servo_model(j.servo_model)
        off = p - model.mid_count if model.family is ServoFamily.FEETECH else model.mid_count - p
        offsets.append(off)
        if abs(off) > model.offset_limit:
            bad.append(f"{j.name!r} read {p} counts (needs offset {off}; the {model.name} field holds at most "
                       f"+-{model.offset_limit}, sign bit {model.offset_sign_bit})")
    if bad:
        raise HomingError(
            "cannot home: " + "; ".join(bad) + ". A reading outside 0..4095 means the servo is in multi-turn "
            "angle-feedback mode: clear Phase (register 18) bit 4 and home again; if the reading is inside "
            "0..4095, re-seat the horn one spline nearer the middle of the servo's turn and home again")
    return tuple(offsets)


class RangeRecorder:
    """Min/max Present_Position per joint over a stream of samples (full-turn joints get the whole turn)."""

    def __init__(self, profile: ArmProfile, first: Sequence[int]):
        self.profile = profile
        self.models = [servo_model(j.servo_model) for j in profile.joints]
        self.full_turn = np.array([j.full_turn for j in profile.joints])
        p = _counts(first, len(profile.joints), "first positions")
        self.low, self.high, self.last = p.copy(), p.copy(), p.copy()
        self.samples = 1

    def update(self, positions: Sequence[int]) -> None:
        """One sample. Raises RangeRecordingError if a joint with end stops jumped across the encoder wrap."""
        p = _counts(positions, len(self.models), "positions")
        half = np.array([m.resolution for m in self.models]) * WRAP_JUMP_FRACTION
        wrapped = (np.abs(p - self.last) > half) & ~self.full_turn
        if wrapped.any():
            j = int(np.argmax(wrapped))
            raise RangeRecordingError(
                f"joint {self.profile.joints[j].name!r} jumped from {self.last[j]} to {p[j]} counts: it crossed the "
                "encoder's wrap point, so it turned more than half a turn from the middle pose. Home it again "
                "nearer the middle of its travel (or declare it full-turn in the arm profile)")
        self.low, self.high, self.last = np.minimum(self.low, p), np.maximum(self.high, p), p
        self.samples += 1

    def observed(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) counts seen so far for every joint, full-turn ones included (for a drift check)."""
        return self.low.copy(), self.high.copy()

    def ranges(self) -> list[tuple[int, int]]:
        """[(range_min, range_max)] per joint; full-turn joints (0, resolution-1) as LeRobot records them.
        Raises RangeRecordingError naming the joints that did not move."""
        still = [j.name for j, lo, hi, full in zip(self.profile.joints, self.low, self.high, self.full_turn)
                 if lo == hi and not full]
        if still:
            raise RangeRecordingError(f"joint(s) {still} did not move (min == max); move every joint through its "
                                      "whole range before finishing")
        return [(0, m.max_count) if full else (int(lo), int(hi))
                for m, lo, hi, full in zip(self.models, self.low, self.high, self.full_turn)]

    def status_line(self, positions: Sequence[int]) -> str:
        """One line for a terminal: name position [min..max] per joint."""
        parts = []
        for j, p, lo, hi, full in zip(self.profile.joints, positions, self.low, self.high, self.full_turn):
            parts.append(f"{j.name} {int(p):4d} " + ("[full turn]" if full else f"[{lo:4d}..{hi:4d}]"))
        return " | ".join(parts)


def calibration_from_recording(profile: ArmProfile, offsets: Sequence[int], ranges: Sequence[tuple[int, int]],
                               firmware: dict[str, str] | None = None, source: str = "guided") -> ArmCalibration:
    """The ArmCalibration of a guided run (drive_mode 0 for every joint, as LeRobot writes for SO and Koch)."""
    if len(offsets) != len(profile.joints) or len(ranges) != len(profile.joints):
        raise ValueError(f"expected {len(profile.joints)} offsets and ranges (one per joint of {profile.name!r}), "
                         f"got {len(offsets)} and {len(ranges)}")
    firmware = firmware or {}
    joints = tuple(JointCalibration(j.name, j.servo_id, j.servo_model, int(off), int(lo), int(hi), 0, j.mapping,
                                    firmware.get(j.name))
                   for j, off, (lo, hi) in zip(profile.joints, offsets, ranges))
    return ArmCalibration(profile.name, joints, utc_now_iso(), source)


@dataclass(frozen=True)
class JointDrift:
    name: str
    at_min: int | None  # counts, observed end - recorded end; None for a full-turn joint (no end stop)
    at_max: int | None

    @property
    def counts(self) -> int:
        return max(abs(self.at_min or 0), abs(self.at_max or 0))


@dataclass(frozen=True)
class DriftReport:
    joints: tuple[JointDrift, ...]
    tolerance_counts: int

    @property
    def ok(self) -> bool:
        return all(d.counts <= self.tolerance_counts for d in self.joints)

    def lines(self) -> list[str]:
        out = []
        for d in self.joints:
            if d.at_min is None:
                out.append(f"{d.name}: full turn, no end stops to check")
            else:
                flag = "ok" if d.counts <= self.tolerance_counts else "DRIFTED"
                out.append(f"{d.name}: min {d.at_min:+d}, max {d.at_max:+d} counts ({flag})")
        return out


def drift_check(cal: ArmCalibration, observed: tuple[Sequence[int], Sequence[int]],
                tolerance_counts: int = 20) -> DriftReport:
    """Compare the ends reached in a new sweep (RangeRecorder.observed()) with the recorded range, per joint."""
    n = len(cal.joints)
    low, high = _counts(observed[0], n, "observed low"), _counts(observed[1], n, "observed high")
    drifts = tuple(JointDrift(j.name, None, None) if j.full_turn else
                   JointDrift(j.name, int(lo) - j.range_min, int(hi) - j.range_max)
                   for j, lo, hi in zip(cal.joints, low, high))
    return DriftReport(drifts, int(tolerance_counts))
