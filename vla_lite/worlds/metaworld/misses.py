"""Where a Meta-World policy's misses end: per episode, the closest the task's moving point came to its goal.

The moving point is the one Meta-World's success measures: the gripper's centre for reach, the peg's head for
peg-insert-side, the object for the others. A miss whose object never moved is a grasp or contact failure; one
whose closest approach is centimetres off in one axis is where the policy believed the goal to be.
benchmarks/metaworld_misses.py drives it with a student checkpoint and plots the result.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .env import MetaWorldEnv


def moving_point(env, task: str, obs39: np.ndarray) -> np.ndarray:
    """The world point (3,) whose distance to the goal Meta-World's success measures for `task`."""
    if task.startswith("reach"):
        return np.asarray(env.tcp_center, np.float64)  # the fingertips' midpoint, ~5 cm below the hand body
    if task.startswith("peg-insert"):
        return np.asarray(env._get_site_pos("pegHead"), np.float64)  # the peg's tip (the observation has its grip)
    return obs39[4:7]


def run_task(runner, task: str, episodes: int, seed0: int, size_px: int, views: tuple[str, ...],
             on_episode: Callable[[dict], None] | None = None) -> list[dict]:
    """One row per episode of `runner(obs, env) -> (4,) EE_DELTA` on (task, seed0 + k) in a MetaWorldEnv: the
    outcome, the closest approach of the moving point to the goal (m), the error vector goal - point then (m),
    the goal and that point (m, world x y z) and how far the object moved at all (m)."""
    rows = []
    with MetaWorldEnv(task, size_px=size_px, views=views) as env:
        for k in range(episodes):
            obs = env.reset(seed0 + k)
            scene = env.controller.scene
            start_obj = obs["obs39"][4:7].copy()
            best, moved = (np.inf, None, None), 0.0
            while not obs["done"]:
                obs = env.step(runner(obs, env))
                o = obs["obs39"]
                point = moving_point(scene.env, task, o)
                gap = o[36:39] - point
                dist = float(np.linalg.norm(gap))
                if dist < best[0]:
                    best = (dist, gap, point.copy())
                moved = max(moved, float(np.linalg.norm(o[4:7] - start_obj)))
            rows.append({"task": task, "seed": seed0 + k, "outcome": env.outcome, "steps": env.steps,
                         "closest_m": round(best[0], 4), "error_xyz_m": np.round(best[1], 4).tolist(),
                         "goal_xyz_m": np.round(obs["obs39"][36:39], 4).tolist(),
                         "closest_xyz_m": np.round(best[2], 4).tolist(), "object_moved_m": round(moved, 4)})
            if on_episode is not None:
                on_episode(rows[-1])
    return rows


def summary(rows: list[dict]) -> dict:
    """Per task: episodes, successes, misses whose object never moved (not for reach), and the misses' median
    closest approach and median absolute error per axis (m)."""
    out = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        miss = [r for r in mine if r["outcome"] != "success"]
        err = np.abs(np.array([r["error_xyz_m"] for r in miss])) if miss else np.zeros((0, 3))
        still = None if task.startswith("reach") else sum(r["object_moved_m"] < 0.01 for r in miss)  # no object
        out[task] = {"episodes": len(mine), "successes": len(mine) - len(miss), "misses_object_still": still,
                     "misses_median_closest_m": float(np.median([r["closest_m"] for r in miss])) if miss else None,
                     "misses_median_abs_error_xyz_m": np.round(np.median(err, 0), 4).tolist() if miss else None}
    return out
