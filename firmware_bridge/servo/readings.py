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


class _Counters:
    __slots__ = ()

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


class ServoStats(_Counters):
    """Per-servo link counters since the bus opened. late_replies: this servo's replies to an earlier, given-up
    request, read and discarded while the bus resynchronised (never returned)."""
    __slots__ = ("replies", "timeouts", "bad_checksums", "retries", "error_replies", "stale_readings",
                 "late_replies")


class LinkStats(_Counters):
    """Whole-bus counters: resyncs (a request had to wait for the line to come clean), resync_failures (it could
    not within the call's budget, so nothing was sent), late_replies (all servos' late replies discarded),
    withheld_writes (sync writes not sent because a reply could still be on the half-duplex line)."""
    __slots__ = ("resyncs", "resync_failures", "late_replies", "withheld_writes")
