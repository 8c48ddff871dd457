"""Meta-World MT50: the tasks as data (LeRobot's descriptions and difficulty groups, phrasings that each name one
task), the suites `vla-lite eval` and `vla-lite metaworld-demos` resolve with LeRobot's protocol as the default, and
a short MT50 evaluation through the runtime (bundle, onnxruntime, safety filter, the controller over a pty)
reporting per task and per difficulty group with Wilson intervals."""

import importlib.util
import json
import subprocess
import sys
from collections import Counter

import pytest

from vla_lite.evaluate import EpisodeResult, per_group, wilson_interval
from vla_lite.models import model_path
from vla_lite.ports import SCHEMES, suite_episodes, suite_port
from vla_lite.worlds.metaworld.tasks import (BORROWED_DESCRIPTION, LEROBOT_DESCRIPTIONS, MT10, MT50, MT50_GROUPS,
                                             SPLITS, task_group, task_instructions, task_of_instruction,
                                             tasks_named)

HAVE_MW = importlib.util.find_spec("metaworld") is not None
needs_mw = pytest.mark.skipif(not HAVE_MW, reason="Meta-World is not installed: pip install metaworld==3.1.1 "
                                                  "packaging (CI installs it)")
FRESH_SEED = 3_000_000  # past every seed training used (demonstrations 0.., DAgger 500,000.., calibration 800,000..)


def test_mt50_is_fifty_tasks_each_with_lerobots_description_and_mt10_among_them():
    assert len(MT50) == len(set(MT50)) == 50 and set(MT10) <= set(MT50)
    assert set(LEROBOT_DESCRIPTIONS) == set(MT50)
    assert LEROBOT_DESCRIPTIONS["stick-pull-v3"] == "Grasp a stick and pull a box with the stick"
    assert LEROBOT_DESCRIPTIONS["reach-v3"] == "Reach a goal position"  # MT10's entries as they were


@needs_mw
def test_mt50_names_the_tasks_as_metaworld_does():
    from vla_lite.worlds.metaworld.scene import import_metaworld

    import_metaworld()  # MUJOCO_GL (headless) is chosen before MuJoCo is first imported
    from metaworld.env_dict import MT50_V3

    assert MT50 == tuple(MT50_V3)


def test_lerobots_difficulty_groups_partition_mt50_28_11_6_5():
    assert {g: len(t) for g, t in MT50_GROUPS.items()} == {"easy": 28, "medium": 11, "hard": 6, "very_hard": 5}
    grouped = [t for tasks in MT50_GROUPS.values() for t in tasks]
    assert sorted(grouped) == sorted(MT50)  # every task in exactly one group
    assert task_group("push-back-v3") == "hard" and task_group("peg-unplug-side-v3") == "easy"
    with pytest.raises(ValueError, match="make-coffee-v3"):
        task_group("make-coffee-v3")


def test_no_phrasing_names_two_tasks_and_heldout_phrasings_are_never_trained_on():
    owner = Counter(t.lower() for task in MT50 for split in ("train", "heldout")
                    for t in task_instructions(task, split))
    assert [text for text, n in owner.items() if n > 1] == []
    train_all = {t.lower() for task in MT50 for t in task_instructions(task, "train")}
    for task in MT50:
        train, heldout = task_instructions(task, "train"), task_instructions(task, "heldout")
        assert 3 <= len(train) <= 5 and len(heldout) == 2, task
        assert not {h.lower() for h in heldout} & train_all, task
        for text in train + heldout:
            assert task_of_instruction(f" {text.upper()}  ") == task, text
    # LeRobot gives push-back-v3 push-v3's description: it stays push-v3's, push-back-v3 trains on its own.
    assert BORROWED_DESCRIPTION == {"push-back-v3"}
    assert LEROBOT_DESCRIPTIONS["push-back-v3"] == LEROBOT_DESCRIPTIONS["push-v3"]
    assert task_of_instruction("Push the puck to a goal") == "push-v3"
    assert LEROBOT_DESCRIPTIONS["push-v3"] not in task_instructions("push-back-v3", "train")
    assert all(task_instructions(t, "train")[0] == LEROBOT_DESCRIPTIONS[t] for t in MT50 if t != "push-back-v3")
    assert all(task_instructions(t, "paraphrase") == task_instructions(t, "heldout") for t in MT50)
    assert SPLITS == ("train", "paraphrase", "heldout")


def test_task_specs_and_suites_resolve_to_their_tasks_with_lerobots_protocol_as_default():
    assert tasks_named("mt50") == MT50 and tasks_named("MT10") == MT10
    assert tasks_named("mt50-very-hard") == tasks_named("mt50-very_hard") == MT50_GROUPS["very_hard"]
    assert tasks_named("reach-v3, sweep-v3") == ("reach-v3", "sweep-v3")
    with pytest.raises(ValueError, match="'impossible'.*easy"):
        tasks_named("mt50-impossible")
    with pytest.raises(ValueError, match="sweeping-v3"):
        tasks_named("reach-v3,sweeping-v3")
    assert suite_port("metaworld-mt50") == "metaworld:mt50"
    assert suite_port("metaworld-mt50-very-hard") == "metaworld:mt50-very-hard"
    assert suite_port("metaworld:faucet-open-v3,sweep-v3") == "metaworld:faucet-open-v3,sweep-v3"
    with pytest.raises(ValueError, match="metaworld-mt51"):
        suite_port("metaworld-mt51")
    # LeRobot's protocol: 10 placements per task, so 500 for MT50 and 10 x each group's tasks
    assert suite_episodes("metaworld-mt50") == 500
    assert [suite_episodes(f"metaworld-mt50-{g}") for g in ("easy", "medium", "hard", "very-hard")] == [280, 110, 60,
                                                                                                        50]
    assert suite_episodes("metaworld-mt10") == suite_episodes("tabletop") == 50  # unchanged
    for name, port in SCHEMES["metaworld"].suites.items():  # every suite names tasks the rig can build
        tasks = tasks_named(port.split(":", 1)[1])
        assert set(tasks) <= set(MT50), name
        if name in SCHEMES["metaworld"].suite_episodes:  # and states 10 episodes per task of it
            assert suite_episodes(name) == 10 * len(tasks), name


def test_results_are_grouped_by_difficulty_with_wilson_intervals_in_the_groups_order():
    def episode(task: str, outcome: str) -> EpisodeResult:
        return EpisodeResult(0, "", task, outcome, 500, 6.25)

    results = [episode("stick-pull-v3", "timeout"), episode("reach-v3", "success"), episode("reach-v3", "timeout"),
               episode("drawer-close-v3", "success"), episode("stick-pull-v3", "success")]
    groups = per_group(results, MT50_GROUPS)["per_group"]
    assert list(groups) == ["easy", "very_hard"]  # only groups with episodes, in LeRobot's order
    assert (groups["easy"]["successes"], groups["easy"]["episodes"]) == (2, 3)
    assert groups["easy"]["wilson95"] == [round(v, 4) for v in wilson_interval(2, 3)]
    assert (groups["very_hard"]["successes"], groups["very_hard"]["episodes"]) == (1, 2)
    assert per_group(results, {}) == {}


@needs_mw
def test_metaworld_demos_records_an_mt50_task_and_refuses_an_unknown_group(tmp_path):
    vla = [sys.executable, "-m", "vla_lite", "metaworld-demos"]
    out = subprocess.run(vla + ["--out", str(tmp_path / "d"), "--tasks", "faucet-open-v3", "--episodes", "1",
                                "--size", "32", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    assert summary["tasks"] == {"faucet-open-v3": {"episodes": 1, "successes": 1}}  # its hand goes below z 0.05
    bad = subprocess.run(vla + ["--out", str(tmp_path / "x"), "--tasks", "mt50-tricky"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "'tricky'" in bad.stderr and "very-hard" in bad.stderr, bad.stderr[-1000:]


@needs_mw
def test_an_mt50_evaluation_through_the_runtime_reports_each_task_and_group_with_wilson_intervals():
    from vla_lite.evaluate import evaluate

    # Two MT50 tasks of different groups, alternating by seed: drawer-close (easy, an MT10 task the shipped
    # student solves) and stick-pull (very hard, never trained on: it times out after 500 steps).
    r = evaluate(model_path("mt10-student-int8"), episodes=4, seed=FRESH_SEED,
                 suite="metaworld:drawer-close-v3,stick-pull-v3", precision="int8",
                 instruction_grounding=False)  # stick-pull's phrasings are not the bundle's
    assert r["seeds"] == [FRESH_SEED, FRESH_SEED + 3] and r["episodes"] == 4
    tasks, groups = r["per_target"], r["per_group"]
    assert {t: v["episodes"] for t, v in tasks.items()} == {"drawer-close-v3": 2, "stick-pull-v3": 2}
    assert tasks["drawer-close-v3"]["successes"] == 2 and tasks["stick-pull-v3"]["outcomes"]["timeout"] == 2
    assert list(groups) == ["easy", "very_hard"]
    assert groups["easy"]["successes"] == 2 and groups["very_hard"]["successes"] == 0
    assert groups["easy"]["wilson95"] == tasks["drawer-close-v3"]["wilson95"]
    lo, hi = groups["very_hard"]["wilson95"]
    assert lo == 0.0 and 0.5 < hi < 1.0  # 0 of 2: the interval still allows most rates
    assert [e["target"] for e in r["results"]] == ["drawer-close-v3", "stick-pull-v3"] * 2
