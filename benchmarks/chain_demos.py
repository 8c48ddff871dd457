"""Demonstration steps of the Meta-World chain (metaworld_chain.py) beyond recording them: a full set of successful
demonstrations for tasks whose scripted expert sometimes fails, and another run's demonstrations reused.

The training reader drops failed episodes (export/datasets/checks.py), so a task whose expert solves 12 of 20
placements under the recorder's conditions (benchmarks/metaworld_experts.py: ramp-in and DART noise) would train
on ~30 demonstrations, not the 50 asked for. `top_up_demos` records more placements of such tasks, on seeds after
the ones used, into demos_more/ until each task has its number of successful demonstrations. It counts what is on
disk, so a chain stopped anywhere in its demonstrations completes them when rerun.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from chain_steps import VLA, sh

MIN_RATE = 0.25  # an expert's success rate assumed at worst when sizing a top-up (more passes follow if short)
PASSES = 4


def demo_counts(out: Path, pattern: str = "demos*", successful: bool = True) -> dict[str, tuple[int, int]]:
    """task -> (finished episodes, successful ones only when `successful`, the next unused seed) over out/PATTERN/."""
    counts: dict[str, tuple[int, int]] = {}
    for meta_path in sorted(out.glob(f"{pattern}/episode_*/meta.json")):
        meta = json.loads(meta_path.read_text())
        info = meta.get("info") or {}
        ok, next_seed = counts.get(info["task"], (0, 0))
        counted = not meta_path.parent.name.endswith(".partial") and (meta.get("success") is True or not successful)
        counts[info["task"]] = (ok + counted, max(next_seed, info["seed"] + 1))
    return counts


def top_up_demos(out: Path, tasks: list[str], s: dict, log: Path) -> dict:
    """More noisy expert demonstrations of each task with fewer than s["demos"] successful ones, into
    out/demos_more/. Returns {task: episodes added}."""
    added: dict[str, int] = {}
    for _ in range(PASSES):
        counts = demo_counts(out)
        short = {t: counts.get(t, (0, 0)) for t in tasks if counts.get(t, (0, 0))[0] < s["demos"]}
        for task, (ok, next_seed) in short.items():
            rate = ok / next_seed if next_seed else 1.0
            episodes = math.ceil((s["demos"] - ok) / max(rate, MIN_RATE))
            sh(VLA + ["metaworld-demos", "--out", str(out / "demos_more"), "--tasks", task, "--episodes",
                      str(episodes), "--seed", str(next_seed), "--noise", "1", "--size", str(s["image"]),
                      "--views", s["views"], "--json"], log)
            added[task] = added.get(task, 0) + episodes
        if not short:
            break
    return added


def link_demos(run: Path, out: Path) -> None:
    """Symlink RUN's demonstration folders (and its calibration episodes, once recorded) into out: a run with the
    same demo settings."""
    if not (run / "demos").is_dir():
        raise SystemExit(f"--demos-from {run}: no demos/ there")
    for folder in sorted(run.glob("demos*")) + ([run / "calib"] if (run / "calib").is_dir() else []):
        if not (out / folder.name).exists():
            (out / folder.name).symlink_to(folder.resolve(), target_is_directory=True)


def record_calib(out: Path, tasks: list[str], s: dict, log: Path, first_seed: int, episodes: int = 4) -> dict:
    """`episodes` episodes per task into out/calib/ from first_seed (int8 calibration and parity), recorded as the
    chain always did; a stopped recording is completed when rerun, on seeds after the ones used. Tasks missing as
    many episodes from the same seed are recorded by one command. Returns {task: episodes added}."""
    counts, todo = demo_counts(out, "calib", successful=False), {}
    for task in tasks:
        done, next_seed = counts.get(task, (0, first_seed))
        if done < episodes:
            todo.setdefault((episodes - done, max(next_seed, first_seed)), []).append(task)
    for (missing, seed), group in todo.items():
        sh(VLA + ["metaworld-demos", "--out", str(out / "calib"), "--tasks", ",".join(group), "--episodes",
                  str(missing), "--seed", str(seed), "--size", str(s["image"]), "--views", s["views"], "--json"], log)
    return {task: missing for (missing, _), group in todo.items() for task in group}
