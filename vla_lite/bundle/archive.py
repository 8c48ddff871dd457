"""Read and write the `.vla` file: a stored (uncompressed) zip of `manifest.json` plus the members it lists.

`write_bundle` fills `manifest.members` with SHA-256s, validates, and writes atomically (vla_lite.atomic).
`load_bundle` checks the archive, the manifest and every member's hash before returning a `Bundle`;
`Bundle.read` hashes again, so what runs is what was checked even if the file changed since.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from ..atomic import atomic_path
from . import fields
from .errors import (ArchiveError, BackendUnavailable, ChecksumMismatch, ManifestInvalid, ManifestMissing,
                     ManifestNotJSON, MemberMissing, UnlistedMember)
from .manifest import Manifest
from .normalization import denormalize_actions, normalize_state

MANIFEST = "manifest.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same inputs give the same bytes
_BLOCK = 1 << 20  # bytes per read while hashing


class Bundle:
    """A loaded, verified bundle. Graph bytes are read (and re-verified) on demand, not kept in memory."""

    def __init__(self, path: Path, manifest: Manifest, sizes: Mapping[str, int]):
        self.path = path
        self.manifest = manifest
        self.sizes = dict(sizes)  # member -> bytes

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r}, name={self.manifest.name!r}, graphs={self.available()})"

    def available(self) -> list[tuple[str, str]]:
        """(runtime, precision) pairs with a policy graph, e.g. [("onnx", "fp32"), ("tflite", "int8")]."""
        return self.manifest.available()

    def read(self, member: str) -> bytes:
        """A member's bytes, checked against its SHA-256 in the manifest."""
        if member not in self.manifest.members:
            raise MemberMissing(f"{self.path}: no member {member!r}; members: {sorted(self.manifest.members)}")
        try:
            with zipfile.ZipFile(self.path) as zf:
                data = zf.read(member)
        except (OSError, zipfile.BadZipFile, KeyError, EOFError) as exc:
            raise ArchiveError(f"{self.path}: cannot read member {member!r} ({exc}); was the file replaced?") \
                from exc
        _check_hash(self.path, member, self.manifest.members[member], hashlib.sha256(data).hexdigest())
        return data

    def read_graph(self, runtime: str, precision: str) -> bytes:
        member = self.manifest.graph_member(runtime, precision)
        if member is None:
            raise BackendUnavailable(f"{self.path} has no {runtime} {precision} policy graph; available: "
                                     f"{[f'{r}-{p}' for r, p in self.available()]}")
        return self.read(member)

    def normalize_state(self, x) -> np.ndarray:
        """(..., S) state in manifest units -> float32 z-scores for the graph's `state` input."""
        return normalize_state(x, self.manifest.normalization.state)

    def denormalize_actions(self, chunk) -> np.ndarray:
        """(T, D) normalised chunk from the graph -> float64 robot units (masked dimensions pass through)."""
        return denormalize_actions(chunk, self.manifest.normalization.action)


def write_bundle(path, manifest: Manifest | dict, members: Mapping[str, bytes]) -> Path:
    """Write a bundle: `members` maps archive paths ("policy/fp32.onnx") to their bytes. `manifest.members` is
    computed here (any given value is replaced). Validates like load_bundle before anything is written."""
    path = Path(path)
    d = manifest.to_dict() if isinstance(manifest, Manifest) else copy.deepcopy(dict(manifest))
    blobs = {}
    for name, data in members.items():
        fields.member_name(name, f"members key {name!r}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"member {name!r} must be bytes, got {type(data).__name__}")
        blobs[name] = bytes(data)
    d["members"] = {name: hashlib.sha256(blobs[name]).hexdigest() for name in sorted(blobs)}
    m = Manifest.from_dict(d)
    for member, field in m.referenced_members().items():
        if member not in blobs:
            raise MemberMissing(f"{field} names {member!r}, which is not among the members given "
                                f"{sorted(blobs)}")
    text = json.dumps(m.to_dict(), indent=2, allow_nan=False) + "\n"
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in [(MANIFEST, text.encode("utf-8"))] + sorted(blobs.items()):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_STORED)
    return path


def load_bundle(path) -> Bundle:
    """Open and verify a bundle. Raises a BundleError subclass naming the problem (see vla_lite.bundle.errors)."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"no bundle file at {str(path)!r}" + (" (it is a directory)" if path.is_dir() else ""))
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{path} is not a .vla bundle: expected a zip archive, but {exc} "
                           f"(file is {path.stat().st_size} bytes; truncated or not a bundle?)") from exc
    with zf:
        entries = _entries(path, zf)
        if MANIFEST not in entries:
            raise ManifestMissing(f"{path} has no {MANIFEST}; it holds {sorted(entries) or 'nothing'}")
        manifest = Manifest.from_dict(_parse_manifest(path, _read(path, zf, MANIFEST)))
        present = {n: i.file_size for n, i in entries.items() if n != MANIFEST}
        _check_members(path, manifest, present)
        for member, expected in manifest.members.items():
            _check_hash(path, member, expected, _sha256(path, zf, member))
    return Bundle(path, manifest, present)


# --- checks ------------------------------------------------------------------------------------------------

def _entries(path: Path, zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    out = {}
    for info in zf.infolist():
        if info.is_dir():
            continue  # `zip -r` adds folder entries; they hold no data
        if info.filename in out:
            raise ArchiveError(f"{path} holds {info.filename!r} twice; expected each member once")
        try:
            if info.filename != MANIFEST:
                fields.member_name(info.filename, "archive entry")
        except ManifestInvalid:
            raise ArchiveError(f"{path} holds an entry with an unsafe name {info.filename!r}; expected "
                               "relative paths without '..' or a leading '/'") from None
        if info.compress_type != zipfile.ZIP_STORED:
            raise ArchiveError(f"{path}: member {info.filename!r} is compressed (zip method {info.compress_type});"
                               " expected stored members (method 0, e.g. `zip -0`) so they can be mapped")
        out[info.filename] = info
    return out


def _parse_manifest(path: Path, raw: bytes) -> dict:
    def refuse_constant(name):
        raise ValueError(f"{name} is not valid JSON")
    try:
        d = json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except UnicodeDecodeError as exc:
        raise ManifestNotJSON(f"{path}: {MANIFEST} is not UTF-8 text ({exc})") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise ManifestNotJSON(f"{path}: {MANIFEST} is not valid JSON: {exc}") from None
    except RecursionError:  # e.g. 100,000 nested "[": a manifest is a few levels deep
        raise ManifestNotJSON(f"{path}: {MANIFEST} nests arrays/objects deeper than the JSON reader allows "
                              f"({sys.getrecursionlimit()}); expected a manifest object a few levels deep") from None
    if not isinstance(d, dict):
        raise ManifestNotJSON(f"{path}: {MANIFEST} holds a JSON {type(d).__name__}; expected an object")
    return d


def _check_members(path: Path, manifest: Manifest, present: Mapping[str, int]) -> None:
    listed = manifest.members
    missing = sorted(set(listed) - set(present))
    if missing:
        raise MemberMissing(f"{path}: manifest.members lists {missing} but the archive does not hold them; "
                            f"it holds {sorted(present)}")
    extra = sorted(set(present) - set(listed))
    if extra:
        raise UnlistedMember(f"{path} holds {extra}, which manifest.members does not list; expected only "
                             f"{sorted(listed)}")
    for member, field in manifest.referenced_members().items():
        if member not in listed:
            raise MemberMissing(f"{path}: {field} names {member!r}, which is not in the bundle; members: "
                                f"{sorted(listed)}")


def _check_hash(path: Path, member: str, expected: str, actual: str) -> None:
    if actual != expected:
        raise ChecksumMismatch(f"{path}: member {member!r} has SHA-256 {actual}, but the manifest expects "
                               f"{expected}; the bundle is damaged or was edited")


def _read(path: Path, zf: zipfile.ZipFile, member: str) -> bytes:
    try:
        return zf.read(member)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArchiveError(f"{path}: member {member!r} cannot be read ({exc}); the file is truncated or "
                           "damaged") from exc


def _sha256(path: Path, zf: zipfile.ZipFile, member: str) -> str:
    h = hashlib.sha256()
    try:
        with zf.open(member) as fh:
            while block := fh.read(_BLOCK):
                h.update(block)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArchiveError(f"{path}: member {member!r} cannot be read ({exc}); the file is truncated or "
                           "damaged") from exc
    return h.hexdigest()
