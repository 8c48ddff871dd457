"""The instruction side: pure-Python BERT WordPiece tokenisation and the bundle's text encoder graph.

    encoder = TextEncoder.from_bundle(bundle, threads=1)   # checks the graph against the manifest
    embedding = encoder.encode("touch the red block")      # (E,) float32 unit vector, cached per instruction
    grounding = InstructionGrounding(encoder.encode, bundle.manifest.instruction.known)  # nearest trained phrasing
"""

from .encoder import TextEncoder
from .grounding import Grounded, InstructionGrounding, UnknownInstruction
from .normalize import normalize_instruction
from .tokenizer import WordPieceTokenizer

__all__ = ["Grounded", "InstructionGrounding", "TextEncoder", "UnknownInstruction", "WordPieceTokenizer",
           "normalize_instruction"]
