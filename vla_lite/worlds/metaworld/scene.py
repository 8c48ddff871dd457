"""One Meta-World task environment with seeded placements: the only module that calls Meta-World itself.

Meta-World 3.1.1 ignores `reset(seed=...)`; its MT benchmarks pick placements from 50 pre-sampled vectors per
task. Here a seed gives the placement directly: the env's random generator is seeded and one reset samples the
object/goal vector (with the env's own rejection rules), so any integer seed is a valid, repeatable episode and a
new episode costs one reset (~9 ms), not a benchmark construction (~0.5 s). The goal is observable (as in MT10),
which the scripted experts need.

Units: the hand position is Meta-World's `hand` body (observation[0:3]), metres; the gripper opening is the
finger distance in metres (Meta-World observes it divided by GRIPPER_SPAN_M, clipped to [0, 1]).
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from ...extras import EXTRAS, missing_extra

STEP_S = 0.0125  # one env step: 5 MuJoCo steps of 2.5 ms (80 Hz)
MAX_STEPS = 500  # Meta-World's episode length
ACTION_SCALE_M = 0.01  # an action of 1 moves the hand's mocap target 10 mm in one step
GRIPPER_SPAN_M = 0.1  # Meta-World's observation[3] is the finger distance / 0.1 m


def import_metaworld():
    """(metaworld, mujoco). MUJOCO_GL defaults to egl (headless) before MuJoCo is first imported. Not installed:
    MissingExtra naming the install command (vla_lite.extras)."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import metaworld
        import mujoco
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "Meta-World") or exc from exc
    except ImportError as exc:  # installed but unusable, e.g. no EGL: say how rendering is chosen
        raise ImportError(f"Meta-World or MuJoCo failed to load ({exc}); {EXTRAS['metaworld'].install}") from exc
    return metaworld, mujoco


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"episode seed must be an integer in [0, 2**63), got {seed!r}")
    return int(seed)


class TaskScene:
    """One task's env: `reset(seed)`, `step(action)`; `obs` (39,), `success` (any step since reset), `steps`."""

    def __init__(self, task: str):
        _, self._mujoco = import_metaworld()
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS, ML1_ARGS_KWARGS
        from metaworld.types import Task

        if task not in ALL_V3_ENVIRONMENTS:
            raise ValueError(f"unknown Meta-World task {task!r}; expected one of {sorted(ALL_V3_ENVIRONMENTS)}")
        cls = ALL_V3_ENVIRONMENTS[task]
        env = cls()
        kwargs = {k: v for k, v in ML1_ARGS_KWARGS[task]["kwargs"].items() if k != "task_id"}
        # Meta-World's Task is its own in-memory encoding (pickled by it, of values made here); nothing is stored.
        data = {**kwargs, "rand_vec": np.array(env._random_reset_space.low), "env_cls": cls,
                "partially_observable": False}
        env.set_task(Task(env_name=task, data=pickle.dumps(data)))
        env.max_path_length = 2 ** 62  # steps are counted here; Meta-World would refuse to step past 500
        self.task, self.env = task, env
        self.mocap_low_m, self.mocap_high_m = np.array(env.mocap_low), np.array(env.mocap_high)
        self.seed: int | None = None
        self.obs = np.zeros(39)
        self.success = False
        self.steps = 0

    @property
    def model(self):
        return self.env.model

    @property
    def data(self):
        return self.env.data

    def reset(self, seed: int) -> np.ndarray:
        """The placement of `seed` (object and goal positions), hand at its start. Returns obs (39,)."""
        seed = check_seed(seed)
        env = self.env
        env._freeze_rand_vec = False  # sample the placement vector at reset ...
        env.seeded_rand_vec = True  # ... from env.np_random, seeded here, not numpy's global generator
        env.seed(seed)
        obs, _ = env.reset()
        # Meta-World moves the goal marker (model.site("goal").pos) after its last mj_forward, so until the first
        # step the world positions MuJoCo renders from still show the previous episode's goal: recompute them
        # (positions and velocities are untouched), or the first frame of every episode lies about the goal.
        self._mujoco.mj_forward(env.model, env.data)
        self.seed, self.obs, self.success, self.steps = seed, np.asarray(obs, np.float64), False, 0
        return self.obs

    def step(self, action: np.ndarray) -> np.ndarray:
        """One 12.5 ms env step with a Meta-World action (4,) in [-1, 1]. Returns obs (39,)."""
        obs, _, _, _, info = self.env.step(np.asarray(action, np.float64))
        self.obs = np.asarray(obs, np.float64)
        self.success = self.success or bool(info["success"])
        self.steps += 1
        return self.obs

    def positions(self) -> np.ndarray:
        """(4,) hand x, y, z (m) and gripper opening (m)."""
        return hand_positions(self.obs)

    def placement(self) -> np.ndarray:
        """The seeded object/goal vector of this episode (what a seed selects)."""
        return np.array(self.env._last_rand_vec, np.float64)

    def close(self) -> None:
        self.env.close()


def hand_positions(obs39: np.ndarray) -> np.ndarray:
    """(4,) hand x, y, z (m) and gripper opening (m) from a Meta-World observation."""
    obs39 = np.asarray(obs39, np.float64)
    return np.array([obs39[0], obs39[1], obs39[2], obs39[3] * GRIPPER_SPAN_M])
