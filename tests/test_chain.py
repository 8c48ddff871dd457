"""The small end-to-end chains, as CI runs them: demonstrations -> teacher -> distilled student with a DAgger round ->
ONNX/TFLite fp32/int8 (parity-gated) -> closed-loop evaluation through the runtime, against the scripted expert and
a hold-still policy on the same seeds; in the simulated tabletop and on Meta-World tasks. `VLA_LITE_FULL=1` runs the
full-size chains instead (hours)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("litert_torch")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~11 min on an idle 2-core machine (teacher ~5, student with its DAgger round ~4)
def test_small_chain_learns_the_task_well_above_a_hold_still_policy(tmp_path):
    size = "full" if os.environ.get("VLA_LITE_FULL") else "ci"
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tabletop_chain.py"), "--size", size,
                          "--out", str(tmp_path / "chain")], capture_output=True, text=True, timeout=3600)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    r = json.loads((tmp_path / "chain" / "chain.json").read_text())
    assert (tmp_path / "chain" / "chain.png").stat().st_size > 10_000
    zero = r["baselines"]["zero_action"]["success_rate"]
    expert = r["baselines"]["expert"]["success_rate"]
    assert zero == 0.0 and expert >= 0.95
    ev = r["eval"]
    # Every student graph is either exported and evaluated, or refused by its parity gate, loudly, and then
    # only int8 may be refused (fp32 must match PyTorch to 1e-4).
    for key, why in r["refused"].items():
        assert key.endswith("int8") and "PARITY GATE FAILED" in why and key.replace(" ", "-") in why, (key, why)
    assert "onnx int8" not in r["refused"]  # ONNX keeps its most sensitive layers in fp32 rather than fail
    expected = {"teacher onnx fp32"} | {f"student {k}" for k in r["steps"]["export_student"] if k not in r["refused"]}
    assert expected <= set(ev) and {"student onnx fp32", "student onnx int8", "student tflite fp32"} <= expected
    for label in expected:
        e = ev[label]
        # Non-trivial: a Wilson 95 % lower bound above the hold-still baseline, and at least a fifth of episodes.
        assert e["success_rate"] >= 0.2 and e["wilson95"][0] > zero, (label, e)
    # Unseen rewordings are grounded in a trained phrasing of their meaning (the bundle lists them) unless told not to.
    para, raw = ev["student onnx int8, paraphrases"], ev["student onnx int8, paraphrases, ungrounded"]
    assert para["instruction_grounding"] is True and raw["instruction_grounding"] is False
    assert para["success_rate"] >= 0.2 and para["wilson95"][0] > zero, para
    student = r["steps"]["student"]
    assert student["parameters"] * 2 < r["steps"]["teacher"]["parameters"]  # the student is the smaller model
    for key, step in r["steps"]["export_student"].items():
        for graph, fig in step.get("parity", {}).items():
            assert fig["max_abs"] <= (1e-4 if graph.endswith("fp32") else 0.1), (graph, fig)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the chain, then its --more-from continuation: ~12 min on an idle 2-core machine
@pytest.mark.skipif(importlib.util.find_spec("metaworld") is None,
                    reason="Meta-World is not installed (CI installs it)")
def test_small_metaworld_chain_beats_a_zero_action_policy_through_the_runtime(tmp_path):
    size = "full" if os.environ.get("VLA_LITE_FULL") else "ci"
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "metaworld_chain.py"), "--size", size,
                          "--out", str(tmp_path / "mw")], capture_output=True, text=True, timeout=3 * 3600)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    r = json.loads((tmp_path / "mw" / "metaworld.json").read_text())
    zero = {task: z["success_rate"] for task, z in r["zero_action"].items()}
    assert set(zero) == set(r["tasks"]) and max(zero.values()) == 0.0
    rounds = r["steps"]["student"]["dagger"]
    assert len(rounds) == r["settings"]["rounds"] + 1 and rounds[0]["episodes"] > 0  # DAgger against the experts
    for key, why in r["refused"].items():  # only int8 may be refused by its parity gate, and loudly
        assert key.endswith("int8") and "PARITY GATE FAILED" in why, (key, why)
    assert {"teacher onnx fp32", "student onnx fp32"} <= set(r["eval"])
    for label, e in r["eval"].items():
        assert set(e["per_target"]) == set(r["tasks"]), label  # every task evaluated, through the runtime
        # Well above the zero-action policy on the same seeds: a Wilson 95 % lower bound above it.
        assert e["success_rate"] >= 0.25 and e["wilson95"][0] > 0.0, (label, e)
    # --more-from: the same student warm-started on new demonstrations and its run's DAgger rows, given more
    # rounds on new placements, exported and evaluated on the same held-out seeds.
    more = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "metaworld_chain.py"), "--more-from",
                           str(tmp_path / "mw"), "--out", str(tmp_path / "more")], capture_output=True, text=True,
                          timeout=3 * 3600)
    assert more.returncode == 0, (more.stdout[-2000:], more.stderr[-4000:])
    m = json.loads((tmp_path / "more" / "metaworld.json").read_text())
    assert m["continued_from"] == str(tmp_path / "mw") and m["tasks"] == r["tasks"]
    demos = m["steps"]["demos"]
    assert demos["episodes"] == m["settings"]["more"]["demos"] * len(r["tasks"])
    before = {ep["seed"] for ep in _episode_infos(tmp_path / "mw" / "demos")}
    assert before.isdisjoint(ep["seed"] for ep in _episode_infos(tmp_path / "more" / "demos"))
    from vla_lite.export.checkpoint import load_checkpoint

    first, cont = (load_checkpoint(p / "student.safetensors") for p in (tmp_path / "mw", tmp_path / "more"))
    extra = m["settings"]["more"]
    assert cont.train["step"] == first.train["step"] + extra["steps"] + extra["rounds"] * extra["round_steps"]
    new_rounds = [d for d in cont.train["dagger"] if "episodes" in d and "from" not in d]
    assert len(new_rounds) == extra["rounds"] and new_rounds[0]["round"] == r["settings"]["rounds"]
    # The new rounds' rollouts moved as `vla-lite run` moves: through its safety filter, ramp-in included.
    # (Round k's rollouts are in dagger/round_{k + 1}: a continuation numbers its rounds after its run's.)
    new_infos = [ep for d in new_rounds for ep in _episode_infos(tmp_path / "more" / "dagger" / f"round_{d['round'] + 1}")]
    assert len(new_infos) == sum(d["episodes"] for d in new_rounds) and {ep["ramp_s"] for ep in new_infos} == {0.3}
    # Both runs evaluate the graphs both exported on the same seeds; a graph that only one run has was refused by
    # the other run's parity gate (int8 only, said in its "refused"), never silently missing.
    both = set(m["eval"]) & set(r["eval"])
    assert {"teacher onnx fp32", "student onnx fp32"} <= both
    for label in set(m["eval"]) ^ set(r["eval"]):
        lacking = r if label in m["eval"] else m
        assert label.startswith("student ") and label.removeprefix("student ") in lacking["refused"], (
            label, lacking["refused"])
    for label in both:
        assert m["eval"][label]["episodes"] == r["eval"][label]["episodes"], label
        assert m["eval"][label]["seeds"] == r["eval"][label]["seeds"], label
    for label, e in m["eval"].items():
        assert e["success_rate"] >= 0.25 and e["wilson95"][0] > 0.0, (label, e)


def _episode_infos(folder: Path) -> list[dict]:
    return [json.loads(p.read_text())["info"] for p in sorted(folder.glob("episode_*/meta.json"))]


def test_a_continuation_trains_on_every_run_it_came_from(tmp_path):
    """--more-from a run that itself continued one (vla_lite.export.runs): its lineage, oldest first, found where
    the runs sit even when recorded from another directory; demos*/ and DAgger rounds of each; a loop of
    continuations is refused."""
    from vla_lite.export import runs as chain

    def run(name, came_from=None, folders=()):
        d = tmp_path / name
        d.mkdir()
        (d / "metaworld.json").write_text(json.dumps({"size": "mid", **({"continued_from": came_from}
                                                                        if came_from else {})}))
        for f in folders:
            (d / f / "episode_000001").mkdir(parents=True)
            (d / f / "episode_000001" / "meta.json").write_text(json.dumps({"info": {"source": "x"}}))
        return d

    first = run("mw_mid", folders=("demos", "demos2", "dagger/round_1"))
    second = run("mw_more", "elsewhere/runs/mw_mid", folders=("dagger/round_2",))  # recorded from another cwd
    (second / "demos").mkdir()  # empty: no episodes, not trained on
    third = run("mw_ramp", str(second))
    assert [d for d, _ in chain.lineage(third)] == [first, second, third]
    assert chain.training_folders(chain.lineage(third)) == (
        [str(first / "demos"), str(first / "demos2")], [str(first / "dagger/round_1"), str(second / "dagger/round_2")])
    (first / "metaworld.json").write_text(json.dumps({"size": "mid", "continued_from": str(third)}))
    with pytest.raises(ValueError, match="a loop"):
        chain.lineage(third)
