"""Ship a tabletop bundle as the package's demo model (`vla_lite/data/models/demo.vla`) with its card (demo.md).

    python benchmarks/ship_demo.py /work/runs/tabletop_full/student-onnx-int8.vla \
        --made-by "python benchmarks/tabletop_chain.py --size full --out /work/runs/tabletop_full"

What the README promises of the demo is checked before anything is replaced: the bundle lists the phrasings it was
trained on (`instruction.known`, so `run` refuses "make me a coffee"), its provenance names no build-machine path
(absolute paths are made portable here, as the exporter now writes them), it is at most 10 MB, and it runs the
README's first command. Then `vla-lite eval` measures it on layouts it never trained on (seeds from 2,000,000;
training used seeds below 1,000,000), and the card records the figures with the commands that reproduce them.

`--known-from-split train` fills in `instruction.known` for a bundle exported before checkpoints recorded their
phrasings: every phrasing of the tabletop's training split, which is what its demonstrations were labelled with.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vla_lite.bundle import load_bundle, write_bundle
from vla_lite.export.bundle_manifest import portable
from vla_lite.worlds.tabletop.instructions import all_instructions

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "vla_lite" / "data" / "models"
MAX_BYTES = 10_000_000  # README: the demo is at most 10 MB
VLA = [sys.executable, "-m", "vla_lite"]
UNKNOWN = "make me a coffee"


def amended(src: Path, out: Path, known_split: str | None) -> dict:
    """Write `src` to `out` with portable provenance (and `instruction.known` from the split when it has none).
    Returns the notes of what was changed."""
    bundle = load_bundle(src)
    manifest = bundle.manifest.to_dict()
    changes = {}
    if not manifest["instruction"].get("known"):
        if known_split is None:
            raise SystemExit(f"{src} lists no trained phrasings (instruction.known): `run` would refuse nothing; "
                             "re-export it from a checkpoint that records them, or give --known-from-split train")
        manifest["instruction"]["known"] = sorted(p for ps in all_instructions(known_split).values() for p in ps)
        changes["instruction_known"] = f"added after export: every phrasing of the tabletop's {known_split!r} split"
    before = manifest["provenance"]
    manifest["provenance"] = portable(before)
    if manifest["provenance"] != before:
        changes["paths"] = "absolute build paths replaced by name@sha256 (export/bundle_manifest.portable)"
    if changes:
        manifest["provenance"]["amended"] = changes
    write_bundle(out, manifest, {m: bundle.read(m) for m in manifest["members"]})
    return changes


def checked(cmd: list[str], expect_ok: bool = True) -> subprocess.CompletedProcess:
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if (out.returncode == 0) != expect_ok:
        raise SystemExit(f"{' '.join(cmd)} exited {out.returncode} (expected {'0' if expect_ok else 'non-zero'}):\n"
                         f"{out.stderr[-2000:]}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--made-by", required=True, help="the command that trained and exported the bundle (for the card)")
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2_000_000, help="first evaluation layout (never trained on)")
    ap.add_argument("--known-from-split", choices=("train",), help="fill in instruction.known (see above)")
    ap.add_argument("--dry-run", action="store_true", help="check and evaluate, replace nothing")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "demo.vla"
        changes = amended(args.bundle, candidate, args.known_from_split)
        size = candidate.stat().st_size
        if size > MAX_BYTES:
            raise SystemExit(f"{args.bundle} is {size:,} bytes after amendment; the demo must be <= {MAX_BYTES:,} "
                             "(re-export with a lower --int8-max-float, then re-check its parity and success)")
        refusal = checked(VLA + ["run", "--port", "sim", "--model", str(candidate), "--duration", "2",
                                 "--instruction", UNKNOWN], expect_ok=False).stderr.strip().splitlines()[-1]
        if "UnknownInstruction" not in refusal:
            raise SystemExit(f"run with {UNKNOWN!r} failed, but not as a refusal: {refusal}")
        checked(VLA + ["run", "--port", "sim", "--model", str(candidate), "--duration", "3"])
        ev = json.loads(checked(VLA + ["eval", str(candidate), "--episodes", str(args.episodes), "--seed",
                                       str(args.seed), "--json"]).stdout)
        ev.pop("results", None)
        src = args.bundle.resolve()
        facts = {"source": str(src.relative_to(ROOT) if src.is_relative_to(ROOT) else src.name), "bytes": size,
                 "sha256": hashlib.sha256(candidate.read_bytes()).hexdigest(), "changes": changes,
                 "refusal": refusal, "eval": ev, "made_by": args.made_by}
        print(json.dumps(facts, indent=1))
        if args.dry_run:
            return 0
        shutil.copyfile(candidate, MODELS / "demo.vla")
    (MODELS / "demo.md").write_text(card(facts, args))
    print(f"wrote {MODELS / 'demo.vla'} and {MODELS / 'demo.md'}", file=sys.stderr)
    return 0


def card(f: dict, args) -> str:
    m = load_bundle(MODELS / "demo.vla").manifest
    ev, prov = f["eval"], m.provenance
    lo, hi = ev["wilson95"]
    model = prov.get("model") or {}
    eval_cmd = f"vla-lite eval demo --episodes {args.episodes} --seed {args.seed} --json"
    return f"""# Demo bundle

`demo.vla`: the tabletop touch policy `vla-lite run --port sim` runs when no `--model` is given. Student
`{model.get('size')}`, {', '.join(f'{r} {p}' for r, p in m.available())}, camera
{', '.join(f'{c.name} {c.width}x{c.height}' for c in m.cameras)}, joints {', '.join(m.action.names)} at
{m.rate_hz:g} Hz, the MiniLM instruction encoder inside. {f['bytes']:,} bytes, sha256 `{f['sha256']}`.

Made by `{f['made_by']}`, shipped by `python benchmarks/ship_demo.py {f['source']} --made-by "..."`
{f"(amended: {'; '.join(f['changes'].values())})" if f['changes'] else ''}.

## Success on layouts it never trained on

{ev['successes']}/{ev['episodes']} = {100 * ev['success_rate']:.1f} % (Wilson 95 %: {100 * lo:.0f}–{100 * hi:.0f} %),
seeds {args.seed}–{args.seed + args.episodes - 1}, lockstep through the runtime (bundle, onnxruntime, chunk
execution, safety filter, the firmware bridge over a pty):

```
{eval_cmd}
```

Training drew on seeds below 1,000,000 (demonstrations from 0, DAgger rollouts from 500,000, calibration from
800,000).

## Instructions it refuses

The bundle lists the {len(m.instruction.known)} phrasings it was trained on; `run` and `eval` hand the policy the
nearest and refuse an instruction unlike all of them:

```
$ vla-lite run --port sim --instruction "{UNKNOWN}"
{f['refusal']}
```
"""


if __name__ == "__main__":
    sys.exit(main())
