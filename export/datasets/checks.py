"""Is an episode fit to train on? Synchronisation checks, outcome/length filtering, and a report of what was
dropped and why (printed, and returned as JSON-able data). Pure logic over EpisodeData, except that one frame of
each camera (and depth map) is decoded, so a video this machine cannot decode is refused up front with its path
and codec named rather than failing mid-training.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from .episode import DatasetError, EpisodeData


@dataclass(frozen=True)
class SyncConfig:
    period_tolerance: float = 0.25  # each step's Δt must be within (1 ± this) / fps; a dropped frame is 2 / fps
    max_missing_frames: int = 0  # rows allowed to lack a frame of their own (recordings whose frame was dropped)
    check_frames: bool = True  # compare each camera's frame count with the rows and decode its first frame

    def __post_init__(self):
        if not 0 < self.period_tolerance < 1:
            raise ValueError(f"period_tolerance must be in (0, 1) (a fraction of 1/fps), got {self.period_tolerance!r}")
        if self.max_missing_frames < 0:
            raise ValueError(f"max_missing_frames must be >= 0, got {self.max_missing_frames!r}")


@dataclass(frozen=True)
class FilterConfig:
    min_length: int = 1  # rows; shorter episodes are incomplete (e.g. the chunk length T)
    drop_failed: bool = True  # success False
    drop_unknown: bool = False  # success None (the source does not say)
    sync: SyncConfig = field(default_factory=SyncConfig)

    def __post_init__(self):
        if isinstance(self.min_length, bool) or not isinstance(self.min_length, int) or self.min_length < 1:
            raise ValueError(f"min_length must be an integer >= 1 (rows), got {self.min_length!r}")


@dataclass(frozen=True)
class Problem:
    code: str  # empty, row_count, timestamps_not_increasing, period_off_rate, nonfinite, frame_count,
    #            undecodable, missing_frames, failed, unknown_outcome, too_short
    detail: str


def check_episode(ep: EpisodeData, config: SyncConfig = SyncConfig()) -> list[Problem]:
    """Synchronisation problems of one episode (empty list: fine)."""
    out: list[Problem] = []
    n, t = len(ep.timestamps), ep.timestamps
    if n == 0:
        skipped = ep.meta.get("leading_ticks_skipped")
        return [Problem("empty", "the episode has no rows" + (
            f" ({skipped} recorded ticks, none with a finite state, a finite action and a frame from every camera)"
            if skipped else ""))]
    counts = {"state": len(ep.state), "actions": len(ep.actions)}
    expected = ep.meta.get("expected_rows")
    if expected is not None:
        counts["the metadata's length"] = int(expected)
    off = {k: v for k, v in counts.items() if v != n}
    if off:
        out.append(Problem("row_count", f"{n} timestamps but " + ", ".join(f"{v} {k} rows" if k in ("state", "actions")
                                                                          else f"{k} {v}" for k, v in off.items())))
    for name, a in (("timestamps", t[:, None]), ("state", ep.state), ("actions", ep.actions)):
        bad = ~np.isfinite(a)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            out.append(Problem("nonfinite", f"{name}: {int(bad.sum())} NaN/inf values in {len(rows)} rows, first row "
                                            f"{int(rows[0])}"))
    dt = np.diff(t)
    back = np.flatnonzero(~(dt > 0))
    if len(back):
        i = int(back[0])
        out.append(Problem("timestamps_not_increasing", f"{len(back)} steps do not move forward in time; first at "
                                                        f"row {i + 1}: t = {t[i + 1]:.6f} s after {t[i]:.6f} s"))
    period = 1.0 / ep.fps
    rel = np.abs(dt - period) / period
    late = np.flatnonzero(np.isfinite(rel) & (dt > 0) & (rel > config.period_tolerance))
    if len(late):
        w = int(late[np.argmax(rel[late])])
        hint = " (a dropped frame?)" if dt[w] > period else ""
        out.append(Problem("period_off_rate", f"{len(late)} steps off the {ep.fps:g} fps period ({period:.4f} s "
                                              f"± {config.period_tolerance:.0%}); worst row {w} -> {w + 1}: "
                                              f"{dt[w]:.4f} s{hint}"))
    for camera, frames in (*ep.frames.items(), *ep.depth.items()):
        if config.check_frames:
            out += _frame_problems(camera, frames, n)
        missing = 0 if frames.missing is None else int(frames.missing.sum())
        if missing > config.max_missing_frames:
            out.append(Problem("missing_frames", f"camera {camera!r}: {missing} rows saw no frame of their own "
                                                 f"(allowed {config.max_missing_frames})"))
    return out


def _frame_problems(camera: str, frames, n: int) -> list[Problem]:
    """The camera's frame count against the rows, and whether its first frame decodes."""
    try:
        count = frames.frame_count
        frames[0]
    except DatasetError as exc:  # a file that cannot be opened or decoded: path and codec are in the message
        return [Problem("undecodable", f"camera {camera!r}: {exc}")]
    if count != n:
        return [Problem("frame_count", f"camera {camera!r}: {count} frames for {n} rows")]
    return []


def screen_episode(ep: EpisodeData, config: FilterConfig = FilterConfig()) -> list[Problem]:
    """Every reason to drop the episode: synchronisation, outcome, length."""
    out = check_episode(ep, config.sync)
    if ep.success is False and config.drop_failed:
        out.append(Problem("failed", "the demonstration failed (success = false)"))
    if ep.success is None and config.drop_unknown:
        out.append(Problem("unknown_outcome", "the source does not say whether it succeeded"))
    if 0 < len(ep) < config.min_length:
        out.append(Problem("too_short", f"{len(ep)} rows; at least {config.min_length} needed"))
    return out


class FilterReport:
    """What was kept and dropped, per episode, with reasons; `to_dict()` is JSON-able."""

    def __init__(self, config: FilterConfig = FilterConfig()):
        self.config, self.episodes = config, []

    def add(self, ep: EpisodeData, problems: list[Problem]) -> None:
        self.episodes.append({"source": ep.source, "index": ep.index, "rows": len(ep), "kept": not problems,
                              "problems": [dataclasses.asdict(p) for p in problems]})

    @property
    def kept(self) -> list[tuple[str, int]]:
        return [(e["source"], e["index"]) for e in self.episodes if e["kept"]]

    def to_dict(self) -> dict:
        reasons = Counter(code for e in self.episodes for code in {p["code"] for p in e["problems"]})
        kept = sum(e["kept"] for e in self.episodes)
        return {"total": len(self.episodes), "kept": kept, "dropped": len(self.episodes) - kept,
                "kept_rows": sum(e["rows"] for e in self.episodes if e["kept"]),
                "reasons": dict(sorted(reasons.items())), "config": dataclasses.asdict(self.config),
                "episodes": list(self.episodes)}

    def summary(self) -> str:
        d = self.to_dict()
        lines = [f"episodes: {d['total']} read, {d['kept']} kept ({d['kept_rows']} rows), {d['dropped']} dropped"]
        lines += [f"  {code}: {count}" for code, count in d["reasons"].items()]
        for e in d["episodes"]:
            if not e["kept"]:
                lines.append(f"  dropped {e['source']}#{e['index']}: "
                             + "; ".join(f"{p['code']}: {p['detail']}" for p in e["problems"]))
        return "\n".join(lines)


def filter_episodes(episodes: Iterable[EpisodeData], config: FilterConfig = FilterConfig(),
                    report: FilterReport | None = None) -> Iterator[EpisodeData]:
    """Stream the episodes fit to train on; every episode (kept or not) is entered in `report`."""
    for ep in episodes:
        problems = screen_episode(ep, config)
        if report is not None:
            report.add(ep, problems)
        if not problems:
            yield ep


def screen_dataset(episodes: Iterable[EpisodeData], config: FilterConfig = FilterConfig(),
                   print_fn: Callable[[str], None] | None = print) -> dict:
    """One pass over a dataset (frames not decoded): the report as JSON-able data, printed unless print_fn=None."""
    report = FilterReport(config)
    for _ in filter_episodes(episodes, config, report):
        pass
    if print_fn is not None:
        print_fn(report.summary())
    return report.to_dict()
