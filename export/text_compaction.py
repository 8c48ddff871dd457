"""Compaction of the instruction encoder: fp32 is 90 MB; a bundle must stay <= 10 MB. `CompactSpec` stores:

- the 36 transformer matrices as 4-bit GPTQ codes (act-order, static groups of 128, asymmetric; Hessians from
  instruction-like sentences) run by onnxruntime's MatMulNBits (weight-only, fp32 arithmetic, ~40 MB RAM);
- the word-embedding table as product quantisation: each row cut into 384/sub slices, each a uint8 index into a
  256-entry fp16 codebook of its slice; only the L looked-up rows are decoded per call. Two tiers: whole words
  among WordPiece's later, rarer entries (ids from 20000) at 1 bit per weight (their own codebooks), everything
  else (pieces, characters, commoner words) at 2; a rare word keeps its own token, with a coarser vector;
- the vocabulary pruned to ASCII tokens plus single punctuation/symbol characters (30522 -> 27898 rows); vocab.txt
  is written to match, so ids stay consistent;
- the remaining float tensors (biases, norms, positions) as fp16 behind Casts folded at session start
  (text_minilm.to_onnx).

The measured trade-offs are in text_encoder.py's docstring.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from .text_sentences import calibration_set


@dataclass(frozen=True)
class CompactSpec:
    layer_bits: int = 4  # GPTQ bits per transformer weight: 4 or 8 (what MatMulNBits runs)
    layer_group: int = 128  # weights per (scale, zero point) along the input dimension (64: +0.2 MB, cosine +0.001)
    embedding_subvector: int = 4  # dims per PQ code: 8 / sub bits per embedding weight
    coarse_from_id: int | None = 20000  # whole words from this vocabulary id on (rarer) in a coarser tier; None: one
    coarse_subvector: int = 8  # dims per PQ code in the coarse tier (1 bit per weight)
    prune_vocab: bool = True  # keep ASCII tokens and single punctuation/symbol characters only
    calibration: int = 384  # instruction-like sentences for the GPTQ Hessians

    def __post_init__(self):
        if self.layer_bits not in (4, 8):
            raise ValueError(f"layer_bits must be 4 or 8 (onnxruntime MatMulNBits), got {self.layer_bits!r}")
        if self.layer_group not in (16, 32, 64, 128):  # MatMulNBits: a power of two >= 16; 384 = 3 * 128
            raise ValueError(f"layer_group must be 16, 32, 64 or 128, got {self.layer_group!r}")
        for name in ("embedding_subvector", "coarse_subvector"):
            if getattr(self, name) not in (1, 2, 3, 4, 6, 8, 12, 16):
                raise ValueError(f"{name} must divide 384 and be <= 16, got {getattr(self, name)!r}")
        if self.coarse_from_id is not None and (isinstance(self.coarse_from_id, bool) or
                                                not isinstance(self.coarse_from_id, int) or self.coarse_from_id < 1):
            raise ValueError(f"coarse_from_id must be a vocabulary id >= 1 or None, got {self.coarse_from_id!r}")


def prune_vocab(tokens: list[str]) -> list[int]:
    """Ids kept: specials, ASCII tokens (words and ## pieces), single punctuation/symbol characters."""
    def keep(t):
        if t.startswith("[unused"):
            return False
        c = t[2:] if t.startswith("##") else t
        return t.isascii() or (len(c) == 1 and unicodedata.category(c)[0] in "PS")
    return [i for i, t in enumerate(tokens) if keep(t)]


def _grid(w, bits):
    """Asymmetric grid per row of w (out, g): scale (fp16-exact) and integer zero point, both (out, 1)."""
    import torch

    lo, hi = w.amin(1, keepdim=True).clamp(max=0), w.amax(1, keepdim=True).clamp(min=0)
    scale = ((hi - lo) / (2 ** bits - 1)).clamp(min=1e-8).half().double()  # what the file will hold
    return scale, torch.round(-lo / scale).clamp(0, 2 ** bits - 1)


def gptq(weight, hessian, bits: int, group: int, damp: float = 0.01):
    """GPTQ (Frantar et al. 2022) with act-order and static groups. weight (out, in), hessian (in, in) = 2 X^T X / n.
    -> codes (out, in) uint8, scale (out, in/group) float16, zero (out, in/group) uint8."""
    import torch

    W, H = weight.double().clone(), hessian.double().clone()
    n = W.shape[1]
    dead = torch.diag(H) == 0
    H[dead, dead], W[:, dead] = 1, 0
    grids = [_grid(W[:, g:g + group], bits) for g in range(0, n, group)]  # from the original weights
    perm = torch.argsort(torch.diag(H), descending=True)  # act-order: most-used inputs first
    W, H = W[:, perm], H[perm][:, perm]
    H += damp * torch.mean(torch.diag(H)) * torch.eye(n, dtype=H.dtype)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    codes = torch.zeros_like(W)
    for i1 in range(0, n, 128):  # lazy batch updates, 128 columns at a time
        i2 = min(i1 + 128, n)
        W1, err, Hi = W[:, i1:i2].clone(), torch.zeros_like(W[:, i1:i2]), Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            scale, zero = grids[int(perm[i1 + i]) // group]
            w = W1[:, i:i + 1]
            q = torch.clamp(torch.round(w / scale) + zero, 0, 2 ** bits - 1)
            codes[:, i1 + i] = q[:, 0]
            e = (w - (q - zero) * scale) / Hi[i, i]
            W1[:, i:] -= e @ Hi[i:i + 1, i:]
            err[:, i] = e[:, 0]
        W[:, i2:] -= err @ Hinv[i1:i2, i2:]
    codes = codes[:, torch.argsort(perm)].to(torch.uint8)
    scale = torch.cat([s for s, _ in grids], 1).half()
    zero = torch.cat([z for _, z in grids], 1).to(torch.uint8)
    return codes, scale, zero


def pq_tables():
    """-> (PQTable, TieredPQTable): product-quantised word-embedding tables, torch modules (torch imported on first
    use)."""
    import torch
    from torch import nn

    class PQTable(nn.Module):  # product-quantised embeddings; decodes only the rows looked up
        def __init__(self, codes, books):
            super().__init__()
            self.register_buffer("codes", torch.as_tensor(codes))  # (V, M) uint8
            self.register_buffer("books", torch.as_tensor(books))  # (M, 256, sub) float16
            self.register_buffer("offsets", torch.arange(codes.shape[1]) * books.shape[1])  # (M,) int64

        def forward(self, ids):
            flat = self.codes.index_select(0, ids).long() + self.offsets  # (n, M) rows of the flat codebook
            m, k, sub = self.books.shape
            return self.books.reshape(m * k, sub).float().index_select(0, flat.reshape(-1)).reshape(-1, m * sub)

    class TieredPQTable(nn.Module):  # rows [0, n_fine) from `fine`, the rest (rarer tokens) from `coarse`
        def __init__(self, fine, coarse):
            super().__init__()
            self.fine, self.coarse, self.n_fine = fine, coarse, int(fine.codes.shape[0])

        def forward(self, ids):  # both tiers decode every looked-up row (L of them); the id picks one
            f = self.fine(ids.clamp(max=self.n_fine - 1))
            c = self.coarse((ids - self.n_fine).clamp(min=0))
            return torch.where((ids < self.n_fine).unsqueeze(-1), f, c)

    return PQTable, TieredPQTable


def product_quantize(table, sub: int, iters: int = 20, sample: int = 8192, seed: int = 0, centroids: int = 256):
    """k-means (`centroids` <= 256) per sub-dimensional slice of the rows, fitted on `sample` random rows (then every
    row takes its nearest centroid). table (V, d) float32 -> codes (V, d/sub) uint8, codebooks (d/sub, centroids,
    sub) float16."""
    import torch

    V, d = table.shape
    if d % sub:
        raise ValueError(f"embedding_subvector must divide the width {d}, got {sub}")
    X = table.reshape(V, d // sub, sub).transpose(0, 1).contiguous()  # (M, V, sub)
    g = torch.Generator().manual_seed(seed)
    fit = torch.randperm(V, generator=g)[:sample]
    books, codes = [], []
    step = max(1, (1 << 26) // (V * centroids))  # subspaces per pass: (step, V, k) float32 distances <= 256 MB
    for j in range(0, X.shape[0], step):
        x = X[j:j + step]
        def nearest(pts, C):  # (m, n, sub), (m, k, sub) -> (m, n) centroid index; |x|^2 dropped
            return ((C * C).sum(-1)[:, None, :] - 2 * pts @ C.transpose(1, 2)).argmin(-1)
        xs = x[:, fit]
        C = xs[:, :centroids].clone()  # initial centroids: random rows
        for _ in range(iters):
            a = nearest(xs, C)
            sums = torch.zeros_like(C).scatter_add_(1, a[..., None].expand(-1, -1, sub), xs)
            count = torch.zeros(C.shape[:2]).scatter_add_(1, a, torch.ones(a.shape))
            C = torch.where(count[..., None] > 0, sums / count.clamp(min=1)[..., None], C)  # empty: keep
        C = C.half()
        books.append(C)
        codes.append(nearest(x, C.float()))
    return torch.cat(codes).T.contiguous().to(torch.uint8), torch.cat(books)


def _hessians(model, tokenizer, sentences, max_tokens):
    """2 X^T X / n over the real (unpadded) tokens at every Linear's input, from the fp32 model."""
    import torch

    enc = [tokenizer.encode(s, max_tokens) for s in sentences]
    ids = torch.from_numpy(np.concatenate([e[0] for e in enc]))
    mask = torch.from_numpy(np.concatenate([e[1] for e in enc]))
    H, hooks = {}, []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear):
            def hook(_mod, inp, _out, name=name):
                x = inp[0][mask.bool()].double()
                H[name] = 2 * x.T @ x / x.shape[0]
            hooks.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        model(ids, mask)
    for h in hooks:
        h.remove()
    return H


def compact_model(model, tokens: list[str], spec: CompactSpec, max_tokens: int):
    """The fp32 module rewritten per `spec` (in place): Linear weights replaced by their dequantised GPTQ values,
    the word table by its PQ form. -> (module, vocabulary tokens it expects, {linear name: (codes, scale, zero)})."""
    import torch

    from vla_lite.text.tokenizer import WordPieceTokenizer

    PQTable, TieredPQTable = pq_tables()
    H = _hessians(model, WordPieceTokenizer(tokens), calibration_set(spec.calibration), max_tokens)
    quantized = {}
    for name, lin in [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]:
        codes, scale, zero = quantized[name] = gptq(lin.weight, H[name], spec.layer_bits, spec.layer_group)
        groups = (codes.float().reshape(*scale.shape, -1) - zero.float()[..., None]) * scale.float()[..., None]
        lin.weight.data = groups.reshape(lin.weight.shape)  # what MatMulNBits computes with
    keep = prune_vocab(tokens) if spec.prune_vocab else list(range(len(tokens)))
    codes, books = product_quantize(model.word.weight[keep], spec.embedding_subvector)  # every row, in id order
    fine = [k for k, i in enumerate(keep) if not is_coarse(tokens, i, spec)]  # positions in `keep`
    coarse = [k for k, i in enumerate(keep) if is_coarse(tokens, i, spec)]
    word = PQTable(codes, books)
    if coarse and fine:  # vocab.txt order: the fine tier first
        word = TieredPQTable(PQTable(codes[fine], books),
                             PQTable(*product_quantize(model.word.weight[[keep[k] for k in coarse]],
                                                       spec.coarse_subvector)))
        keep = [keep[k] for k in fine + coarse]
    model.word = word
    return model, [tokens[i] for i in keep], quantized


def is_coarse(tokens: list[str], i: int, spec: CompactSpec) -> bool:
    """Whether vocabulary id i goes to the coarse tier: a whole word (not a ## piece, not one character) from
    `coarse_from_id` on. Pieces stay fine: they spell out every word the vocabulary lacks ("screw ##drive ##r"),
    and in the coarse tier took such sentences to 0.92 cosine."""
    t = tokens[i]
    return spec.coarse_from_id is not None and i >= spec.coarse_from_id and not t.startswith("##") and len(t) > 1
