"""Serve a VirtualArm over a new pty or a loopback TCP port; `vla-lite sim-arm` on the command line.

One loop in one thread: wake when the link is readable (poll), decode, let the arm answer, write the replies at
once; on a short timeout (`step_period_s`, 2 ms) call `arm.step` so the watchdog trips on silence. Nothing runs
until `start()` (a background thread) or `serve_forever()` (the caller's thread). `drop_connection()` and
`restore_connection()` from another thread are carried out by the loop itself, so no fd is closed under it.

A pty is put in raw mode before anything is written (otherwise 0x03 is eaten as Ctrl-C and bytes echo). The server
keeps its own handle on the pty slave, so a host closing and reopening the port changes nothing. On TCP one host is
served at a time: a new client replaces the current one, and a client that goes away leaves the server waiting for
the next. Faults, when given, are applied to both directions (the second stream is `faults.fork()`).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import pty
import select
import signal
import socket
import sys
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass, field

from . import protocol as p
from .arm_config import default_arm
from .fault_injection import FaultInjection, FaultStats
from .virtual_arm import VirtualArm

READ_CHUNK = 65536
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


# --- links: the two transports, driven only from the server loop ------------------------------------------

def _point_symlink(link_path: str, target: str) -> None:
    """Atomically make link_path a symlink to target; never replaces something that is not a symlink."""
    if os.path.lexists(link_path) and not os.path.islink(link_path):
        raise FileExistsError(f"link path {link_path} exists and is not a symlink; refusing to replace it")
    tmp = f"{link_path}.{os.getpid()}.tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link_path)


class _PtyLink:
    def __init__(self, link_path: str | None):
        self.link_path = os.path.abspath(link_path) if link_path else None
        self.master: int | None = None
        self.slave: int | None = None
        self.slave_name = ""
        self.connections = self.disconnects = self.generation = 0
        self.restore()

    @property
    def port(self) -> str:
        return self.link_path or self.slave_name

    @property
    def has_peer(self) -> bool:
        return self.master is not None

    def fds(self) -> list[int]:
        return [] if self.master is None else [self.master]

    def out_fd(self) -> int | None:
        return self.master

    def on_readable(self, fd: int) -> bytes:
        try:
            return os.read(fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:  # EIO: no slave open (cannot happen while we hold one); treat as silence
            return b""

    def write(self, data: bytes) -> int:
        try:
            return os.write(self.master, data)
        except (BlockingIOError, InterruptedError):
            return 0

    def drop(self) -> None:
        if self.master is None:
            return
        for fd in (self.master, self.slave):
            os.close(fd)
        self.master = self.slave = None
        self.disconnects += 1
        self.generation += 1

    def restore(self) -> None:
        if self.master is not None:
            return
        master, slave = pty.openpty()
        try:
            tty.setraw(slave)  # before any byte is written: no echo, no line discipline, all 256 values pass
            os.set_blocking(master, False)
            name = os.ttyname(slave)
            if self.link_path:
                _point_symlink(self.link_path, name)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self.master, self.slave, self.slave_name = master, slave, name
        self.connections += 1
        self.generation += 1

    def close(self) -> None:
        self.drop()
        if self.link_path and os.path.islink(self.link_path) and os.readlink(self.link_path) == self.slave_name:
            os.unlink(self.link_path)


class _TcpLink:
    def __init__(self, host: str, port: int):
        if not 0 <= port <= 65535:
            raise ValueError(f"TCP port must be 0..65535, got {port}")
        self.host, self.port_number = host, port
        self.listener: socket.socket | None = None
        self.client: socket.socket | None = None
        self.connections = self.disconnects = self.generation = 0
        self.restore()

    @property
    def port(self) -> str:
        return f"socket://{self.host}:{self.port_number}"

    @property
    def has_peer(self) -> bool:
        return self.client is not None

    def fds(self) -> list[int]:
        return [s.fileno() for s in (self.listener, self.client) if s is not None]

    def out_fd(self) -> int | None:
        return None if self.client is None else self.client.fileno()

    def on_readable(self, fd: int) -> bytes:
        if self.listener is not None and fd == self.listener.fileno():
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return b""
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._close_client()  # the newest host wins, as if the cable were moved
            self.client = conn
            self.connections += 1
            self.generation += 1
            return b""
        if self.client is None or fd != self.client.fileno():
            return b""
        try:
            data = self.client.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            data = b""
        if not data:  # the host went away: wait for the next one
            self._close_client()
        return data

    def write(self, data: bytes) -> int:
        try:
            return self.client.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self._close_client()
            return 0

    def _close_client(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
            self.disconnects += 1
            self.generation += 1

    def drop(self) -> None:
        """Close the client and stop listening: connecting is refused until restore()."""
        self._close_client()
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            self.generation += 1

    def restore(self) -> None:
        if self.listener is not None:
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.host, self.port_number))
            s.listen(1)
            s.setblocking(False)
        except BaseException:
            s.close()
            raise
        self.listener, self.port_number = s, s.getsockname()[1]  # the same port again after a drop
        self.generation += 1

    def close(self) -> None:
        self.drop()


# --- the server ------------------------------------------------------------------------------------------------

class ArmServer:
    """A VirtualArm on a link. Build with `on_pty` or `on_tcp`; `port` is what a host gives pyserial."""

    def __init__(self, arm: VirtualArm, link, faults: FaultInjection | None = None, *,
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
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller = select.poll()
        self._registered: dict[int, int] = {}
        self._poll_key = None
        self._stop = threading.Event()
        self._calls: deque[list] = deque()  # [fn, done Event, result, exception] from other threads
        self._calls_lock = threading.Lock()
        self._loop_thread: threading.Thread | None = None  # the thread running serve_forever, if any
        self._thread: threading.Thread | None = None  # the one start() made
        self._closed = False
        self._next_step_s = clock()
        self._sync_link_stats()

    @classmethod
    def on_pty(cls, arm: VirtualArm, link_path: str | None = None, faults: FaultInjection | None = None,
               **kwargs) -> "ArmServer":
        """Serve on a new pty; link_path, when given, is kept as a symlink to the current slave (like socat's
        link=), so a host can reopen the same path after restore_connection()."""
        return cls(arm, _PtyLink(link_path), faults, **kwargs)

    @classmethod
    def on_tcp(cls, arm: VirtualArm, host: str = "127.0.0.1", port: int = 0, faults: FaultInjection | None = None,
               **kwargs) -> "ArmServer":
        """Serve on TCP host:port (0: a free port); `port` becomes socket://host:PORT."""
        return cls(arm, _TcpLink(host, port), faults, **kwargs)

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
        with self._calls_lock:
            self._thread = self._loop_thread = thread
        thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop()."""
        if self._closed:
            raise RuntimeError("this ArmServer is closed")
        with self._calls_lock:
            self._loop_thread = threading.current_thread()
        try:
            while not self._stop.is_set():
                self._serve_once()
        finally:
            with self._calls_lock:
                self._loop_thread = None
            self._run_calls()  # nobody is left waiting on a loop that ended

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler); waits for start()'s thread."""
        self._stop.set()
        self._wake()
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
        os.close(self._wake_r)
        os.close(self._wake_w)

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
            if fd == self._wake_r:
                self._drain_wake()
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
        want = {self._wake_r: select.POLLIN}
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

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\x00")
        except (BlockingIOError, OSError):
            pass  # full (already awake) or closed

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _call(self, fn):
        """Run fn in the loop's thread (fds belong to it); directly when no loop runs or we are the loop."""
        item = [fn, threading.Event(), None, None]
        with self._calls_lock:
            loop = self._loop_thread
            direct = loop is None or loop is threading.current_thread()
            if not direct:
                self._calls.append(item)
        if direct:
            result = fn()
            self._check_generation()
            return result
        self._wake()
        if not item[1].wait(5.0):
            raise TimeoutError("the arm server loop did not run the request within 5 s")
        if item[3] is not None:
            raise item[3]
        return item[2]

    def _run_calls(self) -> None:
        while self._calls:
            item = self._calls.popleft()
            try:
                item[2] = item[0]()
            except BaseException as exc:
                item[3] = exc
            item[1].set()
        self._check_generation()


# --- `vla-lite sim-arm` -----------------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="serve on a new pty and print its path (the default)")
    where.add_argument("--tcp", type=int, metavar="PORT",
                       help="serve on 127.0.0.1:PORT (0: a free port) and print socket://127.0.0.1:PORT")
    parser.add_argument("--link", metavar="PATH", help="with --pty: keep a symlink at PATH to the pty")
    parser.add_argument("--joints", type=int, default=6, metavar="N",
                        help="revolute joints before the gripper (default 6: 7 joints in all)")
    parser.add_argument("--watchdog-ms", type=int, default=None, metavar="MS", help="default 100")
    parser.add_argument("--torque-off-ms", type=int, default=None, metavar="MS", help="0: never; default 2000")
    parser.add_argument("--drop", type=float, default=0.0, metavar="RATE",
                        help="fault injection: probability each byte is dropped, both directions")
    parser.add_argument("--corrupt", type=float, default=0.0, metavar="RATE",
                        help="fault injection: probability each byte has one bit flipped, both directions")
    parser.add_argument("--delay-ms", type=float, default=0.0, metavar="MS", help="fault injection: added latency")
    parser.add_argument("--seed", type=int, default=None, help="fault injection seed (repeatable faults)")


def build_server(args) -> ArmServer:
    """The server `vla-lite sim-arm` describes by its arguments. Raises ValueError naming a bad one."""
    if not 1 <= args.joints <= 31:
        raise ValueError(f"--joints must be 1..31 revolute joints (a gripper is added), got {args.joints}")
    config = default_arm(args.joints)
    watchdog_ms = config.watchdog_ms if args.watchdog_ms is None else args.watchdog_ms
    torque_off_ms = config.torque_off_ms if args.torque_off_ms is None else args.torque_off_ms
    if not 1 <= watchdog_ms <= 65535:
        raise ValueError(f"--watchdog-ms must be 1..65535 ms, got {watchdog_ms}")
    if not 0 <= torque_off_ms <= 65535:
        raise ValueError(f"--torque-off-ms must be 0..65535 ms (0: never), got {torque_off_ms}")
    for flag, rate in (("--drop", args.drop), ("--corrupt", args.corrupt)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{flag} must be a probability per byte in [0, 1], got {rate}")
    if not 0.0 <= args.delay_ms < float("inf"):
        raise ValueError(f"--delay-ms must be a finite number of milliseconds >= 0, got {args.delay_ms}")
    if args.tcp is not None and args.link:
        raise ValueError("--link names a pty symlink; it cannot be used with --tcp")
    config = dataclasses.replace(config, watchdog_ms=watchdog_ms, torque_off_ms=torque_off_ms)
    faults = FaultInjection(args.drop, args.corrupt, args.delay_ms, args.seed)
    arm = VirtualArm(config, now_s=time.monotonic())
    if args.tcp is not None:
        return ArmServer.on_tcp(arm, port=args.tcp, faults=faults)
    return ArmServer.on_pty(arm, link_path=args.link, faults=faults)


def describe(server: ArmServer) -> str:
    c = server.arm.config
    faults = "none"
    if server.faults_in is not None:
        f = server.faults_in
        faults = f"drop {f.drop_rate:g}, corrupt {f.corrupt_rate:g}, delay {f.delay_ms:g} ms per direction"
    return (f"vla-lite sim-arm: {c.name!r}, {len(c.joints)} joints ({', '.join(c.joint_names)}); modes "
            f"{', '.join(m.name.lower() for m in c.modes)}; watchdog {c.watchdog_ms} ms, torque off "
            f"{c.torque_off_ms} ms; protocol {p.PROTOCOL_MAJOR}.{p.PROTOCOL_MINOR} schema 0x{p.SCHEMA_HASH:08X}; "
            f"faults: {faults}; on {server.port}")


def run(args) -> int:
    try:
        server = build_server(args)
    except (ValueError, OSError) as exc:
        print(f"vla-lite sim-arm: {exc}", file=sys.stderr)
        return 2
    try:
        print(server.port, flush=True)  # first stdout line: what a host opens
        print(describe(server), file=sys.stderr, flush=True)
        gc.collect()
        gc.freeze()  # start-up objects leave the collector: no long collection pauses on the reply path
        previous = {s: signal.signal(s, lambda signum, frame: server.stop()) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            server.serve_forever()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    finally:
        server.close()
    return 0
