"""From `--camera` arguments to running cameras: which source feeds which bundle camera, and how to open it.

    --camera 0                                  the only bundle camera <- device 0
    --camera front=0 --camera wrist=/dev/video2 one source per named camera
    --camera clip.mp4 / --camera frames/        a video file / a folder of images, played like a camera
    --camera-intrinsics front=cam.json          the intrinsics file of a camera (parse_intrinsics_args)

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


def is_camera_name(s: str) -> bool:
    return bool(s) and s.isascii() and s.replace("_", "").isalnum()  # the manifest's rule for camera names


def _split_named(values: list[str], names: list[str], flag: str, what: str, forms: str,
                 placeholder: str) -> tuple[dict, list]:
    """`flag` values -> ({camera name: value given as NAME=VALUE}, [values given without a name]). Raises
    ValueError naming the value for an empty one, an unknown or repeated name, or NAME= with nothing after it."""
    out: dict[str, str] = {}
    unnamed: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{flag} {value!r}: expected a {what}, {forms}")
        name, sep, given = value.partition("=")
        if not (sep and is_camera_name(name)):
            unnamed.append(value)  # a path such as ./a=b.mp4 is not NAME=VALUE
            continue
        if name not in names:
            raise ValueError(f"{flag} {value!r} names camera {name!r}, but the bundle's cameras are {names} "
                             f"(if {value!r} is a file, write it as ./{value})")
        if not given:
            raise ValueError(f"{flag} {value!r} gives camera {name!r} no {what}; expected {name}={placeholder} "
                             f"with {placeholder} {forms}")
        if name in out:
            raise ValueError(f"camera {name!r} is given two {what}s: {out[name]!r} and {given!r}")
        out[name] = given
    return out, unnamed


def _only_camera(unnamed: list[str], values: list[str], names: list[str], flag: str, what: str,
                 example: str) -> dict[str, str]:
    """The unnamed value as the only camera's; ValueError when the bundle has several or it was given twice."""
    if not unnamed:
        return {}
    if len(names) > 1:
        raise ValueError(f"{flag} {unnamed[0]!r} does not say which camera it feeds; the bundle has cameras "
                         f"{names}, so name each {what}: {example}")
    if len(values) > 1:
        raise ValueError(f"the bundle has one camera, {names[0]!r}, but {flag} was given {len(values)} "
                         f"times: {values}; expected one {what}")
    return {names[0]: unnamed[0]}


def parse_camera_args(values: list[str], camera_names: list[str]) -> dict[str, str]:
    """`--camera` values -> {bundle camera name: source string}, in the bundle's camera order.

    A value NAME=SOURCE feeds camera NAME; a single unnamed value feeds the only camera. Raises ValueError naming
    the value when a camera has no source, a name is unknown or repeated, or an unnamed value is ambiguous."""
    names = list(camera_names)
    if not names:
        raise ValueError("the bundle lists no cameras; expected at least one camera name")
    values = list(values or [])
    example = " ".join(f"--camera {n}={s}" for n, s in zip(names, ("0", "/dev/video2", "2", "3")))
    out, unnamed = _split_named(values, names, "--camera", "source", SOURCE_FORMS, "SOURCE")
    out.update(_only_camera(unnamed, values, names, "--camera", "source", example))
    missing = [n for n in names if n not in out]
    if missing:
        raise ValueError(f"no --camera source for bundle camera(s) {missing}; expected one per camera, e.g. "
                         f"{example} (a source is {SOURCE_FORMS})")
    return {n: out[n] for n in names}


def parse_intrinsics_args(values: list[str], camera_names: list[str], flag: str = "--camera-intrinsics"
                          ) -> dict[str, str]:
    """`--camera-intrinsics` values -> {camera name: intrinsics file (vla-lite calibrate-camera)}, in camera
    order: NAME=FILE per camera, or FILE alone when there is one camera; a camera may have none. ValueError as
    parse_camera_args."""
    names, values = list(camera_names), list(values or [])
    example = " ".join(f"{flag} {n}={n}_cam.json" for n in names[:2])
    out, unnamed = _split_named(values, names, flag, "intrinsics file", "a file written by vla-lite calibrate-camera",
                                "FILE")
    out.update(_only_camera(unnamed, values, names, flag, "intrinsics file", example))
    return {n: out[n] for n in names if n in out}


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
