"""The port registry (vla_lite.ports): one parse of every spelling of --port, schemes registered by name and
imported only when chosen, one line naming the known forms for anything else; and a missing extra is one line
with its install command, never a traceback."""

import subprocess
import sys

import pytest

from vla_lite import ports
from vla_lite.cameras import CameraError, open_source
from vla_lite.ports import Port, PortKind, Scheme, parse_port, suite_port


@pytest.mark.parametrize("text, port", [
    ("/dev/ttyUSB0", Port("/dev/ttyUSB0", PortKind.SERIAL, None, "/dev/ttyUSB0")),
    ("COM3", Port("COM3", PortKind.SERIAL, None, "COM3")),
    ("socket://127.0.0.1:7000", Port("socket://127.0.0.1:7000", PortKind.SERIAL, None, "socket://127.0.0.1:7000")),
    ("loop://", Port("loop://", PortKind.SERIAL, None, "loop://")),
    ("/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0",
     Port("/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0", PortKind.SERIAL, None,
          "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0")),
    ("sim", Port("sim", PortKind.WORLD, "sim", "")),
    ("sim:", Port("sim:", PortKind.WORLD, "sim", "")),
    ("metaworld:mt10", Port("metaworld:mt10", PortKind.WORLD, "metaworld", "mt10")),
    ("metaworld:reach-v3,push-v3", Port("metaworld:reach-v3,push-v3", PortKind.WORLD, "metaworld", "reach-v3,push-v3")),
])
def test_every_spelling_parses_to_its_kind(text, port):
    assert parse_port(text) == port


def test_an_unknown_scheme_is_one_line_naming_the_known_ones():
    with pytest.raises(ValueError) as e:
        parse_port("libero:")
    msg = str(e.value)
    assert "unknown scheme 'libero'" in msg and "\n" not in msg
    assert "sim (" in msg and "metaworld:TASK" in msg and "so101-sim" in msg and "pyserial URL" in msg
    with pytest.raises(ValueError, match="non-empty"):
        parse_port("  ")


def test_suites_are_declared_by_their_worlds():
    assert suite_port("tabletop") == "sim" and suite_port("metaworld-mt10") == "metaworld:mt10"
    assert suite_port("metaworld:reach-v3") == "metaworld:reach-v3"
    assert suite_port("so101") == "so101-sim" and parse_port("so101-sim:red-bowl").arg == "red-bowl"
    assert parse_port("so101-sim").kind is PortKind.WORLD
    suites = r"\['metaworld-mt10', 'metaworld-mt50', 'metaworld-mt50-easy', 'metaworld-mt50-hard', " \
             r"'metaworld-mt50-medium', 'metaworld-mt50-very-hard', 'so101', 'tabletop'\]"
    with pytest.raises(ValueError, match=r"--suite 'libero'.*" + suites):
        suite_port("libero")
    with pytest.raises(ValueError, match="--suite '/dev/ttyUSB0'"):
        suite_port("/dev/ttyUSB0")  # a serial port is no simulated world


def test_a_registered_world_or_bus_is_parsed_and_opened_through_its_entry():
    """A scheme added at run time (as a plug-in would) is parsed like the built-in ones; its module is imported
    only when a port names it; a bus is chosen by --arm on a serial device."""
    world = Scheme("twin", PortKind.WORLD, "vla_lite.worlds.tabletop.rig:open_world", "twin", "a second tabletop",
                   {"twin-suite": "twin"})
    bus = Scheme("toy-arm", PortKind.BUS, "vla_lite.firmware_bridge.link:ArmLink", "--arm toy-arm", "a servo bus")
    ports.register(world)
    ports.register(bus)
    try:
        assert parse_port("twin:") == Port("twin:", PortKind.WORLD, "twin", "")
        assert suite_port("twin-suite") == "twin"
        assert parse_port("/dev/ttyACM0", arm="toy-arm") == Port("/dev/ttyACM0", PortKind.BUS, "toy-arm",
                                                                   "/dev/ttyACM0")
        with pytest.raises(ValueError, match="is a simulated world"):
            parse_port("sim", arm="toy-arm")
        with pytest.raises(ValueError, match="taken"):
            ports.register(world)
        from vla_lite.firmware_bridge.link import ArmLink

        assert ports.opener(parse_port("/dev/ttyACM0", arm="toy-arm")) is ArmLink
    finally:
        ports.unregister("twin")
        ports.unregister("toy-arm")
    with pytest.raises(ValueError, match="no known arm profile; known: .*--arm so101 .*--arm koch"):
        parse_port("/dev/ttyACM0", arm="toy-arm")
    with pytest.raises(ValueError, match="unknown scheme 'twin'"):
        parse_port("twin:")


def test_choosing_a_port_imports_no_world_until_one_is_opened():
    probe = ("import sys; from vla_lite.ports import parse_port; parse_port('metaworld:mt10'); parse_port('sim'); "
             "print([m for m in sys.modules if m.startswith('vla_lite.worlds.') and m != 'vla_lite.worlds.base'])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_world_port_given_as_a_camera_points_to_port():
    for spec in ("sim", "metaworld:reach-v3"):
        with pytest.raises(CameraError, match=f"run with --port {spec} \\(and no --camera\\)"):
            open_source(spec)


# --- missing extras: one line with the install command -----------------------------------------------------

def _cli_without(module: str, *args: str) -> subprocess.CompletedProcess:
    """`vla-lite ARGS` in a process where `module` cannot be imported (as if not installed)."""
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from vla_lite.cli import main\nsys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [["train", "--data", "{d}", "--out", "{d}/t.safetensors", "--steps", "1"],
                                     ["distill", "--teacher", "{d}/t.safetensors", "--data", "{d}", "--out",
                                      "{d}/s.safetensors"],
                                     ["export", "{d}/t.safetensors", "-o", "{d}/t.vla", "--calib", "{d}"]])
def test_offline_commands_without_torch_end_in_one_line_with_the_install_command(tmp_path, command):
    from vla_lite.worlds.tabletop.demos import record_tabletop_demos

    record_tabletop_demos(tmp_path, range(1), max_steps=5, progress=False)
    out = _cli_without("torch", *[a.format(d=tmp_path) for a in command])
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "pip install torch==2.13.0" in out.stderr, out.stderr
    assert f"vla-lite {command[0]}: needs the offline extra (torch is not installed)" in out.stderr


def test_bench_torch_without_torch_and_run_metaworld_without_metaworld_are_one_line():
    from vla_lite.models import DEMO_BUNDLE

    bench = _cli_without("torch", "bench", str(DEMO_BUNDLE), "--torch", "x.safetensors", "--iters", "1")
    assert bench.returncode == 2 and "Traceback" not in bench.stderr, bench.stderr
    assert bench.stderr.startswith("vla-lite bench: --torch needs the offline extra") and \
        bench.stderr.strip().count("\n") == 0 and bench.stdout == ""  # refused before timing anything
    run = _cli_without("metaworld", "run", "--port", "metaworld:reach-v3", "--duration", "1")
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "needs the metaworld extra" in run.stderr and "pip install 'vla-lite[metaworld]'" in run.stderr


def test_an_arm_makes_a_serial_device_a_servo_bus():
    from vla_lite.servo_arm import connect

    for arm in ("so100", "so101", "koch"):
        port = parse_port("/dev/ttyACM0", arm=arm)
        assert port == Port("/dev/ttyACM0", PortKind.BUS, arm, "/dev/ttyACM0") and ports.opener(port) is connect
    own = parse_port("socket://127.0.0.1:9", arm="my_arm.json")  # a profile file of one's own
    assert own.kind is PortKind.BUS and ports.opener(own) is connect
    for text, arm, match in (("sim", "so101", "is a simulated world"), ("/dev/ttyACM0", "so102", "no known arm"),
                             ("metaworld:mt10", "koch", "is a simulated world"),
                             ("so101-sim:", "so101", "is a simulated world")):
        with pytest.raises(ValueError, match=match):
            parse_port(text, arm=arm)
