"""One transaction on a servo bus: drop stale input, send one instruction, collect the expected status packets
until they are all in or the reply window closes. No retries here (the bus decides those within its budget).

The reply window is the wire time of the instruction and the replies (bytes x 10 / baud), each replying servo's
return delay, and a latency allowance for the host and the USB adapter (doubled on each retry), capped by the
caller's deadline; all on time.monotonic. Losses are counted per servo: a reply whose checksum failed (the decoder
reports its claimed ID) is a bad checksum, one that never came a timeout.

Late replies. Neither protocol numbers its requests, so a reply the host gave up on, arriving after the next
request was sent, would read as that request's answer. Flushing input before a request does not help once the
late reply lands after the flush. So a transaction whose reply stream may not have ended (its last expected reply
neither arrived nor arrived corrupt: replies come in request order, so nothing can follow a reply that did come)
leaves the line dirty, and the next transaction first resynchronises:
1. it reads (and discards) until the line has been quiet for one reply's wire time plus the latency allowance, so
   on a real half-duplex bus the next request does not collide with a servo still answering;
2. it sends a barrier: a READ of BARRIER_LEN bytes, a reply size no other transaction of the bus uses, to a
   servo that answered lately (else one of the arm's, in turn), and reads until that reply comes. Servos answer in order and the line is a FIFO, so
   every reply to an earlier request has arrived before the barrier's (they are counted as late_replies and
   dropped). A late barrier reply of an earlier failed resync serves as well: only barriers follow it, and their
   size is never taken for data.
If the barrier gets no answer within the call's deadline, nothing is sent: the call returns no reading (its
servos go stale) rather than one that may be old, and the next call resynchronises again.
"""

from __future__ import annotations

import time

from . import dynamixel as dxl
from .port import SerialPort
from .readings import LinkStats, ServoStats
from .tables import Register

BARRIER_ADDRESS, BARRIER_LEN = 0, 7  # model/firmware block; no register read, sync read or health span is 7 bytes


class Exchange:
    def __init__(self, port: SerialPort, codec, baudrate: int, return_delay_s: float, latency_s: float,
                 stats: dict[int, ServoStats], barrier_ids: tuple[int, ...] = ()):
        self.port, self.codec = port, codec
        self.dynamixel = codec is dxl
        self.decoder = codec.Decoder()
        self._byte_s = 10 / baudrate
        self._delay_s, self._latency_s = return_delay_s, latency_s
        self._stats = stats
        self.link = LinkStats()
        self._lengths: dict[int, frozenset[int]] = {}
        self._dirty = False  # replies to an earlier request may still be on their way
        self._last_rx_s = -float("inf")  # monotonic time bytes last came in
        self._answered: int | None = None  # a servo that answered lately: the barrier's target
        self._barrier_ids = tuple(barrier_ids)  # else these in turn (the arm's servos), else the request's
        self._barrier_turn = 0  # rotates the target after a barrier got no answer
        self._quiet_s = codec.status_size(BARRIER_LEN) * self._byte_s + return_delay_s + latency_s

    def stat(self, servo_id: int) -> ServoStats:
        stats = self._stats.get(servo_id)
        if stats is None:
            stats = self._stats[servo_id] = ServoStats()
        return stats

    def window_s(self, tx_bytes: int, n_replies: int, data_len: int, attempt: int = 0) -> float:
        """Reply window; the latency allowance doubles with each retry (a host late once is given longer)."""
        wire = tx_bytes + n_replies * self.codec.status_size(data_len)
        return wire * self._byte_s + n_replies * self._delay_s + self._latency_s * (1 << min(attempt, 6))

    def resync_s(self) -> float:
        """The most the next transaction spends first on resynchronising (0 when the line is clean): the rest of
        the quiet wait, then the barrier's reply window."""
        if not self._dirty:
            return 0.0
        quiet_left = max(0.0, self._last_rx_s + self._quiet_s - time.monotonic())
        return quiet_left + self.window_s(len(self.codec.read(0, 0, 1)), 1, BARRIER_LEN)

    def lengths(self, data_len: int) -> frozenset[int]:
        """LEN field values a status packet with data_len bytes can have on the wire."""
        found = self._lengths.get(data_len)
        if found is None:
            if self.dynamixel:  # stuffing adds a byte per FF FF FD
                found = frozenset(range(4 + data_len, 5 + data_len + data_len // 3))
            else:
                found = frozenset((2 + data_len,))
            self._lengths[data_len] = found
        return found

    def _start(self, packet: bytes, lengths) -> None:
        self.port.discard_input()
        dec = self.decoder
        dec.reset()
        dec.bad_ids.clear()
        dec.expect(lengths)
        self.port.write(packet)

    def _read(self, until_s: float) -> bytes:
        chunk = self.port.read_some(until_s)
        if chunk:
            self._last_rx_s = time.monotonic()
        return chunk

    def run(self, packet: bytes, expect: tuple, data_len: int, deadline_s: float, attempt: int = 0) -> dict[int, tuple]:
        """Send one instruction; {id: (status packet, stamp_s)} from `expect`, whose replies come in that order."""
        if not self._ready(expect, deadline_s):
            return {}
        dec = self.decoder
        self._start(packet, self.lengths(data_len))
        window = self.window_s(len(packet), len(expect), data_len, attempt)
        window_end = min(deadline_s, time.monotonic() + window)
        got: dict[int, tuple] = {}
        last = expect[-1]
        while len(got) < len(expect) and last not in dec.bad_ids:
            chunk = self._read(window_end)
            if not chunk:
                break
            self._take(dec.feed(chunk), expect, data_len, got, time.monotonic())
            if last in got:
                break  # replies come in order: anything still missing before the last one is lost
        if len(got) < len(expect):
            self._take(dec.finish(), expect, data_len, got, time.monotonic())
        self._count_losses(expect, got, dec.bad_ids)
        self._settle(last in got or last in dec.bad_ids, got)
        return got

    def _take(self, packets: list, expect: tuple, data_len: int, got: dict, stamp_s: float) -> None:
        for pkt in packets:
            if pkt.id in expect and pkt.id not in got and len(pkt.data) == data_len and self._is_status(pkt):
                got[pkt.id] = (pkt, stamp_s)
                self.stat(pkt.id).replies += 1

    def _is_status(self, pkt) -> bool:
        return not self.dynamixel or pkt.instruction == dxl.Instruction.STATUS

    def _count_losses(self, expect: tuple, got: dict, bad_ids) -> None:
        for i in expect:
            if i not in got:
                if i in bad_ids:
                    self.stat(i).bad_checksums += 1
                else:
                    self.stat(i).timeouts += 1

    def _settle(self, stream_ended: bool, got: dict) -> None:
        self._dirty = not stream_ended
        if got:
            self._answered = next(iter(got))

    def run_fast(self, reg: Register, ids: tuple, deadline_s: float) -> dict[int, tuple]:
        """Dynamixel FAST_SYNC_READ: one combined reply; a broken one leaves every servo to a plain retry."""
        if not self._ready(ids, deadline_s):
            return {}
        dec = self.decoder
        packet = dxl.sync_read(reg.address, reg.size, ids, fast=True)
        self._start(packet, (1 + len(ids) * (reg.size + 4),))
        window_end = min(deadline_s, time.monotonic() + self.window_s(len(packet), len(ids), reg.size))
        got: dict[int, tuple] = {}
        while not got:
            chunk = self._read(window_end)
            for pkt in dec.feed(chunk) if chunk else dec.finish():
                for block in dxl.parse_fast_sync_read(pkt, reg.size):
                    if block.id in ids and block.id not in got:
                        status = dxl.Packet(block.id, dxl.Instruction.STATUS, bytes((block.error,)) + block.data)
                        got[block.id] = (status, time.monotonic())
                        self.stat(block.id).replies += 1
            if not chunk:
                break
        self._count_losses(ids, got, ids if dec.bad_ids else ())
        self._settle(bool(got) or bool(dec.bad_ids), got)
        return got

    # --- resynchronising after a reply stream that may not have ended -----------------------------------------

    def _ready(self, expect: tuple, deadline_s: float) -> bool:
        """True when no reply to an earlier request can still arrive (see the module doc)."""
        if not self._dirty:
            return True
        self.link.resyncs += 1
        if self._wait_quiet(deadline_s) and self._barrier(expect, deadline_s):
            self._dirty = False
            return True
        self.link.resync_failures += 1
        return False

    def _wait_quiet(self, deadline_s: float) -> bool:
        dec = self.decoder
        dec.reset()
        dec.expect(None)
        while True:
            until = self._last_rx_s + self._quiet_s
            if until > deadline_s:
                return False
            chunk = self._read(until)  # past `until` it still looks once at what is waiting
            if not chunk:
                return True
            self._late(dec.feed(chunk))

    def _barrier(self, expect: tuple, deadline_s: float) -> bool:
        target = self._answered
        if target is None:
            candidates = self._barrier_ids or expect
            target = candidates[self._barrier_turn % len(candidates)]
        packet = self.codec.read(target, BARRIER_ADDRESS, BARRIER_LEN)
        self._start(packet, None)
        dec = self.decoder
        window_end = min(deadline_s, time.monotonic() + self.window_s(len(packet), 1, BARRIER_LEN))
        while True:
            chunk = self._read(window_end)
            if not chunk:
                break
            for pkt in dec.feed(chunk):
                if pkt.id == target and len(pkt.data) == BARRIER_LEN and self._is_status(pkt):
                    self.stat(target).replies += 1
                    return True
                self._late((pkt,))
            window_end = min(deadline_s, window_end + len(chunk) * self._byte_s)  # late bytes came first
        self._count_losses((target,), {}, dec.bad_ids)
        self._answered = None
        self._barrier_turn += 1
        return False

    def _late(self, packets) -> None:
        for pkt in packets:
            self.link.late_replies += 1
            if pkt.id in self._stats:
                self._stats[pkt.id].late_replies += 1
