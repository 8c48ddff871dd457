"""open_dataset: pick the reader by what is on disk (or by an explicit format), with errors that say what was
expected. Only the chosen reader's heavy import (pyarrow, h5py) happens."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .base import DatasetReader
from .episode import DatasetError, KeyMap

FORMATS = ("recording", "lerobot", "robomimic", "aloha")
EXPECTED = ("a vla-lite recording folder (episode_NNNNNN/ with meta.json), a LeRobot v2.x/v3.0 folder "
            "(meta/info.json), a robomimic .hdf5 file (data/demo_N) or ALOHA .hdf5 file(s) (/observations, /action)")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset is and how to read it. format None: detected. instruction / fps: for formats that do not
    store them (ALOHA, robomimic without LIBERO's problem_info). include_partial: crashed recordings too."""
    path: str | os.PathLike
    format: str | None = None
    keys: KeyMap = field(default_factory=KeyMap)
    instruction: str | None = None
    fps: float | None = None
    include_partial: bool = False

    def __post_init__(self):
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"dataset format {self.format!r} is unknown; expected one of {list(FORMATS)}")
        if isinstance(self.keys, Mapping):
            object.__setattr__(self, "keys", KeyMap(**self.keys))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DatasetSpec":
        """A JSON-able spec, e.g. {"path": "...", "format": "lerobot", "keys": {"state": [...]}}."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown or "path" not in d:
            raise ValueError(f"dataset spec {dict(d)!r}: unknown key(s) {unknown} or no 'path'; expected keys "
                             f"{sorted(known)}")
        return cls(**d)


def open_dataset(path_or_spec: str | os.PathLike | DatasetSpec | Mapping, **options) -> DatasetReader:
    """A reader for the dataset at a path (or described by a DatasetSpec / its dict form); options are
    DatasetSpec fields (format=, keys=, instruction=, fps=, include_partial=). A string 'FORMAT:PATH' (e.g.
    'aloha:/data/run3') forces the format."""
    if isinstance(path_or_spec, DatasetSpec):
        spec = DatasetSpec(**{**{f.name: getattr(path_or_spec, f.name) for f in fields(DatasetSpec)}, **options})
    elif isinstance(path_or_spec, Mapping):
        spec = DatasetSpec.from_dict({**path_or_spec, **options})
    else:
        text = os.fspath(path_or_spec)
        prefix, sep, rest = text.partition(":")
        if sep and prefix in FORMATS and "format" not in options:
            text, options = rest, {**options, "format": prefix}
        spec = DatasetSpec(text, **options)
    path = Path(spec.path)
    if not path.exists():
        raise DatasetError(f"dataset path {path} does not exist; expected {EXPECTED}")
    fmt = spec.format or detect_format(path)
    if fmt == "recording":
        from .recordings import RecordingDataset

        return RecordingDataset(path, spec.keys, include_partial=spec.include_partial)
    if fmt == "lerobot":
        from .lerobot import LeRobotV2Dataset, LeRobotV3Dataset, read_info

        version = str(read_info(path)["codebase_version"])
        if version.startswith("v2."):
            return LeRobotV2Dataset(path, spec.keys)
        if version.startswith("v3."):
            return LeRobotV3Dataset(path, spec.keys)
        raise DatasetError(f"{path}/meta/info.json: codebase_version {version!r}; expected 'v2.x' or 'v3.0' "
                           "(older LeRobot datasets: convert them with LeRobot's conversion script)")
    if fmt == "robomimic":
        from .hdf5 import RobomimicDataset

        return RobomimicDataset(path, spec.keys, instruction=spec.instruction, fps=spec.fps)
    from .hdf5 import AlohaDataset

    return AlohaDataset(path, spec.keys, instruction=spec.instruction, fps=spec.fps)


def detect_format(path: Path) -> str:
    if path.is_file():
        if path.suffix not in (".hdf5", ".h5"):
            raise DatasetError(f"{path}: a {path.suffix or 'suffix-less'} file; expected {EXPECTED}")
        return _hdf5_layout(path)
    if (path / "meta" / "info.json").is_file():
        return "lerobot"
    from vla_lite.recording.format import parse_episode_dir

    children = list(path.iterdir())
    if any(parse_episode_dir(p.name) is not None and p.is_dir() for p in children):
        return "recording"
    h5 = sorted(p for p in children if p.suffix in (".hdf5", ".h5") and p.is_file())
    if h5:
        layout = _hdf5_layout(h5[0])
        if layout == "robomimic":
            raise DatasetError(f"{path}: a folder of robomimic files ({h5[0].name}, ...); open each file, "
                               "robomimic keeps all demos of a dataset in one file")
        return layout
    raise DatasetError(f"{path}: no dataset found (no meta/info.json, no episode_NNNNNN/ folders, no .hdf5 "
                       f"files); expected {EXPECTED}")


def _hdf5_layout(path: Path) -> str:
    from .hdf5 import open_hdf5

    with open_hdf5(path) as f:
        if "data" in f:
            return "robomimic"
        if "observations" in f:
            return "aloha"
        raise DatasetError(f"{path}: HDF5 with top-level keys {list(f.keys())}; expected robomimic's 'data' group "
                           "or ALOHA's 'observations' group")
