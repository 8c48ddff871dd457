"""The bundle manifest (docs/BUNDLE.md) as frozen dataclasses, parsed and checked from JSON.

`Manifest.from_dict(d)` validates every field and cross-field shape (vector lengths against state/action dims,
low < high, std > 0, ...); `Manifest.to_dict()` gives back the JSON form. Pure: no file access here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Mapping

from . import fields as f
from .camera_spec import CHANNEL_ORDERS, RESIZE, CameraSpec, camera_from_dict, camera_to_dict  # noqa: F401 (re-exported)
from .errors import ManifestInvalid, NoPolicyGraph, UnsupportedSchema

SCHEMA = 1
RUNTIMES = ("onnx", "tflite")
PRECISIONS = ("fp32", "int8")
GRAPH_SUFFIX = {"onnx": ".onnx", "tflite": ".tflite"}
ACTION_MODES = ("joint_position", "joint_velocity", "ee_delta")
UNITS = ("rad", "m", "rad/s", "m/s", "1")
# Units an action dimension may have in each mode ("1": dimensionless, e.g. a gripper command).
MODE_UNITS = {"joint_position": ("rad", "m", "1"), "joint_velocity": ("rad/s", "m/s", "1"),
              "ee_delta": ("m", "rad", "1")}
STATE_UNITS = ("rad", "m", "1")  # state holds positions


@dataclass(frozen=True)
class StateSpec:
    names: tuple[str, ...]
    units: tuple[str, ...]

    @property
    def dim(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class InstructionSpec:
    encoder: str | None  # member path of the text encoder graph, or None (embedding supplied by the caller)
    vocab: str | None  # member path of the WordPiece vocabulary
    max_tokens: int
    embedding_dim: int
    lowercase: bool
    model: str  # where the encoder came from, e.g. "sentence-transformers/all-MiniLM-L6-v2"
    known: tuple[str, ...] = ()  # the phrasings the policy was trained on (vla_lite.text.grounding); () = none given


@dataclass(frozen=True)
class ActionSpec:
    mode: str  # one of ACTION_MODES
    dim: int
    names: tuple[str, ...]
    units: tuple[str, ...]
    low: tuple[float, ...]  # robot units, per dimension
    high: tuple[float, ...]


@dataclass(frozen=True)
class ChunkSpec:
    length: int  # T actions per inference
    replan_every: int  # steps executed before the next inference (1..length)


@dataclass(frozen=True)
class Stats:
    mean: tuple[float, ...]
    std: tuple[float, ...]  # > 0
    q01: tuple[float, ...]  # 1st / 99th percentiles
    q99: tuple[float, ...]


@dataclass(frozen=True)
class ActionStats(Stats):
    mask: tuple[bool, ...] = ()  # False: this dimension is not normalised (passed through)


@dataclass(frozen=True)
class Normalization:
    state: Stats
    action: ActionStats


@dataclass(frozen=True)
class ParityFigures:
    max_abs: float  # worst-case |graph - reference| over the set, normalised action units
    cosine: float  # cosine similarity of the flattened outputs
    n: int  # number of inputs compared


@dataclass(frozen=True)
class Manifest:
    schema: int
    name: str
    created: str  # ISO 8601, e.g. "2026-11-23T23:00:00Z"
    cameras: tuple[CameraSpec, ...]
    state: StateSpec
    instruction: InstructionSpec
    action: ActionSpec
    chunk: ChunkSpec
    rate_hz: float  # control.rate_hz
    normalization: Normalization
    graphs: Mapping[str, Mapping[str, str]]  # runtime -> precision -> member path
    parity: Mapping[str, ParityFigures]  # "<runtime>.<precision>" -> figures
    trained: bool  # provenance.trained; False marks an untrained (random-weight) bundle
    provenance: Mapping[str, Any]  # the whole provenance object, trained included
    members: Mapping[str, str]  # member path -> SHA-256 hex

    def graph_member(self, runtime: str, precision: str) -> str | None:
        return self.graphs.get(runtime, {}).get(precision)

    def available(self) -> list[tuple[str, str]]:
        """(runtime, precision) pairs with a policy graph, in the fixed order onnx/tflite x fp32/int8."""
        return [(r, p) for r in RUNTIMES for p in PRECISIONS if self.graph_member(r, p)]

    def referenced_members(self) -> dict[str, str]:
        """Member paths the manifest points at -> the field that names them (for error messages)."""
        refs = {path: f"graphs.{r}.{p}" for r, by_p in self.graphs.items() for p, path in by_p.items()}
        if self.instruction.encoder:
            refs[self.instruction.encoder] = "instruction.encoder"
        if self.instruction.vocab:
            refs[self.instruction.vocab] = "instruction.vocab"
        return refs

    # --- JSON <-> dataclasses ----------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: Any) -> "Manifest":
        """Validate a parsed manifest. Raises UnsupportedSchema, ManifestInvalid or NoPolicyGraph."""
        if not isinstance(d, dict):
            raise ManifestInvalid(f"the manifest must be a JSON object, got {type(d).__name__}")
        schema = d.get("schema")
        if isinstance(schema, bool) or schema != SCHEMA:
            raise UnsupportedSchema(f"manifest schema is {schema!r}; this runtime reads schema {SCHEMA}")
        f.obj(d, "manifest", ["schema", "name", "created", "cameras", "state", "instruction", "action", "chunk",
                              "control", "normalization", "graphs", "provenance", "members"], ["parity"])
        created = f.string(d["created"], "created")
        try:
            datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            raise ManifestInvalid(f"created is {created!r}; expected an ISO 8601 time such as "
                                  "'2026-11-23T23:00:00Z'") from None
        state = _state(d["state"])
        action = _action(d["action"])
        graphs = _graphs(d["graphs"])
        return cls(
            schema=SCHEMA, name=f.string(d["name"], "name"), created=created,
            cameras=_cameras(d["cameras"]), state=state, instruction=_instruction(d["instruction"]),
            action=action, chunk=_chunk(d["chunk"]),
            rate_hz=f.number(f.obj(d["control"], "control", ["rate_hz"])["rate_hz"], "control.rate_hz",
                             lo=0.0, hi=1000.0, lo_open=True),
            normalization=parse_normalization(d["normalization"], state.dim, action.dim),
            graphs=graphs, parity=_parity(d.get("parity", {}), graphs),
            **_provenance(d["provenance"]), members=_members(d["members"]))

    def to_dict(self) -> dict:
        """The JSON form (key order as in docs/BUNDLE.md); from_dict(to_dict()) == self."""
        n = self.normalization
        stats = lambda s: {"mean": list(s.mean), "std": list(s.std), "q01": list(s.q01), "q99": list(s.q99)}
        return {
            "schema": self.schema, "name": self.name, "created": self.created,
            "cameras": [camera_to_dict(c) for c in self.cameras],
            "state": {"names": list(self.state.names), "units": list(self.state.units)},
            "instruction": {**{k: getattr(self.instruction, k) for k in
                               ("encoder", "vocab", "max_tokens", "embedding_dim", "lowercase", "model")},
                            **({"known": list(self.instruction.known)} if self.instruction.known else {})},
            "action": {"mode": self.action.mode, "dim": self.action.dim, "names": list(self.action.names),
                       "units": list(self.action.units), "low": list(self.action.low),
                       "high": list(self.action.high)},
            "chunk": {"length": self.chunk.length, "replan_every": self.chunk.replan_every},
            "control": {"rate_hz": self.rate_hz},
            "normalization": {"state": stats(n.state), "action": {**stats(n.action), "mask": list(n.action.mask)}},
            "graphs": {r: dict(by_p) for r, by_p in self.graphs.items()},
            "parity": {k: {"max_abs": v.max_abs, "cosine": v.cosine, "n": v.n} for k, v in self.parity.items()},
            "provenance": copy.deepcopy(dict(self.provenance)),
            "members": dict(self.members),
        }


# --- one reader per section ------------------------------------------------------------------------------

def _cameras(value: Any) -> tuple[CameraSpec, ...]:
    if not isinstance(value, list) or not value:
        raise ManifestInvalid(f"cameras must be a non-empty list of camera objects, got {value!r}")
    out = [camera_from_dict(c, f"cameras[{i}]") for i, c in enumerate(value)]
    dup = sorted({c.name for c in out if [x.name for x in out].count(c.name) > 1})
    if dup:
        raise ManifestInvalid(f"cameras repeat the name(s) {dup}; camera names must be distinct")
    return tuple(out)


def _state(value: Any) -> StateSpec:
    f.obj(value, "state", ["names", "units"])
    names = f.names(value["names"], "state.names")
    units = f.vector(value["units"], "state.units", len(names), "one per state.names entry",
                     lambda v, p: f.string(v, p, STATE_UNITS))
    return StateSpec(names, units)


def _instruction(value: Any) -> InstructionSpec:
    f.obj(value, "instruction", ["max_tokens", "embedding_dim", "model"], ["encoder", "vocab", "lowercase", "known"])
    encoder, vocab = value.get("encoder"), value.get("vocab")
    encoder = None if encoder is None else f.member_name(encoder, "instruction.encoder")
    vocab = None if vocab is None else f.member_name(vocab, "instruction.vocab")
    if (encoder is None) != (vocab is None):
        raise ManifestInvalid(f"instruction.encoder is {encoder!r} and instruction.vocab is {vocab!r}; "
                              "expected both (the encoder needs its vocabulary) or neither")
    return InstructionSpec(encoder, vocab, f.integer(value["max_tokens"], "instruction.max_tokens", 1, 4096),
                           f.integer(value["embedding_dim"], "instruction.embedding_dim", 1, 65536),
                           f.boolean(value.get("lowercase", True), "instruction.lowercase"),
                           f.string(value["model"], "instruction.model"),
                           f.names(value["known"], "instruction.known") if "known" in value else ())


def _action(value: Any) -> ActionSpec:
    f.obj(value, "action", ["mode", "dim", "names", "units", "low", "high"])
    mode = f.string(value["mode"], "action.mode", ACTION_MODES)
    dim = f.integer(value["dim"], "action.dim", 1, 64)
    names = f.names(value["names"], "action.names", dim, "action.dim")
    units = f.vector(value["units"], "action.units", dim, "action.dim",
                     lambda v, p: f.string(v, p, MODE_UNITS[mode]))
    low = f.vector(value["low"], "action.low", dim, "action.dim")
    high = f.vector(value["high"], "action.high", dim, "action.dim")
    for name, lo, hi in zip(names, low, high):
        if not lo < hi:
            raise ManifestInvalid(f"action.low/high for {name!r} is [{lo}, {hi}]; expected low < high")
    return ActionSpec(mode, dim, names, units, low, high)


def _chunk(value: Any) -> ChunkSpec:
    f.obj(value, "chunk", ["length", "replan_every"])
    length = f.integer(value["length"], "chunk.length", 1, 10000)
    return ChunkSpec(length, f.integer(value["replan_every"], "chunk.replan_every", 1, length))


def _stats(value: Any, path: str, n: int, n_from: str, extra: tuple[str, ...] = ()) -> dict:
    f.obj(value, path, ["mean", "std", "q01", "q99", *extra])
    out = {k: f.vector(value[k], f"{path}.{k}", n, n_from) for k in ("mean", "std", "q01", "q99")}
    for i, s in enumerate(out["std"]):
        if not s > 0:
            raise ManifestInvalid(f"{path}.std[{i}] is {s}; expected > 0 (a z-score divides by it)")
    for i, (a, b) in enumerate(zip(out["q01"], out["q99"])):
        if not a <= b:
            raise ManifestInvalid(f"{path}.q01[{i}] = {a} is above {path}.q99[{i}] = {b}; expected q01 <= q99")
    return out


def parse_normalization(value: Any, state_dim: int, action_dim: int) -> Normalization:
    """The manifest's `normalization` (its JSON form) as checked dataclasses; raises ManifestInvalid naming the field.
    Public: calib/stats.py checks statistics with the same rules before they travel in a checkpoint."""
    f.obj(value, "normalization", ["state", "action"])
    state = Stats(**_stats(value["state"], "normalization.state", state_dim, "state dim"))
    a = _stats(value["action"], "normalization.action", action_dim, "action.dim", ("mask",))
    mask = f.vector(value["action"]["mask"], "normalization.action.mask", action_dim, "action.dim", f.boolean)
    return Normalization(state, ActionStats(**a, mask=mask))


def _graphs(value: Any) -> Mapping[str, Mapping[str, str]]:
    f.obj(value, "graphs", [], RUNTIMES)
    out = {}
    for runtime, by_precision in value.items():
        f.obj(by_precision, f"graphs.{runtime}", [], PRECISIONS)
        out[runtime] = {}
        for precision, path in by_precision.items():
            member = f.member_name(path, f"graphs.{runtime}.{precision}")
            if not member.endswith(GRAPH_SUFFIX[runtime]):
                raise ManifestInvalid(f"graphs.{runtime}.{precision} is {member!r}; expected a "
                                      f"'{GRAPH_SUFFIX[runtime]}' file for runtime {runtime}")
            out[runtime][precision] = member
    if not any(out.values()):
        raise NoPolicyGraph(f"graphs is {value!r}; expected at least one policy graph, e.g. "
                            "{\"onnx\": {\"fp32\": \"policy/fp32.onnx\"}}")
    return MappingProxyType({r: MappingProxyType(p) for r, p in out.items() if p})


def _parity(value: Any, graphs: Mapping[str, Mapping[str, str]]) -> Mapping[str, ParityFigures]:
    f.obj(value, "parity", [], [f"{r}.{p}" for r in RUNTIMES for p in PRECISIONS])
    out = {}
    for key, fig in value.items():
        runtime, precision = key.split(".")
        if precision not in graphs.get(runtime, {}):
            raise ManifestInvalid(f"parity.{key} reports a graph the bundle does not have; graphs present: "
                                  f"{[f'{r}.{p}' for r, ps in graphs.items() for p in ps]}")
        f.obj(fig, f"parity.{key}", ["max_abs", "cosine", "n"])
        out[key] = ParityFigures(f.number(fig["max_abs"], f"parity.{key}.max_abs", lo=0.0),
                                 f.number(fig["cosine"], f"parity.{key}.cosine", lo=-1.0, hi=1.0),
                                 f.integer(fig["n"], f"parity.{key}.n", 1))
    return MappingProxyType(out)


def _provenance(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"provenance must be an object, got {value!r}")
    if "trained" not in value:
        raise ManifestInvalid("provenance is missing required field 'trained' (true, or false for an untrained "
                              "bundle)")
    return {"trained": f.boolean(value["trained"], "provenance.trained"),
            "provenance": MappingProxyType(copy.deepcopy(value))}


def _members(value: Any) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"members must be an object of member path -> SHA-256, got {value!r}")
    return MappingProxyType({f.member_name(k, f"members key {k!r}"): f.sha256_hex(v, f"members[{k!r}]")
                             for k, v in value.items()})
