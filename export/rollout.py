"""Run a PyTorch policy in the simulated world in-process (no serial link): DAgger rollouts and quick checks.

The policy is fed exactly what the runtime feeds its graph — the runtime's image preprocessing, the bundle's
normalisation, the instruction embedding — and its chunks are executed the runtime's way (an executor from
vla_lite.execution, replanning every k steps), with targets clipped to the joint limits as the safety filter
would (the Meta-World recorder then applies the runtime's whole safety filter, ramp-in included). The official
closed-loop figure is `vla-lite eval`, through the runtime itself.
"""

from __future__ import annotations

import numpy as np


class TorchPolicyRunner:
    """`runner(obs, env) -> (D,) joint targets` for vla_lite.worlds.tabletop.demos.record_tabletop_demos(policy=...)."""

    def __init__(self, model, cameras, normalization, embed, replan_every: int):
        from vla_lite.calib.stats import to_normalization
        from vla_lite.cameras.undistort import make_camera_preprocessor

        self.model = model.eval()
        self.cameras = tuple(cameras)
        self.pre = {c.name: make_camera_preprocessor(c, c.intrinsics) for c in self.cameras}
        self.norm = to_normalization(normalization) if isinstance(normalization, dict) else normalization
        self.embed = embed
        self.replan_every = replan_every
        self._executor = None
        self._embedding: dict[str, np.ndarray] = {}

    def reset(self) -> None:
        from vla_lite.execution import make_executor

        self._executor = make_executor("replan", self.model.cfg.chunk_length, self.replan_every)

    def chunk(self, images, positions: np.ndarray, instruction: str) -> np.ndarray:
        """(T, D) robot-unit actions for one observation. images: {camera name: (H, W, 3) RGB}, or one image
        for a single-camera policy."""
        import torch

        from vla_lite.bundle.normalization import denormalize_actions, normalize_state

        e = self._embedding.get(instruction)
        if e is None:
            # a writable copy: the encoder caches read-only arrays, which torch.from_numpy warns about
            e = self._embedding[instruction] = np.array(self.embed(instruction), np.float32).reshape(1, -1)
        if not isinstance(images, dict):
            images = {c.name: images for c in self.cameras}
        missing = [c.name for c in self.cameras if c.name not in images]
        if missing:
            raise ValueError(f"the world renders cameras {sorted(images)}; the policy needs {missing} as well")
        inputs = {c.input_name: torch.from_numpy(self.pre[c.name](images[c.name])) for c in self.cameras}
        inputs["state"] = torch.from_numpy(normalize_state(positions, self.norm.state).reshape(1, -1))
        inputs["instruction"] = torch.from_numpy(e)
        with torch.no_grad():
            out = self.model(**inputs)["actions"][0].numpy()
        return denormalize_actions(out, self.norm.action)

    def __call__(self, obs: dict, env) -> np.ndarray:
        step = int(obs["step"])
        if step == 0 or self._executor is None:
            self.reset()
        ex = self._executor
        if ex.needs_inference(step):
            ex.on_request(step)
            ex.submit(self.chunk(obs.get("images") or obs["image"], obs["positions"], obs["instruction"]), step)
        action = ex.next_action(step)
        if action is None:  # cannot happen with synchronous inference; hold where the arm is
            action = np.asarray(obs["positions"], np.float64)
        return np.clip(action, env.low, env.high)
