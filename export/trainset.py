"""The training set in memory: every window of every episode, preprocessed once, as compact arrays.

Episodes are streamed (one at a time from any reader in export/datasets); each row's images go through the
runtime's own preprocessing (`SampleMaker`) and are kept as uint8 levels of the camera's pixel_range (the runtime
maps 0..255 onto it, so at the recorded size the levels are exact; a resized image is rounded to the nearest level,
at most 1/510 of the range), so an epoch costs no JPEG decoding and a 100k-row dataset of one 96x96 camera takes
~2.8 GB (float16 took twice that, which ran a 250k-row MT10 DAgger aggregate out of 24 GB). Instructions are
kept as ids into a table of texts; their embeddings are looked up per batch, so
paraphrase augmentation is a choice of id, not a re-encoding.

With `image_dir`, the image rows go to files there instead (unlinked at once, memory-mapped: the OS keeps in RAM
what fits and drops it under pressure), and a DAgger aggregate appends to them rather than copying: Meta-World MT50
(~225k demonstration rows of two 64 px views plus the rounds) would otherwise hold 10+ GB, twice that while a round
is added.

    ts = TrainSet.build(episodes, cameras, normalization, chunk_length, embed)
    batch = ts.batch(indices, rng, augment=True)   # torch tensors, ready for Policy(**batch)
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np


@dataclass
class TrainSet:
    images: dict[str, np.ndarray]  # input name -> (M, H, W, 3) uint8 levels (see levels), or float, preprocessed
    state: np.ndarray  # (M, S) float32, normalised
    actions: np.ndarray  # (M, T, D) float32, normalised
    action_mask: np.ndarray  # (M, T) bool: False where the episode had ended (padding)
    instruction_id: np.ndarray  # (M,) int32 into texts
    episode: np.ndarray  # (M,) int32: which episode (for splits)
    texts: list[str]
    embeddings: np.ndarray  # (K, E) float32, one per text
    paraphrases: list[np.ndarray] = field(default_factory=list)  # per text id: ids it may be swapped for
    levels: dict[str, tuple[float, float]] = field(default_factory=dict)  # input -> (value of level 0, per level)
    files: dict[str, "RowFile"] | None = None  # image input -> the file its rows are mapped from (image_dir)

    def decoded(self, name: str, rows) -> np.ndarray:
        """The float32 graph input of these rows of image input `name`."""
        arr = self.images[name][rows]
        if arr.dtype != np.uint8:
            return np.asarray(arr, np.float32)
        lo, per_level = self.levels[name]
        return lo + arr.astype(np.float32) * np.float32(per_level)

    def __len__(self) -> int:
        return len(self.state)

    @classmethod
    def build(cls, episodes: Iterable, cameras: Sequence, normalization, chunk_length: int,
              embed: Callable[[str], np.ndarray], paraphrase_groups: Sequence[Sequence[str]] = (),
              progress=None, image_dir=None) -> "TrainSet":
        from .datasets.windows import SampleMaker

        make = SampleMaker(cameras, normalization, chunk_length, embed=lambda text: np.zeros(1, np.float32))
        names = [c.input_name for c in cameras]
        levels = {c.input_name: (float(lo), (float(hi) - float(lo)) / 255.0)
                  for c in cameras for lo, hi in [c.pixel_range]}

        def to_levels(k: str, x: np.ndarray) -> np.ndarray:
            lo, per_level = levels[k]
            return np.clip(np.rint((x - lo) / per_level), 0, 255).astype(np.uint8)
        cols: dict[str, list] = {k: [] for k in names + ["state", "actions", "action_mask"]}
        files = {k: RowFile(image_dir) for k in names} if image_dir is not None else None
        text_ids: dict[str, int] = {}
        instruction_id, episode = [], []
        for e, ep in enumerate(episodes):
            for t in range(len(ep)):
                s = make(ep, t)
                for k in cols:
                    if files is not None and k in files:
                        files[k].append(to_levels(k, s[k])[None])
                    else:
                        cols[k].append(to_levels(k, s[k]) if k in names else s[k])
                instruction_id.append(text_ids.setdefault(ep.instruction_at(t), len(text_ids)))
                episode.append(e)
            if progress is not None:
                progress(e, ep)
        if not episode:
            raise ValueError("no training rows: the dataset holds no episode (or every one was filtered out)")
        # only the paraphrases of instructions the data holds: a group of a task never recorded (MT10's table on a
        # two-task recording) would put untrained phrasings into the bundle's instruction.known
        paraphrase_groups = [g for g in paraphrase_groups if not text_ids.keys().isdisjoint(g)]
        for group in paraphrase_groups:
            for text in group:
                text_ids.setdefault(text, len(text_ids))
        texts = list(text_ids)
        embeddings = np.stack([np.asarray(embed(t), np.float32).reshape(-1) for t in texts])
        para = [np.array([i], np.int32) for i in range(len(texts))]
        for group in paraphrase_groups:
            ids = np.array(sorted({text_ids[t] for t in group}), np.int32)
            for i in ids:
                para[i] = np.union1d(para[i], ids).astype(np.int32)
        images = {k: files[k].array() if files is not None else np.stack(cols[k]) for k in names}
        return cls(images, np.stack(cols["state"]).astype(np.float32), np.stack(cols["actions"]).astype(np.float32),
                   np.stack(cols["action_mask"]), np.array(instruction_id, np.int32), np.array(episode, np.int32),
                   texts, embeddings, para, levels, files)

    def extend(self, other: "TrainSet") -> "TrainSet":
        """Aggregate (DAgger): rows of both; texts merged by content; episodes renumbered after this set's."""
        texts, embeddings = list(self.texts), list(self.embeddings)
        index = {t: i for i, t in enumerate(texts)}
        remap = []
        for j, text in enumerate(other.texts):
            if text not in index:
                index[text] = len(texts)
                texts.append(text)
                embeddings.append(other.embeddings[j])
            remap.append(index[text])
        remap = np.array(remap, np.int32)
        para = list(self.paraphrases) + [np.array([i], np.int32) for i in range(len(self.texts), len(texts))]
        for j, p in enumerate(other.paraphrases):
            para[remap[j]] = np.union1d(para[remap[j]], remap[p]).astype(np.int32)
        first_ep = int(self.episode.max()) + 1 if len(self) else 0
        if self.levels != other.levels:
            raise ValueError(f"cannot aggregate training sets with different pixel ranges: {self.levels} and "
                             f"{other.levels}")
        files = self.files
        if files is not None and any(f.rows != len(self) for f in files.values()):  # another aggregate grew them
            files = {k: RowFile(f.folder) for k, f in files.items()}
            for k, f in files.items():
                f.append(self.images[k])
        if files is not None:
            for k, f in files.items():
                f.append(other.images[k])
        images = {k: files[k].array() if files is not None else np.concatenate([v, other.images[k]])
                  for k, v in self.images.items()}
        return TrainSet(images, np.concatenate([self.state, other.state]),
                        np.concatenate([self.actions, other.actions]),
                        np.concatenate([self.action_mask, other.action_mask]),
                        np.concatenate([self.instruction_id, remap[other.instruction_id]]),
                        np.concatenate([self.episode, other.episode + first_ep]), texts, np.stack(embeddings), para,
                        dict(self.levels), files)

    def split(self, holdout_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(train rows, held-out rows), split by whole episodes so no held-out frame was seen in training."""
        eps = np.unique(self.episode)
        rng = np.random.default_rng(seed)
        n_hold = int(round(holdout_fraction * len(eps)))
        held = set(rng.choice(eps, size=n_hold, replace=False).tolist()) if n_hold else set()
        mask = np.isin(self.episode, list(held))
        return np.flatnonzero(~mask), np.flatnonzero(mask)

    def batch(self, rows: np.ndarray, rng: np.random.Generator | None = None, augment: bool = False,
              shift_px: int = 4, instruction_noise: float = 0.0) -> dict:
        """Torch tensors for Policy(**inputs) plus "actions"/"action_mask" targets. With augment: random shifts
        (pad `shift_px` by edge replication, crop back; DrQ), a random paraphrase of each instruction, and
        Gaussian noise of `instruction_noise` per dimension on its unit embedding, renormalised to unit length
        (the encoder's contract). The noise is input-noise regularisation (Tikhonov-equivalent, Bishop 1995): a
        handful of training phrasings per meaning leave most directions of the 384-d embedding free for the policy
        to key on; noise drowns the directions with small spread between meanings (the wording) and keeps the
        ones with large spread (the meaning), so unseen rewordings land where their meaning was learnt."""
        import torch

        rows = np.asarray(rows)
        out = {}
        for k in self.images:
            x = torch.from_numpy(self.decoded(k, rows))
            out[k] = random_shift(x, shift_px, rng) if augment and shift_px > 0 else x
        ids = self.instruction_id[rows]
        if augment and rng is not None:
            ids = np.array([rng.choice(self.paraphrases[i]) for i in ids], np.int32)
        out["state"] = torch.from_numpy(self.state[rows])
        emb = self.embeddings[ids]
        if augment and rng is not None and instruction_noise > 0:
            emb = emb + rng.normal(0.0, instruction_noise, emb.shape).astype(np.float32)
            emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        out["instruction"] = torch.from_numpy(emb)
        out["actions"] = torch.from_numpy(self.actions[rows])
        out["action_mask"] = torch.from_numpy(self.action_mask[rows])
        return out

    def inputs(self, rows: np.ndarray) -> list[dict]:
        """Graph inputs of these rows, one dict of batch-1 float32 numpy arrays each (calibration, parity)."""
        out = []
        for r in np.asarray(rows):
            d = {k: self.decoded(k, slice(r, r + 1)) for k in self.images}
            d["state"] = self.state[r:r + 1]
            d["instruction"] = self.embeddings[self.instruction_id[r]][None]
            out.append(d)
        return out


class RowFile:
    """The rows of one image input in a file under `folder`, unlinked at once (its space returns when the last
    mapping and this handle go); `array()` maps the rows written so far, read-only."""

    CHUNK_ROWS = 4096  # rows copied at a time when appending from another mapping

    def __init__(self, folder):
        fd, path = tempfile.mkstemp(prefix="vla-trainset-", suffix=".u8", dir=folder)
        os.unlink(path)
        self.folder, self.fh, self.rows, self.shape = folder, os.fdopen(fd, "w+b"), 0, None

    def append(self, rows: np.ndarray) -> None:
        """(N, H, W, 3) uint8 rows after the last."""
        if rows.dtype != np.uint8 or (self.shape is not None and rows.shape[1:] != self.shape):
            raise ValueError(f"rows must be uint8 of shape (N, *{self.shape}), got {rows.dtype} {rows.shape}")
        self.shape = rows.shape[1:]
        self.fh.seek(0, os.SEEK_END)
        for i in range(0, len(rows), self.CHUNK_ROWS):
            self.fh.write(np.ascontiguousarray(rows[i:i + self.CHUNK_ROWS]).tobytes())
        self.rows += len(rows)

    def array(self) -> np.ndarray:
        self.fh.flush()
        return np.memmap(self.fh, np.uint8, "r", shape=(self.rows, *self.shape))


def random_shift(x, pad: int, rng: np.random.Generator | None):
    """(B, H, W, 3) -> the same shape, each image shifted by up to ±pad px (edges replicated)."""
    import torch
    import torch.nn.functional as F

    b, h, w, _ = x.shape
    padded = F.pad(x.permute(0, 3, 1, 2), (pad, pad, pad, pad), mode="replicate")  # (B, 3, H+2p, W+2p)
    rng = rng or np.random.default_rng()
    dy = torch.from_numpy(rng.integers(0, 2 * pad + 1, b))
    dx = torch.from_numpy(rng.integers(0, 2 * pad + 1, b))
    iy = (dy[:, None] + torch.arange(h)[None]).clamp(max=h + 2 * pad - 1)  # (B, H)
    ix = (dx[:, None] + torch.arange(w)[None]).clamp(max=w + 2 * pad - 1)  # (B, W)
    bi = torch.arange(b)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[bi, iy[:, :, None], ix[:, None, :]]  # (B, H, W, 3)
    return out.contiguous()
