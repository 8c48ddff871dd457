"""Barrier reads, which prove a servo bus's line clean (exchange.py): pure bookkeeping, no I/O.

A barrier is a READ of `length` bytes from address 0 of one servo. Its reply is known by its (servo ID, length)
pair: the lengths are sizes no register read, sync read or health read of the bus uses, and no two unanswered
barriers share a pair. So a reply to an older barrier (one that got no answer in time: several may be queued in
a slow bus) is never taken for the current one's, which matters because data requests may have been sent after
the older barrier and before the current one. Replies come in request order, so a barrier's reply also settles
every older barrier: those replies were lost.
"""

from __future__ import annotations

BARRIER_ADDRESS = 0
BARRIER_LENS = tuple(range(7, 16))  # bytes read; data reads of the bus are 1, 2 or 4 bytes, health reads 6 or 21
MAX_OUTSTANDING = 32  # unanswered barriers remembered (a dead bus answers none; the oldest are forgotten)


class Barriers:
    def __init__(self, ids: tuple[int, ...] = ()):
        self._ids = tuple(ids)  # the arm's servos, tried in turn when no servo answered lately
        self.outstanding: list[tuple[int, int]] = []  # (servo ID, length) sent and not yet answered, oldest first
        self._turn = 0

    def next(self, preferred: int | None, fallback: tuple[int, ...]) -> tuple[int, int] | None:
        """The (servo ID, length) of the next barrier, recorded as outstanding: the preferred servo (one that
        answered lately) first, else the arm's servos (else `fallback`) in turn. None if every pair is taken."""
        ids = self._ids or tuple(fallback)
        order = ([preferred] if preferred is not None else []) + [ids[(self._turn + k) % len(ids)]
                                                                  for k in range(len(ids))]
        for servo_id in order:
            for length in BARRIER_LENS:
                if (servo_id, length) not in self.outstanding:
                    self.outstanding.append((servo_id, length))
                    del self.outstanding[:-MAX_OUTSTANDING]
                    return servo_id, length
        return None

    def unanswered(self) -> None:
        """The latest barrier got no answer in its window: it stays outstanding; the next one tries another servo."""
        self._turn += 1

    def answer(self, pair: tuple[int, int]) -> bool | None:
        """A barrier-shaped reply came. True: it answers the latest barrier (the line is clean); False: an older
        one's (it and those before it are settled); None: no outstanding barrier has this pair."""
        if pair not in self.outstanding:
            return None
        latest = pair == self.outstanding[-1]
        del self.outstanding[:self.outstanding.index(pair) + 1]
        return latest

    @property
    def waiting(self) -> bool:
        return bool(self.outstanding)
