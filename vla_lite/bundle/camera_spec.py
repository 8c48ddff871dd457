"""A bundle camera (the manifest's `cameras` entries, docs/BUNDLE.md): what the policy's image input is and how a
captured frame becomes it, plus the record of the camera the policy was trained on.

    spec = camera_from_dict(d, "cameras[0]")     # ManifestInvalid naming the field
    d = camera_to_dict(spec)                     # camera_from_dict(camera_to_dict(s), p) == s

The record (both optional, absent in bundles made before it): `captured_size`, the (width, height) px of the
training frames as captured, before undistortion, crop and resize; with `undistort`, `intrinsics`, the camera
intrinsics (docs/CALIBRATION.md) the training frames were undistorted with. `vla-lite run` compares the live
camera with both (vla_lite/camera_contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..calib.camera_intrinsics import CameraIntrinsics
from ..calib.errors import CalibrationFileError
from . import fields as f
from .errors import ManifestInvalid

RESIZE = ("area", "linear")
CHANNEL_ORDERS = ("RGB", "BGR")
REQUIRED = ("name", "height", "width", "channel_order", "pixel_range", "resize")
OPTIONAL = ("crop", "undistort", "captured_size", "intrinsics")


@dataclass(frozen=True)
class CameraSpec:
    name: str  # graph input is image_<name>
    height: int  # px, after resize/crop
    width: int
    channel_order: str  # "RGB" | "BGR"
    pixel_range: tuple[float, float]  # values the graph expects, e.g. (0.0, 1.0) or (-1.0, 1.0)
    resize: str  # "area" | "linear"
    crop: tuple[int, int, int, int] | None  # (top, left, height, width) in the captured frame, before resize
    undistort: bool = False  # the policy expects frames undistorted with the live camera's intrinsics file
    captured_size: tuple[int, int] | None = None  # (width, height) px of the training frames as captured
    intrinsics: CameraIntrinsics | None = None  # with undistort: what the training frames were undistorted with

    @property
    def input_name(self) -> str:
        return f"image_{self.name}"


def camera_to_dict(c: CameraSpec) -> dict:
    """The manifest's JSON form; the optional keys only when set (older readers see the same object as before)."""
    return {"name": c.name, "height": c.height, "width": c.width, "channel_order": c.channel_order,
            "pixel_range": list(c.pixel_range), "resize": c.resize, "crop": None if c.crop is None else list(c.crop),
            **({"undistort": True} if c.undistort else {}),
            **({"captured_size": list(c.captured_size)} if c.captured_size is not None else {}),
            **({"intrinsics": c.intrinsics.to_dict()} if c.intrinsics is not None else {})}


def camera_from_dict(c: Any, p: str) -> CameraSpec:
    """One `cameras` entry, checked; `p` names it in errors ("cameras[0]")."""
    f.obj(c, p, REQUIRED, OPTIONAL)
    name = f.string(c["name"], f"{p}.name")
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ManifestInvalid(f"{p}.name is {name!r}; expected letters, digits and '_' only "
                              "(it becomes the graph input name image_<name>)")
    lo, hi = f.vector(c["pixel_range"], f"{p}.pixel_range", 2, "[low, high]")
    if not lo < hi:
        raise ManifestInvalid(f"{p}.pixel_range is {[lo, hi]}; expected low < high, e.g. [0.0, 1.0]")
    crop = c.get("crop")
    if crop is not None:
        crop = f.vector(crop, f"{p}.crop", 4, "[top, left, height, width]", f.integer)
        if min(crop[:2]) < 0 or min(crop[2:]) < 1:
            raise ManifestInvalid(f"{p}.crop is {list(crop)}; expected top, left >= 0 and height, width >= 1")
    undistort = f.boolean(c.get("undistort", False), f"{p}.undistort")
    captured = c.get("captured_size")
    if captured is not None:
        captured = f.vector(captured, f"{p}.captured_size", 2, "[width, height]",
                            lambda v, q: f.integer(v, q, 1, 65535))
    return CameraSpec(name, f.integer(c["height"], f"{p}.height", 1, 8192),
                      f.integer(c["width"], f"{p}.width", 1, 8192),
                      f.string(c["channel_order"], f"{p}.channel_order", CHANNEL_ORDERS), (lo, hi),
                      f.string(c["resize"], f"{p}.resize", RESIZE), crop, undistort, captured,
                      _intrinsics(c.get("intrinsics"), p, undistort, captured))


def _intrinsics(value: Any, p: str, undistort: bool, captured: tuple | None) -> CameraIntrinsics | None:
    if value is None:
        return None
    if not undistort:
        raise ManifestInvalid(f"{p}.intrinsics is given but {p}.undistort is not true; expected intrinsics only "
                              "for a camera whose training frames were undistorted")
    try:
        intr = CameraIntrinsics.from_dict(value)
    except CalibrationFileError as exc:
        raise ManifestInvalid(f"{p}.intrinsics: {exc}") from None
    if captured is not None and tuple(intr.image_size) != tuple(captured):
        raise ManifestInvalid(f"{p}.intrinsics were calibrated at {intr.image_size[0]}x{intr.image_size[1]} px but "
                              f"{p}.captured_size is {captured[0]}x{captured[1]}; expected the size the training "
                              "frames were undistorted at")
    return intr
