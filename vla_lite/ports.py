"""`--port`: the one place a port string is interpreted, like pyserial's URL handlers.

    /dev/ttyUSB0, COM3, socket://host:port, loop://   a serial device or pyserial URL: the vla-lite protocol
    sim (or sim:)                                    the simulated tabletop (vla_lite.worlds.tabletop)
    metaworld:reach-v3,push-v3 / metaworld:mt10      Meta-World tasks (vla_lite.worlds.metaworld); also mt50 and
                                                     mt50-GROUP (LeRobot's easy, medium, hard, very-hard)
    so101-sim / so101-sim:red-bowl,drop=0.01         the SO-101 behind a virtual Feetech bus (vla_lite.worlds.so101)

A scheme is registered by name with the module that serves it as "module:function", imported only when a port
names the scheme, so `--port /dev/ttyUSB0` never loads MuJoCo. Two kinds:
- PortKind.WORLD: a simulated world. The function is `open_world(arg, options: WorldOptions) -> World`
  (vla_lite.worlds.base), `arg` being what follows "scheme:". A new world adds one Scheme to BUILTIN below.
- PortKind.BUS: a servo bus driven through an arm profile, chosen with `--arm PROFILE` (or `--arm FILE.json`,
  a profile of one's own) on a serial device. The function is `connect(device, profile, calibration, *,
  baudrate, on_exit, clock)` returning an arm link: what the loop uses of ArmLink (vla_lite.servo_arm.ServoArm),
  driven in the loop's own thread. The profile is the scheme name (a file's: served by `vla_lite.servo_arm`).
Anything else with "://" is left to pyserial; a "name:" that is no registered scheme is refused with one line
listing the known ones. `register()` adds a scheme at run time (plug-ins, tests).
"""

from __future__ import annotations

import enum
import importlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from .extras import missing_extra

if TYPE_CHECKING:
    from .worlds.base import World, WorldOptions


class PortKind(enum.Enum):
    SERIAL = "serial"  # a serial device or pyserial URL, spoken to in the vla-lite protocol
    WORLD = "world"  # a simulated world: its controller on a pty, its cameras, its episodes
    BUS = "bus"  # a servo bus through an arm profile (--arm), driven directly by vla_lite.servo_arm


@dataclass(frozen=True)
class Scheme:
    name: str  # as written before the colon (worlds) or given to --arm (buses)
    kind: PortKind
    target: str  # "package.module:function", imported only when chosen
    usage: str  # how a port of this scheme is written, for messages
    summary: str
    suites: Mapping[str, str] = field(default_factory=dict)  # `vla-lite eval --suite NAME` -> a port of this scheme
    suite_episodes: Mapping[str, int] = field(default_factory=dict)  # a suite's --episodes when not given
    # WORLD: "module:function" rendering the world's camera over a real port's arm (`run --camera NAME`), "" none:
    # `open_scene(arg, camera_name, options: WorldOptions, positions, seed) -> scene` with `.camera`, `.retarget(text)`
    scene: str = ""


@dataclass(frozen=True)
class Port:
    """A port string as interpreted: its kind, the scheme (None for a plain serial port) and the rest."""

    text: str  # as given
    kind: PortKind
    scheme: str | None
    arg: str  # WORLD: what follows "scheme:"; SERIAL and BUS: the device or pyserial URL


SERVO_CONNECTOR = "vla_lite.servo_arm:connect"  # every servo bus: the arm profile says Feetech or Dynamixel

DEFAULT_SUITE_EPISODES = 50  # `vla-lite eval --episodes` of a suite that states none
# LeRobot's Meta-World protocol: 10 seeded placements per task; MT50 (50 tasks) and its difficulty groups (easy 28,
# medium 11, hard 6, very hard 5 tasks; vla_lite.worlds.metaworld.tasks.MT50_GROUPS)
_MT50_TASKS = {"mt50": 50, "mt50-easy": 28, "mt50-medium": 11, "mt50-hard": 6, "mt50-very-hard": 5}
LEROBOT_EPISODES_PER_TASK = 10

BUILTIN = (
    Scheme("sim", PortKind.WORLD, "vla_lite.worlds.tabletop.rig:open_world", "sim",
           "the simulated tabletop, a SCARA arm over coloured blocks", {"tabletop": "sim"},
           scene="vla_lite.worlds.tabletop.rig:open_scene"),
    Scheme("metaworld", PortKind.WORLD, "vla_lite.worlds.metaworld.rig:open_world",
           "metaworld:TASK[,TASK...], metaworld:mt10, metaworld:mt50 or metaworld:mt50-GROUP",
           "Meta-World tasks, with the metaworld extra",
           {"metaworld-mt10": "metaworld:mt10", **{f"metaworld-{k}": f"metaworld:{k}" for k in _MT50_TASKS}},
           {f"metaworld-{k}": LEROBOT_EPISODES_PER_TASK * n for k, n in _MT50_TASKS.items()}),
    Scheme("so101-sim", PortKind.WORLD, "vla_lite.worlds.so101.rig:open_world",
           "so101-sim[:TASK,...][,drop=P,corrupt=P,stray=P,seed=N]",
           "the SO-101 in MuJoCo behind six virtual STS3215 servos (a servo bus), with the so101 extra",
           {"so101": "so101-sim"}),
    *(Scheme(arm, PortKind.BUS, SERVO_CONNECTOR, f"--port DEVICE --arm {arm}", summary) for arm, summary in (
        ("so100", "SO-100 arm: six Feetech STS3215 servos"), ("so101", "SO-101 arm: six Feetech STS3215 servos"),
        ("koch", "Koch v1.1 arm: Dynamixel XL430/XL330 servos"))),
)
SCHEMES: dict[str, Scheme] = {s.name: s for s in BUILTIN}
SERIAL_USAGE = "a serial device or pyserial URL (/dev/ttyUSB0, COM3, socket://host:port)"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # two characters at least: "C:\..." is not a scheme


def register(scheme: Scheme) -> None:
    """Add a scheme (a world, or a servo bus's arm profile). Its name must be new."""
    if not _SCHEME.match(scheme.name + ":") or scheme.name in SCHEMES:
        raise ValueError(f"scheme name {scheme.name!r} is {'taken' if scheme.name in SCHEMES else 'malformed'}; "
                         f"registered: {sorted(SCHEMES)}")
    taken = set(scheme.suites) & {s for known in SCHEMES.values() for s in known.suites}
    if taken:
        raise ValueError(f"suite name(s) {sorted(taken)} of scheme {scheme.name!r} are taken")
    SCHEMES[scheme.name] = scheme


def unregister(name: str) -> None:
    SCHEMES.pop(name, None)


def known(kind: PortKind | None = None) -> str:
    """One line naming every way to write a port (of one kind)."""
    forms = [f"{s.usage} ({s.summary})" for s in SCHEMES.values() if kind in (None, s.kind)]
    if kind in (None, PortKind.SERIAL):
        forms.append(SERIAL_USAGE)
    return "; ".join(forms)


def parse_port(text: str, arm: str | None = None) -> Port:
    """The one parse of a port string; `arm` is the `--arm` profile of a servo bus. Pure: nothing is opened.
    ValueError naming the string and the known forms when it is not one of them."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"port must be a non-empty string, got {text!r}; expected {known()}")
    world = next((s for s in SCHEMES.values() if s.kind is PortKind.WORLD
                  and (text == s.name or text.startswith(s.name + ":"))), None)
    if arm is not None:
        bus = SCHEMES.get(arm)
        if bus is None and arm.endswith(".json"):  # a profile file of one's own (the connector checks it)
            bus = Scheme(arm, PortKind.BUS, SERVO_CONNECTOR, f"--arm {arm}", "an arm profile file")
        if bus is None or bus.kind is not PortKind.BUS:
            raise ValueError(f"--arm {arm!r} is no known arm profile; known: {known(PortKind.BUS) or 'none yet'}")
        if world is not None:
            raise ValueError(f"--arm {arm} drives a servo bus on a serial device; --port {text} is a simulated "
                             "world, which has its own controller")
        if "://" not in text and _SCHEME.match(text):
            raise ValueError(f"--arm {arm} drives a servo bus on a serial device or pyserial URL; got --port {text}")
        return Port(text, PortKind.BUS, arm, text)
    if world is not None:
        return Port(text, PortKind.WORLD, world.name, text[len(world.name) + 1:])
    m = _SCHEME.match(text)
    if m and "://" not in text:
        raise ValueError(f"--port {text!r}: unknown scheme {m.group(1)!r}; known: {known()}")
    return Port(text, PortKind.SERIAL, None, text)


def world_scheme(text: str) -> Scheme | None:
    """The world scheme a string names, or None (a serial port, a bus, or no port at all)."""
    try:
        port = parse_port(text)
    except ValueError:
        return None
    return SCHEMES[port.scheme] if port.kind is PortKind.WORLD else None


def suite_port(suite: str) -> str:
    """`vla-lite eval --suite`: a suite a world declares (tabletop, metaworld-mt10) or a world's port string."""
    for s in SCHEMES.values():
        if suite in s.suites:
            return s.suites[suite]
    if world_scheme(suite) is None:
        suites = sorted(name for s in SCHEMES.values() for name in s.suites)
        raise ValueError(f"--suite {suite!r} is unknown; expected one of {suites} or a simulated world's port: "
                         f"{known(PortKind.WORLD)}")
    return suite


def suite_episodes(suite: str) -> int:
    """The episodes `vla-lite eval --suite` runs when --episodes is not given: what the suite's scheme declares
    (Meta-World MT50 and its groups: LeRobot's 10 per task), else DEFAULT_SUITE_EPISODES."""
    return next((s.suite_episodes[suite] for s in SCHEMES.values() if suite in s.suite_episodes),
                DEFAULT_SUITE_EPISODES)


def opener(port: Port, target: str | None = None) -> Callable:
    """The registered function for a WORLD or BUS port (or `target`, another of its scheme's functions), imported
    now (MissingExtra when its extra is not installed)."""
    if port.kind is PortKind.SERIAL:
        raise ValueError(f"{port.text} is a serial port: open it with ArmLink.open, there is nothing to serve")
    scheme = SCHEMES.get(port.scheme)
    module, _, function = (target or (scheme.target if scheme is not None else SERVO_CONNECTOR)).partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as exc:
        missing = missing_extra(exc, f"--port {port.text}")
        if missing is None:
            raise
        raise missing from exc


def open_world(port: Port | str, options: WorldOptions) -> World:
    """Open the simulated world a WORLD port names."""
    port = parse_port(port) if isinstance(port, str) else port
    if port.kind is not PortKind.WORLD:
        raise ValueError(f"--port {port.text} is not a simulated world; expected {known(PortKind.WORLD)}")
    return opener(port)(port.arg, options)


def open_scene(text: str, camera_name: str, options: WorldOptions, positions: Callable, seed: int = 0):
    """`--camera WORLD` on a real port: the world's camera rendered with the arm where `positions()` (the joints the
    controller reports, None before the first STATE) puts it. ValueError when the world renders no such camera."""
    port = parse_port(text)
    scheme = SCHEMES[port.scheme] if port.kind is PortKind.WORLD else None
    if scheme is None or not scheme.scene:
        worlds = [s.name for s in SCHEMES.values() if s.scene]
        what = "is no simulated world" if scheme is None else f"names {scheme.name}, which renders its cameras " \
            f"only as its own world (run it with --port {text})"
        raise ValueError(f"--camera {text!r} {what}; simulated cameras over a real port's arm: {worlds}")
    return opener(port, scheme.scene)(port.arg, camera_name, options, positions, seed)
