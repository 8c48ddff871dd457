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


def _ms(samples_s: np.ndarray) -> dict:
    a = samples_s * 1e3
    return {"p50": round(float(np.percentile(a, 50)), 4), "p90": round(float(np.percentile(a, 90)), 4),
            "max": round(float(a.max()), 4), "n": int(a.size)}


def time_interleaved(cases: dict, iters: int, warmup: int = 10) -> dict:
    """Time every case once per round, round after round, so load from other processes hits all cases alike."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    samples = {name: np.empty(iters) for name in cases}
    for i in range(iters):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            samples[name][i] = time.perf_counter() - t0
    return {name: _ms(s) for name, s in samples.items()}


def bench_size(w: int, h: int, iters: int) -> dict:
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    plain = CameraSpec("front", 96, 96, "RGB", (0.0, 1.0), "area", None)
    asks = CameraSpec("front", 96, 96, "RGB", (0.0, 1.0), "area", None, undistort=True)
    intr = intrinsics(w, h)
    t0 = time.perf_counter()
    und = Undistorter(intr)
    maps_ms = (time.perf_counter() - t0) * 1e3
    pre, und_pre = make_preprocessor(plain), make_camera_preprocessor(asks, intr)
    K, dist = intr.K(), np.array(intr.dist)
    r = time_interleaved({"preprocess (baseline)": lambda: pre(frame),
                          "undistort + preprocess": lambda: und_pre(frame),
                          "remap alone": lambda: und(frame),
                          "cv2.undistort uncached (reference)": lambda: cv2.undistort(frame, K, dist)}, iters)
    r["build maps once (ms)"] = round(maps_ms, 3)
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
              "load_average_1min": round(os.getloadavg()[0], 2), "results": results}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}")
    plot(results, os.path.splitext(args.out)[0] + ".png")
    return 0


def plot(results: dict, path: str) -> None:
    """Bars of p50 / p90 per case and frame size (skipped without matplotlib, the dev extra)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    cases = [c for c, v in next(iter(results.values())).items() if isinstance(v, dict)]
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.2))
    for ax, (size, r) in zip(np.atleast_1d(axes), results.items()):
        y = np.arange(len(cases))
        ax.barh(y, [r[c]["p90"] for c in cases], color="#bbb", label="p90")
        ax.barh(y, [r[c]["p50"] for c in cases], color="#369", label="p50")
        ax.set_yticks(y, cases, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms per frame (1 OpenCV thread)")
        ax.set_title(f"{size} -> 96x96")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
