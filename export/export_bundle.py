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
import functools
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bundle_manifest import build_manifest

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


@dataclass(frozen=True)
class Int8Options:
    """How int8 graphs are made: the scheme per runtime, and the budget of the search that keeps the most sensitive
    layers in fp32 (mixed_precision.py, tflite_mixed.py). Raises ValueError naming a bad value (as its flag)."""
    onnx: str = "dynamic"  # a key of ONNX_INT8_SCHEMES
    tflite: str = "dynamic"  # a key of TFLITE_INT8_SCHEMES
    budget: float = INT8_CALIBRATION_BUDGET  # worst-case action error on the calibration set, normalised units
    max_float: float = INT8_MAX_FLOAT  # at most this fraction of the quantisable layers kept in fp32

    def __post_init__(self):
        if self.onnx not in ONNX_INT8_SCHEMES:
            raise ValueError(f"--onnx-int8 {self.onnx!r} is unknown; expected one of {list(ONNX_INT8_SCHEMES)}")
        if self.tflite not in TFLITE_INT8_SCHEMES:
            raise ValueError(f"--tflite-int8 {self.tflite!r} is unknown; expected one of {list(TFLITE_INT8_SCHEMES)}")
        if not 0.0 < self.budget <= 0.1:  # above the parity gate the search could only produce refused graphs
            raise ValueError(f"--int8-budget must be in (0, 0.1] (normalised action units), got {self.budget!r}")
        if not 0.0 < self.max_float <= 1.0:
            raise ValueError(f"--int8-max-float must be a fraction of the quantisable layers in (0, 1], got "
                             f"{self.max_float!r}")


@dataclass(frozen=True)
class Observations:
    """Held-out observations as graph inputs (docs/BUNDLE.md), and the PyTorch model's actions on them."""
    calibration: list  # [{input name: (1, ...) float32}]: int8 calibration and the mixed-precision search
    parity: list  # the same, from other episodes: the parity set
    cal_reference: np.ndarray  # (N_calibration, T, D) PyTorch actions, normalised
    reference: np.ndarray  # (N_parity, T, D)
    data: dict  # the calibration data's report (train.load_training_data)


def export(checkpoint, out, formats=RUNTIMES, precisions=PRECISIONS, calib=None, name: str | None = None,
           tflite_int8: str = "dynamic", onnx_int8: str = "dynamic", n_calibration: int = 128, n_parity: int = 64,
           progress=print, int8_budget: float = INT8_CALIBRATION_BUDGET,
           int8_max_float: float = INT8_MAX_FLOAT, text_common_words: int | None = None) -> dict:
    """checkpoint -> the bundle `out`, every graph checked by the runtime's own backend on the parity set; returns
    the summary. text_common_words: the encoder's word table cut to the phrasings trained on plus that many of
    BERT's commonest words (text_vocab.py; the phrasings trained on embed bit for bit as in training). Raises ValueError naming a bad option, ParityGateFailed (nothing written) for a graph past its gate."""
    from vla_lite.bundle import load_bundle, write_bundle

    from .checkpoint import load_checkpoint
    from .text_cache import training_text_encoder

    for f in formats:
        if f not in RUNTIMES:
            raise ValueError(f"--format {f!r} is unknown; expected a comma list of {list(RUNTIMES)}")
    for p in precisions:
        if p not in PRECISIONS:
            raise ValueError(f"--precision {p!r} is unknown; expected a comma list of {list(PRECISIONS)}")
    int8 = Int8Options(onnx_int8, tflite_int8, int8_budget, int8_max_float)
    if calib is None:
        raise ValueError("--calib DATA is required: held-out observations for int8 calibration and parity")
    ckpt = load_checkpoint(checkpoint)
    trained_with = ckpt.train.get("text_encoder", {})
    text = training_text_encoder(trained_with.get("max_tokens", 32))
    if trained_with.get("sha256", text.info["sha256"]) != text.info["sha256"]:
        raise ValueError(f"{checkpoint} was trained on instruction embeddings of encoder sha256 "
                         f"{trained_with['sha256'][:12]}, but the exporter now builds {text.info['sha256'][:12]} "
                         "(export/text_*.py changed since): export with the sources the checkpoint was trained with")
    if text_common_words is not None:
        from .text_vocab import pruned_encoder

        text = pruned_encoder(text, ckpt.train.get("instructions") or [], text_common_words)
    obs = observations(ckpt, text, calib, n_calibration, n_parity)
    members, graphs, kept_float, int8_stored = export_graphs(ckpt, text, obs, formats, precisions, int8, progress)
    bundle_name = name or Path(out).stem
    manifest = build_manifest(ckpt, text, bundle_name, graphs, obs.data)
    manifest["provenance"]["quantization"] = {
        "onnx.int8": ONNX_INT8_SCHEMES[int8.onnx],
        "tflite.int8": TFLITE_INT8_SCHEMES[int8.tflite]}
    if kept_float:  # runtime -> names left in float: ONNX node names, TFLite op output tensor names
        manifest["provenance"]["quantization"]["kept_fp32"] = kept_float
    if any(int8_stored.values()):  # runtime -> float weights stored as int8 (computed in fp32)
        manifest["provenance"]["quantization"]["int8_stored_fp32_weights"] = int8_stored
    manifest["parity"] = parity_figures(manifest, members, obs, progress)
    path = write_bundle(out, manifest, members)
    bundle = load_bundle(path)
    return {"bundle": str(path), "bytes": path.stat().st_size, "name": bundle_name,
            "graphs": {f"{r}.{p}": bundle.sizes[bundle.manifest.graph_member(r, p)] for r, p in bundle.available()},
            "text_encoder_bytes": len(text.onnx_bytes), "text_encoder_pruned": text.info.get("pruned"),
            "parity": manifest["parity"],
            "calibration_observations": len(obs.calibration), "parity_observations": len(obs.parity),
            "int8_schemes": {"onnx": int8.onnx, "tflite": int8.tflite}, "kept_fp32": kept_float,
            "int8_stored_fp32_weights": int8_stored}


def observations(ckpt, text, calib, n_calibration: int, n_parity: int) -> Observations:
    """Observations from --calib split by episode: one part calibrates int8, the other is the parity set."""
    from .parity import MIN_OBSERVATIONS
    from .train import load_training_data

    ts, _, _, data = load_training_data([calib], ckpt.config.chunk_length, None, text.encode, cameras=ckpt.cameras,
                                        normalization=ckpt.normalization, progress=False, keep_failed=True)
    cal_rows, parity_rows = ts.split(0.5, seed=1)  # disjoint episodes: parity is never calibration data
    rng = np.random.default_rng(0)
    cal_rows = rng.choice(cal_rows, min(n_calibration, len(cal_rows)), replace=False)
    parity_rows = rng.choice(parity_rows, min(n_parity, len(parity_rows)), replace=False)
    if len(parity_rows) < MIN_OBSERVATIONS:
        raise ValueError(f"--calib {calib} gives {len(parity_rows)} parity observations; at least "
                         f"{MIN_OBSERVATIONS} are needed (record more held-out episodes)")
    calibration, parity = ts.inputs(cal_rows), ts.inputs(parity_rows)
    model = ckpt.model.eval()
    reference, cal_reference = _torch_actions(model, parity), _torch_actions(model, calibration)
    return Observations(calibration, parity, cal_reference, reference, data)


def export_graphs(ckpt, text, obs: Observations, formats, precisions, int8: Int8Options, progress):
    """Each requested graph as bytes. -> (bundle members, the text encoder's first; {runtime: {precision: member}};
    {runtime: layers kept in float}; {runtime: float weights stored as int8})."""
    from . import graphs as g
    from . import mixed_precision, tflite_mixed

    model, example = ckpt.model, obs.parity[0]

    def error(runtime: str):  # error(graph) of the int8 candidates for one runtime
        return functools.partial(_calibration_error, ckpt, text, obs, runtime)

    members, graphs, kept_float, int8_stored = text.members(), {}, {}, {}
    fp32 = {}  # runtime -> its fp32 graph, converted once
    for runtime in formats:
        for precision in precisions:
            progress(f"exporting {runtime} {precision} ...")
            if runtime == "onnx":
                fp32[runtime] = fp32.get(runtime) or g.onnx_fp32(model, example)
            elif precision == "fp32" or int8.tflite == "dynamic":  # dynamic int8 rewrites the fp32 flatbuffer
                fp32[runtime] = fp32.get(runtime) or g.tflite_fp32(model, example)
            if precision == "fp32":
                blob = fp32[runtime]
            elif runtime == "onnx":
                mixed = mixed_precision.onnx_within_budget(fp32[runtime], obs.calibration, int8.onnx, error(runtime),
                                                           int8.budget, int8.max_float, progress)
                blob, kept_float[runtime], int8_stored[runtime] = mixed.blob, mixed.kept_float, mixed.int8_stored
            elif int8.tflite == "dynamic":
                mixed = tflite_mixed.within_budget(fp32[runtime], error(runtime), int8.budget, int8.max_float,
                                                   progress)
                blob, kept_float[runtime] = mixed.blob, mixed.kept_float
            else:
                blob = g.tflite_int8(model, example, obs.calibration, "static")
            members[_member(runtime, precision)] = blob
            graphs.setdefault(runtime, {})[precision] = _member(runtime, precision)
    return members, graphs, kept_float, int8_stored


def parity_figures(manifest: dict, members: dict, obs: Observations, progress) -> dict:
    """Each graph of the bundle-to-be, loaded by the runtime's own backend from a written draft, against PyTorch on
    the parity set. -> {"runtime.precision": figures}; raises ParityGateFailed for the first past its gate."""
    from vla_lite.backends import open_backend
    from vla_lite.bundle import load_bundle, write_bundle

    from .parity import check_gate, compare

    with tempfile.TemporaryDirectory() as tmp:
        draft = load_bundle(write_bundle(Path(tmp) / "draft.vla", manifest, members))
        figures = {}
        for runtime, precision in draft.available():
            policy = open_backend(draft, runtime, precision, threads=1)
            got = _infer_all(policy, obs.parity)
            fig = figures[f"{runtime}.{precision}"] = compare(obs.reference, got)
            progress(f"parity {runtime} {precision}: max_abs {fig['max_abs']:.3g}, cosine {fig['cosine']:.6f} "
                     f"(n={fig['n']})")
            check_gate(f"{runtime}-{precision}", precision, fig)
    return figures


def _member(runtime: str, precision: str) -> str:
    return f"policy/{precision}.{'onnx' if runtime == 'onnx' else 'tflite'}"


def _calibration_error(ckpt, text, obs: Observations, runtime: str, blob: bytes) -> float:
    """Worst-case action error of a candidate int8 graph against PyTorch on the calibration inputs, through the
    runtime's own backend (what the search that keeps sensitive layers in fp32 minimises)."""
    from vla_lite.backends import open_backend
    from vla_lite.bundle import load_bundle, write_bundle

    member = _member(runtime, "int8")
    m = build_manifest(ckpt, text, "probe", {runtime: {"int8": member}}, obs.data)
    with tempfile.TemporaryDirectory() as tmp:
        draft = load_bundle(write_bundle(Path(tmp) / "probe.vla", m, {**text.members(), member: blob}))
        got = _infer_all(open_backend(draft, runtime, "int8", threads=1), obs.calibration)
    return float(np.abs(got - obs.cal_reference).max())


def _infer_all(policy, inputs: list[dict]) -> np.ndarray:
    return np.stack([policy.infer({k: v for k, v in x.items() if k.startswith("image_")}, x["state"],
                                  x["instruction"]) for x in inputs])


def _torch_actions(model, inputs: list[dict]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.stack([model(**{k: torch.from_numpy(v) for k, v in x.items()})["actions"].numpy()[0]
                         for x in inputs])


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
    a("--text-common-words", type=int, metavar="N",
      help="a smaller instruction encoder: its vocabulary cut to the words of the phrasings trained on, every "
           "WordPiece piece and character (so no word is unknown) and BERT's N commonest words (5000: 8.4 -> 6.8 MB, "
           "10000: 7.3 MB); the phrasings trained on embed exactly as in training, unseen words less faithfully")
    a("--json", action="store_true")


def run(args) -> int:
    from .parity import ParityGateFailed

    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    try:
        with stdout_to_stderr() if args.json else contextlib.nullcontext():
            summary = export(args.checkpoint, args.out, [f.strip() for f in args.format.split(",") if f.strip()],
                             [p.strip() for p in args.precision.split(",") if p.strip()], args.calib, args.name,
                             args.tflite_int8, args.onnx_int8, progress=log, int8_budget=args.int8_budget,
                             int8_max_float=args.int8_max_float, text_common_words=args.text_common_words)
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
