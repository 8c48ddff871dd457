"""LeRobot dataset folders (codebase v2.x and v3.0) as EpisodeData; pyarrow reads parquet, OpenCV the mp4s.

v2.x: meta/info.json, meta/episodes.jsonl ({episode_index, tasks, length}), meta/tasks.jsonl ({task_index,
task}), one parquet and one mp4 per camera per episode at info's `data_path` / `video_path` templates
(episode_chunk = episode_index // chunks_size).
v3.0: meta/tasks.parquet (task_index; the task text is the pandas index, column `task`), meta/episodes/chunk-*/
file-*.parquet (per episode: length, tasks, data/chunk_index, data/file_index, videos/<key>/chunk_index,
file_index, from_timestamp, to_timestamp), data files holding many episodes' rows, video files holding many
episodes back to back (an episode's frames start at its from_timestamp).
Rows carry observation.state, action, timestamp (s from the episode start), frame_index, episode_index,
task_index; cameras are features of dtype `video` (mp4) or `image` (encoded bytes in the parquet). Features marked
`is_depth_map` (LeRobot 0.6+) are depth maps: read into EpisodeData.depth as millimetres (depth.py), never as cameras.
Videos are decoded with PyAV (video.py), whatever OpenCV is installed.
Reading v3 keeps the last data file's needed columns in memory (LeRobot caps a file at ~100 MB by default), so
streaming episodes in order reads each file once.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from .base import DatasetReader
from .depth import DepthCoding, image_to_mm, is_depth_feature
from .episode import DatasetError, EpisodeData, FrameKind, KeyMap, names_from
from .parquet import column_names, image_column, matrix, read_table
from .video import video_frames

V2_DATA = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
V2_VIDEO = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
V3_DATA = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
V3_VIDEO = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"


def read_info(root: Path) -> dict:
    path = root / "meta" / "info.json"
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{root}: no meta/info.json; expected a LeRobot dataset folder") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    missing = [k for k in ("codebase_version", "fps", "features") if k not in info]
    if not isinstance(info, dict) or missing:
        raise DatasetError(f"{path}: missing {missing or 'everything'}; expected LeRobot's info.json with "
                           "codebase_version, fps and features")
    return info


def camera_name(key: str) -> str:
    """observation.images.top -> top; any other image key -> its letters/digits with '_' for the rest."""
    name = key[len("observation.images."):] if key.startswith("observation.images.") else key
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class _LeRobotBase(DatasetReader):
    def __init__(self, root: str | os.PathLike, keys: KeyMap | None):
        self.path = Path(root)
        self.info = info = read_info(self.path)
        if not isinstance(info["fps"], (int, float)) or not info["fps"] > 0:
            raise DatasetError(f"{self.path}/meta/info.json: fps is {info['fps']!r}; expected a number > 0")
        self.fps, self.features = float(info["fps"]), info["features"]
        keys = keys or KeyMap()
        self.state_keys, self.action_key = keys.state or ("observation.state",), keys.action or "action"
        for k in (*self.state_keys, self.action_key):
            if k not in self.features:
                raise DatasetError(f"{self.path}: feature {k!r} not in meta/info.json; features: "
                                   f"{sorted(self.features)} (set KeyMap(state=..., action=...))")
        visual = {camera_name(k): k for k, f in self.features.items() if f.get("dtype") in ("video", "image")}
        self.depth = {c: k for c, k in visual.items() if is_depth_feature(self.features[k])}  # name -> feature key
        rgb = {c: k for c, k in visual.items() if c not in self.depth}
        self.cameras = keys.pick_cameras(rgb, str(self.path))  # camera name -> feature key
        self.task_text: dict[int, str] = {}

    def _columns(self, available: list[str], where: Path) -> list[str]:
        need = [*self.state_keys, self.action_key, "timestamp", "episode_index"]
        need += [k for k in self._visual_keys() if self.features[k]["dtype"] == "image"]
        missing = [k for k in need if k not in available]
        if missing:
            raise DatasetError(f"{where}: column(s) {missing} missing; columns: {available}")
        need += [k for k in ("task_index", "frame_index") if k in available]
        return list(dict.fromkeys(need))  # a key may serve twice (e.g. state and action)

    def _visual_keys(self) -> list[str]:
        """Feature keys of the cameras and depth maps read (their files or columns are needed)."""
        return [*self.cameras.values(), *self.depth.values()]

    def _video_fps(self, key: str) -> float:
        f = self.features[key]
        fps = (f.get("info") or f.get("video_info") or {}).get("video.fps", self.fps)
        return float(fps)

    def _episode(self, e: int, table, where: str, tasks: list, video_span, declared: int | None,
                 success) -> EpisodeData:
        """table: this episode's rows; video_span(key) -> (path, from_s, to_s | None)."""
        state = np.concatenate([matrix(table, k, where) for k in self.state_keys], axis=1)
        actions = matrix(table, self.action_key, where)
        timestamps = matrix(table, "timestamp", where)[:, 0]
        frames = {c: self._visual(k, table, timestamps, video_span, f"{where} {k}", e) for c, k in self.cameras.items()}
        depth = {c: self._visual(k, table, timestamps, video_span, f"{where} {k}", e) for c, k in self.depth.items()}
        meta = {"format": self.format, "path": where, "codebase_version": self.info["codebase_version"],
                "state_names": _joined_names(self.features, self.state_keys),
                "action_names": names_from(self.features[self.action_key].get("names"), actions.shape[1]),
                "expected_rows": declared}
        instruction = tasks[0] if tasks else None
        if "task_index" in table.column_names and table.num_rows:
            ti = table.column("task_index").to_numpy(zero_copy_only=False).astype(np.int64)
            unknown = sorted(set(ti.tolist()) - set(self.task_text))
            if unknown:
                raise DatasetError(f"{where}: task_index {unknown} not in the dataset's tasks "
                                   f"{sorted(self.task_text)}")
            starts = [0, *np.flatnonzero(np.diff(ti)) + 1]
            instruction = self.task_text[int(ti[0])]
            if len(starts) > 1:
                meta["instructions"] = [[self.task_text[int(ti[s])], int(s)] for s in starts]
        if not isinstance(instruction, str):
            raise DatasetError(f"{where}: episode {e} names no task (no task_index column, no tasks in its "
                               "episode metadata)")
        return EpisodeData(source=str(self.path), index=int(e), instruction=instruction, fps=self.fps, state=state,
                           actions=actions, timestamps=timestamps, frames=frames, depth=depth,
                           success=None if success is None else bool(success), meta=meta)

    def _visual(self, key: str, table, timestamps, video_span, where: str, e: int):
        """The FrameSequence of one camera or depth feature: parquet image rows, or its span of a video file."""
        feature = self.features[key]
        is_depth = key in self.depth.values()
        kind = FrameKind.DEPTH_MM if is_depth else FrameKind.RGB
        info = feature.get("info") or {}
        if feature["dtype"] == "image":
            convert = (lambda img: image_to_mm(img, info.get("depth_unit"))) if is_depth else None
            return image_column(table.column(key), where, convert=convert, kind=kind)
        path, from_s, to_s = video_span(key)
        convert = DepthCoding.from_info(info).decoder() if is_depth else None
        return video_frames(path, timestamps, self._video_fps(key), from_s, to_s,
                            describe=f"{path} (episode {e}, {key})", convert=convert, kind=kind)


class LeRobotV2Dataset(_LeRobotBase):
    """LeRobot codebase v2.0 / v2.1: one parquet (and one mp4 per camera) per episode."""
    format = "lerobot-v2"

    def __init__(self, root: str | os.PathLike, keys: KeyMap | None = None):
        super().__init__(root, keys)
        version = str(self.info["codebase_version"])
        if not version.startswith("v2."):
            raise DatasetError(f"{self.path}: codebase_version {version!r}; this reader reads v2.x")
        self.episodes = sorted(_jsonl(self.path / "meta" / "episodes.jsonl", ("episode_index", "length")),
                               key=lambda r: r["episode_index"])
        self.task_text = {int(r["task_index"]): r["task"]
                          for r in _jsonl(self.path / "meta" / "tasks.jsonl", ("task_index", "task"))}
        self.chunks_size = int(self.info.get("chunks_size", 1000))
        self.data_path = self.info.get("data_path", V2_DATA)
        self.video_path = self.info.get("video_path") or V2_VIDEO

    def __len__(self) -> int:
        return len(self.episodes)

    def lengths(self) -> list[int]:
        return [int(r["length"]) for r in self.episodes]

    def indices(self) -> list[int]:
        return [int(r["episode_index"]) for r in self.episodes]

    def episode(self, i: int) -> EpisodeData:
        row = self.episodes[self._position(i)]
        e = int(row["episode_index"])
        chunk = e // self.chunks_size
        path = self.path / self.data_path.format(episode_chunk=chunk, episode_index=e)
        if not path.is_file():
            raise DatasetError(f"{path}: data file of episode {e} is missing")
        table = read_table(path, columns=self._columns(column_names(path), path))
        other = set(table.column("episode_index").to_numpy(zero_copy_only=False).tolist()) - {e}
        if other:
            raise DatasetError(f"{path}: holds rows of episode(s) {sorted(other)}; expected only episode {e}")

        def span(key):
            return self.path / self.video_path.format(episode_chunk=chunk, video_key=key, episode_index=e), 0.0, None

        return self._episode(e, table, str(path), list(row.get("tasks") or []), span, int(row["length"]),
                             row.get("success"))


class LeRobotV3Dataset(_LeRobotBase):
    """LeRobot codebase v3.0: episodes packed into shared parquet and mp4 files, located by episode metadata."""
    format = "lerobot-v3"

    def __init__(self, root: str | os.PathLike, keys: KeyMap | None = None):
        super().__init__(root, keys)
        version = str(self.info["codebase_version"])
        if not version.startswith("v3."):
            raise DatasetError(f"{self.path}: codebase_version {version!r}; this reader reads v3.x")
        tasks_path = self.path / "meta" / "tasks.parquet"
        if not tasks_path.is_file():
            raise DatasetError(f"{self.path}: no meta/tasks.parquet; expected it in a v3.0 dataset")
        tasks = read_table(tasks_path).to_pydict()
        text_col = next((c for c in ("task", "__index_level_0__") if c in tasks), None)
        if "task_index" not in tasks or text_col is None:
            raise DatasetError(f"{tasks_path}: columns {sorted(tasks)}; expected task_index and task")
        self.task_text = {int(i): t for i, t in zip(tasks["task_index"], tasks[text_col])}
        files = sorted((self.path / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not files:
            raise DatasetError(f"{self.path}: no meta/episodes/chunk-*/file-*.parquet; expected v3.0 episode "
                               "metadata")
        need = ["episode_index", "length", "data/chunk_index", "data/file_index"]
        for k in self._visual_keys():
            if self.features[k]["dtype"] == "video":
                need += [f"videos/{k}/{c}" for c in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")]
        rows = []
        for f in files:
            names = column_names(f)
            missing = [c for c in need if c not in names]
            if missing:
                raise DatasetError(f"{f}: episode metadata lacks column(s) {missing}")
            extra = [c for c in ("tasks", "success") if c in names]
            t = read_table(f, columns=need + extra).to_pydict()
            rows += [{c: t[c][j] for c in t} for j in range(len(t["episode_index"]))]
        self.episodes = sorted(rows, key=lambda r: r["episode_index"])
        self.data_path = self.info.get("data_path", V3_DATA)
        self.video_path = self.info.get("video_path") or V3_VIDEO
        self._cached: tuple[Path, object] | None = None  # (data file, its table): one file in memory at a time

    def __len__(self) -> int:
        return len(self.episodes)

    def lengths(self) -> list[int]:
        return [int(r["length"]) for r in self.episodes]

    def indices(self) -> list[int]:
        return [int(r["episode_index"]) for r in self.episodes]

    def _data(self, path: Path):
        if self._cached is None or self._cached[0] != path:
            if not path.is_file():
                raise DatasetError(f"{path}: data file is missing")
            self._cached = None  # free the previous file before reading the next
            self._cached = (path, read_table(path, columns=self._columns(column_names(path), path)))
        return self._cached[1]

    def episode(self, i: int) -> EpisodeData:
        import pyarrow.compute as pc

        row = self.episodes[self._position(i)]
        e = int(row["episode_index"])
        path = self.path / self.data_path.format(chunk_index=int(row["data/chunk_index"]),
                                                 file_index=int(row["data/file_index"]))
        table = self._data(path)
        table = table.filter(pc.equal(table.column("episode_index"), e))
        if "frame_index" in table.column_names:
            table = table.take(pc.sort_indices(table.column("frame_index")))

        def span(key):
            p = self.path / self.video_path.format(video_key=key, chunk_index=int(row[f"videos/{key}/chunk_index"]),
                                                   file_index=int(row[f"videos/{key}/file_index"]))
            return p, float(row[f"videos/{key}/from_timestamp"]), float(row[f"videos/{key}/to_timestamp"])

        return self._episode(e, table, str(path), list(row.get("tasks") or []), span, int(row["length"]),
                             row.get("success"))


def _jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"{path} is missing; expected it in a LeRobot v2.x dataset")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{path} line {n}: not valid JSON ({exc})") from None
        if not isinstance(row, dict) or any(k not in row for k in required):
            raise DatasetError(f"{path} line {n}: expected an object with {list(required)}, got {line[:120]!r}")
        out.append(row)
    return out


def _joined_names(features: dict, keys: tuple[str, ...]) -> list[str] | None:
    out = []
    for k in keys:
        shape = features[k].get("shape") or [0]
        names = names_from(features[k].get("names"), int(shape[0]) if shape else 0)
        if names is None:
            return None
        out += names
    return out
