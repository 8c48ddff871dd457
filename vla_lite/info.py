"""`vla-lite info BUNDLE [--json]`: what a bundle expects and holds, after verifying it.

Cameras, state, action space, chunk, rate, the graphs present with their sizes and parity figures, provenance,
and a loud warning when the bundle is untrained.
"""

from __future__ import annotations

import json
import sys

from .bundle import Bundle, BundleError, load_bundle
from .failure import say_failure
from .models import resolve

UNTRAINED = ("UNTRAINED bundle (provenance.trained = false): random weights, for plumbing tests only; "
             "it will not perform any task")


def add_arguments(parser) -> None:
    parser.add_argument("bundle", help="a .vla bundle, or a shipped model's name (demo, mt10-student-int8)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args) -> int:
    try:
        bundle = load_bundle(resolve(args.bundle))
    except BundleError as exc:
        say_failure("info", exc, as_json=args.json, bundle=args.bundle)
        return 1
    info = describe(bundle)
    print(json.dumps(info, indent=2) if args.json else format_text(info))
    if not bundle.manifest.trained and not args.json:
        print(f"WARNING: {UNTRAINED}", file=sys.stderr)
    return 0


def describe(bundle: Bundle) -> dict:
    """Everything `info` shows, as plain JSON-able data."""
    m = bundle.manifest
    graphs = []
    for runtime, precision in m.available():
        member = m.graph_member(runtime, precision)
        parity = m.parity.get(f"{runtime}.{precision}")
        graphs.append({"runtime": runtime, "precision": precision, "member": member,
                       "bytes": bundle.sizes[member],
                       "parity": None if parity is None else
                       {"max_abs": parity.max_abs, "cosine": parity.cosine, "n": parity.n}})
    return {"path": str(bundle.path), "file_bytes": bundle.path.stat().st_size, "verified": True,
            "trained": m.trained, "warnings": [] if m.trained else [UNTRAINED],
            "graphs": graphs, "manifest": m.to_dict()}


def format_text(info: dict) -> str:
    d = info["manifest"]
    a, n = d["action"], d["normalization"]
    lines = [f"{d['name']}  ({info['path']}, {_size(info['file_bytes'])}, schema {d['schema']}, "
             f"created {d['created']}; {len(d['members'])} members, SHA-256 verified)"]
    if not info["trained"]:
        lines.append(f"!! {UNTRAINED}")
    lines.append("cameras:")
    for c in d["cameras"]:
        crop = "none" if c["crop"] is None else "top,left,h,w = " + ",".join(map(str, c["crop"]))
        trained_on = ""  # the record of the training camera (docs/BUNDLE.md), when the bundle has one
        if c.get("captured_size"):
            trained_on += f"; trained on {c['captured_size'][0]}x{c['captured_size'][1]} px frames"
        if c.get("undistort"):
            intr = c.get("intrinsics")
            trained_on += ", undistorted" + (f" (fx {intr['fx']:.1f}, fy {intr['fy']:.1f})" if intr else "")
        lines.append(f"  {c['name']:<12} {c['height']}x{c['width']} {c['channel_order']}, pixels in "
                     f"{c['pixel_range']}, resize {c['resize']}, crop {crop}{trained_on}")
    lines.append(f"state:        {len(d['state']['names'])} values: " +
                 ", ".join(f"{x} [{u}]" for x, u in zip(d["state"]["names"], d["state"]["units"])))
    ins = d["instruction"]
    lines.append(f"instruction:  embedding {ins['embedding_dim']}, up to {ins['max_tokens']} tokens, encoder "
                 f"{ins['encoder'] or 'none (caller supplies embeddings)'}, model {ins['model']}")
    lines.append(f"action:       {a['mode']}, dim {a['dim']}")
    for i, name in enumerate(a["names"]):
        how = "z-score" if n["action"]["mask"][i] else "passed through (mask false)"
        lines.append(f"  {name:<16} {a['units'][i]:<5} [{a['low'][i]:g}, {a['high'][i]:g}]  {how}")
    lines.append(f"chunk:        {d['chunk']['length']} steps, replan every {d['chunk']['replan_every']}")
    lines.append(f"control:      {d['control']['rate_hz']:g} Hz")
    lines.append("graphs:")
    for g in info["graphs"]:
        p = g["parity"]
        parity = "parity not recorded" if p is None else \
            f"parity max_abs {p['max_abs']:.3g}, cosine {p['cosine']:.6f} (n={p['n']})"
        lines.append(f"  {g['runtime'] + '-' + g['precision']:<12} {g['member']:<22} {_size(g['bytes']):>9}  "
                     f"{parity}")
    prov = d["provenance"]
    lines.append("provenance:   " + ", ".join(f"{k}={json.dumps(v)}" for k, v in prov.items()))
    return "\n".join(lines)


def _size(n_bytes: int) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} B"
