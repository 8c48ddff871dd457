"""`SimHand`: a person's hand on the simulated SO-101, as someone calibrating the arm moves it (torque off): the
stand-in for the person when `vla-lite calibrate`'s steps (vla_lite.calib.guided) run against the so101-sim bus.

    hand = SimHand(rig)
    release(bus, profile); hand.place(hand.middle_pose())        # LeRobot's middle pose: every joint mid-range
    offsets = home(bus, profile); rec = start_recording(bus, profile)
    for pose in hand.range_poses(): hand.place(pose); sample(bus, rec)    # each joint to both of its ends
    cal = finish(bus, profile, offsets, rec)

Poses are world targets (5 joints rad + gripper 0 closed .. 1 open). In lockstep nothing steps the world between
placements, so a limp arm stays where the hand left it.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .model import JOINT_NAMES


class SimHand:
    def __init__(self, rig):
        self.rig = rig

    def place(self, targets) -> None:
        """The arm at these targets now, at rest."""
        with self.rig.lock:
            self.rig.world.place_arm(targets)

    def middle_pose(self) -> np.ndarray:
        """Every joint in the middle of its range (LeRobot's homing pose); wrist_roll, which turns fully (no end
        stops to be the middle of), straight: at its zero, 0.049 rad off its mechanical range's centre."""
        w = self.rig.world
        pose = (w.low + w.high) / 2
        pose[JOINT_NAMES.index("wrist_roll")] = 0.0
        return pose

    def range_poses(self, step: float = 0.1) -> Iterator[np.ndarray]:
        """Each joint in turn swept from the middle to its low end, to its high end and back to the middle, in
        steps of at most `step` (rad, or gripper fraction), the others in the middle: samples read between
        placements see a continuous motion, as a person's sweep gives."""
        w, middle = self.rig.world, self.middle_pose()
        for j in range(len(middle)):
            path = (middle[j], w.low[j], w.high[j], middle[j])
            for a, b in zip(path, path[1:]):
                n = max(1, int(np.ceil(abs(b - a) / step)))
                for value in np.linspace(a, b, n + 1)[1:]:
                    pose = middle.copy()
                    pose[j] = value
                    yield pose
