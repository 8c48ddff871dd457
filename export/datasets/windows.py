"""Training samples from episodes: (episode, t) -> the graph's inputs at row t and the action chunk t..t+T-1.

An episode ending inside the chunk is padded by repeating its last action (in robot units, then normalised like
every other step), and `action_mask` is false on those steps so the loss ignores them. Never zeros in
normalised space: those decode to the dataset mean and teach the policy to yank the arm toward it.
Images go through the runtime's own preprocessing on the raw frames (`make_camera_preprocessor`: undistortion
first for a camera whose spec records intrinsics), so training and the robot see the same pixels; state and actions are normalised with the bundle's statistics (docs/BUNDLE.md).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .episode import DatasetError, EpisodeData


def action_chunk(actions: np.ndarray, t: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """actions (N, D), start row t, chunk length T -> (chunk (T, D), valid (T,) bool). Steps past the episode's
    end repeat actions[N - 1] and are not valid."""
    n = len(actions)
    if not 0 <= t < n:
        raise IndexError(f"chunk start t = {t} outside the episode's rows 0..{n - 1}")
    if length < 1:
        raise ValueError(f"chunk length must be >= 1, got {length}")
    steps = np.arange(t, t + length)
    return np.asarray(actions)[np.minimum(steps, n - 1)], steps < n


def window_index(lengths: Sequence[int], length: int, stride: int = 1, min_valid: int = 1) -> np.ndarray:
    """(M, 2) int64 [episode position, t] for every chunk start whose first `min_valid` steps are real actions
    (min_valid = T: no padded chunk at all; 1: every row). stride: keep every stride-th start."""
    if not 1 <= min_valid <= length or stride < 1:
        raise ValueError(f"need 1 <= min_valid <= chunk length and stride >= 1; got min_valid={min_valid}, "
                         f"length={length}, stride={stride}")
    parts = [np.stack([np.full(len(ts), e), ts], axis=1)
             for e, n in enumerate(lengths) for ts in [np.arange(0, max(0, n - min_valid + 1), stride)]]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros((0, 2), np.int64)


class SampleMaker:
    """(episode, t) -> {"image_<cam>": (H, W, 3) float32, "state": (S,) float32, "instruction": (E,) float32,
    "actions": (T, D) float32 normalised, "action_mask": (T,) bool}: batch-free graph inputs plus targets.

    cameras: the manifest's CameraSpecs (episode frames must be keyed by these names: map them with KeyMap);
    normalization: the manifest's Normalization or its dict form; embed(text) -> (E,) instruction embedding
    (cached per text). `augment(images: dict) -> dict` may transform the preprocessed images (training only).
    """

    def __init__(self, cameras: Sequence, normalization, chunk_length: int, embed: Callable[[str], np.ndarray],
                 augment: Callable[[dict], dict] | None = None):
        from vla_lite.calib.stats import to_normalization
        from vla_lite.cameras.undistort import make_camera_preprocessor

        self.cameras = tuple(cameras)
        # the runtime's own preprocessing; a camera trained on undistorted frames is undistorted with the
        # intrinsics its spec records, by the runtime's own Undistorter
        self.pre = {c.name: make_camera_preprocessor(c, c.intrinsics) for c in self.cameras}
        self.norm = to_normalization(normalization) if isinstance(normalization, dict) else normalization
        self.length, self.embed, self.augment = int(chunk_length), embed, augment
        self._embeddings: dict[str, np.ndarray] = {}

    def __call__(self, ep: EpisodeData, t: int) -> dict:
        from vla_lite.bundle.normalization import normalize_state
        from vla_lite.calib.stats import normalize_actions

        out = {}
        for cam in self.cameras:
            if cam.name not in ep.frames:
                raise DatasetError(f"episode {ep.key} has no camera {cam.name!r} (it has {sorted(ep.frames)}); map "
                                   "the dataset's camera keys to the bundle's names with KeyMap(cameras=...)")
            out[cam.input_name] = self.pre[cam.name](ep.frames[cam.name][t])[0]
        if self.augment is not None:
            out = self.augment(out)
        out["state"] = normalize_state(ep.state[t], self.norm.state)
        out["instruction"] = self._embedding(ep.instruction_at(t))
        chunk, valid = action_chunk(ep.actions, t, self.length)
        out["actions"] = normalize_actions(chunk, self.norm.action)
        out["action_mask"] = valid
        return out

    def _embedding(self, text: str) -> np.ndarray:
        e = self._embeddings.get(text)
        if e is None:
            e = np.asarray(self.embed(text), np.float32).reshape(-1)
            if not np.isfinite(e).all():
                raise ValueError(f"the embedding of {text!r} holds NaN/inf")
            e = self._embeddings[text] = e
        return e


def iter_samples(episodes: Iterable[EpisodeData], make: Callable[[EpisodeData, int], dict], stride: int = 1,
                 min_valid: int = 1) -> Iterator[dict]:
    """Stream samples episode by episode (rows in order); add meta keys `episode` and `t`."""
    for ep in episodes:
        for _, t in window_index([len(ep)], getattr(make, "length", min_valid), stride, min_valid):
            yield {**make(ep, int(t)), "episode": ep.key, "t": int(t)}


def shuffle_buffer(items: Iterable, size: int, seed: int = 0) -> Iterator:
    """Approximate shuffle of a stream in bounded memory: keep `size` items, emit a random one per new item."""
    if size < 1:
        raise ValueError(f"shuffle buffer size must be >= 1, got {size}")
    rng, buf = np.random.default_rng(seed), []
    for item in items:
        if len(buf) < size:
            buf.append(item)
            continue
        j = int(rng.integers(size))
        yield buf[j]
        buf[j] = item
    rng.shuffle(buf)
    yield from buf


def batch(samples: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stack a list of sample dicts along a new first axis (non-array meta keys become lists)."""
    if not samples:
        raise ValueError("cannot batch an empty list of samples")
    return {k: (np.stack([s[k] for s in samples]) if isinstance(samples[0][k], np.ndarray) else
                [s[k] for s in samples]) for k in samples[0]}
