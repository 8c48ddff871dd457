"""The shipped demo model is what the README says (issue 16, defect 6): it lists the phrasings it was trained on, so
`vla-lite run --port sim --instruction "make me a coffee"` is refused in one line; its provenance names no
build-machine path; it is at most 10 MB; and a bundle without trained phrasings is run with the check said to be
off, once, at start."""

import re
import subprocess
import sys

from test_grounding import _demo_with_known

from vla_lite.bundle import load_bundle
from vla_lite.export.bundle_manifest import portable
from vla_lite.models import DEMO_BUNDLE

ABSOLUTE = re.compile(r"^(/|~|[A-Za-z]:[\\/])")


def strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def test_the_demo_lists_its_phrasings_names_no_machine_path_and_fits_10_mb():
    m = load_bundle(DEMO_BUNDLE).manifest
    assert len(m.instruction.known) >= 8 and "touch the red block" in m.instruction.known
    assert [s for s in strings(dict(m.provenance)) if ABSOLUTE.match(s)] == []
    assert DEMO_BUNDLE.stat().st_size <= 10_000_000


def test_an_instruction_unlike_the_trained_ones_is_refused_by_the_demo():
    out = subprocess.run([sys.executable, "-m", "vla_lite", "run", "--port", "sim", "--instruction",
                          "make me a coffee"], capture_output=True, text=True, timeout=300)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "'make me a coffee' is unlike every instruction this model was trained on" in lines[0]


def test_a_bundle_without_trained_phrasings_runs_with_the_check_said_off_once(tmp_path):
    bare = _demo_with_known(tmp_path, None)
    out = subprocess.run([sys.executable, "-m", "vla_lite", "run", "--port", "sim", "--model", str(bare),
                          "--duration", "1", "--instruction", "make me a coffee"], capture_output=True, text=True,
                         timeout=300)
    said = [line for line in out.stderr.splitlines() if line.startswith("vla-lite run: instruction grounding is OFF")]
    assert out.returncode == 0 and len(said) == 1, out.stderr
    assert "lists no trained phrasings (instruction.known)" in said[0] and "not refused" in said[0]


def test_provenance_paths_are_made_portable_at_any_depth():
    prov = {"data": ["/tmp/p3/demos", "runs/demos"], "teacher": "/home/me/runs/teacher.safetensors",
            "dagger": {"dir": "C:\\runs\\dagger", "rounds": [{"data": "~/runs/round_1/"}]}, "trained": True}
    out = portable(prov)
    assert out["data"][0].startswith("demos@sha256:") and out["data"][1] == "runs/demos"
    assert out["teacher"].startswith("teacher.safetensors@sha256:") and out["trained"] is True
    assert out["dagger"]["dir"].startswith("dagger@sha256:")
    assert out["dagger"]["rounds"][0]["data"].startswith("round_1@sha256:")
    assert portable({"data": ["/elsewhere/demos"]})["data"][0] != out["data"][0]  # same name, other folder
    assert portable(out) == out and not [s for s in strings(out) if ABSOLUTE.match(s)]
