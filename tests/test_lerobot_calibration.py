"""LeRobot calibration files in and out: byte-exact round trip, and vla-lite agreeing with LeRobot's own
normalisation on every joint's position to one count."""

import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from vla_lite.calib.errors import CalibrationFileError
from vla_lite.calib.lerobot_calibration import (from_lerobot, lerobot_calibration_path, lerobot_json_text,
                                                read_lerobot_calibration, to_lerobot, write_lerobot_calibration)

SO101_IDS = {"shoulder_pan": 1, "shoulder_lift": 2, "elbow_flex": 3, "wrist_flex": 4, "wrist_roll": 5, "gripper": 6}
# A file as LeRobot's SO-101 calibration writes it (values of a real-looking arm; wrist_roll full turn).
LEROBOT_SO101 = {
    "shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": -1470, "range_min": 758, "range_max": 3292},
    "shoulder_lift": {"id": 2, "drive_mode": 0, "homing_offset": 157, "range_min": 612, "range_max": 3401},
    "elbow_flex": {"id": 3, "drive_mode": 0, "homing_offset": 1105, "range_min": 882, "range_max": 3100},
    "wrist_flex": {"id": 4, "drive_mode": 0, "homing_offset": -2035, "range_min": 826, "range_max": 3182},
    "wrist_roll": {"id": 5, "drive_mode": 0, "homing_offset": -1216, "range_min": 0, "range_max": 4095},
    "gripper": {"id": 6, "drive_mode": 0, "homing_offset": 1423, "range_min": 2031, "range_max": 3476},
}


def lerobot_dump(d, path):
    """How LeRobot saves it: Robot._save_calibration -> draccus.dump(calibration, f, indent=4) in JSON mode,
    whose JSONParser.save_config is json.dump(d, stream, **kwargs)."""
    with open(path, "w") as f:
        json.dump(d, f, indent=4)


# --- test oracle: LeRobot's normalisation, transcribed from lerobot/motors/motors_bus.py (v0.3.3 .. v0.6.1,
# MotorsBus._normalize / _unnormalize) with FeetechMotorsBus.apply_drive_mode = True and
# MODEL_RESOLUTION["sts3215"] = 4096 (feetech/tables.py). SO-101: DEGREES for the body, RANGE_0_100 for the gripper.

def lerobot_normalize(cal, mode, val, apply_drive_mode=True, resolution=4096):
    min_, max_ = cal["range_min"], cal["range_max"]
    drive_mode = apply_drive_mode and cal["drive_mode"]
    bounded_val = min(max_, max(min_, val))
    if mode == "range_0_100":
        norm = ((bounded_val - min_) / (max_ - min_)) * 100
        return 100 - norm if drive_mode else norm
    mid = (min_ + max_) / 2
    max_res = resolution - 1
    return (val - mid) * 360 / max_res  # degrees: not clipped, no drive_mode


def lerobot_unnormalize(cal, mode, val, apply_drive_mode=True, resolution=4096):
    min_, max_ = cal["range_min"], cal["range_max"]
    drive_mode = apply_drive_mode and cal["drive_mode"]
    if mode == "range_0_100":
        val = 100 - val if drive_mode else val
        bounded_val = min(100.0, max(0.0, val))
        return int((bounded_val / 100) * (max_ - min_) + min_)
    mid = (min_ + max_) / 2
    max_res = resolution - 1
    return int((val * max_res / 360) + mid)


def mode_of(name):
    return "range_0_100" if name == "gripper" else "degrees"


def test_file_round_trips_byte_for_byte(tmp_path):
    src = tmp_path / "so101_follower" / "my_arm.json"
    src.parent.mkdir()
    lerobot_dump(LEROBOT_SO101, src)
    cal = from_lerobot(read_lerobot_calibration(src), "so101", source=f"lerobot {src}")
    assert cal.arm == "so101" and cal.joint("wrist_roll").full_turn and cal.units[-1] == "fraction"
    out = write_lerobot_calibration(tmp_path / "back.json", cal)
    assert out.read_bytes() == src.read_bytes()
    assert list(json.loads(out.read_text())["gripper"]) == ["id", "drive_mode", "homing_offset", "range_min",
                                                            "range_max"]


@st.composite
def lerobot_files(draw):
    d = {}
    for name, i in SO101_IDS.items():
        lo = 0 if name == "wrist_roll" else draw(st.integers(0, 4094))
        hi = 4095 if name == "wrist_roll" else draw(st.integers(lo + 1, 4095))
        d[name] = {"id": i, "drive_mode": draw(st.integers(0, 1)), "homing_offset": draw(st.integers(-2047, 2047)),
                   "range_min": lo, "range_max": hi}
    return d


@settings(max_examples=150, deadline=None)
@given(lerobot_files(), st.lists(st.integers(0, 4095), min_size=6, max_size=6))
def test_both_tools_agree_on_every_joint_position(d, present):
    cal = from_lerobot(d, "so101")
    assert to_lerobot(cal) == d and json.loads(lerobot_json_text(cal)) == d
    ours = cal.to_units(present)
    for i, (name, c) in enumerate(zip(SO101_IDS, present)):
        theirs = lerobot_normalize(d[name], mode_of(name), c)
        if name == "gripper":
            assert ours[i] == pytest.approx(theirs / 100, abs=1e-12)
        else:
            assert ours[i] == pytest.approx(theirs * math.pi / 180, abs=1e-12)
    # Commands: the same value sent by both tools lands on the same count, to one (LeRobot truncates, we round;
    # both clip the gripper, and our clip of body joints to the range is what LeRobot's written limits do).
    back = cal.to_counts(ours)
    for i, name in enumerate(SO101_IDS):
        lo, hi = d[name]["range_min"], d[name]["range_max"]
        theirs = lerobot_unnormalize(d[name], mode_of(name), lerobot_normalize(d[name], mode_of(name), present[i]))
        assert abs(int(back[i]) - min(max(theirs, lo), hi)) <= 1
        assert back[i] == min(max(present[i], lo), hi)  # and ours is exact


def test_bad_lerobot_files_are_named(tmp_path):
    for content, match in [({"gripper": {"id": 6}}, "expected exactly the keys"),
                           ({**LEROBOT_SO101, "gripper": {**LEROBOT_SO101["gripper"], "range_min": 1.5}},
                            "range_min is 1.5"),
                           ([], "expected a JSON object")]:
        (tmp_path / "f.json").write_text(json.dumps(content))
        with pytest.raises(CalibrationFileError, match=match):
            read_lerobot_calibration(tmp_path / "f.json")
    koch_names = {k.replace("elbow_flex", "elbow"): v for k, v in LEROBOT_SO101.items()}
    with pytest.raises(CalibrationFileError, match="another arm type"):
        from_lerobot(koch_names, "so101")
    with pytest.raises(CalibrationFileError, match="arm profile 'so999'"):
        from_lerobot(LEROBOT_SO101, "so999")


def test_default_path_follows_lerobot_environment(monkeypatch, tmp_path):
    for var in ("HF_LEROBOT_CALIBRATION", "HF_LEROBOT_HOME", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert lerobot_calibration_path("so101_follower", "arm1") == \
        tmp_path / ".cache/huggingface/lerobot/calibration/robots/so101_follower/arm1.json"
    monkeypatch.setenv("HF_LEROBOT_HOME", str(tmp_path / "lr"))
    assert lerobot_calibration_path("so101_leader", "a", teleoperator=True) == \
        tmp_path / "lr/calibration/teleoperators/so101_leader/a.json"
