"""The README's "No arm yet?" path (issue 16, defect 7), run as written: `vla-lite sim-arm --arm tabletop` serves
the demo model's arm on a real pty, `vla-lite doctor` passes on it, and `vla-lite run --camera sim` drives it with
the bundled demo model, the camera rendering the tabletop with the arm where the controller reports it, and leaves
the controller unfaulted (doctor and run sign off), so no step needs --clear-faults."""

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sim_arm_cli import start_sim_arm, stop_sim_arm

from vla_lite.bundle import check_compatible, load_bundle
from vla_lite.cli import main
from vla_lite.firmware_bridge.arm_config import TABLETOP_HOME, tabletop_arm
from vla_lite.models import DEMO_BUNDLE
from vla_lite.ports import open_scene
from vla_lite.worlds.base import WorldOptions
from vla_lite.worlds.tabletop import scara_arm

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCK = next(b for b in re.findall(r"```bash\n(.*?)```", README, re.S) if "sim-arm --arm tabletop" in b)


def readme_commands() -> list[list[str]]:
    """The block's commands as argv lists (comments and the trailing `&` dropped)."""
    lines = [line.split("#", 1)[0].strip().rstrip("&").strip() for line in BLOCK.splitlines()]
    return [shlex.split(line) for line in lines if line]


def test_the_tabletop_controller_is_the_contract_the_demo_bundle_and_the_world_expect():
    check_compatible(load_bundle(DEMO_BUNDLE).manifest, tabletop_arm())  # raises BundleMismatch otherwise
    world = scara_arm()
    assert [j for j in world.joints] == list(tabletop_arm().joints) and world.name == tabletop_arm().name


def test_the_readme_no_arm_commands_drive_the_demo_model(tmp_path, capsys):
    (serve, doctor, run) = readme_commands()
    assert serve[:4] == ["vla-lite", "sim-arm", "--arm", "tabletop"] and doctor[:2] == ["vla-lite", "doctor"]
    link = str(tmp_path / "arm")
    proc, port = start_sim_arm(*[link if a == "/tmp/arm" else a for a in serve[2:]])
    try:
        assert port == link
        assert main([link if a == "/tmp/arm" else a for a in doctor[1:]]) == 0
        assert capsys.readouterr().out.splitlines()[-1].startswith("PASS: vla-lite sim SCARA, 4 joints")
        argv = [link if a == "/tmp/arm" else a for a in run[1:]]
        argv[argv.index("--duration") + 1] = "4"  # the README's 20 s, shortened
        out = subprocess.run([sys.executable, "-m", "vla_lite", *argv, "--report", str(tmp_path / "r.json")],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-3000:]
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["inferences"] >= 5 and report["link"]["commands_acked"] >= 25, (report["holds"], report)
        assert report["link"]["commands_lost"] == 0
        time.sleep(0.3)  # 3 watchdog periods of silence: the run signed off, so nothing trips
        code = main(["doctor", "--port", link, "--json", "--count", "5"])  # no --clear-faults: none latched
        found = json.loads(capsys.readouterr().out)
        moved = np.array([j["position"] for j in found["joints"]])
        assert code == 0 and found["faults"] == [], found["faults"]
        assert np.abs(moved - np.array(TABLETOP_HOME)).max() > 0.01  # the policy moved the arm
    finally:
        rc, err = stop_sim_arm(proc)
    assert rc == 0 and "4 joints (shoulder, elbow, lift, gripper)" in err


def test_a_scene_follows_the_reported_arm_and_only_the_tabletop_offers_one():
    reported = [None]
    scene = open_scene("sim", "front", WorldOptions(size_px=64, camera_fps=None), lambda: reported[0])
    try:
        at_home = scene.camera.read().image
        reported[0] = (1.0, -1.0, 0.02, 0.0)  # the controller says the arm swung over and down
        moved = scene.camera.read().image
        assert at_home.shape == (64, 64, 3) and np.abs(moved.astype(int) - at_home).sum() > 0
        assert scene.retarget("touch the purple block") is None
        assert "names no block colour" in scene.retarget("make me a coffee")
    finally:
        scene.close()
    with pytest.raises(ValueError, match="metaworld"):
        open_scene("metaworld:reach-v3", "front", WorldOptions(), lambda: None)
