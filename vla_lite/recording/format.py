"""The episode format's pure parts (FORMAT.md): names, numbering, and JSON that keeps NaN/Inf honest.

Nothing here touches the disk; `files.py` does the writing and `reader.py` the reading.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np

FORMAT_NAME = "vla-lite-episode"
FORMAT_VERSION = 1
META = "meta.json"
TICKS = "ticks.jsonl"
PARTIAL_SUFFIX = ".partial"
IMAGE_FORMATS = {"jpeg": ".mjpeg", "png": ".pngs"}  # image format -> stream file suffix

_EPISODE_RE = re.compile(r"^episode_(\d{6,})(\.partial)?$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")

# Non-finite values are written as these strings: the files stay strict JSON (allow_nan=False) and a NaN action,
# exactly the fault worth recording, survives the round trip.
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def episode_dir_name(number: int, partial: bool) -> str:
    return f"episode_{number:06d}" + (PARTIAL_SUFFIX if partial else "")


def parse_episode_dir(name: str) -> tuple[int, bool] | None:
    """'episode_000012.partial' -> (12, True); None for anything else."""
    m = _EPISODE_RE.match(name)
    return None if m is None else (int(m.group(1)), m.group(2) is not None)


def next_episode_number(names: Sequence[str]) -> int:
    """One more than the highest episode (finished or partial) among directory names; 1 for none."""
    numbers = [p[0] for p in map(parse_episode_dir, names) if p is not None]
    return max(numbers, default=0) + 1


def stream_file(camera: str, image_format: str) -> str:
    return camera + IMAGE_FORMATS[image_format]


def index_file(camera: str) -> str:
    return f"{camera}.idx.jsonl"


def check_names(what: str, names: Sequence[str]) -> tuple[str, ...]:
    """Distinct non-empty strings; returns them as a tuple."""
    names = tuple(names)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{what} names must be a non-empty list of non-empty strings, got {list(names)!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} names must be distinct, got {list(names)!r}")
    return names


def check_units(what: str, names: tuple[str, ...], units) -> tuple[str, ...]:
    """One unit string per name (e.g. 'rad', 'm', '1')."""
    if isinstance(units, str) or not isinstance(units, (list, tuple)) or len(units) != len(names) or not all(
            isinstance(u, str) and u for u in units):
        raise ValueError(f"{what} units must be {len(names)} non-empty strings, one per name {list(names)!r}, "
                         f"got {units!r}")
    return tuple(units)


def check_camera_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"camera name must be letters, digits or '_' (it names files), got {name!r}")
    return name


def episode_meta(number: int, instruction: str, rate_hz: float, image_format: str, quality: int,
                 cameras: dict[str, tuple[int, int]], state: tuple[tuple, tuple], action: tuple[tuple, tuple],
                 measured_names: tuple | None, start_clock_s: float, started_utc: str | None, info: dict) -> dict:
    """meta.json as written at the start of an episode (end_episode adds the outcome)."""
    return {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "episode": number, "finished": False,
        "instruction": instruction, "rate_hz": rate_hz, "image_format": image_format,
        "quality": quality if image_format == "jpeg" else None,
        "cameras": [{"name": n, "height": h, "width": w, "file": stream_file(n, image_format),
                     "index": index_file(n)} for n, (h, w) in cameras.items()],
        "state": {"names": list(state[0]), "units": list(state[1])},
        "action": {"names": list(action[0]), "units": list(action[1])},
        "measured": None if measured_names is None else {"names": list(measured_names)},
        "start_clock_s": encode_scalar(start_clock_s),
        "started_utc": started_utc,  # a label for people; timing uses the injected clock only
        "info": info,
    }


def encode_scalar(x: float) -> float | str:
    x = float(x)
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def encode_vector(v: np.ndarray | None) -> list | None:
    """float64 vector -> JSON list; non-finite entries become 'NaN' / 'Infinity' / '-Infinity'."""
    if v is None:
        return None
    if np.isfinite(v).all():
        return v.tolist()  # Python floats: json writes repr(), which reads back bit-exact
    return [encode_scalar(x) for x in v.tolist()]


def decode_scalar(x) -> float:
    if isinstance(x, str):
        if x not in NONFINITE:
            raise ValueError(f"expected a number or one of {sorted(NONFINITE)}, got {x!r}")
        return NONFINITE[x]
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"expected a number, got {x!r}")
    return float(x)


def decode_vector(v) -> list[float] | None:
    if v is None:
        return None
    if not isinstance(v, list):
        raise ValueError(f"expected a list of numbers or null, got {v!r}")
    return [decode_scalar(x) for x in v]
