"""Parity gates: does an exported graph, run by the real runtime backend, give the PyTorch model's actions?

Figures are in normalised action units over >= 32 held-out real observations. The gates follow the field:
fp32 worst-case |error| <= 1e-4; int8 cosine >= 0.99 and worst-case |error| <= 0.1. A failed gate raises
ParityGateFailed naming the graph, the figure and the bound; the export stops and writes no bundle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_OBSERVATIONS = 32


class ParityGateFailed(RuntimeError):
    """An exported graph disagrees with its PyTorch reference beyond the gate."""


@dataclass(frozen=True)
class Gate:
    max_abs: float
    min_cosine: float


GATES = {"fp32": Gate(max_abs=1e-4, min_cosine=0.99999), "int8": Gate(max_abs=0.1, min_cosine=0.99)}


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """(N, T, D) arrays -> {"max_abs", "cosine", "n"} (cosine of the flattened outputs)."""
    ref = np.asarray(reference, np.float64)
    got = np.asarray(candidate, np.float64)
    if ref.shape != got.shape:
        raise ValueError(f"parity: candidate outputs have shape {got.shape}, reference {ref.shape}")
    denom = np.linalg.norm(ref) * np.linalg.norm(got)
    cosine = float(ref.ravel() @ got.ravel() / denom) if denom > 0 else float(np.array_equal(ref, got))
    return {"max_abs": float(np.abs(ref - got).max()), "cosine": round(cosine, 6), "n": int(ref.shape[0])}


def check_gate(graph: str, precision: str, figures: dict) -> None:
    """Raise ParityGateFailed unless figures pass the gate for this precision."""
    if figures["n"] < MIN_OBSERVATIONS:
        raise ParityGateFailed(f"{graph}: parity measured on {figures['n']} observations; the gate needs at "
                               f"least {MIN_OBSERVATIONS}")
    gate = GATES[precision]
    if not figures["max_abs"] <= gate.max_abs:
        raise ParityGateFailed(f"{graph}: worst-case action error {figures['max_abs']:.3g} (normalised units) "
                               f"exceeds the {precision} gate {gate.max_abs:g}")
    if not figures["cosine"] >= gate.min_cosine:
        raise ParityGateFailed(f"{graph}: cosine {figures['cosine']:.6f} with the PyTorch reference is below the "
                               f"{precision} gate {gate.min_cosine}")
