"""Camera sources. Each yields the newest RGB frame with its monotonic capture time.

Light to import: OpenCV is loaded only when a source is opened or a preprocessor is made.
"""

from .base import Camera, CameraStopped, Frame, FrameSource, StaleFrame
from .errors import CameraError
from .open import open_cameras, open_source, parse_camera_args, parse_intrinsics_args
from .preprocess import make_preprocessor
from .rendered import RenderedCamera
from .threaded import ThreadedCamera

__all__ = ["Camera", "CameraError", "CameraStopped", "Frame", "FrameSource", "RenderedCamera", "StaleFrame", "ThreadedCamera",
           "make_preprocessor", "open_cameras", "open_source", "parse_camera_args", "parse_intrinsics_args"]
