"""The committed MT10 student (a shipped model, vla_lite/data/models/, made by `benchmarks/metaworld_chain.py --size full` and two
`--more-from` continuations): it loads and verifies, fits the 10 MB a robot-side bundle may take, is the two-camera
end-effector-delta policy its page describes, knows every MT10 task's trained phrasings, and solves tasks through
the runtime on placements no part of training used."""

import importlib.util

import pytest

from vla_lite.bundle import load_bundle
from vla_lite.models import model_path
from vla_lite.worlds.metaworld.tasks import MT10, task_instructions

BUNDLE = model_path("mt10-student-int8")
FRESH_SEED = 3_000_000  # past demonstrations (0..), DAgger (500,000..), calibration (800,000..), report (1,000,000..)


def test_the_committed_bundle_verifies_and_is_the_mt10_policy():
    assert BUNDLE.stat().st_size <= 10_000_000  # the 10 MB, instruction encoder included
    bundle = load_bundle(BUNDLE)  # checks the schema and every member's SHA-256
    m = bundle.manifest
    assert m.trained and ("onnx", "int8") in bundle.available()
    assert [c.name for c in m.cameras] == ["front", "side"] and {(c.height, c.width) for c in m.cameras} == {(64, 64)}
    assert m.action.mode == "ee_delta" and m.action.dim == 4 and m.rate_hz == 80.0
    known = set(m.instruction.known)
    for task in MT10:
        assert set(task_instructions(task, "train")) <= known, task
    assert m.parity["onnx.int8"].max_abs <= 0.1 and m.parity["onnx.int8"].cosine >= 0.99


@pytest.mark.skipif(importlib.util.find_spec("metaworld") is None, reason="Meta-World is not installed")
@pytest.mark.parametrize("task", ["drawer-close-v3", "button-press-topdown-v3"])
def test_the_committed_bundle_solves_a_task_on_fresh_placements_through_the_runtime(task):
    from vla_lite.evaluate import evaluate

    r = evaluate(BUNDLE, episodes=3, seed=FRESH_SEED, suite=f"metaworld:{task}", precision="int8")
    assert r["backend"] == "onnx-int8" and r["per_target"][task]["episodes"] == 3
    assert r["successes"] == 3, r["outcomes"]


@pytest.mark.skipif(importlib.util.find_spec("metaworld") is None, reason="Meta-World is not installed")
def test_the_bundle_trained_through_the_runtimes_ramp_in_opens_the_door_as_vla_lite_run_moves():
    from vla_lite.evaluate import evaluate

    # Its demonstrations and DAgger rounds moved through the runtime's safety filter, 0.3 s ramp-in included: an
    # earlier bundle, whose training never met the ramp-in, opened this door 0/8 with it (8/8 with --ramp-s 0).
    r = evaluate(BUNDLE, episodes=3, seed=FRESH_SEED, suite="metaworld:door-open-v3", precision="int8")
    assert r["ramp_s"] == 0.3 and r["successes"] >= 2, r["outcomes"]  # the default: what `vla-lite run` does
    assert evaluate(BUNDLE, episodes=1, seed=FRESH_SEED, suite="metaworld:drawer-close-v3", precision="int8",
                    ramp_s=0.0)["ramp_s"] == 0.0


def test_eval_refuses_a_negative_ramp_in_by_name():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "vla_lite", "eval", "--episodes", "1", "--ramp-s", "-1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "ramp_s" in out.stderr and "-1" in out.stderr, out.stderr[-500:]
