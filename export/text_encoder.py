"""Export the instruction encoder (all-MiniLM-L6-v2) as the bundle's `text/encoder.onnx` + `text/vocab.txt`.

The parts: text_minilm.py (the pretrained weights, a small self-written BERT that runs them, its ONNX export),
text_compaction.py (4-bit GPTQ layers, product-quantised embeddings, a pruned vocabulary: 90 MB -> 8.4 MB),
text_sentences.py (instruction-like sentences to calibrate the compaction and to measure it). This file puts them
together and measures the result against the fp32 model.

Measured (200 instruction sentences, cosine to fp32): 4-bit layers in groups of 128 + two-tier embeddings (default)
8.4 MB, mean 0.975 (worst 0.938); coarse from id 15000: -0.19 MB, 0.971 (worst 0.885); ## pieces coarse too: -0.12
MB, 0.974 (worst 0.919, "hand me the screwdriver"); one 2-bit tier: 8.6 MB, 0.978; groups of 64: +0.2 MB, +0.001;
all embeddings at 4 bits 11.5 MB, 0.994; all at 1 bit 7.3 MB, 0.902. Round-to-nearest 4-bit layers
lose 3-8x more than GPTQ; the embedding table has a flat spectrum (low rank fails) and needs ~4 bits for 0.995.
`python -m vla_lite.export.text_encoder --out DIR` exports and prints the report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .text_compaction import CompactSpec, compact_model
from .text_minilm import MODEL, build_minilm, to_onnx
from .text_sentences import evaluation_set

# The exporter's own sources: text_cache.py keys its cache by them, so a changed exporter never serves a stale graph.
SOURCES = ("text_encoder.py", "text_minilm.py", "text_compaction.py", "text_sentences.py")


def source_digest() -> str:
    """sha256 (hex) of SOURCES, in that order."""
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()


def fidelity(reference: np.ndarray, embeddings: np.ndarray) -> dict:
    """Compare (N, E) embeddings with fp32 ones of the same sentences: cosine (mean, min), whether each sentence
    keeps its nearest neighbour among the others, and the rank correlation of all pairwise similarities."""
    cos = (reference * embeddings).sum(1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(embeddings, axis=1)
    sims = []
    for e in (reference, embeddings):
        s = e @ e.T
        np.fill_diagonal(s, -np.inf)
        sims.append(s)
    iu = np.triu_indices(len(reference), 1)
    ranks = [s[iu].argsort().argsort() for s in sims]
    return {"n": len(reference), "cosine_mean": round(float(cos.mean()), 5), "cosine_min": round(float(cos.min()), 5),
            "nearest_neighbour_kept": round(float((sims[0].argmax(1) == sims[1].argmax(1)).mean()), 4),
            "pairwise_rank_corr": round(float(np.corrcoef(*ranks)[0, 1]), 5)}


def export_text_encoder(max_tokens: int = 32, compact: bool = True,
                        spec: CompactSpec = CompactSpec()) -> tuple[bytes, str, dict]:
    """-> (text/encoder.onnx bytes, text/vocab.txt text, report). The report gives the size, the export time and,
    for compact graphs, fidelity against the fp32 model on evaluation_set() and the encode latency."""
    import torch

    from vla_lite.text.encoder import TextEncoder

    t0 = time.perf_counter()
    torch.manual_seed(0)
    model, tokens = build_minilm(max_tokens)
    quantized = None
    sentences = evaluation_set()
    if compact:
        from vla_lite.text.tokenizer import WordPieceTokenizer

        tok = WordPieceTokenizer(tokens)
        enc = [tok.encode(s, max_tokens) for s in sentences]
        with torch.no_grad():  # fp32 reference, batched
            reference = model(*(torch.from_numpy(np.concatenate([e[i] for e in enc])) for i in (0, 1))).numpy()
        model, tokens, quantized = compact_model(model, tokens, spec, max_tokens)
    onnx_bytes, vocab = to_onnx(model, max_tokens, quantized, spec), "\n".join(tokens) + "\n"
    report = {"model": MODEL, "max_tokens": max_tokens, "compact": asdict(spec) if compact else None,
              "bytes": len(onnx_bytes), "vocab_size": len(tokens), "export_s": round(time.perf_counter() - t0, 1)}
    if compact:
        encoder = TextEncoder(onnx_bytes, vocab, max_tokens, embedding_dim=reference.shape[1], cache_size=0)
        times = []
        for s in sentences:
            t = time.perf_counter()
            encoder.encode(s)
            times.append(time.perf_counter() - t)
        report["fidelity_vs_fp32"] = fidelity(reference, np.stack([encoder.encode(s) for s in sentences]))
        report["encode_ms_median"] = round(1e3 * float(np.median(times)), 2)
    return onnx_bytes, vocab, report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vla_lite.export.text_encoder", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, help="folder for encoder.onnx, vocab.txt and report.json")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--fp32", action="store_true", help="the full fp32 graph (~90 MB) instead of the compact one")
    d = CompactSpec()
    p.add_argument("--layer-bits", type=int, default=d.layer_bits)
    p.add_argument("--layer-group", type=int, default=d.layer_group)
    p.add_argument("--embedding-subvector", type=int, default=d.embedding_subvector)
    p.add_argument("--coarse-from-id", type=int, default=d.coarse_from_id,
                   help="vocabulary ids from here on in the coarse tier (0: one tier)")
    p.add_argument("--coarse-subvector", type=int, default=d.coarse_subvector)
    p.add_argument("--keep-vocab", action="store_true", help="do not prune the vocabulary")
    a = p.parse_args(argv)
    spec = CompactSpec(a.layer_bits, a.layer_group, a.embedding_subvector, a.coarse_from_id or None,
                       a.coarse_subvector, not a.keep_vocab)
    onnx_bytes, vocab, report = export_text_encoder(a.max_tokens, compact=not a.fp32, spec=spec)
    print(json.dumps(report, indent=2))
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "encoder.onnx").write_bytes(onnx_bytes)
        (a.out / "vocab.txt").write_text(vocab, encoding="utf-8")
        (a.out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
