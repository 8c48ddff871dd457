"""vla-lite's own recordings (`vla-lite run --record DIR`, vla_lite/recording/FORMAT.md) as EpisodeData.

Built on `vla_lite.recording.read_episode`, which checks the files; this module only maps its arrays:
state <- ticks[state key] ("state": what the policy saw, or "measured"), actions <- ticks[action key]
("commanded": what was sent after safety, or "predicted"), timestamps <- the control step over the recorded rate
(the loop ticks on absolute deadlines, so a row's time is its step's deadline; `t_s` is when the tick actually ran,
and its scheduling jitter, `meta["tick_jitter_ms"]`, is not a synchronisation error; a step gap, a tick that
was not recorded, still is), fps <- the recorded rate. A null vector becomes a NaN row, which the synchronisation check reports.

Leading ticks are skipped: a run's first tick(s) come before the arm's first state and the camera's first frame
(the loop holds with "no fresh arm state"), so rows start at the first tick with a finite state, a finite action
and a frame from every camera (FORMAT.md, "Reading for training"); `meta["leading_ticks_skipped"]` counts them.
Later gaps stay in and are reported by the synchronisation check.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .base import DatasetReader
from .episode import DatasetError, EpisodeData, FrameSequence, KeyMap

VECTORS = ("state", "measured", "predicted", "commanded")


class RecordingDataset(DatasetReader):
    """Episodes under a recording folder, in number order; `.partial` ones (crashed) only if asked."""
    format = "vla-lite-recording"

    def __init__(self, root: str | os.PathLike, keys: KeyMap | None = None, include_partial: bool = False):
        from vla_lite.recording import list_episodes

        self.path, self.keys = Path(root), keys or KeyMap()
        self.state_key = (self.keys.state or ("state",))
        self.action_key = self.keys.action or "commanded"
        for k in (*self.state_key, self.action_key):
            if k not in VECTORS:
                raise DatasetError(f"{self.path}: key {k!r} is not a recorded vector; expected one of {list(VECTORS)}")
        try:
            self.paths = list_episodes(self.path, include_partial=include_partial)
        except FileNotFoundError as exc:
            raise DatasetError(str(exc)) from None
        if not self.paths:
            raise DatasetError(f"{self.path}: no finished episode folders (episode_NNNNNN/) found"
                               + ("" if include_partial else "; pass include_partial=True to read crashed ones"))

    def __len__(self) -> int:
        return len(self.paths)

    def indices(self) -> list[int]:
        from vla_lite.recording.format import parse_episode_dir

        return [parse_episode_dir(p.name)[0] for p in self.paths]

    def lengths(self) -> list[int]:
        out = []
        for p in self.paths:
            try:
                meta = json.loads((p / "meta.json").read_text())
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{p}/meta.json: not readable JSON ({exc})") from None
            out.append(int(meta["ticks"]) if isinstance(meta.get("ticks"), int) else _count_lines(p))
        return out

    def episode(self, i: int) -> EpisodeData:
        from vla_lite.recording import EpisodeCorrupt, read_episode

        path = self.paths[self._position(i)]
        try:
            rec = read_episode(path)
        except EpisodeCorrupt as exc:
            raise DatasetError(f"{path}: {exc}") from None
        m, ticks = rec.meta, rec.ticks
        # Demonstrations name their label (`vla-lite demo-data` and DAgger rounds learn the expert's `predicted`
        # label, not the noisy action executed); a robot run learns what was commanded.
        action_key = self.keys.action or m.get("info", {}).get("label_field") or self.action_key
        if action_key not in VECTORS:
            raise DatasetError(f"{path}: label field {action_key!r} is not one of {list(VECTORS)}")
        cameras = self.keys.pick_cameras({c: c for c in rec.cameras}, str(path))
        state = np.concatenate([ticks[k] for k in self.state_key], axis=1)  # (N, S), NaN where null
        skip = first_usable_tick(state, ticks[action_key], [ticks["frames"][k] for k in cameras.values()])
        state, actions, t_s = state[skip:], ticks[action_key][skip:], ticks["t_s"][skip:]
        rate_hz = float(m["rate_hz"])
        step_s = (ticks["step"][skip:] - ticks["step"][skip]) / rate_hz if len(t_s) else t_s  # (N,) deadlines
        frames = {camera: _tick_frames(rec, key, skip, f"{path} camera {key!r}") for camera, key in cameras.items()}
        # Row of the first tick of each instruction (instruction_steps are control steps, rows count ticks); an
        # instruction that began in the skipped ticks applies from row 0, and so does one with no step at all (an
        # episode that ended before its first tick, as when a run stops right after an episode reset).
        steps = list(ticks["step"][skip:])
        first_step = steps[0] if steps else 0
        changes = [[t, steps.index(s) if s in steps else 0] for t, s in zip(rec.instructions, rec.instruction_steps)
                   if s is None or s in steps or s <= first_step]
        changes = [c for j, c in enumerate(changes) if j + 1 == len(changes) or changes[j + 1][1] > c[1]]
        parts = [_names(m, k, ticks[k].shape[1]) for k in self.state_key]
        state_names = None if None in parts else [n for p in parts for n in p]
        meta = {"format": self.format, "path": str(path), "finished": rec.finished,
                "state_names": state_names,
                "action_names": _names(m, action_key, ticks[action_key].shape[1]), "label_field": action_key,
                "state_units": (m.get("state") or {}).get("units"), "action_units": (m.get("action") or {}).get("units"),
                "ended": m.get("ended"), "ticks_dropped": m.get("ticks_dropped", 0), "info": m.get("info", {}),
                "leading_ticks_skipped": skip, "timestamps": "control step / rate_hz",
                "tick_jitter_ms": round(float(np.abs(t_s - t_s[0] - step_s).max()) * 1e3, 3) if len(t_s) else None}
        if len(changes) > 1:
            meta["instructions"] = changes
        if rec.finished and isinstance(m.get("ticks"), int):
            meta["expected_rows"] = m["ticks"] - skip
        if rec.truncated:
            meta["truncated_tick_lines"] = rec.truncated.tick_lines
        instruction = changes[0][0] if changes else rec.instructions[0]
        return EpisodeData(source=str(self.path), index=int(m.get("episode", i)), instruction=instruction,
                           fps=rate_hz, state=state, actions=actions, timestamps=step_s, frames=frames,
                           success=m.get("success"), meta=meta)


def first_usable_tick(state: np.ndarray, actions: np.ndarray, frame_numbers: list[np.ndarray]) -> int:
    """Index of the first tick with a finite state, a finite action and a stored frame from every camera (the
    number of ticks when none has all three)."""
    ok = np.isfinite(state).all(axis=1) & np.isfinite(actions).all(axis=1)
    for numbers in frame_numbers:
        ok &= numbers >= 0
    hits = np.flatnonzero(ok)
    return int(hits[0]) if len(hits) else len(ok)


def _tick_frames(rec, camera: str, skip: int, describe: str) -> FrameSequence:
    """Per tick from tick `skip` on, the stored frame it saw; a tick that saw none (dropped) gets the newest earlier
    frame (or the first later one) and is marked in `missing`."""
    numbers = rec.ticks["frames"][camera][skip:]  # (N,) stored frame numbers, -1 where none
    missing = numbers < 0
    have = np.flatnonzero(~missing)
    if len(have):
        # forward fill, then back fill the rows before the first frame
        filled = numbers[np.maximum.accumulate(np.where(missing, 0, np.arange(len(numbers))))]
        filled[:have[0]] = numbers[have[0]]
    else:
        filled = numbers

    def get(i: int) -> np.ndarray:
        if filled[i] < 0:
            raise DatasetError(f"{describe}: no frame was stored for any tick of this episode")
        return rec.frame(camera, int(filled[i]))

    storage = {"file": str(rec.path / f"{camera}.{'pngs' if rec.meta.get('image_format') == 'png' else 'mjpeg'}"),
               "codec": "png" if rec.meta.get("image_format") == "png" else "mjpeg"}
    return FrameSequence(len(numbers), get, missing=missing if missing.any() else None, describe=describe,
                         storage=storage)


def _names(meta: dict, key: str, width: int) -> list[str] | None:
    section = {"state": "state", "measured": "measured", "predicted": "action", "commanded": "action"}[key]
    names = (meta.get(section) or {}).get("names")
    return list(names) if isinstance(names, list) and len(names) == width else None


def _count_lines(path: Path) -> int:
    ticks = path / "ticks.jsonl"
    return ticks.read_bytes().count(b"\n") if ticks.exists() else 0
