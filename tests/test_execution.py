"""Action-chunk executors: delay counted in steps consumed, stale chunks dropped, no padding (None when empty),
replan cadence, refill threshold and blending, ACT ensemble weights, interpolation, clear() and in-flight results.

Chunk values encode where they came from: the action chunk(o)[i] (for step o + i) is 1000·o + (o + i) in every
dimension, so an action tells which observation it came from and which step it was meant for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vla_lite.execution import (Interpolated, RefillAtThreshold, ReplanEvery, TemporalEnsemble, make_executor)

D = 2


def chunk(obs_step: int, T: int) -> np.ndarray:
    return np.repeat((1000.0 * obs_step + obs_step + np.arange(T))[:, None], D, axis=1)  # (T, D)


def origin(action) -> tuple[int, int]:
    """(obs step, meant-for step) of an unblended action."""
    v = int(round(action[0]))
    return v // 1000, v % 1000


def run(ex, n_steps: int, T: int, delay: int = 0, make=chunk, ticks_per_step: int = 1):
    """Play the loop: at each step ask needs_inference (then on_request), deliver results that arrive now,
    then next_action. A result of a request at step s arrives at s + delay (delay 0: synchronous)."""
    actions, requests, pending = [], [], []
    for s in range(n_steps):
        if ex.needs_inference(s):
            ex.on_request(s)
            requests.append(s)
            pending.append((s + delay, s))
        for arrive, obs in [p for p in pending if p[0] == s]:
            pending.remove((arrive, obs))
            ex.submit(make(obs // ticks_per_step * ticks_per_step, T), obs)
        actions.append(ex.next_action(s))
    return actions, requests


# --- ReplanEvery ---------------------------------------------------------------------------------------------

def test_replan_every_k_synchronous_cadence():
    ex = ReplanEvery(3, chunk_length=8)
    actions, requests = run(ex, 12, T=8)
    assert requests == [0, 3, 6, 9]
    assert [origin(a) for a in actions] == [(s - s % 3, s) for s in range(12)]  # each chunk's first k actions
    assert ex.counters.submitted == 4 and ex.counters.skipped_for_delay == 0 and ex.counters.empty_steps == 0


def test_replan_every_k_asynchronous_keeps_the_old_chunk_and_skips_delayed_actions():
    ex = ReplanEvery(3, chunk_length=8)
    actions, requests = run(ex, 12, T=8, delay=2)
    assert requests == [0, 3, 6, 9]
    assert actions[0] is None and actions[1] is None  # nothing yet: hold, never zeros
    assert [origin(a) for a in actions[2:]] == [(0, 2), (0, 3), (0, 4), (3, 5), (3, 6), (3, 7), (6, 8), (6, 9),
                                                (6, 10), (9, 11)]
    c = ex.counters
    assert c.empty_steps == 2 and c.skipped_for_delay == 2 * 4 and c.requests == 4


def test_replan_returns_none_when_the_old_chunk_runs_out():
    ex = ReplanEvery(3, chunk_length=5)
    actions, requests = run(ex, 12, T=5, delay=3)  # 3 steps of delay leave 2 usable actions per chunk
    assert requests == [0, 4, 8]  # at step 3 the first request is still in flight
    assert [None if a is None else origin(a) for a in actions] == [
        None, None, None, (0, 3), (0, 4), None, None, (4, 7), (4, 8), None, None, (8, 11)]
    assert ex.counters.empty_steps == 7


def test_a_chunk_entirely_in_the_past_is_dropped_and_an_older_plan_never_replaces_a_newer():
    ex = ReplanEvery(2, chunk_length=4)
    ex.needs_inference(0)
    ex.on_request(0)
    for s in range(6):
        assert ex.next_action(s) is None
    ex.submit(chunk(0, 4), 0)  # steps 0..3 are all past at step 5
    assert ex.counters.dropped_stale == 1 and ex.next_action(6) is None
    ex.submit(chunk(5, 4), 5)
    ex.submit(chunk(4, 4), 4)  # arrives after a newer one: dropped
    assert origin(ex.next_action(7)) == (5, 7)
    assert ex.counters.dropped_stale == 2 and ex.counters.skipped_for_delay == 2  # chunk 5 skipped step 5, 6


def test_clear_discards_results_in_flight():
    ex = ReplanEvery(2, chunk_length=4)
    run(ex, 3, T=4)
    assert ex.needs_inference(4)
    ex.on_request(4)
    assert not ex.needs_inference(5)  # in flight
    ex.clear(5)
    assert ex.needs_inference(5)  # the request in flight no longer blocks
    ex.submit(chunk(4, 4), 4)  # the old instruction's result arrives: discarded
    assert ex.next_action(5) is None and ex.counters.discarded == 1
    ex.submit(chunk(5, 4), 5)  # step 5 was already handed out (None): the new chunk starts at step 6
    assert origin(ex.next_action(6)) == (5, 6)


def test_clear_without_a_step_discards_every_observation_seen_so_far():
    ex = RefillAtThreshold(chunk_length=4)
    ex.needs_inference(7)
    ex.on_request(7)
    ex.clear()
    ex.submit(chunk(7, 4), 7)
    assert ex.counters.discarded == 1 and ex.next_action(7) is None and ex.needs_inference(8)


def test_a_request_that_never_returns_is_given_up_after_chunk_length_steps():
    ex = ReplanEvery(2, chunk_length=4)
    ex.needs_inference(0)
    ex.on_request(0)
    assert [ex.needs_inference(s) for s in range(1, 5)] == [False, False, False, True]
    assert ex.counters.expired_requests == 1


# --- RefillAtThreshold ---------------------------------------------------------------------------------------

def test_refill_requests_when_the_queue_falls_to_the_threshold():
    ex = RefillAtThreshold(0.5, chunk_length=10)
    actions, requests = run(ex, 21, T=10)
    assert requests == [0, 5, 10, 15, 20]  # 5 left = 0.5·10
    assert [origin(a) for a in actions] == [(s - s % 5, s) for s in range(21)]  # the new chunk overrides
    ex = RefillAtThreshold(0.0, chunk_length=4)
    _, requests = run(ex, 9, T=4)
    assert requests == [0, 4, 8]  # threshold 0: only when empty


def test_refill_async_overrides_from_the_first_still_future_step():
    ex = RefillAtThreshold(0.5, chunk_length=10)
    actions, requests = run(ex, 14, T=10, delay=3)
    assert requests == [0, 5, 10]  # none while in flight
    assert [None if a is None else origin(a) for a in actions] == [None] * 3 + [
        (0, s) for s in range(3, 8)] + [(5, s) for s in range(8, 13)] + [(10, 13)]
    assert ex.counters.skipped_for_delay == 9


def test_refill_blend_weights_overlap_old_0_3_new_0_7():
    ex = RefillAtThreshold(0.5, blend=(0.3, 0.7), chunk_length=6)
    ex.needs_inference(0)
    ex.on_request(0)
    ex.submit(chunk(0, 6), 0)  # steps 0..5
    for s in range(4):
        ex.next_action(s)
    ex.needs_inference(4)
    ex.on_request(4)
    ex.submit(chunk(4, 6), 4)  # steps 4..9, overlap 4..5
    got = [ex.next_action(s)[0] for s in range(4, 10)]
    old, new = chunk(0, 6)[:, 0], chunk(4, 6)[:, 0]
    expected = [0.3 * old[4] + 0.7 * new[0], 0.3 * old[5] + 0.7 * new[1]] + list(new[2:])
    np.testing.assert_allclose(got, expected)
    assert ex.next_action(10) is None


@pytest.mark.parametrize("kwargs, message", [({"threshold": 1.5}, "threshold"), ({"blend": (0.5, 0.6)}, "sum to 1"),
                                             ({"blend": 0.3}, "blend must be None")])
def test_refill_validates(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RefillAtThreshold(**kwargs)


# --- TemporalEnsemble ----------------------------------------------------------------------------------------

def test_ensemble_weights_match_a_hand_computation_oldest_first():
    ex = TemporalEnsemble(coeff=0.5, chunk_length=3)
    actions, requests = run(ex, 4, T=3)
    assert requests == [0, 1, 2, 3]
    # step 2: predictions from obs 0 (chunk0[2] = 2), obs 1 (1001 + 1 = 1002), obs 2 (2002); oldest weight 1
    w = [1.0, math.exp(-0.5), math.exp(-1.0)]
    expected = (w[0] * 2 + w[1] * 1002 + w[2] * 2002) / sum(w)
    np.testing.assert_allclose(actions[2], [expected] * D)
    np.testing.assert_allclose(actions[0], [0.0] * D)  # one prediction: itself
    np.testing.assert_allclose(actions[1], [(1 + math.exp(-0.5) * 1001) / (1 + math.exp(-0.5))] * D)


def test_ensemble_orders_by_observation_not_arrival_and_bounds_memory():
    ex = TemporalEnsemble(coeff=50.0, chunk_length=4)  # a huge coefficient: the oldest prediction wins
    ex.needs_inference(1)
    ex.submit(chunk(1, 4), 1)
    ex.submit(chunk(0, 4), 0)  # late, but older
    assert origin(ex.next_action(1)) == (0, 1)
    for s in range(2, 200):
        ex.needs_inference(s)
        ex.submit(chunk(s, 4), s)
        ex.submit(chunk(s, 4), s)  # a duplicate result must not grow memory either
        ex.next_action(s)
        assert len(ex._predictions) <= 4 and all(len(p) <= 4 for p in ex._predictions.values())


def test_ensemble_never_pads_missing_steps():
    ex = TemporalEnsemble(chunk_length=2)
    actions, requests = run(ex, 6, T=2, delay=3)  # every chunk arrives entirely in the past
    assert requests == [0, 2, 4]  # a request in flight for chunk_length steps is given up
    assert all(a is None for a in actions)
    c = ex.counters
    assert c.dropped_stale == 2 and c.empty_steps == 6 and c.expired_requests == 2


# --- Interpolated --------------------------------------------------------------------------------------------

def test_interpolated_values_and_hold_at_the_end_without_extrapolation():
    ex = Interpolated(ReplanEvery(4, chunk_length=4), factor=4)
    linear = lambda obs, T: np.repeat((4.0 * np.arange(T))[:, None], D, axis=1)  # 0, 4, 8, 12
    actions, requests = run(ex, 17, T=4, make=linear)
    assert requests == [0, 16]  # only at policy-step boundaries, every k = 4 policy steps
    assert [a[0] for a in actions[:16]] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 12, 12]
    assert actions[16][0] == 0.0  # the new chunk


def test_interpolated_converts_delay_in_ticks_to_policy_steps():
    ex = Interpolated(ReplanEvery(2, chunk_length=4), factor=4)
    actions, requests = run(ex, 12, T=4, delay=6, ticks_per_step=4)  # obs at tick 0 arrives at tick 6
    assert requests == [0, 8]  # policy steps 0 and 2 (k = 2); the second arrives too late for this run
    assert all(a is None for a in actions[:8])  # policy steps 0 and 1 were over: skipped, held
    assert ex.counters.skipped_for_delay == 2
    assert [origin(a) for a in actions[8:12:4]] == [(0, 2)]
    np.testing.assert_allclose([a[0] for a in actions[8:12]], [2, 2.25, 2.5, 2.75])  # 2 -> 3 over 4 ticks


def test_interpolated_clear_maps_ticks_to_policy_steps():
    inner = ReplanEvery(2, chunk_length=4)
    ex = Interpolated(inner, factor=4)
    assert ex.needs_inference(4) and not ex.needs_inference(5)
    ex.on_request(4)  # policy step 1
    ex.clear(5)  # observations before tick 5, i.e. policy steps before 2, are discarded
    ex.submit(chunk(1, 4), 4)
    assert inner.counters.discarded == 1 and ex.next_action(5) is None
    with pytest.raises(ValueError, match="factor"):
        Interpolated(ReplanEvery(2), 0)


# --- shared rules and the factory ----------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: ReplanEvery(2, chunk_length=4), lambda: RefillAtThreshold(chunk_length=4),
                                  lambda: TemporalEnsemble(chunk_length=4)])
def test_every_executor_refuses_bad_chunks_and_steps(make):
    ex = make()
    ex.needs_inference(3)
    with pytest.raises(ValueError, match="expected chunk_length 4"):
        ex.submit(np.zeros((5, D)), 3)
    with pytest.raises(ValueError, match="non-finite"):
        ex.submit(np.full((4, D), np.nan), 3)
    with pytest.raises(ValueError, match="ahead of the latest step"):
        ex.submit(np.zeros((4, D)), 9)
    with pytest.raises(ValueError, match="step must be an integer >= 0"):
        ex.next_action(-1)
    ex.submit(np.ones((4, D)), 3)
    with pytest.raises(ValueError, match="action dim 3"):
        ex.submit(np.ones((4, 3)), 3)
    assert ex.next_action(3).tolist() == [1.0, 1.0]
    assert ex.next_action(7) is None and ex.counters.empty_steps == 1 and ex.counters.expired == 3
    ex.submit(np.ones((4, D)), 7)
    assert ex.counters.skipped_for_delay == 1  # step 7 was already handed out
    assert ex.next_action(11) is None and ex.counters.expired == 3 + 3  # steps 8..10 never asked for


def test_make_executor():
    ex = make_executor("replan", 8, 4)
    assert isinstance(ex, ReplanEvery) and ex.k == 4 and ex.chunk_length == 8
    ex = make_executor("refill", 8, 4, threshold=0.25, blend=(0.3, 0.7))
    assert isinstance(ex, RefillAtThreshold) and ex.threshold == 0.25 and ex.blend == (0.3, 0.7)
    ex = make_executor("ensemble", 8, 4, coeff=0.02, interpolate=3)
    assert isinstance(ex, Interpolated) and ex.factor == 3 and ex.inner.coeff == 0.02
    with pytest.raises(ValueError, match="kind 'act' is unknown"):
        make_executor("act", 8, 4)
    with pytest.raises(ValueError, match=r"got \['coeff'\]"):
        make_executor("replan", 8, 4, coeff=0.1)
    with pytest.raises(ValueError, match="exceeds chunk_length"):
        make_executor("replan", 4, 5)
