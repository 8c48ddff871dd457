"""`vla-lite sim-arm` as a subprocess, as a user starts it: the first stdout line is the port to open."""

import contextlib
import select
import signal
import subprocess
import sys

import pytest


def start_sim_arm(*args):
    """(process, port) of a `vla-lite sim-arm` started with args; fails the test when it prints nothing."""
    proc = subprocess.Popen([sys.executable, "-m", "vla_lite", "sim-arm", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ready = select.select([proc.stdout], [], [], 30.0)[0]
    if not ready:
        proc.kill()
        pytest.fail("vla-lite sim-arm printed nothing in 30 s")
    return proc, proc.stdout.readline().strip()


def stop_sim_arm(proc, sig=signal.SIGTERM) -> tuple[int, str]:
    """Signal it and wait: (exit status, stderr)."""
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err


@contextlib.contextmanager
def sim_arm(*args):
    """The port of a `vla-lite sim-arm` running for the block; stopped with SIGTERM after it."""
    proc, port = start_sim_arm(*args)
    try:
        yield port
    finally:
        stop_sim_arm(proc)
