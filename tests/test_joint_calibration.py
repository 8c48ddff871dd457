"""Joint calibration as data: count <-> unit maps (properties), the Homing_Offset register, the versioned file,
fingerprints, per-joint comparison in counts and the action-range check."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from vla_lite.calib.arm_calibration import ArmCalibration, load_arm_calibration, save_arm_calibration
from vla_lite.calib.arm_profiles import arm_profile
from vla_lite.calib.calibration_compare import (calibration_fingerprint, check_action_ranges, compare_calibrations,
                                                range_covers)
from vla_lite.calib.errors import CalibrationFileError, HomingError
from vla_lite.calib.joints import (JointCalibration, Mapping, SERVO_MODELS, actual_from_present, circular_diff,
                                   counts_from_units, decode_sign_magnitude, encode_sign_magnitude,
                                   present_from_actual, unit_range, units_from_counts)

STS = SERVO_MODELS["sts3215"]


@st.composite
def joints(draw, mapping=None, model="sts3215"):
    lo = draw(st.integers(0, 4094))
    hi = draw(st.integers(lo + 1, 4095))
    return JointCalibration("j", draw(st.integers(0, 253)), model, draw(st.integers(-2047, 2047)), lo, hi,
                            draw(st.integers(0, 1)), mapping or draw(st.sampled_from(list(Mapping))))


def so101(offsets=(0,) * 6, ranges=((800, 3300),) * 4 + ((0, 4095), (2000, 3400)), drive=(0,) * 6):
    p = arm_profile("so101")
    return ArmCalibration("so101", tuple(JointCalibration(j.name, j.servo_id, j.servo_model, o, lo, hi, d, j.mapping)
                                         for j, o, (lo, hi), d in zip(p.joints, offsets, ranges, drive)),
                          "2026-01-01T00:00:00Z", "test")


@settings(max_examples=400, deadline=None)
@given(joints(), st.data())
def test_round_trip_is_exact_for_every_count_in_range(joint, data):
    c = data.draw(st.integers(joint.range_min, joint.range_max))
    assert counts_from_units(joint, units_from_counts(joint, c)) == c
    arr = np.arange(joint.range_min, joint.range_max + 1)  # and the whole range at once, vectorised
    assert np.array_equal(counts_from_units(joint, units_from_counts(joint, arr)), arr)


@settings(max_examples=300, deadline=None)
@given(joints(Mapping.RADIANS), st.integers(0, 4095))
def test_radians_are_degrees_mode_times_pi_over_180_unclipped_and_ignore_drive_mode(joint, c):
    mid = (joint.range_min + joint.range_max) / 2
    assert units_from_counts(joint, c) == pytest.approx((c - mid) * 360 / 4095 * math.pi / 180, abs=1e-12)
    flipped = JointCalibration(**{**joint.__dict__, "drive_mode": 1 - joint.drive_mode})
    assert units_from_counts(flipped, c) == units_from_counts(joint, c)


@settings(max_examples=300, deadline=None)
@given(joints(Mapping.FRACTION), st.integers(0, 4095))
def test_fraction_clips_to_0_1_and_drive_mode_flips_it(joint, c):
    f = units_from_counts(joint, c)
    assert 0.0 <= f <= 1.0
    base = (min(max(c, joint.range_min), joint.range_max) - joint.range_min) / (joint.range_max - joint.range_min)
    assert f == pytest.approx(1 - base if joint.drive_mode else base, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(joints(), st.floats(-10, 10))
def test_units_to_counts_stays_in_the_calibrated_range(joint, u):
    c = counts_from_units(joint, u)
    assert isinstance(c, int) and joint.range_min <= c <= joint.range_max


def test_servo_models_and_arm_profiles_are_the_bridges():
    from vla_lite.firmware_bridge.servo import load_arm
    from vla_lite.firmware_bridge.servo.tables import MODELS

    assert STS.spec is MODELS["sts3215"] and (STS.model_number, STS.resolution) == (777, 4096)
    assert (STS.offset_sign_bit, STS.offset_limit) == (11, 2047)
    xl = SERVO_MODELS["xl330-m288"]
    assert (xl.family.value, xl.offset_sign_bit, xl.offset_limit) == ("dynamixel", None, 1_044_479)
    assert "scs0009" not in SERVO_MODELS  # the SCS family has no Homing_Offset register to calibrate
    for arm in ("so100", "so101", "koch"):
        bus, cal = load_arm(arm), arm_profile(arm)
        assert cal.bus == bus and cal.joint_names == bus.names
        assert [(j.servo_id, j.servo_model) for j in cal.joints] == [(s.id, s.model.name) for s in bus.servos]
    assert [j.full_turn for j in arm_profile("koch").joints] == [True, False, False, False, True, False]
    assert arm_profile("so101").joint("gripper").mapping is Mapping.FRACTION


def test_dynamixel_gripper_drive_mode_is_left_to_the_servo():
    j = JointCalibration("gripper", 6, "xl330-m288", 100, 1000, 2000, 1, Mapping.FRACTION)
    assert units_from_counts(j, 1000) == 0.0 and units_from_counts(j, 2000) == 1.0  # LeRobot apply_drive_mode=False


@given(st.integers(-2047, 2047))
def test_homing_offset_sign_magnitude_round_trip(v):
    raw = encode_sign_magnitude(v, 11)
    assert 0 <= raw < 4096 and decode_sign_magnitude(raw, 11) == v
    assert (raw >> 11) == (v < 0)


def test_sign_magnitude_known_bits_and_overflow():
    assert encode_sign_magnitude(-1, 11) == 0x801 and encode_sign_magnitude(2047, 11) == 0x7FF
    with pytest.raises(ValueError, match="2114"):
        encode_sign_magnitude(2114, 11)


@given(st.integers(0, 4095), st.integers(-2047, 2047), st.sampled_from(sorted(SERVO_MODELS)))
def test_present_and_actual_are_inverse_and_wrap_at_one_turn(actual, offset, model):
    m = SERVO_MODELS[model]
    present = int(present_from_actual(actual, offset, m))
    assert 0 <= present < 4096 and int(actual_from_present(present, offset, m)) == actual
    if m.family.value == "feetech":  # Present = Actual - Homing_Offset, modulo a turn
        assert present == (actual - offset) % 4096


def test_circular_diff_takes_the_short_way():
    assert circular_diff(5, 4090, 4096) == 11 and circular_diff(4090, 5, 4096) == -11 and circular_diff(7, 7, 4096) == 0


def test_joint_rejects_bad_values_naming_them():
    with pytest.raises(HomingError, match="'elbow_flex'.*2114.*Phase"):
        JointCalibration("elbow_flex", 3, "sts3215", 2114, 800, 3300, 0, Mapping.RADIANS)
    with pytest.raises(CalibrationFileError, match=r"range \[900, 900\]"):
        JointCalibration("elbow_flex", 3, "sts3215", 0, 900, 900, 0, Mapping.RADIANS)
    with pytest.raises(CalibrationFileError, match="drive_mode 2"):
        JointCalibration("elbow_flex", 3, "sts3215", 0, 800, 900, 2, Mapping.RADIANS)
    with pytest.raises(CalibrationFileError, match="servo model 'sts9999'"):
        JointCalibration("elbow_flex", 3, "sts9999", 0, 800, 900, 0, Mapping.RADIANS)


def test_arm_vectorised_maps_match_the_joint_maps():
    cal = so101(offsets=(10, -20, 30, -40, 50, -60))
    counts = np.array([[800, 2047, 3300, 1500, 4095, 2700], [3300, 900, 2047, 2047, 0, 2000]])
    units = cal.to_units(counts)
    assert units.shape == (2, 6)
    for i, j in enumerate(cal.joints):
        assert np.array_equal(units[:, i], units_from_counts(j, counts[:, i]))
    assert np.array_equal(cal.to_counts(units), counts)
    assert cal.units == ("rad",) * 5 + ("fraction",)
    with pytest.raises(ValueError, match="last axis of 6"):
        cal.to_units([1, 2, 3])


def test_file_round_trip_and_schema_errors(tmp_path):
    cal = so101(offsets=(10, -20, 30, -40, 50, -60)).with_firmware({"gripper": "3.10"})
    path = save_arm_calibration(tmp_path / "cal.json", cal)
    assert load_arm_calibration(path) == cal
    d = json.loads(path.read_text())
    assert d["format"] == "vla-lite-arm-calibration" and d["version"] == 1 and d["joints"][5]["firmware"] == "3.10"
    for mutate, match in [(lambda d: d.update(version=2), "version is 2"),
                          (lambda d: d["joints"][0].pop("range_min"), r"joints\[0\] has keys"),
                          (lambda d: d["joints"][1].update(mapping="degrees"), "mapping is 'degrees'"),
                          (lambda d: d["joints"].reverse(), "in that order"),
                          (lambda d: d["joints"][2].update(servo_id=1), "servo IDs repeat"),
                          (lambda d: d["joints"][5].update(mapping="radians"), "expects 'sts3215' and 'fraction'"),
                          (lambda d: d.update(format=None), "format is None")]:
        bad = json.loads(path.read_text())
        mutate(bad)
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(CalibrationFileError, match=match):
            load_arm_calibration(tmp_path / "bad.json")
    with pytest.raises(CalibrationFileError, match="does not exist"):
        load_arm_calibration(tmp_path / "none.json")


def test_fingerprint_depends_on_numbers_not_on_provenance():
    a = so101(offsets=(10, -20, 30, -40, 50, -60))
    b = ArmCalibration("so101", a.joints, "2030-01-01T00:00:00Z", "another source")
    c = so101(offsets=(11, -20, 30, -40, 50, -60))
    assert calibration_fingerprint(a) == calibration_fingerprint(b)
    assert calibration_fingerprint(a)["digest"] != calibration_fingerprint(c)["digest"]
    assert json.loads(json.dumps(calibration_fingerprint(a))) == calibration_fingerprint(a)


def test_compare_reports_per_joint_counts_and_the_zero_shift():
    ref = so101()
    # Re-homed elbow: offset +5 moves the pose that reads mid by +5 encoder counts; a range recorded 3 counts
    # wider on both sides keeps the mid, so the angle reading does not move.
    cur = so101(offsets=(0, 0, 5, 0, 0, 0), ranges=((800, 3300), (797, 3303), (800, 3300), (800, 3300),
                                                     (0, 4095), (2000, 3400)))
    diff = compare_calibrations(calibration_fingerprint(ref), cur)
    by = {d.name: d for d in diff.joints}
    assert by["elbow_flex"].zero_shift == 5 and by["elbow_flex"].homing_offset == 5
    assert by["shoulder_lift"].zero_shift == 0 and by["shoulder_lift"].counts == 3
    assert [d.name for d in diff.beyond(4)] == ["elbow_flex"] and diff.max_counts == 5
    assert diff.beyond(5) == () and not diff.missing and not diff.extra
    flipped = so101(drive=(0, 0, 0, 0, 0, 1))
    assert compare_calibrations(ref, flipped).beyond(1000)[0].name == "gripper"


def test_compare_wraps_the_zero_shift_the_short_way():
    ref = so101(offsets=(2040, 0, 0, 0, 0, 0))
    cur = so101(offsets=(-2046, 0, 0, 0, 0, 0))  # 2040 + 10 counts, wrapped through 4096
    assert compare_calibrations(ref, cur).joints[0].zero_shift == 10


def test_action_range_check_names_the_joint_that_cannot_reach():
    cal = so101()  # 800..3300 around mid 2050: +-1250 counts = +-1.918 rad
    half = 1250 * 2 * math.pi / 4095
    assert unit_range(cal.joint("elbow_flex")) == pytest.approx((-half, half))
    assert range_covers(cal, "elbow_flex", -1.9, 1.9) and not range_covers(cal, "elbow_flex", -1.9, 2.0)
    assert range_covers(cal, "elbow_flex", -1.9, 2.0, margin=0.1)
    names = ["shoulder_pan", "elbow_flex", "gripper", "base_yaw"]
    problems = check_action_ranges(cal, names, [-1.0, -1.0, 0.0, 0.0], [1.0, 2.5, 1.0, 0.1])
    assert [p.joint for p in problems] == ["elbow_flex", "base_yaw"]
    assert "2.5000" in str(problems[0]) and "no joint" in str(problems[1])
