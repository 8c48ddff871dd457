"""Serve a VirtualArm over a link (transports.py: a new pty or a loopback TCP port); sim_arm.py is the command.

One loop in one thread: wake when the link is readable (poll), decode, let the arm answer, write the replies at
once; on a short timeout (`step_period_s`, 2 ms) call `arm.step` so the watchdog trips on silence. Nothing runs
until `start()` (a background thread) or `serve_forever()` (the caller's thread). `drop_connection()` and
`restore_connection()` from another thread are carried out by the loop itself (loop_calls.py), so no fd is closed
under it.

A pty is put in raw mode before anything is written (otherwise 0x03 is eaten as Ctrl-C and bytes echo). The server
keeps its own handle on the pty slave, so a host closing and reopening the port changes nothing. On TCP one host is
served at a time: a new client replaces the current one, and a client that goes away leaves the server waiting for
the next. Faults, when given, are applied to both directions (the second stream is `faults.fork()`).
"""

from __future__ import annotations

import dataclasses
import select
import threading
import time
from dataclasses import dataclass, field

from . import protocol as p
from .fault_injection import FaultInjection, FaultStats
from .loop_calls import LoopCalls
from .transports import PtyLink, ServerLink, TcpLink
from .virtual_arm import VirtualArm

MAX_PENDING_OUT = 65536  # bytes waiting for a slow reader; beyond this new frames are dropped, like a full UART


@dataclass
class ServerStats:
    decoder: p.DecoderStats = field(default_factory=p.DecoderStats)  # frames received, drops by reason
    frames_out: int = 0
    bytes_in: int = 0  # as read, before fault injection
    bytes_out: int = 0  # as written
    bytes_dropped_out: int = 0  # no peer, or the peer stopped reading
    connections: int = 0  # TCP clients accepted / ptys opened
    disconnects: int = 0
    handler_errors: int = 0  # exceptions from arm.handle (a bug: reported, never fatal)
    last_error: str = ""
    faults_in: FaultStats | None = None
    faults_out: FaultStats | None = None

    @property
    def frames_in(self) -> int:
        return self.decoder.frames

    def as_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["frames_in"] = self.frames_in
        for k in ("decoder", "faults_in", "faults_out"):
            d[k] = d[k].as_dict() if d[k] is not None else None
        return d


# --- the server ------------------------------------------------------------------------------------------------

class ArmServer:
    """A VirtualArm on a link. Build with `on_pty` or `on_tcp`; `port` is what a host gives pyserial."""

    def __init__(self, arm: VirtualArm, link: ServerLink, faults: FaultInjection | None = None, *,
                 step_period_s: float = 0.002, clock=time.monotonic):
        if not 0 < step_period_s <= 0.05:
            raise ValueError(f"step_period_s must be in (0, 0.05] s, got {step_period_s!r}")
        self.arm, self._link, self._clock = arm, link, clock
        self._step_period_s = step_period_s
        active = faults is not None and faults.active
        self.faults_in = faults if active else None  # bytes from the host
        self.faults_out = faults.fork() if active else None  # bytes to the host
        self.stats = ServerStats(faults_in=self.faults_in and self.faults_in.stats,
                                 faults_out=self.faults_out and self.faults_out.stats)
        self._decoder = p.Decoder(stats=self.stats.decoder)
        self._generation = link.generation
        self._seq = 0
        self._pending = bytearray()
        self._poller = select.poll()
        self._registered: dict[int, int] = {}
        self._poll_key = None
        self._stop = threading.Event()
        self._calls = LoopCalls()  # requests from other threads, run by the loop; knows the loop's thread
        self._thread: threading.Thread | None = None  # the one start() made
        self._closed = False
        self._next_step_s = clock()
        self._sync_link_stats()

    @classmethod
    def on_pty(cls, arm: VirtualArm, link_path: str | None = None, faults: FaultInjection | None = None,
               **kwargs) -> "ArmServer":
        """Serve on a new pty; link_path, when given, is kept as a symlink to the current slave (like socat's
        link=), so a host can reopen the same path after restore_connection()."""
        return cls(arm, PtyLink(link_path), faults, **kwargs)

    @classmethod
    def on_tcp(cls, arm: VirtualArm, host: str = "127.0.0.1", port: int = 0, faults: FaultInjection | None = None,
               **kwargs) -> "ArmServer":
        """Serve on TCP host:port (0: a free port); `port` becomes socket://host:PORT."""
        return cls(arm, TcpLink(host, port), faults, **kwargs)

    @property
    def port(self) -> str:
        return self._link.port

    # --- running -------------------------------------------------------------------------------------------

    def start(self) -> "ArmServer":
        """Serve in a background thread; returns self."""
        if self._closed:
            raise RuntimeError("this ArmServer is closed")
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this ArmServer is already running")
        self._stop.clear()
        thread = threading.Thread(target=self.serve_forever, name="vla-lite-arm-server", daemon=True)
        with self._calls.lock:
            self._thread = self._calls.loop_thread = thread
        thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop()."""
        if self._closed:
            raise RuntimeError("this ArmServer is closed")
        with self._calls.lock:
            self._calls.loop_thread = threading.current_thread()
        try:
            while not self._stop.is_set():
                self._serve_once()
        finally:
            with self._calls.lock:
                self._calls.loop_thread = None
            self._run_calls()  # nobody is left waiting on a loop that ended

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler); waits for start()'s thread."""
        self._stop.set()
        self._calls.wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)

    def close(self) -> None:
        """Stop, close the link and remove the link symlink. Safe to call twice."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        self._link.close()
        self._calls.close()

    def __enter__(self) -> "ArmServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def drop_connection(self) -> None:
        """A pulled cable: close the pty master (the host's next read raises SerialException) or the TCP client
        and listener."""
        self._call(self._link.drop)

    def restore_connection(self) -> None:
        """A cable plugged back: a new pty (link_path re-pointed at it) or listening again on the same port."""
        self._call(self._link.restore)

    def step_now(self) -> None:
        """Advance the arm to clock() now, in the loop's thread, and send what that produces (a tripped fault's
        LOG + STATE). For lockstep drivers that move an injected clock forward and want the arm there at once."""
        self._call(self._step_now)

    def _step_now(self) -> None:
        now = self._clock()
        try:
            msgs = self.arm.step(now)
        except Exception as exc:  # as in _serve_once: reported, never fatal
            self._count_error(exc)
            return
        if msgs:
            self._send_messages(msgs, now)

    # --- the loop ------------------------------------------------------------------------------------------

    def _serve_once(self) -> None:
        due_s = self._next_step_s
        for f in (self.faults_in, self.faults_out):
            t = f.next_due_s() if f is not None else None
            if t is not None and t < due_s:
                due_s = t
        poll_key = (self._link.generation, bool(self._pending))
        if poll_key != self._poll_key:  # the fds to watch changed
            self._sync_poll()
            self._poll_key = poll_key
        events = self._poller.poll(max(0.0, (due_s - self._clock()) * 1e3))  # ms
        for fd, ev in events:
            if fd == self._calls.wake_fd:
                self._calls.drain_wake()
                self._run_calls()
                self._check_generation()
                continue
            if ev & select.POLLOUT:
                self._flush()
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR | select.POLLNVAL):
                data = self._link.on_readable(fd)
                self._check_generation()
                if data:
                    self._on_bytes(data)
        now = self._clock()
        if self.faults_in is not None:
            late = self.faults_in.release(now)
            if late:
                self._receive(late, now)
        if self.faults_out is not None:
            late = self.faults_out.release(now)
            if late:
                self._write(late)
        if now >= self._next_step_s:
            self._next_step_s = now + self._step_period_s
            try:
                msgs = self.arm.step(now)
            except Exception as exc:  # as in _receive: reported, never fatal
                self._count_error(exc)
                return
            if msgs:
                self._send_messages(msgs, now)

    def _on_bytes(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        now = self._clock()
        if self.faults_in is not None:
            data = self.faults_in.apply(data, now)
            if not data:
                return
        self._receive(data, now)

    def _receive(self, data: bytes, now: float) -> None:
        replies = []
        for pkt in self._decoder.feed(data):
            try:
                replies += self.arm.handle(pkt, now)
            except Exception as exc:  # a bug in the arm must not take the link down: count it, keep serving
                self._count_error(exc)
        if replies:
            self._send_messages(replies, now)  # one write for all replies to this read

    def _count_error(self, exc: Exception) -> None:
        self.stats.handler_errors += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"

    def _send_messages(self, msgs, now: float) -> None:
        out = []
        for msg in msgs:
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            out.append(p.encode(msg, self._seq))
        self.stats.frames_out += len(out)
        self._send(b"".join(out), now)

    def _send(self, data: bytes, now: float) -> None:
        if self.faults_out is not None:
            data = self.faults_out.apply(data, now)
            if not data:
                return
        self._write(data)

    def _write(self, data: bytes) -> None:
        st = self.stats
        if not self._link.has_peer:
            st.bytes_dropped_out += len(data)
            return
        if self._pending:  # keep order behind what is already waiting
            if len(self._pending) + len(data) > MAX_PENDING_OUT:
                st.bytes_dropped_out += len(data)
            else:
                self._pending += data
            return
        n = self._link.write(data)
        st.bytes_out += n
        if n < len(data):
            rest = data[n:]
            if len(rest) > MAX_PENDING_OUT:
                st.bytes_dropped_out += len(rest)
            else:
                self._pending += rest

    def _flush(self) -> None:
        if self._pending and self._link.has_peer:
            n = self._link.write(bytes(self._pending))
            self.stats.bytes_out += n
            del self._pending[:n]

    def _sync_poll(self) -> None:
        want = {self._calls.wake_fd: select.POLLIN}
        for fd in self._link.fds():
            want[fd] = select.POLLIN
        out_fd = self._link.out_fd()
        if self._pending and out_fd is not None:
            want[out_fd] = want.get(out_fd, 0) | select.POLLOUT
        if want == self._registered:
            return
        for fd in self._registered:
            if fd not in want:
                self._poller.unregister(fd)
        for fd, mask in want.items():
            if self._registered.get(fd) != mask:
                self._poller.register(fd, mask)  # registering again changes the mask
        self._registered = want

    def _check_generation(self) -> None:
        """After a connect or disconnect: a fresh parser, and nothing from the old link is delivered."""
        if self._link.generation == self._generation:
            return
        self._generation = self._link.generation
        self._decoder = p.Decoder(stats=self.stats.decoder)
        self._pending.clear()
        for f in (self.faults_in, self.faults_out):
            if f is not None:
                f.discard()
        self._sync_link_stats()

    def _sync_link_stats(self) -> None:
        self.stats.connections, self.stats.disconnects = self._link.connections, self._link.disconnects

    # --- calls from other threads ----------------------------------------------------------------------------

    def _call(self, fn):
        """Run fn in the loop's thread (fds belong to it); directly when no loop runs or we are the loop."""
        return self._calls.call(fn, after_direct=self._check_generation)

    def _run_calls(self) -> None:
        self._calls.run_pending()
        self._check_generation()
