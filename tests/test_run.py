"""`vla-lite run` end to end on the simulated world over a real pty, with the bundled demo model: the report, the
recording, commands always inside the arm's limits, and a clean stop on SIGTERM / Ctrl-C."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from bundle_factory import CAMERAS, tiny_bundle  # noqa: F401  (tiny_bundle is a fixture)
from vla_lite.holds import ExitStatus
from vla_lite.models import DEMO_BUNDLE
from vla_lite.recording import list_episodes, read_episode
from vla_lite.runtime import RunConfig, Runtime
from vla_lite.session import Session

pytestmark = pytest.mark.skipif(not DEMO_BUNDLE.exists(), reason=f"no demo bundle at {DEMO_BUNDLE}")

REPORT_FIELDS = {"rate_hz", "ticks", "overruns", "jitter_ms", "inference_ms", "loop_ms", "faults", "episodes",
                 "success_rate", "camera_to_command_ms", "holds"}


def test_run_in_process_sends_only_commands_inside_the_arm_limits(tmp_path):
    rt = Runtime.open(RunConfig(port="sim", rate_hz=50.0, record_dir=str(tmp_path / "rec")))
    try:
        session = Session(rt, verbose=False)
        session.prepare(freeze_gc=False)
        pacer = session.run(duration_s=4.0)
        arm = rt.rig.arm
        log = list(arm.command_log)
        lo = np.array([j.pos_min for j in arm.config.joints])
        hi = np.array([j.pos_max for j in arm.config.joints])
        latched = [k for k in rt.loop.ledger.faults if k.startswith("controller ")]
    finally:
        rt.close()
    # A command can only be refused when it crossed a fault latching on the way (a stall on a loaded machine trips
    # the 100 ms watchdog): then the loop saw the fault and sent heartbeats, not commands, until the end.
    assert pacer.ticks >= 150 and (arm.commands_rejected == 0 or latched), (arm.commands_rejected, latched)
    assert arm.commands_rejected <= 5 * len(latched), (arm.commands_rejected, latched)
    targets = np.array([rec.command.target for rec in log])
    assert len(targets) > 100 and np.all(targets >= lo - 1e-6) and np.all(targets <= hi + 1e-6)
    assert np.all(np.isfinite(targets))
    eps = list_episodes(tmp_path / "rec", include_partial=True)
    assert eps, "the run recorded nothing"
    ep = read_episode(eps[0])
    assert len(ep.ticks["step"]) > 20 and ep.num_frames("front") > 5
    assert np.isfinite(ep.ticks["commanded"][ep.ticks["commanded_present"]]).all()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_run_stops_cleanly_on_a_signal_and_writes_its_report(tmp_path, sig):
    report = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "vla_lite", "run", "--port", "sim", "--rate", "50",
                             "--report", str(report), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stderr:  # the run announces its settings just before the loop starts
            if "gc frozen" in line or time.monotonic() > deadline:
                break
        time.sleep(2.0)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "ticks at 50 Hz" in out, err
    r = json.loads(report.read_text())
    # 0, or 3 when a stall on a loaded machine let the controller's 100 ms watchdog latch (said, and in the report)
    assert proc.returncode == r["exit_status"], err
    assert proc.returncode == 0 or (proc.returncode == ExitStatus.HELD_BY_FAULT
                                    and r["held_at_end"].startswith("controller fault")), err
    assert REPORT_FIELDS <= set(r) and r["ticks"] > 50 and r["rate_hz"] == 50.0
    assert r["link"]["commands_lost"] == 0 and r["jitter_ms"]["n"] > 0


def test_cli_run_refuses_bad_arguments_by_name(tmp_path):
    for args, word in ((["--port", "sim", "--rate", "33"], "integer multiple"),
                       (["--port", "/dev/ttyUSB9", "--instruction", "x"], "--camera"),
                       (["--port", "sim", "--model", str(tmp_path / "none.vla")], "no bundle file"),
                       (["--port", "metaworld:reach-v3", "--camera", "0"], "the simulated world is the camera"),
                       (["--port", "/dev/ttyUSB9", "--camera", "0", "--episodes", "3"], "simulated world")):
        out = subprocess.run([sys.executable, "-m", "vla_lite", "run", *args], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 2 and word in out.stderr, out.stderr


def test_the_tabletop_refuses_a_bundle_that_needs_more_cameras_than_it_renders(tiny_bundle):
    assert len(CAMERAS) == 2  # front and wrist; the tabletop renders one
    out = subprocess.run([sys.executable, "-m", "vla_lite", "run", "--port", "sim", "--model", str(tiny_bundle.path),
                          "--duration", "1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "has one camera" in out.stderr and "'wrist'" in out.stderr, out.stderr
