"""One arm's joint calibration as data: a versioned JSON file (schema in docs/CALIBRATION.md).

    cal = load_arm_calibration("cal.json")          # CalibrationFileError names the bad field
    q_rad = cal.to_units(present_counts)             # (..., J) counts -> (..., J) rad / gripper fraction
    goal = cal.to_counts(q_rad)                      # nearest count inside each joint's calibrated range
    save_arm_calibration("cal.json", cal)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .arm_profiles import ArmProfile, arm_profile
from .errors import CalibrationFileError
from .joints import JointCalibration, Mapping, counts_from_units, units_from_counts
from .json_files import read_json, write_text_atomic

FORMAT = "vla-lite-arm-calibration"
VERSION = 1
JOINT_KEYS = ("name", "servo_id", "servo_model", "firmware", "homing_offset", "range_min", "range_max",
              "drive_mode", "mapping")


@dataclass(frozen=True)
class ArmCalibration:
    arm: str  # an arm profile name (calib/arm_profiles.py)
    joints: tuple[JointCalibration, ...]  # in the profile's order
    created_utc: str  # ISO 8601, e.g. "2026-05-01T12:00:00Z"
    source: str  # how it was made: "guided" or "lerobot <file>"

    def __post_init__(self):
        object.__setattr__(self, "joints", tuple(self.joints))
        profile = arm_profile(self.arm)
        names = tuple(j.name for j in self.joints)
        if names != profile.joint_names:
            raise CalibrationFileError(f"arm {self.arm!r} has joints {list(profile.joint_names)} (in that "
                                       f"order); the calibration lists {list(names)}")
        for j, p in zip(self.joints, profile.joints):
            if (j.servo_model, j.mapping) != (p.servo_model, p.mapping):
                raise CalibrationFileError(f"joint {j.name!r}: servo_model {j.servo_model!r} and mapping "
                                           f"{j.mapping.value!r}; arm {self.arm!r} expects {p.servo_model!r} and "
                                           f"{p.mapping.value!r}")
        ids = [j.servo_id for j in self.joints]
        if len(set(ids)) != len(ids):
            raise CalibrationFileError(f"servo IDs repeat: {dict(zip(names, ids))}; each joint needs its own ID")

    @property
    def profile(self) -> ArmProfile:
        return arm_profile(self.arm)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def units(self) -> tuple[str, ...]:
        return tuple("rad" if j.mapping is Mapping.RADIANS else "fraction" for j in self.joints)

    def joint(self, name: str) -> JointCalibration:
        for j in self.joints:
            if j.name == name:
                return j
        raise KeyError(f"no joint {name!r}; joints are {list(self.joint_names)}")

    def to_units(self, counts) -> np.ndarray:
        """(..., J) Present_Position counts -> (..., J) float64 joint units, joints in file order."""
        c = self._columns(counts, "counts")
        return np.stack([np.asarray(units_from_counts(j, c[..., i])) for i, j in enumerate(self.joints)], -1)

    def to_counts(self, units) -> np.ndarray:
        """(..., J) joint units -> (..., J) int64 goal counts, each inside its joint's calibrated range."""
        u = self._columns(units, "joint units")
        return np.stack([np.asarray(counts_from_units(j, u[..., i])) for i, j in enumerate(self.joints)], -1)

    def _columns(self, values, what: str) -> np.ndarray:
        a = np.asarray(values, dtype=np.float64)
        if a.ndim == 0 or a.shape[-1] != len(self.joints):
            raise ValueError(f"expected {what} with a last axis of {len(self.joints)} "
                             f"({list(self.joint_names)}), got shape {a.shape}")
        return a

    def with_firmware(self, firmware: dict[str, str]) -> "ArmCalibration":
        """A copy with the firmware versions read from the servos, {joint name: "major.minor"}."""
        return replace(self, joints=tuple(replace(j, firmware=firmware.get(j.name, j.firmware))
                                          for j in self.joints))

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "arm": self.arm, "created_utc": self.created_utc,
                "source": self.source,
                "joints": [{k: (getattr(j, k).value if k == "mapping" else getattr(j, k)) for k in JOINT_KEYS}
                           for j in self.joints]}

    @classmethod
    def from_dict(cls, d) -> "ArmCalibration":
        if not isinstance(d, dict):
            raise CalibrationFileError(f"expected a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise CalibrationFileError(f"format is {d.get('format')!r}; expected {FORMAT!r} (a LeRobot file? "
                                       "convert it with vla-lite calibrate --from-lerobot)")
        if d.get("version") != VERSION:
            raise CalibrationFileError(f"version is {d.get('version')!r}; this vla-lite reads version {VERSION}")
        missing = [k for k in ("arm", "created_utc", "source", "joints") if k not in d]
        if missing or not isinstance(d["joints"], list):
            raise CalibrationFileError(f"missing {missing} or joints is not a list; expected keys arm, "
                                       "created_utc, source, joints")
        joints = []
        for i, j in enumerate(d["joints"]):
            if not isinstance(j, dict) or set(j) != set(JOINT_KEYS):
                got = sorted(j) if isinstance(j, dict) else type(j).__name__
                raise CalibrationFileError(f"joints[{i}] has keys {got}; expected exactly {sorted(JOINT_KEYS)}")
            try:
                mapping = Mapping(j["mapping"])
            except ValueError:
                raise CalibrationFileError(f"joints[{i}].mapping is {j['mapping']!r}; expected one of "
                                           f"{[m.value for m in Mapping]}") from None
            joints.append(JointCalibration(**{**j, "mapping": mapping}))
        return cls(d["arm"], tuple(joints), str(d["created_utc"]), str(d["source"]))


def save_arm_calibration(path: str | os.PathLike, cal: ArmCalibration) -> Path:
    return write_text_atomic(path, json.dumps(cal.to_dict(), indent=2) + "\n")


def load_arm_calibration(path: str | os.PathLike) -> ArmCalibration:
    return read_json(path, "calibration file", ArmCalibration.from_dict)
