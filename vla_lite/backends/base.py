"""The policy interface every inference backend implements, and the graph signature a manifest implies.

    policy.infer(images, state, instruction) -> (T, D) float32 normalised action chunk

`images` maps camera name (or the graph input name `image_<camera>`) to a (1, H, W, 3) float32 array already
preprocessed per the manifest; `state` is (1, S) normalised; `instruction` is (1, E). Shapes are checked on every
call (cheap) so a wrong observation raises instead of running.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..bundle.manifest import Manifest


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


class Policy(Protocol):
    name: str  # e.g. "onnx-fp32"
    input_spec: dict[str, TensorSpec]  # graph input name -> what it must receive
    output_spec: TensorSpec  # actions, (1, T, D)

    def infer(self, images: dict[str, np.ndarray], state: np.ndarray, instruction: np.ndarray) -> np.ndarray:
        """One forward pass: (T, D) float32 actions in normalised units (Bundle.denormalize_actions maps back)."""

    def warmup(self, n: int = 3) -> None:
        """Run n inferences on neutral inputs so the first real one is not slow (allocations, kernel choice)."""


def expected_io(manifest: Manifest) -> tuple[dict[str, TensorSpec], TensorSpec]:
    """The policy graph signature docs/BUNDLE.md requires for this manifest (batch 1, static shapes)."""
    inputs = {c.input_name: TensorSpec(c.input_name, (1, c.height, c.width, 3)) for c in manifest.cameras}
    inputs["state"] = TensorSpec("state", (1, manifest.state.dim))
    inputs["instruction"] = TensorSpec("instruction", (1, manifest.instruction.embedding_dim))
    return inputs, TensorSpec("actions", (1, manifest.chunk.length, manifest.action.dim))


class PolicyBase:
    """Shared input/output checking; a backend implements `_run(feeds) -> (1, T, D) array`."""

    name: str

    def __init__(self, manifest: Manifest, name: str):
        self.name = name
        self.manifest = manifest
        self.input_spec, self.output_spec = expected_io(manifest)
        self._cameras = [c.name for c in manifest.cameras]

    def infer(self, images: dict[str, np.ndarray], state: np.ndarray, instruction: np.ndarray) -> np.ndarray:
        out = self._run(self._feeds(images, state, instruction))
        out = np.asarray(out)
        if out.shape != self.output_spec.shape:
            raise ValueError(f"{self.name}: graph returned actions of shape {out.shape}; expected "
                             f"{self.output_spec.shape}")
        return out.reshape(self.output_spec.shape[1:]).astype(np.float32, copy=True)

    def warmup(self, n: int = 3) -> None:
        if n < 0:
            raise ValueError(f"warm-up count must be >= 0, got {n}")
        images = {c: np.zeros(self.input_spec[f"image_{c}"].shape, np.float32) for c in self._cameras}
        state = np.zeros(self.input_spec["state"].shape, np.float32)
        instruction = np.zeros(self.input_spec["instruction"].shape, np.float32)
        for _ in range(n):
            self.infer(images, state, instruction)

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _feeds(self, images, state, instruction) -> dict[str, np.ndarray]:
        """Graph input name -> contiguous float32 array of exactly the spec's shape."""
        if not isinstance(images, dict):
            raise TypeError(f"images must be a dict of camera name -> array, got {type(images).__name__}")
        known = set(self._cameras) | {f"image_{c}" for c in self._cameras}
        unknown = sorted(set(images) - known)
        if unknown:
            raise ValueError(f"{self.name}: images has unknown camera(s) {unknown}; the bundle's cameras are "
                             f"{self._cameras}")
        feeds = {}
        for cam in self._cameras:
            key = f"image_{cam}"
            if cam in images and key in images:
                raise ValueError(f"{self.name}: camera {cam!r} given twice (as {cam!r} and {key!r})")
            if cam not in images and key not in images:
                raise ValueError(f"{self.name}: no image for camera {cam!r}; expected images[{cam!r}] of shape "
                                 f"{self.input_spec[key].shape}")
            feeds[key] = self._as_input(images[cam] if cam in images else images[key], key)
        feeds["state"] = self._as_input(state, "state")
        feeds["instruction"] = self._as_input(instruction, "instruction")
        return feeds

    def _as_input(self, x, key: str) -> np.ndarray:
        spec = self.input_spec[key]
        x = np.asarray(x)
        # A missing leading batch axis of 1 is accepted; any other difference is an error.
        if x.shape != spec.shape and x.shape != spec.shape[1:]:
            raise ValueError(f"{self.name}: input {key!r} has shape {x.shape}; expected {spec.shape}")
        # Integers are refused: a uint8 camera frame passed unpreprocessed would run with pixels in 0..255.
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"{self.name}: input {key!r} has dtype {x.dtype}; expected float32 (images "
                             "preprocessed to the manifest's pixel_range)")
        return np.ascontiguousarray(x, dtype=np.float32).reshape(spec.shape)
