"""The so101-sim rig's episodes, port string, cameras and served entry point, and the SO-101 demonstration recorder
(scripted expert -> the training format, DAgger-ready)."""

import json
import signal
import subprocess
import sys
import time
from contextlib import closing

import numpy as np
import pytest

pytest.importorskip("mujoco")

from vla_lite import ports  # noqa: E402
from vla_lite.calib.arm_calibration import load_arm_calibration  # noqa: E402
from vla_lite.evaluate import SimClock  # noqa: E402
from vla_lite.firmware_bridge.servo import BusConfig, ServoBus, load_arm  # noqa: E402
from vla_lite.worlds import Outcome, WorldOptions  # noqa: E402
from vla_lite.worlds.so101.instructions import phrasings  # noqa: E402
from vla_lite.worlds.so101.model import STS3215  # noqa: E402
from vla_lite.worlds.so101.rig import TASKS, SO101Rig, parse_arg  # noqa: E402

SIZE = 32


def test_port_string_names_tasks_and_faults_and_refuses_the_rest():
    assert parse_arg("") == (tuple(TASKS), None)
    tasks, faults = parse_arg("red-bowl,green-right-pad,drop=0.01,corrupt=0.02,seed=4")
    assert tasks == ("red-bowl", "green-right-pad")
    assert (faults.drop_rate, faults.corrupt_rate, faults.stray_rate, faults.seed) == (0.01, 0.02, 0.0, 4)
    with pytest.raises(ValueError, match="unknown SO-101 task 'purple-bowl'.*red-bowl"):
        parse_arg("purple-bowl")
    with pytest.raises(ValueError, match="drop needs a number, got 'x'"):
        parse_arg("drop=x")
    with pytest.raises(ValueError, match="unknown option 'latency'"):
        parse_arg("latency=3")
    with pytest.raises(ValueError, match="drop_rate must be a probability"):
        parse_arg("drop=2")


def test_episodes_by_seed_task_or_instruction_and_retarget():
    clock = SimClock()
    options = WorldOptions(camera_names=("wrist", "front"), size_px=SIZE, camera_fps=None, clock=clock)
    with closing(ports.open_world("so101-sim:red-bowl,blue-left-pad", options)) as rig:
        assert rig.bus_profile == "so101" and rig.calibration.arm == "so101" and rig.reports_per_target
        assert list(rig.cameras) == ["wrist", "front"]
        assert [rig.new_episode(s).task for s in (0, 1, 2)] == ["red-bowl", "blue-left-pad", "red-bowl"]
        ep = rig.new_episode(4, instruction="move the yellow cube to the right pad")
        assert ep.target == "yellow-right-pad" and rig.world.episode.task.colour == "yellow"
        assert ep.instruction == "move the yellow cube to the right pad"
        assert rig.retarget("put the green block in the bowl") is None
        assert rig.episode.task == "green-bowl" and rig.world.episode.task.place.value == "bowl"
        assert "no known phrasing" in rig.retarget("dance")
        assert rig.episode.task == "green-bowl"
        front, wrist = rig.cameras["front"].read().image, rig.cameras["wrist"].read().image
        assert front.shape == wrist.shape == (SIZE, SIZE, 3) and not np.array_equal(front, wrist)
        assert rig.outcome() is Outcome.RUNNING and not rig.done()
        for _ in range(301):  # nobody drives the arm: the world's own length ends the episode
            clock.advance(1 / 30)
            rig.step_now()
        assert rig.outcome() is Outcome.TIMEOUT and rig.done()
    with pytest.raises(ValueError, match="not an SO-101 camera"):
        ports.open_world("so101-sim", WorldOptions(camera_names=("top",), size_px=SIZE, camera_fps=None))


def test_threaded_cameras_render_while_the_bus_steps_the_world():
    options = WorldOptions(camera_names=("front",), size_px=SIZE, camera_fps=30.0)
    with closing(ports.open_world("so101-sim:red-bowl", options)) as rig, \
            ServoBus.open(rig.port, load_arm("so101"), BusConfig(latency_s=0.02, budget_s=0.2)) as bus:
        rig.new_episode(0)
        frame = rig.cameras["front"].wait(timeout_s=10.0)
        start, t0 = rig.world.steps, time.monotonic()
        goals = rig.calibration.to_counts(rig.world.present_positions() + np.array([0.3, 0, 0, 0, 0, 0]))
        bus.write_goals(goals)
        time.sleep(1.0)
        steps = rig.world.steps - start
        assert 0.5 * 30 * (time.monotonic() - t0) <= steps <= 30 * (time.monotonic() - t0) + 1  # 30 Hz, own thread
        assert abs(rig.calibration.to_units(bus.read_positions().values)[0] - rig.world.present_positions()[0]) < 0.01
        assert rig.world.present_positions()[0] > 0.2  # the goal moved it
        newer = rig.cameras["front"].wait(frame.index, timeout_s=10.0)
        assert newer.t_capture_s > frame.t_capture_s and newer.image.shape == (SIZE, SIZE, 3)


def test_served_entry_point_moves_the_world_for_an_outside_host(tmp_path):
    cal_path = tmp_path / "cal.json"
    proc = subprocess.Popen([sys.executable, "-m", "vla_lite.worlds.so101.serve", "--task", "blue-left-pad",
                             "--seed", "3", "--calibration-out", str(cal_path), "--drop", "0.02", "--fault-seed", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/"), proc.stderr.read()
        cal = load_arm_calibration(cal_path)
        with ServoBus.open(port, load_arm("so101"), BusConfig(latency_s=0.02, budget_s=0.2)) as bus:
            reading = bus.read_positions()
            while not reading.all_fresh:
                reading = bus.read_positions()
            home = cal.to_units(reading.values)
            np.testing.assert_allclose(home, [0.0, -1.4, 1.2, 1.0, 0.0, 0.4], atol=0.03)  # the world's HOME pose
            goal = home + np.array([0.4, 0.0, 0.0, 0.0, 0.0, 0.0])
            deadline = time.monotonic() + 20.0
            while time.monotonic() < deadline:
                bus.write_goals(cal.to_counts(goal))
                reading = bus.read_positions()
                if reading.fresh[0] and abs(cal.to_units(reading.values)[0] - goal[0]) < 0.01:
                    break
                time.sleep(1 / 30)
            assert abs(cal.to_units(reading.values)[0] - goal[0]) < 0.01
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    report = json.loads(err.strip().splitlines()[-1].removeprefix("report "))
    assert report["servos"]["1"]["goal_writes"] > 0 and report["bus"]["dropped"] > 0
    assert report["episode"]["task"] == "blue-left-pad" and report["episode"]["steps"] > 0
    bad = subprocess.run([sys.executable, "-m", "vla_lite.worlds.so101.serve", "--task", "red-shelf"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown SO-101 task 'red-shelf'" in bad.stderr


def test_demos_are_training_data_with_clean_labels_and_a_ramped_start(tmp_path):
    from vla_lite.recording import list_episodes, read_episode
    from vla_lite.worlds.so101.demos import record_so101_demos

    summary = record_so101_demos(tmp_path, ["red-bowl", "blue-left-pad"], [0], noise=1.0, size_px=SIZE,
                                 progress=False)
    assert summary["episodes"] == 2 and summary["successes"] == 2 and summary["tasks"]["blue-left-pad"]["episodes"] == 1
    raw = read_episode(list_episodes(tmp_path)[0])
    assert raw.meta["info"]["task"] == "red-bowl" and raw.meta["info"]["source"] == "vla-lite so101 demos"
    assert raw.meta["instruction"] in phrasings(TASKS["red-bowl"], "train")
    cmd, label = raw.ticks["commanded"], raw.ticks["predicted"]
    assert cmd.shape[1] == 6 and not np.allclose(cmd[:, :5], label[:, :5])  # DART noise executed, labels clean
    first_step = np.abs(cmd[0, :5] - raw.ticks["state"][0, :5]).max()
    assert first_step <= STS3215.max_speed_rad_s / 30 / 9 + 1e-9  # ramp-in: 0.3 s = 9 ticks, the first 1/9 of a step
    assert np.abs(label[0, :5] - raw.ticks["state"][0, :5]).max() > first_step  # the expert asked for more
    assert set(raw.cameras) == {"front", "wrist"} and raw.frame("wrist", 0).shape == (SIZE, SIZE, 3)
    with pytest.raises(ValueError, match="unknown SO-101 task"):
        record_so101_demos(tmp_path / "bad", ["red-shelf"], [0], size_px=SIZE, progress=False)


def test_offline_path_reads_the_demos_and_finds_the_expert_for_dagger(tmp_path):
    pytest.importorskip("torch")
    from vla_lite.export.dagger import ExpertWorld
    from vla_lite.export.datasets import open_dataset
    from vla_lite.export.train import paraphrase_groups
    from vla_lite.worlds.so101.demos import record_so101_demos

    record_so101_demos(tmp_path / "demos", ["green-right-pad"], [1], size_px=SIZE, progress=False)
    ds = open_dataset(tmp_path / "demos")
    ep = ds.episode(0)
    assert ep.state.shape[1] == 6 and ep.actions.shape == ep.state.shape and ep.fps == 30.0 and ep.success
    # the bundle's units (docs/BUNDLE.md): the gripper's 0..1 fraction is the dimensionless "1"
    assert ep.meta["action_units"] == ep.meta["state_units"] == ["rad"] * 5 + ["1"]
    assert ep.meta["info"]["action_mode"] == "joint_position"
    assert len(paraphrase_groups("auto", [tmp_path / "demos"])) == 12
    world = ExpertWorld.from_data([tmp_path / "demos"])
    assert world == ExpertWorld("so101", ("green-right-pad",))
    visited = []

    def still(obs, w):  # a "student" that never moves: the expert still labels every state it visits
        visited.append(obs["positions"])
        return obs["positions"]

    summary = world.record(tmp_path / "dagger", 5, 1, still, size_px=SIZE, chunk=1, rate_hz=30.0,
                           cameras=("front", "wrist"))
    assert summary["episodes"] == 1 and summary["successes"] == 0 and len(visited) == summary["steps"]
