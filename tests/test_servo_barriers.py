"""The barrier bookkeeping behind the servo bus's resync (firmware_bridge/servo/barriers.py): a reply to an older,
unanswered barrier is never taken for the current one's, and a barrier's reply settles every older barrier."""

from hypothesis import given, settings, strategies as st

from vla_lite.firmware_bridge.servo.barriers import BARRIER_LENS, MAX_OUTSTANDING, Barriers

IDS = (1, 2, 3, 4, 5, 6)


def test_an_older_barriers_reply_does_not_clear_the_line():
    b = Barriers(IDS)
    old = b.next(3, IDS)  # sent, no answer in its window
    b.unanswered()
    current = b.next(3, IDS)
    assert current != old and current[0] == 3 and current[1] in BARRIER_LENS  # same servo: another length
    assert b.answer(old) is False and b.outstanding == [current]  # the old one settled; still waiting
    assert b.answer(current) is True and not b.waiting
    assert b.answer(current) is None  # a duplicate is nobody's


def test_the_latest_reply_settles_every_older_barrier():
    b = Barriers(IDS)
    pairs = []
    for _ in range(5):
        pairs.append(b.next(None, IDS))
        b.unanswered()
    assert len(set(pairs)) == 5 and [p[0] for p in pairs] == [1, 2, 3, 4, 5]  # the arm's servos in turn
    assert b.answer(pairs[-1]) is True and b.outstanding == []
    assert all(b.answer(p) is None for p in pairs[:-1])  # their replies were lost (replies come in order)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, *IDS]), st.booleans()), min_size=1, max_size=80))
def test_outstanding_pairs_stay_unique(steps):
    b = Barriers(IDS)
    for preferred, answered in steps:
        pair = b.next(preferred, IDS)
        assert pair is not None and len(set(b.outstanding)) == len(b.outstanding) <= MAX_OUTSTANDING
        if answered:
            assert b.answer(pair) is True and not b.waiting
        else:
            b.unanswered()
