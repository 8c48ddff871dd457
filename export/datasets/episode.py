"""The one episode type every dataset reader yields, its lazy frame sequences, and the key mapping.

An episode holds its numeric rows in memory (small: N x (S + D) floats) and its camera frames lazily: a
`FrameSequence` decodes frame i only when asked, so a reader can stream a dataset of any size.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np


class DatasetError(ValueError):
    """A dataset is missing, malformed or not what was expected (the message names the path and the problem)."""


class FrameKind(enum.Enum):
    """What a FrameSequence yields: RGB camera images, or depth maps in millimetres (LeRobot's default unit)."""
    RGB = "rgb"  # (H, W, 3) uint8
    DEPTH_MM = "depth_mm"  # (H, W, 1) uint16 millimetres


class FrameSequence:
    """Lazy per-row camera frames: `seq[i]` (or `seq(i)`) -> (H, W, 3) uint8 RGB of the frame row i saw
    (kind RGB), or (H, W, 1) uint16 depth in millimetres (kind DEPTH_MM).

    `len(seq)` is the episode's row count N. `frame_count` is how many frames the source actually holds for
    the episode (a video one frame short of N rows is a dropped frame; the synchronisation check compares the
    two). `missing` marks rows that saw no frame of their own (a recording whose frame was dropped: they get the
    newest earlier frame), or is None when every row has one. `close()` releases a file handle kept open
    between reads; reading again reopens it. `storage()` says how the frames are stored (file, codec).
    """

    def __init__(self, rows: int, get: Callable[[int], np.ndarray], *,
                 frame_count: int | Callable[[], int] | None = None, missing: np.ndarray | None = None,
                 close: Callable[[], None] | None = None, describe: str = "frames", kind: FrameKind = FrameKind.RGB,
                 storage: Callable[[], dict] | dict | None = None):
        self._rows, self._get, self._close, self.describe, self.kind = int(rows), get, close, describe, kind
        self._storage = storage
        self._frame_count = frame_count
        self.missing = None if missing is None else np.asarray(missing, bool)

    def __len__(self) -> int:
        return self._rows

    @property
    def frame_count(self) -> int:
        """Frames the source holds for this episode (opens a video to ask its container)."""
        fc = self._frame_count
        return self._rows if fc is None else int(fc() if callable(fc) else fc)

    def storage(self) -> dict:
        """How the frames are stored, JSON-able (e.g. {"file": ..., "codec": "av1", "pix_fmt": ...}); a video is
        opened to ask its container."""
        s = self._storage
        return dict(s() if callable(s) else s or {})

    def __getitem__(self, i: int) -> np.ndarray:
        i = int(i)
        if not 0 <= i < self._rows:
            raise IndexError(f"{self.describe}: no row {i}; the episode has {self._rows} rows")
        image = self._get(i)
        dtype, channels = (np.uint8, 3) if self.kind is FrameKind.RGB else (np.uint16, 1)
        if not isinstance(image, np.ndarray) or image.dtype != dtype or image.ndim != 3 or image.shape[2] != channels:
            got = (image.dtype, image.shape) if isinstance(image, np.ndarray) else type(image).__name__
            raise DatasetError(f"{self.describe}: frame for row {i} is {got}; expected (H, W, {channels}) "
                               f"{np.dtype(dtype).name}")
        return image

    __call__ = __getitem__

    def __iter__(self):
        return (self[i] for i in range(self._rows))

    def close(self) -> None:
        if self._close is not None:
            self._close()


@dataclass(frozen=True)
class EpisodeData:
    """One demonstration, whatever it was read from. Rows are control steps at `fps`.

    state (N, S) and actions (N, D) float64 in robot units; timestamps (N,) seconds from the episode start;
    frames: camera name -> FrameSequence of RGB images; depth: depth feature name -> FrameSequence of uint16
    millimetre maps (LeRobot `is_depth_map` features: never among the cameras, a policy that takes only RGB ignores
    them); success: True/False, or None when the source does not say.
    meta: JSON-able extras (state_names / action_names when known, instructions when the task changed
    mid-episode, expected_rows when the source declares a length, paths, the source's own fields).
    Shapes are checked here; agreement between them (same N, increasing time) is `checks.check_episode`'s job,
    so a broken episode can still be read and reported.
    """
    source: str  # the file or folder it was read from
    index: int  # the episode's number in its dataset
    instruction: str
    fps: float
    state: np.ndarray
    actions: np.ndarray
    timestamps: np.ndarray
    frames: Mapping[str, FrameSequence] = field(default_factory=dict)
    success: bool | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    depth: Mapping[str, FrameSequence] = field(default_factory=dict)

    def __post_init__(self):
        where = f"episode {self.index} of {self.source}"
        for name, ndim in (("state", 2), ("actions", 2), ("timestamps", 1)):
            a = np.asarray(getattr(self, name), dtype=np.float64)
            if a.ndim != ndim:
                raise DatasetError(f"{where}: {name} has shape {a.shape}; expected {ndim} dimensions")
            object.__setattr__(self, name, a)
        if not (isinstance(self.fps, (int, float)) and self.fps > 0):
            raise DatasetError(f"{where}: fps is {self.fps!r}; expected a number > 0 (control steps per second)")
        if self.success not in (True, False, None):
            raise DatasetError(f"{where}: success is {self.success!r}; expected True, False or None")

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def key(self) -> str:
        """Stable identity across runs: '<source>#<index>' (used by the held-out split)."""
        return f"{self.source}#{self.index}"

    def instruction_at(self, t: int) -> str:
        """The instruction in force at row t: meta["instructions"] lists [text, first_row] pairs in row order
        when it changed during the episode; otherwise it is `instruction` throughout."""
        text = self.instruction
        for s, first in self.meta.get("instructions", ()):
            if first <= t:
                text = s
        return text

    def close(self) -> None:
        for frames in (*self.frames.values(), *self.depth.values()):
            frames.close()


@dataclass(frozen=True)
class KeyMap:
    """Which dataset keys hold what (they differ per robot and per format). None: the format's default.

    cameras: bundle camera name -> dataset key (e.g. {"front": "observation.images.top"}); None takes every
    camera the dataset has, named by the format's rule (LeRobot `observation.images.top` -> `top`).
    state: dataset keys concatenated in this order into the (N, S) state; action: the (N, D) action key.
    """
    cameras: Mapping[str, str] | None = None
    state: tuple[str, ...] | None = None
    action: str | None = None

    def __post_init__(self):
        if isinstance(self.state, str):
            object.__setattr__(self, "state", (self.state,))
        elif isinstance(self.state, list):
            object.__setattr__(self, "state", tuple(self.state))
        if self.state is not None and (not self.state or not all(isinstance(k, str) and k for k in self.state)):
            raise ValueError(f"KeyMap.state must be a non-empty list of dataset keys, got {self.state!r}")
        if self.action is not None and not (isinstance(self.action, str) and self.action):
            raise ValueError(f"KeyMap.action must be a dataset key (string), got {self.action!r}")
        if self.cameras is not None:
            if not isinstance(self.cameras, Mapping) or not self.cameras or not all(
                    isinstance(k, str) and k.replace("_", "").isalnum() and isinstance(v, str) and v
                    for k, v in self.cameras.items()):
                raise ValueError(f"KeyMap.cameras must map camera names (letters, digits, '_') to dataset keys, "
                                 f"got {self.cameras!r}")
            object.__setattr__(self, "cameras", dict(self.cameras))

    def pick_cameras(self, found: Mapping[str, str], where: str) -> dict[str, str]:
        """found: default camera name -> dataset key present. Returns camera name -> dataset key to read."""
        if self.cameras is None:
            return dict(found)
        absent = {c: k for c, k in self.cameras.items() if k not in found.values()}
        if absent:
            raise DatasetError(f"{where}: camera key(s) {absent} not found; the dataset has {sorted(found.values())}")
        return dict(self.cameras)


def names_from(value: Any, width: int) -> list[str] | None:
    """Dimension names as a dataset states them (a list, or LeRobot's {"motors": [...]}) if they fit width."""
    if isinstance(value, Mapping) and len(value) == 1:
        value = next(iter(value.values()))
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == width and all(
            isinstance(v, str) for v in value):
        return list(value)
    return None
