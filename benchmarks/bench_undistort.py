"""Undistortion cost per frame: the camera preprocessing with and without undistortion, in the same run.

For each frame size (640x480, 1280x720) and a 96x96 bundle camera:
- preprocess: the plain preprocessor (crop/resize/scale), the baseline;
- undistort + preprocess: the wrapper a bundle camera gets when it asks for undistorted input;
- remap alone: cv2.remap with the precomputed fixed-point maps (what undistortion adds);
- undistort uncached (reference): cv2.undistort, which rebuilds the maps every call.
The intrinsics are a plausible wide USB lens scaled to each size. Nothing is asserted (the machine is shared).

    python benchmarks/bench_undistort.py [--iters 300] [--out benchmarks/results/undistort.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import cv2
import numpy as np

from vla_lite.bundle.manifest import CameraSpec
from vla_lite.calib.camera_intrinsics import CameraIdentity, CameraIntrinsics
from vla_lite.cameras.preprocess import make_preprocessor
from vla_lite.cameras.undistort import Undistorter, make_camera_preprocessor

SIZES = {"640x480": (640, 480), "1280x720": (1280, 720)}


def intrinsics(w: int, h: int) -> CameraIntrinsics:
    f = 0.95 * w  # ~ 70 degree horizontal field of view
    K = ((f, 0.0, w / 2 - 0.5), (0.0, f, h / 2 + 1.0), (0.0, 0.0, 1.0))
    return CameraIntrinsics(K, (-0.28, 0.11, 0.0012, -0.0008, -0.02), (w, h), 0.0, (), "9x6", 25.0,
                            CameraIdentity("bench", (w, h)), "bench")


def time_ms(fn, iters: int, warmup: int = 10) -> dict:
    for _ in range(warmup):
        fn()
    out = np.empty(iters)
    for i in range(iters):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    out *= 1e3
    return {"p50": round(float(np.percentile(out, 50)), 4), "p90": round(float(np.percentile(out, 90)), 4),
            "max": round(float(out.max()), 4), "n": iters}


def bench_size(w: int, h: int, iters: int) -> dict:
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    plain = CameraSpec("front", 96, 96, "RGB", (0.0, 1.0), "area", None)
    asks = CameraSpec("front", 96, 96, "RGB", (0.0, 1.0), "area", None, undistort=True)
    intr = intrinsics(w, h)
    pre, und_pre, und = make_preprocessor(plain), make_camera_preprocessor(asks, intr), Undistorter(intr)
    K, dist = intr.K(), np.array(intr.dist)
    t0 = time.perf_counter()
    Undistorter(intr)
    maps_ms = (time.perf_counter() - t0) * 1e3
    r = {"preprocess (baseline)": time_ms(lambda: pre(frame), iters),
         "undistort + preprocess": time_ms(lambda: und_pre(frame), iters),
         "remap alone": time_ms(lambda: und(frame), iters),
         "cv2.undistort uncached (reference)": time_ms(lambda: cv2.undistort(frame, K, dist), max(20, iters // 5)),
         "build maps once (ms)": round(maps_ms, 3)}
    r["added by undistortion p50 (ms)"] = round(r["undistort + preprocess"]["p50"] - r["preprocess (baseline)"]["p50"], 4)
    return r


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=300, help="timed calls per case (default 300)")
    parser.add_argument("--out", default="benchmarks/results/undistort.json", help="write the JSON report here")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # the runtime's camera path shares 2 cores with inference; measure one thread
    results = {}
    for name, (w, h) in SIZES.items():
        results[name] = bench_size(w, h, args.iters)
        print(f"{name}:")
        for case, v in results[name].items():
            print(f"  {case:<38} " + (f"p50 {v['p50']:.3f} ms  p90 {v['p90']:.3f} ms" if isinstance(v, dict) else
                                      f"{v:.3f}"))
    report = {"benchmark": "undistort", "bundle_camera": "96x96 area RGB [0,1]", "cv2_threads": 1,
              "opencv": cv2.__version__, "machine": platform.machine(), "python": platform.python_version(),
              "results": results}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
