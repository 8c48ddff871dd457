"""A smaller instruction encoder for a bundle: the compact encoder's word table cut to the tokens it needs.

The compact encoder (text_compaction.py, 8.4 MB) spends ~2.3 MB on its word table: 27,898 product-quantised rows,
20,699 at 96 bytes and 7,199 rarer whole words at 48. A bundle's policy only ever learnt the phrasings it was trained
on, so `prune_encoder` keeps, of that table:
- the specials, every single character and every `##` piece: WordPiece spells any word the vocabulary lacks out of
  pieces ("shove" -> "sh ##ove"), so no ASCII word becomes [UNK] (the unknown-word handling);
- whole words among BERT's `common_words` commonest (its vocabulary lists whole words by corpus frequency after the
  single characters, ids 1996 on);
- every token of `keep_texts` (the phrasings the policy was trained on: the checkpoint's instructions).
Everything else of the graph is untouched and kept rows are the same bytes, so a sentence whose tokens are all kept
embeds exactly as before: the training phrasings' embeddings are bit-for-bit the ones the policy learnt on, and
only sentences with a dropped word change (measured by `compare`, cosine against the unpruned encoder).

    onnx_bytes, vocab_text, report = prune_encoder(onnx_bytes, vocab_text, keep_texts)
"""

from __future__ import annotations

import numpy as np

COMMON_WORDS = 5000  # BERT vocabulary ids below this that are whole words (about 2,800 words)
FINE, COARSE = "word.fine.codes", "word.coarse.codes"  # text_compaction's tiers as text_minilm.to_onnx names them


def kept_ids(tokens: list[str], keep_texts, common_words: int = COMMON_WORDS) -> list[int]:
    """Vocabulary ids (of `tokens`, the compact encoder's vocab.txt order) kept, in that order."""
    from vla_lite.text.tokenizer import WordPieceTokenizer

    from .text_minilm import vocab_tokens

    bert_id = {t: i for i, t in enumerate(vocab_tokens())}
    tokenizer = WordPieceTokenizer(tokens)
    needed = {piece for text in keep_texts for piece in tokenizer.tokenize(text)}

    def keep(t: str) -> bool:
        whole = not t.startswith("##") and len(t) > 1 and not (t.startswith("[") and t.endswith("]"))
        return not whole or bert_id.get(t, common_words) < common_words or t in needed
    return [i for i, t in enumerate(tokens) if keep(t)]


def prune_encoder(onnx_bytes: bytes, vocab_text: str, keep_texts, common_words: int = COMMON_WORDS
                  ) -> tuple[bytes, str, dict]:
    """-> (encoder.onnx bytes, vocab.txt text, report) with the word table cut to kept_ids. ValueError when the
    graph is not a two-tier compact encoder (text_compaction.CompactSpec with coarse_from_id)."""
    import onnx
    from onnx import numpy_helper

    tokens = vocab_text.splitlines()
    model = onnx.load_from_string(onnx_bytes)
    inits = {i.name: i for i in model.graph.initializer}
    if FINE not in inits or COARSE not in inits:
        raise ValueError(f"the encoder has no {FINE} and {COARSE} tables: only a two-tier compact encoder "
                         "(text_compaction.py) can be pruned")
    fine, coarse = numpy_helper.to_array(inits[FINE]), numpy_helper.to_array(inits[COARSE])
    n_fine = len(fine)
    if n_fine + len(coarse) != len(tokens):
        raise ValueError(f"the encoder's tables hold {n_fine} + {len(coarse)} rows but vocab.txt {len(tokens)} tokens")
    keep = np.array(kept_ids(tokens, keep_texts, common_words))
    keep_fine, keep_coarse = keep[keep < n_fine], keep[keep >= n_fine] - n_fine
    _replace(model, inits[FINE], fine[keep_fine])
    _replace(model, inits[COARSE], coarse[keep_coarse])
    # The tier boundary is baked into the graph as scalar Constants: n_fine (subtract, compare), n_fine - 1 (clamp).
    changed = 0
    for node in model.graph.node:
        for attr in node.attribute:
            if node.op_type == "Constant" and attr.type == onnx.AttributeProto.TENSOR and attr.t.dims in ([], [1]):
                value = numpy_helper.to_array(attr.t)
                if value.dtype.kind == "i" and int(value.reshape(-1)[0]) in (n_fine, n_fine - 1):
                    attr.t.CopyFrom(numpy_helper.from_array(value - n_fine + len(keep_fine)))
                    changed += 1
    out = model.SerializeToString()
    report = {"bytes_before": len(onnx_bytes), "bytes": len(out), "vocab_before": len(tokens), "vocab": len(keep),
              "common_words": common_words}
    return out, "\n".join(tokens[i] for i in keep) + "\n", report


def _replace(model, init, array: np.ndarray) -> None:
    from onnx import numpy_helper

    init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array), init.name))


def compare(before, after, texts) -> dict:
    """Cosine between two encoders' (callables text -> unit vector) embeddings of each text: mean, min, the worst
    text, and how many are identical."""
    cos = np.array([float(np.dot(before(t), after(t))) for t in texts])
    worst = int(cos.argmin())
    return {"n": len(texts), "cosine_mean": round(float(cos.mean()), 5), "cosine_min": round(float(cos.min()), 5),
            "worst": texts[worst], "identical": int((cos > 1 - 1e-6).sum())}


def pruned_encoder(text, keep_texts, common_words: int = COMMON_WORDS):
    """A text_cache.CachedTextEncoder with its word table cut (prune_encoder); info["pruned"] holds the report."""
    from vla_lite.text.encoder import TextEncoder

    from .text_cache import EMBEDDING_DIM, CachedTextEncoder

    onnx_bytes, vocab_text, report = prune_encoder(text.onnx_bytes, text.vocab_text, keep_texts, common_words)
    encoder = TextEncoder(onnx_bytes, vocab_text, text.info["max_tokens"], EMBEDDING_DIM, threads=1, cache_size=4096,
                          name="pruned text encoder")
    return CachedTextEncoder(onnx_bytes, vocab_text, {**text.info, "bytes": len(onnx_bytes), "pruned": report},
                             encoder)
