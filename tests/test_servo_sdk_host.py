"""The vendors' SDKs as the host against vla-lite's virtual servos over a real pty (raw mode): ping, read, write,
sync read and sync write all succeed, and what the SDK writes is what the virtual servos hold."""

import contextlib
import time

import pytest
from servo_fixtures import quick_thread_switches  # noqa: F401 (fixture)

from vla_lite.firmware_bridge.servo.serve import serve_pty

LIVENESS_S = 5.0


pytestmark = pytest.mark.usefixtures("quick_thread_switches")


def wait_until(predicate, what: str):
    deadline = time.monotonic() + LIVENESS_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {LIVENESS_S} s")
        time.sleep(0.01)


def sync_read_group(sdk, port, ph, address: int, size: int):
    group = sdk.GroupSyncRead(port, ph, address, size)
    for servo_id in range(1, 7):
        group.addParam(servo_id)
    return group


def check_sync_write(sdk, server, port, ph, address: int, size: int) -> None:
    """The SDK's GroupSyncWrite of goals 0x0701..0x0706 reaches every virtual servo."""
    writer = sdk.GroupSyncWrite(port, ph, address, size)
    for servo_id in range(1, 7):
        writer.addParam(servo_id, [servo_id, 0x07] + [0] * (size - 2))
    assert writer.txPacket() == sdk.COMM_SUCCESS
    wait_until(lambda: server.bus.servo(6).get("Goal_Position") == 0x0706, "the sync write applied")
    assert [s.get("Goal_Position") for s in server.bus.servos] == [0x0700 + i for i in range(1, 7)]


# The SDKs give a reply 2 x LATENCY_TIMER + 2 ms (34 ms), sized for servos that answer in microseconds. Here the
# virtual servos are a thread of this process, sharing the GIL with the SDK's busy-polling reader on a loaded
# 2-core host: a fresh-clone CI run saw one write time out (COMM_RX_TIMEOUT). These tests check packets, not
# timing, so the SDK's latency timer is set to that of a slow adapter (a reply window of about half a second).
SLOW_ADAPTER_LATENCY_MS = 250


@contextlib.contextmanager
def sdk_on_virtual_bus(sdk, arm: str, protocol: float):
    """(server, PortHandler, PacketHandler) of the vendor SDK opened on a virtual bus of `arm` at 1 Mbps."""
    with serve_pty(arm) as server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(sdk.port_handler, "LATENCY_TIMER", SLOW_ADAPTER_LATENCY_MS)
        port = sdk.PortHandler(server.port)
        assert port.openPort() and port.setBaudRate(1_000_000)
        try:
            yield server, port, sdk.PacketHandler(protocol)
        finally:
            port.closePort()


def test_feetech_sdk_drives_the_virtual_so101():
    sc = pytest.importorskip("scservo_sdk")
    with sdk_on_virtual_bus(sc, "so101", 0) as (server, port, ph):
        assert ph.ping(port, 1) == (777, sc.COMM_SUCCESS, 0)
        assert ph.ping(port, 9)[1] == sc.COMM_RX_TIMEOUT
        assert ph.read2ByteTxRx(port, 3, 56) == (2048, sc.COMM_SUCCESS, 0)
        assert ph.write1ByteTxRx(port, 3, 40, 1) == (sc.COMM_SUCCESS, 0)
        assert ph.write2ByteTxRx(port, 3, 42, 1000) == (sc.COMM_SUCCESS, 0)
        wait_until(lambda: ph.read2ByteTxRx(port, 3, 56)[0] == 1000, "servo 3 at its goal")

        group = sync_read_group(sc, port, ph, 56, 2)
        assert group.txRxPacket() == sc.COMM_SUCCESS
        assert [group.getData(i, 56, 2) for i in range(1, 7)] == [2048, 2048, 1000, 2048, 2048, 2048]
        check_sync_write(sc, server, port, ph, 42, 2)


def test_dynamixel_sdk_drives_the_virtual_koch():
    dx = pytest.importorskip("dynamixel_sdk")
    with sdk_on_virtual_bus(dx, "koch", 2.0) as (server, port, ph):
        assert ph.ping(port, 1) == (1060, dx.COMM_SUCCESS, 0)
        assert ph.ping(port, 6) == (1200, dx.COMM_SUCCESS, 0)
        found, result = ph.broadcastPing(port)
        assert result == dx.COMM_SUCCESS and {i: v[0] for i, v in found.items()} == {
            1: 1060, 2: 1060, 3: 1200, 4: 1200, 5: 1200, 6: 1200}
        assert ph.read1ByteTxRx(port, 6, 11) == (5, dx.COMM_SUCCESS, 0)  # gripper: current-based position
        assert ph.read1ByteTxRx(port, 1, 11) == (4, dx.COMM_SUCCESS, 0)  # joints: extended position
        assert ph.write1ByteTxRx(port, 3, 64, 1) == (dx.COMM_SUCCESS, 0)
        assert ph.write1ByteTxRx(port, 3, 11, 3) == (dx.COMM_SUCCESS, 7)  # EEPROM with torque on: ACCESS
        assert ph.write4ByteTxRx(port, 3, 116, (-300) & 0xFFFFFFFF) == (dx.COMM_SUCCESS, 0)
        wait_until(lambda: ph.read4ByteTxRx(port, 3, 132)[0] == (-300) & 0xFFFFFFFF, "servo 3 at -300")

        group = sync_read_group(dx, port, ph, 132, 4)
        expected = [2048, 2048, (-300) & 0xFFFFFFFF, 2048, 2048, 2048]
        assert group.txRxPacket() == dx.COMM_SUCCESS
        assert [group.getData(i, 132, 4) for i in range(1, 7)] == expected
        assert group.fastSyncRead() == dx.COMM_SUCCESS
        assert [group.getData(i, 132, 4) for i in range(1, 7)] == expected

        check_sync_write(dx, server, port, ph, 116, 4)
