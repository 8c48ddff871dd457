"""Properties of the servo codecs over any input: the decoders never raise and never yield a frame whose
checksum/CRC is wrong (every packet they yield re-encodes to bytes that were in the stream), valid frames among
garbage all come out, stuffing round-trips, sign-magnitude round-trips."""

import pytest
from hypothesis import given, settings, strategies as st

from vla_lite.firmware_bridge.servo import dynamixel as dxl
from vla_lite.firmware_bridge.servo import feetech as ft
from vla_lite.firmware_bridge.servo.errors import ServoConfigError

CODECS = (ft, dxl)
streams = st.lists(st.binary(max_size=64) | st.sampled_from([b"\xff\xff", b"\xff\xff\xfd\x00", b"\xff\xff\xfd\xfd",
                                                              b"\xff", b"\xfd"]), max_size=30).map(b"".join)


def frames(codec):
    ids = st.integers(0, 0xFD)
    data = st.binary(max_size=12) | st.lists(st.sampled_from([b"\xff", b"\xfd", b"\x00"]), max_size=12).map(b"".join)
    return st.builds(lambda i, e, d: codec.status(i, e, d), ids, st.integers(0, 0x7F), data)


def decode_all(codec, stream: bytes, chunk: int) -> list:
    dec = codec.Decoder()
    out = []
    for i in range(0, len(stream), chunk):
        out += dec.feed(stream[i:i + chunk])
    return out + dec.finish()


@settings(max_examples=400, deadline=None)
@given(streams, st.integers(1, 17))
def test_any_stream_never_raises_and_yields_only_checked_frames(stream, chunk):
    for codec in CODECS:
        for pkt in decode_all(codec, stream, chunk):
            assert codec.encode(pkt) in stream  # the checksum/CRC bytes it carries were on the wire


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(1, 17))
def test_valid_frames_among_garbage_all_come_out(data, chunk):
    for codec in CODECS:
        sent = data.draw(st.lists(frames(codec), min_size=1, max_size=6))
        junk = data.draw(st.lists(st.binary(max_size=8).filter(lambda b: b"\xff" not in b), min_size=len(sent),
                                  max_size=len(sent)))
        stream = b"".join(j + f for j, f in zip(junk, sent))
        assert [codec.encode(p) for p in decode_all(codec, stream, chunk)] == sent


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_flipped_bits_never_yield_a_wrong_frame(data):
    for codec in CODECS:
        sent = data.draw(st.lists(frames(codec), min_size=1, max_size=4))
        stream = bytearray(b"".join(sent))
        for pos in data.draw(st.lists(st.integers(0, len(stream) * 8 - 1), max_size=3)):
            stream[pos // 8] ^= 1 << pos % 8
        for pkt in decode_all(codec, bytes(stream), 5):
            assert codec.encode(pkt) in bytes(stream)


@given(st.binary(max_size=80) | st.lists(st.sampled_from([b"\xff", b"\xfd", b"\x01"]), max_size=40).map(b"".join))
def test_stuffing_round_trips_and_leaves_no_header(body):
    stuffed = dxl.stuff(body)
    assert dxl.unstuff(stuffed) == body
    at = stuffed.find(b"\xff\xff\xfd")
    while at >= 0:  # every FF FF FD is followed by the stuffed FD, so no header can appear in a body
        assert stuffed[at + 3:at + 4] == b"\xfd"
        at = stuffed.find(b"\xff\xff\xfd", at + 4)


@given(st.integers(-(1 << 15) + 1, (1 << 15) - 1), st.sampled_from([10, 11, 15]))
def test_sign_magnitude_round_trips(value, bit):
    if abs(value) < 1 << bit:
        raw = ft.encode_sign_magnitude(value, bit)
        assert raw < 1 << (bit + 1) and ft.decode_sign_magnitude(raw, bit) == value
    else:
        with pytest.raises(ServoConfigError, match=f"magnitude {abs(value)} exceeds {(1 << bit) - 1}"):
            ft.encode_sign_magnitude(value, bit)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_whole_replies_in_one_read_decode_as_byte_by_byte(data):
    """A sync read's replies read in one go take the decoder's fixed-stride path (expected LEN, empty buffer); the
    same bytes fed one at a time take the general search: the packets, checksum failures and IDs blamed agree,
    whatever is wrong in them (a flipped bit, a byte lost, garbage)."""
    n_data = data.draw(st.integers(0, 4))
    ids = data.draw(st.lists(st.integers(0, 0xFD), min_size=1, max_size=6))
    stream = bytearray(b"".join(ft.status(i, data.draw(st.integers(0, 0x7F)), data.draw(st.binary(
        min_size=n_data, max_size=n_data))) for i in ids))
    for pos in data.draw(st.lists(st.integers(0, len(stream) * 8 - 1), max_size=2)):
        stream[pos // 8] ^= 1 << pos % 8
    if data.draw(st.booleans()):
        del stream[data.draw(st.integers(0, len(stream) - 1))]
    outcomes = []
    for chunk in (len(stream), 1):
        dec = ft.Decoder()
        dec.expect((n_data + 2,))
        out = [p for at in range(0, len(stream), chunk) for p in dec.feed(bytes(stream[at:at + chunk]))]
        outcomes.append((out + dec.finish(), list(dec.bad_ids), dec.stats.packets))
    assert outcomes[0] == outcomes[1]
