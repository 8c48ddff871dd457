"""One transaction on a servo bus: drop stale input, send one instruction, collect the expected status packets
until they are all in or the reply window closes. No retries here (the bus decides those within its budget).

The reply window is the wire time of the instruction and the replies (bytes x 10 / baud), each replying servo's
return delay, and a latency allowance for the host and the USB adapter (doubled on each retry), capped by the
caller's deadline; all on time.monotonic. Losses are counted per servo: a reply whose checksum failed (the decoder
reports its claimed ID) is a bad checksum, one that never came a timeout.

Late replies. Neither protocol numbers its requests, so a reply the host gave up on, arriving after the next
request was sent, would read as that request's answer. Flushing input before a request does not help once the
late reply lands after the flush. So a request whose reply stream may not have ended (its last expected reply
neither arrived nor arrived corrupt: replies come in request order, so nothing follows the last one) stays
pending, and the next transaction first resynchronises, sending nothing until the line is clean:
1. it reads until the pending request's last reply comes (the stream ended: the line is clean) or the line has been
   quiet for one reply's wire time plus the latency allowance (since the last byte; within the call that sent
   the request, also since its window closed, as a late answer is cheaper than asking again). Replies read meanwhile answer the pending request
   (nothing else was sent since): within the same call (a retry; the bus calls begin_call() per call) they are
   that call's answers, taken as if they had come in time; otherwise they are late (counted, dropped);
2. quiet without the end: it sends a barrier, a READ to a servo that answered lately (else one of the arm's, in
   turn) whose (servo ID, length) pair no other transaction and no unanswered barrier uses (barriers.py), and
   reads until that reply comes. Servos answer in order and the line is a FIFO, so every reply to an earlier
   request, older barriers' included, arrives before it (counted as late_replies, dropped).
If the barrier gets no answer within the call's deadline, nothing is sent: the call returns no reading (its
servos go stale) rather than one that may be old, and the next call resynchronises again.

Lockstep (a LockstepPeer given, lockstep.py): every instruction sent waits until the far end has answered it, and
a reply window closes once every byte it wrote has been read (the window and deadline times are then liveness
bounds only). The stream then always ends with the window: nothing is left pending, and a late reply cannot exist.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from . import dynamixel as dxl
from .port import SerialPort
from .barriers import BARRIER_ADDRESS, BARRIER_LENS, Barriers
from .errors import ServoLinkError
from .lockstep import LockstepPeer
from .readings import LinkStats, ServoStats
from .tables import Register


class _Pending(NamedTuple):
    """A request whose replies may still come: the IDs still expected, in reply order (empty: the end of the
    stream cannot be recognised, as after a broken FAST_SYNC_READ), their data size, and the call that sent it."""
    ids: tuple[int, ...]
    data_len: int
    call: int


class Exchange:
    def __init__(self, port: SerialPort, codec, baudrate: int, return_delay_s: float, latency_s: float,
                 stats: dict[int, ServoStats], barrier_ids: tuple[int, ...] = (), peer: LockstepPeer | None = None,
                 liveness_s: float = 2.0):
        self.port, self.codec = port, codec
        self.dynamixel = codec is dxl
        self.decoder = codec.Decoder()
        self._byte_s = 10 / baudrate
        self._delay_s, self._latency_s = return_delay_s, latency_s
        self._stats = stats
        self.link = LinkStats()
        self._lengths: dict[int, frozenset[int]] = {}
        self._windows: dict[tuple, float] = {}  # window_s by its arguments (a loop asks the same few each tick)
        self._pending: _Pending | None = None  # its replies may still be on their way
        self._call = 0  # begin_call() count: replies within one call belong to it
        self._rx_s = -float("inf")  # monotonic time bytes last came in
        self._closed_s = -float("inf")  # ... and a window last closed with replies still pending
        self._answered: int | None = None  # a servo that answered lately: the barrier's target
        self._barriers = Barriers(barrier_ids)  # else these in turn (the arm's servos), else the request's
        self._resynced = False  # the last _ready() had to resynchronise (and spent some of the call's budget)
        self._quiet_s = codec.status_size(max(BARRIER_LENS)) * self._byte_s + return_delay_s + latency_s
        self.peer, self._liveness_s = peer, liveness_s
        # Lockstep byte counts: written to the far end, taken from it (read or dropped), and where its answer to
        # the last instruction ends. They start from the far end's own: nothing is on its way at open.
        self._sent, self._heard = peer.byte_counts() if peer is not None else (0, 0)
        self._end = self._heard
        self._stuck: str | None = None  # lockstep: why the far end is no longer trusted (the counts lost)

    def begin_call(self) -> None:
        """A new bus call starts: replies to requests of earlier calls are late from now on."""
        self._call += 1

    def stat(self, servo_id: int) -> ServoStats:
        stats = self._stats.get(servo_id)
        if stats is None:
            stats = self._stats[servo_id] = ServoStats()
        return stats

    def window_s(self, tx_bytes: int, n_replies: int, data_len: int, attempt: int = 0) -> float:
        """Reply window; the latency allowance doubles with each retry (a host late once is given longer)."""
        key = (tx_bytes, n_replies, data_len, attempt)
        window = self._windows.get(key)
        if window is None:
            wire = tx_bytes + n_replies * self.codec.status_size(data_len)
            window = self._windows[key] = \
                wire * self._byte_s + n_replies * self._delay_s + self._latency_s * (1 << min(attempt, 6))
        return window

    def resync_s(self) -> float:
        """The most the next transaction spends first on resynchronising (0 when the line is clean): the rest of
        the quiet wait, then the barrier's reply window."""
        if self._pending is None:
            return 0.0
        quiet_left = max(0.0, max(self._rx_s, self._closed_s) + self._quiet_s - time.monotonic())
        return quiet_left + self.window_s(len(self.codec.read(0, 0, 1)), 1, max(BARRIER_LENS))

    def worth_trying(self, tx_bytes: int, n_replies: int, data_len: int, attempt: int, deadline_s: float) -> bool:
        """Whether another attempt fits before the deadline: on a clean line its whole reply window must; with a
        request pending any time left will do (its replies may still come, and run() sends only what fits)."""
        now = time.monotonic()
        if self._pending is not None:
            return now < deadline_s
        return now + self.window_s(tx_bytes, n_replies, data_len, attempt) <= deadline_s

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
        self._discard()
        dec = self.decoder
        dec.reset()
        dec.bad_ids.clear()
        dec.expect(lengths)
        self.send(packet)

    def send(self, packet: bytes) -> None:
        """Write one instruction; lockstep: return once the far end has answered it (ServoLinkError if it does
        not within the liveness timeout)."""
        if self._stuck:
            raise ServoLinkError(self._stuck)
        self.port.write(packet)
        if self.peer is None:
            return
        self._sent += len(packet)
        end = self.peer.wait_answered(self._sent, self._liveness_s)
        if end is None:
            self._fail(f"no answer to {len(packet)} bytes")
        self._end = end

    def _discard(self) -> None:
        """Drop stale input. Lockstep: read and drop what the far end wrote before (normally nothing: each window
        reads its answer to the end), so the counts stay exact."""
        if self.peer is None:
            self.port.discard_input()
            return
        while self._heard < self._end:
            self.decoder.stats.discarded_bytes += len(self._read(0.0))

    def _read(self, until_s: float) -> bytes:
        """Bytes that came by until_s (b"" then). Lockstep: b"" once all the far end wrote was read; until then
        bytes on their way are waited for up to the liveness timeout, whatever until_s says."""
        if self.peer is not None:
            if self._heard >= self._end:
                return b""
            until_s = time.monotonic() + self._liveness_s
        chunk = self.port.read_some(until_s)
        if chunk:
            self._rx_s = time.monotonic()
            self._heard += len(chunk)
        elif self.peer is not None:
            self._fail(f"{self._end - self._heard} bytes it wrote never came")
        return chunk

    def _fail(self, what: str) -> None:
        self._stuck = (f"{self.port.url}: the simulated bus is stuck (lockstep: {what} within "
                       f"{self._liveness_s:g} s of real time)")
        raise ServoLinkError(self._stuck)

    def run(self, packet: bytes, expect: tuple, data_len: int, deadline_s: float, attempt: int = 0) -> dict[int, tuple]:
        """Send one instruction; {id: (status packet, stamp_s)} from `expect`, whose replies come in that order.
        When an earlier request of this call answers while the line is made clean, those answers are returned
        and nothing is sent (the caller retries what is still missing)."""
        ready, got = self._ready(expect, data_len, deadline_s)
        window = self.window_s(len(packet), len(expect), data_len, attempt)
        if not ready or got or (self._resynced and time.monotonic() + window > deadline_s):
            return got  # nothing sent: a request whose window cannot close in time would only leave it pending
        dec = self.decoder
        self._start(packet, self.lengths(data_len))
        window_end = min(deadline_s, time.monotonic() + window)
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
        self._settle(expect, data_len, got, dec.bad_ids)
        return got

    def clear_line(self, deadline_s: float) -> bool:
        """Before an instruction that gets no reply (a SYNC_WRITE): True when no reply can still be on its way
        (resynchronising first, as run() does, if one may be); False when the line could not be proved clean by the
        deadline, so the caller sends nothing (on a half-duplex bus it would collide with a late reply)."""
        ready, _ = self._ready((), 0, deadline_s)
        return ready

    def _take(self, packets: list, expect: tuple, data_len: int, got: dict, stamp_s: float) -> None:
        dynamixel = self.dynamixel
        for pkt in packets:
            i = pkt.id
            if i in expect and i not in got and len(pkt.data) == data_len and \
                    (not dynamixel or pkt.instruction == dxl.Instruction.STATUS):  # as _is_reply, inlined
                got[i] = (pkt, stamp_s)
                self.stat(i).replies += 1

    def _is_reply(self, pkt, data_len: int) -> bool:
        return len(pkt.data) == data_len and (not self.dynamixel or pkt.instruction == dxl.Instruction.STATUS)

    def _count_losses(self, expect: tuple, got: dict, bad_ids) -> None:
        if len(got) == len(expect):
            return
        for i in expect:
            if i not in got:
                if i in bad_ids:
                    self.stat(i).bad_checksums += 1
                else:
                    self.stat(i).timeouts += 1

    def _settle(self, expect: tuple, data_len: int, got: dict, bad_ids) -> None:
        """Keep as pending the expected replies after the last one seen (whole or corrupt): they may still come.
        Lockstep: none can (the window read all the far end wrote)."""
        if self.peer is not None or expect[-1] in got or expect[-1] in bad_ids:
            rest = ()
        else:
            seen = [k for k, i in enumerate(expect) if i in got or i in bad_ids]
            rest = expect[seen[-1] + 1:] if seen else expect
        self._pending = _Pending(rest, data_len, self._call) if rest else None
        if rest:
            self._closed_s = time.monotonic()
        if got:
            self._answered = next(iter(got))

    def run_fast(self, reg: Register, ids: tuple, deadline_s: float) -> dict[int, tuple]:
        """Dynamixel FAST_SYNC_READ: one combined reply; a broken one leaves every servo to a plain retry."""
        ready, got = self._ready(ids, reg.size, deadline_s)
        packet = dxl.sync_read(reg.address, reg.size, ids, fast=True)
        if not ready or got or (self._resynced and time.monotonic() + self.window_s(len(packet), len(ids),
                                                                                    reg.size) > deadline_s):
            return got
        dec = self.decoder
        self._start(packet, (1 + len(ids) * (reg.size + 4),))
        window_end = min(deadline_s, time.monotonic() + self.window_s(len(packet), len(ids), reg.size))
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
        ended = bool(got) or bool(dec.bad_ids) or self.peer is not None  # lockstep: the window read it all
        self._pending = None if ended else _Pending((), reg.size, self._call)  # a combined reply has no per-ID end
        self._closed_s = time.monotonic()
        if got:
            self._answered = next(iter(got))
        return got

    # --- resynchronising after a request whose replies may still come -----------------------------------------

    def _ready(self, expect: tuple, data_len: int, deadline_s: float) -> tuple[bool, dict]:
        """(clean, answers of this call's pending request read meanwhile); see the module doc."""
        got: dict[int, tuple] = {}
        self._resynced = self._pending is not None
        if self._pending is None:
            return True, got
        self.link.resyncs += 1
        if self._drain(expect, data_len, deadline_s, got) or self._barrier(expect, deadline_s):
            self._pending = None
            return True, got
        self.link.resync_failures += 1
        return False, got

    def _drain(self, expect: tuple, data_len: int, deadline_s: float, got: dict) -> bool:
        """Read until the pending stream's last reply (True) or a quiet line or the deadline (False)."""
        pending, dec = self._pending, self.decoder
        ours = pending.call == self._call and pending.data_len == data_len
        data = pending.data_len not in BARRIER_LENS
        dec.reset()
        dec.bad_ids.clear()
        dec.expect(None)
        while True:
            # Our own call waits a quiet period past its window (a late answer beats asking again); another call
            # only needs the line quiet since its last byte, then the barrier decides. Past it: one look, no wait.
            heard = max(self._rx_s, self._closed_s) if ours else self._rx_s
            chunk = self._read(min(heard + self._quiet_s, deadline_s))
            if not chunk:
                return False
            for pkt in dec.feed(chunk):
                answered = self._barrier_answer(pkt)
                if answered:
                    return True  # the latest barrier's reply: everything sent before it has come
                reply = data and pkt.id in pending.ids and self._is_reply(pkt, pending.data_len)
                if reply and ours and pkt.id in expect and pkt.id not in got:
                    got[pkt.id] = (pkt, time.monotonic())
                    self.stat(pkt.id).replies += 1
                else:
                    self._late((pkt,))
                if reply and pkt.id == pending.ids[-1]:
                    return True
            if data and pending.ids and pending.ids[-1] in dec.bad_ids:
                return True

    def _barrier_answer(self, pkt) -> bool | None:
        """Barriers.answer for a barrier-shaped reply; None for anything else."""
        if len(pkt.data) not in BARRIER_LENS or not self._is_reply(pkt, len(pkt.data)):
            return None
        return self._barriers.answer((pkt.id, len(pkt.data)))

    def _barrier(self, expect: tuple, deadline_s: float) -> bool:
        pair = self._barriers.next(self._answered, expect)
        if pair is None:
            return False
        target, length = pair
        packet = self.codec.read(target, BARRIER_ADDRESS, length)
        self._start(packet, None)
        dec = self.decoder
        window_end = min(deadline_s, time.monotonic() + self.window_s(len(packet), 1, length))
        while True:
            chunk = self._read(window_end)
            if not chunk:
                break
            for pkt in dec.feed(chunk):
                if self._barrier_answer(pkt):
                    self.stat(target).replies += 1
                    return True
                self._late((pkt,))
            window_end = min(deadline_s, window_end + len(chunk) * self._byte_s)  # late bytes came first
        self._count_losses((target,), {}, dec.bad_ids)
        self._pending = _Pending((target,), length, self._call)  # its reply, when it comes, ends it all
        self._closed_s = time.monotonic()
        self._answered = None
        self._barriers.unanswered()
        return False

    def _late(self, packets) -> None:
        for pkt in packets:
            self.link.late_replies += 1
            if pkt.id in self._stats:
                self._stats[pkt.id].late_replies += 1
