"""The `.vla` model bundle: one file holding a manifest and the policy graphs, verified on load (docs/BUNDLE.md).

    bundle = load_bundle("policy.vla")          # raises a BundleError subclass naming any problem
    check_compatible(bundle.manifest, arm)      # at connect time: modes, joints, units, rate
    state_z = bundle.normalize_state(state)     # (S,) robot units -> float32 z-scores
    actions = bundle.denormalize_actions(chunk) # (T, D) normalised -> robot units
"""

from __future__ import annotations

from .archive import Bundle, load_bundle, write_bundle
from .compat import check_compatible
from .errors import (ArchiveError, BackendUnavailable, BundleError, BundleMismatch, ChecksumMismatch, GraphMismatch,
                     ManifestInvalid, ManifestMissing, ManifestNotJSON, MemberMissing, NoPolicyGraph,
                     UnlistedMember, UnsupportedSchema)
from .manifest import (ActionSpec, ActionStats, CameraSpec, ChunkSpec, InstructionSpec, Manifest, Normalization,
                       ParityFigures, SCHEMA, StateSpec, Stats)

__all__ = [
    "Bundle", "load_bundle", "write_bundle", "check_compatible", "Manifest", "SCHEMA",
    "CameraSpec", "StateSpec", "InstructionSpec", "ActionSpec", "ChunkSpec", "Stats", "ActionStats",
    "Normalization", "ParityFigures",
    "BundleError", "ArchiveError", "ManifestMissing", "ManifestNotJSON", "UnsupportedSchema", "ManifestInvalid",
    "NoPolicyGraph", "MemberMissing", "UnlistedMember", "ChecksumMismatch", "BundleMismatch", "GraphMismatch",
    "BackendUnavailable",
]
