"""The dataset options of every command that reads datasets (train, distill, dataset, convert, view), in one place:

    add_dataset_arguments(parser)                  # --instruction, --fps, --filter-key
    readers = open_datasets(paths, dataset_options(args), note=print_to_stderr)

--instruction and --fps serve formats that store none (ALOHA; robomimic files without LIBERO's problem_info or
env_args); a format that stores its own (LeRobot, vla-lite recordings) keeps its own, and a note says the option was
not used. --filter-key picks a robomimic/LIBERO split (mask/train, mask/valid). Depth maps (LeRobot is_depth_map
features) are read by the readers but the policy takes RGB cameras only: a note says they are ignored.
"""

from __future__ import annotations

from typing import Callable, Iterable

from .base import DatasetReader
from .episode import DatasetError
from .open import open_dataset

OWN_LANGUAGE = ("vla-lite-recording", "lerobot-v2", "lerobot-v3")  # reader formats that store task and fps


def add_dataset_arguments(parser) -> None:
    g = parser.add_argument_group("dataset options")
    g.add_argument("--instruction", metavar="TEXT",
                   help="the instruction of every episode, for datasets that store none (ALOHA, plain robomimic)")
    g.add_argument("--fps", type=float, metavar="HZ",
                   help="the rows' rate, for datasets that store none (robomimic without env_args; ALOHA: 50)")
    g.add_argument("--filter-key", metavar="KEY",
                   help="robomimic/LIBERO: read only the demos listed in mask/KEY (e.g. train, valid)")


def dataset_options(args) -> dict:
    """DatasetSpec options from the parsed arguments (only those given). Raises DatasetError on a bad value."""
    out = {}
    instruction = getattr(args, "instruction", None)
    if instruction is not None:
        if not instruction.strip():
            raise DatasetError(f"--instruction must be a non-empty text, got {instruction!r}")
        out["instruction"] = instruction
    fps = getattr(args, "fps", None)
    if fps is not None:
        if not 0 < fps <= 10_000:
            raise DatasetError(f"--fps must be in (0, 10000] rows per second, got {fps!r}")
        out["fps"] = float(fps)
    if getattr(args, "filter_key", None) is not None:
        out["filter_key"] = args.filter_key
    return out


def open_datasets(paths: Iterable, options: dict | None = None,
                  note: Callable[[str], None] | None = None) -> list[DatasetReader]:
    """One reader per path with the options applied; note(text) is told what was not used (one line each)."""
    options = dict(options or {})
    readers = []
    for p in paths:
        reader = open_dataset(p, **options)
        if note is not None:
            unused = [f"--{k}" for k in ("instruction", "fps") if k in options and reader.format in OWN_LANGUAGE]
            if unused:
                note(f"{p}: {' and '.join(unused)} not used: a {reader.format} dataset stores its own")
            if reader.depth:
                note(f"{p}: depth feature(s) {sorted(reader.depth.values())} ignored: the policy takes RGB cameras "
                     "and state only")
        readers.append(reader)
    return readers
