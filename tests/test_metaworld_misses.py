"""vla_lite.worlds.metaworld.misses (what benchmarks/metaworld_misses.py reports): the closest approach it
measures is Meta-World's own success measure (the scripted expert gets within reach's 5 cm and peg-insert's 7 cm;
a policy that holds still never does), and a push that never touched its puck is counted as one."""

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("metaworld") is None,
                                reason="Meta-World is not installed (CI installs it)")


@pytest.fixture
def misses():
    from vla_lite.worlds.metaworld import misses

    return misses


def test_the_expert_reaches_within_the_success_radius_and_holding_still_misses(misses):
    expert = misses.run_task(lambda obs, env: env.expert_ee_delta(), "reach-v3", 2, 1_000_000, 64, ("front",))
    assert [r["outcome"] for r in expert] == ["success", "success"]
    assert all(r["closest_m"] <= 0.05 for r in expert)  # Meta-World's reach success: tcp within 5 cm of the goal
    peg = misses.run_task(lambda obs, env: env.expert_ee_delta(), "peg-insert-side-v3", 1, 1_000_000, 64, ("front",))
    assert peg[0]["outcome"] == "success" and peg[0]["closest_m"] <= 0.07  # its peg head within 7 cm of the hole
    still = misses.run_task(lambda obs, env: np.zeros(4), "reach-v3", 1, 1_000_000, 64, ("front",))[0]
    assert still["outcome"] == "timeout" and still["closest_m"] > 0.05
    gap = np.array(still["goal_xyz_m"]) - np.array(still["closest_xyz_m"])
    assert np.allclose(gap, still["error_xyz_m"], atol=2e-4) and np.isclose(np.linalg.norm(gap), still["closest_m"],
                                                                            atol=2e-4)


def test_a_push_that_never_touched_the_puck_counts_as_object_still(misses):
    rows = misses.run_task(lambda obs, env: np.zeros(4), "push-v3", 1, 1_000_000, 64, ("front",))
    assert rows[0]["outcome"] == "timeout" and rows[0]["object_moved_m"] < 0.01
    s = misses.summary(rows + [dict(rows[0], outcome="success")])["push-v3"]
    assert s["episodes"] == 2 and s["successes"] == 1 and s["misses_object_still"] == 1
    assert s["misses_median_closest_m"] == rows[0]["closest_m"]
