"""The cadence report `vla-lite run` prints on exit and writes with `--report FILE.json`.

JSON fields (all times in ms): rate_hz, achieved_hz, ticks, overruns, skipped, jitter_ms {p50, p99, max, n},
inference_ms {p50, p99, max, n}, loop_ms {section: {p50, p99, max, n}}, camera_to_command_ms, holds, faults,
clamped, link, and in the simulated world episodes, successes, success_rate, per-episode results.
"""

from __future__ import annotations

from pathlib import Path

from .atomic import atomic_write_json


def build_report(pacer_report: dict, loop_report: dict, **extra) -> dict:
    return {**pacer_report, **loop_report, **extra}


def _q(d: dict | None, key: str) -> str:
    v = None if d is None else d.get(key)
    return "-" if v is None else f"{v:.3f}"


def format_report(r: dict) -> str:
    j, inf, c2c = r.get("jitter_ms"), r.get("inference_ms"), r.get("camera_to_command_ms")
    lines = [f"vla-lite run: {r['ticks']} ticks at {r['rate_hz']:g} Hz (achieved {r.get('achieved_hz') or '-'} Hz); "
             f"{r['overruns']} overruns, {r.get('skipped', 0)} deadlines skipped",
             f"  jitter (tick start - deadline): p50 {_q(j, 'p50')} ms, p99 {_q(j, 'p99')} ms, max {_q(j, 'max')} ms",
             f"  inference ({r.get('backend', '?')}): p50 {_q(inf, 'p50')} ms, p99 {_q(inf, 'p99')} ms, "
             f"max {_q(inf, 'max')} ms; {r.get('inferences', 0)} chunks",
             f"  camera-to-command: p50 {_q(c2c, 'p50')} ms, p99 {_q(c2c, 'p99')} ms"]
    sections = r.get("loop_ms") or {}
    if sections:
        lines.append("  loop sections p50/p99 ms: " + ", ".join(
            f"{name} {_q(s, 'p50')}/{_q(s, 'p99')}" for name, s in sections.items()))
    holds = r.get("holds") or {}
    lines.append("  holds: " + (", ".join(f"{k} x{v}" for k, v in sorted(holds.items(), key=lambda kv: -kv[1]))
                                or "none"))
    faults = r.get("faults") or {}
    lines.append("  faults: " + (", ".join(f"{k} x{v}" for k, v in faults.items()) or "none"))
    clamped = r.get("clamped") or {}
    if clamped:
        lines.append("  safety clamps: " + ", ".join(f"{k} x{v}" for k, v in clamped.items()))
    link = r.get("link") or {}
    if link:
        rtt = link.get("rtt_ms") or {}
        lines.append(f"  link: {link.get('commands_sent', 0)} commands, {link.get('commands_lost', 0)} lost, "
                     f"{link.get('link_faults', 0)} link faults, {link.get('reconnects', 0)} reconnects; "
                     f"RTT p50 {_q(rtt, 'p50')} ms, p99 {_q(rtt, 'p99')} ms")
    if "episodes" in r:
        rate = r.get("success_rate")
        lines.append(f"  episodes: {r['episodes']}, successes {r.get('successes', 0)}"
                     + ("" if rate is None else f" ({100 * rate:.1f} %)"))
    for note in r.get("notes") or []:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def write_json(path, data: dict) -> Path:
    """Write atomically: a reader never sees half a report."""
    return atomic_write_json(path, data, allow_nan=True)
