"""Meta-World through the full stack: expert demos -> policy -> ONNX/TFLite -> evaluation through the runtime loop
(bundle, backend, chunk execution, safety filter, serial link over a pty, the Meta-World controller), in
simulated time, on placements (seeds) never used for training.

    python benchmarks/metaworld_chain.py --size ci      # two tasks, a tiny model: what CI runs
    python benchmarks/metaworld_chain.py --size full    # MT10 (hours on 2 cores)

Writes <out>/metaworld.json and prints success per task with Wilson 95 % intervals, beside a zero-action policy
measured on the same seeds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SIZES = {
    "ci": dict(tasks="reach-v3,drawer-close-v3", demos=40, size="nano", steps=1500, batch=32, chunk=8,
               replan=4, eval_episodes=10, formats="onnx", precisions="int8"),
    "full": dict(tasks="mt10", demos=100, size="small", steps=20000, batch=64, chunk=16, replan=8,
                 eval_episodes=20, formats="onnx,tflite", precisions="fp32,int8"),
}
EVAL_SEED = 1_000_000
CALIB_SEED = 800_000


def sh(cmd, log: Path) -> dict:
    t0 = time.perf_counter()
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    with open(log, "a") as err:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    if out.returncode != 0:
        raise SystemExit(f"step failed ({out.returncode}): {' '.join(cmd)}; see {log}")
    data = json.loads(out.stdout) if out.stdout.strip().startswith("{") else {"stdout": out.stdout[-2000:]}
    data["_seconds"], data["_command"] = round(time.perf_counter() - t0, 1), " ".join(cmd)
    return data


def zero_action(tasks: list[str], episodes: int) -> dict:
    """Success of a policy that never moves, per task, on the evaluation seeds (in-process env)."""
    import numpy as np

    from vla_lite.metaworld.env import MetaWorldEnv

    out = {}
    for task in tasks:
        ok = 0
        with MetaWorldEnv(task, render=False) as env:
            for k in range(episodes):
                obs = env.reset(EVAL_SEED + k * len(tasks))
                while not obs["done"]:
                    obs = env.step(np.zeros(4))
                ok += env.success
        out[task] = {"successes": ok, "episodes": episodes, "success_rate": ok / episodes}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="ci")
    ap.add_argument("--out", default="runs/metaworld_chain")
    args = ap.parse_args(argv)
    s = SIZES[args.size]
    from vla_lite.metaworld.tasks import MT10

    tasks = list(MT10) if s["tasks"] == "mt10" else s["tasks"].split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "chain.log"
    vla = [sys.executable, "-m", "vla_lite"]
    r = {"size": args.size, "settings": s, "tasks": tasks, "steps": {}}
    t0 = time.perf_counter()
    if not (out / "demos").exists():
        r["steps"]["demos"] = sh(vla + ["metaworld-demos", "--out", str(out / "demos"), "--tasks", ",".join(tasks),
                                        "--episodes", str(s["demos"]), "--noise", "1", "--json"], log)
        r["steps"]["calib"] = sh(vla + ["metaworld-demos", "--out", str(out / "calib"), "--tasks", ",".join(tasks),
                                        "--episodes", "4", "--seed", str(CALIB_SEED), "--json"], log)
    ckpt = out / "policy.safetensors"
    r["steps"]["train"] = sh(vla + ["train", "--data", str(out / "demos"), "--out", str(ckpt), "--size", s["size"],
                                    "--steps", str(s["steps"]), "--batch", str(s["batch"]), "--chunk",
                                    str(s["chunk"]), "--replan-every", str(s["replan"]), "--paraphrases", "metaworld",
                                    "--json"], log)
    bundle = out / "policy.vla"
    r["steps"]["export"] = sh(vla + ["export", str(ckpt), "--calib", str(out / "calib"), "--format", s["formats"],
                                     "--precision", s["precisions"], "-o", str(bundle), "--json"], log)
    suite = "metaworld-mt10" if s["tasks"] == "mt10" else "metaworld:" + ",".join(tasks)
    n = str(s["eval_episodes"] * len(tasks))
    r["eval"] = {}
    for runtime in s["formats"].split(","):
        for precision in s["precisions"].split(","):
            e = sh(vla + ["eval", str(bundle), "--suite", suite, "--episodes", n, "--seed", str(EVAL_SEED),
                          "--runtime", runtime, "--precision", precision, "--json"], log)
            e.pop("results", None)
            r["eval"][f"{runtime} {precision}"] = e
    r["zero_action"] = zero_action(tasks, s["eval_episodes"])
    r["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "metaworld.json").write_text(json.dumps(r, indent=1) + "\n")
    for label, e in r["eval"].items():
        print(f"{label}: {e['successes']}/{e['episodes']} = {100 * e['success_rate']:.1f} % "
              f"(95 % CI {100 * e['wilson95'][0]:.1f}-{100 * e['wilson95'][1]:.1f} %)")
        for task, t in e.get("per_target", {}).items():
            z = r["zero_action"][task]["success_rate"]
            print(f"  {task:<24} {100 * t['success_rate']:5.1f} %   zero-action {100 * z:5.1f} %")
    print(f"wrote {out / 'metaworld.json'} in {r['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
