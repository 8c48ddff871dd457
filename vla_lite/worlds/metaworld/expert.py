"""Meta-World's scripted experts as EE_DELTA labels, and the unit conversion between the two action forms.

`metaworld.policies.ENV_POLICY_MAP[task]().get_action(obs39)` is a closed-loop policy: it reads the state
(hand, gripper, objects, goal) from any observation, so it labels states a learner visits (DAgger), not only its
own. Its action is Meta-World's (4,) in [-1, 1] (some experts return more; the env clips, and so does this).
"""

from __future__ import annotations

import warnings

import numpy as np

from .scene import ACTION_SCALE_M, import_metaworld

EE_DELTA_LOW = np.array([-ACTION_SCALE_M, -ACTION_SCALE_M, -ACTION_SCALE_M, -1.0])  # m, m, m, gripper
EE_DELTA_HIGH = -EE_DELTA_LOW
EE_DELTA_NAMES = ("dx", "dy", "dz", "gripper")
EE_DELTA_UNITS = ("m", "m", "m", "1")


def action_to_ee_delta(action) -> np.ndarray:
    """Meta-World action (4,) -> EE_DELTA (4,): dx dy dz per 12.5 ms step (m), gripper -1 open ... +1 closed."""
    a = np.clip(np.asarray(action, np.float64).reshape(4), -1.0, 1.0)
    return np.array([a[0] * ACTION_SCALE_M, a[1] * ACTION_SCALE_M, a[2] * ACTION_SCALE_M, a[3]])


def ee_delta_to_action(delta) -> np.ndarray:
    """EE_DELTA (4,) -> Meta-World action (4,), clipped to [-1, 1]."""
    d = np.asarray(delta, np.float64).reshape(4)
    return np.clip(np.array([d[0] / ACTION_SCALE_M, d[1] / ACTION_SCALE_M, d[2] / ACTION_SCALE_M, d[3]]), -1.0, 1.0)


class MetaWorldExpert:
    """The scripted expert of one task: `ee_delta(obs39) -> (4,)` in EE_DELTA units."""

    def __init__(self, task: str):
        import_metaworld()
        from metaworld.policies import ENV_POLICY_MAP

        if task not in ENV_POLICY_MAP:
            raise ValueError(f"Meta-World has no scripted expert for {task!r}; it has {sorted(ENV_POLICY_MAP)}")
        self.task = task
        self.policy = ENV_POLICY_MAP[task]()

    def action(self, obs39) -> np.ndarray:
        """Meta-World action (4,) in [-1, 1] for the observation (39,)."""
        obs39 = np.asarray(obs39, np.float64)
        if obs39.shape != (39,):
            raise ValueError(f"a Meta-World observation has shape (39,), got {obs39.shape}")
        with warnings.catch_warnings():  # "Constant(s) may be too high": the experts rely on clipping
            warnings.simplefilter("ignore", UserWarning)
            a = self.policy.get_action(obs39)
        return np.clip(np.asarray(a, np.float64), -1.0, 1.0)

    def ee_delta(self, obs39) -> np.ndarray:
        return action_to_ee_delta(self.action(obs39))
