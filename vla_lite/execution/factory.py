"""Pick an executor by name (from `vla-lite run --execution ...` or a config)."""

from __future__ import annotations

from .ensemble import TemporalEnsemble
from .interpolate import Interpolated
from .refill import RefillAtThreshold
from .replan import ReplanEvery

KINDS = ("replan", "refill", "ensemble")


def make_executor(kind: str, chunk_length: int, replan_every: int, **opts):
    """kind: "replan" (k = replan_every; bundle's chunk.replan_every), "refill" (opts threshold=0.5,
    blend=None | (w_old, w_new)), "ensemble" (opts coeff=0.01). opts interpolate=N (an integer >= 2) wraps the
    executor in Interpolated(…, N): the loop then ticks N times per policy step. Unknown opts are refused."""
    interpolate = opts.pop("interpolate", None)
    allowed = {"replan": (), "refill": ("threshold", "blend"), "ensemble": ("coeff",)}
    if kind not in allowed:
        raise ValueError(f"executor kind {kind!r} is unknown; expected one of {list(KINDS)}")
    unknown = sorted(set(opts) - set(allowed[kind]))
    if unknown:
        raise ValueError(f"executor {kind!r} takes options {list(allowed[kind]) + ['interpolate']}, got {unknown}")
    if kind == "replan":
        executor = ReplanEvery(replan_every, chunk_length=chunk_length)
    elif kind == "refill":
        executor = RefillAtThreshold(chunk_length=chunk_length, **opts)
    else:
        executor = TemporalEnsemble(chunk_length=chunk_length, **opts)
    if interpolate is None or interpolate == 1:
        return executor
    return Interpolated(executor, interpolate)
