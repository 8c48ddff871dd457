"""Why a `.vla` bundle was refused, one class per cause so a caller (or a test) can tell them apart.

Every message names the bad value and what was expected. All of them are `BundleError`s.
"""

from __future__ import annotations


class BundleError(Exception):
    """Anything wrong with a model bundle, or between a bundle and what it is run with."""


class ArchiveError(BundleError):
    """The file is not a readable `.vla` zip: absent, not a zip, truncated, damaged, or holding unsafe entries."""


class ManifestMissing(BundleError):
    """The archive has no `manifest.json`."""


class ManifestNotJSON(BundleError):
    """`manifest.json` is not UTF-8 JSON, or its top level is not an object."""


class UnsupportedSchema(BundleError):
    """`manifest.schema` is not a version this runtime reads."""


class ManifestInvalid(BundleError):
    """A manifest field is missing, unknown, of the wrong type or shape, or out of range."""


class NoPolicyGraph(BundleError):
    """The manifest lists no policy graph (`graphs` is empty)."""


class MemberMissing(BundleError):
    """A member the manifest lists or references is not in the archive."""


class UnlistedMember(BundleError):
    """The archive holds a member that `manifest.members` does not list."""


class ChecksumMismatch(BundleError):
    """A member's SHA-256 differs from the one in `manifest.members`."""


class BundleMismatch(BundleError):
    """The bundle and the arm controller disagree: action mode, joint names or order, units, or rate."""


class GraphMismatch(BundleError):
    """A policy graph's inputs/outputs (names, shapes, dtypes) disagree with the manifest; it must not run."""


class BackendUnavailable(BundleError):
    """The requested runtime/precision is not in the bundle, or its runtime library is not installed."""
