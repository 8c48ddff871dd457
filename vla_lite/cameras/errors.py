"""Errors raised while opening or reading a camera source (StaleFrame, raised by reads, lives in base.py)."""

from __future__ import annotations


class CameraError(RuntimeError):
    """A camera source cannot be opened or read: no such device, an unreadable file, an empty folder."""
