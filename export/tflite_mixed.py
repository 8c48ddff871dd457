"""Accuracy-aware dynamic-range int8 for TFLite, with ai-edge-quantizer on the float .tflite flatbuffer.

The fp32 graph is converted once (export/graphs.py tflite_fp32); every trial of the search rewrites that
flatbuffer (a tenth of a second for a policy), so no trial re-runs the PyTorch converter. Quantised ops get int8
per-output-channel weights and dynamically quantised activations (LiteRT's hybrid kernels: inputs and outputs stay
float32); ops kept in float keep their fp32 weights (ONNX stores some of its float weights as int8, only where the
calibration set shows it harmless: on a Meta-World micro student, per-channel rounding of every weight moved the
worst-case action by 0.4, in PyTorch as in LiteRT).

The search itself is export/mixed_precision.py's, shared with ONNX: quantise everything, and while the
calibration worst case exceeds the budget keep the most sensitive ops (each op alone in int8, ranked by the error
it causes) in float.

An op is named by its output tensor name(s) as the converter wrote them (what ai-edge-quantizer matches recipes
against and Model Explorer shows): litert-torch's module path, e.g.
"vla_lite.export.model.Policy/vla_lite.export.model.Block_0/torch.nn.modules.linear.Linear_out;3", or the
signature's output ("serving_default_actions_output") for the op that computes it.
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Callable

QUANTISED_OPS = ("FULLY_CONNECTED", "CONV_2D", "BATCH_MATMUL")  # ops with a weight operand (input 1)


def _scope(op, tensors) -> str:
    """ai-edge-quantizer's scope for an op: its output tensor names, each followed by ';'."""
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fu

    return fu.get_op_scope(op, tensors)


def weight_types(blob: bytes) -> dict[str, str]:
    """Op name -> its weight tensor's type ("FLOAT32", "INT8", ...) for every FULLY_CONNECTED/CONV_2D/BATCH_MATMUL
    op of subgraph 0 whose weight (input 1) is a constant, in graph order."""
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fu

    model = fu.read_model(bytearray(blob))
    if len(model.subgraphs) != 1:
        raise ValueError(f"policy graph has {len(model.subgraphs)} subgraphs; expected 1 (one signature)")
    graph, out = model.subgraphs[0], {}
    for op in graph.operators:
        kind = fu.TFL_OP_CODE_TO_NAME.get(model.operatorCodes[op.opcodeIndex].builtinCode)
        if kind is None or kind.value not in QUANTISED_OPS or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        weight = graph.tensors[op.inputs[1]]
        buffer = model.buffers[weight.buffer]
        if buffer.data is None and not buffer.size:  # a runtime operand (attention's keys), not a weight
            continue
        # Only the one ';' the scope appends: converters write names that end in ';' themselves ("...;;").
        out[_scope(op, graph.tensors).removesuffix(";")] = fu.TENSOR_CODE_TO_TYPE[weight.type]
    return out


def tflite_ops(fp32: bytes) -> list[str]:
    """Names of the ops dynamic-range int8 quantises (a constant-weight FULLY_CONNECTED/CONV_2D/BATCH_MATMUL)."""
    return list(weight_types(fp32))


def quantize(fp32: bytes, exclude: tuple[str, ...] = ()) -> bytes:
    """Dynamic-range int8 of a float .tflite: int8 symmetric per-output-channel weights for every op of
    tflite_ops() not in `exclude`, activations quantised at run time; excluded ops keep their fp32 weights."""
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer

    known = set(tflite_ops(fp32))
    unknown = [n for n in exclude if n not in known]
    if unknown:
        raise ValueError(f"ops to keep in float {unknown} are not quantisable ops of this graph; expected names "
                         f"from tflite_ops() (it has {len(known)})")
    q = quantizer.Quantizer(bytearray(fp32))
    for kind in QUANTISED_OPS:
        q.add_dynamic_config(".*", qtyping.TFLOperationName[kind], num_bits=8)
    for name in exclude:  # later recipe entries take precedence; anchored so one op's name never matches another's
        q.update_quantization_recipe(f"^{re.escape(name)};$", qtyping.TFLOperationName.ALL_SUPPORTED,
                                     algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE)
    # quantize() does not pass enable_progress_bar on to its graph rewrite, whose tqdm bar (graphs of >= 100
    # tensors) would print one line per search trial; tqdm writes to the sys.stderr of the moment.
    with contextlib.redirect_stderr(io.StringIO()):
        result = q.quantize(enable_progress_bar=False, enable_progress_report=False)
    blob = bytes(result.quantized_model)
    _check_kept(blob, set(exclude))
    return blob


def _check_kept(blob: bytes, exclude: set[str]) -> None:
    """Raise unless exactly the excluded ops kept float weights: the names go into the bundle's provenance, and a
    recipe that silently matched nothing (or too much) would make them untrue."""
    types = weight_types(blob)
    wrong = {n: t for n, t in types.items() if (t == "FLOAT32") != (n in exclude)}
    if wrong:
        raise RuntimeError(f"ai-edge-quantizer left weight types {wrong}; expected FLOAT32 for the {len(exclude)} "
                           "op(s) kept in float and INT8 for the others")


def within_budget(fp32: bytes, error: Callable[[bytes], float], budget: float, max_float: float = 1 / 3,
                  progress=None):
    """The dynamic-range int8 graph, with its most sensitive ops kept in fp32 while the calibration worst case
    error(graph) exceeds `budget`; at most `max_float` (a fraction) of the quantisable ops. Returns
    mixed_precision.MixedPrecisionResult (kept_float: op names, most sensitive first)."""
    from . import mixed_precision as mp

    if not 0.0 < max_float <= 1.0:
        raise ValueError(f"max_float must be a fraction of the quantisable ops in (0, 1], got {max_float!r}")
    ops = tflite_ops(fp32)
    if not ops:
        raise ValueError("the float .tflite has no FULLY_CONNECTED/CONV_2D/BATCH_MATMUL op with a constant "
                         "weight: nothing to quantise")

    def quantize_without(exclude: tuple) -> bytes:
        return quantize(fp32, exclude)

    def ranking() -> list:
        return mp.solo_ranking(ops, quantize_without, error)

    cap = max(1, int(len(ops) * max_float))
    return mp.keep_sensitive_in_float(quantize_without, error, ranking, budget, max_float=cap, progress=progress,
                                      label="tflite int8")
