"""Camera sources. Each yields the newest RGB frame with its monotonic capture time."""

from .base import Camera, Frame, StaleFrame

__all__ = ["Camera", "Frame", "StaleFrame"]
