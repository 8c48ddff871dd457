"""Publish a finished SO-101 chain (benchmarks/so101_chain.py): its figures into benchmarks/results/, and with
--bundle its int8 student as the shipped model `so101-student-int8` (vla_lite/data/models/, beside its page).

    python benchmarks/so101_publish.py runs/so101_ci --results so101_chain_ci
    python benchmarks/so101_publish.py /work/runs/so101_full --results so101_chain_full --bundle
    python benchmarks/report.py      # then: benchmarks/README.md's SO-101 sections

The bundle is refused (exit 2, one line naming the value) unless it verifies, fits the 10 MB a robot-side bundle
may take (instruction encoder included) and lists every trained phrasing of the chain's tasks in instruction.known
(what grounds unseen rewordings at run time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from vla_lite.models import MODELS_DIR

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MODEL = "so101-student-int8"
MAX_BUNDLE_BYTES = 10_000_000  # the 10 MB
LABEL = "student onnx int8"


def check_bundle(path: Path, tasks: list[str]) -> None:
    """ValueError unless the bundle verifies, fits MAX_BUNDLE_BYTES and knows every task's trained phrasings."""
    from vla_lite.bundle import load_bundle
    from vla_lite.worlds.so101.instructions import phrasings
    from vla_lite.worlds.so101.rig import task_named

    size = path.stat().st_size
    if size > MAX_BUNDLE_BYTES:
        raise ValueError(f"{path} is {size:,} bytes; a shipped bundle may take at most {MAX_BUNDLE_BYTES:,}")
    m = load_bundle(path).manifest  # checks the schema and every member's SHA-256
    missing = [p for t in tasks for p in phrasings(task_named(t), "train") if p not in set(m.instruction.known)]
    if missing:
        raise ValueError(f"{path}: instruction.known lacks {len(missing)} trained phrasings, e.g. {missing[0]!r}; "
                         "expected every training phrasing of the chain's tasks")


def card(r: dict, data: bytes) -> str:
    """The shipped model's page: what it is, how it was made, its figures, how to evaluate and run it."""
    e, s = r["eval"][LABEL], r["settings"]
    export = r["steps"]["export_student"]["onnx int8"]
    rows = [f"| {t} | {v['successes']}/{v['episodes']} | {100 * v['success_rate']:.1f} % |"
            for t, v in e["per_target"].items()]
    lo, hi = e["wilson95"]
    figures = [f"{label}: {v['successes']}/{v['episodes']} = {100 * v['success_rate']:.1f} % "
               f"({100 * v['wilson95'][0]:.0f}–{100 * v['wilson95'][1]:.0f})"
               for label, v in r["eval"].items() if label != LABEL]
    return "\n\n".join([
        "# SO-101 student bundle",
        f"`{MODEL}.vla`: one language-conditioned SO-101 pick-and-place policy over {len(r['tasks'])} tasks, "
        f"{r['steps']['student']['parameters']:,} parameters (its teacher: {r['steps']['teacher']['parameters']:,}), "
        f"onnx int8, two {s['image']} px cameras ({s['views']}), joint-position actions at 30 Hz in the units of "
        f"the arm's calibration (rad, gripper 0..1), the MiniLM instruction encoder inside. {len(data):,} bytes "
        f"({len(data) / 2 ** 20:.2f} MiB), sha256 `{hashlib.sha256(data).hexdigest()}`.",
        f"Made by `{r['command']}`, exported by `vla-lite {export['_command'].split(' -m vla_lite ', 1)[-1]}`.",
        "## Success on held-out placements, through the Feetech bus",
        "| task | successes | rate |\n|---|---|---|\n" + "\n".join(rows) +
        f"\n| **all** | {e['successes']}/{e['episodes']} | {100 * e['success_rate']:.1f} % "
        f"({100 * lo:.0f}–{100 * hi:.0f}) |",
        f"Seeds {e['seeds'][0]}–{e['seeds'][1]} (placements never used in training), lockstep through the runtime: "
        "bundle, onnxruntime, chunk execution, safety filter, the ServoArm sync-reading and sync-writing six virtual "
        "STS3215 servos on a pty with the world's calibration. On the same seeds: " + "; ".join(figures) +
        ". The full report: [benchmarks/README.md](../../../benchmarks/README.md).",
        "## Evaluate it on placements of your own",
        f"```\nvla-lite eval {MODEL} --suite so101 --episodes 120 --seed 2000000 --json\n```",
        "Training drew on seeds from 0 (demonstrations), 500,000 (DAgger rounds) and 800,000 (calibration); the "
        "figures above start at 1,000,000. `--instructions paraphrase` uses rewordings it never trained on, grounded "
        "in its trained phrasings (`instruction.known`).",
        "## Run it in real time",
        f"```\nvla-lite run --model {MODEL} --port so101-sim --instruction \"put the red cube in the bowl\"\n```",
    ]) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a finished so101_chain.py --out folder (with chain.json)")
    ap.add_argument("--results", required=True, help="name under benchmarks/results/, e.g. so101_chain_full")
    ap.add_argument("--bundle", action="store_true", help=f"also ship its int8 student as {MODEL}")
    args = ap.parse_args(argv)
    run = Path(args.run)
    try:
        r = json.loads((run / "chain.json").read_text())
        if args.bundle:
            bundle = run / "student-onnx-int8.vla"
            if LABEL not in r["eval"]:
                raise ValueError(f"{run}: no evaluated {LABEL!r} (refused: {r.get('refused')})")
            check_bundle(bundle, r["tasks"])
    except (OSError, ValueError, KeyError) as exc:
        print(f"so101_publish: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    shutil.copy(run / "chain.json", RESULTS / f"{args.results}.json")
    shutil.copy(run / "chain.png", RESULTS / f"{args.results}.png")
    print(f"wrote {RESULTS / args.results}.json and .png")
    if args.bundle:
        shutil.copy(bundle, MODELS_DIR / f"{MODEL}.vla")
        (MODELS_DIR / f"{MODEL}.md").write_text(card(r, bundle.read_bytes()))
        print(f"wrote {MODELS_DIR / MODEL}.vla and its page {MODELS_DIR / MODEL}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
