"""One spelling per instruction, wherever it comes from (the command line, stdin, a socket, a FIFO, a world's
episode), and the one place instruction text is judged acceptable.

Everything downstream (the encoder, the recorder's JSON files, the report) can then take the text as it is: it is
a str of valid Unicode (no lone surrogates, which is what Python makes of non-UTF-8 bytes in argv), without control
characters, at most MAX_INSTRUCTION_BYTES long in UTF-8.
"""

from __future__ import annotations

import unicodedata

MAX_INSTRUCTION_BYTES = 1024  # UTF-8 bytes of the text as given; a longer one is refused, never truncated
_WHITESPACE_CONTROLS = frozenset("\t\n\r\v\f")  # collapsed to one space like any other whitespace


class InstructionRefused(ValueError):
    """Instruction text that cannot be used; the message says why (the caller names where it came from)."""


def check_instruction(text) -> str:
    """`text` unchanged when acceptable; InstructionRefused saying why otherwise. Pure."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InstructionRefused(f"not UTF-8 text (byte 0x{text[exc.start]:02x} at offset {exc.start}); "
                                     "expected UTF-8") from None
    if not isinstance(text, str):
        raise InstructionRefused(f"expected text, got {type(text).__name__}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_INSTRUCTION_BYTES:
        raise InstructionRefused(f"{size} bytes long; the limit is {MAX_INSTRUCTION_BYTES} bytes of UTF-8")
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Cs":  # lone surrogate: Python's stand-in for a byte that was not UTF-8
            raise InstructionRefused(f"not UTF-8 text (undecodable byte at character {i}); expected UTF-8")
        if category == "Cc" and ch not in _WHITESPACE_CONTROLS:
            raise InstructionRefused(f"control character U+{ord(ch):04X} at character {i}; expected printable text")
    return text


def normalize_instruction(text) -> str:
    """Checked (check_instruction), whitespace runs collapsed to one space, the ends stripped; InstructionRefused
    (a ValueError) when the text is unusable or nothing is left."""
    out = " ".join(check_instruction(text).split())
    if not out:
        raise InstructionRefused("instruction is empty; expected a sentence such as 'touch the red block'")
    return out
