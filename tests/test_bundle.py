"""The `.vla` bundle: round trip, every refusal with its own error naming the bad value, normalisation,
compatibility with the arm controller, and `vla-lite info`."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from bundle_factory import ARM, base_manifest, tiny_bundle, zip_bytes  # noqa: F401  (tiny_bundle is a fixture)
from vla_lite.bundle import (ArchiveError, BundleMismatch, ChecksumMismatch, Manifest, ManifestInvalid,
                             ManifestMissing, ManifestNotJSON, MemberMissing, NoPolicyGraph, UnlistedMember,
                             UnsupportedSchema, check_compatible, load_bundle, write_bundle)
from vla_lite.bundle.errors import BundleError
from vla_lite.cli import main as cli_main
from vla_lite.firmware_bridge.arm_config import ArmConfig
from vla_lite.firmware_bridge.protocol import Mode, Unit


def stored_manifest(tb) -> dict:
    """The manifest JSON as written into the tiny bundle (members filled in)."""
    with zipfile.ZipFile(tb.path) as zf:
        return json.loads(zf.read("manifest.json"))


def raw_bundle(tmp_path, manifest, members, name="raw.vla", manifest_bytes=None) -> str:
    """A bundle zip written without write_bundle's validation, to present bad manifests to the loader."""
    entries = {"manifest.json": manifest_bytes if manifest_bytes is not None else json.dumps(manifest).encode()}
    entries.update(members)
    path = tmp_path / name
    path.write_bytes(zip_bytes(entries))
    return str(path)


def valid_manifest(**changes) -> Manifest:
    d = base_manifest()
    d["members"] = {}
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = d
        for p in parents:
            node = node[p]
        node[leaf] = value
    return Manifest.from_dict(d)


# --- round trip ------------------------------------------------------------------------------------------

def test_round_trip_keeps_manifest_and_members(tiny_bundle, tmp_path):
    b = load_bundle(tiny_bundle.path)
    m = b.manifest
    assert m.name == "tiny-test-policy" and m.trained is False
    assert [c.name for c in m.cameras] == ["front", "wrist"] and (m.cameras[1].height, m.cameras[1].width) == (24, 24)
    assert m.action.names == tuple(ARM.joint_names) and m.chunk.length == 4 and m.rate_hz == 20.0
    assert b.available() == [("onnx", "fp32"), ("onnx", "int8"), ("tflite", "fp32"), ("tflite", "int8")]
    for name, data in tiny_bundle.members.items():
        assert b.read(name) == data
        assert m.members[name] == hashlib.sha256(data).hexdigest()
        assert b.sizes[name] == len(data)
    assert Manifest.from_dict(m.to_dict()) == m
    assert set(m.parity) == {"onnx.fp32", "onnx.int8", "tflite.fp32", "tflite.int8"}
    # A Manifest object is accepted as well as a dict, and the same inputs give the same bytes.
    again = write_bundle(tmp_path / "again.vla", m, tiny_bundle.members)
    assert again.read_bytes() == tiny_bundle.path.read_bytes()


def test_written_bundle_is_a_stored_zip_with_manifest_first(tiny_bundle):
    with zipfile.ZipFile(tiny_bundle.path) as zf:
        infos = zf.infolist()
    assert infos[0].filename == "manifest.json"
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)


def test_write_refuses_before_touching_an_existing_file(tiny_bundle, tmp_path):
    target = tmp_path / "keep.vla"
    target.write_bytes(tiny_bundle.path.read_bytes())
    before = target.read_bytes()
    bad = copy.deepcopy(tiny_bundle.manifest)
    bad["chunk"]["length"] = 0
    with pytest.raises(ManifestInvalid, match=r"chunk.length is 0"):
        write_bundle(target, bad, tiny_bundle.members)
    members = dict(tiny_bundle.members)
    del members["policy/int8.tflite"]
    with pytest.raises(MemberMissing, match=r"graphs.tflite.int8 names 'policy/int8.tflite'"):
        write_bundle(target, tiny_bundle.manifest, members)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.vla"]  # no temp files left behind


def test_write_refuses_bad_member_names_and_values(tiny_bundle, tmp_path):
    for name in ("../escape.onnx", "/abs.onnx", "manifest.json", "a//b"):
        with pytest.raises(ManifestInvalid, match=r"expected a relative path"):
            write_bundle(tmp_path / "x.vla", tiny_bundle.manifest, {**tiny_bundle.members, name: b"x"})
    with pytest.raises(TypeError, match=r"member 'policy/fp32.onnx' must be bytes, got str"):
        write_bundle(tmp_path / "x.vla", tiny_bundle.manifest, {**tiny_bundle.members, "policy/fp32.onnx": "text"})
    assert not (tmp_path / "x.vla").exists()


def test_write_replaces_a_given_members_field(tiny_bundle, tmp_path):
    m = copy.deepcopy(tiny_bundle.manifest)
    m["members"] = {"policy/fp32.onnx": "0" * 64}
    b = load_bundle(write_bundle(tmp_path / "m.vla", m, tiny_bundle.members))
    assert set(b.manifest.members) == set(tiny_bundle.members)


# --- archive-level refusals --------------------------------------------------------------------------------

def test_not_a_zip(tmp_path):
    p = tmp_path / "notes.vla"
    p.write_bytes(b"this is a text file, not a bundle\n")
    with pytest.raises(ArchiveError, match=r"notes.vla is not a .vla bundle: expected a zip archive"):
        load_bundle(p)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ArchiveError, match=r"no bundle file at .*nowhere.vla"):
        load_bundle(tmp_path / "nowhere.vla")
    with pytest.raises(ArchiveError, match=r"it is a directory"):
        load_bundle(tmp_path)


def test_truncated_file(tiny_bundle, tmp_path):
    data = tiny_bundle.path.read_bytes()
    p = tmp_path / "cut.vla"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match=r"cut.vla is not a .vla bundle.*truncated"):
        load_bundle(p)


def test_damaged_member_bytes(tiny_bundle, tmp_path):
    data = bytearray(tiny_bundle.path.read_bytes())
    member = tiny_bundle.members["policy/fp32.tflite"]
    at = bytes(data).find(member[200:264]) + 10
    data[at] ^= 0xFF
    p = tmp_path / "flipped.vla"
    p.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"member 'policy/fp32.tflite' cannot be read"):
        load_bundle(p)


def test_compressed_member_refused(tiny_bundle, tmp_path):
    p = tmp_path / "deflated.vla"
    entries = {"manifest.json": json.dumps(stored_manifest(tiny_bundle)).encode(), **tiny_bundle.members}
    p.write_bytes(zip_bytes(entries, compression=zipfile.ZIP_DEFLATED))
    with pytest.raises(ArchiveError, match=r"member 'manifest.json' is compressed .*expected stored members"):
        load_bundle(p)


def test_unsafe_and_duplicate_entries(tiny_bundle, tmp_path):
    m = stored_manifest(tiny_bundle)
    with pytest.raises(ArchiveError, match=r"unsafe name '../evil.sh'"):
        load_bundle(raw_bundle(tmp_path, m, {**tiny_bundle.members, "../evil.sh": b"rm -rf"}))
    p = tmp_path / "dup.vla"
    with zipfile.ZipFile(p, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("manifest.json", json.dumps(m))
        for name, data in tiny_bundle.members.items():
            zf.writestr(name, data)
        zf.writestr("policy/fp32.onnx", b"a second copy")
    with pytest.raises(ArchiveError, match=r"holds 'policy/fp32.onnx' twice"):
        load_bundle(p)


def test_missing_manifest(tiny_bundle, tmp_path):
    p = tmp_path / "nomanifest.vla"
    p.write_bytes(zip_bytes(tiny_bundle.members))
    with pytest.raises(ManifestMissing, match=r"has no manifest.json; it holds \['policy/fp32.onnx'"):
        load_bundle(p)


@pytest.mark.parametrize("raw, expected", [
    (b"{not json", r"manifest.json is not valid JSON: .*line 1 column 2"),
    (b'{"schema": NaN}', r"not valid JSON: NaN is not valid JSON"),
    (b"[1, 2, 3]", r"holds a JSON list; expected an object"),
    (b"\xff\xfe{}", r"manifest.json is not UTF-8 text"),
])
def test_manifest_not_json(tiny_bundle, tmp_path, raw, expected):
    with pytest.raises(ManifestNotJSON, match=expected):
        load_bundle(raw_bundle(tmp_path, None, tiny_bundle.members, manifest_bytes=raw))


@pytest.mark.parametrize("schema", [2, 0, "1", None, True])
def test_unknown_schema_version(tiny_bundle, tmp_path, schema):
    m = stored_manifest(tiny_bundle)
    if schema is None:
        del m["schema"]
    else:
        m["schema"] = schema
    with pytest.raises(UnsupportedSchema, match=rf"manifest schema is {schema!r}; this runtime reads schema 1"):
        load_bundle(raw_bundle(tmp_path, m, tiny_bundle.members))


def _set(path: str, value):
    def edit(m):
        *parents, leaf = path.split(".")
        node = m
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is _DELETE:
            del node[leaf]
        elif isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return edit


_DELETE = object()

INVALID = {
    "missing field": (_set("chunk", _DELETE), r"manifest is missing required field\(s\) \['chunk'\]"),
    "unknown field": (_set("normalisation", {}), r"manifest has unknown field\(s\) \['normalisation'\]"),
    "wrong type": (_set("chunk.length", "8"), r"chunk.length must be an integer, got string '8'"),
    "bool is not an int": (_set("chunk.length", True), r"chunk.length must be an integer, got boolean True"),
    "action std length": (_set("normalization.action.std", [1.0, 1.0]),
                          r"normalization.action.std has 2 entries, expected 4 \(action.dim\)"),
    "state mean length": (_set("normalization.state.mean", [0.0] * 3),
                          r"normalization.state.mean has 3 entries, expected 4 \(state dim\)"),
    "mask length": (_set("normalization.action.mask", [True] * 5),
                    r"normalization.action.mask has 5 entries, expected 4 \(action.dim\)"),
    "mask type": (_set("normalization.action.mask", [1, 1, 1, 0]),
                  r"normalization.action.mask\[0\] must be true or false, got integer 1"),
    "std zero": (_set("normalization.state.std.1", 0.0), r"normalization.state.std\[1\] is 0.0; expected > 0"),
    "quantiles crossed": (_set("normalization.action.q01.2", 5.0),
                          r"normalization.action.q01\[2\] = 5.0 is above normalization.action.q99\[2\] = 2.0"),
    "low not below high": (_set("action.low.3", 0.08),
                           r"action.low/high for 'gripper' is \[0.08, 0.08\]; expected low < high"),
    "names vs dim": (_set("action.names", ["a", "b", "c"]), r"action.names has 3 entries, expected 4 \(action.dim\)"),
    "duplicate names": (_set("state.names", ["a", "a", "b", "c"]), r"state.names repeats \['a'\]"),
    "unknown mode": (_set("action.mode", "cartesian"),
                     r"action.mode is 'cartesian'; expected one of \['joint_position', 'joint_velocity', 'ee_delta'\]"),
    "unknown unit": (_set("state.units.0", "deg"), r"state.units\[0\] is 'deg'; expected one of"),
    "unit wrong for mode": (_set("action.units.0", "rad/s"), r"action.units\[0\] is 'rad/s'; expected one of"),
    "replan beyond chunk": (_set("chunk.replan_every", 5), r"chunk.replan_every is 5; expected an integer in \[1, 4\]"),
    "rate zero": (_set("control.rate_hz", 0), r"control.rate_hz is 0.0; expected > 0.0"),
    "rate not a number": (_set("control.rate_hz", "fast"),
                          r"control.rate_hz must be a finite number, got string 'fast'"),
    "camera name": (_set("cameras.0.name", "front cam"), r"cameras\[0\].name is 'front cam'; expected letters"),
    "camera twice": (_set("cameras.1.name", "front"), r"cameras repeat the name\(s\) \['front'\]"),
    "pixel range": (_set("cameras.0.pixel_range", [1.0, 0.0]), r"cameras\[0\].pixel_range is \[1.0, 0.0\]"),
    "crop": (_set("cameras.0.crop", [0, -1, 10, 10]), r"cameras\[0\].crop is \[0, -1, 10, 10\]"),
    "channel order": (_set("cameras.0.channel_order", "RGBA"), r"cameras\[0\].channel_order is 'RGBA'"),
    "height": (_set("cameras.1.height", 0), r"cameras\[1\].height is 0; expected an integer in \[1, 8192\]"),
    "created": (_set("created", "yesterday"), r"created is 'yesterday'; expected an ISO 8601 time"),
    "graph suffix": (_set("graphs.onnx.fp32", "policy/fp32.tflite"),
                     r"graphs.onnx.fp32 is 'policy/fp32.tflite'; expected a '.onnx' file"),
    "unknown runtime": (_set("graphs.tensorrt", {"fp32": "policy/x.plan"}),
                        r"graphs has unknown field\(s\) \['tensorrt'\]"),
    "unknown precision": (_set("graphs.onnx.fp16", "policy/fp16.onnx"),
                          r"graphs.onnx has unknown field\(s\) \['fp16'\]"),
    "encoder without vocab": (_set("instruction.encoder", "text/encoder.onnx"),
                              r"instruction.encoder is 'text/encoder.onnx' and instruction.vocab is None"),
    "provenance.trained": (_set("provenance.trained", _DELETE),
                           r"provenance is missing required field 'trained'"),
    "parity field": (lambda m: m["parity"].update({"onnx.int8": {"max_abs": -1.0, "cosine": 1.0, "n": 3}}),
                     r"parity.onnx.int8.max_abs is -1.0; expected >= 0.0"),
    "member hash": (lambda m: m["members"].update({"policy/fp32.onnx": "ABC"}),
                    r"members\['policy/fp32.onnx'\] must be a SHA-256 as 64 lowercase hex digits, got 'ABC'"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_manifest_field(tiny_bundle, tmp_path, case):
    edit, expected = INVALID[case]
    m = stored_manifest(tiny_bundle)
    edit(m)
    with pytest.raises(ManifestInvalid, match=expected):
        load_bundle(raw_bundle(tmp_path, m, tiny_bundle.members))


def test_parity_for_a_graph_that_is_absent(tiny_bundle, tmp_path):
    m = copy.deepcopy(tiny_bundle.manifest)
    del m["graphs"]["tflite"]["int8"]
    with pytest.raises(ManifestInvalid, match=r"parity.tflite.int8 reports a graph the bundle does not have"):
        write_bundle(tmp_path / "p.vla", m, tiny_bundle.members)


@pytest.mark.parametrize("graphs", [{}, {"onnx": {}}, {"onnx": {}, "tflite": {}}])
def test_no_policy_graph(tiny_bundle, tmp_path, graphs):
    m = stored_manifest(tiny_bundle)
    m["graphs"], m["parity"] = graphs, {}
    with pytest.raises(NoPolicyGraph, match=r"expected at least one policy graph"):
        load_bundle(raw_bundle(tmp_path, m, tiny_bundle.members))


def test_listed_member_missing_from_archive(tiny_bundle, tmp_path):
    members = {k: v for k, v in tiny_bundle.members.items() if k != "policy/int8.tflite"}
    with pytest.raises(MemberMissing, match=r"manifest.members lists \['policy/int8.tflite'\] but the archive"):
        load_bundle(raw_bundle(tmp_path, stored_manifest(tiny_bundle), members))


def test_referenced_graph_not_listed(tiny_bundle, tmp_path):
    m = stored_manifest(tiny_bundle)
    m["graphs"]["onnx"]["int8"] = "policy/other.onnx"
    with pytest.raises(MemberMissing, match=r"graphs.onnx.int8 names 'policy/other.onnx', which is not in the bundle"):
        load_bundle(raw_bundle(tmp_path, m, tiny_bundle.members))


def test_extra_unlisted_member(tiny_bundle, tmp_path):
    members = {**tiny_bundle.members, "notes/readme.txt": b"hello"}
    with pytest.raises(UnlistedMember, match=r"holds \['notes/readme.txt'\], which manifest.members does not list"):
        load_bundle(raw_bundle(tmp_path, stored_manifest(tiny_bundle), members))


def test_checksum_mismatch_names_member_and_both_hashes(tiny_bundle, tmp_path):
    m = stored_manifest(tiny_bundle)
    swapped = tiny_bundle.members["policy/int8.onnx"]  # a valid zip entry, but not the bytes the manifest hashed
    members = {**tiny_bundle.members, "policy/fp32.onnx": swapped}
    expected, actual = m["members"]["policy/fp32.onnx"], hashlib.sha256(swapped).hexdigest()
    with pytest.raises(ChecksumMismatch) as err:
        load_bundle(raw_bundle(tmp_path, m, members))
    assert "'policy/fp32.onnx'" in str(err.value) and expected in str(err.value) and actual in str(err.value)


def test_read_rechecks_the_hash_after_the_file_changed(tiny_bundle, tmp_path):
    p = tmp_path / "live.vla"
    p.write_bytes(tiny_bundle.path.read_bytes())
    b = load_bundle(p)
    # Replace the file under the loaded bundle: same member names, one member's bytes differ.
    m = stored_manifest(tiny_bundle)
    p.write_bytes(zip_bytes({"manifest.json": json.dumps(m).encode(), **tiny_bundle.members,
                             "policy/fp32.onnx": b"swapped after loading"}))
    with pytest.raises(ChecksumMismatch, match=r"member 'policy/fp32.onnx' has SHA-256"):
        b.read("policy/fp32.onnx")
    assert b.read("policy/int8.onnx") == tiny_bundle.members["policy/int8.onnx"]
    with pytest.raises(MemberMissing, match=r"no member 'policy/none.onnx'"):
        b.read("policy/none.onnx")


def test_every_refusal_is_a_bundle_error():
    for cls in (ArchiveError, ManifestMissing, ManifestNotJSON, UnsupportedSchema, ManifestInvalid, NoPolicyGraph,
                MemberMissing, UnlistedMember, ChecksumMismatch, BundleMismatch):
        assert issubclass(cls, BundleError)
    assert len({ArchiveError, ManifestMissing, ManifestNotJSON, UnsupportedSchema, ManifestInvalid, NoPolicyGraph,
                MemberMissing, UnlistedMember, ChecksumMismatch}) == 9


# --- normalisation ---------------------------------------------------------------------------------------

def test_normalize_state_matches_numpy(tiny_bundle):
    b = load_bundle(tiny_bundle.path)
    st = tiny_bundle.manifest["normalization"]["state"]
    x = np.array([0.3, -1.2, 2.0, 0.05])
    got = b.normalize_state(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, (x - np.array(st["mean"])) / np.array(st["std"]), rtol=1e-6)
    batch = np.stack([x, 2 * x])
    np.testing.assert_allclose(b.normalize_state(batch)[1], (2 * x - st["mean"]) / np.array(st["std"]), rtol=1e-6)
    with pytest.raises(ValueError, match=r"state has shape \(3,\); expected \(\.\.\., 4\)"):
        b.normalize_state(x[:3])


def test_denormalize_actions_honours_the_mask(tiny_bundle):
    b = load_bundle(tiny_bundle.path)
    a = tiny_bundle.manifest["normalization"]["action"]
    chunk = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    got = b.denormalize_actions(chunk)
    mean, std = np.array(a["mean"]), np.array(a["std"])
    np.testing.assert_allclose(got[:, :3], chunk[:, :3] * std[:3] + mean[:3], rtol=1e-6)
    np.testing.assert_array_equal(got[:, 3], chunk[:, 3].astype(np.float64))  # mask false: passed through
    assert got.dtype == np.float64 and got.shape == (4, 4)
    with pytest.raises(ValueError, match=r"action chunk has shape \(4, 3\); expected \(\.\.\., 4\)"):
        b.denormalize_actions(chunk[:, :3])


# --- compatibility with the controller ----------------------------------------------------------------------

def _arm(joints=None, modes=(Mode.JOINT_POSITION, Mode.JOINT_VELOCITY), max_rate_hz=500.0) -> ArmConfig:
    return ArmConfig("test arm", tuple(joints if joints is not None else ARM.joints), tuple(modes), max_rate_hz)


def test_compatible_bundle_passes():
    assert check_compatible(valid_manifest(), ARM) is None


def test_mode_not_offered():
    with pytest.raises(BundleMismatch, match=r"action mode is 'joint_position' but controller 'test arm' offers "
                                             r"\['joint_velocity'\]"):
        check_compatible(valid_manifest(), _arm(modes=(Mode.JOINT_VELOCITY,)))


def test_joint_names_differ():
    joints = list(ARM.joints)
    joints[2] = joints[2]._replace(name="wrist")
    with pytest.raises(BundleMismatch, match=r"differ in names from controller 'test arm' joints "
                                             r"\['shoulder_pan', 'shoulder_lift', 'wrist', 'gripper'\]"):
        check_compatible(valid_manifest(), _arm(joints))


def test_joint_order_differs():
    j = list(ARM.joints)
    with pytest.raises(BundleMismatch, match=r"bundle action joints \['shoulder_pan', 'shoulder_lift', 'elbow', "
                                             r"'gripper'\] differ in order"):
        check_compatible(valid_manifest(), _arm([j[1], j[0], j[2], j[3]]))


def test_units_differ():
    joints = list(ARM.joints)
    joints[3] = joints[3]._replace(unit=Unit.RAD)
    with pytest.raises(BundleMismatch, match=r"joint 'gripper': bundle action unit is 'm' but the controller's "
                                             r"joint is in RAD \(expected 'rad'\)"):
        check_compatible(valid_manifest(), _arm(joints))


def test_state_joint_unknown_or_in_other_units():
    m = valid_manifest(state__names=["shoulder_pan", "shoulder_lift", "elbow", "camera_tilt"])
    with pytest.raises(BundleMismatch, match=r"bundle state needs joint 'camera_tilt'"):
        check_compatible(m, ARM)
    m = valid_manifest(state__units=["rad", "rad", "m", "m"])
    with pytest.raises(BundleMismatch, match=r"joint 'elbow': bundle state unit is 'm'"):
        check_compatible(m, ARM)


def test_rate_above_controller_maximum():
    with pytest.raises(BundleMismatch, match=r"control rate is 20.0 Hz but controller 'test arm' accepts at most "
                                             r"10.0 Hz"):
        check_compatible(valid_manifest(), _arm(max_rate_hz=10.0))


def test_velocity_mode_needs_velocity_units():
    m = valid_manifest(action__mode="joint_velocity", action__units=["rad/s", "rad/s", "rad/s", "m/s"])
    assert check_compatible(m, ARM) is None
    m = valid_manifest(action__mode="joint_velocity", action__units=["rad/s", "rad/s", "rad/s", "rad/s"])
    with pytest.raises(BundleMismatch, match=r"joint 'gripper': bundle action unit is 'rad/s'.*expected 'm/s'"):
        check_compatible(m, ARM)


def test_ee_delta_dimensions():
    arm = _arm(modes=(Mode.EE_DELTA,))
    ee = dict(action__mode="ee_delta", action__names=["dx", "dy", "dz", "grip"], action__units=["m", "m", "m", "1"])
    assert check_compatible(valid_manifest(**ee), arm) is None
    with pytest.raises(BundleMismatch, match=r"ee_delta units are \['m', 'm', 'rad', '1'\]"):
        check_compatible(valid_manifest(**{**ee, "action__units": ["m", "m", "rad", "1"]}), arm)


# --- vla-lite info -----------------------------------------------------------------------------------------

def test_info_json(tiny_bundle, capsys):
    assert cli_main(["info", str(tiny_bundle.path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["trained"] is False and info["warnings"] and "UNTRAINED" in info["warnings"][0]
    assert {(g["runtime"], g["precision"]): g["bytes"] for g in info["graphs"]} == {
        (g.split("/")[1].split(".")[1], g.split("/")[1].split(".")[0]): len(data)
        for g, data in tiny_bundle.members.items()}
    assert info["graphs"][1]["parity"] == tiny_bundle.manifest["parity"]["onnx.int8"]
    assert info["manifest"]["action"]["names"] == list(ARM.joint_names)


def test_info_text(tiny_bundle, capsys):
    assert cli_main(["info", str(tiny_bundle.path)]) == 0
    out, err = capsys.readouterr()
    assert "UNTRAINED" in out and "UNTRAINED" in err
    for text in ("front        32x32 RGB", "wrist        24x24 RGB", "joint_position, dim 4", "4 steps, replan every 2",
                 "20 Hz", "tflite-int8", "policy/int8.tflite", "passed through (mask false)", "cosine"):
        assert text in out, text


def test_info_on_a_trained_bundle_has_no_warning(tiny_bundle, tmp_path, capsys):
    p = tiny_bundle.variant(tmp_path, edit=_set("provenance", {"trained": True, "teacher": "t"}))
    assert cli_main(["info", str(p)]) == 0
    out, err = capsys.readouterr()
    assert "UNTRAINED" not in out + err and 'teacher="t"' in out


def test_info_reports_a_bad_bundle(tmp_path, capsys):
    p = tmp_path / "bad.vla"
    p.write_bytes(b"nope")
    assert cli_main(["info", str(p)]) == 1
    assert "ArchiveError" in capsys.readouterr().err


def test_importing_bundle_and_backends_loads_no_runtime():
    probe = ("import sys, vla_lite.bundle, vla_lite.backends, vla_lite.info, vla_lite.bench; "
             "print([m for m in ('torch', 'onnxruntime', 'ai_edge_litert', 'tflite_runtime', 'cv2') "
             "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
