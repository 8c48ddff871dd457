"""Dynamixel 2.0 codec against the vendor's own packet code (dynamixel-sdk 4.1.0, test-only).

Oracle: for bodies without FF FF FD, the bytes the SDK's txPacket writes. For bodies with FF FF FD, 4.1.0's
txPacket discards addStuffing's result (its wire bytes are wrong, shown below), so the oracle is addStuffing()
followed by updateCRC over the stuffed packet. Status packets we build are parsed by the SDK's rxPacket."""

import pytest

from vla_lite.firmware_bridge.servo import dynamixel as dxl
from vla_lite.firmware_bridge.servo.tables import DYNAMIXEL_X

sdk = pytest.importorskip("dynamixel_sdk")
from dynamixel_sdk import robotis_def  # noqa: E402
from dynamixel_sdk.protocol2_packet_handler import Protocol2PacketHandler  # noqa: E402

from servo_fixtures import CapturePort  # noqa: E402


def sdk_tx(call) -> bytes:
    port = CapturePort()
    call(Protocol2PacketHandler(), port)
    return port.written[0]


def sdk_stuffed(servo_id: int, instruction: int, params: bytes) -> bytes:
    """addStuffing() then updateCRC: the SDK's own steps, without txPacket's dropped result."""
    ph = Protocol2PacketHandler()
    length = len(params) + 3
    packet = [0xFF, 0xFF, 0xFD, 0x00, servo_id, length & 0xFF, length >> 8, instruction, *params, 0, 0]
    packet = ph.addStuffing(packet)
    total = robotis_def.DXL_MAKEWORD(packet[5], packet[6]) + 7
    crc = ph.updateCRC(0, packet, total - 2)
    return bytes(packet[:total - 2]) + bytes((crc & 0xFF, crc >> 8))


@pytest.mark.parametrize("ours, theirs", [
    (dxl.ping(1), lambda ph, port: ph.ping(port, 1)),
    (dxl.read(3, 132, 4), lambda ph, port: ph.readTx(port, 3, 132, 4)),
    (dxl.write(6, 116, b"\x00\x08\x00\x00"), lambda ph, port: ph.writeTxOnly(port, 6, 116, 4, [0, 8, 0, 0])),
    (dxl.reg_write(2, 64, b"\x01"), lambda ph, port: ph.regWriteTxOnly(port, 2, 64, 1, [1])),
    (dxl.action(1), lambda ph, port: ph.action(port, 1)),
    (dxl.sync_read(132, 4, [1, 2, 3, 4, 5, 6]),
     lambda ph, port: ph.syncReadTx(port, 132, 4, [1, 2, 3, 4, 5, 6], 6, False)),
    (dxl.sync_read(132, 4, [1, 2, 3], fast=True),
     lambda ph, port: ph.syncReadTx(port, 132, 4, [1, 2, 3], 3, True)),
    (dxl.sync_write(116, 4, [(1, b"\x00\x08\x00\x00"), (2, b"\x10\x00\x00\x00")]),
     lambda ph, port: ph.syncWriteTxOnly(port, 116, 4, [1, 0, 8, 0, 0, 2, 0x10, 0, 0, 0], 10)),
])
def test_instruction_bytes_equal_the_vendor_sdk(ours, theirs):
    assert ours == sdk_tx(theirs)


def test_manual_ping_example():
    assert dxl.ping(1) == bytes.fromhex("fffffd0001030001194e")


@pytest.mark.parametrize("params", [b"\x74\x00\xff\xff\xfd\x00", b"\x74\x00\xff\xff\xfd\xfd\xff\xff\xfd",
                                    b"\x74\x00\xff\xff\xff\xfd\x00\x00"])
def test_stuffed_bodies_equal_addstuffing_then_crc(params):
    ours = dxl.packet(3, dxl.Instruction.WRITE, params)
    assert ours == sdk_stuffed(3, dxl.Instruction.WRITE, params)
    # txPacket in 4.1.0 sends the unstuffed body with the stuffed LEN: not a valid frame for anyone.
    broken = sdk_tx(lambda ph, port: ph.writeTxOnly(port, 3, 0x74, len(params) - 2, list(params[2:])))
    assert broken != ours and dxl.Decoder().feed(broken) == []


@pytest.mark.parametrize("servo_id, error, data", [(1, 0, b"\x00\x08\x00\x00"), (6, 0x80, b"\xff\xff\xfd\x00"),
                                                   (3, dxl.ResultError.ACCESS, b"")])
def test_status_packets_parse_in_the_vendor_sdk(servo_id, error, data):
    port = CapturePort(b"\x00\xff" + dxl.status(servo_id, error, data))
    rx, result = Protocol2PacketHandler().rxPacket(port, False)  # rxPacket removes stuffing itself
    assert result == robotis_def.COMM_SUCCESS
    assert rx[4] == servo_id and rx[8] == error and bytes(rx[9:9 + len(data)]) == data
    (pkt,) = dxl.Decoder().feed(dxl.status(servo_id, error, data))
    assert (pkt.id, pkt.error, pkt.data) == (servo_id, error, data)


def test_crc_equals_the_sdk_table():
    ph = Protocol2PacketHandler()
    for data in (b"", b"\x00", bytes(range(256)), b"\xff" * 33):
        assert dxl.crc16(data) == ph.updateCRC(0, list(data), len(data))


def test_fast_sync_read_reply_parses_in_the_sdk_and_here():
    blocks = [(1, 0, b"\x00\x08\x00\x00"), (2, 0, b"\xff\xff\xfd\x00"), (3, 0x80, b"\x10\x00\x00\x00")]
    wire = dxl.fast_sync_read_status(blocks)
    ph = Protocol2PacketHandler()
    data, result, _ = ph.fastSyncReadRx(CapturePort(wire), 0xFE, 3 * 8)
    assert result == robotis_def.COMM_SUCCESS
    assert [(data[k * 8 + 1], data[k * 8], bytes(data[k * 8 + 2:k * 8 + 6])) for k in range(3)] == blocks
    (pkt,) = dxl.Decoder().feed(wire)
    assert dxl.parse_fast_sync_read(pkt, 4) == [dxl.FastBlock(*b) for b in blocks]
    # Each block's own CRC is that of the packet up to it: a wrong middle CRC ends the list after the block before.
    tampered = bytearray(pkt.params)
    tampered[14] ^= 0xFF  # block 2 of 3: ERR ID DATA(4) CRC at params[14:16]
    assert dxl.parse_fast_sync_read(pkt._replace(params=bytes(tampered)), 4) == [dxl.FastBlock(*blocks[0])]


def test_decoder_rejects_bad_crc_and_unstuffed_bodies_and_resyncs():
    good = dxl.status(2, 0, b"\x01\x02\x03\x04")
    bad = bytearray(dxl.status(1, 0, b"\x05\x06\x07\x08"))
    bad[-2] ^= 0x40
    # A CRC-valid frame whose body holds a bare FF FF FD was never stuffed: not a frame.
    raw_body = bytes((dxl.Instruction.STATUS, 0)) + b"\xff\xff\xfd\x01"
    unstuffed = dxl.HEADER + bytes((4, len(raw_body) + 2, 0)) + raw_body
    crc = dxl.crc16(unstuffed)
    unstuffed += bytes((crc & 0xFF, crc >> 8))
    dec = dxl.Decoder()
    out = dec.feed(b"\xff\xff\xfd" + bytes(bad) + unstuffed + b"\x00\xff" + good) + dec.finish()
    assert [dxl.encode(p) for p in out] == [good]
    assert 1 in dec.bad_ids and 4 in dec.bad_ids


def test_hardware_error_and_result_names():
    assert dxl.error_names(0x87) == ("alert", "access")
    assert dxl.hardware_error_names(0x24) == ("overheating", "overload")


def test_two_complement_registers():
    assert DYNAMIXEL_X.encode("Goal_Position", -1) == b"\xff\xff\xff\xff"
    assert DYNAMIXEL_X.decode("Present_Position", b"\x00\xf0\xff\xff") == -4096
    assert DYNAMIXEL_X.decode("Present_Input_Voltage", b"\x78\x00") == 120
