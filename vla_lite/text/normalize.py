"""One spelling per instruction, wherever it comes from (the command line, stdin, a socket, a world's episode)."""

from __future__ import annotations


def normalize_instruction(text) -> str:
    """Whitespace runs collapsed to one space, the ends stripped; ValueError when nothing is left."""
    out = " ".join(str(text).split())
    if not out:
        raise ValueError("instruction is empty; expected a sentence such as 'touch the red block'")
    return out
