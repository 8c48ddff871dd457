"""Write benchmarks/README.md, the performance report, from the JSON in benchmarks/results/.

    python benchmarks/report.py            # after any of the benchmarks below has (re)written its JSON

Every table names the command that produced its figures; a section whose JSON is missing says which command to
run. Nothing here measures anything: numbers come only from the results files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vla_lite.models import MODELS_DIR

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# Published Meta-World figures (MT50, their own protocols; see the note under the table).
PUBLISHED = [("SmolVLA (0.45 B)", "57.3 %"), ("pi0 (3.3 B)", "47.9 %"), ("Diffusion Policy", "10.5 %")]


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def wilson(e: dict) -> str:
    lo, hi = e["wilson95"]
    refused = (e.get("outcomes") or {}).get("refused")  # instructions grounding refused: the arm never moved
    return f"{e['successes']}/{e['episodes']} = {pct(e['success_rate'])} ({100 * lo:.0f}–{100 * hi:.0f})" + \
        (f", {refused} refused" if refused else "")


def missing(command: str) -> str:
    return f"_Not measured yet: run `{command}`._"


def bridge() -> str:
    d = load("bridge")
    if d is None:
        return missing("python benchmarks/bench_bridge.py")
    c, rt, naive = d["codec"], d["round_trip_ms"], d["round_trip_naive_polling_ms"]
    return table(["figure", "vla-lite", "baseline, same run", "ratio", "goal"], [
        ["codec encode+decode, 7-joint COMMAND", f"{c['frames_per_s']:,} frames/s",
         f"{c['naive_pure_python_frames_per_s']:,} (pure-Python COBS/CRC)", f"{c['ratio']}x", "≥ 200,000"],
        ["command→state over a pty, p50", f"{rt['p50']} ms", f"{naive['p50']} ms (1 ms polling)",
         f"{naive['p50'] / rt['p50']:.1f}x", "≤ 0.1 ms"],
        ["command→state over a pty, p99", f"{rt['p99']} ms", f"{naive['p99']} ms", "", "≤ 0.5 ms"],
    ]) + f"\n\n`python benchmarks/bench_bridge.py` ({rt['n']} round trips, {rt['lost']} lost)."


def loop(name: str = "loop", command: str = "python benchmarks/bench_loop.py --rates 25,50,100 --duration 20 --load",
         what: str = "`vla-lite run --port sim` (demo bundle, onnx int8, one inference thread)") -> str:
    d = load(name)
    if d is None:
        return missing(command)
    rows = []
    for c in d["cases"]:
        j = c["jitter_ms"]
        rows.append([f"{c['rate_hz']:g}", c["loop"], "yes" if c["cpu_load"] else "", f"{j['p50']:.3f}",
                     f"{j['p99']:.3f}", f"{j['max']:.2f}", c["overruns"], f"{c['achieved_hz']:.3f}",
                     f"{c['inference_ms']['p50']:.2f} / {c['inference_ms']['p99']:.2f}",
                     f"{c['camera_to_command_ms']['p50']:.1f}"])
    return (table(["Hz", "loop", "CPU load", "jitter p50 ms", "p99", "max", "overruns", "achieved Hz",
                   "inference p50/p99 ms", "camera→command p50 ms"], rows)
            + f"\n\n`{command}`: each case is a real {what}. "
            "Jitter is the tick start minus its absolute deadline; for the naive `sleep(period - elapsed)` loop "
            "that is its accumulated drift. Camera→command is dominated by the 30 fps simulated camera (a frame is "
            "half a period old on average).\n\n" f"![loop jitter](results/{name}.png)")


def chain(name: str, command: str) -> str:
    d = load(name)
    if d is None:
        return missing(command)
    rows = [[label, wilson(e), *model_size(d, label), f"{e['inference_ms']['p50']:.2f}" if e.get("inference_ms")
             else ""] for label, e in d["eval"].items()]
    for label, why in d.get("refused", {}).items():
        rows.append([f"student {label}", "not exported: " + why.split(": ", 1)[-1], "", "", ""])
    base = d.get("baselines") or {}
    for label, b in base.items():
        rows.append([label.replace("_", " "), pct(b["success_rate"]), "", "", ""])
    zero = d.get("zero_action") or {}
    if len(zero) <= 2:  # more tasks: the per-task table carries them
        for task, z in zero.items():
            rows.append([f"zero action, {task}", pct(z["success_rate"]), "", "", ""])
    out = table(["variant", "success (Wilson 95 %)", "parameters", "bundle MB", "inference p50 ms"], rows)
    bench = d.get("bench") or {}
    if bench and isinstance(next(iter(bench.values())), dict) and "torch_eager" in next(iter(bench.values())):
        brow = []
        for label, b in bench.items():
            for r in b["results"]:
                brow.append([label, f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}", f"{b['torch_eager']['p50_ms']:.3f}",
                             f"{r['speedup_vs_torch_eager']}x"])
        out += "\n\n" + table(["graph", "p50 ms", "p99 ms", "PyTorch eager p50 ms", "speed-up"], brow)
    out += f"\n\nSize `{d['size']}`: `{d.get('command') or command.replace('SIZE', d['size'])}`."
    return out


def model_size(d: dict, label: str) -> tuple[str, str]:
    """(parameters, bundle size in MB) of an evaluated variant, from the chain's train and export steps."""
    role = label.split()[0]  # "teacher onnx fp32" / "student onnx int8"
    params = (d["steps"].get(role) or {}).get("parameters")
    export = d["steps"].get("export_teacher") if role == "teacher" else \
        (d["steps"].get("export_student") or {}).get(label.split(" ", 1)[-1])
    size = (export or {}).get("bytes")
    return (f"{params:,}" if params else "", f"{size / 1e6:.2f}" if size else "")


def metaworld_sim() -> str:
    d = load("metaworld_sim")
    if d is None:
        return missing("python benchmarks/bench_metaworld_sim.py")
    e = d["expert"]
    r = d["render"]
    return (f"Scripted experts: {e['successes']}/{e['episodes']} = {pct(e['success_rate'])} over MT10 "
            f"({e['seeds_per_task']} placements per task). Rendering at 96 px: {r['96']['ms_per_frame']} ms/frame "
            f"with the fast settings vs {r['96_metaworld_defaults']['ms_per_frame']} ms with Meta-World's defaults "
            f"({r['speedup_96']}x). `python benchmarks/bench_metaworld_sim.py`.")


def metaworld_experts() -> str:
    d = load("metaworld_experts")
    if d is None:
        return missing("python benchmarks/metaworld_experts.py")
    conds = list(d["conditions"])
    rows = [[g.replace("_", " "), *(wilson(v[c]) for c in conds)] for g, v in d["groups"].items()]
    rows.append(["**all**", *(wilson(d["all"][c]) for c in conds)])
    below = [[t, *(f"{v[c]['successes']}/{v[c]['episodes']}" for c in conds)] for t, v in d["tasks"].items()
             if min(v[c]["success_rate"] for c in conds) < 0.9]
    return "\n\n".join([
        table(["group", *conds], rows),
        "Tasks under 90 % in any condition:\n\n" + table(["task", *conds], below),
        f"{d['episodes_per_task']} placements per task (seeds {d['seeds'][0]}-{d['seeds'][1]}, the ones "
        "demonstrations start from). native: the expert's actions straight into Meta-World; ramped: through the "
        "runtime's safety filter and its 0.3 s ramp-in, as `vla-lite run` moves; demos: ramped plus the DART noise "
        "demonstrations are recorded with (`vla-lite metaworld-demos`). The training reader drops failed "
        "demonstrations, so the MT50 chain (`--size mt50`) records more placements of a task until it has 50 "
        f"successful ones. `{d['command']}`.",
        "![experts](results/metaworld_experts.png)"])


# Published Meta-World MT50 figures (authors' own; LeRobot's protocol): name, size, all, easy, medium, hard, very hard
PUBLISHED_MT50 = [("Evo-1", "0.77 B", 80.6), ("ProgVLA", "0.1 B", 78.5), ("SmolVLA-2.25B", "2.25 B", 68.2),
                  ("SmolVLA", "0.45 B", 57.3, 82.5, 41.8, 45.0, 60.0), ("pi0", "3.3 B", 47.9),
                  ("TinyVLA-H", "", 31.6), ("Diffusion Policy", "", 10.5)]
MT50_GROUPS = ("easy", "medium", "hard", "very_hard")
MT50_RUNS = {"(a) ours: demonstrations + DAgger with the scripted experts": "metaworld_chain_mt50",
             "(b) ours: behaviour cloning only, 50 demonstrations per task": "metaworld_chain_mt50-bc"}
MT50_COMMANDS = {
    "metaworld_chain_mt50": "python benchmarks/metaworld_chain.py --size mt50 --out runs/mt50/chain",
    "metaworld_chain_mt50-bc": "python benchmarks/metaworld_chain.py --size mt50-bc --demos-from runs/mt50/chain "
                               "--out runs/mt50/bc"}


def mt50() -> str:
    """Our two MT50 rows (student onnx int8, 10 held-out placements per task) beside the published ones."""
    rows = []
    for label, name in MT50_RUNS.items():
        d = load(name)
        e = (d or {}).get("eval", {}).get("student onnx int8")
        if e is None:
            rows.append([label, "", f"_not measured yet: `{MT50_COMMANDS[name]}`_", "", "", "", ""])
            continue
        params = d["steps"]["student"].get("parameters")
        groups = e.get("per_group", {})
        rows.append([label, f"{params / 1e6:.2f} M" if params else "", wilson(e),
                     *(pct(groups[g]["success_rate"]) if g in groups else "" for g in MT50_GROUPS)])
    for name, size, *figures in PUBLISHED_MT50:
        rows.append([name, size, *(f"{f:.1f} %" for f in figures), *[""] * (5 - len(figures))])
    return "\n\n".join([
        table(["policy", "parameters", "MT50", "easy", "medium", "hard", "very hard"], rows),
        "LeRobot's protocol for all rows: the 50 tasks, 10 episodes per task (500), object placements randomised "
        "per seeded reset, 500-step limit, difficulty groups easy 28 / medium 11 / hard 6 / very hard 5. Ours: "
        "`vla-lite eval --suite metaworld-mt50` (seeds 1,000,000-1,000,499, placements never used in training; task "
        "= seed mod 50) through the whole runtime at 80 Hz, two 64 px cameras, one int8 policy trained from scratch. "
        "(a) may also query the scripted experts while training (DAgger): a stronger protocol than the published "
        "rows', which learn from about 50 demonstrations per task; (b) is like for like with them. The published "
        "figures are the authors' own. A stopped chain resumes where it stopped: rerun its command."])


def text_vocab() -> str:
    d = load("text_vocab")
    if d is None:
        return missing("python benchmarks/text_vocab.py")
    rows = [["all 27,898 (today's bundles)", f"{d['full_bytes'] / 1e6:.2f} MB", "1", "1", "1"]]
    rows += [[(f"{r['common_words']:,} commonest" if r["common_words"] else "the trained phrasings' only")
              + f" ({r['vocab']:,} tokens)", f"{r['bytes'] / 1e6:.2f} MB",
              f"{r['mt50_train']['cosine_min']:.4f} ({r['mt50_train']['identical']}/{r['mt50_train']['n']} identical)",
              f"{r['mt50_heldout']['cosine_mean']:.3f} (min {r['mt50_heldout']['cosine_min']:.2f})",
              f"{r['other_sentences']['cosine_mean']:.3f} (min {r['other_sentences']['cosine_min']:.2f})"]
             for r in d["rows"]]
    return "\n\n".join([
        table(["whole words kept", "encoder", "MT50 training phrasings", "MT50 held-out rewordings",
               "200 other instructions"], rows),
        "The compact encoder is 8.4 MB of a bundle's 10 MB. `vla-lite export --text-common-words N` cuts its word "
        "table to the tokens of the phrasings trained on, every WordPiece piece and character (no word becomes "
        "unknown: a dropped one is spelt in pieces) and BERT's N commonest whole words; nothing else of the graph "
        "changes, so the phrasings trained on embed bit for bit as in training and a bundle's success on them is "
        "unchanged. Cosine: to the full encoder's embedding of the same sentence. Unseen wordings pay: a word spelt "
        f"in pieces loses most of its meaning. `{d['command'].strip()}`."])


def chain_command(name: str) -> str:
    """The command that writes results/<name>.json (metaworld_chain_<size>; _more: the continued mid run; _ramp:
    that one continued with the runtime's ramp-in in its rollouts; _fullmore: the full run given DAgger rounds;
    _polish: that one given a longer fit, no new rounds)."""
    size = name.rsplit("_", 1)[-1]
    continued = {"more": ("mw_mid", "mw_more"), "ramp": ("mw_more", "mw_ramp"), "fullmore": ("mw_full", "mw_full_more"),
                 "polish": ("mw_full_more", "mw_polish")}
    if size in continued:
        return "python benchmarks/metaworld_chain.py --more-from runs/{} --out runs/{}".format(*continued[size])
    return f"python benchmarks/metaworld_chain.py --size {size}"


def per_task(name: str, world: str = "Meta-World") -> str:
    """Success per task for every variant of a chain beside the scripted expert and a zero-action policy, as a
    table and a grouped bar chart (results/<name>_tasks.png). The expert: the chain's own baseline on the same
    seeds (SO-101), else Meta-World's on 50 placements per task (bench_metaworld_sim)."""
    d = load(name)
    if d is None:
        return ""  # (chain() says how to measure it)
    base = {label: {t: r["success_rate"] for t, r in b.get("per_target", {}).items()}
            for label, b in (d.get("baselines") or {}).items()}
    expert = ((load("metaworld_sim") or {}).get("expert") or {}).get("tasks", {})
    columns = {"expert": base.get("expert") or {t: expert[t]["successes"] / expert[t]["episodes"]
                                                for t in d["tasks"] if t in expert}}
    columns.update({label: {t: r["success_rate"] for t, r in e.get("per_target", {}).items()}
                    for label, e in d["eval"].items()})
    columns["zero action"] = base.get("zero action") or {t: z["success_rate"]
                                                         for t, z in (d.get("zero_action") or {}).items()}
    rows = [[t, *(pct(col.get(t)) for col in columns.values())] for t in d["tasks"]]
    rows.append(["**average**", *(pct(sum(col.values()) / len(col)) if len(col) == len(d["tasks"]) else "–"
                                  for col in columns.values())])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    y = np.arange(len(d["tasks"]))
    width = 0.8 / len(columns)
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(d["tasks"]) + 1.6))
    for k, (label, col) in enumerate(columns.items()):
        ax.barh(y + k * width, [100 * col.get(t, 0) for t in d["tasks"]], height=width, label=label)
    ax.set_yticks(y + 0.4 - width / 2, [t.removesuffix("-v3") for t in d["tasks"]])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("success on held-out placements, %")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"{world}, size {d['size']}: success per task")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}_tasks.png", dpi=110)
    plt.close(fig)
    per = d["settings"]["eval_episodes"]
    where = "the scripted expert and the zero-action policy on the same seeds" if "expert" in base else \
        "the expert column is the scripted policy on 50 placements (`python benchmarks/bench_metaworld_sim.py`)"
    return (table(["task", *columns], rows) +
            f"\n\nEach task: {per} placements (seeds {d['eval'][next(iter(d['eval']))]['seeds'][0]} on, never used "
            f"in training); {where}.\n\n![per task](results/{name}_tasks.png)")


def misses() -> str:
    """Where the committed student's misses end (benchmarks/metaworld_misses.py): per task, how many misses never
    moved the object, and the median closest approach and per-axis error of the misses."""
    d = load("metaworld_misses")
    if d is None:
        return missing("python benchmarks/metaworld_misses.py STUDENT.safetensors")

    def cm(x) -> str:
        return "–" if x is None else f"{100 * x:.1f}"

    rows = []
    for task, t in d["summary"].items():
        err = t["misses_median_abs_error_xyz_m"] or [None] * 3
        still = "–" if t["misses_object_still"] is None else t["misses_object_still"]
        rows.append([task, f"{t['successes']}/{t['episodes']}", t["episodes"] - t["successes"], still,
                     cm(t["misses_median_closest_m"]), *(cm(e) for e in err)])
    return (table(["task", "successes", "misses", "misses, object never moved", "misses: median closest, cm",
                   "median abs x error, cm", "y, cm", "z, cm"], rows) +
            f"\n\nSeeds {d['seeds'][0]}-{d['seeds'][1]}, the student in-process in PyTorch: `{d['command']}`."
            "\n\n![misses](results/metaworld_misses.png)")


PUBLISHED_MODEL = "mt10-student-int8"  # the committed MT10 bundle: a shipped model (vla_lite.models)
PUBLISHED_BUNDLE = MODELS_DIR / f"{PUBLISHED_MODEL}.vla"
MODEL_CARD = PUBLISHED_BUNDLE.with_suffix(".md")  # its page, beside it
PUBLISHED_FROM = "metaworld_chain_polish"  # the results file of the run the committed bundle comes from


def published_bundle(name: str = "metaworld_chain_mid", label: str = "student onnx int8") -> str:
    """The committed MT10 bundle: its size, digest and evaluated success, and its card (MODEL_CARD), the page that
    ships beside it (how it was made, how to evaluate it on new placements, how to run it)."""
    d = load(name)
    if d is None or not PUBLISHED_BUNDLE.exists():
        return missing(f"{chain_command(name)}, then copy its student-onnx-int8.vla to "
                       f"{PUBLISHED_BUNDLE.relative_to(HERE.parent)}")
    import hashlib

    e = d["eval"][label]
    data = PUBLISHED_BUNDLE.read_bytes()
    rel = PUBLISHED_BUNDLE.relative_to(HERE.parent)
    card = MODEL_CARD.relative_to(HERE.parent)
    params = d["steps"]["student"].get("parameters")
    export = d["steps"]["export_student"][label.split(" ", 1)[-1]]  # "student onnx int8" -> "onnx int8"
    made_by = "vla-lite " + export["_command"].split(" -m vla_lite ", 1)[-1]
    rows = [[t, f"{r['successes']}/{r['episodes']}", pct(r["success_rate"])] for t, r in e["per_target"].items()]
    rows.append(["**all**", f"{e['successes']}/{e['episodes']}", wilson(e).split(" = ", 1)[1]])
    fresh = fresh_seeds(PUBLISHED_MODEL)
    page = "\n\n".join([
        "# MT10 student bundle",
        f"`{PUBLISHED_BUNDLE.name}`: one multi-task Meta-World MT10 policy conditioned on the instruction, "
        f"{params:,} parameters, onnx int8, two 64 px cameras (`front`, `side`), end-effector-delta actions at 80 Hz, "
        f"the MiniLM instruction encoder inside. {len(data):,} bytes ({len(data) / 2 ** 20:.2f} MiB), "
        f"sha256 `{hashlib.sha256(data).hexdigest()}`. Of that, the instruction encoder is "
        f"{export['text_encoder_bytes'] / 1e6:.2f} MB and the policy graph "
        f"{sum(export['graphs'].values()) / 1e6:.2f} MB (int8 weights and activations except the convolutions "
        f"and the {len((export.get('kept_fp32') or {}).get('onnx', []))} most sensitive layers, which compute in "
        f"fp32 on weights stored as {stored_as(export)}).",
        f"Made by `{d['command']}` ({recipe(d)}), then exported by `{made_by}`.",
        "## Success on held-out placements, through the runtime",
        table(["task", "successes", "rate"], rows),
        f"Seeds {e['seeds'][0]}–{e['seeds'][1]} (placements never used in training), "
        "lockstep through the runtime loop: bundle, onnxruntime, chunk execution, safety filter, the firmware "
        "bridge over a pty, the Meta-World controller. The full report: "
        "[benchmarks/README.md](../../../benchmarks/README.md).",
        *ramp_note(d, label),
        *fresh,
        "## Evaluate it on placements of your own",
        "```\n"
        f"vla-lite eval {PUBLISHED_MODEL} --suite metaworld-mt10 --episodes 100 --seed 2000000 --json\n"
        "```",
        f"`{PUBLISHED_MODEL}` is the name of this shipped model (it sits in `{rel}`). Any seed works. Training "
        "drew on seeds from 0 (demonstrations), 500,000 (DAgger rounds) and 800,000 "
        "(calibration), a few hundred each; the figures above start at 1,000,000. "
        "`--instructions paraphrase` uses phrasings the policy never trained on.",
        "## Run it in real time",
        "```\n"
        f"vla-lite run --model {PUBLISHED_MODEL} --port metaworld:drawer-open-v3 --instruction \"open the drawer\"\n"
        "```",
        "The controller behind the pty steps the simulated Sawyer at 80 Hz and renders both cameras.",
    ])
    MODEL_CARD.write_text(page + "\n")
    return "\n\n".join([f"[`{rel}`](../{card}): {len(data) / 2 ** 20:.2f} MiB, {params:,} parameters, "
                        f"{wilson(e)} on MT10's held-out placements.", *fresh])


def fresh_seeds(model: str) -> list[str]:
    """The committed bundle on placements picked after it was made (results/metaworld_fresh_seeds.json)."""
    f = load("metaworld_fresh_seeds")
    if f is None:
        return []
    per = ", ".join(f"{t.removesuffix('-v3')} {r['successes']}/{r['episodes']}" for t, r in f["per_target"].items()
                    if r["successes"] < r["episodes"])
    return [f"On fresh placements, seeds {f['seeds'][0]}–{f['seeds'][1]} (`vla-lite eval {model} --suite "
            f"metaworld-mt10 --episodes {f['episodes']} --seed {f['seeds'][0]} --json`): {wilson(f)}; every task "
            f"solved on every placement{f' except {per}' if per else ''}."]


def stored_as(export: dict) -> str:
    """How an int8 export stores the weights of the layers it computes in fp32."""
    n = len((export.get("int8_stored_fp32_weights") or {}).get("onnx", []))
    return (f"int8 per output channel for {n} of them, where the calibration error stayed within budget, and fp16 "
            "for the others") if n else "fp16"


def published_demos() -> int:
    """Expert demonstrations per task behind the committed bundle: its run's and those of every run it continued
    (found by the --out in their commands)."""
    runs = {Path(d["command"].split("--out ", 1)[-1].split()[0]).name: d
            for d in map(json.loads, (p.read_text() for p in RESULTS.glob("metaworld_chain_*.json"))) if "command" in d}
    d, total, seen = load(PUBLISHED_FROM) or {}, 0, set()
    while d and id(d) not in seen:
        seen.add(id(d))
        s = d.get("settings") or {}
        total += (s.get("more") or {}).get("demos", 0) if d.get("continued_from") else s.get("demos", 0)
        d = runs.get(Path(d["continued_from"]).name) if d.get("continued_from") else None
    return total


def ramp_note(d: dict, label: str) -> list[str]:
    """The same graph evaluated without the runtime's ramp-in, when the run measured it."""
    e = d["eval"].get(f"{label}, no ramp-in")
    if e is None:
        return []
    base = d["eval"][label]
    moved = [t for t, r in e["per_target"].items() if r["successes"] != base["per_target"][t]["successes"]]
    return ["## Run as it was trained: no ramp-in",
            f"{wilson(e)} on the same seeds with `--ramp-s 0`. By default the runtime's safety filter ramps the "
            "motion limit in over the first 0.3 s of an episode (`vla-lite run --ramp-s`), a gentle start for a "
            "real arm; the scripted demonstrations and the in-process DAgger rollouts this student learnt from "
            "move from the first step, so a ramped start leaves it in states it never saw. Tasks that change: "
            + ", ".join(f"{t} {base['per_target'][t]['successes']}/{base['per_target'][t]['episodes']} -> "
                        f"{e['per_target'][t]['successes']}/{e['per_target'][t]['episodes']}" for t in moved)
            + ". Training with the runtime's own filter in the loop is the fix; until then, evaluate with "
            "`--ramp-s 0` to see the policy as trained."]


def continued_run(d: dict) -> dict | None:
    """The results (results/metaworld_chain_*.json) of the run `d` continued, found by the --out it was made with."""
    for path in sorted(RESULTS.glob("metaworld_chain_*.json")):
        r = json.loads(path.read_text())
        if r.get("command", "").endswith(f"--out {d.get('continued_from')}"):
            return r
    return None


def recipe(d: dict) -> str:
    """How a Meta-World chain's student was made, in a sentence."""
    s = d["settings"]
    rounds = f"{s['rounds']} DAgger rounds of {s['dagger_episodes']} rollouts"
    if s.get("allocation") == "failures":
        rounds += " (from the second on, spread over the tasks by their failure rate in the round before)"
    first = (f"size `{d['size'].split()[0]}`: {s['demos']} expert demonstrations per task, teacher "
             f"`{s['teacher']}`, student `{s['student']}` distilled for {s['student_steps']:,} steps, then {rounds} "
             f"of {s['round_steps']:,} steps each against the scripted experts")
    m = s.get("more")
    ramped = s.get("demo_workers")  # the full size: ramp-in from its first demonstration
    if ramped:
        first += ", demonstrations and rollouts moving through the runtime's safety filter, its 0.3 s ramp-in included"
    if not m:
        return first
    if not m["demos"] and not m["rounds"]:  # a longer fit on what the runs before recorded
        before = continued_run(d)
        return (f"continuing the `{d['size'].rsplit(' + ', 1)[0]}` run ({recipe(before) if before else 'not found'})"
                f" on everything it and the runs before it recorded: {m['steps']:,} more steps at learning rate "
                f"{m['lr']:g}, no new DAgger rounds, on the expert's labels alone (teacher weight {m['alpha']:g})")
    if not m["demos"]:  # DAgger rounds only
        twice = d["size"].count("+ more") > 1
        return (f"continuing the `{d['size'].rsplit(' + ', 1)[0]}` run (a run of {first}"
                f"{', continued once' if twice else ''}) on everything it recorded: {m['rounds']} more DAgger rounds "
                f"of {m['dagger_episodes']} rollouts and {m['round_steps']:,} steps each at learning rate {m['lr']:g}, "
                "spread over the tasks by their failure rate"
                + ("" if ramped else ", whose rollouts (and so the states the expert labels) now move through the "
                   "runtime's own safety filter, its 0.3 s ramp-in included"))
    return (f"continuing a run of {first}: its student warm-started on {m['demos']} more demonstrations per task on "
            f"new placements ({s['demos'] + m['demos']} in all), its teacher (weight {m['alpha']}) and its DAgger "
            f"rollouts, then {m['rounds']} more rounds of {m['dagger_episodes']} rollouts, each round's spread over the "
            "tasks by their failure rate in the round before")


def size_plot(names=("tabletop_chain_ci", "tabletop_chain_full")) -> str:
    """Success against parameters, every model of the tabletop chains (results/tabletop_size.png)."""
    points = []  # (label, parameters, success rate, Wilson interval)
    for name in names:
        d = load(name)
        if d is None:
            continue
        for role, key in (("teacher", "teacher onnx fp32"), ("student", "student onnx fp32")):
            e, step = d["eval"].get(key), d["steps"].get(role) or {}
            if e and step.get("parameters"):
                points.append((f"{role} {d['settings'][role]} ({d['size']})", step["parameters"], e["success_rate"],
                               e["wilson95"]))
    if not points:
        return missing("python benchmarks/tabletop_chain.py --size ci")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, params, rate, (lo, hi) in points:
        ax.errorbar(params, 100 * rate, yerr=[[100 * (rate - lo)], [100 * (hi - rate)]], fmt="o", capsize=3)
        ax.annotate(label, (params, 100 * rate), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (policy graph, without the text encoder)")
    ax.set_ylabel("closed-loop success, % (Wilson 95 %)")
    ax.set_ylim(0, 100)
    ax.set_title("tabletop: success against model size")
    fig.tight_layout()
    fig.savefig(RESULTS / "tabletop_size.png", dpi=110)
    plt.close(fig)
    rows = [[label, f"{params:,}", pct(rate)] for label, params, rate, _ in points]
    return table(["model", "parameters", "success (onnx fp32)"], rows) + "\n\n![size](results/tabletop_size.png)"


def instruction_noise() -> str:
    d = load("tabletop_instruction_noise")
    if d is None:
        return missing("vla-lite distill ... --instruction-noise 0.04 (see tabletop_instruction_noise.json)")
    rows = [[noise, *(wilson(r[split]) for split in ("train", "paraphrase", "heldout")),
             f"{100 * (r['train']['success_rate'] - r['paraphrase']['success_rate']):.1f} points"]
            for noise, r in d["noise"].items()]
    return (table(["noise std per dim", "training phrasings", "unseen rewordings", "+ colour synonyms",
                   "rewording gap"], rows) +
            "\n\nNoise on the instruction embedding in training narrows the rewording gap but costs success on "
            "the training phrasings, so the default stays 0; grounding in the trained phrasings (the table above: "
            "`paraphrases` against `paraphrases, ungrounded`) closes it without that cost. " + f"`{d['command']}`.")


def language_probe() -> str:
    d = load("language_probe")
    if d is None:
        return missing("python benchmarks/language_probe.py")
    rows = [[name, split, f"{r['nearest_centroid']}/{r['n']}", f"{r['ridge_probe']}/{r['n']}"]
            for name, splits in d["encoders"].items() for split, r in splits.items()]
    o = d["synonym_token_oracle_fp32"]
    return (table(["encoder", "phrasings", "nearest centroid", "ridge probe"], rows) +
            f"\n\nThe encoder alone, no policy: can the colour an instruction names be read from its embedding, "
            f"fitted on the training phrasings only? Chance is 1 in 6. Unseen rewordings (`paraphrase`) are read "
            f"perfectly; unseen colour synonyms (`heldout`: \"poke the crimson brick\") barely above chance. "
            f"Reading MiniLM's own token state of the synonym against the colour words' (what attention over "
            f"tokens could at best use) gets {o['best']}/{o['n']} at its best layer (by layer: "
            f"{o['correct_by_layer']}): MiniLM does not place these colour names near their colours, so no policy "
            f"conditioned on it can follow them. `{d['command']}`.")


def datasets() -> str:
    a, b = load("datasets"), load("datasets_opencv412")
    if a is None:
        return missing("python benchmarks/bench_datasets.py")
    d = a["dataset"]
    cv = a["opencv"]
    rows = [["PyAV reader (vla-lite), frames/s", f"{a['pyav']['frames_per_s']:,.0f} (av {a['pyav']['av']})"],
            ["OpenCV `VideoCapture`, frames/s", f"{cv['frames_per_s']:,.0f}" if "frames_per_s" in cv else
             "decodes no frame"],
            ["train's loader, rows/s", f"{a['loader']['rows_per_s']:,.0f}"]]
    header = ["figure", f"OpenCV {cv['opencv']} venv"]
    if b is not None:
        header.append(f"OpenCV {b['opencv']['opencv']} venv (LeRobot's pin)")
        cv4 = b["opencv"]
        for row, value in zip(rows, [f"{b['pyav']['frames_per_s']:,.0f} (av {b['pyav']['av']})",
                                     f"{cv4['frames_per_s']:,.0f}" if "frames_per_s" in cv4 else
                                     "opens the file, decodes no frame", f"{b['loader']['rows_per_s']:,.0f}"]):
            row.append(value)
    ratio = f" PyAV reads at {a['pyav_over_opencv']:.2f}x OpenCV 5's raw sequential read: it keeps LeRobot's " \
        "timestamp bookkeeping per row, OpenCV reads straight through." if "pyav_over_opencv" in a else ""
    return (f"A LeRobot v3.0 dataset written as LeRobot records by default ({d['codec']}): {d['episodes']} episodes x "
            f"{d['frames_per_episode']} frames at {d['size_px']} px, read in the same run by vla-lite's dataset reader "
            "(PyAV, seeking by timestamp as LeRobot does) and frame by frame with `cv2.VideoCapture`, then rows "
            "through `train`'s loader (screening with a decoded frame per camera, statistics, preprocessing; "
            "text encoder stubbed).\n\n" + table(header, rows) + f"\n\n{ratio} Each frame converted through a fresh "
            "swscale context (plain `to_ndarray(format=\"rgb24\")`) ran at ~650 frames/s; the reader reuses one "
            "reformatter (same pixels). `python benchmarks/bench_datasets.py` (under OpenCV 4.12: "
            "`--out benchmarks/results/datasets_opencv412.json`).")


def main() -> int:
    parts = [
        "# vla-lite performance report",
        "Generated by `python benchmarks/report.py` from `benchmarks/results/*.json`; every figure below was "
        "measured on a shared 2-core x86 machine with no GPU (Python 3.11), beside its baseline in the same run.",
        "## Firmware bridge", bridge(),
        "## Control loop", loop(),
        "Rates are 25, 50 and 100 Hz rather than 30, 50 and 100: the demo bundle's policy was trained at 25 Hz, and "
        "`vla-lite run` refuses a rate that is not a whole multiple of the bundle's (`--rate 30` exits with an error "
        "that lists 25, 50, 75 ...), because between policy steps it interpolates commands.",
        "## Datasets: LeRobot's AV1 videos and train's loader", datasets(),
        "## Simulated tabletop: the offline chain through the runtime",
        chain("tabletop_chain_ci", "python benchmarks/tabletop_chain.py --size SIZE"),
        "![chain](results/tabletop_chain_ci.png)",
        "### At full size",
        chain("tabletop_chain_full", "python benchmarks/tabletop_chain.py --size full"),
        "![chain](results/tabletop_chain_full.png)",
        "### Success against model size", size_plot(),
        "### Unseen instructions: noise on the embedding in training", instruction_noise(),
        "### What the instruction encoder carries", language_probe(),
        "## Meta-World", metaworld_sim(),
        "### Scripted experts on MT50, as demonstrations are recorded", metaworld_experts(),
        "### MT50 under LeRobot's protocol (issue 21)", mt50(),
        "### A smaller instruction encoder", text_vocab(),
        "### Loop at Meta-World's native 80 Hz",
        loop("loop_metaworld", "python benchmarks/bench_loop.py --port metaworld:drawer-close-v3 --model "
             "mt10-student-int8 --rates 80 --duration 20 --load --out "
             "benchmarks/results/loop_metaworld.json",
             "`vla-lite run --port metaworld:drawer-close-v3` with the committed MT10 student (onnx int8, two cameras), "
             "real time, the Sawyer stepped by the controller behind the pty"),
        "### The chain on Meta-World",
        "Two cameras (`--views front,side`): the reach goal floats in free space and has no shadow in the fast "
        "render, so one view places it only on a ray; a second view 140° round fixes it in 3-D.",
        chain("metaworld_chain_ci", "python benchmarks/metaworld_chain.py --size SIZE"),
        per_task("metaworld_chain_ci"),
        "### MT10",
        chain("metaworld_chain_mid", chain_command("metaworld_chain_mid")),
        per_task("metaworld_chain_mid"),
        "### MT10, the same student given more",
        chain("metaworld_chain_more", chain_command("metaworld_chain_more")),
        per_task("metaworld_chain_more"),
        "### MT10, trained with the runtime's ramp-in",
        chain("metaworld_chain_ramp", chain_command("metaworld_chain_ramp")),
        per_task("metaworld_chain_ramp"),
        "### MT10 from scratch, through the runtime's ramp-in",
        "What the three runs above taught, in one run from scratch: every demonstration and rollout moves through "
        "the runtime's safety filter (ramp-in included), the student trains about three times longer per row "
        "(on three of the tasks, 3,000 -> 9,000 steps on the same demonstrations took in-process success from 58 to "
        "77 %, where 96 px instead of 64 px, at equal steps, did no better), and its DAgger rounds go where it fails.",
        chain("metaworld_chain_full", chain_command("metaworld_chain_full")),
        per_task("metaworld_chain_full"),
        "### MT10 from scratch, given DAgger rounds",
        "The run above continued with DAgger rounds only, at a lower learning rate (`MORE[\"full\"]` in "
        "`benchmarks/metaworld_chain.py`), as the ramp-in run above continued its own.",
        chain("metaworld_chain_fullmore", chain_command("metaworld_chain_fullmore")),
        per_task("metaworld_chain_fullmore"),
        "### MT10, the same student fitted longer",
        "The student above had trained on less than one pass over each late round's rollouts (3,000 steps of 32 "
        "rows per round, 325k rows in all). Continued for 30,000 more steps on everything recorded, no new rounds, "
        "on the expert's labels alone (`MORE[\"full + more\"]`): this is the committed bundle.",
        chain("metaworld_chain_polish", chain_command("metaworld_chain_polish")),
        per_task("metaworld_chain_polish"),
        "### Where the committed student still misses",
        "For the four tasks it does not always solve, the closest the task's moving point (reach: the gripper's "
        "centre; peg-insert-side: the peg's head; the others: the object) came to its goal. A miss whose object "
        "never moved failed to grasp or touch it; the others show how far off the policy placed it.",
        misses(),
        "### The committed MT10 bundle", published_bundle(PUBLISHED_FROM),
        "### Published figures, for context",
        table(["policy", "Meta-World MT50 success"], [list(p) for p in PUBLISHED]),
        "Their protocol: MT50, as reported by the SmolVLA paper (LeRobot's Meta-World evaluation). Ours: the tasks "
        "listed above, 80 Hz end-effector-delta control through the full runtime (bundle, backend, serial link, "
        "safety filter), seeds that choose placements never used in training, two 64 px cameras, one "
        f"policy trained from scratch on {published_demos()} scripted demonstrations per task and DAgger rollouts "
        "labelled by the scripted experts (no pretrained vision or language backbone beyond MiniLM). MT10 is ten of MT50's fifty tasks, so our MT10 figure and "
        "their MT50 figures are context, not a ranking.",
        "## SO-101 through the Feetech bus",
        "The chain on the SO-101 world (`vla_lite/worlds/so101`): every evaluation is `vla-lite eval --suite so101` "
        "(or `so101-sim:TASK,...`), the runtime's ServoArm sync-reading and sync-writing six virtual STS3215 servos "
        "on a pty, counts <-> rad through the world's calibration, two 64 px cameras (`front`, `wrist`).",
        chain("so101_chain_ci", "python benchmarks/so101_chain.py --size ci --out runs/so101_ci; python "
              "benchmarks/so101_publish.py runs/so101_ci --results so101_chain_ci"),
        per_task("so101_chain_ci", "SO-101"),
        "![chain](results/so101_chain_ci.png)" if load("so101_chain_ci") else "",
        "### At full size",
        chain("so101_chain_full", "python benchmarks/so101_chain.py --size full --out runs/so101_full --reuse; python "
              "benchmarks/so101_publish.py runs/so101_full --results so101_chain_full --bundle"),
        per_task("so101_chain_full", "SO-101"),
        "![chain](results/so101_chain_full.png)" if load("so101_chain_full") else "",
    ]
    (HERE / "README.md").write_text("\n\n".join(part for part in parts if part) + "\n")
    print(f"wrote {HERE / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
