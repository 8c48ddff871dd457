"""A held-out split and a calibration set: N observations spread over episodes and time, for int8 calibration
and parity checks, never trained on.

    split = split_dataset(ds, held_out=0.1, seed=0)      # train on split.train only (positions in ds)
    cal = build_calibration_set(ds, split, manifest.cameras, normalization, embed, n=64, seed=0)
    save_calibration_set("calib.safetensors", cal)       # + calib.json naming the inputs and where they came from
    inputs = load_calibration_set("calib.safetensors")   # [{"image_front": (1, H, W, 3), "state": (1, S), ...}]

The split hashes each episode's name (dataset folder or file name + its episode number, with the seed), so it
does not depend on where the data sits or on reading order, and adding episodes never moves old ones across.
Graph inputs follow docs/BUNDLE.md: image_<camera> (1, H, W, 3) preprocessed exactly as the runtime does,
state (1, S) normalised, instruction (1, E).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

FORMAT = "vla-lite-calibration"
VERSION = 1


def episode_name(source: str | os.PathLike, index: int) -> str:
    """'<dataset folder or file name>#<episode number>': stable across machines and runs."""
    return f"{Path(source).name}#{int(index)}"


def split_names(names: Sequence[str], held_out: float = 0.1, seed: int = 0, min_held_out: int = 1) -> set[str]:
    """The held-out names: the round(held_out * n) (at least min_held_out) names with the smallest seeded hash."""
    if not 0 < held_out < 1:
        raise ValueError(f"held_out must be a fraction in (0, 1), got {held_out!r}")
    if len(set(names)) != len(names):
        raise ValueError("episode names repeat; each episode needs its own name for a split")
    k = max(min_held_out, round(held_out * len(names)))
    if k >= len(names):
        raise ValueError(f"holding out {k} of {len(names)} episodes leaves none to train on")
    score = lambda name: hashlib.sha256(f"{seed}:{name}".encode()).digest()  # noqa: E731
    return set(sorted(names, key=score)[:k])


@dataclass(frozen=True)
class DatasetSplit:
    train: tuple[int, ...]  # positions in the dataset (DatasetReader.episode(i))
    held_out: tuple[int, ...]
    names: tuple[str, ...]  # episode_name per position
    seed: int
    fraction: float

    def train_episodes(self, dataset):
        """Stream the training episodes (held-out ones are never read)."""
        for i in self.train:
            yield dataset.episode(i)


def split_dataset(dataset, held_out: float = 0.1, seed: int = 0) -> DatasetSplit:
    names = [episode_name(dataset.path, i) for i in dataset.indices()]
    held = split_names(names, held_out, seed)
    return DatasetSplit(tuple(i for i, n in enumerate(names) if n not in held),
                        tuple(i for i, n in enumerate(names) if n in held), tuple(names), seed, held_out)


def pick_observations(lengths: Mapping[str, int], n: int, seed: int = 0) -> list[tuple[str, int]]:
    """n (episode name, row) picks spread over episodes (counts differ by at most one while rows last) and over
    time within each (one pick per equal stratum of the episode, at a seeded position). Deterministic."""
    total = sum(max(0, int(v)) for v in lengths.values())
    if not 1 <= n <= total:
        raise ValueError(f"cannot pick {n} observations from {total} rows in {len(lengths)} episodes; "
                         f"expected 1 <= n <= {total}")
    rng = np.random.default_rng(seed)
    names = sorted(lengths)
    order = [names[i] for i in rng.permutation(len(names))]
    counts = dict.fromkeys(order, 0)
    while sum(counts.values()) < n:  # round-robin over episodes that still have unpicked rows
        for name in order:
            if sum(counts.values()) < n and counts[name] < lengths[name]:
                counts[name] += 1
    picks = []
    for name in order:
        c, length = counts[name], int(lengths[name])
        if c:
            edges = np.linspace(0, length, c + 1)  # c strata of the episode's rows
            lo, hi = np.ceil(edges[:-1]).astype(int), np.maximum(np.ceil(edges[1:]).astype(int), 1)
            rows = lo + (rng.random(c) * (hi - lo)).astype(int)
            picks += [(name, int(min(r, length - 1))) for r in rows]
    return picks


@dataclass
class CalibrationSet:
    inputs: list[dict[str, np.ndarray]]  # per observation: graph input name -> (1, ...) float32
    picks: list[dict] = field(default_factory=list)  # per observation: {"episode", "t", "instruction"}
    held_out: list[str] = field(default_factory=list)  # names of every held-out episode
    seed: int = 0


def build_calibration_set(dataset, split: DatasetSplit, cameras: Sequence, normalization,
                          embed: Callable[[str], np.ndarray], n: int = 64, seed: int = 0) -> CalibrationSet:
    """n observations from the held-out episodes only, read one episode at a time."""
    from vla_lite.bundle.normalization import normalize_state
    from vla_lite.cameras.preprocess import make_preprocessor

    from .stats import to_normalization

    norm = to_normalization(normalization) if isinstance(normalization, dict) else normalization
    pre = {c.name: make_preprocessor(c) for c in cameras}
    declared = dataset.lengths()
    lengths = {split.names[i]: declared[i] for i in split.held_out}
    picks = pick_observations(lengths, n, seed)
    by_name: dict[str, list[int]] = {}
    for name, t in picks:
        by_name.setdefault(name, []).append(t)
    out = CalibrationSet([], [], [split.names[i] for i in split.held_out], seed)
    embeddings: dict[str, np.ndarray] = {}
    for i in split.held_out:
        rows = by_name.get(split.names[i])
        if not rows:
            continue
        ep = dataset.episode(i)
        try:
            for t in sorted(rows):
                text = ep.instruction_at(t)
                if text not in embeddings:
                    embeddings[text] = np.asarray(embed(text), np.float32).reshape(1, -1)
                x = {c.input_name: pre[c.name](ep.frames[c.name][t]) for c in cameras}
                x["state"] = normalize_state(ep.state[t], norm.state).reshape(1, -1)
                x["instruction"] = embeddings[text]
                bad = [k for k, v in x.items() if not np.isfinite(v).all()]
                if bad:
                    raise ValueError(f"{split.names[i]} row {t}: {bad} hold NaN/inf; screen the dataset first")
                out.inputs.append(x)
                out.picks.append({"episode": split.names[i], "t": int(t), "instruction": text})
        finally:
            ep.close()
    return out


def save_calibration_set(path: str | os.PathLike, cal: CalibrationSet) -> tuple[Path, Path]:
    """<path>.safetensors (each input stacked to (N, ...) float32) and a JSON sidecar <stem>.json."""
    from safetensors.numpy import save_file

    if not cal.inputs:
        raise ValueError("the calibration set is empty")
    names = sorted(cal.inputs[0])
    for j, x in enumerate(cal.inputs):
        if sorted(x) != names or any(x[k].shape != cal.inputs[0][k].shape for k in names):
            raise ValueError(f"observation {j} has inputs {sorted(x)} of other shapes than observation 0 {names}")
    path = Path(path)
    tensors = {k: np.ascontiguousarray(np.concatenate([x[k] for x in cal.inputs]), np.float32) for k in names}
    save_file(tensors, str(path), metadata={"format": FORMAT, "version": str(VERSION)})
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps({
        "format": FORMAT, "version": VERSION, "n": len(cal.inputs), "tensors": path.name,
        "inputs": {k: {"shape": list(cal.inputs[0][k].shape), "dtype": "float32"} for k in names},
        "seed": cal.seed, "held_out": cal.held_out, "picks": cal.picks}, indent=1, allow_nan=False) + "\n")
    return path, sidecar


def load_calibration_set(path: str | os.PathLike) -> list[dict[str, np.ndarray]]:
    """The saved observations as a list of {graph input name: (1, ...) float32}, checked against the sidecar."""
    from safetensors.numpy import load_file

    path = Path(path)
    sidecar = path.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{sidecar}: cannot read the calibration sidecar ({exc}); expected the JSON written by "
                         "save_calibration_set beside the .safetensors file") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"{sidecar}: not a {FORMAT} version {VERSION} sidecar")
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise ValueError(f"{path}: cannot read the calibration tensors ({exc})") from None
    n, inputs = meta["n"], meta["inputs"]
    if sorted(tensors) != sorted(inputs):
        raise ValueError(f"{path}: tensors {sorted(tensors)} but the sidecar names {sorted(inputs)}")
    for k, spec in inputs.items():
        want = (n, *spec["shape"][1:])
        if tensors[k].shape != want or tensors[k].dtype != np.float32:
            raise ValueError(f"{path}: tensor {k!r} is {tensors[k].dtype} {tensors[k].shape}; the sidecar says "
                             f"float32 {want}")
    return [{k: tensors[k][j:j + 1] for k in inputs} for j in range(n)]


def check_disjoint(trained_on: Sequence[str], sidecar_or_names) -> None:
    """Raise if any episode the model trained on is in the calibration set's held-out split."""
    held = sidecar_or_names
    if isinstance(held, (str, os.PathLike)):
        held = json.loads(Path(held).read_text())["held_out"]
    overlap = sorted(set(trained_on) & set(held))
    if overlap:
        raise ValueError(f"{len(overlap)} held-out episode(s) were trained on, e.g. {overlap[:5]}; parity and "
                         "calibration figures would be optimistic")
