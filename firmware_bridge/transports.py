"""The two transports the arm server listens on: a pty and a loopback TCP port.

Both offer the same small interface (`ServerLink`), driven only from the server loop's thread (arm_server.py):
the fds to poll, what a readable fd yields, non-blocking writes, and drop/restore for a pulled and replugged cable.
`generation` changes on every connect and disconnect, so the loop knows to start a fresh parser.
"""

from __future__ import annotations

import os
import pty
import socket
import tty
from typing import Protocol

READ_CHUNK = 65536  # bytes per read


class ServerLink(Protocol):
    port: str  # what a host gives pyserial: the pty path (or its symlink), or socket://host:PORT
    has_peer: bool  # someone to write to: a pty open, a TCP client connected
    generation: int  # changes on every connect, disconnect, drop and restore
    connections: int
    disconnects: int

    def fds(self) -> list[int]:
        """The fds to poll for reading (a listener included)."""

    def out_fd(self) -> int | None:
        """The fd writes go to, to poll for writability while output is pending; None without a peer."""

    def on_readable(self, fd: int) -> bytes:
        """What a readable fd yields: bytes from the host, or b"" (nothing yet, a new client accepted, a hang-up)."""

    def write(self, data: bytes) -> int:
        """Write without blocking; returns the bytes written (0: try again when writable)."""

    def drop(self) -> None:
        """A pulled cable: the host's next read fails (pty) or connecting is refused (TCP) until restore()."""

    def restore(self) -> None:
        """A cable plugged back: a new pty (the symlink re-pointed at it), or listening again on the same port."""

    def close(self) -> None:
        """Drop and release everything (the pty symlink included). Safe to call twice."""


def _point_symlink(link_path: str, target: str) -> None:
    """Atomically make link_path a symlink to target; never replaces something that is not a symlink."""
    if os.path.lexists(link_path) and not os.path.islink(link_path):
        raise FileExistsError(f"link path {link_path} exists and is not a symlink; refusing to replace it")
    tmp = f"{link_path}.{os.getpid()}.tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link_path)


class PtyLink:
    """A new pty; the server keeps the slave open too, so a host closing and reopening the port changes nothing.
    link_path, when given, is kept as a symlink to the current slave (like socat's link=)."""

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


class TcpLink:
    """A loopback TCP listener serving one host at a time: a new client replaces the current one (as if the cable
    were moved); a client that goes away leaves it waiting for the next."""

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
