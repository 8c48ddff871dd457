"""`vla-lite sim-arm`: the virtual arm controller (virtual_arm.py) served on a new pty or a loopback TCP port
(arm_server.py), with optional fault injection. The first stdout line is the port a host opens; a description
goes to stderr; SIGINT/SIGTERM stop it.

    vla-lite sim-arm --link /tmp/arm        # then: vla-lite doctor --port /tmp/arm
    vla-lite sim-arm --tcp 0 --drop 0.01    # prints socket://127.0.0.1:PORT
    vla-lite sim-arm --arm tabletop         # the tabletop's SCARA: the demo model's joints (run --camera sim)
    vla-lite sim-arm --arm so101 --link /tmp/so101   # a virtual servo bus instead (servo/serve.py): so100, koch
"""

from __future__ import annotations

import dataclasses
import gc
import signal
import sys
import time

from . import protocol as p
from .arm_config import CONTROLLER_ARMS, default_arm
from .arm_server import ArmServer
from .fault_injection import FaultInjection
from .virtual_arm import VirtualArm


def add_arguments(parser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="serve on a new pty and print its path (the default)")
    where.add_argument("--tcp", type=int, metavar="PORT",
                       help="serve on 127.0.0.1:PORT (0: a free port) and print socket://127.0.0.1:PORT")
    parser.add_argument("--link", metavar="PATH", help="with --pty: keep a symlink at PATH to the pty")
    parser.add_argument("--arm", default="generic", metavar="NAME",
                        help=f"the controller's arm: {', '.join(CONTROLLER_ARMS)} (tabletop: the simulated tabletop's "
                             "4-joint SCARA, as the demo model expects; default generic); or a servo bus: so100, "
                             "so101, koch or a profile JSON, served as virtual servos (--drop/--corrupt are then "
                             "per reply, --delay-ms delays every reply; more faults: "
                             "python -m vla_lite.firmware_bridge.servo.serve --help)")
    parser.add_argument("--joints", type=int, default=None, metavar="N",
                        help="generic arm: revolute joints before the gripper (default 6: 7 joints in all)")
    parser.add_argument("--watchdog-ms", type=int, default=None, metavar="MS", help="default 100")
    parser.add_argument("--torque-off-ms", type=int, default=None, metavar="MS", help="0: never; default 2000")
    parser.add_argument("--drop", type=float, default=0.0, metavar="RATE",
                        help="fault injection: probability each byte is dropped, both directions")
    parser.add_argument("--corrupt", type=float, default=0.0, metavar="RATE",
                        help="fault injection: probability each byte has one bit flipped, both directions")
    parser.add_argument("--delay-ms", type=float, default=0.0, metavar="MS", help="fault injection: added latency")
    parser.add_argument("--seed", type=int, default=None, help="fault injection seed (repeatable faults)")


def build_server(args) -> ArmServer:
    """The server `vla-lite sim-arm` describes by its arguments. Raises ValueError naming a bad one."""
    config, home = controller_arm(args.arm, args.joints)
    watchdog_ms = config.watchdog_ms if args.watchdog_ms is None else args.watchdog_ms
    torque_off_ms = config.torque_off_ms if args.torque_off_ms is None else args.torque_off_ms
    if not 1 <= watchdog_ms <= 65535:
        raise ValueError(f"--watchdog-ms must be 1..65535 ms, got {watchdog_ms}")
    if not 0 <= torque_off_ms <= 65535:
        raise ValueError(f"--torque-off-ms must be 0..65535 ms (0: never), got {torque_off_ms}")
    for flag, rate in (("--drop", args.drop), ("--corrupt", args.corrupt)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{flag} must be a probability per byte in [0, 1], got {rate}")
    if not 0.0 <= args.delay_ms < float("inf"):
        raise ValueError(f"--delay-ms must be a finite number of milliseconds >= 0, got {args.delay_ms}")
    if args.tcp is not None and args.link:
        raise ValueError("--link names a pty symlink; it cannot be used with --tcp")
    config = dataclasses.replace(config, watchdog_ms=watchdog_ms, torque_off_ms=torque_off_ms)
    faults = FaultInjection(args.drop, args.corrupt, args.delay_ms, args.seed)
    arm = VirtualArm(config, home, now_s=time.monotonic())
    if args.tcp is not None:
        return ArmServer.on_tcp(arm, port=args.tcp, faults=faults)
    return ArmServer.on_pty(arm, link_path=args.link, faults=faults)


def controller_arm(name: str, joints: int | None):
    """(ArmConfig, start positions or None) of `--arm NAME` served as a vla-lite protocol controller."""
    if name not in CONTROLLER_ARMS:
        raise ValueError(f"--arm {name!r} is unknown; expected one of {', '.join(CONTROLLER_ARMS)}")
    if name != "generic":
        if joints is not None:
            raise ValueError(f"--joints shapes the generic arm; --arm {name} has its own {name} joints")
        make, home = CONTROLLER_ARMS[name]
        return make(), home
    joints = 6 if joints is None else joints
    if not 1 <= joints <= 31:
        raise ValueError(f"--joints must be 1..31 revolute joints (a gripper is added), got {joints}")
    return default_arm(joints), None


def describe(server: ArmServer) -> str:
    c = server.arm.config
    faults = "none"
    if server.faults_in is not None:
        f = server.faults_in
        faults = f"drop {f.drop_rate:g}, corrupt {f.corrupt_rate:g}, delay {f.delay_ms:g} ms per direction"
    return (f"vla-lite sim-arm: {c.name!r}, {len(c.joints)} joints ({', '.join(c.joint_names)}); modes "
            f"{', '.join(m.name.lower() for m in c.modes)}; watchdog {c.watchdog_ms} ms, torque off "
            f"{c.torque_off_ms} ms; protocol {p.PROTOCOL_MAJOR}.{p.PROTOCOL_MINOR} schema 0x{p.SCHEMA_HASH:08X}; "
            f"faults: {faults}; on {server.port}")


def servo_argv(args) -> list[str]:
    """`sim-arm --arm PROFILE ...` as the servo bus server's arguments (servo/serve.py)."""
    if args.tcp is not None or args.joints is not None or args.watchdog_ms is not None or \
            args.torque_off_ms is not None:
        raise ValueError("--arm serves a servo bus on a pty: --tcp, --joints, --watchdog-ms and --torque-off-ms "
                         "are the vla-lite controller's")
    argv = ["--arm", args.arm, "--drop", str(args.drop), "--corrupt", str(args.corrupt)]
    argv += ["--delay", "1", "--delay-ms", str(args.delay_ms)] if args.delay_ms else []
    argv += ["--seed", str(args.seed)] if args.seed is not None else []
    return argv + (["--link", args.link] if args.link else [])


def run(args) -> int:
    if args.arm not in CONTROLLER_ARMS:  # a servo profile (or a typo, which serve names with the known arms)
        from .servo import serve

        try:
            argv = servo_argv(args)
        except ValueError as exc:
            print(f"vla-lite sim-arm: {exc}", file=sys.stderr)
            return 2
        return serve.main(argv)
    try:
        server = build_server(args)
    except (ValueError, OSError) as exc:
        print(f"vla-lite sim-arm: {exc}", file=sys.stderr)
        return 2
    try:
        print(server.port, flush=True)  # first stdout line: what a host opens
        print(describe(server), file=sys.stderr, flush=True)
        gc.collect()
        gc.freeze()  # start-up objects leave the collector: no long collection pauses on the reply path
        previous = {s: signal.signal(s, lambda signum, frame: server.stop()) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            server.serve_forever()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    finally:
        server.close()
    return 0
