"""`vla-lite convert SRC --to lerobot --out DIR`: any dataset vla-lite reads, written as a LeRobot v3.0 dataset.

    vla-lite convert runs/recorded --to lerobot --out runs/recorded_lerobot            # AV1, as LeRobot records
    vla-lite convert lift.hdf5 --instruction "lift the cube" --to lerobot --out lift_lr --video-codec h264
    vla-lite convert runs/recorded --to lerobot --out rec_png --images                 # PNG frames in the parquet

Episodes are screened as `train` screens them (recordings: each episode starts at its first complete tick); ones
train would drop are left out and listed (--keep-all writes every readable one). The layout, column names and types
are LeRobot 0.6.1's (export/datasets/lerobot_writer.py), so LeRobot loads the folder as its own dataset.
"""

from __future__ import annotations

import json
import sys

from .datasets.episode import DatasetError

USER_ERRORS = (DatasetError,)  # the CLI prints these as one line (vla_lite/cli.py)


def add_arguments(parser) -> None:
    from .datasets import add_dataset_arguments

    parser.add_argument("source", help="dataset folder or file (any format vla-lite reads)")
    parser.add_argument("--to", choices=("lerobot",), required=True, help="output format")
    parser.add_argument("--out", required=True, help="output folder (absent or empty)")
    parser.add_argument("--video-codec", choices=("av1", "h264"), default="av1",
                        help="camera video codec (LeRobot's default: av1)")
    parser.add_argument("--images", action="store_true", help="store frames as PNG in the parquet, no videos")
    parser.add_argument("--robot-type", help="info.json robot_type (default: a LeRobot source's, else none)")
    parser.add_argument("--keep-all", action="store_true", help="also write episodes train would drop")
    add_dataset_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    import os

    from vla_lite.progress import progress_bar

    from .datasets import FilterConfig, dataset_options, open_dataset, screen_episode
    from .datasets.lerobot_writer import write_lerobot
    from .datasets.video_encode import VideoCodec

    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration per episode otherwise
    reader = open_dataset(args.source, **dataset_options(args))
    keep, dropped = [], {}
    for i in range(len(reader)):
        ep = reader.episode(i)
        problems = [] if args.keep_all else screen_episode(ep, FilterConfig(min_length=2, drop_failed=False))
        ep.close()
        if problems:
            dropped[ep.key] = [p.code for p in problems]
        elif len(ep):
            keep.append(i)
    if not keep:
        raise DatasetError(f"{args.source}: no episode to convert (dropped: {dropped}); `vla-lite dataset "
                           f"{args.source}` says why")
    bar = progress_bar(len(keep), not args.json, unit="ep", desc="converting")
    info = write_lerobot(lambda: (reader.episode(i) for i in keep), args.out,
                         video=None if args.images else VideoCodec(args.video_codec),
                         robot_type=args.robot_type or (getattr(reader, "info", None) or {}).get("robot_type"),
                         progress=(lambda ep: bar.update(1)) if bar else None)
    if bar is not None:
        bar.close()
    summary = {"out": str(args.out), "episodes": info["total_episodes"], "rows": info["total_frames"],
               "tasks": info["total_tasks"], "fps": info["fps"], "dropped": dropped,
               "cameras": {k: f.get("info", {}).get("video.codec", "png") for k, f in info["features"].items()
                           if f["dtype"] in ("video", "image")},
               "dtype": info["features"]["action"]["dtype"]}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"wrote {summary['episodes']} episodes ({summary['rows']} rows, {summary['tasks']} tasks, "
              f"{summary['fps']} fps, cameras {summary['cameras']}) as LeRobot v3.0 to {args.out}")
        for key, codes in dropped.items():
            print(f"  left out {key}: {', '.join(codes)}", file=sys.stderr)
    return 0
