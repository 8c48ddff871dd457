"""The metadata files of a LeRobot v3.0 dataset (lerobot_writer.py writes the data and videos): info.json,
tasks.parquet, episodes/chunk-000/file-000.parquet and stats.json, with LeRobot 0.6.1's keys, column names, column
types and order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .lerobot import V3_DATA, V3_VIDEO
from .lerobot_stats import aggregate

EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
STAT_KEYS = ("min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99")


def _tasks_table(tasks: dict[str, int]):
    """tasks.parquet as pandas writes LeRobot's DataFrame indexed by task (pandas is not needed to write it)."""
    import pyarrow as pa

    pandas = {"index_columns": ["task"], "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                                                             "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
              "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                           "numpy_type": "int64", "metadata": None},
                          {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object",
                           "metadata": None}],
              "attributes": {}, "creator": {"library": "pyarrow", "version": pa.__version__}}
    schema = pa.schema([("task_index", pa.int64()), ("task", pa.string())],
                       metadata={"pandas": json.dumps(pandas).encode()})
    ordered = sorted(tasks.items(), key=lambda kv: kv[1])
    return pa.table({"task_index": [i for _, i in ordered], "task": [t for t, _ in ordered]}, schema=schema)


def _stat_type(feature: dict, stat: str):
    import pyarrow as pa

    if stat == "count":
        return pa.list_(pa.int64())
    if feature["dtype"] in ("image", "video"):
        return pa.list_(pa.list_(pa.list_(pa.float64())))
    return pa.list_(pa.float64())


def _episodes_table(writer):
    import pyarrow as pa

    fields = [("episode_index", pa.int64()), ("tasks", pa.list_(pa.string())), ("length", pa.int64()),
              ("data/chunk_index", pa.int64()), ("data/file_index", pa.int64()),
              ("dataset_from_index", pa.int64()), ("dataset_to_index", pa.int64())]
    for key, f in writer.features.items():
        if f["dtype"] == "video":
            fields += [(f"videos/{key}/chunk_index", pa.int64()), (f"videos/{key}/file_index", pa.int64()),
                       (f"videos/{key}/from_timestamp", pa.float64()), (f"videos/{key}/to_timestamp", pa.float64())]
    for key, f in writer.features.items():
        fields += [(f"stats/{key}/{s}", _stat_type(f, s)) for s in STAT_KEYS]
    fields += [("meta/episodes/chunk_index", pa.int64()), ("meta/episodes/file_index", pa.int64())]
    rows = []
    for row, stats in zip(writer.episodes, writer.stats):
        full = dict(row)
        for key in writer.features:
            for s in STAT_KEYS:
                full[f"stats/{key}/{s}"] = np.asarray(stats[key][s]).tolist()
        full["meta/episodes/chunk_index"] = full["meta/episodes/file_index"] = 0
        rows.append(full)
    schema = pa.schema(fields)
    return pa.table({name: pa.array([r[name] for r in rows], type) for name, type in fields}, schema=schema)


def write_metadata(root: Path, writer) -> dict:
    import pyarrow.parquet as pq

    meta = root / "meta"
    (meta / "episodes/chunk-000").mkdir(parents=True, exist_ok=True)
    pq.write_table(_tasks_table(writer.tasks), meta / "tasks.parquet")
    pq.write_table(_episodes_table(writer), root / EPISODES_PATH, compression="snappy")
    stats = {key: {s: np.asarray(v).tolist() for s, v in aggregate([e[key] for e in writer.stats]).items()}
             for key in writer.features}
    (meta / "stats.json").write_text(json.dumps(stats, indent=4))
    n = len(writer.episodes)
    has_video = any(f["dtype"] == "video" for f in writer.features.values())
    info = {"codebase_version": "v3.0", "fps": int(writer.fps) if float(writer.fps).is_integer() else writer.fps,
            "features": writer.features, "total_episodes": n, "total_frames": writer.rows,
            "total_tasks": len(writer.tasks), "chunks_size": 1000, "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 200, "data_path": V3_DATA, "video_path": V3_VIDEO if has_video else None,
            "robot_type": writer.robot_type, "splits": {"train": f"0:{n}"}}
    (meta / "info.json").write_text(json.dumps(info, indent=4))
    return info
