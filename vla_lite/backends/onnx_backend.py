"""Run a bundle's ONNX policy graph with onnxruntime on the CPU.

Session settings for a shared robot computer: an explicit intra-op thread count, one inter-op thread, no
spin-waiting (a spinning pool steals the core the control loop needs), sequential execution, all graph
optimisations. The graph's inputs/outputs are checked against the manifest before the first run.
"""

from __future__ import annotations

import numpy as np

from ..bundle.errors import GraphMismatch
from ..bundle.manifest import Manifest
from .base import PolicyBase, TensorSpec

ORT_DTYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
              "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8", "tensor(uint8)": "uint8"}


class OnnxPolicy(PolicyBase):
    def __init__(self, model: bytes, manifest: Manifest, *, threads: int = 1, name: str = "onnx"):
        import onnxruntime as ort

        super().__init__(manifest, name)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        opts.log_severity_level = 3  # errors only: warnings about unused initialisers are not the user's problem
        try:
            self.session = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise GraphMismatch(f"{name}: onnxruntime cannot load the policy graph: {exc}") from exc
        self.threads = threads
        check_signature(name, [_spec(i) for i in self.session.get_inputs()],
                        [_spec(o) for o in self.session.get_outputs()], self.input_spec, self.output_spec)
        self._outputs = [self.output_spec.name]

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(self._outputs, feeds)[0]


def _spec(arg) -> TensorSpec:
    # Symbolic or unknown dims stay as strings/None so the check below can name them.
    return TensorSpec(arg.name, tuple(arg.shape), ORT_DTYPES.get(arg.type, arg.type))


def check_signature(name: str, inputs: list[TensorSpec], outputs: list[TensorSpec],
                    want_inputs: dict[str, TensorSpec], want_output: TensorSpec) -> None:
    """Raise GraphMismatch unless the graph has exactly the manifest's inputs and its `actions` output, with the
    same static shapes and float32 dtypes."""
    got = {s.name: s for s in inputs}
    if set(got) != set(want_inputs):
        raise GraphMismatch(f"{name}: graph inputs are {sorted(got)}; the manifest expects {sorted(want_inputs)} "
                            f"(missing {sorted(set(want_inputs) - set(got))}, "
                            f"unexpected {sorted(set(got) - set(want_inputs))})")
    out = {s.name: s for s in outputs}
    if list(out) != [want_output.name]:
        raise GraphMismatch(f"{name}: graph outputs are {list(out)}; expected exactly [{want_output.name!r}]")
    for want in [*want_inputs.values(), want_output]:
        spec = got.get(want.name) or out[want.name]
        if spec.shape != want.shape:
            raise GraphMismatch(f"{name}: graph {want.name!r} has shape {list(spec.shape)}; the manifest implies "
                                f"{list(want.shape)} (static, batch 1)")
        if spec.dtype != want.dtype:
            raise GraphMismatch(f"{name}: graph {want.name!r} has dtype {spec.dtype}; expected {want.dtype}")
