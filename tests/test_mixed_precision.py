"""Accuracy-aware int8 (export/mixed_precision.py): the search logic, with stand-in quantise/error functions
whose error is known per layer, and the ONNX node list on a real exported graph."""

from pathlib import Path

import pytest

from vla_lite.export.mixed_precision import keep_sensitive_in_float, onnx_nodes, solo_ranking

# Stand-in: the graph is "int8 except the excluded layers"; its error is the sum of its int8 layers' errors.
LAYER_ERROR = {"head": 0.06, "proj": 0.03, "qkv": 0.01, "mlp": 0.005}


def quantize(exclude):
    return ",".join(sorted(set(LAYER_ERROR) - set(exclude))).encode()


def error(blob):
    return sum(LAYER_ERROR[n] for n in blob.decode().split(",") if n)


def ranking():
    return solo_ranking(list(LAYER_ERROR), quantize, error)


def test_within_budget_nothing_is_kept_in_float_and_ranking_is_not_computed():
    def no_ranking():
        raise AssertionError("ranking computed although the graph was within budget")

    r = keep_sensitive_in_float(quantize, error, no_ranking, budget=0.2)
    assert r.kept_float == [] and r.calibration_max_abs == pytest.approx(0.105)


def test_the_most_sensitive_layers_are_kept_until_the_budget_is_met():
    assert [n for n, _ in ranking()] == ["head", "proj", "qkv", "mlp"]
    r = keep_sensitive_in_float(quantize, error, ranking, budget=0.02, max_float=3)
    assert r.kept_float == ["head", "proj"] and r.calibration_max_abs == pytest.approx(0.015)
    assert r.blob == b"mlp,qkv"


def test_by_default_at_most_a_third_of_the_layers_stay_in_float():
    r = keep_sensitive_in_float(quantize, error, ranking, budget=0.02)
    assert r.kept_float == ["head"] and r.calibration_max_abs == pytest.approx(0.045)


def test_when_no_mix_meets_the_budget_the_best_found_is_returned_for_the_gate_to_judge():
    r = keep_sensitive_in_float(quantize, error, ranking, budget=0.001, max_float=2)
    assert r.kept_float == ["head", "proj"] and r.calibration_max_abs == pytest.approx(0.015)


def mlp_graph(torch, n_in: int, hidden: int, n_out: int) -> bytes:
    """fp32 ONNX of Linear-ReLU-Linear with the policy graphs' contract: input "state", output "actions"."""
    import numpy as np

    from vla_lite.export.graphs import onnx_fp32

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_out))

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, state):
            return {"actions": self.net(state)}

    return onnx_fp32(Wrap().eval(), {"state": np.zeros((1, n_in), np.float32)})


def test_onnx_nodes_are_the_weighted_matmuls_and_gemms():
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")

    import numpy as np

    blob = mlp_graph(torch, 8, 16, 4)
    nodes = onnx_nodes(blob, "dynamic")
    ops = {n.name: n.op_type for n in onnx.load_from_string(blob).graph.node}
    assert len(nodes) == 2 and all(ops[n] in ("MatMul", "Gemm") for n in nodes)
    # Every listed node can really be kept in float (quantize_dynamic renames a Gemm before matching exclusions).
    import onnxruntime as ort

    from vla_lite.export.graphs import onnx_int8

    def integer_nodes(q: bytes) -> int:
        return sum(n.op_type == "MatMulInteger" for n in onnx.load_from_string(q).graph.node)

    x = {"state": np.random.default_rng(0).normal(size=(1, 8)).astype(np.float32)}

    def run(b: bytes):
        return ort.InferenceSession(b, providers=["CPUExecutionProvider"]).run(None, x)[0]

    assert integer_nodes(onnx_int8(blob, [], "dynamic", ())) == 2
    for n in nodes:
        assert integer_nodes(onnx_int8(blob, [], "dynamic", (n,))) == 1
    kept = onnx_int8(blob, [], "dynamic", tuple(nodes))
    assert integer_nodes(kept) == 0
    np.testing.assert_allclose(run(kept), run(blob), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("budget", [0.0, -0.01, 0.2, float("nan")])
def test_an_int8_budget_outside_the_parity_gate_is_refused_by_value(budget, tmp_path):
    from vla_lite.export.export_bundle import export

    with pytest.raises(ValueError, match=r"--int8-budget must be in \(0, 0.1\].*got"):
        export(tmp_path / "missing.safetensors", tmp_path / "out.vla", calib=tmp_path, int8_budget=budget)


def conv_graph(torch) -> bytes:
    """fp32 ONNX of Conv -> Linear plus a learned (1, 8, 128) table added after it: a conv weight, a Gemm/MatMul
    weight and a float tensor that is no layer's weight."""
    import numpy as np

    from vla_lite.export.graphs import onnx_fp32

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 64, 3, stride=2, padding=1)
            self.lin = torch.nn.Linear(64, 128)
            self.table = torch.nn.Parameter(torch.randn(1, 8, 128))

        def forward(self, image):  # (1, 8, 8, 3) NHWC
            x = torch.relu(self.conv(image.permute(0, 3, 1, 2))).flatten(2).transpose(1, 2)  # (1, 16, 64)
            return {"actions": self.lin(x)[:, :8] + self.table}

    return onnx_fp32(Net().eval(), {"image": np.zeros((1, 8, 8, 3), np.float32)})


def test_float_weights_left_by_int8_are_stored_as_fp16_or_chosen_int8_and_folded_to_fp32_at_load(tmp_path):
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto

    from vla_lite.export.graphs import (STORE_MIN_ELEMENTS, compact_float_weights, float_layer_weights, onnx_int8,
                                        onnx_int8_float_weights)

    blob = conv_graph(torch)
    x = {"image": np.random.default_rng(0).uniform(size=(1, 8, 8, 3)).astype(np.float32)}

    def run(b: bytes, optimized: Path | None = None):
        so = ort.SessionOptions()
        if optimized is not None:
            so.optimized_model_filepath = str(optimized)
        return ort.InferenceSession(b, so, providers=["CPUExecutionProvider"]).run(None, x)[0]

    def big(b: bytes, dtype) -> list[str]:
        return sorted(i.name for i in onnx.load_from_string(b).graph.initializer
                      if i.data_type == dtype and np.prod(i.dims) >= STORE_MIN_ELEMENTS)

    layers = float_layer_weights(blob)  # the conv and the linear weight, largest first; not the table
    assert len(layers) == 2 and len(big(blob, TensorProto.FLOAT)) == 3
    half = compact_float_weights(blob)  # by default every float tensor as fp16
    assert big(half, TensorProto.FLOAT) == [] and len(big(half, TensorProto.FLOAT16)) == 3
    small = compact_float_weights(blob, int8_names=layers)  # the layer weights as int8, the table fp16
    assert len(big(small, TensorProto.INT8)) == 2 and big(small, TensorProto.FLOAT16)[0].startswith("table")
    assert len(small) < 0.45 * len(blob) < len(half)
    ref = run(blob)  # fp16: to 5e-4 relative; per-channel int8: to a few 1e-3 of the output range, not equal
    np.testing.assert_allclose(run(half), ref, rtol=0, atol=2e-3 * np.abs(ref).max())
    np.testing.assert_allclose(run(small), ref, rtol=0, atol=0.02 * np.abs(ref).max())
    assert not np.array_equal(run(small), ref) and not np.array_equal(run(small), run(half))
    with pytest.raises(ValueError, match=r"int8 storage asked for \['table'\]"):
        compact_float_weights(blob, int8_names=["table"])
    # onnxruntime folds the restoring Cast/Mul nodes into fp32 constants when the session starts.
    run(small, tmp_path / "optimized.onnx")
    ops = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    assert "Cast" not in ops and "Mul" not in ops and "Conv" in ops
    # int8 with every layer kept in float leaves both weights float: stored as asked, computing what `small` does.
    nodes = [n.name for n in onnx.load_from_string(blob).graph.node if n.op_type in ("Gemm", "MatMul")]
    assert onnx_int8_float_weights(blob, [], "dynamic", tuple(nodes)) == layers
    kept = onnx_int8(blob, [], "dynamic", tuple(nodes), int8_stored=tuple(layers))
    assert big(kept, TensorProto.FLOAT) == [] and len(big(kept, TensorProto.INT8)) == 2
    np.testing.assert_allclose(run(kept), run(small), rtol=0, atol=1e-6)


def test_int8_storage_takes_the_weights_whose_rounding_stays_within_the_bound():
    from vla_lite.export.mixed_precision import store_int8_within

    cost = {"conv": 0.001, "mlp": 0.05, "head": 0.002}  # stand-in: calibration error each adds when stored int8
    built = []

    def build(stored):
        built.append(stored)
        return ",".join(stored).encode()

    def error(blob):
        return 0.01 + sum(cost[n] for n in blob.decode().split(",") if n)

    blob, stored, err = store_int8_within(build, error, ["mlp", "conv", "head"], bound=0.02)
    assert stored == ["conv", "head"] and blob == b"conv,head" and err == pytest.approx(0.013)
    assert built == [(), ("mlp",), ("conv",), ("conv", "head")]  # one trial per candidate, in the given order
    assert store_int8_within(build, error, ["mlp"], bound=0.005)[1:] == ([], 0.01)  # nothing fits: as float


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5, float("nan")])
def test_an_int8_float_fraction_outside_0_1_is_refused_by_value(fraction, tmp_path):
    from vla_lite.export.export_bundle import export

    with pytest.raises(ValueError, match=r"--int8-max-float must be a fraction .* in \(0, 1\], got"):
        export(tmp_path / "missing.safetensors", tmp_path / "out.vla", calib=tmp_path, int8_max_float=fraction)
