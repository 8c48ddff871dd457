"""Where the LeRobot-written datasets are (shared/fixtures/lerobot, written by LeRobot itself; see its README).

The project's checkouts sit beside `shared/` (CI clones the repository next to a copy of it; a developer's worktree
may sit deeper), so the folder is looked for beside the repository root and above it; VLA_LITE_LEROBOT_FIXTURES
names it explicitly. Missing fixtures fail the tests that need them: they are what proves the readers against
LeRobot's own files.
"""

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def fixtures_dir() -> Path:
    named = os.environ.get("VLA_LITE_LEROBOT_FIXTURES")
    candidates = [Path(named)] if named else [p / "shared" / "fixtures" / "lerobot" for p in ROOT.parents]
    for c in candidates:
        if (c / "lr061_v30_video.truth.npz").is_file():
            return c
    pytest.fail(f"LeRobot fixtures not found (looked for shared/fixtures/lerobot above {ROOT}"
                + (f" and in {named}" if named else "") + "); set VLA_LITE_LEROBOT_FIXTURES")


def truth() -> dict:
    """What LeRobot was given: frames (3, 40, 96, 96, 3) uint8, state/action (3, 40, 6) float32, task (3,)."""
    with np.load(fixtures_dir() / "lr061_v30_video.truth.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))
