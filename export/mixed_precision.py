"""Accuracy-aware int8 for ONNX and LiteRT: quantise everything, and if the graph strays too far from the PyTorch
model on the calibration observations, keep the most sensitive layers in fp32 until it does not.

Small policies often have one to three layers (the action head, a projection into the transformer) whose int8
error dominates the worst case; keeping just those in float costs little speed and size. Everything here is
measured on the calibration set, never on the parity set, so the parity gate that follows stays an honest
held-out check.

Sensitivity ranking: each layer alone in int8, run by the runtime's own backend (a fraction of a second per layer);
the LiteRT graphs are rewritten per trial by export/tflite_mixed.py. Then, for ONNX, `store_int8_within` stores as
int8 (computed in fp32) whichever float weights it can without leaving the budget: bytes, not speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class MixedPrecisionResult:
    blob: bytes
    kept_float: list[str] = field(default_factory=list)  # layers left in fp32, most sensitive first
    calibration_max_abs: float = 0.0  # worst-case action error on the calibration set (normalised units)
    int8_stored: list[str] = field(default_factory=list)  # float weights stored as int8 (ONNX), restored at load


def keep_sensitive_in_float(quantize: Callable[[tuple], bytes], error: Callable[[bytes], float],
                            ranking: Callable[[], list[tuple[str, float]]], budget: float,
                            max_float: int | None = None, progress=None, label: str = "int8") -> MixedPrecisionResult:
    """quantize(excluded names) -> graph; error(graph) -> calibration worst case; ranking() -> [(name,
    sensitivity)], most sensitive first (only computed when the fully quantised graph misses the budget).
    Returns the first graph within budget, else the best one found (the parity gate then decides). Layers are
    added to the float set one at a time, most sensitive first (the error is far from additive, so a greedy
    prefix is a heuristic; it is cheap and is verified by the real runtime at every step)."""
    blob = quantize(())
    best = MixedPrecisionResult(blob, [], error(blob))
    if best.calibration_max_abs <= budget:
        return best
    ranked = ranking()
    if max_float is None:  # at most a third of the layers in float: beyond that, int8 is no longer the point
        max_float = max(1, len(ranked) // 3)
    if progress:
        top = ", ".join(f"{n} {s:.3f}" for n, s in ranked[:max_float])
        progress(f"{label}: worst-case error {best.calibration_max_abs:.3f} on calibration exceeds {budget:g}; "
                 f"most sensitive layers: {top}")
    for k in range(1, min(max_float, len(ranked)) + 1):
        kept = [n for n, _ in ranked[:k]]
        blob = quantize(tuple(kept))
        err = error(blob)
        if err < best.calibration_max_abs:
            best = MixedPrecisionResult(blob, kept, err)
        if err <= budget:
            break
    if progress and best.kept_float:
        progress(f"{label}: {len(best.kept_float)} layer(s) kept in fp32 {best.kept_float}; calibration worst case "
                 f"{best.calibration_max_abs:.3f}")
    return best


def store_int8_within(build: Callable[[tuple], bytes], error: Callable[[bytes], float], candidates: list[str],
                      bound: float, progress=None, label: str = "int8") -> tuple[bytes, list[str], float]:
    """build(stored names) -> graph with those float weights stored as int8. Greedy over `candidates` in order
    (largest first: the most bytes saved per trial): a weight joins the stored set when the calibration error
    stays within `bound`. Returns (graph, stored names, its error)."""
    stored: list[str] = []
    blob = build(())
    err = error(blob)
    for name in candidates:
        trial = build(tuple(stored + [name]))
        trial_err = error(trial)
        if trial_err <= bound:
            stored, blob, err = stored + [name], trial, trial_err
    if progress and candidates:
        progress(f"{label}: {len(stored)} of {len(candidates)} float weight(s) stored as int8; calibration worst "
                 f"case {err:.3f}")
    return blob, stored, err


def onnx_nodes(fp32: bytes, mode: str) -> list[str]:
    """Nodes the int8 scheme quantises: MatMul/Gemm (and Conv with static QDQ) with a constant weight."""
    import onnx

    model = onnx.load_from_string(fp32)
    weights = {t.name for t in model.graph.initializer}
    ops = ("MatMul", "Gemm") + (("Conv",) if mode == "static" else ())
    return [n.name for n in model.graph.node if n.op_type in ops and any(i in weights for i in n.input[1:])]


def solo_ranking(names: list[str], quantize: Callable[[tuple], bytes], error: Callable[[bytes], float]):
    """Each layer alone in int8 (all others excluded), by the calibration error it causes, largest first."""
    scores = [(n, error(quantize(tuple(o for o in names if o != n)))) for n in names]
    return sorted(scores, key=lambda s: s[1], reverse=True)


def onnx_within_budget(fp32: bytes, calibration: list[dict], mode: str, error: Callable[[bytes], float],
                       budget: float, max_float: float = 1 / 3, progress=None) -> MixedPrecisionResult:
    """The int8 ONNX graph (graphs.onnx_int8, `mode` dynamic or static), with its most sensitive nodes kept in fp32
    while the calibration worst case error(graph) exceeds `budget`; at most `max_float` (a fraction) of the
    quantisable nodes. The weights left in float are then stored as int8 where that keeps within the budget."""
    from . import graphs as g

    def quantize(exclude: tuple) -> bytes:
        return g.onnx_int8(fp32, calibration, mode, exclude)

    def ranking() -> list:
        return solo_ranking(onnx_nodes(fp32, mode), quantize, error)

    cap = max(1, int(len(onnx_nodes(fp32, mode)) * max_float))
    mixed = keep_sensitive_in_float(quantize, error, ranking, budget, max_float=cap, progress=progress,
                                    label="onnx int8")
    # The weights left in float are stored as fp16; as int8 (a quarter of the bytes) where that keeps the
    # calibration error within the budget (or within the float-stored graph's own, when even that missed it).
    kept = tuple(mixed.kept_float)
    mixed.blob, mixed.int8_stored, mixed.calibration_max_abs = store_int8_within(
        lambda stored: g.onnx_int8(fp32, calibration, mode, kept, stored), error,
        g.onnx_int8_float_weights(fp32, calibration, mode, kept), max(budget, mixed.calibration_max_abs),
        progress, label="onnx int8")
    return mixed
