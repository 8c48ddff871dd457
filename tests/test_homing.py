"""The guided calibration's math over plain arrays: homing offsets (and the overflow refusal), range recording
(full-turn joints, the encoder wrap, joints that did not move) and the drift check, driven through the servos'
own Present = f(Actual, Homing_Offset) model (calib.joints.present_from_actual)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from vla_lite.calib.arm_profiles import arm_profile
from vla_lite.calib.errors import HomingError, RangeRecordingError
from vla_lite.calib.homing import RangeRecorder, calibration_from_recording, drift_check, homing_offsets
from vla_lite.calib.joints import SERVO_MODELS, present_from_actual, units_from_counts

SO101 = arm_profile("so101")


def read_present(profile, actual, offsets):
    """What each servo's Present_Position reads: the servo's own model."""
    return [int(present_from_actual(a, o, SERVO_MODELS[j.servo_model]))
            for j, a, o in zip(profile.joints, actual, offsets)]


def sweep(profile, middle, offsets, half_range, steps=60):
    """Present readings while a person moves every joint from the middle to -half_range, +half_range and back."""
    t = np.concatenate([np.linspace(0, -1, steps), np.linspace(-1, 1, 2 * steps), np.linspace(1, 0, steps)])
    for s in t:
        yield read_present(profile, [m + round(s * h) for m, h in zip(middle, half_range)], offsets)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4094), min_size=6, max_size=6), st.sampled_from(["so101", "koch"]))
def test_homing_makes_every_middle_pose_read_mid_range(middle, arm):
    profile = arm_profile(arm)
    offsets = homing_offsets(profile, read_present(profile, middle, [0] * 6))  # read with offsets reset to 0
    assert read_present(profile, middle, offsets) == [2047] * 6
    if arm == "so101":  # LeRobot's Feetech rule: offset = present - int(4095 / 2)
        assert list(offsets) == [m - 2047 for m in middle]


def test_overflow_is_refused_naming_joint_value_and_fix():
    present = [2000, 2100, 1900, 4161, 2047, 4095]  # wrist_flex in multi-turn feedback; gripper at the last count
    with pytest.raises(HomingError) as err:
        homing_offsets(SO101, present)
    msg = str(err.value)
    assert "'wrist_flex' read 4161" in msg and "offset 2114" in msg and "+-2047" in msg
    assert "'gripper' read 4095" in msg and "offset 2048" in msg
    assert "Phase (register 18) bit 4" in msg and "re-seat the horn" in msg
    assert "shoulder_pan" not in msg


def test_guided_steps_end_to_end_then_units_and_drift():
    rng = np.random.default_rng(3)
    middle = rng.integers(300, 3800, 6).tolist()  # encoder positions of the middle pose, anywhere on the turn
    offsets = homing_offsets(SO101, read_present(SO101, middle, [0] * 6))
    half = [1100, 1300, 1200, 900, 3000, 700]  # the wrist roll turns past the wrap: it is a full-turn joint
    stream = sweep(SO101, middle, offsets, half)
    rec = RangeRecorder(SO101, next(stream))
    for present in stream:
        rec.update(present)
        line = rec.status_line(present)
    assert "wrist_roll" in line and "[full turn]" in line
    ranges = rec.ranges()
    assert ranges[4] == (0, 4095)
    assert [r for i, r in enumerate(ranges) if i != 4] == [(2047 - h, 2047 + h) for i, h in enumerate(half) if i != 4]
    cal = calibration_from_recording(SO101, offsets, ranges, firmware={"gripper": "3.10"})
    assert cal.joint("gripper").firmware == "3.10" and cal.source == "guided"
    middle_units = cal.to_units(read_present(SO101, middle, offsets))
    assert np.allclose(middle_units[:5], 0.0, atol=1e-3) and middle_units[5] == pytest.approx(0.5)
    g = cal.joint("gripper")
    assert units_from_counts(g, g.range_min) == 0.0 and units_from_counts(g, g.range_max) == 1.0

    # Verify later: the same arm swept again, the elbow's end stop now 7 counts further out.
    rec2 = RangeRecorder(SO101, read_present(SO101, middle, offsets))
    for present in sweep(SO101, middle, offsets, [h + (7 if i == 2 else 0) for i, h in enumerate(half)]):
        rec2.update(present)
    report = drift_check(cal, rec2.observed(), tolerance_counts=5)
    by = {d.name: d for d in report.joints}
    assert (by["elbow_flex"].at_min, by["elbow_flex"].at_max) == (-7, 7) and by["shoulder_pan"].counts == 0
    assert by["wrist_roll"].at_min is None and not report.ok
    assert any("elbow_flex: min -7, max +7 counts (DRIFTED)" == line for line in report.lines())
    assert drift_check(cal, rec2.observed(), tolerance_counts=7).ok


def test_a_joint_with_end_stops_crossing_the_wrap_is_refused():
    rec = RangeRecorder(SO101, [2047] * 6)
    rec.update([2047, 2047, 2047, 2047, 4090, 2047])
    rec.update([2047, 2047, 2047, 2047, 10, 2047])  # the full-turn wrist roll may wrap
    rec.update([2047, 2047, 4095, 2047, 10, 2047])
    with pytest.raises(RangeRecordingError, match="'elbow_flex' jumped from 4095 to 3"):
        rec.update([2047, 2047, 3, 2047, 10, 2047])


def test_joints_that_did_not_move_are_named():
    rec = RangeRecorder(SO101, [2047] * 6)
    rec.update([2100, 2047, 2000, 2047, 2047, 2047])
    with pytest.raises(RangeRecordingError, match=r"\['shoulder_lift', 'wrist_flex', 'gripper'\] did not move"):
        rec.ranges()


def test_bad_position_arrays_are_refused():
    with pytest.raises(ValueError, match="expected 6 integer counts"):
        homing_offsets(SO101, [2047] * 5)
    with pytest.raises(ValueError, match="expected 6 integer counts"):
        RangeRecorder(SO101, [2047.5] * 6)
