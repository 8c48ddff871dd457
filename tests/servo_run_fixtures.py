"""For the servo-arm run tests: a small bundle whose contract is a servo arm's joints (an SO-101's by default: five
joints in rad and the gripper as a 0..1 fraction), a calibration of the virtual servos as they start, and a folder
of camera frames.

The policy graph is built with onnx.helper (no torch, no training): random weights, actions = tanh of a mix of the
state, the instruction and the image's mean, so it is a real onnxruntime session whose output depends on every
input; its text encoder is the shipped demo bundle's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_lite.bundle import load_bundle, write_bundle
from vla_lite.calib.arm_calibration import ArmCalibration, save_arm_calibration
from vla_lite.calib.arm_profiles import arm_profile
from vla_lite.calib.joints import JointCalibration
from vla_lite.models import DEMO_BUNDLE

T, H, W = 4, 32, 32  # chunk length, camera size (px)
RATE_HZ = 30.0


def policy_graph(dim: int, embedding_dim: int, seed: int = 0) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = {"Ws": rng.normal(0, 0.5, (dim, T * dim)), "Wi": rng.normal(0, 0.5, (embedding_dim, T * dim)),
               "u": rng.normal(0, 0.5, (1, T * dim)), "shape": np.array([1, T, dim], np.int64)}
    inits = [numpy_helper.from_array(v if k == "shape" else v.astype(np.float32), k) for k, v in weights.items()]
    nodes = [helper.make_node("MatMul", ["state", "Ws"], ["s"]),
             helper.make_node("MatMul", ["instruction", "Wi"], ["i"]),
             helper.make_node("ReduceMean", ["image_front"], ["m"], keepdims=0),  # (1,): all pixels
             helper.make_node("Mul", ["u", "m"], ["c"]),
             helper.make_node("Add", ["s", "i"], ["si"]), helper.make_node("Add", ["si", "c"], ["x"]),
             helper.make_node("Tanh", ["x"], ["y"]), helper.make_node("Reshape", ["y", "shape"], ["actions"])]
    f = TensorProto.FLOAT
    graph = helper.make_graph(nodes, "servo-arm-test", [
        helper.make_tensor_value_info("image_front", f, [1, H, W, 3]),
        helper.make_tensor_value_info("state", f, [1, dim]),
        helper.make_tensor_value_info("instruction", f, [1, embedding_dim])],
        [helper.make_tensor_value_info("actions", f, [1, T, dim])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def servo_bundle(path: Path, arm: str = "so101", low=None, high=None, provenance: dict | None = None) -> Path:
    """A bundle for `arm`'s joints: normalised actions in [-1, 1] decode to mean 0, std 0.3 (rad / fraction
    around 0.5 for the gripper); action low/high default to +-1 rad and 0..1."""
    profile = arm_profile(arm)
    names = list(profile.joint_names)
    units = ["1" if j.mapping.value == "fraction" else "rad" for j in profile.joints]
    n = len(names)
    gripper = [u == "1" for u in units]
    demo = load_bundle(DEMO_BUNDLE)
    text = demo.manifest.instruction
    stats = {"mean": [0.5 if g else 0.0 for g in gripper], "std": [0.3] * n, "q01": [-1.0] * n, "q99": [1.0] * n}
    manifest = {
        "schema": 1, "name": f"{arm}-servo-test", "created": "2026-12-07T21:00:00Z",
        "cameras": [{"name": "front", "height": H, "width": W, "channel_order": "RGB", "pixel_range": [0.0, 1.0],
                     "resize": "area", "crop": None}],
        "state": {"names": names, "units": units},
        "instruction": {"encoder": text.encoder, "vocab": text.vocab, "max_tokens": text.max_tokens,
                        "embedding_dim": text.embedding_dim, "lowercase": True, "model": text.model},
        "action": {"mode": "joint_position", "dim": n, "names": names, "units": units,
                   "low": low or [0.0 if g else -1.0 for g in gripper], "high": high or [1.0] * n},
        "chunk": {"length": T, "replan_every": 2},
        "control": {"rate_hz": RATE_HZ},
        "normalization": {"state": stats, "action": {**stats, "mask": [True] * n}},
        "graphs": {"onnx": {"fp32": "policy/fp32.onnx"}},
        "provenance": {"trained": False, "teacher": "none", "data": "random", "training_commit": "test",
                       **(provenance or {})},
    }
    members = {"policy/fp32.onnx": policy_graph(n, text.embedding_dim),
               text.encoder: demo.read(text.encoder), text.vocab: demo.read(text.vocab)}
    return write_bundle(path, manifest, members)


def virtual_calibration(arm: str = "so101", half_range: int = 1200, gripper=(1600, 2600)) -> ArmCalibration:
    """The calibration of the virtual servos as they start (homing offset 0, every shaft at 2048 = 0 rad):
    revolute joints +-half_range counts around the middle, full-turn joints the whole turn, the gripper `gripper`."""
    joints = []
    for j in arm_profile(arm).joints:
        lo, hi = (0, 4095) if j.full_turn else gripper if j.mapping.value == "fraction" else \
            (2048 - half_range, 2047 + half_range)
        joints.append(JointCalibration(j.name, j.servo_id, j.servo_model, 0, lo, hi, 0, j.mapping))
    return ArmCalibration(arm, tuple(joints), "2026-12-07T21:00:00Z", "test: virtual servos")


def write_calibration(path: Path, cal: ArmCalibration) -> Path:
    return save_arm_calibration(path, cal)


def camera_folder(path: Path, n: int = 4) -> Path:
    import cv2

    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for k in range(n):
        cv2.imwrite(str(path / f"{k:03d}.png"), rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    return path
