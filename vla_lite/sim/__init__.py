"""The old name of vla_lite.worlds.tabletop, kept for one release: `vla_lite.sim` and its submodules
(`vla_lite.sim.instructions`, ...) are the new modules themselves. New code imports vla_lite.worlds.tabletop."""

import sys

from ..worlds import tabletop
from ..worlds.tabletop import *  # noqa: F401,F403
from ..worlds.tabletop import camera, demos, env, expert, instructions, kinematics, render, rig, world

for _module in (camera, demos, env, expert, instructions, kinematics, render, rig, world):
    sys.modules[f"{__name__}.{_module.__name__.rpartition('.')[2]}"] = _module
__all__ = tabletop.__all__
