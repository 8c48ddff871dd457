"""A LeRobot policy (ACT, Diffusion, pi0, SmolVLA, ...) as the teacher of a vla-lite student.

    vla-lite distill --teacher lerobot:/path/to/pretrained_model --data ... --out student.safetensors

Needs `lerobot` (Python >= 3.12, its own torch; install it in the offline environment, never on the robot).
The adapter uses LeRobot's public inference API: the policy class from the checkpoint's config, its saved
pre/post-processor pipelines (normalisation, tokenisation) and `predict_action_chunk`. Each TrainSet row becomes a
LeRobot batch: `observation.images.<camera>` (B, 3, H, W) in [0, 1], `observation.state` in robot units, `task`
(the instruction text); the chunk comes back in robot units and is normalised with the student's statistics.
The teacher's camera names must match the bundle's (map them with --camera-map), its state and action the same
joints in the same order; its chunk must be at least as long as the student's (the first T steps are used).
"""

from __future__ import annotations

import numpy as np


class LeRobotTeacher:
    def __init__(self, path: str, camera_map: dict[str, str] | None = None, device: str = "cpu"):
        try:
            from lerobot.configs.policies import PreTrainedConfig
            from lerobot.policies.factory import get_policy_class, make_pre_post_processors
        except ImportError as exc:
            raise RuntimeError(f"--teacher lerobot:{path} needs the `lerobot` package (Python >= 3.12): "
                               f"pip install lerobot  ({exc})") from None
        self.path, self.device = path, device
        self.config = PreTrainedConfig.from_pretrained(path)
        self.policy = get_policy_class(self.config.type).from_pretrained(path).to(device).eval()
        self.pre, self.post = make_pre_post_processors(self.config, pretrained_path=path)
        self.camera_map = camera_map or {}

    def batch(self, ts, rows, normalization) -> dict:
        """A LeRobot observation batch for TrainSet rows (state back in robot units)."""
        import torch

        from vla_lite.calib.stats import to_normalization

        norm = to_normalization(normalization) if isinstance(normalization, dict) else normalization
        out = {}
        for name, images in ts.images.items():  # (B, H, W, 3), pixel_range [0, 1] for vla-lite policies
            camera = name.removeprefix("image_")
            key = f"observation.images.{self.camera_map.get(camera, camera)}"
            out[key] = torch.from_numpy(np.asarray(images[rows], np.float32)).permute(0, 3, 1, 2).to(self.device)
        state = ts.state[rows] * np.asarray(norm.state.std) + np.asarray(norm.state.mean)
        out["observation.state"] = torch.from_numpy(state.astype(np.float32)).to(self.device)
        out["task"] = [ts.texts[i] for i in ts.instruction_id[rows]]
        return out

    def predict_chunk(self, ts, rows, normalization, chunk_length: int) -> np.ndarray:
        """(len(rows), T, D) normalised teacher chunks."""
        import torch

        from vla_lite.calib.stats import normalize_actions, to_normalization

        norm = to_normalization(normalization) if isinstance(normalization, dict) else normalization
        with torch.no_grad():
            chunk = self.post(self.policy.predict_action_chunk(self.pre(self.batch(ts, rows, norm))))
        chunk = np.asarray(chunk.detach().cpu().numpy() if hasattr(chunk, "detach") else chunk, np.float64)
        if chunk.ndim != 3 or chunk.shape[1] < chunk_length or chunk.shape[2] != ts.actions.shape[2]:
            raise ValueError(f"LeRobot teacher {self.path} gives chunks of shape {chunk.shape}; the student needs "
                             f"(B, >= {chunk_length}, {ts.actions.shape[2]})")
        return normalize_actions(chunk[:, :chunk_length], norm.action).astype(np.float32)

    def targets(self, ts, normalization, chunk_length: int, batch: int = 32):
        """fit.TeacherTargets: the teacher's normalised chunk for every TrainSet row, `batch` rows at a time."""
        from ..fit import TeacherTargets

        rows = np.arange(len(ts))
        return TeacherTargets(np.concatenate([self.predict_chunk(ts, rows[i:i + batch], normalization, chunk_length)
                                              for i in range(0, len(rows), batch)]))
