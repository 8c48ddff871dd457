"""The host link (ArmLink) over real ptys against the virtual controller: handshake, refusals with clear errors,
10,000 commands at 100 Hz with every sequence echoed, and a pulled cable that is a fault, then a clean reconnect.

Timeouts here bound liveness only; nothing asserts a duration.
"""

import dataclasses
import os
import pty
import select
import threading
import time
import tty

import pytest

from vla_lite.firmware_bridge import protocol as p
from vla_lite.firmware_bridge.arm_config import default_arm
from vla_lite.firmware_bridge.arm_server import ArmServer
from vla_lite.firmware_bridge.fault_injection import FaultInjection
from vla_lite.firmware_bridge.errors import BridgeTimeout, HandshakeError, LinkError, ProtocolError
from vla_lite.firmware_bridge.link import ArmLink, LinkState
from vla_lite.firmware_bridge.virtual_arm import VirtualArm

CFG = default_arm()
QUIET = dataclasses.replace(CFG, watchdog_ms=60_000, torque_off_ms=0)
LIVENESS_S = 5.0


def _poll_until(link: ArmLink, predicate, timeout_s: float = LIVENESS_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s; link state {link.state}, "
                                 f"fault {link.fault!r}")
        link.poll()
        time.sleep(0.002)


class FakePeer:
    """A raw pty peer that answers HELLO the way a test wants (another protocol, another schema, garbage)."""

    def __init__(self, reply):
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self._reply = reply
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        dec = p.Decoder(major=0xFF)  # accept nothing as ours: every CRC-valid frame arrives as ForeignVersion
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.01)[0]:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for pkt in dec.feed(data):
                if pkt.msg.type == p.MsgType.HELLO and self._reply is not None:
                    os.write(self.master, self._reply())

    def close(self):
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self._slave)


def test_handshake_reports_the_controller_and_refuses_a_second_user_of_the_port():
    with ArmServer.on_pty(VirtualArm(QUIET)).start() as srv, ArmLink.open(srv.port, timeout_s=LIVENESS_S) as link:
        assert link.connected and link.peer_version == (p.PROTOCOL_MAJOR, p.PROTOCOL_MINOR)
        assert link.info.joint_names == CFG.joint_names and link.info.modes == QUIET.modes
        with pytest.raises(LinkError, match=srv.port):
            ArmLink.open(srv.port, timeout_s=0.5)  # opened exclusively: a second host is refused


def test_absent_port_silent_port_foreign_protocol_schema_and_garbage_each_get_their_own_error():
    with pytest.raises(LinkError, match="/dev/does-not-exist"):
        ArmLink.open("/dev/does-not-exist", timeout_s=0.3)

    silent = FakePeer(reply=None)
    try:
        with pytest.raises(BridgeTimeout, match="no HELLO_ACK"):
            ArmLink.open(silent.port, timeout_s=0.3)
    finally:
        silent.close()

    ack = CFG.hello_ack()
    foreign = FakePeer(reply=lambda: p.encode(ack, 1, major=2, minor=3))
    try:
        with pytest.raises(HandshakeError, match=r"speaks protocol 2\.3.*host speaks 1\.0"):
            ArmLink.open(foreign.port, timeout_s=LIVENESS_S)
    finally:
        foreign.close()

    other_schema = FakePeer(reply=lambda: p.encode(ack._replace(schema_hash=0x12345678), 1))
    try:
        with pytest.raises(HandshakeError, match="0x12345678.*0x6398315F"):
            ArmLink.open(other_schema.port, timeout_s=LIVENESS_S)
    finally:
        other_schema.close()

    garbage = FakePeer(reply=lambda: bytes(range(1, 200)) + b"\x00" + b"\x55" * 50 + b"\x00")
    try:
        with pytest.raises(ProtocolError, match="not a vla-lite controller"):
            ArmLink.open(garbage.port, timeout_s=0.5)
    finally:
        garbage.close()


def test_10000_commands_at_100_hz_all_echoed_none_lost():
    """The per-tick path at a control rate: absolute deadlines, one COMMAND per tick, every seq echoed."""
    n, period_s = 10_000, 0.01
    arm = VirtualArm(QUIET)
    with ArmServer.on_pty(arm).start() as srv, ArmLink.open(srv.port, timeout_s=LIVENESS_S) as link:
        hold = link.request(p.Heartbeat()).position
        echoed, sent = set(), []
        next_s = time.monotonic()
        for _ in range(n):
            next_s += period_s
            while (wait := next_s - time.monotonic()) > 0:
                select.select([link._ser.fileno()], [], [], wait)
                st = link.poll()
                if st is not None:
                    echoed.add(st.ack_seq)
            seq = link.send_command(p.Mode.JOINT_POSITION, hold, 200)
            assert seq is not None, link.fault
            sent.append(seq)
        last = link.wait_state(ack_seq=sent[-1], timeout_s=LIVENESS_S)
        echoed.add(last.ack_seq)
        _poll_until(link, lambda: link.stats.commands_acked + link.stats.commands_lost >= n, 1.0)
        assert link.stats.commands_sent == n
        assert link.stats.commands_lost == 0 and link.stats.commands_acked == n
        assert arm.commands_received == n and arm.commands_rejected == 0
        # Every command's seq came back in a STATE (some polls see two replies at once, so check the link's count
        # above and that the last reply of each poll echoed a seq we sent).
        assert echoed <= set(sent) and sent[-1] in echoed
        assert link.decoder.stats.dropped == 0 and srv.stats.decoder.dropped == 0


def test_pulled_cable_is_a_fault_not_an_exception_and_the_link_reconnects_cleanly(tmp_path):
    path = str(tmp_path / "arm")
    with ArmServer.on_pty(VirtualArm(QUIET), link_path=path).start() as srv:
        link = ArmLink.open(path, timeout_s=LIVENESS_S, backoff_s=(0.02, 0.2))
        try:
            hold = link.request(p.Heartbeat()).position
            assert link.request(p.Command(p.Mode.JOINT_POSITION, hold, 200)).ack_seq > 0
            srv.drop_connection()
            _poll_until(link, lambda: not link.connected)  # poll() never raises
            assert link.stats.link_faults == 1 and link.fault and link.state is LinkState.DISCONNECTED
            assert link.send_command(p.Mode.JOINT_POSITION, hold, 200) is None  # nothing is sent into the void
            time.sleep(0.1)
            for _ in range(20):
                link.poll()  # retries with back-off while the port is gone: not new faults
            assert link.stats.link_faults == 1
            srv.restore_connection()
            _poll_until(link, lambda: link.connected)
            assert link.stats.reconnects == 1 and link.fault is None
            st = link.request(p.Command(p.Mode.JOINT_POSITION, hold, 200))
            assert not st.status & p.Status.REJECTED
        finally:
            link.close()


def test_a_controller_that_comes_back_different_is_refused(tmp_path):
    path = str(tmp_path / "arm")
    first = ArmServer.on_pty(VirtualArm(QUIET), link_path=path).start()
    link = ArmLink.open(path, timeout_s=LIVENESS_S, backoff_s=(0.02, 0.2))
    try:
        first.close()  # the first controller goes away, and removes its link
        _poll_until(link, lambda: not link.connected)
        other = dataclasses.replace(QUIET, name="another arm")
        with ArmServer.on_pty(VirtualArm(other), link_path=path).start():
            _poll_until(link, lambda: link.state is LinkState.REFUSED)
            assert "came back different" in link.fault and "another arm" in link.fault
            assert link.send_command(p.Mode.JOINT_POSITION, (0.0,) * len(CFG.joints), 200) is None
    finally:
        link.close()


def test_a_late_reply_is_dated_by_when_the_controller_took_it_not_by_its_arrival():
    """Every reply 0.2 s on its way to the host (fault injection on the controller's bytes): the link reports each
    STATE as taken at least 0.2 s before it arrived, from its time stamp and the echoed commands' round trips,
    and no earlier than the round trips allow."""
    delay_s = 0.2
    with ArmServer.on_pty(VirtualArm(QUIET)).start() as srv, ArmLink.open(srv.port, timeout_s=LIVENESS_S) as link:
        hold = link.request(p.Heartbeat()).position
        srv.faults_out = FaultInjection(delay_ms=1e3 * delay_s)
        sent_s = link.clock()
        link.request(p.Command(p.Mode.JOINT_POSITION, hold, 0), timeout_s=LIVENESS_S)
        command_rtt_s = link.latest_state_s - sent_s
        assert link.latest_state_taken_s >= sent_s  # it echoes the command: taken after it was sent
        assert link.latest_state_s - link.latest_state_taken_s >= delay_s
        sent_s = link.clock()
        link.request(p.Heartbeat(), timeout_s=LIVENESS_S)  # no echo: dated through the command's round trip
        assert link.latest_state_s - link.latest_state_taken_s >= delay_s
        assert link.latest_state_taken_s >= sent_s - (command_rtt_s - delay_s)

