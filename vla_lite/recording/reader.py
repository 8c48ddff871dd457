"""Read recorded episodes (FORMAT.md): tick rows as numpy arrays, frames decoded on demand (OpenCV).

A finished episode (`episode_NNNNNN/`) must be intact: any disagreement raises EpisodeCorrupt. A `.partial` one
(the recorder was killed) reads up to its last intact tick and frame, and `truncated` says what was cut off.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from . import format as fmt
from .codec import decode_frame

_VECTORS = ("state", "measured", "predicted", "commanded")
_KEYS = {"step", "t_s", *_VECTORS, "held", "reason", "inferred", "timing_ms", "faults", "instruction", "frames"}


class EpisodeCorrupt(ValueError):
    """The files contradict the format or their own meta.json (the message names the file and the problem)."""


@dataclass
class Truncation:
    """What a partial episode lost at its end (all zero for a finished one)."""
    tick_lines: int = 0  # torn or unreadable lines at the end of ticks.jsonl
    ticks_without_frames: int = 0  # intact rows cut because a frame they refer to is not intact
    frames: dict = field(default_factory=dict)  # camera -> torn index lines / frames past the stream's end

    def __bool__(self) -> bool:
        return bool(self.tick_lines or self.ticks_without_frames or any(self.frames.values()))


def list_episodes(root: str | os.PathLike, include_partial: bool = False) -> list[Path]:
    """Episode folders under root in number order; `.partial` ones only if asked."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"recording folder {root} does not exist")
    found = []
    for p in root.iterdir():
        parsed = fmt.parse_episode_dir(p.name)
        if parsed is not None and p.is_dir() and (include_partial or not parsed[1]):
            found.append((parsed, p))
    return [p for _, p in sorted(found)]


def _loads(text, where: str):
    def refuse(const):
        raise ValueError(f"non-standard JSON constant {const}")
    try:
        return json.loads(text, parse_constant=refuse)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EpisodeCorrupt(f"{where}: not valid JSON ({exc})") from None


def _lines(path: Path, strict: bool, parse) -> tuple[list, int]:
    """Parsed intact lines and how many were lost. strict: any bad line raises instead."""
    if not strict and not path.exists():
        return [], 0  # killed before the writer opened this file: nothing recorded in it
    lines = path.read_bytes().split(b"\n")
    tail = lines.pop()  # bytes after the last newline: a torn write
    out = []
    for i, line in enumerate(lines):
        try:
            out.append(parse(_loads(line, f"{path} line {i + 1}"), f"{path} line {i + 1}"))
        except (EpisodeCorrupt, ValueError, TypeError, KeyError) as exc:
            if strict:
                raise EpisodeCorrupt(exc if isinstance(exc, EpisodeCorrupt) else
                                     f"{path} line {i + 1}: {type(exc).__name__}: {exc}") from None
            return out, len(lines) - i + bool(tail)
    if tail and strict:
        raise EpisodeCorrupt(f"{path}: last line is torn (no newline) in a finished episode")
    return out, int(bool(tail))


class RecordedEpisode:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        parsed = fmt.parse_episode_dir(self.path.name)
        if parsed is None or not self.path.is_dir():
            raise FileNotFoundError(f"{self.path} is not an episode folder (expected episode_NNNNNN[.partial]/)")
        self.finished = not parsed[1]
        meta_path = self.path / fmt.META
        if not meta_path.is_file():
            raise EpisodeCorrupt(f"{meta_path} is missing" + ("" if self.finished else
                                 " (the recorder stopped before its writer started the episode: nothing recorded)"))
        self.meta = m = _loads(meta_path.read_bytes(), str(meta_path))
        if m.get("format") != fmt.FORMAT_NAME or m.get("version") != fmt.FORMAT_VERSION:
            raise EpisodeCorrupt(f"{meta_path}: format {m.get('format')!r} version {m.get('version')!r}; this "
                                 f"reader understands {fmt.FORMAT_NAME!r} version {fmt.FORMAT_VERSION}")
        missing = [k for k in ("instruction", "cameras", "state", "action") if k not in m]
        if missing:
            raise EpisodeCorrupt(f"{meta_path}: missing {missing}")
        if self.finished and m.get("finished") is not True:
            raise EpisodeCorrupt(f"{meta_path}: folder is finished but meta.json has no outcome (finished=false)")
        self.cameras = {c["name"]: c for c in m["cameras"]}
        self.truncated = Truncation()
        self._index = {c: self._read_index(c) for c in self.cameras}
        rows = self._read_rows()
        self.ticks = self._arrays(rows)

    # --- frames --------------------------------------------------------------------------------------------

    def _read_index(self, camera: str) -> dict:
        cam = self.cameras[camera]
        stream = self.path / cam["file"]
        size = stream.stat().st_size if self.finished or stream.exists() else 0
        expect = {"frame": 0, "offset": 0}

        def parse(e, where):
            if e["frame"] != expect["frame"] or e["offset"] != expect["offset"] or not 0 < e["length"] or \
                    e["offset"] + e["length"] > size:
                raise EpisodeCorrupt(f"{where}: entry {e} does not continue frame {expect['frame']} at byte "
                                     f"{expect['offset']} within {cam['file']} ({size} bytes)")
            expect["frame"], expect["offset"] = e["frame"] + 1, e["offset"] + e["length"]
            return e["offset"], e["length"], e["index"], fmt.decode_scalar(e["t_capture_s"])

        entries, lost = _lines(self.path / cam["index"], self.finished, parse)
        self.truncated.frames[camera] = lost
        if self.finished and len(entries) != _count(self.meta, "frames", camera):
            raise EpisodeCorrupt(f"{self.path}: camera {camera!r} has {len(entries)} frames, meta.json says "
                                 f"{_count(self.meta, 'frames', camera)}")
        column = lambda j, dtype: np.array([e[j] for e in entries], dtype).reshape(len(entries))  # noqa: E731
        return {"offset": column(0, np.int64), "length": column(1, np.int64), "index": column(2, np.int64),
                "t_capture_s": column(3, np.float64)}

    def num_frames(self, camera: str) -> int:
        return len(self._cam(camera)["offset"])

    def frame_index(self, camera: str) -> dict[str, np.ndarray]:
        """Per stored frame: the camera's own frame `index` and `t_capture_s` (the recorder's clock)."""
        ix = self._cam(camera)
        return {"index": ix["index"], "t_capture_s": ix["t_capture_s"]}

    def frame(self, camera: str, i: int) -> np.ndarray:
        """Stored frame i of a camera: (H, W, 3) uint8 RGB."""
        ix = self._cam(camera)
        if not 0 <= i < len(ix["offset"]):
            raise IndexError(f"camera {camera!r} has {len(ix['offset'])} frames, no frame {i}")
        with open(self.path / self.cameras[camera]["file"], "rb") as f:
            return self._decode(camera, i, f)

    def frames(self, camera: str) -> Iterator[np.ndarray]:
        ix = self._cam(camera)
        if not len(ix["offset"]):
            return  # a partial episode may not even have the stream file
        with open(self.path / self.cameras[camera]["file"], "rb") as f:
            for i in range(len(ix["offset"])):
                yield self._decode(camera, i, f)

    def frame_for_tick(self, camera: str, tick: int) -> np.ndarray | None:
        """The frame the tick (row position 0..N-1) saw, or None if none was given or it was dropped."""
        self._cam(camera)
        n = self.ticks["frames"][camera]
        if not 0 <= tick < len(n):
            raise IndexError(f"episode has {len(n)} ticks, no tick {tick}")
        return None if n[tick] < 0 else self.frame(camera, int(n[tick]))

    def _cam(self, camera: str) -> dict:
        if camera not in self._index:
            raise ValueError(f"no camera {camera!r} in {self.path}; cameras: {list(self.cameras)}")
        return self._index[camera]

    def _decode(self, camera: str, i: int, f) -> np.ndarray:
        ix, cam = self._index[camera], self.cameras[camera]
        f.seek(int(ix["offset"][i]))
        image = decode_frame(f.read(int(ix["length"][i])))
        if image is None or image.shape != (cam["height"], cam["width"], 3):
            got = None if image is None else image.shape
            raise EpisodeCorrupt(f"{self.path / cam['file']}: frame {i} does not decode to "
                                 f"({cam['height']}, {cam['width']}, 3) (got {got})")
        return image

    # --- ticks ---------------------------------------------------------------------------------------------

    def _read_rows(self) -> list[dict]:
        m = self.meta
        sizes = {"state": len(m["state"]["names"]), "predicted": len(m["action"]["names"]),
                 "commanded": len(m["action"]["names"]),
                 "measured": None if m.get("measured") is None else len(m["measured"]["names"])}
        state = {"step": -1, "texts": []}

        def parse(row, where):
            if not isinstance(row, dict) or not _KEYS <= row.keys():
                raise EpisodeCorrupt(f"{where}: a tick row needs keys {sorted(_KEYS)}")
            if not isinstance(row["step"], int) or row["step"] <= state["step"]:
                raise EpisodeCorrupt(f"{where}: step {row['step']!r} does not follow {state['step']}")
            for key in _VECTORS:
                v = row[key] = fmt.decode_vector(row[key])
                if v is not None and sizes[key] is None:
                    sizes[key] = len(v)
                if v is not None and len(v) != sizes[key]:
                    raise EpisodeCorrupt(f"{where}: {key} has {len(v)} values, expected {sizes[key]}")
            k, texts = row["instruction"], state["texts"]
            if k == len(texts) and isinstance(row.get("instruction_text"), str):
                texts.append(row["instruction_text"])
            elif not (isinstance(k, int) and 0 <= k < len(texts)):
                raise EpisodeCorrupt(f"{where}: instruction index {k!r} with {len(texts)} known instructions")
            state["step"] = row["step"]
            return row

        rows, self.truncated.tick_lines = _lines(self.path / fmt.TICKS, self.finished, parse)
        self._sizes = sizes
        # Cut rows that refer to a frame that is not intact (a partial episode's last moments only).
        for n, row in enumerate(rows):
            bad = [c for c, k in row["frames"].items() if c not in self._index or (
                k is not None and not 0 <= k < len(self._index[c]["offset"]))]
            if bad:
                if self.finished:
                    raise EpisodeCorrupt(f"{self.path}: tick {row['step']} refers to missing frames of {bad}")
                self.truncated.ticks_without_frames = len(rows) - n
                rows = rows[:n]
                break
        # instructions[i] is the text of index i; instruction_steps[i] the first step it applied to.
        self.instructions = [r["instruction_text"] for r in rows if "instruction_text" in r] or [m["instruction"]]
        self.instruction_steps = [r["step"] for r in rows if "instruction_text" in r] or [None]
        if self.finished:
            if len(rows) != m.get("ticks"):
                raise EpisodeCorrupt(f"{self.path}: {len(rows)} tick rows, meta.json says {m.get('ticks')}")
            listed = [(i["text"], i["from_step"]) for i in m.get("instructions", [])]
            if listed != list(zip(self.instructions, self.instruction_steps)):
                raise EpisodeCorrupt(f"{self.path}: instructions in ticks {self.instructions} disagree with "
                                     f"meta.json {listed}")
        return rows

    def _arrays(self, rows: list[dict]) -> dict:
        n = len(rows)
        t = {"step": np.array([r["step"] for r in rows], np.int64).reshape(n),
             "t_s": np.array([fmt.decode_scalar(r["t_s"]) for r in rows], np.float64).reshape(n),
             "held": np.array([r["held"] for r in rows], bool).reshape(n),
             "inferred": np.array([r["inferred"] for r in rows], bool).reshape(n),
             "instruction": np.array([r["instruction"] for r in rows], np.int64).reshape(n)}
        for key in _VECTORS:
            width = self._sizes[key] or 0
            a = np.full((n, width), np.nan)
            present = np.zeros(n, bool)
            for i, r in enumerate(rows):
                if r[key] is not None:
                    a[i], present[i] = r[key], True
            t[key], t[key + "_present"] = a, present
        t["reason"] = _objects([r["reason"] for r in rows])
        t["faults"] = _objects([list(r["faults"]) for r in rows])
        sections = sorted({k for r in rows for k in r["timing_ms"]})
        t["timing_ms"] = {s: np.array([fmt.decode_scalar(r["timing_ms"].get(s, "NaN")) for r in rows], np.float64)
                          .reshape(n) for s in sections}
        t["frames"] = {c: np.array([-1 if r["frames"].get(c) is None else r["frames"][c] for r in rows], np.int64)
                       .reshape(n) for c in self.cameras}
        t["frames_dropped"] = {c: np.array([c in r.get("frames_dropped", ()) for r in rows], bool).reshape(n)
                               for c in self.cameras}
        return t

    def __len__(self) -> int:
        return len(self.ticks["step"])

    def __repr__(self) -> str:
        state = "finished" if self.finished else f"partial, truncated={self.truncated}"
        return f"RecordedEpisode({self.path.name}, {len(self)} ticks, {state})"


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _count(meta: dict, key: str, camera: str) -> int | None:
    return (meta.get(key) or {}).get(camera)


def read_episode(path: str | os.PathLike) -> RecordedEpisode:
    return RecordedEpisode(path)
