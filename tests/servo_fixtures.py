"""Shared by the servo tests: a fixture that lets an in-process virtual bus thread take the GIL promptly, and a
stand-in for the vendor SDKs' PortHandler that records what their packet code writes."""

import sys

import pytest


@pytest.fixture
def quick_thread_switches():
    # The virtual bus serves from a thread of this process; the default 5 ms switch interval would starve it.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(previous)


class CapturePort:
    """The few PortHandler methods the SDKs' packet handlers call: records what they write, replays a reply."""

    def __init__(self, reply: bytes = b""):
        self.is_using = False
        self.written: list[bytes] = []
        self._reply = bytearray(reply)

    def clearPort(self):
        pass

    def writePort(self, packet):
        self.written.append(bytes(packet))
        return len(packet)

    def readPort(self, length):
        out, self._reply[:length] = bytes(self._reply[:length]), b""
        return out

    def setPacketTimeout(self, _n):
        pass

    def isPacketTimeout(self):
        return True
