"""Cameras in the bundle's contract: does each live camera deliver the picture the policy was trained on?

Per bundle camera, from the size of the frames the live camera delivers and the intrinsics file given for it
(`--camera-intrinsics NAME=FILE`), against the bundle's record of its training camera (docs/BUNDLE.md:
`captured_size`, and with `undistort` the `intrinsics` the training frames were undistorted with):

- Refuse (CameraError, one line naming the camera, both values and the fix) when the policy cannot be fed as it
  was trained: it expects undistorted frames and the live camera has no intrinsics file; the live intrinsics were
  calibrated at another size than the camera delivers (their undistortion maps do not fit the frames); the bundle's
  crop does not fit in the delivered frame; a rendered camera is given intrinsics.
- Warn (a note) when it can be fed but sees another picture than in training: the delivered size differs from the
  training frames' (the policy sees them rescaled, stretched too when the aspect ratio differs); the live
  intrinsics differ from the training camera's by more than INTRINSICS_TOLERANCE of the image size in focal length
  or principal point (undistortion removes lens distortion, not another field of view or centre).
- Note that intrinsics given for a camera the policy was trained on raw frames from are not applied.

A simulated world's cameras render a distortion-free pinhole at the world's size: they are never undistorted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .calib.camera_intrinsics import CameraIntrinsics
from .cameras.errors import CameraError
from .cameras.preprocess import make_preprocessor
from .cameras.undistort import make_camera_preprocessor

INTRINSICS_TOLERANCE = 0.02  # of the image's width (fx, cx) or height (fy, cy): ~1 degree of a 60 degree view


@dataclass(frozen=True)
class LiveCamera:
    source: str  # what feeds it, for messages: "--camera frames/", "the simulated world sim"
    size_wh: tuple[int, int] | None  # (width, height) px of the frames it delivers; None: not looked at
    intrinsics: CameraIntrinsics | None = None  # the file given for it (--camera-intrinsics)
    intrinsics_file: str | None = None
    rendered: bool = False  # a simulated world renders it: distortion-free by construction


def _wh(size) -> str:
    return f"{size[0]}x{size[1]}"


def _describe(intr: CameraIntrinsics) -> str:
    return (f"fx {intr.fx:.1f}, fy {intr.fy:.1f}, cx {intr.cx:.1f}, cy {intr.cy:.1f} px at "
            f"{_wh(intr.image_size)}")


def intrinsics_shift(a: CameraIntrinsics, b: CameraIntrinsics) -> float:
    """Largest difference of fx, cx (over the width) and fy, cy (over the height) between two calibrations, each
    taken as a fraction of its own image size, so the same lens calibrated at two resolutions differs by ~0."""
    def relative(intr):
        w, h = intr.image_size
        return np.array([intr.fx / w, intr.cx / w, intr.fy / h, intr.cy / h])
    return float(np.abs(relative(a) - relative(b)).max())


def check_cameras(manifest, live: Mapping[str, LiveCamera]) -> list[str]:
    """Notes (warnings) for the run; CameraError when a bundle camera cannot be fed as it was trained."""
    notes = []
    for spec in manifest.cameras:
        cam = live[spec.name]
        where = f"camera {spec.name!r} ({cam.source})"
        notes += _check_undistortion(manifest.name, spec, cam, where)
        if cam.size_wh is None:
            continue
        if spec.crop is not None:
            top, left, height, width = spec.crop
            if top + height > cam.size_wh[1] or left + width > cam.size_wh[0]:
                raise CameraError(f"{where} delivers {_wh(cam.size_wh)} px frames, but bundle {manifest.name!r} "
                                  f"crops [top, left, height, width] = {list(spec.crop)}, which needs at least "
                                  f"{left + width}x{top + height}; set the camera to "
                                  f"{_wh(spec.captured_size or (left + width, top + height))}")
        if spec.captured_size is not None and tuple(cam.size_wh) != tuple(spec.captured_size):
            stretched = cam.size_wh[0] * spec.captured_size[1] != cam.size_wh[1] * spec.captured_size[0]
            notes.append(f"WARNING: {where} delivers {_wh(cam.size_wh)} px frames, but bundle {manifest.name!r} "
                         f"was trained on {_wh(spec.captured_size)} px frames from its camera: the policy sees "
                         f"them rescaled to {spec.width}x{spec.height}"
                         f"{' and stretched (another aspect ratio)' if stretched else ''}; set the camera to "
                         f"{_wh(spec.captured_size)}")
    return notes


def _check_undistortion(bundle: str, spec, cam: LiveCamera, where: str) -> list[str]:
    if cam.rendered:
        if cam.intrinsics is not None:
            raise CameraError(f"{where} is rendered (a distortion-free pinhole): it takes no intrinsics file; drop "
                              f"--camera-intrinsics {spec.name}={cam.intrinsics_file}")
        return []
    if not spec.undistort:
        return [] if cam.intrinsics is None else [
            f"{where}: --camera-intrinsics {cam.intrinsics_file} is not applied: bundle {bundle!r} was trained on "
            "raw (not undistorted) frames from its camera"]
    if cam.intrinsics is None:
        trained = f" ({_describe(spec.intrinsics)})" if spec.intrinsics is not None else ""
        raise CameraError(f"{where}: bundle {bundle!r} expects frames undistorted as in training{trained}, and no "
                          f"intrinsics file was given for this camera; calibrate it (vla-lite calibrate-camera "
                          f"--camera SRC --board 9x6 --square-mm 25 --out cam.json) and pass "
                          f"--camera-intrinsics {spec.name}=cam.json")
    intr = cam.intrinsics
    if cam.size_wh is not None and tuple(intr.image_size) != tuple(cam.size_wh):
        raise CameraError(f"{where} delivers {_wh(cam.size_wh)} px frames, but its intrinsics file "
                          f"{cam.intrinsics_file!r} was calibrated at {_wh(intr.image_size)}: they cannot undistort "
                          f"these frames; set the camera to {_wh(intr.image_size)} or calibrate it again at "
                          f"{_wh(cam.size_wh)} (vla-lite calibrate-camera)")
    if spec.intrinsics is not None and intrinsics_shift(intr, spec.intrinsics) > INTRINSICS_TOLERANCE:
        return [f"WARNING: {where}: its intrinsics {cam.intrinsics_file!r} ({_describe(intr)}) differ from those "
                f"bundle {bundle!r} was trained with ({_describe(spec.intrinsics)}) by more than "
                f"{INTRINSICS_TOLERANCE:.0%} of the image: undistorted, it still has another field of view or "
                "centre; use the training camera (or the same model and lens), or check the file is this camera's"]
    return []


def camera_preprocessors(manifest, live: Mapping[str, LiveCamera]
                         ) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """{camera name: frame -> graph input}: undistorted with the live camera's intrinsics where the bundle camera
    asks for it (vla_lite.cameras.undistort, the code training uses too), plain elsewhere and for rendered
    cameras. Call check_cameras first (it refuses what this cannot build)."""
    return {c.name: make_preprocessor(c) if live[c.name].rendered else
            make_camera_preprocessor(c, live[c.name].intrinsics) for c in manifest.cameras}
