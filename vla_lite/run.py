"""`vla-lite run`: drive an arm with a bundle at a fixed rate and report how it went.

    vla-lite run --port /dev/ttyUSB0 --model pick.vla --camera 0 --instruction "pick up the red cup"
    vla-lite run --port sim --duration 20                    # simulated world and arm, bundled demo model
    vla-lite run --port /dev/ttyUSB0 --model pick.vla --camera 0 --camera-intrinsics cam.json ...   # undistorted
    vla-lite run --port /dev/ttyACM0 --arm so101 --calibration cal.json --model pick.vla --camera 0 \
        --instruction "pick up the red cube"                 # a servo bus: SO-100/SO-101 (Feetech), Koch (Dynamixel)

Ctrl-C / SIGTERM: the loop stops at the end of its tick, the arm is sent one hold command, then the run signs off
(a HELLO disarms the controller's watchdog, so the next run finds it unfaulted) and the link closes. On a servo
bus (--arm) the exit policy (--on-exit, default hold) decides the torque after that hold; run never writes the
servos' EEPROM. The instruction can change while running: a line on stdin (`--instruction-stdin`), a loopback
socket (`--instruction-socket PORT`) or a FIFO (`--instruction-fifo PATH`).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import option_types
from .instructions import check_fifo_path
from .holds import EXIT_STATUS_HELP
from .ports import PortKind, known, parse_port
from .report import build_report, format_report, write_json
from .runtime import RunConfig, Runtime
from .safety import DEFAULT_RAMP_S
from .text import grounding
from .text.normalize import MAX_INSTRUCTION_BYTES


def add_arguments(parser) -> None:
    _exit_status_help(parser)
    a = parser.add_argument
    a("--port", required=True, help="the arm controller: a serial device or pyserial URL (/dev/ttyUSB0, "
                                    "socket://host:port), a servo bus with --arm (/dev/ttyACM0), or a simulated "
                                    "world (sim, metaworld:TASK[,TASK...], metaworld:mt10)")
    a("--arm", metavar="PROFILE|FILE",
      help="--port is a servo bus of this arm: so100, so101 (Feetech STS3215), koch (Dynamixel) or a profile JSON")
    a("--calibration", metavar="FILE", help="with --arm: the arm's calibration (vla-lite calibrate); default: "
                                            "~/.config/vla-lite/calibration/<arm>.json ($XDG_CONFIG_HOME if set)")
    a("--on-exit", choices=("hold", "release"), default="hold",
      help="with --arm: torque at exit, Ctrl-C, SIGTERM and link loss. hold (default): torque stays on and the "
           "servos hold the last (hold) command; release: torque off, the arm goes limp (support it)")
    a("--model", help="a .vla bundle or a shipped model's name (demo, mt10-student-int8); default: demo")
    a("--camera", action="append", default=[], metavar="SRC",
      help="camera source: device index, /dev/videoN, video file, image folder; NAME=SRC per bundle camera")
    a("--camera-intrinsics", action="append", default=[], metavar="[NAME=]FILE",
      help="the camera's intrinsics (vla-lite calibrate-camera); a bundle camera trained on undistorted frames "
           "needs it, and run compares it with the training camera's")
    a("--instruction", type=option_types.instruction,
      help=f"what to do, e.g. 'touch the red block' (sim: default from each episode); UTF-8, at most "
           f"{MAX_INSTRUCTION_BYTES} bytes, the limit of every instruction source")
    a("--rate", type=float, help="loop rate, Hz: the bundle's rate (default) or an integer multiple (interpolated)")
    a("--duration", type=float, help="stop after this many seconds")
    a("--episodes", type=int, help="sim: stop after this many episodes")
    a("--episode-timeout", type=float, default=10.0, help="sim: seconds before an episode counts as failed")
    a("--record", metavar="DIR", help="record every tick (frames, state, actions, timing) to DIR")
    a("--report", metavar="FILE.json", help="write the cadence report as JSON")
    a("--runtime", choices=("onnx", "tflite"), default="onnx")
    a("--precision", choices=("fp32", "int8"), help="default: int8 when the bundle has it")
    a("--threads", type=int, default=1, help="inference threads (default 1: leave a core to the loop)")
    a("--execution", choices=("replan", "refill", "ensemble"), default="replan",
      help="chunk execution: replan every k (bundle's chunk.replan_every), refill at a threshold, or ACT ensemble")
    a("--refill-threshold", type=float, default=0.5)
    a("--blend", action="store_true", help="refill: blend overlapping chunks 0.3 old / 0.7 new")
    a("--ensemble-coeff", type=float, default=0.01)
    a("--async-inference", action="store_true", help="infer in a worker thread; the tick only submits/collects")
    a("--max-frame-age-ms", type=float, default=500.0, help="older camera frames are stale: the arm holds")
    a("--speed-scale", type=float, default=1.0, help="scale the controller's velocity/acceleration limits (0, 1]")
    a("--ramp-s", type=float, default=DEFAULT_RAMP_S, help="ramp-in time from the measured position, s")
    a("--clear-faults", action="store_true", help="send CLEAR_FAULT at start if the controller has faults latched")
    a("--rt-priority", type=int, metavar="N", help="SCHED_FIFO priority 1..99 (needs privilege)")
    a("--cpus", type=option_types.cpu_list, help="CPU affinity, e.g. 1 or 0,1")
    a("--no-gc-freeze", action="store_true", help="leave the garbage collector as it is")
    a("--pacing", choices=("absolute", "naive"), default="absolute",
      help="absolute deadlines (default) or the naive sleep(period - elapsed) baseline, for comparison")
    # Instruction sources: each line answered "ok <text>" or "refused: <reason>" (socket) or logged (stdin, FIFO).
    a("--instruction-stdin", action="store_true", help="read new instructions from stdin, one per line")
    a("--instruction-socket", type=option_types.tcp_port, metavar="PORT",
      help="accept instructions on 127.0.0.1:PORT, one per line, from many clients at once (0: any free port)")
    a("--instruction-fifo", metavar="PATH",
      help="accept instructions written to this FIFO (created if absent, and then removed at exit)")
    a("--baud", type=int, help="default 1000000 (with --arm: the arm profile's)")
    a("--seed", type=int, default=0, help="sim: first episode seed")
    grounding.add_arguments(parser)
    a("--quiet", action="store_true", help="no per-episode lines")


def _exit_status_help(parser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the table's lines as written
    parser.epilog = EXIT_STATUS_HELP


def config_from_args(args) -> RunConfig:
    if args.duration is not None and not args.duration > 0:
        raise ValueError(f"--duration must be > 0 s, got {args.duration}")
    if args.episodes is not None and args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    if args.arm is None and (args.calibration or args.on_exit != "hold"):
        raise ValueError("--calibration and --on-exit are for a servo bus: add --arm so100|so101|koch|FILE")
    simulated = parse_port(args.port, arm=args.arm).kind is PortKind.WORLD  # a world renders its own cameras
    if args.episodes is not None and not simulated:
        raise ValueError(f"--episodes needs a simulated world ({known(PortKind.WORLD)}): episodes end by its "
                         "success test")
    if not simulated and not args.camera:
        raise ValueError(f"--camera is required with a real arm (e.g. --camera 0); a simulated world renders its "
                         f"own ({known(PortKind.WORLD)})")
    if simulated and (args.camera or args.camera_intrinsics):
        flag = "--camera" if args.camera else "--camera-intrinsics"
        raise ValueError(f"{flag} is not used with --port {args.port} (the simulated world is the camera)")
    if args.instruction_fifo is not None:
        check_fifo_path(args.instruction_fifo)  # named before the arm link opens
    if not args.max_frame_age_ms > 0:
        raise ValueError(f"--max-frame-age-ms must be > 0, got {args.max_frame_age_ms}")
    return RunConfig(
        port=args.port, model=args.model, cameras=tuple(args.camera), camera_intrinsics=tuple(args.camera_intrinsics),
        rate_hz=args.rate, runtime=args.runtime,
        precision=args.precision, threads=args.threads, execution=args.execution,
        refill_threshold=args.refill_threshold, blend=(0.3, 0.7) if args.blend else None,
        ensemble_coeff=args.ensemble_coeff, async_inference=args.async_inference,
        max_frame_age_s=args.max_frame_age_ms / 1e3, speed_scale=args.speed_scale, ramp_s=args.ramp_s,
        clear_faults=args.clear_faults, baudrate=args.baud, record_dir=args.record, seed=args.seed,
        episode_timeout_s=args.episode_timeout, instruction_grounding=args.instruction_grounding,
        min_instruction_similarity=args.min_instruction_similarity, arm=args.arm, calibration=args.calibration,
        on_exit=args.on_exit)


def run(args) -> int:
    from .bundle import BundleError
    from .calib.errors import CalibrationError
    from .cameras import CameraError
    from .firmware_bridge import BridgeError

    try:
        cfg = config_from_args(args)
        rt = Runtime.open(cfg)
    except (ValueError, BundleError, BridgeError, CameraError, CalibrationError, OSError) as exc:
        print(f"vla-lite run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda signum, frame: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        from .session import Session

        session = Session(rt, instruction=args.instruction, episodes=args.episodes, verbose=not args.quiet)
        session.start_sources(stdin=args.instruction_stdin, socket_port=args.instruction_socket,
                              fifo=args.instruction_fifo)
        notes = session.prepare(rt_priority=args.rt_priority, cpus=args.cpus, freeze_gc=not args.no_gc_freeze)
        for note in rt.notes + notes:
            print(f"vla-lite run: {note}", file=sys.stderr)
        pacer = session.run(duration_s=args.duration, stop=stop, naive=args.pacing == "naive")
        link_notes = rt.link.run_notes()  # a servo bus's own counts (lost readings, torque at exit)
        status = rt.loop.ledger.exit_status()
        report = build_report(pacer.report(), rt.loop.report(), backend=rt.backend, pacing=args.pacing,
                              notes=rt.notes + notes + link_notes, outcome=status.name.lower(),
                              exit_status=int(status), **session.report())
    except (ValueError, OSError) as exc:
        print(f"vla-lite run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        rt.close()
    print(format_report(report, notes=False))  # the notes known at start were printed then
    for note in link_notes:  # what the link counted while running (a servo bus's lost readings, torque at exit)
        print(f"  note: {note}")
    if args.report:
        write_json(args.report, report)
    return int(status)
