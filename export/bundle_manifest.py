"""The manifest an export writes (docs/BUNDLE.md), from what the checkpoint says of its training data (names,
units, limits, rate, normalisation, instructions) and where it came from (teacher, data, checkpoint hash, commit)."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np

from vla_lite.bundle.camera_spec import camera_to_dict
from vla_lite.calibration_contract import PROVENANCE_KEY

# A recording's unit -> the bundle's (docs/BUNDLE.md): a 0..1 fraction (a calibrated servo arm's gripper, as the
# SO-101 recorder wrote it before it wrote "1") is the dimensionless "1".
BUNDLE_UNIT = {"fraction": "1"}


def bundle_units(units, n: int) -> list[str]:
    """A recording's units in the bundle's words; "1" for each of n values when the data declared none."""
    return [BUNDLE_UNIT.get(u, u) for u in units] if units else ["1"] * n


def build_manifest(ckpt, text, name: str, graphs: dict, calib: dict) -> dict:
    """The manifest from what the checkpoint says of its training data (names, units, limits, rate), falling back
    to the calibration data's report for what an older checkpoint does not carry."""
    train, cfg = ckpt.train, ckpt.config
    data = {**calib, **{k: v for k, v in (train.get("data") or {}).items() if v}}
    info = data.get("info") or {}
    state_names = data.get("state_names") or [f"state_{i}" for i in range(cfg.state_dim)]
    action_names = data.get("action_names") or [f"action_{i}" for i in range(cfg.action_dim)]
    action_units = bundle_units(data.get("action_units"), cfg.action_dim)
    low, high = info.get("action_low"), info.get("action_high")
    if low is None or high is None:  # no declared limits: what the demonstrations did, widened by 5 %
        q01, q99 = np.array(ckpt.normalization["action"]["q01"]), np.array(ckpt.normalization["action"]["q99"])
        span = np.maximum(q99 - q01, 1e-3)
        low, high = (q01 - 0.05 * span).tolist(), (q99 + 0.05 * span).tolist()
    return {
        "schema": 1, "name": name,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        # with the record of the training camera (its captured size; the intrinsics its frames were undistorted
        # with, whose camera source is made portable as provenance is)
        "cameras": [portable(camera_to_dict(c)) for c in ckpt.cameras],
        "state": {"names": state_names, "units": bundle_units(data.get("state_units"), cfg.state_dim)},
        # The phrasings trained on, for grounding unseen ones at run time (vla_lite.text.grounding); checkpoints
        # from before this was recorded have none, and their bundles pass instructions through.
        "instruction": {**text.manifest_entry(),
                        **({"known": sorted(set(train["instructions"]))} if train.get("instructions") else {})},
        "action": {"mode": info.get("action_mode", "joint_position"), "dim": cfg.action_dim, "names": action_names,
                   "units": action_units, "low": list(low), "high": list(high)},
        "chunk": {"length": cfg.chunk_length, "replan_every": int(train.get("replan_every", cfg.chunk_length))},
        "control": {"rate_hz": float(train["rate_hz"])},
        "normalization": ckpt.normalization,
        "graphs": graphs,
        "provenance": portable({
            "trained": True, "role": ckpt.role, "teacher": train.get("teacher"), "data": data.get("paths"),
            "calibration": calib.get("paths"), "checkpoint": ckpt.path.name, "checkpoint_sha256": _sha256(ckpt.path),
            "training_commit": _git_commit(),
            "text_encoder": {**{k: text.info.get(k) for k in ("variant", "bytes", "max_tokens")},
                             **({"pruned": text.info["pruned"]} if "pruned" in text.info else {})},
            "model": {"size": train.get("size"), "config": json.loads(cfg.to_json())},
            "dagger": train.get("dagger"),
            # the arm calibration the training episodes were recorded with (vla_lite.calibration_contract)
            **({PROVENANCE_KEY: train["data"][PROVENANCE_KEY]} if (train.get("data") or {}).get(PROVENANCE_KEY)
               else {})}),
        "members": {},
    }


_ABSOLUTE = re.compile(r"^(/|~|[A-Za-z]:[\\/]|\\\\)")  # POSIX, home, Windows drive, UNC


def portable(value):
    """Provenance without the build machine's paths: every absolute path in it (at any depth) becomes its last
    component and the start of the SHA-256 of the whole path, `demos@sha256:0123456789ab` (two bundles built from
    the same folder still say so; the folder's location is not shipped). Relative paths stay as written."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v) for v in value]
    if isinstance(value, str) and _ABSOLUTE.match(value):
        name = re.split(r"[\\/]", value.rstrip("/\\"))[-1] or "root"
        return f"{name}@sha256:{hashlib.sha256(value.encode()).hexdigest()[:12]}"
    return value


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
