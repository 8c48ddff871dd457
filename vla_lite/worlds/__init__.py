"""Simulated worlds: stand-ins for the robot and its room, each behind the `World` protocol (worlds/base.py).

- `tabletop/`: a SCARA arm over coloured blocks, "touch the red block" (`--port sim`)
- `metaworld/`: Meta-World's MT10 tasks on its simulated Sawyer (`--port metaworld:TASK[,TASK...]`, the extra)
- `so101/`: the SO-101 arm over coloured cubes, a bowl and two pads (MuJoCo), behind six virtual STS3215 servos on
  a pty (`--port so101-sim[:TASK,...]`; `bus_profile` "so101": the port is a servo bus, driven with `calibration`)

Each world holds its arm controller (a VirtualArm served on a pty), its cameras (RenderedCamera), its scripted
expert, an in-process env for data generation, and its demonstration recorder (`demos.py`, no torch: the offline
path calls it for DAgger rounds). The runtime and `vla-lite eval` see only the protocol; a world is chosen by its
port scheme and imported only then.

Adding a world (e.g. `so101/` for `--port so101-sim:`): a package here whose module has
`open_world(arg: str, options: WorldOptions) -> World`, and one `Scheme(name, PortKind.WORLD,
"vla_lite.worlds.<name>.<module>:open_world", usage, summary, suites)` in vla_lite/ports.py BUILTIN (or
`vla_lite.ports.register(...)` from outside the package). tests/test_worlds.py then runs the protocol's
conformance check (vla_lite.worlds.check) over it with every other world.

Importing this package imports no world.
"""

from .base import Episode, Outcome, World, WorldOptions

__all__ = ["Episode", "Outcome", "World", "WorldOptions"]
