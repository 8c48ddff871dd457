"""Readers for one JSON value at a dotted manifest path: each checks type and range and names the path on failure.

Pure functions over parsed JSON; they raise ManifestInvalid with messages like
"normalization.action.std has 2 entries, expected 3 (action.dim)".
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

from .errors import ManifestInvalid

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def obj(value: Any, path: str, required: Iterable[str], optional: Iterable[str] = ()) -> dict:
    """A JSON object with exactly these keys (the optional ones may be absent). Unknown keys are refused: they
    are usually typos ("normalisation") that would otherwise be silently ignored."""
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{path} must be an object, got {_kind(value)} {_short(value)}")
    required, optional = list(required), list(optional)
    missing = [k for k in required if k not in value]
    if missing:
        raise ManifestInvalid(f"{path} is missing required field(s) {missing}; expected fields {required}")
    unknown = [k for k in value if k not in required and k not in optional]
    if unknown:
        raise ManifestInvalid(f"{path} has unknown field(s) {unknown}; expected only {required + optional}")
    return value


def string(value: Any, path: str, choices: Iterable[str] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise ManifestInvalid(f"{path} must be a non-empty string, got {_kind(value)} {_short(value)}")
    if choices is not None and value not in (choices := tuple(choices)):
        raise ManifestInvalid(f"{path} is {value!r}; expected one of {list(choices)}")
    return value


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ManifestInvalid(f"{path} must be true or false, got {_kind(value)} {_short(value)}")
    return value


def integer(value: Any, path: str, lo: int | None = None, hi: int | None = None) -> int:
    # bool is an int subclass in Python; `true` is not a valid size.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestInvalid(f"{path} must be an integer, got {_kind(value)} {_short(value)}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ManifestInvalid(f"{path} is {value}; expected an integer in [{lo}, {hi if hi is not None else '∞'}]")
    return value


def number(value: Any, path: str, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ManifestInvalid(f"{path} must be a finite number, got {_kind(value)} {_short(value)}")
    value = float(value)
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise ManifestInvalid(f"{path} is {value}; expected {'>' if lo_open else '>='} {lo}")
    if hi is not None and value > hi:
        raise ManifestInvalid(f"{path} is {value}; expected <= {hi}")
    return value


def vector(value: Any, path: str, n: int, n_from: str, item=number) -> tuple:
    """A list of exactly n items (n taken from the field named by n_from, quoted in the error)."""
    if not isinstance(value, list):
        raise ManifestInvalid(f"{path} must be a list of {n} entries ({n_from}), got {_kind(value)} {_short(value)}")
    if len(value) != n:
        raise ManifestInvalid(f"{path} has {len(value)} entries, expected {n} ({n_from})")
    return tuple(item(v, f"{path}[{i}]") for i, v in enumerate(value))


def names(value: Any, path: str, n: int | None = None, n_from: str = "") -> tuple[str, ...]:
    """A non-empty list of distinct non-empty strings."""
    if not isinstance(value, list) or not value:
        raise ManifestInvalid(f"{path} must be a non-empty list of names, got {_kind(value)} {_short(value)}")
    out = vector(value, path, len(value) if n is None else n, n_from or "its own length", string)
    dup = sorted({x for x in out if out.count(x) > 1})
    if dup:
        raise ManifestInvalid(f"{path} repeats {dup}; names must be distinct")
    return out


def sha256_hex(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise ManifestInvalid(f"{path} must be a SHA-256 as 64 lowercase hex digits, got {_short(value)}")
    return value


def member_name(value: Any, path: str) -> str:
    """A relative POSIX path inside the archive: no leading '/', no '..', no backslash, not manifest.json."""
    name = string(value, path)
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts) or name == "manifest.json":
        raise ManifestInvalid(f"{path} is {name!r}; expected a relative path such as 'policy/fp32.onnx' "
                              "(no leading '/', '..', '\\\\' or empty parts, and not 'manifest.json')")
    return name


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "integer", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
