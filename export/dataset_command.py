"""`vla-lite dataset PATH`: what a dataset holds and what stops it from training, like `lerobot-doctor`.

    vla-lite dataset data/so101_pick              # format, episodes, rows, fps, cameras (codec, size), depth maps,
    vla-lite dataset lift.hdf5 --json             # state/action names, tasks, problems with the command fixing each

Any dataset `train` reads (vla-lite recordings, LeRobot v2.x/v3.0, robomimic/LIBERO, ALOHA); the dataset options
(--instruction, --fps, --filter-key) are train's, so a fix can be tried here first. Exit status 0 when every episode
is trainable, 1 when some are not, 2 when the dataset cannot be read at all.
"""

from __future__ import annotations

import json

from .datasets.episode import DatasetError

USER_ERRORS = (DatasetError,)  # the CLI prints these as one line (vla_lite/cli.py)


def add_arguments(parser) -> None:
    from .datasets import add_dataset_arguments

    parser.add_argument("path", help="dataset folder or file")
    add_dataset_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the description as JSON")


def run(args) -> int:
    from .datasets import dataset_options, open_dataset
    from .datasets.describe import describe_dataset, render

    d = describe_dataset(open_dataset(args.path, **dataset_options(args)))
    print(json.dumps(d, indent=1) if args.json else render(d))
    return 0 if d["kept"] == d["episodes"] else 1
