"""The servo bus in lockstep (firmware_bridge/servo/lockstep.py): against an in-process virtual bus served in
simulated time, the host keeps the far end's pace instead of the wire's. Goals are in the servos when a sync write
returns, a dropped reply is known lost as soon as the far end has answered (no wait for the liveness timeout),
health polls follow the simulated clock, and a stuck far end is a link error that stays one.

Timeouts here bound liveness only; nothing asserts a duration."""

import time

import numpy as np
import pytest

from vla_lite.evaluate import SimClock
from vla_lite.firmware_bridge.servo import BusConfig, ServoBus, ServoLinkError, load_arm
from vla_lite.firmware_bridge.servo.lockstep import LockstepPeer
from vla_lite.firmware_bridge.servo.serve import PtyServer
from vla_lite.firmware_bridge.servo.virtual_bus import Faults, VirtualBus

LIVENESS_S = 30.0  # a window that waited for it would show at once


def serve(faults=None, clock=None, **config):
    profile, clock = load_arm("so101"), clock or SimClock()
    server = PtyServer(VirtualBus(profile, faults, now_s=clock()), clock=clock).start()
    config = BusConfig(**{"lockstep_timeout_s": LIVENESS_S, **config})
    return server, ServoBus.open(server.port, profile, config, lockstep=server)


def goals(server):
    with server.lock:
        return [s.get("Goal_Position") for s in server.bus.servos]


def test_the_pty_server_is_a_lockstep_peer_and_a_sync_write_returns_with_its_goals_in_the_servos():
    server, bus = serve()
    with server, bus:
        assert isinstance(server, LockstepPeer)
        for k in range(20):  # no settle(), no sleep: the write is complete when the far end has handled it
            target = [2048 + 10 * k + i for i in range(6)]
            assert bus.write_goals(target)
            assert goals(server) == target
        answered, written = server.byte_counts()
        assert answered > 0 and written == 0  # sync writes get no reply


def test_a_dropped_reply_is_lost_at_once_and_counted_the_others_fresh():
    server, bus = serve(Faults(drop_rate=1.0, ids=frozenset({3})))
    with server, bus:
        t0 = time.monotonic()
        for _ in range(5):
            reading = bus.read_positions()
            assert reading.fresh.tolist() == [True, True, False, True, True, True]
        assert time.monotonic() - t0 < LIVENESS_S  # each window closed when the far end had answered
        s3 = bus.servo_stats(3)
        assert s3.timeouts == 5 * (1 + bus.config.max_retries) and s3.retries == 5 * bus.config.max_retries
        assert s3.stale_readings == 5 and bus.stats()["link"]["late_replies"] == 0


def test_faults_in_lockstep_repeat_exactly_with_their_seed():
    runs = []
    for _ in range(2):
        server, bus = serve(Faults(drop_rate=0.1, corrupt_rate=0.1, stray_rate=0.1, seed=7))
        with server, bus:
            fresh = [bus.read_positions().fresh.tolist() for _ in range(30)]
            runs.append((fresh, bus.stats()["servos"]))
    assert runs[0] == runs[1]
    assert sum(s["bad_checksums"] + s["timeouts"] for s in runs[0][1].values()) > 0


def test_health_polls_follow_the_simulated_clock():
    clock = SimClock(t0_s=1000.0)
    server, bus = serve(clock=clock, health_period_s=0.06)
    with server, bus:
        with server.lock:
            server.bus.set_temperature(4, 90)
        for _ in range(30):  # time stands still: no health poll is due, however long this takes
            bus.read_positions()
        assert bus.health.telemetry == {}
        for _ in range(6):  # one servo per 10 ms of simulated time
            clock.advance(0.011)
            bus.read_positions()
        assert sorted(bus.health.telemetry) == [1, 2, 3, 4, 5, 6]
        assert bus.health.conditions(4)
        assert bus.health.telemetry[4].at_s == pytest.approx(1000.0 + 4 * 0.011)  # stamped in simulated time


def test_a_stuck_far_end_is_a_link_error_that_stays_one():
    server, bus = serve(lockstep_timeout_s=0.2)
    with bus:
        assert bus.read_positions().all_fresh
        server.stop()  # the server thread ends: nothing answers any more
        with pytest.raises(ServoLinkError, match="stuck.*lockstep"):
            bus.read_positions()
        with pytest.raises(ServoLinkError, match="stuck"):  # the byte counts are lost: never trusted again
            bus.write_goals(np.full(6, 2048).tolist())
    server.close()
