"""How a command says it failed: one line on stderr, and with `--json` also a JSON object on stdout (what
`doctor --json` prints), so a script reading stdout always gets JSON: {"ok": false, "error": ..., "kind": ...}."""

from __future__ import annotations

import json
import sys


def say_failure(command: str, error: BaseException | str, *, as_json: bool = False, **fields) -> None:
    """`error`: the exception (its class is the kind) or a message (kind "error"); `fields` go into the JSON."""
    kind = type(error).__name__ if isinstance(error, BaseException) else "error"
    if as_json:
        print(json.dumps({**fields, "ok": False, "error": str(error), "kind": kind}))
    prefix = f"{kind}: " if isinstance(error, BaseException) else ""
    print(f"vla-lite {command}: {prefix}{error}", file=sys.stderr)
