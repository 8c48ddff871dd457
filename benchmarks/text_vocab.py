"""The instruction encoder with its vocabulary cut (`vla-lite export --text-common-words N`, export/text_vocab.py):
bytes against fidelity to the full compact encoder, on Meta-World MT50's phrasings.

Per N (BERT's N commonest whole words kept, beside every piece and character and the tokens of the phrasings
trained on, here MT50's training phrasings): the encoder's size, and the cosine of each sentence's embedding to the
unpruned encoder's for MT50's training phrasings (identical by construction), its held-out rewordings (words the
policy never saw, some of them dropped from the vocabulary) and 200 instruction-like sentences of other scenes.

    python benchmarks/text_vocab.py [--words 0,2500,5000,10000,15000] [--out benchmarks/results/text_vocab.json]
"""

from __future__ import annotations

import argparse
import sys
import time

from vla_lite.export.text_cache import EMBEDDING_DIM, training_text_encoder
from vla_lite.export.text_sentences import evaluation_set
from vla_lite.export.text_vocab import compare, prune_encoder
from vla_lite.report import write_json
from vla_lite.text.encoder import TextEncoder
from vla_lite.worlds.metaworld.tasks import MT50, task_instructions


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", default="0,2500,5000,10000,15000", help="comma list of N (common words kept)")
    ap.add_argument("--out", default="benchmarks/results/text_vocab.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    text = training_text_encoder()
    sets = {"mt50_train": [t for task in MT50 for t in task_instructions(task, "train")],
            "mt50_heldout": [t for task in MT50 for t in task_instructions(task, "heldout")],
            "other_sentences": evaluation_set()}
    rows = []
    for n in (int(w) for w in args.words.split(",")):
        onnx_bytes, vocab, report = prune_encoder(text.onnx_bytes, text.vocab_text, sets["mt50_train"], n)
        encoder = TextEncoder(onnx_bytes, vocab, text.info["max_tokens"], EMBEDDING_DIM, threads=1, cache_size=0)
        rows.append({**report, **{k: compare(text.encode, encoder.encode, v) for k, v in sets.items()}})
        r = rows[-1]
        print(f"N {n:>6}: {r['bytes'] / 1e6:.2f} MB ({r['vocab']} tokens); cosine to the full encoder: MT50 train "
              f"{r['mt50_train']['cosine_min']:.4f} min, held-out {r['mt50_heldout']['cosine_mean']:.3f} mean "
              f"({r['mt50_heldout']['cosine_min']:.3f} min), other sentences {r['other_sentences']['cosine_mean']:.3f}",
              flush=True)
    write_json(args.out, {"benchmark": "text_vocab", "full_bytes": len(text.onnx_bytes),
                          "full_vocab": len(text.vocab_text.splitlines()), "rows": rows,
                          "seconds": round(time.perf_counter() - t0, 1),
                          "command": "python benchmarks/text_vocab.py " + " ".join(argv or sys.argv[1:])})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
