"""How far the instruction encoder alone carries unseen phrasings: a probe of all-MiniLM-L6-v2, no policy involved.

    python benchmarks/language_probe.py        # seconds; writes benchmarks/results/language_probe.json

The tabletop policy must tell which of six colours an instruction names. If an encoder puts an unseen phrasing
nearer the wrong colour's training phrasings, no policy reading its output can recover. For each split of
vla_lite.worlds.tabletop.instructions (paraphrase: unseen rewordings; heldout: the same with unseen colour synonyms) it
counts the phrasings whose colour is recovered from the encoder's output by
- nearest centroid of the training phrasings' embeddings (cosine), and
- a ridge-regression probe fitted on the training phrasings (the best a linear read-out of the embedding does),
for the bundle's compact encoder and fp32 MiniLM; and, for the synonym split, an oracle read of MiniLM's own
token states: the synonym's contextual vector against the colour words' (what cross-attention over tokens could
at best use), at every layer. Chance is one in six.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def labelled(split: str) -> tuple[list[str], np.ndarray]:
    from vla_lite.worlds.tabletop.instructions import COLOURS, all_instructions

    colours = list(COLOURS)
    pairs = [(colours.index(c), t) for c, texts in all_instructions(split).items() for t in texts]
    return [t for _, t in pairs], np.array([k for k, _ in pairs])


def read_outs(train_x, train_y, x, y) -> dict:
    """Correct colour counts of two read-outs fitted on the training phrasings."""
    centroids = np.stack([train_x[train_y == k].mean(0) for k in range(6)])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    bias = np.ones((len(train_x), 1))
    a = np.hstack([train_x, bias])
    w = np.linalg.solve(a.T @ a + 1e-2 * np.eye(a.shape[1]), a.T @ np.eye(6)[train_y])  # ridge, one-hot targets
    ridge = np.hstack([x, np.ones((len(x), 1))]) @ w
    return {"n": int(len(y)), "nearest_centroid": int((np.argmax(x @ centroids.T, 1) == y).sum()),
            "ridge_probe": int((np.argmax(ridge, 1) == y).sum())}


def token_states(model, tokenizer, texts: list[str], max_tokens: int):
    """[(B, L, 384) per layer, 0 = embeddings], ids (B, L), mask (B, L) from the fp32 MiniLM module."""
    import torch

    ids, mask = (np.concatenate(a) for a in zip(*(tokenizer.encode(t, max_tokens) for t in texts)))
    ids_t, m = torch.as_tensor(ids), torch.as_tensor(mask).float()
    with torch.no_grad():
        x = model.ln(model.word(ids_t.reshape(-1)).view(*ids.shape, -1) + model.pos)
        bias, layers = ((1.0 - m) * -1e9)[:, None, None, :], [x]
        for layer in model.layers:
            layers.append(layer(layers[-1], bias))
    return [h.numpy() for h in layers], ids, mask


def synonym_oracle(max_tokens: int = 32) -> dict:
    """Per layer: synonyms (in heldout phrasings) whose token-state mean is nearest their own colour word's."""
    from vla_lite.export.text_minilm import build_minilm
    from vla_lite.worlds.tabletop.instructions import COLOUR_SYNONYMS, COLOURS
    from vla_lite.text.tokenizer import WordPieceTokenizer

    model, vocab = build_minilm(max_tokens)
    tok = WordPieceTokenizer.from_vocab("\n".join(vocab) + "\n", lowercase=True)
    colours = list(COLOURS)

    def word_ids(word):
        ids, mask = tok.encode(word, max_tokens)
        return ids[0, 1:int(mask.sum()) - 1]  # without [CLS] and [SEP]

    train, train_y = labelled("train")
    held, held_y = labelled("heldout")
    tr_h, tr_ids, _ = token_states(model, tok, train, max_tokens)
    ho_h, ho_ids, _ = token_states(model, tok, held, max_tokens)
    out = []
    for layer in range(len(tr_h)):
        protos = []
        for k, c in enumerate(colours):
            cid = word_ids(c)[0]  # each colour word is one WordPiece
            protos.append(np.concatenate([tr_h[layer][i][tr_ids[i] == cid] for i in np.flatnonzero(train_y == k)])
                          .mean(0))
        protos = np.stack(protos)
        protos /= np.linalg.norm(protos, axis=1, keepdims=True)
        right = 0
        for i, text in enumerate(held):
            synonym = next(w for w in COLOUR_SYNONYMS[colours[held_y[i]]] if w in text.split())
            v = ho_h[layer][i][np.isin(ho_ids[i], word_ids(synonym))].mean(0)
            right += int(np.argmax(protos @ v) == held_y[i])
        out.append(right)
    return {"n": len(held), "correct_by_layer": out, "best": max(out)}


def main(argv=None) -> int:
    from vla_lite.export.text_cache import training_text_encoder

    result = {"chance": 1 / 6, "encoders": {}, "command": "python benchmarks/language_probe.py"}
    for name, compact in (("compact (bundle, 8.8 MB)", True), ("fp32 MiniLM (90 MB)", False)):
        enc = training_text_encoder(compact=compact)
        def embed(texts):
            return np.stack([np.asarray(enc.encode(t), np.float32).reshape(-1) for t in texts])
        train, train_y = labelled("train")
        tx = embed(train)
        result["encoders"][name] = {split: read_outs(tx, train_y, embed(labelled(split)[0]), labelled(split)[1])
                                    for split in ("train", "paraphrase", "heldout")}
    result["synonym_token_oracle_fp32"] = synonym_oracle()
    out = HERE / "results" / "language_probe.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    for name, splits in result["encoders"].items():
        for split, r in splits.items():
            print(f"{name:<26} {split:<10} nearest centroid {r['nearest_centroid']:>3}/{r['n']}  "
                  f"ridge probe {r['ridge_probe']:>3}/{r['n']}")
    o = result["synonym_token_oracle_fp32"]
    print(f"synonym token states (fp32, oracle attention): {o['correct_by_layer']} of {o['n']} by layer")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
