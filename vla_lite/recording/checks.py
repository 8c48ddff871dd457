"""Argument checks for the recorder: each names the bad value and what was expected. Pure, no I/O."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ..text.normalize import InstructionRefused, check_instruction
from . import format as fmt
from .files import dumps

_NUMBER = (int, float, np.integer, np.floating)


def camera_sizes(cameras: Mapping) -> dict[str, tuple[int, int]]:
    out = {}
    for name, hw in dict(cameras).items():
        fmt.check_camera_name(name)
        if not (isinstance(hw, (tuple, list)) and len(hw) == 2 and all(
                isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 8192 for x in hw)):
            raise ValueError(f"camera {name!r}: size must be (height, width) integers 1-8192, got {hw!r}")
        out[name] = (int(hw[0]), int(hw[1]))
    return out


def options(rate_hz, image_format, quality, fsync_period_s, end_timeout_s, max_queued_frames,
            max_queued_ticks, block_when_full) -> None:
    if isinstance(rate_hz, bool) or not isinstance(rate_hz, _NUMBER) or not 0 < rate_hz <= 1000:
        raise ValueError(f"rate_hz must be in (0, 1000] Hz, got {rate_hz!r}")
    if image_format not in fmt.IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {sorted(fmt.IMAGE_FORMATS)}, got {image_format!r}")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer 1-100 (JPEG quality), got {quality!r}")
    for name, value in (("fsync_period_s", fsync_period_s), ("end_timeout_s", end_timeout_s)):
        if isinstance(value, bool) or not isinstance(value, _NUMBER) or not value > 0:
            raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
    for name, value in (("max_queued_frames", max_queued_frames), ("max_queued_ticks", max_queued_ticks)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if block_when_full and value == 0:
            raise ValueError(f"{name} must be >= 1 with block_when_full=True (0 would wait forever)")


def text(value, what: str = "instruction") -> str:
    """Checked here, in the caller's thread, so that the writer thread never meets text it cannot write (a lone
    surrogate from non-UTF-8 bytes once ended a whole run): an instruction passes vla_lite.text's check, the one
    every input uses; other text must be encodable as UTF-8."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    try:
        if what == "instruction":
            check_instruction(value)
        else:
            value.encode("utf-8")
    except (InstructionRefused, UnicodeEncodeError) as exc:
        raise ValueError(f"{what} cannot be recorded: {exc}") from None
    return value


def json_object(what: str, obj: dict) -> dict:
    try:
        dumps(obj).encode("utf-8")  # UnicodeEncodeError (a ValueError): a lone surrogate somewhere
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable with finite numbers: {exc}") from None
    return obj


def tick_scalars(step, last_step, t_s, held, inferred, reason, timing_ms, faults) -> None:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be an integer >= 0, got {step!r}")
    if last_step is not None and step <= last_step:
        raise ValueError(f"step must increase within an episode: got {step} after {last_step}")
    if isinstance(t_s, bool) or not isinstance(t_s, _NUMBER) or not math.isfinite(t_s):
        raise ValueError(f"t_s must be a finite time in seconds, got {t_s!r}")
    if not isinstance(held, (bool, np.bool_)) or not isinstance(inferred, (bool, np.bool_)):
        raise ValueError(f"held and inferred must be booleans, got held={held!r}, inferred={inferred!r}")
    if reason is not None and not isinstance(reason, str):
        raise ValueError(f"reason must be a string or None, got {reason!r}")
    if not isinstance(faults, (list, tuple)) or not all(isinstance(f, str) for f in faults):
        raise ValueError(f"faults must be a list of strings, got {faults!r}")
    if not isinstance(timing_ms, Mapping) or not all(
            isinstance(k, str) and isinstance(v, _NUMBER) and not isinstance(v, bool) for k, v in timing_ms.items()):
        raise ValueError(f"timing_ms must map section names to milliseconds, got {timing_ms!r}")


def vector(what: str, v, n: int | None) -> np.ndarray | None:
    """A float64 1-D copy (NaN/Inf kept: they are recorded), or None; n checks the length when known."""
    if v is None:
        return None
    a = np.array(v, dtype=np.float64)
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        raise ValueError(f"{what} must be a 1-D vector of {n if n is not None else 'the same'} values "
                         f"(or None), got shape {a.shape}")
    return a


def image(camera: str, img, shape: tuple[int, int, int]) -> None:
    if not isinstance(img, np.ndarray) or img.shape != shape or img.dtype != np.uint8:
        got = (img.shape, img.dtype) if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f"camera {camera!r}: expected a {shape} uint8 RGB image, got {got}")
