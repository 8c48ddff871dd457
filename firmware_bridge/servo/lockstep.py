"""A servo bus whose far end runs in the host's own time: a simulated arm stepped tick by tick (lockstep evaluation).

On a real bus a reply window is sized from the wire time, and a reply that misses it is lost: a control loop must
not wait longer than its tick allows. A simulation stepped in simulated time has no such deadline, but its servos
are served by a thread of the same process (serve.PtyServer), which a loaded host can starve for longer than any
wire-sized window. Replies would then be lost for reasons of the machine, not of the bus, and the same seeds would
give other results on a busy machine. Given a `LockstepPeer`, the bus (exchange.py) keeps the far end's pace instead
of the wire's:
- an instruction is complete when the far end has read and handled it and written all its replies (a SYNC_WRITE
  too: its goals reach the servos before the simulation steps);
- a reply window closes when every byte the far end wrote has been read: a reply its fault injection dropped is
  known lost at once (no wait), and a reply it sent is never lost to the host's speed;
- the only timeout is a liveness one (BusConfig.lockstep_timeout_s, real seconds). A far end silent that long is a
  stuck simulation: ServoLinkError, and the bus stays failed (its byte counts no longer prove what a reply answers,
  so it never reads another one as fresh).
Bytes are counted at both ends (the host's in the exchange, the far end's in the peer) because a pty hands bytes over
through the kernel asynchronously: an idle server thread says nothing about bytes still on their way to it.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable


@runtime_checkable
class LockstepPeer(Protocol):
    """The far end of a lockstep bus (serve.PtyServer is one)."""

    clock: Callable[[], float]  # the simulation's time, s: the bus schedules its health polls on it

    def byte_counts(self) -> tuple[int, int]:
        """(bytes read and answered, bytes written) by the far end so far; a host opening the bus starts from
        these (nothing is on its way then)."""

    def wait_answered(self, sent_bytes: int, timeout_s: float) -> int | None:
        """Block until the far end has read `sent_bytes` bytes in all, handled them and written every reply; then
        the number of bytes it has written in all (the host has every reply once it has read that many). None
        after timeout_s of real time."""
