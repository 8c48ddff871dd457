"""Calibration in the bundle's contract: does this arm's joint calibration fit the policy about to drive it?

- Refuse (BundleMismatch, one line) when a joint's calibrated range excludes the bundle's action range
  (manifest action.low/high, joint_position bundles): the arm could not reach what the policy commands. The action
  range of an exported bundle is the data's q01..q99 widened by 5 % of its span (export/bundle_manifest.py), so
  that widening is allowed back as a margin.
- Warn (a note) when the bundle records the calibration it was trained with (`provenance.arm_calibration`: a
  calib.calibration_compare.calibration_fingerprint) and a joint of this arm differs by more than
  TOLERANCE_COUNTS: the same angle then means another pose.
"""

from __future__ import annotations

import numpy as np

from .bundle.errors import BundleMismatch
from .calib.arm_calibration import ArmCalibration
from .calib.calibration_compare import check_action_ranges, compare_calibrations
from .calib.errors import CalibrationError

PROVENANCE_KEY = "arm_calibration"  # where a bundle records calibration_fingerprint(cal) of its training data
TOLERANCE_COUNTS = 8  # a few counts per joint (0.7 degree on a 4096-count servo)
RANGE_MARGIN = 0.05  # of each joint's action span (the export's widening of q01..q99)


def check_calibration(manifest, cal: ArmCalibration, source: str = "the calibration") -> list[str]:
    """Notes for the run (fingerprint differences); BundleMismatch when a joint cannot reach its actions."""
    a = manifest.action
    if a.mode == "joint_position":
        low, high = np.asarray(a.low, np.float64), np.asarray(a.high, np.float64)
        margin = dict(zip(a.names, (RANGE_MARGIN * (high - low)).tolist()))
        problems = check_action_ranges(cal, a.names, low, high, margin)
        if problems:
            raise BundleMismatch(f"bundle {manifest.name!r} commands joints beyond {source}: "
                                 + "; ".join(str(x) for x in problems))
    recorded = manifest.provenance.get(PROVENANCE_KEY)
    if recorded is None:
        return []
    try:
        diff = compare_calibrations(recorded, cal)
    except CalibrationError as exc:
        return [f"bundle {manifest.name!r} records a calibration fingerprint that cannot be read ({exc})"]
    beyond = diff.beyond(TOLERANCE_COUNTS)
    if not beyond and not diff.missing:
        return []
    what = "; ".join(str(d) for d in beyond) + (f"; joints missing: {list(diff.missing)}" if diff.missing else "")
    return [f"WARNING: {source} differs from the one bundle {manifest.name!r} was trained with by more than "
            f"{TOLERANCE_COUNTS} counts ({what}): the same joint angle is another pose on this arm"]
