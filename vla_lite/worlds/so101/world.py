"""`SO101World`: the SO-101 on a table with coloured cubes, a bowl and two pads; the instruction says which cube goes
where. Deterministic: a seed fixes the layout (and, unless given, the task and its phrasing); the same actions
from the same reset give bit-identical states.

One `step(targets)` is one 30 Hz control period: the six servos receive absolute goal positions (see
vla_lite.worlds.so101.model for units: 5 joints in rad + gripper 0 closed .. 1 open), and SUBSTEPS physics steps
run while each servo's setpoint moves towards its goal at no more than its speed limit (STS3215: 4.72 rad/s,
accelerating at 39 rad/s²) and the servo's P loop tracks it. Goals
outside a joint's range are clamped to it, as a servo with Min/Max_Position_Limit set does. A rig that speaks the
servo protocol calls `step` once per period with the goals it received and reads `present_positions` back.

Success (latched; `done` then tells an evaluator to stop): the task's cube rests at its place (inside the bowl's
wall on its floor, or on the pad's square) and the jaws no longer touch it. Stepping past `done` is allowed: a rig
keeps serving the arm whatever the episode's state.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from .instructions import COLOURS, Place, Task, all_tasks, make_instruction, phrasings, task_of_instruction
from .layout import SCENE, Layout, SceneSpec, sample_layout
from .model import (JOINT_NAMES, STS3215, ServoSpec, advance_setpoint, apply_servo, joint_rad_to_targets,
                    targets_to_joint_rad)
from .scene import CONTROL_HZ, PLACE_BODY, SUBSTEPS, build_model, import_mujoco

MAX_STEPS = 300  # 10 s at 30 Hz
# Start pose (targets): upper arm tilted back, forearm raised, the tool pointing down-forward 9 cm above the
# table in front of the base (x 0.21 m), gripper 40 % open.
HOME = np.array([0.0, -1.4, 1.2, 1.0, 0.0, 0.4])
PAD_GEOMS = ("fixed_jaw_pad", "moving_jaw_pad")


class Outcome(str, enum.Enum):
    RUNNING = "running"
    SUCCESS = "success"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Episode:
    seed: int
    layout: Layout
    task: Task
    instruction: str  # what a policy is told; the image alone does not say which cube or where


class SO101World:
    """See the module docstring. Build once, `reset` per episode, `step` per control period."""

    rate_hz = CONTROL_HZ
    period_s = 1.0 / CONTROL_HZ
    substeps = SUBSTEPS
    joint_names = JOINT_NAMES
    units = ("rad", "rad", "rad", "rad", "rad", "fraction")

    def __init__(self, *, colours=tuple(COLOURS), spec: SceneSpec = SCENE, servo: ServoSpec = STS3215,
                 max_steps: int = MAX_STEPS, split: str = "train", assets: dict[str, bytes] | None = None):
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        sample_layout(0, colours, spec)  # ValueError naming bad colours, before the model is built
        phrasings(Task(colours[0], Place.BOWL), split)  # ValueError naming a bad split
        self._mj = import_mujoco()
        self.colours, self.spec, self.servo, self.max_steps, self.split = tuple(colours), spec, servo, max_steps, split
        self.model = build_model(self.colours, spec, assets)
        apply_servo(self.model, servo)
        self.data = self._mj.MjData(self.model)
        m = self.model
        self._qadr = np.array([m.joint(n).qposadr[0] for n in JOINT_NAMES])
        self._dadr = np.array([m.joint(n).dofadr[0] for n in JOINT_NAMES])
        self._act = np.array([m.actuator(n).id for n in JOINT_NAMES])
        self.low_rad = np.array([m.jnt_range[m.joint(n).id][0] for n in JOINT_NAMES])
        self.high_rad = np.array([m.jnt_range[m.joint(n).id][1] for n in JOINT_NAMES])
        self.low, self.high = joint_rad_to_targets(self.low_rad), joint_rad_to_targets(self.high_rad)  # targets
        self._cube_qadr = {c: m.joint(f"cube_{c}").qposadr[0] for c in self.colours}
        self._cube_geom = {c: m.geom(f"cube_{c}").id for c in self.colours}
        self._place_body = {p: m.body(b).id for p, b in PLACE_BODY.items()}
        self._pad_geoms = {m.geom(g).id for g in PAD_GEOMS}
        self.episode: Episode | None = None
        self.setpoint_rad = targets_to_joint_rad(HOME)  # the servos' internal setpoints (profiled goals), rad
        self.setpoint_speed_rad_s = np.zeros(6)
        self.goal_rad = self.setpoint_rad.copy()
        self.steps = 0
        self.success = False
        self.peak_speed_rad_s = np.zeros(6)
        self.torque_on = np.ones(6, bool)  # per servo; off: its actuator pushes nothing (set_torque)

    # --- episodes ------------------------------------------------------------------------------------------

    def reset(self, seed: int, task: Task | None = None, instruction: str | None = None, *,
              start=None) -> Episode:
        """Layout of seed, arm at rest at `start` targets (default HOME), servos holding it. The task: `task`,
        else the one `instruction` names (a known phrasing), else drawn from the seed. The instruction:
        `instruction`, else a phrasing of the task (seeded, split)."""
        layout = sample_layout(seed, self.colours, self.spec)  # ValueError naming a bad seed
        if task is None and instruction is not None:
            task = task_of_instruction(instruction, self.colours)
        if task is None:
            options = all_tasks(self.colours)
            task = options[int(np.random.default_rng([int(seed), 1]).integers(len(options)))]
        if not isinstance(task, Task) or task.colour not in self.colours:
            raise ValueError(f"task must be a Task over this scene's cubes {list(self.colours)}, got {task!r}")
        if instruction is None:
            instruction = make_instruction(task, np.random.default_rng([int(seed), 2]), self.split)
        mj, m, d = self._mj, self.model, self.data
        mj.mj_resetData(m, d)
        for place, (x, y) in layout.places.items():
            m.body_pos[self._place_body[place]] = (x, y, 0.0)
        for cube in layout.cubes:
            self._put_cube(cube.colour, (cube.x_m, cube.y_m, self.spec.cube_size_m / 2), cube.yaw_rad)
        start = HOME if start is None else np.asarray(start, np.float64)
        if start.shape != (6,) or not np.all((start >= self.low) & (start <= self.high)):
            raise ValueError(f"start must be 6 targets within [{self.low}, {self.high}], got {start!r}")
        home = targets_to_joint_rad(start)
        d.qpos[self._qadr] = home
        d.ctrl[self._act] = home
        self.setpoint_rad, self.goal_rad, self.setpoint_speed_rad_s = home.copy(), home.copy(), np.zeros(6)
        mj.mj_forward(m, d)
        self.episode = Episode(int(seed), layout, task, str(instruction))
        self.steps, self.success = 0, False
        self.peak_speed_rad_s = np.zeros(6)
        return self.episode

    def step(self, targets) -> None:
        """One control period towards absolute goal `targets` (6,): 5 joints rad, gripper 0 closed .. 1 open."""
        if self.episode is None:
            raise RuntimeError("no episode: call reset(seed) first")
        t = np.asarray(targets, np.float64)
        if t.shape != (6,) or not np.all(np.isfinite(t)):
            raise ValueError(f"targets must be 6 finite values {JOINT_NAMES} (rad x5, gripper 0..1), got {targets!r}")
        self.goal_rad = np.clip(targets_to_joint_rad(t), self.low_rad, self.high_rad)
        mj, m, d = self._mj, self.model, self.data
        peak = np.zeros(6)
        dt_s = m.opt.timestep
        for _ in range(SUBSTEPS):
            self.setpoint_rad, self.setpoint_speed_rad_s = advance_setpoint(
                self.setpoint_rad, self.setpoint_speed_rad_s, self.goal_rad, dt_s, self.servo)
            d.ctrl[self._act] = self.setpoint_rad
            mj.mj_step(m, d)
            np.maximum(peak, np.abs(d.qvel[self._dadr]), out=peak)
        self.peak_speed_rad_s = peak  # (6,) largest |joint speed| over this period's physics steps, rad/s
        self.steps += 1
        if not self.success and self._task_done():
            self.success = True

    @property
    def outcome(self) -> "Outcome":
        """SUCCESS once the task was done, TIMEOUT after max_steps without it, else RUNNING (a str enum: it
        compares equal to "success", "timeout", "running")."""
        if self.success:
            return Outcome.SUCCESS
        return Outcome.TIMEOUT if self.steps >= self.max_steps else Outcome.RUNNING

    @property
    def done(self) -> bool:
        return self.outcome is not Outcome.RUNNING

    @property
    def t_s(self) -> float:
        return self.steps * self.period_s

    # --- the arm -------------------------------------------------------------------------------------------

    def place_arm(self, targets) -> None:
        """Put the arm at `targets` (6,) now, at rest, the servos' setpoints there too (a hand moving the arm, or a
        chosen start state). ValueError outside the joints' ranges."""
        t = np.asarray(targets, np.float64)
        if t.shape != (6,) or not np.all((t >= self.low - 1e-9) & (t <= self.high + 1e-9)):
            raise ValueError(f"targets must be 6 values within [{self.low}, {self.high}], got {targets!r}")
        q = targets_to_joint_rad(t)
        self.data.qpos[self._qadr] = q
        self.data.qvel[self._dadr] = 0.0
        self.setpoint_rad, self.goal_rad, self.setpoint_speed_rad_s = q.copy(), q.copy(), np.zeros(6)
        self._mj.mj_forward(self.model, self.data)

    def set_torque(self, joint: int, on: bool) -> None:
        """Torque on or off for one servo (index into JOINT_NAMES). Off: its actuator pushes nothing and the joint
        goes limp under gravity; on again: it holds where the joint is (its setpoint restarts there, at rest)."""
        if not 0 <= joint < len(JOINT_NAMES):
            raise ValueError(f"joint index must be 0..{len(JOINT_NAMES) - 1} {JOINT_NAMES}, got {joint!r}")
        on = bool(on)
        if on == self.torque_on[joint]:
            return
        a, kp, kv = self._act[joint], self.servo.kp_nm_per_rad, self.servo.kv_nm_s_per_rad
        self.model.actuator_gainprm[a, 0] = kp if on else 0.0
        self.model.actuator_biasprm[a, :3] = (0.0, -kp, -kv) if on else (0.0, 0.0, 0.0)
        if on:
            self.setpoint_rad[joint] = self.goal_rad[joint] = self.data.qpos[self._qadr[joint]]
            self.setpoint_speed_rad_s[joint] = 0.0
        self.torque_on[joint] = on

    def present_joint_rad(self) -> np.ndarray:
        """(6,) measured joint angles, rad (gripper included)."""
        return self.data.qpos[self._qadr].copy()

    def present_positions(self) -> np.ndarray:
        """(6,) measured positions in targets units: 5 joints rad, gripper 0 closed .. 1 open."""
        return joint_rad_to_targets(self.present_joint_rad())

    def present_velocity_rad_s(self) -> np.ndarray:
        return self.data.qvel[self._dadr].copy()

    def present_torque_nm(self) -> np.ndarray:
        """(6,) torque each servo applies now (its Present_Load), N·m."""
        return self.data.actuator_force[self._act].copy()

    # --- objects -------------------------------------------------------------------------------------------

    def cube_pose(self, colour: str) -> tuple[np.ndarray, np.ndarray]:
        """(position (3,) m, quaternion (4,) w x y z) of the cube's centre."""
        if colour not in self._cube_qadr:
            raise ValueError(f"no {colour!r} cube in this scene; it has {list(self.colours)}")
        a = self._cube_qadr[colour]
        return self.data.qpos[a:a + 3].copy(), self.data.qpos[a + 3:a + 7].copy()

    def place_cube(self, colour: str, position_m, yaw_rad: float = 0.0) -> None:
        """Move a cube (upright, at rest) to position_m (3,) now, e.g. to start an episode from a chosen state."""
        self.cube_pose(colour)  # ValueError naming an unknown colour
        self._put_cube(colour, position_m, yaw_rad)
        self._mj.mj_forward(self.model, self.data)

    def _put_cube(self, colour: str, position_m, yaw_rad: float) -> None:
        a, d = self._cube_qadr[colour], self.data
        d.qpos[a:a + 3] = position_m
        d.qpos[a + 3:a + 7] = (math.cos(yaw_rad / 2), 0.0, 0.0, math.sin(yaw_rad / 2))
        d.qvel[self.model.joint(f"cube_{colour}").dofadr[0]:][:6] = 0.0

    def cube_positions(self) -> dict[str, np.ndarray]:
        return {c: self.cube_pose(c)[0] for c in self.colours}

    def place_position(self, place: Place) -> np.ndarray:
        """(3,) centre of the place on the table, m."""
        return self.model.body_pos[self._place_body[Place(place)]].copy()

    def place_positions(self) -> dict[Place, np.ndarray]:
        return {p: self.place_position(p) for p in Place}

    def jaws_touch(self, colour: str) -> int:
        """How many of the two fingertip pads touch the cube (2: pinched)."""
        cube, d = self._cube_geom[colour], self.data
        pads = set()
        for i in range(d.ncon):
            g1, g2 = int(d.contact.geom1[i]), int(d.contact.geom2[i])
            if cube in (g1, g2) and (g1 in self._pad_geoms or g2 in self._pad_geoms):
                pads.add(g1 if g1 != cube else g2)
        return len(pads)

    def cube_at_place(self, colour: str, place: Place) -> bool:
        """The cube rests at the place: within the bowl's wall on its floor, or on the pad's square."""
        pos, _ = self.cube_pose(colour)
        return placed(pos, Place(place), self.place_position(place), self.spec)

    def _task_done(self) -> bool:
        task = self.episode.task
        return self.cube_at_place(task.colour, task.place) and self.jaws_touch(task.colour) == 0


def placed(cube_pos, place: Place, place_pos, spec: SceneSpec) -> bool:
    """A cube centred at cube_pos rests at place (centred at place_pos on the table)."""
    dx, dy = cube_pos[0] - place_pos[0], cube_pos[1] - place_pos[1]
    half = spec.cube_size_m / 2
    if place is Place.BOWL:
        inside, rest_z = math.hypot(dx, dy) <= spec.bowl_inner_radius_m, spec.bowl_floor_m + half
    else:
        inside, rest_z = max(abs(dx), abs(dy)) <= spec.pad_size_m / 2, spec.pad_thickness_m + half
    return inside and abs(cube_pos[2] - rest_z) <= spec.rest_tolerance_m
