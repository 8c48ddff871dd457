"""The instruction socket: one thread serves every client through `selectors`, sockets non-blocking, so no client
(idle, trickling a byte a second, or sending 100 MiB without a newline) delays another or the control loop.

Per client: at most READ_BYTES read per wake-up (fair between clients), a LineSplitter holding at most one line,
replies queued and sent as the client reads them (a client that does not read is closed once MAX_PENDING_REPLY
bytes wait), closed after `idle_timeout_s` without a byte. Past `max_clients`, a new client is told so and closed.
"""

from __future__ import annotations

import selectors
import socket
from dataclasses import dataclass, field

from .lines import LineSplitter
from .sources import READ_BYTES, LineSource

MAX_PENDING_REPLY = 65536  # bytes of replies a client has not read; past this it is closed
EXPIRY_CHECK_S = 0.1  # how often idle clients are looked for


@dataclass
class _Client:
    sock: socket.socket
    splitter: LineSplitter
    last_active_s: float
    out: bytearray = field(default_factory=bytearray)  # replies not sent yet


def check_port(port) -> int:
    """ValueError naming the value unless it is a TCP port number (0 picks a free one)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--instruction-socket must be a TCP port 0-65535 (0: any free port), got {port!r}")
    return port


class SocketSource(LineSource):
    """A line-per-instruction TCP server on host:port (127.0.0.1 by default; port 0 picks a free one)."""
    name = "socket"

    def __init__(self, inbox, host: str = "127.0.0.1", port: int = 0, on_event=None, idle_timeout_s: float = 60.0,
                 max_clients: int = 512):
        super().__init__(inbox, on_event)
        if not idle_timeout_s > 0 or not max_clients >= 1:
            raise ValueError(f"idle_timeout_s must be > 0 and max_clients >= 1, got {idle_timeout_s!r}, "
                             f"{max_clients!r}")
        self.idle_timeout_s, self.max_clients = float(idle_timeout_s), int(max_clients)
        try:
            self._server = socket.create_server((host, check_port(port)))
        except OSError as exc:
            raise ValueError(f"--instruction-socket {port}: cannot listen on {host}:{port} ({exc.strerror or exc})") \
                from None
        self._server.setblocking(False)
        self.address = self._server.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()  # close() wakes the thread through this
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._server, selectors.EVENT_READ, "accept")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._clients: dict[socket.socket, _Client] = {}

    @property
    def clients(self) -> int:
        return len(self._clients)

    def _run(self) -> None:
        next_expiry_s = self.clock() + EXPIRY_CHECK_S
        try:
            while not self._stop.is_set():
                for key, mask in self._sel.select(timeout=EXPIRY_CHECK_S):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        return
                    else:
                        if mask & selectors.EVENT_READ:
                            self._read(key.data)
                        if mask & selectors.EVENT_WRITE and key.data.sock in self._clients:
                            self._flush(key.data)
                if self.clock() >= next_expiry_s:
                    self._expire()
                    next_expiry_s = self.clock() + EXPIRY_CHECK_S
        finally:
            for client in list(self._clients.values()):
                self._drop(client)

    def _accept(self) -> None:
        try:
            sock, _ = self._server.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the server was closed, or out of descriptors: the next wake-up tries again
            return
        sock.setblocking(False)
        if len(self._clients) >= self.max_clients:
            try:
                sock.send(f"refused: {self.max_clients} clients connected already; try again later\n".encode())
            except OSError:
                pass
            sock.close()
            return
        client = _Client(sock, self.splitter(), self.clock())
        self._clients[sock] = client
        self._sel.register(sock, selectors.EVENT_READ, client)

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return self._drop(client)
        client.last_active_s = self.clock()
        items = client.splitter.feed(data) if data else client.splitter.finish()
        for item in items:
            client.out += (self.handle(item) + "\n").encode("utf-8")
        self._flush(client)
        if not data and client.sock in self._clients:  # the client finished sending: answered, then closed
            self._drop(client)

    def _flush(self, client: _Client) -> None:
        try:
            sent = client.sock.send(client.out) if client.out else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return self._drop(client)
        del client.out[:sent]
        if len(client.out) > MAX_PENDING_REPLY:
            return self._drop(client)
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.out else 0)
        if self._sel.get_key(client.sock).events != events:
            self._sel.modify(client.sock, events, client)

    def _expire(self) -> None:
        now = self.clock()
        for client in [c for c in self._clients.values() if now - c.last_active_s > self.idle_timeout_s]:
            client.out += f"refused: idle for more than {self.idle_timeout_s:g} s; closing\n".encode()
            try:
                client.sock.send(client.out)
            except OSError:
                pass
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        self._clients.pop(client.sock, None)
        try:
            self._sel.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()

    def close(self) -> None:
        super().close()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(2.0)
        for s in (self._server, self._wake_r, self._wake_w):
            s.close()
        self._sel.close()
