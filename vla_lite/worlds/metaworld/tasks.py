"""Meta-World MT10 and MT50 tasks, LeRobot's difficulty groups and the tasks' instructions, as plain data (no
Meta-World import). MT10's phrasings are below; the other 40 MT50 tasks' and the groups are in mt50.json beside
this file (LeRobot's lerobot/envs/metaworld_config.json: TASK_DESCRIPTIONS and DIFFICULTY_TO_TASKS).

Per task, three lists of phrasings:
- "lerobot": the one-line description LeRobot publishes for the task (lerobot/envs/metaworld_config.json,
  TASK_DESCRIPTIONS), so results compare with models trained on LeRobot's Meta-World data;
- "train": that description plus paraphrases, the phrasings demonstrations are labelled with;
- "heldout": paraphrases that appear in no training list, for language-generalisation checks. "paraphrase" is
  the same list: the tabletop separates rewordings ("paraphrase") from unseen colour synonyms ("heldout"), and
  Meta-World's task names have no synonym split, so both names select its rewordings.
Every phrasing names one task only: an instruction identifies its task. LeRobot gives two tasks one description
(push-v3 and push-back-v3: "Push the puck to a goal"); it stays MT10's push-v3's, and push-back-v3 trains on its own
phrasings only.

Each Meta-World scene holds only its own task's objects, so the image alone tells the task: these instructions
test that a model reads language robustly, not that it grounds it (the tabletop world does that).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MT10 = ("reach-v3", "push-v3", "pick-place-v3", "door-open-v3", "drawer-open-v3", "drawer-close-v3",
        "button-press-topdown-v3", "peg-insert-side-v3", "window-open-v3", "window-close-v3")

LEROBOT_DESCRIPTIONS: dict[str, str] = {
    "reach-v3": "Reach a goal position",
    "push-v3": "Push the puck to a goal",
    "pick-place-v3": "Pick and place a puck to a goal",
    "door-open-v3": "Open a door with a revolving joint",
    "drawer-open-v3": "Open a drawer",
    "drawer-close-v3": "Push and close a drawer",
    "button-press-topdown-v3": "Press a button from the top",
    "peg-insert-side-v3": "Insert a peg sideways",
    "window-open-v3": "Push and open a window",
    "window-close-v3": "Push and close a window",
}

TRAIN_PARAPHRASES: dict[str, tuple[str, ...]] = {
    "reach-v3": ("reach the goal position", "move the gripper to the goal", "go to the target position",
                 "reach for the target point"),
    "push-v3": ("push the puck to the goal", "slide the puck to the target", "push the puck onto the goal spot"),
    "pick-place-v3": ("pick up the puck and place it at the goal", "grasp the puck and put it on the target",
                      "lift the puck and move it to the goal"),
    "door-open-v3": ("open the door", "swing the door open", "pull the door open"),
    "drawer-open-v3": ("open the drawer", "pull the drawer open", "pull out the drawer"),
    "drawer-close-v3": ("close the drawer", "push the drawer closed", "shut the drawer"),
    "button-press-topdown-v3": ("press the button from above", "push the button down", "press down on the button"),
    "peg-insert-side-v3": ("insert the peg sideways", "put the peg into the hole from the side",
                           "slide the peg into the hole"),
    "window-open-v3": ("open the window", "slide the window open", "push the window open"),
    "window-close-v3": ("close the window", "slide the window closed", "push the window shut"),
}

HELDOUT_PARAPHRASES: dict[str, tuple[str, ...]] = {
    "reach-v3": ("bring your hand over to the marked spot", "position the end effector at the destination"),
    "push-v3": ("nudge the disc over to the marked spot", "move the hockey puck to the destination by shoving it"),
    "pick-place-v3": ("grab the disc and set it down at the marked spot", "carry the puck over to the destination"),
    "door-open-v3": ("swing the hinged safe door wide", "get the door of the safe open"),
    "drawer-open-v3": ("slide the drawer out toward you", "extend the drawer fully"),
    "drawer-close-v3": ("slide the drawer back in", "push the drawer all the way home"),
    "button-press-topdown-v3": ("hit the button on top of the box", "depress the switch from overhead"),
    "peg-insert-side-v3": ("plug the stick into the slot from the side", "poke the peg through the side opening"),
    "window-open-v3": ("slide the glass pane to the open position", "let some air in through the window"),
    "window-close-v3": ("slide the glass pane to the closed position", "seal the window"),
}

_MT50_DATA = json.loads(Path(__file__).with_name("mt50.json").read_text())
MT50 = tuple(_MT50_DATA["order"])  # metaworld 3.1.1's MT50 order (metaworld.env_dict.MT50_V3)
MT50_GROUPS: dict[str, tuple[str, ...]] = {name: tuple(tasks) for name, tasks in _MT50_DATA["groups"].items()}
for _task, _entry in _MT50_DATA["tasks"].items():
    LEROBOT_DESCRIPTIONS[_task] = _entry["lerobot"]
    TRAIN_PARAPHRASES[_task] = tuple(_entry["train"])
    HELDOUT_PARAPHRASES[_task] = tuple(_entry["heldout"])


def _borrowed_descriptions() -> frozenset[str]:
    seen, borrowed = set(), set()
    for task in dict.fromkeys(MT10 + MT50):
        if LEROBOT_DESCRIPTIONS[task] in seen:
            borrowed.add(task)
        seen.add(LEROBOT_DESCRIPTIONS[task])
    return frozenset(borrowed)


BORROWED_DESCRIPTION = _borrowed_descriptions()  # not trained on: the phrasing names the earlier task
SPLITS = ("train", "paraphrase", "heldout")


def tasks_named(spec: str) -> tuple[str, ...]:
    """"mt10", "mt50", "mt50-GROUP" (LeRobot's easy, medium, hard, very-hard; "_" or "-") or a comma list of MT50
    tasks -> the tasks. ValueError naming the bad group or task and the known ones."""
    key = spec.strip().lower()
    if key in ("mt10", "mt50"):
        return MT10 if key == "mt10" else MT50
    if key.startswith("mt50-"):
        group = key[5:].replace("-", "_")
        if group not in MT50_GROUPS:
            raise ValueError(f"no MT50 group {key[5:]!r}; LeRobot's groups are "
                             f"{[g.replace('_', '-') for g in MT50_GROUPS]}")
        return MT50_GROUPS[group]
    tasks = tuple(t.strip() for t in spec.split(",") if t.strip())
    unknown = [t for t in tasks if t not in LEROBOT_DESCRIPTIONS]
    if not tasks or unknown:
        raise ValueError(f"unknown Meta-World task(s) {unknown or spec!r}; expected mt10, mt50, mt50-GROUP or a "
                         f"comma list of MT50 tasks {list(MT50)}")
    return tasks


def task_group(task: str) -> str:
    """LeRobot's difficulty group of an MT50 task (easy, medium, hard, very_hard)."""
    for group, tasks in MT50_GROUPS.items():
        if task in tasks:
            return group
    raise ValueError(f"{task!r} is in no MT50 difficulty group; MT50 tasks are {list(MT50)}")


def task_instructions(task: str, split: str = "train") -> tuple[str, ...]:
    """Every phrasing of `task` in the split; "train" starts with the LeRobot description (unless it is another
    task's: BORROWED_DESCRIPTION)."""
    if task not in LEROBOT_DESCRIPTIONS:
        raise ValueError(f"no instructions for task {task!r}; MT50 tasks are {list(MT50)}")
    if split == "train":
        own = () if task in BORROWED_DESCRIPTION else (LEROBOT_DESCRIPTIONS[task],)
        return own + TRAIN_PARAPHRASES[task]
    if split in ("paraphrase", "heldout"):
        return HELDOUT_PARAPHRASES[task]
    raise ValueError(f"instruction split must be one of {SPLITS}, got {split!r}")


def make_instruction(task: str, rng: np.random.Generator, split: str = "train") -> str:
    """One phrasing of `task` drawn with rng from the split."""
    options = task_instructions(task, split)
    return options[int(rng.integers(len(options)))]


def episode_instruction(task: str, seed: int, split: str = "train") -> str:
    """The phrasing of episode (task, seed): its own random stream, so the placement does not depend on it."""
    return make_instruction(task, np.random.default_rng([int(seed), 1]), split)


def task_of_instruction(text: str) -> str | None:
    """The MT50 task a known phrasing (any split, case and surrounding space ignored) names, else None."""
    return _TASK_OF.get(text.strip().lower())


_TASK_OF = {t.lower(): task for task in MT50 for split in SPLITS for t in task_instructions(task, split)}
