"""`MetaWorldController`: a Meta-World task behind the vla-lite arm protocol, in EE_DELTA mode at 80 Hz.

A VirtualArm subclass: handshake, command validation and refusal, STATE with ack_seq, watchdog, ESTOP,
CLEAR_FAULT and TORQUE are VirtualArm's own logic (firmware_bridge/virtual_arm.py); only the plant differs.

The "joints" announced at HELLO_ACK are the hand's x, y, z (m) and the gripper opening (m), so STATE.position is
(hand xyz, opening) and a bundle's state names them. EE_DELTA (4 values: dx dy dz in m, gripper -1 open ... +1
closed) is the displacement of the hand's target *per 12.5 ms physics step*: Meta-World's action is delta /
ACTION_SCALE_M, so |dx|, |dy|, |dz| above 10 mm or a gripper outside [-1, 1] is refused (TARGET_OUT_OF_LIMITS).
An accepted command is applied at every physics step that ends within its valid_ms; after that the hand holds
(no motion) and the fingers keep their last command, so a held object is not dropped. A bundle should run at
80 Hz, one command per step; at a lower rate each delta repeats for as long as its valid_ms lasts.

Time is passed in, as for VirtualArm: physics step k ends at t0 + k·12.5 ms and is computed when the controller
is advanced past that time, with the command in force then. Given the commands and their times, a run is
deterministic (lockstep drivers). A real-time server that falls more than MAX_CATCHUP_STEPS behind skips the rest
(counted in `steps_skipped`) rather than stalling. Torque off cannot make a mocap-driven hand limp: it holds.
Efforts are not simulated (reported as 0).
"""

from __future__ import annotations

import math

import numpy as np

from ...firmware_bridge.arm_config import ArmConfig
from ...firmware_bridge.protocol import JointInfo, LogCode, Mode, Unit
from ...firmware_bridge.virtual_arm import VirtualArm, CommandRefused
from .expert import ee_delta_to_action
from .scene import ACTION_SCALE_M, STEP_S, TaskScene

JOINT_NAMES = ("ee_x", "ee_y", "ee_z", "gripper")
# Where the hand's target may go: the box holding every MT50 task's mocap box (Meta-World clips the target to the
# task's own: most to y >= 0.40, z >= 0.05; stick-pull from y 0.35; faucets, door locks, lever-pull and
# hand-insert down to z -0.15)
HAND_LOW_M = (-0.5, 0.35, -0.15)
HAND_HIGH_M = (0.5, 1.00, 0.50)
GRIPPER_MAX_M = 0.1
MAX_CATCHUP_STEPS = 80  # one second of physics per call at most
TIME_TOL_S = 1e-6  # a step "ends by t" within this: clocks summed from periods differ in the last bits
_EE = 3  # internal mode: an EE_DELTA command as a Meta-World action (4,)


def metaworld_arm(*, watchdog_ms: int = 100, torque_off_ms: int = 2000) -> ArmConfig:
    """What the controller announces: the hand as three prismatic "joints" plus the gripper opening."""
    v_max = ACTION_SCALE_M / STEP_S  # 0.8 m/s: one full action per step
    a_max = v_max / STEP_S  # the mocap target may reach full speed in one step
    joints = tuple(JointInfo(n, Unit.M, lo, hi, v_max, a_max, 0.0)
                   for n, lo, hi in zip(JOINT_NAMES, HAND_LOW_M, HAND_HIGH_M))
    joints += (JointInfo("gripper", Unit.M, 0.0, GRIPPER_MAX_M, 0.8, 64.0, 0.0),)  # fingers: ~0.6 m/s measured
    return ArmConfig("vla-lite metaworld sawyer", joints, modes=(Mode.EE_DELTA,), max_rate_hz=1.0 / STEP_S,
                     watchdog_ms=watchdog_ms, torque_off_ms=torque_off_ms)


class MetaWorldController(VirtualArm):
    """A VirtualArm whose plant is one Meta-World task; see the module docstring. `new_episode` switches task
    and placement; `with_scene(fn)` gives other threads (the camera) the scene between physics steps."""

    PLANT_EE_DELTA = True

    def __init__(self, task: str = "reach-v3", seed: int = 0, *, config: ArmConfig | None = None,
                 now_s: float = 0.0):
        self._scenes: dict[str, TaskScene] = {}
        self.scene = self._scene_for(task)
        self.scene.reset(seed)
        super().__init__(config or metaworld_arm(), now_s=now_s)
        self._max_delta_m = ACTION_SCALE_M * (1 + 1e-6)  # an f32 rounding of exactly 10 mm is inside
        self._t0_steps_s = float(now_s)  # physics step k ends at _t0_steps_s + k * STEP_S
        self._k = 0  # physics steps done since construction
        self._gripper = -1.0  # last finger command: open
        self.steps_skipped = 0
        self._pos = self.scene.positions()  # the base class started at the limits' clip of zero

    # --- episodes and scenes -------------------------------------------------------------------------------

    def _scene_for(self, task: str) -> TaskScene:
        scene = self._scenes.get(task)
        if scene is None:
            scene = TaskScene(task)  # ~0.1 s: the MuJoCo model is compiled once per task
            lo, hi = scene.mocap_low_m, scene.mocap_high_m
            if not (np.all(lo >= np.array(HAND_LOW_M) - 1e-9) and np.all(hi <= np.array(HAND_HIGH_M) + 1e-9)):
                scene.close()
                raise ValueError(f"task {task!r} moves the hand within {lo.tolist()}..{hi.tolist()} m, outside "
                                 f"the {list(HAND_LOW_M)}..{list(HAND_HIGH_M)} m this controller announces")
            self._scenes[task] = scene
        return scene

    def new_episode(self, seed: int, task: str | None = None) -> None:
        """Reset to the placement of (task, seed); task None keeps the current one. Motion stops, the fingers
        open; latched faults stay latched."""
        scene = self._scene_for(task or self.scene.task)  # outside the lock: building one takes ~0.1 s
        with self._lock:
            scene.reset(seed)
            self.scene = scene
            self._pos = scene.positions()
            self._gripper = -1.0
            self._limp()  # zero velocity, hold

    def reset(self, positions) -> None:
        raise NotImplementedError("a Meta-World hand cannot be teleported; use new_episode(seed, task)")

    def close(self) -> None:
        """Release the Meta-World envs. Safe to call twice."""
        scenes, self._scenes = self._scenes, {}
        for scene in scenes.values():
            scene.close()

    def with_scene(self, fn):
        """fn(scene) under the controller's lock: no physics step runs meanwhile."""
        with self._lock:
            return fn(self.scene)

    @property
    def success(self) -> bool:
        """Meta-World's info["success"] at any step since the episode began."""
        with self._lock:
            return self.scene.success

    @property
    def episode_steps(self) -> int:
        with self._lock:
            return self.scene.steps

    def observation(self) -> np.ndarray:
        """(39,) copy of the latest Meta-World observation (what the scripted experts read)."""
        with self._lock:
            return self.scene.obs.copy()

    # --- the plant: VirtualArm's hooks ---------------------------------------------------------------------

    def _ee_delta_target(self, delta) -> tuple[int, np.ndarray]:
        if len(delta) != 4:
            raise CommandRefused(LogCode.BAD_LENGTH, f"Meta-World takes dx dy dz gripper (4 values), got {len(delta)}")
        lim = self._max_delta_m
        for i, axis in enumerate("xyz"):
            if not -lim <= delta[i] <= lim:
                raise CommandRefused(LogCode.TARGET_OUT_OF_LIMITS, f"EE_DELTA d{axis} {delta[i]:.6g} m outside "
                                                             f"+-{ACTION_SCALE_M:g} m per 12.5 ms step")
        if not -1.0 - 1e-6 <= delta[3] <= 1.0 + 1e-6:
            raise CommandRefused(LogCode.TARGET_OUT_OF_LIMITS, f"EE_DELTA gripper {delta[3]:.6g} outside [-1, 1]")
        return _EE, ee_delta_to_action(delta)

    def _integrate(self, t_end_s: float) -> None:
        """Every physics step that ends by t_end_s, with the command in force (VirtualArm's _advance stops here at
        each expiry and watchdog time, so a step after an expiry holds)."""
        due_s = self._t0_steps_s + (self._k + 1) * STEP_S
        if due_s <= t_end_s + TIME_TOL_S:
            n = int(math.floor((t_end_s + TIME_TOL_S - due_s) / STEP_S)) + 1
            skip = max(0, n - MAX_CATCHUP_STEPS)
            self.steps_skipped += skip
            for _ in range(n - skip):
                self._physics_step()
            self._k += n
        self._t_s = max(self._t_s, t_end_s)

    def _physics_step(self) -> None:
        if self._mode == _EE and self._torque:
            action = self._target
            self._gripper = float(action[3])
        else:  # holding (no command, expired, watchdog, ESTOP, torque off): no motion, fingers as they were
            action = np.array([0.0, 0.0, 0.0, self._gripper])
        self.scene.step(action)
        pos = self.scene.positions()
        self._vel = (pos - self._pos) / STEP_S
        self._pos = pos
        self._vecs = None  # STATE's cached tuples are stale
