"""Meta-World behind the firmware bridge: the controller over a real pty with the host's ArmLink (lockstep, a fake
clock), seeded placements, the camera, the scripted experts through MetaWorldEnv and the serial link, and the
demonstrations read back by the offline path. Skipped when Meta-World is not installed; timeouts are liveness."""

import importlib.util
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from vla_lite.worlds.metaworld.tasks import (HELDOUT_PARAPHRASES, LEROBOT_DESCRIPTIONS, MT10, episode_instruction,
                                      task_instructions, task_of_instruction)

HAVE_MW = importlib.util.find_spec("metaworld") is not None
needs_mw = pytest.mark.skipif(not HAVE_MW, reason="Meta-World is not installed: pip install metaworld==3.1.1 "
                                                  "packaging (CI installs it)")
LIVENESS_S = 5.0
SIZE = 32  # px: the images here are checked for orientation and equality, not looked at


# --- instructions (pure data) -------------------------------------------------------------------------------

def test_instructions_cover_mt10_start_with_lerobot_and_heldout_is_unseen_and_unambiguous():
    assert set(MT10) <= set(LEROBOT_DESCRIPTIONS) == set(HELDOUT_PARAPHRASES) and len(MT10) == 10  # MT50's
    assert LEROBOT_DESCRIPTIONS["drawer-close-v3"] == "Push and close a drawer"
    train_all = {t.lower() for task in MT10 for t in task_instructions(task, "train")}
    for task in MT10:
        train, heldout = task_instructions(task, "train"), task_instructions(task, "heldout")
        assert train[0] == LEROBOT_DESCRIPTIONS[task] and 4 <= len(train) <= 5 and len(heldout) == 2
        assert not {h.lower() for h in heldout} & train_all, task
        for text in train + heldout:
            assert task_of_instruction(f"  {text.upper()} ") == task  # each phrasing names exactly its task
    assert task_of_instruction("make coffee") is None
    assert episode_instruction("reach-v3", 7) == episode_instruction("reach-v3", 7)
    assert {episode_instruction("reach-v3", s) for s in range(40)} == set(task_instructions("reach-v3"))
    with pytest.raises(ValueError, match="make-coffee-v3"):
        task_instructions("make-coffee-v3")
    with pytest.raises(ValueError, match="'test'"):
        task_instructions("reach-v3", "test")
    # Meta-World has no colour-synonym split: "paraphrase" names the same held-out rewordings as "heldout".
    assert all(task_instructions(t, "paraphrase") == task_instructions(t, "heldout") for t in MT10)


def test_importing_the_package_imports_neither_metaworld_nor_mujoco():
    code = ("import sys, vla_lite, vla_lite.worlds.metaworld\n"
            "heavy = [m for m in ('metaworld', 'mujoco', 'cv2', 'torch') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- scenes and the controller without a link ---------------------------------------------------------------

def _hello_controller(task="push-v3", seed=0):
    from vla_lite.firmware_bridge import protocol as p
    from vla_lite.worlds.metaworld import MetaWorldController

    c = MetaWorldController(task, seed)
    c.handle(p.Packet(1, p.Hello(p.SCHEMA_HASH, "test")), 0.0)
    return c


def _drive(c, deltas, t0_s=0.0, seq0=2):
    """One EE_DELTA command per 12.5 ms physics step, in lockstep; returns the time reached."""
    from vla_lite.firmware_bridge import protocol as p
    from vla_lite.worlds.metaworld import STEP_S

    t = t0_s
    for i, d in enumerate(deltas):
        c.handle(p.Packet(seq0 + i, p.Command(p.Mode.EE_DELTA, tuple(d), 38)), t)
        t += STEP_S
        c.step(t)
    return t


def _reference(task, seed, actions):
    """(4,) hand positions after these Meta-World actions from the placement of (task, seed), no controller."""
    from vla_lite.worlds.metaworld import TaskScene

    scene = TaskScene(task)
    scene.reset(seed)
    for a in actions:
        scene.step(np.array(a, np.float64))
    out = scene.positions()
    scene.close()
    return out


HOLD = (0.0, 0.0, 0.0, -1.0)  # Meta-World action: no motion, fingers open


@needs_mw
def test_seeds_select_placements_and_runs_are_deterministic():
    from vla_lite.worlds.metaworld import TaskScene

    a, b = TaskScene("push-v3"), TaskScene("push-v3")
    first = a.reset(5).copy()
    np.testing.assert_array_equal(b.reset(5), first)  # a fresh env, the same placement
    np.testing.assert_array_equal(a.reset(5), first)
    assert not np.allclose(a.reset(6)[4:7], first[4:7])  # another seed moves the puck ...
    assert not np.allclose(a.placement(), b.placement())  # ... and the goal vector
    with pytest.raises(ValueError, match="-1"):
        a.reset(-1)
    with pytest.raises(ValueError, match="no-such-task"):
        TaskScene("no-such-task")
    moves = [(0.004, -0.003, 0.002, 1.0)] * 30
    c1, c2 = _hello_controller(), _hello_controller()
    _drive(c1, moves)
    _drive(c2, moves)
    np.testing.assert_array_equal(c1.observation(), c2.observation())
    assert c1.episode_steps == 30


@needs_mw
def test_the_first_frame_of_an_episode_shows_its_own_goal_not_the_previous_ones():
    from vla_lite.worlds.metaworld import SceneRenderer, TaskScene
    from vla_lite.worlds.metaworld.scene import import_metaworld

    _, mujoco = import_metaworld()
    used, fresh = TaskScene("reach-v3"), TaskScene("reach-v3")
    renderer = SceneRenderer(SIZE)
    try:
        used.reset(5)
        used.step(np.zeros(4))
        obs = used.reset(1_000_000)  # the floating goal moves from about (0.10, 0.87, 0.11) to (0.05, 0.88, 0.16)
        goal = mujoco.mj_name2id(used.model, mujoco.mjtObj.mjOBJ_SITE, "goal")
        np.testing.assert_allclose(used.data.site_xpos[goal], obs[36:39], atol=1e-9)  # the marker MuJoCo draws
        fresh.reset(1_000_000)
        np.testing.assert_array_equal(renderer.render_scene(used), renderer.render_scene(fresh))
    finally:
        renderer.close()
        used.close()
        fresh.close()


# --- the controller over a real pty, spoken to by the host's ArmLink ----------------------------------------

@pytest.fixture
def served():
    from vla_lite.evaluate import SimClock
    from vla_lite.firmware_bridge.link import ArmLink
    from vla_lite.worlds.metaworld import MetaWorldRig

    clock = SimClock()
    rig = MetaWorldRig(tasks="reach-v3", seed=0, size_px=SIZE, clock=clock)
    try:
        link = ArmLink.open(rig.port, timeout_s=2.0, clock=clock)
    except BaseException:
        rig.close()
        raise
    yield rig, link, clock
    link.close()
    rig.close()


def _exchange(link, msg):
    """Send msg; wait (real time, liveness only) for the STATE answering it (a COMMAND's: echoing its seq)."""
    from vla_lite.firmware_bridge import protocol as p

    before = link.stats.states_received
    seq = link.send(msg)
    assert seq is not None, link.fault
    deadline = time.monotonic() + LIVENESS_S
    while True:
        st = link.latest_state
        if link.stats.states_received > before and (not isinstance(msg, p.Command) or st.ack_seq == seq):
            return st
        assert time.monotonic() < deadline, f"no reply to {msg}"
        if link.poll() is None:
            time.sleep(0.0005)


def _tick(rig, clock, link, msg):
    """One lockstep control period: time moves 12.5 ms, the physics follows, then the host speaks."""
    from vla_lite.worlds.metaworld import STEP_S

    clock.advance(STEP_S)
    rig.step_now()
    return _exchange(link, msg)


def _ee(*delta, valid_ms=38):
    from vla_lite.firmware_bridge import protocol as p

    return p.Command(p.Mode.EE_DELTA, tuple(float(x) for x in delta), valid_ms)


def _logs(link):
    return [(log.code, log.text) for log in link.logs]


@needs_mw
def test_handshake_announces_the_hand_and_an_ee_delta_bundle_fits(served):
    from bundle_factory import base_manifest
    from vla_lite.bundle import BundleMismatch, Manifest, check_compatible
    from vla_lite.firmware_bridge import protocol as p
    from vla_lite.worlds.metaworld import JOINT_NAMES

    rig, link, clock = served
    info = link.info
    assert info.joint_names == JOINT_NAMES == ("ee_x", "ee_y", "ee_z", "gripper")
    assert all(j.unit == p.Unit.M for j in info.joints) and info.modes == (p.Mode.EE_DELTA,)
    assert info.max_rate_hz == 80.0
    st = _exchange(link, p.Heartbeat())
    np.testing.assert_allclose(st.position, rig.controller.positions(), atol=1e-6)  # STATE carries the hand
    assert 0.55 < st.position[1] < 0.65 and 0.15 < st.position[2] < 0.25 and st.position[3] > 0.09  # open
    m = base_manifest()
    m.update(cameras=m["cameras"][:1], control={"rate_hz": 80.0},
             state={"names": list(JOINT_NAMES), "units": ["m"] * 4},
             action={"mode": "ee_delta", "dim": 4, "names": ["dx", "dy", "dz", "gripper"],
                     "units": ["m", "m", "m", "1"], "low": [-0.01] * 3 + [-1.0], "high": [0.01] * 3 + [1.0]},
             members={k: "0" * 64 for k in ("policy/fp32.onnx", "policy/int8.onnx", "policy/fp32.tflite",
                                            "policy/int8.tflite")})
    check_compatible(Manifest.from_dict(m), info)
    m["state"]["units"] = ["rad"] * 4
    with pytest.raises(BundleMismatch, match="ee_x"):
        check_compatible(Manifest.from_dict(m), info)


@needs_mw
def test_ee_delta_moves_the_hand_by_about_the_commanded_delta(served):
    rig, link, clock = served
    for _ in range(16):
        _tick(rig, clock, link, _ee(0, 0, 0.005, -1))  # 16 x 5 mm up
    for _ in range(12):
        st = _tick(rig, clock, link, _ee(0, 0, 0, -1))  # the hand lags its target by ~4 steps: let it arrive
    # Against holding still as long (the hand still sways ~6 mm after Meta-World's reset):
    moved = np.array(st.position) - _reference("reach-v3", 0, [HOLD] * rig.steps())
    assert 0.072 < moved[2] < 0.088, moved
    assert np.abs(moved[:2]).max() < 0.008, moved  # the arm tilts a little as it rises
    n = rig.steps()
    for _ in range(10):
        _tick(rig, clock, link, _ee(-0.008, 0, 0, 1))  # 10 x 8 mm towards -x, closing the fingers
    for _ in range(12):
        st2 = _tick(rig, clock, link, _ee(0, 0, 0, 1))
    moved = np.array(st2.position) - np.array(st.position)
    assert -0.088 < moved[0] < -0.072 and abs(moved[2]) < 0.008, moved
    assert st2.position[3] < 0.05  # fingers closed
    assert rig.steps() == n + 22 and rig.outcome() == "running"
    # The controller applied exactly Meta-World's actions (delta / 10 mm), one per 12.5 ms step:
    actions = [HOLD] + [(0, 0, 0.5, -1)] * 16 + [HOLD] * 12 + [(-0.8, 0, 0, 1)] * 10 + [(0, 0, 0, 1)] * 11
    np.testing.assert_allclose(st2.position, _reference("reach-v3", 0, actions), atol=1e-6)


@needs_mw
def test_out_of_range_deltas_and_other_modes_are_refused_and_nothing_moves(served):
    from vla_lite.firmware_bridge import protocol as p

    rig, link, clock = served
    _tick(rig, clock, link, _ee(0, 0, 0, -1))
    refused = [(_ee(0.02, 0, 0, -1), p.LogCode.TARGET_OUT_OF_LIMITS, "dx 0.02"),
               (_ee(0, 0, -0.0101, -1), p.LogCode.TARGET_OUT_OF_LIMITS, "dz -0.0101"),
               (_ee(0, 0, 0, 1.5), p.LogCode.TARGET_OUT_OF_LIMITS, "gripper 1.5"),
               (_ee(0, math.nan, 0, -1), p.LogCode.TARGET_OUT_OF_LIMITS, "not finite"),
               (_ee(0, 0, 0, 0, 0, 0, -1), p.LogCode.BAD_LENGTH, "4 values"),
               (p.Command(p.Mode.JOINT_POSITION, (0.0, 0.6, 0.2, 0.05), 0), p.LogCode.BAD_MODE, "not offered")]
    for msg, code, words in refused:
        st = _tick(rig, clock, link, msg)
        assert st.status & p.Status.REJECTED, msg
        assert _logs(link)[-1][0] == code and words in _logs(link)[-1][1], (msg, _logs(link)[-1])
    for _ in range(6):
        st = _tick(rig, clock, link, p.Heartbeat())
    # Exactly as if the hand had been told to hold all along: no refused command moved anything.
    np.testing.assert_allclose(st.position, _reference("reach-v3", 0, [HOLD] * rig.steps()), atol=1e-6)
    st = _tick(rig, clock, link, _ee(0.01, 0, 0, -1))  # exactly the largest step is accepted
    assert not st.status & p.Status.REJECTED


@needs_mw
def test_valid_ms_expiry_and_the_watchdog_hold_the_hand(served):
    from vla_lite.firmware_bridge import protocol as p

    rig, link, clock = served
    _tick(rig, clock, link, p.Heartbeat())
    _tick(rig, clock, link, _ee(0.008, 0, 0, -1, valid_ms=25))  # valid for two 12.5 ms steps, then hold
    for _ in range(14):
        st = _tick(rig, clock, link, p.Heartbeat())
    assert st.status & p.Status.HOLDING
    two = _reference("reach-v3", 0, [HOLD] * 2 + [(0.8, 0, 0, -1)] * 2 + [HOLD] * 12)
    three = _reference("reach-v3", 0, [HOLD] * 2 + [(0.8, 0, 0, -1)] * 3 + [HOLD] * 11)
    np.testing.assert_allclose(st.position, two, atol=1e-6)  # applied at the 2 steps within valid_ms ...
    assert three[0] - two[0] > 0.005  # ... and not at a third

    n_logs = link.stats.logs_received
    for _ in range(10):  # 125 ms of silence: the 100 ms watchdog trips
        clock.advance(0.0125)
        rig.step_now()
    deadline = time.monotonic() + LIVENESS_S
    while link.stats.logs_received == n_logs or not (link.latest_state.faults & p.Fault.WATCHDOG):
        assert time.monotonic() < deadline, "no unprompted watchdog LOG + STATE"
        link.poll()
        time.sleep(0.001)
    assert _logs(link)[-1][0] == p.LogCode.WATCHDOG_TRIPPED
    held = np.array(link.latest_state.position)
    assert rig.steps() == 26
    st = _tick(rig, clock, link, _ee(0.01, 0, 0, -1))  # refused while the fault is latched
    assert st.status & p.Status.REJECTED and _logs(link)[-1][0] == p.LogCode.REFUSED_WHILE_FAULTED
    for _ in range(5):
        st = _tick(rig, clock, link, p.Heartbeat())
    # Held since the trip (no motion commanded; the hand only settles as the physics goes on):
    np.testing.assert_allclose(st.position, _reference("reach-v3", 0, [HOLD] * 2 + [(0.8, 0, 0, -1)] * 2
                                                       + [HOLD] * (rig.steps() - 4)), atol=1e-6)
    assert _tick(rig, clock, link, p.ClearFault(0xFFFF)).faults == 0
    for _ in range(8):
        st = _tick(rig, clock, link, _ee(0.01, 0, 0, -1))
    assert not st.status & p.Status.REJECTED and st.position[0] - held[0] > 0.03


@needs_mw
def test_the_expert_solves_reach_over_the_serial_link_and_holding_still_times_out(served):
    from vla_lite.firmware_bridge import protocol as p
    from vla_lite.worlds.metaworld import MetaWorldExpert

    rig, link, clock = served
    expert = MetaWorldExpert("reach-v3")
    episode = rig.new_episode(3)
    assert episode.task == "reach-v3" and episode.instruction in task_instructions("reach-v3")
    while not rig.done():
        _tick(rig, clock, link, p.Command(p.Mode.EE_DELTA, tuple(expert.ee_delta(rig.controller.observation())), 38))
    assert rig.outcome() == "success" and rig.steps() < 200 and not rig.failed()
    rig.new_episode(3)
    while not rig.done():
        _tick(rig, clock, link, _ee(0, 0, 0, -1))
    assert rig.outcome() == "timeout" and rig.steps() == 500


# --- the camera -------------------------------------------------------------------------------------------------

class _HandFinder:
    """(row, column) centroid of the gripper's pixels in a segmentation render from a camera's view."""

    def __init__(self, controller, camera, mujoco):
        self.controller, self.camera, self.mj = controller, camera, mujoco
        self.r = mujoco.Renderer(controller.scene.model, 64, 64)
        self.r.enable_segmentation_rendering()

    def __call__(self):
        scene, mj = self.controller.scene, self.mj
        self.r.update_scene(scene.data, camera=self.camera)
        seg = self.r.render()
        m = scene.model
        hand = [m.body(n).id for n in ("right_hand", "hand", "rightclaw", "leftclaw", "rightpad", "leftpad")]
        geom = np.where(seg[..., 1] == mj.mjtObj.mjOBJ_GEOM, seg[..., 0], -1)
        mask = (geom >= 0) & np.isin(m.geom_bodyid[np.maximum(geom, 0)], hand)
        rows, cols = np.nonzero(mask)
        assert len(rows) > 10, "the gripper is not in view"
        return rows.mean(), cols.mean()

    def close(self):
        self.r.close()


@needs_mw
def test_camera_is_upright_and_deterministic():
    import cv2

    from vla_lite.worlds.metaworld import MetaWorldCamera, SceneRenderer
    from vla_lite.worlds.metaworld.scene import import_metaworld

    _, mujoco = import_metaworld()
    c = _hello_controller("push-v3", 4)
    cam = MetaWorldCamera(c, size_px=SIZE)
    view = SceneRenderer(SIZE, cam.view).camera  # the free camera the frames are rendered from
    hand = None
    try:
        frame = cam.read()
        assert frame.image.shape == (SIZE, SIZE, 3) and frame.image.dtype == np.uint8 and frame.index == 0
        # The fast image matches MuJoCo's own render from the same camera, and not its upside-down version.
        hand = _HandFinder(c, view, mujoco)
        hand.r.disable_segmentation_rendering()
        hand.r.update_scene(c.scene.data, camera=view)
        ref = hand.r.render().astype(float).mean(axis=2)
        hand.r.enable_segmentation_rendering()
        img = cv2.resize(frame.image, (64, 64), interpolation=cv2.INTER_LINEAR).astype(float).mean(axis=2)
        assert np.corrcoef(img.ravel(), ref.ravel())[0, 1] > 0.9
        assert np.corrcoef(img[::-1, ::-1].ravel(), ref.ravel())[0, 1] < 0.5
        # Upright and not mirrored: the gripper goes up the image when it rises, right when it moves to +x.
        row0, col0 = hand()
        t = _drive(c, [(0, 0, 0.01, -1)] * 10 + [(0, 0, 0, -1)] * 8)
        row1, col1 = hand()
        assert row1 < row0 - 3 and abs(col1 - col0) < 2
        _drive(c, [(0.01, 0, 0, -1)] * 10 + [(0, 0, 0, -1)] * 8, t, seq0=100)
        row2, col2 = hand()
        assert col2 > col1 + 3
        moved = cam.read().image
        assert frame.index == 0 and not np.array_equal(moved, frame.image)
    finally:
        cam.close()
        if hand is not None:
            hand.close()
    again = MetaWorldCamera(_hello_controller("push-v3", 4), size_px=SIZE)
    other = MetaWorldCamera(_hello_controller("push-v3", 5), size_px=SIZE)
    try:
        np.testing.assert_array_equal(again.read().image, frame.image)  # same (task, seed): the same pixels
        assert not np.array_equal(other.read().image, frame.image)  # another seed: the puck elsewhere
    finally:
        again.close()
        other.close()


@needs_mw
def test_threaded_camera_captures_on_the_injected_clock_and_reports_stale_frames():
    from vla_lite.cameras.base import StaleFrame
    from vla_lite.evaluate import SimClock
    from vla_lite.worlds.metaworld import MetaWorldCamera

    clock = SimClock()
    cam = MetaWorldCamera(_hello_controller("reach-v3"), size_px=SIZE, fps=1.0, max_age_s=0.2, clock=clock)
    try:
        with pytest.raises(RuntimeError, match="in its thread"):
            cam.capture_once()
        first = cam.start().wait(timeout_s=LIVENESS_S)  # the first frame is due at once
        assert first.image.shape == (SIZE, SIZE, 3) and first.t_capture_s == clock()
        time.sleep(0.05)
        assert cam.read().index == first.index  # the fake clock stands still: no new frame is due
        clock.advance(0.3)  # the next frame is due 1 s after the first
        with pytest.raises(StaleFrame, match="300 ms old"):
            cam.read()
        clock.advance(0.8)
        fresh = cam.wait(after_index=first.index, timeout_s=LIVENESS_S)
        assert fresh.t_capture_s == clock() and cam.read().index == fresh.index
    finally:
        cam.close()
    with pytest.raises(StaleFrame, match="closed"):
        cam.read()


# --- in-process episodes, experts and demonstrations --------------------------------------------------------

@needs_mw
@pytest.mark.parametrize("task", ["reach-v3", "drawer-close-v3"])
def test_the_expert_solves_the_task_through_metaworld_env_and_a_zero_policy_does_not(task):
    from vla_lite.worlds.metaworld import MetaWorldEnv

    with MetaWorldEnv(task, render=False) as env:
        for seed in (0, 1, 2):
            obs = env.reset(seed)
            while not obs["done"]:
                obs = env.step(env.expert_ee_delta())
            assert env.outcome == "success" and obs["success"] and env.steps < 200, (task, seed)
        obs = env.reset(0)
        while not obs["done"]:
            obs = env.step(np.array([0.0, 0.0, 0.0, -1.0]))
        assert env.outcome == "timeout" and env.steps == 500
        env.reset(0)
        with pytest.raises(ValueError, match="dx 0.02"):
            env.step([0.02, 0.0, 0.0, -1.0])


@needs_mw
def test_demos_are_readable_by_the_offline_dataset_reader(tmp_path):
    from vla_lite.export.datasets import open_dataset
    from vla_lite.worlds.metaworld import EE_DELTA_HIGH, EE_DELTA_LOW, JOINT_NAMES, record_metaworld_demos
    from vla_lite.recording import list_episodes, read_episode

    summary = record_metaworld_demos(tmp_path, ["reach-v3"], [0, 1], noise=1.0, size_px=SIZE, progress=False)
    assert summary["episodes"] == 2 and summary["successes"] == 2 and summary["tasks"]["reach-v3"]["successes"] == 2
    ds = open_dataset(tmp_path)
    assert len(ds) == 2
    ep = ds.episode(0)
    n = len(ep.state)
    assert ep.instruction in task_instructions("reach-v3") and ep.fps == 80.0 and ep.success is True
    assert ep.state.shape == (n, 4) and ep.actions.shape == (n, 4) and len(ep.frames["front"]) == n
    assert ep.frames["front"][n - 1].shape == (SIZE, SIZE, 3)
    assert ep.meta["label_field"] == "predicted" and ep.meta["state_names"] == list(JOINT_NAMES)
    assert ep.meta["action_units"] == ["m", "m", "m", "1"] and ep.meta["info"]["action_mode"] == "ee_delta"
    assert np.all(ep.actions >= EE_DELTA_LOW - 1e-12) and np.all(ep.actions <= EE_DELTA_HIGH + 1e-12)
    np.testing.assert_allclose(ep.timestamps[1], 0.0125)
    raw = read_episode(list_episodes(tmp_path)[0])
    executed, labels = raw.ticks["commanded"], raw.ticks["predicted"]
    assert not np.allclose(executed[:, :3], labels[:, :3])  # DART noise on the motion, the labels clean
    np.testing.assert_array_equal(executed[:, 3], labels[:, 3])  # the gripper is never noised
    assert raw.meta["info"]["task"] == "reach-v3" and raw.meta["info"]["seed"] == 0
    # The phrasings trained on (the bundle's instruction.known) are reach's, never those of MT50's other tasks.
    from vla_lite.export.train import load_training_data, paraphrase_groups
    from vla_lite.worlds.metaworld.tasks import MT50

    groups = paraphrase_groups("auto", [tmp_path])
    assert len(groups) == len(MT50)
    ts, *_ = load_training_data([tmp_path], 4, None, lambda text: np.zeros(3, np.float32), groups, progress=False)
    assert set(ts.texts) == set(task_instructions("reach-v3", "train"))


@needs_mw
def test_demos_move_through_the_runtimes_safety_ramp_in_and_record_it(tmp_path):
    """The runtime ramps its first commands in (vla-lite run --ramp-s 0.3): demonstrations and DAgger rollouts
    execute the same, so a student trains on the starts it will meet; the labels stay the expert's."""
    from vla_lite.worlds.metaworld import EE_DELTA_HIGH, record_metaworld_demos
    from vla_lite.recording import list_episodes, read_episode

    record_metaworld_demos(tmp_path / "ramped", ["reach-v3"], [3], size_px=SIZE, progress=False)
    record_metaworld_demos(tmp_path / "none", ["reach-v3"], [3], size_px=SIZE, progress=False, ramp_s=0.0)
    ramped, none = (read_episode(list_episodes(tmp_path / d)[0]) for d in ("ramped", "none"))
    assert ramped.meta["info"]["ramp_s"] == 0.3 and none.meta["info"]["ramp_s"] == 0.0
    cmd, label = ramped.ticks["commanded"], ramped.ticks["predicted"]
    ticks = np.arange(1, 25)[:, None]  # the k-th tick may move k / 24 of the step bound (0.3 s at 80 Hz)
    assert np.all(np.abs(cmd[:24, :3]) <= EE_DELTA_HIGH[:3] * ticks / 24 + 1e-12)
    assert np.abs(cmd[0, :3]).max() < np.abs(label[0, :3]).max()  # the expert asked for more than the ramp gave
    np.testing.assert_array_equal(cmd[:, 3], label[:, 3])  # the gripper command is absolute: never ramped
    np.testing.assert_allclose(none.ticks["commanded"][0], np.clip(none.ticks["predicted"][0], -1, 1))
    assert np.abs(none.ticks["commanded"][0, :3]).max() > np.abs(cmd[0, :3]).max()
    with pytest.raises(ValueError, match="ramp_s must be >= 0"):
        record_metaworld_demos(tmp_path / "bad", ["reach-v3"], [3], size_px=SIZE, progress=False, ramp_s=-1)
    with pytest.raises(ValueError, match=r"seeds name tasks \['push-v3'\]; expected seeds for each of"):
        record_metaworld_demos(tmp_path / "bad", ["reach-v3"], {"push-v3": [0]}, size_px=SIZE, progress=False)


@needs_mw
def test_dagger_world_is_recognised_from_the_demos_and_the_expert_labels_what_the_student_visits(tmp_path):
    from vla_lite.export.dagger import ExpertWorld
    from vla_lite.worlds.metaworld import record_metaworld_demos
    from vla_lite.recording import list_episodes, read_episode

    record_metaworld_demos(tmp_path / "demos", ["drawer-close-v3", "reach-v3"], [0], size_px=SIZE, progress=False)
    world = ExpertWorld.from_data([tmp_path / "demos"])
    assert world == ExpertWorld("metaworld", ("drawer-close-v3", "reach-v3"))
    # A "student" that never moves: the rollout is its own, the labels are still the expert's.
    summary = world.record(tmp_path / "round", 500_000, 3, lambda obs, env: np.zeros(4), size_px=SIZE, chunk=8,
                           rate_hz=80.0)
    assert summary["episodes"] == 4 and summary["successes"] == 0  # 3 episodes over 2 tasks: 2 seeds each
    assert set(summary["tasks"]) == {"drawer-close-v3", "reach-v3"}
    raw = read_episode(list_episodes(tmp_path / "round")[0])
    assert np.all(raw.ticks["commanded"] == 0) and np.abs(raw.ticks["predicted"][:, :3]).max() > 1e-3
    assert raw.meta["info"]["seed"] == 500_000
    # Weighted rounds put the rollouts where the student fails, at least one per task, all in one folder.
    weighted = world.record(tmp_path / "weighted", 600_000, 3, lambda obs, env: np.zeros(4), size_px=SIZE,
                            chunk=8, rate_hz=80.0, weights={"drawer-close-v3": 0.2, "reach-v3": 1.2})
    assert {t: v["episodes"] for t, v in weighted["tasks"].items()} == {"drawer-close-v3": 1, "reach-v3": 2}
    metas = [read_episode(p).meta["info"] for p in list_episodes(tmp_path / "weighted")]
    assert weighted["episodes"] == len(metas) == 3
    assert sorted((m["task"], m["seed"]) for m in metas) == [("drawer-close-v3", 600_000), ("reach-v3", 600_000),
                                                             ("reach-v3", 600_001)]


@needs_mw
def test_named_views_render_record_and_serve_together_and_an_unknown_view_is_refused(tmp_path):
    from vla_lite.evaluate import SimClock
    from vla_lite.export.dagger import ExpertWorld
    from vla_lite.export.datasets import open_dataset
    from vla_lite.worlds.metaworld import VIEWS, MetaWorldEnv, MetaWorldRig, record_metaworld_demos

    assert list(VIEWS) == ["front", "side"]
    with MetaWorldEnv("reach-v3", size_px=SIZE, views=("front", "side")) as both, \
            MetaWorldEnv("reach-v3", size_px=SIZE) as front_only:
        obs, ref = both.reset(3), front_only.reset(3)
        assert list(obs["images"]) == ["front", "side"] and obs["image"] is obs["images"]["front"]
        np.testing.assert_array_equal(obs["images"]["front"], ref["image"])  # adding a view changes no pixel
        assert obs["images"]["side"].shape == (SIZE, SIZE, 3) and not np.array_equal(obs["images"]["side"],
                                                                                      ref["image"])
        moved = both.step([0.0, 0.0, 0.01, -1.0])
        assert not np.array_equal(moved["images"]["side"], obs["images"]["side"])
    for bad in (("front", "wrist"), ("front", "front"), ()):
        with pytest.raises(ValueError, match="wrist|distinct"):
            MetaWorldEnv("reach-v3", render=False, views=bad)
    with pytest.raises(ValueError, match=r"'top' is not a Meta-World view.*'front', 'side'"):
        MetaWorldRig(tasks="reach-v3", camera_names=("front", "top"), size_px=SIZE, clock=SimClock())

    record_metaworld_demos(tmp_path / "demos", ["reach-v3"], [0], size_px=SIZE, views=("front", "side"),
                           max_steps=20, progress=False)
    ep = open_dataset(tmp_path / "demos").episode(0)
    assert set(ep.frames) == {"front", "side"} and len(ep.frames["side"]) == len(ep.state) == 20
    assert not np.array_equal(ep.frames["front"][5], ep.frames["side"][5])
    world = ExpertWorld.from_data([tmp_path / "demos"])
    world.record(tmp_path / "round", 500_000, 1, lambda obs, env: np.zeros(4), size_px=SIZE, chunk=8, rate_hz=80.0,
                 cameras=("front", "side"))
    assert set(open_dataset(tmp_path / "round").episode(0).frames) == {"front", "side"}

    clock = SimClock()
    with MetaWorldRig(tasks="reach-v3", seed=3, size_px=SIZE, camera_names=("front", "side"), clock=clock) as rig:
        frames = {name: cam.read() for name, cam in rig.cameras.items()}
        assert list(frames) == ["front", "side"] and rig.camera is rig.cameras["front"]
        np.testing.assert_array_equal(frames["front"].image, ref["image"])  # the rig shows what the env shows
        assert not np.array_equal(frames["front"].image, frames["side"].image)
