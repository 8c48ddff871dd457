"""`Plant`: what turns a virtual servo's shaft when something else than the servo's own bounded-speed motion does,
e.g. a physics simulation of the arm the servos sit in. Pure interface, nothing imported.

A VirtualBus given a plant (VirtualBus(..., plant=p)) keeps everything a servo does on the wire (registers,
homing offset, limits, Lock, status packets, fault injection) and hands the motion to the plant:
- every Goal_Position / Torque_Enable / Goal_Velocity change reaches `command(key, goal_counts, torque_on,
  speed_counts_s)`, the goal already clipped to Min/Max_Position_Limit and turned into shaft counts (Feetech: goal
  + Homing_Offset, wrapped at one turn);
- before a servo answers or obeys anything at time now_s, `advance(now_s)` moves the plant's physics up to now_s
  (called once per servo touched: it must be idempotent for the same now_s), then `state(key)` gives the shaft
  position, velocity and load that Present_Position / Present_Velocity / Present_Load report.
`key` is the servo's ID as the bus was built (a later ID write does not move it to another joint).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class ShaftState(NamedTuple):
    counts: float  # shaft encoder position before the homing offset (Feetech: 0..4095 for one turn)
    velocity_counts_s: float
    load_permille: int  # torque / stall torque in 0.1 % (Present_Load), signed; |value| <= 1000


class Plant(Protocol):
    def advance(self, now_s: float) -> None:
        """Run the physics up to now_s under the goals commanded so far (idempotent for a repeated now_s)."""

    def command(self, key: int, goal_counts: float, torque_on: bool, speed_counts_s: float) -> None:
        """The servo `key`'s goal (shaft counts), torque state and speed limit (counts/s) from now on."""

    def state(self, key: int) -> ShaftState:
        """The servo `key`'s shaft as of the last advance()."""
