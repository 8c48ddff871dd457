"""Instruction grounding (vla_lite.text.grounding) with the demo bundle's real MiniLM encoder: unseen rewordings land
on a trained phrasing of their own meaning, unrelated requests are refused by name, the manifest carries the
phrasings, and `vla-lite run` refuses an ungroundable first instruction before the arm moves."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from vla_lite.bundle import load_bundle, write_bundle
from vla_lite.bundle.errors import ManifestInvalid
from vla_lite.models import DEMO_BUNDLE
from vla_lite.worlds.tabletop.instructions import COLOURS, all_instructions
from vla_lite.text import InstructionGrounding, TextEncoder, UnknownInstruction
from vla_lite.text.grounding import MIN_SIMILARITY

TRAINED = [t for texts in all_instructions("train").values() for t in texts]


@pytest.fixture(scope="module")
def encoder():
    return TextEncoder.from_bundle(load_bundle(DEMO_BUNDLE), threads=1)


@pytest.fixture(scope="module")
def grounding(encoder):
    return InstructionGrounding(encoder.encode, TRAINED)


def _colour(text: str) -> str:
    return next(c for c in COLOURS if c in text.split())


def test_every_unseen_rewording_lands_on_a_trained_phrasing_of_its_own_colour(grounding, encoder):
    rewordings = [t for texts in all_instructions("paraphrase").values() for t in texts]
    assert len(rewordings) == 36 and not set(rewordings) & set(TRAINED)
    for text in rewordings:
        g = grounding.ground(text)
        assert g.nearest in TRAINED and _colour(g.nearest) == _colour(text), (text, g.nearest)
        assert MIN_SIMILARITY <= g.similarity < 0.999, (text, g.similarity)
        np.testing.assert_array_equal(g.embedding, encoder.encode(g.nearest))  # exactly what training used
    same = grounding.ground("touch the red block")
    assert same.nearest == "touch the red block" and same.similarity > 0.999
    np.testing.assert_array_equal(grounding("go to the blue one"), grounding.ground("go to the blue one").embedding)


@pytest.mark.parametrize("text", ["make coffee", "what time is it", "dance"])
def test_an_instruction_unlike_every_trained_one_is_refused_naming_the_nearest(grounding, text):
    with pytest.raises(UnknownInstruction, match=rf"{text!r} is unlike every instruction.*nearest, '.+', has cosine "
                                                 rf"0\.\d\d < 0\.45.*--no-instruction-grounding"):
        grounding.ground(text)
    assert issubclass(UnknownInstruction, ValueError)  # the CLI's clear-error path (exit 2)


def test_bad_grounding_arguments_are_refused(encoder):
    for known in ([], [""], ["ok", 3]):
        with pytest.raises(ValueError, match="known must be a non-empty list"):
            InstructionGrounding(encoder.encode, known)
    for bad in (1.5, -1.0, float("nan")):
        with pytest.raises(ValueError, match="min_similarity must be a cosine"):
            InstructionGrounding(encoder.encode, TRAINED, bad)
    with pytest.raises(ValueError, match="zero or non-finite"):
        InstructionGrounding(lambda t: np.zeros(384, np.float32), TRAINED)


def _demo_with_known(tmp_path, known):
    """The demo bundle with `known` as its instruction.known (None: without one, as older exports are)."""
    bundle = load_bundle(DEMO_BUNDLE)
    manifest = bundle.manifest.to_dict()
    if known is None:
        manifest["instruction"].pop("known", None)
    else:
        manifest["instruction"]["known"] = known
    members = {name: bundle.read(name) for name in bundle.manifest.members}
    tmp_path.mkdir(parents=True, exist_ok=True)
    return write_bundle(tmp_path / "demo-known.vla", manifest, members)


def test_the_manifest_carries_known_phrasings_and_refuses_bad_ones(tmp_path):
    path = _demo_with_known(tmp_path, TRAINED)
    m = load_bundle(path).manifest
    assert m.instruction.known == tuple(TRAINED) and m.to_dict()["instruction"]["known"] == TRAINED
    bare = load_bundle(_demo_with_known(tmp_path / "bare", None)).manifest
    assert "known" not in bare.to_dict()["instruction"] and not bare.instruction.known  # absent stays absent
    for bad, match in ((["a", "a"], r"instruction.known repeats \['a'\]"), ([], "instruction.known must be a "
                                                                                "non-empty list"),
                       (["ok", 7], r"instruction.known\[1\] must be a non-empty string")):
        with pytest.raises(ManifestInvalid, match=match):
            _demo_with_known(tmp_path / json.dumps(bad).replace('"', "").replace(" ", ""), bad)


def test_run_refuses_an_ungroundable_instruction_and_accepts_a_rewording(tmp_path):
    path = _demo_with_known(tmp_path, TRAINED)
    base = [sys.executable, "-m", "vla_lite", "run", "--port", "sim", "--model", str(path), "--episodes", "1",
            "--episode-timeout", "2", "--quiet"]
    out = subprocess.run(base + ["--instruction", "make coffee"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unlike every instruction this model was trained on" in out.stderr, out.stderr
    ok = subprocess.run(base + ["--instruction", "go to the red one"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "grounded in the 48 phrasings" in ok.stderr + ok.stdout, ok.stderr
    raw = subprocess.run(base + ["--instruction", "make coffee", "--no-instruction-grounding"], capture_output=True,
                         text=True, timeout=120)
    assert raw.returncode == 0, raw.stderr  # passed through as encoded, on the user's say-so
