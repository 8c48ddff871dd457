"""The whole offline chain in the simulated tabletop, then closed-loop evaluation through the runtime.

    demo data -> teacher (vla-lite train) -> student distilled with DAgger rounds (vla-lite distill)
    -> export (ONNX + TFLite, fp32 + int8, parity-gated) -> vla-lite eval for every variant

    python benchmarks/tabletop_chain.py --size ci      # minutes: what CI runs (tests/test_chain.py)
    python benchmarks/tabletop_chain.py --size full    # the benchmark in the closing notes (~1 h on 2 cores)

Writes <out>/chain.json (every figure, with the commands that produced them) and <out>/chain.png (success by
variant, by DAgger round and by model size). Every step is the public CLI, run as a subprocess, so the chain
exercises exactly what a user runs. Baselines measured in the same run: the scripted expert and a hold-still
("zero action") policy on the same evaluation seeds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from chain_steps import VLA, bench, evaluate, export_each_graph, reproducible, sh, size_arguments

SIZES = {  # knob -> settings; "ci" must stay a few minutes on a shared 2-core machine (64 px: 2x faster training)
    "ci": dict(demos=400, calib=24, image=64, teacher="micro", teacher_steps=2000, student="nano",
               student_steps=3000, round_steps=1000, rounds=1, dagger_episodes=40, batch=64, eval_episodes=30,
               formats="onnx,tflite", precisions="fp32,int8"),
    # ~1 h here: teacher base (8.7 M) trains at ~100 samples/s at 64 px; the student micro (0.66 M) is 13x smaller
    "full": dict(demos=600, calib=40, image=64, teacher="base", teacher_steps=2400, student="micro",
                 student_steps=3000, round_steps=1000, rounds=3, dagger_episodes=60, batch=64, eval_episodes=200,
                 formats="onnx,tflite", precisions="fp32,int8"),
}
EVAL_SEED = 1_000_000


def baselines(episodes: int) -> dict:
    """The scripted expert and a hold-still policy on the evaluation seeds, in-process (TabletopEnv)."""
    import numpy as np

    from vla_lite.worlds.tabletop import ScriptedExpert, TabletopEnv

    env = TabletopEnv(rate_hz=25.0, max_steps=250, render=False)
    expert = ScriptedExpert(env.config)
    out = {}
    for name in ("expert", "zero_action"):
        ok = 0
        for seed in range(EVAL_SEED, EVAL_SEED + episodes):
            obs = env.reset(seed)
            while not obs["done"]:
                act = expert.action_chunk(obs["positions"], env.episode.world, 10, 25.0)[0] if name == "expert" \
                    else np.asarray(obs["positions"])
                obs = env.step(act)
            ok += env.success
        out[name] = {"successes": ok, "episodes": episodes, "success_rate": ok / episodes}
    return out


def main(argv=None) -> int:
    args, s = size_arguments(argv, __doc__, SIZES, "runs/tabletop_chain", "reuse the teacher and student "
                             "checkpoints already in <out> (their training summaries are read from the .json beside "
                             "them)", "evaluation episodes per variant (default: the size's)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "chain.log"
    vla = VLA
    result = {"size": args.size, "settings": s, "steps": {},
              "command": "python benchmarks/tabletop_chain.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    t0 = time.perf_counter()
    steps = result["steps"]
    threads = reproducible(args.size == "ci")  # CI's chain: the same checkpoints on every x86-64 machine
    if not (out / "demos").exists():
        steps["demo_data"] = sh(vla + ["demo-data", "--out", str(out / "demos"), "--episodes", str(s["demos"]),
                                       "--size", str(s["image"]), "--json"], log)
        steps["calib_data"] = sh(vla + ["demo-data", "--out", str(out / "calib"), "--episodes", str(s["calib"]),
                                        "--seed", "800000", "--noise", "0", "--size", str(s["image"]), "--json"], log)
    teacher, student = out / "teacher.safetensors", out / "student.safetensors"
    if args.reuse and teacher.exists() and student.exists():
        for name, ckpt in (("teacher", teacher), ("student", student)):
            summary = json.loads(ckpt.with_suffix(".json").read_text())
            steps[name] = {k: v for k, v in summary.items() if k != "history"} | {"_reused": str(ckpt)}
    else:
        steps["teacher"] = sh(vla + ["train", "--data", str(out / "demos"), "--out", str(teacher), "--size",
                                     s["teacher"], "--steps", str(s["teacher_steps"]), "--batch", str(s["batch"]),
                                     "--resume", *threads, "--json"], log)  # a rerun goes on from its checkpoint
        steps["student"] = sh(vla + ["distill", "--teacher", str(teacher), "--data", str(out / "demos"), "--out",
                                     str(student), "--size", s["student"], "--steps", str(s["student_steps"]),
                                     "--round-steps", str(s["round_steps"]), "--dagger-rounds", str(s["rounds"]),
                                     "--dagger-episodes", str(s["dagger_episodes"]), "--batch", str(s["batch"]),
                                     "--dagger-dir", str(out / "dagger"), "--resume", *threads, "--json"], log)
    bundles = {"teacher": out / "teacher.vla"}
    steps["export_teacher"] = sh(vla + ["export", str(teacher), "--calib", str(out / "calib"), "--format", "onnx",
                                        "--precision", "fp32", "-o", str(bundles["teacher"]), "--json"], log)
    bundles_student, steps["export_student"] = export_each_graph(student, out / "calib", out, "student",
                                                                 s["formats"], s["precisions"], log)
    bundles.update(bundles_student)
    variants = [("teacher onnx fp32", "teacher", "onnx", "fp32", ["--instructions", "train"])]
    variants += [(label, label, *label.split()[1:], ["--instructions", "train"]) for label in bundles_student]
    if "student onnx int8" in bundles:  # unseen rewordings, then with unseen colour synonyms; grounded and raw
        for split, what in (("paraphrase", "paraphrases"), ("heldout", "paraphrases + colour synonyms")):
            variants.append((f"student onnx int8, {what}", "student onnx int8", "onnx", "int8",
                             ["--instructions", split]))
            variants.append((f"student onnx int8, {what}, ungrounded", "student onnx int8", "onnx", "int8",
                             ["--instructions", split, "--no-instruction-grounding"]))
    # two evaluations at once on two cores (each in simulated time: results do not depend on it)
    evals = result["eval"] = evaluate(bundles, variants, s["eval_episodes"], EVAL_SEED, log, workers=2)
    result["refused"] = {k: e["refused"] for k, e in steps["export_student"].items() if "refused" in e}
    result["baselines"] = baselines(s["eval_episodes"])
    result["bench"] = bench(bundles, student, log)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "chain.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result, out / "chain.png")
    for label, e in evals.items():
        print(f"{label:<45} {100 * e['success_rate']:5.1f} %  ({e['successes']}/{e['episodes']})")
    for label, why in result["refused"].items():
        print(f"student {label:<37} not exported: {why}")
    for name, b in result["baselines"].items():
        print(f"{name:<45} {100 * b['success_rate']:5.1f} %")
    print(f"wrote {out / 'chain.json'} and {out / 'chain.png'} in {result['seconds']} s")
    return 0


def plot(result: dict, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    labels = list(result["eval"]) + list(result["baselines"])
    rates = [100 * result["eval"][k]["success_rate"] for k in result["eval"]] + \
            [100 * b["success_rate"] for b in result["baselines"].values()]
    axes[0].barh(labels, rates, color="#3b6ea8")
    axes[0].set_xlabel("closed-loop success, %")
    axes[0].set_xlim(0, 100)
    axes[0].invert_yaxis()
    dagger = result["steps"]["student"].get("dagger") or []
    axes[1].plot([d["round"] for d in dagger], [100 * d["student_success"] for d in dagger], "o-")
    axes[1].set_xticks([d["round"] for d in dagger])
    axes[1].set_xlabel(f"DAgger round (0: before the first; {result['settings']['dagger_episodes']} episodes each)")
    axes[1].set_ylabel("student success (in-process), %")
    axes[1].set_ylim(0, 100)
    t, st = result["steps"].get("teacher") or {}, result["steps"]["student"]
    points = [("student", st.get("parameters"), result["eval"].get("student onnx fp32", {}).get("success_rate")),
              ("teacher", t.get("parameters") or st.get("teacher_parameters"),
               result["eval"]["teacher onnx fp32"]["success_rate"])]
    for name, params, rate in points:
        if params and rate is not None:
            axes[2].scatter(params, 100 * rate, s=60)
            axes[2].annotate(name, (params, 100 * rate), textcoords="offset points", xytext=(6, 4))
    axes[2].set_xscale("log")
    axes[2].set_xlim(1e5, 1e8)  # nano (0.3 M) ... large (28 M), labelled by decade only
    axes[2].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[2].set_xlabel("parameters")
    axes[2].set_ylabel("success, %")
    axes[2].set_ylim(0, 100)
    fig.suptitle(f"vla-lite tabletop chain ({result['size']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
