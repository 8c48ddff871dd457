"""A person's hand on a virtual servo bus: poses and sweeps of the servos' shafts, as someone calibrating an arm
moves it (torque off). Used by the calibration tests as the stand-in for the person, and by anyone trying
`vla-lite calibrate` on a virtual arm from Python:

    hand = VirtualHand(server.bus, server.lock)
    hand.move({1: 3000, 2: 1000}, duration_s=0.5)      # encoder counts (before the homing offset), per servo ID
    hand.hold(0.5)

Positions are the shaft's encoder counts, the servo's "actual" position; what Present_Position reads follows the
servo's Homing_Offset. Moves are linear in time, in small steps, and end exactly on the target.
"""

from __future__ import annotations

import threading
import time

from .virtual_bus import VirtualBus


class VirtualHand:
    def __init__(self, bus: VirtualBus, lock: threading.Lock | None = None, step_s: float = 0.005):
        if not step_s > 0:
            raise ValueError(f"step_s must be > 0 s, got {step_s!r}")
        self.bus, self.step_s = bus, step_s
        self.lock = lock or threading.Lock()  # a PtyServer's lock when the bus is being served

    def where(self) -> dict[int, float]:
        """Every servo's shaft position, counts."""
        with self.lock:
            return {s.id: s.shaft for s in self.bus.servos}

    def place(self, positions: dict[int, float]) -> None:
        """Put shafts at these encoder positions at once."""
        with self.lock:
            now = time.monotonic()
            for servo_id, counts in positions.items():
                self.bus.move_by_hand(servo_id, counts, now)

    def move(self, targets: dict[int, float], duration_s: float) -> None:
        """Move the named shafts linearly to their targets over duration_s (blocks), the others stay."""
        start = self.where()
        begin = time.monotonic()
        while True:
            t = min(1.0, (time.monotonic() - begin) / duration_s) if duration_s > 0 else 1.0
            self.place({i: start[i] + t * (target - start[i]) for i, target in targets.items()})
            if t >= 1.0:
                return
            time.sleep(self.step_s)

    def hold(self, seconds: float) -> None:
        time.sleep(seconds)
