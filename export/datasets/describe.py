"""What a dataset holds, and what stops it from training, as JSON-able data (`vla-lite dataset DIR`).

One pass over the episodes: each is read and screened as `train` screens it (one frame per camera decoded), so the
problems listed are the ones `train` would drop episodes for, each with the command or step that fixes it.
"""

from __future__ import annotations

import shlex
from collections import Counter

from .base import DatasetReader
from .checks import FilterConfig, screen_episode
from .episode import DatasetError

# Problem code -> what fixes it ({path} is the dataset). Codes are checks.Problem codes plus `unreadable`.
FIXES = {
    "no_instruction": "vla-lite train --data {path} --instruction 'TEXT' ...",
    "no_fps": "vla-lite train --data {path} --fps HZ ...",
    "undecodable": "pip install -U av   (PyAV decodes AV1/H.264/HEVC whatever OpenCV is installed)",
    "frame_count": "re-encode the camera's video from its frames (one frame per row), or re-record the episode",
    "period_off_rate": "timestamps do not match the rate: vla-lite train --data {path} --fps HZ (formats without "
                       "fps), else fix the timestamps",
    "timestamps_not_increasing": "fix the episode's timestamps (they must increase row by row)",
    "row_count": "the metadata's length disagrees with the rows: re-export the episode",
    "nonfinite": "the rows hold NaN/inf: re-record, or drop the episode",
    "missing_frames": "frames were dropped while recording: record with a slower camera or PNG off, or drop it",
    "failed": "train keeps successful demonstrations only; failed ones feed DAgger: vla-lite distill "
              "--dagger-data {path} ...",
    "empty": "nothing recorded to train on: drop the episode",
    "too_short": "shorter than train's minimum (2 rows): drop the episode",
    "unreadable": "the episode cannot be read (see the detail)",
}


def describe_dataset(reader: DatasetReader, config: FilterConfig = FilterConfig(min_length=2)) -> dict:
    """Format, counts, rate, cameras (codec, size), depth maps, state/action names, tasks and problems."""
    path = str(reader.path)
    lengths = reader.lengths()
    out = {"path": path, "format": reader.format, "episodes": len(reader), "rows": int(sum(lengths)),
           "fps": getattr(reader, "fps", None), "cameras": {}, "depth": {}, "state": None, "action": None,
           "tasks": {}, "kept": 0, "problems": [], "notes": []}
    problems: dict[str, list[str]] = {}
    first = None
    for i in range(len(reader)):
        try:
            ep = reader.episode(i)
        except DatasetError as exc:
            problems.setdefault(_code_of(str(exc)), []).append(str(exc))
            continue
        try:
            if first is None:
                first = ep
                _describe_first(out, ep)
            for text in {ep.instruction_at(t) for t in range(len(ep))} or {ep.instruction}:
                out["tasks"][text] = out["tasks"].get(text, 0) + 1
            found = screen_episode(ep, config)
            for p in found:
                problems.setdefault(p.code, []).append(f"episode {ep.index}: {p.detail}")
            out["kept"] += not found
        finally:
            ep.close()
    for code, details in problems.items():
        out["problems"].append({"code": code, "episodes": len(details), "example": details[0],
                                "fix": FIXES.get(code, FIXES["unreadable"]).format(path=shlex.quote(path))})
    filter_keys = getattr(reader, "filter_keys", None)
    if filter_keys:
        out["filter_keys"] = dict(filter_keys)
        out["notes"].append(f"filter keys {dict(filter_keys)}: train on one with --filter-key KEY")
    if out["depth"]:
        out["notes"].append("depth maps are read as uint16 millimetres; train ignores them (RGB policy)")
    if getattr(reader, "image_convention", None) == "opengl":
        out["notes"].append("images are stored upside down (OpenGL convention) and read as stored")
    return out


def _code_of(message: str) -> str:
    if "--instruction" in message:
        return "no_instruction"
    if "--fps" in message:
        return "no_fps"
    return "unreadable"


def _describe_first(out: dict, ep) -> None:
    out["fps"] = ep.fps
    for name, key in (("state", "state_names"), ("action", "action_names")):
        width = (ep.state if name == "state" else ep.actions).shape[1]
        out[name] = {"dim": int(width), "names": ep.meta.get(key)}
    for group, seqs in (("cameras", ep.frames), ("depth", ep.depth)):
        for name, seq in seqs.items():
            entry = seq.storage()
            try:
                image = seq[0] if len(seq) else None
                if image is not None:
                    entry.update(height=int(image.shape[0]), width=int(image.shape[1]), dtype=str(image.dtype))
            except DatasetError as exc:
                entry["error"] = str(exc)
            entry.pop("frames", None)  # the file's count, not this camera's per-episode one
            out[group][name] = entry


def render(d: dict) -> str:
    """The description as text for people."""
    fps = "?" if d["fps"] is None else f"{d['fps']:g}"
    lines = [f"{d['path']}: {d['format']}, {d['episodes']} episodes, {d['rows']} rows, {fps} fps; "
             f"{d['kept']} episodes trainable as they are"]
    for group in ("cameras", "depth"):
        for name, c in d[group].items():
            size = f"{c.get('width', '?')}x{c.get('height', '?')}"
            what = "depth" if group == "depth" else "camera"
            lines.append(f"  {what} {name}: {c.get('codec', '?')} {size} {c.get('pix_fmt') or ''}".rstrip()
                         + (f"  [{c['error']}]" if "error" in c else ""))
    for name in ("state", "action"):
        v = d[name]
        if v is not None:
            lines.append(f"  {name}: {v['dim']} values" + (f" {v['names']}" if v["names"] else " (unnamed)"))
    if d["tasks"]:
        lines.append(f"  tasks ({len(d['tasks'])}): " + "; ".join(f"{t!r} x{n}" for t, n in
                                                                 sorted(d["tasks"].items(), key=lambda x: -x[1])[:8]))
    for p in d["problems"]:
        lines.append(f"  problem {p['code']} in {p['episodes']} episode(s), e.g. {p['example']}")
        lines.append(f"    fix: {p['fix']}")
    lines += [f"  note: {n}" for n in d["notes"]]
    return "\n".join(lines)
