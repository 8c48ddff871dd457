"""Inference backends for a bundle's policy graph: onnxruntime ("onnx") and LiteRT ("tflite").

    policy = open_backend(bundle, runtime="onnx", precision="int8", threads=1)
    chunk = policy.infer(images, state, instruction)   # (T, D) float32, normalised

The runtime library is imported only when its backend is opened, so importing this package loads neither.
"""

from __future__ import annotations

from ..bundle.archive import Bundle
from ..bundle.errors import BackendUnavailable
from ..bundle.manifest import PRECISIONS, RUNTIMES
from .base import Policy, PolicyBase, TensorSpec, expected_io

__all__ = ["open_backend", "Policy", "PolicyBase", "TensorSpec", "expected_io", "RUNTIMES", "PRECISIONS"]


def open_backend(bundle: Bundle, runtime: str = "onnx", precision: str = "fp32", threads: int = 1,
                 warmup: int = 3) -> Policy:
    """Load the bundle's (runtime, precision) policy graph, check its signature against the manifest (raises
    GraphMismatch), and warm it up with `warmup` inferences. `threads`: intra-op threads (explicit: on a shared
    robot computer the default of one per core competes with the control loop)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {list(RUNTIMES)}, got {runtime!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 256:
        raise ValueError(f"threads must be an integer in [1, 256], got {threads!r}")
    if (runtime, precision) not in bundle.available():
        raise BackendUnavailable(f"{bundle.path} has no {runtime} {precision} policy graph; available: "
                                 f"{[f'{r}-{p}' for r, p in bundle.available()] }")
    if runtime == "onnx":
        try:
            import onnxruntime  # noqa: F401  (checked here for a clear message)
        except ImportError:
            raise BackendUnavailable("onnxruntime is not installed: pip install onnxruntime") from None
        from .onnx_backend import OnnxPolicy as cls
    else:
        from .tflite_backend import TflitePolicy as cls, interpreter_class
        interpreter_class()
    policy = cls(bundle.read_graph(runtime, precision), bundle.manifest, threads=threads,
                 name=f"{runtime}-{precision}")
    policy.warmup(warmup)
    return policy
