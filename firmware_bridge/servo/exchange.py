"""One transaction on a servo bus: drop stale input, send one instruction, collect the expected status packets
until they are all in or the reply window closes. No retries here (the bus decides those within its budget).

The reply window is the wire time of the instruction and the replies (bytes x 10 / baud), each replying servo's
return delay, and a latency allowance for the host and the USB adapter (doubled on each retry), capped by the
caller's deadline; all on time.monotonic. Losses are counted per servo: a reply whose checksum failed (the decoder reports its claimed ID)
is a bad checksum, one that never came a timeout.
"""

from __future__ import annotations

import time

from . import dynamixel as dxl
from .port import SerialPort
from .readings import ServoStats
from .tables import Register


class Exchange:
    def __init__(self, port: SerialPort, codec, baudrate: int, return_delay_s: float, latency_s: float,
                 stats: dict[int, ServoStats]):
        self.port, self.codec = port, codec
        self.dynamixel = codec is dxl
        self.decoder = codec.Decoder()
        self._byte_s = 10 / baudrate
        self._delay_s, self._latency_s = return_delay_s, latency_s
        self._stats = stats
        self._lengths: dict[int, frozenset[int]] = {}

    def stat(self, servo_id: int) -> ServoStats:
        stats = self._stats.get(servo_id)
        if stats is None:
            stats = self._stats[servo_id] = ServoStats()
        return stats

    def window_s(self, tx_bytes: int, n_replies: int, data_len: int, attempt: int = 0) -> float:
        """Reply window; the latency allowance doubles with each retry (a host late once is given longer)."""
        wire = tx_bytes + n_replies * self.codec.status_size(data_len)
        return wire * self._byte_s + n_replies * self._delay_s + self._latency_s * (1 << min(attempt, 6))

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

    def run(self, packet: bytes, expect: tuple, data_len: int, deadline_s: float, attempt: int = 0) -> dict[int, tuple]:
        """Send one instruction; {id: (status packet, stamp_s)} from `expect`, whose replies come in that order."""
        dec = self.decoder
        self._start(packet, self.lengths(data_len))
        window = self.window_s(len(packet), len(expect), data_len, attempt)
        window_end = min(deadline_s, time.monotonic() + window)
        got: dict[int, tuple] = {}
        last = expect[-1]
        while len(got) < len(expect) and last not in dec.bad_ids:
            chunk = self.port.read_some(window_end)
            if not chunk:
                break
            self._take(dec.feed(chunk), expect, data_len, got, time.monotonic())
            if last in got:
                break  # replies come in order: anything still missing before the last one is lost
        if len(got) < len(expect):
            self._take(dec.finish(), expect, data_len, got, time.monotonic())
        self._count_losses(expect, got, dec.bad_ids)
        return got

    def _take(self, packets: list, expect: tuple, data_len: int, got: dict, stamp_s: float) -> None:
        for pkt in packets:
            if pkt.id in expect and pkt.id not in got and len(pkt.data) == data_len and (
                    not self.dynamixel or pkt.instruction == dxl.Instruction.STATUS):
                got[pkt.id] = (pkt, stamp_s)
                self.stat(pkt.id).replies += 1

    def _count_losses(self, expect: tuple, got: dict, bad_ids) -> None:
        for i in expect:
            if i not in got:
                if i in bad_ids:
                    self.stat(i).bad_checksums += 1
                else:
                    self.stat(i).timeouts += 1

    def run_fast(self, reg: Register, ids: tuple, deadline_s: float) -> dict[int, tuple]:
        """Dynamixel FAST_SYNC_READ: one combined reply; a broken one leaves every servo to a plain retry."""
        dec = self.decoder
        packet = dxl.sync_read(reg.address, reg.size, ids, fast=True)
        self._start(packet, (1 + len(ids) * (reg.size + 4),))
        window_end = min(deadline_s, time.monotonic() + self.window_s(len(packet), len(ids), reg.size))
        got: dict[int, tuple] = {}
        while not got:
            chunk = self.port.read_some(window_end)
            for pkt in dec.feed(chunk) if chunk else dec.finish():
                for block in dxl.parse_fast_sync_read(pkt, reg.size):
                    if block.id in ids and block.id not in got:
                        status = dxl.Packet(block.id, dxl.Instruction.STATUS, bytes((block.error,)) + block.data)
                        got[block.id] = (status, time.monotonic())
                        self.stat(block.id).replies += 1
            if not chunk:
                break
        self._count_losses(ids, got, ids if dec.bad_ids else ())
        return got
