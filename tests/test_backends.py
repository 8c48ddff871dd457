"""Inference backends on a really exported bundle: parity between runtimes and precisions, graphs that disagree
with the manifest are refused, input checking, session settings, and `vla-lite bench`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bundle_factory import D, E, S, T, run_all, tiny_bundle  # noqa: F401  (tiny_bundle is a fixture)
from vla_lite.backends import TensorSpec, open_backend
from vla_lite.backends.tflite_backend import match_inputs
from vla_lite.bundle import BackendUnavailable, GraphMismatch, load_bundle
from vla_lite.cli import main as cli_main

PAIRS = [("onnx", "fp32"), ("onnx", "int8"), ("tflite", "fp32"), ("tflite", "int8")]
# int8 vs fp32 gate for this tiny random policy (outputs span about ±0.7): measured worst case 0.026 (ONNX QDQ
# U8S8) and 0.037 (TFLite static int8), cosine >= 0.9996 over 32 inputs. The gate leaves ~2x headroom.
INT8_MAX_ABS = 0.08
INT8_MIN_COSINE = 0.999


def cosine(a, b) -> float:
    return float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def outputs(tiny_bundle):
    """(runtime, precision) -> (N, T, D) outputs over the shared sample inputs."""
    bundle = load_bundle(tiny_bundle.path)
    return {pair: run_all(open_backend(bundle, *pair), tiny_bundle.inputs) for pair in PAIRS}


def test_fp32_graphs_match_torch_and_each_other(tiny_bundle, outputs):
    assert tiny_bundle.reference.shape == (32, T, D)
    for runtime in ("onnx", "tflite"):
        np.testing.assert_allclose(outputs[(runtime, "fp32")], tiny_bundle.reference, atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(outputs[("tflite", "fp32")], outputs[("onnx", "fp32")], atol=1e-4, rtol=1e-3)
    assert np.abs(tiny_bundle.reference).max() > 0.1  # the comparison is not between near-zero outputs


@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
def test_int8_close_to_fp32(outputs, runtime):
    fp32, int8 = outputs[(runtime, "fp32")], outputs[(runtime, "int8")]
    max_abs, cos = float(np.abs(int8 - fp32).max()), cosine(int8, fp32)
    print(f"{runtime} int8 vs fp32 over {len(fp32)} inputs: max_abs {max_abs:.4f}, cosine {cos:.6f}")
    assert max_abs <= INT8_MAX_ABS and cos >= INT8_MIN_COSINE
    assert max_abs > 0  # it really is a different (quantised) graph


def test_tflite_int8_graph_takes_and_gives_integers(tiny_bundle):
    bundle = load_bundle(tiny_bundle.path)
    int8 = open_backend(bundle, "tflite", "int8", warmup=0)
    assert set(int8.quantised_io) == {"image_front", "image_wrist", "state", "instruction", "actions"}
    assert open_backend(bundle, "tflite", "fp32", warmup=0).quantised_io == []
    out = int8.infer(*tiny_bundle.inputs[0])
    assert out.dtype == np.float32 and out.shape == (T, D) and np.abs(out).max() < 5  # dequantised, not raw int8


def test_policy_interface(tiny_bundle):
    bundle = load_bundle(tiny_bundle.path)
    policy = open_backend(bundle, "onnx", "fp32")
    assert policy.name == "onnx-fp32"
    assert policy.input_spec["image_wrist"] == TensorSpec("image_wrist", (1, 24, 24, 3))
    assert policy.input_spec["state"].shape == (1, S) and policy.input_spec["instruction"].shape == (1, E)
    assert policy.output_spec == TensorSpec("actions", (1, T, D))
    images, state, instruction = tiny_bundle.inputs[5]
    first = policy.infer(images, state, instruction)
    # Graph input names as keys, and arrays without the batch axis, give the same answer.
    same = policy.infer({f"image_{c}": a[0] for c, a in images.items()}, state[0], instruction[0])
    np.testing.assert_array_equal(first, same)
    first[:] = 99.0  # the caller owns the returned array
    np.testing.assert_array_equal(policy.infer(images, state, instruction), same)


@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
def test_bad_observations_raise_naming_the_input(tiny_bundle, runtime):
    policy = open_backend(load_bundle(tiny_bundle.path), runtime, "fp32", warmup=0)
    images, state, instruction = tiny_bundle.inputs[0]
    with pytest.raises(ValueError, match=r"input 'image_front' has shape \(1, 24, 24, 3\); expected \(1, 32, 32, 3\)"):
        policy.infer({**images, "front": images["wrist"]}, state, instruction)
    with pytest.raises(ValueError, match=r"input 'image_front' has dtype uint8; expected float32"):
        policy.infer({**images, "front": (images["front"] * 255).astype(np.uint8)}, state, instruction)
    with pytest.raises(ValueError, match=r"no image for camera 'wrist'"):
        policy.infer({"front": images["front"]}, state, instruction)
    with pytest.raises(ValueError, match=r"unknown camera\(s\) \['side'\]"):
        policy.infer({**images, "side": images["wrist"]}, state, instruction)
    with pytest.raises(ValueError, match=r"camera 'front' given twice"):
        policy.infer({**images, "image_front": images["front"]}, state, instruction)
    with pytest.raises(ValueError, match=rf"input 'state' has shape \(1, {S + 1}\); expected \(1, {S}\)"):
        policy.infer(images, np.zeros((1, S + 1), np.float32), instruction)
    with pytest.raises(ValueError, match=rf"input 'instruction' has shape \(2, {E}\)"):
        policy.infer(images, state, np.zeros((2, E), np.float32))


# --- graphs that disagree with the manifest are refused -----------------------------------------------------

def _camera(field, value, index=0):
    def edit(m):
        m["cameras"][index][field] = value
    return edit


MISMATCHES = {
    "image height": (_camera("height", 28), r"'image_front'.* has shape \[1, 32, 32, 3\]; the manifest implies "
                                            r"\[1, 28, 32, 3\]"),
    "camera renamed": (_camera("name", "side", 1), r"image_wrist"),
    "embedding dim": (lambda m: m["instruction"].update(embedding_dim=8), r"'instruction'.* has shape \[1, 16\]; "
                                                                         r"the manifest implies \[1, 8\]"),
    "chunk length": (lambda m: m["chunk"].update(length=5), r"has shape \[1, 4, 4\]; the manifest implies "
                                                           r"\[1, 5, 4\]"),
    "extra camera": (lambda m: m["cameras"].append(dict(m["cameras"][0], name="top")), r"image_top"),
}


@pytest.mark.parametrize("case", list(MISMATCHES))
@pytest.mark.parametrize("pair", [("onnx", "fp32"), ("tflite", "int8")])
def test_graph_disagreeing_with_manifest_is_refused(tiny_bundle, tmp_path, case, pair):
    edit, expected = MISMATCHES[case]
    bundle = load_bundle(tiny_bundle.variant(tmp_path, edit=edit))
    with pytest.raises(GraphMismatch, match=expected):
        open_backend(bundle, *pair)


def test_onnx_graph_whose_output_is_misnamed_is_refused(tiny_bundle, tmp_path):
    import onnx

    model = onnx.load_from_string(tiny_bundle.members["policy/fp32.onnx"])
    old = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = ["action" if o == old else o for o in node.output]
    model.graph.output[0].name = "action"
    members = {**tiny_bundle.members, "policy/fp32.onnx": model.SerializeToString()}
    bundle = load_bundle(tiny_bundle.variant(tmp_path, members=members))
    with pytest.raises(GraphMismatch, match=r"graph outputs are \['action'\]; expected exactly \['actions'\]"):
        open_backend(bundle, "onnx", "fp32")


@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
def test_a_file_that_is_not_a_graph_is_refused(tiny_bundle, tmp_path, runtime):
    members = {**tiny_bundle.members, f"policy/fp32.{runtime}": b"not a model at all" * 10}
    bundle = load_bundle(tiny_bundle.variant(tmp_path, members=members))
    with pytest.raises(GraphMismatch, match=rf"{runtime}-fp32: .* cannot load the policy graph"):
        open_backend(bundle, runtime, "fp32")


def test_tflite_inputs_without_names_are_paired_by_shape(tiny_bundle, tmp_path):
    members = {**tiny_bundle.members, "policy/fp32.tflite": tiny_bundle.positional_tflite}
    policy = open_backend(load_bundle(tiny_bundle.variant(tmp_path, members=members)), "tflite", "fp32")
    assert policy.input_map == {"image_front": "args_0", "image_wrist": "args_1", "state": "args_2",
                                "instruction": "args_3"}
    np.testing.assert_allclose(run_all(policy, tiny_bundle.inputs), tiny_bundle.reference, atol=1e-4, rtol=1e-3)


def test_match_inputs_refuses_ambiguous_or_foreign_names():
    want = {"image_front": TensorSpec("image_front", (1, 8, 8, 3)), "state": TensorSpec("state", (1, 4)),
            "instruction": TensorSpec("instruction", (1, 4))}
    # Decorated names are matched by name even when shapes repeat.
    got = match_inputs("t", {"serving_default_state:0": (1, 4), "serving_default_instruction:0": (1, 4),
                             "serving_default_image_front:0": (1, 8, 8, 3)}, want)
    assert got == {"image_front": "serving_default_image_front:0", "state": "serving_default_state:0",
                   "instruction": "serving_default_instruction:0"}
    # Lost names with a repeated shape cannot be paired safely.
    with pytest.raises(GraphMismatch, match=r"cannot match manifest input 'state' \[1, 4\]"):
        match_inputs("t", {"args_0": (1, 8, 8, 3), "args_1": (1, 4), "args_2": (1, 4)}, want)
    # A contract name the manifest does not know is a mismatch, never re-paired by shape.
    with pytest.raises(GraphMismatch, match=r"graph input\(s\) \['image_side'\] match no manifest input"):
        match_inputs("t", {"image_side": (1, 8, 8, 3), "state": (1, 4), "instruction": (1, 4)}, want)
    with pytest.raises(GraphMismatch, match=r"graph has 2 inputs"):
        match_inputs("t", {"state": (1, 4), "instruction": (1, 4)}, want)


# --- opening -----------------------------------------------------------------------------------------------

def test_open_backend_argument_errors(tiny_bundle, tmp_path):
    bundle = load_bundle(tiny_bundle.path)
    with pytest.raises(ValueError, match=r"runtime must be one of \['onnx', 'tflite'\], got 'tensorrt'"):
        open_backend(bundle, "tensorrt")
    with pytest.raises(ValueError, match=r"precision must be one of \['fp32', 'int8'\], got 'fp16'"):
        open_backend(bundle, "onnx", "fp16")
    for threads in (0, 1.5, True):
        with pytest.raises(ValueError, match=rf"threads must be an integer in \[1, 256\], got {threads!r}"):
            open_backend(bundle, "onnx", threads=threads)

    def onnx_fp32_only(m):
        m["graphs"] = {"onnx": {"fp32": "policy/fp32.onnx"}}
        m["parity"] = {}
    members = {"policy/fp32.onnx": tiny_bundle.members["policy/fp32.onnx"]}
    small = load_bundle(tiny_bundle.variant(tmp_path, edit=onnx_fp32_only, members=members))
    assert small.available() == [("onnx", "fp32")]
    with pytest.raises(BackendUnavailable, match=r"has no tflite int8 policy graph; available: \['onnx-fp32'\]"):
        open_backend(small, "tflite", "int8")


def test_onnx_session_settings(tiny_bundle):
    policy = open_backend(load_bundle(tiny_bundle.path), "onnx", "int8", threads=2)
    opts = policy.session.get_session_options()
    assert opts.intra_op_num_threads == 2 and opts.inter_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert str(opts.execution_mode).endswith("ORT_SEQUENTIAL")
    assert str(opts.graph_optimization_level).endswith("ORT_ENABLE_ALL")
    assert policy.session.get_providers() == ["CPUExecutionProvider"]


def test_warmup_count_is_checked(tiny_bundle):
    policy = open_backend(load_bundle(tiny_bundle.path), "tflite", "fp32", warmup=0)
    with pytest.raises(ValueError, match=r"warm-up count must be >= 0, got -1"):
        policy.warmup(-1)


# --- vla-lite bench ------------------------------------------------------------------------------------------

def test_bench_json(tiny_bundle, tmp_path, capsys):
    out_file = tmp_path / "bench.json"
    assert cli_main(["bench", str(tiny_bundle.path), "--json", "--iters", "7", "--warmup", "1",
                     "--out", str(out_file)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert json.loads(out_file.read_text()) == report
    assert [(r["runtime"], r["precision"]) for r in report["results"]] == PAIRS
    for r in report["results"]:
        assert r["n"] == 7 and 0 < r["min_ms"] <= r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert r["min_ms"] <= r["mean_ms"] <= r["max_ms"]
    assert report["threads"] == 1 and "onnxruntime" in report["machine"]


def test_bench_table_and_filters(tiny_bundle, capsys):
    assert cli_main(["bench", str(tiny_bundle.path), "--iters", "3", "--warmup", "0", "--runtime", "tflite",
                     "--precision", "int8"]) == 0
    out = capsys.readouterr().out
    assert "p50 ms" in out and "tflite-int8" in out and "onnx-fp32" not in out and "tflite-fp32" not in out
    assert cli_main(["bench", str(tiny_bundle.path), "--iters", "0"]) == 2
    assert "--iters must be >= 1, got 0" in capsys.readouterr().err


def test_latency_stats():
    from vla_lite.bench import latency_stats

    s = latency_stats([0.001] * 99 + [0.011])
    assert s["p50_ms"] == pytest.approx(1.0) and s["max_ms"] == pytest.approx(11.0) and s["n"] == 100
    assert s["mean_ms"] == pytest.approx(1.1) and 1.0 < s["p99_ms"] <= 11.0
    with pytest.raises(ValueError, match="no latency samples"):
        latency_stats([])
