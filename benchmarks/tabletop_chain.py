"""The whole offline chain in the simulated tabletop, then closed-loop evaluation through the runtime.

    demo data -> teacher (vla-lite train) -> student distilled with DAgger rounds (vla-lite distill)
    -> export (ONNX + TFLite, fp32 + int8, parity-gated) -> vla-lite eval for every variant

    python benchmarks/tabletop_chain.py --size ci      # minutes: what CI runs (tests/test_chain.py)
    python benchmarks/tabletop_chain.py --size full    # the benchmark in the closing notes (~1-2 h on 2 cores)

Writes <out>/chain.json (every figure, with the commands that produced them) and <out>/chain.png (success by
variant, by DAgger round and by model size). Every step is the public CLI, run as a subprocess, so the chain
exercises exactly what a user runs. Baselines measured in the same run: the scripted expert and a hold-still
("zero action") policy on the same evaluation seeds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SIZES = {  # knob -> settings; "ci" must stay a few minutes on a shared 2-core machine
    "ci": dict(demos=160, calib=24, teacher="micro", teacher_steps=1200, student="nano", student_steps=900,
               round_steps=400, rounds=1, dagger_episodes=40, batch=32, eval_episodes=30,
               formats="onnx,tflite", precisions="fp32,int8"),
    "full": dict(demos=800, calib=40, teacher="base", teacher_steps=8000, student="micro", student_steps=6000,
                 round_steps=2000, rounds=3, dagger_episodes=150, batch=64, eval_episodes=200,
                 formats="onnx,tflite", precisions="fp32,int8"),
}
EVAL_SEED = 1_000_000


def sh(cmd: list[str], log: Path) -> dict | None:
    """Run a vla-lite command; returns its JSON output (when it prints one), stops the chain on failure."""
    t0 = time.perf_counter()
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    with open(log, "a") as err:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    if out.returncode != 0:
        raise SystemExit(f"step failed ({out.returncode}): {' '.join(cmd)}; see {log}")
    try:
        data = json.loads(out.stdout)
    except json.JSONDecodeError:
        data = {"stdout": out.stdout.strip()[-2000:]}
    data["_seconds"] = round(time.perf_counter() - t0, 1)
    data["_command"] = " ".join(cmd)
    return data


def baselines(episodes: int) -> dict:
    """The scripted expert and a hold-still policy on the evaluation seeds, in-process (TabletopEnv)."""
    import numpy as np

    from vla_lite.sim import ScriptedExpert, TabletopEnv

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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="ci")
    ap.add_argument("--out", default="runs/tabletop_chain")
    ap.add_argument("--skip-teacher", action="store_true", help="reuse <out>/teacher.safetensors")
    args = ap.parse_args(argv)
    s = SIZES[args.size]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "chain.log"
    vla = [sys.executable, "-m", "vla_lite"]
    result = {"size": args.size, "settings": s, "steps": {}}
    t0 = time.perf_counter()
    steps = result["steps"]
    if not (out / "demos").exists():
        steps["demo_data"] = sh(vla + ["demo-data", "--out", str(out / "demos"), "--episodes", str(s["demos"]),
                                       "--json"], log)
        steps["calib_data"] = sh(vla + ["demo-data", "--out", str(out / "calib"), "--episodes", str(s["calib"]),
                                        "--seed", "800000", "--noise", "0", "--json"], log)
    teacher = out / "teacher.safetensors"
    if not (args.skip_teacher and teacher.exists()):
        steps["teacher"] = sh(vla + ["train", "--data", str(out / "demos"), "--out", str(teacher), "--size",
                                     s["teacher"], "--steps", str(s["teacher_steps"]), "--batch", str(s["batch"]),
                                     "--json"], log)
    student = out / "student.safetensors"
    steps["student"] = sh(vla + ["distill", "--teacher", str(teacher), "--data", str(out / "demos"), "--out",
                                 str(student), "--size", s["student"], "--steps", str(s["student_steps"]),
                                 "--round-steps", str(s["round_steps"]), "--dagger-rounds", str(s["rounds"]),
                                 "--dagger-episodes", str(s["dagger_episodes"]), "--batch", str(s["batch"]),
                                 "--dagger-dir", str(out / "dagger"), "--json"], log)
    bundles = {"teacher": out / "teacher.vla", "student": out / "student.vla"}
    steps["export_teacher"] = sh(vla + ["export", str(teacher), "--calib", str(out / "calib"), "--format", "onnx",
                                        "--precision", "fp32", "-o", str(bundles["teacher"]), "--json"], log)
    steps["export_student"] = sh(vla + ["export", str(student), "--calib", str(out / "calib"), "--format",
                                        s["formats"], "--precision", s["precisions"], "-o", str(bundles["student"]),
                                        "--json"], log)
    n = str(s["eval_episodes"])
    evals = result["eval"] = {}
    variants = [("teacher onnx fp32", "teacher", "onnx", "fp32", "train")]
    for runtime in s["formats"].split(","):
        for precision in s["precisions"].split(","):
            variants.append((f"student {runtime} {precision}", "student", runtime, precision, "train"))
    variants.append(("student onnx int8, held-out paraphrases", "student", "onnx", "int8", "heldout"))
    for label, which, runtime, precision, phrasing in variants:
        evals[label] = sh(vla + ["eval", str(bundles[which]), "--episodes", n, "--seed", str(EVAL_SEED),
                                 "--runtime", runtime, "--precision", precision, "--instructions", phrasing,
                                 "--json"], log)
        evals[label].pop("results", None)
    result["baselines"] = baselines(s["eval_episodes"])
    result["bench"] = sh(vla + ["bench", str(bundles["student"]), "--threads", "1", "--json"], log)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "chain.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result, out / "chain.png")
    for label, e in evals.items():
        print(f"{label:<45} {100 * e['success_rate']:5.1f} %  ({e['successes']}/{e['episodes']})")
    for name, b in result["baselines"].items():
        print(f"{name:<45} {100 * b['success_rate']:5.1f} %")
    print(f"wrote {out / 'chain.json'} and {out / 'chain.png'} in {result['seconds']} s")
    return 0


def plot(result: dict, path: Path) -> None:
    import matplotlib

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
    axes[1].set_xlabel("DAgger round (0: before the first)")
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
    axes[2].set_xlabel("parameters")
    axes[2].set_ylabel("success, %")
    axes[2].set_ylim(0, 100)
    fig.suptitle(f"vla-lite tabletop chain ({result['size']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
