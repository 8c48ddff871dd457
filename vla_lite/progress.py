"""Progress bars for long work: tqdm on stderr when it is installed (an optional dependency), else nothing."""

from __future__ import annotations

import sys


def progress_bar(total: int, enabled: bool = True, **options):
    """A tqdm bar writing to stderr (stdout stays for JSON summaries), or None when disabled or tqdm is missing.
    options go to tqdm (unit, desc, initial, ...)."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, file=sys.stderr, dynamic_ncols=True, **options)
