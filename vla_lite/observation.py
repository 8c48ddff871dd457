"""One observation in the shape the policy graph expects (docs/BUNDLE.md): images, normalised state, instruction."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Observation(NamedTuple):
    images: dict[str, np.ndarray]  # camera name -> (1, H, W, 3) float32, preprocessed per the manifest
    state: np.ndarray  # (1, S) float32, normalised
    instruction: np.ndarray  # (1, E) float32 embedding
    step: int  # control step at which it was taken (inference delay is counted from here)
    t_capture_s: float  # oldest camera capture time in it, monotonic s (camera-to-command latency starts here)


def state_vector(position, names_in_manifest, names_on_arm) -> np.ndarray:
    """Reorder the controller's joint positions into the manifest's state order (refuses unknown names)."""
    index = {n: i for i, n in enumerate(names_on_arm)}
    missing = [n for n in names_in_manifest if n not in index]
    if missing:
        raise ValueError(f"the bundle's state needs joints {missing} that the controller does not report "
                         f"(controller joints: {list(names_on_arm)})")
    return np.asarray([position[index[n]] for n in names_in_manifest], dtype=np.float32)
