"""Reading and writing the calibration JSON files: errors that name the file, writes a reader never sees half of."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .errors import CalibrationFileError


def read_json(path: str | os.PathLike, what: str, parse: Callable[[Any], Any], missing_hint: str = ""):
    """parse(the file's JSON); CalibrationFileError naming the file when it is absent, not JSON, or parse fails."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise CalibrationFileError(f"{what} {str(path)!r} does not exist{missing_hint}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationFileError(f"{str(path)!r} is not JSON: {exc}") from None
    try:
        return parse(d)
    except CalibrationFileError as exc:
        raise CalibrationFileError(f"{str(path)!r}: {exc}") from None


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a reader never sees half a file
    return path


def utc_now_iso() -> str:
    """When a file was made, for people and provenance (never used to measure durations)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
