"""Chain runs on disk: which runs a continued run came from, and the folders each recorded to train on.

A chain run (benchmarks/metaworld_chain.py) writes <run>/metaworld.json; a continuation (`--more-from RUN`) names
the run it continued in `continued_from`. Its student is then trained on what every run in that lineage recorded:
the demonstrations (demos*/) and the DAgger rounds (dagger/round_*) that hold episodes.
"""

from __future__ import annotations

import json
from pathlib import Path

from .dagger import first_episode_meta

RESULTS = "metaworld.json"


def lineage(run: Path) -> list[tuple[Path, dict]]:
    """RUN and the runs it continued (`continued_from`), oldest first, each with its metaworld.json. A run
    recorded from another directory is looked for beside RUN (a sibling of that name); a loop is refused."""
    chain, seen = [], set()
    while run is not None:
        if run.resolve() in seen:
            raise ValueError(f"{run}: its {RESULTS} continues a run it came from (a loop)")
        seen.add(run.resolve())
        result = json.loads((run / RESULTS).read_text())
        chain.insert(0, (run, result))
        came = Path(result["continued_from"]) if result.get("continued_from") else None
        run = came if came is None or came.exists() else run.parent / came.name
    return chain


def training_folders(runs: list[tuple[Path, dict]]) -> tuple[list[str], list[str]]:
    """(demonstration folders, DAgger round folders) of the runs, in order: each run's demos*/ and dagger/round_*
    that hold episodes."""
    def having_episodes(pattern):
        return [str(d) for run, _ in runs for d in sorted(run.glob(pattern)) if first_episode_meta(d)]

    return having_episodes("demos*"), having_episodes("dagger/round_*")
