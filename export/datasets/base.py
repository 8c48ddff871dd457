"""What every dataset reader offers: a count, one episode by position, and a stream over all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .episode import EpisodeData


class DatasetReader:
    """Subclasses set `format` and `path` and implement `__len__`, `episode(i)` and `lengths()`.

    Iterating reads one episode at a time (nothing is loaded up front); when the consumer asks for the next
    episode, the previous one's open files are closed (its frames reopen them if read again).
    """
    format = "?"
    path: Path
    depth: dict = {}  # depth map name -> the source's feature key (LeRobot is_depth_map features); never mutated

    def __len__(self) -> int:
        raise NotImplementedError

    def episode(self, i: int) -> EpisodeData:
        """The i-th episode (0-based position, not the source's own episode number)."""
        raise NotImplementedError

    def lengths(self) -> list[int]:
        """Rows per episode as the metadata declares them (cheap: no frames or data rows are read)."""
        raise NotImplementedError

    def indices(self) -> list[int]:
        """Each episode's own number in its source (EpisodeData.index), without reading the episodes."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[EpisodeData]:
        previous = None
        for i in range(len(self)):
            if previous is not None:
                previous.close()
            previous = self.episode(i)
            yield previous
        if previous is not None:
            previous.close()

    def _position(self, i: int) -> int:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self):
            raise IndexError(f"{self.path}: no episode {i!r}; the dataset has {len(self)} episodes (0-based)")
        return i

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {len(self)} episodes)"
