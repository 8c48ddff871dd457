"""`vla-lite calibrate` converting LeRobot files both ways without an arm, and its refusals."""

import json

from vla_lite.calib.arm_calibration import load_arm_calibration
from vla_lite.cli import main

from test_lerobot_calibration import LEROBOT_SO101, lerobot_dump


def test_from_lerobot_then_back(tmp_path, capsys):
    src, cal, back = tmp_path / "my_arm.json", tmp_path / "cal.json", tmp_path / "back.json"
    lerobot_dump(LEROBOT_SO101, src)
    assert main(["calibrate", "--arm", "so101", "--from-lerobot", str(src), "--out", str(cal)]) == 0
    text = capsys.readouterr().out
    assert "wrist_roll" in text and "full turn" in text and f"wrote {cal}" in text
    loaded = load_arm_calibration(cal)
    assert loaded.arm == "so101" and loaded.source == f"lerobot {src}"
    assert loaded.joint("elbow_flex").range_min == 882

    assert main(["calibrate", "--calibration", str(cal), "--to-lerobot", str(back), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert back.read_bytes() == src.read_bytes()
    assert info["written"] == {"to_lerobot": str(back)} and info["fingerprint"].startswith("sha256:")
    g = info["joints"][5]
    assert g["name"] == "gripper" and g["unit"] == "fraction" and g["range_units"] == [0.0, 1.0]


def test_refusals_name_the_problem(tmp_path, capsys):
    src = tmp_path / "my_arm.json"
    lerobot_dump(LEROBOT_SO101, src)
    assert main(["calibrate", "--from-lerobot", str(src), "--out", str(tmp_path / "c.json")]) == 1
    assert "needs --arm" in capsys.readouterr().err
    assert main(["calibrate", "--arm", "so101", "--from-lerobot", str(src), "--out", str(src)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["calibrate", "--calibration", str(src)]) == 1  # a LeRobot file where a vla-lite one belongs
    assert "format is None" in capsys.readouterr().err
    cal = tmp_path / "cal.json"
    assert main(["calibrate", "--arm", "so101", "--from-lerobot", str(src), "--out", str(cal)]) == 0
    assert main(["calibrate", "--arm", "koch", "--calibration", str(cal)]) == 1
    assert "calibrates a 'so101' arm" in capsys.readouterr().err
