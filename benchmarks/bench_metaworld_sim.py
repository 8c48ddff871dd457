"""Meta-World benchmark: physics step and render cost, data-generation rate, and scripted-expert success on MT10.

- step: one 12.5 ms env step (5 MuJoCo steps) per MT10 task, driven by the expert; new_episode (seeded reset) and
  building a task's env once.
- render: SceneRenderer's fast recipe (offsamples 0, no shadows or reflections) at 64/96/128 px, against
  MuJoCo's default settings as Meta-World ships them (multisampling, 4096² shadows, reflections) at 96 px, same
  camera, the hand moving between frames. Which GL backend MUJOCO_GL chose is recorded.
- data: MetaWorldEnv expert episodes rendering every step at 96 px (what record_metaworld_demos runs).
- expert: success of Meta-World's scripted experts through MetaWorldEnv (the controller, EE_DELTA units) on
  --seeds placements per MT10 task (NOTES: 98.4 % over 2,500 episodes).

    python benchmarks/bench_metaworld_sim.py [--seeds 10] [--frames 300] [--out benchmarks/results/metaworld_sim.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from vla_lite.worlds.metaworld import MT10, MetaWorldEnv, SceneRenderer, TaskScene
from vla_lite.worlds.metaworld.expert import MetaWorldExpert
from vla_lite.worlds.metaworld.scene import import_metaworld

SIZES = (64, 96, 128)


def ms(dt_s: float, n: int) -> float:
    return round(1e3 * dt_s / max(1, n), 3)


def step_costs(steps: int) -> dict:
    out = {}
    for task in MT10:
        t0 = time.perf_counter()
        scene = TaskScene(task)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for seed in range(10):
            scene.reset(seed)
        reset_s = time.perf_counter() - t0
        expert, obs, n, t_step = MetaWorldExpert(task), scene.obs, 0, 0.0
        while n < steps:
            a = expert.action(obs)
            t0 = time.perf_counter()
            obs = scene.step(a)
            t_step += time.perf_counter() - t0
            n += 1
            if n % 250 == 0:
                obs = scene.reset(n)
        out[task] = {"build_ms": ms(build_s, 1), "new_episode_ms": ms(reset_s, 10), "step_ms": ms(t_step, n)}
        scene.close()
    return out


def render_costs(frames: int) -> dict:
    _, mj = import_metaworld()
    out = {}
    scene, expert = TaskScene("pick-place-v3"), MetaWorldExpert("pick-place-v3")
    scene.reset(0)
    for size in SIZES:
        r = SceneRenderer(size)
        t0 = time.perf_counter()
        r.render_scene(scene)
        first_s = time.perf_counter() - t0
        total = 0.0
        for _ in range(frames):
            scene.step(expert.action(scene.obs))
            t0 = time.perf_counter()
            r.render_scene(scene)
            total += time.perf_counter() - t0
        r.close()
        out[str(size)] = {"ms_per_frame": ms(total, frames), "fps": round(frames / total),
                          "first_frame_ms": ms(first_s, 1)}
    default_scene = TaskScene("pick-place-v3")  # a model Meta-World's defaults were not changed on
    default_scene.reset(0)
    q = default_scene.model.vis.quality
    settings = {"offsamples": int(q.offsamples), "shadowsize": int(q.shadowsize)}
    r = mj.Renderer(default_scene.model, 96, 96)
    cam = SceneRenderer(96).camera
    r.update_scene(default_scene.data, camera=cam)
    r.render()  # warm-up
    n, total = max(5, frames // 20), 0.0
    for _ in range(n):
        default_scene.step(np.zeros(4))
        t0 = time.perf_counter()
        r.update_scene(default_scene.data, camera=cam)
        r.render()
        total += time.perf_counter() - t0
    r.close()
    out["96_metaworld_defaults"] = {"ms_per_frame": ms(total, n), "fps": round(n / total), "settings": settings}
    out["speedup_96"] = round(out["96_metaworld_defaults"]["ms_per_frame"] / out["96"]["ms_per_frame"], 1)
    return out


def data_rate(episodes: int) -> dict:
    env, steps = MetaWorldEnv("pick-place-v3", size_px=96), 0
    t0 = time.perf_counter()
    for seed in range(episodes):
        obs = env.reset(seed)
        while not obs["done"]:
            obs = env.step(env.expert_ee_delta())
        steps += env.steps
    dt = time.perf_counter() - t0
    env.close()
    return {"task": "pick-place-v3", "episodes": episodes, "steps": steps, "steps_per_s": round(steps / dt),
            "sim_speedup_vs_real_time": round(steps * env.period_s / dt, 1)}


def expert_success(seeds: int) -> dict:
    per, ok_all, n_all = {}, 0, 0
    for task in MT10:
        env, ok, steps = MetaWorldEnv(task, render=False), 0, []
        for seed in range(seeds):
            obs = env.reset(seed)
            while not obs["done"]:
                obs = env.step(env.expert_ee_delta())
            ok += env.success
            steps.append(env.steps)
        env.close()
        per[task] = {"successes": ok, "episodes": seeds, "mean_steps": round(float(np.mean(steps)), 1)}
        ok_all, n_all = ok_all + ok, n_all + seeds
    return {"seeds_per_task": seeds, "success_rate": round(ok_all / n_all, 4), "successes": ok_all,
            "episodes": n_all, "tasks": per}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="expert episodes per MT10 task")
    ap.add_argument("--frames", type=int, default=300, help="rendered frames per size")
    ap.add_argument("--steps", type=int, default=1000, help="physics steps timed per task")
    ap.add_argument("--out", default="benchmarks/results/metaworld_sim.json")
    args = ap.parse_args()
    if args.seeds < 1 or args.frames < 20 or args.steps < 10:
        ap.error(f"need --seeds >= 1, --frames >= 20, --steps >= 10; got {args.seeds}, {args.frames}, {args.steps}")
    metaworld, mujoco = import_metaworld()
    from vla_lite.report import write_json

    report = {"benchmark": "metaworld_sim",
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "metaworld": metaworld.__version__ if hasattr(metaworld, "__version__") else "3.1.1",
                          "mujoco": mujoco.__version__, "MUJOCO_GL": os.environ.get("MUJOCO_GL")}}
    report["step"] = step_costs(args.steps)
    steps_ms = [v["step_ms"] for v in report["step"].values()]
    print(f"env step: {min(steps_ms):.2f}-{max(steps_ms):.2f} ms per 12.5 ms step; new_episode "
          f"{np.mean([v['new_episode_ms'] for v in report['step'].values()]):.1f} ms; building a task's env "
          f"{np.mean([v['build_ms'] for v in report['step'].values()]):.0f} ms", flush=True)
    report["render"] = render_costs(args.frames)
    rr = report["render"]
    print("render (fast): " + ", ".join(f"{s} px {rr[str(s)]['ms_per_frame']:.2f} ms ({rr[str(s)]['fps']} fps)"
                                        for s in SIZES)
          + f"; Meta-World defaults at 96 px {rr['96_metaworld_defaults']['ms_per_frame']:.1f} ms "
            f"(x{rr['speedup_96']})", flush=True)
    report["data"] = data_rate(max(2, args.seeds // 2))
    print(f"data generation (96 px, every step rendered): {report['data']['steps_per_s']} steps/s, "
          f"{report['data']['sim_speedup_vs_real_time']}x real time", flush=True)
    report["expert"] = expert_success(args.seeds)
    e = report["expert"]
    print(f"expert success: {e['successes']}/{e['episodes']} = {100 * e['success_rate']:.1f} %; "
          + ", ".join(f"{t.replace('-v3', '')} {v['successes']}/{v['episodes']}" for t, v in e["tasks"].items()))
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
