"""The old name of vla_lite.worlds.metaworld, kept for one release: `vla_lite.metaworld` and its submodules
(`vla_lite.metaworld.tasks`, ...) are the new modules themselves. New code imports vla_lite.worlds.metaworld."""

import sys

from ..worlds import metaworld
from ..worlds.metaworld import *  # noqa: F401,F403
from ..worlds.metaworld import camera, controller, demos, env, expert, rig, scene, tasks

for _module in (camera, controller, demos, env, expert, rig, scene, tasks):
    sys.modules[f"{__name__}.{_module.__name__.rpartition('.')[2]}"] = _module
__all__ = metaworld.__all__
