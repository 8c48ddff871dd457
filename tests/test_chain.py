"""The small end-to-end chain, as CI runs it: demonstrations -> teacher -> distilled student with a DAgger round ->
ONNX/TFLite fp32/int8 (parity-gated) -> closed-loop evaluation through the runtime, against the scripted expert and
a hold-still policy on the same seeds. `VLA_LITE_FULL=1` runs the full-size chain instead (hours)."""

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
    for label in ("teacher onnx fp32", "student onnx fp32", "student onnx int8", "student tflite int8"):
        e = ev[label]
        # Non-trivial: a Wilson 95 % lower bound above the hold-still baseline, and at least a fifth of episodes.
        assert e["success_rate"] >= 0.2 and e["wilson95"][0] > zero, (label, e)
    student = r["steps"]["student"]
    assert student["parameters"] * 2 < r["steps"]["teacher"]["parameters"]  # the student is the smaller model
    for key, fig in json.loads(json.dumps(r["steps"]["export_student"]["parity"])).items():
        assert fig["max_abs"] <= (1e-4 if key.endswith("fp32") else 0.1)
