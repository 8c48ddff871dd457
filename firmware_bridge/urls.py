"""What is wrong with a network pyserial URL, said before pyserial opens it: pyserial's socket:// and rfc2217://
handlers need HOST:PORT, and for a bad port their own message names the URL's logging option instead. Pure."""

from __future__ import annotations

import urllib.parse

NETWORK_SCHEMES = ("socket", "rfc2217")


def url_problem(url: str) -> str | None:
    """None when `url` is no network URL or a well-formed one; else what is wrong and what was expected."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in NETWORK_SCHEMES:
        return None
    host, colon, port = urllib.parse.urlsplit(url).netloc.rpartition(":")
    if not colon or not host:
        return f"expected {scheme}://HOST:PORT, e.g. {scheme}://127.0.0.1:7000"
    if not (port.isdigit() and 0 < int(port) <= 65535):
        return f"the TCP port must be a number 1-65535, got {port!r}"
    return None
