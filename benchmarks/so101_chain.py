"""The SO-101 chain through the real servo protocol: scripted-expert demonstrations -> teacher -> student distilled
(>= 10x fewer parameters at full size) with DAgger rounds against the scripted expert -> ONNX (and TFLite) fp32/int8,
parity-gated -> `vla-lite eval --suite so101` for every graph: the runtime's ServoArm sync-reads and sync-writes six
virtual STS3215 servos on a pty, counts <-> rad through the world's calibration, in simulated time, on placements
(seeds) never used for demonstrations, calibration or DAgger rollouts.

    python benchmarks/so101_chain.py --size ci      # two tasks, few demos, a tiny model: what CI runs
    python benchmarks/so101_chain.py --size full    # all 12 tasks (hours on 2 cores)

Rerun into the same --out, a stopped chain goes on where it stopped: finished demonstration folders are kept (one
only partly recorded is recorded again), the teacher and the student resume from their last checkpoints
(`train --resume`, `distill --resume`: recorded DAgger rounds are read back). With --reuse every other finished step
(export, each evaluation, the baselines) is read back from <out>/steps/ instead of run again.

Baselines on the same seeds: the scripted expert and a zero-action (hold-still) policy, in-process, through the
runtime's safety filter (vla_lite.worlds.so101.demos). Writes <out>/chain.json (every figure with the command that
made it) and <out>/chain.png (success per variant and per task).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from chain_steps import VLA, bench, evaluate, export_each_graph, reproducible, sh, size_arguments

SIZES = {  # "ci": two tasks, one DAgger round, ONNX only. Measured: 40 demos per task, teacher 800 steps, student
    # 600 + 300 (22.5 min of training on the loaded shared machine) solved 0/16 held-out placements through the bus
    # with every graph (1/6 in-process after its DAgger round): too little for pick-and-place; hence the sizes below
    "ci": dict(tasks="red-bowl,blue-left-pad", demos=60, calib=2, image=64, views="front,wrist", teacher="micro",
               teacher_steps=2000, student="nano", student_steps=2000, round_steps=1000, rounds=1,
               dagger_episodes=10, batch=32, chunk=8, replan=4, eval_episodes=8, formats="onnx",
               precisions="fp32,int8", bench=False),
    # all 12 tasks: teacher base (9.92 M with two cameras) -> student micro (0.94 M, 10.5x fewer); DAgger rounds
    # spread by the tasks' failure rates, as Meta-World's full run (benchmarks/metaworld_chain.py) taught
    "full": dict(tasks="all", demos=80, calib=2, image=64, views="front,wrist", teacher="base", teacher_steps=8000,
                 student="micro", student_steps=20000, round_steps=4000, rounds=4, dagger_episodes=120, batch=32,
                 chunk=8, replan=4, eval_episodes=10, formats="onnx,tflite", precisions="fp32,int8", alpha=0.25,
                 allocation="failures", bench=True),
}
EVAL_SEED = 1_000_000  # vla-lite eval's default: demonstrations use 0.., calibration CALIB_SEED.., DAgger 500000..
CALIB_SEED = 800_000


def task_list(s: dict) -> list[str]:
    from vla_lite.worlds.so101.rig import TASKS

    return list(TASKS) if s["tasks"] == "all" else s["tasks"].split(",")


def suite_of(s: dict, tasks: list[str]) -> str:
    """`vla-lite eval --suite`: "so101" (all 12 tasks) or the port naming the chain's tasks."""
    return "so101" if s["tasks"] == "all" else "so101-sim:" + ",".join(tasks)


class Steps:
    """Each finished step's JSON under <out>/steps/; with reuse, a step already there is read back, not run."""

    def __init__(self, out: Path, reuse: bool):
        self.dir, self.reuse = out / "steps", reuse
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.dir / f"{name.replace(' ', '_').replace(',', '')}.json"

    def get(self, name: str) -> dict | None:
        path = self.path(name)
        return {**json.loads(path.read_text()), "_reused": str(path)} if self.reuse and path.exists() else None

    def put(self, name: str, value: dict) -> dict:
        self.path(name).write_text(json.dumps(value, indent=1) + "\n")
        return value

    def run(self, name: str, make) -> dict:
        kept = self.get(name)
        return kept if kept is not None else self.put(name, make())


def record(out: Path, name: str, args: list[str], log: Path) -> dict:
    """`vla-lite so101-demos` into out/name, once: a folder without its summary (a stopped recording) is recorded
    again from scratch (the recorder numbers episodes after the ones it finds)."""
    done = out / f"{name}.json"
    if done.exists():
        return {**json.loads(done.read_text()), "_reused": str(done)}
    shutil.rmtree(out / name, ignore_errors=True)
    summary = sh(VLA + ["so101-demos", "--out", str(out / name), *args, "--json"], log)
    done.write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def baselines(tasks: list[str], episodes: int, seed: int) -> dict:
    """The scripted expert and a hold-still policy on the evaluation seeds, in-process: seed k runs task
    tasks[k % len(tasks)] on layout k, as `vla-lite eval` does (SO101Rig.new_episode)."""
    from vla_lite.worlds.so101.demos import record_so101_demos

    seeds: dict[str, list[int]] = {t: [] for t in tasks}
    for k in range(seed, seed + episodes):
        seeds[tasks[k % len(tasks)]].append(k)
    out = {}
    for name, policy in (("expert", None), ("zero action", lambda obs, world: obs["positions"])):
        with tempfile.TemporaryDirectory() as tmp:
            r = record_so101_demos(tmp, tasks, seeds, policy=policy, size_px=32, views=("front",), progress=False)
        out[name] = {"successes": r["successes"], "episodes": r["episodes"], "success_rate": r["success_rate"],
                     "per_target": {t: {**v, "success_rate": v["successes"] / v["episodes"]}
                                    for t, v in r["tasks"].items()}}
    return out


def train_steps(out: Path, s: dict, log: Path, threads: list[str]) -> dict:
    """Demonstrations and calibration episodes, the teacher, the student with its DAgger rounds (each resumable)."""
    tasks = ",".join(task_list(s))
    common = ["--tasks", tasks, "--size", str(s["image"]), "--views", s["views"]]
    steps = {"demos": record(out, "demos", common + ["--episodes", str(s["demos"]), "--noise", "1"], log),
             "calib": record(out, "calib", common + ["--episodes", str(s["calib"]), "--seed", str(CALIB_SEED),
                                                     "--noise", "0"], log)}
    teacher, student = out / "teacher.safetensors", out / "student.safetensors"
    steps["teacher"] = sh(VLA + ["train", "--data", str(out / "demos"), "--out", str(teacher), "--size", s["teacher"],
                                 "--steps", str(s["teacher_steps"]), "--batch", str(s["batch"]), "--chunk",
                                 str(s["chunk"]), "--replan-every", str(s["replan"]), "--resume", *threads, "--json"],
                          log)
    optional = [a for key in ("alpha", "allocation") if key in s
                for a in ("--" + {"allocation": "dagger-allocation"}.get(key, key), str(s[key]))]
    steps["student"] = sh(VLA + ["distill", "--teacher", str(teacher), "--data", str(out / "demos"), "--out",
                                 str(student), "--size", s["student"], "--steps", str(s["student_steps"]),
                                 "--round-steps", str(s["round_steps"]), "--dagger-rounds", str(s["rounds"]),
                                 "--dagger-episodes", str(s["dagger_episodes"]), "--batch", str(s["batch"]),
                                 "--replan-every", str(s["replan"]), "--dagger-dir", str(out / "dagger"), "--resume",
                                 *optional, *threads, "--json"], log)
    return steps


def export_student(student: Path, out: Path, s: dict, log: Path) -> dict:
    bundles, steps = export_each_graph(student, out / "calib", out, "student", s["formats"], s["precisions"], log)
    return {"bundles": {k: str(v) for k, v in bundles.items()}, "steps": steps}


def main(argv=None) -> int:
    args, s = size_arguments(argv, __doc__, SIZES, "runs/so101_chain", "read finished exports, evaluations and "
                             "baselines back from <out>/steps/ instead of running them again",
                             "evaluation episodes per task (default: the size's)")
    tasks = task_list(s)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log, done = out / "chain.log", Steps(out, args.reuse)
    r = {"size": args.size, "settings": s, "tasks": tasks, "suite": suite_of(s, tasks), "eval_seed": EVAL_SEED,
         "command": "python benchmarks/so101_chain.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    t0 = time.perf_counter()
    threads = reproducible(args.size == "ci")  # CI's chain: the same checkpoints on every x86-64 machine
    r["steps"] = steps = train_steps(out, s, log, threads)
    student = out / "student.safetensors"
    bundles = {"teacher": out / "teacher.vla"}
    steps["export_teacher"] = done.run("export teacher", lambda: sh(VLA + [
        "export", str(out / "teacher.safetensors"), "--calib", str(out / "calib"), "--format", "onnx", "--precision",
        "fp32", "-o", str(bundles["teacher"]), "--json"], log))
    exported = done.run("export student", lambda: export_student(student, out, s, log))
    student_bundles = {k: Path(v) for k, v in exported["bundles"].items()}
    steps["export_student"] = exported["steps"]
    bundles.update(student_bundles)
    r["refused"] = {k: e["refused"] for k, e in steps["export_student"].items() if "refused" in e}
    variants = [("teacher onnx fp32", "teacher", "onnx", "fp32", [])]
    variants += [(label, label, *label.split()[1:], []) for label in student_bundles]
    if "student onnx int8" in bundles:  # unseen rewordings, grounded in a trained phrasing (the bundle's default)
        variants.append(("student onnx int8, paraphrases", "student onnx int8", "onnx", "int8",
                         ["--instructions", "paraphrase"]))
    n = s["eval_episodes"] * len(tasks)
    kept = {v[0]: done.get("eval " + v[0]) for v in variants}
    todo = [v for v in variants if kept[v[0]] is None]
    # two evaluations at once on two cores (each in simulated time: results do not depend on it)
    fresh = evaluate(bundles, todo, n, EVAL_SEED, log, ["--suite", r["suite"]], workers=2) if todo else {}
    r["eval"] = {v[0]: kept[v[0]] or done.put("eval " + v[0], fresh[v[0]]) for v in variants}
    r["baselines"] = done.run("baselines", lambda: baselines(tasks, n, EVAL_SEED))
    r["bench"] = bench(bundles, student, log) if s["bench"] else {}
    r["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "chain.json").write_text(json.dumps(r, indent=1) + "\n")
    plot(r, out / "chain.png")
    report(r, out)
    return 0


def report(r: dict, out: Path) -> None:
    for label, why in r["refused"].items():
        print(f"student {label}: not exported: {why}")
    rows = {**r["eval"], **r["baselines"]}
    for label, e in rows.items():
        ci = f" (95 % CI {100 * e['wilson95'][0]:.1f}-{100 * e['wilson95'][1]:.1f} %)" if "wilson95" in e else ""
        print(f"{label:<36} {e['successes']}/{e['episodes']} = {100 * e['success_rate']:5.1f} %{ci}")
        for task, t in e.get("per_target", {}).items():
            print(f"  {task:<34} {t['successes']}/{t['episodes']} = {100 * t['success_rate']:5.1f} %")
    print(f"wrote {out / 'chain.json'} and {out / 'chain.png'} in {r['seconds']} s")


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = {**r["eval"], **r["baselines"]}
    fig, axes = plt.subplots(1, 2, figsize=(15, 0.9 + 0.35 * max(len(rows), len(r["tasks"]))))
    labels = list(rows)
    rates = [100 * e["success_rate"] for e in rows.values()]
    err = np.array([[100 * (e["success_rate"] - e["wilson95"][0]), 100 * (e["wilson95"][1] - e["success_rate"])]
                    if "wilson95" in e else [0.0, 0.0] for e in rows.values()]).T
    axes[0].barh(labels, rates, xerr=err, color="#3b6ea8", capsize=3)
    axes[0].set_xlabel("closed-loop success over the Feetech bus, % (Wilson 95 %)")
    axes[0].set_xlim(0, 100)
    axes[0].invert_yaxis()
    height = 0.8 / len(rows)
    for k, (label, e) in enumerate(rows.items()):
        per = e.get("per_target", {})
        axes[1].barh(np.arange(len(r["tasks"])) + k * height,
                     [100 * per.get(t, {}).get("success_rate", 0.0) for t in r["tasks"]], height, label=label)
    axes[1].set_yticks(np.arange(len(r["tasks"])) + 0.4 - height / 2, r["tasks"])
    axes[1].invert_yaxis()
    axes[1].set_xlim(0, 100)
    axes[1].set_xlabel("success per task, %")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"vla-lite SO-101 chain ({r['size']}): held-out placements, seeds {r['eval_seed']} on")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
