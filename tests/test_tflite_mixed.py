"""Accuracy-aware dynamic-range int8 for TFLite (export/tflite_mixed.py): a tiny PyTorch model converted by
litert-torch, quantised by ai-edge-quantizer with and without ops kept in float, run by LiteRT."""

import numpy as np
import pytest

pytest.importorskip("litert_torch")
pytest.importorskip("ai_edge_quantizer")
pytest.importorskip("ai_edge_litert")
torch = pytest.importorskip("torch")

from vla_lite.export.tflite_mixed import quantize, tflite_ops, weight_types, within_budget  # noqa: E402

IMAGE = (1, 8, 8, 3)  # NHWC, as the policy graphs take cameras


class Net(torch.nn.Module):
    """Conv -> Linear "sensitive" -> Linear "head". Every row of the sensitive layer's weight holds one outlier
    (20 against ~0.05), so its per-channel int8 step (20/127) rounds the other weights to 0 or +-0.16: that layer
    alone in int8 ruins the output, the other two barely move it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.sensitive = torch.nn.Linear(256, 64)
        self.head = torch.nn.Linear(64, 8)
        with torch.no_grad():
            w = torch.randn(64, 256) * 0.05
            w[torch.arange(64), torch.randint(0, 256, (64,))] = 20.0
            self.sensitive.weight.copy_(w)

    def forward(self, image):
        x = torch.relu(self.conv(image.permute(0, 3, 1, 2))).flatten(1)  # (1, 256)
        return {"actions": self.head(torch.relu(self.sensitive(x)))}  # (1, 8)


@pytest.fixture(scope="module")
def model():
    return Net().eval()


@pytest.fixture(scope="module")
def fp32(model) -> bytes:
    from vla_lite.export.graphs import tflite_fp32

    return tflite_fp32(model, {"image": np.zeros(IMAGE, np.float32)})


def images(n: int, seed: int) -> list[np.ndarray]:
    return [np.random.default_rng(seed + i).uniform(size=IMAGE).astype(np.float32) for i in range(n)]


def litert(blob: bytes, xs: list[np.ndarray]) -> np.ndarray:
    """(N, 1, 8) outputs of the graph run by LiteRT, one thread."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=blob, num_threads=1).get_signature_runner()
    return np.stack([runner(image=x)["actions"] for x in xs])


def reference(model, xs: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return np.stack([model(torch.from_numpy(x))["actions"].numpy() for x in xs])


def int8_tensors(blob: bytes) -> int:
    """int8 tensors LiteRT sees in the graph (its own view, independent of tflite_mixed's parser)."""
    from ai_edge_litert.interpreter import Interpreter

    return sum(d["dtype"] == np.int8 for d in Interpreter(model_content=blob).get_tensor_details())


def test_every_listed_op_can_be_kept_in_float_and_the_others_become_int8(fp32):
    from ai_edge_litert.interpreter import Interpreter

    ops = tflite_ops(fp32)
    # Named by output tensor: the converter's module path, or the signature's output for the last op.
    assert len(ops) == 3 and sum("sensitive" in n for n in ops) == 1 and sum("Conv2d" in n for n in ops) == 1
    assert set(weight_types(fp32).values()) == {"FLOAT32"} and int8_tensors(fp32) == 0
    everything = quantize(fp32)
    assert set(weight_types(everything).values()) == {"INT8"} and int8_tensors(everything) == 3
    assert len(everything) < 0.4 * len(fp32)  # the weights are almost all of the bytes
    it = Interpreter(model_content=everything)  # dynamic range: the graph still takes and gives float32
    assert {d["dtype"] for d in it.get_input_details() + it.get_output_details()} == {np.float32}
    for name in ops:
        kept = weight_types(quantize(fp32, (name,)))
        assert kept == {n: "FLOAT32" if n == name else "INT8" for n in ops}
    none = quantize(fp32, tuple(ops))
    assert int8_tensors(none) == 0
    xs = images(4, seed=0)
    np.testing.assert_allclose(litert(none, xs), litert(fp32, xs), rtol=0, atol=1e-6)


def test_op_names_that_are_not_in_the_graph_are_refused_by_name(fp32):
    with pytest.raises(ValueError, match=r"\['no_such_op'\] are not quantisable ops"):
        quantize(fp32, ("no_such_op",))


def test_static_int8_refuses_ops_kept_in_float():
    from vla_lite.export.graphs import tflite_int8

    with pytest.raises(ValueError, match=r"static int8 TFLite cannot keep ops in float.*'x'"):
        tflite_int8(None, {}, [], "static", exclude=("x",))


def test_the_search_keeps_the_sensitive_op_in_float_and_stops_at_the_budget(model, fp32):
    calibration, held_out = images(16, seed=100), images(16, seed=200)
    ref = reference(model, calibration)

    def error(blob: bytes) -> float:  # calibration worst case, measured by running LiteRT
        return float(np.abs(litert(blob, calibration) - ref).max())

    sensitive = next(n for n in tflite_ops(fp32) if "sensitive" in n)
    all_int8, without_sensitive = error(quantize(fp32)), error(quantize(fp32, (sensitive,)))
    assert without_sensitive < all_int8 / 3  # the model does what its docstring says (measured: 0.04 vs 0.15)

    loose = within_budget(fp32, error, budget=2 * all_int8, max_float=1.0)
    assert loose.kept_float == [] and loose.calibration_max_abs == pytest.approx(all_int8)
    # Between the two: one op kept suffices, and the search stops there although two more could be kept.
    budget = (without_sensitive + all_int8) / 2
    r = within_budget(fp32, error, budget=budget, max_float=1.0)
    assert r.kept_float == [sensitive] and r.calibration_max_abs <= budget
    assert weight_types(r.blob)[sensitive] == "FLOAT32" and int8_tensors(r.blob) == 2
    # Held-out inputs: the mixed graph stays within 2 % of the output range of PyTorch (measured 0.6 %), and well
    # inside what the fully int8 graph does (measured 3 %).
    held_ref = reference(model, held_out)
    mixed, full = (float(np.abs(litert(b, held_out) - held_ref).max()) for b in (r.blob, quantize(fp32)))
    assert mixed < 0.02 * np.abs(held_ref).max() and mixed < full / 2


@pytest.mark.parametrize("fraction", [0.0, 1.5])
def test_a_float_fraction_outside_0_1_is_refused_by_value(fp32, fraction):
    with pytest.raises(ValueError, match=r"max_float must be a fraction .* got"):
        within_budget(fp32, lambda blob: 1.0, budget=0.01, max_float=fraction)
