"""`vla-lite export`: checkpoint -> one verified `.vla` bundle (ONNX and/or TFLite, fp32 and/or int8).

    vla-lite export runs/student.safetensors --format onnx,tflite --precision fp32,int8 --calib runs/calib \
        -o runs/student.vla

Observations from --calib (a dataset never used for training) are split by episode: one part calibrates int8,
the other (>= 32 observations) is the parity set. Every graph is then loaded by the runtime's own backend from
a written bundle and compared with the PyTorch model on the parity set; a failed gate (export/parity.py) stops
the export with no bundle written. The figures go into the manifest (`parity`), the text encoder and its
vocabulary into `text/`, the statistics into `normalization`, and provenance (teacher, data, checkpoint hash,
git commit) into `provenance`.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RUNTIMES, PRECISIONS = ("onnx", "tflite"), ("fp32", "int8")
# int8 graphs whose worst-case error on the calibration set exceeds this (normalised action units; the parity
# gate is 0.1 and held-out observations have shown twice the calibration worst case) keep their most sensitive
# layers in fp32.
INT8_CALIBRATION_BUDGET = 0.04
INT8_MAX_FLOAT = 1 / 3  # at most this fraction of the quantisable layers kept in fp32: beyond, int8 is not the point
ONNX_INT8_SCHEMES = {  # --onnx-int8 -> what the manifest's provenance says was done
    "dynamic": "dynamic: int8 per-channel MatMul/Gemm weights, activations quantised per inference",
    "static": "static QDQ U8S8, per-channel weights, Conv/MatMul/Gemm"}
TFLITE_INT8_SCHEMES = {  # --tflite-int8 -> what the manifest's provenance says was done
    "dynamic": "dynamic range (ai-edge-quantizer): int8 per-channel FULLY_CONNECTED/CONV_2D/BATCH_MATMUL weights, "
               "activations quantised per inference, float inputs/outputs",
    "static": "static PT2E int8 weights and activations, int8 inputs/outputs"}


def build_manifest(ckpt, text, name: str, graphs: dict, calib: dict) -> dict:
    """The manifest from what the checkpoint says of its training data (names, units, limits, rate), falling back
    to the calibration data's report for what an older checkpoint does not carry."""
    train, cfg = ckpt.train, ckpt.config
    data = {**calib, **{k: v for k, v in (train.get("data") or {}).items() if v}}
    info = data.get("info") or {}
    state_names = data.get("state_names") or [f"state_{i}" for i in range(cfg.state_dim)]
    action_names = data.get("action_names") or [f"action_{i}" for i in range(cfg.action_dim)]
    action_units = data.get("action_units") or ["1"] * cfg.action_dim
    low, high = info.get("action_low"), info.get("action_high")
    if low is None or high is None:  # no declared limits: what the demonstrations did, widened by 5 %
        q01, q99 = np.array(ckpt.normalization["action"]["q01"]), np.array(ckpt.normalization["action"]["q99"])
        span = np.maximum(q99 - q01, 1e-3)
        low, high = (q01 - 0.05 * span).tolist(), (q99 + 0.05 * span).tolist()
    return {
        "schema": 1, "name": name,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "cameras": [{"name": c["name"], "height": c["height"], "width": c["width"],
                     "channel_order": c["channel_order"], "pixel_range": list(c["pixel_range"]),
                     "resize": c["resize"], "crop": c["crop"]} for c in train["cameras"]],
        "state": {"names": state_names, "units": data.get("state_units") or ["1"] * cfg.state_dim},
        # The phrasings trained on, for grounding unseen ones at run time (vla_lite.text.grounding); checkpoints
        # from before this was recorded have none, and their bundles pass instructions through.
        "instruction": {**text.manifest_entry(),
                        **({"known": sorted(set(train["instructions"]))} if train.get("instructions") else {})},
        "action": {"mode": info.get("action_mode", "joint_position"), "dim": cfg.action_dim, "names": action_names,
                   "units": action_units, "low": list(low), "high": list(high)},
        "chunk": {"length": cfg.chunk_length, "replan_every": int(train.get("replan_every", cfg.chunk_length))},
        "control": {"rate_hz": float(train["rate_hz"])},
        "normalization": ckpt.normalization,
        "graphs": graphs,
        "provenance": {"trained": True, "role": ckpt.role, "teacher": train.get("teacher"),
                       "data": data.get("paths"), "calibration": calib.get("paths"), "checkpoint": ckpt.path.name,
                       "checkpoint_sha256": _sha256(ckpt.path), "training_commit": _git_commit(),
                       "text_encoder": {k: text.info.get(k) for k in ("variant", "bytes", "max_tokens")},
                       "model": {"size": train.get("size"), "config": json.loads(cfg.to_json())},
                       "dagger": train.get("dagger")},
        "members": {},
    }


def export(checkpoint, out, formats=RUNTIMES, precisions=PRECISIONS, calib=None, name: str | None = None,
           tflite_int8: str = "dynamic", onnx_int8: str = "dynamic", n_calibration: int = 128, n_parity: int = 64,
           progress=print, int8_budget: float = INT8_CALIBRATION_BUDGET,
           int8_max_float: float = INT8_MAX_FLOAT) -> dict:
    from vla_lite.backends import open_backend
    from vla_lite.bundle import load_bundle, write_bundle

    from . import graphs as g
    from .checkpoint import load_checkpoint
    from .parity import MIN_OBSERVATIONS, check_gate, compare
    from .text_cache import training_text_encoder
    from .train import load_training_data

    for f in formats:
        if f not in RUNTIMES:
            raise ValueError(f"--format {f!r} is unknown; expected a comma list of {list(RUNTIMES)}")
    for p in precisions:
        if p not in PRECISIONS:
            raise ValueError(f"--precision {p!r} is unknown; expected a comma list of {list(PRECISIONS)}")
    if onnx_int8 not in ONNX_INT8_SCHEMES:
        raise ValueError(f"--onnx-int8 {onnx_int8!r} is unknown; expected one of {list(ONNX_INT8_SCHEMES)}")
    if tflite_int8 not in TFLITE_INT8_SCHEMES:
        raise ValueError(f"--tflite-int8 {tflite_int8!r} is unknown; expected one of {list(TFLITE_INT8_SCHEMES)}")
    if not 0.0 < int8_budget <= 0.1:  # above the parity gate the search could only produce refused graphs
        raise ValueError(f"--int8-budget must be in (0, 0.1] (normalised action units), got {int8_budget!r}")
    if not 0.0 < int8_max_float <= 1.0:
        raise ValueError(f"--int8-max-float must be a fraction of the quantisable layers in (0, 1], got "
                         f"{int8_max_float!r}")
    if calib is None:
        raise ValueError("--calib DATA is required: held-out observations for int8 calibration and parity")
    ckpt = load_checkpoint(checkpoint)
    text = training_text_encoder(ckpt.train.get("text_encoder", {}).get("max_tokens", 32))
    ts, _, _, data = load_training_data([calib], ckpt.config.chunk_length, None, text.encode, cameras=ckpt.cameras,
                                        normalization=ckpt.normalization, progress=False, keep_failed=True)
    cal_rows, parity_rows = ts.split(0.5, seed=1)  # disjoint episodes: parity is never calibration data
    rng = np.random.default_rng(0)
    cal_rows = rng.choice(cal_rows, min(n_calibration, len(cal_rows)), replace=False)
    parity_rows = rng.choice(parity_rows, min(n_parity, len(parity_rows)), replace=False)
    if len(parity_rows) < MIN_OBSERVATIONS:
        raise ValueError(f"--calib {calib} gives {len(parity_rows)} parity observations; at least "
                         f"{MIN_OBSERVATIONS} are needed (record more held-out episodes)")
    calibration, parity_inputs = ts.inputs(cal_rows), ts.inputs(parity_rows)
    model = ckpt.model.eval()
    reference, cal_reference = _torch_actions(model, parity_inputs), _torch_actions(model, calibration)
    example = parity_inputs[0]

    def probe(runtime: str, precision: str, blob: bytes) -> np.ndarray:
        """Actions of one candidate graph on the calibration inputs, through the runtime's own backend."""
        member = f"policy/{precision}.{'onnx' if runtime == 'onnx' else 'tflite'}"
        m = build_manifest(ckpt, text, "probe", {runtime: {precision: member}}, data)
        with tempfile.TemporaryDirectory() as tmp:
            draft = load_bundle(write_bundle(Path(tmp) / "probe.vla", m, {**text.members(), member: blob}))
            return _infer_all(open_backend(draft, runtime, precision, threads=1), calibration)

    members, graphs, kept_float, int8_stored = text.members(), {}, {}, {}
    fp32_onnx = fp32_tflite = None
    for runtime in formats:
        for precision in precisions:
            progress(f"exporting {runtime} {precision} ...")
            if runtime == "onnx":
                fp32_onnx = fp32_onnx or g.onnx_fp32(model, example)
            elif precision == "fp32" or tflite_int8 == "dynamic":  # dynamic int8 rewrites the fp32 flatbuffer
                fp32_tflite = fp32_tflite or g.tflite_fp32(model, example)
            if precision == "fp32":
                blob = fp32_onnx if runtime == "onnx" else fp32_tflite
            elif runtime == "onnx":
                mixed = _onnx_int8_within_budget(fp32_onnx, calibration, cal_reference, onnx_int8, probe, progress,
                                                 int8_budget, int8_max_float)
                blob, kept_float[runtime], int8_stored[runtime] = mixed.blob, mixed.kept_float, mixed.int8_stored
            elif tflite_int8 == "dynamic":
                mixed = _tflite_int8_within_budget(fp32_tflite, cal_reference, probe, progress, int8_budget,
                                                   int8_max_float)
                blob, kept_float[runtime] = mixed.blob, mixed.kept_float
            else:
                blob = g.tflite_int8(model, example, calibration, "static")
            member = f"policy/{precision}.{'onnx' if runtime == 'onnx' else 'tflite'}"
            members[member] = blob
            graphs.setdefault(runtime, {})[precision] = member
    bundle_name = name or Path(out).stem
    manifest = build_manifest(ckpt, text, bundle_name, graphs, data)
    manifest["provenance"]["quantization"] = {
        "onnx.int8": ONNX_INT8_SCHEMES[onnx_int8],
        "tflite.int8": TFLITE_INT8_SCHEMES[tflite_int8]}
    if kept_float:  # runtime -> names left in float: ONNX node names, TFLite op output tensor names
        manifest["provenance"]["quantization"]["kept_fp32"] = kept_float
    if any(int8_stored.values()):  # runtime -> float weights stored as int8 (computed in fp32)
        manifest["provenance"]["quantization"]["int8_stored_fp32_weights"] = int8_stored
    with tempfile.TemporaryDirectory() as tmp:
        draft = load_bundle(write_bundle(Path(tmp) / "draft.vla", manifest, members))
        figures = {}
        for runtime, precision in draft.available():
            policy = open_backend(draft, runtime, precision, threads=1)
            got = _infer_all(policy, parity_inputs)
            fig = figures[f"{runtime}.{precision}"] = compare(reference, got)
            progress(f"parity {runtime} {precision}: max_abs {fig['max_abs']:.3g}, cosine {fig['cosine']:.6f} "
                     f"(n={fig['n']})")
            check_gate(f"{runtime}-{precision}", precision, fig)
    manifest["parity"] = figures
    path = write_bundle(out, manifest, members)
    bundle = load_bundle(path)
    return {"bundle": str(path), "bytes": path.stat().st_size, "name": bundle_name,
            "graphs": {f"{r}.{p}": bundle.sizes[bundle.manifest.graph_member(r, p)] for r, p in bundle.available()},
            "text_encoder_bytes": len(text.onnx_bytes), "parity": figures,
            "calibration_observations": len(calibration), "parity_observations": len(parity_inputs),
            "int8_schemes": {"onnx": onnx_int8, "tflite": tflite_int8}, "kept_fp32": kept_float,
            "int8_stored_fp32_weights": int8_stored}


def _infer_all(policy, inputs: list[dict]) -> np.ndarray:
    return np.stack([policy.infer({k: v for k, v in x.items() if k.startswith("image_")}, x["state"],
                                  x["instruction"]) for x in inputs])


def _torch_actions(model, inputs: list[dict]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.stack([model(**{k: torch.from_numpy(v) for k, v in x.items()})["actions"].numpy()[0]
                         for x in inputs])


def _onnx_int8_within_budget(fp32_onnx: bytes, calibration: list[dict], reference: np.ndarray, mode: str, probe,
                             progress, budget: float, max_float: float = 1 / 3):
    """The int8 ONNX graph, with its most sensitive layers kept in fp32 when needed (mixed_precision.py)."""
    from . import graphs as g
    from . import mixed_precision as mp

    def error(blob: bytes) -> float:
        return float(np.abs(probe("onnx", "int8", blob) - reference).max())

    def quantize(exclude: tuple) -> bytes:
        return g.onnx_int8(fp32_onnx, calibration, mode, exclude)

    def ranking() -> list:
        return mp.solo_ranking(mp.onnx_nodes(fp32_onnx, mode), quantize, error)

    cap = max(1, int(len(mp.onnx_nodes(fp32_onnx, mode)) * max_float))
    mixed = mp.keep_sensitive_in_float(quantize, error, ranking, budget, max_float=cap, progress=progress,
                                       label="onnx int8")
    # The weights left in float are stored as fp16; as int8 (a quarter of the bytes) where that keeps the
    # calibration error within the budget (or within the float-stored graph's own, when even that missed it).
    kept = tuple(mixed.kept_float)
    mixed.blob, mixed.int8_stored, mixed.calibration_max_abs = mp.store_int8_within(
        lambda stored: g.onnx_int8(fp32_onnx, calibration, mode, kept, stored), error,
        g.onnx_int8_float_weights(fp32_onnx, calibration, mode, kept), max(budget, mixed.calibration_max_abs),
        progress, label="onnx int8")
    return mixed


def _tflite_int8_within_budget(fp32_tflite: bytes, reference: np.ndarray, probe, progress, budget: float,
                               max_float: float = 1 / 3):
    """The dynamic-range int8 TFLite graph, with its most sensitive ops kept in fp32 when needed (tflite_mixed.py),
    each trial measured like ONNX's: the runtime's LiteRT backend on the calibration inputs."""
    from . import tflite_mixed

    def error(blob: bytes) -> float:
        return float(np.abs(probe("tflite", "int8", blob) - reference).max())

    return tflite_mixed.within_budget(fp32_tflite, error, budget, max_float, progress)


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to fd 1 (the converters' progress lines, from Python or C++) to fd 2, so stdout
    carries only the JSON summary."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def add_arguments(parser) -> None:
    a = parser.add_argument
    a("checkpoint", help="checkpoint (.safetensors) from vla-lite train/distill")
    a("-o", "--out", required=True, help="bundle to write (.vla)")
    a("--format", default="onnx,tflite", help="comma list: onnx, tflite")
    a("--precision", default="fp32,int8", help="comma list: fp32, int8")
    a("--calib", required=True, help="held-out dataset for int8 calibration and parity")
    a("--name", help="bundle name (default: the output file's stem)")
    a("--tflite-int8", choices=tuple(TFLITE_INT8_SCHEMES), default="dynamic",
      help="dynamic (default): int8 weights, activations quantised per inference, float I/O, the most sensitive "
           "ops kept in fp32 to meet --int8-budget; static: int8 weights and activations (int8 I/O), no fallback")
    a("--onnx-int8", choices=tuple(ONNX_INT8_SCHEMES), default="dynamic",
      help="dynamic (default): int8 weights, per-inference activation ranges; static: QDQ U8S8 calibrated on "
           "--calib (faster, but missed the 0.1 gate on small tabletop policies)")
    a("--int8-budget", type=float, default=INT8_CALIBRATION_BUDGET, metavar="ERR",
      help="int8 (onnx, and tflite dynamic): worst-case action error on the calibration set (normalised units) "
           f"above which the most sensitive layers are kept in fp32 (default {INT8_CALIBRATION_BUDGET}; lower it "
           "when the held-out parity gate at 0.1 refuses the graph)")
    a("--int8-max-float", type=float, default=INT8_MAX_FLOAT, metavar="FRACTION",
      help="int8 (onnx, and tflite dynamic): at most this fraction of the quantisable layers kept in fp32 to "
           "meet --int8-budget (default 1/3)")
    a("--json", action="store_true")


def run(args) -> int:
    from .parity import ParityGateFailed

    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    try:
        with stdout_to_stderr() if args.json else contextlib.nullcontext():
            summary = export(args.checkpoint, args.out, [f.strip() for f in args.format.split(",") if f.strip()],
                             [p.strip() for p in args.precision.split(",") if p.strip()], args.calib, args.name,
                             args.tflite_int8, args.onnx_int8, progress=log, int8_budget=args.int8_budget,
                             int8_max_float=args.int8_max_float)
    except ParityGateFailed as exc:
        print(f"vla-lite export: PARITY GATE FAILED, no bundle written: {exc}", file=sys.stderr)
        return 3
    except (ValueError, OSError) as exc:
        print(f"vla-lite export: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1) if args.json else
          f"wrote {summary['bundle']} ({summary['bytes'] / 1e6:.2f} MB; graphs {summary['graphs']}); parity "
          + ", ".join(f"{k} max_abs {v['max_abs']:.2g} cos {v['cosine']:.5f}" for k, v in summary["parity"].items()))
    return 0
