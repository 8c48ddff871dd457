"""Every simulated world registered as a port scheme keeps the World protocol's promises (vla_lite.worlds.check),
opened the way the runtime opens it: through the port registry, in lockstep on a simulated clock."""

import importlib.util
from contextlib import closing

import pytest

from vla_lite import ports
from vla_lite.evaluate import SimClock
from vla_lite.worlds import Outcome, WorldOptions
from vla_lite.worlds.check import WorldCheckError, check_world

WORLD_PORTS = {  # one port per registered world scheme; a new world adds its own here
    "sim": ("sim", ("front",), None),
    "metaworld": ("metaworld:reach-v3,drawer-close-v3", ("front", "side"), "metaworld"),
    "so101-sim": ("so101-sim:red-bowl,blue-left-pad", ("front", "wrist"), "mujoco"),
}


def test_every_registered_world_has_a_port_here():
    registered = {s.name for s in ports.SCHEMES.values() if s.kind is ports.PortKind.WORLD}
    assert registered == set(WORLD_PORTS)


@pytest.mark.parametrize("scheme", sorted(WORLD_PORTS))
def test_world_keeps_the_protocol(scheme):
    port, cameras, needs = WORLD_PORTS[scheme]
    if needs and importlib.util.find_spec(needs) is None:
        pytest.skip(f"{needs} is not installed (CI installs it)")
    clock = SimClock()
    options = WorldOptions(camera_names=cameras, size_px=64, camera_fps=None, episode_timeout_s=0.5, clock=clock)
    world = ports.open_world(port, options)
    with closing(world):
        check_world(world, options, advance=clock.advance)
    world.close()  # safe twice


def test_the_check_names_a_broken_promise():
    """A world whose episodes do not follow their seed fails the check, by name."""
    from vla_lite.worlds.tabletop.rig import SimRig

    class Forgetful(SimRig):
        calls = 0

        def new_episode(self, seed, instruction=None, colour=None):
            Forgetful.calls += 1
            return super().new_episode(seed + Forgetful.calls, instruction, colour)

    clock = SimClock()
    options = WorldOptions(camera_names=("front",), size_px=64, camera_fps=None, clock=clock)
    with closing(Forgetful(size_px=64, clock=clock)) as world, pytest.raises(WorldCheckError, match="seed"):
        check_world(world, options, advance=clock.advance)


def test_outcomes_read_and_serialise_as_their_plain_strings():
    import json

    assert Outcome.SUCCESS == "success" and f"{Outcome.TIMEOUT}" == "timeout" and str(Outcome.FAILED) == "failed"
    assert json.dumps({"outcome": Outcome.SUCCESS}) == '{"outcome": "success"}'
