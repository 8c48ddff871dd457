"""argparse `type=` checks for command-line values: a bad value is a usage error naming the option and what was
expected (argparse adds "argument --NAME:"), before anything is opened. Pure."""

from __future__ import annotations

import argparse
import math
import os

from .text.normalize import InstructionRefused, normalize_instruction


def instruction(text: str) -> str:
    """The instruction, normalised; refused when not UTF-8, with control characters, too long or empty."""
    try:
        return normalize_instruction(text)
    except InstructionRefused as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def tcp_port(text: str) -> int:
    """A TCP port 0-65535 (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        port = None
    if port is None or not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port 0-65535 (0: any free port), got {text!r}")
    return port


def cpu_list(text: str) -> list[int]:
    """CPU numbers, comma-separated ("1" or "0,1"), each one this machine has."""
    try:
        cpus = [int(c) for c in text.split(",")]
    except ValueError:
        cpus = None
    count = os.cpu_count() or 1
    if not cpus or any(not 0 <= c < count for c in cpus):
        raise argparse.ArgumentTypeError(f"expected CPU numbers 0-{count - 1}, comma-separated (e.g. 1 or 0,1), "
                                         f"got {text!r}")
    return cpus


def cosine(text: str) -> float:
    """A cosine similarity threshold in (-1, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not -1.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a cosine in (-1, 1], got {text!r}")
    return value
