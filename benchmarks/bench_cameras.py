"""Camera-side costs on the control path: `python benchmarks/bench_cameras.py [--iters N] [--out FILE.json]`.

- preprocess: one 640x480 frame -> the graph input, per typical CameraSpec, beside plain cv2.resize(INTER_AREA);
- read: ThreadedCamera.read() cost, and the age of the frame a 50 Hz loop gets from a 30 fps source.
Figures are printed and written as JSON; nothing is asserted (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from vla_lite.bundle.manifest import CameraSpec
from vla_lite.cameras import ThreadedCamera, make_preprocessor
from vla_lite.cameras.frame_pacer import FramePacer
from vla_lite.pacing import percentiles_ms

SPECS = {
    "96x96 area RGB [0,1]": CameraSpec("front", 96, 96, "RGB", (0.0, 1.0), "area", None),
    "96x96 area BGR [-1,1] crop 400x480": CameraSpec("front", 96, 96, "BGR", (-1.0, 1.0), "area", (40, 80, 400, 480)),
    "96x128 area (whole factor 5)": CameraSpec("front", 96, 128, "RGB", (0.0, 1.0), "area", None),
    "128x128 area": CameraSpec("front", 128, 128, "RGB", (0.0, 1.0), "area", None),
    "224x224 area": CameraSpec("front", 224, 224, "RGB", (0.0, 1.0), "area", None),
    "96x96 linear": CameraSpec("front", 96, 96, "RGB", (0.0, 1.0), "linear", None),
}


def _time(fn, iters: int, warmup: int = 5) -> dict:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return percentiles_ms(out)


class _SyntheticSource:
    """A 640x480 source paced at fps, like a USB camera (no device needed)."""

    def __init__(self, fps: float):
        self.pacer = FramePacer(fps, time.monotonic, time.sleep)
        self.image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)

    def grab(self):
        self.pacer.wait()
        return self.image.copy()  # a device hands out a new buffer per frame

    def close(self):
        pass


def bench_preprocess(iters: int) -> dict:
    import cv2

    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    out = {name: _time(lambda p=make_preprocessor(spec): p(frame), iters) for name, spec in SPECS.items()}
    out["baseline cv2.resize INTER_AREA 96x96 (uint8 only)"] = _time(
        lambda: cv2.resize(frame, (96, 96), interpolation=cv2.INTER_AREA), iters)
    return out


def bench_read(seconds: float, loop_hz: float = 50.0, camera_fps: float = 30.0) -> dict:
    read_s, age_s = [], []
    with ThreadedCamera("bench", _SyntheticSource(camera_fps)) as cam:
        cam.wait()
        period, t_next = 1.0 / loop_hz, time.monotonic()
        while len(read_s) < seconds * loop_hz:
            t_next += period
            time.sleep(max(0.0, t_next - time.monotonic()))
            t0 = time.monotonic()
            frame = cam.read(0.5)
            t1 = time.monotonic()
            read_s.append(t1 - t0)
            age_s.append(t1 - frame.t_capture_s)
        counts = {"captured": cam.frames_captured, "dropped": cam.frames_dropped}
    return {"loop_hz": loop_hz, "camera_fps": camera_fps, "read_ms": percentiles_ms(read_s),
            "frame_age_ms": percentiles_ms(age_s), **counts}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_cameras.py", description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=300, help="timed calls per preprocessing case (default 300)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the read benchmark (default 3 s)")
    parser.add_argument("--out", help="write the JSON report here")
    args = parser.parse_args(argv)
    if args.iters < 1 or not args.seconds > 0:
        parser.error(f"--iters must be >= 1 and --seconds > 0, got {args.iters} and {args.seconds}")
    report = {"machine": platform.machine(), "python": platform.python_version(),
              "preprocess_640x480_ms": bench_preprocess(args.iters), "threaded_read": bench_read(args.seconds)}
    for name, fig in report["preprocess_640x480_ms"].items():
        print(f"preprocess {name:<50} p50 {fig['p50']:7.3f} ms  p99 {fig['p99']:7.3f} ms")
    r = report["threaded_read"]
    print(f"read() p50 {r['read_ms']['p50'] * 1e3:.1f} us p99 {r['read_ms']['p99'] * 1e3:.1f} us; frame age at a "
          f"{r['loop_hz']:g} Hz read of a {r['camera_fps']:g} fps camera p50 {r['frame_age_ms']['p50']:.1f} ms "
          f"p99 {r['frame_age_ms']['p99']:.1f} ms; captured {r['captured']}, dropped {r['dropped']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
