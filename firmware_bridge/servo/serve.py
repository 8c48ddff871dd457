"""Serve a virtual servo bus on a new pty: `python -m vla_lite.firmware_bridge.servo.serve --arm so101` prints the
pty path (first stdout line) and answers as an SO-101's six STS3215 would, until SIGINT/SIGTERM; then its last
stderr line is `report {json}`: the faults injected and, per servo, goals written and the largest goal jump.

The pty is put in raw mode before anything is written (otherwise 0x03 is eaten as Ctrl-C and bytes echo); the
server keeps its own handle on the slave, so a host closing and reopening the port changes nothing. In-process, a
PtyServer is also a lockstep.LockstepPeer: it counts the bytes it has answered and written, so a host stepping a
simulation in simulated time can wait for its answers instead of the wire's timing.

`wire_baud` (--wire) holds every reply until a real bus at that baud could have delivered it: the instruction's
wire time, then each replying servo's return delay, then the replies' wire time (bytes x 10 / baud). Without it the
pty answers as fast as this process can, which measures the host's own overhead. A delay fault (--delay P
--delay-ms MS) holds an answer MS longer; the server reads nothing else meanwhile, so answers stay in order.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import pty
import select
import signal
import sys
import threading
import time
import tty

from .arms import load_arm
from .errors import ServoConfigError
from .virtual_bus import Faults, VirtualBus


class PtyServer:
    """A VirtualBus on a new pty, served by a background thread. `port` is what a host gives pyserial. Fault
    controls on `bus` may be called from other threads between transactions: use `with server.lock:`."""

    def __init__(self, bus: VirtualBus, wire_baud: int | None = None, clock=time.monotonic):
        self.bus = bus
        self.clock = clock  # the bus's time (a simulation's clock in lockstep); wire timing stays real time
        self.wire_baud = wire_baud
        self.lock = threading.Lock()
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # before any byte is written: no echo, no line discipline, all 256 values pass
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False  # bytes taken off the pty and not yet answered
        self._counted = threading.Condition(threading.Lock())  # guards the byte counts (lockstep.LockstepPeer)
        self._answered_bytes = 0  # bytes read, handled and answered (every reply to them written)
        self._written_bytes = 0  # reply bytes written

    def start(self) -> "PtyServer":
        self._thread = threading.Thread(target=self.serve_forever, name="vla-lite-servo-bus", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        master, stop = self._master, self._stop
        while not stop.is_set():
            if not select.select([master], [], [], 0.05)[0]:
                continue
            self._busy = True  # before the read: settle() never sees the bytes neither queued nor handled
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            t_rx = time.monotonic()
            with self.lock:
                reply = self.bus.handle(data, self.clock())
                hold_s = self.bus.take_hold_s()
            if reply:
                if self.wire_baud or hold_s:
                    self._hold_until(t_rx + (self._wire_s(data, reply) if self.wire_baud else 0.0) + hold_s)
                try:
                    _write_all(master, reply)
                except OSError:
                    return
            with self._counted:
                self._answered_bytes += len(data)
                self._written_bytes += len(reply)
                self._busy = False
                self._counted.notify_all()

    def settle(self, timeout_s: float = 1.0) -> bool:
        """Wait until every byte a host has written so far is handled (lockstep: the goals a host sent reach the
        servos before the simulation steps). False if that took longer than timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.lock:
                if not self._busy and not select.select([self._master], [], [], 0)[0]:
                    return True
            if time.monotonic() > deadline or self._thread is None or not self._thread.is_alive():
                return False
            time.sleep(0.0002)

    def byte_counts(self) -> tuple[int, int]:
        """(bytes read and answered, reply bytes written) so far (lockstep.LockstepPeer)."""
        with self._counted:
            return self._answered_bytes, self._written_bytes

    def wait_answered(self, sent_bytes: int, timeout_s: float) -> int | None:
        """Block until `sent_bytes` bytes in all were read and answered; then the reply bytes written in all, or
        None after timeout_s of real time (lockstep.LockstepPeer)."""
        with self._counted:
            if self._counted.wait_for(lambda: self._answered_bytes >= sent_bytes, timeout_s):
                return self._written_bytes
        return None

    def _wire_s(self, request: bytes, reply: bytes) -> float:
        n_replies = max(1, reply.count(self.bus.codec.HEADER))
        return (len(request) + len(reply)) * 10 / self.wire_baud + n_replies * self.bus.profile.return_delay_us * 1e-6

    @staticmethod
    def _hold_until(due_s: float) -> None:
        remaining = due_s - time.monotonic()
        if remaining > 0.0005:
            time.sleep(remaining - 0.0003)  # sleep the bulk, spin the last fraction of a millisecond
        while time.monotonic() < due_s:
            pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    def close(self) -> None:
        self.stop()
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "PtyServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def serve_pty(arm: str, faults: Faults | None = None, wire_baud: int | None = None) -> PtyServer:
    """A started PtyServer for a built-in arm name or profile file."""
    return PtyServer(VirtualBus(load_arm(arm), faults, now_s=time.monotonic()), wire_baud).start()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vla_lite.firmware_bridge.servo.serve",
                                     description="serve a virtual Feetech/Dynamixel servo bus on a new pty")
    parser.add_argument("--arm", default="so101", help="so100, so101, koch or a profile JSON file (default so101)")
    parser.add_argument("--link", metavar="PATH", help="keep a symlink at PATH to the pty while serving")
    parser.add_argument("--wire", action="store_true", help="deliver replies no sooner than the arm's baud allows")
    parser.add_argument("--drop", type=float, default=0.0, metavar="P", help="probability a reply is not sent")
    parser.add_argument("--corrupt", type=float, default=0.0, metavar="P", help="probability a reply's checksum is bad")
    parser.add_argument("--stray", type=float, default=0.0, metavar="P", help="probability of garbage before a reply")
    parser.add_argument("--delay", type=float, default=0.0, metavar="P", help="probability a reply leaves late")
    parser.add_argument("--delay-ms", type=float, default=20.0, metavar="MS", help="how late (default 20 ms)")
    parser.add_argument("--seed", type=int, default=None, help="fault generator seed (repeatable faults)")
    parser.add_argument("--fault-ids", type=int, nargs="+", metavar="ID",
                        help="--drop/--corrupt/--stray/--delay hit only these servos (default: all)")
    for flag, what in (("--vanish", "never answers"), ("--overload", "reports overload"),
                       ("--overheat", "reports 80 °C"), ("--duplicate", "has a twin with the same ID")):
        parser.add_argument(flag, type=int, action="append", default=[], metavar="ID", help=f"servo ID that {what}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        profile = load_arm(args.arm)
        fault_ids = None if args.fault_ids is None else frozenset(args.fault_ids)
        faults = Faults(args.drop, args.corrupt, args.stray, args.seed, fault_ids, args.delay, args.delay_ms / 1e3)
        bus = VirtualBus(profile, faults, now_s=time.monotonic())
        for servo_id in args.vanish:
            bus.vanish(servo_id)
        for servo_id in args.overload:
            bus.set_overload(servo_id)
        for servo_id in args.overheat:
            bus.set_temperature(servo_id, 80)
        for servo_id in args.duplicate:
            bus.add_duplicate(servo_id, time.monotonic())
    except (ServoConfigError, ValueError, KeyError) as exc:
        print(f"servo.serve: {exc}", file=sys.stderr)
        return 2
    server = PtyServer(bus, profile.baudrate if args.wire else None)
    try:
        _link(args.link, server.port)
    except OSError as exc:
        print(f"servo.serve: --link {args.link}: {exc}", file=sys.stderr)
        server.close()
        return 2
    print(server.port, flush=True)
    print(f"virtual {profile.name} bus: {profile.family.value}, IDs {list(profile.ids)}, "
          f"{profile.baudrate} baud{' (wire-timed)' if args.wire else ''}", file=sys.stderr, flush=True)
    with _stop_on_signals(server):
        server.serve_forever()
    server.close()
    if args.link:
        with contextlib.suppress(OSError):
            os.unlink(args.link)
    print("report " + json.dumps(bus.report()), file=sys.stderr, flush=True)  # last stderr line
    return 0


def _link(path: str | None, target: str) -> None:
    """A symlink at path to the pty (a stale symlink there is replaced; any other file is refused)."""
    if not path:
        return
    if os.path.lexists(path):
        if not os.path.islink(path):
            raise FileExistsError(f"{path} exists and is not a symlink")
        os.unlink(path)
    os.symlink(target, path)


@contextlib.contextmanager
def _stop_on_signals(server: PtyServer):
    """SIGINT/SIGTERM end serve_forever; start-up objects leave the garbage collector (no long pauses later)."""
    gc.collect()
    gc.freeze()
    previous = {s: signal.signal(s, lambda signum, frame: server.stop()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

if __name__ == "__main__":
    sys.exit(main())
