"""Crash-safe episode recording (`vla-lite run --record DIR`) and its reader; the format is in FORMAT.md.

    rec = EpisodeRecorder(root, cameras={"front": (96, 96)}, state_names=..., action_names=..., state_units=...,
                          action_units=..., rate_hz=20.0, meta={"bundle": ...})
    rec.start_episode("touch the red block"); rec.record_tick(...); rec.end_episode(success=True); rec.close()
    ep = read_episode(list_episodes(root)[0]); ep.ticks["commanded"]; ep.frame("front", 0)

Importing this package imports numpy only; OpenCV is imported when a recorder with cameras is built or a
frame is encoded/decoded.
"""

from .reader import EpisodeCorrupt, RecordedEpisode, Truncation, list_episodes, read_episode
from .recorder import EpisodeRecorder, RecordingError

__all__ = ["EpisodeRecorder", "RecordingError", "list_episodes", "read_episode", "RecordedEpisode",
           "Truncation", "EpisodeCorrupt"]
