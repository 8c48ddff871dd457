"""Feetech codec against the vendor's own packet builder and parser (feetech-servo-sdk, test-only): every
instruction's bytes equal what the SDK writes, every status packet we build the SDK parses back, and the decoder
resynchronises on garbage. Big-endian (SCS) register values against the SDK's own byte macros."""

import pytest

from vla_lite.firmware_bridge.servo import feetech as ft
from vla_lite.firmware_bridge.servo.errors import ServoConfigError
from vla_lite.firmware_bridge.servo.tables import FEETECH_SCS, FEETECH_STS

sdk = pytest.importorskip("scservo_sdk")
from scservo_sdk import scservo_def  # noqa: E402
from servo_fixtures import CapturePort  # noqa: E402


def sdk_bytes(call) -> bytes:
    port = CapturePort()
    call(sdk.PacketHandler(0), port)
    return port.written[0]


@pytest.mark.parametrize("ours, theirs", [
    (ft.ping(1), lambda ph, port: ph.ping(port, 1)),
    (ft.read(3, 56, 2), lambda ph, port: ph.readTx(port, 3, 56, 2)),
    (ft.write(6, 42, b"\x00\x08"), lambda ph, port: ph.writeTxOnly(port, 6, 42, 2, [0x00, 0x08])),
    (ft.write(0xFE, 40, b"\x00"), lambda ph, port: ph.writeTxOnly(port, 0xFE, 40, 1, [0])),
    (ft.reg_write(2, 42, b"\xff\x0f"), lambda ph, port: ph.regWriteTxOnly(port, 2, 42, 2, [0xFF, 0x0F])),
    (ft.action(), lambda ph, port: ph.action(port, 0xFE)),
    (ft.sync_read(56, 2, [1, 2, 3, 4, 5, 6]),
     lambda ph, port: ph.syncReadTx(port, 56, 2, [1, 2, 3, 4, 5, 6], 6)),
    (ft.sync_write(42, 2, [(1, b"\x00\x08"), (2, b"\xff\xff"), (6, b"\x34\x12")]),
     lambda ph, port: ph.syncWriteTxOnly(port, 42, 2, [1, 0, 8, 2, 0xFF, 0xFF, 6, 0x34, 0x12], 9)),
])
def test_instruction_bytes_equal_the_vendor_sdk(ours, theirs):
    assert ours == sdk_bytes(theirs)


def test_golden_bytes_by_hand():
    # FF FF 01 02 01 ~(1+2+1)=FB: the manual's PING example.
    assert ft.ping(1) == bytes.fromhex("ffff010201fb")
    assert ft.sync_read(56, 2, [1, 2, 3]) == bytes.fromhex("fffffe0782380201020338")


@pytest.mark.parametrize("servo_id, error, data", [(1, 0, b"\x00\x08"), (6, 0x20, b"\xff\x0f"), (3, 0x05, b""),
                                                   (252, 0x00, bytes(range(20)))])
def test_status_packets_parse_in_the_vendor_sdk(servo_id, error, data):
    port = CapturePort(b"\x00\x13" + ft.status(servo_id, error, data))  # leading garbage: the SDK skips it too
    rx, result = sdk.PacketHandler(0).rxPacket(port)
    assert result == scservo_def.COMM_SUCCESS
    assert rx[2] == servo_id and rx[4] == error and bytes(rx[5:5 + len(data)]) == data


def test_a_corrupted_status_is_rejected_by_both():
    bad = bytearray(ft.status(2, 0, b"\x10\x20"))
    bad[-1] ^= 0x01
    rx, result = sdk.PacketHandler(0).rxPacket(CapturePort(bytes(bad)))
    assert result == scservo_def.COMM_RX_CORRUPT
    dec = ft.Decoder()
    assert dec.feed(bytes(bad)) == [] and dec.stats.bad_checksums == 1 and dec.bad_ids == [2]


def test_decoder_resyncs_on_garbage_and_split_feeds():
    frames = [ft.status(1, 0, b"\x01\x02"), ft.status(2, 0x20, b"\x03\x04"), ft.ping(7)]
    stream = b"\xff\x00\xff\xff\xff" + frames[0] + b"\xff\xff\x03\x09junk" + frames[1] + b"\x42" + frames[2]
    dec = ft.Decoder()
    out = []
    for i in range(0, len(stream), 3):  # any split
        out += dec.feed(stream[i:i + 3])
    out += dec.finish()
    assert [ft.encode(p) for p in out] == frames
    assert out[1].error == 0x20 and out[1].data == b"\x03\x04"


def test_expect_skips_a_garbage_header_claiming_another_length():
    reply = ft.status(4, 0, b"\x00\x08")
    dec = ft.Decoder()
    dec.expect({4})
    # Without expect() the FF FF 05 F0 head would wait for 240 more bytes and hide the reply.
    assert dec.feed(b"\xff\xff\x05\xf0" + reply) == [ft.Packet(4, 0, b"\x00\x08")]
    plain = ft.Decoder()
    assert plain.feed(b"\xff\xff\x05\xf0" + reply) == []
    assert plain.finish() == [ft.Packet(4, 0, b"\x00\x08")]  # the window closed: the head is dropped


def test_sign_magnitude_matches_the_sdk_macros():
    for value in (0, 1, -1, 2047, -2047, 1000, -4095):
        assert ft.encode_sign_magnitude(value, 15) == scservo_def.SCS_TOSCS(value, 15)
        assert ft.decode_sign_magnitude(ft.encode_sign_magnitude(value, 15), 15) == value
        assert scservo_def.SCS_TOHOST(ft.encode_sign_magnitude(value, 15), 15) == value


def test_homing_offset_magnitude_error_names_the_value():
    with pytest.raises(ServoConfigError, match=r"Homing_Offset = 2114: magnitude 2114 exceeds 2047"):
        FEETECH_STS.encode("Homing_Offset", 2114)
    assert FEETECH_STS.encode("Homing_Offset", -2047) == (2047 | 1 << 11).to_bytes(2, "little")
    assert FEETECH_STS.decode("Present_Load", (1 << 10 | 300).to_bytes(2, "little")) == -300


def test_scs_is_big_endian_like_the_sdk():
    sdk_end = scservo_def.SCS_END
    try:
        scservo_def.SCS_SETEND(1)
        value = 0x0312
        assert FEETECH_SCS.encode("Goal_Position", value) == bytes((scservo_def.SCS_LOBYTE(value),
                                                                    scservo_def.SCS_HIBYTE(value)))
        assert FEETECH_SCS.decode("Goal_Position", b"\x03\x12") == scservo_def.SCS_MAKEWORD(0x03, 0x12)
    finally:
        scservo_def.SCS_SETEND(sdk_end)
    assert FEETECH_STS.encode("Goal_Position", 0x0312) == b"\x12\x03"


def test_error_bits_by_name():
    assert ft.error_names(0x24) == ("overheat", "overload")
    assert ft.error_names(0x41) == ("voltage", "bit6")


def test_bad_arguments_name_the_value():
    with pytest.raises(ServoConfigError, match="servo ID must be an integer 0..254, got 300"):
        ft.ping(300)
    with pytest.raises(ServoConfigError, match="sync write of 2 bytes got 3 bytes for servo 4"):
        ft.sync_write(42, 2, [(4, b"\x00\x01\x02")])
