"""Still-image codec for recorded frames (OpenCV, imported here only): RGB uint8 <-> JPEG or PNG bytes."""

from __future__ import annotations

import numpy as np


def encode_frame(image: np.ndarray, image_format: str, quality: int) -> bytes:
    """(H, W, 3) uint8 RGB -> one JPEG (quality 1-100) or PNG (lossless) image."""
    import cv2

    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # OpenCV codecs take BGR
    if image_format == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        # Level 1: PNG is chosen for exactness, not size; higher levels cost 3-5x the time for ~10 % less.
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} frame as {image_format}")
    return buf.tobytes()


def decode_frame(data: bytes) -> np.ndarray | None:
    """JPEG/PNG bytes -> (H, W, 3) uint8 RGB, or None if the bytes are not a decodable image."""
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
