"""Arm profiles and control tables as data: the built-in arms match LeRobot's (IDs, joint names, models, modes,
baud), a user's JSON file loads through the same path, and a bad file is refused naming the bad key or value."""

import json

import pytest

from vla_lite.firmware_bridge.servo import Family, JointUnit, OperatingMode, builtin_arms, load_arm
from vla_lite.firmware_bridge.servo.errors import ServoConfigError
from vla_lite.firmware_bridge.servo.tables import DYNAMIXEL_X, FEETECH_STS, MODELS, Area, Sign

JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")


@pytest.mark.parametrize("name", ["so100", "so101"])
def test_so_arms_are_six_sts3215_at_1mbps(name):
    arm = load_arm(name)
    assert arm.family is Family.FEETECH_STS and arm.baudrate == 1_000_000
    assert arm.names == JOINTS and arm.ids == (1, 2, 3, 4, 5, 6)
    assert {s.model.name for s in arm.servos} == {"sts3215"} and arm.servos[0].model.number == 777
    assert {s.mode for s in arm.servos} == {OperatingMode.POSITION}
    assert [s.name for s in arm.servos if s.full_turn] == ["wrist_roll"]
    assert [s.unit for s in arm.servos] == [JointUnit.RAD] * 5 + [JointUnit.FRACTION]
    assert f"{name}_follower" in arm.lerobot_types


def test_koch_matches_lerobots_follower():
    arm = load_arm("koch")
    assert arm.family is Family.DYNAMIXEL_X and arm.names == JOINTS and arm.ids == (1, 2, 3, 4, 5, 6)
    assert [s.model.name for s in arm.servos] == ["xl430-w250"] * 2 + ["xl330-m288"] * 4
    assert [s.model.number for s in arm.servos] == [1060] * 2 + [1200] * 4
    assert [s.mode for s in arm.servos] == [OperatingMode.EXTENDED_POSITION] * 5 + [OperatingMode.CURRENT_POSITION]
    assert [s.name for s in arm.servos if s.full_turn] == ["shoulder_pan", "wrist_roll"]  # LeRobot's koch calibrate
    assert arm.servo("gripper").unit is JointUnit.FRACTION and arm.lerobot_types == ("koch_follower", "koch_leader")
    assert set(builtin_arms()) >= {"so100", "so101", "koch"}


def test_model_numbers():
    assert {n: MODELS[n].number for n in ("sts3215", "xl430-w250", "xl330-m288", "xm430-w350")} == {
        "sts3215": 777, "xl430-w250": 1060, "xl330-m288": 1200, "xm430-w350": 1020}


def test_tables_carry_address_size_sign_and_area():
    hom = FEETECH_STS["Homing_Offset"]
    assert (hom.address, hom.size, hom.sign, hom.sign_bit, hom.area) == (31, 2, Sign.SIGN_MAGNITUDE, 11, Area.EEPROM)
    assert FEETECH_STS["Present_Load"].sign_bit == 10 and FEETECH_STS["Goal_Position"].area is Area.RAM
    assert (FEETECH_STS["Lock"].address, FEETECH_STS["Present_Position"].address) == (55, 56)
    goal = DYNAMIXEL_X["Goal_Position"]
    assert (goal.address, goal.size, goal.sign) == (116, 4, Sign.TWOS_COMPLEMENT)
    assert hom.max_magnitude == 2047 and DYNAMIXEL_X["Homing_Offset"].max_magnitude == 1_044_479  # X manual range
    assert DYNAMIXEL_X.decode("Homing_Offset", DYNAMIXEL_X.encode("Homing_Offset", -1_044_479)) == -1_044_479
    with pytest.raises(ServoConfigError, match="Homing_Offset = 1044480 is outside the servo's range"):
        DYNAMIXEL_X.encode("Homing_Offset", 1_044_480)
    assert DYNAMIXEL_X["Operating_Mode"].area is Area.EEPROM and DYNAMIXEL_X["Torque_Enable"].area is Area.RAM
    assert FEETECH_STS.span(["Present_Load", "Status"]) == (60, 6)


def test_a_users_profile_file_loads(tmp_path):
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"name": "pan-tilt", "family": "dynamixel_x", "baudrate": 57600,
                                "servos": [{"name": "pan", "id": 11, "model": "xm430-w350", "mode": "position"},
                                           {"name": "tilt", "id": 12, "model": "XM430-W350", "mode": "position"}]}))
    arm = load_arm(str(path))
    assert arm.ids == (11, 12) and arm.return_delay_us == 500 and arm.servo("tilt").id == 12


@pytest.mark.parametrize("change, message", [
    ({"family": "robotis"}, "family 'robotis' is not one of"),
    ({"baudrate": 0}, "baudrate must be a positive integer, got 0"),
    ({"colour": "red"}, "unknown keys \\['colour'\\]"),
    ({"servos": [{"name": "a", "id": 1, "model": "xl430-w250", "mode": "position"}]}, "model xl430-w250 is dynamixel_x"),
    ({"servos": [{"name": "a", "id": 300, "model": "sts3215", "mode": "position"}]}, "id must be 0..252, got 300"),
    ({"servos": [{"name": "a", "id": 1, "model": "sts3215", "mode": "current_position"}]},
     "sts3215 has no current_position mode"),
    ({"servos": [{"name": "a", "id": 1, "model": "sts3215", "mode": "position"},
                 {"name": "b", "id": 1, "model": "sts3215", "mode": "position"}]}, "servo IDs repeat: \\[1, 1\\]"),
    ({"servos": [{"name": "a", "id": 1, "model": "sts3215", "mode": "position", "unit": "deg"}]},
     "unit 'deg' is not one of \\['rad', 'fraction'\\]"),
    ({"servos": [{"name": "a", "id": 1, "model": "sts3215", "mode": "position", "full_turn": "yes"}]},
     "full_turn must be true or false, got 'yes'"),
    ({"lerobot_types": "so101_follower"}, "lerobot_types must be a list of strings"),
])
def test_bad_profiles_name_the_bad_value(tmp_path, change, message):
    data = {"name": "x", "family": "feetech_sts", "baudrate": 1_000_000,
            "servos": [{"name": "a", "id": 1, "model": "sts3215", "mode": "position"}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**data, **change}))
    with pytest.raises(ServoConfigError, match=message):
        load_arm(path)


def test_unknown_arm_name_lists_the_builtins():
    with pytest.raises(ServoConfigError, match="neither a built-in arm .*so101.* nor a JSON file"):
        load_arm("so102")
