"""PyTorch policy -> the four bundle graphs: ONNX fp32/int8 (onnxruntime) and TFLite fp32/int8 (LiteRT).

- ONNX fp32: `torch.onnx.export(dynamo=True, external_data=False)`, batch 1, static shapes, named inputs.
- ONNX int8: onnxruntime static QDQ, U8S8 (unsigned activations, signed per-channel weights), Conv/MatMul/Gemm
  only (shared/NOTES.md: S8S8 was 2.7x slower on x86; quantising LayerNorm/Softmax pushed error to 0.2-0.5),
  calibrated on real observations; or dynamic (int8 weights, per-inference activation ranges).
- Both int8 ONNX modes store the float weights they leave (Convs in dynamic mode, layers kept in fp32) as fp16,
  or as int8 per output channel where the exporter measured that harmless, behind constant nodes onnxruntime
  folds at session start: inference stays fp32, on weights within fp16 rounding (relative 5e-4) or 1/254 of each
  channel's largest (the parity gate measures the result).
- TFLite fp32: litert-torch (no TensorFlow), from keyword inputs so the signature keeps the contract names.
- TFLite int8: dynamic range (the default: full static int8 quantises the LayerNorms, softmax and residual path
  too and missed the 0.1 parity gate on the tabletop policies): ai-edge-quantizer rewrites the fp32 flatbuffer
  with int8 per-channel weights for FULLY_CONNECTED/CONV_2D/BATCH_MATMUL, activations quantised per inference,
  inputs/outputs float32; named ops can be kept in fp32, and export/tflite_mixed.py picks them with the same
  accuracy-aware search as ONNX. Or `mode="static"`: PT2E static quantisation through litert-torch's quantizer
  (inputs/outputs become int8; the runtime (de)quantises with the graph's scales; no per-op fallback: once any op
  is annotated, the converter quantises every constant weight).

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


def onnx_int8(fp32: bytes, calibration: list[dict], mode: str = "static", exclude: tuple[str, ...] = (),
              int8_stored: tuple[str, ...] = ()) -> bytes:
    """mode "static": QDQ with calibrated activation ranges; "dynamic": int8 weights for MatMul/Gemm, activation
    ranges computed per inference (more accurate on small, sensitive policies; Convs stay float). `exclude`:
    node names kept in fp32 (export/mixed_precision.py picks them). The float weights left are stored as fp16,
    or as int8 for the initializer names in `int8_stored` (compact_float_weights)."""

    return compact_float_weights(_quietly(_onnx_int8, fp32, calibration, mode, exclude), int8_names=int8_stored)


def onnx_int8_float_weights(fp32: bytes, calibration: list[dict], mode: str = "static",
                            exclude: tuple[str, ...] = ()) -> list[str]:
    """The float layer weights onnx_int8 leaves with these arguments, largest first: its `int8_stored` choices."""
    return float_layer_weights(_quietly(_onnx_int8, fp32, calibration, mode, exclude))


def _quietly(fn, *args):
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # onnxruntime.quantization advises pre-processing on the root logger, per call
    try:
        return fn(*args)
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


def float_layer_weights(blob: bytes, min_elements: int = STORE_MIN_ELEMENTS) -> list[str]:
    """Names of the float32 layer weights (Conv/MatMul/Gemm, >= min_elements values) in a graph, largest first:
    what compact_float_weights may store as int8."""
    import onnx
    from onnx import TensorProto

    graph = onnx.load_from_string(blob).graph
    axes = _weight_axes(graph)
    sizes = {i.name: int(np.prod(i.dims)) for i in graph.initializer
             if i.name in axes and i.data_type == TensorProto.FLOAT and len(i.dims) >= 2}
    return sorted((n for n, k in sizes.items() if k >= min_elements), key=lambda n: (-sizes[n], n))


def compact_float_weights(blob: bytes, min_elements: int = STORE_MIN_ELEMENTS, int8_names=()) -> bytes:
    """Store the float32 initializers of at least `min_elements` values in fewer bytes, restored by nodes placed
    first in the graph that onnxruntime constant-folds when the session starts (no per-inference cost; inference
    stays fp32):
    - the layer weights named in `int8_names` (float_layer_weights) as int8, symmetric per output channel,
      restored by Cast + Mul(scale): a quarter of the bytes, rounding of up to 1/254 of the channel's largest
      weight. Some policies take that badly (a worst case of 0.4 in normalised action units measured on one), so
      the exporter stores only the weights the calibration set shows it costs nothing beyond the int8 budget;
    - every other one as float16, restored by a Cast (relative 5e-4)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(blob)
    graph = model.graph
    inputs = {i.name for i in graph.input}
    axes = _weight_axes(graph)
    unknown = sorted(set(int8_names) - set(float_layer_weights(blob, min_elements)))
    if unknown:
        raise ValueError(f"int8 storage asked for {unknown}, which are not float layer weights of this graph")
    restore = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or init.name in inputs:
            continue
        value, name = numpy_helper.to_array(init), init.name
        if value.size < min_elements or not np.all(np.isfinite(value)):
            continue
        if name in int8_names:
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
    if mode not in ONNX_INT8_MODES:
        raise ValueError(f"onnx int8 mode must be one of {list(ONNX_INT8_MODES)}, got {mode!r}")
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quant_pre_process,
                                          quantize_static)

    if mode == "dynamic":
        return _dynamic_matmuls(fp32, exclude)
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
        return strip_onnx(out.read_bytes())


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


def tflite_int8(model, example: dict, calibration: list[dict], mode: str = "static",
                exclude: tuple[str, ...] = ()) -> bytes:
    """mode "dynamic": tflite_fp32, then dynamic-range int8 (export/tflite_mixed.py quantize; `exclude`: op names
    kept in fp32, from tflite_mixed.tflite_ops); "static": PT2E int8 weights and activations, int8 inputs/outputs.

    Static mode has no per-op fp32 fallback: once any op is annotated, the LiteRT converter quantises every
    constant weight of the graph (measured: one annotated layer gave the same 383 kB graph as all twenty)."""
    if mode not in ("static", "dynamic"):
        raise ValueError(f"tflite int8 mode must be 'static' or 'dynamic', got {mode!r}")
    if mode == "dynamic":
        from .tflite_mixed import quantize

        return quantize(tflite_fp32(model, example), tuple(exclude))
    if exclude:
        raise ValueError(f"static int8 TFLite cannot keep ops in float (got exclude={list(exclude)!r}); use "
                         "mode='dynamic'")
    return _tflite_static_int8(model, example, calibration)


def _tflite_static_int8(model, example: dict, calibration: list[dict]) -> bytes:
    """PT2E static int8 through litert-torch's quantizer, calibrated on `calibration`."""
    import litert_torch
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    if not calibration:
        raise ValueError("static int8 TFLite needs calibration observations; got none")
    kwargs = _torch_kwargs(example)
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(pt2e_quantizer.get_symmetric_quantization_config(
        is_per_channel=True, is_dynamic=False))
    prepared = quantize_pt2e.prepare_pt2e(torch.export.export(model, (), kwargs).module(), quantizer)
    with torch.no_grad():
        for sample in calibration:
            prepared(**_torch_kwargs(sample))
    # Exported modules refuse .eval(); the policy's BatchNorm is folded by export and it has no active dropout.
    converted = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "int8.tflite"
        litert_torch.convert(converted, sample_kwargs=kwargs,
                             quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(path))
        return path.read_bytes()
