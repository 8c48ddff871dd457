"""Datasets for the offline path: streaming episode readers with one episode type, training windows, checks.

    ds = open_dataset("data/so101_pick")              # LeRobot v2.x/v3.0, vla-lite recordings, robomimic, ALOHA
    report = screen_dataset(ds, FilterConfig(min_length=8))   # what is dropped and why (printed + JSON-able)
    for ep in filter_episodes(ds, FilterConfig(min_length=8)):
        ep.state, ep.actions, ep.timestamps, ep.frames["front"][t], ep.instruction_at(t)

Readers yield one EpisodeData at a time (frames decoded on demand); pyarrow, h5py and OpenCV are imported
only by the reader that needs them.
"""

from .augment import jitter, random_shift, sample_instruction
from .base import DatasetReader
from .checks import (FilterConfig, FilterReport, Problem, SyncConfig, check_episode, filter_episodes,
                     screen_dataset, screen_episode)
from .episode import DatasetError, EpisodeData, FrameKind, FrameSequence, KeyMap
from .open import DatasetSpec, detect_format, open_dataset
from .options import add_dataset_arguments, dataset_options, open_datasets
from .windows import SampleMaker, action_chunk, batch, iter_samples, shuffle_buffer, window_index

__all__ = ["open_dataset", "open_datasets", "add_dataset_arguments", "dataset_options", "detect_format", "DatasetSpec", "DatasetReader", "DatasetError", "EpisodeData",
           "FrameSequence", "FrameKind", "KeyMap", "SyncConfig", "FilterConfig", "FilterReport", "Problem", "check_episode",
           "screen_episode", "filter_episodes", "screen_dataset", "action_chunk", "window_index", "SampleMaker",
           "iter_samples", "shuffle_buffer", "batch", "random_shift", "jitter", "sample_instruction"]
