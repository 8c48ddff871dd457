"""`vla-lite run --port sim` with its instruction socket under attack, over loopback, all at once: a 100 MiB line
with no newline, 200 idle clients and a client trickling a byte a second. A real instruction sent meanwhile from
another client is answered and applied within about a second, and the run is not hurt: no overruns, no hold, no
controller fault (the old one-client-at-a-time server read the whole line first: the loop stalled into the
controller's WATCHDOG and the arm held for the rest of the run)."""

import json
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from vla_lite.models import DEMO_BUNDLE
from vla_lite.recording import list_episodes, read_episode

pytestmark = pytest.mark.skipif(not DEMO_BUNDLE.exists(), reason=f"no demo bundle at {DEMO_BUNDLE}")

FLOOD_BYTES = 100 * 2**20
INSTRUCTION = "touch the blue block"


def _flood(addr, sent: list, stop: threading.Event) -> None:
    chunk = b"f" * 2**20
    with socket.create_connection(addr, timeout=30) as s:
        while sent[0] < FLOOD_BYTES and not stop.is_set():
            s.sendall(chunk)
            sent[0] += len(chunk)
        stop.wait(30)  # keep the connection open (no newline ever) until the test is done


def _trickle(addr, stop: threading.Event) -> None:
    with socket.create_connection(addr, timeout=30) as s:
        while not stop.wait(1.0):
            s.sendall(b"t")


def _applied_at(record_dir, text):
    """The recorder's clock (time.monotonic, shared by processes on Linux) at the first tick that ran `text`."""
    for path in list_episodes(record_dir, include_partial=True):
        ep = read_episode(path)
        if text in ep.instructions:
            first = ep.instruction_steps[ep.instructions.index(text)]
            return float(ep.ticks["t_s"][np.flatnonzero(ep.ticks["step"] == first)[0]])
    return None


def test_a_flooded_instruction_socket_neither_delays_instructions_nor_hurts_the_loop(tmp_path):
    report, record = tmp_path / "r.json", tmp_path / "rec"
    proc = subprocess.Popen([sys.executable, "-m", "vla_lite", "run", "--port", "sim", "--duration", "14",
                             "--instruction-socket", "0", "--report", str(report), "--record", str(record),
                             "--episode-timeout", "60", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop, clients, sent, threads = threading.Event(), [], [0], []
    try:
        addr = None
        for line in proc.stderr:
            m = re.search(r"instructions accepted on ([\d.]+):(\d+)", line)
            if m:
                addr = (m.group(1), int(m.group(2)))
                break
        assert addr, "the run never said where it accepts instructions"
        time.sleep(3.0)  # the loop is running by now
        threads = [threading.Thread(target=_flood, args=(addr, sent, stop), daemon=True),
                   threading.Thread(target=_trickle, args=(addr, stop), daemon=True)]
        for t in threads:
            t.start()
        clients = [socket.create_connection(addr, timeout=10) for _ in range(200)]
        deadline = time.monotonic() + 20
        while sent[0] < 20 * 2**20 and time.monotonic() < deadline:  # well into the 100 MiB line
            time.sleep(0.01)
        with socket.create_connection(addr, timeout=10) as conn:
            t_sent = time.monotonic()
            conn.sendall(INSTRUCTION.encode() + b"\n")
            reply = conn.makefile("rb").readline().decode()
            reply_s = time.monotonic() - t_sent
        flooded_during_reply = sent[0] < FLOOD_BYTES
        out, err = proc.communicate(timeout=60)
    finally:
        stop.set()
        for c in clients:
            c.close()
        proc.kill()
    assert reply == f"ok {INSTRUCTION}\n" and reply_s < 1.0, (reply, reply_s)
    assert sent[0] >= FLOOD_BYTES or flooded_during_reply
    assert proc.returncode == 0, err
    r = json.loads(report.read_text())
    applied = _applied_at(record, INSTRUCTION)
    assert applied is not None and applied - t_sent < 1.0, (applied, t_sent)
    # The old server stalled the loop 67-84 ms into WATCHDOG and hundreds of held ticks. On a shared machine (load
    # from other work) a tick can start late now and then with or without a flood: 1 % of ticks is allowed.
    seen = {k: r[k] for k in ("ticks", "overruns", "skipped", "jitter_ms", "holds", "faults")}
    assert r["ticks"] > 0.9 * 14 * r["rate_hz"] and r["overruns"] <= r["ticks"] // 100, seen
    assert r["jitter_ms"]["max"] < 2e3 / r["rate_hz"], seen  # never two periods late
    assert not any("WATCHDOG" in k or "controller fault" in k for k in {**r["holds"], **r["faults"]}), r
    assert r["link"]["commands_lost"] == 0
