"""The host side of the arm protocol over any pyserial URL: `/dev/ttyUSB0`, a pty path, `socket://host:port`,
`loop://`.

One `ArmLink` is used from one thread (the control loop). Reads never block: `poll()` takes whatever bytes have
arrived and keeps the newest STATE, with the earliest time the controller can have taken it (its `time_us` mapped
to the host's clock through answered messages, clock_bounds.py), however late it arrived. A pulled cable is a
reported fault (`link.fault`), never an exception out of `poll()` or `send_command()`; the link reopens the port
with back-off and re-handshakes on its own, and refuses a controller that came back different.
"""

from __future__ import annotations

import enum
import math
import select
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import serial

from . import protocol as p
from .arm_config import ArmConfig
from .clock_bounds import ClockBounds
from .errors import BridgeTimeout, HandshakeError, LinkError, ProtocolError
from .urls import url_problem

HELLO_RETRY_S = 0.1  # PROTOCOL.md §3: the host repeats HELLO every 100 ms
READ_CHUNK = 4096


class LinkState(enum.Enum):
    DISCONNECTED = "disconnected"
    HANDSHAKING = "handshaking"
    CONNECTED = "connected"
    REFUSED = "refused"  # the controller that came back is not the one we handshook with: no automatic retry


@dataclass
class LinkStats:
    commands_sent: int = 0
    states_received: int = 0
    commands_acked: int = 0
    commands_lost: int = 0  # skipped by a later ack_seq: never echoed
    link_faults: int = 0
    reconnects: int = 0
    logs_received: int = 0
    rtt_s: deque = field(default_factory=lambda: deque(maxlen=100_000))  # command -> echoing STATE

    def rtt_ms(self, q: float) -> float | None:
        if not self.rtt_s:
            return None
        ordered = sorted(self.rtt_s)
        return 1e3 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def as_dict(self) -> dict:
        return {"commands_sent": self.commands_sent, "commands_acked": self.commands_acked,
                "commands_lost": self.commands_lost, "states_received": self.states_received,
                "link_faults": self.link_faults, "reconnects": self.reconnects, "logs_received": self.logs_received,
                "rtt_ms": {"p50": self.rtt_ms(50), "p99": self.rtt_ms(99), "n": len(self.rtt_s)}}


def open_port(url: str, baudrate: int = 1_000_000) -> serial.SerialBase:
    """Open a pyserial URL non-blocking; a plain device path is opened exclusively (a second user is refused)."""
    kwargs = {"baudrate": baudrate, "timeout": 0, "write_timeout": 0.5}
    problem = url_problem(url)
    if problem:
        raise LinkError(f"cannot open {url}: {problem}")
    if "://" not in url:
        kwargs["exclusive"] = True
    try:
        return serial.serial_for_url(url, **kwargs)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise LinkError(f"cannot open {url}: {exc}") from None


class ArmLink:
    """Host end of the link. Use `ArmLink.open(url)`; then `poll()` every tick and `send_command()`."""

    def __init__(self, url: str, *, baudrate: int = 1_000_000, client: str = "vla-lite",
                 backoff_s: tuple[float, float] = (0.05, 2.0), clock: Callable[[], float] = time.monotonic):
        self.url, self.baudrate, self.client = url, baudrate, client
        self.clock = clock
        self.backoff_min_s, self.backoff_max_s = backoff_s
        self.stats = LinkStats()
        self.decoder = p.Decoder()
        self.info: ArmConfig | None = None
        self.peer_version: tuple[int, int] | None = None
        self.state = LinkState.DISCONNECTED
        self.fault: str | None = None  # why the link is down, for the loop's report
        self.latest_state: p.State | None = None
        self.latest_state_s: float | None = None  # clock() when it arrived
        self.latest_state_taken_s = -math.inf  # clock() no later than when the controller took it; -inf: unknown
        self.clock_bounds = ClockBounds()  # controller time_us -> host clock, from answered messages
        self.logs: deque[p.Log] = deque(maxlen=256)
        self._ser: serial.SerialBase | None = None
        self._seq = 0
        self._pending: dict[int, float] = {}  # command seq -> send time, until echoed
        self.hello_acks = 0  # HELLO_ACKs received (each HELLO is answered by one: `release` waits for its own)
        self._last_acked = 0
        self._backoff_s = self.backoff_min_s
        self._next_attempt_s = 0.0
        self._hello_deadline_s = 0.0
        self._next_hello_s = 0.0
        self._hello_sent_s = 0.0  # clock() before the newest HELLO went out
        self._anchor_due = False  # the next STATE follows the HELLO_ACK just accepted: it answers a HELLO

    # --- opening -------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, timeout_s: float = 1.0, **kwargs) -> "ArmLink":
        """Open the port and handshake, blocking up to timeout_s. Raises LinkError, HandshakeError,
        ProtocolError (bytes but no valid frame) or BridgeTimeout (silence)."""
        link = cls(url, **kwargs)
        link._ser = open_port(url, link.baudrate)
        try:
            link._handshake_blocking(timeout_s)
        except BaseException:
            link._close_port()
            raise
        return link

    def _handshake_blocking(self, timeout_s: float) -> None:
        deadline = self.clock() + timeout_s
        real_deadline = time.monotonic() + timeout_s  # liveness even when an injected clock stands still
        self._start_handshake(deadline)
        while self.state is not LinkState.CONNECTED:
            now = self.clock()
            if now >= deadline or time.monotonic() >= real_deadline:
                st = self.decoder.stats
                if st.bytes and not st.frames:
                    raise ProtocolError(
                        f"{self.url} sent {st.bytes} bytes but no valid vla-lite frame in {timeout_s:g} s "
                        f"({st.crc_failures} CRC failures, {st.cobs_errors} COBS errors): not a vla-lite "
                        f"controller, or the wrong baud rate")
                raise BridgeTimeout(f"no HELLO_ACK from {self.url} within {timeout_s:g} s" + _why_silent(st))
            self._wait_readable(min(deadline, self._next_hello_s) - now)
            self._read_and_dispatch(raise_errors=True)
            if self.state is LinkState.HANDSHAKING and self.clock() >= self._next_hello_s:
                self._send_hello()

    def _start_handshake(self, deadline_s: float) -> None:
        self.state = LinkState.HANDSHAKING
        self._hello_deadline_s = deadline_s
        self.decoder = p.Decoder()
        self.clock_bounds.reset()  # the controller may have restarted: its clock too
        self._write(b"\x00")  # flush a half-received frame in the controller's parser
        self._send_hello()

    def _send_hello(self) -> None:
        self._hello_sent_s = self.clock()
        self._send(p.Hello(p.SCHEMA_HASH, self.client))
        self._next_hello_s = self.clock() + HELLO_RETRY_S

    def _accept(self, ack: p.HelloAck, minor: int) -> None:
        if ack.schema_hash != p.SCHEMA_HASH:
            raise HandshakeError(
                f"controller schema hash 0x{ack.schema_hash:08X} differs from this host's 0x{p.SCHEMA_HASH:08X} "
                f"(both claim protocol {p.PROTOCOL_MAJOR}.x): the message layouts disagree")
        config = ArmConfig.from_hello_ack(ack)
        if self.info is not None and config != self.info:
            raise HandshakeError(f"the controller on {self.url} came back different: was {self.info.name!r} with "
                                 f"joints {self.info.joint_names}, now {config.name!r} with {config.joint_names}")
        was_reconnect = self.info is not None
        self.info, self.peer_version = config, (p.PROTOCOL_MAJOR, minor)
        self.state, self.fault = LinkState.CONNECTED, None
        self._backoff_s = self.backoff_min_s
        if was_reconnect:
            self.stats.reconnects += 1

    # --- I/O -----------------------------------------------------------------------------------------------

    def _send(self, msg) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        self._write(p.encode(msg, self._seq))
        return self._seq

    def _write(self, data: bytes) -> None:
        if self._ser is None:
            raise LinkError(f"{self.url} is not open")
        try:
            self._ser.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"write to {self.url} failed: {exc}") from None

    def _wait_readable(self, timeout_s: float) -> None:
        timeout_s = max(0.0, timeout_s)
        try:
            select.select([self._ser.fileno()], [], [], timeout_s)
        except (AttributeError, OSError, ValueError, serial.SerialException):
            time.sleep(min(timeout_s, 0.0005))  # loop:// and other URLs without a file descriptor

    def _read_and_dispatch(self, raise_errors: bool = False) -> p.State | None:
        try:
            data = self._ser.read(READ_CHUNK)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"read from {self.url} failed: {exc}") from None
        newest = None
        if data:
            for pkt in self.decoder.feed(data):
                newest = self._dispatch(pkt, raise_errors) or newest
        return newest

    def _dispatch(self, pkt: p.Packet, raise_errors: bool) -> p.State | None:
        msg = pkt.msg
        if isinstance(msg, p.State):
            return self._on_state(msg)
        if isinstance(msg, p.HelloAck):
            self.hello_acks += 1
            if self.state is LinkState.HANDSHAKING:
                try:
                    self._accept(msg, pkt.minor)
                    self._anchor_due = True
                except HandshakeError as exc:
                    if raise_errors:
                        raise
                    self._refuse(str(exc))
        elif isinstance(msg, p.ForeignVersion):
            err = (f"controller on {self.url} speaks protocol {msg.major}.{msg.minor}; this host speaks "
                   f"{p.PROTOCOL_MAJOR}.{p.PROTOCOL_MINOR} (majors must match)")
            if raise_errors:
                raise HandshakeError(err)
            self._refuse(err)
        elif isinstance(msg, p.Log):
            self.stats.logs_received += 1
            self.logs.append(msg)
        return None

    def _on_state(self, st: p.State) -> p.State:
        now = self.clock()
        self.stats.states_received += 1
        bounds = self.clock_bounds
        bounds.received(st.time_us, now)
        ack = st.ack_seq
        if self._anchor_due:
            # The STATE after HELLO_ACK was taken after a HELLO of this handshake: the newest, or one retried before
            # it (so provisional, until an echoed COMMAND dates the controller's clock for sure).
            bounds.answered(self._hello_sent_s, st.time_us, provisional=True)
            self._anchor_due = False
        if ack and ack != self._last_acked and ack in self._pending:
            sent_s = self._pending.pop(ack)
            bounds.answered(sent_s, st.time_us)
            self.stats.rtt_s.append(now - sent_s)
            self.stats.commands_acked += 1
            # Commands older than the one echoed were never echoed: lost on the way or refused unseen.
            for seq in [s for s in self._pending if s < ack]:
                del self._pending[seq]
                self.stats.commands_lost += 1
            self._last_acked = ack
        self.latest_state, self.latest_state_s = st, now
        self.latest_state_taken_s = bounds.taken_after_s(st.time_us)
        return st

    # --- faults and reconnection ---------------------------------------------------------------------------

    def _link_down(self, reason: str, new_fault: bool = True) -> None:
        self._close_port()
        self.stats.link_faults += int(new_fault)
        self.fault, self.state = reason, LinkState.DISCONNECTED
        self.stats.commands_lost += len(self._pending)
        self._pending.clear()
        self._next_attempt_s = self.clock() + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self.backoff_max_s)

    def _refuse(self, reason: str) -> None:
        self._close_port()
        self.fault, self.state = reason, LinkState.REFUSED

    def _try_reconnect(self, now: float) -> None:
        if now < self._next_attempt_s:
            return
        try:
            self._ser = open_port(self.url, self.baudrate)
            self._start_handshake(now + 1.0)
        except LinkError as exc:
            self._link_down(f"reconnecting: {exc}", new_fault=False)  # a failed retry is not a new fault

    def _close_port(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except (serial.SerialException, OSError):
                pass
            self._ser = None

    # --- the API the control loop uses ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    def poll(self) -> p.State | None:
        """Non-blocking: read what has arrived; return the newest STATE received now, else None. Never raises
        for link trouble: check `connected` and `fault`."""
        now = self.clock()
        if self.state is LinkState.REFUSED:
            return None
        if self.state is LinkState.DISCONNECTED:
            self._try_reconnect(now)
            return None
        try:
            newest = self._read_and_dispatch()
            if self.state is LinkState.HANDSHAKING:
                if now >= self._hello_deadline_s:
                    self._link_down(f"no HELLO_ACK from {self.url} after reconnecting", new_fault=False)
                elif now >= self._next_hello_s:
                    self._send_hello()
            return newest
        except LinkError as exc:
            self._link_down(str(exc))
            return None

    def send(self, msg) -> int | None:
        """Send one message; returns its seq, or None when the link is down (the fault is recorded)."""
        if self.state is not LinkState.CONNECTED:
            return None
        sent_s = self.clock()  # before writing: the controller cannot have answered before this
        try:
            seq = self._send(msg)
        except LinkError as exc:
            self._link_down(str(exc))
            return None
        if isinstance(msg, p.Command):
            self._pending[seq] = sent_s
            self.stats.commands_sent += 1
        return seq

    def send_command(self, mode: p.Mode, target, valid_ms: int) -> int | None:
        return self.send(p.Command(mode, tuple(float(x) for x in target), int(valid_ms)))

    def heartbeat(self) -> int | None:
        return self.send(p.Heartbeat())

    def wait_state(self, after_s: float | None = None, ack_seq: int | None = None,
                   timeout_s: float = 0.5, after_count: int | None = None) -> p.State:
        """Block until a STATE arrives: newer than after_s (clock time), or the link's after_count-th and later,
        and echoing ack_seq when given. Raises BridgeTimeout / LinkError."""
        deadline = self.clock() + timeout_s
        real_deadline = time.monotonic() + timeout_s  # liveness even when an injected clock stands still
        while True:
            st = self.latest_state
            if st is not None and (ack_seq is None or st.ack_seq == ack_seq) and \
                    (after_s is None or (self.latest_state_s or 0) > after_s) and \
                    (after_count is None or self.stats.states_received > after_count):
                return st
            now = self.clock()
            if now >= deadline or time.monotonic() >= real_deadline:
                raise BridgeTimeout(f"no STATE from {self.url} within {timeout_s:g} s")
            if not self.connected:
                raise LinkError(self.fault or f"{self.url} is not connected")
            self._wait_readable(min(deadline - now, real_deadline - time.monotonic()))
            self.poll()

    def wait_reply(self, after_count: int | None = None, timeout_s: float = 0.5) -> bool:
        """Wait (real time) until every COMMAND sent has been answered and, with after_count, more than
        after_count STATEs have arrived in all (`stats.states_received` before sending: a HEARTBEAT's answer
        counts too). False on timeout or a link fault."""
        real_deadline = time.monotonic() + timeout_s
        while self.connected and (self._pending or (after_count is not None
                                                    and self.stats.states_received <= after_count)):
            remaining = real_deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._wait_readable(min(remaining, 0.01))
            self.poll()
        return self.connected

    def settle(self, timeout_s: float = 0.5) -> bool:
        """Wait until every COMMAND sent has been answered (its STATE received), so no reply describing the
        arm as it was is still on its way. False on timeout or a link fault."""
        return self.wait_reply(None, timeout_s)

    def request(self, msg, timeout_s: float = 0.5) -> p.State:
        """Send a message the controller answers with STATE and wait for that answer (the first STATE received
        after sending; for a COMMAND, the one echoing its seq)."""
        before = self.stats.states_received
        seq = self.send(msg)
        if seq is None:
            raise LinkError(self.fault or f"{self.url} is not connected")
        return self.wait_state(ack_seq=seq if isinstance(msg, p.Command) else None, timeout_s=timeout_s,
                               after_count=before)

    def estop(self) -> int | None:
        return self.send(p.Estop())

    def clear_fault(self, mask: int = 0xFFFF) -> int | None:
        return self.send(p.ClearFault(mask))

    def torque(self, enable: bool) -> int | None:
        return self.send(p.Torque(enable))

    def sign_off(self, timeout_s: float = 0.5) -> bool:
        """End the session with the controller's watchdog disarmed (PROTOCOL.md §3: a HELLO disarms it until the
        next COMMAND or HEARTBEAT), so that closing the port afterwards latches nothing and the next host finds
        the controller unfaulted: HELLO is sent until a HELLO_ACK answers it, a HEARTBEAT before each retry
        keeping the watchdog fed meanwhile. True when acknowledged; the caller should then close without sending
        anything else. `vla-lite doctor` and a cleanly ending `vla-lite run` both end this way."""
        if not self.connected:
            return False
        retry_s = self.info.watchdog_ms / 4000  # a feed at least every quarter watchdog while no answer comes
        deadline = time.monotonic() + timeout_s
        try:
            self._send(p.Hello(p.SCHEMA_HASH, self.client))
            while True:
                asked, retry_at = self.hello_acks, min(deadline, time.monotonic() + retry_s)
                while time.monotonic() < retry_at:
                    self._wait_readable(retry_at - time.monotonic())
                    self._read_and_dispatch()
                    if self.hello_acks > asked:
                        return True
                if time.monotonic() >= deadline:
                    return False
                self._send(p.Heartbeat())  # the HELLO or its answer was lost: feed, then ask again
                self._send(p.Hello(p.SCHEMA_HASH, self.client))
        except LinkError as exc:
            self._link_down(str(exc))
            return False

    def run_notes(self) -> list[str]:
        """What a run report adds about the link beyond `stats` (a servo bus has its own): nothing here."""
        return []

    def close(self, torque_off: bool = False) -> None:
        """Disconnect; with torque_off, ask the controller to go limp first. Safe to call twice."""
        if torque_off and self.connected:
            self.torque(False)
        self._close_port()
        self.state = LinkState.DISCONNECTED
        self._next_attempt_s = float("inf")

    def __enter__(self) -> "ArmLink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _why_silent(st: p.DecoderStats) -> str:
    """The handshake timed out: what the bytes that did arrive say about the line."""
    if not st.bytes:
        return " (nothing received: is the controller on, and is this its port?)"
    bad = st.crc_failures + st.cobs_errors
    if not bad:
        return f" ({st.frames} frames received, none a HELLO_ACK)"
    return (f": {st.bytes} bytes received, {st.frames} good frames, {st.crc_failures} CRC failures and "
            f"{st.cobs_errors} COBS errors: the line corrupts frames (noise, a loose cable or the wrong baud rate), "
            f"so the long HELLO_ACK never arrived intact")
