"""Training augmentations in numpy: random shift (DrQ), brightness/contrast jitter without hue change, and
instruction paraphrases. Each takes a numpy Generator, so a seeded run repeats exactly.

Images are (H, W, 3) or (B, H, W, 3), uint8 or float; float images need their value range (the bundle camera's
pixel_range, e.g. (0, 1) or (-1, 1)). Jitter applies the same positive scale and offset to the three channels of
a pixel, so channel differences (hence hue) keep their ratios: "the red block" stays red. Pixels that clip at
the range's ends are the only exception.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def _batched(images: np.ndarray) -> tuple[np.ndarray, bool]:
    images = np.asarray(images)
    if images.ndim == 3:
        return images[None], True
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images have shape {images.shape}; expected (H, W, 3) or (B, H, W, 3)")
    return images, False


def random_shift(images: np.ndarray, rng: np.random.Generator, pad: int = 4) -> np.ndarray:
    """Pad each image by `pad` px repeating its border, then crop the original size at a random offset (each
    image its own): a shift of up to ±pad px. Same shape and dtype."""
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise ValueError(f"pad must be an integer >= 0 (px), got {pad!r}")
    x, single = _batched(images)
    if pad == 0:
        return np.array(images, copy=True)
    b, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    oy, ox = rng.integers(0, 2 * pad + 1, size=(2, b))  # crop corner per image
    rows = (oy[:, None] + np.arange(h))[:, :, None]  # (B, H, 1)
    cols = (ox[:, None] + np.arange(w))[:, None, :]  # (B, 1, W)
    out = padded[np.arange(b)[:, None, None], rows, cols]  # (B, H, W, 3)
    return out[0] if single else out


def jitter(images: np.ndarray, rng: np.random.Generator, brightness: float = 0.1, contrast: float = 0.1,
           value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Per image: contrast c ~ U[1 - contrast, 1 + contrast] about the image's mean grey level, then brightness
    b ~ U[1 - brightness, 1 + brightness] as a scale from black; clipped to the value range. No hue change."""
    for name, v in (("brightness", brightness), ("contrast", contrast)):
        if not 0 <= v < 1:
            raise ValueError(f"{name} must be in [0, 1) (a fraction), got {v!r}")
    x, single = _batched(images)
    if x.dtype == np.uint8:
        lo, hi = 0.0, 255.0
    elif value_range is None:
        raise ValueError(f"{x.dtype} images need value_range (the camera's pixel_range, e.g. (0.0, 1.0))")
    else:
        lo, hi = map(float, value_range)
        if not lo < hi:
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
    b = len(x)
    c = rng.uniform(1 - contrast, 1 + contrast, size=(b, 1, 1, 1))
    s = rng.uniform(1 - brightness, 1 + brightness, size=(b, 1, 1, 1))
    u = (x.astype(np.float32) - lo) / (hi - lo)  # 0 = black, 1 = full scale
    grey = u.mean(axis=(1, 2, 3), keepdims=True)
    u = np.clip(((u - grey) * c + grey) * s, 0.0, 1.0) * (hi - lo) + lo
    out = np.rint(u).astype(np.uint8) if x.dtype == np.uint8 else u.astype(x.dtype)
    return out[0] if single else out


def sample_instruction(instruction: str, paraphrases: Mapping[str, Sequence[str]] | Sequence[str],
                       rng: np.random.Generator, p_original: float = 0.5) -> str:
    """The instruction itself with probability p_original, else one of its paraphrases uniformly. paraphrases:
    instruction -> alternatives, or a list of alternatives for this instruction. No paraphrase: the original."""
    if not 0 <= p_original <= 1:
        raise ValueError(f"p_original must be in [0, 1], got {p_original!r}")
    options = paraphrases.get(instruction, ()) if isinstance(paraphrases, Mapping) else paraphrases
    if isinstance(options, str):
        raise ValueError(f"paraphrases of {instruction!r} must be a list of strings, got the string {options!r}")
    options = [p for p in options if p != instruction]
    if not options or rng.random() < p_original:
        return instruction
    return options[int(rng.integers(len(options)))]
