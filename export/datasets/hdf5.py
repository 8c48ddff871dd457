"""HDF5 demonstrations (h5py, imported here only): the ALOHA layout as EpisodeData, and the HDF5 helpers the
robomimic/LIBERO reader (robomimic.py) shares.

ALOHA (one file per episode, episode_N.hdf5): /observations/qpos (N, 14), /observations/images/<cam>
(N, H, W, 3) uint8 RGB, or (N, bytes) JPEG rows when the root attr `compress` is true; /action (N, 14); attr
`sim`. No timestamps or instruction are stored: rows are at `fps` (ALOHA's DT = 0.02 s, so 50 by default) and
the instruction is passed in (or read from a root attr `language_instruction`).
ALOHA stores no timestamps: they are row / fps, so only the row counts can disagree.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .base import DatasetReader
from .episode import DatasetError, EpisodeData, FrameSequence, KeyMap

ALOHA_FPS = 50.0  # ALOHA records at DT = 0.02 s


def text_attr(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    return value if isinstance(value, str) and value.strip() else None


def number_in(name: str) -> int:
    m = re.search(r"(\d+)(?!.*\d)", name)
    return int(m.group(1)) if m else -1


class Handle:
    """An h5py file opened on first use and kept open until close(); reopened if used again."""

    def __init__(self, path: Path):
        self.path, self.file = path, None

    def get(self, name: str):
        if self.file is None:
            import h5py

            self.file = h5py.File(self.path, "r")
        return self.file[name]

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def open_hdf5(path: Path):
    """The file, read-only; raises DatasetError naming the path when it is not a readable HDF5 file."""
    import h5py

    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from None


def find(group, key: str, prefixes: tuple[str, ...], where: str):
    for p in prefixes:
        if p + key in group:
            return group[p + key]
    raise DatasetError(f"{where}: no dataset {key!r} (looked in {[p or '/' for p in prefixes]}); "
                       f"keys: {_keys(group, prefixes)}")


def _keys(group, prefixes) -> list[str]:
    out = []
    for p in prefixes:
        g = group[p.rstrip("/")] if p else group
        out += [p + k for k in g.keys()]
    return out


def read_rows(dataset, where: str) -> np.ndarray:
    a = np.asarray(dataset[()], dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DatasetError(f"{where}: {dataset.name} has shape {a.shape}; expected (N, K) numbers")
    return a


def frame_sequence(handle: Handle, name: str, rows: int, count: int, compressed: bool, describe: str) -> FrameSequence:
    """rows: the episode's N; count: frames the dataset holds (the synchronisation check compares them)."""
    def get(i: int) -> np.ndarray:
        if i >= count:
            raise DatasetError(f"{describe}: no frame for row {i}; the dataset holds {count} frames")
        row = handle.get(name)[i]
        if compressed:
            import cv2

            image = cv2.imdecode(np.asarray(row, np.uint8), cv2.IMREAD_COLOR)  # same channel order as encoded
            if image is None:
                raise DatasetError(f"{describe}: row {i} is not a decodable JPEG/PNG")
            return image
        return np.asarray(row)

    return FrameSequence(rows, get, frame_count=count, close=handle.close, describe=describe,
                         storage={"file": str(handle.path), "codec": "HDF5 JPEG rows" if compressed else "HDF5 raw"})


class AlohaDataset(DatasetReader):
    """ALOHA episodes: one HDF5 file, or a folder of them (episode_N.hdf5, in number order)."""
    format = "aloha-hdf5"

    def __init__(self, path: str | os.PathLike, keys: KeyMap | None = None, instruction: str | None = None,
                 fps: float | None = None):
        self.path, self.keys = Path(path), keys or KeyMap()
        if self.path.is_dir():
            files = [p for p in self.path.iterdir() if p.suffix in (".hdf5", ".h5") and p.is_file()]
            self.files = sorted(files, key=lambda p: (number_in(p.stem), p.name))
            if not self.files:
                raise DatasetError(f"{self.path}: no .hdf5/.h5 files; expected ALOHA episode_N.hdf5 files")
        else:
            self.files = [self.path]
        self.fps = float(fps or ALOHA_FPS)
        if not self.fps > 0:
            raise DatasetError(f"fps must be > 0, got {fps!r}")
        self.instruction = instruction
        self.state_keys = self.keys.state or ("qpos",)
        self.action_key = self.keys.action or "action"

    def __len__(self) -> int:
        return len(self.files)

    def indices(self) -> list[int]:
        return [number_in(p.stem) if number_in(p.stem) >= 0 else i for i, p in enumerate(self.files)]

    def lengths(self) -> list[int]:
        out = []
        for p in self.files:
            with open_hdf5(p) as f:
                out.append(int(find(f, self.action_key, ("", "observations/"), str(p)).shape[0]))
        return out

    def episode(self, i: int) -> EpisodeData:
        path = self.files[self._position(i)]
        where = str(path)
        with open_hdf5(path) as f:
            if "observations" not in f or self.action_key not in f and f"observations/{self.action_key}" not in f:
                raise DatasetError(f"{where}: expected ALOHA's /observations group and /{self.action_key}; "
                                   f"found {list(f.keys())}")
            state = np.concatenate([read_rows(find(f, k, ("observations/", ""), where), where)
                                    for k in self.state_keys], axis=1)
            actions = read_rows(find(f, self.action_key, ("", "observations/"), where), where)
            images = f["observations"].get("images")
            found = {k: k for k in images.keys()} if images is not None else {}
            cameras = self.keys.pick_cameras(found, where)
            shapes = {c: images[k].shape for c, k in cameras.items()}
            compressed = bool(f.attrs.get("compress", False))
            sim = bool(f.attrs["sim"]) if "sim" in f.attrs else None
            instruction = self.instruction or text_attr(f.attrs.get("language_instruction"))
        if instruction is None:
            raise DatasetError(f"{where}: ALOHA files store no instruction (no root attr language_instruction); "
                               "pass --instruction TEXT (instruction=)")
        for c, shape in shapes.items():
            want = 2 if compressed else 4
            if len(shape) != want:
                raise DatasetError(f"{where}: observations/images/{cameras[c]} has shape {shape}; expected "
                                   + ("(N, bytes) JPEG rows (compress=True)" if compressed else "(N, H, W, 3)"))
        handle = Handle(path)
        n = len(actions)
        frames = {c: frame_sequence(handle, f"observations/images/{k}", n, shapes[c][0], compressed,
                             f"{where}:observations/images/{k}") for c, k in cameras.items()}
        meta = {"format": self.format, "path": where, "sim": sim, "timestamps": "synthesised from fps",
                "state_names": None, "action_names": None}
        return EpisodeData(source=str(self.path), index=self.indices()[i],
                           instruction=instruction, fps=self.fps, state=state, actions=actions,
                           timestamps=np.arange(n) / self.fps, frames=frames, success=None, meta=meta)
