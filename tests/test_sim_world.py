"""The simulated tabletop: kinematics, layouts, rendering, the touch rule, the scripted expert, TabletopEnv, the
SimCamera and the SimRig over a real pty. Waits on real time are for liveness only, never timed assertions."""

import dataclasses
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from vla_lite.cameras.base import StaleFrame
from vla_lite.firmware_bridge import protocol as p
from vla_lite.firmware_bridge.arm_server import ArmServer
from vla_lite.firmware_bridge.link import ArmLink
from vla_lite.firmware_bridge.virtual_arm import VirtualArm
from vla_lite.worlds.tabletop import (COLOURS, GEOMETRY, TABLE, Renderer, ScaraKinematics, ScriptedExpert,
                                      SimCamera, SimRig, TabletopEnv, TouchJudge, forward_kinematics,
                                      inverse_kinematics, make_episode, sample_world, scara_arm)
from vla_lite.worlds.tabletop.instructions import COLOUR_SYNONYMS, all_instructions
from vla_lite.worlds.tabletop.kinematics import reachable_solution, within_limits
from vla_lite.worlds.tabletop.world import touched_block

LIVENESS_S = 10.0
FULL = os.environ.get("VLA_LITE_FULL") == "1"  # larger episode counts
EXPERT = ScriptedExpert()


class FakeClock:
    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def wait_until(cond, what: str):
    deadline = time.monotonic() + LIVENESS_S
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"liveness: {what} did not happen within {LIVENESS_S} s")
        time.sleep(0.002)


def touch_pose(block, lift=0.02):
    q1, q2 = reachable_solution(block.x_m, block.y_m)
    return np.array([q1, q2, lift, 0.04])


def test_import_loads_no_opencv_and_starts_nothing():
    probe = ("import sys, threading; n = threading.active_count(); import vla_lite.worlds.tabletop; "
             "print('cv2' in sys.modules, threading.active_count() - n)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "0"]


# --- kinematics -----------------------------------------------------------------------------------------------

def test_ik_then_fk_returns_the_point_on_both_branches():
    rng = np.random.default_rng(0)
    lo, hi = GEOMETRY.reach_m
    for _ in range(300):
        r, a = rng.uniform(lo + 1e-3, hi - 1e-3), rng.uniform(-math.pi, math.pi)
        x, y = -r * math.sin(a), r * math.cos(a)
        for elbow in (1, -1):
            q1, q2 = inverse_kinematics(x, y, elbow)
            assert np.sign(q2) == elbow
            assert np.allclose(forward_kinematics(q1, q2), (x, y), atol=1e-9)


def test_fk_then_ik_returns_the_joints_and_limits_hold():
    rng = np.random.default_rng(1)
    for _ in range(300):
        q1 = rng.uniform(-2.6, 2.6)
        q2 = rng.choice([-1, 1]) * rng.uniform(0.05, 2.6)
        x, y = forward_kinematics(q1, q2)
        assert np.allclose(inverse_kinematics(float(x), float(y), int(np.sign(q2))), (q1, q2), atol=1e-7)
    arm = scara_arm()
    assert arm.joint_names == ("shoulder", "elbow", "lift", "gripper")
    assert [j.unit for j in arm.joints] == [p.Unit.RAD, p.Unit.RAD, p.Unit.M, p.Unit.M]
    assert np.allclose([j.pos_min for j in arm.joints], GEOMETRY.low)
    assert np.allclose([j.pos_max for j in arm.joints], GEOMETRY.high)
    assert p.Mode.EE_DELTA in arm.modes
    with pytest.raises(ValueError, match=r"0\.5 m from the base; the arm reaches 0\.05\.\.0\.45 m"):
        inverse_kinematics(0.3, 0.4)
    with pytest.raises(ValueError, match="elbow must be"):
        inverse_kinematics(0.1, 0.2, elbow=0)
    assert not within_limits([2.7, 0.0, 0.05, 0.0]) and within_limits([2.6, -2.6, 0.12, 0.0])


def test_ee_delta_moves_the_tool_in_the_plane_on_the_same_branch_and_through_the_virtual_arm():
    kin = ScaraKinematics()
    q = np.array([0.3, -1.2, 0.05, 0.01])
    out = kin.ee_delta_to_joint_targets(q, np.array([0.01, -0.02, 0.01, -1.0]))
    x0, y0 = forward_kinematics(q[0], q[1])
    assert np.allclose(forward_kinematics(out[0], out[1]), (x0 + 0.01, y0 - 0.02), atol=1e-9)
    assert out[1] < 0 and out[2] == pytest.approx(0.06) and out[3] == pytest.approx(0.04)  # -1: fully open
    with pytest.raises(ValueError, match="4 values"):
        kin.ee_delta_to_joint_targets(q, np.zeros(7))
    with pytest.raises(ValueError, match="arm reaches"):
        kin.ee_delta_to_joint_targets(q, np.array([1.0, 0.0, 0.0, 0.0]))
    arm = VirtualArm(scara_arm(watchdog_ms=60_000, torque_off_ms=0), q, kin)
    arm.handle(p.Packet(1, p.Hello(p.SCHEMA_HASH, "t")), 0.0)
    reply = arm.handle(p.Packet(2, p.Command(p.Mode.EE_DELTA, (0.01, -0.02, 0.01, -1.0), 2000)), 0.0)
    assert not any(isinstance(m, p.Log) for m in reply)
    arm.step(1.5)  # the gripper, the slowest, needs ~0.7 s
    assert np.allclose(arm.positions(), out, atol=1e-9)


# --- layouts and instructions -------------------------------------------------------------------------------

def test_layouts_are_deterministic_per_seed_distinct_apart_and_reachable():
    assert sample_world(7) == sample_world(7) and make_episode(7) == make_episode(7)
    assert sample_world(7) != sample_world(8)
    targets = set()
    for seed in range(200):
        n = 1 + seed % 6
        w = sample_world(seed, n)
        assert len(w.blocks) == n and len({b.colour for b in w.blocks}) == n and 0 <= w.target < n
        targets.add(w.target if n == 3 else None)
        for i, a in enumerate(w.blocks):
            assert 0.15 <= math.hypot(a.x_m, a.y_m) <= 0.40
            q = reachable_solution(a.x_m, a.y_m)
            assert within_limits(q) and np.allclose(forward_kinematics(*q), (a.x_m, a.y_m), atol=1e-9)
            for b in w.blocks[i + 1:]:
                assert math.hypot(a.x_m - b.x_m, a.y_m - b.y_m) >= TABLE.min_centre_gap_m
    assert targets >= {0, 1, 2}
    with pytest.raises(ValueError, match="n_blocks must be 1..6"):
        sample_world(0, 7)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        make_episode(-1)


def test_instructions_name_the_target_and_heldout_words_are_unseen():
    for seed in range(50):
        ep = make_episode(seed)
        assert ep.target_colour in ep.instruction.split()
        held = make_episode(seed, split="heldout")
        assert held.world == ep.world  # the phrasing stream does not move the layout
        assert any(s in held.instruction.split() for s in COLOUR_SYNONYMS[ep.target_colour])
    train_words = {w for texts in all_instructions("train").values() for t in texts for w in t.split()}
    for colour, texts in all_instructions("heldout").items():
        for text in texts:
            words = set(text.split())
            assert not words & set(COLOURS), text  # no canonical colour word
            assert len(words - train_words) >= 2, text  # the synonym and at least one unseen verb/noun
    # "paraphrase": the held-out rewordings with the canonical colour word; same templates as "heldout".
    train_texts = {t for texts in all_instructions("train").values() for t in texts}
    for colour, texts in all_instructions("paraphrase").items():
        assert len(texts) == len(set(texts)) >= 6
        for text in texts:
            words = set(text.split())
            assert colour in words and not words & (set(COLOURS) - {colour}), text
            assert text not in train_texts and words - train_words, text  # an unseen verb or noun
            assert any(text.replace(colour, syn) in all_instructions("heldout")[colour]
                       for syn in COLOUR_SYNONYMS[colour]), text
    para = make_episode(5, split="paraphrase")
    assert para.world == make_episode(5).world and para.instruction in all_instructions("paraphrase")[
        para.target_colour]
    with pytest.raises(ValueError, match="split must be one of"):
        make_episode(0, split="test")


# --- rendering --------------------------------------------------------------------------------------------

def test_rendering_is_deterministic_rgb_uint8_and_shows_the_arm_and_lift():
    w = sample_world(3)
    for size in (64, 96, 224):
        img = Renderer(size).render(w, TABLE.home)
        assert img.shape == (size, size, 3) and img.dtype == np.uint8
        assert np.array_equal(img, Renderer(size).render(w, TABLE.home))
    r = Renderer(96)
    home = r.render(w, TABLE.home)
    assert not np.array_equal(home, r.render(w, (0.4, 2.0, 0.10, 0.04)))  # the arm moved
    low, high = r.render(w, (0.4, 2.0, 0.0, 0.04)), r.render(w, (0.4, 2.0, 0.12, 0.04))
    assert not np.array_equal(low, high)  # lift is visible
    assert r.render(None, TABLE.home).shape == (96, 96, 3)
    with pytest.raises(ValueError, match="16..1024 px, got 8"):
        Renderer(8)


def test_each_block_colour_appears_where_the_block_is_and_nowhere_else():
    for seed in range(10):
        w = sample_world(seed, 4)
        r = Renderer(128)
        img = r.render(w, TABLE.home)  # no block is under the arm at home
        for b in w.blocks:
            c, row = r.to_px(b.x_m, b.y_m)
            exact = np.all(img == np.array(COLOURS[b.colour], np.uint8), axis=-1)
            rows, cols = np.nonzero(exact)
            assert exact[int(row), int(c)], (seed, b.colour)
            half_px = TABLE.block_size_m / 2 * r.px_per_m + 1
            assert np.all(np.abs(rows + 0.5 - row) <= half_px) and np.all(np.abs(cols + 0.5 - c) <= half_px)


# --- the touch rule ---------------------------------------------------------------------------------------

def test_touch_needs_the_footprint_and_a_low_tool_and_the_first_block_decides():
    w = sample_world(5)
    other = (w.target + 1) % 3
    assert touched_block(w, touch_pose(w.target_block)) == w.target
    assert touched_block(w, touch_pose(w.target_block, lift=TABLE.touch_height_m + 1e-3)) is None
    b = w.target_block
    q = reachable_solution(b.x_m + TABLE.block_size_m / 2 + 1e-3, b.y_m)
    assert touched_block(w, (*q, 0.0, 0.0)) is None  # just off the footprint, on the table
    judge = TouchJudge(w)
    judge.observe(touch_pose(w.blocks[other]))
    judge.observe(touch_pose(w.target_block))
    assert judge.failed and not judge.success and judge.touched == other
    judge = TouchJudge(w)
    judge.observe(TABLE.home)
    assert not judge.failed and not judge.success
    judge.observe(touch_pose(w.target_block))
    judge.observe(touch_pose(w.blocks[other]))
    assert judge.success and not judge.failed


# --- the expert in TabletopEnv ------------------------------------------------------------------------------

def rollout(env, seed, chunk_fn, replan_every=4, start=None):
    obs = env.reset(seed, start)
    k, chunk = 0, None
    while not obs["done"]:
        if k % replan_every == 0:
            chunk = chunk_fn(obs["positions"], env.episode.world)
        obs = env.step(chunk[k % replan_every])
        k += 1
    return env.outcome


def test_expert_solves_at_least_95_percent_and_holding_still_none():
    env = TabletopEnv(render=False)
    expert = lambda q, w: EXPERT.action_chunk(q, w, 8, env.rate_hz)  # noqa: E731
    outcomes = [rollout(env, seed, expert) for seed in range(100)]
    assert outcomes.count("success") >= 95, outcomes
    hold_env = TabletopEnv(render=False, max_steps=60)  # 3 s: the expert needs at most ~2.5
    hold = lambda q, w: np.repeat(q[None], 4, axis=0)  # noqa: E731
    assert [rollout(hold_env, seed, hold) for seed in range(100)] == ["timeout"] * 100


def test_ignoring_the_instruction_succeeds_about_one_time_in_n():
    env = TabletopEnv(render=False)
    rng = np.random.default_rng(0)

    def any_block(q, w):  # the expert, sent to a block drawn once per episode without reading the instruction
        return EXPERT.action_chunk(q, dataclasses.replace(w, target=choice[w.seed]), 8, env.rate_hz)

    n = 300 if FULL else 60
    choice = {seed: int(rng.integers(3)) for seed in range(n)}
    outcomes = [rollout(env, seed, any_block) for seed in range(n)]
    assert outcomes.count("success") + outcomes.count("failed") == n  # always some block
    sd = math.sqrt(1 / 3 * 2 / 3 / n)
    assert abs(outcomes.count("success") / n - 1 / 3) <= 3.5 * sd, outcomes.count("success")


def test_expert_succeeds_from_random_start_states_for_dagger():
    env = TabletopEnv(render=False)
    rng = np.random.default_rng(2)
    outcomes, n = [], 100 if FULL else 30
    for seed in range(n):
        w = make_episode(seed).world
        while True:  # any state within the limits that is not already touching a block
            start = rng.uniform(GEOMETRY.low, GEOMETRY.high)
            if touched_block(w, start) is None:
                break
        outcomes.append(rollout(env, seed, lambda q, w: EXPERT.action_chunk(q, w, 8, env.rate_hz), 1, start))
    assert outcomes.count("success") >= 0.95 * n, outcomes


def test_expert_chunks_are_within_limits_and_the_arms_speed_from_any_state():
    rng = np.random.default_rng(3)
    arm = scara_arm()
    vmax = np.array([j.vel_max for j in arm.joints])
    w = sample_world(0)
    for _ in range(200):
        q = rng.uniform(GEOMETRY.low, GEOMETRY.high)
        chunk = EXPERT.action_chunk(q, w, 16, 20.0)
        assert chunk.shape == (16, 4)
        assert np.all(chunk >= GEOMETRY.low) and np.all(chunk <= GEOMETRY.high)
        steps = np.abs(np.diff(np.vstack([q, chunk]), axis=0))
        assert np.all(steps[1:] <= vmax / 20.0 + 1e-9)  # the reference never outruns vel_max
    final = EXPERT.action_chunk(TABLE.home, w, 200, 20.0)[-1]
    assert touched_block(w, final) == w.target  # the plan ends on the target
    with pytest.raises(ValueError, match="chunk length T must be an integer >= 1, got 0"):
        EXPERT.action_chunk(TABLE.home, w, 0, 20.0)
    with pytest.raises(ValueError, match="positions must be 4 finite values"):
        EXPERT.action_chunk([0.0, float("nan"), 0.0, 0.0], w, 4, 20.0)


def test_env_observations_and_bad_input():
    env = TabletopEnv(size_px=64, max_steps=3)
    obs = env.reset(4)
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert obs["positions"].shape == (4,) and np.allclose(obs["positions"], TABLE.home)
    assert obs["instruction"] == make_episode(4).instruction and not obs["done"]
    with pytest.raises(ValueError, match=r"lift target 0\.5 outside \[0, 0\.12\]"):
        env.step([0.0, 2.5, 0.5, 0.04])
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        env.step([0.0, 2.5, 0.1])
    target = np.array([0.5, 2.0, 0.1, 0.04])
    for _ in range(3):
        obs = env.step(target)
    assert obs["done"] and env.outcome == "timeout" and obs["positions"][0] > 0.05  # it moved in 0.15 s
    with pytest.raises(RuntimeError, match="is done"):
        env.step(target)


# --- SimCamera --------------------------------------------------------------------------------------------

def test_sim_camera_on_demand_renders_the_arm_now():
    clock = FakeClock(5.0)
    arm = VirtualArm(scara_arm(), np.array(TABLE.home), ScaraKinematics())
    cam = SimCamera(arm, size_px=64, clock=clock)
    cam.set_world(sample_world(1))
    f0 = cam.read()
    clock.t = 5.25
    arm.reset(np.array([0.5, 1.0, 0.05, 0.0]))
    f1 = cam.read(max_age_s=1e-9)
    assert (f0.t_capture_s, f0.index, f1.t_capture_s, f1.index) == (5.0, 0, 5.25, 1)
    assert not np.array_equal(f0.image, f1.image)
    with pytest.raises(RuntimeError, match="on demand"):
        cam.start()
    cam.close()
    with pytest.raises(StaleFrame, match="closed"):
        cam.read()


def test_sim_camera_threaded_goes_stale_on_a_fake_clock_and_close_joins():
    clock = FakeClock(0.0)
    arm = VirtualArm(scara_arm(), np.array(TABLE.home), ScaraKinematics())
    cam = SimCamera(arm, size_px=64, fps=1.0, max_age_s=0.5, clock=clock)
    with pytest.raises(StaleFrame, match="not started"):
        cam.read()
    cam.start()
    first = cam.wait(timeout_s=10.0)  # the first capture is due at once
    assert (first.index, first.t_capture_s) == (0, 0.0) and cam.capturing
    clock.t = 0.3  # the next deadline is t = 1.0: no new frame until then
    assert cam.read().index == 0
    with pytest.raises(StaleFrame, match="300 ms old"):
        cam.read(max_age_s=0.2)
    clock.t = 0.6
    with pytest.raises(StaleFrame, match=r"600 ms old \(limit 500 ms\)"):
        cam.read()
    clock.t = 1.0
    frame = cam.wait(after_index=0, timeout_s=10.0)  # the capture at the next deadline
    assert (frame.index, frame.t_capture_s) == (1, 1.0) and cam.read().index == 1
    cam.close()
    assert not cam.capturing
    cam.close()


# --- the arm server's lockstep hook and the SimRig over a pty --------------------------------------------

def test_server_step_now_advances_the_arm_to_the_injected_clock_in_the_loop_thread():
    clock = FakeClock(0.0)
    arm = VirtualArm(scara_arm(), np.array(TABLE.home), ScaraKinematics(), now_s=0.0)
    with ArmServer.on_pty(arm, clock=clock) as server:
        clock.t = 0.5
        server.step_now()  # no loop thread: runs here
        assert arm.state().time_us == 500_000
        server.start()
        clock.t = 0.75
        server.step_now()  # through the loop thread; done when it returns
        assert arm.state().time_us == 750_000


def test_sim_rig_over_a_pty_expert_at_20_hz_real_time_succeeds():
    with SimRig(camera_fps=30.0) as rig:
        episode = rig.new_episode(11)
        assert episode.target_colour in episode.instruction
        assert rig.outcome() == "running" and not rig.done()
        link = ArmLink.open(rig.port, timeout_s=2.0)
        try:
            assert link.info.joint_names == ("shoulder", "elbow", "lift", "gripper")
            rig.camera.wait(timeout_s=10.0)  # the first camera frame
            first = rig.camera.read()
            assert first.image.shape == (96, 96, 3)
            next_s, k = time.monotonic(), 0
            while not rig.done():
                state = link.poll() or link.latest_state
                q = np.array(state.position) if state is not None else rig.arm.positions()
                target = EXPERT.action_chunk(q, episode.world, 1, 20.0)[0]
                link.send_command(p.Mode.JOINT_POSITION, target, 150)
                next_s += 0.05
                time.sleep(max(0.0, next_s - time.monotonic()))
                k += 1
                assert k < 200, "liveness: 10 s of ticks without an outcome"
            assert rig.outcome() == "success", rig.outcome()
            assert not link.logs, list(link.logs)  # nothing refused on the way
            last = rig.camera.read()  # the capture thread kept up, and shows the arm somewhere else now
            assert last.index > first.index and not np.array_equal(last.image, first.image)
        finally:
            link.close()


def test_sim_rig_lockstep_on_a_fake_clock():
    clock = FakeClock(100.0)
    with SimRig(seed=12, clock=clock, max_episode_s=5.0) as rig:
        episode = rig.episode  # seed given: the first episode started with the rig
        assert episode == make_episode(12)
        link = ArmLink.open(rig.port, timeout_s=2.0)
        try:
            for _ in range(100):
                frame = rig.camera.read()
                assert frame.t_capture_s == clock.t  # on demand: the arm as it is at the driver's time
                q = rig.arm.positions()
                target = EXPERT.action_chunk(q, episode.world, 1, 20.0)[0]
                link.request(p.Command(p.Mode.JOINT_POSITION, tuple(target), 150), timeout_s=2.0)
                clock.t += 0.05
                rig.step_now()
                if rig.done():
                    break
            assert rig.outcome() == "success" and rig.elapsed_s() < 3.0
            assert rig.arm.state().time_us == round((clock.t - 100.0) * 1e6)  # integrated to the fake now
        finally:
            link.close()
    with SimRig() as rig, pytest.raises(RuntimeError, match="call new_episode"):
        rig.success()
