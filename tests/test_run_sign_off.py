"""A `vla-lite run` that ends cleanly signs off (issue 16): a HELLO disarms the controller's watchdog before the port
closes, so the silence after it latches nothing and the next run, or doctor, finds the controller unfaulted without
--clear-faults. Over a real pty to `vla-lite sim-arm --arm tabletop` (the shipped virtual controller, its own
process), driven by the bundled demo model with a rendered camera, as the README's no-arm path does."""

import json
import os
import select
import signal
import subprocess
import sys
import time

from sim_arm_cli import sim_arm

from vla_lite.cli import main

WATCHDOG_MS = 1000  # long enough that a loaded test machine's stalls do not trip it while the run is going
RUN = ["--camera", "sim", "--instruction", "touch the red block"]


def _run(port: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vla_lite", "run", "--port", port, *RUN, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_words(stream, words: str, timeout_s: float = 120.0) -> str:
    """What the stream said until it said `words` (read unbuffered from its descriptor: a text reader's buffer
    would hide lines from select); fails the test on timeout or end of stream."""
    said, deadline = b"", time.monotonic() + timeout_s
    while words.encode() not in said:
        assert time.monotonic() < deadline, f"nothing said {words!r} in {timeout_s:g} s: {said.decode()!r}"
        if select.select([stream], [], [], 0.5)[0]:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, f"the run ended before saying {words!r}: {said.decode()!r}"
            said += chunk
    return said.decode()


def _doctor_after_silence(port: str, capsys) -> tuple[int, list[str]]:
    """(exit status, faults latched) of doctor without --clear-faults, once the watchdog would have tripped twice
    over."""
    time.sleep(2 * WATCHDOG_MS / 1000)
    code = main(["doctor", "--port", port, "--json", "--count", "5"])
    return code, json.loads(capsys.readouterr().out)["faults"]


def test_a_run_ended_by_its_duration_or_by_sigint_leaves_the_controller_unfaulted(tmp_path, capsys):
    with sim_arm("--arm", "tabletop", "--watchdog-ms", str(WATCHDOG_MS)) as port:
        first = _run(port, "--duration", "2", "--report", str(tmp_path / "first.json"))
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0 and "Traceback" not in err, err[-3000:]
        assert json.loads((tmp_path / "first.json").read_text())["link"]["commands_acked"] > 10
        assert _doctor_after_silence(port, capsys) == (0, [])

        second = _run(port, "--report", str(tmp_path / "second.json"))  # no --duration: stopped by Ctrl-C
        try:
            said = _wait_for_words(second.stderr, "gc frozen")  # the last note before the loop starts
            time.sleep(2.0)
            second.send_signal(signal.SIGINT)
            out, err = second.communicate(timeout=60)
        finally:
            if second.poll() is None:
                second.kill()
        said += err
        assert second.returncode == 0 and "Traceback" not in said, said[-3000:]
        assert "controller reports faults" not in said  # the first run left nothing latched
        report = json.loads((tmp_path / "second.json").read_text())
        assert report["faults"] == {} and report["link"]["commands_acked"] > 10, report["faults"]
        assert _doctor_after_silence(port, capsys) == (0, [])
