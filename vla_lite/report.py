"""The cadence report `vla-lite run` prints on exit and writes with `--report FILE.json`.

JSON fields (all times in ms): rate_hz, achieved_hz (over the ticks run), ticks, overruns (ticks started a period
or more late), skipped, jitter_ms {p50, p99, max, n}, inference_ms {p50, p99, max, n}, loop_ms {section: {p50, p99,
max, n}}, camera_to_command_ms, holds (reason -> ticks held) and hold_details (reason -> last detail), faults
(fault -> occurrences) and fault_details, held_at_end, clamped ("kind joint" -> ticks), link (its rtt_ms is from
sending a command to receiving the state that echoes it), outcome, exit_status (vla_lite.holds.ExitStatus) and
exit_reason (the hold or fault key that decided it: "servo fault elbow_flex (ID 3) over-temperature"), and
in the simulated world episodes, successes, success_rate, per-episode results.
"""

from __future__ import annotations

from pathlib import Path

from .atomic import atomic_write_json
from .safety import CLAMP_MEANINGS, CONTRACT_CLAMP_SHARE, EXPECTED_CLAMPS


def build_report(pacer_report: dict, loop_report: dict, **extra) -> dict:
    return {**pacer_report, **loop_report, **extra}


def _q(d: dict | None, key: str) -> str:
    v = None if d is None else d.get(key)
    return "-" if v is None else f"{v:.3f}"


def format_report(r: dict, notes: bool = True) -> str:
    """The report as text; notes=False leaves out the notes (a caller that printed them at start)."""
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
    lines += _counted("holds (ticks)", r.get("holds"), r.get("hold_details"))
    lines += _counted("faults", r.get("faults"), r.get("fault_details"))
    if r.get("held_at_end"):
        lines.append(f"  held at the end: {r['held_at_end']}")
    lines += _clamp_lines(r.get("clamped") or {}, r.get("ticks") or 0)
    link = r.get("link") or {}
    if link:
        rtt = link.get("rtt_ms") or {}
        lines.append(f"  link: {link.get('commands_sent', 0)} commands, {link.get('commands_lost', 0)} lost, "
                     f"{link.get('link_faults', 0)} link faults, {link.get('reconnects', 0)} reconnects; "
                     f"reply latency (command sent -> its state received) p50 {_q(rtt, 'p50')} ms, "
                     f"p99 {_q(rtt, 'p99')} ms")
    if "episodes" in r:
        rate = r.get("success_rate")
        lines.append(f"  episodes: {r['episodes']}, successes {r.get('successes', 0)}"
                     + ("" if rate is None else f" ({100 * rate:.1f} %)"))
    for note in (r.get("notes") or []) if notes else []:
        lines.append(f"  note: {note}")
    if r.get("outcome"):
        why = f": {r['exit_reason']}" if r.get("exit_reason") else ""
        lines.append(f"  outcome: {r['outcome']} (exit status {r.get('exit_status')}{why})")
    return "\n".join(lines)


def _counted(title: str, counts: dict | None, details: dict | None) -> list[str]:
    """`title: none`, or one line per key, most first, with its last detail."""
    if not counts:
        return [f"  {title}: none"]
    details = details or {}
    return [f"  {title}:"] + [f"    {k} x{v}" + (f" (last: {details[k]})" if details.get(k) else "")
                              for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]


def _clamp_lines(clamped: dict, ticks: int) -> list[str]:
    """One line per clamp kind: what it means, then joint x ticks (share of the run's ticks); a joint clamped on
    more than CONTRACT_CLAMP_SHARE of the ticks (ramp excepted) is flagged as a likely contract problem."""
    if not clamped:
        return []
    by_kind: dict[str, list[tuple[str, int]]] = {}
    for key, n in clamped.items():
        kind, _, joint = key.partition(" ")
        by_kind.setdefault(kind, []).append((joint, n))
    lines = ["  safety clamps (ticks on which the filter changed the policy's target, per joint):"]
    for kind, joints in by_kind.items():
        parts, flagged = [], []
        for joint, n in sorted(joints, key=lambda jn: -jn[1]):
            share = n / ticks if ticks else 0.0
            parts.append(f"{joint} x{n} ({100 * share:.1f} %)")
            if share > CONTRACT_CLAMP_SHARE and kind not in EXPECTED_CLAMPS:
                flagged.append(joint)
        lines.append(f"    {kind} ({CLAMP_MEANINGS.get(kind, 'limit')}): " + ", ".join(parts))
        if flagged:
            lines.append(f"    ! {', '.join(flagged)}: {kind} clamped on more than {100 * CONTRACT_CLAMP_SHARE:.0f} % "
                         "of ticks, which suggests a contract problem (joint units or order, normalisation stats, "
                         "limits narrower than the training data) rather than a rare correction")
    return lines


def write_json(path, data: dict) -> Path:
    """Write atomically: a reader never sees half a report."""
    return atomic_write_json(path, data, allow_nan=True)
