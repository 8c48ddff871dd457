"""The SO-101 chain as CI runs it (benchmarks/so101_chain.py --size ci): scripted-expert demonstrations of two tasks
-> teacher -> distilled student with a DAgger round -> ONNX fp32/int8 (parity-gated) -> `vla-lite eval` through the
runtime's ServoArm over six virtual STS3215 servos on a pty, on held-out placements, against the scripted expert and
a zero-action policy on the same seeds. `VLA_LITE_FULL=1` runs the full size instead (all 12 tasks, hours)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("mujoco")

ROOT = Path(__file__).resolve().parents[1]


def _episode_infos(folder: Path) -> list[dict]:
    return [json.loads(p.read_text())["info"] for p in sorted(folder.glob("episode_*/meta.json"))]


@pytest.mark.slow
@pytest.mark.skipif(not (os.environ.get("VLA_LITE_SO101_CHAIN") or os.environ.get("VLA_LITE_FULL")),
                    reason="not in CI's time budget yet: no ci size measured to beat zero action within it "
                           "(VLA_LITE_SO101_CHAIN=1 runs it)")
# A first, smaller ci size (teacher 800 steps, student 600 + 300) took 30 min under nice 19 on the shared 2-core
# machine at load 6-7 (training 22 min of it) and solved 0/16 through the bus; the current size trains ~3x longer.
@pytest.mark.timeout(3600)
def test_small_so101_chain_beats_a_zero_action_policy_through_the_feetech_bus(tmp_path):
    size = "full" if os.environ.get("VLA_LITE_FULL") else "ci"
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "so101_chain.py"), "--size", size,
                          "--out", str(tmp_path / "so101")], capture_output=True, text=True, timeout=6 * 3600)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    check_chain(tmp_path / "so101")


def check_chain(run: Path) -> None:
    """What a finished chain in `run` must show (also runnable on a chain run by hand)."""
    r = json.loads((run / "chain.json").read_text())
    assert (run / "chain.png").stat().st_size > 10_000
    tasks = r["tasks"]
    zero, expert = r["baselines"]["zero action"], r["baselines"]["expert"]
    assert zero["success_rate"] == 0.0 and expert["success_rate"] >= 0.95, (zero, expert)
    assert set(zero["per_target"]) == set(expert["per_target"]) == set(tasks)
    # Evaluation placements were never trained on: demonstrations, calibration episodes and DAgger rollouts all
    # used other seeds.
    first, last = r["eval"]["teacher onnx fp32"]["seeds"]
    folders = [run / "demos", run / "calib", *sorted((run / "dagger").glob("round_*"))]
    used = {ep["seed"] for d in folders for ep in _episode_infos(d)}
    assert len(used) > 0 and used.isdisjoint(range(first, last + 1))
    student = r["steps"]["student"]
    # the student is the smaller model (ci: nano under micro, 0.48 M and 0.94 M); full: >= 10x fewer parameters
    assert student["parameters"] * (10 if r["size"] == "full" else 1) < r["steps"]["teacher"]["parameters"]
    rounds = student["dagger"]
    assert len(rounds) == r["settings"]["rounds"] + 1 and rounds[0]["episodes"] > 0  # DAgger against the expert
    for key, why in r["refused"].items():  # only int8 may be refused by its parity gate, and loudly
        assert key.endswith("int8") and "PARITY GATE FAILED" in why, (key, why)
    for key, step in r["steps"]["export_student"].items():
        for graph, fig in step.get("parity", {}).items():
            assert fig["max_abs"] <= (1e-4 if graph.endswith("fp32") else 0.1), (graph, fig)
    assert {"teacher onnx fp32", "student onnx fp32"} <= set(r["eval"])
    for label, e in r["eval"].items():
        # through the servo bus world on the chain's tasks, each reported on its own
        assert e["suite"] == r["suite"] and r["suite"].startswith("so101"), (label, e["suite"])
        assert set(e["per_target"]) == set(tasks) and e["episodes"] == r["settings"]["eval_episodes"] * len(tasks)
        # Beats the zero-action policy on the same seeds: a Wilson 95 % lower bound above its success rate.
        assert e["wilson95"][0] > zero["success_rate"], (label, e)
    if "student onnx int8" in r["eval"]:
        para = r["eval"]["student onnx int8, paraphrases"]
        assert para["instructions"] == "paraphrase" and para["instruction_grounding"] is True, para


def test_a_manifest_from_so101_recordings_names_units_a_bundle_accepts():
    """The SO-101 recorder's units, and the "fraction" it wrote before, become units a bundle manifest accepts (an
    export of an SO-101 student failed on state.units[5] 'fraction')."""
    from vla_lite.bundle.manifest import MODE_UNITS, STATE_UNITS
    from vla_lite.export.bundle_manifest import bundle_units
    from vla_lite.worlds.so101.demos import UNITS

    for units in (list(UNITS), ["rad"] * 5 + ["fraction"]):
        converted = bundle_units(units, 6)
        assert converted == ["rad"] * 5 + ["1"], converted
        assert set(converted) <= set(STATE_UNITS) and set(converted) <= set(MODE_UNITS["joint_position"])
    assert bundle_units(None, 3) == ["1"] * 3  # data that declared no units

