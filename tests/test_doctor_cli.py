"""`vla-lite doctor --port P --arm so101 [--calibration FILE] [--json]` over a virtual SO-101 on a real pty: positions
in joint units checked against LeRobot's own formulas, a one-line verdict, exit 1 with the missing joint named
when a servo vanished, and a calibration whose offsets the servos do not hold refused by name."""

import json
import math
import time

import pytest
from servo_fixtures import quick_thread_switches  # noqa: F401 (fixture)

from vla_lite.calib.lerobot_calibration import from_lerobot
from vla_lite.calib.arm_calibration import save_arm_calibration
from vla_lite.cli import main
from vla_lite.firmware_bridge.servo import load_arm
from vla_lite.firmware_bridge.servo.serve import PtyServer
from vla_lite.firmware_bridge.servo.virtual_bus import VirtualBus
from vla_lite.firmware_bridge.servo.virtual_hand import VirtualHand

from test_lerobot_calibration import LEROBOT_SO101

pytestmark = pytest.mark.usefixtures("quick_thread_switches")

SHAFT = {1: 500, 2: 1800, 3: 3000, 4: 100, 5: 3900, 6: 700}  # encoder counts the virtual joints rest at


def set_eeprom(servo, register: str, value: int) -> None:
    """As a setup tool writes a Feetech EEPROM register: Lock cleared, the value, Lock set again."""
    for name, v in (("Lock", 0), (register, value), ("Lock", 1)):
        servo.write(servo.table[name].address, servo.table.encode(name, v), time.monotonic())


def calibrated_arm(tmp_path):
    """A virtual SO-101 whose servos hold LEROBOT_SO101's homing offsets, and that file in vla-lite's format."""
    vbus = VirtualBus(load_arm("so101"), now_s=time.monotonic())
    for name, c in LEROBOT_SO101.items():
        set_eeprom(vbus.servo(c["id"]), "Homing_Offset", c["homing_offset"])
    VirtualHand(vbus).place(SHAFT)
    path = save_arm_calibration(tmp_path / "cal.json", from_lerobot(LEROBOT_SO101, "so101"))
    return PtyServer(vbus).start(), path


def lerobot_units(name: str, present: int) -> float:
    """LeRobot's normalisation (degrees mode for the body, range_0_100 for the gripper) in vla-lite's units."""
    c = LEROBOT_SO101[name]
    lo, hi = c["range_min"], c["range_max"]
    if name == "gripper":
        return (min(hi, max(lo, present)) - lo) / (hi - lo)
    return (present - (lo + hi) / 2) * 360 / 4095 * math.pi / 180


def test_json_report_in_joint_units(tmp_path, capsys):
    server, cal = calibrated_arm(tmp_path)
    with server:
        code = main(["doctor", "--port", server.port, "--arm", "so101", "--calibration", str(cal), "--json",
                     "--count", "20"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and report["missing"] == [] and report["timing"]["cycles"] == 20
    for s in report["servos"]:
        offset = LEROBOT_SO101[s["name"]]["homing_offset"]
        assert s["position_counts"] == (SHAFT[s["id"]] - offset) % 4096  # Feetech: present = actual - offset
        assert s["position"] == pytest.approx(lerobot_units(s["name"], s["position_counts"]), abs=1e-12)
        assert s["model"] == "sts3215" and s["unit"] == ("fraction" if s["name"] == "gripper" else "rad")
    assert report["calibration"]["offset_mismatches"] == {} and report["warnings"] == []


def test_text_table_and_a_vanished_servo_fail_by_name(tmp_path, capsys):
    server, cal = calibrated_arm(tmp_path)
    with server:
        assert main(["doctor", "--port", server.port, "--arm", "so101", "--calibration", str(cal), "--count", "10"]) == 0
        text = capsys.readouterr().out.splitlines()
        assert text[-1].startswith("OK: 6/6 servos of so101")
        row = next(line for line in text if " elbow_flex " in line)
        assert " rad " in row and str((SHAFT[3] - 1105) % 4096) in row
        with server.lock:
            server.bus.vanish(5)
        assert main(["doctor", "--port", server.port, "--arm", "so101", "--count", "10", "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert not report["ok"] and report["missing"] == ["wrist_roll"]
        assert report["verdict"].startswith("FAIL: 5/6 servos of so101; missing wrist_roll")
        assert next(s for s in report["servos"] if s["name"] == "wrist_roll")["found"] is False
        assert main(["doctor", "--port", server.port, "--arm", "so101", "--count", "10"]) == 1
        assert "  5 wrist_roll     MISSING (no answer; expected sts3215)" in capsys.readouterr().out


def test_a_factory_reply_delay_is_a_warning(tmp_path, capsys):
    server, cal = calibrated_arm(tmp_path)
    with server:
        with server.lock:
            set_eeprom(server.bus.servo(4), "Return_Delay_Time", 250)  # the factory's 500 µs
        assert main(["doctor", "--port", server.port, "--arm", "so101", "--count", "5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["warnings"] == ["wrist_flex: Return_Delay_Time 500 µs, the profile expects 0 µs (replies come "
                                  "late; `vla-lite calibrate` sets it)"]
    assert report["verdict"].startswith("OK: 6/6") and "warning: wrist_flex" in report["verdict"]


def test_a_calibration_the_servos_do_not_hold_fails(tmp_path, capsys):
    server, cal = calibrated_arm(tmp_path)
    with server:
        with server.lock:
            set_eeprom(server.bus.servo(3), "Homing_Offset", 0)
        assert main(["doctor", "--port", server.port, "--arm", "so101", "--calibration", str(cal), "--count", "5",
                     "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["calibration"]["offset_mismatches"] == {"elbow_flex": {"servo": 0, "file": 1105}}
    assert "homing offsets differ" in report["verdict"] and report["verdict"].startswith("FAIL: 6/6")


def test_bad_use_is_refused(tmp_path, capsys):
    assert main(["doctor", "--port", "/dev/null-nothing", "--calibration", "x.json"]) == 2
    assert "--calibration needs --arm" in capsys.readouterr().err
    server, cal = calibrated_arm(tmp_path)
    with server:
        assert main(["doctor", "--port", server.port, "--arm", "koch", "--calibration", str(cal)]) == 2
    assert "calibrates a 'so101' arm, but --arm is 'koch'" in capsys.readouterr().err
