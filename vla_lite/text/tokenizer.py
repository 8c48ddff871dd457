"""BERT WordPiece tokenisation in pure Python, so the robot needs neither `tokenizers` nor `transformers`.

Reproduces the HF `tokenizers` pipeline of a BERT `tokenizer.json` (BertNormalizer, BertPreTokenizer, WordPiece,
[CLS] … [SEP] template, right padding and truncation to a fixed length):

1. special tokens written literally in the text ("[SEP]", case-sensitive) are kept whole, as HF does;
2. clean: U+FFFD and control/format/private-use characters (NUL included) are dropped, whitespace becomes ' ';
3. CJK ideographs are split off as words of their own;
4. lowercase=True: accents stripped (NFD, combining marks Mn dropped), then lower-cased one character at a time
   (HF does not apply the final-sigma rule that `str.lower` does);
5. split on whitespace, each punctuation character (ASCII symbols included) becomes a word of its own;
6. WordPiece per word: greedy longest match first, "##" marks a continuation; a word longer than 100 characters
   or with an unmatchable remainder becomes one [UNK].

Python's `unicodedata` (Unicode 14 on 3.11) is newer than the character tables inside `tokenizers`, so about 550
code points assigned since (rare scripts, a few marks and punctuation) are classified differently; every other
code point normalises and splits the same (checked over all of them).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
REQUIRED = (PAD, UNK, CLS, SEP)
MAX_CHARS_PER_WORD = 100  # HF WordPiece `max_input_chars_per_word`
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))  # 0x2B920 (not 0x2B820): as HF's table
_DROPPED = ("Cc", "Cf", "Co", "Cs")  # control, format, private use, surrogate; unassigned (Cn) is kept, as in HF


class WordPieceTokenizer:
    def __init__(self, tokens: Sequence[str], lowercase: bool = True):
        """`tokens[i]` is the piece with id i (the lines of vocab.txt)."""
        self.vocab: dict[str, int] = {}
        for i, tok in enumerate(tokens):
            if not tok or tok != tok.strip():
                raise ValueError(f"vocabulary line {i + 1} is {tok!r}; expected a token without surrounding "
                                 "whitespace")
            if tok in self.vocab:
                raise ValueError(f"vocabulary token {tok!r} appears twice (lines {self.vocab[tok] + 1} and {i + 1})")
            self.vocab[tok] = i
        missing = [t for t in REQUIRED if t not in self.vocab]
        if missing:
            raise ValueError(f"vocabulary of {len(tokens)} tokens lacks {missing}; a BERT vocabulary needs "
                             f"{list(REQUIRED)}")
        self.lowercase = lowercase
        self.pad_id, self.unk_id = self.vocab[PAD], self.vocab[UNK]
        self.cls_id, self.sep_id = self.vocab[CLS], self.vocab[SEP]
        specials = sorted((t for t in (PAD, UNK, CLS, SEP, MASK) if t in self.vocab), key=len, reverse=True)
        self._special_re = re.compile("(" + "|".join(map(re.escape, specials)) + ")")

    @classmethod
    def from_vocab(cls, source: str | os.PathLike, lowercase: bool = True) -> "WordPieceTokenizer":
        """From vocab.txt: its text (a str holding newlines) or a path to it."""
        if isinstance(source, str) and "\n" in source:
            text = source
        else:
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"cannot read vocabulary file {str(source)!r}: {exc}") from exc
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the file's final newline
        return cls([line.rstrip("\r") for line in lines], lowercase=lowercase)

    def __len__(self) -> int:
        return len(self.vocab)

    def tokenize(self, text: str, limit: int | None = None) -> list[str]:
        """Word pieces of `text` without [CLS]/[SEP]; stops after `limit` pieces (truncation without the work)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        out: list[str] = []
        for word in self._words(text):
            out.extend(self._wordpiece(word))
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out

    def encode(self, text: str, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """-> (input_ids, attention_mask), int64 (1, max_tokens): [CLS] pieces [SEP] then [PAD], truncated so
        that [SEP] always ends the sequence."""
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer)) or max_tokens < 3:
            raise ValueError(f"max_tokens must be an integer >= 3 ([CLS], one piece, [SEP]), got {max_tokens!r}")
        pieces = self.tokenize(text, limit=max_tokens - 2)
        ids = [self.cls_id, *(self.vocab[p] for p in pieces), self.sep_id]
        input_ids = np.full((1, max_tokens), self.pad_id, dtype=np.int64)
        input_ids[0, :len(ids)] = ids
        mask = np.zeros((1, max_tokens), dtype=np.int64)
        mask[0, :len(ids)] = 1
        return input_ids, mask

    # --- steps ---------------------------------------------------------------------------------------------

    def _words(self, text: str) -> Iterator[str]:
        for i, part in enumerate(self._special_re.split(text)):
            if i % 2:  # a special token written in the text
                yield part
            else:
                yield from _split_punctuation(self._normalize(part).split(" "))

    def _normalize(self, text: str) -> str:
        chars = []
        for c in text:
            if c in "\t\n\r":
                chars.append(" ")
            elif c == "\ufffd" or unicodedata.category(c) in _DROPPED:
                continue
            elif c.isspace():
                chars.append(" ")
            elif any(lo <= ord(c) <= hi for lo, hi in _CJK):
                chars.extend((" ", c, " "))
            else:
                chars.append(c)
        text = "".join(chars)
        if self.lowercase:
            text = "".join(c.lower() for c in unicodedata.normalize("NFD", text)
                           if unicodedata.category(c) != "Mn")
        return text

    def _wordpiece(self, word: str) -> list[str]:
        if len(word) > MAX_CHARS_PER_WORD:
            return [UNK]
        if word in self.vocab:
            return [word]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
            else:
                return [UNK]  # an unmatchable remainder makes the whole word unknown
            pieces.append(piece)
            start = end
        return pieces


def _is_punctuation(c: str) -> bool:
    o = ord(c)
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 or unicodedata.category(c)[0] == "P"


def _split_punctuation(chunks: list[str]) -> Iterator[str]:
    for chunk in chunks:
        word = []
        for c in chunk:
            if _is_punctuation(c):
                if word:
                    yield "".join(word)
                    word = []
                yield c
            else:
                word.append(c)
        if word:
            yield "".join(word)
