"""`python -m vla_lite.firmware_bridge.servo.serve --arm ...` in its own process, as users run it: it prints a pty
path that vla-lite's bus driver can use, injects the faults its flags ask for, and refuses bad flags by name."""

import re
import subprocess
import sys

import pytest

from vla_lite.firmware_bridge.servo import BusConfig, ServoBus, load_arm


def start(*args):
    proc = subprocess.Popen([sys.executable, "-m", "vla_lite.firmware_bridge.servo.serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = proc.stdout.readline().strip()
    if not port:
        proc.kill()
        raise AssertionError(f"no port printed: {proc.stderr.read()}")
    return proc, port


@pytest.mark.parametrize("arm", ["so101", "koch"])
def test_served_bus_answers_in_another_process(arm):
    proc, port = start("--arm", arm, "--vanish", "2")
    try:
        with ServoBus.open(port, load_arm(arm), BusConfig(latency_s=0.02, budget_s=0.2)) as bus:
            reading = bus.read_positions()
            assert reading.fresh.tolist() == [True, False, True, True, True, True]
            assert bus.ping(1) == load_arm(arm).servos[0].model.number
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0  # SIGTERM ends it cleanly


def test_wire_timed_bus_still_answers():
    proc, port = start("--arm", "so101", "--wire")
    try:
        with ServoBus.open(port, load_arm("so101"), BusConfig(latency_s=0.02, budget_s=0.2)) as bus:
            assert bus.read_positions().all_fresh
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@pytest.mark.parametrize("args, message", [(["--arm", "so102"], "neither a built-in arm"),
                                           (["--drop", "1.5"], "drop_rate must be a probability in \\[0, 1\\], got 1.5"),
                                           (["--vanish", "9"], "no virtual servo with ID 9")])
def test_bad_flags_are_refused_by_name(args, message):
    done = subprocess.run([sys.executable, "-m", "vla_lite.firmware_bridge.servo.serve", *args],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert re.search(message, done.stderr), done.stderr
