"""Episodes (from any reader) written as a LeRobot v3.0 dataset, in the layout LeRobot 0.6.1 writes:

    meta/info.json                          codebase_version v3.0, fps, features (dtype/shape/names/info), totals,
                                            chunks_size, data/video file sizes, path templates, robot_type, splits
    meta/tasks.parquet                      task_index, task (the pandas index, as LeRobot reads it)
    meta/episodes/chunk-000/file-000.parquet  per episode: tasks, length, data/video file and span, stats/<f>/<s>
    meta/stats.json                         the episodes' statistics aggregated
    data/chunk-000/file-000.parquet         rows: [images,] observation.state, action, timestamp, frame_index,
                                            episode_index, index, task_index; a row group per episode
    videos/observation.images.<cam>/chunk-000/file-000.mp4   episodes back to back (video_encode.py)

Rows are timed frame_index / fps, as LeRobot stores them (a row's video frame is found at that time). State and
action are float32 (LeRobot's dtype) when every value is a float32; otherwise float64 so they round-trip exactly.
A new data file starts past 100 MB and a new video file past 200 MB, LeRobot's defaults. Depth maps are not written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .episode import DatasetError, EpisodeData
from .lerobot import V3_DATA, V3_VIDEO
from .lerobot_stats import image_stats, sample_rows, vector_stats
from .video_encode import VideoCodec, concatenate, encode_frames, encoder_settings

DATA_MB, VIDEO_MB, CHUNKS_SIZE = 100, 200, 1000
INDEX_FEATURES = ("timestamp", "frame_index", "episode_index", "index", "task_index")


def _float_dtype(episodes: Sequence[EpisodeData]) -> str:
    arrays = [a for ep in episodes for a in (ep.state, ep.actions)]
    return "float32" if all(np.array_equal(a.astype(np.float32), a) for a in arrays) else "float64"


def _features(first: EpisodeData, dtype: str, video: VideoCodec | None, fps: float) -> dict:
    out = {}
    for cam, seq in first.frames.items():
        h, w = seq[0].shape[:2]
        f = {"dtype": "video" if video else "image", "shape": [h, w, 3], "names": ["height", "width", "channels"]}
        if video:
            _, _, settings = encoder_settings(video)
            f["info"] = {"video.height": h, "video.width": w, "video.codec": video.value, "video.pix_fmt": "yuv420p",
                         "video.fps": _number(fps), "video.channels": 3, "has_audio": False, **settings,
                         "is_depth_map": False}
        out[f"observation.images.{cam}"] = f
    for key, width, names in (("observation.state", first.state.shape[1], first.meta.get("state_names")),
                              ("action", first.actions.shape[1], first.meta.get("action_names"))):
        prefix = "state" if key == "observation.state" else "action"
        out[key] = {"dtype": dtype, "shape": [width], "names": names or [f"{prefix}_{i}" for i in range(width)]}
    out["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for k in INDEX_FEATURES[1:]:
        out[k] = {"dtype": "int64", "shape": [1], "names": None}
    return out


def _number(x: float):
    return int(x) if float(x).is_integer() else float(x)


def _hf_metadata(features: dict) -> bytes:
    hf = {}
    for k, f in features.items():
        if f["dtype"] == "image":
            hf[k] = {"_type": "Image"}
        elif k in ("observation.state", "action"):
            hf[k] = {"feature": {"dtype": f["dtype"], "_type": "Value"}, "length": f["shape"][0], "_type": "List"}
        elif f["dtype"] != "video":
            hf[k] = {"dtype": f["dtype"], "_type": "Value"}
    body = {"info": {"features": hf}}
    body["fingerprint"] = hashlib.sha256(json.dumps(body).encode()).hexdigest()[:16]
    return json.dumps(body).encode()


def _png(image: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DatasetError(f"cannot encode a {image.shape} frame as PNG")
    return data.tobytes()


class LeRobotWriter:
    """write(episode) per episode, then finish(). Files are written under `root`, which must not hold a dataset."""

    def __init__(self, root: Path, features: dict, fps: float, video: VideoCodec | None, robot_type: str | None):
        import pyarrow as pa

        self.root, self.features, self.fps, self.video, self.robot_type = Path(root), features, fps, video, robot_type
        self.cameras = [k for k, f in features.items() if f["dtype"] in ("video", "image")]
        self.tasks: dict[str, int] = {}
        self.episodes: list[dict] = []
        self.stats: list[dict] = []
        self.rows = 0
        self._data = {"file": 0, "bytes": 0, "writer": None}
        self._videos = {k: {"file": 0, "bytes": 0, "frames": 0, "parts": []} for k in self.cameras}
        self._tmp = Path(tempfile.mkdtemp(prefix="vla-lerobot-", dir=self.root))
        types = {"float32": pa.float32(), "float64": pa.float64()}
        self.schema = pa.schema(
            [(k, pa.struct([("bytes", pa.binary()), ("path", pa.string())])) for k in self.cameras
             if features[k]["dtype"] == "image"]
            + [(k, pa.list_(types[features[k]["dtype"]], features[k]["shape"][0])) for k in ("observation.state",
                                                                                              "action")]
            + [("timestamp", pa.float32())] + [(k, pa.int64()) for k in INDEX_FEATURES[1:]],
            metadata={"huggingface": _hf_metadata(features)})

    def write(self, ep: EpisodeData) -> None:
        import pyarrow as pa

        e, n, first = len(self.episodes), len(ep), self.rows
        texts = [ep.instruction_at(t) for t in range(n)]
        task_index = np.array([self.tasks.setdefault(t, len(self.tasks)) for t in texts], np.int64)
        frame_index = np.arange(n, dtype=np.int64)
        timestamp = frame_index / self.fps  # float64 here, float32 in the file, as LeRobot keeps them
        dtype = np.float32 if self.features["action"]["dtype"] == "float32" else np.float64
        state, action = ep.state.astype(dtype), ep.actions.astype(dtype)
        columns = {"observation.state": state, "action": action, "timestamp": timestamp, "frame_index": frame_index,
                   "episode_index": np.full(n, e, np.int64), "index": np.arange(first, first + n, dtype=np.int64),
                   "task_index": task_index}
        stats, row = {}, {"episode_index": e, "tasks": list(dict.fromkeys(texts)), "length": n}
        arrays = []
        for key in self.cameras:
            seq = ep.frames[key[len("observation.images."):]]
            stats[key] = image_stats(np.stack([seq[int(i)] for i in sample_rows(n)]))
            if self.features[key]["dtype"] == "image":
                arrays.append(pa.array([{"bytes": _png(seq[t]), "path": f"frame-{t:06d}.png"} for t in range(n)],
                                       self.schema.field(key).type))
            else:
                row.update(self._video_part(key, e, seq, n))
        for k, v in columns.items():
            stats[k] = vector_stats(v)
        typed = self.schema.field("observation.state").type
        arrays += [pa.FixedSizeListArray.from_arrays(pa.array(state.ravel()), typed.list_size),
                   pa.FixedSizeListArray.from_arrays(pa.array(action.ravel()), typed.list_size),
                   pa.array(timestamp.astype(np.float32))] + [pa.array(columns[k]) for k in INDEX_FEATURES[1:]]
        row.update(self._data_part(pa.Table.from_arrays(arrays, schema=self.schema), first, n))
        self.episodes.append(row)
        self.stats.append(stats)
        self.rows += n

    def _data_part(self, table, first: int, n: int) -> dict:
        import pyarrow.parquet as pq

        d = self._data
        if d["writer"] is not None and d["bytes"] + table.nbytes >= DATA_MB * 1e6:
            d["writer"].close()
            d.update(file=d["file"] + 1, bytes=0, writer=None)
        if d["writer"] is None:
            path = self.root / V3_DATA.format(chunk_index=d["file"] // CHUNKS_SIZE, file_index=d["file"] % CHUNKS_SIZE)
            path.parent.mkdir(parents=True, exist_ok=True)
            d["writer"] = pq.ParquetWriter(path, self.schema, compression="snappy", use_dictionary=True)
        d["writer"].write_table(table)
        d["bytes"] += table.nbytes
        return {"data/chunk_index": d["file"] // CHUNKS_SIZE, "data/file_index": d["file"] % CHUNKS_SIZE,
                "dataset_from_index": first, "dataset_to_index": first + n}

    def _video_part(self, key: str, e: int, seq, n: int) -> dict:
        v = self._videos[key]
        part = self._tmp / f"{key}-{e:06d}.mp4"
        if encode_frames((seq[t] for t in range(n)), part, self.fps, self.video) != n:
            raise DatasetError(f"{part}: encoded a different number of frames than the episode's {n} rows")
        size = part.stat().st_size
        if v["parts"] and v["bytes"] + size >= VIDEO_MB * 1e6:
            self._close_video(key)
        v["parts"].append(part)
        v["bytes"] += size
        start = v["frames"] / self.fps
        v["frames"] += n
        return {f"videos/{key}/chunk_index": v["file"] // CHUNKS_SIZE, f"videos/{key}/file_index": v["file"] % 1000,
                f"videos/{key}/from_timestamp": start, f"videos/{key}/to_timestamp": start + n / self.fps}

    def _close_video(self, key: str) -> None:
        v = self._videos[key]
        if v["parts"]:
            concatenate(v["parts"], self.root / V3_VIDEO.format(video_key=key, chunk_index=v["file"] // CHUNKS_SIZE,
                                                                file_index=v["file"] % CHUNKS_SIZE))
        v.update(file=v["file"] + 1, bytes=0, frames=0, parts=[])

    def finish(self) -> dict:
        """Close the files and write the metadata. Returns the info.json written."""
        from .lerobot_meta import write_metadata

        if self._data["writer"] is not None:
            self._data["writer"].close()
        for key in self._videos:
            self._close_video(key)
        shutil.rmtree(self._tmp, ignore_errors=True)
        return write_metadata(self.root, self)


def write_lerobot(episodes: Callable[[], Sequence[EpisodeData]], root: str | Path, *, video: VideoCodec | None,
                  robot_type: str | None = None, progress=None) -> dict:
    """Write every episode of `episodes()` (a fresh sequence per call: numbers are looked at first, then frames) as a
    LeRobot v3.0 dataset at root (absent or empty). video None: PNG images in the parquet. Returns info.json."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise DatasetError(f"{root} is not empty; give an absent or empty folder for the LeRobot dataset")
    listed = list(episodes())
    if not listed:
        raise DatasetError("no episode to write")
    fps = listed[0].fps
    odd = [ep.key for ep in listed if ep.fps != fps or set(ep.frames) != set(listed[0].frames)]
    if odd:
        raise DatasetError(f"episodes {odd[:3]} differ from the first in fps or cameras; a LeRobot dataset has one of each")
    features = _features(listed[0], _float_dtype(listed), video, fps)
    root.mkdir(parents=True, exist_ok=True)
    writer = LeRobotWriter(root, features, fps, video, robot_type)
    try:
        for ep in episodes():
            writer.write(ep)
            ep.close()
            if progress is not None:
                progress(ep)
        return writer.finish()
    except BaseException:
        shutil.rmtree(writer._tmp, ignore_errors=True)
        raise
