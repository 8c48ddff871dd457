"""clock_bounds: when a controller took a STATE, in the host's clock, from its time stamp and the round trips.
Numbers only: the host's clock runs 100 s ahead of the controller's (offset 100 s) unless a test says otherwise."""

import math

import pytest

from vla_lite.firmware_bridge.clock_bounds import ClockBounds

OFFSET_S = 100.0


def us(t_s: float) -> int:
    return round(t_s * 1e6)


def test_nothing_answered_yet_means_the_age_of_a_state_is_unknown():
    b = ClockBounds()
    b.received(us(1.0), 101.0001)
    assert b.taken_after_s(us(1.0)) == -math.inf
    b.answered(100.9, us(1.0))
    b.reset()  # a new handshake: the controller's clock may have restarted
    assert b.taken_after_s(us(1.0)) == -math.inf


def test_a_state_that_sat_in_a_buffer_is_dated_by_its_stamp_not_its_arrival():
    b = ClockBounds(drift_per_s=0.0)
    b.answered(100.5, us(0.5002))  # a COMMAND sent at host 100.5, taken by the controller 0.2 ms later
    b.received(us(0.5002), 100.5004)
    # A HEARTBEAT's answer, taken at controller 0.6 s (host 100.6), read only at host 101.0.
    b.received(us(0.6), 101.0)
    taken = b.taken_after_s(us(0.6))
    assert 100.6 - 0.0002 - 1e-9 <= taken <= 100.6  # early by at most the command's trip to the controller


def test_a_hello_answered_after_a_retry_errs_late_by_at_most_the_fastest_return_trip_then_gives_way():
    b = ClockBounds(drift_per_s=0.0)
    # HELLO_ACK + STATE answered the HELLO of host 100.1 (taken 100.1001), but a retry went out at 100.2 first.
    b.received(us(0.1001), 100.2003)
    b.answered(100.2, us(0.1001), provisional=True)
    assert b.taken_after_s(us(0.1001)) == pytest.approx(100.2, abs=1e-9)  # late by < its return trip (0.1002 s)
    b.received(us(0.3), 100.3001)  # a quick return trip tightens the upper bound: 0.1 ms
    assert b.taken_after_s(us(0.1001)) == pytest.approx(100.1001 + 0.0001, abs=1e-9)
    b.answered(100.4, us(0.4001))  # the first echoed COMMAND replaces the provisional lower bound
    assert b.taken_after_s(us(0.1001)) == pytest.approx(100.1001 - 0.0001, abs=1e-9)
    b.answered(100.5, us(0.5009))  # a slower trip does not loosen it: the best sure sample is kept
    assert b.taken_after_s(us(0.5)) == pytest.approx(100.5 - 0.0001, abs=1e-9)


@pytest.mark.parametrize("drift", [+5e-4, -5e-4])
def test_between_samples_the_bounds_widen_for_clocks_that_drift_apart(drift):
    """The controller's clock runs (1 + drift) as fast as the host's: states taken 60 s after the last sample are
    still dated no later than they were taken."""
    b = ClockBounds(drift_per_s=1e-3)
    for k in range(10):  # echoes every 20 ms, each 0.1 ms on its way to the controller
        t_host = 100.0 + 0.02 * k
        t_ctrl = (t_host + 1e-4 - OFFSET_S) * (1 + drift)
        b.answered(t_host, us(t_ctrl))
        b.received(us(t_ctrl), t_host + 2e-4)
    later_host = 160.0
    later_ctrl = (later_host - OFFSET_S) * (1 + drift)
    taken = b.taken_after_s(us(later_ctrl))
    assert taken <= later_host and later_host - taken < 0.1
