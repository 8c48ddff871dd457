"""Instruction sources: stdin lines, a loopback socket and a FIFO all reach the inbox, encoded off the control
thread; bad lines are refused with a reply and never kill the source."""

import io
import os
import socket
import time

import numpy as np
import pytest

from vla_lite.instructions import FifoSource, InstructionInbox, SocketSource, StreamSource


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


def test_stream_source_posts_each_line():
    inbox = InstructionInbox(CountingEncoder())
    events = []
    src = StreamSource(inbox, io.StringIO("touch the red block\n\ntouch the green block\n"), on_event=events.append)
    src.start()
    src._thread.join(2)
    assert inbox.take()[0] == "touch the green block"
    assert any("touch the red block" in e for e in events)


def test_socket_source_binds_loopback_replies_and_survives_bad_lines():
    inbox = InstructionInbox(CountingEncoder())
    src = SocketSource(inbox).start()
    try:
        host, port = src.address
        assert host == "127.0.0.1"
        with socket.create_connection((host, port), timeout=5) as conn:
            f = conn.makefile("rw", encoding="utf-8")
            for line, want in (("touch the red block", "ok touch the red block"), ("", "error: empty"),
                               ("please explode", "error: encoder failed"), ("x" * 2000, "error: instruction longer"),
                               ("tap the blue cube", "ok tap the blue cube")):
                f.write(line + "\n")
                f.flush()
                assert f.readline().startswith(want)
        assert _wait_for(inbox)[0] == "tap the blue cube"
    finally:
        src.close()


def test_fifo_source_reads_lines_written_by_another_program(tmp_path):
    path = str(tmp_path / "instructions")
    inbox = InstructionInbox(CountingEncoder())
    src = FifoSource(inbox, path).start()
    try:
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, b"touch the yellow block\n")
        os.close(fd)
        assert _wait_for(inbox)[0] == "touch the yellow block"
    finally:
        src.close()
    regular = tmp_path / "notes.txt"
    regular.write_text("x")
    with pytest.raises(ValueError, match="not a FIFO"):
        FifoSource(inbox, str(regular))
