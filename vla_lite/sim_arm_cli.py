"""`vla-lite sim-arm`: the bridge's virtual controllers and servo buses (firmware_bridge/sim_arm.py), and with
`--world` the SO-101 in MuJoCo behind its virtual servos (worlds/so101/serve.py) — a world the bridge, which
imports nothing of the project, cannot reach itself.

    vla-lite sim-arm --arm so101 --world --task red-bowl --calibration-out cal.json
    vla-lite run --port /dev/pts/N --arm so101 --calibration cal.json --model pick.vla --camera 0 ...
"""

from __future__ import annotations

import sys

from .firmware_bridge import sim_arm

DEFAULT_TASK = "red-bowl"


def add_arguments(parser) -> None:
    sim_arm.add_arguments(parser)
    world = parser.add_argument_group("the SO-101 in MuJoCo (--arm so101 --world; the so101 extra)")
    world.add_argument("--world", action="store_true",
                       help="with --arm so101: the virtual servos move the SO-101 in MuJoCo (physics at 30 Hz)")
    world.add_argument("--task", help=f"with --world: the scene's task, e.g. {DEFAULT_TASK} (default), blue-left-pad")
    world.add_argument("--layout-seed", type=int, help="with --world: the placement of the cubes (default 0)")
    world.add_argument("--calibration-out", metavar="PATH",
                       help="with --world: write the simulated servos' calibration (for run/doctor --calibration)")


def world_argv(args) -> list[str]:
    """`sim-arm --arm so101 --world ...` as worlds/so101/serve.py's arguments; ValueError naming a bad flag."""
    if args.arm != "so101":
        raise ValueError(f"--world is the SO-101 in MuJoCo: use it with --arm so101 (got --arm {args.arm})")
    given = {"--tcp": args.tcp is not None, "--link": bool(args.link), "--delay-ms": bool(args.delay_ms),
             "--joints": args.joints is not None, "--watchdog-ms": args.watchdog_ms is not None,
             "--torque-off-ms": args.torque_off_ms is not None}
    flag = next((flag for flag, used in given.items() if used), None)
    if flag is not None:
        raise ValueError(f"{flag} is not for --world: it serves the SO-101's virtual servos (a servo bus, no "
                         "controller watchdog) on a new pty and prints its path")
    argv = ["--task", args.task or DEFAULT_TASK, "--seed", str(args.layout_seed or 0), "--drop", str(args.drop),
            "--corrupt", str(args.corrupt)]
    argv += ["--fault-seed", str(args.seed)] if args.seed is not None else []
    return argv + (["--calibration-out", args.calibration_out] if args.calibration_out else [])


def run(args) -> int:
    if not args.world:
        if args.calibration_out or args.task is not None or args.layout_seed is not None:
            print("vla-lite sim-arm: --task, --layout-seed and --calibration-out are for --world", file=sys.stderr)
            return 2
        return sim_arm.run(args)
    try:
        argv = world_argv(args)
    except ValueError as exc:
        print(f"vla-lite sim-arm: {exc}", file=sys.stderr)
        return 2
    from .worlds.so101 import serve

    return serve.main(argv)
