"""Run a bundle's TFLite policy graph with LiteRT (`ai_edge_litert`), or `tflite_runtime` on old boards.

Inputs are matched to the manifest by name. Converters decorate names ("serving_default_state:0") or lose them
("args_0"): decorations are stripped, and inputs whose names were lost are paired by shape only when each shape
fits exactly one of them. A graph input that carries a contract name the manifest does not expect (say
"image_wrist" when the manifest has a camera "side") is a mismatch, never re-paired by shape. Every matched input
must have the manifest's shape. Graphs with int8/uint8 inputs or outputs (static int8) are fed values quantised,
and give values dequantised, with the scale and zero point the interpreter reports.
"""

from __future__ import annotations

import re

import numpy as np

from ..bundle.errors import BackendUnavailable, GraphMismatch
from ..bundle.manifest import Manifest
from .base import PolicyBase, TensorSpec

QUANTISED = (np.int8, np.uint8, np.int16)
_CONTRACT_NAME = re.compile(r"^(image_.+|state|instruction|actions)$")  # docs/BUNDLE.md graph names


def interpreter_class():
    """LiteRT's Interpreter, else tflite_runtime's (Python <= 3.11 boards)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise BackendUnavailable("no TFLite runtime is installed: pip install ai-edge-litert "
                                     "(or tflite-runtime on boards with Python <= 3.11)") from None
    return Interpreter


class _Port:
    """One graph input or output: where it lives and how to (de)quantise it."""

    def __init__(self, name: str, detail: dict):
        self.name, self.index = name, detail["index"]
        self.dtype = np.dtype(detail["dtype"])
        self.shape = tuple(int(d) for d in detail["shape"])
        self.scale, self.zero_point = 0.0, 0
        if self.dtype.type in QUANTISED:
            q = detail.get("quantization_parameters") or {}
            scales = list(q.get("scales", [])) or [detail["quantization"][0]]
            zeros = list(q.get("zero_points", [])) or [detail["quantization"][1]]
            if len(scales) != 1 or not scales[0] > 0:
                raise GraphMismatch(f"graph tensor {name!r} is {self.dtype} with quantisation scales {scales}; "
                                    "expected one per-tensor scale > 0")
            self.scale, self.zero_point = float(scales[0]), int(zeros[0])
            self.qmin, self.qmax = np.iinfo(self.dtype).min, np.iinfo(self.dtype).max
        elif self.dtype != np.float32:
            raise GraphMismatch(f"graph tensor {name!r} has dtype {self.dtype}; expected float32 or a quantised "
                                "int8/uint8 tensor")

    @property
    def quantised(self) -> bool:
        return self.scale > 0

    def to_graph(self, x: np.ndarray) -> np.ndarray:
        if not self.quantised:
            return x
        return np.clip(np.round(x / self.scale) + self.zero_point, self.qmin, self.qmax).astype(self.dtype)

    def from_graph(self, y: np.ndarray) -> np.ndarray:
        if not self.quantised:
            return y
        return ((y.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)


class TflitePolicy(PolicyBase):
    def __init__(self, model: bytes, manifest: Manifest, *, threads: int = 1, name: str = "tflite"):
        super().__init__(manifest, name)
        Interpreter = interpreter_class()
        try:
            self.interpreter = Interpreter(model_content=model, num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise GraphMismatch(f"{name}: LiteRT cannot load the policy graph: {exc}") from exc
        self.threads = threads
        self._runner = None
        self.interpreter.allocate_tensors()  # before any signature runner holds views into its buffers
        signatures = self.interpreter.get_signature_list()
        if signatures:
            key = "serving_default" if "serving_default" in signatures else None
            if key is None and len(signatures) == 1:
                key = next(iter(signatures))
            if key is None:
                raise GraphMismatch(f"{name}: graph has signatures {sorted(signatures)}; expected "
                                    "'serving_default' or exactly one")
            runner = self.interpreter.get_signature_runner(key)
            ins, outs = runner.get_input_details(), runner.get_output_details()
            primary = {d["index"] for d in self.interpreter.get_input_details()}
            # The public set_tensor/invoke path runs subgraph 0; use the signature runner only when the
            # signature lives elsewhere (it re-allocates tensors on every call, so it is slower).
            if {d["index"] for d in ins.values()} != primary:
                self._runner = runner
        else:
            ins = {d["name"]: d for d in self.interpreter.get_input_details()}
            outs = {d["name"]: d for d in self.interpreter.get_output_details()}
        self.input_map = match_inputs(name, {n: _shape(d) for n, d in ins.items()}, self.input_spec)
        self._inputs = {want: _Port(got, ins[got]) for want, got in self.input_map.items()}
        for want, port in self._inputs.items():
            if port.shape != self.input_spec[want].shape:
                raise GraphMismatch(f"{name}: graph input {port.name!r} (for {want!r}) has shape {list(port.shape)}; "
                                    f"the manifest implies {list(self.input_spec[want].shape)}")
        out_name = _pick_output(name, list(outs))
        self._output = _Port(out_name, outs[out_name])
        if self._output.shape != self.output_spec.shape:
            raise GraphMismatch(f"{name}: graph output {self._output.name!r} has shape {list(self._output.shape)}; "
                                f"the manifest implies {list(self.output_spec.shape)} (1, chunk.length, action.dim)")

    @property
    def quantised_io(self) -> list[str]:
        """Names (manifest side) of the inputs/outputs this graph takes or gives as integers."""
        ports = {**self._inputs, "actions": self._output}
        return [k for k, p in ports.items() if p.quantised]

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        if self._runner is not None:
            out = self._runner(**{p.name: p.to_graph(feeds[k]) for k, p in self._inputs.items()})
            return self._output.from_graph(out[self._output.name])
        for key, port in self._inputs.items():
            self.interpreter.set_tensor(port.index, port.to_graph(feeds[key]))
        self.interpreter.invoke()
        return self._output.from_graph(self.interpreter.get_tensor(self._output.index))


def canonical(name: str) -> str:
    """Strip what converters add: 'serving_default_' prefixes, ':0' suffixes, an '_output' suffix."""
    name = re.sub(r":\d+$", "", name)
    name = re.sub(r"^serving_default_", "", name)
    return re.sub(r"_output$", "", name)


def match_inputs(name: str, graph: dict[str, tuple[int, ...]], want: dict[str, TensorSpec]) -> dict[str, str]:
    """Manifest input name -> graph input name. Refuses extra/missing inputs and ambiguous shape pairings."""
    if len(graph) != len(want):
        raise GraphMismatch(f"{name}: graph has {len(graph)} inputs {sorted(graph)}; the manifest expects "
                            f"{len(want)}: {sorted(want)}")
    out, left = {}, dict(graph)
    for w in want:
        hits = [g for g in left if canonical(g) == w]
        if len(hits) == 1:
            out[w] = hits[0]
            del left[hits[0]]
    named = sorted(g for g in left if _CONTRACT_NAME.match(canonical(g)))
    if named:
        raise GraphMismatch(f"{name}: graph input(s) {named} match no manifest input; the manifest expects "
                            f"{sorted(want)} (camera renamed or graph from another bundle?)")
    for w in [w for w in want if w not in out]:
        fits = [g for g, shape in left.items() if shape == want[w].shape]
        rivals = [v for v in want if v not in out and v != w and want[v].shape == want[w].shape]
        if len(fits) != 1 or rivals:
            raise GraphMismatch(
                f"{name}: cannot match manifest input {w!r} {list(want[w].shape)} to a graph input; graph inputs "
                f"left: {[(g, list(s)) for g, s in left.items()]} (expected names {sorted(want)}, or shapes that "
                "identify each input uniquely)")
        out[w] = fits[0]
        del left[fits[0]]
    return out


def _pick_output(name: str, outputs: list[str]) -> str:
    if len(outputs) == 1:
        return outputs[0]
    hits = [o for o in outputs if canonical(o) == "actions"]
    if len(hits) != 1:
        raise GraphMismatch(f"{name}: graph outputs are {outputs}; expected one output, or one named 'actions'")
    return hits[0]


def _shape(detail: dict) -> tuple[int, ...]:
    return tuple(int(d) for d in detail["shape"])
