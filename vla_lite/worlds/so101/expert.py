"""The scripted expert: from any state of an SO101World, the next joint targets that put the task's cube at its
place. Stateless (a function of the measured state only), so it labels any state a student visits (DAgger).

Which phase applies is read off the state, in this order:
- HELD (both fingertip pads touch the task's cube):
  RELEASE when the cube hangs at its release point (open to `release_open`, hold still); LOWER when it is over
  its place (straight down); LIFT (straight up to `travel_z_m`) when low elsewhere; else CARRY at `travel_z_m`,
  steering the cube (not the grasp point) over the place.
- not held:
  RETREAT (open a little, rise) once the cube is over its place and low; REOPEN (open, rise) when the jaws closed
  past the cube's width (a missed grasp); CLOSE (command 0: the servo squeezes at its torque limit) when the grasp
  point is down at the cube; DESCEND (straight down, slowly) when over the cube with the jaws open and turned to
  its faces; else APPROACH: rise straight up to `hover_z_m` first when low and away, then go over the cube.
Each period the grasp point's goal is at most speed * period from where it is now, along an arc round the pan
axis (radius, heading and height change linearly; near a cube that is a straight line), solved to joint angles by ArmIK with the tool pointing down; the jaws keep a constant yaw relative to the arm's
heading along a move, the one they must have at its end (grasp.choose_grasp_yaw picks the cube's faces).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from .grasp import choose_grasp_yaw, grasp_geometry, heading_of, jaw_reach_m, quat_to_mat, wrap, yaw_of
from .ik import ArmIK, IKConfig, top_down
from .instructions import Place
from .layout import PAN_AXIS_XY, place_radius_m
from .model import ARM, GRIPPER, gripper_fraction_to_rad, gripper_rad_to_fraction
from .world import SO101World, placed


class Phase(str, enum.Enum):
    APPROACH = "approach"
    DESCEND = "descend"
    CLOSE = "close"
    REOPEN = "reopen"
    LIFT = "lift"
    CARRY = "carry"
    LOWER = "lower"
    RELEASE = "release"
    RETREAT = "retreat"


@dataclass(frozen=True)
class ExpertConfig:
    hover_z_m: float = 0.06  # grasp point height above a cube before descending (pads 23 mm over its top)
    travel_z_m: float = 0.06  # grasp point height while carrying (the cube's bottom 45 mm up, over 30 mm cubes)
    release_dz_m: float = 0.004  # the carried cube's centre this far above its resting height when let go
    speed_m_s: float = 0.30  # grasp point speed in free moves
    slow_speed_m_s: float = 0.15  # descending onto and lowering a cube
    # Each period's goal is (period + lead) * speed ahead of where the grasp point is: the servos lag their goal
    # (their setpoints brake to stop on it), so a goal only one period ahead would make them stop and go.
    lead_s: float = 0.033
    xy_tol_m: float = 0.004  # over the cube / place closely enough to go down
    z_tol_m: float = 0.004  # at grasp height closely enough to close
    low_m: float = 0.015  # this far below hover / travel height counts as low (rise before moving across)
    yaw_tol_rad: float = 0.08  # jaws turned to the cube's faces closely enough to go down
    place_tol_m: float = 0.006  # a held cube this close to its release point is let go
    # Approach with the grasp point this far towards the fixed jaw: the fixed pad's inner face then clears the
    # cube's face by ~7.5 mm (it sits 0.45 mm inside it with the cube centred), the moving pad by ~15 mm.
    fixed_side_shift_m: float = 0.008
    open_fraction: float = 0.42  # jaws open to approach: pads' inner faces 52 mm apart (cube 30 mm)
    release_open: float = 0.32  # opening to let go: 4 mm each side of the cube, inside the bowl's wall
    missed_fraction: float = 0.15  # jaws closed past this without the cube: the grasp missed


@dataclass(frozen=True)
class Plan:
    phase: Phase
    goal_m: np.ndarray  # (3,) where the grasp point is headed, m
    roll_rad: float  # jaw yaw minus the arm's heading, kept along the move
    gripper: float  # gripper target, 0 closed .. 1 open
    slow: bool  # move at slow_speed_m_s (next to a cube)


def arc_step(start, goal, step_m: float) -> np.ndarray:
    """The point step_m along the path from start to goal that changes radius, heading (round the pan axis)
    and height linearly: an arc round the base, not a chord across it (which would pass the shoulder where the
    tool cannot point down). The goal itself when it is closer than step_m."""
    (r0, a0), (r1, a1) = _polar(start), _polar(goal)
    da, dr, dz = wrap(a1 - a0), r1 - r0, goal[2] - start[2]
    length = math.sqrt(dr * dr + (0.5 * (r0 + r1) * da) ** 2 + dz * dz)
    if length <= step_m:
        return np.asarray(goal, np.float64).copy()
    s = step_m / length
    r, a = r0 + s * dr, a0 + s * da
    return np.array([PAN_AXIS_XY[0] + r * math.cos(a), PAN_AXIS_XY[1] + r * math.sin(a), start[2] + s * dz])


def _polar(p) -> tuple[float, float]:
    return math.hypot(p[0] - PAN_AXIS_XY[0], p[1] - PAN_AXIS_XY[1]), heading_of(p)


class ScriptedExpert:
    """`action(world) -> (6,)` targets for the next period; `plan(world)` the Plan behind it."""

    def __init__(self, world: SO101World, config: ExpertConfig = ExpertConfig(), ik: IKConfig = IKConfig()):
        self.world, self.config = world, config
        self.ik = ArmIK(world.model, config=ik)
        self.point, angle = grasp_geometry(world.model, world.spec.cube_size_m)
        self.closed_on_cube = float(gripper_rad_to_fraction(angle))  # gripper fraction pinching a cube
        fixed_m, moving_m = jaw_reach_m(world.model, self.point, float(gripper_fraction_to_rad(config.open_fraction)))
        # The open jaws round a cube at the approach's shifted grasp point: (fixed side, moving side) from its centre.
        self.reach_m = (fixed_m + config.fixed_side_shift_m, moving_m - config.fixed_side_shift_m)
        if not config.missed_fraction < self.closed_on_cube < config.release_open < config.open_fraction:
            raise ValueError(f"expert openings must satisfy missed {config.missed_fraction} < on the cube "
                             f"{self.closed_on_cube:.3f} < release {config.release_open} < open "
                             f"{config.open_fraction}")

    def action(self, world: SO101World | None = None) -> np.ndarray:
        """(6,) targets for the next control period from the world's current state."""
        w = world or self.world
        plan = self.plan(w)
        q = w.present_joint_rad()
        tool, _ = self.ik.forward(q[ARM], self.point)
        speed = self.config.slow_speed_m_s if plan.slow else self.config.speed_m_s
        via = arc_step(tool, plan.goal_m, speed * (w.period_s + self.config.lead_s))
        q_arm, _, _ = self.ik.solve(q[ARM], via, top_down(heading_of(via) + plan.roll_rad), self.point)
        return np.concatenate([q_arm, [plan.gripper]])

    def plan(self, world: SO101World | None = None) -> Plan:
        """The rule that applies to the world's current state, and where it heads."""
        w = world or self.world
        if w.episode is None:
            raise RuntimeError("the expert needs an episode: call world.reset(seed) first")
        cfg, task = self.config, w.episode.task
        cube, quat = w.cube_pose(task.colour)
        q = w.present_joint_rad()
        tool, R = self.ik.forward(q[ARM], self.point)
        keep_roll = wrap(yaw_of(R) - heading_of(tool))  # the jaws' yaw relative to the arm's heading, now
        release = self._release_point(w)
        if w.jaws_touch(task.colour) == 2:
            return self._held(tool, cube, release, keep_roll)
        over_place = placed(np.array([cube[0], cube[1], release[2] - cfg.release_dz_m]), task.place,
                            w.place_position(task.place), w.spec)
        if over_place and cube[2] < release[2] + w.spec.cube_size_m / 2:  # let go over its place: clear out
            return Plan(Phase.RETREAT, np.array([tool[0], tool[1], cfg.hover_z_m + 0.03]), keep_roll,
                        cfg.release_open, False)
        if gripper_rad_to_fraction(q[GRIPPER]) < cfg.missed_fraction:
            return Plan(Phase.REOPEN, np.array([tool[0], tool[1], cfg.hover_z_m]), keep_roll, cfg.open_fraction,
                        False)
        return self._grasp(w, tool, R, cube, quat, float(gripper_rad_to_fraction(q[GRIPPER])))

    def _release_point(self, w: SO101World) -> np.ndarray:
        """Where the carried cube's centre is let go: over the place, release_dz_m above resting on it."""
        spec, place = w.spec, w.episode.task.place
        surface = spec.bowl_floor_m if place is Place.BOWL else spec.pad_thickness_m
        x, y, _ = w.place_position(place)
        return np.array([x, y, surface + spec.cube_size_m / 2 + self.config.release_dz_m])

    def _grasp(self, w: SO101World, tool, R, cube, quat, grip: float) -> Plan:
        cfg = self.config
        colour = w.episode.task.colour
        obstacles = [(p, w.spec.cube_size_m / math.sqrt(2)) for c, p in w.cube_positions().items() if c != colour]
        obstacles.append((w.place_position(Place.BOWL), place_radius_m(Place.BOWL, w.spec)))
        cube_yaw = yaw_of(quat_to_mat(quat))
        yaw = choose_grasp_yaw(cube, cube_yaw, obstacles, self.reach_m)
        roll = wrap(yaw - heading_of(cube))
        axis = np.array([math.cos(yaw), math.sin(yaw), 0.0])  # closing axis: fixed pad -> moving pad
        start = cube - cfg.fixed_side_shift_m * axis  # the grasp point's target before the jaws close
        # Between `start` and the centre: the moving jaw pushes the cube against the fixed one as it closes.
        s = float(np.clip(np.dot(tool - start, axis), 0.0, cfg.fixed_side_shift_m))
        at = start + s * axis
        if math.hypot(tool[0] - at[0], tool[1] - at[1]) <= cfg.xy_tol_m and abs(tool[2] - cube[2]) <= cfg.z_tol_m:
            return Plan(Phase.CLOSE, at, roll, 0.0, True)
        low = tool[2] < cfg.hover_z_m - cfg.low_m
        aligned = abs(wrap(yaw_of(R) - yaw, math.pi / 2)) <= cfg.yaw_tol_rad
        dxy = math.hypot(tool[0] - start[0], tool[1] - start[1])
        if aligned and grip >= cfg.open_fraction - 0.05 and dxy <= cfg.xy_tol_m * (1.5 if low else 1.0):
            return Plan(Phase.DESCEND, start, roll, cfg.open_fraction, True)
        if low and dxy > 3 * cfg.xy_tol_m:
            return Plan(Phase.APPROACH, np.array([tool[0], tool[1], cfg.hover_z_m]), wrap(yaw_of(R) - heading_of(tool)),
                        cfg.open_fraction, False)
        return Plan(Phase.APPROACH, np.array([start[0], start[1], cfg.hover_z_m]), roll, cfg.open_fraction, False)

    def _held(self, tool, cube, release, keep_roll: float) -> Plan:
        cfg = self.config
        offset = tool - cube  # grasp point from the cube's centre: steer the cube, wherever it sits in the jaws
        dxy = math.hypot(cube[0] - release[0], cube[1] - release[1])
        low = tool[2] < cfg.travel_z_m - cfg.low_m
        if np.linalg.norm(cube - release) <= cfg.place_tol_m:
            return Plan(Phase.RELEASE, release + offset, keep_roll, cfg.release_open, True)
        if dxy <= cfg.xy_tol_m * (3.0 if low else 1.0):
            return Plan(Phase.LOWER, release + offset, keep_roll, 0.0, True)
        if low:
            return Plan(Phase.LIFT, np.array([tool[0], tool[1], cfg.travel_z_m]), keep_roll, 0.0, False)
        goal = np.array([release[0] + offset[0], release[1] + offset[1], cfg.travel_z_m])
        return Plan(Phase.CARRY, goal, keep_roll, 0.0, False)
