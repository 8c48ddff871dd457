"""Simulated tabletop benchmark: render frames/s per image size, and TabletopEnv steps/s for data generation.

Each render figure is measured next to a baseline in the same run: the shipped renderer (table and blocks cached,
arm drawn per frame) vs the same renderer redrawing the blocks every frame (a new World each frame). The arm
sweeps through a fixed pose sequence, so every frame differs. One thread (cv2.setNumThreads(1)).

    python benchmarks/bench_sim_render.py [--frames 3000] [--episodes 20] [--out benchmarks/results/sim_render.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np

from vla_lite.worlds.tabletop import TabletopEnv, ScriptedExpert, sample_world
from vla_lite.worlds.tabletop.render import Renderer

SIZES = (64, 96, 128, 224)
GOAL_FPS_96 = 500


def poses(n: int) -> np.ndarray:
    """(n, 4) arm poses sweeping the workspace, lift up and down."""
    t = np.linspace(0.0, 20.0, n)
    return np.stack([1.5 * np.sin(t), 1.2 + 1.2 * np.sin(0.7 * t), 0.06 + 0.06 * np.sin(1.3 * t),
                     0.02 + 0.02 * np.sin(t)], axis=1)


def render_fps(size: int, frames: int, *, cached: bool = True, antialias: bool = True) -> float:
    world = sample_world(0, 3)
    r = Renderer(size, antialias=antialias)
    qs = poses(frames)
    worlds = [world] * frames if cached else [dataclasses.replace(world) for _ in range(frames)]
    r.render(world, qs[0])  # warm-up
    t0 = time.perf_counter()
    for w, q in zip(worlds, qs):
        r.render(w, q)
    return frames / (time.perf_counter() - t0)


def env_rate(episodes: int, size_px: int) -> dict:
    """Expert episodes in TabletopEnv at 20 Hz, chunk 8 replanned every 4 steps, rendering every step."""
    env, expert = TabletopEnv(size_px=size_px), ScriptedExpert()
    steps, successes = 0, 0
    t0 = time.perf_counter()
    for seed in range(episodes):
        obs, k = env.reset(seed), 0
        while not obs["done"]:
            if k % 4 == 0:
                chunk = expert.action_chunk(obs["positions"], env.episode.world, 8, env.rate_hz)
            obs = env.step(chunk[k % 4])
            k += 1
        steps += env.steps
        successes += env.success
    dt = time.perf_counter() - t0
    return {"episodes": episodes, "steps": steps, "steps_per_s": round(steps / dt),
            "episodes_per_s": round(episodes / dt, 1), "expert_success": successes / episodes,
            "sim_speedup_vs_real_time": round(steps / env.rate_hz / dt, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--out", default="benchmarks/results/sim_render.json")
    args = ap.parse_args()
    if args.frames < 10 or args.episodes < 1:
        ap.error(f"--frames must be >= 10 and --episodes >= 1, got {args.frames} and {args.episodes}")
    import cv2
    cv2.setNumThreads(1)

    render = {}
    for size in SIZES:
        fast = render_fps(size, args.frames)
        naive = render_fps(size, max(10, args.frames // 3), cached=False)
        no_aa = render_fps(size, args.frames, antialias=False)
        render[str(size)] = {"fps": round(fast), "fps_blocks_redrawn_each_frame": round(naive),
                             "fps_no_antialias": round(no_aa), "us_per_frame": round(1e6 / fast, 1)}
        print(f"render {size:3d} px: {fast:8,.0f} frames/s ({1e6 / fast:6.1f} us); blocks redrawn every frame "
              f"{naive:8,.0f}/s (cache {fast / naive:.1f}x); no anti-aliasing {no_aa:8,.0f}/s")
    print(f"goal at 96 px: >= {GOAL_FPS_96} frames/s on one core: "
          f"{'met' if render['96']['fps'] >= GOAL_FPS_96 else 'MISSED'}")
    env = env_rate(args.episodes, 96)
    print(f"TabletopEnv + expert, 96 px rendered each step: {env['steps_per_s']:,} steps/s, "
          f"{env['episodes_per_s']} episodes/s ({env['sim_speedup_vs_real_time']}x real time), "
          f"expert success {env['expert_success']:.0%}")

    result = {"benchmark": "sim_render", "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                                     "opencv": cv2.__version__},
              "frames": args.frames, "render": render, "goal_fps_96": GOAL_FPS_96, "env": env}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
