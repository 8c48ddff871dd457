"""What a servo bus returns and counts: sync-read results with freshness, and per-servo link counters."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SyncReading(NamedTuple):
    """One register of several servos. A servo whose reply was missing or corrupt in this call is stale: its
    `values` entry is the last value ever read (0 if none) and `fresh` is False; never use it as a new reading."""
    register: str
    ids: tuple[int, ...]
    values: np.ndarray  # (n,) int64 raw register values (counts for positions), signed per the control table
    fresh: np.ndarray  # (n,) bool: read in this call
    stamps_s: np.ndarray  # (n,) float64 monotonic time each value was received; -inf when never read
    errors: np.ndarray  # (n,) int64 status error byte of this call's reply (0 when stale)

    @property
    def all_fresh(self) -> bool:
        return bool(self.fresh.all())

    def age_s(self, now_s: float) -> np.ndarray:
        """(n,) seconds since each value was received (inf when never)."""
        return now_s - self.stamps_s


class ServoStats:
    """Per-servo link counters since the bus opened."""
    __slots__ = ("replies", "timeouts", "bad_checksums", "retries", "error_replies", "stale_readings")

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}
