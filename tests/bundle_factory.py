"""A real, small policy bundle for the bundle and backend tests.

A tiny torch policy (per-camera conv encoder + projections of state and instruction, summed, then an MLP head ->
(1, T, D)) is exported four ways: ONNX fp32 (torch.onnx.export), ONNX int8 (onnxruntime static QDQ, U8S8,
Conv/MatMul/Gemm only, calibrated on random inputs), TFLite fp32 and TFLite static int8 (litert-torch, PT2E
quantisation; its inputs and outputs are int8). Built once per test session (`tiny_bundle` fixture).

Features are summed, not concatenated, on purpose: int8 concat shares one scale across its inputs, which crushed
the small image features next to the wider state/instruction values (worst-case error 0.2 -> 0.05 when changed).
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vla_lite.bundle import write_bundle
from vla_lite.firmware_bridge.arm_config import default_arm

CAMERAS = {"front": (32, 32), "wrist": (24, 24)}  # name -> (H, W); different shapes on purpose
ARM = default_arm(n_revolute=3)  # shoulder_pan, shoulder_lift, elbow (rad) + gripper (m)
JOINTS = list(ARM.joint_names)
S, E, T, D = len(JOINTS), 16, 4, len(JOINTS)  # state dim, embedding dim, chunk length, action dim
INPUTS = [f"image_{c}" for c in CAMERAS] + ["state", "instruction"]
N_PARITY = 32  # inputs compared in parity checks (the field's gate uses >= 32)


def base_manifest() -> dict:
    """A valid manifest for the tiny policy (members are filled in by write_bundle)."""
    rng = np.random.default_rng(7)
    def stats(n):
        return {"mean": rng.normal(0, 0.5, n).round(3).tolist(), "std": rng.uniform(0.2, 1.0, n).round(3).tolist(),
                "q01": [-2.0] * n, "q99": [2.0] * n}
    return {
        "schema": 1, "name": "tiny-test-policy", "created": "2026-11-23T23:00:00Z",
        "cameras": [{"name": c, "height": h, "width": w, "channel_order": "RGB", "pixel_range": [0.0, 1.0],
                     "resize": "area", "crop": None} for c, (h, w) in CAMERAS.items()],
        "state": {"names": JOINTS, "units": ["rad", "rad", "rad", "m"]},
        "instruction": {"encoder": None, "vocab": None, "max_tokens": 32, "embedding_dim": E, "lowercase": True,
                        "model": "test: random embeddings"},
        "action": {"mode": "joint_position", "dim": D, "names": JOINTS, "units": ["rad", "rad", "rad", "m"],
                   "low": [-3.0, -3.0, -3.0, 0.0], "high": [3.0, 3.0, 3.0, 0.08]},
        "chunk": {"length": T, "replan_every": 2},
        "control": {"rate_hz": 20.0},
        "normalization": {"state": stats(S), "action": {**stats(D), "mask": [True, True, True, False]}},
        "graphs": {"onnx": {"fp32": "policy/fp32.onnx", "int8": "policy/int8.onnx"},
                   "tflite": {"fp32": "policy/fp32.tflite", "int8": "policy/int8.tflite"}},
        "provenance": {"trained": False, "teacher": "none", "data": "random", "training_commit": "test"},
    }


def sample_inputs(n: int, seed: int) -> list[tuple[dict, np.ndarray, np.ndarray]]:
    """n observations shaped as the graph expects: ({camera: (1,H,W,3) in [0,1]}, (1,S), (1,E)) float32."""
    rng = np.random.default_rng(seed)
    return [({c: rng.random((1, h, w, 3), dtype=np.float32) for c, (h, w) in CAMERAS.items()},
             rng.standard_normal((1, S), dtype=np.float32), rng.standard_normal((1, E), dtype=np.float32))
            for _ in range(n)]


def _tiny_policy():
    import torch
    from torch import nn

    class TinyPolicy(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoders = nn.ModuleList([nn.Sequential(
                nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU()) for _ in CAMERAS])
            self.image_proj = nn.ModuleList([nn.Linear(8, 32) for _ in CAMERAS])
            self.state_proj, self.instruction_proj = nn.Linear(S, 32), nn.Linear(E, 32)
            self.head = nn.Sequential(nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, T * D))

        def forward(self, image_front, image_wrist, state, instruction):
            x = self.state_proj(state) + self.instruction_proj(instruction)
            for enc, proj, img in zip(self.encoders, self.image_proj, (image_front, image_wrist)):
                x = x + proj(enc(img.permute(0, 3, 1, 2)).mean(dim=(2, 3)))  # NHWC -> NCHW -> (1, 8)
            # A dict output names the LiteRT signature output "actions" (a bare tensor becomes "output_0").
            return {"actions": self.head(x).reshape(1, T, D)}

    torch.manual_seed(0)
    return TinyPolicy().eval()


def _as_kwargs(sample) -> dict:
    import torch

    images, state, instruction = sample
    arrays = [images[c] for c in CAMERAS] + [state, instruction]
    return {name: torch.from_numpy(a) for name, a in zip(INPUTS, arrays)}


def export_graphs(model, workdir: Path) -> dict[str, bytes]:
    """The four policy graphs, as bundle members."""
    import litert_torch
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quant_pre_process,
                                          quantize_static)
    from torchao.quantization.pt2e import quantize_pt2e

    workdir.mkdir(parents=True, exist_ok=True)
    example = _as_kwargs(sample_inputs(1, seed=1)[0])
    calibration = sample_inputs(256, seed=2)  # enough that the test inputs rarely fall outside the calibrated range

    onnx_fp32 = workdir / "fp32.onnx"
    torch.onnx.export(model, (), str(onnx_fp32), kwargs=example, input_names=INPUTS, output_names=["actions"],
                      dynamo=True, external_data=False, verbose=False)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{k: v.numpy() for k, v in _as_kwargs(s).items()} for s in calibration])

        def get_next(self):
            return next(self.it, None)

    pre = workdir / "fp32.pre.onnx"
    quant_pre_process(str(onnx_fp32), str(pre), skip_symbolic_shape=True)
    onnx_int8 = workdir / "int8.onnx"
    quantize_static(str(pre), str(onnx_int8), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    op_types_to_quantize=["Conv", "MatMul", "Gemm"])

    tfl_fp32 = workdir / "fp32.tflite"
    litert_torch.convert(model, sample_kwargs=example).export(str(tfl_fp32))

    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    prepared = quantize_pt2e.prepare_pt2e(torch.export.export(model, (), example).module(), quantizer)
    for s in calibration:
        prepared(**_as_kwargs(s))
    # litert-torch warns that this exported module is "in training mode": exported modules refuse .eval(), and
    # the policy has no dropout or batch norm, so the mode changes nothing.
    converted = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    tfl_int8 = workdir / "int8.tflite"
    litert_torch.convert(converted, sample_kwargs=example,
                         quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(tfl_int8))

    return {"policy/fp32.onnx": onnx_fp32.read_bytes(), "policy/int8.onnx": onnx_int8.read_bytes(),
            "policy/fp32.tflite": tfl_fp32.read_bytes(), "policy/int8.tflite": tfl_int8.read_bytes()}


def export_positional_tflite(model, workdir: Path) -> bytes:
    """The fp32 TFLite graph converted from positional arguments: its inputs lose their names ("args_0"...), as
    some converters do, so the backend has to pair them by shape."""
    import litert_torch

    example = tuple(_as_kwargs(sample_inputs(1, seed=1)[0]).values())
    path = workdir / "positional.tflite"
    litert_torch.convert(model, example).export(str(path))
    return path.read_bytes()


@dataclass
class TinyBundle:
    path: Path  # the written .vla (do not modify: shared by the whole session)
    manifest: dict  # the manifest given to write_bundle (without members)
    members: dict  # member path -> bytes
    inputs: list  # N_PARITY sample observations (see sample_inputs)
    reference: np.ndarray  # (N_PARITY, T, D) torch fp32 outputs for `inputs`
    positional_tflite: bytes  # fp32 TFLite graph whose inputs are named args_0..args_3 (export_positional_tflite)

    def variant(self, tmp_path: Path, name: str = "variant.vla", edit=None, members: dict | None = None) -> Path:
        """Write a copy with `edit(manifest_dict)` applied (and optionally other members)."""
        m = copy.deepcopy(self.manifest)
        if edit is not None:
            edit(m)
        return write_bundle(tmp_path / name, m, self.members if members is None else members)


def build_tiny_bundle(workdir: Path) -> TinyBundle:
    import torch

    model = _tiny_policy()
    members = export_graphs(model, workdir / "graphs")
    inputs = sample_inputs(N_PARITY, seed=3)
    with torch.no_grad():
        reference = np.stack([model(**_as_kwargs(s))["actions"].numpy()[0] for s in inputs])
    manifest = base_manifest()
    path = write_bundle(workdir / "tiny.vla", manifest, members)
    manifest["parity"] = _parity(path, inputs, reference)  # measured figures, as a real export would record
    path = write_bundle(workdir / "tiny.vla", manifest, members)
    return TinyBundle(path, manifest, members, inputs, reference, export_positional_tflite(model, workdir / "graphs"))


def run_all(policy, inputs) -> np.ndarray:
    """(N, T, D) outputs of a backend over the sample inputs."""
    return np.stack([policy.infer(*s) for s in inputs])


def _parity(path: Path, inputs, reference) -> dict:
    from vla_lite.backends import open_backend
    from vla_lite.bundle import load_bundle

    bundle, out = load_bundle(path), {}
    for runtime, precision in bundle.available():
        got = run_all(open_backend(bundle, runtime, precision, warmup=0), inputs)
        cosine = float(np.dot(got.ravel(), reference.ravel()) /
                       (np.linalg.norm(got) * np.linalg.norm(reference)))
        out[f"{runtime}.{precision}"] = {"max_abs": float(np.abs(got - reference).max()),
                                         "cosine": round(cosine, 6), "n": len(inputs)}
    return out


_BUILT: list[TinyBundle] = []  # one build per session, shared by every test module that imports the fixture


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> TinyBundle:
    # pytest registers an imported fixture once per importing module, so its session cache alone would build
    # the bundle once per module; the list above makes it once per session.
    if not _BUILT:
        pytest.importorskip("torch")
        pytest.importorskip("litert_torch")
        pytest.importorskip("ai_edge_litert")
        _BUILT.append(build_tiny_bundle(tmp_path_factory.mktemp("tiny_bundle")))
    return _BUILT[0]


def zip_bytes(entries: dict[str, bytes], compression: int | None = None) -> bytes:
    """A zip holding exactly `entries` (stored unless told), for archive-level failure cases."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED if compression is None else compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()
