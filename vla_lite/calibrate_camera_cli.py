"""`vla-lite calibrate-camera`: intrinsics from chessboard views, from a live camera or a folder of images.

    vla-lite calibrate-camera --camera 0 --board 9x6 --square-mm 25 --out cam.json           # live: move the board
    vla-lite calibrate-camera --camera shots/ --board 9x6 --square-mm 25 --out cam.json --json

Live, a view is accepted when the whole board is found, it is sharp (variance of the Laplacian over the board)
and it moved since the last accepted one; a status line shows the count and the image coverage. A folder or a
video is read once, every sharp view kept. Prints the RMS reprojection error and each view's error.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .calib.camera_intrinsics import MIN_VIEWS, CameraIdentity, calibrate_camera, save_intrinsics
from .calib.chessboard import DEFAULT_MIN_SHARPNESS, ViewCollector, parse_board
from .calib.errors import CalibrationError
from .cameras.errors import CameraError

WARN_RMS_PX = 1.0  # above this the fit is suspect (a moved board, motion blur, a wrong --board)
WARN_COVERAGE = 0.6  # share of image cells that held a corner; the edges pin the distortion down


def add_arguments(parser) -> None:
    parser.add_argument("--camera", required=True, metavar="SRC",
                        help="a device index (0) or path (/dev/video2): live; a folder of images or a video file")
    parser.add_argument("--board", default="9x6", help="inner corners COLSxROWS, as OpenCV counts them "
                        "(9x6 = 9 x 6 inner corners, 10 x 7 squares; default 9x6)")
    parser.add_argument("--square-mm", type=float, required=True, help="side of one printed square, mm")
    parser.add_argument("--out", help="write the intrinsics JSON here")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--views", type=int, default=20, help="live: stop after this many accepted views (20)")
    parser.add_argument("--max-seconds", type=float, default=180.0, help="live: give up after this long (180 s)")
    parser.add_argument("--min-sharpness", type=float, default=DEFAULT_MIN_SHARPNESS,
                        help=f"least variance of the Laplacian over the board ({DEFAULT_MIN_SHARPNESS:g})")
    parser.add_argument("--min-motion-px", type=float, default=20.0,
                        help="live: mean corner motion since the last accepted view, px (20)")


def _open(spec: str):
    """(FrameSource, live?) for a source string; folders and videos are read once, as fast as they decode."""
    from .cameras.open import open_source
    from .cameras.opencv_sources import ImageFolderSource, VideoFileSource

    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path, fps=None, loop=False), False
    if path.is_file():
        return VideoFileSource(path, realtime=False), False
    return open_source(spec), True


def collect(source, collector: ViewCollector, live: bool, target: int, max_seconds: float, status) -> None:
    """Offer frames until the source ends or (live) enough views are accepted or time runs out."""
    t_end = time.monotonic() + max_seconds
    while not (live and (len(collector.views) >= target or time.monotonic() > t_end)):
        frame = source.grab()
        if frame is None:
            return
        verdict = collector.offer(frame)
        cov = collector.coverage.fraction if collector.coverage else 0.0
        status(f"frames {collector.seen}  views {len(collector.views)}" + (f"/{target}" if live else "") +
               f"  coverage {cov:4.0%}  last: {verdict:<9}", verdict)


def summary(intr, collector: ViewCollector, out: str | None) -> dict:
    return {**{k: v for k, v in intr.to_dict().items() if k not in ("format", "version")},
            "views": len(collector.views), "frames": collector.seen, "rejected": dict(collector.rejected),
            "view_frames": [v.index for v in collector.views], "coverage": round(collector.coverage.fraction, 3),
            "out": out}


def format_text(s: dict, coverage_map: str) -> str:
    lines = [f"RMS reprojection error {s['rms_px']:.3f} px over {s['views']} views "
             f"({s['frames']} frames; rejected {s['rejected']})",
             f"fx {s['fx']:.2f}  fy {s['fy']:.2f}  cx {s['cx']:.2f}  cy {s['cy']:.2f} px, image "
             f"{s['image_size'][0]}x{s['image_size'][1]}",
             "dist (k1 k2 p1 p2 k3) " + " ".join(f"{d:+.5f}" for d in s["dist"]),
             "per view (frame: RMS px) " + ", ".join(f"{i}: {e:.3f}" for i, e in zip(s["view_frames"],
                                                                                      s["per_view_px"])),
             f"coverage {s['coverage']:.0%} of the image cells:", coverage_map]
    if s["rms_px"] > WARN_RMS_PX:
        lines.append(f"WARNING: RMS above {WARN_RMS_PX} px; check --board and --square-mm, drop blurred views")
    if s["coverage"] < WARN_COVERAGE:
        lines.append("WARNING: the board never reached some parts of the image; add views near the edges")
    return "\n".join(lines)


def run(args) -> int:
    def status(line: str, verdict: str = "") -> None:  # one rewritten line on a terminal, else one per view
        if sys.stderr.isatty():
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif verdict == "accepted":
            print(line, file=sys.stderr)

    try:
        board = parse_board(args.board, args.square_mm)
        if not args.out and not args.json:
            raise ValueError("nothing to do: pass --out FILE (and/or --json)")
        if args.views < MIN_VIEWS or not args.max_seconds > 0:
            raise ValueError(f"--views {args.views} / --max-seconds {args.max_seconds}: expected at least "
                             f"{MIN_VIEWS} views and a positive time")
        source, live = _open(args.camera)
        collector = ViewCollector(board, args.min_sharpness, args.min_motion_px if live else 0.0)
        try:
            collect(source, collector, live, args.views, args.max_seconds, status)
        finally:
            source.close()
            if sys.stderr.isatty():
                print(file=sys.stderr)
        if collector.image_size is None:
            raise CameraError(f"camera source {args.camera!r} gave no frame")
        intr = calibrate_camera(collector.views, board, collector.image_size,
                                CameraIdentity(args.camera, collector.image_size))
        if args.out:
            save_intrinsics(args.out, intr)
    except (CalibrationError, CameraError, ValueError, OSError) as exc:
        print(f"vla-lite calibrate-camera: {exc}", file=sys.stderr)
        return 1
    s = summary(intr, collector, args.out)
    print(json.dumps(s, indent=2) if args.json else format_text(s, collector.coverage.map()))
    return 0
