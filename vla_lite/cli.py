"""`vla-lite` command line: one subcommand per module, imported only when chosen (so `vla-lite doctor` never
loads onnxruntime and `vla-lite run` never loads torch).

Each module named below provides `add_arguments(parser)` and `run(args) -> int`, and may name in `USER_ERRORS` the
exceptions that are the user's input (a bad dataset, a bad file): those come out as one line, no traceback.
Modules are imported through vla_lite.extras.import_optional: a command whose extra is not installed (the offline
ones without torch, `run --port metaworld:...` without Meta-World) ends with one line naming the install command.
"""

from __future__ import annotations

import argparse
import sys

from .extras import import_optional, missing_extra

# subcommand -> (module, one-line help)
COMMANDS = {
    "sim-arm": ("vla_lite.sim_arm_cli", "serve a virtual arm: a vla-lite controller, a servo bus, the SO-101 world"),
    "doctor": ("vla_lite.doctor_cli", "check a port: the vla-lite controller, or with --arm a servo bus"),
    "calibrate": ("vla_lite.calibrate_cli", "joint calibration files: convert LeRobot's, show, write back"),
    "calibrate-camera": ("vla_lite.calibrate_camera_cli", "camera intrinsics from chessboard views"),
    "info": ("vla_lite.info", "print a bundle's manifest"),
    "bench": ("vla_lite.bench", "measure inference latency per backend and precision"),
    "run": ("vla_lite.run", "drive an arm (or the simulated world) with a bundle at a fixed rate"),
    "eval": ("vla_lite.evaluate", "closed-loop success in the simulated world through the runtime (lockstep)"),
    "demo-data": ("vla_lite.worlds.tabletop.demos", "record scripted-expert demonstrations in the simulated world"),
    "metaworld-demos": ("vla_lite.worlds.metaworld.demos", "record Meta-World scripted-expert demonstrations"),
    "so101-demos": ("vla_lite.worlds.so101.demos", "record SO-101 scripted-expert demonstrations (MuJoCo)"),
    "train": ("vla_lite.export.train", "train a policy on demonstrations (offline; needs torch)"),
    "distill": ("vla_lite.export.distill", "distil a small student from a teacher, with DAgger rounds"),
    "export": ("vla_lite.export.export_bundle", "checkpoint -> verified .vla bundle (ONNX/TFLite, fp32/int8)"),
    "dataset": ("vla_lite.export.dataset_command", "what a dataset holds and what stops it from training"),
    "convert": ("vla_lite.export.convert", "write a dataset (recordings, HDF5, LeRobot) as a LeRobot v3.0 dataset"),
    "view": ("vla_lite.export.view", "an episode as video or PNG: frames, state and actions, holds and clamps"),
}


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line naming the option and what was expected (and where the options are listed),
    status 2: not the whole usage block, in which the message is easy to miss."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (`{self.prog} --help` lists the options)\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and one subparser per command (its module adds its options when chosen)."""
    from . import __version__

    parser = OneLineParser(
        prog="vla-lite", description="language-conditioned robot policies on a CPU: run, check, train, export")
    parser.add_argument("--version", action="version", version=f"vla-lite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers = {}
    for name, (module, help_text) in COMMANDS.items():
        subparsers[name] = sub.add_parser(name, help=help_text, description=help_text)
        subparsers[name].set_defaults(_module=module)
    return parser, subparsers


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, subparsers = build_parser()
    # Find the subcommand first, then let its module add its own arguments to that subparser (so that
    # `vla-lite run --help` lists run's options). Top-level options (--help, --version) come before it.
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        parser.parse_args(argv)  # --help / --version / an unknown command: argparse answers and exits
        parser.print_help()
        return 2
    module = None  # USER_ERRORS below: none until the command's module is imported
    try:
        module = import_optional(COMMANDS[command][0])
        module.add_arguments(subparsers[command])
        args = parser.parse_args(argv)
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:  # MissingExtra included: an optional part imported where it is used
        missing = missing_extra(exc)
        if missing is None:
            raise
        print(f"vla-lite {command}: {missing}", file=sys.stderr)
        return 2
    except getattr(module, "USER_ERRORS", ()) as exc:  # the user's input (a bad dataset, a bad file): one line
        print(f"vla-lite {command}: {exc}", file=sys.stderr)
        return 2
