"""The language side: WordPiece parity with HF `tokenizers`, the runtime TextEncoder on real exported MiniLM graphs
(parity with `transformers`, cache, contract checks), and the compact export's size and fidelity.

The fp32 graph is exported once per session (~5 s). The compact export takes 30-60 s on a shared 2-core machine,
so it is cached in the temp folder under a hash of the export code and the weights; a changed exporter rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bundle_factory import base_manifest
from vla_lite.bundle import load_bundle, write_bundle
from vla_lite.bundle.errors import BackendUnavailable, GraphMismatch
from vla_lite.export import text_compaction as tc
from vla_lite.export import text_encoder as te
from vla_lite.export import text_minilm as tm
from vla_lite.export import text_sentences as sents
from vla_lite.text.encoder import TextEncoder
from vla_lite.text.tokenizer import WordPieceTokenizer

L = 32
CORPUS = [
    "touch the red block", "Touch the RED block!", "pick up the cup, then put it down.", "open the drawer; close it",
    "Café crème, naïve façade, Ångström, jalapeño", "ΟΔΟΣ Straße İstanbul", "move 15.5 cm at 3:45pm (2x faster)",
    "it's the robot's arm — don't hit it…", "\"quoted\" [bracketed] {braced} <angled> ~tilde~ `tick` ^caret^",
    "$100 + 20% = #1 @home & co | a/b\\c", "中文字符和日本語のテキスト", "한국어 텍스트 and русский текст", "emoji 🤖👍 robot",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u3000ideographic", "zero\u200bwidth\ufeffjoiner", "ctrl\x00\x07\x1bchars\ufffd",
    "unaffable unbelievably antidisestablishmentarianism", "x" * 101, "y" * 100, "supercalifragilisticexpialidocious",
    "[CLS] literal [SEP] specials [MASK] and [UNK] [PAD] but not [cls]", "a[SEP]b", "", "   ", "!!!", "1234567890",
    "word " * 40, "naïve" * 30, "ﬁnance ﬂow ½ ² ℃ Ⅻ", "e\u0301 vs é", "Ǆ ǅ ǆ ẞ ß", "a\u2028b\u2029c\x85d",
]


def _hf(max_tokens: int, lowercase: bool = True):
    from tokenizers import Tokenizer, normalizers

    tok = Tokenizer.from_str(tm.tokenizer_json())
    if not lowercase:
        tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=False)
    tok.enable_truncation(max_tokens)
    tok.enable_padding(length=max_tokens)
    return tok


@pytest.fixture(scope="module")
def vocab_text() -> str:
    return "\n".join(tm.vocab_tokens()) + "\n"


def _fuzz(n: int, seed: int) -> list[str]:
    """Random strings over ASCII, Latin, Greek, combining marks, general punctuation, CJK and specials."""
    rng = random.Random(seed)
    pool = [chr(c) for c in [*range(0, 0x250), *range(0x300, 0x370), *range(0x391, 0x3ca), *range(0x2000, 0x2070),
                             *range(0x3000, 0x3040), *range(0x4e00, 0x4e40), 0xfffd, 0x1f600, 0xac00, 0xe000]]
    words = ["touch", "the", "[SEP]", "[MASK]", "Café", "unaffable", "z" * 101]
    out = []
    for _ in range(n):
        s = "".join(rng.choice(pool) if rng.random() < 0.4 else rng.choice("abcdefgh .,") for _ in range(rng.randint(0, 30)))
        out.append(" ".join(rng.choice(words + [s]) for _ in range(rng.randint(1, 8))) if rng.random() < 0.5 else s)
    return out


def test_importing_the_text_side_loads_no_heavy_framework():
    probe = "import sys, vla_lite.text; print([m for m in ('torch', 'onnxruntime', 'tokenizers') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- tokenizer ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("max_tokens", [L, 8])
def test_tokenizer_matches_hf_tokenizers(vocab_text, max_tokens):
    ours, hf = WordPieceTokenizer.from_vocab(vocab_text), _hf(max_tokens)
    for text in CORPUS + _fuzz(1500, seed=max_tokens):
        ids, mask = ours.encode(text, max_tokens)
        ref = hf.encode(text)
        assert ids.dtype == mask.dtype == np.int64 and ids.shape == mask.shape == (1, max_tokens)
        assert (ids[0].tolist(), mask[0].tolist()) == (ref.ids, ref.attention_mask), repr(text)


def test_tokenizer_without_lowercase_matches_hf(vocab_text):
    ours, hf = WordPieceTokenizer.from_vocab(vocab_text, lowercase=False), _hf(L, lowercase=False)
    for text in CORPUS[:12]:
        assert ours.encode(text, L)[0][0].tolist() == hf.encode(text).ids, repr(text)


def test_wordpiece_rules(vocab_text):
    tok = WordPieceTokenizer.from_vocab(vocab_text)
    assert tok.tokenize("Unaffable!") == ["una", "##ffa", "##ble", "!"]  # greedy longest match first
    assert tok.tokenize("Café") == ["cafe"]  # accents stripped, lower-cased
    assert tok.tokenize("q" * 101 + " ok") == ["[UNK]", "ok"]  # over 100 characters: one [UNK]
    assert tok.tokenize("a[SEP]b") == ["a", "[SEP]", "b"]  # written specials stay whole, as in HF
    assert tok.tokenize("中文") == ["中", "文"]


def test_padding_and_truncation(vocab_text):
    tok = WordPieceTokenizer.from_vocab(vocab_text)
    cls, sep, pad = tok.cls_id, tok.sep_id, tok.pad_id
    ids, mask = tok.encode("touch the red block", 8)
    assert ids[0].tolist() == [cls, *[tok.vocab[w] for w in "touch the red block".split()], sep, pad, pad]
    assert mask[0].tolist() == [1] * 6 + [0] * 2
    ids, mask = tok.encode("word " * 50, 8)  # truncated: [SEP] still ends the sequence
    assert ids[0].tolist() == [cls] + [tok.vocab["word"]] * 6 + [sep] and mask.all()
    assert tok.encode("", 4)[0][0].tolist() == [cls, sep, pad, pad]
    with pytest.raises(ValueError, match="max_tokens must be an integer >= 3.*got 2"):
        tok.encode("hi", 2)


def test_bad_vocabularies_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"lacks \['\[CLS\]'\]"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[SEP]", "a"])
    with pytest.raises(ValueError, match="'a' appears twice"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "a"])
    with pytest.raises(ValueError, match="cannot read vocabulary file"):
        WordPieceTokenizer.from_vocab(tmp_path / "missing.txt")
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhi\n", encoding="utf-8")
    assert WordPieceTokenizer.from_vocab(path).encode("Hi", 4)[0][0].tolist() == [2, 4, 3, 0]


# --- encoders on real graphs ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fp32_graph() -> tuple[bytes, str]:
    onnx_bytes, vocab, report = te.export_text_encoder(L, compact=False)
    assert report["vocab_size"] == 30522 and report["compact"] is None
    return onnx_bytes, vocab


@pytest.fixture(scope="module")
def compact_graph() -> tuple[bytes, str, dict]:
    key = hashlib.sha256(te.source_digest().encode() + Path(tm.minilm_zip()).read_bytes()[-4096:]
                         + str(L).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "vla-lite-test-cache" / f"text-compact-{key}"
    if not (folder / "report.json").is_file():
        onnx_bytes, vocab, report = te.export_text_encoder(L, compact=True)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "encoder.onnx").write_bytes(onnx_bytes)
        (folder / "vocab.txt").write_text(vocab, encoding="utf-8")
        (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")  # written last: marks complete
    return ((folder / "encoder.onnx").read_bytes(), (folder / "vocab.txt").read_text(encoding="utf-8"),
            json.loads((folder / "report.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    """transformers' BertModel on the package weights, mean pooled and normalised: the sentence-transformers recipe."""
    import torch
    from transformers import BertModel

    sentences = sents.evaluation_set()[:40]
    with tempfile.TemporaryDirectory() as d:
        with zipfile.ZipFile(tm.minilm_zip()) as zf:
            zf.extractall(d)
        model = BertModel.from_pretrained(d).eval()
    hf = _hf(L)
    enc = [hf.encode(s) for s in sentences]
    ids, mask = torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])
    with torch.no_grad():
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
    pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return dict(zip(sentences, torch.nn.functional.normalize(pooled, dim=-1).numpy()))


def _cos(a, b) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_fp32_encoder_matches_transformers(fp32_graph, reference):
    enc = TextEncoder(*fp32_graph, max_tokens=L, embedding_dim=384)
    assert len(reference) >= 32
    for text, ref in reference.items():
        got = enc.encode(text)
        assert got.shape == (384,) and got.dtype == np.float32
        assert _cos(got, ref) >= 0.9999 and np.abs(got - ref).max() < 1e-4, text


def test_compact_encoder_size_and_fidelity(compact_graph, reference):
    onnx_bytes, vocab, report = compact_graph
    assert len(onnx_bytes) <= 8.45e6 and report["bytes"] == len(onnx_bytes)  # 8.39 MB: two embedding tiers
    assert report["vocab_size"] == len(vocab.splitlines()) < 30522  # pruned, and vocab.txt written to match
    f = report["fidelity_vs_fp32"]
    assert f["n"] == 200 and f["cosine_mean"] >= 0.97 and f["pairwise_rank_corr"] >= 0.95
    enc = TextEncoder(onnx_bytes, vocab, max_tokens=L, embedding_dim=384)
    cos = [_cos(enc.encode(t), ref) for t, ref in reference.items()]  # independent of the report's own figures
    assert np.mean(cos) >= 0.97 and min(cos) >= 0.93


@pytest.mark.parametrize("graph", ["fp32_graph", "compact_graph"])
def test_semantics_survive(graph, request):
    g = request.getfixturevalue(graph)
    enc = TextEncoder(g[0], g[1], max_tokens=L, embedding_dim=384)
    def sim(a, b):
        return float(enc.encode(a) @ enc.encode(b))
    assert sim("touch the red block", "tap the red cube") > sim("touch the red block", "open the drawer") + 0.1
    assert sim("open the drawer", "pull the drawer open") > sim("open the drawer", "pick up the banana") + 0.1
    assert sim("pick up the blue cup", "grab the blue mug") > sim("pick up the blue cup", "wave hello") + 0.1


def test_cache_returns_the_same_array_without_running_again(fp32_graph):
    enc = TextEncoder(*fp32_graph, max_tokens=L, embedding_dim=384, cache_size=2)
    runs = []
    real_run = enc.session.run
    enc.session.run = lambda *a, **k: runs.append(1) or real_run(*a, **k)  # count graph runs (not the cache)
    a = enc.encode("touch the red block")
    assert enc.encode("  Touch the RED block ") is a and len(runs) == 1  # same tokens: a cache hit
    assert (enc.hits, enc.misses) == (1, 1)
    with pytest.raises(ValueError):
        a[0] = 1.0  # read-only: callers cannot corrupt the cache
    enc.encode("open the drawer")
    enc.encode("wave hello")  # evicts the least recently used entry (bounded)
    assert len(runs) == 3 and enc.encode("touch the red block") is not a and len(runs) == 4


@pytest.mark.parametrize("text", ["", "   ", "\t\n", "\x00\x1b\u200b"])
def test_empty_instruction_is_refused(fp32_graph, text):
    enc = TextEncoder(*fp32_graph, max_tokens=L, embedding_dim=384)
    with pytest.raises(ValueError, match="is empty"):
        enc.encode(text)
    with pytest.raises(TypeError, match="must be a str"):
        enc.encode(b"touch")


# --- contract checks on small hand-built graphs -------------------------------------------------------------------

VOCAB = "[PAD]\n[UNK]\n[CLS]\n[SEP]\ntouch\nthe\nred\nblock\n"


def tiny_graph(names=("input_ids", "attention_mask"), out="embedding", dim=8, rows=8, normalise=True,
               length=L) -> bytes:
    """Gather -> masked mean -> L2 normalise, built with onnx.helper: the contract with random weights."""
    from onnx import TensorProto, helper, numpy_helper

    table = numpy_helper.from_array(np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32), "W")
    nodes = [helper.make_node("Gather", ["W", names[0]], ["x"]),
             helper.make_node("Cast", [names[1]], ["m"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["m", "ax2"], ["m3"]),
             helper.make_node("Mul", ["x", "m3"], ["xm"]),
             helper.make_node("ReduceSum", ["xm", "ax1"], ["s"], keepdims=0),
             helper.make_node("ReduceSum", ["m3", "ax1"], ["n"], keepdims=0),
             helper.make_node("Div", ["s", "n"], ["mean" if normalise else out])]
    if normalise:
        nodes.append(helper.make_node("LpNormalization", ["mean"], [out], axis=-1, p=2))
    consts = [numpy_helper.from_array(np.array([1], np.int64), "ax1"), numpy_helper.from_array(np.array([2], np.int64), "ax2")]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info(n, TensorProto.INT64, [1, length]) for n in names],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, dim])], [table, *consts])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_tiny_graph_is_accepted():
    enc = TextEncoder(tiny_graph(), VOCAB, max_tokens=L, embedding_dim=8)
    assert enc.encode("touch the red block").shape == (8,)


@pytest.mark.parametrize("graph, dim, match", [
    (dict(names=("ids", "attention_mask")), 8, r"inputs \['attention_mask', 'ids'\]"),
    (dict(out="pooled"), 8, r"outputs \['pooled'\]"),
    (dict(), 384, r"'embedding' is tensor\(float\) \[1, 8\]; expected tensor\(float\) \[1, 384\]"),
    (dict(length=16), 8, r"'input_ids' is tensor\(int64\) \[1, 16\]; expected tensor\(int64\) \[1, 32\]"),
    (dict(normalise=False), 8, "L2 norm .*expects a unit vector"),
    (dict(rows=5), 8, "fails on token id 7 .*vocabulary has 8 tokens"),
])
def test_contract_violations_are_named(graph, dim, match):
    with pytest.raises(GraphMismatch, match=match):
        TextEncoder(tiny_graph(**graph), VOCAB, max_tokens=L, embedding_dim=dim)


def _bundle(tmp_path, instruction: dict, members: dict):
    m = base_manifest()
    m["instruction"] = {**m["instruction"], **instruction}
    m["graphs"] = {"onnx": {"fp32": "policy/fp32.onnx"}}
    return load_bundle(write_bundle(tmp_path / "t.vla", m, {"policy/fp32.onnx": b"unused here", **members}))


def test_from_bundle(tmp_path):
    text = {"encoder": "text/encoder.onnx", "vocab": "text/vocab.txt", "max_tokens": L, "embedding_dim": 8}
    enc = TextEncoder.from_bundle(_bundle(tmp_path, text, {"text/encoder.onnx": tiny_graph(),
                                                           "text/vocab.txt": VOCAB.encode()}))
    direct = TextEncoder(tiny_graph(), VOCAB, max_tokens=L, embedding_dim=8)
    np.testing.assert_array_equal(enc.encode("touch the block"), direct.encode("touch the block"))
    with pytest.raises(GraphMismatch, match=r"\[1, 384\]"):  # the manifest's embedding_dim disagrees with the graph
        TextEncoder.from_bundle(_bundle(tmp_path, {**text, "embedding_dim": 384},
                                        {"text/encoder.onnx": tiny_graph(), "text/vocab.txt": VOCAB.encode()}))
    with pytest.raises(BackendUnavailable, match="no instruction encoder"):
        TextEncoder.from_bundle(_bundle(tmp_path, {"encoder": None, "vocab": None}, {}))


# --- export pieces -------------------------------------------------------------------------------------------------

def test_vocab_is_written_in_id_order(fp32_graph):
    lines = fp32_graph[1].splitlines()
    assert len(lines) == 30522 and lines[0] == "[PAD]" and lines[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens = tm.vocab_tokens()
    kept = [tokens[i] for i in tc.prune_vocab(tokens)]
    assert "[CLS]" in kept and "##ing" in kept and "—" in kept and not any(t.startswith("[unused") for t in kept)
    assert "中" not in kept


def test_gptq_beats_round_to_nearest():
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 64, generator=g) @ torch.randn(64, 64, generator=g)  # correlated inputs
    w = torch.randn(32, 64, generator=g)
    codes, scale, zero = tc.gptq(w, 2 * x.T.double() @ x.double() / len(x), bits=3, group=16)
    def err(c):  # mean squared output error of the dequantised weight
        deq = ((c.float().view(32, 4, 16) - zero.float()[..., None]) * scale.float()[..., None]).view(32, 64)
        return float(((x @ (w - deq).T) ** 2).mean())
    rtn = torch.stack([torch.clamp(torch.round(w[:, i] / scale[:, i // 16].float()) + zero[:, i // 16], 0, 7)
                       for i in range(64)], 1)  # round to nearest on the same grid
    assert codes.dtype == torch.uint8 and int(codes.max()) <= 7
    assert err(codes) < 0.7 * err(rtn)


@pytest.mark.parametrize("bits", [4, 8])
def test_matmul_nbits_computes_the_dequantised_product(bits):
    """The packing handed to onnxruntime's MatMulNBits (nibble order, zero points, scales) on a MatMul(x, W^T)."""
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(bits)
    n, k, group = 48, 192, 64  # k / group = 3 blocks: an odd count exercises the zero-point padding
    codes = torch.from_numpy(rng.integers(0, 2 ** bits, (n, k), dtype=np.uint8))
    scale = torch.from_numpy(rng.uniform(0.01, 0.1, (n, k // group)).astype(np.float16))
    zero = torch.from_numpy(rng.integers(0, 2 ** bits, (n, k // group), dtype=np.uint8))
    w = ((codes.numpy().reshape(n, -1, group).astype(np.float32) - zero.numpy()[..., None]) *
         scale.numpy().astype(np.float32)[..., None]).reshape(n, k)
    nodes = [helper.make_node("Transpose", ["lin.weight"], ["wt"]), helper.make_node("MatMul", ["x", "wt"], ["y"])]
    graph = helper.make_graph(nodes, "mm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, n])],
                              [numpy_helper.from_array(np.zeros((n, k), np.float32), "lin.weight")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    tm.matmul_nbits(proto, {"lin": (codes, scale, zero)}, bits, group)
    assert [nd.op_type for nd in proto.graph.node] == ["Cast", "MatMulNBits"]
    assert "lin.weight" not in {i.name for i in proto.graph.initializer}
    x = rng.standard_normal((2, k)).astype(np.float32)
    y = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, x @ w.T, rtol=1e-4, atol=1e-4)


def test_two_tier_table_decodes_common_rows_finely_and_rare_rows_coarsely():
    import torch

    PQTable, TieredPQTable = tc.pq_tables()
    rng = np.random.default_rng(0)
    table = torch.from_numpy(rng.standard_normal((3000, 16)).astype(np.float32))  # more rows than centroids
    fine = PQTable(*tc.product_quantize(table, 2))  # (3000, 8) codes: 4 bits per weight
    tiered = TieredPQTable(PQTable(fine.codes[:1000], fine.books), PQTable(*tc.product_quantize(table[1000:], 8)))
    ids = torch.tensor([0, 999, 1000, 2999])
    out = tiered(ids)
    np.testing.assert_array_equal(out[:2], fine(ids[:2]))  # common rows: exactly the one-tier decoding
    np.testing.assert_array_equal(out[2:], tiered.coarse(ids[2:] - 1000))  # rare rows: their own tier ...
    err = lambda rows, got: float(((got - table[rows]) ** 2).mean())  # noqa: E731
    rare = torch.arange(1000, 3000)
    assert err(rare, tiered(rare)) > 1.5 * err(rare, fine(rare))  # ... at a quarter of the bits, coarser
    assert tiered.coarse.codes.shape == (2000, 2) and tiered.fine.codes.shape == (1000, 8)


def test_rare_whole_words_go_coarse_and_come_last_in_the_vocabulary(compact_graph):
    tokens, spec = tm.vocab_tokens(), tc.CompactSpec()
    ids = {t: i for i, t in enumerate(tokens)}
    assert ids["peg"] >= spec.coarse_from_id and tc.is_coarse(tokens, ids["peg"], spec)
    assert ids["##drive"] >= spec.coarse_from_id and not tc.is_coarse(tokens, ids["##drive"], spec)  # a piece
    assert not tc.is_coarse(tokens, ids["the"], spec)
    assert not any(tc.is_coarse(tokens, i, tc.CompactSpec(coarse_from_id=None)) for i in range(len(tokens)))
    lines = compact_graph[1].splitlines()  # the bundle's vocab.txt: the fine tier, then the coarse one
    where = {t: k for k, t in enumerate(lines)}
    assert lines[0] == "[PAD]" and where["##drive"] < where["peg"] < where["zebra"] and where["the"] < where["peg"]
    first_coarse = min(where[t] for t in lines if tc.is_coarse(tokens, ids[t], spec))
    assert all(tc.is_coarse(tokens, ids[t], spec) for t in lines[first_coarse:])


def test_bad_compact_specs_and_export_patterns_are_refused():
    import torch
    from onnx import TensorProto, helper, numpy_helper

    with pytest.raises(ValueError, match="layer_bits must be 4 or 8.*got 3"):
        tc.CompactSpec(layer_bits=3)
    with pytest.raises(ValueError, match="layer_group must be 16, 32, 64 or 128, got 96"):
        tc.CompactSpec(layer_group=96)
    with pytest.raises(ValueError, match="embedding_subvector must divide 384.*got 5"):
        tc.CompactSpec(embedding_subvector=5)
    with pytest.raises(ValueError, match="coarse_subvector must divide 384.*got 7"):
        tc.CompactSpec(coarse_subvector=7)
    with pytest.raises(ValueError, match="coarse_from_id must be a vocabulary id >= 1 or None, got 0"):
        tc.CompactSpec(coarse_from_id=0)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "lin.weight"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
                              [numpy_helper.from_array(np.zeros((16, 16), np.float32), "lin.weight")])
    q = (torch.zeros(16, 16, dtype=torch.uint8), torch.ones(16, 1, dtype=torch.float16),
         torch.zeros(16, 1, dtype=torch.uint8))
    with pytest.raises(RuntimeError, match=r"no MatMul\(x, Transpose\(weight\)\) found for \['lin'\]"):
        tm.matmul_nbits(helper.make_model(graph), {"lin": q}, 4, 16)


def test_a_pruned_vocabulary_keeps_the_trained_phrasings_bit_for_bit_and_spells_dropped_words(compact_graph):
    """text_vocab.prune_encoder: the word table cut to the trained phrasings' tokens, pieces, characters and BERT's
    commonest words; the rest of the graph untouched, so the trained phrasings embed exactly as before."""
    from vla_lite.export.text_vocab import prune_encoder

    onnx_bytes, vocab, _ = compact_graph
    trained = ["Grasp a stick and pull a box with the stick", "put the ball in the hoop", "turn the faucet on"]
    small, small_vocab, report = prune_encoder(onnx_bytes, vocab, trained, common_words=5000)
    assert report["bytes"] < report["bytes_before"] - 1_400_000 and report["vocab"] < 9000
    before = TextEncoder(onnx_bytes, vocab, L, 384, cache_size=0)
    after = TextEncoder(small, small_vocab, L, 384, cache_size=0)
    for text in trained + ["pull the box"]:  # "hoop": rare, kept because trained on; "faucet": pieces, kept
        np.testing.assert_array_equal(after.encode(text), before.encode(text))
    # "drawer" is neither trained on nor among the 5000 commonest: spelt in pieces, never unknown, embeds differently
    assert "drawer" in before.tokenizer.vocab and "drawer" not in after.tokenizer.vocab
    assert "[UNK]" not in after.tokenizer.tokenize("open the drawer")
    assert float(np.dot(after.encode("open the drawer"), before.encode("open the drawer"))) < 0.99
    with pytest.raises(ValueError, match="rows but vocab.txt"):
        prune_encoder(onnx_bytes, vocab + "extra\n", trained)
