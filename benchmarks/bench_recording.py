"""Recording benchmark: what `EpisodeRecorder.record_tick` costs the control thread, at 96x96 and 640x480.

Each size is measured four ways in the same run:
- paced: one tick per period (default 50 Hz) with a new camera frame every tick, as `vla-lite run --record` does,
  record_tick called after 1 ms of numpy work standing in for observe/infer/send (inside a real tick the code
  paths are warm);
- paced_cold: the same, record_tick called straight after the sleep; `cold_floor` times a trivial numpy call that
  way (on this machine any code costs tens of microseconds right after a 20 ms sleep);
- burst: ticks back to back (the writer cannot keep up; frames are dropped and counted, ticks never);
- inline baseline: the same tick encoded (JPEG q90) and written in the calling thread, as a naive recorder would,
  paced like `paced`.

    python benchmarks/bench_recording.py [--ticks 200] [--rate 50] [--out benchmarks/results/recording.json]
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

from vla_lite.cameras.base import Frame
from vla_lite.pacing import percentiles
from vla_lite.recording import EpisodeRecorder, read_episode
from vla_lite.recording.codec import encode_frame
from vla_lite.recording.files import dumps
from vla_lite.recording.format import encode_vector

NAMES = ["j1", "j2", "j3", "j4", "j5", "j6", "gripper"]
UNITS = ["rad"] * 6 + ["m"]


def camera_images(h: int, w: int, n: int = 8) -> list[np.ndarray]:
    """Camera-like pictures (smooth shading plus sensor noise): JPEG cost depends on content."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    out = []
    for i in range(n):
        base = np.stack([128 + 90 * np.sin(x / 17 + i), 128 + 90 * np.cos(y / 13 - i), 60 + 0 * x], -1)
        out.append(np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8))
    return out


def tick(step: int, image: np.ndarray) -> dict:
    s = np.full(7, 0.01 * step)
    return dict(step=step, t_s=0.02 * step, frames={"front": Frame(image, 0.02 * step, step)}, state=s, measured=s,
                predicted=s, commanded=s, held=False, reason=None, inferred=step % 4 == 0,
                timing_ms={"observe": 0.3, "infer": 3.1, "act": 0.05, "send": 0.08}, faults=[])


def stats_us(samples: list[float]) -> dict:
    return percentiles(samples, stats=("max", "mean"), scale=1e6, digits=1)


def tick_work(duration_s: float, image: np.ndarray) -> None:
    """Stand-in for a tick's observe/infer/send: numpy work (after a sleep, the first numpy call of a tick costs
    ~20x a warm one here; a spin in pure Python does not warm it)."""
    end, a = time.perf_counter() + duration_s, np.ones((8, 8))
    while time.perf_counter() < end:
        (image.astype(np.float32) / 255.0).sum()
        np.isfinite(a @ a).all()
        np.array(a[0], dtype=np.float64).tolist()


def cold_floor(ticks: int, period_s: float) -> dict:
    """A trivial numpy function timed straight after each sleep: the machine's floor for a 'cold' call."""
    samples, deadline, s = [], time.monotonic(), np.zeros(7)
    for _ in range(ticks):
        deadline += period_s
        time.sleep(max(0.0, deadline - time.monotonic()))
        t0 = time.perf_counter()
        np.array(s, dtype=np.float64).tolist()
        samples.append(time.perf_counter() - t0)
    return stats_us(samples)


def run(root: pathlib.Path, h: int, w: int, ticks: int, period_s: float | None, work_s: float = 0.0) -> dict:
    images = camera_images(h, w)
    rec = EpisodeRecorder(root, {"front": (h, w)}, NAMES, NAMES, state_units=UNITS, action_units=UNITS, rate_hz=50.0)
    rec.start_episode("pick up the cube")
    samples, deadline = [], time.monotonic()
    for step in range(ticks):
        if period_s is not None:
            deadline += period_s
            time.sleep(max(0.0, deadline - time.monotonic()))
        args = tick(step, images[step % len(images)])
        if period_s is not None and work_s:
            tick_work(work_s, args["frames"]["front"].image)
        t0 = time.perf_counter()
        rec.record_tick(**args)
        samples.append(time.perf_counter() - t0)
    dropped = rec.stats["frames_dropped"]["front"]
    t0 = time.perf_counter()
    path = rec.end_episode(True)
    end_ms = 1e3 * (time.perf_counter() - t0)
    rec.close()
    ep = read_episode(path)
    if len(ep) != ticks:
        raise RuntimeError(f"{ticks} ticks recorded but {len(ep)} read back")
    size = sum(f.stat().st_size for f in path.iterdir())
    return {**stats_us(samples), "frames_dropped": dropped, "end_episode_ms": round(end_ms, 1),
            "bytes_per_tick": round(size / ticks)}


def inline_baseline(root: pathlib.Path, h: int, w: int, ticks: int, period_s: float) -> dict:
    """Encode and write in the calling thread, paced like `paced`: what record_tick would cost without the writer."""
    images = camera_images(h, w)
    samples, deadline = [], time.monotonic()
    with open(root / "inline.mjpeg", "ab") as video, open(root / "inline.jsonl", "ab") as rows:
        for step in range(ticks):
            deadline += period_s
            time.sleep(max(0.0, deadline - time.monotonic()))
            a = tick(step, images[step % len(images)])
            tick_work(0.001, a["frames"]["front"].image)
            t0 = time.perf_counter()
            video.write(encode_frame(a["frames"]["front"].image, "jpeg", 90))
            row = {k: encode_vector(a[k]) for k in ("state", "measured", "predicted", "commanded")}
            rows.write((dumps({"step": step, **row, "timing_ms": a["timing_ms"]}) + "\n").encode())
            video.flush()
            rows.flush()
            samples.append(time.perf_counter() - t0)
    return stats_us(samples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--rate", type=float, default=50.0, help="paced run, Hz")
    ap.add_argument("--out", default="benchmarks/results/recording.json")
    args = ap.parse_args()

    floor = cold_floor(args.ticks, 1.0 / args.rate)
    print(f"cold floor (trivial numpy call straight after a sleep): p50 {floor['p50']} us, p99 {floor['p99']} us")
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for h, w in ((96, 96), (480, 640)):
            root = pathlib.Path(tmp) / f"{h}x{w}"
            root.mkdir()
            r = {"paced": run(root, h, w, args.ticks, 1.0 / args.rate, work_s=0.001),
                 "paced_cold": run(root, h, w, args.ticks, 1.0 / args.rate),
                 "burst": run(root, h, w, args.ticks, None),
                 "inline_baseline": inline_baseline(root, h, w, args.ticks, 1.0 / args.rate)}
            sizes[f"{h}x{w}"] = r
            p, c, b, i = r["paced"], r["paced_cold"], r["burst"], r["inline_baseline"]
            print(f"{h}x{w} record_tick, paced {args.rate:g} Hz ({p['n']}): p50 {p['p50']} us, p99 {p['p99']} us, "
                  f"max {p['max']} us, frames dropped {p['frames_dropped']}, {p['bytes_per_tick']} B/tick, "
                  f"end_episode {p['end_episode_ms']} ms (goal p99 < 500 us at 96x96)")
            print(f"  cold, straight after the sleep: p50 {c['p50']} us, p99 {c['p99']} us")
            print(f"  burst ({b['n']}): p50 {b['p50']} us, p99 {b['p99']} us, frames dropped {b['frames_dropped']}"
                  f"; inline encode+write baseline: p50 {i['p50']} us, p99 {i['p99']} us "
                  f"(p50 ratio {i['p50'] / p['p50']:.0f}x)")
    result = {"benchmark": "recording", "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              "ticks": args.ticks, "rate_hz": args.rate, "image_format": "jpeg", "quality": 90,
              "record_tick_us": sizes, "cold_floor_us": floor, "goal_us": {"96x96_p99": 500}}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
