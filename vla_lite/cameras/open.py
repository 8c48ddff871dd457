"""From `--camera` arguments to running cameras: which source feeds which bundle camera, and how to open it.

    --camera 0                                  the only bundle camera <- device 0
    --camera front=0 --camera wrist=/dev/video2 one source per named camera
    --camera clip.mp4 / --camera frames/        a video file / a folder of images, played like a camera

The simulated camera is not opened here: it is rendered by the simulated world (`--port sim`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ..ports import world_scheme
from .base import FrameSource
from .errors import CameraError
from .threaded import ThreadedCamera

SOURCE_FORMS = ("a device index (0), a device path (/dev/video2), a video file (clip.mp4) or a folder of "
                "images (frames/)")


def _is_camera_name(s: str) -> bool:
    return bool(s) and s.isascii() and s.replace("_", "").isalnum()  # the manifest's rule for camera names


def parse_camera_args(values: list[str], camera_names: list[str]) -> dict[str, str]:
    """`--camera` values -> {bundle camera name: source string}, in the bundle's camera order.

    A value NAME=SOURCE feeds camera NAME; a single unnamed value feeds the only camera. Raises ValueError naming
    the value when a camera has no source, a name is unknown or repeated, or an unnamed value is ambiguous."""
    names = list(camera_names)
    if not names:
        raise ValueError("the bundle lists no cameras; expected at least one camera name")
    values = list(values or [])
    example = " ".join(f"--camera {n}={s}" for n, s in zip(names, ("0", "/dev/video2", "2", "3")))
    out: dict[str, str] = {}
    unnamed: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"--camera {value!r}: expected a source, {SOURCE_FORMS}")
        name, sep, source = value.partition("=")
        if not (sep and _is_camera_name(name)):
            unnamed.append(value)  # a path such as ./a=b.mp4 is not NAME=SOURCE
            continue
        if name not in names:
            raise ValueError(f"--camera {value!r} names camera {name!r}, but the bundle's cameras are {names} "
                             f"(if {value!r} is a file, write it as ./{value})")
        if not source:
            raise ValueError(f"--camera {value!r} gives camera {name!r} no source; expected {name}=SOURCE with "
                             f"SOURCE {SOURCE_FORMS}")
        if name in out:
            raise ValueError(f"camera {name!r} is given two sources: {out[name]!r} and {source!r}")
        out[name] = source
    if unnamed:
        if len(names) > 1:
            raise ValueError(f"--camera {unnamed[0]!r} does not say which camera it feeds; the bundle has cameras "
                             f"{names}, so name each source: {example}")
        if len(values) > 1:
            raise ValueError(f"the bundle has one camera, {names[0]!r}, but --camera was given {len(values)} "
                             f"times: {values}; expected one source")
        out[names[0]] = unnamed[0]
    missing = [n for n in names if n not in out]
    if missing:
        raise ValueError(f"no --camera source for bundle camera(s) {missing}; expected one per camera, e.g. "
                         f"{example} (a source is {SOURCE_FORMS})")
    return {n: out[n] for n in names}


def open_source(spec: str) -> FrameSource:
    """Open a source string by its form: digits or /dev/video* -> DeviceSource, a directory -> ImageFolderSource,
    a file -> VideoFileSource. Raises CameraError naming the string when it cannot be opened."""
    from .opencv_sources import DeviceSource, ImageFolderSource, VideoFileSource

    if not isinstance(spec, str) or not spec:
        raise CameraError(f"camera source {spec!r}: expected {SOURCE_FORMS}")
    if world_scheme(spec) is not None:
        raise CameraError(f"camera source {spec!r} is a simulated world, which renders its own cameras: run with "
                          f"--port {spec} (and no --camera) to use it")
    if spec.isascii() and spec.isdigit():
        return DeviceSource(int(spec))
    if spec.startswith("/dev/video"):
        return DeviceSource(spec)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path)
    if path.is_file():
        return VideoFileSource(path)
    raise CameraError(f"camera source {spec!r} does not exist; expected {SOURCE_FORMS}")


def open_cameras(sources: dict[str, str], clock: Callable[[], float] = time.monotonic) -> dict[str, ThreadedCamera]:
    """Open and start one ThreadedCamera per {name: source string}; on any failure close those already open."""
    cameras: dict[str, ThreadedCamera] = {}
    try:
        for name, spec in sources.items():
            try:
                source = open_source(spec)
            except CameraError as exc:
                raise CameraError(f"camera {name!r}: {exc}") from exc
            cameras[name] = ThreadedCamera(name, source, clock)
    except BaseException:
        for cam in cameras.values():
            cam.close()
        raise
    return cameras
