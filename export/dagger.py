"""The simulated worlds whose scripted expert labels any state: where DAgger rounds roll the student out.

`ExpertWorld.from_data(paths)` recognises the world demonstrations came from by their recording meta
(`info.source`): the tabletop (`vla-lite demo-data`), Meta-World (`vla-lite metaworld-demos`) or the SO-101
(`vla-lite so101-demos`), the last two with the tasks found in the data. Data from anywhere else (a robot,
LeRobot, robomimic) has no expert to ask: None.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCES = {"vla-lite demo-data": "tabletop", "vla-lite metaworld demos": "metaworld",
           "vla-lite so101 demos": "so101"}  # recording info.source
# Placement seeds of DAgger rollouts start here: disjoint from demonstrations' (demo_data.DEMO_SEED_BASE onwards)
# and from evaluation seeds (vla_lite.evaluate.EVAL_SEED_BASE).
DAGGER_SEED_BASE = 500_000


def source_world(meta: dict) -> str | None:
    """"tabletop", "metaworld" or "so101" for an episode's recording meta written by this project's demo commands."""
    return SOURCES.get((meta.get("info") or {}).get("source"))


@dataclass(frozen=True)
class ExpertWorld:
    kind: str  # "tabletop" | "metaworld" | "so101"
    tasks: tuple[str, ...] = ()  # Meta-World / SO-101 tasks, in first-seen order

    @classmethod
    def from_data(cls, paths) -> "ExpertWorld | None":
        kinds, tasks = set(), []
        for meta in _episode_metas(paths):
            kinds.add(source_world(meta))
            task = (meta.get("info") or {}).get("task")
            if task and task not in tasks:
                tasks.append(task)
        if kinds == {"tabletop"}:
            return cls("tabletop")
        if len(kinds) == 1 and kinds <= {"metaworld", "so101"} and tasks:
            return cls(kinds.pop(), tuple(tasks))
        return None

    def record(self, out_dir, seed0: int, episodes: int, policy, *, size_px: int, chunk: int, rate_hz: float,
               cameras: tuple[str, ...] = ("front",), progress: bool = False, extra_meta: dict | None = None,
               weights: dict[str, float] | None = None) -> dict:
        """Roll `policy(obs, env) -> action` out for about `episodes` episodes (Meta-World: spread over the tasks,
        evenly or in proportion to `weights` per task, at least one each) from seed0; the expert labels every
        visited state. `cameras`: the policy's camera names (Meta-World renders these views; the tabletop has its
        one camera). Returns the recorder's summary."""
        if self.kind == "tabletop":
            from vla_lite.worlds.tabletop.demos import record_tabletop_demos

            return record_tabletop_demos(out_dir, range(seed0, seed0 + episodes), rate_hz=rate_hz,
                                         size_px=size_px, chunk=chunk, policy=policy, label_source="expert",
                                         progress=progress, extra_meta=extra_meta)
        n = allocate(episodes, self.tasks, weights) if weights is not None else \
            dict.fromkeys(self.tasks, max(1, math.ceil(episodes / len(self.tasks))))
        if self.kind == "so101":
            from vla_lite.worlds.so101.demos import record_so101_demos

            return record_so101_demos(out_dir, self.tasks, {t: range(seed0, seed0 + k) for t, k in n.items()},
                                      policy=policy, size_px=size_px, views=cameras, label_source="expert",
                                      progress=progress, extra_meta=extra_meta)
        from vla_lite.worlds.metaworld.demos import record_metaworld_demos

        # Rollouts go through the runtime's safety filter at its default ramp-in (record_metaworld_demos).
        return record_metaworld_demos(out_dir, self.tasks, {t: range(seed0, seed0 + k) for t, k in n.items()},
                                      policy=policy, size_px=size_px, views=cameras, label_source="expert",
                                      progress=progress, extra_meta=extra_meta)

    def success_rate(self, policy, seed0: int, episodes: int, **kw) -> float:
        """In-process success over `episodes` seeded placements (nothing kept)."""
        with tempfile.TemporaryDirectory() as tmp:
            return self.record(tmp, seed0, episodes, policy, **kw)["success_rate"]


def allocate(episodes: int, tasks, weights: dict[str, float]) -> dict[str, int]:
    """Rollouts per task: at least one each, the rest in proportion to the weights (largest remainders), so the
    counts add up to max(episodes, len(tasks)). A task missing from `weights` weighs as much as the heaviest."""
    tasks = list(tasks)
    w = np.array([float(weights.get(t, max(weights.values(), default=1.0))) for t in tasks])
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"task weights must be finite, >= 0 and not all 0, got {weights}")
    spare = max(0, episodes - len(tasks))
    share = spare * w / w.sum()
    counts = np.floor(share).astype(int)
    for i in np.argsort(-(share - counts), kind="stable")[:spare - counts.sum()]:
        counts[i] += 1
    return {t: 1 + int(c) for t, c in zip(tasks, counts)}


def seed_end(past_round: dict) -> int:
    """One past the last placement seed a recorded round may have used (rounds from before seed0 was recorded
    used DAGGER_SEED_BASE + round · episodes onwards, at most `episodes` per task)."""
    if "seed_end" in past_round:
        return int(past_round["seed_end"])
    return DAGGER_SEED_BASE + (int(past_round["round"]) + 1) * int(past_round["episodes"])


def failure_weights(success: dict[str, float], floor: float = 0.2) -> dict[str, float]:
    """Rollout weight per task from its last success rate: 1 - success, plus a floor so solved tasks keep being
    visited (a policy can unlearn them)."""
    return {t: (1.0 - s) + floor for t, s in success.items()}


def first_episode_meta(path) -> dict:
    """The recording meta of the first episode under path ({} when there is none or it is unreadable)."""
    return next(_episode_metas([path]), {})


def _episode_metas(paths):
    for root in paths:
        for meta in sorted(Path(root).glob("episode_*/meta.json")):
            try:
                yield json.loads(meta.read_text())
            except (OSError, ValueError):
                yield {}  # unreadable: an unknown source, so no expert world
