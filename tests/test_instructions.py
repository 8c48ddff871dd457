"""Instruction sources: stdin lines, a loopback socket and a FIFO all reach the inbox, encoded off the control
thread; bad lines are refused with a reply saying why and never kill the source; reads are bounded; the socket
serves many clients at once without one delaying another."""

import io
import os
import re
import socket
import time

import numpy as np
import pytest

from vla_lite.instructions import (MAX_LINE, TOO_LONG, FifoSource, InstructionInbox, LineSplitter, SocketSource,
                                   StreamSource)
from vla_lite.text.normalize import InstructionRefused, normalize_instruction


class CountingEncoder:
    def __init__(self):
        self.calls = []

    def __call__(self, text):
        self.calls.append(text)
        if "explode" in text:
            raise RuntimeError("encoder failed on purpose")
        return np.full(4, len(text), np.float32)


def _wait_for(inbox, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = inbox.take()
        if got is not None:
            return got
        time.sleep(0.005)
    raise AssertionError("no instruction arrived")


def test_inbox_normalises_whitespace_keeps_only_the_newest_and_refuses_empty():
    enc = CountingEncoder()
    inbox = InstructionInbox(enc)
    inbox.post("  touch   the red\tblock \n")
    inbox.post("touch the blue block")
    text, emb, source = inbox.take()
    assert text == "touch the blue block" and source == "api" and emb[0] == len(text)
    assert inbox.take() is None
    with pytest.raises(ValueError, match="empty"):
        inbox.post("   ")
    assert enc.calls == ["touch the red block", "touch the blue block"]


@pytest.mark.parametrize("text, why", [
    ("touch the \udcff\udcfe red block", "not UTF-8"),  # what Python makes of argv bytes 0xff 0xfe
    (b"touch the \xff\xfe red block", "byte 0xff at offset 10"),
    ("touch the \x1b[31m red block", "control character U+001B"),
    ("touch\x00the block", "control character U+0000"),
    ("x" * (MAX_LINE + 1), f"limit is {MAX_LINE} bytes"),
    ("é" * (MAX_LINE // 2 + 1), f"limit is {MAX_LINE} bytes"),  # the limit is in UTF-8 bytes
    ("", "empty"), (" \t ", "empty")])
def test_instruction_text_is_refused_with_the_reason(text, why):
    with pytest.raises(InstructionRefused, match=re.escape(why)):
        normalize_instruction(text)


def test_acceptable_text_passes_unchanged_apart_from_whitespace():
    assert normalize_instruction("touch the\tred  block\r\n") == "touch the red block"
    assert normalize_instruction("berühre den roten Würfel 🟥") == "berühre den roten Würfel 🟥"
    assert normalize_instruction("x" * MAX_LINE) == "x" * MAX_LINE


def test_line_splitter_refuses_a_long_line_once_without_buffering_it_and_resyncs():
    s = LineSplitter(8)
    assert s.feed(b"abc\r\nde") == [b"abc"]
    assert s.feed(b"fghijkl") == [TOO_LONG]  # "defghijkl" passed 8 bytes: said once, now
    for _ in range(100):
        assert s.feed(b"z" * 10_000) == []  # skipped, not kept
    assert len(s._buf) == 0
    assert s.feed(b"zz\nok\nlast") == [b"ok"]
    assert s.finish() == [b"last"] and s.finish() == []
    assert LineSplitter(3).feed(b"abc\nabcd\n\n") == [b"abc", TOO_LONG, b""]


def test_stream_source_posts_each_line_and_refuses_bad_ones():
    inbox = InstructionInbox(CountingEncoder())
    events = []
    data = b"touch the red block\n\xff\xfe bad\n" + b"y" * 100_000 + b"\ntouch the green block"
    src = StreamSource(inbox, io.BytesIO(data), on_event=events.append)
    src.clock = iter(range(0, 100, 2)).__next__  # each refusal two seconds apart: every one is logged
    src.start()
    src._thread.join(5)
    assert inbox.take()[0] == "touch the green block"  # the last line, unterminated, still counts
    assert any("'touch the red block'" in e for e in events)
    assert any("refused: not UTF-8" in e for e in events) and any("longer than" in e for e in events)
    assert src.refused == 2


def test_socket_source_binds_loopback_replies_and_survives_bad_lines():
    inbox = InstructionInbox(CountingEncoder())
    src = SocketSource(inbox).start()
    try:
        host, port = src.address
        assert host == "127.0.0.1"
        with socket.create_connection((host, port), timeout=5) as conn:
            f = conn.makefile("rwb")
            for line, want in ((b"touch the red block", b"ok touch the red block"),
                               (b"", b"refused: instruction is empty"),
                               (b"please explode", b"refused: the text encoder failed"),
                               (b"x" * 2000, b"refused: line longer than 1024 bytes"),
                               (b"\xff\xfe\x00garbage", b"refused: not UTF-8"),
                               (b"tap the \x07 cube", b"refused: control character U+0007"),
                               (b"tap the blue cube", b"ok tap the blue cube")):
                f.write(line + b"\n")
                f.flush()
                assert f.readline().startswith(want)
        assert _wait_for(inbox)[0] == "tap the blue cube"
    finally:
        src.close()


def test_socket_serves_a_client_while_others_idle_trickle_and_flood():
    inbox = InstructionInbox(CountingEncoder())
    src = SocketSource(inbox).start()
    addr = src.address
    idle = [socket.create_connection(addr, timeout=5) for _ in range(50)]
    trickle = socket.create_connection(addr, timeout=5)
    trickle.sendall(b"t")
    flood = socket.create_connection(addr, timeout=5)
    flood.setblocking(False)
    try:
        sent = 0
        for _ in range(200):  # 12 MiB without a newline, as fast as the server takes it
            try:
                sent += flood.send(b"f" * 65536)
            except BlockingIOError:
                time.sleep(0.001)
        assert sent > 1_000_000
        t0 = time.monotonic()
        with socket.create_connection(addr, timeout=5) as conn:
            conn.sendall(b"touch the blue block\n")
            assert conn.makefile("rb").readline() == b"ok touch the blue block\n"
        assert time.monotonic() - t0 < 1.0
        assert _wait_for(inbox)[0] == "touch the blue block"
        flood.setblocking(True)
        flood.settimeout(5)
        assert flood.makefile("rb").readline().startswith(b"refused: line longer than")
        deadline = time.monotonic() + 2  # the instruction client's goodbye is read on the server's next wake-up
        while src.clients != 52 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert src.clients == 52  # the idle, trickling and flooding clients are all still being served
    finally:
        for s in idle + [trickle, flood]:
            s.close()
        src.close()


def test_socket_closes_idle_clients_and_refuses_clients_past_the_limit():
    inbox = InstructionInbox(CountingEncoder())
    src = SocketSource(inbox, idle_timeout_s=0.3, max_clients=2).start()
    try:
        a = socket.create_connection(src.address, timeout=5)
        b = socket.create_connection(src.address, timeout=5)
        time.sleep(0.1)
        with socket.create_connection(src.address, timeout=5) as c:
            assert c.makefile("rb").readline().startswith(b"refused: 2 clients connected already")
        assert a.makefile("rb").readline() == b"refused: idle for more than 0.3 s; closing\n"
        assert a.recv(10) == b"" and b.makefile("rb").readline().startswith(b"refused: idle")
        a.close()
        b.close()
    finally:
        src.close()
    with pytest.raises(ValueError, match="TCP port 0-65535"):
        SocketSource(inbox, port=70000)


def test_fifo_source_reads_lines_written_by_another_program_and_removes_the_fifo_it_made(tmp_path):
    path = str(tmp_path / "instructions")
    inbox = InstructionInbox(CountingEncoder())
    events = []
    src = FifoSource(inbox, path, on_event=events.append).start()
    try:
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, b"z" * 5000 + b"\ntouch the yellow block\n")
        os.close(fd)
        assert _wait_for(inbox)[0] == "touch the yellow block"
        assert any("longer than 1024 bytes" in e for e in events)
    finally:
        src.close()
    assert not os.path.exists(path), "the FIFO that the source created is left behind"
    os.mkfifo(path)
    FifoSource(inbox, path).close()
    assert os.path.exists(path), "a FIFO the user made is theirs to remove"
    regular = tmp_path / "notes.txt"
    regular.write_text("x")
    with pytest.raises(ValueError, match="not a FIFO"):
        FifoSource(inbox, str(regular))
    with pytest.raises(ValueError, match="/nonexistent_dir does not exist"):
        FifoSource(inbox, "/nonexistent_dir/f")


def test_a_flood_of_bad_lines_is_answered_line_by_line_but_logged_at_a_bounded_rate():
    inbox = InstructionInbox(CountingEncoder())
    events = []
    src = SocketSource(inbox, on_event=events.append).start()
    try:
        with socket.create_connection(src.address, timeout=5) as conn:
            conn.sendall(b"\x00\n" * 1000 + b"touch the red block\n")
            replies = conn.makefile("rb")
            answers = [replies.readline() for _ in range(1001)]
        assert all(a.startswith(b"refused: control character U+0000") for a in answers[:1000])
        assert answers[1000] == b"ok touch the red block\n" and src.refused == 1000
        refusal_notes = [e for e in events if "refused" in e]
        assert 1 <= len(refusal_notes) <= 5, refusal_notes  # about one a second, not a thousand
    finally:
        src.close()
