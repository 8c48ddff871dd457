"""One exported text encoder shared by training, distillation and export, built once and cached on disk.

Training embeds instructions with exactly the graph the bundle will carry (the runtime's TextEncoder on the
exported ONNX), so the policy never sees an embedding at run time that differs from the ones it learnt on.
Cache: $VLA_LITE_CACHE (default ~/.cache/vla-lite)/text-encoder-<variant>-L<max_tokens>-<exporter hash>/
{encoder.onnx, vocab.txt, report.json}; delete the folder to rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from vla_lite.atomic import atomic_write_bytes

MAX_TOKENS = 32
EMBEDDING_DIM = 384
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class CachedTextEncoder:
    onnx_bytes: bytes
    vocab_text: str
    info: dict  # variant, max_tokens, size, fidelity report
    encoder: object  # vla_lite.text.TextEncoder

    def encode(self, text: str):
        return self.encoder.encode(text)

    def manifest_entry(self) -> dict:
        """The bundle manifest's `instruction` section for this encoder."""
        return {"encoder": "text/encoder.onnx", "vocab": "text/vocab.txt", "max_tokens": self.info["max_tokens"],
                "embedding_dim": EMBEDDING_DIM, "lowercase": True, "model": MODEL}

    def members(self) -> dict[str, bytes]:
        return {"text/encoder.onnx": self.onnx_bytes, "text/vocab.txt": self.vocab_text.encode("utf-8")}


def cache_root() -> Path:
    return Path(os.environ.get("VLA_LITE_CACHE", Path.home() / ".cache" / "vla-lite"))


def training_text_encoder(max_tokens: int = MAX_TOKENS, compact: bool = True) -> CachedTextEncoder:
    from vla_lite.text.encoder import TextEncoder

    from .text_encoder import source_digest

    # Keyed by the exporter's own sources: a changed exporter never serves a stale graph.
    source = source_digest()[:12]
    folder = cache_root() / f"text-encoder-{'compact' if compact else 'fp32'}-L{max_tokens}-{source}"
    onnx_path, vocab_path, report_path = folder / "encoder.onnx", folder / "vocab.txt", folder / "report.json"
    if not (onnx_path.is_file() and vocab_path.is_file() and report_path.is_file()):
        from .text_encoder import export_text_encoder

        onnx_bytes, vocab_text, report = export_text_encoder(max_tokens=max_tokens, compact=compact)
        folder.mkdir(parents=True, exist_ok=True)
        for path, data in ((onnx_path, onnx_bytes), (vocab_path, vocab_text.encode("utf-8")),
                           (report_path, json.dumps({**_jsonable(report), "max_tokens": max_tokens,
                                                     "variant": "compact" if compact else "fp32"},
                                                    indent=1).encode())):
            atomic_write_bytes(path, data)
    onnx_bytes, vocab_text = onnx_path.read_bytes(), vocab_path.read_text(encoding="utf-8")
    info = json.loads(report_path.read_text())
    info["bytes"] = len(onnx_bytes)
    info["sha256"] = hashlib.sha256(onnx_bytes).hexdigest()  # checkpoints record it: export refuses another graph
    encoder = TextEncoder(onnx_bytes, vocab_text, max_tokens, EMBEDDING_DIM, threads=1, cache_size=4096,
                          name=str(onnx_path))
    return CachedTextEncoder(onnx_bytes, vocab_text, info, encoder)


def _jsonable(report) -> dict:
    return json.loads(json.dumps(report, default=str)) if isinstance(report, dict) else {"report": str(report)}
