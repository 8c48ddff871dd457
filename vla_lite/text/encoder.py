"""Turn an instruction into the embedding the policy graph takes: WordPiece tokens -> the bundle's text encoder.

The encoder graph's contract (docs/BUNDLE.md): inputs `input_ids` and `attention_mask`, int64 (1, L); output
`embedding`, float32 (1, E), mean pooled over the mask and L2-normalised. It is checked when the encoder is built
(GraphMismatch otherwise), then run once on a probe sentence to confirm the output is a unit vector.

Instructions change rarely and repeat, so embeddings are cached by token ids (texts that tokenise alike, e.g.
"Touch the block" and "touch  the block", share an entry) in a bounded LRU. Cached arrays are read-only.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..bundle.errors import BackendUnavailable, GraphMismatch
from .tokenizer import WordPieceTokenizer

INPUTS = ("input_ids", "attention_mask")
OUTPUT = "embedding"
_PROBE = "touch the red block"
_UNIT_TOL = 1e-3  # |1 - ||embedding||| allowed for "L2-normalised"


class TextEncoder:
    def __init__(self, onnx_bytes: bytes, vocab_text: str, max_tokens: int, embedding_dim: int,
                 lowercase: bool = True, *, threads: int = 1, cache_size: int = 256, name: str = "text encoder"):
        import onnxruntime as ort

        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size must be an integer >= 0 (0: no cache), got {cache_size!r}")
        self.tokenizer = WordPieceTokenizer.from_vocab(vocab_text, lowercase=lowercase)
        self.max_tokens, self.embedding_dim, self.name = max_tokens, embedding_dim, name
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # don't steal the loop's core
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(onnx_bytes, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise GraphMismatch(f"{name}: onnxruntime cannot load the graph: {exc}") from exc
        self._check_signature()
        self._cache: OrderedDict[tuple[int, ...], np.ndarray] = OrderedDict()
        self.cache_size, self.hits, self.misses = cache_size, 0, 0
        ids, mask = self.tokenizer.encode(_PROBE, max_tokens)
        ids[0, 1] = len(self.tokenizer) - 1  # the highest id must have a row in the graph's embedding table
        try:
            self._run(ids, mask)
        except Exception as exc:
            raise GraphMismatch(f"{name}: the graph fails on token id {len(self.tokenizer) - 1} (the vocabulary "
                                f"has {len(self.tokenizer)} tokens; does it belong to this graph?): {exc}") from exc
        norm = float(np.linalg.norm(self._run(*self.tokenizer.encode(_PROBE, max_tokens))))
        if not abs(norm - 1.0) <= _UNIT_TOL:  # also catches NaN
            raise GraphMismatch(f"{name}: the embedding of {_PROBE!r} has L2 norm {norm:.6g}; the contract expects "
                                "a unit vector (mean pooling, then L2 normalisation inside the graph)")

    @classmethod
    def from_bundle(cls, bundle, threads: int = 1, cache_size: int = 256) -> "TextEncoder":
        """The encoder named by the bundle's manifest (`instruction.encoder` / `.vocab`), read and hash-checked."""
        spec = bundle.manifest.instruction
        if not spec.encoder or not spec.vocab:
            raise BackendUnavailable(f"{bundle.path} has no instruction encoder (instruction.encoder is null); "
                                     "the caller must supply (1, "
                                     f"{spec.embedding_dim}) instruction embeddings itself")
        try:
            vocab = bundle.read(spec.vocab).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GraphMismatch(f"{bundle.path}: {spec.vocab} is not UTF-8 text ({exc})") from None
        return cls(bundle.read(spec.encoder), vocab, spec.max_tokens, spec.embedding_dim, spec.lowercase,
                   threads=threads, cache_size=cache_size, name=f"{bundle.path}: {spec.encoder}")

    def encode(self, text: str) -> np.ndarray:
        """(E,) float32 unit vector for one instruction (read-only; the same array for a repeated instruction)."""
        if not isinstance(text, str):
            raise TypeError(f"instruction must be a str, got {type(text).__name__}")
        ids, mask = self.tokenizer.encode(text, self.max_tokens)
        if int(mask.sum()) <= 2:  # [CLS] [SEP] alone: nothing survived cleaning
            raise ValueError(f"instruction {text!r} is empty (after removing whitespace and control characters); "
                             "expected words such as 'touch the red block'")
        key = tuple(ids[0, :int(mask.sum())].tolist())
        hit = self._cache.get(key)
        if hit is not None:
            self.hits += 1
            self._cache.move_to_end(key)
            return hit
        self.misses += 1
        out = self._run(ids, mask)
        out.setflags(write=False)  # a caller editing it in place would corrupt the cache
        if self.cache_size:
            self._cache[key] = out
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return out

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = self.session.run([OUTPUT], {INPUTS[0]: ids, INPUTS[1]: mask})[0]
        return np.ascontiguousarray(out[0], dtype=np.float32)

    def _check_signature(self) -> None:
        got_in = {i.name: (list(i.shape), i.type) for i in self.session.get_inputs()}
        got_out = {o.name: (list(o.shape), o.type) for o in self.session.get_outputs()}
        if sorted(got_in) != sorted(INPUTS) or list(got_out) != [OUTPUT]:
            raise GraphMismatch(f"{self.name}: graph inputs {sorted(got_in)} and outputs {list(got_out)}; the "
                                f"contract expects inputs {list(INPUTS)} and the single output [{OUTPUT!r}]")
        want = {n: ([1, self.max_tokens], "tensor(int64)") for n in INPUTS}
        want[OUTPUT] = ([1, self.embedding_dim], "tensor(float)")
        for n, (shape, dtype) in {**got_in, **got_out}.items():
            if (shape, dtype) != want[n]:
                raise GraphMismatch(f"{self.name}: {n!r} is {dtype} {shape}; expected {want[n][1]} {want[n][0]} "
                                    f"(max_tokens={self.max_tokens}, embedding_dim={self.embedding_dim})")
