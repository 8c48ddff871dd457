"""Dataset reading benchmark: frames decoded per second from a LeRobot AV1 dataset, and rows per second through
`train`'s loader.

A LeRobot v3.0 dataset is written first with `vla-lite convert`'s writer as LeRobot records by default (AV1,
SVT-AV1, yuv420p, g=2, crf=30): --episodes episodes of --frames frames at --size px (a gradient with a moving
block, like the shared fixtures). Then, in the same run:
- pyav: every row's frame through the dataset reader (vla_lite.export.datasets, PyAV, seek-by-timestamp as LeRobot);
- opencv: the same files read frame by frame with cv2.VideoCapture, the baseline. OpenCV 5 decodes AV1; OpenCV
  4.8-4.13 (LeRobot pins < 4.14) open the file and decode nothing, which is reported, not timed;
- loader: rows/s through `export.train.load_training_data` (screening, statistics, preprocessing into the TrainSet),
  with the text encoder replaced by a fixed vector so only the data path is timed.

    python benchmarks/bench_datasets.py [--episodes 6] [--frames 150] [--size 128] [--out benchmarks/results/datasets.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np

from vla_lite.export.datasets import EpisodeData, open_dataset
from vla_lite.export.datasets.episode import FrameSequence
from vla_lite.export.datasets.lerobot_writer import write_lerobot
from vla_lite.export.datasets.video_encode import VideoCodec


def synthetic_episodes(episodes: int, frames: int, size: int) -> list[EpisodeData]:
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 255 // size, y * 255 // size, np.full_like(x, 90)], axis=-1).astype(np.uint8)

    def frame(e: int, k: int) -> np.ndarray:
        img = base.copy()
        b = size // 8
        px, py = (k * 3 + e * 17) % (size - b), (k * 2 + e * 29) % (size - b)
        img[py:py + b, px:px + b] = 255
        return img

    rng = np.random.default_rng(0)
    out = []
    for e in range(episodes):
        state = rng.normal(size=(frames, 6)).astype(np.float32)
        out.append(EpisodeData(source="bench", index=e, instruction=f"task {e % 3}", fps=30.0, state=state,
                               actions=state + np.float32(0.1), timestamps=np.arange(frames) / 30.0,
                               frames={"front": FrameSequence(frames, lambda k, e=e: frame(e, k))}))
    return out


def time_pyav(root: pathlib.Path) -> dict:
    ds = open_dataset(root)
    n, start = 0, time.perf_counter()
    for ep in ds:
        for img in ep.frames["front"]:
            n += 1
    seconds = time.perf_counter() - start
    return {"frames": n, "seconds": round(seconds, 3), "frames_per_s": round(n / seconds, 1)}


def time_opencv(root: pathlib.Path) -> dict:
    import cv2

    files = sorted(root.glob("videos/*/chunk-*/file-*.mp4"))
    n, start = 0, time.perf_counter()
    for f in files:
        cap = cv2.VideoCapture(str(f))
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            n += 1
        cap.release()
    seconds = time.perf_counter() - start
    out = {"opencv": cv2.__version__, "frames": n, "seconds": round(seconds, 3)}
    if n == 0:
        out["note"] = "OpenCV opened the AV1 file but decoded no frame (OpenCV < 5)"
    else:
        out["frames_per_s"] = round(n / seconds, 1)
    return out


def time_loader(root: pathlib.Path) -> dict:
    from vla_lite.export.train import load_training_data

    start = time.perf_counter()
    ts, *_ = load_training_data([root], 10, None, lambda text: np.ones(384, np.float32) / np.sqrt(384),
                                progress=False)
    seconds = time.perf_counter() - start
    return {"rows": len(ts), "seconds": round(seconds, 3), "rows_per_s": round(len(ts) / seconds, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=6)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--out", default="benchmarks/results/datasets.json")
    args = ap.parse_args()
    os.environ.setdefault("SVT_LOG", "1")
    import av
    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "lerobot_av1"
        eps = synthetic_episodes(args.episodes, args.frames, args.size)
        write_lerobot(lambda: iter(eps), root, video=VideoCodec.AV1)
        pyav, opencv, loader = time_pyav(root), time_opencv(root), time_loader(root)
    result = {"dataset": {"format": "LeRobot v3.0", "codec": "av1 (SVT-AV1, yuv420p, g=2, crf=30)",
                          "episodes": args.episodes, "frames_per_episode": args.frames, "size_px": args.size},
              "pyav": {"av": av.__version__, **pyav}, "opencv": opencv, "loader": loader,
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "opencv": cv2.__version__}}
    if "frames_per_s" in opencv:
        result["pyav_over_opencv"] = round(pyav["frames_per_s"] / opencv["frames_per_s"], 2)
    print(json.dumps(result, indent=1))
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
