"""Ground an instruction in the phrasings the policy was trained on, or refuse it.

A policy conditioned on a sentence embedding has learnt its behaviour at a few dozen points of a 384-d space. An
unseen rewording ("go to the red one") lands elsewhere: all-MiniLM-L6-v2 puts it nearer its own meaning's
training phrasings than any other's (benchmarks/language_probe.py: 36/36 rewordings), yet far enough from every
point the policy saw that its actions degrade (the tabletop student: 99 % on training phrasings, 78 % on
rewordings). Grounding hands the policy the embedding of the nearest trained phrasing instead, so a rewording gets
exactly the behaviour its meaning was trained with; an instruction unlike all of them (cosine below
`min_similarity`) is refused with the nearest candidate named, never executed as a guess.

The bundle lists the phrasings in `instruction.known` (docs/BUNDLE.md); their embeddings are computed here with the
bundle's own encoder, once, at start-up. Grounding is exact retrieval: it cannot teach the encoder a word it does
not know (MiniLM places few colour synonyms such as "crimson" near their colour; see the probe).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

MIN_SIMILARITY = 0.45  # cosine; tabletop rewordings score >= 0.48, unrelated requests ("make coffee") <= 0.40


class UnknownInstruction(ValueError):
    """The instruction is unlike every phrasing the policy was trained on."""


class Grounded(NamedTuple):
    text: str  # what was asked
    nearest: str  # the trained phrasing it was grounded in
    similarity: float  # their cosine
    embedding: np.ndarray  # (E,) float32: the trained phrasing's embedding


class InstructionGrounding:
    """`grounding(text) -> (E,) embedding` of the nearest known phrasing; UnknownInstruction below the threshold.
    Read-only after construction: safe to call from instruction-source threads and the control thread."""

    def __init__(self, encode: Callable[[str], np.ndarray], known: Sequence[str],
                 min_similarity: float = MIN_SIMILARITY):
        known = tuple(known)
        if not known or not all(isinstance(t, str) and t.strip() for t in known):
            raise ValueError(f"known must be a non-empty list of instruction texts, got {known!r}")
        if not -1.0 < min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be a cosine in (-1, 1], got {min_similarity!r}")
        self._encode, self.known, self.min_similarity = encode, known, float(min_similarity)
        table = np.stack([np.asarray(encode(t), np.float32).reshape(-1) for t in known])  # (K, E)
        norms = np.linalg.norm(table, axis=1, keepdims=True)
        if not np.all(np.isfinite(table)) or np.any(norms == 0):
            raise ValueError("the text encoder gave a zero or non-finite embedding for a known instruction")
        self.table = table
        self._unit = table / norms
        self.table.setflags(write=False)

    def ground(self, text: str) -> Grounded:
        e = np.asarray(self._encode(text), np.float32).reshape(-1)
        norm = float(np.linalg.norm(e))
        if not np.isfinite(norm) or norm == 0.0:
            raise ValueError(f"the text encoder gave a zero or non-finite embedding for {text!r}")
        sims = self._unit @ (e / norm)
        i = int(np.argmax(sims))
        similarity = float(sims[i])
        if not similarity >= self.min_similarity:
            raise UnknownInstruction(
                f"instruction {text!r} is unlike every instruction this model was trained on: the nearest, "
                f"{self.known[i]!r}, has cosine {similarity:.2f} < {self.min_similarity:.2f}. Rephrase it, or "
                "pass it through ungrounded with --no-instruction-grounding")
        return Grounded(text, self.known[i], similarity, self.table[i])

    def __call__(self, text: str) -> np.ndarray:
        return self.ground(text).embedding


def add_arguments(parser) -> None:
    """`--no-instruction-grounding` and `--min-instruction-similarity` (vla-lite run and eval)."""
    parser.add_argument("--no-instruction-grounding", dest="instruction_grounding", action="store_false",
                        help="pass instructions to the policy as encoded, not as the nearest trained phrasing")
    from ..option_types import cosine

    parser.add_argument("--min-instruction-similarity", type=cosine, default=MIN_SIMILARITY, metavar="COS",
                        help=f"refuse instructions whose nearest trained phrasing is below this cosine "
                             f"(default {MIN_SIMILARITY})")
