"""The pure codec: golden vectors, round trips, resynchronisation, and corruption that must never be accepted."""

import json
import math
import os
import pathlib
import random
import struct

import pytest
from hypothesis import given, settings, strategies as st

from vla_lite.firmware_bridge import framing, protocol as p

VECTORS = json.loads((pathlib.Path(p.__file__).parent / "golden_vectors.json").read_text())
JOINTS = (p.JointInfo("a", p.Unit.RAD, -1.0, 1.0, 2.0, 4.0, 5.0),)


def _msg_from_fields(type_name: str, fields: dict):
    cls = getattr(p, type_name)
    f = dict(fields)
    if cls is p.HelloAck:
        f["joints"] = tuple(p.JointInfo(**dict(j, unit=p.Unit(j["unit"]))) for j in f["joints"])
        f["modes"] = tuple(p.Mode(m) for m in f["modes"])
        f["firmware"] = tuple(f["firmware"])
    if cls is p.Torque:
        f["enable"] = bool(f["enable"])
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in f.items()})


def test_crc32c_check_value_both_implementations():
    assert framing.crc32c_py(b"123456789") == 0xE3069283
    assert framing.crc32c(b"123456789") == 0xE3069283
    assert VECTORS["crc32c_check"]["crc"] == 0xE3069283


def test_schema_hash_is_the_crc_of_the_documented_schema():
    doc = (pathlib.Path(p.__file__).parent / "PROTOCOL.md").read_text()
    block = doc.split("```\nHELLO 1 ")[1].split("```")[0]
    assert framing.crc32c(("HELLO 1 " + block).encode()) == p.SCHEMA_HASH
    assert f"0x{p.SCHEMA_HASH:08X}" in doc
    assert VECTORS["schema_hash"] == p.SCHEMA_HASH


@pytest.mark.parametrize("vec", VECTORS["valid"], ids=lambda v: v["name"])
def test_golden_vector_encodes_and_decodes_byte_exact(vec):
    msg = _msg_from_fields(vec["type"], vec["fields"])
    frame = bytes.fromhex(vec["frame_hex"])
    assert p.encode(msg, vec["seq"]) == frame
    dec = p.Decoder()
    (pkt,) = dec.feed(frame)
    assert pkt.seq == vec["seq"] and pkt.msg == msg
    assert dec.stats.dropped == 0


@pytest.mark.parametrize("vec", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors_are_rejected_for_the_stated_reason(vec):
    dec = p.Decoder()
    out = dec.feed(bytes.fromhex(vec["frame_hex"]))
    reason = vec["reason"]
    if reason == "foreign_version":
        assert out == [p.Packet(42, p.ForeignVersion(vec["major"], vec["minor"], int(p.MsgType.COMMAND)), 0)]
        assert dec.stats.foreign_version == 1
    else:
        assert out == []
        counter = {"crc": "crc_failures", "cobs": "cobs_errors", "short": "short"}[reason]
        assert getattr(dec.stats, counter) == 1 and dec.stats.dropped == 1


def test_cobs_pure_python_matches_c_backed_on_edge_lengths():
    for n in (0, 1, 253, 254, 255, 508, 509, 600):
        for data in (bytes(n), os.urandom(n), b"\x01" * n):
            enc = framing.cobs_encode_py(data)
            assert 0 not in enc
            assert enc == framing.cobs_encode(data)
            assert framing.cobs_decode_py(enc) == data == framing.cobs_decode(enc)


def test_decoder_splits_frames_across_arbitrary_chunk_boundaries():
    msgs = [p.Command(p.Mode.JOINT_POSITION, (0.1 * i, -0.2, 0.3), 50) for i in range(50)]
    stream = b"".join(p.encode(m, i + 1) for i, m in enumerate(msgs))
    rng = random.Random(1)
    for _ in range(20):
        dec, got, i = p.Decoder(), [], 0
        while i < len(stream):
            j = i + rng.randint(1, 40)
            got += dec.feed(stream[i:j])
            i = j
        assert [pk.msg for pk in got] == [p.Command(m.mode, tuple(struct.unpack("<3f", struct.pack("<3f", *m.target))),
                                                    m.valid_ms) for m in msgs]
        assert [pk.seq for pk in got] == list(range(1, 51))


def test_overlong_garbage_is_dropped_as_overflow_and_the_next_frame_recovers():
    dec = p.Decoder()
    frame = p.encode(p.Heartbeat(), 5)
    out = dec.feed(b"\x01" * 2000) + dec.feed(b"\x01" * 100 + b"\x00" + frame)
    assert [pk.msg for pk in out] == [p.Heartbeat()]
    assert dec.stats.overflow == 1


def test_payload_length_mismatch_is_a_counted_drop():
    body = struct.pack("<BBBBI", 1, 0, int(p.MsgType.COMMAND), 0, 9) + struct.pack("<BBH3f", 1, 4, 10, 1, 2, 3)
    frame = framing.cobs_encode(body + struct.pack("<I", framing.crc32c(body))) + b"\x00"
    dec = p.Decoder()
    assert dec.feed(frame) == []
    assert dec.stats.bad_payload == 1


def test_encoder_rejects_oversized_strings_and_bad_joint_counts_with_clear_errors():
    with pytest.raises(ValueError, match="at most 64"):
        p.encode(p.Log(1, 1, "é" * 40), 1)
    with pytest.raises(ValueError, match="1 to 32 joints"):
        p.encode(p.HelloAck(p.SCHEMA_HASH, (0, 0, 0), (), 1.0, 1, 1, "x", ()), 1)
    with pytest.raises(TypeError, match="cannot encode str"):
        p.encode("hello", 1)


# --- properties --------------------------------------------------------------------------------------------

f32 = st.floats(width=32, allow_nan=False)
messages = st.one_of(
    st.builds(p.Command, st.sampled_from(list(p.Mode)), st.lists(f32, min_size=0, max_size=32).map(tuple),
              st.integers(0, 65535)),
    st.builds(p.State, st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), st.integers(0, 65535),
              st.integers(0, 65535), st.just((0.5, 1.0)), st.just((0.0, -1.0)), st.just((2.0, 3.0))),
    st.builds(p.Log, st.integers(0, 3), st.integers(0, 65535), st.text(max_size=16)),
    st.builds(p.ClearFault, st.integers(0, 65535)),
    st.just(p.Heartbeat()), st.just(p.Estop()),
)


@settings(max_examples=300, deadline=None)
@given(msg=messages, seq=st.integers(0, 2**32 - 1), before=st.binary(max_size=300), after=st.binary(max_size=300))
def test_any_valid_frame_embedded_in_garbage_is_recovered(msg, seq, before, after):
    dec = p.Decoder()
    # The delimiter before the frame is what a receiver resynchronises on.
    out = dec.feed(before + b"\x00" + p.encode(msg, seq) + after)
    assert p.Packet(seq, msg) in out


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_raise_and_never_yield_a_message(data):
    dec = p.Decoder()
    assert dec.feed(data + b"\x00") == []
    assert dec.stats.frames == 0


def test_random_garbage_stream_yields_nothing_and_counts_every_drop():
    rng = random.Random(7)
    dec = p.Decoder()
    for _ in range(2000):
        chunk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
        assert dec.feed(chunk) == []
    st_ = dec.stats
    assert st_.frames == 0 and st_.dropped > 0
    assert st_.dropped == st_.overflow + st_.cobs_errors + st_.short + st_.crc_failures + st_.bad_payload \
        + st_.unknown_type


def test_100k_frames_with_random_bit_flips_accept_zero_corrupted_messages():
    """Each frame gets 1 to 8 random bit flips; anything delivered must equal what was sent."""
    rng = random.Random(2026)
    sent = [p.Command(p.Mode.JOINT_POSITION, tuple(rng.uniform(-3, 3) for _ in range(7)), 100)]
    frames = [p.encode(sent[0], 1)]
    n, accepted, corrupted = 100_000, 0, 0
    dec = p.Decoder()
    reference = p.Decoder().feed(frames[0])[0].msg
    for i in range(n):
        raw = bytearray(frames[0])
        for _ in range(rng.randint(1, 8)):
            k = rng.randrange(len(raw))
            raw[k] ^= 1 << rng.randrange(8)
        for pkt in dec.feed(bytes(raw) + b"\x00"):
            accepted += 1
            if pkt.msg != reference or pkt.seq != 1:
                corrupted += 1
    assert corrupted == 0
    # Flips inside a frame are almost all caught: at most the rare flips that cancel out are delivered intact.
    assert accepted < n * 0.01
    assert dec.stats.dropped >= n * 0.99


def test_finite_helper():
    assert p.finite((0.0, 1.0)) and not p.finite((0.0, math.nan)) and not p.finite((math.inf,))
