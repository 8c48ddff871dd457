"""The model bundles that ship with vla-lite, found by name: package data in vla_lite/data/models/.

    demo                the tabletop demo policy `vla-lite run --port sim` uses by default
    mt10-student-int8   the Meta-World MT10 student (its card: vla_lite/data/models/mt10-student-int8.md)

Wherever a bundle path is taken (`--model`, `vla-lite eval|info|bench BUNDLE`), a shipped model's name works too,
so the commands in the README work the same from a checkout and from an installed wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

MODELS_DIR = Path(__file__).parent / "data" / "models"
SUFFIX = ".vla"
DEMO = "demo"


def names() -> list[str]:
    """The shipped models' names."""
    return sorted(p.stem for p in MODELS_DIR.glob(f"*{SUFFIX}"))


def model_path(name: str) -> Path:
    """The bundle of a shipped model; ValueError naming the known ones."""
    path = MODELS_DIR / f"{name}{SUFFIX}"
    if not path.is_file():
        raise ValueError(f"no shipped model {name!r}; shipped: {names()}")
    return path


def resolve(model: str | os.PathLike | None) -> Path:
    """A bundle path from what a user gave: None -> the demo model; an existing file -> itself; a shipped
    model's name -> its bundle; anything else -> itself (loading it then names the missing file)."""
    if model is None or str(model) == "":
        return model_path(DEMO)
    path = Path(model)
    if not path.exists() and str(model) in names():
        return model_path(str(model))
    return path


DEMO_BUNDLE = MODELS_DIR / f"{DEMO}{SUFFIX}"
