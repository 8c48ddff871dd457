"""Meta-World MT10 tasks and their instructions, as plain data (no Meta-World import).

Per task, three lists of phrasings:
- "lerobot": the one-line description LeRobot publishes for the task (lerobot/envs/metaworld_config.json,
  TASK_DESCRIPTIONS), so results compare with models trained on LeRobot's Meta-World data;
- "train": that description plus paraphrases, the phrasings demonstrations are labelled with;
- "heldout": paraphrases that appear in no training list, for language-generalisation checks. "paraphrase" is
  the same list: the tabletop separates rewordings ("paraphrase") from unseen colour synonyms ("heldout"), and
  Meta-World's task names have no synonym split, so both names select its rewordings.
Every phrasing names one task only: an instruction identifies its task.

Each Meta-World scene holds only its own task's objects, so the image alone tells the task: these instructions
test that a model reads language robustly, not that it grounds it (the tabletop world does that).
"""

from __future__ import annotations

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

SPLITS = ("train", "paraphrase", "heldout")


def task_instructions(task: str, split: str = "train") -> tuple[str, ...]:
    """Every phrasing of `task` in the split; "train" starts with the LeRobot description."""
    if task not in LEROBOT_DESCRIPTIONS:
        raise ValueError(f"no instructions for task {task!r}; MT10 tasks are {list(MT10)}")
    if split == "train":
        return (LEROBOT_DESCRIPTIONS[task],) + TRAIN_PARAPHRASES[task]
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
    """The MT10 task a known phrasing (any split, case and surrounding space ignored) names, else None."""
    key = text.strip().lower()
    for task in MT10:
        if any(key == t.lower() for split in SPLITS for t in task_instructions(task, split)):
            return task
    return None
