"""`--port so101-sim` through the runtime: the SO-101 world's servos are driven by the same ServoArm a real bus
gets (sync reads and writes of Feetech packets over the rig's pty, counts <-> rad through the world's own
calibration), in real time (`run`) and in lockstep (`eval --suite so101`)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from servo_run_fixtures import servo_bundle

pytest.importorskip("mujoco")

INSTRUCTION = "put the red cube in the bowl"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return servo_bundle(tmp_path_factory.mktemp("so101run") / "so101.vla", "so101")


def vla(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "vla_lite", *args], capture_output=True, text=True, timeout=timeout)


def test_run_on_so101_sim_drives_the_world_over_the_servo_bus(tmp_path, bundle):
    report = tmp_path / "r.json"
    out = vla("run", "--port", "so101-sim:red-bowl", "--model", str(bundle), "--duration", "3",
              "--instruction", INSTRUCTION, "--report", str(report), "--quiet")
    assert out.returncode == 0, out.stderr
    r = json.loads(report.read_text())
    link = r["link"]
    # every tick is one sync read of the six servos and, when all were fresh, one sync write of their goals
    assert link["reads"] >= 0.8 * r["ticks"] > 40, link
    assert link["commands_sent"] >= 0.8 * r["ticks"], link
    assert set(link["servos"]) == {"shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll",
                                   "gripper"}
    assert all(s["replies"] > 0 for s in link["servos"].values())


def test_eval_suite_so101_runs_lockstep_episodes_through_the_bus(bundle):
    out = vla("eval", str(bundle), "--suite", "so101", "--episodes", "2", "--seed", "5", "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert [e["seed"] for e in r["results"]] == [5, 6]
    # a random policy does not solve the task: each episode runs to the world's own 10 s length at 30 Hz
    assert all(e["outcome"] == "timeout" and e["steps"] == 300 for e in r["results"]), r["results"]
    from vla_lite.worlds.so101.rig import TASKS

    assert all(e["target"] in TASKS for e in r["results"]), r["results"]


def test_sim_arm_world_serves_the_so101_for_any_host_and_doctor_reads_it_in_radians(tmp_path):
    """`vla-lite sim-arm --arm so101 --world`: another process (here doctor) finds six STS3215 on the pty and, with
    the calibration the world wrote, reads the world's home pose in joint units."""
    cal = tmp_path / "cal.json"
    server = subprocess.Popen([sys.executable, "-m", "vla_lite", "sim-arm", "--arm", "so101", "--world",
                               "--calibration-out", str(cal)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        port = server.stdout.readline().strip()
        assert port.startswith("/dev/"), server.stderr.read() if server.poll() is not None else port
        out = vla("doctor", "--port", port, "--arm", "so101", "--calibration", str(cal), "--json", timeout=120)
        assert out.returncode == 0, out.stderr
        r = json.loads(out.stdout)
        assert r["ok"] and r["missing"] == [] and len(r["servos"]) == 6, r
        by_name = {s["name"]: s for s in r["servos"]}
        from vla_lite.worlds.so101.rig import TASKS
        from vla_lite.worlds.so101.world import SO101World

        world = SO101World()
        world.reset(0, TASKS["red-bowl"])  # what the server did: its first episode, seed 0 (no goal written since)
        for name, rad in zip(("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"),
                             world.present_positions()[:5]):
            assert abs(by_name[name]["position"] - rad) < 0.01, (name, by_name[name], rad)
        assert all("position" in s for s in r["servos"])  # calibrated: joint units beside the counts
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sim_arm_world_flags_are_refused_where_they_do_not_apply():
    for args, word in ((["--arm", "koch", "--world"], "--arm so101"), (["--task", "blue-bowl"], "for --world"),
                       (["--task", "red-bowl"], "for --world"),  # the default task, named: still not without --world
                       (["--layout-seed", "0"], "for --world"),
                       (["--arm", "so101", "--world", "--tcp", "0"], "--tcp is not for --world"),
                       (["--arm", "so101", "--world", "--watchdog-ms", "500"], "--watchdog-ms is not for --world"),
                       (["--arm", "so101", "--world", "--torque-off-ms", "0"], "--torque-off-ms is not for --world")):
        out = vla("sim-arm", *args, timeout=60)
        assert out.returncode == 2 and word in out.stderr and "Traceback" not in out.stderr, out.stderr


def spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(500))


def lockstep_episodes(bundle, port: str, loaded: bool, ticks: int = 20) -> dict:
    """Two lockstep episodes (cut to `ticks`) through the runtime in this process, as `vla-lite eval` runs them.
    loaded: meanwhile a thread spins, taking the interpreter from the servo server's thread for whole switch
    intervals (5 ms: twice a loop's reply window), as a busy host starves it."""
    from vla_lite.evaluate import SimClock, run_episodes
    from vla_lite.runtime import RunConfig, Runtime

    clock = SimClock()
    rt = Runtime.open(RunConfig(port=port, model=str(bundle), sim_camera_fps=None), clock=clock)
    stop = threading.Event()
    spinner = threading.Thread(target=spin, args=(stop,))
    try:
        rt.rig.world.max_steps = ticks
        if loaded:
            spinner.start()
        results = run_episodes(rt, clock, [5, 6])
        link = rt.link.stats.as_dict()
        return {"results": [(r.seed, r.outcome, r.steps) for r in results], "holds": rt.loop.report()["holds"],
                "joints_rad": rt.rig.world.present_joint_rad().copy(), "link": link,
                "losses": {n: (s["timeouts"], s["bad_checksums"]) for n, s in link["servos"].items()}}
    finally:
        stop.set()
        if spinner.is_alive():
            spinner.join()
        rt.close()


@pytest.mark.parametrize("port", ["so101-sim:red-bowl,blue-left-pad",
                                  "so101-sim:red-bowl,blue-left-pad,drop=0.03,corrupt=0.03,seed=4"])
def test_lockstep_results_do_not_depend_on_the_machines_load(bundle, port):
    """In lockstep the bus waits for the simulated servos' answers (liveness timeout only), so a loaded machine
    (the servo server's thread starved) gives the very same episodes: no tick held for want of a state, the same
    joints at the end, the same replies lost to the injected faults and nothing else."""
    idle, loaded = (lockstep_episodes(bundle, port, load) for load in (False, True))
    assert idle["results"] == loaded["results"] == [(5, "timeout", 20), (6, "timeout", 20)]
    np.testing.assert_array_equal(idle["joints_rad"], loaded["joints_rad"])
    assert idle["holds"] == loaded["holds"] and idle["losses"] == loaded["losses"], (idle, loaded)
    for run in (idle, loaded):
        assert run["link"]["bus"]["late_replies"] == run["link"]["bus"]["withheld_writes"] == 0, run["link"]
    if "drop" in port:
        assert sum(t + c for t, c in idle["losses"].values()) > 0  # the faults were injected, and counted
    else:
        assert "no fresh arm state" not in idle["holds"] and idle["link"]["readings_lost"] == 0, idle


def test_a_recording_on_so101_sim_carries_its_calibration_into_the_bundle_run_compares(tmp_path, bundle):
    """run --record on the servo-bus world writes the calibration's fingerprint into every episode; train and export
    carry it into provenance.arm_calibration; run on a bus whose calibration differs then warns, naming the joints."""
    pytest.importorskip("torch")
    from servo_run_fixtures import camera_folder, virtual_calibration, write_calibration
    from vla_lite.bundle import load_bundle
    from vla_lite.calib.calibration_compare import calibration_fingerprint
    from vla_lite.firmware_bridge.servo.serve import serve_pty
    from vla_lite.recording import list_episodes, read_episode
    from vla_lite.worlds.so101.plant import world_calibration
    from vla_lite.worlds.so101.world import SO101World

    from test_camera_contract import record_trainable

    rec = tmp_path / "rec"
    record_trainable(lambda: vla("run", "--port", "so101-sim", "--model", str(bundle), "--duration", "2",
                                 "--record", str(rec), "--quiet"), rec)
    world = SO101World()
    expected = calibration_fingerprint(world_calibration(world.low_rad, world.high_rad))
    episodes = list_episodes(rec)
    assert len(episodes) >= 2
    assert all(read_episode(p).meta["info"]["arm_calibration"] == expected for p in episodes)

    ckpt, vla_file = tmp_path / "s.safetensors", tmp_path / "s.vla"
    out = vla("train", "--data", str(rec), "--size", "nano", "--steps", "3", "--batch", "8", "--out", str(ckpt),
              "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["data"]["arm_calibration"]["digest"] == expected["digest"]
    out = vla("export", str(ckpt), "--calib", str(rec), "--format", "onnx", "--precision", "fp32", "-o",
              str(vla_file))
    assert out.returncode == 0, out.stderr
    assert load_bundle(vla_file).manifest.provenance["arm_calibration"] == expected

    # The same bundle on an arm calibrated otherwise (the virtual servos' own, homing offsets 0): said, per joint.
    other = write_calibration(tmp_path / "other.json", virtual_calibration("so101"))
    with serve_pty("so101") as server:
        out = vla("run", "--port", server.port, "--arm", "so101", "--calibration", str(other), "--model",
                  str(vla_file), "--camera", str(camera_folder(tmp_path / "frames")), "--instruction", INSTRUCTION,
                  "--duration", "1", "--quiet", timeout=120)
    assert out.returncode == 0, out.stderr
    warning = [line for line in out.stderr.splitlines() if "differs from the one bundle 's' was trained with" in line]
    assert len(warning) == 1 and "shoulder_pan: zero moved" in warning[0], out.stderr
