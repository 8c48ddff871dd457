"""Pacing logic with a fake clock: absolute deadlines, overruns counted and skipped (never a burst), warm-up
excluded, and the naive sleep(period - elapsed) baseline drifting where the Pacer does not."""

import pytest

from vla_lite.pacing import CycleStats, NaivePacer, Pacer, percentiles_ms


class FakeTime:
    """clock() and sleep() over a number; `work(s)` models the loop body taking time."""

    def __init__(self, oversleep_s: float = 0.0):
        self.t, self.oversleep_s = 100.0, oversleep_s
        self.sleeps = []

    def clock(self) -> float:
        self.t += 1e-7  # each read costs a little, so a spin loop terminates
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s + self.oversleep_s

    def work(self, s: float) -> None:
        self.t += s


def test_deadlines_are_absolute_so_late_wakeups_do_not_accumulate():
    ft = FakeTime(oversleep_s=0.0003)  # the OS wakes us 0.3 ms late every time; spin covers it
    pacer = Pacer(50, spin_s=0.0005, clock=ft.clock, sleep=ft.sleep)
    starts = []
    for _ in range(1000):
        pacer.wait()
        starts.append(ft.t)
        ft.work(0.004)
    # Tick k starts at t0 + k * 20 ms (+ the spin's read cost), whatever the oversleep: no drift after 1000 ticks.
    assert starts[-1] - starts[0] == pytest.approx(999 * 0.02, abs=1e-4)
    assert pacer.overruns == 0 and pacer.skipped == 0
    assert pacer.report()["jitter_ms"]["max"] < 0.01


def test_naive_pacer_drifts_by_its_work_and_wakeup_slack():
    ft = FakeTime(oversleep_s=0.0003)
    naive = NaivePacer(50, clock=ft.clock, sleep=ft.sleep)
    starts = []
    for _ in range(1000):
        naive.wait()
        starts.append(ft.t)
        ft.work(0.004)
    drift_s = starts[-1] - starts[0] - 999 * 0.02
    assert drift_s > 0.25  # 0.3 ms per tick adds up
    assert naive.report()["jitter_ms"]["max"] > 250  # measured against the absolute schedule, it shows


def test_an_overrun_is_counted_and_the_missed_deadlines_are_skipped_not_burst():
    ft = FakeTime()
    pacer = Pacer(100, spin_s=0.0, clock=ft.clock, sleep=ft.sleep)
    pacer.wait()
    for _ in range(5):
        pacer.wait()
        ft.work(0.001)
    ft.work(0.0355)  # a 35.5 ms stall: the next deadline is 26.5 ms behind, so two more pass unused
    before = ft.t
    pacer.wait()
    assert ft.t - before < 1e-5  # released at once (late), not after sleeping
    assert pacer.overruns == 1 and pacer.skipped == 2
    t_after_overrun = ft.t
    pacer.wait()  # the next tick is on the original grid, one period on: no burst of catch-up ticks
    assert 0.003 < ft.t - t_after_overrun <= 0.0101
    grid = (ft.t - pacer.t0_s) / pacer.period_s
    assert abs(grid - round(grid)) < 1e-3


def test_warmup_ticks_are_excluded_from_the_jitter_figures():
    ft = FakeTime()
    pacer = Pacer(10, spin_s=0.0, clock=ft.clock, sleep=ft.sleep)
    pacer.wait()
    ft.work(0.5)  # start-up work after the first tick (model warm-up, ...)
    pacer.wait()  # late, but still the warm-up
    for _ in range(10):
        pacer.wait()
    assert len(pacer.lateness_s) == 10 and max(pacer.lateness_s) < 1e-4


def test_cycle_stats_sections_and_warmup_exclusion():
    ft = FakeTime()
    stats = CycleStats(clock=ft.clock)
    for k in range(4):
        with stats.section("infer"):
            ft.work(0.010 if k == 0 else 0.002)
        with stats.section("send"):
            ft.work(0.0001)
        timing = stats.end_cycle()
    assert timing["infer"] == pytest.approx(2.0, abs=0.01)
    rep = stats.report()
    assert rep["infer"]["n"] == 3 and rep["infer"]["max"] == pytest.approx(2.0, abs=0.01)  # 10 ms warm-up gone
    assert rep["total"]["p50"] == pytest.approx(2.1, abs=0.01)


def test_bad_rates_are_refused_by_name():
    with pytest.raises(ValueError, match="rate"):
        Pacer(0)
    with pytest.raises(ValueError, match="spin_s"):
        Pacer(100, spin_s=0.02)
    assert percentiles_ms([]) == {"p50": None, "p99": None, "max": None, "n": 0}
