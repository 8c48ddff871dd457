"""PyTorch policy -> the four bundle graphs: ONNX fp32/int8 (onnxruntime) and TFLite fp32/int8 (LiteRT).

- ONNX fp32: `torch.onnx.export(dynamo=True, external_data=False)`, batch 1, static shapes, named inputs.
- ONNX int8: onnxruntime static QDQ, U8S8 (unsigned activations, signed per-channel weights), Conv/MatMul/Gemm
  only (shared/NOTES.md: S8S8 was 2.7x slower on x86; quantising LayerNorm/Softmax pushed error to 0.2-0.5),
  calibrated on real observations; or dynamic (int8 weights, per-inference activation ranges).
- Both int8 ONNX modes store the float weights they leave (Convs in dynamic mode, layers kept in fp32) as int8
  per output channel (other float tensors as fp16) behind constant nodes onnxruntime folds at session start:
  a quarter of the bytes, and inference stays fp32 on weights within 1/254 of each channel's largest (the parity
  gate measures the result; the layers kept in float are kept for their activations).
- TFLite fp32: litert-torch (no TensorFlow), from keyword inputs so the signature keeps the contract names.
- TFLite int8: dynamic-range (int8 weights, float activations; the default: full static int8 quantises the
  LayerNorms, softmax and residual path too and missed the 0.1 parity gate on the tabletop policies), or
  `mode="static"`: PT2E static quantisation through litert-torch's quantizer (inputs/outputs become int8; the
  runtime (de)quantises with the graph's scales).

`inputs` everywhere: dict graph-input name -> numpy float32 array of batch 1 (docs/BUNDLE.md contract).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np


def _torch_kwargs(sample: dict) -> dict:
    import torch

    return {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in sample.items()}


def onnx_fp32(model, example: dict) -> bytes:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fp32.onnx"
        torch.onnx.export(model, (), str(path), kwargs=_torch_kwargs(example), input_names=list(example),
                          output_names=["actions"], dynamo=True, external_data=False, verbose=False)
        return strip_onnx(path.read_bytes())


def strip_onnx(blob: bytes) -> bytes:
    """Drop what the robot never needs: per-node metadata (torch's exporter stores Python stack traces there,
    with the workstation's file paths: ~15 % of a small policy graph) and doc strings."""
    import onnx

    model = onnx.load_from_string(blob)
    for node in model.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    model.graph.doc_string = ""
    return model.SerializeToString()


ONNX_INT8_MODES = ("static", "dynamic")


def onnx_int8(fp32: bytes, calibration: list[dict], mode: str = "static", exclude: tuple[str, ...] = ()) -> bytes:
    """mode "static": QDQ with calibrated activation ranges; "dynamic": int8 weights for MatMul/Gemm, activation
    ranges computed per inference (more accurate on small, sensitive policies; Convs stay float). `exclude`:
    node names kept in fp32 (export/mixed_precision.py picks them)."""

    if mode not in ONNX_INT8_MODES:
        raise ValueError(f"onnx int8 mode must be one of {list(ONNX_INT8_MODES)}, got {mode!r}")
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # onnxruntime.quantization advises pre-processing on the root logger, per call
    try:
        return _onnx_int8(fp32, calibration, mode, exclude)
    finally:
        logging.disable(previous)


STORE_MIN_ELEMENTS = 1024  # smaller float tensors (biases, norms, scales) are not worth a restoring node each


def _weight_axes(graph) -> dict[str, int]:
    """initializer name -> its output-channel axis, for the weights of Conv (W: Cout, Cin, kh, kw), MatMul (B: K,
    N) and Gemm (B: K, N, or N, K with transB)."""
    axes = {}
    for node in graph.node:
        if node.op_type not in ("Conv", "MatMul", "Gemm") or len(node.input) < 2:
            continue
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        axes.setdefault(node.input[1], 0 if node.op_type == "Conv" or trans_b else -1)
    return axes


def compact_float_weights(blob: bytes, min_elements: int = STORE_MIN_ELEMENTS) -> bytes:
    """Store the float32 initializers of at least `min_elements` values in fewer bytes, restored by nodes placed
    first in the graph that onnxruntime constant-folds when the session starts (no per-inference cost; inference
    stays fp32):
    - layer weights (Conv/MatMul/Gemm) as int8, symmetric per output channel, restored by Cast + Mul(scale): the
      layers int8 leaves in float are there for their *activations* (per-inference ranges), not their weights;
      per-channel weight rounding is at most 1/254 of the channel's largest weight;
    - any other float tensor (position embeddings, queries) as float16, restored by a Cast (relative 5e-4)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(blob)
    graph = model.graph
    inputs = {i.name for i in graph.input}
    axes = _weight_axes(graph)
    restore = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or init.name in inputs:
            continue
        value, name = numpy_helper.to_array(init), init.name
        if value.size < min_elements or not np.all(np.isfinite(value)):
            continue
        if name in axes and value.ndim >= 2:
            axis = axes[name] % value.ndim
            reduce = tuple(i for i in range(value.ndim) if i != axis)
            peak = np.abs(value).max(axis=reduce, keepdims=True)
            scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)  # broadcasts along `axis`
            codes = np.clip(np.round(value / scale), -127, 127).astype(np.int8)
            init.CopyFrom(numpy_helper.from_array(codes, name + "_int8"))
            graph.initializer.append(numpy_helper.from_array(scale, name + "_scale"))
            restore += [helper.make_node("Cast", [name + "_int8"], [name + "_cast"], to=TensorProto.FLOAT,
                                         name=name + "_int8_to_fp32"),
                        helper.make_node("Mul", [name + "_cast", name + "_scale"], [name], name=name + "_rescale")]
        elif np.all(np.abs(value) < 60000):  # fp16 overflows beyond 65504
            init.CopyFrom(numpy_helper.from_array(value.astype(np.float16), name + "_fp16"))
            restore.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT,
                                            name=name + "_fp16_to_fp32"))
    nodes = restore + list(graph.node)  # restoring constants first keeps the graph topologically sorted
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString()


def _onnx_int8(fp32: bytes, calibration: list[dict], mode: str, exclude: tuple[str, ...]) -> bytes:
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quant_pre_process,
                                          quantize_static)

    if mode == "dynamic":
        return compact_float_weights(_dynamic_matmuls(fp32, exclude))
    if not calibration:
        raise ValueError("static int8 ONNX needs calibration observations; got none")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calibration)

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = (Path(tmp) / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        src.write_bytes(fp32)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)  # the new exporter's output needs this
        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        op_types_to_quantize=["Conv", "MatMul", "Gemm"], nodes_to_exclude=list(exclude))
        return compact_float_weights(strip_onnx(out.read_bytes()))


def _dynamic_matmuls(blob: bytes, exclude: tuple[str, ...]) -> bytes:
    """int8 per-channel weights for every MatMul/Gemm with a constant weight not in `exclude`; activations
    quantised per inference."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        model = onnx.load_from_string(blob)
        del model.graph.value_info[:]  # stale shape annotations break quantize_dynamic (shared/NOTES.md)
        onnx.save(model, str(src))
        # Dynamic quantisation first rewrites each Gemm as MatMul + Add, naming the MatMul "<gemm>_MatMul", and
        # matches nodes_to_exclude against the rewritten graph: a Gemm excluded by its own name would be
        # quantised anyway.
        gemms = {n.name for n in model.graph.node if n.op_type == "Gemm"}
        exclude = tuple(exclude) + tuple(f"{n}_MatMul" for n in exclude if n in gemms)
        quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Gemm"], nodes_to_exclude=list(exclude))
        return strip_onnx(out.read_bytes())


def tflite_fp32(model, example: dict) -> bytes:
    import litert_torch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fp32.tflite"
        litert_torch.convert(model, sample_kwargs=_torch_kwargs(example)).export(str(path))
        return path.read_bytes()


def tflite_int8(model, example: dict, calibration: list[dict], mode: str = "static") -> bytes:
    """mode "static": PT2E int8 weights and activations; "dynamic": int8 weights, float activations.

    No per-layer fp32 fallback here, unlike ONNX: once any op is annotated, the LiteRT converter quantises every
    constant weight of the graph (measured: one annotated layer gave the same 383 kB graph as all twenty), and
    LiteRT's weight-only recipe showed the same worst-case error on the tabletop student."""
    import litert_torch
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    if mode not in ("static", "dynamic"):
        raise ValueError(f"tflite int8 mode must be 'static' or 'dynamic', got {mode!r}")
    if mode == "static" and not calibration:
        raise ValueError("static int8 TFLite needs calibration observations; got none")
    kwargs = _torch_kwargs(example)
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(pt2e_quantizer.get_symmetric_quantization_config(
        is_per_channel=True, is_dynamic=mode == "dynamic"))
    prepared = quantize_pt2e.prepare_pt2e(torch.export.export(model, (), kwargs).module(), quantizer)
    with torch.no_grad():
        for sample in calibration or [example]:
            prepared(**_torch_kwargs(sample))
    # Exported modules refuse .eval(); the policy's BatchNorm is folded by export and it has no active dropout.
    converted = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "int8.tflite"
        litert_torch.convert(converted, sample_kwargs=kwargs,
                             quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(path))
        return path.read_bytes()
